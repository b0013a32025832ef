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
#endif

/* Chosen once before main(): no race between ingest threads. */
__attribute__((constructor)) static void pick(void)
{
	table_init();
	mode = 1;
#ifdef HAVE_X86
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2))
		mode = 2;
#endif
}

uint32_t st_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
#ifdef HAVE_X86
	if (mode == 2)
		return ~crc_hw(crc, buf, len);
#endif
	return ~crc_table(crc, buf, len);
}

uint32_t st_crc32c(const void *buf, size_t len)
{
	return st_crc32c_update(0, buf, len);
}
