#!/bin/sh
# fuzz.sh - build pvkit's libFuzzer targets with clang (ASan + UBSan) and
# run each for a while.  Usage: scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]
# (default 60 s, every target in fuzz/).  New inputs go to
# build-fuzz/corpus/<target>/ (the committed seeds in fuzz/corpus/ are read,
# never written); crashes to build-fuzz/artifacts/.  A crash is a bug: fix
# it and commit the input as fuzz/corpus/<target>/regress-<what> so the
# ordinary test run replays it.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILDDIR:-$top/build-fuzz}

if ! command -v clang >/dev/null || ! dpkg -s libclang-rt-14-dev >/dev/null 2>&1; then
	echo "clang or its libFuzzer runtime missing: installing them"
	sudo_=; [ "$(id -u)" -ne 0 ] && sudo_=sudo
	$sudo_ apt-get update -q && $sudo_ apt-get install -y -q clang libclang-rt-14-dev
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$top" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		--buildtype=debugoptimized
fi
targets=$*
[ -n "$targets" ] || targets=$(cd "$top/fuzz" && ls fuzz_*.c | grep -v fuzz_replay | sed 's/\.c$//')
for t in $targets; do
	ninja -C "$build" -j1 "fuzz/$t"
done
fail=0
for t in $targets; do
	mkdir -p "$build/corpus/$t" "$build/artifacts"
	echo "== $t: $secs s"
	if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$build/fuzz/$t" -max_total_time="$secs" -max_len=8192 \
		-timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" \
		"$build/corpus/$t" "$top/fuzz/corpus/$t"; then
		echo "== $t: FAILED (see $build/artifacts/)"
		fail=1
	fi
done
exit $fail
