// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vhost backends, the memslot consumers next to KVM (memory-devices.md
 * section 9): each keeps the region table of the machine's memory address
 * space through a listener, within its memslot limit. Also the list of
 * all consumers (KVM and vhost).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memdev_internal.h"

/* One entry of a vhost region table (rule 9.3). */
struct vhost_sec {
	struct ms_region *mr;
	uint64_t gpa, size, offset;
	bool unmergeable;
};

struct vhost_backend {
	struct ms_machine *m;
	struct list_head node;		/* in m->vhosts */
	char *name;
	uint32_t limit;
	bool needs_fd;
	struct ms_listener *listener;
	/*
	 * The table is rebuilt at every topology update from region_add and
	 * region_nop, which arrive in ascending address order; merging only
	 * ever looks at the previous entry, so the count and the last entry
	 * are all that has to be kept.
	 */
	uint32_t nregions;		/* table of the last commit */
	uint32_t building;		/* entries of the update in progress */
	struct vhost_sec last;
	bool touched;			/* a section callback ran since begin */
	bool warned;			/* rule 9.2's message is logged once */
};

/* Does @mr have a file descriptor a vhost-user backend could map? */
static bool region_has_fd(const struct ms_machine *m, const struct ms_region *mr)
{
	const struct ms_backend *b;

	if (ms_region__fd(mr) >= 0)
		return true;
	/* described-only backends (no_memory) stand for fd-backed memory too */
	b = backend_of_region(m, mr);
	return b && b->mr == mr && b->kind != MS_BACKEND_RAM;
}

/* rule 9.3: which sections a vhost backend maps */
static bool vhost_section(const struct vhost_backend *v, const struct ms_section *s)
{
	const uint8_t handled = MS_DIRTY_MIGRATION | MS_DIRTY_CODE;

	if (!s->mr || !ms_region__is_ram(s->mr) || ms_region__is_rom(s->mr))
		return false;
	if (ms_region__dirty_log_mask(s->mr) & ~handled)
		return false;
	if (v->needs_fd && !region_has_fd(v->m, s->mr))
		return false;
	return true;
}

static void vhost_add_section(struct vhost_backend *v, const struct ms_section *s)
{
	struct vhost_sec cur = {
		.mr = s->mr,
		.gpa = s->offset_within_address_space,
		.size = s->size >= MS_SIZE_2_64 ? UINT64_MAX : (uint64_t)s->size,
		.offset = s->offset_within_region,
		.unmergeable = s->unmergeable,
	};
	struct vhost_sec *prev = &v->last;

	if (v->needs_fd) {
		/* vhost-user maps whole pages of the RAM block */
		const struct ms_backend *b = backend_of_region(v->m, s->mr);
		uint64_t page = b && b->mr == s->mr ? b->page_size : host_page_size(v->m);
		uint64_t a = cur.offset & (page - 1);

		cur.offset -= a;
		cur.gpa -= a;
		cur.size += a;
		a = cur.size & (page - 1);
		if (a)
			cur.size += page - a;
	}

	if (v->building && !cur.unmergeable) {
		uint64_t prev_last = prev->gpa + prev->size - 1;

		if (cur.gpa <= prev_last + 1) {
			/* touching or overlapping (after rounding) the previous entry */
			if (cur.gpa < prev->gpa) {
				pr_warn("vhost %s: section of %s rounded below the previous one\n",
					v->name, ms_region__name(cur.mr));
				return;
			}
			if (cur.mr == prev->mr && !prev->unmergeable &&
			    prev->offset + (cur.gpa - prev->gpa) == cur.offset) {
				uint64_t end = prev->offset + prev->size;

				if (cur.offset + cur.size > end)
					end = cur.offset + cur.size;
				prev->size = end - prev->offset;
				return;
			}
			if (cur.gpa != prev_last + 1) {
				pr_warn("vhost %s: overlapping sections at 0x%llx\n", v->name,
					(unsigned long long)cur.gpa);
				return;
			}
		}
	}
	v->building++;
	*prev = cur;
}

static void vhost_begin(void *opaque)
{
	struct vhost_backend *v = opaque;

	v->building = 0;
	v->touched = false;
}

static void vhost_addnop(void *opaque, const struct ms_section *s)
{
	struct vhost_backend *v = opaque;

	v->touched = true;
	if (vhost_section(v, s))
		vhost_add_section(v, s);
}

static void vhost_del(void *opaque, const struct ms_section *s)
{
	struct vhost_backend *v = opaque;

	(void)s;
	v->touched = true;
}

static void vhost_commit(void *opaque)
{
	struct vhost_backend *v = opaque;

	/* begin/commit are global: an update that did not touch "memory"
	 * leaves the table as it was */
	if (v->touched)
		v->nregions = v->building;
	v->touched = false;
}

static const struct ms_listener_ops vhost_listener_ops = {
	.begin = vhost_begin,
	.commit = vhost_commit,
	.region_add = vhost_addnop,
	.region_nop = vhost_addnop,
	.region_del = vhost_del,
};

static void vhost_free(struct vhost_backend *v)
{
	if (!v)
		return;
	ms_listener__free(v->listener);
	free(v->name);
	free(v);
}

/* rule 9.2: vhost_get_max_memslots() */
uint32_t vhost_max_memslots(const struct ms_machine *m)
{
	uint32_t max = MS_MEMSLOTS_UNLIMITED;
	struct list_head *pos;

	list_for_each(pos, &m->vhosts) {
		const struct vhost_backend *v = list_entry(pos, struct vhost_backend, node);

		if (v->limit < max)
			max = v->limit;
	}
	return max;
}

/* rule 9.2: vhost_get_free_memslots() */
uint32_t vhost_free_memslots(const struct ms_machine *m)
{
	uint32_t free_slots = MS_MEMSLOTS_UNLIMITED;
	struct list_head *pos;

	list_for_each(pos, &m->vhosts) {
		struct vhost_backend *v = list_entry(pos, struct vhost_backend, node);

		if (v->nregions > v->limit) {
			if (!v->warned) {
				v->warned = true;
				pr_warn("used (%u) vhost backend memory slots exceed the device limit (%u).\n",
					v->nregions, v->limit);
			}
			free_slots = 0;
		} else if (v->limit - v->nregions < free_slots) {
			free_slots = v->limit - v->nregions;
		}
	}
	return free_slots;
}

int ms_machine__add_vhost(struct ms_machine *m, const char *name, uint32_t limit,
			  bool needs_fd, struct ms_error *err)
{
	struct vhost_backend *v;
	uint32_t reserved;
	int ret;

	if (!m || !name)
		return ms_error_set(err, -EINVAL, "vhost: no machine or name");
	/* rule 9.4, first check */
	if (limit < MS_MEMDEV_SAFE_MAX_MEMSLOTS && memdev_auto_decision_active(m)) {
		/* QEMU's hint goes to the log: the message fills the line */
		ms_pr(MS_INFO, "Try plugging this vhost backend before plugging such memory devices.\n");
		return ms_error_set(err, -EBUSY,
				    "some memory device (like virtio-mem) decided how many memory slots to use based on the overall number of memory slots; this vhost backend would further restricts the overall number of memory slots");
	}
	v = calloc(1, sizeof(*v));
	if (!v || !(v->name = strdup(name)))
		goto err_nomem;
	v->m = m;
	v->limit = limit;
	v->needs_fd = needs_fd;
	list_init(&v->node);
	v->listener = ms_listener__new(&vhost_listener_ops, v, MS_LISTENER_PRIORITY_DEV_BACKEND,
				       name);
	if (!v->listener)
		goto err_nomem;
	/* the registration replay fills the region table */
	ret = ms_listener__register(v->listener, m->memory_as, err);
	if (ret) {
		vhost_free(v);
		return ret;
	}
	/* rule 9.4, second check */
	reserved = memdev_reserved_memslots(m);
	if ((uint64_t)v->nregions + reserved > limit) {
		uint32_t used = v->nregions;

		vhost_free(v);
		return ms_error_set(err, -ENOSPC,
				    "vhost backend memory slots limit (%u) is less than current number of used (%u) and reserved (%u) memory slots for memory devices.",
				    limit, used, reserved);
	}
	list_add_before(&v->node, &m->vhosts);
	return 0;

err_nomem:
	vhost_free(v);
	return ms_error_set(err, -ENOMEM, "vhost %s: out of memory", name);
}

int ms_machine__for_each_consumer(const struct ms_machine *m,
				  int (*fn)(const struct ms_consumer_info *c, void *opaque),
				  void *opaque)
{
	struct ms_consumer_info c;
	struct list_head *pos;
	int ret;

	if (m->kvm) {
		memset(&c, 0, sizeof(c));
		c.kind = MS_CONSUMER_KVM;
		c.name = "kvm";
		kvm_memslots(m, &c.max, &c.free);
		c.used = kvm_used_memslots(m);
		ret = fn(&c, opaque);
		if (ret)
			return ret;
	}
	list_for_each(pos, &m->vhosts) {
		const struct vhost_backend *v = list_entry(pos, struct vhost_backend, node);

		memset(&c, 0, sizeof(c));
		c.kind = MS_CONSUMER_VHOST;
		c.name = v->name;
		c.max = v->limit;
		c.used = v->nregions;
		c.free = v->nregions > v->limit ? 0 : v->limit - v->nregions;
		ret = fn(&c, opaque);
		if (ret)
			return ret;
	}
	return 0;
}

void vhost_machine_fini(struct ms_machine *m)
{
	while (!list_empty(&m->vhosts)) {
		struct vhost_backend *v = list_entry(m->vhosts.next, struct vhost_backend, node);

		list_del(&v->node);
		vhost_free(v);
	}
}
