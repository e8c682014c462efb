/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot internals of the virtio-mem device model, shared by
 * virtio_mem.c (the model: properties, sizing, memslots, realize) and
 * virtio_mem_blocks.c (plugged blocks: plug/unplug requests, memslot
 * activation, RamDiscardManager listeners). Not installed.
 */
#ifndef MEMSLOT_VIRTIO_MEM_INTERNAL_H
#define MEMSLOT_VIRTIO_MEM_INTERNAL_H

#include "memdev_internal.h"

#define KiB	(1ULL << 10)
#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)

/* memory-devices.md 2.2 (x86 target) */
#define VIRTIO_MEM_MIN_BLOCK_SIZE	MiB
#define VIRTIO_MEM_MIN_MEMSLOT_SIZE	GiB
#define VIRTIO_MEM_USABLE_EXTENT	(2 * 128 * MiB)

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

static inline struct vmem *to_vmem(const struct ms_memdev *d)
{
	return d->model_state;
}

/* a virtio-mem device with a memdev (every device that was added has one) */
static inline struct vmem *vmem_of(const struct ms_memdev *d)
{
	struct vmem *s;

	if (!d || d->type != MS_MEMDEV_VIRTIO_MEM || !d->model_state)
		return NULL;
	s = d->model_state;
	return s->backend ? s : NULL;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* virtio_mem.c: rule 8.6, resize the usable region towards @requested */
void vmem_resize_usable_region(struct vmem *s, uint64_t requested, bool can_shrink);

/* virtio_mem_blocks.c: ram_block_discard_range of a backend's host RAM */
int ram_discard(const struct ms_backend *b, uint64_t off, uint64_t len);

#endif /* MEMSLOT_VIRTIO_MEM_INTERNAL_H */
