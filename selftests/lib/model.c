// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Brute-force reference model of regions and flat views (see model.h).
 *
 * Written from regions-and-flatview.md only. The view is not built with
 * QEMU's gap-filling renderer: for one address the owner is found by a
 * depth-first walk in render order (rule 5.5: priority descending, newest
 * first among equals, children before their region, disabled subtrees
 * skipped, alias windows clipped, containers transparent), and the first
 * terminating region that covers the address wins. Addresses are visited
 * from 0 to 2^64; each walk also reports the nearest boundary above the
 * address of every range it tested, and nothing can change before that
 * boundary, so the next address to visit is that boundary.
 *
 * Render pieces (needed for unmergeable ranges, rule 6.1): QEMU's gap fill
 * of one render call inserts maximal gaps of its clip, so two adjacent
 * addresses belong to one piece exactly when they were reached through the
 * same render call, i.e. the same path of nodes from the root. Pieces are
 * then merged as rule 6.1 says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

static struct model_node *node(struct model *m, int id)
{
	if (id < 0 || id >= m->nr || !m->n[id].live)
		return NULL;
	return &m->n[id];
}

static const struct model_node *cnode(const struct model *m, int id)
{
	if (id < 0 || id >= m->nr || !m->n[id].live)
		return NULL;
	return &m->n[id];
}

bool model_terminates(const struct model *m, int id)
{
	const struct model_node *n = cnode(m, id);

	return n && n->kind != MK_CONTAINER && n->kind != MK_ALIAS;
}

uint8_t model_mask(const struct model *m, int id)
{
	const struct model_node *n = cnode(m, id);

	/* No TCG and no global dirty tracking: only the VGA bit (rule 7.1). */
	return n && n->log_users ? MODEL_VGA : 0;
}

bool model_is_mapped(const struct model *m, int id)
{
	const struct model_node *n = cnode(m, id);

	return n && (n->container >= 0 || n->mapped_via_alias > 0);
}

int model_new(struct model *m, int id, enum model_kind kind, uint64_t size, int alias,
	      uint64_t alias_offset)
{
	struct model_node *n;

	if (id < 0 || id >= MODEL_MAX_NODES || m->n[id].live)
		return -EINVAL;
	if (kind == MK_ALIAS && !node(m, alias))
		return -EINVAL;
	n = &m->n[id];
	memset(n, 0, sizeof(*n));
	/* Rule 1.2 defaults, rule 1.3 kind flags. */
	n->live = true;
	n->kind = kind;
	n->size = model_size(size);
	n->enabled = true;
	n->romd = true;
	n->readonly = kind == MK_ROM;
	n->alias = kind == MK_ALIAS ? alias : -1;
	n->alias_offset = kind == MK_ALIAS ? alias_offset : 0;
	n->container = -1;
	if (kind == MK_RAM || kind == MK_ROM || kind == MK_ROM_DEVICE || kind == MK_RAM_DEVICE)
		n->alloc = n->size;
	if (id >= m->nr)
		m->nr = id + 1;
	return 0;
}

static bool reaches(const struct model *m, int from, int to, bool *seen)
{
	int i;

	if (from == to)
		return true;
	if (seen[from])
		return false;
	seen[from] = true;
	if (m->n[from].alias >= 0 && reaches(m, m->n[from].alias, to, seen))
		return true;
	for (i = 0; i < m->nr; i++)
		if (m->n[i].live && m->n[i].container == from && reaches(m, i, to, seen))
			return true;
	return false;
}

bool model_would_loop(const struct model *m, int container, int sub)
{
	bool seen[MODEL_MAX_NODES] = { false };

	/* Rendering follows subregion and alias edges; a path back is a loop. */
	return reaches(m, sub, container, seen);
}

static void link_sub(struct model *m, int container, int sub, uint64_t addr, int32_t prio)
{
	struct model_node *s = &m->n[sub];
	int t;

	s->container = container;
	s->addr = addr;
	s->prio = prio;
	s->seq = ++m->seq;
	for (t = s->alias; t >= 0; t = m->n[t].alias)
		m->n[t].mapped_via_alias++;
	/* Rule 3.9: container and subregion enabled. */
	if (m->n[container].enabled && s->enabled)
		m->pending = true;
}

static void unlink_sub(struct model *m, int sub)
{
	struct model_node *s = &m->n[sub];
	int t;

	if (m->n[s->container].enabled && s->enabled)
		m->pending = true;
	for (t = s->alias; t >= 0; t = m->n[t].alias)
		m->n[t].mapped_via_alias--;
	s->container = -1;
}

int model_free(struct model *m, int id, int keep)
{
	int i;

	if (!node(m, id) || id <= keep || m->n[id].container >= 0)
		return -EBUSY;
	for (i = 0; i < m->nr; i++)
		if (m->n[i].live && m->n[i].alias == id)
			return -EBUSY;
	for (i = 0; i < m->nr; i++)
		if (m->n[i].live && m->n[i].container == id)
			unlink_sub(m, i);
	m->n[id].live = false;
	return 0;
}

int model_add(struct model *m, int container, int sub, uint64_t addr, int32_t prio)
{
	if (!node(m, container) || !node(m, sub))
		return -EINVAL;
	if (m->n[sub].container >= 0)
		return -EBUSY;
	if (model_would_loop(m, container, sub))
		return -ELOOP;
	link_sub(m, container, sub, addr, prio);
	return 0;
}

int model_del(struct model *m, int container, int sub)
{
	if (!node(m, container) || !node(m, sub))
		return -EINVAL;
	if (m->n[sub].container != container)
		return -ENOENT;
	unlink_sub(m, sub);
	return 0;
}

void model_set_address(struct model *m, int id, uint64_t addr)
{
	struct model_node *n = node(m, id);
	int c;

	if (!n || n->addr == addr)
		return;
	if (n->container < 0) {
		n->addr = addr;
		return;
	}
	/* Rule 3.7: delete and re-add, so it becomes the newest sibling. */
	c = n->container;
	unlink_sub(m, id);
	link_sub(m, c, id, addr, n->prio);
}

int model_set_size(struct model *m, int id, uint64_t size)
{
	struct model_node *n = node(m, id);
	model_u128 s = model_size(size);

	if (!n)
		return -EINVAL;
	if (n->alloc && s > n->alloc)
		return -EINVAL;
	if (n->size == s)
		return 0;
	n->size = s;
	m->pending = true;
	return 0;
}

void model_set_enabled(struct model *m, int id, bool v)
{
	struct model_node *n = node(m, id);

	if (!n || n->enabled == v)
		return;
	n->enabled = v;
	m->pending = true;
}

/* Rule 3.9: attribute setters mark the update only for an enabled region. */
static void set_flag(struct model *m, struct model_node *n, bool *flag, bool v)
{
	if (*flag == v)
		return;
	*flag = v;
	if (n->enabled)
		m->pending = true;
}

void model_set_readonly(struct model *m, int id, bool v)
{
	struct model_node *n = node(m, id);

	if (n)
		set_flag(m, n, &n->readonly, v);
}

void model_set_nonvolatile(struct model *m, int id, bool v)
{
	struct model_node *n = node(m, id);

	if (n)
		set_flag(m, n, &n->nonvolatile, v);
}

void model_set_unmergeable(struct model *m, int id, bool v)
{
	struct model_node *n = node(m, id);

	if (n)
		set_flag(m, n, &n->unmergeable, v);
}

int model_set_romd(struct model *m, int id, bool v)
{
	struct model_node *n = node(m, id);

	if (!n || n->kind != MK_ROM_DEVICE)
		return -EINVAL;
	set_flag(m, n, &n->romd, v);
	return 0;
}

int model_set_alias_offset(struct model *m, int id, uint64_t off)
{
	struct model_node *n = node(m, id);

	if (!n || n->kind != MK_ALIAS)
		return -EINVAL;
	if (n->alias_offset != off) {
		n->alias_offset = off;
		if (n->enabled)
			m->pending = true;
	}
	return 0;
}

void model_set_log(struct model *m, int id, bool v)
{
	struct model_node *n = node(m, id);
	bool before;

	if (!n || (!v && !n->log_users))
		return;
	before = n->log_users > 0;
	n->log_users += v ? 1 : -1;
	/* The VGA bit changes only on 0->1 and 1->0 (rule 7.1). */
	if (before != (n->log_users > 0) && n->enabled)
		m->pending = true;
}

void model_begin(struct model *m)
{
	m->depth++;
}

int model_commit(struct model *m)
{
	if (!m->depth)
		return -EINVAL;
	return --m->depth == 0;
}

int model_children(const struct model *m, int id, int *out)
{
	int i, j, k = 0;

	for (i = 0; i < m->nr; i++) {
		const struct model_node *c = &m->n[i];

		if (!c->live || c->container != id)
			continue;
		/* Insertion sort: priority descending, then newest first. */
		for (j = k; j > 0; j--) {
			const struct model_node *p = &m->n[out[j - 1]];

			if (p->prio > c->prio || (p->prio == c->prio && p->seq > c->seq))
				break;
			out[j] = out[j - 1];
		}
		out[j] = i;
		k++;
	}
	return k;
}

int model_select_root(const struct model *m, int id)
{
	int kids[MODEL_MAX_NODES];
	int guard;

	/* Rule 7.3, bounded by the node count (the tree has no cycles). */
	for (guard = 0; guard <= MODEL_MAX_NODES; guard++) {
		const struct model_node *n = cnode(m, id);
		int i, k, en = 0, only = -1;

		if (!n || !n->enabled)
			return -1;
		if (n->kind == MK_ALIAS) {
			const struct model_node *t = cnode(m, n->alias);

			if (n->alias_offset == 0 && n->size >= t->size) {
				id = n->alias;
				continue;
			}
			return id;
		}
		if (n->kind != MK_CONTAINER)
			return id;
		k = model_children(m, id, kids);
		for (i = 0; i < k; i++) {
			if (m->n[kids[i]].enabled) {
				en++;
				only = kids[i];
			}
		}
		if (!en)
			return -1;
		if (en == 1 && m->n[only].addr == 0 && m->n[only].size <= n->size) {
			id = only;
			continue;
		}
		return id;
	}
	return id;
}

/* One address lookup. */
struct eval {
	const struct model *m;
	int kids[MODEL_MAX_NODES][MODEL_MAX_NODES];
	int nkids[MODEL_MAX_NODES];
	model_i128 a;		/* the address looked up */
	model_i128 next;	/* lowest range boundary above @a seen */
	int path[MODEL_MAX_DEPTH];
	int depth;
	/* result */
	int mr;
	model_i128 base;
	bool ro, nv, um;
};

static void eval_prepare(struct eval *e, const struct model *m)
{
	int i;

	e->m = m;
	for (i = 0; i < m->nr; i++)
		e->nkids[i] = m->n[i].live ? model_children(m, i, e->kids[i]) : 0;
}

/*
 * Does the subtree of @id, rendered with @base and inherited flags, own
 * e->a? This is rule 5.3 for one address: the clip is the intersection of
 * the own ranges on the path, so testing e->a against every own range on
 * the way down is the same as testing it against the clip.
 */
static bool eval_node(struct eval *e, int id, model_i128 base, bool ro, bool nv, bool um)
{
	const struct model_node *n = &e->m->n[id];
	model_i128 lo, hi;
	int i;

	if (!n->enabled)
		return false;
	base += (model_i128)n->addr;
	ro |= n->readonly;
	nv |= n->nonvolatile;
	um |= n->unmergeable;
	lo = base;
	hi = base + (model_i128)n->size;
	if (e->a < lo) {
		if (lo < e->next)
			e->next = lo;
		return false;
	}
	if (e->a >= hi)
		return false;
	if (hi < e->next)
		e->next = hi;

	e->path[e->depth++] = id;
	if (n->kind == MK_ALIAS) {
		const struct model_node *t = &e->m->n[n->alias];

		if (eval_node(e, n->alias, base - (model_i128)t->addr - (model_i128)n->alias_offset,
			      ro, nv, um))
			return true;
		e->depth--;
		return false;
	}
	for (i = 0; i < e->nkids[id]; i++)
		if (eval_node(e, e->kids[id][i], base, ro, nv, um))
			return true;
	if (model_terminates(e->m, id)) {
		e->mr = id;
		e->base = base;
		e->ro = ro;
		e->nv = nv;
		e->um = um;
		return true;
	}
	e->depth--;
	return false;
}

static int view_push(struct model_view *v, const struct model_range *r)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct model_range *nr = realloc(v->r, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		v->r = nr;
		v->cap = cap;
	}
	v->r[v->n++] = *r;
	return 0;
}

/* Rule 6.1, applied to pieces arriving in address order. */
static int view_add_piece(struct model_view *v, const struct model_range *p)
{
	struct model_range *l = v->n ? &v->r[v->n - 1] : NULL;

	if (l && (model_u128)l->start + l->size == p->start && l->mr == p->mr &&
	    (model_u128)l->off + l->size == p->off && l->mask == p->mask &&
	    l->romd == p->romd && l->ro == p->ro && l->nv == p->nv && !l->um && !p->um) {
		l->size += p->size;
		return 0;
	}
	return view_push(v, p);
}

/* Walks [from, to) and appends the segments it finds to the pieces. */
struct walker {
	struct eval e;
	struct model_range piece;
	bool have_piece;
	int path[MODEL_MAX_DEPTH];
	int depth;
	bool any;		/* something was owned */
};

static int walk_segment(struct walker *w, struct model_view *v, int root, model_i128 a,
			model_i128 end)
{
	struct eval *e = &w->e;
	struct model_range seg;

	e->a = a;
	e->next = (model_i128)MODEL_2_64;
	e->depth = 0;
	if (!eval_node(e, root, 0, false, false, false)) {
		if (w->have_piece) {
			w->have_piece = false;
			return view_add_piece(v, &w->piece);
		}
		return 0;
	}
	w->any = true;
	if (end > e->next)
		end = e->next;
	seg.mr = e->mr;
	seg.start = (uint64_t)a;
	seg.size = (model_u128)(end - a);
	seg.off = (uint64_t)(a - e->base);
	seg.ro = e->ro;
	seg.nv = e->nv;
	seg.um = e->um;
	seg.romd = e->m->n[e->mr].romd;
	seg.mask = model_mask(e->m, e->mr);
	if (w->have_piece && (model_i128)w->piece.start + (model_i128)w->piece.size == a &&
	    w->depth == e->depth && !memcmp(w->path, e->path, e->depth * sizeof(int))) {
		w->piece.size += seg.size;
		return 0;
	}
	if (w->have_piece && view_add_piece(v, &w->piece))
		return -ENOMEM;
	w->piece = seg;
	w->have_piece = true;
	w->depth = e->depth;
	memcpy(w->path, e->path, e->depth * sizeof(int));
	return 0;
}

/*
 * Below @limit every address is looked up on its own (the slow check);
 * from @limit on, lookups jump from boundary to boundary, and with a
 * non-zero @limit nothing may be owned there.
 */
static int render(const struct model *m, int as_root, uint64_t limit, struct model_view *v)
{
	model_i128 a = 0, top = (model_i128)MODEL_2_64;
	struct walker *w;
	int root, err = 0;

	v->n = 0;
	v->root = root = model_select_root(m, as_root);
	if (root < 0)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	eval_prepare(&w->e, m);
	/* Rule 5.2: render the selected root with base 0, clip [0, 2^64). */
	while (!err && a < top) {
		if (a < (model_i128)limit) {
			err = walk_segment(w, v, root, a, a + 1);
			a++;
			continue;
		}
		w->any = false;
		err = walk_segment(w, v, root, a, top);
		if (!err && limit && w->any)
			err = -ERANGE;
		/* Every boundary recorded lies above a. */
		a = w->e.next;
	}
	if (!err && w->have_piece)
		err = view_add_piece(v, &w->piece);
	free(w);
	return err;
}

int model_render(const struct model *m, int as_root, struct model_view *v)
{
	return render(m, as_root, 0, v);
}

int model_render_slow(const struct model *m, int as_root, uint64_t limit,
		      struct model_view *v)
{
	return render(m, as_root, limit ? limit : 1, v);
}

void model_view_free(struct model_view *v)
{
	free(v->r);
	v->r = NULL;
	v->n = v->cap = 0;
}

bool model_range_eq(const struct model_range *a, const struct model_range *b)
{
	/* Rule 2.3 of listeners-and-transactions.md: the mask is not compared. */
	return a->mr == b->mr && a->start == b->start && a->size == b->size &&
	       a->off == b->off && a->romd == b->romd && a->ro == b->ro && a->nv == b->nv &&
	       a->um == b->um;
}

bool model_view_eq(const struct model_view *a, const struct model_view *b)
{
	size_t i;

	if (a->root != b->root || a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (!model_range_eq(&a->r[i], &b->r[i]) || a->r[i].mask != b->r[i].mask)
			return false;
	return true;
}
