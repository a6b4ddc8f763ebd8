#!/usr/bin/env bash
# Fresh Debian 12 machine (as root): install dependencies, build, install,
# run the test suite.  The last line reads "N passed, N failed".
# Set PVKIT_SANITIZE=1 to build and test with ASan+UBSan in build-asan/.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }
dir=build
args=()
if [ "${PVKIT_SANITIZE:-0}" = 1 ]; then
	dir=build-asan
	args=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug)
fi
if ! bash scripts/build.sh "$dir" "${args[@]}"; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
if [ "$dir" = build ]; then
	meson install -C build --quiet >/dev/null || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }
	# libpvkit.so.0 just went into <prefix>/lib/<triplet>: refresh the
	# loader's cache so programs built against it (tests/example) run.
	[ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null && ldconfig
	# The example kernel test must find the library just installed.
	export PVKIT_EXAMPLE_REQUIRED=1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C "$dir" --print-errorlogs --num-processes 2 --suite pvkit ${PVKIT_TEST_ARGS:-}
rc=$?
python3 scripts/summarize.py "$dir/meson-logs/testlog.json"
src=$?
[ $rc -eq 0 ] && [ $src -eq 0 ]
