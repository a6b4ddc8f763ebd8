#!/usr/bin/env bash
# Fresh Debian 12 machine (as root): install dependencies, build, install
# pvkit on PATH, and run the demo: start the emulated host, boot a 2-vCPU
# guest from an xl.cfg file, list it, reboot it, shut it down, stop the host.
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
pvkit host stop
