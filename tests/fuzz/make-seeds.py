#!/usr/bin/env python3
"""make-seeds.py — write the seed corpora of the lib/flow fuzz targets.

  tests/fuzz/make-seeds.py [--pcaps DIR] [--out tests/fuzz/corpus]

Two sources:
  * the shared conformance captures (../shared/pcaps, grouped as in
    tests/conformance/conformance.py): the UDP payloads of each exporter
    session, split by export version, become sessions in the input format of
    fuzz_flow.h; the IPFIX messages also become TCP streams;
  * hand-made edge cases (built below, no capture needed): truncated
    headers, zero-length and overrunning sets, huge lengths, templates with
    0 fields, withdrawals, data before its template, variable-length fields,
    biflows, sampler and session-control options.

The output is committed, so a clean clone without ../shared still replays
it. Re-running rewrites the files deterministically (names are the content's
SHA-1, as libFuzzer names its own finds). python3 standard library only.
"""

import argparse
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SEED = 16384  # bytes: keeps libFuzzer's default max_len and exec speed sane

# ctl bits, fuzz_flow.h
FIX_VERSION = 0x04
FIX_LENGTH = 0x08


def session(dgrams, flags=0):
    """dgrams: list of (payload, ctl) -> one UDP-target input."""
    out = bytearray([flags])
    for payload, ctl in dgrams:
        out += bytes([ctl]) + struct.pack(">H", len(payload)) + payload
    return bytes(out)


def tcp_stream(chunks, flags=0):
    """chunks: list of (bytes, ctl) -> one fuzz_ipfix_tcp input."""
    return session(chunks, flags)


# ---------------------------------------------------------------- pcap reading

def read_udp(path):
    """Yield (src address bytes, dst port, payload) of each UDP datagram in a
    classic pcap (Ethernet with VLAN tags, or Linux cooked v1)."""
    data = open(path, "rb").read()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        end = "<"
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        end = ">"
    else:
        return
    linktype = struct.unpack_from(end + "I", data, 20)[0] & 0xffff
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(end + "I", data, off + 8)[0]
        pkt, off = off + 16, off + 16 + incl
        if linktype == 1:
            l3, et = pkt + 14, struct.unpack_from(">H", data, pkt + 12)[0]
            while et in (0x8100, 0x88a8):
                et = struct.unpack_from(">H", data, l3 + 2)[0]
                l3 += 4
        elif linktype == 113:
            l3, et = pkt + 16, struct.unpack_from(">H", data, pkt + 14)[0]
        else:
            return
        if et == 0x0800:
            ihl = (data[l3] & 0x0f) * 4
            if data[l3 + 9] != 17 or struct.unpack_from(">H", data, l3 + 6)[0] & 0x3fff:
                continue
            src, l4 = data[l3 + 12:l3 + 16], l3 + ihl
        elif et == 0x86dd:
            if data[l3 + 6] != 17:
                continue
            src, l4 = data[l3 + 8:l3 + 24], l3 + 40
        else:
            continue
        ulen = struct.unpack_from(">H", data, l4 + 4)[0]
        dport = struct.unpack_from(">H", data, l4 + 2)[0]
        yield src, dport, data[l4 + 8:min(l4 + ulen, off)]


def capture_seeds(pcaps):
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(HERE, "..", "conformance"))
    from conformance import GROUPS  # one list of sessions for both tests
    seeds = {"v5": [], "v9": [], "ipfix": [], "ipfix_tcp": []}
    for name, port, files in GROUPS:
        exporters = {}
        per_version = {5: [], 9: [], 10: []}
        for f in files:
            p = os.path.join(pcaps, f)
            if not os.path.exists(p):
                continue
            for src, dport, payload in read_udp(p):
                if dport != port or len(payload) < 2:
                    continue
                v = struct.unpack_from(">H", payload, 0)[0]
                if v not in per_version:
                    continue
                idx = exporters.setdefault(bytes(src), len(exporters)) & 3
                per_version[v].append((payload, idx))
        for v, target in ((5, "v5"), (9, "v9"), (10, "ipfix")):
            for chunk in split(per_version[v]):
                seeds[target].append(session(chunk))
        # IPFIX over TCP: the same messages as one stream, whole and cut
        # into 97-byte chunks (message boundaries fall inside chunks).
        msgs = [p for p, _ in per_version[10]]
        for chunk in split([(m, 0) for m in msgs]):
            stream = b"".join(m for m, _ in chunk)
            seeds["ipfix_tcp"].append(tcp_stream([(stream, 0)]))
            cut = [(stream[i:i + 97], 0) for i in range(0, len(stream), 97)]
            seeds["ipfix_tcp"].append(tcp_stream(cut, 0x04))
    return seeds


def split(dgrams):
    """Cut a session into seeds of at most MAX_SEED bytes (later pieces start
    without their templates: they exercise parking and no_template)."""
    out, cur, size = [], [], 1
    for d in dgrams:
        if cur and size + 3 + len(d[0]) > MAX_SEED:
            out.append(cur)
            cur, size = [], 1
        cur.append(d)
        size += 3 + len(d[0])
    if cur:
        out.append(cur)
    return out


# ---------------------------------------------------------------- builders

def v5(records, count=None, sampling=0, uptime=100000, secs=1700000000):
    hdr = struct.pack(">HHIIIIBBH", 5, len(records) if count is None else count,
                      uptime, secs, 0, 1, 0, 1, sampling)
    return hdr + b"".join(records)


def v5_rec(src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", proto=6, sport=1234, dport=80,
           pkts=10, octets=1000, first=99000, last=99900):
    return (src + dst + b"\x00\x00\x00\x00" + struct.pack(">HHIIIIHHBBBBHHBBH",
            1, 2, pkts, octets, first, last, sport, dport, 0, 0x1b, proto, 0, 64512, 64513,
            24, 16, 0))


def v9(flowsets, count=None, uptime=100000, secs=1700000000, seq=0, source_id=0):
    n = len(flowsets) if count is None else count
    return struct.pack(">HHIIII", 9, n, uptime, secs, seq, source_id) + b"".join(flowsets)


def v9_set(set_id, body, length=None):
    return struct.pack(">HH", set_id, 4 + len(body) if length is None else length) + body


def tmpl(tid, fields, count=None):
    """fields: (ie, len) or (ie, len, pen)."""
    body = struct.pack(">HH", tid, len(fields) if count is None else count)
    for f in fields:
        if len(f) == 3:
            body += struct.pack(">HHI", f[0] | 0x8000, f[1], f[2])
        else:
            body += struct.pack(">HH", f[0], f[1])
    return body


def v9_opt_tmpl(tid, scopes, opts):
    body = struct.pack(">HHH", tid, 4 * len(scopes), 4 * len(opts))
    for ie, ln in scopes + opts:
        body += struct.pack(">HH", ie, ln)
    return body


def ipfix(sets, odid=1, secs=1700000000, seq=0, length=None):
    body = b"".join(sets)
    n = 16 + len(body) if length is None else length
    return struct.pack(">HHIII", 10, n, secs, seq, odid) + body


def ipfix_set(set_id, body, length=None):
    return struct.pack(">HH", set_id, 4 + len(body) if length is None else length) + body


def ipfix_opt_tmpl(tid, scope_fields, fields):
    body = struct.pack(">HHH", tid, len(scope_fields) + len(fields), len(scope_fields))
    for f in scope_fields + fields:
        if len(f) == 3:
            body += struct.pack(">HHI", f[0] | 0x8000, f[1], f[2])
        else:
            body += struct.pack(">HH", f[0], f[1])
    return body


def varlen(b):
    if len(b) < 255:
        return bytes([len(b)]) + b
    return b"\xff" + struct.pack(">H", len(b)) + b


V4_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (5, 1), (2, 4), (1, 4),
             (22, 4), (21, 4), (10, 2), (14, 2), (16, 2), (17, 2), (9, 1), (13, 1), (15, 4),
             (61, 1), (58, 2)]


def v4_data():
    return (b"\x0a\x00\x00\x01\x0a\x00\x00\x02" + struct.pack(">HHBBBII", 1234, 443, 6, 0x12, 0,
            5, 500) + struct.pack(">IIHHHHBB", 99000, 99900, 1, 2, 64512, 64513, 24, 16) +
            b"\x0a\x00\x00\xfe" + b"\x00" + struct.pack(">H", 100))


IPFIX_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 2), (2, 8), (1, 8),
                (152, 8), (153, 8), (10, 4), (14, 4)]


def ipfix_data(i=0):
    return (struct.pack(">4s4sHHBHQQQQII", bytes([10, 0, 0, i & 255]), b"\x0a\x00\x01\x02",
            1000 + i, 53, 17, 0, 1, 64, 1699999999000, 1699999999500, 3, 4))


def hand_made():
    seeds = {"v5": [], "v9": [], "ipfix": [], "ipfix_tcp": []}
    S = seeds

    # --- NetFlow v5
    r = v5_rec()
    S["v5"] += [
        session([(v5([r, v5_rec(proto=1, sport=0, dport=0x0800)]), 0)]),
        session([(v5([]), 0)]),                                 # count 0
        session([(v5([r] * 30), 0)]),                           # the maximum
        session([(v5([r] * 31), 0)]),                           # one too many
        session([(v5([r], count=2), 0)]),                       # count beyond the data
        session([(v5([r])[:10], 0)]),                           # truncated header
        session([(v5([r])[:24 + 20], 0)]),                      # truncated record
        session([(v5([r], sampling=0x4064), 0)], flags=0x02),   # sampling + override
        session([(v5([v5_rec(first=200000, last=50)], uptime=1000), 0)]),  # uptime wrap
        session([(v5([r]), 0), (v5([r]), 1), (v5([r]), 2), (v5([r]), 3)], flags=0x01),
    ]

    # --- NetFlow v9
    t = v9_set(0, tmpl(256, V4_FIELDS))
    d = v9_set(256, v4_data())
    S["v9"] += [
        session([(v9([t, d]), 0)]),
        session([(v9([d, t]), 0)]),                             # data before template
        session([(v9([d]), 0), (v9([t]), 0x10)]),               # template 1 s later
        session([(v9([d]), 0), (v9([t]), 0x30)]),               # too late: parked data aged out
        session([(v9([t]), 0), (v9([d]), 0x50)]),               # template expired (4 s)
        session([(v9([v9_set(0, tmpl(256, []))]), 0)]),         # template with 0 fields
        session([(v9([v9_set(0, tmpl(256, V4_FIELDS, count=1000))]), 0)]),  # count overrun
        session([(v9([v9_set(0, tmpl(255, V4_FIELDS))]), 0)]),  # template id < 256
        session([(v9([v9_set(256, b"", length=0)]), 0)]),        # zero-length FlowSet
        session([(v9([v9_set(256, b"", length=3)]), 0)]),        # below the minimum
        session([(v9([v9_set(256, v4_data(), length=0xffff)]), 0)]),  # huge length
        session([(v9([v9_set(7, b"\x00" * 8)]), 0)]),             # reserved set id
        session([(v9([t, v9_set(256, v4_data()[:30])]), 0)]),    # record cut short
        session([(v9([v9_set(0, tmpl(256, [(8, 4), (1, 0xffff)])), d]), 0)]),  # huge field
        session([(v9([v9_set(0, tmpl(256, [(1, 0)])), v9_set(256, b"\x00" * 8)]), 0)]),
        session([(v9([t, d], count=0), 0)]),
        session([(v9([t, d])[:15], 0)]),                          # truncated header
        # sampler options (system scope IE 34/35, sampler id 48/50) then data
        session([(v9([v9_set(1, v9_opt_tmpl(300, [(1, 4)], [(34, 4), (35, 1)])),
                      v9_set(300, struct.pack(">IIB", 0, 100, 2) + b"\x00\x00\x00"),
                      v9_set(1, v9_opt_tmpl(301, [(1, 4)], [(48, 1), (49, 1), (50, 4)])),
                      v9_set(301, struct.pack(">IBBI", 0, 7, 2, 512) + b"\x00\x00"),
                      v9_set(0, tmpl(257, V4_FIELDS + [(48, 1)])),
                      v9_set(257, v4_data() + b"\x07")]), 0)]),
        # template redefined with another length, many templates
        session([(v9([t, d, v9_set(0, tmpl(256, V4_FIELDS[:4])), d]), 0)]),
        session([(v9([v9_set(0, tmpl(256 + i, V4_FIELDS)) for i in range(40)]), 0),
                 (v9([v9_set(256 + i, v4_data()) for i in range(40)]), 0)], flags=0x01),
        # IPv6 record with ICMPv6 type/code (IE 139)
        session([(v9([v9_set(0, tmpl(260, [(27, 16), (28, 16), (4, 1), (139, 2), (1, 4), (2, 4)])),
                      v9_set(260, bytes(range(16)) + bytes(range(16, 32)) + b"\x3a\x80\x00" +
                             struct.pack(">II", 100, 1))]), 2)]),
        # two exporters, same template id, different layouts
        session([(v9([t, d]), 0), (v9([v9_set(0, tmpl(256, V4_FIELDS[:2])),
                                       v9_set(256, b"\x01\x02\x03\x04\x05\x06\x07\x08")]), 1),
                 (v9([d]), 0)]),
    ]

    # --- IPFIX over UDP
    it = ipfix_set(2, tmpl(256, IPFIX_FIELDS))
    idata = ipfix_set(256, ipfix_data() + ipfix_data(1))
    strings_t = ipfix_set(2, tmpl(257, [(8, 4), (12, 4), (1, 8), (2, 8), (96, 0xffff),
                                        (460, 0xffff), (461, 0xffff), (1, 0xffff, 32473)]))
    strings_d = ipfix_set(257, b"\x0a\x00\x00\x01\x0a\x00\x00\x02" + struct.pack(">QQ", 9, 1) +
                          varlen(b"http") + varlen(b"example.com") +
                          varlen(b"/" + b"a" * 2000) + varlen(b"sni.example"))
    biflow_t = ipfix_set(2, tmpl(258, [(8, 4), (12, 4), (1, 8), (2, 8), (1, 8, 29305),
                                       (2, 8, 29305), (6, 1, 29305)]))
    biflow_d = ipfix_set(258, b"\x0a\x00\x00\x01\x0a\x00\x00\x02" +
                         struct.pack(">QQQQB", 100, 2, 300, 3, 0x10))
    S["ipfix"] += [
        session([(ipfix([it, idata]), 0)]),
        session([(ipfix([idata, it]), 0)]),                       # data before template
        session([(ipfix([it, idata], length=0xffff), 0)]),        # length beyond datagram
        session([(ipfix([it, idata], length=10), 0)]),            # length below header
        session([(ipfix([it, idata])[:12], 0)]),                  # truncated header
        session([(ipfix([ipfix_set(256, b"", length=0)]), 0)]),   # zero-length set
        session([(ipfix([ipfix_set(256, b"", length=4)]), 0)]),   # empty set
        session([(ipfix([ipfix_set(2, tmpl(256, []))]), 0)]),     # 0 fields = withdrawal
        session([(ipfix([it]), 0), (ipfix([ipfix_set(2, tmpl(256, []))]), 0),
                 (ipfix([idata]), 0)]),                           # UDP withdrawal: ignored
        session([(ipfix([ipfix_set(2, tmpl(2, []))]), 0)]),       # withdraw all (id 2)
        session([(ipfix([ipfix_set(3, ipfix_opt_tmpl(300, [], [(34, 4)]))]), 0)]),  # scope 0
        session([(ipfix([ipfix_set(4, b"\x00" * 4)]), 0)]),       # reserved set id
        session([(ipfix([strings_t, strings_d]), 0)]),            # variable length, > CAP
        session([(ipfix([strings_t, ipfix_set(257, b"\x0a\x00\x00\x01\x0a\x00\x00\x02" +
                                              b"\x00" * 16 + b"\xff\xff\xff")]), 0)]),  # varlen overrun
        session([(ipfix([strings_t, ipfix_set(257, b"\x00" * 24 + b"\xff")]), 0)]),  # cut 3-byte length
        session([(ipfix([biflow_t, biflow_d]), 0)]),
        # systemInitTimeMilliseconds (IE 160) option, then sysUpTime-relative data
        session([(ipfix([ipfix_set(3, ipfix_opt_tmpl(301, [(149, 4)], [(160, 8)])),
                         ipfix_set(301, struct.pack(">IQ", 1, 1699999000000)),
                         ipfix_set(2, tmpl(259, [(8, 4), (12, 4), (22, 4), (21, 4), (1, 4)])),
                         ipfix_set(259, b"\x0a\x00\x00\x01\x0a\x00\x00\x02" +
                                   struct.pack(">III", 1000, 2000, 99))]), 0)]),
        # selector options (IE 302/305/306) and a record that names the selector
        session([(ipfix([ipfix_set(3, ipfix_opt_tmpl(302, [(302, 8)], [(305, 4), (306, 4)])),
                         ipfix_set(302, struct.pack(">QII", 5, 1, 99)),
                         ipfix_set(2, tmpl(260, [(8, 4), (12, 4), (1, 4), (302, 8)])),
                         ipfix_set(260, b"\x0a\x00\x00\x01\x0a\x00\x00\x02" +
                                   struct.pack(">IQ", 9, 5))]), 0)], flags=0x02),
        # reduced-size encoding and odd lengths
        session([(ipfix([ipfix_set(2, tmpl(261, [(8, 4), (1, 3), (2, 1), (10, 1), (152, 5)])),
                         ipfix_set(261, b"\x0a\x00\x00\x01" + b"\x00\x01\x02" + b"\x05" +
                                   b"\x01" + b"\x00" * 5 + b"\x00\x00\x00")]), 0)]),
        # many messages, clock moving (template lifetime 4 s, park 2 s)
        session([(ipfix([it]), 0)] + [(ipfix([idata], seq=i), 0x10) for i in range(8)]),
        session([(ipfix([idata]), 0x08 | FIX_VERSION)] + [(ipfix([it, idata]), 0x28 | FIX_VERSION)]),
    ]

    # --- IPFIX over TCP
    m1 = ipfix([it, idata])
    m2 = ipfix([idata], seq=2)
    wd = ipfix([ipfix_set(2, tmpl(256, []))], seq=4)
    ctl_t = ipfix_set(3, ipfix_opt_tmpl(400, [(10, 8, 32473)], [(11, 8, 32473), (12, 4, 32473)]))
    ctl_d = ipfix_set(400, struct.pack(">QQI", 0x1234, 77, 1))
    S["ipfix_tcp"] += [
        tcp_stream([(m1 + m2, 0)]),
        tcp_stream([(bytes([b]), 0) for b in m1 + m2], flags=0x04),   # 1-byte chunks
        tcp_stream([(m1 + wd + m2, 0)]),                              # withdrawal honoured
        tcp_stream([(b"\x00garbage\x00" * 5 + m1, 0)]),               # resync
        tcp_stream([(b"\x00" * 65535, 0), (m1, 0)]),                  # beyond repair
        tcp_stream([(m1[:20], 0), (m2, 0x01), (m1, 0)]),              # reconnect mid-message
        tcp_stream([(ipfix([ctl_t, ctl_d]) + m1, 0)], flags=0x04),    # session control record
        tcp_stream([(struct.pack(">HH", 10, 0xffff) + b"\x00" * 200, 0)]),  # partial huge message
        tcp_stream([(ipfix([it]) + m2, 0), (m2, 0x01)]),              # new connection: no template
        tcp_stream([(m1 * 40, 0)] * 3, flags=0x04),                   # buffer pressure (push API)
    ]
    return seeds


def write(out, seeds):
    for target, items in seeds.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for blob in items:
            name = hashlib.sha1(blob).hexdigest()
            with open(os.path.join(d, name), "wb") as f:
                f.write(blob)
        print("%-10s %4d seeds, %7d bytes" % (target, len(items), sum(len(b) for b in items)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pcaps", default=os.environ.get(
        "FLOWDELTA_PCAPS", os.path.join(HERE, "..", "..", "..", "shared", "pcaps")))
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    seeds = hand_made()
    if os.path.isdir(a.pcaps):
        for k, v in capture_seeds(a.pcaps).items():
            seeds[k] += v
    else:
        print("make-seeds: %s not found: hand-made seeds only" % a.pcaps, file=sys.stderr)
    write(a.out, seeds)


if __name__ == "__main__":
    main()
