#!/bin/bash
# deploy/tune.sh — appliance tuning for a Flowdelta proxy (DPDK dataplane) or
# slave: hugepages, isolated cores, IRQ affinity, NIC binding.
#
#   tune.sh check [--cpus LIST]           report what is and is not tuned (exit 1 if
#                                         something is missing; never changes anything)
#   tune.sh hugepages [--2m N] [--1g N] [--persist]
#                                         reserve hugepages now and mount hugetlbfs;
#                                         --persist also writes /etc/sysctl.d and fstab
#   tune.sh cmdline --cpus LIST [--apply] print (or with --apply, write to
#                                         /etc/default/grub and run update-grub) the
#                                         kernel command line that isolates LIST:
#                                         isolcpus, nohz_full, rcu_nocbs, irqaffinity,
#                                         and 1 GiB hugepages when --1g N is given
#   tune.sh irqs --cpus LIST              move every movable IRQ off LIST (onto the
#                                         housekeeping cores)
#   tune.sh idle --cpus LIST [--restore]  keep LIST out of idle states deeper than
#                                         polling (C-states, a VM's halt), until reboot;
#                                         --restore allows them again
#   tune.sh bind PCI [PCI...] [--driver vfio-pci]
#                                         bind NICs to a DPDK driver (dpdk-devbind.py)
#   tune.sh unbind PCI [PCI...] --driver KERNEL_DRIVER
#
# LIST is a CPU list such as 2-7 or 2,3,6,7: the cores for dataplane workers
# and sender threads. Everything not in LIST is housekeeping (kernel, IRQs,
# control plane). See docs/tuning.md for the reasoning and a worked example.
set -euo pipefail

die() { echo "tune.sh: $*" >&2; exit 2; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

# Expand "2-4,7" to "2 3 4 7".
expand_cpus() {
	local out=() part a b
	IFS=',' read -ra parts <<<"$1"
	for part in "${parts[@]}"; do
		if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
			a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
			((a <= b)) || die "bad CPU range '$part'"
			for ((i = a; i <= b; i++)); do out+=("$i"); done
		elif [[ $part =~ ^[0-9]+$ ]]; then
			out+=("$part")
		else
			die "bad CPU list '$1' (expected e.g. 2-7 or 2,3,6)"
		fi
	done
	echo "${out[@]}"
}

ncpus() { nproc --all; }

# Validate a CPU list in this shell (expand_cpus runs in subshells, where
# die would only leave the subshell).
valid_list() {
	[[ $1 =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || die "bad CPU list '$1' (expected e.g. 2-7 or 2,3,6)"
	local part
	IFS=',' read -ra parts <<<"$1"
	for part in "${parts[@]}"; do
		if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]] && ((BASH_REMATCH[1] > BASH_REMATCH[2])); then
			die "bad CPU range '$part'"
		fi
	done
}

check_cpus_exist() {
	local c n
	valid_list "$1"
	n=$(ncpus)
	for c in $(expand_cpus "$1"); do
		((c < n)) || die "CPU $c does not exist (this host has $n)"
	done
	[ "$(expand_cpus "$1" | wc -w)" -lt "$n" ] || die "LIST must leave at least one housekeeping core"
}

# Housekeeping cores: all but LIST, as a list.
housekeeping() {
	local iso=" $(expand_cpus "$1") " out=() c
	for ((c = 0; c < $(ncpus); c++)); do
		[[ $iso == *" $c "* ]] || out+=("$c")
	done
	local IFS=,
	echo "${out[*]}"
}

hp_dir() { echo "/sys/kernel/mm/hugepages/hugepages-$1kB"; }

# ---- check -------------------------------------------------------------
cmd_check() {
	local cpus="" bad=0
	while (($#)); do
		case "$1" in
		--cpus) cpus=${2:?--cpus needs a list}; shift 2 ;;
		*) die "check: unknown option '$1'" ;;
		esac
	done
	ok() { printf '  ok    %s\n' "$*"; }
	no() { printf '  TODO  %s\n' "$*"; bad=1; }
	info() { printf '  info  %s\n' "$*"; }

	echo "Flowdelta tuning check on $(hostname) ($(ncpus) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo))"
	echo "hugepages:"
	local n2=0 n1=0
	[ -r "$(hp_dir 2048)/nr_hugepages" ] && n2=$(cat "$(hp_dir 2048)/nr_hugepages")
	[ -r "$(hp_dir 1048576)/nr_hugepages" ] && n1=$(cat "$(hp_dir 1048576)/nr_hugepages")
	if ((n2 > 0 || n1 > 0)); then
		ok "reserved: ${n2} x 2 MiB, ${n1} x 1 GiB ($(((n2 * 2 + n1 * 1024))) MiB)"
	else
		no "no hugepages reserved (tune.sh hugepages --2m 1024); the dataplane would need --no-huge"
	fi
	if grep -q ' hugetlbfs ' /proc/mounts; then
		ok "hugetlbfs mounted at $(awk '$3 == "hugetlbfs" {print $2; exit}' /proc/mounts)"
	else
		no "hugetlbfs not mounted (tune.sh hugepages mounts /dev/hugepages)"
	fi
	local thp
	thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
	[ "$thp" = never ] || [ "$thp" = madvise ] && ok "transparent hugepages: $thp" ||
		info "transparent hugepages: $thp (madvise or never avoids compaction stalls on the store)"

	echo "CPU isolation:"
	local cmdline
	cmdline=$(cat /proc/cmdline)
	for k in isolcpus nohz_full rcu_nocbs irqaffinity; do
		local v
		v=$(tr ' ' '\n' <<<"$cmdline" | sed -n "s/^$k=//p" | head -1)
		if [ -n "$v" ]; then
			ok "$k=$v"
		elif [ -n "$cpus" ]; then
			no "$k not on the kernel command line (tune.sh cmdline --cpus $cpus)"
		else
			info "$k not set (pass --cpus LIST to check against the cores you plan to isolate)"
		fi
	done
	if [ -n "$cpus" ]; then
		check_cpus_exist "$cpus"
		local iso
		iso=$(cat /sys/devices/system/cpu/isolated 2>/dev/null || true)
		if [ "$iso" = "$cpus" ] || [ "$(expand_cpus "${iso:-x}" 2>/dev/null)" = "$(expand_cpus "$cpus")" ]; then
			ok "kernel reports isolated CPUs: $iso"
		else
			no "kernel isolated CPUs are '${iso:-none}', want '$cpus'"
		fi
	fi
	local gov
	gov=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo none)
	case "$gov" in
	performance) ok "CPU frequency governor: performance" ;;
	none) info "no cpufreq governor exposed (virtual machine or fixed clock)" ;;
	*) no "CPU frequency governor is '$gov' (echo performance > /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)" ;;
	esac

	if [ -n "$cpus" ]; then
		local deep=0 c d
		for c in $(expand_cpus "$cpus"); do
			for d in $(deep_states "$c"); do
				[ "$(cat "$d/disable")" = 1 ] || deep=$((deep + 1))
			done
		done
		((deep == 0)) && ok "no idle state deeper than polling on the isolated cores" ||
			no "$deep idle state(s) deeper than polling allowed on the isolated cores: waking from them delays a worker (tune.sh idle --cpus $cpus)"
	fi

	echo "IRQs:"
	if [ -n "$cpus" ]; then
		local hits=0 irq aff
		for irq in /proc/irq/[0-9]*; do
			aff=$(cat "$irq/effective_affinity_list" 2>/dev/null || cat "$irq/smp_affinity_list" 2>/dev/null || continue)
			for c in $(expand_cpus "$aff" 2>/dev/null); do
				if [[ " $(expand_cpus "$cpus") " == *" $c "* ]]; then
					hits=$((hits + 1))
					break
				fi
			done
		done
		((hits == 0)) && ok "no IRQ targets the isolated cores" ||
			no "$hits IRQs can run on the isolated cores (tune.sh irqs --cpus $cpus)"
	else
		info "pass --cpus LIST to check IRQ affinity"
	fi
	if pgrep -x irqbalance >/dev/null; then
		no "irqbalance is running: it moves IRQs back onto isolated cores (systemctl disable --now irqbalance)"
	else
		ok "irqbalance not running"
	fi

	echo "NICs and IOMMU:"
	if grep -qE 'intel_iommu=on|amd_iommu=on|iommu=pt' /proc/cmdline || [ -d /sys/class/iommu ] && [ -n "$(ls /sys/class/iommu 2>/dev/null)" ]; then
		ok "IOMMU enabled (vfio-pci usable)"
	else
		info "IOMMU not enabled: vfio-pci needs intel_iommu=on / amd_iommu=on (or use AF_XDP, docs/xdp.md)"
	fi
	if command -v dpdk-devbind.py >/dev/null; then
		local bound
		bound=$(dpdk-devbind.py --status-dev net 2>/dev/null | sed -n '/DPDK-compatible driver/,/^$/p' | grep -c "drv=" || true)
		((bound > 0)) && ok "$bound NIC(s) bound to a DPDK driver" ||
			info "no NIC bound to a DPDK driver (fine for AF_XDP, net_pcap and virtual devices)"
	else
		info "dpdk-devbind.py not installed (package dpdk)"
	fi
	((bad == 0)) && echo "result: tuned" || echo "result: something to do (lines marked TODO)"
	return $bad
}

# ---- hugepages ---------------------------------------------------------
cmd_hugepages() {
	local n2="" n1="" persist=0
	while (($#)); do
		case "$1" in
		--2m) n2=${2:?}; shift 2 ;;
		--1g) n1=${2:?}; shift 2 ;;
		--persist) persist=1; shift ;;
		*) die "hugepages: unknown option '$1'" ;;
		esac
	done
	[ -n "$n2$n1" ] || die "hugepages: give --2m N and/or --1g N"
	[ "$(id -u)" -eq 0 ] || die "hugepages: needs root"
	if [ -n "$n2" ]; then
		[[ $n2 =~ ^[0-9]+$ ]] || die "--2m wants a number"
		echo "$n2" >"$(hp_dir 2048)/nr_hugepages"
		echo "2 MiB pages: asked $n2, got $(cat "$(hp_dir 2048)/nr_hugepages")"
	fi
	if [ -n "$n1" ]; then
		[[ $n1 =~ ^[0-9]+$ ]] || die "--1g wants a number"
		[ -d "$(hp_dir 1048576)" ] || die "this CPU/kernel has no 1 GiB pages"
		echo "$n1" >"$(hp_dir 1048576)/nr_hugepages"
		echo "1 GiB pages: asked $n1, got $(cat "$(hp_dir 1048576)/nr_hugepages") (1 GiB pages are best reserved at boot: tune.sh cmdline --1g N)"
	fi
	mkdir -p /dev/hugepages
	grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts || mount -t hugetlbfs nodev /dev/hugepages
	if ((persist)); then
		[ -n "$n2" ] && echo "vm.nr_hugepages = $n2" >/etc/sysctl.d/80-flowdelta-hugepages.conf
		grep -q '/dev/hugepages' /etc/fstab || echo "nodev /dev/hugepages hugetlbfs defaults 0 0" >>/etc/fstab
		echo "persisted: /etc/sysctl.d/80-flowdelta-hugepages.conf, /etc/fstab"
	fi
}

# ---- kernel command line -----------------------------------------------
cmd_cmdline() {
	local cpus="" apply=0 n1=""
	while (($#)); do
		case "$1" in
		--cpus) cpus=${2:?}; shift 2 ;;
		--1g) n1=${2:?}; shift 2 ;;
		--apply) apply=1; shift ;;
		*) die "cmdline: unknown option '$1'" ;;
		esac
	done
	[ -n "$cpus" ] || die "cmdline: --cpus LIST is required"
	check_cpus_exist "$cpus"
	local hk args
	hk=$(housekeeping "$cpus")
	# isolcpus keeps the scheduler off LIST; nohz_full stops the tick there
	# while one task runs (a polling lcore); rcu_nocbs moves RCU callbacks
	# away; irqaffinity puts IRQs on the housekeeping cores by default.
	args="isolcpus=managed_irq,domain,$cpus nohz_full=$cpus rcu_nocbs=$cpus irqaffinity=$hk"
	[ -n "$n1" ] && args+=" default_hugepagesz=1G hugepagesz=1G hugepages=$n1"
	if ((apply == 0)); then
		echo "$args"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "cmdline --apply: needs root"
	[ -f /etc/default/grub ] || die "no /etc/default/grub: add the line above to your boot loader by hand"
	cp /etc/default/grub /etc/default/grub.flowdelta-bak
	sed -i -E 's/ ?(isolcpus|nohz_full|rcu_nocbs|irqaffinity|default_hugepagesz|hugepagesz|hugepages)=[^" ]*//g' /etc/default/grub
	sed -i -E "s/^GRUB_CMDLINE_LINUX=\"(.*)\"/GRUB_CMDLINE_LINUX=\"\\1 $args\"/" /etc/default/grub
	update-grub
	echo "written to /etc/default/grub (backup: /etc/default/grub.flowdelta-bak); reboot to apply"
}

# ---- IRQs --------------------------------------------------------------
cmd_irqs() {
	local cpus=""
	while (($#)); do
		case "$1" in
		--cpus) cpus=${2:?}; shift 2 ;;
		*) die "irqs: unknown option '$1'" ;;
		esac
	done
	[ -n "$cpus" ] || die "irqs: --cpus LIST is required"
	[ "$(id -u)" -eq 0 ] || die "irqs: needs root"
	check_cpus_exist "$cpus"
	local hk moved=0 fixed=0 irq
	hk=$(housekeeping "$cpus")
	for irq in /proc/irq/[0-9]*; do
		if echo "$hk" >"$irq/smp_affinity_list" 2>/dev/null; then
			moved=$((moved + 1))
		else
			fixed=$((fixed + 1)) # per-CPU or managed IRQs cannot move
		fi
	done
	echo "IRQs moved to CPUs $hk: $moved (not movable: $fixed)"
	pgrep -x irqbalance >/dev/null && echo "warning: irqbalance is running and will undo this" || true
}

# ---- idle states -------------------------------------------------------
# the cpuidle state directories of CPU $1 other than POLL, one per line
deep_states() {
	local d
	for d in /sys/devices/system/cpu/cpu"$1"/cpuidle/state[0-9]*; do
		[ -e "$d/name" ] || continue
		[ "$(cat "$d/name")" = POLL ] && continue
		echo "$d"
	done
}

cmd_idle() {
	local cpus="" val=1
	while (($#)); do
		case "$1" in
		--cpus) cpus=${2:?}; shift 2 ;;
		--restore) val=0; shift ;;
		*) die "idle: unknown option '$1'" ;;
		esac
	done
	[ -n "$cpus" ] || die "idle: --cpus LIST is required"
	check_cpus_exist "$cpus"
	[ "$(id -u)" -eq 0 ] || die "idle: needs root"
	local c d n=0
	for c in $(expand_cpus "$cpus"); do
		for d in $(deep_states "$c"); do
			echo "$val" >"$d/disable" || die "idle: cannot write $d/disable"
			n=$((n + 1))
		done
	done
	if ((n == 0)); then
		echo "no cpuidle states deeper than POLL on CPUs $cpus (none exposed, or idle=poll)"
	elif ((val)); then
		echo "CPUs $cpus: $n idle state(s) disabled: they poll when idle (until reboot; --restore undoes)"
	else
		echo "CPUs $cpus: $n idle state(s) allowed again"
	fi
}

# ---- NIC binding -------------------------------------------------------
cmd_bind() {
	local driver=vfio-pci devs=()
	while (($#)); do
		case "$1" in
		--driver) driver=${2:?}; shift 2 ;;
		-*) die "bind: unknown option '$1'" ;;
		*) devs+=("$1"); shift ;;
		esac
	done
	((${#devs[@]})) || die "bind: give the PCI addresses (dpdk-devbind.py --status)"
	command -v dpdk-devbind.py >/dev/null || die "dpdk-devbind.py missing (apt-get install dpdk)"
	[ "$(id -u)" -eq 0 ] || die "bind: needs root"
	[ "$driver" = vfio-pci ] && modprobe vfio-pci
	dpdk-devbind.py --bind="$driver" "${devs[@]}"
	dpdk-devbind.py --status-dev net
}

cmd=${1:-}
[ -n "$cmd" ] || { usage; exit 2; }
shift
case "$cmd" in
check) cmd_check "$@" ;;
hugepages) cmd_hugepages "$@" ;;
cmdline) cmd_cmdline "$@" ;;
irqs) cmd_irqs "$@" ;;
idle) cmd_idle "$@" ;;
bind) cmd_bind "$@" ;;
unbind)
	drv=""; devs=()
	while (($#)); do case "$1" in --driver) drv=${2:?}; shift 2 ;; *) devs+=("$1"); shift ;; esac; done
	[ -n "$drv" ] || die "unbind: --driver KERNEL_DRIVER is required (e.g. ixgbe, i40e, ice, mlx5_core)"
	cmd_bind --driver "$drv" "${devs[@]}" ;;
-h|--help|help) usage ;;
*) die "unknown command '$cmd' (try --help)" ;;
esac
