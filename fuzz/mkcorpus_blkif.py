#!/usr/bin/env python3
"""mkcorpus_blkif.py - write the hand-made seeds of fuzz_blkif into
corpus/fuzz_blkif/ (valid and invalid rings, both ABIs, indirect pages).
Files found by fuzzing (regressions) live beside them as regress-*; this
script does not touch them.  Input layout: see fuzz/fuzz_blkif.c."""
import os
import struct

READ, WRITE, BARRIER, FLUSH, DISCARD, INDIRECT = 0, 1, 2, 3, 5, 6
ABI32, RO, FL, BA, DI = 1, 2, 4, 8, 16
IND_NONE, IND_32, IND_256, IND_MAX = 0, 1 << 5, 2 << 5, 3 << 5


def seg(gref, first, last):
    return struct.pack("<IBBH", gref, first, last, 0)


def req(abi32, op, id_, sector, segs=(), handle=0):
    """A read/write/barrier/flush request, padded to the ABI's slot."""
    n = len(segs)
    body = b"".join(segs) + bytes(8 * (11 - n)) if n <= 11 else b"".join(segs[:11])
    if abi32:
        return struct.pack("<BBHQQ", op, n, handle, id_, sector) + body
    return struct.pack("<BBHIQQ", op, n, handle, 0, id_, sector) + body


def discard(abi32, id_, sector, nr, flag=0):
    if abi32:
        s = struct.pack("<BBHQQQ", DISCARD, flag, 0, id_, sector, nr)
        return s + bytes(108 - len(s))
    s = struct.pack("<BBHIQQQ", DISCARD, flag, 0, 0, id_, sector, nr)
    return s + bytes(112 - len(s))


def indirect(abi32, op, nsegs, id_, sector, grefs):
    g = struct.pack("<8I", *(list(grefs) + [0] * (8 - len(grefs))))
    if abi32:
        s = struct.pack("<BBHQQHH", INDIRECT, op, nsegs, id_, sector, 0, 0) + g
        return s + bytes(108 - len(s))
    s = struct.pack("<BBHIQQHH", INDIRECT, op, nsegs, 0, id_, sector, 0, 0) + g
    return s + bytes(112 - len(s))


def disk(flags, order, size_code, prod, ring, ipages=b""):
    return struct.pack("<BBIH", flags, order | size_code << 2, prod, len(ring)) + ring + ipages


def full_segs(n, first=0, last=7):
    return [seg(100 + i, first, last) for i in range(n)]


seeds = {}
for abi, name in ((0, "64"), (ABI32, "32")):
    a32 = bool(abi)
    f = abi | FL | BA | DI
    seeds["rw-" + name] = disk(f, 0, 4, 3, req(a32, READ, 1, 0, full_segs(1)) +
                               req(a32, WRITE, 2, 8, full_segs(11)) +
                               req(a32, READ, 3, 100, [seg(7, 2, 5)]))
    seeds["flush-barrier-" + name] = disk(f, 0, 4, 3, req(a32, FLUSH, 1, 0) +
                                          req(a32, BARRIER, 2, 16, full_segs(2)) +
                                          req(a32, BARRIER, 3, 0))
    seeds["discard-" + name] = disk(f, 0, 4, 3, discard(a32, 1, 0, 64) +
                                    discard(a32, 2, 16383, 2) +
                                    discard(a32, 3, 2**64 - 1, 2, 1))
    seeds["readonly-" + name] = disk(abi | RO | DI | FL, 0, 4, 3,
                                     req(a32, WRITE, 1, 0, full_segs(1)) +
                                     req(a32, READ, 2, 0, full_segs(1)) +
                                     discard(a32, 3, 0, 8))
    seeds["bad-segs-" + name] = disk(f, 0, 4, 5,
                                     req(a32, READ, 1, 0, [seg(1, 5, 2)]) +
                                     req(a32, READ, 2, 0, [seg(1, 0, 8)]) +
                                     req(a32, WRITE, 3, 0, []) +
                                     req(a32, READ, 4, 2**64 - 4, full_segs(1)) +
                                     req(a32, 99, 5, 0, full_segs(1)))
    ip = b"".join(seg(200 + i, 0, 7) for i in range(32))
    seeds["indirect-" + name] = disk(abi | IND_32, 0, 4, 2,
                                     indirect(a32, WRITE, 32, 1, 0, [55]) +
                                     indirect(a32, READ, 32, 2, 256, [56]), ip)
    ip = b"".join(seg(300 + i, i % 8, 7) for i in range(512))
    seeds["indirect-max-" + name] = disk(abi | IND_MAX, 2, 40, 3,
                                         indirect(a32, READ, 1024, 1, 0, [1, 2]) +
                                         indirect(a32, WRITE, 4096, 2, 0, list(range(8))) +
                                         indirect(a32, FLUSH, 8, 3, 0, [9]), ip)
    seeds["indirect-bad-" + name] = disk(abi | IND_32, 0, 4, 4,
                                         indirect(a32, READ, 0, 1, 0, []) +
                                         indirect(a32, READ, 33, 2, 0, [1]) +
                                         indirect(a32, DISCARD, 8, 3, 0, [1]) +
                                         indirect(a32, READ, 8, 4, 16380, [1]),
                                         seg(1, 3, 1) * 8)
    seeds["overflow-" + name] = disk(f, 0, 4, 0x1000, req(a32, READ, 1, 0, full_segs(1)))
    seeds["multipage-" + name] = disk(f, 3, 63, 64, b"".join(
        req(a32, READ if i % 2 else WRITE, i, i * 8, full_segs(1 + i % 11)) for i in range(64)))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_blkif")
os.makedirs(out, exist_ok=True)
for n, data in seeds.items():
    with open(os.path.join(out, n), "wb") as fh:
        fh.write(data)
print(f"{len(seeds)} seeds in {out}")
