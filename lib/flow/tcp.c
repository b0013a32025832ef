/* tcp.c — IPFIX over TCP (RFC 7011 §10.4): message framing on a byte stream,
 * resynchronisation after garbage, per-connection template scope. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow_int.h"
#include "util/bytes.h"

#define TCP_BUF_CAP (128u * 1024)
#define TCP_GARBAGE_MAX (64u * 1024) /* skipped without a header: give up */
#define IPFIX_HDR 16

struct flow_tcp {
	struct flow_dec *dec;
	struct flow_src src;
	uint32_t sess;
	uint32_t head, tail; /* buffered bytes: buf[head, tail) */
	uint32_t skipped;    /* garbage bytes since the last good header */
	void (*ctl_fn)(void *user, const struct flow_ctl *c);
	void *user;
	uint8_t buf[TCP_BUF_CAP];
};

struct flow_tcp *flow_tcp_new(struct flow_dec *dec, const struct flow_src *src)
{
	struct flow_tcp *t;

	if (!dec || !src) {
		errno = EINVAL;
		return NULL;
	}
	t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	t->dec = dec;
	t->src = *src;
	t->sess = dec->next_sess++;
	if (!t->sess) /* wrapped: 0 is the UDP scope */
		t->sess = dec->next_sess++;
	t->head = t->tail = 0;
	t->skipped = 0;
	t->ctl_fn = NULL;
	t->user = NULL;
	return t;
}

void flow_tcp_free(struct flow_tcp *t)
{
	if (!t)
		return;
	/* Data parked for this connection's templates can never be decoded. */
	dec_park_drop_session(t->dec, t->sess);
	tmpl_drop_session(t->dec, t->sess);
	free(t);
}

void flow_tcp_set_ctl(struct flow_tcp *t, void (*ctl_fn)(void *user, const struct flow_ctl *c),
		      void *user)
{
	t->ctl_fn = ctl_fn;
	t->user = user;
}

void tcp_ctl(struct flow_tcp *t, const struct flow_ctl *c)
{
	if (t->ctl_fn)
		t->ctl_fn(t->user, c);
}

int flow_tcp_push(struct flow_tcp *t, const uint8_t *data, size_t len)
{
	if (len > TCP_BUF_CAP - (t->tail - t->head))
		return -ENOBUFS;
	if (len > TCP_BUF_CAP - t->tail) {
		/* Compact: what is left is at most one partial message. */
		memmove(t->buf, t->buf + t->head, t->tail - t->head);
		t->tail -= t->head;
		t->head = 0;
	}
	memcpy(t->buf + t->tail, data, len);
	t->tail += (uint32_t)len;
	return 0;
}

static bool plausible_header(const uint8_t *p)
{
	return be16_load(p) == 10 && be16_load(p + 2) >= IPFIX_HDR;
}

int flow_tcp_next(struct flow_tcp *t, const uint8_t **msg, size_t *len)
{
	for (;;) {
		uint32_t avail = t->tail - t->head;
		const uint8_t *p = t->buf + t->head;
		uint16_t mlen;

		if (avail < 4)
			return 0;
		if (!plausible_header(p)) {
			/* Skip to the next place that could start a message. */
			uint32_t i = 1;
			while (i + 4 <= avail && !plausible_header(p + i))
				i++;
			if (i + 4 > avail)
				i = avail - 3; /* keep a possible partial header */
			t->head += i;
			t->skipped += i;
			dec_drop_n(t->dec, NULL, FLOW_DROP_tcp_desync, i);
			if (t->skipped > TCP_GARBAGE_MAX)
				return -EPROTO;
			continue;
		}
		mlen = be16_load(p + 2);
		if (avail < mlen)
			return 0;
		t->head += mlen;
		t->skipped = 0;
		*msg = p;
		*len = mlen;
		return 1;
	}
}

uint32_t flow_tcp_decode(struct flow_tcp *t, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct flow_dec *dec = t->dec;
	uint32_t n;

	dec->st.packets++;
	dec->st.bytes += len;
	n = ipfix_decode_msg(dec, &t->src, t, t->sess, msg, len, now_ms);
	if (dec->park_head)
		flow_dec_tick(dec, now_ms);
	else
		dec_flush(dec);
	return n;
}

long flow_tcp_feed(struct flow_tcp *t, const uint8_t *data, size_t len, uint64_t now_ms)
{
	long total = 0;

	while (len) {
		size_t chunk = TCP_BUF_CAP - (t->tail - t->head);
		const uint8_t *msg;
		size_t mlen;
		int rc;

		if (chunk > len)
			chunk = len;
		if (flow_tcp_push(t, data, chunk) < 0)
			return -ENOBUFS; /* cannot happen: chunk fits */
		data += chunk;
		len -= chunk;
		while ((rc = flow_tcp_next(t, &msg, &mlen)) == 1)
			total += flow_tcp_decode(t, msg, mlen, now_ms);
		if (rc < 0)
			return rc;
	}
	return total;
}
