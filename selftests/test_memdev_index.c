// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Random device_add / device_del sequences checked against a brute-force
 * model of memory-devices.md: the free-address scan of rule 5.5 done as
 * QEMU does it (every device, sorted by address, one after the other), the
 * lowest free DIMM slot of rule 5.4, the device list order of rule 12.2,
 * lookups by id and the accounting of rules 5.6 and 12.1.
 *
 * The library keeps these in an address tree, hash tables and running
 * totals; the model recomputes everything from its flat device array after
 * every step. Devices: pc-dimms on anonymous and file backends (2 MiB to
 * 1 GiB alignment), virtio-pmem, virtio-mem (whose plugged size changes
 * with block requests), custom devices with their own minimum alignment
 * and plugged size, and empty custom devices (listed, never scanned).
 * Addresses are assigned or hinted (aligned, unaligned, out of range, on
 * another device); slots are automatic or requested.
 *
 * MEMSLOT_SEED=<n> replaces the variants' seeds, MEMSLOT_OPS=<n> the
 * number of steps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define MAX_DEVS	48
#define BLOCK		(2 * MiB)

enum kind { K_DIMM, K_PMEM, K_VMEM, K_CUSTOM, K_EMPTY };

/* A custom device: the memory-device interface over plain fields. */
struct cdev {
	uint64_t addr, min_align, plugged;
	struct ms_region *mr;		/* NULL: empty device */
};

static uint64_t c_get_addr(void *opaque)
{
	return ((struct cdev *)opaque)->addr;
}

static void c_set_addr(void *opaque, uint64_t addr)
{
	((struct cdev *)opaque)->addr = addr;
}

static uint64_t c_get_plugged_size(void *opaque)
{
	return ((struct cdev *)opaque)->plugged;
}

static struct ms_region *c_get_memory_region(void *opaque, struct ms_error *err)
{
	(void)err;
	return ((struct cdev *)opaque)->mr;
}

static uint64_t c_get_min_alignment(void *opaque)
{
	return ((struct cdev *)opaque)->min_align;
}

static const struct ms_memdev_ops cdev_ops = {
	.get_addr = c_get_addr,
	.set_addr = c_set_addr,
	.get_plugged_size = c_get_plugged_size,
	.get_memory_region = c_get_memory_region,
	.get_min_alignment = c_get_min_alignment,
};

/* The model's view of one device. */
struct mdev {
	bool present;
	enum kind kind;
	char id[16];			/* "" for none */
	uint64_t addr, size;		/* size 0: empty, never scanned */
	int slot;
	uint64_t seq;			/* plug order */
	uint8_t blocks[512];		/* virtio-mem: plugged 2 MiB blocks */
	struct ms_memdev *d;
	struct cdev c;
};

FIXTURE(idx) {
	struct ms_ctx *ctx;
	struct ms_machine *m;
	struct ms_machine_layout l;
	uint64_t slots;
	struct mdev dev[MAX_DEVS];
	uint64_t seq, rng;
	int nbackends;
	unsigned int adds, add_errors, dels, hinted, fragmented;
	ms_print_fn_t old_print;
};

FIXTURE_VARIANT(idx) {
	enum ms_machine_type type;
	uint64_t ram, maxmem, slots, seed;
	bool fragments;			/* first fit must fail now and then */
};

/* q35 -m 2G,slots=8,maxmem=10G: 16 GiB of device memory at 4 GiB, 8 GiB usable */
FIXTURE_VARIANT_ADD(idx, q35_8_slots) {
	.type = MS_MACHINE_Q35, .ram = 2 * GiB, .maxmem = 10 * GiB, .slots = 8, .seed = 1,
};

/* pc -m 4G,slots=256,maxmem=20G: 272 GiB at 5 GiB, 16 GiB usable */
FIXTURE_VARIANT_ADD(idx, pc_256_slots) {
	.type = MS_MACHINE_PC, .ram = 4 * GiB, .maxmem = 20 * GiB, .slots = 256, .seed = 2,
};

/* q35 -m 2G,slots=2,maxmem=6G: 6 GiB, 4 GiB usable; fragmentation is frequent */
FIXTURE_VARIANT_ADD(idx, q35_tight) {
	.type = MS_MACHINE_Q35, .ram = 2 * GiB, .maxmem = 6 * GiB, .slots = 2, .seed = 3,
	.fragments = true,
};

FIXTURE_SETUP(idx)
{
	struct ms_error err = { 0 };
	struct ms_machine_opts o = {
		.sz = sizeof(o), .type = variant->type, .ram_size = variant->ram,
		.slots = variant->slots, .maxmem = variant->maxmem, .kvm_memslots = 32764,
		.page_size = 4096,
	};
	const char *seed = getenv("MEMSLOT_SEED");

	memset(self->dev, 0, sizeof(self->dev));
	self->old_print = ms_set_print(warn_capture);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->m = ms_machine__new(self->ctx, &o, &err);
	ASSERT_NE(NULL, self->m) {
		TH_LOG("ms_machine__new: %s", err.msg);
	}
	ms_machine__layout(self->m, &self->l);
	self->slots = variant->slots;
	self->rng = seed && *seed ? strtoull(seed, NULL, 0) : variant->seed;
	self->rng = self->rng * 0x9e3779b97f4a7c15ull | 1;
	TH_LOG("seed %llu", (unsigned long long)(seed && *seed ? strtoull(seed, NULL, 0) :
						 variant->seed));
}

FIXTURE_TEARDOWN(idx)
{
	ms_machine__free(self->m);
	ms_ctx__free(self->ctx);
	ms_set_print(self->old_print);
	warn_clear();
	EXPECT_NO_LEAKS();
}

static uint64_t rnd(FIXTURE_DATA(idx) *self, uint64_t n)
{
	self->rng ^= self->rng << 13;
	self->rng ^= self->rng >> 7;
	self->rng ^= self->rng << 17;
	return n ? self->rng % n : 0;
}

static bool overlaps(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return asize && bsize && a <= b + bsize - 1 && b <= a + asize - 1;
}

/* present devices in list order: by address, then plug order (rule 12.2) */
static int sorted(FIXTURE_DATA(idx) *self, struct mdev **out)
{
	int n = 0;

	for (int i = 0; i < MAX_DEVS; i++) {
		struct mdev *d = &self->dev[i];
		int j;

		if (!d->present)
			continue;
		for (j = n; j > 0 && (out[j - 1]->addr > d->addr ||
				      (out[j - 1]->addr == d->addr && out[j - 1]->seq > d->seq)); j--)
			out[j] = out[j - 1];
		out[j] = d;
		n++;
	}
	return n;
}

static uint64_t round_up(uint64_t v, uint64_t a, bool *overflow)
{
	unsigned __int128 r = ((unsigned __int128)v + a - 1) / a * a;

	*overflow = r > UINT64_MAX;
	return (uint64_t)r;
}

/*
 * Rule 5.5 as QEMU's memory_device_get_free_addr() runs it. Returns the
 * address, or writes the error text to @msg and returns 0.
 */
static uint64_t model_free_addr(FIXTURE_DATA(idx) *self, uint64_t hint, uint64_t align,
				uint64_t size, char *msg, size_t len)
{
	uint64_t base = self->l.devmem_base, dsize = self->l.devmem_size;
	struct mdev *s[MAX_DEVS];
	int n = sorted(self, s);
	uint64_t cand;
	bool ovf, empty = false;

	if (hint && hint % align) {
		snprintf(msg, len, "address must be aligned to 0x%" PRIx64 " bytes", align);
		return 0;
	}
	if (hint) {
		if (hint + size <= hint || hint < base || hint + size - 1 > base + dsize - 1) {
			snprintf(msg, len, "can't add memory device [0x%" PRIx64 ":0x%" PRIx64
				 "], usable range for memory devices [0x%" PRIx64 ":0x%" PRIx64 "]",
				 hint, size, base, dsize);
			return 0;
		}
		cand = hint;
	} else {
		cand = round_up(base, align, &ovf);
		if (ovf || cand + size < cand) {
			snprintf(msg, len, "can't add memory device, device too big");
			return 0;
		}
	}
	for (int i = 0; i < n && !empty; i++) {
		if (!s[i]->size)
			continue;
		if (overlaps(s[i]->addr, s[i]->size, cand, size)) {
			if (hint) {
				snprintf(msg, len, "address range conflicts with memory device id='%s'",
					 s[i]->id[0] ? s[i]->id : "(unnamed)");
				return 0;
			}
			cand = s[i]->addr + s[i]->size == 0 ? 0 :
			       round_up(s[i]->addr + s[i]->size, align, &ovf);
			empty = !cand || ovf || cand + size <= cand;
		} else if (s[i]->addr > cand + size - 1) {
			break;
		}
	}
	if (empty || !size || cand < base || cand + size - 1 > base + dsize - 1) {
		snprintf(msg, len, "could not find position in guest address space for memory "
			 "device - memory fragmented due to alignments");
		self->fragmented++;
		return 0;
	}
	return cand;
}

static uint64_t used_region(FIXTURE_DATA(idx) *self)
{
	uint64_t used = 0;

	for (int i = 0; i < MAX_DEVS; i++)
		if (self->dev[i].present)
			used += self->dev[i].size;
	return used;
}

static int count(FIXTURE_DATA(idx) *self, enum kind kind)
{
	int n = 0;

	for (int i = 0; i < MAX_DEVS; i++)
		n += self->dev[i].present && self->dev[i].kind == kind;
	return n;
}

static uint64_t vmem_plugged(const struct mdev *d)
{
	uint64_t n = 0;

	for (uint64_t b = 0; b < d->size / BLOCK; b++)
		n += d->blocks[b];
	return n * BLOCK;
}

/* rule 5.4: the lowest slot no present DIMM has, or -1 */
static int model_free_slot(FIXTURE_DATA(idx) *self, int want)
{
	for (int s = want < 0 ? 0 : want; s < (int)self->slots; s++) {
		bool busy = false;

		for (int i = 0; i < MAX_DEVS; i++)
			busy |= self->dev[i].present && self->dev[i].kind == K_DIMM &&
				self->dev[i].slot == s;
		if (!busy || want >= 0)
			return busy ? -2 : s;
	}
	return -1;
}

static int list_cb(struct ms_memdev *dev, void *opaque)
{
	struct ms_memdev ***p = opaque;

	*(*p)++ = dev;
	return 0;
}

/* Everything the library keeps incrementally, against the model. */
static void check_state(struct __test_metadata *_metadata, FIXTURE_DATA(idx) *self, int step)
{
	struct ms_memdev *list[MAX_DEVS + 1], **p = list;
	struct mdev *s[MAX_DEVS];
	int n = sorted(self, s);
	struct ms_devmem_stats st;
	uint64_t plugged = 0, dimm = 0;
	char id[16];

	ms_machine__for_each_device(self->m, list_cb, &p);
	ASSERT_EQ(n, p - list) {
		TH_LOG("step %d: %d devices listed, model has %d", step, (int)(p - list), n);
	}
	for (int i = 0; i < n; i++) {
		struct ms_memdev_info info;

		ASSERT_EQ(s[i]->d, list[i]) {
			TH_LOG("step %d: list position %d is not %s at 0x%" PRIx64, step, i,
			       s[i]->id, s[i]->addr);
		}
		ms_memdev__info(list[i], &info);
		EXPECT_EQ(s[i]->addr, info.addr);
		if (s[i]->kind == K_DIMM) {
			EXPECT_EQ(s[i]->slot, info.slot);
			dimm += s[i]->size;
		}
		if (s[i]->kind == K_VMEM)
			plugged += vmem_plugged(s[i]);
		else if (s[i]->kind == K_CUSTOM)
			plugged += s[i]->c.plugged;
		else if (s[i]->kind != K_EMPTY)
			plugged += s[i]->size;
	}
	ms_machine__devmem_stats(self->m, &st);
	EXPECT_EQ(used_region(self), st.used_region_size) {
		TH_LOG("step %d", step);
	}
	EXPECT_EQ(plugged, st.plugged_size) {
		TH_LOG("step %d", step);
	}
	EXPECT_EQ(dimm, st.dimm_size);
	/* lookups: every id that was ever used, present or not */
	for (int i = 0; i < MAX_DEVS; i++) {
		struct mdev *d = &self->dev[i];

		snprintf(id, sizeof(id), "dev%d", i);
		EXPECT_EQ(d->present && d->id[0] ? d->d : NULL, ms_machine__find_device(self->m, id));
	}
	if (self->nbackends) {
		snprintf(id, sizeof(id), "b%d", self->nbackends - 1);
		EXPECT_NE(NULL, ms_machine__find_backend(self->m, id));
	}
	snprintf(id, sizeof(id), "b%d", self->nbackends);
	EXPECT_EQ(NULL, ms_machine__find_backend(self->m, id));
}

static struct ms_backend *backend(struct __test_metadata *_metadata, FIXTURE_DATA(idx) *self,
				  uint64_t size, uint64_t align)
{
	struct ms_backend_opts o = {
		.sz = sizeof(o), .kind = align ? MS_BACKEND_FILE : MS_BACKEND_RAM,
		.size = size, .no_memory = true, .mem_path = "/nonexistent", .align = align,
	};
	struct ms_error err = { 0 };
	struct ms_backend *b;
	char id[16];

	snprintf(id, sizeof(id), "b%d", self->nbackends++);
	o.id = id;
	b = ms_machine__add_backend(self->m, &o, &err);
	EXPECT_NE(NULL, b) {
		TH_LOG("backend %s: %s", id, err.msg);
	}
	return b;
}

static const uint64_t sizes[] = { 2 * MiB, 4 * MiB, 6 * MiB, 16 * MiB, 64 * MiB, 128 * MiB,
				  256 * MiB, 512 * MiB, GiB };
static const uint64_t file_aligns[] = { 0, 0, 4096, 2 * MiB, 64 * MiB, GiB };
static const uint64_t min_aligns[] = { 0, 4096, MiB, 128 * MiB, GiB };

/* a hint: none mostly, else aligned, on a device, unaligned or out of range */
static uint64_t pick_hint(FIXTURE_DATA(idx) *self, uint64_t align)
{
	uint64_t base = self->l.devmem_base, span = self->l.devmem_size;
	int i;

	switch (rnd(self, 12)) {
	case 0:
	case 1:
		return (base + rnd(self, span)) / align * align;
	case 2:
		i = (int)rnd(self, MAX_DEVS);
		return self->dev[i].present ? self->dev[i].addr : base;
	case 3:
		return base + rnd(self, span) + 4096;
	case 4:
		return rnd(self, 2) ? base + span : -4 * GiB;
	default:
		return 0;
	}
}

static void step_add(struct __test_metadata *_metadata, FIXTURE_DATA(idx) *self, int step,
		     struct mdev *d)
{
	int k = (int)rnd(self, 10);
	enum kind kind = k < 5 ? K_DIMM : k < 6 ? K_PMEM : k < 7 ? K_VMEM : k < 9 ? K_CUSTOM :
			 K_EMPTY;
	uint64_t size = sizes[rnd(self, ARRAY_SIZE(sizes))], falign = 0, min_align = 0;
	uint64_t ralign, align, hint, addr = 0;
	struct ms_error err = { 0 };
	struct ms_memdev *dev;
	struct ms_backend *b = NULL;
	char want[256] = "";
	int slot = MS_MEMDEV_SLOT_AUTO, dup = -1;

	/* virtio-pmem cannot be unplugged: a few at most */
	if (kind == K_PMEM && count(self, K_PMEM) >= 2)
		kind = K_DIMM;
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->slot = -1;
	if (rnd(self, 8))
		snprintf(d->id, sizeof(d->id), "dev%d", (int)(d - self->dev));
	/* now and then an id that is taken */
	if (rnd(self, 16) == 0) {
		dup = (int)rnd(self, MAX_DEVS);
		if (self->dev[dup].present && self->dev[dup].id[0])
			strcpy(d->id, self->dev[dup].id);
		else
			dup = -1;
	}
	if (kind == K_DIMM) {
		falign = file_aligns[rnd(self, ARRAY_SIZE(file_aligns))];
		if (rnd(self, 5) == 0)
			slot = (int)rnd(self, self->slots + 3) - 2;
	}
	if (kind == K_CUSTOM || kind == K_EMPTY)
		min_align = min_aligns[rnd(self, ARRAY_SIZE(min_aligns))];
	if (kind != K_EMPTY) {
		b = backend(_metadata, self, size, falign);
		ASSERT_NE(NULL, b);
	}
	ralign = !b ? 0 : falign > 4096 ? falign : falign ? 4096 : 2 * MiB;
	align = min_align > ralign ? min_align : ralign;
	if (kind == K_VMEM && align < BLOCK)
		align = BLOCK;
	hint = kind == K_EMPTY ? rnd(self, 64) * GiB : pick_hint(self, align ? align : 1);

	/* the model: device_add's checks in QEMU's order */
	if (dup >= 0) {
		snprintf(want, sizeof(want), "Duplicate ID '%s' for device", d->id);
	} else if (kind == K_DIMM && slot != MS_MEMDEV_SLOT_AUTO &&
		   (slot < 0 || (uint64_t)slot >= self->slots)) {
		snprintf(want, sizeof(want), "invalid slot number %d, valid range is [0-%" PRIu64
			 "]", slot, self->slots - 1);
	} else if (kind == K_DIMM && (d->slot = model_free_slot(self, slot)) < 0) {
		if (d->slot == -2)
			snprintf(want, sizeof(want), "slot %d is busy", slot);
		else
			snprintf(want, sizeof(want), "no free slots available");
	} else if (kind == K_EMPTY) {
		addr = hint;
	} else if (used_region(self) + size > self->l.hotpluggable) {
		snprintf(want, sizeof(want), "not enough space, currently 0x%" PRIx64 " in use of "
			 "total space for memory devices 0x%" PRIx64, used_region(self),
			 self->l.hotpluggable);
	} else if (ralign && size % ralign) {
		snprintf(want, sizeof(want), "backend memory size must be multiple of 0x%" PRIx64,
			 ralign);
	} else {
		addr = model_free_addr(self, hint, align ? align : 1, size, want, sizeof(want));
	}

	/* the library */
	if (kind == K_CUSTOM || kind == K_EMPTY) {
		d->c.addr = hint;
		d->c.min_align = min_align;
		d->c.mr = b ? ms_backend__region(b) : NULL;
		d->c.plugged = kind == K_CUSTOM ? rnd(self, 4) * MiB : 5 * GiB;
		dev = ms_machine__device_add_custom(self->m, d->id[0] ? d->id : NULL, &cdev_ops,
						    &d->c, &err);
	} else {
		struct ms_memdev_opts o = {
			.sz = sizeof(o), .id = d->id[0] ? d->id : NULL, .memdev = b, .addr = hint,
			.slot = slot, .unplugged_inaccessible = MS_ON,
		};

		o.type = kind == K_DIMM ? MS_MEMDEV_DIMM : kind == K_PMEM ? MS_MEMDEV_VIRTIO_PMEM :
			 MS_MEMDEV_VIRTIO_MEM;
		if (kind == K_VMEM) {
			o.block_size = BLOCK;
			o.requested_size = size;
		}
		dev = ms_machine__device_add(self->m, &o, &err);
	}
	self->adds++;
	self->hinted += hint != 0;
	if (want[0]) {
		self->add_errors++;
		EXPECT_EQ(NULL, dev);
		EXPECT_STREQ(want, err.msg) {
			TH_LOG("step %d: %s of 0x%" PRIx64 " align 0x%" PRIx64 " hint 0x%" PRIx64,
			       step, d->id, size, align, hint);
		}
		memset(d, 0, sizeof(*d));
		return;
	}
	ASSERT_NE(NULL, dev) {
		TH_LOG("step %d: %s of 0x%" PRIx64 " align 0x%" PRIx64 " hint 0x%" PRIx64
		       ": %s (expected 0x%" PRIx64 ")", step, d->id, size, align, hint, err.msg,
		       addr);
	}
	d->present = true;
	d->d = dev;
	d->addr = addr;
	d->size = kind == K_EMPTY ? 0 : size;
	d->seq = ++self->seq;
}

static void step_del(struct __test_metadata *_metadata, FIXTURE_DATA(idx) *self, struct mdev *d)
{
	struct ms_error err = { 0 };
	int ret;

	if (d->kind == K_VMEM) {
		/* rule 10.11: nothing plugged and nothing requested */
		EXPECT_EQ(MS_VIRTIO_MEM_ACK, ms_virtio_mem__unplug_all(d->d));
		EXPECT_EQ(0, ms_virtio_mem__set_requested_size(d->d, 0, NULL));
		memset(d->blocks, 0, sizeof(d->blocks));
	}
	ret = ms_machine__device_del(self->m, d->d, &err);
	if (d->kind == K_PMEM) {
		EXPECT_STREQ("this virtio based memory devices cannot be unplugged", err.msg);
		EXPECT_GT(0, ret);
		return;
	}
	ASSERT_EQ(0, ret) {
		TH_LOG("device_del(%s): %s", d->id, err.msg);
	}
	self->dels++;
	memset(d, 0, sizeof(*d));
}

/* a virtio-mem block request, or a custom device's plugged size changing */
static void step_resize(struct __test_metadata *_metadata, FIXTURE_DATA(idx) *self, struct mdev *d)
{
	if (d->kind == K_CUSTOM) {
		d->c.plugged = rnd(self, 64) * MiB;
	} else if (d->kind == K_VMEM) {
		uint64_t nb = d->size / BLOCK, first = rnd(self, nb), n = 1 + rnd(self, nb - first);
		bool plug = rnd(self, 2), all = true;
		int resp;

		for (uint64_t i = first; i < first + n; i++)
			all &= d->blocks[i] == !plug;
		resp = plug ? ms_virtio_mem__plug(d->d, first * BLOCK, n * BLOCK) :
			      ms_virtio_mem__unplug(d->d, first * BLOCK, n * BLOCK);
		/* rule 8.8: beyond the requested size is a NACK, checked first */
		if (plug && vmem_plugged(d) + n * BLOCK > d->size) {
			EXPECT_EQ(MS_VIRTIO_MEM_NACK, resp);
		} else {
			EXPECT_EQ(all ? MS_VIRTIO_MEM_ACK : MS_VIRTIO_MEM_ERROR, resp);
		}
		if (resp == MS_VIRTIO_MEM_ACK)
			memset(d->blocks + first, plug, n);
	}
}

TEST_F(idx, random_plug_unplug)
{
	const char *ops = getenv("MEMSLOT_OPS");
	int steps = ops && *ops ? atoi(ops) : 3000;

	for (int step = 0; step < steps; step++) {
		struct mdev *d = &self->dev[rnd(self, MAX_DEVS)];
		int what = (int)rnd(self, 10);

		if (!d->present)
			step_add(_metadata, self, step, d);
		else if (what < 4)
			step_del(_metadata, self, d);
		else
			step_resize(_metadata, self, d);
		check_state(_metadata, self, step);
		if (_metadata->exit_code)
			break;
	}
	TH_LOG("%u adds (%u refused, %u with a hint, %u fragmented), %u dels", self->adds,
	       self->add_errors, self->hinted, self->fragmented, self->dels);
	if (variant->fragments)
		EXPECT_LT(0, self->fragmented);
}

/*
 * Plugging in a full row and unplugging every other device leaves holes
 * that first fit must reuse lowest first, and the lowest free slot with
 * them (rule 5.5 step 8, rule 5.4).
 */
TEST(holes_reused_lowest_first)
{
	struct ms_machine_opts mo = {
		.sz = sizeof(mo), .type = MS_MACHINE_Q35, .ram_size = 2 * GiB, .slots = 8,
		.maxmem = 10 * GiB, .kvm_memslots = 32764, .page_size = 4096,
	};
	struct ms_memdev_opts o = { .sz = sizeof(o), .type = MS_MEMDEV_DIMM,
				    .slot = MS_MEMDEV_SLOT_AUTO };
	struct ms_backend_opts bo = { .sz = sizeof(bo), .kind = MS_BACKEND_RAM,
				      .size = 256 * MiB, .no_memory = true };
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_machine *m = ms_machine__new(ctx, &mo, NULL);
	struct ms_machine_layout l;
	struct ms_memdev_info info;
	struct ms_memdev *dev[8];
	char id[16];
	int nb = 0;

	ASSERT_NE(NULL, m);
	ms_machine__layout(m, &l);
#define PLUG(i, bytes) do {								\
	snprintf(id, sizeof(id), "b%d", nb++);						\
	bo.id = id;									\
	bo.size = (bytes);								\
	o.memdev = ms_machine__add_backend(m, &bo, NULL);				\
	ASSERT_NE(NULL, o.memdev);							\
	dev[i] = ms_machine__device_add(m, &o, NULL);					\
	ASSERT_NE(NULL, dev[i]);							\
	ms_memdev__info(dev[i], &info);							\
} while (0)
	for (int i = 0; i < 8; i++) {
		PLUG(i, 256 * MiB);
		EXPECT_EQ(l.devmem_base + i * 256 * MiB, info.addr);
		EXPECT_EQ(i, info.slot);
	}
	for (int i = 6; i >= 0; i -= 2)
		ASSERT_EQ(0, ms_machine__device_del(m, dev[i], NULL));
	for (int i = 0; i < 8; i += 2) {
		PLUG(i, 256 * MiB);
		EXPECT_EQ(l.devmem_base + i * 256 * MiB, info.addr);
		EXPECT_EQ(i, info.slot);
	}
	/* a bigger device skips the 256 MiB holes */
	ASSERT_EQ(0, ms_machine__device_del(m, dev[2], NULL));
	ASSERT_EQ(0, ms_machine__device_del(m, dev[5], NULL));
	PLUG(2, 512 * MiB);
	EXPECT_EQ(l.devmem_base + 8 * 256 * MiB, info.addr);
	EXPECT_EQ(2, info.slot);
	PLUG(5, 256 * MiB);
	EXPECT_EQ(l.devmem_base + 2 * 256 * MiB, info.addr);
	EXPECT_EQ(5, info.slot);
#undef PLUG
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

TEST_HARNESS_MAIN
