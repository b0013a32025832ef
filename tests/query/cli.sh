#!/bin/bash
# cli.sh — `flowdelta query` plumbing: several -R stores, --partial/--merge,
# output formats, error exits. Results themselves are checked by test_diff.
#   cli.sh FLOWDELTA MKSTORE
set -u
fd=$1
mk=$2
work=$(mktemp -d /tmp/fdq-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$mk" "$work/a" 20000 2 3 >/dev/null || fail mkstore
q() { "$fd" query "$@"; }

# two -R of the same store = every sum doubled; merge of two partials = the same
one=$(q -R "$work/a" -s dstport/bytes -n 0 -F csv 'proto tcp')
two=$(q -R "$work/a" -R "$work/a" -s dstport/bytes -n 0 -F csv 'proto tcp')
dbl=$(echo "$one" | awk -F, 'NR == 1 { print; next } { printf "%s,%.0f,%.0f,%.0f\n", $1, 2 * $2, 2 * $3, 2 * $4 }')
[ "$two" = "$dbl" ] || fail "two -R stores do not sum"
q -R "$work/a" -s dstport/bytes -n 0 'proto tcp' --partial >"$work/p.json" || fail partial
mrg=$(q -s dstport/bytes -n 0 -F csv 'proto tcp' --merge "$work/p.json" --merge - <"$work/p.json")
[ "$mrg" = "$two" ] || fail "merged partials differ from the union"
# a partial of another query is refused
q -s dstport/bytes 'proto udp' --merge "$work/p.json" >/dev/null 2>&1 && fail "foreign partial accepted"
# listing partials
q -R "$work/a" --limit 7 --order bytes:desc --partial 'dst port 443' >"$work/l.json" || fail "list partial"
a=$(q -R "$work/a" -R "$work/a" --limit 7 --order bytes:desc -F csv 'dst port 443')
b=$(q --limit 7 --order bytes:desc -F csv --merge "$work/l.json" --merge "$work/l.json" 'dst port 443')
[ "$a" = "$b" ] || fail "listing merge differs"
# formats: same rows in csv, jsonl and json
n_csv=$(q -R "$work/a" -s srcip -n 5 -F csv | wc -l)
n_jsonl=$(q -R "$work/a" -s srcip -n 5 -F jsonl | wc -l)
q -R "$work/a" -s srcip -n 5 -F json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 5' ||
	fail "json output"
[ "$n_csv" = 6 ] && [ "$n_jsonl" = 5 ] || fail "csv/jsonl row counts $n_csv $n_jsonl"
# time series covers every flow once
tot=$(q -R "$work/a" -s proto -n 0 -F csv | awk -F, 'NR > 1 { f += $2 } END { print f }')
ser=$(q -R "$work/a" --series 1m -F csv | awk -F, 'NR > 1 { f += $2 } END { print f }')
[ "$tot" = 20000 ] && [ "$ser" = 20000 ] || fail "series sums $ser, groups $tot"
# errors: bad filter exits 2 with a caret, group cap exits 1
out=$(q -R "$work/a" 'port >' 2>&1)
[ $? = 2 ] && echo "$out" | grep -q '\^' || fail "bad filter: $out"
q -R "$work/a" -s srcport --max-groups 10 >/dev/null 2>&1
[ $? = 1 ] || fail "group cap"
q -R "$work/nonexistent" -s srcip >/dev/null 2>&1 && fail "missing store accepted"
echo "cli: ok"
