// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The virtio-pmem device model (memory-devices.md rule 11.3), listed in
 * devices.c's model table. Error texts are QEMU's.
 */
#include <errno.h>
#include <stdlib.h>

#include "memdev_internal.h"

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
	if (memdev_backend_busy(b, d))
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

static int pmem_create(struct ms_memdev *d, const struct ms_memdev_opts *o, struct ms_error *err)
{
	struct pmem *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ms_error_set(err, -ENOMEM, "virtio-pmem: out of memory");
	s->backend = o->memdev;
	s->addr = o->addr;
	d->model_state = s;
	d->ops = (struct ms_memdev_ops) {
		.get_addr = pmem_get_addr,
		.set_addr = pmem_set_addr,
		.get_plugged_size = pmem_get_plugged_size,
		.get_memory_region = pmem_get_memory_region,
	};
	return 0;
}

static struct ms_backend *pmem_backend(const struct ms_memdev *d)
{
	return to_pmem(d)->backend;
}

const struct memdev_model pmem_model = {
	.name = "virtio-pmem-pci",
	.type = MS_MEMDEV_VIRTIO_PMEM,
	.create = pmem_create,
	.backend = pmem_backend,
	.realize = pmem_realize,
	.unplug_request = pmem_unplug_request,
	.destroy = pmem_destroy,
	.info = pmem_info,
};
