// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device memory: plugging memory devices, memslot accounting and the
 * automatic memslot decision (memory-devices.md sections 1, 3, 5-7 and
 * 12; current QEMU). The vhost consumers are in vhost.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memdev_internal.h"

/* -------------------------------------------------------------------------
 * Device-memory state and the counting listener (rules 3.3, 6.2)
 */

static void devmem_region_mod(struct ms_machine *m, const struct ms_section *s, bool add)
{
	if (!s->mr || !ms_region__is_ram(s->mr)) {
		m->warnings++;
		pr_warn("Unexpected memory region mapped into device memory region.\n");
		return;
	}
	/* each flat range counts once, split regions several times */
	if (add)
		m->used_memslots++;
	else
		m->used_memslots--;
	if (m->used_memslots > m->required_memslots) {
		m->warnings++;
		pr_warn("Memory devices use more memory slots than indicated as required.\n");
	}
}

static void devmem_region_add(void *opaque, const struct ms_section *s)
{
	devmem_region_mod(opaque, s, true);
}

static void devmem_region_del(void *opaque, const struct ms_section *s)
{
	devmem_region_mod(opaque, s, false);
}

static const struct ms_listener_ops devmem_listener_ops = {
	.region_add = devmem_region_add,
	.region_del = devmem_region_del,
};

int memdev_devmem_init(struct ms_machine *m, struct ms_error *err)
{
	int ret;

	/* flat ranges are absolute: the root is mapped at base (rule 7.6) */
	m->devmem_as = ms_as__new(m->ctx, m->devmem, "device-memory", err);
	if (!m->devmem_as)
		return -(errno ?: ENOMEM);
	m->devmem_listener = ms_listener__new(&devmem_listener_ops, m,
					      MS_LISTENER_PRIORITY_MIN, "device-memory");
	if (!m->devmem_listener) {
		ret = ms_error_set(err, -ENOMEM, "device-memory: out of memory");
		goto err_as;
	}
	ret = ms_listener__register(m->devmem_listener, m->devmem_as, err);
	if (ret)
		goto err_listener;
	return 0;

err_listener:
	ms_listener__free(m->devmem_listener);
	m->devmem_listener = NULL;
err_as:
	ms_as__free(m->devmem_as);
	m->devmem_as = NULL;
	return ret;
}

/* rule 6.4 */
uint32_t memdev_reserved_memslots(const struct ms_machine *m)
{
	if (!m->devmem || m->used_memslots > m->required_memslots)
		return 0;
	return m->required_memslots - m->used_memslots;
}

/* rule 6.5 */
bool memdev_auto_decision_active(const struct ms_machine *m)
{
	return m->devmem && m->auto_decision_active > 0;
}

/* -------------------------------------------------------------------------
 * The memslot decision limit (rule 7)
 */

uint32_t ms_memslot_decision_limit(const struct ms_decision_input *in)
{
	uint32_t max = in->vhost_max, free_slots = in->vhost_free;
	uint32_t memslots;
	uint64_t available;
	double share;

	if (in->kvm_enabled) {
		if (in->kvm_max < max)
			max = in->kvm_max;
		if (in->kvm_free < free_slots)
			free_slots = in->kvm_free;
	}
	if (max < MS_MEMDEV_SAFE_MAX_MEMSLOTS)
		return 1;
	if (in->required >= MS_MEMDEV_SOFT_MEMSLOT_LIMIT)
		return 1;
	memslots = MS_MEMDEV_SOFT_MEMSLOT_LIMIT - in->required;
	/* step 7 wraps like QEMU's unsigned int; step 8 catches it */
	if ((uint32_t)(free_slots - in->reserved) < memslots)
		memslots = free_slots - in->reserved;
	if (memslots < 1 || free_slots < in->reserved)
		return 1;
	if (in->size == in->hotpluggable)
		return memslots;
	available = in->hotpluggable - in->used_region_size;
	if (!available)
		return 1;	/* QEMU divides by zero; the space check fails next */
	share = (double)memslots * (double)in->size / (double)available;
	if (share < 1)
		return 1;
	/* only reached with size > available, which the space check refuses */
	if (share >= 4294967295.0)
		return UINT32_MAX;
	return (uint32_t)share;
}

uint32_t memdev_decision_limit(const struct ms_machine *m, uint64_t size)
{
	struct ms_decision_input in = {
		.kvm_enabled = m->kvm != NULL,
		.vhost_max = vhost_max_memslots(m),
		.vhost_free = vhost_free_memslots(m),
		.required = m->required_memslots,
		.reserved = memdev_reserved_memslots(m),
		.size = size,
		.hotpluggable = m->layout.hotpluggable,
		.used_region_size = m->used_region_size,
	};

	if (m->kvm)
		kvm_memslots(m, &in.kvm_max, &in.kvm_free);
	return ms_memslot_decision_limit(&in);
}

/* -------------------------------------------------------------------------
 * The memory-device interface
 */

/* The device's region; NULL for an empty device, or on error if @err. */
static struct ms_region *device_region(const struct ms_memdev *d, struct ms_error *err)
{
	struct ms_error e = { 0 };
	struct ms_region *mr = d->ops.get_memory_region(d->opaque, &e);

	if (!mr && e.err && err)
		*err = e;
	return mr;
}

static uint32_t device_memslots(const struct ms_memdev *d)
{
	return d->ops.get_memslots ? d->ops.get_memslots(d->opaque) : 1;
}

/*
 * memory_region_get_alignment(): QEMU keeps it on the region; here it is
 * the alignment of the backend behind the region (an alias such as
 * "nvdimm-memory" has its memdev's alignment), or of the backend the
 * device uses (ms_backend.user) for a container such as virtio-mem's,
 * which takes its memdev's.
 * 0 if no backend is involved (a custom device's own region).
 */
static uint64_t region_alignment(const struct ms_machine *m, const struct ms_memdev *d,
				 const struct ms_region *mr)
{
	const struct ms_backend *b = backend_of_region(m, mr);

	if (b)
		return b->align;
	if (ms_region__kind(mr) != MS_REGION_CONTAINER)
		return 0;
	/* only a built-in device claims a backend */
	b = memdev_backend(d);
	return b && b->user == d ? b->align : 0;
}

/* rule 5.3 */
static int check_addable(struct ms_machine *m, struct ms_memdev *d, uint64_t size,
			 struct ms_error *err)
{
	uint64_t hotpluggable = m->layout.hotpluggable;
	uint64_t need;
	uint32_t max, free_slots;

	if (d->ops.decide_memslots)
		d->ops.decide_memslots(d->opaque, memdev_decision_limit(m, size));
	need = (uint64_t)device_memslots(d) + memdev_reserved_memslots(m);

	if (m->kvm) {
		kvm_memslots(m, &max, &free_slots);
		if (free_slots < need)
			return ms_error_set(err, -ENOSPC,
					    "hypervisor has not enough free memory slots left");
	}
	if (vhost_free_memslots(m) < need)
		return ms_error_set(err, -ENOSPC,
				    "a used vhost backend has not enough free memory slots left");
	if (m->used_region_size + size < m->used_region_size ||
	    m->used_region_size + size > hotpluggable)
		return ms_error_set(err, -ENOSPC,
				    "not enough space, currently 0x%llx in use of total space for memory devices 0x%llx",
				    (unsigned long long)m->used_region_size,
				    (unsigned long long)hotpluggable);
	return 0;
}

/* QEMU's Range: an inclusive [lob, upb], or empty */
struct range {
	uint64_t lob, upb;
	bool empty;
};

/* false if @lob + @size wraps (to 0 included) */
static bool range_init(struct range *r, uint64_t lob, uint64_t size)
{
	if (lob + size < lob) {
		r->lob = 1;
		r->upb = 0;
		r->empty = true;
		return false;
	}
	r->lob = lob;
	r->upb = lob + size - 1;
	r->empty = size == 0;
	return true;
}

static bool range_overlaps(const struct range *a, const struct range *b)
{
	return !a->empty && !b->empty && a->lob <= b->upb && b->lob <= a->upb;
}

static bool range_contains(const struct range *outer, const struct range *inner)
{
	return !outer->empty && !inner->empty && outer->lob <= inner->lob &&
	       inner->upb <= outer->upb;
}

/* round_up(@v, @align); false if the result does not fit in 64 bits */
static bool align_up_checked(uint64_t v, uint64_t align, uint64_t *out)
{
	ms_u128 r = ((ms_u128)v + align - 1) / align * align;

	if (r > UINT64_MAX)
		return false;
	*out = (uint64_t)r;
	return true;
}

/* -------------------------------------------------------------------------
 * The address tree (struct addr_node): plugged devices in m->devices
 * order, a treap with priorities hashed from the plug sequence. Each node
 * sums up its subtree's ranges, so that rule 5.5's scan in address order
 * passes over a whole subtree at once: O(log n) per plug, unplug and
 * free-address search instead of O(devices).
 */

static bool an_less(const struct addr_node *a, const struct addr_node *b)
{
	return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

/* append ranges spanning [@lob, @upb] with widest inner gap @gap to @a's */
static void an_append(struct addr_node *a, uint64_t lob, uint64_t upb, uint64_t gap)
{
	if (!a->any) {
		a->any = true;
		a->min_lob = lob;
		a->max_upb = upb;
		a->max_gap = gap;
		return;
	}
	/* the gap to everything before; overlapping ranges leave none */
	if (lob > a->max_upb && lob - a->max_upb - 1 > a->max_gap)
		a->max_gap = lob - a->max_upb - 1;
	if (gap > a->max_gap)
		a->max_gap = gap;
	if (upb > a->max_upb)
		a->max_upb = upb;
}

static void an_pull(struct ms_memdev *d)
{
	struct addr_node *a = &d->an;
	const struct addr_node *l = a->l ? &a->l->an : NULL, *r = a->r ? &a->r->an : NULL;

	a->any = false;
	a->max_gap = 0;
	if (l && l->any)
		an_append(a, l->min_lob, l->max_upb, l->max_gap);
	if (a->ranged)
		an_append(a, a->lob, a->upb, 0);
	if (r && r->any)
		an_append(a, r->min_lob, r->max_upb, r->max_gap);
}

/* split @t into the nodes before @d (*l) and the others (*r) */
static void an_split(struct ms_memdev *t, const struct addr_node *d, struct ms_memdev **l,
		     struct ms_memdev **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (an_less(&t->an, d)) {
		an_split(t->an.r, d, &t->an.r, r);
		an_pull(t);
		*l = t;
	} else {
		an_split(t->an.l, d, l, &t->an.l);
		an_pull(t);
		*r = t;
	}
}

static struct ms_memdev *an_merge(struct ms_memdev *a, struct ms_memdev *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->an.prio > b->an.prio) {
		a->an.r = an_merge(a->an.r, b);
		an_pull(a);
		return a;
	}
	b->an.l = an_merge(a, b->an.l);
	an_pull(b);
	return b;
}

static struct ms_memdev *an_insert(struct ms_memdev *t, struct ms_memdev *d)
{
	struct ms_memdev *l, *r;

	an_split(t, &d->an, &l, &r);
	d->an.l = d->an.r = NULL;
	an_pull(d);
	return an_merge(an_merge(l, d), r);
}

static struct ms_memdev *an_remove(struct ms_memdev *t, struct ms_memdev *d)
{
	struct ms_memdev *rest;

	if (!t)
		return NULL;
	if (t == d) {
		rest = an_merge(d->an.l, d->an.r);
		d->an.l = d->an.r = NULL;
		return rest;
	}
	if (an_less(&d->an, &t->an))
		t->an.l = an_remove(t->an.l, d);
	else
		t->an.r = an_remove(t->an.r, d);
	an_pull(t);
	return t;
}

/* the first device with a key above @key, or NULL */
static struct ms_memdev *an_first_above(struct ms_memdev *t, uint64_t key)
{
	struct ms_memdev *best = NULL;

	while (t) {
		if (t->an.key > key) {
			best = t;
			t = t->an.l;
		} else {
			t = t->an.r;
		}
	}
	return best;
}

/*
 * rule 5.5 step 6 without a hint: move @cand past a range ending at @upb,
 * to round_up(upb + 1, align). true if no candidate is left.
 */
static bool move_past(struct range *cand, uint64_t upb, uint64_t size, uint64_t align)
{
	uint64_t next;

	if (upb + 1 == 0 || !align_up_checked(upb + 1, align, &next) || !next ||
	    !range_init(cand, next, size)) {
		cand->empty = true;
		return true;
	}
	return false;
}

/*
 * rule 5.5 step 6 without a hint: QEMU's scan of the ranges in address
 * order, over the subtree @t. A subtree wholly below the candidate is
 * passed over; one starting above it ends the scan; one whose free gaps are
 * all narrower than @size cannot hold the candidate anywhere it overlaps,
 * so the scan would leave it just past its last byte. true if the scan
 * stops.
 */
static bool scan_free(const struct ms_memdev *t, struct range *cand, uint64_t size,
		      uint64_t align)
{
	const struct addr_node *a = t ? &t->an : NULL;
	struct range r;

	if (!a || !a->any || a->max_upb < cand->lob)
		return false;
	if (a->min_lob > cand->upb)
		return true;
	if (a->max_gap < size)
		return move_past(cand, a->max_upb, size, align);
	if (scan_free(a->l, cand, size, align))
		return true;
	if (a->ranged) {
		r = (struct range){ .lob = a->lob, .upb = a->upb };
		if (range_overlaps(&r, cand)) {
			if (move_past(cand, a->upb, size, align))
				return true;
		} else if (a->lob > cand->upb) {
			return true;
		}
	}
	return scan_free(a->r, cand, size, align);
}

/* rule 5.5 step 6 with a hint: the first device in address order overlapping @cand */
static const struct ms_memdev *first_overlap(const struct ms_memdev *t, const struct range *cand)
{
	const struct addr_node *a = t ? &t->an : NULL;
	const struct ms_memdev *o;

	if (!a || !a->any || a->max_upb < cand->lob || a->min_lob > cand->upb)
		return NULL;
	o = first_overlap(a->l, cand);
	if (o)
		return o;
	if (a->ranged && a->lob <= cand->upb && cand->lob <= a->upb)
		return t;
	return first_overlap(a->r, cand);
}

/* rule 5.5: memory_device_get_free_addr() */
static int get_free_addr(struct ms_machine *m, const uint64_t *hint, uint64_t align,
			 uint64_t size, uint64_t *addr, struct ms_error *err)
{
	struct range as, cand = { .empty = true };
	uint64_t start;

	range_init(&as, m->layout.devmem_base, m->layout.devmem_size);
	if (as.lob % align)
		pr_warn("the alignment (0x%llx) exceeds the expected maximum alignment, memory will get fragmented and not all 'maxmem' might be usable for memory devices.\n",
			(unsigned long long)align);

	if (hint && *hint % align)
		return ms_error_set(err, -EINVAL, "address must be aligned to 0x%llx bytes",
				    (unsigned long long)align);
	if (hint) {
		if (!range_init(&cand, *hint, size) || !range_contains(&as, &cand))
			return ms_error_set(err, -EINVAL,
					    "can't add memory device [0x%llx:0x%llx], usable range for memory devices [0x%llx:0x%llx]",
					    (unsigned long long)*hint, (unsigned long long)size,
					    (unsigned long long)m->layout.devmem_base,
					    (unsigned long long)m->layout.devmem_size);
	} else if (!align_up_checked(as.lob, align, &start) || !range_init(&cand, start, size)) {
		return ms_error_set(err, -ENOSPC, "can't add memory device, device too big");
	}

	if (hint) {
		const struct ms_memdev *o = first_overlap(m->addr_tree, &cand);

		if (o)
			return ms_error_set(err, -EBUSY,
					    "address range conflicts with memory device id='%s'",
					    o->id ? o->id : "(unnamed)");
	} else if (!cand.empty) {
		scan_free(m->addr_tree, &cand, size, align);
	}

	if (!range_contains(&as, &cand))
		return ms_error_set(err, -ENOSPC,
				    "could not find position in guest address space for memory device - memory fragmented due to alignments");
	*addr = cand.lob;
	return 0;
}

/* rule 5.2 */
int memory_device_pre_plug(struct ms_machine *m, struct ms_memdev *d, struct ms_error *err)
{
	struct ms_error e = { 0 };
	struct ms_region *mr;
	uint64_t size, ralign, align = 0, hint, addr = 0;
	int ret;

	mr = d->ops.get_memory_region(d->opaque, &e);
	if (!mr && !e.err)
		return 0;	/* empty device (rule 1.3) */
	if (!m->devmem)
		return ms_error_set(err, -ENOTSUP,
				    "the configuration is not prepared for memory devices (e.g., for memory hotplug), consider specifying the maxmem option");
	if (!mr) {
		if (err)
			*err = e;
		return e.err < 0 ? e.err : -EINVAL;
	}
	size = ms_region__size(mr);
	ret = check_addable(m, d, size, err);
	if (ret)
		return ret;
	/* only the region's own alignment here, not the device minimum */
	ralign = region_alignment(m, d, mr);
	/* 7.2, pc-i440fx-2.1 and older: DIMMs use the target page (rule 4.4) */
	if (m->opts.legacy_dimm_align &&
	    (d->type == MS_MEMDEV_DIMM || d->type == MS_MEMDEV_NVDIMM))
		ralign = 4096;
	if (ralign && size % ralign)
		return ms_error_set(err, -EINVAL, "backend memory size must be multiple of 0x%llx",
				    (unsigned long long)ralign);
	if (d->ops.get_min_alignment)
		align = d->ops.get_min_alignment(d->opaque);
	if (ralign > align)
		align = ralign;
	if (!align)
		align = 1;
	hint = d->ops.get_addr(d->opaque);
	ret = get_free_addr(m, hint ? &hint : NULL, align, size, &addr, err);
	if (ret)
		return ret;
	d->ops.set_addr(d->opaque, addr);
	return 0;
}

/* Return: 0, or -ENOMEM if a view still shows @mr (ms_ctx__commit()). */
static int devmem_unmap(struct ms_machine *m, struct ms_region *mr)
{
	ms_ctx__begin(m->ctx);
	ms_region__del_subregion(m->devmem, mr, NULL);
	return ms_ctx__commit(m->ctx);
}

static void count_plug(struct ms_machine *m, const struct ms_memdev *d, uint64_t size,
		       uint32_t memslots)
{
	m->used_region_size += size;
	m->required_memslots += memslots;
	if (d->ops.decide_memslots && memslots > 1)
		m->auto_decision_active++;
}

static void count_unplug(struct ms_machine *m, const struct ms_memdev *d, uint64_t size,
			 uint32_t memslots)
{
	if (d->ops.decide_memslots && memslots > 1)
		m->auto_decision_active--;
	m->used_region_size -= size;
	m->required_memslots -= memslots;
}

/*
 * rule 5.6, plug: counters, then the mapping. Undone entirely if the
 * region cannot be mapped or KVM refuses a slot.
 */
static int devmem_plug(struct ms_machine *m, struct ms_memdev *d, struct ms_error *err)
{
	struct ms_region *mr = device_region(d, NULL);
	const struct ms_error *kerr;
	uint64_t addr, size;
	uint32_t memslots;
	int ret, commit;

	if (!mr)
		return 0;
	if (!m->devmem)
		return ms_error_set(err, -ENOTSUP, "device memory: not present");
	addr = d->ops.get_addr(d->opaque);
	size = ms_region__size(mr);
	memslots = device_memslots(d);
	kvm_watch(m);

	count_plug(m, d, size, memslots);
	ms_ctx__begin(m->ctx);
	ret = ms_region__add_subregion_overlap(m->devmem, addr - m->layout.devmem_base, mr, 0,
					       err);
	commit = ms_ctx__commit(m->ctx);
	if (ret) {
		count_unplug(m, d, size, memslots);
		return ret;
	}
	if (commit) {
		/* a view does not show the device: unmap it again */
		devmem_unmap(m, mr);
		count_unplug(m, d, size, memslots);
		return ms_error_set(err, commit, "device memory: out of memory mapping 0x%llx",
				    (unsigned long long)addr);
	}
	kerr = kvm_window_error(m);
	if (kerr) {
		ret = kerr->err ? kerr->err : -EIO;
		if (err)
			*err = *kerr;
		devmem_unmap(m, mr);
		count_unplug(m, d, size, memslots);
		return ret;
	}
	return 0;
}

/* rule 5.6, unplug: the mapping, then counters with today's memslot count */
static int devmem_unplug(struct ms_machine *m, struct ms_memdev *d, struct ms_error *err)
{
	struct ms_region *mr = device_region(d, NULL);
	const struct ms_error *kerr;
	uint64_t size;

	if (!mr || !m->devmem)
		return 0;
	size = ms_region__size(mr);
	if (ms_region__container(mr) == m->devmem) {
		int ret;

		kvm_watch(m);
		ms_region__ref(mr);
		ret = devmem_unmap(m, mr);
		kerr = kvm_window_error(m);
		if (kerr || ret) {
			/* map it again: nothing changed */
			if (kerr) {
				ret = kerr->err ? kerr->err : -EIO;
				if (err)
					*err = *kerr;
			} else {
				ms_error_set(err, ret, "device memory: out of memory unmapping 0x%llx",
					     (unsigned long long)d->ops.get_addr(d->opaque));
			}
			ms_ctx__begin(m->ctx);
			ms_region__add_subregion_overlap(m->devmem, d->ops.get_addr(d->opaque) -
							 m->layout.devmem_base, mr, 0, NULL);
			ms_ctx__commit(m->ctx);
			ms_region__unref(mr);
			return ret;
		}
		ms_region__unref(mr);
	}
	count_unplug(m, d, size, device_memslots(d));
	return 0;
}

void memory_device_plug(struct ms_machine *m, struct ms_memdev *d)
{
	devmem_plug(m, d, NULL);
}

void memory_device_unplug(struct ms_machine *m, struct ms_memdev *d)
{
	devmem_unplug(m, d, NULL);
}

/* -------------------------------------------------------------------------
 * device_add / device_del
 */

static struct ms_memdev *find_device(const struct ms_machine *m, const char *id)
{
	uint64_t hash = hash_str(id);
	struct hnode *n;

	for (n = htab_bucket(&m->device_ids, hash); n; n = n->next) {
		struct ms_memdev *d = container_of(n, struct ms_memdev, id_node);

		if (n->hash == hash && !strcmp(d->id, id))
			return d;
	}
	return NULL;
}

struct ms_memdev *ms_machine__find_device(const struct ms_machine *m, const char *id)
{
	return m && id ? find_device(m, id) : NULL;
}

/*
 * A device has just been plugged: m->devices stays sorted by address,
 * equal addresses in plug order (12.2); the address tree, the id table and
 * the plugged-size total follow.
 */
static void index_add(struct ms_machine *m, struct ms_memdev *d)
{
	struct ms_region *mr = device_region(d, NULL);
	struct addr_node *a = &d->an;
	struct ms_memdev *next;
	struct range r;

	memset(a, 0, sizeof(*a));
	a->key = d->ops.get_addr(d->opaque);
	a->seq = ++m->plug_seq;
	a->prio = (uint32_t)hash_u64(a->seq);
	/* what the scan of rule 5.5 sees: empty devices are skipped */
	if (mr && range_init(&r, a->key, ms_region__size(mr)) && !r.empty) {
		a->ranged = true;
		a->lob = r.lob;
		a->upb = r.upb;
	}
	next = an_first_above(m->addr_tree, a->key);
	list_add_before(&d->node, next ? &next->node : &m->devices);
	m->addr_tree = an_insert(m->addr_tree, d);
	if (d->id)
		htab_add(&m->device_ids, &d->id_node, hash_str(d->id));
	if (!d->model) {
		list_add_before(&d->custom_node, &m->custom_devices);
	} else if (mr) {
		d->in_total = true;
		m->plugged_size += d->ops.get_plugged_size(d->opaque);
	}
}

static void index_del(struct ms_machine *m, struct ms_memdev *d)
{
	list_del(&d->node);
	m->addr_tree = an_remove(m->addr_tree, d);
	if (d->id)
		htab_del(&m->device_ids, &d->id_node);
	if (!d->model)
		list_del(&d->custom_node);
	if (d->in_total)
		m->plugged_size -= d->ops.get_plugged_size(d->opaque);
	d->in_total = false;
}

void memdev_plugged_size_changed(struct ms_memdev *d, uint64_t old, uint64_t new)
{
	if (d->in_total)
		d->m->plugged_size += new - old;
}

static bool is_dimm(const struct ms_memdev *d)
{
	/* rule 5.1.1: dimm_size counts DIMMs, not NVDIMMs */
	return d->type == MS_MEMDEV_DIMM;
}

static uint64_t device_region_size(const struct ms_memdev *d)
{
	struct ms_region *mr = device_region(d, NULL);

	return mr ? ms_region__size(mr) : 0;
}

/* The hotplug handler steps, in the order of memdev_internal.h. */
static int plug_device(struct ms_machine *m, struct ms_memdev *d, struct ms_error *err)
{
	const struct memdev_model *model = d->model;
	uint64_t dimm_size, hint;
	int ret;

	if (model && model->pre_plug) {
		ret = model->pre_plug(d, err);
		if (ret)
			return ret;
	}
	hint = d->ops.get_addr(d->opaque);
	ret = memory_device_pre_plug(m, d, err);
	if (ret)
		return ret;
	if (model && model->realize) {
		ret = model->realize(d, err);
		if (ret)
			goto err_addr;
	}
	ret = devmem_plug(m, d, err);
	if (ret)
		goto err_addr;
	index_add(m, d);
	d->plugged = true;
	dimm_size = m->dimm_size;
	if (model && model->plug)
		model->plug(d);
	/* pc_dimm_plug's share, unless the model's plug hook already did it */
	if (is_dimm(d) && m->dimm_size == dimm_size)
		m->dimm_size += device_region_size(d);
	return 0;

err_addr:
	/* a custom device keeps its state: give the address back */
	d->ops.set_addr(d->opaque, hint);
	return ret;
}

static void custom_free(struct ms_memdev *d)
{
	free(d->id);
	free(d);
}

static void device_free(struct ms_memdev *d)
{
	if (d->model)
		memdev_destroy(d);
	else
		custom_free(d);
}

static int check_id(const struct ms_machine *m, const char *id, struct ms_error *err)
{
	if (id && find_device(m, id))
		return ms_error_set(err, -EEXIST, "Duplicate ID '%s' for device", id);
	return 0;
}

struct ms_memdev *ms_machine__device_add(struct ms_machine *m, const struct ms_memdev_opts *opts,
					 struct ms_error *err)
{
	struct ms_memdev_opts o;
	struct ms_memdev *d;
	int ret;

	if (!m || !opts) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "device_add: no machine or options");
		return NULL;
	}
	/* older or newer callers: hand the models one complete struct */
	memset(&o, 0, sizeof(o));
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	o.sz = sizeof(o);
	ret = check_id(m, o.id, err);
	if (ret)
		goto fail;
	d = memdev_create(m, &o, err);
	if (!d) {
		ret = -(errno ?: EINVAL);
		goto fail;
	}
	ret = plug_device(m, d, err);
	if (ret) {
		device_free(d);
		goto fail;
	}
	return d;

fail:
	errno = -ret;
	return NULL;
}

struct ms_memdev *ms_machine__device_add_custom(struct ms_machine *m, const char *id,
						const struct ms_memdev_ops *ops, void *opaque,
						struct ms_error *err)
{
	struct ms_memdev *d;
	int ret;

	if (!m || !ops || !ops->get_addr || !ops->set_addr || !ops->get_plugged_size ||
	    !ops->get_memory_region) {
		ret = ms_error_set(err, -EINVAL, "device %s: missing memory-device callbacks",
				   id ? id : "(unnamed)");
		goto fail;
	}
	ret = check_id(m, id, err);
	if (ret)
		goto fail;
	d = calloc(1, sizeof(*d));
	if (!d || (id && !(d->id = strdup(id)))) {
		free(d);
		ret = ms_error_set(err, -ENOMEM, "device %s: out of memory", id ? id : "(unnamed)");
		goto fail;
	}
	d->m = m;
	list_init(&d->node);
	list_init(&d->custom_node);
	d->type = MS_MEMDEV_CUSTOM;
	d->ops = *ops;
	d->opaque = opaque;
	ret = plug_device(m, d, err);
	if (ret) {
		custom_free(d);
		goto fail;
	}
	return d;

fail:
	errno = -ret;
	return NULL;
}

/* Unplug without refusals: memory-device unplug, then the model's part. */
static int unplug_device(struct ms_machine *m, struct ms_memdev *d, struct ms_error *err)
{
	uint64_t size = device_region_size(d), dimm_size;
	int ret;

	ret = devmem_unplug(m, d, err);
	if (ret)
		return ret;
	index_del(m, d);
	d->plugged = false;
	dimm_size = m->dimm_size;
	if (d->model && d->model->unplug)
		d->model->unplug(d);
	if (is_dimm(d) && m->dimm_size == dimm_size)
		m->dimm_size -= size;
	return 0;
}

int ms_machine__device_del(struct ms_machine *m, struct ms_memdev *dev, struct ms_error *err)
{
	int ret;

	if (!m || !dev || dev->m != m || !dev->plugged)
		return ms_error_set(err, -EINVAL, "device %s: not plugged into this machine",
				    dev && dev->id ? dev->id : "(unnamed)");
	if (dev->model && dev->model->unplug_request) {
		ret = dev->model->unplug_request(dev, err);
		if (ret)
			return ret;
	}
	ret = unplug_device(m, dev, err);
	if (ret)
		return ret;
	device_free(dev);
	return 0;
}

int ms_machine__for_each_device(const struct ms_machine *m,
				int (*fn)(struct ms_memdev *dev, void *opaque), void *opaque)
{
	struct list_head *pos, *next;
	int ret;

	for (pos = m->devices.next; pos != &m->devices; pos = next) {
		next = pos->next;
		ret = fn(list_entry(pos, struct ms_memdev, node), opaque);
		if (ret)
			return ret;
	}
	return 0;
}

void ms_machine__devmem_stats(const struct ms_machine *m, struct ms_devmem_stats *st)
{
	struct list_head *pos;

	memset(st, 0, sizeof(*st));
	st->present = m->devmem != NULL;
	st->used_region_size = m->used_region_size;
	st->dimm_size = m->dimm_size;
	st->required_memslots = m->required_memslots;
	st->used_memslots = m->used_memslots;
	st->reserved_memslots = memdev_reserved_memslots(m);
	st->auto_decision_active = m->auto_decision_active;
	st->warnings = m->warnings;
	/* rule 12.1: realized, non-empty devices */
	st->plugged_size = m->plugged_size;
	list_for_each(pos, &m->custom_devices) {
		const struct ms_memdev *d = list_entry(pos, struct ms_memdev, custom_node);

		if (device_region(d, NULL))
			st->plugged_size += d->ops.get_plugged_size(d->opaque);
	}
}

void memdev_machine_fini(struct ms_machine *m)
{
	/* stop counting first: teardown is not a hot-unplug (rule 6.2) */
	ms_listener__free(m->devmem_listener);
	m->devmem_listener = NULL;
	while (!list_empty(&m->devices)) {
		struct ms_memdev *d = list_entry(m->devices.next, struct ms_memdev, node);

		if (unplug_device(m, d, NULL)) {
			/* cannot fail without KVM executor errors; drop it anyway */
			index_del(m, d);
			d->plugged = false;
		}
		device_free(d);
	}
	htab_fini(&m->device_ids);
	vhost_machine_fini(m);
	ms_as__free(m->devmem_as);
	m->devmem_as = NULL;
}
