/* hash.h — fast 64-bit hashing of small keys (exporter scopes, template keys).
 *
 * Not cryptographic: keys come from exporters, so tables that use it bound
 * their probe length and their size instead of trusting the distribution.
 */
#ifndef UTIL_HASH_H
#define UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_mix64(uint64_t x)
{
	/* splitmix64 finaliser: full avalanche, 3 multiplies-equivalent. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Smallest power of two >= n (at least 16, at most 2^30): hash table sizes. */
static inline uint32_t hash_pow2_at_least(uint32_t n)
{
	uint32_t p = 16;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

static inline uint64_t hash_bytes(const void *key, size_t len, uint64_t seed)
{
	const uint8_t *p = key;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = hash_mix64(h ^ w);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, p, len);
		h = hash_mix64(h ^ w ^ 0xa5a5a5a5a5a5a5a5ULL);
	}
	return h;
}

#endif
