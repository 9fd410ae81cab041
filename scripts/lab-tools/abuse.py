#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile local clients of sluiced's own surfaces, for the abuse tests and
the loop-stall benchmark. Only the API's unix socket and the metrics port on
loopback are targets; every mode is bounded in count and in time and prints
one JSON summary line when it ends.

  abuse.py api-silent --socket PATH -n 100 --duration S
      n connections that never send; a closed one is opened again.
  abuse.py api-big --socket PATH --size 1048576 --duration S
      back-to-back requests of --size bytes (one JSON line), replies read.
  abuse.py metrics-idle --port P -n N --duration S
      N idle TCP connections to 127.0.0.1:P, held (closed ones stay closed).
  abuse.py slowloris --port P -n 2 --every 2 --duration S
      n connections sending one header line every --every seconds, never
      finishing the request; a closed one is opened again.
"""
import argparse
import json
import resource
import select
import socket
import sys
import time

LOOPBACK = "127.0.0.1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def unix_conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    s.connect(path)
    return s


def tcp_conn(port, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((LOOPBACK, port))
    return s


def closed_ones(socks):
    """The sockets the server closed (readable: EOF or data we never asked for).
    poll, not select: there are more than FD_SETSIZE of them."""
    if not socks:
        return []
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, ev in poller.poll(0) if ev]


def hold(make, n, duration, reopen, payload=None, every=None):
    """Keeps n connections from make(); sends `payload` on each every `every` s."""
    end = time.monotonic() + duration
    socks, opened, failed, reopened, closed = [], 0, 0, 0, 0
    for _ in range(n):
        if time.monotonic() > end:
            break
        try:
            socks.append(make())
            opened += 1
        except OSError:
            failed += 1
    next_send = time.monotonic() + (every or 0)
    while time.monotonic() < end:
        for s in closed_ones(socks):
            closed += 1
            socks.remove(s)
            s.close()
            if reopen:
                try:
                    socks.append(make())
                    reopened += 1
                except OSError:
                    failed += 1
        if payload is not None and time.monotonic() >= next_send:
            for s in list(socks):
                try:
                    s.send(payload)
                except OSError:
                    pass
            next_send += every
        time.sleep(0.05)
    for s in socks:
        s.close()
    return {"opened": opened, "reopened": reopened, "closed_by_server": closed,
            "failed": failed}


def api_roundtrip(path, request, timeout=5.0):
    """One request line on sluiced's API socket: (seconds, reply bytes).
    Shared with the e2e tests and bench/loop_bench.py, which time `status`."""
    t = time.perf_counter()
    s = unix_conn(path)
    try:
        s.settimeout(timeout)
        s.sendall(request)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        return time.perf_counter() - t, reply
    finally:
        s.close()


def api_big(path, size, duration):
    pad = max(0, size - 40)
    req = ('{"cmd":"status","pad":"' + "x" * pad + '"}\n').encode()
    end = time.monotonic() + duration
    sent = answered = failed = 0
    while time.monotonic() < end:
        try:
            sent += 1
            answered += bool(api_roundtrip(path, req, timeout=10)[1])
        except OSError:
            failed += 1
            time.sleep(0.01)
    return {"sent": sent, "answered": answered, "failed": failed, "size": len(req)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", choices=["api-silent", "api-big", "metrics-idle", "slowloris"])
    p.add_argument("--socket", default="/run/sluice-lab/sluiced.sock")
    p.add_argument("--port", type=int, default=9477)
    p.add_argument("-n", type=int, default=100)
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--every", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=10.0)
    a = p.parse_args()
    if a.duration > 600 or a.n > 50000 or a.size > 64 << 20:
        sys.exit("abuse.py: bounds: --duration <= 600, -n <= 50000, --size <= 64 MiB")
    raise_nofile()
    if a.mode == "api-silent":
        out = hold(lambda: unix_conn(a.socket), a.n, a.duration, reopen=True)
    elif a.mode == "api-big":
        out = api_big(a.socket, a.size, a.duration)
    elif a.mode == "metrics-idle":
        out = hold(lambda: tcp_conn(a.port), a.n, a.duration, reopen=False)
    else:
        def slow():  # a real request line, then headers that never end
            s = tcp_conn(a.port)
            s.send(b"GET /metrics HTTP/1.1\r\n")
            return s
        out = hold(slow, a.n, a.duration, reopen=True, payload=b"X-Slow: 1\r\n", every=a.every)
    out["mode"] = a.mode
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
