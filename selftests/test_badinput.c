// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bad input for every command of the memslot command line: a catalogue of
 * rows, each an argument vector, optional stdin, the expected exit status
 * and a substring of the one error line (STYLE.md "CLI": one line on
 * stderr, `memslot: <cmd>: <problem>: <value>`, naming the value).
 *
 * Every row runs twice, once as written and once with -j: then stdout is
 * empty or exactly one JSON document, whose "error" (if any) carries the
 * same text, and the exit status does not change. A row gets 10 seconds:
 * a hang is a failure, not a stuck test. The tool runs in an empty
 * directory that must stay empty (nothing of a partial output is left),
 * with MEMSLOT_VMTEST_RUNNER pointing nowhere, so that `run` can never
 * boot a guest kernel.
 *
 * The input files (cut, concatenated, corrupted, binary, huge and deeply
 * nested `info mtree` dumps, JSON tables for verify) are made in a
 * temporary directory from the QEMU 7.2 samples (samples_dir()). In the
 * table, "@/" at the start of an argument or an expected text stands for
 * that directory. Scripts come on stdin as --script /dev/stdin.
 *
 * Numbers of memslot's own options (--vhost-limit, --kvm-memslots, --cpu,
 * trace's --duration and --count) are decimal or 0x hexadecimal: "010" is
 * ten. QEMU's own syntax (-m slots=, -device addr=) keeps QEMU's rules,
 * where "010" is octal 8 (qemu_strtou64 with base 0), and sizes are
 * decimal (qemu_strtosz): "-m 010" is 10 MiB.
 *
 * A row marked F_XFAIL is a known bug reported to the owner of the code:
 * it must fail until fixed, then the mark goes. BADINPUT_TIMES=1 prints
 * the time of every run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include <json-c/json.h>

#include "cli.h"
#include "util.h"	/* before the harness, see there; samples_dir() */

#include "harness.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif

#define ROW_TIMEOUT_S	10
#define ROW_SLOW_S	5	/* e.g. /dev/zero, refused by the 64 MiB cap */
#define MAX_ARGS	24

/* Row flags. */
#define F_OUT		(1u << 0)	/* stdout may hold output written before the error */
#define F_USAGE		(1u << 1)	/* the usage text also goes to stderr */
#define F_NOCAPS	(1u << 2)	/* run without CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN */
#define F_XFAIL		(1u << 3)	/* a known bug, reported: the row fails until it is fixed */

/**
 * struct row - one bad input
 * @args: arguments after "memslot", NULL-terminated
 * @in: stdin text (NULL: /dev/null)
 * @status: expected exit status
 * @err: substring of the error line on stderr (of the JSON "error" with -j);
 *	NULL for a row that succeeds
 * @out: substring of stdout, for a row that succeeds (or with F_OUT)
 * @env: one "NAME=value" for the child, or NULL
 * @flags: F_*
 */
struct row {
	const char *args[MAX_ARGS];
	const char *in;
	int status;
	const char *err;
	const char *out;
	const char *env;
	unsigned int flags;
};

#define A(...)		.args = { __VA_ARGS__, NULL }
/* a machine with device memory and a 1 GiB backend m1 */
#define MACH		"-m", "1G,slots=4,maxmem=8G", "-object", "memory-backend-ram,id=m1,size=1G"
#define VMEM(props)	MACH, "-device", "virtio-mem-pci,memdev=m1," props
#define DIMM(props)	MACH, "-device", "pc-dimm,memdev=m1," props
#define SCRIPT		"--script", "/dev/stdin"
#define RUN		"run", "--no-vm"

static const struct row rows[] = {
	/* --- global command line, help ------------------------------------- */
	{ A("bogus"), .status = 2, .err = "memslot: unknown command: bogus" },
	{ A("PLAN"), .status = 2, .err = "unknown command: PLAN" },
	{ A("pla"), .status = 2, .err = "unknown command: pla" },
	{ A("-x", "plan"), .status = 2, .err = "unknown option: -x" },
	{ A("--bogus", "plan"), .status = 2, .err = "unknown option: --bogus" },
	{ A("--json=1", "plan"), .status = 2, .err = "memslot: option takes no argument: --json=1" },
	{ A("--version=2"), .status = 2, .err = "memslot: option takes no argument: --version=2" },
	{ A("-d"), .status = 2, .err = "Usage: memslot [OPTIONS] COMMAND", .flags = F_USAGE },
	{ A("help", "bogus"), .status = 2, .err = "memslot: help: unknown command: bogus" },
	{ A("help", "plan", "extra"), .status = 2, .err = "help: unexpected argument: extra" },
	{ A("help", ""), .status = 2, .err = "help: unknown command: " },

	/* --- plan -m: sizes and suffixes --------------------------------------- */
	{ A("plan", "-m", "1Q"), .status = 2,
	  .err = "plan: -m 1Q: Parameter 'size' expects a non-negative number below 2^64" },
	{ A("plan", "-m", "18446744073709551616"), .status = 2,
	  .err = "-m 18446744073709551616: Parameter 'size' expects" },
	{ A("plan", "-m", "17592186044416"), .status = 2,
	  .err = "-m 17592186044416: Parameter 'size' expects" },	/* MiB: 2^64 bytes */
	{ A("plan", "-m", "16E"), .status = 2, .err = "-m 16E: Parameter 'size'" },
	{ A("plan", "-m", "16384P"), .status = 2, .err = "-m 16384P: Parameter 'size'" },
	{ A("plan", "-m", "17179869184G"), .status = 2, .err = "-m 17179869184G: Parameter" },
	{ A("plan", "-m", "0x10000000000000000"), .status = 2,
	  .err = "-m 0x10000000000000000: Parameter 'size'" },
	/* below 2^64, but not once rounded up to QEMU's 8 KiB */
	{ A("plan", "-m", "15.9999999999999999999E"), .status = 2,
	  .err = "-m 15.9999999999999999999E: Parameter 'size' expects a non-negative number below 2^64" },
	{ A("plan", "-m", "18446744073709543425B"), .status = 2,
	  .err = "-m 18446744073709543425B: Parameter 'size' expects" },
	{ A("plan", "-m", "16383P"), .status = 1,
	  .err = "region pc.ram: bad RAM size: 0xfffc000000000000" },
	{ A("plan", "-m", "-1"), .status = 2, .err = "-m -1: Parameter 'size'" },
	{ A("plan", "-m", "1.5"), .status = 2, .err = "-m 1.5: Parameter 'size'" },
	{ A("plan", "-m", "1.G"), .status = 2, .err = "-m 1.G: Parameter 'size'" },
	{ A("plan", "-m", "0x1G"), .status = 2, .err = "-m 0x1G: Parameter 'size'" },
	{ A("plan", "-m", "1GB"), .status = 2, .err = "-m 1GB: Parameter 'size'" },
	{ A("plan", "-m", " 1G"), .status = 2, .err = "-m  1G: Parameter 'size'" },
	{ A("plan", "-m", ""), .status = 2, .err = "-m : Parameter 'size'" },
	{ A("plan", "-m", "size="), .status = 2, .err = "-m size=: Parameter 'size'" },
	{ A("plan", "-m", ","), .status = 2, .err = "-m ,: Parameter 'size'" },
	{ A("plan", "-m", "=1G"), .status = 2, .err = "-m =1G: Invalid parameter ''" },
	{ A("plan", "-m", "1G,bogus=1"), .status = 2, .err = "-m 1G,bogus=1: Invalid parameter 'bogus'" },
	{ A("plan", "-m", "1G,slots"), .status = 2,
	  .err = "-m 1G,slots: Expected '=' after parameter 'slots'" },
	/* QEMU: "-m 0" is the default size; sizes are decimal, "010" is 10 MiB */
	{ A("plan", "-m", "0"), .status = 0, .out = "ram: 0x8000000 " },
	{ A("plan", "-m", "010"), .status = 0, .out = "ram: 0xa00000 " },

	/* --- slots and maxmem -------------------------------------------------- */
	{ A("plan", "-m", "1G,maxmem=512M"), .status = 1,
	  .err = "maximum memory size (0x20000000) must be at least the initial memory size (0x40000000)" },
	{ A("plan", "-m", "8G,slots=2,maxmem=4G"), .status = 1,
	  .err = "invalid value of maxmem: maximum memory size (0x100000000)" },
	{ A("plan", "-m", "1G,maxmem=1G,slots=4"), .status = 1,
	  .err = "memory slots were specified but maximum memory size (0x40000000) is equal" },
	{ A("plan", "-m", "1G,slots=4"), .status = 1, .err = "slots specified but no max-size" },
	{ A("plan", "-m", "1G,slots=257,maxmem=8G"), .status = 1,
	  .err = "plan: unsupported amount of memory slots: 257" },
	{ A("plan", "-m", "1G,slots=4294967297,maxmem=8G"), .status = 1,
	  .err = "unsupported amount of memory slots: 4294967297" },
	{ A("plan", "-m", "1G,slots=18446744073709551616,maxmem=8G"), .status = 2,
	  .err = "Parameter 'slots' expects a number" },
	{ A("plan", "-m", "1G,slots=-1,maxmem=8G"), .status = 2,
	  .err = "-m 1G,slots=-1,maxmem=8G: Parameter 'slots' expects a number" },
	{ A("plan", "-m", "1G,slots=abc,maxmem=8G"), .status = 2,
	  .err = "Parameter 'slots' expects a number" },
	{ A("plan", "-m", "1G,slots=4,maxmem=16E"), .status = 2,
	  .err = "-m 1G,slots=4,maxmem=16E: Parameter 'maxmem' expects" },
	{ A("plan", "-m", "1G,slots=4,maxmem=1Q"), .status = 2, .err = "Parameter 'maxmem'" },
	{ A("plan", "-m", "1G,slots=4,maxmem=18446744073709547520"), .status = 1,
	  .err = "plan: unsupported amount of maximum memory: fffffffffffff000" },
	{ A("plan", "-m", "1G,slots=4,maxmem=18446744073709551615"), .status = 1,
	  .err = "maximum memory size must by aligned to multiple of 4096 bytes" },
	/* slots=0 with maxmem: device memory for virtio-mem, no DIMM (QEMU 7.2) */
	{ A("plan", "-m", "1G,slots=0,maxmem=8G", "-object", "memory-backend-ram,id=m1,size=1G",
	    "-device", "pc-dimm,memdev=m1"), .status = 1,
	  .err = "-device pc-dimm,memdev=m1: no slots where allocated" },
	{ A("plan", "-m", "1G", "-object", "memory-backend-ram,id=m1,size=1G",
	    "-device", "pc-dimm,memdev=m1"), .status = 1, .err = "no slots where allocated" },
	/* QEMU's numbers: "slots=010" is octal 8, as qemu-system-x86_64 takes it */
	{ A("plan", "-m", "1G,slots=010,maxmem=8G", "-object", "memory-backend-ram,id=m1,size=1G",
	    "-device", "pc-dimm,memdev=m1,slot=9"), .status = 1,
	  .err = "invalid slot number 9, valid range is [0-7]" },

	/* --- -M ---------------------------------------------------------------- */
	{ A("plan", "-M", "bogus"), .status = 2, .err = "plan: -M bogus: unsupported machine type" },
	{ A("plan", "-machine", "isapc"), .status = 2, .err = "-machine isapc: unsupported machine" },
	{ A("plan", "-M", "pc,bogus=1"), .status = 2,
	  .err = "-M pc,bogus=1: Property 'pc-i440fx-7.2-machine.bogus' not found" },
	{ A("plan", "-M", "q35,bogus=1"), .status = 2, .err = "'pc-q35-7.2-machine.bogus' not found" },
	{ A("plan", "-M", "pc,smm=maybe"), .status = 2,
	  .err = "-M pc,smm=maybe: Parameter 'smm' does not accept value 'maybe'" },
	{ A("plan", "-M", "pc,accel=hvf"), .status = 2, .err = "-M pc,accel=hvf: invalid accelerator hvf" },
	{ A("plan", "-M", "pc,nvdimm=2"), .status = 2, .err = "Parameter 'nvdimm' expects 'on' or 'off'" },
	{ A("plan", "-M", "pc,max-ram-below-4g=1Q"), .status = 2,
	  .err = "-M pc,max-ram-below-4g=1Q: Parameter 'max-ram-below-4g' expects size" },
	{ A("plan", "-M", "q35,max-ram-below-4g=8G", "-m", "4G"), .status = 1,
	  .err = "max-ram-below-4g=8589934592' expects size less than or equal to 4G" },
	{ A("plan", "-M", "pc", "-M", "nope"), .status = 2, .err = "-M nope: unsupported machine type" },
	{ A("plan", "-M"), .status = 2, .err = "plan: missing argument of option: -M" },

	/* --- -object ----------------------------------------------------------- */
	{ A("plan", "-object", "memory-backend-bogus,id=m1,size=1G"), .status = 2,
	  .err = "Parameter 'qom-type' does not accept value 'memory-backend-bogus'" },
	{ A("plan", "-object", "id=m1,size=1G"), .status = 2, .err = "Parameter 'qom-type' is missing" },
	{ A("plan", "-object", "memory-backend-ram,size=1G"), .status = 2,
	  .err = "-object memory-backend-ram,size=1G: Parameter 'id' is missing" },
	{ A("plan", "-object", "memory-backend-ram,id=m1"), .status = 2,
	  .err = "Parameter 'size' is missing" },
	{ A("plan", "-object", "memory-backend-ram,id=9m,size=1G"), .status = 2,
	  .err = "Parameter 'id' expects an identifier" },
	{ A("plan", "-object", "memory-backend-ram,id=,size=1G"), .status = 2,
	  .err = "Parameter 'id' expects an identifier" },
	{ A("plan", "-object", "memory-backend-ram,id=m1,size=1Q"), .status = 2,
	  .err = "-object memory-backend-ram,id=m1,size=1Q: Parameter 'size' expects a size value" },
	{ A("plan", "-object", "memory-backend-ram,id=m1,size=16E"), .status = 2,
	  .err = "Parameter 'size' expects a size value" },
	{ A("plan", "-object", "memory-backend-ram,id=m1,size=0"), .status = 1,
	  .err = "property 'size' of memory-backend-ram doesn't take value '0'" },
	{ A("plan", "-object", "memory-backend-ram,id=m1,size=1G,mem-path=/x"), .status = 2,
	  .err = "Invalid parameter 'mem-path'" },
	{ A("plan", "-object", "memory-backend-file,id=m1,size=1G"), .status = 2,
	  .err = "Parameter 'mem-path' is missing" },
	{ A("plan", "-object", "memory-backend-file,id=m1,size=1G,mem-path=/x,align=1Q"),
	  .status = 2, .err = "Parameter 'align' expects a size value" },
	{ A("plan", "-object", "memory-backend-ram,id=m1,size=1G,share=maybe"), .status = 2,
	  .err = "Parameter 'share' expects 'on' or 'off'" },
	{ A("plan", "-object", "memory-backend-memfd,id=m1,size=1G,prealloc=2"), .status = 2,
	  .err = "Parameter 'prealloc' expects 'on' or 'off'" },
	{ A("plan", "-object", "memory-backend-ram,id=m1,size=1G",
	    "-object", "memory-backend-ram,id=m1,size=2G"), .status = 1,
	  .err = "-object memory-backend-ram,id=m1,size=2G: Duplicate ID 'm1' for object" },
	{ A("plan", "-object"), .status = 2, .err = "missing argument of option: -object" },

	/* --- -device: drivers, properties, ids --------------------------------- */
	{ A("plan", MACH, "-device", "foo-dimm,memdev=m1"), .status = 2,
	  .err = "-device foo-dimm,memdev=m1: 'foo-dimm' is not a valid device model name" },
	{ A("plan", MACH, "-device", "memdev=m1"), .status = 2, .err = "Parameter 'driver' is missing" },
	{ A("plan", MACH, "-device", ""), .status = 2, .err = "is not a valid device model name" },
	{ A("plan", DIMM("bogus=1")), .status = 2,
	  .err = "-device pc-dimm,memdev=m1,bogus=1: Property 'pc-dimm.bogus' not found" },
	{ A("plan", DIMM("memaddr=0")), .status = 2, .err = "Property 'pc-dimm.memaddr' not found" },
	{ A("plan", VMEM("slot=0")), .status = 2, .err = "Property 'virtio-mem-pci.slot' not found" },
	{ A("plan", MACH, "-device", "pc-dimm"), .status = 1,
	  .err = "-device pc-dimm: 'memdev' property must be set" },
	{ A("plan", MACH, "-device", "pc-dimm,memdev=nope"), .status = 1,
	  .err = "-device pc-dimm,memdev=nope: Device 'nope' not found" },
	{ A("plan", DIMM("id=1bad")), .status = 2, .err = "Parameter 'id' expects an identifier" },
	{ A("plan", DIMM("id=d1"), "-device", "pc-dimm,memdev=m1,id=d2"), .status = 1,
	  .err = "-device pc-dimm,memdev=m1,id=d2: can't use already busy memdev: m1" },
	{ A("plan", DIMM("id=d1"), "-object", "memory-backend-ram,id=m2,size=1G",
	    "-device", "pc-dimm,memdev=m2,id=d1"), .status = 1,
	  .err = "-device pc-dimm,memdev=m2,id=d1: Duplicate ID 'd1' for device" },
	{ A("plan", DIMM("slot=4")), .status = 1, .err = "invalid slot number 4, valid range is [0-3]" },
	{ A("plan", DIMM("slot=-2")), .status = 1, .err = "invalid slot number -2" },
	{ A("plan", DIMM("slot=4294967296")), .status = 2, .err = "Parameter 'slot' expects int32_t" },
	{ A("plan", DIMM("slot=x")), .status = 2, .err = "Parameter 'slot' expects integer" },
	{ A("plan", DIMM("slot=0"), "-object", "memory-backend-ram,id=m2,size=1G",
	    "-device", "pc-dimm,memdev=m2,slot=0"), .status = 1, .err = "slot 0 is busy" },
	{ A("plan", DIMM("node=-1")), .status = 2, .err = "Parameter 'node' expects uint32_t" },
	{ A("plan", DIMM("node=5")), .status = 1, .err = "5" },
	{ A("plan", DIMM("addr=-1")), .status = 2, .err = "Parameter 'addr' expects integer" },
	{ A("plan", DIMM("addr=0x10000000000000000")), .status = 2, .err = "Parameter 'addr' expects integer" },
	{ A("plan", DIMM("addr=")), .status = 2, .err = "Parameter 'addr' expects integer" },
	{ A("plan", DIMM("addr=0x1001")), .status = 1,
	  .err = "-device pc-dimm,memdev=m1,addr=0x1001: address must be aligned to 0x200000 bytes" },
	{ A("plan", DIMM("addr=0x400000000")), .status = 1,
	  .err = "addr=0x400000000: can't add memory device [0x400000000:0x40000000], usable range "
		 "for memory devices [0x100000000:0x2c0000000]" },
	/* QEMU: addr=0 is "pick one" */
	{ A("plan", DIMM("addr=0")), .status = 0, .out = "  addr: 0x100000000\n" },
	{ A("plan", DIMM("addr=0xffffffffffe00000")), .status = 1, .err = "addr=0xffffffffffe00000: " },
	/* QEMU's numbers: "addr=010" is octal 8, refused as unaligned like QEMU does */
	{ A("plan", DIMM("addr=010")), .status = 1, .err = "addr=010: address must be aligned" },
	{ A("plan", MACH, "-object", "memory-backend-ram,id=m2,size=4097", "-device", "pc-dimm,memdev=m2"),
	  .status = 1, .err = "backend memory size must be multiple of 0x200000" },
	{ A("plan", "-m", "1G,slots=4,maxmem=8G",
	    "-object", "memory-backend-ram,id=m1,size=18446744073709551615",
	    "-device", "pc-dimm,memdev=m1"), .status = 1, .err = "-device pc-dimm,memdev=m1: " },
	{ A("plan", MACH, "-object", "memory-backend-ram,id=m2,size=8G", "-device", "pc-dimm,memdev=m2"),
	  .status = 1, .err = "not enough space" },
	{ A("plan", MACH, "-device", "nvdimm,memdev=m1"), .status = 1, .err = "nvdimm" },
	{ A("plan", MACH, "-device", "virtio-pmem-pci,memdev=m1,memaddr=0x1001"), .status = 1,
	  .err = "memaddr=0x1001: " },
	{ A("plan", MACH, "-device", "pc-dimm,memdev=m1,,id=x"), .status = 1, .err = "Device 'm1,id=x' not found" },

	/* --- virtio-mem: block-size and requested-size -------------------------- */
	{ A("plan", VMEM("block-size=3M")), .status = 1,
	  .err = "block-size=3M: 'block-size' property has to be a power of two" },
	{ A("plan", VMEM("block-size=0")), .status = 1, .err = "'block-size' property has to be at least 0x100000" },
	{ A("plan", VMEM("block-size=4K")), .status = 1, .err = "'block-size' property has to be at least" },
	{ A("plan", VMEM("block-size=2G")), .status = 1,
	  .err = "'memdev' property memdev size has to be multiples of'block-size' (0x80000000)" },
	{ A("plan", VMEM("block-size=16E")), .status = 2, .err = "Parameter 'block-size' expects size" },
	{ A("plan", VMEM("block-size=-2M")), .status = 2, .err = "Parameter 'block-size' expects size" },
	{ A("plan", VMEM("requested-size=3M")), .status = 1,
	  .err = "'requested-size' property has to be multiples of 'block-size' (0x200000)" },
	{ A("plan", VMEM("requested-size=1Q")), .status = 2, .err = "Parameter 'requested-size' expects size" },
	{ A("plan", VMEM("requested-size=-1")), .status = 2, .err = "Parameter 'requested-size' expects size" },
	{ A("plan", VMEM("memaddr=0x1001")), .status = 1, .err = "memaddr=0x1001: address must be aligned" },
	{ A("plan", VMEM("dynamic-memslots=maybe")), .status = 2,
	  .err = "Parameter 'dynamic-memslots' expects 'on' or 'off'" },
	{ A("plan", VMEM("unplugged-inaccessible=maybe")), .status = 2,
	  .err = "Parameter 'unplugged-inaccessible' does not accept value 'maybe'" },
	{ A("plan", VMEM("node=4294967296")), .status = 2, .err = "Parameter 'node' expects uint32_t" },
	{ A("plan", VMEM("prealloc=2")), .status = 2, .err = "Parameter 'prealloc' expects 'on' or 'off'" },
	/* QEMU 7.2 takes a requested size above the backend's at realize */
	{ A("plan", VMEM("requested-size=2G")), .status = 0, .out = "requested-size: 2147483648" },

	/* --- vhost limits, KVM limits, firmware -------------------------------- */
	{ A("plan", "--vhost-limit", "0"), .status = 2,
	  .err = "plan: --vhost-limit 0: invalid memslot limit: 0" },
	{ A("plan", "--vhost-limit", "-1"), .status = 2, .err = "--vhost-limit -1: invalid memslot limit: -1" },
	{ A("plan", "--vhost-limit", "4294967296"), .status = 2,
	  .err = "invalid memslot limit: 4294967296" },
	{ A("plan", "--vhost-limit", "18446744073709551616"), .status = 2,
	  .err = "invalid memslot limit: 18446744073709551616" },
	{ A("plan", "--vhost-limit", "99999999999999999999999"), .status = 2,
	  .err = "invalid memslot limit: 99999999999999999999999" },
	{ A("plan", "--vhost-limit", "1e3"), .status = 2, .err = "invalid memslot limit: 1e3" },
	{ A("plan", "--vhost-limit", "64k"), .status = 2, .err = "invalid memslot limit: 64k" },
	{ A("plan", "--vhost-limit", ""), .status = 2, .err = "--vhost-limit : " },
	{ A("plan", "--vhost-limit", "8,bogus=1"), .status = 2,
	  .err = "--vhost-limit 8,bogus=1: Invalid parameter 'bogus'" },
	{ A("plan", "--vhost-limit", "8,name="), .status = 2, .err = "--vhost-limit 8,name=: empty name" },
	{ A("plan", "--vhost-limit", "name=x"), .status = 2, .err = "Parameter 'limit' is missing" },
	{ A("plan", "--vhost-limit", "8,user=maybe"), .status = 2, .err = "Parameter 'user' expects" },
	{ A("plan", "--vhost-limit", "8,late=2"), .status = 2, .err = "Parameter 'late' expects" },
	{ A("plan", "--vhost-limit", "1", DIMM("id=d1")), .status = 1,
	  .err = "vhost backend memory slots limit (1) is less than current number of used" },
	/* memslot's own numbers are decimal: "010" is ten, not octal 8 */
	{ A("plan", "--vhost-limit", "010"), .status = 0, .out = "vhost0           10 " },
	{ A("plan", "--kvm-memslots", "010"), .status = 0, .out = ", 10 KVM memslots" },
	{ A("plan", "--kvm-memslots", "0x10"), .status = 0, .out = ", 16 KVM memslots" },
	{ A("plan", "--kvm-memslots", "0"), .status = 2, .err = "invalid number of KVM memslots: 0" },
	{ A("plan", "--kvm-memslots", "-5"), .status = 2, .err = "invalid number of KVM memslots: -5" },
	{ A("plan", "--kvm-memslots", "4294967296"), .status = 2,
	  .err = "invalid number of KVM memslots: 4294967296" },
	{ A("plan", "--kvm-memslots", "3"), .status = 1, .err = "no free slot available (limit 3)" },
	{ A("plan", "--kvm-smm", "maybe"), .status = 2, .err = "invalid --kvm-smm: maybe (on or off)" },
	{ A("plan", "--kvm-smm", "off", "-M", "pc,smm=on"), .status = 1,
	  .err = "System Management Mode not supported by this hypervisor" },
	{ A("plan", "--firmware", "uefi"), .status = 2, .err = "invalid --firmware: uefi (none or seabios)" },
	{ A("plan", "--firmware=", "x"), .status = 2, .err = "invalid --firmware:  (none or seabios)" },

	/* --- plan command line ------------------------------------------------- */
	{ A("plan", "-x"), .status = 2, .err = "plan: unknown option: -x" },
	{ A("plan", "--m", "1G"), .status = 2, .err = "plan: unknown option: --m" },
	{ A("plan", "-vhost-limit", "8"), .status = 2, .err = "plan: unknown option: -vhost-limit" },
	{ A("plan", "extra"), .status = 2, .err = "plan: unexpected argument: extra" },
	{ A("plan", "-"), .status = 2, .err = "plan: unexpected argument: -" },
	{ A("plan", "--vhost-limit"), .status = 2, .err = "missing argument of option: --vhost-limit" },
	{ A("plan", "--dirty-log"), .status = 2, .err = "plan: unknown option: --dirty-log" },
	{ A("plan", "--cpu", "0"), .status = 2, .err = "plan: unknown option: --cpu" },

	/* --- scripts ----------------------------------------------------------- */
	{ A("plan", "--script"), .status = 2, .err = "missing argument of option: --script" },
	{ A("plan", "--script", "@/nonexistent.scn"), .status = 1,
	  .err = "plan: @/nonexistent.scn: No such file or directory" },
	{ A("plan", "--script", "@/"), .status = 1, .err = "plan: @/: Is a directory" },
	{ A("plan", "--script", "/dev/zero"), .status = 1,
	  .err = "/dev/zero: larger than 64 MiB, not an input of memslot" },
	{ A("plan", "--script", "@/huge.txt"), .status = 1, .err = "@/huge.txt: larger than 64 MiB" },
	{ A("plan", "--script", "@/binary.bin"), .status = 1, .err = "@/binary.bin: NUL byte in the script" },
	{ A("plan", "--script", ""), .status = 2, .err = "plan: --script: empty argument" },
	{ A("plan", "--script="), .status = 2, .err = "plan: --script: empty argument" },
	{ A("plan", SCRIPT), .in = "bogus\n", .status = 1,
	  .err = "plan: /dev/stdin:1: unknown command: bogus" },
	{ A("plan", SCRIPT), .in = "# fine\n\n  info mtree\n frob x\n", .status = 1,
	  .err = "/dev/stdin:4: unknown command: frob" },
	{ A("plan", SCRIPT), .in = "device_add\n", .status = 1,
	  .err = "/dev/stdin:1: usage: device_add DRIVER,key=value[,...]" },
	{ A("plan", SCRIPT), .in = "device_add pc-dimm, memdev=m1\n", .status = 1,
	  .err = "/dev/stdin:1: usage: device_add" },
	{ A("plan", SCRIPT), .in = "device_del\n", .status = 1, .err = "/dev/stdin:1: usage: device_del ID" },
	{ A("plan", SCRIPT), .in = "qom-set x requested-size\n", .status = 1,
	  .err = "usage: qom-set ID PROPERTY VALUE" },
	{ A("plan", SCRIPT), .in = "virtio-mem plug\n", .status = 1,
	  .err = "usage: virtio-mem plug ID OFFSET SIZE" },
	{ A("plan", SCRIPT), .in = "virtio-mem frob x\n", .status = 1,
	  .err = "usage: virtio-mem plug|unplug ID OFFSET SIZE" },
	{ A("plan", SCRIPT), .in = "virtio-mem plug x 0 1Q\n", .status = 1, .err = "invalid size: 1Q" },
	{ A("plan", SCRIPT), .in = "virtio-mem unplug x 16E 2M\n", .status = 1,
	  .err = "invalid offset: 16E" },
	{ A("plan", SCRIPT), .in = "info\n", .status = 1,
	  .err = "usage: info memory-devices|memslots|accounting|mtree" },
	{ A("plan", SCRIPT), .in = "info bogus\n", .status = 1, .err = "unknown info item: bogus" },
	{ A("plan", SCRIPT), .in = "a b c d e f g h\n", .status = 1, .err = "/dev/stdin:1: too many arguments" },
	/* control characters from the input stay on one line, escaped */
	{ A("plan", SCRIPT), .in = "info mtree\n\x01\x02\xff\n", .status = 1,
	  .err = "/dev/stdin:2: unknown command: \\x01\\x02" },
	{ A("plan", SCRIPT), .in = "info \x1b[2J\n", .status = 1,
	  .err = "/dev/stdin:1: unknown info item: \\x1b[2J" },
	{ A("plan", SCRIPT), .in = "bogus\rinfo mtree\n", .status = 1,
	  .err = "/dev/stdin:1: unknown command: bogus" },
	{ A("plan", "-device", "pc-dimm\nx"), .status = 2,
	  .err = "plan: -device pc-dimm\\nx: 'pc-dimm\\nx' is not a valid device model name" },
	{ A("plan", "-M", "pc\r"), .status = 2, .err = "plan: -M pc\\r: unsupported machine type" },
	/* commands that fail when they run: the steps before are reported */
	{ A("plan", MACH, SCRIPT), .in = "device_del nope\n", .status = 1,
	  .err = "/dev/stdin:1: Device 'nope' not found", .out = "line 1: device_del nope",
	  .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "device_del /machine/peripheral/nope\n", .status = 1,
	  .err = "/dev/stdin:1: Device 'nope' not found", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "object_add memory-backend-ram,id=m1,size=1G\n", .status = 1,
	  .err = "attempt to add duplicate property 'm1' to object", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "object_add memory-backend-ram,id=m2\n", .status = 1,
	  .err = "/dev/stdin:1: Parameter 'size' is missing", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT),
	  .in = "device_add pc-dimm,memdev=m1,id=d1\ndevice_add pc-dimm,memdev=m1,id=d1\n",
	  .status = 1, .err = "/dev/stdin:2: Duplicate device ID 'd1'", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "device_add pc-dimm,memdev=nope\n", .status = 1,
	  .err = "/dev/stdin:1: Device 'nope' not found", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "device_add pc-dimm,memdev=m1,addr=0x1001\n", .status = 1,
	  .err = "/dev/stdin:1: address must be aligned to 0x200000 bytes", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "device_add pc-dimm,memdev=m1,id=d1\nqom-set d1 requested-size 2M\n",
	  .status = 1, .err = "/dev/stdin:2: Property 'pc-dimm.requested-size' not found", .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "device_add pc-dimm,memdev=m1,id=d1\nqom-set d1 addr 0\n",
	  .status = 1, .err = "Attempt to set property 'addr' on device 'd1' (type 'pc-dimm') after it was realized",
	  .flags = F_OUT },
	{ A("plan", MACH, SCRIPT), .in = "device_add pc-dimm,memdev=m1,id=d1\nvirtio-mem plug d1 0 2M\n",
	  .status = 1, .err = "device 'd1' is not a virtio-mem device (type 'pc-dimm')", .flags = F_OUT },
	{ A("plan", VMEM("id=v"), SCRIPT), .in = "qom-set v requested-size 3M\n", .status = 1,
	  .err = "/dev/stdin:1: 'requested-size' has to be multiples of 'block-size' (0x200000)",
	  .flags = F_OUT },
	{ A("plan", VMEM("id=v"), SCRIPT), .in = "qom-set v requested-size 2G\n", .status = 1,
	  .err = "'requested-size' cannot exceed the memory backend size(0x40000000)", .flags = F_OUT },
	{ A("plan", VMEM("id=v"), SCRIPT), .in = "qom-set v requested-size 1Q\n", .status = 1,
	  .err = "Parameter 'requested-size' expects size", .flags = F_OUT },
	{ A("plan", VMEM("id=v"), SCRIPT), .in = "qom-set v block-size 4M\n", .status = 1,
	  .err = "/dev/stdin:1: 'block-size' cannot be changed", .flags = F_OUT },
	{ A("plan", VMEM("id=v"), SCRIPT), .in = "virtio-mem plug v 0 2M\n", .status = 1,
	  .err = "virtio-mem 'v': plug request [0x0:0x200000] answered ERROR", .flags = F_OUT },
	{ A("plan", VMEM("id=v,requested-size=1G"), SCRIPT), .in = "virtio-mem plug v 1G 2M\n",
	  .status = 1, .err = "plug request [0x40000000:0x200000] answered ERROR", .flags = F_OUT },
	{ A("plan", VMEM("id=v,requested-size=1G"), SCRIPT), .in = "virtio-mem plug v 1M 2M\n",
	  .status = 1, .err = "plug request [0x100000:0x200000] answered ERROR", .flags = F_OUT },
	{ A("plan", VMEM("id=v,requested-size=1G"), SCRIPT),
	  .in = "virtio-mem unplug v 18446744073709549568 4096\n", .status = 1,
	  .err = "unplug request [0xfffffffffffff800:0x1000] answered ERROR", .flags = F_OUT },
	{ A("plan", VMEM("id=v"), SCRIPT), .in = "virtio-mem unplug-all nope\n", .status = 1,
	  .err = "/dev/stdin:1: Device 'nope' not found", .flags = F_OUT },

	/* --- run: option errors, all before any VM ------------------------------- */
	{ A("run", "-x"), .status = 2, .err = "run: unknown option: -x" },
	{ A("run", "extra"), .status = 2, .err = "run: unexpected argument: extra" },
	{ A("run", "--vhost-limit", "8"), .status = 2, .err = "run: unknown option: --vhost-limit" },
	{ A("run", "--kvm-memslots", "8"), .status = 2, .err = "run: unknown option: --kvm-memslots" },
	{ A("run", "--cpu", "-1"), .status = 2, .err = "run: invalid CPU number: -1" },
	{ A("run", "--cpu", "abc"), .status = 2, .err = "run: invalid CPU number: abc" },
	{ A("run", "--cpu", "99999"), .status = 2, .err = "run: invalid CPU number: 99999" },
	{ A("run", "--cpu", "18446744073709551616"), .status = 2,
	  .err = "invalid CPU number: 18446744073709551616" },
	{ A(RUN, "--cpu", "01024"), .status = 2, .err = "invalid CPU number: 01024" },
	{ A(RUN, "--cpu", "0x400"), .status = 2, .err = "invalid CPU number: 0x400" },
	{ A("run", "--cpu", ""), .status = 2, .err = "run: invalid CPU number: " },
	{ A("run", "--cpu"), .status = 2, .err = "run: missing argument of option: --cpu" },
	{ A("run", "--dirty-log=1"), .status = 2, .err = "run: option takes no argument: --dirty-log=1" },
	{ A("run", "--no-vm=yes"), .status = 2, .err = "option takes no argument: --no-vm=yes" },
	{ A("run", "-M", "pc,accel=tcg"), .status = 2, .err = "run: accel=tcg: the guest runs under KVM" },
	{ A("run", "--kernel", "x", "--no-vm"), .status = 2, .err = "run: --kernel x: not with --no-vm" },
	{ A("run", "--kernel", ""), .status = 2, .err = "run: --kernel: empty argument" },
	{ A("run", "--modules", "@/"), .status = 2, .err = "--modules @/: only with --kernel PATH" },
	{ A("run", "--modules", "@/", "--kernel", "debian-6.1"), .status = 2,
	  .err = "only with --kernel PATH, not debian-6.1" },
	{ A("run", "--kernel", "@/nonexistent-bzImage"), .status = 1,
	  .err = "run: --kernel @/nonexistent-bzImage: No such file or directory" },
	{ A(RUN, "-m", "1Q"), .status = 2, .err = "run: -m 1Q: Parameter 'size' expects" },
	{ A(RUN, "-m", "1G", "-device", "foo"), .status = 2, .err = "'foo' is not a valid device model name" },
	{ A(RUN, "-m", "1G", "-object", "memory-backend-ram,id=m1"), .status = 2,
	  .err = "run: -object memory-backend-ram,id=m1: Parameter 'size' is missing" },
	{ A(RUN, "--script", "@/nonexistent.scn"), .status = 1,
	  .err = "run: @/nonexistent.scn: No such file or directory" },
	{ A(RUN, "--script", "@/"), .status = 1, .err = "run: @/: Is a directory" },
	{ A(RUN, "--script", "/dev/zero"), .status = 1, .err = "/dev/zero: larger than 64 MiB" },
	{ A(RUN, "--script", ""), .status = 2, .err = "run: --script: empty argument" },
	{ A(RUN, SCRIPT), .in = "virtio-mem plug\n", .status = 1,
	  .err = "run: /dev/stdin:1: usage: virtio-mem plug ID OFFSET SIZE" },
	{ A(RUN), .env = "MEMSLOT_KVM_FAULT=abc", .status = 1,
	  .err = "run: cannot create a KVM VM: MEMSLOT_KVM_FAULT: bad value: abc (want N:ERRNO)" },
	{ A(RUN), .env = "MEMSLOT_KVM_FAULT=1:EBOGUS", .status = 1,
	  .err = "MEMSLOT_KVM_FAULT: bad value: 1:EBOGUS" },

	/* --- mtree --------------------------------------------------------------- */
	{ A("mtree", "-x"), .status = 2, .err = "mtree: unknown option: -x" },
	{ A("mtree", "--bogus"), .status = 2, .err = "mtree: unknown option: --bogus" },
	{ A("mtree", "--flat=1"), .status = 2, .err = "mtree: option takes no argument: --flat=1" },
	{ A("mtree", "--memslots=yes", "--import", "@/tree.txt"), .status = 2,
	  .err = "mtree: option takes no argument: --memslots=yes" },
	{ A("mtree", "-fz"), .status = 2, .err = "mtree: unknown option: -z" },
	{ A("mtree", "extra"), .status = 2, .err = "mtree: unexpected argument: extra" },
	{ A("mtree", "--import"), .status = 2, .err = "mtree: missing argument of option: --import" },
	{ A("mtree", "--check-flat", "x"), .status = 2, .err = "mtree: option needs --import: --check-flat" },
	{ A("mtree", "--memslots"), .status = 2, .err = "mtree: option needs --import: --memslots" },
	{ A("mtree", "--import", ""), .status = 2, .err = "mtree: --import: empty argument" },
	{ A("mtree", "--import="), .status = 2, .err = "mtree: --import: empty argument" },
	{ A("mtree", "--import", "@/empty.txt", "--check-flat="), .status = 2,
	  .err = "mtree: --check-flat: empty argument" },
	{ A("mtree", "--import", "@/nonexistent.txt"), .status = 1,
	  .err = "mtree: @/nonexistent.txt: No such file or directory" },
	{ A("mtree", "--import", "@/"), .status = 1, .err = "mtree: @/: Is a directory" },
	{ A("mtree", "--import", "/dev/zero"), .status = 1,
	  .err = "mtree: /dev/zero: larger than 64 MiB, not an input of memslot" },
	{ A("mtree", "--import", "@/huge.txt"), .status = 1, .err = "@/huge.txt: larger than 64 MiB" },
	{ A("mtree", "--import", "/dev/null"), .status = 1,
	  .err = "/dev/null: line 1: expected \"address-space: <name>\"" },
	{ A("mtree", "--import", "@/empty.txt"), .status = 1, .err = "@/empty.txt: line 1: expected" },
	{ A("mtree", "--import", "@/header-only.txt"), .status = 1,
	  .err = "@/header-only.txt: line 1: unexpected end of file" },
	{ A("mtree", "--import", "@/no-header.txt"), .status = 1,
	  .err = "@/no-header.txt: line 1: expected \"address-space: <name>\"" },
	{ A("mtree", "--import", "@/trunc-half.txt"), .status = 1, .err = "@/trunc-half.txt: line " },
	{ A("mtree", "--import", "@/trunc-midline.txt"), .status = 1,
	  .err = "@/trunc-midline.txt: line 54: expected <start>-<end> of 16 hex digits each" },
	{ A("mtree", "--import", "@/trunc-noblank.txt"), .status = 1,
	  .err = "unexpected end of file: expected an empty line closing the section" },
	{ A("mtree", "--import", "@/concat.txt"), .status = 1,
	  .err = "a second address space \"memory\" (two dumps in one file?)" },
	{ A("mtree", "--import", "@/concat-same.txt"), .status = 1, .err = "a second address space" },
	{ A("mtree", "--import", "@/corrupt-hex.txt"), .status = 1,
	  .err = "@/corrupt-hex.txt: line 54: expected <start>-<end> of 16 hex digits each: "
		 "000000000000g000-ffffffffffffffff (prio 0, i/o): system" },
	{ A("mtree", "--import", "@/corrupt-prio.txt"), .status = 1,
	  .err = "@/corrupt-prio.txt: line 54: expected a 32-bit priority: x, i/o): system" },
	{ A("mtree", "--import", "@/corrupt-type.txt"), .status = 1,
	  .err = "@/corrupt-type.txt: line 54: unknown region type: flash): system" },
	/* known bug, reported: an end below the start is taken (and prints "[DETECTED OVERFLOW!]") */
	{ A("mtree", "--import", "@/corrupt-endlt.txt"), .status = 1,
	  .err = "@/corrupt-endlt.txt: line 54: end below start" },
	{ A("mtree", "--import", "@/corrupt-indent.txt"), .status = 1, .err = "@/corrupt-indent.txt: line " },
	{ A("mtree", "--import", "@/corrupt-alias.txt"), .status = 1, .err = "@/corrupt-alias.txt: " },
	{ A("mtree", "--import", "@/binary.bin"), .status = 1, .err = "@/binary.bin: line 3: unexpected NUL byte" },
	{ A("mtree", "--import", "@/binary-nonul.bin"), .status = 1, .err = "@/binary-nonul.bin: line 1: " },
	{ A("mtree", "--import", "@/deep.txt"), .status = 1, .err = "@/deep.txt: line 257: region nesting too deep" },
	{ A("mtree", "--import", "@/deep.txt", "-f"), .status = 1, .err = "region nesting too deep" },
	{ A("mtree", "--import", "@/longline.txt"), .status = 1, .err = "@/longline.txt: line 2: " },
	{ A("mtree", "--import", "@/escape.txt"), .status = 1,
	  .err = "@/escape.txt: line 3: expected <start>-<end> of 16 hex digits each: \\x1b[31mred" },
	{ A("mtree", "--import", "@/flat.txt"), .status = 1, .err = "@/flat.txt: line 1: " },
	{ A("mtree", "--import", "@/nomemory.txt", "--memslots"), .status = 1,
	  .err = "no address space \"memory\": not a whole info mtree dump" },
	{ A("mtree", "--import", "@/tree.txt", "--check-flat", "@/nonexistent.txt"), .status = 1,
	  .err = "mtree: @/nonexistent.txt: No such file or directory" },
	{ A("mtree", "--import", "@/tree.txt", "--check-flat", "/dev/zero"), .status = 1,
	  .err = "/dev/zero: larger than 64 MiB" },
	{ A("mtree", "--import", "@/tree.txt", "--check-flat", "@/binary.bin"), .status = 1,
	  .err = "mtree: @/binary.bin: line 3: unexpected NUL byte" },
	{ A("mtree", "--import", "@/tree.txt", "--check-flat", "@/tree.txt"), .status = 1,
	  .err = "mtree: @/tree.txt: line 1: expected \"FlatView #<n>\": address-space: i440FX" },
	{ A("mtree", "--import", "@/tree.txt", "--check-flat", "@/flat-trunc.txt"), .status = 1,
	  .err = "@/flat-trunc.txt: line " },

	/* --- trace, census, verify: option errors -------------------------------- */
	{ A("trace", "-p", "0"), .status = 2, .err = "trace: invalid process id: 0" },
	{ A("trace", "-p", "-1"), .status = 2, .err = "trace: invalid process id: -1" },
	{ A("trace", "-p", "abc"), .status = 2, .err = "trace: invalid process id: abc" },
	{ A("trace", "-p", "2147483648"), .status = 2, .err = "invalid process id: 2147483648" },
	{ A("trace", "-p", ""), .status = 2, .err = "trace: invalid process id: " },
	{ A("trace", "--duration", "-1"), .status = 2, .err = "trace: invalid duration: -1" },
	{ A("trace", "--duration", "1e99"), .status = 2, .err = "trace: invalid duration: 1e99" },
	{ A("trace", "--duration", "0"), .status = 2, .err = "trace: invalid duration: 0" },
	{ A("trace", "--duration", "1.5"), .status = 2, .err = "trace: invalid duration: 1.5" },
	{ A("trace", "--duration", "18446744073709551616"), .status = 2,
	  .err = "invalid duration: 18446744073709551616" },
	{ A("trace", "--duration", "18446744073709551615", "--count", "1"), .status = 2,
	  .err = "trace: options exclude each other: --duration, --count" },
	{ A("trace", "--count", "0"), .status = 2, .err = "trace: invalid count: 0" },
	{ A("trace", "--count", "-3"), .status = 2, .err = "trace: invalid count: -3" },
	{ A("trace", "--vm", "0"), .status = 2, .err = "trace: invalid VM id: 0" },
	{ A("trace", "--vm", "xyz"), .status = 2, .err = "trace: invalid VM id: xyz" },
	{ A("trace", "--attach", "bogus"), .status = 2, .err = "trace: invalid attach point: bogus" },
	{ A("trace", "--attach", "fentry/bogus_fn"), .status = 2,
	  .err = "invalid attach point: fentry/bogus_fn" },
	{ A("trace", "-x"), .status = 2, .err = "trace: unknown option: -x" },
	{ A("trace", "--duration"), .status = 2, .err = "trace: missing argument of option: --duration" },
	{ A("trace", "extra"), .status = 2, .err = "trace: unexpected argument: extra" },
	{ A("trace", "--latency=1"), .status = 2, .err = "trace: option takes no argument: --latency=1" },
	{ A("trace", "--bogus"), .status = 2, .err = "trace: unknown option: --bogus" },
	/* memslot's own numbers are decimal: "010" seconds is ten, "08" no malformed octal */
	{ A("trace", "--duration", "08", "--count", "1"), .status = 2,
	  .err = "trace: options exclude each other: --duration, --count" },
	{ A("trace", "--count", "09", "extra"), .status = 2, .err = "trace: unexpected argument: extra" },
	{ A("trace", "--duration", "1"), .status = 1, .err = "trace: missing capabilities: CAP_BPF and CAP_PERFMON",
	  .flags = F_NOCAPS },
	/* known bug, reported: trace follows a process that does not exist (census refuses it) */
	{ A("trace", "-p", "99999999", "--duration", "1"), .status = 1,
	  .err = "trace: no such process: 99999999" },
	{ A("census", "-p", "0"), .status = 2, .err = "census: invalid process id: 0" },
	{ A("census", "-p", "-1"), .status = 2, .err = "census: invalid process id: -1" },
	{ A("census", "-p", "abc"), .status = 2, .err = "census: invalid process id: abc" },
	{ A("census", "-p", "0x10"), .status = 2, .err = "census: invalid process id: 0x10" },
	{ A("census", "-p", "99999999"), .status = 1, .err = "census: no such process: 99999999" },
	{ A("census", "-p", "099999999"), .status = 1, .err = "census: no such process: 99999999" },
	{ A("census", "-x"), .status = 2, .err = "census: unknown option: -x" },
	{ A("census", "extra"), .status = 2, .err = "census: unexpected argument: extra" },
	{ A("census", "-p"), .status = 2, .err = "census: missing argument of option: -p" },
	{ A("census"), .status = 1, .err = "census: missing capabilities: CAP_BPF and CAP_PERFMON",
	  .flags = F_NOCAPS },
	{ A("verify"), .status = 2, .err = "verify: missing option: -p" },
	{ A("verify", "-p", "1"), .status = 2, .err = "verify: missing option: --expect" },
	{ A("verify", "--expect", "@/plan.json"), .status = 2, .err = "verify: missing option: -p" },
	{ A("verify", "-p", "abc", "--expect", "@/plan.json"), .status = 2,
	  .err = "verify: invalid process id: abc" },
	{ A("verify", "-p", "1", "--expect", "@/nonexistent.json"), .status = 1,
	  .err = "verify: @/nonexistent.json: No such file or directory" },
	{ A("verify", "-p", "1", "--expect", "@/"), .status = 1, .err = "verify: @/: Is a directory" },
	{ A("verify", "-p", "1", "--expect", "/dev/zero"), .status = 1,
	  .err = "verify: /dev/zero: larger than 64 MiB" },
	{ A("verify", "-p", "1", "--expect", "@/empty.txt"), .status = 1,
	  .err = "@/empty.txt: empty or incomplete JSON (byte 0)" },
	{ A("verify", "-p", "1", "--expect", "@/trunc.json"), .status = 1,
	  .err = "@/trunc.json: empty or incomplete JSON" },
	{ A("verify", "-p", "1", "--expect", "@/two.json"), .status = 1,
	  .err = "@/two.json: text after the JSON document" },
	{ A("verify", "-p", "1", "--expect", "@/binary.bin"), .status = 1, .err = "verify: @/binary.bin: " },
	{ A("verify", "-p", "1", "--expect", "@/nomemslots.json"), .status = 1,
	  .err = "verify: no memslot table in JSON file: @/nomemslots.json" },
	{ A("verify", "-p", "99999999", "--expect", "@/plan.json"), .status = 1,
	  .err = "verify: no such process: 99999999" },
	{ A("verify", "-p", "1", "--expect", "@/plan.json"), .status = 1,
	  .err = "verify: missing capabilities: CAP_BPF and CAP_PERFMON", .flags = F_NOCAPS },
	{ A("verify", "-x"), .status = 2, .err = "verify: unknown option: -x" },
	{ A("verify", "-p", "1", "--expect", ""), .status = 2, .err = "verify: --expect: empty argument" },
	{ A("verify", "-p", "1", "--expect="), .status = 2, .err = "verify: --expect: empty argument" },
	{ A("verify", "-p", "1", "--expect", "@/plan.json", "extra"), .status = 2,
	  .err = "verify: unexpected argument: extra" },
};

#define NR_ROWS (sizeof(rows) / sizeof(rows[0]))

/* --- input files ----------------------------------------------------------- */

FIXTURE(badinput) {
	char dir[PATH_MAX];	/* the input files */
	char cwd[PATH_MAX + 8];	/* the tool's working directory, stays empty */
	char tool[PATH_MAX];
};

static void write_file(struct __test_metadata *_metadata, const char *dir, const char *name,
		       const char *data, size_t len)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(len, fwrite(data, 1, len, f));
	ASSERT_EQ(0, fclose(f));
}

#define WRITE_STR(name, s) write_file(_metadata, self->dir, (name), (s), strlen(s))

/* @text with the first occurrence of @from replaced by @to (malloc()ed). */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	char *out;

	if (!p)
		return NULL;
	if (asprintf(&out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from)) < 0)
		return NULL;
	return out;
}

/* Offset of the start of line @n (1-based) of @text. */
static size_t line_start(const char *text, int n)
{
	const char *p = text;

	while (--n > 0 && (p = strchr(p, '\n')))
		p++;
	return p ? (size_t)(p - text) : strlen(text);
}

static void make_inputs(struct __test_metadata *_metadata, FIXTURE_DATA(badinput) *self)
{
	char path[PATH_MAX * 2], *pc, *q35, *flat, *s, *buf;
	size_t len, off, cap, n;
	uint32_t x = 12345;
	int fd;

	snprintf(path, sizeof(path), "%s/pc-256m-stopped.mtree.txt", samples_dir());
	pc = slurp(path);
	ASSERT_NE(NULL, pc) TH_LOG("%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/q35-1g-stopped.mtree.txt", samples_dir());
	q35 = slurp(path);
	ASSERT_NE(NULL, q35) TH_LOG("%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/pc-256m-stopped.mtree_f.txt", samples_dir());
	flat = slurp(path);
	ASSERT_NE(NULL, flat) TH_LOG("%s: %s", path, strerror(errno));
	len = strlen(pc);

	WRITE_STR("tree.txt", pc);
	WRITE_STR("flat.txt", flat);
	WRITE_STR("empty.txt", "");
	WRITE_STR("header-only.txt", "address-space: memory\n");
	WRITE_STR("no-header.txt", pc + line_start(pc, 2));
	write_file(_metadata, self->dir, "trunc-half.txt", pc, len / 2);
	/* line 54 cut after 25 characters, in the middle of its range */
	write_file(_metadata, self->dir, "trunc-midline.txt", pc, line_start(pc, 54) + 25);
	/* whole lines, but not the empty line that closes the first section */
	write_file(_metadata, self->dir, "trunc-noblank.txt", pc, line_start(pc, 10));
	write_file(_metadata, self->dir, "flat-trunc.txt", flat, line_start(flat, 7) + 30);
	ASSERT_LE(0, asprintf(&s, "%s%s", pc, q35));
	WRITE_STR("concat.txt", s);
	free(s);
	ASSERT_LE(0, asprintf(&s, "%s%s", pc, pc));
	WRITE_STR("concat-same.txt", s);
	free(s);

	/* corruptions of line 2, "  0000000000000000-ffffffffffffffff (prio 0, i/o): system" */
	s = replace(pc, "0000000000000000-ffffffffffffffff (prio 0, i/o): system",
		    "000000000000g000-ffffffffffffffff (prio 0, i/o): system");
	ASSERT_NE(NULL, s);
	WRITE_STR("corrupt-hex.txt", s);
	free(s);
	s = replace(pc, "0000000000000000-ffffffffffffffff (prio 0, i/o): system",
		    "0000000000000000-ffffffffffffffff (prio x, i/o): system");
	ASSERT_NE(NULL, s);
	WRITE_STR("corrupt-prio.txt", s);
	free(s);
	s = replace(pc, "0000000000000000-ffffffffffffffff (prio 0, i/o): system",
		    "0000000000000000-ffffffffffffffff (prio 0, flash): system");
	ASSERT_NE(NULL, s);
	WRITE_STR("corrupt-type.txt", s);
	free(s);
	s = replace(pc, "0000000000000000-ffffffffffffffff (prio 0, i/o): system",
		    "ffffffffffffffff-0000000000000000 (prio 0, i/o): system");
	ASSERT_NE(NULL, s);
	WRITE_STR("corrupt-endlt.txt", s);
	free(s);
	/* line 3 indented by one level too many */
	ASSERT_LE(0, asprintf(&s, "%.*s    %s", (int)line_start(pc, 3), pc, pc + line_start(pc, 3)));
	WRITE_STR("corrupt-indent.txt", s);
	free(s);
	s = replace(pc, "alias ram-below-4g @pc.ram", "alias ram-below-4g @no-such-region");
	ASSERT_NE(NULL, s) TH_LOG("no ram-below-4g alias in the pc sample");
	WRITE_STR("corrupt-alias.txt", s);
	free(s);
	/* the section of "I/O" alone (lines 4 to 48 and the empty line) */
	ASSERT_EQ(0, strncmp(pc + line_start(pc, 4), "address-space: I/O\n", 19));
	write_file(_metadata, self->dir, "nomemory.txt", pc + line_start(pc, 4),
		   line_start(pc, 49) - line_start(pc, 4));

	/* binary: pseudo-random bytes with NULs, and high bytes without */
	buf = malloc(8192);
	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < 8192; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (char)(x >> 16);
	}
	write_file(_metadata, self->dir, "binary.bin", buf, 8192);
	for (size_t i = 0; i < 8192; i++)
		buf[i] = (char)(0x80 | (buf[i] & 0x7f));
	write_file(_metadata, self->dir, "binary-nonul.bin", buf, 8192);
	free(buf);

	/* a terminal escape sequence where a range line should be */
	WRITE_STR("escape.txt", "address-space: memory\n"
		  "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		  "    \x1b[31mred\n\n");

	/* one line of 1 MiB */
	cap = (1 << 20) + 64;
	buf = malloc(cap);
	ASSERT_NE(NULL, buf);
	off = (size_t)sprintf(buf, "address-space: memory\n  ");
	memset(buf + off, 'a', cap - off - 2);
	buf[cap - 2] = '\n';
	buf[cap - 1] = '\n';
	write_file(_metadata, self->dir, "longline.txt", buf, cap);
	free(buf);

	/* 300 nested containers: deeper than the import's limit of 256 */
	cap = 300 * 700;
	buf = malloc(cap);
	ASSERT_NE(NULL, buf);
	off = (size_t)sprintf(buf, "address-space: memory\n");
	for (int d = 1; d <= 300; d++) {
		n = (size_t)sprintf(buf + off, "%*s0000000000000000-ffffffffffffffff (prio 0, i/o): c%d\n",
				    2 * d, "", d);
		off += n;
	}
	buf[off++] = '\n';
	write_file(_metadata, self->dir, "deep.txt", buf, off);
	free(buf);

	/* larger than read_file()'s cap, sparse */
	snprintf(path, sizeof(path), "%s/huge.txt", self->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, (off_t)65 << 20));
	close(fd);

	/* JSON tables for verify */
	WRITE_STR("plan.json", "{\"memslots\": [{\"slot\": 0, \"as\": 0, \"gpa\": 0, "
		  "\"size\": 655360, \"flags\": 0}]}\n");
	WRITE_STR("trunc.json", "{\"memslots\": [{\"slot\": 0, \"as\"");
	WRITE_STR("two.json", "[] []\n");
	WRITE_STR("nomemslots.json", "{\"machine\": {}}\n");

	free(pc);
	free(q35);
	free(flat);
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX * 2];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

FIXTURE_SETUP(badinput)
{
	const char *tmp = getenv("TMPDIR");

	ASSERT_NE(NULL, realpath(cli_tool_path(), self->tool))
		TH_LOG("%s: %s", cli_tool_path(), strerror(errno));
	snprintf(self->dir, sizeof(self->dir), "%s/memslot-badinput.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->cwd, sizeof(self->cwd), "%s/cwd", self->dir);
	ASSERT_EQ(0, mkdir(self->cwd, 0755));
	make_inputs(_metadata, self);
}

FIXTURE_TEARDOWN(badinput)
{
	if (self->dir[0])
		remove_tree(self->dir);
}

/* --- running a row ---------------------------------------------------------- */

struct result {
	int status;		/* exit status, 128 + signal, or -1 after the timeout */
	char *out;
	char *err;
	double secs;
};

/* @s with every "@/" made "<dir>/" (malloc()ed). */
static char *expand(const char *s, const char *dir)
{
	size_t n = 1, dlen = strlen(dir);
	char *r, *o;

	if (!s)
		return NULL;
	for (const char *p = s; *p; p++)
		n += !strncmp(p, "@/", 2) ? dlen + 1 : 1;
	r = o = malloc(n);
	if (!r)
		return NULL;
	while (*s) {
		if (!strncmp(s, "@/", 2)) {
			memcpy(o, dir, dlen);
			o += dlen;
			*o++ = '/';
			s += 2;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return r;
}

/* In the child: no tracing capabilities, for all that it execs. */
static void drop_bpf_caps(void)
{
	static const int caps[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN };

	/* without CAP_SETPCAP (not root) there is nothing to drop */
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0);
}

/*
 * Run the tool with @argv (argv[0] set here) in @cwd; kill it after
 * ROW_TIMEOUT_S. Return: 0, or -1 if the run could not be set up.
 */
static int run_row(const char *tool, const char *cwd, char **argv, const struct row *row,
		   struct result *res)
{
	int out = memfd_create("out", MFD_CLOEXEC), err = memfd_create("err", MFD_CLOEXEC);
	int in = -1, st, ret = -1;
	struct timespec t0, t;
	pid_t pid, w;

	memset(res, 0, sizeof(*res));
	if (out < 0 || err < 0)
		goto close_fds;
	if (row->in) {
		size_t len = strlen(row->in);

		in = memfd_create("in", MFD_CLOEXEC);
		if (in < 0 || write(in, row->in, len) != (ssize_t)len || lseek(in, 0, SEEK_SET))
			goto close_fds;
	}
	argv[0] = (char *)tool;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		goto close_fds;
	if (pid == 0) {
		if (in < 0)
			in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || chdir(cwd))
			_exit(126);
		setenv("MEMSLOT_VMTEST_RUNNER", "/nonexistent/memslot-vmtest", 1);
		unsetenv("MEMSLOT_KVM_FAULT");
		if (row->env)
			putenv((char *)row->env);
		if (row->flags & F_NOCAPS)
			drop_bpf_caps();
		execv(tool, argv);
		_exit(127);
	}
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (w < 0 || t.tv_sec - t0.tv_sec >= ROW_TIMEOUT_S) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			st = -1;
			break;
		}
		usleep(1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	res->secs = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
	res->status = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	res->out = slurp_fd(out);
	res->err = slurp_fd(err);
	ret = res->out && res->err ? 0 : -1;
close_fds:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return ret;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* The command a row runs: its first argument that is no global option. */
static const char *row_cmd(const struct row *row)
{
	for (size_t i = 0; row->args[i]; i++)
		if (row->args[i][0] != '-')
			return row->args[i];
	return NULL;
}

static const char *const commands[] = { "help", "mtree", "plan", "run", "trace", "census",
					"verify" };

static bool is_command(const char *s)
{
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(s, commands[c]))
			return true;
	return false;
}

static void describe(char *buf, size_t len, char **argv)
{
	size_t n = (size_t)snprintf(buf, len, "memslot");

	for (size_t i = 1; argv[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, " '%s'", argv[i]);
}

/*
 * Check one run of @row; @json: run with -j. Return: NULL if it passed,
 * else what was wrong (static storage).
 */
static const char *check_row(const struct row *row, const struct result *r, const char *err,
			     const char *out, bool json)
{
	static char why[1024];
	const char *cmd = row_cmd(row), *nl;
	char prefix[64];

	if (r->status == -1) {
		snprintf(why, sizeof(why), "no exit within %d s", ROW_TIMEOUT_S);
		return why;
	}
	if (r->status != row->status) {
		snprintf(why, sizeof(why), "exit status %d, expected %d", r->status, row->status);
		return why;
	}
	if (!row->err) {
		struct json_object *doc;

		if (out && !strstr(r->out, out) && !json)
			return "stdout lacks the expected text";
		if (json) {
			doc = parse_one(r->out);
			if (!doc)
				return "stdout is not one JSON document";
			json_object_put(doc);
		}
		return NULL;
	}

	if (json) {
		struct json_object *doc = NULL, *e;
		const char *msg = NULL;

		if (r->out[0]) {
			doc = parse_one(r->out);
			if (!doc)
				return "stdout is not one JSON document";
			e = jget(doc, "error");
			msg = e && json_object_is_type(e, json_type_string) ?
				json_object_get_string(e) : NULL;
		}
		/* "memslot: plan: x" on stderr is "plan: x" in JSON */
		if (!(msg && strstr(msg, !strncmp(err, "memslot: ", 9) ? err + 9 : err)) &&
		    !strstr(r->err, err)) {
			json_object_put(doc);
			return "the error is neither in the JSON \"error\" nor on stderr";
		}
		if (!msg && !(row->flags & F_OUT) && r->out[0]) {
			json_object_put(doc);
			return "a JSON document without \"error\"";
		}
		json_object_put(doc);
		return NULL;
	}

	if (r->out[0] && !(row->flags & F_OUT))
		return "output on stdout";
	if (out && !strstr(r->out, out))
		return "stdout lacks the expected text";
	if (!strstr(r->err, err))
		return "stderr lacks the expected error";
	if (row->flags & F_USAGE)
		return NULL;
	/* exactly one line: "memslot: <cmd>: ..." */
	nl = strchr(r->err, '\n');
	if (!nl || nl[1])
		return "stderr is not exactly one line";
	if (cmd && cmd == row->args[0] && is_command(cmd))
		snprintf(prefix, sizeof(prefix), "memslot: %s: ", cmd);
	else
		snprintf(prefix, sizeof(prefix), "memslot: ");
	if (strncmp(r->err, prefix, strlen(prefix))) {
		snprintf(why, sizeof(why), "stderr does not start with \"%s\"", prefix);
		return why;
	}
	return NULL;
}

/* Run every row, as written or with -j; Return: the number of failed rows. */
static int run_catalogue(struct __test_metadata *_metadata, FIXTURE_DATA(badinput) *self,
			 bool json)
{
	int failed = 0;

	for (size_t i = 0; i < NR_ROWS; i++) {
		const struct row *row = &rows[i];
		char *argv[MAX_ARGS + 3] = { NULL }, *err, *out, desc[2048];
		const char *why;
		struct result r;
		size_t n = 1;

		if (json)
			argv[n++] = strdup("-j");
		for (size_t k = 0; row->args[k]; k++)
			argv[n++] = expand(row->args[k], self->dir);
		err = expand(row->err, self->dir);
		out = expand(row->out, self->dir);
		describe(desc, sizeof(desc), argv);

		if (run_row(self->tool, self->cwd, argv, row, &r)) {
			why = "cannot run it";
		} else {
			why = check_row(row, &r, err, out, json);
			if (!why && dir_entries(self->cwd) != 0)
				why = "it left a file in its working directory";
		}
		if (getenv("BADINPUT_TIMES"))
			printf("# %.3f s: %s\n", r.secs, desc);
		if (!why && r.secs > ROW_SLOW_S)
			why = "slow";
		if (row->flags & F_XFAIL) {
			/* a known bug: its row must fail until the bug is fixed */
			if (why)
				TH_LOG("row %zu: %s: known bug: %s", i, desc, why);
			why = why ? NULL : "passes: a known bug was fixed, drop F_XFAIL from its row";
		}
		if (why) {
			failed++;
			TH_LOG("row %zu: %s: %s", i, desc, why);
			TH_LOG("  expected status %d, \"%s\"; got %d", row->status,
			       err ? err : out ? out : "", r.status);
			TH_LOG("  stdout: %.300s", r.out ? r.out : "");
			TH_LOG("  stderr: %.300s", r.err ? r.err : "");
		}
		result_free(&r);
		for (size_t k = 1; k < n; k++)
			free(argv[k]);
		free(err);
		free(out);
	}
	return failed;
}

/* The catalogue covers every command with enough rows. */
TEST(catalogue_size)
{
	EXPECT_LE(150, (int)NR_ROWS);
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		int n = 0;

		for (size_t i = 0; i < NR_ROWS; i++) {
			const char *cmd = row_cmd(&rows[i]);

			n += cmd && !strcmp(cmd, commands[c]);
		}
		EXPECT_LE(1, n) TH_LOG("no row for %s", commands[c]);
	}
}

TEST_F_TIMEOUT(badinput, text, 600)
{
	EXPECT_EQ(0, run_catalogue(_metadata, self, false));
}

TEST_F_TIMEOUT(badinput, json, 600)
{
	EXPECT_EQ(0, run_catalogue(_metadata, self, true));
}

TEST_HARNESS_MAIN
