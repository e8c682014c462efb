// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The built-in memory device models' table and factory
 * (memory-devices.md rules 1, 5.1, 12): memdev_create finds a device's
 * model in the table and lets it fill the memory-device interface
 * (&struct ms_memdev_ops, rule 1.1) with @opaque = the device, and the
 * model hooks that memdev.c calls in QEMU's order (see memdev_internal.h).
 * The models: dimm.c (pc-dimm, nvdimm), virtio_pmem.c, virtio_mem.c.
 * Also the hash tables behind the lookups by id and by region.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memdev_internal.h"

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
 * Owner text of a region the device creates (qemu-mtree-format.md 5): the
 * device itself (@sub: the QOM child holding the region, e.g. the virtio
 * device of a PCI proxy). Anonymous devices' QOM paths are not modelled.
 */
void memdev_set_owner(const struct ms_memdev *d, struct ms_region *mr, const char *sub)
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

/*
 * The memdev is claimed (ms_backend.user) at creation when free; "busy"
 * means claimed by another device, which QEMU finds only at realize.
 */
bool memdev_backend_busy(const struct ms_backend *b, const struct ms_memdev *d)
{
	return b->mapped || (b->user && b->user != d);
}

/* --- lookup tables ---------------------------------------------------------- */

/* FNV-1a */
uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

static void htab_rehash(struct htab *t, struct hnode **b, size_t nb)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct hnode *n, *next;

		for (n = t->b[i]; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	if (t->b != t->inl)
		free(t->b);
	t->b = b;
	t->nb = nb;
}

void htab_add(struct htab *t, struct hnode *n, uint64_t hash)
{
	struct hnode **slot;

	if (!t->nb) {
		t->b = t->inl;
		t->nb = HTAB_INLINE;
	}
	/* load factor 1; without memory the chains just grow longer */
	if (t->n >= t->nb && t->nb <= SIZE_MAX / 2 / sizeof(*t->b)) {
		struct hnode **b = calloc(t->nb * 2, sizeof(*b));

		if (b)
			htab_rehash(t, b, t->nb * 2);
	}
	n->hash = hash;
	slot = &t->b[hash & (t->nb - 1)];
	n->next = *slot;
	*slot = n;
	t->n++;
}

void htab_del(struct htab *t, struct hnode *n)
{
	struct hnode **p;

	if (!t->nb)
		return;
	for (p = &t->b[n->hash & (t->nb - 1)]; *p; p = &(*p)->next) {
		if (*p == n) {
			*p = n->next;
			n->next = NULL;
			t->n--;
			return;
		}
	}
}

void htab_fini(struct htab *t)
{
	if (t->b != t->inl)
		free(t->b);
	memset(t, 0, sizeof(*t));
}

/* --- the model table ------------------------------------------------------ */

/* the built-in models; memdev_create looks a device's model up here */
static const struct memdev_model *const models[] = {
	&dimm_model,
	&nvdimm_model,
	&pmem_model,
	&vmem_model,
};

static const struct memdev_model *find_model(enum ms_memdev_type type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(models); i++) {
		if (models[i]->type == type)
			return models[i];
	}
	return NULL;
}

/* --- creation, destruction and queries -------------------------------------- */

struct ms_memdev *memdev_create(struct ms_machine *m, const struct ms_memdev_opts *opts,
				struct ms_error *err)
{
	const struct memdev_model *model;
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
	model = find_model(o.type);
	if (!model) {
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
	list_init(&d->custom_node);
	d->type = o.type;
	d->opaque = d;
	d->hotplugged = o.hotplugged;
	d->node_id = o.node;

	d->model = model;
	ret = model->create(d, &o, err);
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

struct ms_backend *memdev_backend(const struct ms_memdev *d)
{
	if (!d->model || !d->model_state)
		return NULL;
	return d->model->backend(d);
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

	/* memslots_used: the flat ranges the device has mapped now (virtio-mem
	 * with dynamic memslots counts its own in its info hook) */
	mr = ms_memdev__region(dev);
	if (mr && ms_region__container(mr))
		info->memslots_used = 1;

	if (dev->model && dev->model->info) {
		dev->model->info(dev, info);
	} else if (mr) {
		info->size = ms_region__size(mr);
		info->hotpluggable = true;
	}
}
