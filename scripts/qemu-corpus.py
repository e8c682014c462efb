#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build a corpus of real `info mtree` dumps from qemu-system-x86_64 under
# KVM: the reference the selftests compare libmemslot's renderer against.
#
#   scripts/qemu-corpus.py [-j N] [-v] OUTDIR [CONFIG...]
#   scripts/qemu-corpus.py --list
#
# Every configuration (all of them when none is named) starts QEMU with
# -nodefaults -display none -monitor none and a QMP socket, either stopped
# (-S, never run) or running until SeaBIOS has finished POST (PAM, SMRAM,
# PCI BARs and option ROMs programmed), then stopped over QMP so that all
# dumps of a configuration describe one state. Files written to OUTDIR:
#   <config>.mtree.txt               info mtree
#   <config>.mtree_f.txt             info mtree -f
#   <config>.mtree_D.txt             info mtree -D
#   <config>.mtree_o.txt             info mtree -o
#   <config>.mtree_f_o.txt           info mtree -f -o
#   <config>.mtree_f_d.txt           info mtree -f -d
#   <config>.infomemory_devices.txt  info memory-devices
#   <config>.query_memory_devices.txt  QMP query-memory-devices as indented
#                                    JSON (re-serialised, not byte-exact)
#   <config>.args                    QEMU's arguments, one a line, without
#                                    the program name; the temporary
#                                    directory (socket, backing files,
#                                    firmware copies) is written as $TMP
#   <config>.census.json             `$MEMSLOT -j census -p PID` of the
#                                    stopped QEMU: the kernel's memslot
#                                    table of its VM, read by BPF (vms[0]
#                                    .memslots[]: as, slot, gpa, size,
#                                    flags); only when MEMSLOT names the
#                                    memslot binary and we run as root,
#                                    else skipped (a stale one is removed)
#   index.txt                        "<config>\t<description>", one a line
#   qemu-version.txt                 first line of `QEMU --version`
# HMP text is byte-exact, including the monitor's \r\n line endings. The
# order of address-space groups and FlatView blocks is hash-table order and
# changes between runs. index.txt is removed first and written last, only
# when every requested configuration succeeded, so it marks a full corpus.
# The census is taken after the dumps, while QEMU is still stopped, so it
# describes the same state; its pid, hva and elapsed_ns change every run.
#
# OVMF is only ever stopped (pc-ovmf-stopped): run under KVM nested in
# TCG (the kernel-in-the-loop guest on a host without /dev/kvm), QEMU 7.2's
# outer TCG aborts (tcg_handle_interrupt: qemu_mutex_iothread_locked())
# about 16 s into OVMF, before it reaches its boot manager.
#
# Exit status: 0 on success; 77 when the host lacks QEMU or a usable
# /dev/kvm (the reason on stderr; tests SKIP on it); 2 for a usage error;
# 1 otherwise, with a one-line error naming the configuration, followed by
# QEMU's stderr when QEMU failed. QEMU= overrides the binary.

import argparse
import concurrent.futures
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PROG = "qemu-corpus.py"
KVM_GET_API_VERSION = 0xAE00    # _IO(KVMIO, 0x00)
KVM_API_VERSION = 12
CONFIG_TIMEOUT = 20.0           # seconds from start to exit, per configuration
BOOT_TIMEOUT = 15.0             # seconds the firmware gets to finish POST
POLL_INTERVAL = 0.2

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
SEABIOS = "/usr/share/seabios/bios-256k.bin"

MIB = 1 << 20
GIB = 1 << 30

# (file suffix, HMP command line)
HMP_DUMPS = [
    ("mtree", "info mtree"),
    ("mtree_f", "info mtree -f"),
    ("mtree_D", "info mtree -D"),
    ("mtree_o", "info mtree -o"),
    ("mtree_f_o", "info mtree -f -o"),
    ("mtree_f_d", "info mtree -f -d"),
    ("infomemory_devices", "info memory-devices"),
]

RANGE_RE = re.compile(r"^  ([0-9a-f]{16})-([0-9a-f]{16}) \(prio -?[0-9]+, ([^)]*)\): (.*)$")


def seabios_done(flat):
    """True once SeaBIOS has finished POST, judged from `info mtree -f`.

    SeaBIOS's last step before INT 19h is to write-protect its own F
    segment through PAM, so the flat range of the "memory" address space
    holding 0xf0000 becomes a read-only view of pc.ram. With no bootable
    device it then waits 60 s before rebooting, so the map stays put."""
    for block in flat.split("\r\n\r\n"):
        lines = block.split("\r\n")
        if ' AS "memory", root: system' not in lines:
            continue
        for line in lines:
            m = RANGE_RE.match(line)
            if m and int(m.group(1), 16) <= 0xf0000 <= int(m.group(2), 16):
                return m.group(3) == "rom" and m.group(4).startswith("pc.ram")
    return False


class Config:
    """One QEMU invocation.

    args: arguments besides the common ones; "{tmp}" expands to the
    temporary directory. until: None to start with -S and never run, else
    a predicate on `info mtree -f` text polled while the guest runs.
    files: name -> int (sparse file of that size) or str (writable copy of
    that file), created in the temporary directory. qmp: (execute,
    arguments) pairs sent once QMP is up (before any run), e.g. hot-plug."""

    def __init__(self, name, desc, args, until=None, files=None, qmp=None):
        self.name = name
        self.desc = desc
        self.args = args.split()
        self.until = until
        self.files = files or {}
        self.qmp = qmp or []


CONFIGS = [
    Config("pc-256m-stopped",
           "i440FX, 256 MiB, never run: reset state (PAM off, isa-bios ROM alias)",
           "-machine pc,accel=kvm -m 256 -S"),
    Config("pc-512m-seabios",
           "i440FX, 512 MiB, SeaBIOS ran to the end of POST: PAM shadowing (read-only "
           "pc.ram in C/E/F segments), kvmvapic, PCI BARs",
           "-machine pc,accel=kvm -m 512", until=seabios_done),
    Config("q35-1g-seabios",
           "Q35, 1 GiB, SeaBIOS ran to the end of POST: MCH PAM, PCIe MMCONFIG, "
           "ICH9 LPC/PM/SMBus/AHCI I/O",
           "-machine q35,accel=kvm -m 1G", until=seabios_done),
    Config("isapc-64m-stopped",
           "ISA PC without PCI, 64 MiB, never run: no pci container, writable "
           "pc.bios/pc.rom (ram), no PAM",
           "-machine isapc,accel=kvm -m 64 -S"),
    Config("microvm-128m-stopped",
           "microvm, 128 MiB, qboot, never run: microvm.ram, 64 KiB pc.bios, two "
           "ioapics, 24 same-named virtio-mmio regions, no PCI",
           "-machine microvm,accel=kvm -m 128 -S"),
    Config("pc-1g-dimms-nvdimm",
           "i440FX, 1 GiB + pc-dimm 512 MiB + nvdimm 256 MiB (file, share=on), never "
           "run: device-memory container, nv-ram alias, NVDIMM/ACPI hotplug I/O",
           "-machine pc,accel=kvm,nvdimm=on -m 1G,slots=4,maxmem=8G "
           "-object memory-backend-ram,id=m1,size=512M "
           "-device pc-dimm,id=dimm1,memdev=m1 "
           "-object memory-backend-file,id=nv1,size=256M,mem-path={tmp}/nv1.img,share=on "
           "-device nvdimm,id=nv1,memdev=nv1 -S",
           files={"nv1.img": 256 * MIB}),
    Config("pc-pflash-virtio-mem",
           "i440FX, 512 MiB, SeaBIOS in pflash (romd system.flash0, no pc.bios) ran to "
           "the end of POST, virtio-mem-pci 1 GiB requested 128 MiB (nothing plugged: "
           "no guest driver): virtio BARs, device-memory",
           "-machine pc,accel=kvm -m 512,maxmem=4G "
           "-drive if=pflash,format=raw,readonly=on,file=" + SEABIOS + " "
           "-object memory-backend-ram,id=vm0,size=1G "
           "-device virtio-mem-pci,id=vmem0,memdev=vm0,requested-size=128M",
           until=seabios_done),
    Config("pc-ovmf-stopped",
           "i440FX, 512 MiB, OVMF code (read-only) + vars in pflash, never run: two "
           "romd flash devices, isa-bios a ROM copy instead of an alias",
           "-machine pc,accel=kvm -m 512 "
           "-drive if=pflash,format=raw,readonly=on,file=" + OVMF_CODE + " "
           "-drive if=pflash,format=raw,file={tmp}/OVMF_VARS.fd -S",
           files={"OVMF_VARS.fd": OVMF_VARS}),
    Config("q35-pci-devices",
           "Q35, 1 GiB, SeaBIOS ran to the end of POST with VGA, bochs-display, e1000, "
           "virtio-net-pci behind a pcie-root-port and e1000 behind a pcie-pci-bridge: "
           "vga-lowmem, VRAM BARs, MMIO subregions, bridge windows, MSI-X, option ROMs",
           "-machine q35,accel=kvm -m 1G -device VGA,id=vga0 "
           "-device bochs-display,id=bd0 "
           "-device e1000,id=nic0 "
           "-device pcie-root-port,id=rp1,chassis=1,slot=1 "
           "-device virtio-net-pci,id=nic1,bus=rp1 "
           "-device pcie-pci-bridge,id=br1,bus=pcie.0 "
           "-device e1000,id=nic2,bus=br1,addr=1",
           until=seabios_done),
    Config("q35-dimm-virtio-pmem",
           "Q35, 1 GiB + pc-dimm 256 MiB + virtio-pmem-pci 128 MiB (file), never run: "
           "device-memory holding a DIMM and a virtio memory device",
           "-machine q35,accel=kvm -m 1G,slots=2,maxmem=4G "
           "-object memory-backend-ram,id=m1,size=256M "
           "-device pc-dimm,id=dimm1,memdev=m1 "
           "-object memory-backend-file,id=pm1,size=128M,mem-path={tmp}/pmem.img,share=on "
           "-device virtio-pmem-pci,id=pmem1,memdev=pm1 -S",
           files={"pmem.img": 128 * MIB}),
    Config("pc-4g-stopped",
           "i440FX, 4 GiB, never run: ram-below-4g 3 GiB, ram-above-4g 1 GiB at 4 GiB",
           "-machine pc,accel=kvm -m 4G -S"),
    Config("q35-4g-smp2-stopped",
           "Q35, 4 GiB, 2 vCPUs, never run: split at 2 GiB, cpu-memory-0 and -1",
           "-machine q35,accel=kvm -m 4G -smp 2 -S"),
    Config("pc-numa-2node",
           "i440FX, 1 GiB from two NUMA node backends, 2 vCPUs, never run: pc.ram is "
           "an i/o container of two memory-backend-ram regions",
           "-machine pc,accel=kvm -m 1G -smp 2 "
           "-object memory-backend-ram,id=node0,size=512M "
           "-object memory-backend-ram,id=node1,size=512M "
           "-numa node,nodeid=0,cpus=0,memdev=node0 "
           "-numa node,nodeid=1,cpus=1,memdev=node1 -S"),
    Config("pc-dimm-hotplug",
           "i440FX, 256 MiB, never run, a 1 GiB and a 512 MiB pc-dimm hot-added over "
           "QMP without addresses: automatic placement in device-memory",
           "-machine pc,accel=kvm -m 256,slots=4,maxmem=8G -S",
           qmp=[("object-add", {"qom-type": "memory-backend-ram", "id": "hp1", "size": GIB}),
                ("device_add", {"driver": "pc-dimm", "id": "dimm-hp1", "memdev": "hp1"}),
                ("object-add", {"qom-type": "memory-backend-ram", "id": "hp2",
                                "size": 512 * MIB}),
                ("device_add", {"driver": "pc-dimm", "id": "dimm-hp2", "memdev": "hp2"})]),
    Config("pc-2g-lowmem1g-stopped",
           "i440FX, 2 GiB, max-ram-below-4g=1G, never run: split at 1 GiB",
           "-machine pc,accel=kvm,max-ram-below-4g=1G -m 2G -S"),
    Config("pc-256m-smm-off-stopped",
           "i440FX, 256 MiB, smm=off, never run: no smram container, no KVM-SMRAM "
           "address space, every slot in address space 0",
           "-machine pc,smm=off,accel=kvm -m 256 -S"),
    Config("pc-256m-smm-off-seabios",
           "i440FX, 256 MiB, smm=off, SeaBIOS ran to the end of POST: PAM shadowing "
           "with no KVM-SMRAM address space",
           "-machine pc,smm=off,accel=kvm -m 256", until=seabios_done),
]


class Procs:
    """The QEMU processes started so far; once stopping, new ones are killed
    at once so that an interrupted run leaves nothing behind."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs = []
        self.stopping = False

    def add(self, proc):
        with self.lock:
            self.procs.append(proc)
            if self.stopping:
                proc.kill()

    def kill_all(self):
        with self.lock:
            self.stopping = True
            for p in self.procs:
                if p.poll() is None:
                    p.kill()


class Skip(Exception):
    """The host lacks QEMU or KVM: exit 77."""


class Failure(Exception):
    """A configuration failed: one-line message, then optional detail."""

    def __init__(self, msg, detail=""):
        super().__init__(msg)
        self.detail = detail


def check_kvm():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise Skip("/dev/kvm: %s" % e.strerror)
    try:
        ver = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as e:
        raise Skip("/dev/kvm: KVM_GET_API_VERSION: %s" % e.strerror)
    finally:
        os.close(fd)
    if ver != KVM_API_VERSION:
        raise Skip("/dev/kvm: KVM API version %d, not %d" % (ver, KVM_API_VERSION))


class Qmp:
    """Line-based QMP client; every read is bounded by the config's deadline."""

    def __init__(self, path, proc, deadline, name):
        self.name = name
        self.deadline = deadline
        self.sock = None
        self.rfile = None
        self.next_id = 0
        # The socket appears once QEMU has parsed its options; poll for it
        # and stop as soon as QEMU exits.
        while True:
            if proc.poll() is not None:
                raise Failure("%s: QEMU failed to start (exit status %d)"
                              % (name, proc.returncode))
            if time.monotonic() > deadline:
                raise Failure("%s: no QMP socket within %.0f s" % (name, CONFIG_TIMEOUT))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                self.sock = s
                break
            except OSError as e:
                s.close()
                if e.errno not in (errno.ENOENT, errno.ECONNREFUSED):
                    raise Failure("%s: connect %s: %s" % (name, path, e.strerror))
            time.sleep(0.02)
        self.rfile = self.sock.makefile("rb")
        greeting = self.read()
        if "QMP" not in greeting:
            raise Failure("%s: unexpected QMP greeting: %s" % (name, greeting))
        self.cmd("qmp_capabilities")

    def check_deadline(self):
        if time.monotonic() > self.deadline:
            raise Failure("%s: timed out after %.0f s" % (self.name, CONFIG_TIMEOUT))

    def close(self):
        if self.sock:
            self.rfile.close()
            self.sock.close()
            self.sock = None

    def read(self):
        self.check_deadline()
        self.sock.settimeout(max(0.01, self.deadline - time.monotonic()))
        try:
            line = self.rfile.readline()
        except socket.timeout:
            raise Failure("%s: timed out after %.0f s" % (self.name, CONFIG_TIMEOUT))
        if not line:
            raise EOFError("QMP connection closed")
        return json.loads(line)

    def send(self, execute, arguments=None):
        self.next_id += 1
        req = {"execute": execute, "id": self.next_id}
        if arguments is not None:
            req["arguments"] = arguments
        self.sock.sendall(json.dumps(req).encode() + b"\n")

    def cmd(self, execute, arguments=None):
        self.send(execute, arguments)
        while True:
            msg = self.read()
            if msg.get("id") != self.next_id:
                continue        # events
            if "error" in msg:
                raise Failure("%s: QMP %s: %s" % (self.name, execute,
                                                   msg["error"].get("desc", msg["error"])))
            return msg.get("return")

    def hmp(self, line):
        return self.cmd("human-monitor-command", {"command-line": line})

    def quit(self):
        # QEMU may close the socket before or after answering.
        try:
            self.send("quit")
            while self.read().get("id") != self.next_id:
                pass
        except (EOFError, OSError, ValueError, Failure):
            pass


def write_bytes(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def prepare_files(cfg, tmp):
    for fname, what in cfg.files.items():
        path = os.path.join(tmp, fname)
        try:
            if isinstance(what, int):
                with open(path, "wb") as f:
                    f.truncate(what)
            else:
                shutil.copyfile(what, path)
        except OSError as e:
            raise Failure("%s: %s: %s" % (cfg.name, e.filename or path, e.strerror))
    # Firmware named directly (read-only pflash) must exist: say so plainly
    # rather than through QEMU's drive error.
    for a in cfg.args:
        for part in a.split(","):
            if part.startswith("file=/") and not os.path.exists(part[5:]):
                raise Failure("%s: %s: %s" % (cfg.name, part[5:], os.strerror(errno.ENOENT)))


def boot(cfg, qmp, proc):
    """Let the guest run until cfg.until holds, then stop it."""
    limit = time.monotonic() + BOOT_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise Failure("%s: QEMU exited (status %d) while the guest ran"
                          % (cfg.name, proc.returncode))
        status = qmp.cmd("query-status").get("status")
        if status != "running":
            raise Failure("%s: guest stopped with status %s while booting" % (cfg.name, status))
        if cfg.until(qmp.hmp("info mtree -f")):
            break
        if time.monotonic() > limit:
            raise Failure("%s: firmware did not finish POST within %.0f s"
                          % (cfg.name, BOOT_TIMEOUT))
        time.sleep(POLL_INTERVAL)
    qmp.cmd("stop")


def take_census(cfg, proc, deadline):
    """The kernel's memslot table of QEMU's VM as `memslot -j census` prints
    it (bytes), or None when MEMSLOT is unset or we are not root (the BPF
    census needs root)."""
    memslot = os.environ.get("MEMSLOT")
    if not memslot or os.geteuid() != 0:
        return None
    try:
        r = subprocess.run([memslot, "-j", "census", "-p", str(proc.pid)],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise Failure("%s: %s census: timed out after %.0f s"
                      % (cfg.name, memslot, CONFIG_TIMEOUT))
    except OSError as e:
        raise Failure("%s: %s: %s" % (cfg.name, memslot, e.strerror))
    if r.returncode != 0:
        raise Failure("%s: %s census exited with status %d" % (cfg.name, memslot, r.returncode),
                      (r.stderr + r.stdout).decode(errors="replace"))
    try:
        doc = json.loads(r.stdout)
        if len(doc["vms"]) != 1 or not doc["vms"][0]["memslots"]:
            raise ValueError("%d VMs" % len(doc["vms"]))
    except (ValueError, KeyError, TypeError) as e:
        raise Failure("%s: %s census: not one VM with memslots: %s" % (cfg.name, memslot, e),
                      r.stdout.decode(errors="replace"))
    return r.stdout


def run_config(cfg, qemu, outdir, tmproot, procs, verbose):
    t0 = time.monotonic()
    deadline = t0 + CONFIG_TIMEOUT
    tmp = tempfile.mkdtemp(prefix="c.", dir=tmproot)
    errpath = os.path.join(tmp, "stderr")
    proc = None
    qmp = None

    def stderr_text():
        try:
            with open(errpath, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    try:
        prepare_files(cfg, tmp)
        sock = os.path.join(tmp, "qmp.sock")
        args = [a.replace("{tmp}", tmp) for a in cfg.args]
        args += ["-nodefaults", "-display", "none", "-monitor", "none",
                 "-qmp", "unix:%s,server=on,wait=off" % sock]
        with open(errpath, "wb") as errf:
            proc = subprocess.Popen([qemu] + args, stdin=subprocess.DEVNULL,
                                    stdout=errf, stderr=errf)
        procs.add(proc)

        try:
            qmp = Qmp(sock, proc, deadline, cfg.name)
            for execute, arguments in cfg.qmp:
                qmp.cmd(execute, arguments)
            if cfg.until:
                boot(cfg, qmp, proc)
            dumps = {suffix: qmp.hmp(line).encode() for suffix, line in HMP_DUMPS}
            devs = qmp.cmd("query-memory-devices")
            census = take_census(cfg, proc, deadline)
            qmp.quit()
        except (OSError, EOFError, ValueError) as e:
            raise Failure("%s: QMP: %s" % (cfg.name, e))
        qmp.close()
        qmp = None

        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failure("%s: QEMU did not exit after quit (%.0f s limit)"
                          % (cfg.name, CONFIG_TIMEOUT))
        if proc.returncode != 0:
            raise Failure("%s: QEMU exited with status %d after quit"
                          % (cfg.name, proc.returncode))

        if b"address-space: memory\r\n" not in dumps["mtree"]:
            raise Failure("%s: info mtree has no 'address-space: memory'" % cfg.name,
                          dumps["mtree"].decode(errors="replace"))
        if not dumps["mtree_f"].startswith(b"FlatView #0\r\n"):
            raise Failure("%s: info mtree -f does not start with 'FlatView #0'" % cfg.name,
                          dumps["mtree_f"].decode(errors="replace"))

        for suffix, data in dumps.items():
            write_bytes(os.path.join(outdir, "%s.%s.txt" % (cfg.name, suffix)), data)
        write_bytes(os.path.join(outdir, cfg.name + ".query_memory_devices.txt"),
                    (json.dumps(devs, indent=1) + "\n").encode())
        write_bytes(os.path.join(outdir, cfg.name + ".args"),
                    "".join(a.replace(tmp, "$TMP") + "\n" for a in args).encode())
        census_path = os.path.join(outdir, cfg.name + ".census.json")
        if census is not None:
            write_bytes(census_path, census)
        elif os.path.lexists(census_path):
            os.unlink(census_path)
        if verbose:
            msg = "%s: %s: %.2f s\n" % (PROG, cfg.name, time.monotonic() - t0)
            for line in stderr_text().splitlines():
                msg += "  qemu: %s\n" % line
            sys.stderr.write(msg)
    except Failure as f:
        if not f.detail:
            f.detail = stderr_text()
        raise
    finally:
        if qmp:
            qmp.close()
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(prog=PROG,
                                 description="Capture QEMU info mtree dumps under KVM.")
    ap.add_argument("-j", "--jobs", type=int, default=2,
                    help="configurations run at once (default 2)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print per-configuration timings and QEMU warnings on stderr")
    ap.add_argument("-l", "--list", action="store_true",
                    help="list the configurations and exit")
    ap.add_argument("outdir", nargs="?", metavar="OUTDIR")
    ap.add_argument("configs", nargs="*", metavar="CONFIG")
    opts = ap.parse_args()

    if opts.list:
        for c in CONFIGS:
            print("%s\t%s" % (c.name, c.desc))
        return 0
    if not opts.outdir or opts.jobs < 1:
        ap.print_usage(sys.stderr)
        return 2
    by_name = {c.name: c for c in CONFIGS}
    for n in opts.configs:
        if n not in by_name:
            sys.stderr.write("%s: unknown configuration: %s\n" % (PROG, n))
            return 2
    configs = [by_name[n] for n in dict.fromkeys(opts.configs)] or CONFIGS

    qemu = os.environ.get("QEMU") or "qemu-system-x86_64"
    try:
        path = shutil.which(qemu)
        if not path:
            raise Skip("%s: not found" % qemu)
        check_kvm()
    except Skip as s:
        sys.stderr.write("%s: skip: %s\n" % (PROG, s))
        return 77

    # SIGTERM unwinds like an error, so QEMU processes and files get cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        os.makedirs(opts.outdir, exist_ok=True)
        index = os.path.join(opts.outdir, "index.txt")
        if os.path.lexists(index):
            os.unlink(index)
        ver = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=CONFIG_TIMEOUT)
        write_bytes(os.path.join(opts.outdir, "qemu-version.txt"),
                    ((ver.stdout.splitlines() or ["?"])[0] + "\n").encode())
    except OSError as e:
        sys.stderr.write("%s: %s: %s\n" % (PROG, e.filename or opts.outdir, e.strerror))
        return 1
    except subprocess.TimeoutExpired:
        sys.stderr.write("%s: %s --version: timed out\n" % (PROG, path))
        return 1

    t0 = time.monotonic()
    procs = Procs()
    failures = []
    tmproot = tempfile.mkdtemp(prefix="qemu-corpus.")
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=opts.jobs)
    try:
        futs = [ex.submit(run_config, c, path, opts.outdir, tmproot, procs, opts.verbose)
                for c in configs]
        for c, fut in zip(configs, futs):
            try:
                fut.result()
            except Failure as f:
                failures.append(f)
            except OSError as e:
                failures.append(Failure("%s: %s: %s" % (c.name, e.filename or "?",
                                                        e.strerror)))
    finally:
        # Normally a no-op; on SIGTERM or ^C this ends the running QEMUs so
        # the workers fail fast instead of running into their deadlines.
        procs.kill_all()
        ex.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(tmproot, ignore_errors=True)

    if failures:
        for f in failures:
            sys.stderr.write("%s: %s\n" % (PROG, f))
            if f.detail.strip():
                sys.stderr.write(f.detail.rstrip("\n") + "\n")
        return 1

    write_bytes(index, "".join("%s\t%s\n" % (c.name, c.desc) for c in configs).encode())
    if opts.verbose:
        sys.stderr.write("%s: %d configurations in %.2f s\n"
                         % (PROG, len(configs), time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
