# SPDX-License-Identifier: Apache-2.0
"""Two VRRP nodes on lb1 and lb2 of the lab, each a sluiced or a keepalived,
and the failover measurement between them: shared by tests/e2e/e2e_vrrp.py
and bench/failover. The lab must be up (scripts/lab up) and the caller must
hold /run/sluice-lab.lock.

What "served through the VIP" means here, for both kinds of node: the client
sends UDP to 198.18.0.100:9000. A sluiced MASTER steers it (dsr) to a
backend's echo, which answers "beN <seq>"; a keepalived MASTER holds the VIP
with no steering, so the node's own UDP echo on :9000 (started here on lb1
and lb2) answers "lbN <seq>". A passive sluiced node has no VIP address and
its XDP program does not steer, so its echo would only answer if it still
took the VIP's traffic — which the tests check it does not.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import failover  # noqa: E402
from keepalived import Keepalived  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
RUNDIR = "/run/sluice-lab"
NODE = {"lb1": "198.18.0.1", "lb2": "198.18.0.2"}
VIP4 = "198.18.0.100"
UDP_PORT = 9000
BACKENDS = ("198.18.0.11", "198.18.0.12", "198.18.0.13")
VRID = 51
SYNC_PORT = 7900


def sh(args, timeout=20, check=True):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"command failed (rc={p.returncode}): {' '.join(args)}\n"
                             f"{(p.stdout + p.stderr).strip()[-1500:]}")
    return p


def in_ns(ns, args):
    # nsenter keeps /sys (and the bpffs pins); `ip netns exec` would remount it.
    return ["nsenter", f"--net=/run/netns/{ns}", "--"] + list(args)


def holds_vip(ns, vip=VIP4):
    p = sh(["ip", "-n", ns, "-o", "addr", "show", "dev", "eth0"], check=False)
    return f" {vip}/" in p.stdout


def link(ns, up):
    sh(["ip", "-n", ns, "link", "set", "dev", "eth0", "up" if up else "down"])


def drop_vip(ns):
    sh(["ip", "-n", ns, "addr", "del", f"{VIP4}/32", "dev", "eth0"], check=False)


def xdp_attached(ns):
    p = sh(["ip", "-n", ns, "-d", "link", "show", "dev", "eth0"], check=False)
    return " prog/xdp" in p.stdout


def reset_node(ns):
    """No program, no pins, no VIP, link up: whatever a test left behind."""
    link(ns, True)
    for m in ("xdp", "xdpgeneric", "xdpdrv"):
        sh(["ip", "-n", ns, "link", "set", "dev", "eth0", m, "off"], check=False)
    drop_vip(ns)
    try:
        ino = os.stat(f"/run/netns/{ns}").st_ino
        shutil.rmtree(f"/sys/fs/bpf/sluice/{ino}-eth0", ignore_errors=True)
    except OSError:
        pass


def _write_pid(name, pid):
    os.makedirs(RUNDIR, exist_ok=True)
    with open(os.path.join(RUNDIR, name), "w") as f:
        f.write(f"{pid}\n")


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class Echo:
    """The lab's UDP echo on lbN:9000 (backend_server.py), answering "lbN <payload>"."""

    def __init__(self, ns):
        self.ns = ns
        self.pidfile = os.path.join(RUNDIR, f"{ns}-echo.pid")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "/usr/bin/python3",
             os.path.join(HERE, "backend_server.py"), "--name", ns, "--http-port", "0",
             "--udp-port", str(UDP_PORT)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True)
        _write_pid(f"{ns}-echo.pid", self.proc.pid)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        _unlink(self.pidfile)


class SluicedNode:
    kind = "sluiced"

    def __init__(self, ns, workdir, build, priority, advert_ms, preempt=True,
                 xdp_mode="native", extra_vips=(), sync=False):
        self.ns = ns
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.build = build
        self.sock = os.path.join(RUNDIR, f"sluiced-{ns}.sock")
        self.config = os.path.join(workdir, f"sluiced-{ns}.yaml")
        self.log = os.path.join(workdir, f"sluiced-{ns}.log")
        self.pidfile = os.path.join(RUNDIR, f"sluiced-{ns}.pid")
        self.proc = None
        peer = NODE["lb2" if ns == "lb1" else "lb1"]
        lines = ["interface: eth0", "dataplane: xdp", f"xdp_mode: {xdp_mode}",
                 f"api_socket: {self.sock}", "metrics_listen: 127.0.0.1:9477",
                 "conn_table_size: 65536", "vips:"]
        for port, proto in [(UDP_PORT, "udp"), (80, "tcp")] + list(extra_vips):
            lines += [f"  - address: {VIP4}", f"    port: {port}", f"    protocol: {proto}",
                      "    mode: dsr", "    backends:"]
            lines += [f"      - {{ address: {b}, weight: 1 }}" for b in BACKENDS]
        lines += ["vrrp:", f"  vrid: {VRID}", f"  priority: {priority}",
                  f"  advert_interval_ms: {advert_ms}",
                  f"  preempt: {'true' if preempt else 'false'}"]
        if sync:
            lines += ["sync:", f"  peer: {peer}", f"  port: {SYNC_PORT}"]
        self.peer = peer
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, ready_timeout=20):
        args = [os.path.join(self.build, "control", "sluiced"), "--config", self.config,
                "--detach-on-exit"]
        logf = open(self.log, "ab")
        logf.write(f"=== start {' '.join(args)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(in_ns(self.ns, args), stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        _write_pid(f"sluiced-{self.ns}.pid", self.proc.pid)
        end = time.monotonic() + ready_timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"sluiced on {self.ns} exited with {self.proc.returncode}"
                                     f" at start\n{self.log_tail()}")
            if os.path.exists(self.sock) and self.vrrp(check=False):
                return self
            time.sleep(0.1)
        raise AssertionError(f"sluiced on {self.ns} not answering within {ready_timeout}s\n"
                             + self.log_tail())

    def ctl(self, *args, check=True, timeout=10):
        return sh(in_ns(self.ns, [os.path.join(self.build, "control", "sluicectl"),
                                  "--socket", self.sock] + list(args)),
                  timeout=timeout, check=check)

    def vrrp(self, check=True):
        p = self.ctl("vrrp", "-o", "json", check=check)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    def state(self):
        v = self.vrrp(check=False)
        return v.get("state") if v else None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        _unlink(self.pidfile)

    def stop(self):
        """SIGTERM: priority 0 out, detach (--detach-on-exit), VIPs removed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        _unlink(self.pidfile)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return f"sluiced {self.ns} log (tail):\n  " + "  ".join(f.readlines()[-n:])
        except OSError:
            return f"(no sluiced {self.ns} log)"


class KeepalivedNode:
    kind = "keepalived"

    def __init__(self, ns, workdir, priority, advert_ms, preempt=True):
        self.ns = ns
        adv = f"{advert_ms / 1000:g}"
        self.k = Keepalived(ns, os.path.join(workdir, f"keepalived-{ns}"), vrid=VRID,
                            priority=priority, advert_int=adv, preempt=preempt)

    def start(self):
        self.k.start()
        for i, pid in enumerate(self.k.pids()):
            _write_pid(f"keepalived-{self.ns}-{i}.pid", pid)
        return self

    def state(self):
        return self.k.state()

    def _forget_pids(self):
        for i in range(3):
            _unlink(os.path.join(RUNDIR, f"keepalived-{self.ns}-{i}.pid"))

    def kill(self):
        self.k.kill()
        self._forget_pids()

    def stop(self):
        self.k.stop()
        self._forget_pids()

    def alive(self):
        return bool(self.k.proc and self.k.proc.poll() is None)

    def log_tail(self, n=30):
        return self.k.log_tail(n)


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def one_holder():
    """The namespaces holding the VIP address now."""
    return [ns for ns in ("lb1", "lb2") if holds_vip(ns)]


class Probe:
    """failover.py probe in the client namespace, in the background."""

    def __init__(self, duration, interval_ms=1.0, port=UDP_PORT):
        self.out = tempfile.NamedTemporaryFile(prefix="sluice-failover-", suffix=".json",
                                               delete=False)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", "client", "/usr/bin/python3",
             os.path.join(HERE, "failover.py"), "probe", "--target", VIP4, "--port", str(port),
             "--interval-ms", str(interval_ms), "--duration", str(duration)],
            stdout=self.out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def result(self, timeout=130):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.out.close()
        try:
            with open(self.out.name) as f:
                return json.load(f)
        finally:
            _unlink(self.out.name)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.out.close()
        _unlink(self.out.name)


def fail_node(node, link_down=True):
    """The master dies: its link goes down first (no packet it could still
    answer or send after that), then the daemon is SIGKILLed. Returns
    t_fail: when the link is down for sure (the `ip` command returned), or,
    link up, just before the SIGKILL."""
    if link_down:
        link(node.ns, False)
    t_fail = time.monotonic()
    node.kill()
    return t_fail


def measure_failover(master, backup, advert_ms, link_down=True, warmup=0.6, settle=None):
    """Probe through the VIP, fail `master` at t_fail, wait for `backup` to
    serve; returns {"failover_ms", "responder", "before", "after", ...}."""
    # Enough to see the backup take over (Master_Down_Interval is under 4 x
    # the interval) and to see who answers afterwards.
    settle = settle if settle is not None else max(1.0, 4.0 * advert_ms / 1000.0 + 0.8)
    duration = warmup + settle
    probe = Probe(duration)
    time.sleep(warmup)
    t_fail = fail_node(master, link_down)
    res = probe.result(timeout=duration + 30)
    ms, who = failover.failover_ms(res, t_fail)
    return {"failover_ms": ms, "responder": who, "sent": res["sent"],
            "replies": len(res["replies"]),
            "before": failover.responders(res, t_to=t_fail),
            "after": failover.responders(res, t_from=t_fail + (ms or 0) / 1000.0),
            "gap_ms": failover.longest_gap_ms(res), "t_fail": t_fail, "result": res}


def master_down_ms(priority, advert_ms):
    """RFC 5798: 3 x interval + Skew_Time, Skew_Time = (256 - priority) x interval / 256."""
    return 3 * advert_ms + (256 - priority) * advert_ms / 256.0
