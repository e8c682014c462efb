// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-mem's plugged blocks (memory-devices.md rules 8, 10): plug and
 * unplug requests on the block bitmap, the host RAM behind them,
 * activation of dynamic memslots, and the RamDiscardManager listeners.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bitmap.h"
#include "virtio_mem_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Host RAM of a backend (QEMU's ram_block_discard_range): shared memory is
 * freed with a hole punch (fd) or MADV_REMOVE, private memory with
 * MADV_DONTNEED. Described-only backends have no host memory.
 */
int ram_discard(const struct ms_backend *b, uint64_t off, uint64_t len)
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

/*
 * virtio_mem_deactivate_unplugged_memslots (rule 10.6), one transaction;
 * non-zero when its commit could not render (the views kept the memslots)
 */
static int vmem_deactivate(struct vmem *s, uint64_t off, uint64_t size)
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
	return ms_ctx__commit(ctx);
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
	if (ms_ctx__commit(ctx) && !ret)
		ret = -ENOMEM;	/* the views do not show the memslots yet */
	/* QEMU aborts when KVM refuses a slot; answer BUSY instead */
	return ret ? ret : kvm_failed(s->d->m) ? -EIO : 0;
}

static int rdm_notify_populate(struct vmem *s, uint64_t off, uint64_t size);

/* Map again every memslot of [off, off + size) holding a plugged block
 * (after a failed deactivation of that range: the kernel kept those slots,
 * so no ioctl is issued). */
static void vmem_reactivate_plugged(struct vmem *s, uint64_t off, uint64_t size)
{
	struct ms_ctx *ctx = s->d->m->ctx;
	uint32_t i, first, last;

	memslot_span(s, off, size, &first, &last);
	ms_ctx__begin(ctx);
	for (i = first; i < last; i++) {
		if (!s->memslot_plugged[i] || memslot_mapped(s, i))
			continue;
		if (!ms_region__add_subregion(s->mr, (uint64_t)i * s->memslot_size,
					      s->memslots[i], NULL))
			s->nr_active++;
	}
	ms_ctx__commit(ctx);
}

/* the plugged size, which the machine's total follows (rule 12.1) */
static void vmem_set_size(struct vmem *s, uint64_t size)
{
	uint64_t old = s->size;

	s->size = size;
	memdev_plugged_size_changed(s->d, old, size);
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
	vmem_set_size(s, s->size + size);
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
	vmem_set_size(s, s->size - size);
	/* rule 10.6: after the bitmap update */
	if (s->dynamic_memslots) {
		kvm_watch(s->d->m);
		if (vmem_deactivate(s, offset, size) || kvm_failed(s->d->m)) {
			/* KVM kept a slot, or the views did: the blocks stay
			 * plugged (QEMU aborts) */
			vmem_set_range(s, offset, size, true);
			vmem_set_size(s, s->size + size);
			vmem_reactivate_plugged(s, offset, size);
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
		vmem_set_size(s, 0);
		if (s->dynamic_memslots) {
			kvm_watch(s->d->m);
			if (vmem_deactivate(s, 0, b->size) || kvm_failed(s->d->m)) {
				memcpy(s->bitmap, bitmap, words * sizeof(*bitmap));
				memcpy(s->memslot_plugged, plugged,
				       s->nr_memslots * sizeof(*plugged));
				vmem_set_size(s, old_size);
				vmem_reactivate_plugged(s, 0, b->size);
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
