#!/bin/sh
# run.sh BUILDDIR [-i N] [pvkit-bench-xs options] - the xenstore benchmarks
# of an existing build (builds nothing): pvkit-bench-xs (the core
# in-process; -n, -r, --hog, --json go to it), then Xen's test-xenstore
# with its own per-test timings (-i N iterations, default 100) against
# pvkit-xenstored on a private socket, quiet and, with --hog, again beside
# one busy-looping process per CPU (pvkit-hog).  Xen's C xenstored is not
# measured: it needs a hypervisor (/dev/xen/*) to start.
#
# test-xenstore runs a third time against the daemon with --journal (its
# store on disk as it changes, as `pvkit host start` runs it), with a
# journaled / plain ratio per test.
#
# --json prints one JSON object on stdout, {"core": pvkit-bench-xs's
# object, "socket": test-xenstore's figures (quiet, contended, journaled)
# or null}; the tables go to stderr.
set -eu
usage() {
	echo "usage: $0 BUILDDIR [-i ITERATIONS] [-n OPS] [-r REPS] [--hog]" \
		"[--json]" >&2
	exit 2
}
[ $# -ge 1 ] && [ -d "$1" ] || usage
build=$(cd "$1" && pwd)
shift
iters=100
hog=
json=
set -- "$@" --end--
while [ "$1" != --end-- ]; do
	case $1 in
	-i) [ $# -ge 3 ] || usage; iters=$2; shift 2; continue ;;
	--hog) hog=1 ;;
	--json) json=1 ;;
	esac
	set -- "$@" "$1"
	shift
done
shift # --end--; "$@" is now what goes to pvkit-bench-xs
bench="$build/bench/xenstore/pvkit-bench-xs"
daemon="$build/src/xenstore/pvkit-xenstored"
hogrun="$build/bench/common/pvkit-hog"
for f in "$bench" "$daemon" "$hogrun"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; build first: ninja -C $build" >&2
		exit 1
	fi
done
dir=$(mktemp -d /tmp/pvkit-xsbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ -n "$json" ]; then
	"$bench" "$@" >"$dir/core.json"
else
	"$bench" "$@"
fi

# test-xenstore's "name: avg: N ns (MIN ns .. MAX ns)" lines as a JSON array.
tx_json() {
	awk 'BEGIN { n = 0; printf "[" }
	/: avg: / {
		name = $0; sub(/ *: avg:.*/, "", name)
		v = $0; sub(/.*: avg: /, "", v); gsub(/[()]|ns|\.\./, " ", v)
		split(v, f)
		printf "%s\n      {\"test\": \"%s\", \"avg_ns\": %s, \"min_ns\": %s, " \
			"\"max_ns\": %s}", n++ ? "," : "", name, f[1], f[2], f[3]
	}
	END { printf "\n    ]" }' "$1"
}

txs=
for f in /usr/lib/xen-*/bin/test-xenstore; do [ -x "$f" ] && txs=$f; done
if [ -z "$txs" ]; then
	echo "test-xenstore not installed (xen-utils-4.17): socket figures" \
		"skipped" >&2
else
	export XENSTORED_PATH="$dir/socket"
	"$daemon" --socket "$XENSTORED_PATH" >"$dir/log" 2>&1 &
	pid=$!
	i=0
	while [ ! -S "$XENSTORED_PATH" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && { cat "$dir/log" >&2; exit 1; }
		sleep 0.05
	done
	out=1
	[ -n "$json" ] && out=2
	{
		echo
		echo "test-xenstore -i $iters against pvkit-xenstored (unix" \
			"socket, per operation, libxenstore round trip included):"
	} >&$out
	"$txs" -i "$iters" >"$dir/quiet.txt"
	cat "$dir/quiet.txt" >&$out
	if [ -n "$hog" ]; then
		echo "contended (one busy-looping process per CPU):" >&$out
		"$hogrun" "$txs" -i "$iters" >"$dir/hog.txt"
		cat "$dir/hog.txt" >&$out
	fi
	# the same daemon keeping its store on disk as it changes (--journal,
	# as pvkit host start runs it): what surviving SIGKILL costs
	kill $pid
	wait $pid 2>/dev/null || true
	"$daemon" --socket "$XENSTORED_PATH" --journal "$dir/store" \
		>"$dir/log" 2>&1 &
	pid=$!
	i=0
	while ! grep -q "listening on" "$dir/log"; do
		i=$((i + 1)); [ $i -gt 100 ] && { cat "$dir/log" >&2; exit 1; }
		sleep 0.05
	done
	"$txs" -i "$iters" >"$dir/journal.txt"
	{
		echo "with --journal (the store on disk as it changes), quiet;" \
			"ratio = journaled / plain:"
		awk 'FNR == NR && /: avg: / {
			n = $0; sub(/ *: avg:.*/, "", n)
			v = $0; sub(/.*: avg: /, "", v); split(v, f, " ")
			plain[n] = f[1]; next }
		/: avg: / {
			n = $0; sub(/ *: avg:.*/, "", n)
			v = $0; sub(/.*: avg: /, "", v); split(v, f, " ")
			printf "  %-28s %10.0f ns %10.0f ns %6.2f\n", n,
				plain[n], f[1], plain[n] ? f[1] / plain[n] : 0
		}' "$dir/quiet.txt" "$dir/journal.txt"
	} >&$out
fi
[ -n "$json" ] || exit 0
printf '{\n  "core": %s,\n  "socket": ' "$(sed '1!s/^/  /' "$dir/core.json")"
if [ -z "$txs" ]; then
	printf 'null\n}\n'
	exit 0
fi
printf '{\n    "tool": "%s",\n    "iterations": %s,\n    "quiet": ' "$txs" \
	"$iters"
tx_json "$dir/quiet.txt"
printf ',\n    "contended": '
if [ -n "$hog" ]; then
	tx_json "$dir/hog.txt"
else
	printf 'null'
fi
printf ',\n    "journaled": '
tx_json "$dir/journal.txt"
printf '\n  }\n}\n'
