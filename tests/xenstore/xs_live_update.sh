#!/bin/sh
# xs_live_update.sh - live update of pvkit-xenstored with clients attached:
# a long-lived Xen xenstore-watch and a raw socket client that leaves half a
# request, an open transaction and an unread reply across the restart.
# Restarts by SIGUSR2 and by Xen's xenstore-control live-update (BUSY while
# a transaction is open, -F forces it: the transaction then fails with
# EAGAIN).  Afterwards the nodes, permissions and watches are there, both
# clients carry on on the same connections, and test-xenstore passes.
# Usage: xs_live_update.sh PATH-TO-pvkit-xenstored.  77 (skip) without the
# Xen tools or python3.
set -u

daemon=${1:?usage: $0 pvkit-xenstored}
txs= xsc=
for f in /usr/lib/xen-*/bin/test-xenstore; do [ -x "$f" ] && txs=$f; done
for f in /usr/lib/xen-*/bin/xenstore-control; do [ -x "$f" ] && xsc=$f; done
for t in xenstore-read xenstore-write xenstore-ls xenstore-watch \
	xenstore-chmod python3; do
	command -v $t >/dev/null || { echo "$t missing: skip"; exit 77; }
done
[ -n "$txs" ] && [ -n "$xsc" ] || { echo "xen-utils missing: skip"; exit 77; }

dir=$(mktemp -d /tmp/pvkit-xslu.XXXXXX)
export XENSTORED_PATH="$dir/socket"
pid= wpid= ppid_=
fail=0
cleanup() {
	for p in $wpid $ppid_ $pid; do kill "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

. "$(dirname "$0")/xs_lib.sh"

"$daemon" --socket "$XENSTORED_PATH" --pid-file "$dir/pid" \
	>"$dir/log" 2>&1 &
pid=$!
wait_for "$dir/log" "listening on" 1 || { echo "FAIL start"; cat "$dir/log"; exit 1; }

xenstore-write /lu/a 1 /lu/b "two words" /lu/deep/x/y/z 3
xenstore-chmod /lu/a n5 r7
xenstore-watch /lu/w >"$dir/watch" 2>&1 &
wpid=$!
wait_for "$dir/watch" "/lu/w" 1

# the raw client: steps are driven through a fifo, results logged
mkfifo "$dir/ctl"
python3 - "$XENSTORED_PATH" "$dir/ctl" >"$dir/py" 2>&1 <<'PY' &
import socket, struct, sys
READ, WRITE, TX_START, TX_END, ERROR, WATCH, EVENT = 2, 11, 6, 7, 16, 4, 15
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def send(t, body, tx=0, rid=1):
    s.sendall(struct.pack("IIII", t, rid, tx, len(body)) + body)
def recv():
    h = b""
    while len(h) < 16: h += s.recv(16 - len(h))
    t, rid, tx, ln = struct.unpack("IIII", h)
    b = b""
    while len(b) < ln: b += s.recv(ln - len(b))
    return t, rid, b
def reply():
    while True:
        t, rid, b = recv()
        if t != EVENT: return t, rid, b
        print("event", b.split(b"\0")[0].decode(), flush=True)
ctl = open(sys.argv[2])
tx = 0
for line in ctl:
    cmd = line.split()
    if cmd[0] == "watch":
        send(WATCH, b"/lu/raw\0rawtok\0"); print("watch", reply()[0], flush=True)
    elif cmd[0] == "tx":
        send(TX_START, b"\0"); t, _, b = reply(); tx = int(b.rstrip(b"\0"))
        send(WRITE, b"/lu/txnode\0v", tx=tx); print("tx", reply()[0], flush=True)
    elif cmd[0] == "commit":
        send(TX_END, b"T\0", tx=tx); t, _, b = reply()
        print("commit", t, b.rstrip(b"\0").decode(), flush=True)
    elif cmd[0] == "half":       # half a WRITE: header and part of its body
        body = b"/lu/half\0payload"
        msg = struct.pack("IIII", WRITE, 77, 0, len(body)) + body
        s.sendall(msg[:20]); rest = msg[20:]; print("half sent", flush=True)
    elif cmd[0] == "rest":
        s.sendall(rest); t, rid, b = reply()
        print("rest", t, rid, b.rstrip(b"\0").decode(), flush=True)
    elif cmd[0] == "read":
        send(READ, cmd[1].encode() + b"\0"); t, _, b = reply()
        print("read", t, b.decode(), flush=True)
    elif cmd[0] == "events":
        s.settimeout(2)
        try:
            while True:
                t, rid, b = recv(); print("event", b.split(b"\0")[0].decode(), flush=True)
        except socket.timeout:
            pass
        s.settimeout(None)
    elif cmd[0] == "quit":
        break
PY
ppid_=$!
exec 3>"$dir/ctl"
step() { echo "$1" >&3; wait_for "$dir/py" "$2" "${3:-1}"; }

step watch "^watch 4"
step events "^event /lu/raw"
step tx "^tx 11"

# 1. Xen's xenstore-control: BUSY while a transaction is open
check "xenstore-control live-update refused while a transaction is open" \
	sh -c "! timeout 20 $xsc live-update -t 1 '$daemon' >/dev/null 2>&1"
check "no restart happened" sh -c "! grep -q 'restored' '$dir/log'"
# 2. forced: the transaction's commit then answers EAGAIN
check "xenstore-control live-update -F" \
	timeout 20 "$xsc" live-update -F -t 5 "$daemon"
wait_for "$dir/log" "live update: restored" 1
check "restart 1 restored the store" grep -q "live update: restored" "$dir/log"
step commit "^commit"
check "forced transaction fails with EAGAIN" grep -q "^commit 16 EAGAIN" "$dir/py"
step half "^half sent"
# 3. SIGUSR2, with the half request still pending
kill -USR2 "$pid"
wait_for "$dir/log" "live update: restored" 2
check "restart 2 (SIGUSR2) restored the store" \
	test "$(grep -c 'live update: restored' "$dir/log")" -eq 2
check "same daemon pid" kill -0 "$pid"

expect "nodes survive" '1
two words
3' sh -c 'xenstore-read /lu/a; xenstore-read /lu/b; xenstore-read /lu/deep/x/y/z'
expect "permissions survive" 'a = "1"  . . . . . . . . . . . . . . . . . . . . . . . . . .  (n5,r7)' \
	sh -c 'xenstore-ls -p /lu | grep "^a "'
step rest "^rest"
check "half request sent before the restarts completes after" \
	grep -q "^rest 11 77 OK" "$dir/py"
expect "its write landed" "payload" xenstore-read /lu/half
step "read /lu/b" "^read 2 two words"
check "raw client's connection keeps working" grep -q "^read 2 two words" "$dir/py"
xenstore-write /lu/raw/x 1
step events "^event /lu/raw/x"
check "raw client's watch fires after the restarts" \
	grep -q "^event /lu/raw/x" "$dir/py"
xenstore-write /lu/w/after 1
wait_for "$dir/watch" "/lu/w/after" 1
check "xenstore-watch's watch fires after the restarts" \
	grep -q "^/lu/w/after" "$dir/watch"
check "xenstore-watch still connected" kill -0 "$wpid"
step quit "^nothing" 0

check "test-xenstore after the restarts" timeout 120 "$txs" -i 2
check "daemon alive" kill -0 "$pid"
kill "$pid"
wait "$pid"
rc=$?
pid=
check "daemon exits cleanly (rc $rc)" [ $rc -eq 0 ]
check "no state file left" sh -c "! ls '$dir'/*.lu 2>/dev/null | grep -q ."
[ $fail -eq 0 ] || { echo "--- daemon log"; cat "$dir/log"; echo "--- client"; cat "$dir/py"; echo "--- watch"; cat "$dir/watch"; }
exit $fail
