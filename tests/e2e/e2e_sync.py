# SPDX-License-Identifier: Apache-2.0
"""Issue 7's headline in the lab: established connections survive a
failover. Imported by e2e.py (register(e2e_module, e2e_runtime)).

A sluiced pair (lb1 priority 200, lb2 100, 100 ms adverts, `sync:` to each
other) with VIP 198.18.0.100:7000/tcp (dsr) before the backends' line echo;
100 long-lived connections from the client (scripts/lab-tools/longconn.py,
a line every 100 ms, 2 s answer timeout) open through lb1; lb1 dies. With
sync, all 100 continue on their original backends with no reset; without
it, the figure of survivors is printed (lb2 schedules the mid-flow packets
afresh and some land on another backend, which resets them). Then failback:
100 more connections opened through lb2 while lb1 is down; lb1 returns,
resyncs and preempts, and all 200 continue.
"""
import os
import sys
import time

E = None
R = None
vp = None
N_CONNS = 100


def say(msg):
    print(f"    sync: {msg}", flush=True)


def start_pair(pair, sync):
    pair.setup()
    nodes = []
    for ns, prio in (("lb2", 100), ("lb1", 200)):
        n = vp.SluicedNode(ns, pair.tmp, E.BUILD, prio, 100, xdp_mode=E.XDP_MODE,
                           extra_vips=[(R.ECHO_PORT, "tcp")], sync=sync)
        pair.nodes[ns] = n
        nodes.append(n.start())
    return nodes


def survive(sync, link_down=True):
    """Opens N_CONNS through lb1, fails lb1, returns (longconn result, figures, problems)."""
    pair = V.Pair(f"sync-{'on' if sync else 'off'}")
    problems, conns, res = [], None, None
    try:
        lb2, lb1 = start_pair(pair, sync)
        problems += V.wait_roles(pair, "lb1", 3)
        if sync and not problems:
            for n in (lb1, lb2):
                s = (n.vrrp() or {}).get("sync", {})
                if not s.get("enabled"):
                    problems.append(f"{n.ns}: sync not running (sluicectl vrrp: {s})")
        if not problems:
            conns = R.LongConns(N_CONNS, period=0.1, timeout=2.0, duration=50)
            time.sleep(1.0)  # the flows reach lb2 (sync) well within this
            applied = (lb2.vrrp().get("sync", {}).get("records", {})).get("applied") if sync \
                else None
            t_fail = vp.fail_node(lb1, link_down)
            if not vp.wait_for(lambda: lb2.state() == "MASTER", 3):
                problems.append(f"lb2 not MASTER 3 s after lb1 failed: {lb2.state()}")
            time.sleep(2.5)  # every connection exchanges lines through lb2 (or fails)
            res = conns.finish()
            conns = None
            say(f"sync {'on' if sync else 'off'}, lb1 {'down' if link_down else 'daemon killed'}: "
                f"{res['ok']}/{N_CONNS} connections survived, changed backend "
                f"{res['changed_backend']}, errors {res['errors']}, longest gap "
                f"{res['max_gap_ms']:.0f} ms; lb2 had applied {applied} records before "
                f"the failure ({1000 * (time.monotonic() - t_fail):.0f} ms ago)")
        if problems:
            problems.append(pair.logs())
    finally:
        if conns is not None:
            conns.kill()
        problems += pair.teardown()
    return res, problems


def t_conns_survive_failover():
    res, problems = survive(sync=True)
    if res is not None and (res["ok"] != N_CONNS or res["changed_backend"]):
        problems.append(f"with sync, {res['ok']}/{N_CONNS} connections survived lb1's "
                        f"failure ({res['changed_backend']} changed backend): "
                        f"{R.short(res)[:1500]}")
    if problems:
        raise AssertionError("\n".join(problems))


def t_conns_survive_killed_daemon():
    res, problems = survive(sync=True, link_down=False)
    if res is not None and (res["ok"] != N_CONNS or res["changed_backend"]):
        problems.append(f"with sync, {res['ok']}/{N_CONNS} connections survived when only "
                        f"lb1's sluiced was killed: {R.short(res)[:1500]}")
    if problems:
        raise AssertionError("\n".join(problems))


def t_conns_without_sync():
    """The comparison: no sync. Only the figure is reported; the test fails
    only if the pair itself does not fail over."""
    res, problems = survive(sync=False)
    if res is None and not problems:
        problems.append("no result from the connections")
    if problems:
        raise AssertionError("\n".join(problems))


def t_failback_keeps_all():
    """100 connections through lb1, lb1 dies, 100 more through lb2 while lb1
    is down; lb1 returns, resyncs from lb2, then preempts: all 200 continue."""
    pair = V.Pair("sync-failback")
    problems, a, b = [], None, None
    try:
        lb2, lb1 = start_pair(pair, True)
        problems += V.wait_roles(pair, "lb1", 3)
        for n in (lb1, lb2):
            if not problems and not (n.vrrp() or {}).get("sync", {}).get("enabled"):
                problems.append(f"{n.ns}: sync not running")
        if not problems:
            a = R.LongConns(N_CONNS, period=0.1, timeout=2.0, duration=50)
            time.sleep(1.0)
            vp.fail_node(lb1)
            if not vp.wait_for(lambda: lb2.state() == "MASTER", 3):
                problems.append(f"lb2 not MASTER 3 s after lb1 failed: {lb2.state()}")
        if not problems:
            b = R.LongConns(N_CONNS, period=0.1, timeout=2.0, duration=45)
            time.sleep(1.0)
            vp.link("lb1", True)
            t0 = time.monotonic()
            lb1.start()
            took = None
            if vp.wait_for(lambda: lb1.state() == "MASTER", 15, step=0.05):
                took = time.monotonic() - t0
            v1 = lb1.vrrp() or {}
            say(f"lb1 back: MASTER again after {took if took is None else round(took, 2)} s; "
                f"its sync: {v1.get('sync', {}).get('records')}, resynced "
                f"{v1.get('sync', {}).get('resynced')}")
            if took is None:
                problems.append(f"lb1 did not preempt within 15 s of its return: {lb1.state()}")
            time.sleep(2.5)
            for name, c in (("opened through lb1", a), ("opened through lb2", b)):
                res = c.finish()
                say(f"failback: {name}: {res['ok']}/{N_CONNS} survived, changed backend "
                    f"{res['changed_backend']}, errors {res['errors']}")
                if res["ok"] != N_CONNS or res["changed_backend"]:
                    problems.append(f"failback: of the connections {name}, {res['ok']}/{N_CONNS} "
                                    f"survived: {R.short(res)[:1200]}")
            a = b = None
        if problems:
            problems.append(pair.logs())
    finally:
        for c in (a, b):
            if c is not None:
                c.kill()
        problems += pair.teardown()
    if problems:
        raise AssertionError("\n".join(problems))


V = None  # e2e_vrrp (Pair, wait_roles)


def register(mod, runtime):
    global E, R, vp, V
    E, R = mod, runtime
    sys.path.insert(0, os.path.join(E.REPO, "scripts", "lab-tools"))
    import vrrp_pair  # noqa: E402
    import e2e_vrrp  # noqa: E402
    vp = vrrp_pair
    V = e2e_vrrp
    if V.E is None:  # e2e.py registers e2e_vrrp first; alone, set it up here
        V.E, V.R, V.vp = mod, runtime, vrrp_pair
    E.TESTS += [
        ("sync_conns_survive_failover", t_conns_survive_failover, True),
        ("sync_conns_survive_killed_daemon", t_conns_survive_killed_daemon, True),
        ("sync_conns_without_sync_figure", t_conns_without_sync, True),
        ("sync_failback_keeps_all", t_failback_keeps_all, True),
    ]
