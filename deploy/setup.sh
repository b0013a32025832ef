#!/bin/bash
# deploy/setup.sh — install every Debian package Flowdelta needs (idempotent),
# then configure and build into ./build.
#
#   deploy/setup.sh            install what is missing, build
#   deploy/setup.sh --no-build only install packages
#
# Packages are listed in deploy/packages.txt. Needs root (or sudo) only when
# something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

build=1
for a in "$@"; do
	case "$a" in
	--no-build) build=0 ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "setup.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
	esac
done

mapfile -t pkgs < <(grep -v '^\s*#' "$here/packages.txt" | sed '/^\s*$/d')
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	# tshark asks whether non-root users may capture; answer for it.
	echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	echo "setup: all ${#pkgs[@]} packages present"
fi

if ((build)); then
	cd "$root"
	if [ ! -f build/build.ninja ]; then
		meson setup build --buildtype=release -Dwerror=true
	fi
	ninja -C build
fi
