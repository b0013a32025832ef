#!/usr/bin/env python3
"""run_test.py SCENARIO — one dataplane integration test (meson suite 'dataplane').

Starts the real flowdelta-dataplane on a virtual device (net_pcap replaying a
file made by dp_mkpcap, or net_af_packet on a veth pair inside network
namespaces we create), three sink.py slaves, and checks what arrived.
Every process it starts is bounded (--run-seconds, timeouts) and cleaned up.
Exit 0 pass, 1 fail, 77 skip (with the reason on stdout).

Environment (set by tests/dataplane/meson.build): DP_EXE, DP_MKPCAP, DP_SINK,
DP_PMD_DIR.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

EXE = os.environ.get("DP_EXE", "")
MKPCAP = os.environ.get("DP_MKPCAP", "")
SINK = os.environ.get("DP_SINK", "")
PMD_DIR = os.environ.get("DP_PMD_DIR", "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0")

procs = []
cleanups = []


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def fail(why):
    print("FAIL:", why)
    raise SystemExit(1)


_ports_given = set()


def free_port():
    # free in this namespace now; never the same number twice in a test:
    # ports for other namespaces (slaves and stats inside a netns) are
    # picked here too, and the kernel may hand a closed port out again
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _ports_given:
            _ports_given.add(p)
            return p


def start(cmd, ns=None, nsenter=False, **kw):
    # nsenter keeps our mount namespace (and so bpffs on /sys/fs/bpf, which
    # `ip netns exec` hides by remounting /sys)
    if ns and nsenter:
        cmd = ["nsenter", "--net=/run/netns/" + ns] + cmd
    elif ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    p = subprocess.Popen(cmd, **kw)
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=15):
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def pmd(name):
    path = os.path.join(PMD_DIR, "librte_%s.so" % name)
    if not os.path.exists(path):
        skip("PMD plugin %s not installed" % path)
    return path


class Slaves:
    def __init__(self, tmp, n=3, ack=True, ns=None, commit_ms=10, extra=()):
        self.tmp, self.ack, self.ns, self.commit_ms = tmp, ack, ns, commit_ms
        self.extra = list(extra)
        self.ports = [free_port() for _ in range(n)]
        self.names = ["s%d" % (i + 1) for i in range(n)]
        self.procs = [None] * n

    def log(self, i):
        return os.path.join(self.tmp, "%s.log" % self.names[i])

    def start(self, i):
        cmd = [sys.executable, SINK, "--port", str(self.ports[i]), "--log", self.log(i)]
        if self.ack:
            cmd.append("--ack")
        cmd += ["--commit-ms", str(self.commit_ms)] + self.extra
        self.procs[i] = start(cmd, ns=self.ns)

    def start_all(self):
        for i in range(len(self.ports)):
            self.start(i)
        wait_listen(self.ports, self.ns)

    def stop_all(self):
        for p in self.procs:
            if p:
                stop(p)

    def results(self):
        """Per slave: records, per-exporter counts, conversation keys."""
        out = []
        for i in range(len(self.ports)):
            recs, exps, keys, msgs, seq_err = 0, {}, set(), 0, 0
            if os.path.exists(self.log(i)):
                for line in open(self.log(i)):
                    try:
                        m = json.loads(line)
                    except ValueError:
                        continue
                    msgs += 1
                    recs += m["r"]
                    seq_err += m.get("q", 0)
                    for e, n in m["e"].items():
                        exps[e] = exps.get(e, 0) + n
                    keys.update(m["k"])
            out.append({"records": recs, "exporters": exps, "keys": keys, "msgs": msgs,
                        "seq_errors": seq_err})
        return out


def wait_listen(ports, ns, timeout=5):
    deadline = time.time() + timeout
    for p in ports:
        while time.time() < deadline:
            cmd = ["ss", "-ltnH", "sport = :%d" % p]
            if ns:
                cmd = ["ip", "netns", "exec", ns] + cmd
            if subprocess.run(cmd, capture_output=True, text=True).stdout.strip():
                break
            time.sleep(0.05)


def config(tmp, prefix, port_vdev, slaves, model="flow-hash", extra_group="", plugins=(),
           stats_port=0, ctl=False, flush_ms=50, nconf=3, port_extra="", extra_top=""):
    sl = "\n".join("    - {name: %s, host: 127.0.0.1, port: %d}" % (n, p)
                   for n, p in list(zip(slaves.names, slaves.ports))[:nconf])
    y = """eal:
  lcores: "0-1"
  main_lcore: 0
  memory_mb: 512
  no_huge: true
  no_pci: true
  file_prefix: %s
  plugins: [%s]
mbufs: 16384
ports:
  - name: p0
    vdev: "%s"
%sworkers:
  - lcore: 1
    port: p0
flow_ports: [2055]
group:
  model: %s
  slaves:
%s
%s
senders:
  cpus: "0"
  ring_size: 128
  window: 128
  flush_ms: %d
  ack_timeout_ms: 1000
spool:
  dir: %s
  max_mb: 64
  file_mb: 1
""" % (prefix, ", ".join(list(plugins) + [pmd("mempool_ring")]), port_vdev, port_extra, model, sl,
       extra_group, flush_ms, os.path.join(tmp, "spool"))
    if stats_port:
        y += "stats:\n  listen: 127.0.0.1:%d\n" % stats_port
    if ctl:
        y += "control:\n  socket: %s\n" % os.path.join(tmp, "ctl.sock")
    y += extra_top
    path = os.path.join(tmp, "dp.yaml")
    open(path, "w").write(y)
    return path


def read_stats(path):
    st = {}
    for line in open(path):
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\d+)$", line.strip())
        if m:
            st[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return st


def mkpcap(tmp, *args):
    path = os.path.join(tmp, "in.pcap")
    r = subprocess.run([MKPCAP, path] + list(args), capture_output=True, text=True, check=True)
    return path, json.loads(r.stdout)


def run_dp(cfg, tmp, seconds, ns=None, during=None, nsenter=False):
    stats = os.path.join(tmp, "stats.txt")
    errlog = open(os.path.join(tmp, "dp.stderr"), "w")
    p = start([EXE, "--config", cfg, "--run-seconds", str(seconds), "--stats-out", stats],
              ns=ns, nsenter=nsenter, stdout=errlog, stderr=subprocess.STDOUT)
    if during:
        during(p)
    try:
        rc = p.wait(seconds + 30)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("dataplane did not exit")
    errlog.close()
    out = open(os.path.join(tmp, "dp.stderr")).read()
    if rc != 0:
        print(out)
        fail("dataplane exit code %d" % rc)
    if "conserved" not in out:
        print(out)
        fail("no conservation line at exit")
    return read_stats(stats), out


def check_conservation(st, expected_records, res, allow_dup=False):
    dec = st["flowdelta_dp_records_decoded_total"]
    dlv = st["flowdelta_dp_records_delivered_total"]
    got = sum(r["records"] for r in res)
    print("expected %d decoded %d delivered %d received %d queued %d spooled %d dropped %d" % (
        expected_records, dec, dlv, got, st["flowdelta_dp_records_queued"],
        st["flowdelta_dp_records_spooled"], st["flowdelta_dp_records_dropped_total"]))
    if st["flowdelta_dp_conservation_ok"] != 1:
        fail("conservation identity does not hold")
    if expected_records is not None and dec != expected_records:
        fail("decoded %d != exported %d" % (dec, expected_records))
    if dlv != dec or st["flowdelta_dp_records_dropped_total"] or st["flowdelta_dp_records_spooled"]:
        fail("not everything delivered")
    if got != dlv and not (allow_dup and got >= dlv):
        fail("slaves received %d records, dataplane says delivered %d" % (got, dlv))
    bad = sum(r.get("seq_errors", 0) for r in res)
    if bad:
        fail("%d messages with an IPFIX sequence number that does not count the records "
             "sent before them" % bad)


# ---- scenarios ---------------------------------------------------------------

def pcap_scenario(tmp, model, mk_args=(), extra_group="", ack=True, late=None, during=None,
                  ctl=False, seconds=4, stats_port=0, extra_top="", sink_args=()):
    pcap, exp = mkpcap(tmp, *mk_args)
    slaves = Slaves(tmp, ack=ack, extra=sink_args)
    if late is None:
        slaves.start_all()
    else:
        for i in range(3):
            if i != late:
                slaves.start(i)
        wait_listen([p for i, p in enumerate(slaves.ports) if i != late], None)
    cfg = config(tmp, "fddp-%d" % os.getpid(), "net_pcap0,rx_pcap=%s" % pcap, slaves, model,
                 extra_group, plugins=[pmd("net_pcap")], ctl=ctl, stats_port=stats_port,
                 extra_top=extra_top)

    def dur(p):
        if late is not None:
            time.sleep(1.5)
            slaves.start(late)
        if during:
            during(p, slaves)
    st, out = run_dp(cfg, tmp, seconds, during=dur)
    time.sleep(0.3)
    slaves.stop_all()
    res = slaves.results()
    check_conservation(st, exp["records"], res)
    return st, exp, res, slaves


def t_config(tmp):
    """Unknown keys and bad values are errors naming the key's path."""
    bad = {
        "eal:\n  lcores: \"0-1\"\n  bogus: 1\n": "eal.bogus",
        "eal: {lcores: \"0-1\"}\nports: [{name: p0, vdev: x}]\nworkers: [{lcore: 1, port: p9}]\n"
        "flow_ports: [2055]\ngroup: {slaves: [{name: a, host: h, port: 1}]}\nspool: {dir: /tmp}\n":
            "workers[0].port",
        "eal: {lcores: \"0-1\"}\nports: [{name: p0, vdev: x}]\nworkers: [{lcore: 1, port: p0}]\n"
        "flow_ports: [2055]\ngroup: {model: hashy, slaves: [{name: a, host: h, port: 1}]}\n"
        "spool: {dir: /tmp}\n": "group.model",
        "eal: {lcores: \"0-1\"}\nports: [{name: p0, vdev: x}]\nworkers: [{lcore: 1, port: p0}]\n"
        "flow_ports: [2055]\ngroup: {slaves: [{name: a, host: h, port: 70000}]}\n"
        "spool: {dir: /tmp}\nsenders: {ring_size: 100}\n": "group.slaves[0].port",
        "eal: {lcores: \"0-1\"}\nports: [{name: p0, vdev: x}]\nworkers: [{lcore: 1, port: p0}]\n"
        "flow_ports: [2055]\ngroup: {slaves: [{name: a, host: h, port: 7, colour: red}]}\n"
        "spool: {dir: /tmp}\n": "group.slaves[0].colour",
    }
    xdp = ("eal: {lcores: \"0-1\"}\nports: [{name: p0, vdev: \"%s\", xdp: %s}]\n"
           "workers: [{lcore: 1, port: p0}]\nflow_ports: [2055]\n"
           "group: {slaves: [{name: a, host: h, port: 7}]}\nspool: {dir: /tmp}\n")
    bad[xdp % ("net_pcap0,rx_pcap=x", "{}")] = "ports[0].xdp: only for a net_af_xdp vdev"
    bad[xdp % ("net_af_xdp0,iface=v", "{allowlist: [10.0.0.0/8, 10.1.2.3/40]}")] = \
        "ports[0].xdp.allowlist[1]"
    bad[xdp % ("net_af_xdp0,iface=v", "{allowlist: []}")] = "ports[0].xdp.allowlist"
    bad[xdp % ("net_af_xdp0,iface=v,xdp_prog=/x.o", "{}")] = "ports[0].vdev: xdp_prog="
    bad[xdp % ("net_af_xdp0", "{}")] = "ports[0].vdev: net_af_xdp needs iface="
    bad[xdp % ("net_af_xdp0,iface=v", "{colour: red}")] = "ports[0].xdp.colour: unknown key"
    bad[""] = "(top): empty document"
    base = ("eal: {lcores: \"0-1\"}\nports: [{name: p0, vdev: x}]\nworkers: [{lcore: 1, port: p0}]\n"
            "flow_ports: [2055]\ngroup: {slaves: [{name: a, host: h, port: 1}]}\nspool: {dir: /tmp}\n")
    bad[base + "poll: {idle_sleep_us: 20000}\n"] = "poll.idle_sleep_us: 20000 above 10000"
    bad[base + "poll: {idle_after: 2000000}\n"] = "poll.idle_after: 2000000 above"
    bad[base + "poll: {idle_after: -1}\n"] = "poll.idle_after"
    bad[base + "poll: {rt_priority: 5}\n"] = "poll.rt_priority: needs poll.idle_sleep_us"
    bad[base + "poll: {idle_sleep_us: 100, rt_priority: 100}\n"] = "poll.rt_priority: 100 above 99"
    bad[base + "poll: {sleep: 1}\n"] = "poll.sleep: unknown key"
    rep = ("eal: {lcores: \"0-1\"}\nports: [{name: p0, %s}]\nworkers: [{lcore: 1, port: p0}]\n"
           "flow_ports: [2055]\ngroup: {slaves: [{name: a, host: h, port: 1}]}\nspool: {dir: /tmp}\n")
    bad[rep % "replay: /x.pcap, vdev: net_null0"] = "ports[0]: exactly one of 'vdev', 'pci' or 'replay'"
    bad[rep % "replay: /x.pcap, rx_queues: 2"] = "ports[0].rx_queues: a replay port has one queue"
    bad[rep % "replay: /x.pcap, rx_desc: 32"] = "ports[0].rx_desc: 32 out of range"
    for y, path in bad.items():
        f = os.path.join(tmp, "bad.yaml")
        open(f, "w").write(y)
        r = subprocess.run([EXE, "--config", f, "--check"], capture_output=True, text=True, timeout=10)
        print(r.stderr.strip())
        if r.returncode == 0 or path not in r.stderr:
            fail("config error for %s not reported with its path" % path)
    # a missing or wrong program object is reported at start, before EAL,
    # naming the key
    f = os.path.join(tmp, "xdp.yaml")
    for prog, why in (("/nonexistent/flow_steer.bpf.o", "No such file"), (f, "not a BPF object")):
        open(f, "w").write(xdp % ("net_af_xdp0,iface=lo", "{program: %s}" % prog))
        r = subprocess.run([EXE, "--config", f], capture_output=True, text=True, timeout=20)
        print(r.stderr.strip())
        if r.returncode == 0 or "ports[0].xdp.program" not in r.stderr or why not in r.stderr:
            fail("a bad ports[0].xdp.program (%s) not reported with its key" % why)
    src = os.environ.get("DP_SRC", "")
    for sample in ("deploy/dataplane-onehost.yaml", "deploy/dataplane-2x10g.yaml"):
        f = os.path.join(src, sample)
        if os.path.exists(f):
            r = subprocess.run([EXE, "--config", f, "--check"], capture_output=True, text=True, timeout=10)
            if r.returncode != 0:
                fail("%s: %s" % (sample, r.stderr))
    r = subprocess.run([EXE, "--help"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0 or "flow_ports" not in r.stdout:
        fail("--help")


def t_flow_hash(tmp):
    st, exp, res, _ = pcap_scenario(tmp, "flow-hash", ["-e", "4", "-c", "3000"])
    seen = {}
    for i, r in enumerate(res):
        for k in r["keys"]:
            seen.setdefault(k, set()).add(i)
    split = [k for k, s in seen.items() if len(s) > 1]
    print("conversations %d, on more than one slave: %d, per slave: %s" % (
        len(seen), len(split), [r["records"] for r in res]))
    if split:
        fail("conversation split across slaves, e.g. %s" % split[0])
    if len(seen) != 4 * 3000:
        fail("expected %d conversations, saw %d" % (4 * 3000, len(seen)))
    if min(r["records"] for r in res) == 0:
        fail("a slave got nothing")


def t_round_robin(tmp):
    st, exp, res, _ = pcap_scenario(tmp, "round-robin", ["-e", "4", "-c", "12000"])
    counts = [r["records"] for r in res]
    mean = sum(counts) / len(counts)
    worst = max(abs(c - mean) / mean for c in counts)
    msgs = sum(r["msgs"] for r in res)
    print("per slave %s, worst deviation %.2f%%, %.1f records per message" % (
        counts, worst * 100, sum(counts) / max(msgs, 1)))
    if worst > 0.05:
        fail("round-robin spread beyond 5%")
    # rotation per full message: no trail of small messages behind it
    if sum(counts) / max(msgs, 1) < 100:
        fail("round-robin messages are mostly small")


def t_source(tmp):
    extra = "  source_map:\n    - {exporter: 192.0.2.2, port: 2055, slave: s3}\n"
    st, exp, res, slaves = pcap_scenario(tmp, "source", ["-e", "6", "-c", "1000"], extra)
    owner = {}
    for i, r in enumerate(res):
        for e in r["exporters"]:
            owner.setdefault(e, set()).add(i)
    print("exporter -> slaves:", {e: sorted(s) for e, s in owner.items()})
    for e, s in owner.items():
        if len(s) != 1:
            fail("exporter %s spread over slaves %s" % (e, s))
    if owner.get("192.0.2.2:2055") != {2}:
        fail("explicit map 192.0.2.2:2055 -> s3 not honoured")
    for e, n in exp["exporters"].items():
        got = sum(r["exporters"].get(e + ":2055", 0) for r in res)
        if got != n:
            fail("exporter %s: %d of %d records" % (e, got, n))


def t_malformed(tmp):
    st, exp, res, _ = pcap_scenario(tmp, "flow-hash", ["-e", "4", "-c", "2000", "-b", "3"])
    for e, n in exp["exporters"].items():
        got = sum(r["exporters"].get(e + ":2055", 0) for r in res)
        print("exporter %s: %d of %d" % (e, got, n))
        if got != n:
            fail("exporter %s lost records" % e)
    drops = sum(v for k, v in st.items() if k.startswith("flowdelta_dp_decode_drops_total"))
    print("bad packets sent %d, decode drops counted %d" % (exp["bad_packets"], drops))
    if drops < exp["bad_packets"]:
        fail("malformed packets not all counted")


def t_late_slave(tmp):
    """Slave s2 is down when traffic arrives: its share goes to the spool and
    is replayed when it comes up."""
    cli = os.environ.get("DP_CLI", "")
    sport = free_port()
    status_out = []

    def during(p, slaves):
        # `flowdelta status --dataplane` against the live process, until it
        # shows the counters (a loaded machine starts the stats listener
        # late: one try after a fixed sleep failed there), at most 15 s
        if cli and os.path.exists(cli):
            end = time.time() + 15
            while True:
                time.sleep(0.3)
                r = subprocess.run([cli, "status", "--dataplane", "--metrics",
                                    "http://127.0.0.1:%d/metrics" % sport],
                                   capture_output=True, text=True, timeout=10)
                out = r.stdout + r.stderr
                if ("records: decoded" in out and "slaves: delivered" in out) or time.time() > end \
                        or p.poll() is not None:
                    status_out.append(out)
                    return
    st, exp, res, _ = pcap_scenario(tmp, "flow-hash", ["-e", "4", "-c", "3000"], late=1, seconds=5,
                                    during=during, stats_port=sport)
    if status_out:
        print(status_out[0])
        if "records: decoded" not in status_out[0] or "slaves: delivered" not in status_out[0]:
            fail("flowdelta status --dataplane did not show the counters")
    spooled = st.get('flowdelta_dp_slave_records_spooled_in_total{slave="s2",sender="1"}', 0)
    print("s2 records spooled while down: %d, replayed: %d" % (
        spooled, st.get('flowdelta_dp_slave_records_spool_replayed_total{slave="s2",sender="1"}', 0)))
    if spooled == 0:
        fail("nothing was spooled for the late slave")


def t_replay_ring(tmp):
    """ports[].replay (the capacity bench's net_ring input): a pcap of
    uniform IPFIX packets (30 records each, 4 exporters x 50 packets)
    replayed from memory through a ring of 1024 (each frame's mbuf several
    times in the ring at once) into the worker, flow-hash over three
    discarding slaves, for 3 s: the generator tops up the frames' mbuf
    references ~every second here, so that path runs too. Conservation holds
    in every scrape and exactly at exit; every received packet is decoded
    into exactly 30 records; records reach every slave; the generator's
    packets = received by the worker + left in the ring, and every frame's
    mbuf reference count comes back exactly (each copy freed once). A
    missing replay file is an error naming the key."""
    src = os.environ.get("DP_SRC", "")
    sys.path.insert(0, os.path.join(src, "dataplane"))
    import bench_capacity as bc
    pcap = os.path.join(tmp, "replay.pcap")
    pkts = bc.ipfix_packets(4, 50)
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (e, p) in enumerate(pkts):
            fr = bc.frame(e, p)
            f.write(struct.pack("<IIII", 1767225600, i, len(fr), len(fr)))
            f.write(fr)
    sp = free_port()
    prefix = "fddp-%d" % os.getpid()

    def cfg(path):
        y = """eal: {lcores: "0-1", main_lcore: 0, memory_mb: 512, no_huge: true, no_pci: true,
      file_prefix: %s, plugins: [%s]}
mbufs: 8192
ports: [{name: r0, replay: %s, rx_desc: 1024}]
workers: [{lcore: 1, port: r0}]
flow_ports: [2055]
group:
  slaves:
    - {name: d1, host: discard, port: 1, discard: true}
    - {name: d2, host: discard, port: 1, discard: true}
    - {name: d3, host: discard, port: 1, discard: true}
senders: {cpus: "0", ring_size: 256, window: 64}
spool: {dir: %s}
stats: {listen: "127.0.0.1:%d"}
""" % (prefix, pmd("mempool_ring"), path, os.path.join(tmp, "spool"), sp)
        c = os.path.join(tmp, "dp.yaml")
        open(c, "w").write(y)
        return c

    scrapes = []

    def during(p):
        time.sleep(1.0)
        while p.poll() is None and len(scrapes) < 20:
            try:
                scrapes.append(scrape(sp))
            except OSError:
                pass
            time.sleep(0.05)
    st, out = run_dp(cfg(pcap), tmp, 3, during=during)
    line = [l for l in out.splitlines() if "replay enqueued" in l]
    print("\n".join(line))
    m = re.search(r"replay enqueued (\d+) = received (\d+) \+ left in ring (\d+): (\w+); "
                  r"mbuf references of (\d+) frames: (\w+)", line[0] if line else "")
    if not m:
        print(out)
        fail("no replay balance line at exit")
    enq, rx, left = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if m.group(4) != "balanced" or enq != rx + left or m.group(6) != "balanced":
        fail("replay not balanced: %s" % line[0])
    if int(m.group(5)) != len(pkts):
        fail("replay loaded %s frames, the pcap has %d" % (m.group(5), len(pkts)))
    w = lambda k: st['flowdelta_dp_worker_%s{worker="0"}' % k]
    port_rx = st['flowdelta_dp_port_rx_packets_total{port="r0"}']
    dec = st["flowdelta_dp_records_decoded_total"]
    print("packets enqueued %d received %d (port %d, flow %d) left %d; records decoded %d" % (
        enq, rx, port_rx, w("flow_packets_total"), left, dec))
    if rx != w("rx_packets_total") or port_rx != rx or w("flow_packets_total") != rx:
        fail("packets: worker %d, port %d, flow %d, replay says %d received" % (
            w("rx_packets_total"), port_rx, w("flow_packets_total"), rx))
    if rx < 20 * len(pkts):
        fail("only %d packets replayed in 3 s" % rx)
    if dec != 30 * rx or st["flowdelta_dp_records_recovered_total"]:
        fail("decoded %d records from %d packets of 30" % (dec, rx))
    if st['flowdelta_dp_port_replay_enqueued_total{port="r0"}'] != enq:
        fail("replay_enqueued counter %d, exit line %d" % (
            st['flowdelta_dp_port_replay_enqueued_total{port="r0"}'], enq))
    check_conservation_identity(st)
    if not scrapes or any(v["flowdelta_dp_conservation_ok"] != 1 for v in scrapes):
        fail("conservation did not hold in every scrape (%d scrapes)" % len(scrapes))
    per = [st['flowdelta_dp_slave_records_delivered_total{slave="%s",sender="%d"}' % (n, i)]
           for i, n in enumerate(("d1", "d2", "d3"))]
    print("delivered per slave %s, %d scrapes with conservation ok" % (per, len(scrapes)))
    if min(per) == 0 or sum(per) != st["flowdelta_dp_records_delivered_total"]:
        fail("records did not reach every slave: %s" % per)

    r = subprocess.run([EXE, "--config", cfg(os.path.join(tmp, "missing.pcap")), "--run-seconds", "1"],
                       capture_output=True, text=True, timeout=30)
    print(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "")
    if r.returncode == 0 or "ports[0].replay" not in r.stderr:
        fail("a missing replay file not reported naming ports[0].replay")


def check_conservation_identity(st):
    lhs = st["flowdelta_dp_records_decoded_total"] + st["flowdelta_dp_records_recovered_total"]
    rhs = (st["flowdelta_dp_records_delivered_total"] + st["flowdelta_dp_records_queued"] +
           st["flowdelta_dp_records_spooled"] + st["flowdelta_dp_records_dropped_total"])
    print("decoded %d = delivered %d + queued %d + spooled %d + dropped %d" % (
        st["flowdelta_dp_records_decoded_total"], st["flowdelta_dp_records_delivered_total"],
        st["flowdelta_dp_records_queued"], st["flowdelta_dp_records_spooled"],
        st["flowdelta_dp_records_dropped_total"]))
    if st["flowdelta_dp_conservation_ok"] != 1 or lhs != rhs:
        fail("conservation identity does not hold")
    if st["flowdelta_dp_records_queued"] or st["flowdelta_dp_records_spooled"]:
        fail("records left queued or spooled at exit with discarding slaves")


def scrape(port):
    t = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    v = {}
    for l in t.splitlines():
        if l.startswith("flowdelta_dp_"):
            k, _, x = l.rpartition(" ")
            v[k] = int(x) if x.isdigit() else x
    return v


def t_idle_sleep(tmp):
    """poll.idle_sleep_us: once the replay ends the worker sleeps between
    empty polls. Its CPU time must fall far below one core, the tail of the
    replay must still be flushed by buffer ageing, a live reconfiguration
    (RCU grace periods) must complete promptly, and every record counts."""
    sport = free_port()
    notes = {}

    def during(p, slaves):
        deadline = time.time() + 6
        v = {}
        while time.time() < deadline:
            try:
                v = scrape(sport)
                if (v.get("flowdelta_dp_records_decoded_total") == notes["expected"] and
                        v["flowdelta_dp_records_queued"] == 0 and
                        v["flowdelta_dp_records_delivered_total"] == notes["expected"]):
                    break
            except (OSError, KeyError):
                pass
            time.sleep(0.05)
        else:
            notes["err"] = "replay not delivered while the worker idles (ageing flush?): %s" % {
                k: x for k, x in v.items() if k.startswith("flowdelta_dp_records_")}
            return
        # poll.rt_priority: the worker thread (and only it) is SCHED_FIFO
        pol = {}
        for t in os.listdir("/proc/%d/task" % p.pid):
            try:
                f = open("/proc/%d/task/%s/stat" % (p.pid, t)).read()
            except OSError:
                continue
            comm, rest = f[f.index("(") + 1:f.rindex(")")], f[f.rindex(")") + 2:].split()
            pol[comm] = (int(rest[38]), int(rest[37]))  # policy, rt_priority (proc(5) 41, 40)
        notes["policy"] = pol
        cpu = 'flowdelta_dp_worker_cpu_ns_total{worker="0"}'
        a, ta = scrape(sport)[cpu], time.time()
        time.sleep(1.5)
        b, tb = scrape(sport)[cpu], time.time()
        notes["idle_share"] = (b - a) / 1e9 / (tb - ta)
        t0 = time.time()
        notes["ctl"] = ctl_cmd(os.path.join(tmp, "ctl.sock"), "model round-robin")
        notes["ctl_s"] = time.time() - t0

    pcap, exp = mkpcap(tmp, "-e", "4", "-c", "3000")
    notes["expected"] = exp["records"]  # pcap_scenario makes the same file again
    st, exp, res, _ = pcap_scenario(
        tmp, "flow-hash", ["-e", "4", "-c", "3000"], seconds=7, during=during, ctl=True,
        stats_port=sport,
        extra_top="poll:\n  idle_sleep_us: 1000\n  idle_after: 64\n  rt_priority: 2\n")
    if "err" in notes:
        fail(notes["err"])
    pol = notes.get("policy", {})
    print("scheduling policy, priority per thread: %s" % pol)
    workers = [v for k, v in pol.items() if k.startswith("rte-worker")]
    if workers != [(1, 2)]:  # SCHED_FIFO = 1
        fail("poll.rt_priority 2: worker threads %s, want one SCHED_FIFO at 2" % workers)
    if any(v[0] != 0 for k, v in pol.items() if not k.startswith("rte-worker")):
        fail("a thread other than the worker runs real-time: %s" % pol)
    # without CAP_SYS_NICE (and RLIMIT_RTPRIO 0) the worker cannot have it:
    # the dataplane says why and stops, exit 1, records still conserved
    if not shutil.which("setpriv"):
        print("SKIP part: setpriv (util-linux) missing, refused rt_priority not checked")
        return
    pcap, _ = mkpcap(tmp, "-e", "1", "-c", "100")
    slaves = Slaves(tmp)
    slaves.start_all()
    cfg = config(tmp, "fddp-rt%d" % os.getpid(), "net_pcap0,rx_pcap=%s" % pcap, slaves,
                 plugins=[pmd("net_pcap")],
                 extra_top="poll:\n  idle_sleep_us: 1000\n  rt_priority: 1\n")
    r = subprocess.run(["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice",
                        "prlimit", "--rtprio=0", EXE, "--config", cfg, "--run-seconds", "20"],
                       capture_output=True, text=True, timeout=60)
    slaves.stop_all()
    msg = [l for l in r.stderr.splitlines() if "rt_priority" in l]
    print("without CAP_SYS_NICE: exit %d, %s" % (r.returncode, msg))
    if r.returncode != 1 or not msg or "Operation not permitted" not in msg[0] or \
            "CAP_SYS_NICE" not in msg[0] or "conserved" not in r.stderr:
        print(r.stderr[-2000:])
        fail("a refused poll.rt_priority must stop the dataplane with exit 1 and say why")
    print("worker CPU while idle: %.1f %% of a core; reconfiguration took %.3f s" % (
        100 * notes["idle_share"], notes["ctl_s"]))
    if notes["idle_share"] > 0.2:
        fail("worker still uses %.0f %% of a core while idle" % (100 * notes["idle_share"]))
    if not notes["ctl"].startswith("ok") or notes["ctl_s"] > 2:
        fail("live reconfiguration while idle: %s after %.1f s" % (notes["ctl"], notes["ctl_s"]))


def t_spool_restart(tmp):
    """Run 1: slave s2 is down throughout; at SIGTERM its share stays in the
    spool (counted as spooled). Run 2, same input, s2 up: the spool is
    recovered and replayed. Over both runs every record arrives once."""
    pcap, exp = mkpcap(tmp, "-e", "4", "-c", "2000")
    slaves = Slaves(tmp, ack=True)
    slaves.start(0)
    slaves.start(2)
    wait_listen([slaves.ports[0], slaves.ports[2]], None)
    cfg = config(tmp, "fddp-%d" % os.getpid(), "net_pcap0,rx_pcap=%s" % pcap, slaves, "flow-hash",
                 plugins=[pmd("net_pcap")])
    st1, _ = run_dp(cfg, tmp, 3)
    sp = st1["flowdelta_dp_records_spooled"]
    print("run 1: decoded %d delivered %d spooled %d" % (
        st1["flowdelta_dp_records_decoded_total"], st1["flowdelta_dp_records_delivered_total"], sp))
    if st1["flowdelta_dp_conservation_ok"] != 1 or sp == 0:
        fail("run 1: expected s2's share in the spool, conserved")
    if st1["flowdelta_dp_records_delivered_total"] + sp != exp["records"]:
        fail("run 1: delivered + spooled != exported")
    slaves.start(1)
    wait_listen([slaves.ports[1]], None)
    st2, _ = run_dp(cfg, tmp, 4)
    rec = st2["flowdelta_dp_records_recovered_total"]
    print("run 2: decoded %d recovered %d delivered %d spooled %d" % (
        st2["flowdelta_dp_records_decoded_total"], rec, st2["flowdelta_dp_records_delivered_total"],
        st2["flowdelta_dp_records_spooled"]))
    if rec != sp:
        fail("run 2 recovered %d records, run 1 left %d" % (rec, sp))
    time.sleep(0.3)
    slaves.stop_all()
    res = slaves.results()
    got = sum(r["records"] for r in res)
    if st2["flowdelta_dp_conservation_ok"] != 1 or st2["flowdelta_dp_records_spooled"]:
        fail("run 2 not conserved or spool not drained")
    if got != 2 * exp["records"]:
        fail("slaves received %d records over two runs, expected %d" % (got, 2 * exp["records"]))
    print("slaves received %d = 2 x %d" % (got, exp["records"]))


def t_gen(tmp):
    """`flowdelta gen` exports of all three protocols (v5, v9, IPFIX with
    strings from IPv6 exporters) in one pcap: everything gen says it sent
    is decoded and delivered, exactly."""
    cli = os.environ.get("DP_CLI", "")
    if not cli or not os.path.exists(cli):
        skip("flowdelta CLI (gen) not built")
    total, frames = 0, []
    for args in (["--version", "5", "--exporters", "2", "--flows", "600"],
                 ["--version", "9", "--exporters", "3", "--flows", "1000", "--v6-share", "0.3"],
                 ["--version", "10", "--exporters", "2", "--flows", "1000", "--strings",
                  "--exporter-v6"]):
        f = os.path.join(tmp, "g%s.pcap" % args[1])
        r = subprocess.run([cli, "gen"] + args + ["--pcap", f], capture_output=True, text=True,
                           timeout=60)
        m = re.search(r"(\d+) records", r.stderr)
        if r.returncode or not m:
            fail("flowdelta gen: %s" % r.stderr)
        total += int(m.group(1))
        data = open(f, "rb").read()
        frames.append(data[24:] if frames else data)  # one pcap header
    pcap = os.path.join(tmp, "gen.pcap")
    open(pcap, "wb").write(b"".join(frames))
    slaves = Slaves(tmp)
    slaves.start_all()
    cfg = config(tmp, "fddp-%d" % os.getpid(), "net_pcap0,rx_pcap=%s" % pcap, slaves, "flow-hash",
                 plugins=[pmd("net_pcap")])
    st, _ = run_dp(cfg, tmp, 4)
    time.sleep(0.3)
    slaves.stop_all()
    check_conservation(st, total, slaves.results())


def t_plain_slave(tmp):
    st, exp, res, _ = pcap_scenario(tmp, "round-robin", ["-e", "2", "-c", "2000"], ack=False)
    if any(v for k, v in st.items() if k.startswith("flowdelta_dp_slave_acking")):
        fail("a plain slave was taken for an acking one")


def t_slow_slave(tmp):
    """Slaves that take nothing for their first 2 s, through a small receive
    buffer: the sender's multi-message writes come up short or find the
    socket full, and carry on where they stopped. Every record arrives
    once, every message's IPFIX sequence number counts the records before
    it (sink.py), and the full socket was seen (socket_full_total)."""
    st, exp, res, _ = pcap_scenario(tmp, "round-robin", ["-e", "4", "-c", "12000"], seconds=9,
                                    ack=False, sink_args=["--stall", "2", "--rcvbuf", "8192"])
    full = sum(v for k, v in st.items() if k.startswith("flowdelta_dp_slave_socket_full_total"))
    print("writes that found a slave's socket buffer full: %d" % full)
    if not full:
        fail("no write found a socket full: the stalled slaves did not exercise it")


def ctl_cmd(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(path)
    s.sendall((line + "\n").encode())
    r = s.recv(4096).decode().strip()
    s.close()
    print("ctl: %s -> %s" % (line, r))
    return r


# ---- netns + af_packet ------------------------------------------------------------

def netns_setup(tag):
    if os.geteuid() != 0:
        skip("needs root for network namespaces")
    if not shutil.which("ip"):
        skip("iproute2 missing")
    a, b = "fddp-a%s" % tag, "fddp-b%s" % tag
    va, vb = "fddpa%s" % tag, "fddpb%s" % tag

    def sh(*cmd):
        r = subprocess.run(list(cmd), capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr))
    try:
        sh("ip", "netns", "add", a)
        cleanups.append(lambda: subprocess.run(["ip", "netns", "del", a]))
        sh("ip", "netns", "add", b)
        cleanups.append(lambda: subprocess.run(["ip", "netns", "del", b]))
        sh("ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
        for ns, v in ((a, va), (b, vb)):
            sh("ip", "-n", ns, "link", "set", v, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
    except RuntimeError as e:
        skip("network namespaces unavailable: %s" % e)
    return a, b, va, vb


SENDER = r"""
import socket, struct, sys, time
iface, path, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
f = open(path, "rb"); f.read(24)
frames = []
while True:
    h = f.read(16)
    if len(h) < 16: break
    n = struct.unpack("<IIII", h)[2]
    frames.append(f.read(n))
t0 = time.time()
for i, fr in enumerate(frames):
    while time.time() < t0 + i / rate: time.sleep(0.0005)
    s.send(fr)
print(len(frames))
"""


def netns_run(tmp, model, mid, nslaves=3, seconds=7, ctl=False, commit_ms=10, pmd_name="net_af_packet"):
    """Paced exports (~3 s) from netns A over a veth into the dataplane's
    net_af_packet port in netns B; mid(slaves, ctl_path) runs ~1.2 s in."""
    tag = str(os.getpid() % 10000)
    a, b, va, vb = netns_setup(tag)
    pcap, exp = mkpcap(tmp, "-e", "4", "-c", "2500")
    slaves = Slaves(tmp, n=nslaves, ack=True, ns=b, commit_ms=commit_ms)
    for i in range(3):
        slaves.start(i)
    wait_listen(slaves.ports[:3], b)
    sport = free_port()
    cfg = config(tmp, "fddp-ns%s" % tag, "%s0,iface=%s" % (pmd_name, vb), slaves, model,
                 plugins=[pmd(pmd_name)], ctl=ctl, stats_port=sport)
    samples = []

    def poll_metrics(stop):
        # conservation must hold in every scrape while records are in motion
        code = ("import sys,urllib.request,time\n"
                "end=time.time()+float(sys.argv[2])\n"
                "while time.time()<end:\n"
                "  try:\n"
                "    t=urllib.request.urlopen(sys.argv[1],timeout=2).read().decode()\n"
                "    v=dict(l.rsplit(' ',1) for l in t.splitlines() if l.startswith('flowdelta_dp_con') or l.startswith('flowdelta_dp_records_'))\n"
                "    print(v['flowdelta_dp_conservation_ok'],v['flowdelta_dp_conservation_snapshot_exact'],v['flowdelta_dp_records_decoded_total'],v['flowdelta_dp_records_queued'],flush=True)\n"
                "  except Exception as e: pass\n"
                "  time.sleep(0.03)\n")
        return start([sys.executable, "-c", code, "http://127.0.0.1:%d/metrics" % sport, "4"],
                     ns=b, stdout=subprocess.PIPE, text=True)
    sender_py = os.path.join(tmp, "sender.py")
    open(sender_py, "w").write(SENDER)

    def during(p):
        time.sleep(1.0)  # EAL up, port started
        tx = start([sys.executable, sender_py, va, pcap, str(exp["frames"] / 3.0)], ns=a)
        samples.append(poll_metrics(None))
        time.sleep(1.2)
        mid(slaves, os.path.join(tmp, "ctl.sock"), b)
        tx.wait(20)
        # let a restarted slave reconnect (backoff) and the spool drain,
        # bounded, before shutting down
        code = ("import sys,urllib.request,time\n"
                "end=time.time()+12\n"
                "while time.time()<end:\n"
                "  try:\n"
                "    t=urllib.request.urlopen(sys.argv[1],timeout=2).read().decode()\n"
                "    v=dict(l.rsplit(' ',1) for l in t.splitlines() if l.startswith('flowdelta_dp_records_'))\n"
                "    if v['flowdelta_dp_records_spooled']=='0' and v['flowdelta_dp_records_queued']=='0': break\n"
                "  except Exception: pass\n"
                "  time.sleep(0.1)\n")
        subprocess.run(["ip", "netns", "exec", b, sys.executable, "-c", code,
                        "http://127.0.0.1:%d/metrics" % sport], timeout=20)
        time.sleep(0.3)
        # the real shutdown path: SIGTERM stops RX, drains, exits 0
        p.send_signal(signal.SIGTERM)
    st, out = run_dp(cfg, tmp, 30, ns=b, during=during)
    lines = samples[0].communicate(timeout=10)[0].split("\n") if samples else []
    scr = [l.split() for l in lines if l.strip()]
    moving = [x for x in scr if int(x[3]) > 0]
    print("metrics scrapes during traffic: %d (%d with records queued in flight), "
          "conservation held in %d" % (len(scr), len(moving), sum(1 for x in scr if x[0] == "1")))
    if not scr:
        fail("no metrics scraped during traffic")
    if any(x[0] != "1" for x in scr if x[1] == "1"):
        fail("conservation did not hold in a live scrape")
    time.sleep(0.3)
    slaves.stop_all()
    res = slaves.results()
    rx = st.get('flowdelta_dp_port_rx_packets_total{port="p0"}', 0)
    print("frames sent %d, received by the port %d" % (exp["frames"], rx))
    if rx < exp["frames"]:
        fail("af_packet lost frames on the veth (kernel side), cannot check end to end")
    check_conservation(st, exp["records"], res)
    return st, exp, res


def t_netns_kill_slave(tmp):
    """Slave s2 is SIGKILLed mid-stream and restarted a second later; once
    the spool replays, nothing is lost and nothing is stored twice."""
    def mid(slaves, ctl, ns):
        slaves.procs[1].kill()  # no goodbye: what it had not acked is lost in it
        slaves.procs[1].wait()
        time.sleep(1.0)
        slaves.start(1)
        wait_listen([slaves.ports[1]], ns)
    # slow group commits (400 ms): the kill lands while s2 holds messages it
    # received but never made durable, so the proxy must resend them
    st, exp, res = netns_run(tmp, "flow-hash", mid, commit_ms=400)
    print("s2 disconnects %d, resent messages %d, spooled %d" % (
        st.get('flowdelta_dp_slave_disconnects_total{slave="s2",sender="1"}', 0),
        st.get('flowdelta_dp_slave_messages_resent_total{slave="s2",sender="1"}', 0),
        st.get('flowdelta_dp_slave_records_spooled_in_total{slave="s2",sender="1"}', 0)))
    if not st.get('flowdelta_dp_slave_disconnects_total{slave="s2",sender="1"}', 0):
        fail("the kill was not noticed")
    if not st.get('flowdelta_dp_slave_messages_resent_total{slave="s2",sender="1"}', 0):
        fail("nothing was resent: the unacked window was not exercised")


def t_netns_live_reconfig(tmp):
    """Routing changes while exports flow: add a slave, switch models, map a
    source, remove a slave. Nothing may be lost or duplicated."""
    def mid(slaves, ctl, ns):
        slaves.start(3)
        wait_listen([slaves.ports[3]], ns)
        for cmd in ("add-slave s4 127.0.0.1 %d" % slaves.ports[3], "model round-robin",
                    "map 192.0.2.1 2055 s4", "model source", "remove-slave s1",
                    "model flow-hash", "show"):
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                                "import socket,sys;s=socket.socket(socket.AF_UNIX);s.settimeout(15);"
                                "s.connect(sys.argv[1]);s.sendall(sys.argv[2].encode()+b'\\n');"
                                "print(s.recv(4096).decode().strip())", ctl, cmd],
                               capture_output=True, text=True, timeout=20)
            print("ctl: %s -> %s" % (cmd, r.stdout.strip()))
            if not r.stdout.startswith("ok"):
                fail("control command failed: %s (%s)" % (cmd, r.stderr))
            time.sleep(0.15)
    st, exp, res = netns_run(tmp, "flow-hash", mid, nslaves=4, ctl=True)
    print("records per slave:", [r["records"] for r in res])
    if res[3]["records"] == 0:
        fail("the added slave received nothing")


def t_netns_af_xdp(tmp):
    """The same veth path through net_af_xdp (its default XDP program
    redirects every frame of the queue to the socket): flow-hash keeps both
    directions together and nothing is lost."""
    if not os.path.ismount("/sys/fs/bpf"):
        skip("bpffs not mounted on /sys/fs/bpf (libxdp needs it)")
    st, exp, res = netns_run(tmp, "flow-hash", lambda *a: None, pmd_name="net_af_xdp")
    seen = {}
    for i, r in enumerate(res):
        for k in r["keys"]:
            seen.setdefault(k, set()).add(i)
    if any(len(v) > 1 for v in seen.values()):
        fail("a conversation was split across slaves")


# ---- netns + net_af_xdp with our steering program ---------------------------

def xdp_netns_pair(stem, tools):
    """What the AF_XDP scenarios share: skip unless root, TOOLS, the CLI,
    the steering program and bpffs are there; namespaces STEM-a<tag> and
    STEM-b<tag> joined by a veth pair STEMa<tag>/STEMb<tag>, removed at
    exit with the EAL prefix STEM-<tag> and the program's pins. Returns
    (cli, obj, a, b, va, vb, prefix, sh); sh runs a command, raises
    RuntimeError on failure and returns its stdout."""
    cli = os.environ.get("DP_CLI", "")
    obj = os.environ.get("DP_XDP_OBJ", "")
    if os.geteuid() != 0:
        skip("needs root (netns, XDP, AF_XDP)")
    for t in tools:
        if not shutil.which(t):
            skip("%s not installed" % t)
    if not cli or not os.path.exists(cli):
        skip("flowdelta CLI (gen, xdp status) not built")
    if not obj or not os.path.exists(obj):
        skip("flow_steer.bpf.o not built")
    if not os.path.ismount("/sys/fs/bpf"):
        skip("bpffs not mounted on /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)")
    tag = str(os.getpid() % 10000)
    a, b = stem + "-a" + tag, stem + "-b" + tag
    va, vb = stem + "a" + tag, stem + "b" + tag
    prefix = stem + "-" + tag
    cleanups.append(lambda: shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True))
    cleanups.append(lambda: shutil.rmtree("/sys/fs/bpf/flowdelta/" + vb, ignore_errors=True))

    def sh(*cmd):
        r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=20)
        if r.returncode:
            raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
        return r.stdout
    try:
        for ns in (a, b):
            sh("ip", "netns", "add", ns)
            cleanups.append(lambda ns=ns: subprocess.run(["ip", "netns", "del", ns]))
        sh("ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
    except RuntimeError as e:
        skip("network namespaces unavailable: %s" % e)
    return cli, obj, a, b, va, vb, prefix, sh


def t_netns_xdp_steer(tmp):
    """net_af_xdp with bpf/flow_steer.bpf.o (ports[].xdp): `flowdelta gen
    --send` exports from netns A reach the dataplane in netns B through
    AF_XDP and are delivered exactly, while ping and TCP on the same
    interface go through the kernel; exports from a source outside the
    allow-list are dropped and counted by the program (`flowdelta xdp
    status`); the control socket widens the allow-list live; at exit the
    program is detached and the pins removed."""
    cli, obj, a, b, va, vb, prefix, sh = xdp_netns_pair("fdh8", ("ip", "nsenter", "ping"))
    sh("ip", "-n", a, "addr", "add", "10.88.0.1/24", "dev", va)
    sh("ip", "-n", a, "addr", "add", "10.88.0.9/24", "dev", va)
    sh("ip", "-n", a, "addr", "add", "fd88::1/64", "dev", va, "nodad")
    sh("ip", "-n", b, "addr", "add", "10.88.0.2/24", "dev", vb)
    sh("ip", "-n", b, "addr", "add", "fd88::2/64", "dev", vb, "nodad")
    for ns, v in ((a, va), (b, vb)):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", v, "up")

    def in_ns(ns, cmd, timeout=30):
        return subprocess.run(["nsenter", "--net=/run/netns/" + ns] + cmd, capture_output=True,
                              text=True, timeout=timeout)

    def xdp_status():
        r = in_ns(b, [cli, "xdp", "status", vb, "--top", "5"])
        return r.returncode, r.stdout + r.stderr

    def counter(txt, name):
        m = re.search(r"^%s\s+(\d+)\s" % name, txt, re.M)
        return int(m.group(1)) if m else -1

    def gen(dest, packets, seed):
        r = in_ns(a, [cli, "gen", "--version", "10", "--per-packet", "12", "--exporters", "2",
                      "--seed", str(seed), "--send", dest, "--packets", str(packets),
                      "--rate", "2000"], timeout=60)
        m = re.search(r"sent (\d+) packets, (\d+) records", r.stderr)
        if r.returncode or not m:
            fail("flowdelta gen --send %s: %s" % (dest, r.stderr))
        print(r.stderr.strip())
        if "refused" in r.stderr:
            fail("exports refused: they went to the kernel, not to AF_XDP")
        return int(m.group(1)), int(m.group(2))

    slaves = Slaves(tmp, ack=True, ns=b)
    slaves.start_all()
    sport = free_port()
    port_extra = ("    xdp:\n      program: %s\n      allowlist: [10.88.0.1/32, \"fd88::1/128\"]\n"
                  "      exporter_stats: true\n" % obj)
    cfg = config(tmp, prefix, "net_af_xdp0,iface=%s" % vb, slaves, "flow-hash",
                 plugins=[pmd("net_af_xdp")], ctl=True, stats_port=sport, port_extra=port_extra)
    ctl = os.path.join(tmp, "ctl.sock")
    want = {"packets": 0, "records": 0, "bad": 0}
    status = {}

    def during(p):
        # the dataplane is up once its ports and allow-list are in the maps
        deadline = time.time() + 30
        txt = ""
        while time.time() < deadline and p.poll() is None:
            rc, txt = xdp_status()
            if rc == 0 and re.search(r"^ports\s+2055\s*$", txt, re.M) and \
                    "allow-list enforced" in txt:
                break
            time.sleep(0.3)
        else:
            print(txt)
            print(open(os.path.join(tmp, "dp.stderr")).read())
            fail("the dataplane did not attach and configure flow_steer on %s" % vb)
        print(txt.split("\n\n")[0])
        # the kernel path: ping, ping -6, a 100 KB TCP echo on the same veth
        for target in ("10.88.0.2", "fd88::2"):
            r = in_ns(a, ["ping", "-c", "3", "-i", "0.2", "-W", "2", target])
            if r.returncode:
                fail("ping %s through the kernel: %s" % (target, r.stdout + r.stderr))
            print("ok: ping %s through the kernel" % target)
        srv = start([sys.executable, "-c",
                     "import socket\n"
                     "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                     "s.bind(('10.88.0.2',7070));s.listen(1);s.settimeout(20)\n"
                     "c,_=s.accept();c.settimeout(10);d=b''\n"
                     "while not d.endswith(b'\\n'):\n"
                     "  x=c.recv(65536)\n"
                     "  if not x: break\n"
                     "  d+=x\n"
                     "c.sendall(d);c.close()\n"], ns=b, nsenter=True)
        cl = ("import socket,sys,time\n"
              "m=b'x'*100000+b'\\n'\n"
              "for i in range(20):\n"
              "  try: s=socket.create_connection(('10.88.0.2',7070),timeout=5);break\n"
              "  except OSError: time.sleep(0.2)\n"
              "s.sendall(m);g=b''\n"
              "while len(g)<len(m):\n"
              "  x=s.recv(65536)\n"
              "  if not x: break\n"
              "  g+=x\n"
              "sys.exit(0 if g==m else 1)\n")
        r = in_ns(a, [sys.executable, "-c", cl])
        if r.returncode:
            fail("TCP echo through the kernel: %s" % r.stderr)
        srv.wait(10)
        print("ok: 100 KB TCP echo through the kernel")
        # allowed exporters, IPv4 and IPv6
        for dest, n, seed in (("10.88.0.2:2055", 300, 1), ("[fd88::2]:2055", 100, 2)):
            pk, rec = gen(dest, n, seed)
            want["packets"] += pk
            want["records"] += rec
        # an exporter outside the allow-list: the kernel picks 10.88.0.9 as
        # source for this route
        sh("ip", "-n", a, "route", "replace", "10.88.0.2/32", "dev", va, "src", "10.88.0.9")
        pk, _ = gen("10.88.0.2:2055", 60, 3)
        want["bad"] += pk
        time.sleep(0.5)
        rc, txt = xdp_status()
        status["before"] = txt
        # live: the control socket widens the allow-list; .9 now gets through
        rep = ctl_cmd(ctl, "xdp-allow p0 10.88.0.1/32,10.88.0.9/32,fd88::1/128")
        if not rep.startswith("ok"):
            fail("xdp-allow: %s" % rep)
        bad = ctl_cmd(ctl, "xdp-allow p0 10.88.0.300/32")
        if not bad.startswith("error"):
            fail("xdp-allow accepted a bad prefix")
        pk, rec = gen("10.88.0.2:2055", 40, 4)
        want["packets"] += pk
        want["records"] += rec
        sh("ip", "-n", a, "route", "del", "10.88.0.2/32", "dev", va)
        # drain: wait (bounded) until nothing is queued, then SIGTERM
        code = ("import sys,urllib.request,time\n"
                "end=time.time()+10\n"
                "while time.time()<end:\n"
                "  try:\n"
                "    t=urllib.request.urlopen(sys.argv[1],timeout=2).read().decode()\n"
                "    v=dict(l.rsplit(' ',1) for l in t.splitlines() if l.startswith('flowdelta_dp_records_'))\n"
                "    if int(v['flowdelta_dp_records_decoded_total'])>=int(sys.argv[2]) and v['flowdelta_dp_records_queued']=='0': break\n"
                "  except Exception: pass\n"
                "  time.sleep(0.1)\n")
        in_ns(b, [sys.executable, "-c", code, "http://127.0.0.1:%d/metrics" % sport,
                  str(want["records"])], timeout=20)
        rc, txt = xdp_status()
        status["after"] = txt
        r = in_ns(b, [sys.executable, "-c", "import sys,urllib.request;sys.stdout.write("
                      "urllib.request.urlopen(sys.argv[1],timeout=5).read().decode())",
                      "http://127.0.0.1:%d/metrics" % sport])
        status["metrics"] = r.stdout
        p.send_signal(signal.SIGTERM)

    st, out = run_dp(cfg, tmp, 60, ns=b, during=during, nsenter=True)
    print("\n".join(l for l in out.splitlines() if "xdp" in l or "conserved" in l))
    time.sleep(0.3)
    slaves.stop_all()
    res = slaves.results()
    before, after = status.get("before", ""), status.get("after", "")
    print(after)
    rx = st.get('flowdelta_dp_port_rx_packets_total{port="p0"}', 0)
    print("good exports sent %d packets / %d records, from the unlisted source %d packets; "
          "port rx %d" % (want["packets"], want["records"], want["bad"], rx))
    if counter(before, "drop_unknown_exporter") != want["bad"]:
        fail("drop_unknown_exporter = %d, want %d (exports from 10.88.0.9 before it was "
             "allowed)" % (counter(before, "drop_unknown_exporter"), want["bad"]))
    if counter(after, "drop_unknown_exporter") != want["bad"]:
        fail("exports from 10.88.0.9 still dropped after xdp-allow")
    if counter(after, "redirect_xsk") != want["packets"]:
        fail("redirect_xsk = %d, want %d" % (counter(after, "redirect_xsk"), want["packets"]))
    if counter(after, "pass_no_xsk") != 0:
        fail("pass_no_xsk = %d: exports went to the kernel" % counter(after, "pass_no_xsk"))
    if counter(after, "pass_not_udp") <= 0:
        fail("the program saw no ICMP/TCP (kernel path not exercised)")
    if rx != want["packets"]:
        fail("the dataplane received %d packets, %d were steered to it" % (rx, want["packets"]))
    check_conservation(st, want["records"], res)
    # the same counters in the dataplane's Prometheus metrics, with the
    # per-exporter table: every steered export under its source address
    m = {}
    for line in status.get("metrics", "").splitlines():
        k, _, v = line.rpartition(" ")
        if k.startswith("flowdelta_dp_xdp_"):
            m[k] = int(v)
    xc = lambda c: m.get('flowdelta_dp_xdp_packets_total{port="p0",counter="%s"}' % c, -1)
    if xc("drop_unknown_exporter") != want["bad"] or xc("redirect_xsk") != want["packets"]:
        fail("metrics: drop_unknown_exporter %d redirect_xsk %d, want %d and %d" %
             (xc("drop_unknown_exporter"), xc("redirect_xsk"), want["bad"], want["packets"]))
    per = {k: v for k, v in m.items() if k.startswith("flowdelta_dp_xdp_exporter_packets_total")}
    print("\n".join("%s %d" % kv for kv in sorted(per.items())))
    if sum(per.values()) != want["packets"]:
        fail("metrics: per-exporter packets add up to %d, %d were steered" %
             (sum(per.values()), want["packets"]))
    for e in ("10.88.0.1", "10.88.0.9", "fd88::1"):
        if 'flowdelta_dp_xdp_exporter_packets_total{port="p0",exporter="%s",flow_port="2055"}' % e \
                not in per:
            fail("metrics: no per-exporter counter for %s" % e)
    print("ok: XDP counters and per-exporter counters in the dataplane's metrics")
    # shutdown: program detached, pins gone
    r = subprocess.run(["ip", "-n", b, "link", "show", vb], capture_output=True, text=True)
    if "xdp" in r.stdout:
        fail("XDP program still attached after shutdown: %s" % r.stdout)
    if os.path.exists("/sys/fs/bpf/flowdelta/" + vb):
        fail("pins left in /sys/fs/bpf/flowdelta/%s" % vb)
    print("ok: program detached and pins removed at shutdown")


def t_netns_xdp_frame(tmp):
    """Datagrams longer than a default mbuf on net_af_xdp (veth MTU 3500):
    with the default mbuf_data_room the kernel drops them before DPDK and
    the dataplane counts every one (flowdelta_dp_port_xsk_rx_dropped_total
    = packets steered), none vanishes; with mbuf_data_room: 3840 the same
    exports are decoded and delivered exactly."""
    cli, obj, a, b, va, vb, prefix, sh = xdp_netns_pair("fdfr", ("ip", "nsenter"))
    sh("ip", "-n", a, "addr", "add", "10.87.0.1/24", "dev", va)
    sh("ip", "-n", b, "addr", "add", "10.87.0.2/24", "dev", vb)
    for ns, v in ((a, va), (b, vb)):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        # 3500: the largest MTU native XDP on a veth takes (one page per frame)
        sh("ip", "-n", ns, "link", "set", v, "mtu", "3500", "up")

    def gen(packets, seed):
        # 40 IPv4 records: ~2.4 KB datagrams, above the 1792-byte frame a
        # default mbuf gives net_af_xdp, below the MTU (not fragmented)
        r = subprocess.run(["nsenter", "--net=/run/netns/" + a, cli, "gen", "--version", "10",
                            "--per-packet", "40", "--v6-share", "0", "--exporters", "2",
                            "--seed", str(seed), "--send", "10.87.0.2:2055",
                            "--packets", str(packets), "--rate", "500"],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"sent (\d+) packets, (\d+) records", r.stderr)
        if r.returncode or not m:
            fail("flowdelta gen --send: %s" % r.stderr)
        return int(m.group(1)), int(m.group(2))

    for room, fits in ((0, False), (3840, True)):
        run = os.path.join(tmp, "room%d" % room)
        os.makedirs(run)
        slaves = Slaves(run, ack=True, ns=b)
        slaves.start_all()
        sport = free_port()
        cfg = config(run, prefix, "net_af_xdp0,iface=%s" % vb, slaves, "flow-hash",
                     plugins=[pmd("net_af_xdp")], stats_port=sport,
                     port_extra="    xdp:\n      program: %s\n" % obj,
                     extra_top="mbuf_data_room: %d\n" % room if room else "")
        sent = {}

        def during(p):
            deadline = time.time() + 30
            while time.time() < deadline and p.poll() is None:
                r = subprocess.run(["nsenter", "--net=/run/netns/" + b, cli, "xdp", "status", vb],
                                   capture_output=True, text=True)
                if r.returncode == 0 and re.search(r"^ports\s+2055\s*$", r.stdout, re.M):
                    break
                time.sleep(0.3)
            else:
                # say why: the dataplane's own log (it may have exited)
                log = os.path.join(run, "dp.stderr")
                print(open(log).read()[-3000:] if os.path.exists(log) else "(no dataplane log)")
                fail("the dataplane did not configure flow_steer on %s (%s)" %
                     (vb, "exited %s" % p.poll() if p.poll() is not None else "still running after 30 s"))
            sent["packets"], sent["records"] = gen(200, 7)
            time.sleep(1.5)
            r = subprocess.run(["nsenter", "--net=/run/netns/" + b, cli, "xdp", "status", vb],
                               capture_output=True, text=True)
            m = re.search(r"^redirect_xsk\s+(\d+)\s", r.stdout, re.M)
            sent["steered"] = int(m.group(1)) if m else -1
            if sent["steered"] != sent["packets"]:
                print(r.stdout)
                subprocess.run(["ip", "-n", b, "-s", "link", "show", vb])
            p.send_signal(signal.SIGTERM)

        st, out = run_dp(cfg, run, 60, ns=b, during=during, nsenter=True)
        time.sleep(0.3)
        slaves.stop_all()
        res = slaves.results()
        rx = st.get('flowdelta_dp_port_rx_packets_total{port="p0"}', 0)
        dropped = st.get('flowdelta_dp_port_xsk_rx_dropped_total{port="p0"}', -1)
        print("mbuf_data_room %s: sent %d packets / %d records, steered to AF_XDP %d; port rx %d, "
              "xsk_rx_dropped %d" % (room or "default", sent["packets"], sent["records"],
                                     sent["steered"], rx, dropped))
        if sent["steered"] != sent["packets"]:
            fail("the program steered %d of %d packets to AF_XDP" % (sent["steered"], sent["packets"]))
        print("\n".join(l for l in out.splitlines() if "frames up to" in l))
        if fits:
            if rx != sent["packets"] or dropped != 0:
                fail("with mbuf_data_room %d: port rx %d, xsk_rx_dropped %d, want %d and 0" %
                     (room, rx, dropped, sent["packets"]))
            check_conservation(st, sent["records"], res)
        elif rx != 0 or dropped != sent["packets"]:
            fail("default mbuf_data_room: port rx %d, xsk_rx_dropped %d; want 0 and %d "
                 "(every oversized frame counted)" % (rx, dropped, sent["packets"]))
    # a data room the PMD cannot use without hugepages: refused, naming the key
    slaves = Slaves(tmp, ack=True)
    cfg = config(tmp, prefix, "net_af_xdp0,iface=%s" % vb, slaves, "flow-hash",
                 plugins=[pmd("net_af_xdp")], extra_top="mbuf_data_room: 8192\n")
    r = subprocess.run(["nsenter", "--net=/run/netns/" + b, EXE, "--config", cfg],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 0 or "mbuf_data_room: 8192 too large" not in r.stderr:
        fail("mbuf_data_room 8192 on net_af_xdp without hugepages: rc %d, %s" %
             (r.returncode, r.stderr[-500:]))
    print("ok: mbuf_data_room 8192 refused: " + [l for l in r.stderr.splitlines()
                                                 if "mbuf_data_room" in l][0])


SCEN = {
    "config": t_config,
    "pcap-flow-hash": t_flow_hash,
    "pcap-round-robin": t_round_robin,
    "pcap-source": t_source,
    "pcap-malformed": t_malformed,
    "pcap-late-slave": t_late_slave,
    "pcap-plain-slave": t_plain_slave,
    "pcap-slow-slave": t_slow_slave,
    "pcap-spool-restart": t_spool_restart,
    "pcap-gen": t_gen,
    "pcap-idle-sleep": t_idle_sleep,
    "replay-ring": t_replay_ring,
    "netns-kill-slave": t_netns_kill_slave,
    "netns-live-reconfig": t_netns_live_reconfig,
    "netns-af-xdp": t_netns_af_xdp,
    "netns-xdp-steer": t_netns_xdp_steer,
    "netns-xdp-frame": t_netns_xdp_frame,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCEN:
        print("usage: run_test.py {%s}" % ",".join(SCEN))
        return 2
    for v, n in ((EXE, "DP_EXE"), (MKPCAP, "DP_MKPCAP"), (SINK, "DP_SINK")):
        if not v or not os.path.exists(v):
            skip("%s not set or missing" % n)
    if sys.argv[1] != "config" and os.geteuid() != 0:
        skip("DPDK with --no-huge needs root here")
    tmp = tempfile.mkdtemp(prefix="fddp-")
    rc = 0
    try:
        SCEN[sys.argv[1]](tmp)
        print("PASS")
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for c in reversed(cleanups):
            c()
        # DPDK's runtime directory of our file prefixes
        for d in ("fddp-%d" % os.getpid(), "fddp-ns%d" % (os.getpid() % 10000)):
            shutil.rmtree(os.path.join("/var/run/dpdk", d), ignore_errors=True)
        if rc == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
