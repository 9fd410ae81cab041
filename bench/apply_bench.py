#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How long sluiced takes to apply a change of 1, 100 and 10,000 backends,
and whether packets are lost while it does, in the namespace lab.

Apply time = one API request's round trip over the unix socket (connect, send
the JSON line, read the reply): sluiced answers after the dataplane switched
(maps written, ring swapped), so the reply time bounds the switch. Measured
straight on the socket (no sluicectl process start in the timing).
  * 1 backend:      `backend_add` to a bulk VIP, 20 times (add / del pairs): median, p90, max.
  * 100 backends:   (a) a loop of 100 `backend_add` calls (total), (b) a config
                    file with the 100 backends and one `reload` call.
  * 10,000 backends: a config file with the 10,000 and one `reload` (the way an
                    operator makes a change that size); and a loop of
                    `backend_add` capped at --loop-cap seconds (rate reported,
                    the rest extrapolated) — every add rewrites the config file.
The bulk VIP 198.18.0.100:8000/tcp is ipip with backends in 198.19.0.0/16,
routed on lb1 via be1 (one neighbour for all); no traffic is sent to it.

Loss: scripts/lab-tools/udpload.py in `client`, --pps datagrams/s for
--seconds over 64 UDP flows to 198.18.0.100:9000 (dsr, be1+be2), answered by
the backends' UDP echo; a change is applied 2 s in: (baseline) none; (api)
`backend_add` be3 then `backend_set` be1 weight 3 on the loaded VIP; (reload)
a reload that adds 10,000 backends to the bulk VIP. Sent vs answered.

Prints a JSON document on stdout. Run through bench/apply_run (holds the lab
lock, writes bench/results/apply-<stamp>.{json,md}).
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("SLUICE_BUILD") or os.path.join(REPO, "build"))
LAB = os.path.join(REPO, "scripts", "lab")
UDPLOAD = os.path.join(REPO, "scripts", "lab-tools", "udpload.py")
SLUICED = os.path.join(BUILD, "control", "sluiced")
SLUICECTL = os.path.join(BUILD, "control", "sluicectl")
RUNDIR = "/run/sluice-lab"
SOCK = f"{RUNDIR}/sluiced.sock"
VIP = "198.18.0.100"
LOADED = f"{VIP}:9000/udp"
BULK = f"{VIP}:8000/tcp"
BES = {"be1": "198.18.0.11", "be2": "198.18.0.12", "be3": "198.18.0.13"}


def sh(args, timeout=60, check=True):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: rc {p.returncode}: {p.stderr.strip()[-800:]}")
    return p


def in_ns(ns, args):
    return ["nsenter", f"--net=/run/netns/{ns}", "--"] + args


def api(req, timeout=300):
    """One request; returns (seconds, reply dict)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    t0 = time.perf_counter()
    s.connect(SOCK)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    dt = time.perf_counter() - t0
    s.close()
    rep = json.loads(buf.split(b"\n", 1)[0] or b"{}")
    if not rep.get("ok"):
        raise RuntimeError(f"API {req.get('cmd')}: {rep}")
    return dt, rep


def bulk_addr(i):
    return f"198.19.{i // 250}.{i % 250 + 1}"


def write_config(path, bulk_n, loaded=("be1", "be2"), loaded_w=None):
    loaded_w = loaded_w or {}
    lines = ["interface: eth0", "dataplane: xdp", "xdp_mode: native",
             f"api_socket: {SOCK}", "metrics_listen: 127.0.0.1:9477",
             "conn_table_size: 262144", "vips:",
             f"  - address: {VIP}", "    port: 9000", "    protocol: udp", "    mode: dsr",
             "    backends:"]
    for b in loaded:
        lines.append(f"      - {{ address: {BES[b]}, weight: {loaded_w.get(b, 1)} }}")
    lines += [f"  - address: {VIP}", "    port: 8000", "    protocol: tcp", "    mode: ipip",
              "    backends:"]
    # a VIP needs at least one backend in some parsers: keep be1 always
    lines.append(f"      - {{ address: {BES['be1']}, weight: 1 }}")
    for i in range(bulk_n):
        lines.append(f"      - {{ address: {bulk_addr(i)}, weight: 1 }}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def stats(xs):
    xs = sorted(xs)
    return {"n": len(xs), "median_ms": round(1000 * statistics.median(xs), 3),
            "p90_ms": round(1000 * xs[int(0.9 * (len(xs) - 1))], 3),
            "max_ms": round(1000 * xs[-1], 3)}


class Daemon:
    def __init__(self, config, log):
        self.config, self.log = config, log
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(in_ns("lb1", [SLUICED, "--config", self.config,
                                                   "--detach-on-exit"]),
                                     stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        logf.close()
        with open(f"{RUNDIR}/sluiced.pid", "w") as f:
            f.write(f"{self.proc.pid}\n")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sluiced exited {self.proc.returncode}: {self.tail()}")
            if os.path.exists(SOCK):
                try:
                    api({"cmd": "status"}, timeout=2)
                    ip = sh(["ip", "-n", "lb1", "addr", "show", "dev", "eth0"]).stdout
                    if VIP in ip:
                        return
                except (OSError, RuntimeError, ValueError):
                    pass
            time.sleep(0.2)
        raise RuntimeError("sluiced not ready in 30 s: " + self.tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def tail(self):
        try:
            return "".join(open(self.log, errors="replace").readlines()[-15:])
        except OSError:
            return ""


def udp_load(pps, seconds, change=None, at=2.0):
    args = ["ip", "netns", "exec", "client", sys.executable, UDPLOAD, "--vip", VIP,
            "--port", "9000", "--pps", str(pps), "--seconds", str(seconds), "--drain", "1"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline().split()
    if not line or line[0] != "start":
        raise RuntimeError(f"udpload did not start: {line} {p.stderr.read()}")
    t0 = float(line[1])
    applied = None
    if change is not None:
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        applied = change()
    out, err = p.communicate(timeout=seconds + 30)
    res = json.loads(out)
    res["change"] = applied
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pps", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--loop-cap", type=float, default=30.0)
    ap.add_argument("--tmp", default="/tmp")
    args = ap.parse_args()
    tmp = os.path.join(args.tmp, f"sluice-apply-bench-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    cfg = os.path.join(tmp, "sluice.yaml")
    log = os.path.join(tmp, "sluiced.log")
    out = {"build": BUILD, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "kernel": os.uname().release, "cpus": os.cpu_count()}
    d = Daemon(cfg, log)
    env = dict(os.environ, SLUICE_BUILD=BUILD, LAB_REQUIRE_PASS="1")
    up = subprocess.run([LAB, "up"], capture_output=True, text=True, timeout=120, env=env)
    if up.returncode != 0:
        raise RuntimeError("scripts/lab up: " + up.stderr[-800:])
    try:
        for b in BES:
            sh(in_ns(b, [SLUICECTL, "backend-setup", "--vip", VIP, "--mode", "dsr",
                         "--iface", "eth0"]))
        sh(["ip", "-n", "lb1", "route", "replace", "198.19.0.0/16", "via", BES["be1"]])
        write_config(cfg, 0)
        d.start()
        res = {}
        # --- 1 backend, 20 times
        adds, dels = [], []
        for i in range(20):
            t, _ = api({"cmd": "backend_add", "service": BULK, "address": bulk_addr(i)})
            adds.append(t)
            t, _ = api({"cmd": "backend_del", "service": BULK, "address": bulk_addr(i)})
            dels.append(t)
        res["add_1"] = stats(adds)
        res["del_1"] = stats(dels)
        # --- 100 backends: loop
        ts = []
        for i in range(100):
            t, _ = api({"cmd": "backend_add", "service": BULK, "address": bulk_addr(i)})
            ts.append(t)
        res["add_100_loop"] = {"total_ms": round(1000 * sum(ts), 1), **stats(ts)}
        ts = []
        for i in range(100):
            t, _ = api({"cmd": "backend_del", "service": BULK, "address": bulk_addr(i)})
            ts.append(t)
        res["del_100_loop"] = {"total_ms": round(1000 * sum(ts), 1), **stats(ts)}
        # --- reloads: 0 -> 100 -> 0 -> 10000 -> 0
        for n in (100, 10000):
            write_config(cfg, n)
            t, _ = api({"cmd": "reload"})
            _, rep = api({"cmd": "backend_list"})
            have = sum(1 for b in rep.get("backends", []) if b.get("service") == BULK)
            res[f"reload_add_{n}"] = {"ms": round(1000 * t, 1), "bulk_backends_after": have}
            write_config(cfg, 0)
            t, _ = api({"cmd": "reload"})
            res[f"reload_del_{n}"] = {"ms": round(1000 * t, 1)}
        # --- 10,000 adds in a loop, capped
        ts = []
        t_end = time.monotonic() + args.loop_cap
        while len(ts) < 10000 and time.monotonic() < t_end:
            t, _ = api({"cmd": "backend_add", "service": BULK, "address": bulk_addr(len(ts))})
            ts.append(t)
        r = {"done": len(ts), "total_s": round(sum(ts), 2), **stats(ts),
             "last_100_median_ms": round(1000 * statistics.median(ts[-100:]), 2)}
        if len(ts) < 10000:
            r["capped_at_s"] = args.loop_cap
            # every add rewrites the whole config file and re-applies: the cost
            # per add grows with the count. Least-squares line t(k) = a + b*k
            # over the adds done, summed to 10,000 (an estimate, not a run).
            n = len(ts)
            if n >= 100:
                mk = (n - 1) / 2
                mt = sum(ts) / n
                b = sum((k - mk) * (t - mt) for k, t in enumerate(ts)) / \
                    sum((k - mk) ** 2 for k in range(n))
                a = mt - b * mk
                r["per_add_fit_ms"] = {"a": round(1000 * a, 3), "b_per_backend": round(1000 * b, 5)}
                r["estimated_total_s"] = round(sum(a + b * k for k in range(10000)), 0)
        res["add_10000_loop"] = r
        write_config(cfg, 0)
        api({"cmd": "reload"})
        out["apply"] = res
        # --- loss under load
        loss = {}
        loss["baseline"] = udp_load(args.pps, args.seconds)

        def api_change():
            t1, _ = api({"cmd": "backend_add", "service": LOADED, "address": BES["be3"]})
            t2, _ = api({"cmd": "backend_set", "service": LOADED, "address": BES["be1"],
                         "weight": 3})
            return {"backend_add_ms": round(1000 * t1, 2), "backend_set_ms": round(1000 * t2, 2)}
        loss["api_add_and_set"] = udp_load(args.pps, args.seconds, api_change)
        write_config(cfg, 0, loaded=("be1", "be2", "be3"), loaded_w={"be1": 3})
        api({"cmd": "reload"})

        def reload_change():
            write_config(cfg, 10000, loaded=("be1", "be2", "be3"), loaded_w={"be1": 3})
            t, _ = api({"cmd": "reload"})
            return {"reload_10000_ms": round(1000 * t, 1)}
        loss["reload_10000"] = udp_load(args.pps, args.seconds, reload_change)
        out["loss"] = loss
    finally:
        d.stop()
        for b in BES:
            sh(in_ns(b, [SLUICECTL, "backend-setup", "--vip", VIP, "--mode", "dsr", "--iface",
                         "eth0", "--undo"]), check=False)
        down = subprocess.run([LAB, "down"], capture_output=True, text=True, timeout=120, env=env)
        out["lab_down_rc"] = down.returncode
        out["sluiced_log_tail"] = d.tail()[-1500:]
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
