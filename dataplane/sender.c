/* sender.c — one thread per slave: rings → IPFIX over TCP, with the
 * session hello and durable acknowledgements of docs/ack-protocol.md, and
 * the on-disk spool while the slave is down or slower than its share.
 *
 * The thread is a plain pthread (not an EAL lcore), pinned to the sender
 * CPU set, using kernel TCP with a non-blocking socket so that a stalled
 * slave never stops it from draining the rings (it spools instead).
 *
 * Order of a slave's messages: unacked window (oldest, numbered) → spool →
 * rings. While the spool holds anything, new messages go behind it, so the
 * slave receives messages in the order the workers produced them (per
 * worker), except at shutdown when the window is written after the spool.
 *
 * Window entries are released (message buffer back to the pool, records
 * counted delivered) when an FDAK frame covers them, or, for a slave that
 * does not acknowledge, as soon as they are written to the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp.h"
#include "util/bytes.h"

enum ackstate { ACK_UNKNOWN = 0, ACK_YES, ACK_NO };

#define HELLO_TID 400
#define CTL_CAP 4096
#define SEND_IOV 16 /* messages per sendmsg() */

struct dp_sender {
	struct dp_sender_ctr ctr; /* first: cache aligned, read by stats */
	uint32_t slot;
	struct dp_cfg_slave cfg;
	char name[64];
	char host[256];
	pthread_t th;
	atomic_int retire;
	atomic_int stop;
	uint64_t drain_deadline_ms;
	struct dp_spool *spool;
	int fd;
	int cfd; /* connect in progress, -1 if none */
	uint64_t connect_deadline_ms;
	int ackstate;
	uint64_t session_id;
	uint64_t next_num;
	struct dp_msg **win;
	uint32_t win_cap, head, count, sent, partial;
	uint32_t seq; /* IPFIX sequence number: data records on this connection */
	uint8_t ctl[CTL_CAP];
	uint32_t ctl_len, ctl_off;
	uint64_t first_write_ms;
	uint8_t rbuf[64];
	uint32_t rlen;
	uint64_t backoff_ms, next_connect_ms;
	uint8_t *spbuf;
	struct dp_snapreq sreq;
	struct dp_sender_ctr cctr; /* snapshot copy, see dp_snapreq */
	struct rte_mempool_cache *mcache; /* msg_free(); NULL: none */
};

static struct dp_sender *senders[DP_MAX_SLAVES];
/* Counters of senders that retired; stats keep summing them so that
 * conservation still holds after a slave is removed. */
struct dp_sender_ctr *dp_retired_ctr[256];
const char *dp_retired_name[256];
atomic_uint dp_nretired;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Messages go back to the pool through the sender's own cache (a
 * non-EAL thread has none): one bulk put per DP_SENDER_CACHE messages
 * instead of a multi-producer ring operation each. With several senders
 * on a shared CPU, a sender preempted inside that operation left the
 * others spinning on the ring's tail (measured: discarding senders
 * behind a 30 M records/s worker dropped 67 % ring_full). */
static void msg_free(struct dp_sender *s, struct dp_msg *m)
{
	void *obj = m;
	rte_mempool_generic_put(dp_g.msg_pool, &obj, 1, s->mcache);
}

static void spool_msg(struct dp_sender *s, struct dp_msg *m)
{
	int r = dp_spool_put(s->spool, m->data, m->len, m->nrec);
	if (r == 0)
		s->ctr.spool_in += m->nrec;
	else
		s->ctr.drops[r == -ENOSPC ? DP_REC_DROP_spool_full : DP_REC_DROP_spool_error] +=
			m->nrec;
	s->ctr.spool_bytes = dp_spool_bytes(s->spool);
}

static void win_push(struct dp_sender *s, struct dp_msg *m)
{
	m->num = s->next_num++;
	s->win[(s->head + s->count) % s->win_cap] = m;
	s->count++;
	s->ctr.window += m->nrec;
}

static void win_release_head(struct dp_sender *s)
{
	struct dp_msg *m = s->win[s->head];
	s->ctr.delivered += m->nrec;
	s->ctr.window -= m->nrec;
	s->head = (s->head + 1) % s->win_cap;
	s->count--;
	s->sent--;
	msg_free(s, m);
}

static void disconnect(struct dp_sender *s)
{
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	s->sent = s->partial = 0;
	s->ctl_len = s->ctl_off = 0;
	s->rlen = 0;
	s->ctr.disconnects++;
	s->ctr.connected = 0;
	s->ctr.acking = 0;
	s->next_connect_ms = mono_ms() + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > dp_g.cfg->senders.reconnect_max_ms
				? dp_g.cfg->senders.reconnect_max_ms
				: s->backoff_ms * 2;
}

/* Hello (docs/ack-protocol.md §1): options template 400 + one record. */
static uint32_t build_hello(struct dp_sender *s, uint8_t *p, uint64_t first)
{
	const uint32_t odid = dp_g.cfg->group.odid;
	uint8_t *q = p + 16;

	be16_store(q, 3); /* options template set */
	be16_store(q + 2, 38);
	be16_store(q + 4, HELLO_TID);
	be16_store(q + 6, 4); /* fields */
	be16_store(q + 8, 1); /* scope fields */
	be16_store(q + 10, 149);
	be16_store(q + 12, 4);
	static const uint16_t ies[3][2] = { { FLOW_IE_SESSION_ID, 8 },
					    { FLOW_IE_FIRST_MSG, 8 },
					    { FLOW_IE_CTL_FLAGS, 4 } };
	q += 14;
	for (int i = 0; i < 3; i++, q += 8) {
		be16_store(q, (uint16_t)(0x8000 | ies[i][0]));
		be16_store(q + 2, ies[i][1]);
		be32_store(q + 4, FLOW_PEN_FLOWDELTA);
	}
	be16_store(q, HELLO_TID);
	be16_store(q + 2, 28);
	be32_store(q + 4, odid);
	be64_store(q + 8, s->session_id);
	be64_store(q + 16, first);
	be32_store(q + 24, s->cfg.ack == DP_ACK_OFF ? 0 : FLOW_CTL_ACK);
	q += 28;
	uint32_t len = (uint32_t)(q - p);
	be16_store(p, 10);
	be16_store(p + 2, (uint16_t)len);
	be32_store(p + 4, (uint32_t)time(NULL));
	be32_store(p + 8, s->seq);
	be32_store(p + 12, odid);
	s->seq++; /* the hello's options record */
	return len;
}

static void connect_failed(struct dp_sender *s)
{
	if (s->cfd >= 0)
		close(s->cfd);
	s->cfd = -1;
	s->next_connect_ms = mono_ms() + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > dp_g.cfg->senders.reconnect_max_ms
				? dp_g.cfg->senders.reconnect_max_ms
				: s->backoff_ms * 2;
}

/* Start a non-blocking connect; connect_poll() finishes it from the main
 * loop, so a slave that does not answer SYNs never stalls ring draining
 * (its messages keep going to the spool meanwhile). The address is
 * resolved here: configure slaves by address, a slow DNS would block. */
static void connect_start(struct dp_sender *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char port[8];

	snprintf(port, sizeof(port), "%u", s->cfg.port);
	if (getaddrinfo(s->host, port, &hints, &ai) != 0 || !ai) {
		connect_failed(s);
		return;
	}
	s->cfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->cfd >= 0 && connect(s->cfd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		close(s->cfd);
		s->cfd = -1;
	}
	freeaddrinfo(ai);
	if (s->cfd < 0) {
		connect_failed(s);
		return;
	}
	s->connect_deadline_ms = mono_ms() + 2000;
}

static int connect_established(struct dp_sender *s);

static void connect_poll(struct dp_sender *s, uint64_t now)
{
	struct pollfd pf = { .fd = s->cfd, .events = POLLOUT };
	int err = 0;
	socklen_t el = sizeof(err);

	if (poll(&pf, 1, 0) != 1) {
		if (now >= s->connect_deadline_ms)
			connect_failed(s);
		return;
	}
	if (getsockopt(s->cfd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		connect_failed(s);
		return;
	}
	connect_established(s);
}

static int connect_established(struct dp_sender *s)
{
	s->fd = s->cfd;
	s->cfd = -1;
	s->backoff_ms = 100;
	s->ctr.connects++;
	s->ctr.connected = 1;
	s->ackstate = s->cfg.ack == DP_ACK_ON ? ACK_YES
		      : s->cfg.ack == DP_ACK_OFF ? ACK_NO
						 : ACK_UNKNOWN;
	s->first_write_ms = 0;
	s->seq = 0;
	/* The canonical templates (refreshed on every connection), then the
	 * hello, then the window from its oldest message. Templates go first
	 * because every message after the hello is numbered
	 * (docs/ack-protocol.md §1) and a template message is not one of
	 * ours to number. */
	uint64_t first = s->count ? s->win[s->head]->num : s->next_num;
	struct flow_enc e;
	flow_enc_begin(&e, s->ctl, CTL_CAP, dp_g.cfg->group.odid, (uint32_t)time(NULL), 0);
	flow_enc_templates(&e);
	s->ctl_len = (uint32_t)flow_enc_finish(&e);
	s->ctl_len += build_hello(s, s->ctl + s->ctl_len, first);
	s->ctl_off = 0;
	if (s->count)
		s->ctr.resent_msgs += s->count;
	return 0;
}

/* FDAK frames: cumulative "every message below N is durable". */
static int read_acks(struct dp_sender *s)
{
	int work = 0;
	for (;;) {
		ssize_t n = recv(s->fd, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen, MSG_DONTWAIT);
		if (n == 0) {
			disconnect(s);
			return 1;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				disconnect(s);
				return 1;
			}
			break;
		}
		work = 1;
		s->rlen += (uint32_t)n;
		uint32_t off = 0;
		while (s->rlen - off >= 16) {
			const uint8_t *f = s->rbuf + off;
			if (memcmp(f, "FDAK", 4) != 0 || f[4] != 1) {
				off++; /* not ours: resynchronise byte by byte */
				continue;
			}
			uint64_t durable = be64_load(f + 8);
			s->ackstate = ACK_YES;
			s->ctr.acking = 1;
			bool any = false;
			while (s->sent && s->win[s->head]->num < durable) {
				win_release_head(s);
				any = true;
			}
			if (!any)
				s->ctr.dedup_acks++;
			off += 16;
		}
		memmove(s->rbuf, s->rbuf + off, s->rlen - off);
		s->rlen -= off;
	}
	return work;
}

/* Write what is pending, without blocking. */
static int pump(struct dp_sender *s, uint64_t now)
{
	int work = 0;

	while (s->ctl_off < s->ctl_len) {
		ssize_t n = send(s->fd, s->ctl + s->ctl_off, s->ctl_len - s->ctl_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				disconnect(s);
			return work;
		}
		s->ctl_off += (uint32_t)n;
		work = 1;
	}
	/* Up to SEND_IOV messages per sendmsg(): over loopback or a fast
	 * link one 16 KiB message per call cost a TCP segment, its receive
	 * processing and often a wake-up of the slave each. Each message is
	 * stamped (sequence number, export time) when its first byte is
	 * about to go; one cut short by a full socket buffer keeps its
	 * stamp, the ones behind it are stamped again next time. */
	const uint32_t export_s = (uint32_t)time(NULL);
	while (s->sent < s->count) {
		struct iovec iov[SEND_IOV];
		uint32_t k = 0, seq = s->seq;
		while (k < SEND_IOV && s->sent + k < s->count) {
			struct dp_msg *m = s->win[(s->head + s->sent + k) % s->win_cap];
			uint32_t off = k ? 0 : s->partial;
			if (off == 0) {
				be32_store(m->data + 8, seq);
				be32_store(m->data + 4, export_s);
			}
			seq += m->nrec;
			iov[k].iov_base = m->data + off;
			iov[k].iov_len = m->len - off;
			k++;
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = k };
		ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				s->ctr.socket_full++;
			else if (errno != EINTR)
				disconnect(s);
			return work;
		}
		work = 1;
		for (uint32_t i = 0; i < k && n > 0; i++) {
			struct dp_msg *m = s->win[(s->head + s->sent) % s->win_cap];
			if ((size_t)n < iov[i].iov_len) {
				s->partial += (uint32_t)n;
				s->ctr.socket_full++;
				return work; /* the socket buffer is full */
			}
			n -= (ssize_t)iov[i].iov_len;
			s->partial = 0;
			s->sent++;
			s->seq += m->nrec;
			s->ctr.sent += m->nrec;
			s->ctr.msgs_sent++;
			if (!s->first_write_ms)
				s->first_write_ms = now;
			if (s->ackstate == ACK_NO)
				win_release_head(s);
		}
	}
	return work;
}

static void *sender_main(void *arg)
{
	struct dp_sender *s = arg;
	void *objs[DP_BURST];
	char tname[16];

	snprintf(tname, sizeof(tname), "dp-snd-%.8s", s->name);
	pthread_setname_np(pthread_self(), tname);
	s->ctr.spool_recovered = dp_spool_records(s->spool);
	s->ctr.spool_bytes = dp_spool_bytes(s->spool);

	for (;;) {
		uint64_t now = mono_ms();
		int stopping = atomic_load(&s->stop) | atomic_load(&s->retire);
		int work = 0;

		if (!s->cfg.discard && s->fd < 0) {
			if (s->cfd >= 0)
				connect_poll(s, now);
			else if (now >= s->next_connect_ms)
				connect_start(s);
		}
		if (s->fd >= 0)
			work |= read_acks(s);
		/* A slave that has not acknowledged anything ack_timeout after
		 * our first write is a plain IPFIX collector: written = delivered. */
		if (s->fd >= 0 && s->ackstate == ACK_UNKNOWN && s->first_write_ms &&
		    now - s->first_write_ms > dp_g.cfg->senders.ack_timeout_ms) {
			s->ackstate = ACK_NO;
			while (s->sent)
				win_release_head(s);
		}

		bool rings_empty = true;
		for (uint32_t w = 0; w < dp_g.nworkers; w++) {
			struct rte_ring *r = dp_g.rings[w][s->slot];
			unsigned n = rte_ring_sc_dequeue_burst(r, objs, DP_BURST, NULL);
			if (n == DP_BURST)
				rings_empty = false;
			for (unsigned i = 0; i < n; i++) {
				struct dp_msg *m = objs[i];
				s->ctr.dequeued += m->nrec;
				work = 1;
				if (s->cfg.discard) {
					s->ctr.delivered += m->nrec;
					msg_free(s, m);
				} else if (s->fd >= 0 && dp_spool_records(s->spool) == 0 &&
					   s->count < s->win_cap) {
					win_push(s, m);
				} else {
					spool_msg(s, m);
					msg_free(s, m);
				}
			}
		}

		/* replay the spool into the window once the connection is up */
		while (s->fd >= 0 && s->count < s->win_cap && dp_spool_records(s->spool)) {
			void *obj;
			uint32_t len, nrec;
			if (rte_mempool_generic_get(dp_g.msg_pool, &obj, 1, s->mcache) < 0)
				break;
			struct dp_msg *m = obj;
			int r = dp_spool_peek(s->spool, m->data, dp_g.msg_cap, &len, &nrec);
			if (r != 1) {
				msg_free(s, m);
				break;
			}
			dp_spool_pop(s->spool);
			m->len = len;
			m->nrec = nrec;
			s->ctr.spool_out += nrec;
			win_push(s, m);
			work = 1;
		}
		s->ctr.spool_bytes = dp_spool_bytes(s->spool);

		if (s->fd >= 0)
			work |= pump(s, now);

		if (stopping) {
			if (!s->drain_deadline_ms)
				s->drain_deadline_ms = now + 5000;
			bool empty = rings_empty;
			for (uint32_t w = 0; w < dp_g.nworkers && empty; w++)
				empty = rte_ring_count(dp_g.rings[w][s->slot]) == 0;
			/* An unreachable slave is not waited for: its window and
			 * rings go to the spool below and are replayed by the
			 * next run (counted as recovered then). */
			bool done = empty && (s->fd < 0 || (s->count == 0 &&
							     dp_spool_records(s->spool) == 0));
			if (done || now >= s->drain_deadline_ms)
				break;
		}
		if (dp_snap_asked(&s->sreq)) {
			s->cctr = s->ctr;
			dp_snap_answer(&s->sreq);
		}
		if (!work) {
			if (s->fd >= 0) {
				struct pollfd pf = { .fd = s->fd, .events = POLLIN };
				if (s->ctl_off < s->ctl_len || s->sent < s->count)
					pf.events |= POLLOUT;
				poll(&pf, 1, 1);
			} else {
				usleep(1000);
			}
		}
	}

	/* Whatever the slave has not acknowledged stays on disk for the next
	 * run (replayed under a new session: a slave may see it twice). */
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		unsigned n;
		while ((n = rte_ring_sc_dequeue_burst(dp_g.rings[w][s->slot], objs, DP_BURST,
						      NULL)) > 0)
			for (unsigned i = 0; i < n; i++) {
				struct dp_msg *m = objs[i];
				s->ctr.dequeued += m->nrec;
				spool_msg(s, m);
				msg_free(s, m);
			}
	}
	while (s->count) {
		struct dp_msg *m = s->win[s->head];
		s->ctr.window -= m->nrec;
		spool_msg(s, m);
		s->head = (s->head + 1) % s->win_cap;
		s->count--;
		msg_free(s, m);
	}
	s->sent = 0;
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
		s->ctr.connected = 0;
	}
	if (s->cfd >= 0) {
		close(s->cfd);
		s->cfd = -1;
	}
	s->ctr.spool_bytes = dp_spool_bytes(s->spool);
	dp_spool_close(s->spool);
	s->spool = NULL;
	if (s->mcache) /* every message back in the pool */
		rte_mempool_cache_flush(s->mcache, dp_g.msg_pool);
	atomic_store(&s->sreq.live, false); /* counters final from here */
	return NULL;
}

bool dp_sender_snapshot(struct dp_sender *s, struct dp_sender_ctr *out)
{
	unsigned want = atomic_fetch_add(&s->sreq.req, 1) + 1;
	/* the sender answers within one loop iteration (it sleeps at most
	 * 1 ms in poll); 200 ms covers a descheduled thread */
	for (int i = 0; i < 2000; i++) {
		if (atomic_load_explicit(&s->sreq.done, memory_order_acquire) == want) {
			*out = s->cctr;
			return true;
		}
		if (!atomic_load(&s->sreq.live))
			break;
		usleep(100);
	}
	*out = s->ctr;
	return !atomic_load(&s->sreq.live);
}

int dp_sender_start(uint32_t slot, const struct dp_cfg_slave *sl)
{
	struct dp_sender *s;
	char dir[4200], rname[32];
	int err;

	s = aligned_alloc(CACHE_LINE, (sizeof(*s) + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	s->cfg = *sl;
	snprintf(s->name, sizeof(s->name), "%s", sl->name);
	snprintf(s->host, sizeof(s->host), "%s", sl->host);
	s->cfg.name = s->name;
	s->cfg.host = s->host;
	s->fd = -1;
	s->cfd = -1;
	s->backoff_ms = 100;
	s->win_cap = dp_g.cfg->senders.window;
	s->win = calloc(s->win_cap, sizeof(*s->win));
	/* without one (no memory) msg_free() puts straight to the ring */
	s->mcache = rte_mempool_cache_create(DP_SENDER_CACHE, SOCKET_ID_ANY);
	if (getrandom(&s->session_id, sizeof(s->session_id), 0) != sizeof(s->session_id))
		s->session_id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (mkdir(dp_g.cfg->spool.dir, 0750) < 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s/%s", dp_g.cfg->spool.dir, sl->name);
	s->spool = dp_spool_open(dir, (uint64_t)dp_g.cfg->spool.max_mb << 20,
				 (uint64_t)dp_g.cfg->spool.file_mb << 20);
	if (!s->win || !s->spool) {
		err = -errno;
		goto fail;
	}
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		static unsigned ring_gen;
		snprintf(rname, sizeof(rname), "dp_r%u_%u_%u", w, slot, ring_gen++);
		dp_g.rings[w][slot] = rte_ring_create(rname, dp_g.cfg->senders.ring_size,
						      SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!dp_g.rings[w][slot]) {
			err = -ENOMEM;
			goto fail;
		}
	}
	atomic_store(&s->sreq.live, true);
	senders[slot] = s;
	dp_g.slots[slot].snd = s;
	dp_g.slots[slot].sctr = &s->ctr;
	err = -pthread_create(&s->th, NULL, sender_main, s);
	if (err) {
		senders[slot] = NULL;
		goto fail;
	}
	cpu_set_t cs;
	CPU_ZERO(&cs);
	for (int c = 0; c < 64; c++)
		if (dp_g.sender_cpus & (1ull << c))
			CPU_SET(c, &cs);
	pthread_setaffinity_np(s->th, sizeof(cs), &cs);
	return 0;
fail:
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		rte_ring_free(dp_g.rings[w][slot]);
		dp_g.rings[w][slot] = NULL;
	}
	dp_spool_close(s->spool);
	free(s->win);
	rte_mempool_cache_free(s->mcache);
	free(s);
	dp_g.slots[slot].snd = NULL;
	dp_g.slots[slot].sctr = NULL;
	return err;
}

static void sender_finish(uint32_t slot, int which, uint32_t timeout_ms)
{
	struct dp_sender *s = senders[slot];
	if (!s)
		return;
	s->drain_deadline_ms = mono_ms() + timeout_ms;
	atomic_store(which ? &s->stop : &s->retire, 1);
	pthread_join(s->th, NULL);
	for (uint32_t w = 0; w < dp_g.nworkers; w++) {
		rte_ring_free(dp_g.rings[w][slot]);
		dp_g.rings[w][slot] = NULL;
	}
	free(s->win);
	s->win = NULL;
	rte_mempool_cache_free(s->mcache); /* flushed by the thread */
	s->mcache = NULL;
	senders[slot] = NULL;
	/* the struct stays allocated: its counters keep counting in stats */
	unsigned i = atomic_load(&dp_nretired);
	if (i < 256) {
		dp_retired_ctr[i] = &s->ctr;
		dp_retired_name[i] = s->name;
		atomic_store(&dp_nretired, i + 1);
	}
	dp_g.slots[slot].snd = NULL;
	dp_g.slots[slot].sctr = NULL;
}

void dp_sender_retire(uint32_t slot, uint32_t timeout_ms)
{
	sender_finish(slot, 0, timeout_ms);
}

void dp_senders_stop_all(uint32_t timeout_ms)
{
	/* signal all first so they drain in parallel, then join */
	uint64_t dl = mono_ms() + timeout_ms;
	for (uint32_t i = 0; i < DP_MAX_SLAVES; i++)
		if (senders[i]) {
			senders[i]->drain_deadline_ms = dl;
			atomic_store(&senders[i]->stop, 1);
		}
	for (uint32_t i = 0; i < DP_MAX_SLAVES; i++)
		if (senders[i])
			sender_finish(i, 1, timeout_ms);
}
