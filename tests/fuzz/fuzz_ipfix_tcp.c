/* fuzz_ipfix_tcp.c — libFuzzer target: IPFIX over TCP framing and decoding
 * (flow_tcp_feed, or flow_tcp_push/next/decode as the store uses them).
 *
 * Input format (fresh decoder per input, see fuzz_flow.h for why):
 *   byte 0        session flags: FZ_TIGHT as in fuzz_flow.h; 0x04 selects
 *                 the push/next/decode API instead of flow_tcp_feed
 *   then chunks, each [ctl:1][len:2, big-endian][len bytes] (the last one
 *   takes what remains): the stream bytes as TCP delivers them, split at
 *   arbitrary places.
 *   ctl bit 0     close the connection and open a new one first (templates
 *                 are per connection; parked data of the old one must go)
 *   ctl bit 1     second connection source (another exporter address)
 *   ctl bits 4-7  seconds to advance the clock
 */
#include <errno.h>

#include "fuzz_flow.h"

struct fz_ctl {
	uint64_t n;
	uint64_t sum;
};

static void fz_ctl_fn(void *user, const struct flow_ctl *c)
{
	struct fz_ctl *x = user;

	x->n++;
	x->sum += c->session_id ^ c->first_msg ^ c->flags;
}

static struct flow_tcp *fz_open(struct flow_dec *dec, unsigned idx, struct fz_ctl *ctl)
{
	struct flow_src src;
	struct flow_tcp *t;

	fz_src(&src, idx);
	t = flow_tcp_new(dec, &src);
	FZ_CHECK(t != NULL);
	flow_tcp_set_ctl(t, fz_ctl_fn, ctl);
	return t;
}

/* Take every complete message; returns records, or -1 when the stream is
 * beyond repair (the caller reconnects, as the store would). */
static long fz_drain(struct flow_tcp *t, uint64_t now_ms)
{
	const uint8_t *msg;
	size_t mlen;
	long n = 0;
	int rc;

	while ((rc = flow_tcp_next(t, &msg, &mlen)) == 1) {
		FZ_CHECK(mlen >= 16 && mlen <= 65535);
		n += flow_tcp_decode(t, msg, mlen, now_ms);
	}
	FZ_CHECK(rc == 0 || rc == -EPROTO);
	return rc < 0 ? -1 - n : n;
}

/* Push a chunk as the store does: when the buffer is full, take the complete
 * messages out and try again, in smaller pieces if need be. Once drained,
 * the buffer holds at most one partial message, so a 1-byte push must fit
 * (flow.h: -ENOBUFS only above 64 KiB buffered). Returns records, or
 * -1 - records when the stream is beyond repair. */
static long fz_push_all(struct flow_tcp *t, const uint8_t *p, size_t len, uint64_t now_ms)
{
	size_t piece = len;
	bool drained = false;
	long total = 0, n;

	while (len) {
		if (piece > len)
			piece = len;
		if (flow_tcp_push(t, p, piece) == 0) {
			p += piece;
			len -= piece;
			piece = len;
			drained = false;
			continue;
		}
		if (drained) {
			FZ_CHECK(piece > 1);
			piece /= 2;
		}
		n = fz_drain(t, now_ms);
		if (n < 0)
			return -1 - (total + (-1 - n));
		total += n;
		drained = true;
	}
	n = fz_drain(t, now_ms);
	if (n < 0)
		return -1 - (total + (-1 - n));
	return total + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_dec_cfg cfg;
	struct fz_sink sink = { 0 };
	struct fz_ctl ctl = { 0 };
	struct flow_dec *dec;
	struct flow_tcp *t;
	uint64_t now_ms = 1700000000000ULL, returned = 0;
	bool push_api, exact = true;
	size_t off = 1;

	if (size < 1)
		return 0;
	push_api = data[0] & 0x04;
	fz_cfg(&cfg, &sink, data[0] & FZ_TIGHT);
	dec = flow_dec_new(&cfg);
	FZ_CHECK(dec != NULL);
	t = fz_open(dec, 0, &ctl);
	while (off + 3 <= size) {
		uint8_t c = data[off];
		size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
		bool broken = false;

		off += 3;
		if (len > size - off)
			len = size - off;
		now_ms += (uint64_t)(c >> 4) * 1000;
		if (c & 0x01) {
			flow_tcp_free(t);
			t = fz_open(dec, (c >> 1) & 1, &ctl);
		}
		if (push_api) {
			long n = fz_push_all(t, data + off, len, now_ms);

			returned += (uint64_t)(n < 0 ? -1 - n : n);
			broken = n < 0;
		} else {
			/* Copy so that a read past the chunk is an ASan report. */
			uint8_t *chunk = malloc(len ? len : 1);
			long n;

			FZ_CHECK(chunk != NULL);
			memcpy(chunk, data + off, len);
			n = flow_tcp_feed(t, chunk, len, now_ms);
			free(chunk);
			FZ_CHECK(n >= 0 || n == -EPROTO);
			if (n >= 0)
				returned += (uint64_t)n;
			else
				exact = false; /* records before the error go uncounted */
			broken = n < 0;
		}
		off += len;
		if (broken) {
			flow_tcp_free(t);
			t = fz_open(dec, (c >> 1) & 1, &ctl);
		}
	}
	flow_tcp_free(t);
	flow_dec_tick(dec, now_ms + 3600 * 1000);
	fz_check_totals(dec, &sink, exact ? returned : sink.records);
	flow_dec_free(dec);
	return 0;
}
