// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory contexts: transactions and the topology update at the outermost
 * commit, the shared view cache, and global dirty logging
 * (listeners-and-transactions.md 3, 7; regions-and-flatview.md section 7).
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

		nv[i] = ctx_view_for_root(ctx, as->root);
		if (!nv[i]) {
			pr_warn("memslot: topology update: out of memory rendering %s\n",
				as->name);
			nv[i] = as->fv;	/* keep the old view */
		}
		ms_flatview__ref(nv[i++]);
	}
	/* 2. begin */
	ctx_call_global(ctx, offsetof(struct ms_listener_ops, begin), false);
	/* 3. install and diff, per address space in creation order */
	i = 0;
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);
		struct ms_flatview *old = as->fv;

		as->fv = nv[i++];
		if (old != as->fv && as_has_listeners(as)) {
			as_update_topology_pass(as, old, as->fv, false);
			as_update_topology_pass(as, old, as->fv, true);
		}
		ms_flatview__unref(old);
		as_update_ioeventfds(as);
	}
	free(nv);
	/* 4. clear flags, 5. commit */
	ctx->update_pending = false;
	ctx->ioeventfd_pending = false;
	ctx_call_global(ctx, offsetof(struct ms_listener_ops, commit), false);
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
