#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lab traffic driver: N HTTP GETs, each over a fresh TCP connection, and N
UDP flows of several datagrams each, to a VIP (IPv4 or IPv6). Prints one JSON
object:

{
  "target": "198.18.0.100", "family": 4,
  "tcp": {"attempted": N, "ok": n, "failed": n, "errors": {"timeout": n, ...},
          "backends": {"be1": n, ...}, "elapsed_s": f},
  "udp": {"flows": N, "ok": n, "failed": n, "inconsistent": n, "lost": n,
          "datagrams_per_flow": k, "errors": {...}, "backends": {...}, "elapsed_s": f}
}

A TCP request is ok when the connection completes and the body (the backend
name) arrives before the server closes. A UDP flow is one socket (one source
port, never reused within a run) sending k datagrams; it is ok when every datagram is answered and every
answer names the same backend; "inconsistent" counts flows answered by more
than one backend, "lost" flows missing at least one answer.

--stream: fresh HTTP GETs one after another (at most one per --interval
seconds) until a line (or EOF) on stdin or --deadline; prints "streaming" on
stderr at the start and, under "stream", every connection as
[t_start, t_end, result] with t = time.monotonic() (CLOCK_MONOTONIC, the same
clock in every namespace, so a test can line its own actions up with them)
and result the backend name or "!<error>" (e.g. "!refused", "!timeout").
Each connection is also printed at once on stdout as "E t_start t_end result"
(before the final JSON) so the caller can follow the run live.

Safety: refuses any target outside 198.18.0.0/15 and 2001:2::/48.
Python 3 stdlib only. Loops are bounded by count and by --deadline seconds.
"""
import argparse
import collections
import json
import errno
import itertools
import socket
import sys
import time

from labnet import classify, lab_target


def http_get(ip, port, timeout, host, sport=None):
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if sport is not None:
            try:
                s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
            except OSError as e:
                e.connected = False  # a port some socket holds: the caller takes the next
                raise
        s.connect((str(ip), port))
        s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: sluice-lab\r\n\r\n".encode())
        chunks = []
        total = 0
        while total < 65536:
            b = s.recv(4096)
            if not b:
                break
            chunks.append(b)
            total += len(b)
        data = b"".join(chunks)
    finally:
        s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no HTTP header end")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise ValueError(f"HTTP status {status!r}")
    name = body.decode(errors="replace").strip()
    if not name:
        raise ValueError("empty body")
    return name


def run_hold(ip, port, n, timeout, host):
    """Open n TCP connections, say "held N" on stderr, wait for a line on stdin,
    then send one GET on each (the connection-survives-restart check)."""
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    conns = []
    errors = collections.Counter()
    for _ in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((str(ip), port))
            conns.append(s)
        except Exception as e:  # noqa: BLE001
            errors["connect-" + classify(e)] += 1
            s.close()
    print(f"held {len(conns)}", file=sys.stderr, flush=True)
    sys.stdin.readline()
    backends = collections.Counter()
    ok = 0
    t0 = time.monotonic()
    for s in conns:
        try:
            s.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while len(data) < 65536:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            head, sep, body = data.partition(b"\r\n\r\n")
            name = body.decode(errors="replace").strip()
            if not sep or not name or b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
                raise ValueError(f"bad response {data[:80]!r}")
            backends[name] += 1
            ok += 1
        except Exception as e:  # noqa: BLE001
            errors[classify(e)] += 1
        finally:
            s.close()
    return {"attempted": n, "ok": ok, "failed": n - ok, "errors": dict(errors),
            "backends": dict(sorted(backends.items())),
            "elapsed_s": round(time.monotonic() - t0, 3)}


def run_tcp(ip, port, n, timeout, deadline, host):
    backends = collections.Counter()
    errors = collections.Counter()
    ok = 0
    attempted = 0
    t0 = time.monotonic()
    for _ in range(n):
        if time.monotonic() > deadline:
            errors["deadline"] += n - attempted
            break
        attempted += 1
        try:
            backends[http_get(ip, port, timeout, host)] += 1
            ok += 1
        except Exception as e:  # noqa: BLE001 - every failure is counted
            errors[classify(e)] += 1
    return {
        "attempted": n, "ok": ok, "failed": n - ok, "errors": dict(errors),
        "backends": dict(sorted(backends.items())),
        "elapsed_s": round(time.monotonic() - t0, 3),
    }


def udp_socket(ip, port, used):
    """A connected UDP socket whose source port this run has not used yet:
    the kernel picks UDP ephemeral ports at random, and two flows sharing a
    5-tuple are one flow to the balancer."""
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    for _ in range(50):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.connect((str(ip), port))  # fixed source port for the whole flow
        sport = s.getsockname()[1]
        if sport not in used:
            used.add(sport)
            return s
        s.close()
    raise OSError("no unused UDP source port after 50 tries")


def udp_flow(ip, port, k, timeout, flow_id, used):
    s = udp_socket(ip, port, used)
    s.settimeout(timeout)
    names = []
    lost = 0
    try:
        for seq in range(k):
            payload = f"flow={flow_id} seq={seq}".encode()
            got = None
            for _try in range(2):  # one retransmit per datagram, bounded
                s.send(payload)
                end = time.monotonic() + timeout
                while time.monotonic() < end:
                    try:
                        r = s.recv(2048)
                    except socket.timeout:
                        break
                    name, _, echo = r.decode(errors="replace").partition(" ")
                    if echo == payload.decode():
                        got = name
                        break
                if got is not None:
                    break
            if got is None:
                lost += 1
            else:
                names.append(got)
    finally:
        s.close()
    return names, lost


def run_udp(ip, port, n, k, timeout, deadline):
    backends = collections.Counter()
    errors = collections.Counter()
    ok = inconsistent = lost_flows = 0
    used = set()
    t0 = time.monotonic()
    for i in range(n):
        if time.monotonic() > deadline:
            errors["deadline"] += n - i
            lost_flows += n - i
            break
        try:
            names, lost = udp_flow(ip, port, k, timeout, i, used)
        except Exception as e:  # noqa: BLE001
            errors[classify(e)] += 1
            lost_flows += 1
            continue
        distinct = set(names)
        if len(distinct) > 1:
            inconsistent += 1
        if lost:
            lost_flows += 1
        if len(distinct) == 1 and not lost:
            ok += 1
            backends[names[0]] += 1
    return {
        "flows": n, "ok": ok, "failed": n - ok, "inconsistent": inconsistent,
        "lost": lost_flows, "datagrams_per_flow": k, "errors": dict(errors),
        "backends": dict(sorted(backends.items())),
        "elapsed_s": round(time.monotonic() - t0, 3),
    }


# --stream's source ports: below ip_local_port_range (32768-60999).
STREAM_PORTS = (1024, 32768)


def run_stream(ip, port, interval, timeout, deadline, host):
    import os
    import select
    fd = sys.stdin.fileno()
    events = []
    backends = collections.Counter()
    errors = collections.Counter()
    print("streaming", file=sys.stderr, flush=True)
    next_at = time.monotonic()
    # Every connection from a source port of its own. The kernel's ephemeral
    # ports come round again after a few thousand connections, and a SYN on
    # a 5-tuple the balancer still holds follows its old record (as a
    # retransmitted SYN must), not the schedule: a stream that checks the
    # spread after a change must open only flows the balancer has not seen.
    # Below the ephemeral range, so no other socket of the lab holds them;
    # they come round again only after 31,744 connections.
    sports = itertools.cycle(range(STREAM_PORTS[0], STREAM_PORTS[1]))
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0)
        if r:
            os.read(fd, 4096)  # a line or EOF: stop
            break
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        t_start = time.monotonic()
        next_at = t_start + interval
        sport = next(sports)
        try:
            res = http_get(ip, port, timeout, host, sport)
            backends[res] += 1
        except OSError as e:
            if e.errno == errno.EADDRINUSE and getattr(e, "connected", True) is False:
                continue
            res = "!" + classify(e)
            errors[res[1:]] += 1
        except Exception as e:  # noqa: BLE001
            res = "!" + classify(e)
            errors[res[1:]] += 1
        ev = [round(t_start, 6), round(time.monotonic(), 6), res]
        events.append(ev)
        print(f"E {ev[0]} {ev[1]} {res}", flush=True)  # live, for the caller
    return {"attempted": len(events), "backends": dict(sorted(backends.items())),
            "errors": dict(errors), "events": events}


def main():
    ap = argparse.ArgumentParser(description="sluice lab traffic driver")
    ap.add_argument("--vip", required=True, help="target address (v4 or v6)")
    ap.add_argument("--port", type=int, default=80, help="HTTP port")
    ap.add_argument("--udp-port", type=int, default=9000)
    ap.add_argument("--tcp", type=int, default=300, help="HTTP GETs, one TCP connection each")
    ap.add_argument("--udp", type=int, default=0, help="UDP flows")
    ap.add_argument("--datagrams", type=int, default=5, help="datagrams per UDP flow")
    ap.add_argument("--timeout", type=float, default=2.0, help="per-operation timeout (s)")
    ap.add_argument("--deadline", type=float, default=120.0, help="whole-run limit (s)")
    ap.add_argument("--hold", type=int, default=0,
                    help="open N connections, wait for a line on stdin, then GET on each "
                         "(result under \"hold\"; --tcp/--udp ignored)")
    ap.add_argument("--stream", action="store_true",
                    help="fresh GETs until a line on stdin / --deadline (result under \"stream\")")
    ap.add_argument("--interval", type=float, default=0.0,
                    help="--stream: minimum seconds between connection starts")
    args = ap.parse_args()

    ip = lab_target(args.vip, "client")
    deadline = time.monotonic() + args.deadline
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    out = {"target": str(ip), "family": ip.version}
    if args.stream:
        out["stream"] = run_stream(ip, args.port, args.interval, args.timeout, deadline, host)
        args.tcp = args.udp = args.hold = 0
    if args.hold > 0:
        out["hold"] = run_hold(ip, args.port, args.hold, args.timeout, host)
        args.tcp = args.udp = 0
    if args.tcp > 0:
        out["tcp"] = run_tcp(ip, args.port, args.tcp, args.timeout, deadline, host)
    if args.udp > 0:
        out["udp"] = run_udp(ip, args.udp_port, args.udp, args.datagrams, args.timeout, deadline)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
