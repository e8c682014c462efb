// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The virtio-mem device model (memory-devices.md rules 8, 10), listed in
 * devices.c's model table: properties, block and region sizing, the
 * memslot decision and realize. Plugged blocks are in
 * virtio_mem_blocks.c. Error texts are QEMU's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio_mem_internal.h"

#define THP_PATH		"/sys/kernel/mm/transparent_hugepage/"
#define THP_PMD_SIZE_PATH	THP_PATH "hpage_pmd_size"

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
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
			memdev_set_owner(d, s->mr, "virtio-backend");
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
void vmem_resize_usable_region(struct vmem *s, uint64_t requested, bool can_shrink)
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
		memdev_set_owner(s->d, s->memslots[i], "virtio-backend");
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
	if (memdev_backend_busy(b, d))
		return ms_error_set(err, -EBUSY, "'memdev' property specifies a busy memdev: %s",
				    b->id);
	if (!backend_has_ram_block(b) || ms_region__is_rom(b->mr) || b->readonly)
		return ms_error_set(err, -EINVAL, "'memdev' property specifies an unsupported memdev");
	if (b->prealloc)
		return ms_error_set(err, -EINVAL,
				    "'memdev' property specifies a memdev with preallocation enabled: %s. Instead, specify 'prealloc=on' for the virtio-mem device.",
				    b->id);
	/* below the -numa nodes (node 0 without NUMA); QEMU's text lacks a space */
	if (d->node_id >= (d->m->opts.numa_nodes ?: 1))
		return ms_error_set(err, -EINVAL,
				    "'node' property has value '%u', which exceedsthe number of numa nodes: %u",
				    d->node_id, d->m->opts.numa_nodes ?: 1);
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
	/* memslots_used: with dynamic memslots, the ones mapped now */
	if (s->backend && s->dynamic_memslots && s->memslots)
		info->memslots_used = s->nr_active;
}

static int vmem_create(struct ms_memdev *d, const struct ms_memdev_opts *o, struct ms_error *err)
{
	struct vmem *s;

	/* property setters run before realize (virtio_mem_set_block_size) */
	if (o->block_size || o->block_size_set) {
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

static struct ms_backend *vmem_backend(const struct ms_memdev *d)
{
	return to_vmem(d)->backend;
}

const struct memdev_model vmem_model = {
	.name = "virtio-mem-pci",
	.type = MS_MEMDEV_VIRTIO_MEM,
	.create = vmem_create,
	.backend = vmem_backend,
	.realize = vmem_realize,
	.unplug_request = vmem_unplug_request,
	.destroy = vmem_destroy,
	.info = vmem_info,
};
