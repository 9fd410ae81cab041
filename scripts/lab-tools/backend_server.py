#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lab backend: an HTTP server and a UDP echo server that answer with the
backend's name, so the client can tell which backend served it.

HTTP: dual-stack listener on [::]:PORT (v4-mapped accepted). GET returns
"<name>\n" and closes the connection (HTTP/1.0 semantics), so every request
is one fresh TCP connection.

UDP: wildcard sockets (0.0.0.0 and [::], v6only) with IP_PKTINFO /
IPV6_RECVPKTINFO. Each reply is sent *from the address the datagram was sent
to*, so a datagram to a VIP (held on lo for dsr / ipip) is answered from the
VIP and a connected client socket accepts it. Reply: "<name> <payload>".
This works whether or not the VIP is configured yet (no bind to the VIP).

Echo (--echo-port, 0 = off): dual-stack TCP line echo for long-lived
connections: every line "<text>\n" is answered "<name> <text>\n" on the same
connection, which stays open until the client closes it.

HTTP stop/start (health-check tests): SIGUSR1 closes the HTTP listener (new
connections are refused; connections being served finish), SIGUSR2 opens it
again. The UDP and echo listeners are not affected. The state is also written
to <pidfile>.http ("up" / "down") once the change took effect.

Python 3 stdlib only. Writes its pid to --pidfile once all listeners are up.
"""
import argparse
import http.server
import os
import select
import signal
import socket
import struct
import sys
import threading

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 256

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


def make_handler(name):
    body = (name + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        server_version = "sluice-lab"
        sys_version = ""

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Backend", name)
            self.end_headers()

        def log_message(self, fmt, *args):  # quiet: the lab runs 1000s of requests
            pass

    return Handler


def udp_sockets(port):
    s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s4.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s4.bind(("0.0.0.0", port))
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    s6.bind(("::", port))
    return s4, s6


def udp_loop(name, socks, stop):
    prefix = name.encode() + b" "
    while not stop.is_set():
        r, _, _ = select.select(socks, [], [], 0.5)
        for s in r:
            try:
                data, anc, _flags, peer = s.recvmsg(65535, socket.CMSG_SPACE(64))
            except OSError:
                continue
            out_anc = []
            for level, typ, cdata in anc:
                if level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                    # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
                    _ifi, _spec, addr = struct.unpack("i4s4s", cdata[:12])
                    out_anc.append((socket.IPPROTO_IP, IP_PKTINFO,
                                    struct.pack("i4s4s", 0, addr, b"\0" * 4)))
                elif level == socket.IPPROTO_IPV6 and typ == IPV6_PKTINFO:
                    # struct in6_pktinfo { in6_addr addr; unsigned ifindex; }
                    addr = cdata[:16]
                    out_anc.append((socket.IPPROTO_IPV6, IPV6_PKTINFO,
                                    struct.pack("16sI", addr, 0)))
            try:
                s.sendmsg([prefix + data[:1024]], out_anc, 0, peer)
            except OSError as e:
                print(f"udp reply to {peer} failed: {e}", file=sys.stderr)


class EchoServer:
    """Line echo on [::]:PORT (v4-mapped accepted), one thread per connection."""

    def __init__(self, name, port):
        self.prefix = name.encode() + b" "
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", port))
        self.sock.listen(512)
        self.sock.settimeout(0.5)

    def serve(self, stop):
        while not stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                if stop.is_set():
                    return
                continue
            threading.Thread(target=self.conn, args=(c, stop), daemon=True).start()

    def conn(self, c, stop):
        c.settimeout(0.5)
        buf = b""
        try:
            while not stop.is_set():
                try:
                    b = c.recv(4096)
                except socket.timeout:
                    continue
                if not b:
                    return
                buf += b
                out = []
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    out.append(self.prefix + line[:1024] + b"\n")
                if len(buf) > 4096:
                    buf = b""
                if out:
                    c.sendall(b"".join(out))
        except OSError:
            pass
        finally:
            c.close()


class HttpControl:
    """The HTTP listener, closable and reopenable at runtime (SIGUSR1/SIGUSR2)."""

    def __init__(self, name, port, statefile):
        self.name, self.port, self.statefile = name, port, statefile
        self.httpd = None
        self.thread = None
        self.lock = threading.Lock()

    def _state(self, st):
        if self.statefile:
            tmp = self.statefile + ".tmp"
            with open(tmp, "w") as f:
                f.write(st + "\n")
            os.rename(tmp, self.statefile)

    def start(self):
        with self.lock:
            if self.httpd is not None:
                return
            self.httpd = DualStackServer(("::", self.port), make_handler(self.name))
            self.thread = threading.Thread(target=self.httpd.serve_forever,
                                           kwargs={"poll_interval": 0.2}, daemon=True)
            self.thread.start()
            self._state("up")

    def stop(self):
        with self.lock:
            if self.httpd is None:
                return
            self.httpd.shutdown()
            self.httpd.server_close()  # closes the listener: new SYNs are refused
            self.thread.join(timeout=5)
            self.httpd = self.thread = None
            self._state("down")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--udp-port", type=int, default=9000)
    ap.add_argument("--pidfile")
    ap.add_argument("--echo-port", type=int, default=0,
                    help="TCP line-echo port for long-lived connections (0: off)")
    args = ap.parse_args()

    http = HttpControl(args.name, args.http_port,
                       args.pidfile + ".http" if args.pidfile else None)
    http.start()
    socks = udp_sockets(args.udp_port)
    stop = threading.Event()
    t = threading.Thread(target=udp_loop, args=(args.name, list(socks), stop), daemon=True)
    t.start()
    echo = None
    if args.echo_port:
        echo = EchoServer(args.name, args.echo_port)
        threading.Thread(target=echo.serve, args=(stop,), daemon=True).start()

    requests = []  # signal handlers only queue; the main loop acts
    wake = threading.Event()

    def on_sig(sig, _frm):
        requests.append(sig)
        wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, on_sig)

    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(tmp, args.pidfile)
    try:
        while not stop.is_set():
            wake.wait(0.05)
            wake.clear()
            while requests:
                sig = requests.pop(0)
                if sig in (signal.SIGTERM, signal.SIGINT):
                    stop.set()
                elif sig == signal.SIGUSR1:
                    http.stop()
                elif sig == signal.SIGUSR2:
                    http.start()
    finally:
        stop.set()
        http.stop()
        for s in socks:
            s.close()
        if echo is not None:
            echo.sock.close()
        if args.pidfile:
            for f in (args.pidfile, args.pidfile + ".http"):
                try:
                    os.unlink(f)
                except FileNotFoundError:
                    pass


if __name__ == "__main__":
    main()
