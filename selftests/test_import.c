// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Importing QEMU's `info mtree` text (ms_import__parse) and the `info mtree
 * -f` dump parser and diff: qemu-mtree-format.md, with the byte-exact QEMU
 * 7.2 captures in selftests/samples/qemu-7.2 (see selftests/samples/README).
 * Rule numbers refer to qemu-mtree-format.md unless kvm-memslots.md is named.
 *
 * Fidelity: every sample tree imports with its flat dump; the tree prints
 * back byte for byte (without the monitor's "\r", rule 1.3) and the flat
 * views with the " KVM" markers of a slot map on "memory" (kvm-memslots.md
 * 8.1) match QEMU's, address space by address space (ms_flatdump__diff:
 * QEMU prints views in hash order, rule 3.1).
 *
 * Robustness: malformed input fails with EINVAL and a message
 * "line N: <what was expected>...", leaves no address space or region in the
 * context (ASan builds also run LeakSanitizer inside the test, since the
 * harness ends each test with _exit()).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

/* A whole file, bytes as they are (CRLF kept); NULL with errno set. */
static char *read_raw(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0, r;
	char *buf = malloc(cap + 1), *nb;
	FILE *f = fopen(path, "rb");
	int saved;

	if (!buf || !f)
		goto fail;
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			nb = realloc(buf, 2 * cap + 1);
			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
fail:
	saved = errno ? errno : ENOMEM;
	if (f)
		fclose(f);
	free(buf);
	errno = saved;
	return NULL;
}

/* @s without any '\r' (rule 1.3); malloc()ed */
static char *strip_cr(const char *s, size_t len, size_t *out_len)
{
	char *d = malloc(len + 1);
	size_t n = 0;

	if (!d)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] != '\r')
			d[n++] = s[i];
	d[n] = 0;
	if (out_len)
		*out_len = n;
	return d;
}

/* Read selftests/samples/qemu-7.2/@name into *@buf. */
#define LOAD(name, buf, lenp) do {							\
	char __p[512];									\
	snprintf(__p, sizeof(__p), "%s/%s", samples_dir(), (name));			\
	errno = 0;									\
	*(buf) = read_raw(__p, (lenp));							\
	ASSERT_NE(NULL, *(buf)) {							\
		TH_LOG("%s: %s", __p, strerror(errno));				\
	}										\
} while (0)

static int count_as_fn(struct ms_as *as, void *opaque)
{
	(void)as;
	(*(size_t *)opaque)++;
	return 0;
}

static size_t nr_as(struct ms_ctx *ctx)
{
	size_t n = 0;

	ms_ctx__for_each_as(ctx, count_as_fn, &n);
	return n;
}

/* A slot map on the import's "memory" with 4 KiB pages (the samples' host). */
static struct ms_slotmap *map_memory(struct __test_metadata *_metadata,
				     const struct ms_import *imp)
{
	MS_OPTS(ms_slotmap_opts, o, .page_size = 0x1000);
	struct ms_as *as = ms_import__find_as(imp, "memory");
	struct ms_error err = { 0 };
	struct ms_slotmap *map;

	ASSERT_NE(NULL, as);
	map = ms_slotmap__new(as, &o, &err);
	ASSERT_NE(NULL, map) {
		TH_LOG("ms_slotmap__new: %s", err.msg);
	}
	return map;
}

/*
 * ms_flatdump__diff(@expected text, @got text) with the report in the log;
 * frees @got (a malloc()ed printout, may be NULL).
 * Return: the number of differing address spaces, or -1 if a text does not
 * parse.
 */
static int __flat_diff(struct __test_metadata *_metadata, const char *expected, size_t elen,
		       const char *got);

static int flat_diff(struct __test_metadata *_metadata, const char *expected, size_t elen,
		     char *got)
{
	int n = got ? __flat_diff(_metadata, expected, elen, got) : -1;

	free(got);
	return n;
}

static int __flat_diff(struct __test_metadata *_metadata, const char *expected, size_t elen,
		       const char *got)
{
	struct ms_error err = { 0 };
	struct ms_flatdump *e, *g;
	char *rep = NULL;
	size_t rep_len = 0;
	FILE *f;
	int n;

	e = ms_flatdump__parse(expected, elen, &err);
	if (!e) {
		TH_LOG("expected dump does not parse: %s", err.msg);
		return -1;
	}
	g = ms_flatdump__parse(got, strlen(got), &err);
	if (!g) {
		TH_LOG("printed dump does not parse: %s", err.msg);
		ms_flatdump__free(e);
		return -1;
	}
	f = open_memstream(&rep, &rep_len);
	n = (int)ms_flatdump__diff(e, g, f);
	if (f)
		fclose(f);
	if (n)
		TH_LOG("flat views differ:\n%s", rep ? rep : "");
	free(rep);
	ms_flatdump__free(g);
	ms_flatdump__free(e);
	return n;
}

/* ---- owner text (rule 5) -------------------------------------------------------------- */

static char *field(const char *line, const char *tag)
{
	const char *p = strstr(line, tag), *end;

	if (!p)
		return NULL;
	p += strlen(tag);
	end = strchr(p, '}');
	return end ? strndup(p, end - p) : NULL;
}

/*
 * An `info mtree -f -o` dump names the owner of each range's terminating
 * region: give the imported regions those texts (the plain tree dump does
 * not carry them). Return: number of ranges done, -1 on a lookup failure.
 */
static int owners_from_flat(struct __test_metadata *_metadata, const struct ms_import *imp,
			    const char *text, size_t len)
{
	struct ms_flatdump *fd = ms_flatdump__parse(text, len, NULL);
	int done = 0;

	if (!fd)
		return -1;
	for (size_t i = 0; i < ms_flatdump__nr_as(fd); i++) {
		const char *name = ms_flatdump__as_name(fd, i);
		struct ms_as *as = ms_import__find_as(imp, name);
		const char *const *lines;
		size_t nr = 0;

		lines = ms_flatdump__view_lines(fd, name, &nr);
		if (!as || !lines) {
			TH_LOG("address space %s: not imported", name);
			done = -1;
			break;
		}
		for (size_t k = 0; k < nr; k++) {
			const struct ms_flat_range *fr;
			char *owner, *parent;
			uint64_t start;

			if (strncmp(lines[k], "  ", 2) || sscanf(lines[k] + 2, "%16" SCNx64,
								  &start) != 1)
				continue;
			fr = ms_flatview__lookup(ms_as__flatview(as), start);
			if (!fr) {
				TH_LOG("%s: nothing at 0x%" PRIx64, name, start);
				done = -1;
				break;
			}
			owner = field(lines[k], " owner:{");
			parent = field(lines[k], " parent:{");
			ms_region__set_owner(fr->mr, owner, parent);
			free(owner);
			free(parent);
			done++;
		}
		if (done < 0)
			break;
	}
	ms_flatdump__free(fd);
	return done;
}

struct walk {
	struct ms_region **seen;
	size_t nr, cap;
};

static int walk_region(struct ms_region *mr, void *opaque);

static int walk_region(struct ms_region *mr, void *opaque)
{
	struct walk *w = opaque;
	struct ms_region **n;

	for (size_t i = 0; i < w->nr; i++)
		if (w->seen[i] == mr)
			return 0;
	if (w->nr == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		n = realloc(w->seen, w->cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		w->seen = n;
	}
	w->seen[w->nr++] = mr;
	if (ms_region__alias(mr) && walk_region(ms_region__alias(mr), w))
		return -ENOMEM;
	return ms_region__for_each_subregion(mr, walk_region, w);
}

static int walk_as(struct ms_as *as, void *opaque)
{
	return ms_as__root(as) ? walk_region(ms_as__root(as), opaque) : 0;
}

/*
 * Give every region without owner text one, of all the rule 5.1 forms:
 * owner only, owner and a different parent, parent only, and none (orphan).
 */
static void synthetic_owners(struct __test_metadata *_metadata, struct ms_ctx *ctx)
{
	struct walk w = { 0 };
	char o[64], p[64];

	ASSERT_EQ(0, ms_ctx__for_each_as(ctx, walk_as, &w));
	for (size_t i = 0; i < w.nr; i++) {
		struct ms_region *mr = w.seen[i];

		if (ms_region__owner(mr) || ms_region__parent(mr))
			continue;
		snprintf(o, sizeof(o), "%s path=/machine/t/r[%zu]", i % 2 ? "dev" : "obj", i);
		snprintf(p, sizeof(p), "obj path=/machine/unattached/p%zu", i);
		switch (i % 4) {
		case 0:
			EXPECT_EQ(0, ms_region__set_owner(mr, o, NULL));
			break;
		case 1:
			EXPECT_EQ(0, ms_region__set_owner(mr, o, p));
			break;
		case 2:
			EXPECT_EQ(0, ms_region__set_owner(mr, NULL, p));
			break;
		default:
			break;
		}
	}
	free(w.seen);
}

/* ---- the samples ------------------------------------------------------------------------- */

FIXTURE(sample) {
	struct ms_ctx *ctx, *ctx2;
	struct ms_import *imp, *imp2;
	struct ms_slotmap *map, *map2;
	char *tree, *flat, *other;
	size_t tree_len, flat_len, other_len;
};

/*
 * @tree: `info mtree [-D]` capture; @flat: `info mtree -f [-o]` capture of
 * the same VM, both the import's input and the expected -f output;
 * @tree_flags: MS_MTREE_DISABLED for a -D capture; @plain_tree: for a -D
 * capture, the VM's plain `info mtree`; @owners: @flat carries -o text;
 * @plain_flat: then the VM's plain `info mtree -f`.
 */
FIXTURE_VARIANT(sample) {
	const char *tree;
	const char *flat;
	unsigned int tree_flags;
	const char *plain_tree;
	bool owners;
	const char *plain_flat;
};

FIXTURE_VARIANT_ADD(sample, pc_256m) {
	.tree = "pc-256m-stopped.mtree.txt",
	.flat = "pc-256m-stopped.mtree_f.txt",
};

FIXTURE_VARIANT_ADD(sample, pc_256m_D) {
	.tree = "pc-256m-stopped.mtree_D.txt",
	.flat = "pc-256m-stopped.mtree_f.txt",
	.tree_flags = MS_MTREE_DISABLED,
	.plain_tree = "pc-256m-stopped.mtree.txt",
};

FIXTURE_VARIANT_ADD(sample, pc_256m_f_o) {
	.tree = "pc-256m-stopped.mtree.txt",
	.flat = "pc-256m-stopped.mtree_f_o.txt",
	.owners = true,
	.plain_flat = "pc-256m-stopped.mtree_f.txt",
};

FIXTURE_VARIANT_ADD(sample, pc_4g_dimms_nvdimm) {
	.tree = "pc-4g-dimms-nvdimm.mtree.txt",
	.flat = "pc-4g-dimms-nvdimm.mtree_f.txt",
};

FIXTURE_VARIANT_ADD(sample, pc_pflash_virtio_mem) {
	.tree = "pc-pflash-virtio-mem.mtree.txt",
	.flat = "pc-pflash-virtio-mem.mtree_f.txt",
};

FIXTURE_VARIANT_ADD(sample, q35_1g) {
	.tree = "q35-1g-stopped.mtree.txt",
	.flat = "q35-1g-stopped.mtree_f.txt",
};

FIXTURE_SETUP(sample)
{
	self->ctx = ms_ctx__new();
	self->ctx2 = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	ASSERT_NE(NULL, self->ctx2);
}

FIXTURE_TEARDOWN(sample)
{
	ms_slotmap__free(self->map2);
	ms_slotmap__free(self->map);
	ms_import__free(self->imp2);
	ms_import__free(self->imp);
	ms_ctx__free(self->ctx2);
	ms_ctx__free(self->ctx);
	free(self->tree);
	free(self->flat);
	free(self->other);
	EXPECT_NO_LEAKS();
}

static struct ms_import *__import(struct __test_metadata *_metadata, struct ms_ctx *ctx,
				  const char *tree, size_t tree_len, const char *flat,
				  size_t flat_len)
{
	struct ms_error err = { 0 };
	struct ms_import *imp = ms_import__parse(ctx, tree, tree_len, flat, flat_len, &err);

	ASSERT_NE(NULL, imp) {
		TH_LOG("import failed: %s", err.msg);
	}
	return imp;
}
#define IMPORT(ctx, t, tl, f, fl) __import(_metadata, (ctx), (t), (tl), (f), (fl))

/* Expect the text of @ctx printed with @flags to be @file's (without '\r'). */
#define EXPECT_PRINTS_AS(file, file_len, ctx, flags) do {				\
	char *__want = strip_cr((file), (file_len), NULL);				\
	ASSERT_NE(NULL, __want);							\
	EXPECT_STR_FREE(__want, mtree_str((ctx), (flags), NULL, NULL));			\
	free(__want);									\
} while (0)

/* rules 2, 3, 4, 7.1; kvm-memslots.md 8.1: import, then print both views */
TEST_F(sample, import_and_print)
{
	struct ms_slotmap *maps[2];
	unsigned int fflags = MS_MTREE_FLAT;

	LOAD(variant->tree, &self->tree, &self->tree_len);
	LOAD(variant->flat, &self->flat, &self->flat_len);
	self->imp = IMPORT(self->ctx, self->tree, self->tree_len, self->flat, self->flat_len);
	EXPECT_LT(0, ms_import__nr_as(self->imp));
	self->map = map_memory(_metadata, self->imp);
	maps[0] = self->map;
	maps[1] = NULL;
	if (variant->owners) {
		EXPECT_LT(0, owners_from_flat(_metadata, self->imp, self->flat, self->flat_len));
		fflags |= MS_MTREE_OWNER;
	}
	EXPECT_EQ(0, flat_diff(_metadata, self->flat, self->flat_len,
			       mtree_str(self->ctx, fflags, ms_mtree_kvm_marker, maps)));
	/* the tree prints back byte for byte */
	EXPECT_PRINTS_AS(self->tree, self->tree_len, self->ctx, variant->tree_flags);
	if (variant->plain_tree) {
		/* a -D import also knows what plain `info mtree` shows */
		LOAD(variant->plain_tree, &self->other, &self->other_len);
		EXPECT_PRINTS_AS(self->other, self->other_len, self->ctx, 0);
	}
	if (variant->plain_flat) {
		LOAD(variant->plain_flat, &self->other, &self->other_len);
		EXPECT_EQ(0, flat_diff(_metadata, self->other, self->other_len,
				       mtree_str(self->ctx, MS_MTREE_FLAT, ms_mtree_kvm_marker,
						 maps)));
	}
}

/* rule 1.3: the CRLF capture and its LF form give the same regions */
TEST_F(sample, crlf_equals_lf)
{
	struct ms_slotmap *m1[2] = { 0 }, *m2[2] = { 0 };
	char *tree_lf, *flat_lf;
	size_t tl, fl;

	LOAD(variant->tree, &self->tree, &self->tree_len);
	LOAD(variant->flat, &self->flat, &self->flat_len);
	ASSERT_NE(NULL, memchr(self->tree, '\r', self->tree_len));
	tree_lf = strip_cr(self->tree, self->tree_len, &tl);
	flat_lf = strip_cr(self->flat, self->flat_len, &fl);
	ASSERT_NE(NULL, tree_lf);
	ASSERT_NE(NULL, flat_lf);
	self->imp = IMPORT(self->ctx, self->tree, self->tree_len, self->flat, self->flat_len);
	self->imp2 = IMPORT(self->ctx2, tree_lf, tl, flat_lf, fl);
	free(tree_lf);
	free(flat_lf);
	m1[0] = self->map = map_memory(_metadata, self->imp);
	m2[0] = self->map2 = map_memory(_metadata, self->imp2);
	for (unsigned int flags = 0; flags <= (MS_MTREE_FLAT | MS_MTREE_OWNER | MS_MTREE_DISABLED);
	     flags++) {
		char *a = mtree_str(self->ctx, flags, ms_mtree_kvm_marker, m1);

		EXPECT_STR_FREE(a ? a : "(NULL)", mtree_str(self->ctx2, flags, ms_mtree_kvm_marker,
							    m2));
		free(a);
	}
	EXPECT_EQ(ms_import__nr_as(self->imp), ms_import__nr_as(self->imp2));
}

/* without the flat dump the tree still imports and prints back (rule 7.1
 * only decides which i/o regions terminate) */
TEST_F(sample, tree_only)
{
	LOAD(variant->tree, &self->tree, &self->tree_len);
	self->imp = IMPORT(self->ctx, self->tree, self->tree_len, NULL, 0);
	EXPECT_PRINTS_AS(self->tree, self->tree_len, self->ctx, variant->tree_flags);
}

/* rules 2.3, 5.1: an `info mtree -o` tree (printed from the import with owner
 * texts of every form) imports again and prints back byte for byte; the new
 * import's flat views with owners match the first one's */
TEST_F(sample, owner_tree_roundtrip)
{
	struct ms_slotmap *m1[2] = { 0 }, *m2[2] = { 0 };
	char *tree_o, *flat1;

	LOAD(variant->tree, &self->tree, &self->tree_len);
	LOAD(variant->flat, &self->flat, &self->flat_len);
	self->imp = IMPORT(self->ctx, self->tree, self->tree_len, self->flat, self->flat_len);
	if (variant->owners)
		EXPECT_LT(0, owners_from_flat(_metadata, self->imp, self->flat, self->flat_len));
	synthetic_owners(_metadata, self->ctx);
	tree_o = mtree_str(self->ctx, MS_MTREE_OWNER | variant->tree_flags, NULL, NULL);
	ASSERT_NE(NULL, tree_o);
	EXPECT_NE(NULL, strstr(tree_o, " orphan\n"));
	EXPECT_NE(NULL, strstr(tree_o, "} parent:{"));
	self->imp2 = IMPORT(self->ctx2, tree_o, strlen(tree_o), self->flat, self->flat_len);
	EXPECT_STR_FREE(tree_o, mtree_str(self->ctx2, MS_MTREE_OWNER | variant->tree_flags,
					  NULL, NULL));
	/* the plain tree of the -o import is the capture */
	EXPECT_PRINTS_AS(self->tree, self->tree_len, self->ctx2, variant->tree_flags);
	m1[0] = self->map = map_memory(_metadata, self->imp);
	m2[0] = self->map2 = map_memory(_metadata, self->imp2);
	flat1 = mtree_str(self->ctx, MS_MTREE_FLAT | MS_MTREE_OWNER, ms_mtree_kvm_marker, m1);
	ASSERT_NE(NULL, flat1);
	EXPECT_EQ(0, flat_diff(_metadata, flat1, strlen(flat1),
			       mtree_str(self->ctx2, MS_MTREE_FLAT | MS_MTREE_OWNER,
					 ms_mtree_kvm_marker, m2)));
	free(flat1);
	free(tree_o);
}

/* rules 1.3, 2.1, 2.2: a capture cut anywhere fails and names the last line:
 * in the middle of each line, and at the end of each line that is not the
 * blank line closing a section */
TEST_F(sample, truncated)
{
	unsigned int line = 1, failures = 0;
	struct ms_error err;
	char want[32];
	size_t start = 0;

	LOAD(variant->tree, &self->tree, &self->tree_len);
	for (size_t i = 0; i < self->tree_len; i++) {
		size_t cuts[2], ncut = 0;

		if (self->tree[i] != '\n')
			continue;
		/* line @line is [start, i] including "\r\n" */
		if (i - start > 2)
			cuts[ncut++] = start + (i - start) / 2;		/* mid-line */
		if (i - start > 1 && i + 1 < self->tree_len)
			cuts[ncut++] = i + 1;			/* complete line, more follows */
		for (size_t c = 0; c < ncut; c++) {
			struct ms_import *imp;
			/* an exact-size copy: ASan catches reads past the end */
			char *cut = malloc(cuts[c]);

			ASSERT_NE(NULL, cut);
			memcpy(cut, self->tree, cuts[c]);
			memset(&err, 0, sizeof(err));
			errno = 0;
			imp = ms_import__parse(self->ctx, cut, cuts[c], NULL, 0, &err);
			free(cut);
			snprintf(want, sizeof(want), "line %u:", line);
			if (!imp && errno == EINVAL && err.err == -EINVAL && strstr(err.msg, want))
				continue;
			if (failures++ < 10)
				TH_LOG("cut at byte %zu (line %u%s): %s, errno %d, \"%s\"", cuts[c],
				       line, c || ncut == 1 ? "" : ", mid-line",
				       imp ? "imported" : "failed", errno, err.msg);
			ms_import__free(imp);
		}
		start = i + 1;
		line++;
	}
	EXPECT_EQ(0, failures);
	EXPECT_EQ(0, nr_as(self->ctx));
	/* cut before the final blank line: the last section is not closed */
	memset(&err, 0, sizeof(err));
	ASSERT_LT(4, self->tree_len);
	ASSERT_EQ(0, memcmp(self->tree + self->tree_len - 4, "\r\n\r\n", 4));
	EXPECT_EQ(NULL, ms_import__parse(self->ctx, self->tree, self->tree_len - 2, NULL, 0,
					 &err));
	snprintf(want, sizeof(want), "line %u:", line - 2);
	EXPECT_NE(NULL, strstr(err.msg, want)) {
		TH_LOG("\"%s\" does not name %s", err.msg, want);
	}
	EXPECT_NE(NULL, strstr(err.msg, "empty line")) {
		TH_LOG("\"%s\"", err.msg);
	}
	EXPECT_EQ(0, nr_as(self->ctx));
	EXPECT_NO_LEAKS();
}

/* ---- malformed input ---------------------------------------------------------------------- */

/* A small valid dump: lines 1-4 the "memory" group, 5 blank, 6-7 the alias
 * target pc.ram, 8 blank. */
static const char base[] =
	"address-space: memory\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	"    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff\n"
	"    00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"\n"
	"memory-region: pc.ram\n"
	"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"
	"\n";

/* @s with the first @from replaced by @to; malloc()ed, NULL if @from is missing */
static char *subst(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t fl = strlen(from), tl = strlen(to), sl = strlen(s);
	char *r;

	if (!p)
		return NULL;
	r = malloc(sl - fl + tl + 1);
	if (!r)
		return NULL;
	memcpy(r, s, p - s);
	memcpy(r + (p - s), to, tl);
	strcpy(r + (p - s) + tl, p + fl);
	return r;
}

/*
 * ms_import__parse() of @tree (and @flat) must fail with EINVAL and a
 * message naming "line @line:" and containing @what, leaving nothing in a
 * fresh context, which then frees without leaks.
 */
static void __expect_fail(struct __test_metadata *_metadata, const char *tree, size_t len,
			  const char *flat, size_t flen, unsigned int line, const char *what)
{
	struct ms_error err = { 0 };
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_import *imp;
	char want[32];

	ASSERT_NE(NULL, ctx);
	errno = 0;
	imp = ms_import__parse(ctx, tree, len, flat, flen, &err);
	EXPECT_EQ(NULL, imp);
	ms_import__free(imp);
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, err.err);
	snprintf(want, sizeof(want), "line %u:", line);
	EXPECT_NE(NULL, strstr(err.msg, want)) {
		TH_LOG("message \"%s\" does not name %s", err.msg, want);
	}
	if (what)
		EXPECT_NE(NULL, strstr(err.msg, what)) {
			TH_LOG("message \"%s\" does not say \"%s\"", err.msg, what);
		}
	EXPECT_EQ(0, nr_as(ctx));
	EXPECT_STR_FREE("", mtree_str(ctx, 0, NULL, NULL));
	ms_ctx__free(ctx);
	EXPECT_NO_LEAKS();
}

#define EXPECT_FAIL(tree, line, what) do {						\
	const char *__t = (tree);							\
	ASSERT_NE(NULL, __t);								\
	__expect_fail(_metadata, __t, strlen(__t), NULL, 0, (line), (what));		\
} while (0)

/* base with @from replaced by @to must fail at @line saying @what */
#define EXPECT_SUBST_FAILS(from, to, line, what) do {					\
	char *__m = subst(base, (from), (to));						\
	ASSERT_NE(NULL, __m) {								\
		TH_LOG("\"%s\" not in the base text", (from));				\
	}										\
	__expect_fail(_metadata, __m, strlen(__m), NULL, 0, (line), (what));		\
	free(__m);									\
} while (0)

static void __expect_ok(struct __test_metadata *_metadata, const char *tree, const char *print)
{
	struct ms_error err = { 0 };
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_import *imp;

	ASSERT_NE(NULL, ctx);
	imp = ms_import__parse(ctx, tree, strlen(tree), NULL, 0, &err);
	EXPECT_NE(NULL, imp) {
		TH_LOG("import failed: %s", err.msg);
	}
	if (imp)
		EXPECT_STR_FREE(print ? print : tree, mtree_str(ctx, 0, NULL, NULL));
	ms_import__free(imp);
	ms_ctx__free(ctx);
	EXPECT_NO_LEAKS();
}
#define EXPECT_OK(tree) __expect_ok(_metadata, (tree), NULL)

TEST(base_text_imports)
{
	EXPECT_OK(base);
}

/* Two dumps in one file: QEMU has one address space "memory", not two. */
TEST(two_dumps_in_one)
{
	EXPECT_FAIL("address-space: memory\n"
		    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		    "\n"
		    "address-space: memory\n"
		    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		    "\n", 4, "a second address space \"memory\"");
}

/*
 * A memory-region section whose first line is indented for the second
 * level has no region of the header's name: an error naming the line (it
 * used to pass a NULL name to strcmp(), a crash under UBSan).
 */
TEST(memory_region_section_starts_deep)
{
	EXPECT_FAIL("address-space: memory\n"
		    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		    "    0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"
		    "\n"
		    "memory-region: pc.ram\n"
		    "    0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"
		    "\n", 6, "memory-region section starts deeper");
}

/* empty input, NULL input and lone line ends are no dump */
TEST(empty)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_error err = { 0 };

	ASSERT_NE(NULL, ctx);
	__expect_fail(_metadata, "", 0, NULL, 0, 1, "address-space");
	EXPECT_FAIL("\n", 1, NULL);
	EXPECT_FAIL("\r\n", 1, NULL);
	EXPECT_FAIL("\r\n\r\n", 1, NULL);
	errno = 0;
	EXPECT_EQ(NULL, ms_import__parse(ctx, NULL, 0, NULL, 0, &err));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, err.err);
	ms_ctx__free(ctx);
}

/* rule 2.1: sections start with "address-space: " or "memory-region: " */
TEST(garbage_header)
{
	EXPECT_SUBST_FAILS("address-space: memory", "hello world", 1, "address-space");
	EXPECT_SUBST_FAILS("memory-region: pc.ram", "memory region: pc.ram", 6,
			   "memory-region");
	EXPECT_SUBST_FAILS("memory-region: pc.ram", "  memory-region: pc.ram", 6, NULL);
	EXPECT_FAIL("\xff\xfe\x00garbage\n", 1, NULL);
	EXPECT_FAIL("<html>\n<body>404</body>\n", 1, "address-space");
}

/* rule 2.3: two spaces per level */
TEST(wrong_indentation_odd)
{
	EXPECT_SUBST_FAILS("    00000000fffc0000", "   00000000fffc0000", 4, "indentation");
	EXPECT_SUBST_FAILS("    00000000fffc0000", "     00000000fffc0000", 4, "indentation");
	EXPECT_SUBST_FAILS("  0000000000000000-ffffffffffffffff",
			   " 0000000000000000-ffffffffffffffff", 2, "indentation");
	EXPECT_SUBST_FAILS("  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n",
			   "0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n", 7,
			   "indentation");
	EXPECT_SUBST_FAILS("    00000000fffc0000", "\t00000000fffc0000", 4, NULL);
}

/* rules 2.3, 2.6: a section has one top-level region */
TEST(wrong_indentation_two_top_level)
{
	EXPECT_SUBST_FAILS("pc.bios\n\n",
			   "pc.bios\n  0000000100000000-0000000100000fff (prio 0, ram): extra\n\n",
			   5, "top-level");
	EXPECT_SUBST_FAILS("pc.ram\n\n",
			   "pc.ram\n"
			   "  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n\n",
			   8, "top-level");
}

/* rule 2.3: without -D, children of a disabled region are printed one level
 * deeper than their printed ancestor; with -D every region is printed, so a
 * skipped level is an error */
TEST(wrong_indentation_skipped_level_with_D)
{
	static const char plain[] =
		"address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
		"\n";
	static const char dumpD[] =
		"address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		"    0000000000000000-00000000000fffff (prio 0, i/o): off [disabled]\n"
		"      00000000000c0000-00000000000c0fff (prio 0, rom): in-off\n"
		"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
		"          00000000fffc0000-00000000fffc0fff (prio 0, ram): deep\n"
		"\n";
	char *ok;

	EXPECT_OK(plain);
	ok = subst(dumpD, "          00000000fffc0000-00000000fffc0fff (prio 0, ram): deep\n", "");
	ASSERT_NE(NULL, ok);
	__expect_ok(_metadata, ok, "address-space: memory\n"
		    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		    "      00000000000c0000-00000000000c0fff (prio 0, rom): in-off\n"
		    "      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
		    "\n");
	free(ok);
	EXPECT_FAIL(dumpD, 6, "level");
}

/* the same with QEMU's -D capture: make its ram-below-4g line (level 2 after
 * "system" at level 1) a level 4 line */
TEST(wrong_indentation_skipped_level_in_D_capture)
{
	const char *line =
		"    0000000000000000-000000000fffffff (prio 0, ram): alias ram-below-4g";
	unsigned int no = 1;
	char *text, *cr, *bad, *p;
	size_t len;

	LOAD("pc-256m-stopped.mtree_D.txt", &text, &len);
	cr = strip_cr(text, len, NULL);
	free(text);
	ASSERT_NE(NULL, cr);
	p = strstr(cr, line);
	ASSERT_NE(NULL, p);
	for (const char *q = cr; q < p; q++)
		no += *q == '\n';
	bad = malloc(strlen(cr) + 5);
	ASSERT_NE(NULL, bad);
	memcpy(bad, cr, p - cr);
	strcpy(bad + (p - cr), "    ");
	strcat(bad, p);
	EXPECT_FAIL(bad, no, "level");
	free(bad);
	free(cr);
}

/* rule 4.1: the type is ram, rom, romd, ramd or i/o, optionally nv- */
TEST(unknown_type)
{
	EXPECT_SUBST_FAILS("(prio 0, rom): pc.bios", "(prio 0, foo): pc.bios", 4, "type");
	EXPECT_SUBST_FAILS("(prio 0, rom): pc.bios", "(prio 0, nv-foo): pc.bios", 4, "type");
	EXPECT_SUBST_FAILS("(prio 0, rom): pc.bios", "(prio 0, nv-): pc.bios", 4, "type");
	EXPECT_SUBST_FAILS("(prio 0, rom): pc.bios", "(prio 0, ): pc.bios", 4, "type");
	EXPECT_SUBST_FAILS("(prio 0, i/o): system", "(prio 0, io): system", 2, "type");
	EXPECT_SUBST_FAILS("(prio 0, rom): pc.bios", "(prio 0 rom): pc.bios", 4, NULL);
	EXPECT_SUBST_FAILS("(prio 0, rom): pc.bios", "(prio 0, rom) pc.bios", 4, NULL);
}

/* rule 2.2: every alias target has a memory-region section */
TEST(alias_to_missing_region)
{
	static const char flat[] =
		"FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
		"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n\n";
	char *m = subst(base, "memory-region: pc.ram\n"
			"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n\n", "");

	ASSERT_NE(NULL, m);
	EXPECT_FAIL(m, 3, "alias");
	free(m);
	EXPECT_SUBST_FAILS("@pc.ram 0000", "@pc.rom 0000", 3, "pc.rom");
	/* a build-time failure after regions were made: with the flat dump too */
	m = subst(base, "memory-region: pc.ram", "memory-region: other");
	ASSERT_NE(NULL, m);
	__expect_fail(_metadata, m, strlen(m), flat, strlen(flat), 3, "alias");
	free(m);
}

/* aliases of aliases that loop never end: an error, not a hang */
TEST(alias_loop)
{
	static const char loop[] =
		"address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		"    0000000000000000-0000000000000fff (prio 0, ram): alias a @b 0000000000000000-0000000000000fff\n"
		"\n"
		"memory-region: b\n"
		"  0000000000000000-0000000000000fff (prio 0, ram): alias b @a 0000000000000000-0000000000000fff\n"
		"\n"
		"memory-region: a\n"
		"  0000000000000000-0000000000000fff (prio 0, ram): alias a @b 0000000000000000-0000000000000fff\n"
		"\n";
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_error err = { 0 };

	ASSERT_NE(NULL, ctx);
	EXPECT_EQ(NULL, ms_import__parse(ctx, loop, strlen(loop), NULL, 0, &err));
	EXPECT_EQ(-EINVAL, err.err);
	EXPECT_EQ(0, strncmp(err.msg, "line ", 5)) {
		TH_LOG("message: %s", err.msg);
	}
	EXPECT_EQ(0, nr_as(ctx));
	ms_ctx__free(ctx);
	EXPECT_NO_LEAKS();
}

/* rule 1.4: 16 hex digits per address, priorities are int32 */
TEST(huge_values)
{
	EXPECT_SUBST_FAILS("    00000000fffc0000-", "    000000000fffc0000-", 4, "16 hex digits");
	EXPECT_SUBST_FAILS("-00000000ffffffff (prio 0, rom)", "-000000000ffffffff (prio 0, rom)",
			   4, "expected");
	EXPECT_SUBST_FAILS("@pc.ram 0000000000000000-0000000007ffffff",
			   "@pc.ram 00000000000000000-0000000007ffffff", 3, "alias");
	EXPECT_SUBST_FAILS("@pc.ram 0000000000000000-0000000007ffffff",
			   "@pc.ram 0000000000000000-00000000007ffffff", 3, "alias");
	EXPECT_SUBST_FAILS("(prio 0, rom)", "(prio 2147483648, rom)", 4, "priority");
	EXPECT_SUBST_FAILS("(prio 0, rom)", "(prio -2147483649, rom)", 4, "priority");
	EXPECT_SUBST_FAILS("(prio 0, rom)", "(prio 99999999999999999999, rom)", 4, "priority");
	EXPECT_SUBST_FAILS("(prio 0, rom)", "(prio , rom)", 4, "priority");
	EXPECT_SUBST_FAILS("(prio 0, rom)", "(prio 1x, rom)", 4, "priority");
}

/* the int32 limits themselves are priorities QEMU can print */
TEST(priority_limits)
{
	char *a = subst(base, "(prio 0, rom)", "(prio 2147483647, rom)");
	char *b = subst(base, "(prio 0, rom)", "(prio -2147483648, rom)");

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_OK(a);
	EXPECT_OK(b);
	free(a);
	free(b);
}

/* rule 1.4: lowercase hexadecimal */
TEST(non_hex_address)
{
	EXPECT_SUBST_FAILS("    00000000fffc0000-", "    00000000fffc000g-", 4, "hex");
	EXPECT_SUBST_FAILS("    00000000fffc0000-", "    0x000000fffc0000-", 4, "hex");
	EXPECT_SUBST_FAILS("    00000000fffc0000-", "    -0000000fffc0000-", 4, NULL);
	EXPECT_SUBST_FAILS("-00000000ffffffff (prio 0, rom)", "-00000000ffff ffff (prio 0, rom)",
			   4, "hex");
	EXPECT_SUBST_FAILS("-00000000ffffffff (prio 0, rom)", "+00000000ffffffff (prio 0, rom)",
			   4, NULL);
	EXPECT_SUBST_FAILS("@pc.ram 0000000000000000-", "@pc.ram 000000000000000z-", 3, "alias");
}

/* a NUL byte is no part of QEMU's text: the bytes after it on the line must
 * not be dropped silently */
TEST(embedded_nul)
{
	static const char t1[] = "address-space: memory\0junk\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n\n";
	static const char t2[] = "address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\0junk\n\n";

	__expect_fail(_metadata, t1, sizeof(t1) - 1, NULL, 0, 1, NULL);
	__expect_fail(_metadata, t2, sizeof(t2) - 1, NULL, 0, 2, NULL);
}

/* The line number N of a message "line N: ...", 0 if there is none. */
static unsigned int msg_line(const char *msg)
{
	unsigned int n = 0;

	return sscanf(msg, "line %u:", &n) == 1 ? n : 0;
}

/*
 * rules 3.2, 3.3: the optional `info mtree -f` input cut anywhere is malformed
 * too (each block ends with an empty line, range lines have a fixed layout):
 * the import must fail with a line of the flat dump at or before the cut,
 * not build regions from part of it (cut flat dumps make terminating regions
 * such as "io" or "rtc" look like containers). Cuts as in sample.truncated,
 * over the five distinct -f captures.
 */
TEST(truncated_flat_input)
{
	static const char *const pairs[][2] = {
		{ "pc-256m-stopped.mtree.txt", "pc-256m-stopped.mtree_f.txt" },
		{ "pc-256m-stopped.mtree.txt", "pc-256m-stopped.mtree_f_o.txt" },
		{ "pc-4g-dimms-nvdimm.mtree.txt", "pc-4g-dimms-nvdimm.mtree_f.txt" },
		{ "pc-pflash-virtio-mem.mtree.txt", "pc-pflash-virtio-mem.mtree_f.txt" },
		{ "q35-1g-stopped.mtree.txt", "q35-1g-stopped.mtree_f.txt" },
	};
	struct ms_ctx *ctx = ms_ctx__new();
	unsigned int total_bad = 0;

	ASSERT_NE(NULL, ctx);
	for (size_t f = 0; f < sizeof(pairs) / sizeof(pairs[0]); f++) {
		unsigned int line = 1, bad = 0, cuts_done = 0;
		char *tree, *flat;
		size_t tl, fl, start = 0;

		LOAD(pairs[f][0], &tree, &tl);
		LOAD(pairs[f][1], &flat, &fl);
		for (size_t i = 0; i < fl; i++) {
			size_t cuts[2], ncut = 0;

			if (flat[i] != '\n')
				continue;
			if (i - start > 2)
				cuts[ncut++] = start + (i - start) / 2;
			if (i - start > 1 && i + 1 < fl)
				cuts[ncut++] = i + 1;
			for (size_t c = 0; c < ncut; c++) {
				char *cut = malloc(cuts[c]);
				struct ms_error err = { 0 };
				struct ms_import *imp;
				unsigned int n;

				ASSERT_NE(NULL, cut);
				memcpy(cut, flat, cuts[c]);
				errno = 0;
				imp = ms_import__parse(ctx, tree, tl, cut, cuts[c], &err);
				free(cut);
				cuts_done++;
				n = msg_line(err.msg);
				if (!imp && errno == EINVAL && n && n <= line)
					continue;
				if (bad++ < 3)
					TH_LOG("%s cut at byte %zu (line %u%s): %s \"%s\"",
					       pairs[f][1], cuts[c], line,
					       c || ncut == 1 ? "" : ", mid-line",
					       imp ? "imported" : "failed:", err.msg);
				ms_import__free(imp);
			}
			start = i + 1;
			line++;
		}
		if (bad)
			TH_LOG("%s: %u of %u cuts imported or named no line", pairs[f][1], bad,
			       cuts_done);
		total_bad += bad;
		free(tree);
		free(flat);
	}
	EXPECT_EQ(0, total_bad);
	EXPECT_EQ(0, nr_as(ctx));
	ms_ctx__free(ctx);
	EXPECT_NO_LEAKS();
}

/* rules 2.1-2.3: what remains after a cut: a header without its region, a
 * section without its closing blank line */
TEST(truncated_base)
{
	size_t len = strlen(base), h;
	char buf[sizeof(base)];

	/* mid-line in the last region line */
	memcpy(buf, base, len - 20);
	buf[len - 20] = 0;
	EXPECT_FAIL(buf, 7, NULL);
	/* before the final blank line */
	memcpy(buf, base, len - 1);
	buf[len - 1] = 0;
	EXPECT_FAIL(buf, 7, "empty line");
	/* a memory-region header and nothing else */
	h = strstr(base, "memory-region: pc.ram\n") - base + 22;
	memcpy(buf, base, h);
	buf[h] = 0;
	EXPECT_FAIL(buf, 6, "region line");
	/* a lone header */
	EXPECT_FAIL("address-space: memory", 1, NULL);
	EXPECT_FAIL("address-space: memory\n", 1, NULL);
}

/* the optional flat dump is checked too (rule 3.2) */
TEST(malformed_flat_dump)
{
	static const char f1[] = "FlatView #0\r\ngarbage\r\n\r\n";
	static const char f2[] = "  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n";
	static const char f3[] = "FlatView #0\n AS \"memory\n";
	static const char f4[] =
		"FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
		"  garbage\n\n";
	static const char f5[] =
		"FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
		"  0000000000000000-00000000\n\n";

	__expect_fail(_metadata, base, strlen(base), f1, strlen(f1), 2, NULL);
	__expect_fail(_metadata, base, strlen(base), f2, strlen(f2), 1, "FlatView");
	__expect_fail(_metadata, base, strlen(base), f3, strlen(f3), 2, NULL);
	/* rule 3.3: a line of a view is " Root memory region: ...", "  No rendered
	 * FlatView" or a range line "  <start>-<end> (prio <p>, <type>): <name>..." */
	__expect_fail(_metadata, base, strlen(base), f4, strlen(f4), 4, NULL);
	__expect_fail(_metadata, base, strlen(base), f5, strlen(f5), 4, NULL);
}

/* rule 1.3: LF, CRLF and a mix give the same regions */
TEST(crlf_lf_mixed)
{
	char crlf[2 * sizeof(base)], mixed[2 * sizeof(base)];
	size_t n = 0, m = 0, line = 0;

	for (const char *p = base; *p; p++) {
		if (*p == '\n') {
			crlf[n++] = '\r';
			if (line++ % 2)
				mixed[m++] = '\r';
		}
		crlf[n++] = *p;
		mixed[m++] = *p;
	}
	crlf[n] = 0;
	mixed[m] = 0;
	__expect_ok(_metadata, crlf, base);
	__expect_ok(_metadata, mixed, base);
}

/* rule 2.3: "[DETECTED OVERFLOW!] " prefixes a region that wraps 2^64 */
TEST(detected_overflow_roundtrip)
{
	struct ms_ctx *ctx = ms_ctx__new(), *ctx2 = ms_ctx__new();
	struct ms_region *sys, *top, *wrap;
	struct ms_import *imp;
	struct ms_as *as;
	char *t;

	ASSERT_NE(NULL, ctx);
	ASSERT_NE(NULL, ctx2);
	sys = ms_region__new_container(ctx, "system", UINT64_MAX, NULL);
	top = ms_region__new_container(ctx, "top", 0x100000, NULL);
	wrap = ms_region__new_io(ctx, "wrap", 0x20000, NULL, NULL, NULL);
	ASSERT_NE(NULL, sys);
	ASSERT_NE(NULL, top);
	ASSERT_NE(NULL, wrap);
	ASSERT_EQ(0, ms_region__add_subregion(sys, 0xffffffffffff0000ull, top, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(top, 0x8000, wrap, NULL));
	as = ms_as__new(ctx, sys, "memory", NULL);
	ASSERT_NE(NULL, as);
	t = mtree_str(ctx, 0, NULL, NULL);
	ASSERT_NE(NULL, t);
	EXPECT_NE(NULL, strstr(t, "[DETECTED OVERFLOW!] ")) {
		TH_LOG("%s", t);
	}
	imp = ms_import__parse(ctx2, t, strlen(t), NULL, 0, NULL);
	EXPECT_NE(NULL, imp);
	if (imp)
		EXPECT_STR_FREE(t, mtree_str(ctx2, 0, NULL, NULL));
	free(t);
	ms_import__free(imp);
	ms_as__free(as);
	ms_region__unref(wrap);
	ms_region__unref(top);
	ms_region__unref(sys);
	ms_ctx__free(ctx2);
	ms_ctx__free(ctx);
	EXPECT_NO_LEAKS();
}

/* deep nesting imports and prints back */
TEST(deep_nesting)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_NE(NULL, f);
	fputs("address-space: memory\n", f);
	for (int i = 1; i <= 100; i++)
		fprintf(f, "%*s0000000000000000-%016llx (prio 0, i/o): c%d\n", 2 * i, "",
			0xffffffffffffffffull >> (i / 2), i);
	fprintf(f, "%*s0000000000000000-0000000000000fff (prio 0, ram): leaf\n\n", 202, "");
	fclose(f);
	ASSERT_NE(NULL, buf);
	EXPECT_OK(buf);
	free(buf);
}

/* ---- childless i/o regions and the flat dump (rule 7.1) ------------------------------- */

/* QEMU 7.2 q35 with KVM, trimmed: "smram" is a container whose children
 * are all disabled, so without -D it prints like a childless I/O region. */
#define SMRAM_AS_HEAD									\
	"address-space: KVM-SMRAM\n"							\
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): mem-container-smram\n"	\
	"    0000000000000000-00000000ffffffff (prio 10, i/o): smram\n"
#define SMRAM_AS_TAIL									\
	"    0000000000000000-ffffffffffffffff (prio 0, i/o): alias mem-smram @system 0000000000000000-ffffffffffffffff\n" \
	"\n"
#define SYSTEM_TREE									\
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"			\
	"    0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"			\
	"    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
#define SYSTEM_AS "address-space: memory\n" SYSTEM_TREE "\n"
#define SYSTEM_MR "memory-region: system\n" SYSTEM_TREE "\n"
#define SYSTEM_RANGES									\
	"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"			\
	"  00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
#define SMRAM_VIEW_HEAD									\
	"FlatView #0\n"									\
	" AS \"KVM-SMRAM\", root: mem-container-smram\n"				\
	" Root memory region: mem-container-smram\n"
#define MEMORY_VIEW									\
	"FlatView #1\n"									\
	" AS \"memory\", root: system\n"						\
	" Root memory region: system\n"							\
	SYSTEM_RANGES "\n"

static const char smram_tree[] = SMRAM_AS_HEAD SMRAM_AS_TAIL SYSTEM_AS SYSTEM_MR;
/* the same shape under another name: nothing known about it */
static const char smram_other[] =
	"address-space: KVM-SMRAM\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): mem-container-smram\n"
	"    0000000000000000-00000000ffffffff (prio 10, i/o): smramx\n"
	SMRAM_AS_TAIL SYSTEM_AS SYSTEM_MR;
/* QEMU shows system memory in KVM-SMRAM: "smram" renders nothing */
static const char smram_flat[] = SMRAM_VIEW_HEAD SYSTEM_RANGES "\n" MEMORY_VIEW;

static int find_fn(struct ms_region *mr, void *opaque);

struct find {
	const char *name;
	struct ms_region *mr;
};

static int find_fn(struct ms_region *mr, void *opaque)
{
	struct find *f = opaque;

	if (ms_region__name(mr) && !strcmp(ms_region__name(mr), f->name)) {
		f->mr = mr;
		return 1;
	}
	return ms_region__for_each_subregion(mr, find_fn, f);
}

/* The region called @name under the root of address space @as_name. */
static struct ms_region *find_region(const struct ms_import *imp, const char *as_name,
				     const char *name)
{
	struct ms_as *as = ms_import__find_as(imp, as_name);
	struct find f = { .name = name };

	if (as && ms_as__root(as))
		find_fn(ms_as__root(as), &f);
	return f.mr;
}

/*
 * Import @tree with @flat (may be NULL); expect our flat views to be @flat's,
 * the tree to print back (with @flags), and region @name in KVM-SMRAM to be
 * of kind @kind.
 */
static void check_childless_io(struct __test_metadata *_metadata, const char *tree,
			       const char *flat, unsigned int flags, const char *name,
			       enum ms_region_kind kind)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_import *imp;
	struct ms_region *mr;

	ASSERT_NE(NULL, ctx);
	imp = IMPORT(ctx, tree, strlen(tree), flat, flat ? strlen(flat) : 0);
	mr = find_region(imp, "KVM-SMRAM", name);
	EXPECT_NE(NULL, mr);
	if (mr)
		EXPECT_EQ(kind, ms_region__kind(mr)) {
			TH_LOG("%s: kind %d, want %d", name, ms_region__kind(mr), kind);
		}
	if (flat)
		EXPECT_EQ(0, flat_diff(_metadata, flat, strlen(flat),
				       mtree_str(ctx, MS_MTREE_FLAT, NULL, NULL)));
	EXPECT_STR_FREE(tree, mtree_str(ctx, flags, NULL, NULL));
	ms_import__free(imp);
	ms_ctx__free(ctx);
	EXPECT_NO_LEAKS();
}

/* rule 7.1: a childless "i/o" region QEMU's view never shows where it would
 * win is a container with only disabled children; it must not hide RAM */
TEST(childless_io_empty_container)
{
	check_childless_io(_metadata, smram_tree, smram_flat, 0, "smram",
			   MS_REGION_CONTAINER);
	/*
	 * without the flat dump, "smram" under "mem-container-smram" is known
	 * for a container (memslot-mtree(8), Inference); another childless
	 * i/o region still terminates (rule 7.1)
	 */
	check_childless_io(_metadata, smram_tree, NULL, 0, "smram", MS_REGION_CONTAINER);
	check_childless_io(_metadata, smram_other, NULL, 0, "smramx", MS_REGION_IO);
}

/* two stacked empty containers: the lower one shows once the upper is known */
TEST(childless_io_empty_containers_stacked)
{
	static const char tree[] = SMRAM_AS_HEAD
		"    0000000000000000-00000000ffffffff (prio 5, i/o): smram2\n"
		SMRAM_AS_TAIL SYSTEM_AS SYSTEM_MR;

	check_childless_io(_metadata, tree, smram_flat, 0, "smram", MS_REGION_CONTAINER);
	check_childless_io(_metadata, tree, smram_flat, 0, "smram2", MS_REGION_CONTAINER);
}

/* with -D the disabled children are printed: a container by its children */
TEST(childless_io_empty_container_D)
{
	static const char tree[] = SMRAM_AS_HEAD
		"      00000000000a0000-00000000000bffff (prio 0, ram): alias smram-low @pc.ram 00000000000a0000-00000000000bffff [disabled]\n"
		SMRAM_AS_TAIL SYSTEM_AS
		"memory-region: pc.ram\n"
		"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"
		"\n"
		SYSTEM_MR;

	check_childless_io(_metadata, tree, smram_flat, MS_MTREE_DISABLED, "smram",
			   MS_REGION_CONTAINER);
}

/* a childless I/O region QEMU shows stays I/O */
TEST(childless_io_visible)
{
	static const char flat[] = SMRAM_VIEW_HEAD
		"  0000000000000000-00000000ffffffff (prio 10, i/o): smram\n"
		"\n" MEMORY_VIEW;

	check_childless_io(_metadata, smram_tree, flat, 0, "smram", MS_REGION_IO);
}

/* a real I/O region fully covered by higher-priority regions never shows
 * in the flat view either: it stays I/O (rule 7.1) */
TEST(childless_io_covered)
{
	static const char tree[] = SMRAM_AS_HEAD
		"      0000000000000000-00000000ffffffff (prio 1, i/o): cover\n"
		"      0000000000001000-0000000000001fff (prio 0, i/o): covered\n"
		SMRAM_AS_TAIL SYSTEM_AS SYSTEM_MR;
	static const char flat[] = SMRAM_VIEW_HEAD
		"  0000000000000000-00000000ffffffff (prio 1, i/o): cover\n"
		"\n" MEMORY_VIEW;

	check_childless_io(_metadata, tree, flat, 0, "covered", MS_REGION_IO);
	check_childless_io(_metadata, tree, flat, 0, "cover", MS_REGION_IO);
}

/*
 * Address-space names need not be unique (two e1000 NICs, one with bus
 * mastering on, one off) and QEMU orders its flat views its own way: the
 * comparison pairs same-named spaces by their views, not by position.
 */
TEST(flatdump_diff_same_named_address_spaces)
{
	static const char qemu[] =
		"FlatView #0\n"
		" AS \"memory\", root: system\n"
		" AS \"nic\", root: bus master container\n"
		" Root memory region: system\n"
		"  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\n"
		"\n"
		"FlatView #1\n"
		" AS \"nic\", root: bus master container\n"
		" Root memory region: (none)\n"
		"  No rendered FlatView\n"
		"\n";
	static const char ours[] =
		"FlatView #0\n"
		" AS \"nic\", root: bus master container\n"
		" Root memory region: (none)\n"
		"  No rendered FlatView\n"
		"\n"
		"FlatView #1\n"
		" AS \"memory\", root: system\n"
		" AS \"nic\", root: bus master container\n"
		" Root memory region: system\n"
		"  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\n"
		"\n";
	static const char both_off[] =
		"FlatView #0\n"
		" AS \"memory\", root: system\n"
		" Root memory region: system\n"
		"  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\n"
		"\n"
		"FlatView #1\n"
		" AS \"nic\", root: bus master container\n"
		" AS \"nic\", root: bus master container\n"
		" Root memory region: (none)\n"
		"  No rendered FlatView\n"
		"\n";
	struct ms_flatdump *q = ms_flatdump__parse(qemu, strlen(qemu), NULL);
	struct ms_flatdump *o = ms_flatdump__parse(ours, strlen(ours), NULL);
	struct ms_flatdump *b = ms_flatdump__parse(both_off, strlen(both_off), NULL);

	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, o);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(0, ms_flatdump__diff(q, o, NULL));
	EXPECT_EQ(0, ms_flatdump__diff(o, q, NULL));
	/* one "nic" without bus mastering where QEMU has it on is a difference */
	EXPECT_EQ(1, ms_flatdump__diff(q, b, NULL));
	ms_flatdump__free(q);
	ms_flatdump__free(o);
	ms_flatdump__free(b);
}

/* ---- a large dump ---------------------------------------------------------------------- */

/*
 * A PC with @ndev PCI devices, as bench/bench_import.c generates it: per
 * device a BAR container under "pci" (registers, MSI-X, VRAM on every 4th,
 * a quirk under an unprinted disabled container on every 8th, an alias
 * window onto the device's own "memory-region:" section, a ROM on every
 * 16th), an I/O port and a "bus master container" address space, then
 * QEMU's "memory-region: system" copy. @tree gets the dump, @flat the
 * views QEMU prints for it (with the " KVM" markers of "memory").
 */
#define BIG_BAR(i)	(0x100000000ull + (unsigned long long)(i) * 0x10000)

static void big_range(FILE *f, int level, unsigned long long start, unsigned long long size,
		      const char *type)
{
	fprintf(f, "%*s%016llx-%016llx (prio %d, %s): ", 2 * level, "", start, start + size - 1,
		level == 3 && size == 0x10000, type);
}

static void big_system(FILE *t, int ndev)
{
	fputs("  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	      "    0000000000000000-000000003fffffff (prio 0, ram): alias ram-below-4g @pc.ram "
	      "0000000000000000-000000003fffffff\n"
	      "    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n", t);
	for (int i = 0; i < ndev; i++) {
		big_range(t, 3, BIG_BAR(i), 0x10000, "i/o");
		fprintf(t, "dev%d-bar\n", i);
		if (i % 8 == 0) {
			big_range(t, 5, BIG_BAR(i) + 0x4000, 0x100, "i/o");
			fprintf(t, "dev%d-quirk\n", i);
		}
		big_range(t, 4, BIG_BAR(i), 0x1000, "i/o");
		fprintf(t, "dev%d-regs\n", i);
		big_range(t, 4, BIG_BAR(i) + 0x1000, 0x1000, "i/o");
		fprintf(t, "dev%d-msix-table\n", i);
		big_range(t, 4, BIG_BAR(i) + 0x2000, 0x1000, "i/o");
		fprintf(t, "dev%d-msix-pba\n", i);
		if (i % 4 == 0) {
			big_range(t, 4, BIG_BAR(i) + 0x3000, 0x1000, "ram");
			fprintf(t, "dev%d-vram\n", i);
		}
		big_range(t, 4, BIG_BAR(i) + 0x8000, 0x1000, i % 16 ? "i/o" : "rom");
		fprintf(t, "alias dev%d-exp-win @dev%d.exp 0000000000000000-0000000000000fff\n",
			i, i);
	}
}

static void big_dump(int ndev, char **tree, size_t *tree_len, char **flat, size_t *flat_len)
{
	FILE *t = open_memstream(tree, tree_len), *f = open_memstream(flat, flat_len);

	if (!t || !f)
		return;
	fputs("address-space: I/O\n  0000000000000000-000000000000ffff (prio 0, i/o): io\n", t);
	for (int i = 0; i < ndev; i++) {
		big_range(t, 2, 0x1000 + 4 * i, 4, "i/o");
		fprintf(t, "dev%d-port\n", i);
	}
	fputs("\naddress-space: cpu-memory-0\naddress-space: memory\n", t);
	big_system(t, ndev);
	fputs("\n", t);
	for (int i = 0; i < ndev; i++)
		fprintf(t, "address-space: dev%d\n  0000000000000000-ffffffffffffffff (prio 0, i/o): "
			"bus master container\n\n", i);
	fputs("memory-region: pc.ram\n"
	      "  0000000000000000-000000003fffffff (prio 0, ram): pc.ram\n\n", t);
	for (int i = 0; i < ndev; i++) {
		fprintf(t, "memory-region: dev%d.exp\n", i);
		big_range(t, 1, 0, 0x1000, i % 16 ? "i/o" : "rom");
		fprintf(t, "dev%d.exp\n\n", i);
	}
	fputs("memory-region: system\n", t);
	big_system(t, ndev);
	fputs("\n", t);

	fputs("FlatView #0\n AS \"memory\", root: system\n AS \"cpu-memory-0\", root: system\n"
	      " Root memory region: system\n"
	      "  0000000000000000-000000003fffffff (prio 0, ram): pc.ram KVM\n", f);
	for (int i = 0; i < ndev; i++) {
		big_range(f, 1, BIG_BAR(i), 0x1000, "i/o");
		fprintf(f, "dev%d-regs\n", i);
		big_range(f, 1, BIG_BAR(i) + 0x1000, 0x1000, "i/o");
		fprintf(f, "dev%d-msix-table\n", i);
		big_range(f, 1, BIG_BAR(i) + 0x2000, 0x1000, "i/o");
		fprintf(f, "dev%d-msix-pba\n", i);
		if (i % 4 == 0) {
			big_range(f, 1, BIG_BAR(i) + 0x3000, 0x1000, "ram");
			fprintf(f, "dev%d-vram KVM\n", i);
		}
		big_range(f, 1, BIG_BAR(i) + 0x8000, 0x1000, i % 16 ? "i/o" : "rom");
		fprintf(f, "dev%d.exp%s\n", i, i % 16 ? "" : " KVM");
	}
	fputs("\nFlatView #1\n AS \"I/O\", root: io\n Root memory region: io\n"
	      "  0000000000000000-0000000000000fff (prio 0, i/o): io\n", f);
	for (int i = 0; i < ndev; i++) {
		big_range(f, 1, 0x1000 + 4 * i, 4, "i/o");
		fprintf(f, "dev%d-port\n", i);
	}
	fprintf(f, "  %016x-000000000000ffff (prio 0, i/o): io @%016x\n", 0x1000 + 4 * ndev,
		0x1000 + 4 * ndev);
	fputs("\nFlatView #2\n", f);
	for (int i = 0; i < ndev; i++)
		fprintf(f, " AS \"dev%d\", root: bus master container\n", i);
	fputs(" Root memory region: (none)\n  No rendered FlatView\n\n", f);
	fclose(t);
	fclose(f);
}

/*
 * Import time grew with the cube of the dump; a dump of a few MB of one
 * machine (thousands of sections and address spaces) imports, prints back
 * byte for byte and renders QEMU's flat views.
 */
TEST(large_dump)
{
	MS_OPTS(ms_slotmap_opts, opts, .page_size = 0x1000, .max_slots = 32764);
	const int ndev = 2400;
	struct ms_ctx *ctx = ms_ctx__new(), *ctx2 = ms_ctx__new();
	struct ms_import *imp, *imp2;
	struct ms_slotmap *maps[2] = { 0 };
	char *tree = NULL, *flat = NULL;
	size_t tree_len = 0, flat_len = 0;

	ASSERT_NE(NULL, ctx);
	ASSERT_NE(NULL, ctx2);
	big_dump(ndev, &tree, &tree_len, &flat, &flat_len);
	ASSERT_NE(NULL, tree);
	ASSERT_NE(NULL, flat);
	EXPECT_LT(2u << 20, tree_len);
	imp = IMPORT(ctx, tree, tree_len, flat, flat_len);
	EXPECT_EQ(ndev + 3, ms_import__nr_as(imp));
	/* as many slots as `memslot mtree --import` gives, as current x86 KVM */
	maps[0] = ms_slotmap__new(ms_import__find_as(imp, "memory"), &opts, NULL);
	ASSERT_NE(NULL, maps[0]);
	EXPECT_EQ(NULL, ms_slotmap__error(maps[0]));
	EXPECT_EQ(0, flat_diff(_metadata, flat, flat_len,
			       mtree_str(ctx, MS_MTREE_FLAT, ms_mtree_kvm_marker, maps)));
	EXPECT_PRINTS_AS(tree, tree_len, ctx, 0);
	/* and without the flat dump (rule 7.1 only settles i/o regions) */
	imp2 = IMPORT(ctx2, tree, tree_len, NULL, 0);
	EXPECT_PRINTS_AS(tree, tree_len, ctx2, 0);
	ms_slotmap__free(maps[0]);
	ms_import__free(imp2);
	ms_import__free(imp);
	ms_ctx__free(ctx2);
	ms_ctx__free(ctx);
	free(tree);
	free(flat);
	EXPECT_NO_LEAKS();
}

TEST_HARNESS_MAIN
