#!/usr/bin/env bash
# The example kernel (examples/kernel) as a driver author builds it: copied
# out of the tree, compiled with its Makefile against the INSTALLED libpvkit
# (pvkit.pc), booted with `pvkit create` on a private host, shut down with
# `pvkit shutdown -w`.  Also checks the installed headers and exports
# (tests/lib/check.sh).
#
# Usage: run.sh PVKIT [LIBDIR]   (LIBDIR: where pvkit.pc's directory is,
#                                 default /usr/local/lib/<triplet>)
# The daemons come from $PVKIT_HVD etc. as in tests/integration.  Without
# an installed pvkit.pc the test is skipped (exit 77), or fails when
# $PVKIT_EXAMPLE_REQUIRED=1 (scripts/test.sh, which installs first).
set -u
P=$1
libdir=${2:-/usr/local/lib/$(gcc -print-multiarch 2>/dev/null)}
top=$(cd "$(dirname "$0")/../.." && pwd)
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
if ! pkg-config --exists pvkit; then
	echo "pvkit.pc not found under $libdir/pkgconfig: run meson install first"
	[ "${PVKIT_EXAMPLE_REQUIRED:-0}" = 1 ] && exit 1
	exit 77
fi
export PVKIT_STATE_DIR=$(mktemp -d /tmp/pvkit-example-XXXXXX)
S=$PVKIT_STATE_DIR
fail=0
check() { if eval "$2"; then echo "ok   - $1"; else echo "FAIL - $1"; fail=1; fi; }
ours() { pgrep -f "$S" >/dev/null; } # every process of this test names $S
cleanup() {
	"$P" host stop -f -w 5 >/dev/null 2>&1
	for p in $(pgrep -f "$S"); do kill -9 "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$S"
}
trap cleanup EXIT

inc=$(pkg-config --variable=includedir pvkit)
lib=$(pkg-config --variable=libdir pvkit)
echo "# installed pvkit $(pkg-config --modversion pvkit): $lib, $inc"
check "installed headers standalone, exports = declarations" \
	'bash "$top/tests/lib/check.sh" "$lib/libpvkit.so" "$inc"/pvkit/*.h > "$S/check.txt" || { cat "$S/check.txt"; false; }'
grep -m1 'symbols exported' "$S/check.txt"

cp -r "$top/examples/kernel" "$S/src"
check "example builds out of tree with its Makefile" \
	'make -C "$S/src" CFLAGS="-O2 -Wall -Wextra -Werror" > "$S/make.txt" 2>&1 || { cat "$S/make.txt"; false; }'
if ldd "$S/src/hello-kernel" 2>/dev/null | grep -q 'libpvkit.so.0 => not found'; then
	echo "# $lib is not in the loader's path (ldconfig): LD_LIBRARY_PATH for the kernel"
	export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

truncate -s 8M "$S/disk.img"
printf 'EXAMPLEDISK' | dd of="$S/disk.img" conv=notrunc status=none
cat > "$S/hello.cfg" <<CFG
name = "hello"
memory = 64
kernel = "$S/src/hello-kernel"
extra = "from the test"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$S/disk.img' ]
CFG
check "host start" '"$P" host start >/dev/null'
check "create with kernel = the example" '"$P" create "$S/hello.cfg" >/dev/null'
for i in $(seq 100); do grep -q 'ready; waiting' "$S/console-hello.log" 2>/dev/null && break; sleep 0.1; done
check "console: greeting with the cmdline" 'grep -q "Hello from d[0-9]*: .*cmdline .from the test." "$S/console-hello.log"'
check "console: sector 0 of its vbd through blkfront" 'grep -q "vbd 51712: 16384 sectors, sector 0: EXAMPLEDISK" "$S/console-hello.log"'
check "console: waiting for control/shutdown" 'grep -q "ready; waiting for control/shutdown" "$S/console-hello.log"'
check "pvkit shutdown -w: it powers off" '"$P" shutdown -w hello >/dev/null && ! "$P" list | grep -q "^hello "'
check "it saw the request" 'grep -q "control/shutdown: poweroff" "$S/guest-hello.log"'
check "host stop" '"$P" host stop >/dev/null'
for i in $(seq 50); do ours || break; sleep 0.1; done
check "no pvkit process left" '! ours'
exit $fail
