// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot mtree -j: the region trees and flat views as JSON (mtree.h).
 *
 * JSON output (-j). Addresses, sizes and offsets are exact u64 integers.
 * "end" is inclusive and follows QEMU's rule 1.5 (start + size - 1 modulo
 * 2^64, a size of 0 printed like 1); "size" is null for a size of 2^64.
 * Names are strings, or null for unnamed regions. Every member is always
 * there (null where it does not apply) except "owner" and "parent", which
 * only -o asks for. The fields are listed in man/memslot-mtree.8.rst,
 * "JSON OUTPUT".
 *
 * Tree mode (default):
 *   {"address_spaces": [{"names": [<as name>...], "root": <region>|null}...],
 *    "alias_targets": [<region>...]}
 *   One entry per distinct root region, in the creation order of its first
 *   address space, names sorted with strcmp (rule 2.1). "alias_targets"
 *   are the `memory-region:` sections: every alias target met, first-met
 *   order, each once (rule 2.2).
 *   <region> = {"name", "start", "end", "size", "priority", "type",
 *               "nonvolatile", "enabled",
 *               "alias": {"target": <name>, "offset": u64}|null,
 *               "owner": <text>|null, "parent": <text>|null  (with -o only),
 *               "subregions": [<region>...]}
 *   "start"/"end" are absolute like the text (base + addr; the top region
 *   of a section shows its own addr, rule 2.4). "type" is QEMU's type
 *   string without the "nv-" prefix ("ram", "rom", "romd", "ramd", "i/o");
 *   "nonvolatile" is the region's own flag. Subregions are sorted like the
 *   text (address, then descending priority, then list order). A disabled
 *   region below the top of a section is left out unless -D is given, and
 *   its subregions take its place in its parent's list (the text prints
 *   them too, rule 2.3); the top region is always present.
 *
 * Flat mode (-f):
 *   {"flat_views": [{"address_spaces": [<as name>...], "root": <name>|null,
 *                    "ranges": [<range>...]}...]}
 *   One entry per distinct flat view, in the creation order of its first
 *   address space; "address_spaces" in creation order; "root" is the
 *   region chosen by root selection (null: empty view).
 *   <range> = {"start", "end", "size", "priority", "type", "region",
 *              "offset_in_region", "readonly", "nonvolatile",
 *              "owner", "parent" (with -o only)}
 *   "priority" is the terminating region's own priority, "type" is "rom"
 *   for read-only ranges, else the region's type string without "nv-".
 *   In import mode each range also has "kvm": [<as name>...], the address
 *   spaces of the view for which QEMU prints a " KVM" marker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mtree.h"

static uint64_t end_of(uint64_t start, ms_u128 size)
{
	/* Rule 1.5: size 0 prints like size 1; ends wrap modulo 2^64. */
	return start + (uint64_t)(size ? size - 1 : 0);
}

/* Add "start", "end" and "size" (null for 2^64, which no u64 holds). */
static void add_extent(struct json_object *o, uint64_t start, ms_u128 size)
{
	json_object_object_add(o, "start", json_u64(start));
	json_object_object_add(o, "end", json_u64(end_of(start, size)));
	json_object_object_add(o, "size", size < MS_SIZE_2_64 ? json_u64((uint64_t)size) : NULL);
}

static void add_owner(struct json_object *o, const struct ms_region *mr)
{
	json_object_object_add(o, "owner", json_str_or_null(ms_region__owner(mr)));
	json_object_object_add(o, "parent", json_str_or_null(ms_region__parent(mr)));
}

/* Type string without the "nv-" prefix; the library never adds one. */
static const char *type_of(const struct ms_region *mr)
{
	return ms_region__type_str(mr);
}

/* --- tree mode --------------------------------------------------------- */

struct tree_walk {
	const struct mtree_opts *o;
	struct ms_region **targets;	/* alias targets, first-met order */
	size_t nr_targets, cap_targets;
	int err;			/* first negative errno */
};

struct sub_list {
	struct ms_region **mr;
	size_t nr, cap;
	int err;
};

static int collect_sub(struct ms_region *sub, void *opaque)
{
	struct sub_list *l = opaque;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ms_region **mr = realloc(l->mr, cap * sizeof(*mr));

		if (!mr) {
			l->err = -ENOMEM;
			return 1;
		}
		l->mr = mr;
		l->cap = cap;
	}
	l->mr[l->nr++] = sub;
	return 0;
}

/*
 * Rule 2.3 order: ascending address, then descending priority, then list
 * order. Insertion sort keeps the list order of equal keys (lists are short).
 */
static void sort_subs(struct sub_list *l)
{
	for (size_t i = 1; i < l->nr; i++) {
		struct ms_region *mr = l->mr[i];
		uint64_t addr = ms_region__addr(mr);
		int32_t prio = ms_region__priority(mr);
		size_t j = i;

		while (j > 0) {
			struct ms_region *prev = l->mr[j - 1];
			uint64_t pa = ms_region__addr(prev);

			if (pa < addr || (pa == addr && ms_region__priority(prev) >= prio))
				break;
			l->mr[j] = prev;
			j--;
		}
		l->mr[j] = mr;
	}
}

static void queue_target(struct tree_walk *w, struct ms_region *target)
{
	for (size_t i = 0; i < w->nr_targets; i++)
		if (w->targets[i] == target)
			return;
	if (w->nr_targets == w->cap_targets) {
		size_t cap = w->cap_targets ? w->cap_targets * 2 : 8;
		struct ms_region **tg = realloc(w->targets, cap * sizeof(*tg));

		if (!tg) {
			w->err = -ENOMEM;
			return;
		}
		w->targets = tg;
		w->cap_targets = cap;
	}
	w->targets[w->nr_targets++] = target;
}

/*
 * Append @mr (at @base) to @siblings, or, if it is hidden (disabled without
 * -D and not @top), append its subregions there instead.
 */
static void tree_region(struct tree_walk *w, struct ms_region *mr, uint64_t base,
			struct json_object *siblings, bool top)
{
	uint64_t start = base + ms_region__addr(mr);
	struct json_object *node = NULL, *subs = siblings;
	struct sub_list l = { 0 };
	struct ms_region *target = ms_region__alias(mr);

	if (target)
		queue_target(w, target);

	if (top || ms_region__enabled(mr) || w->o->disabled) {
		node = json_object_new_object();
		subs = json_object_new_array();
		if (!node || !subs) {
			json_object_put(node);
			json_object_put(subs);
			w->err = -ENOMEM;
			return;
		}
		json_object_object_add(node, "name", json_str_or_null(ms_region__name(mr)));
		add_extent(node, start, ms_region__size128(mr));
		json_object_object_add(node, "priority",
				       json_object_new_int(ms_region__priority(mr)));
		json_object_object_add(node, "type", json_object_new_string(type_of(mr)));
		json_object_object_add(node, "nonvolatile",
				       json_object_new_boolean(ms_region__nonvolatile(mr)));
		json_object_object_add(node, "enabled",
				       json_object_new_boolean(ms_region__enabled(mr)));
		if (target) {
			struct json_object *a = json_object_new_object();

			json_object_object_add(a, "target",
					       json_str_or_null(ms_region__name(target)));
			json_object_object_add(a, "offset", json_u64(ms_region__alias_offset(mr)));
			json_object_object_add(node, "alias", a);
		} else {
			json_object_object_add(node, "alias", NULL);
		}
		if (w->o->owner)
			add_owner(node, mr);
		json_object_object_add(node, "subregions", subs);
		json_object_array_add(siblings, node);
	}

	ms_region__for_each_subregion(mr, collect_sub, &l);
	if (l.err)
		w->err = l.err;
	sort_subs(&l);
	for (size_t i = 0; i < l.nr && !w->err; i++)
		tree_region(w, l.mr[i], start, subs, false);
	free(l.mr);
}

struct as_list {
	struct ms_as **as;
	size_t nr, cap;
	int err;
};

static int collect_as(struct ms_as *as, void *opaque)
{
	struct as_list *l = opaque;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct ms_as **a = realloc(l->as, cap * sizeof(*a));

		if (!a) {
			l->err = -ENOMEM;
			return 1;
		}
		l->as = a;
		l->cap = cap;
	}
	l->as[l->nr++] = as;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const char *x = *(const char * const *)a, *y = *(const char * const *)b;

	return strcmp(x, y);
}

/* The one region a section (group or target) prints, as a JSON object. */
static struct json_object *tree_section(struct tree_walk *w, struct ms_region *mr)
{
	struct json_object *arr = json_object_new_array(), *node;

	if (!arr) {
		w->err = -ENOMEM;
		return NULL;
	}
	tree_region(w, mr, 0, arr, true);
	node = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	return node;
}

int mtree_json_tree(struct ms_ctx *ctx, const struct mtree_opts *o, struct json_object *doc)
{
	struct tree_walk w = { .o = o };
	struct json_object *groups, *targets;
	struct as_list l = { 0 };
	const char **names = NULL;

	groups = json_object_new_array();
	targets = json_object_new_array();
	json_object_object_add(doc, "address_spaces", groups);
	json_object_object_add(doc, "alias_targets", targets);
	ms_ctx__for_each_as(ctx, collect_as, &l);
	names = calloc(l.nr + 1, sizeof(*names));
	if (!groups || !targets || l.err || !names) {
		w.err = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < l.nr && !w.err; i++) {
		struct ms_region *root = ms_as__root(l.as[i]);
		struct json_object *g, *jn;
		size_t n = 0;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= ms_as__root(l.as[j]) == root;
		if (seen)
			continue;
		for (size_t j = i; j < l.nr; j++)
			if (ms_as__root(l.as[j]) == root)
				names[n++] = ms_as__name(l.as[j]);
		qsort(names, n, sizeof(*names), cmp_name);

		g = json_object_new_object();
		jn = json_object_new_array();
		if (!g || !jn) {
			json_object_put(g);
			json_object_put(jn);
			w.err = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < n; j++)
			json_object_array_add(jn, json_object_new_string(names[j]));
		json_object_object_add(g, "names", jn);
		json_object_object_add(g, "root", root ? tree_section(&w, root) : NULL);
		json_object_array_add(groups, g);
	}

	/* Sections may queue further targets while they are walked. */
	for (size_t i = 0; i < w.nr_targets && !w.err; i++)
		json_object_array_add(targets, tree_section(&w, w.targets[i]));
out:
	free(names);
	free(l.as);
	free(w.targets);
	return w.err;
}

/* --- flat mode --------------------------------------------------------- */

int mtree_json_flat(struct ms_ctx *ctx, const struct mtree_opts *o, struct ms_slotmap **maps,
		    struct json_object *doc)
{
	struct json_object *views = json_object_new_array();
	struct as_list l = { 0 };
	int err = 0;

	json_object_object_add(doc, "flat_views", views);
	ms_ctx__for_each_as(ctx, collect_as, &l);
	if (!views || l.err) {
		err = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < l.nr && !err; i++) {
		struct ms_flatview *fv = ms_as__flatview(l.as[i]);
		struct ms_region *root = ms_flatview__root(fv);
		struct json_object *v, *names, *ranges;
		size_t nr = ms_flatview__nr_ranges(fv);
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= ms_as__flatview(l.as[j]) == fv;
		if (seen)
			continue;

		v = json_object_new_object();
		names = json_object_new_array();
		ranges = json_object_new_array();
		if (!v || !names || !ranges) {
			json_object_put(v);
			json_object_put(names);
			json_object_put(ranges);
			err = -ENOMEM;
			break;
		}
		for (size_t j = i; j < l.nr; j++)
			if (ms_as__flatview(l.as[j]) == fv)
				json_object_array_add(names,
						      json_object_new_string(ms_as__name(l.as[j])));
		json_object_object_add(v, "address_spaces", names);
		json_object_object_add(v, "root",
				       root ? json_str_or_null(ms_region__name(root)) : NULL);
		json_object_object_add(v, "ranges", ranges);
		json_object_array_add(views, v);

		for (size_t k = 0; k < nr; k++) {
			const struct ms_flat_range *fr = ms_flatview__range(fv, k);
			struct json_object *r = json_object_new_object(), *kvm;

			if (!r) {
				err = -ENOMEM;
				break;
			}
			json_object_array_add(ranges, r);
			add_extent(r, fr->start, fr->size);
			json_object_object_add(r, "priority",
					       json_object_new_int(ms_region__priority(fr->mr)));
			json_object_object_add(r, "type", json_object_new_string(
						       fr->readonly ? "rom" : type_of(fr->mr)));
			json_object_object_add(r, "region",
					       json_str_or_null(ms_region__name(fr->mr)));
			json_object_object_add(r, "offset_in_region",
					       json_u64(fr->offset_in_region));
			json_object_object_add(r, "readonly",
					       json_object_new_boolean(fr->readonly));
			json_object_object_add(r, "nonvolatile",
					       json_object_new_boolean(fr->nonvolatile));
			if (o->owner)
				add_owner(r, fr->mr);
			if (!maps)
				continue;
			/* Rule 8.1: one marker per address space sharing the view. */
			kvm = json_object_new_array();
			if (!kvm) {
				err = -ENOMEM;
				break;
			}
			json_object_object_add(r, "kvm", kvm);
			for (size_t j = i; j < l.nr; j++)
				if (ms_as__flatview(l.as[j]) == fv &&
				    ms_mtree_kvm_marker(maps, l.as[j], fr->start, fr->size))
					json_object_array_add(kvm, json_object_new_string(
								      ms_as__name(l.as[j])));
		}
	}
out:
	free(l.as);
	return err;
}
