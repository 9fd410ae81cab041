#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lab spoofed-source SYN flood: TCP SYNs to VIP:PORT from every address of
198.19.0.0/16 (the RFC 2544 range's second half; the lab's hosts are all in
198.18.0.0/24), one source port per round over the 65,536 sources, written
raw on an interface (AF_PACKET) to one destination MAC (the balancer's).
Every packet is a new flow: source address and port differ from all the
others sent in the run (up to 65,536 x 60,000 of them).

The frames are valid: IPv4 and TCP checksums are right for every packet
without being recomputed, because each change is balanced inside the same
checksum (RFC 1624): the source address's low half against the IP id, and
source address plus port against the low half of the sequence number.

Safety: the destination must be in 198.18.0.0/15 or 2001:2::/48 (labnet),
the sources are 198.19.0.0/16 only, and the run is bounded (--seconds, at
most 60). Prints one JSON line: {"sent", "seconds", "pps", "errors"}.
Python 3 stdlib only.
"""
import argparse
import ipaddress
import json
import socket
import struct
import sys
import time

from labnet import lab_target

SOURCES = ipaddress.ip_network("198.19.0.0/16")
SOL_PACKET = 263  # linux/socket.h (not in the socket module)
PACKET_QDISC_BYPASS = 20  # linux/if_packet.h: the driver's queue, not the qdisc


def csum(b):
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def template(dmac, smac, dst, port):
    """The frame of source 198.19.0.0, source port 0, IP id 0, sequence 0."""
    src = SOURCES.network_address.packed
    tcp = struct.pack("!HHIIBBHHH", 0, port, 0, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return bytearray(dmac + smac + b"\x08\x00" + ip + tcp)


def main():
    ap = argparse.ArgumentParser(description="sluice lab spoofed SYN flood (198.19.0.0/16)")
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--dmac", required=True, help="the balancer's MAC, aa:bb:cc:dd:ee:ff")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--first-port", type=int, default=1024,
                    help="source port of the first round (1024..65535)")
    args = ap.parse_args()
    dst = lab_target(args.vip, "synflood")
    if dst.version != 4:
        sys.exit("synflood: IPv4 VIPs only")
    if not 0 < args.seconds <= 60:
        sys.exit("synflood: --seconds must be in (0, 60]")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    try:
        sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    except OSError:
        pass
    smac = sock.getsockname()[4]
    f = template(bytes.fromhex(args.dmac.replace(":", "")), smac, dst.packed, args.port)
    pack = struct.pack_into
    sent = errors = 0
    t0 = time.monotonic()
    end = t0 + args.seconds
    sport = args.first_port
    while time.monotonic() < end and sport <= 65535:
        for x in range(SOURCES.num_addresses):
            # 14+14: source address, low half; 14+4: IP id; 34: source port;
            # 38+2: sequence number, low half (see the module's comment).
            pack("!H", f, 28, x)
            pack("!H", f, 34, sport)
            pack("!H", f, 40, (-x - sport) % 0xFFFF)
            pack("!H", f, 18, (-x) % 0xFFFF)
            try:
                sock.send(f)
                sent += 1
            except OSError:  # ENOBUFS under load: counted, not fatal
                errors += 1
            if x & 0x3FF == 0 and time.monotonic() >= end:
                break
        sport += 1
    took = time.monotonic() - t0
    sock.close()
    print(json.dumps({"sent": sent, "seconds": round(took, 3), "pps": round(sent / took),
                      "errors": errors}))


if __name__ == "__main__":
    main()
