# SPDX-License-Identifier: Apache-2.0
"""Issue 6 end-to-end tests: the controller holds under abuse.

  abuse_all_at_once     sluiced on lb1 with an HTTP health check every 200 ms
                        (timeout 100 ms) on be1..be3, while at once: 100 silent
                        API clients (reopened when evicted), 20,000 idle TCP
                        connections to the metrics port from uid 65534, 2
                        slowloris connections (a header line every 2 s) and a
                        stream of 1 MB API requests. Pass when no backend
                        changes health, every client connection through the VIP
                        completes, `status` answers in under 100 ms and a scrape
                        in under 1 s every time they are tried, and sluiced's
                        RSS ends within 8 MB of where it started.
  bulk_change_health_flip
                        a reload that adds 10,000 backends (to an ipip VIP whose
                        backends are routed via be1) while be2's HTTP server
                        stops: no new connection reaches be2 later than
                        fall x interval + timeout + margin after it closed.

The abusers are scripts/lab-tools/abuse.py (bounded in count and time); they
reach only sluiced's unix socket and 127.0.0.1 inside lb1.
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts", "lab-tools"))
import abuse  # noqa: E402  (the abusers, and a timed API round trip)

E = None  # the e2e module
R = None  # e2e_runtime (RCase, Stream, lab_http, HC)

ABUSE = None
DURATION = 15.0
STATUS_BOUND_MS = 100.0
SCRAPE_BOUND_S = 1.0
RSS_SLACK_KB = 8 * 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def status_ms():
    """One `status` round trip on the API socket, timed without a process start."""
    took, reply = abuse.api_roundtrip(E.SOCK, b'{"cmd":"status"}\n')
    return took * 1000, json.loads(reply)


def scrape_s():
    """A scrape from inside lb1, timed by curl itself."""
    p = subprocess.run(["nsenter", "--net=/run/netns/lb1", "curl", "-s", "-o", "/dev/null",
                        "-w", "%{http_code} %{time_total}", "--max-time", "5",
                        "http://127.0.0.1:9477/metrics"],
                       capture_output=True, text=True, timeout=10)
    code, took = (p.stdout.split() + ["0", "99"])[:2]
    return code, float(took)


def metric_value(name):
    p = subprocess.run(["nsenter", "--net=/run/netns/lb1", "curl", "-s", "--max-time", "5",
                        "http://127.0.0.1:9477/metrics"], capture_output=True, text=True,
                       timeout=10)
    for line in p.stdout.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def abuser(mode, *args, uid=None):
    cmd = ["nsenter", "--net=/run/netns/lb1"]
    if uid is not None:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    cmd += ["/usr/bin/python3", ABUSE, mode, "--socket", E.SOCK, "--duration", str(DURATION)]
    cmd += list(args)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(procs):
    out = {}
    for name, p in procs:
        try:
            o, e = p.communicate(timeout=DURATION + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate(timeout=5)
        try:
            out[name] = json.loads(o.strip().splitlines()[-1])
        except (ValueError, IndexError):
            out[name] = {"error": (e or o)[-300:]}
    return out


def t_abuse_all_at_once():
    case = R.RCase("abuse", [{"port": 80, "backends": {"be1": 1, "be2": 1, "be3": 1},
                              "health_check": R.HC}])
    problems, procs, stream = [], [], None
    try:
        case.setup()
        time.sleep(1.0)
        pid = case.sluiced.proc.pid
        rss0 = rss_kb(pid)
        trans0 = metric_value("sluice_health_transitions_total")
        stream = R.Stream(port=80, interval=0.02, deadline=DURATION + 20)
        t_start = time.monotonic()
        procs = [("api_silent", abuser("api-silent", "-n", "100")),
                 ("metrics_idle_a", abuser("metrics-idle", "-n", "10000", uid=65534)),
                 ("metrics_idle_b", abuser("metrics-idle", "-n", "10000", uid=65534)),
                 ("slowloris", abuser("slowloris", "-n", "2", "--every", "2")),
                 ("api_big", abuser("api-big", "--size", str(1 << 20)))]
        statuses, scrapes, rss_peak = [], [], rss0
        while time.monotonic() - t_start < DURATION:
            ms, st = status_ms()
            statuses.append(ms)
            if not st.get("ok", True) and "error" in st:
                problems.append(f"status failed under abuse: {st}")
            scrapes.append(scrape_s())
            rss_peak = max(rss_peak, rss_kb(pid))
            time.sleep(0.4)
        summary = finish(procs)
        procs = []
        time.sleep(2.0)
        rss1 = rss_kb(pid)
        ev = stream.snapshot()
        stream.stop()
        stream = None
        failed = [e for e in ev if e[2].startswith("!")]
        trans1 = metric_value("sluice_health_transitions_total")
        health = R.ctl("backend", "list", "-o", "json")[1]
        if trans0 is None or trans1 is None or trans1 != trans0:
            problems.append(f"health transitions {trans0} -> {trans1}: a healthy backend "
                            f"changed state under abuse; backends: {health.strip()[:600]}")
        if len(ev) < 100:
            problems.append(f"only {len(ev)} client connections through the VIP")
        if failed:
            problems.append(f"{len(failed)} of {len(ev)} client connections failed: {failed[:5]}")
        worst = max(statuses)
        if worst >= STATUS_BOUND_MS:
            problems.append(f"status took up to {worst:.0f} ms (bound {STATUS_BOUND_MS:.0f}); "
                            f"all: {[round(s) for s in statuses]}")
        bad_scrapes = [s for s in scrapes if s[0] != "200" or s[1] >= SCRAPE_BOUND_S]
        if bad_scrapes:
            problems.append(f"scrapes over {SCRAPE_BOUND_S} s or failed: {bad_scrapes[:5]}")
        if rss1 - rss0 > RSS_SLACK_KB:
            problems.append(f"RSS {rss0} kB -> {rss1} kB after the abuse (peak {rss_peak} kB)")
        idle = [summary.get(k, {}) for k in ("metrics_idle_a", "metrics_idle_b")]
        opened = sum(s.get("opened", 0) for s in idle)
        if opened < 15000:
            problems.append(f"the idle-connection abuser opened only {opened} of 20000: {idle}")
        if summary.get("api_big", {}).get("answered", 0) < 5:
            problems.append(f"1 MB requests: {summary.get('api_big')}")
        _, st = status_ms()
        loop = st.get("loop", {})
        msg = (f"    status max {worst:.1f} ms, scrape max {max(s[1] for s in scrapes):.3f} s, "
               f"{len(ev)} connections, RSS {rss0}->{rss1} kB (peak {rss_peak}), "
               f"loop longest {loop.get('longest_ms')} ms p99 {loop.get('p99_ms')} ms; "
               f"abusers {json.dumps(summary)}")
        if E.VERBOSE or problems:
            print(msg)
        if problems:
            problems.append(case.log_tail())
    finally:
        if procs:
            finish(procs)
        if stream is not None:
            stream.stop()
        problems += case.teardown()
    if problems:
        raise AssertionError("\n".join(problems))


def bulk_backend(i):
    return f"198.19.{i // 250}.{i % 250 + 1}"


def write_bulk(path, n):
    """The health-checked VIP of RCase plus VIP:8000/tcp ipip with n backends."""
    with open(path) as f:
        text = f.read()
    lines = [text.rstrip("\n"),
             f"  - address: {E.VIP[4]}", "    port: 8000", "    protocol: tcp",
             "    mode: ipip", "    backends:"]
    lines += [f"      - {{ address: {bulk_backend(i)}, weight: 1 }}" for i in range(n)]
    if n == 0:
        lines[-1] = "    backends: []"
    with open(path + ".bulk", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".bulk", path)


def t_bulk_change_health_flip():
    iv, to = R.HC["interval_ms"] / 1000, R.HC["timeout_ms"] / 1000
    down_bound = R.HC["fall"] * iv + to + R.HC_MARGIN_S
    case = R.RCase("bulk-flip", [{"port": 80, "backends": {"be1": 1, "be2": 1, "be3": 1},
                                  "health_check": R.HC}])
    problems, stream, stopped = [], None, False
    try:
        E.sh(["ip", "-n", "lb1", "route", "replace", "198.19.0.0/16", "via", E.BE[4]["be1"]])
        case.setup()
        time.sleep(R.HC["rise"] * iv + 0.3)
        write_bulk(case.config, 10000)
        stream = R.Stream(port=80, interval=0.01)
        reload_took = {}

        def do_reload():
            t = time.monotonic()
            p = E.sluicectl("reload", timeout=60, check=False)
            reload_took["s"] = time.monotonic() - t
            reload_took["rc"] = p.returncode
            reload_took["out"] = (p.stdout + p.stderr).strip()[-300:]

        th = threading.Thread(target=do_reload)
        th.start()
        t_sig_down = R.lab_http("be2", up=False)
        stopped = True
        time.sleep(down_bound + 1.0)
        th.join(timeout=60)
        ev = stream.snapshot()
        stream.stop()
        stream = None
        if reload_took.get("rc") != 0:
            problems.append(f"the 10,000-backend reload failed: {reload_took}")
        refused = [e for e in ev if e[0] >= t_sig_down and e[2].startswith("!")]
        served2 = [e for e in ev if e[0] >= t_sig_down and e[2] == "be2"]
        if not refused:
            problems.append("no connection was refused after be2's HTTP server stopped")
        else:
            t_closed = refused[0][0]
            last_bad = max(e[0] for e in refused)
            late = [e for e in served2 if e[0] > t_closed]
            if last_bad - t_closed > down_bound:
                problems.append(f"be2 still got new connections {1000 * (last_bad - t_closed):.0f} ms "
                                f"after its server closed during the 10,000-backend reload "
                                f"(bound {1000 * down_bound:.0f} ms; reload took "
                                f"{reload_took.get('s', 0):.2f} s)")
            if late:
                problems.append(f"be2 served connections after its listener closed: {late[:3]}")
            if E.VERBOSE:
                print(f"    be2 out {1000 * (last_bad - t_closed):.0f} ms after close "
                      f"(bound {1000 * down_bound:.0f}); reload {reload_took.get('s', 0):.2f} s")
        if problems:
            problems.append(case.log_tail())
    finally:
        if stream is not None:
            stream.stop()
        if stopped:
            R.lab_http("be2", up=True)
        problems += case.teardown()
        E.sh(["ip", "-n", "lb1", "route", "del", "198.19.0.0/16"], check=False)
    if problems:
        raise AssertionError("\n".join(problems))


def register(mod, runtime):
    global E, R, ABUSE
    E, R = mod, runtime
    ABUSE = os.path.join(E.REPO, "scripts", "lab-tools", "abuse.py")
    E.TESTS += [
        ("abuse_all_at_once", t_abuse_all_at_once, True),
        ("bulk_change_health_flip", t_bulk_change_health_flip, True),
    ]
