#!/usr/bin/env python3
"""bench_net.py - pvkit's network benchmark (run it through run.sh).

Side by side, in one run, inside a private network and mount namespace of
its own (so test traffic stays between namespaces it made):

  veth      two network namespaces joined by a veth pair: the physical
            limit of this machine for namespace-to-namespace traffic;
  floor     the least any design of pvkit's shape can do: a TAP in each
            "domain" namespace, each relayed by a trivial program
            (pvkit-taprelay: read a frame, write it) to a TAP on a bridge,
            the "Dom0" namespace on the bridge by a veth pair, as for pvkit;
  pvkit     a pvkit host (pvkit-hvd, -xenstored, -netback, ...) with two
            domains whose vifs are on the bridge xenbr0; the Dom0 end is a
            namespace joined to the bridge by a veth pair; each domain's
            interface is eth0 in its namespace pvkit-<name>;
            with 1 and 4 queues per vif, and QEMU-style rx-copy-only
            operation (SG, GSO and checksum offload off, 1 queue).

Measured with iperf3 (TCP throughput, one stream each way and four
parallel streams DomU->Dom0 against four on veth, 64-byte UDP packets per
second) and
ping (round-trip time), and the machine's busy CPU time per Gbit (all
CPUs, from /proc/stat, over the transfer).  --hog measures everything
again with one busy loop per CPU (bench/common/pvkit-hog).  --json prints
one JSON object with every figure and ratio.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STATE = None
ARGS = None


def log(*a):
    if not ARGS.json:
        print(*a, file=sys.stderr, flush=True)


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=True, text=True, capture_output=True, **kw)
    if check and r.returncode:
        raise RuntimeError("%s: exit %d: %s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r.stdout


def cpu_busy():
    """Busy CPU seconds of the whole machine so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def ns_argv(ns, argv):
    return (["ip", "netns", "exec", ns] if ns else []) + argv


def iperf(srv_ns, srv_ip, cli_ns, extra=()):
    """One iperf3 run from cli_ns to srv_ip (in srv_ns); its JSON and
    the busy CPU seconds it took."""
    srv = subprocess.Popen(ns_argv(srv_ns, ["iperf3", "-s", "-1", "-B", srv_ip]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):  # until the server listens
            time.sleep(0.1)
            c0 = cpu_busy()
            r = subprocess.run(ns_argv(cli_ns, ["iperf3", "-c", srv_ip, "-t", str(ARGS.time),
                                                "-J"] + list(extra)),
                               capture_output=True, text=True, timeout=ARGS.time + 60)
            c1 = cpu_busy()
            if r.returncode == 0:
                break
            if "refused" not in r.stdout + r.stderr:
                raise RuntimeError("iperf3 to %s: %s%s" % (srv_ip, r.stdout, r.stderr))
        else:
            raise RuntimeError("iperf3 server on %s never listened" % srv_ip)
        srv.wait(timeout=10)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    return json.loads(r.stdout), c1 - c0


def tcp(srv_ns, srv_ip, cli_ns, streams=1):
    j, cpu = iperf(srv_ns, srv_ip, cli_ns, ["-P", str(streams)] if streams > 1 else [])
    bps = j["end"]["sum_received"]["bits_per_second"]
    secs = j["end"]["sum_received"]["seconds"]
    gbit = bps * secs / 1e9
    return {"gbit_s": bps / 1e9, "cpu_s_per_gbit": cpu / gbit if gbit else None}


def udp64(srv_ns, srv_ip, cli_ns):
    j, _ = iperf(srv_ns, srv_ip, cli_ns, ["-u", "-l", "64", "-b", "0"])
    s = j["end"]["sum"]
    got = s["packets"] - s.get("lost_packets", 0)
    return {"pps": got / s["seconds"], "lost_pct": s.get("lost_percent", 0.0)}


def ping(ns, ip):
    pre = "ip netns exec %s " % ns if ns else ""
    out = sh("%sping -q -c 300 -i 0.002 %s" % (pre, ip))
    line = [l for l in out.splitlines() if "min/avg" in l][0]
    mn, avg, mx = [float(x) for x in line.split("=")[1].split()[0].split("/")[:3]]
    return {"rtt_avg_us": avg * 1000, "rtt_min_us": mn * 1000}


# ---- the veth baseline ---------------------------------------------------

def veth_setup():
    for ns in ("pvkb-a", "pvkb-b"):
        sh("ip netns add %s" % ns)
        sh("ip netns exec %s ip link set lo up" % ns)
    sh("ip link add pvkb-va type veth peer name pvkb-vb")
    sh("ip link set pvkb-va netns pvkb-a")
    sh("ip link set pvkb-vb netns pvkb-b")
    sh("ip netns exec pvkb-a ip addr add 10.98.0.1/24 dev pvkb-va")
    sh("ip netns exec pvkb-b ip addr add 10.98.0.2/24 dev pvkb-vb")
    sh("ip netns exec pvkb-a ip link set pvkb-va up")
    sh("ip netns exec pvkb-b ip link set pvkb-vb up")


def veth_measure():
    return {
        "tcp": tcp("pvkb-b", "10.98.0.2", "pvkb-a"),
        "tcp4": tcp("pvkb-b", "10.98.0.2", "pvkb-a", 4),
        "udp64": udp64("pvkb-b", "10.98.0.2", "pvkb-a"),
        "ping": ping("pvkb-a", "10.98.0.2"),
    }


# ---- the floor: TAP relays ----------------------------------------------

RELAYS = []


def floor_setup(build):
    """Two 'domains' (pvkb-fa, pvkb-fb) whose TAPs are relayed to TAPs on
    bridge pvkb-fbr; 'Dom0' is pvkb-fd, on the bridge by a veth pair."""
    relay = os.path.join(build, "bench/net/pvkit-taprelay")
    sh("ip link add pvkb-fbr type bridge")
    sh("ip link set pvkb-fbr up")
    for ns in ("pvkb-fa", "pvkb-fb", "pvkb-fd"):
        sh("ip netns add %s" % ns)
        sh("ip netns exec %s ip link set lo up" % ns)
    for i, ns in enumerate(("pvkb-fa", "pvkb-fb")):
        inner, outer = "pvkb-ft%d" % i, "pvkb-fv%d" % i
        p = subprocess.Popen([relay, inner, outer], stdout=subprocess.PIPE, text=True)
        RELAYS.append(p)
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("pvkit-taprelay did not start")
        sh("ip link set %s netns %s" % (inner, ns))
        sh("ip netns exec %s ip addr add 10.97.0.%d/24 dev %s" % (ns, 2 + i, inner))
        sh("ip netns exec %s ip link set %s up" % (ns, inner))
        sh("ip link set %s master pvkb-fbr up" % outer)
    sh("ip link add pvkb-fdbr type veth peer name pvkb-fd0")
    sh("ip link set pvkb-fd0 netns pvkb-fd")
    sh("ip link set pvkb-fdbr master pvkb-fbr up")
    sh("ip netns exec pvkb-fd ip addr add 10.97.0.1/24 dev pvkb-fd0")
    sh("ip netns exec pvkb-fd ip link set pvkb-fd0 up")
    for ip in ("10.97.0.2", "10.97.0.3"):
        sh("ip netns exec pvkb-fd ping -c 1 -W 5 %s" % ip)


def floor_measure():
    a, b, d0 = "pvkb-fa", "pvkb-fb", "pvkb-fd"
    return {
        "tcp_domu_to_dom0": tcp(d0, "10.97.0.1", a),
        "tcp_dom0_to_domu": tcp(a, "10.97.0.2", d0),
        "tcp_domu_to_domu": tcp(b, "10.97.0.3", a),
        "udp64_domu_to_dom0": udp64(d0, "10.97.0.1", a),
        "ping_domu_to_dom0": ping(a, "10.97.0.1"),
    }


# ---- pvkit ------------------------------------------------------------------

def pvkit(*a, check=True):
    return sh("%s %s" % (PVKIT, " ".join(a)), check=check)


def pvkit_setup():
    pvkit("host start")
    # Dom0's end: a namespace on the bridge
    sh("ip netns add pvkb-dom0")
    sh("ip netns exec pvkb-dom0 ip link set lo up")
    sh("ip link add pvkb-d0br type veth peer name pvkb-d0")
    sh("ip link set pvkb-d0 netns pvkb-dom0")
    sh("ip link set pvkb-d0br master xenbr0 up")
    sh("ip netns exec pvkb-dom0 ip addr add 10.99.0.1/24 dev pvkb-d0")
    sh("ip netns exec pvkb-dom0 ip link set pvkb-d0 up")
    sh("ip link set xenbr0 up")


def domains(queues, offload):
    """(Re)create the two domains with netfront's knobs; their IPs up."""
    for n in ("benchA", "benchB"):
        pvkit("destroy", n, check=False)
    env = dict(os.environ)
    env["PVKIT_NETFRONT_QUEUES"] = str(queues)
    env["PVKIT_NETFRONT_OFFLOAD"] = "1" if offload else "0"
    for i, n in enumerate(("benchA", "benchB")):
        cfg = os.path.join(STATE, n + ".cfg")
        with open(cfg, "w") as f:
            f.write('name = "%s"\nmemory = 64\nvcpus = 2\n'
                    'vif = [ "bridge=xenbr0,mac=00:16:3e:00:99:%02x" ]\n' % (n, 10 + i))
        subprocess.run("%s create %s" % (PVKIT, cfg), shell=True, env=env, check=True,
                       capture_output=True)
    for i, n in enumerate(("benchA", "benchB")):
        ns = "pvkit-" + n
        for _ in range(100):
            if subprocess.run("ip netns exec %s ip link show eth0" % ns, shell=True,
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("%s: no eth0 in %s (see %s)" % (n, ns, STATE))
        sh("ip netns exec %s ip addr add 10.99.0.%d/24 dev eth0" % (ns, 2 + i))
    # every path answers before measuring
    for ip in ("10.99.0.2", "10.99.0.3"):
        sh("ip netns exec pvkb-dom0 ping -c 1 -W 5 %s" % ip)


def pvkit_measure():
    a, b, d0 = "pvkit-benchA", "pvkit-benchB", "pvkb-dom0"
    return {
        "tcp_domu_to_dom0": tcp(d0, "10.99.0.1", a),
        "tcp4_domu_to_dom0": tcp(d0, "10.99.0.1", a, 4),
        "tcp_dom0_to_domu": tcp(a, "10.99.0.2", d0),
        "tcp_domu_to_domu": tcp(b, "10.99.0.3", a),
        "udp64_domu_to_dom0": udp64(d0, "10.99.0.1", a),
        "ping_domu_to_dom0": ping(a, "10.99.0.1"),
    }


def netback_counters():
    """netback's stats lines (SIGUSR1): proof of what the vifs used."""
    pid = int(open(os.path.join(STATE, "netback.pid")).read())
    os.kill(pid, signal.SIGUSR1)
    time.sleep(0.3)
    lines = [l for l in open(os.path.join(STATE, "netback.log")) if " stats: " in l]
    return lines[-2:]


# ---- the run ---------------------------------------------------------------

def measure_all():
    res = {"veth": veth_measure(), "floor": floor_measure()}
    for name, q, off in (("pvkit_q1", 1, True), ("pvkit_q4", 4, True),
                         ("pvkit_rxcopy", 1, False)):
        log("  %s ..." % name)
        domains(q, off)
        res[name] = pvkit_measure()
        res[name]["netback"] = netback_counters()
    return res


TCP_PATHS = ("tcp_domu_to_dom0", "tcp_dom0_to_domu", "tcp_domu_to_domu")


def ratios(r):
    v, fl = r["veth"], r["floor"]
    out = {"floor": {k + "_vs_veth": fl[k]["gbit_s"] / v["tcp"]["gbit_s"]
                     for k in TCP_PATHS}}
    out["floor"]["udp64_vs_veth"] = fl["udp64_domu_to_dom0"]["pps"] / v["udp64"]["pps"]
    out["floor"]["ping_vs_veth"] = (fl["ping_domu_to_dom0"]["rtt_avg_us"] /
                                    v["ping"]["rtt_avg_us"])
    for cfg in ("pvkit_q1", "pvkit_q4"):
        p, rc = r[cfg], r["pvkit_rxcopy"]
        out[cfg] = {
            k + "_vs_veth": p[k]["gbit_s"] / v["tcp"]["gbit_s"]
            for k in ("tcp_domu_to_dom0", "tcp_dom0_to_domu", "tcp_domu_to_domu")}
        out[cfg].update({
            k + "_vs_rxcopy": p[k]["gbit_s"] / rc[k]["gbit_s"]
            for k in ("tcp_domu_to_dom0", "tcp_dom0_to_domu", "tcp_domu_to_domu")})
        out[cfg].update({k + "_vs_floor": p[k]["gbit_s"] / fl[k]["gbit_s"]
                         for k in TCP_PATHS})
        out[cfg]["udp64_vs_floor"] = (p["udp64_domu_to_dom0"]["pps"] /
                                      fl["udp64_domu_to_dom0"]["pps"])
        out[cfg]["ping_vs_floor"] = (p["ping_domu_to_dom0"]["rtt_avg_us"] /
                                     fl["ping_domu_to_dom0"]["rtt_avg_us"])
        out[cfg]["tcp4_domu_to_dom0_vs_veth"] = (p["tcp4_domu_to_dom0"]["gbit_s"] /
                                                 v["tcp4"]["gbit_s"])
        out[cfg]["udp64_vs_veth"] = p["udp64_domu_to_dom0"]["pps"] / v["udp64"]["pps"]
        out[cfg]["ping_vs_veth"] = (p["ping_domu_to_dom0"]["rtt_avg_us"] /
                                    v["ping"]["rtt_avg_us"])
    return out


def table(label, r, rat):
    v, fl = r["veth"], r["floor"]
    rows = [
        ("TCP DomU->Dom0 Gbit/s", "tcp_domu_to_dom0", "gbit_s", v["tcp"]["gbit_s"]),
        ("TCP Dom0->DomU Gbit/s", "tcp_dom0_to_domu", "gbit_s", v["tcp"]["gbit_s"]),
        ("TCP DomU->DomU Gbit/s", "tcp_domu_to_domu", "gbit_s", v["tcp"]["gbit_s"]),
        ("TCP x4 DomU->Dom0 Gbit/s", "tcp4_domu_to_dom0", "gbit_s", v["tcp4"]["gbit_s"]),
        ("CPU s/Gbit DomU->Dom0", "tcp_domu_to_dom0", "cpu_s_per_gbit",
         v["tcp"]["cpu_s_per_gbit"]),
        ("UDP 64 B kpps DomU->Dom0", "udp64_domu_to_dom0", "pps", v["udp64"]["pps"]),
        ("ping RTT us DomU->Dom0", "ping_domu_to_dom0", "rtt_avg_us", v["ping"]["rtt_avg_us"]),
    ]
    nan = float("nan")
    print("\n%s" % label)
    print("%-26s %8s %8s %8s %8s %8s %8s %8s %8s" % (
        "", "veth", "floor", "q1", "q4", "rx-copy", "q4/veth", "q4/floor", "q4/rxcp"))
    for title, key, f, base in rows:
        scale = 1e-3 if f == "pps" else 1
        vals = [r[c][key][f] for c in ("pvkit_q1", "pvkit_q4", "pvkit_rxcopy")]
        flv = fl[key][f] if key in fl and f in fl[key] else None
        print("%-26s %8.2f %8s %8.2f %8.2f %8.2f %8.2f %8s %8.2f" % (
            title, base * scale, "%.2f" % (flv * scale) if flv else "-",
            vals[0] * scale, vals[1] * scale, vals[2] * scale,
            vals[1] / base if base else nan,
            "%.2f" % (vals[1] / flv) if flv else "-",
            vals[1] / vals[2] if vals[2] else nan))
    print("floor/veth: DomU->Dom0 %.2f, Dom0->DomU %.2f, DomU->DomU %.2f" % tuple(
        rat["floor"][k + "_vs_veth"] for k in TCP_PATHS))


def main():
    global ARGS, STATE, PVKIT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--hog", action="store_true")
    ap.add_argument("-t", "--time", type=float, default=5, help="seconds per transfer")
    ARGS = ap.parse_args()
    build = os.path.abspath(ARGS.build)
    PVKIT = os.path.join(build, "src/toolstack/pvkit")
    for var, rel in (("PVKIT_HVD", "src/hv/pvkit-hvd"),
                     ("PVKIT_XENSTORED", "src/xenstore/pvkit-xenstored"),
                     ("PVKIT_CONSOLED", "src/console/pvkit-consoled"),
                     ("PVKIT_BLKBACK", "src/backends/blkback/pvkit-blkback"),
                     ("PVKIT_NETBACK", "src/backends/netback/pvkit-netback"),
                     ("PVKIT_GUEST", "src/kernels/guest/pvkit-guest")):
        os.environ[var] = os.path.join(build, rel)
        if not os.access(os.environ[var], os.X_OK):
            sys.exit("bench_net: %s missing: build first (ninja -C %s)" % (rel, build))
    for tool in ("iperf3", "ping", "ip"):
        if not shutil.which(tool):
            sys.exit("bench_net: %s not installed (scripts/install-deps.sh)" % tool)
    STATE = tempfile.mkdtemp(prefix="pvkit-bench-net-")
    os.environ["PVKIT_STATE_DIR"] = STATE
    hog = None
    result = {"machine": {"cpus": os.cpu_count()}, "time_s": ARGS.time}
    try:
        sh("ip link set lo up")
        veth_setup()
        floor_setup(build)
        pvkit_setup()
        log("quiet:")
        result["quiet"] = measure_all()
        result["quiet"]["ratios"] = ratios(result["quiet"])
        if ARGS.hog:
            hog = subprocess.Popen([os.path.join(build, "bench/common/pvkit-hog"), "sleep",
                                    "100000"])
            time.sleep(0.5)
            log("contended (one busy loop per CPU):")
            result["contended"] = measure_all()
            result["contended"]["ratios"] = ratios(result["contended"])
    finally:
        if hog:
            hog.terminate()
            hog.wait()
        pvkit("host stop -f -w 5", check=False)
        for p in RELAYS:
            p.kill()
            p.wait()
        for ns in ("pvkb-a", "pvkb-b", "pvkb-dom0", "pvkb-fa", "pvkb-fb", "pvkb-fd"):
            sh("ip netns del %s" % ns, check=False)
    if ARGS.json:
        print(json.dumps(result, indent=1))
    else:
        table("quiet (veth: two namespaces on a veth pair; floor: TAPs relayed to "
              "TAPs on a bridge; q1/q4: pvkit vifs with 1/4 queues; rx-copy: SG, "
              "GSO, csum offload off)",
              result["quiet"], result["quiet"]["ratios"])
        if "contended" in result:
            table("contended (one busy loop per CPU)", result["contended"],
                  result["contended"]["ratios"])
        print("\nnetback counters (last config of the quiet run):")
        for l in result["quiet"]["pvkit_q4"]["netback"]:
            print("  " + l.strip())
    shutil.rmtree(STATE, ignore_errors=True)


if __name__ == "__main__":
    main()
