/* test_flow_steer.c — verdicts of flow_steer on crafted frames.
 *
 * Loads the program through the loader (unattached), sets ports and the
 * allow-list with the loader API, runs each frame once with
 * bpf_prog_test_run_opts() and asserts which named counter moved. The XSKMAP
 * is empty here, so a steered export comes back as XDP_PASS and is counted as
 * pass_no_xsk: the counters, not the return code, tell a flow export from a
 * pass-through (redirect_xsk itself is covered by the veth/DPDK test).
 *
 * Needs root and a kernel that lets it load BPF: otherwise exits 77 (skip)
 * saying why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "frames.h"
#include "xdp_steer.h"

static int failures;
static struct xdp_steer *xs;

#define CHECK(cond, ...)                                                           \
	do {                                                                       \
		if (!(cond)) {                                                     \
			failures++;                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
			fprintf(stderr, __VA_ARGS__);                              \
			fputc('\n', stderr);                                       \
		}                                                                  \
	} while (0)

static void snapshot(uint64_t out[FD_XDP_C_MAX])
{
	struct xdp_steer_counter c[FD_XDP_C_MAX];
	int i, err = xdp_steer_counters(xs, c);

	if (err) {
		fprintf(stderr, "FAIL: reading counters: %s\n", strerror(-err));
		exit(1);
	}
	for (i = 0; i < FD_XDP_C_MAX; i++)
		out[i] = c[i].packets;
}

/* Runs buf[len] (optionally preceded by meta bytes of XDP metadata, which
 * lets a frame shorter than the 14 bytes test_run insists on reach the
 * program) and checks that exactly rx and `want` moved by one. */
static int run_meta(const char *what, const uint8_t *buf, size_t len, unsigned meta,
		    enum fd_xdp_counter want, int want_action)
{
	uint8_t in[FR_MAX + 32];
	uint64_t before[FD_XDP_C_MAX], after[FD_XDP_C_MAX];
	struct xdp_md ctx = { .data = meta, .data_end = (uint32_t)(meta + len) };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)(meta + len),
		    .repeat = 1);
	int i, err;

	memset(in, 0, meta);
	memcpy(in + meta, buf, len);
	if (meta) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	snapshot(before);
	err = bpf_prog_test_run_opts(xdp_steer_prog_fd(xs), &o);
	if (err) {
		if (!meta)
			CHECK(0, "%s: test_run: %s", what, strerror(-err));
		return err;
	}
	snapshot(after);
	CHECK((int)o.retval == want_action, "%s: action %u, want %d", what, o.retval, want_action);
	for (i = 0; i < FD_XDP_C_MAX; i++) {
		uint64_t d = after[i] - before[i];
		uint64_t expect = (i == FD_XDP_C_RX || i == (int)want) ? 1 : 0;

		CHECK(d == expect, "%s: counter %s moved by %llu, want %llu (expected %s)", what,
		      xdp_steer_counter_name(i), (unsigned long long)d,
		      (unsigned long long)expect, xdp_steer_counter_name(want));
	}
	return 0;
}

static void run(const char *what, const struct frame_spec *s, size_t trunc,
		enum fd_xdp_counter want, int want_action)
{
	uint8_t buf[FR_MAX];
	size_t len = frame_build(s, buf);

	if (trunc)
		len = trunc;
	run_meta(what, buf, len, 0, want, want_action);
}

#define UDP4(port) { .ethertype = 0x0800, .l4 = 17, .dport = (port), .payload = 64 }
#define UDP6(port) { .ethertype = 0x86dd, .l4 = 17, .dport = (port), .payload = 64 }

static void test_basic(void)
{
	struct frame_spec s4 = UDP4(2055), s6 = UDP6(4739);
	struct frame_spec tcp4 = { .ethertype = 0x0800, .l4 = 6, .dport = 2055 };
	struct frame_spec icmp6 = { .ethertype = 0x86dd, .l4 = 58 };
	struct frame_spec arp = { .ethertype = 0x0806 };
	struct frame_spec dns = UDP4(53), dns6 = UDP6(53);
	struct frame_spec opt4 = UDP4(2055);

	opt4.ihl = 7;
	run("ipv4 export", &s4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("ipv6 export", &s6, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("ipv4 with options", &opt4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("tcp to flow port", &tcp4, 0, FD_XDP_C_PASS_NOT_UDP, XDP_PASS);
	run("icmpv6", &icmp6, 0, FD_XDP_C_PASS_NOT_UDP, XDP_PASS);
	run("arp", &arp, 0, FD_XDP_C_PASS_NOT_IP, XDP_PASS);
	run("udp/53 v4", &dns, 0, FD_XDP_C_PASS_OTHER_PORT, XDP_PASS);
	run("udp/53 v6", &dns6, 0, FD_XDP_C_PASS_OTHER_PORT, XDP_PASS);
}

static void test_vlan(void)
{
	struct frame_spec one = UDP4(2055), two = UDP6(2055), three = UDP4(2055);
	struct frame_spec qinq_other = UDP4(161);

	one.nvlan = 1;
	one.vlan_tpid[0] = 0x8100;
	two.nvlan = 2;
	two.vlan_tpid[0] = 0x88a8;
	two.vlan_tpid[1] = 0x8100;
	three.nvlan = 3;
	three.vlan_tpid[0] = 0x88a8;
	three.vlan_tpid[1] = 0x8100;
	three.vlan_tpid[2] = 0x8100;
	qinq_other.nvlan = 2;
	qinq_other.vlan_tpid[0] = 0x8100;
	qinq_other.vlan_tpid[1] = 0x8100;
	run("one 802.1Q tag, ipv4 export", &one, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("802.1ad+802.1Q, ipv6 export", &two, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("three tags", &three, 0, FD_XDP_C_PASS_VLAN_DEPTH, XDP_PASS);
	run("two tags, other port", &qinq_other, 0, FD_XDP_C_PASS_OTHER_PORT, XDP_PASS);
}

static void test_fragments(void)
{
	struct frame_spec first = UDP4(2055), later = UDP4(2055), first_other = UDP4(53);
	struct frame_spec f6first = UDP6(2055), f6later = UDP6(2055);
	struct frame_spec df = UDP4(2055);

	first.frag = 0x2000;         /* MF, offset 0 */
	later.frag = 185;            /* offset 1480 bytes, last fragment */
	first_other.frag = 0x2000;
	df.frag = 0x4000;            /* DF only: a whole datagram */
	f6first.n_ip6_ext = 1;
	f6first.ip6_ext[0] = 44;
	f6first.ip6_frag = 0x0001;   /* offset 0, M */
	f6later.n_ip6_ext = 1;
	f6later.ip6_ext[0] = 44;
	f6later.ip6_frag = 185 << 3; /* offset 1480, last */
	run("ipv4 first fragment, flow port", &first, 0, FD_XDP_C_PASS_FRAG_FLOW_PORT, XDP_PASS);
	run("ipv4 later fragment", &later, 0, FD_XDP_C_PASS_FRAG_UNCHECKED, XDP_PASS);
	run("ipv4 first fragment, other port", &first_other, 0, FD_XDP_C_PASS_OTHER_PORT,
	    XDP_PASS);
	run("ipv4 DF (not a fragment)", &df, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("ipv6 first fragment, flow port", &f6first, 0, FD_XDP_C_PASS_FRAG_FLOW_PORT,
	    XDP_PASS);
	run("ipv6 later fragment", &f6later, 0, FD_XDP_C_PASS_FRAG_UNCHECKED, XDP_PASS);
}

static void test_ip6_ext(void)
{
	struct frame_spec two = UDP6(2055), deep = UDP6(2055), rt = UDP6(2055);
	int i;

	two.n_ip6_ext = 2;
	two.ip6_ext[0] = 0;  /* hop-by-hop */
	two.ip6_ext[1] = 60; /* destination options */
	rt.n_ip6_ext = 1;
	rt.ip6_ext[0] = 43;
	deep.n_ip6_ext = 5;
	for (i = 0; i < 5; i++)
		deep.ip6_ext[i] = 60;
	run("ipv6 hbh+dstopts export", &two, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("ipv6 routing hdr export", &rt, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("ipv6 five ext headers", &deep, 0, FD_XDP_C_PASS_IP6_EXT_DEPTH, XDP_PASS);
}

static void test_truncated(void)
{
	struct frame_spec v4 = UDP4(2055), v6 = UDP6(2055), vl = UDP4(2055);
	struct frame_spec v4opt = UDP4(2055), v6ext = UDP6(2055), bad = UDP4(2055);
	uint8_t buf[FR_MAX];

	vl.nvlan = 2;
	vl.vlan_tpid[0] = 0x88a8;
	vl.vlan_tpid[1] = 0x8100;
	v4opt.ihl = 15;
	v6ext.n_ip6_ext = 1;
	v6ext.ip6_ext[0] = 0;
	bad.ihl = 4;

	/* A frame shorter than an Ethernet header: older kernels accept it
	 * behind XDP metadata; newer ones refuse any test frame under ETH_HLEN
	 * (and no driver hands XDP a runt), so pass_trunc_eth is defensive. */
	frame_build(&v4, buf);
	if (run_meta("10-byte frame", buf, 10, 4, FD_XDP_C_PASS_TRUNC_ETH, XDP_PASS) == -EINVAL)
		printf("note: kernel refuses test frames under 14 bytes; "
		       "pass_trunc_eth not exercised\n");
	run("first VLAN tag cut", &vl, 14 + 2, FD_XDP_C_PASS_TRUNC_VLAN, XDP_PASS);
	run("second VLAN tag cut", &vl, 14 + 4 + 3, FD_XDP_C_PASS_TRUNC_VLAN, XDP_PASS);
	run("ipv4 header cut", &v4, 14 + 19, FD_XDP_C_PASS_TRUNC_IP4, XDP_PASS);
	run("ipv4 options cut", &v4opt, 14 + 40, FD_XDP_C_PASS_TRUNC_IP4, XDP_PASS);
	run("ipv4 IHL 4", &bad, 0, FD_XDP_C_PASS_BAD_IP, XDP_PASS);
	run("udp header cut (v4)", &v4, 14 + 20 + 7, FD_XDP_C_PASS_TRUNC_UDP, XDP_PASS);
	run("udp header cut (v4, vlan)", &vl, 14 + 8 + 20 + 4, FD_XDP_C_PASS_TRUNC_UDP,
	    XDP_PASS);
	run("ipv6 header cut", &v6, 14 + 39, FD_XDP_C_PASS_TRUNC_IP6, XDP_PASS);
	run("ipv6 ext header cut", &v6ext, 14 + 40 + 1, FD_XDP_C_PASS_TRUNC_IP6, XDP_PASS);
	run("udp header cut (v6)", &v6, 14 + 40 + 7, FD_XDP_C_PASS_TRUNC_UDP, XDP_PASS);
}

static void test_allowlist(void)
{
	struct frame_spec ok4 = UDP4(2055), bad4 = UDP4(2055), ok6 = UDP6(4739), bad6 = UDP6(4739);
	struct frame_spec other = UDP4(53);
	struct xdp_steer_prefix p[3];
	int err;

	ok4.src = "192.0.2.77";
	bad4.src = "198.51.100.9";
	ok6.src = "2001:db8:1:2::5";
	bad6.src = "2001:db8:2::5";
	other.src = "198.51.100.9";
	CHECK(!xdp_steer_prefix_parse("192.0.2.0/24", &p[0]), "parse v4 prefix");
	CHECK(!xdp_steer_prefix_parse("2001:db8:1::/48", &p[1]), "parse v6 prefix");
	CHECK(!xdp_steer_prefix_parse("10.1.2.3", &p[2]) && p[2].len == 32, "parse host");
	CHECK(xdp_steer_prefix_parse("10.0.0.0/33", &p[2]) == -EINVAL, "reject /33");
	CHECK(xdp_steer_prefix_parse("nonsense", &p[2]) == -EINVAL, "reject text");
	CHECK(!xdp_steer_prefix_parse("10.1.2.3", &p[2]), "parse host");

	/* Listed but not enforced: everything is accepted. */
	err = xdp_steer_set_allowlist(xs, p, 3, false);
	CHECK(!err, "set allow-list: %s", strerror(-err));
	run("unknown v4, allow-list off", &bad4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);

	err = xdp_steer_set_allowlist(xs, p, 3, true);
	CHECK(!err, "enforce allow-list: %s", strerror(-err));
	run("allowed v4 exporter", &ok4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("unknown v4 exporter", &bad4, 0, FD_XDP_C_DROP_UNKNOWN_EXPORTER, XDP_DROP);
	run("allowed v6 exporter", &ok6, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("unknown v6 exporter", &bad6, 0, FD_XDP_C_DROP_UNKNOWN_EXPORTER, XDP_DROP);
	run("unknown source, other port", &other, 0, FD_XDP_C_PASS_OTHER_PORT, XDP_PASS);

	/* Replacing the list drops the prefixes left out of it. */
	err = xdp_steer_set_allowlist(xs, &p[1], 1, true);
	CHECK(!err, "shrink allow-list: %s", strerror(-err));
	run("v4 prefix removed", &ok4, 0, FD_XDP_C_DROP_UNKNOWN_EXPORTER, XDP_DROP);
	run("v6 prefix kept", &ok6, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);

	err = xdp_steer_set_allowlist(xs, NULL, 0, false);
	CHECK(!err, "clear allow-list: %s", strerror(-err));
	run("allow-list cleared", &bad6, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
}

static void test_ports(void)
{
	uint16_t a[] = { 2055, 4739, 9995 }, b[] = { 4739, 6343 }, got[8];
	struct frame_spec s2055 = UDP4(2055), s6343 = UDP4(6343);
	size_t n = 0;
	int err;

	err = xdp_steer_set_ports(xs, b, 2);
	CHECK(!err, "set ports: %s", strerror(-err));
	err = xdp_steer_get_ports(xs, got, 8, &n);
	CHECK(!err && n == 2 && got[0] == 4739 && got[1] == 6343, "get ports: n=%zu", n);
	run("port removed from set", &s2055, 0, FD_XDP_C_PASS_OTHER_PORT, XDP_PASS);
	run("port added to set", &s6343, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	err = xdp_steer_set_ports(xs, a, 3);
	CHECK(!err, "restore ports: %s", strerror(-err));
}

/* With exporter stats off, exports are still steered and counted by verdict,
 * but the exporter table does not move. */
static void test_exporter_stats_off(void)
{
	struct frame_spec s4 = UDP4(2055);
	struct xdp_steer_exporter ex[16];
	uint64_t after = 0;
	size_t n = 0, i;
	int err;

	s4.src = "192.0.2.200";
	run("exporter stats on", &s4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	err = xdp_steer_set_exporter_stats(xs, false);
	CHECK(!err, "exporter stats off: %s", strerror(-err));
	run("exporter stats off", &s4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	run("exporter stats off", &s4, 0, FD_XDP_C_PASS_NO_XSK, XDP_PASS);
	err = xdp_steer_exporters(xs, ex, 16, &n);
	CHECK(!err, "exporters: %s", strerror(-err));
	for (i = 0; i < n; i++)
		if (ex[i].family == 4 && ex[i].addr[12] == 192 && ex[i].addr[15] == 200)
			after = ex[i].packets;
	CHECK(after == 1, "exporter table moved with stats off: %llu packets, want 1",
	      (unsigned long long)after);
	err = xdp_steer_set_exporter_stats(xs, true);
	CHECK(!err, "exporter stats on: %s", strerror(-err));
}

static void test_totals(void)
{
	struct xdp_steer_counter c[FD_XDP_C_MAX];
	struct xdp_steer_exporter ex[8];
	uint64_t sum = 0, sum_bytes = 0;
	size_t n = 0;
	int i, err;

	err = xdp_steer_counters(xs, c);
	CHECK(!err, "counters: %s", strerror(-err));
	for (i = 1; i < FD_XDP_C_MAX; i++) {
		sum += c[i].packets;
		sum_bytes += c[i].bytes;
	}
	CHECK(c[FD_XDP_C_RX].packets == sum && c[FD_XDP_C_RX].bytes == sum_bytes,
	      "rx %llu != sum of verdicts %llu", (unsigned long long)c[FD_XDP_C_RX].packets,
	      (unsigned long long)sum);

	err = xdp_steer_exporters(xs, ex, 8, &n);
	CHECK(!err && n >= 3, "exporters: %d, n=%zu", err, n);
	/* 192.0.2.1:2055 sent the most accepted exports in this run. */
	CHECK(n > 0 && ex[0].family == 4 && ex[0].port == 2055 && ex[0].addr[12] == 192 &&
		      ex[0].addr[15] == 1,
	      "top exporter is not 192.0.2.1:2055");
	for (i = 1; i < (int)n; i++)
		CHECK(ex[i - 1].packets >= ex[i].packets, "exporters not sorted");
	/* 198.51.100.9 sent three exports to 2055: one accepted while the
	 * allow-list was off, two dropped. Only the accepted one is counted. */
	for (i = 0; i < (int)n; i++)
		if (ex[i].family == 4 && ex[i].addr[12] == 198 && ex[i].addr[15] == 9)
			CHECK(ex[i].packets == 1, "dropped exports counted for 198.51.100.9: %llu",
			      (unsigned long long)ex[i].packets);
	printf("ok: rx=%llu verdicts=%llu exporters=%zu\n",
	       (unsigned long long)c[FD_XDP_C_RX].packets, (unsigned long long)sum, n);
}

int main(void)
{
	uint16_t ports[] = { 2055, 4739, 9995 };
	int err;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root to load BPF programs\n");
		return 77;
	}
	err = xdp_steer_load_unattached(&xs);
	if (err == -EPERM || err == -EACCES || err == -ENOSYS || err == -EOPNOTSUPP) {
		fprintf(stderr, "SKIP: kernel refused to load the XDP program: %s\n",
			strerror(-err));
		return 77;
	}
	if (err) {
		fprintf(stderr, "FAIL: loading flow_steer: %s\n", strerror(-err));
		return 1;
	}
	err = xdp_steer_set_ports(xs, ports, 3);
	if (err) {
		fprintf(stderr, "FAIL: set ports: %s\n", strerror(-err));
		return 1;
	}
	test_basic();
	test_vlan();
	test_fragments();
	test_ip6_ext();
	test_truncated();
	test_ports();
	test_allowlist();
	test_exporter_stats_off();
	test_totals();
	xdp_steer_close(xs);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("ok: all flow_steer verdict checks passed\n");
	return 0;
}
