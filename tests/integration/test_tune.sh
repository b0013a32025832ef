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
((fail == 0)) && echo "tune.sh: all checks passed"
exit $fail
