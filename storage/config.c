/* config.c — libcyaml schema of /etc/flowdelta/store.yaml.
 *
 * libcyaml rejects unknown keys and mistyped values and reports them with a
 * backtrace of mapping fields; we turn that into one line naming the key's
 * path. Range checks that YAML types cannot express are done here after
 * loading, also naming the path. */
#include "config.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define DEF_PORT 34739 /* IPFIX 4739 + 30000: the proxy->slave convention */
#define DEF_METRICS_PORT 9470

static const cyaml_schema_field_t endpoint_fields[] = {
	CYAML_FIELD_STRING_PTR("address", CYAML_FLAG_OPTIONAL, struct stcfg_endpoint, address, 1, 255),
	CYAML_FIELD_UINT("port", CYAML_FLAG_OPTIONAL, struct stcfg_endpoint, port),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t retention_fields[] = {
	CYAML_FIELD_UINT("max_age_h", CYAML_FLAG_OPTIONAL, struct stcfg_retention, max_age_h),
	CYAML_FIELD_UINT("quota_mb", CYAML_FLAG_OPTIONAL, struct stcfg_retention, quota_mb),
	CYAML_FIELD_UINT("interval_s", CYAML_FLAG_OPTIONAL, struct stcfg_retention, interval_s),
	CYAML_FIELD_END
};

static const cyaml_strval_t comp_strings[] = {
	{ "lz4", STCFG_COMP_LZ4 },
	{ "zstd", STCFG_COMP_ZSTD },
	{ "none", STCFG_COMP_NONE },
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_STRING_PTR("data_dir", CYAML_FLAG_OPTIONAL, struct stcfg, data_dir, 1, 4000),
	CYAML_FIELD_MAPPING("listen", CYAML_FLAG_OPTIONAL, struct stcfg, listen, endpoint_fields),
	CYAML_FIELD_MAPPING("udp", CYAML_FLAG_OPTIONAL, struct stcfg, udp, endpoint_fields),
	CYAML_FIELD_MAPPING("metrics", CYAML_FLAG_OPTIONAL, struct stcfg, metrics, endpoint_fields),
	CYAML_FIELD_UINT("window_s", CYAML_FLAG_OPTIONAL, struct stcfg, window_s),
	CYAML_FIELD_ENUM("compression", CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT, struct stcfg,
			 compression, comp_strings, CYAML_ARRAY_LEN(comp_strings)),
	CYAML_FIELD_UINT("zstd_level", CYAML_FLAG_OPTIONAL, struct stcfg, zstd_level),
	CYAML_FIELD_UINT("fsync_interval_ms", CYAML_FLAG_OPTIONAL, struct stcfg, fsync_interval_ms),
	CYAML_FIELD_MAPPING("retention", CYAML_FLAG_OPTIONAL, struct stcfg, retention,
			    retention_fields),
	CYAML_FIELD_UINT("max_sessions", CYAML_FLAG_OPTIONAL, struct stcfg, max_sessions),
	CYAML_FIELD_UINT("max_marks", CYAML_FLAG_OPTIONAL, struct stcfg, max_marks),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct stcfg, top_fields),
};

/* libcyaml's messages: "Load: Unexpected key: foo" then a backtrace of
 * "in mapping field: retention" lines, innermost first. We collect them and
 * print "config FILE: retention.foo: unexpected key". */
struct logctx {
	char msg[320];
	char path[8][64];
	int depth;
	bool have;
};

static void log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct logctx *l = ctx;
	char line[320];
	if (level < CYAML_LOG_ERROR)
		return;
	vsnprintf(line, sizeof(line), fmt, args);
	line[strcspn(line, "\n")] = '\0';
	const char *p = line;
	if (!strncmp(p, "Load: ", 6))
		p += 6;
	const char *f = strstr(p, "in mapping field '");
	if (!f)
		f = strstr(p, "in mapping field: ");
	if (f) {
		f += 18;
		size_t n = strcspn(f, "' ");
		if (l->depth < 8) {
			snprintf(l->path[l->depth], sizeof(l->path[0]), "%.*s", (int)n, f);
			l->depth++;
		}
		return;
	}
	if (!strncmp(p, "Backtrace", 9))
		return;
	if (!l->have) {
		snprintf(l->msg, sizeof(l->msg), "%s", p);
		l->have = true;
	}
}

static void apply_defaults(struct stcfg *c)
{
	if (!c->listen.port)
		c->listen.port = DEF_PORT;
	if (!c->metrics.port)
		c->metrics.port = DEF_METRICS_PORT;
	if (!c->window_s)
		c->window_s = 300;
	if (!c->compression)
		c->compression = STCFG_COMP_LZ4;
	if (!c->zstd_level)
		c->zstd_level = 3;
	if (!c->fsync_interval_ms)
		c->fsync_interval_ms = 100;
	if (!c->retention.interval_s)
		c->retention.interval_s = 60;
	if (!c->max_sessions)
		c->max_sessions = 1024;
	if (!c->max_marks)
		c->max_marks = 4096;
}

int stcfg_set_str(char **member, const char *value)
{
	char *s = strdup(value);
	if (!s)
		return -ENOMEM;
	free(*member);
	*member = s;
	return 0;
}

int stcfg_defaults(struct stcfg *out)
{
	memset(out, 0, sizeof(*out));
	apply_defaults(out);
	if (stcfg_set_str(&out->data_dir, "/var/lib/flowdelta/store") ||
	    stcfg_set_str(&out->listen.address, "::") ||
	    stcfg_set_str(&out->udp.address, "::") ||
	    stcfg_set_str(&out->metrics.address, "127.0.0.1")) {
		stcfg_free(out);
		return -ENOMEM;
	}
	return 0;
}

/* data NULL: read the file path; else parse data[len], path names it. */
static int load(const char *path, const uint8_t *data, size_t len, struct stcfg *out, FILE *err)
{
	struct logctx l = { 0 };
	cyaml_config_t cc = {
		.log_fn = log_fn,
		.log_ctx = &l,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_DEFAULT,
	};
	struct stcfg *c = NULL;
	cyaml_err_t e = data ? cyaml_load_data(data, len, &cc, &top_schema, (cyaml_data_t **)&c, NULL)
			     : cyaml_load_file(path, &cc, &top_schema, (cyaml_data_t **)&c, NULL);
	if (e != CYAML_OK) {
		char kp[600] = "";
		size_t o = 0;
		for (int i = l.depth - 1; i >= 0; i--)
			o += (size_t)snprintf(kp + o, sizeof(kp) - o, "%s%s", o ? "." : "", l.path[i]);
		const char *msg = l.have ? l.msg : cyaml_strerror(e);
		if (!strncmp(msg, "Unexpected key: ", 16)) {
			/* the key belongs in the path */
			snprintf(kp + o, sizeof(kp) - o, "%s%s", o ? "." : "", msg + 16);
			fprintf(err, "config %s: %s: unknown key\n", path, kp);
		} else {
			fprintf(err, "config %s: %s%s%s\n", path, kp, o ? ": " : "", msg);
		}
		return e == CYAML_ERR_FILE_OPEN ? -ENOENT : -EINVAL;
	}
	/* An empty document loads as NULL: every key at its default. (Found
	 * by fuzz_store_config; the daemon dereferenced it.) */
	if (!c && !(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	struct stcfg d;
	if (stcfg_defaults(&d)) {
		cyaml_free(&cc, &top_schema, c, 0);
		return -ENOMEM;
	}
	/* copy loaded values over the defaults; strings are re-owned by malloc
	 * so that stcfg_free() and overrides need not know about cyaml */
	int rc = 0;
#define STR(m)                                        \
	if (c->m && !rc)                              \
		rc = stcfg_set_str(&d.m, c->m);
	STR(data_dir) STR(listen.address) STR(udp.address) STR(metrics.address)
#undef STR
#define NUM(m)           \
	if (c->m)        \
		d.m = c->m;
	NUM(listen.port) NUM(udp.port) NUM(metrics.port) NUM(window_s) NUM(compression)
	NUM(zstd_level) NUM(fsync_interval_ms) NUM(retention.max_age_h) NUM(retention.quota_mb)
	NUM(retention.interval_s) NUM(max_sessions) NUM(max_marks)
#undef NUM
	cyaml_free(&cc, &top_schema, c, 0);
	if (rc) {
		stcfg_free(&d);
		return rc;
	}
	rc = stcfg_validate(&d, err);
	if (rc) {
		fprintf(err, "config %s: invalid\n", path);
		stcfg_free(&d);
		return rc;
	}
	*out = d;
	return 0;
}

int stcfg_load(const char *path, struct stcfg *out, FILE *err)
{
	return load(path, NULL, 0, out, err);
}

int stcfg_load_buf(const char *name, const uint8_t *data, size_t len, struct stcfg *out,
		   FILE *err)
{
	return load(name, data ? data : (const uint8_t *)"", len, out, err);
}

static int bad(FILE *err, const char *key, const char *fmt, ...)
{
	va_list ap;
	fprintf(err, "config: %s: ", key);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return -EINVAL;
}

int stcfg_validate(const struct stcfg *c, FILE *err)
{
	int rc = 0;
	if (!c->data_dir || !*c->data_dir)
		rc = bad(err, "data_dir", "must be set");
	if (!c->listen.port || c->listen.port > 65535)
		rc = bad(err, "listen.port", "%u is not a port (1..65535)", c->listen.port);
	if (c->udp.port > 65535)
		rc = bad(err, "udp.port", "%u is not a port (0 = off, 1..65535)", c->udp.port);
	if (c->metrics.port > 65535)
		rc = bad(err, "metrics.port", "%u is not a port (1..65535)", c->metrics.port);
	if (c->window_s < 10 || 86400 % c->window_s)
		rc = bad(err, "window_s", "%u must be >= 10 and divide 86400 (e.g. 60, 300, 900, 3600)",
			 c->window_s);
	if (c->zstd_level < 1 || c->zstd_level > 19)
		rc = bad(err, "zstd_level", "%u is outside 1..19", c->zstd_level);
	if (c->fsync_interval_ms < 1 || c->fsync_interval_ms > 60000)
		rc = bad(err, "fsync_interval_ms", "%u is outside 1..60000", c->fsync_interval_ms);
	/* at most a few windows may be open between two commits (the writer
	 * keeps four) */
	if (c->fsync_interval_ms > c->window_s * 500u)
		rc = bad(err, "fsync_interval_ms", "%u exceeds half the window (window_s %u)",
			 c->fsync_interval_ms, c->window_s);
	if (c->retention.interval_s < 1 || c->retention.interval_s > 86400)
		rc = bad(err, "retention.interval_s", "%u is outside 1..86400", c->retention.interval_s);
	if (c->max_sessions < 1 || c->max_sessions > 65536)
		rc = bad(err, "max_sessions", "%u is outside 1..65536", c->max_sessions);
	if (c->max_marks < 1 || c->max_marks > 1000000)
		rc = bad(err, "max_marks", "%u is outside 1..1000000", c->max_marks);
	return rc;
}

void stcfg_free(struct stcfg *c)
{
	free(c->data_dir);
	free(c->listen.address);
	free(c->udp.address);
	free(c->metrics.address);
	memset(c, 0, sizeof(*c));
}
