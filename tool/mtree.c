// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot mtree: print the embedded default topology, or a QEMU 7.2
 * `info mtree` dump imported with --import, like QEMU's
 * `info mtree [-f] [-o] [-D]` (spec/qemu-mtree-format.md).
 *
 * Text output is ms_mtree_print()'s, byte for byte QEMU's layout (without
 * the monitor's "\r"). The default topology gets no " KVM" markers:
 * nothing is mapped into KVM there.
 *
 * Import mode (--import TREE.txt [--check-flat FLAT.txt]): the dump is
 * rebuilt with ms_import__parse() (FLAT.txt, QEMU's `info mtree -f` of the
 * same VM, settles which i/o regions terminate), then KVM's memory
 * listeners are modelled as QEMU's KVM accelerator registers them
 * (kvm-memslots.md 1.1, 1.2): an ms_slotmap with KVM address space id 0 on
 * "memory" and, if the dump has it, one with id 1 on "KVM-SMRAM"
 * (32764 slots as KVM_CAP_NR_MEMSLOTS on current x86 kernels, 4 KiB host
 * pages, read-only memory supported). Without -f/--memslots/--check-flat
 * the tree is printed; -f prints the flat views with QEMU's " KVM" markers
 * (rule 8.1); --memslots prints the slot table:
 *
 *   slot  as  gpa                 size                flags  region
 *      0   0  0x0000000000000000  0x00000000000c0000  -      pc.ram
 *   total: 1 slots, 0xc0000 bytes
 *
 * one row per slot, address space 0 first, slot ids ascending; flags are
 * "log", "ro", "gmem" (comma-separated) or "-"; with two address spaces
 * the total line adds "(as 0: N, as 1: M)". --check-flat renders our own
 * flat dump (with markers, and owners with -o), compares it with FLAT.txt
 * address space by address space (ms_flatdump__diff(), QEMU prints views
 * in hash order) and prints the differing lines and "flat views differ:
 * N of M address spaces" (M: in either dump), exit 1, or "flat views
 * identical: M address spaces". Outputs come in the order flat views, slot
 * table, check result. Without FLAT.txt, an i/o region with subregions is
 * taken for a container (qemu-mtree-format.md 7.1), so e.g. the pc "rtc"
 * renders as a gap of "io": give --check-flat for exact flat views.
 *
 * JSON output (-j). Addresses, sizes and offsets are exact u64 integers.
 * "end" is inclusive and follows QEMU's rule 1.5 (start + size - 1 modulo
 * 2^64, a size of 0 printed like 1); "size" is present only when it is
 * below 2^64. Names are strings, or null for unnamed regions.
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
 *               "alias": {"target": <name>, "offset": u64}  (aliases only),
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
 *
 * Import mode with -f, --memslots or --check-flat:
 *   {"address_spaces": [<as name>...]        (import order),
 *    "flat_views": [...]                     (-f, as above),
 *    "memslots": [{"slot", "as", "gpa", "size", "flags", "region"}...]
 *                                            (--memslots; "as" is the KVM
 *                                             address space id, "flags" the
 *                                             KVM flag bits),
 *    "check_flat": {"identical": bool,       (--check-flat)
 *                   "differences": [{"address_space": <name>,
 *                                    "expected": [<line>...]|null,
 *                                    "got": [<line>...]|null}...]}}
 *   "expected" (QEMU's) and "got" (ours) hold the lines that differ, by
 *   position in the view (" Root memory region: ..." and range lines);
 *   null where the address space is missing from that dump (the other
 *   side then has all its lines). The exit status is 1 if a view differs.
 *   Without those options the document is the tree shape above.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memslot.h"

struct mtree_opts {
	bool flat;
	bool owner;
	bool disabled;
	bool memslots;
	const char *import;	/* TREE.txt, or NULL: the default topology */
	const char *check_flat;	/* FLAT.txt or NULL */
};

/* Slot table of import mode (kvm-memslots.md 1.1, 1.2, 10.9). */
#define IMPORT_MAX_SLOTS	32764
#define IMPORT_PAGE_SIZE	4096

static void mtree_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot [OPTIONS] mtree [-f|--flat] [-o|--owner] [-D|--disabled]\n"
		"       memslot [OPTIONS] mtree --import TREE.txt [--check-flat FLAT.txt]\n"
		"                              [-f|--flat] [--memslots] [-o] [-D]\n"
		"\n"
		"Print the embedded default machine (QEMU pc, 4 GiB RAM), or a machine\n"
		"imported from QEMU's 'info mtree' text, like QEMU's 'info mtree'.\n"
		"\n"
		"  -f, --flat               print the flat views instead of the region trees\n"
		"                           (with --import: with QEMU's \" KVM\" markers)\n"
		"  -o, --owner              print owner and parent of every region or range\n"
		"  -D, --disabled           also print disabled regions (tree view only)\n"
		"      --import TREE.txt    rebuild the machine from an 'info mtree' dump\n"
		"                           (QEMU 7.2 layout, LF or CRLF, with or without -o/-D)\n"
		"                           and map it to KVM memslots as QEMU's KVM listeners do\n"
		"      --memslots           print the predicted KVM memslot table (with --import)\n"
		"      --check-flat FLAT.txt\n"
		"                           compare our flat views with QEMU's 'info mtree -f'\n"
		"                           dump of the same machine; exit 1 if one differs\n"
		"                           (with --import; FLAT.txt also settles i/o regions)\n"
		"  -h, --help               print this help\n");
}

static uint64_t end_of(uint64_t start, ms_u128 size)
{
	/* Rule 1.5: size 0 prints like size 1; ends wrap modulo 2^64. */
	return start + (uint64_t)(size ? size - 1 : 0);
}

/* Add "start", "end" and (below 2^64) "size". */
static void add_extent(struct json_object *o, uint64_t start, ms_u128 size)
{
	json_object_object_add(o, "start", json_u64(start));
	json_object_object_add(o, "end", json_u64(end_of(start, size)));
	if (size < MS_SIZE_2_64)
		json_object_object_add(o, "size", json_u64((uint64_t)size));
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

static int mtree_json_tree(struct ms_ctx *ctx, const struct mtree_opts *o,
			   struct json_object *doc)
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

/*
 * @maps: NULL-terminated slot maps (import mode: adds "kvm" to every
 * range), or NULL.
 */
static int mtree_json_flat(struct ms_ctx *ctx, const struct mtree_opts *o,
			   struct ms_slotmap **maps, struct json_object *doc)
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

/* --- import mode ------------------------------------------------------- */

/*
 * An imported machine: the regions and address spaces, the KVM slot maps
 * (NULL-terminated, address space id order) and the --check-flat result.
 */
struct imported {
	struct ms_import *imp;
	struct ms_slotmap *maps[3];
	size_t nr_maps;
	struct ms_flatdump *expected;	/* QEMU's flat dump */
	struct ms_flatdump *got;	/* ours */
	char *diff;			/* text report of ms_flatdump__diff() */
	size_t diff_len;
	unsigned int ndiff;
};

static void imported_free(struct imported *im)
{
	while (im->nr_maps)
		ms_slotmap__free(im->maps[--im->nr_maps]);
	ms_import__free(im->imp);
	ms_flatdump__free(im->expected);
	ms_flatdump__free(im->got);
	free(im->diff);
	memset(im, 0, sizeof(*im));
}

/*
 * kvm-memslots.md 1.1 and 1.2: "kvm-memory" (id 0) on "memory", and with
 * SMM "kvm-smram" (id 1) on "KVM-SMRAM". Registration replays the view, so
 * the slots exist when this returns.
 */
static int add_slotmap(struct imported *im, const char *as_name, uint16_t as_id,
		       const char *listener)
{
	MS_OPTS(ms_slotmap_opts, opts, .as_id = as_id, .max_slots = IMPORT_MAX_SLOTS,
		.page_size = IMPORT_PAGE_SIZE, .name = listener);
	struct ms_as *as = ms_import__find_as(im->imp, as_name);
	const struct ms_error *e;
	struct ms_error err = { 0 };
	struct ms_slotmap *map;

	if (!as)
		return 0;
	map = ms_slotmap__new(as, &opts, &err);
	if (!map) {
		p_err("address space %s: cannot map KVM memslots: %s", as_name,
		      err.msg[0] ? err.msg : strerror(errno));
		return -1;
	}
	im->maps[im->nr_maps++] = map;
	e = ms_slotmap__error(map);
	if (e) {
		p_err("address space %s: cannot map KVM memslots: %s", as_name,
		      e->msg[0] ? e->msg : strerror(-e->err));
		return -1;
	}
	return 0;
}

/* Render our flat views (with markers) and compare them with QEMU's. */
static int check_flat(struct ms_ctx *ctx, struct imported *im, const struct mtree_opts *o)
{
	unsigned int flags = MS_MTREE_FLAT | (o->owner ? MS_MTREE_OWNER : 0);
	struct ms_error err = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	if (!f) {
		p_err("cannot render the flat views: %s", strerror(errno));
		return -1;
	}
	ret = ms_mtree_print(ctx, f, flags, ms_mtree_kvm_marker, im->maps);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(buf);
		p_err("cannot render the flat views: %s", strerror(-ret));
		return -1;
	}
	im->got = ms_flatdump__parse(buf, len, &err);
	free(buf);
	if (!im->got) {
		/* Our own output should always parse: a library bug. */
		p_err("cannot parse the rendered flat views: %s",
		      err.msg[0] ? err.msg : strerror(errno));
		return -1;
	}

	f = open_memstream(&im->diff, &im->diff_len);
	if (!f) {
		p_err("cannot compare the flat views: %s", strerror(errno));
		return -1;
	}
	im->ndiff = ms_flatdump__diff(im->expected, im->got, f);
	if (fclose(f)) {
		p_err("cannot compare the flat views: %s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

/* Read and parse everything; print nothing but an error. */
static int import_load(struct ms_ctx *ctx, struct imported *im, const struct mtree_opts *o)
{
	char *tree = NULL, *flat = NULL;
	size_t tree_len = 0, flat_len = 0;
	struct ms_error err = { 0 };
	int ret, status = -1;

	ret = read_file(o->import, &tree, &tree_len);
	if (ret) {
		p_err("%s: %s", o->import, strerror(-ret));
		return -1;
	}
	if (o->check_flat) {
		ret = read_file(o->check_flat, &flat, &flat_len);
		if (ret) {
			p_err("%s: %s", o->check_flat, strerror(-ret));
			goto free_text;
		}
		/*
		 * Parsed on its own first so that its errors name its file;
		 * ms_import__parse() parses it again for the i/o inference.
		 */
		im->expected = ms_flatdump__parse(flat, flat_len, &err);
		if (!im->expected) {
			p_err("%s: %s", o->check_flat, err.msg[0] ? err.msg : strerror(errno));
			goto free_text;
		}
	}

	im->imp = ms_import__parse(ctx, tree, tree_len, flat, flat_len, &err);
	if (!im->imp) {
		p_err("%s: %s", o->import, err.msg[0] ? err.msg : strerror(errno));
		goto free_text;
	}
	if (add_slotmap(im, "memory", 0, "kvm-memory") ||
	    add_slotmap(im, "KVM-SMRAM", 1, "kvm-smram"))
		goto free_text;
	if (o->check_flat && check_flat(ctx, im, o))
		goto free_text;
	status = 0;

free_text:
	free(tree);
	free(flat);
	return status;
}

/*
 * The lines of view @v that differ from @other at the same position (all
 * of them if @other is NULL); JSON null if @v is NULL.
 */
static struct json_object *lines_json(const char *const *v, size_t nr, const char *const *other,
				      size_t other_nr)
{
	struct json_object *a;

	if (!v)
		return NULL;
	a = json_object_new_array();
	for (size_t k = 0; a && k < nr; k++)
		if (!other || k >= other_nr || strcmp(v[k], other[k]))
			json_object_array_add(a, json_object_new_string(v[k]));
	return a;
}

static struct json_object *diff_entry(const char *name, const struct ms_flatdump *expected,
				      const struct ms_flatdump *got)
{
	struct json_object *d = json_object_new_object();
	const char *const *e, *const *g;
	size_t ne = 0, ng = 0;

	if (!d)
		return NULL;
	e = ms_flatdump__view_lines(expected, name, &ne);
	g = ms_flatdump__view_lines(got, name, &ng);
	json_object_object_add(d, "address_space", json_object_new_string(name));
	json_object_object_add(d, "expected", lines_json(e, ne, g, ng));
	json_object_object_add(d, "got", lines_json(g, ng, e, ne));
	return d;
}

static bool views_equal(const struct ms_flatdump *a, const struct ms_flatdump *b,
			const char *name)
{
	const char *const *x, *const *y;
	size_t nx = 0, ny = 0;

	x = ms_flatdump__view_lines(a, name, &nx);
	y = ms_flatdump__view_lines(b, name, &ny);
	if (!x || !y || nx != ny)
		return false;
	for (size_t k = 0; k < nx; k++)
		if (strcmp(x[k], y[k]))
			return false;
	return true;
}

/* "check_flat": the same comparison as ms_flatdump__diff(), as data. */
static struct json_object *check_json(const struct imported *im)
{
	struct json_object *c = json_object_new_object(), *diffs = json_object_new_array();
	const struct ms_flatdump *e = im->expected, *g = im->got;
	size_t n;

	if (!c || !diffs) {
		json_object_put(c);
		json_object_put(diffs);
		return NULL;
	}
	json_object_object_add(c, "identical", json_object_new_boolean(!im->ndiff));
	json_object_object_add(c, "differences", diffs);
	n = ms_flatdump__nr_as(e);
	for (size_t i = 0; i < n; i++) {
		const char *name = ms_flatdump__as_name(e, i);

		if (!views_equal(e, g, name))
			json_object_array_add(diffs, diff_entry(name, e, g));
	}
	n = ms_flatdump__nr_as(g);
	for (size_t i = 0; i < n; i++) {
		const char *name = ms_flatdump__as_name(g, i);
		size_t nr;

		if (!ms_flatdump__view_lines(e, name, &nr))
			json_object_array_add(diffs, diff_entry(name, e, g));
	}
	return c;
}

static int import_json(struct ms_ctx *ctx, const struct imported *im,
		       const struct mtree_opts *o, struct json_object *doc)
{
	struct json_object *names;
	int ret;

	if (!o->flat && !o->memslots && !o->check_flat)
		return mtree_json_tree(ctx, o, doc);

	names = json_object_new_array();
	if (!names)
		return -ENOMEM;
	json_object_object_add(doc, "address_spaces", names);
	for (size_t i = 0; i < ms_import__nr_as(im->imp); i++)
		json_object_array_add(names, json_object_new_string(
					      ms_as__name(ms_import__as(im->imp, i))));
	if (o->flat) {
		ret = mtree_json_flat(ctx, o, (struct ms_slotmap **)im->maps, doc);
		if (ret)
			return ret;
	}
	if (o->memslots) {
		struct json_object *arr = memslot_table_json(im->maps, im->nr_maps);

		if (!arr)
			return -ENOMEM;
		json_object_object_add(doc, "memslots", arr);
	}
	if (o->check_flat) {
		struct json_object *c = check_json(im);

		if (!c)
			return -ENOMEM;
		json_object_object_add(doc, "check_flat", c);
	}
	return 0;
}

static int import_text(struct ms_ctx *ctx, struct imported *im, const struct mtree_opts *o,
		       unsigned int flags)
{
	int ret = 0;

	if (!o->flat && !o->memslots && !o->check_flat)
		return ms_mtree_print(ctx, stdout, flags, NULL, NULL);
	if (o->flat)
		ret = ms_mtree_print(ctx, stdout, flags, ms_mtree_kvm_marker, im->maps);
	if (!ret && o->memslots)
		memslot_table_print(stdout, im->maps, im->nr_maps);
	if (!ret && o->check_flat) {
		/* Address spaces of either dump, each once. */
		size_t n = ms_flatdump__nr_as(im->expected), nr;

		for (size_t i = 0; i < ms_flatdump__nr_as(im->got); i++)
			n += !ms_flatdump__view_lines(im->expected,
						      ms_flatdump__as_name(im->got, i), &nr);
		fwrite(im->diff, 1, im->diff_len, stdout);
		if (im->ndiff)
			printf("flat views differ: %u of %zu address spaces\n", im->ndiff, n);
		else
			printf("flat views identical: %zu address spaces\n", n);
	}
	if (!ret && ferror(stdout))
		ret = -EIO;
	return ret;
}

/* The whole of import mode: returns the exit status. */
static int mtree_import(struct ms_ctx *ctx, const struct mtree_opts *o, unsigned int flags)
{
	struct imported im = { 0 };
	int ret, status = 1;

	if (import_load(ctx, &im, o))
		goto free_import;
	if (json_output) {
		struct json_object *doc = json_object_new_object();

		ret = doc ? import_json(ctx, &im, o, doc) : -ENOMEM;
		if (ret) {
			json_object_put(doc);
			p_err("cannot build JSON: %s", strerror(-ret));
			goto free_import;
		}
		status = json_print(doc);
	} else {
		ret = import_text(ctx, &im, o, flags);
		if (ret) {
			p_err("cannot write output: %s", strerror(-ret));
			goto free_import;
		}
		status = 0;
	}
	/* Like diff(1): differing views are reported on stdout, exit status 1. */
	if (!status && o->check_flat && im.ndiff)
		status = 1;
free_import:
	imported_free(&im);
	return status;
}

/* --- command ----------------------------------------------------------- */

enum {
	OPT_IMPORT = 256,
	OPT_MEMSLOTS,
	OPT_CHECK_FLAT,
};

int do_mtree(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "flat",	no_argument,		NULL, 'f' },
		{ "owner",	no_argument,		NULL, 'o' },
		{ "disabled",	no_argument,		NULL, 'D' },
		{ "import",	required_argument,	NULL, OPT_IMPORT },
		{ "memslots",	no_argument,		NULL, OPT_MEMSLOTS },
		{ "check-flat",	required_argument,	NULL, OPT_CHECK_FLAT },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mtree_opts o = { 0 };
	struct topology t;
	struct ms_ctx *ctx;
	unsigned int flags = 0;
	int opt, ret, status = 1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:foDh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o.flat = true;
			break;
		case 'o':
			o.owner = true;
			break;
		case 'D':
			o.disabled = true;
			break;
		case OPT_IMPORT:
			o.import = optarg;
			break;
		case OPT_MEMSLOTS:
			o.memslots = true;
			break;
		case OPT_CHECK_FLAT:
			o.check_flat = optarg;
			break;
		case 'h':
			mtree_usage(stdout);
			return 0;
		default:
			return getopt_usage_err(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument: %s", argv[optind]);
	if (!o.import && o.check_flat)
		return usage_err("option needs --import: %s", "--check-flat");
	if (!o.import && o.memslots)
		return usage_err("option needs --import: %s", "--memslots");

	if (o.flat)
		flags |= MS_MTREE_FLAT;
	if (o.owner)
		flags |= MS_MTREE_OWNER;
	if (o.disabled)
		flags |= MS_MTREE_DISABLED;

	ctx = ms_ctx__new();
	if (!ctx) {
		p_err("cannot create a memory context: %s", strerror(errno));
		return 1;
	}

	if (o.import) {
		status = mtree_import(ctx, &o, flags);
		goto free_ctx;
	}

	ret = topology_default(ctx, &t);
	if (ret) {
		p_err("cannot build the default topology: %s",
		      t.err.msg[0] ? t.err.msg : strerror(-ret));
		goto free_ctx;
	}

	if (json_output) {
		struct json_object *doc = json_object_new_object();

		ret = doc ? 0 : -ENOMEM;
		if (!ret)
			ret = o.flat ? mtree_json_flat(ctx, &o, NULL, doc) :
				       mtree_json_tree(ctx, &o, doc);
		if (ret) {
			json_object_put(doc);
			p_err("cannot build JSON: %s", strerror(-ret));
			goto free_topo;
		}
		status = json_print(doc);
		goto free_topo;
	}

	ret = ms_mtree_print(ctx, stdout, flags, NULL, NULL);
	if (ret) {
		p_err("cannot write output: %s", strerror(-ret));
		goto free_topo;
	}
	status = 0;

free_topo:
	topology_free(&t);
free_ctx:
	ms_ctx__free(ctx);
	return status;
}
