#!/bin/bash
# nfdump.sh — compare `flowdelta query` with nfdump on the same records.
#
#   nfdump.sh FLOWDELTA MKSTORE [RECORDS]
#
# The same generator run (lib/gen, fixed seed) goes two ways: exported over
# UDP on loopback with `flowdelta gen --send` to Debian's nfcapd, and written
# straight into a Flowdelta store by query_mkstore. Then, for filters whose
# semantics both tools share, the listings (address/port/packets/bytes of
# every matching IPv4 flow) and the aggregations (-s FIELD/bytes, all groups)
# must be identical. Exit 0 on agreement, 1 on any difference (printed),
# 77 (skip) when nfdump/nfcapd is missing or nfcapd lost datagrams.
set -u
fd=$1
mk=$2
n=${3:-60000}
for t in nfcapd nfdump; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed (Debian package nfdump)"; exit 77; }
done
work=$(mktemp -d /tmp/fdq-nfdump.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/nf"
port=$((20000 + RANDOM % 20000))
nfcapd -w "$work/nf" -p $port -b 127.0.0.1 -B 8000000 -t 3600 >"$work/nfcapd.log" 2>&1 &
pid=$!
sleep 1
"$fd" gen --records "$n" --exporters 4 --seed 7 --send 127.0.0.1:$port --rate 20000 2>"$work/gen.log" ||
	{ echo "SKIP: gen --send failed: $(cat "$work/gen.log")"; exit 77; }
sleep 1
kill "$pid"
wait "$pid" 2>/dev/null
pid=
"$mk" "$work/store" "$n" 4 7 >/dev/null || { echo "FAIL: query_mkstore"; exit 1; }
got=$(nfdump -R "$work/nf" -I 2>/dev/null | sed -n 's/^Flows: //p')
if [ "$got" != "$n" ]; then
	echo "SKIP: nfcapd stored $got of $n flows (UDP loss on a loaded machine)"
	exit 77
fi

fail=0
# nfdump listing: src dst sport dport packets bytes, IPv4 flows only (nfdump
# shortens long IPv6 addresses in its text output)
list_nf() {
	nfdump -R "$work/nf" -q -N -o 'fmt:%sa,%da,%sp,%dp,%pkt,%byt' "ipv4 and ($1)" |
		tr -d ' ' | sort
}
list_fd() {
	"$fd" query -R "$work/store" -F csv --limit 0 "ipv4 and ($1)" |
		awk -F, 'NR > 1 {
			dp = $8
			# nfdump prints an ICMP "port" as type.code
			if ($4 == 1 || $4 == 58) dp = int($8 / 256) "." ($8 % 256)
			print $5 "," $7 "," $6 "," dp "," $11 "," $12 }' | sort
}
filters=(
	'any'
	'proto tcp'
	'proto udp and dst port 53'
	'dst port 443'
	'port > 1024'
	'src port < 1024'
	'dst port 443 or dst port 80'
	'net 10.1.0.0/24'
	'src net 10.1.0.0/16 and bytes > 100000'
	'host 10.1.0.5'
	'not proto tcp'
	'packets > 1k'
	'bytes < 500'
	'bytes > 1M'
	'packets >= 100 and packets <= 1000'
	'flags S'
	'flags AP and not flags R'
	'tos 0'
	'duration > 60000'
	'(proto tcp or proto udp) and not (port 443 or port 80)'
	'src ip 10.1.0.1 or dst ip 10.1.0.1'
)
for f in "${filters[@]}"; do
	a=$(list_nf "$f")
	b=$(list_fd "$f")
	if [ "$a" != "$b" ]; then
		echo "DIFF listing '$f': nfdump $(printf '%s' "$a" | grep -c .) rows, flowdelta $(printf '%s' "$b" | grep -c .) rows"
		diff <(echo "$a") <(echo "$b") | head -5
		fail=1
	else
		echo "ok   listing '$f' ($(printf '%s' "$a" | grep -c .) rows)"
	fi
done

# aggregations: every group, flows/packets/bytes
agg_nf() { # $1 field (nfdump name), $2 filter
	nfdump -R "$work/nf" -q -N -s "$1/bytes" -n 0 -o csv "$2" |
		awk -F, 'NF > 10 && $1 != "ts" { print $5 "," $6 "," $8 "," $10 }' | sort
}
agg_fd() { # $1 field (our name), $2 filter
	"$fd" query -R "$work/store" -F csv --group "$1" --top 0 "$2" | awk 'NR > 1' | sort
}
for spec in 'srcip:srcip:any' 'dstip:dstip:dst port 443' 'dstport:dstport:proto tcp' \
	'srcport:srcport:not proto tcp' 'srcip:srcip:net 10.1.0.0/16 and packets > 10'; do
	nfn=${spec%%:*}
	rest=${spec#*:}
	fdn=${rest%%:*}
	f=${rest#*:}
	a=$(agg_nf "$nfn" "$f")
	b=$(agg_fd "$fdn" "$f")
	if [ "$a" != "$b" ]; then
		echo "DIFF -s $nfn '$f': nfdump $(printf '%s' "$a" | grep -c .) groups, flowdelta $(printf '%s' "$b" | grep -c .)"
		diff <(echo "$a") <(echo "$b") | head -5
		fail=1
	else
		echo "ok   -s $nfn/bytes '$f' ($(printf '%s' "$a" | grep -c .) groups)"
	fi
done
exit $fail
