/* addr.c — text conversion of 16-byte addresses (see addr.h). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* An IPv4 octet's digits and its '.', in 4 bytes: the dotted quad is four
 * copies, each placed after the one before (tables built by the
 * preprocessor, OCT(0) .. OCT(255)). */
#define OCT(x)                                                                            \
	{ (char)((x) >= 100 ? '0' + (x) / 100 : (x) >= 10 ? '0' + (x) / 10 : '0' + (x)),   \
	  (char)((x) >= 100 ? '0' + (x) / 10 % 10 : (x) >= 10 ? '0' + (x) % 10 : '.'),     \
	  (char)((x) >= 100 ? '0' + (x) % 10 : (x) >= 10 ? '.' : 0), (char)((x) >= 100 ? '.' : 0) }
#define OCT4(x) OCT(x), OCT((x) + 1), OCT((x) + 2), OCT((x) + 3)
#define OCT16(x) OCT4(x), OCT4((x) + 4), OCT4((x) + 8), OCT4((x) + 12)
#define OCT64(x) OCT16(x), OCT16((x) + 16), OCT16((x) + 32), OCT16((x) + 48)
static const char oct_text[256][4] = { OCT64(0), OCT64(64), OCT64(128), OCT64(192) };

static inline unsigned oct_len(unsigned x)
{
	return 1u + (x >= 10) + (x >= 100);
}

static size_t quad_text(const uint8_t *q, char *o)
{
	char *p = o;
	for (unsigned i = 0; i < 4; i++) {
		memcpy(p, oct_text[q[i]], 4);
		p += oct_len(q[i]) + 1;
	}
	return (size_t)(p - o - 1);
}

/* IPv6 as glibc's inet_ntop writes it, without its sprintf per group:
 * groups in lowercase hex without leading zeros, the first longest run of
 * two or more zero groups as "::", and the last 32 bits as a.b.c.d after
 * six zero groups (or five and ffff). */
static size_t addr6_text(const uint8_t *a, char *o)
{
	static const char hex[16] = "0123456789abcdef";
	unsigned g[8];
	for (unsigned i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	unsigned zb = 8, zl = 0; /* the zero run: base and length */
	for (unsigned i = 0; i < 8;) {
		unsigned j = i;
		while (j < 8 && !g[j])
			j++;
		if (j - i > zl)
			zb = i, zl = j - i;
		i = j > i ? j : i + 1;
	}
	if (zl < 2)
		zb = 8, zl = 0;
	char *p = o;
	for (unsigned i = 0; i < 8; i++) {
		if (i >= zb && i < zb + zl) {
			if (i == zb)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		if (i == 6 && zb == 0 && (zl == 6 || (zl == 5 && g[5] == 0xffff)))
			return (size_t)(p - o) + quad_text(a + 12, p);
		unsigned v = g[i], n = 1u + (v > 0xf) + (v > 0xff) + (v > 0xfff);
		for (unsigned k = n; k--; v >>= 4)
			p[k] = hex[v & 15];
		p += n;
	}
	if (zl && zb + zl == 8)
		*p++ = ':';
	return (size_t)(p - o);
}

size_t addr_text(const uint8_t a[16], char *o)
{
	return addr_is_v4(a) ? quad_text(a + 12, o) : addr6_text(a, o);
}

size_t addr_text_len(const uint8_t a[16])
{
	if (addr_is_v4(a))
		return 3 + oct_len(a[12]) + oct_len(a[13]) + oct_len(a[14]) + oct_len(a[15]);
	char t[ADDR_TEXT_MAX];
	return addr6_text(a, t);
}

const char *addr_format(const uint8_t a[16], bool as_v4, char *buf, size_t len)
{
	char t[ADDR_TEXT_MAX];
	size_t n = as_v4 && addr_is_zero(a) ? quad_text(a + 12, t) : addr_text(a, t);
	/* too short: "" (inet_ntop's ENOSPC, as callers have always seen) */
	if (len) {
		n = n < len ? n : 0;
		memcpy(buf, t, n);
		buf[n] = '\0';
	}
	return buf;
}

int addr_parse(const char *s, uint8_t a[16])
{
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		addr_set_v4(a, v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1)
		return 0;
	return -EINVAL;
}
