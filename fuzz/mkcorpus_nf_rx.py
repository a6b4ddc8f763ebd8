#!/usr/bin/env python3
"""mkcorpus_nf_rx.py - write the hand-made seeds of fuzz_nf_rx into
corpus/fuzz_nf_rx/ (rx response chains a backend may write: one slot, a
chain with GSO and HASH extras, errors, bad offsets, slots out of place,
a chain without end).  Files found by fuzzing (regressions) live beside
them as regress-*; this script does not touch them.  Input layout: see
fuzz/fuzz_nf_rx.c."""
import os
import struct

CSUM, VALID, MORE, EXTRA = 1, 2, 4, 8
GSO, HASH, FMORE = 1, 4, 1


def rsp(id_, off, flags, status):
    return struct.pack("<HHHh", id_, off, flags, status)


def gso(size, type_=1, flags=0):
    return struct.pack("<BBHBBH", GSO, flags, size, type_, 0, 0)


def hashx(type_, value, alg=1, flags=0):
    return struct.pack("<BBBB", HASH, flags, type_, alg) + struct.pack("<I", value)


def seed(first, slots):
    return struct.pack("<IB", first, len(slots)) + b"".join(slots)


SEEDS = {
    "one-slot": seed(5, [rsp(5, 10, VALID, 1500)]),
    "gso-hash-chain": seed(254, [rsp(254, 0, MORE | EXTRA | CSUM, 4096),
                                 gso(1448, 1, FMORE), hashx(1, 0x51ccc178),
                                 rsp(1, 0, MORE, 0), rsp(2, 100, 0, 200)]),
    "error-then-good": seed(0, [rsp(0, 0, 0, -1), rsp(1, 0, 0, 60)]),
    "bad-offset": seed(0, [rsp(0, 4000, 0, 200), rsp(1, 0, 0, 60)]),
    "out-of-place": seed(0, [rsp(1, 0, 0, 60)]),
    "endless": seed(0, [rsp(i, 0, MORE, 1) for i in range(80)]),
    "over-64k": seed(0, [rsp(i, 0, MORE if i < 16 else 0, 4096) for i in range(17)]),
    "bad-extra": seed(0, [rsp(0, 0, EXTRA, 60), struct.pack("<BBHI", 9, 0, 0, 0)]),
    "incomplete": seed(0, [rsp(0, 0, MORE, 100)]),
}

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus", "fuzz_nf_rx")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(SEEDS), out))
