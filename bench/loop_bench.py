#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How long sluiced's main loop is kept from its clients and timers under
each abuse of issue 6 and under a 10,000-backend reload, for one or more
sluiced builds (e.g. before and after a change), in the namespace lab.

Each scenario starts a fresh sluiced on lb1: VIP 198.18.0.100:80/tcp, dsr,
be1..be3, HTTP health check every 200 ms (timeout 100 ms, rise 2, fall 3),
and an ipip VIP :8000/tcp whose bulk backends (198.19.0.0/16) are routed via
be1. For --seconds it runs the abuse (scripts/lab-tools/abuse.py) while a
prober sends `status` on the API socket every 50 ms (3 s timeout) and
records the round trip, which is what any client or timer of the loop
waits. Reported per scenario and build:
  * status round trip: median, p99, max (ms) and how many timed out;
  * health DOWN transitions logged (every backend is healthy throughout:
    each one is a false failure);
  * the loop's own record (status.loop: longest turn and p99), where the
    build has it.
Scenarios: idle, api_silent (100), metrics_idle (20,000 from uid 65534),
slowloris (2), api_big (1 MB requests back to back), reload_10000 (add then
remove 10,000 bulk backends by config file + reload, twice).

Prints one JSON document. Run through bench/loop_run.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ABUSE = os.path.join(REPO, "scripts", "lab-tools", "abuse.py")
sys.path.insert(0, os.path.dirname(ABUSE))
import abuse  # noqa: E402  (a timed API round trip)
RUNDIR = "/run/sluice-lab"
SOCK = f"{RUNDIR}/loopbench.sock"
VIP = "198.18.0.100"
BES = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]


def in_ns(ns, args):
    return ["nsenter", f"--net=/run/netns/{ns}", "--"] + args


def write_config(path, bulk_n):
    lines = ["interface: eth0", "dataplane: xdp", "xdp_mode: native", f"api_socket: {SOCK}",
             "metrics_listen: 127.0.0.1:9477", "conn_table_size: 65536", "vips:",
             f"  - address: {VIP}", "    port: 80", "    protocol: tcp", "    mode: dsr",
             "    backends:"]
    lines += [f"      - {{ address: {b}, weight: 1 }}" for b in BES]
    lines += ["    health_check: { type: http, path: /, interval_ms: 200, timeout_ms: 100, "
              "rise: 2, fall: 3 }",
              f"  - address: {VIP}", "    port: 8000", "    protocol: tcp", "    mode: ipip",
              "    backends:", f"      - {{ address: {BES[0]}, weight: 1 }}"]
    lines += [f"      - {{ address: 198.19.{i // 250}.{i % 250 + 1}, weight: 1 }}"
              for i in range(bulk_n)]
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def status(timeout=3.0):
    try:
        took, reply = abuse.api_roundtrip(SOCK, b'{"cmd":"status"}\n', timeout)
        return took, json.loads(reply or b"{}")
    except (OSError, ValueError):
        return None, {}


class Daemon:
    def __init__(self, sluiced, config, log):
        self.sluiced, self.config, self.log = sluiced, config, log

    def __enter__(self):
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(in_ns("lb1", [self.sluiced, "--config", self.config,
                                                   "--detach-on-exit"]),
                                     stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if status(1.0)[0] is not None:
                time.sleep(1.0)  # health checks settle (rise)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"sluiced did not answer: {open(self.log).read()[-800:]}")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.logf.close()

    def downs(self):
        with open(self.log) as f:
            return sum(" DOWN (" in line for line in f)


def abusers(name, seconds):
    def run(mode, *args, uid=None):
        cmd = ["nsenter", "--net=/run/netns/lb1"]
        if uid is not None:
            cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        cmd += ["/usr/bin/python3", ABUSE, mode, "--socket", SOCK, "--duration", str(seconds)]
        return subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    if name == "api_silent":
        return [run("api-silent", "-n", "100")]
    if name == "metrics_idle":
        return [run("metrics-idle", "-n", "10000", uid=65534) for _ in range(2)]
    if name == "slowloris":
        return [run("slowloris", "-n", "2", "--every", "2")]
    if name == "api_big":
        return [run("api-big", "--size", str(1 << 20))]
    return []


def reloads(config, seconds, stop):
    """Adds then removes 10,000 bulk backends, until `stop` or two rounds."""
    for _ in range(2):
        for n in (10000, 0):
            if stop.is_set():
                return
            write_config(config, n)
            try:
                abuse.api_roundtrip(SOCK, b'{"cmd":"reload"}\n', timeout=60)
            except OSError:
                pass
            stop.wait(seconds / 4)


def scenario(sluiced, name, seconds, workdir):
    config = os.path.join(workdir, f"{name}.yaml")
    write_config(config, 0)
    with Daemon(sluiced, config, os.path.join(workdir, f"{name}.log")) as d:
        procs = abusers(name, seconds)
        stop = threading.Event()
        rl = None
        if name == "reload_10000":
            rl = threading.Thread(target=reloads, args=(config, seconds, stop))
            rl.start()
        rtts, timeouts = [], 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            dt, _ = status()
            if dt is None:
                timeouts += 1
            else:
                rtts.append(dt * 1000)
            time.sleep(0.05)
        stop.set()
        if rl:
            rl.join(timeout=120)
        for p in procs:
            try:
                p.communicate(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                p.kill()
        _, st = status(10.0)
        rtts.sort()
        out = {"probes": len(rtts) + timeouts, "timeouts": timeouts,
               "status_median_ms": round(statistics.median(rtts), 2) if rtts else None,
               "status_p99_ms": round(rtts[int(0.99 * (len(rtts) - 1))], 2) if rtts else None,
               "status_max_ms": round(rtts[-1], 2) if rtts else None,
               "health_downs": d.downs()}
        if "loop" in st:
            out["loop_longest_ms"] = st["loop"].get("longest_ms")
            out["loop_p99_ms"] = st["loop"].get("p99_ms")
        return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--build", action="append", required=True,
                   help="LABEL=BUILD_DIR (repeatable), e.g. before=/tmp/b after=build")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--scenarios", default="idle,api_silent,metrics_idle,slowloris,api_big,"
                                          "reload_10000")
    a = p.parse_args()
    workdir = f"{RUNDIR}/loopbench"
    os.makedirs(workdir, exist_ok=True)
    subprocess.run(["ip", "-n", "lb1", "route", "replace", "198.19.0.0/16", "via", BES[0]],
                   check=True)
    res = {"when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "kernel": platform.release(), "cpus": os.cpu_count(), "seconds": a.seconds,
           "builds": {}, "results": {}}
    try:
        for spec in a.build:
            label, build = spec.split("=", 1)
            sluiced = os.path.abspath(os.path.join(build, "control", "sluiced"))
            desc = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                  capture_output=True, text=True).stdout.strip()
            res["builds"][label] = {"dir": build, "sluiced": sluiced}
            res["results"][label] = {}
            for name in a.scenarios.split(","):
                print(f"loop_bench: {label} {name}", file=sys.stderr, flush=True)
                res["results"][label][name] = scenario(sluiced, name, a.seconds, workdir)
        res["repo"] = desc
    finally:
        subprocess.run(["ip", "-n", "lb1", "route", "del", "198.19.0.0/16"],
                       capture_output=True)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
