// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Region data model, the region tree and attribute inheritance:
 * regions-and-flatview.md sections 1-4 (and qemu-mtree-format.md 4 for
 * type strings). Rule numbers refer to regions-and-flatview.md unless
 * "mtree" is named.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

FIXTURE(region) {
	struct ms_ctx *ctx;
	struct ms_region *root;
};

FIXTURE_SETUP(region)
{
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->root = CONT("root", UINT64_MAX);
}

FIXTURE_TEARDOWN(region)
{
	ms_region__unref(self->root);
	ms_ctx__free(self->ctx);
}

static int count_cb(struct ms_region *sub, void *opaque)
{
	(void)sub;
	++*(int *)opaque;
	return 0;
}

static int nr_subregions(const struct ms_region *mr)
{
	int n = 0;

	ms_region__for_each_subregion(mr, count_cb, &n);
	return n;
}

/* Subregion names in list order, joined by spaces. */
struct names {
	char buf[512];
};

static int names_cb(struct ms_region *sub, void *opaque)
{
	struct names *n = opaque;
	const char *s = ms_region__name(sub);
	size_t len = strlen(n->buf);

	snprintf(n->buf + len, sizeof(n->buf) - len, "%s%s", len ? " " : "", s ? s : "(null)");
	return 0;
}

static char *sub_names(const struct ms_region *mr)
{
	struct names n = { .buf = "" };

	ms_region__for_each_subregion(mr, names_cb, &n);
	return strdup(n.buf);
}

/* ---- rule 1.2, 1.3, 1.4, mtree 4.1: kinds, flags, predicates, type strings -- */

enum make {
	MK_CONTAINER, MK_IO, MK_IO_UNASSIGNED, MK_RAM_ANON, MK_RAM_MEMFD, MK_RAM_SHARED,
	MK_RAM_PTR, MK_ROM, MK_ROM_DEVICE, MK_RAM_DEVICE, MK_ALIAS_RAM, MK_ALIAS_ROM,
	MK_ALIAS_ALIAS_ROMD,
};

FIXTURE(kind) {
	struct ms_ctx *ctx;
	struct ms_region *mr, *target, *target2;
	void *host;
};

FIXTURE_VARIANT(kind) {
	enum make make;
	enum ms_region_kind kind;
	bool terminates, ram, rom, romd, rom_device, ram_device, readonly, has_host;
	const char *type;
};

/* rule 1.3 table; mtree 4.1 type strings */
FIXTURE_VARIANT_ADD(kind, container) {
	.make = MK_CONTAINER, .kind = MS_REGION_CONTAINER, .type = "i/o",
};
FIXTURE_VARIANT_ADD(kind, io) {
	.make = MK_IO, .kind = MS_REGION_IO, .terminates = true, .type = "i/o",
};
FIXTURE_VARIANT_ADD(kind, io_unassigned) {
	.make = MK_IO_UNASSIGNED, .kind = MS_REGION_IO, .terminates = true, .type = "i/o",
};
FIXTURE_VARIANT_ADD(kind, ram_anon) {
	.make = MK_RAM_ANON, .kind = MS_REGION_RAM, .terminates = true, .ram = true,
	.has_host = true, .type = "ram",
};
FIXTURE_VARIANT_ADD(kind, ram_memfd) {
	.make = MK_RAM_MEMFD, .kind = MS_REGION_RAM, .terminates = true, .ram = true,
	.has_host = true, .type = "ram",
};
FIXTURE_VARIANT_ADD(kind, ram_shared) {
	.make = MK_RAM_SHARED, .kind = MS_REGION_RAM, .terminates = true, .ram = true,
	.has_host = true, .type = "ram",
};
FIXTURE_VARIANT_ADD(kind, ram_ptr) {
	.make = MK_RAM_PTR, .kind = MS_REGION_RAM, .terminates = true, .ram = true,
	.has_host = true, .type = "ram",
};
FIXTURE_VARIANT_ADD(kind, rom) {
	.make = MK_ROM, .kind = MS_REGION_ROM, .terminates = true, .ram = true, .rom = true,
	.readonly = true, .has_host = true, .type = "rom",
};
FIXTURE_VARIANT_ADD(kind, rom_device) {
	.make = MK_ROM_DEVICE, .kind = MS_REGION_ROM_DEVICE, .terminates = true,
	.rom_device = true, .romd = true, .has_host = true, .type = "romd",
};
FIXTURE_VARIANT_ADD(kind, ram_device) {
	.make = MK_RAM_DEVICE, .kind = MS_REGION_RAM_DEVICE, .terminates = true, .ram = true,
	.ram_device = true, .has_host = true, .type = "ramd",
};
/* rule 1.4: an alias is never RAM itself; mtree 4.1: its type is the target's */
FIXTURE_VARIANT_ADD(kind, alias_ram) {
	.make = MK_ALIAS_RAM, .kind = MS_REGION_ALIAS, .type = "ram",
};
FIXTURE_VARIANT_ADD(kind, alias_rom) {
	.make = MK_ALIAS_ROM, .kind = MS_REGION_ALIAS, .type = "rom",
};
FIXTURE_VARIANT_ADD(kind, alias_alias_romd) {
	.make = MK_ALIAS_ALIAS_ROMD, .kind = MS_REGION_ALIAS, .type = "romd",
};

static const struct ms_region_ops dummy_ops = {
	.read = iodev_read,
	.write = iodev_write,
};

static struct iodev dummy_dev;

FIXTURE_SETUP(kind)
{
	struct ms_ctx *ctx;

	self->ctx = ctx = ms_ctx__new();
	ASSERT_NE(NULL, ctx);
	switch (variant->make) {
	case MK_CONTAINER:
		self->mr = ms_region__new_container(ctx, "r", 0x1000, NULL);
		break;
	case MK_IO:
		self->mr = ms_region__new_io(ctx, "r", 0x1000, &dummy_ops, &dummy_dev, NULL);
		break;
	case MK_IO_UNASSIGNED:
		self->mr = ms_region__new_io(ctx, "r", 0x1000, NULL, NULL, NULL);
		break;
	case MK_RAM_ANON:
		self->mr = ms_region__new_ram(ctx, "r", 0x1000, MS_RAM_ANON, NULL);
		break;
	case MK_RAM_MEMFD:
		self->mr = ms_region__new_ram(ctx, "r", 0x1000, MS_RAM_MEMFD, NULL);
		break;
	case MK_RAM_SHARED:
		self->mr = ms_region__new_ram(ctx, "r", 0x1000, MS_RAM_SHARED_ANON, NULL);
		break;
	case MK_RAM_PTR:
	case MK_RAM_DEVICE:
		self->host = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->host);
		if (variant->make == MK_RAM_PTR)
			self->mr = ms_region__new_ram_ptr(ctx, "r", 0x1000, self->host, NULL);
		else
			self->mr = ms_region__new_ram_device(ctx, "r", 0x1000, self->host, NULL,
							     NULL, NULL);
		break;
	case MK_ROM:
		self->mr = ms_region__new_rom(ctx, "r", 0x1000, NULL);
		break;
	case MK_ROM_DEVICE:
		self->mr = ms_region__new_rom_device(ctx, "r", 0x1000, &dummy_ops, &dummy_dev,
						     NULL);
		break;
	case MK_ALIAS_RAM:
		self->target = ms_region__new_ram(ctx, "t", 0x2000, MS_RAM_ANON, NULL);
		ASSERT_NE(NULL, self->target);
		self->mr = ms_region__new_alias(ctx, "r", self->target, 0x1000, 0x1000, NULL);
		break;
	case MK_ALIAS_ROM:
		self->target = ms_region__new_rom(ctx, "t", 0x2000, NULL);
		ASSERT_NE(NULL, self->target);
		self->mr = ms_region__new_alias(ctx, "r", self->target, 0, 0x1000, NULL);
		break;
	case MK_ALIAS_ALIAS_ROMD:
		self->target2 = ms_region__new_rom_device(ctx, "t2", 0x2000, &dummy_ops,
							  &dummy_dev, NULL);
		ASSERT_NE(NULL, self->target2);
		self->target = ms_region__new_alias(ctx, "t", self->target2, 0, 0x2000, NULL);
		ASSERT_NE(NULL, self->target);
		self->mr = ms_region__new_alias(ctx, "r", self->target, 0x800, 0x1000, NULL);
		break;
	}
	ASSERT_NE(NULL, self->mr);
}

FIXTURE_TEARDOWN(kind)
{
	ms_region__unref(self->mr);
	ms_region__unref(self->target);
	ms_region__unref(self->target2);
	ms_ctx__free(self->ctx);
	if (self->host)
		munmap(self->host, 0x1000);
}

/* rule 1.3, 1.4: flags each initialiser sets and the derived predicates */
TEST_F(kind, flags)
{
	struct ms_region *mr = self->mr;

	EXPECT_EQ(variant->kind, ms_region__kind(mr));
	EXPECT_EQ(variant->terminates, ms_region__terminates(mr));
	EXPECT_EQ(variant->ram, ms_region__is_ram(mr));
	EXPECT_EQ(variant->rom, ms_region__is_rom(mr));
	EXPECT_EQ(variant->romd, ms_region__is_romd(mr));
	EXPECT_EQ(variant->rom_device, ms_region__is_rom_device(mr));
	EXPECT_EQ(variant->ram_device, ms_region__is_ram_device(mr));
	EXPECT_EQ(variant->readonly, ms_region__readonly(mr));
	EXPECT_EQ(variant->kind == MS_REGION_ALIAS, ms_region__alias(mr) != NULL);
	if (variant->has_host)
		EXPECT_NE(NULL, ms_region__host_ptr(mr));
	if (variant->kind == MS_REGION_CONTAINER || variant->kind == MS_REGION_IO)
		EXPECT_EQ(NULL, ms_region__host_ptr(mr));
	if (variant->make == MK_RAM_PTR || variant->make == MK_RAM_DEVICE)
		EXPECT_EQ(self->host, ms_region__host_ptr(mr));
	if (variant->make == MK_RAM_MEMFD)
		EXPECT_LE(0, ms_region__fd(mr));
	if (variant->make == MK_RAM_ANON)
		EXPECT_EQ(-1, ms_region__fd(mr));
}

/* mtree 4.1: memory_region_type() of the final alias target */
TEST_F(kind, type_str)
{
	EXPECT_STREQ(variant->type, ms_region__type_str(self->mr));
}

/* rule 1.2: defaults of every newly initialised region */
TEST_F(kind, defaults)
{
	struct ms_region *mr = self->mr;

	EXPECT_TRUE(ms_region__enabled(mr));
	EXPECT_TRUE(ms_region__romd_mode(mr));
	EXPECT_FALSE(ms_region__nonvolatile(mr));
	EXPECT_FALSE(ms_region__unmergeable(mr));
	EXPECT_EQ(0, ms_region__priority(mr));
	EXPECT_EQ(0, ms_region__addr(mr));
	EXPECT_EQ(NULL, ms_region__container(mr));
	EXPECT_FALSE(ms_region__is_mapped(mr));
	EXPECT_EQ(0, nr_subregions(mr));
	EXPECT_EQ(0, ms_region__dirty_log_mask(mr));
	EXPECT_EQ(0x1000, ms_region__size(mr));
	EXPECT_STREQ("r", ms_region__name(mr));
}

/* mtree 4.2: ROMD off prints i/o; a RAM made read-only prints rom; a read-only
 * alias of RAM still prints ram (its own flag is not considered) */
TEST_F(region, type_str_consequences)
{
	struct ms_region *romd, *ram, *al, *al2;

	romd = NEW_OK(ms_region__new_rom_device(self->ctx, "romd", 0x1000, &dummy_ops,
						&dummy_dev, NULL));
	al2 = ALIAS("al2", romd, 0, 0x1000);
	EXPECT_STREQ("romd", ms_region__type_str(romd));
	EXPECT_STREQ("romd", ms_region__type_str(al2));
	EXPECT_EQ(0, ms_region__set_romd(romd, false, NULL));
	EXPECT_FALSE(ms_region__romd_mode(romd));
	EXPECT_FALSE(ms_region__is_romd(romd));
	EXPECT_TRUE(ms_region__is_rom_device(romd));
	EXPECT_STREQ("i/o", ms_region__type_str(romd));
	EXPECT_STREQ("i/o", ms_region__type_str(al2));
	EXPECT_EQ(0, ms_region__set_romd(romd, true, NULL));
	EXPECT_STREQ("romd", ms_region__type_str(romd));

	ram = RAM("ram", 0x1000);
	al = ALIAS("al", ram, 0, 0x1000);
	ms_region__set_readonly(al, true);
	EXPECT_TRUE(ms_region__readonly(al));
	EXPECT_STREQ("ram", ms_region__type_str(al));
	EXPECT_FALSE(ms_region__is_rom(al));
	ms_region__set_readonly(ram, true);
	EXPECT_TRUE(ms_region__is_rom(ram));
	EXPECT_STREQ("rom", ms_region__type_str(ram));
	EXPECT_STREQ("rom", ms_region__type_str(al));
	ms_region__set_readonly(ram, false);
	EXPECT_FALSE(ms_region__is_rom(ram));

	/* rule 1.6: nonvolatile is an attribute, not a kind */
	ms_region__set_nonvolatile(ram, true);
	EXPECT_TRUE(ms_region__nonvolatile(ram));
	EXPECT_EQ(MS_REGION_RAM, ms_region__kind(ram));
	EXPECT_STREQ("ram", ms_region__type_str(ram));

	ms_region__unref(al);
	ms_region__unref(ram);
	ms_region__unref(al2);
	ms_region__unref(romd);
}

/* rule 1.1: the name is copied; an absent name reads back as NULL */
TEST_F(region, name_copied)
{
	char name[] = "mutable";
	struct ms_region *a = IO(name, 0x10), *b = IO(NULL, 0x10);

	name[0] = 'X';
	EXPECT_STREQ("mutable", ms_region__name(a));
	EXPECT_EQ(NULL, ms_region__name(b));
	ms_region__unref(a);
	ms_region__unref(b);
}

/* rule 1.5: set_romd only applies to ROM devices */
TEST_F(region, romd_only_rom_device)
{
	struct ms_region *ram = RAM("ram", 0x1000);
	struct ms_error err = { 0 };

	EXPECT_EQ(-EINVAL, ms_region__set_romd(ram, false, &err));
	EXPECT_EQ(-EINVAL, err.err);
	EXPECT_NE(0, strlen(err.msg));
	EXPECT_TRUE(ms_region__romd_mode(ram));
	ms_region__unref(ram);
}

/* ---- section 2: sizes ------------------------------------------------------ */

/* rule 2.1, 2.2: UINT64_MAX means 2^64 and reads back as UINT64_MAX */
TEST_F(region, size_2_64)
{
	struct ms_region *c = CONT("c", UINT64_MAX), *io = IO("io", UINT64_MAX);
	struct ms_region *al = ALIAS("al", c, 0, UINT64_MAX);

	EXPECT_U128(MS_SIZE_2_64, ms_region__size128(self->root));
	EXPECT_U128(MS_SIZE_2_64, ms_region__size128(c));
	EXPECT_U128(MS_SIZE_2_64, ms_region__size128(io));
	EXPECT_U128(MS_SIZE_2_64, ms_region__size128(al));
	EXPECT_EQ(UINT64_MAX, ms_region__size(c));
	EXPECT_EQ(UINT64_MAX, ms_region__size(io));

	/* set_size: UINT64_MAX - 1 is exact, UINT64_MAX is 2^64 again */
	EXPECT_EQ(0, ms_region__set_size(c, UINT64_MAX - 1, NULL));
	EXPECT_U128(UINT64_MAX - 1, ms_region__size128(c));
	EXPECT_EQ(UINT64_MAX - 1, ms_region__size(c));
	EXPECT_EQ(0, ms_region__set_size(c, UINT64_MAX, NULL));
	EXPECT_U128(MS_SIZE_2_64, ms_region__size128(c));
	EXPECT_EQ(UINT64_MAX, ms_region__size(c));

	/* a 2^64 I/O region renders as one range of size 2^64 */
	ADD(self->root, 0, io);
	EXPECT_STR_FREE("0x0+0x10000000000000000 io@0x0\n", render_str(self->root));

	ms_region__unref(al);
	ms_region__unref(io);
	ms_region__unref(c);
}

/* rule 2.4: a size-0 region is legal and renders nothing */
TEST_F(region, size_zero)
{
	struct ms_region *z = IO("z", 0), *zc = CONT("zc", 0), *inner = IO("inner", 0x10);
	struct ms_region *al = ALIAS("al", inner, 0, 0);

	EXPECT_EQ(0, ms_region__size(z));
	EXPECT_U128(0, ms_region__size128(z));
	ADD(zc, 0, inner);
	ADD(self->root, 0x1000, z);
	ADD(self->root, 0x2000, zc);
	EXPECT_TRUE(ms_region__is_mapped(z));
	/* the size-0 container clips its child away (rule 5.3 step 3) */
	EXPECT_STR_FREE("", render_str(self->root));
	/* and a size-0 alias shows nothing of its target */
	ADD(self->root, 0x3000, al);
	EXPECT_STR_FREE("", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(inner);
	ms_region__unref(zc);
	ms_region__unref(z);
}

/* rule 2.4, 2.3: base + addr overflowing 64 bits is legal, the overflow is
 * clipped; a region may end exactly at 2^64 */
TEST_F(region, end_at_2_64)
{
	struct ms_region *top = IO("top", 0x1000), *over = IO("over", 0x2000);
	struct ms_region *c = CONT("c", 0x10000), *deep = IO("deep", 0x3000);

	ADD(self->root, 0xfffffffffffff000ull, top);
	EXPECT_STR_FREE("0xfffffffffffff000+0x1000 top@0x0\n", render_str(self->root));
	ms_region__set_address(top, 0xffffffffffffe000ull);
	ADDP(self->root, 0xfffffffffffff800ull, over, 1);
	EXPECT_STR_FREE("0xffffffffffffe000+0x1000 top@0x0\n"
			"0xfffffffffffff800+0x800 over@0x0\n", render_str(self->root));
	/* a container near the top whose child overflows 2^64 */
	ms_region__set_address(top, 0);
	ms_region__set_address(over, 0x10000);
	ADD(c, 0xe000, deep);
	ADD(self->root, 0xffffffffffff0000ull, c);
	EXPECT_STR_FREE("0x0+0x1000 top@0x0\n"
			"0x10000+0x2000 over@0x0\n"
			"0xffffffffffffe000+0x2000 deep@0x0\n", render_str(self->root));
	ms_region__unref(deep);
	ms_region__unref(c);
	ms_region__unref(over);
	ms_region__unref(top);
}

/* ---- section 3: the region tree ------------------------------------------ */

/* rule 3.1, 3.2, 3.6, 3.10: add sets container, addr and priority; del undoes */
TEST_F(region, add_del_basics)
{
	struct ms_region *a = IO("a", 0x10);

	ADDP(self->root, 0x1234, a, 7);
	EXPECT_EQ(self->root, ms_region__container(a));
	EXPECT_EQ(0x1234, ms_region__addr(a));
	EXPECT_EQ(7, ms_region__priority(a));
	EXPECT_TRUE(ms_region__is_mapped(a));
	EXPECT_EQ(1, nr_subregions(self->root));
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a, NULL));
	EXPECT_EQ(NULL, ms_region__container(a));
	EXPECT_FALSE(ms_region__is_mapped(a));
	EXPECT_EQ(0, nr_subregions(self->root));
	/* rule 3.1: plain add sets the priority back to 0 */
	ADD(self->root, 0x10, a);
	EXPECT_EQ(0, ms_region__priority(a));
	/* rule 3.1: negative priorities are fine (signed 32 bit) */
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a, NULL));
	ADDP(self->root, 0x10, a, INT32_MIN);
	EXPECT_EQ(INT32_MIN, ms_region__priority(a));
	ms_region__unref(a);
}

/* rule 3.1: overlap is always allowed, even through plain add_subregion */
TEST_F(region, overlap_allowed)
{
	struct ms_region *a = IO("a", 0x100), *b = IO("b", 0x100);

	ADD(self->root, 0, a);
	ADD(self->root, 0x80, b);
	EXPECT_STR_FREE("0x0+0x80 a@0x0\n0x80+0x100 b@0x0\n", render_str(self->root));
	ms_region__unref(a);
	ms_region__unref(b);
}

/* rule 3.3: non-increasing priority, newest first among equals */
TEST_F(region, list_order)
{
	const char *names[] = { "A", "B", "C", "D", "E", "F", "G" };
	int prios[] = { 0, 2, 0, 1, 2, -1, 0 };
	struct ms_region *r[7];

	for (int i = 0; i < 7; i++) {
		r[i] = IO(names[i], 0x10);
		ADDP_PUT(self->root, 0x100 * i, r[i], prios[i]);
	}
	EXPECT_STR_FREE("E B D G C A F", sub_names(self->root));
}

/* rule 3.4: where equal-priority siblings overlap, the one added last wins;
 * a higher priority wins regardless of age */
TEST_F(region, tie_newest_wins)
{
	struct ms_region *a = IO("a", 0x100), *b = IO("b", 0x100), *c = IO("c", 0x40);

	ADDP(self->root, 0, a, 1);
	ADDP(self->root, 0, b, 1);
	EXPECT_STR_FREE("0x0+0x100 b@0x0\n", render_str(self->root));
	ADDP(self->root, 0x20, c, 0);
	EXPECT_STR_FREE("0x0+0x100 b@0x0\n", render_str(self->root));
	ms_region__set_enabled(b, false);
	EXPECT_STR_FREE("0x0+0x100 a@0x0\n", render_str(self->root));
	ms_region__unref(a);
	ms_region__unref(b);
	ms_region__unref(c);
}

/* rule 3.4: QEMU's four PAM aliases at one address and priority 1 are listed
 * newest first, and only the enabled one shows */
TEST_F(region, pam_aliases)
{
	struct ms_region *ram = RAM("pc.ram", 0x100000), *pci = CONT("pci", UINT64_MAX);
	struct ms_region *rom = ROM("pc.rom", 0x20000);
	const char *n[] = { "pam-pci", "pam-rom", "pam-pci", "pam-ram" };
	struct ms_region *al[4];

	ADDP(pci, 0xc0000, rom, 1);
	ADD(self->root, 0, ram);
	ADDP(self->root, 0, pci, -1);
	for (int i = 0; i < 4; i++) {
		al[i] = ALIAS(n[i], i == 0 ? pci : ram, 0xc0000, 0x4000);
		ms_region__set_enabled(al[i], i == 0);
		ADDP(self->root, 0xc0000, al[i], 1);
	}
	EXPECT_STR_FREE("pam-ram pam-pci pam-rom pam-pci pc.ram pci", sub_names(self->root));
	EXPECT_STR_FREE("0x0+0xc0000 pc.ram@0x0\n"
			"0xc0000+0x4000 pc.rom@0x0 ro\n"
			"0xc4000+0x3c000 pc.ram@0xc4000\n", render_str(self->root));
	/* switch to "pam-ram": enable it, disable pam-pci */
	ms_region__set_enabled(al[3], true);
	EXPECT_STR_FREE("0x0+0x100000 pc.ram@0x0\n", render_str(self->root));
	ms_region__set_enabled(al[0], false);
	ms_region__set_enabled(al[3], false);
	/* "pam-rom" made read-only shows pc.ram read-only (rule 4.1) */
	ms_region__set_readonly(al[1], true);
	ms_region__set_enabled(al[1], true);
	EXPECT_STR_FREE("0x0+0xc0000 pc.ram@0x0\n"
			"0xc0000+0x4000 pc.ram@0xc0000 ro\n"
			"0xc4000+0x3c000 pc.ram@0xc4000\n", render_str(self->root));
	for (int i = 0; i < 4; i++)
		ms_region__unref(al[i]);
	ms_region__unref(rom);
	ms_region__unref(pci);
	ms_region__unref(ram);
}

/* rule 3.7: set_address re-adds the region: it becomes the newest among its
 * equal-priority siblings and can start winning overlaps */
TEST_F(region, set_address_makes_newest)
{
	struct ms_region *a = IO("a", 0x100), *b = IO("b", 0x100);

	ADD(self->root, 0, a);
	ADD(self->root, 0x80, b);
	EXPECT_STR_FREE("b a", sub_names(self->root));
	EXPECT_STR_FREE("0x0+0x80 a@0x0\n0x80+0x100 b@0x0\n", render_str(self->root));
	/* same address: nothing changes (rule 3.7 "if the address changes") */
	ms_region__set_address(a, 0);
	EXPECT_STR_FREE("b a", sub_names(self->root));
	/* move away and back: a is now the newest and wins the overlap */
	ms_region__set_address(a, 0x10);
	ms_region__set_address(a, 0);
	EXPECT_STR_FREE("a b", sub_names(self->root));
	EXPECT_EQ(0, ms_region__priority(a));
	EXPECT_EQ(self->root, ms_region__container(a));
	EXPECT_STR_FREE("0x0+0x100 a@0x0\n0x100+0x80 b@0x80\n", render_str(self->root));
	ms_region__unref(a);
	ms_region__unref(b);
}

/* rule 3.7: set_address keeps the current priority */
TEST_F(region, set_address_keeps_priority)
{
	struct ms_region *a = IO("a", 0x100), *b = IO("b", 0x100), *c = IO("c", 0x100);

	ADDP(self->root, 0, a, 5);
	ADDP(self->root, 0, b, 5);
	ADDP(self->root, 0, c, 9);
	ms_region__set_address(a, 0x40);
	EXPECT_EQ(5, ms_region__priority(a));
	EXPECT_STR_FREE("c a b", sub_names(self->root));
	ms_region__unref(a);
	ms_region__unref(b);
	ms_region__unref(c);
}

/* rule 3.7: without a container only addr is stored (and used when mapped later) */
TEST_F(region, set_address_unmapped)
{
	struct ms_region *a = IO("a", 0x100);

	ms_region__set_address(a, 0x5000);
	EXPECT_EQ(0x5000, ms_region__addr(a));
	EXPECT_EQ(NULL, ms_region__container(a));
	EXPECT_FALSE(ms_region__is_mapped(a));
	/* adding sets addr to the offset given (rule 3.2) */
	ADD(self->root, 0x100, a);
	EXPECT_EQ(0x100, ms_region__addr(a));
	ms_region__unref(a);
}

/* rule 3.5: priority is local to one container */
TEST_F(region, priority_local)
{
	struct ms_region *c = CONT("c", 0x10000), *x = IO("x", 0x10000), *s = IO("s", 0x1000);

	ADDP(c, 0, x, 1000);
	ADDP(self->root, 0, c, -1);
	ADD(self->root, 0x4000, s);
	EXPECT_STR_FREE("0x0+0x4000 x@0x0\n"
			"0x4000+0x1000 s@0x0\n"
			"0x5000+0xb000 x@0x5000\n", render_str(self->root));
	ms_region__unref(c);
	ms_region__unref(x);
	ms_region__unref(s);
}

/* rule 3.2, 3.10: mapping an alias maps the whole alias chain; unmapping undoes */
TEST_F(region, alias_chain_mapped)
{
	struct ms_region *ram = RAM("ram", 0x1000);
	struct ms_region *a1 = ALIAS("a1", ram, 0, 0x1000), *a2 = ALIAS("a2", a1, 0, 0x1000);
	struct ms_region *b = ALIAS("b", ram, 0, 0x1000);

	EXPECT_FALSE(ms_region__is_mapped(ram));
	EXPECT_FALSE(ms_region__is_mapped(a1));
	ADD(self->root, 0, a2);
	EXPECT_TRUE(ms_region__is_mapped(a2));
	EXPECT_TRUE(ms_region__is_mapped(a1));
	EXPECT_TRUE(ms_region__is_mapped(ram));
	EXPECT_EQ(NULL, ms_region__container(ram));
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a2, NULL));
	EXPECT_FALSE(ms_region__is_mapped(a2));
	EXPECT_FALSE(ms_region__is_mapped(a1));
	EXPECT_FALSE(ms_region__is_mapped(ram));
	/* counted: two mapped aliases, remove one, still mapped */
	ADD(self->root, 0, a1);
	ADD(self->root, 0x1000, b);
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a1, NULL));
	EXPECT_TRUE(ms_region__is_mapped(ram));
	EXPECT_EQ(0, ms_region__del_subregion(self->root, b, NULL));
	EXPECT_FALSE(ms_region__is_mapped(ram));
	ms_region__unref(b);
	ms_region__unref(a2);
	ms_region__unref(a1);
	ms_region__unref(ram);
}

/* rule 3.1 (assertion in QEMU): adding a region that has a container is -EBUSY
 * and changes nothing */
TEST_F(region, ebusy_double_add)
{
	struct ms_region *c2 = CONT("c2", 0x10000), *a = IO("a", 0x10);
	struct ms_error err = { 0 };

	ADDP(self->root, 0x100, a, 3);
	ADD(self->root, 0x100000, c2);
	EXPECT_EQ(-EBUSY, ms_region__add_subregion(c2, 0x200, a, &err));
	EXPECT_EQ(-EBUSY, err.err);
	EXPECT_NE(0, strlen(err.msg));
	TH_LOG("error message: %s", err.msg);
	EXPECT_EQ(-EBUSY, ms_region__add_subregion_overlap(self->root, 0x300, a, 9, NULL));
	EXPECT_EQ(self->root, ms_region__container(a));
	EXPECT_EQ(0x100, ms_region__addr(a));
	EXPECT_EQ(3, ms_region__priority(a));
	EXPECT_EQ(0, nr_subregions(c2));
	EXPECT_EQ(2, nr_subregions(self->root));
	EXPECT_STR_FREE("0x100+0x10 a@0x0\n", render_str(self->root));
	/* the region still works normally afterwards */
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a, NULL));
	EXPECT_EQ(0, ms_region__add_subregion(c2, 0x200, a, NULL));
	EXPECT_STR_FREE("0x100200+0x10 a@0x0\n", render_str(self->root));
	ms_region__unref(a);
	ms_region__unref(c2);
}

/* -ELOOP: a mapping that would make a region contain itself, directly, through
 * its descendants or through aliases (of aliases); nothing changes */
TEST_F(region, eloop_cycles)
{
	struct ms_region *a = CONT("a", 0x10000), *b = CONT("b", 0x1000);
	struct ms_region *ram = RAM("ram", 0x100);
	struct ms_region *lone = CONT("lone", 0x100), *c = CONT("c", 0x1000), *ar;
	struct ms_region *al, *al2, *al3;
	struct ms_error err = { 0 };
	char *before;

	ADD(self->root, 0, a);
	ADD(a, 0x100, b);
	ADD(b, 0, ram);
	before = render_str(self->root);

	EXPECT_EQ(-ELOOP, ms_region__add_subregion(self->root, 0, self->root, &err));
	EXPECT_EQ(-ELOOP, err.err);
	TH_LOG("error message: %s", err.msg);
	EXPECT_EQ(-ELOOP, ms_region__add_subregion(lone, 0, lone, NULL));
	EXPECT_EQ(NULL, ms_region__container(lone));
	EXPECT_EQ(0, nr_subregions(lone));
	ms_region__unref(lone);
	/* an alias of an ancestor mapped below it */
	al = ALIAS("al", a, 0, 0x1000);
	EXPECT_EQ(-ELOOP, ms_region__add_subregion(b, 0x800, al, NULL));
	EXPECT_EQ(-ELOOP, ms_region__add_subregion_overlap(a, 0x8000, al, 1, NULL));
	EXPECT_EQ(NULL, ms_region__container(al));
	EXPECT_FALSE(ms_region__is_mapped(al));
	/* an alias of an alias of an ancestor */
	al2 = ALIAS("al2", al, 0, 0x1000);
	al3 = ALIAS("al3", al2, 0, 0x1000);
	EXPECT_EQ(-ELOOP, ms_region__add_subregion(b, 0x800, al3, NULL));
	EXPECT_FALSE(ms_region__is_mapped(al3));
	EXPECT_FALSE(ms_region__is_mapped(al2));
	/* but an alias of a region next to that region is no cycle */
	EXPECT_EQ(0, ms_region__add_subregion(self->root, 0x20000, al3, NULL));
	EXPECT_EQ(0, ms_region__del_subregion(self->root, al3, NULL));
	/* a container holding an alias of a region cannot become that region's child */
	ar = ALIAS("ar", b, 0, 0x1000);
	ADD(c, 0, ar);
	EXPECT_EQ(-ELOOP, ms_region__add_subregion(b, 0x400, c, NULL));
	EXPECT_EQ(NULL, ms_region__container(c));
	ms_region__unref(ar);
	ms_region__unref(c);
	EXPECT_EQ(3, nr_subregions(self->root) + nr_subregions(a) + nr_subregions(b));
	EXPECT_STR_FREE(before, render_str(self->root));
	free(before);
	ms_region__unref(al3);
	ms_region__unref(al2);
	ms_region__unref(al);
	ms_region__unref(ram);
	ms_region__unref(b);
	ms_region__unref(a);
}

/* -EINVAL: objects of different contexts must not be mixed; NULL alias target */
TEST_F(region, einval_other_ctx)
{
	struct ms_ctx *ctx2 = ms_ctx__new();
	struct ms_region *foreign, *al;
	struct ms_error err = { 0 };

	ASSERT_NE(NULL, ctx2);
	foreign = ms_region__new_io(ctx2, "foreign", 0x10, NULL, NULL, NULL);
	ASSERT_NE(NULL, foreign);
	EXPECT_EQ(-EINVAL, ms_region__add_subregion(self->root, 0, foreign, &err));
	EXPECT_EQ(-EINVAL, err.err);
	EXPECT_EQ(NULL, ms_region__container(foreign));
	EXPECT_EQ(0, nr_subregions(self->root));
	errno = 0;
	al = ms_region__new_alias(self->ctx, "al", foreign, 0, 0x10, NULL);
	EXPECT_EQ(NULL, al);
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	al = ms_region__new_alias(self->ctx, "al", NULL, 0, 0x10, NULL);
	EXPECT_EQ(NULL, al);
	EXPECT_EQ(EINVAL, errno);
	ms_region__unref(foreign);
	ms_ctx__free(ctx2);
}

/* rule 3.6 (assertion in QEMU): deleting a non-child is -ENOENT, nothing changes */
TEST_F(region, enoent_del)
{
	struct ms_region *c = CONT("c", 0x1000), *a = IO("a", 0x10);
	struct ms_error err = { 0 };

	ADD(self->root, 0, c);
	ADD(c, 0, a);
	EXPECT_EQ(-ENOENT, ms_region__del_subregion(self->root, a, &err));
	EXPECT_EQ(-ENOENT, err.err);
	EXPECT_EQ(-ENOENT, ms_region__del_subregion(a, c, NULL));
	EXPECT_EQ(c, ms_region__container(a));
	EXPECT_EQ(self->root, ms_region__container(c));
	EXPECT_STR_FREE("0x0+0x10 a@0x0\n", render_str(self->root));
	ms_region__unref(a);
	ms_region__unref(c);
}

/* rule 3.8: setters that do not apply fail and leave the region as it was */
TEST_F(region, einval_setters)
{
	struct ms_region *ram = RAM("ram", 0x2000), *io = IO("io", 0x10);
	struct ms_error err = { 0 };

	EXPECT_EQ(-EINVAL, ms_region__set_alias_offset(io, 0x10, &err));
	EXPECT_EQ(-EINVAL, err.err);
	EXPECT_EQ(0, ms_region__alias_offset(io));
	/* RAM cannot grow beyond its memory */
	EXPECT_EQ(-EINVAL, ms_region__set_size(ram, 0x3000, NULL));
	EXPECT_EQ(0x2000, ms_region__size(ram));
	EXPECT_EQ(0, ms_region__set_size(ram, 0x1000, NULL));
	EXPECT_EQ(0x1000, ms_region__size(ram));
	EXPECT_EQ(0, ms_region__set_size(ram, 0x2000, NULL));
	EXPECT_EQ(0x2000, ms_region__size(ram));
	ms_region__unref(ram);
	ms_region__unref(io);
}

/* rule 3.8: set_alias_offset moves the window */
TEST_F(region, set_alias_offset)
{
	struct ms_region *ram = RAM("ram", 0x4000), *al = ALIAS("al", ram, 0x1000, 0x1000);

	ADD(self->root, 0x10000, al);
	EXPECT_EQ(0x1000, ms_region__alias_offset(al));
	EXPECT_STR_FREE("0x10000+0x1000 ram@0x1000\n", render_str(self->root));
	EXPECT_EQ(0, ms_region__set_alias_offset(al, 0x3000, NULL));
	EXPECT_EQ(0x3000, ms_region__alias_offset(al));
	EXPECT_STR_FREE("0x10000+0x1000 ram@0x3000\n", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(ram);
}

/* reference counting: a mapped region stays alive after the caller's unref */
TEST_F(region, ref_mapped)
{
	struct ms_region *a = IO("kept", 0x10);

	ADD(self->root, 0x40, a);
	ms_region__unref(a);
	/* only the container's reference is left */
	EXPECT_STREQ("kept", ms_region__name(a));
	EXPECT_EQ(self->root, ms_region__container(a));
	EXPECT_STR_FREE("0x40+0x10 kept@0x0\n", render_str(self->root));
	EXPECT_STR_FREE("kept", sub_names(self->root));
	/* ms_region__ref returns its argument and NULL is accepted */
	EXPECT_EQ(a, ms_region__ref(a));
	ms_region__unref(a);
	EXPECT_EQ(NULL, ms_region__ref(NULL));
	ms_region__unref(NULL);
}

/* reference counting: a flat view keeps its regions alive */
TEST_F(region, ref_flatview)
{
	struct ms_region *a = IO("viewed", 0x10);
	struct ms_flatview *fv;

	ADD(self->root, 0x40, a);
	fv = ms_flatview__render(self->root, NULL);
	ASSERT_NE(NULL, fv);
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a, NULL));
	ms_region__unref(a);
	/* a is referenced by the view only */
	ASSERT_EQ(1, ms_flatview__nr_ranges(fv));
	EXPECT_EQ(a, ms_flatview__range(fv, 0)->mr);
	EXPECT_STREQ("viewed", ms_region__name(ms_flatview__range(fv, 0)->mr));
	EXPECT_STR_FREE("0x40+0x10 viewed@0x0\n", fv_str(fv));
	EXPECT_EQ(fv, ms_flatview__ref(fv));
	ms_flatview__unref(fv);
	ms_flatview__unref(fv);
	ms_flatview__unref(NULL);
}

/* reference counting: an alias keeps its target, an address space its root */
TEST_F(region, ref_alias_and_as)
{
	struct ms_region *t = IO("target", 0x100), *al = ALIAS("al", t, 0x10, 0x10);
	struct ms_region *r = CONT("asroot", 0x1000);
	struct ms_as *as;

	ms_region__unref(t);
	EXPECT_EQ(t, ms_region__alias(al));
	EXPECT_STREQ("target", ms_region__name(ms_region__alias(al)));
	ADD(r, 0x100, al);
	ms_region__unref(al);
	as = NEW_OK(ms_as__new(self->ctx, r, "as", NULL));
	ms_region__unref(r);
	EXPECT_EQ(r, ms_as__root(as));
	EXPECT_STREQ("asroot", ms_region__name(ms_as__root(as)));
	EXPECT_STR_FREE("0x100+0x10 target@0x10\n", as_str(as));
	EXPECT_EQ(0, ms_as__free(as));
}

/* rule 3.11: destroying a region deletes its subregions */
TEST_F(region, destroy_deletes_subregions)
{
	struct ms_region *c = CONT("c", 0x1000), *a = IO("a", 0x10), *b = IO("b", 0x10);

	ADD(c, 0, a);
	ADD(c, 0x10, b);
	EXPECT_TRUE(ms_region__is_mapped(a));
	ms_region__unref(c);
	EXPECT_EQ(NULL, ms_region__container(a));
	EXPECT_EQ(NULL, ms_region__container(b));
	EXPECT_FALSE(ms_region__is_mapped(a));
	/* they can be mapped again */
	ADD(self->root, 0, a);
	ms_region__unref(a);
	ms_region__unref(b);
}

/* for_each_subregion stops at the first non-zero return and returns it */
static int stop_at_second(struct ms_region *sub, void *opaque)
{
	(void)sub;
	return ++*(int *)opaque == 2 ? 42 : 0;
}

TEST_F(region, for_each_stops)
{
	int n = 0;

	for (int i = 0; i < 4; i++)
		ADD_PUT(self->root, i * 0x10, IO("x", 0x10));
	EXPECT_EQ(42, ms_region__for_each_subregion(self->root, stop_at_second, &n));
	EXPECT_EQ(2, n);
	EXPECT_EQ(4, nr_subregions(self->root));
}

/* ---- section 4: attribute inheritance ---------------------------------------- */

/* rule 4.1: readonly is OR-ed down the path from the root */
TEST_F(region, inherit_readonly)
{
	struct ms_region *c = CONT("c", 0x10000), *ram = RAM("ram", 0x1000);
	struct ms_region *io = IO("io", 0x1000), *other = IO("other", 0x1000);
	struct ms_region *al = ALIAS("al", ram, 0, 0x1000);

	ADD(c, 0, ram);
	ADD(c, 0x1000, io);
	ADD(self->root, 0, c);
	ADD(self->root, 0x10000, other);
	ADD(self->root, 0x20000, al);
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0\n0x1000+0x1000 io@0x0\n"
			"0x10000+0x1000 other@0x0\n0x20000+0x1000 ram@0x0\n",
			render_str(self->root));
	ms_region__set_readonly(c, true);
	EXPECT_FALSE(ms_region__readonly(ram));
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0 ro\n0x1000+0x1000 io@0x0 ro\n"
			"0x10000+0x1000 other@0x0\n0x20000+0x1000 ram@0x0\n",
			render_str(self->root));
	/* through an alias: only the aliased path is read-only */
	ms_region__set_readonly(c, false);
	ms_region__set_readonly(al, true);
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0\n0x1000+0x1000 io@0x0\n"
			"0x10000+0x1000 other@0x0\n0x20000+0x1000 ram@0x0 ro\n",
			render_str(self->root));
	/* the root itself */
	ms_region__set_readonly(al, false);
	ms_region__set_readonly(self->root, true);
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0 ro\n0x1000+0x1000 io@0x0 ro\n"
			"0x10000+0x1000 other@0x0 ro\n0x20000+0x1000 ram@0x0 ro\n",
			render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(other);
	ms_region__unref(io);
	ms_region__unref(ram);
	ms_region__unref(c);
}

/* rule 4.1: nonvolatile and unmergeable are inherited the same way */
TEST_F(region, inherit_nonvolatile_unmergeable)
{
	struct ms_region *c = CONT("c", 0x10000), *ram = RAM("ram", 0x2000);
	struct ms_region *al = ALIAS("nv", ram, 0x1000, 0x1000);

	ADD(c, 0, ram);
	ADD(self->root, 0, c);
	ADD(self->root, 0x10000, al);
	ms_region__set_nonvolatile(al, true);
	ms_region__set_unmergeable(c, true);
	EXPECT_TRUE(ms_region__unmergeable(c));
	EXPECT_FALSE(ms_region__unmergeable(ram));
	EXPECT_STR_FREE("0x0+0x2000 ram@0x0 um\n0x10000+0x1000 ram@0x1000 nv\n",
			render_str(self->root));
	ms_region__set_nonvolatile(al, false);
	ms_region__set_unmergeable(c, false);
	ms_region__set_nonvolatile(self->root, true);
	EXPECT_STR_FREE("0x0+0x2000 ram@0x0 nv\n0x10000+0x1000 ram@0x1000 nv\n",
			render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(ram);
	ms_region__unref(c);
}

/* rule 4.1: a disabled container contributes nothing, not even its flags */
TEST_F(region, inherit_only_enabled_path)
{
	struct ms_region *c = CONT("c", 0x10000), *ram = RAM("ram", 0x1000);
	struct ms_region *al = ALIAS("al", ram, 0, 0x1000);

	ADD(c, 0, ram);
	ms_region__set_readonly(c, true);
	ms_region__set_enabled(c, false);
	ADD(self->root, 0, c);
	ADD(self->root, 0x1000, al);
	EXPECT_STR_FREE("0x1000+0x1000 ram@0x0\n", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(ram);
	ms_region__unref(c);
}

/* rule 4.2, 5.7: romd_mode is not inherited, it is the terminating region's */
TEST_F(region, romd_not_inherited)
{
	struct ms_region *dev, *c = CONT("c", 0x10000), *al;

	dev = NEW_OK(ms_region__new_rom_device(self->ctx, "flash", 0x1000, &dummy_ops,
					       &dummy_dev, NULL));
	al = ALIAS("al", dev, 0, 0x1000);
	ADD(c, 0, dev);
	ADD(self->root, 0, c);
	ADD(self->root, 0x10000, al);
	EXPECT_STR_FREE("0x0+0x1000 flash@0x0\n0x10000+0x1000 flash@0x0\n",
			render_str(self->root));
	EXPECT_EQ(0, ms_region__set_romd(dev, false, NULL));
	EXPECT_STR_FREE("0x0+0x1000 flash@0x0 noromd\n0x10000+0x1000 flash@0x0 noromd\n",
			render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(c);
	ms_region__unref(dev);
}

/* rule 4.2: the dirty-log mask comes from the terminating region only */
TEST_F(region, dirty_log_not_inherited)
{
	struct ms_region *c = CONT("c", 0x10000), *ram = RAM("ram", 0x1000);
	struct ms_region *al = ALIAS("al", ram, 0, 0x1000);

	ADD(c, 0, ram);
	ADD(self->root, 0, c);
	ADD(self->root, 0x10000, al);
	ms_region__set_log(c, true);
	ms_region__set_log(al, true);
	EXPECT_EQ(MS_DIRTY_VGA, ms_region__dirty_log_mask(c));
	EXPECT_EQ(0, ms_region__dirty_log_mask(ram));
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0\n0x10000+0x1000 ram@0x0\n", render_str(self->root));
	ms_region__set_log(ram, true);
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0 log=1\n0x10000+0x1000 ram@0x0 log=1\n",
			render_str(self->root));
	ms_region__set_log(ram, false);
	ms_region__set_log(c, false);
	ms_region__set_log(al, false);
	ms_region__unref(al);
	ms_region__unref(ram);
	ms_region__unref(c);
}

/* listeners-and-transactions.md 7.1: the VGA bit counts users */
TEST_F(region, set_log_counts_users)
{
	struct ms_region *ram = RAM("ram", 0x1000);

	ms_region__set_log(ram, true);
	ms_region__set_log(ram, true);
	EXPECT_EQ(MS_DIRTY_VGA, ms_region__dirty_log_mask(ram));
	ms_region__set_log(ram, false);
	EXPECT_EQ(MS_DIRTY_VGA, ms_region__dirty_log_mask(ram));
	ms_region__set_log(ram, false);
	EXPECT_EQ(0, ms_region__dirty_log_mask(ram));
	ms_region__unref(ram);
}

TEST_HARNESS_MAIN
