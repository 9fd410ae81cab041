#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTPS client for the TLS-passthrough tests: N requests to VIP:PORT, each a
fresh TCP connection, with the certificate verified against --ca and the
server's identity checked against --server-name (default: the VIP; an IP
address is matched against the certificate's IP SANs).

Each request POSTs --upload random bytes and asks for --download bytes back
(scripts/lab-tools/backend_server.py --tls-port): the SHA-256 of the upload
as the backend received it and of the download as the client received it
are compared end to end. Per connection the client reads its own TCP_INFO
(the MSS it sent with, its path MTU, retransmissions) and the backend's
X-Rcv-Mss (the largest segment the backend received, capped at its MSS).

--expect-fail: every handshake must fail certificate verification (a wrong
CA or a wrong name); a request that completes counts as `unexpected_ok`.

Prints one JSON object. Exit status 0 unless the arguments were bad: the
caller judges the numbers. Every request has a --timeout per socket
operation, the run a --deadline; responses are capped at the download size
plus 64 KiB. Refuses any VIP outside the lab's ranges. Python 3 stdlib only.
"""
import argparse
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labnet import classify, lab_target  # noqa: E402

HEADER_CAP = 64 * 1024


def tcp_info(sock):
    """(snd_mss, pmtu, total_retrans) from struct tcp_info."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return 0, 0, 0
    if len(raw) < 104:
        return 0, 0, 0
    u32 = struct.unpack_from("24I", raw, 8)  # rto, ato, snd_mss, rcv_mss, ...
    return u32[2], u32[13], u32[23]


def recv_all(ssock, cap, deadline):
    buf = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("run deadline")
        b = ssock.recv(65536)
        if not b:
            return bytes(buf)
        buf += b
        if len(buf) > cap:
            raise ValueError(f"response over {cap} bytes")


def one(args, ctx, family, i, deadline):
    """One request; returns a dict (ok True/False, details)."""
    up = os.urandom(args.upload)
    up_sha = hashlib.sha256(up).hexdigest()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    try:
        sock.connect((args.vip, args.port))
        ssock = ctx.wrap_socket(sock, server_hostname=args.server_name)
    except ssl.SSLCertVerificationError as e:
        sock.close()
        return {"ok": False, "error": "verify_failed", "detail": e.verify_message}
    except (OSError, ssl.SSLError) as e:
        sock.close()
        return {"ok": False, "error": "connect/" + classify(e), "detail": str(e)[:200]}
    out = {"ok": False, "tls": ssock.version(), "cipher": ssock.cipher()[0]}
    try:
        cert = ssock.getpeercert()
        out["san_ips"] = sorted(str(ipaddress.ip_address(v.strip()))
                                for k, v in cert.get("subjectAltName", ()) if k == "IP Address")
        req = (f"POST /?size={args.download} HTTP/1.0\r\nHost: {args.server_name}\r\n"
               f"Content-Length: {len(up)}\r\nConnection: close\r\n\r\n").encode()
        ssock.sendall(req + up)
        snd_mss, pmtu, retrans = tcp_info(ssock)
        raw = recv_all(ssock, args.download + HEADER_CAP, deadline)
        _, _, retrans = tcp_info(ssock)
    except (OSError, ssl.SSLError, ValueError) as e:
        ssock.close()
        out["error"] = "transfer/" + classify(e)
        out["detail"] = str(e)[:200]
        return out
    ssock.close()
    out.update(snd_mss=snd_mss, pmtu=pmtu, retrans=retrans)
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        out["error"] = "no header end"
        return out
    lines = head.decode("latin-1").split("\r\n")
    hdr = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdr[k.strip().lower()] = v.strip()
    status = lines[0].split()[1] if len(lines[0].split()) > 1 else "?"
    out["backend"] = hdr.get("x-backend", "?")
    out["rcv_mss"] = int(hdr.get("x-rcv-mss", "0") or 0)
    out["server_tls"] = hdr.get("x-tls-version", "?")
    if status != "200":
        out["error"] = f"status {status}"
    elif hdr.get("x-upload-sha256") != up_sha or hdr.get("x-upload-bytes") != str(len(up)):
        out["error"] = "upload sha256 mismatch"
    elif len(body) != args.download or hashlib.sha256(body).hexdigest() != hdr.get("x-body-sha256"):
        out["error"] = f"download sha256 mismatch ({len(body)} bytes)"
    else:
        out["ok"] = True
    return out


def span(xs):
    return [min(xs), max(xs)] if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--ca", required=True, help="PEM CA certificate to verify against")
    ap.add_argument("--server-name", help="name or IP to check (default: the VIP)")
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--upload", type=int, default=256 * 1024)
    ap.add_argument("--download", type=int, default=256 * 1024)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--expect-fail", action="store_true")
    args = ap.parse_args()
    vip = lab_target(args.vip, "tls_client")
    if not 0 <= args.upload <= 4 << 20 or not 0 <= args.download <= 4 << 20:
        ap.error("--upload and --download: 0..4 MiB")
    args.server_name = args.server_name or str(vip)
    family = socket.AF_INET6 if vip.version == 6 else socket.AF_INET

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    ctx.load_verify_locations(args.ca)

    t0 = time.monotonic()
    deadline = t0 + args.deadline
    res = []
    for i in range(args.requests):
        if time.monotonic() > deadline:
            res.append({"ok": False, "error": "run deadline"})
            break
        res.append(one(args, ctx, family, i, deadline))

    def count(key, rows):
        d = {}
        for r in rows:
            v = r.get(key)
            if v is not None:
                d[v] = d.get(v, 0) + 1
        return d

    ok = [r for r in res if r["ok"]]
    errs = [r for r in res if not r["ok"]]
    summary = {
        "requests": args.requests,
        "ok": len(ok),
        "errors": count("error", errs),
        "error_samples": [{k: r.get(k) for k in ("error", "detail", "backend")} for r in errs[:5]],
        "verify_failed": sum(1 for r in errs if r.get("error") == "verify_failed"),
        "unexpected_ok": len(ok) if args.expect_fail else 0,
        "backends": count("backend", ok),
        "tls": count("tls", ok),
        "ciphers": count("cipher", ok),
        "san_ips": sorted({ip for r in ok for ip in r.get("san_ips", [])}),
        "client_snd_mss": span([r["snd_mss"] for r in ok]),
        "client_pmtu": span([r["pmtu"] for r in ok]),
        "backend_rcv_mss": span([r["rcv_mss"] for r in ok]),
        "retrans": sum(r.get("retrans", 0) for r in ok),
        "bytes_up": len(ok) * args.upload,
        "bytes_down": len(ok) * args.download,
        "elapsed_s": round(time.monotonic() - t0, 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
