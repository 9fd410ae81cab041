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

Python 3 stdlib only. Writes its pid to --pidfile once both listeners are up.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--udp-port", type=int, default=9000)
    ap.add_argument("--pidfile")
    args = ap.parse_args()

    httpd = DualStackServer(("::", args.http_port), make_handler(args.name))
    socks = udp_sockets(args.udp_port)
    stop = threading.Event()
    t = threading.Thread(target=udp_loop, args=(args.name, list(socks), stop), daemon=True)
    t.start()

    def on_term(_sig, _frm):
        stop.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    if args.pidfile:
        tmp = args.pidfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(tmp, args.pidfile)
    try:
        httpd.serve_forever(poll_interval=0.5)
    finally:
        stop.set()
        httpd.server_close()
        for s in socks:
            s.close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    main()
