#!/usr/bin/env bash
# run.sh BUILDDIR [SECONDS] [DOMAINS] - the chaos test (chaos.py says what
# it does) against an existing build, as root, in a private state
# directory and network namespace (the host's bridge stays the test's).
# Ends with "N passed, N failed".
set -u
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILDDIR [SECONDS] [DOMAINS]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
export PVKIT_HVD=$build/src/hv/pvkit-hvd
export PVKIT_XENSTORED=$build/src/xenstore/pvkit-xenstored
export PVKIT_CONSOLED=$build/src/console/pvkit-consoled
export PVKIT_BLKBACK=$build/src/backends/blkback/pvkit-blkback
export PVKIT_NETBACK=$build/src/backends/netback/pvkit-netback
export PVKIT_GUEST=$build/src/kernels/guest/pvkit-guest
for f in "$build/src/toolstack/pvkit" "$PVKIT_HVD" "$PVKIT_XENSTORED" "$PVKIT_CONSOLED" "$PVKIT_BLKBACK" "$PVKIT_NETBACK" "$PVKIT_GUEST"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; build first: ninja -C $build" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
export PVKIT_STATE_DIR=$(mktemp -d /tmp/pvkit-chaos-XXXXXX)
trap 'rm -rf "$PVKIT_STATE_DIR"' EXIT
# host start makes the bridge xenbr0: in a namespace of our own
unshare --net --mount --propagation private \
	python3 "$here/chaos.py" "$build/src/toolstack/pvkit" "${2:-60}" "${3:-8}" "${@:4}"
