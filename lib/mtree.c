// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * QEMU's ``info mtree`` text formats (qemu-mtree-format.md sections 1-5).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ptr_vec {
	void **v;
	size_t nr, alloc;
};

static int vec_push(struct ptr_vec *pv, void *p)
{
	if (pv->nr == pv->alloc) {
		size_t n = pv->alloc ? 2 * pv->alloc : 16;
		void **v = realloc(pv->v, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pv->v = v;
		pv->alloc = n;
	}
	pv->v[pv->nr++] = p;
	return 0;
}

/* A set of pointers: open addressing, at most half full. */
struct ptr_set {
	const void **slot;
	size_t cap, nr;
};

static size_t ptr_hash(const void *p, size_t cap)
{
	uint64_t x = (uintptr_t)p * 0x9e3779b97f4a7c15ull;

	return (size_t)(x >> 17) & (cap - 1);
}

/* 1 if @p was added, 0 if it was there, -ENOMEM */
static int set_add(struct ptr_set *s, const void *p)
{
	size_t i;

	if (2 * (s->nr + 1) > s->cap) {
		struct ptr_set n = { .cap = s->cap ? 2 * s->cap : 64 };

		n.slot = calloc(n.cap, sizeof(*n.slot));
		if (!n.slot)
			return -ENOMEM;
		for (size_t k = 0; k < s->cap; k++) {
			if (!s->slot[k])
				continue;
			for (i = ptr_hash(s->slot[k], n.cap); n.slot[i]; i = (i + 1) & (n.cap - 1))
				;
			n.slot[i] = s->slot[k];
		}
		n.nr = s->nr;
		free(s->slot);
		*s = n;
	}
	for (i = ptr_hash(p, s->cap); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == p)
			return 0;
	s->slot[i] = p;
	s->nr++;
	return 1;
}

/*
 * The address spaces grouped by a key (their root or their view), groups
 * in the creation order of their first member, members in creation order:
 * sorted once instead of compared pairwise.
 */
struct as_ent {
	const void *key;
	size_t idx;
	struct ms_as *as;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct as_ent *x = a, *y = b;

	if (x->key != y->key)
		return (uintptr_t)x->key < (uintptr_t)y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int first_cmp(const void *a, const void *b)
{
	const struct as_ent *x = *(struct as_ent *const *)a, *y = *(struct as_ent *const *)b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

struct as_groups {
	struct as_ent *e;		/* sorted by key, then creation */
	struct as_ent **first;		/* each group's first member, in creation order */
	size_t nr, nr_groups;
};

static int as_groups(struct ms_ctx *ctx, bool by_view, struct as_groups *g)
{
	struct list_head *pos;
	size_t n = 0;

	memset(g, 0, sizeof(*g));
	list_for_each(pos, &ctx->as_list)
		n++;
	g->e = malloc((n ? n : 1) * sizeof(*g->e));
	g->first = malloc((n ? n : 1) * sizeof(*g->first));
	if (!g->e || !g->first) {
		free(g->e);
		free(g->first);
		return -ENOMEM;
	}
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);

		g->e[g->nr] = (struct as_ent){ by_view ? (const void *)as->fv : as->root, g->nr,
					       as };
		g->nr++;
	}
	if (g->nr)
		qsort(g->e, g->nr, sizeof(*g->e), ent_cmp);
	for (size_t i = 0; i < g->nr; i++)
		if (!i || g->e[i].key != g->e[i - 1].key)
			g->first[g->nr_groups++] = &g->e[i];
	if (g->nr_groups)
		qsort(g->first, g->nr_groups, sizeof(*g->first), first_cmp);
	return 0;
}

/* members of the group starting at @first */
static size_t group_size(const struct as_groups *g, const struct as_ent *first)
{
	size_t k = 1;

	while (first + k < g->e + g->nr && first[k].key == first->key)
		k++;
	return k;
}

struct mtree {
	FILE *f;
	unsigned int flags;
	struct ptr_vec targets;		/* alias targets, first-met order (rule 2.2) */
	struct ptr_set seen;		/* the same, to look up */
	int err;
};

static const char *name_of(const struct ms_region *mr)
{
	return mr && mr->name ? mr->name : "(null)";
}

/* rule 1.5: size 0 prints like size 1, 2^64 gives UINT64_MAX */
static uint64_t size_minus_one(ms_u128 size)
{
	return size ? (uint64_t)(size - 1) : 0;
}

static void print_owner(FILE *f, const struct ms_region *mr)
{
	/* rule 5.1 */
	if (!mr->owner && !mr->parent) {
		fputs(" orphan", f);
		return;
	}
	if (mr->owner)
		fprintf(f, " owner:{%s}", mr->owner);
	if (mr->parent && (!mr->owner || strcmp(mr->parent, mr->owner)))
		fprintf(f, " parent:{%s}", mr->parent);
}

struct child {
	struct ms_region *mr;
	size_t order;
};

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;

	/* rule 2.3: addr ascending, priority descending, then list order */
	if (x->mr->addr != y->mr->addr)
		return x->mr->addr < y->mr->addr ? -1 : 1;
	if (x->mr->priority != y->mr->priority)
		return x->mr->priority > y->mr->priority ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void print_mr(struct mtree *t, struct ms_region *mr, unsigned int level, uint64_t base)
{
	uint64_t start = base + mr->addr;
	uint64_t end = start + size_minus_one(mr->size);
	struct list_head *pos;
	struct child *kids;
	size_t n = 0;

	if (t->err)
		return;
	/* rule 2.3 */
	if (start < base || end < start)
		fputs("[DETECTED OVERFLOW!] ", t->f);
	if (mr->alias) {
		int added = set_add(&t->seen, mr->alias);

		if (added < 0 || (added && vec_push(&t->targets, mr->alias)))
			t->err = -ENOMEM;
	}
	if (mr->enabled || (t->flags & MS_MTREE_DISABLED)) {
		fprintf(t->f, "%*s%016llx-%016llx (prio %d, %s%s): ", (int)level * 2, "",
			(unsigned long long)start, (unsigned long long)end, mr->priority,
			mr->nonvolatile ? "nv-" : "", ms_region__type_str(mr));
		if (mr->alias)
			fprintf(t->f, "alias %s @%s %016llx-%016llx", name_of(mr),
				name_of(mr->alias), (unsigned long long)mr->alias_offset,
				(unsigned long long)(mr->alias_offset +
						     size_minus_one(mr->size)));
		else
			fputs(name_of(mr), t->f);
		if (!mr->enabled)
			fputs(" [disabled]", t->f);
		if (t->flags & MS_MTREE_OWNER)
			print_owner(t->f, mr);
		fputc('\n', t->f);
	}
	if (!mr->nr_subregions)
		return;
	kids = malloc(mr->nr_subregions * sizeof(*kids));
	if (!kids) {
		t->err = -ENOMEM;
		return;
	}
	list_for_each(pos, &mr->subregions) {
		kids[n].mr = list_entry(pos, struct ms_region, node);
		kids[n].order = n;
		n++;
	}
	qsort(kids, n, sizeof(*kids), child_cmp);
	for (size_t i = 0; i < n; i++)
		print_mr(t, kids[i].mr, level + 1, start);
	free(kids);
}

static int name_cmp(const void *a, const void *b)
{
	const struct as_ent *x = a, *y = b;

	return strcmp(x->as->name, y->as->name);
}

static void print_tree(struct mtree *t, struct ms_ctx *ctx)
{
	struct as_groups g;

	/* rule 2.1: groups by root, in the creation order of their first space */
	if (as_groups(ctx, false, &g)) {
		t->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < g.nr_groups; i++) {
		struct as_ent *first = g.first[i];
		struct ms_region *root = first->as->root;
		size_t n = group_size(&g, first);

		qsort(first, n, sizeof(*first), name_cmp);
		for (size_t k = 0; k < n; k++)
			fprintf(t->f, "address-space: %s\n", first[k].as->name);
		if (root)
			print_mr(t, root, 1, 0);
		fputc('\n', t->f);
	}
	free(g.e);
	free(g.first);
	/* rule 2.2: the list grows while it is printed */
	for (size_t i = 0; i < t->targets.nr && !t->err; i++) {
		struct ms_region *mr = t->targets.v[i];

		fprintf(t->f, "memory-region: %s\n", name_of(mr));
		print_mr(t, mr, 1, 0);
		fputc('\n', t->f);
	}
}

static void print_flat(struct mtree *t, struct ms_ctx *ctx, ms_mtree_mem_fn has_memory,
		       void *opaque)
{
	struct as_groups g;

	if (as_groups(ctx, true, &g)) {
		t->err = -ENOMEM;
		return;
	}
	/* rule 3.2 */
	for (size_t i = 0; i < g.nr_groups; i++) {
		struct as_ent *first = g.first[i];
		struct ms_flatview *fv = first->as->fv;
		size_t members = group_size(&g, first);

		fprintf(t->f, "FlatView #%zu\n", i);
		for (size_t k = 0; k < members; k++) {
			struct ms_as *as = first[k].as;

			fprintf(t->f, " AS \"%s\", root: %s", as->name, name_of(as->root));
			if (as->root && as->root->alias)
				fprintf(t->f, ", alias %s", name_of(as->root->alias));
			fputc('\n', t->f);
		}
		fprintf(t->f, " Root memory region: %s\n", fv->root ? name_of(fv->root) : "(none)");
		if (!fv->nr) {
			fputs("  No rendered FlatView\n\n", t->f);
			continue;
		}
		/* rule 3.3 */
		const struct ms_flat_range *fr;

		fv_for_each(fv, it, fr) {
			fprintf(t->f, "  %016llx-%016llx (prio %d, %s%s): %s",
				(unsigned long long)fr->start,
				(unsigned long long)(fr->start + size_minus_one(fr->size)),
				fr->mr->priority, fr->nonvolatile ? "nv-" : "",
				fr->readonly ? "rom" : ms_region__type_str(fr->mr),
				name_of(fr->mr));
			if (fr->offset_in_region)
				fprintf(t->f, " @%016llx", (unsigned long long)fr->offset_in_region);
			if (t->flags & MS_MTREE_OWNER)
				print_owner(t->f, fr->mr);
			for (size_t k = 0; has_memory && k < members; k++)
				if (has_memory(opaque, first[k].as, fr->start, fr->size))
					fputs(" KVM", t->f);
			fputc('\n', t->f);
		}
		fputc('\n', t->f);
	}
	free(g.e);
	free(g.first);
}

int ms_mtree_print(struct ms_ctx *ctx, FILE *f, unsigned int flags, ms_mtree_mem_fn has_memory,
		   void *opaque)
{
	struct mtree t = { .f = f, .flags = flags };

	if (flags & MS_MTREE_FLAT)
		print_flat(&t, ctx, has_memory, opaque);
	else
		print_tree(&t, ctx);
	free(t.targets.v);
	free(t.seen.slot);
	if (t.err)
		return t.err;
	return ferror(f) ? -EIO : 0;
}
