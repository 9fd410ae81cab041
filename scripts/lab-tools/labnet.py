# SPDX-License-Identifier: Apache-2.0
"""What every lab traffic tool shares: the guard that keeps traffic on the
lab's benchmarking ranges, and one naming of socket errors for reports."""
import ipaddress
import socket
import sys

ALLOWED = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:2::/48")]


def lab_target(addr, tool):
    """The address, or exit: nothing is ever sent outside the lab's ranges."""
    ip = ipaddress.ip_address(addr)
    if not any(ip in n for n in ALLOWED):
        sys.exit(f"{tool}: refusing target {addr}: outside 198.18.0.0/15 and 2001:2::/48")
    return ip


def classify(e):
    """A short, stable name for a socket error."""
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, BrokenPipeError):
        return "broken-pipe"
    if isinstance(e, OSError) and e.errno is not None:
        return f"errno{e.errno}"
    return type(e).__name__
