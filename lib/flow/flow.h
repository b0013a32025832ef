/* flow.h — NetFlow v5 / v9 / IPFIX decoder: the public interface of lib/flow.
 *
 * A decoder (struct flow_dec) holds every piece of exporter state: template
 * tables, sampler tables, sequence trackers, parked data and counters. It is
 * single-threaded by design: the dataplane owns one per worker lcore, the
 * store one per ingest thread. No call allocates per record; memory grows
 * only when a new exporter domain or template appears, within the limits of
 * struct flow_dec_cfg.
 *
 * Records are delivered in batches (struct flow_batch) to the sink callback
 * given at creation: when a batch fills up, and at the end of each
 * flow_dec_udp()/flow_tcp_feed() call. The batch and its string arena are
 * only valid during the callback.
 *
 * Errors in the input never fail a call: every malformed case increments a
 * named counter (enum flow_drop) and decoding carries on with what is sound.
 */
#ifndef FLOW_FLOW_H
#define FLOW_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* Drop and anomaly reasons. Each is a counter, per decoder and per exporter
 * domain. X(name, description) */
#define FLOW_DROP_LIST(X)                                                          \
	X(short_header, "datagram or message shorter than its header")             \
	X(bad_version, "version is not 5, 9 or 10")                                \
	X(bad_length, "IPFIX message length does not match the datagram")          \
	X(v5_bad_count, "NetFlow v5 record count is 0, above 30 or beyond the data") \
	X(set_short, "set/FlowSet length below 4 bytes")                           \
	X(set_overrun, "set/FlowSet extends past the end of the message")          \
	X(set_id_reserved, "set id 4..255 (IPFIX) or 2..255 (v9): skipped")        \
	X(tmpl_malformed, "template record truncated or inconsistent")             \
	X(tmpl_bad_id, "template id below 256")                                    \
	X(tmpl_too_many_fields, "template with more fields than the limit")        \
	X(tmpl_limit, "template table full: template not stored")                  \
	X(tmpl_withdraw_udp, "template withdrawal over UDP: ignored")              \
	X(tmpl_expired, "data set for a template past its UDP lifetime")           \
	X(no_template, "data set whose template never arrived (sets)")             \
	X(park_overflow, "parked data set evicted: park buffer full (sets)")       \
	X(rec_truncated, "data record cut short by the end of its set")            \
	X(varlen_overrun, "variable-length field extends past its set")            \
	X(str_truncated, "string longer than FLOW_STR_CAP: truncated")             \
	X(domain_limit, "exporter domain table full: message dropped")             \
	X(sampler_limit, "sampler table full: option record not stored")           \
	X(tcp_desync, "garbage in an IPFIX/TCP stream: bytes skipped to resync")

enum flow_drop {
#define FLOW_DROP_ENUM(n, d) FLOW_DROP_##n,
	FLOW_DROP_LIST(FLOW_DROP_ENUM)
#undef FLOW_DROP_ENUM
	FLOW_DROP_MAX
};

/* Counter name ("short_header") and one-line description of a reason. */
const char *flow_drop_name(enum flow_drop d);
const char *flow_drop_desc(enum flow_drop d);

/* Where an export came from: its transport source and the local port it was
 * sent to. Addresses in util/addr.h form. */
struct flow_src {
	uint8_t addr[16];
	uint16_t port;        /* exporter's source port */
	uint16_t listen_port; /* our port the export arrived at */
};

/* What the sink receives. recs[i].str_off index into arena. */
struct flow_batch {
	struct flow_rec *recs;
	uint32_t n;
	const char *arena;
	uint32_t arena_len;
};

typedef void (*flow_sink_fn)(void *ctx, const struct flow_batch *b);

struct flow_dec_cfg {
	flow_sink_fn sink;
	void *sink_ctx;
	uint32_t batch_size;       /* records per sink call; default 256 */
	uint32_t tmpl_lifetime_s;  /* UDP template lifetime; default 1800 */
	uint32_t max_domains;      /* (exporter, ODID, version) tuples; default 4096 */
	uint32_t max_templates;    /* all domains together; default 16384 */
	uint32_t max_tmpl_fields;  /* default 128 */
	uint32_t max_samplers;     /* per domain; default 64 */
	uint32_t park_bytes;       /* data parked awaiting its template; default 1 MiB */
	uint32_t park_max_age_s;   /* parked data older than this is dropped; default 60 */
};

/* Fill cfg with the defaults above (sink left NULL). */
void flow_dec_cfg_default(struct flow_dec_cfg *cfg);

struct flow_dec;

/* Create a decoder. Returns NULL with errno set (EINVAL: no sink or a zero
 * limit; ENOMEM). The caller frees it with flow_dec_free(). */
struct flow_dec *flow_dec_new(const struct flow_dec_cfg *cfg);
void flow_dec_free(struct flow_dec *dec); /* accepts NULL */

/* Decode one UDP datagram (v5, v9 or IPFIX, told apart by the version field).
 * now_ms: receive time, used for template lifetime and parked-data age.
 * Returns the number of flow records delivered to the sink for this datagram
 * (records of parked sets decoded because this datagram brought their
 * template included). */
uint32_t flow_dec_udp(struct flow_dec *dec, const struct flow_src *src,
		      const uint8_t *data, size_t len, uint64_t now_ms);

/* Force delivery of a partly filled batch (normally done at the end of each
 * call) and drop parked data older than park_max_age_s relative to now_ms. */
void flow_dec_tick(struct flow_dec *dec, uint64_t now_ms);

/* Per-exporter sampling override: every record from this exporter address
 * gets this interval, whatever the exports say. interval 0 removes it.
 * 0, -ENOSPC (more than 256 overrides) or -EINVAL. */
int flow_dec_set_sampling_override(struct flow_dec *dec, const uint8_t addr[16],
				   uint32_t interval);

/* IPFIX over TCP (RFC 7011 §10.4): one flow_tcp per connection, sharing the
 * decoder's sink and counters. Templates are scoped to the connection and
 * withdrawals are honoured. */
struct flow_tcp;

struct flow_tcp *flow_tcp_new(struct flow_dec *dec, const struct flow_src *src);
void flow_tcp_free(struct flow_tcp *t); /* accepts NULL */

/* Lower-level framing, for a collector that needs message boundaries (the
 * store numbers messages for acknowledgements, docs/ack-protocol.md):
 * flow_tcp_push() appends bytes (0, or -ENOBUFS if more than 64 KiB are
 * already buffered: take messages first); flow_tcp_next() returns 1 with the
 * next complete message (valid until the next push/next call), 0 when more
 * bytes are needed, -EPROTO when the stream is beyond repair;
 * flow_tcp_decode() decodes one message and returns the records delivered. */
int flow_tcp_push(struct flow_tcp *t, const uint8_t *data, size_t len);
int flow_tcp_next(struct flow_tcp *t, const uint8_t **msg, size_t *len);
uint32_t flow_tcp_decode(struct flow_tcp *t, const uint8_t *msg, size_t len, uint64_t now_ms);

/* Session control record of the proxy→slave link (docs/ack-protocol.md):
 * an IPFIX options record carrying our enterprise IEs. The decoder hands it
 * to ctl_fn (set per connection) instead of counting it as a flow. */
struct flow_ctl {
	uint64_t session_id; /* the sending proxy's stream identity */
	uint64_t first_msg;  /* number of the first message after this one */
	uint32_t flags;      /* FLOW_CTL_ACK: send acknowledgements */
};
#define FLOW_CTL_ACK 0x1
#define FLOW_IE_SESSION_ID 10 /* our PEN: unsigned64 */
#define FLOW_IE_FIRST_MSG 11  /* our PEN: unsigned64 */
#define FLOW_IE_CTL_FLAGS 12  /* our PEN: unsigned32 */
#define FLOW_IE_SNI 1         /* our PEN: string, TLS SNI / DNS name */
#define FLOW_IE_VERSION 13    /* our PEN: unsigned8, export version of origin */
#define FLOW_IE_FLAGS 14      /* our PEN: unsigned8, FLOW_F_* of the record */

void flow_tcp_set_ctl(struct flow_tcp *t, void (*ctl_fn)(void *user, const struct flow_ctl *c),
		      void *user);

/* Feed the next bytes of the stream (any split). Complete messages are
 * decoded at once; a partial message is kept (at most 65535 bytes).
 * Returns records delivered, or -EPROTO when the stream is beyond repair
 * (no valid message header found in 64 KiB of garbage): the caller should
 * close the connection. */
long flow_tcp_feed(struct flow_tcp *t, const uint8_t *data, size_t len, uint64_t now_ms);

/* Counters of one exporter domain: (exporter address, ODID, version). */
struct flow_domain_stats {
	uint8_t exporter[16];
	uint32_t odid;
	uint8_t version;
	uint64_t packets;       /* export packets/messages */
	uint64_t records;       /* flow records delivered */
	uint64_t opt_records;   /* options data records consumed */
	uint64_t templates;     /* template (re)definitions received */
	uint32_t templates_live;
	uint64_t seq_lost;      /* gap-based; see README "Sequence tracking" */
	uint64_t seq_dup;
	uint64_t seq_ooo;
	uint64_t drops[FLOW_DROP_MAX];
};

struct flow_dec_stats {
	uint64_t packets;
	uint64_t records;
	uint64_t opt_records;
	uint64_t bytes;
	uint64_t parked_sets;   /* parked since start */
	uint64_t unparked_sets; /* parked sets decoded later */
	uint32_t domains;
	uint32_t templates_live;
	uint64_t drops[FLOW_DROP_MAX];
};

void flow_dec_stats(const struct flow_dec *dec, struct flow_dec_stats *out);

/* Call fn for each exporter domain, in creation order. */
void flow_dec_foreach_domain(const struct flow_dec *dec,
			     void (*fn)(void *ctx, const struct flow_domain_stats *s),
			     void *ctx);

/* ICMP and ICMPv6 protocol numbers, for the port convention above. */
#define FLOW_PROTO_ICMP 1
#define FLOW_PROTO_ICMP6 58

#endif
