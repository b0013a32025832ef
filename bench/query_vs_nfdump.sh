#!/bin/bash
# query_vs_nfdump.sh — `flowdelta query` side by side with nfdump on the
# same records (issue 6). Not a test: it prints numbers and never fails on
# speed (STYLE §22).
#
#   bench/query_vs_nfdump.sh BUILD_DIR [RECORDS]       (default 20000000)
#
# 1. The gen default mix (4 exporters, seed 1, IPFIX, 200 records a packet)
#    is sent over loopback UDP to Debian's nfcapd (paced, so nothing is
#    lost; the flow count is checked) and written by query_mkstore into a
#    Flowdelta store: both hold exactly the same records.
# 2. Warm cache: every command runs once untimed, then REPS times (default 3);
#    the best wall time counts. Three shapes, nothing precomputed:
#      A  top-10 srcip by bytes             nfdump -s srcip/bytes -n 10
#      B  'dst port 443' top-10 dstip/bytes nfdump -s dstip/bytes -n 10 'dst port 443'
#      C  flows of one host ordered by time nfdump -O tstart 'host H' (all rows printed)
# 3. Prints records/s (records in the data set / wall time) and the ratio.
#
# Data lives in a temporary directory under /tmp, removed at the end; set
# DATA=/some/dir to keep it (and reuse it on the next run). nfdump gets the
# same cores (it is single-threaded per query; flowdelta uses all cores).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [RECORDS]" >&2; exit 2; }
build=$(cd "$1" && pwd)
n=${2:-20000000}
reps=${REPS:-3}
host=${HOST:-10.1.0.5}
fd=${FLOWDELTA:-$build/cli/flowdelta}  # FLOWDELTA= to compare another build
mk=$build/tests/query/query_mkstore
for t in nfcapd nfdump; do
	command -v $t >/dev/null || { echo "$t missing (apt-get install nfdump)" >&2; exit 1; }
done
[ -x "$fd" ] && { [ -x "$mk" ] || [ -f "${DATA:-/nonexistent}/ok" ]; } || { echo "build $build first (cli/flowdelta, tests/query/query_mkstore)" >&2; exit 1; }

if [ -n "${DATA:-}" ]; then
	data=$DATA
	keep=1
else
	data=$(mktemp -d /tmp/fdq-bench.XXXXXX)
	keep=0
fi
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ "$keep" = 1 ] || rm -rf "$data"
}
trap cleanup EXIT

if [ ! -f "$data/ok" ] || [ "$(cat "$data/ok")" != "$n" ]; then
	rm -rf "$data/nf" "$data/store" "$data/ok"
	mkdir -p "$data/nf"
	port=$((20000 + RANDOM % 20000))
	echo "== generating $n records: nfcapd on 127.0.0.1:$port and a flowdelta store in $data"
	nfcapd -w "$data/nf" -p $port -b 127.0.0.1 -B 16000000 -t 86400 >"$data/nfcapd.log" 2>&1 &
	pid=$!
	sleep 1
	# paced (RATE packets/s of 200 records, default 1000): nfcapd must not
	# drop datagrams on a busy machine; the flow count is checked below
	"$fd" gen --records "$n" --exporters 4 --per-packet 200 --send 127.0.0.1:$port --rate "${RATE:-1000}"
	sleep 2
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	"$mk" "$data/store" "$n" 4 1 10 200 >/dev/null
	got=$(nfdump -R "$data/nf" -I | sed -n 's/^Flows: //p')
	if [ "$got" != "$n" ]; then
		echo "nfcapd stored $got of $n records (UDP loss): rerun on a quieter machine" >&2
		exit 1
	fi
	echo "$n" >"$data/ok"
fi
echo "== data: $n records; nfcapd files $(du -sh "$data/nf" | cut -f1), flowdelta store $(du -sh "$data/store" | cut -f1)"

# Best wall time of REPS runs after one warm-up, and the CPU time (user +
# sys) of that run, in seconds, to the millisecond (bash's time: GNU
# time's 10 ms steps are 5-10 % of a 0.1 s answer). The two tools' runs
# alternate (nfdump, flowdelta, nfdump, ...), so a VM whose speed drifts
# during the run slows both alike and the ratio compares like with like.
# On a shared machine the CPU time is the steadier figure; both are
# printed.
timed() { # "wall cpu" of one run of "$@"
	local out TIMEFORMAT='%3R %3U %3S'
	out=$({ time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
	echo "$out" | awk '{ printf "%s %.3f\n", $1, $2 + $3 }'
}
better() { # the run with the lower wall time of "$1" and "$2"
	if [ -z "$1" ] || [ "$(echo "${2% *} < ${1% *}" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi
}

printf '\n%-40s %9s %9s %12s | %9s %9s %12s | %7s %7s\n' shape "nfd wall" "nfd cpu" "nfd rec/s" \
	"fd wall" "fd cpu" "fd rec/s" "ratio" "cpu rat"
row() { # $1 name; commands in the arrays nfcmd and fdcmd
	local name=$1 tn= tf= wn cn wf cf
	"${nfcmd[@]}" >/dev/null 2>&1
	"${fdcmd[@]}" >/dev/null 2>&1
	for _ in $(seq "$reps"); do
		tn=$(better "$tn" "$(timed "${nfcmd[@]}")")
		tf=$(better "$tf" "$(timed "${fdcmd[@]}")")
	done
	wn=${tn% *} cn=${tn#* } wf=${tf% *} cf=${tf#* }
	printf '%-40s %9.3f %9.3f %12.0f | %9.3f %9.3f %12.0f | %6.1fx %6.1fx\n' "$name" "$wn" "$cn" \
		"$(echo "$n / $wn" | bc -l)" "$wf" "$cf" "$(echo "$n / $wf" | bc -l)" \
		"$(echo "$wn / $wf" | bc -l)" "$(echo "$cn / $cf" | bc -l)"
}
nfcmd=(nfdump -R "$data/nf" -s srcip/bytes -n 10)
fdcmd=("$fd" query -R "$data/store" -s srcip/bytes -n 10)
row "A top-10 srcip by bytes"
nfcmd=(nfdump -R "$data/nf" -s dstip/bytes -n 10 'dst port 443')
fdcmd=("$fd" query -R "$data/store" -s dstip/bytes -n 10 'dst port 443')
row "B dst port 443: top-10 dstip by bytes"
nfcmd=(nfdump -R "$data/nf" -q -O tstart "host $host")
fdcmd=("$fd" query -R "$data/store" --order first --limit 0 "host $host")
row "C host $host, all flows by time"
echo "(wall: best of $reps after a warm-up, the two tools' runs alternating; cpu: user+sys of that run; rec/s: $n records / wall)"

echo
echo "== answers agree? (A and B: the top-10 rows; C: the row count)"
diff <(nfdump -R "$data/nf" -q -N -s srcip/bytes -n 10 -o csv | awk -F, 'NF > 10 && $1 != "ts" { print $5 "," $6 "," $8 "," $10 }') \
	<("$fd" query -R "$data/store" -s srcip/bytes -n 10 -F csv | awk 'NR > 1') >/dev/null &&
	echo "A: identical" || echo "A: DIFFERENT"
diff <(nfdump -R "$data/nf" -q -N -s dstip/bytes -n 10 -o csv 'dst port 443' | awk -F, 'NF > 10 && $1 != "ts" { print $5 "," $6 "," $8 "," $10 }') \
	<("$fd" query -R "$data/store" -s dstip/bytes -n 10 -F csv 'dst port 443' | awk 'NR > 1') >/dev/null &&
	echo "B: identical" || echo "B: DIFFERENT"
echo "C: nfdump $(nfdump -R "$data/nf" -q -O tstart "host $host" | wc -l) rows, flowdelta $("$fd" query -R "$data/store" --limit 0 -F csv "host $host" | awk 'NR > 1' | wc -l) rows"
"$fd" query -R "$data/store" -s srcip/bytes -n 10 --explain 2>&1 >/dev/null | sed 's/^/A explain: /'
