#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lab long-lived connections: N TCP connections to VIP:PORT (the backends'
line-echo server, scripts/lab-tools/backend_server.py --echo-port), each
sending one short line every --period seconds and checking the answer
"<backend> <line>". Reports, per connection, which backend answered, how many
exchanges completed, and any error (reset, timeout, wrong echo, backend
change).

Protocol with the caller (a test):
  * stderr "ready N" once every connection is open and has had one answer
    (or "ready N failed K" when K of them could not open / answer);
  * then it keeps exchanging until a line arrives on stdin, stdin closes, or
    --duration seconds pass; stderr "mark T" lines are not used: the caller
    timestamps its own actions with time.monotonic() (CLOCK_MONOTONIC, the
    same clock in every namespace) and compares with the "t" fields below;
  * stdout: one JSON object
    {"target", "port", "n", "period_s", "elapsed_s",
     "ok": connections that never failed, "failed": n - ok,
     "backends": {name: connections}, "changed_backend": n,
     "exchanges": total answered lines, "max_rtt_ms": f, "max_gap_ms": f,
     "errors": {kind: n},
     "conns": [{"id", "backend", "exchanges", "error", "error_t", "max_rtt_ms"}]}
   max_gap_ms: the longest time any connection waited between two answers
   (the period plus the round trip, normally).

An answer must arrive within --timeout seconds of its line, else the
connection fails with "timeout". Exactly one line is outstanding per
connection. Safety: targets only in 198.18.0.0/15 and 2001:2::/48; bounded by
--duration. Python 3 stdlib only (selectors, non-blocking sockets).
"""
import argparse
import collections
import json
import os
import selectors
import socket
import sys
import time

from labnet import classify, lab_target


class Conn:
    def __init__(self, i):
        self.id = i
        self.sock = None
        self.backend = None
        self.seq = 0
        self.buf = b""
        self.pending = None     # (line, sent_at)
        self.next_send = 0.0
        self.last_answer = None
        self.exchanges = 0
        self.error = None
        self.error_t = None
        self.max_rtt = 0.0
        self.max_gap = 0.0

    def fail(self, kind, now):
        if self.error is None:
            self.error, self.error_t = kind, now
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def main():
    ap = argparse.ArgumentParser(description="sluice lab long-lived TCP connections")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("-n", type=int, default=50, help="connections")
    ap.add_argument("--period", type=float, default=0.1, help="seconds between lines")
    ap.add_argument("--timeout", type=float, default=2.0, help="answer timeout (s)")
    ap.add_argument("--duration", type=float, default=60.0, help="hard limit (s)")
    args = ap.parse_args()
    ip = lab_target(args.vip, "longconn")
    fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    t0 = time.monotonic()
    hard_end = t0 + args.duration
    conns = [Conn(i) for i in range(args.n)]
    sel = selectors.DefaultSelector()
    # Connect sequentially (blocking, bounded) so every SYN is its own new flow.
    for c in conns:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(args.timeout)
        try:
            s.connect((str(ip), args.port))
        except Exception as e:  # noqa: BLE001
            s.close()
            c.fail("connect-" + classify(e), time.monotonic())
            continue
        s.setblocking(False)
        c.sock = s
        sel.register(s, selectors.EVENT_READ, c)
    os.set_blocking(sys.stdin.fileno(), False)
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
    ready_said = False
    # Stagger the first lines over one period.
    now = time.monotonic()
    for c in conns:
        c.next_send = now + args.period * c.id / max(1, args.n)
    stop = False
    while not stop:
        now = time.monotonic()
        if now > hard_end:
            break
        if not ready_said:
            pending_first = [c for c in conns if c.sock is not None and c.exchanges == 0]
            if not pending_first:
                bad = sum(1 for c in conns if c.error)
                msg = f"ready {args.n}" + (f" failed {bad}" if bad else "")
                print(msg, file=sys.stderr, flush=True)
                ready_said = True
        # Send due lines, check timeouts.
        wake = now + args.period
        for c in conns:
            if c.sock is None:
                continue
            if c.pending is not None:
                if now - c.pending[1] > args.timeout:
                    c.fail("timeout", now)
                    continue
                wake = min(wake, c.pending[1] + args.timeout)
            elif now >= c.next_send:
                line = f"c{c.id} s{c.seq}".encode()
                c.seq += 1
                try:
                    c.sock.send(line + b"\n")
                except Exception as e:  # noqa: BLE001
                    c.fail(classify(e), now)
                    continue
                c.pending = (line, now)
                c.next_send = now + args.period
                wake = min(wake, now + args.timeout)
            else:
                wake = min(wake, c.next_send)
        for key, _ev in sel.select(timeout=max(0.0, min(wake, hard_end) - time.monotonic())):
            c = key.data
            now = time.monotonic()
            if c is None:  # stdin: any line (or EOF) ends the run
                try:
                    data = os.read(sys.stdin.fileno(), 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                stop = True  # a line or EOF
                continue
            if c.sock is None:
                continue
            try:
                b = c.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except Exception as e:  # noqa: BLE001
                sel.unregister(key.fileobj)
                c.fail(classify(e), now)
                continue
            if not b:
                sel.unregister(key.fileobj)
                c.fail("closed-by-peer", now)
                continue
            c.buf += b
            while b"\n" in c.buf and c.sock is not None:
                ans, c.buf = c.buf.split(b"\n", 1)
                name, _, echo = ans.partition(b" ")
                name = name.decode(errors="replace")
                if c.pending is None or echo != c.pending[0]:
                    sel.unregister(c.sock)
                    c.fail("wrong-echo", now)
                    break
                if c.backend is None:
                    c.backend = name
                elif c.backend != name:
                    sel.unregister(c.sock)
                    c.fail(f"backend-changed:{c.backend}->{name}", now)
                    break
                rtt = now - c.pending[1]
                c.max_rtt = max(c.max_rtt, rtt)
                if c.last_answer is not None:
                    c.max_gap = max(c.max_gap, now - c.last_answer)
                c.last_answer = now
                c.exchanges += 1
                c.pending = None
    end = time.monotonic()
    for c in conns:
        if c.sock is not None:
            if c.pending is not None and end - c.pending[1] > args.timeout:
                c.fail("timeout", end)
            try:
                c.sock.close()
            except OSError:
                pass
    errors = collections.Counter(c.error.split(":")[0] for c in conns if c.error)
    backends = collections.Counter(c.backend for c in conns if c.backend)
    out = {
        "target": str(ip), "port": args.port, "n": args.n, "period_s": args.period,
        "t0": t0, "elapsed_s": round(end - t0, 3),
        "ok": sum(1 for c in conns if not c.error and c.exchanges > 0),
        "failed": sum(1 for c in conns if c.error or c.exchanges == 0),
        "backends": dict(sorted(backends.items())),
        "changed_backend": sum(1 for c in conns if c.error and c.error.startswith("backend-changed")),
        "exchanges": sum(c.exchanges for c in conns),
        "max_rtt_ms": round(1000 * max((c.max_rtt for c in conns), default=0), 1),
        "max_gap_ms": round(1000 * max((c.max_gap for c in conns), default=0), 1),
        "errors": dict(errors),
        "conns": [{"id": c.id, "backend": c.backend, "exchanges": c.exchanges,
                   "error": c.error, "error_t": c.error_t,
                   "max_rtt_ms": round(1000 * c.max_rtt, 1)} for c in conns],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
