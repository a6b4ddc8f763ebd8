#!/usr/bin/env bash
# Install everything pvkit needs to build and test on Debian 12 (as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(
	build-essential gcc pkg-config meson ninja-build
	libcmocka-dev
	liburing-dev       # blkback storage (io_uring)
	libfuse3-dev fuse3 # pvkit-blkfuse (disks as files through FUSE)
	libnbd-dev nbdkit  # blkback NBD storage; nbdkit serves it in tests and bench
	libxen-dev         # Xen's public ABI headers and libxen* (real-Xen platform)
	xen-utils-4.17     # test-xenstore, Xen's own xenstore test program
	xenstore-utils     # xenstore-ls/read/write/... interop tests
	python3
	procps             # pgrep/pkill in the end-to-end tests
	iproute2           # ip netns exec: commands inside a domain's namespace
	iputils-ping iperf3 # traffic through vifs in tests, demo and bench/net
	groff-base man-db  # the man pages are checked (groff) and read (man)
)
if ! dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi
