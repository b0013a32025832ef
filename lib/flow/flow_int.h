/* flow_int.h — lib/flow internals shared by its .c files; not installed.
 *
 * Layout of the decoder state:
 *   domains   (exporter address, ODID, version) → sequence state, samplers,
 *             counters. Never deleted; bounded by cfg.max_domains.
 *   templates (domain, session, template id) → compiled template. Session is
 *             0 for UDP and a per-connection number for TCP, so each TCP
 *             connection has its own template scope. Bounded by
 *             cfg.max_templates; chained hash over a fixed entry pool.
 *   programs  compiled templates, shared by every (domain, id) whose field
 *             list is byte-identical; reference counted.
 *   park      data sets whose template has not arrived yet, FIFO, bounded
 *             in bytes and age.
 */
#ifndef FLOW_FLOW_INT_H
#define FLOW_FLOW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* ---- compiled templates ------------------------------------------------ */

enum op_kind {
	OP_SKIP = 0,
	OP_U8,  /* BE int of 1..8 bytes → u8 at dst */
	OP_U16,
	OP_U32,
	OP_U64,
	OP_A4,       /* 4-byte address → v4-mapped 16 bytes at dst */
	OP_A6,       /* 16-byte address */
	OP_T_SEC,    /* time IEs: dst is first_ms or last_ms */
	OP_T_MS,
	OP_T_NTP,    /* 154..157: NTP timestamp (seconds since 1900 + fraction) */
	OP_T_DELTA,  /* 158/159: µs before the export time */
	OP_T_UPTIME, /* 21/22: ms of system uptime; scratch, resolved at finish */
	OP_SYSINIT,  /* 160 in a data record */
	OP_ICMP_TC,  /* 32/139 type*256+code */
	OP_ICMP_T,
	OP_ICMP_C,
	OP_SAMPLER,  /* 48/302: sampler id, looked up at finish */
	OP_SINT,     /* 34/50 in a data record: the interval itself */
	OP_SPKT_INT, /* 305 */
	OP_SPKT_SPC, /* 306 */
	OP_STR,      /* dst = enum flow_str */
	OP_OPT,      /* options record field: dst = enum opt_field */
};

/* Fields an options record can carry that the decoder uses. */
enum opt_field {
	OPT_SAMPLER_ID = 0, /* 48 or 302 */
	OPT_INTERVAL,       /* 34 */
	OPT_RANDOM_INTERVAL,/* 50 */
	OPT_PKT_INTERVAL,   /* 305 */
	OPT_PKT_SPACE,      /* 306 */
	OPT_SYSINIT,        /* 160 */
	OPT_SESSION_ID,     /* our PEN 10 */
	OPT_FIRST_MSG,      /* our PEN 11 */
	OPT_CTL_FLAGS,      /* our PEN 12 */
	OPT_MAX
};

#define OP_LEN_VAR 0xffff
#define TMPL_MAX_VAR 16

struct tmpl_op {
	uint16_t src_off; /* offset in a fixed-length record */
	uint16_t len;     /* field length, OP_LEN_VAR for variable */
	uint16_t dst;     /* offset in struct flow_rec, or an index (see kind) */
	uint8_t kind;
	uint8_t pad;
};

/* finish flags: per-record work after the copy program, chosen at compile */
#define FIN_UPTIME 0x01
#define FIN_SAMPLER 0x02
#define FIN_SYSINIT 0x04
#define FIN_ICMP_TC 0x08
#define FIN_DUAL 0x10 /* IPv4 and IPv6 fields for one address: pick per record */

struct tmpl {
	struct tmpl *hnext; /* program table chain */
	uint64_t hash;
	uint32_t refcnt;
	uint16_t nops;
	uint16_t nprefix;    /* ops before the first variable-length field */
	uint16_t nvar;       /* variable-length fields; > TMPL_MAX_VAR: walk ops */
	uint16_t vfix[17];   /* fixed bytes before var field i; [nvar]: after the last */
	uint16_t prefix_len; /* bytes of those fields */
	uint16_t rec_len;  /* fixed: record length; varlen: minimum length */
	uint8_t varlen;    /* any variable-length field */
	uint8_t options;   /* options template */
	uint8_t fin;       /* FIN_* */
	uint8_t rec_flags; /* FLOW_F_* every record of it gets */
	uint8_t up4;       /* every uptime field is 4 bytes (columnar fast path) */
	uint8_t sint_only; /* sampling comes only from 4-byte IE 34/50 fields */
	uint8_t canon;     /* canonical template variant + 1 (encode.h), 0 = not */
	uint16_t scope_count;
	uint16_t nraw;       /* bytes of raw */
	uint8_t *raw;        /* field specifiers as received: identity */
	struct tmpl_op ops[];
};

/* ---- domains ------------------------------------------------------------ */

struct sampler {
	uint64_t id;
	uint32_t interval;
};

struct domain {
	struct domain *hnext;
	uint32_t id; /* index in dec->domains */
	uint8_t addr[16];
	uint32_t odid;
	uint8_t version;
	bool seq_init;
	bool seq_resync; /* previous message had records we could not count */
	uint32_t seq_next;
	uint32_t seq_last;
	uint32_t default_interval; /* 0 = none known */
	uint32_t nsamplers;
	struct sampler *samplers; /* cfg.max_samplers, allocated on first use */
	uint64_t sysinit_ms;      /* from options IE 160; 0 = unknown */
	struct flow_domain_stats st;
};

/* ---- template table ----------------------------------------------------- */

struct tentry {
	uint32_t next; /* chain / free list, UINT32_MAX = end */
	uint32_t dom;
	uint32_t sess;
	uint16_t tid;
	uint8_t used;
	uint64_t last_ms; /* last (re)definition */
	struct tmpl *t;
};

/* ---- parked data sets --------------------------------------------------- */

struct parked {
	struct parked *next;
	uint64_t arrival_ms;
	uint64_t export_ms;
	uint32_t uptime_ms;
	uint32_t dom;
	uint32_t sess;
	struct flow_tcp *tcp;
	struct flow_src src;
	uint16_t tid;
	uint8_t version;
	uint8_t has_uptime;
	uint32_t len;
	uint8_t data[];
};

/* ---- message context ---------------------------------------------------- */

struct msg_ctx {
	struct domain *dom;
	const struct flow_src *src;
	struct flow_tcp *tcp; /* NULL for UDP */
	uint32_t sess;
	uint64_t export_ms;
	uint64_t now_ms;
	uint32_t uptime_ms; /* v9 header sysUpTime */
	uint8_t version;
	uint8_t has_uptime;
	uint32_t data_records; /* flow + options records decoded (IPFIX seq) */
	bool uncounted;        /* a data set was parked/dropped: can't count */
};

struct override {
	uint8_t addr[16];
	uint32_t interval;
};

#define FLOW_MAX_OVERRIDES 256

struct flow_dec {
	struct flow_dec_cfg cfg;
	/* output batch */
	struct flow_rec *recs;
	uint32_t nrec;
	char *arena;
	uint32_t arena_len;
	uint32_t arena_cap;
	/* domains */
	struct domain **domains; /* creation order */
	uint32_t ndomains;
	struct domain **dom_buckets;
	uint32_t dom_mask;
	/* templates */
	struct tentry *tents;
	uint32_t *tbuckets;
	uint32_t tmask;
	uint32_t tfree;
	uint32_t tlive;
	void *scratch; /* template.c: per-record scratch, batch_size entries */
	const uint8_t **starts; /* template.c: record starts, batch_size entries */
	/* compiled programs */
	struct tmpl **prog_buckets;
	uint32_t prog_mask;
	/* park */
	struct parked *park_head, *park_tail;
	uint64_t park_bytes;
	/* sessions */
	uint32_t next_sess;
	/* overrides */
	struct override overrides[FLOW_MAX_OVERRIDES];
	uint32_t noverrides;
	struct flow_dec_stats st;
};

/* decoder.c */
struct domain *dec_domain(struct flow_dec *dec, const uint8_t addr[16], uint32_t odid,
			  uint8_t version);
void dec_drop(struct flow_dec *dec, struct domain *dom, enum flow_drop why);
void dec_drop_n(struct flow_dec *dec, struct domain *dom, enum flow_drop why, uint64_t n);
void dec_flush(struct flow_dec *dec);
void dec_seq(struct domain *dom, uint32_t seq, uint32_t incr);
uint32_t dec_override(const struct flow_dec *dec, const uint8_t addr[16]);
void dec_sampler_set(struct flow_dec *dec, struct domain *dom, bool has_id, uint64_t id,
		     uint32_t interval);
uint32_t dec_sampler_get(const struct domain *dom, uint64_t id);
void dec_park(struct flow_dec *dec, const struct msg_ctx *m, uint16_t tid,
	      const uint8_t *data, uint32_t len);
void dec_unpark(struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid);
void dec_park_drop_session(struct flow_dec *dec, uint32_t sess);

/* template.c */
int tmpl_table_init(struct flow_dec *dec);
void tmpl_table_free(struct flow_dec *dec);
/* Define (or redefine) a template from its field specifiers (IPFIX format:
 * 2-byte id with enterprise bit, 2-byte length, optional 4-byte PEN; v9 specs
 * are converted by the caller). 0 or -errno (counted by caller). */
int tmpl_define(struct flow_dec *dec, struct domain *dom, uint32_t sess, uint16_t tid,
		const uint8_t *spec, uint32_t spec_len, uint16_t nfields, uint16_t scope_count,
		bool options, uint64_t now_ms);
/* all: 0 = template tid only, 1 = every data template, 2 = every options
 * template of (dom, sess). */
void tmpl_withdraw(struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid, int all);
void tmpl_drop_session(struct flow_dec *dec, uint32_t sess);
struct tentry *tmpl_lookup(struct flow_dec *dec, uint32_t dom, uint32_t sess, uint16_t tid);
/* Decode the records of one data set with template entry te. */
void tmpl_decode_set(struct flow_dec *dec, struct msg_ctx *m, const struct tmpl *t,
		     const uint8_t *p, uint32_t len);

/* v9ipfix.c */
void v9ipfix_msg(struct flow_dec *dec, struct msg_ctx *m, const uint8_t *p, size_t len,
		 size_t hdr_len);
void v9ipfix_data_set(struct flow_dec *dec, struct msg_ctx *m, uint16_t tid,
		      const uint8_t *p, uint32_t len);
uint32_t ipfix_decode_msg(struct flow_dec *dec, const struct flow_src *src, struct flow_tcp *tcp,
			  uint32_t sess, const uint8_t *data, size_t len, uint64_t now_ms);
uint32_t v9_decode(struct flow_dec *dec, const struct flow_src *src, const uint8_t *data,
		   size_t len, uint64_t now_ms);

/* v5.c */
uint32_t v5_decode(struct flow_dec *dec, const struct flow_src *src, const uint8_t *data,
		   size_t len, uint64_t now_ms);

/* tcp.c */
void tcp_ctl(struct flow_tcp *t, const struct flow_ctl *c);

#endif
