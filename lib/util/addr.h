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

/* Text form: dotted quad for v4-mapped, RFC 5952 compressed for IPv6.
 * An all-zero address prints as "0.0.0.0" when as_v4 is set (an IPv4 flow
 * whose exporter did not send that field), else "::". Returns buf. */
const char *addr_format(const uint8_t a[16], bool as_v4, char *buf, size_t len);

/* Parse "a.b.c.d" or an IPv6 literal into the 16-byte form. 0 or -EINVAL. */
int addr_parse(const char *s, uint8_t a[16]);

#endif
