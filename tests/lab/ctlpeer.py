#!/usr/bin/env python3
"""Talk to a shipwormd control socket as an arbitrary uid/gid, with raw bytes.

    ctlpeer.py SOCK UID GID REQUEST
        REQUEST is a Python bytes literal body ("status\\n", "peers\\x00\\n", ...).
        Prints the answer, or "EACCES" when the socket refuses the connection."""
import ast
import os
import socket
import sys

path, uid, gid, req = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
s.sendall(data)
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode(errors="replace"))
