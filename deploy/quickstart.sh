#!/bin/bash
# deploy/quickstart.sh — README command 1: install what is missing, build, and
# run a one-host Flowdelta deployment fed by a synthetic exporter fleet.
#
#   deploy/quickstart.sh [--once] [--duration S] [--rate PPS] [--keep]
#
# Two network namespaces stand in for two hosts joined by a veth pair:
#   fdq-exp    10.99.0.1   `flowdelta gen` — 8 IPFIX exporters sending to the proxy
#   fdq-proxy  10.99.0.2   flowdelta-dataplane (the proxy) on the veth through
#                          AF_XDP (falling back to AF_PACKET), and two slaves
#                          (flowdelta-store) on this namespace's loopback
# After a few seconds it prints a top-10 query over both slaves and where
# things listen, then a status line every 10 s until Ctrl-C (or --duration S
# seconds; --once stops after the first query). Everything stops cleanly and
# the namespaces and files are removed (--keep keeps the data directory).
# Needs root (namespaces, DPDK). The master units (etcd, REST API, web UI)
# join this script when the control-plane issue lands.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
once=0 keep=0 duration=0 rate=2000
while (($#)); do
	case "$1" in
	--once) once=1; shift ;;
	--keep) keep=1; shift ;;
	--duration) duration=${2:?--duration needs seconds}; shift 2 ;;
	--rate) rate=${2:?--rate needs packets/s}; shift 2 ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
done
[[ $duration =~ ^[0-9]+$ && $rate =~ ^[0-9]+$ ]] || { echo "quickstart.sh: --duration and --rate take whole numbers" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "quickstart.sh: run as root (network namespaces and DPDK need it)" >&2; exit 1; }

# FLOWDELTA_BUILD=DIR: use an existing build (the test suite does) and skip
# the package and build step.
if [ -n "${FLOWDELTA_BUILD:-}" ]; then
	bdir=$FLOWDELTA_BUILD
else
	deploy/setup.sh
	bdir=$root/build
fi
fd=$bdir/cli/flowdelta
dp=$bdir/dataplane/flowdelta-dataplane
st=$bdir/storage/flowdelta-store
xdp_obj=$bdir/bpf/flow_steer.bpf.o
pmds=$(ls -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-* 2>/dev/null | head -1)
for b in "$fd" "$dp" "$st"; do [ -x "$b" ] || { echo "quickstart.sh: $b was not built" >&2; exit 1; }; done

EXP=fdq-exp PROXY=fdq-proxy VE=fdqexp0 VP=fdqprx0
work=$(mktemp -d /tmp/flowdelta-quickstart.XXXXXX)
pids=()
cleanup() {
	set +e
	trap - EXIT INT TERM
	echo
	echo "== stopping"
	[ -n "${gen_pid:-}" ] && kill "$gen_pid" 2>/dev/null
	if [ -n "${dp_pid:-}" ] && kill -0 "$dp_pid" 2>/dev/null; then
		kill -TERM "$dp_pid"; wait "$dp_pid" 2>/dev/null
		echo "proxy stopped (drained its rings and buffers to the slaves)"
	fi
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$EXP" 2>/dev/null
	ip netns del "$PROXY" 2>/dev/null
	if ((keep)); then echo "data kept in $work"; else rm -rf "$work"; fi
	echo "stopped cleanly"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo
echo "== hosts: namespaces $EXP (10.99.0.1) and $PROXY (10.99.0.2) on a veth pair"
ip netns del "$EXP" 2>/dev/null || true
ip netns del "$PROXY" 2>/dev/null || true
ip netns add "$EXP"
ip netns add "$PROXY"
ip link add "$VE" netns "$EXP" type veth peer name "$VP" netns "$PROXY"
ip -n "$EXP" addr add 10.99.0.1/24 dev "$VE"
ip -n "$PROXY" addr add 10.99.0.2/24 dev "$VP"
for ns in "$EXP" "$PROXY"; do
	ip -n "$ns" link set lo up
done
ip -n "$EXP" link set "$VE" up
ip -n "$PROXY" link set "$VP" up
# nsenter, not `ip netns exec`: it execs in place (so $! is the daemon and
# signals reach it) and does not remount /sys (bpffs stays visible). Daemons
# are started with nsenter spelled out: a backgrounded shell function would
# be a subshell, and $! its pid, not the daemon's.
inP() { nsenter --net=/run/netns/"$PROXY" "$@"; }

echo "== slaves: two flowdelta-store on $PROXY's loopback"
for i in 1 2; do
	nsenter --net=/run/netns/"$PROXY" "$st" -d "$work/slave$i" -l 127.0.0.1 -p $((34054 + i)) --metrics-port $((9470 + i)) \
		>"$work/slave$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2; do
	for _ in $(seq 50); do
		inP ss -ltnH "sport = :$((34054 + i))" | grep -q . && break
		sleep 0.1
	done
done

# The kernel side of the proxy's port must not answer exports with ICMP port
# unreachable when it sees them (AF_PACKET copies, the kernel also gets them):
# a socket that never reads swallows them.
nsenter --net=/run/netns/"$PROXY" python3 -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("10.99.0.2",2055)); time.sleep(86400)' &
pids+=($!)

write_cfg() { # $1: vdev string, $2: extra port lines
	cat >"$work/dataplane.yaml" <<EOF
eal:
  lcores: "0-1"
  main_lcore: 0
  memory_mb: 512
  no_huge: true
  no_pci: true
  file_prefix: fdq-proxy
  plugins: [$pmds]
mbufs: 16384
ports:
  - name: veth
    vdev: "$1"
$2workers:
  - {lcore: 1, port: veth, queue: 0}
flow_ports: [2055]
group:
  model: flow-hash
  slaves:
    - {name: slave1, host: 127.0.0.1, port: 34055}
    - {name: slave2, host: 127.0.0.1, port: 34056}
senders:
  cpus: "0"
spool:
  dir: $work/spool
  max_mb: 256
stats:
  listen: 127.0.0.1:9310
poll: {idle_sleep_us: 1000, idle_after: 1, rt_priority: 1}  # shares its core with gen and the slaves
EOF
}

start_dp() {
	nsenter --net=/run/netns/"$PROXY" "$dp" --config "$work/dataplane.yaml" >"$work/dataplane.log" 2>&1 &
	dp_pid=$!
	for _ in $(seq 80); do
		kill -0 "$dp_pid" 2>/dev/null || return 1
		inP ss -ltnH "sport = :9310" | grep -q . && return 0
		sleep 0.1
	done
	return 0
}

echo "== proxy: flowdelta-dataplane on $VP"
mode=""
if [ -f "$xdp_obj" ] && "$dp" --help 2>&1 | grep -q "xdp (net_af_xdp"; then
	write_cfg "net_af_xdp0,iface=$VP" "    xdp: {program: $xdp_obj}
"
	start_dp && mode="AF_XDP with the flow-steering XDP program"
fi
if [ -z "$mode" ]; then
	write_cfg "net_af_xdp0,iface=$VP" ""
	start_dp && mode="AF_XDP"
fi
if [ -z "$mode" ]; then
	write_cfg "net_af_packet0,iface=$VP" ""
	start_dp && mode="AF_PACKET (AF_XDP unavailable: see $work/dataplane.log)"
fi
[ -n "$mode" ] || { echo "quickstart.sh: the dataplane did not start:"; tail -20 "$work/dataplane.log"; exit 1; }
echo "   ingest: $mode; no hugepages (--no-huge), worker on lcore 1"

echo "== exporters: flowdelta gen, 8 IPFIX exporters at $rate packets/s from $EXP"
nsenter --net=/run/netns/"$EXP" "$fd" gen --version 10 --exporters 8 --per-packet 12 --strings \
	--send 10.99.0.2:2055 --rate "$rate" --duration $((duration > 0 ? duration : 86400)) \
	>"$work/gen.log" 2>&1 &
gen_pid=$!

metric() { # name → value summed over label sets
	inP curl -s --max-time 2 http://127.0.0.1:9310/metrics 2>/dev/null |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%d", s}'
}

sleep 6
echo
echo "== top 10 source addresses by bytes, over both slaves"
"$fd" query -R "$work/slave1" -R "$work/slave2" --group srcip --top 10 --by bytes || true
echo
echo "== where things listen (inside namespace $PROXY: nsenter --net=/run/netns/$PROXY ...)"
echo "   flow exports     udp 10.99.0.2:2055 (the proxy)"
echo "   proxy metrics    http://127.0.0.1:9310/metrics   (flowdelta status --dataplane --metrics ...)"
echo "   slave ingest     tcp 127.0.0.1:34055, 127.0.0.1:34056 (IPFIX, docs/ack-protocol.md)"
echo "   slave metrics    http://127.0.0.1:9471/metrics, :9472/metrics"
echo "   REST API, web UI not part of this build yet (master units: control-plane issue)"
echo "   query the data   $fd query -R $work/slave1 -R $work/slave2 'proto tcp and dst port 443'"
((once)) && exit 0

echo
echo "== running; Ctrl-C stops (status every 10 s)"
start=$(date +%s)
while kill -0 "$dp_pid" 2>/dev/null; do
	sleep 10
	printf '%s  records decoded %s  delivered %s\n' "$(date +%T)" \
		"$(metric flowdelta_dp_records_decoded_total)" "$(metric flowdelta_dp_records_delivered_total)"
	if ((duration > 0 && $(date +%s) - start >= duration)); then
		break
	fi
done
