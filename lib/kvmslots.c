// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memslot mapping: the decisions of QEMU's KVM memory listener, without
 * ioctls (kvm-memslots.md sections 3-6 and 8).
 *
 * KVM allows tens of thousands of slots, so no step of an update walks
 * the table: the entry of an id is its index, the free ids are a min-heap
 * (rule 5.2's lowest free id in O(log n)), and the used ids are a treap
 * ordered by (gpa, size), beside the table in the same entries (rule 5.3's
 * exact lookup, insertion and removal in O(log n) expected).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct section_queue {
	struct ms_section *s;
	size_t nr, alloc;
};

#define NIL UINT32_MAX

/*
 * One table entry. Treap order: (gpa, size), then the newest first, so that
 * of two slots for the same range (one the kernel kept when its delete
 * failed, one created since for another region) the newer one is found.
 */
struct slot_entry {
	struct ms_memslot s;		/* size 0: free (rule 5.1) */
	uint64_t seq;			/* creation number, for the order above */
	uint32_t l, r;			/* treap children, NIL: none */
	uint32_t prio;			/* treap heap order: parent >= child */
};

struct ms_slotmap {
	struct ms_as *as;
	struct ms_listener *listener;
	uint16_t as_id;
	uint32_t max_slots;
	uint64_t max_slot_size;
	uint64_t page_size;
	bool ro_mem;
	ms_slot_exec_fn exec;
	void *exec_opaque;
	struct ms_kvm *kvm;		/* the executor is this binding */

	struct slot_entry *slots;	/* index = id */
	uint32_t nr_alloc;
	unsigned int nr_used;
	uint32_t *free_ids;		/* min-heap of the free ids below nr_alloc */
	uint32_t nr_free;
	uint32_t root;			/* treap of the used ids, NIL: empty */
	uint64_t seq;			/* slots created so far */

	struct section_queue q_add, q_del;
	struct ms_slot_op *ops;
	size_t nr_ops, alloc_ops;
	uint64_t commits;
	bool pause_needed;
	bool has_err;
	struct ms_error err;
	bool win_has_err;		/* first failure since slotmap_mark() */
	struct ms_error win_err;
};

static void map_fail(struct ms_slotmap *map, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void record(struct ms_slotmap *map, const struct ms_error *e)
{
	if (!map->has_err) {
		map->has_err = true;
		map->err = *e;
	}
	if (!map->win_has_err) {
		map->win_has_err = true;
		map->win_err = *e;
	}
}

static void map_fail(struct ms_slotmap *map, int err, const char *fmt, ...)
{
	struct ms_error e = { .err = err };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	record(map, &e);
}

/* An executor failure, with the operation's details for the caller. */
static void exec_fail(struct ms_slotmap *map, const struct ms_slot_op *op, int ret)
{
	const struct ms_memslot *s = &op->slot;
	struct ms_error e = {
		.err = ret,
		.flags = MS_ERROR_KVM,
		.op = (int)op->kind,
		.as_id = s->as_id,
		.slot = s->slot,
		.gpa = s->gpa,
		.size = s->size,
		.flags_kvm = s->flags,
		.kvm_errno = -ret,
	};

	if (map->kvm)
		e.flags |= ms_kvm__last_error(map->kvm)->flags & MS_ERROR_INJECTED;
	if (op->kind == MS_SLOT_OP_DELETE)
		snprintf(e.msg, sizeof(e.msg), "slot %u: delete at 0x%llx failed: %s", s->slot,
			 (unsigned long long)s->gpa, strerror(-ret));
	else
		snprintf(e.msg, sizeof(e.msg), "slot %u: 0x%llx+0x%llx: %s failed: %s", s->slot,
			 (unsigned long long)s->gpa, (unsigned long long)s->size,
			 op->kind == MS_SLOT_OP_CREATE ? "create" : "update", strerror(-ret));
	record(map, &e);
}

void slotmap_mark(struct ms_slotmap *map)
{
	map->win_has_err = false;
}

const struct ms_error *slotmap_window_error(const struct ms_slotmap *map)
{
	return map->win_has_err ? &map->win_err : NULL;
}

/* Log one operation and carry it out; returns the executor's result. */
static int emit(struct ms_slotmap *map, enum ms_slot_op_kind kind, const struct ms_memslot *s,
		uint32_t old_flags)
{
	struct ms_slot_op op = {
		.kind = kind,
		.slot = *s,
		.old_flags = old_flags,
		.commit = map->commits + 1,
	};
	int ret;

	if (map->nr_ops == map->alloc_ops) {
		size_t n = map->alloc_ops ? 2 * map->alloc_ops : 64;
		struct ms_slot_op *o = realloc(map->ops, n * sizeof(*o));

		if (!o) {
			map_fail(map, -ENOMEM, "slot %u: out of memory logging operations",
				 s->slot);
			return -ENOMEM;
		}
		map->ops = o;
		map->alloc_ops = n;
	}
	ret = map->exec ? map->exec(map->exec_opaque, &op) : 0;
	op.ret = ret;
	map->ops[map->nr_ops++] = op;
	if (ret)
		exec_fail(map, &op, ret);
	return ret;
}

/* Does entry @a come before entry @b in the treap? */
static bool entry_before(const struct slot_entry *a, const struct slot_entry *b)
{
	if (a->s.gpa != b->s.gpa)
		return a->s.gpa < b->s.gpa;
	if (a->s.size != b->s.size)
		return a->s.size < b->s.size;
	return a->seq > b->seq;
}

static uint32_t rotate_right(struct ms_slotmap *map, uint32_t t)
{
	uint32_t l = map->slots[t].l;

	map->slots[t].l = map->slots[l].r;
	map->slots[l].r = t;
	return l;
}

static uint32_t rotate_left(struct ms_slotmap *map, uint32_t t)
{
	uint32_t r = map->slots[t].r;

	map->slots[t].r = map->slots[r].l;
	map->slots[r].l = t;
	return r;
}

/* Insert @id below @t; returns the subtree's new root. */
static uint32_t tree_insert(struct ms_slotmap *map, uint32_t t, uint32_t id)
{
	struct slot_entry *n;

	if (t == NIL)
		return id;
	n = &map->slots[t];
	if (entry_before(&map->slots[id], n)) {
		n->l = tree_insert(map, n->l, id);
		if (map->slots[n->l].prio > n->prio)
			return rotate_right(map, t);
	} else {
		n->r = tree_insert(map, n->r, id);
		if (map->slots[n->r].prio > n->prio)
			return rotate_left(map, t);
	}
	return t;
}

/* Rotate @id down until it has at most one child, then splice it out. */
static void tree_remove(struct ms_slotmap *map, uint32_t id)
{
	struct slot_entry *e = &map->slots[id];
	uint32_t *link = &map->root;

	while (*link != id) {
		struct slot_entry *n = &map->slots[*link];

		link = entry_before(e, n) ? &n->l : &n->r;
	}
	while (e->l != NIL && e->r != NIL) {
		if (map->slots[e->l].prio > map->slots[e->r].prio) {
			*link = rotate_right(map, id);
			link = &map->slots[*link].r;
		} else {
			*link = rotate_left(map, id);
			link = &map->slots[*link].l;
		}
	}
	*link = e->l != NIL ? e->l : e->r;
}

/* A well-spread treap priority for the creation number @seq (murmur3's
 * 64-bit finalizer): independent of the address order and reproducible. */
static uint32_t seq_prio(uint64_t seq)
{
	seq ^= seq >> 33;
	seq *= 0xff51afd7ed558ccdull;
	seq ^= seq >> 33;
	seq *= 0xc4ceb9fe1a85ec53ull;
	seq ^= seq >> 33;
	return (uint32_t)seq;
}

static struct ms_memslot *lookup(const struct ms_slotmap *map, uint64_t gpa, uint64_t size)
{
	uint32_t t = map->root, found = NIL;

	/* rule 5.3: exact start and size; the first such entry is the newest */
	while (t != NIL) {
		const struct slot_entry *n = &map->slots[t];

		if (n->s.gpa < gpa || (n->s.gpa == gpa && n->s.size < size)) {
			t = n->r;
		} else {
			if (n->s.gpa == gpa && n->s.size == size)
				found = t;
			t = n->l;
		}
	}
	return found == NIL ? NULL : &map->slots[found].s;
}

static void free_push(struct ms_slotmap *map, uint32_t id)
{
	uint32_t i = map->nr_free++;

	for (; i && map->free_ids[(i - 1) / 2] > id; i = (i - 1) / 2)
		map->free_ids[i] = map->free_ids[(i - 1) / 2];
	map->free_ids[i] = id;
}

static uint32_t free_pop(struct ms_slotmap *map)
{
	uint32_t *h = map->free_ids, top = h[0], last = h[--map->nr_free], i = 0, c;

	while ((c = 2 * i + 1) < map->nr_free) {
		if (c + 1 < map->nr_free && h[c + 1] < h[c])
			c++;
		if (last <= h[c])
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = last;
	return top;
}

/* rule 5.2: the table grows by doubling up to the limit; called with no
 * free entry, so the new ids, ascending, are the whole heap */
static int grow(struct ms_slotmap *map)
{
	uint32_t n = map->nr_alloc ? 2 * map->nr_alloc : 16;
	struct slot_entry *s;
	uint32_t *f;

	if (map->nr_alloc >= map->max_slots)
		return -ENOSPC;
	if (n > map->max_slots)
		n = map->max_slots;
	s = realloc(map->slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(&s[map->nr_alloc], 0, (n - map->nr_alloc) * sizeof(*s));
	map->slots = s;
	f = realloc(map->free_ids, n * sizeof(*f));
	if (!f)
		return -ENOMEM;
	map->free_ids = f;
	for (uint32_t id = map->nr_alloc; id < n; id++)
		f[map->nr_free++] = id;
	map->nr_alloc = n;
	return 0;
}

/* rule 5.2: the lowest free entry, indexed at (@gpa, @size) */
static struct ms_memslot *alloc_slot(struct ms_slotmap *map, uint64_t gpa, uint64_t size)
{
	struct slot_entry *e;
	uint32_t id;

	if (!map->nr_free && grow(map))
		return NULL;
	id = free_pop(map);
	e = &map->slots[id];
	e->s.slot = id;
	e->s.gpa = gpa;
	e->s.size = size;
	e->seq = ++map->seq;
	e->prio = seq_prio(e->seq);
	e->l = e->r = NIL;
	map->root = tree_insert(map, map->root, id);
	map->nr_used++;
	return &e->s;
}

static void release_slot(struct ms_slotmap *map, struct ms_memslot *s)
{
	uint32_t id = s->slot;

	tree_remove(map, id);
	free_push(map, id);
	map->nr_used--;
	ms_region__unref(s->mr);
	memset(s, 0, sizeof(*s));
	s->slot = id;
}

/* rule 6.3 */
static uint32_t mem_flags(const struct ms_slotmap *map, const struct ms_region *mr)
{
	uint32_t flags = 0;

	if (region_dirty_log_mask(mr))
		flags |= MS_KVM_MEM_LOG_DIRTY_PAGES;
	if (((mr->ram && mr->readonly) || (mr->rom_device && mr->romd_mode)) && map->ro_mem)
		flags |= MS_KVM_MEM_READONLY;
	return flags;
}

/* rule 4.1: host-page trimming; returns the trimmed size (0: ignore) */
static uint64_t align_section(const struct ms_slotmap *map, const struct ms_section *s,
			      uint64_t *start, uint64_t *offset)
{
	uint64_t page = map->page_size;
	ms_u128 st = ((ms_u128)s->offset_within_address_space + page - 1) & ~(ms_u128)(page - 1);
	ms_u128 delta = st - s->offset_within_address_space;
	ms_u128 size;

	if (delta > s->size)
		return 0;
	size = (s->size - delta) & ~(ms_u128)(page - 1);
	if (!size || st >= MS_SIZE_2_64)
		return 0;
	*start = (uint64_t)st;
	*offset = s->offset_within_region + (uint64_t)delta;
	/* a slot cannot reach 2^64: KVM refuses wrapping ranges (rule 10.3) */
	return size >= MS_SIZE_2_64 ? UINT64_MAX & ~(page - 1) : (uint64_t)size;
}

static uint64_t chunk_size(const struct ms_slotmap *map, uint64_t size)
{
	return map->max_slot_size && map->max_slot_size < size ? map->max_slot_size : size;
}

/* rule 3.1 and 6.1/6.2: QEMU's kvm_set_phys_mem */
static void set_phys_mem(struct ms_slotmap *map, const struct ms_section *sec, bool add)
{
	struct ms_region *mr = sec->mr;
	uint64_t start, offset, size, chunk;
	struct ms_memslot *s;

	if (!mr->ram) {
		if (!mr->readonly && !mr->rom_device)
			return;		/* MMIO: every access exits */
		if (!map->ro_mem || !mr->rom_device)
			return;		/* rule 3.3; non-RAM read-only I/O: ignored */
		if (!mr->romd_mode)
			add = false;
	}
	size = align_section(map, sec, &start, &offset);
	if (!size)
		return;
	if (!add) {
		while (size) {
			struct ms_memslot old;

			chunk = chunk_size(map, size);
			s = lookup(map, start, chunk);
			if (!s)
				return;
			/* the ioctl carries the old address and host pointer, size 0;
			 * if it fails the kernel keeps the slot, and so do we */
			old = *s;
			old.size = 0;
			old.flags = 0;
			if (emit(map, MS_SLOT_OP_DELETE, &old, 0))
				return;
			release_slot(map, s);
			start += chunk;
			size -= chunk;
		}
		return;
	}
	while (size) {
		chunk = chunk_size(map, size);
		/* a slot the kernel kept when its delete failed is the one we want */
		s = lookup(map, start, chunk);
		if (s && s->mr == mr && s->offset_in_region == offset) {
			start += chunk;
			offset += chunk;
			size -= chunk;
			continue;
		}
		s = alloc_slot(map, start, chunk);
		if (!s && map->nr_alloc < map->max_slots) {
			map_fail(map, -ENOMEM, "%s: 0x%llx+0x%llx: out of memory growing the slot table",
				 mr->name ? mr->name : "(null)", (unsigned long long)start,
				 (unsigned long long)chunk);
			return;
		}
		if (!s) {
			map_fail(map, -ENOSPC,
				 "%s: 0x%llx+0x%llx: no free slot available (limit %u)",
				 mr->name ? mr->name : "(null)", (unsigned long long)start,
				 (unsigned long long)chunk, map->max_slots);
			return;
		}
		s->as_id = map->as_id;
		s->flags = mem_flags(map, mr);
		s->mr = ms_region__ref(mr);
		s->offset_in_region = offset;
		s->hva = mr->host ? (char *)mr->host + offset : NULL;
		if (emit(map, MS_SLOT_OP_CREATE, s, 0)) {
			release_slot(map, s);	/* the kernel has no such slot */
			return;
		}
		start += chunk;
		offset += chunk;
		size -= chunk;
	}
}

/* rules 6.6, 6.7 */
static void update_flags(struct ms_slotmap *map, const struct ms_section *sec)
{
	uint64_t start, offset, size, chunk;
	struct ms_memslot *s;

	size = align_section(map, sec, &start, &offset);
	while (size) {
		uint32_t old, flags;

		chunk = chunk_size(map, size);
		s = lookup(map, start, chunk);
		if (!s)
			return;
		old = s->flags;
		flags = mem_flags(map, sec->mr);
		if (flags != old) {
			s->flags = flags;
			if ((flags ^ old) & MS_KVM_MEM_READONLY) {
				struct ms_memslot del = *s;

				del.size = 0;
				del.flags = 0;
				if (emit(map, MS_SLOT_OP_DELETE, &del, old)) {
					s->flags = old;
					return;
				}
				if (emit(map, MS_SLOT_OP_CREATE, s, old)) {
					release_slot(map, s);
					return;
				}
			} else if (emit(map, MS_SLOT_OP_UPDATE, s, old)) {
				s->flags = old;
				return;
			}
		}
		start += chunk;
		size -= chunk;
	}
}

static int queue_push(struct section_queue *q, const struct ms_section *s)
{
	if (q->nr == q->alloc) {
		size_t n = q->alloc ? 2 * q->alloc : 32;
		struct ms_section *ns = realloc(q->s, n * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		q->s = ns;
		q->alloc = n;
	}
	q->s[q->nr] = *s;
	q->s[q->nr].fv = NULL;	/* the view may be gone at commit */
	ms_region__ref(s->mr);
	q->nr++;
	return 0;
}

static void queue_drain(struct section_queue *q)
{
	for (size_t i = 0; i < q->nr; i++)
		ms_region__unref(q->s[i].mr);
	q->nr = 0;
}

/*
 * Out of memory queueing a section, carry it out at once rather than lose
 * it: the diff reports every removal before the first addition, so the
 * removals queued so far go first and the order of rule 6.4 holds.
 */
static void l_region_add(void *opaque, const struct ms_section *s)
{
	struct ms_slotmap *map = opaque;

	if (!queue_push(&map->q_add, s))
		return;
	for (size_t i = 0; i < map->q_del.nr; i++)
		set_phys_mem(map, &map->q_del.s[i], false);
	queue_drain(&map->q_del);
	for (size_t i = 0; i < map->q_add.nr; i++)
		set_phys_mem(map, &map->q_add.s[i], true);
	queue_drain(&map->q_add);
	set_phys_mem(map, s, true);
}

static void l_region_del(void *opaque, const struct ms_section *s)
{
	struct ms_slotmap *map = opaque;

	if (queue_push(&map->q_del, s))
		set_phys_mem(map, s, false);
}

static bool sections_overlap(const struct ms_section *a, const struct ms_section *b)
{
	ms_u128 as = a->offset_within_address_space, bs = b->offset_within_address_space;

	return as < bs + b->size && bs < as + a->size;
}

/* rule 6.4: does any removal overlap any addition? Both queues are sorted
 * by address (the diff walks in address order), so one merge walk does. */
static bool queues_overlap(const struct section_queue *del, const struct section_queue *add)
{
	size_t i = 0, k = 0;

	while (i < del->nr && k < add->nr) {
		const struct ms_section *d = &del->s[i], *a = &add->s[k];

		if (sections_overlap(d, a))
			return true;
		if (d->offset_within_address_space + d->size <=
		    a->offset_within_address_space + a->size)
			i++;
		else
			k++;
	}
	return false;
}

static void l_commit(void *opaque)
{
	struct ms_slotmap *map = opaque;

	if (!map->q_add.nr && !map->q_del.nr) {
		map->pause_needed = false;
		map->commits++;
		return;
	}
	map->pause_needed = queues_overlap(&map->q_del, &map->q_add);
	for (size_t i = 0; i < map->q_del.nr; i++)
		set_phys_mem(map, &map->q_del.s[i], false);
	for (size_t i = 0; i < map->q_add.nr; i++)
		set_phys_mem(map, &map->q_add.s[i], true);
	queue_drain(&map->q_del);
	queue_drain(&map->q_add);
	map->commits++;
}

static void l_log_start(void *opaque, const struct ms_section *s, int old, int new)
{
	(void)new;
	if (!old)	/* rule 6.6: first logging client only */
		update_flags(opaque, s);
}

static void l_log_stop(void *opaque, const struct ms_section *s, int old, int new)
{
	(void)old;
	if (!new)	/* last client gone */
		update_flags(opaque, s);
}

static const struct ms_listener_ops slotmap_ops = {
	.region_add = l_region_add,
	.region_del = l_region_del,
	.commit = l_commit,
	.log_start = l_log_start,
	.log_stop = l_log_stop,
};

struct ms_slotmap *ms_slotmap__new(struct ms_as *as, const struct ms_slotmap_opts *opts,
				   struct ms_error *err)
{
	struct ms_slotmap_opts o = { 0 };
	struct ms_slotmap *map;
	long page;
	int ret;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (!as) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "slot map: no address space");
		return NULL;
	}
	if (o.kvm && o.exec) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "slot map: both a KVM binding and an executor");
		return NULL;
	}
	page = o.page_size ? (long)o.page_size : sysconf(_SC_PAGESIZE);
	if (page <= 0 || (page & (page - 1)) ||
	    (o.max_slot_size && o.max_slot_size % (uint64_t)page)) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "slot map: bad page size %ld or slot size 0x%llx", page,
			     (unsigned long long)o.max_slot_size);
		return NULL;
	}
	map = calloc(1, sizeof(*map));
	if (!map)
		goto err_nomem;
	map->as = as;
	map->as_id = o.as_id;
	map->max_slots = o.max_slots ? o.max_slots : MS_KVM_MEMSLOTS_DEFAULT;
	map->max_slot_size = o.max_slot_size;
	map->page_size = (uint64_t)page;
	map->ro_mem = !o.no_readonly_mem;
	map->root = NIL;
	/* the binding is the library's own executor, not a callback out */
	map->kvm = o.kvm;
	map->exec = o.kvm ? ms_kvm__exec : o.exec;
	map->exec_opaque = o.kvm ? (void *)o.kvm : o.exec_opaque;
	map->listener = ms_listener__new(&slotmap_ops, map, MS_LISTENER_PRIORITY_ACCEL,
					 o.name ? o.name : "kvm-memory");
	if (!map->listener)
		goto err_free;
	ret = ms_listener__register(map->listener, as, err);
	if (ret) {
		ms_listener__free(map->listener);
		free(map);
		errno = -ret;
		return NULL;
	}
	/* out of memory, the replay did not map the whole view: take back
	 * what it mapped (executor failures are the caller's to read) */
	if (map->has_err && map->err.err == -ENOMEM) {
		struct ms_error e = map->err;

		ms_listener__unregister(map->listener);
		ms_slotmap__free(map);
		if (err)
			*err = e;
		errno = -e.err;
		return NULL;
	}
	return map;

err_free:
	free(map);
err_nomem:
	errno = ENOMEM;
	ms_error_set(err, -ENOMEM, "slot map: out of memory");
	return NULL;
}

void ms_slotmap__free(struct ms_slotmap *map)
{
	if (!map)
		return;
	/* unregistering replays region_del into the queue; drop it unexecuted */
	map->exec = NULL;
	ms_listener__free(map->listener);
	queue_drain(&map->q_add);
	queue_drain(&map->q_del);
	for (uint32_t i = 0; i < map->nr_alloc; i++)
		ms_region__unref(map->slots[i].s.mr);
	free(map->q_add.s);
	free(map->q_del.s);
	free(map->slots);
	free(map->free_ids);
	free(map->ops);
	free(map);
}

unsigned int ms_slotmap__nr_used(const struct ms_slotmap *map) { return map->nr_used; }
unsigned int ms_slotmap__max_slots(const struct ms_slotmap *map) { return map->max_slots; }
struct ms_as *ms_slotmap__as(const struct ms_slotmap *map) { return map->as; }
bool ms_slotmap__vcpu_pause_needed(const struct ms_slotmap *map) { return map->pause_needed; }

int ms_slotmap__for_each(const struct ms_slotmap *map,
			 int (*fn)(const struct ms_memslot *s, void *opaque), void *opaque)
{
	int ret;

	for (uint32_t i = 0; i < map->nr_alloc; i++) {
		if (!map->slots[i].s.size)
			continue;
		ret = fn(&map->slots[i].s, opaque);
		if (ret)
			return ret;
	}
	return 0;
}

const struct ms_memslot *ms_slotmap__lookup(const struct ms_slotmap *map, uint64_t gpa,
					    uint64_t size)
{
	return lookup(map, gpa, size);
}

bool ms_slotmap__has_memory(const struct ms_slotmap *map, uint64_t start, ms_u128 size)
{
	uint64_t sz = size >= MS_SIZE_2_64 ? UINT64_MAX : (uint64_t)size;

	/* rule 8.1: only the first chunk of a split range is checked */
	return lookup(map, start, chunk_size(map, sz)) != NULL;
}

const struct ms_slot_op *ms_slotmap__ops(const struct ms_slotmap *map, size_t *nr)
{
	*nr = map->nr_ops;
	return map->ops;
}

void ms_slotmap__clear_ops(struct ms_slotmap *map)
{
	map->nr_ops = 0;
	map->has_err = false;
	memset(&map->err, 0, sizeof(map->err));
}

const struct ms_error *ms_slotmap__error(const struct ms_slotmap *map)
{
	return map->has_err ? &map->err : NULL;
}

bool ms_mtree_kvm_marker(void *opaque, struct ms_as *as, uint64_t start, ms_u128 size)
{
	struct ms_slotmap **maps = opaque;

	for (; *maps; maps++)
		if ((*maps)->as == as && ms_slotmap__has_memory(*maps, start, size))
			return true;
	return false;
}
