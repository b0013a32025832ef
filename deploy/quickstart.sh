#!/bin/bash
# deploy/quickstart.sh — README command 1: install what is missing, build, and
# run Flowdelta's main job on a built-in default.
#
# Today's default: a synthetic fleet (flowdelta gen: 4 IPFIX exporters and 2
# NetFlow v9 exporters) is captured to a pcap and decoded back by the same
# codec the proxy and the store use; the run prints a sample of the records and
# the per-exporter counters. Everything it writes goes to a temporary
# directory (kept with --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
for a in "$@"; do
	case "$a" in
	--keep) keep=1 ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
	esac
done

deploy/setup.sh
fd=build/cli/flowdelta
work=$(mktemp -d /tmp/flowdelta-quickstart.XXXXXX)
if ((keep)); then
	echo "quickstart: files kept in $work"
else
	trap 'rm -rf "$work"' EXIT
fi

echo
echo "== generating exports: 4 IPFIX + 2 NetFlow v9 exporters, 20000 flows each"
"$fd" gen --version 10 --exporters 4 --flows 20000 --strings --pcap "$work/ipfix.pcap" --port 4739
"$fd" gen --version 9 --exporters 2 --flows 20000 --seed 2 --pcap "$work/v9.pcap" --port 2055

echo
echo "== decoding them (first 10 records)"
"$fd" decode --format table "$work/ipfix.pcap" "$work/v9.pcap" | head -11 || true

echo
echo "== per-exporter counters"
"$fd" decode --stats --format csv "$work/ipfix.pcap" "$work/v9.pcap" 2>&1 >/dev/null
