/* config.h — flowdelta-store's configuration: YAML file (libcyaml schema),
 * defaults, command-line overrides, validation. See docs/store.md. */
#ifndef STORAGE_CONFIG_H
#define STORAGE_CONFIG_H

#include <stdint.h>
#include <stdio.h>

struct stcfg_endpoint {
	char *address;
	uint32_t port; /* 0: off (udp, metrics) */
};

struct stcfg_retention {
	uint32_t max_age_h;  /* 0: no age limit */
	uint64_t quota_mb;   /* 0: no quota */
	uint32_t interval_s; /* how often retention runs */
};

enum stcfg_comp { STCFG_COMP_UNSET = 0, STCFG_COMP_LZ4, STCFG_COMP_ZSTD, STCFG_COMP_NONE };

struct stcfg {
	char *data_dir;
	struct stcfg_endpoint listen;  /* IPFIX over TCP */
	struct stcfg_endpoint udp;     /* optional NetFlow/IPFIX over UDP */
	struct stcfg_endpoint metrics; /* Prometheus text, local */
	uint32_t window_s;
	int compression;               /* enum stcfg_comp */
	uint32_t zstd_level;
	uint32_t fsync_interval_ms;
	struct stcfg_retention retention;
	uint32_t max_sessions;
	uint32_t max_marks;
};

/* Load path into *out (defaults applied for absent keys) and validate.
 * Errors are printed to err naming the key's path ("retention.quota_mb").
 * 0 or -EINVAL/-ENOENT/-ENOMEM. Free with stcfg_free(). */
int stcfg_load(const char *path, struct stcfg *out, FILE *err);
/* The same from data[len] (fuzzing, tests); name stands for the path in
 * errors. */
int stcfg_load_buf(const char *name, const uint8_t *data, size_t len, struct stcfg *out,
		   FILE *err);
/* Defaults only (no file). */
int stcfg_defaults(struct stcfg *out);
/* Validate after overrides; prints to err. 0 or -EINVAL. */
int stcfg_validate(const struct stcfg *c, FILE *err);
/* Replace a string member (overrides). 0 or -ENOMEM. */
int stcfg_set_str(char **member, const char *value);
void stcfg_free(struct stcfg *c);

#endif
