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

HTTPS (--tls-port, 0 = off; with --tls-cert/--tls-key): dual-stack TLS
listener for the TLS-passthrough tests. One request per connection:
GET /?size=N answers N random bytes; POST /?size=N reads the request body
(Content-Length) and answers N random bytes. Response headers: X-Backend,
X-Body-Sha256 (of the response body), X-Upload-Bytes / X-Upload-Sha256 (of
the request body), X-Rcv-Mss / X-Advmss (the connection's TCP_INFO after the
upload: the largest segment the backend saw, capped at its own MSS),
X-Tls-Version. Caps: 4 MiB each way, 64 connections at once (more are
closed at accept), 10 s per read/write, 30 s per connection.

--http-port 0 / --udp-port 0 turn those listeners off (a TLS-only server
beside the lab's own). Python 3 stdlib only. Writes its pid to --pidfile
once all listeners are up.
"""
import argparse
import hashlib
import http.server
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

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


TLS_MAX_BODY = 4 << 20     # bytes, each way
TLS_MAX_CONNS = 64         # at once; more are closed at accept
TLS_IO_TIMEOUT = 10.0      # seconds per socket operation
TLS_CONN_DEADLINE = 30.0   # seconds per connection, handshake to last byte


def tcp_info_mss(sock):
    """(rcv_mss, advmss) from the connection's struct tcp_info."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return 0, 0
    # 8 bytes of u8 fields, then u32s: rto, ato, snd_mss, rcv_mss, ... advmss (20th)
    u32 = struct.unpack_from("24I", raw, 8) if len(raw) >= 104 else (0,) * 24
    return u32[3], u32[19]


class TlsServer(DualStackServer):
    """DualStackServer whose connections are TLS; at most TLS_MAX_CONNS at
    once. The handshake runs in the connection's thread, not at accept."""

    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        self.slots = threading.BoundedSemaphore(TLS_MAX_CONNS)
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        # A failed handshake (a client that refused our certificate) or a
        # peer gone: one line, not a traceback.
        e = sys.exc_info()[1]
        print(f"tls {client_address[0]}: {type(e).__name__}: {e}", file=sys.stderr)


def make_tls_handler(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        server_version = "sluice-lab"
        sys_version = ""
        timeout = TLS_IO_TIMEOUT

        def setup(self):
            self.deadline = time.monotonic() + TLS_CONN_DEADLINE
            self.request.settimeout(TLS_IO_TIMEOUT)
            self.request.do_handshake()
            super().setup()

        def _size(self):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            try:
                n = int(q.get("size", ["0"])[0])
            except ValueError:
                return None
            return n if 0 <= n <= TLS_MAX_BODY else None

        def _answer(self, n, up_bytes, up_sha):
            body = os.urandom(n)
            rcv_mss, advmss = tcp_info_mss(self.request)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.send_header("X-Backend", name)
            self.send_header("X-Body-Sha256", hashlib.sha256(body).hexdigest())
            self.send_header("X-Upload-Bytes", str(up_bytes))
            self.send_header("X-Upload-Sha256", up_sha)
            self.send_header("X-Rcv-Mss", str(rcv_mss))
            self.send_header("X-Advmss", str(advmss))
            self.send_header("X-Tls-Version", str(self.request.version()))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)  # sendall: full 16 KiB TLS records

        def do_GET(self):
            n = self._size()
            if n is None:
                self.send_error(400, "size: 0..%d" % TLS_MAX_BODY)
                return
            self._answer(n, 0, hashlib.sha256(b"").hexdigest())

        def do_POST(self):
            n = self._size()
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                length = -1
            if n is None or not 0 <= length <= TLS_MAX_BODY:
                self.send_error(413, "size and Content-Length: 0..%d" % TLS_MAX_BODY)
                return
            h, left = hashlib.sha256(), length
            while left:
                if time.monotonic() > self.deadline:
                    raise TimeoutError("connection deadline")
                b = self.rfile.read(min(left, 65536))
                if not b:
                    raise ConnectionError("upload cut short")
                h.update(b)
                left -= len(b)
            self._answer(n, length, h.hexdigest())

        def log_message(self, fmt, *args):
            pass

    return Handler


def tls_server(name, port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd = TlsServer(("::", port), make_tls_handler(name), ctx)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    return httpd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--http-port", type=int, default=80, help="0: off")
    ap.add_argument("--udp-port", type=int, default=9000, help="0: off")
    ap.add_argument("--pidfile")
    ap.add_argument("--echo-port", type=int, default=0,
                    help="TCP line-echo port for long-lived connections (0: off)")
    ap.add_argument("--tls-port", type=int, default=0, help="HTTPS port (0: off)")
    ap.add_argument("--tls-cert", help="PEM certificate chain for --tls-port")
    ap.add_argument("--tls-key", help="PEM private key for --tls-port")
    args = ap.parse_args()
    if args.tls_port and not (args.tls_cert and args.tls_key):
        ap.error("--tls-port needs --tls-cert and --tls-key")

    http = HttpControl(args.name, args.http_port,
                       args.pidfile + ".http" if args.pidfile else None)
    if args.http_port:
        http.start()
    tls = tls_server(args.name, args.tls_port, args.tls_cert, args.tls_key) \
        if args.tls_port else None
    socks = udp_sockets(args.udp_port) if args.udp_port else ()
    stop = threading.Event()
    if socks:
        threading.Thread(target=udp_loop, args=(args.name, list(socks), stop),
                         daemon=True).start()
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
                elif sig == signal.SIGUSR2 and args.http_port:
                    http.start()
    finally:
        stop.set()
        http.stop()
        if tls is not None:
            tls.shutdown()
            tls.server_close()
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
