/* bytes.h — unaligned big/little-endian loads and stores.
 *
 * Wire formats (NetFlow, IPFIX, pcap) are read through these helpers only, so
 * no code casts a byte pointer to a wider type. memcpy compiles to one move.
 */
#ifndef UTIL_BYTES_H
#define UTIL_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t be16_load(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap16(v);
}

static inline uint32_t be32_load(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap32(v);
}

static inline uint64_t be64_load(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

/* Big-endian unsigned integer of 1..8 bytes (IPFIX reduced-size encoding). */
static inline uint64_t ben_load(const uint8_t *p, unsigned n)
{
	switch (n) {
	case 1: return p[0];
	case 2: return be16_load(p);
	case 4: return be32_load(p);
	case 8: return be64_load(p);
	default: {
		uint64_t v = 0;
		for (unsigned i = 0; i < n && i < 8; i++)
			v = (v << 8) | p[i];
		return v;
	}
	}
}

static inline void be16_store(uint8_t *p, uint16_t v)
{
	v = __builtin_bswap16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void be32_store(uint8_t *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void be64_store(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint16_t le16_load(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t le32_load(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void le16_store(uint8_t *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static inline void le32_store(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static inline void le64_store(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

#endif
