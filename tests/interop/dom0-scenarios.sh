#!/bin/bash
# dom0-scenarios.sh - the interop scenarios, run by Dom0's /init under real
# Xen.  Every verdict is one serial line the host parses:
#   PVKIT-INTEROP RESULT <id> PASS|FAIL|SKIP <seconds> <detail>
# plus "PVKIT-INTEROP XSTEST <daemon> <test> <avg ns>" for test-xenstore's
# figures.  Every command that talks to a daemon or a guest runs under
# `timeout`, so a broken daemon costs seconds, never the run.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin:/opt/pvkit
M="PVKIT-INTEROP"
XSTEST_ITER=$(sed -n 's/.*xstest_iter=\([0-9]*\).*/\1/p' /proc/cmdline)
XSTEST_ITER=${XSTEST_ITER:-20}
# bf_soak=R:Q (run.sh's PVKIT_INTEROP_BF_SOAK): only scenario 2, repeated
BF_SOAK=$(sed -n 's/.*bf_soak=\([0-9]*:[0-9]*\).*/\1/p' /proc/cmdline)
# bf_type=pvh (run.sh's PVKIT_INTEROP_BF_TYPE): scenario 2's DomU as PVH
BF_TYPE=$(sed -n 's/.*bf_type=\([a-z]*\).*/\1/p' /proc/cmdline)
# bf_mem=MiB (run.sh's PVKIT_INTEROP_BF_MEM): scenario 2's DomU memory
BF_MEM=$(sed -n 's/.*bf_mem=\([0-9]*\).*/\1/p' /proc/cmdline)
# net_only=1 (run.sh's PVKIT_INTEROP_NET_ONLY=1): the store, then only the
# network scenarios 5 and 6
NET_ONLY=$(sed -n 's/.*net_only=\(1\).*/\1/p' /proc/cmdline)
DOMU=interop-domu
PVK_LOG=/var/log/pvkit-xenstored.log
failed=0

t_start=0
begin() { t_start=$EPOCHREALTIME; echo "$M BEGIN $1"; }
# result ID STATUS DETAIL...: the time since the last begin
result() {
	local id=$1 st=$2
	shift 2
	[ "$st" = FAIL ] && failed=1
	echo "$M RESULT $id $st $(secs $t_start) $*"
}
secs() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
# wait_for SECONDS CMD...: poll every 0.2 s until CMD succeeds
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
xs() { timeout 15 "$@"; }
# sfield LINE KEY: a counters line's field value (0 when missing)
sfield() { local v; v=$(tr ' ' '\n' <<<"$1" | sed -n "s|^$2=||p"); echo "${v:-0}"; }
# squeue LINE KEY Q: queue Q's value in a per-queue field (q0:A,q1:B)
squeue() { local v; v=$(sfield "$1" "$2" | tr ',' '\n' | sed -n "s/^q$3://p"); echo "${v:-0}"; }
# xl_create CFG LOG: xl -vvv create with a time limit; past it, where each
# xl process waits goes into LOG (a hang once left nothing to go on).  The
# domain is created paused and unpaused once xl create has exited: xl
# crashed or hung on its way out three times while a DomU's frontends were
# already connecting to pvkit-blkback (xl's own exit path, after unpause)
xl_create() {
	timeout 120 xl -vvv create -p "$1" >"$2" 2>&1 &
	local pid=$! rc p
	wait $pid
	rc=$?
	if [ $rc = 0 ]; then
		timeout 30 xl unpause "$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$1")" >>"$2" 2>&1
		rc=$?
	fi
	if [ $rc = 124 ]; then
		for p in $(pgrep -x xl); do
			echo "stuck xl $p: $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null) state $(awk '{print $3}' /proc/$p/stat 2>/dev/null) wchan $(cat /proc/$p/wchan 2>/dev/null)"
			head -6 /proc/$p/stack 2>/dev/null | tr '\n' ' '
			echo
		done >>"$2"
		cat /var/log/xen/xl-*.log >>"$2" 2>/dev/null
	fi
	return $rc
}

# ---- scenario 4: the xenstore-* tools against whichever daemon runs ------
utils_fail=""
utils_where=""
# utils_check LABEL: every xenstore-* tool once; failures are remembered
utils_check() {
	local where=$1 p=/interop-utils/$1 why="" wpid
	xs xenstore-write $p/a 1 $p/b/c two || why="write"
	[ -z "$why" ] && [ "$(xs xenstore-read $p/b/c)" = two ] || why="${why:-read}"
	[ -z "$why" ] && xs xenstore-exists $p/a || why="${why:-exists}"
	[ -z "$why" ] && [ "$(xs xenstore-list $p | tr '\n' ' ')" = "a b " ] ||
		why="${why:-list}"
	[ -z "$why" ] && xs xenstore-ls $p | grep -q 'c = "two"' || why="${why:-ls}"
	[ -z "$why" ] && xs xenstore-chmod $p/a r0 n0 || why="${why:-chmod}"
	if [ -z "$why" ]; then
		# the watch fires once when set and once for the write
		timeout 15 xenstore-watch -n 2 $p/w >/tmp/watch.out 2>&1 &
		wpid=$!
		sleep 0.5
		xs xenstore-write $p/w x
		wait $wpid
		[ "$(grep -c "$p/w" /tmp/watch.out)" -ge 2 ] || why="watch"
	fi
	[ -z "$why" ] && xs xenstore-rm $p || why="${why:-rm}"
	[ -z "$why" ] && ! xs xenstore-exists $p || why="${why:-rm-check}"
	utils_where="$utils_where $where"
	if [ -n "$why" ]; then
		utils_fail="$utils_fail $where:$why"
		echo "DOM0: xenstore-utils at $where: $why failed"
	fi
}
xl_fail=""
xl_where=""
# xl_check LABEL [DOMAIN...]: xl info and xl list, which must list DOMAINs
xl_check() {
	local where=$1 d why=""
	shift
	timeout 30 xl info >/tmp/xl-info.out 2>&1 &&
		grep -q '^xen_version' /tmp/xl-info.out || why="info"
	timeout 30 xl list >/tmp/xl-list.out 2>&1 || why="${why:-list}"
	for d in "$@"; do
		grep -q "^$d " /tmp/xl-list.out || why="${why:-list-no-$d}"
	done
	xl_where="$xl_where $where"
	if [ -n "$why" ]; then
		xl_fail="$xl_fail $where:$why"
		echo "DOM0: xl at $where: $why failed"; cat /tmp/xl-list.out
	fi
}

# xstest NAME: Xen's test-xenstore against the running daemon
xstest() {
	local name=$1 rc
	timeout 300 test-xenstore -i "$XSTEST_ITER" >/tmp/xstest-$name.out 2>&1
	rc=$?
	sed -n 's/^\(.*[^ ]\) *: avg: \([0-9]*\) ns.*/\1|\2/p' \
		/tmp/xstest-$name.out | while IFS='|' read -r t ns; do
		echo "$M XSTEST $name ${t// /_} $ns"
	done
	return $rc
}

dump() { # dump FILE: into the serial log, on failure
	echo "----- $1"
	tail -n "${2:-60}" "$1" 2>&1
	echo "----- end $1"
}

echo "$M DOM0-SCENARIOS uptime=$(cut -d' ' -f1 /proc/uptime)"

# ---- scenario 3: pvkit-xenstored is the store ----------------------------
begin 3.pvkit-xenstored-start
t_boot=$EPOCHREALTIME
pvkit-xenstored --platform=xen --pid-file /run/xenstored.pid >$PVK_LOG 2>&1 &
if ! { wait_for 15 test -S /run/xenstored/socket && wait_for 15 xs xenstore-exists /; }; then
	result 3.pvkit-xenstored-start FAIL "no socket"; dump $PVK_LOG
else
	# Dom0's kernel xenbus runs over the ring pvkit-xenstored serves:
	# /dev/xen/xenbus is that path (the socket is not involved)
	why=""
	grep -q "platform xen ready" $PVK_LOG || why="platform not opened"
	grep -q "own xenstore ring served" $PVK_LOG || why="${why:-Dom0 ring not served}"
	if [ -z "$why" ]; then
		XENSTORED_PATH=/dev/xen/xenbus timeout 15 \
			xenstore-write /interop-kring ok >/dev/null 2>&1 &&
			[ "$(xs xenstore-read /interop-kring)" = ok ] ||
			why="write through /dev/xen/xenbus (kernel ring) failed"
		xs xenstore-rm /interop-kring
	fi
	if [ -z "$why" ]; then
		result 3.pvkit-xenstored-start PASS "platform xen, Dom0 kernel ring served and used"
	else
		result 3.pvkit-xenstored-start FAIL "$why"; dump $PVK_LOG
	fi
fi
utils_check pvkit-start

begin 3.xen-init-dom0
why=""
timeout 60 xen-init-dom0 >/tmp/init-dom0.log 2>&1 || why="xen-init-dom0 failed"
mkdir -p /var/log/xen/console
timeout 10 xenconsoled --pid-file=/run/xenconsoled.pid --log=guest \
	--log-dir=/var/log/xen/console || why="${why:-xenconsoled failed}"
ip link add name xenbr0 type bridge stp_state 0 forward_delay 0
ip addr add 10.99.0.1/24 dev xenbr0
ip link set xenbr0 up
ip link set lo up
[ "$(xs xenstore-read /local/domain/0/name)" = Domain-0 ] || why="${why:-no /local/domain/0/name}"
utils_check after-init-dom0
xl_check after-init-dom0 Domain-0
if [ -z "$why" ]; then
	result 3.xen-init-dom0 PASS "xen-init-dom0, xenconsoled"
else
	result 3.xen-init-dom0 FAIL "$why"; dump /tmp/init-dom0.log; dump $PVK_LOG
fi

# (scenarios 3's DomU, 2 and 1 are skipped with net_only: to scenario 5)
if [ -z "$NET_ONLY" ]; then
begin 3.xl-create
t_create=$EPOCHREALTIME
if xl_create /interop/domu.cfg /tmp/xl-create.log; then
	domid=$(timeout 15 xl domid $DOMU)
	result 3.xl-create PASS "PV DomU $domid with a disk and a vif"
else
	domid=""
	result 3.xl-create FAIL "xl create failed"
	dump /tmp/xl-create.log 80; dump /var/log/xen/xen-hotplug.log; dump $PVK_LOG
fi

begin 3.devices-connected
if [ -n "$domid" ]; then
	paths="/local/domain/0/backend/vbd/$domid/51712/state
/local/domain/$domid/device/vbd/51712/state
/local/domain/0/backend/vif/$domid/0/state
/local/domain/$domid/device/vif/0/state"
	all4() {
		local p
		for p in $paths; do [ "$(xs xenstore-read $p)" = 4 ] || return 1; done
	}
	wait_for 120 all4
	st=""
	for p in $paths; do st="$st ${p#/local/domain/}=$(xs xenstore-read $p)"; done
	if all4; then
		result 3.devices-connected PASS "vbd and vif: backend and frontend state 4 after $(secs $t_create) s"
	else
		result 3.devices-connected FAIL "states:$st"
		xs xenstore-ls -f /local/domain | head -80; dump $PVK_LOG
	fi
else
	result 3.devices-connected FAIL "no DomU"
fi

begin 3.domu-sees-devices
con=/var/log/xen/console/guest-$DOMU.log
if [ -n "$domid" ] && wait_for 120 grep -q DOMU-READY $con; then
	miss=""
	for w in DOMU-XVDA-OK DOMU-ETH0-OK; do grep -q $w $con || miss="$miss $w"; done
	extra=""
	grep -q DOMU-DISK-READ-OK $con && extra="$extra, ext4 on xvda read"
	grep -q DOMU-PING-OK $con && extra="$extra, ping over eth0"
	if [ -z "$miss" ]; then
		result 3.domu-sees-devices PASS "/dev/xvda and eth0 in the DomU$extra ($(secs $t_create) s after create)"
	else
		result 3.domu-sees-devices FAIL "missing:$miss"; dump $con
	fi
else
	result 3.domu-sees-devices FAIL "DomU never reported ready"; dump $con; dump $PVK_LOG
fi
utils_check domu-running
if [ -n "$domid" ]; then
	xl_check domu-running Domain-0 $DOMU
else
	xl_check domu-running Domain-0
fi

begin 3.xl-shutdown
if [ -n "$domid" ]; then
	why=""
	timeout 120 xl shutdown -w $DOMU >/tmp/xl-shutdown.log 2>&1 || why="xl shutdown -w failed"
	grep -q "poweroff requested" $con || why="${why:-the DomU saw no poweroff request}"
	wait_for 30 sh -c "! xl domid $DOMU" || why="${why:-domain still listed}"
	wait_for 30 sh -c "! xenstore-exists /local/domain/$domid" ||
		why="${why:-/local/domain/$domid left behind}"
	if [ -z "$why" ]; then
		result 3.xl-shutdown PASS "clean poweroff, domain and its nodes gone"
	else
		result 3.xl-shutdown FAIL "$why"; dump /tmp/xl-shutdown.log; dump $con; dump $PVK_LOG
	fi
else
	result 3.xl-shutdown FAIL "no DomU"
fi
utils_check after-shutdown
xl_check after-shutdown Domain-0

# ---- scenario 2: pvkit-blkfront in a DomU, Dom0's kernel blkback --------
# (before scenario 1, which unloads xen-blkback; pvkit-xenstored still the
# store).  The DomU never loads xen-blkfront: pvkit-blkfront in its
# userspace writes and verifies 8 MiB, a second run reads them back, and
# Dom0 compares that with its file and blkback's own statistics.
# bf_forensics: after a mismatch, where Dom0's file and the DomU's read
# differ (md5 per MiB) and what the stamps in the differing MiBs say
bf_forensics() {
	local m b seed dm um st
	seed=$(conl 'DOMU-BFZ: write-verify: ' | sed -n 's/.* seed \([0-9]*\),.*/\1/p')
	um=($(conl DOMU-BF-MD5S | sed 's/.*DOMU-BF-MD5S //'))
	for m in 0 1 2 3 4 5 6 7; do
		dm=$(dd if=/interop/bf.img bs=1M skip=$m count=1 2>/dev/null | md5sum | cut -c1-8)
		echo "DOM0: MiB $m: Dom0 $dm DomU ${um[$m]:-?}"
		[ "$dm" = "${um[$m]:-}" ] && continue
		for b in $(seq $((m * 256)) $((m * 256 + 255))); do
			st=$(echo $(od -A n -t u8 -N 24 -j $((b * 4096)) /interop/bf.img))
			[ "$st" = "866847681766661 $b $seed" ] ||
				echo "DOM0: block $b stamp in Dom0's file: $st (want magic 866847681766661 block $b seed $seed)"
		done
	done
}

begin 2.blkfront
BF=interop-bf
fcon=/var/log/xen/console/guest-$BF.log
if [ ! -e /opt/pvkit/pvkit-blkfront ]; then
	result 2.blkfront SKIP "not built (pvkit-blkfront missing from the build)"
else
	why=""
	grep -q '^xen_blkback ' /proc/modules || modprobe xen-blkback
	truncate -s 32M /interop/bf.img
	bf_wait=260
	if [ -n "$BF_SOAK" ]; then
		sed -i -e "s/interop=blkfront/interop=blkfront bf_soak=$BF_SOAK/" \
			-e "s/^vcpus .*/vcpus   = ${BF_SOAK#*:}/" /interop/domu-bf.cfg
		bf_wait=$((640 + ${BF_SOAK%:*} * 120))
		# Dom0's own control: memstress on its two vCPUs
		timeout 120 /opt/pvkit/memstress --threads 2 --seconds 45 2>&1 |
			tail -8 | sed 's/^/DOM0-MEMSTRESS /'
	fi
	[ -n "$BF_MEM" ] && sed -i "s/^memory .*/memory  = $BF_MEM/" /interop/domu-bf.cfg
	# (a PVH guest's RDTSCP must not be intercepted: QEMU's emulated
	# SVM gives Xen no next-RIP to step over it, and the guest spins)
	if [ -n "$BF_TYPE" ]; then
		sed -i "s/^type .*/type    = \"$BF_TYPE\"/" /interop/domu-bf.cfg
		echo 'tsc_mode = "native"' >>/interop/domu-bf.cfg
	fi
	if ! xl_create /interop/domu-bf.cfg /tmp/xl-create-bf.log; then
		why="xl create failed"
	fi
	fdom=$(timeout 15 xl domid $BF 2>/dev/null)
	if [ -z "$why" ] && ! wait_for $bf_wait grep -q DOMU-READY $fcon; then
		why="the DomU never reported ready"
	fi
	conl() { tr -d '\r' <$fcon | grep -m1 "$1"; }
	[ -z "$why" ] && conl DOMU-BF-FAIL >/dev/null && why="DomU: $(conl DOMU-BF-FAIL | sed 's/.*DOMU-BF-FAIL //')"
	[ -z "$why" ] && ! conl DOMU-BF-WRITE-VERIFY-OK >/dev/null && why="write-verify did not report OK"
	[ -z "$why" ] && ! conl DOMU-BFZ-WRITE-VERIFY-OK >/dev/null && why="zero-copy write-verify did not report OK"
	# 8 MiB written and read in 1 MiB operations plus a flush: 17
	# requests if each went as one (129 in 128 KiB ones)
	zreqs=$(conl 'DOMU-BFZ: stats:' | sed -n 's/.*requests=\([0-9]*\) .*/\1/p')
	[ -z "$why" ] && { [ -n "$zreqs" ] && [ "$zreqs" -le 24 ]; } ||
		why="${why:-zero-copy write-verify took ${zreqs:-?} requests for 8 MiB (1 MiB ones expected)}"
	feat=$(conl 'DOMU-BF: features:' | sed 's/.*features: //')
	timing=$(conl 'DOMU-BF: write-verify: written' | sed 's/.*written in //')
	timing="write $timing, verify $(conl 'DOMU-BF: write-verify: read back' | sed 's/.*verified in \([0-9.]* s\).*/\1/')"
	qstats=$(conl 'DOMU-BF: stats:' | sed 's/.*per-queue=//')
	# the DomU's memory check before pvkit ran (memstress, both slot kinds)
	mscheck=$(tr -d '\r' <$fcon | grep 'DOMU-BF-MEMSTRESS memstress: 2 threads, .* wrong words' |
		grep -v spoil | sed 's/.*memstress: 2 threads, \([a-z]*\) slots, \([0-9]*\) s: \([0-9]*\) jobs.* \([0-9]*\) wrong words/\1 \3 jobs \4 wrong/' |
		tr '\n' ',' | sed 's/,$//')
	# blkback's view: the frontend's nodes and its request counters
	bestat=""
	if [ -n "$fdom" ]; then
		be=/local/domain/0/backend/vbd/$fdom/51712
		fe=/local/domain/$fdom/device/vbd/51712
		for n in $be/feature-max-indirect-segments $be/feature-persistent \
			$be/multi-queue-max-queues $be/max-ring-page-order \
			$fe/feature-persistent $fe/multi-queue-num-queues $fe/ring-page-order \
			$fe/queue-0/event-channel $fe/queue-1/event-channel; do
			bestat="$bestat ${n#/local/domain/}=$(xs xenstore-read $n 2>/dev/null || echo -)"
		done
		# (blkback's request counters in sysfs go with each
		# connection, so none are left once pvkit-blkfront closed)
		echo "DOM0: blkback side:$bestat"
	fi
	if [ -n "$fdom" ]; then
		timeout 60 xl shutdown -w $BF >/tmp/xl-shutdown-bf.log 2>&1 ||
			{ why="${why:-xl shutdown failed}"; timeout 60 xl destroy $BF; }
	fi
	# what the second program read is what Dom0's file holds
	if [ -z "$why" ]; then
		dsum=$(dd if=/interop/bf.img bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1)
		usum=$(conl DOMU-BF-MD5 | sed 's/.*DOMU-BF-MD5 //')
		if [ "$dsum" != "$usum" ]; then
			why="the DomU read back md5 $usum, Dom0's file has $dsum"
			bf_forensics
		fi
	fi
	rm -f /interop/bf.img
	if [ -z "$why" ]; then
		result 2.blkfront PASS "8 MiB written, flushed, verified by pvkit-blkfront in DomU $fdom on Linux xen-blkback, again with zero-copy buffers in $zreqs requests, read again by a second open = Dom0's file ($timing); DomU memory checked first by memstress: ${mscheck:-no result}; negotiated: $feat; requests per queue $qstats;$bestat"
		# a soak's rounds and controls are read in the console itself
		[ -n "$BF_SOAK" ] && dump $fcon 100000
	else
		result 2.blkfront FAIL "$why; negotiated: ${feat:--};$bestat"
		dump /tmp/xl-create-bf.log 120; dump $fcon $([ -n "$BF_SOAK" ] && echo 100000 || echo 80); dump /var/log/xen/xen-hotplug.log
	fi
fi

if [ -n "$BF_SOAK" ]; then
	echo "$M DOM0-DONE uptime=$(cut -d' ' -f1 /proc/uptime) (bf_soak: scenario 2 only)"
	exit $failed
fi

# ---- scenario 1: pvkit-blkback serves a stock Linux DomU's xvda ----------
# The DomU (2 vCPUs; xen-blkfront with max_queues=2 max_ring_page_order=2)
# makes ext4 on xvda, writes, remounts and verifies, then reads the whole
# disk twice with 8 O_DIRECT readers pinned to both vCPUs.  Then Dom0 asks
# pvkit-blkback for its counters (SIGUSR1) and checks that every feature
# Linux negotiated was used: a feature negotiated but never exercised fails.
begin 1.blkback
BLK=interop-blk
bcon=/var/log/xen/console/guest-$BLK.log
BLOG=/var/log/pvkit-blkback.log
BLK_RING1=32 # requests in one 4 KiB page of blkif ring (64-bit ABI)
# blk_stats DOM: blkback's latest counters line for the DomU's xvda
blk_stats() { grep -a "vbd/$1/51712 stats:" $BLOG | tail -1 | sed 's/.* stats: //'; }
blk_nstats() { grep -ac "vbd/$1/51712 stats:" $BLOG; }
# blk_exercised STATS: why a negotiated feature was not used, or nothing;
# uses be_*/fe_* (the xenstore nodes, - when missing) and ms; also no
# error answered and, the disk offering it, a flush
blk_exercised() {
	local st=$1 nq order q c peak=0
	if [ "$be_ind" != - ] && [ "${ms:-0}" -gt 11 ] &&
		[ "$(sfield "$st" indirect)" -eq 0 ]; then
		echo "indirect negotiated (feature-max-indirect-segments=$be_ind, Linux max_segments=$ms) but no indirect request"
		return
	fi
	if [ "$be_pers" = 1 ] && [ "$fe_pers" = 1 ] &&
		[ "$(sfield "$st" persistent-hits)" -eq 0 ]; then
		echo "feature-persistent=1 on both sides but no request found its grant mapped already ($(sfield "$st" persistent-maps) maps)"
		return
	fi
	nq=${fe_nq/#-/1}
	if [ "$(sfield "$st" queues)" != "$nq" ]; then
		echo "blkback counted $(sfield "$st" queues) queue(s), the frontend's multi-queue-num-queues is $fe_nq"
		return
	fi
	if [ "$nq" -gt 1 ]; then
		for q in $(seq 0 $((nq - 1))); do
			if [ "$(squeue "$st" reqs $q)" -eq 0 ]; then
				echo "$nq queues negotiated but queue $q saw no request (reqs=$(sfield "$st" reqs))"
				return
			fi
		done
	fi
	if [ "$be_flush" = 1 ] && [ "$(sfield "$st" flush)" -eq 0 ]; then
		echo "feature-flush-cache=1 but no flush request (mkfs, ext4's journal and sync flush when the disk has a write cache)"
		return
	fi
	if [ "$(sfield "$st" errors)" -ne 0 ]; then
		echo "$(sfield "$st" errors) request(s) answered with an error"
		return
	fi
	order=${fe_order/#-/0}
	if [ "$order" -gt 0 ]; then
		for q in $(seq 0 $((nq - 1))); do
			c=$(squeue "$st" peak-inflight $q)
			[ "$c" -gt "$peak" ] && peak=$c
		done
		if [ "$peak" -le $BLK_RING1 ]; then
			echo "ring-page-order=$order ($((BLK_RING1 << order)) slots) but at most $peak requests in flight, no more than one page holds (peak-inflight=$(sfield "$st" peak-inflight))"
			return
		fi
	fi
}
if [ ! -e /opt/pvkit/pvkit-blkback ]; then
	result 1.blkback SKIP "not built yet (pvkit-blkback missing from the build)"
else
	why=""
	# Xen's kernel blkback must not claim the disk
	rmmod xen-blkback 2>/dev/null
	grep -q '^xen_blkback ' /proc/modules && why="xen-blkback still loaded"
	truncate -s 64M /interop/blk.img
	pvkit-blkback --platform=xen --pid-file /run/pvkit-blkback.pid \
		>$BLOG 2>&1 &
	wait_for 10 test -s /run/pvkit-blkback.pid || why="${why:-pvkit-blkback did not start}"
	bpid=$(cat /run/pvkit-blkback.pid 2>/dev/null)
	if [ -z "$why" ] && ! xl_create /interop/domu-blk.cfg /tmp/xl-create-blk.log; then
		why="xl create failed"
	fi
	bdom=$(timeout 15 xl domid $BLK 2>/dev/null)
	# ready, or Linux gave up on the disk (a protocol error)
	if [ -z "$why" ] && ! wait_for 240 grep -qE 'DOMU-READY|disabled for further use' $bcon; then
		why="the DomU never reported ready"
	fi
	if [ -z "$why" ] && grep -q 'disabled for further use' $bcon; then
		why="Linux blkfront: $(grep -m1 -o 'xvda: .*' $bcon | tr -d '\r')"
	fi
	feat="" be_ind=- be_pers=- be_flush=- fe_pers=- fe_nq=- fe_order=- ms=""
	if [ -n "$bdom" ]; then
		be=/local/domain/0/backend/vbd/$bdom/51712
		fe=/local/domain/$bdom/device/vbd/51712
		xr() { xs xenstore-read "$1" 2>/dev/null || echo -; }
		be_ind=$(xr $be/feature-max-indirect-segments)
		be_pers=$(xr $be/feature-persistent)
		be_flush=$(xr $be/feature-flush-cache)
		fe_pers=$(xr $fe/feature-persistent)
		fe_nq=$(xr $fe/multi-queue-num-queues)
		fe_order=$(xr $fe/ring-page-order)
		for n in $be/feature-max-indirect-segments $be/feature-persistent \
			$be/multi-queue-max-queues $be/max-ring-page-order \
			$be/feature-flush-cache $be/feature-discard \
			$fe/feature-persistent $fe/multi-queue-num-queues $fe/ring-page-order; do
			feat="$feat ${n#/local/domain/}=$(xr $n)"
		done
		echo "DOM0: negotiated:$feat"
		tr -d '\r' <$bcon | grep -a DOMU-BLK-KMSG | sed 's/^/DOM0: the DomU: /'
		ms=$(tr -d '\r' <$bcon | grep -m1 -o 'max_segments=[0-9]*' | cut -d= -f2)
		feat="$feat $(tr -d '\r' <$bcon | grep -o 'max_segments=.*' | head -1)"
	fi
	[ -z "$why" ] && ! grep -q DOMU-BLK-OK $bcon && why="mkfs/write/remount/verify/read load in the DomU failed"
	# what the DomU was configured to ask for
	[ -z "$why" ] && [ "$fe_nq" != 2 ] &&
		why="the DomU's xen-blkfront (max_queues=2, 2 vCPUs) wrote multi-queue-num-queues=$fe_nq"
	[ -z "$why" ] && [ "$fe_order" != 2 ] &&
		why="the DomU's xen-blkfront (max_ring_page_order=2) wrote ring-page-order=$fe_order"
	# blkback's counters while the DomU runs (SIGUSR1)
	stats=""
	if [ -z "$why" ]; then
		n0=$(blk_nstats $bdom)
		kill -USR1 "$bpid"
		stats_grew() { [ "$(blk_nstats $bdom)" -gt "$n0" ]; }
		if wait_for 10 stats_grew; then
			stats=$(blk_stats $bdom)
			echo "DOM0: pvkit-blkback counters (SIGUSR1): $stats"
			why=$(blk_exercised "$stats")
		else
			why="pvkit-blkback logged no counters after SIGUSR1"
		fi
	fi
	times=$(tr -d '\r' <$bcon | grep -am1 DOMU-BLK-TIMES | sed 's/.*DOMU-BLK-TIMES //')
	if [ -n "$bdom" ]; then
		timeout 40 xl shutdown -w $BLK >/tmp/xl-shutdown-blk.log 2>&1 ||
			{ why="${why:-xl shutdown failed}"; timeout 60 xl destroy $BLK; }
	fi
	kill "$bpid" 2>/dev/null
	wait_for 15 sh -c "! kill -0 $bpid" || why="${why:-pvkit-blkback did not exit on SIGTERM}"
	# the same line once more as the device went away
	final=""
	if [ -n "$bdom" ]; then
		final=$(blk_stats $bdom)
		case $final in
		*state=disconnected*) echo "DOM0: pvkit-blkback counters at disconnection: $final" ;;
		*) why="${why:-no counters line at disconnection}" ;;
		esac
	fi
	if [ -z "$why" ]; then
		result 1.blkback PASS "ext4 made, written, remounted and verified by Linux xen-blkfront on pvkit-blkback, then the whole disk read twice in parallel (DomU: $times); every negotiated feature used: ${final% state=*};$feat"
	else
		result 1.blkback FAIL "$why;$feat${stats:+; counters: $stats}"
		dump /tmp/xl-create-blk.log 120; dump $bcon; dump $BLOG 80
	fi
fi

fi # net_only

# ---- scenario 5: pvkit-netback serves a stock Linux DomU's vif -----------
# Xen's kernel netback unloaded; pvkit-netback --platform=xen --no-scripts
# makes the vif's TAP (vif<domid>.0), which Xen's own vif-bridge (libxl
# runs it) joins to xenbr0.  The DomU (2 vCPUs:
# Linux's xen-netfront asks for a queue per vCPU) pings Dom0 and runs iperf3
# both ways against Dom0's server; then pvkit-netback's counters (SIGUSR1)
# must show that what Linux negotiated was used: packets on every queue both
# ways, GSO and partial checksums both ways, nothing dropped as malformed.
begin 5.netback
NET=interop-net
ncon=/var/log/xen/console/guest-$NET.log
NLOG=/var/log/pvkit-netback.log
net_stats() { grep -a "vif/$1/0 stats:" $NLOG | tail -1 | sed 's/.* stats: //'; }
net_nstats() { grep -ac "vif/$1/0 stats:" $NLOG; }
# net_exercised STATS: why a negotiated feature was not used, or nothing;
# uses nfe_* / nbe_* (the xenstore nodes, - when missing)
net_exercised() {
	local st=$1 nq q v c
	nq=${nfe_nq/#-/1}
	if [ "$(sfield "$st" queues)" != "$nq" ]; then
		echo "pvkit-netback counted $(sfield "$st" queues) queue(s), the frontend's multi-queue-num-queues is $nfe_nq"
		return
	fi
	for q in $(seq 0 $((nq - 1))); do
		v=$(sfield "$st" per-queue-tx/rx | tr ',' '\n' | sed -n "s/^q$q://p")
		if [ "${v%/*}" -eq 0 ] 2>/dev/null || [ "${v#*/}" -eq 0 ] 2>/dev/null || [ -z "$v" ]; then
			echo "$nq queues negotiated but queue $q carried tx/rx=${v:-none} packets (per-queue-tx/rx=$(sfield "$st" per-queue-tx/rx))"
			return
		fi
	done
	# the guest sends TSO frames when the backend offers them, and
	# receives them when it asks for them
	if [ "$nbe_gso4" = 1 ] && [ "$(sfield "$st" tx-gso)" -eq 0 ]; then
		echo "feature-gso-tcpv4 offered but the guest sent no GSO packet"
		return
	fi
	if [ "$nfe_gso4" = 1 ] && [ "$(sfield "$st" rx-gso)" -eq 0 ]; then
		echo "the frontend asked for feature-gso-tcpv4 but no GSO packet went to it"
		return
	fi
	if [ "$nbe_nocsum" != 1 ] && [ "$(sfield "$st" tx-csum-blank)" -eq 0 ]; then
		echo "checksum offload on but the guest sent no partially checksummed packet"
		return
	fi
	if [ "$nfe_nocsum" != 1 ] && [ "$(sfield "$st" rx-csum-blank)" -eq 0 ]; then
		echo "checksum offload on but no partially checksummed packet went to the guest"
		return
	fi
	for c in drop-tx-too-many-slots drop-tx-slot-too-big drop-tx-runt \
		drop-tx-copy drop-tx-csum drop-rx-copy drop-rx-csum; do
		if [ "$(sfield "$st" $c)" -ne 0 ]; then
			echo "$c=$(sfield "$st" $c): a valid stream's packets dropped"
			return
		fi
	done
}
if [ ! -e /opt/pvkit/pvkit-netback ]; then
	result 5.netback SKIP "not built yet (pvkit-netback missing from the build)"
else
	why=""
	# Xen's kernel netback must not claim the vif (scenario 3's is gone)
	rmmod xen-netback 2>/dev/null
	grep -q '^xen_netback ' /proc/modules && why="xen-netback still loaded"
	modprobe tun || why="${why:-no tun module}"
	pvkit-netback --platform=xen --no-scripts --pid-file /run/pvkit-netback.pid \
		>$NLOG 2>&1 &
	wait_for 10 test -s /run/pvkit-netback.pid || why="${why:-pvkit-netback did not start}"
	npid=$(cat /run/pvkit-netback.pid 2>/dev/null)
	iperf3 -s -B 10.99.0.1 >/tmp/iperf3-server.log 2>&1 &
	ipid=$!
	if [ -z "$why" ] && ! xl_create /interop/domu-net.cfg /tmp/xl-create-net.log; then
		why="xl create failed"
	fi
	ndom=$(timeout 15 xl domid $NET 2>/dev/null)
	if [ -z "$why" ] && ! wait_for 240 grep -qE 'DOMU-READY' $ncon; then
		why="the DomU never reported ready"
	fi
	feat="" nfe_nq=- nfe_gso4=- nfe_nocsum=- nbe_gso4=- nbe_nocsum=-
	if [ -n "$ndom" ]; then
		be=/local/domain/0/backend/vif/$ndom/0
		fe=/local/domain/$ndom/device/vif/0
		xr() { xs xenstore-read "$1" 2>/dev/null || echo -; }
		nfe_nq=$(xr $fe/multi-queue-num-queues)
		nfe_gso4=$(xr $fe/feature-gso-tcpv4)
		nfe_nocsum=$(xr $fe/feature-no-csum-offload)
		nbe_gso4=$(xr $be/feature-gso-tcpv4)
		nbe_nocsum=$(xr $be/feature-no-csum-offload)
		for n in $be/feature-sg $be/feature-gso-tcpv4 $be/feature-gso-tcpv6 \
			$be/feature-ipv6-csum-offload $be/feature-rx-copy \
			$be/feature-split-event-channels $be/multi-queue-max-queues \
			$be/feature-ctrl-ring $be/feature-multicast-control \
			$be/hotplug-status \
			$fe/request-rx-copy $fe/feature-sg $fe/feature-gso-tcpv4 \
			$fe/feature-gso-tcpv6 $fe/feature-rx-notify \
			$fe/multi-queue-num-queues $fe/queue-0/event-channel-tx \
			$fe/queue-0/event-channel-rx; do
			feat="$feat ${n#/local/domain/}=$(xr $n)"
		done
		echo "DOM0: negotiated:$feat"
		tr -d '\r' <$ncon | grep -a -e DOMU-NET -e DOMU-READY | sed 's/^/DOM0: the DomU: /'
	fi
	if [ -z "$why" ] && ! grep -q DOMU-NET-OK $ncon; then
		why="in the DomU: $(tr -d '\r' <$ncon | grep -am1 DOMU-NET-FAIL | sed 's/DOMU-NET-FAIL //')"
	fi
	[ -z "$why" ] && [ "$nfe_nq" != 2 ] &&
		why="the DomU's xen-netfront (2 vCPUs) wrote multi-queue-num-queues=$nfe_nq"
	stats=""
	if [ -z "$why" ]; then
		n0=$(net_nstats $ndom)
		kill -USR1 "$npid"
		nstats_grew() { [ "$(net_nstats $ndom)" -gt "$n0" ]; }
		if wait_for 10 nstats_grew; then
			stats=$(net_stats $ndom)
			echo "DOM0: pvkit-netback counters (SIGUSR1): $stats"
			why=$(net_exercised "$stats")
		else
			why="pvkit-netback logged no counters after SIGUSR1"
		fi
	fi
	# the vif as Dom0 sees it (for a failure's report)
	nlinks=$(ip -s -d link show vif$ndom.0 2>&1; ip link show master xenbr0 2>&1; ip -s link show xenbr0 2>&1; ip neigh 2>&1)
	speeds=$(tr -d '\r' <$ncon | grep -a 'DOMU-NET-IPERF' | sed 's/.*DOMU-NET-IPERF-\([a-z]*\) .* \([0-9.]* [MG]bits\/sec\).*/\1 \2/' | tr '\n' ' ')
	if [ -n "$ndom" ]; then
		timeout 40 xl shutdown -w $NET >/tmp/xl-shutdown-net.log 2>&1 ||
			{ why="${why:-xl shutdown failed}"; timeout 60 xl destroy $NET; }
		wait_for 10 sh -c "! ip link show vif$ndom.0" ||
			why="${why:-vif$ndom.0 left behind after the domain went}"
	fi
	kill "$ipid" 2>/dev/null
	kill "$npid" 2>/dev/null
	wait_for 15 sh -c "! kill -0 $npid" || why="${why:-pvkit-netback did not exit on SIGTERM}"
	final=""
	if [ -n "$ndom" ]; then
		final=$(net_stats $ndom)
		case $final in
		*state=disconnected*) echo "DOM0: pvkit-netback counters at disconnection: $final" ;;
		*) why="${why:-no counters line at disconnection}" ;;
		esac
	fi
	if [ -z "$why" ]; then
		result 5.netback PASS "Linux xen-netfront on pvkit-netback: ping and iperf3 both ways (DomU tx/rx: $speeds); every negotiated feature used: ${final% state=*};$feat"
	else
		result 5.netback FAIL "$why;$feat${stats:+; counters: $stats}"
		tr -d '\r' <$ncon | grep -a DOMU-NET-DIAG | sed 's/^/DOM0: the DomU: /'
		echo "$nlinks"
		dump /tmp/xl-create-net.log 120; dump $ncon; dump $NLOG 80
		dump /tmp/iperf3-server.log 20
	fi
fi

# ---- scenario 6: pvkit-netfront in a DomU, Dom0's kernel netback ---------
# The DomU (2 vCPUs) never loads xen-netfront: pvkit-netfront in its
# userspace connects vif 0 with two queues to Linux's xen-netback (Xen's
# own vif-bridge puts the vif on xenbr0) and makes eth0, a TAP; the DomU
# pings Dom0 and runs iperf3 both ways through it, then pvkit-netfront's
# counters must show both queues used each way and no error.
begin 6.netfront
NF=interop-nf
fcon=/var/log/xen/console/guest-$NF.log
if [ ! -e /opt/pvkit/pvkit-netfront ]; then
	result 6.netfront SKIP "not built yet (pvkit-netfront missing from the build)"
else
	why=""
	modprobe xen-netback || why="xen-netback cannot be loaded"
	iperf3 -s -B 10.99.0.1 >/tmp/iperf3-server-nf.log 2>&1 &
	ipid=$!
	if [ -z "$why" ] && ! xl_create /interop/domu-nf.cfg /tmp/xl-create-nf.log; then
		why="xl create failed"
	fi
	fdom=$(timeout 15 xl domid $NF 2>/dev/null)
	if [ -z "$why" ] && ! wait_for 240 grep -q DOMU-READY $fcon; then
		why="the DomU never reported ready"
	fi
	feat="" ffe_nq=-
	if [ -n "$fdom" ]; then
		be=/local/domain/0/backend/vif/$fdom/0
		fe=/local/domain/$fdom/device/vif/0
		xr() { xs xenstore-read "$1" 2>/dev/null || echo -; }
		ffe_nq=$(xr $fe/multi-queue-num-queues)
		for n in $be/feature-sg $be/feature-gso-tcpv4 $be/feature-rx-copy \
			$be/feature-split-event-channels $be/multi-queue-max-queues \
			$fe/request-rx-copy $fe/feature-sg $fe/feature-gso-tcpv4 \
			$fe/feature-rx-notify $fe/multi-queue-num-queues \
			$fe/queue-0/event-channel-tx $fe/queue-0/event-channel-rx; do
			feat="$feat ${n#/local/domain/}=$(xr $n)"
		done
		echo "DOM0: negotiated:$feat"
		tr -d '\r' <$fcon | grep -a -e DOMU-NF -e DOMU-READY | sed 's/^/DOM0: the DomU: /'
	fi
	if [ -z "$why" ] && ! grep -q DOMU-NF-OK $fcon; then
		why="in the DomU: $(tr -d '\r' <$fcon | grep -am1 DOMU-NF-FAIL | sed 's/DOMU-NF-FAIL //')"
	fi
	[ -z "$why" ] && [ "$ffe_nq" != 2 ] &&
		why="pvkit-netfront (--queues 2) wrote multi-queue-num-queues=$ffe_nq"
	nstats=$(tr -d '\r' <$fcon | grep -am1 'DOMU-NF-STATS' | sed 's/.*stats: //')
	if [ -z "$why" ]; then
		pq=$(sfield "$nstats" per-queue-tx/rx)
		for q in 0 1; do
			v=$(tr ',' '\n' <<<"$pq" | sed -n "s/^q$q://p")
			if [ -z "$v" ] || [ "${v%/*}" -eq 0 ] || [ "${v#*/}" -eq 0 ]; then
				why="queue $q carried tx/rx=${v:-none} frames (per-queue-tx/rx=$pq)"
				break
			fi
		done
	fi
	for c in tx-errors rx-errors; do
		[ -z "$why" ] && [ "$(sfield "$nstats" $c)" -ne 0 ] &&
			why="pvkit-netfront counted $c=$(sfield "$nstats" $c)"
	done
	speeds=$(tr -d '\r' <$fcon | grep -a 'DOMU-NF-IPERF' | sed 's/.*DOMU-NF-IPERF-\([a-z]*\) .* \([0-9.]* [MG]bits\/sec\).*/\1 \2/' | tr '\n' ' ')
	if [ -n "$fdom" ]; then
		timeout 40 xl shutdown -w $NF >/tmp/xl-shutdown-nf.log 2>&1 ||
			{ why="${why:-xl shutdown failed}"; timeout 60 xl destroy $NF; }
	fi
	kill "$ipid" 2>/dev/null
	if [ -z "$why" ]; then
		result 6.netfront PASS "pvkit-netfront in a Linux DomU on Linux xen-netback: ping and iperf3 both ways through its TAP (DomU tx/rx: $speeds); counters: $nstats;$feat"
	else
		result 6.netfront FAIL "$why;$feat${nstats:+; counters: $nstats}"
		dump /tmp/xl-create-nf.log 120; dump $fcon
		dump /var/log/xen/xen-hotplug.log 20
	fi
fi

if [ -n "$NET_ONLY" ]; then
	echo "$M DOM0-DONE uptime=$(cut -d' ' -f1 /proc/uptime) (net_only: scenarios 5 and 6)"
	exit $failed
fi

# ---- test-xenstore: pvkit-xenstored and Xen's C xenstored alternately ----
# Same boot, Dom0 idle, XSTEST_ROUNDS rounds of (pvkit, Xen) so that a burst
# of load on the host hurts both; the host keeps each test's best round.
# Xen's daemon never runs first: its -D (no Dom0 ring) crashes on the first
# socket request in 4.17, so it must take over Dom0's kernel ring, whose
# watches (the kernel backends') are lost to any daemon started after it.
# xenconsoled would lose its daemon in the swap (and spin on the dead
# connection): stop it first; the DomU's xl monitor is gone already.
kill "$(cat /run/xenconsoled.pid 2>/dev/null)" 2>/dev/null
kill "$(cat /run/xenstored.pid 2>/dev/null)" 2>/dev/null
wait_for 10 sh -c '! pidof xenconsoled && ! pidof xl && ! pidof pvkit-xenstored'
XSTEST_ROUNDS=$(sed -n 's/.*xstest_rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
XSTEST_ROUNDS=${XSTEST_ROUNDS:-3}
declare -A xs_ok=([pvkit]=PASS [xen]=PASS) xs_secs=([pvkit]=0 [xen]=0)
# xs_round NAME: start that daemon, check the tools, test-xenstore, stop it
xs_round() {
	local name=$1 t0=$EPOCHREALTIME pidf=/run/xenstored-$1.pid
	if [ $name = pvkit ]; then
		pvkit-xenstored --platform=xen --pid-file $pidf >>/tmp/xenstored-$name.log 2>&1 &
	else
		xenstored -N --pid-file $pidf >>/tmp/xenstored-$name.log 2>&1 &
	fi
	# (before the socket exists libxenstore would fall back to /dev/xen/xenbus)
	if wait_for 15 test -S /run/xenstored/socket && wait_for 15 xs xenstore-exists /; then
		utils_check xstest-$name
		xstest $name || { xs_ok[$name]=FAIL; dump /tmp/xstest-$name.out; }
	else
		xs_ok[$name]=FAIL
		dump /tmp/xenstored-$name.log
	fi
	[ $name = xen ] && xl_check xstest-xen
	xs_secs[$name]=$(awk -v s="${xs_secs[$name]}" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", s + b - a }')
	kill "$(cat $pidf 2>/dev/null)" 2>/dev/null
	wait_for 10 sh -c "! kill -0 \$(cat $pidf)"
	rm -f /run/xenstored/socket /run/xenstored/socket_ro $pidf
}
begin 3.test-xenstore
for r in $(seq 1 $XSTEST_ROUNDS); do
	xs_round pvkit
	xs_round xen
done
echo "$M XSTEST-TOTAL xen ${xs_secs[xen]} pvkit ${xs_secs[pvkit]}"
if [ ${xs_ok[pvkit]} = PASS ] && [ ${xs_ok[xen]} = PASS ]; then
	result 3.test-xenstore PASS "both daemons, $XSTEST_ROUNDS rounds of -i $XSTEST_ITER"
else
	result 3.test-xenstore FAIL "pvkit-xenstored ${xs_ok[pvkit]}, Xen's xenstored ${xs_ok[xen]}"
fi

begin 4.xenstore-utils
if [ -z "$utils_fail" ]; then
	result 4.xenstore-utils PASS "ls read write rm list exists watch chmod at:$utils_where"
else
	result 4.xenstore-utils FAIL "$utils_fail"
fi
begin 4.xl-list-info
if [ -z "$xl_fail" ]; then
	result 4.xl-list-info PASS "at:$xl_where"
else
	result 4.xl-list-info FAIL "$xl_fail"
fi

if [ $failed = 1 ]; then
	dump $PVK_LOG 200
	dump /var/log/xen/xen-hotplug.log
fi
echo "$M DOM0-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
exit $failed
