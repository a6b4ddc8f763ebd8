#!/usr/bin/env bash
# Fresh Debian 12 machine (as root): install dependencies, build, install
# pvkit on PATH, and run the demo: start the emulated host, boot a 2-vCPU
# guest from an xl.cfg file, list it, reboot it, shut it down; boot two
# domains with a vif each on the bridge xenbr0 and ping between them and
# Dom0 (each domain's interface is eth0 in its network namespace
# pvkit-<name>); stop the host.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build
meson install -C build --quiet
export PVKIT_STATE_DIR=${PVKIT_STATE_DIR:-/run/pvkit}
pvkit host stop -f -w 10 >/dev/null 2>&1 || true
rm -f /tmp/pvkit-demo-disk.img
truncate -s 64M /tmp/pvkit-demo-disk.img
printf 'pvkit demo disk' | dd of=/tmp/pvkit-demo-disk.img conv=notrunc status=none
set -x
pvkit host start
pvkit host status
pvkit create examples/demo.cfg
sleep 1
pvkit list
printf 'ping\n' | timeout 5 pvkit console demo || true
pvkit info
pvkit reboot demo
sleep 1
pvkit list
pvkit shutdown -w demo
pvkit list
set +x
echo "--- guest console ($PVKIT_STATE_DIR/console-demo.log):"
cat "$PVKIT_STATE_DIR/console-demo.log"
# Networking: two domains on xenbr0 (created by host start), Dom0 on it
# with an address of a private test subnet for the demo's length.
net=10.199.199
for d in web:01 db:02; do
	printf 'name = "%s"\nmemory = 32\nvif = [ "mac=00:16:3e:de:00:%s, bridge=xenbr0" ]\n' \
		"${d%%:*}" "${d##*:}" > "/tmp/pvkit-demo-${d%%:*}.cfg"
done
added_ip=
if ! ip -4 addr show dev xenbr0 | grep -q "$net.1/"; then
	ip addr add $net.1/24 dev xenbr0 && added_ip=yes
fi
set -x
pvkit create /tmp/pvkit-demo-web.cfg
pvkit create /tmp/pvkit-demo-db.cfg
for i in $(seq 50); do
	ip netns exec pvkit-web ip link show eth0 >/dev/null 2>&1 &&
		ip netns exec pvkit-db ip link show eth0 >/dev/null 2>&1 && break
	sleep 0.1
done
pvkit network-list web db
ip netns exec pvkit-web ip addr add $net.2/24 dev eth0
ip netns exec pvkit-db ip addr add $net.3/24 dev eth0
ip netns exec pvkit-web ping -c 3 -i 0.2 $net.3    # domain to domain
ip netns exec pvkit-db ping -c 3 -i 0.2 $net.1     # domain to Dom0
ping -c 3 -i 0.2 $net.2                            # Dom0 to a domain
pvkit destroy web
pvkit destroy db
set +x
[ -z "$added_ip" ] || ip addr del $net.1/24 dev xenbr0
pvkit host stop
