#!/bin/sh
# DomU /init (busybox): bring up the PV frontends, report what the kernel
# sees on the console (Dom0 reads it from xenconsoled's log), then wait for
# the toolstack's shutdown request.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }
# xenbus "poweroff" runs /sbin/poweroff, which signals pid 1: that is us
trap 'echo "DOMU: poweroff requested at $(up)"; sync; poweroff -f' USR2 TERM INT
echo "DOMU: init at $(up)"
if grep -q interop=blkfront /proc/cmdline; then
	# scenario 2: pvkit's blkfront in userspace drives xvda, which Dom0's
	# kernel blkback serves; xen-blkfront is never loaded here (no
	# uevent helper loads it either), so the kernel leaves the disk alone
	modprobe xen-evtchn
	modprobe xen-gntalloc limit=16384 # 2 queues x 64 slots x 33 pages
	modprobe xenfs && mount -t xenfs xenfs /proc/xen
	# bf_run SECONDS ERRFILE ARGS...: pvkit-blkfront with a time limit;
	# past it, where each of its threads waits goes into ERRFILE
	bf_run() {
		local lim=$1 err=$2 pid i=0 t
		shift 2
		env $BF_ENV PVKIT_LOG=info /opt/pvkit/pvkit-blkfront --platform xen "$@" 2>"$err" &
		pid=$!
		while kill -0 $pid 2>/dev/null && [ $i -lt $((lim * 5)) ]; do
			sleep 0.2
			i=$((i + 1))
		done
		if kill -0 $pid 2>/dev/null; then
			for t in /proc/$pid/task/*; do
				echo "stuck after $lim s: thread ${t##*/} in $(cat $t/wchan 2>/dev/null): $(cat $t/stack 2>/dev/null | head -4 | tr '\n' ' ')" >>"$err"
			done
			kill -9 $pid
			wait $pid
			return 124
		fi
		wait $pid
	}
	if grep -q '^xen_blkfront ' /proc/modules; then
		echo "DOMU-BF-FAIL xen-blkfront is loaded"
	else
		echo "DOMU-BF: xen-blkfront not loaded; xvda left to pvkit-blkfront"
		# bf_verify TAG WHAT ARGS...: write-verify 8 MiB with ARGS, its
		# output prefixed "DOMU-TAG: ", then DOMU-TAG-WRITE-VERIFY-OK or
		# DOMU-BF-FAIL naming WHAT
		bf_verify() {
			local tag=$1 what=$2 rc
			shift 2
			bf_run 90 /tmp/$tag.err "$@" xvda write-verify 8 >/tmp/$tag.out
			rc=$?
			cat /tmp/$tag.err >>/tmp/$tag.out
			sed "s/^/DOMU-$tag: /" /tmp/$tag.out
			if [ $rc = 0 ]; then
				echo "DOMU-$tag-WRITE-VERIFY-OK"
			else
				echo "DOMU-BF-FAIL ${what}write-verify exit status $rc: $(grep -v -e '^features' -e '^stats' /tmp/$tag.out | tail -1)"
			fi
		}
		# bf_soak=R:Q on the cmdline (run.sh's PVKIT_INTEROP_BF_SOAK):
		# both passes R times with Q queues, the rounds cycling
		# through the defaults, no persistent grants, no polling and
		# no indirect requests
		rounds=1 qopt="" BF_ENV=""
		soak=$(sed -n 's/.*bf_soak=\([0-9]*\):\([0-9]*\).*/\1 \2/p' /proc/cmdline)
		[ -n "$soak" ] && { rounds=${soak% *} qopt="--queues ${soak#* }"; }
		# the platform check: memstress (tests/interop/memstress.c)
		# does to memory what blkfront does -- malloc, copies into
		# slot pages on two threads, frees -- without blkif, while the
		# shell forks.  A wrong word there is the platform's fault,
		# not pvkit's (Xen's lazy FPU switching, which run.sh turns
		# off, did exactly that).  Its checker first proves itself on
		# answers it spoils on purpose.
		ms() {
			/opt/pvkit/memstress "$@" >/tmp/ms.out 2>&1
			msrc=$?
			tail -8 /tmp/ms.out | sed 's/^/DOMU-BF-MEMSTRESS /'
		}
		ms --threads 2 --seconds 1 --corrupt 20
		[ $msrc = 1 ] || echo "DOMU-BF-FAIL memstress's checker missed answers it spoiled (exit status $msrc)"
		mssecs=10
		[ -n "$soak" ] && mssecs=45
		touch /tmp/churn
		(while [ -e /tmp/churn ]; do x=$(echo a); done) &
		churn=$!
		for slots in anon gnt; do
			ms --threads 2 --seconds $mssecs --slots $slots
			[ $msrc = 0 ] || echo "DOMU-BF-FAIL the DomU corrupts memory without pvkit, a platform fault: memstress --slots $slots exit status $msrc: $(tail -1 /tmp/ms.out)"
		done
		rm -f /tmp/churn
		wait $churn
		i=1
		while [ $i -le $rounds ]; do
			vopt="" BF_ENV=""
			if [ -n "$soak" ]; then
				# and blkfront checks each copied write's pages
				BF_ENV="PVKIT_BLKFRONT_CHECK=1"
				case $((i % 4)) in
				2) vopt="--no-persistent" ;;
				3) BF_ENV="$BF_ENV PVKIT_BLK_POLL_US=0" ;;
				0) vopt="--indirect 0" ;;
				esac
				echo "DOMU-BF-SOAK round $i of $rounds at $(up): $vopt $BF_ENV"
			fi
			# write 8 MiB of stamped blocks, flush, read back,
			# verify
			bf_verify BF "" --ring-order 1 $qopt $vopt
			# again through zero-copy buffers: 1 MiB operations
			# that go to Linux's blkback as single 256-segment
			# indirect requests
			bf_verify BFZ "zero-copy " --ring-order 1 --zero-copy $qopt $vopt
			i=$((i + 1))
		done
		# a second program opens the closed device again and reads
		# the 8 MiB back for Dom0 to compare with its file (md5 of
		# the whole and of each MiB)
		bf_run 45 /tmp/bf-read.err xvda read 0 16384 >/tmp/bf.read
		rc=$?
		sed 's/^/DOMU-BF: read: /' /tmp/bf-read.err
		if [ $rc = 0 ]; then
			echo "DOMU-BF-MD5 $(md5sum </tmp/bf.read | cut -d' ' -f1)"
			echo "DOMU-BF-MD5S $(for m in 0 1 2 3 4 5 6 7; do dd if=/tmp/bf.read bs=1M skip=$m count=1 2>/dev/null | md5sum | cut -c1-8; done | tr '\n' ' ')"
		else
			echo "DOMU-BF-FAIL reopen and read: exit status $rc: $(tail -1 /tmp/bf-read.err)"
		fi
		rm -f /tmp/bf.read
		# and a third checks every block's stamp against the last
		# write-verify's seed (a wrong block is described)
		zseed=$(sed -n 's/^write-verify: .* seed \([0-9]*\),.*/\1/p' /tmp/BFZ.out | tail -1)
		bf_run 45 /tmp/bf-verify.err xvda verify 8 "$zseed" >/tmp/bf-verify.out
		rc=$?
		cat /tmp/bf-verify.err >>/tmp/bf-verify.out
		sed 's/^/DOMU-BF: verify: /' /tmp/bf-verify.out
		[ $rc = 0 ] || echo "DOMU-BF-FAIL reopen and verify: exit status $rc: $(grep -v -e '^features' -e '^stats' /tmp/bf-verify.out | tail -1)"
	fi
	echo "DOMU-READY at $(up)"
	while :; do sleep 1; done
fi
if grep -q interop=netfront /proc/cmdline; then
	# scenario 6: pvkit-netfront in userspace drives vif 0, which Dom0's
	# kernel netback serves; xen-netfront is never loaded here (no
	# uevent helper loads it either).  Ping Dom0, TCP both ways through
	# the TAP pvkit-netfront makes, then its counters.
	mkdir -p /tmp
	modprobe xen-evtchn
	modprobe xen-gntalloc limit=16384
	modprobe xenfs && mount -t xenfs xenfs /proc/xen
	modprobe tun # /dev/net/tun, for the TAP
	ok=1
	if grep -q '^xen_netfront ' /proc/modules; then
		ok=0
		echo "DOMU-NF-FAIL xen-netfront is loaded"
	fi
	PVKIT_LOG=info /opt/pvkit/pvkit-netfront --platform xen --queues 2 0 \
		>/tmp/nf.out 2>/tmp/nf.err &
	nfpid=$!
	for i in $(seq 1 150); do
		ip link show eth0 >/dev/null 2>&1 && break
		sleep 0.2
	done
	ip link set lo up
	if ip link show eth0 >/dev/null 2>&1; then
		ip addr add 10.99.0.6/24 dev eth0
		echo "DOMU-NF $(cat /tmp/nf.out)"
	else
		ok=0
		echo "DOMU-NF-FAIL no eth0 from pvkit-netfront: $(tail -3 /tmp/nf.err | tr '\n' ' ')"
	fi
	if [ $ok = 1 ]; then
		if ping -c 3 -W 5 10.99.0.1 >/tmp/ping.out 2>&1; then
			echo "DOMU-NF-PING-OK $(tail -1 /tmp/ping.out)"
		else
			ok=0
			echo "DOMU-NF-FAIL ping: $(tail -2 /tmp/ping.out | tr '\n' ' ')"
		fi
	fi
	for dir in tx rx; do
		[ $ok = 1 ] || break
		R=""
		[ $dir = rx ] && R=-R
		if timeout 60 iperf3 -c 10.99.0.1 -t 4 -P 8 $R -f m >/tmp/ip-$dir.out 2>&1; then
			echo "DOMU-NF-IPERF-$dir $(grep 'SUM.*receiver' /tmp/ip-$dir.out | tail -1 | tr -s ' ')"
		else
			ok=0
			echo "DOMU-NF-FAIL iperf3 $dir: $(tail -3 /tmp/ip-$dir.out | tr '\n' ' ')"
		fi
	done
	kill -TERM $nfpid 2>/dev/null
	for i in $(seq 1 50); do kill -0 $nfpid 2>/dev/null || break; sleep 0.2; done
	if kill -0 $nfpid 2>/dev/null; then
		ok=0
		echo "DOMU-NF-FAIL pvkit-netfront did not exit on SIGTERM"
		kill -9 $nfpid
	fi
	wait $nfpid
	rc=$?
	[ $rc = 0 ] || { ok=0; echo "DOMU-NF-FAIL pvkit-netfront exit status $rc: $(tail -3 /tmp/nf.err | tr '\n' ' ')"; }
	echo "DOMU-NF-STATS $(grep '^stats:' /tmp/nf.out | tail -1)"
	grep -v '^$' /tmp/nf.err | tail -8 | sed 's/^/DOMU-NF-LOG /'
	[ $ok = 1 ] && echo "DOMU-NF-OK"
	echo "DOMU-READY at $(up)"
	while :; do sleep 1; done
fi
if grep -q interop=netback /proc/cmdline; then
	# scenario 5: Linux xen-netfront on pvkit-netback: ping Dom0, then
	# TCP both ways with iperf3, 8 streams each (Linux spreads flows
	# over its queues by hash: both queues carry some)
	mkdir -p /tmp
	modprobe xen-netfront
	for i in $(seq 1 100); do
		ip link show eth0 >/dev/null 2>&1 && break
		sleep 0.1
	done
	ip link set lo up
	ip link set eth0 up
	ip addr add 10.99.0.5/24 dev eth0
	ok=1
	if ping -c 3 -W 5 10.99.0.1 >/tmp/ping.out 2>&1; then
		echo "DOMU-NET-PING-OK $(tail -1 /tmp/ping.out)"
	else
		ok=0
		echo "DOMU-NET-FAIL ping: $(tail -2 /tmp/ping.out | tr '\n' ' ')"
	fi
	for dir in tx rx; do
		R=""
		[ $dir = rx ] && R=-R
		if timeout 60 iperf3 -c 10.99.0.1 -t 4 -P 8 $R -f m >/tmp/ip-$dir.out 2>&1; then
			echo "DOMU-NET-IPERF-$dir $(grep 'SUM.*receiver' /tmp/ip-$dir.out | tail -1 | tr -s ' ')"
		else
			ok=0
			echo "DOMU-NET-FAIL iperf3 $dir: $(tail -3 /tmp/ip-$dir.out | tr '\n' ' ')"
		fi
	done
	[ $ok = 1 ] || { ip -s link show eth0; ip neigh; cat /proc/net/snmp | head -4; } 2>&1 | sed 's/^/DOMU-NET-DIAG /'
	echo "DOMU-NET-FEATURES tx-queues=$(ls -d /sys/class/net/eth0/queues/tx-* | wc -l) rx-queues=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l) mtu=$(cat /sys/class/net/eth0/mtu)"
	dmesg | grep -iE 'netfront|eth0' | tail -6 | sed 's/^/DOMU-NET-KMSG /'
	[ $ok = 1 ] && echo "DOMU-NET-OK"
	echo "DOMU-READY at $(up)"
	while :; do sleep 1; done
fi
# xen-blkfront's options from the cmdline's blkfront_opts=a=1,b=2 (the
# scenario-1 DomU asks for more queues and ring pages than the defaults)
modprobe xen-blkfront $(sed -n 's/.*blkfront_opts=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
modprobe xen-netfront
modprobe ext4
for i in $(seq 1 100); do
	[ -b /dev/xvda ] && ip link show eth0 >/dev/null 2>&1 && break
	sleep 0.1
done
[ -b /dev/xvda ] && echo "DOMU-XVDA-OK"
ip link show eth0 >/dev/null 2>&1 && echo "DOMU-ETH0-OK"
mkdir -p /mnt
if mount -t ext4 -o ro /dev/xvda /mnt 2>/dev/null; then
	[ "$(cat /mnt/hello.txt)" = pvkit-interop-disk ] && echo "DOMU-DISK-READ-OK"
	umount /mnt
fi
if grep -q interop=blk /proc/cmdline; then
	# scenario 1: the disk is pvkit-blkback's; make a file system on it,
	# write, remount, verify
	ok=1
	t=$(up)
	timeout 60 mkfs.ext4 -q -F /dev/xvda || ok=0
	times="mkfs $(since $t) s"
	t=$(up)
	[ $ok = 1 ] && { timeout 30 mount -t ext4 /dev/xvda /mnt || ok=0; }
	if [ $ok = 1 ]; then
		dd if=/dev/urandom of=/mnt/big bs=1M count=8 2>/dev/null
		for i in 1 2 3 4 5 6 7 8; do
			dd if=/dev/urandom of=/mnt/small$i bs=4k count=$i 2>/dev/null
		done
		(cd /mnt && md5sum big small*) >/sums
		sync
		umount /mnt || ok=0
		echo 3 >/proc/sys/vm/drop_caches
		mount -t ext4 /dev/xvda /mnt || ok=0
		(cd /mnt && md5sum -c /sums >/dev/null) || ok=0
		umount /mnt || ok=0
	fi
	times="$times, write+remount+verify $(since $t) s"
	if [ $ok = 1 ]; then
		# load for what blkback counts: 4 O_DIRECT readers pinned to
		# each vCPU (a queue per vCPU), 4 MiB a read = 32 indirect
		# requests of 128 KiB, so a queue holds more than one ring
		# page's 32 requests at once; twice over the whole disk
		t=$(up)
		mib=$(($(cat /sys/block/xvda/size) / 2048))
		for round in 1 2; do
			for r in 0 1 2 3 4 5 6 7; do
				taskset -c $((r % 2)) dd if=/dev/xvda of=/dev/null \
					bs=4M count=$((mib / 32)) \
					skip=$((r * mib / 32)) iflag=direct 2>/dev/null &
			done
			wait
		done
		times="$times, $((2 * mib)) MiB read by 8 O_DIRECT readers on 2 vCPUs $(since $t) s"
		# what the kernel said about the disk (warnings do not reach
		# the console at loglevel=4), e.g. a failed flush or discard
		dmesg | grep -iE 'blkfront:|xvda' | tail -8 | sed 's/^/DOMU-BLK-KMSG /'
	fi
	echo "DOMU-BLK-TIMES $times"
	echo "DOMU-BLK-FEATURES max_segments=$(cat /sys/block/xvda/queue/max_segments) hw_queues=$(ls /sys/block/xvda/mq | wc -l) nr_requests=$(cat /sys/block/xvda/queue/nr_requests) cpus=$(nproc) sectors=$(cat /sys/block/xvda/size)"
	[ $ok = 1 ] && echo "DOMU-BLK-OK"
	echo "DOMU-READY at $(up)"
	while :; do sleep 1; done
fi
ip link set lo up
ip link set eth0 up
ip addr add 10.99.0.2/24 dev eth0
ping -c 2 -W 3 10.99.0.1 >/dev/null 2>&1 && echo "DOMU-PING-OK"
echo "DOMU-READY at $(up)"
while :; do sleep 1; done
