#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Plays systemd's side of sd_notify: binds a unix datagram socket at PATH
and appends every notification to LOG, one datagram per line (newlines
inside shown as '|'), until killed. Usage: notify_listen.py PATH LOG"""
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
if os.path.exists(path):
    os.unlink(path)
s.bind(path)
with open(log, "a", buffering=1) as out:
    out.write("listening\n")
    while True:
        msg = s.recv(4096).decode(errors="replace")
        out.write(msg.strip().replace("\n", "|") + "\n")
