#!/bin/sh
# xs_interop.sh - run Xen's own libxenstore clients (test-xenstore and the
# xenstore-* tools from xen-utils / xenstore-utils) against pvkit-xenstored
# on a private socket.  Usage: xs_interop.sh PATH-TO-pvkit-xenstored
# Exit 0 on success, 77 (skip) when test-xenstore is not installed.
set -u

daemon=${1:?usage: $0 pvkit-xenstored}
txs=
for f in /usr/lib/xen-*/bin/test-xenstore /usr/lib/xen/bin/test-xenstore; do
	[ -x "$f" ] && txs=$f && break
done
if [ -z "$txs" ]; then
	echo "test-xenstore not installed (apt-get install xen-utils-4.17): skip"
	exit 77
fi
for t in xenstore-read xenstore-write xenstore-ls xenstore-rm \
	xenstore-chmod xenstore-watch xenstore-list xenstore-exists; do
	command -v $t >/dev/null || { echo "$t missing: skip"; exit 77; }
done

dir=$(mktemp -d /tmp/pvkit-xs.XXXXXX)
export XENSTORED_PATH="$dir/socket"
pid=
fail=0
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

"$daemon" --socket "$XENSTORED_PATH" --pid-file "$dir/pid" \
	>"$dir/log" 2>&1 &
pid=$!
i=0
while [ ! -S "$XENSTORED_PATH" ] || [ ! -s "$dir/pid" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: daemon did not start"; cat "$dir/log"; exit 1
	fi
	sleep 0.05
done

. "$(dirname "$0")/xs_lib.sh"

# Xen's test-xenstore: every listed test, all together, then random
"$txs" -l | cut -c1-10 | sed 's/ *$//' >"$dir/tests"
while read -r name; do
	check "test-xenstore -t '$name'" timeout 60 "$txs" -t "$name"
done <"$dir/tests"
check "test-xenstore (all, 5 iterations)" timeout 120 "$txs" -i 5
check "test-xenstore -r 3" timeout 60 "$txs" -r 3

# the xenstore-* tools
check "xenstore-write" xenstore-write /interop/a 1 /interop/b "two words"
expect "xenstore-read" "two words" xenstore-read /interop/b
expect "xenstore-list" "a
b" xenstore-list /interop
check "xenstore-exists (present)" xenstore-exists /interop/a
check "xenstore-exists (absent)" sh -c '! xenstore-exists /interop/zz'
check "xenstore-chmod" xenstore-chmod /interop/a n5 r7
expect "xenstore-ls -p" 'a = "1"  . . . . . . . . . . . . . . . . . . . . . . . . . .  (n5,r7)' \
	sh -c 'xenstore-ls -p /interop | grep "^a "'
xenstore-watch -n 3 /interop/w >"$dir/watch" 2>&1 &
wpid=$!
sleep 0.3
xenstore-write /interop/w/x 1
xenstore-write /interop/w/y 2
i=0
while kill -0 $wpid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill $wpid 2>/dev/null
expect "xenstore-watch" "/interop/w
/interop/w/x
/interop/w/y" cat "$dir/watch"
check "xenstore-rm" xenstore-rm /interop
check "xenstore-rm'd node gone" sh -c '! xenstore-exists /interop/a'
check "xenstore-read relative path" sh -c \
	'xenstore-write rel/x v && [ "$(xenstore-read /local/domain/0/rel/x)" = v ]'

# a client sending garbage is cut off; the daemon and others carry on
if command -v python3 >/dev/null; then
	check "oversized payload closes only that client; an unknown type gets ENOSYS" python3 - \
		"$XENSTORED_PATH" <<'PY'
import socket, struct, sys
bad = socket.socket(socket.AF_UNIX); bad.connect(sys.argv[1])
good = socket.socket(socket.AF_UNIX); good.connect(sys.argv[1])
bad.sendall(struct.pack("IIII", 2, 1, 0, 5000) + b"x" * 64)
assert bad.recv(64) == b"", "bad client not closed"
# an unknown type is answered ENOSYS (as Xen's xenstored does), and the
# connection goes on
odd = socket.socket(socket.AF_UNIX); odd.connect(sys.argv[1])
odd.sendall(struct.pack("IIII", 0x7777, 1, 0, 0))
h = odd.recv(16); t, rid, tx, ln = struct.unpack("IIII", h)
assert t == 16 and rid == 1 and odd.recv(ln) == b"ENOSYS\0", ("unknown type", h)
odd.sendall(struct.pack("IIII", 10, 2, 0, 2) + b"4\0")
h = odd.recv(16); t, rid, tx, ln = struct.unpack("IIII", h)
assert t == 10 and rid == 2 and odd.recv(ln) == b"/local/domain/4\0", h
good.sendall(struct.pack("IIII", 10, 9, 0, 2) + b"3\0")
h = good.recv(16); t, rid, tx, ln = struct.unpack("IIII", h)
body = good.recv(ln)
assert t == 10 and rid == 9 and body == b"/local/domain/3\0", (h, body)
PY
fi
check "xenstore-ls after everything" sh -c 'xenstore-ls >/dev/null'
check "daemon alive" kill -0 "$pid"

kill "$pid"
wait "$pid"
rc=$?
pid=
check "daemon exits cleanly on SIGTERM (rc $rc)" [ $rc -eq 0 ]
check "socket and pid file removed" \
	sh -c "[ ! -e '$XENSTORED_PATH' ] && [ ! -e '$dir/pid' ]"
[ $fail -eq 0 ] || { echo "--- daemon log"; cat "$dir/log"; }
exit $fail
