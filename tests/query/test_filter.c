/* test_filter.c — the filter parser: what it accepts (checked through the
 * canonical text), what it rejects, and that errors name the position and
 * what was expected. Evaluation is covered by test_diff.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "query.h"

static const struct { const char *in, *canon; } good[] = {
	{ "", "any" },
	{ "any", "any" },
	{ "proto tcp and dst port 443", "(proto 6 and dst port = 443)" },
	{ "proto 17", "proto 17" },
	{ "src net 10.0.0.0/8 and bytes > 1000", "(src net 10.0.0.0/8 and bytes > 1000)" },
	{ "net 172.16/12", "net 172.16.0.0/12" },
	{ "net 10.0.0.0 255.0.0.0", "net 10.0.0.0/8" },
	{ "src net 2001:db8::/32", "src net 2001:db8::/32" },
	{ "host 192.0.2.1", "ip 192.0.2.1" },
	{ "dst ip 2001:db8::1", "dst ip 2001:db8::1" },
	{ "port > 1024", "port > 1024" },
	{ "port gt 1024 && port le 2000", "(port > 1024 and port <= 2000)" },
	{ "not port 53 || !proto udp", "(not port = 53 or not proto 17)" },
	{ "a or b", NULL },
	{ "packets > 10k and bytes >= 2M or duration < 1G",
	  "((packets > 10000 and bytes >= 2000000) or duration < 1000000000)" },
	{ "flags SA", "flags SA" },
	{ "flags X", "flags FSRPAU" },
	{ "tos 4", "tos = 4" },
	{ "src as 65000", "src as = 65000" },
	{ "in if 3 or out if 4 or if 5", "((in if = 3 or out if = 4) or if = 5)" },
	{ "exporter 192.0.2.1", "exporter 192.0.2.1" },
	{ "ipv6 or inet", "(ipv6 or ipv4)" },
	{ "app ~ \"^ht\"", "app ~ \"^ht\"" },
	{ "sni ~ \"a\\\"b\"", "sni ~ \"a\\\"b\"" },
	{ "(port 1 or port 2) and port 3", "((port = 1 or port = 2) and port = 3)" },
	{ "port 1 or port 2 and port 3", "(port = 1 or (port = 2 and port = 3))" },
};

static const struct { const char *in; int pos; const char *expect; } bad[] = {
	{ "proto", 5, "expected a protocol" },
	{ "proto tcp and", 13, "expected a filter term" },
	/* the whole list of terms and what came instead, not cut short */
	{ "bogus 1", 0, "app/http_host/url/sni ~ \"re\", not, '('), got 'bogus'" },
	{ "dst port abc", 9, "expected a port number" },
	{ "port 70000", 5, "expected a port number" },
	{ "src 10.0.0.1", 4, "expected ip, host, net" },
	{ "host 10.0.0.0/8", 5, "use 'net'" },
	{ "net 10.0.0.0/33", 4, "0..32" },
	{ "(port 1", 7, "expected ')'" },
	{ "port 1 port 2", 7, "expected 'and', 'or'" },
	{ "flags Z", 6, "TCP flags" },
	{ "app \"x\"", 4, "expected '~'" },
	{ "app ~ x", 6, "quoted regular expression" },
	{ "sni ~ \"(\"", 6, "rejected" },
	{ "bytes > 99999999999999999999", 8, "expected a number" },
	{ "port 1 & port 2", 7, "expected 'and', 'or'" },
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct q_err err;
		struct q_filter *f = q_filter_compile(good[i].in, &err);
		if (!good[i].canon) {
			assert_null(f);
			continue;
		}
		if (!f)
			fail_msg("'%s' rejected: %s", good[i].in, err.msg);
		if (strcmp(q_filter_text(f), good[i].canon))
			fail_msg("'%s' -> '%s', want '%s'", good[i].in, q_filter_text(f), good[i].canon);
		q_filter_free(f);
	}
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct q_err err;
		struct q_filter *f = q_filter_compile(bad[i].in, &err);
		if (f)
			fail_msg("'%s' accepted as '%s'", bad[i].in, q_filter_text(f));
		if (err.pos != bad[i].pos || !strstr(err.msg, bad[i].expect))
			fail_msg("'%s': pos %d '%s', want pos %d '%s'", bad[i].in, err.pos, err.msg,
				 bad[i].pos, bad[i].expect);
	}
}

/* nesting is capped, so hostile input cannot exhaust the stack */
static void test_deep(void **state)
{
	(void)state;
	char buf[4096];
	size_t k = 0;
	for (int i = 0; i < 1000; i++)
		buf[k++] = '(';
	buf[k] = 0;
	struct q_err err;
	assert_null(q_filter_compile(buf, &err));
	assert_non_null(strstr(err.msg, "nested too deeply"));
	k = 0;
	for (int i = 0; i < 1000; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "!");
	snprintf(buf + k, sizeof(buf) - k, "any");
	assert_null(q_filter_compile(buf, &err));
	/* long flat chains are fine up to the term cap */
	k = 0;
	for (int i = 0; i < 300; i++)
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%sport %d", i ? " or " : "", i);
	struct q_filter *f = q_filter_compile(buf, &err);
	assert_non_null(f);
	q_filter_free(f);
}

static void test_fields(void **state)
{
	(void)state;
	struct q_fspec fs[8];
	unsigned n;
	struct q_err err;
	assert_int_equal(q_fields_parse("srcip,dstport,srcnet/16,dstip/64", fs, 8, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(fs[2].f, Q_F_SRCNET);
	assert_int_equal(fs[2].plen, 16);
	assert_int_equal(fs[3].f, Q_F_DSTNET);
	assert_int_equal(fs[3].plen, 64);
	assert_int_equal(q_fields_parse("srcip,bogus", fs, 8, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bogus"));
	uint64_t ms;
	assert_int_equal(q_parse_time_ms("2026-01-01T00:00:01Z", &ms), 0);
	assert_int_equal(ms, 1767225601000ull);
	assert_int_equal(q_parse_time_ms("2026/01/01.00:00:01", &ms), 0);
	assert_int_equal(ms, 1767225601000ull);
	assert_int_equal(q_parse_duration_ms("5m", &ms), 0);
	assert_int_equal(ms, 300000);
}

/* Human units by hand must print what "%.1f %s" prints, ties included
 * (1250 -> "1.2 k": half to even on the exact binary value). */
static void test_human(void **state)
{
	(void)state;
	static const char *u[] = { "", "k", "M", "G", "T", "P", "E" };
	uint64_t x = 88172645463325252ull;
	for (unsigned k = 0; k < 220000; k++) {
		uint64_t v;
		if (k < 20000)
			v = k; /* every small value, all ties of the first unit */
		else if (k < 40000)
			v = (uint64_t)(k - 20000) * 50; /* ties: multiples of 50 */
		else if (k < 60000)
			v = (uint64_t)(k - 40000) * 50000; /* ties of the second unit */
		else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			v = x >> (x & 63);
		}
		char got[32], want[32];
		q_fmt_human(v, got, sizeof(got));
		if (v < 1000) {
			snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		} else {
			double d = (double)v;
			unsigned i = 0;
			while (d >= 1000.0 && i < 6) {
				d /= 1000.0;
				i++;
			}
			snprintf(want, sizeof(want), "%.1f %s", d, u[i]);
		}
		if (strcmp(got, want))
			fail_msg("%llu: got \"%s\", want \"%s\"", (unsigned long long)v, got, want);
		if (q_human_len(v) != strlen(want))
			fail_msg("%llu: length %zu, want %zu", (unsigned long long)v, q_human_len(v),
				 strlen(want));
	}
	char small[4];
	q_fmt_human(123456, small, sizeof(small)); /* truncated like snprintf */
	assert_string_equal(small, "123");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_human),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
