// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The memslot mapping (ms_slotmap): QEMU's KVM memory listener decisions,
 * kvm-memslots.md. One TEST per rule the mapping logic implements, named
 * rule_<section>_<n>_...; each builds a small region tree, maps the
 * address space "memory" and checks the op log and the slot table. The
 * QEMU 7.2 ioctl traces in selftests/samples/qemu-7.2/kvm-ioctls-*.txt are
 * parsed and compared op by op (they are not retyped here).
 *
 * Text formats used by the expected strings:
 *   op:    "<create|delete|update> <id> <gpa>+<size> f=<flags>[ old=<flags>][ as=<id>]"
 *   slot:  "<id> <gpa>+<size> f=<flags> <region>@<offset in region>"
 * numbers as "0x%" PRIx64, flags as "0", "log", "ro" or "log|ro".
 *
 * The slot maps use 4 KiB host pages (the page size of the host the
 * samples were taken on) unless a test says otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define MAX_KEEP 64

FIXTURE(km) {
	struct ms_ctx *ctx;
	struct ms_region *sys;		/* "system", 2^64 container */
	struct ms_as *as;		/* "memory" */
	struct ms_slotmap *map, *map2;
	struct ms_as *as2;
	struct ms_region *as2_root;
	struct ms_region *keep[MAX_KEEP];	/* references dropped by the teardown */
	int nkeep;
	/* build_pc(): i440FX PAM aliases, [segment][QEMU alias index] */
	struct ms_region *pam[13][4];
};

FIXTURE_SETUP(km)
{
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->sys = CONT("system", UINT64_MAX);
	self->as = NEW_OK(ms_as__new(self->ctx, self->sys, "memory", NULL));
}

FIXTURE_TEARDOWN(km)
{
	ms_slotmap__free(self->map2);
	ms_slotmap__free(self->map);
	ms_as__free(self->as2);
	ms_as__free(self->as);
	for (int i = self->nkeep; i-- > 0;)
		ms_region__unref(self->keep[i]);
	ms_region__unref(self->as2_root);
	ms_region__unref(self->sys);
	ms_ctx__free(self->ctx);
	EXPECT_NO_LEAKS();
}

#define DEL(c, sub) ASSERT_EQ(0, ms_region__del_subregion((c), (sub), NULL))
#define BEGIN() ms_ctx__begin(self->ctx)
#define COMMIT() ASSERT_EQ(0, ms_ctx__commit(self->ctx))

/* A slot map on @as; page size 4 KiB unless @o sets one. */
static struct ms_slotmap *__new_map(struct __test_metadata *_metadata, struct ms_as *as,
				    struct ms_slotmap_opts o)
{
	struct ms_error err = { 0 };
	struct ms_slotmap *map;

	o.sz = sizeof(o);
	if (!o.page_size)
		o.page_size = PAGE;
	map = ms_slotmap__new(as, &o, &err);
	ASSERT_NE(NULL, map) {
		TH_LOG("ms_slotmap__new: %s", err.msg);
	}
	return map;
}
#define MAP(...) (self->map = __new_map(_metadata, self->as,				\
					(struct ms_slotmap_opts){ __VA_ARGS__ }))

static const char *fl(uint32_t f)
{
	static const char *const s[] = { "0", "log", "ro", "log|ro" };

	return f < 4 ? s[f] : "?";
}

static const char *kind_str(enum ms_slot_op_kind k)
{
	switch (k) {
	case MS_SLOT_OP_CREATE:
		return "create";
	case MS_SLOT_OP_DELETE:
		return "delete";
	case MS_SLOT_OP_UPDATE:
		return "update";
	}
	return "?";
}

/* Ops [@from, @from + @n) of the log, one @line each. */
static char *ops_fmt(const struct ms_slotmap *map, size_t from, size_t n,
		     void (*line)(FILE *f, const struct ms_slot_op *op))
{
	const struct ms_slot_op *ops;
	char *buf = NULL;
	size_t len = 0, nr;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ops = ms_slotmap__ops(map, &nr);
	for (size_t i = from; i < nr && i - from < n; i++)
		line(f, &ops[i]);
	fclose(f);
	return buf;
}

static void op_line(FILE *f, const struct ms_slot_op *op)
{
	fprintf(f, "%s %u 0x%" PRIx64 "+0x%" PRIx64 " f=%s", kind_str(op->kind), op->slot.slot,
		op->slot.gpa, op->slot.size, fl(op->slot.flags));
	if (op->kind == MS_SLOT_OP_UPDATE)
		fprintf(f, " old=%s", fl(op->old_flags));
	if (op->slot.as_id)
		fprintf(f, " as=%u", op->slot.as_id);
	fputc('\n', f);
}

/* The whole op log, as op_line() prints it. */
static char *ops_str(const struct ms_slotmap *map)
{
	return ops_fmt(map, 0, SIZE_MAX, op_line);
}

static int slot_line(const struct ms_memslot *s, void *opaque)
{
	const char *name = s->mr ? ms_region__name(s->mr) : "-";

	fprintf(opaque, "%u 0x%" PRIx64 "+0x%" PRIx64 " f=%s %s@0x%" PRIx64 "\n", s->slot,
		s->gpa, s->size, fl(s->flags), name ? name : "(null)", s->offset_in_region);
	return 0;
}

static char *slots_str(const struct ms_slotmap *map)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ms_slotmap__for_each(map, slot_line, f);
	fclose(f);
	return buf;
}

static size_t nr_ops(const struct ms_slotmap *map)
{
	size_t nr;

	ms_slotmap__ops(map, &nr);
	return nr;
}

/* Compare the op log with @expected (no error may be pending), then clear it. */
#define EXPECT_OPS(map, expected) do {						\
	EXPECT_STR_FREE((expected), ops_str(map));				\
	EXPECT_EQ(NULL, ms_slotmap__error(map)) {				\
		TH_LOG("slot map error: %s", ms_slotmap__error(map)->msg);	\
	}									\
	ms_slotmap__clear_ops(map);						\
} while (0)

#define EXPECT_SLOTS(map, expected) EXPECT_STR_FREE((expected), slots_str(map))

/* ---- QEMU 7.2 ioctl traces ------------------------------------------------------ */

/* One KVM_SET_USER_MEMORY_REGION call as the kernel sees it (rule 10.1). */
struct kop {
	uint32_t slot;		/* id | as_id << 16 (rule 10.2) */
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;		/* 0: delete */
};

#define MAX_KOPS 64

static int parse_u64(const char *s, int base, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, base);
	if (errno || end == s || *end || *s == '-')
		return -EINVAL;
	*v = x;
	return 0;
}

/* strace's flag names, "0" for none */
static int parse_kflags(char *s, uint32_t *flags)
{
	char *save, *tok;

	*flags = 0;
	if (!strcmp(s, "0"))
		return 0;
	for (tok = strtok_r(s, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		if (!strcmp(tok, "KVM_MEM_LOG_DIRTY_PAGES"))
			*flags |= MS_KVM_MEM_LOG_DIRTY_PAGES;
		else if (!strcmp(tok, "KVM_MEM_READONLY"))
			*flags |= MS_KVM_MEM_READONLY;
		else if (!strcmp(tok, "KVM_MEM_GUEST_MEMFD"))
			*flags |= MS_KVM_MEM_GUEST_MEMFD;
		else
			return -EINVAL;
	}
	return 0;
}

/*
 * One line of `strace -e trace=ioctl` with userspace_addr removed:
 * KVM_SET_USER_MEMORY_REGION, {slot=1, flags=KVM_MEM_READONLY,
 * guest_phys_addr=0xfffc0000, memory_size=262144}) = 0
 */
static int parse_kop(const char *line, struct kop *k)
{
	char flags[128], gpa[40], size[40];
	unsigned int slot;
	int n = -1;

	if (sscanf(line, "KVM_SET_USER_MEMORY_REGION, {slot=%u, flags=%127[^,], "
		   "guest_phys_addr=%39[^,], memory_size=%39[^}]}) = 0%n",
		   &slot, flags, gpa, size, &n) != 4 || n < 0 || line[n])
		return -EINVAL;
	k->slot = slot;
	if (parse_kflags(flags, &k->flags) || parse_u64(gpa, 0, &k->gpa) ||
	    parse_u64(size, 10, &k->size))
		return -EINVAL;
	return 0;
}

/* Read samples/qemu-7.2/@name; Return: number of calls, or -errno. */
static int read_trace(const char *name, struct kop *v, size_t max, char *why, size_t why_len)
{
	char path[512], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int n = 0, lineno = 0, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", samples_dir(), name);
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return ret;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len)
			continue;
		if ((size_t)n == max || parse_kop(line, &v[n])) {
			snprintf(why, why_len, "%s:%d: not a KVM_SET_USER_MEMORY_REGION line: %s",
				 path, lineno, line);
			ret = -EINVAL;
			break;
		}
		n++;
	}
	free(line);
	fclose(f);
	return ret ? ret : n;
}

/* Load a trace into @v (an array). */
#define LOAD_TRACE(name, v) ({								\
	char __why[600] = "";								\
	int __n = read_trace((name), (v), sizeof(v) / sizeof((v)[0]), __why,		\
			     sizeof(__why));						\
	ASSERT_LT(0, __n) {								\
		TH_LOG("%s", __why);							\
	}										\
	__n;										\
})

static void kop_line(FILE *f, const struct kop *k)
{
	fprintf(f, "slot=%u flags=%s gpa=0x%" PRIx64 " size=0x%" PRIx64 "\n", k->slot,
		fl(k->flags), k->gpa, k->size);
}

static char *kops_str(const struct kop *k, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++)
		kop_line(f, &k[i]);
	fclose(f);
	return buf;
}

/* The ioctl arguments of @op, as kop_line() prints them. */
static void op_kline(FILE *f, const struct ms_slot_op *op)
{
	struct kop k = {
		.slot = op->slot.slot | (uint32_t)op->slot.as_id << 16,
		.flags = op->slot.flags,
		.gpa = op->slot.gpa,
		.size = op->slot.size,
	};

	kop_line(f, &k);
}

/* The ioctl arguments of ops [@from, @from + @n) of the log, as kops_str() */
static char *ops_kstr(const struct ms_slotmap *map, size_t from, size_t n)
{
	return ops_fmt(map, from, n, op_kline);
}

/* Ops [@from, @from + @n) must be exactly trace calls [@kfrom, @kfrom + @n). */
#define EXPECT_TRACE(map, from, k, kfrom, n) do {					\
	char *__want = kops_str(&(k)[kfrom], (n));					\
	EXPECT_STR_FREE(__want ? __want : "(oom)", ops_kstr((map), (from), (n)));	\
	free(__want);									\
} while (0)

/*
 * The QEMU 7.2 PC memory map of "-machine pc,accel=kvm -nodefaults -m 256"
 * as the KVM listener sees it (pc_memory_init, x86_bios_rom_init,
 * i440fx_init, init_pam, i440fx_update_memory_mappings; the resulting tree
 * is samples/qemu-7.2/pc-256m-stopped.mtree.txt), in QEMU's commit order:
 *  1. "ram-below-4g" (alias of pc.ram) into system: one commit;
 *  2. pc.rom, isa-bios (read-only alias of the top 128 KiB of pc.bios) and
 *     pc.bios go into the unmapped "pci" container, which is then mapped
 *     under system at priority -1: one commit (only pc.bios is visible,
 *     pc.rom and isa-bios are below ram-below-4g);
 *  3. one transaction adds smram-region and the 13 PAM segments, each with
 *     its four disabled aliases (pam-pci of pci, pam-rom, pam-ram, pam-pci of
 *     RAM) and enables pam-pci of pci (PAM register value 0 at reset).
 */
static void build_pc(struct __test_metadata *_metadata, FIXTURE_DATA(km) *self)
{
	struct ms_region *ram, *pci, *bios, *isa;

	ram = KEEP(RAM("pc.ram", 256 * MiB));
	ADD_PUT(self->sys, 0, ALIAS("ram-below-4g", ram, 0, 256 * MiB));

	pci = KEEP(CONT("pci", UINT64_MAX));
	ADDP_PUT(pci, 0xc0000, ROM("pc.rom", 128 * KiB), 1);
	bios = ROM("pc.bios", 256 * KiB);
	isa = ALIAS("isa-bios", bios, 0x20000, 128 * KiB);
	ms_region__set_readonly(isa, true);
	ADDP_PUT(pci, 0xe0000, isa, 1);
	ADD_PUT(pci, 0xfffc0000, bios);
	ADDP(self->sys, 0, pci, -1);

	BEGIN();
	ADDP_PUT(self->sys, 0xa0000, ALIAS("smram-region", pci, 0xa0000, 128 * KiB), 1);
	for (int i = 0; i < 13; i++) {
		/* PAM0 is the BIOS segment, PAM1..12 the 16 KiB expansion segments */
		uint64_t start = i ? 0xc0000 + (i - 1) * 0x4000 : 0xf0000;
		uint64_t size = i ? 0x4000 : 0x10000;
		struct ms_region **a = self->pam[i];

		a[3] = ALIAS("pam-ram", ram, start, size);
		a[1] = ALIAS("pam-rom", ram, start, size);
		ms_region__set_readonly(a[1], true);
		a[0] = ALIAS("pam-pci", pci, start, size);
		a[2] = ALIAS("pam-pci", ram, start, size);
		for (int k = 0; k < 4; k++) {
			ms_region__set_enabled(a[k], false);
			ADDP_PUT(self->sys, start, a[k], 1);
		}
	}
	for (int i = 0; i < 13; i++)
		ms_region__set_enabled(self->pam[i][0], true);
	COMMIT();
}

/* ---- 3. which sections get slots ------------------------------------------------- */

/* rule 3.1: RAM, ROM (RAM + readonly) and RAM-device regions are handled */
TEST_F(km, rule_3_1_ram_rom_ramdevice_get_slots)
{
	void *host = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct ms_region *ramd;

	ASSERT_NE(MAP_FAILED, host);
	ADD_PUT(self->sys, 0x0, RAM("ram", 0x10000));
	ADD_PUT(self->sys, 0x100000, ROM("rom", 0x20000));
	ramd = KEEP(ms_region__new_ram_device(self->ctx, "ramd", 0x4000, host, NULL, NULL, NULL));
	ADD(self->sys, 0x200000, ramd);
	MAP();
	EXPECT_OPS(self->map,
		   "create 0 0x0+0x10000 f=0\n"
		   "create 1 0x100000+0x20000 f=ro\n"
		   "create 2 0x200000+0x4000 f=0\n");
	EXPECT_SLOTS(self->map,
		     "0 0x0+0x10000 f=0 ram@0x0\n"
		     "1 0x100000+0x20000 f=ro rom@0x0\n"
		     "2 0x200000+0x4000 f=0 ramd@0x0\n");
	EXPECT_EQ(host, ms_slotmap__lookup(self->map, 0x200000, 0x4000)->hva);
	EXPECT_EQ(3, ms_slotmap__nr_used(self->map));
	DEL(self->sys, ramd);
	EXPECT_OPS(self->map, "delete 2 0x200000+0x0 f=0\n");
	ms_slotmap__free(self->map);
	self->map = NULL;
	munmap(host, 0x4000);
}

/* rule 3.1: MMIO (writable non-RAM: I/O, unassigned I/O) and containers never get a slot;
 * a non-RAM read-only I/O region is ignored too (the spec's last case) */
TEST_F(km, rule_3_1_mmio_never)
{
	struct ms_region *io = KEEP(IO("mmio", 0x10000)), *rio = KEEP(IO("rio", 0x10000));
	struct ms_region *c = KEEP(CONT("cont", 0x100000));

	ADD(self->sys, 0x0, io);
	ADD(self->sys, 0x100000, c);
	ADD_PUT(c, 0x1000, IO("inner", 0x1000));
	MAP();
	EXPECT_OPS(self->map, "");
	ms_region__set_readonly(rio, true);
	ADD(self->sys, 0x200000, rio);
	EXPECT_OPS(self->map, "");
	ms_region__set_readonly(io, true);
	EXPECT_OPS(self->map, "");
	DEL(self->sys, io);
	DEL(self->sys, rio);
	EXPECT_OPS(self->map, "");
	EXPECT_EQ(0, ms_slotmap__nr_used(self->map));
}

/* rule 3.1: a ROM device gets a (read-only) slot only in ROMD mode; with ROMD off
 * the request is a delete, also when it came from region_add */
TEST_F(km, rule_3_1_rom_device_romd)
{
	struct ms_region *fl0 = KEEP(ROMDEV("flash0", 0x20000));
	struct ms_region *fl1 = KEEP(ROMDEV("flash1", 0x20000));

	ADD(self->sys, 0xfffe0000, fl0);
	MAP();
	EXPECT_OPS(self->map, "create 0 0xfffe0000+0x20000 f=ro\n");
	/* ROMD off: region_del (ROMD range) + region_add (I/O range), the add is a
	 * delete that finds no slot any more */
	EXPECT_EQ(0, ms_region__set_romd(fl0, false, NULL));
	EXPECT_OPS(self->map, "delete 0 0xfffe0000+0x0 f=0\n");
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0xfffe0000, 0x20000));
	EXPECT_EQ(0, ms_region__set_romd(fl0, true, NULL));
	EXPECT_OPS(self->map, "create 0 0xfffe0000+0x20000 f=ro\n");
	/* mapped with ROMD off: the region_add creates nothing */
	EXPECT_EQ(0, ms_region__set_romd(fl1, false, NULL));
	ADD(self->sys, 0xfffc0000, fl1);
	EXPECT_OPS(self->map, "");
	EXPECT_EQ(1, ms_slotmap__nr_used(self->map));
	EXPECT_EQ(0, ms_region__set_romd(fl1, true, NULL));
	EXPECT_OPS(self->map, "create 1 0xfffc0000+0x20000 f=ro\n");
	DEL(self->sys, fl0);
	DEL(self->sys, fl1);
	EXPECT_OPS(self->map,
		   "delete 0 0xfffe0000+0x0 f=0\n"
		   "delete 1 0xfffc0000+0x0 f=0\n");
}

/* rule 3.2: writability comes from the region's own flag, not the section's:
 * a read-only alias of RAM gives a writable slot, but still its own slot */
TEST_F(km, rule_3_2_readonly_alias_of_ram_is_writable)
{
	struct ms_region *ram = KEEP(RAM("ram", MiB)), *ro;
	const struct ms_flat_range *fr;

	ADD(self->sys, 0, ram);
	MAP();
	EXPECT_OPS(self->map, "create 0 0x0+0x100000 f=0\n");
	ro = ALIAS("pam-rom", ram, 0x40000, 0x10000);
	ms_region__set_readonly(ro, true);
	ADDP_PUT(self->sys, 0x40000, ro, 1);
	fr = ms_flatview__lookup(ms_as__flatview(self->as), 0x40000);
	ASSERT_NE(NULL, fr);
	EXPECT_TRUE(fr->readonly);	/* the section is read-only ... */
	EXPECT_OPS(self->map,
		   "delete 0 0x0+0x0 f=0\n"
		   "create 0 0x0+0x40000 f=0\n"
		   "create 1 0x40000+0x10000 f=0\n"	/* ... its slot is not */
		   "create 2 0x50000+0xb0000 f=0\n");
	EXPECT_SLOTS(self->map,
		     "0 0x0+0x40000 f=0 ram@0x0\n"
		     "1 0x40000+0x10000 f=0 ram@0x40000\n"
		     "2 0x50000+0xb0000 f=0 ram@0x50000\n");
}

/* rule 3.2 on the PC: switching PAM segment 0xc0000 to "pam-rom" (SeaBIOS
 * shadowing; the 7.2 boot trace re-creates the PAM ranges with flags=0) */
TEST_F(km, rule_3_2_pam_rom_segment)
{
	MAP();
	build_pc(_metadata, self);
	ms_slotmap__clear_ops(self->map);
	BEGIN();
	ms_region__set_enabled(self->pam[1][0], false);
	ms_region__set_enabled(self->pam[1][1], true);
	COMMIT();
	EXPECT_OPS(self->map,
		   "delete 2 0xc0000+0x0 f=0\n"
		   "create 2 0xc0000+0x4000 f=0\n"
		   "create 5 0xc4000+0x1c000 f=ro\n");
	EXPECT_SLOTS(self->map,
		     "0 0x0+0xc0000 f=0 pc.ram@0x0\n"
		     "1 0xfffc0000+0x40000 f=ro pc.bios@0x0\n"
		     "2 0xc0000+0x4000 f=0 pc.ram@0xc0000\n"
		     "3 0xe0000+0x20000 f=ro pc.bios@0x20000\n"
		     "4 0x100000+0xff00000 f=0 pc.ram@0x100000\n"
		     "5 0xc4000+0x1c000 f=ro pc.rom@0x4000\n");
}

/* rule 3.3: without KVM_CAP_READONLY_MEM, ROM is mapped writable and ROM
 * devices are never mapped */
TEST_F(km, rule_3_3_no_readonly_mem)
{
	struct ms_region *fl = KEEP(ROMDEV("flash", 0x20000));
	struct ms_region *ram = KEEP(RAM("ram", 0x10000));

	ADD_PUT(self->sys, 0x100000, ROM("rom", 0x20000));
	ADD(self->sys, 0xfffe0000, fl);
	ADD(self->sys, 0, ram);
	MAP(.no_readonly_mem = true);
	EXPECT_OPS(self->map,
		   "create 0 0x0+0x10000 f=0\n"
		   "create 1 0x100000+0x20000 f=0\n");
	EXPECT_EQ(0, ms_region__set_romd(fl, false, NULL));
	EXPECT_EQ(0, ms_region__set_romd(fl, true, NULL));
	EXPECT_OPS(self->map, "");
	/* a RAM region made read-only is re-created, still without READONLY */
	ms_region__set_readonly(ram, true);
	EXPECT_OPS(self->map,
		   "delete 0 0x0+0x0 f=0\n"
		   "create 0 0x0+0x10000 f=0\n");
}

/* ---- 4. alignment trimming and splitting ----------------------------------------- */

/* rule 4.1: start rounded up and size down to host pages, sub-page sections
 * ignored, offset in region and host address moved by the same delta; the
 * same tree under 4 KiB (map) and 64 KiB (map2) host pages */
TEST_F(km, rule_4_1_host_page_trimming)
{
	struct ms_region *a = KEEP(RAM("a", 0x3000)), *c = KEEP(RAM("c", 0x28000));
	const struct ms_memslot *s;

	ADD(self->sys, 0x10800, a);			/* 4K: [0x11000, +0x2000) @0x800 */
	ADD_PUT(self->sys, 0x20000, RAM("b", 0x800));	/* smaller than a page */
	ADD(self->sys, 0x38000, c);			/* 64K: [0x40000, +0x20000) @0x8000 */
	ADD_PUT(self->sys, 0x70400, RAM("d", 0x1000));	/* 4K: delta 0xc00, size 0x400 -> 0 */
	ADD_PUT(self->sys, 0x80000, ALIAS("e", c, 0x3000, 0x2000));
	ADD_PUT(self->sys, 0x90800, RAM("f", 0x100));	/* delta 0x800 > size */
	MAP();
	self->map2 = __new_map(_metadata, self->as, (struct ms_slotmap_opts){
		.page_size = 0x10000 });
	EXPECT_OPS(self->map,
		   "create 0 0x11000+0x2000 f=0\n"
		   "create 1 0x38000+0x28000 f=0\n"
		   "create 2 0x80000+0x2000 f=0\n");
	EXPECT_SLOTS(self->map,
		     "0 0x11000+0x2000 f=0 a@0x800\n"
		     "1 0x38000+0x28000 f=0 c@0x0\n"
		     "2 0x80000+0x2000 f=0 c@0x3000\n");
	EXPECT_OPS(self->map2, "create 0 0x40000+0x20000 f=0\n");
	EXPECT_SLOTS(self->map2, "0 0x40000+0x20000 f=0 c@0x8000\n");

	s = ms_slotmap__lookup(self->map, 0x11000, 0x2000);
	ASSERT_NE(NULL, s);
	EXPECT_EQ((char *)ms_region__host_ptr(a) + 0x800, s->hva);
	s = ms_slotmap__lookup(self->map, 0x80000, 0x2000);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(c, s->mr);
	EXPECT_EQ((char *)ms_region__host_ptr(c) + 0x3000, s->hva);
	s = ms_slotmap__lookup(self->map2, 0x40000, 0x20000);
	ASSERT_NE(NULL, s);
	EXPECT_EQ((char *)ms_region__host_ptr(c) + 0x8000, s->hva);

	/* deletion trims the same way */
	DEL(self->sys, a);
	DEL(self->sys, c);
	EXPECT_OPS(self->map,
		   "delete 0 0x11000+0x0 f=0\n"
		   "delete 1 0x38000+0x0 f=0\n");
	EXPECT_OPS(self->map2, "delete 0 0x40000+0x0 f=0\n");
}

/* rule 4.2: chunks of at most max_slot_size, one slot each, ascending; deletion
 * looks them up the same way */
TEST_F(km, rule_4_2_max_slot_size_split)
{
	struct ms_region *big = KEEP(RAM("big", 0x280000)), *odd = KEEP(RAM("odd", 0x201000));
	struct ms_error err = { 0 };
	const struct ms_memslot *s;

	ADD(self->sys, 0x1000000, big);
	MAP(.max_slot_size = MiB);
	EXPECT_OPS(self->map,
		   "create 0 0x1000000+0x100000 f=0\n"
		   "create 1 0x1100000+0x100000 f=0\n"
		   "create 2 0x1200000+0x80000 f=0\n");
	EXPECT_SLOTS(self->map,
		     "0 0x1000000+0x100000 f=0 big@0x0\n"
		     "1 0x1100000+0x100000 f=0 big@0x100000\n"
		     "2 0x1200000+0x80000 f=0 big@0x200000\n");
	s = ms_slotmap__lookup(self->map, 0x1200000, 0x80000);
	ASSERT_NE(NULL, s);
	EXPECT_EQ((char *)ms_region__host_ptr(big) + 0x200000, s->hva);
	/* trimmed first (rule 4.1), then split */
	ADD(self->sys, 0x2000800, odd);
	EXPECT_OPS(self->map,
		   "create 3 0x2001000+0x100000 f=0\n"
		   "create 4 0x2101000+0x100000 f=0\n");
	/* flag changes look the chunks up the same way (rule 6.6) */
	ms_region__set_log(big, true);
	EXPECT_OPS(self->map,
		   "update 0 0x1000000+0x100000 f=log old=0\n"
		   "update 1 0x1100000+0x100000 f=log old=0\n"
		   "update 2 0x1200000+0x80000 f=log old=0\n");
	DEL(self->sys, big);
	EXPECT_OPS(self->map,
		   "delete 0 0x1000000+0x0 f=0\n"
		   "delete 1 0x1100000+0x0 f=0\n"
		   "delete 2 0x1200000+0x0 f=0\n");
	DEL(self->sys, odd);
	EXPECT_OPS(self->map,
		   "delete 3 0x2001000+0x0 f=0\n"
		   "delete 4 0x2101000+0x0 f=0\n");
	EXPECT_EQ(0, ms_slotmap__nr_used(self->map));

	/* a slot size limit must be a multiple of the page size */
	errno = 0;
	EXPECT_EQ(NULL, ms_slotmap__new(self->as, &(struct ms_slotmap_opts){
		.sz = sizeof(struct ms_slotmap_opts), .page_size = PAGE,
		.max_slot_size = MiB + 0x800 }, &err));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, err.err);
}

/* ---- 5. slot ids ------------------------------------------------------------------ */

/* rule 5.2: the lowest free id, reused after a delete; the table grows past 16 */
TEST_F(km, rule_5_2_lowest_free_id)
{
	struct ms_region *r[24];
	char name[16];

	for (int i = 0; i < 24; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		r[i] = KEEP(RAM(name, PAGE));
	}
	ADD(self->sys, 0x100000, r[0]);
	ADD(self->sys, 0x200000, r[1]);
	ADD(self->sys, 0x300000, r[2]);
	MAP();
	EXPECT_OPS(self->map,
		   "create 0 0x100000+0x1000 f=0\n"
		   "create 1 0x200000+0x1000 f=0\n"
		   "create 2 0x300000+0x1000 f=0\n");
	DEL(self->sys, r[1]);
	EXPECT_OPS(self->map, "delete 1 0x200000+0x0 f=0\n");
	/* below every used address: the id is still the lowest free one */
	ADD(self->sys, 0x0, r[3]);
	ADD(self->sys, 0x400000, r[4]);
	EXPECT_OPS(self->map,
		   "create 1 0x0+0x1000 f=0\n"
		   "create 3 0x400000+0x1000 f=0\n");
	/* beyond the initial 16 entries */
	BEGIN();
	for (int i = 5; i < 24; i++)
		ADD(self->sys, 0x1000000 + i * MiB, r[i]);
	COMMIT();
	EXPECT_EQ(19, nr_ops(self->map));
	EXPECT_EQ(23, ms_slotmap__nr_used(self->map));
	EXPECT_NE(NULL, ms_slotmap__lookup(self->map, 0x1000000 + 23 * MiB, PAGE));
	EXPECT_EQ(22, ms_slotmap__lookup(self->map, 0x1000000 + 23 * MiB, PAGE)->slot);
	ms_slotmap__clear_ops(self->map);
	DEL(self->sys, r[20]);	/* id 19 */
	DEL(self->sys, r[7]);	/* id 6 */
	ADD(self->sys, 0x200000, r[1]);
	ADD(self->sys, 0x500000, r[20]);
	ADD(self->sys, 0x600000, r[7]);
	EXPECT_OPS(self->map,
		   "delete 19 0x2400000+0x0 f=0\n"
		   "delete 6 0x1700000+0x0 f=0\n"
		   "create 6 0x200000+0x1000 f=0\n"
		   "create 19 0x500000+0x1000 f=0\n"
		   "create 23 0x600000+0x1000 f=0\n");
}

/* rule 5.2: no free entry at the capability maximum: error -ENOSPC (QEMU
 * aborts); a limit above 16 that is not a power of two is reached exactly */
TEST_F(km, rule_5_2_exhaustion)
{
	struct ms_region *r[21];
	const struct ms_error *e;
	char name[16];

	for (int i = 0; i < 21; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		r[i] = KEEP(RAM(name, PAGE));
	}
	MAP(.max_slots = 20);
	EXPECT_EQ(20, ms_slotmap__max_slots(self->map));
	BEGIN();
	for (int i = 0; i < 21; i++)
		ADD(self->sys, i * MiB, r[i]);
	COMMIT();
	EXPECT_EQ(20, nr_ops(self->map));
	EXPECT_EQ(20, ms_slotmap__nr_used(self->map));
	e = ms_slotmap__error(self->map);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(-ENOSPC, e->err);
	EXPECT_NE(NULL, strstr(e->msg, "no free slot")) {
		TH_LOG("message: %s", e->msg);
	}
	EXPECT_NE(NULL, strstr(e->msg, "r20")) {
		TH_LOG("message: %s", e->msg);
	}
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 20 * MiB, PAGE));
	ms_slotmap__clear_ops(self->map);
	EXPECT_EQ(NULL, ms_slotmap__error(self->map));
	/* a freed id can be had again */
	DEL(self->sys, r[5]);
	ADD(self->sys, 0x40000000, r[5]);
	EXPECT_OPS(self->map,
		   "delete 5 0x500000+0x0 f=0\n"
		   "create 5 0x40000000+0x1000 f=0\n");
}

/* rule 5.2 with rule 2.1: max_slots 0 means 32; chunks of one section count */
TEST_F(km, rule_5_2_default_limit_and_split_exhaustion)
{
	struct ms_region *big = KEEP(RAM("big", 40 * PAGE));
	const struct ms_error *e;

	ADD(self->sys, 0, big);
	MAP(.max_slot_size = PAGE);
	EXPECT_EQ(MS_KVM_MEMSLOTS_DEFAULT, ms_slotmap__max_slots(self->map));
	EXPECT_EQ(32, nr_ops(self->map));
	EXPECT_EQ(32, ms_slotmap__nr_used(self->map));
	e = ms_slotmap__error(self->map);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(-ENOSPC, e->err);
}

/* rule 5.3: lookup is by exact (start, size); a section whose chunks have no
 * slot is skipped silently (deletion, dirty-log flag changes) */
TEST_F(km, rule_5_3_exact_lookup_and_skip)
{
	struct ms_region *a = KEEP(RAM("a", 0x10000)), *b = KEEP(RAM("b", 0x10000));
	struct ms_region *io = KEEP(IO("io", 0x1000));
	const struct ms_memslot *s;

	ADD(self->sys, 0x100000, a);
	ADD(self->sys, 0x0, io);
	MAP(.max_slots = 1);
	EXPECT_OPS(self->map, "create 0 0x100000+0x10000 f=0\n");
	s = ms_slotmap__lookup(self->map, 0x100000, 0x10000);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, s->slot);
	EXPECT_EQ(a, s->mr);
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0x100000, 0x1000));
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0x100000, 0x20000));
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0x101000, 0xf000));
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0xff000, 0x10000));

	/* b finds no free slot: it is in the view but has no slot */
	ADD(self->sys, 0x200000, b);
	EXPECT_NE(NULL, ms_slotmap__error(self->map));
	EXPECT_EQ(0, nr_ops(self->map));
	ms_slotmap__clear_ops(self->map);
	/* its flag change and its deletion find no slot: nothing, no error */
	ms_region__set_log(b, true);
	EXPECT_OPS(self->map, "");
	DEL(self->sys, b);
	EXPECT_OPS(self->map, "");
	/* the same for MMIO with a logging client */
	ms_region__set_log(io, true);
	EXPECT_OPS(self->map, "");
	EXPECT_EQ(1, ms_slotmap__nr_used(self->map));
}

/*
 * rules 5.1-5.4 at scale: thousands of slots created and deleted in random
 * batches, with an executor that fails now and then, against a brute-force
 * model of the table. Every op must carry the model's id (the lowest free
 * one; none when the limit is reached), every lookup must find the model's
 * slot: the one exactly at (gpa, size), and of two there (one the kernel
 * kept when its delete failed, one created since for another region of the
 * same size) the newer one.
 */
#define CHURN_POS	3000	/* places for a region, CHURN_STRIDE apart */
#define CHURN_STRIDE	(16 * PAGE)
#define CHURN_MAX	2000	/* the slot limit: some creates find no free id */
#define CHURN_BATCHES	1600	/* transactions */
#define CHURN_PHASE	400	/* of them mostly adding, then as many mostly deleting */
#define CHURN_BATCH	24	/* at most this many changes in one */
#define CHURN_FAIL	32	/* one executor call in this many fails */

struct churn_slot {
	bool used;
	uint64_t gpa, size, seq;
	const struct ms_region *mr;
};

struct churn {
	struct churn_slot slot[CHURN_MAX];	/* index = id */
	unsigned int nr_used;
	uint64_t seq;
	uint32_t rng, exec_rng;
	/* at each place: a region of 1-3 pages, another of the same size, one a page larger */
	struct ms_region *mr[CHURN_POS][3];
	int mapped[CHURN_POS];			/* variant in the view, -1: none */
	unsigned int touched[CHURN_POS];	/* last batch that changed the place */
	unsigned int kept, newer, full;		/* what the run went through */
};

static uint32_t churn_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static int churn_exec(void *opaque, const struct ms_slot_op *op)
{
	struct churn *c = opaque;

	(void)op;
	return churn_rand(&c->exec_rng) % CHURN_FAIL ? 0 : -EIO;
}

static uint64_t churn_gpa(int pos)
{
	return (uint64_t)pos * CHURN_STRIDE;
}

static uint64_t churn_size(int pos, int variant)
{
	return (1 + pos % 3 + (variant == 2)) * PAGE;
}

/* The newest used slot exactly at (@gpa, @size), or -1. */
static int churn_lookup(const struct churn *c, uint64_t gpa, uint64_t size)
{
	int found = -1;

	for (int id = 0; id < CHURN_MAX; id++) {
		const struct churn_slot *s = &c->slot[id];

		if (s->used && s->gpa == gpa && s->size == size &&
		    (found < 0 || s->seq > c->slot[found].seq))
			found = id;
	}
	return found;
}

static int churn_lowest_free(const struct churn *c)
{
	for (int id = 0; id < CHURN_MAX; id++)
		if (!c->slot[id].used)
			return id;
	return -1;
}

/* The next op of the log must be @kind on @id at @gpa; Return: its result. */
static int churn_op(struct __test_metadata *_metadata, const struct ms_slot_op *ops, size_t nr,
		    size_t *i, enum ms_slot_op_kind kind, int id, uint64_t gpa)
{
	const struct ms_slot_op *op;

	if (*i >= nr) {
		TH_LOG("missing %s %d 0x%" PRIx64, kind_str(kind), id, gpa);
		_metadata->exit_code = KSFT_FAIL;
		return 0;
	}
	op = &ops[(*i)++];
	if (op->kind != kind || op->slot.slot != (uint32_t)id || op->slot.gpa != gpa) {
		TH_LOG("op %s %u 0x%" PRIx64 ", model %s %d 0x%" PRIx64, kind_str(op->kind),
		       op->slot.slot, op->slot.gpa, kind_str(kind), id, gpa);
		_metadata->exit_code = KSFT_FAIL;
	}
	return op->ret;
}

/* The commit of one batch as the model sees it: deletions, then additions,
 * each in address order (rule 6.4), against the op log. */
static void churn_commit(struct __test_metadata *_metadata, struct churn *c, const int *del,
			 int ndel, const int *add, int nadd, const struct ms_slotmap *map)
{
	const struct ms_slot_op *ops;
	size_t nr, i = 0;

	ops = ms_slotmap__ops(map, &nr);
	for (int k = 0; k < ndel; k++) {
		int pos = del[k] / 3, v = del[k] % 3;
		int id = churn_lookup(c, churn_gpa(pos), churn_size(pos, v));

		if (id < 0)
			continue;
		if (churn_op(_metadata, ops, nr, &i, MS_SLOT_OP_DELETE, id, churn_gpa(pos))) {
			c->kept++;
			continue;
		}
		c->slot[id].used = false;
		c->nr_used--;
	}
	for (int k = 0; k < nadd; k++) {
		int pos = add[k] / 3, v = add[k] % 3;
		int id = churn_lookup(c, churn_gpa(pos), churn_size(pos, v));

		if (id >= 0 && c->slot[id].mr == c->mr[pos][v])
			continue;	/* the kept slot is the one wanted */
		if (id >= 0)
			c->newer++;
		id = churn_lowest_free(c);
		if (id < 0) {
			c->full++;
			continue;
		}
		if (churn_op(_metadata, ops, nr, &i, MS_SLOT_OP_CREATE, id, churn_gpa(pos)))
			continue;
		c->slot[id] = (struct churn_slot){
			.used = true,
			.gpa = churn_gpa(pos),
			.size = churn_size(pos, v),
			.seq = ++c->seq,
			.mr = c->mr[pos][v],
		};
		c->nr_used++;
	}
	EXPECT_EQ(nr, i);
}

/* The places of the changes @places[0..@n) (all places if NULL), in both
 * sizes: the map finds what the model finds. */
static void churn_check_lookups(struct __test_metadata *_metadata, const struct churn *c,
				const struct ms_slotmap *map, const int *places, int n)
{
	static int want[CHURN_POS][2];

	memset(want, -1, sizeof(want));
	for (int id = 0; id < CHURN_MAX; id++) {
		const struct churn_slot *s = &c->slot[id];
		int pos = (int)(s->gpa / CHURN_STRIDE), big = s->size != churn_size(pos, 0);

		if (s->used && (want[pos][big] < 0 || s->seq > c->slot[want[pos][big]].seq))
			want[pos][big] = id;
	}
	for (int k = 0; k < (places ? n : CHURN_POS); k++) {
		int pos = places ? places[k] / 3 : k;

		for (int big = 0; big < 2; big++) {
			const struct ms_memslot *s;

			s = ms_slotmap__lookup(map, churn_gpa(pos), churn_size(pos, 2 * big));
			EXPECT_EQ(want[pos][big], s ? (int)s->slot : -1) {
				TH_LOG("place %d, size %d", pos, big);
			}
		}
		/* no slot starts inside a place or is larger than 4 pages */
		EXPECT_EQ(NULL, ms_slotmap__lookup(map, churn_gpa(pos) + PAGE, PAGE));
		EXPECT_EQ(NULL, ms_slotmap__lookup(map, churn_gpa(pos), 5 * PAGE));
	}
	EXPECT_EQ(c->nr_used, ms_slotmap__nr_used(map));
}

struct churn_walk {
	const struct churn *c;
	int next;		/* lowest id not visited yet */
	int bad;
};

static int churn_visit(const struct ms_memslot *s, void *opaque)
{
	struct churn_walk *w = opaque;
	const struct churn_slot *m = &w->c->slot[s->slot];

	/* ascending ids, all used in the model, none left out */
	for (; w->next < (int)s->slot; w->next++)
		w->bad += w->c->slot[w->next].used;
	w->next = (int)s->slot + 1;
	w->bad += !m->used || m->gpa != s->gpa || m->size != s->size || m->mr != s->mr;
	return 0;
}

static int churn_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

TEST_F(km, rule_5_many_slots_against_a_model)
{
	size_t len = CHURN_POS * 3 * 4 * PAGE;
	struct churn *c = calloc(1, sizeof(*c));
	struct churn_walk w;
	char *host;

	ASSERT_NE(NULL, c);
	host = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, host);
	c->rng = 0x5107;
	c->exec_rng = 0xfa11;
	for (int pos = 0; pos < CHURN_POS; pos++) {
		c->mapped[pos] = -1;
		for (int v = 0; v < 3; v++)
			c->mr[pos][v] = NEW_OK(ms_region__new_ram_ptr(self->ctx, NULL,
					churn_size(pos, v), host + (pos * 3 + v) * 4 * PAGE, NULL));
	}
	MAP(.max_slots = CHURN_MAX, .exec = churn_exec, .exec_opaque = c);

	for (unsigned int b = 1; b <= CHURN_BATCHES; b++) {
		bool adding = (b - 1) / CHURN_PHASE % 2 == 0;
		int del[CHURN_BATCH], add[CHURN_BATCH], ndel = 0, nadd = 0;
		int n = 1 + churn_rand(&c->rng) % CHURN_BATCH;

		BEGIN();
		for (int k = 0; k < n; k++) {
			int pos = churn_rand(&c->rng) % CHURN_POS, v = c->mapped[pos];
			/* one change in 16 goes against the phase */
			bool with = churn_rand(&c->rng) % 16 != 0;

			if (c->touched[pos] == b || (v < 0) != (adding == with))
				continue;
			c->touched[pos] = b;
			if (v >= 0) {
				DEL(self->sys, c->mr[pos][v]);
				del[ndel++] = pos * 3 + v;
				c->mapped[pos] = -1;
			} else {
				v = churn_rand(&c->rng) % 3;
				ADD(self->sys, churn_gpa(pos), c->mr[pos][v]);
				add[nadd++] = pos * 3 + v;
				c->mapped[pos] = v;
			}
		}
		COMMIT();
		qsort(del, ndel, sizeof(*del), churn_cmp);
		qsort(add, nadd, sizeof(*add), churn_cmp);
		churn_commit(_metadata, c, del, ndel, add, nadd, self->map);
		ms_slotmap__clear_ops(self->map);
		churn_check_lookups(_metadata, c, self->map, del, ndel);
		churn_check_lookups(_metadata, c, self->map, add, nadd);
		if (b % 100 == 0) {
			churn_check_lookups(_metadata, c, self->map, NULL, 0);
			w = (struct churn_walk){ .c = c };
			EXPECT_EQ(0, ms_slotmap__for_each(self->map, churn_visit, &w));
			while (w.next < CHURN_MAX)
				w.bad += c->slot[w.next++].used;
			EXPECT_EQ(0, w.bad) {
				TH_LOG("batch %u: %d slots differ from the model", b, w.bad);
			}
		}
		if (_metadata->exit_code)
			break;
	}
	TH_LOG("%u slots used, %u deletes failed, %u newer slots on a kept one, "
	       "%u creates found the table full", c->nr_used, c->kept, c->newer, c->full);
	/* the run went where it should */
	EXPECT_LT(0, c->kept);
	EXPECT_LT(0, c->newer);
	EXPECT_LT(0, c->full);

	/* the map's kept slots hold regions: free it before them and their memory */
	ms_slotmap__free(self->map);
	self->map = NULL;
	for (int pos = 0; pos < CHURN_POS; pos++) {
		if (c->mapped[pos] >= 0)
			DEL(self->sys, c->mr[pos][c->mapped[pos]]);
		for (int v = 0; v < 3; v++)
			ms_region__unref(c->mr[pos][v]);
	}
	munmap(host, len);
	free(c);
}

/* ---- 6. creating, deleting and updating slots ------------------------------------ */

/* rules 6.1, 6.2: a create records as_id, gpa, size, flags, region, offset and
 * host address; a delete carries the old gpa and host address, size 0 and
 * flags 0, even for a logging or read-only slot */
TEST_F(km, rule_6_1_6_2_create_and_delete)
{
	struct ms_region *ram = KEEP(RAM("ram", 0x4000)), *al, *rom = KEEP(ROM("rom", 0x2000));
	const struct ms_slot_op *ops;
	char *host = ms_region__host_ptr(ram);
	size_t nr;

	ADD(self->sys, 0x10000, ram);
	al = KEEP(ALIAS("al", ram, 0x1000, 0x2000));
	ADD(self->sys, 0x80000, al);
	ADD(self->sys, 0x90000, rom);
	MAP();
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(3, nr);
	EXPECT_EQ(MS_SLOT_OP_CREATE, ops[1].kind);
	EXPECT_EQ(1, ops[1].slot.slot);
	EXPECT_EQ(0, ops[1].slot.as_id);
	EXPECT_EQ(0x80000, ops[1].slot.gpa);
	EXPECT_EQ(0x2000, ops[1].slot.size);
	EXPECT_EQ(0, ops[1].slot.flags);
	EXPECT_EQ(ram, ops[1].slot.mr);		/* the terminating region, not the alias */
	EXPECT_EQ(0x1000, ops[1].slot.offset_in_region);
	EXPECT_EQ(host + 0x1000, ops[1].slot.hva);
	EXPECT_EQ(host, ops[0].slot.hva);
	ms_slotmap__clear_ops(self->map);

	DEL(self->sys, al);
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(1, nr);
	EXPECT_EQ(MS_SLOT_OP_DELETE, ops[0].kind);
	EXPECT_EQ(1, ops[0].slot.slot);
	EXPECT_EQ(0x80000, ops[0].slot.gpa);
	EXPECT_EQ(0, ops[0].slot.size);
	EXPECT_EQ(0, ops[0].slot.flags);
	EXPECT_EQ(host + 0x1000, ops[0].slot.hva);
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0x80000, 0x2000));
	ms_slotmap__clear_ops(self->map);

	ms_region__set_log(ram, true);
	ms_region__set_log(rom, true);
	EXPECT_OPS(self->map,
		   "update 0 0x10000+0x4000 f=log old=0\n"
		   "update 2 0x90000+0x2000 f=log|ro old=ro\n");
	DEL(self->sys, ram);
	DEL(self->sys, rom);
	EXPECT_OPS(self->map,
		   "delete 0 0x10000+0x0 f=0\n"
		   "delete 2 0x90000+0x0 f=0\n");
	EXPECT_EQ(0, ms_slotmap__nr_used(self->map));
}

struct exec_log {
	char text[1024];
	int fail_at;		/* 1-based call that fails, 0: none */
	int calls;
};

static int exec_fn(void *opaque, const struct ms_slot_op *op)
{
	struct exec_log *x = opaque;
	size_t l = strlen(x->text);

	x->calls++;
	snprintf(x->text + l, sizeof(x->text) - l, "%s %u;", kind_str(op->kind), op->slot.slot);
	return x->calls == x->fail_at ? -EEXIST : 0;
}

/* rules 6.1, 6.2, 6.8: the executor (the ioctl) sees every op in log order; a
 * failure is recorded and the table keeps what the mapping decided */
TEST_F(km, rule_6_1_executor)
{
	struct exec_log x = { .fail_at = 2 };
	struct ms_region *a = KEEP(RAM("a", PAGE));
	const struct ms_error *e;

	ADD(self->sys, 0, a);
	ADD_PUT(self->sys, MiB, RAM("b", PAGE));
	MAP(.exec = exec_fn, .exec_opaque = &x);
	EXPECT_STREQ("create 0;create 1;", x.text);
	e = ms_slotmap__error(self->map);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(-EEXIST, e->err);
	EXPECT_NE(NULL, strstr(e->msg, "slot 1")) {
		TH_LOG("message: %s", e->msg);
	}
	/* the details as fields: an executor failure, not an injected one */
	EXPECT_EQ(MS_ERROR_KVM, e->flags);
	EXPECT_EQ(MS_SLOT_OP_CREATE, e->op);
	EXPECT_EQ(1, e->slot);
	EXPECT_EQ(0, e->as_id);
	EXPECT_EQ(MiB, e->gpa);
	EXPECT_EQ(PAGE, e->size);
	EXPECT_EQ(EEXIST, e->kvm_errno);
	/* the table keeps what the kernel holds: the failed create left no slot */
	EXPECT_EQ(1, ms_slotmap__nr_used(self->map));
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, MiB, PAGE));
	ms_slotmap__clear_ops(self->map);
	DEL(self->sys, a);
	EXPECT_STREQ("create 0;create 1;delete 0;", x.text);
	EXPECT_OPS(self->map, "delete 0 0x0+0x0 f=0\n");
}

/* The KVM binding and another executor exclude each other. */
TEST_F(km, exec_or_kvm)
{
	struct exec_log x = { 0 };
	/* never dereferenced: the options are refused first */
	MS_OPTS(ms_slotmap_opts, o, .exec = exec_fn, .exec_opaque = &x,
		.kvm = (struct ms_kvm *)&x);
	struct ms_error err = { 0 };

	errno = 0;
	EXPECT_EQ(NULL, ms_slotmap__new(self->as, &o, &err));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, err.err);
	EXPECT_EQ(0, x.calls);
}

/* A failed delete leaves the slot in the kernel and the table; mapping the
 * same range of the same region again reuses it instead of issuing a
 * create the kernel would refuse with EEXIST (the rollback of a failed
 * unplug does exactly this). */
TEST_F(km, failed_delete_slot_is_reused)
{
	struct exec_log x = { .fail_at = 2 };
	struct ms_region *a = KEEP(RAM("a", PAGE));

	ADD(self->sys, 0, a);
	MAP(.exec = exec_fn, .exec_opaque = &x);
	DEL(self->sys, a);
	EXPECT_STREQ("create 0;delete 0;", x.text);
	EXPECT_EQ(1, ms_slotmap__nr_used(self->map));
	ADD(self->sys, 0, a);
	/* no second create: the kept slot 0 is the one wanted */
	EXPECT_STREQ("create 0;delete 0;", x.text);
	EXPECT_EQ(1, ms_slotmap__nr_used(self->map));
	EXPECT_NE(NULL, ms_slotmap__lookup(self->map, 0, PAGE));
}

/* rule 6.3: LOG_DIRTY_PAGES iff the dirty-log mask is non-zero (VGA client or
 * global tracking of migratable RAM); READONLY for ROM and ROMD */
TEST_F(km, rule_6_3_flags)
{
	struct ms_region *ram = KEEP(RAM("ram", 0x10000)), *fl, *ptr_ram;
	static char host[0x4000] __attribute__((aligned(0x1000)));

	fl = KEEP(ROMDEV("flash", 0x10000));
	ptr_ram = KEEP(ms_region__new_ram_ptr(self->ctx, "ptr", sizeof(host), host, NULL));
	ADD(self->sys, 0, ram);
	ADD_PUT(self->sys, 0x100000, ROM("rom", 0x10000));
	ADD(self->sys, 0x200000, fl);
	ADD(self->sys, 0x300000, ptr_ram);
	MAP();
	EXPECT_OPS(self->map,
		   "create 0 0x0+0x10000 f=0\n"
		   "create 1 0x100000+0x10000 f=ro\n"
		   "create 2 0x200000+0x10000 f=ro\n"
		   "create 3 0x300000+0x4000 f=0\n");
	/* VGA logging */
	ms_region__set_log(ram, true);
	EXPECT_EQ(MS_DIRTY_VGA, ms_region__dirty_log_mask(ram));
	EXPECT_OPS(self->map, "update 0 0x0+0x10000 f=log old=0\n");
	/* a slot created while its region logs carries the flag at once */
	DEL(self->sys, ram);
	ADD(self->sys, 0x400000, ram);
	EXPECT_OPS(self->map,
		   "delete 0 0x0+0x0 f=0\n"
		   "create 0 0x400000+0x10000 f=log\n");
	ms_region__set_log(ram, false);
	EXPECT_OPS(self->map, "update 0 0x400000+0x10000 f=0 old=log\n");
	/* global dirty tracking: migratable RAM, ROM and ROM devices; caller
	 * memory is not migratable */
	ASSERT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	EXPECT_OPS(self->map,
		   "update 1 0x100000+0x10000 f=log|ro old=ro\n"
		   "update 2 0x200000+0x10000 f=log|ro old=ro\n"
		   "update 0 0x400000+0x10000 f=log old=0\n");
	ms_region__set_migratable(ptr_ram, true);
	EXPECT_OPS(self->map, "update 3 0x300000+0x4000 f=log old=0\n");
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_OPS(self->map,
		   "update 1 0x100000+0x10000 f=ro old=log|ro\n"
		   "update 2 0x200000+0x10000 f=ro old=log|ro\n"
		   "update 3 0x300000+0x4000 f=0 old=log\n"
		   "update 0 0x400000+0x10000 f=0 old=log\n");
}

/* rule 6.4: within one commit all removals run before all additions, so
 * freed ids are reused by the same commit; vCPUs are paused iff a removed
 * range overlaps an added one */
TEST_F(km, rule_6_4_batching)
{
	struct ms_region *a = KEEP(RAM("a", 0x10000)), *b = KEEP(RAM("b", 0x10000));
	struct ms_region *c = KEEP(RAM("c", 0x10000)), *d = KEEP(RAM("d", 0x10000));
	struct ms_region *io = KEEP(IO("io", 0x1000));
	const struct ms_slot_op *ops;
	size_t nr;

	ADD(self->sys, 0x100000, a);
	ADD(self->sys, 0x200000, b);
	MAP();
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(2, nr);
	EXPECT_EQ(1, ops[0].commit);	/* the registration replay */
	EXPECT_EQ(1, ops[1].commit);
	EXPECT_FALSE(ms_slotmap__vcpu_pause_needed(self->map));
	ms_slotmap__clear_ops(self->map);

	/* the addition is at a lower address and comes first in the diff */
	BEGIN();
	ADD(self->sys, 0x0, c);
	DEL(self->sys, b);
	DEL(self->sys, a);
	COMMIT();
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(3, nr);
	EXPECT_EQ(ops[0].commit, ops[2].commit);
	EXPECT_LT(1, ops[0].commit);
	EXPECT_OPS(self->map,
		   "delete 0 0x100000+0x0 f=0\n"
		   "delete 1 0x200000+0x0 f=0\n"
		   "create 0 0x0+0x10000 f=0\n");
	EXPECT_FALSE(ms_slotmap__vcpu_pause_needed(self->map));

	/* replace c [0, 0x10000) by d [0x8000, 0x18000): overlap */
	BEGIN();
	DEL(self->sys, c);
	ADD(self->sys, 0x8000, d);
	COMMIT();
	EXPECT_OPS(self->map,
		   "delete 0 0x0+0x0 f=0\n"
		   "create 0 0x8000+0x10000 f=0\n");
	EXPECT_TRUE(ms_slotmap__vcpu_pause_needed(self->map));

	/* MMIO sections are queued too: an MMIO range appearing where nothing
	 * was removed needs no pause ... */
	ADD(self->sys, 0x800000, io);
	EXPECT_OPS(self->map, "");
	EXPECT_FALSE(ms_slotmap__vcpu_pause_needed(self->map));
	/* ... but one replacing part of a RAM slot does */
	DEL(self->sys, io);
	ADDP(self->sys, 0x10000, io, 1);
	EXPECT_OPS(self->map,
		   "delete 0 0x8000+0x0 f=0\n"
		   "create 0 0x8000+0x8000 f=0\n"
		   "create 1 0x11000+0x7000 f=0\n");
	EXPECT_TRUE(ms_slotmap__vcpu_pause_needed(self->map));
}

/* rule 6.4: "if both queues are empty nothing happens": a commit that
 * changed nothing in this address space (here: another address space
 * changed) pauses no vCPU, so the last commit did not need a pause */
TEST_F(km, rule_6_4_empty_commit_needs_no_pause)
{
	struct ms_region *c = KEEP(RAM("c", 0x10000)), *d = KEEP(RAM("d", 0x10000));

	self->as2_root = CONT("other", UINT64_MAX);
	self->as2 = NEW_OK(ms_as__new(self->ctx, self->as2_root, "other", NULL));
	ADD(self->sys, 0, c);
	MAP();
	BEGIN();
	DEL(self->sys, c);
	ADD(self->sys, 0x8000, d);
	COMMIT();
	EXPECT_TRUE(ms_slotmap__vcpu_pause_needed(self->map));
	ms_slotmap__clear_ops(self->map);
	ADD_PUT(self->as2_root, 0, RAM("elsewhere", 0x1000));
	EXPECT_OPS(self->map, "");
	EXPECT_FALSE(ms_slotmap__vcpu_pause_needed(self->map));
}

/* rule 6.5: the QEMU 7.2 PC start, -m 256: exactly the first 7 calls of
 * samples/qemu-7.2/kvm-ioctls-boot.txt (after them SeaBIOS reprograms PAM) */
TEST_F(km, rule_6_5_pc_boot_trace)
{
	struct kop k[MAX_KOPS];
	const struct ms_slot_op *ops;
	int n = LOAD_TRACE("kvm-ioctls-boot.txt", k);
	size_t nr;

	ASSERT_LE(7, n);
	MAP();
	EXPECT_OPS(self->map, "");
	build_pc(_metadata, self);
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(7, nr);
	EXPECT_TRACE(self->map, 0, k, 0, 7);
	/* three commits: ram-below-4g, pci, the PAM transaction */
	EXPECT_LT(ops[0].commit, ops[1].commit);
	EXPECT_LT(ops[1].commit, ops[2].commit);
	for (int i = 3; i < 7; i++)
		EXPECT_EQ(ops[2].commit, ops[i].commit);
	EXPECT_EQ(MS_SLOT_OP_DELETE, ops[2].kind);
	EXPECT_TRUE(ms_slotmap__vcpu_pause_needed(self->map));
	EXPECT_SLOTS(self->map,
		     "0 0x0+0xc0000 f=0 pc.ram@0x0\n"
		     "1 0xfffc0000+0x40000 f=ro pc.bios@0x0\n"
		     "2 0xc0000+0x20000 f=ro pc.rom@0x0\n"
		     "3 0xe0000+0x20000 f=ro pc.bios@0x20000\n"
		     "4 0x100000+0xff00000 f=0 pc.ram@0x100000\n");
	EXPECT_EQ(NULL, ms_slotmap__error(self->map));
}

/* rule 6.5 and samples/qemu-7.2/kvm-ioctls-hp.txt: -m 256,slots=4,maxmem=8G;
 * the boot part is the same, then hot-adding a 1 GiB and a 512 MiB DIMM into
 * "device-memory" at 4 GiB adds slots 5 and 6 */
TEST_F(km, rule_6_5_dimm_hotplug_trace)
{
	struct kop k[MAX_KOPS];
	int n = LOAD_TRACE("kvm-ioctls-hp.txt", k);
	struct ms_region *dm;
	const struct ms_slot_op *ops;
	size_t nr;

	ASSERT_EQ(9, n);
	MAP();
	build_pc(_metadata, self);
	/* pc_memory_init maps the (empty) device-memory container at boot */
	dm = KEEP(CONT("device-memory", 7 * GiB));
	ADD(self->sys, 4 * GiB, dm);
	ASSERT_EQ(7, nr_ops(self->map));
	EXPECT_TRACE(self->map, 0, k, 0, 7);
	ms_slotmap__clear_ops(self->map);

	ADD_PUT(dm, 0, RAM("dimm1", GiB));
	ADD_PUT(dm, GiB, RAM("dimm2", 512 * MiB));
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(2, nr);
	EXPECT_TRACE(self->map, 0, k, 7, 2);
	EXPECT_EQ(MS_SLOT_OP_CREATE, ops[0].kind);
	EXPECT_EQ(MS_SLOT_OP_CREATE, ops[1].kind);
	EXPECT_EQ(NULL, ms_slotmap__error(self->map));
}

/* rule 6.6: log_start acts only for the first logging client, log_stop only
 * when the last one is gone; the flag change is an in-place update */
TEST_F(km, rule_6_6_first_and_last_client)
{
	struct ms_region *vram = KEEP(RAM("vram", 0x20000));
	const struct ms_slot_op *ops;
	size_t nr;

	ADD(self->sys, 0xa0000, vram);
	MAP();
	EXPECT_OPS(self->map, "create 0 0xa0000+0x20000 f=0\n");
	ms_region__set_log(vram, true);
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(1, nr);
	EXPECT_EQ(MS_SLOT_OP_UPDATE, ops[0].kind);
	EXPECT_EQ(ms_region__host_ptr(vram), ops[0].slot.hva);
	EXPECT_EQ(vram, ops[0].slot.mr);
	EXPECT_OPS(self->map, "update 0 0xa0000+0x20000 f=log old=0\n");
	ms_region__set_log(vram, true);			/* second VGA user */
	EXPECT_OPS(self->map, "");
	ASSERT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	EXPECT_EQ(MS_DIRTY_VGA | MS_DIRTY_MIGRATION, ms_region__dirty_log_mask(vram));
	EXPECT_OPS(self->map, "");			/* old mask was not 0 */
	ms_region__set_log(vram, false);
	ms_region__set_log(vram, false);
	EXPECT_OPS(self->map, "");			/* new mask is not 0 */
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_OPS(self->map, "update 0 0xa0000+0x20000 f=0 old=log\n");
	EXPECT_SLOTS(self->map, "0 0xa0000+0x20000 f=0 vram@0x0\n");
}

/* rule 6.6 with 6.4: in one transaction, a flag change of an unchanged range
 * is issued when the diff reports it, before the commit's removals and
 * additions; a range added by the same transaction is created with the flag */
TEST_F(km, rule_6_6_flags_within_a_transaction)
{
	struct ms_region *a = KEEP(RAM("a", 0x10000)), *b = KEEP(RAM("b", 0x10000));
	struct ms_region *c = KEEP(RAM("c", 0x10000));

	ADD(self->sys, 0x100000, a);
	ADD(self->sys, 0x200000, c);
	MAP();
	ms_slotmap__clear_ops(self->map);
	BEGIN();
	DEL(self->sys, c);
	ADD(self->sys, 0x0, b);
	ms_region__set_log(b, true);
	ms_region__set_log(a, true);
	COMMIT();
	EXPECT_OPS(self->map,
		   "update 0 0x100000+0x10000 f=log old=0\n"
		   "delete 1 0x200000+0x0 f=0\n"
		   "create 1 0x0+0x10000 f=log\n");
}

/* rules 6.3, 6.6: a map registered while global dirty tracking runs creates
 * its slots with LOG_DIRTY_PAGES at once (the replay's log_start finds no
 * slot yet, rule 5.3) */
TEST_F(km, rule_6_6_register_during_migration)
{
	ADD_PUT(self->sys, 0x0, RAM("ram", 0x10000));
	ADD_PUT(self->sys, 0x100000, ROM("rom", 0x10000));
	ASSERT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	MAP();
	EXPECT_OPS(self->map,
		   "create 0 0x0+0x10000 f=log\n"
		   "create 1 0x100000+0x10000 f=log|ro\n");
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_OPS(self->map,
		   "update 0 0x0+0x10000 f=0 old=log\n"
		   "update 1 0x100000+0x10000 f=ro old=log|ro\n");
}

/* rule 6.6 and samples/qemu-7.2/kvm-ioctls-mig.txt: starting migration (global
 * dirty logging) updates every slot once, in ascending address order */
TEST_F(km, rule_6_6_migration_trace)
{
	struct kop k[MAX_KOPS];
	int n = LOAD_TRACE("kvm-ioctls-mig.txt", k);
	const struct ms_slot_op *ops;
	size_t nr;

	ASSERT_EQ(12, n);
	MAP();
	build_pc(_metadata, self);
	ASSERT_EQ(7, nr_ops(self->map));
	EXPECT_TRACE(self->map, 0, k, 0, 7);
	ms_slotmap__clear_ops(self->map);
	ASSERT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(5, nr);
	EXPECT_TRACE(self->map, 0, k, 7, 5);
	for (size_t i = 0; i < nr; i++) {
		EXPECT_EQ(MS_SLOT_OP_UPDATE, ops[i].kind);
		EXPECT_EQ(ops[i].slot.flags & ~MS_KVM_MEM_LOG_DIRTY_PAGES, ops[i].old_flags);
	}
	EXPECT_EQ(5, ms_slotmap__nr_used(self->map));
}

/* rule 6.7: a READONLY change is never an update in place: the slot is
 * deleted and created again (the freed id is the lowest free one, rule 6.5) */
TEST_F(km, rule_6_7_readonly_change)
{
	struct ms_region *a = KEEP(RAM("a", 0x10000)), *b = KEEP(RAM("b", 0x10000));
	const struct ms_slot_op *ops;
	size_t nr;

	ADD(self->sys, 0, a);
	ADD(self->sys, MiB, b);
	MAP();
	ms_slotmap__clear_ops(self->map);
	ms_region__set_readonly(b, true);
	ops = ms_slotmap__ops(self->map, &nr);
	ASSERT_EQ(2, nr);
	EXPECT_EQ(MS_SLOT_OP_DELETE, ops[0].kind);
	EXPECT_EQ(MS_SLOT_OP_CREATE, ops[1].kind);
	EXPECT_OPS(self->map,
		   "delete 1 0x100000+0x0 f=0\n"
		   "create 1 0x100000+0x10000 f=ro\n");
	ms_region__set_readonly(b, false);
	EXPECT_OPS(self->map,
		   "delete 1 0x100000+0x0 f=0\n"
		   "create 1 0x100000+0x10000 f=0\n");
	/* with a lower id free, the re-created slot takes it */
	DEL(self->sys, a);
	ms_region__set_readonly(b, true);
	EXPECT_OPS(self->map,
		   "delete 0 0x0+0x0 f=0\n"
		   "delete 1 0x100000+0x0 f=0\n"
		   "create 0 0x100000+0x10000 f=ro\n");
	/* a logging slot keeps LOG_DIRTY_PAGES across the re-creation */
	ms_region__set_log(b, true);
	ms_region__set_readonly(b, false);
	EXPECT_OPS(self->map,
		   "update 0 0x100000+0x10000 f=log|ro old=ro\n"
		   "delete 0 0x100000+0x0 f=0\n"
		   "create 0 0x100000+0x10000 f=log\n");
}

/* ---- 8. the mtree "KVM" marker ----------------------------------------------------- */

/* rule 8.1: a slot exactly at the range start with size min(range size, max
 * slot size); unaligned (trimmed) ranges and MMIO show no marker, ROMD does */
TEST_F(km, rule_8_1_has_memory)
{
	struct ms_region *fl = KEEP(ROMDEV("flash", 0x10000));
	struct ms_slotmap *maps[2];

	ADD_PUT(self->sys, 0x0, RAM("lo", 0x1800));		/* slot [0, 0x1000) */
	ADD_PUT(self->sys, 0x10800, RAM("un", 0x2000));		/* slot [0x11000, +0x1000) */
	ADD_PUT(self->sys, 0x100000, RAM("ok", 0x10000));
	ADD_PUT(self->sys, 0x1000000, RAM("big", 0x280000));	/* 3 chunks */
	ADD_PUT(self->sys, 0x2000000, IO("mmio", 0x1000));
	ADD(self->sys, 0xffff0000, fl);
	MAP(.max_slot_size = MiB);
	EXPECT_EQ(7, nr_ops(self->map));
	EXPECT_EQ(NULL, ms_slotmap__error(self->map));

	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x0, 0x1800));
	EXPECT_TRUE(ms_slotmap__has_memory(self->map, 0x0, 0x1000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x10800, 0x2000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x11000, 0x1800));
	EXPECT_TRUE(ms_slotmap__has_memory(self->map, 0x100000, 0x10000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x100000, 0x8000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x101000, 0xf000));
	/* split range: only the first chunk is checked */
	EXPECT_TRUE(ms_slotmap__has_memory(self->map, 0x1000000, 0x280000));
	EXPECT_TRUE(ms_slotmap__has_memory(self->map, 0x1000000, 0x100000));
	EXPECT_TRUE(ms_slotmap__has_memory(self->map, 0x1100000, 0x180000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x1000000, 0x80000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x2000000, 0x1000));
	EXPECT_TRUE(ms_slotmap__has_memory(self->map, 0xffff0000, 0x10000));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0x0, MS_SIZE_2_64));

	maps[0] = self->map;
	maps[1] = NULL;
	EXPECT_STR_FREE("FlatView #0\n"
			" AS \"memory\", root: system\n"
			" Root memory region: system\n"
			"  0000000000000000-00000000000017ff (prio 0, ram): lo\n"
			"  0000000000010800-00000000000127ff (prio 0, ram): un\n"
			"  0000000000100000-000000000010ffff (prio 0, ram): ok KVM\n"
			"  0000000001000000-000000000127ffff (prio 0, ram): big KVM\n"
			"  0000000002000000-0000000002000fff (prio 0, i/o): mmio\n"
			"  00000000ffff0000-00000000ffffffff (prio 0, romd): flash KVM\n"
			"\n",
			mtree_str(self->ctx, MS_MTREE_FLAT, ms_mtree_kvm_marker, maps));
	/* ROMD off: an "i/o" range without a slot */
	EXPECT_EQ(0, ms_region__set_romd(fl, false, NULL));
	EXPECT_FALSE(ms_slotmap__has_memory(self->map, 0xffff0000, 0x10000));
}

/* ---- 10. kernel side --------------------------------------------------------------- */

/* rules 10.2, 1.2, 8.1: the map's KVM address space id is carried in every op
 * (slot field id | as_id << 16); tables of different address spaces are
 * independent; the marker is printed once per address space with a map */
TEST_F(km, rule_10_2_as_id)
{
	struct ms_region *ram = KEEP(RAM("ram", MiB)), *smram = KEEP(RAM("smram", 0x20000));
	struct ms_slotmap *maps[3];
	const struct ms_slot_op *ops;
	struct ms_as *cpu;
	size_t nr;

	ADD(self->sys, 0, ram);
	/* rule 1.2: "mem-container-smram" = all of system at prio 0 + smram at 10 */
	self->as2_root = CONT("mem-container-smram", UINT64_MAX);
	ADD_PUT(self->as2_root, 0, ALIAS("mem-smram", self->sys, 0, UINT64_MAX));
	ADDP(self->as2_root, 0xa0000, smram, 10);
	self->as2 = NEW_OK(ms_as__new(self->ctx, self->as2_root, "KVM-SMRAM", NULL));
	MAP();
	self->map2 = __new_map(_metadata, self->as2, (struct ms_slotmap_opts){ .as_id = 1,
								       .name = "kvm-smram" });
	EXPECT_OPS(self->map, "create 0 0x0+0x100000 f=0\n");
	ops = ms_slotmap__ops(self->map2, &nr);
	ASSERT_EQ(3, nr);
	EXPECT_EQ(1, ops[0].slot.as_id);
	EXPECT_STR_FREE("slot=65536 flags=0 gpa=0x0 size=0xa0000\n"
			"slot=65537 flags=0 gpa=0xa0000 size=0x20000\n"
			"slot=65538 flags=0 gpa=0xc0000 size=0x40000\n",
			ops_kstr(self->map2, 0, 3));
	EXPECT_OPS(self->map2,
		   "create 0 0x0+0xa0000 f=0 as=1\n"
		   "create 1 0xa0000+0x20000 f=0 as=1\n"
		   "create 2 0xc0000+0x40000 f=0 as=1\n");
	EXPECT_EQ(1, ms_slotmap__lookup(self->map2, 0xa0000, 0x20000)->as_id);

	/* a change of system reaches both tables, each with its own ids */
	ADD_PUT(self->sys, 0x1000000, RAM("more", PAGE));
	EXPECT_OPS(self->map, "create 1 0x1000000+0x1000 f=0\n");
	EXPECT_OPS(self->map2, "create 3 0x1000000+0x1000 f=0 as=1\n");

	/* cpu-memory-0 shares the view of "memory" but has no KVM listener */
	cpu = NEW_OK(ms_as__new(self->ctx, self->sys, "cpu-memory-0", NULL));
	maps[0] = self->map;
	maps[1] = self->map2;
	maps[2] = NULL;
	EXPECT_STR_FREE("FlatView #0\n"
			" AS \"memory\", root: system\n"
			" AS \"cpu-memory-0\", root: system\n"
			" Root memory region: system\n"
			"  0000000000000000-00000000000fffff (prio 0, ram): ram KVM\n"
			"  0000000001000000-0000000001000fff (prio 0, ram): more KVM\n"
			"\n"
			"FlatView #1\n"
			" AS \"KVM-SMRAM\", root: mem-container-smram\n"
			" Root memory region: mem-container-smram\n"
			"  0000000000000000-000000000009ffff (prio 0, ram): ram KVM\n"
			"  00000000000a0000-00000000000bffff (prio 10, ram): smram KVM\n"
			"  00000000000c0000-00000000000fffff (prio 0, ram): ram @00000000000c0000 KVM\n"
			"  0000000001000000-0000000001000fff (prio 0, ram): more KVM\n"
			"\n",
			mtree_str(self->ctx, MS_MTREE_FLAT, ms_mtree_kvm_marker, maps));
	ms_as__free(cpu);
}

/* rule 8.1: " KVM" once for each address space sharing the view that has a
 * KVM listener with the slot */
TEST_F(km, rule_8_1_marker_per_address_space)
{
	struct ms_slotmap *maps[3];

	ADD_PUT(self->sys, 0, RAM("ram", MiB));
	ADD_PUT(self->sys, 0x100000, IO("mmio", 0x1000));
	self->as2 = NEW_OK(ms_as__new(self->ctx, self->sys, "memory-too", NULL));
	MAP();
	self->map2 = __new_map(_metadata, self->as2, (struct ms_slotmap_opts){ .as_id = 1 });
	maps[0] = self->map;
	maps[1] = self->map2;
	maps[2] = NULL;
	EXPECT_STR_FREE("FlatView #0\n"
			" AS \"memory\", root: system\n"
			" AS \"memory-too\", root: system\n"
			" Root memory region: system\n"
			"  0000000000000000-00000000000fffff (prio 0, ram): ram KVM KVM\n"
			"  0000000000100000-0000000000100fff (prio 0, i/o): mmio\n"
			"\n",
			mtree_str(self->ctx, MS_MTREE_FLAT, ms_mtree_kvm_marker, maps));
	maps[0] = self->map2;
	maps[1] = NULL;
	EXPECT_STR_FREE("FlatView #0\n"
			" AS \"memory\", root: system\n"
			" AS \"memory-too\", root: system\n"
			" Root memory region: system\n"
			"  0000000000000000-00000000000fffff (prio 0, ram): ram KVM\n"
			"  0000000000100000-0000000000100fff (prio 0, i/o): mmio\n"
			"\n",
			mtree_str(self->ctx, MS_MTREE_FLAT, ms_mtree_kvm_marker, maps));
}

TEST_HARNESS_MAIN
