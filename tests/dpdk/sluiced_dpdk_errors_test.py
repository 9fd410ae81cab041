#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sluiced --dataplane dpdk on bad input (issue 8 item 6): each case must
end with a non-zero exit, one error line naming the cause, and nothing left
half-started: no EAL run directory (/var/run/dpdk/<prefix>), no TAP, no
drop program on the port's interface, no process.

Each case runs sluiced in a network namespace of its own (sl-h2-err-<pid>)
with a veth pair for net_af_packet. Needs root; without it the test is
skipped (exit 77), except under CI=true, where that is a failure.

usage: sluiced_dpdk_errors_test.py SLUICED
"""
import json
import os
import subprocess
import sys
import tempfile

SLUICED = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SLUICED", "")
CI = os.environ.get("CI", "").lower() == "true"
NS = f"sl-h2-err-{os.getpid()}"
TAP = "sl-err0"
BASE_EAL = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry"]


def sh(args, check=True, timeout=30):
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)


def tcx_progs():
    """Programs attached to the veth's tcx ingress (bpftool prints links of
    every namespace; ours are named sl_kernel_drop)."""
    p = sh(["bpftool", "-j", "prog", "show"], check=False)
    try:
        return [x for x in json.loads(p.stdout or "[]") if x.get("name") == "sl_kernel_drop"]
    except ValueError:
        return []


CASES = [
    # name, eal (after BASE_EAL and the prefix), dpdk extra lines, expected text
    ("bad EAL argument", ["-l", "0-1", "--no-such-eal-flag", "--vdev=net_af_packet0,iface=vq"], [],
     "EAL init failed"),
    ("no worker lcore", ["-l", "0", "--vdev=net_af_packet0,iface=vq"], [],
     "no worker lcore"),
    ("more workers than lcores", ["-l", "0-1", "--vdev=net_af_packet0,iface=vq"],
     ["  workers: 2"], "2 workers asked, the EAL has 1 worker lcore"),
    ("more queues than the port has", ["--lcores=0@0,1@0,2@0", "--vdev=net_af_packet0,iface=vq"],
     [], "has 1 RX/TX queue pair(s), 2 asked"),
    ("no such port", ["-l", "0-1", "--vdev=net_af_packet0,iface=vq"], ["  port: net_nope0"],
     "no port named 'net_nope0'"),
    ("port interface missing", ["-l", "0-1", "--vdev=net_af_packet0,iface=missing0"], [],
     "no port: the EAL has no device"),
]


def run_case(tmp, i, name, eal, extra, want):
    prefix = f"sl-h2-err-{os.getpid()}-{i}"
    cfg = os.path.join(tmp, f"c{i}.yaml")
    lines = [f"interface: {TAP}", "dataplane: dpdk", f"api_socket: {tmp}/s{i}.sock",
             'metrics_listen: ""', "conn_table_size: 4096", "dpdk:",
             "  eal: " + json.dumps(BASE_EAL + [f"--file-prefix={prefix}"] + eal)] + extra + [
             "vips: []"]
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    before = len(tcx_progs())
    p = sh(["ip", "netns", "exec", NS, SLUICED, "--config", cfg], check=False, timeout=60)
    problems = []
    err = p.stderr.strip().splitlines()
    own = [l for l in err if "sluiced" in l or l.startswith("sluiced:")]
    if p.returncode == 0:
        problems.append("exit 0")
    if not own or want not in own[-1]:
        problems.append(f"last sluiced line {own[-1] if own else None!r} does not say {want!r}")
    if os.path.exists(f"/var/run/dpdk/{prefix}"):
        problems.append(f"/var/run/dpdk/{prefix} left behind")
    if sh(["ip", "-n", NS, "link", "show", "dev", TAP], check=False).returncode == 0:
        problems.append(f"TAP {TAP} left behind")
    if len(tcx_progs()) > before:
        problems.append("a drop program left attached")
    status = "PASS" if not problems else "FAIL"
    print(f"{status} {name}: exit {p.returncode}; {own[-1] if own else ''}")
    for x in problems:
        print(f"    {x}")
    if problems:
        print("    stderr tail:\n      " + "\n      ".join(err[-8:]))
    return not problems


def main():
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        print("needs root and /dev/net/tun" + (" (CI=true: a failure)" if CI else ": skipped"))
        return 1 if CI else 77
    if not SLUICED or not os.access(SLUICED, os.X_OK):
        print(f"no sluiced binary: {SLUICED!r}")
        return 1
    sh(["ip", "netns", "add", NS])
    ok = True
    try:
        sh(["ip", "-n", NS, "link", "add", "vq", "type", "veth", "peer", "name", "vp"])
        for d in ("vq", "vp"):
            sh(["ip", "-n", NS, "link", "set", d, "up"])
        with tempfile.TemporaryDirectory(prefix="sl-h2-err-") as tmp:
            for i, (name, eal, extra, want) in enumerate(CASES):
                ok = run_case(tmp, i, name, eal, extra, want) and ok
    finally:
        sh(["ip", "netns", "del", NS], check=False)
    print(f"{sum(1 for _ in CASES)} cases, {'all passed' if ok else 'failures above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
