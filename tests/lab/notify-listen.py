#!/usr/bin/env python3
"""Stand in for systemd's notification socket: receive one datagram on SOCKET and write
it to OUT (at most TIMEOUT seconds).   notify-listen.py SOCKET OUT [TIMEOUT]"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)  # shipwormd writes to it after dropping its privileges
s.settimeout(timeout)
try:
    data = s.recv(4096)
except socket.timeout:
    data = b""
with open(out, "wb") as f:
    f.write(data)
