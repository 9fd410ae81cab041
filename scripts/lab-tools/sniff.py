#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Per-flow view of what the balancer sent to each backend, taken on the
switch side of the lab (run inside the `sw` namespace).

Opens an AF_PACKET socket on each given bridge port (the sw-side veth named
after a backend) and looks at frames going OUT of it, i.e. towards that
backend, whose destination MAC is that backend's MAC (so frames the bridge
flooded are not attributed). For every frame whose (inner) destination is a
VIP it records:
  * the encapsulation: plain (dsr), ipip (IPv4 in IPv4), ip6ip6, 4in6, 6in4;
  * whether an outer header is addressed to the backend's own address;
  * the flow (proto, client address, client port) -> set of backends.

Runs until SIGTERM/SIGINT or --duration seconds, then prints one JSON object:
{"ports": {"be1": {"plain": n, "ipip": n, ..., "outer_to_other": n}},
 "flows": {"tcp": {"be1": n_flows, ...}, "udp": {...}},
 "split_flows": [["tcp 198.18.0.10:40000", ["be1", "be2"]], ...],   (first 20)
 "split_flow_count": n, "flooded": n, "drops": n}

Prints "ready" on stderr once all sockets are bound. Python 3 stdlib only.
"""
import argparse
import ipaddress
import json
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6


def parse_l3(data, off, ethertype):
    """Return (src, dst, proto, l4_off) of the IP header at off, or None."""
    if ethertype == 0x0800:
        if len(data) < off + 20:
            return None
        ihl = (data[off] & 0x0F) * 4
        proto = data[off + 9]
        src = ipaddress.IPv4Address(data[off + 12:off + 16])
        dst = ipaddress.IPv4Address(data[off + 16:off + 20])
        return src, dst, proto, off + ihl
    if ethertype == 0x86DD:
        if len(data) < off + 40:
            return None
        proto = data[off + 6]
        src = ipaddress.IPv6Address(data[off + 8:off + 24])
        dst = ipaddress.IPv6Address(data[off + 24:off + 40])
        return src, dst, proto, off + 40
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", action="append", required=True,
                    help="NAME=MAC=ADDR[,ADDR]: bridge port, backend MAC, backend addresses")
    ap.add_argument("--vip", action="append", required=True)
    ap.add_argument("--duration", type=float, default=120.0)
    args = ap.parse_args()

    vips = {ipaddress.ip_address(v) for v in args.vip}
    socks = {}
    info = {}
    for spec in args.port:
        name, mac, addrs = spec.split("=", 2)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((name, 0))
        socks[s.fileno()] = (s, name)
        info[name] = {"mac": bytes.fromhex(mac.replace(":", "")),
                      "addrs": {ipaddress.ip_address(a) for a in addrs.split(",") if a}}
    ports = {n: {"plain": 0, "ipip": 0, "ip6ip6": 0, "4in6": 0, "6in4": 0,
                 "outer_to_other": 0} for n in info}
    flows = {}
    flooded = 0

    stop = False

    def on_sig(_s, _f):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)
    print("ready", file=sys.stderr, flush=True)

    end = time.monotonic() + args.duration
    while not stop and time.monotonic() < end:
        try:
            r, _, _ = select.select(list(socks), [], [], 0.2)
        except InterruptedError:
            continue
        for fd in r:
            s, name = socks[fd]
            while True:
                try:
                    data, addr = s.recvfrom(65535, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] != PACKET_OUTGOING or len(data) < 14:
                    continue
                ethertype = struct.unpack("!H", data[12:14])[0]
                off = 14
                if ethertype == 0x8100 and len(data) >= 18:
                    ethertype = struct.unpack("!H", data[16:18])[0]
                    off = 18
                outer = parse_l3(data, off, ethertype)
                if outer is None:
                    continue
                src, dst, proto, l4 = outer
                kind = "plain"
                if proto in (4, 41) and dst not in vips:
                    inner_type = 0x0800 if proto == 4 else 0x86DD
                    kind = {(0x0800, 4): "ipip", (0x0800, 41): "6in4",
                            (0x86DD, 4): "4in6", (0x86DD, 41): "ip6ip6"}[(ethertype, proto)]
                    outer_dst = dst
                    inner = parse_l3(data, l4, inner_type)
                    if inner is None:
                        continue
                    src, dst, proto, l4 = inner
                else:
                    outer_dst = None
                if dst not in vips or proto not in (6, 17) or len(data) < l4 + 4:
                    continue
                if data[0:6] != info[name]["mac"]:
                    flooded += 1
                    continue
                p = ports[name]
                p[kind] += 1
                if outer_dst is not None and outer_dst not in info[name]["addrs"]:
                    p["outer_to_other"] += 1
                sport = struct.unpack("!H", data[l4:l4 + 2])[0]
                key = ("tcp" if proto == 6 else "udp", str(src), sport)
                flows.setdefault(key, set()).add(name)

    drops = 0
    for s, _name in socks.values():
        try:
            st = s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            drops += struct.unpack("II", st)[1]
        except OSError:
            pass
        s.close()
    per = {"tcp": {}, "udp": {}}
    split = []
    for (proto, src, sport), names in sorted(flows.items()):
        if len(names) > 1:
            split.append([f"{proto} {src}:{sport}", sorted(names)])
        for n in names:
            per[proto][n] = per[proto].get(n, 0) + 1
    out = {"ports": ports, "flows": per, "split_flows": split[:20],
           "split_flow_count": len(split), "flooded": flooded, "drops": drops}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
