/* addr.c — text conversion of 16-byte addresses (see addr.h). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>

const char *addr_format(const uint8_t a[16], bool as_v4, char *buf, size_t len)
{
	if (addr_is_v4(a) || (as_v4 && addr_is_zero(a))) {
		if (!inet_ntop(AF_INET, a + 12, buf, (socklen_t)len) && len)
			buf[0] = '\0';
	} else if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len) && len) {
		buf[0] = '\0';
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
