#!/usr/bin/env python3
"""mkcorpus.py - write the hand-made seed corpora of the xenstore fuzz
targets into corpus/<target>/ (valid and invalid messages).  Files found by
fuzzing (regressions) live beside them as regress-*; this script does not
touch them.  Usage: fuzz/mkcorpus.py"""
import os
import struct

# xs_wire.h message types
(DEBUG, DIRECTORY, READ, GET_PERMS, WATCH, UNWATCH, TX_START, TX_END,
 INTRODUCE, RELEASE, GET_DOMAIN_PATH, WRITE, MKDIR, RM, SET_PERMS,
 WATCH_EVENT, ERROR, IS_INTRODUCED, RESUME, SET_TARGET, _RESTRICT,
 RESET_WATCHES, DIRECTORY_PART) = range(23)
CONTROL = DEBUG

PRIV, UNPRIV, UNPRIV_HOME, WATCHER = 0, 1, 3, 4


def msg(t, *args, tx=0, req=1, raw=None, length=None):
    body = raw if raw is not None else b"".join(a.encode() + b"\0" for a in args)
    return struct.pack("<IIII", t, req, tx, len(body) if length is None else length) + body


wire = {
    "read": (PRIV, [msg(WRITE, raw=b"/a\0v"), msg(READ, "/a")]),
    "write-mkdir-dir": (PRIV, [msg(MKDIR, "/d/e"), msg(WRITE, raw=b"/d/f\0x"),
                               msg(DIRECTORY, "/d"), msg(DIRECTORY_PART, "/d", "0")]),
    "rm-tree": (PRIV, [msg(WRITE, raw=b"/t/a/b/c\0x"), msg(RM, "/t"), msg(READ, "/t/a")]),
    "perms": (PRIV, [msg(WRITE, raw=b"/p\0v"), msg(SET_PERMS, "/p", "n1", "r2", "b3"),
                     msg(GET_PERMS, "/p")]),
    "perms-bad": (PRIV, [msg(WRITE, raw=b"/p\0v"), msg(SET_PERMS, "/p", "x1"),
                         msg(SET_PERMS, "/p", "r99999"), msg(SET_PERMS, "/p")]),
    "watch": (WATCHER, [msg(WATCH, "/w", "tok"), msg(WRITE, raw=b"/w/x\0v"),
                        msg(RM, "/w"), msg(UNWATCH, "/w", "tok")]),
    "watch-special": (PRIV, [msg(WATCH, "@introduceDomain", "i"),
                             msg(WATCH, "@releaseDomain", "r"),
                             msg(INTRODUCE, "5", "100", "3"), msg(RELEASE, "5")]),
    "tx-commit": (PRIV, [msg(TX_START, ""), msg(WRITE, raw=b"/x\0v", tx=1),
                         msg(READ, "/x", tx=1), msg(TX_END, "T", tx=1)]),
    "tx-conflict": (PRIV, [msg(TX_START, ""), msg(READ, "/c", tx=1),
                           msg(WRITE, raw=b"/c\0outside"), msg(WRITE, raw=b"/c\0in", tx=1),
                           msg(TX_END, "T", tx=1)]),
    "tx-abort-rm": (PRIV, [msg(WRITE, raw=b"/r/s\0v"), msg(TX_START, ""),
                           msg(RM, "/r", tx=1), msg(MKDIR, "/r/n", tx=1),
                           msg(TX_END, "F", tx=1)]),
    "tx-bad-id": (PRIV, [msg(READ, "/", tx=77), msg(TX_END, "T", tx=5),
                         msg(TX_START, "", tx=3)]),
    "domain-ops": (PRIV, [msg(INTRODUCE, "7", "4096", "9"), msg(IS_INTRODUCED, "7"),
                          msg(SET_TARGET, "7", "0"), msg(RESUME, "7"),
                          msg(GET_DOMAIN_PATH, "7"), msg(RELEASE, "7"),
                          msg(IS_INTRODUCED, "7")]),
    "introduce-bad": (PRIV, [msg(INTRODUCE, "70000", "1", "1"),
                             msg(INTRODUCE, "3", "-5", "1"), msg(INTRODUCE, "3", "x", "y")]),
    "control": (PRIV, [msg(CONTROL, "help"), msg(CONTROL, "check"),
                       msg(CONTROL, "log", "on"), msg(CONTROL, "quota"),
                       msg(CONTROL, "quota", "nodes", "5"), msg(CONTROL, "print", "hi"),
                       msg(CONTROL, "live-update", "-s")]),
    "reset-watches": (PRIV, [msg(WATCH, "/a", "1"), msg(TX_START, ""),
                             msg(RESET_WATCHES), msg(WRITE, raw=b"/a\0v")]),
    "unpriv-home": (UNPRIV_HOME, [msg(WRITE, raw=b"data\0v"), msg(READ, "data"),
                                  msg(DIRECTORY, ""), msg(WATCH, "data", "t"),
                                  msg(SET_PERMS, "data", "n1", "r0"),
                                  msg(SET_PERMS, "data", "n0"), msg(RM, "data")]),
    "unpriv-denied": (UNPRIV, [msg(WRITE, raw=b"/tool\0v"), msg(INTRODUCE, "2", "1", "1"),
                               msg(CONTROL, "help"), msg(RM, "/local/domain/0/x"),
                               msg(WATCH, "@releaseDomain", "r")]),
    "unpriv-quota": (UNPRIV_HOME, [msg(WRITE, raw=("n%d\0" % i).encode() + b"v")
                                   for i in range(40)] +
                     [msg(TX_START, "") for _ in range(12)]),
    "relative-paths": (PRIV, [msg(WRITE, raw=b"rel/x\0v"), msg(READ, "rel/x"),
                              msg(WATCH, "rel", "r"), msg(RM, "rel")]),
    "bad-paths": (PRIV, [msg(READ, "//a"), msg(READ, "/a/"), msg(READ, "/a b"),
                         msg(WRITE, raw=b"/\xff\0v"), msg(READ, ""), msg(READ, raw=b"/noterm")]),
    "unknown-type": (PRIV, [msg(20, "x"), msg(READ, "/")]),
    "split-header": (PRIV, [msg(READ, "/")[:7]]),
    "oversized-len": (PRIV, [struct.pack("<IIII", WRITE, 1, 0, 4097) + b"x" * 16]),
    "bad-type": (PRIV, [struct.pack("<IIII", 0x7777, 1, 0, 0)]),
    "max-payload": (PRIV, [msg(WRITE, raw=b"/big\0" + b"v" * 4091), msg(READ, "/big")]),
    "long-path": (PRIV, [msg(WRITE, raw=("/" + "a" * 3071).encode() + b"\0v"),
                         msg(WRITE, raw=("/" + "a" * 3072).encode() + b"\0v")]),
    "deep-tree": (PRIV, [msg(MKDIR, "/" + "/".join(["d"] * 1000)), msg(RM, "/d")]),
    "rm-missing": (UNPRIV_HOME, [msg(RM, "/local/domain/0/nope"), msg(RM, "nope/x")]),
    "watch-event-oversize": (PRIV, [msg(WATCH, "/", "t" * 3000),
                                    msg(WRITE, raw=("/" + "b" * 2000).encode() + b"\0v")]),
}

path = [
    (0, ["/", "/a", "/a/b/c", "rel", "rel/x"]),
    (1, ["data", "/local/domain/1/x", "/local/domain/0/x", "/"]),
    (2, ["@introduceDomain", "@releaseDomain", "@other", "@"]),
    (0, ["//", "/a//b", "/a/", "", "a b", "/\xff"]),
    (0, ["/" + "x" * 3071, "/" + "x" * 3072, "y" * 2048, "y" * 2049]),
    (1, ["z" * 2030, "/local/domain/1/" + "q" * 2000]),
    (0, ["/-_@", "/local/domain/0", "/local/domain/1/sub/dir"]),
    (3, ["@introduceDomain/x", "/@x", "x/@"]),
]

here = os.path.dirname(os.path.abspath(__file__))
for name, (sel, msgs) in wire.items():
    d = os.path.join(here, "corpus", "fuzz_xs_wire")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes([sel]) + b"".join(msgs))
for i, (sel, strs) in enumerate(path):
    d = os.path.join(here, "corpus", "fuzz_xs_path")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
        f.write(bytes([sel]) + b"\0".join(s.encode("latin-1") for s in strs))
