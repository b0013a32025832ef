/* fuzz_dp_config.c — libFuzzer target for flowdelta-dataplane's YAML
 * configuration parser (dataplane/config.c: libcyaml schema, the key-path
 * builder over libcyaml's backtrace, defaults and cross-reference checks,
 * the ports[].xdp block).
 *
 * Input: the bytes of a dataplane.yaml. dp_cfg_load_buf() must return 0 or
 * -errno without a crash, leak or sanitizer report. An accepted
 * configuration must satisfy what main.c relies on without checking again:
 * a parseable lcore list holding the main lcore, at most 64 flow ports of
 * 1..65535, every worker's port existing, a net_af_xdp iface for every xdp
 * block.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct dp_cfg *c)
{
	uint64_t m;
	char ifname[64];

	if (dp_parse_cpulist(c->eal.lcores, &m) < 0 || c->eal.main_lcore > 63 ||
	    !(m & (1ull << c->eal.main_lcore)))
		abort();
	if (dp_parse_cpulist(c->senders.cpus, &m) < 0)
		abort();
	if (c->flow_ports_count == 0 || c->flow_ports_count > 64)
		abort();
	for (uint32_t i = 0; i < c->flow_ports_count; i++)
		if (c->flow_ports[i] == 0 || c->flow_ports[i] > 65535)
			abort();
	for (uint32_t i = 0; i < c->workers_count; i++) {
		uint32_t p;
		for (p = 0; p < c->ports_count; p++)
			if (strcmp(c->ports[p].name, c->workers[i].port) == 0)
				break;
		if (p == c->ports_count || c->workers[i].queue >= c->ports[p].rx_queues)
			abort();
	}
	for (uint32_t i = 0; i < c->ports_count; i++)
		if (c->ports[i].xdp && dp_vdev_arg(c->ports[i].vdev, "iface", ifname, 16) < 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct dp_cfg *c;

	if (!once) {
		/* config.c reports every error on stderr: buffer it, so the
		 * search is not one write(2) per message (sanitizer reports
		 * bypass stdio) */
		setvbuf(stderr, NULL, _IOFBF, 1 << 16);
		once = 1;
	}
	if (size > (1u << 16))
		return 0;
	if (dp_cfg_load_buf("fuzz.yaml", data, size, &c) != 0)
		return 0;
	check(c);
	dp_cfg_free(c);
	return 0;
}
