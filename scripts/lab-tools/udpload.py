#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lab UDP load at a bounded rate: --flows connected UDP sockets (distinct
source ports) to VIP:PORT (the backends' UDP echo, answer "<name> <payload>"),
datagrams sent round-robin over the flows at --pps for --seconds, answers
collected as they come; then --drain seconds for stragglers. Prints "start T"
(time.monotonic()) on stderr when sending begins and one JSON object:

{"sent", "answered", "lost", "pps_target", "pps_sent", "flows",
 "inconsistent_flows": flows answered by more than one backend,
 "backends": {name: answers}, "lost_by_100ms": [[t_rel, lost], ...]}

lost_by_100ms buckets the unanswered datagrams by when they were sent, so a
loss can be lined up with a change. Safety: 198.18.0.0/15 and 2001:2::/48
only; bounded by --seconds + --drain. Python 3 stdlib only.
"""
import argparse
import collections
import json
import select
import socket
import sys
import time

from labnet import lab_target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--flows", type=int, default=64)
    ap.add_argument("--pps", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--drain", type=float, default=1.0)
    args = ap.parse_args()
    ip = lab_target(args.vip, "udpload")
    if args.seconds > 60 or args.pps > 200000:
        sys.exit("udpload: --seconds <= 60 and --pps <= 200000")
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    socks, used = [], set()
    while len(socks) < args.flows:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.connect((str(ip), args.port))
        if s.getsockname()[1] in used:
            s.close()
            continue
        used.add(s.getsockname()[1])
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks.append(s)
    fd_flow = {s.fileno(): i for i, s in enumerate(socks)}
    poll = select.epoll()
    for s in socks:
        poll.register(s.fileno(), select.EPOLLIN)
    sent_at = {}  # seq -> t
    answered = set()
    flow_be = [set() for _ in socks]
    backends = collections.Counter()
    t0 = time.monotonic()
    print(f"start {t0}", file=sys.stderr, flush=True)
    end_send = t0 + args.seconds
    end_all = end_send + args.drain
    seq = 0
    total = int(args.pps * args.seconds)

    def receive(timeout):
        for fd, _ev in poll.poll(timeout):
            s = socks[fd_flow[fd]]
            for _ in range(64):
                try:
                    r = s.recv(2048)
                except BlockingIOError:
                    break
                except OSError:
                    break
                name, _, payload = r.partition(b" ")
                try:
                    q = int(payload)
                except ValueError:
                    continue
                if q in sent_at and q not in answered:
                    answered.add(q)
                    n = name.decode(errors="replace")
                    backends[n] += 1
                    flow_be[q % len(socks)].add(n)

    while True:
        now = time.monotonic()
        if now >= end_all:
            break
        if seq < total and now < end_send + 0.5:
            due = min(total, int((now - t0) * args.pps) + 1)
            while seq < due:
                try:
                    socks[seq % len(socks)].send(b"%d" % seq)
                    sent_at[seq] = now
                except OSError:
                    pass  # counted as lost
                seq += 1
            receive(0)
        else:
            receive(0.05)
    sent = seq
    lost = collections.Counter()
    for q, t in sent_at.items():
        if q not in answered:
            lost[int((t - t0) * 10) / 10] += 1
    out = {"sent": sent, "answered": len(answered), "lost": sent - len(answered),
           "pps_target": args.pps, "pps_sent": round(sent / args.seconds),
           "flows": len(socks), "t0": t0,
           "inconsistent_flows": sum(1 for b in flow_be if len(b) > 1),
           "backends": dict(sorted(backends.items())),
           "lost_by_100ms": sorted([k, v] for k, v in lost.items())}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
