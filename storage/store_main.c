/* store_main.c — the flowdelta-store daemon.
 *
 * One ingest thread runs an epoll loop over: the IPFIX/TCP listener and its
 * sessions, an optional UDP NetFlow/IPFIX socket, the local metrics port and
 * a signalfd. Every session has a struct flow_tcp (lib/flow) sharing the one
 * decoder of the thread; decoded batches go straight into the store writer.
 * Every fsync_interval_ms the loop runs a group commit and then sends the
 * durable acknowledgements of docs/ack-protocol.md.
 *
 * Memory is bounded: a session holds at most its flow_tcp buffer (128 KiB)
 * and the store at most two blocks of pending rows per open window; when the
 * store cannot take a whole message (disk full, write errors) the loop stops
 * reading sockets, so TCP flow control pushes back on the senders instead of
 * memory growing. Sessions above max_sessions are refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#ifndef FLOWDELTA_NO_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "flow/flow.h"
#include "store.h"
#include "util/addr.h"

#define ROOM_NEEDED 65536 /* rows one IPFIX message can carry, at most */
#define READ_CHUNK 65536
#define READS_PER_WAKEUP 4 /* fairness between busy sessions */
#define UDP_PER_WAKEUP 64

enum ev_kind { EV_LISTEN, EV_UDP, EV_METRICS, EV_SIGNAL, EV_SESSION };

struct ev {
	enum ev_kind kind;
};

struct sess {
	struct ev ev; /* first: epoll data points here */
	int fd;
	uint32_t slot;
	struct flow_tcp *t;
	struct flow_src src;
	bool hello;       /* the session protocol is on */
	bool hello_now;   /* the message being decoded carried the hello */
	bool want_ack;
	bool reading;     /* EPOLLIN armed */
	bool dead;        /* closed: freed after the current event batch */
	struct sess *next_dead;
	uint64_t session_id;
	uint64_t next_msg; /* number of the next numbered message */
	uint64_t acked;    /* last durable value sent */
};

struct counters {
	uint64_t records_in, records_lost, bytes_in, messages, udp_datagrams;
	uint64_t sessions_total, sessions_rejected, sessions_proto_err;
	uint64_t acks, acks_skipped, dedup_msgs, dedup_records_skipped, out_of_order, session_gaps;
	uint64_t retention_segments, retention_bytes, retention_runs;
	uint64_t disk_full, commit_errors;
};

struct daemon {
	struct stcfg cfg;
	struct st_store *store;
	struct flow_dec *dec;
	int ep, lfd, ufd, mfd, sigfd;
	struct ev ev_listen, ev_udp, ev_metrics, ev_signal;
	struct sess **sess;
	uint32_t nsess;
	struct sess *dead; /* closed sessions whose events may still be pending */
	bool discard;   /* sink drops records: a replayed message */
	bool paused;    /* sockets not read: the store has no room */
	bool disk_full;
	bool commit_failing;
	bool stop;
	bool fatal;     /* stop without the final commit (fsync failed) */
	uint64_t now_ms;
	uint64_t next_commit_ms, next_retention_ms;
	struct counters c;
	uint8_t *rbuf;
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("flowdelta-store: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------- sockets */

static int make_listener(const char *addr, uint32_t port, int type)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = type,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	char ps[16];
	snprintf(ps, sizeof(ps), "%u", port);
	int rc = getaddrinfo(addr, ps, &hints, &ai);
	if (rc) {
		logmsg("bad address '%s': %s", addr, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6) /* "::" also takes IPv4 */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (type == SOCK_DGRAM) {
		int rcv = 8 << 20;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || (type == SOCK_STREAM && listen(fd, 256)))
		goto fail;
	freeaddrinfo(ai);
	return fd;
fail:
	logmsg("%s %s port %u: %s", type == SOCK_STREAM ? "tcp" : "udp", addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

static void to_src(const struct sockaddr_storage *ss, uint16_t listen_port, struct flow_src *src)
{
	memset(src, 0, sizeof(*src));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		addr_set_v4(src->addr, (const uint8_t *)&in->sin_addr);
		src->port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		memcpy(src->addr, &in6->sin6_addr, 16);
		src->port = ntohs(in6->sin6_port);
	}
	src->listen_port = listen_port;
}

static int ep_add(struct daemon *d, int fd, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };
	return epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &e);
}

/* A paused session leaves the epoll set altogether: with no events asked
 * for, epoll would still report a peer's hang-up, level-triggered, and the
 * loop would spin until ingest resumes. */
static void sess_arm(struct daemon *d, struct sess *s, bool on)
{
	if (s->reading == on)
		return;
	struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &s->ev };
	epoll_ctl(d->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->fd, &e);
	s->reading = on;
}

/* --------------------------------------------------------- sessions */

/* The struct lives until the end of the event batch: a later event of the
 * same epoll_wait() may still point at it. */
static void sess_close(struct daemon *d, struct sess *s)
{
	epoll_ctl(d->ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	flow_tcp_free(s->t);
	s->t = NULL;
	d->sess[s->slot] = d->sess[--d->nsess];
	d->sess[s->slot]->slot = s->slot;
	s->dead = true;
	s->next_dead = d->dead;
	d->dead = s;
}

static void reap(struct daemon *d)
{
	while (d->dead) {
		struct sess *s = d->dead;
		d->dead = s->next_dead;
		free(s);
	}
}

static void on_ctl(void *user, const struct flow_ctl *c)
{
	struct sess *s = user;
	s->hello = true;
	s->hello_now = true;
	s->session_id = c->session_id;
	s->next_msg = c->first_msg;
	s->want_ack = c->flags & FLOW_CTL_ACK;
}

static void sink(void *ctx, const struct flow_batch *b)
{
	struct daemon *d = ctx;
	if (d->discard) {
		d->c.dedup_records_skipped += b->n;
		return;
	}
	int rc = st_store_add(d->store, b->recs, b->n, b->arena, d->now_ms);
	if (rc)
		d->c.records_lost += b->n; /* room is checked per message: not expected */
	else
		d->c.records_in += b->n;
}

/* Numbered messages are stored only in sequence: number == the session's
 * mark (first message not yet stored). Below it: a replay. Above it: a
 * message overtaking the resend of another connection of the same session
 * (a half-dead old connection): it is not stored and not acknowledged, so
 * the proxy sends it again in order. The mark is the store's, shared by all
 * connections of the session, and committed with the rows it covers. */
static void process_msg(struct daemon *d, struct sess *s, const uint8_t *msg, size_t len)
{
	bool numbered = s->hello;
	uint64_t num = s->next_msg;
	uint64_t mark = numbered ? st_store_get_mark(d->store, s->session_id) : 0;
	d->c.messages++;
	/* A message not stored is still decoded, only its records are
	 * dropped: it may carry the templates that later messages need. */
	d->discard = numbered && num != mark;
	if (d->discard) {
		if (num < mark)
			d->c.dedup_msgs++;
		else
			d->c.out_of_order++;
	}
	s->hello_now = false;
	flow_tcp_decode(s->t, msg, len, d->now_ms);
	d->discard = false;
	if (s->hello_now) {
		/* (re)start of numbering. A first message above the mark means
		 * the proxy gave up older ones (spool overflow): accept the gap. */
		mark = st_store_get_mark(d->store, s->session_id);
		if (s->next_msg > mark) {
			if (mark)
				d->c.session_gaps++;
			struct st_mark m = { s->session_id, s->next_msg };
			st_store_set_marks(d->store, &m, 1);
		}
		s->acked = 0;
		return;
	}
	if (!numbered)
		return;
	s->next_msg = num + 1;
	if (num == mark) {
		/* stored with the rows just added, durable at the next commit */
		struct st_mark m = { s->session_id, num + 1 };
		st_store_set_marks(d->store, &m, 1);
	}
}

/* Take complete messages while the store has room. false: session closed. */
static bool sess_drain(struct daemon *d, struct sess *s)
{
	const uint8_t *msg;
	size_t len;
	int rc = 0;
	while (st_store_room(d->store) >= ROOM_NEEDED && (rc = flow_tcp_next(s->t, &msg, &len)) == 1)
		process_msg(d, s, msg, len);
	if (st_store_room(d->store) < ROOM_NEEDED)
		return true;
	if (rc < 0) {
		d->c.sessions_proto_err++;
		sess_close(d, s);
		return false;
	}
	return true;
}

static void pause_all(struct daemon *d, bool pause);

static void sess_read(struct daemon *d, struct sess *s)
{
	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		if (!sess_drain(d, s))
			return;
		if (st_store_room(d->store) < ROOM_NEEDED) {
			pause_all(d, true);
			return;
		}
		/* after draining at most one partial message (< 64 KiB) is
		 * buffered, so a 64 KiB push always fits */
		ssize_t r = read(s->fd, d->rbuf, READ_CHUNK);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			/* peer closed: store what is complete, then close. If the
			 * store is out of room the session stays, unarmed, until
			 * resume re-arms it and this end-of-file is seen again. */
			if (!sess_drain(d, s))
				return;
			if (st_store_room(d->store) < ROOM_NEEDED)
				pause_all(d, true);
			else
				sess_close(d, s);
			return;
		}
		if (r < 0)
			break;
		d->c.bytes_in += (uint64_t)r;
		if (flow_tcp_push(s->t, d->rbuf, (size_t)r)) {
			d->c.sessions_proto_err++;
			sess_close(d, s);
			return;
		}
	}
	sess_drain(d, s);
}

static void on_accept(struct daemon *d)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(d->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (d->nsess >= d->cfg.max_sessions) {
			d->c.sessions_rejected++;
			close(fd);
			continue;
		}
		struct sess *s = calloc(1, sizeof(*s));
		if (!s) {
			close(fd);
			continue;
		}
		s->ev.kind = EV_SESSION;
		s->fd = fd;
		to_src(&ss, (uint16_t)d->cfg.listen.port, &s->src);
		s->t = flow_tcp_new(d->dec, &s->src);
		if (!s->t) {
			close(fd);
			free(s);
			continue;
		}
		flow_tcp_set_ctl(s->t, on_ctl, s);
		s->slot = d->nsess;
		d->sess[d->nsess++] = s;
		s->reading = !d->paused; /* paused: added to epoll on resume */
		if (!d->paused && ep_add(d, fd, &s->ev, EPOLLIN | EPOLLRDHUP)) {
			sess_close(d, s);
			continue;
		}
		d->c.sessions_total++;
	}
}

static void on_udp(struct daemon *d)
{
	for (int i = 0; i < UDP_PER_WAKEUP; i++) {
		if (st_store_room(d->store) < ROOM_NEEDED) {
			pause_all(d, true);
			return;
		}
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t r = recvfrom(d->ufd, d->rbuf, READ_CHUNK, 0, (struct sockaddr *)&ss, &sl);
		if (r < 0)
			return;
		struct flow_src src;
		to_src(&ss, (uint16_t)d->cfg.udp.port, &src);
		d->c.udp_datagrams++;
		d->c.bytes_in += (uint64_t)r;
		flow_dec_udp(d->dec, &src, d->rbuf, (size_t)r, d->now_ms);
	}
}

/* Stop (or restart) reading every socket that brings records. */
static void pause_all(struct daemon *d, bool pause)
{
	if (d->paused == pause)
		return;
	d->paused = pause;
	for (uint32_t i = 0; i < d->nsess; i++)
		sess_arm(d, d->sess[i], !pause);
	if (d->ufd >= 0) {
		struct epoll_event e = { .events = pause ? 0 : EPOLLIN, .data.ptr = &d->ev_udp };
		epoll_ctl(d->ep, EPOLL_CTL_MOD, d->ufd, &e);
	}
	if (!pause) /* bytes already buffered raise no event: drain them now */
		for (uint32_t i = d->nsess; i-- > 0;)
			sess_drain(d, d->sess[i]);
}

/* ------------------------------------------------------------- commit */

static void send_acks(struct daemon *d)
{
	for (uint32_t i = 0; i < d->nsess; i++) {
		struct sess *s = d->sess[i];
		if (!s->hello || !s->want_ack)
			continue;
		/* right after a commit every mark in memory is durable */
		uint64_t v = st_store_get_mark(d->store, s->session_id);
		if (v <= s->acked)
			continue;
		uint8_t f[16] = { 'F', 'D', 'A', 'K', 1, 0, 0, 0 };
		for (int k = 0; k < 8; k++)
			f[8 + k] = (uint8_t)(v >> (56 - 8 * k)); /* big-endian u64 */
		/* a full send buffer skips the frame: the next one covers it */
		if (send(s->fd, f, sizeof(f), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(f)) {
			s->acked = v;
			d->c.acks++;
		} else {
			d->c.acks_skipped++;
		}
	}
}

static void do_commit(struct daemon *d)
{
	int rc = st_store_commit(d->store, d->now_ms);
	struct st_store_stats ss;
	st_store_stats(d->store, &ss);
	if (rc && ss.fsync_failed) {
		/* nothing more can be acknowledged safely; a restart recovers
		 * from what is really on disk and the proxies resend the rest */
		logmsg("fsync failed (%s): durability of %s unknown, exiting for recovery",
		       strerror(-rc), d->cfg.data_dir);
		d->stop = true;
		d->fatal = true;
		return;
	}
	if (rc) {
		if (rc == -ENOSPC || rc == -EDQUOT) {
			d->c.disk_full++;
			if (!d->disk_full)
				logmsg("disk full in %s: ingest paused, nothing acknowledged until space returns",
				       d->cfg.data_dir);
			d->disk_full = true;
		} else {
			d->c.commit_errors++;
			if (!d->commit_failing) /* once, not at every retry */
				logmsg("commit failed: %s (retrying)", strerror(-rc));
			d->commit_failing = true;
		}
		pause_all(d, true);
		return;
	}
	if (d->disk_full) {
		logmsg("disk space available again: ingest resumed");
		d->disk_full = false;
	}
	if (d->commit_failing) {
		logmsg("commit succeeded again: ingest resumed");
		d->commit_failing = false;
	}
	send_acks(d);
	if (d->paused && st_store_room(d->store) >= ROOM_NEEDED)
		pause_all(d, false);
}

static void do_retention(struct daemon *d)
{
	const struct stcfg_retention *r = &d->cfg.retention;
	if (!r->max_age_h && !r->quota_mb)
		return;
	struct st_retention_stats st;
	int rc = st_retention_run(d->cfg.data_dir, d->now_ms, (uint64_t)r->max_age_h * 3600000,
				  r->quota_mb << 20, &st);
	d->c.retention_runs++;
	if (rc)
		logmsg("retention: %s", strerror(-rc));
	d->c.retention_segments += st.segments_deleted;
	d->c.retention_bytes += st.bytes_deleted;
}

/* ------------------------------------------------------------ metrics */

struct mbuf {
	char *p;
	size_t len, cap;
};

static void mprintf(struct mbuf *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mprintf(struct mbuf *m, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		/* the first call has no buffer yet: (NULL, 0) asks for the size */
		int n = vsnprintf(m->p ? m->p + m->len : NULL, m->cap - m->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < m->cap - m->len) {
			m->len += (size_t)n;
			return;
		}
		size_t cap = (m->cap + (size_t)n) * 2;
		char *p = realloc(m->p, cap);
		if (!p)
			return;
		m->p = p;
		m->cap = cap;
	}
}

static void metric(struct mbuf *m, const char *name, const char *type, const char *help, double v)
{
	mprintf(m, "# HELP flowdelta_store_%s %s\n# TYPE flowdelta_store_%s %s\nflowdelta_store_%s %.17g\n",
		name, help, name, type, name, v);
}

#ifndef FLOWDELTA_NO_JEMALLOC
static size_t je_stat(const char *name)
{
	size_t v = 0, sz = sizeof(v);
	if (mallctl(name, &v, &sz, NULL, 0))
		return 0;
	return v;
}
#endif

static void metrics_render(struct daemon *d, struct mbuf *m)
{
	struct st_store_stats st;
	st_store_stats(d->store, &st);
	const struct counters *c = &d->c;
#define C(n, h, v) metric(m, n, "counter", h, (double)(v))
#define G(n, h, v) metric(m, n, "gauge", h, (double)(v))
	C("records_in_total", "flow records decoded and handed to the writer", c->records_in);
	C("records_lost_total", "records the writer refused (should stay 0)", c->records_lost);
	C("bytes_in_total", "IPFIX/NetFlow bytes received", c->bytes_in);
	C("messages_total", "IPFIX messages taken from TCP sessions", c->messages);
	C("udp_datagrams_total", "UDP datagrams received", c->udp_datagrams);
	G("sessions", "open TCP sessions", d->nsess);
	C("sessions_total", "TCP sessions accepted", c->sessions_total);
	C("sessions_rejected_total", "TCP sessions refused: max_sessions reached", c->sessions_rejected);
	C("sessions_protocol_errors_total", "TCP sessions closed: stream beyond repair", c->sessions_proto_err);
	C("acks_total", "acknowledgement frames sent", c->acks);
	C("acks_skipped_total", "acknowledgement frames skipped: send buffer full", c->acks_skipped);
	C("dedup_messages_total", "replayed messages recognised and not stored again", c->dedup_msgs);
	C("dedup_records_total", "records of replayed or out-of-order messages, not stored", c->dedup_records_skipped);
	C("out_of_order_messages_total", "numbered messages ahead of their session's mark: not stored, resent by the proxy", c->out_of_order);
	C("session_gaps_total", "hellos starting above the session's mark (proxy dropped messages)", c->session_gaps);
	C("rows_written_total", "rows written in blocks", st.rows_written);
	C("blocks_written_total", "blocks written", st.blocks_written);
	C("bytes_written_total", "block bytes written to segments", st.bytes_written);
	C("column_bytes_total", "column bytes before compression", st.raw_bytes);
	C("commits_total", "group commits", st.commits);
	C("fsyncs_total", "fdatasync calls", st.fsyncs);
	C("fsync_seconds_total", "time spent in fdatasync", (double)st.fsync_ns_total / 1e9);
	G("fsync_seconds_max", "longest fdatasync since start", (double)st.fsync_ns_max / 1e9);
	C("write_errors_total", "failed segment or log writes", st.write_errors);
	C("disk_full_errors_total", "commits that failed for lack of space", c->disk_full);
	C("commit_errors_total", "commits that failed otherwise", c->commit_errors);
	C("segments_created_total", "segment files created", st.segments_created);
	C("segments_sealed_total", "segment files sealed", st.segments_sealed);
	G("pending_rows", "rows waiting for the next commit", st.pending_rows);
	G("ingest_paused", "1 while sockets are not read (no room / disk full)", d->paused);
	C("retention_runs_total", "retention passes", c->retention_runs);
	C("retention_deleted_segments_total", "segments deleted by retention", c->retention_segments);
	C("retention_deleted_bytes_total", "bytes deleted by retention", c->retention_bytes);
	struct flow_dec_stats ds;
	flow_dec_stats(d->dec, &ds);
	mprintf(m, "# HELP flowdelta_store_decoder_drops_total decoder drop/anomaly counters by reason\n"
		   "# TYPE flowdelta_store_decoder_drops_total counter\n");
	for (int r = 0; r < FLOW_DROP_MAX; r++)
		mprintf(m, "flowdelta_store_decoder_drops_total{reason=\"%s\"} %" PRIu64 "\n",
			flow_drop_name((enum flow_drop)r), ds.drops[r]);
#ifndef FLOWDELTA_NO_JEMALLOC
	uint64_t epoch = 1;
	size_t esz = sizeof(epoch);
	mallctl("epoch", &epoch, &esz, &epoch, esz); /* refresh jemalloc's stats */
	G("jemalloc_allocated_bytes", "bytes allocated by the application", je_stat("stats.allocated"));
	G("jemalloc_active_bytes", "bytes in active pages", je_stat("stats.active"));
	G("jemalloc_metadata_bytes", "jemalloc metadata", je_stat("stats.metadata"));
	G("jemalloc_resident_bytes", "bytes in physically resident pages", je_stat("stats.resident"));
	G("jemalloc_mapped_bytes", "bytes in active extents", je_stat("stats.mapped"));
#endif
#undef C
#undef G
}

static void on_metrics(struct daemon *d)
{
	int fd = accept4(d->mfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* local scrapers only: a short blocking exchange is fine, bounded by
	 * timeouts so a stuck client cannot hold the ingest loop */
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char req[1024];
	if (recv(fd, req, sizeof(req), 0) < 0) {
		close(fd);
		return;
	}
	struct mbuf m = { 0 };
	metrics_render(d, &m);
	char hdr[160];
	int hl = snprintf(hdr, sizeof(hdr),
			  "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n", m.len);
	if (send(fd, hdr, (size_t)hl, MSG_NOSIGNAL) == hl && m.len)
		(void)!send(fd, m.p, m.len, MSG_NOSIGNAL);
	free(m.p);
	close(fd);
}

/* --------------------------------------------------------------- main */

static int usage(FILE *f)
{
	fprintf(f,
		"usage: flowdelta-store [options]\n"
		"\n"
		"Durable columnar flow store fed with IPFIX over TCP (and optionally\n"
		"NetFlow/IPFIX over UDP). See docs/store.md.\n"
		"\n"
		"  -c, --config FILE         YAML configuration (default: none, built-in defaults)\n"
		"  -d, --data-dir DIR        data directory (data_dir)\n"
		"  -l, --listen ADDR         TCP listen address (listen.address)\n"
		"  -p, --port N              TCP listen port (listen.port, default 34739)\n"
		"      --udp-port N          UDP listen port, 0 = off (udp.port)\n"
		"      --metrics-port N      Prometheus metrics port on metrics.address (metrics.port)\n"
		"      --fsync-ms N          group commit interval (fsync_interval_ms, default 100)\n"
		"      --window N            segment window in seconds (window_s, default 300)\n"
		"      --compression C       lz4 (default), zstd or none (compression)\n"
		"      --max-age-h N         retention by age in hours (retention.max_age_h)\n"
		"      --quota-mb N          retention by size in MiB (retention.quota_mb)\n"
		"      --check               validate the configuration, print it, exit\n"
		"  -h, --help                this help\n"
		"  -V, --version             print the version\n");
	return f == stdout ? 0 : 2;
}

static int parse_u32(const char *opt, const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX) {
		logmsg("%s: '%s' is not a number", opt, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void print_cfg(const struct stcfg *c)
{
	static const char *const comp[] = { "?", "lz4", "zstd", "none" };
	printf("data_dir: %s\nlisten:\n  address: \"%s\"\n  port: %u\nudp:\n  address: \"%s\"\n"
	       "  port: %u\nmetrics:\n  address: \"%s\"\n  port: %u\nwindow_s: %u\ncompression: %s\n"
	       "zstd_level: %u\nfsync_interval_ms: %u\nretention:\n  max_age_h: %u\n"
	       "  quota_mb: %" PRIu64 "\n  interval_s: %u\nmax_sessions: %u\nmax_marks: %u\n",
	       c->data_dir, c->listen.address, c->listen.port, c->udp.address, c->udp.port,
	       c->metrics.address, c->metrics.port, c->window_s, comp[c->compression & 3],
	       c->zstd_level, c->fsync_interval_ms, c->retention.max_age_h, c->retention.quota_mb,
	       c->retention.interval_s, c->max_sessions, c->max_marks);
}

static int parse_args(int argc, char **argv, struct stcfg *cfg, bool *check)
{
	enum { OPT_UDP = 256, OPT_METRICS, OPT_FSYNC, OPT_WINDOW, OPT_COMP, OPT_AGE, OPT_QUOTA, OPT_CHECK };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "udp-port", required_argument, NULL, OPT_UDP },
		{ "metrics-port", required_argument, NULL, OPT_METRICS },
		{ "fsync-ms", required_argument, NULL, OPT_FSYNC },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "compression", required_argument, NULL, OPT_COMP },
		{ "max-age-h", required_argument, NULL, OPT_AGE },
		{ "quota-mb", required_argument, NULL, OPT_QUOTA },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	/* pass 1: the config file, so that flags override it whatever the order */
	const char *path = NULL;
	int o;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "c:d:l:p:hV", opts, NULL)) != -1)
		if (o == 'c')
			path = optarg;
	int rc = path ? stcfg_load(path, cfg, stderr) : stcfg_defaults(cfg);
	if (rc)
		return 2;
	optind = 1;
	opterr = 1;
	uint32_t v;
	while ((o = getopt_long(argc, argv, "c:d:l:p:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c': break;
		case 'd': if (stcfg_set_str(&cfg->data_dir, optarg)) return 1; break;
		case 'l': if (stcfg_set_str(&cfg->listen.address, optarg)) return 1; break;
		case 'p': if (parse_u32("--port", optarg, &cfg->listen.port)) return 2; break;
		case OPT_UDP: if (parse_u32("--udp-port", optarg, &cfg->udp.port)) return 2; break;
		case OPT_METRICS: if (parse_u32("--metrics-port", optarg, &cfg->metrics.port)) return 2; break;
		case OPT_FSYNC: if (parse_u32("--fsync-ms", optarg, &cfg->fsync_interval_ms)) return 2; break;
		case OPT_WINDOW: if (parse_u32("--window", optarg, &cfg->window_s)) return 2; break;
		case OPT_AGE: if (parse_u32("--max-age-h", optarg, &cfg->retention.max_age_h)) return 2; break;
		case OPT_QUOTA:
			if (parse_u32("--quota-mb", optarg, &v))
				return 2;
			cfg->retention.quota_mb = v;
			break;
		case OPT_COMP:
			if (!strcmp(optarg, "lz4")) cfg->compression = STCFG_COMP_LZ4;
			else if (!strcmp(optarg, "zstd")) cfg->compression = STCFG_COMP_ZSTD;
			else if (!strcmp(optarg, "none")) cfg->compression = STCFG_COMP_NONE;
			else {
				logmsg("--compression: '%s' is not lz4, zstd or none", optarg);
				return 2;
			}
			break;
		case OPT_CHECK: *check = true; break;
		case 'h': usage(stdout); return -1;
		case 'V': printf("flowdelta-store %s\n", FLOWDELTA_VERSION); return -1;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		logmsg("unexpected argument '%s' (see --help)", argv[optind]);
		return 2;
	}
	return stcfg_validate(cfg, stderr) ? 2 : 0;
}

static int run(struct daemon *d)
{
	struct epoll_event evs[64];
	d->next_commit_ms = wall_ms() + d->cfg.fsync_interval_ms;
	d->next_retention_ms = wall_ms();
	while (!d->stop) {
		uint64_t now = wall_ms();
		int timeout = d->next_commit_ms > now ? (int)(d->next_commit_ms - now) : 0;
		int n = epoll_wait(d->ep, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			logmsg("epoll_wait: %s", strerror(errno));
			return 1;
		}
		d->now_ms = wall_ms();
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;
			switch (ev->kind) {
			case EV_LISTEN: on_accept(d); break;
			case EV_UDP: on_udp(d); break;
			case EV_METRICS: on_metrics(d); break;
			case EV_SIGNAL: {
				struct signalfd_siginfo si;
				if (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
					d->stop = true;
				break;
			}
			case EV_SESSION: {
				struct sess *s = (struct sess *)ev;
				if (!s->dead && !d->paused)
					sess_read(d, s);
				break;
			}
			}
		}
		reap(d);
		d->now_ms = wall_ms();
		if (d->now_ms >= d->next_commit_ms) {
			flow_dec_tick(d->dec, d->now_ms); /* partial UDP batch, parked data */
			do_commit(d);
			d->next_commit_ms = d->now_ms + (d->disk_full ? 1000 : d->cfg.fsync_interval_ms);
		}
		if (d->now_ms >= d->next_retention_ms) {
			do_retention(d);
			d->next_retention_ms = d->now_ms + (uint64_t)d->cfg.retention.interval_s * 1000;
		}
		/* disk full: free space by quota as soon as possible */
		if (d->disk_full && d->cfg.retention.quota_mb && d->now_ms + 1000 < d->next_retention_ms)
			d->next_retention_ms = d->now_ms + 1000;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .lfd = -1, .ufd = -1, .mfd = -1, .sigfd = -1, .ep = -1 };
	bool check = false;
	int rc = parse_args(argc, argv, &d.cfg, &check);
	if (rc) {
		stcfg_free(&d.cfg);
		return rc < 0 ? 0 : rc;
	}
	if (check) {
		print_cfg(&d.cfg);
		stcfg_free(&d.cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	d.rbuf = malloc(READ_CHUNK);
	d.sess = calloc(d.cfg.max_sessions, sizeof(*d.sess));

	struct st_store_cfg sc;
	st_store_cfg_default(&sc);
	sc.dir = d.cfg.data_dir;
	sc.window_s = d.cfg.window_s;
	sc.codec = d.cfg.compression == STCFG_COMP_ZSTD   ? ST_CODEC_ZSTD
		   : d.cfg.compression == STCFG_COMP_NONE ? ST_CODEC_NONE
							  : ST_CODEC_LZ4;
	sc.level = (int)d.cfg.zstd_level;
	sc.max_marks = d.cfg.max_marks;
	struct st_recovery rep;
	d.store = st_store_open(&sc, &rep);
	if (!d.store || !d.rbuf || !d.sess) {
		logmsg("cannot open store %s: %s", d.cfg.data_dir, strerror(errno));
		return 1;
	}
	logmsg("store %s: commit %" PRIu64 ", %u session marks, %u open segment(s) recovered: "
	       "%u blocks kept, %u uncommitted blocks (%" PRIu64 " rows) dropped, %u corrupt blocks "
	       "kept in place, %" PRIu64 " bytes truncated%s",
	       d.cfg.data_dir, rep.commit, rep.marks, rep.segments_open, rep.blocks_kept,
	       rep.blocks_dropped, rep.rows_dropped, rep.blocks_corrupt, rep.bytes_truncated,
	       rep.no_commit_log ? "; commit.log was missing: all complete blocks kept, marks lost" : "");

	struct flow_dec_cfg dc;
	flow_dec_cfg_default(&dc);
	dc.sink = sink;
	dc.sink_ctx = &d;
	d.dec = flow_dec_new(&dc);
	d.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!d.dec || d.ep < 0) {
		logmsg("start-up: %s", strerror(errno));
		return 1;
	}
	d.ev_listen.kind = EV_LISTEN;
	d.ev_udp.kind = EV_UDP;
	d.ev_metrics.kind = EV_METRICS;
	d.ev_signal.kind = EV_SIGNAL;
	d.lfd = make_listener(d.cfg.listen.address, d.cfg.listen.port, SOCK_STREAM);
	if (d.lfd < 0)
		return 1;
	ep_add(&d, d.lfd, &d.ev_listen, EPOLLIN);
	if (d.cfg.udp.port) {
		d.ufd = make_listener(d.cfg.udp.address, d.cfg.udp.port, SOCK_DGRAM);
		if (d.ufd < 0)
			return 1;
		ep_add(&d, d.ufd, &d.ev_udp, EPOLLIN);
	}
	if (d.cfg.metrics.port) {
		d.mfd = make_listener(d.cfg.metrics.address, d.cfg.metrics.port, SOCK_STREAM);
		if (d.mfd < 0)
			return 1;
		ep_add(&d, d.mfd, &d.ev_metrics, EPOLLIN);
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	d.sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	ep_add(&d, d.sigfd, &d.ev_signal, EPOLLIN);
	logmsg("listening on tcp [%s]:%u%s, metrics on [%s]:%u, fsync every %u ms",
	       d.cfg.listen.address, d.cfg.listen.port, d.cfg.udp.port ? " and udp" : "",
	       d.cfg.metrics.address, d.cfg.metrics.port, d.cfg.fsync_interval_ms);

	rc = run(&d);

	/* orderly stop: what was received is committed and acknowledged */
	d.now_ms = wall_ms();
	flow_dec_tick(d.dec, d.now_ms);
	int crc = d.fatal ? -EIO : st_store_commit(d.store, d.now_ms);
	if (crc) {
		logmsg("final commit failed: %s", strerror(-crc));
	} else {
		send_acks(&d);
		/* sealed now rather than by the next start's recovery */
		int src = st_store_seal(d.store);
		if (src)
			logmsg("sealing segments: %s (the next start will)", strerror(-src));
	}
	while (d.nsess)
		sess_close(&d, d.sess[0]);
	reap(&d);
	flow_dec_free(d.dec);
	st_store_close(d.store);
	logmsg("stopped");
	close(d.ep);
	free(d.rbuf);
	free(d.sess);
	stcfg_free(&d.cfg);
	return rc || crc ? 1 : 0;
}
