// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory listeners: registration with its replay, unregistration, and
 * dirty-log sync and clear through them (listeners-and-transactions.md
 * 1, 6, 7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

/* Replay every ioeventfd of @as to @l as eventfd_add (@add) or eventfd_del. */
static void listener_eventfds(struct ms_listener *l, struct ms_as *as, struct ms_flatview *fv,
			      bool add)
{
	void (*cb)(void *opaque, const struct ms_section *s, bool match_data, uint64_t data,
		   void *notifier) = add ? l->ops.eventfd_add : l->ops.eventfd_del;

	if (!cb)
		return;
	for (unsigned int i = 0; i < as->nr_ioeventfds; i++) {
		const struct ioeventfd *e = &as->ioeventfds[i];
		struct ms_section s = {
			.fv = fv,
			.offset_within_address_space = e->addr,
			.size = e->size,
		};

		cb(l->opaque, &s, e->match_data, e->data, e->notifier);
	}
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
	const struct ms_flat_range *fr;

	fv_for_each(fv, it, fr) {
		struct ms_section s;

		flat_range_section(fv, fr, &s);
		if (l->ops.region_add)
			l->ops.region_add(l->opaque, &s);
		listener_coalesced(l, fv, fr, true, true);
		if (fr->dirty_log_mask && l->ops.log_start)
			l->ops.log_start(l->opaque, &s, 0, fr->dirty_log_mask);
	}
	listener_eventfds(l, as, fv, true);
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
	const struct ms_flat_range *fr;

	fv_for_each(fv, it, fr) {
		struct ms_section s;

		flat_range_section(fv, fr, &s);
		if (fr->dirty_log_mask && l->ops.log_stop)
			l->ops.log_stop(l->opaque, &s, fr->dirty_log_mask, 0);
		listener_coalesced(l, fv, fr, false, true);
		if (l->ops.region_del)
			l->ops.region_del(l->opaque, &s);
	}
	listener_eventfds(l, as, fv, false);
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

void ms_ctx__log_sync(struct ms_ctx *ctx, struct ms_region *mr)
{
	struct ms_listener *l;
	struct list_head *pos;

	FOR_G_FWD(l, ctx, pos) {
		struct ms_flatview *fv = l->as->fv;

		if (l->ops.log_sync) {
			const struct ms_flat_range *fr;

			fv_for_each(fv, it, fr) {
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
		ctx_call_global(ctx, offsetof(struct ms_listener_ops, log_global_after_sync), false);
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
		const struct ms_flat_range *fr;

		fv_for_each(fv, it, fr) {
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
