// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virtio-mem (memory-devices.md rules 8 and 10): block size, realize
 * checks, usable region, requested size, guest requests, dynamic memslots
 * (decided counts, memslot-<i> aliases, activation and deactivation,
 * accounting), the RAM discard manager and device unplug. One TEST per
 * rule, named rule_<section>_<n>_...
 *
 * The random test (rule_10_random) drives a virtio-mem device with
 * dynamic memslots through thousands of seeded PLUG / UNPLUG / UNPLUG_ALL /
 * requested-size steps (MEMSLOT_SEED overrides the seed, which is printed)
 * and after every step compares the library with a bitmap model: the
 * responses, the sizes, the active memslots, the device-memory accounting,
 * the flat view of "memory" and the KVM slot table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"
#include "machine.h"

/* DEV()/MACHINE() below override defaults with the caller's designators. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define KVM_SLOTS 32764

#define ACK	MS_VIRTIO_MEM_ACK
#define NACK	MS_VIRTIO_MEM_NACK
#define BUSY	MS_VIRTIO_MEM_BUSY
#define ERROR	MS_VIRTIO_MEM_ERROR
#define ST_ERROR (MS_VIRTIO_MEM_ERROR + 100)	/* ms_virtio_mem__state() for ERROR */

/* ---- fixture and helpers ------------------------------------------------------------ */

FIXTURE(vm) {
	struct ms_ctx *ctx;
	struct ms_machine *m;
	char file[64];
	ms_print_fn_t old_print;
};

FIXTURE_SETUP(vm)
{
	warn_clear();
	self->old_print = ms_set_print(warn_capture);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
}

FIXTURE_TEARDOWN(vm)
{
	ms_machine__free(self->m);
	ms_ctx__free(self->ctx);
	if (self->file[0])
		unlink(self->file);
	ms_set_print(self->old_print);
	EXPECT_NO_LEAKS();
}

#define MOPTS(...) ((struct ms_machine_opts){ .sz = sizeof(struct ms_machine_opts),	\
	.type = MS_MACHINE_PC, .kvm_memslots = KVM_SLOTS, .page_size = PAGE, __VA_ARGS__ })

static struct ms_machine *__machine(struct __test_metadata *_metadata, struct ms_ctx *ctx,
				    struct ms_machine **mp, struct ms_machine_opts o)
{
	struct ms_error err = { 0 };

	ASSERT_EQ(NULL, *mp);
	*mp = ms_machine__new(ctx, &o, &err);
	ASSERT_NE(NULL, *mp) {
		TH_LOG("ms_machine__new: %s", err.msg);
	}
	return *mp;
}
/* pc with KVM (32764 slots, 4 KiB pages) unless overridden */
#define MACHINE(...) __machine(_metadata, self->ctx, &self->m, MOPTS(__VA_ARGS__))
/* pc -m 4G,maxmem=4G+hotpluggable */
#define PC_HOT(hot) MACHINE(.ram_size = 4 * GiB, .maxmem = 4 * GiB + (hot))

static struct ms_backend *__backend(struct __test_metadata *_metadata, struct ms_machine *m,
				    struct ms_backend_opts o)
{
	struct ms_error err = { 0 };
	struct ms_backend *b = ms_machine__add_backend(m, &o, &err);

	ASSERT_NE(NULL, b) {
		TH_LOG("ms_machine__add_backend(%s): %s", o.id, err.msg);
	}
	return b;
}
#define BOPTS(...) ((struct ms_backend_opts){ .sz = sizeof(struct ms_backend_opts), __VA_ARGS__ })
#define BACKEND(_id, _size) __backend(_metadata, self->m,					\
	BOPTS(.kind = MS_BACKEND_RAM, .id = (_id), .size = (_size), .no_memory = true))
#define BACKEND_REAL(_id, _size) __backend(_metadata, self->m,				\
	BOPTS(.kind = MS_BACKEND_RAM, .id = (_id), .size = (_size)))

/* virtio-mem options: 2 MiB blocks, unplugged-inaccessible on (the current default) */
#define VMEM(_id, _b, ...) ((struct ms_memdev_opts){ .sz = sizeof(struct ms_memdev_opts),	\
	.type = MS_MEMDEV_VIRTIO_MEM, .slot = MS_MEMDEV_SLOT_AUTO, .id = (_id), .memdev = (_b),	\
	.block_size = 2 * MiB, .unplugged_inaccessible = MS_ON, __VA_ARGS__ })

static struct ms_virtio_mem_status status(struct __test_metadata *_metadata,
					  const struct ms_memdev *d)
{
	struct ms_virtio_mem_status st;

	memset(&st, 0, sizeof(st));
	EXPECT_EQ(0, ms_virtio_mem__status(d, &st));
	return st;
}
#define STATUS(d) status(_metadata, (d))

static uint64_t addr_of(const struct ms_memdev *d)
{
	struct ms_memdev_info i;

	memset(&i, 0, sizeof(i));
	ms_memdev__info(d, &i);
	return i.addr;
}

static int consumer_line(const struct ms_consumer_info *c, void *opaque)
{
	fprintf(opaque, "consumer %s max=%u used=%u free=%u\n", c->name ? c->name : "-", c->max,
		c->used, c->free);
	return 0;
}

static int dev_line(struct ms_memdev *dev, void *opaque)
{
	struct ms_memdev_info i;

	memset(&i, 0, sizeof(i));
	ms_memdev__info(dev, &i);
	fprintf(opaque, "dev %s %s 0x%" PRIx64 " size=0x%" PRIx64 " req=0x%" PRIx64
		" memslots=%u/%u\n", ms_memdev_type_name(i.type), i.id ? i.id : "-", i.addr,
		i.size, i.requested_size, i.memslots_used, i.memslots);
	return 0;
}

/* Everything a refused request or a failed device_add/del must leave unchanged. */
static char *snap(struct ms_machine *m)
{
	struct ms_devmem_stats st = devmem_stats(m);
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "stats used_region=0x%" PRIx64 " plugged=0x%" PRIx64 " required=%u used=%u "
		"reserved=%u auto=%u\n", st.used_region_size, st.plugged_size,
		st.required_memslots, st.used_memslots, st.reserved_memslots,
		st.auto_decision_active);
	ms_machine__for_each_device(m, dev_line, f);
	s = as_str(ms_machine__memory_as(m));
	fprintf(f, "memory:\n%s", s ? s : "(NULL)\n");
	free(s);
	if (ms_machine__kvm(m))
		ms_slotmap__for_each(ms_machine__kvm(m), memslot_line, f);
	ms_machine__for_each_consumer(m, consumer_line, f);
	fclose(f);
	return buf;
}

/* A failing device_add: the text (NULL: any, "~..." : contains), nothing changed. */
static void __add_fail(struct __test_metadata *_metadata, struct ms_machine *m,
		       struct ms_memdev_opts o, const char *text)
{
	struct ms_error err = { 0 };
	struct ms_memdev *d;
	char *before = snap(m);

	errno = 0;
	d = ms_machine__device_add(m, &o, &err);
	EXPECT_EQ(NULL, d) {
		TH_LOG("device_add(%s) succeeded, expected \"%s\"", o.id ? o.id : "-",
		       text ? text : "(an error)");
	}
	if (d) {
		free(before);
		return;
	}
	EXPECT_NE(0, errno);
	if (text && text[0] == '~') {
		EXPECT_NE(NULL, strstr(err.msg, text + 1)) {
			TH_LOG("expected \"%s\" in \"%s\"", text + 1, err.msg);
		}
	} else if (text) {
		EXPECT_STREQ(text, err.msg);
	} else {
		TH_LOG("device_add(%s) failed as expected: %s", o.id ? o.id : "-", err.msg);
	}
	EXPECT_STR_FREE(before, snap(m));
	free(before);
}
#define ADD_FAIL(o, text) __add_fail(_metadata, self->m, (o), (text))

/* A refused guest request or requested-size change: nothing changed. */
#define UNCHANGED(expr) do {								\
	char *__b = snap(self->m);							\
	expr;										\
	EXPECT_STR_FREE(__b, snap(self->m));						\
	free(__b);									\
} while (0)

/* The memory flat-view ranges and KVM slots of region @mr, as text. */
struct of_region {
	const struct ms_region *mr;
	FILE *f;
};

static int kvm_of_region_cb(const struct ms_memslot *s, void *opaque)
{
	struct of_region *o = opaque;

	if (s->mr == o->mr)
		fprintf(o->f, "0x%" PRIx64 "+0x%" PRIx64 "@0x%" PRIx64 "\n", s->gpa, s->size,
			s->offset_in_region);
	return 0;
}

/* KVM slots backed by @mr, sorted by gpa (slot ids are not ordered by address). */
static char *kvm_of_region(struct ms_machine *m, const struct ms_region *mr)
{
	char *buf = NULL, *lines[512], *save, *tok;
	size_t len = 0, n = 0;
	struct of_region o = { .mr = mr };
	FILE *f;
	char *out = NULL;
	size_t olen = 0;

	o.f = open_memstream(&buf, &len);
	if (!o.f)
		return NULL;
	ms_slotmap__for_each(ms_machine__kvm(m), kvm_of_region_cb, &o);
	fclose(o.f);
	for (tok = strtok_r(buf, "\n", &save); tok && n < 512; tok = strtok_r(NULL, "\n", &save))
		lines[n++] = tok;
	/* insertion sort by gpa */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strtoull(lines[j - 1], NULL, 0) >
					    strtoull(lines[j], NULL, 0); j--) {
			char *t = lines[j];

			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	f = open_memstream(&out, &olen);
	if (f) {
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s\n", lines[i]);
		fclose(f);
	}
	free(buf);
	return out;
}

static char *fv_of_region(const struct ms_flatview *fv, const struct ms_region *mr)
{
	char *buf = NULL, sz[U128_HEX_LEN];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < ms_flatview__nr_ranges(fv); i++) {
		const struct ms_flat_range *r = ms_flatview__range(fv, i);

		if (r->mr != mr)
			continue;
		fprintf(f, "0x%" PRIx64 "+%s@0x%" PRIx64 "%s\n", r->start, u128_hex(sz, r->size),
			r->offset_in_region, r->unmergeable ? " um" : "");
	}
	fclose(f);
	return buf;
}

/* Expected text of fv_of_region() (um) or kvm_of_region() for the active memslots. */
static char *expected_ranges(uint64_t addr, uint64_t region, uint64_t ms, uint32_t n,
			     const bool *active, bool um)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t size = i == n - 1 ? region - (uint64_t)(n - 1) * ms : ms;

		if (active[i])
			fprintf(f, "0x%" PRIx64 "+0x%" PRIx64 "@0x%" PRIx64 "%s\n",
				addr + (uint64_t)i * ms, size, (uint64_t)i * ms, um ? " um" : "");
	}
	fclose(f);
	return buf;
}

static const char *thp_path = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size";

/* Rule 8.2's THP size on this host (x86-64 default 2 MiB). */
static uint64_t host_thp_size(void)
{
	unsigned long long v = 0;
	FILE *f;

	if (access("/sys/kernel/mm/transparent_hugepage/", F_OK))
		return MiB;
	f = fopen(thp_path, "r");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	if (v && !(v & (v - 1)))
		return v;
	return 2 * MiB;
}

/* ==== 8. virtio-mem ================================================================= */

/* 8.2: block-size texts and the automatic block size. */
TEST_F(vm, rule_8_2_block_size)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), want = host_thp_size();
	struct ms_memdev_info i;

	PC_HOT(8 * GiB);
	b = BACKEND("vm0", GiB);
	ADD_FAIL(VMEM("v", b, .block_size = 512 * KiB),
		 "'block-size' property has to be at least 0x100000");
	ADD_FAIL(VMEM("v", b, .block_size = 3 * MiB),
		 "'block-size' property has to be a power of two");
	ADD_FAIL(VMEM("v", b, .block_size = MiB + 1),
		 "'block-size' property has to be a power of two");
	/* 0 given explicitly is below the minimum, as QEMU's setter says */
	ADD_FAIL(VMEM("v", b, .block_size = 0, .block_size_set = true),
		 "'block-size' property has to be at least 0x100000");
	/* automatic: max(page size, THP size) for host-page RAM */
	d = ADD_OK(VMEM("v", b, .block_size = 0));
	memset(&i, 0, sizeof(i));
	ms_memdev__info(d, &i);
	if (want < page)
		want = page;
	EXPECT_EQ(want, i.block_size);
	EXPECT_EQ(want, STATUS(d).block_size);
	EXPECT_EQ(0, addr_of(d) % want);
	DEL_OK(d);
	/* 1 MiB is the minimum */
	d = ADD_OK(VMEM("v", b, .block_size = MiB));
	EXPECT_EQ(MiB, STATUS(d).block_size);
}

/* 8.3: alignment = block size; region = memdev region or a "virtio-mem" container. */
TEST_F(vm, rule_8_3_callbacks)
{
	struct ms_backend *b1, *b2, *bd;
	struct ms_memdev *v1, *v2;
	struct ms_region *mr;

	PC_HOT(16 * GiB);
	bd = BACKEND("m0", 2 * MiB);
	b1 = BACKEND("vm1", 2 * GiB);
	b2 = BACKEND("vm2", 4 * GiB);
	ADD_OK(VMEM("x", bd));
	/* block 1 GiB: past the 2 MiB device at the base, 1 GiB aligned */
	v1 = ADD_OK(VMEM("v1", b1, .block_size = GiB));
	EXPECT_EQ(0x180000000ull, addr_of(v1));
	EXPECT_EQ(ms_backend__region(b1), ms_memdev__region(v1));
	EXPECT_EQ(1, STATUS(v1).nr_memslots);

	v2 = ADD_OK(VMEM("v2", b2, .dynamic_memslots = true));
	mr = ms_memdev__region(v2);
	ASSERT_NE(NULL, mr);
	EXPECT_STREQ("virtio-mem", ms_region__name(mr));
	EXPECT_EQ(MS_REGION_CONTAINER, ms_region__kind(mr));
	EXPECT_EQ(4 * GiB, ms_region__size(mr));
	EXPECT_EQ(0x200000000ull, addr_of(v2));
	/* limit floor(254 * 4 / (16 - 2 - 2/1024)) = 72 -> 1 GiB memslots -> 4 */
	EXPECT_EQ(4, STATUS(v2).nr_memslots);
	EXPECT_EQ(1 + 1 + 4, devmem_stats(self->m).required_memslots);
	/* the whole memdev regions of the others are mapped, the container is empty */
	EXPECT_EQ(2, devmem_stats(self->m).used_memslots);
}

/* 8.4: realize checks. */
TEST_F(vm, rule_8_4_realize_checks)
{
	struct ms_backend *b, *bd, *bpre, *bmemfd, *b6;
	struct ms_memdev *d;
	int fd;

	PC_HOT(16 * GiB);
	b = BACKEND("vm0", GiB);
	bd = BACKEND("m1", GiB);
	/* memdev missing (pre_plug's region lookup or realize: text not pinned down) */
	ADD_FAIL(VMEM("v", NULL), NULL);
	/* busy memdev */
	ADD_OK(VMEM("v0", bd));
	ADD_FAIL(VMEM("v", bd), "'memdev' property specifies a busy memdev: m1");
	/* preallocated memdev */
	bpre = __backend(_metadata, self->m, BOPTS(.kind = MS_BACKEND_RAM, .id = "pre",
						   .size = GiB, .no_memory = true,
						   .prealloc = true));
	ADD_FAIL(VMEM("v", bpre), "~with preallocation enabled");
	ADD_FAIL(VMEM("v", bpre), "~specify 'prealloc=on' for the virtio-mem device.");
	/* invalid node without NUMA */
	ADD_FAIL(VMEM("v", b, .node = 1), NULL);
	/* dynamic memslots need unplugged-inaccessible=on */
	ADD_FAIL(VMEM("v", b, .dynamic_memslots = true, .unplugged_inaccessible = MS_OFF),
		 "'dynamic-memslots' property set to 'on' requires 'unplugged-inaccessible' to "
		 "be 'on'");
	/* auto: off for private anonymous RAM with host-size pages */
	ADD_FAIL(VMEM("v", b, .dynamic_memslots = true, .unplugged_inaccessible = MS_AUTO),
		 "'dynamic-memslots' property set to 'on' requires 'unplugged-inaccessible' to "
		 "be 'on'");
	/* ... on for shared memory */
	bmemfd = __backend(_metadata, self->m, BOPTS(.kind = MS_BACKEND_MEMFD, .id = "fd0",
						     .size = GiB, .share = true, .no_memory = true));
	d = ADD_OK(VMEM("vfd", bmemfd, .dynamic_memslots = true,
			.unplugged_inaccessible = MS_AUTO));
	EXPECT_EQ(1, STATUS(d).nr_memslots);	/* 1 GiB: one memslot */
	/* requested-size, memdev size not multiples of the block size */
	ADD_FAIL(VMEM("v", b, .requested_size = MiB), NULL);
	b6 = BACKEND("six", 6 * MiB);
	ADD_FAIL(VMEM("v", b6, .block_size = 4 * MiB), NULL);
	/* memaddr not block aligned: the pre_plug hint check (align = block size) */
	ADD_FAIL(VMEM("v", b, .block_size = 4 * MiB, .addr = 0x200200000ull),
		 "address must be aligned to 0x400000 bytes");
	/* ROM (read-only file) memdev */
	strcpy(self->file, "/tmp/memslot-test-XXXXXX");
	fd = mkstemp(self->file);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 64 * MiB));
	close(fd);
	{
		struct ms_backend *ro = __backend(_metadata, self->m,
						  BOPTS(.kind = MS_BACKEND_FILE, .id = "ro",
							.size = 64 * MiB, .mem_path = self->file,
							.share = true, .readonly = true));

		ADD_FAIL(VMEM("v", ro), "'memdev' property specifies an unsupported memdev");
	}
	/* order: preallocation before the node, dynamic memslots before the multiples */
	ADD_FAIL(VMEM("v", bpre, .node = 1), "~with preallocation enabled");
	ADD_FAIL(VMEM("v", b, .dynamic_memslots = true, .unplugged_inaccessible = MS_OFF,
		      .requested_size = MiB),
		 "'dynamic-memslots' property set to 'on' requires 'unplugged-inaccessible' to "
		 "be 'on'");
	/* after all these failures the memdev is usable */
	d = ADD_OK(VMEM("v", b));
	EXPECT_EQ(GiB, STATUS(d).region_size);
}

/* 8.6: the usable region: grows with requested-size, shrinks only after UNPLUG_ALL. */
TEST_F(vm, rule_8_6_usable_region)
{
	struct ms_backend *b, *b2;
	struct ms_memdev *d, *d2;

	PC_HOT(16 * GiB);
	b = BACKEND("vm0", 4 * GiB);
	d = ADD_OK(VMEM("v", b));
	EXPECT_EQ(0, STATUS(d).usable_region_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 100 * MiB, NULL));
	EXPECT_EQ(356 * MiB, STATUS(d).usable_region_size);
	EXPECT_EQ(100 * MiB, STATUS(d).requested_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, GiB, NULL));
	EXPECT_EQ(GiB + 256 * MiB, STATUS(d).usable_region_size);
	/* capped by the memdev size */
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 4 * GiB - 2 * MiB, NULL));
	EXPECT_EQ(4 * GiB, STATUS(d).usable_region_size);
	/* lowering requested-size does not shrink it */
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 2 * MiB, NULL));
	EXPECT_EQ(4 * GiB, STATUS(d).usable_region_size);
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 3 * GiB, 2 * MiB));
	/* UNPLUG_ALL recomputes with shrinking */
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));
	EXPECT_EQ(258 * MiB, STATUS(d).usable_region_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 0, NULL));
	EXPECT_EQ(258 * MiB, STATUS(d).usable_region_size);
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));
	EXPECT_EQ(0, STATUS(d).usable_region_size);

	/* at realize, rounded up to the block size: 1 GiB + 256 MiB -> 2 GiB */
	b2 = BACKEND("vm1", 8 * GiB);
	d2 = ADD_OK(VMEM("v2", b2, .block_size = GiB, .requested_size = GiB));
	EXPECT_EQ(2 * GiB, STATUS(d2).usable_region_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d2, 0, NULL));
	EXPECT_EQ(2 * GiB, STATUS(d2).usable_region_size);
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d2));
	EXPECT_EQ(0, STATUS(d2).usable_region_size);
}

/* 8.7: requested-size texts. */
TEST_F(vm, rule_8_7_requested_size)
{
	struct ms_error err = { 0 };
	struct ms_backend *b;
	struct ms_memdev *d;

	PC_HOT(16 * GiB);
	b = BACKEND("vm0", GiB);
	d = ADD_OK(VMEM("v", b, .requested_size = 64 * MiB));
	UNCHANGED(EXPECT_EQ(-EINVAL, ms_virtio_mem__set_requested_size(d, 65 * MiB, &err)));
	EXPECT_STREQ("'requested-size' has to be multiples of 'block-size' (0x200000)", err.msg);
	memset(&err, 0, sizeof(err));
	UNCHANGED(EXPECT_EQ(-EINVAL, ms_virtio_mem__set_requested_size(d, GiB + 2 * MiB, &err)));
	EXPECT_STREQ("'requested-size' cannot exceed the memory backend size(0x40000000)", err.msg);
	EXPECT_EQ(64 * MiB, STATUS(d).requested_size);
	EXPECT_EQ(320 * MiB, STATUS(d).usable_region_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, GiB, &err));
	EXPECT_EQ(GiB, STATUS(d).requested_size);
	EXPECT_EQ(GiB, STATUS(d).usable_region_size);
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, GiB, &err));	/* unchanged: fine */
	/* the pending-unplug text cannot be reached: device_del is synchronous */
}

/* 8.8: PLUG / UNPLUG / UNPLUG_ALL / STATE responses (real anonymous memory). */
TEST_F(vm, rule_8_8_requests)
{
	struct ms_backend *b;
	struct ms_memdev *d;

	PC_HOT(16 * GiB);
	b = BACKEND_REAL("vm0", GiB);
	d = ADD_OK(VMEM("v", b, .requested_size = 64 * MiB));	/* usable 320 MiB */

	/* invalid ranges: ERROR, nothing changes */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__plug(d, MiB, 2 * MiB)));	/* misaligned */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__plug(d, 0, 0)));		/* empty */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__plug(d, 320 * MiB, 2 * MiB)));	/* outside */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__plug(d, 318 * MiB, 4 * MiB)));	/* crosses */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__plug(d, 2 * MiB, 0ull - 2 * MiB)));	/* wraps */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__unplug(d, MiB, 2 * MiB)));
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__unplug(d, 320 * MiB, 2 * MiB)));
	UNCHANGED(EXPECT_EQ(ST_ERROR, ms_virtio_mem__state(d, 318 * MiB, 4 * MiB)));
	UNCHANGED(EXPECT_EQ(ST_ERROR, ms_virtio_mem__state(d, 0, 0)));
	UNCHANGED(EXPECT_EQ(ST_ERROR, ms_virtio_mem__state(d, 4 * KiB, 2 * MiB)));

	/* PLUG */
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 0, 8 * MiB));
	EXPECT_EQ(8 * MiB, STATUS(d).plugged_size);
	EXPECT_EQ(8 * MiB, devmem_stats(self->m).plugged_size);
	EXPECT_EQ(MS_VIRTIO_MEM_PLUGGED, ms_virtio_mem__state(d, 0, 8 * MiB));
	EXPECT_EQ(MS_VIRTIO_MEM_MIXED, ms_virtio_mem__state(d, 6 * MiB, 4 * MiB));
	EXPECT_EQ(MS_VIRTIO_MEM_UNPLUGGED, ms_virtio_mem__state(d, 8 * MiB, 312 * MiB));
	/* partially plugged: ERROR */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__plug(d, 6 * MiB, 4 * MiB)));
	/* beyond requested-size: NACK */
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 200 * MiB, 54 * MiB));
	EXPECT_EQ(62 * MiB, STATUS(d).plugged_size);
	UNCHANGED(EXPECT_EQ(NACK, ms_virtio_mem__plug(d, 100 * MiB, 4 * MiB)));
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 100 * MiB, 2 * MiB));	/* exactly 64 MiB */
	UNCHANGED(EXPECT_EQ(NACK, ms_virtio_mem__plug(d, 102 * MiB, 2 * MiB)));

	/* UNPLUG: not all plugged -> ERROR */
	UNCHANGED(EXPECT_EQ(ERROR, ms_virtio_mem__unplug(d, 6 * MiB, 4 * MiB)));
	EXPECT_EQ(ACK, ms_virtio_mem__unplug(d, 2 * MiB, 4 * MiB));
	EXPECT_EQ(60 * MiB, STATUS(d).plugged_size);
	EXPECT_EQ(MS_VIRTIO_MEM_MIXED, ms_virtio_mem__state(d, 0, 8 * MiB));
	EXPECT_EQ(MS_VIRTIO_MEM_UNPLUGGED, ms_virtio_mem__state(d, 2 * MiB, 4 * MiB));

	/* lowering requested-size below plugged: PLUG is refused, UNPLUG works */
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 10 * MiB, NULL));
	UNCHANGED(EXPECT_EQ(NACK, ms_virtio_mem__plug(d, 2 * MiB, 2 * MiB)));
	EXPECT_EQ(ACK, ms_virtio_mem__unplug(d, 200 * MiB, 54 * MiB));

	/* UNPLUG_ALL */
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));
	EXPECT_EQ(0, STATUS(d).plugged_size);
	EXPECT_EQ(0, devmem_stats(self->m).plugged_size);
	EXPECT_EQ(MS_VIRTIO_MEM_UNPLUGGED, ms_virtio_mem__state(d, 0, 266 * MiB));
	EXPECT_EQ(266 * MiB, STATUS(d).usable_region_size);
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));	/* nothing plugged: still ACK */

	/* the whole memdev stays mapped without dynamic memslots (10.1) */
	EXPECT_EQ(1, devmem_stats(self->m).used_memslots);
}

/* ==== 10. dynamic memslots ========================================================== */

/* 10.1: without dynamic memslots, one memslot mapped at plug time. */
TEST_F(vm, rule_10_1_static)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct ms_devmem_stats st;
	char *s;

	PC_HOT(16 * GiB);
	b = BACKEND("vm0", 8 * GiB);
	d = ADD_OK(VMEM("v", b));
	st = devmem_stats(self->m);
	EXPECT_EQ(1, st.required_memslots);
	EXPECT_EQ(1, st.used_memslots);
	EXPECT_EQ(0, st.reserved_memslots);
	EXPECT_EQ(0, st.auto_decision_active);
	EXPECT_EQ(1, STATUS(d).nr_memslots);
	EXPECT_EQ(ms_backend__region(b), ms_memdev__region(d));
	s = fv_of_region(ms_as__flatview(ms_machine__memory_as(self->m)), ms_backend__region(b));
	EXPECT_STREQ("0x140000000+0x200000000@0x0\n", s);
	free(s);
	EXPECT_NE(NULL, ms_slotmap__lookup(ms_machine__kvm(self->m), 0x140000000ull, 8 * GiB));
}

/* 10.2 / 10.9: decided counts with the machine's limit; auto decision only if > 1. */
TEST_F(vm, rule_10_2_decided_counts)
{
	struct ms_backend *b1, *b2, *b3;
	struct ms_memdev *d1, *d2, *d3;
	struct ms_virtio_mem_status vs;
	struct ms_devmem_stats st;

	/* 8 GiB of 16 GiB: limit 128 -> 8 x 1 GiB */
	PC_HOT(16 * GiB);
	b1 = BACKEND("vm1", 8 * GiB);
	d1 = ADD_OK(VMEM("v1", b1, .dynamic_memslots = true));
	vs = STATUS(d1);
	EXPECT_EQ(8, vs.nr_memslots);
	EXPECT_EQ(GiB, vs.memslot_size);
	EXPECT_EQ(0, vs.active_memslots);
	st = devmem_stats(self->m);
	EXPECT_EQ(8, st.required_memslots);
	EXPECT_EQ(0, st.used_memslots);
	EXPECT_EQ(8, st.reserved_memslots);
	EXPECT_EQ(1, st.auto_decision_active);
	/* 512 MiB: one memslot, not auto-deciding */
	b2 = BACKEND("vm2", 512 * MiB);
	d2 = ADD_OK(VMEM("v2", b2, .dynamic_memslots = true));
	vs = STATUS(d2);
	EXPECT_EQ(1, vs.nr_memslots);
	EXPECT_EQ(512 * MiB, vs.memslot_size);
	st = devmem_stats(self->m);
	EXPECT_EQ(9, st.required_memslots);
	EXPECT_EQ(1, st.auto_decision_active);
	b3 = BACKEND("vm3", 4 * GiB);
	/* limit: memslots 256 - 9 = 247, 7.5 GiB available -> floor(247 * 4 / 7.5) = 131 -> 4 */
	d3 = ADD_OK(VMEM("v3", b3, .dynamic_memslots = true));
	EXPECT_EQ(4, STATUS(d3).nr_memslots);
	EXPECT_EQ(2, devmem_stats(self->m).auto_decision_active);
	DEL_OK(d1);
	st = devmem_stats(self->m);
	EXPECT_EQ(1 + 4, st.required_memslots);
	EXPECT_EQ(1, st.auto_decision_active);
	EXPECT_EQ(5, st.reserved_memslots);
}

/* 10.2 step 2: with a vhost-user backend of 8 memslots the limit is 1. */
TEST_F(vm, rule_10_2_limit_1)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct ms_virtio_mem_status vs;
	char *s;

	PC_HOT(16 * GiB);
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vu", 8, true, NULL));
	b = BACKEND("vm0", 8 * GiB);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 64 * MiB));
	vs = STATUS(d);
	EXPECT_EQ(1, vs.nr_memslots);
	EXPECT_EQ(8 * GiB, vs.memslot_size);
	EXPECT_EQ(0, devmem_stats(self->m).auto_decision_active);
	EXPECT_EQ(0, devmem_stats(self->m).used_memslots);	/* 10.3: memslot-0 not mapped yet */
	EXPECT_EQ(1, devmem_stats(self->m).reserved_memslots);
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 0, 2 * MiB));
	s = fv_of_region(ms_as__flatview(ms_machine__memory_as(self->m)), ms_backend__region(b));
	EXPECT_STREQ("0x140000000+0x200000000@0x0 um\n", s);
	free(s);
	EXPECT_EQ(1, devmem_stats(self->m).used_memslots);
}

/*
 * 10.3-10.8: memslot-<i> aliases (unmergeable, last one smaller), mapped
 * on PLUG in one transaction, unmapped after UNPLUG when empty; adjacent
 * active memslots are separate flat ranges, KVM slots and vhost regions.
 */
TEST_F(vm, rule_10_3_to_10_8_memslots)
{
	const uint64_t ms = 1366 * 2 * MiB;	/* floor(8G / 3) rounded up to 2 MiB */
	struct ms_backend *b;
	struct ms_memdev *d;
	struct ms_virtio_mem_status vs;
	const struct ms_slot_op *ops;
	struct ms_slotmap *kvm;
	uint64_t base;
	size_t nops;
	char *s, line[256];

	/* limit floor(256 * 8 / 600) = 3 */
	PC_HOT(600 * GiB);
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", 4096, false, NULL));
	b = BACKEND("vm0", 8 * GiB);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 8 * GiB));
	vs = STATUS(d);
	ASSERT_EQ(3, vs.nr_memslots);
	EXPECT_EQ(ms, vs.memslot_size);
	base = addr_of(d);
	EXPECT_EQ(0x140000000ull, base);
	kvm = ms_machine__kvm(self->m);

	/* PLUG across memslots 0 and 1: both mapped in one commit */
	ms_slotmap__clear_ops(kvm);
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, ms - 2 * MiB, 4 * MiB));
	ops = ms_slotmap__ops(kvm, &nops);
	ASSERT_EQ(2, nops);
	EXPECT_EQ(MS_SLOT_OP_CREATE, ops[0].kind);
	EXPECT_EQ(MS_SLOT_OP_CREATE, ops[1].kind);
	EXPECT_EQ(ops[0].commit, ops[1].commit);
	EXPECT_TRUE(ms_virtio_mem__memslot_active(d, 0));
	EXPECT_TRUE(ms_virtio_mem__memslot_active(d, 1));
	EXPECT_FALSE(ms_virtio_mem__memslot_active(d, 2));
	EXPECT_EQ(2, STATUS(d).active_memslots);
	/* adjacent, same region, contiguous: still two ranges (10.8) */
	s = fv_of_region(ms_as__flatview(ms_machine__memory_as(self->m)), ms_backend__region(b));
	snprintf(line, sizeof(line), "0x%" PRIx64 "+0x%" PRIx64 "@0x0 um\n0x%" PRIx64 "+0x%"
		 PRIx64 "@0x%" PRIx64 " um\n", base, ms, base + ms, ms, ms);
	EXPECT_STREQ(line, s);
	free(s);
	EXPECT_NE(NULL, ms_slotmap__lookup(kvm, base, ms));
	EXPECT_NE(NULL, ms_slotmap__lookup(kvm, base + ms, ms));
	EXPECT_EQ(2, devmem_stats(self->m).used_memslots);
	EXPECT_EQ(1, devmem_stats(self->m).reserved_memslots);

	/* names and sizes of the aliases in `info mtree`; the last is smaller */
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 8 * GiB - 2 * MiB, 2 * MiB));
	s = mtree_str(self->ctx, 0, NULL, NULL);
	ASSERT_NE(NULL, s);
	snprintf(line, sizeof(line), " (prio 0, ram): alias memslot-2 @vm0 %016" PRIx64 "-%016"
		 PRIx64 "\n", 2 * ms, (uint64_t)(8 * GiB - 1));
	EXPECT_NE(NULL, strstr(s, line)) {
		TH_LOG("no \"%s\" in\n%s", line, s);
	}
	snprintf(line, sizeof(line), " (prio 0, ram): alias memslot-0 @vm0 %016" PRIx64 "-%016"
		 PRIx64 "\n", (uint64_t)0, ms - 1);
	EXPECT_NE(NULL, strstr(s, line));
	EXPECT_NE(NULL, strstr(s, " (prio 0, i/o): virtio-mem\n"));
	free(s);
	EXPECT_NE(NULL, ms_slotmap__lookup(kvm, base + 2 * ms, 8 * GiB - 2 * ms));

	/* UNPLUG part of memslot 0: memslot 0 keeps its other block */
	EXPECT_EQ(ACK, ms_virtio_mem__unplug(d, ms + 0, 2 * MiB));
	EXPECT_TRUE(ms_virtio_mem__memslot_active(d, 0));
	EXPECT_FALSE(ms_virtio_mem__memslot_active(d, 1));
	EXPECT_EQ(NULL, ms_slotmap__lookup(kvm, base + ms, ms));
	EXPECT_EQ(ACK, ms_virtio_mem__unplug(d, ms - 2 * MiB, 2 * MiB));
	EXPECT_FALSE(ms_virtio_mem__memslot_active(d, 0));
	EXPECT_EQ(1, devmem_stats(self->m).used_memslots);
	EXPECT_EQ(2, devmem_stats(self->m).reserved_memslots);
	/* UNPLUG_ALL deactivates everything */
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 0, 2 * MiB));
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));
	EXPECT_EQ(0, STATUS(d).active_memslots);
	EXPECT_EQ(0, devmem_stats(self->m).used_memslots);
	EXPECT_EQ(3, devmem_stats(self->m).reserved_memslots);
	s = fv_of_region(ms_as__flatview(ms_machine__memory_as(self->m)), ms_backend__region(b));
	EXPECT_STREQ("", s);
	free(s);
}

static int vhost_used_cb(const struct ms_consumer_info *c, void *opaque)
{
	if (c->kind == MS_CONSUMER_VHOST)
		*(uint32_t *)opaque = c->used;
	return 0;
}

/* Region count of the (only) vhost backend. */
static uint32_t vhost_used(struct ms_machine *m)
{
	uint32_t used = 0;

	ms_machine__for_each_consumer(m, vhost_used_cb, &used);
	return used;
}

/* 10.8: vhost does not merge adjacent active memslots either. */
TEST_F(vm, rule_10_8_vhost_not_merged)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	uint32_t used0;

	PC_HOT(16 * GiB);
	ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vk", 4096, false, NULL));
	b = BACKEND_REAL("vm0", 8 * GiB);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 8 * GiB));
	ASSERT_EQ(8, STATUS(d).nr_memslots);
	used0 = vhost_used(self->m);
	/* memslots 0 and 1: adjacent, one region, contiguous host memory */
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, GiB - 2 * MiB, 4 * MiB));
	EXPECT_EQ(used0 + 2, vhost_used(self->m));
	EXPECT_EQ(2, devmem_stats(self->m).used_memslots);
}

/* ---- RAM discard manager (10.5, 10.10) ------------------------------------------------ */

#define RDM_BLOCKS 512

struct rdm {
	const char *name;
	uint64_t block;
	bool plugged[RDM_BLOCKS];	/* what this listener believes */
	int refuse;			/* populate returns this (0: accept) */
	struct evlog *log;
};

static int rdm_populate(void *opaque, uint64_t offset, uint64_t size)
{
	struct rdm *r = opaque;

	evlog_add(r->log, NULL, "%s populate 0x%" PRIx64 "+0x%" PRIx64, r->name, offset, size);
	if (r->refuse)
		return r->refuse;
	for (uint64_t o = offset; o < offset + size && o / r->block < RDM_BLOCKS; o += r->block)
		r->plugged[o / r->block] = true;
	return 0;
}

static void rdm_discard(void *opaque, uint64_t offset, uint64_t size)
{
	struct rdm *r = opaque;

	evlog_add(r->log, NULL, "%s discard 0x%" PRIx64 "+0x%" PRIx64, r->name, offset, size);
	for (uint64_t o = offset; o < offset + size && o / r->block < RDM_BLOCKS; o += r->block)
		r->plugged[o / r->block] = false;
}

static const struct ms_rdm_listener_ops rdm_ops = {
	.populate = rdm_populate,
	.discard = rdm_discard,
};

static bool rdm_matches(const struct rdm *r, const struct ms_memdev *d, uint64_t usable)
{
	for (uint64_t i = 0; i < usable / r->block && i < RDM_BLOCKS; i++) {
		int st = ms_virtio_mem__state(d, i * r->block, r->block);

		if (r->plugged[i] != (st == MS_VIRTIO_MEM_PLUGGED))
			return false;
	}
	return true;
}

/* 10.10: listeners follow plugged blocks; register replays in ascending order. */
TEST_F(vm, rule_10_10_rdm)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct evlog log;
	struct rdm r1 = { .name = "r1", .block = 2 * MiB }, r2 = { .name = "r2", .block = 2 * MiB };

	evlog_init(&log);
	r1.log = r2.log = &log;
	PC_HOT(16 * GiB);
	b = BACKEND("vm0", GiB);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 64 * MiB));
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 10 * MiB, 4 * MiB));
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 2 * MiB, 2 * MiB));
	ASSERT_EQ(0, ms_virtio_mem__rdm_register(d, &rdm_ops, &r1));
	EXPECT_EVENTS(&log, "r1 populate 0x200000+0x200000\n"
			    "r1 populate 0xa00000+0x400000\n");
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 20 * MiB, 2 * MiB));
	EXPECT_EVENTS(&log, "r1 populate 0x1400000+0x200000\n");
	EXPECT_EQ(ACK, ms_virtio_mem__unplug(d, 10 * MiB, 2 * MiB));
	EXPECT_EVENTS(&log, "r1 discard 0xa00000+0x200000\n");
	EXPECT_TRUE(rdm_matches(&r1, d, 320 * MiB));

	/* a refusing listener: BUSY, nothing plugged, nothing mapped, others rolled back */
	ASSERT_EQ(0, ms_virtio_mem__rdm_register(d, &rdm_ops, &r2));
	evlog_clear(&log);
	r2.refuse = -ENOMEM;
	{
		char *before = snap(self->m);
		uint32_t active = STATUS(d).active_memslots;

		EXPECT_EQ(BUSY, ms_virtio_mem__plug(d, 40 * MiB, 2 * MiB));
		EXPECT_STR_FREE(before, snap(self->m));
		free(before);
		EXPECT_EQ(active, STATUS(d).active_memslots);
		EXPECT_EQ(MS_VIRTIO_MEM_UNPLUGGED, ms_virtio_mem__state(d, 40 * MiB, 2 * MiB));
		EXPECT_TRUE(rdm_matches(&r1, d, 320 * MiB));
		EXPECT_EQ(1, evlog_count(&log, "r2 populate 0x2800000+0x200000"));
	}
	r2.refuse = 0;
	ms_virtio_mem__rdm_unregister(d, &r2);
	evlog_clear(&log);
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));
	EXPECT_EQ(0, evlog_count(&log, "r2"));
	EXPECT_TRUE(rdm_matches(&r1, d, 320 * MiB));
	for (int i = 0; i < RDM_BLOCKS; i++)
		EXPECT_FALSE(r1.plugged[i]);
	ms_virtio_mem__rdm_unregister(d, &r1);
	evlog_free(&log);
}

/* 10.5: the first memslot activation refused: nothing activated. */
TEST_F(vm, rule_10_5_refused_populate_activates_nothing)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct evlog log;
	struct rdm r = { .name = "r", .block = 2 * MiB, .refuse = -EIO };
	char *before;

	evlog_init(&log);
	r.log = &log;
	PC_HOT(16 * GiB);
	b = BACKEND("vm0", 8 * GiB);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 8 * GiB));
	ASSERT_EQ(8, STATUS(d).nr_memslots);
	ASSERT_EQ(0, ms_virtio_mem__rdm_register(d, &rdm_ops, &r));
	before = snap(self->m);
	EXPECT_EQ(BUSY, ms_virtio_mem__plug(d, GiB - 2 * MiB, 4 * MiB));
	EXPECT_STR_FREE(before, snap(self->m));
	free(before);
	EXPECT_EQ(0, STATUS(d).active_memslots);
	EXPECT_EQ(0, devmem_stats(self->m).used_memslots);
	EXPECT_EQ(0, STATUS(d).plugged_size);
	EXPECT_EQ(MS_VIRTIO_MEM_UNPLUGGED, ms_virtio_mem__state(d, GiB - 2 * MiB, 4 * MiB));
	r.refuse = 0;
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, GiB - 2 * MiB, 4 * MiB));
	EXPECT_EQ(2, devmem_stats(self->m).used_memslots);
	ms_virtio_mem__rdm_unregister(d, &r);
	evlog_free(&log);
}

/*
 * 10.5 / 10.10: when one listener refuses, the listeners already told
 * about the blocks are told to discard them again (both registration
 * orders, so that the refusing one is notified first once and last once).
 */
TEST_F(vm, rule_10_5_refusal_rolls_back_other_listeners)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct evlog log;

	evlog_init(&log);
	PC_HOT(16 * GiB);
	b = BACKEND("vm0", 8 * GiB);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 8 * GiB));
	for (int order = 0; order < 2; order++) {
		struct rdm ok = { .name = "ok", .block = 2 * MiB, .log = &log };
		struct rdm no = { .name = "no", .block = 2 * MiB, .log = &log, .refuse = -EBUSY };
		struct rdm *first = order ? &no : &ok, *second = order ? &ok : &no;
		char *before;

		ASSERT_EQ(0, ms_virtio_mem__rdm_register(d, &rdm_ops, first));
		ASSERT_EQ(0, ms_virtio_mem__rdm_register(d, &rdm_ops, second));
		before = snap(self->m);
		EXPECT_EQ(BUSY, ms_virtio_mem__plug(d, 0, 4 * MiB));
		EXPECT_STR_FREE(before, snap(self->m));
		free(before);
		EXPECT_FALSE(ok.plugged[0] || ok.plugged[1]) {
			TH_LOG("order %d: the accepting listener kept the refused blocks:\n%s",
			       order, evlog_str(&log));
		}
		ms_virtio_mem__rdm_unregister(d, &ok);
		ms_virtio_mem__rdm_unregister(d, &no);
		evlog_clear(&log);
	}
	EXPECT_EQ(0, STATUS(d).active_memslots);
	evlog_free(&log);
}

/* 10.10: a registration whose replay fails registers nothing. */
TEST_F(vm, rule_10_10_register_failure)
{
	struct ms_backend *b;
	struct ms_memdev *d;
	struct evlog log;
	struct rdm r = { .name = "r", .block = 2 * MiB, .refuse = -EPERM };

	evlog_init(&log);
	r.log = &log;
	PC_HOT(16 * GiB);
	b = BACKEND("vm0", GiB);
	d = ADD_OK(VMEM("v", b, .requested_size = 64 * MiB));
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 0, 2 * MiB));
	EXPECT_EQ(-EPERM, ms_virtio_mem__rdm_register(d, &rdm_ops, &r));
	evlog_clear(&log);
	r.refuse = 0;
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 4 * MiB, 2 * MiB));
	EXPECT_EQ(0, log.n);	/* not registered */
	evlog_free(&log);
}

/* 10.11: unplugging the whole device; texts in order. */
TEST_F(vm, rule_10_11_device_unplug)
{
	struct ms_backend *b, *b2;
	struct ms_memdev *d, *d2;
	char *before;

	PC_HOT(16 * GiB);
	b = BACKEND("vm0", 8 * GiB);
	b2 = BACKEND("vm1", GiB);
	before = snap(self->m);
	d = ADD_OK(VMEM("v", b, .dynamic_memslots = true, .requested_size = 64 * MiB));
	EXPECT_EQ(ACK, ms_virtio_mem__plug(d, 0, 2 * MiB));
	DEL_FAIL(d, "virtio-mem device cannot get unplugged while some of its memory is still "
		    "plugged");
	EXPECT_EQ(ACK, ms_virtio_mem__unplug_all(d));
	DEL_FAIL(d, "virtio-mem device cannot get unplugged while 'requested-size' != '0'");
	EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d, 0, NULL));
	DEL_OK(d);
	EXPECT_STR_FREE(before, snap(self->m));
	free(before);

	/* unplugged-inaccessible off: refused first, even with requested-size set */
	d2 = ADD_OK(VMEM("v2", b2, .unplugged_inaccessible = MS_OFF,
			 .requested_size = 64 * MiB));
	EXPECT_EQ(0x140000000ull, addr_of(d2));
	DEL_FAIL(d2, "virtio-mem device cannot get unplugged while 'unplugged-inaccessible' != "
		     "'on'");
	/* the memdev of the removed device is free again */
	d = ADD_OK(VMEM("v", b));
	EXPECT_EQ(0x180000000ull, addr_of(d));
}

/* ==== random test ================================================================== */

/*
 * The bitmap model of one virtio-mem device with dynamic memslots
 * (rules 8.6-8.8, 10.5-10.7).
 */
struct model {
	uint64_t region, block, ms;	/* memdev size, block size, memslot size */
	uint32_t n;			/* memslots */
	uint64_t nblocks;
	uint64_t requested, usable, plugged;
	uint8_t *bm;			/* per block: plugged */
	uint32_t *cnt;			/* per memslot: plugged blocks */
	bool *active;
};

static uint64_t rnd64(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd64(s) % n : 0;
}

static void model_usable(struct model *md, bool can_shrink)
{
	uint64_t n = md->requested + 256 * MiB;

	if (n > md->region)
		n = md->region;
	n = (n + md->block - 1) / md->block * md->block;
	if (!md->requested)
		n = 0;
	if (n < md->usable && !can_shrink)
		return;
	md->usable = n;
}

static bool model_valid(const struct model *md, uint64_t off, uint64_t size)
{
	return !(off % md->block) && size && !(size % md->block) && off + size > off &&
	       off + size <= md->usable;
}

static void model_set(struct model *md, uint64_t off, uint64_t size, bool plug)
{
	for (uint64_t b = off / md->block; b < (off + size) / md->block; b++) {
		uint32_t i = (uint32_t)(b * md->block / md->ms);

		if (md->bm[b] == plug)
			continue;
		md->bm[b] = plug;
		md->cnt[i] += plug ? 1 : -1;
		md->plugged += plug ? md->block : -md->block;
	}
	for (uint32_t i = 0; i < md->n; i++)
		md->active[i] = md->cnt[i] > 0;
}

static int model_plug(struct model *md, uint64_t off, uint64_t size, bool *either)
{
	bool valid = model_valid(md, off, size);

	*either = false;
	if (!valid) {
		/* NACK vs ERROR for an invalid range beyond requested: not ordered by the spec */
		*either = md->plugged + size > md->requested;
		return ERROR;
	}
	if (md->plugged + size > md->requested)
		return NACK;
	for (uint64_t b = off / md->block; b < (off + size) / md->block; b++)
		if (md->bm[b])
			return ERROR;
	model_set(md, off, size, true);
	return ACK;
}

static int model_unplug(struct model *md, uint64_t off, uint64_t size)
{
	if (!model_valid(md, off, size))
		return ERROR;
	for (uint64_t b = off / md->block; b < (off + size) / md->block; b++)
		if (!md->bm[b])
			return ERROR;
	model_set(md, off, size, false);
	return ACK;
}

static int model_state(const struct model *md, uint64_t off, uint64_t size)
{
	uint64_t p = 0, n;

	if (!model_valid(md, off, size))
		return ST_ERROR;
	n = size / md->block;
	for (uint64_t b = off / md->block; b < off / md->block + n; b++)
		p += md->bm[b];
	return p == n ? MS_VIRTIO_MEM_PLUGGED : p ? MS_VIRTIO_MEM_MIXED : MS_VIRTIO_MEM_UNPLUGGED;
}

struct rvariant_cfg {
	uint64_t region, block, hotpluggable;
	bool vhost_user_8;		/* limit 1 */
	uint32_t n;			/* expected decision (rule 10.2) */
	uint64_t ms;
	int steps;
};

FIXTURE(rnd) {
	struct ms_ctx *ctx;
	struct ms_machine *m;
	ms_print_fn_t old_print;
};

FIXTURE_VARIANT(rnd) {
	struct rvariant_cfg cfg;
};

FIXTURE_SETUP(rnd)
{
	warn_clear();
	self->old_print = ms_set_print(warn_capture);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
}

FIXTURE_TEARDOWN(rnd)
{
	ms_machine__free(self->m);
	ms_ctx__free(self->ctx);
	ms_set_print(self->old_print);
	EXPECT_NO_LEAKS();
}

FIXTURE_VARIANT_ADD(rnd, r8g_8x1g) {
	/* limit floor(256 * 8 / 16) = 128 -> 8 x 1 GiB */
	.cfg = { 8 * GiB, 2 * MiB, 16 * GiB, false, 8, GiB, 5000 },
};

FIXTURE_VARIANT_ADD(rnd, r32g_32x1g) {
	/* limit floor(256 * 32 / 33) = 248 -> 132 MiB -> 1 GiB -> 32 */
	.cfg = { 32 * GiB, 2 * MiB, 33 * GiB, false, 32, GiB, 5000 },
};

FIXTURE_VARIANT_ADD(rnd, r8g_3_uneven) {
	/* limit floor(256 * 8 / 600) = 3 -> 1366 x 2 MiB, the last 2860515328 */
	.cfg = { 8 * GiB, 2 * MiB, 600 * GiB, false, 3, 1366 * 2 * MiB, 4000 },
};

FIXTURE_VARIANT_ADD(rnd, r4g_block_1g) {
	/* 1 GiB blocks: each memslot is one block */
	.cfg = { 4 * GiB, GiB, 8 * GiB, false, 4, GiB, 2000 },
};

FIXTURE_VARIANT_ADD(rnd, r8g_1_vhost_user) {
	/* a vhost-user backend with 8 memslots: limit 1 -> one memslot */
	.cfg = { 8 * GiB, 2 * MiB, 16 * GiB, true, 1, 8 * GiB, 2000 },
};

static uint64_t seed_from_env(void)
{
	const char *e = getenv("MEMSLOT_SEED");

	return e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
}

/* `info mtree` shows exactly the active memslot-<i> aliases (rule 10.3 names). */
static bool check_mtree(struct __test_metadata *_metadata, struct ms_machine *m,
			const struct model *md, int step)
{
	char *s = mtree_str(ms_machine__ctx(m), 0, NULL, NULL), line[128];
	bool ok = true;

	if (!s)
		return false;
	for (uint32_t i = 0; i < md->n; i++) {
		uint64_t off = (uint64_t)i * md->ms;
		uint64_t end = i == md->n - 1 ? md->region - 1 : off + md->ms - 1;

		snprintf(line, sizeof(line), " (prio 0, ram): alias memslot-%u @vm0 %016" PRIx64
			 "-%016" PRIx64 "\n", i, off, end);
		if (!!strstr(s, line) != md->active[i]) {
			TH_LOG("step %d: memslot-%u %s in info mtree", step, i,
			       md->active[i] ? "missing" : "present");
			ok = false;
		}
	}
	free(s);
	return ok;
}

/* Compare everything with the model; log the first difference. */
static bool check_model(struct __test_metadata *_metadata, struct ms_machine *m,
			const struct ms_memdev *d, const struct ms_region *mr,
			const struct model *md, uint64_t addr, int step)
{
	struct ms_as *dmas = find_as(ms_machine__ctx(m), "device-memory");
	struct ms_virtio_mem_status vs;
	struct ms_devmem_stats st = devmem_stats(m);
	uint32_t active = 0;
	char *want, *got;
	bool ok = true;

	memset(&vs, 0, sizeof(vs));
	ms_virtio_mem__status(d, &vs);
	for (uint32_t i = 0; i < md->n; i++) {
		active += md->active[i];
		if (ms_virtio_mem__memslot_active(d, i) != md->active[i]) {
			TH_LOG("step %d: memslot %u active %d, model %d", step, i,
			       ms_virtio_mem__memslot_active(d, i), md->active[i]);
			ok = false;
		}
	}
	if (vs.plugged_size != md->plugged || vs.requested_size != md->requested ||
	    vs.usable_region_size != md->usable || vs.active_memslots != active ||
	    vs.nr_memslots != md->n) {
		TH_LOG("step %d: status plugged 0x%" PRIx64 " requested 0x%" PRIx64 " usable 0x%"
		       PRIx64 " active %u n %u; model 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64
		       " %u %u", step, vs.plugged_size, vs.requested_size, vs.usable_region_size,
		       vs.active_memslots, vs.nr_memslots, md->plugged, md->requested, md->usable,
		       active, md->n);
		ok = false;
	}
	if (st.used_memslots != active || st.required_memslots != md->n ||
	    st.reserved_memslots != md->n - active || st.plugged_size != md->plugged) {
		TH_LOG("step %d: stats used %u required %u reserved %u plugged 0x%" PRIx64
		       "; model used %u required %u reserved %u plugged 0x%" PRIx64, step,
		       st.used_memslots, st.required_memslots, st.reserved_memslots,
		       st.plugged_size, active, md->n, md->n - active, md->plugged);
		ok = false;
	}
	want = expected_ranges(addr, md->region, md->ms, md->n, md->active, true);
	got = fv_of_region(ms_as__flatview(ms_machine__memory_as(m)), mr);
	if (!want || !got || strcmp(want, got)) {
		TH_LOG("step %d: flat view of memory:\n%s\nmodel:\n%s", step, got, want);
		ok = false;
	}
	free(want);
	free(got);
	/* the device-memory address space has the same ranges at absolute addresses */
	want = expected_ranges(addr, md->region, md->ms, md->n, md->active, true);
	got = dmas ? fv_of_region(ms_as__flatview(dmas), mr) : NULL;
	if (!want || !got || strcmp(want, got)) {
		TH_LOG("step %d: flat view of device-memory:\n%s\nmodel:\n%s", step, got, want);
		ok = false;
	}
	free(want);
	free(got);
	want = expected_ranges(addr, md->region, md->ms, md->n, md->active, false);
	got = kvm_of_region(m, mr);
	if (!want || !got || strcmp(want, got)) {
		TH_LOG("step %d: KVM slots:\n%s\nmodel:\n%s", step, got, want);
		ok = false;
	}
	free(want);
	free(got);
	return ok;
}

/*
 * Rules 8.6-8.8 and 10.5-10.8 over random request sequences: after each
 * step, used memslots == memslots with a plugged block, exactly those
 * memslot-<i> ranges in the flat view and the KVM table, reserved ==
 * required - used.
 */
TEST_F(rnd, rule_10_random)
{
	const struct rvariant_cfg *cfg = &variant->cfg;
	uint64_t seed = seed_from_env(), s, addr;
	struct ms_backend *b;
	struct ms_memdev *d;
	const struct ms_region *mr;
	struct ms_virtio_mem_status vs;
	struct model md;
	int counts[5] = { 0 }, acks = 0;
	uint32_t max_active = 0;

	TH_LOG("seed %" PRIu64 " (MEMSLOT_SEED overrides)", seed);
	s = seed;
	PC_HOT(cfg->hotpluggable);
	if (cfg->vhost_user_8)
		ASSERT_EQ(0, ms_machine__add_vhost(self->m, "vhost-user", 8, true, NULL));
	b = BACKEND("vm0", cfg->region);
	/*
	 * At 1 GiB into device memory, not at its start: with the only device
	 * at offset 0, rule 7.3 would select a root below "device-memory" and
	 * that address space's ranges would not be absolute (rule 3.3).
	 */
	addr = 0x140000000ull + GiB;
	d = ADD_OK(VMEM("vmem0", b, .block_size = cfg->block, .dynamic_memslots = true,
			.addr = addr));
	mr = ms_backend__region(b);
	ASSERT_EQ(addr, addr_of(d));
	vs = STATUS(d);
	ASSERT_EQ(cfg->n, vs.nr_memslots);
	ASSERT_EQ(cfg->ms, vs.memslot_size);
	EXPECT_EQ(cfg->n > 1 ? 1 : 0, devmem_stats(self->m).auto_decision_active);

	memset(&md, 0, sizeof(md));
	md.region = cfg->region;
	md.block = cfg->block;
	md.ms = cfg->ms;
	md.n = cfg->n;
	md.nblocks = cfg->region / cfg->block;
	md.bm = calloc(md.nblocks, 1);
	md.cnt = calloc(md.n, sizeof(*md.cnt));
	md.active = calloc(md.n, sizeof(*md.active));
	ASSERT_TRUE(md.bm && md.cnt && md.active);
	ASSERT_TRUE(check_model(_metadata, self->m, d, mr, &md, addr, 0));

	for (int step = 1; step <= cfg->steps; step++) {
		uint64_t r = rnd_below(&s, 100), ublocks = md.usable / md.block, off, size;
		uint64_t mblocks = md.ms / md.block ? md.ms / md.block : 1;
		int got, want;
		bool either = false;

		if (r < 8) {
			/* requested-size: mostly valid, sometimes too big or misaligned */
			uint64_t req = rnd_below(&s, md.nblocks + 1) * md.block;
			int ret;

			if (r == 0)
				req = md.region + md.block;
			else if (r == 1 && md.block > MiB)
				req += MiB;
			ret = ms_virtio_mem__set_requested_size(d, req, NULL);
			if (req > md.region || req % md.block) {
				EXPECT_EQ(-EINVAL, ret);
			} else {
				EXPECT_EQ(0, ret);
				md.requested = req;
				model_usable(&md, false);
			}
			counts[0]++;
		} else if (r < 11) {
			got = ms_virtio_mem__unplug_all(d);
			EXPECT_EQ(ACK, got);
			model_set(&md, 0, md.region, false);
			model_usable(&md, true);
			counts[1]++;
		} else if (r < 60) {
			/* PLUG: small, up to a memslot, or across memslots */
			uint64_t len = r < 35 ? 1 + rnd_below(&s, 4) :
				       r < 50 ? 1 + rnd_below(&s, mblocks) :
						1 + rnd_below(&s, 3 * mblocks);

			off = rnd_below(&s, ublocks + 1) * md.block;
			size = len * md.block;
			if (rnd_below(&s, 50) == 0)
				off += md.block / 2;	/* misaligned */
			want = model_plug(&md, off, size, &either);
			got = ms_virtio_mem__plug(d, off, size);
			if (either && (got == NACK || got == ERROR))
				want = got;
			EXPECT_EQ(want, got) {
				TH_LOG("step %d: PLUG 0x%" PRIx64 "+0x%" PRIx64, step, off, size);
			}
			acks += got == ACK;
			counts[2]++;
		} else if (r < 95) {
			/* UNPLUG: mostly a run of plugged blocks */
			uint64_t start = rnd_below(&s, md.nblocks), bl = start, len;

			while (bl < md.nblocks && !md.bm[bl])
				bl++;
			if (bl == md.nblocks)
				bl = start;
			len = 1 + rnd_below(&s, r < 85 ? 4 : 2 * mblocks);
			if (r >= 90) {
				/* the whole run */
				len = 0;
				while (bl + len < md.nblocks && md.bm[bl + len])
					len++;
				if (!len)
					len = 1;
			}
			off = bl * md.block;
			size = len * md.block;
			want = model_unplug(&md, off, size);
			got = ms_virtio_mem__unplug(d, off, size);
			EXPECT_EQ(want, got) {
				TH_LOG("step %d: UNPLUG 0x%" PRIx64 "+0x%" PRIx64, step, off, size);
			}
			acks += got == ACK;
			counts[3]++;
		} else {
			off = rnd_below(&s, ublocks + 1) * md.block;
			size = (1 + rnd_below(&s, 2 * mblocks)) * md.block;
			want = model_state(&md, off, size);
			got = ms_virtio_mem__state(d, off, size);
			EXPECT_EQ(want, got) {
				TH_LOG("step %d: STATE 0x%" PRIx64 "+0x%" PRIx64, step, off, size);
			}
			counts[4]++;
		}
		if (!check_model(_metadata, self->m, d, mr, &md, addr, step) ||
		    (step % 25 == 0 && !check_mtree(_metadata, self->m, &md, step))) {
			_metadata->exit_code = KSFT_FAIL;
			break;
		}
		{
			uint32_t a = 0;

			for (uint32_t i = 0; i < md.n; i++)
				a += md.active[i];
			if (a > max_active)
				max_active = a;
		}
		if (_metadata->exit_code == KSFT_FAIL) {
			TH_LOG("step %d: stopping after the first difference (seed %" PRIu64 ")",
			       step, seed);
			break;
		}
	}
	TH_LOG("steps: %d requested-size, %d unplug_all, %d plug, %d unplug, %d state; %d ACKs; "
	       "at most %u of %u memslots active", counts[0], counts[1], counts[2], counts[3],
	       counts[4], acks, max_active, md.n);
	/* the sequence must have reached several memslots at once */
	EXPECT_LE(md.n > 2 ? 2 : md.n, max_active);
	free(md.bm);
	free(md.cnt);
	free(md.active);
}

TEST_HARNESS_MAIN
