// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `memslot plan`: option parsing and usage errors (exit 2), QEMU's
 * configuration errors with their exact texts (exit 1; memory-devices.md
 * rules 4.5, 5.2, 5.3, 5.4, 5.5, 8.2, 8.4, 9.4), the text sections and the
 * `info memory-devices` lines checked against QEMU 7.2's own output, the
 * JSON document, script replay (steps, failing line), the KVM and vhost
 * memslot limits and virtio-mem's memslot decision (rules 7, 10.2).
 *
 * Expected values come from the specification, not from the tool: e.g.
 * "pc -m 1G,slots=2,maxmem=4G" has all RAM below 4 GiB, so device memory
 * starts at exactly 4 GiB (rule 4.4) and spans (4G - 1G) + 2 x 1G; the
 * error texts are QEMU's (rules quoted above, and QEMU 7.2 run on the same
 * options for the parsing errors).
 *
 * The tool is $MEMSLOT (default build/memslot); the QEMU 7.2 samples are
 * selftests/samples/qemu-7.2 (samples_dir(); $MEMSLOT_SAMPLES overrides).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "qmp.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)

/* A script in a temporary file; the caller unlinks and frees the path. */
static char *write_script(const char *text)
{
	char *path = strdup("/tmp/memslot-plan-script.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/* --- usage errors ------------------------------------------------------------- */

struct err_case {
	const char *args[24];
	int status;
	const char *line;	/* the whole stderr line */
};

static void check_cases(struct __test_metadata *_metadata, const struct err_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cli_result r;

		ASSERT_EQ(0, cli_run(&r, NULL, c[i].args));
		EXPECT_EQ(c[i].status, r.status) TH_LOG("case %zu (%s): %s", i, c[i].line, r.err);
		EXPECT_TRUE(has_line(r.err, c[i].line))
			TH_LOG("case %zu: expected \"%s\", got \"%s\"", i, c[i].line, r.err);
		EXPECT_STREQ("", r.out);
		cli_result_free(&r);
	}
}

TEST(usage_errors)
{
	static const struct err_case c[] = {
		{ { "plan", "--bogus" }, 2, "memslot: plan: unknown option: --bogus" },
		{ { "plan", "stray" }, 2, "memslot: plan: unexpected argument: stray" },
		{ { "plan", "-m" }, 2, "memslot: plan: missing argument of option: -m" },
		{ { "plan", "--script" }, 2, "memslot: plan: missing argument of option: --script" },
		{ { "plan", "-m", "foo" }, 2,
		  "memslot: plan: -m foo: Parameter 'size' expects a non-negative number below 2^64" },
		{ { "plan", "-m", "1.5" }, 2,
		  "memslot: plan: -m 1.5: Parameter 'size' expects a non-negative number below 2^64" },
		{ { "plan", "-m", "1G,slots=x" }, 2,
		  "memslot: plan: -m 1G,slots=x: Parameter 'slots' expects a number" },
		{ { "plan", "-m", "1G,foo=1" }, 2,
		  "memslot: plan: -m 1G,foo=1: Invalid parameter 'foo'" },
		{ { "plan", "-M", "virt" }, 2, "memslot: plan: -M virt: unsupported machine type" },
		{ { "plan", "-machine", "pc,foo=1" }, 2,
		  "memslot: plan: -machine pc,foo=1: Property 'pc-i440fx-7.2-machine.foo' not found" },
		{ { "plan", "-M", "q35,max-ram-below-4g=x" }, 2,
		  "memslot: plan: -M q35,max-ram-below-4g=x: Parameter 'max-ram-below-4g' expects size" },
		{ { "plan", "-object", "memory-backend-foo,id=m1,size=1G" }, 2,
		  "memslot: plan: -object memory-backend-foo,id=m1,size=1G: Parameter 'qom-type' does "
		  "not accept value 'memory-backend-foo'" },
		{ { "plan", "-object", "memory-backend-ram,size=1G" }, 2,
		  "memslot: plan: -object memory-backend-ram,size=1G: Parameter 'id' is missing" },
		{ { "plan", "-object", "memory-backend-ram,id=m1" }, 2,
		  "memslot: plan: -object memory-backend-ram,id=m1: Parameter 'size' is missing" },
		{ { "plan", "-object", "memory-backend-ram,id=m1,size=abc" }, 2,
		  "memslot: plan: -object memory-backend-ram,id=m1,size=abc: Parameter 'size' expects "
		  "a size value" },
		{ { "plan", "-object", "memory-backend-file,id=m1,size=1G" }, 2,
		  "memslot: plan: -object memory-backend-file,id=m1,size=1G: Parameter 'mem-path' is "
		  "missing" },
		{ { "plan", "-object", "memory-backend-ram,id=m1,size=1G,share=maybe" }, 2,
		  "memslot: plan: -object memory-backend-ram,id=m1,size=1G,share=maybe: Parameter "
		  "'share' expects 'on' or 'off'" },
		{ { "plan", "-device", "foo-dimm" }, 2,
		  "memslot: plan: -device foo-dimm: 'foo-dimm' is not a valid device model name" },
		{ { "plan", "-device", "pc-dimm,memdev=m1,foo=1" }, 2,
		  "memslot: plan: -device pc-dimm,memdev=m1,foo=1: Property 'pc-dimm.foo' not found" },
		{ { "plan", "-device", "pc-dimm,memdev=m1,memaddr=0" }, 2,
		  "memslot: plan: -device pc-dimm,memdev=m1,memaddr=0: Property 'pc-dimm.memaddr' not "
		  "found" },
		{ { "plan", "-device", "pc-dimm,memdev=m1,addr=zz" }, 2,
		  "memslot: plan: -device pc-dimm,memdev=m1,addr=zz: Parameter 'addr' expects integer" },
		{ { "plan", "-device", "pc-dimm,memdev=m1,slot=99999999999" }, 2,
		  "memslot: plan: -device pc-dimm,memdev=m1,slot=99999999999: Parameter 'slot' expects "
		  "int32_t" },
		{ { "plan", "-device", "pc-dimm,memdev=m1,id=1a" }, 2,
		  "memslot: plan: -device pc-dimm,memdev=m1,id=1a: Parameter 'id' expects an identifier" },
		{ { "plan", "-device", "virtio-mem-pci,memdev=m1,block-size=x" }, 2,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1,block-size=x: Parameter "
		  "'block-size' expects size" },
		{ { "plan", "-device", "virtio-mem-pci,memdev=m1,unplugged-inaccessible=maybe" }, 2,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1,unplugged-inaccessible=maybe: "
		  "Parameter 'unplugged-inaccessible' does not accept value 'maybe'" },
		{ { "plan", "--vhost-limit", "0" }, 2,
		  "memslot: plan: --vhost-limit 0: invalid memslot limit: 0" },
		{ { "plan", "--vhost-limit", "8,color=red" }, 2,
		  "memslot: plan: --vhost-limit 8,color=red: Invalid parameter 'color'" },
		{ { "plan", "--kvm-memslots", "many" }, 2,
		  "memslot: plan: invalid number of KVM memslots: many" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

TEST(usage_error_json)
{
	struct json_object *doc;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-m", "foo"));
	EXPECT_EQ(2, r.status);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not one JSON document: %s", r.out);
	EXPECT_STREQ("plan: -m foo: Parameter 'size' expects a non-negative number below 2^64",
		     json_object_get_string(jget(doc, "error")));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST(help)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "--vhost-limit"));
	EXPECT_NE(NULL, strstr(r.out, "--kvm-memslots"));
	EXPECT_NE(NULL, strstr(r.out, "--script"));
	cli_result_free(&r);
}

/* --- QEMU's configuration errors (exit 1) -------------------------------------- */

#define OBJ(id, size) "-object", "memory-backend-ram,id=" id ",size=" size

TEST(startup_errors)	/* rule 4.5 */
{
	static const struct err_case c[] = {
		{ { "plan", "-m", "1G,slots=300,maxmem=4G" }, 1,
		  "memslot: plan: unsupported amount of memory slots: 300" },
		{ { "plan", "-m", "2G,slots=1,maxmem=1G" }, 1,
		  "memslot: plan: invalid value of maxmem: maximum memory size (0x40000000) must be "
		  "at least the initial memory size (0x80000000)" },
		{ { "plan", "-m", "1G,slots=2,maxmem=1G" }, 1,
		  "memslot: plan: invalid value of maxmem: memory slots were specified but maximum "
		  "memory size (0x40000000) is equal to the initial memory size (0x40000000)" },
		{ { "plan", "-m", "1G,slots=2" }, 1,
		  "memslot: plan: slots specified but no max-size" },
		{ { "plan", "-m", "1G,slots=0" }, 1,
		  "memslot: plan: slots specified but no max-size" },
		{ { "plan", "-m", "1G,slots=1,maxmem=0x100000800" }, 1,
		  "memslot: plan: maximum memory size must by aligned to multiple of 4096 bytes" },
		{ { "plan", "-m", "1G,slots=1,maxmem=0xfffffffffffff000" }, 1,
		  "memslot: plan: unsupported amount of maximum memory: fffffffffffff000" },
		{ { "plan", "-m", "1G,maxmem=4G", OBJ("m1", "1G"), OBJ("m1", "1G") }, 1,
		  "memslot: plan: -object memory-backend-ram,id=m1,size=1G: Duplicate ID 'm1' for "
		  "object" },
		{ { "plan", "-m", "1G,slots=2,maxmem=4G", OBJ("m1", "1G"),
		    "-device", "pc-dimm,memdev=m9" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m9: Device 'm9' not found" },
		{ { "plan", "-m", "1G,slots=2,maxmem=4G", "-device", "pc-dimm" }, 1,
		  "memslot: plan: -device pc-dimm: 'memdev' property must be set" },
		{ { "plan", "-m", "1G,slots=2,maxmem=4G", OBJ("m1", "1G"),
		    "-device", "pc-dimm,memdev=m1", "-device", "pc-dimm,memdev=m1" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1: can't use already busy memdev: m1" },
		{ { "plan", "-m", "1G,slots=2,maxmem=4G", OBJ("m1", "4M"), OBJ("m2", "4M"),
		    "-device", "pc-dimm,id=a,memdev=m1", "-device", "pc-dimm,id=a,memdev=m2" }, 1,
		  "memslot: plan: -device pc-dimm,id=a,memdev=m2: Duplicate ID 'a' for device" },
		/* rule 5.1.1 */
		{ { "plan", "-m", "1G,slots=2,maxmem=4G", "-object",
		    "memory-backend-file,id=nv,size=256M,mem-path=/nonexistent/nv",
		    "-device", "nvdimm,memdev=nv" }, 1,
		  "memslot: plan: -device nvdimm,memdev=nv: nvdimm is not enabled: missing 'nvdimm' "
		  "in '-M'" },
		/* rule 5.2 step 2: no device memory */
		{ { "plan", "-m", "1G", OBJ("m1", "1G"), "-device", "virtio-pmem-pci,memdev=m1" }, 1,
		  "memslot: plan: -device virtio-pmem-pci,memdev=m1: the configuration is not "
		  "prepared for memory devices (e.g., for memory hotplug), consider specifying the "
		  "maxmem option" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

/*
 * pc, 1 GiB of RAM (all below 4 GiB), 2 slots, maxmem 4 GiB: device memory
 * [0x100000000, +3 GiB + 2 x 1 GiB), hot-pluggable 3 GiB (rules 4.4, 5.3).
 */
#define PC1G_OPTS "-m", "1G,slots=2,maxmem=4G"
#define PC1G "plan", PC1G_OPTS

TEST(slot_errors)	/* rule 5.4 */
{
	static const struct err_case c[] = {
		{ { PC1G, OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1,slot=5" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1,slot=5: invalid slot number 5, valid "
		  "range is [0-1]" },
		{ { PC1G, OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1,slot=-2" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1,slot=-2: invalid slot number -2, valid "
		  "range is [0-1]" },
		{ { PC1G, OBJ("m1", "4M"), OBJ("m2", "4M"), "-device", "pc-dimm,memdev=m1,slot=0",
		    "-device", "pc-dimm,memdev=m2,slot=0" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m2,slot=0: slot 0 is busy" },
		{ { PC1G, OBJ("m1", "4M"), OBJ("m2", "4M"), OBJ("m3", "4M"),
		    "-device", "pc-dimm,memdev=m1", "-device", "pc-dimm,memdev=m2",
		    "-device", "pc-dimm,memdev=m3" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m3: no free slots available" },
		{ { "plan", "-m", "1G,maxmem=4G", OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1" },
		  1, "memslot: plan: -device pc-dimm,memdev=m1: no slots where allocated, please "
		  "specify the 'slots' option" },
		/*
		 * pre_plug's slot checks come before the memdev checks of
		 * get_memory_region and realize (rules 5.1.3, 5.4, 11.1; QEMU 7.2
		 * gives these texts for these options)
		 */
		{ { "plan", "-m", "1G,maxmem=4G", "-device", "pc-dimm" }, 1,
		  "memslot: plan: -device pc-dimm: no slots where allocated, please specify the "
		  "'slots' option" },
		{ { PC1G, "-device", "pc-dimm,slot=7" }, 1,
		  "memslot: plan: -device pc-dimm,slot=7: invalid slot number 7, valid range is "
		  "[0-1]" },
		{ { PC1G, OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1",
		    "-device", "pc-dimm,memdev=m1,slot=7" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1,slot=7: invalid slot number 7, valid "
		  "range is [0-1]" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

TEST(address_errors)	/* rule 5.5 */
{
	static const struct err_case c[] = {
		/* anonymous RAM: 2 MiB region alignment (rule 11.1) */
		{ { PC1G, OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1,addr=0x100001000" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1,addr=0x100001000: address must be "
		  "aligned to 0x200000 bytes" },
		{ { PC1G, OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1,addr=0x300000000" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1,addr=0x300000000: can't add memory "
		  "device [0x300000000:0x40000000], usable range for memory devices "
		  "[0x100000000:0x140000000]" },
		{ { PC1G, OBJ("m1", "1G"), OBJ("m2", "1G"), "-device", "pc-dimm,id=d1,memdev=m1",
		    "-device", "pc-dimm,id=d2,memdev=m2,addr=0x120000000" }, 1,
		  "memslot: plan: -device pc-dimm,id=d2,memdev=m2,addr=0x120000000: address range "
		  "conflicts with memory device id='d1'" },
		{ { PC1G, OBJ("m1", "1G"), OBJ("m2", "1G"), "-device", "pc-dimm,memdev=m1",
		    "-device", "pc-dimm,memdev=m2,addr=0x100000000" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m2,addr=0x100000000: address range "
		  "conflicts with memory device id='(unnamed)'" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

TEST(space_error)	/* rule 5.3 step 5 */
{
	static const struct err_case c[] = {
		{ { PC1G, OBJ("m1", "2G"), OBJ("m2", "2G"), "-device", "pc-dimm,memdev=m1",
		    "-device", "pc-dimm,memdev=m2" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m2: not enough space, currently 0x80000000 "
		  "in use of total space for memory devices 0xc0000000" },
		{ { PC1G, OBJ("m1", "4G"), "-device", "pc-dimm,memdev=m1" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=m1: not enough space, currently 0x0 in use "
		  "of total space for memory devices 0xc0000000" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

TEST(virtio_mem_errors)	/* rules 8.2, 8.4, 5.2 step 3 */
{
	static const struct err_case c[] = {
		{ { PC1G, OBJ("m1", "1G"), "-device", "virtio-mem-pci,memdev=m1,block-size=3" }, 1,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1,block-size=3: 'block-size' "
		  "property has to be at least 0x100000" },
		{ { PC1G, OBJ("m1", "1G"), "-device", "virtio-mem-pci,memdev=m1,block-size=3M" }, 1,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1,block-size=3M: 'block-size' "
		  "property has to be a power of two" },
		/* given as 0 it is QEMU's setter's error, not the automatic size */
		{ { PC1G, OBJ("m1", "1G"), "-device", "virtio-mem-pci,memdev=m1,block-size=0" }, 1,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1,block-size=0: 'block-size' "
		  "property has to be at least 0x100000" },
		/* get_memory_region in pre_plug fails before realize (rule 5.1.3; QEMU 7.2) */
		{ { PC1G, "-device", "virtio-mem-pci,id=vm" }, 1,
		  "memslot: plan: -device virtio-mem-pci,id=vm: 'memdev' property must be set" },
		{ { PC1G, OBJ("m1", "1G"), "-device",
		    "virtio-mem-pci,memdev=m1,dynamic-memslots=on,unplugged-inaccessible=off" }, 1,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1,dynamic-memslots=on,"
		  "unplugged-inaccessible=off: 'dynamic-memslots' property set to 'on' requires "
		  "'unplugged-inaccessible' to be 'on'" },
		{ { PC1G, OBJ("m1", "1G"), "-device", "pc-dimm,memdev=m1",
		    "-device", "virtio-mem-pci,memdev=m1" }, 1,
		  "memslot: plan: -device virtio-mem-pci,memdev=m1: 'memdev' property specifies a "
		  "busy memdev: m1" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

/* --- text output ----------------------------------------------------------------- */

/*
 * The options of the sample pc-4g-dimms-nvdimm (QEMU 7.2): its
 * `info memory-devices` must come out line for line, our own memslot lines
 * aside.
 */
TEST(info_memory_devices_like_qemu)
{
	char path[4096], *expected, *got, *p, *q;
	struct cli_result r;

	snprintf(path, sizeof(path), "%s/pc-4g-dimms-nvdimm.infomemory_devices.txt", samples_dir());
	expected = slurp(path);
	ASSERT_NE(NULL, expected) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "-M", "pc,nvdimm=on", "-m", "4G,slots=4,maxmem=16G",
			     OBJ("m1", "1G"), "-device", "pc-dimm,id=dimm1,memdev=m1",
			     OBJ("m2", "512M"), "-device", "pc-dimm,memdev=m2,addr=0x200000000",
			     "-object", "memory-backend-file,id=nv1,size=256M,mem-path=/nonexistent,share=on",
			     "-device", "nvdimm,id=nv1,memdev=nv1", "--kvm-memslots", "32764"));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	p = strstr(r.out, "\nmemory devices:\n");
	ASSERT_NE(NULL, p);
	p += strlen("\nmemory devices:\n");
	q = strstr(p, "\n\n");
	ASSERT_NE(NULL, q);
	/* Drop our "  memslots..." / "  memslot-size" lines. */
	got = calloc(1, q - p + 2);
	for (char *line = p, *o = got; line <= q;) {
		char *nl = strchr(line, '\n');
		size_t len = nl - line + 1;

		if (strncmp(line, "  memslot", 9)) {
			memcpy(o, line, len);
			o += len;
		}
		line = nl + 1;
	}
	EXPECT_STREQ(expected, got);
	/* and the rest of the report */
	EXPECT_TRUE(has_line(r.out, "memslots:"));
	EXPECT_TRUE(has_line(r.out, "accounting:"));
	EXPECT_TRUE(has_line(r.out, "flat view of \"memory\":"));
	EXPECT_TRUE(has_line(r.out, "capacity:"));
	EXPECT_TRUE(has_line(r.out, " AS \"memory\", root: system"));
	EXPECT_TRUE(has_line(r.out, "  0000000000000000-00000000000bffff (prio 0, ram): pc.ram KVM"));
	EXPECT_TRUE(has_line(r.out,
			     "  0000000180000000-000000018fffffff (prio 0, nv-ram): nv1 KVM"));
	EXPECT_TRUE(has_line(r.out, "  memslots: required 3, used 3, reserved 0"));
	/* rule 4.6: device memory 0x140000000..0x53fffffff, reserved end 0x540000000 */
	EXPECT_TRUE(has_line(r.out, "  device memory: 0x140000000-0x53fffffff, size 0x400000000, "
			     "hotpluggable 0x300000000"));
	EXPECT_TRUE(has_line(r.out, "  reserved end: 0x540000000 (35 phys-bits)"));
	/* the highest byte in use: the end of m2 */
	EXPECT_TRUE(has_line(r.out, "  highest guest address: 0x21fffffff (34 phys-bits)"));
	EXPECT_TRUE(has_line(r.out, "  dimm slots: 1 of 4 free"));
	free(got);
	free(expected);
	cli_result_free(&r);
}

/* --- JSON -------------------------------------------------------------------------- */

static void expect_keys(struct __test_metadata *_metadata, struct json_object *o,
			const char *what, const char *const *keys)
{
	EXPECT_NE(NULL, o) TH_LOG("%s missing", what);
	for (; o && *keys; keys++)
		EXPECT_NE(NULL, jget(o, *keys)) TH_LOG("%s has no \"%s\"", what, *keys);
}

TEST(json_shape)
{
	static const char *const top[] = { "machine", "devices", "memslots", "accounting",
					   "consumers", "flat_view", "capacity", NULL };
	static const char *const machine[] = { "type", "accel", "kvm_memslots", "ram_size",
					       "slots", "maxmem", "below_4g", "above_4g",
					       "above_4g_start", "devmem_base", "devmem_size",
					       "hotpluggable", "reserved_end", "smm", "firmware", NULL };
	static const char *const dimm[] = { "id", "type", "addr", "size", "memslots",
					    "plugged_size", "slot", "node", "memdev", "hotplugged",
					    "hotpluggable", NULL };
	static const char *const vmem[] = { "id", "type", "addr", "size", "memslots",
					    "plugged_size", "memaddr", "node", "requested_size",
					    "max_size", "block_size", "memdev", NULL };
	static const char *const acct[] = { "required_memslots", "used_memslots",
					    "reserved_memslots", "auto_decision_active",
					    "used_region_size", NULL };
	static const char *const cons[] = { "kind", "name", "max", "used", "free", NULL };
	static const char *const slot[] = { "slot", "as", "gpa", "size", "flags", "region", NULL };
	static const char *const cap[] = { "consumers", "memslots_left", "device_memory_left",
					   "highest_gpa", "phys_bits", "reserved_end", NULL };
	struct json_object *doc, *devs, *d0, *d1, *c;
	uint64_t per_as[2] = { 0 };
	struct cli_result r;

	/* q35, 4 GiB: 2 GiB below 4 GiB, 2 GiB above; device memory at 6 GiB (rule 4.2, 4.4) */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "q35", "-m", "4G,slots=4,maxmem=12G",
			     OBJ("m1", "1G"), "-device", "pc-dimm,id=d1,memdev=m1",
			     OBJ("vm0", "2G"), "-device", "virtio-mem-pci,id=vmem0,memdev=vm0",
			     "--vhost-limit", "64,name=net0", "--kvm-memslots", "32764"));
	ASSERT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	EXPECT_STREQ("", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not one JSON document: %s", r.out);
	expect_keys(_metadata, doc, "document", top);
	expect_keys(_metadata, jget(doc, "machine"), "machine", machine);
	EXPECT_STREQ("q35", json_object_get_string(jget(jget(doc, "machine"), "type")));
	EXPECT_EQ(2 * GIB, jget_u64(jget(doc, "machine"), "below_4g"));
	EXPECT_EQ(0x180000000ULL, jget_u64(jget(doc, "machine"), "devmem_base"));
	EXPECT_EQ(8 * GIB + 4 * GIB, jget_u64(jget(doc, "machine"), "devmem_size"));
	EXPECT_EQ(8 * GIB, jget_u64(jget(doc, "machine"), "hotpluggable"));

	devs = jget(doc, "devices");
	ASSERT_EQ(2, jget_len(devs));
	d0 = jget_idx(devs, 0);
	d1 = jget_idx(devs, 1);
	expect_keys(_metadata, d0, "dimm", dimm);
	expect_keys(_metadata, d1, "virtio-mem", vmem);
	EXPECT_STREQ("dimm", json_object_get_string(jget(d0, "type")));
	EXPECT_EQ(0x180000000ULL, jget_u64(d0, "addr"));
	EXPECT_EQ(0, jget_u64(d0, "slot"));
	EXPECT_STREQ("/objects/m1", json_object_get_string(jget(d0, "memdev")));
	EXPECT_FALSE(json_object_get_boolean(jget(d0, "hotplugged")));
	EXPECT_STREQ("virtio-mem", json_object_get_string(jget(d1, "type")));
	/* next free address, aligned to the 2 MiB block size (rule 8.3) */
	EXPECT_EQ(0x1c0000000ULL, jget_u64(d1, "addr"));
	EXPECT_EQ(jget_u64(d1, "addr"), jget_u64(d1, "memaddr"));
	EXPECT_EQ(2 * GIB, jget_u64(d1, "max_size"));
	EXPECT_EQ(0, jget_u64(d1, "size"));
	EXPECT_EQ(1, jget_u64(d1, "memslots"));

	expect_keys(_metadata, jget(doc, "accounting"), "accounting", acct);
	EXPECT_EQ(2, jget_u64(jget(doc, "accounting"), "required_memslots"));
	EXPECT_EQ(2, jget_u64(jget(doc, "accounting"), "used_memslots"));
	EXPECT_EQ(0, jget_u64(jget(doc, "accounting"), "reserved_memslots"));
	EXPECT_EQ(3 * GIB, jget_u64(jget(doc, "accounting"), "used_region_size"));

	c = jget(doc, "consumers");
	ASSERT_EQ(2, jget_len(c));
	expect_keys(_metadata, jget_idx(c, 0), "consumer", cons);
	EXPECT_STREQ("kvm", json_object_get_string(jget(jget_idx(c, 0), "kind")));
	EXPECT_EQ(32764, jget_u64(jget_idx(c, 0), "max"));
	/* the busiest address space counts (rule 9.1); SMM mirrors "memory" here */
	for (size_t i = 0; i < jget_len(jget(doc, "memslots")); i++)
		per_as[jget_u64(jget_idx(jget(doc, "memslots"), i), "as") & 1]++;
	EXPECT_EQ(per_as[0], per_as[1]);
	EXPECT_EQ(per_as[0], jget_u64(jget_idx(c, 0), "used"));
	EXPECT_STREQ("vhost", json_object_get_string(jget(jget_idx(c, 1), "kind")));
	EXPECT_STREQ("net0", json_object_get_string(jget(jget_idx(c, 1), "name")));
	EXPECT_EQ(64, jget_u64(jget_idx(c, 1), "max"));
	EXPECT_EQ(64 - jget_u64(jget_idx(c, 1), "used"), jget_u64(jget_idx(c, 1), "free"));

	expect_keys(_metadata, jget_idx(jget(doc, "memslots"), 0), "memslot", slot);
	expect_keys(_metadata, jget(doc, "capacity"), "capacity", cap);
	/* device memory ends at 0x180000000 + 12 GiB (rule 4.6) */
	EXPECT_EQ(0x480000000ULL, jget_u64(jget(doc, "capacity"), "reserved_end"));
	EXPECT_EQ(5 * GIB, jget_u64(jget(doc, "capacity"), "device_memory_left"));
	EXPECT_EQ(NULL, jget(doc, "steps"));
	json_object_put(doc);
	cli_result_free(&r);
}

/* --- memslot limits and the decision --------------------------------------------- */

TEST(kvm_limit)		/* rule 5.3 step 3 */
{
	/*
	 * pc with 1 GiB: pc.ram below 0xc0000, pc.rom, the BIOS window at
	 * 0xe0000, pc.ram above 1 MiB and the BIOS below 4 GiB: 5 KVM slots;
	 * 7 leave room for two DIMMs.
	 */
	static const struct err_case c[] = {
		{ { "plan", "-m", "1G,slots=4,maxmem=4G", "--kvm-memslots", "7", OBJ("m1", "4M"),
		    OBJ("m2", "4M"), OBJ("m3", "4M"),
		    "-device", "pc-dimm,memdev=m1", "-device", "pc-dimm,memdev=m2",
		    "-device", "pc-dimm,id=third,memdev=m3" }, 1,
		  "memslot: plan: -device pc-dimm,id=third,memdev=m3: hypervisor has not enough free "
		  "memory slots left" },
	};

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));
}

TEST(vhost_limit_rejection)	/* rules 5.3 step 4, 9.3 */
{
	/*
	 * vhost maps the RAM sections only: pc.ram below 0xc0000 and above
	 * 1 MiB, 2 regions; a limit of 4 leaves room for two DIMMs.
	 */
	static const struct err_case c[] = {
		{ { "plan", "-m", "1G,slots=4,maxmem=4G", "--vhost-limit", "4", OBJ("m1", "4M"),
		    OBJ("m2", "4M"), OBJ("m3", "4M"), "-device", "pc-dimm,memdev=m1",
		    "-device", "pc-dimm,memdev=m2", "-device", "pc-dimm,id=third,memdev=m3" }, 1,
		  "memslot: plan: -device pc-dimm,id=third,memdev=m3: a used vhost backend has not "
		  "enough free memory slots left" },
	};
	struct json_object *doc, *c1;
	struct cli_result r;

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));

	/* Two DIMMs fit and leave the vhost backend nothing. */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-m", "1G,slots=4,maxmem=4G", "--vhost-limit", "4",
			     OBJ("m1", "4M"), OBJ("m2", "4M"), "-device", "pc-dimm,memdev=m1",
			     "-device", "pc-dimm,memdev=m2"));
	ASSERT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	c1 = jget_idx(jget(doc, "consumers"), 1);
	EXPECT_EQ(4, jget_u64(c1, "max"));
	EXPECT_EQ(4, jget_u64(c1, "used"));
	EXPECT_EQ(0, jget_u64(c1, "free"));
	EXPECT_EQ(0, jget_u64(jget(doc, "capacity"), "memslots_left"));
	json_object_put(doc);
	cli_result_free(&r);
}

/*
 * q35 with 4 GiB, maxmem 64 GiB: 60 GiB hot-pluggable. A 32 GiB virtio-mem
 * with dynamic memslots and no vhost: limit floor(256 x 32 / 60) = 136
 * (rule 7), so memslots of max(round_up(32 GiB / 136, 2 MiB), 1 GiB) =
 * 1 GiB, 32 of them (rule 10.2); none active while nothing is plugged, so
 * all 32 are reserved (rule 6.4).
 */
#define Q35_VMEM "plan", "-M", "q35", "-m", "4G,slots=8,maxmem=64G", "--kvm-memslots", "32764", \
	OBJ("vm0", "32G"), "-device", "virtio-mem-pci,id=vmem0,memdev=vm0,dynamic-memslots=on"

TEST(virtio_mem_decision)
{
	struct json_object *doc, *d, *a;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", Q35_VMEM));
	ASSERT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	d = jget_idx(jget(doc, "devices"), 0);
	EXPECT_EQ(32, jget_u64(d, "memslots"));
	EXPECT_EQ(GIB, jget_u64(d, "memslot_size"));
	EXPECT_EQ(0, jget_u64(d, "memslots_used"));
	a = jget(doc, "accounting");
	EXPECT_EQ(32, jget_u64(a, "required_memslots"));
	EXPECT_EQ(0, jget_u64(a, "used_memslots"));
	EXPECT_EQ(32, jget_u64(a, "reserved_memslots"));
	EXPECT_TRUE(json_object_get_boolean(jget(a, "auto_decision_active")));
	EXPECT_EQ(32764 - 32 - jget_u64(jget_idx(jget(doc, "consumers"), 0), "used"),
		  jget_u64(jget(doc, "capacity"), "memslots_left"));
	json_object_put(doc);
	cli_result_free(&r);

	/* Any vhost backend below 509 memslots: a single memslot (rule 7 step 4). */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", Q35_VMEM, "--vhost-limit", "8,user=on"));
	ASSERT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	d = jget_idx(jget(doc, "devices"), 0);
	EXPECT_EQ(1, jget_u64(d, "memslots"));
	EXPECT_FALSE(json_object_get_boolean(jget(jget(doc, "accounting"), "auto_decision_active")));
	json_object_put(doc);
	cli_result_free(&r);

	/* Attached after the decision: refused (rule 9.4). */
	ASSERT_EQ(0, CLI_RUN(&r, Q35_VMEM, "--vhost-limit", "8,name=vu,user=on,late=on"));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "memslot: plan: --vhost-limit 8,name=vu,user=on,late=on: "
			       "some memory device (like virtio-mem) decided how many memory slots "
			       "to use based on the overall number of memory slots; this vhost "
			       "backend would further restricts the overall number of memory slots"))
		TH_LOG("%s", r.err);
	cli_result_free(&r);
}

TEST(accel_tcg)
{
	struct json_object *doc;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc,accel=tcg"));
	ASSERT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(0, jget_len(jget(doc, "memslots")));
	EXPECT_EQ(0, jget_len(jget(doc, "consumers")));
	EXPECT_STREQ("tcg", json_object_get_string(jget(jget(doc, "machine"), "accel")));
	/* default -m: 128 MiB */
	EXPECT_EQ(128 * MIB, jget_u64(jget(doc, "machine"), "ram_size"));
	json_object_put(doc);
	cli_result_free(&r);
}

/* --- scripts ------------------------------------------------------------------------ */

static const char script_ok[] =
	"# hot-plug two DIMMs, then a virtio-mem device and plug 1 GiB of it\n"
	"object_add memory-backend-ram,id=h1,size=1G\n"
	"device_add pc-dimm,id=hd1,memdev=h1\n"
	"\n"
	"object_add memory-backend-ram,id=vm0,size=8G   # a comment\n"
	"device_add virtio-mem-pci,id=vmem0,memdev=vm0,dynamic-memslots=on\n"
	"qom-set vmem0 requested-size 1G\n"
	"virtio-mem plug /machine/peripheral/vmem0 0 1G\n"
	"info memory-devices\n"
	"virtio-mem unplug-all vmem0\n"
	"device_del hd1\n"
	"info accounting\n"
	"info memslots\n"
	"info mtree\n";

/*
 * q35, 2 GiB, all below 4 GiB: device memory at 4 GiB (rule 4.4), 18 GiB
 * hot-pluggable. After the 1 GiB DIMM (1 memslot required, 1 GiB used) the
 * 8 GiB virtio-mem gets the limit floor((256 - 1) x 8 / 17) = 120
 * (rule 7), hence memslots of 1 GiB, 8 of them (rule 10.2).
 */
TEST(script_steps_json)
{
	static const char *const cmds[] = {
		"object_add memory-backend-ram,id=h1,size=1G",
		"device_add pc-dimm,id=hd1,memdev=h1",
		"object_add memory-backend-ram,id=vm0,size=8G",
		"device_add virtio-mem-pci,id=vmem0,memdev=vm0,dynamic-memslots=on",
		"qom-set vmem0 requested-size 1G",
		"virtio-mem plug /machine/peripheral/vmem0 0 1G",
		"info memory-devices",
		"virtio-mem unplug-all vmem0",
		"device_del hd1",
		"info accounting",
		"info memslots",
		"info mtree",
	};
	static const unsigned int lines[] = { 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };
	struct json_object *doc, *steps, *s;
	char *path = write_script(script_ok);
	struct cli_result r;

	ASSERT_NE(NULL, path);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "q35", "-m", "2G,slots=4,maxmem=20G",
			     "--kvm-memslots", "32764", "--script", path));
	unlink(path);
	free(path);
	ASSERT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not one JSON document: %s", r.out);
	steps = jget(doc, "steps");
	ASSERT_EQ(12, jget_len(steps));
	for (size_t i = 0; i < 12; i++) {
		s = jget_idx(steps, i);
		EXPECT_EQ(lines[i], jget_u64(s, "line"));
		EXPECT_STREQ(cmds[i], json_object_get_string(jget(s, "command")));
		EXPECT_TRUE(json_object_get_boolean(jget(s, "ok"))) TH_LOG("step %zu: %s", i,
			json_object_get_string(jget(s, "error")));
		EXPECT_EQ(NULL, jget(s, "error"));
		EXPECT_NE(NULL, jget(s, "devices"));
		EXPECT_NE(NULL, jget(s, "memslots"));
		EXPECT_NE(NULL, jget(s, "accounting"));
	}
	/* after device_add of the DIMM: hot-plugged, at the device-memory base */
	s = jget_idx(jget(jget_idx(steps, 1), "devices"), 0);
	EXPECT_TRUE(json_object_get_boolean(jget(s, "hotplugged")));
	EXPECT_EQ(0x100000000ULL, jget_u64(s, "addr"));
	/* after the virtio-mem device_add: 8 decided, none active */
	s = jget(jget_idx(steps, 3), "accounting");
	EXPECT_EQ(9, jget_u64(s, "required_memslots"));
	EXPECT_EQ(1, jget_u64(s, "used_memslots"));
	EXPECT_EQ(8, jget_u64(s, "reserved_memslots"));
	/* after plugging the first GiB: one memslot active */
	s = jget(jget_idx(steps, 5), "accounting");
	EXPECT_EQ(2, jget_u64(s, "used_memslots"));
	EXPECT_EQ(7, jget_u64(s, "reserved_memslots"));
	EXPECT_EQ(GIB, jget_u64(jget_idx(jget(jget_idx(steps, 5), "devices"), 1), "size"));
	/* unplug-all deactivates it, device_del drops the DIMM */
	s = jget(jget_idx(steps, 8), "accounting");
	EXPECT_EQ(8, jget_u64(s, "required_memslots"));
	EXPECT_EQ(0, jget_u64(s, "used_memslots"));
	EXPECT_EQ(1, jget_len(jget(jget_idx(steps, 8), "devices")));
	/* info mtree adds the flat view; the RAM below 0xc0000 has a memslot */
	EXPECT_EQ(NULL, jget(jget_idx(steps, 10), "flat_view"));
	s = jget_idx(jget(jget_idx(steps, 11), "flat_view"), 0);
	EXPECT_EQ(0, jget_u64(s, "start"));
	EXPECT_EQ(0xc0000, jget_u64(s, "size"));
	EXPECT_STREQ("pc.ram", json_object_get_string(jget(s, "region")));
	EXPECT_TRUE(json_object_get_boolean(jget(s, "kvm")));
	EXPECT_EQ(NULL, jget(doc, "error"));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST(script_text)
{
	char *path = write_script(script_ok);
	struct cli_result r;

	ASSERT_NE(NULL, path);
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "-M", "q35", "-m", "2G,slots=4,maxmem=20G",
			     "--script", path));
	unlink(path);
	free(path);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_TRUE(has_line(r.out, "start:"));
	EXPECT_TRUE(has_line(r.out, "line 3: device_add pc-dimm,id=hd1,memdev=h1"));
	EXPECT_TRUE(has_line(r.out, "line 9: info memory-devices"));
	EXPECT_TRUE(has_line(r.out, "Memory device [virtio-mem]: \"vmem0\""));
	EXPECT_TRUE(has_line(r.out, "  requested-size: 1073741824"));
	EXPECT_TRUE(has_line(r.out, "  memslots: required 9, used 1, reserved 8"));
	EXPECT_TRUE(has_line(r.out, "  memslots: required 8, used 0, reserved 8"));
	EXPECT_TRUE(has_line(r.out, "line 13: info memslots"));
	EXPECT_TRUE(has_line(r.out, "slot  as  gpa                 size                flags  region"));
	EXPECT_TRUE(has_line(r.out, "line 14: info mtree"));
	EXPECT_TRUE(has_line(r.out, " AS \"memory\", root: system"));
	EXPECT_TRUE(has_line(r.out, "  0000000000000000-00000000000bffff (prio 0, ram): pc.ram KVM"));
	EXPECT_STREQ("", r.err);
	cli_result_free(&r);
}

TEST(script_failing_step)
{
	static const char text[] =
		"object_add memory-backend-ram,id=h1,size=1G\n"
		"device_add pc-dimm,id=hd1,memdev=h1,slot=0\n"
		"object_add memory-backend-ram,id=h2,size=1G\n"
		"device_add pc-dimm,id=hd2,memdev=h2,slot=0\n"
		"device_add pc-dimm,id=never,memdev=h2\n";
	char *path = write_script(text), line[256];
	struct json_object *doc, *steps, *last;
	struct cli_result r;

	ASSERT_NE(NULL, path);
	ASSERT_EQ(0, CLI_RUN(&r, "plan", PC1G_OPTS, "--script", path));
	EXPECT_EQ(1, r.status);
	snprintf(line, sizeof(line), "memslot: plan: %s:4: slot 0 is busy", path);
	EXPECT_TRUE(has_line(r.err, line)) TH_LOG("%s", r.err);
	EXPECT_TRUE(has_line(r.out, "line 4: device_add pc-dimm,id=hd2,memdev=h2,slot=0"));
	EXPECT_EQ(NULL, strstr(r.out, "line 5:"));
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", PC1G_OPTS, "--script", path));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(has_line(r.err, line)) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not one JSON document: %s", r.out);
	steps = jget(doc, "steps");
	ASSERT_EQ(4, jget_len(steps));
	last = jget_idx(steps, 3);
	EXPECT_FALSE(json_object_get_boolean(jget(last, "ok")));
	EXPECT_STREQ("slot 0 is busy", json_object_get_string(jget(last, "error")));
	/* unchanged by the failure: one DIMM */
	EXPECT_EQ(1, jget_len(jget(last, "devices")));
	EXPECT_EQ(1, jget_len(jget(doc, "devices")));
	EXPECT_STREQ(line + strlen("memslot: plan: "), json_object_get_string(jget(doc, "error")));
	json_object_put(doc);
	cli_result_free(&r);
	unlink(path);
	free(path);
}

TEST(script_errors)
{
	static const struct {
		const char *text;
		const char *msg;	/* after "FILE:" */
	} c[] = {
		{ "info memory-devices\nfrobnicate now\n", "2: unknown command: frobnicate" },
		{ "\n\ninfo pci\n", "3: unknown info item: pci" },
		{ "device_del\n", "1: usage: device_del ID" },
		{ "virtio-mem plug vm0 0 huge\n", "1: invalid size: huge" },
		/* runtime errors with QEMU's hot-plug texts */
		{ "device_del nope\n", "1: Device 'nope' not found" },
		{ "object_add memory-backend-ram,id=h1,size=1G\n"
		  "object_add memory-backend-ram,id=h1,size=1G\n",
		  "2: attempt to add duplicate property 'h1' to object (type 'container')" },
		{ "object_add memory-backend-ram,id=h1,size=4M\n"
		  "device_add pc-dimm,id=d,memdev=h1\n"
		  "object_add memory-backend-ram,id=h2,size=4M\n"
		  "device_add pc-dimm,id=d,memdev=h2\n", "4: Duplicate device ID 'd'" },
		{ "device_add pc-dimm,memdev=h1,foo=1\n", "1: Property 'pc-dimm.foo' not found" },
		/* outside the usable region (0 while requested-size is 0): ERROR */
		{ "object_add memory-backend-ram,id=vm0,size=1G\n"
		  "device_add virtio-mem-pci,id=vmem0,memdev=vm0\n"
		  "virtio-mem plug vmem0 0 2M\n",
		  "3: virtio-mem 'vmem0': plug request [0x0:0x200000] answered ERROR" },
		/* inside it, but beyond requested-size: NACK (rules 8.6, 8.8) */
		{ "object_add memory-backend-ram,id=vm0,size=1G\n"
		  "device_add virtio-mem-pci,id=vmem0,memdev=vm0\n"
		  "qom-set vmem0 requested-size 2M\n"
		  "virtio-mem plug vmem0 0 4M\n",
		  "4: virtio-mem 'vmem0': plug request [0x0:0x400000] answered NACK" },
		{ "object_add memory-backend-ram,id=h1,size=4M\n"
		  "device_add pc-dimm,id=d,memdev=h1\n"
		  "virtio-mem unplug-all d\n",
		  "3: device 'd' is not a virtio-mem device (type 'pc-dimm')" },
		{ "object_add memory-backend-ram,id=h1,size=4M\n"
		  "device_add pc-dimm,id=d,memdev=h1\n"
		  "qom-set d requested-size 1G\n",
		  "3: Property 'pc-dimm.requested-size' not found" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *path = write_script(c[i].text), line[512];
		struct cli_result r;

		ASSERT_NE(NULL, path);
		ASSERT_EQ(0, CLI_RUN(&r, "plan", PC1G_OPTS, "--script", path));
		EXPECT_EQ(1, r.status);
		snprintf(line, sizeof(line), "memslot: plan: %s:%s", path, c[i].msg);
		EXPECT_TRUE(has_line(r.err, line)) TH_LOG("expected \"%s\", got \"%s\"", line,
							  r.err);
		unlink(path);
		free(path);
		cli_result_free(&r);
	}
}

TEST(script_missing)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--script", "/nonexistent/script"));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(has_line(r.err, "memslot: plan: /nonexistent/script: No such file or directory"))
		TH_LOG("%s", r.err);
	cli_result_free(&r);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * SMM (kvm-memslots.md 1.2, 9.1): with KVM's SMM a pc or q35 machine holds
 * every RAM and ROM slot twice, in address space 0 and in address space 1
 * ("KVM-SMRAM"); before the firmware runs both tables hold the same ranges,
 * the limit is per address space and the busiest one counts. -M smm=off
 * or a KVM without SMM (--kvm-smm=off) leave address space 0 alone;
 * smm=on on such a KVM is QEMU's error.
 */
TEST(smm_address_space)
{
	static const struct {
		const char *machine, *kvm_smm;
		int status;
		size_t as0, as1;
	} cases[] = {
		{ "pc", NULL, 0, 5, 5 },
		{ "q35", "on", 0, 5, 5 },
		{ "pc,smm=on", "on", 0, 5, 5 },
		{ "pc,smm=auto", "off", 0, 5, 0 },
		{ "q35,smm=off", "on", 0, 5, 0 },
		{ "pc,smm=on", "off", 1, 0, 0 },
		{ "pc,smm=maybe", "on", 2, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *doc, *slots, *kvm;
		uint64_t gpa[2][8] = { { 0 } };
		struct cli_result r;
		size_t n[2] = { 0 };

		const char *const args[] = { "-j", "plan", "-M", cases[i].machine, "-m", "256M",
					     cases[i].kvm_smm ? "--kvm-smm" : NULL, cases[i].kvm_smm,
					     NULL };

		ASSERT_EQ(0, cli_run(&r, NULL, args));
		EXPECT_EQ(cases[i].status, r.status) TH_LOG("%s: %s", cases[i].machine, r.err);
		/* -j: the error is the one JSON document */
		if (cases[i].status == 1)
			EXPECT_STREQ("{\"version\":1,\"error\":\"plan: System Management Mode not supported by this "
				     "hypervisor.\"}\n", r.out);
		if (cases[i].status) {
			cli_result_free(&r);
			continue;
		}
		doc = parse_one(r.out);
		ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
		slots = jget(doc, "memslots");
		for (size_t k = 0; k < jget_len(slots); k++) {
			struct json_object *a = jget_idx(slots, k);
			unsigned int as = jget_u64(a, "as") & 1;

			if (n[as] < 8)
				gpa[as][n[as]] = jget_u64(a, "gpa") ^ jget_u64(a, "size") << 20;
			n[as]++;
		}
		EXPECT_EQ(cases[i].as0, n[0]) TH_LOG("%s", cases[i].machine);
		EXPECT_EQ(cases[i].as1, n[1]) TH_LOG("%s", cases[i].machine);
		/* the same ranges in both address spaces (slot ids may differ) */
		qsort(gpa[0], 8, sizeof(uint64_t), u64_cmp);
		qsort(gpa[1], 8, sizeof(uint64_t), u64_cmp);
		if (n[1])
			EXPECT_EQ(0, memcmp(gpa[0], gpa[1], sizeof(gpa[0])));
		EXPECT_EQ(cases[i].as1 > 0, jget_bool(jget(doc, "machine"), "smm"));
		kvm = jget_idx(jget(doc, "consumers"), 0);
		EXPECT_EQ(cases[i].as0, jget_u64(kvm, "used"));
		EXPECT_EQ(jget_u64(kvm, "max") - cases[i].as0, jget_u64(kvm, "free"));
		json_object_put(doc);
		cli_result_free(&r);
	}
}

/*
 * Several --vhost-limit without a name: each gets "vhostN" (its position).
 * The default name once pointed into the array the next option grows, a
 * use after free that ASan reports (make SAN=1 check).
 */
TEST(vhost_default_names)
{
	static const char *const want[] = { "vhost0", "vhost1", "x", "vhost3" };
	struct json_object *doc, *c;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "--vhost-limit", "8", "--vhost-limit", "9",
			     "--vhost-limit", "10,name=x", "--vhost-limit", "11"));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	c = jget(doc, "consumers");
	ASSERT_EQ(5, jget_len(c));
	for (size_t i = 0; i < 4; i++) {
		EXPECT_STREQ(want[i], jget_str(jget_idx(c, i + 1), "name"));
		EXPECT_EQ(8 + i, jget_u64(jget_idx(c, i + 1), "max"));
	}
	json_object_put(doc);
	cli_result_free(&r);
}

/*
 * --firmware seabios: the layout QEMU 7.2 shows once SeaBIOS finished POST
 * on a machine without option ROMs (corpus configurations pc-512m-seabios
 * and q35-1g-seabios): per KVM address space, the plan's slots are the
 * ranges QEMU marks " KVM" and the kernel's census holds, flags included
 * (slot ids aside: the firmware's PAM writes renumber them one by one).
 */
TEST(firmware_seabios_as_qemu)
{
	struct cli_result r0;
	static const struct {
		const char *machine, *memory, *config;
	} cases[] = {
		{ "pc", "512", "pc-512m-seabios" },
		{ "q35", "1G", "q35-1g-seabios" },
		{ "pc,smm=off", "256", "pc-256m-smm-off-seabios" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gpa_range q[64], m[64];
		struct json_object *doc, *slots, *census, *cslots;
		struct cli_result r;
		char path[512], *flat;

		snprintf(path, sizeof(path), "%s/%s.mtree_f.txt", corpus_dir(), cases[i].config);
		flat = slurp(path);
		ASSERT_NE(NULL, flat) TH_LOG("%s: %s", path, strerror(errno));
		ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", cases[i].machine, "-m", cases[i].memory,
				     "--firmware", "seabios", "--kvm-smm", "on"));
		ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
		doc = parse_one(r.out);
		ASSERT_NE(NULL, doc);
		EXPECT_STREQ("seabios", jget_str(jget(doc, "machine"), "firmware"));
		slots = jget(doc, "memslots");
		for (unsigned int as = 0; as < 2; as++) {
			int nq = qemu_as_kvm_ranges(flat, as ? "KVM-SMRAM" : "memory", q, 64), nm = 0;

			for (size_t k = 0; k < jget_len(slots) && nm < 64; k++)
				if (jget_u64(jget_idx(slots, k), "as") == as)
					m[nm++] = (struct gpa_range){
						jget_u64(jget_idx(slots, k), "gpa"),
						jget_u64(jget_idx(slots, k), "size") };
			qsort(m, nm, sizeof(*m), gpa_range_cmp);
			if (!as)
				EXPECT_LT(0, nq);
			EXPECT_EQ(nq, nm) TH_LOG("%s as %u", cases[i].config, as);
			for (int k = 0; k < nq && k < nm; k++) {
				EXPECT_EQ(0, gpa_range_cmp(&q[k], &m[k]))
					TH_LOG("%s as %u: QEMU %#" PRIx64 "+%#" PRIx64 ", plan %#"
					       PRIx64 "+%#" PRIx64, cases[i].config, as, q[k].gpa,
					       q[k].size, m[k].gpa, m[k].size);
			}
		}
		/* the kernel's table of that QEMU (its census): flags too */
		snprintf(path, sizeof(path), "%s/%s.census.json", corpus_dir(), cases[i].config);
		census = json_object_from_file(path);
		ASSERT_NE(NULL, census) TH_LOG("%s", path);
		cslots = jget(jget_idx(jget(census, "vms"), 0), "memslots");
		EXPECT_EQ(jget_len(cslots), jget_len(slots));
		for (size_t k = 0; k < jget_len(cslots); k++) {
			struct json_object *c = jget_idx(cslots, k);
			bool found = false;

			for (size_t j = 0; j < jget_len(slots) && !found; j++) {
				struct json_object *p = jget_idx(slots, j);

				found = jget_u64(p, "as") == jget_u64(c, "as") &&
					jget_u64(p, "gpa") == jget_u64(c, "gpa") &&
					jget_u64(p, "size") == jget_u64(c, "size") &&
					jget_u64(p, "flags") == jget_u64(c, "flags");
			}
			EXPECT_TRUE(found) TH_LOG("%s: census slot as %" PRIu64 " %#" PRIx64 "+%#"
						  PRIx64 " flags %" PRIu64 " not planned",
						  cases[i].config, jget_u64(c, "as"),
						  jget_u64(c, "gpa"), jget_u64(c, "size"),
						  jget_u64(c, "flags"));
		}
		json_object_put(census);
		json_object_put(doc);
		cli_result_free(&r);
		free(flat);
	}
	/* a firmware the plan does not know */
	ASSERT_EQ(0, CLI_RUN(&r0, "plan", "--firmware", "ovmf"));
	EXPECT_EQ(2, r0.status);
	EXPECT_STREQ("memslot: plan: invalid --firmware: ovmf (none or seabios)\n", r0.err);
	cli_result_free(&r0);
}

/* --- real QEMU and libvirt command lines ------------------------------------------- */

/* QEMU 7.2's texts for the same options (qemu-system-x86_64 run on them) */
TEST(qemu_cmdline_errors)
{
	static const struct err_case c[] = {
		{ { "plan", "-M", "pc-i440fx-9.0" }, 2,
		  "memslot: plan: -M pc-i440fx-9.0: unsupported machine type" },
		{ { "plan", "-M", "pc-q35-2.3" }, 2,
		  "memslot: plan: -M pc-q35-2.3: unsupported machine type" },
		{ { "plan", "-machine", "pc-i440fx-2.1,foo=1" }, 2,
		  "memslot: plan: -machine pc-i440fx-2.1,foo=1: Property "
		  "'pc-i440fx-2.1-machine.foo' not found" },
		{ { "plan", "-M", "q35,usb=maybe" }, 2,
		  "memslot: plan: -M q35,usb=maybe: Parameter 'usb' expects 'on' or 'off'" },
		{ { "plan", "-M", "pc-i440fx-2.0", "-m", "1G,slots=2,maxmem=4G" }, 1,
		  "memslot: plan: \"-memory 'slots|maxmem'\" is not supported by: pc-i440fx-2.0" },
		{ { "plan", "-foo" }, 2, "memslot: plan: unknown option: -foo" },
		{ { "plan", "-cpu" }, 2, "memslot: plan: missing argument of option: -cpu" },
		{ { "plan", "-object",
		    "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\",\"size\":\"1G\"}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":\"1G\"}: Parameter 'size' expects uint64" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":1073741824,\"prealloc\":\"on\"}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":1073741824,\"prealloc\":\"on\"}: Invalid parameter type for 'prealloc', "
		  "expected: boolean" },
		{ { "plan", "-object", "{\"id\":\"m\",\"size\":1073741824}" }, 2,
		  "memslot: plan: -object {\"id\":\"m\",\"size\":1073741824}: Parameter 'qom-type' is "
		  "missing" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":1073741824,\"bogus\":1}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":1073741824,\"bogus\":1}: Parameter 'bogus' is unexpected" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":5,\"size\":1}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":5,\"size\":1}: "
		  "Invalid parameter type for 'id', expected: string" },
		{ { "plan", "-device", "{\"driver\":\"pc-dimm\",\"id\":\"d\",\"slot\":\"0\"}" }, 2,
		  "memslot: plan: -device {\"driver\":\"pc-dimm\",\"id\":\"d\",\"slot\":\"0\"}: "
		  "Invalid parameter type for 'slot', expected: integer" },
		{ { "plan", "-device", "{\"driver\":\"pc-dimm\",\"memdev\":\"m\",\"node\":\"0\"}" }, 2,
		  "memslot: plan: -device {\"driver\":\"pc-dimm\",\"memdev\":\"m\",\"node\":\"0\"}: "
		  "Parameter 'node' expects uint64" },
		{ { "plan", "-device", "{\"id\":\"d\"}" }, 2,
		  "memslot: plan: -device {\"id\":\"d\"}: Parameter 'driver' is missing" },
		{ { "plan", "-device", "virtio-mem,memdev=m" }, 2,
		  "memslot: plan: -device virtio-mem,memdev=m: No 'virtio-bus' bus found for device "
		  "'virtio-mem'" },
		{ { "plan", "-M", "q35", "-m", "4G", "-numa", "node,mem=2G" }, 2,
		  "memslot: plan: -numa node,mem=2G: Parameter -numa node,mem is not supported by "
		  "this machine type" },
		{ { "plan", "-numa", "foo" }, 2,
		  "memslot: plan: -numa foo: Parameter 'type' does not accept value 'foo'" },
		{ { "plan", "-M", "pc-i440fx-5.0", "-m", "2G", OBJ("a", "1G"), "-numa", "node,mem=1G",
		    "-numa", "node,memdev=a" }, 2,
		  "memslot: plan: -numa node,memdev=a: numa configuration should use either mem= or "
		  "memdev=,mixing both is not allowed" },
		/* QEMU 7.2's order: node limit, duplicate, mixing (also within one node) */
		{ { "plan", "-M", "q35", "-m", "2G", OBJ("a", "2G"), "-numa",
		    "node,memdev=a,mem=2G" }, 2,
		  "memslot: plan: -numa node,memdev=a,mem=2G: numa configuration should use either "
		  "mem= or memdev=,mixing both is not allowed" },
		{ { "plan", "-M", "pc-i440fx-5.0", "-m", "2G", OBJ("a", "1G"), "-numa",
		    "node,mem=1G,memdev=a" }, 2,
		  "memslot: plan: -numa node,mem=1G,memdev=a: numa configuration should use either "
		  "mem= or memdev=,mixing both is not allowed" },
		{ { "plan", "-m", "2G", OBJ("a", "2G"), "-numa", "node,memdev=a,nodeid=128" }, 2,
		  "memslot: plan: -numa node,memdev=a,nodeid=128: Max number of NUMA nodes reached: "
		  "128" },
		{ { "plan", "-m", "2G", OBJ("a", "1G"), OBJ("b", "1G"), "-numa", "node,memdev=a",
		    "-numa", "node,memdev=b,nodeid=0,mem=1G" }, 2,
		  "memslot: plan: -numa node,memdev=b,nodeid=0,mem=1G: Duplicate NUMA nodeid: 0" },
		/* QEMU names the highest missing id */
		{ { "plan", "-m", "3G", OBJ("a", "1G"), OBJ("b", "1G"), OBJ("c", "1G"),
		    "-numa", "node,memdev=a,nodeid=0", "-numa", "node,memdev=b,nodeid=3",
		    "-numa", "node,memdev=c,nodeid=5" }, 1,
		  "memslot: plan: numa: Node ID missing: 4" },
		/* JSON: one value only; integers beyond 64 bits are QEMU's doubles */
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":1073741824} trailing" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":1073741824} trailing: Expecting at most one JSON value" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":1073741824}{}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":1073741824}{}: Expecting at most one JSON value" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":99999999999999999999999}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":99999999999999999999999}: Parameter 'size' expects uint64" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":18446744073709551616}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":18446744073709551616}: Parameter 'size' expects uint64" },
		{ { "plan", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		    "\"size\":-99999999999999999999999}" }, 2,
		  "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\",\"id\":\"m\","
		  "\"size\":-99999999999999999999999}: Parameter 'size' expects uint64" },
		{ { "plan", "-device", "{\"driver\":\"pc-dimm\",\"id\":\"d\","
		    "\"slot\":99999999999999999999999}" }, 2,
		  "memslot: plan: -device {\"driver\":\"pc-dimm\",\"id\":\"d\","
		  "\"slot\":99999999999999999999999}: Invalid parameter type for 'slot', expected: "
		  "integer" },
		/* --strict: also what can change memory unmodelled */
		{ { "plan", "--strict", "-M", "q35,pflash0=fw" }, 2,
		  "memslot: plan: not modelled, refused by --strict: -M pflash0" },
		{ { "plan", "-m", "1G", "-mem-path", "/dev/hugepages", "--strict" }, 2,
		  "memslot: plan: not modelled, refused by --strict: -mem-path" },
		{ { "plan", "--strict", "-drive", "file=/ovmf.fd,if=pflash,format=raw" }, 2,
		  "memslot: plan: not modelled, refused by --strict: -drive if=pflash" },
		{ { "plan", "--strict", "-device", "ivshmem-plain,memdev=sh" }, 2,
		  "memslot: plan: not modelled, refused by --strict: -device ivshmem-plain" },
		{ { "plan", "-smp", "foo" }, 2,
		  "memslot: plan: -smp foo: Parameter 'smp.cpus' expects integer" },
		{ { "plan", "-smp", "4,sockets=1,cores=1,threads=1" }, 2,
		  "memslot: plan: -smp 4,sockets=1,cores=1,threads=1: Invalid CPU topology: product "
		  "of the hierarchy must match maxcpus: sockets (1) * dies (1) * cores (1) * threads "
		  "(1) != maxcpus (4)" },
		{ { "plan", "-smp", "2,maxcpus=1" }, 2,
		  "memslot: plan: -smp 2,maxcpus=1: Invalid CPU topology: maxcpus must be equal to or "
		  "greater than smp: sockets (1) * dies (1) * cores (1) * threads (1) == maxcpus (1) "
		  "< smp_cpus (2)" },
		{ { "plan", "-name", "foo,bar=1" }, 2,
		  "memslot: plan: -name foo,bar=1: Invalid parameter 'bar'" },
		{ { "plan", "-accel", "kvm", "-M", "accel=tcg" }, 2,
		  "memslot: plan: -M accel=tcg: The -accel and \"-machine accel=\" options are "
		  "incompatible" },
		{ { "plan", "-m", "2G", "-numa", "node,memdev=nope" }, 1,
		  "memslot: plan: -numa node,memdev=nope: memdev=nope is ambiguous" },
		{ { "plan", "-m", "2G", OBJ("a", "2G"), "-numa", "node,memdev=a,nodeid=1" }, 1,
		  "memslot: plan: numa: Node ID missing: 0" },
		{ { "plan", "-M", "q35", "-m", "4G", OBJ("n0", "2G"), "-numa", "node,memdev=n0" }, 1,
		  "memslot: plan: total memory for NUMA nodes (0x80000000) should equal RAM size "
		  "(0x100000000)" },
		{ { "plan", "-M", "pc,memory-backend=mb", "-m", "2G", OBJ("mb", "1G") }, 1,
		  "memslot: plan: Machine memory size does not match the size of the memory backend" },
		{ { "plan", "-M", "pc,memory-backend=nope", "-m", "1G" }, 1,
		  "memslot: plan: Memory backend 'nope' not found" },
		{ { "plan", "-M", "q35,memory-backend=n0", "-m", "4G", OBJ("n0", "4G"),
		    "-numa", "node,memdev=n0" }, 1,
		  "memslot: plan: '-machine memory-backend' and '-numa memdev' properties are "
		  "mutually exclusive" },
		{ { "plan", "-m", "2G,slots=2,maxmem=4G", OBJ("a", "2G"), "-numa", "node,memdev=a",
		    "-device", "pc-dimm,memdev=a" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=a: can't use already busy memdev: a" },
		{ { "plan", "-no-acpi", "-m", "1G,slots=2,maxmem=4G", OBJ("a", "1G"),
		    "-device", "pc-dimm,memdev=a" }, 1,
		  "memslot: plan: -device pc-dimm,memdev=a: memory hotplug is not enabled: missing "
		  "acpi device or acpi disabled" },
	};
	struct cli_result r;

	check_cases(_metadata, c, sizeof(c) / sizeof(c[0]));

	/* json-c's words after QEMU's prefix */
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "-object", "{\"qom-type\":\"memory-backend-ram\""));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "memslot: plan: -object {\"qom-type\":\"memory-backend-ram\": "
				      "JSON parse error, "));
	cli_result_free(&r);
}

/*
 * A command line as libvirt 9 writes it for a q35 guest with two NUMA
 * nodes, a DIMM and a virtio-mem device (JSON -object/-device), with the
 * usual options that do not touch memory.
 */
#define LIBVIRT_ARGS								\
	"-name", "guest=vm1,debug-threads=on", "-S",				\
	"-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\","	\
		   "\"file\":\"/var/lib/libvirt/qemu/domain-1-vm1/master-key.aes\"}",	\
	"-machine", "pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off",	\
	"-accel", "kvm", "-cpu", "host,migratable=on",				\
	"-m", "size=4194304k,slots=4,maxmem=16777216k",				\
	"-overcommit", "mem-lock=off", "-smp", "2,sockets=2,cores=1,threads=1",	\
	"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"ram-node0\","	\
		   "\"size\":2147483648}",					\
	"-numa", "node,nodeid=0,cpus=0,memdev=ram-node0",			\
	"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"ram-node1\","	\
		   "\"size\":2147483648,\"host-nodes\":[0],\"policy\":\"bind\"}",	\
	"-numa", "node,nodeid=1,cpus=1,memdev=ram-node1",			\
	"-uuid", "6c1d0c3e-1d2b-4f8a-9f3c-6a8b2f2b7c11", "-no-user-config",	\
	"-nodefaults", "-chardev", "socket,id=charmonitor,path=/tmp/mon.sock,server=on,wait=off", \
	"-mon", "chardev=charmonitor,id=monitor,mode=control",			\
	"-rtc", "base=utc,driftfix=slew", "-global", "kvm-pit.lost_tick_policy=delay", \
	"-no-hpet", "-no-shutdown", "-boot", "strict=on",			\
	"-device", "{\"driver\":\"pcie-root-port\",\"port\":16,\"chassis\":1,\"id\":\"pci.1\"," \
		   "\"bus\":\"pcie.0\",\"multifunction\":true,\"addr\":\"0x2\"}",	\
	"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"memdimm0\","	\
		   "\"size\":1073741824}",					\
	"-device", "{\"driver\":\"pc-dimm\",\"node\":0,\"memdev\":\"memdimm0\",\"id\":\"dimm0\"," \
		   "\"slot\":0}",						\
	"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"memvirtiomem0\","	\
		   "\"size\":2147483648}",					\
	"-device", "{\"driver\":\"virtio-mem-pci\",\"node\":1,\"block-size\":2097152,"	\
		   "\"requested-size\":0,\"memdev\":\"memvirtiomem0\",\"id\":\"virtiomem0\"," \
		   "\"bus\":\"pci.1\",\"addr\":\"0x1\"}",				\
	"-audiodev", "{\"id\":\"audio1\",\"driver\":\"none\"}",			\
	"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", \
	"-msg", "timestamp=on"

TEST(libvirt_cmdline)
{
	static const struct { uint64_t gpa, size; const char *region; } want[] = {
		/* NUMA: pc.ram holds ram-node0 then ram-node1 (2 GiB below, 2 GiB above) */
		{ 0, 0xc0000, "ram-node0" }, { 0x100000, 0x7ff00000, "ram-node0" },
		{ 0x100000000, 2 * GIB, "ram-node1" },
		/* device memory at 6 GiB: the DIMM, then virtio-mem (rules 4.4, 5.5) */
		{ 0x180000000, GIB, "memdimm0" }, { 0x1c0000000, 2 * GIB, "memvirtiomem0" },
	};
	struct json_object *doc, *slots, *m, *devs;
	struct cli_result r;
	size_t found = 0;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", LIBVIRT_ARGS, "--kvm-memslots", "509",
			     "--kvm-smm", "on"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* exactly one note, naming the options that change nothing, in order */
	EXPECT_STREQ("memslot: plan: note: not affecting memory, ignored: -name -S -object secret "
		     "-cpu -overcommit -smp -uuid -no-user-config -nodefaults -chardev -mon -rtc "
		     "-no-hpet -no-shutdown -boot -device pcie-root-port -audiodev "
		     "-sandbox -msg -machine usb -machine vmport -machine dump-guest-core\n"
		     "memslot: plan: warning: not modelled, memory may differ from QEMU's: -global\n",
		     r.err);
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON: %s", r.out);
	m = jget(doc, "machine");
	EXPECT_STREQ("pc-q35-7.2", jget_str(m, "type"));
	EXPECT_EQ(4 * GIB, jget_u64(m, "ram_size"));
	EXPECT_EQ(0x180000000ULL, jget_u64(m, "devmem_base"));
	EXPECT_EQ(12 * GIB + 4 * GIB, jget_u64(m, "devmem_size"));
	devs = jget(doc, "devices");
	ASSERT_EQ(2, jget_len(devs));
	EXPECT_STREQ("dimm0", jget_str(jget_idx(devs, 0), "id"));
	EXPECT_EQ(0x180000000ULL, jget_u64(jget_idx(devs, 0), "addr"));
	EXPECT_STREQ("virtiomem0", jget_str(jget_idx(devs, 1), "id"));
	EXPECT_EQ(0x1c0000000ULL, jget_u64(jget_idx(devs, 1), "addr"));
	slots = jget(doc, "memslots");
	for (size_t i = 0; i < jget_len(slots); i++) {
		struct json_object *s = jget_idx(slots, i);

		if (jget_u64(s, "as"))
			continue;
		for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
			if (jget_u64(s, "gpa") != want[k].gpa)
				continue;
			EXPECT_EQ(want[k].size, jget_u64(s, "size"));
			EXPECT_STREQ(want[k].region, jget_str(s, "region"));
			found++;
		}
	}
	EXPECT_EQ(sizeof(want) / sizeof(want[0]), found);
	json_object_put(doc);
	cli_result_free(&r);

	/* --strict refuses the first of them, before anything else */
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--strict", LIBVIRT_ARGS));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: plan: not affecting memory, refused by --strict: -name\n", r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "-M", "q35,usb=off", "--strict"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: plan: not affecting memory, refused by --strict: -machine usb\n",
		     r.err);
	cli_result_free(&r);
	/* nothing to note: no note */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "--strict", "-M", "q35", "-accel", "kvm"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	cli_result_free(&r);
}

/*
 * A UEFI guest as libvirt 9 starts it: OVMF in two pflash devices on
 * -blockdev nodes. pflash devices have memslots of their own the plan
 * does not model: planned, with a warning naming them (not in -j's
 * document), and refused by --strict.
 */
TEST(libvirt_ovmf)
{
	struct json_object *doc, *m;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "--kvm-memslots", "509", "--kvm-smm", "on",
			     "-blockdev", "{\"driver\":\"file\",\"filename\":"
			     "\"/usr/share/OVMF/OVMF_CODE_4M.fd\",\"node-name\":"
			     "\"libvirt-pflash0-storage\",\"auto-read-only\":true}",
			     "-blockdev", "{\"node-name\":\"libvirt-pflash0-format\",\"read-only\":"
			     "true,\"driver\":\"raw\",\"file\":\"libvirt-pflash0-storage\"}",
			     "-blockdev", "{\"driver\":\"file\",\"filename\":"
			     "\"/var/lib/libvirt/qemu/nvram/vm1_VARS.fd\",\"node-name\":"
			     "\"libvirt-pflash1-storage\"}",
			     "-blockdev", "{\"node-name\":\"libvirt-pflash1-format\",\"read-only\":"
			     "false,\"driver\":\"raw\",\"file\":\"libvirt-pflash1-storage\"}",
			     "-machine", "pc-q35-7.2,usb=off,vmport=off,smm=on,dump-guest-core=off,"
			     "memory-backend=pc.ram,pflash0=libvirt-pflash0-format,"
			     "pflash1=libvirt-pflash1-format",
			     "-accel", "kvm", "-global", "driver=cfi.pflash01,property=secure,value=on",
			     "-m", "2048", "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":"
			     "\"pc.ram\",\"size\":2147483648}",
			     "-device", "{\"driver\":\"ivshmem-plain\",\"id\":\"shmem0\","
			     "\"memdev\":\"shmmem-shmem0\"}"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("memslot: plan: note: not affecting memory, ignored: -blockdev -machine usb "
		     "-machine vmport -machine dump-guest-core\n"
		     "memslot: plan: warning: not modelled, memory may differ from QEMU's: -global "
		     "-device ivshmem-plain -M pflash0 -M pflash1\n", r.err);
	EXPECT_EQ(NULL, strstr(r.out, "pflash"));
	EXPECT_EQ(NULL, strstr(r.out, "not modelled"));
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON: %s", r.out);
	m = jget(doc, "machine");
	EXPECT_STREQ("pc-q35-7.2", jget_str(m, "type"));
	EXPECT_EQ(2 * GIB, jget_u64(m, "ram_size"));
	json_object_put(doc);
	cli_result_free(&r);

	/* each once, in order; the note no longer names them */
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--kvm-memslots", "509", "--kvm-smm", "on", "-m", "1G",
			     "-mem-path", "/dev/hugepages", "-bios", "/usr/share/seabios/bios.bin",
			     "-cpu", "host", "-drive", "file=/ovmf.fd,if=pflash,format=raw,unit=0",
			     "-drive", "file=/disk.img,if=virtio", "-readconfig", "/etc/vm.cfg",
			     "-set", "device.dimm0.slot=1", "-mem-path", "/dev/hugepages",
			     "-device", "ivshmem-doorbell,chardev=ch0", "-pflash", "/vars.fd"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("memslot: plan: note: not affecting memory, ignored: -cpu -drive\n"
		     "memslot: plan: warning: not modelled, memory may differ from QEMU's: "
		     "-mem-path -bios -drive if=pflash -readconfig -set -device ivshmem-doorbell "
		     "-pflash\n", r.err);
	cli_result_free(&r);
}

/* -M memory-backend=: the backend is the RAM, under its own name */
TEST(memory_backend_ram)
{
	struct json_object *doc, *slots;
	struct cli_result r;
	int named = 0;

	/* -name after -M: the two keep their own strings */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc,memory-backend=pc.ram0",
			     "-object", "memory-backend-memfd,id=pc.ram0,size=1G,share=on,"
			     "hugetlb=off,seal=off", "-name", "guest=vm1", "--kvm-memslots", "509"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc);
	/* no -m: the backend's size */
	EXPECT_EQ(GIB, jget_u64(jget(doc, "machine"), "ram_size"));
	slots = jget(doc, "memslots");
	for (size_t i = 0; i < jget_len(slots); i++)
		named += !strcmp(jget_str(jget_idx(slots, i), "region"), "pc.ram0");
	EXPECT_LT(0, named);
	json_object_put(doc);
	cli_result_free(&r);
}

/*
 * Machine types with their version's memory defaults, as QEMU 7.2 builds
 * them (checked with qemu-system-x86_64 -accel tcg -S, info mtree -f and
 * info memory-devices; memory-devices.md 4.1, 4.4).
 */
TEST(machine_versions)
{
	struct json_object *doc, *m, *devs, *slots;
	struct cli_result r;
	bool bios = false;

	/* 2.1: no 1 GiB per slot, DIMMs 4 KiB-aligned: 3 MiB then 1 GiB */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc-i440fx-2.1", "-m", "1G,slots=3,maxmem=8G",
			     OBJ("a", "3M"), "-device", "pc-dimm,memdev=a,id=d1", OBJ("b", "1G"),
			     "-device", "pc-dimm,memdev=b,id=d2", "--kvm-memslots", "509"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc);
	m = jget(doc, "machine");
	EXPECT_STREQ("pc-i440fx-2.1", jget_str(m, "type"));
	EXPECT_EQ(7 * GIB, jget_u64(m, "devmem_size"));
	devs = jget(doc, "devices");
	ASSERT_EQ(2, jget_len(devs));
	EXPECT_EQ(0x100000000ULL, jget_u64(jget_idx(devs, 0), "addr"));
	EXPECT_EQ(0x100300000ULL, jget_u64(jget_idx(devs, 1), "addr"));
	json_object_put(doc);
	cli_result_free(&r);

	/* 2.2: the slack, and the 2 MiB alignment refuses 3 MiB */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc-i440fx-2.2", "-m", "1G,slots=3,maxmem=8G",
			     "--kvm-memslots", "509"));
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(7 * GIB + 3 * GIB, jget_u64(jget(doc, "machine"), "devmem_size"));
	json_object_put(doc);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "-M", "pc-i440fx-2.2", "-m", "1G,slots=3,maxmem=8G",
			     OBJ("a", "3M"), "-device", "pc-dimm,memdev=a"));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(has_line(r.err, "memslot: plan: -device pc-dimm,memdev=a: backend memory "
				    "size must be multiple of 0x200000")) TH_LOG("%s", r.err);
	cli_result_free(&r);
	/* 2.3 and older: SMM goes off after KVM has its SMRAM listener: still there */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc-i440fx-2.3", "--kvm-smm", "on"));
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_TRUE(jget_bool(jget(doc, "machine"), "smm"));
	json_object_put(doc);
	cli_result_free(&r);

	/* 1.7: 3.5 GiB stay below 4 GiB, and the BIOS is 128 KiB */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc-i440fx-1.7", "-m", "4G",
			     "--kvm-memslots", "509"));
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(0xe0000000ULL, jget_u64(jget(doc, "machine"), "below_4g"));
	EXPECT_EQ(0x20000000ULL, jget_u64(jget(doc, "machine"), "above_4g"));
	slots = jget(doc, "memslots");
	for (size_t i = 0; i < jget_len(slots); i++) {
		struct json_object *s = jget_idx(slots, i);

		if (jget_u64(s, "gpa") == 0xfffe0000ULL && jget_u64(s, "size") == 0x20000)
			bios = true;
	}
	EXPECT_TRUE(bios);
	json_object_put(doc);
	cli_result_free(&r);
	/* 1.8 and newer: 3 GiB */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "-M", "pc-i440fx-2.0", "-m", "4G"));
	doc = json_tokener_parse(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(0xc0000000ULL, jget_u64(jget(doc, "machine"), "below_4g"));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST_HARNESS_MAIN
