// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Importing QEMU's ``info mtree`` text (qemu-mtree-format.md 2, 4, 5, 7):
 * regions and address spaces built from the node tree import_parse.c
 * reads; an ``info mtree -f`` dump of the same VM (flatdump.c) settles
 * the ambiguities.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"

/* ---- building regions --------------------------------------------------- */

static ms_u128 node_size(const struct node *n)
{
	/* printed end = start + size - 1 (rule 1.5); size 0 is indistinguishable
	 * from size 1 and read as 1 */
	uint64_t d = n->end - n->start;

	return d == UINT64_MAX ? MS_SIZE_2_64 : (ms_u128)d + 1;
}

static uint64_t size_arg(ms_u128 size)
{
	return size >= MS_SIZE_2_64 ? UINT64_MAX : (uint64_t)size;
}

static bool has_named_descendant(const struct node *n, const char *name)
{
	for (size_t i = 0; i < n->nr_kids; i++)
		if ((n->kids[i]->name && !strcmp(n->kids[i]->name, name)) ||
		    has_named_descendant(n->kids[i], name))
			return true;
	return false;
}

static struct node *alias_target(struct parser *p, struct node *a);

/* Final non-alias target of an alias node, or NULL. */
static struct node *final_target(struct parser *p, struct node *n)
{
	for (int depth = 0; n && n->is_alias && depth < 64; depth++)
		n = alias_target(p, n);
	return n && !n->is_alias ? n : NULL;
}

/* Is @a the alias that wins at @addr among the enabled aliases of the same
 * section onto @t? Higher priority wins, then the one printed first (the
 * newest, rule 3.3). */
static bool alias_wins(struct node *a, struct node *t, uint64_t addr)
{
	for (struct node *b = t->ft_aliases; b; b = b->ft_next) {
		if (b == a || b->disabled || b->section != a->section || addr < b->start ||
		    addr > b->end)
			continue;
		if (b->prio > a->prio || (b->prio == a->prio && b->line < a->line))
			return false;
	}
	return true;
}

/*
 * A read-only alias of RAM prints as "ram" in the tree (rule 4.2 of the
 * format) but makes its flat ranges "rom": PC PAM "pam-rom". With a -f dump,
 * an alias onto writable RAM is read-only if, at a point where it is the
 * winning alias, the view shows the target as "rom".
 */
static void settle_readonly_aliases(struct parser *p)
{
	/* the aliases onto each final target, in reverse file order */
	for (size_t i = 0; i < p->nr_nodes; i++) {
		struct node *a = p->nodes[i];

		if (!a->is_alias || !(a->ftarget = final_target(p, a)))
			continue;
		a->ft_next = a->ftarget->ft_aliases;
		a->ftarget->ft_aliases = a;
	}
	for (size_t i = 0; i < p->nr_nodes; i++) {
		struct node *a = p->nodes[i], *t = a->ftarget;
		const struct fi_list *l;

		if (!a->is_alias || a->disabled || !a->in_as_tree || !t || t->type != T_RAM)
			continue;
		/* the ranges of the target in the window, in QEMU's view */
		l = fi_list(&p->fi, fi_view(&p->fi, p->secs[a->section].names[0]), t->name,
			    strlen(t->name));
		for (size_t k = l ? fi_first(l, a->start) : 0;
		     l && k < l->nr && l->v[k].start <= a->end && !a->mr->readonly; k++) {
			const struct fi_ent *r = &l->v[k];
			uint64_t at;

			if (r->end < a->start)
				continue;
			at = r->start > a->start ? r->start : a->start;
			if (p->fi.ranges[r->idx].rom && alias_wins(a, t, at))
				a->mr->readonly = true;
		}
	}
}

/*
 * What QEMU 7.2 sets but `info mtree` does not print (memslot-mtree(8),
 * "Inference"): the chipsets' "smram" region is a container (it prints
 * like a childless I/O region when its windows are off, as on a Q35 that
 * has not run).
 */
static bool known_container(const struct node *n)
{
	return !n->is_alias && n->name && !strcmp(n->name, "smram") && n->up && n->up->name &&
	       !strcmp(n->up->name, "mem-container-smram");
}

/* PAM's "ROM" mode aliases RAM read-only (hw/pci-host/pam.c). */
static bool known_readonly_alias(const struct node *n)
{
	return n->is_alias && n->name && !strcmp(n->name, "pam-rom");
}

/*
 * RAM the display devices log dirty pages of from realize on (the VGA
 * family's vga_common_init(), bochs-display): KVM_MEM_LOG_DIRTY_PAGES.
 */
static bool known_vga_logged(const struct node *n)
{
	return !n->is_alias && n->type == T_RAM && n->name &&
	       (!strcmp(n->name, "vga.vram") || !strcmp(n->name, "bochs-display-vram"));
}

/* Does QEMU's flat dump show @n's name (within its range if it is in an
 * address-space tree)? Asked once per node. */
static bool flat_named(struct parser *p, struct node *n)
{
	if (!n->flat_named)
		n->flat_named = fi_has_name_within(&p->fi, n->name, n->in_as_tree, n->start,
						   n->end) ? 1 : -1;
	return n->flat_named > 0;
}

static bool io_terminates(struct parser *p, struct node *n)
{
	const struct section *sec = &p->secs[n->section];
	bool as_root = sec->is_as && sec->root == n;

	if (n->hidden)
		return false;
	if (p->flat) {
		/* rule 7.1: a terminating region shows up under its own name (a
		 * same-named descendant does not count) */
		if (flat_named(p, n) && !has_named_descendant(n, n->name))
			return true;
		if (n->nr_kids)
			return false;
	}
	/* what the -f dump does not contradict */
	if (known_container(n))
		return false;
	if (!n->nr_kids)
		return !(as_root && node_size(n) == MS_SIZE_2_64);
	return as_root && node_size(n) < MS_SIZE_2_64;
}

static enum ms_region_kind node_kind(struct parser *p, struct node *n)
{
	switch (n->type) {
	case T_RAM:
		return MS_REGION_RAM;
	case T_ROM:
		return MS_REGION_ROM;
	case T_ROMD:
		return MS_REGION_ROM_DEVICE;
	case T_RAMD:
		return MS_REGION_RAM_DEVICE;
	case T_IO:
	default:
		return io_terminates(p, n) ? MS_REGION_IO : MS_REGION_CONTAINER;
	}
}

/* The printed attributes every region of a node gets, whatever its kind. */
static int node_finish_region(struct node *n)
{
	if (!n->mr)
		return -errno;
	if (n->nv)
		n->mr->nonvolatile = true;
	if (n->disabled)
		n->mr->enabled = false;
	if (n->owner || n->parent)
		return ms_region__set_owner(n->mr, n->owner, n->parent);
	return 0;
}

static int create_plain(struct parser *p, struct node *n)
{
	if (n->is_alias)
		return 0;
	n->mr = region_new_described(p->ctx, n->name, size_arg(node_size(n)), node_kind(p, n),
				     p->err);
	return node_finish_region(n);
}

/* Same printed shape: fields and subtree (used to match memory-region
 * sections with regions already seen, rule 2.2). */
static bool same_shape(const struct node *a, const struct node *b)
{
	if (a->is_alias != b->is_alias || a->prio != b->prio || a->type != b->type ||
	    a->nv != b->nv || a->nr_kids != b->nr_kids || node_size(a) != node_size(b) ||
	    a->hidden != b->hidden)
		return false;
	if (!a->hidden && strcmp(a->name, b->name))
		return false;
	if (a->is_alias && (strcmp(a->target, b->target) || a->alias_off != b->alias_off))
		return false;
	for (size_t i = 0; i < a->nr_kids; i++) {
		const struct node *x = a->kids[i], *y = b->kids[i];

		if (x->start - a->start != y->start - b->start || !same_shape(x, y))
			return false;
	}
	return true;
}

static uint64_t node_addr(const struct node *n)
{
	return n->up ? n->start - n->up->start : n->start;
}

/* The node a memory-region section stands for: an earlier node of the same
 * shape (and own address), or the section's own root. */
static struct node *__section_region(struct parser *p, const struct section *sec)
{
	struct node *r = sec->root;
	const size_t *first;

	/* a section whose first line is indented deeper has a hidden, nameless root */
	if (!r || !r->name)
		return r;
	first = strmap_find(&p->node_names, 0, r->name, strlen(r->name));
	for (struct node *n = first ? p->nodes[*first] : NULL; n; n = n->next_named) {
		if (n->section >= (unsigned int)(sec - p->secs))
			break;
		/* the root of another memory-region section is another region:
		 * QEMU prints each target once */
		if (!p->secs[n->section].is_as && p->secs[n->section].root == n)
			continue;
		if (node_addr(n) == r->start && n->shape == r->shape && same_shape(n, r))
			return n;
	}
	return r;
}

static struct node *section_region(struct parser *p, struct section *sec)
{
	if (!sec->region_known) {
		sec->region = __section_region(p, sec);
		sec->region_known = true;
	}
	return sec->region;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

/* What same_shape() compares, hashed, bottom-up. */
static uint64_t shape_hash(struct node *n)
{
	ms_u128 size = node_size(n);
	uint64_t h = mix(n->is_alias | n->nv << 1 | n->hidden << 2 | (uint64_t)n->type << 3,
			 (uint32_t)n->prio);

	h = mix(mix(h, (uint64_t)size), (uint64_t)(size >> 64));
	h = mix(h, n->nr_kids);
	if (!n->hidden)
		h = mix(h, str_hash(n->name));
	if (n->is_alias)
		h = mix(mix(h, str_hash(n->target)), n->alias_off);
	for (size_t i = 0; i < n->nr_kids; i++)
		h = mix(mix(h, n->kids[i]->start - n->start), shape_hash(n->kids[i]));
	n->shape = h;
	return h;
}

/*
 * The indexes of the node tree: shapes, the memory-region sections of each
 * name and the nodes of those names (in file order: built backwards).
 */
static int index_nodes(struct parser *p)
{
	for (size_t i = 0; i < p->nr_secs; i++)
		if (p->secs[i].root)
			shape_hash(p->secs[i].root);
	for (size_t i = p->nr_secs; i-- > 0;) {
		struct section *sec = &p->secs[i];
		bool added;
		size_t *first;

		sec->next_named = SIZE_MAX;
		if (sec->is_as)
			continue;
		first = strmap_add(&p->sec_names, 0, sec->names[0], strlen(sec->names[0]), i,
				   &added);
		if (!first)
			return -ENOMEM;
		if (!added) {
			sec->next_named = *first;
			*first = i;
		}
	}
	for (size_t i = p->nr_nodes; i-- > 0;) {
		struct node *n = p->nodes[i];
		size_t len, *first;
		bool added;

		if (n->hidden)
			continue;
		len = strlen(n->name);
		if (!strmap_find(&p->sec_names, 0, n->name, len))
			continue;	/* no section_region() looks for it */
		first = strmap_add(&p->node_names, 0, n->name, len, i, &added);
		if (!first)
			return -ENOMEM;
		if (!added) {
			n->next_named = p->nodes[*first];
			*first = i;
		}
	}
	return 0;
}

static bool subtree_has_name(const struct node *n, const char *name, size_t len)
{
	if (n->name && strlen(n->name) == len && !memcmp(n->name, name, len))
		return true;
	for (size_t i = 0; i < n->nr_kids; i++)
		if (subtree_has_name(n->kids[i], name, len))
			return true;
	return false;
}

/* How many ranges of the alias's window in QEMU's view name a region of
 * @cand's subtree (or of its own alias targets one level down)? */
static unsigned int target_score(struct parser *p, const struct node *a, const struct node *cand)
{
	const struct fi_list *l;
	unsigned int score = 0;

	if (!p->flat || !a->in_as_tree)
		return 0;
	l = fi_list(&p->fi, fi_view(&p->fi, p->secs[a->section].names[0]), NULL, 0);
	for (size_t k = l ? fi_first(l, a->start) : 0; l && k < l->nr && l->v[k].start <= a->end;
	     k++) {
		const struct fi_range *r = &p->fi.ranges[l->v[k].idx];

		if (r->end >= a->start && subtree_has_name(cand, r->name, r->name_len))
			score++;
	}
	return score;
}

/* How many regions of @cand's subtree lie inside the alias window (in
 * target coordinates)? A bridge's devices sit inside its windows. */
static unsigned int window_score(const struct node *a, const struct node *cand,
				 const struct node *n)
{
	unsigned int score = 0;

	for (size_t i = 0; i < n->nr_kids; i++) {
		const struct node *k = n->kids[i];
		uint64_t rel = k->start - cand->start;

		if (!k->hidden && rel >= a->alias_off && rel <= a->alias_end)
			score++;
		score += window_score(a, cand, k);
	}
	return score;
}

/*
 * The region an alias shows: the memory-region section of its target's name.
 * Distinct regions may share a name (two PCI bridges' "pci_bridge_pci");
 * then the candidate whose subtree explains most of what QEMU's view shows
 * in the alias window wins, then the one with most regions inside the
 * window, then one no alias uses yet (every section was queued by an
 * alias), else the first one.
 */
static struct node *alias_target(struct parser *p, struct node *a)
{
	struct node *best = NULL;
	unsigned int best_score = 0;
	const size_t *first;
	bool one;

	if (a->tnode)
		return a->tnode;
	first = strmap_find(&p->sec_names, 0, a->target, strlen(a->target));
	/* one candidate: nothing to score */
	one = first && p->secs[*first].next_named == SIZE_MAX;
	for (size_t i = first ? *first : SIZE_MAX; i != SIZE_MAX; i = p->secs[i].next_named) {
		struct node *cand = section_region(p, &p->secs[i]);
		unsigned int score;

		score = one ? 0 : target_score(p, a, cand) * 65536 + window_score(a, cand, cand);
		/* on a tie, a target no alias uses yet: each was met by one */
		if (!best || score > best_score ||
		    (score == best_score && cand->alias_refs < best->alias_refs)) {
			best = cand;
			best_score = score;
		}
	}
	a->tnode = best;
	if (best)
		best->alias_refs++;
	return best;
}

static int create_alias(struct parser *p, struct node *n, unsigned int depth)
{
	struct node *t;
	uint64_t d;

	if (n->mr || !n->is_alias)
		return 0;
	if (depth > 64)
		return perr(p, n->line, "alias chain too long or looping", n->name);
	t = alias_target(p, n);
	if (!t)
		return perr(p, n->line, "alias target not found (no \"memory-region:\" section)",
			    n->target);
	if (t->is_alias) {
		int ret = create_alias(p, t, depth + 1);

		if (ret)
			return ret;
	}
	d = n->alias_end - n->alias_off;
	n->mr = ms_region__new_alias(p->ctx, n->name, t->mr, n->alias_off,
				     d == UINT64_MAX ? UINT64_MAX : d + 1, p->err);
	return node_finish_region(n);
}

/*
 * Add the children so that the list order matches what was printed: QEMU
 * prints siblings by address, then priority descending, then list order
 * (newest first). Adding in reverse print order makes the first printed of
 * equal (address, priority) siblings the newest, as it was.
 */
static int link_children(struct parser *p, struct node *n)
{
	for (size_t i = n->nr_kids; i-- > 0;) {
		struct node *k = n->kids[i];
		int ret;

		if (k->mr->container)
			continue;	/* already linked via a matched section */
		ret = ms_region__add_subregion_overlap(n->mr, node_addr(k), k->mr, k->prio, p->err);
		if (ret)
			return perr(p, k->line, "cannot map region", k->name);
	}
	for (size_t i = 0; i < n->nr_kids; i++) {
		int ret = link_children(p, n->kids[i]);

		if (ret)
			return ret;
	}
	return 0;
}

struct ms_import {
	struct ms_ctx *ctx;
	struct ms_as **as;
	size_t nr_as;
	struct ms_region **regions;	/* references held */
	size_t nr_regions;
};

static void free_nodes(struct parser *p)
{
	for (size_t i = 0; i < p->nr_nodes; i++) {
		struct node *n = p->nodes[i];

		free(n->owner);
		free(n->parent);
		free(n->kids);
	}
	while (p->blocks) {
		struct node_block *b = p->blocks;

		p->blocks = b->next;
		free(b);
	}
	free(p->nodes);
	for (size_t i = 0; i < p->nr_secs; i++) {
		for (size_t k = 0; k < p->secs[i].nr_names; k++)
			free(p->secs[i].names[k]);
		free(p->secs[i].names);
	}
	free(p->secs);
}

void ms_import__free(struct ms_import *imp)
{
	if (!imp)
		return;
	for (size_t i = 0; i < imp->nr_as; i++)
		ms_as__free(imp->as[i]);
	ms_ctx__begin(imp->ctx);
	for (size_t i = 0; i < imp->nr_regions; i++)
		ms_region__unref(imp->regions[i]);
	ms_ctx__commit(imp->ctx);
	free(imp->as);
	free(imp->regions);
	free(imp);
}

/*
 * A container whose children are all disabled prints, without -D, exactly
 * like a childless I/O region (format rule 7.1): QEMU 7.2's q35 "smram"
 * under "mem-container-smram" (KVM-SMRAM). Taken for I/O, it would render
 * over the whole range it covers; as a container it is transparent.
 *
 * Rule, with a -f dump: a childless "i/o" region that terminates by the
 * tree alone, whose name no flat view shows (within its printed range if
 * it is in an address-space tree), is a container if it is visible in our
 * rendering of an address space the dump has a view of, at a range where
 * QEMU's view of that address space does not show its name, i.e. as I/O
 * it would win over what QEMU shows there. A real I/O region fully covered by
 * higher-priority regions is not visible in our rendering either and stays
 * I/O; a region QEMU shows anywhere stays I/O. Turning one into a container
 * can uncover another one below it, so repeat until nothing changes.
 * With -D the disabled children are printed and io_terminates() already
 * took the region for a container.
 */
static bool empty_container_candidate(struct parser *p, struct node *n)
{
	return n->mr && !n->is_alias && !n->hidden && !n->disabled && !n->nr_kids &&
	       n->type == T_IO && n->mr->terminates && !flat_named(p, n);
}

/* QEMU's view of an address space of @sec, or -1 if the dump has none. */
static long section_view(struct parser *p, const struct section *sec)
{
	for (size_t k = 0; k < sec->nr_names; k++) {
		long v = fi_view(&p->fi, sec->names[k]);

		if (v >= 0)
			return v;
	}
	return -1;
}

/* Does a range of view @view overlapping [@start, @end] name @name? */
static bool view_shows(struct parser *p, long view, const char *name, uint64_t start,
		       uint64_t end)
{
	const struct fi_list *l = fi_list(&p->fi, view, name, strlen(name));

	for (size_t k = l ? fi_first(l, start) : 0; l && k < l->nr && l->v[k].start <= end; k++)
		if (l->v[k].end >= start)
			return true;
	return false;
}

/* The candidates' nodes by region: an array sorted by region. */
struct by_mr {
	const struct ms_region *mr;
	struct node *n;
};

static int by_mr_cmp(const void *a, const void *b)
{
	const struct by_mr *x = a, *y = b;

	return (x->mr > y->mr) - (x->mr < y->mr);
}

static struct node *candidate_of(struct parser *p, const struct by_mr *v, size_t nr,
				 const struct ms_region *mr)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].mr < mr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr && v[lo].mr == mr && empty_container_candidate(p, v[lo].n) ? v[lo].n :
									       NULL;
}

/*
 * A view rendered for one root, kept while nothing changed since (@gen):
 * address spaces of one root, as QEMU's bus masters, share it. Only the
 * ranges of candidates matter.
 */
struct cand_view {
	struct ms_region *root;
	unsigned long gen;
	struct cand_range {
		struct node *n;
		uint64_t start, end;
	} *v;
	size_t nr;
};

static int render_candidates(struct parser *p, struct cand_view *cv, struct ms_region *root,
			     const struct by_mr *c, size_t nc)
{
	struct ms_flatview *fv = flatview_render(root);
	const struct ms_flat_range *fr;
	size_t alloc = 0;

	if (!fv)
		return -ENOMEM;
	cv->root = root;
	cv->nr = 0;
	fv_for_each(fv, it, fr) {
		struct node *n = candidate_of(p, c, nc, fr->mr);

		if (!n)
			continue;
		if (cv->nr == alloc) {
			struct cand_range *v;

			alloc = alloc ? 2 * alloc : 16;
			v = realloc(cv->v, alloc * sizeof(*v));
			if (!v) {
				ms_flatview__unref(fv);
				return -ENOMEM;
			}
			cv->v = v;
		}
		cv->v[cv->nr++] = (struct cand_range){ n, fr->start,
						      fr->start + (uint64_t)(fr->size - 1) };
	}
	ms_flatview__unref(fv);
	return 0;
}

static int settle_empty_containers(struct parser *p)
{
	struct cand_view cv = { 0 };
	unsigned long gen = 1;
	struct by_mr *c = NULL;
	size_t nc = 0;
	bool changed = true;
	int ret = 0;

	for (size_t i = 0; i < p->nr_nodes; i++)
		nc += empty_container_candidate(p, p->nodes[i]);
	if (!nc)
		return 0;	/* nothing to render for */
	c = malloc(nc * sizeof(*c));
	if (!c)
		return ms_error_set(p->err, -ENOMEM, "import: out of memory");
	nc = 0;
	for (size_t i = 0; i < p->nr_nodes; i++)
		if (empty_container_candidate(p, p->nodes[i]))
			c[nc++] = (struct by_mr){ p->nodes[i]->mr, p->nodes[i] };
	qsort(c, nc, sizeof(*c), by_mr_cmp);
	while (changed) {
		changed = false;
		for (size_t i = 0; i < p->nr_secs; i++) {
			const struct section *sec = &p->secs[i];
			struct ms_region *root;
			long view;

			if (!sec->is_as || !sec->root || (view = section_view(p, sec)) < 0)
				continue;
			root = flatview_select_root(sec->root->mr);
			if (!cv.gen || cv.gen != gen || cv.root != root) {
				ret = render_candidates(p, &cv, root, c, nc);
				if (ret)
					goto out;
				cv.gen = gen;
			}
			for (size_t k = 0; k < cv.nr; k++) {
				struct node *n = cv.v[k].n;

				/* shown there (through an alias, outside its
				 * printed range): a real I/O region */
				if (!empty_container_candidate(p, n) ||
				    view_shows(p, view, n->name, cv.v[k].start, cv.v[k].end))
					continue;
				n->mr->kind = MS_REGION_CONTAINER;
				n->mr->terminates = false;
				changed = true;
				gen++;
			}
		}
	}
out:
	free(cv.v);
	free(c);
	return ret ? ms_error_set(p->err, ret, "import: out of memory") : 0;
}

/* Points (print order, doubled) of the first printed alias onto each
 * target (SIZE_MAX: none). Aliases are resolved by now, so same-named
 * targets differ. */
static void find_first_met(struct parser *p)
{
	for (size_t i = 0; i < p->nr_nodes; i++) {
		struct node *t = p->nodes[i]->is_alias ? p->nodes[i]->tnode : NULL;

		if (t && t->first_met == SIZE_MAX)
			t->first_met = 2 * i + 2;
	}
}

/*
 * rule 2.2: memory-region sections come in the order their targets were
 * first met, counting aliases that were not printed (disabled, no -D),
 * e.g. PCI "bus master" aliases of "system". Where the printed aliases do
 * not explain a section's place (its target is first met after a later
 * section's, or before the previous one's), stand in for the unprinted
 * alias with a disabled one met first in the next address-space section.
 * Points are doubled node indices, so "just after node i" is 2i + 1.
 */
static int add_hidden_aliases(struct parser *p, struct ms_import *imp)
{
	size_t last = 0;	/* 0: before everything */
	size_t *limits, limit = SIZE_MAX, host = 0, root_at = SIZE_MAX;
	int ret = 0;

	if (p->disabled_mode)
		return 0;	/* -D printed every alias */
	find_first_met(p);
	/* the first met of the memory-region sections after each one */
	limits = malloc((p->nr_secs + 1) * sizeof(*limits));
	if (!limits)
		return ms_error_set(p->err, -ENOMEM, "import: out of memory");
	for (size_t i = p->nr_secs; i-- > 0;) {
		limits[i] = limit;
		if (!p->secs[i].is_as && section_region(p, &p->secs[i])->first_met < limit)
			limit = section_region(p, &p->secs[i])->first_met;
	}
	for (size_t i = 0; i < p->nr_secs; i++) {
		struct section *sec = &p->secs[i];
		struct ms_region *a;
		struct node *t;
		size_t met;

		if (sec->is_as)
			continue;
		t = section_region(p, sec);
		met = t->first_met;
		if (met > last && met < limits[i]) {
			last = met;
			continue;
		}
		/* the first address-space section after @last: @last only grows */
		for (; host < p->nr_secs; host++) {
			if (!p->secs[host].is_as || !p->secs[host].root)
				continue;
			root_at = 2 * p->secs[host].root->idx + 2;
			if (root_at + 1 > last)
				break;
		}
		if (host == p->nr_secs)
			continue;
		last = root_at + 1;
		a = ms_region__new_alias(p->ctx, "(hidden alias)", t->mr, 0, size_arg(node_size(t)),
					 p->err);
		if (!a) {
			ret = -errno;
			break;
		}
		a->enabled = false;
		ret = ms_region__add_subregion_overlap(p->secs[host].root->mr, 0, a, INT32_MAX,
						       p->err);
		imp->regions[imp->nr_regions++] = a;
		if (ret)
			break;
	}
	free(limits);
	return ret;
}

static int build(struct parser *p, struct ms_import *imp)
{
	int ret;

	ret = index_nodes(p);
	if (ret)
		return ms_error_set(p->err, ret, "import: out of memory");
	if (p->flat) {
		ret = flat_index_build(&p->fi, p->flat_text, p->flat_len);
		if (ret)
			return ms_error_set(p->err, ret, "import: out of memory");
	}

	for (size_t i = 0; i < p->nr_nodes; i++) {
		ret = create_plain(p, p->nodes[i]);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < p->nr_nodes; i++) {
		ret = create_alias(p, p->nodes[i], 0);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < p->nr_nodes; i++) {
		struct node *n = p->nodes[i];

		if (!n->mr || n->disabled)
			continue;
		if (known_readonly_alias(n))
			n->mr->readonly = true;
		if (known_vga_logged(n))
			ms_region__set_log(n->mr, true);
	}
	if (p->flat)
		settle_readonly_aliases(p);
	for (size_t i = 0; i < p->nr_secs; i++) {
		struct section *sec = &p->secs[i];

		if (!sec->root || (!sec->is_as && section_region(p, sec) != sec->root))
			continue;
		ret = link_children(p, sec->root);
		if (ret)
			return ret;
	}
	ret = add_hidden_aliases(p, imp);
	if (ret)
		return ret;
	if (p->flat) {
		ret = settle_empty_containers(p);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < p->nr_secs; i++) {
		struct section *sec = &p->secs[i];

		if (!sec->is_as)
			continue;
		for (size_t k = 0; k < sec->nr_names; k++) {
			struct ms_as *as = ms_as__new(p->ctx, sec->root ? sec->root->mr : NULL,
						      sec->names[k], p->err);

			if (!as)
				return -errno;
			imp->as[imp->nr_as++] = as;
		}
	}
	return 0;
}

/* The import keeps one reference per created region; on failure the
 * address spaces go first, then every region. */
static void build_finish(struct parser *p, struct ms_import *imp, bool ok)
{
	if (!ok) {
		for (size_t i = 0; i < imp->nr_as; i++)
			ms_as__free(imp->as[i]);
		imp->nr_as = 0;
	}
	for (size_t i = 0; i < p->nr_nodes; i++) {
		if (!p->nodes[i]->mr)
			continue;
		if (ok)
			imp->regions[imp->nr_regions++] = p->nodes[i]->mr;
		else
			ms_region__unref(p->nodes[i]->mr);
	}
}

struct ms_import *ms_import__parse(struct ms_ctx *ctx, const char *tree, size_t tree_len,
				   const char *flat, size_t flat_len, struct ms_error *err)
{
	struct parser p = { .ctx = ctx, .err = err };
	struct ms_import *imp = NULL;
	struct lines ls = { 0 };
	size_t nr_names = 0;
	int ret;

	if (!ctx || !tree) {
		ret = ms_error_set(err, -EINVAL, "import: no context or text");
		goto out;
	}
	ret = split_lines(tree, tree_len, &ls);
	if (ret)
		goto nomem;
	if (flat) {
		p.flat_text = flat;
		p.flat_len = flat_len;
		p.flat = ms_flatdump__parse(flat, flat_len, err);
		if (!p.flat) {
			ret = -errno;
			goto out;
		}
	}
	if (ls.nul_line) {
		ret = perr(&p, ls.nul_line, "unexpected NUL byte", NULL);
		goto out;
	}
	p.owner_mode = detect_owner_mode(&ls);
	for (size_t i = 0; i < ls.nr && !p.disabled_mode; i++)
		p.disabled_mode = ls.v[i].s[0] == ' ' &&
				  strstr(ls.v[i].s, " [disabled]") != NULL;
	ret = parse_sections(&p, &ls);
	if (ret)
		goto out;
	imp = calloc(1, sizeof(*imp));
	for (size_t i = 0; i < p.nr_secs; i++)
		nr_names += p.secs[i].is_as ? p.secs[i].nr_names : 0;
	if (!imp || !(imp->as = calloc(nr_names + 1, sizeof(*imp->as))) ||
	    !(imp->regions = calloc(p.nr_nodes + p.nr_secs + 1, sizeof(*imp->regions))))
		goto nomem;
	imp->ctx = ctx;
	ms_ctx__begin(ctx);
	ret = build(&p, imp);
	build_finish(&p, imp, !ret);
	ms_ctx__commit(ctx);
	if (ret) {
		ms_import__free(imp);
		imp = NULL;
	}
	goto out;
nomem:
	ret = ms_error_set(err, -ENOMEM, "import: out of memory");
	if (imp) {
		free(imp->as);
		free(imp->regions);
		free(imp);
		imp = NULL;
	}
out:
	free_nodes(&p);
	free_lines(&ls);
	flat_index_free(&p.fi);
	strmap_free(&p.node_names);
	strmap_free(&p.sec_names);
	ms_flatdump__free(p.flat);
	if (!imp)
		errno = ret < 0 ? -ret : EINVAL;
	return imp;
}

size_t ms_import__nr_as(const struct ms_import *imp)
{
	return imp->nr_as;
}

struct ms_as *ms_import__as(const struct ms_import *imp, size_t i)
{
	return i < imp->nr_as ? imp->as[i] : NULL;
}

struct ms_as *ms_import__find_as(const struct ms_import *imp, const char *name)
{
	for (size_t i = 0; i < imp->nr_as; i++)
		if (!strcmp(ms_as__name(imp->as[i]), name))
			return imp->as[i];
	return NULL;
}
