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

static bool vec_has(const struct ptr_vec *pv, const void *p)
{
	for (size_t i = 0; i < pv->nr; i++)
		if (pv->v[i] == p)
			return true;
	return false;
}

struct mtree {
	FILE *f;
	unsigned int flags;
	struct ptr_vec targets;		/* alias targets, first-met order (rule 2.2) */
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
	if (mr->alias && !vec_has(&t->targets, mr->alias) && vec_push(&t->targets, mr->alias))
		t->err = -ENOMEM;
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
	const struct ms_as *x = *(struct ms_as *const *)a, *y = *(struct ms_as *const *)b;

	return strcmp(x->name, y->name);
}

static void print_tree(struct mtree *t, struct ms_ctx *ctx)
{
	struct ptr_vec roots = { 0 }, group = { 0 };
	struct list_head *pos;

	/* rule 2.1: groups by root, in the creation order of their first space */
	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);

		if (!vec_has(&roots, as->root) && vec_push(&roots, as->root))
			goto nomem;
	}
	for (size_t i = 0; i < roots.nr; i++) {
		group.nr = 0;
		list_for_each(pos, &ctx->as_list) {
			struct ms_as *as = list_entry(pos, struct ms_as, node);

			if (as->root == roots.v[i] && vec_push(&group, as))
				goto nomem;
		}
		qsort(group.v, group.nr, sizeof(*group.v), name_cmp);
		for (size_t k = 0; k < group.nr; k++)
			fprintf(t->f, "address-space: %s\n", ((struct ms_as *)group.v[k])->name);
		if (roots.v[i])
			print_mr(t, roots.v[i], 1, 0);
		fputc('\n', t->f);
	}
	/* rule 2.2: the list grows while it is printed */
	for (size_t i = 0; i < t->targets.nr && !t->err; i++) {
		struct ms_region *mr = t->targets.v[i];

		fprintf(t->f, "memory-region: %s\n", name_of(mr));
		print_mr(t, mr, 1, 0);
		fputc('\n', t->f);
	}
	goto out;
nomem:
	t->err = -ENOMEM;
out:
	free(roots.v);
	free(group.v);
}

static void print_flat(struct mtree *t, struct ms_ctx *ctx, ms_mtree_mem_fn has_memory,
		       void *opaque)
{
	struct ptr_vec views = { 0 };
	struct list_head *pos;
	size_t n = 0;

	list_for_each(pos, &ctx->as_list) {
		struct ms_as *as = list_entry(pos, struct ms_as, node);

		if (!vec_has(&views, as->fv) && vec_push(&views, as->fv)) {
			t->err = -ENOMEM;
			goto out;
		}
	}
	/* rule 3.2 */
	for (size_t i = 0; i < views.nr; i++) {
		struct ms_flatview *fv = views.v[i];

		fprintf(t->f, "FlatView #%zu\n", n++);
		list_for_each(pos, &ctx->as_list) {
			struct ms_as *as = list_entry(pos, struct ms_as, node);

			if (as->fv != fv)
				continue;
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
			if (has_memory) {
				list_for_each(pos, &ctx->as_list) {
					struct ms_as *as = list_entry(pos, struct ms_as, node);

					if (as->fv == fv &&
					    has_memory(opaque, as, fr->start, fr->size))
						fputs(" KVM", t->f);
				}
			}
			fputc('\n', t->f);
		}
		fputc('\n', t->f);
	}
out:
	free(views.v);
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
	if (t.err)
		return t.err;
	return ferror(f) ? -EIO : 0;
}
