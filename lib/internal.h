/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot internals shared between the library sources. Not installed.
 */
#ifndef MEMSLOT_INTERNAL_H
#define MEMSLOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define MS_API __attribute__((visibility("default")))
#include "memslot/memslot.h"

typedef __int128 ms_s128;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Minimal doubly linked list, kernel style. */
struct list_head {
	struct list_head *next, *prev;
};

static inline void list_init(struct list_head *h)
{
	h->next = h->prev = h;
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

/* Insert @n before @pos (at the tail when @pos is the head). */
static inline void list_add_before(struct list_head *n, struct list_head *pos)
{
	n->prev = pos->prev;
	n->next = pos;
	pos->prev->next = n;
	pos->prev = n;
}

static inline void list_del(struct list_head *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_for_each(pos, head) \
	for (pos = (head)->next; pos != (head); pos = pos->next)
#define list_for_each_reverse(pos, head) \
	for (pos = (head)->prev; pos != (head); pos = pos->prev)

/* A run of equal-priority subregions in a container's list (rule 3.3). */
struct prio_group {
	int32_t prio;
	struct ms_region *first;	/* newest of the run */
	unsigned int count;
};

struct ioeventfd {
	uint64_t addr;		/* region-relative, or absolute in an AS list */
	uint32_t size;
	bool match_data;
	uint64_t data;
	void *notifier;
};

struct coalesced {
	uint64_t start;
	ms_u128 size;
};

struct ms_region {
	struct ms_ctx *ctx;
	char *name;
	char *owner, *parent;		/* -o texts, may be NULL */
	enum ms_region_kind kind;
	ms_u128 size;
	uint64_t addr;
	int32_t priority;
	unsigned int refcount;

	struct ms_region *container;
	struct list_head node;		/* in container->subregions */
	struct list_head subregions;	/* priority desc, newest first */
	struct prio_group *groups;	/* sorted by prio desc */
	unsigned int nr_groups, alloc_groups;
	unsigned int nr_subregions;

	bool enabled, readonly, nonvolatile, unmergeable, romd_mode;
	bool ram, rom_device, ram_device, terminates, migratable;

	struct ms_region *alias;
	uint64_t alias_offset;
	unsigned int mapped_via_alias;
	/*
	 * The subregions again, by address: a treap with the largest end of
	 * each subtree, for renders of a window (flatview.c). @seq orders
	 * links: among equal priorities the later one renders first.
	 */
	struct ms_region *sub_index, *idx_l, *idx_r;
	uint32_t idx_prio;
	uint64_t seq;
	ms_u128 idx_max_end;
	struct list_head aliases;	/* aliases of this region, by alias_node */
	struct list_head alias_node;	/* in alias->aliases */
	bool view_root;			/* root of a view in the context's cache */

	uint8_t vga_log_mask;
	unsigned int vga_log_count;

	void *host;			/* RAM block, may be NULL */
	size_t host_size;		/* bytes mapped by the library (0: caller's) */
	ms_u128 host_limit;		/* bytes of host memory behind @host */
	int fd;				/* memfd or -1 */

	struct ms_region_ops ops;
	bool has_ops;
	void *opaque;

	struct ioeventfd *ioeventfds;
	unsigned int nr_ioeventfds;
	struct coalesced *coalesced;
	unsigned int nr_coalesced;
};

/*
 * A view's ranges live in chunks, so that a patch rewrites only the chunks
 * it touches; every chunk holds at least one range.
 */
#define FV_CHUNK 48

struct fv_chunk {
	unsigned int nr;
	struct ms_flat_range r[FV_CHUNK];
	uint64_t path[FV_CHUNK];	/* per range: the render path (see flatview.c) */
};

struct ms_flatview {
	unsigned int refcount;
	struct ms_region *root;
	struct fv_chunk **chunks;
	size_t *first;			/* index of each chunk's first range */
	size_t nr_chunks;
	size_t nr;
};

/* A position in a view, for walking its ranges in order. */
struct fv_iter {
	const struct ms_flatview *fv;
	size_t c;
	unsigned int j;
};

struct fv_iter fv_iter_at(const struct ms_flatview *fv, size_t i);

static inline const struct ms_flat_range *fv_next(struct fv_iter *it)
{
	while (it->c < it->fv->nr_chunks) {
		const struct fv_chunk *ch = it->fv->chunks[it->c];

		if (it->j < ch->nr)
			return &ch->r[it->j++];
		it->c++;
		it->j = 0;
	}
	return NULL;
}

/* range @i of @fv (i < fv->nr) */
const struct ms_flat_range *fv_at(const struct ms_flatview *fv, size_t i);
/* index of the first range of @fv that ends after @addr */
size_t fv_first_ending_after(const struct ms_flatview *fv, ms_u128 addr);

#define fv_for_each(fv, it, fr) \
	for (struct fv_iter it = fv_iter_at((fv), 0); ((fr) = fv_next(&it)); )

/* An address window [start, end) of a view, end <= 2^64. */
struct fv_window {
	ms_u128 start, end;
};

/*
 * One replacement of a patch: old ranges [old_lo, old_hi) of the view
 * become @r (references held), at @new_lo in the view after. @old keeps
 * copies of the replaced ranges once the patch is applied in place.
 */
struct fv_repl {
	size_t old_lo, old_hi, new_lo;
	struct ms_flat_range *r;
	uint64_t *paths;
	size_t nr, alloc;
	struct ms_flat_range *old;
};

struct fv_patch {
	struct fv_repl *repl;		/* in address order */
	size_t nr, alloc;
	size_t new_nr;			/* ranges in the view after */
	bool applied;
	/* in place: the chunk list after (before, once applied), sharing the
	 * chunks no replacement touches; the chunks made and dropped */
	struct fv_chunk **chunks;
	size_t *first;
	size_t nr_chunks;
	struct fv_chunk **made, **dropped;
	size_t nr_made, nr_dropped;
};

struct view_cache_entry {
	struct ms_region *root;
	struct ms_flatview *fv;
};

/* An address window of a cached view's root that a change touched. */
struct dirty_window {
	struct ms_region *root;
	struct fv_window w;
};

struct ms_ctx {
	unsigned int depth;
	bool update_pending;
	bool ioeventfd_pending;
	bool in_commit;
	struct list_head as_list;	/* creation order */
	struct list_head listeners;	/* priority ascending */
	unsigned int global_dirty;
	unsigned int postponed_stop;
	bool running;
	struct ms_flatview *empty_view;	/* rule 7.5 */
	struct view_cache_entry *views;	/* rule 7.4 */
	size_t nr_views, alloc_views;
	/* since the last topology update: where the cached views changed,
	 * or full_update when they must all be rendered again */
	struct dirty_window *dirty;
	size_t nr_dirty, alloc_dirty;
	bool full_update;
	uint64_t link_seq;
};

struct ms_as {
	struct ms_ctx *ctx;
	char *name;
	struct ms_region *root;
	struct ms_flatview *fv;
	struct list_head node;		/* in ctx->as_list */
	struct list_head listeners;	/* priority ascending */
	struct ioeventfd *ioeventfds;	/* absolute, sorted (rule 4.3) */
	unsigned int nr_ioeventfds;
	unsigned int nr_eventfd_listeners;
};

struct ms_listener {
	struct ms_listener_ops ops;
	void *opaque;
	unsigned int priority;
	char *name;
	struct ms_as *as;
	struct list_head gnode;		/* in ctx->listeners */
	struct list_head anode;		/* in as->listeners */
};

/* error.c */
void ms_pr(enum ms_print_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define pr_warn(...) ms_pr(MS_WARN, __VA_ARGS__)
#define pr_debug(...) ms_pr(MS_DEBUG, __VA_ARGS__)

/* region.c */
ms_u128 size_from_u64(uint64_t size);
uint8_t region_dirty_log_mask(const struct ms_region *mr);
const struct ms_region *region_final_target(const struct ms_region *mr);
int ioeventfd_cmp(const struct ioeventfd *a, const struct ioeventfd *b);
struct ms_region *region_new_described(struct ms_ctx *ctx, const char *name, uint64_t size,
				       enum ms_region_kind kind, struct ms_error *err);
void region_nohugepage(void *host, size_t size);
/* the enabled subregions of @c meeting [lo, hi) of its coordinates, in
 * rendering order (rule 3.3), in *v (grown as needed); count or -ENOMEM */
long region_subs_in(const struct ms_region *c, ms_u128 lo, ms_u128 hi, struct ms_region ***v,
		    size_t *cap);

/* flatview.c */
struct ms_flatview *flatview_new_empty(void);
struct ms_flatview *flatview_render(struct ms_region *root);
/* render @fv's root again inside @win (sorted, disjoint) only */
int flatview_patch(const struct ms_flatview *fv, const struct fv_window *win, size_t nr,
		   struct fv_patch *patch);
/* apply in place: allocate first (may fail), then splice (cannot) */
int flatview_apply_prepare(struct ms_flatview *fv, struct fv_patch *patch);
void flatview_apply(struct ms_flatview *fv, struct fv_patch *patch);
/* a new view: @old with the patch applied; @old stays as it was */
struct ms_flatview *flatview_patched_copy(struct ms_flatview *old, const struct fv_patch *patch);
void fv_patch_release(struct fv_patch *patch);
struct ms_region *flatview_select_root(struct ms_region *mr);
void flat_range_section(struct ms_flatview *fv, const struct ms_flat_range *fr,
			struct ms_section *s);

/* kvmslots.c: failures of a slot map since the last mark */
void slotmap_mark(struct ms_slotmap *map);
const struct ms_error *slotmap_window_error(const struct ms_slotmap *map);

/* ctx.c */
/* a change that needs every view rendered again */
void ctx_mark_update(struct ms_ctx *ctx);
/* a change to how @mr renders: call before and after changing it */
void ctx_mark_region(struct ms_region *mr);
void ctx_mark_ioeventfd(struct ms_ctx *ctx);
/* rule 7.4: the shared view of @root, rendered on first use */
struct ms_flatview *ctx_view_for_root(struct ms_ctx *ctx, struct ms_region *root);
/* call the ms_listener_ops member at @cb_off of every listener of @ctx */
void ctx_call_global(struct ms_ctx *ctx, size_t cb_off, bool reverse);

/* as.c */
void ctx_coalesced_notify(struct ms_region *mr, const struct coalesced *c, bool add);
/* rules 2.1, 2.2: one pass of the topology diff */
void as_update_topology_pass(struct ms_as *as, struct ms_flatview *old,
			     struct ms_flatview *new, bool adding);
/* the same pass over the replacements of a patch applied in place to @fv */
void as_update_topology_patch(struct ms_as *as, struct ms_flatview *fv,
			      const struct fv_patch *p, bool adding);
/* rule 4.3 */
void as_update_ioeventfds(struct ms_as *as);
void listener_coalesced(struct ms_listener *l, struct ms_flatview *fv,
			const struct ms_flat_range *fr, bool add, bool stop_early);

static inline bool as_has_listeners(const struct ms_as *as)
{
	return !list_empty(&as->listeners);
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

#endif /* MEMSLOT_INTERNAL_H */
