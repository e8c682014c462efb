// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot mtree --import (mtree.h).
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
 * JSON output (-j) of import mode with -f, --memslots or --check-flat:
 *   {"address_spaces": [<as name>...]        (import order),
 *    "flat_views": [...]                     (-f, see mtree_json.c),
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
 *   Without those options the document is the tree shape of mtree_json.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtree.h"
#include "svg.h"

/* Slot table of import mode (kvm-memslots.md 1.1, 1.2, 10.9). */
#define IMPORT_MAX_SLOTS	32764
#define IMPORT_PAGE_SIZE	4096

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
		      error_text(&err, errno));
		return -1;
	}
	im->maps[im->nr_maps++] = map;
	e = ms_slotmap__error(map);
	if (e) {
		p_err("address space %s: cannot map KVM memslots: %s", as_name,
		      error_text(e, -e->err));
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
		      error_text(&err, errno));
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
		p_err("%s: %s", o->import, read_file_strerror(ret));
		return -1;
	}
	if (o->check_flat) {
		ret = read_file(o->check_flat, &flat, &flat_len);
		if (ret) {
			p_err("%s: %s", o->check_flat, read_file_strerror(ret));
			goto free_text;
		}
		/*
		 * Parsed on its own first so that its errors name its file;
		 * ms_import__parse() parses it again for the i/o inference.
		 */
		im->expected = ms_flatdump__parse(flat, flat_len, &err);
		if (!im->expected) {
			p_err("%s: %s", o->check_flat, error_text(&err, errno));
			goto free_text;
		}
	}

	im->imp = ms_import__parse(ctx, tree, tree_len, flat, flat_len, &err);
	if (!im->imp) {
		p_err("%s: %s", o->import, error_text(&err, errno));
		goto free_text;
	}
	/* the KVM memslots of a dump without "memory" would be an empty table */
	if (o->memslots && !ms_import__find_as(im->imp, "memory")) {
		p_err("%s: no address space \"memory\": not a whole info mtree dump", o->import);
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
int mtree_import(struct ms_ctx *ctx, const struct mtree_opts *o, unsigned int flags)
{
	struct imported im = { 0 };
	int ret, status = 1;

	if (import_load(ctx, &im, o))
		goto free_import;
	if (o->svg) {
		struct ms_error err = { 0 };
		const char *base = strrchr(o->import, '/');

		ret = svg_write_ctx(o->svg, ctx, im.maps, base ? base + 1 : o->import, &err);
		if (ret) {
			p_err("%s", error_text(&err, -ret));
			goto free_import;
		}
	}
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
