#!/bin/bash
# xdp_veth_dpdk.sh — flow exports reach a DPDK process through AF_XDP and our
# XDP program, while ping and TCP on the same interface stay with the kernel.
#
#   xdp_veth_dpdk.sh FLOWDELTA_BIN FLOW_STEER_BPF_O
#
# Topology (both ends in namespaces we create, nothing touches the host's
# interfaces):  netns E: fdxdpNe 10.77.0.1, .9 / fd77::1  <-veth->
#               netns C: fdxdpNc 10.77.0.2 / fd77::2, dpdk-testpmd net_af_xdp
# The Flowdelta dataplane does not exist yet, so dpdk-testpmd (rxonly) stands
# in for it, loading flow_steer.bpf.o through the PMD's xdp_prog= devarg, the
# way the dataplane will. Checks:
#  1. `flowdelta xdp prepare` + PMD attach + `flowdelta xdp set` (pins, ports,
#     allow-list) work on the PMD's program; prepare/detach refuse it while
#     the DPDK process runs;
#  2. ping (v4, v6) and a TCP echo through the kernel work while it runs;
#  3. exports from the allowed exporter (`flowdelta gen --send`, IPFIX, IPv4
#     and IPv6; a python NetFlow v5 sender if the CLI has no gen) arrive in
#     DPDK: testpmd RX == our redirect_xsk == sent;
#  4. exports from an unlisted source (10.77.0.9) are dropped and counted;
#     UDP to another port goes to the kernel (pass_other_port), and so do the
#     fragments of exports too big for the MTU (pass_frag_*);
#  5. after `kill -9` of the DPDK process the program stays attached; `xdp
#     prepare` reports it as stale and removes it.
# Exit 77 (skip) when root, tools or namespaces are missing. Every step is
# bounded; the EXIT trap removes processes, namespaces, pins and DPDK runtime
# files even on failure.
set -u

FD=${1:?usage: $0 FLOWDELTA_BIN FLOW_STEER_BPF_O}
OBJ=${2:?usage: $0 FLOWDELTA_BIN FLOW_STEER_BPF_O}
N4=200  # IPv4 exports
N6=50   # IPv6 exports
NBAD=30 # exports from an unlisted source
NOTHER=20 # UDP to a non-flow port
NFRAG=10  # 3000-byte exports: IP fragments (3 per datagram at MTU 1500)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (netns, XDP, AF_XDP)"
for t in ip nsenter timeout python3 ping dpdk-testpmd; do
	command -v "$t" >/dev/null || skip "$t not installed (deploy/packages.txt)"
done
[ "$(nproc)" -ge 2 ] || skip "dpdk-testpmd needs two CPUs (main + forwarding lcore)"
[ -x "$FD" ] || { echo "FAIL: $FD not executable"; exit 1; }
[ -r "$OBJ" ] || { echo "FAIL: $OBJ not readable"; exit 1; }

id=$$
NE=fdxdp-$id-e
NC=fdxdp-$id-c
IE=fdxdp${id}e
IC=fdxdp${id}c
PREFIX=fdxdp$id
LOG=$(mktemp -d /tmp/fdxdp-test.XXXXXX)
TP_PID=
SRV_PID=
fails=0

cleanup() {
	local p
	for p in $TP_PID $SRV_PID; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns pids "$NC" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
	ip netns pids "$NE" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NE" 2>/dev/null
	ip netns del "$NC" 2>/dev/null # deletes the veth pair and its XDP program
	rm -rf "/sys/fs/bpf/flowdelta/$IC" "/var/run/dpdk/$PREFIX" "/var/run/dpdk/${PREFIX}k"
	rmdir /sys/fs/bpf/flowdelta 2>/dev/null
	if [ "$fails" != 0 ] && [ -d "$LOG" ]; then
		echo "--- logs in $LOG"
		tail -n 40 "$LOG"/*.log 2>/dev/null
	else
		rm -rf "$LOG"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
inE() { timeout 20 nsenter --net="/run/netns/$NE" "$@"; }
inC() { timeout 20 nsenter --net="/run/netns/$NC" "$@"; }

ip netns add "$NE" || skip "cannot create network namespaces"
ip netns add "$NC" || skip "cannot create network namespaces"
ip link add "$IE" type veth peer name "$IC" || skip "cannot create veth pairs"
ip link set "$IE" netns "$NE"
ip link set "$IC" netns "$NC"
ip -n "$NE" addr add 10.77.0.1/24 dev "$IE"
ip -n "$NE" addr add 10.77.0.9/24 dev "$IE"
ip -n "$NE" addr add fd77::1/64 dev "$IE" nodad
ip -n "$NC" addr add 10.77.0.2/24 dev "$IC"
ip -n "$NC" addr add fd77::2/64 dev "$IC" nodad
for ns in "$NE" "$NC"; do ip -n "$ns" link set lo up; done
ip -n "$NE" link set "$IE" up
ip -n "$NC" link set "$IC" up

# --- 1. PMD path: prepare, DPDK loads the object, we configure its maps ------
inC "$FD" xdp prepare "$IC" >"$LOG/prepare.log" 2>&1 || { cat "$LOG/prepare.log"; fail "xdp prepare"; exit 1; }

start_testpmd() { # $1: file prefix, $2: log
	nsenter --net="/run/netns/$NC" timeout -s INT 90 dpdk-testpmd -l 0,1 --no-huge -m 512 \
		--no-pci --file-prefix "$1" --log-level=pmd.net.af_xdp:info \
		--vdev "net_af_xdp0,iface=$IC,xdp_prog=$OBJ" -- \
		--forward-mode=rxonly --nb-cores=1 --total-num-mbufs=8192 --stats-period=1 \
		>"$2" 2>&1 &
	TP_PID=$!
}
wait_attached() { # until `xdp status` sees our program (the PMD attached it)
	local i
	for i in $(seq 1 60); do
		inC "$FD" xdp status "$IC" --top 0 >/dev/null 2>&1 && return 0
		kill -0 "$TP_PID" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}

start_testpmd "$PREFIX" "$LOG/testpmd.log"
if ! wait_attached; then
	fail "dpdk-testpmd did not attach flow_steer.bpf.o to $IC"
	exit 1
fi
ok "DPDK net_af_xdp attached our program (xdp_prog=)"
inC "$FD" xdp set "$IC" --port 2055 --port 4739 --allow 10.77.0.1/32 --allow fd77::/64 \
	>"$LOG/set.log" 2>&1 || { cat "$LOG/set.log"; fail "xdp set"; exit 1; }
[ -e "/sys/fs/bpf/flowdelta/$IC/fd_ports" ] && ok "maps pinned in /sys/fs/bpf/flowdelta/$IC" \
	|| fail "maps not pinned"

# A live dataplane's program is not "stale": prepare/detach must refuse it.
if inC "$FD" xdp prepare "$IC" >"$LOG/prepare-live.log" 2>&1; then
	fail "xdp prepare replaced the program of a running DPDK process"
elif grep -q "in use by running pid" "$LOG/prepare-live.log"; then
	ok "prepare refuses a program a running process holds: $(cat "$LOG/prepare-live.log")"
else
	cat "$LOG/prepare-live.log"
	fail "prepare on a live program: unexpected error"
fi
inC "$FD" xdp detach "$IC" >/dev/null 2>&1 && fail "xdp detach removed a live program"

# --- 2. the kernel path keeps working ---------------------------------------
inE ping -c 3 -i 0.2 -W 2 10.77.0.2 >"$LOG/ping.log" 2>&1 && ok "ping 10.77.0.2 through the kernel" \
	|| fail "ping over $IE"
inE ping -6 -c 3 -i 0.2 -W 2 fd77::2 >"$LOG/ping6.log" 2>&1 && ok "ping fd77::2 through the kernel" \
	|| fail "ping -6 over $IE"

nsenter --net="/run/netns/$NC" timeout 30 python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.2", 7070)); s.listen(1); s.settimeout(25)
c, _ = s.accept(); c.settimeout(10)
data = b""
while not data.endswith(b"\n"):
    chunk = c.recv(65536)
    if not chunk: break
    data += chunk
c.sendall(data); c.close()
' >"$LOG/tcpsrv.log" 2>&1 &
SRV_PID=$!
tcp_ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	if inE python3 -c '
import socket, sys
msg = b"x" * 100000 + b"\n"   # several segments, both directions
s = socket.create_connection(("10.77.0.2", 7070), timeout=5)
s.sendall(msg)
got = b""
while len(got) < len(msg):
    chunk = s.recv(65536)
    if not chunk: break
    got += chunk
sys.exit(0 if got == msg else 1)
' >"$LOG/tcpcli.log" 2>&1; then tcp_ok=1; break; fi
	sleep 0.3
done
[ $tcp_ok = 1 ] && ok "TCP echo of 100 KB through the kernel" || fail "TCP connection over $IE"

# --- 3./4. exports ------------------------------------------------------------
# The allowed exporter's exports come from `flowdelta gen --send` (IPFIX) when
# the CLI has it; the rest (a second source address, a non-flow port) from a
# small python sender, which also stands in for gen when it is missing.
py4=$N4
py6=$N6
if "$FD" gen --help >/dev/null 2>&1; then
	# 12 records per packet keep the datagrams below the veth MTU (1500).
	inE "$FD" gen --version 10 --per-packet 12 --send 10.77.0.2:2055 --packets "$N4" --rate 5000 \
		>"$LOG/send.log" 2>&1 || fail "flowdelta gen --send (IPv4)"
	inE "$FD" gen --version 10 --per-packet 12 --send "[fd77::2]:4739" --packets "$N6" --rate 5000 \
		>>"$LOG/send.log" 2>&1 || fail "flowdelta gen --send (IPv6)"
	py4=0
	py6=0
	ok "exports sent with flowdelta gen --send"
fi
inE python3 - "$py4" "$py6" "$NBAD" "$NOTHER" "$NFRAG" >>"$LOG/send.log" 2>&1 <<'PY' || fail "sender"
import socket, struct, sys, time
n4, n6, nbad, nother, nfrag = map(int, sys.argv[1:6])

def v5(seq, nrec=10):
    # NetFlow v5: 24-byte header + 48-byte records
    hdr = struct.pack("!HHIIIIBBH", 5, nrec, 1000, int(time.time()), 0, seq, 0, 0, 0)
    recs = b"".join(struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH",
        socket.inet_aton("10.1.0.%d" % (i + 1)), socket.inet_aton("10.2.0.1"),
        socket.inet_aton("0.0.0.0"), 1, 2, 10, 1500, 0, 1000, 40000 + i, 443,
        0, 0x18, 6, 0, 0, 0, 24, 24, 0) for i in range(nrec))
    return hdr + recs

def send(family, src, dst, port, n, payload):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for i in range(n):
        s.sendto(payload(i), (dst, port))
        if i % 50 == 49:
            time.sleep(0.01)   # stay far below the queue sizes
    s.close()

send(socket.AF_INET, "10.77.0.1", "10.77.0.2", 2055, n4, v5)
send(socket.AF_INET6, "fd77::1", "fd77::2", 4739, n6, lambda i: struct.pack("!HHIII", 10, 16 + 400, int(time.time()), i, 0) + b"\0" * 400)
send(socket.AF_INET, "10.77.0.9", "10.77.0.2", 2055, nbad, v5)
send(socket.AF_INET, "10.77.0.1", "10.77.0.2", 5353, nother, lambda i: b"not an export")
# Too big for the MTU: the kernel of E fragments (1480 + 1480 + 48 bytes).
send(socket.AF_INET, "10.77.0.1", "10.77.0.2", 2055, nfrag, lambda i: b"\0" * 3000)
print("sent", n4, n6, nbad, nother, nfrag)
PY
sleep 2
inC "$FD" xdp status "$IC" --top 5 >"$LOG/status.log" 2>&1 || fail "xdp status"
cat "$LOG/status.log"
counter() { awk -v n="$1" '$1 == n { print $2 }' "$LOG/status.log"; }

kill -INT "$TP_PID" 2>/dev/null
wait "$TP_PID" 2>/dev/null
TP_PID=
rx=$(awk '/Accumulated forward statistics/ { acc = 1 } acc && /RX-packets:/ { print $2; exit }' "$LOG/testpmd.log")
echo "dpdk-testpmd received: ${rx:-?} packets"

want=$((N4 + N6))
[ "${rx:-x}" = "$want" ] && ok "DPDK received all $want exports through AF_XDP" \
	|| fail "DPDK received ${rx:-nothing}, want $want"
[ "$(counter redirect_xsk)" = "$want" ] && ok "redirect_xsk = $want" \
	|| fail "redirect_xsk = $(counter redirect_xsk), want $want"
[ "$(counter drop_unknown_exporter)" = "$NBAD" ] && ok "drop_unknown_exporter = $NBAD (10.77.0.9 not allowed)" \
	|| fail "drop_unknown_exporter = $(counter drop_unknown_exporter), want $NBAD"
[ "$(counter pass_other_port)" = "$NOTHER" ] && ok "pass_other_port = $NOTHER" \
	|| fail "pass_other_port = $(counter pass_other_port), want $NOTHER"
[ "$(counter pass_frag_flow_port)" = "$NFRAG" ] && ok "pass_frag_flow_port = $NFRAG (fragmented exports to the kernel)" \
	|| fail "pass_frag_flow_port = $(counter pass_frag_flow_port), want $NFRAG"
[ "$(counter pass_frag_unchecked)" = $((2 * NFRAG)) ] && ok "pass_frag_unchecked = $((2 * NFRAG))" \
	|| fail "pass_frag_unchecked = $(counter pass_frag_unchecked), want $((2 * NFRAG))"
[ "$(counter pass_no_xsk)" = 0 ] || fail "pass_no_xsk = $(counter pass_no_xsk), want 0"
pass_tcp=$(counter pass_not_udp)
[ "${pass_tcp:-0}" -gt 0 ] && ok "pass_not_udp = $pass_tcp (ICMP, TCP to the kernel)" \
	|| fail "no TCP/ICMP seen by the program"
grep -q "^10.77.0.1 .* 2055 *$N4 " "$LOG/status.log" && ok "exporter 10.77.0.1:2055 = $N4 packets" \
	|| fail "per-exporter counter for 10.77.0.1:2055"

# --- 5. crash: the program outlives the process; prepare detects and removes it
start_testpmd "${PREFIX}k" "$LOG/testpmd-kill.log"
if wait_attached; then
	kill -KILL "$TP_PID"
	wait "$TP_PID" 2>/dev/null
	TP_PID=
	# timeout(1) got the KILL; testpmd under it must go too
	sleep 0.5
	pkill_pids=$(ip netns pids "$NC" 2>/dev/null)
	for p in $pkill_pids; do kill -KILL "$p" 2>/dev/null; done
	sleep 0.5
	inC ip link show "$IC" | grep -q 'prog/xdp' && ok "program still attached after kill -9" \
		|| fail "program vanished after kill -9 (cannot test stale detection)"
	inC "$FD" xdp prepare "$IC" >"$LOG/prepare2.log" 2>&1 || fail "prepare after crash"
	cat "$LOG/prepare2.log"
	grep -q "stale Flowdelta program" "$LOG/prepare2.log" && ok "stale program reported" \
		|| fail "stale program not reported"
	inC ip link show "$IC" | grep -q 'prog/xdp' && fail "stale program still attached" \
		|| ok "stale program removed"
else
	fail "second dpdk-testpmd did not attach"
fi
rm -rf "/var/run/dpdk/${PREFIX}k"

if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "ok: all checks passed"
exit 0
