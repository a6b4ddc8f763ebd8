#!/usr/bin/env bash
# run.sh - pvkit against real Xen 4.17 and stock Linux, booted under QEMU
# (software emulation): installs its packages, builds pvkit in
# build-interop/, builds Dom0/DomU initramfs images carrying pvkit's
# binaries, boots Xen once under `timeout`, runs the scenarios inside Dom0
# (dom0-scenarios.sh) and reports each one.  Ends "N passed, N failed".
#
# Environment:
#   PVKIT_INTEROP_NO_APT=1     skip apt-get (packages already installed)
#   PVKIT_INTEROP_TIMEOUT=S    QEMU's time limit (default 900 s)
#   PVKIT_INTEROP_SHELL=1      boot to an interactive Dom0 shell instead
#   XSTEST_ITER=N, XSTEST_ROUNDS=N  test-xenstore iterations per run (20)
#                              and alternating rounds per daemon (3)
#   PVKIT_INTEROP_NET_ONLY=1   the store, then only the network scenarios
#                              (5 and 6), not the full run
#   PVKIT_INTEROP_BF_SOAK=R:Q  soak scenario 2 instead of the full run: its
#                              DomU repeats the copied and zero-copy
#                              write-verify R times with Q queues (and as
#                              many vCPUs), then only 2.blkfront is judged
#   PVKIT_INTEROP_BF_TYPE=pvh  scenario 2's DomU as PVH instead of PV
#   PVKIT_INTEROP_BF_MEM=MiB   scenario 2's DomU memory (default 160)
#   PVKIT_INTEROP_XEN_ARGS=... more options for Xen's command line, last
#                              wins (spec-ctrl=no-eager-fpu brings back
#                              the lazy FPU switching that corrupts)
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=$root/build-interop
images=$build/interop-images
logs=$build/interop-logs
timeout_s=${PVKIT_INTEROP_TIMEOUT:-900}
M="PVKIT-INTEROP"

say() { printf '[interop] %s\n' "$*"; }
die() { say "error: $*"; echo "0 passed, 1 failed"; exit 1; }

# ---- packages ----
pkgs=(qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17
	xenstore-utils linux-image-amd64 busybox-static cpio expect e2fsprogs
	iperf3 # scenario 5's TCP streams, in Dom0 and in the DomU
	# to build pvkit itself
	gcc libc6-dev pkg-config meson ninja-build libxen-dev liburing-dev)
if [ "${PVKIT_INTEROP_NO_APT:-0}" != 1 ] && ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
	say "apt-get install ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_install() {
		apt-get install -y -q --no-install-recommends \
			-o DPkg::Lock::Timeout=600 "${pkgs[@]}"
	}
	apt_install || { apt-get update -q -o DPkg::Lock::Timeout=600 && apt_install; } ||
		die "apt-get install failed"
fi
[ -e /boot/xen-4.17-amd64.gz ] || die "no /boot/xen-4.17-amd64.gz"
ls /boot/vmlinuz-* >/dev/null 2>&1 || die "no /boot/vmlinuz-*"

# ---- pvkit ----
t0=$EPOCHREALTIME
if [ ! -e "$build/build.ninja" ]; then
	CC=gcc meson setup "$build" -Dtests=false -Dxen=enabled >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; die "meson setup failed"; }
	rm -f "$build.setup.log"
fi
ninja -C "$build" -j1 >"$build/interop-ninja.log" 2>&1 ||
	{ tail -40 "$build/interop-ninja.log"; die "build failed"; }
say "pvkit built in $build"

# ---- images ----
bash "$root/tests/interop/mkimages.sh" "$build" "$images" ||
	die "building the images failed"
say "images built ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s since start)"

# ---- boot ----
mkdir -p "$logs"
stamp=$(date +%Y%m%d-%H%M%S)
log=$logs/serial-latest.log
dom0_args="console=hvc0 earlyprintk=xen rdinit=/init loglevel=4"
dom0_args="$dom0_args xstest_iter=${XSTEST_ITER:-20} xstest_rounds=${XSTEST_ROUNDS:-3}"
[ "${PVKIT_INTEROP_SHELL:-0}" = 1 ] && dom0_args="$dom0_args interop=shell"
soak=${PVKIT_INTEROP_BF_SOAK:-}
if [ -n "$soak" ]; then
	[[ $soak =~ ^[1-9][0-9]*:[1-4]$ ]] || die "PVKIT_INTEROP_BF_SOAK=$soak: want ROUNDS:QUEUES (queues 1-4)"
	dom0_args="$dom0_args bf_soak=$soak"
fi
[ "${PVKIT_INTEROP_NET_ONLY:-0}" = 1 ] && dom0_args="$dom0_args net_only=1"
bf_mem=${PVKIT_INTEROP_BF_MEM:-}
if [ -n "$bf_mem" ]; then
	[[ $bf_mem =~ ^[1-9][0-9]{2,3}$ ]] || die "PVKIT_INTEROP_BF_MEM=$bf_mem: want MiB (100-9999)"
	dom0_args="$dom0_args bf_mem=$bf_mem"
fi
bf_type=${PVKIT_INTEROP_BF_TYPE:-}
if [ -n "$bf_type" ]; then
	[[ $bf_type =~ ^(pv|pvh)$ ]] || die "PVKIT_INTEROP_BF_TYPE=$bf_type: want pv or pvh"
	dom0_args="$dom0_args bf_type=$bf_type"
fi
# Xen's options: eager FPU switching.  On this CPU model (AMD as QEMU
# shows it) Xen 4.17 switches FPU state lazily (CR0.TS, restore at the
# first #NM); under QEMU 7.2's emulation that loses vector registers
# between vCPUs: a DomU with two vCPUs had the first or last 64 bytes of
# memcpy'd buffers replaced by another context's data, with no Xen device
# involved (tests/interop/memstress.c; docs/benchmarks.md, session 5).
# spec-ctrl=eager-fpu saves and restores it at every switch instead.
xen_args="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2"
xen_args="$xen_args noreboot loglvl=all guest_loglvl=all spec-ctrl=eager-fpu"
xen_args="$xen_args ${PVKIT_INTEROP_XEN_ARGS:-}"
qemu=(qemu-system-x86_64 -machine q35 -accel tcg -cpu max,-smap -m 3G -smp 2
	-display none -monitor none -serial stdio -no-reboot
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
	-kernel "$images/xen"
	-append "$xen_args"
	-initrd "$images/vmlinuz $dom0_args,$images/dom0-initrd.gz")
if [ "${PVKIT_INTEROP_SHELL:-0}" = 1 ]; then
	exec "${qemu[@]}"
fi
say "host load average: $(cut -d' ' -f1-3 /proc/loadavg) (QEMU wants both cores; timings suffer under load)"
say "booting Xen under QEMU (limit ${timeout_s} s); serial log: $log"
boot0=$EPOCHREALTIME
us0=${boot0/./}
# every serial line stamped with seconds since QEMU started
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 |
	while IFS= read -r line; do
		d=$((${EPOCHREALTIME/./} - us0))
		printf '[%4d.%d] %s\n' $((d / 1000000)) $((d / 100000 % 10)) "${line//$'\r'/}"
	done >"$log"
qrc=${PIPESTATUS[0]}
boot_secs=$(awk -v a="$boot0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
case $qrc in
3) say "QEMU exited as asked after $boot_secs s" ;;
124 | 137) say "QEMU killed after the ${timeout_s} s limit" ;;
*) say "QEMU exited with status $qrc after $boot_secs s" ;;
esac

# ---- verdicts ----
stamp_of() { grep -m1 "$1" "$log" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'; }
say "Dom0 /init at $(stamp_of "$M DOM0-INIT") s, scenarios start at $(stamp_of "$M DOM0-SCENARIOS") s, done at $(stamp_of "$M DOM0-DONE") s"
expected=(1.blkback 2.blkfront 3.pvkit-xenstored-start 3.xen-init-dom0
	3.xl-create 3.devices-connected 3.domu-sees-devices 3.xl-shutdown
	5.netback 6.netfront 3.test-xenstore 4.xenstore-utils
	4.xl-list-info)
[ -n "$soak" ] && expected=(3.pvkit-xenstored-start 3.xen-init-dom0 2.blkfront)
[ "${PVKIT_INTEROP_NET_ONLY:-0}" = 1 ] && [ -z "$soak" ] &&
	expected=(3.pvkit-xenstored-start 3.xen-init-dom0 5.netback 6.netfront)
pass=0 fail=0 skip=0
for id in "${expected[@]}"; do
	line=$(grep -ao "$M RESULT $id .*" "$log" | tail -1)
	if [ -z "$line" ]; then
		printf '%-28s FAIL  (no result: Dom0 never got there)\n' "$id"
		fail=$((fail + 1))
		continue
	fi
	read -r _ _ _ st secs detail <<<"$line"
	printf '%-28s %-5s %6s s  %s\n' "$id" "$st" "$secs" "$detail"
	case $st in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
done

# test-xenstore, both daemons side by side (average per operation)
if grep -aq "$M XSTEST " "$log"; then
	echo
	echo "test-xenstore inside Dom0, Xen's C xenstored vs pvkit-xenstored: average per operation, best of ${XSTEST_ROUNDS:-3} alternating rounds of -i ${XSTEST_ITER:-20}:"
	printf '  %-12s %12s %12s %8s\n' test "xenstored" "pvkit" ratio
	grep -ao "$M XSTEST .*" "$log" | awk '
		!($4 in seen) { seen[$4] = 1; order[n++] = $4 }
		$3 == "xen" && (!($4 in x) || $5 < x[$4]) { x[$4] = $5 }
		$3 == "pvkit" && (!($4 in p) || $5 < p[$4]) { p[$4] = $5 }
		END {
			for (i = 0; i < n; i++) {
				t = order[i]; name = t; gsub("_", " ", name)
				xs = (t in x) ? sprintf("%.1f", x[t] / 1000) : "-"
				ps = (t in p) ? sprintf("%.1f", p[t] / 1000) : "-"
				r = (xs != "-" && ps != "-" && x[t] > 0) ? sprintf("%.2f", p[t] / x[t]) : "-"
				printf "  %-12s %9s us %9s us %8s\n", name, xs, ps, r
			}
		}'
	grep -ao "$M XSTEST-TOTAL .*" "$log" | tail -1 |
		awk '{ printf "  all rounds, daemon start to stop: xenstored %s s, pvkit %s s\n", $4, $6 }'
fi
echo
if [ $fail -gt 0 ]; then
	keep=$logs/serial-$stamp.log
	cp "$log" "$keep"
	say "serial log kept: $keep"
fi
say "boot to Dom0 done: $boot_secs s; $skip skipped"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
