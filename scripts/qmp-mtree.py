#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Dump `info mtree` and `info mtree -f` of a running QEMU over QMP.

    qmp-mtree.py SOCKET PREFIX

writes PREFIX.mtree.txt and PREFIX.mtree_f.txt byte-exact (the human
monitor's CRLF line ends included), as `memslot mtree --import` reads them.
Start QEMU with `-qmp unix:SOCKET,server=on,wait=off`.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: qmp-mtree.py SOCKET PREFIX")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(sys.argv[1])
    except OSError as e:
        sys.exit(f"qmp-mtree.py: {sys.argv[1]}: {e.strerror}")
    f = sock.makefile("rw", encoding="utf-8", newline="\n")

    def call(cmd, **args):
        f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                sys.exit(f"qmp-mtree.py: {cmd}: {msg['error']['desc']}")

    json.loads(f.readline())        # greeting
    call("qmp_capabilities")
    for suffix, hmp in (("mtree", "info mtree"), ("mtree_f", "info mtree -f")):
        text = call("human-monitor-command", **{"command-line": hmp})
        with open(f"{sys.argv[2]}.{suffix}.txt", "w", encoding="utf-8", newline="") as out:
            out.write(text)


if __name__ == "__main__":
    main()
