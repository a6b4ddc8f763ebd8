#!/usr/bin/env bash
# End to end: a DomU running pvkit-blkfuse serves its tmpfs-backed disk as
# a file through FUSE; mkfs.ext4 on that file, mount -o loop, copy files
# in, unmount, remount, verify checksums; shut the domain down, then the
# backing file itself holds a clean ext4 with the same files.
# Usage: blkfuse_e2e.sh PVKIT PVKIT-BLKFUSE.  Skipped (77) without root,
# /dev/fuse, a loop device, mkfs.ext4 or mount.
set -u
P=$1
K=$2
skip() { echo "skip: $1"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
[ -c /dev/fuse ] || skip "no /dev/fuse"
for t in mkfs.ext4 e2fsck mount umount losetup sha256sum; do
	command -v $t >/dev/null || skip "no $t"
done
losetup -f >/dev/null 2>&1 || skip "no free loop device"
export PVKIT_STATE_DIR=$(mktemp -d /tmp/pvkit-fuse-XXXXXX)
shm=$(mktemp -d /dev/shm/pvkit-fuse-XXXXXX)
mnt=$PVKIT_STATE_DIR/fuse
ext=$PVKIT_STATE_DIR/ext
src=$PVKIT_STATE_DIR/src
disk=$shm/disk.img
fail=0
check() { if eval "$2"; then echo "ok   - $1"; else echo "FAIL - $1"; fail=1; fi; }
cleanup() {
	mountpoint -q "$ext" 2>/dev/null && umount "$ext"
	"$P" destroy fuse >/dev/null 2>&1
	mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt"
	"$P" host stop -f -w 5 >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then echo "kept $PVKIT_STATE_DIR $shm"; return; fi
	rm -rf "$PVKIT_STATE_DIR" "$shm"
}
trap cleanup EXIT
truncate -s 64M "$disk"
mkdir -p "$ext" "$src/sub"
for i in $(seq 1 12); do
	head -c $(( (i * 37 % 50 + 1) * 16384 + i )) /dev/urandom > "$src/f$i"
done
head -c 3000000 /dev/urandom > "$src/sub/big"
printf 'hello from pvkit\n' > "$src/sub/small"
(cd "$src" && find . -type f | sort | xargs sha256sum) > "$PVKIT_STATE_DIR/sums"
cat > "$PVKIT_STATE_DIR/fuse.cfg" <<CFG
name = "fuse"
memory = 128
vcpus = 2
kernel = "$K"
extra = "pvkit.fuse=$mnt"
disk = [ 'format=raw, vdev=xvda, access=rw, target=$disk' ]
CFG
check "host start" '"$P" host start >/dev/null'
check "create a domain running pvkit-blkfuse" '"$P" create "$PVKIT_STATE_DIR/fuse.cfg" >/dev/null'
for i in $(seq 100); do [ -e "$mnt/xvda" ] && break; sleep 0.1; done
check "the disk appears as $mnt/xvda" '[ -e "$mnt/xvda" ]'
check "its size is the disk size" '[ "$(stat -c %s "$mnt/xvda")" = 67108864 ]'
check "mkfs.ext4 on the FUSE file" 'mkfs.ext4 -q -F "$mnt/xvda"'
check "mount -o loop" 'mount -o loop "$mnt/xvda" "$ext"'
check "copy files in" 'cp -a "$src/." "$ext/" && sync'
check "umount" 'umount "$ext"'
check "e2fsck: clean" 'e2fsck -fn "$mnt/xvda" >/dev/null 2>&1'
check "mount again" 'mount -o loop "$mnt/xvda" "$ext"'
check "checksums match after remount" '(cd "$ext" && sha256sum --quiet -c "$PVKIT_STATE_DIR/sums")'
check "umount again" 'umount "$ext"'
check "O_DIRECT, unaligned: dd through the file" 'printf "0123456789" | dd of="$mnt/xvda" bs=1 seek=$((64*1024*1024 - 7)) conv=notrunc status=none 2>/dev/null; [ "$(dd if="$mnt/xvda" bs=4096 skip=$((16384 - 1)) iflag=direct status=none | tail -c 7)" = "0123456" ]'
check "fallocate --punch-hole reads back as zeros" 'fallocate -p -o $((60*1024*1024 + 100)) -l 100000 "$mnt/xvda" && [ "$(dd if="$mnt/xvda" bs=1 skip=$((60*1024*1024 + 100)) count=100000 status=none | tr -d "\0" | wc -c)" = 0 ]'
check "shutdown -w" '"$P" shutdown -w fuse >/dev/null'
check "the FUSE mount went with the domain" '! mountpoint -q "$mnt"'
check "the backing file holds a clean ext4" 'e2fsck -fn "$disk" >/dev/null 2>&1'
check "and the same files" 'mount -o loop,ro "$disk" "$ext" && (cd "$ext" && sha256sum --quiet -c "$PVKIT_STATE_DIR/sums"); r=$?; umount "$ext"; [ $r = 0 ]'
[ $fail = 0 ] || { echo "--- guest log"; tail -30 "$PVKIT_STATE_DIR/guest-fuse.log"; }
exit $fail
