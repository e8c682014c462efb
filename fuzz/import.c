// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_import: the importers of `memslot mtree --import TREE --check-flat
 * FLAT`. The input is the `info mtree` text, then optionally a NUL byte
 * and the `info mtree -f` text of the same VM.
 *
 * Both texts go through ms_flatdump__parse(); the pair through
 * ms_import__parse() with and without the flat text. An import that
 * succeeds is used as the tool uses it: the tree and the flat views are
 * printed (-f, -o, -D), a KVM slot map is put on "memory", and the flat
 * views we print must parse again with ms_flatdump__parse() (a failure
 * there is a finding: the tool treats it as a library bug).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memslot/memslot.h>

#include "fuzz.h"

static int report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fuzz_vreport("fuzz_import", fmt, ap);
	va_end(ap);
	return -1;
}

static void flatdump(const char *text, size_t len)
{
	struct ms_flatdump *fd = ms_flatdump__parse(text, len, NULL);
	size_t nr;

	if (!fd)
		return;
	for (size_t i = 0; i < ms_flatdump__nr_as(fd); i++)
		ms_flatdump__view_lines(fd, ms_flatdump__as_name(fd, i), &nr);
	ms_flatdump__diff(fd, fd, NULL);
	ms_flatdump__free(fd);
}

/* Print with @flags; for a flat print, parse it back. */
static int print(struct ms_ctx *ctx, unsigned int flags, struct ms_slotmap **maps)
{
	struct ms_error err = { 0 };
	struct ms_flatdump *fd;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return 0;
	ret = ms_mtree_print(ctx, f, flags, maps ? ms_mtree_kvm_marker : NULL, maps);
	if (fclose(f) || ret || !(flags & MS_MTREE_FLAT)) {
		free(buf);
		return 0;
	}
	fd = ms_flatdump__parse(buf, len, &err);
	if (!fd)
		ret = report("our own flat dump (flags %#x) does not parse: %s\n%s\n", flags,
			     err.msg, buf);
	ms_flatdump__free(fd);
	free(buf);
	return ret;
}

static int import(const char *tree, size_t tree_len, const char *flat, size_t flat_len)
{
	MS_OPTS(ms_slotmap_opts, opts, .max_slots = 32764, .page_size = 4096);
	struct ms_slotmap *maps[2] = { NULL, NULL };
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_import *imp;
	struct ms_as *as;
	int ret = 0;

	if (!ctx)
		return 0;
	imp = ms_import__parse(ctx, tree, tree_len, flat, flat_len, NULL);
	if (!imp)
		goto out;
	for (size_t i = 0; i < ms_import__nr_as(imp); i++) {
		as = ms_import__as(imp, i);
		ms_flatview__nr_ranges(ms_as__flatview(as));
	}
	as = ms_import__find_as(imp, "memory");
	if (as)
		maps[0] = ms_slotmap__new(as, &opts, NULL);
	ret = print(ctx, 0, NULL) ?: print(ctx, MS_MTREE_OWNER | MS_MTREE_DISABLED, NULL) ?:
	      print(ctx, MS_MTREE_FLAT, maps[0] ? maps : NULL) ?:
	      print(ctx, MS_MTREE_FLAT | MS_MTREE_OWNER, NULL);
	ms_slotmap__free(maps[0]);
	ms_import__free(imp);
out:
	ms_ctx__free(ctx);
	return ret;
}

int fuzz_import(const uint8_t *data, size_t size)
{
	const char *tree = (const char *)data, *flat = NULL;
	const char *nul = memchr(data, '\0', size);
	size_t tree_len = size, flat_len = 0;
	int ret;

	if (nul) {
		tree_len = (size_t)(nul - tree);
		flat = nul + 1;
		flat_len = size - tree_len - 1;
	}
	fuzz_mute();
	flatdump(tree, tree_len);
	if (flat)
		flatdump(flat, flat_len);
	ret = import(tree, tree_len, NULL, 0);
	if (!ret && flat)
		ret = import(tree, tree_len, flat, flat_len);
	fuzz_unmute();
	return ret;
}
