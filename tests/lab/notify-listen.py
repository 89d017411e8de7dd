#!/usr/bin/env python3
"""Stand in for systemd's notification socket: receive up to COUNT datagrams (default 1)
on SOCKET within TIMEOUT seconds, appending each to OUT as it comes (a newline after
each), so that a test can wait for what it expects.
    notify-listen.py SOCKET OUT [TIMEOUT [COUNT]]"""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)  # shipwormd writes to it after dropping its privileges
open(out, "wb").close()
end = time.monotonic() + timeout
for _ in range(count):
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data = s.recv(4096)
    except socket.timeout:
        break
    with open(out, "ab") as f:
        f.write(data + b"\n")
