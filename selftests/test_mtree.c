// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ms_mtree_print(): QEMU's `info mtree` layout (qemu-mtree-format.md).
 *
 * The "pc" fixture rebuilds, with the library, the address spaces of
 * QEMU 7.2's `-machine pc -m 256 -nodefaults` and compares the output with
 * the captures of selftests/samples/qemu-7.2/pc-256m-stopped.*. QEMU prints
 * groups and flat views in hash-table order, so the comparison is per
 * block, matched by the address-space / memory-region header (tree) or by
 * the "AS" lines (flat view). samples_dir() finds the samples
 * ($MEMSLOT_SAMPLES overrides).
 *
 * Small hand-built trees check the individual format rules. Rule numbers
 * refer to qemu-mtree-format.md unless "regions" is named.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

/* The sample @name, '\r' removed; NULL if it cannot be read. */
static char *load_sample(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", samples_dir(), name);
	return slurp(path);
}

/* ---- block splitting and comparison ----------------------------------------- */

#define MAX_BLOCKS 64

struct block {
	char key[1024];		/* header lines (tree) or AS lines (flat) */
	const char *text;	/* the block without "FlatView #n" (flat) */
	int fv_number;		/* n of "FlatView #n", -1 for tree blocks */
};

struct blocks {
	char *buf;
	struct block b[MAX_BLOCKS];
	int n;
	bool trailing_blank;	/* the text ended with an empty line */
};

/*
 * Split @text (copied) into blocks separated by empty lines (rules 2.1, 2.2,
 * 3.2). Each block keeps the "\n" of its last line.
 */
static void split_blocks(const char *text, bool flat, struct blocks *out)
{
	char *p;

	memset(out, 0, sizeof(*out));
	out->buf = strdup(text);
	p = out->buf;
	while (*p && out->n < MAX_BLOCKS) {
		char *end = strstr(p, "\n\n");
		struct block *b = &out->b[out->n++];
		char *line;
		size_t len;

		b->fv_number = -1;
		if (!end) {
			b->text = p;
			break;
		}
		end[1] = '\0';
		if (flat && sscanf(p, "FlatView #%d\n", &b->fv_number) == 1)
			p = strchr(p, '\n') + 1;
		b->text = p;
		for (line = p; *line; line += len + (line[len] == '\n')) {
			bool hdr;

			len = strcspn(line, "\n");
			hdr = flat ? !strncmp(line, " AS ", 4) :
			      !strncmp(line, "address-space: ", 15) ||
			      !strncmp(line, "memory-region: ", 15);
			if (!hdr) {
				if (!flat)
					break;
				continue;
			}
			if (strlen(b->key) + len + 2 < sizeof(b->key)) {
				strncat(b->key, line, len);
				strcat(b->key, "|");
			}
		}
		p = end + 2;
		if (!*p)
			out->trailing_blank = true;
	}
}

/* Log the first differing line of two blocks. */
static void log_first_diff(struct __test_metadata *_metadata, const char *key,
			   const char *exp, const char *got)
{
	int line = 1;

	while (*exp && *got) {
		size_t le = strcspn(exp, "\n"), lg = strcspn(got, "\n");

		if (le != lg || strncmp(exp, got, le)) {
			TH_LOG("block [%s] line %d:\n  expected: %.*s\n  got:      %.*s", key, line,
			       (int)le, exp, (int)lg, got);
			return;
		}
		exp += le + (exp[le] == '\n');
		got += lg + (got[lg] == '\n');
		line++;
	}
	TH_LOG("block [%s] line %d:\n  expected: %.*s\n  got:      %.*s", key, line,
	       (int)strcspn(exp, "\n"), exp, (int)strcspn(got, "\n"), got);
}

/*
 * Compare @got with @exp block by block: the same set of blocks, each equal
 * line for line (rules 2.1, 3.1: QEMU's block order is not stable).
 */
static void compare_blocks(struct __test_metadata *_metadata, const char *label,
			   const char *exp, const char *got, bool flat)
{
	struct blocks s, g;
	int matched = 0;

	ASSERT_NE(NULL, exp);
	ASSERT_NE(NULL, got);
	split_blocks(exp, flat, &s);
	split_blocks(got, flat, &g);
	EXPECT_TRUE(s.trailing_blank);
	EXPECT_TRUE(g.trailing_blank);
	for (int i = 0; i < s.n; i++) {
		struct block *sb = &s.b[i], *gb = NULL;

		for (int j = 0; j < g.n; j++) {
			if (!strcmp(sb->key, g.b[j].key)) {
				gb = &g.b[j];
				break;
			}
		}
		if (!gb) {
			TH_LOG("%s: block [%s] missing from the output", label, sb->key);
			_metadata->exit_code = KSFT_FAIL;
			continue;
		}
		matched++;
		if (strcmp(sb->text, gb->text)) {
			log_first_diff(_metadata, sb->key, sb->text, gb->text);
			_metadata->exit_code = KSFT_FAIL;
		}
	}
	EXPECT_EQ(s.n, matched);
	EXPECT_EQ(s.n, g.n);
	/* rule 3.1: "FlatView #n" counts the blocks in print order from 0 */
	if (flat) {
		for (int j = 0; j < g.n; j++) {
			EXPECT_EQ(j, g.b[j].fv_number);
		}
	}
	if (_metadata->exit_code)
		TH_LOG("%s: full output:\n%s", label, got);
	free(s.buf);
	free(g.buf);
}

/* compare_blocks() with the sample file @name */
static void compare_with_sample(struct __test_metadata *_metadata, const char *name,
				const char *got, bool flat)
{
	char *sample = load_sample(name);

	if (!sample)
		TH_LOG("cannot read %s/%s", samples_dir(), name);
	ASSERT_NE(NULL, sample);
	compare_blocks(_metadata, name, sample, got, flat);
	free(sample);
}

/* ---- the PC machine of the samples --------------------------------------------------- */

#define MAX_REGIONS 160
#define MAX_AS 8

FIXTURE(pc) {
	struct ms_ctx *ctx;
	struct ms_region *keep[MAX_REGIONS];
	int nkeep;
	struct ms_as *as[MAX_AS];
	int nas;
	struct ms_as *memory;
};

/* Keep the caller's reference until teardown. */
static struct ms_region *keep(struct __test_metadata *_metadata, FIXTURE_DATA(pc) *self,
			      struct ms_region *mr, const char *owner, const char *parent)
{
	ASSERT_NE(NULL, mr);
	ASSERT_LT(self->nkeep, MAX_REGIONS);
	self->keep[self->nkeep++] = mr;
	if (owner || parent)
		EXPECT_EQ(0, ms_region__set_owner(mr, owner, parent));
	return mr;
}

#define K(mr) keep(_metadata, self, (mr), NULL, NULL)
#define KO(mr, owner, parent) keep(_metadata, self, (mr), (owner), (parent))

#define UNATTACHED "obj path=/machine/unattached"
#define DEV(n) "dev path=/machine/unattached/device[" #n "]"

/* The "I/O" address space's devices, in the order they are added. */
static const struct io_dev {
	const char *name;
	uint64_t addr, size;
	int prio;
	const char *owner, *parent;
} io_devs[] = {
	{ "dma-chan", 0x0, 8, 0, DEV(5), NULL },
	{ "dma-cont", 0x8, 8, 0, DEV(5), NULL },
	{ "kvm-pic", 0x20, 2, 0, DEV(7), NULL },
	{ "kvm-pit", 0x40, 4, 0, DEV(11), NULL },
	{ "i8042-data", 0x60, 1, 0, DEV(14), NULL },
	{ "pcspk", 0x61, 1, 0, DEV(12), NULL },
	{ "i8042-cmd", 0x64, 1, 0, DEV(14), NULL },
	{ "kvmvapic", 0x7e, 2, 0, DEV(1), NULL },
	{ "ioport80", 0x80, 1, 0, NULL, UNATTACHED },
	{ "dma-page", 0x81, 3, 0, DEV(5), NULL },
	{ "dma-page", 0x87, 1, 0, DEV(5), NULL },
	{ "dma-page", 0x89, 3, 0, DEV(6), NULL },
	{ "dma-page", 0x8f, 1, 0, DEV(6), NULL },
	{ "port92", 0x92, 1, 0, DEV(17), NULL },
	{ "kvm-pic", 0xa0, 2, 0, DEV(8), NULL },
	{ "apm-io", 0xb2, 2, 0, DEV(19), NULL },
	{ "dma-chan", 0xc0, 0x10, 0, DEV(6), NULL },
	{ "dma-cont", 0xd0, 0x10, 0, DEV(6), NULL },
	{ "ioportF0", 0xf0, 1, 0, NULL, UNATTACHED },
	{ "ide", 0x170, 8, 0, NULL, UNATTACHED },
	{ "ide", 0x1f0, 8, 0, NULL, UNATTACHED },
	{ "ide", 0x376, 1, 0, NULL, UNATTACHED },
	{ "fdc", 0x3f1, 5, 0, DEV(13), NULL },
	{ "ide", 0x3f6, 1, 0, NULL, UNATTACHED },
	{ "fdc", 0x3f7, 1, 0, DEV(13), NULL },
	{ "kvm-elcr", 0x4d0, 1, 0, DEV(7), NULL },
	{ "kvm-elcr", 0x4d1, 1, 0, DEV(8), NULL },
	{ "fwcfg", 0x510, 2, 0, "dev path=/machine/fw_cfg", NULL },
	{ "fwcfg.dma", 0x514, 8, 0, "dev path=/machine/fw_cfg", NULL },
	{ "pci-conf-idx", 0xcf8, 4, 0, "dev path=/machine/i440fx", NULL },
	{ "piix3-reset-control", 0xcf9, 1, 1, DEV(4), NULL },
	{ "pci-conf-data", 0xcfc, 4, 0, "dev path=/machine/i440fx", NULL },
	{ "vmport", 0x5658, 1, 0, DEV(15), NULL },
	{ "acpi-pci-hotplug", 0xae00, 0x18, 0, DEV(19), NULL },
	{ "acpi-cpu-hotplug", 0xaf00, 0x20, 0, DEV(19), NULL },
	{ "acpi-gpe0", 0xafe0, 4, 0, DEV(19), NULL },
	{ "pm-smbus", 0xb100, 0x40, 0, DEV(19), NULL },
};

static struct ms_as *new_as(struct __test_metadata *_metadata, FIXTURE_DATA(pc) *self,
			    struct ms_region *root, const char *name)
{
	struct ms_as *as = ms_as__new(self->ctx, root, name, NULL);

	ASSERT_NE(NULL, as);
	ASSERT_LT(self->nas, MAX_AS);
	self->as[self->nas++] = as;
	return as;
}

FIXTURE_SETUP(pc)
{
	struct ms_region *sys, *ram, *pci, *bios, *rom, *isa, *io, *pm, *rtc, *r, *bmc[4];
	const char *bm_names[4] = { "i440FX", "PIIX3", "piix3-ide", "PIIX4_PM" };
	struct ms_ctx *ctx;

	self->ctx = ctx = ms_ctx__new();
	ASSERT_NE(NULL, ctx);

	/* "memory": system, with pc.ram below 4G and the PCI hole */
	sys = K(ms_region__new_container(ctx, "system", UINT64_MAX, NULL));
	ram = KO(ms_region__new_ram(ctx, "pc.ram", 256 << 20, MS_RAM_ANON, NULL),
		 "obj path=/objects/pc.ram", NULL);
	r = K(ms_region__new_alias(ctx, "ram-below-4g", ram, 0, 256 << 20, NULL));
	ADD(sys, 0, r);
	pci = K(ms_region__new_container(ctx, "pci", UINT64_MAX, NULL));
	ADDP(sys, 0, pci, -1);
	bios = KO(ms_region__new_rom(ctx, "pc.bios", 0x40000, NULL), NULL, UNATTACHED);
	ADD(pci, 0xfffc0000, bios);
	isa = K(ms_region__new_alias(ctx, "isa-bios", bios, 0x20000, 0x20000, NULL));
	ms_region__set_readonly(isa, true);
	ADDP(pci, 0xe0000, isa, 1);
	rom = KO(ms_region__new_rom(ctx, "pc.rom", 0x20000, NULL), NULL, UNATTACHED);
	ADDP(pci, 0xc0000, rom, 1);
	r = K(ms_region__new_alias(ctx, "smram-region", pci, 0xa0000, 0x20000, NULL));
	ADDP(sys, 0xa0000, r, 1);
	/* PAM: 12 x 16 KiB and 1 x 64 KiB, four aliases each, only pam-pci @pci
	 * enabled; rule 3.4: the newest is listed first */
	for (int i = 0; i < 13; i++) {
		uint64_t base = i < 12 ? 0xc0000 + i * 0x4000ull : 0xf0000;
		uint64_t size = i < 12 ? 0x4000 : 0x10000;
		static const char *const names[4] = { "pam-pci", "pam-rom", "pam-pci", "pam-ram" };

		for (int j = 0; j < 4; j++) {
			r = K(ms_region__new_alias(ctx, names[j], j ? ram : pci, base, size,
						   NULL));
			ms_region__set_enabled(r, j == 0);
			ms_region__set_readonly(r, j == 1 || j == 2);
			ADDP(sys, base, r, 1);
		}
	}
	r = KO(ms_region__new_io(ctx, "kvm-ioapic", 0x1000, NULL, NULL, NULL),
	       "dev path=/machine/i440fx/ioapic", NULL);
	ADD(sys, 0xfec00000, r);
	r = KO(ms_region__new_io(ctx, "hpet", 0x400, NULL, NULL, NULL), DEV(9), NULL);
	ADD(sys, 0xfed00000, r);
	r = KO(ms_region__new_io(ctx, "kvm-apic-msi", 0x100000, NULL, NULL, NULL),
	       "dev path=/machine/unattached/device[0]/lapic", NULL);
	ADDP(sys, 0xfee00000, r, 4096);

	/* "I/O": the terminating io region with its devices; the disabled piix4-pm
	 * container is added after dma-chan, so it is listed first at 0 */
	io = KO(ms_region__new_io(ctx, "io", 0x10000, NULL, NULL, NULL), NULL, UNATTACHED);
	for (size_t i = 0; i < sizeof(io_devs) / sizeof(io_devs[0]); i++) {
		const struct io_dev *d = &io_devs[i];

		r = KO(ms_region__new_io(ctx, d->name, d->size, NULL, NULL, NULL), d->owner,
		       d->parent);
		ADDP(io, d->addr, r, d->prio);
		if (i == 6) {
			rtc = KO(ms_region__new_io(ctx, "rtc", 2, NULL, NULL, NULL), DEV(10), NULL);
			r = KO(ms_region__new_io(ctx, "rtc-index", 1, NULL, NULL, NULL), DEV(10),
			       NULL);
			ADD(rtc, 0, r);
			ADD(io, 0x70, rtc);
		}
	}
	pm = K(ms_region__new_container(ctx, "piix4-pm", 0x40, NULL));
	r = K(ms_region__new_io(ctx, "acpi-evt", 4, NULL, NULL, NULL));
	ADD(pm, 0, r);
	r = K(ms_region__new_io(ctx, "acpi-cnt", 2, NULL, NULL, NULL));
	ADD(pm, 4, r);
	r = K(ms_region__new_io(ctx, "acpi-tmr", 4, NULL, NULL, NULL));
	ADD(pm, 8, r);
	ms_region__set_enabled(pm, false);
	ADD(io, 0, pm);

	/* PCI bus masters: a container with a disabled full-size alias of system */
	for (int i = 0; i < 4; i++) {
		bmc[i] = K(ms_region__new_container(ctx, "bus master container", UINT64_MAX,
						    NULL));
		r = K(ms_region__new_alias(ctx, "bus master", sys, 0, UINT64_MAX, NULL));
		ms_region__set_enabled(r, false);
		ADD(bmc[i], 0, r);
	}

	/* creation order gives the order of the AS lines of a flat view */
	self->memory = new_as(_metadata, self, sys, "memory");
	new_as(_metadata, self, io, "I/O");
	for (int i = 0; i < 4; i++)
		new_as(_metadata, self, bmc[i], bm_names[i]);
	new_as(_metadata, self, sys, "cpu-memory-0");
}

FIXTURE_TEARDOWN(pc)
{
	for (int i = self->nas - 1; i >= 0; i--)
		ms_as__free(self->as[i]);
	for (int i = self->nkeep - 1; i >= 0; i--)
		ms_region__unref(self->keep[i]);
	ms_ctx__free(self->ctx);
}

/*
 * KVM's has_memory (kvm-memslots.md 8.1) for the sample: only the "memory"
 * address space has a KVM memory listener; it maps page-aligned RAM/ROM.
 */
static bool kvm_like(void *opaque, struct ms_as *as, uint64_t start, ms_u128 size)
{
	const struct ms_flat_range *fr;

	(void)opaque;
	if (strcmp(ms_as__name(as), "memory"))
		return false;
	fr = ms_flatview__lookup(ms_as__flatview(as), start);
	return fr && ms_region__is_ram(fr->mr) && !(start & 0xfff) && !(size & 0xfff);
}

/* rule 2.1-2.6 against `info mtree` */
TEST_F(pc, tree)
{
	char *out = mtree_str(self->ctx, 0, NULL, NULL);

	compare_with_sample(_metadata, "pc-256m-stopped.mtree.txt", out, false);
	free(out);
}

/* rule 2.3, 2.5 against `info mtree -D` */
TEST_F(pc, tree_disabled)
{
	char *out = mtree_str(self->ctx, MS_MTREE_DISABLED, NULL, NULL);

	compare_with_sample(_metadata, "pc-256m-stopped.mtree_D.txt", out, false);
	free(out);
}

/* rule 3.1-3.4 against `info mtree -f` */
TEST_F(pc, flat)
{
	char *out = mtree_str(self->ctx, MS_MTREE_FLAT, kvm_like, NULL);

	compare_with_sample(_metadata, "pc-256m-stopped.mtree_f.txt", out, true);
	free(out);
}

/* rule 3.3, 5 against `info mtree -f -o` */
TEST_F(pc, flat_owner)
{
	char *out = mtree_str(self->ctx, MS_MTREE_FLAT | MS_MTREE_OWNER, kvm_like, NULL);

	compare_with_sample(_metadata, "pc-256m-stopped.mtree_f_o.txt", out, true);
	free(out);
}

/* rule 1.2: -D is ignored with -f */
TEST_F(pc, flat_ignores_disabled)
{
	char *a = mtree_str(self->ctx, MS_MTREE_FLAT, kvm_like, NULL);
	char *b = mtree_str(self->ctx, MS_MTREE_FLAT | MS_MTREE_DISABLED, kvm_like, NULL);

	ASSERT_NE(NULL, a);
	EXPECT_STR_FREE(a, b);
	free(a);
}

/* rule 3.3: without an accelerator callback no " KVM" marker appears */
TEST_F(pc, flat_without_kvm)
{
	char *out = mtree_str(self->ctx, MS_MTREE_FLAT, NULL, NULL);
	char *sample = load_sample("pc-256m-stopped.mtree_f.txt"), *p;

	ASSERT_NE(NULL, sample);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(NULL, strstr(out, " KVM"));
	while ((p = strstr(sample, " KVM")))
		memmove(p, p + 4, strlen(p + 4) + 1);
	compare_blocks(_metadata, "mtree_f without KVM", sample, out, true);
	free(out);
	free(sample);
}

/* regions 7.5, rule 3.2: the static empty view is one block with "(none)"
 * even after commits */
TEST_F(pc, flat_after_commit)
{
	struct ms_region *extra = IO("extra", 0x10);
	char *out;

	ms_region__set_enabled(extra, false);
	ADD(ms_as__root(self->memory), 0x1000000000ull, extra);
	ms_region__set_enabled(extra, true);
	ms_region__set_enabled(extra, false);
	out = mtree_str(self->ctx, MS_MTREE_FLAT, kvm_like, NULL);
	compare_with_sample(_metadata, "pc-256m-stopped.mtree_f.txt", out, true);
	free(out);
	ms_region__unref(extra);
}

/* ---- format rules on small trees --------------------------------------------- */

FIXTURE(fmt) {
	struct ms_ctx *ctx;
	struct ms_region *sys, *ram, *dis, *win;
	struct ms_as *as[4];
};

FIXTURE_SETUP(fmt)
{
	struct ms_region *r, *roc;

	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->sys = CONT("sys", UINT64_MAX);
	self->ram = RAM("ram", 0x2000);
	ADD(self->sys, 0x1000, self->ram);
	/* rule 1.5: size 0 is printed like size 1 */
	ADD_PUT(self->sys, 0x5000, IO("zero", 0));
	/* rule 2.3: nv- from the alias's own flag; type from the target */
	r = ALIAS("nv", self->ram, 0x1000, 0x1000);
	ms_region__set_nonvolatile(r, true);
	ADD_PUT(self->sys, 0x10000, r);
	/* rule 4.2: a read-only alias of RAM is "ram" in the tree, "rom" flat */
	r = ALIAS("roal", self->ram, 0, 0x1000);
	ms_region__set_readonly(r, true);
	ADD_PUT(self->sys, 0x20000, r);
	/* rule 7.4: an unnamed region prints as (null) */
	ADD_PUT(self->sys, 0x30000, IO(NULL, 0x10));
	/* rule 4.2: I/O under a read-only container is "rom" flat */
	roc = CONT("roc", 0x100);
	ms_region__set_readonly(roc, true);
	ADD_PUT(roc, 0, IO("dev", 0x10));
	ADD_PUT(self->sys, 0x40000, roc);
	/* rule 2.3: the end wraps: overflow marker */
	ADD_PUT(self->sys, 0xfffffffffffff000ull, IO("top", 0x2000));
	/* an alias root with an offset: its own view (regions 7.3) */
	self->win = ALIAS("win", self->sys, 0x1000, 0x1000);
	/* rule 2.6: a disabled root */
	self->dis = CONT("dis", 0x100);
	ADD_PUT(self->dis, 0x10, IO("inner", 0x10));
	ms_region__set_enabled(self->dis, false);

	self->as[0] = NEW_OK(ms_as__new(self->ctx, self->sys, "B", NULL));
	self->as[1] = NEW_OK(ms_as__new(self->ctx, self->sys, "A", NULL));
	self->as[2] = NEW_OK(ms_as__new(self->ctx, self->win, "C", NULL));
	self->as[3] = NEW_OK(ms_as__new(self->ctx, self->dis, "D", NULL));
}

FIXTURE_TEARDOWN(fmt)
{
	for (int i = 3; i >= 0; i--)
		ms_as__free(self->as[i]);
	ms_region__unref(self->win);
	ms_region__unref(self->dis);
	ms_region__unref(self->ram);
	ms_region__unref(self->sys);
	ms_ctx__free(self->ctx);
}

#define SYS_TREE								\
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"		\
	"    0000000000001000-0000000000002fff (prio 0, ram): ram\n"		\
	"    0000000000005000-0000000000005000 (prio 0, i/o): zero\n"		\
	"    0000000000010000-0000000000010fff (prio 0, nv-ram): alias nv @ram "	\
		"0000000000001000-0000000000001fff\n"				\
	"    0000000000020000-0000000000020fff (prio 0, ram): alias roal @ram "	\
		"0000000000000000-0000000000000fff\n"				\
	"    0000000000030000-000000000003000f (prio 0, i/o): (null)\n"		\
	"    0000000000040000-00000000000400ff (prio 0, i/o): roc\n"		\
	"      0000000000040000-000000000004000f (prio 0, i/o): dev\n"		\
	"[DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff (prio 0, i/o): top\n"

/* rule 2.1-2.4, 2.6, 1.4, 1.5, 4.1, 7.4 */
TEST_F(fmt, tree)
{
	EXPECT_STR_FREE(
		/* rule 2.1: one group per root, names sorted with strcmp */
		"address-space: A\n"
		"address-space: B\n"
		SYS_TREE
		"\n"
		"address-space: C\n"
		"  0000000000000000-0000000000000fff (prio 0, i/o): alias win @sys "
			"0000000000001000-0000000000001fff\n"
		"\n"
		/* rule 2.6: disabled root omitted, children from level 2 */
		"address-space: D\n"
		"    0000000000000010-000000000000001f (prio 0, i/o): inner\n"
		"\n"
		/* rule 2.2, 2.4: alias targets in first-met order, own addr shown */
		"memory-region: ram\n"
		"  0000000000001000-0000000000002fff (prio 0, ram): ram\n"
		"\n"
		"memory-region: sys\n"
		SYS_TREE
		"\n",
		mtree_str(self->ctx, 0, NULL, NULL));
}

/* rule 2.3, 2.5: -D prints disabled regions with " [disabled]" */
TEST_F(fmt, tree_disabled)
{
	char *out = mtree_str(self->ctx, MS_MTREE_DISABLED, NULL, NULL);

	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "address-space: D\n"
				    "  0000000000000000-00000000000000ff (prio 0, i/o): "
				    "dis [disabled]\n"
				    "    0000000000000010-000000000000001f (prio 0, i/o): inner\n"
				    "\n"));
	free(out);
}

static bool mark_a_b(void *opaque, struct ms_as *as, uint64_t start, ms_u128 size)
{
	const struct ms_flat_range *fr = ms_flatview__lookup(ms_as__flatview(as), start);

	(void)opaque;
	(void)size;
	return strcmp(ms_as__name(as), "C") && fr && ms_region__is_ram(fr->mr);
}

/* rule 3.1-3.4: flat views, ", alias", "(none)", " @offset", one " KVM" per
 * address space; rule 4.2: inherited read-only prints rom */
TEST_F(fmt, flat)
{
	EXPECT_STR_FREE(
		"FlatView #0\n"
		" AS \"B\", root: sys\n"
		" AS \"A\", root: sys\n"
		" Root memory region: sys\n"
		"  0000000000001000-0000000000002fff (prio 0, ram): ram KVM KVM\n"
		"  0000000000010000-0000000000010fff (prio 0, nv-ram): ram @0000000000001000"
			" KVM KVM\n"
		"  0000000000020000-0000000000020fff (prio 0, rom): ram KVM KVM\n"
		"  0000000000030000-000000000003000f (prio 0, i/o): (null)\n"
		"  0000000000040000-000000000004000f (prio 0, rom): dev\n"
		"  fffffffffffff000-ffffffffffffffff (prio 0, i/o): top\n"
		"\n"
		"FlatView #1\n"
		" AS \"C\", root: win, alias sys\n"
		" Root memory region: win\n"
		"  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
		"\n"
		"FlatView #2\n"
		" AS \"D\", root: dis\n"
		" Root memory region: (none)\n"
		"  No rendered FlatView\n"
		"\n",
		mtree_str(self->ctx, MS_MTREE_FLAT, mark_a_b, NULL));
}

/* rule 5.1, 5.2: owner text in the tree and before the KVM markers */
TEST_F(fmt, owner)
{
	char *out;

	EXPECT_EQ(0, ms_region__set_owner(self->ram, "obj path=/objects/ram", NULL));
	EXPECT_EQ(0, ms_region__set_owner(self->sys, "obj path=/machine", "obj path=/x"));
	out = mtree_str(self->ctx, MS_MTREE_OWNER, NULL, NULL);
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "address-space: A\naddress-space: B\n"
				    "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys "
				    "owner:{obj path=/machine} parent:{obj path=/x}\n"
				    "    0000000000001000-0000000000002fff (prio 0, ram): ram "
				    "owner:{obj path=/objects/ram}\n"
				    "    0000000000005000-0000000000005000 (prio 0, i/o): zero orphan\n"));
	free(out);
	/* the same text as owner and parent prints once */
	EXPECT_EQ(0, ms_region__set_owner(self->sys, "obj path=/machine",
					  "obj path=/machine"));
	out = mtree_str(self->ctx, MS_MTREE_FLAT | MS_MTREE_OWNER, mark_a_b, NULL);
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "  0000000000001000-0000000000002fff (prio 0, ram): ram "
				    "owner:{obj path=/objects/ram} KVM KVM\n"));
	EXPECT_NE(NULL, strstr(out, "  0000000000030000-000000000003000f (prio 0, i/o): (null) "
				    "orphan\n"));
	free(out);
	out = mtree_str(self->ctx, MS_MTREE_OWNER, NULL, NULL);
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "(prio 0, i/o): sys owner:{obj path=/machine}\n"));
	free(out);
}

/* printing to a stream that fails reports an error */
TEST_F(fmt, write_error)
{
	FILE *f = fopen("/dev/full", "w");

	if (!f)
		SKIP(return, "/dev/full not available");
	setvbuf(f, NULL, _IONBF, 0);
	EXPECT_GT(0, ms_mtree_print(self->ctx, f, 0, NULL, NULL));
	fclose(f);
}

TEST_HARNESS_MAIN
