# SPDX-License-Identifier: Apache-2.0
"""Issue 9 items 2 and 3 in the lab: a spoofed SYN flood cannot evict
established flows, and a source over its new-flow limit is refused while
another source is not.

  syn_flood_protected   sluiced on lb1 (dsr, VIP:80 HTTP and VIP:7000 line
                        echo on be1..be3) with conn_table_size 512, so a
                        flood would fill the connection table many times
                        over, and syn_table_size 1,048,576 (see SYN_TABLE).
                        100 long-lived connections to VIP:7000 exchange a
                        line every 100 ms (scripts/lab-tools/longconn.py)
                        and a separate client opens fresh HTTP connections
                        to VIP:80 one after another, while
                        bench/line_rate/synflood (live frames: the SYNs are
                        made by an XDP program run with BPF_PROG_RUN and
                        sent by XDP_TX out of the client's eth0) floods
                        VIP:80 for FLOOD_S seconds, paced (FLOOD_MPPS) at
                        about what the lab's bridge carries to lb1,
                        every SYN from a random source in 198.18.0.0/15
                        outside 198.18.0.0/24 and a random port. What
                        reached lb1 (its eth0's frames, tx_new) and where
                        the rest was dropped (the links' counters) are
                        recorded. Pass when: none of the 100 broke (no
                        reset, timeout, or change of backend), at least 99 %
                        of the fresh connections completed (within 3 s: one
                        SYN retransmission), the flood reached the balancer
                        (tx_new grew by at least 8 x the table), and no
                        spoofed SYN reached the connection table
                        (`sluicectl conns`).
  ack_flood_protected   the protected case's checks under a flood of spoofed
                        ACKs instead (synflood --flags ack: mid-flow packets
                        of flows nobody opened, counted as tx_midflow): each
                        one's record stays unconfirmed with the SYNs', so
                        none reaches the connection table either, and no
                        long-lived connection is reset or changes backend.
                        A long-lived exchange that times out is counted, not
                        failed: the backends answer every spoofed ACK with
                        a reset, and the lab's links drop frames under it.
  syn_flood_unprotected the same flood with syn_flood_protection: false (one
                        table, as before the split). What it costs varies
                        with the rate that gets through (the kernel's LRU
                        keeps a record touched since its last pass, so
                        established flows are lost at some rates, fresh
                        handshakes at others): asserted only that something
                        was lost (a long-lived connection broke or a fresh
                        one failed); the figures are printed, and written
                        with the protected run's to $SLUICE_FLOOD_RESULTS
                        (a JSON file) when set, for bench/results.
  new_flow_limit        limits: { new_flows_per_source: 10, burst: 10 }
                        globally. 5 long-lived connections from the client,
                        then 60 connections opened at once from the client:
                        many refused under drop_new_flow_limit; then 5
                        connections from another source (198.18.0.20, added
                        to the client for the test), spaced below the
                        limit, all complete, and the 5 long-lived ones
                        never broke (established flows are never limited).

Everything stays in the lab: the flood's destination is the VIP and its
sources 198.18.0.0/15 outside the lab's own 198.18.0.0/24 (the backends
have no route back; their SYN-ACKs die at home). Bounded: FLOOD_S seconds
and FLOOD_MAX frames of flood, every helper with a deadline.
Environment (benchmarks only; the tests run the defaults):
SLUICE_FLOOD_SENDER=live|mmsg|python, SLUICE_FLOOD_CPUS, SLUICE_FLOOD_MPPS
(pace the live sender), SLUICE_FLOOD_SYN_TABLE.
"""
import collections
import json
import os
import subprocess
import time

E = None  # the e2e module
R = None  # e2e_runtime (RCase, LongConns, Stream, ctl)

SYNFLOOD_PY = SYNFLOOD_BIN = None
FLOOD_S = 12.0
# Sender threads and pacing (Mpps, 0: as fast as it goes); the environment
# may change them for a benchmark, the defaults are what the tests run.
# Paced at 0.6 (the pacer sends ~0.19 M/s of it): about what the lab's
# bridge carries to lb1 on this machine type (170,000-190,000 SYN/s reach
# it). Unpaced, no more reaches lb1, but the bridge drops 40-55 % of every
# frame in front of it, the long-lived connections' too, and a CI run once
# failed on their retransmission timeouts: a test of the lab's bridge, not
# of the balancer.
FLOOD_CPUS = int(os.environ.get("SLUICE_FLOOD_CPUS", "1"))
FLOOD_MPPS = float(os.environ.get("SLUICE_FLOOD_MPPS", "0.6"))
FLOOD_MAX = 60_000_000  # frames: a bound beside FLOOD_S
# The SYN table holds a flood's rate times the handshake time under it (up
# to ~1.5 s here at ~400k SYN/s): at the default 65,536 the flood evicts real
# clients' half-open records and their ACK is scheduled afresh (the limit
# the README names).
SYN_TABLE = int(os.environ.get("SLUICE_FLOOD_SYN_TABLE", str(1 << 20)))
FRESH_TIMEOUT_S = 3.0
CONN_TABLE = 512
LONG_CONNS = 100
NEW_CONN_SHARE = 0.99


def write_cfg(path, protection, extra_top=()):
    lines = ["interface: eth0", "dataplane: xdp", f"xdp_mode: {E.XDP_MODE}",
             f"api_socket: {E.SOCK}", "metrics_listen: 127.0.0.1:9477",
             f"conn_table_size: {CONN_TABLE}", f"syn_table_size: {SYN_TABLE}",
             f"syn_flood_protection: {'true' if protection else 'false'}"]
    lines += list(extra_top)
    lines.append("vips:")
    for port in (80, R.ECHO_PORT):
        lines += [f"  - address: {E.VIP[4]}", f"    port: {port}", "    protocol: tcp",
                  "    mode: dsr", "    backends:"]
        lines += [f"      - {{ address: {E.BE[4][b]}, weight: 1 }}" for b in ("be1", "be2", "be3")]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def FloodCase(name, protection, extra_top=()):
    """e2e_runtime.RCase with this module's config (two VIPs, the flood
    settings)."""
    case = R.RCase(name, [])

    def setup(extra=()):
        E.reset_lb1()
        E.backend_setup(R.MODE)
        write_cfg(case.c.config, protection, extra_top)
        case.c.sluiced = R.Sluiced(case.c.config, case.detach, case.c.log, extra)
        case.c.sluiced.start(4)

    case.setup = setup
    return case


def stats():
    return json.loads(E.sluicectl("stats", "-o", "json").stdout)


def reason(st, name):
    return E.reason_packets(st, name)


def lb1_mac():
    return json.loads(E.sh(["ip", "-n", "lb1", "-j", "link", "show", "dev", "eth0"],
                           timeout=10).stdout)[0]["address"]


# The flood's path: client eth0 -> sw:client (bridge br0) -> sw:lb1 -> lb1 eth0.
PATH_LINKS = (("client", "eth0"), ("sw", "client"), ("sw", "lb1"), ("lb1", "eth0"))


def link_counts():
    """{ns/dev: {rx, rx_dropped, tx, tx_dropped}} along the flood's path."""
    out = {}
    for ns, dev in PATH_LINKS:
        st = json.loads(E.sh(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev],
                             timeout=10).stdout)[0]["stats64"]
        out[f"{ns}/{dev}"] = {"rx": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"],
                              "tx": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"]}
    return out


def counts_delta(a, b):
    return {k: {f: b[k][f] - a[k][f] for f in a[k]} for k in a}


def sender():
    """The fastest flood sender built: bench/line_rate's synflood with live
    frames, else (not built, and not under CI) synflood.py."""
    want = os.environ.get("SLUICE_FLOOD_SENDER", "")  # live | mmsg | python (benchmarks)
    if want == "python":
        return want
    if os.path.exists(SYNFLOOD_BIN):
        return want or "live"
    if E.CI:
        raise AssertionError(f"{SYNFLOOD_BIN} not built (meson -Dbench=enabled)")
    print(f"    NOTE: {SYNFLOOD_BIN} not built: flooding with synflood.py (~50k SYN/s)")
    return "python"


class PeerXdp:
    """Live frames leave the client's eth0 by XDP_TX, which a veth delivers
    only when its peer runs NAPI: the lab's XDP_PASS program on sw:client
    for the flood's length, as the lab has on sw:lb1 and sw:lb2."""

    def __init__(self):
        self.on = False

    def __enter__(self):
        link = E.sh(["ip", "-n", "sw", "-d", "link", "show", "dev", "client"], timeout=10).stdout
        if "prog/xdp" not in link:
            E.sh(["ip", "-n", "sw", "link", "set", "dev", "client", "xdpdrv", "obj",
                  E.PASS_OBJ, "sec", "xdp"], timeout=10)
            self.on = True
        return self

    def __exit__(self, *exc):
        if self.on:
            E.sh(["ip", "-n", "sw", "link", "set", "dev", "client", "xdpdrv", "off"],
                 timeout=10, check=False)
            self.on = False
        return False


def flood(seconds, how, flags="syn"):
    """The flood from the client namespace, as fast as `how` sends;
    returns its Popen. `flags`: syn, or ack (the compiled sender only)."""
    if flags != "syn" and how not in ("live", "mmsg"):
        raise AssertionError(f"an {flags} flood needs {SYNFLOOD_BIN} (not built)")
    if how in ("live", "mmsg"):
        cmd = [SYNFLOOD_BIN, "--sender", how, "--cpus", str(FLOOD_CPUS),
               "--count", str(FLOOD_MAX), "--flags", flags]
        if FLOOD_MPPS > 0:
            cmd += ["--mpps", str(FLOOD_MPPS)]
    else:
        cmd = ["/usr/bin/python3", SYNFLOOD_PY]
    cmd = ["ip", "netns", "exec", "client"] + cmd + [
        "--iface", "eth0", "--dmac", lb1_mac(), "--vip", E.VIP[4], "--port", "80",
        "--seconds", str(seconds)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def flood_result(p):
    try:
        out, err = p.communicate(timeout=FLOOD_S + 30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError(f"synflood failed: {(err or out)[-400:]}")


def spoofed_in_table():
    conns = json.loads(E.sluicectl("conns", "-o", "json", timeout=30).stdout)["conns"]
    return [c for c in conns if not c["client"].startswith("198.18.0.")], len(conns)


def fresh_stream(deadline):
    """e2e_runtime.Stream (fresh HTTP GETs to VIP:80 one after another)
    with a connect timeout of FRESH_TIMEOUT_S instead of 1 s: long enough
    for one SYN retransmission (the kernel's first comes after 1 s), as a
    real client allows; a connection that needed it is counted as slow."""
    return R.Stream(port=80, interval=0.02, deadline=deadline, timeout=FRESH_TIMEOUT_S)


def run_flood(name, protection, flags="syn"):
    """The flood with 100 long-lived connections and a fresh-connection
    stream; returns (figures, problems). `flags`: syn, or ack (spoofed
    mid-flow packets, which must wait unconfirmed as SYNs do)."""
    case = FloodCase(name, protection)
    problems, longc, stream, fl = [], None, None, None
    fig = {"protection": protection, "flood_flags": flags, "conn_table_size": CONN_TABLE,
           "syn_table_size": SYN_TABLE}
    how = sender()
    peer = PeerXdp()
    try:
        case.setup()
        if how == "live":
            peer.__enter__()
        longc = R.LongConns(LONG_CONNS, period=0.1, timeout=2.0, duration=FLOOD_S + 40)
        time.sleep(1.0)
        before, links0 = stats(), link_counts()
        stream = fresh_stream(FLOOD_S + 30)
        t0 = time.monotonic()
        fl = flood(FLOOD_S, how, flags)
        sent = flood_result(fl)
        fl = None
        t1 = time.monotonic()
        after, links1 = stats(), link_counts()
        peer.__exit__()
        # The long-lived connections' next exchanges, and the fresh ones
        # begun during the flood finish (or time out).
        time.sleep(FRESH_TIMEOUT_S + 0.5)
        ev = [e for e in stream.snapshot() if t0 <= e[0] <= t1]
        stream.stop()
        stream = None
        res = longc.finish()
        longc = None
        spoofed, table = spoofed_in_table()
        ok = [e for e in ev if not e[2].startswith("!")]
        links = counts_delta(links0, links1)
        # A spoofed SYN is a new flow; a spoofed ACK a mid-flow one.
        new = reason(after, "tx_new") - reason(before, "tx_new")
        if flags == "ack":
            new = reason(after, "tx_midflow") - reason(before, "tx_midflow")
        fig.update({
            "flood": sent,
            "lb1_rx_frames": links["lb1/eth0"]["rx"],
            "lb1_rx_per_s": round(links["lb1/eth0"]["rx"] / max(t1 - t0, 1e-3)),
            "links": links,
            "balancer_new_flows": new,
            "balancer_new_flows_per_s": round(new / max(t1 - t0, 1e-3)),
            "tx_midflow": reason(after, "tx_midflow") - reason(before, "tx_midflow"),
            "long_lived": LONG_CONNS, "long_lived_broken": res["failed"],
            "long_lived_errors": res["errors"], "long_lived_max_gap_ms": res["max_gap_ms"],
            "fresh_connections": len(ev), "fresh_completed": len(ok),
            "fresh_slow_over_1s": sum(1 for e in ok if e[1] - e[0] > 1.0),
            "fresh_errors": dict(collections.Counter(e[2] for e in ev if e[2].startswith("!"))),
            "spoofed_in_conn_table": len(spoofed), "conn_table_entries": table,
        })
        if new < 8 * CONN_TABLE:
            problems.append(f"the flood hardly reached the balancer: tx_new/midflow grew by {new} "
                            f"(want >= {8 * CONN_TABLE}); sender: {sent}")
        if len(ev) < 20:
            problems.append(f"only {len(ev)} fresh connections were tried during the flood")
        if not protection and not res["failed"] and len(ok) == len(ev):
            problems.append("with the protection off the flood cost nothing: no long-lived "
                            "connection broke and every fresh one completed")
        if protection:
            # Under the ACK flood every backend answers each spoofed ACK
            # with a reset toward a made-up source: the lab's links drop
            # frames, and a long-lived exchange can time out (its record
            # stays: no reset, no backend change). Those are counted, not
            # failed; a reset or a change of backend fails.
            broken = res["failed"]
            if flags == "ack":
                broken = res.get("changed_backend", 0) + sum(
                    n for k, n in res.get("errors", {}).items() if k != "timeout")
                fig["long_lived_timeouts"] = res.get("errors", {}).get("timeout", 0)
            if broken:
                problems.append(f"{broken} of {LONG_CONNS} long-lived connections broke "
                                f"under the flood: {R.short(res)}")
            if ev and len(ok) < NEW_CONN_SHARE * len(ev):
                bad = [e for e in ev if e[2].startswith("!")]
                problems.append(f"{len(ok)} of {len(ev)} fresh connections completed (want "
                                f">= {NEW_CONN_SHARE:.0%}): {bad[:5]}")
            if spoofed:
                problems.append(f"{len(spoofed)} spoofed flows in the connection table: "
                                f"{spoofed[:3]}")
        if problems:
            problems.append(json.dumps(fig))
            problems.append(case.log_tail())
    finally:
        if fl is not None:
            fl.kill()
            fl.communicate(timeout=5)
        if stream is not None:
            stream.stop()
        if longc is not None:
            longc.kill()
        peer.__exit__()
        problems += case.teardown()
    return fig, problems


RESULTS = {}


def save(fig):
    key = "protected" if fig["protection"] else "unprotected"
    if fig.get("flood_flags", "syn") != "syn":
        key = f"{fig['flood_flags']}_{key}"
    RESULTS[key] = fig
    path = os.environ.get("SLUICE_FLOOD_RESULTS")
    if path:
        with open(path, "w") as f:
            json.dump(RESULTS, f, indent=1)
    print("    " + json.dumps({k: v for k, v in fig.items() if k != "long_lived_errors"}))


def t_syn_flood_protected():
    fig, problems = run_flood("flood-on", True)
    save(fig)
    if problems:
        raise AssertionError("\n".join(problems))


def t_ack_flood_protected():
    """Spoofed ACKs (flows nobody opened) at the same rate: they wait
    unconfirmed with the SYNs' records, so the same promises hold."""
    fig, problems = run_flood("ackflood-on", True, "ack")
    save(fig)
    if problems:
        raise AssertionError("\n".join(problems))


def t_syn_flood_unprotected():
    fig, problems = run_flood("flood-off", False)
    save(fig)
    if problems:
        raise AssertionError("\n".join(problems))


# Opens N connections at once (non-blocking) and counts those that complete
# within the timeout; one JSON line. Run in a namespace of the lab.
BURST = r"""
import json, selectors, socket, sys, time
sys.path.insert(0, sys.argv[1])
from labnet import lab_target
vip, port, n, timeout, gap = str(lab_target(sys.argv[2], "burst")), int(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
src = sys.argv[7]
done = 0
sel = selectors.DefaultSelector()
socks = []
for i in range(n):
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.setblocking(False)
    s.connect_ex((vip, port))
    socks.append(s)
    sel.register(s, selectors.EVENT_WRITE)
    if gap:
        time.sleep(gap)
end = time.monotonic() + timeout
while sel.get_map() and time.monotonic() < end:
    for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
        sel.unregister(key.fileobj)
        if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            done += 1
for s in socks:
    s.close()
print(json.dumps({"tried": n, "completed": done}))
"""


OTHER_SOURCE = "198.18.0.20"


def burst(n, timeout, gap=0.0, src=""):
    p = E.sh(["ip", "netns", "exec", "client", "/usr/bin/python3", "-c", BURST,
              os.path.join(E.REPO, "scripts", "lab-tools"), E.VIP[4], "80", str(n),
              str(timeout), str(gap), src], timeout=60)
    return json.loads(p.stdout.strip().splitlines()[-1])


def t_new_flow_limit():
    case = FloodCase("limit", True, ["limits: { new_flows_per_source: 10, burst: 10 }"])
    problems, longc, added = [], None, False
    try:
        case.setup()
        E.sh(["ip", "-n", "client", "addr", "add", f"{OTHER_SOURCE}/24", "dev", "eth0"])
        added = True
        status = json.loads(E.sluicectl("status", "-o", "json").stdout)
        if status.get("new_flow_limit") != {"new_flows_per_source": 10, "burst": 10}:
            problems.append(f"status does not show the limit: {status.get('new_flow_limit')}")
        longc = R.LongConns(5, period=0.1, timeout=2.0, duration=40)
        time.sleep(1.2)  # the bucket refills
        before = stats()
        # 60 at once from one source: its bucket holds 10.
        over = burst(60, 0.5)
        mid = stats()
        time.sleep(1.2)
        # Another source, 5 connections 0.15 s apart: under its own limit.
        other = burst(5, 3.0, gap=0.15, src=OTHER_SOURCE)
        time.sleep(1.0)
        res = longc.finish()
        longc = None
        limited = reason(mid, "drop_new_flow_limit") - reason(before, "drop_new_flow_limit")
        if limited < 20:
            problems.append(f"drop_new_flow_limit grew by {limited} while one source opened "
                            f"60 connections at once against a bucket of 10 (want >= 20)")
        if over["completed"] > 30:
            problems.append(f"{over['completed']} of 60 connections over the limit completed")
        if other["completed"] != other["tried"]:
            problems.append(f"another source's connections: {other['completed']} of "
                            f"{other['tried']} completed (want all)")
        if res["failed"]:
            problems.append(f"established connections of the limited source broke: "
                            f"{R.short(res)}")
        msg = (f"    limited source: {over}, drop_new_flow_limit +{limited}; other source: "
               f"{other}; long-lived: {res['ok']}/{res['n']} ok")
        if E.VERBOSE or problems:
            print(msg)
        if problems:
            problems.append(case.log_tail())
    finally:
        if longc is not None:
            longc.kill()
        if added:
            E.sh(["ip", "-n", "client", "addr", "del", f"{OTHER_SOURCE}/24", "dev", "eth0"],
                 check=False)
        problems += case.teardown()
    if problems:
        raise AssertionError("\n".join(problems))


def register(mod, runtime):
    global E, R, SYNFLOOD_PY, SYNFLOOD_BIN
    E, R = mod, runtime
    SYNFLOOD_PY = os.path.join(E.REPO, "scripts", "lab-tools", "synflood.py")
    SYNFLOOD_BIN = os.path.join(E.BUILD, "bench", "line_rate", "synflood")
    E.TESTS += [
        ("syn_flood_protected", t_syn_flood_protected, True),
        ("syn_flood_unprotected", t_syn_flood_unprotected, True),
        ("ack_flood_protected", t_ack_flood_protected, True),
        ("new_flow_limit", t_new_flow_limit, True),
    ]
