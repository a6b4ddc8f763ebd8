#!/bin/sh
# run.sh BUILDDIR [--json] [--hog] [-t SECONDS] - the network benchmark
# (bench_net.py says what it measures) against the pvkit of an existing
# build (builds nothing).  As root: it runs in a private network and mount
# namespace of its own, so the host's network is never touched.  Needs
# iperf3, ping and ip (scripts/install-deps.sh installs them).
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILDDIR [--json] [--hog] [-t SECONDS]" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0: run as root (network namespaces, TAP interfaces)" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
# A private network namespace, and a mount namespace with its own /sys
# (this namespace's interfaces) and /run/netns.
exec unshare --net --mount --propagation private sh -c '
	mount -t sysfs none /sys && mount -t tmpfs none /run/netns 2>/dev/null ||
		{ mkdir -p /run/netns && mount -t tmpfs none /run/netns; }
	exec python3 "$0" "$@"' "$here/bench_net.py" "$@"
