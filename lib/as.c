// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Contexts, transactions, address spaces and memory listeners
 * (listeners-and-transactions.md; regions-and-flatview.md section 7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ms_ctx *ms_ctx__new(void)
{
	struct ms_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	list_init(&ctx->as_list);
	list_init(&ctx->listeners);
	ctx->running = true;
	ctx->empty_view = flatview_new_empty();
	if (!ctx->empty_view) {
		free(ctx);
		errno = ENOMEM;
		return NULL;
	}
	return ctx;
}

static void views_reset(struct ms_ctx *ctx)
{
	struct view_cache_entry *v = ctx->views;
	size_t nr = ctx->nr_views;

	/* Dropping a view can free regions, which may commit and come back
	 * here: detach the table first. */
	ctx->views = NULL;
	ctx->nr_views = ctx->alloc_views = 0;
	for (size_t i = 0; i < nr; i++)
		ms_flatview__unref(v[i].fv);
	free(v);
}

void ms_ctx__free(struct ms_ctx *ctx)
{
	if (!ctx)
		return;
	views_reset(ctx);
	if (list_empty(&ctx->as_list))
		ms_flatview__unref(ctx->empty_view);
	free(ctx);
}

unsigned int ms_ctx__depth(const struct ms_ctx *ctx)
{
	return ctx->depth;
}

void ctx_mark_update(struct ms_ctx *ctx)
{
	ctx->update_pending = true;
}

void ctx_mark_ioeventfd(struct ms_ctx *ctx)
{
	ctx->ioeventfd_pending = true;
}

void ms_ctx__begin(struct ms_ctx *ctx)
{
	ctx->depth++;
}

/* rule 7.4: one view per selected root, shared; the cache lives until the
 * next rebuild. */
static struct ms_flatview *view_for_root(struct ms_ctx *ctx, struct ms_region *root)
{
	struct ms_region *sel = flatview_select_root(root);
	struct ms_flatview *fv;

	if (!sel)
		return ctx->empty_view;	/* rule 7.5 */
	for (size_t i = 0; i < ctx->nr_views; i++)
		if (ctx->views[i].root == sel)
			return ctx->views[i].fv;
	if (ctx->nr_views == ctx->alloc_views) {
		size_t n = ctx->alloc_views ? 2 * ctx->alloc_views : 8;
		struct view_cache_entry *v = realloc(ctx->views, n * sizeof(*v));

		if (!v)
			return NULL;
		ctx->views = v;
		ctx->alloc_views = n;
	}
	fv = flatview_render(sel);
	if (!fv)
		return NULL;
	ctx->views[ctx->nr_views++] = (struct view_cache_entry){ sel, fv };
	return fv;
}

/* Listener iteration helpers: Forward = ascending priority (rule 1.4). */
#define as_listener(pos) list_entry(pos, struct ms_listener, anode)
#define g_listener(pos) list_entry(pos, struct ms_listener, gnode)

#define FOR_AS_FWD(l, as, pos) \
	for (pos = (as)->listeners.next; pos != &(as)->listeners && ((l) = as_listener(pos)); \
	     pos = pos->next)
#define FOR_AS_REV(l, as, pos) \
	for (pos = (as)->listeners.prev; pos != &(as)->listeners && ((l) = as_listener(pos)); \
	     pos = pos->prev)
#define FOR_G_FWD(l, ctx, pos) \
	for (pos = (ctx)->listeners.next; pos != &(ctx)->listeners && ((l) = g_listener(pos)); \
	     pos = pos->next)
#define FOR_G_REV(l, ctx, pos) \
	for (pos = (ctx)->listeners.prev; pos != &(ctx)->listeners && ((l) = g_listener(pos)); \
	     pos = pos->prev)

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

static void listener_coalesced(struct ms_listener *l, struct ms_flatview *fv,
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

/* rules 2.1, 2.2: one pass of the topology diff */
static void update_topology_pass(struct ms_as *as, struct ms_flatview *old,
				 struct ms_flatview *new, bool adding)
{
	size_t io = 0, in = 0;

	while (io < old->nr || in < new->nr) {
		const struct ms_flat_range *o = io < old->nr ? &old->ranges[io] : NULL;
		const struct ms_flat_range *n = in < new->nr ? &new->ranges[in] : NULL;

		if (o && (!n || o->start < n->start ||
			  (o->start == n->start && !flatrange_equal(o, n)))) {
			if (!adding) {
				as_coalesced(as, old, o, false);
				call_as(as, old, o, offsetof(struct ms_listener_ops, region_del),
					true);
			}
			io++;
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
			io++;
			in++;
		} else {
			if (adding) {
				call_as(as, new, n, offsetof(struct ms_listener_ops, region_add),
					false);
				as_coalesced(as, new, n, true);
			}
			in++;
		}
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
static void as_update_ioeventfds(struct ms_as *as)
{
	struct ms_flatview *fv = as->fv;
	struct ioeventfd *list = NULL, *n;
	unsigned int nr = 0, alloc = 0, io = 0, in = 0;

	if (!as->nr_eventfd_listeners)
		return;		/* rule 4.4 (current QEMU) */
	for (size_t i = 0; i < fv->nr; i++) {
		const struct ms_flat_range *fr = &fv->ranges[i];
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

static bool as_has_listeners(const struct ms_as *as)
{
	return !list_empty(&as->listeners);
}

static void call_global(struct ms_ctx *ctx, size_t cb_off, bool reverse)
{
	struct ms_listener *l;
	struct list_head *pos;
	void (*cb)(void *);

	if (reverse) {
		FOR_G_REV(l, ctx, pos)
			if ((cb = *(void (**)(void *))((char *)&l->ops + cb_off)))
				cb(l->opaque);
	} else {
		FOR_G_FWD(l, ctx, pos)
			if ((cb = *(void (**)(void *))((char *)&l->ops + cb_off)))
				cb(l->opaque);
	}
}

/* rule 3.1 */
static void topology_update(struct ms_ctx *ctx)
{
	struct list_head *pos;
	size_t nr_as = 0, i = 0;
	struct ms_flatview **nv;

	list_for_each(pos, &ctx->as_list)
		nr_as++;
	nv = calloc(nr_as ? nr_as : 1, sizeof(*nv));
	if (!nv) {
		pr_warn("memslot: topology update: out of memory\n");
		return;
	}
	/* 1. rebuild all views */
	views_reset(ctx);
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);

		nv[i] = view_for_root(ctx, as->root);
		if (!nv[i]) {
			pr_warn("memslot: topology update: out of memory rendering %s\n",
				as->name);
			nv[i] = as->fv;	/* keep the old view */
		}
		ms_flatview__ref(nv[i++]);
	}
	/* 2. begin */
	call_global(ctx, offsetof(struct ms_listener_ops, begin), false);
	/* 3. install and diff, per address space in creation order */
	i = 0;
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);
		struct ms_flatview *old = as->fv;

		as->fv = nv[i++];
		if (old != as->fv && as_has_listeners(as)) {
			update_topology_pass(as, old, as->fv, false);
			update_topology_pass(as, old, as->fv, true);
		}
		ms_flatview__unref(old);
		as_update_ioeventfds(as);
	}
	free(nv);
	/* 4. clear flags, 5. commit */
	ctx->update_pending = false;
	ctx->ioeventfd_pending = false;
	call_global(ctx, offsetof(struct ms_listener_ops, commit), false);
}

int ms_ctx__commit(struct ms_ctx *ctx)
{
	struct list_head *pos;

	if (!ctx->depth)
		return -EINVAL;
	if (--ctx->depth)
		return 0;
	if (ctx->in_commit)
		return 0;	/* a callback changed regions: picked up next time */
	ctx->in_commit = true;
	if (ctx->update_pending) {
		topology_update(ctx);
	} else if (ctx->ioeventfd_pending) {
		list_for_each(pos, &ctx->as_list)
			as_update_ioeventfds(list_entry(pos, struct ms_as, node));
		ctx->ioeventfd_pending = false;
	}
	ctx->in_commit = false;
	return 0;
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
	as->fv = view_for_root(ctx, root);
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

int ms_ctx__for_each_as(struct ms_ctx *ctx, int (*fn)(struct ms_as *as, void *opaque),
			void *opaque)
{
	struct list_head *pos;
	int ret = 0;

	list_for_each(pos, &ctx->as_list) {
		ret = fn(list_entry(pos, struct ms_as, node), opaque);
		if (ret)
			break;
	}
	return ret;
}

struct ms_listener *ms_listener__new(const struct ms_listener_ops *ops, void *opaque,
				     unsigned int priority, const char *name)
{
	struct ms_listener *l;

	if (!ops || (ops->log_sync && ops->log_sync_global)) {
		errno = EINVAL;	/* rule 1.3 */
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (name && !(l->name = strdup(name))) {
		free(l);
		return NULL;
	}
	l->ops = *ops;
	l->opaque = opaque;
	l->priority = priority;
	list_init(&l->gnode);
	list_init(&l->anode);
	return l;
}

/* rule 1.2: after every element of lower or equal priority */
#define INSERT_BY_PRIO(head, l, member)						\
	do {									\
		struct list_head *p_;						\
		list_for_each(p_, head)						\
			if (list_entry(p_, struct ms_listener, member)->priority > \
			    (l)->priority)					\
				break;						\
		list_add_before(&(l)->member, p_);				\
	} while (0)

static bool has_eventfd_ops(const struct ms_listener *l)
{
	return l->ops.eventfd_add || l->ops.eventfd_del;
}

int ms_listener__register(struct ms_listener *l, struct ms_as *as, struct ms_error *err)
{
	struct ms_ctx *ctx = as->ctx;
	struct ms_flatview *fv = as->fv;
	int ret;

	if (l->as)
		return ms_error_set(err, -EBUSY, "listener %s: already registered",
				    l->name ? l->name : "");
	/* rule 6.1 */
	if (l->ops.begin)
		l->ops.begin(l->opaque);
	if (ctx->global_dirty && l->ops.log_global_start) {
		ret = l->ops.log_global_start(l->opaque);
		if (ret) {
			if (l->ops.commit)
				l->ops.commit(l->opaque);
			return ms_error_set(err, ret < 0 ? ret : -EIO,
					    "listener %s: log_global_start failed",
					    l->name ? l->name : "");
		}
	}
	l->as = as;
	INSERT_BY_PRIO(&ctx->listeners, l, gnode);
	INSERT_BY_PRIO(&as->listeners, l, anode);
	for (size_t i = 0; i < fv->nr; i++) {
		const struct ms_flat_range *fr = &fv->ranges[i];
		struct ms_section s;

		flat_range_section(fv, fr, &s);
		if (l->ops.region_add)
			l->ops.region_add(l->opaque, &s);
		listener_coalesced(l, fv, fr, true, true);
		if (fr->dirty_log_mask && l->ops.log_start)
			l->ops.log_start(l->opaque, &s, 0, fr->dirty_log_mask);
	}
	if (l->ops.eventfd_add) {
		for (unsigned int i = 0; i < as->nr_ioeventfds; i++) {
			const struct ioeventfd *e = &as->ioeventfds[i];
			struct ms_section s = {
				.fv = fv,
				.offset_within_address_space = e->addr,
				.size = e->size,
			};

			l->ops.eventfd_add(l->opaque, &s, e->match_data, e->data, e->notifier);
		}
	}
	if (l->ops.commit)
		l->ops.commit(l->opaque);
	if (has_eventfd_ops(l))
		as->nr_eventfd_listeners++;
	return 0;
}

void ms_listener__unregister(struct ms_listener *l)
{
	struct ms_as *as = l->as;
	struct ms_flatview *fv;

	if (!as)
		return;
	fv = as->fv;
	if (has_eventfd_ops(l))
		as->nr_eventfd_listeners--;
	/* rule 6.2 */
	if (l->ops.begin)
		l->ops.begin(l->opaque);
	for (size_t i = 0; i < fv->nr; i++) {
		const struct ms_flat_range *fr = &fv->ranges[i];
		struct ms_section s;

		flat_range_section(fv, fr, &s);
		if (fr->dirty_log_mask && l->ops.log_stop)
			l->ops.log_stop(l->opaque, &s, fr->dirty_log_mask, 0);
		listener_coalesced(l, fv, fr, false, true);
		if (l->ops.region_del)
			l->ops.region_del(l->opaque, &s);
	}
	if (l->ops.eventfd_del) {
		for (unsigned int i = 0; i < as->nr_ioeventfds; i++) {
			const struct ioeventfd *e = &as->ioeventfds[i];
			struct ms_section s = {
				.fv = fv,
				.offset_within_address_space = e->addr,
				.size = e->size,
			};

			l->ops.eventfd_del(l->opaque, &s, e->match_data, e->data, e->notifier);
		}
	}
	if (l->ops.commit)
		l->ops.commit(l->opaque);
	list_del(&l->gnode);
	list_del(&l->anode);
	l->as = NULL;
}

void ms_listener__free(struct ms_listener *l)
{
	if (!l)
		return;
	ms_listener__unregister(l);
	free(l->name);
	free(l);
}

struct ms_as *ms_listener__as(const struct ms_listener *l)
{
	return l->as;
}

/* rule 5.1: notify every address space showing @mr about one coalesced range */
void ctx_coalesced_notify(struct ms_region *mr, const struct coalesced *c, bool add)
{
	struct list_head *pos, *lp;
	struct ms_listener *l;

	list_for_each(pos, &mr->ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);
		struct ms_flatview *fv = as->fv;

		for (size_t i = 0; i < fv->nr; i++) {
			const struct ms_flat_range *fr = &fv->ranges[i];
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

/* Dirty logging: listeners-and-transactions.md 7.2-7.5 */

static void pending_transaction(struct ms_ctx *ctx)
{
	ms_ctx__begin(ctx);
	ctx_mark_update(ctx);
	ms_ctx__commit(ctx);
}

int ms_ctx__dirty_log_start(struct ms_ctx *ctx, unsigned int flags, struct ms_error *err)
{
	struct list_head *pos, *p2;
	struct ms_listener *l;
	unsigned int old;
	int ret;

	/* a start cancels the matching postponed stops (rule 7.3) */
	ctx->postponed_stop &= ~flags;
	flags &= ~ctx->global_dirty;
	if (!flags)
		return 0;
	old = ctx->global_dirty;
	if (!old) {
		FOR_G_FWD(l, ctx, pos) {
			if (!l->ops.log_global_start)
				continue;
			ret = l->ops.log_global_start(l->opaque);
			if (!ret)
				continue;
			/* roll back the listeners before the failing one */
			for (p2 = pos->prev; p2 != &ctx->listeners; p2 = p2->prev) {
				struct ms_listener *b = g_listener(p2);

				if (b->ops.log_global_stop)
					b->ops.log_global_stop(b->opaque);
			}
			return ms_error_set(err, ret < 0 ? ret : -EIO,
					    "dirty log start: listener %s failed",
					    l->name ? l->name : "");
		}
	}
	ctx->global_dirty |= flags;
	if (!old)
		pending_transaction(ctx);
	return 0;
}

static void dirty_log_do_stop(struct ms_ctx *ctx, unsigned int flags)
{
	if (!(ctx->global_dirty & flags))
		return;
	ctx->global_dirty &= ~flags;
	if (ctx->global_dirty)
		return;
	pending_transaction(ctx);
	call_global(ctx, offsetof(struct ms_listener_ops, log_global_stop), true);
}

void ms_ctx__dirty_log_stop(struct ms_ctx *ctx, unsigned int flags)
{
	if (!ctx->running) {
		ctx->postponed_stop |= flags;
		return;
	}
	dirty_log_do_stop(ctx, flags);
}

void ms_ctx__set_running(struct ms_ctx *ctx, bool running)
{
	unsigned int postponed = ctx->postponed_stop;

	ctx->running = running;
	if (running && postponed) {
		ctx->postponed_stop = 0;
		dirty_log_do_stop(ctx, postponed);
	}
}

unsigned int ms_ctx__global_dirty(const struct ms_ctx *ctx)
{
	return ctx->global_dirty;
}

void ms_ctx__log_sync(struct ms_ctx *ctx, struct ms_region *mr)
{
	struct ms_listener *l;
	struct list_head *pos;

	FOR_G_FWD(l, ctx, pos) {
		struct ms_flatview *fv = l->as->fv;

		if (l->ops.log_sync) {
			for (size_t i = 0; i < fv->nr; i++) {
				const struct ms_flat_range *fr = &fv->ranges[i];
				struct ms_section s;

				if (!fr->dirty_log_mask || (mr && fr->mr != mr))
					continue;
				flat_range_section(fv, fr, &s);
				l->ops.log_sync(l->opaque, &s);
			}
		} else if (l->ops.log_sync_global) {
			l->ops.log_sync_global(l->opaque, false);
		}
	}
	if (!mr)
		call_global(ctx, offsetof(struct ms_listener_ops, log_global_after_sync), false);
}

void ms_region__clear_dirty(struct ms_region *mr, uint64_t start, uint64_t len)
{
	struct ms_listener *l;
	struct list_head *pos;
	ms_u128 cs = start, ce = (ms_u128)start + len;

	FOR_G_FWD(l, mr->ctx, pos) {
		struct ms_flatview *fv = l->as->fv;

		if (!l->ops.log_clear)
			continue;
		for (size_t i = 0; i < fv->nr; i++) {
			const struct ms_flat_range *fr = &fv->ranges[i];
			ms_u128 rs = fr->offset_in_region, re = rs + fr->size;
			struct ms_section s;

			if (fr->mr != mr || !fr->dirty_log_mask)
				continue;
			if (rs < cs)
				rs = cs;
			if (re > ce)
				re = ce;
			if (rs >= re)
				continue;
			flat_range_section(fv, fr, &s);
			s.offset_within_address_space += (uint64_t)(rs - fr->offset_in_region);
			s.offset_within_region = (uint64_t)rs;
			s.size = re - rs;
			l->ops.log_clear(l->opaque, &s);
		}
	}
}
