// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The pc-dimm and nvdimm device models (memory-devices.md rules 5.1.1,
 * 5.4, 11.1, 11.2), listed in devices.c's model table. Error texts are
 * QEMU's.
 */
#include <errno.h>
#include <stdlib.h>

#include "bitmap.h"
#include "memdev_internal.h"

#define KiB	(1ULL << 10)

/* nvdimm.c: MIN_NAMESPACE_LABEL_SIZE */
#define NVDIMM_MIN_LABEL_SIZE		(128 * KiB)

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
	memdev_set_owner(d, mr, "");
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
	/* occupied: slots of realized DIMMs and NVDIMMs (m->dimm_slots) */
	const uint64_t *busy = m->dimm_slots;
	/* rule 2.3: the machine refuses more than 256 slots */
	uint64_t nbits = slots < 256 ? slots : 256;
	int slot = s->slot;
	uint64_t i;

	/* QEMU's ram_slots is 64 bits: with 0 slots the range reads [0-2^64-1] */
	if ((slot < 0 || (uint64_t)slot >= slots) && slot != MS_MEMDEV_SLOT_AUTO)
		return ms_error_set(err, -EINVAL, "invalid slot number %d, valid range is [0-%llu]",
				    slot, (unsigned long long)(slots - 1));
	if (!slots)
		return ms_error_set(err, -EINVAL,
				    "no slots where allocated, please specify the 'slots' option");

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

static int dimm_realize(struct ms_memdev *d, struct ms_error *err)
{
	struct ms_backend *b = to_dimm(d)->backend;

	/* pc_dimm_realize: node below the -numa nodes (node 0 without NUMA) */
	if (!b)
		return ms_error_set(err, -EINVAL, "'memdev' property is not set");
	if (memdev_backend_busy(b, d))
		return ms_error_set(err, -EBUSY, "can't use already busy memdev: %s", b->id);
	if (d->node_id >= (d->m->opts.numa_nodes ?: 1))
		return ms_error_set(err, -EINVAL,
				    "'DIMM property node has value %u' which exceeds the number of numa nodes: %u",
				    d->node_id, d->m->opts.numa_nodes ?: 1);
	return 0;
}

/* the slot of a realized DIMM is busy (rule 5.4); it is below 256 */
static void dimm_slot_mark(struct ms_memdev *d, bool busy)
{
	int slot = to_dimm(d)->slot;

	if (slot >= 0 && slot < 256)
		bits_assign(d->m->dimm_slots, (uint64_t)slot, 1, busy);
}

/* pc_dimm_plug / pc_dimm_unplug: dimm_size counts "real" DIMMs only */
static void dimm_plug(struct ms_memdev *d)
{
	dimm_slot_mark(d, true);
	if (d->type == MS_MEMDEV_DIMM)
		d->m->dimm_size += to_dimm(d)->backend->size;
}

static void dimm_unplug(struct ms_memdev *d)
{
	dimm_slot_mark(d, false);
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
	d->ops = (struct ms_memdev_ops) {
		.get_addr = dimm_get_addr,
		.set_addr = dimm_set_addr,
		.get_plugged_size = dimm_get_plugged_size,
		.get_memory_region = dimm_get_memory_region,
	};
	return 0;
}

static struct ms_backend *dimm_backend(const struct ms_memdev *d)
{
	return to_dimm(d)->backend;
}

const struct memdev_model dimm_model = {
	.name = "pc-dimm",
	.type = MS_MEMDEV_DIMM,
	.create = dimm_create,
	.backend = dimm_backend,
	.pre_plug = dimm_pre_plug,
	.realize = dimm_realize,
	.plug = dimm_plug,
	.unplug = dimm_unplug,
	.destroy = dimm_destroy,
	.info = dimm_info,
};

const struct memdev_model nvdimm_model = {
	.name = "nvdimm",
	.type = MS_MEMDEV_NVDIMM,
	.create = dimm_create,
	.backend = dimm_backend,
	.pre_plug = dimm_pre_plug,
	.realize = dimm_realize,
	.plug = dimm_plug,
	.unplug = dimm_unplug,
	.unplug_request = nvdimm_unplug_request,
	.destroy = dimm_destroy,
	.info = dimm_info,
};
