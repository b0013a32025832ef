#!/usr/bin/env python3
"""tshark_diff.py — differential test of `flowdelta gen` + `flowdelta decode`
against tshark, an independent NetFlow/IPFIX decoder (STYLE §21).

gen and lib/flow could share a misreading of a format and still agree with
each other; tshark cannot. For v5, v9 and IPFIX (IPv6 flows and strings
included) every record `flowdelta decode --format jsonl` prints must match
tshark's decode of the same pcap field by field, in the same order.

    tshark_diff.py FLOWDELTA TMPDIR     (exit 77 = skipped: no tshark)
"""
import datetime
import json
import shutil
import subprocess
import sys

FD, TMP = sys.argv[1], sys.argv[2]

# tshark field → jsonl key, for plain integer fields
INTS = {
    "cflow.srcport": "src_port", "cflow.dstport": "dst_port", "cflow.protocol": "proto",
    "cflow.inputint": "in_if", "cflow.outputint": "out_if", "cflow.srcas": "src_as",
    "cflow.dstas": "dst_as", "cflow.srcmask": "src_mask", "cflow.srcmaskv6": "src_mask",
    "cflow.dstmask": "dst_mask", "cflow.dstmaskv6": "dst_mask", "cflow.direction": "direction",
    "cflow.vlanid": "vlan", "cflow.packets": "packets", "cflow.packets64": "packets",
    "cflow.octets": "bytes", "cflow.octets64": "bytes",
}
HEX = {"cflow.tcpflags": "tcp_flags", "cflow.tos": "tos"}
ADDRS = {
    "cflow.srcaddr": "src_addr", "cflow.srcaddrv6": "src_addr", "cflow.dstaddr": "dst_addr",
    "cflow.dstaddrv6": "dst_addr", "cflow.nexthop": "next_hop", "cflow.nexthopv6": "next_hop",
}
STRS = {"cflow.appl_name": "app", "cflow.http_request_host": "http_host",
        "cflow.http_request_target": "url"}


def abs_ms(text):
    """'Dec 31, 2025 23:59:35.548000000 UTC' → ms since the epoch."""
    text = " ".join(text.split()).replace(" UTC", "")
    whole, frac = text.split(".")
    t = datetime.datetime.strptime(whole, "%b %d, %Y %H:%M:%S")
    t = t.replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1000 + int(frac[:3].ljust(3, "0"))


def secs_ms(text):
    whole, _, frac = text.partition(".")
    return int(whole) * 1000 + int(frac[:3].ljust(3, "0") or 0)


def flows_of(node):
    """Flow records of a cflow layer, in packet order."""
    for v in node.values():
        if isinstance(v, dict):
            if "cflow.srcport" in v or "cflow.protocol" in v:
                yield v
            else:
                yield from flows_of(v)


def tshark_records(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==2055,cflow", "-T", "json"],
                         check=True, capture_output=True).stdout
    recs = []
    for pkt in json.loads(out):
        layers = pkt["_source"]["layers"]
        cf = layers["cflow"]
        exporter = layers.get("ip", {}).get("ip.src") or layers["ipv6"]["ipv6.src"]
        hdr_ms = abs_ms(cf["cflow.timestamp"])
        up_ms = secs_ms(cf["cflow.sysuptime"]) if "cflow.sysuptime" in cf else None
        for f in flows_of(cf):
            r = {"exporter": exporter}
            for k, v in f.items():
                if k in INTS:
                    r[INTS[k]] = int(v)
                elif k in HEX:
                    r[HEX[k]] = int(v, 16)
                elif k in ADDRS:
                    r[ADDRS[k]] = v
                elif k in STRS:
                    r[STRS[k]] = v
            td = f.get("cflow.timedelta_tree", {})
            if "cflow.abstimestart" in td:
                r["first_ms"] = abs_ms(td["cflow.abstimestart"])
                r["last_ms"] = abs_ms(td["cflow.abstimeend"])
            else:  # sysUpTime-relative (v5, v9)
                r["first_ms"] = hdr_ms - up_ms + secs_ms(td["cflow.timestart"])
                r["last_ms"] = hdr_ms - up_ms + secs_ms(td["cflow.timeend"])
            recs.append(r)
    return recs


def main():
    if not shutil.which("tshark"):
        print("tshark not installed: skipped")
        return 77
    cases = [
        ("v5", ["--version", "5"]),
        ("v9", ["--version", "9", "--v6-share", "0.3"]),
        ("ipfix", ["--version", "10", "--v6-share", "0.3", "--strings"]),
    ]
    for name, args in cases:
        pcap = f"{TMP}/diff-{name}.pcap"
        subprocess.run([FD, "gen", "--exporters", "3", "--flows", "200", "--pcap", pcap] + args,
                       check=True, capture_output=True)
        ours = [json.loads(l) for l in subprocess.run(
            [FD, "decode", "--format", "jsonl", pcap], check=True,
            capture_output=True, text=True).stdout.splitlines()]
        theirs = tshark_records(pcap)
        assert len(ours) == len(theirs) == 600, (name, len(ours), len(theirs))
        for i, (a, b) in enumerate(zip(ours, theirs)):
            for k, v in b.items():
                if a.get(k) != v:
                    print(f"{name} record {i}: {k}: flowdelta {a.get(k)!r} != tshark {v!r}")
                    print(" flowdelta:", a)
                    print(" tshark:   ", b)
                    return 1
            for k in STRS.values():
                assert (k in a) == (k in b), (name, i, k)
        print(f"{name}: {len(ours)} records agree with tshark")
    return 0


if __name__ == "__main__":
    sys.exit(main())
