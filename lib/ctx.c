// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory contexts: transactions and the topology update at the outermost
 * commit, the shared view cache, and global dirty logging
 * (listeners-and-transactions.md 3, 7; regions-and-flatview.md section 7).
 *
 * The topology update is incremental. Every change to a region records,
 * before and after it, the address windows where the region shows in each
 * cached view (walking up through containers and the aliases of every
 * region on the way). At the commit a view whose root is still selected
 * renders again only those windows (flatview_patch()), and its address
 * spaces' listeners get the diff of those windows only: the events of a
 * full render and diff minus the region_nop calls for ranges outside
 * them. An address space with a region_nop listener gets the full diff,
 * as that listener asked for every range. Changes with no address (global
 * dirty logging, a moved root, too many windows) render every view again.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
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
		v[i].root->view_root = false;
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
	free(ctx->dirty);
	free(ctx);
}

unsigned int ms_ctx__depth(const struct ms_ctx *ctx)
{
	return ctx->depth;
}

void ctx_mark_update(struct ms_ctx *ctx)
{
	ctx->update_pending = true;
	ctx->full_update = true;
}

/* Beyond these, a change is cheaper to render in full than to track. */
#define MAX_DIRTY	4096
#define MARK_BUDGET	4096

static void dirty_add(struct ms_ctx *ctx, struct ms_region *root, ms_s128 lo, ms_s128 hi)
{
	struct dirty_window *d;

	/* the view's coordinates: rendering adds the root's own address */
	lo += root->addr;
	hi += root->addr;
	if (lo < 0)
		lo = 0;
	if (hi > (ms_s128)MS_SIZE_2_64)
		hi = (ms_s128)MS_SIZE_2_64;
	if (lo >= hi)
		return;
	if (ctx->nr_dirty == ctx->alloc_dirty) {
		size_t n = ctx->alloc_dirty ? 2 * ctx->alloc_dirty : 16;

		if (n > MAX_DIRTY || !(d = realloc(ctx->dirty, n * sizeof(*d)))) {
			ctx->full_update = true;
			return;
		}
		ctx->dirty = d;
		ctx->alloc_dirty = n;
	}
	ctx->dirty[ctx->nr_dirty++] = (struct dirty_window){
		root, { (ms_u128)lo, (ms_u128)hi },
	};
}

/*
 * Record where [lo, hi) of @x (in @x's coordinates) shows: in the view of
 * @x if it is a cached root, and through its container and every alias
 * of it, as rendering would reach it (rule 5.3).
 */
static void mark_walk(struct ms_ctx *ctx, struct ms_region *x, ms_s128 lo, ms_s128 hi,
		      unsigned int *budget)
{
	struct list_head *pos;

	if (lo < 0)
		lo = 0;
	if (hi > (ms_s128)x->size)
		hi = (ms_s128)x->size;
	if (ctx->full_update || lo >= hi || !x->enabled)
		return;
	if (!(*budget)--) {
		ctx->full_update = true;
		return;
	}
	if (x->view_root)
		dirty_add(ctx, x, lo, hi);
	if (x->container)
		mark_walk(ctx, x->container, lo + x->addr, hi + x->addr, budget);
	list_for_each(pos, &x->aliases) {
		struct ms_region *a = list_entry(pos, struct ms_region, alias_node);

		mark_walk(ctx, a, lo - (ms_s128)a->alias_offset, hi - (ms_s128)a->alias_offset,
			  budget);
	}
}

void ctx_mark_region(struct ms_region *mr)
{
	struct ms_ctx *ctx = mr->ctx;
	unsigned int budget = MARK_BUDGET;

	ctx->update_pending = true;
	mark_walk(ctx, mr, 0, (ms_s128)mr->size, &budget);
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
struct ms_flatview *ctx_view_for_root(struct ms_ctx *ctx, struct ms_region *root)
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
	sel->view_root = true;
	return fv;
}

void ctx_call_global(struct ms_ctx *ctx, size_t cb_off, bool reverse)
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

/* One cached view through a topology update. */
struct view_job {
	struct ms_region *root;
	struct ms_flatview *old;	/* the cached view before, or NULL */
	struct ms_flatview *fv;		/* the view after */
	bool in_place;			/* @fv is @old, patched at install */
	struct fv_patch patch;
};

static int window_cmp(const void *a, const void *b)
{
	const struct fv_window *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The windows recorded for @root, sorted and joined; -1 when out of memory. */
static ssize_t root_windows(const struct dirty_window *d, size_t nr_d, struct ms_region *root,
			    struct fv_window **out)
{
	struct fv_window *w = NULL;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < nr_d; i++)
		n += d[i].root == root;
	*out = NULL;
	if (!n)
		return 0;
	w = malloc(n * sizeof(*w));
	if (!w)
		return -1;
	for (size_t i = 0; i < nr_d; i++)
		if (d[i].root == root)
			w[k++] = d[i].w;
	qsort(w, n, sizeof(*w), window_cmp);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && w[i].start <= w[k - 1].end) {
			if (w[i].end > w[k - 1].end)
				w[k - 1].end = w[i].end;
		} else {
			w[k++] = w[i];
		}
	}
	*out = w;
	return (ssize_t)k;
}

static bool as_wants_nop(const struct ms_as *as)
{
	struct list_head *pos;
	struct ms_listener *l;

	FOR_AS_FWD(l, as, pos)
		if (l->ops.region_nop)
			return true;
	return false;
}

/*
 * May @old be patched in place? Only when nothing but the cache and
 * address spaces keeping it hold it (a caller's reference sees an
 * immutable view), and none of them wants every range (region_nop).
 */
static bool view_patchable(struct ms_ctx *ctx, struct ms_flatview *old, struct ms_region **sels)
{
	struct list_head *pos;
	unsigned int holders = 1, i = 0;

	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);

		if (as->fv == old) {
			if (sels[i] != old->root || as_wants_nop(as))
				return false;
			holders++;
		}
		i++;
	}
	return old->refcount == holders;
}

/* Will an address space showing @root want every range (rule 3.3)? */
static bool root_wants_nop(struct ms_ctx *ctx, struct ms_region *root, struct ms_region **sels)
{
	struct list_head *pos;
	size_t i = 0;

	list_for_each(pos, &ctx->as_list)
		if (sels[i++] == root && as_wants_nop(list_entry(pos, struct ms_as, node)))
			return true;
	return false;
}

/*
 * Build the view @root shows now; the cached @old (may be NULL) before.
 * A region_nop listener gets QEMU's behaviour exactly: a new view object
 * at every update, so the full diff, even when nothing changed in it.
 */
static void job_prepare(struct ms_ctx *ctx, struct view_job *j, const struct dirty_window *d,
			size_t nr_d, struct ms_region **sels)
{
	bool nop = root_wants_nop(ctx, j->root, sels);
	struct fv_window *w;
	ssize_t nw;

	if (j->old) {
		nw = root_windows(d, nr_d, j->root, &w);
		if (nw == 0 && !nop) {
			j->fv = j->old;
			return;
		}
		if (nw >= 0 && !flatview_patch(j->old, w, (size_t)nw, &j->patch)) {
			free(w);
			w = NULL;
			if (!nop && view_patchable(ctx, j->old, sels) &&
			    !flatview_apply_prepare(j->old, &j->patch)) {
				j->fv = j->old;
				j->in_place = true;
				return;
			}
			j->fv = flatview_patched_copy(j->old, &j->patch);
			fv_patch_release(&j->patch);
			if (j->fv)
				return;
		}
		free(w);
		fv_patch_release(&j->patch);
	}
	j->fv = flatview_render(j->root);
}

/*
 * rule 3.1, step 1: the view of every address space. Cached views whose
 * root is still selected are patched where changes were recorded;
 * everything else is rendered. Returns the jobs (in *jobs) and fills nv.
 */
static size_t views_update(struct ms_ctx *ctx, struct ms_flatview **nv, struct view_job **jobs)
{
	struct dirty_window *d = ctx->dirty;
	size_t nr_d = ctx->nr_dirty, nr_as = 0, nj = 0, i;
	struct view_cache_entry *old = ctx->views;
	size_t nr_old = ctx->nr_views;
	struct ms_region **sels;
	struct view_job *j;
	struct list_head *pos;

	list_for_each(pos, &ctx->as_list)
		nr_as++;
	sels = calloc(nr_as ? nr_as : 1, sizeof(*sels));
	j = calloc(nr_as ? nr_as : 1, sizeof(*j));
	*jobs = j;
	if (!sels || !j) {
		free(sels);
		return SIZE_MAX;
	}
	i = 0;
	list_for_each(pos, &ctx->as_list)
		sels[i++] = flatview_select_root(list_entry(pos, struct ms_as, node)->root);
	for (i = 0; i < nr_as; i++) {
		size_t k;

		nv[i] = ctx->empty_view;	/* rule 7.5 */
		if (!sels[i])
			continue;
		for (k = 0; k < nj && j[k].root != sels[i]; k++)
			;
		if (k == nj) {
			j[nj].root = sels[i];
			for (size_t c = 0; c < nr_old; c++)
				if (old[c].root == sels[i])
					j[nj].old = old[c].fv;
			job_prepare(ctx, &j[nj++], d, nr_d, sels);
		}
		nv[i] = j[k].fv;
	}
	free(sels);
	return nj;
}

/* The cache holds what the jobs made: reused views keep the cache's
 * reference, new ones give theirs to it. */
static int cache_replace(struct ms_ctx *ctx, struct view_job *j, size_t nj)
{
	struct view_cache_entry *old = ctx->views, *v = NULL;
	size_t nr_old = ctx->nr_views, n = 0;

	if (nj && !(v = malloc(nj * sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < nr_old; i++)
		old[i].root->view_root = false;
	for (size_t k = 0; k < nj; k++) {
		if (!j[k].fv)
			continue;
		v[n++] = (struct view_cache_entry){ j[k].root, j[k].fv };
		j[k].root->view_root = true;
	}
	ctx->views = v;
	ctx->nr_views = ctx->alloc_views = n;
	for (size_t i = 0; i < nr_old; i++) {
		bool kept = false;

		for (size_t k = 0; k < nj; k++)
			kept |= j[k].fv == old[i].fv;
		if (!kept)
			ms_flatview__unref(old[i].fv);
	}
	free(old);
	return 0;
}

static struct view_job *job_of(struct view_job *j, size_t nj, struct ms_flatview *fv)
{
	for (size_t k = 0; k < nj; k++)
		if (j[k].fv == fv)
			return &j[k];
	return NULL;
}

/*
 * rule 3.1. Out of memory, an address space keeps its old view: -ENOMEM,
 * and the update stays pending, in full, for the next commit.
 */
static int topology_update(struct ms_ctx *ctx)
{
	struct view_job *jobs = NULL;
	struct list_head *pos;
	size_t nr_as = 0, nj = 0, i = 0;
	struct ms_flatview **nv;
	bool stale = false;

	list_for_each(pos, &ctx->as_list)
		nr_as++;
	nv = calloc(nr_as ? nr_as : 1, sizeof(*nv));
	if (!nv) {
		pr_warn("memslot: topology update: out of memory\n");
		return -ENOMEM;
	}
	/* 1. rebuild all views: patch the cached ones, render the others */
	if (!ctx->full_update) {
		nj = views_update(ctx, nv, &jobs);
		if (nj == SIZE_MAX || cache_replace(ctx, jobs, nj)) {
			for (i = 0; i < nj && nj != SIZE_MAX; i++) {
				if (jobs[i].fv && jobs[i].fv != jobs[i].old)
					ms_flatview__unref(jobs[i].fv);
				fv_patch_release(&jobs[i].patch);
			}
			free(jobs);
			jobs = NULL;
			nj = 0;
			ctx->full_update = true;
		}
	}
	if (ctx->full_update)
		views_reset(ctx);
	i = 0;
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);

		if (ctx->full_update)
			nv[i] = ctx_view_for_root(ctx, as->root);
		if (!nv[i]) {
			pr_warn("memslot: topology update: out of memory rendering %s\n",
				as->name);
			nv[i] = as->fv;	/* keep the old view */
			stale = true;
		}
		ms_flatview__ref(nv[i++]);
	}
	ctx->nr_dirty = 0;
	ctx->full_update = false;
	/* 2. begin */
	ctx_call_global(ctx, offsetof(struct ms_listener_ops, begin), false);
	/* 3. install and diff, per address space in creation order */
	for (i = 0; i < nj; i++)
		if (jobs[i].in_place)
			flatview_apply(jobs[i].fv, &jobs[i].patch);
	i = 0;
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);
		struct ms_flatview *old = as->fv;
		struct view_job *j = job_of(jobs, nj, nv[i]);

		as->fv = nv[i++];
		if (j && j->in_place && old == as->fv) {
			if (as_has_listeners(as)) {
				as_update_topology_patch(as, as->fv, &j->patch, false);
				as_update_topology_patch(as, as->fv, &j->patch, true);
			}
		} else if (old != as->fv && as_has_listeners(as)) {
			as_update_topology_pass(as, old, as->fv, false);
			as_update_topology_pass(as, old, as->fv, true);
		}
		ms_flatview__unref(old);
		as_update_ioeventfds(as);
	}
	/* after every diff: the ranges a patch replaced go */
	for (i = 0; i < nj; i++)
		fv_patch_release(&jobs[i].patch);
	free(jobs);
	free(nv);
	/* 4. clear flags, 5. commit */
	ctx->update_pending = false;
	ctx->ioeventfd_pending = false;
	/* changes made by listeners meanwhile lose their update, as in QEMU,
	 * but not their effect on the next one */
	if (ctx->nr_dirty || stale)
		ctx->full_update = true;
	ctx->nr_dirty = 0;
	if (stale)
		ctx->update_pending = true;
	ctx_call_global(ctx, offsetof(struct ms_listener_ops, commit), false);
	return stale ? -ENOMEM : 0;
}

int ms_ctx__commit(struct ms_ctx *ctx)
{
	struct list_head *pos;
	int ret = 0;

	if (!ctx->depth)
		return -EINVAL;
	if (--ctx->depth)
		return 0;
	if (ctx->in_commit)
		return 0;	/* a callback changed regions: picked up next time */
	ctx->in_commit = true;
	if (ctx->update_pending) {
		ret = topology_update(ctx);
	} else if (ctx->ioeventfd_pending) {
		list_for_each(pos, &ctx->as_list)
			as_update_ioeventfds(list_entry(pos, struct ms_as, node));
		ctx->ioeventfd_pending = false;
	}
	ctx->in_commit = false;
	return ret;
}

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
	ctx_call_global(ctx, offsetof(struct ms_listener_ops, log_global_stop), true);
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
