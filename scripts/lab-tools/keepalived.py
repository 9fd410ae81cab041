#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""keepalived (the Debian package) as the lab's VRRP peer: one vrrp_instance
(VRRPv3) on eth0 of lb1 or lb2, with its own config, pid files and log in a
directory of the caller's, stopped or killed by pid.

Library (e2e tests, bench/failover):
    k = Keepalived("lb2", workdir, vrid=51, priority=100, advert_int=0.1)
    k.start(); k.wait_state("BACKUP"); ...; k.kill() / k.stop()
CLI, for a hand test inside the lab:
    keepalived.py start lb2 DIR --vrid 51 --priority 100 --advert-int 0.1
    keepalived.py stop DIR

The instance tracks nothing and runs no scripts but a notify that appends
"<state>" to DIR/state, so a test can wait for MASTER / BACKUP / FAULT.
Addresses must stay in the lab's ranges (198.18.0.0/15, 2001:2::/48).
"""
import argparse
import ipaddress
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labnet import ALLOWED  # noqa: E402

KEEPALIVED = "/usr/sbin/keepalived"
VIP4 = "198.18.0.100/32"
VIP6 = "2001:2::100/128"


def _lab_addr(a):
    ip = ipaddress.ip_interface(a).ip
    if not any(ip in n for n in ALLOWED):
        raise ValueError(f"keepalived.py: {a} is outside the lab's ranges")
    return a


def conf_text(workdir, vrid, priority, advert_int, preempt=True, unicast_src=None,
              unicast_peers=(), vips=(VIP4,), vips6=(), iface="eth0"):
    """A keepalived.conf: vrrp_version 3, one instance for the IPv4 VIPs and,
    when `vips6` is given, a second one (same VRID, IPv6 adverts) for them."""
    state = os.path.join(workdir, "state")
    notify = os.path.join(workdir, "notify.sh")
    with open(notify, "w") as f:
        # keepalived calls: notify.sh INSTANCE|GROUP NAME STATE PRIORITY
        f.write(f"#!/bin/sh\necho \"$1 $2 $3 $4\" >> {state}\n")
    os.chmod(notify, 0o755)

    def instance(name, addrs, six):
        lines = [f"vrrp_instance {name} {{",
                 "  state BACKUP",  # start as backup; priority decides
                 f"  interface {iface}",
                 f"  virtual_router_id {vrid}",
                 f"  priority {priority}",
                 f"  advert_int {advert_int}"]
        if not preempt:
            lines.append("  nopreempt")
        if unicast_peers:
            if unicast_src:
                lines.append(f"  unicast_src_ip {_lab_addr(unicast_src)}")
            lines.append("  unicast_peer {")
            lines += [f"    {_lab_addr(p)}" for p in unicast_peers]
            lines.append("  }")
        lines.append("  virtual_ipaddress {")
        lines += [f"    {_lab_addr(a)} dev {iface}" for a in addrs]
        lines.append("  }")
        lines.append(f"  notify {notify}")
        lines.append("}")
        return lines

    out = ["global_defs {",
           "  vrrp_version 3",
           "  script_user root",
           "  enable_script_security",
           # one gratuitous ARP burst on takeover, no delayed repeat
           "  vrrp_garp_master_delay 0",
           "  vrrp_garp_master_repeat 1",
           "}"]
    out += instance("VI_4", vips, False)
    if vips6:
        out += instance("VI_6", vips6, True)
    return "\n".join(out) + "\n"


class Keepalived:
    """keepalived in one lab namespace (ip netns exec; it needs no bpffs)."""

    def __init__(self, ns, workdir, vrid=51, priority=100, advert_int=1, preempt=True,
                 unicast_src=None, unicast_peers=(), vips=(VIP4,), vips6=()):
        self.ns = ns
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.conf = os.path.join(workdir, "keepalived.conf")
        self.pidfile = os.path.join(workdir, "keepalived.pid")
        self.vrrp_pidfile = os.path.join(workdir, "vrrp.pid")
        self.log = os.path.join(workdir, "keepalived.log")
        self.state_file = os.path.join(workdir, "state")
        with open(self.conf, "w") as f:
            f.write(conf_text(workdir, vrid, priority, advert_int, preempt, unicast_src,
                              unicast_peers, vips, vips6))
        self.proc = None

    def start(self, timeout=10):
        for p in (self.pidfile, self.vrrp_pidfile, self.state_file):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        logf = open(self.log, "ab")
        # -n: stay in the foreground; -l: log to the console (our log file);
        # -P: the VRRP subsystem only; own pid files so two instances (lb1,
        # lb2) and a system keepalived never collide.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, KEEPALIVED, "-n", "-l", "-D", "-P",
             "-f", self.conf, "-p", self.pidfile, "-r", self.vrrp_pidfile],
            stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keepalived in {self.ns} exited with "
                                   f"{self.proc.returncode}:\n{self.log_tail()}")
            if self._pid(self.vrrp_pidfile):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"keepalived in {self.ns}: no VRRP child within {timeout}s\n"
                           + self.log_tail())

    @staticmethod
    def _pid(path):
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def pids(self):
        """The VRRP child first, then the parent (ours, or from its pid file)."""
        out = [p for p in (self._pid(self.vrrp_pidfile), self._pid(self.pidfile)) if p]
        if self.proc and self.proc.poll() is None and self.proc.pid not in out:
            out.append(self.proc.pid)
        return out

    def states(self):
        """The states notify reported, oldest first: ["BACKUP", "MASTER", ...]."""
        try:
            with open(self.state_file) as f:
                return [ln.split()[2] for ln in f if len(ln.split()) >= 3]
        except OSError:
            return []

    def state(self):
        s = self.states()
        return s[-1] if s else None

    def wait_state(self, want, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.state() == want:
                return True
            time.sleep(0.02)
        return False

    def kill(self):
        """SIGKILL parent and VRRP child at once: a crash. keepalived leaves
        its VIPs on the interface then (the caller takes the link down or
        removes them)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def stop(self, timeout=5):
        """SIGTERM (keepalived sends priority 0 and removes its VIPs), then
        SIGKILL after `timeout`."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(_alive(p) for p in pids):
            time.sleep(0.05)
        self.kill()

    def _reap(self):
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None

    def log_tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "keepalived log (tail):\n  " + "  ".join(f.readlines()[-n:])
        except OSError:
            return "(no keepalived log)"


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def main():
    ap = argparse.ArgumentParser(description="keepalived as the lab's VRRP peer")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("ns", choices=["lb1", "lb2"])
    s.add_argument("dir")
    s.add_argument("--vrid", type=int, default=51)
    s.add_argument("--priority", type=int, default=100)
    s.add_argument("--advert-int", default="1")
    s.add_argument("--nopreempt", action="store_true")
    s.add_argument("--unicast-src")
    s.add_argument("--unicast-peer", action="append", default=[])
    s.add_argument("--v6", action="store_true", help="a second instance for 2001:2::100")
    t = sub.add_parser("stop")
    t.add_argument("dir")
    t.add_argument("--kill", action="store_true")
    a = ap.parse_args()
    if a.cmd == "start":
        k = Keepalived(a.ns, a.dir, a.vrid, a.priority, a.advert_int, not a.nopreempt,
                       a.unicast_src, a.unicast_peer, vips6=(VIP6,) if a.v6 else ())
        k.start()
        # Detached from us: the pid files in DIR are how `stop` finds it.
        print(" ".join(map(str, k.pids())))
        return 0
    k = Keepalived.__new__(Keepalived)
    k.dir, k.proc = a.dir, None
    k.pidfile = os.path.join(a.dir, "keepalived.pid")
    k.vrrp_pidfile = os.path.join(a.dir, "vrrp.pid")
    k.kill() if a.kill else k.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
