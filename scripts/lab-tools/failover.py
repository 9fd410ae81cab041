#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Failover probe: from the `client` namespace, a UDP datagram to VIP:PORT
every INTERVAL ms (bounded by --duration and --max-probes); every reply is
recorded with the probe's send time, its arrival time (CLOCK_MONOTONIC, the
same clock in every namespace) and the name of whoever answered (the lab's
UDP echo answers "<name> <payload>": a backend behind sluice, or the lb node
itself when keepalived holds the VIP).

    ip netns exec client failover.py probe --target 198.18.0.100 --port 9000 \
        --interval-ms 1 --duration 10 > replies.json

The caller notes time.monotonic() just before it fails the master and calls
failover_ms(replies, t_fail): the time from the failure to the first reply
to a probe sent after it — the first packet served through the new master.
"""
import argparse
import json
import os
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labnet import lab_target  # noqa: E402

MAX_PROBES = 200000  # a hard cap on the bookkeeping, whatever the flags say


def probe(target, port, interval_ms, duration, max_probes):
    ip = lab_target(target, "failover.py")
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect((str(ip), port))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sent = {}  # seq -> send time; bounded by max_probes
    replies = []  # [seq, sent_t, recv_t, responder]
    errors = 0
    interval = interval_ms / 1000.0
    t0 = time.monotonic()
    end = t0 + duration
    seq = 0
    next_send = t0
    n_max = min(max_probes, MAX_PROBES)
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_send and seq < n_max:
            try:
                s.send(f"{seq}".encode())
                sent[seq] = now
            except OSError:
                errors += 1  # e.g. ECONNREFUSED from an ICMP error: keep probing
            seq += 1
            next_send += interval
            if next_send < now:  # late (a scheduling hiccup): no burst to catch up
                next_send = now + interval
        wait = max(0.0, min(next_send, end) - time.monotonic())
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            continue
        while True:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                break
            except OSError:
                errors += 1
                break
            recv_t = time.monotonic()
            parts = data.decode(errors="replace").split()
            if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) in sent:
                n = int(parts[1])
                replies.append([n, round(sent[n], 6), round(recv_t, 6), parts[0]])
    return {"target": str(ip), "port": port, "interval_ms": interval_ms, "sent": seq,
            "errors": errors, "t0": round(t0, 6), "replies": replies}


def failover_ms(result, t_fail):
    """(ms from t_fail to the first reply to a probe sent at or after it, the
    responder) or (None, None) when none came."""
    for _seq, sent_t, recv_t, who in sorted(result["replies"], key=lambda r: r[2]):
        if sent_t >= t_fail:
            return (recv_t - t_fail) * 1000.0, who
    return None, None


def longest_gap_ms(result, t_from=None):
    """The longest time without a reply (between consecutive replies), from t_from on."""
    ts = sorted(r[2] for r in result["replies"] if t_from is None or r[2] >= t_from)
    return max((b - a for a, b in zip(ts, ts[1:])), default=0.0) * 1000.0


def responders(result, t_from=None, t_to=None):
    """{name: replies} between t_from and t_to (arrival time)."""
    out = {}
    for _seq, _s, recv_t, who in result["replies"]:
        if (t_from is None or recv_t >= t_from) and (t_to is None or recv_t < t_to):
            out[who] = out.get(who, 0) + 1
    return out


def main():
    ap = argparse.ArgumentParser(description="UDP failover probe through a VIP")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--target", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--interval-ms", type=float, default=1.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds, at most 120")
    p.add_argument("--max-probes", type=int, default=100000)
    a = ap.parse_args()
    if not 0.2 <= a.interval_ms <= 1000:
        ap.error("--interval-ms: 0.2 .. 1000")
    res = probe(a.target, a.port, a.interval_ms, min(a.duration, 120.0), a.max_probes)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
