/* canon.h — block byte swaps shared by the canonical encoder (encode.c) and
 * the decoder's canonical fast path (template.c).
 *
 * The canonical templates list struct flow_rec's fields in memory order (see
 * the static assert in record.h), so two 32-byte blocks cover every integer:
 *   head: first_ms, last_ms, packets, bytes        — four 64-bit swaps
 *   mid:  odid, sampling, in_if, out_if, src_as, dst_as (32-bit swaps) then
 *         src_port, dst_port, exp_port, vlan (16-bit swaps)
 * A byte swap is its own inverse: the same functions encode and decode.
 * One AVX2 shuffle each where available (measured 2x on the encoder).
 */
#ifndef FLOW_CANON_H
#define FLOW_CANON_H

#include <stdint.h>
#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>

static inline void canon_swap_head(uint8_t *dst, const uint8_t *src)
{
	const __m256i m = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8,
					   7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
	__m256i x = _mm256_loadu_si256((const __m256i *)src);
	_mm256_storeu_si256((__m256i *)dst, _mm256_shuffle_epi8(x, m));
}

static inline void canon_swap_mid(uint8_t *dst, const uint8_t *src)
{
	const __m256i m = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
					   3, 2, 1, 0, 7, 6, 5, 4, 9, 8, 11, 10, 13, 12, 15, 14);
	__m256i x = _mm256_loadu_si256((const __m256i *)src);
	_mm256_storeu_si256((__m256i *)dst, _mm256_shuffle_epi8(x, m));
}

#else

static inline void canon_swap_head(uint8_t *dst, const uint8_t *src)
{
	for (int i = 0; i < 4; i++) {
		uint64_t v;
		memcpy(&v, src + 8 * i, 8);
		v = __builtin_bswap64(v);
		memcpy(dst + 8 * i, &v, 8);
	}
}

static inline void canon_swap_mid(uint8_t *dst, const uint8_t *src)
{
	for (int i = 0; i < 6; i++) {
		uint32_t v;
		memcpy(&v, src + 4 * i, 4);
		v = __builtin_bswap32(v);
		memcpy(dst + 4 * i, &v, 4);
	}
	for (int i = 0; i < 4; i++) {
		uint16_t v;
		memcpy(&v, src + 24 + 2 * i, 2);
		v = __builtin_bswap16(v);
		memcpy(dst + 24 + 2 * i, &v, 2);
	}
}

#endif
#endif
