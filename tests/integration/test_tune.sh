#!/bin/bash
# test_tune.sh — deploy/tune.sh: check mode reports without changing, the
# kernel command line it builds, bad input, and a real hugepage reservation
# given back afterwards.
set -uo pipefail
tune=${1:?usage: test_tune.sh PATH/TO/tune.sh}
fail=0
t() { # name, expected rc, command...
	local name=$1 want=$2 got out
	shift 2
	out=$("$@" 2>&1); got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL $name: exit $got, want $want"; echo "$out" | sed 's/^/    /'; fail=1
	else
		echo "ok   $name"
	fi
	LAST="$out"
}
has() { grep -q -- "$1" <<<"$LAST" || { echo "FAIL: output lacks '$1'"; echo "$LAST" | sed 's/^/    /'; fail=1; }; }

n=$(nproc --all)
t "help" 0 "$tune" --help; has "tune.sh check"
t "unknown command" 2 "$tune" frobnicate; has "unknown command"
t "cmdline needs --cpus" 2 "$tune" cmdline; has "required"
t "cmdline all cores refused" 2 "$tune" cmdline --cpus "0-$((n - 1))"; has "housekeeping"
t "cmdline missing core" 2 "$tune" cmdline --cpus "$n"; has "does not exist"
t "cmdline bad list" 2 "$tune" cmdline --cpus "a-b"; has "bad CPU list"
if ((n >= 2)); then
	t "cmdline" 0 "$tune" cmdline --cpus "$((n - 1))"
	has "isolcpus=managed_irq,domain,$((n - 1))"; has "nohz_full=$((n - 1))"
	has "rcu_nocbs=$((n - 1))"; has "irqaffinity=0"
	t "cmdline 1G" 0 "$tune" cmdline --cpus "$((n - 1))" --1g 4; has "hugepages=4"
fi

before=$(cat /proc/sys/vm/nr_hugepages)
t "check reports" 1 "$tune" check --cpus "$((n - 1))"
has "hugepages:"; has "CPU isolation:"; has "TODO"
[ "$(cat /proc/sys/vm/nr_hugepages)" = "$before" ] || { echo "FAIL: check changed hugepages"; fail=1; }

if [ "$(id -u)" -eq 0 ] && [ -w /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages ]; then
	hp=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	orig=$(cat $hp)
	mounted=0; grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts && mounted=1
	t "reserve hugepages" 0 "$tune" hugepages --2m $((orig + 16))
	has "2 MiB pages: asked $((orig + 16))"
	got=$(cat $hp)
	((got >= orig + 1)) || { echo "FAIL: no page reserved ($got)"; fail=1; }
	grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts || { echo "FAIL: hugetlbfs not mounted"; fail=1; }
	t "check sees them" 0 "$tune" check; has "reserved: "; has "hugetlbfs mounted"
	echo "$orig" >$hp
	((mounted)) || umount /dev/hugepages 2>/dev/null || true
else
	echo "skip hugepage reservation: needs root and a writable nr_hugepages"
fi
t "idle needs --cpus" 2 "$tune" idle; has "required"
t "idle missing core" 2 "$tune" idle --cpus "$n"; has "does not exist"
st=/sys/devices/system/cpu/cpu0/cpuidle
deep=""
for d in $st/state[0-9]*; do
	[ -e "$d/name" ] && [ "$(cat "$d/name")" != POLL ] && deep="$deep $d"
done
if [ "$(id -u)" -eq 0 ] && [ -n "$deep" ]; then
	declare -A was
	for d in $deep; do was[$d]=$(cat "$d/disable"); done
	t "idle" 0 "$tune" idle --cpus 0; has "disabled"
	for d in $deep; do
		[ "$(cat "$d/disable")" = 1 ] || { echo "FAIL: $d/disable not set"; fail=1; }
	done
	t "check sees idle" 1 "$tune" check --cpus 0; has "no idle state deeper than polling"
	t "idle restore" 0 "$tune" idle --cpus 0 --restore; has "allowed again"
	for d in $deep; do
		[ "$(cat "$d/disable")" = 0 ] || { echo "FAIL: $d/disable not cleared"; fail=1; }
		echo "${was[$d]}" >"$d/disable"
	done
	t "check sees deep idle" 1 "$tune" check --cpus 0; has "idle state(s) deeper than polling allowed"
else
	echo "skip idle states: needs root and cpuidle states deeper than POLL on CPU 0"
fi
((fail == 0)) && echo "tune.sh: all checks passed"
exit $fail
