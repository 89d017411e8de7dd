#!/usr/bin/env python3
"""Talk to a shipwormd control socket as an arbitrary uid/gid, with raw bytes.

    ctlpeer.py SOCK UID GID REQUEST [DELAY]
        REQUEST is a Python bytes literal body ("status\\n", "peers\\x00\\n", ...).
        Prints the answer, or "EACCES" when the socket refuses the connection. With DELAY
        (seconds), sends the request a byte at a time, DELAY apart, and prints "CLOSED"
        when the daemon closes the connection before it is all sent."""
import ast
import os
import socket
import sys

import time

path, uid, gid, req = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0
data = ast.literal_eval("b'''" + req + "'''")
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(path)
except PermissionError:
    print("EACCES")
    sys.exit(0)
if delay:
    for i in range(len(data)):
        try:
            s.send(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError):
            print("CLOSED")
            sys.exit(0)
        time.sleep(delay)
else:
    s.sendall(data)
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode(errors="replace"))
