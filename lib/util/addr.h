/* addr.h — 16-byte addresses: IPv6 as is, IPv4 as v4-mapped (::ffff:a.b.c.d).
 *
 * The canonical flow record stores every address in this one form so that
 * comparisons, hashing and columns never branch on the family.
 */
#ifndef UTIL_ADDR_H
#define UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

static inline void addr_set_v4(uint8_t a[16], const uint8_t v4[4])
{
	memset(a, 0, 10);
	a[10] = 0xff;
	a[11] = 0xff;
	memcpy(a + 12, v4, 4);
}

static inline bool addr_is_v4(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(a, pfx, 12) == 0;
}

static inline bool addr_is_zero(const uint8_t a[16])
{
	static const uint8_t z[16];
	return memcmp(a, z, 16) == 0;
}

/* Text form: dotted quad for v4-mapped, RFC 5952 compressed for IPv6,
 * exactly as inet_ntop writes them (without its per-group sprintf: tables
 * and shifts, listings print millions). An all-zero address prints as
 * "0.0.0.0" when as_v4 is set (an IPv4 flow whose exporter did not send
 * that field), else "::". Returns buf; "" when len is too short. */
const char *addr_format(const uint8_t a[16], bool as_v4, char *buf, size_t len);

/* The same text (as_v4 unset) at o, without a NUL: its length. o needs
 * room for ADDR_TEXT_MAX bytes (the stores may run past the text). */
#define ADDR_TEXT_MAX 48
size_t addr_text(const uint8_t a[16], char *o);
/* addr_text's length, without the text for a v4-mapped address. */
size_t addr_text_len(const uint8_t a[16]);

/* Parse "a.b.c.d" or an IPv6 literal into the 16-byte form. 0 or -EINVAL. */
int addr_parse(const char *s, uint8_t a[16]);

#endif
