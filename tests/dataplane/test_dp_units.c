/* test_dp_units.c — unit tests of the dataplane's leaf pieces that need no
 * EAL: the spool (order, bounds, torn-tail recovery after a crash) and the
 * routing tables (symmetric flow key, rendezvous buckets moving only the
 * share of a slave that is added or removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp.h"
#include "util/addr.h"

static int failures;

#define CHECK(cond)                                                                \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,     \
				__LINE__, #cond);                                  \
			failures++;                                                \
		}                                                                  \
	} while (0)

static void test_spool(const char *dir)
{
	uint8_t msg[3000], buf[FLOW_ENC_MAX_MSG];
	uint32_t len, nrec;

	struct dp_spool *s = dp_spool_open(dir, 64 * 1024, 16 * 1024);
	CHECK(s != NULL);
	if (!s)
		return;
	int put = 0;
	for (int i = 0; i < 100; i++) {
		memset(msg, i, sizeof(msg));
		int r = dp_spool_put(s, msg, 1000 + (uint32_t)i, (uint32_t)i + 1);
		if (r == -ENOSPC)
			break;
		CHECK(r == 0);
		put++;
	}
	CHECK(put > 10 && put < 100); /* bounded by max_bytes */
	CHECK(dp_spool_bytes(s) <= 64 * 1024);
	/* read half, then "crash" (close) and reopen: the rest comes back */
	for (int i = 0; i < put / 2; i++) {
		CHECK(dp_spool_peek(s, buf, sizeof(buf), &len, &nrec) == 1);
		CHECK(len == 1000u + (uint32_t)i && nrec == (uint32_t)i + 1 && buf[0] == (uint8_t)i);
		dp_spool_pop(s);
	}
	dp_spool_close(s);

	/* a torn append at the end of the newest file */
	char newest[512] = "";
	for (int q = 1; q < 100; q++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%016x.fdsp", dir, q);
		if (access(p, F_OK) == 0)
			snprintf(newest, sizeof(newest), "%s", p);
	}
	CHECK(newest[0] != 0);
	int fd = open(newest, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, "FDSM\x10\x00\x00\x00", 8) == 8); /* header cut short */
		close(fd);
	}

	s = dp_spool_open(dir, 64 * 1024, 16 * 1024);
	CHECK(s != NULL);
	if (!s)
		return;
	int left = 0;
	uint64_t recs = 0;
	for (int i = put / 2; i < put; i++)
		recs += (uint64_t)i + 1;
	CHECK(dp_spool_records(s) == recs);
	for (int i = put / 2; dp_spool_peek(s, buf, sizeof(buf), &len, &nrec) == 1; i++) {
		CHECK(len == 1000u + (uint32_t)i && buf[0] == (uint8_t)i);
		dp_spool_pop(s);
		left++;
	}
	CHECK(left == put - put / 2);
	CHECK(dp_spool_records(s) == 0);
	/* empty again: space is back */
	CHECK(dp_spool_put(s, msg, 1000, 1) == 0);
	dp_spool_close(s);
}

static void rand_rec(struct flow_rec *r, unsigned i)
{
	uint8_t a[4] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
	uint8_t b[4] = { 172, 16, (uint8_t)(i * 7 >> 8), (uint8_t)(i * 13) };
	memset(r, 0, sizeof(*r));
	addr_set_v4(r->src_addr, a);
	addr_set_v4(r->dst_addr, b);
	r->src_port = (uint16_t)(1024 + i % 60000);
	r->dst_port = (uint16_t)(i % 3 ? 443 : 53);
	r->proto = i % 3 ? 6 : 17;
}

static void test_route(void)
{
	const char *n3[] = { "a", "b", "c" }, *n4[] = { "a", "b", "c", "d" }, *n2[] = { "a", "c" };
	uint8_t s3[] = { 0, 1, 2 }, s4[] = { 0, 1, 2, 3 }, s2[] = { 0, 2 };
	struct dp_route *r3 = dp_route_build(DP_MODEL_FLOW_HASH, s3, n3, 3, NULL, 0);
	struct dp_route *r4 = dp_route_build(DP_MODEL_FLOW_HASH, s4, n4, 4, NULL, 0);
	struct dp_route *r2 = dp_route_build(DP_MODEL_FLOW_HASH, s2, n2, 2, NULL, 0);
	CHECK(r3 && r4 && r2);
	if (!r3 || !r4 || !r2)
		return;

	/* symmetric key */
	for (unsigned i = 0; i < 10000; i++) {
		struct flow_rec f, b;
		rand_rec(&f, i);
		b = f;
		memcpy(b.src_addr, f.dst_addr, 16);
		memcpy(b.dst_addr, f.src_addr, 16);
		b.src_port = f.dst_port;
		b.dst_port = f.src_port;
		CHECK(dp_flow_key(&f) == dp_flow_key(&b));
	}

	/* add d: buckets move only to d; remove b: only b's buckets move */
	unsigned cnt[4] = { 0 }, moved_add = 0, moved_rm = 0, bad = 0;
	for (unsigned k = 0; k < DP_BUCKETS; k++) {
		cnt[r3->bucket[k]]++;
		if (r4->bucket[k] != r3->bucket[k]) {
			moved_add++;
			bad += r4->bucket[k] != 3;
		}
		if (r2->bucket[k] != r3->bucket[k]) {
			moved_rm++;
			bad += r3->bucket[k] != 1;
		}
	}
	CHECK(bad == 0);
	CHECK(moved_rm == cnt[1]);
	/* shares within 15 % of even (4096 buckets, 3 slaves) */
	for (int i = 0; i < 3; i++)
		CHECK(cnt[i] > DP_BUCKETS / 3 * 85 / 100 && cnt[i] < DP_BUCKETS / 3 * 115 / 100);
	CHECK(moved_add > DP_BUCKETS / 4 * 80 / 100 && moved_add < DP_BUCKETS / 4 * 120 / 100);
	printf("route: shares %u/%u/%u, add moved %u, remove moved %u\n", cnt[0], cnt[1], cnt[2],
	       moved_add, moved_rm);
	free(r2);
	free(r3);
	free(r4);
}

int main(void)
{
	char dir[] = "/tmp/fddp-unit-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char sp[600];
	snprintf(sp, sizeof(sp), "%s/spool", dir);
	test_spool(sp);
	test_route();
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("PASS\n");
	return failures ? 1 : 0;
}
