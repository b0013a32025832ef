/* cmd_xdp.c — `flowdelta xdp`: put the flow-steering XDP program on an
 * interface, inspect it, take it off. Thin: the work is in bpf/xdp_steer.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "cli.h"
#include "xdp_steer.h"

#define MAX_ARGS 64

static const char usage[] =
	"usage: flowdelta xdp ACTION IFACE [options]\n"
	"\n"
	"Steer UDP flow exports on IFACE into AF_XDP; everything else stays with the kernel.\n"
	"\n"
	"actions:\n"
	"  attach IFACE --port N [--port N ...] [--allow PREFIX ...] [--skb|--native] [--force]\n"
	"        load and attach the program (pinned maps in " XDP_STEER_PIN_ROOT "/IFACE)\n"
	"  prepare IFACE [--force]\n"
	"        before starting DPDK net_af_xdp with xdp_prog=flow_steer.bpf.o: remove a\n"
	"        stale program so the PMD can attach its own\n"
	"  set IFACE [--port N ...] [--allow PREFIX ... | --no-allow] [--[no-]exporter-stats]\n"
	"        pin the maps of the attached program (ours or the PMD's) and configure it\n"
	"  status IFACE [--top N]\n"
	"        attached program, mode, counters, top exporters\n"
	"  detach IFACE [--force]\n"
	"        remove the program and its pins\n"
	"\n"
	"options:\n"
	"  -p, --port N        UDP flow-export port (repeatable)\n"
	"  -a, --allow PREFIX  accept exports only from these sources (repeatable;\n"
	"                      10.0.0.0/8, 2001:db8::/32, 192.0.2.1); others are dropped\n"
	"      --no-allow      turn the allow-list off and clear it\n"
	"      --no-exporter-stats, --exporter-stats\n"
	"                      skip/keep the per-exporter table (skipping saves ~half\n"
	"                      the per-export cost; default: kept)\n"
	"      --skb           generic (skb) mode;  --native: driver mode only\n"
	"      --force         replace or remove a foreign program, or one a running\n"
	"                      process (dataplane) still holds\n"
	"  -n, --top N         exporters to list (default 10)\n"
	"  -v, --verbose       show libbpf's own diagnostics (verifier log, ...)\n"
	"  -h, --help          this text\n";

enum { OPT_SKB = 256, OPT_NATIVE, OPT_FORCE, OPT_NO_ALLOW, OPT_EXP_STATS, OPT_NO_EXP_STATS };

struct xdp_args {
	const char *action;
	const char *ifname;
	uint16_t ports[MAX_ARGS];
	size_t n_ports;
	struct xdp_steer_prefix allow[MAX_ARGS];
	size_t n_allow;
	bool no_allow;
	bool verbose;
	int exporter_stats; /* -1: leave, 0: off, 1: on */
	unsigned flags;
	unsigned top;
};

static int fail(const char *ifname, const char *what, int err)
{
	struct xdp_steer_prev p;
	const char *hint = "";
	char busy[128];

	if (err == -EPERM || err == -EACCES) {
		hint = " (needs root / CAP_BPF+CAP_NET_ADMIN)";
	} else if (err == -EBUSY) {
		hint = " (another XDP program is attached; --force replaces it)";
		if (!xdp_steer_inspect(ifname, &p) && p.kind != XDP_STEER_PREV_NONE) {
			if (p.kind == XDP_STEER_PREV_FOREIGN)
				snprintf(busy, sizeof(busy),
					 " (foreign XDP program '%s' id %" PRIu32
					 " is attached; --force replaces it)",
					 p.name, p.prog_id);
			else
				snprintf(busy, sizeof(busy),
					 " (Flowdelta program id %" PRIu32
					 " is in use by running pid %d; stop it, or --force)",
					 p.prog_id, p.holder_pid);
			hint = busy;
		}
	} else if (err == -ENOENT) {
		hint = " (no XDP program attached)";
	} else if (err == -EPROTO) {
		hint = " (program's maps do not match this build)";
	}
	fprintf(stderr, "flowdelta: xdp: %s: %s: %s%s\n", ifname, what, strerror(-err), hint);
	return 1;
}

static void report_prev(const char *ifname, const struct xdp_steer_prev *prev, const char *verb)
{
	switch (prev->kind) {
	case XDP_STEER_PREV_SAME:
		fprintf(stderr,
			"flowdelta: xdp: %s: %s stale Flowdelta program id %" PRIu32
			" (same build; no process holds it: left by a crash or an earlier attach)\n",
			ifname, verb, prev->prog_id);
		break;
	case XDP_STEER_PREV_OLDER:
		fprintf(stderr,
			"flowdelta: xdp: %s: %s stale Flowdelta program id %" PRIu32
			" from another build (tag %s; no process holds it)\n",
			ifname, verb, prev->prog_id, prev->tag);
		break;
	case XDP_STEER_PREV_FOREIGN:
		fprintf(stderr,
			"flowdelta: xdp: %s: %s foreign XDP program '%s' id %" PRIu32 " (--force)\n",
			ifname, verb, prev->name, prev->prog_id);
		break;
	case XDP_STEER_PREV_NONE:
		break;
	}
}

static int parse(int argc, char **argv, struct xdp_args *a)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "allow", required_argument, NULL, 'a' },
		{ "no-allow", no_argument, NULL, OPT_NO_ALLOW },
		{ "exporter-stats", no_argument, NULL, OPT_EXP_STATS },
		{ "no-exporter-stats", no_argument, NULL, OPT_NO_EXP_STATS },
		{ "skb", no_argument, NULL, OPT_SKB },
		{ "native", no_argument, NULL, OPT_NATIVE },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "top", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long v;
	int c;

	memset(a, 0, sizeof(*a));
	a->top = 10;
	a->exporter_stats = -1;
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return -1;
	}
	a->action = argv[1];
	/* Options may come before or after IFACE (getopt permutes). */
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "p:a:n:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 65535)
				return cli_usage_error("xdp", "bad port '%s' (1-65535)", optarg);
			if (a->n_ports == MAX_ARGS)
				return cli_usage_error("xdp", "at most %d ports", MAX_ARGS);
			a->ports[a->n_ports++] = (uint16_t)v;
			break;
		case 'a':
			if (a->n_allow == MAX_ARGS)
				return cli_usage_error("xdp", "at most %d --allow prefixes", MAX_ARGS);
			if (xdp_steer_prefix_parse(optarg, &a->allow[a->n_allow]))
				return cli_usage_error("xdp", "bad prefix '%s' (e.g. 10.0.0.0/8)",
						       optarg);
			a->n_allow++;
			break;
		case 'n':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v > 4096)
				return cli_usage_error("xdp", "bad --top '%s'", optarg);
			a->top = (unsigned)v;
			break;
		case OPT_NO_ALLOW:
			a->no_allow = true;
			break;
		case OPT_EXP_STATS:
			a->exporter_stats = 1;
			break;
		case OPT_NO_EXP_STATS:
			a->exporter_stats = 0;
			break;
		case OPT_SKB:
			a->flags |= XDP_STEER_SKB;
			break;
		case OPT_NATIVE:
			a->flags |= XDP_STEER_NATIVE;
			break;
		case OPT_FORCE:
			a->flags |= XDP_STEER_FORCE;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return cli_usage_error("xdp", "see 'flowdelta xdp --help'");
		}
	}
	if (optind + 1 != argc - 1)
		return cli_usage_error("xdp", "%s: expected exactly one interface name", a->action);
	a->ifname = argv[1 + optind];
	if ((a->flags & XDP_STEER_SKB) && (a->flags & XDP_STEER_NATIVE))
		return cli_usage_error("xdp", "--skb and --native exclude each other");
	if (a->no_allow && a->n_allow)
		return cli_usage_error("xdp", "--allow and --no-allow exclude each other");
	return 0;
}

static int configure(struct xdp_steer *xs, const struct xdp_args *a)
{
	int err;

	if (a->n_ports) {
		err = xdp_steer_set_ports(xs, a->ports, a->n_ports);
		if (err)
			return fail(a->ifname, "setting ports", err);
	}
	if (a->n_allow || a->no_allow) {
		err = xdp_steer_set_allowlist(xs, a->allow, a->n_allow, a->n_allow > 0);
		if (err)
			return fail(a->ifname, "setting allow-list", err);
	}
	if (a->exporter_stats >= 0) {
		err = xdp_steer_set_exporter_stats(xs, a->exporter_stats);
		if (err)
			return fail(a->ifname, "setting exporter stats", err);
	}
	return 0;
}

static void print_addr(const struct xdp_steer_exporter *e, char *buf, size_t size)
{
	if (e->family == 4)
		inet_ntop(AF_INET, e->addr + 12, buf, (socklen_t)size);
	else
		inet_ntop(AF_INET6, e->addr, buf, (socklen_t)size);
}

static int status(const struct xdp_args *a)
{
	struct xdp_steer_counter c[FD_XDP_C_MAX];
	struct xdp_steer_exporter *ex = NULL;
	struct xdp_steer_info info;
	struct xdp_steer *xs = NULL;
	uint16_t ports[MAX_ARGS];
	size_t n_ports = 0, n_ex = 0, i;
	int err, rc = 1;

	err = xdp_steer_open(a->ifname, 0, &xs);
	if (err)
		return fail(a->ifname, "status", err);
	err = xdp_steer_info(xs, &info);
	if (!err)
		err = xdp_steer_counters(xs, c);
	if (!err)
		err = xdp_steer_get_ports(xs, ports, MAX_ARGS, &n_ports);
	if (!err && a->top) {
		ex = calloc(a->top, sizeof(*ex));
		err = ex ? xdp_steer_exporters(xs, ex, a->top, &n_ex) : -ENOMEM;
	}
	if (err) {
		fail(a->ifname, "status", err);
		goto out;
	}
	printf("interface  %s\n", a->ifname);
	printf("program    %s id %" PRIu32 " tag %s (%s)\n", info.name, info.prog_id, info.tag,
	       info.ours_tag ? "this build" : "another build");
	printf("mode       %s\n", info.mode);
	printf("pins       %s\n", info.pin_dir[0] ? info.pin_dir : "(none)");
	printf("ports     ");
	for (i = 0; i < n_ports; i++)
		printf(" %u", ports[i]);
	printf("%s\n", n_ports ? "" : " (none: nothing is steered)");
	printf("allow-list %s\n", info.allowlist ? "enforced" : "off");
	printf("exporters  %s\n", info.exporter_stats ? "counted" : "not counted (--no-exporter-stats)");
	printf("\n%-24s %16s %18s\n", "counter", "packets", "bytes");
	for (i = 0; i < FD_XDP_C_MAX; i++)
		printf("%-24s %16" PRIu64 " %18" PRIu64 "\n", c[i].name, c[i].packets, c[i].bytes);
	if (a->top) {
		printf("\n%-40s %6s %14s %16s\n", "exporter", "port", "packets", "bytes");
		for (i = 0; i < n_ex; i++) {
			char addr[INET6_ADDRSTRLEN];

			print_addr(&ex[i], addr, sizeof(addr));
			printf("%-40s %6u %14" PRIu64 " %16" PRIu64 "\n", addr, ex[i].port,
			       ex[i].packets, ex[i].bytes);
		}
		if (!n_ex)
			printf("(no exports accepted yet)\n");
	}
	rc = 0;
out:
	free(ex);
	xdp_steer_close(xs);
	return rc;
}

/* libbpf prints multi-line diagnostics to stderr by default; the CLI's
 * contract is one line per error, so they are shown only with --verbose. */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int run_xdp(int argc, char **argv)
{
	struct xdp_steer_prev prev;
	struct xdp_steer *xs = NULL;
	struct xdp_args a;
	int err, rc;

	rc = parse(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!a.verbose)
		libbpf_set_print(libbpf_quiet);

	if (!strcmp(a.action, "status"))
		return status(&a);

	if (!strcmp(a.action, "attach")) {
		if (!a.n_ports)
			return cli_usage_error("xdp", "attach: give at least one --port");
		err = xdp_steer_attach(a.ifname, a.flags, &xs, &prev);
		if (err)
			return fail(a.ifname, "attach", err);
		report_prev(a.ifname, &prev, "replaced");
		rc = configure(xs, &a);
		if (!rc) {
			struct xdp_steer_info info;

			if (!xdp_steer_info(xs, &info))
				printf("attached %s id %" PRIu32 " to %s (%s mode), maps in %s\n",
				       info.name, info.prog_id, a.ifname, info.mode, info.pin_dir);
		}
		xdp_steer_close(xs);
		return rc;
	}

	if (!strcmp(a.action, "prepare")) {
		if (a.n_ports || a.n_allow || a.no_allow || a.exporter_stats >= 0)
			return cli_usage_error("xdp", "prepare takes no --port/--allow: use 'set' "
						      "once the PMD attached the program");
		err = xdp_steer_prepare(a.ifname, a.flags, &prev);
		if (err)
			return fail(a.ifname, "prepare", err);
		report_prev(a.ifname, &prev, "removed");
		printf("%s ready for net_af_xdp xdp_prog=flow_steer.bpf.o; pins in %s/%s\n",
		       a.ifname, XDP_STEER_PIN_ROOT, a.ifname);
		return 0;
	}

	if (!strcmp(a.action, "set")) {
		if (!a.n_ports && !a.n_allow && !a.no_allow && a.exporter_stats < 0)
			return cli_usage_error("xdp", "set: nothing to set (--port, --allow, --no-allow, "
						      "--[no-]exporter-stats)");
		err = xdp_steer_open(a.ifname, XDP_STEER_PIN, &xs);
		if (err)
			return fail(a.ifname, "set", err);
		rc = configure(xs, &a);
		xdp_steer_close(xs);
		return rc;
	}

	if (!strcmp(a.action, "detach")) {
		err = xdp_steer_detach(a.ifname, a.flags);
		if (err)
			return fail(a.ifname, "detach", err);
		printf("detached from %s\n", a.ifname);
		return 0;
	}

	return cli_usage_error("xdp", "unknown action '%s' (attach, prepare, set, status, detach)",
			       a.action);
}

static struct cli_cmd cmd_xdp = {
	.name = "xdp",
	.summary = "steer flow exports into AF_XDP (attach, status, detach)",
	.run = run_xdp,
};
CLI_REGISTER(cmd_xdp)
