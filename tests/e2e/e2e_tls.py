# SPDX-License-Identifier: Apache-2.0
"""Issue 9 item 5: HTTPS through the balancer (sluice is L4: TLS passes through
and the backends terminate it).

A VIP on 443/tcp in front of be1..be3, each serving HTTPS with a certificate
for the VIP (IP SANs 198.18.0.100 and 2001:2::100) signed by a throwaway CA
made at test time (openssl CLI, in the case's temp dir; nothing is kept).
The client (scripts/lab-tools/tls_client.py) makes N fresh connections, each
verifying the certificate chain and the VIP as the server's identity, POSTing
256 KiB and reading 256 KiB back (full 16 KiB TLS records, full-size TCP
segments: the client has TSO/GSO off), with both bodies' SHA-256 compared
end to end. Passing means: every request verified and completed, all three
backends served, no RST anywhere (backends' TcpOutRsts, client's
TcpEstabResets / TcpAttemptFails / TcpOutRsts), the switch saw every flow at
exactly one backend in the mode's encapsulation, and the segment size is the
one the MTU allows: the client sent with MSS = M and the backend received
segments of M (TCP_INFO rcv_mss), with no frag-needed from the balancer.
Two probes first (not counted above) prove verification is real: a client
trusting another CA, and one expecting another IP, both fail the handshake.

  tls_dsr_v4, tls_dsr_v6     dsr: packets do not grow; M = 1460 / 1440.
  tls_ipip_v4, tls_ipip_v6   the lab's balancer-to-backend MTU is 1600, so the
                             client's full 1500-byte packets fit encapsulated
                             (1520 / 1540): M = 1460 / 1440, no tx_icmp_too_big.
  tls_ipip_v4_mss_clamp, tls_ipip_v6_mss_clamp
                             lb1's MTU lowered to 1500 (a plain 1500 network).
                             First one request without clamping: the balancer
                             answers frag-needed / packet-too-big and the
                             request still completes by PMTU discovery (the
                             constraint is real). Then the README's setting:
                             the backends' route to the client gets advmss
                             1440 (v4: 1500 - 20 IPIP - 20 - 20) / 1400 (v6:
                             1500 - 40 IP6IP6 - 40 - 20); N requests with
                             M = 1440 / 1400, encapsulated packets of exactly
                             1500, and not one ICMP answer from the balancer.
"""
import json
import os
import shutil
import signal
import subprocess
import time

E = None  # the e2e module
R = None  # e2e_runtime

PORT = 443
N_REQ = 30
UPLOAD = 256 * 1024
DOWNLOAD = 256 * 1024
BACKENDS = ("be1", "be2", "be3")
OTHER_IP = {4: "198.18.0.101", 6: "2001:2::101"}
LAB_MTU = 1600
# Full-size segment for a 1500-byte client packet, and the clamped MSS that
# keeps the encapsulated packet at 1500 (IPv4: 20 + 20 headers, IPIP +20;
# IPv6: 40 + 20, IP6IP6 +40).
FULL_MSS = {4: 1460, 6: 1440}
CLAMP_MSS = {4: 1440, 6: 1400}


def openssl(*args, cwd):
    E.sh(["openssl"] + list(args), timeout=30, cwd=cwd)


def make_certs(d):
    """A throwaway CA, a server certificate for both VIPs signed by it, and an
    unrelated CA; returns the paths."""
    if shutil.which("openssl") is None:
        raise AssertionError("no `openssl` CLI (Debian package openssl) to make the test "
                             "certificates")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write(f"subjectAltName = IP:{E.VIP[4]}, IP:{E.VIP[6]}\n"
                "basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "1",
                "-subj", f"/CN=sluice lab {ca}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-new", *ec, "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", f"/CN={E.VIP[4]}", cwd=d)
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "1", "-days", "1", "-extfile", "srv.ext", "-out", "srv.pem", cwd=d)
    return {k: os.path.join(d, f) for k, f in (("ca", "ca.pem"), ("other_ca", "other-ca.pem"),
                                                ("cert", "srv.pem"), ("key", "srv.key"))}


class TlsServers:
    """backend_server.py --tls-port 443 (HTTP and UDP off) in be1..be3, beside
    the lab's own servers; pid files in /run/sluice-lab so `lab down` kills
    them too."""

    def __init__(self, certs, logdir):
        self.procs = {}
        server = os.path.join(E.REPO, "scripts", "lab-tools", "backend_server.py")
        for b in BACKENDS:
            pidf = f"{E.RUNDIR}/{b}-tls.pid"
            try:
                os.unlink(pidf)
            except FileNotFoundError:
                pass
            log = open(os.path.join(logdir, f"{b}-tls.log"), "ab")
            self.procs[b] = (subprocess.Popen(
                ["ip", "netns", "exec", b, "/usr/bin/python3", server, "--name", b,
                 "--http-port", "0", "--udp-port", "0", "--tls-port", str(PORT),
                 "--tls-cert", certs["cert"], "--tls-key", certs["key"], "--pidfile", pidf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True), pidf)
            log.close()
        end = time.monotonic() + 10
        for b, (p, pidf) in self.procs.items():
            while not os.path.exists(pidf):
                if p.poll() is not None or time.monotonic() > end:
                    self.stop()
                    with open(os.path.join(logdir, f"{b}-tls.log"), errors="replace") as f:
                        raise AssertionError(f"TLS server in {b} did not start: {f.read()[-500:]}")
                time.sleep(0.05)

    def stop(self):
        for p, _ in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, pidf in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            try:
                os.unlink(pidf)
            except FileNotFoundError:
                pass
        self.procs = {}


def write_cfg(path, family, mode):
    lines = ["interface: eth0", "dataplane: xdp", f"xdp_mode: {E.XDP_MODE}",
             f"api_socket: {E.SOCK}", "metrics_listen: 127.0.0.1:9477",
             "conn_table_size: 65536", "vips:",
             f"  - address: {E.VIP[family]}", f"    port: {PORT}", "    protocol: tcp",
             f"    mode: {mode}", "    backends:"]
    lines += [f"      - {{ address: {E.BE[family][b]}, weight: 1 }}" for b in BACKENDS]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def tls_client(family, certs, n=N_REQ, ca="ca", server_name=None, expect_fail=False):
    args = ["ip", "netns", "exec", "client", "/usr/bin/python3",
            os.path.join(E.REPO, "scripts", "lab-tools", "tls_client.py"),
            "--vip", E.VIP[family], "--port", str(PORT), "--ca", certs[ca],
            "--requests", str(n), "--upload", str(UPLOAD), "--download", str(DOWNLOAD),
            "--timeout", "5", "--deadline", "50"]
    if server_name:
        args += ["--server-name", server_name]
    if expect_fail:
        args.append("--expect-fail")
    p = E.sh(args, timeout=60)
    return json.loads(p.stdout)


def flush_client_pmtu():
    for fam in ("-4", "-6"):
        E.sh(["ip", fam, "-n", "client", "route", "flush", "cache"], timeout=10, check=False)


def client_route_mtu(family):
    out = E.sh(["ip", "-n", "client", "route", "get", E.VIP[family]], timeout=10).stdout
    words = out.split()
    return int(words[words.index("mtu") + 1]) if "mtu" in words else None


def advmss_routes(family, mss, add):
    """A host route to the client on each backend carrying advmss (the MSS the
    backend advertises in its SYN-ACK); add=False removes it."""
    client = "198.18.0.10" if family == 4 else "2001:2::10"
    plen = 32 if family == 4 else 128
    for b in BACKENDS:
        if add:
            E.sh(["ip", "-n", b, "route", "replace", f"{client}/{plen}", "dev", "eth0",
                  "advmss", str(mss)], timeout=10)
        else:
            E.sh(["ip", "-n", b, "route", "del", f"{client}/{plen}", "dev", "eth0"], timeout=10,
                 check=False)


def stats():
    return json.loads(E.sluicectl("stats", "-o", "json").stdout)


def icmp_delta(before, after):
    return {r: E.reason_packets(after, r) - E.reason_packets(before, r)
            for r in ("tx_icmp_too_big", "drop_too_big")}


def check_probes(family, certs, problems):
    """Verification is real: another CA, or another expected IP, fails."""
    for what, kw in (("a client trusting another CA", {"ca": "other_ca"}),
                     ("a client expecting another IP", {"server_name": OTHER_IP[family]})):
        r = tls_client(family, certs, n=1, expect_fail=True, **kw)
        if r["verify_failed"] != 1 or r["unexpected_ok"]:
            problems.append(f"{what}: the handshake should fail verification, got {r}")


def timestamps_on():
    """TCP timestamps (12 bytes of options in every segment) in use between the
    client and the backends: a full segment then carries MSS - 12 bytes."""
    vals = [E.sh(["ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.tcp_timestamps"],
                 timeout=10).stdout.strip() for ns in ("client",) + BACKENDS]
    return all(v in ("1", "2") for v in vals)


def open_tls_sockets():
    """Sockets of earlier connections to the VIP's port that are still
    closing, per namespace: anything but LISTEN and TIME-WAIT on port 443."""
    left = {}
    for ns in ("client",) + BACKENDS:
        out = E.sh(["ip", "netns", "exec", ns, "ss", "-Htan"], timeout=10).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) < 5 or f[0] in ("LISTEN", "TIME-WAIT"):
                continue
            if f[3].endswith(f":{PORT}") or f[4].endswith(f":{PORT}"):
                left.setdefault(ns, []).append(f"{f[0]} {f[3]} {f[4]}")
    return left


def wait_closed(problems, limit=10.0):
    """The probes and the unclamped request are over on both ends before the
    counted run: a late segment of one of them (a retransmission crossing the
    close) is answered with a RST by a client whose socket is gone, which
    would be counted against the run."""
    end = time.monotonic() + limit
    while True:
        left = open_tls_sockets()
        if not left:
            return
        if time.monotonic() > end:
            problems.append(f"connections of the probes still open after {limit:.0f} s: {left}")
            return
        time.sleep(0.1)


def check_run(res, mode, family, mss, problems):
    if res["ok"] != N_REQ:
        problems.append(f"{res['ok']}/{N_REQ} HTTPS requests verified and completed; errors "
                        f"{res['errors']} e.g. {res['error_samples']}")
    spread = res["backends"]
    if set(spread) != set(BACKENDS) or min(spread.values()) < N_REQ // 6:
        problems.append(f"responses not spread over be1..be3 (weights 1:1:1): {spread}")
    if E.VIP[family] not in res["san_ips"]:
        problems.append(f"the verified certificate's IP SANs {res['san_ips']} lack the VIP")
    seg = mss - (12 if timestamps_on() else 0)
    if res["client_snd_mss"] != [seg, seg]:
        problems.append(f"{mode} v{family}: the client sent segments of "
                        f"{res['client_snd_mss']} bytes (min, max of TCP_INFO snd_mss), "
                        f"expected {seg} (MSS {mss})")
    if res["backend_rcv_mss"] != [seg, seg]:
        problems.append(f"{mode} v{family}: the backends received segments of "
                        f"{res['backend_rcv_mss']} bytes (min, max of TCP_INFO rcv_mss), "
                        f"expected {seg} (MSS {mss}): full-size segments did not cross")


def check_rsts(d, problems):
    for b in BACKENDS:
        if d[b]["TcpOutRsts"]:
            problems.append(f"{b} sent {d[b]['TcpOutRsts']} RSTs")
    c = d["client"]
    if c["TcpAttemptFails"] or c["TcpEstabResets"] or c["TcpOutRsts"]:
        problems.append(f"client: TcpAttemptFails +{c['TcpAttemptFails']}, TcpEstabResets "
                        f"+{c['TcpEstabResets']}, TcpOutRsts +{c['TcpOutRsts']}")


def t_tls(family, mode, clamp=False):
    case = E.Case(f"tls-{mode}-v{family}{'-clamp' if clamp else ''}", family, mode)
    problems, servers, diag = [], None, {}
    mss = CLAMP_MSS[family] if clamp else FULL_MSS[family]
    try:
        certs = make_certs(case.tmp)
        E.reset_lb1()
        E.backend_setup(mode)
        if clamp:
            E.sh(["ip", "-n", "lb1", "link", "set", "dev", "eth0", "mtu", "1500"], timeout=10)
        flush_client_pmtu()
        write_cfg(case.config, family, mode)
        servers = TlsServers(certs, case.tmp)
        case.sluiced = E.Sluiced(case.config, True, case.log)
        case.sluiced.start(family)
        check_probes(family, certs, problems)
        if clamp:
            # Unclamped, a full 1500-byte client packet does not fit once
            # encapsulated: the balancer answers, PMTU discovery recovers.
            s0 = stats()
            r = tls_client(family, certs, n=1)
            icmp = icmp_delta(s0, stats())
            diag["unclamped"] = {"result": r, "icmp": icmp,
                                 "client_route_mtu": client_route_mtu(family)}
            if r["ok"] != 1 or icmp["tx_icmp_too_big"] < 1:
                problems.append(f"unclamped request over lb1 MTU 1500: expected it to complete "
                                f"after the balancer's frag-needed / packet-too-big, got "
                                f"{diag['unclamped']}")
            flush_client_pmtu()
            if client_route_mtu(family) is not None:
                problems.append("the client's learnt path MTU to the VIP did not flush")
            advmss_routes(family, mss, add=True)
        wait_closed(problems)
        sniffer = E.Sniffer()
        before, s_before = E.tcp_counters(), stats()
        try:
            res = tls_client(family, certs)
        finally:
            time.sleep(0.3)
            sn = sniffer.stop()
        after, s_after = E.tcp_counters(), stats()
        check_run(res, mode, family, mss, problems)
        check_rsts(E.delta(before, after), problems)
        E.wire_checks(mode, family, sn, N_REQ, 0, problems)
        icmp = icmp_delta(s_before, s_after)
        if any(icmp.values()):
            problems.append(f"the balancer answered or dropped oversized packets {icmp}: the "
                            f"{'clamped MSS' if clamp else 'lab MTU 1600'} should make every "
                            f"encapsulated packet fit")
        if client_route_mtu(family) is not None:
            problems.append(f"the client learnt a path MTU {client_route_mtu(family)} to the VIP")
        diag.update(client=res, icmp=icmp, nstat=E.delta(before, after),
                    wire={"flows": sn["flows"], "encap": sn["ports"]})
        if problems:
            problems.append(f"diag: {json.dumps(diag)}")
            problems.append("sluicectl stats: " + E.sluicectl_stats())
            problems.append(case.sluiced.log_tail())
        elif E.VERBOSE:
            print(f"    {json.dumps(diag)}")
    finally:
        if servers is not None:
            servers.stop()
        if clamp:
            advmss_routes(family, mss, add=False)
            E.sh(["ip", "-n", "lb1", "link", "set", "dev", "eth0", "mtu", str(LAB_MTU)],
                 timeout=10, check=False)
        flush_client_pmtu()
        problems += case.teardown()
    if problems:
        raise AssertionError("\n".join(problems))


def register(mod, runtime):
    global E, R
    E, R = mod, runtime
    for mode in ("dsr", "ipip"):
        for fam in (4, 6):
            E.TESTS.append((f"tls_{mode}_v{fam}", lambda f=fam, m=mode: t_tls(f, m), True))
    for fam in (4, 6):
        E.TESTS.append((f"tls_ipip_v{fam}_mss_clamp",
                        lambda f=fam: t_tls(f, "ipip", clamp=True), True))
