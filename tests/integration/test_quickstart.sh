#!/bin/bash
# test_quickstart.sh — run deploy/quickstart.sh --once and check what an
# operator would look at: it starts, the top-10 query over both slaves has
# rows, it stops cleanly and leaves no namespace or process behind.
set -uo pipefail
qs=${1:?usage: test_quickstart.sh PATH/TO/quickstart.sh}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: quickstart needs root (namespaces, DPDK)"; exit 77; }
ip netns add fdq-probe 2>/dev/null || { echo "SKIP: cannot create network namespaces"; exit 77; }
ip netns del fdq-probe
out=$(timeout 150 "$qs" --once 2>&1); rc=$?
echo "$out"
fail=0
[ "$rc" -eq 0 ] || { echo "FAIL: quickstart exited $rc"; fail=1; }
rows=$(awk '/== top 10 source addresses/ {on=1; next} on && /^$/ {exit} on && NR > 0 && !/^srcip/ {n++} END {print n+0}' <<<"$out")
((rows >= 3)) || { echo "FAIL: the top-10 query printed $rows rows"; fail=1; }
grep -q "stopped cleanly" <<<"$out" || { echo "FAIL: no clean stop"; fail=1; }
grep -q "proxy stopped" <<<"$out" || { echo "FAIL: the proxy was not stopped with SIGTERM"; fail=1; }
ip netns list | grep -q "fdq-" && { echo "FAIL: namespaces left behind"; fail=1; }
pgrep -f flowdelta-quickstart >/dev/null && { echo "FAIL: processes left behind"; fail=1; }
((fail == 0)) && echo "quickstart: ok ($rows rows in the top 10)"
exit $fail
