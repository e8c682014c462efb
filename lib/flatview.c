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
 *
 * A render clipped to an address window yields exactly the full render's
 * pieces cut at the window's edges: coverage inside the window evolves the
 * same way whatever lies outside. flatview_patch() uses this to render
 * again only the windows a change touched and splice the pieces into the
 * view, undoing the cuts at the edges. Every piece carries its render path
 * (a hash of the aliases the render went through from the root): one path
 * reaches a region once per render, so two adjacent pieces of one
 * unmergeable region come from one gap exactly when their paths are equal.
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

struct piece {
	struct ms_flat_range fr;
	uint64_t path;
};

struct render_state {
	struct cov_node *cov;
	struct cov_node *free_nodes;
	struct cov_chunk *chunks;
	uint32_t rng;
	struct piece *out;
	size_t nr, alloc;
	bool windowed;		/* a window, not the whole address space */
	int err;
};

/* From this many subregions, a window's render looks them up by address. */
#define INDEX_MIN_SUBREGIONS 16

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

static int out_push(struct render_state *st, const struct ms_flat_range *fr, uint64_t path)
{
	if (st->nr == st->alloc) {
		size_t n = st->alloc ? 2 * st->alloc : 64;
		struct piece *o = realloc(st->out, n * sizeof(*o));

		if (!o)
			return st->err = -ENOMEM;
		st->out = o;
		st->alloc = n;
	}
	st->out[st->nr++] = (struct piece){ *fr, path };
	return 0;
}

struct gap_ctx {
	struct render_state *st;
	struct ms_flat_range tmpl;	/* region and attributes of the pieces */
	uint64_t path;
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
	out_push(g->st, &fr, g->path);
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

static uint64_t path_step(uint64_t path, const struct ms_region *alias)
{
	uint64_t x = (path ^ (uintptr_t)alias) * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29);
}

/* rule 5.3, with base and clip in signed 128-bit arithmetic (rule 2.3) */
static void render(struct render_state *st, struct ms_region *mr, ms_s128 base, ms_s128 cs,
		   ms_s128 ce, bool ro, bool nv, bool um, uint64_t path)
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
		render(st, mr->alias, base, cs, ce, ro, nv, um, path_step(path, mr));
		return;
	}
	if (st->windowed && mr->nr_subregions >= INDEX_MIN_SUBREGIONS) {
		/* only the subregions meeting the window, in the list's order */
		struct ms_region **v = NULL;
		ms_s128 lo = cs - base, hi = ce - base;
		size_t cap = 0;
		long n = hi <= 0 ? 0 : region_subs_in(mr, lo < 0 ? 0 : (ms_u128)lo, (ms_u128)hi,
						      &v, &cap);

		if (n < 0)
			st->err = (int)n;
		for (long i = 0; i < n; i++)
			render(st, v[i], base, cs, ce, ro, nv, um, path);
		free(v);
	} else {
		list_for_each(pos, &mr->subregions)
			render(st, list_entry(pos, struct ms_region, node), base, cs, ce, ro, nv,
			       um, path);
	}
	if (!mr->terminates)
		return;

	struct gap_ctx g = {
		.st = st,
		.base = base,
		.path = path,
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

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->fr.start < y->fr.start ? -1 : x->fr.start > y->fr.start;
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

static size_t simplify(struct piece *r, size_t nr)
{
	size_t i, k = 0;

	for (i = 0; i < nr; i++) {
		if (k && can_merge(&r[k - 1].fr, &r[i].fr))
			r[k - 1].fr.size += r[i].fr.size;
		else
			r[k++] = r[i];
	}
	return k;
}

/* Render @root inside [cs, ce): sorted, simplified pieces in st->out. */
static int render_window(struct render_state *st, struct ms_region *root, ms_u128 cs, ms_u128 ce)
{
	st->windowed = cs != 0 || ce != MS_SIZE_2_64;
	render(st, root, 0, (ms_s128)cs, (ms_s128)ce, false, false, false, 0);
	while (st->chunks) {
		struct cov_chunk *c = st->chunks;

		st->chunks = c->next;
		free(c);
	}
	st->cov = NULL;
	st->free_nodes = NULL;
	if (st->err)
		return st->err;
	if (st->nr)	/* qsort's array must not be NULL, even when empty */
		qsort(st->out, st->nr, sizeof(*st->out), piece_cmp);
	st->nr = simplify(st->out, st->nr);
	return 0;
}

struct ms_flatview *flatview_new_empty(void)
{
	struct ms_flatview *fv = calloc(1, sizeof(*fv));

	if (fv)
		fv->refcount = 1;
	return fv;
}

/* --- chunked storage ------------------------------------------------------- */

/* A list of chunks with the index of each one's first range. */
struct cvec {
	struct fv_chunk **v;
	size_t *first;
	size_t nr, alloc, total;
};

static int cvec_grow(struct cvec *c, size_t n)
{
	size_t a = c->alloc ? c->alloc : 16;
	struct fv_chunk **v;
	size_t *f;

	if (c->nr + n <= c->alloc)
		return 0;
	while (a < c->nr + n)
		a *= 2;
	v = realloc(c->v, a * sizeof(*v));
	if (v)
		c->v = v;
	f = v ? realloc(c->first, a * sizeof(*f)) : NULL;
	if (!f)
		return -ENOMEM;
	c->first = f;
	c->alloc = a;
	return 0;
}

static int cvec_push(struct cvec *c, struct fv_chunk *ch)
{
	if (cvec_grow(c, 1))
		return -ENOMEM;
	c->first[c->nr] = c->total;
	c->total += ch->nr;
	c->v[c->nr++] = ch;
	return 0;
}

/* Chunks [from, from + n) of @fv, shared: their index follows from @fv's
 * without reading the chunks. */
static int cvec_push_shared(struct cvec *c, const struct ms_flatview *fv, size_t from, size_t n)
{
	size_t base = n ? fv->first[from] : 0;

	if (!n)
		return 0;
	if (cvec_grow(c, n))
		return -ENOMEM;
	memcpy(&c->v[c->nr], &fv->chunks[from], n * sizeof(*c->v));
	for (size_t k = 0; k < n; k++)
		c->first[c->nr + k] = fv->first[from + k] - base + c->total;
	c->total += (from + n < fv->nr_chunks ? fv->first[from + n] : fv->nr) - base;
	c->nr += n;
	return 0;
}

static void cvec_free(struct cvec *c)
{
	free(c->v);
	free(c->first);
}

/* A run of ranges with their paths, gathered for rechunking. */
struct run {
	struct ms_flat_range *r;
	uint64_t *p;
	size_t nr, alloc;
};

static int run_reserve(struct run *u, size_t more)
{
	if (u->nr + more > u->alloc) {
		size_t n = u->alloc ? 2 * u->alloc : 4 * FV_CHUNK;

		while (n < u->nr + more)
			n *= 2;
		struct ms_flat_range *r = realloc(u->r, n * sizeof(*r));
		uint64_t *p;

		if (r)
			u->r = r;
		p = r ? realloc(u->p, n * sizeof(*p)) : NULL;
		if (!p)
			return -ENOMEM;
		u->p = p;
		u->alloc = n;
	}
	return 0;
}

static int run_push(struct run *u, const struct ms_flat_range *fr, uint64_t path)
{
	if (run_reserve(u, 1))
		return -ENOMEM;
	u->r[u->nr] = *fr;
	u->p[u->nr++] = path;
	return 0;
}

/* Cut @u into chunks of even size, appended to @out and recorded in @made. */
static int run_chunks(const struct run *u, struct cvec *out, struct cvec *made)
{
	size_t k = (u->nr + FV_CHUNK - 1) / FV_CHUNK, at = 0;

	for (size_t c = 0; c < k; c++) {
		size_t n = (u->nr - at) / (k - c);
		struct fv_chunk *ch = malloc(sizeof(*ch));

		if (!ch)
			return -ENOMEM;
		ch->nr = (unsigned int)n;
		memcpy(ch->r, &u->r[at], n * sizeof(*ch->r));
		memcpy(ch->path, &u->p[at], n * sizeof(*ch->path));
		at += n;
		if (cvec_push(made, ch)) {
			free(ch);
			return -ENOMEM;
		}
		if (cvec_push(out, ch))
			return -ENOMEM;
	}
	return 0;
}

static void chunks_free(struct fv_chunk **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* The chunk holding range @i (i < fv->nr). */
static size_t chunk_index(const struct ms_flatview *fv, size_t i)
{
	size_t lo = 0, hi = fv->nr_chunks;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (fv->first[mid] <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

struct fv_iter fv_iter_at(const struct ms_flatview *fv, size_t i)
{
	struct fv_iter it = { .fv = fv };

	if (i >= fv->nr) {
		it.c = fv->nr_chunks;
		return it;
	}
	it.c = chunk_index(fv, i);
	it.j = (unsigned int)(i - fv->first[it.c]);
	return it;
}

const struct ms_flat_range *fv_at(const struct ms_flatview *fv, size_t i)
{
	size_t c = chunk_index(fv, i);

	return &fv->chunks[c]->r[i - fv->first[c]];
}

static uint64_t fv_path_at(const struct ms_flatview *fv, size_t i)
{
	size_t c = chunk_index(fv, i);

	return fv->chunks[c]->path[i - fv->first[c]];
}

/* Install @u as @fv's ranges (fv empty); references are the caller's. */
static int fv_set_run(struct ms_flatview *fv, const struct run *u)
{
	struct cvec out = { 0 }, made = { 0 };

	if (run_chunks(u, &out, &made)) {
		chunks_free(made.v, made.nr);
		cvec_free(&made);
		cvec_free(&out);
		return -ENOMEM;
	}
	cvec_free(&made);
	fv->chunks = out.v;
	fv->first = out.first;
	fv->nr_chunks = out.nr;
	fv->nr = u->nr;
	return 0;
}

struct ms_flatview *flatview_render(struct ms_region *root)
{
	struct render_state st = { .rng = 2463534242u };
	struct ms_flatview *fv = flatview_new_empty();
	const struct ms_flat_range *fr;
	struct run u = { 0 };

	if (!fv)
		return NULL;
	if (!root)
		return fv;
	if (render_window(&st, root, 0, MS_SIZE_2_64))
		goto err;
	for (size_t i = 0; i < st.nr; i++)
		if (run_push(&u, &st.out[i].fr, st.out[i].path))
			goto err;
	if (fv_set_run(fv, &u))
		goto err;
	fv_for_each(fv, it, fr)
		ms_region__ref(fr->mr);
	free(st.out);
	free(u.r);
	free(u.p);
	fv->root = ms_region__ref(root);
	return fv;
err:
	free(st.out);
	free(u.r);
	free(u.p);
	free(fv);
	errno = ENOMEM;
	return NULL;
}

static ms_u128 range_end(const struct ms_flat_range *fr)
{
	return (ms_u128)fr->start + fr->size;
}

size_t fv_first_ending_after(const struct ms_flatview *fv, ms_u128 addr)
{
	size_t lo = 0, hi = fv->nr_chunks, c;
	const struct fv_chunk *ch;
	unsigned int a = 0, b;

	/* the first chunk whose last range ends after @addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		ch = fv->chunks[mid];
		if (range_end(&ch->r[ch->nr - 1]) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == fv->nr_chunks)
		return fv->nr;
	c = lo;
	ch = fv->chunks[c];
	b = ch->nr;
	while (a < b) {
		unsigned int m = a + (b - a) / 2;

		if (range_end(&ch->r[m]) <= addr)
			a = m + 1;
		else
			b = m;
	}
	return fv->first[c] + a;
}

/*
 * Adjacent pieces the full render would have made one range: rule 6.1, or
 * one gap of an unmergeable region that a window edge cut in two.
 */
static bool edge_merge(const struct ms_flat_range *a, uint64_t pa, const struct ms_flat_range *b,
		       uint64_t pb)
{
	if (!a->unmergeable && !b->unmergeable)
		return can_merge(a, b);
	return a->unmergeable && b->unmergeable && pa == pb &&
	       range_end(a) == b->start && a->mr == b->mr &&
	       (ms_u128)a->offset_in_region + a->size == b->offset_in_region &&
	       a->dirty_log_mask == b->dirty_log_mask && a->romd_mode == b->romd_mode &&
	       a->readonly == b->readonly && a->nonvolatile == b->nonvolatile;
}

static int repl_push(struct fv_repl *r, const struct ms_flat_range *fr, uint64_t path)
{
	if (r->nr == r->alloc) {
		size_t n = r->alloc ? 2 * r->alloc : 8;
		struct ms_flat_range *x = realloc(r->r, n * sizeof(*x));
		uint64_t *y;

		if (x)
			r->r = x;
		y = x ? realloc(r->paths, n * sizeof(*y)) : NULL;
		if (!y)
			return -ENOMEM;
		r->paths = y;
		r->alloc = n;
	}
	r->r[r->nr] = *fr;
	r->paths[r->nr++] = path;
	return 0;
}

static struct fv_repl *patch_new_repl(struct fv_patch *p)
{
	if (p->nr == p->alloc) {
		size_t n = p->alloc ? 2 * p->alloc : 4;
		struct fv_repl *x = realloc(p->repl, n * sizeof(*x));

		if (!x)
			return NULL;
		p->repl = x;
		p->alloc = n;
	}
	memset(&p->repl[p->nr], 0, sizeof(p->repl[p->nr]));
	return &p->repl[p->nr++];
}

/*
 * Splice the pieces rendered for old ranges [a, b) into the patch, undoing
 * the cuts at the window's edges: a piece that continues the old range
 * before or after it replaces that range too (edge_merge()).
 */
static int patch_add(struct fv_patch *p, const struct ms_flatview *fv, size_t a, size_t b,
		     const struct piece *pc, size_t n)
{
	struct fv_repl *r = p->nr ? &p->repl[p->nr - 1] : NULL;
	size_t i = 0;

	if (n && a && edge_merge(fv_at(fv, a - 1), fv_path_at(fv, a - 1), &pc[0].fr, pc[0].path)) {
		if (r && r->old_hi == a) {
			/* the range before ended the previous replacement */
			r->r[r->nr - 1].size += pc[0].fr.size;
		} else {
			if (!(r = patch_new_repl(p)))
				return -ENOMEM;
			r->old_lo = a - 1;
			if (repl_push(r, fv_at(fv, a - 1), fv_path_at(fv, a - 1)))
				return -ENOMEM;
			r->r[0].size += pc[0].fr.size;
		}
		i = 1;
	} else if (!r || r->old_hi != a) {
		if (!(r = patch_new_repl(p)))
			return -ENOMEM;
		r->old_lo = a;
	}
	for (; i < n; i++)
		if (repl_push(r, &pc[i].fr, pc[i].path))
			return -ENOMEM;
	r->old_hi = b;
	if (r->nr && b < fv->nr &&
	    edge_merge(&r->r[r->nr - 1], r->paths[r->nr - 1], fv_at(fv, b), fv_path_at(fv, b))) {
		r->r[r->nr - 1].size += fv_at(fv, b)->size;
		r->old_hi = b + 1;
	}
	return 0;
}

int flatview_patch(const struct ms_flatview *fv, const struct fv_window *win, size_t nr,
		   struct fv_patch *patch)
{
	struct fv_window *w = NULL;
	size_t nw = 0, delta_nr = fv->nr;
	int ret = -ENOMEM;

	memset(patch, 0, sizeof(*patch));
	if (nr && !(w = malloc(nr * sizeof(*w))))
		return -ENOMEM;
	/* widen every window to whole ranges of the view, then join the ones
	 * that overlap or touch: an edge then cuts no old range */
	for (size_t i = 0; i < nr; i++) {
		struct fv_window x = win[i];
		size_t a = fv_first_ending_after(fv, x.start), b;

		if (a < fv->nr && fv_at(fv, a)->start < x.start)
			x.start = fv_at(fv, a)->start;
		b = x.end ? fv_first_ending_after(fv, x.end - 1) : 0;
		if (b < fv->nr && fv_at(fv, b)->start < x.end && range_end(fv_at(fv, b)) > x.end)
			x.end = range_end(fv_at(fv, b));
		if (nw && x.start <= w[nw - 1].end) {
			if (x.end > w[nw - 1].end)
				w[nw - 1].end = x.end;
		} else {
			w[nw++] = x;
		}
	}
	for (size_t i = 0; i < nw; i++) {
		struct render_state st = { .rng = 2463534242u };
		size_t a = fv_first_ending_after(fv, w[i].start);
		size_t b = fv_first_ending_after(fv, w[i].end);

		if (render_window(&st, fv->root, w[i].start, w[i].end) ||
		    patch_add(patch, fv, a, b, st.out, st.nr)) {
			free(st.out);
			goto out;
		}
		free(st.out);
	}
	/* where each replacement lands in the view after */
	for (size_t i = 0; i < patch->nr; i++) {
		struct fv_repl *r = &patch->repl[i];

		r->new_lo = r->old_lo + (delta_nr - fv->nr);
		delta_nr += r->nr - (r->old_hi - r->old_lo);
	}
	patch->new_nr = delta_nr;
	for (size_t i = 0; i < patch->nr; i++)
		for (size_t k = 0; k < patch->repl[i].nr; k++)
			ms_region__ref(patch->repl[i].r[k].mr);
	ret = 0;
out:
	if (ret) {
		for (size_t i = 0; i < patch->nr; i++) {
			free(patch->repl[i].r);
			free(patch->repl[i].paths);
		}
		free(patch->repl);
		memset(patch, 0, sizeof(*patch));
	}
	free(w);
	return ret;
}


/*
 * The touched chunks, rewritten: the run of chunks [cs, ce] holding the
 * old ranges of replacements [r0, r1), with those applied, into @u.
 */
static int gather(const struct ms_flatview *fv, const struct fv_patch *patch, size_t r0,
		  size_t r1, size_t cs, size_t ce, struct run *u)
{
	size_t i = fv->nr_chunks ? fv->first[cs] : 0;
	size_t end = fv->nr_chunks ? fv->first[ce] + fv->chunks[ce]->nr : 0;
	size_t r = r0, c = cs;

	u->nr = 0;
	for (;;) {
		size_t next = r < r1 ? patch->repl[r].old_lo : end;

		/* the old ranges up to the next replacement, a chunk piece at once */
		while (i < next) {
			const struct fv_chunk *ch;
			size_t j, n;

			while (fv->first[c] + fv->chunks[c]->nr <= i)
				c++;
			ch = fv->chunks[c];
			j = i - fv->first[c];
			n = ch->nr - j < next - i ? ch->nr - j : next - i;
			if (run_reserve(u, n))
				return -ENOMEM;
			memcpy(&u->r[u->nr], &ch->r[j], n * sizeof(*u->r));
			memcpy(&u->p[u->nr], &ch->path[j], n * sizeof(*u->p));
			u->nr += n;
			i += n;
		}
		if (r == r1)
			return 0;
		{
			const struct fv_repl *x = &patch->repl[r++];

			if (run_reserve(u, x->nr))
				return -ENOMEM;
			if (x->nr) {
				memcpy(&u->r[u->nr], x->r, x->nr * sizeof(*u->r));
				memcpy(&u->p[u->nr], x->paths, x->nr * sizeof(*u->p));
			}
			u->nr += x->nr;
			i = x->old_hi;
		}
	}
}

/* The chunk a replacement touches first and last. */
static void repl_chunks(const struct ms_flatview *fv, const struct fv_repl *x, size_t *c0,
			size_t *c1)
{
	size_t t0 = x->old_lo < fv->nr ? x->old_lo : fv->nr - 1;
	size_t t1 = x->old_hi > t0 + 1 ? x->old_hi - 1 : t0;

	*c0 = chunk_index(fv, t0);
	*c1 = chunk_index(fv, t1);
}

int flatview_apply_prepare(struct ms_flatview *fv, struct fv_patch *patch)
{
	struct cvec out = { 0 }, made = { 0 }, dropped = { 0 };
	struct run u = { 0 };
	size_t c = 0, r = 0;
	int ret = -ENOMEM;

	/* keep the replaced ranges for the diff */
	for (size_t i = 0; i < patch->nr; i++) {
		struct fv_repl *x = &patch->repl[i];
		size_t n = x->old_hi - x->old_lo;

		struct fv_iter it = fv_iter_at(fv, x->old_lo);

		if (n && !(x->old = malloc(n * sizeof(*x->old))))
			goto out;
		for (size_t k = 0; k < n; k++)
			x->old[k] = *fv_next(&it);
	}
	if (!fv->nr_chunks) {
		if (gather(fv, patch, 0, patch->nr, 0, 0, &u) || run_chunks(&u, &out, &made))
			goto out;
		goto done;
	}
	while (r < patch->nr) {
		size_t cs, ce, r1, c1, size;

		/* the chunks before the next touched one stay, shared */
		repl_chunks(fv, &patch->repl[r], &cs, &ce);
		if (cs > c) {
			if (cvec_push_shared(&out, fv, c, cs - c))
				goto out;
			c = cs;
		}
		/* join the replacements touching the run, and a small run to
		 * the chunk after it, so chunks stay at least a quarter full */
		r1 = r + 1;
		for (;;) {
			while (r1 < patch->nr) {
				repl_chunks(fv, &patch->repl[r1], &cs, &c1);
				if (cs > ce)
					break;
				if (c1 > ce)
					ce = c1;
				r1++;
			}
			size = fv->first[ce] + fv->chunks[ce]->nr - fv->first[c];
			if (size >= FV_CHUNK / 2 || ce + 1 == fv->nr_chunks)
				break;
			ce++;
		}
		if (gather(fv, patch, r, r1, c, ce, &u) || run_chunks(&u, &out, &made))
			goto out;
		if (cvec_push_shared(&dropped, fv, c, ce + 1 - c))
			goto out;
		c = ce + 1;
		r = r1;
	}
	if (cvec_push_shared(&out, fv, c, fv->nr_chunks - c))
		goto out;
done:
	patch->first = out.first;
	patch->chunks = out.v;
	patch->nr_chunks = out.nr;
	patch->made = made.v;
	patch->nr_made = made.nr;
	patch->dropped = dropped.v;
	patch->nr_dropped = dropped.nr;
	out.v = made.v = dropped.v = NULL;
	out.first = NULL;
	ret = 0;
out:
	if (ret)
		chunks_free(made.v, made.nr);
	cvec_free(&made);
	cvec_free(&out);
	cvec_free(&dropped);
	free(u.r);
	free(u.p);
	return ret;
}

void flatview_apply(struct ms_flatview *fv, struct fv_patch *patch)
{
	struct fv_chunk **c = fv->chunks;
	size_t *first = fv->first, n = fv->nr_chunks;

	fv->chunks = patch->chunks;
	fv->first = patch->first;
	fv->nr_chunks = patch->nr_chunks;
	fv->nr = patch->new_nr;
	/* the patch keeps the list before, to free with the dropped chunks */
	patch->chunks = c;
	patch->first = first;
	patch->nr_chunks = n;
	patch->applied = true;
}

struct ms_flatview *flatview_patched_copy(struct ms_flatview *old, const struct fv_patch *patch)
{
	struct ms_flatview *fv = flatview_new_empty();
	const struct ms_flat_range *fr;
	struct run u = { 0 };

	if (!fv)
		return NULL;
	if (gather(old, patch, 0, patch->nr, 0, old->nr_chunks ? old->nr_chunks - 1 : 0, &u) ||
	    fv_set_run(fv, &u)) {
		free(u.r);
		free(u.p);
		free(fv);
		return NULL;
	}
	free(u.r);
	free(u.p);
	fv->root = ms_region__ref(old->root);
	/* every range holds a reference: take them all (the patch's own stay
	 * with the patch and are dropped with it) */
	fv_for_each(fv, it, fr)
		ms_region__ref(fr->mr);
	return fv;
}

void fv_patch_release(struct fv_patch *patch)
{
	for (size_t i = 0; i < patch->nr; i++) {
		struct fv_repl *x = &patch->repl[i];

		/* applied: the view took the new ranges' references, the old go;
		 * not applied: the new ranges' references go */
		if (patch->applied)
			for (size_t k = 0; k < x->old_hi - x->old_lo; k++)
				ms_region__unref(x->old[k].mr);
		else
			for (size_t k = 0; k < x->nr; k++)
				ms_region__unref(x->r[k].mr);
		free(x->old);
		free(x->r);
		free(x->paths);
	}
	if (patch->applied)
		chunks_free(patch->dropped, patch->nr_dropped);
	else
		chunks_free(patch->made, patch->nr_made);
	free(patch->made);
	free(patch->dropped);
	free(patch->chunks);
	free(patch->first);
	free(patch->repl);
	memset(patch, 0, sizeof(*patch));
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
	const struct ms_flat_range *fr;

	if (!fv || --fv->refcount)
		return;
	fv_for_each(fv, it, fr)
		ms_region__unref(fr->mr);
	ms_region__unref(fv->root);
	chunks_free(fv->chunks, fv->nr_chunks);
	free(fv->chunks);
	free(fv->first);
	free(fv);
}

size_t ms_flatview__nr_ranges(const struct ms_flatview *fv)
{
	return fv->nr;
}

const struct ms_flat_range *ms_flatview__range(const struct ms_flatview *fv, size_t i)
{
	return i < fv->nr ? fv_at(fv, i) : NULL;
}

struct ms_region *ms_flatview__root(const struct ms_flatview *fv)
{
	return fv->root;
}

const struct ms_flat_range *ms_flatview__lookup(const struct ms_flatview *fv, uint64_t addr)
{
	/* rule 9.1, by binary search (rule 9.4 allows any exact structure) */
	size_t i = fv_first_ending_after(fv, addr);
	const struct ms_flat_range *fr = i < fv->nr ? fv_at(fv, i) : NULL;

	return fr && fr->start <= addr ? fr : NULL;
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
