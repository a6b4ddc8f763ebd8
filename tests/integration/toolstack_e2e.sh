#!/usr/bin/env bash
# End to end through the toolstack: host start, create from xl.cfg, list,
# pause/unpause, the PV console (boot banner in the log, input answered
# through `pvkit console`), disk hot-plug (block-attach/-list/-detach of a
# file and an NBD export), network interfaces (vif=, network-attach/-list/
# -detach, the TAPs on xenbr0), shutdown -w (the guest's control driver), reboot
# with on_reboot=restart (a new domain id), destroy, bad configs, host stop.
set -u
P=$1
export PVKIT_STATE_DIR=$(mktemp -d /tmp/pvkit-e2e-XXXXXX)
fail=0
id2=""
check() { if eval "$2"; then echo "ok   - $1"; else echo "FAIL - $1"; fail=1; fi; }
# kill -9 this host's guest kernels only (other tests may run beside us):
# each inherits our PVKIT_STATE_DIR.
kill_guests() {
	local p
	for p in $(pgrep -f pvkit-guest); do
		tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qxF "PVKIT_STATE_DIR=$PVKIT_STATE_DIR" && kill -9 "$p"
	done
}
# pids of this host's processes whose command line matches $1
host_procs() {
	local p
	for p in $(pgrep -f "$1"); do
		tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qxF "PVKIT_STATE_DIR=$PVKIT_STATE_DIR" && echo "$p"
	done
}
xs_read() { XENSTORED_PATH=$PVKIT_STATE_DIR/xenstored.sock xenstore-read "$1" 2>/dev/null; }
cleanup() { "$P" host stop -f -w 5 >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$PVKIT_STATE_DIR"; }
trap cleanup EXIT
cfg=$PVKIT_STATE_DIR/g.cfg
disk=$PVKIT_STATE_DIR/disk.img
truncate -s 16M "$disk"
printf 'E2EDISK' | dd of="$disk" conv=notrunc status=none
# 128 MiB: blkfront shares its payload pages up front (4 queues of 1,056
# pages per disk), and the hot-plug checks add two disks.
cat > "$cfg" <<CFG
name = "e2e"
memory = 128
vcpus = 2
on_reboot = "restart"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$disk' ]
CFG
check "help lists every verb" '"$P" help > $PVKIT_STATE_DIR/help.txt && hv=1 && for v in host create list destroy domid domname rename uptime vcpu-list top dmesg shutdown reboot pause unpause info console block-attach block-detach block-list network-attach network-detach network-list; do grep -q "^  $v " $PVKIT_STATE_DIR/help.txt || hv=0; done; [ $hv = 1 ]'
check "help VERB is VERB --help" '"$P" help block-detach > $PVKIT_STATE_DIR/h1.txt && "$P" block-detach --help > $PVKIT_STATE_DIR/h2.txt && cmp -s $PVKIT_STATE_DIR/h1.txt $PVKIT_STATE_DIR/h2.txt && grep -q "^usage: pvkit block-detach \[-f\] DOM VDEV$" $PVKIT_STATE_DIR/h1.txt'
check "an unknown verb is named, rc 2" '"$P" frobnicate 2>&1 | grep -q "unknown verb .frobnicate."; "$P" frobnicate 2>/dev/null; [ $? = 2 ] && ! "$P" help frobnicate 2>/dev/null'
check "host start" '"$P" host start >/dev/null'
check "host status" '"$P" host status >/dev/null'
check "dmesg: every daemon's messages, pvkit-hvd's first" '"$P" dmesg > $PVKIT_STATE_DIR/dm.txt && head -1 $PVKIT_STATE_DIR/dm.txt | grep -q "^--- pvkit-hvd " && grep -q "pvkit-hvd: info: listening" $PVKIT_STATE_DIR/dm.txt && grep -q "^--- pvkit-netback " $PVKIT_STATE_DIR/dm.txt && grep -q "supervis" $PVKIT_STATE_DIR/dm.txt'
check "dmesg -c hvd clears what it showed; an unknown daemon is named" '"$P" dmesg -c hvd | grep -q listening && ! "$P" dmesg hvd | grep -q listening && "$P" dmesg nosuchd 2>&1 | grep -q "no daemon .nosuchd."'
check "create" '"$P" create "$cfg" >/dev/null'
check "list shows it" '"$P" list | grep -q "^e2e "'
check "list has xl's columns, Time(s) last" '"$P" list | head -1 | grep -Eq "^Name +ID +Mem +VCPUs +State +Time\(s\)$" && "$P" list | grep -Eq "^e2e +[0-9]+ +128 +2 +[-rbpsc]{6} +[0-9]+\.[0-9]$"'
check "domid and domname" 'id=$("$P" domid e2e) && [ "$("$P" domname "$id")" = e2e ] && ! "$P" domid nosuch 2>/dev/null'
# xl rename: the hypervisor's name, xenstore's, list -l's; a taken or bad
# name refused
check "rename" 'id=$("$P" domid e2e) && "$P" rename e2e e2e-renamed && [ "$("$P" domid e2e-renamed)" = "$id" ] && ! "$P" domid e2e 2>/dev/null && "$P" list -l | grep -q "\"name\": \"e2e-renamed\""'
if command -v xenstore-read >/dev/null; then
	check "rename: xenstore's names follow" 'XENSTORED_PATH=$PVKIT_STATE_DIR/xenstored.sock; export XENSTORED_PATH; [ "$(xenstore-read /local/domain/$id/name)" = e2e-renamed ] && [ "$(xenstore-read "$(xenstore-read /local/domain/$id/vm)/name")" = e2e-renamed ]'
fi
check "rename to a taken name refused" '"$P" rename e2e-renamed Domain-0 2>&1 | grep -q "domain 0 is already named Domain-0"'
check "rename to a bad name refused" '! "$P" rename e2e-renamed "a b" 2>/dev/null && ! "$P" rename e2e-renamed 123 2>/dev/null'
check "rename back" '"$P" rename e2e-renamed e2e && [ "$("$P" domid e2e)" = "$id" ]'
sed -e 's/^name = .*/name = "rn"/' "$cfg" > "$PVKIT_STATE_DIR/rn.cfg"
check "rename: a reboot keeps the new name" '"$P" create "$PVKIT_STATE_DIR/rn.cfg" >/dev/null && rid=$("$P" domid rn) && "$P" rename rn rn2 && sleep 0.5 && "$P" reboot rn2 >/dev/null && for i in $(seq 100); do n=$("$P" domid rn2 2>/dev/null) && [ "$n" != "$rid" ] && break; sleep 0.1; done; n=$("$P" domid rn2) && [ "$n" != "$rid" ] && "$P" destroy rn2'
check "list --json" '"$P" list --json | grep -q "\"name\": \"e2e\""'
check "list -l: each domain's state and its config (libxl's shape) as JSON" '"$P" list -l > $PVKIT_STATE_DIR/ll.json && python3 -c "
import json, sys
d = {x[\"name\"]: x for x in json.load(open(sys.argv[1]))}
c = d[\"e2e\"][\"config\"]
assert c[\"c_info\"][\"name\"] == \"e2e\" and len(c[\"c_info\"][\"uuid\"]) == 36, c
assert c[\"b_info\"][\"max_vcpus\"] == 2 and c[\"b_info\"][\"target_memkb\"] == 131072, c
assert c[\"disks\"][0][\"vdev\"] == \"xvda\" and c[\"disks\"][0][\"readwrite\"] == 1, c
assert c[\"on_reboot\"] == \"restart\" and d[\"e2e\"][\"state\"][0] == \"r\", d
assert d[\"Domain-0\"][\"domid\"] == 0
" $PVKIT_STATE_DIR/ll.json && [ "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[1][\"config\"][\"c_info\"][\"uuid\"])" $PVKIT_STATE_DIR/ll.json)" = "$(xs_read $(xs_read /local/domain/$("$P" domid e2e)/vm)/uuid)" ]'
check "vcpu-list: xl's columns, each of the domain's 2 vCPUs (its kernel's vcpuN threads)" '"$P" vcpu-list > $PVKIT_STATE_DIR/vl.txt && head -1 $PVKIT_STATE_DIR/vl.txt | grep -Eq "^Name +ID +VCPU +CPU +State +Time\(s\) +Affinity \(Hard / Soft\)$" && grep -Eq "^Domain-0 +0 +0 " $PVKIT_STATE_DIR/vl.txt && id=$("$P" domid e2e) && grep -Eq "^e2e +$id +0 +[0-9]+ +[-r][-b][-p] +[0-9]+\.[0-9] +[-0-9a-z,]+ / all$" $PVKIT_STATE_DIR/vl.txt && grep -Eq "^e2e +$id +1 +[0-9]+ " $PVKIT_STATE_DIR/vl.txt && [ $("$P" vcpu-list e2e | wc -l) = 3 ]'
check "top -b: xentop's columns, Domain-0 and the domain (1 vbd, MEM 128 MiB, its boot's reads counted), CPU% from the second frame" '"$P" top -b -d 0.2 -i 2 > $PVKIT_STATE_DIR/top.txt && [ $(grep -Ec "^ *NAME +STATE +CPU\(sec\) +CPU\(%\) +MEM\(k\) +MEM\(%\) +MAXMEM\(k\) +MAXMEM\(%\) +VCPUS +NETS +NETTX\(k\) +NETRX\(k\) +VBDS +VBD_OO +VBD_RD +VBD_WR +VBD_RSECT +VBD_WSECT$" $PVKIT_STATE_DIR/top.txt) = 2 ] && grep -Eq "^ *Domain-0 +-{3}r-- .* no limit +n/a " $PVKIT_STATE_DIR/top.txt && grep -Eq "^ +e2e +[-a-z]{6} +[0-9]+ +- +131072 " $PVKIT_STATE_DIR/top.txt && grep -Eq "^ +e2e +[-a-z]{6} +[0-9]+ +[0-9]+\.[0-9] +131072 +[0-9.]+ +131072 +[0-9.]+ +2 +0 +0 +0 +1 +0 +[1-9][0-9]* +[0-9]+ +[1-9][0-9]* +[0-9]+$" $PVKIT_STATE_DIR/top.txt'
check "top: a bad delay is named" '"$P" top -d 0 2>&1 | grep -q "a delay of"'
check "vcpu-list of a paused domain shows p" '"$P" pause e2e && "$P" vcpu-list e2e | grep -Eq "^e2e .* [-r][-b]p " ; r=$?; "$P" unpause e2e; [ $r = 0 ]'
check "uptime: xl's columns, Domain-0 and the domain" '"$P" uptime > $PVKIT_STATE_DIR/up.txt && head -1 $PVKIT_STATE_DIR/up.txt | grep -Eq "^Name +ID Uptime$" && grep -Eq "^Domain-0 +0 +[0-9 ]?[0-9]:[0-9]{2}:[0-9]{2}$" $PVKIT_STATE_DIR/up.txt && grep -Eq "^e2e +$("$P" domid e2e) +[0-9 ]?[0-9]:[0-9]{2}:[0-9]{2}$" $PVKIT_STATE_DIR/up.txt'
check "uptime -s DOM, and an unknown domain named" '"$P" uptime -s e2e | grep -Eq "^[ 0-9]?[0-9]:[0-9]{2}:[0-9]{2} up [ 0-9]?[0-9]:[0-9]{2}:[0-9]{2}, e2e \([0-9]+\)$" && "$P" uptime nosuch 2>&1 | grep -q "nosuch"'
check "the domain has its /vm/<uuid> (libxl's uuid, name, start_time)" 'vm=$(xs_read /local/domain/$("$P" domid e2e)/vm) && echo "$vm" | grep -Eq "^/vm/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$" && [ "$(xs_read $vm/name)" = e2e ] && xs_read $vm/start_time | grep -Eq "^[0-9]+\.[0-9]{2}$"'
check "duplicate name refused" '! "$P" create "$cfg" 2>/dev/null'
check "pause" '"$P" pause e2e && "$P" list | grep "^e2e " | grep -q "p"'
check "unpause" '"$P" unpause e2e && "$P" list | grep "^e2e " | grep -q "r"'
check "info: xl's fields, the host's facts" '"$P" info > $PVKIT_STATE_DIR/info.txt && grep -Eq "^host +: $(uname -n)$" $PVKIT_STATE_DIR/info.txt && grep -Eq "^nr_cpus +: $(nproc)$" $PVKIT_STATE_DIR/info.txt && grep -Eq "^total_memory +: [1-9][0-9]*$" $PVKIT_STATE_DIR/info.txt && grep -Eq "^free_memory +: [0-9]+$" $PVKIT_STATE_DIR/info.txt && grep -Eq "^xen_version +: [0-9]+\.[0-9]+-pvkit$" $PVKIT_STATE_DIR/info.txt && grep -Eq "^xen_commandline +: .*pvkit-hvd --socket" $PVKIT_STATE_DIR/info.txt && grep -Eq "^xen_pagesize +: 4096$" $PVKIT_STATE_DIR/info.txt'
check "pauses are counted (xl's): two need two unpauses; unpausing a running domain refused" '"$P" pause e2e && "$P" pause e2e && "$P" unpause e2e && "$P" list | grep -Eq "^e2e .* --p--- " && "$P" unpause e2e && "$P" list | grep -Eq "^e2e .* r" && "$P" unpause e2e 2>&1 | grep -q "not paused"'
id1=$("$P" list | awk '$1=="e2e"{print $2}')
for i in $(seq 50); do [ -n "$(grep 'control driver ready' $PVKIT_STATE_DIR/guest-e2e.log 2>/dev/null)" ] && break; sleep 0.1; done
check "blkback running" '"$P" host status | grep -q "pvkit-blkback: *running"'
for i in $(seq 50); do grep -q 'vbd 51712: sector 0' $PVKIT_STATE_DIR/guest-e2e.log 2>/dev/null && break; sleep 0.1; done
check "guest reads its disk through blkfront/blkback" 'grep -q "vbd 51712: sector 0 starts 45 32 45 44" $PVKIT_STATE_DIR/guest-e2e.log'
# Hot-plug: block-attach/-list/-detach, a file and (with nbdkit) an NBD export.
disk2=$PVKIT_STATE_DIR/disk2.img
truncate -s 8M "$disk2"
printf 'HOTPLUG' | dd of="$disk2" conv=notrunc status=none
check "block-attach" '"$P" block-attach e2e "format=raw, vdev=xvdb, access=rw, target=$disk2"'
for i in $(seq 100); do grep -q 'vbd 51728: sector 0' $PVKIT_STATE_DIR/guest-e2e.log 2>/dev/null && break; sleep 0.1; done
check "guest connects the hot-plugged disk" 'grep -q "vbd 51728: sector 0 starts 48 4f 54 50" $PVKIT_STATE_DIR/guest-e2e.log'
check "block-list: xl's header and both disks connected" '"$P" block-list e2e > $PVKIT_STATE_DIR/bl.txt && head -1 $PVKIT_STATE_DIR/bl.txt | grep -q "^Vdev  BE  handle state evt-ch ring-ref BE-path" && grep -Eq "^51712 +0 +$id1 +4 " $PVKIT_STATE_DIR/bl.txt && grep -Eq "^51728 +0 +$id1 +4 .*/backend/vbd/$id1/51728" $PVKIT_STATE_DIR/bl.txt'
check "block-attach to a vdev in use refused" '"$P" block-attach e2e "vdev=xvdb, target=$disk2" 2>&1 | grep -q "already has a disk xvdb"'
check "block-attach of a missing target refused" '! "$P" block-attach e2e "vdev=xvdc, target=/nonexistent.img" 2>/dev/null'
nbdpid=""
if command -v nbdkit >/dev/null; then
  disk3=$PVKIT_STATE_DIR/disk3.img
  truncate -s 8M "$disk3"
  printf 'NBDDISK' | dd of="$disk3" conv=notrunc status=none
  nbdkit --unix "$PVKIT_STATE_DIR/nbd.sock" --pidfile "$PVKIT_STATE_DIR/nbdkit.pid" file "$disk3"
  check "block-attach of an NBD export (nbd+unix URI)" '"$P" block-attach e2e "vdev=xvdc, target=nbd+unix:///?socket=$PVKIT_STATE_DIR/nbd.sock"'
  for i in $(seq 100); do grep -q 'vbd 51744: sector 0' $PVKIT_STATE_DIR/guest-e2e.log 2>/dev/null && break; sleep 0.1; done
  check "guest reads the NBD disk" 'grep -q "vbd 51744: sector 0 starts 4e 42 44 44" $PVKIT_STATE_DIR/guest-e2e.log'
  check "block-detach of the NBD disk" '"$P" block-detach e2e xvdc && ! "$P" block-list e2e | grep -q "^51744 "'
  nbdpid=$(cat "$PVKIT_STATE_DIR/nbdkit.pid" 2>/dev/null)
fi
check "block-detach" '"$P" block-detach e2e xvdb'
for i in $(seq 50); do grep -q 'vbd 51728: removed' $PVKIT_STATE_DIR/guest-e2e.log 2>/dev/null && break; sleep 0.1; done
check "guest closes the detached disk" 'grep -q "vbd 51728: removed" $PVKIT_STATE_DIR/guest-e2e.log'
check "block-list no longer shows it, the boot disk stays" '"$P" block-list e2e > $PVKIT_STATE_DIR/bl.txt && ! grep -q "^51728 " $PVKIT_STATE_DIR/bl.txt && grep -Eq "^51712 +0 +$id1 +4 " $PVKIT_STATE_DIR/bl.txt'
check "block-detach of a missing disk refused" '! "$P" block-detach e2e xvdb 2>/dev/null'
[ -n "$nbdpid" ] && kill "$nbdpid" 2>/dev/null
# Network interfaces: pvkit-netback makes a TAP per vif (vif<domid>.<devid>
# or vifname) on the bridge it names (xenbr0, which host start creates);
# the default kernel connects each vif as eth<devid> in the network
# namespace pvkit-<name>.  Traffic is one IPv6 link-local datagram from the
# guest to the host over xenbr0: nothing of the host's addressing changes.
if [ ! -c /dev/net/tun ]; then
  echo "skip - network interfaces: /dev/net/tun is missing (no TAP interfaces here)"
else
  xsr() { XENSTORED_PATH=$PVKIT_STATE_DIR/xenstored.sock xenstore-read "$1" 2>/dev/null; }
  # wait up to 5 s for a condition
  waitfor() { local i; for i in $(seq 50); do eval "$1" && return 0; sleep 0.1; done; return 1; }
  on_bridge() { [ "$(basename "$(readlink /sys/class/net/$1/master)")" = xenbr0 ] && [ -e /sys/class/net/xenbr0/brif/$1 ]; }
  mtu_is() { [ "$(cat /sys/class/net/$1/mtu 2>/dev/null)" = "$2" ]; }
  # the MTU of interface $2 in network namespace $1
  ns_mtu() { nsenter --net=/run/netns/$1 python3 -c 'import fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(struct.unpack("16si", fcntl.ioctl(s, 0x8921, struct.pack("16si", sys.argv[1].encode(), 0)))[1])' "$2" 2>/dev/null; }
  # A UDP datagram sent from eth0 in network namespace $1 to xenbr0's
  # link-local address arrives from the link-local address of MAC $2.
  udp_from_guest() {
    python3 - "/run/netns/$1" "$2" <<'PY'
import socket, subprocess, sys, time
ns, mac = sys.argv[1], sys.argv[2]
b = [int(x, 16) for x in mac.split(":")]
want = socket.inet_pton(socket.AF_INET6, "fe80::%02x%02x:%02xff:fe%02x:%02x%02x" % (b[0] ^ 2, b[1], b[2], b[3], b[4], b[5]))
def lladdr(ifname):
    for line in open("/proc/net/if_inet6"):
        f = line.split()
        if f[5] == ifname and f[0].startswith("fe80"):
            return ":".join(f[0][i:i + 4] for i in range(0, 32, 4))
br = None
for i in range(50):
    br = lladdr("xenbr0")
    if br:
        break
    time.sleep(0.1)
if not br:
    print("no IPv6 link-local address on xenbr0")
    sys.exit(1)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((br, 0, 0, socket.if_nametoindex("xenbr0")))
s.settimeout(0.5)
send = ("import socket, sys\n"
        "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
        "s.sendto(b'pvkit-vif', (sys.argv[1], int(sys.argv[2]), 0, socket.if_nametoindex('eth0')))\n")
for i in range(20):  # the guest's address may still be tentative (DAD)
    subprocess.run(["nsenter", "--net=" + ns, "python3", "-c", send, br, str(s.getsockname()[1])], stderr=subprocess.DEVNULL)
    try:
        data, addr = s.recvfrom(64)
    except socket.timeout:
        continue
    if data == b"pvkit-vif" and socket.inet_pton(socket.AF_INET6, addr[0].split("%")[0]) == want:
        sys.exit(0)
    print("unexpected datagram %r from %s" % (data, addr[0]))
sys.exit(1)
PY
  }
  # backend/vif/$1/$2 InitWait or later
  be_taken() { local st; st=$(xsr /local/domain/0/backend/vif/$1/$2/state); [ -n "$st" ] && [ "$st" -ge 2 ]; }
  # domain $1 has an id other than $2 (into n1b)
  new_id() { n1b=$("$P" domid "$1" 2>/dev/null); [ -n "$n1b" ] && [ "$n1b" != "$2" ]; }
  check "host status shows netback" '"$P" host status | grep -q "pvkit-netback: *running"'
  check "host start made the bridge xenbr0" '[ -d /sys/class/net/xenbr0/bridge ]'
  printf "name = \"net1\"\nmemory = 16\nvif = [ 'bridge=xenbr0' ]\n" > "$PVKIT_STATE_DIR/net1.cfg"
  printf "name = \"net2\"\nmemory = 16\nvif = [ 'mac=00:16:3e:5a:00:01,vifname=web0,mtu=9000' ]\n" > "$PVKIT_STATE_DIR/net2.cfg"
  check "create with vif=['bridge=xenbr0']" '"$P" create "$PVKIT_STATE_DIR/net1.cfg" >/dev/null'
  n1=$("$P" domid net1 2>/dev/null)
  check "network-list: xl's header and the vif (devid 0, a 00:16:3e MAC)" '"$P" network-list net1 > $PVKIT_STATE_DIR/nl.txt && head -1 $PVKIT_STATE_DIR/nl.txt | grep -q "^Idx BE Mac Addr\.  *handle state evt-ch   tx-/rx-ring-ref BE-path" && grep -Eq "^0 +0 +00:16:3e:[0-9a-f:]{8} +0 +[1-4] +-?[0-9]+ +-?[0-9]+/-?[0-9]+ +/local/domain/0/backend/vif/$n1/0$" $PVKIT_STATE_DIR/nl.txt'
  check "the guest connects it: state 4, its event channel and rings listed" 'waitfor "\"\$P\" network-list net1 | grep -Eq \"^0 +0 +[0-9a-f:]{17} +0 +4 +[0-9]+ +[0-9]+/[0-9]+ +/\""'
  check "the backend takes it (InitWait or later)" 'waitfor "be_taken $n1 0"'
  check "the backend's nodes: bridge, handle, type; the frontend's mtu and trusted" '[ "$(xsr /local/domain/0/backend/vif/$n1/0/bridge)" = xenbr0 ] && [ "$(xsr /local/domain/0/backend/vif/$n1/0/type)" = vif ] && [ "$(xsr /local/domain/0/backend/vif/$n1/0/handle)" = 0 ] && [ "$(xsr /local/domain/$n1/device/vif/0/mtu)" = 1500 ] && [ "$(xsr /local/domain/$n1/device/vif/0/trusted)" = 1 ]'
  check "TAP vif$n1.0 exists, MTU 1500, a port of xenbr0" 'waitfor "on_bridge vif$n1.0" && mtu_is vif$n1.0 1500'
  mac1=$(awk '$1=="0"{print $3}' $PVKIT_STATE_DIR/nl.txt)
  if ! command -v nsenter >/dev/null || [ "$(cat /proc/sys/net/ipv6/conf/xenbr0/disable_ipv6 2>/dev/null)" != 0 ]; then
    echo "skip - guest traffic and MTU: no nsenter or no IPv6 on xenbr0"
    nonet=1
  else
    nonet=""
    check "a datagram from the guest's eth0 (namespace pvkit-net1) reaches the host on xenbr0" 'udp_from_guest pvkit-net1 "$(awk '"'"'$1=="0"{print $3}'"'"' $PVKIT_STATE_DIR/nl.txt)"'
  fi
  check "create with mac=, vifname=web0, mtu=9000" '"$P" create "$PVKIT_STATE_DIR/net2.cfg" >/dev/null'
  check "TAP web0 exists, MTU 9000, a port of xenbr0" 'waitfor "on_bridge web0" && mtu_is web0 9000'
  [ -z "$nonet" ] && check "the guest's eth0 has the MTU 9000 the toolstack gave its frontend" 'waitfor "[ \"\$(ns_mtu pvkit-net2 eth0)\" = 9000 ]"'
  check "network-list shows the given MAC" '"$P" network-list net2 | grep -Eq "^0 +0 +00:16:3e:5a:00:01 "'
  check "network-list of two domains: one header, both vifs" '[ $("$P" network-list net1 net2 | grep -c "^Idx") = 1 ] && [ $("$P" network-list net1 net2 | grep -c "^0 ") = 2 ]'
  check "network-attach: the lowest free devid (1), joined to xenbr0" '"$P" network-attach net1 "mac=00:16:3e:5a:00:02" && "$P" network-list net1 | grep -Eq "^1 +0 +00:16:3e:5a:00:02 " && waitfor "on_bridge vif$n1.1"'
  check "network-attach of a MAC in use refused" '"$P" network-attach net1 mac=00:16:3e:5a:00:02 2>&1 | grep -q "has the MAC 00:16:3e:5a:00:02 on its network interface 1 already"'
  check "network-attach of a vifname in use refused" '! "$P" network-attach net1 vifname=web0 2>/dev/null'
  check "network-attach onto a missing bridge refused" '"$P" network-attach net1 bridge=nosuchbr9 2>&1 | grep -q "bridge: nosuchbr9 does not exist" && ! "$P" network-list net1 | grep -q "^2 "'
  # Another host on this machine with a domain of the same id: its TAP
  # vif<id>.<devid> is not taken over (pvkit-netback would attach to it).
  python3 -c 'import fcntl, os, struct, sys, time
f = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(f, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x1002))
time.sleep(30)' "vif$n1.3" & tappid=$!
  check "network-attach refuses a devid whose interface name exists" 'waitfor "[ -e /sys/class/net/vif$n1.3 ]" && "$P" network-attach net1 devid=3 2>&1 | grep -q "the interface vif$n1.3 exists already" && ! "$P" network-list net1 | grep -q "^3 "'
  kill $tappid 2>/dev/null; wait $tappid 2>/dev/null
  check "network-detach by devid: the TAP goes" '"$P" network-detach net1 1 && ! "$P" network-list net1 | grep -q "^1 " && waitfor "[ ! -e /sys/class/net/vif$n1.1 ]"'
  check "network-attach (several arguments) takes devid 1 again" '"$P" network-attach net1 mtu=1400 bridge=xenbr0 && "$P" network-list net1 | grep -q "^1 " && waitfor "mtu_is vif$n1.1 1400"'
  mac2=$("$P" network-list net1 | awk '$1=="1"{print $3}')
  check "network-detach by MAC: the TAP goes" '[ -n "$mac2" ] && "$P" network-detach net1 "$mac2" && ! "$P" network-list net1 | grep -q "^1 " && waitfor "[ ! -e /sys/class/net/vif$n1.1 ]"'
  check "network-detach of a missing vif refused" '! "$P" network-detach net1 1 2>/dev/null && "$P" network-detach net1 00:16:3e:5a:00:99 2>&1 | grep -q "has no network interface"'
  check "reboot: a new domain, the same MAC, its TAP" '"$P" reboot net1 >/dev/null && waitfor "new_id net1 $n1" && "$P" network-list net1 | grep -Eq "^0 +0 +$mac1 " && waitfor "on_bridge vif$n1b.0" && waitfor "[ ! -e /sys/class/net/vif$n1.0 ]"'
  n1=$("$P" domid net1 2>/dev/null)
  check "destroy removes the vif directories and the TAPs" '"$P" destroy net1 && "$P" destroy net2 && ! xsr /local/domain/0/backend/vif/$n1/0/state >/dev/null && [ -z "$(XENSTORED_PATH=$PVKIT_STATE_DIR/xenstored.sock xenstore-ls /local/domain/0/backend/vif 2>/dev/null)" ] && waitfor "[ ! -e /sys/class/net/vif$n1.0 ] && [ ! -e /sys/class/net/web0 ]"'
  check "destroy removes the domains' network namespaces" '[ ! -e /run/netns/pvkit-net1 ] && [ ! -e /run/netns/pvkit-net2 ]'
  badcfg() { printf 'name = "%s"\nmemory = 16\n%s\n' "$1" "$2" > "$PVKIT_STATE_DIR/$1.cfg"; }
  badcfg nb1 "vif = [ 'backend=dom1' ]"
  check "a vif on a driver domain refused, naming file, line and key" '"$P" create "$PVKIT_STATE_DIR/nb1.cfg" 2>&1 | grep -q "nb1.cfg:3: vif: backend: .dom1.: driver domains are not supported"'
  badcfg nb2 "vif = [ 'bridge=nosuchbr9' ]"
  check "a vif on a missing bridge refused" '"$P" create "$PVKIT_STATE_DIR/nb2.cfg" 2>&1 | grep -q "nb2.cfg:3: vif: bridge: nosuchbr9 does not exist"'
  badcfg nb3 "vif = [ 'mtu=9000', 'devid=0' ]"
  check "a devid twice refused" '"$P" create "$PVKIT_STATE_DIR/nb3.cfg" 2>&1 | grep -q "nb3.cfg:3: vif: devid 0 used twice"'
  badcfg nb4 "vif = [ 'rate=10Mb' ]"
  check "a bad rate refused" '"$P" create "$PVKIT_STATE_DIR/nb4.cfg" 2>&1 | grep -q "nb4.cfg:3: vif: bad rate .10Mb."'
  badcfg nb5 "vif = [ 'model=e1000' ]"
  check "model= warned about, the domain created" '"$P" create "$PVKIT_STATE_DIR/nb5.cfg" 2>&1 | grep -q "warning: .*nb5.cfg:3: vif: model: ignored" && "$P" destroy nb5'
  badcfg nb6 "vif = [ 'script=/bin/false' ]"
  check "a vif the backend refuses (its script fails): create fails with the reason, nothing left" '"$P" create "$PVKIT_STATE_DIR/nb6.cfg" 2>&1 | grep -q "create: network interface 0 of domain [0-9]*: script /bin/false online: exit status 1" && [ -z "$(XENSTORED_PATH=$PVKIT_STATE_DIR/xenstored.sock xenstore-ls /local/domain/0/backend/vif 2>/dev/null)" ]'
  check "none of the refused ones was created" '! "$P" list | grep -Eq "^nb[0-9] "'
fi
check "host status shows consoled" '"$P" host status | grep -q "pvkit-consoled: *running"'
for i in $(seq 50); do grep -q 'control driver ready' $PVKIT_STATE_DIR/console-e2e.log 2>/dev/null && break; sleep 0.1; done
check "boot banner in console-e2e.log" 'grep -q "^Booting pvkit-guest on d$id1" $PVKIT_STATE_DIR/console-e2e.log'
check "log lines reach the console" 'grep -q "control driver ready" $PVKIT_STATE_DIR/console-e2e.log'
check "console: ping -> pong" 'printf "ping\n" | timeout 5 "$P" console e2e | grep -qx pong'
check "console: other input echoed" 'printf "hello\n" | timeout 5 "$P" console e2e | grep -qx "echo: hello"'
check "console: dw/dr write and check a disk block (the chaos test's load); a bad number named" 'printf "dw 5\ndr 5\ndr 6\ndw 5x\n" | timeout 10 "$P" console e2e > $PVKIT_STATE_DIR/dwdr.txt; grep -qx "dw 5 ok" $PVKIT_STATE_DIR/dwdr.txt && grep -qx "dr 5 ok" $PVKIT_STATE_DIR/dwdr.txt && grep -qx "dr 6 bad" $PVKIT_STATE_DIR/dwdr.txt && grep -qx "dw ? error: expected a block number" $PVKIT_STATE_DIR/dwdr.txt'
check "console: unknown domain refused" '! "$P" console nosuch 2>/dev/null'
check "console: Domain-0 refused with a reason, not the daemon's protocol" '"$P" console Domain-0 2>&1 </dev/null | grep -q "Domain-0 has no PV console" && ! "$P" console 0 </dev/null 2>&1 | grep -q "expected: attach"'
check "reboot restarts with a new id" '"$P" reboot e2e && for i in $(seq 100); do id2=$("$P" list | awk "\$1==\"e2e\"{print \$2}"); [ -n "$id2" ] && [ "$id2" != "$id1" ] && break; sleep 0.1; done; [ -n "$id2" ] && [ "$id2" != "$id1" ]'
for i in $(seq 50); do [ "$(grep -c 'control driver ready' $PVKIT_STATE_DIR/guest-e2e.log)" -ge 2 ] && break; sleep 0.1; done
check "shutdown -w" '"$P" shutdown -w e2e >/dev/null && ! "$P" list | grep -q "^e2e "'
# The monitor must not keep the caller's stdout: $(...) returns at once.
# (timeout ends the pipeline's process group; the monitor has its own)
check "create again, output piped (the monitor lets go of stdout)" 'out=$(timeout 20 sh -c "\"$P\" create \"$cfg\" | cat") && echo "$out" | grep -q "Domain [0-9]* (e2e) created"'
check "destroy (and its /vm/<uuid> and list -l's config go)" 'did=$("$P" domid e2e) && vm=$(xs_read /local/domain/$did/vm) && [ -e $PVKIT_STATE_DIR/domain-$did.json ] && "$P" destroy e2e && sleep 0.2 && ! "$P" list | grep -q "^e2e " && ! xs_read $vm/name >/dev/null && [ ! -e $PVKIT_STATE_DIR/domain-$did.json ]'
check "the monitor logged the domain's end in monitor-e2e.log" 'for i in $(seq 50); do grep -q "action" $PVKIT_STATE_DIR/monitor-e2e.log 2>/dev/null && break; sleep 0.1; done; grep -q "action" $PVKIT_STATE_DIR/monitor-e2e.log'
check "kill -9 of a guest is a crash (on_crash=destroy)" '"$P" create "$cfg" >/dev/null && kill_guests; for i in $(seq 100); do "$P" list | grep -q "^e2e " || break; sleep 0.1; done; ! "$P" list | grep -q "^e2e "'
printf 'name = "bad"\nmemory = lots\n' > "$PVKIT_STATE_DIR/bad.cfg"
printf 'name = "bad2"\ndisk = [ "vdev=xvda, target=/nonexistent/disk.img" ]\n' > "$PVKIT_STATE_DIR/bad2.cfg"
check "missing disk target refused" '"$P" create "$PVKIT_STATE_DIR/bad2.cfg" 2>&1 | grep -q "bad2.cfg:2: disk: target"'
printf 'name = "bad3"\ndisk = [ "format=qcow2, vdev=xvda, target=%s" ]\n' "$disk" > "$PVKIT_STATE_DIR/bad3.cfg"
check "non-raw disk format refused" '"$P" create "$PVKIT_STATE_DIR/bad3.cfg" 2>&1 | grep -q "qcow2"'
check "bad config names file, line and key" '"$P" create "$PVKIT_STATE_DIR/bad.cfg" 2>&1 | grep -q "bad.cfg:2: memory"'
check "unknown domain" '! "$P" destroy nosuch 2>/dev/null'
uu=6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f
printf 'name = "uu1"\nmemory = 32\nuuid = "%s"\n' "$uu" > "$PVKIT_STATE_DIR/uu1.cfg"
printf 'name = "uu2"\nmemory = 32\nuuid = "%s"\n' "$(echo $uu | tr a-f A-F)" > "$PVKIT_STATE_DIR/uu2.cfg"
check "uuid= from the config is the domain's /vm/<uuid>" '"$P" create "$PVKIT_STATE_DIR/uu1.cfg" >/dev/null && [ "$(xs_read /local/domain/$("$P" domid uu1)/vm)" = "/vm/$uu" ] && [ "$(xs_read /vm/$uu/name)" = uu1 ]'
check "a uuid a live domain has is refused, naming it" '! "$P" create "$PVKIT_STATE_DIR/uu2.cfg" 2>$PVKIT_STATE_DIR/err.txt && grep -q "uu2.cfg: uuid: $uu is domain $("$P" domid uu1)" $PVKIT_STATE_DIR/err.txt && ! "$P" list | grep -q "^uu2 "'
check "destroy frees the uuid" '"$P" destroy uu1 && ! xs_read /vm/$uu/name >/dev/null && "$P" create "$PVKIT_STATE_DIR/uu2.cfg" >/dev/null && "$P" destroy uu2'
printf 'name = "ov"\nmemory = 32\n' > "$PVKIT_STATE_DIR/ov.cfg"
check "create -p leaves it paused; KEY=VALUE settings replace the file's (xl's syntax)" '"$P" create -p "$PVKIT_STATE_DIR/ov.cfg" name=\"ov1\" memory=48 >/dev/null && "$P" list | grep -Eq "^ov1 +[0-9]+ +48 +1 +--p---" && "$P" unpause ov1 && "$P" list | grep -Eq "^ov1 +[0-9]+ +48 +1 +r"'
check "a bad KEY=VALUE or option is refused, naming it" '! "$P" create "$PVKIT_STATE_DIR/ov.cfg" name=\"ov2\" memory=lots 2>$PVKIT_STATE_DIR/err.txt && grep -q "command line:1: memory" $PVKIT_STATE_DIR/err.txt && "$P" create -z "$PVKIT_STATE_DIR/ov.cfg" 2>&1 | grep -q "unknown option .-z." && ! "$P" list | grep -q "^ov2 "'
check "create -c attaches the console" 'printf "ping\n" | timeout 10 "$P" create -c -q "$PVKIT_STATE_DIR/ov.cfg" name=\"ov3\" | grep -qx pong'
check "shutdown -a -w powers every domain off, and waits" '"$P" list | grep -q "^ov1 " && "$P" list | grep -q "^ov3 " && "$P" shutdown -a -w > $PVKIT_STATE_DIR/sd.txt && grep -q "^Waiting for 2 domains" $PVKIT_STATE_DIR/sd.txt && [ $(grep -c "^Domain [0-9]* shut down" $PVKIT_STATE_DIR/sd.txt) = 2 ] && sleep 0.3 && [ $("$P" list | wc -l) = 2 ]'
check "shutdown: DOM and -a together refused" '"$P" shutdown -a e2e 2>/dev/null; [ $? = 2 ]'
"$P" destroy ov1 >/dev/null 2>&1; "$P" destroy ov3 >/dev/null 2>&1
# What pvkit cannot build is refused before anything is created, naming
# file, line and key (before: "Domain N created", rc 0, then a crash).
badcfg() { printf 'name = "%s"\nmemory = 16\n%s\n' "$1" "$2" > "$PVKIT_STATE_DIR/$1.cfg"; }
badcfg bk1 'kernel = "/nonexistent"'
check "missing kernel refused" '! "$P" create "$PVKIT_STATE_DIR/bk1.cfg" 2>$PVKIT_STATE_DIR/err.txt && grep -q "bk1.cfg:3: kernel: /nonexistent: No such file" $PVKIT_STATE_DIR/err.txt'
head -c 1024 /dev/zero > "$PVKIT_STATE_DIR/bzImage"; printf 'HdrS' | dd of="$PVKIT_STATE_DIR/bzImage" bs=1 seek=514 conv=notrunc status=none; chmod +x "$PVKIT_STATE_DIR/bzImage"
badcfg bk2 "kernel = \"$PVKIT_STATE_DIR/bzImage\""
check "a Linux kernel image refused" '"$P" create "$PVKIT_STATE_DIR/bk2.cfg" 2>&1 | grep -q "bk2.cfg:3: kernel: .* is a Linux kernel image"'
badcfg bk3 'type = "hvm"'
check "type=hvm refused" '"$P" create "$PVKIT_STATE_DIR/bk3.cfg" 2>&1 | grep -q "bk3.cfg:3: type: hvm is not supported"'
badcfg bk4 'vcpus = 64'
check "vcpus over pvkit-hvd's limit refused by the toolstack" '"$P" create "$PVKIT_STATE_DIR/bk4.cfg" 2>&1 | grep -q "bk4.cfg:3: vcpus: 64 is more than pvkit-hvd builds (32)"'
printf 'name = "bk5"\nmemory = 16\ndisk = [ "vdev=xvda, target=%s", "vdev=xvdb, target=%s" ]\n' "$disk" "$disk" > "$PVKIT_STATE_DIR/bk5.cfg"
check "one image twice in a config, writable, refused" '"$P" create "$PVKIT_STATE_DIR/bk5.cfg" 2>&1 | grep -q "bk5.cfg:3: disk: .* is xvda.s target too"'
check "none of them was created" '! "$P" list | grep -Eq "^bk[0-9] "'
# shutdown -w of an on_poweroff="preserve" domain returns once it is shut
# down (before: "did not shut down in 30 s", rc 1).
printf 'name = "kept"\nmemory = 16\non_poweroff = "preserve"\n' > "$PVKIT_STATE_DIR/kept.cfg"
check "shutdown -w of a preserved domain" '"$P" create "$PVKIT_STATE_DIR/kept.cfg" >/dev/null && sleep 0.5 && timeout 10 "$P" shutdown -w kept | grep -q "shut down" && "$P" list | grep "^kept " | grep -q -- "---s--" && "$P" destroy kept'
# A kernel that fails at once with on_crash="restart" is restarted ever
# more slowly and given up after 5 quick runs (before: ~65 domains a second
# without end).
printf 'name = "crashy"\nmemory = 16\nkernel = "/bin/false"\non_crash = "restart"\n' > "$PVKIT_STATE_DIR/crashy.cfg"
check "a crash-restart loop is slowed and given up" '"$P" create "$PVKIT_STATE_DIR/crashy.cfg" >/dev/null; for i in $(seq 200); do grep -q "not restarting it" $PVKIT_STATE_DIR/monitor-crashy.log 2>/dev/null && break; sleep 0.1; done; grep -q "5 times in a row; not restarting it" $PVKIT_STATE_DIR/monitor-crashy.log && [ $(grep -c "crash: action restart" $PVKIT_STATE_DIR/monitor-crashy.log) = 5 ] && ! "$P" list | grep -q "^crashy "'
if [ -n "${CONS_POKE:-}" ]; then
  printf 'name = "hostile"\nmemory = 16\n' > "$PVKIT_STATE_DIR/h.cfg"
  "$P" create "$PVKIT_STATE_DIR/h.cfg" >/dev/null
  hid=$("$P" list | awk '$1=="hostile"{print $2}')
  for i in $(seq 50); do grep -q 'control driver ready' $PVKIT_STATE_DIR/console-hostile.log 2>/dev/null && break; sleep 0.1; done
  export PVKIT_HV_SOCK=$PVKIT_STATE_DIR/hv.sock XENSTORED_PATH=$PVKIT_STATE_DIR/xenstored.sock
  check "console: hostile guest's bogus out_prod detaches its console" '"$CONS_POKE" "$hid" out_prod 3000000000 && for i in $(seq 50); do grep -q "d$hid (hostile): console detached: bogus output ring index" $PVKIT_STATE_DIR/consoled.log && break; sleep 0.1; done; grep -q "d$hid (hostile): console detached" $PVKIT_STATE_DIR/consoled.log'
  check "console: attaching to it names the reason" '"$P" console hostile 2>&1 </dev/null | grep -q "bogus output ring index"'
  check "console: the daemon survives, other consoles work" '"$P" create "$cfg" >/dev/null && sleep 0.5 && printf "ping\n" | timeout 5 "$P" console e2e | grep -qx pong'
  "$P" destroy hostile; "$P" destroy e2e
fi
# Supervision: pvkit-blkback, -consoled and -netback SIGKILLed are started
# again by the host's supervisor and pick up the running domain (its disk
# reconnects, a disk attached afterwards is read, its console answers);
# host status counts the restarts.  pvkit-xenstored SIGKILLed is started
# again on its journal: the store is all there, the daemons' connections
# come back (a disk attached afterwards is served), the domain's console
# answers.  (Before: nothing restarted them, host status called the dead
# "running", and a restarted xenstored had an empty store.)
restarted() { # NAME OLDPID: a new live pid within 5 s
	local i n
	for i in $(seq 50); do
		n=$(cat $PVKIT_STATE_DIR/$1.pid 2>/dev/null)
		[ -n "$n" ] && [ "$n" != "$2" ] && kill -0 "$n" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
blkconnected() { "$P" block-list sup 2>/dev/null | awk 'NR>1 && $4 != 4 {bad=1} NR>1 {n++} END {exit bad || !n}'; }
sed -e 's/^name = .*/name = "sup"/' "$cfg" > "$PVKIT_STATE_DIR/sup.cfg"
check "supervised: a domain with a disk, connected" '"$P" create "$PVKIT_STATE_DIR/sup.cfg" >/dev/null && for i in $(seq 100); do blkconnected && break; sleep 0.1; done; blkconnected'
bb=$(cat $PVKIT_STATE_DIR/blkback.pid)
check "supervised: pvkit-blkback SIGKILLed is started again" 'kill -9 $bb && restarted blkback $bb'
check "supervised: the domain's disk reconnects to the new one" 'for i in $(seq 100); do blkconnected && break; sleep 0.1; done; blkconnected'
check "supervised: a disk attached afterwards is read through it" '"$P" block-attach sup "format=raw, vdev=xvdb, access=rw, target=$disk2" && for i in $(seq 100); do grep -q "vbd 51728: sector 0 starts 48 4f 54 50" $PVKIT_STATE_DIR/guest-sup.log && break; sleep 0.1; done; grep -q "vbd 51728: sector 0 starts 48 4f 54 50" $PVKIT_STATE_DIR/guest-sup.log'
cd0=$(cat $PVKIT_STATE_DIR/consoled.pid)
check "supervised: pvkit-consoled SIGKILLed is started again; the console answers" 'kill -9 $cd0 && restarted consoled $cd0 && for i in $(seq 30); do printf "ping\n" | timeout 2 "$P" console sup 2>/dev/null | grep -qx pong && break; sleep 0.2; done; printf "ping\n" | timeout 5 "$P" console sup | grep -qx pong'
if [ -c /dev/net/tun ]; then
	nb0=$(cat $PVKIT_STATE_DIR/netback.pid)
	check "supervised: pvkit-netback SIGKILLed is started again" 'kill -9 $nb0 && restarted netback $nb0'
fi
check "host status counts the restarts and names the cause" '"$P" host status > $PVKIT_STATE_DIR/st.txt && grep -q "^supervisor: *running" $PVKIT_STATE_DIR/st.txt && grep -Eq "^pvkit-blkback: *running \(pid [0-9]+; started again 1 time, last killed by signal 9" $PVKIT_STATE_DIR/st.txt && grep -Eq "^pvkit-consoled: *running \(pid [0-9]+; started again 1 time" $PVKIT_STATE_DIR/st.txt && grep -q "pvkit-blkback (pid $bb) killed by signal 9 (Killed); starting it again" $PVKIT_STATE_DIR/supervisor.log'
xd0=$(cat $PVKIT_STATE_DIR/xenstored.pid)
check "supervised: pvkit-xenstored SIGKILLed is started again" 'kill -9 $xd0 && restarted xenstored $xd0 && "$P" host status | grep -Eq "^pvkit-xenstored: *running \(pid [0-9]+; started again 1 time, last killed by signal 9"'
check "supervised: the restarted store has the domain's devices" '"$P" block-list sup | grep -q "^51728 "'
check "supervised: a disk attached after the store's restart is served" '"$P" block-detach sup xvdb && "$P" block-attach sup "format=raw, vdev=xvdc, access=rw, target=$disk2" && for i in $(seq 100); do grep -q "vbd 51744: sector 0 starts 48 4f 54 50" $PVKIT_STATE_DIR/guest-sup.log && break; sleep 0.1; done; grep -q "vbd 51744: sector 0 starts 48 4f 54 50" $PVKIT_STATE_DIR/guest-sup.log'
check "supervised: after the store's restart the console answers" 'printf "ping\n" | timeout 5 "$P" console sup | grep -qx pong'
check "host stop after it: nothing left" '"$P" host stop -f -w 5 >/dev/null; for i in $(seq 50); do [ -z "$(host_procs pvkit)" ] && break; sleep 0.1; done; [ -z "$(host_procs pvkit)" ]'
check "host start after it" '"$P" host start >/dev/null'
# One host per state directory: a second start, even one racing the first,
# refuses and names the daemon already there.
check "host stop -w with a bad value refused, host left running" 'out=$("$P" host stop -w soon 2>&1); rc=$?; [ $rc = 2 ] && echo "$out" | grep -q "seconds, 0-3600" && "$P" host status >/dev/null'
check "host start while running refused, naming the daemon" '"$P" host start 2>&1 | grep -q "host already running.*pvkit-hvd is pid"'
# host stop shuts the domains down first (xendomains' order), then the
# daemons: nothing of the host is left (before: guests and monitors ran on).
check "host stop powers a running guest off first" '"$P" create "$cfg" >/dev/null && "$P" host stop > $PVKIT_STATE_DIR/stop.txt && grep -q "asked 1 domain(s) to power off" $PVKIT_STATE_DIR/stop.txt && ! grep -q destroying $PVKIT_STATE_DIR/stop.txt'
check "nothing of the host left after host stop" 'sleep 0.3; [ -z "$(host_procs pvkit)" ]'
check "two host starts at once: one host" '("$P" host start >/dev/null 2>&1 &); "$P" host start >/dev/null 2>&1; sleep 1; [ $(host_procs pvkit-hvd | wc -l) = 1 ] && [ $(host_procs pvkit-xenstored | wc -l) = 1 ] && "$P" host status >/dev/null'
# A domain that does not go (paused: it cannot answer) keeps the host up
# unless -f, which destroys it.
check "host stop refuses while a domain stays; -f destroys it" '"$P" create "$cfg" >/dev/null && "$P" pause e2e && ! "$P" host stop -w 1 >/dev/null 2>&1 && "$P" host status >/dev/null && "$P" list | grep -q "^e2e " && "$P" host stop -f -w 1 | grep -q "destroying domain" && sleep 0.3 && [ -z "$(host_procs pvkit)" ]'
check "host start again" '"$P" host start >/dev/null'
# A domain does not outlive its hypervisor: pvkit-hvd SIGKILLed with a
# guest running takes the guest and its monitor with it, and the host's
# supervisor then stops the other daemons, like a host that rebooted; host
# status says why (before: guests and monitors stayed for good).
check "pvkit-hvd killed: the guest and its monitor end with it" '"$P" create "$cfg" >/dev/null && kill -9 $(cat $PVKIT_STATE_DIR/hvd.pid) && for i in $(seq 100); do [ -z "$(host_procs pvkit-guest)$(host_procs __monitor)" ] && break; sleep 0.1; done; [ -z "$(host_procs pvkit-guest)$(host_procs __monitor)" ]'
check "pvkit-hvd killed: the supervisor stops the host; host status says why" 'for i in $(seq 100); do [ -z "$(host_procs pvkit)" ] && break; sleep 0.1; done; [ -z "$(host_procs pvkit)" ] && ! "$P" host status > $PVKIT_STATE_DIR/st.txt; grep -q "^host down: pvkit-hvd (pid [0-9]*) killed by signal 9" $PVKIT_STATE_DIR/st.txt'
# Without a supervisor (killed first) the daemons whose peer is gone do not
# spin (before: pvkit-xenstored and pvkit-consoled at 100% CPU, their event
# inboxes at EOF for good).
check "host start again" '"$P" host start >/dev/null'
check "the supervisor SIGKILLed: the daemons run on, host status says so" 'kill -9 $(cat $PVKIT_STATE_DIR/supervisor.pid) && sleep 0.2 && ! "$P" host status > $PVKIT_STATE_DIR/st.txt; grep -q "^supervisor: *stopped" $PVKIT_STATE_DIR/st.txt && grep -q "^pvkit-hvd: *running" $PVKIT_STATE_DIR/st.txt'
check "pvkit-hvd killed too: the guest ends" '"$P" create "$cfg" >/dev/null && kill -9 $(cat $PVKIT_STATE_DIR/hvd.pid) && for i in $(seq 100); do [ -z "$(host_procs pvkit-guest)$(host_procs __monitor)" ] && break; sleep 0.1; done; [ -z "$(host_procs pvkit-guest)$(host_procs __monitor)" ]'
ticks() { awk '{print $14 + $15}' /proc/$(cat $PVKIT_STATE_DIR/$1.pid)/stat; }
check "xenstored and consoled idle with pvkit-hvd gone" 'x0=$(ticks xenstored); c0=$(ticks consoled); sleep 1; [ $(( $(ticks xenstored) - x0 )) -lt 30 ] && [ $(( $(ticks consoled) - c0 )) -lt 30 ]'
check "host stop" '"$P" host stop >/dev/null && ! "$P" host status >/dev/null'
check "no process of this host left" 'sleep 0.3; [ -z "$(host_procs pvkit)" ]'
[ -c /dev/net/tun ] && check "host stop leaves the bridge xenbr0 (as xendomains does)" '[ -d /sys/class/net/xenbr0/bridge ]'
exit $fail
