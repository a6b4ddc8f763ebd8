#!/usr/bin/env bash
# run.sh BUILDDIR [SECONDS] [DOMAINS] - the soak test (issue 13): DOMAINS
# domains (default 64), each with a disk and a console, write and verify
# their disks for SECONDS (default 600) with nothing killed; every
# acknowledged write reads back, the daemons' resident memory stays flat
# (printed), nothing spins idle, `host stop` leaves nothing.  The chaos
# test's driver (tests/chaos/chaos.py --soak).  As root.
set -u
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILDDIR [SECONDS] [DOMAINS]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../chaos/run.sh" "$1" "${2:-600}" "${3:-64}" --soak
