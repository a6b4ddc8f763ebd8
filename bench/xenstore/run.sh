#!/bin/sh
# run.sh BUILDDIR [-i N] - the xenstore benchmarks of an existing build
# (builds nothing): pvkit-bench-xs (the core in-process), then Xen's
# test-xenstore with its own per-test timings (-i N iterations, default
# 100) against pvkit-xenstored on a private socket.  Xen's C xenstored is
# not measured: it needs a hypervisor (/dev/xen/*) to start.
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILDDIR [-i ITERATIONS]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
iters=100
[ "${1:-}" = "-i" ] && iters=${2:?-i needs a value}
bench="$build/bench/xenstore/pvkit-bench-xs"
daemon="$build/src/xenstore/pvkit-xenstored"
for f in "$bench" "$daemon"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; build first: ninja -C $build" >&2
		exit 1
	fi
done
"$bench"
txs=
for f in /usr/lib/xen-*/bin/test-xenstore; do [ -x "$f" ] && txs=$f; done
if [ -z "$txs" ]; then
	echo "test-xenstore not installed (xen-utils-4.17): socket figures skipped"
	exit 0
fi
dir=$(mktemp -d /tmp/pvkit-xsbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
export XENSTORED_PATH="$dir/socket"
"$daemon" --socket "$XENSTORED_PATH" >"$dir/log" 2>&1 &
pid=$!
i=0
while [ ! -S "$XENSTORED_PATH" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$dir/log"; exit 1; }
	sleep 0.05
done
echo
echo "test-xenstore -i $iters against pvkit-xenstored (unix socket, per" \
	"operation, libxenstore round trip included):"
"$txs" -i "$iters"
