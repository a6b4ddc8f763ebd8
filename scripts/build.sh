#!/usr/bin/env bash
# Configure, build and install pvkit (prefix /usr/local) from the repo root.
# Usage: scripts/build.sh [BUILD_DIR] [extra meson setup args...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@"
fi
ninja -C "$dir"
