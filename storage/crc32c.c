/* crc32c.c — CRC-32C with the SSE4.2 crc32 instruction, table fallback.
 *
 * The choice is made once (first call) from cpuid, never per buffer. */
#include "crc32c.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#define HAVE_X86 1
#endif

static uint32_t table[8][256];
static int mode; /* 1 table, 2 sse4.2 */

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* Slicing-by-8: only used on CPUs without SSE4.2 (and by the test that
 * checks both paths agree). */
static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= crc;
		crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		      table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		      table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		      table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#ifdef HAVE_X86
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p,
							 size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	crc = (uint32_t)c;
	while (len--)
		crc = _mm_crc32_u8(crc, *p++);
	return crc;
}

/* The crc32 instruction has a latency of three cycles and a throughput of
 * one: three independent lanes keep it busy. A buffer is taken in strides
 * of three LANE-byte lanes; lanes 1 and 2 start from 0 and are folded in
 * by "shift by LANE zero bytes", a linear map kept as four byte tables. */
#define LANE 4096
static uint32_t shift_tab[4][256];

static uint32_t shift_lane(uint32_t x)
{
	return shift_tab[0][x & 0xff] ^ shift_tab[1][(x >> 8) & 0xff] ^
	       shift_tab[2][(x >> 16) & 0xff] ^ shift_tab[3][x >> 24];
}

__attribute__((target("sse4.2"))) static void shift_init(void)
{
	static const uint8_t zeros[LANE];
	uint32_t basis[32];
	for (unsigned b = 0; b < 32; b++)
		basis[b] = crc_hw(1u << b, zeros, LANE);
	for (unsigned t = 0; t < 4; t++)
		for (unsigned v = 0; v < 256; v++) {
			uint32_t x = 0;
			for (unsigned b = 0; b < 8; b++)
				if (v >> b & 1)
					x ^= basis[8 * t + b];
			shift_tab[t][v] = x;
		}
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw3(uint32_t crc, const uint8_t *p,
							  size_t len)
{
	while (len >= 3 * LANE) {
		uint64_t c0 = crc, c1 = 0, c2 = 0;
		for (size_t i = 0; i < LANE; i += 8) {
			uint64_t v0, v1, v2;
			memcpy(&v0, p + i, 8);
			memcpy(&v1, p + LANE + i, 8);
			memcpy(&v2, p + 2 * LANE + i, 8);
			c0 = _mm_crc32_u64(c0, v0);
			c1 = _mm_crc32_u64(c1, v1);
			c2 = _mm_crc32_u64(c2, v2);
		}
		crc = shift_lane(shift_lane((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
		p += 3 * LANE;
		len -= 3 * LANE;
	}
	return crc_hw(crc, p, len);
}
#endif

/* Chosen once before main(): no race between ingest threads. */
__attribute__((constructor)) static void pick(void)
{
	table_init();
	mode = 1;
#ifdef HAVE_X86
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2)) {
		mode = 2;
		shift_init();
	}
#endif
}

uint32_t st_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
#ifdef HAVE_X86
	if (mode == 2)
		return ~crc_hw3(crc, buf, len);
#endif
	return ~crc_table(crc, buf, len);
}

uint32_t st_crc32c(const void *buf, size_t len)
{
	return st_crc32c_update(0, buf, len);
}
