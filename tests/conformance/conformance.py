#!/usr/bin/env python3
"""conformance.py — differential test of `flowdelta decode` against tshark.

For every capture of the shared conformance set (../shared/pcaps), the
captures of one exporter session (template file, then data file) are fed
through one decoder with `flowdelta decode --format jsonl --port P FILES...`,
and the same bytes are dissected by tshark (`-T pdml`, the Wireshark cflow
dissector: an independent implementation). Flow records are paired and
compared field by field.

Where the two disagree on purpose, the expectation is rewritten here and the
reason is written next to it (see EXPLAINED below); everything else that
differs is a mismatch and fails the test.

Exit codes (meson): 0 pass, 1 mismatches, 77 skip (captures, tshark or the
decode command missing — the message says which), 99 harness error.

python3 standard library only.
"""

import argparse
import collections
import datetime
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SKIP = 77
HARD_ERROR = 99

# One decoder session per group: files are fed in this order, as the pcaps
# README says (template before data). Every .pcap under the capture folder
# must appear in exactly one group: a new capture without a group fails the
# test instead of being silently ignored.
GROUPS = [
    # name, UDP port, files
    ("akvorado/nfv5", 9990, ["akvorado/nfv5.pcap"]),
    ("akvorado/v9", 2055, ["akvorado/template.pcap", "akvorado/data.pcap"]),
    ("akvorado/data+templates", 2055, ["akvorado/data+templates.pcap"]),
    ("akvorado/options", 2055, ["akvorado/options-template.pcap", "akvorado/options-data.pcap"]),
    ("akvorado/samplingrate", 8096,
     ["akvorado/samplingrate-template.pcap", "akvorado/samplingrate-data.pcap"]),
    ("akvorado/multiplesamplingrates", 2055,
     ["akvorado/multiplesamplingrates-options-template.pcap",
      "akvorado/multiplesamplingrates-options-data.pcap",
      "akvorado/multiplesamplingrates-template.pcap",
      "akvorado/multiplesamplingrates-data.pcap"]),
    ("akvorado/icmp", 2100, ["akvorado/icmp-template.pcap", "akvorado/icmp-data.pcap"]),
    ("akvorado/nat", 2055, ["akvorado/nat.pcap"]),
    ("akvorado/ipfixprobe", 4739,
     ["akvorado/ipfixprobe-templates.pcap", "akvorado/ipfixprobe-data.pcap"]),
    ("akvorado/juniper-cpid", 2055,
     ["akvorado/juniper-cpid-template.pcap", "akvorado/juniper-cpid-data.pcap"]),
    ("akvorado/datalink", 2055, ["akvorado/datalink-template.pcap", "akvorado/datalink-data.pcap"]),
    ("akvorado/ipfix-srv6", 2055,
     ["akvorado/ipfix-srv6-template.pcap", "akvorado/ipfix-srv6-data.pcap"]),
    ("akvorado/ethernet-over-mpls", 2055,
     ["akvorado/ethernet-over-mpls-with-control-word-template.pcap",
      "akvorado/ethernet-over-mpls-with-control-word-data.pcap"]),
    ("akvorado/mpls", 2055, ["akvorado/mpls.pcap"]),
    ("akvorado/physicalinterfaces", 2055, ["akvorado/physicalinterfaces.pcap"]),
    ("pmacct/100", 9991, ["pmacct/100-IPFIXv10-CISCO__traffic-00.pcap"]),
    ("pmacct/101", 9991, ["pmacct/101-NFv9-CISCO-cust_primitives__traffic-00.pcap"]),
    ("pmacct/102", 9991, ["pmacct/102-NFv9-CISCO-f2rd-pretag-sampling-reload__traffic-00.pcap"]),
    ("pmacct/104", 9992, ["pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option__traffic-00.pcap"]),
    ("pmacct/106", 9991, ["pmacct/106-IPFIXv10-HUAWEI-vrf_name__traffic-00.pcap"]),
    # Two exporters (v9 over IPv4, IPFIX over IPv6) through one decoder:
    # their template scopes must stay apart.
    ("pmacct/111", 9991,
     ["pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources__traffic-00.pcap",
      "pmacct/111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources__traffic-01.pcap"]),
    ("pmacct/112", 9991, ["pmacct/112-IPFIXv10-CISCO-options-map-reassignment__traffic-00.pcap"]),
    ("pmacct/500", 9992, ["pmacct/500-IPFIXv10-BGP-CISCO-SRv6__traffic-00.pcap"]),
    ("pmacct/501", 9991, ["pmacct/501-IPFIXv10-BGP-IPv6-CISCO-MPLS__traffic-00.pcap"]),
    ("pmacct/502", 9991, ["pmacct/502-IPFIXv10-BGP-IPv6-CISCO-SRv6-lcomms__traffic-00.pcap"]),
    ("scapy/ipfix", 9995, ["scapy/ipfix.pcap"]),
    ("scapy/netflowv9", 2055, ["scapy/netflowv9.pcap"]),
]

# Why the expectation derived from tshark is not tshark's display value.
# Printed in the summary whenever a rule was used.
EXPLAINED = {
    "parked": "data set before its template: single-pass tshark cannot decode it "
              "('no template found'); flowdelta parks the set and decodes it when the "
              "template arrives. Expected records come from tshark's two-pass (-2) decode.",
    "tmpl-scope": "tshark scopes templates by transport 4-tuple, flowdelta by (exporter "
                  "address, ODID, version) as RFC 7011 §8 says: when an exporter's source "
                  "port changes, tshark cannot decode the data until the template is re-sent. "
                  "tshark reads a copy of the capture where each exporter keeps its first "
                  "source port (count: datagrams rewritten).",
    "uptime": "v5/v9 (and IPFIX IEs 21/22) times are sysUpTime-relative; tshark shows them "
              "relative, flowdelta converts to epoch ms: export_secs*1000 - sysUpTime + "
              "switched (IPFIX: systemInitTimeMilliseconds + switched).",
    "v5-nsecs": "NetFlow v5 header has unix_nsecs: both epoch_ms with and without it are "
                "accepted (the residual is below one second).",
    "ntp-frac": "IPFIX micro/nanosecond timestamps are NTP fractions; tshark prints them "
                "rounded down to the nanosecond (…059999), so ±1 ms is accepted.",
    "icmp": "ICMP/ICMPv6: flowdelta sets src_port 0 and dst_port = type*256+code "
            "(from icmpTypeCode IE 32/139 when exported, else the exported dst port).",
    "next-hop": "the canonical next_hop is the IP next hop (IE 15/62) or, when absent, "
                "the BGP next hop (IE 18/63): any exported candidate is accepted.",
    "vlan": "vlan is vlanId (IE 58) or dot1qVlanId (IE 243): either is accepted.",
    "absent": "a field the template does not carry is expected as zero.",
    "dual-stack": "template with both IPv4 and IPv6 address fields: the flow's family is "
                  "ipVersion (IE 60), else the non-zero IPv6 value, else IPv4.",
    "repeated-ie": "an IE repeated in one template (tunnel exports: outer header first, "
                   "inner after; RFC 7011 §8 'logical order of treatment'): the first "
                   "occurrence is expected, as tshark lists it first.",
    "options": "records of options templates (samplers, interfaces, system init time) "
               "configure the decoder and are not flow records.",
    "sampling": "sampling is not a tshark field: it is derived here from the sampler "
                "option records seen earlier from the same exporter domain (IE 34, 50, "
                "305/306, 309/310 keyed by IE 48/302) or the v5 header; 1 when none.",
    "sysinit-unknown": "IPFIX sysUpTime-relative times with no systemInitTimeMilliseconds "
                       "seen: the epoch conversion is undefined, first_ms/last_ms not compared.",
}

FIELDS = ["first_ms", "last_ms", "exporter", "odid", "exp_port", "version",
          "src_addr", "dst_addr", "src_port", "dst_port", "proto", "tcp_flags", "tos",
          "packets", "bytes", "in_if", "out_if", "src_as", "dst_as", "next_hop",
          "src_mask", "dst_mask", "direction", "vlan", "sampling",
          "rev_packets", "rev_bytes"]


def fail_hard(msg):
    print("conformance: error: " + msg, file=sys.stderr)
    sys.exit(HARD_ERROR)


def skip(msg):
    print("conformance: SKIP: " + msg)
    sys.exit(SKIP)


# ---------------------------------------------------------------- values

def norm_addr(v):
    """Address text -> ipaddress object; v4-mapped IPv6 folds to IPv4 so that
    '::ffff:1.2.3.4' and '1.2.3.4' compare equal."""
    if v is None or v == "":
        return None
    a = ipaddress.ip_address(v)
    if a.version == 6 and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


ZERO_ADDRS = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))


def norm_int(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("ingress",):
            return 0
        if s in ("egress",):
            return 1
        return int(s, 0)
    raise ValueError("not an integer: %r" % (v,))


STR_FIELDS = {"app": "cflow.application_name", "http_host": "cflow.http_request_host",
              "url": "cflow.http_request_target"}


def norm_ours(key, v):
    if key in STR_FIELDS or key == "sni":
        return v if v else None
    if key in ("exporter", "src_addr", "dst_addr", "next_hop"):
        return norm_addr(v) if v is not None else ZERO_ADDRS[0]
    if v is None:
        return 0
    return norm_int(v)


MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}


def abs_time_ms(show):
    """'Oct  5, 2009 06:06:07.492059999 UTC' -> epoch ms (floor). tshark runs
    with LC_ALL=C so month names are English."""
    parts = show.replace(",", "").split()
    mon, day, year, hms = parts[0], int(parts[1]), int(parts[2]), parts[3]
    hh, mm, ss = hms.split(":")
    sec, _, frac = ss.partition(".")
    frac = (frac + "000000000")[:9]
    dt = datetime.datetime(year, MONTHS[mon], day, int(hh), int(mm), int(sec),
                           tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1000 + int(frac) // 1000000


# ---------------------------------------------------------------- tshark side

class Field:
    __slots__ = ("name", "show", "showname", "value")

    def __init__(self, e):
        self.name = e.get("name", "")
        self.show = e.get("show", "")
        self.showname = e.get("showname", "")
        self.value = e.get("value", "")

    def raw_int(self):
        return int(self.value, 16)

    @property
    def reverse(self):
        return "(Reverse" in self.showname


def flow_fields(elem, out):
    """Flatten a Flow subtree into Fields, not descending into protocols
    tshark dissects inside a field (dataLinkFrameSection -> eth/ip/...)."""
    for c in elem:
        if c.tag != "field":
            continue
        if c.get("name"):
            out.append(Field(c))
        flow_fields(c, out)
    return out


def top_field(proto, name):
    for e in proto.iter("field"):
        if e.get("name") == name:
            return Field(e)
    return None


class Packet:
    def __init__(self):
        self.frame = 0
        self.exporter = None
        self.sport = 0
        self.dport = 0
        self.hdr = {}
        self.sets = []  # (set_id, template_frame or None, [flows], no_template, kind_defs)


def parse_pdml(xml_bytes):
    root = ET.fromstring(xml_bytes)
    pkts = []
    for p in root.iter("packet"):
        pk = Packet()
        cflow = None
        for proto in p.findall("proto"):
            n = proto.get("name")
            if n == "frame":
                f = top_field(proto, "frame.number")
                pk.frame = int(f.show)
            elif n == "ip" and pk.exporter is None:
                pk.exporter = norm_addr(top_field(proto, "ip.src").show)
            elif n == "ipv6" and pk.exporter is None:
                pk.exporter = norm_addr(top_field(proto, "ipv6.src").show)
            elif n == "udp":
                pk.sport = int(top_field(proto, "udp.srcport").show)
                pk.dport = int(top_field(proto, "udp.dstport").show)
            elif n == "cflow":
                cflow = proto
        if cflow is None:
            continue
        for c in cflow:
            if c.tag != "field":
                continue
            n = c.get("name")
            if n:
                pk.hdr[n] = Field(c)
                for cc in c.iter("field"):
                    if cc.get("name"):
                        pk.hdr.setdefault(cc.get("name"), Field(cc))
                continue
            show = c.get("show", "")
            if show.startswith("pdu "):  # NetFlow v5 record
                pk.sets.append(("v5", None, [flow_fields(c, [])], False, []))
            elif show.startswith("FlowSet") or show.startswith("Set "):
                pk.sets.append(parse_set(c))
        pkts.append(pk)
    return pkts


def parse_set(s):
    set_id = None
    tframe = None
    flows = []
    no_tmpl = False
    defs = []  # (template id, 'options'|'data')
    for c in s:
        n = c.get("name", "")
        if n == "cflow.flowset_id":
            set_id = int(c.get("show"))
        elif n == "cflow.template_frame":
            tframe = int(c.get("show"))
        elif n == "" and c.get("show", "").startswith("Flow "):
            flows.append(flow_fields(c, []))
        elif n == "" and "no template found" in c.get("show", ""):
            no_tmpl = True
        elif n == "" and ("Template (Id" in c.get("show", "")):
            tid = None
            for cc in c:
                if cc.get("name") == "cflow.template_id":
                    tid = int(cc.get("show"))
                    break
            if tid is not None:
                defs.append(tid)
    kind = None
    if set_id in (0, 2):
        kind = "data"
    elif set_id in (1, 3):
        kind = "options"
    return (set_id, tframe, flows, no_tmpl, [(t, kind) for t in defs])


def pin_source_ports(src, dst):
    """Copy a classic pcap, giving every UDP datagram of one exporter address
    the source port and destination address of its first datagram. Only
    tshark reads the copy: it scopes templates by transport 4-tuple, flowdelta
    by exporter address + ODID (RFC 7011 §8), so an exporter that changes its
    source port or collector address (pmacct/112 does both) would otherwise
    leave tshark without templates (EXPLAINED["tmpl-scope"]).
    The UDP checksum is left stale; tshark does not verify it by default.
    Returns the number of datagrams rewritten."""
    data = bytearray(open(src, "rb").read())
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        end = "<"
    elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
        end = ">"
    else:
        shutil.copyfile(src, dst)
        return 0
    linktype = struct.unpack_from(end + "I", data, 20)[0] & 0xffff
    first = {}
    changed = 0
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(end + "I", data, off + 8)[0]
        pkt = off + 16
        off = pkt + incl
        if linktype == 1:      # Ethernet, optional 802.1Q tags
            l3, et = pkt + 14, struct.unpack_from(">H", data, pkt + 12)[0]
            while et in (0x8100, 0x88a8) and l3 + 4 <= off:
                et = struct.unpack_from(">H", data, l3 + 2)[0]
                l3 += 4
        elif linktype == 113:  # Linux cooked v1
            l3, et = pkt + 16, struct.unpack_from(">H", data, pkt + 14)[0]
        else:
            continue
        if et == 0x0800 and l3 + 20 <= off:
            ihl = (data[l3] & 0x0f) * 4
            frag = struct.unpack_from(">H", data, l3 + 6)[0] & 0x1fff
            if data[l3 + 9] != 17 or frag:
                continue
            key, l4, daddr = bytes(data[l3 + 12:l3 + 16]), l3 + ihl, (l3 + 16, 4)
        elif et == 0x86dd and l3 + 40 <= off:
            if data[l3 + 6] != 17:
                continue
            key, l4, daddr = bytes(data[l3 + 8:l3 + 24]), l3 + 40, (l3 + 24, 16)
        else:
            continue
        if l4 + 8 > off:
            continue
        cur = (data[l4:l4 + 2], data[daddr[0]:daddr[0] + daddr[1]])
        want = first.setdefault(key, cur)
        if want != cur:
            data[l4:l4 + 2] = want[0]
            data[daddr[0]:daddr[0] + daddr[1]] = want[1]
            changed += 1
    open(dst, "wb").write(data)
    return changed


def run_tshark(pcap, port, two_pass):
    cmd = ["tshark", "-n", "-r", pcap, "-d", "udp.port==%d,cflow" % port, "-T", "pdml"]
    if two_pass:
        cmd.insert(1, "-2")
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    r = subprocess.run(cmd, capture_output=True, env=env)
    if r.returncode != 0:
        fail_hard("tshark failed on %s: %s" % (pcap, r.stderr.decode(errors="replace")[:500]))
    return parse_pdml(r.stdout)


def domain_key(pk):
    v = int(pk.hdr["cflow.version"].show)
    if v == 5:
        odid = (int(pk.hdr["cflow.engine_type"].show) << 8) | int(pk.hdr["cflow.engine_id"].show)
    elif v == 9:
        odid = int(pk.hdr["cflow.source_id"].show)
    else:
        odid = int(pk.hdr["cflow.od_id"].show)
    return (pk.exporter, odid, v)


class Oracle:
    """Expected flow records, built from tshark's dissection plus the
    decoder-side semantics listed in EXPLAINED."""

    def __init__(self, port):
        self.port = port
        self.records = []          # list of (expect dict, origin text)
        self.used = collections.Counter()
        self.tmpl_kind = {}        # (frame, template id) -> kind
        self.samplers = {}         # domain -> {sampler id or None: interval}
        self.sysinit = {}          # domain -> ms
        self.options_records = 0
        self.undecodable = 0       # sets neither pass could decode

    def build(self, pkts, pkts2):
        for pk in pkts:
            for (_sid, _tf, _fl, _nt, defs) in pk.sets:
                for tid, kind in defs:
                    self.tmpl_kind[(pk.frame, tid)] = kind
        by_frame2 = {pk.frame: pk for pk in pkts2}
        for pk2 in pkts2:
            for (_sid, _tf, _fl, _nt, defs) in pk2.sets:
                for tid, kind in defs:
                    self.tmpl_kind.setdefault((pk2.frame, tid), kind)
        # Data sets single-pass tshark could not decode wait here, keyed by
        # (domain, template id), until the set defining their template goes
        # by: then they are decoded, as flowdelta unparks them, with the
        # sampler state of that moment (EXPLAINED["parked"]).
        pending = collections.defaultdict(list)
        for pk in pkts:
            dom = domain_key(pk)
            pk2 = by_frame2.get(pk.frame)
            for i, (sid, tframe, flows, no_tmpl, defs) in enumerate(pk.sets):
                if no_tmpl:
                    if pk2 is None or i >= len(pk2.sets) or pk2.sets[i][3]:
                        self.undecodable += 1
                        continue
                    pending[(dom, pk2.sets[i][0])].append((pk, pk2.sets[i][2]))
                    continue
                if sid == "v5":
                    for fl in flows:
                        self.add(pk, fl, None)
                    continue
                if sid is not None and sid >= 256:
                    kind = self.tmpl_kind.get((tframe, sid), "data")
                    self.consume(dom, pk, flows, kind, None)
                for tid, kind in defs:
                    for ppk, pflows in pending.pop((dom, tid), []):
                        self.used["parked"] += 1
                        self.consume(dom, ppk, pflows, kind, "parked")
        self.undecodable += sum(len(v) for v in pending.values())

    def consume(self, dom, pk, flows, kind, why):
        for fl in flows:
            if kind == "options":
                self.options_records += 1
                self.used["options"] += 1
                self.learn_options(dom, fl)
            else:
                self.add(pk, fl, why)

    def learn_options(self, dom, fl):
        byname = collections.defaultdict(list)
        for f in fl:
            byname[f.name].append(f)

        def one(n):
            return int(byname[n][0].show, 0) if byname.get(n) else None
        if byname.get("cflow.sys_init_time"):
            self.sysinit[dom] = abs_time_ms(byname["cflow.sys_init_time"][0].show)
        sid = one("cflow.sampler_id")
        if sid is None:
            sid = one("cflow.selector_id")
        interval = self.interval_of(byname)
        if interval is not None:
            self.samplers.setdefault(dom, {})[sid] = interval

    @staticmethod
    def interval_of(byname):
        """1-in-N from the sampling fields of one record, or None."""
        def one(n):
            return int(byname[n][0].show, 0) if byname.get(n) else None
        if one("cflow.sampling_interval") is not None:
            return one("cflow.sampling_interval")
        if one("cflow.sampler_random_interval") is not None:
            return one("cflow.sampler_random_interval")
        pi = one("cflow.sampling_packet_interval")
        if pi:
            return (pi + (one("cflow.sampling_packet_space") or 0)) // pi
        sz = one("cflow.sampling_size")
        if sz and one("cflow.sampling_population"):
            return one("cflow.sampling_population") // sz
        return None

    def add(self, pk, fl, why):
        dom = domain_key(pk)
        version = dom[2]
        e = {}
        notes = set()
        if why:
            notes.add(why)
        byname = collections.defaultdict(list)
        rev = collections.defaultdict(list)
        for f in fl:
            (rev if f.reverse else byname)[f.name].append(f)

        def first(*names):
            for n in names:
                if byname.get(n):
                    return byname[n][0]
            return None

        def num(*names, base=0):
            f = first(*names)
            if f is None:
                notes.add("absent")
                return [0]
            return [int(f.show, base)]

        def addr(*names):
            f = first(*names)
            if f is None:
                notes.add("absent")
                return list(ZERO_ADDRS)
            return [norm_addr(f.show)]

        for n in ("cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6",
                  "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.tos",
                  "cflow.tcpflags", "cflow.packets", "cflow.octets"):
            if len(byname.get(n, [])) > 1:
                notes.add("repeated-ie")
        e["exporter"] = [pk.exporter]
        e["odid"] = [dom[1]]
        e["version"] = [version]
        e["exp_port"] = [self.port]
        ipver = first("cflow.ip_version")

        def dual(v4name, v6name):
            # Dual-stack templates carry IPv4 and IPv6 fields for the same
            # address: ipVersion (IE 60) says which one holds the flow's,
            # else the non-zero IPv6 one, else IPv4 (EXPLAINED["dual-stack"]).
            f4, f6 = first(v4name), first(v6name)
            if f4 is not None and f6 is not None:
                notes.add("dual-stack")
                a6 = norm_addr(f6.show)
                if ipver is not None:
                    return [a6] if int(ipver.show) == 6 else [norm_addr(f4.show)]
                return [a6] if a6 not in ZERO_ADDRS else [norm_addr(f4.show)]
            return addr(v4name, v6name)
        e["src_addr"] = dual("cflow.srcaddr", "cflow.srcaddrv6")
        e["dst_addr"] = dual("cflow.dstaddr", "cflow.dstaddrv6")
        e["proto"] = num("cflow.protocol")
        e["tcp_flags"] = num("cflow.tcpflags")
        e["tos"] = num("cflow.tos")
        e["packets"] = num("cflow.packets")
        e["bytes"] = num("cflow.octets")
        e["in_if"] = num("cflow.inputint")
        e["out_if"] = num("cflow.outputint")
        e["src_as"] = num("cflow.srcas")
        e["dst_as"] = num("cflow.dstas")
        e["src_mask"] = num("cflow.srcmask", "cflow.srcmaskv6")
        e["dst_mask"] = num("cflow.dstmask", "cflow.dstmaskv6")
        e["direction"] = num("cflow.direction")

        hops = [norm_addr(f.show) for n in ("cflow.nexthop", "cflow.nexthopv6",
                                            "cflow.bgpnexthop", "cflow.bgpnexthopv6")
                for f in byname.get(n, [])]
        if hops:
            if len(set(hops)) > 1:
                notes.add("next-hop")
            e["next_hop"] = hops
        else:
            notes.add("absent")
            e["next_hop"] = list(ZERO_ADDRS)

        vl = [int(f.show) for n in ("cflow.vlanid", "cflow.dot1q_vlan_id")
              for f in byname.get(n, [])]
        if len(set(vl)) > 1:
            notes.add("vlan")
        e["vlan"] = vl or [0]

        sp = num("cflow.srcport")
        dp = num("cflow.dstport")
        if e["proto"][0] in (1, 58):
            notes.add("icmp")
            tc = first("cflow.icmp_type_code_ipv4", "cflow.icmp_type_code_ipv6")
            t6, c6 = first("cflow.icmp_ipv6_type"), first("cflow.icmp_ipv6_code")
            t4, c4 = first("cflow.icmp_type_ipv4"), first("cflow.icmp_code_ipv4")
            if tc is not None:
                dp = [tc.raw_int()]
            elif t6 is not None:
                dp = [int(t6.show, 0) * 256 + (int(c6.show, 0) if c6 else 0)]
            elif t4 is not None:
                dp = [int(t4.show, 0) * 256 + (int(c4.show, 0) if c4 else 0)]
            sp = [0]
        e["src_port"] = sp
        e["dst_port"] = dp

        if rev.get("cflow.packets") or rev.get("cflow.octets"):
            e["rev_packets"] = [int(rev["cflow.packets"][0].show)] if rev.get("cflow.packets") else [0]
            e["rev_bytes"] = [int(rev["cflow.octets"][0].show)] if rev.get("cflow.octets") else [0]

        # Times.
        for key, absn, reln in (("first_ms", "cflow.abstimestart", "cflow.timestart"),
                                ("last_ms", "cflow.abstimeend", "cflow.timeend")):
            fa, fr = first(absn), first(reln)
            if fa is not None:
                ms = abs_time_ms(fa.show)
                frac = fa.show.split(".")[-1].split()[0]
                if frac[3:].strip("0"):
                    notes.add("ntp-frac")
                    e[key] = [ms - 1, ms, ms + 1]
                else:
                    e[key] = [ms]
            elif fr is not None:
                notes.add("uptime")
                rel = fr.raw_int()
                if version in (5, 9):
                    up = pk.hdr["cflow.sysuptime"].raw_int()
                    base = int(pk.hdr["cflow.unix_secs"].show) * 1000 - up
                    e[key] = [base + rel]
                    if version == 5 and "cflow.unix_nsecs" in pk.hdr:
                        ns = int(pk.hdr["cflow.unix_nsecs"].show)
                        if ns:
                            notes.add("v5-nsecs")
                            e[key].append(base + ns // 1000000 + rel)
                elif byname.get("cflow.sys_init_time"):
                    # systemInitTimeMilliseconds in the flow record itself
                    # (pmacct 106).
                    e[key] = [abs_time_ms(byname["cflow.sys_init_time"][0].show) + rel]
                elif dom in self.sysinit:
                    e[key] = [self.sysinit[dom] + rel]
                else:
                    notes.add("sysinit-unknown")
            else:
                notes.add("absent")
                # No time field at all: what the decoder substitutes (export
                # time, receive time) is its own policy; not compared.

        # Sampling (derived, see EXPLAINED["sampling"]).
        own = self.interval_of(byname)
        if own is not None:
            # The record carries its own sampling fields (akvorado
            # samplingrate: IE 34 in the data template).
            e["sampling"] = [own if own > 0 else 1]
        elif version == 5:
            rate = int(pk.hdr["cflow.samplerate"].show) if "cflow.samplerate" in pk.hdr else 0
            e["sampling"] = [rate if rate > 0 else 1]
        else:
            table = self.samplers.get(dom, {})
            sid_f = first("cflow.sampler_id", "cflow.selector_id")
            if sid_f is not None and int(sid_f.show, 0) in table:
                e["sampling"] = [table[int(sid_f.show, 0)]]
            elif None in table:
                e["sampling"] = [table[None]]
            elif len(table) == 0:
                e["sampling"] = [1]
            # else: sampler ids in the table but not on this record: no
            # well-defined expectation, not compared.
            if table:
                notes.add("sampling")

        # Optional strings: none of the captures carries IE 96/460/461 or our
        # SNI IE, so this mostly checks that no string appears from nowhere.
        for key, tname in STR_FIELDS.items():
            f = first(tname)
            e[key] = [f.show if f is not None and f.show else None]
        e["sni"] = [None]

        for n in notes:
            self.used[n] += 1
        origin = "frame %d" % pk.frame
        self.records.append((e, origin, notes))


# ---------------------------------------------------------------- flowdelta side

def run_flowdelta(flowdelta, port, files):
    cmd = [flowdelta, "decode", "--format", "jsonl", "--port", str(port)] + files
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        return None, "%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                          r.stderr.decode(errors="replace").strip()[:400])
    recs = []
    for ln in r.stdout.decode().splitlines():
        ln = ln.strip()
        if not ln:
            continue
        try:
            recs.append(json.loads(ln))
        except ValueError:
            return None, "not JSON lines: %r" % ln[:200]
    return recs, None


# ---------------------------------------------------------------- comparison

def diff(exp, ours):
    """List of (field, expected candidates, ours) that differ."""
    out = []
    for k, cands in exp.items():
        if k in ("rev_packets", "rev_bytes") and k not in ours:
            out.append((k, cands, None))
            continue
        try:
            v = norm_ours(k, ours.get(k))
        except ValueError:
            out.append((k, cands, ours.get(k)))
            continue
        if v not in cands:
            out.append((k, cands, ours.get(k)))
    return out


def match(oracle_recs, ours):
    """Pair each expected record with the flowdelta record it differs least
    from; ties go to the earliest. Parked sets come out later than their
    frame, so pairing is by content, not by position."""
    free = list(range(len(ours)))
    pairs = []
    for e, origin, notes in oracle_recs:
        best, best_d = None, None
        for j in free:
            d = diff(e, ours[j])
            if best_d is None or len(d) < len(best_d):
                best, best_d = j, d
                if not d:
                    break
        if best is None:
            pairs.append((e, origin, notes, None, None))
        else:
            free.remove(best)
            pairs.append((e, origin, notes, best, best_d))
    return pairs, free


def fmt_cands(c):
    if isinstance(c, list):
        return "|".join(str(x) for x in c)
    return str(c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flowdelta", required=True, help="path of the flowdelta binary")
    ap.add_argument("--pcaps", default=os.environ.get("FLOWDELTA_PCAPS", ""),
                    help="capture folder (env FLOWDELTA_PCAPS overrides the meson default)")
    ap.add_argument("--group", action="append", help="only these groups (by name)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    pcaps = os.environ.get("FLOWDELTA_PCAPS") or a.pcaps
    if not pcaps or not os.path.isdir(pcaps):
        skip("capture folder %r not found (set FLOWDELTA_PCAPS or -Dshared_dir=)" % pcaps)
    for tool in ("tshark", "mergecap"):
        if shutil.which(tool) is None:
            skip("%s not installed (Debian package tshark / wireshark-common)" % tool)
    if not os.access(a.flowdelta, os.X_OK):
        fail_hard("flowdelta binary %s not executable" % a.flowdelta)
    probe = subprocess.run([a.flowdelta, "decode", "--help"], capture_output=True)
    if probe.returncode != 0 or b"jsonl" not in (probe.stdout + probe.stderr):
        skip("`flowdelta decode --format jsonl` is not built into %s yet" % a.flowdelta)

    # Every capture must belong to a group.
    on_disk = set()
    for dirpath, _dirs, files in os.walk(pcaps):
        for f in files:
            if f.endswith(".pcap") or f.endswith(".pcapng"):
                on_disk.add(os.path.relpath(os.path.join(dirpath, f), pcaps))
    grouped = [f for _n, _p, fs in GROUPS for f in fs]
    missing = sorted(on_disk - set(grouped))
    gone = sorted(set(grouped) - on_disk)
    if gone:
        skip("captures listed but not present (incomplete capture set): %s" % ", ".join(gone))

    tot = collections.Counter()
    used = collections.Counter()
    problems = []
    tmp = tempfile.mkdtemp(prefix="fd-conf-")
    try:
        for name, port, files in GROUPS:
            if a.group and name not in a.group:
                continue
            paths = [os.path.join(pcaps, f) for f in files]
            merged = os.path.join(tmp, name.replace("/", "_") + ".pcap")
            # tshark keeps template state only within one capture: concatenate
            # the session's files (same order as given to flowdelta).
            r = subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", merged] + paths,
                               capture_output=True)
            if r.returncode != 0:
                fail_hard("mergecap failed for %s: %s" % (name, r.stderr.decode()[:300]))
            pinned = merged + ".pinned.pcap"
            n_pinned = pin_source_ports(merged, pinned)
            if n_pinned:
                used["tmpl-scope"] += n_pinned
            pk1 = run_tshark(pinned, port, False)
            pk2 = run_tshark(pinned, port, True)
            o = Oracle(port)
            o.build(pk1, pk2)
            used.update(o.used)
            ours, err = run_flowdelta(a.flowdelta, port, paths)
            tot["files"] += len(files)
            tot["groups"] += 1
            if err:
                tot["errors"] += 1
                problems.append("%s: %s" % (name, err))
                print("%-34s ERROR %s" % (name, err))
                continue
            pairs, extra = match(o.records, ours)
            g_fields = g_mis = 0
            for e, origin, notes, j, d in pairs:
                if j is None:
                    problems.append("%s: %s: expected record missing from flowdelta output"
                                    % (name, origin))
                    g_mis += 1
                    continue
                g_fields += len(e)
                for k, c, v in d:
                    g_mis += 1
                    problems.append("%s: %s rec %d: %s expected %s, flowdelta %s"
                                    % (name, origin, j, k, fmt_cands(c), v))
            for j in extra:
                g_mis += 1
                problems.append("%s: flowdelta record %d has no counterpart in tshark: %s"
                                % (name, j, json.dumps(ours[j], sort_keys=True)[:300]))
            if o.undecodable:
                # Data whose template never arrives in the capture: neither
                # side can decode it (flowdelta counts no_template).
                used["undecodable"] += o.undecodable
            tot["records"] += len(o.records)
            tot["fields"] += g_fields
            tot["mismatches"] += g_mis
            tot["options"] += o.options_records
            print("%-34s files %d  expected %4d  flowdelta %4d  fields %6d  mismatches %d"
                  % (name, len(files), len(o.records), len(ours), g_fields, g_mis))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    for p in problems[:200]:
        print("MISMATCH " + p)
    if len(problems) > 200:
        print("... %d more" % (len(problems) - 200))
    print()
    print("Explained differences (rule: records/sets it applied to):")
    for k in sorted(used):
        if k in EXPLAINED:
            print("  %-16s %5d  %s" % (k, used[k], EXPLAINED[k]))
    if used["undecodable"]:
        print("  %-16s %5d  data sets whose template never appears in the capture: "
              "neither tshark (even -2) nor flowdelta decodes them" % ("undecodable", used["undecodable"]))
    if missing:
        print("captures with no group in conformance.py: " + ", ".join(missing))
    print()
    print("SUMMARY: groups %d, files %d, records compared %d, fields compared %d, "
          "option records skipped %d, mismatches %d"
          % (tot["groups"], tot["files"], tot["records"], tot["fields"], tot["options"],
             tot["mismatches"]))
    if tot["errors"] or missing:
        print("FAILED: %d decode errors, %d captures without a group"
              % (tot["errors"], len(missing)))
    if problems or missing:
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
