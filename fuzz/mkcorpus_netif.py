#!/usr/bin/env python3
"""mkcorpus_netif.py - write the hand-made seeds of fuzz_netif into
corpus/fuzz_netif/ (TX rings with good, dropped and fatal packets, extras,
frames of each kind the header parser knows, control requests).  Files
found by fuzzing (regressions) live beside them as regress-*; this script
does not touch them.  Input layout: see fuzz/fuzz_netif.c."""
import os
import struct

CSUM, VALID, MORE, EXTRA = 1, 2, 4, 8


def tx(gref, off, flags, id_, size):
    return struct.pack("<IHHHH", gref, off, flags, id_, size)


def extra(type_, flags, a=0, b=0):
    return struct.pack("<BBHBBH", type_, flags, a, b, 0, 0)


def eth(ethertype, payload, vlan=False):
    h = b"\xff" * 6 + b"\x00\x16\x3e\x00\x00\x01"
    if vlan:
        h += b"\x81\x00\x00\x05"
    return h + struct.pack(">H", ethertype) + payload


def ipv4(proto, l4):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64,
                       proto, 0, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02") + l4


def ipv6(nh, l4, hop=False):
    if hop:
        l4 = struct.pack("BB6x", nh, 0) + l4
        nh = 0
    return struct.pack(">IHBB16s16s", 0x60000000, len(l4), nh, 64,
                       b"\x20\x01" + b"\x00" * 13 + b"\x01",
                       b"\x20\x01" + b"\x00" * 13 + b"\x02") + l4


TCP = struct.pack(">HHIIBBHHH", 1234, 80, 1, 0, 0x50, 0x18, 65535, 0, 0) + b"x" * 40
UDP = struct.pack(">HHHH", 53, 5353, 8 + 20, 0) + b"y" * 20


def ctrl(id_, type_, d0=0, d1=0, d2=0):
    return struct.pack("<HHIII", id_, type_, d0, d1, d2)


def seed(name, prod, slots, frame=b"", ctrls=b""):
    ring = b"".join(slots)
    data = struct.pack("<IH", prod, len(ring)) + ring + frame + ctrls
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_netif")
os.makedirs(OUT, exist_ok=True)
seed("one-packet", 1, [tx(1, 0, 0, 1, 60)])
seed("sg-3", 3, [tx(1, 100, MORE, 1, 5000), tx(2, 0, MORE, 2, 4096), tx(3, 0, 0, 3, 4)])
seed("gso-hash", 3, [tx(1, 0, EXTRA | CSUM, 1, 3000), extra(1, 1, 1448, 1), extra(4, 0)])
seed("mcast", 2, [tx(1, 0, EXTRA, 1, 0), extra(2, 0, 0x0001, 0x5e)])
seed("slots-18", 19, [tx(0, 0, MORE, 0, 1900)] + [tx(i, 0, MORE if i < 18 else 0, i, 100) for i in range(1, 19)])
seed("slots-19", 20, [tx(0, 0, MORE, 0, 2000)] + [tx(i, 0, MORE if i < 19 else 0, i, 100) for i in range(1, 20)])
seed("slots-21", 22, [tx(0, 0, MORE, 0, 2200)] + [tx(i, 0, MORE if i < 21 else 0, i, 100) for i in range(1, 22)])
seed("cross-page", 1, [tx(1, 4000, 0, 1, 200)])
seed("prod-jump", 300, [tx(1, 0, 0, 1, 60)])
seed("past-prod", 1, [tx(1, 0, MORE, 1, 300)])
seed("zero-frags", 3, [tx(1, 0, MORE, 1, 100), tx(2, 0, MORE, 2, 0), tx(3, 0, 0, 3, 0)])
seed("frame-v4-tcp", 0, [], eth(0x0800, ipv4(6, TCP)))
seed("frame-v4-udp-vlan", 0, [], eth(0x0800, ipv4(17, UDP), vlan=True))
seed("frame-v6-hop-tcp", 0, [], eth(0x86dd, ipv6(6, TCP, hop=True)))
seed("ctrl-hash", 0, [], eth(0x0800, ipv4(6, TCP)),
     ctrl(1, 7, 1) + ctrl(2, 2, 15) + ctrl(3, 3, 0, 40) + ctrl(4, 5, 64)
     + ctrl(5, 6, 0, 8, 0) + ctrl(6, 6, 0, 2, 0xffffffff) + ctrl(7, 1))
