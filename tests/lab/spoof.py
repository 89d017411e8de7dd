#!/usr/bin/env python3
"""Send crafted Teredo datagrams (ICMPv6 echo requests) to a relay at RELAY_IPV4:3544.

    spoof.py RELAY_IPV4 TEREDO_SRC IPV6_DST [COUNT]
        the IPv6 source is TEREDO_SRC, which does NOT match our UDP source (R-11)
    spoof.py --matching MY_IPV4 RELAY_IPV4 IPV6_DST [COUNT]
        the IPv6 source is a Teredo address that matches our UDP source exactly, so
        the relay accepts the source and decides by the destination (R-13, H-05)"""
import socket
import struct
import sys

args = sys.argv[1:]
matching = args[0] == "--matching"
if matching:
    args = args[1:]
    me, relay, dst = args[0], args[1], args[2]
else:
    relay, src, dst = args[0], args[1], args[2]
count = int(args[3]) if len(args) > 3 else 5

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if matching:
    s.bind((me, 0))
    port = s.getsockname()[1]
    ip = socket.inet_aton(me)
    raw = (bytes.fromhex("20010000") + socket.inet_aton("198.51.100.10") + b"\x00\x00"
           + struct.pack("!H", port ^ 0xFFFF) + bytes(b ^ 0xFF for b in ip))
    src = socket.inet_ntop(socket.AF_INET6, raw)

payload = b"crafted by the lab"
# The checksum does not matter to the relay's decision.
icmp = struct.pack("!BBHHH", 128, 0, 0, 0x5350, 1) + payload
ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 64)
ip6 += socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
for _ in range(count):
    s.sendto(ip6 + icmp, (relay, 3544))
