#!/bin/sh
# run.sh BUILDDIR [pvkit-bench-blk options] - the block benchmark against
# the pvkit-hvd, pvkit-xenstored and pvkit-blkback of an existing build
# (builds nothing); the options go to pvkit-bench-blk as they are.  Needs
# nbdkit (scripts/install-deps.sh installs it).
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILDDIR [-s MIB] [-t MS] [-r REPS] [-l LOADS] [-p PATHS]" \
		"[--guests N] [--hog] [--json]  (-h: all options)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
bench="$build/bench/block/pvkit-bench-blk"
for f in "$bench" "$build/src/hv/pvkit-hvd" \
	"$build/src/xenstore/pvkit-xenstored" \
	"$build/src/backends/blkback/pvkit-blkback"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; build first: ninja -C $build" >&2
		exit 1
	fi
done
command -v nbdkit >/dev/null || { echo "$0: nbdkit not installed" >&2; exit 1; }
PVKIT_HVD="$build/src/hv/pvkit-hvd" \
PVKIT_XENSTORED="$build/src/xenstore/pvkit-xenstored" \
PVKIT_BLKBACK="$build/src/backends/blkback/pvkit-blkback" \
	exec "$bench" "$@"
