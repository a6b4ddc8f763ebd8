#!/usr/bin/env bash
# net_e2e.sh PVKIT - networking through the toolstack, end to end, in a
# private network and mount namespace (the host's network is not touched):
# two domains with a vif each on xenbr0, their interfaces eth0 in
# pvkit-<name>; ping between them and Dom0 both ways; an iperf3 TCP stream
# DomU -> Dom0 while pvkit-netback is SIGKILLed and started again by the
# host's supervisor (the crash test: the stream completes); destroy removes the TAPs and the
# namespaces; host stop leaves no process.  Skipped (77) without root,
# /dev/net/tun, iperf3 or ping.
set -u
P=$1
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v iperf3 >/dev/null ||
	! command -v ping >/dev/null; then
	echo "skip: needs root, /dev/net/tun, iperf3 and ping"
	exit 77
fi
if [ -z "${NET_E2E_INNER:-}" ]; then
	exec env NET_E2E_INNER=1 unshare --net --mount --propagation private "$0" "$@"
fi
mount -t sysfs none /sys
mkdir -p /run/netns && mount -t tmpfs none /run/netns
ip link set lo up
export PVKIT_STATE_DIR=$(mktemp -d /tmp/pvkit-nete2e-XXXXXX)
fails=0
check() {
	if eval "$2" >"$PVKIT_STATE_DIR/check.out" 2>&1; then
		echo "ok   - $1"
	else
		echo "FAIL - $1"
		sed 's/^/       /' "$PVKIT_STATE_DIR/check.out" | tail -20
		fails=$((fails + 1))
	fi
}
waitfor() { local i; for i in $(seq 100); do eval "$1" && return 0; sleep 0.1; done; return 1; }
cleanup() {
	"$P" host stop -f -w 5 >/dev/null 2>&1
	pkill -f "iperf3 -s.*10.77.0" 2>/dev/null
	rm -rf "$PVKIT_STATE_DIR"
}
trap cleanup EXIT
net=10.77.0
check "host start" '"$P" host start'
check "Dom0 on xenbr0" 'ip addr add $net.1/24 dev xenbr0'
for d in a:01 b:02; do
	printf 'name = "nete2e%s"\nmemory = 32\nvcpus = 2\nvif = [ "mac=00:16:3e:77:00:%s" ]\n' \
		"${d%%:*}" "${d##*:}" > "$PVKIT_STATE_DIR/${d%%:*}.cfg"
done
check "create two domains with a vif each" '"$P" create $PVKIT_STATE_DIR/a.cfg && "$P" create $PVKIT_STATE_DIR/b.cfg'
check "each has eth0 in its namespace, with its MAC" 'waitfor "ip netns exec pvkit-nete2ea ip link show eth0 | grep -q 00:16:3e:77:00:01" && waitfor "ip netns exec pvkit-nete2eb ip link show eth0 | grep -q 00:16:3e:77:00:02"'
check "list --json shows each domain's vif; info counts them" '"$P" list --json | python3 -c "
import json,sys
d={x[\"name\"]: x for x in json.load(sys.stdin)}
v=d[\"nete2ea\"][\"vifs\"][0]
assert v[\"mac\"] == \"00:16:3e:77:00:01\" and v[\"bridge\"] == \"xenbr0\" and v[\"interface\"].startswith(\"vif\"), v
assert len(d[\"nete2eb\"][\"vifs\"]) == 1" && "$P" info | grep -Eq "^nr_vifs +: 2$" && "$P" info | grep -Eq "^vif_bridges +: xenbr0$"'
check "both vifs connected (state 4)" '"$P" network-list nete2ea nete2eb | awk "NR>1 && \$5 != 4 {exit 1}"'
ip netns exec pvkit-nete2ea ip addr add $net.2/24 dev eth0
ip netns exec pvkit-nete2eb ip addr add $net.3/24 dev eth0
check "domain to domain" 'ip netns exec pvkit-nete2ea ping -c 3 -i 0.2 -W 5 $net.3'
check "domain to Dom0" 'ip netns exec pvkit-nete2eb ping -c 3 -i 0.2 -W 5 $net.1'
check "Dom0 to a domain" 'ping -c 3 -i 0.2 -W 5 $net.2'
check "8000-byte pings (IP fragments) between domains" 'ip netns exec pvkit-nete2ea ping -c 3 -i 0.2 -s 8000 -W 5 $net.3'
check "top counts each domain's vif and its traffic (the TAP's bytes)" '"$P" top -b -i 1 | awk "\$1 == \"nete2ea\" && \$10 == 1 && \$11 > 0 && \$12 > 0 {ok=1} END {exit !ok}"'
# The crash test: a TCP stream while netback is killed and started again.
iperf3 -s -1 -B $net.1 >/dev/null 2>&1 &
sleep 0.5
ip netns exec pvkit-nete2ea timeout 40 iperf3 -c $net.1 -t 8 -J > "$PVKIT_STATE_DIR/iperf.json" 2>&1 &
ipc=$!
sleep 3
nb=$(cat "$PVKIT_STATE_DIR/netback.pid")
check "pvkit-netback SIGKILLed mid-stream" 'kill -9 $nb'
# the host's supervisor starts it again
check "pvkit-netback started again by the supervisor" 'for i in $(seq 50); do n=$(cat "$PVKIT_STATE_DIR/netback.pid" 2>/dev/null); [ -n "$n" ] && [ "$n" != "$nb" ] && kill -0 "$n" 2>/dev/null && break; sleep 0.1; done; [ "$n" != "$nb" ] && kill -0 "$n"'
check "the TCP stream completes, carrying data after the restart" 'wait $ipc && python3 -c "
import json,sys
j=json.load(open(\"$PVKIT_STATE_DIR/iperf.json\"))
r=j[\"end\"][\"sum_received\"]
after=sum(i[\"sum\"][\"bytes\"] for i in j[\"intervals\"][5:])
print(\"received %.0f MB in %.1f s, %.0f MB after the restart\" % (r[\"bytes\"]/1e6, r[\"seconds\"], after/1e6))
sys.exit(0 if r[\"bytes\"] > 0 and after > 0 else 1)"'
if [ -n "$(jobs -p)" ] || ! "$P" network-list nete2ea | awk "NR>1 && \$5 != 4 {exit 1}"; then
	echo "--- netback.log, guest log and the guest's threads (no reconnection?)"
	tail -20 "$PVKIT_STATE_DIR/netback.log"; tail -20 "$PVKIT_STATE_DIR/guest-nete2ea.log"
	if command -v gdb >/dev/null; then
		for g in $(pgrep -f "pvkit-guest"); do
			grep -q "$PVKIT_STATE_DIR" /proc/$g/environ 2>/dev/null &&
				gdb -p "$g" -batch -ex "thread apply all bt 10" 2>/dev/null | grep -E "^#|^Thread"
		done
	fi
fi
check "the vif reconnected (state 4) and still carries pings" '"$P" network-list nete2ea | awk "NR>1 && \$5 != 4 {exit 1}" && ip netns exec pvkit-nete2ea ping -c 2 -i 0.2 -W 5 $net.1'
check "destroy removes the TAPs and the namespaces" '"$P" destroy nete2ea && "$P" destroy nete2eb && waitfor "! ip link show vif1.0 && ! ip link show vif2.0" && [ ! -e /run/netns/pvkit-nete2ea ] && [ ! -e /run/netns/pvkit-nete2eb ]'
check "host stop leaves no process of this host" '"$P" host stop -w 5 && ! pgrep -f "$PVKIT_STATE_DIR" >/dev/null'
echo "$fails failed"
[ "$fails" = 0 ]
