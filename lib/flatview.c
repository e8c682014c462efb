// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Flat-view rendering and simplification (regions-and-flatview.md 5, 6, 7.3,
 * 8, 9).
 *
 * QEMU renders by inserting gap pieces into one sorted array, which costs
 * O(n) per insertion. Here, the covered part of the address space is kept
 * as a treap of disjoint, non-touching intervals: filling the gaps of a clip
 * window visits only the intervals inside it and replaces them by one, so
 * every interval is created and destroyed once and a render costs
 * O(n log n). The pieces produced are exactly QEMU's (the complement of
 * what was rendered before, rule 5.4); they are sorted once at the end.
 * The same coverage structure can later be restricted to a changed address
 * window to re-render only that window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cov_node {
	ms_u128 start, end;		/* [start, end), end <= 2^64 */
	uint32_t prio;
	struct cov_node *l, *r;
};

/* Coverage nodes come from chunks freed together after the render. */
#define COV_CHUNK 1024

struct cov_chunk {
	struct cov_chunk *next;
	unsigned int used;
	struct cov_node nodes[COV_CHUNK];
};

struct render_state {
	struct cov_node *cov;
	struct cov_node *free_nodes;
	struct cov_chunk *chunks;
	uint32_t rng;
	struct ms_flat_range *out;
	size_t nr, alloc;
	int err;
};

static uint32_t rnd(struct render_state *st)
{
	/* xorshift32: treap priorities only need to be well spread */
	st->rng ^= st->rng << 13;
	st->rng ^= st->rng >> 17;
	st->rng ^= st->rng << 5;
	return st->rng;
}

static struct cov_node *cov_merge(struct cov_node *a, struct cov_node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = cov_merge(a->r, b);
		return a;
	}
	b->l = cov_merge(a, b->l);
	return b;
}

/* Split @t into starts < @key (*l) and starts >= @key (*r). */
static void cov_split(struct cov_node *t, ms_u128 key, struct cov_node **l, struct cov_node **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (t->start < key) {
		cov_split(t->r, key, &t->r, r);
		*l = t;
	} else {
		cov_split(t->l, key, l, &t->l);
		*r = t;
	}
}

/* Remove and return the node with the largest start of @t. */
static struct cov_node *cov_pop_max(struct cov_node **t)
{
	struct cov_node **p = t, *n;

	if (!*t)
		return NULL;
	while ((*p)->r)
		p = &(*p)->r;
	n = *p;
	*p = n->l;
	n->l = NULL;	/* detached: its old subtree stays in @t */
	return n;
}

static void cov_release(struct render_state *st, struct cov_node *n)
{
	n->l = st->free_nodes;
	st->free_nodes = n;
}

static struct cov_node *cov_alloc(struct render_state *st)
{
	struct cov_chunk *c = st->chunks;
	struct cov_node *n;

	if (st->free_nodes) {
		n = st->free_nodes;
		st->free_nodes = n->l;
		return n;
	}
	if (!c || c->used == COV_CHUNK) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		c->next = st->chunks;
		c->used = 0;
		st->chunks = c;
	}
	return &c->nodes[c->used++];
}

static int out_push(struct render_state *st, const struct ms_flat_range *fr)
{
	if (st->nr == st->alloc) {
		size_t n = st->alloc ? 2 * st->alloc : 64;
		struct ms_flat_range *o = realloc(st->out, n * sizeof(*o));

		if (!o)
			return st->err = -ENOMEM;
		st->out = o;
		st->alloc = n;
	}
	st->out[st->nr++] = *fr;
	return 0;
}

struct gap_ctx {
	struct render_state *st;
	struct ms_flat_range tmpl;	/* region and attributes of the pieces */
	ms_s128 base;
};

static void emit_gap(struct gap_ctx *g, ms_u128 start, ms_u128 end)
{
	struct ms_flat_range fr = g->tmpl;

	if (start >= end)
		return;
	fr.start = (uint64_t)start;
	fr.size = end - start;
	fr.offset_in_region = (uint64_t)((ms_s128)start - g->base);
	out_push(g->st, &fr);
}

/* In-order walk of the covered intervals inside the window, emitting gaps. */
static void walk_gaps(struct gap_ctx *g, struct cov_node *t, ms_u128 *cursor, ms_u128 clip_end)
{
	while (t) {
		walk_gaps(g, t->l, cursor, clip_end);
		if (t->start > *cursor)
			emit_gap(g, *cursor, t->start < clip_end ? t->start : clip_end);
		if (t->end > *cursor)
			*cursor = t->end;
		t = t->r;
	}
}

static void release_tree(struct render_state *st, struct cov_node *t)
{
	while (t) {
		struct cov_node *r = t->r;

		release_tree(st, t->l);
		cov_release(st, t);
		t = r;
	}
}

static ms_u128 max_end(struct cov_node *t, ms_u128 m)
{
	/* the rightmost node has the largest end: intervals are disjoint */
	while (t && t->r)
		t = t->r;
	return t && t->end > m ? t->end : m;
}

/*
 * rule 5.4: fill the part of [cs, ce) not covered yet with pieces of the
 * template's region, then mark the whole window covered.
 */
static void fill_gaps(struct gap_ctx *g, ms_u128 cs, ms_u128 ce)
{
	struct render_state *st = g->st;
	struct cov_node *l, *m, *r, *pred, *n;
	ms_u128 cursor = cs, new_start = cs, new_end = ce;

	cov_split(st->cov, cs, &l, &m);
	pred = cov_pop_max(&l);
	if (pred && pred->end < cs) {		/* neither overlaps nor touches */
		l = cov_merge(l, pred);
		pred = NULL;
	}
	/* starts in [cs, ce] overlap or touch the window */
	cov_split(m, ce + 1, &m, &r);
	if (pred) {
		new_start = pred->start;
		if (pred->end > cursor)
			cursor = pred->end;
		if (pred->end > new_end)
			new_end = pred->end;
	}
	walk_gaps(g, m, &cursor, ce);
	if (cursor < ce)
		emit_gap(g, cursor, ce);
	new_end = max_end(m, new_end);
	release_tree(st, m);
	n = pred ? pred : cov_alloc(st);
	if (!n) {
		st->err = -ENOMEM;
		st->cov = cov_merge(l, r);
		return;
	}
	n->start = new_start;
	n->end = new_end;
	n->prio = rnd(st);
	n->l = n->r = NULL;
	st->cov = cov_merge(cov_merge(l, n), r);
}

/* rule 5.3, with base and clip in signed 128-bit arithmetic (rule 2.3) */
static void render(struct render_state *st, struct ms_region *mr, ms_s128 base, ms_s128 cs,
		   ms_s128 ce, bool ro, bool nv, bool um)
{
	struct list_head *pos;
	ms_s128 os, oe;

	if (!mr->enabled || st->err)
		return;
	base += mr->addr;
	ro |= mr->readonly;
	nv |= mr->nonvolatile;
	um |= mr->unmergeable;
	os = base;
	oe = base + (ms_s128)mr->size;
	if (oe <= cs || os >= ce || os == oe)
		return;
	if (os > cs)
		cs = os;
	if (oe < ce)
		ce = oe;

	if (mr->alias) {
		base -= mr->alias->addr;
		base -= mr->alias_offset;
		render(st, mr->alias, base, cs, ce, ro, nv, um);
		return;
	}
	list_for_each(pos, &mr->subregions)
		render(st, list_entry(pos, struct ms_region, node), base, cs, ce, ro, nv, um);
	if (!mr->terminates)
		return;

	struct gap_ctx g = {
		.st = st,
		.base = base,
		.tmpl = {
			.mr = mr,
			.dirty_log_mask = region_dirty_log_mask(mr),
			.romd_mode = mr->romd_mode,
			.readonly = ro,
			.nonvolatile = nv,
			.unmergeable = um,
		},
	};
	fill_gaps(&g, (ms_u128)cs, (ms_u128)ce);
}

static int range_cmp(const void *a, const void *b)
{
	const struct ms_flat_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* rule 6.1 */
static bool can_merge(const struct ms_flat_range *r1, const struct ms_flat_range *r2)
{
	return (ms_u128)r1->start + r1->size == r2->start &&
	       r1->mr == r2->mr &&
	       (ms_u128)r1->offset_in_region + r1->size == r2->offset_in_region &&
	       r1->dirty_log_mask == r2->dirty_log_mask &&
	       r1->romd_mode == r2->romd_mode &&
	       r1->readonly == r2->readonly &&
	       r1->nonvolatile == r2->nonvolatile &&
	       !r1->unmergeable && !r2->unmergeable;
}

static size_t simplify(struct ms_flat_range *r, size_t nr)
{
	size_t i, k = 0;

	for (i = 0; i < nr; i++) {
		if (k && can_merge(&r[k - 1], &r[i]))
			r[k - 1].size += r[i].size;
		else
			r[k++] = r[i];
	}
	return k;
}

struct ms_flatview *flatview_new_empty(void)
{
	struct ms_flatview *fv = calloc(1, sizeof(*fv));

	if (fv)
		fv->refcount = 1;
	return fv;
}

struct ms_flatview *flatview_render(struct ms_region *root)
{
	struct render_state st = { .rng = 2463534242u };
	struct ms_flatview *fv = flatview_new_empty();
	struct ms_flat_range *shrunk;
	size_t i;

	if (!fv)
		return NULL;
	if (!root)
		return fv;
	render(&st, root, 0, 0, (ms_s128)MS_SIZE_2_64, false, false, false);
	while (st.chunks) {
		struct cov_chunk *c = st.chunks;

		st.chunks = c->next;
		free(c);
	}
	if (st.err) {
		free(st.out);
		free(fv);
		errno = -st.err;
		return NULL;
	}
	if (st.nr)	/* qsort's array must not be NULL, even when empty */
		qsort(st.out, st.nr, sizeof(*st.out), range_cmp);
	st.nr = simplify(st.out, st.nr);
	shrunk = st.nr ? realloc(st.out, st.nr * sizeof(*st.out)) : NULL;
	if (st.nr && shrunk)
		st.out = shrunk;
	if (!st.nr) {
		free(st.out);
		st.out = NULL;
	}
	fv->root = ms_region__ref(root);
	fv->ranges = st.out;
	fv->nr = st.nr;
	for (i = 0; i < fv->nr; i++)
		ms_region__ref(fv->ranges[i].mr);
	return fv;
}

struct ms_flatview *ms_flatview__render(struct ms_region *root, struct ms_error *err)
{
	struct ms_flatview *fv = flatview_render(root);

	if (!fv) {
		errno = ENOMEM;
		ms_error_set(err, -ENOMEM, "flat view: out of memory");
	}
	return fv;
}

struct ms_flatview *ms_flatview__ref(struct ms_flatview *fv)
{
	if (fv)
		fv->refcount++;
	return fv;
}

void ms_flatview__unref(struct ms_flatview *fv)
{
	size_t i;

	if (!fv || --fv->refcount)
		return;
	for (i = 0; i < fv->nr; i++)
		ms_region__unref(fv->ranges[i].mr);
	ms_region__unref(fv->root);
	free(fv->ranges);
	free(fv);
}

size_t ms_flatview__nr_ranges(const struct ms_flatview *fv)
{
	return fv->nr;
}

const struct ms_flat_range *ms_flatview__range(const struct ms_flatview *fv, size_t i)
{
	return i < fv->nr ? &fv->ranges[i] : NULL;
}

struct ms_region *ms_flatview__root(const struct ms_flatview *fv)
{
	return fv->root;
}

const struct ms_flat_range *ms_flatview__lookup(const struct ms_flatview *fv, uint64_t addr)
{
	size_t lo = 0, hi = fv->nr;

	/* rule 9.1, by binary search (rule 9.4 allows any exact structure) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ms_flat_range *r = &fv->ranges[mid];

		if (addr < r->start)
			hi = mid;
		else if ((ms_u128)addr >= r->start + r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

void flat_range_section(struct ms_flatview *fv, const struct ms_flat_range *fr,
			struct ms_section *s)
{
	/* rule 8.1 */
	*s = (struct ms_section){
		.mr = fr->mr,
		.fv = fv,
		.offset_within_region = fr->offset_in_region,
		.size = fr->size,
		.offset_within_address_space = fr->start,
		.readonly = fr->readonly,
		.nonvolatile = fr->nonvolatile,
		.unmergeable = fr->unmergeable,
	};
}

void ms_flat_range__section(struct ms_flatview *fv, const struct ms_flat_range *fr,
			    struct ms_section *s)
{
	flat_range_section(fv, fr, s);
}

bool ms_section_eq(const struct ms_section *a, const struct ms_section *b)
{
	/* rule 8.2: unmergeable is not compared */
	return a->mr == b->mr && a->fv == b->fv &&
	       a->offset_within_region == b->offset_within_region && a->size == b->size &&
	       a->offset_within_address_space == b->offset_within_address_space &&
	       a->readonly == b->readonly && a->nonvolatile == b->nonvolatile;
}

/* rule 7.3 */
struct ms_region *flatview_select_root(struct ms_region *mr)
{
	while (mr) {
		struct ms_region *only = NULL;
		struct list_head *pos;
		unsigned int n = 0;

		if (!mr->enabled)
			return NULL;
		if (mr->alias) {
			if (mr->alias_offset == 0 && mr->size >= mr->alias->size) {
				mr = mr->alias;
				continue;
			}
			return mr;
		}
		if (mr->terminates)
			return mr;
		list_for_each(pos, &mr->subregions) {
			struct ms_region *c = list_entry(pos, struct ms_region, node);

			if (c->enabled) {
				only = c;
				if (++n == 2)
					break;	/* more than one is all that matters */
			}
		}
		if (n == 0)
			return NULL;
		if (n == 1 && only->addr == 0 && only->size <= mr->size) {
			mr = only;
			continue;
		}
		return mr;
	}
	return NULL;
}
