/* fuzz_store_config.c — libFuzzer target for flowdelta-store's YAML
 * configuration parser (storage/config.c: libcyaml schema, the error-path
 * builder, defaults and validation).
 *
 * Input: the bytes of a store.yaml. Whatever they are, stcfg_load_buf()
 * must return 0 or -errno without a crash, leak or sanitizer report; a
 * configuration it accepts must pass stcfg_validate() again (load validates
 * it) and survive the command-line override path. Error text goes to
 * /dev/null: the messages themselves are checked by daemon_test.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct stcfg c;

	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	if (size > (1u << 16)) /* a config file; larger inputs only slow the search */
		return 0;
	if (stcfg_load_buf("fuzz.yaml", data, size, &c, devnull) != 0)
		return 0;
	if (stcfg_validate(&c, devnull) != 0)
		abort(); /* invariant: load returns only valid configurations */
	if (stcfg_set_str(&c.data_dir, "/tmp/override") != 0)
		abort();
	stcfg_free(&c);
	return 0;
}
