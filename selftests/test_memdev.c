// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Memory devices on pc / q35 machines (memory-devices.md): one TEST per
 * numbered rule with a behaviour or an error, named rule_<section>_<n>_...
 * Machines are built with ms_machine__new(); most backends are created
 * with no_memory (planning), a few with real anonymous memory or a file.
 *
 * Every failing device_add / device_del is checked for atomicity: the
 * device-memory accounting, the device list, the flat views of "memory"
 * and "device-memory", the KVM slot table and the consumers must read the
 * same before and after (snap()).
 *
 * Rules for QEMU 7.2 only (3.2, 5.7, 9.5) are not tested: the library
 * follows current QEMU. Rules 8 and 10 (virtio-mem) are in
 * test_virtio_mem.c, rule 7 and 10.2 arithmetic in test_decision.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"
#include "machine.h"

/* DEV()/MACHINE() below override defaults with the caller's designators. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define TiB	0x10000000000ull

#define KVM_SLOTS 32764

/* ---- custom memory devices ------------------------------------------------------------ */

/* One device implementing the interface itself (ms_machine__device_add_custom). */
struct cdev {
	uint64_t addr;			/* get_addr / set_addr */
	struct ms_region *mr;		/* get_memory_region; NULL: empty device */
	bool fail;			/* get_memory_region fails */
	uint32_t memslots;		/* get_memslots (with decide: at most this many) */
	uint64_t min_align;		/* get_min_alignment */
	uint64_t plugged;		/* get_plugged_size */
	uint32_t limit;			/* last decide_memslots limit */
	int n_decide, n_set_addr, n_get_memslots, n_get_region, n_get_plugged;
	bool memslots_before_decide;	/* get_memslots came before decide_memslots */
};

static uint64_t c_get_addr(void *opaque)
{
	return ((struct cdev *)opaque)->addr;
}

static void c_set_addr(void *opaque, uint64_t addr)
{
	struct cdev *c = opaque;

	c->addr = addr;
	c->n_set_addr++;
}

static uint64_t c_get_plugged_size(void *opaque)
{
	struct cdev *c = opaque;

	c->n_get_plugged++;
	return c->plugged;
}

static struct ms_region *c_get_memory_region(void *opaque, struct ms_error *err)
{
	struct cdev *c = opaque;

	c->n_get_region++;
	if (c->fail) {
		ms_error_set(err, -EIO, "cdev: backend is gone");
		return NULL;
	}
	return c->mr;
}

static void c_decide(void *opaque, uint32_t limit)
{
	struct cdev *c = opaque;

	c->n_decide++;
	c->limit = limit;
	if (c->memslots > limit)
		c->memslots = limit;
}

static uint32_t c_get_memslots(void *opaque)
{
	struct cdev *c = opaque;

	if (!c->n_decide)
		c->memslots_before_decide = true;
	c->n_get_memslots++;
	return c->memslots;
}

static uint64_t c_get_min_alignment(void *opaque)
{
	return ((struct cdev *)opaque)->min_align;
}

/* Which optional callbacks a custom device has. */
#define C_DECIDE	(1u << 0)
#define C_MEMSLOTS	(1u << 1)
#define C_ALIGN		(1u << 2)

static struct ms_memdev_ops cdev_ops(unsigned int flags)
{
	struct ms_memdev_ops ops = {
		.get_addr = c_get_addr,
		.set_addr = c_set_addr,
		.get_plugged_size = c_get_plugged_size,
		.get_memory_region = c_get_memory_region,
	};

	if (flags & C_DECIDE)
		ops.decide_memslots = c_decide;
	if (flags & C_MEMSLOTS)
		ops.get_memslots = c_get_memslots;
	if (flags & C_ALIGN)
		ops.get_min_alignment = c_get_min_alignment;
	return ops;
}

/* ---- fixture ------------------------------------------------------------------------ */

#define MAX_KEEP 16

FIXTURE(md) {
	struct ms_ctx *ctx;
	struct ms_machine *m;
	struct cdev c[4];
	struct ms_region *keep[MAX_KEEP];	/* unreferenced after the machine is freed */
	int nkeep;
	char file[3][64];			/* temporary mem-paths, unlinked */
	int nfiles;
	ms_print_fn_t old_print;
};

FIXTURE_SETUP(md)
{
	warn_clear();
	self->old_print = ms_set_print(warn_capture);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
}

FIXTURE_TEARDOWN(md)
{
	ms_machine__free(self->m);
	for (int i = self->nkeep; i-- > 0;)
		ms_region__unref(self->keep[i]);
	ms_ctx__free(self->ctx);
	for (int i = 0; i < self->nfiles; i++)
		unlink(self->file[i]);
	ms_set_print(self->old_print);
	EXPECT_NO_LEAKS();
}

/* Machine presets with KVM (32764 slots, 4 KiB pages) unless overridden. */
#define PC	.type = MS_MACHINE_PC
#define Q35	.type = MS_MACHINE_Q35
#define MOPTS(...) ((struct ms_machine_opts){ .sz = sizeof(struct ms_machine_opts),	\
	.kvm_memslots = KVM_SLOTS, .page_size = PAGE, __VA_ARGS__ })

static struct ms_machine *__machine(struct __test_metadata *_metadata, FIXTURE_DATA(md) *self,
				    struct ms_machine_opts o)
{
	struct ms_error err = { 0 };

	ASSERT_EQ(NULL, self->m);
	self->m = ms_machine__new(self->ctx, &o, &err);
	ASSERT_NE(NULL, self->m) {
		TH_LOG("ms_machine__new: %s", err.msg);
	}
	return self->m;
}
#define MACHINE(...) __machine(_metadata, self, MOPTS(__VA_ARGS__))

/* The default machine: pc -m 4G,slots=4,maxmem=16G (rule 4.6 example). */
#define PC_4G_16G() MACHINE(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 16 * GiB)

/*
 * Try to build a machine in a fresh context; return the error text
 * (malloc()ed) or NULL if it was built. @l gets the layout if built.
 */
static char *machine_try(struct ms_machine_opts o, struct ms_machine_layout *l)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_error err = { 0 };
	struct ms_machine *m;
	char *ret = NULL;

	if (!ctx)
		return strdup("ms_ctx__new failed");
	m = ms_machine__new(ctx, &o, &err);
	if (m) {
		if (l)
			ms_machine__layout(m, l);
		ms_machine__free(m);
	} else {
		ret = strdup(err.msg[0] ? err.msg : "(no message)");
	}
	ms_ctx__free(ctx);
	return ret;
}

static struct ms_backend *__backend(struct __test_metadata *_metadata, FIXTURE_DATA(md) *self,
				    struct ms_backend_opts o)
{
	struct ms_error err = { 0 };
	struct ms_backend *b = ms_machine__add_backend(self->m, &o, &err);

	ASSERT_NE(NULL, b) {
		TH_LOG("ms_machine__add_backend(%s): %s", o.id, err.msg);
	}
	return b;
}
#define BOPTS(...) ((struct ms_backend_opts){ .sz = sizeof(struct ms_backend_opts), __VA_ARGS__ })
/* memory-backend-ram without host memory (planning) */
#define BACKEND(_id, _size) __backend(_metadata, self,					\
	BOPTS(.kind = MS_BACKEND_RAM, .id = (_id), .size = (_size), .no_memory = true))
/* memory-backend-ram with anonymous host memory */
#define BACKEND_REAL(_id, _size) __backend(_metadata, self,				\
	BOPTS(.kind = MS_BACKEND_RAM, .id = (_id), .size = (_size)))

/* memory-backend-file on a new temporary file (4 KiB pages), share=on */
static struct ms_backend *__file_backend(struct __test_metadata *_metadata,
					 FIXTURE_DATA(md) *self, const char *id, uint64_t size,
					 uint64_t align, bool readonly)
{
	char *path;
	int fd;

	ASSERT_LT(self->nfiles, 3);
	path = self->file[self->nfiles];
	strcpy(path, "/tmp/memslot-test-XXXXXX");
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	self->nfiles++;
	if (readonly)
		ASSERT_EQ(0, ftruncate(fd, (off_t)size));
	close(fd);
	return __backend(_metadata, self, BOPTS(.kind = MS_BACKEND_FILE, .id = id, .size = size,
						.mem_path = path, .share = true,
						.align = align, .readonly = readonly));
}
#define FILE_BACKEND(id, size, align) __file_backend(_metadata, self, (id), (size), (align), \
						     false)
#define FILE_BACKEND_RO(id, size) __file_backend(_metadata, self, (id), (size), 0, true)

/* Device options: slot unassigned, unplugged-inaccessible on (current default). */
#define DEV(...) ((struct ms_memdev_opts){ .sz = sizeof(struct ms_memdev_opts),		\
	.slot = MS_MEMDEV_SLOT_AUTO, .unplugged_inaccessible = MS_ON, __VA_ARGS__ })
#define DIMM(_id, _b, ...)	DEV(.type = MS_MEMDEV_DIMM, .id = (_id), .memdev = (_b),	\
				    ##__VA_ARGS__)
#define NVDIMM(_id, _b, ...)	DEV(.type = MS_MEMDEV_NVDIMM, .id = (_id), .memdev = (_b),	\
				    ##__VA_ARGS__)
#define PMEM(_id, _b, ...)	DEV(.type = MS_MEMDEV_VIRTIO_PMEM, .id = (_id), .memdev = (_b), \
				    ##__VA_ARGS__)
#define VMEM(_id, _b, ...)	DEV(.type = MS_MEMDEV_VIRTIO_MEM, .id = (_id), .memdev = (_b), \
				    .block_size = 2 * MiB, ##__VA_ARGS__)

/* ---- snapshots for failure atomicity ------------------------------------------------- */

static int dev_line(struct ms_memdev *dev, void *opaque)
{
	struct ms_memdev_info i;

	memset(&i, 0, sizeof(i));
	ms_memdev__info(dev, &i);
	fprintf(opaque, "dev %s id=%s addr=0x%" PRIx64 " size=0x%" PRIx64 " slot=%d node=%u "
		"memdev=%s req=0x%" PRIx64 " max=0x%" PRIx64 " block=0x%" PRIx64
		" memslots=%u/%u plugged=0x%" PRIx64 "\n", ms_memdev_type_name(i.type),
		i.id ? i.id : "-", i.addr, i.size, i.slot, i.node, i.memdev ? i.memdev : "-",
		i.requested_size, i.max_size, i.block_size, i.memslots_used, i.memslots,
		i.plugged_size);
	return 0;
}

static int consumer_line(const struct ms_consumer_info *c, void *opaque)
{
	fprintf(opaque, "consumer %d %s max=%u used=%u free=%u\n", c->kind,
		c->name ? c->name : "-", c->max, c->used, c->free);
	return 0;
}

static void stats_fmt(FILE *f, const struct ms_devmem_stats *st)
{
	fprintf(f, "stats present=%d used_region=0x%" PRIx64 " plugged=0x%" PRIx64
		" dimm=0x%" PRIx64 " required=%u used=%u reserved=%u auto=%u\n", st->present,
		st->used_region_size, st->plugged_size, st->dimm_size, st->required_memslots,
		st->used_memslots, st->reserved_memslots, st->auto_decision_active);
}

/* Everything a failed device_add/del must leave unchanged, as text. */
static char *snap(struct ms_machine *m)
{
	struct ms_devmem_stats st = devmem_stats(m);
	struct ms_as *dm;
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	stats_fmt(f, &st);
	ms_machine__for_each_device(m, dev_line, f);
	s = as_str(ms_machine__memory_as(m));
	fprintf(f, "memory:\n%s", s ? s : "(NULL)\n");
	free(s);
	dm = find_as(ms_machine__ctx(m), "device-memory");
	if (dm) {
		s = as_str(dm);
		fprintf(f, "device-memory:\n%s", s ? s : "(NULL)\n");
		free(s);
	}
	if (ms_machine__kvm(m))
		ms_slotmap__for_each(ms_machine__kvm(m), memslot_line, f);
	ms_machine__for_each_consumer(m, consumer_line, f);
	fclose(f);
	return buf;
}

static struct ms_machine_layout layout(struct ms_machine *m)
{
	struct ms_machine_layout l;

	memset(&l, 0, sizeof(l));
	ms_machine__layout(m, &l);
	return l;
}

static struct ms_memdev_info info(struct ms_memdev *d)
{
	struct ms_memdev_info i;

	memset(&i, 0, sizeof(i));
	ms_memdev__info(d, &i);
	return i;
}

#define ADDR(d) (info(d).addr)

/* A failing device_add: exact text, errno set, nothing changed. */
static void __add_fail(struct __test_metadata *_metadata, struct ms_machine *m,
		       struct ms_memdev_opts o, const char *text, bool prefix)
{
	struct ms_error err = { 0 };
	struct ms_memdev *d;
	char *before = snap(m);

	errno = 0;
	d = ms_machine__device_add(m, &o, &err);
	EXPECT_EQ(NULL, d) {
		TH_LOG("device_add(%s) succeeded at 0x%" PRIx64 ", expected \"%s\"",
		       o.id ? o.id : "-", info(d).addr, text);
	}
	if (d)
		return;
	EXPECT_NE(0, errno);
	if (text && prefix) {
		EXPECT_EQ(0, strncmp(text, err.msg, strlen(text))) {
			TH_LOG("expected prefix \"%s\", got \"%s\"", text, err.msg);
		}
	} else if (text) {
		EXPECT_STREQ(text, err.msg);
	}
	EXPECT_STR_FREE(before, snap(m));
	free(before);
}
#define ADD_FAIL(o, text) __add_fail(_metadata, self->m, (o), (text), false)
#define ADD_FAIL_PREFIX(o, text) __add_fail(_metadata, self->m, (o), (text), true)

static struct ms_memdev *__add_custom_ok(struct __test_metadata *_metadata, struct ms_machine *m,
					 const char *id, unsigned int flags, struct cdev *c)
{
	struct ms_memdev_ops ops = cdev_ops(flags);
	struct ms_error err = { 0 };
	struct ms_memdev *d = ms_machine__device_add_custom(m, id, &ops, c, &err);

	ASSERT_NE(NULL, d) {
		TH_LOG("device_add_custom(%s): %s", id ? id : "-", err.msg);
	}
	return d;
}
#define ADD_CUSTOM_OK(id, flags, c) __add_custom_ok(_metadata, self->m, (id), (flags), (c))

static void __add_custom_fail(struct __test_metadata *_metadata, struct ms_machine *m,
			      const char *id, unsigned int flags, struct cdev *c, const char *text)
{
	struct ms_memdev_ops ops = cdev_ops(flags);
	struct ms_error err = { 0 };
	struct ms_memdev *d;
	char *before = snap(m);

	errno = 0;
	d = ms_machine__device_add_custom(m, id, &ops, c, &err);
	EXPECT_EQ(NULL, d);
	if (d)
		return;
	EXPECT_NE(0, errno);
	EXPECT_STREQ(text, err.msg);
	EXPECT_STR_FREE(before, snap(m));
	free(before);
}
#define ADD_CUSTOM_FAIL(id, flags, c, text)						\
	__add_custom_fail(_metadata, self->m, (id), (flags), (c), (text))

/* The flat range of "memory" containing @addr as "<start>+<size> <region>@<offset>". */
static char *range_at(struct ms_machine *m, uint64_t addr)
{
	const struct ms_flat_range *fr = ms_flatview__lookup(
		ms_as__flatview(ms_machine__memory_as(m)), addr);
	char sz[U128_HEX_LEN], *s;

	if (!fr)
		return strdup("(none)");
	if (asprintf(&s, "0x%" PRIx64 "+%s %s@0x%" PRIx64 "%s%s", fr->start, u128_hex(sz, fr->size),
		     ms_region__name(fr->mr), fr->offset_in_region, fr->nonvolatile ? " nv" : "",
		     fr->unmergeable ? " um" : "") < 0)
		return NULL;
	return s;
}
#define EXPECT_RANGE(addr, expected) EXPECT_STR_FREE((expected), range_at(self->m, (addr)))

/* Is there a KVM slot exactly at (gpa, size)? */
static bool kvm_has(struct ms_machine *m, uint64_t gpa, uint64_t size)
{
	return ms_machine__kvm(m) && ms_slotmap__lookup(ms_machine__kvm(m), gpa, size);
}

static uint32_t kvm_free(struct ms_machine *m)
{
	struct ms_slotmap *k = ms_machine__kvm(m);

	return ms_slotmap__max_slots(k) - ms_slotmap__nr_used(k);
}

struct find_consumer {
	const char *name;
	struct ms_consumer_info c;
	bool found;
};

static int find_consumer_cb(const struct ms_consumer_info *c, void *opaque)
{
	struct find_consumer *f = opaque;

	if (c->name && !strcmp(c->name, f->name)) {
		f->c = *c;
		f->found = true;
		return 1;
	}
	return 0;
}

static struct ms_consumer_info consumer(struct ms_machine *m, const char *name)
{
	struct find_consumer f = { .name = name };

	ms_machine__for_each_consumer(m, find_consumer_cb, &f);
	if (!f.found)
		f.c.name = NULL;
	return f.c;
}

static int count_cb(struct ms_memdev *dev, void *opaque)
{
	(void)dev;
	(*(int *)opaque)++;
	return 0;
}

static int nr_devices(struct ms_machine *m)
{
	int n = 0;

	ms_machine__for_each_device(m, count_cb, &n);
	return n;
}

/*
 * A custom device's region of two flat ranges with a hole (rules 1.2, 5.6,
 * 6.2): a 1 GiB container with "cdev-0", @b's first 256 MiB, at 0 and @hi
 * at 512 MiB; @hi NULL stands for "cdev-1", @b's 256 MiB at 512 MiB. The
 * fixture keeps every region it makes.
 */
static struct ms_region *__cdev_container(struct __test_metadata *_metadata,
					  FIXTURE_DATA(md) *self, struct ms_backend *b,
					  struct ms_region *hi)
{
	struct ms_region *cont, *a0;

	cont = KEEP(ms_region__new_container(self->ctx, "cdev", GiB, NULL));
	a0 = KEEP(ms_region__new_alias(self->ctx, "cdev-0", ms_backend__region(b), 0,
				       256 * MiB, NULL));
	if (!hi)
		hi = KEEP(ms_region__new_alias(self->ctx, "cdev-1", ms_backend__region(b),
					       512 * MiB, 256 * MiB, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(cont, 0, a0, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(cont, 512 * MiB, hi, NULL));
	return cont;
}
#define CDEV_CONTAINER(b, hi) __cdev_container(_metadata, self, (b), (hi))

/* ==== 1. The memory-device interface ================================================ */

/*
 * 1.1: get_addr gives the hint, set_addr stores the choice once,
 * decide_memslots runs exactly once in pre_plug before the first
 * get_memslots, get_min_alignment aligns the address, get_plugged_size
 * feeds the plugged size.
 */
TEST_F(md, rule_1_1_callbacks)
{
	struct ms_backend *b1, *b2;
	struct cdev *c = &self->c[0], *c2 = &self->c[1];
	struct ms_devmem_stats st;

	PC_4G_16G();
	b1 = BACKEND("b1", 2 * MiB);
	b2 = BACKEND("b2", 8 * GiB);
	ASSERT_NE(NULL, ADD_OK(DIMM("d1", b1)));	/* 2 MiB at the base */

	c->mr = ms_backend__region(b2);
	c->memslots = 7;
	c->min_align = GiB;
	c->plugged = 3 * GiB;
	ADD_CUSTOM_OK("c1", C_DECIDE | C_MEMSLOTS | C_ALIGN, c);
	EXPECT_EQ(1, c->n_decide);
	EXPECT_FALSE(c->memslots_before_decide);
	EXPECT_EQ(1, c->n_set_addr);
	/* 1 GiB minimum alignment: past the 2 MiB DIMM at 0x140000000 */
	EXPECT_EQ(0x180000000ull, c->addr);
	/*
	 * Rule 7 with this machine: hotpluggable 12 GiB, used 2 MiB, required 1
	 * (the DIMM): floor(255 * 8G / (12G - 2M)) = 170.
	 */
	EXPECT_EQ(170, c->limit);
	st = devmem_stats(self->m);
	EXPECT_EQ(1 + 7, st.required_memslots);
	EXPECT_EQ(2, st.used_memslots);
	EXPECT_EQ(6, st.reserved_memslots);
	EXPECT_EQ(1, st.auto_decision_active);
	EXPECT_EQ(2 * MiB + 3 * GiB, st.plugged_size);
	EXPECT_EQ(2 * MiB + 8 * GiB, st.used_region_size);
	EXPECT_RANGE(0x180000000ull, "0x180000000+0x200000000 b2@0x0");

	/* without get_memslots: 1 memslot; without decide: not auto-deciding */
	b1 = BACKEND("b3", 2 * MiB);
	c2->mr = ms_backend__region(b1);
	c2->memslots = 5;
	ADD_CUSTOM_OK("c2", 0, c2);
	EXPECT_EQ(0, c2->n_decide);
	EXPECT_EQ(0, c2->n_get_memslots);
	st = devmem_stats(self->m);
	EXPECT_EQ(1 + 7 + 1, st.required_memslots);
	EXPECT_EQ(1, st.auto_decision_active);
	/* first fit after the DIMM: 0x140200000 */
	EXPECT_EQ(0x140200000ull, c2->addr);
}

/*
 * 1.2: the region may be a container of RAM aliases; subregions may be
 * mapped and unmapped at run time; each flat range is counted (6.2).
 */
TEST_F(md, rule_1_2_container_region)
{
	struct ms_backend *b;
	struct ms_region *cont, *a1;
	struct cdev *c = &self->c[0];
	struct ms_devmem_stats st;

	PC_4G_16G();
	b = BACKEND("b", GiB);
	cont = CDEV_CONTAINER(b, NULL);
	a1 = find_subregion(cont, "cdev-1");
	ASSERT_NE(NULL, a1);
	c->mr = cont;
	c->memslots = 2;
	c->min_align = 2 * MiB;
	ADD_CUSTOM_OK("c", C_MEMSLOTS | C_ALIGN, c);
	EXPECT_EQ(0x140000000ull, c->addr);
	st = devmem_stats(self->m);
	EXPECT_EQ(2, st.required_memslots);
	EXPECT_EQ(2, st.used_memslots);
	EXPECT_EQ(0, st.reserved_memslots);
	EXPECT_EQ(GiB, st.used_region_size);
	EXPECT_RANGE(0x140000000ull, "0x140000000+0x10000000 b@0x0");
	EXPECT_RANGE(0x160000000ull, "0x160000000+0x10000000 b@0x20000000");
	EXPECT_TRUE(kvm_has(self->m, 0x160000000ull, 256 * MiB));

	/* unmap one at run time: used 1, reserved 1 */
	ASSERT_EQ(0, ms_region__del_subregion(cont, a1, NULL));
	st = devmem_stats(self->m);
	EXPECT_EQ(1, st.used_memslots);
	EXPECT_EQ(1, st.reserved_memslots);
	EXPECT_RANGE(0x160000000ull, "(none)");
	EXPECT_FALSE(kvm_has(self->m, 0x160000000ull, 256 * MiB));
	ASSERT_EQ(0, ms_region__add_subregion(cont, 512 * MiB, a1, NULL));
	EXPECT_EQ(2, devmem_stats(self->m).used_memslots);
}

/*
 * 1.3: an empty device (no region, no error) is skipped by pre_plug, plug,
 * unplug, free-address scans and the plugged size, but listed; a region
 * error makes the device non-empty (its error surfaces).
 */
TEST_F(md, rule_1_3_empty_device)
{
	struct cdev *c = &self->c[0], *e = &self->c[1];
	struct ms_memdev *d, *dd;
	struct ms_backend *b;
	char *before, *after, *p;

	/* no device memory at all: an empty device still plugs (step 1 before 2) */
	MACHINE(PC, .ram_size = 4 * GiB);
	before = snap(self->m);
	c->plugged = 123 * MiB;
	c->memslots = 3;
	d = ADD_CUSTOM_OK("empty", C_DECIDE | C_MEMSLOTS | C_ALIGN, c);
	EXPECT_EQ(0, c->n_decide);
	EXPECT_EQ(0, c->n_get_memslots);
	EXPECT_EQ(0, c->n_set_addr);
	EXPECT_EQ(1, nr_devices(self->m));
	EXPECT_STREQ("empty", ms_memdev__id(d));
	EXPECT_EQ(NULL, ms_memdev__region(d));
	/* nothing else changed (the device list aside) */
	after = snap(self->m);
	p = strstr(after, "\nmemory:");
	EXPECT_NE(NULL, p);
	if (p) {
		EXPECT_STREQ(strstr(before, "\nmemory:"), p);
	}
	free(after);
	EXPECT_EQ(0, devmem_stats(self->m).plugged_size);
	DEL_OK(d);
	EXPECT_EQ(0, nr_devices(self->m));
	EXPECT_STR_FREE(before, snap(self->m));
	free(before);

	/* a region error on the same machine: step 2 comes first */
	e->fail = true;
	ADD_CUSTOM_FAIL("bad", 0, e, "the configuration is not prepared for memory devices "
				     "(e.g., for memory hotplug), consider specifying the maxmem "
				     "option");
	ms_machine__free(self->m);
	self->m = NULL;

	/* with device memory: the error is returned as is (5.2 step 3) */
	PC_4G_16G();
	ADD_CUSTOM_FAIL("bad", 0, e, "cdev: backend is gone");

	/* an empty device with an address overlapping a DIMM is not scanned */
	memset(c, 0, sizeof(*c));
	c->addr = 0x140000000ull;
	c->plugged = 5 * GiB;
	d = ADD_CUSTOM_OK("empty", C_ALIGN, c);
	b = BACKEND("m1", GiB);
	dd = ADD_OK(DIMM("d1", b, .addr = 0x140000000ull));
	EXPECT_EQ(0x140000000ull, ADDR(dd));
	EXPECT_EQ(GiB, devmem_stats(self->m).plugged_size);
	EXPECT_EQ(GiB, devmem_stats(self->m).used_region_size);
	EXPECT_EQ(1, devmem_stats(self->m).required_memslots);
	EXPECT_EQ(2, nr_devices(self->m));
	DEL_OK(d);
	EXPECT_EQ(1, devmem_stats(self->m).required_memslots);
	EXPECT_EQ(GiB, devmem_stats(self->m).used_region_size);
}

/* ==== 2. Constants ================================================================== */

/* 2.1: 256 soft memslot limit, 509 safe maximum. */
TEST_F(md, rule_2_1_constants)
{
	EXPECT_EQ(256, MS_MEMDEV_SOFT_MEMSLOT_LIMIT);
	EXPECT_EQ(509, MS_MEMDEV_SAFE_MAX_MEMSLOTS);
	EXPECT_EQ(UINT32_MAX, MS_MEMSLOTS_UNLIMITED);
}

/*
 * 2.2: virtio-mem minimum block size 1 MiB, minimum memslot size 1 GiB,
 * usable-region extent 256 MiB on x86.
 */
TEST_F(md, rule_2_2_virtio_mem_constants)
{
	struct ms_backend *b, *b2;
	struct ms_virtio_mem_status vs;
	struct ms_memdev *d;

	MACHINE(PC, .ram_size = 4 * GiB, .maxmem = 20 * GiB);
	b = BACKEND("vm0", 8 * GiB);
	ADD_FAIL(VMEM("vmem0", b, .block_size = 512 * KiB),
		 "'block-size' property has to be at least 0x100000");
	d = ADD_OK(VMEM("vmem0", b, .block_size = MiB, .requested_size = 2 * MiB,
			.dynamic_memslots = true));
	ASSERT_EQ(0, ms_virtio_mem__status(d, &vs));
	EXPECT_EQ(MiB, vs.block_size);
	EXPECT_EQ(2 * MiB + 256 * MiB, vs.usable_region_size);
	/* limit floor(256 * 8 / 16) = 128: 64 MiB memslots raised to 1 GiB */
	EXPECT_EQ(8, vs.nr_memslots);
	EXPECT_EQ(GiB, vs.memslot_size);

	b2 = BACKEND("vm1", 4 * GiB);
	d = ADD_OK(VMEM("vmem1", b2, .block_size = MiB, .requested_size = 0));
	ASSERT_EQ(0, ms_virtio_mem__status(d, &vs));
	EXPECT_EQ(0, vs.usable_region_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 4 * GiB - 100 * MiB, NULL));
	ASSERT_EQ(0, ms_virtio_mem__status(d, &vs));
	/* min(memdev size, requested + 256 MiB) */
	EXPECT_EQ(4 * GiB, vs.usable_region_size);
}

/* 2.3: 1 GiB aligned device-memory base, 1 GiB slack per slot, at most 256 slots. */
TEST_F(md, rule_2_3_pc_constants)
{
	struct ms_machine_layout l;
	char *e;

	/* RAM 4 GiB + 2 MiB: above-4G RAM ends at 0x140200000, base rounds to 6 GiB */
	e = machine_try(MOPTS(PC, .ram_size = 4 * GiB + 2 * MiB, .slots = 2,
			      .maxmem = 8 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(0x180000000ull, l.devmem_base);
	EXPECT_EQ(8 * GiB - (4 * GiB + 2 * MiB) + 2 * GiB, l.devmem_size);

	e = machine_try(MOPTS(PC, .ram_size = GiB, .slots = 256, .maxmem = 2 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(GiB + 256 * GiB, l.devmem_size);
	EXPECT_STR_FREE("unsupported amount of memory slots: 257",
			machine_try(MOPTS(PC, .ram_size = GiB, .slots = 257, .maxmem = 2 * GiB),
				    NULL));
}

/* ==== 3. Device-memory state ======================================================== */

/* 3.1: base, container, counters (dimm_size excludes NVDIMMs). */
TEST_F(md, rule_3_1_state)
{
	struct ms_backend *b1, *b2;
	struct ms_devmem_stats st;
	struct ms_memdev *d, *nv;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 16 * GiB, .nvdimm = true);
	st = devmem_stats(self->m);
	EXPECT_TRUE(st.present);
	EXPECT_EQ(0, st.used_region_size);
	EXPECT_EQ(0, st.required_memslots);
	EXPECT_EQ(0, st.used_memslots);
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("nv1", 256 * MiB);
	d = ADD_OK(DIMM("dimm1", b1));
	nv = ADD_OK(NVDIMM("nv1", b2));
	st = devmem_stats(self->m);
	EXPECT_EQ(GiB, st.dimm_size);
	EXPECT_EQ(GiB + 256 * MiB, st.used_region_size);
	EXPECT_EQ(GiB + 256 * MiB, st.plugged_size);
	EXPECT_EQ(2, st.required_memslots);
	EXPECT_EQ(2, st.used_memslots);
	EXPECT_EQ(0, st.reserved_memslots);
	EXPECT_EQ(0, st.auto_decision_active);
	(void)nv;
	DEL_OK(d);
	st = devmem_stats(self->m);
	EXPECT_EQ(0, st.dimm_size);
	EXPECT_EQ(256 * MiB, st.used_region_size);
	EXPECT_EQ(1, st.required_memslots);
	EXPECT_EQ(1, st.used_memslots);
}

/* 3.1 / 4.4: no maxmem, no device-memory state; every counter 0. */
TEST_F(md, rule_3_1_no_state)
{
	struct ms_devmem_stats st;
	struct ms_machine_layout l;

	MACHINE(PC, .ram_size = 4 * GiB);
	st = devmem_stats(self->m);
	EXPECT_FALSE(st.present);
	EXPECT_EQ(0, st.used_region_size);
	EXPECT_EQ(0, st.required_memslots);
	EXPECT_EQ(0, st.reserved_memslots);
	l = layout(self->m);
	EXPECT_EQ(0, l.devmem_base);
	EXPECT_EQ(0, l.devmem_size);
	EXPECT_EQ(NULL, find_as(self->ctx, "device-memory"));
	EXPECT_EQ(NULL, find_subregion(ms_machine__system(self->m), "device-memory"));
}

/*
 * 3.3: "device-memory" container of the size, mapped into system at base
 * with priority 0; address space "device-memory" on it, whose flat ranges
 * are at absolute guest addresses.
 */
TEST_F(md, rule_3_3_devmem_init)
{
	struct ms_region *dm;
	struct ms_as *as;
	struct ms_backend *b;
	const struct ms_flat_range *fr;

	PC_4G_16G();
	dm = find_subregion(ms_machine__system(self->m), "device-memory");
	ASSERT_NE(NULL, dm);
	EXPECT_EQ(MS_REGION_CONTAINER, ms_region__kind(dm));
	EXPECT_EQ(0x140000000ull, ms_region__addr(dm));
	EXPECT_EQ(0x400000000ull, ms_region__size(dm));
	EXPECT_EQ(0, ms_region__priority(dm));
	as = find_as(self->ctx, "device-memory");
	ASSERT_NE(NULL, as);
	EXPECT_EQ(dm, ms_as__root(as));
	EXPECT_EQ(0, ms_flatview__nr_ranges(ms_as__flatview(as)));

	b = BACKEND("m1", GiB);
	ADD_OK(DIMM("dimm1", b, .addr = 0x200000000ull));
	ASSERT_EQ(1, ms_flatview__nr_ranges(ms_as__flatview(as)));
	fr = ms_flatview__range(ms_as__flatview(as), 0);
	EXPECT_EQ(0x200000000ull, fr->start);
	EXPECT_U128(GiB, fr->size);
	EXPECT_EQ(ms_backend__region(b), fr->mr);
}

/* 3.4: `info mtree` shows device-memory under system and its own address space. */
TEST_F(md, rule_3_4_mtree)
{
	struct ms_backend *b;
	char *s;

	PC_4G_16G();
	b = BACKEND("m1", GiB);
	ADD_OK(DIMM("dimm1", b));
	s = mtree_str(self->ctx, 0, NULL, NULL);
	ASSERT_NE(NULL, s);
	EXPECT_NE(NULL, strstr(s, "\n    0000000140000000-000000053fffffff (prio 0, i/o): "
				  "device-memory\n      0000000140000000-000000017fffffff "
				  "(prio 0, ram): m1\n")) {
		TH_LOG("%s", s);
	}
	EXPECT_NE(NULL, strstr(s, "address-space: device-memory\n  0000000140000000-"
				  "000000053fffffff (prio 0, i/o): device-memory\n"));
	free(s);
}

/* ==== 4. PC machine memory layout ================================================== */

struct split {
	enum ms_machine_type type;
	uint64_t ram, max_below;
	uint64_t below, above;
	bool warns;		/* the max-ram-below-4g performance warning */
};

static void check_splits(struct __test_metadata *_metadata, const struct split *t, size_t n)
{
	ms_print_fn_t old = ms_set_print(warn_capture);

	for (size_t i = 0; i < n; i++) {
		struct ms_machine_layout l;
		char *e;

		memset(&l, 0, sizeof(l));
		warn_clear();
		e = machine_try(MOPTS(.type = t[i].type, .ram_size = t[i].ram,
				      .max_ram_below_4g = t[i].max_below), &l);
		EXPECT_EQ(NULL, e) {
			TH_LOG("row %zu: %s", i, e);
		}
		free(e);
		EXPECT_EQ(t[i].below, l.below_4g) {
			TH_LOG("row %zu: ram 0x%" PRIx64 " max-ram-below-4g 0x%" PRIx64, i,
			       t[i].ram, t[i].max_below);
		}
		EXPECT_EQ(t[i].above, l.above_4g) {
			TH_LOG("row %zu", i);
		}
		if (t[i].above) {
			EXPECT_EQ(4 * GiB, l.above_4g_start);
		}
		EXPECT_EQ(t[i].warns, warn_text()[0] != '\0') {
			TH_LOG("row %zu: warnings: %s", i, warn_text());
		}
	}
	ms_set_print(old);
}

/* 4.1: i440FX split, max-ram-below-4g and the 3 GiB gigabyte alignment. */
TEST(rule_4_1_pc_split)
{
	static const struct split t[] = {
		{ MS_MACHINE_PC, 4 * GiB, 0, 3 * GiB, GiB, false },		/* 4G -> 3G + 1G */
		/* >= 3.5G: lowered to 3G */
		{ MS_MACHINE_PC, 0xe0000000, 0, 3 * GiB, 512 * MiB, false },
		{ MS_MACHINE_PC, 0xdff00000, 0, 0xdff00000, 0, false },	/* < 3.5G: all below */
		{ MS_MACHINE_PC, 3 * GiB, 0, 3 * GiB, 0, false },
		{ MS_MACHINE_PC, 256 * MiB, 0, 256 * MiB, 0, false },
		{ MS_MACHINE_PC, 16 * GiB, 0, 3 * GiB, 13 * GiB, false },
		{ MS_MACHINE_PC, 4 * GiB, 2 * GiB, 2 * GiB, 2 * GiB, false },	/* below 3G: kept */
		{ MS_MACHINE_PC, 4 * GiB, 0xd0000000, 3 * GiB, GiB, false },	/* above 3G: lowered */
		{ MS_MACHINE_PC, 4 * GiB, 0x90000000, 0x90000000, 0x70000000, true },
		{ MS_MACHINE_PC, 2 * GiB, 0x90000000, 2 * GiB, 0, false },	/* RAM < lowmem */
		{ MS_MACHINE_PC, 4 * GiB, 4 * GiB, 3 * GiB, GiB, false },
	};

	check_splits(_metadata, t, sizeof(t) / sizeof(t[0]));
}

/* 4.2: Q35 split at 2 GiB (RAM >= 2.75 GiB) or 2.75 GiB, capped by max-ram-below-4g. */
TEST(rule_4_2_q35_split)
{
	static const struct split t[] = {
		{ MS_MACHINE_Q35, 4 * GiB, 0, 2 * GiB, 2 * GiB, false },
		{ MS_MACHINE_Q35, 0xb0000000, 0, 2 * GiB, 0x30000000, false },	/* == 2.75G */
		{ MS_MACHINE_Q35, 0xaff00000, 0, 0xaff00000, 0, false },	/* < 2.75G: all below */
		{ MS_MACHINE_Q35, 2 * GiB + 512 * MiB, 0, 2 * GiB + 512 * MiB, 0, false },
		{ MS_MACHINE_Q35, GiB, 0, GiB, 0, false },
		{ MS_MACHINE_Q35, 4 * GiB, GiB, GiB, 3 * GiB, false },		/* cap 1G */
		{ MS_MACHINE_Q35, 2 * GiB + 512 * MiB, 2 * GiB, 2 * GiB, 512 * MiB, false },
		{ MS_MACHINE_Q35, 4 * GiB, 4 * GiB, 2 * GiB, 2 * GiB, false },	/* default cap */
		/* cap 1.25G not a multiple of 1G, above 2.75G > below: warns */
		{ MS_MACHINE_Q35, 4 * GiB, 0x50000000, 0x50000000, 0xb0000000, true },
		/* the same cap, above 0.75G <= below: no warning */
		{ MS_MACHINE_Q35, 2 * GiB, 0x50000000, 0x50000000, 0x30000000, false },
	};

	check_splits(_metadata, t, sizeof(t) / sizeof(t[0]));
}

/* 4.3: pc.ram through ram-below-4g at 0 and ram-above-4g at 4 GiB. */
TEST_F(md, rule_4_3_ram_aliases)
{
	struct ms_region *sys, *lo, *hi;

	PC_4G_16G();
	sys = ms_machine__system(self->m);
	lo = find_subregion(sys, "ram-below-4g");
	hi = find_subregion(sys, "ram-above-4g");
	ASSERT_NE(NULL, lo);
	ASSERT_NE(NULL, hi);
	EXPECT_STREQ("pc.ram", ms_region__name(ms_region__alias(lo)));
	EXPECT_EQ(ms_region__alias(lo), ms_region__alias(hi));
	EXPECT_EQ(4 * GiB, ms_region__size(ms_region__alias(lo)));
	EXPECT_EQ(0, ms_region__addr(lo));
	EXPECT_EQ(0, ms_region__alias_offset(lo));
	EXPECT_EQ(3 * GiB, ms_region__size(lo));
	EXPECT_EQ(4 * GiB, ms_region__addr(hi));
	EXPECT_EQ(3 * GiB, ms_region__alias_offset(hi));
	EXPECT_EQ(GiB, ms_region__size(hi));
	EXPECT_RANGE(0x100000000ull, "0x100000000+0x40000000 pc.ram@0xc0000000");
	ms_machine__free(self->m);
	self->m = NULL;

	MACHINE(PC, .ram_size = 256 * MiB);
	EXPECT_NE(NULL, find_subregion(ms_machine__system(self->m), "ram-below-4g"));
	EXPECT_EQ(NULL, find_subregion(ms_machine__system(self->m), "ram-above-4g"));
}

/* 4.4: device memory iff maxmem > RAM; base and size. */
TEST(rule_4_4_devmem_range)
{
	struct ms_machine_layout l;
	char *e;

	/* maxmem == RAM: none */
	e = machine_try(MOPTS(PC, .ram_size = 4 * GiB, .maxmem = 4 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(0, l.devmem_base);
	EXPECT_EQ(0, l.devmem_size);

	/* no above-4G RAM: exactly 4 GiB */
	e = machine_try(MOPTS(PC, .ram_size = 2 * GiB, .slots = 1, .maxmem = 3 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(4 * GiB, l.devmem_base);
	EXPECT_EQ(GiB + GiB, l.devmem_size);
	EXPECT_EQ(GiB, l.hotpluggable);

	/* q35 3G: 2G below, 1G above, base 0x140000000, size 5G + 2 x 1G */
	e = machine_try(MOPTS(Q35, .ram_size = 3 * GiB, .slots = 2, .maxmem = 8 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(0x140000000ull, l.devmem_base);
	EXPECT_EQ(7 * GiB, l.devmem_size);
	EXPECT_EQ(5 * GiB, l.hotpluggable);

	/* q35 with above-4G RAM not ending on 1 GiB: rounded up */
	e = machine_try(MOPTS(Q35, .ram_size = 3 * GiB + 4 * MiB, .maxmem = 8 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(0x180000000ull, l.devmem_base);
	EXPECT_EQ(5 * GiB - 4 * MiB, l.devmem_size);
}

/* 4.5: every start-up error text. */
TEST(rule_4_5_errors)
{
	char *e;

	EXPECT_STR_FREE("unsupported amount of memory slots: 257",
			machine_try(MOPTS(PC, .ram_size = 4 * GiB, .slots = 257,
					  .maxmem = 8 * GiB), NULL));
	EXPECT_STR_FREE("unsupported amount of memory slots: 1000",
			machine_try(MOPTS(Q35, .ram_size = 4 * GiB, .slots = 1000,
					  .maxmem = 8 * GiB), NULL));
	EXPECT_STR_FREE("maximum memory size must by aligned to multiple of 4096 bytes",
			machine_try(MOPTS(PC, .ram_size = 4 * GiB, .slots = 1,
					  .maxmem = 8 * GiB + 0x800), NULL));
	EXPECT_STR_FREE("invalid value of maxmem: maximum memory size (0x80000000) must be at "
			"least the initial memory size (0x100000000)",
			machine_try(MOPTS(PC, .ram_size = 4 * GiB, .maxmem = 2 * GiB), NULL));
	EXPECT_STR_FREE("invalid value of maxmem: memory slots were specified but maximum "
			"memory size (0x100000000) is equal to the initial memory size "
			"(0x100000000)",
			machine_try(MOPTS(PC, .ram_size = 4 * GiB, .slots = 2,
					  .maxmem = 4 * GiB), NULL));
	EXPECT_STR_FREE("slots specified but no max-size",
			machine_try(MOPTS(PC, .ram_size = 4 * GiB, .slots = 2), NULL));
	/* RAM is rounded up to 8 KiB before the checks: 4G - 100 becomes 4G */
	EXPECT_STR_FREE("invalid value of maxmem: memory slots were specified but maximum "
			"memory size (0x100000000) is equal to the initial memory size "
			"(0x100000000)",
			machine_try(MOPTS(PC, .ram_size = 4 * GiB - 100, .slots = 2,
					  .maxmem = 4 * GiB), NULL));

	/*
	 * base + size overflows: the spec gives no number format for <maxmem>
	 * (QEMU prints RAM_ADDR_FMT, plain hex); accept hex with or without 0x
	 * and decimal.
	 */
	e = machine_try(MOPTS(PC, .ram_size = 4 * GiB, .slots = 4,
			      .maxmem = 0xfffffffffffff000ull), NULL);
	EXPECT_NE(NULL, e);
	if (e) {
		static const char *const ok[] = {
			"unsupported amount of maximum memory: fffffffffffff000",
			"unsupported amount of maximum memory: 0xfffffffffffff000",
			"unsupported amount of maximum memory: 18446744073709547520",
		};
		bool match = false;

		for (size_t i = 0; i < 3; i++)
			match |= !strcmp(ok[i], e);
		EXPECT_TRUE(match) {
			TH_LOG("got \"%s\"", e);
		}
		free(e);
	}
	/*
	 * Not reachable with the presets: `"-memory 'slots|maxmem'" is not
	 * supported by: <machine>` (both pc and q35 have device memory).
	 */
}

/* 4.5: RAM rounded up to 8 KiB. */
TEST(rule_4_5_ram_rounding)
{
	struct ms_machine_layout l;
	char *e = machine_try(MOPTS(PC, .ram_size = 256 * MiB + 1), &l);

	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(256 * MiB + 8 * KiB, l.below_4g);
}

/* 4.6: the worked examples. */
TEST_F(md, rule_4_6_examples)
{
	struct ms_machine_layout l;
	struct ms_backend *b;
	char *e;

	/* pc -m 4G,slots=4,maxmem=16G: device memory 0x140000000..0x53fffffff */
	e = machine_try(MOPTS(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 16 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(3 * GiB, l.below_4g);
	EXPECT_EQ(GiB, l.above_4g);
	EXPECT_EQ(4 * GiB, l.above_4g_start);
	EXPECT_EQ(0x140000000ull, l.devmem_base);
	EXPECT_EQ(0x400000000ull, l.devmem_size);
	EXPECT_EQ(12 * GiB, l.hotpluggable);
	EXPECT_EQ(0x540000000ull, l.reserved_end);

	/* pc -m 256,maxmem=4G: 0x100000000..0x1efffffff */
	e = machine_try(MOPTS(PC, .ram_size = 256 * MiB, .maxmem = 4 * GiB), &l);
	EXPECT_EQ(NULL, e);
	free(e);
	EXPECT_EQ(0x100000000ull, l.devmem_base);
	EXPECT_EQ(0x1efffffffull, l.devmem_base + l.devmem_size - 1);
	EXPECT_EQ(0x200000000ull, l.reserved_end);

	/* pc -m 1G,slots=3,maxmem=4G: usable range [0x100000000:0x180000000] */
	MACHINE(PC, .ram_size = GiB, .slots = 3, .maxmem = 4 * GiB);
	l = layout(self->m);
	EXPECT_EQ(0x100000000ull, l.devmem_base);
	EXPECT_EQ(0x180000000ull, l.devmem_size);
	b = BACKEND("m1", GiB);
	ADD_FAIL(DIMM("d", b, .addr = 0x300000000ull),
		 "can't add memory device [0x300000000:0x40000000], usable range for memory "
		 "devices [0x100000000:0x180000000]");
}

/* ==== 5. Plugging =================================================================== */

/*
 * 5.1.1: NVDIMMs need -M nvdimm=on (checked before the slot and
 * device-memory steps); NVDIMM unplug is refused; DIMM plug and unplug
 * keep dimm_size.
 */
TEST_F(md, rule_5_1_1_dimm_nvdimm)
{
	struct ms_backend *b, *bn;
	struct ms_memdev *d, *nv;

	/* no device memory, nvdimm off: the nvdimm check comes first */
	MACHINE(PC, .ram_size = 4 * GiB);
	bn = BACKEND("nv1", 256 * MiB);
	ADD_FAIL(NVDIMM("nv1", bn), "nvdimm is not enabled: missing 'nvdimm' in '-M'");
	ADD_FAIL(NVDIMM("nv1", bn, .slot = 7), "nvdimm is not enabled: missing 'nvdimm' in '-M'");
	/* then pc_dimm_pre_plug: no slots */
	b = BACKEND("m1", GiB);
	ADD_FAIL(DIMM("d1", b), "no slots where allocated, please specify the 'slots' option");
	ms_machine__free(self->m);
	self->m = NULL;

	PC_4G_16G();
	bn = BACKEND("nv1", 256 * MiB);
	ADD_FAIL(NVDIMM("nv1", bn), "nvdimm is not enabled: missing 'nvdimm' in '-M'");
	ms_machine__free(self->m);
	self->m = NULL;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 16 * GiB, .nvdimm = true);
	bn = BACKEND("nv1", 256 * MiB);
	b = BACKEND("m1", GiB);
	nv = ADD_OK(NVDIMM("nv1", bn));
	d = ADD_OK(DIMM("d1", b));
	EXPECT_EQ(GiB, devmem_stats(self->m).dimm_size);
	DEL_FAIL(nv, "nvdimm device hot unplug is not supported yet.");
	DEL_OK(d);
	EXPECT_EQ(0, devmem_stats(self->m).dimm_size);
	EXPECT_EQ(256 * MiB, devmem_stats(self->m).used_region_size);
	/* the memdev is free again */
	d = ADD_OK(DIMM("d1", b));
	EXPECT_EQ(GiB, devmem_stats(self->m).dimm_size);
	/*
	 * Not reachable with the presets: `memory hotplug is not enabled:
	 * missing acpi device or acpi disabled` (ACPI hotplug is always there).
	 */
}

/* 5.1.2: virtio-pmem cannot be unplugged; virtio-mem can (rule 10.11 aside). */
TEST_F(md, rule_5_1_2_virtio_unplug)
{
	struct ms_backend *b, *bv;
	struct ms_memdev *p, *v;

	MACHINE(PC, .ram_size = 256 * MiB, .maxmem = 4 * GiB);
	b = BACKEND("pm0", 512 * MiB);
	bv = BACKEND("vm0", GiB);
	p = ADD_OK(PMEM("pmem0", b));
	v = ADD_OK(VMEM("vmem0", bv));
	DEL_FAIL(p, "this virtio based memory devices cannot be unplugged");
	DEL_OK(v);
	EXPECT_EQ(512 * MiB, devmem_stats(self->m).used_region_size);
	EXPECT_EQ(1, nr_devices(self->m));
}

/* 5.1.3: the device being plugged is not part of the scans (its hint cannot conflict). */
TEST_F(md, rule_5_1_3_not_scanned)
{
	struct cdev *c = &self->c[0];
	struct ms_backend *b;

	PC_4G_16G();
	b = BACKEND("b", GiB);
	c->mr = ms_backend__region(b);
	c->addr = 0x200000000ull;
	ADD_CUSTOM_OK("self", 0, c);
	EXPECT_EQ(0x200000000ull, c->addr);
	EXPECT_EQ(1, c->n_set_addr);
}

/* 5.2 step 2: no device memory (devices without DIMM slots reach it). */
TEST_F(md, rule_5_2_no_device_memory)
{
	static const char text[] = "the configuration is not prepared for memory devices (e.g., "
				   "for memory hotplug), consider specifying the maxmem option";
	struct cdev *c = &self->c[0];
	struct ms_backend *b;

	MACHINE(Q35, .ram_size = 4 * GiB);
	b = BACKEND("pm0", GiB);
	ADD_FAIL(PMEM("pmem0", b), text);
	ADD_FAIL(VMEM("vmem0", b), text);
	c->mr = ms_backend__region(b);
	ADD_CUSTOM_FAIL("c", 0, c, text);
	EXPECT_EQ(0, c->n_set_addr);
}

/*
 * 5.2 steps 4-6: check_addable before the size/alignment check, which
 * uses the region alignment only; align = max(device minimum, region).
 */
TEST_F(md, rule_5_2_order_and_alignment)
{
	struct cdev *c = &self->c[0];
	struct ms_backend *b3, *b2;

	/* hotpluggable 2 MiB; a 3 MiB anonymous backend (2 MiB region alignment) */
	MACHINE(PC, .ram_size = 4 * GiB, .slots = 2, .maxmem = 4 * GiB + 2 * MiB);
	b3 = BACKEND("b3", 3 * MiB);
	/* step 4 (space) first */
	ADD_FAIL(DIMM("d3", b3), "not enough space, currently 0x0 in use of total space for "
				 "memory devices 0x200000");
	ms_machine__free(self->m);
	self->m = NULL;

	PC_4G_16G();
	b3 = BACKEND("b3", 3 * MiB);
	/* step 5 */
	ADD_FAIL(DIMM("d3", b3), "backend memory size must be multiple of 0x200000");
	ADD_FAIL(PMEM("p3", b3), "backend memory size must be multiple of 0x200000");

	/* step 5 ignores the device minimum: 2 MiB region, 1 GiB minimum is fine */
	b2 = BACKEND("b2", 2 * MiB);
	c->mr = ms_backend__region(b2);
	c->min_align = GiB;
	c->addr = 0x140100000ull;	/* step 7: hint checked against max(1G, 2M) */
	ADD_CUSTOM_FAIL("c", C_ALIGN, c, "address must be aligned to 0x40000000 bytes");
	c->addr = 0x180000000ull;
	ADD_CUSTOM_OK("c", C_ALIGN, c);
	EXPECT_EQ(0x180000000ull, c->addr);
}

/* 5.3: KVM free memslots, counting reserved ones. */
TEST_F(md, rule_5_3_kvm_free_slots)
{
	static const char text[] = "hypervisor has not enough free memory slots left";
	struct ms_backend *b[16];
	struct cdev *c = &self->c[0];
	struct ms_backend *bc;
	uint32_t free0;
	int n = 0;
	char id[16][8];

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 16, .maxmem = 64 * GiB, .kvm_memslots = 16);
	free0 = kvm_free(self->m);
	ASSERT_GE(free0, 5);
	ASSERT_LT(free0, 16);
	TH_LOG("KVM: 16 slots, %u free after boot", free0);

	/* a custom device needing 3 memslots, using 1: reserved 2 */
	bc = BACKEND("bc", 2 * MiB);
	c->mr = ms_backend__region(bc);
	c->memslots = 3;
	ADD_CUSTOM_OK("c", C_MEMSLOTS, c);
	EXPECT_EQ(2, devmem_stats(self->m).reserved_memslots);
	EXPECT_EQ(free0 - 1, kvm_free(self->m));

	/* DIMMs need 1 + 2 reserved free slots each */
	for (;;) {
		ASSERT_LT(n, 16);
		snprintf(id[n], sizeof(id[n]), "m%d", n);
		b[n] = BACKEND(id[n], 2 * MiB);
		if (kvm_free(self->m) < 3)
			break;
		ADD_OK(DIMM(NULL, b[n]));
		n++;
	}
	EXPECT_EQ((int)free0 - 1 - 2, n);
	ADD_FAIL(DIMM(NULL, b[n]), text);
	/* required alone can exceed the free count */
	c = &self->c[1];
	c->mr = ms_backend__region(b[n]);
	c->memslots = kvm_free(self->m) + 1;
	ADD_CUSTOM_FAIL("c2", C_MEMSLOTS, c, "hypervisor has not enough free memory slots left");
}

/*
 * 5.3 / 5.6: a device claiming 1 memslot whose region needs 2 KVM slots
 * when 1 is free passes check_addable, then KVM runs out while mapping
 * (QEMU aborts there). The library must fail the add and undo the mapping
 * (machine.h: all or nothing).
 */
TEST_F(md, rule_5_6_kvm_failure_is_atomic)
{
	struct ms_backend *b[16], *bc;
	struct ms_region *cont;
	struct cdev *c = &self->c[0];
	char id[16][8];
	int n = 0;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 16, .maxmem = 64 * GiB, .kvm_memslots = 16);
	while (kvm_free(self->m) > 1) {
		ASSERT_LT(n, 16);
		snprintf(id[n], sizeof(id[n]), "m%d", n);
		b[n] = BACKEND(id[n], 2 * MiB);
		ADD_OK(DIMM(NULL, b[n]));
		n++;
	}
	bc = BACKEND("bc", GiB);
	cont = CDEV_CONTAINER(bc, NULL);
	c->mr = cont;
	c->min_align = 2 * MiB;
	{
		struct ms_memdev_ops ops = cdev_ops(C_ALIGN);
		struct ms_error err = { 0 };
		char *before = snap(self->m);
		struct ms_memdev *d = ms_machine__device_add_custom(self->m, "c", &ops, c, &err);

		EXPECT_EQ(NULL, d) {
			TH_LOG("added although KVM had 1 free slot for 2 ranges");
		}
		if (!d) {
			TH_LOG("device_add_custom failed as expected: %s", err.msg);
			EXPECT_STR_FREE(before, snap(self->m));
			EXPECT_FALSE(ms_region__is_mapped(cont));
		}
		free(before);
	}
}

/* 5.3: a vhost backend's free memslots. */
TEST_F(md, rule_5_3_vhost_free_slots)
{
	struct ms_backend *b1, *b2, *b3;
	struct ms_consumer_info v;
	struct ms_error err = { 0 };

	PC_4G_16G();
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", 512, false, &err)) {
		TH_LOG("%s", err.msg);
	}
	v = consumer(self->m, "vk");
	ASSERT_NE(NULL, v.name);
	EXPECT_EQ(512, v.max);
	EXPECT_EQ(512 - v.used, v.free);
	ms_machine__free(self->m);
	self->m = NULL;

	/* again with a limit 2 above the boot memory's region count */
	PC_4G_16G();
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "probe", 4096, false, NULL));
	v = consumer(self->m, "probe");
	ms_machine__free(self->m);
	self->m = NULL;

	PC_4G_16G();
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", v.used + 2, false, &err)) {
		TH_LOG("%s", err.msg);
	}
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("m2", GiB);
	b3 = BACKEND("m3", GiB);
	ADD_OK(DIMM("d1", b1));
	ADD_OK(DIMM("d2", b2));
	EXPECT_EQ(0, consumer(self->m, "vk").free);
	ADD_FAIL(DIMM("d3", b3), "a used vhost backend has not enough free memory slots left");
}

/* 5.3: space (maxmem - RAM, per-slot slack not counted); check order. */
TEST_F(md, rule_5_3_space_and_order)
{
	struct ms_backend *b1, *b2, *b3, *b4;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 6 * GiB);
	EXPECT_EQ(6 * GiB, layout(self->m).devmem_size);
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("m2", 512 * MiB);
	b3 = BACKEND("m3", GiB);
	b4 = BACKEND("m4", 512 * MiB);
	ADD_OK(DIMM("d1", b1));
	ADD_OK(DIMM("d2", b2));
	ADD_FAIL(DIMM("d3", b3), "not enough space, currently 0x60000000 in use of total space "
				 "for memory devices 0x80000000");
	ADD_OK(DIMM("d4", b4));		/* exactly full */
	EXPECT_EQ(2 * GiB, devmem_stats(self->m).used_region_size);
	ms_machine__free(self->m);
	self->m = NULL;

	/* KVM before vhost before space */
	MACHINE(PC, .ram_size = 4 * GiB, .slots = 32, .maxmem = 4 * GiB + 4 * MiB,
		.kvm_memslots = 16);
	{
		struct cdev *c = &self->c[0];
		struct ms_backend *bb = BACKEND("big", GiB);

		ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", 4096, false, NULL));
		c->mr = ms_backend__region(bb);
		c->memslots = 100;	/* more than KVM has */
		ADD_CUSTOM_FAIL("c", C_MEMSLOTS, c,
				"hypervisor has not enough free memory slots left");
	}
	ms_machine__free(self->m);
	self->m = NULL;
	MACHINE(PC, .ram_size = 4 * GiB, .slots = 32, .maxmem = 4 * GiB + 4 * MiB);
	{
		struct cdev *c = &self->c[1];
		struct ms_backend *bb = BACKEND("big", GiB);

		ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", 512, false, NULL));
		c->mr = ms_backend__region(bb);
		c->memslots = 600;	/* fine for KVM, not for vhost */
		ADD_CUSTOM_FAIL("c", C_MEMSLOTS, c,
				"a used vhost backend has not enough free memory slots left");
		c->memslots = 2;
		ADD_CUSTOM_FAIL("c", C_MEMSLOTS, c,
				"not enough space, currently 0x0 in use of total space for "
				"memory devices 0x400000");
	}
}

/* 5.4: slot assignment and every slot text. */
TEST_F(md, rule_5_4_slots)
{
	static const char *const ids[6] = { "m0", "m1", "m2", "m3", "m4", "m5" };
	struct ms_backend *b[6];
	struct ms_memdev *d[6];

	PC_4G_16G();
	for (int i = 0; i < 6; i++)
		b[i] = BACKEND(ids[i], 2 * MiB);
	ADD_FAIL(DIMM("x", b[0], .slot = 4), "invalid slot number 4, valid range is [0-3]");
	ADD_FAIL(DIMM("x", b[0], .slot = -2), "invalid slot number -2, valid range is [0-3]");
	ADD_FAIL(DIMM("x", b[0], .slot = 1000), "invalid slot number 1000, valid range is [0-3]");

	d[0] = ADD_OK(DIMM("d0", b[0]));
	EXPECT_EQ(0, info(d[0]).slot);
	d[1] = ADD_OK(DIMM("d1", b[1], .slot = 2));
	EXPECT_EQ(2, info(d[1]).slot);
	ADD_FAIL(DIMM("x", b[2], .slot = 2), "slot 2 is busy");
	d[2] = ADD_OK(DIMM("d2", b[2]));
	EXPECT_EQ(1, info(d[2]).slot);
	d[3] = ADD_OK(DIMM("d3", b[3]));
	EXPECT_EQ(3, info(d[3]).slot);
	ADD_FAIL(DIMM("x", b[4]), "no free slots available");
	ADD_FAIL(DIMM("x", b[4], .slot = 0), "slot 0 is busy");
	DEL_OK(d[0]);
	d[4] = ADD_OK(DIMM("d4", b[4]));
	EXPECT_EQ(0, info(d[4]).slot);
	/*
	 * Step 3's `invalid slot# <n>, should be less than <slots>` cannot be
	 * reached: step 1 refuses every slot >= slots first.
	 */
}

/* 5.4: NVDIMMs take DIMM slots too; 0 slots. */
TEST_F(md, rule_5_4_nvdimm_slots_and_no_slots)
{
	struct ms_backend *b1, *b2, *b3;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 2, .maxmem = 8 * GiB, .nvdimm = true);
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("nv1", 256 * MiB);
	b3 = BACKEND("m3", GiB);
	EXPECT_EQ(0, info(ADD_OK(NVDIMM("nv1", b2))).slot);
	ADD_FAIL(DIMM("d", b1, .slot = 0), "slot 0 is busy");
	EXPECT_EQ(1, info(ADD_OK(DIMM("d", b1))).slot);
	ADD_FAIL(DIMM("e", b3), "no free slots available");
	ms_machine__free(self->m);
	self->m = NULL;

	/* maxmem without slots: device memory but no DIMM slots */
	MACHINE(PC, .ram_size = 4 * GiB, .maxmem = 8 * GiB);
	b1 = BACKEND("m1", GiB);
	ADD_FAIL(DIMM("d", b1), "no slots where allocated, please specify the 'slots' option");
	/* slot 0 of 0 slots: step 1 (the upper bound slots - 1 is not spelled out) */
	ADD_FAIL_PREFIX(DIMM("d", b1, .slot = 0), "invalid slot number 0, valid range is [0-");
}

/* 5.5 steps 3, 4: hint alignment and range (start:size pairs). */
TEST_F(md, rule_5_5_hint_checks)
{
	struct ms_backend *b;
	struct ms_memdev *d;

	PC_4G_16G();
	b = BACKEND("m1", GiB);
	ADD_FAIL(DIMM("d", b, .addr = 0x140100000ull), "address must be aligned to 0x200000 bytes");
	ADD_FAIL(DIMM("d", b, .addr = 0x100000000ull),
		 "can't add memory device [0x100000000:0x40000000], usable range for memory "
		 "devices [0x140000000:0x400000000]");
	ADD_FAIL(DIMM("d", b, .addr = 0x520000000ull),
		 "can't add memory device [0x520000000:0x40000000], usable range for memory "
		 "devices [0x140000000:0x400000000]");
	/* hint + size wraps to exactly 0: overflow */
	ADD_FAIL(DIMM("d", b, .addr = 0xffffffffc0000000ull),
		 "can't add memory device [0xffffffffc0000000:0x40000000], usable range for "
		 "memory devices [0x140000000:0x400000000]");
	ADD_FAIL(DIMM("d", b, .addr = 0xfffffffff0000000ull),
		 "can't add memory device [0xfffffffff0000000:0x40000000], usable range for "
		 "memory devices [0x140000000:0x400000000]");
	/* ending exactly at the end fits */
	d = ADD_OK(DIMM("d", b, .addr = 0x500000000ull));
	EXPECT_EQ(0x500000000ull, ADDR(d));
	EXPECT_RANGE(0x500000000ull, "0x500000000+0x40000000 m1@0x0");
	EXPECT_TRUE(kvm_has(self->m, 0x500000000ull, GiB));
}

/* 5.5 step 6: conflicts with a hint, with and without id. */
TEST_F(md, rule_5_5_conflicts)
{
	struct ms_backend *b1, *b2, *b3, *b4;
	struct cdev *c = &self->c[0];

	PC_4G_16G();
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("m2", GiB);
	b3 = BACKEND("m3", 512 * MiB);
	b4 = BACKEND("m4", 512 * MiB);
	ADD_OK(DIMM("dimm1", b1));				/* [5G, 6G) */
	ADD_OK(DIMM(NULL, b2, .addr = 0x200000000ull));		/* [8G, 9G) */
	ADD_FAIL(DIMM("x", b3, .addr = 0x150000000ull),
		 "address range conflicts with memory device id='dimm1'");
	ADD_FAIL(DIMM("x", b3, .addr = 0x120000000ull + GiB),	/* [0x160000000, ...) */
		 "address range conflicts with memory device id='dimm1'");
	ADD_FAIL(DIMM("x", b3, .addr = 0x220000000ull),
		 "address range conflicts with memory device id='(unnamed)'");
	ADD_FAIL(DIMM("x", b3, .addr = 0x1e0000000ull + 256 * MiB),	/* straddles 8G */
		 "address range conflicts with memory device id='(unnamed)'");
	/* a custom device conflicts the same way */
	c->mr = ms_backend__region(b3);
	c->addr = 0x140000000ull;
	ADD_CUSTOM_FAIL("c", 0, c, "address range conflicts with memory device id='dimm1'");
	/* touching is not overlapping */
	EXPECT_EQ(0x180000000ull, ADDR(ADD_OK(DIMM("x", b3, .addr = 0x180000000ull))));
	EXPECT_EQ(0x1e0000000ull, ADDR(ADD_OK(DIMM("y", b4, .addr = 0x1e0000000ull))));
}

/* 5.5 steps 6-8: first fit, lowest address, holes reused after unplug. */
TEST_F(md, rule_5_5_first_fit_and_holes)
{
	struct ms_backend *b[6];
	struct ms_memdev *d1, *d2, *d3, *d4, *d5;

	PC_4G_16G();
	b[0] = BACKEND("m0", GiB);
	b[1] = BACKEND("m1", GiB);
	b[2] = BACKEND("m2", GiB);
	b[3] = BACKEND("m3", 512 * MiB);
	b[4] = BACKEND("m4", 512 * MiB);
	b[5] = BACKEND("m5", GiB);
	d1 = ADD_OK(DIMM("d1", b[0]));
	d2 = ADD_OK(DIMM("d2", b[1]));
	d3 = ADD_OK(DIMM("d3", b[2]));
	EXPECT_EQ(0x140000000ull, ADDR(d1));
	EXPECT_EQ(0x180000000ull, ADDR(d2));
	EXPECT_EQ(0x1c0000000ull, ADDR(d3));
	DEL_OK(d2);
	EXPECT_RANGE(0x180000000ull, "(none)");
	EXPECT_FALSE(kvm_has(self->m, 0x180000000ull, GiB));
	d4 = ADD_OK(DIMM("d4", b[3]));
	EXPECT_EQ(0x180000000ull, ADDR(d4));
	d5 = ADD_OK(DIMM("d5", b[4]));
	EXPECT_EQ(0x1a0000000ull, ADDR(d5));
	DEL_OK(d1);
	/* a 1 GiB DIMM fits the 1 GiB hole at the base */
	EXPECT_EQ(0x140000000ull, ADDR(ADD_OK(DIMM("d6", b[5]))));
}

/* 5.5: the verified example: 4 MiB DIMM lands at 0x140200000. */
TEST_F(md, rule_5_5_verified_example)
{
	struct ms_backend *b1, *b2, *b3;

	MACHINE(PC, .ram_size = GiB, .slots = 3, .maxmem = 8 * GiB);
	EXPECT_EQ(4 * GiB, layout(self->m).devmem_base);
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("m2", GiB);
	b3 = BACKEND("m3", 4 * MiB);
	ADD_OK(DIMM("a", b1, .addr = 0x100200000ull));
	ADD_OK(DIMM("b", b2, .addr = 0x200000000ull));
	EXPECT_EQ(0x140200000ull, ADDR(ADD_OK(DIMM("c", b3))));
	EXPECT_RANGE(0x140200000ull, "0x140200000+0x400000 m3@0x0");
}

/* The kvm-ioctls-hp sample: 1 GiB then 512 MiB DIMM with no address. */
TEST_F(md, rule_5_5_sample_hotplug)
{
	struct ms_backend *b1, *b2;

	MACHINE(PC, .ram_size = 256 * MiB, .slots = 4, .maxmem = 8 * GiB);
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("m2", 512 * MiB);
	ADD_OK(DIMM("d1", b1, .hotplugged = true));
	ADD_OK(DIMM("d2", b2, .hotplugged = true));
	EXPECT_TRUE(kvm_has(self->m, 0x100000000ull, GiB));
	EXPECT_TRUE(kvm_has(self->m, 0x140000000ull, 512 * MiB));
}

/*
 * 5.5 steps 2 and 7: a large alignment warns when the base is not a
 * multiple of it; no aligned position left: fragmentation error.
 */
TEST_F(md, rule_5_5_alignment_warning_and_fragmentation)
{
	static const char warn[] = "the alignment (0x100000000) exceeds the expected maximum "
				   "alignment, memory will get fragmented and not all 'maxmem' "
				   "might be usable for memory devices.";
	struct cdev *c = &self->c[0];
	struct ms_backend *b1, *b2;

	/* container [5G, 10G), 2 GiB hotpluggable */
	MACHINE(PC, .ram_size = 4 * GiB, .slots = 3, .maxmem = 6 * GiB);
	b2 = BACKEND("b2", GiB);
	c->mr = ms_backend__region(b2);
	c->min_align = 4 * GiB;
	/* first try without the DIMM: lands at round_up(5G, 4G) = 8G, warns */
	warn_clear();
	ADD_CUSTOM_OK("c", C_ALIGN, c);
	EXPECT_EQ(0x200000000ull, c->addr);
	EXPECT_EQ(1, warn_count(warn)) {
		TH_LOG("warnings:\n%s", warn_text());
	}
	ms_machine__free(self->m);
	self->m = NULL;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 3, .maxmem = 6 * GiB);
	b1 = BACKEND("m1", 512 * MiB);
	b2 = BACKEND("b2", GiB);
	ADD_OK(DIMM("d", b1, .addr = 0x200000000ull));
	memset(c, 0, sizeof(*c));
	c->mr = ms_backend__region(b2);
	c->min_align = 4 * GiB;
	/* 8G taken by the DIMM: next candidate 12G is outside */
	ADD_CUSTOM_FAIL("c", C_ALIGN, c, "could not find position in guest address space for "
					 "memory device - memory fragmented due to alignments");
}

/* 5.6: plug maps at addr - base, priority 0, and counts; unplug undoes. */
TEST_F(md, rule_5_6_plug_unplug)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct ms_region *mr, *dm;
	struct ms_devmem_stats st;
	char *before;

	PC_4G_16G();
	b = BACKEND("m1", GiB);
	before = snap(self->m);
	d = ADD_OK(DIMM("d", b, .addr = 0x200000000ull));
	mr = ms_memdev__region(d);
	dm = find_subregion(ms_machine__system(self->m), "device-memory");
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(ms_backend__region(b), mr);
	EXPECT_EQ(dm, ms_region__container(mr));
	EXPECT_EQ(0x200000000ull - 0x140000000ull, ms_region__addr(mr));
	EXPECT_EQ(0, ms_region__priority(mr));
	st = devmem_stats(self->m);
	EXPECT_EQ(GiB, st.used_region_size);
	EXPECT_EQ(1, st.required_memslots);
	EXPECT_EQ(1, st.used_memslots);
	EXPECT_TRUE(kvm_has(self->m, 0x200000000ull, GiB));
	DEL_OK(d);
	EXPECT_FALSE(ms_region__is_mapped(ms_backend__region(b)));
	EXPECT_STR_FREE(before, snap(self->m));
	free(before);
}

/* 5.6: unplug undoes the counters with the memslot count reported at unplug. */
TEST_F(md, rule_5_6_unplug_uses_current_count)
{
	struct cdev *c = &self->c[0];
	struct ms_backend *b1, *b2;
	struct ms_memdev *d;
	struct ms_devmem_stats st;

	PC_4G_16G();
	b1 = BACKEND("b1", GiB);
	b2 = BACKEND("m2", GiB);
	ADD_OK(DIMM("d", b2));
	c->mr = ms_backend__region(b1);
	c->memslots = 4;
	d = ADD_CUSTOM_OK("c", C_DECIDE | C_MEMSLOTS, c);
	st = devmem_stats(self->m);
	EXPECT_EQ(5, st.required_memslots);
	EXPECT_EQ(1, st.auto_decision_active);
	c->memslots = 1;		/* the device now reports 1 */
	DEL_OK(d);
	st = devmem_stats(self->m);
	EXPECT_EQ(4, st.required_memslots);
	/* with 1 memslot now, the auto-decision counter is not decremented */
	EXPECT_EQ(1, st.auto_decision_active);
	EXPECT_EQ(GiB, st.used_region_size);
	EXPECT_EQ(1, st.used_memslots);
}

/* ==== 6. Memslot accounting ========================================================= */

/* 6.1, 6.2, 6.4, 6.5: required, used (counting listener), reserved, auto decision. */
TEST_F(md, rule_6_accounting)
{
	struct cdev *c1 = &self->c[0], *c2 = &self->c[1], *c3 = &self->c[2];
	struct ms_backend *b1, *b2, *b3, *b4;
	struct ms_memdev *d1, *d2, *d3;
	struct ms_devmem_stats st;

	PC_4G_16G();
	b1 = BACKEND("b1", GiB);
	b2 = BACKEND("b2", GiB);
	b3 = BACKEND("b3", GiB);
	b4 = BACKEND("m4", GiB);

	c1->mr = ms_backend__region(b1);
	c1->memslots = 5;			/* decides 5, uses 1 */
	d1 = ADD_CUSTOM_OK("c1", C_DECIDE | C_MEMSLOTS, c1);
	c2->mr = ms_backend__region(b2);
	c2->memslots = 1;			/* decides 1: not auto-deciding */
	d2 = ADD_CUSTOM_OK("c2", C_DECIDE | C_MEMSLOTS, c2);
	c3->mr = ms_backend__region(b3);
	c3->memslots = 3;			/* 3 without deciding */
	d3 = ADD_CUSTOM_OK("c3", C_MEMSLOTS, c3);
	ADD_OK(DIMM("d", b4));
	st = devmem_stats(self->m);
	EXPECT_EQ(5 + 1 + 3 + 1, st.required_memslots);		/* 6.1 */
	EXPECT_EQ(4, st.used_memslots);					/* 6.2 */
	EXPECT_EQ(10 - 4, st.reserved_memslots);			/* 6.4 */
	EXPECT_EQ(1, st.auto_decision_active);				/* 6.5 */
	EXPECT_EQ(0, st.warnings);
	EXPECT_EQ(5, info(d1).memslots);
	EXPECT_EQ(1, info(d1).memslots_used);
	DEL_OK(d1);
	st = devmem_stats(self->m);
	EXPECT_EQ(5, st.required_memslots);
	EXPECT_EQ(3, st.used_memslots);
	EXPECT_EQ(2, st.reserved_memslots);
	EXPECT_EQ(0, st.auto_decision_active);
	DEL_OK(d3);
	DEL_OK(d2);
	st = devmem_stats(self->m);
	EXPECT_EQ(1, st.required_memslots);
	EXPECT_EQ(1, st.used_memslots);
	EXPECT_EQ(0, st.reserved_memslots);
}

/* 6.2: used > required warns, reserved is then 0 (6.4). */
TEST_F(md, rule_6_2_used_over_required)
{
	static const char warn[] = "Memory devices use more memory slots than indicated as "
				   "required.";
	struct ms_backend *b;
	struct cdev *c = &self->c[0];
	struct ms_devmem_stats st;

	PC_4G_16G();
	b = BACKEND("b", GiB);
	c->mr = CDEV_CONTAINER(b, NULL);
	c->min_align = 2 * MiB;
	warn_clear();
	ADD_CUSTOM_OK("c", C_ALIGN, c);		/* 1 memslot claimed, 2 used */
	st = devmem_stats(self->m);
	EXPECT_EQ(1, st.required_memslots);
	EXPECT_EQ(2, st.used_memslots);
	EXPECT_EQ(0, st.reserved_memslots);
	EXPECT_LE(1, st.warnings);
	EXPECT_LE(1, warn_count(warn)) {
		TH_LOG("warnings:\n%s", warn_text());
	}
}

/* 6.2: a non-RAM section is not counted and warns. */
TEST_F(md, rule_6_2_non_ram_section)
{
	static const char warn[] = "Unexpected memory region mapped into device memory region.";
	struct ms_backend *b;
	struct cdev *c = &self->c[0];
	struct ms_devmem_stats st;

	PC_4G_16G();
	b = BACKEND("b", GiB);
	c->mr = CDEV_CONTAINER(b, KEEP(IO("cdev-io", 2 * MiB)));
	c->memslots = 2;
	c->min_align = 2 * MiB;
	warn_clear();
	ADD_CUSTOM_OK("c", C_ALIGN | C_MEMSLOTS, c);
	st = devmem_stats(self->m);
	EXPECT_EQ(1, st.used_memslots);
	EXPECT_EQ(1, st.reserved_memslots);
	EXPECT_LE(1, st.warnings);
	EXPECT_LE(1, warn_count(warn)) {
		TH_LOG("warnings:\n%s", warn_text());
	}
}

/* 6.4, 6.5: without device memory, reserved 0 and no auto decision. */
TEST_F(md, rule_6_4_no_device_memory)
{
	struct ms_devmem_stats st;

	MACHINE(PC, .ram_size = 4 * GiB);
	st = devmem_stats(self->m);
	EXPECT_EQ(0, st.reserved_memslots);
	EXPECT_EQ(0, st.auto_decision_active);
	/* a vhost backend with a tiny limit is fine: nothing auto-decides */
	EXPECT_EQ(0, ms_machine__add_vhost(self->m, "vu", 64, false, NULL));
}

/* ==== 7. The decision limit with the machine's numbers ============================== */

/* 7 / 5.3 step 1: the limit a deciding device is given, from KVM, reserved, space. */
TEST_F(md, rule_7_machine_inputs)
{
	struct cdev *a = &self->c[0], *bdev = &self->c[1];
	struct ms_backend *ba, *bb;
	struct ms_region *r[260];
	uint32_t free;

	/* KVM with 300 slots: max < 509 -> 1 */
	MACHINE(PC, .ram_size = 4 * GiB, .maxmem = 16 * GiB, .kvm_memslots = 300);
	bb = BACKEND("bb", 8 * GiB);
	bdev->mr = ms_backend__region(bb);
	bdev->memslots = 1000;
	ADD_CUSTOM_OK("b", C_DECIDE | C_MEMSLOTS, bdev);
	EXPECT_EQ(1, bdev->limit);
	EXPECT_EQ(1, bdev->memslots);
	EXPECT_EQ(0, devmem_stats(self->m).auto_decision_active);
	ms_machine__free(self->m);
	self->m = NULL;

	/* 100 required (99 reserved), 2 MiB used: floor(156 * 8G / (12G - 2M)) = 104 */
	memset(bdev, 0, sizeof(*bdev));
	PC_4G_16G();
	ba = BACKEND("ba", 2 * MiB);
	bb = BACKEND("bb", 8 * GiB);
	a->mr = ms_backend__region(ba);
	a->memslots = 100;
	ADD_CUSTOM_OK("a", C_MEMSLOTS, a);
	EXPECT_EQ(99, devmem_stats(self->m).reserved_memslots);
	bdev->mr = ms_backend__region(bb);
	bdev->memslots = 1000;
	ADD_CUSTOM_OK("b", C_DECIDE | C_MEMSLOTS, bdev);
	EXPECT_EQ(104, bdev->limit);
	EXPECT_EQ(100 + 104, devmem_stats(self->m).required_memslots);
	ms_machine__free(self->m);
	self->m = NULL;

	/* KVM 509 with 260 more RAM slots in use: free < 256 limits memslots */
	memset(a, 0, sizeof(*a));
	memset(bdev, 0, sizeof(*bdev));
	MACHINE(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 16 * GiB, .kvm_memslots = 509);
	ms_ctx__begin(self->ctx);
	for (int i = 0; i < 260; i++) {
		/* the system container keeps the only reference */
		r[i] = NEW_OK(ms_region__new_ram(self->ctx, "extra", 4 * KiB, MS_RAM_ANON, NULL));
		ASSERT_EQ(0, ms_region__add_subregion(ms_machine__system(self->m),
						      0x10000000000ull + (uint64_t)i * 2 * MiB,
						      r[i], NULL));
		ms_region__unref(r[i]);
	}
	ASSERT_EQ(0, ms_ctx__commit(self->ctx));
	free = kvm_free(self->m);
	ASSERT_LT(free, 256);
	TH_LOG("KVM: 509 slots, %u free", free);
	bb = BACKEND("bb", 8 * GiB);
	bdev->mr = ms_backend__region(bb);
	bdev->memslots = 1000;
	ADD_CUSTOM_OK("b", C_DECIDE | C_MEMSLOTS, bdev);
	EXPECT_EQ(free * 8 / 12, bdev->limit);
}

/* ==== 9. vhost limits =============================================================== */

/* 9.2: max and free per backend; free is 0 when the table exceeds the limit. */
TEST_F(md, rule_9_2_vhost_free)
{
	struct ms_region *r1, *r2;
	struct ms_consumer_info v, k;
	struct ms_backend *b;
	uint32_t base;

	MACHINE(PC, .ram_size = 256 * MiB, .slots = 2, .maxmem = 4 * GiB);
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "probe", 4096, false, NULL));
	base = consumer(self->m, "probe").used;
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", base + 1, false, NULL));
	v = consumer(self->m, "vk");
	EXPECT_EQ(base + 1, v.max);
	EXPECT_EQ(base, v.used);
	EXPECT_EQ(1, v.free);
	k = consumer(self->m, "kvm");
	EXPECT_EQ(MS_CONSUMER_KVM, k.kind);
	EXPECT_EQ(KVM_SLOTS, k.max);
	EXPECT_EQ(k.max - k.used, k.free);

	/* two RAM regions mapped behind the machine's back: over the limit */
	r1 = KEEP(ms_region__new_ram(self->ctx, "r1", 2 * MiB, MS_RAM_ANON, NULL));
	r2 = KEEP(ms_region__new_ram(self->ctx, "r2", 2 * MiB, MS_RAM_ANON, NULL));
	warn_clear();
	ASSERT_EQ(0, ms_region__add_subregion(ms_machine__system(self->m), 0x800000000ull, r1,
					      NULL));
	ASSERT_EQ(0, ms_region__add_subregion(ms_machine__system(self->m), 0x900000000ull, r2,
					      NULL));
	v = consumer(self->m, "vk");
	EXPECT_EQ(base + 2, v.used);
	EXPECT_EQ(0, v.free);
	/* plugging now fails on the vhost check and logs the overrun once */
	b = BACKEND("m1", 2 * MiB);
	ADD_FAIL(DIMM("d", b), "a used vhost backend has not enough free memory slots left");
	ADD_FAIL(DIMM("d", b), "a used vhost backend has not enough free memory slots left");
	{
		char line[160];

		snprintf(line, sizeof(line), "used (%u) vhost backend memory slots exceed the "
			 "device limit (%u).", base + 2, base + 1);
		EXPECT_EQ(1, warn_count(line)) {
			TH_LOG("warnings:\n%s", warn_text());
		}
	}
}

/*
 * 9.3: vhost's table merges adjacent sections of one region with
 * contiguous host memory, skips ROM, and (vhost-user) sections without a
 * file descriptor; KVM needs a slot per section.
 */
TEST_F(md, rule_9_3_vhost_regions)
{
	struct ms_region *sys, *r, *lo, *hi, *rom, *fdram;
	uint32_t k0, v0, u0;

	MACHINE(PC, .ram_size = 256 * MiB);
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", 4096, false, NULL));
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vu", 4096, true, NULL));
	k0 = consumer(self->m, "kvm").used;
	v0 = consumer(self->m, "vk").used;
	u0 = consumer(self->m, "vu").used;
	TH_LOG("boot: kvm %u, vhost-kernel %u, vhost-user %u regions", k0, v0, u0);
	EXPECT_LE(v0, k0);

	sys = ms_machine__system(self->m);
	r = KEEP(ms_region__new_ram(self->ctx, "r", 4 * MiB, MS_RAM_ANON, NULL));
	lo = KEEP(ms_region__new_alias(self->ctx, "r-lo", r, 0, 2 * MiB, NULL));
	hi = KEEP(ms_region__new_alias(self->ctx, "r-hi", r, 2 * MiB, 2 * MiB, NULL));
	ms_region__set_readonly(lo, true);	/* two flat ranges, one host range */
	ASSERT_EQ(0, ms_region__add_subregion(sys, 0x800000000ull, lo, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(sys, 0x800200000ull, hi, NULL));
	EXPECT_EQ(k0 + 2, consumer(self->m, "kvm").used);
	EXPECT_EQ(v0 + 1, consumer(self->m, "vk").used);
	EXPECT_EQ(u0, consumer(self->m, "vu").used);	/* anonymous: no fd */

	rom = KEEP(ms_region__new_rom(self->ctx, "rom", 2 * MiB, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(sys, 0x900000000ull, rom, NULL));
	EXPECT_EQ(k0 + 3, consumer(self->m, "kvm").used);
	EXPECT_EQ(v0 + 1, consumer(self->m, "vk").used);

	fdram = KEEP(ms_region__new_ram(self->ctx, "fdram", 2 * MiB, MS_RAM_MEMFD, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(sys, 0xa00000000ull, fdram, NULL));
	EXPECT_EQ(k0 + 4, consumer(self->m, "kvm").used);
	EXPECT_EQ(v0 + 2, consumer(self->m, "vk").used);
	EXPECT_EQ(u0 + 1, consumer(self->m, "vu").used);
}

/*
 * 9.4: a vhost backend with a limit below 509 is refused while a device
 * auto-decided on more than one memslot; then used + reserved > limit.
 */
TEST_F(md, rule_9_4_vhost_init_checks)
{
	static const char text1[] = "some memory device (like virtio-mem) decided how many "
				    "memory slots to use based on the overall number of memory "
				    "slots; this vhost backend would further restricts the "
				    "overall number of memory slots";
	struct ms_error err = { 0 };
	struct ms_backend *b, *b2;
	struct ms_memdev *v;
	struct ms_virtio_mem_status vs;
	char *before, text2[256];
	uint32_t used;

	MACHINE(PC, .ram_size = 4 * GiB, .maxmem = 20 * GiB);
	/* before: a small vhost backend is fine */
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "early", 600, false, &err));
	b = BACKEND("vm0", 8 * GiB);
	v = ADD_OK(VMEM("vmem0", b, .dynamic_memslots = true));
	ASSERT_EQ(0, ms_virtio_mem__status(v, &vs));
	EXPECT_EQ(8, vs.nr_memslots);	/* floor(256 * 8 / 16) = 128 -> 8 x 1 GiB */
	EXPECT_EQ(1, devmem_stats(self->m).auto_decision_active);
	EXPECT_EQ(8, devmem_stats(self->m).reserved_memslots);

	before = snap(self->m);
	memset(&err, 0, sizeof(err));
	EXPECT_GT(0, ms_machine__add_vhost(self->m, "vu", 8, true, &err));
	EXPECT_EQ(0, strncmp(text1, err.msg, strlen(text1))) {
		TH_LOG("got \"%s\"", err.msg);
	}
	memset(&err, 0, sizeof(err));
	EXPECT_GT(0, ms_machine__add_vhost(self->m, "vk", 508, false, &err));
	EXPECT_EQ(0, strncmp(text1, err.msg, strlen(text1))) {
		TH_LOG("got \"%s\"", err.msg);
	}
	EXPECT_STR_FREE(before, snap(self->m));
	EXPECT_EQ(NULL, consumer(self->m, "vu").name);

	/* 509 passes the first check; the second needs used + 8 reserved <= limit */
	used = consumer(self->m, "early").used;
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "ok", 509, false, &err));
	EXPECT_EQ(used, consumer(self->m, "ok").used);
	free(before);
	ms_machine__free(self->m);
	self->m = NULL;

	/* second check alone: no auto decision, a custom device reserving 9 */
	PC_4G_16G();
	b2 = BACKEND("b2", GiB);
	self->c[0].mr = ms_backend__region(b2);
	self->c[0].memslots = 10;
	ADD_CUSTOM_OK("c", C_MEMSLOTS, &self->c[0]);
	EXPECT_EQ(9, devmem_stats(self->m).reserved_memslots);
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "probe", 4096, false, NULL));
	used = consumer(self->m, "probe").used;
	before = snap(self->m);
	memset(&err, 0, sizeof(err));
	EXPECT_GT(0, ms_machine__add_vhost(self->m, "vk", used + 8, false, &err));
	snprintf(text2, sizeof(text2), "vhost backend memory slots limit (%u) is less than "
		 "current number of used (%u) and reserved (9) memory slots for memory devices.",
		 used + 8, used);
	EXPECT_STREQ(text2, err.msg);
	EXPECT_STR_FREE(before, snap(self->m));
	free(before);
	EXPECT_EQ(0, ms_machine__add_vhost(self->m, "vk", used + 9, false, &err));
}

/* ==== 11. Other device types ======================================================== */

/* 11.1: pc-dimm memdev errors, busy memdev, alignment of anonymous and file backends. */
TEST_F(md, rule_11_1_pc_dimm)
{
	struct ms_backend *b, *bf;
	struct ms_memdev *d;

	PC_4G_16G();
	ADD_FAIL(DIMM("d", NULL), "'memdev' property must be set");
	b = BACKEND("m1", GiB);
	d = ADD_OK(DIMM("d", b));
	ADD_FAIL(DIMM("e", b), "can't use already busy memdev: m1");
	EXPECT_EQ(GiB, info(d).size);
	EXPECT_EQ(GiB, info(d).plugged_size);
	ADD_FAIL(DIMM("e", BACKEND("m2", GiB), .node = 1), NULL);	/* no NUMA: node 0 only */

	/* anonymous backend: 2 MiB alignment */
	ADD_FAIL(DIMM("e", BACKEND("m3", 2 * MiB), .addr = 0x300001000ull),
		 "address must be aligned to 0x200000 bytes");
	/* file backend: its page size (4 KiB) */
	bf = FILE_BACKEND("f1", 2 * MiB, 0);
	d = ADD_OK(DIMM("f", bf, .addr = 0x300001000ull));
	EXPECT_EQ(0x300001000ull, ADDR(d));
	EXPECT_RANGE(0x300001000ull, "0x300001000+0x200000 f1@0x0");
}

/* 11.1: busy memdev is a realize error, after pre_plug's slot check. */
TEST_F(md, rule_11_1_busy_after_pre_plug)
{
	struct ms_backend *b;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 1, .maxmem = 8 * GiB);
	b = BACKEND("m1", GiB);
	ADD_OK(DIMM("d", b));
	ADD_FAIL(DIMM("e", b), "no free slots available");
}

/* 11.1: memory-backend-file align property raises the alignment. */
TEST_F(md, rule_11_1_file_align)
{
	struct ms_backend *bf;

	PC_4G_16G();
	bf = FILE_BACKEND("f1", GiB, GiB);
	ADD_FAIL(DIMM("f", bf, .addr = 0x160000000ull),
		 "address must be aligned to 0x40000000 bytes");
	EXPECT_EQ(0x180000000ull, ADDR(ADD_OK(DIMM("f", bf, .addr = 0x180000000ull))));
}

/*
 * 11.2: NVDIMM region: alias "nvdimm-memory" of round_down(size - label,
 * align), nonvolatile; errors for size 0, a label that does not fit, a
 * read-only memdev without unarmed.
 */
TEST_F(md, rule_11_2_nvdimm)
{
	struct ms_backend *b1, *b2, *b3, *b4, *bro;
	struct ms_memdev *d;
	struct ms_region *mr;
	char *s;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 8, .maxmem = 16 * GiB, .nvdimm = true);
	b1 = BACKEND("nv1", 256 * MiB);
	d = ADD_OK(NVDIMM("nv1", b1, .label_size = 128 * KiB));
	mr = ms_memdev__region(d);
	ASSERT_NE(NULL, mr);
	EXPECT_STREQ("nvdimm-memory", ms_region__name(mr));
	EXPECT_EQ(MS_REGION_ALIAS, ms_region__kind(mr));
	EXPECT_EQ(ms_backend__region(b1), ms_region__alias(mr));
	EXPECT_EQ(0, ms_region__alias_offset(mr));
	/* anonymous: 2 MiB alignment: round_down(256M - 128K, 2M) = 254 MiB */
	EXPECT_EQ(254 * MiB, ms_region__size(mr));
	EXPECT_TRUE(ms_region__nonvolatile(mr));
	EXPECT_EQ(254 * MiB, info(d).size);
	EXPECT_EQ(254 * MiB, info(d).plugged_size);
	EXPECT_EQ(254 * MiB, devmem_stats(self->m).used_region_size);
	EXPECT_EQ(0, devmem_stats(self->m).dimm_size);
	EXPECT_RANGE(0x140000000ull, "0x140000000+0xfe00000 nv1@0x0 nv");

	s = mtree_str(self->ctx, 0, NULL, NULL);
	ASSERT_NE(NULL, s);
	EXPECT_NE(NULL, strstr(s, "      0000000140000000-000000014fdfffff (prio 0, nv-ram): "
				  "alias nvdimm-memory @nv1 0000000000000000-000000000fdfffff\n"));
	free(s);

	b2 = BACKEND("nv2", 2 * MiB);
	ADD_FAIL(NVDIMM("nv2", b2, .label_size = 128 * KiB), NULL);	/* size 0 */
	b3 = BACKEND("nv3", 2 * MiB);
	ADD_FAIL(NVDIMM("nv3", b3, .label_size = 4 * MiB), NULL);	/* label too big */
	bro = FILE_BACKEND_RO("ro", 64 * MiB);
	ADD_FAIL(NVDIMM("ro", bro), NULL);
	EXPECT_NE(NULL, ADD_OK(NVDIMM("ro", bro, .unarmed = true)));
	b4 = BACKEND("nv4", 64 * MiB);
	EXPECT_EQ(64 * MiB, info(ADD_OK(NVDIMM("nv4", b4))).size);
}

/* 11.3: virtio-pmem: memdev region, memaddr, no minimum alignment, no unplug. */
TEST_F(md, rule_11_3_virtio_pmem)
{
	struct ms_backend *b, *b2;
	struct ms_memdev *p, *p2;
	struct ms_memdev_info i;

	PC_4G_16G();
	b = BACKEND("pm0", 512 * MiB);
	p = ADD_OK(PMEM("pmem0", b, .addr = 0x300000000ull));
	i = info(p);
	EXPECT_EQ(MS_MEMDEV_VIRTIO_PMEM, i.type);
	EXPECT_STREQ("virtio-pmem", ms_memdev_type_name(i.type));
	EXPECT_EQ(0x300000000ull, i.addr);
	EXPECT_EQ(512 * MiB, i.size);
	EXPECT_STREQ("/objects/pm0", i.memdev);
	EXPECT_EQ(-1, i.slot);
	EXPECT_EQ(ms_backend__region(b), ms_memdev__region(p));
	EXPECT_EQ(512 * MiB, devmem_stats(self->m).plugged_size);
	EXPECT_EQ(0, devmem_stats(self->m).dimm_size);
	/* the file backend's 4 KiB alignment is all that counts */
	b2 = FILE_BACKEND("pm1", 2 * MiB, 0);
	p2 = ADD_OK(PMEM("pmem1", b2, .addr = 0x300000000ull + 512 * MiB + 4 * KiB));
	EXPECT_EQ(0x320001000ull, ADDR(p2));
	DEL_FAIL(p, "this virtio based memory devices cannot be unplugged");
}

/* ==== 12. Queries ================================================================== */

/* 12.1: plugged size sums get_plugged_size over non-empty devices. */
TEST_F(md, rule_12_1_plugged_size)
{
	struct ms_backend *b1, *b2;
	struct ms_memdev *v;
	struct cdev *e = &self->c[0];

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 2, .maxmem = 8 * GiB);
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("vm0", GiB);
	ADD_OK(DIMM("d", b1));
	v = ADD_OK(VMEM("vmem0", b2, .requested_size = 8 * MiB));
	e->plugged = 77 * MiB;
	ADD_CUSTOM_OK("empty", 0, e);
	EXPECT_EQ(GiB, devmem_stats(self->m).plugged_size);
	EXPECT_EQ(MS_VIRTIO_MEM_ACK, ms_virtio_mem__plug(v, 0, 4 * MiB));
	EXPECT_EQ(GiB + 4 * MiB, devmem_stats(self->m).plugged_size);
	EXPECT_EQ(4 * MiB, info(v).size);
	EXPECT_EQ(4 * MiB, info(v).plugged_size);
	EXPECT_EQ(2 * GiB, devmem_stats(self->m).used_region_size);
}

/* 12.3 text of one device, as HMP `info memory-devices` prints it. */
static int hmp_line(struct ms_memdev *dev, void *opaque)
{
	struct ms_memdev_info i = info(dev);
	FILE *f = opaque;

	fprintf(f, "Memory device [%s]: \"%s\"\n", ms_memdev_type_name(i.type), i.id ? i.id : "");
	switch (i.type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		fprintf(f, "  addr: 0x%" PRIx64 "\n  slot: %d\n  node: %u\n  size: %" PRIu64
			"\n  memdev: %s\n  hotplugged: %s\n  hotpluggable: %s\n", i.addr, i.slot,
			i.node, i.size, i.memdev, i.hotplugged ? "true" : "false",
			i.hotpluggable ? "true" : "false");
		break;
	case MS_MEMDEV_VIRTIO_PMEM:
		fprintf(f, "  memaddr: 0x%" PRIx64 "\n  size: %" PRIu64 "\n  memdev: %s\n",
			i.addr, i.size, i.memdev);
		break;
	case MS_MEMDEV_VIRTIO_MEM:
		fprintf(f, "  memaddr: 0x%" PRIx64 "\n  node: %u\n  requested-size: %" PRIu64
			"\n  size: %" PRIu64 "\n  max-size: %" PRIu64 "\n  block-size: %" PRIu64
			"\n  memdev: %s\n", i.addr, i.node, i.requested_size, i.size, i.max_size,
			i.block_size, i.memdev);
		break;
	default:
		fprintf(f, "  ?\n");
	}
	return 0;
}

static char *hmp_str(struct ms_machine *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ms_machine__for_each_device(m, hmp_line, f);
	fclose(f);
	return buf;
}

static char *sample(const char *name)
{
	char path[512];
	char *s;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", samples_dir(), name);
	s = slurp(path);
	/* drop the final blank line */
	if (s)
		for (n = strlen(s); n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\n'; n--)
			s[n - 1] = '\0';
	return s;
}

/*
 * 12.2 / 12.3: the sample machine pc,nvdimm=on -m 4G,slots=4,maxmem=16G;
 * m1 1G dimm1; m2 512M dimm addr=0x200000000; nv1 file 256M nvdimm.
 */
TEST_F(md, rule_12_2_sample_query)
{
	struct ms_backend *m1, *m2, *nv1;
	struct ms_memdev *d1, *d2, *nv;
	struct ms_memdev_info i;
	char *exp;

	MACHINE(PC, .ram_size = 4 * GiB, .slots = 4, .maxmem = 16 * GiB, .nvdimm = true);
	m1 = BACKEND_REAL("m1", GiB);
	m2 = BACKEND_REAL("m2", 512 * MiB);
	nv1 = FILE_BACKEND("nv1", 256 * MiB, 0);
	d1 = ADD_OK(DIMM("dimm1", m1));
	d2 = ADD_OK(DIMM(NULL, m2, .addr = 0x200000000ull));
	nv = ADD_OK(NVDIMM("nv1", nv1));

	i = info(d1);
	EXPECT_EQ(MS_MEMDEV_DIMM, i.type);
	EXPECT_STREQ("dimm1", i.id);
	EXPECT_EQ(0x140000000ull, i.addr);
	EXPECT_EQ(0, i.slot);
	EXPECT_EQ(GiB, i.size);
	EXPECT_STREQ("/objects/m1", i.memdev);
	EXPECT_FALSE(i.hotplugged);
	EXPECT_TRUE(i.hotpluggable);
	i = info(nv);
	EXPECT_EQ(MS_MEMDEV_NVDIMM, i.type);
	EXPECT_STREQ("nvdimm", ms_memdev_type_name(i.type));
	EXPECT_EQ(0x180000000ull, i.addr);
	EXPECT_EQ(2, i.slot);
	EXPECT_EQ(256 * MiB, i.size);
	i = info(d2);
	EXPECT_EQ(NULL, i.id);
	EXPECT_EQ(0x200000000ull, i.addr);
	EXPECT_EQ(1, i.slot);
	EXPECT_EQ(512 * MiB, i.size);
	EXPECT_STREQ("/objects/m2", i.memdev);

	/* ascending address order and every field, against the HMP sample */
	exp = sample("pc-4g-dimms-nvdimm.infomemory_devices.txt");
	ASSERT_NE(NULL, exp);
	EXPECT_STR_FREE(exp, hmp_str(self->m));
	free(exp);

	/* the flat view as in pc-4g-dimms-nvdimm.mtree_f.txt */
	EXPECT_RANGE(0x140000000ull, "0x140000000+0x40000000 m1@0x0");
	EXPECT_RANGE(0x180000000ull, "0x180000000+0x10000000 nv1@0x0 nv");
	EXPECT_RANGE(0x200000000ull, "0x200000000+0x20000000 m2@0x0");
	EXPECT_TRUE(kvm_has(self->m, 0x180000000ull, 256 * MiB));
}

/* 12.2: the pc-pflash-virtio-mem sample's virtio-mem entry. */
TEST_F(md, rule_12_2_sample_virtio_mem)
{
	struct ms_backend *b;
	struct ms_memdev *v;
	struct ms_memdev_info i;

	MACHINE(PC, .ram_size = 256 * MiB, .maxmem = 4 * GiB);
	b = BACKEND_REAL("vm0", GiB);
	v = ADD_OK(VMEM("vmem0", b, .requested_size = 0));
	i = info(v);
	EXPECT_EQ(MS_MEMDEV_VIRTIO_MEM, i.type);
	EXPECT_STREQ("virtio-mem", ms_memdev_type_name(i.type));
	EXPECT_STREQ("vmem0", i.id);
	EXPECT_EQ(4294967296ull, i.addr);
	EXPECT_EQ(2097152, i.block_size);
	EXPECT_EQ(0, i.size);
	EXPECT_EQ(0, i.node);
	EXPECT_EQ(1073741824ull, i.max_size);
	EXPECT_EQ(0, i.requested_size);
	EXPECT_STREQ("/objects/vm0", i.memdev);
	/* without dynamic memslots the whole memdev is mapped (10.1) */
	EXPECT_RANGE(0x100000000ull, "0x100000000+0x40000000 vm0@0x0");
	EXPECT_EQ(1, devmem_stats(self->m).used_memslots);
}

/* 12.2: listing order is by address, empty devices included. */
TEST_F(md, rule_12_2_order)
{
	struct ms_backend *b1, *b2, *b3;
	struct cdev *e = &self->c[0];
	char *s, *lo, *mid, *em, *hi;

	PC_4G_16G();
	b1 = BACKEND("m1", GiB);
	b2 = BACKEND("m2", GiB);
	b3 = BACKEND("pm", GiB);
	ADD_OK(DIMM("high", b1, .addr = 0x400000000ull));
	ADD_OK(PMEM("mid", b3, .addr = 0x300000000ull));
	ADD_OK(DIMM("low", b2));
	e->addr = 0x380000000ull;
	ADD_CUSTOM_OK("empty", 0, e);
	s = hmp_str(self->m);
	ASSERT_NE(NULL, s);
	lo = strstr(s, "\"low\"");
	mid = strstr(s, "\"mid\"");
	em = strstr(s, "\"empty\"");
	hi = strstr(s, "\"high\"");
	EXPECT_TRUE(lo && mid && em && hi && lo < mid && mid < em && em < hi) {
		TH_LOG("%s", s);
	}
	free(s);
	EXPECT_EQ(4, nr_devices(self->m));
}

TEST_HARNESS_MAIN
