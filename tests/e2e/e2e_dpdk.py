# SPDX-License-Identifier: Apache-2.0
"""Issue 8: sluiced with the DPDK dataplane on lb1.

The port is lb1's eth0 through net_af_packet; the EAL runs without
hugepages or PCI (--no-huge -m 512 --no-pci --no-shconf, a file prefix
unique to the run) on lcores 0-1: the main lcore keeps the controller, one
worker lcore steers. `interface: sl-lb1` is the exception port, a TAP
sluiced creates with eth0's MAC and MTU; lb1's own addresses (198.18.0.1/24,
2001:2::1/64) move from eth0 to it (dpdk.addresses), so the kernel reaches
the lab only through sluiced, and sluiced's drop program on eth0's tcx
ingress keeps the kernel's own copy of each frame (af_packet gives it one)
from being answered.

  dpdk_{dsr,ipip}_v{4,6}_traffic, dpdk_two_workers_{dsr_v4,ipip_v6}_traffic
      300 HTTP connections + 200 UDP flows through the VIP, backends weighted
      1:2:1: the checks of the XDP traffic tests (every connection completes,
      counts within +-10%, no RST, every flow at one backend on the wire in
      the mode's encapsulation). And: the client resolved the VIP to eth0's
      MAC (ARP / ND answered by the kernel through the TAP, counted as
      pass_not_ip, ND as pass_other_proto), `sluicectl status` says dpdk, `stats`
      counts the flows at the backends, `conns` lists recorded flows,
      sluice_build_info says dataplane="dpdk"; after SIGTERM the TAP, the
      drop program and the EAL run directory are gone. With two workers
      (net_af_packet qpairs=2: one packet socket per worker in a
      PACKET_FANOUT_HASH group), `status` lists both and each took a share.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

E = None
R = None

TAP = "sl-lb1"
LB1_ADDRS = ("198.18.0.1/24", "2001:2::1/64")


def run_dir(prefix):
    return f"/var/run/dpdk/{prefix}"


def write_cfg(path, family, mode, prefix, workers=1):
    if workers == 1:
        lcores = ["-l", "0-1"]
        vdev = "--vdev=net_af_packet0,iface=eth0"
    else:
        # More lcores than the lab's 2 CPUs: lcore i on CPU i % 2 (the
        # workers sleep when idle). One packet socket per worker, in one
        # fanout group that the kernel spreads by flow hash.
        lcores = ["--lcores=" + ",".join(f"{i}@{i % 2}" for i in range(workers + 1))]
        vdev = f"--vdev=net_af_packet0,iface=eth0,qpairs={workers}"
    eal = ["--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
           f"--file-prefix={prefix}", *lcores, vdev]
    lines = [f"interface: {TAP}", "dataplane: dpdk", f"api_socket: {E.SOCK}",
             "metrics_listen: 127.0.0.1:9477", "conn_table_size: 65536",
             "dpdk:", "  eal: [" + ", ".join(json.dumps(a) for a in eal) + "]",
             "  port: net_af_packet0", "  idle_sleep_us: 50", f"  workers: {workers}",
             "  addresses: [" + ", ".join(LB1_ADDRS) + "]", "vips:"]
    for port, proto in ((E.HTTP_PORT, "tcp"), (E.UDP_PORT, "udp")):
        lines += [f"  - address: {E.VIP[family]}", f"    port: {port}",
                  f"    protocol: {proto}", f"    mode: {mode}", "    backends:"]
        lines += [f"      - {{ address: {E.BE[family][b]}, weight: {w} }}"
                  for b, w in E.WEIGHTS.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def eth0_addrs():
    """lb1 eth0's global addresses."""
    out = E.sh(["ip", "-n", "lb1", "-j", "addr", "show", "dev", "eth0"], timeout=10).stdout
    info = json.loads(out)[0]
    return [f"{a['local']}/{a['prefixlen']}" for a in info.get("addr_info", [])
            if a.get("scope") == "global"]


def lb1_give_back():
    """eth0 gets lb1's addresses back (what the lab made)."""
    for a in LB1_ADDRS:
        args = ["ip", "-n", "lb1", "addr", "replace", a, "dev", "eth0"]
        if ":" in a:
            args.append("nodad")
        E.sh(args, timeout=10, check=False)


def link_exists(ns, name):
    return E.sh(["ip", "-n", ns, "link", "show", "dev", name], timeout=10,
                check=False).returncode == 0


def tcx_links(ifname):
    """bpf links of the tcx kind on lb1's `ifname` (bpftool, JSON)."""
    p = E.sh(["bpftool", "-j", "link", "show"], timeout=10, check=False)
    if p.returncode != 0:
        return None
    try:
        links = json.loads(p.stdout or "[]")
    except ValueError:
        return None
    return [l for l in links if l.get("type") in ("tcx", 13) or "tcx" in str(l.get("type"))]


class DpdkSluiced:
    def __init__(self, config, log):
        self.config, self.log = config, log
        self.proc = None

    def start(self, family, timeout=40):
        args = [E.SLUICED, "--config", self.config]
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(E.in_ns("lb1", args), stdout=logf, stderr=logf,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        with open(E.SLUICED_PID, "w") as f:
            f.write(f"{self.proc.pid}\n")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"sluiced exited with {self.proc.returncode} at start:\n"
                                     + self.tail())
            if os.path.exists(E.SOCK):
                p = E.sluicectl("status", "-o", "json", check=False)
                if p.returncode == 0 and link_exists("lb1", TAP):
                    a = E.sh(["ip", "-n", "lb1", "addr", "show", "dev", TAP], timeout=10).stdout
                    if E.VIP[family] in a:
                        return json.loads(p.stdout)
            time.sleep(0.2)
        raise AssertionError(f"sluiced (dpdk) not ready within {timeout}s\n" + self.tail())

    def stop(self, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError("sluiced (dpdk) ignored SIGTERM; killed\n" + self.tail())
        rc = self.proc.returncode
        self.proc = None
        try:
            os.unlink(E.SLUICED_PID)
        except FileNotFoundError:
            pass
        return rc

    def tail(self, n=30):
        try:
            with open(self.log, errors="replace") as f:
                return "sluiced log (tail):\n  " + "  ".join(f.readlines()[-n:])
        except OSError:
            return "(no sluiced log)"


def client_neigh(vip):
    out = E.sh(["ip", "-n", "client", "neigh", "show", vip], timeout=10).stdout
    return out


def metrics_text():
    code = ("import urllib.request;print(urllib.request.urlopen("
            "'http://127.0.0.1:9477/metrics',timeout=5).read().decode())")
    return E.sh(E.in_ns("lb1", ["/usr/bin/python3", "-c", code]), timeout=15).stdout


def t_dpdk_traffic(family, mode, workers=1):
    tmp = tempfile.mkdtemp(prefix=f"sluice-e2e-dpdk-{mode}-v{family}-")
    prefix = f"sl-e2e-dpdk-{os.getpid()}"
    cfg = os.path.join(tmp, "sluice.yaml")
    log = os.path.join(tmp, "sluiced.log")
    problems = []
    sl = None
    lb1_mac = json.loads(E.sh(["ip", "-n", "lb1", "-j", "link", "show", "dev", "eth0"],
                              timeout=10).stdout)[0]["address"]
    try:
        E.reset_lb1()
        E.backend_setup(mode)
        # The kernel's addresses live on the TAP while sluiced runs.
        for a in LB1_ADDRS:
            E.sh(["ip", "-n", "lb1", "addr", "del", a, "dev", "eth0"], timeout=10, check=False)
        E.sh(["ip", "-n", "client", "neigh", "flush", "all"], timeout=10, check=False)
        write_cfg(cfg, family, mode, prefix, workers)
        sl = DpdkSluiced(cfg, log)
        status = sl.start(family)
        if status.get("dataplane") != "dpdk":
            problems.append(f"status: dataplane {status.get('dataplane')!r}, expected 'dpdk'")
        if eth0_addrs():
            problems.append(f"lb1 eth0 still has addresses {eth0_addrs()}")
        before = E.tcp_counters()
        sniffer = E.Sniffer()
        try:
            res = E.run_client(E.VIP[family], tcp=E.N_TCP, udp=E.N_UDP)
        finally:
            time.sleep(0.3)
            sn = sniffer.stop()
        after = E.tcp_counters()
        E.traffic_checks(None, res, before, after, E.N_TCP, E.N_UDP, E.WEIGHTS, problems)
        E.wire_checks(mode, family, sn, E.N_TCP, E.N_UDP, problems)
        # ARP / ND through the exception path: the client holds lb1's MAC
        # for the VIP, learnt from the kernel behind the TAP.
        neigh = client_neigh(E.VIP[family])
        if lb1_mac.lower() not in neigh.lower():
            problems.append(f"client's neighbour entry for {E.VIP[family]}: {neigh.strip()!r}, "
                            f"expected lladdr {lb1_mac}")
        st = json.loads(E.sluicectl("stats", "-o", "json").stdout)
        passed = sum(st["reasons"][r]["packets"]
                     for r in ("pass_not_ip", "pass_not_vip", "pass_other_proto"))
        if passed == 0:
            problems.append("stats: no packet passed to the kernel (pass_not_ip, pass_not_vip, "
                            "pass_other_proto: ARP, ND)")
        new_at_backends = sum(b["new_conns"] for b in st["backends"])
        if new_at_backends < E.N_TCP + E.N_UDP:
            problems.append(f"stats: {new_at_backends} new connections at the backends, "
                            f"expected >= {E.N_TCP + E.N_UDP}")
        # Every worker took its share (status: packets per worker).
        per = [w.get("packets", 0) for w in
               json.loads(E.sluicectl("status", "-o", "json").stdout).get("workers", [])]
        if len(per) != workers:
            problems.append(f"status: workers {per}, expected {workers} entries")
        elif workers > 1 and min(per) < (E.N_TCP + E.N_UDP) // (4 * workers):
            problems.append(f"status: packets per worker {per}: one worker took almost none "
                            f"(the port does not spread flows)")
        conns = json.loads(E.sluicectl("conns", "-o", "json").stdout)
        listed = conns.get("conns", conns if isinstance(conns, list) else [])
        if not listed:
            problems.append(f"conns: empty ({str(conns)[:300]})")
        m = metrics_text()
        if 'dataplane="dpdk"' not in m:
            problems.append("metrics: sluice_build_info has no dataplane=\"dpdk\" label")
        rc = sl.stop()
        sl = None
        if rc != 0:
            problems.append(f"sluiced exited {rc} on SIGTERM")
        if link_exists("lb1", TAP):
            problems.append(f"{TAP} still exists after sluiced stopped")
        if os.path.exists(run_dir(prefix)):
            problems.append(f"{run_dir(prefix)} left behind")
        links = tcx_links("eth0")
        if links:
            problems.append(f"tcx links left after exit: {links}")
        if problems:
            problems.append(f"client: tcp {res['tcp']['backends']} errors {res['tcp']['errors']}; "
                            f"udp {res['udp']['backends']} lost {res['udp']['lost']}")
            problems.append("sluicectl stats: " + json.dumps(st)[:1500])
            problems.append(DpdkSluiced(cfg, log).tail())
        elif E.VERBOSE:
            print(f"    tcp {res['tcp']['backends']} udp {res['udp']['backends']} "
                  f"passed-to-kernel {passed} packets per worker {per}")
    finally:
        if sl is not None:
            try:
                sl.stop()
            except AssertionError as e:
                problems.append(str(e))
        shutil.rmtree(run_dir(prefix), ignore_errors=True)
        try:
            E.backend_setup(mode, undo=True)
        except Exception as e:  # noqa: BLE001
            problems.append(f"backend-setup --undo: {e}")
        lb1_give_back()
        E.reset_lb1()
        shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        raise AssertionError("\n".join(problems))


def register(mod, runtime):
    global E, R
    E, R = mod, runtime
    for mode in ("dsr", "ipip"):
        for fam in (4, 6):
            E.TESTS.append((f"dpdk_{mode}_v{fam}_traffic",
                            lambda f=fam, m=mode: t_dpdk_traffic(f, m), True))
    # Two workers, each with its own queue and connection table: the same
    # checks (each flow at one backend on the wire: no flow changed worker
    # mid-way), and both workers steered.
    E.TESTS.append(("dpdk_two_workers_dsr_v4_traffic",
                    lambda: t_dpdk_traffic(4, "dsr", workers=2), True))
    E.TESTS.append(("dpdk_two_workers_ipip_v6_traffic",
                    lambda: t_dpdk_traffic(6, "ipip", workers=2), True))
