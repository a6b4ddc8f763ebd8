#!/usr/bin/env python3
"""The chaos test (issue 13): a host whose supervised daemons are SIGKILLed
at random moments, over and over, while its domains write their disks and
talk on their consoles.

    chaos.py PVKIT SECONDS [DOMAINS] [--soak]

With the host's daemons from the environment (PVKIT_HVD, ...; run.sh sets
them) and a private PVKIT_STATE_DIR: DOMAINS domains (default 8), each with
a 16 MiB disk, write block after block through their consoles ("dw N":
pvkit-guest writes block N, around the disk, and flushes it, then answers
"dw N ok"), while a
killer SIGKILLs pvkit-blkback, pvkit-consoled, pvkit-xenstored and
pvkit-netback in turn at random moments (1-3 s apart; each of them about
every 8 s, under the supervisor's limit of 10 deaths a minute).  pvkit-hvd
is not killed: the host stops with a dead hypervisor by design
(docs/architecture.md, "Supervision").  A killed xenstored comes back with
its store (--journal) and every client carries on.

Then: every domain is listed; every write a domain acknowledged reads back
("dr N ok": no acknowledged write lost); every console answers; `pvkit host
status` shows each daemon running and started again exactly as often as it
was killed; no process of the host uses the CPU while idle; `host stop`
leaves nothing.  Prints "ok"/"FAIL" lines and "N passed, N failed".

--soak (tests/soak/run.sh): nothing is killed; instead every daemon's
resident memory is sampled every 10 s and must stay flat (the last sample
within 10% + 4 MiB of the first taken after the load settled), the
figures printed.
"""
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

SOAK = "--soak" in sys.argv
ARGS = [a for a in sys.argv if a != "--soak"]
PVKIT = ARGS[1]
SECONDS = float(ARGS[2]) if len(ARGS) > 2 else 60
NDOM = int(ARGS[3]) if len(ARGS) > 3 else 8
DAEMONS = ["hvd", "xenstored", "consoled", "blkback", "netback"]
STATE = os.environ["PVKIT_STATE_DIR"]
VICTIMS = ["blkback", "consoled", "xenstored", "netback"]
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok   - " if ok else "FAIL - ") + name +
          ("" if ok or not detail else ": " + detail), flush=True)
    return ok


def pvkit(*args, timeout=60):
    return subprocess.run([PVKIT, *args], capture_output=True, text=True,
                          timeout=timeout)


def xs_read(path):
    """A node of the host's store (None when it cannot be read)."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(os.path.join(STATE, "xenstored.sock"))
        body = path.encode() + b"\0"
        s.sendall(struct.pack("IIII", 2, 1, 0, len(body)) + body)
        h = b""
        while len(h) < 16:
            c = s.recv(16 - len(h))
            if not c:
                return None
            h += c
        t, _, _, n = struct.unpack("IIII", h)
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                return None
            b += c
        s.close()
        return b.decode() if t == 2 else None
    except OSError:
        return None


def read_pid(daemon):
    try:
        with open(os.path.join(STATE, daemon + ".pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        with open("/proc/%d/stat" % pid) as f:
            if f.read().split(")")[1].split()[0] == "Z":
                return 0
        return pid
    except (OSError, ValueError, IndexError):
        return 0


class Console:
    """A domain's console through `pvkit console`, started again whenever
    it ends (consoled killed)."""

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.lines = []
        self.cv = threading.Condition()

    def _reader(self, proc):
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            with self.cv:
                self.lines.append(line)
                del self.lines[:-256]
                self.cv.notify_all()
        proc.wait()

    def _ensure(self):
        if self.proc and self.proc.poll() is None:
            return True
        try:
            self.proc = subprocess.Popen(
                [PVKIT, "console", self.name], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            return False
        threading.Thread(target=self._reader, args=(self.proc,),
                         daemon=True).start()
        return True

    def ask(self, cmd, want_prefix, timeout):
        """Send cmd until an answer starting with want_prefix comes (the
        console may be restarted meanwhile); the answer, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self._ensure():
                time.sleep(0.2)
                continue
            with self.cv:
                self.lines.clear()
            try:
                self.proc.stdin.write((cmd + "\n").encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                time.sleep(0.2)
                continue
            with self.cv:
                wait_end = min(end, time.monotonic() + 5)
                while time.monotonic() < wait_end:
                    for line in self.lines:
                        if line.startswith(want_prefix):
                            return line
                    if self.proc.poll() is not None:
                        break
                    self.cv.wait(0.2)
        return None

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().split(")")[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def host_pids():
    """The processes of this host: those whose environment names its
    state directory."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if ("PVKIT_STATE_DIR=" + STATE).encode() in env and \
                comm not in ("python3", "chaos.py", "bash", "run.sh"):
            pids.append(int(d))
    return pids


def main():
    r = pvkit("host", "start")
    if not check("host start", r.returncode == 0, r.stderr.strip()):
        return
    names = []
    for i in range(NDOM):
        name = ("soak%d" if SOAK else "chaos%d") % i
        img = os.path.join(STATE, name + ".img")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        cfg = os.path.join(STATE, name + ".cfg")
        with open(cfg, "w") as f:
            f.write('name = "%s"\nmemory = 64\n'
                    'disk = [ "vdev=xvda, access=rw, target=%s" ]\n'
                    % (name, img))
        r = pvkit("create", "-q", cfg)
        if r.returncode:
            check("create " + name, False, r.stderr.strip())
            return
        names.append(name)
    check("%d domains created, each with a disk" % NDOM, True)
    consoles = {n: Console(n) for n in names}
    acked = {n: [] for n in names}
    errors = []
    stop = threading.Event()

    def load(name):
        con = consoles[name]
        n = 0
        while not stop.is_set():
            ans = con.ask("dw %d" % n, "dw %d " % n, 60)
            if ans == "dw %d ok" % n:
                acked[name].append(n)
                n += 1
            else:
                errors.append("%s: dw %d: %s" % (name, n, ans))
                return
            time.sleep(random.uniform(0, 0.05))

    kills = {d: 0 for d in VICTIMS}
    kill_errors = []

    def killer():
        k = 0
        while not stop.wait(random.uniform(1.0, 3.0)):
            d = VICTIMS[k % len(VICTIMS)]
            k += 1
            pid = read_pid(d)
            if not pid:
                kill_errors.append("%s not running when its turn came" % d)
                continue
            os.kill(pid, signal.SIGKILL)
            kills[d] += 1
            for _ in range(150):  # the supervisor starts it again
                time.sleep(0.1)
                p2 = read_pid(d)
                if p2 and p2 != pid:
                    break
            else:
                kill_errors.append("%s not started again in 15 s" % d)

    # each domain's disk connected (block 0 written) before the chaos
    slow = []
    for n in names:
        end = time.monotonic() + 60
        while True:
            ans = consoles[n].ask("dw 0", "dw 0 ", 30)
            if ans == "dw 0 ok" or time.monotonic() > end:
                break
            time.sleep(0.2)
        if ans != "dw 0 ok":
            slow.append("%s: %s" % (n, ans))
    if not check("every domain's disk connected", not slow,
                 "; ".join(slow)):
        return
    loaders = [threading.Thread(target=load, args=(n,)) for n in names]
    for t in loaders:
        t.start()
    rss = {d: [] for d in DAEMONS}

    def sampler():
        # the first sample once the load has settled (10 s in)
        while not stop.wait(10):
            for d in DAEMONS:
                pid = read_pid(d)
                v = rss_kib(pid) if pid else None
                if v is not None:
                    rss[d].append(v)

    kt = threading.Thread(target=sampler if SOAK else killer)
    kt.start()
    time.sleep(SECONDS)
    stop.set()
    kt.join()
    for t in loaders:
        t.join(120)
    total = sum(len(v) for v in acked.values())
    if SOAK:
        check("every domain's disk load went on for %d s; %d writes "
              "acknowledged, no error" % (SECONDS, total),
              not errors and all(acked.values()), "; ".join(errors[:3]))
        grew = []
        for d in DAEMONS:
            v = rss[d]
            print("     %s RSS KiB: first %s, last %s, max %s (%d samples)"
                  % (d, v[0] if v else "-", v[-1] if v else "-",
                     max(v) if v else "-", len(v)), flush=True)
            if len(v) >= 2 and v[-1] > v[0] * 1.1 + 4096:
                grew.append("%s %d -> %d KiB" % (d, v[0], v[-1]))
        check("the daemons' resident memory stays flat", not grew and
              all(len(rss[d]) >= 2 for d in DAEMONS) if SECONDS >= 30
              else not grew, "; ".join(grew))
    else:
        check("every domain's disk load went on through %s kills (%s); %d "
              "writes acknowledged" % (sum(kills.values()), ", ".join(
                  "%s %d" % kv for kv in kills.items()), total),
              not errors and all(acked.values()) and
              all(k > 0 for k in kills.values()), "; ".join(errors[:3]))
        check("each killed daemon was started again by the supervisor",
              not kill_errors, "; ".join(kill_errors[:3]))
    # every daemon back before the checks
    for _ in range(100):
        if all(read_pid(d) for d in VICTIMS):
            break
        time.sleep(0.1)
    r = pvkit("list")
    listed = [l.split()[0] for l in r.stdout.splitlines()[1:]]
    check("every domain is listed", all(n in listed for n in names),
          r.stdout)
    lost = []
    nblocks = (16 << 20) // 4096
    for n in names:
        # the latest acknowledged write of each block (N wraps around)
        latest = {}
        for b in acked[n]:
            latest[b % nblocks] = b
        for b in sorted(latest.values()):
            ans = consoles[n].ask("dr %d" % b, "dr %d " % b, 60)
            if ans != "dr %d ok" % b:
                lost.append("%s block %d: %s" % (n, b, ans))
    check("every acknowledged write reads back (%d writes, the latest "
          "of each block)" % total,
          not lost, "; ".join(lost[:5]))
    # the store came through every xenstored kill: each domain's nodes
    # are there, and a new domain can still be created and reached
    missing = []
    for n in names:
        r = pvkit("domid", n)
        d = r.stdout.strip()
        if r.returncode or xs_read("/local/domain/%s/name" % d) != n:
            missing.append(n)
    check("the store came through: each domain's name is in it",
          not missing, ", ".join(missing))
    dead = [n for n in names if consoles[n].ask("ping", "pong", 30) is None]
    check("every console answers", not dead, ", ".join(dead))
    for c in consoles.values():
        c.close()
    r = pvkit("host", "status")
    st = r.stdout
    bad = []
    for d in VICTIMS:
        line = [l for l in st.splitlines() if "pvkit-%s:" % d in l]
        want = "started again %d time" % kills[d]
        if not line or "running" not in line[0] or \
                (kills[d] and want not in line[0]):
            bad.append("%s: %s (killed %d times)" %
                       (d, line[0].strip() if line else "missing", kills[d]))
    check("host status: each daemon running, restarts counted truthfully",
          not bad, "; ".join(bad) + "\n" + st)
    # idle: no process of the host spins
    time.sleep(1)
    pids = host_pids()
    before = {p: cpu_ticks(p) for p in pids}
    time.sleep(3)
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for p, t0 in before.items():
        t1 = cpu_ticks(p)
        if t0 is not None and t1 is not None and (t1 - t0) / hz > 0.15:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                busy.append("%s: %.2f s" % (f.read().split(b"\0")[0].decode(),
                                           (t1 - t0) / hz))
    check("idle: none of the host's %d processes uses the CPU (< 5%% over "
          "3 s)" % len(pids), not busy, ", ".join(busy))
    r = pvkit("host", "stop", "-f", "-w", "10", timeout=120)
    time.sleep(0.5)
    left = host_pids()
    check("host stop leaves nothing running", r.returncode == 0 and not left,
          r.stderr.strip() + " " + str(left))


def diagnose():
    """After a failed check: what the supervisor saw, and each daemon's
    last errors (the state directory goes with the run)."""
    try:
        with open(os.path.join(STATE, "supervisor.log")) as f:
            lines = f.read().splitlines()
        print("--- supervisor.log (last 30 lines)")
        for l in lines[-30:]:
            print("    " + l)
    except OSError:
        pass
    for d in DAEMONS:
        try:
            with open(os.path.join(STATE, d + ".log"), errors="replace") as f:
                bad = [l for l in f.read().splitlines()
                       if "error" in l or "fatal" in l.lower() or
                       "stopping" in l or "Sanitizer" in l]
        except OSError:
            continue
        if bad:
            print("--- %s.log: last errors" % d)
            for l in bad[-8:]:
                print("    " + l)
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
        if results and not all(results):
            diagnose()
    finally:
        if not results or not results[-1]:
            subprocess.run([PVKIT, "host", "stop", "-f", "-w", "5"],
                           capture_output=True)
        p = sum(results)
        print("%d passed, %d failed" % (p, len(results) - p))
    sys.exit(0 if results and all(results) else 1)
