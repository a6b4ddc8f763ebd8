#!/bin/sh
# xs_journal.sh - pvkit-xenstored --journal's files are checked on the way
# in: the store comes back after SIGKILL; a torn or corrupt end of the log
# is cut off (what it held was never acknowledged) and the daemon starts;
# a log of another generation is ignored; a corrupt image is refused and
# the daemon does not start over an empty store, naming what is wrong.
# Usage: xs_journal.sh PATH-TO-pvkit-xenstored.  77 (skip) without Xen's
# xenstore-* tools.
set -u

daemon=${1:?usage: $0 pvkit-xenstored}
for t in xenstore-read xenstore-write xenstore-ls; do
	command -v $t >/dev/null || { echo "$t missing: skip"; exit 77; }
done
dir=$(mktemp -d /tmp/pvkit-xsj.XXXXXX)
export XENSTORED_PATH="$dir/socket"
pid=
fail=0
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

. "$(dirname "$0")/xs_lib.sh"

start() { # start the daemon on the journal; 0 once it listens
	: >"$dir/log"
	"$daemon" --socket "$XENSTORED_PATH" --journal "$dir/db" \
		>"$dir/log" 2>&1 &
	pid=$!
	wait_for "$dir/log" "listening on" 1
}
crash() { kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=; }

check "starts with a new store" start
for i in $(seq 1 50); do xenstore-write /j/n$i v$i; done
crash
check "killed and started again" start
expect "every node is back" "50" sh -c 'xenstore-ls /j | wc -l'
expect "a value is back" "v50" xenstore-read /j/n50
for i in $(seq 51 60); do xenstore-write /j/n$i v$i; done
crash
# a torn last record: a kill inside write(2)
size=$(stat -c %s "$dir/db.log")
check "the log has records" [ "$size" -gt 100 ]
truncate -s $((size - 5)) "$dir/db.log"
check "a torn log: started" start
check "the torn record is named" grep -q "torn or corrupt; ignored" "$dir/log"
expect "everything before it is back" "v59" xenstore-read /j/n59
crash
# garbage after the records
printf 'garbage that is no record at all, long enough to look like one' \
	>>"$dir/db.log"
check "garbage after the log: started" start
expect "the store is there" "v1" xenstore-read /j/n1
xenstore-write /j/after garbage
crash
check "and it goes on after a restart" start
expect "a write after the cut is back" "garbage" xenstore-read /j/after
crash
# a log of another generation (an image was written after it) is ignored
cp "$dir/db.log" "$dir/old.log"
check "started to write a new image" start
xenstore-write /j/gen new
kill -USR2 "$pid" 2>/dev/null # a live update writes a new image
sleep 0.5
crash
cp "$dir/old.log" "$dir/db.log"
check "an old log beside a newer image: started" start
expect "the newer image's store" "new" xenstore-read /j/gen
crash
# a corrupt image: refused, nothing served
dd if=/dev/urandom of="$dir/db.img" bs=1 seek=40 count=64 conv=notrunc \
	2>/dev/null
"$daemon" --socket "$XENSTORED_PATH" --journal "$dir/db" >"$dir/log" 2>&1
rc=$?
check "a corrupt image: the daemon does not start" [ $rc != 0 ]
check "and says why" grep -q "not starting" "$dir/log"
exit $fail
