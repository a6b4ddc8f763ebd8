#!/bin/sh
# run.sh BUILDDIR [pvkit-bench-hv options] - run the hypervisor benchmarks
# against the pvkit-hvd of an existing build (builds nothing).
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILDDIR [-n ROUNDS] [-r REPS] [-c CPU] [--hog] [--json]" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
shift
bench="$build/bench/pvkit-bench-hv"
hvd="$build/src/hv/pvkit-hvd"
for f in "$bench" "$hvd"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; build first: ninja -C $build" >&2
		exit 1
	fi
done
PVKIT_HVD="$hvd" exec "$bench" "$@"
