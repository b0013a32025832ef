#!/usr/bin/env python3
"""bench_capacity.py — capacity of one dataplane worker core (issue 3, bench).

Builds an in-memory replay: a pcap of IPFIX exports (N exporters, 30 records
per ~1.4 KB packet, a typical exporter template of 47-byte records, template
sets every 20 packets), replayed by net_pcap with infinite_rx=1 into one
worker lcore → decode → flow-hash over 3 slaves → message buffers → rings →
senders with `discard: true` slaves (they free messages without a socket,
so the measurement is the worker, not loopback TCP).

Prints records/s per worker core, Mpps and cycles per record (busy cycles of
the worker divided by records). Not a test: it never fails on slowness.

  bench_capacity.py DATAPLANE_EXE [--seconds S] [--exporters N] [--pmd-dir DIR]
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time


def ipfix_packets(exporters, packets_per_exporter, per_packet=30):
    # template: src4 dst4 sport dport proto tos flags pkts(4) bytes(4)
    #           start(8) end(8) in_if out_if  = 47 bytes
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (5, 1), (6, 1), (2, 4), (1, 4),
              (152, 8), (153, 8), (10, 2), (14, 2)]
    rec_len = sum(l for _, l in fields)
    tset = struct.pack("!HH", 256, len(fields)) + b"".join(struct.pack("!HH", i, l) for i, l in fields)
    tset = struct.pack("!HH", 2, 4 + len(tset)) + tset
    seq = [0] * exporters
    out = []
    base_ms = 1767225600000
    for k in range(packets_per_exporter):
        for e in range(exporters):
            recs = []
            for r in range(per_packet):
                n = k * per_packet + r
                recs.append(struct.pack("!4s4sHHBBBIIQQHH",
                                        bytes([10, e & 255, (n >> 8) & 255, n & 255]),
                                        bytes([172, 16, (n >> 4) & 255, (n * 7) & 255]),
                                        1024 + n % 50000, 443 if n % 3 else 53, 6 if n % 3 else 17,
                                        0, 0x18, 1 + n % 20, 64 * (1 + n % 20),
                                        base_ms + n, base_ms + n + 1000, 1, 2))
            dset = struct.pack("!HH", 256, 4 + per_packet * rec_len) + b"".join(recs)
            body = (tset if k % 20 == 0 else b"") + dset
            hdr = struct.pack("!HHIII", 10, 16 + len(body), 1767225600, seq[e], 1)
            seq[e] += per_packet
            out.append((e, hdr + body))
    return out


def frame(e, payload):
    src = bytes([192, 0, 2, 1 + e % 250])
    dst = bytes([10, 99, 0, 2])
    udp = struct.pack("!HHHH", 40000 + e, 2055, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--exporters", type=int, default=16)
    ap.add_argument("--pmd-dir", default="/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0")
    ap.add_argument("--worker-lcore", type=int, default=1)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="fddp-bench-")
    pcap = os.path.join(tmp, "bench.pcap")
    pkts = ipfix_packets(a.exporters, 4000 // a.exporters)
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (e, p) in enumerate(pkts):
            fr = frame(e, p)
            f.write(struct.pack("<IIII", 1767225600 + i // 1000, (i % 1000) * 1000, len(fr), len(fr)))
            f.write(fr)
    cfg = os.path.join(tmp, "bench.yaml")
    with open(cfg, "w") as f:
        f.write("""eal:
  lcores: "0,%d"
  main_lcore: 0
  memory_mb: 1024
  no_huge: true
  no_pci: true
  file_prefix: fddp-bench%d
  plugins: [%s/librte_net_pcap.so, %s/librte_mempool_ring.so]
mbufs: 32768
ports:
  - name: replay
    vdev: "net_pcap0,rx_pcap=%s,infinite_rx=1"
workers:
  - {lcore: %d, port: replay}
flow_ports: [2055]
group:
  model: flow-hash
  slaves:
    - {name: d1, host: discard, port: 1, discard: true}
    - {name: d2, host: discard, port: 1, discard: true}
    - {name: d3, host: discard, port: 1, discard: true}
senders:
  cpus: "0"
  ring_size: 64
  window: 64
spool:
  dir: %s/spool
""" % (a.worker_lcore, os.getpid(), a.pmd_dir, a.pmd_dir, pcap, a.worker_lcore, tmp))
    stats = os.path.join(tmp, "stats.txt")
    t0 = time.time()
    r = subprocess.run([a.exe, "--config", cfg, "--run-seconds", str(a.seconds), "--stats-out", stats],
                       capture_output=True, text=True, timeout=a.seconds + 60)
    wall = time.time() - t0
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        return 1
    st = {}
    for line in open(stats):
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\d+)$", line.strip())
        if m:
            st[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    recs = st['flowdelta_dp_worker_records_total{worker="0"}']
    pk = st['flowdelta_dp_worker_rx_packets_total{worker="0"}']
    busy = st['flowdelta_dp_worker_busy_cycles_total{worker="0"}']
    cpu = st.get('flowdelta_dp_worker_cpu_ns_total{worker="0"}', 0) / 1e9
    tsc = re.search(r"tsc_hz (\d+)", r.stderr)
    hz = int(tsc.group(1)) if tsc else 0
    secs = busy / hz if hz else a.seconds
    print("pcap: %d packets, %d exporters, 30 records/packet (IPFIX, 47-byte records)" % (len(pkts), a.exporters))
    print("worker: %d packets, %d records in %.2f s of busy polling (run %ds, wall %.1fs)" % (
        pk, recs, secs, a.seconds, wall))
    print("worker thread CPU time: %.2f s (the rest of the run the core was given to others)" % cpu)
    print("records/s per worker core (CPU time): %.2f M   [per wall second: %.2f M]" % (
        recs / cpu / 1e6, recs / secs / 1e6))
    print("packets/s per worker core (CPU time): %.3f Mpps" % (pk / cpu / 1e6))
    print("cycles/record: %.1f   cycles/packet: %.0f  (CPU time x TSC %.2f GHz)" % (
        cpu * hz / max(recs, 1), cpu * hz / max(pk, 1), hz / 1e9))
    print("delivered to discarding slaves: %d, dropped: %d (%s)" % (
        st["flowdelta_dp_records_delivered_total"], st["flowdelta_dp_records_dropped_total"],
        ", ".join("%s=%d" % (k.split('"')[1], v) for k, v in st.items()
                  if k.startswith("flowdelta_dp_records_dropped_by_reason_total") and v)))
    print("conservation: %s" % ("ok" if st["flowdelta_dp_conservation_ok"] else "MISMATCH"))
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree("/var/run/dpdk/fddp-bench%d" % os.getpid(), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
