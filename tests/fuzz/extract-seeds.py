#!/usr/bin/env python3
"""Write the UDP payloads of a pcap (Ethernet, IPv4) as seed files for the fuzzers.

    extract-seeds.py CAPTURE.pcap OUTDIR [PREFIX]

Used to turn lab captures of shipworm and Miredo traffic into tests/fuzz/corpus/."""
import hashlib
import os
import struct
import sys


def payloads(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        l2 = 14 if linktype == 1 else 16 if linktype == 113 else 0
        ip = frame[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:]
        yield ip[12:16], udp[0:2], udp[8:]


def main():
    cap, out = sys.argv[1], sys.argv[2]
    prefix = sys.argv[3] if len(sys.argv) > 3 else ""
    os.makedirs(out, exist_ok=True)
    n = 0
    for src, sport, payload in payloads(cap):
        # fuzz_server seeds carry 7 bytes of socket and source first.
        blob = (b"\x00" + src + sport + payload) if prefix == "server" else payload
        name = hashlib.sha1(blob).hexdigest()[:16]
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
        n += 1
    print(f"{n} seeds written to {out}")


if __name__ == "__main__":
    main()
