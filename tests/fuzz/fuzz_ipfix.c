/* fuzz_ipfix.c — libFuzzer target: IPFIX over UDP through flow_dec_udp().
 * Input format and invariants: fuzz_flow.h. */
#include "fuzz_flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run_udp(data, size, 10);
}
