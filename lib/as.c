// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Address spaces: the view each one shows, the topology diff its
 * listeners see, ioeventfds and coalesced MMIO
 * (listeners-and-transactions.md 2, 4, 5; regions-and-flatview.md 7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool coalesced_clip(const struct ms_flat_range *fr, const struct coalesced *c,
			   uint64_t *addr, uint64_t *len)
{
	/* rule 5.2: shift to address-space coordinates, intersect */
	ms_s128 s = (ms_s128)c->start + fr->start - fr->offset_in_region;
	ms_s128 e = s + (ms_s128)c->size;
	ms_s128 rs = fr->start, re = rs + (ms_s128)fr->size;

	if (s < rs)
		s = rs;
	if (e > re)
		e = re;
	if (s >= e)
		return false;
	*addr = (uint64_t)s;
	*len = (ms_u128)(e - s) >= MS_SIZE_2_64 ? UINT64_MAX : (uint64_t)(e - s);
	return true;
}

void listener_coalesced(struct ms_listener *l, struct ms_flatview *fv,
			const struct ms_flat_range *fr, bool add, bool stop_early)
{
	void (*cb)(void *, const struct ms_section *, uint64_t, uint64_t) =
		add ? l->ops.coalesced_io_add : l->ops.coalesced_io_del;
	struct ms_section s;
	uint64_t addr, len;

	if (!cb)
		return;
	flat_range_section(fv, fr, &s);
	for (unsigned int i = 0; i < fr->mr->nr_coalesced; i++) {
		if (coalesced_clip(fr, &fr->mr->coalesced[i], &addr, &len))
			cb(l->opaque, &s, addr, len);
		else if (stop_early)
			break;	/* rule 6.3 */
	}
}

static void as_coalesced(struct ms_as *as, struct ms_flatview *fv,
			 const struct ms_flat_range *fr, bool add)
{
	struct ms_listener *l;
	struct list_head *pos;

	if (!fr->mr->nr_coalesced)
		return;
	if (add) {
		FOR_AS_FWD(l, as, pos)
			listener_coalesced(l, fv, fr, true, false);
	} else {
		FOR_AS_REV(l, as, pos)
			listener_coalesced(l, fv, fr, false, false);
	}
}

/* rule 2.3: the dirty-log mask is not compared */
static bool flatrange_equal(const struct ms_flat_range *a, const struct ms_flat_range *b)
{
	return a->mr == b->mr && a->start == b->start && a->size == b->size &&
	       a->offset_in_region == b->offset_in_region && a->romd_mode == b->romd_mode &&
	       a->readonly == b->readonly && a->nonvolatile == b->nonvolatile &&
	       a->unmergeable == b->unmergeable;
}

typedef void (*section_cb)(void *opaque, const struct ms_section *s);

static void call_as(struct ms_as *as, struct ms_flatview *fv, const struct ms_flat_range *fr,
		    size_t cb_off, bool reverse)
{
	struct ms_listener *l;
	struct list_head *pos;
	struct ms_section s;
	section_cb cb;

	flat_range_section(fv, fr, &s);
	if (reverse) {
		FOR_AS_REV(l, as, pos)
			if ((cb = *(section_cb *)((char *)&l->ops + cb_off)))
				cb(l->opaque, &s);
	} else {
		FOR_AS_FWD(l, as, pos)
			if ((cb = *(section_cb *)((char *)&l->ops + cb_off)))
				cb(l->opaque, &s);
	}
}

static void call_log(struct ms_as *as, struct ms_flatview *fv, const struct ms_flat_range *fr,
		     int old, int new, bool start)
{
	struct ms_listener *l;
	struct list_head *pos;
	struct ms_section s;

	flat_range_section(fv, fr, &s);
	if (start) {
		FOR_AS_FWD(l, as, pos)
			if (l->ops.log_start)
				l->ops.log_start(l->opaque, &s, old, new);
	} else {
		FOR_AS_REV(l, as, pos)
			if (l->ops.log_stop)
				l->ops.log_stop(l->opaque, &s, old, new);
	}
}

/* A run of ranges: @left of them, from an array or from a view. */
struct cursor {
	const struct ms_flat_range *arr, *cur;
	struct fv_iter it;
	size_t left;
};

static void cursor_next(struct cursor *c)
{
	if (!c->left) {
		c->cur = NULL;
		return;
	}
	c->left--;
	c->cur = c->arr ? c->arr++ : fv_next(&c->it);
}

static struct cursor cursor_of_view(const struct ms_flatview *fv, size_t from, size_t n)
{
	struct cursor c = { .it = fv_iter_at(fv, from), .left = n };

	cursor_next(&c);
	return c;
}

static struct cursor cursor_of_array(const struct ms_flat_range *r, size_t n)
{
	struct cursor c = { .arr = r, .left = n };

	cursor_next(&c);
	return c;
}

/* rules 2.1, 2.2: one pass of the topology diff, over ranges of two views */
static void topology_pass(struct ms_as *as, struct ms_flatview *old, struct cursor oc,
			  struct ms_flatview *new, struct cursor nc, bool adding)
{
	while (oc.cur || nc.cur) {
		const struct ms_flat_range *o = oc.cur, *n = nc.cur;

		if (o && (!n || o->start < n->start ||
			  (o->start == n->start && !flatrange_equal(o, n)))) {
			if (!adding) {
				as_coalesced(as, old, o, false);
				call_as(as, old, o, offsetof(struct ms_listener_ops, region_del),
					true);
			}
			cursor_next(&oc);
		} else if (o && n && flatrange_equal(o, n)) {
			if (adding) {
				call_as(as, new, n, offsetof(struct ms_listener_ops, region_nop),
					false);
				if (n->dirty_log_mask & ~o->dirty_log_mask)
					call_log(as, new, n, o->dirty_log_mask,
						 n->dirty_log_mask, true);
				if (o->dirty_log_mask & ~n->dirty_log_mask)
					call_log(as, new, n, o->dirty_log_mask,
						 n->dirty_log_mask, false);
			}
			cursor_next(&oc);
			cursor_next(&nc);
		} else {
			if (adding) {
				call_as(as, new, n, offsetof(struct ms_listener_ops, region_add),
					false);
				as_coalesced(as, new, n, true);
			}
			cursor_next(&nc);
		}
	}
}

void as_update_topology_pass(struct ms_as *as, struct ms_flatview *old,
			     struct ms_flatview *new, bool adding)
{
	topology_pass(as, old, cursor_of_view(old, 0, old->nr), new,
		      cursor_of_view(new, 0, new->nr), adding);
}

/*
 * Outside the replacements the ranges are the same at the same places, so
 * a full pass would only call region_nop there: the replacements are the
 * diff.
 */
void as_update_topology_patch(struct ms_as *as, struct ms_flatview *fv,
			      const struct fv_patch *p, bool adding)
{
	for (size_t k = 0; k < p->nr; k++) {
		const struct fv_repl *x = &p->repl[k];

		topology_pass(as, fv, cursor_of_array(x->old, x->old_hi - x->old_lo), fv,
			      cursor_of_view(fv, x->new_lo, x->nr), adding);
	}
}

static int ioeventfd_qcmp(const void *a, const void *b)
{
	return ioeventfd_cmp(a, b);
}

static void call_eventfd(struct ms_as *as, const struct ioeventfd *e, bool add)
{
	struct ms_section s = {
		.fv = as->fv,
		.offset_within_address_space = e->addr,
		.size = e->size,
	};
	struct ms_listener *l;
	struct list_head *pos;

	/* rule 1.4: eventfd_add goes Reverse, eventfd_del Forward */
	if (add) {
		FOR_AS_REV(l, as, pos)
			if (l->ops.eventfd_add)
				l->ops.eventfd_add(l->opaque, &s, e->match_data, e->data,
						   e->notifier);
	} else {
		FOR_AS_FWD(l, as, pos)
			if (l->ops.eventfd_del)
				l->ops.eventfd_del(l->opaque, &s, e->match_data, e->data,
						   e->notifier);
	}
}

/* rule 4.3 */
void as_update_ioeventfds(struct ms_as *as)
{
	struct ms_flatview *fv = as->fv;
	struct ioeventfd *list = NULL, *n;
	unsigned int nr = 0, alloc = 0, io = 0, in = 0;

	if (!as->nr_eventfd_listeners)
		return;		/* rule 4.4 (current QEMU) */
	const struct ms_flat_range *fr;

	fv_for_each(fv, it, fr) {
		ms_u128 rs = fr->start, re = rs + fr->size;

		for (unsigned int k = 0; k < fr->mr->nr_ioeventfds; k++) {
			struct ioeventfd e = fr->mr->ioeventfds[k];
			ms_u128 es, ee;

			e.addr += fr->start - fr->offset_in_region;
			es = e.addr;
			ee = es + e.size;
			/* intersection test of two ranges where an empty one counts if
			 * its start lies inside the other */
			if (!((es >= rs && es < re) || (rs >= es && rs < ee)))
				continue;
			if (nr == alloc) {
				alloc = alloc ? 2 * alloc : 8;
				n = realloc(list, alloc * sizeof(*n));
				if (!n) {
					free(list);
					pr_warn("memslot: ioeventfd update: out of memory\n");
					return;
				}
				list = n;
			}
			list[nr++] = e;
		}
	}
	if (nr)
		qsort(list, nr, sizeof(*list), ioeventfd_qcmp);
	while (io < as->nr_ioeventfds || in < nr) {
		if (io < as->nr_ioeventfds &&
		    (in == nr || ioeventfd_cmp(&as->ioeventfds[io], &list[in]) < 0)) {
			call_eventfd(as, &as->ioeventfds[io++], false);
		} else if (in < nr && (io == as->nr_ioeventfds ||
				       ioeventfd_cmp(&list[in], &as->ioeventfds[io]) < 0)) {
			call_eventfd(as, &list[in++], true);
		} else {
			io++;
			in++;
		}
	}
	free(as->ioeventfds);
	as->ioeventfds = list;
	as->nr_ioeventfds = nr;
}

struct ms_as *ms_as__new(struct ms_ctx *ctx, struct ms_region *root, const char *name,
			 struct ms_error *err)
{
	struct ms_as *as;

	if (!ctx || (root && root->ctx != ctx)) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "address space %s: bad arguments",
			     name ? name : "anonymous");
		return NULL;
	}
	as = calloc(1, sizeof(*as));
	if (!as || !(as->name = strdup(name ? name : "anonymous")))
		goto err_nomem;
	/* rule 7.2: compute the view now, reusing a cached one */
	as->fv = ctx_view_for_root(ctx, root);
	if (!as->fv)
		goto err_nomem;
	ms_flatview__ref(as->fv);
	as->ctx = ctx;
	as->root = ms_region__ref(root);
	list_init(&as->listeners);
	list_add_before(&as->node, &ctx->as_list);
	return as;

err_nomem:
	if (as)
		free(as->name);
	free(as);
	errno = ENOMEM;
	ms_error_set(err, -ENOMEM, "address space %s: out of memory", name ? name : "anonymous");
	return NULL;
}

int ms_as__free(struct ms_as *as)
{
	if (!as)
		return 0;
	if (as_has_listeners(as))
		return -EBUSY;
	list_del(&as->node);
	ms_flatview__unref(as->fv);
	ms_region__unref(as->root);
	free(as->ioeventfds);
	free(as->name);
	free(as);
	/* The view cache keeps its views (and their regions) until the next
	 * rebuild, so a new address space can still share them (rule 7.4). */
	return 0;
}

const char *ms_as__name(const struct ms_as *as) { return as->name; }
struct ms_region *ms_as__root(const struct ms_as *as) { return as->root; }
struct ms_ctx *ms_as__ctx(const struct ms_as *as) { return as->ctx; }
struct ms_flatview *ms_as__flatview(const struct ms_as *as) { return as->fv; }

/* rule 5.1: notify every address space showing @mr about one coalesced range */
void ctx_coalesced_notify(struct ms_region *mr, const struct coalesced *c, bool add)
{
	struct list_head *pos, *lp;
	struct ms_listener *l;

	list_for_each(pos, &mr->ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);
		struct ms_flatview *fv = as->fv;

		const struct ms_flat_range *fr;

		fv_for_each(fv, it, fr) {
			struct ms_section s;
			uint64_t addr, len;

			if (fr->mr != mr || !coalesced_clip(fr, c, &addr, &len))
				continue;
			flat_range_section(fv, fr, &s);
			if (add) {
				FOR_AS_FWD(l, as, lp)
					if (l->ops.coalesced_io_add)
						l->ops.coalesced_io_add(l->opaque, &s, addr, len);
			} else {
				FOR_AS_REV(l, as, lp)
					if (l->ops.coalesced_io_del)
						l->ops.coalesced_io_del(l->opaque, &s, addr, len);
			}
		}
	}
}
