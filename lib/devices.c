// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The built-in memory device models: pc-dimm, nvdimm, virtio-pmem and
 * virtio-mem (memory-devices.md rules 1, 5.1, 5.4, 8, 10, 11, 12).
 *
 * Each model fills the memory-device interface (&struct ms_memdev_ops,
 * rule 1.1) with @opaque = the device, and the model hooks that memdev.c
 * calls in QEMU's order (see memdev_internal.h). Error texts are QEMU's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memdev_internal.h"

#define KiB	(1ULL << 10)
#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* nvdimm.c: MIN_NAMESPACE_LABEL_SIZE */
#define NVDIMM_MIN_LABEL_SIZE		(128 * KiB)

/* memory-devices.md 2.2 (x86 target) */
#define VIRTIO_MEM_MIN_BLOCK_SIZE	MiB
#define VIRTIO_MEM_MIN_MEMSLOT_SIZE	GiB
#define VIRTIO_MEM_USABLE_EXTENT	(2 * 128 * MiB)

#define THP_PATH		"/sys/kernel/mm/transparent_hugepage/"
#define THP_PMD_SIZE_PATH	THP_PATH "hpage_pmd_size"

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

const char *ms_memdev_type_name(enum ms_memdev_type type)
{
	switch (type) {
	case MS_MEMDEV_DIMM:
		return "dimm";
	case MS_MEMDEV_NVDIMM:
		return "nvdimm";
	case MS_MEMDEV_VIRTIO_PMEM:
		return "virtio-pmem";
	case MS_MEMDEV_VIRTIO_MEM:
		return "virtio-mem";
	case MS_MEMDEV_CUSTOM:
		break;
	}
	return "custom";
}

/*
 * Host RAM of a backend (QEMU's ram_block_discard_range): shared memory is
 * freed with a hole punch (fd) or MADV_REMOVE, private memory with
 * MADV_DONTNEED. Described-only backends have no host memory.
 */
static int ram_discard(const struct ms_backend *b, uint64_t off, uint64_t len)
{
	const struct ms_region *mr = b->mr;
	uint64_t limit = mr->host_limit > UINT64_MAX ? UINT64_MAX : (uint64_t)mr->host_limit;
	char *host = mr->host;

	if (!host || off >= limit)
		return 0;
	len = min_u64(len, limit - off);
	if (mr->fd >= 0) {
		if (fallocate(mr->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len))
			return -errno;
		return 0;
	}
	if (madvise(host + off, len, b->share ? MADV_REMOVE : MADV_DONTNEED))
		return -errno;
	return 0;
}

/* QEMU's qemu_prealloc_mem for a plugged range of a prealloc=on device */
static int ram_prealloc(const struct ms_backend *b, uint64_t off, uint64_t len)
{
	const struct ms_region *mr = b->mr;
	uint64_t limit = mr->host_limit > UINT64_MAX ? UINT64_MAX : (uint64_t)mr->host_limit;
	uint64_t page = b->page_size ? b->page_size : 4096;
	volatile char *host = mr->host;
	uint64_t i;

	if (!host || off >= limit)
		return 0;
	len = min_u64(len, limit - off);
	if (!madvise((char *)host + off, len, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* kernels before 5.14: touch every page */
	for (i = 0; i < len; i += page)
		host[off + i] = host[off + i];
	return 0;
}

/* bitmap helpers: word at a time, so a range costs O(range / 64) */

static bool bit_test(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static uint64_t word_mask(uint64_t lo, uint64_t hi)
{
	/* bits [lo, hi) of one word, 0 <= lo < hi <= 64 */
	uint64_t m = hi == 64 ? ~0ULL : (1ULL << hi) - 1;

	return m & ~((1ULL << lo) - 1);
}

static void bits_assign(uint64_t *map, uint64_t start, uint64_t n, bool set)
{
	uint64_t end = start + n;

	while (start < end) {
		uint64_t w = start / 64, lo = start % 64;
		uint64_t hi = min_u64(64, lo + (end - start));
		uint64_t m = word_mask(lo, hi);

		if (set)
			map[w] |= m;
		else
			map[w] &= ~m;
		start += hi - lo;
	}
}

/* every bit of [start, start + n) equals @set */
static bool bits_all(const uint64_t *map, uint64_t start, uint64_t n, bool set)
{
	uint64_t end = start + n;

	while (start < end) {
		uint64_t w = start / 64, lo = start % 64;
		uint64_t hi = min_u64(64, lo + (end - start));
		uint64_t m = word_mask(lo, hi);
		uint64_t v = set ? ~map[w] : map[w];

		if (v & m)
			return false;
		start += hi - lo;
	}
	return true;
}

/* first index >= @start in [start, nbits) whose bit equals @set, or nbits */
static uint64_t bits_find(const uint64_t *map, uint64_t nbits, uint64_t start, bool set)
{
	while (start < nbits) {
		uint64_t w = start / 64, lo = start % 64;
		uint64_t v = (set ? map[w] : ~map[w]) & word_mask(lo, 64);

		if (v) {
			uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(v);

			return i < nbits ? i : nbits;
		}
		start = (w + 1) * 64;
	}
	return nbits;
}

/*
 * Owner text of a region the device creates (qemu-mtree-format.md 5): the
 * device itself (@sub: the QOM child holding the region, e.g. the virtio
 * device of a PCI proxy). Anonymous devices' QOM paths are not modelled.
 */
static void set_owner(const struct ms_memdev *d, struct ms_region *mr, const char *sub)
{
	char buf[256];

	if (!d->id)
		return;
	if (*sub)
		snprintf(buf, sizeof(buf), "dev path=/machine/peripheral/%s/%s", d->id, sub);
	else
		snprintf(buf, sizeof(buf), "dev id=%s", d->id);
	ms_region__set_owner(mr, buf, NULL);
}

/* --- pc-dimm and nvdimm (rules 5.1.1, 5.4, 11.1, 11.2) -------------------- */

struct dimm {
	struct ms_backend *backend;
	uint64_t addr;
	int slot;
	uint64_t label_size;
	bool unarmed;
	struct ms_region *nv_mr;	/* nvdimm: "nvdimm-memory" (one reference) */
};

static struct dimm *to_dimm(const struct ms_memdev *d)
{
	return d->model_state;
}

static uint64_t dimm_get_addr(void *opaque)
{
	return to_dimm(opaque)->addr;
}

static void dimm_set_addr(void *opaque, uint64_t addr)
{
	to_dimm(opaque)->addr = addr;
}

/* nvdimm_prepare_memory_region: built on first request, errors each time */
static int nvdimm_prepare(struct ms_memdev *d, struct ms_error *err)
{
	struct dimm *s = to_dimm(d);
	struct ms_backend *b = s->backend;
	uint64_t align = b->align ? b->align : 1;
	uint64_t pmem_size = 0;
	struct ms_region *mr;

	if (b->size > s->label_size)
		pmem_size = (b->size - s->label_size) / align * align;
	if (!pmem_size)
		return ms_error_set(err, -EINVAL,
				    "the size of memdev %s (0x%llx) is too small to contain nvdimm label (0x%llx) and aligned PMEM (0x%llx)",
				    b->id, (unsigned long long)b->size,
				    (unsigned long long)s->label_size, (unsigned long long)align);
	if (!s->unarmed && (b->readonly || ms_region__is_rom(b->mr)))
		return ms_error_set(err, -EINVAL,
				    "'unarmed' property must be on since memdev %s is read-only",
				    b->id);
	mr = ms_region__new_alias(d->m->ctx, "nvdimm-memory", b->mr, 0, pmem_size, err);
	if (!mr)
		return -errno;
	ms_region__set_nonvolatile(mr, true);
	set_owner(d, mr, "");
	s->nv_mr = mr;
	return 0;
}

static struct ms_region *dimm_get_memory_region(void *opaque, struct ms_error *err)
{
	struct ms_memdev *d = opaque;
	struct dimm *s = to_dimm(d);
	int ret;

	/* pc_dimm_get_memory_region / nvdimm_prepare_memory_region */
	if (!s->backend) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "'memdev' property must be set");
		return NULL;
	}
	if (d->type != MS_MEMDEV_NVDIMM)
		return s->backend->mr;
	if (!s->nv_mr) {
		ret = nvdimm_prepare(d, err);
		if (ret) {
			errno = -ret;
			return NULL;
		}
	}
	return s->nv_mr;
}

static uint64_t dimm_get_plugged_size(void *opaque)
{
	struct ms_memdev *d = opaque;
	struct dimm *s = to_dimm(d);

	/* memory_device_get_region_size(): the nvdimm alias is smaller */
	if (d->type == MS_MEMDEV_NVDIMM)
		return s->nv_mr ? ms_region__size(s->nv_mr) : 0;
	return s->backend ? ms_region__size(s->backend->mr) : 0;
}

/* rule 5.4 (pc_dimm_pre_plug, pc_dimm_get_free_slot) */
static int dimm_assign_slot(struct ms_memdev *d, struct ms_error *err)
{
	struct ms_machine *m = d->m;
	uint64_t slots = m->opts.slots;
	struct dimm *s = to_dimm(d);
	/* rule 2.3: the machine refuses more than 256 slots */
	uint64_t busy[256 / 64] = { 0 };
	uint64_t nbits = slots < 256 ? slots : 256;
	struct list_head *pos;
	int slot = s->slot;
	uint64_t i;

	/* QEMU's ram_slots is 64 bits: with 0 slots the range reads [0-2^64-1] */
	if ((slot < 0 || (uint64_t)slot >= slots) && slot != MS_MEMDEV_SLOT_AUTO)
		return ms_error_set(err, -EINVAL, "invalid slot number %d, valid range is [0-%llu]",
				    slot, (unsigned long long)(slots - 1));
	if (!slots)
		return ms_error_set(err, -EINVAL,
				    "no slots where allocated, please specify the 'slots' option");

	/* occupied: slots of realized (plugged) DIMMs and NVDIMMs */
	list_for_each(pos, &m->devices) {
		struct ms_memdev *o = list_entry(pos, struct ms_memdev, node);
		int os;

		if (o == d || !o->plugged || !o->model_state ||
		    (o->type != MS_MEMDEV_DIMM && o->type != MS_MEMDEV_NVDIMM))
			continue;
		os = to_dimm(o)->slot;
		if (os >= 0 && (uint64_t)os < nbits)
			busy[os / 64] |= 1ULL << (os % 64);
	}

	if (slot != MS_MEMDEV_SLOT_AUTO) {
		if ((uint64_t)slot >= slots)
			return ms_error_set(err, -EINVAL, "invalid slot# %d, should be less than %llu",
					    slot, (unsigned long long)slots);
		if ((uint64_t)slot < nbits && bit_test(busy, (uint64_t)slot))
			return ms_error_set(err, -EBUSY, "slot %d is busy", slot);
		return 0;
	}
	i = bits_find(busy, nbits, 0, false);
	if (i == nbits)
		return ms_error_set(err, -ENOSPC, "no free slots available");
	s->slot = (int)i;
	return 0;
}

static int dimm_pre_plug(struct ms_memdev *d, struct ms_error *err)
{
	/* rule 5.1.1; ACPI memory hotplug is always present on pc and q35 here */
	if (d->type == MS_MEMDEV_NVDIMM && !d->m->opts.nvdimm)
		return ms_error_set(err, -EOPNOTSUPP,
				    "nvdimm is not enabled: missing 'nvdimm' in '-M'");
	return dimm_assign_slot(d, err);
}

/*
 * The memdev is claimed (ms_backend.user) at creation when free; "busy"
 * means claimed by another device, which QEMU finds only at realize.
 */
static bool backend_busy(const struct ms_backend *b, const struct ms_memdev *d)
{
	return b->user && b->user != d;
}

static int dimm_realize(struct ms_memdev *d, struct ms_error *err)
{
	struct ms_backend *b = to_dimm(d)->backend;

	/* pc_dimm_realize; no NUMA nodes are configured (a single node 0) */
	if (!b)
		return ms_error_set(err, -EINVAL, "'memdev' property is not set");
	if (backend_busy(b, d))
		return ms_error_set(err, -EBUSY, "can't use already busy memdev: %s", b->id);
	if (d->node_id > 0)
		return ms_error_set(err, -EINVAL,
				    "'DIMM property node has value %u' which exceeds the number of numa nodes: 1",
				    d->node_id);
	return 0;
}

/* pc_dimm_plug / pc_dimm_unplug: dimm_size counts "real" DIMMs only */
static void dimm_plug(struct ms_memdev *d)
{
	if (d->type == MS_MEMDEV_DIMM)
		d->m->dimm_size += to_dimm(d)->backend->size;
}

static void dimm_unplug(struct ms_memdev *d)
{
	if (d->type == MS_MEMDEV_DIMM)
		d->m->dimm_size -= to_dimm(d)->backend->size;
}

static int nvdimm_unplug_request(struct ms_memdev *d, struct ms_error *err)
{
	(void)d;
	return ms_error_set(err, -EOPNOTSUPP, "nvdimm device hot unplug is not supported yet.");
}

static void dimm_destroy(struct ms_memdev *d)
{
	struct dimm *s = to_dimm(d);

	ms_region__unref(s->nv_mr);
	free(s);
	d->model_state = NULL;
}

static void dimm_info(const struct ms_memdev *d, struct ms_memdev_info *info)
{
	const struct dimm *s = to_dimm(d);

	/* the "size" property is the region size (the nvdimm alias is smaller) */
	info->size = dimm_get_plugged_size((void *)d);
	info->slot = s->slot;
	info->memdev = s->backend ? s->backend->qom_path : NULL;
	info->hotpluggable = true;
}

static const struct memdev_model dimm_model = {
	.pre_plug = dimm_pre_plug,
	.realize = dimm_realize,
	.plug = dimm_plug,
	.unplug = dimm_unplug,
	.destroy = dimm_destroy,
	.info = dimm_info,
};

static const struct memdev_model nvdimm_model = {
	.pre_plug = dimm_pre_plug,
	.realize = dimm_realize,
	.plug = dimm_plug,
	.unplug = dimm_unplug,
	.unplug_request = nvdimm_unplug_request,
	.destroy = dimm_destroy,
	.info = dimm_info,
};

static int dimm_create(struct ms_memdev *d, const struct ms_memdev_opts *o, struct ms_error *err)
{
	struct dimm *s;

	if (d->type == MS_MEMDEV_NVDIMM && o->label_size &&
	    o->label_size < NVDIMM_MIN_LABEL_SIZE)
		return ms_error_set(err, -EINVAL,
				    "Property 'nvdimm.label-size' (0x%llx) is required at least 0x%llx",
				    (unsigned long long)o->label_size, NVDIMM_MIN_LABEL_SIZE);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ms_error_set(err, -ENOMEM, "%s: out of memory",
				    ms_memdev_type_name(d->type));
	s->backend = o->memdev;
	s->addr = o->addr;
	s->slot = o->slot;
	s->label_size = o->label_size;
	s->unarmed = o->unarmed;

	d->model_state = s;
	d->model = d->type == MS_MEMDEV_NVDIMM ? &nvdimm_model : &dimm_model;
	d->ops = (struct ms_memdev_ops) {
		.get_addr = dimm_get_addr,
		.set_addr = dimm_set_addr,
		.get_plugged_size = dimm_get_plugged_size,
		.get_memory_region = dimm_get_memory_region,
	};
	return 0;
}

/* --- virtio-pmem (rule 11.3) --------------------------------------------- */

struct pmem {
	struct ms_backend *backend;
	uint64_t addr;
};

static struct pmem *to_pmem(const struct ms_memdev *d)
{
	return d->model_state;
}

static uint64_t pmem_get_addr(void *opaque)
{
	return to_pmem(opaque)->addr;
}

static void pmem_set_addr(void *opaque, uint64_t addr)
{
	to_pmem(opaque)->addr = addr;
}

static uint64_t pmem_get_plugged_size(void *opaque)
{
	struct ms_backend *b = to_pmem(opaque)->backend;

	return b ? ms_region__size(b->mr) : 0;
}

static struct ms_region *pmem_get_memory_region(void *opaque, struct ms_error *err)
{
	struct ms_backend *b = to_pmem(opaque)->backend;

	if (!b) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "'memdev' property must be set");
		return NULL;
	}
	return b->mr;
}

/* virtio_pmem_realize's own texts */
static int pmem_realize(struct ms_memdev *d, struct ms_error *err)
{
	struct ms_backend *b = to_pmem(d)->backend;

	if (!b)
		return ms_error_set(err, -EINVAL, "virtio-pmem memdev not set");
	if (backend_busy(b, d))
		return ms_error_set(err, -EBUSY, "can't use already busy memdev: %s", b->id);
	return 0;
}

static int pmem_unplug_request(struct ms_memdev *d, struct ms_error *err)
{
	(void)d;
	/* rule 5.1.2: virtio-pmem has no unplug check */
	return ms_error_set(err, -EOPNOTSUPP,
			    "this virtio based memory devices cannot be unplugged");
}

static void pmem_destroy(struct ms_memdev *d)
{
	free(d->model_state);
	d->model_state = NULL;
}

static void pmem_info(const struct ms_memdev *d, struct ms_memdev_info *info)
{
	const struct pmem *s = to_pmem(d);

	info->size = pmem_get_plugged_size((void *)d);
	info->memdev = s->backend ? s->backend->qom_path : NULL;
	info->hotpluggable = true;
}

static const struct memdev_model pmem_model = {
	.realize = pmem_realize,
	.unplug_request = pmem_unplug_request,
	.destroy = pmem_destroy,
	.info = pmem_info,
};

static int pmem_create(struct ms_memdev *d, const struct ms_memdev_opts *o, struct ms_error *err)
{
	struct pmem *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ms_error_set(err, -ENOMEM, "virtio-pmem: out of memory");
	s->backend = o->memdev;
	s->addr = o->addr;
	d->model_state = s;
	d->model = &pmem_model;
	d->ops = (struct ms_memdev_ops) {
		.get_addr = pmem_get_addr,
		.set_addr = pmem_set_addr,
		.get_plugged_size = pmem_get_plugged_size,
		.get_memory_region = pmem_get_memory_region,
	};
	return 0;
}

/* --- virtio-mem (rules 8, 10) ----------------------------------------------- */

struct rdm_listener {
	struct ms_rdm_listener_ops ops;
	void *opaque;
	struct rdm_listener *next;
};

struct vmem {
	struct ms_memdev *d;
	struct ms_backend *backend;
	uint64_t addr;			/* memaddr */
	uint64_t requested_size;
	uint64_t block_size;		/* 0 until fixed (decide or realize) */
	uint64_t size;			/* plugged */
	uint64_t usable_region_size;
	enum ms_onoffauto unplugged_inaccessible;
	bool dynamic_memslots;
	bool prealloc;
	bool realized;

	/* one bit per block, set = plugged */
	uint64_t *bitmap;
	uint64_t nr_blocks;

	/* dynamic memslots (rule 10): nr_memslots 0 = not decided */
	uint32_t nr_memslots;
	uint64_t memslot_size;
	struct ms_region *mr;		/* "virtio-mem" container (one reference) */
	struct ms_region **memslots;	/* "memslot-<i>" aliases (one reference each) */
	uint64_t *memslot_plugged;	/* plugged blocks per memslot */
	uint32_t nr_active;

	struct rdm_listener *listeners;	/* newest first */
};

static struct vmem *to_vmem(const struct ms_memdev *d)
{
	return d->model_state;
}

/* a virtio-mem device with a memdev (every device that was added has one) */
static struct vmem *vmem_of(const struct ms_memdev *d)
{
	struct vmem *s;

	if (!d || d->type != MS_MEMDEV_VIRTIO_MEM || !d->model_state)
		return NULL;
	s = d->model_state;
	return s->backend ? s : NULL;
}

/* virtio_mem_thp_size (rule 8.2), probed once */
static uint64_t thp_default(void)
{
#if defined(__aarch64__)
	long page = sysconf(_SC_PAGESIZE);

	if (page == 16384)
		return 32 * MiB;
	if (page == 65536)
		return 512 * MiB;
	return 2 * MiB;
#elif defined(__x86_64__) || defined(__arm__) || defined(__powerpc64__)
	return 2 * MiB;
#else
	return MiB;
#endif
}

static uint64_t virtio_mem_thp_size(void)
{
	static uint64_t thp_size;
	char buf[64], *end;
	unsigned long long v;
	struct stat st;
	ssize_t n;
	int fd;

	if (thp_size)
		return thp_size;
	fd = open(THP_PMD_SIZE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			errno = 0;
			v = strtoull(buf, &end, 0);
			if (!errno && end != buf && (*end == '\0' || *end == '\n')) {
				if (is_pow2(v))
					thp_size = v;
				else
					pr_warn("memslot: virtio-mem: Read unsupported THP size: %llx\n",
						v);
			}
		}
	}
	if (!thp_size && stat(THP_PATH, &st)) {
		/* no THP: no restriction */
		thp_size = VIRTIO_MEM_MIN_BLOCK_SIZE;
	} else if (!thp_size) {
		thp_size = thp_default();
		pr_warn("memslot: virtio-mem: Could not detect THP size, falling back to %llx MiB.\n",
			(unsigned long long)(thp_size / MiB));
	}
	return thp_size;
}

/* qemu_ram_pagesize() of the memdev's RAM block */
static uint64_t vmem_page_size(const struct vmem *s)
{
	return s->backend->page_size ? s->backend->page_size : host_page_size(s->d->m);
}

/* virtio_mem_default_block_size */
static uint64_t vmem_default_block_size(const struct vmem *s)
{
	uint64_t page = vmem_page_size(s);

	if (page == host_page_size(s->d->m))
		return max_u64(page, virtio_mem_thp_size());
	/* hugetlbfs pages may be smaller than THP */
	return max_u64(page, VIRTIO_MEM_MIN_BLOCK_SIZE);
}

static bool backend_has_ram_block(const struct ms_backend *b)
{
	return b && b->mr && ms_region__is_ram(b->mr);
}

/* the "block-size" property as read: the default until it is fixed */
static uint64_t vmem_block_size_prop(const struct vmem *s)
{
	if (s->block_size)
		return s->block_size;
	if (backend_has_ram_block(s->backend))
		return vmem_default_block_size(s);
	return virtio_mem_thp_size();
}

static uint64_t vmem_get_addr(void *opaque)
{
	return to_vmem(opaque)->addr;
}

static void vmem_set_addr(void *opaque, uint64_t addr)
{
	to_vmem(opaque)->addr = addr;
}

static uint64_t vmem_get_plugged_size(void *opaque)
{
	return to_vmem(opaque)->size;
}

static uint64_t vmem_get_min_alignment(void *opaque)
{
	/* rule 8.3: the device address is block aligned */
	return vmem_block_size_prop(to_vmem(opaque));
}

static struct ms_region *vmem_get_memory_region(void *opaque, struct ms_error *err)
{
	struct ms_memdev *d = opaque;
	struct vmem *s = to_vmem(d);

	if (!s->backend) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "'memdev' property must be set");
		return NULL;
	}
	if (!s->dynamic_memslots)
		return s->backend->mr;
	/*
	 * virtio_mem_prepare_mr: a container of the memdev size, its alignment
	 * the memdev's (memdev.c reads it from the backend of this device).
	 */
	if (!s->mr) {
		s->mr = ms_region__new_container(d->m->ctx, "virtio-mem", s->backend->size, err);
		if (s->mr)
			set_owner(d, s->mr, "virtio-backend");
	}
	return s->mr;
}

uint32_t ms_virtio_mem_decide(uint64_t region_size, uint64_t block_size, uint64_t page_size,
			      uint32_t limit, uint64_t *memslot_size)
{
	uint64_t size, n;

	/* rule 10.2 steps 2 and 4: realize would fail, assume one memslot */
	if (limit <= 1 || !block_size || !region_size || block_size < page_size ||
	    region_size % block_size)
		goto one;
	/* step 5: all memslots but the last have a sane minimum size */
	size = align_up_u64(region_size / limit, block_size);
	size = max_u64(size, max_u64(block_size, VIRTIO_MEM_MIN_MEMSLOT_SIZE));
	/* step 6 */
	n = region_size / size + !!(region_size % size);
	if (n == 1)
		goto one;
	if (memslot_size)
		*memslot_size = size;
	return (uint32_t)n;

one:
	/* rule 10.3: a single memslot spans the region */
	if (memslot_size)
		*memslot_size = region_size;
	return 1;
}

static void vmem_decide_memslots(void *opaque, uint32_t limit)
{
	struct vmem *s = to_vmem(opaque);
	struct ms_backend *b = s->backend;
	uint64_t size;
	uint32_t n;

	if (!s->dynamic_memslots || s->nr_memslots)
		return;
	if (limit <= 1 || !backend_has_ram_block(b)) {
		s->nr_memslots = 1;
		return;
	}
	/* step 3: the block size is fixed now, it bounds the memslot size */
	if (!s->block_size)
		s->block_size = vmem_default_block_size(s);
	n = ms_virtio_mem_decide(b->size, s->block_size, vmem_page_size(s), limit, &size);
	if (n != 1)
		s->memslot_size = size;
	s->nr_memslots = n;
}

static uint32_t vmem_get_memslots(void *opaque)
{
	struct vmem *s = to_vmem(opaque);

	if (!s->dynamic_memslots || !s->nr_memslots)
		return 1;
	return s->nr_memslots;
}

/* virtio_mem_resize_usable_region (rule 8.6) */
static void vmem_resize_usable_region(struct vmem *s, uint64_t requested, bool can_shrink)
{
	uint64_t size = s->backend->size;
	uint64_t extent = size;

	/* min(memdev size, requested + extent) without overflow */
	if (requested < size && size - requested > VIRTIO_MEM_USABLE_EXTENT)
		extent = requested + VIRTIO_MEM_USABLE_EXTENT;
	extent = align_up_u64(extent, s->block_size);
	if (!requested)
		extent = 0;
	if (extent < s->usable_region_size && !can_shrink)
		return;
	s->usable_region_size = extent;
}

/* virtio_mem_has_shared_zeropage: private anonymous RAM with host pages */
static bool vmem_has_shared_zeropage(const struct vmem *s)
{
	const struct ms_backend *b = s->backend;

	return !b->share && b->mr->fd < 0 && b->kind == MS_BACKEND_RAM &&
	       vmem_page_size(s) == host_page_size(s->d->m);
}

/* virtio_mem_prepare_memslots (rule 10.3) */
static int vmem_prepare_memslots(struct vmem *s, struct ms_error *err)
{
	uint64_t region = s->backend->size;
	char name[32];
	uint32_t i;

	if (s->nr_memslots <= 1) {
		s->nr_memslots = 1;
		s->memslot_size = region;
	}
	s->memslots = calloc(s->nr_memslots, sizeof(*s->memslots));
	s->memslot_plugged = calloc(s->nr_memslots, sizeof(*s->memslot_plugged));
	if (!s->memslots || !s->memslot_plugged)
		goto err_nomem;
	for (i = 0; i < s->nr_memslots; i++) {
		uint64_t off = (uint64_t)i * s->memslot_size;
		uint64_t size = i == s->nr_memslots - 1 ? region - off : s->memslot_size;

		snprintf(name, sizeof(name), "memslot-%u", i);
		s->memslots[i] = ms_region__new_alias(s->d->m->ctx, name, s->backend->mr, off,
						      size, err);
		if (!s->memslots[i])
			goto err_free;
		ms_region__set_unmergeable(s->memslots[i], true);
		set_owner(s->d, s->memslots[i], "virtio-backend");
	}
	return 0;

err_nomem:
	ms_error_set(err, -ENOMEM, "virtio-mem: out of memory");
	errno = ENOMEM;
err_free:
	{
		int ret = -errno;

		if (s->memslots) {
			for (i = 0; i < s->nr_memslots; i++)
				ms_region__unref(s->memslots[i]);
		}
		free(s->memslots);
		free(s->memslot_plugged);
		s->memslots = NULL;
		s->memslot_plugged = NULL;
		return ret;
	}
}

/* virtio_mem_device_realize: the checks of rule 8.4 after the memdev ones */
static int vmem_realize(struct ms_memdev *d, struct ms_error *err)
{
	struct vmem *s = to_vmem(d);
	struct ms_backend *b = s->backend;
	uint64_t page, def;
	int ret;

	if (!b)
		return ms_error_set(err, -EINVAL, "'memdev' property is not set");
	if (backend_busy(b, d))
		return ms_error_set(err, -EBUSY, "'memdev' property specifies a busy memdev: %s",
				    b->id);
	if (!backend_has_ram_block(b) || ms_region__is_rom(b->mr) || b->readonly)
		return ms_error_set(err, -EINVAL, "'memdev' property specifies an unsupported memdev");
	if (b->prealloc)
		return ms_error_set(err, -EINVAL,
				    "'memdev' property specifies a memdev with preallocation enabled: %s. Instead, specify 'prealloc=on' for the virtio-mem device.",
				    b->id);
	/* no NUMA nodes are configured; QEMU's text lacks a space */
	if (d->node_id)
		return ms_error_set(err, -EINVAL,
				    "'node' property has value '%u', which exceedsthe number of numa nodes: 1",
				    d->node_id);
	/* mlock is never in effect here */

	switch (s->unplugged_inaccessible) {
	case MS_AUTO:
		s->unplugged_inaccessible = vmem_has_shared_zeropage(s) ? MS_OFF : MS_ON;
		break;
	case MS_OFF:
		if (!vmem_has_shared_zeropage(s))
			pr_warn("memslot: virtio-mem: 'unplugged-inaccessible' property set to 'off' with a memdev that does not support the shared zeropage.\n");
		break;
	case MS_ON:
	case MS_DEFAULT:	/* resolved to on at creation */
		break;
	}
	if (s->dynamic_memslots && s->unplugged_inaccessible != MS_ON)
		return ms_error_set(err, -EINVAL,
				    "'dynamic-memslots' property set to 'on' requires 'unplugged-inaccessible' to be 'on'");

	page = vmem_page_size(s);
	def = vmem_default_block_size(s);
	if (!s->block_size)
		s->block_size = def;
	if (s->block_size < page)
		return ms_error_set(err, -EINVAL,
				    "'block-size' property has to be at least the page size (0x%llx)",
				    (unsigned long long)page);
	if (s->block_size < def)
		pr_warn("memslot: virtio-mem: 'block-size' property is smaller than the default block size (%llx MiB)\n",
			(unsigned long long)(def / MiB));
	if (s->requested_size % s->block_size)
		return ms_error_set(err, -EINVAL,
				    "'requested-size' property has to be multiples of 'block-size' (0x%llx)",
				    (unsigned long long)s->block_size);
	if (s->addr % s->block_size)
		return ms_error_set(err, -EINVAL,
				    "'memaddr' property has to be multiples of 'block-size' (0x%llx)",
				    (unsigned long long)s->block_size);
	if (b->size % s->block_size)
		return ms_error_set(err, -EINVAL,
				    "'memdev' property memdev size has to be multiples of'block-size' (0x%llx)",
				    (unsigned long long)s->block_size);
	/* coordinated RAM discard is always possible here */

	s->nr_blocks = b->size / s->block_size;
	s->bitmap = calloc((s->nr_blocks + 63) / 64, sizeof(*s->bitmap));
	if (!s->bitmap)
		return ms_error_set(err, -ENOMEM, "virtio-mem: out of memory");
	if (s->dynamic_memslots) {
		ret = vmem_prepare_memslots(s, err);
		if (ret)
			goto err_bitmap;
	}

	/* start from a clean slate: the backend may be reused */
	ret = ram_discard(b, 0, b->size);
	if (ret) {
		ms_error_set(err, ret, "Unexpected error discarding RAM: %s", strerror(-ret));
		goto err_memslots;
	}
	vmem_resize_usable_region(s, s->requested_size, true);
	s->realized = true;
	return 0;

err_memslots:
	if (s->memslots) {
		for (uint32_t i = 0; i < s->nr_memslots; i++)
			ms_region__unref(s->memslots[i]);
		free(s->memslots);
		free(s->memslot_plugged);
		s->memslots = NULL;
		s->memslot_plugged = NULL;
	}
err_bitmap:
	free(s->bitmap);
	s->bitmap = NULL;
	s->nr_blocks = 0;
	return ret;
}

/* rule 10.11 (virtio_mem_unplug_request_check) */
static int vmem_unplug_request(struct ms_memdev *d, struct ms_error *err)
{
	struct vmem *s = to_vmem(d);

	if (s->unplugged_inaccessible == MS_OFF)
		return ms_error_set(err, -EBUSY,
				    "virtio-mem device cannot get unplugged while 'unplugged-inaccessible' != 'on'");
	if (s->size)
		return ms_error_set(err, -EBUSY,
				    "virtio-mem device cannot get unplugged while some of its memory is still plugged");
	if (s->requested_size)
		return ms_error_set(err, -EBUSY,
				    "virtio-mem device cannot get unplugged while 'requested-size' != '0'");
	return 0;
}

static void vmem_destroy(struct ms_memdev *d)
{
	struct vmem *s = to_vmem(d);
	struct rdm_listener *l, *next;
	uint32_t i;

	for (l = s->listeners; l; l = next) {
		next = l->next;
		free(l);
	}
	if (s->memslots) {
		/* mapped ones stay alive in the container until it goes */
		for (i = 0; i < s->nr_memslots; i++)
			ms_region__unref(s->memslots[i]);
	}
	ms_region__unref(s->mr);
	free(s->memslots);
	free(s->memslot_plugged);
	free(s->bitmap);
	free(s);
	d->model_state = NULL;
}

static void vmem_info(const struct ms_memdev *d, struct ms_memdev_info *info)
{
	const struct vmem *s = to_vmem(d);

	info->size = s->size;
	info->requested_size = s->requested_size;
	info->max_size = s->backend ? s->backend->size : 0;
	info->block_size = vmem_block_size_prop(s);
	info->memdev = s->backend ? s->backend->qom_path : NULL;
	info->hotpluggable = true;
}

static const struct memdev_model vmem_model = {
	.realize = vmem_realize,
	.unplug_request = vmem_unplug_request,
	.destroy = vmem_destroy,
	.info = vmem_info,
};

static int vmem_create(struct ms_memdev *d, const struct ms_memdev_opts *o, struct ms_error *err)
{
	struct vmem *s;

	/* property setters run before realize (virtio_mem_set_block_size) */
	if (o->block_size) {
		if (o->block_size < VIRTIO_MEM_MIN_BLOCK_SIZE)
			return ms_error_set(err, -EINVAL,
					    "'block-size' property has to be at least 0x%llx",
					    VIRTIO_MEM_MIN_BLOCK_SIZE);
		if (!is_pow2(o->block_size))
			return ms_error_set(err, -EINVAL,
					    "'block-size' property has to be a power of two");
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return ms_error_set(err, -ENOMEM, "virtio-mem: out of memory");
	s->d = d;
	s->backend = o->memdev;
	s->addr = o->addr;
	s->requested_size = o->requested_size;
	s->block_size = o->block_size;
	s->dynamic_memslots = o->dynamic_memslots;
	/* rule 8.1: current QEMU defaults to on (7.2: auto) */
	s->unplugged_inaccessible = o->unplugged_inaccessible == MS_DEFAULT ? MS_ON :
				    o->unplugged_inaccessible;
	s->prealloc = o->prealloc;

	d->model_state = s;
	d->model = &vmem_model;
	d->ops = (struct ms_memdev_ops) {
		.get_addr = vmem_get_addr,
		.set_addr = vmem_set_addr,
		.get_plugged_size = vmem_get_plugged_size,
		.get_memory_region = vmem_get_memory_region,
		.decide_memslots = vmem_decide_memslots,
		.get_memslots = vmem_get_memslots,
		.get_min_alignment = vmem_get_min_alignment,
	};
	return 0;
}

/* memslot index range [*first, *last) touched by [off, off + size) */
static void memslot_span(const struct vmem *s, uint64_t off, uint64_t size, uint32_t *first,
			 uint32_t *last)
{
	*first = (uint32_t)(off / s->memslot_size);
	*last = (uint32_t)((off + size - 1) / s->memslot_size + 1);
	if (*last > s->nr_memslots)
		*last = s->nr_memslots;
}

static bool memslot_mapped(const struct vmem *s, uint32_t i)
{
	return ms_region__container(s->memslots[i]) != NULL;
}

/* virtio_mem_deactivate_unplugged_memslots (rule 10.6), one transaction */
static void vmem_deactivate(struct vmem *s, uint64_t off, uint64_t size)
{
	struct ms_ctx *ctx = s->d->m->ctx;
	uint32_t i, first, last;

	memslot_span(s, off, size, &first, &last);
	ms_ctx__begin(ctx);
	for (i = first; i < last; i++) {
		/*
		 * The per-memslot count stands for QEMU's bitmap scan: a fully
		 * covered memslot has no plugged block left either.
		 */
		if (s->memslot_plugged[i] || !memslot_mapped(s, i))
			continue;
		ms_region__del_subregion(s->mr, s->memslots[i], NULL);
		s->nr_active--;
	}
	ms_ctx__commit(ctx);
}

/* virtio_mem_activate_memslots_to_plug (rule 10.5), one transaction */
static int vmem_activate(struct vmem *s, uint64_t off, uint64_t size)
{
	struct ms_ctx *ctx = s->d->m->ctx;
	uint32_t i, first, last;
	int ret = 0;

	memslot_span(s, off, size, &first, &last);
	kvm_watch(s->d->m);
	ms_ctx__begin(ctx);
	for (i = first; i < last; i++) {
		if (memslot_mapped(s, i))
			continue;
		ret = ms_region__add_subregion(s->mr, (uint64_t)i * s->memslot_size,
					       s->memslots[i], NULL);
		if (ret)
			break;
		s->nr_active++;
	}
	ms_ctx__commit(ctx);
	/* QEMU aborts when KVM refuses a slot; answer BUSY instead */
	return ret ? ret : kvm_failed(s->d->m) ? -EIO : 0;
}

static int rdm_notify_populate(struct vmem *s, uint64_t off, uint64_t size);

/* Map again every memslot holding a plugged block (after a failed
 * deactivation: the kernel kept those slots, so no ioctl is issued). */
static void vmem_reactivate_plugged(struct vmem *s)
{
	struct ms_ctx *ctx = s->d->m->ctx;

	ms_ctx__begin(ctx);
	for (uint32_t i = 0; i < s->nr_memslots; i++) {
		if (!s->memslot_plugged[i] || memslot_mapped(s, i))
			continue;
		if (!ms_region__add_subregion(s->mr, (uint64_t)i * s->memslot_size,
					      s->memslots[i], NULL))
			s->nr_active++;
	}
	ms_ctx__commit(ctx);
}

static int populate_all_cb(struct vmem *s, uint64_t off, uint64_t size, void *arg)
{
	(void)arg;
	rdm_notify_populate(s, off, size);
	return 0;
}

/* mark blocks of [off, off + size) and keep the per-memslot counts */
static void vmem_set_range(struct vmem *s, uint64_t off, uint64_t size, bool plug)
{
	uint32_t i, first, last;

	bits_assign(s->bitmap, off / s->block_size, size / s->block_size, plug);
	if (!s->memslot_plugged)
		return;
	memslot_span(s, off, size, &first, &last);
	for (i = first; i < last; i++) {
		uint64_t lo = max_u64(off, (uint64_t)i * s->memslot_size);
		uint64_t hi = min_u64(off + size, (uint64_t)(i + 1) * s->memslot_size);
		uint64_t n = (hi - lo) / s->block_size;

		if (plug)
			s->memslot_plugged[i] += n;
		else
			s->memslot_plugged[i] -= n;
	}
}

/* virtio_mem_valid_range, on offsets from the device start */
static bool vmem_valid_range(const struct vmem *s, uint64_t off, uint64_t size)
{
	if (!s->realized || !size || off % s->block_size || size % s->block_size)
		return false;
	if (off + size < off || s->addr + off < s->addr || s->addr + off + size < s->addr + off)
		return false;
	return off < s->usable_region_size && off + size <= s->usable_region_size;
}

/* populate to each listener; on refusal the earlier ones get a discard */
static int rdm_notify_populate(struct vmem *s, uint64_t off, uint64_t size)
{
	struct rdm_listener *l, *u;
	int ret;

	for (l = s->listeners; l; l = l->next) {
		if (!l->ops.populate)
			continue;
		ret = l->ops.populate(l->opaque, off, size);
		if (!ret)
			continue;
		for (u = s->listeners; u != l; u = u->next) {
			if (u->ops.discard)
				u->ops.discard(u->opaque, off, size);
		}
		return ret;
	}
	return 0;
}

static void rdm_notify_discard(struct vmem *s, struct rdm_listener *only, uint64_t off,
			       uint64_t size)
{
	struct rdm_listener *l;

	for (l = s->listeners; l; l = l->next) {
		if ((!only || l == only) && l->ops.discard)
			l->ops.discard(l->opaque, off, size);
	}
}

/* call @fn for each run of plugged blocks, ascending; non-zero stops */
static int for_each_plugged(struct vmem *s, int (*fn)(struct vmem *s, uint64_t off,
						      uint64_t size, void *arg),
			    void *arg)
{
	uint64_t i = 0, j;
	int ret;

	while ((i = bits_find(s->bitmap, s->nr_blocks, i, true)) < s->nr_blocks) {
		j = bits_find(s->bitmap, s->nr_blocks, i, false);
		ret = fn(s, i * s->block_size, (j - i) * s->block_size, arg);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

static int discard_one_cb(struct vmem *s, uint64_t off, uint64_t size, void *arg)
{
	rdm_notify_discard(s, arg, off, size);
	return 0;
}

static int discard_all_cb(struct vmem *s, uint64_t off, uint64_t size, void *arg)
{
	(void)arg;
	rdm_notify_discard(s, NULL, off, size);
	return 0;
}

int ms_virtio_mem__plug(struct ms_memdev *dev, uint64_t offset, uint64_t size)
{
	struct vmem *s = vmem_of(dev);
	int ret;

	if (!s || !vmem_valid_range(s, offset, size))
		return MS_VIRTIO_MEM_ERROR;
	if (s->size + size > s->requested_size || s->size + size < s->size)
		return MS_VIRTIO_MEM_NACK;
	if (!bits_all(s->bitmap, offset / s->block_size, size / s->block_size, false))
		return MS_VIRTIO_MEM_ERROR;

	/* virtio_mem_set_block_state; no migration runs here */
	if (s->prealloc && ram_prealloc(s->backend, offset, size)) {
		ram_discard(s->backend, offset, size);
		return MS_VIRTIO_MEM_BUSY;
	}
	/* rule 10.5: activate before notifying listeners */
	if (s->dynamic_memslots && vmem_activate(s, offset, size)) {
		vmem_deactivate(s, offset, size);
		ram_discard(s->backend, offset, size);
		return MS_VIRTIO_MEM_BUSY;
	}
	ret = rdm_notify_populate(s, offset, size);
	if (ret) {
		ram_discard(s->backend, offset, size);
		if (s->dynamic_memslots)
			vmem_deactivate(s, offset, size);
		return MS_VIRTIO_MEM_BUSY;
	}
	vmem_set_range(s, offset, size, true);
	s->size += size;
	return MS_VIRTIO_MEM_ACK;
}

int ms_virtio_mem__unplug(struct ms_memdev *dev, uint64_t offset, uint64_t size)
{
	struct vmem *s = vmem_of(dev);

	if (!s || !vmem_valid_range(s, offset, size))
		return MS_VIRTIO_MEM_ERROR;
	if (!bits_all(s->bitmap, offset / s->block_size, size / s->block_size, true))
		return MS_VIRTIO_MEM_ERROR;
	if (ram_discard(s->backend, offset, size))
		return MS_VIRTIO_MEM_BUSY;
	rdm_notify_discard(s, NULL, offset, size);
	vmem_set_range(s, offset, size, false);
	s->size -= size;
	/* rule 10.6: after the bitmap update */
	if (s->dynamic_memslots) {
		kvm_watch(s->d->m);
		vmem_deactivate(s, offset, size);
		if (kvm_failed(s->d->m)) {
			/* KVM kept a slot: the blocks stay plugged (QEMU aborts) */
			vmem_set_range(s, offset, size, true);
			s->size += size;
			vmem_reactivate_plugged(s);
			rdm_notify_populate(s, offset, size);
			return MS_VIRTIO_MEM_BUSY;
		}
	}
	return MS_VIRTIO_MEM_ACK;
}

int ms_virtio_mem__unplug_all(struct ms_memdev *dev)
{
	struct vmem *s = vmem_of(dev);
	struct ms_backend *b;

	if (!s || !s->realized)
		return MS_VIRTIO_MEM_ERROR;
	b = s->backend;
	if (s->size) {
		size_t words = (s->nr_blocks + 63) / 64;
		uint64_t *bitmap = NULL, *plugged = NULL, old_size = s->size;

		if (ram_discard(b, 0, b->size))
			return MS_VIRTIO_MEM_BUSY;
		if (s->dynamic_memslots) {
			/* kept to undo the request if KVM refuses to drop a slot */
			bitmap = malloc(words * sizeof(*bitmap));
			plugged = malloc(s->nr_memslots * sizeof(*plugged));
			if (!bitmap || !plugged) {
				free(bitmap);
				free(plugged);
				return MS_VIRTIO_MEM_BUSY;
			}
			memcpy(bitmap, s->bitmap, words * sizeof(*bitmap));
			memcpy(plugged, s->memslot_plugged, s->nr_memslots * sizeof(*plugged));
		}
		for_each_plugged(s, discard_all_cb, NULL);
		bits_assign(s->bitmap, 0, s->nr_blocks, false);
		if (s->memslot_plugged)
			memset(s->memslot_plugged, 0, s->nr_memslots * sizeof(*s->memslot_plugged));
		s->size = 0;
		if (s->dynamic_memslots) {
			kvm_watch(s->d->m);
			vmem_deactivate(s, 0, b->size);
			if (kvm_failed(s->d->m)) {
				memcpy(s->bitmap, bitmap, words * sizeof(*bitmap));
				memcpy(s->memslot_plugged, plugged,
				       s->nr_memslots * sizeof(*plugged));
				s->size = old_size;
				vmem_reactivate_plugged(s);
				for_each_plugged(s, populate_all_cb, NULL);
				free(bitmap);
				free(plugged);
				return MS_VIRTIO_MEM_BUSY;
			}
		}
		free(bitmap);
		free(plugged);
	}
	/* rule 8.6: the usable region may shrink now */
	vmem_resize_usable_region(s, s->requested_size, true);
	return MS_VIRTIO_MEM_ACK;
}

int ms_virtio_mem__state(const struct ms_memdev *dev, uint64_t offset, uint64_t size)
{
	const struct vmem *s = vmem_of(dev);
	uint64_t first, n;

	if (!s || !vmem_valid_range(s, offset, size))
		return MS_VIRTIO_MEM_ERROR + 100;
	first = offset / s->block_size;
	n = size / s->block_size;
	if (bits_all(s->bitmap, first, n, true))
		return MS_VIRTIO_MEM_PLUGGED;
	if (bits_all(s->bitmap, first, n, false))
		return MS_VIRTIO_MEM_UNPLUGGED;
	return MS_VIRTIO_MEM_MIXED;
}

int ms_virtio_mem__set_requested_size(struct ms_memdev *dev, uint64_t size, struct ms_error *err)
{
	struct vmem *s = vmem_of(dev);

	if (!s)
		return ms_error_set(err, -EINVAL, "device %s: not a virtio-mem device",
				    dev && dev->id ? dev->id : "(unnamed)");
	/* block size and memdev are fixed only once realized (rule 8.7) */
	if (!s->realized) {
		s->requested_size = size;
		return 0;
	}
	if (size % s->block_size)
		return ms_error_set(err, -EINVAL,
				    "'requested-size' has to be multiples of 'block-size' (0x%llx)",
				    (unsigned long long)s->block_size);
	if (size > s->backend->size)
		return ms_error_set(err, -EINVAL,
				    "'requested-size' cannot exceed the memory backend size(0x%llx)",
				    (unsigned long long)s->backend->size);
	if (size != s->requested_size) {
		vmem_resize_usable_region(s, size, false);
		s->requested_size = size;
	}
	return 0;
}

int ms_virtio_mem__status(const struct ms_memdev *dev, struct ms_virtio_mem_status *st)
{
	const struct vmem *s = vmem_of(dev);

	if (!s || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->block_size = vmem_block_size_prop(s);
	st->region_size = s->backend->size;
	st->usable_region_size = s->usable_region_size;
	st->requested_size = s->requested_size;
	st->plugged_size = s->size;
	st->nr_memslots = vmem_get_memslots((void *)dev);
	if (s->dynamic_memslots && s->memslots) {
		st->memslot_size = s->memslot_size;
		st->active_memslots = s->nr_active;
	} else {
		st->memslot_size = s->backend->size;
		st->active_memslots = ms_region__container(s->backend->mr) ? 1 : 0;
	}
	return 0;
}

bool ms_virtio_mem__memslot_active(const struct ms_memdev *dev, uint32_t i)
{
	const struct vmem *s = vmem_of(dev);

	if (!s)
		return false;
	if (s->dynamic_memslots)
		return s->memslots && i < s->nr_memslots && memslot_mapped(s, i);
	return i == 0 && ms_region__container(s->backend->mr);
}

struct replay {
	struct rdm_listener *l;
	uint64_t stop;		/* offset of the refused range */
};

static int populate_one_cb(struct vmem *s, uint64_t off, uint64_t size, void *arg)
{
	struct replay *r = arg;
	int ret;

	(void)s;
	if (!r->l->ops.populate)
		return 0;
	ret = r->l->ops.populate(r->l->opaque, off, size);
	if (ret)
		r->stop = off;
	return ret;
}

static int undo_populate_cb(struct vmem *s, uint64_t off, uint64_t size, void *arg)
{
	struct replay *r = arg;

	(void)s;
	if (off >= r->stop)
		return 1;
	if (r->l->ops.discard)
		r->l->ops.discard(r->l->opaque, off, size);
	return 0;
}

int ms_virtio_mem__rdm_register(struct ms_memdev *dev, const struct ms_rdm_listener_ops *ops,
				void *opaque)
{
	struct vmem *s = vmem_of(dev);
	struct rdm_listener *l;
	int ret;

	if (!s || !ops)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ops = *ops;
	l->opaque = opaque;
	if (s->bitmap) {
		struct replay r = { .l = l };

		ret = for_each_plugged(s, populate_one_cb, &r);
		if (ret) {
			/* nothing registered: take back what was populated */
			for_each_plugged(s, undo_populate_cb, &r);
			free(l);
			return ret < 0 ? ret : -ret;
		}
	}
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

void ms_virtio_mem__rdm_unregister(struct ms_memdev *dev, void *opaque)
{
	struct vmem *s = vmem_of(dev);
	struct rdm_listener **p, *l;

	if (!s)
		return;
	for (p = &s->listeners; (l = *p); p = &l->next) {
		if (l->opaque != opaque)
			continue;
		/* QEMU discards every plugged range for a leaving listener */
		if (s->size)
			for_each_plugged(s, discard_one_cb, l);
		*p = l->next;
		free(l);
		return;
	}
}

/* --- creation, destruction and queries -------------------------------------- */

struct ms_memdev *memdev_create(struct ms_machine *m, const struct ms_memdev_opts *opts,
				struct ms_error *err)
{
	struct ms_memdev_opts o = { 0 };
	struct ms_memdev *d;
	int ret;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!m || !opts) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "device_add: no machine or options");
		return NULL;
	}
	if (o.type != MS_MEMDEV_DIMM && o.type != MS_MEMDEV_NVDIMM &&
	    o.type != MS_MEMDEV_VIRTIO_PMEM && o.type != MS_MEMDEV_VIRTIO_MEM) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "device_add: not a built-in memory device type: %d",
			     (int)o.type);
		return NULL;
	}

	d = calloc(1, sizeof(*d));
	if (!d)
		goto err_nomem;
	if (o.id && !(d->id = strdup(o.id)))
		goto err_free;
	d->m = m;
	list_init(&d->node);
	d->type = o.type;
	d->opaque = d;
	d->hotplugged = o.hotplugged;
	d->node_id = o.node;

	switch (o.type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		ret = dimm_create(d, &o, err);
		break;
	case MS_MEMDEV_VIRTIO_PMEM:
		ret = pmem_create(d, &o, err);
		break;
	default:
		ret = vmem_create(d, &o, err);
		break;
	}
	if (ret) {
		free(d->id);
		free(d);
		errno = -ret;
		return NULL;
	}
	/*
	 * Claim a free memdev now: memdev.c finds the alignment of a container
	 * region through it, and destroying the device gives it back.
	 */
	if (o.memdev && !o.memdev->user)
		o.memdev->user = d;
	return d;

err_free:
	free(d);
err_nomem:
	errno = ENOMEM;
	ms_error_set(err, -ENOMEM, "device_add: out of memory");
	return NULL;
}

static struct ms_backend *memdev_backend(const struct ms_memdev *d)
{
	if (!d->model || !d->model_state)
		return NULL;
	switch (d->type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		return to_dimm(d)->backend;
	case MS_MEMDEV_VIRTIO_PMEM:
		return to_pmem(d)->backend;
	case MS_MEMDEV_VIRTIO_MEM:
		return to_vmem(d)->backend;
	case MS_MEMDEV_CUSTOM:
		break;
	}
	return NULL;
}

void memdev_destroy(struct ms_memdev *d)
{
	struct ms_backend *b;

	if (!d)
		return;
	b = memdev_backend(d);
	if (b && b->user == d)
		b->user = NULL;
	if (d->model && d->model->destroy)
		d->model->destroy(d);
	free(d->id);
	free(d);
}

enum ms_memdev_type ms_memdev__type(const struct ms_memdev *dev)
{
	return dev->type;
}

const char *ms_memdev__id(const struct ms_memdev *dev)
{
	return dev->id;
}

struct ms_region *ms_memdev__region(const struct ms_memdev *dev)
{
	if (!dev->ops.get_memory_region)
		return NULL;
	return dev->ops.get_memory_region(dev->opaque, NULL);
}

void ms_memdev__info(const struct ms_memdev *dev, struct ms_memdev_info *info)
{
	const struct vmem *s = vmem_of(dev);
	struct ms_region *mr;

	memset(info, 0, sizeof(*info));
	info->type = dev->type;
	info->id = dev->id;
	info->slot = -1;
	info->node = dev->node_id;
	info->hotplugged = dev->hotplugged;
	if (dev->ops.get_addr)
		info->addr = dev->ops.get_addr(dev->opaque);
	if (dev->ops.get_plugged_size)
		info->plugged_size = dev->ops.get_plugged_size(dev->opaque);
	info->memslots = dev->ops.get_memslots ? dev->ops.get_memslots(dev->opaque) : 1;

	/* memslots_used: the flat ranges the device has mapped now */
	mr = ms_memdev__region(dev);
	if (s && s->dynamic_memslots && s->memslots)
		info->memslots_used = s->nr_active;
	else if (mr && ms_region__container(mr))
		info->memslots_used = 1;

	if (dev->model && dev->model->info) {
		dev->model->info(dev, info);
	} else if (mr) {
		info->size = ms_region__size(mr);
		info->hotpluggable = true;
	}
}
