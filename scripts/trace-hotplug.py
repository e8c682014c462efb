#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Trace the memslot changes of a QEMU that boots its firmware and gets DIMMs hot-plugged.

    trace-hotplug.py [--dimms N] [--size SIZE] [--boot SECONDS] [--memslot PATH]
                     [--qemu PATH] [-- TRACE-OPTIONS...]

starts QEMU (-machine pc,accel=kvm, -m 256,slots=N,maxmem=..., -nodefaults,
-display none, -S, QMP on a socket in a temporary directory), attaches
`memslot trace --qmp SOCKET TRACE-OPTIONS` (default: --latency --summary;
the tracer finds QEMU through the socket this script is connected to),
lets the firmware run for --boot seconds (0: the vCPU stays stopped; the
firmware's PAM programming deletes and re-creates the low slots while the
vCPU runs), hot-plugs N DIMMs of SIZE over QMP (object-add
memory-backend-ram + device_add pc-dimm), stops the tracer with SIGINT and
prints what it printed. Needs root and a usable /dev/kvm (inside the
kernel-in-the-loop runner: build/memslot-vmtest -- scripts/trace-hotplug.py).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def qmp_connect(path, deadline):
    while True:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
            break
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                sys.exit(f"trace-hotplug.py: no QMP socket at {path}")
            time.sleep(0.1)
    f = sock.makefile("rw", encoding="utf-8", newline="\n")
    json.loads(f.readline())  # greeting

    def call(cmd, **args):
        f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                sys.exit(f"trace-hotplug.py: {cmd}: {msg['error']['desc']}")

    call("qmp_capabilities")
    return call


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dimms", type=int, default=8)
    ap.add_argument("--size", default="128M")
    ap.add_argument("--boot", type=float, default=0)
    # the source tree's build, else (installed in share/memslot) the PATH's
    built = os.path.join(os.path.dirname(__file__), "..", "build", "memslot")
    ap.add_argument("--memslot", default=built if os.path.exists(built)
                    else shutil.which("memslot") or "memslot")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64") or "qemu-system-x86_64")
    ap.add_argument("trace", nargs="*")
    a = ap.parse_args()
    trace_args = a.trace or ["--latency", "--summary"]

    tmp = tempfile.mkdtemp(prefix="trace-hotplug.")
    sock = os.path.join(tmp, "qmp")
    qemu = subprocess.Popen([a.qemu, "-machine", "pc,accel=kvm", "-m",
                             f"256,slots={max(a.dimms, 1)},maxmem=64G", "-nodefaults",
                             "-display", "none", "-S", "-qmp",
                             f"unix:{sock},server=on,wait=off"],
                            stdin=subprocess.DEVNULL)
    tracer = None
    try:
        call = qmp_connect(sock, time.monotonic() + 60)
        tracer = subprocess.Popen([a.memslot, "trace", "--qmp", sock] + trace_args,
                                  stderr=subprocess.PIPE, text=True)
        for line in tracer.stderr:
            sys.stderr.write(line)
            if "attach: " in line:
                break
        else:
            sys.exit("trace-hotplug.py: the tracer did not attach")
        if a.boot:
            call("cont")
            time.sleep(a.boot)
        for i in range(a.dimms):
            call("object-add", **{"qom-type": "memory-backend-ram", "id": f"m{i}",
                                  "size": parse_size(a.size)})
            call("device_add", driver="pc-dimm", id=f"d{i}", memdev=f"m{i}")
        time.sleep(0.5)
        tracer.send_signal(signal.SIGINT)
        sys.stderr.write(tracer.stderr.read())
        return tracer.wait()
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
        qemu.kill()
        qemu.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1:].upper()]
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
