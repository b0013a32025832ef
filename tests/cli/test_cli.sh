#!/bin/sh
# test_cli.sh — the `flowdelta` command end to end: gen → pcap → decode in
# every output format, templates carried across files, crafted TCP and
# fragment captures, UDP sending to loopback, and the error contract (one
# line on stderr, exit 2 for usage, 1 for runtime).
#   test_cli.sh FLOWDELTA CRAFT_PCAP
set -eu
FD=$1
CRAFT=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_error RC PATTERN CMD...: exit status RC, exactly one stderr line
# matching PATTERN, nothing on stdout.
expect_error() {
	want=$1 pat=$2
	shift 2
	set +e
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "$*: stderr is not one line: $(cat "$T/err")"
	grep -q "$pat" "$T/err" || fail "$*: stderr '$(cat "$T/err")' lacks '$pat'"
	[ ! -s "$T/out" ] || fail "$*: wrote to stdout"
}

# ---- top level ----
"$FD" --help | grep -q '^  decode ' || fail "--help lists no decode"
"$FD" --help | grep -q '^  gen ' || fail "--help lists no gen"
"$FD" --version | grep -q '^flowdelta [0-9]' || fail "--version"
"$FD" help decode | grep -q -- '--format' || fail "help decode"
"$FD" help gen | grep -q -- '--send' || fail "help gen"
expect_error 2 "^flowdelta: unknown command 'nosuch'" "$FD" nosuch
expect_error 2 "^flowdelta: unknown command" "$FD" help nosuch
expect_error 2 "^flowdelta: unknown option" "$FD" --bogus

# ---- gen → decode jsonl (IPFIX, strings, IPv6, 3 exporters) ----
"$FD" gen --exporters 3 --flows 500 --strings --v6-share 0.3 --pcap "$T/g10.pcap" 2>"$T/gen.err"
grep -q "1500 records" "$T/gen.err" || fail "gen summary: $(cat "$T/gen.err")"
"$FD" decode --format jsonl --stats "$T/g10.pcap" >"$T/g10.jsonl" 2>"$T/stats"
python3 - "$T/g10.jsonl" <<'EOF' || fail "jsonl check"
import ipaddress, json, sys
keys = ("first_ms last_ms exporter odid src_addr dst_addr src_port dst_port proto tcp_flags "
        "tos packets bytes in_if out_if src_as dst_as next_hop src_mask dst_mask direction "
        "vlan sampling exp_port version").split()
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 1500, len(recs)
exp = set()
v6 = apps = hosts = 0
for r in recs:
    for k in keys:
        assert k in r, (k, r)
    assert "rev_packets" not in r and "rev_bytes" not in r
    assert r["version"] == 10 and r["sampling"] == 1 and r["exp_port"] == 2055
    assert r["first_ms"] <= r["last_ms"] and r["packets"] >= 1 and r["bytes"] >= r["packets"]
    for k in ("src_addr", "dst_addr", "next_hop", "exporter"):
        a = ipaddress.ip_address(r[k])
        assert str(a) == r[k], ("not canonical text", r[k])  # RFC 5952 compressed
    if ":" in r["src_addr"]:
        v6 += 1
        assert ":" in r["dst_addr"]
    if r["proto"] in (1, 58):
        assert r["src_port"] == 0
    apps += "app" in r
    hosts += "http_host" in r
    exp.add(r["exporter"])
assert exp == {"192.0.2.1", "192.0.2.2", "192.0.2.3"}, exp
assert 300 < v6 < 600, v6
assert apps > 1000 and hosts > 300, (apps, hosts)
EOF
[ "$(grep -c '^domain ' "$T/stats")" = 3 ] || fail "--stats domains: $(cat "$T/stats")"
grep -q '^decoder .*records=1500' "$T/stats" || fail "--stats totals"
grep -q '^pcap .*frames=' "$T/stats" || fail "--stats pcap counters"
grep -q 'drops:' "$T/stats" && fail "drops in a clean decode: $(cat "$T/stats")"

# ---- csv and table ----
"$FD" decode --format csv "$T/g10.pcap" >"$T/g10.csv"
python3 - "$T/g10.csv" <<'EOF' || fail "csv check"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, body = rows[0], rows[1:]
assert head[:3] == ["first_ms", "last_ms", "exporter"] and "sni" in head, head
assert len(body) == 1500, len(body)
assert all(len(r) == len(head) for r in body)
assert sum(1 for r in body if r[head.index("app")]) > 1000
EOF
n=$("$FD" decode "$T/g10.pcap" | grep -c 'Z ')
[ "$n" = 1500 ] || fail "table rows: $n"

# ---- v5 and v9; --records bound; --port selection ----
"$FD" gen --version 5 --exporters 2 --records 77 --port 9995 --pcap "$T/g5.pcap" 2>/dev/null
[ "$("$FD" decode --format jsonl "$T/g5.pcap" | wc -l)" = 77 ] || fail "v5 --records 77"
[ "$("$FD" decode --format jsonl --port 2055 "$T/g5.pcap" | wc -l)" = 0 ] || fail "--port filter"
"$FD" gen --version 9 --flows 300 --tmpl-refresh 1000 --pcap "$T/g9.pcap" 2>/dev/null
[ "$("$FD" decode --format jsonl "$T/g9.pcap" | grep -c '"version":9')" = 300 ] || fail "v9"

# ---- templates of an earlier file decode data of a later one ----
editcap -r "$T/g9.pcap" "$T/g9-first.pcap" 1 >/dev/null
editcap -r "$T/g9.pcap" "$T/g9-rest.pcap" 2-1000 >/dev/null
[ "$("$FD" decode --format jsonl "$T/g9-rest.pcap" | wc -l)" = 0 ] || fail "data without templates"
[ "$("$FD" decode --format jsonl "$T/g9-first.pcap" "$T/g9-rest.pcap" | wc -l)" = 300 ] ||
	fail "templates across files"

# ---- --sampling override ----
"$FD" decode --format jsonl --sampling 192.0.2.1=100 "$T/g9.pcap" | grep -q '"sampling":100' ||
	fail "--sampling"

# ---- crafted captures: IPFIX/TCP with reordering, v9 in IPv4 fragments ----
"$CRAFT" "$T" >"$T/counts"
want=$(sed -n 's/^tcp //p' "$T/counts")
got=$("$FD" decode --format jsonl --stats "$T/tcp.pcap" 2>"$T/tstats" | wc -l)
[ "$got" = "$want" ] || fail "tcp.pcap: $got records, want $want"
grep -q 'tcp_retrans=' "$T/tstats" || fail "tcp stats: $(cat "$T/tstats")"
want=$(sed -n 's/^frag //p' "$T/counts")
got=$("$FD" decode --format jsonl --stats "$T/frag.pcap" 2>"$T/fstats" | wc -l)
[ "$got" = "$want" ] || fail "frag.pcap: $got records, want $want"
grep -q 'frag_reassembled=' "$T/fstats" || fail "frag stats: $(cat "$T/fstats")"

# ---- gen --mtu: large exports written as IP fragments, reassembled ----
"$FD" gen --flows 1000 --strings --mtu 1500 --pcap "$T/mtu4.pcap" 2>/dev/null
"$FD" gen --version 9 --exporter-v6 --flows 1000 --mtu 1280 --pcap "$T/mtu6.pcap" 2>/dev/null
for f in mtu4 mtu6; do
	got=$("$FD" decode --format jsonl --stats "$T/$f.pcap" 2>"$T/mstats" | wc -l)
	[ "$got" = 1000 ] || fail "$f.pcap: $got records"
	grep -q 'udp=34 frag_reassembled=3[34] ' "$T/mstats" || fail "$f stats: $(cat "$T/mstats")"
done

# ---- sending over loopback, bounded ----
python3 - "$T/port" "$T/recv" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(10)
n = 0
try:
    while n < 200:
        s.recv(65535)
        n += 1
except socket.timeout:
    pass
open(sys.argv[2], "w").write(str(n))
EOF
lp=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$T/port")
"$FD" gen --send "127.0.0.1:$port" --packets 200 --rate 2000 2>"$T/send.err" ||
	fail "gen --send: $(cat "$T/send.err")"
grep -q 'sent 200 packets, 6000 records' "$T/send.err" || fail "send summary: $(cat "$T/send.err")"
wait $lp
[ "$(cat "$T/recv")" = 200 ] || fail "received $(cat "$T/recv") of 200 datagrams"

# ---- gen --pool: packets repeated in rounds decode exactly, distinct, counted ----
for v in 5 9 10; do
	"$FD" gen --version $v --pool 40 --exporters 4 --records 5003 --pcap "$T/pool$v.pcap" 2>"$T/pool.err" ||
		fail "gen --pool v$v: $(cat "$T/pool.err")"
	grep -q ' 5003 records' "$T/pool.err" || fail "gen --pool summary: $(cat "$T/pool.err")"
	"$FD" decode --format jsonl --stats "$T/pool$v.pcap" >"$T/pool.jsonl" 2>"$T/pool.stats"
	grep -q '^decoder .* records=5003 ' "$T/pool.stats" || fail "pool v$v decoded: $(cat "$T/pool.stats")"
	grep -q 'seq_lost=[1-9]\|seq_dup=[1-9]\|seq_ooo=[1-9]' "$T/pool.stats" &&
		fail "pool v$v sequence: $(cat "$T/pool.stats")"
	# rounds are shifted in time: no record repeats another
	[ "$(sort -u "$T/pool.jsonl" | wc -l)" = 5003 ] || fail "pool v$v: repeated records"
done
# round 0 is gen's own output
"$FD" gen --pool 40 --exporters 4 --packets 40 --pcap "$T/p40.pcap" 2>/dev/null
"$FD" gen --exporters 4 --packets 40 --pcap "$T/f40.pcap" 2>/dev/null
cmp -s "$T/p40.pcap" "$T/f40.pcap" || fail "gen --pool round 0 differs from gen"
# sent over UDP: every datagram arrives, the summary counts records exactly
rm -f "$T/port" "$T/recv"
python3 - "$T/port" "$T/recv" <<'EOF' &
import os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(10)
n = recs = 0
try:
    while n < 300:
        d = s.recv(65535)
        n += 1
        # IPFIX, --v6-share 0: data sets of template 256, 72-byte records
        off = 16
        while off + 4 <= len(d):
            sid, sl = struct.unpack_from("!HH", d, off)
            if sid == 256:
                recs += (sl - 4) // 72
            off += max(sl, 4)
except socket.timeout:
    pass
open(sys.argv[2], "w").write("%d %d" % (n, recs))
EOF
lp=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$T/port")
"$FD" gen --pool 16 --v6-share 0 --exporters 2 --records 8990 --rate 20000 \
	--send "127.0.0.1:$port" 2>"$T/send.err" || fail "gen --pool --send: $(cat "$T/send.err")"
grep -q 'sent 300 packets, 8990 records' "$T/send.err" || fail "pool send summary: $(cat "$T/send.err")"
wait $lp
[ "$(cat "$T/recv")" = "300 8990" ] || fail "pool send: received $(cat "$T/recv") (datagrams records), want 300 8990"

# ---- errors ----
expect_error 1 "^flowdelta: decode: $T/nope.pcap: " "$FD" decode "$T/nope.pcap"
echo "not a capture" >"$T/bad.pcap"
expect_error 1 "^flowdelta: decode: $T/bad.pcap: " "$FD" decode "$T/bad.pcap"
expect_error 2 "^flowdelta: decode: unknown option" "$FD" decode --bogus "$T/g5.pcap"
expect_error 2 "^flowdelta: decode: unknown format" "$FD" decode --format xml "$T/g5.pcap"
expect_error 2 "^flowdelta: decode: bad port" "$FD" decode --port 70000 "$T/g5.pcap"
expect_error 2 "^flowdelta: decode: bad --sampling" "$FD" decode --sampling 1.2.3.4 "$T/g5.pcap"
expect_error 2 "^flowdelta: decode: no capture file" "$FD" decode
expect_error 2 "^flowdelta: decode: option .* needs a value" "$FD" decode --format
expect_error 2 "^flowdelta: gen: give exactly one" "$FD" gen
expect_error 2 "^flowdelta: gen: give exactly one" "$FD" gen --pcap "$T/x" --send 127.0.0.1:9
expect_error 2 "^flowdelta: gen: --strings needs" "$FD" gen --version 9 --strings --pcap "$T/x"
expect_error 2 "^flowdelta: gen: bad --version" "$FD" gen --version 7 --pcap "$T/x"
expect_error 2 "^flowdelta: gen: NetFlow v5" "$FD" gen --version 5 --per-packet 31 --pcap "$T/x"
expect_error 2 "^flowdelta: gen: --rate and --duration" "$FD" gen --rate 10 --pcap "$T/x"
expect_error 2 "^flowdelta: gen: bad --send" "$FD" gen --send nocolon
expect_error 2 "^flowdelta: gen: --mtu only applies" "$FD" gen --mtu 1500 --send 127.0.0.1:9
expect_error 2 "^flowdelta: gen: bad --mtu" "$FD" gen --mtu 100 --pcap "$T/x"
expect_error 2 "^flowdelta: gen: --pool repeats" "$FD" gen --pool 10 --flows 5 --pcap "$T/x"
expect_error 2 "^flowdelta: gen: bad --pool" "$FD" gen --pool 0 --send 127.0.0.1:9
expect_error 1 "^flowdelta: gen: 224.0.0.1: refusing" "$FD" gen --send 224.0.0.1:2055 --packets 1
expect_error 1 "^flowdelta: gen: " "$FD" gen --pcap /nonexistent/dir/x.pcap
echo "cli tests passed"
