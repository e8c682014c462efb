// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Rendering, simplification, address spaces and flat-view sharing,
 * sections, translation and accesses: regions-and-flatview.md sections
 * 5-9. Rule numbers refer to that file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

FIXTURE(fv) {
	struct ms_ctx *ctx;
	struct ms_region *root;
};

FIXTURE_SETUP(fv)
{
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->root = CONT("root", UINT64_MAX);
}

FIXTURE_TEARDOWN(fv)
{
	ms_region__unref(self->root);
	ms_ctx__free(self->ctx);
}

/* ---- section 5: rendering -------------------------------------------------- */

/* rule 5.2: an absent root gives an empty view */
TEST_F(fv, render_null_root)
{
	struct ms_flatview *fv = ms_flatview__render(NULL, NULL);

	ASSERT_NE(NULL, fv);
	EXPECT_EQ(0, ms_flatview__nr_ranges(fv));
	EXPECT_EQ(NULL, ms_flatview__root(fv));
	EXPECT_EQ(NULL, ms_flatview__lookup(fv, 0));
	ms_flatview__unref(fv);
}

/* rule 5.2: the view records its root; an empty container renders nothing */
TEST_F(fv, render_root_recorded)
{
	struct ms_flatview *fv = ms_flatview__render(self->root, NULL);

	ASSERT_NE(NULL, fv);
	EXPECT_EQ(self->root, ms_flatview__root(fv));
	EXPECT_EQ(0, ms_flatview__nr_ranges(fv));
	ms_flatview__unref(fv);
}

/* rule 5.3 step 1, 5.5: a disabled region hides its whole subtree, and any alias
 * target reached through it */
TEST_F(fv, disabled_subtree)
{
	struct ms_region *c = CONT("c", 0x10000), *a = IO("a", 0x100), *t = IO("t", 0x100);
	struct ms_region *al = ALIAS("al", t, 0, 0x100), *below = IO("below", 0x20000);

	ADD(c, 0, a);
	ADD(c, 0x1000, al);
	ADD(self->root, 0, c);
	ADDP(self->root, 0, below, -1);
	EXPECT_STR_FREE("0x0+0x100 a@0x0\n0x100+0xf00 below@0x100\n"
			"0x1000+0x100 t@0x0\n0x1100+0x1ef00 below@0x1100\n",
			render_str(self->root));
	ms_region__set_enabled(c, false);
	EXPECT_TRUE(ms_region__enabled(a));
	EXPECT_STR_FREE("0x0+0x20000 below@0x0\n", render_str(self->root));
	ms_region__set_enabled(c, true);
	ms_region__set_enabled(al, false);
	EXPECT_STR_FREE("0x0+0x100 a@0x0\n0x100+0x1ff00 below@0x100\n",
			render_str(self->root));
	/* a disabled root renders nothing */
	ms_region__set_enabled(al, true);
	ms_region__set_enabled(self->root, false);
	EXPECT_STR_FREE("", render_str(self->root));
	ms_region__unref(below);
	ms_region__unref(al);
	ms_region__unref(t);
	ms_region__unref(a);
	ms_region__unref(c);
}

/* rule 5.3 step 3: children never render outside their parent */
TEST_F(fv, clip_to_parent)
{
	struct ms_region *c = CONT("c", 0x1000), *big = IO("big", 0x2000), *neg = IO("x", 0x100);

	ADD(c, 0x800, big);
	ADD(c, 0x1000, neg);	/* starts exactly at the end: nothing */
	ADD(self->root, 0x10000, c);
	EXPECT_STR_FREE("0x10800+0x800 big@0x0\n", render_str(self->root));
	ms_region__unref(neg);
	ms_region__unref(big);
	ms_region__unref(c);
}

/* rule 5.3 step 4, 5.6: alias base math; the target's own addr is irrelevant;
 * offset_in_region is relative to the terminating region */
TEST_F(fv, alias_base_math)
{
	struct ms_region *other = CONT("other", 0x100000), *t = IO("t", 0x1000);
	struct ms_region *al = ALIAS("al", t, 0x200, 0x100);

	ADD(other, 0x5000, t);	/* t is also mapped elsewhere (not rendered here) */
	ADD(self->root, 0x1000, al);
	EXPECT_STR_FREE("0x1000+0x100 t@0x200\n", render_str(self->root));
	/* now render both */
	ADD(self->root, 0x100000, other);
	EXPECT_STR_FREE("0x1000+0x100 t@0x200\n0x105000+0x1000 t@0x0\n",
			render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(t);
	ms_region__unref(other);
}

/* rule 5.3 step 4: aliases of aliases resolve recursively; offsets add up */
TEST_F(fv, alias_of_alias)
{
	struct ms_region *c = CONT("c", 0x100000), *t = IO("t", 0x10000);
	struct ms_region *a1 = ALIAS("a1", t, 0x100, 0x8000);
	struct ms_region *a2 = ALIAS("a2", a1, 0x10, 0x100);

	ADD(c, 0x7000, a1);	/* a1's own position must not matter for a2 */
	ADD(c, 0x3000, t);
	ADD(self->root, 0x3000, a2);
	EXPECT_STR_FREE("0x3000+0x100 t@0x110\n", render_str(self->root));
	/* a2's window beyond a1's end shows nothing more */
	EXPECT_EQ(0, ms_region__set_alias_offset(a2, 0x7f80, NULL));
	EXPECT_STR_FREE("0x3000+0x80 t@0x8080\n", render_str(self->root));
	ms_region__unref(a2);
	ms_region__unref(a1);
	ms_region__unref(t);
	ms_region__unref(c);
}

/* rule 5.5: an alias offset beyond its target renders nothing and is transparent */
TEST_F(fv, alias_offset_beyond_target)
{
	struct ms_region *t = IO("t", 0x1000), *below = IO("below", 0x10000);
	struct ms_region *al = ALIAS("al", t, 0x2000, 0x1000);

	ADDP(self->root, 0x4000, al, 1);
	ADD(self->root, 0, below);
	EXPECT_STR_FREE("0x0+0x10000 below@0x0\n", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(below);
	ms_region__unref(t);
}

/* rule 5.5: an alias window larger than its target renders only the covered part */
TEST_F(fv, alias_window_larger)
{
	struct ms_region *t = IO("t", 0x1000), *below = IO("below", 0x10000);
	struct ms_region *al = ALIAS("al", t, 0x800, 0x3000);

	ADDP(self->root, 0x4000, al, 1);
	ADD(self->root, 0, below);
	EXPECT_STR_FREE("0x0+0x4000 below@0x0\n0x4000+0x800 t@0x800\n"
			"0x4800+0xb800 below@0x4800\n", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(below);
	ms_region__unref(t);
}

/* rule 2.3: a large alias offset makes the base negative while resolving */
TEST_F(fv, alias_negative_base)
{
	struct ms_region *big = CONT("big", UINT64_MAX), *top = IO("top", 0x1000);
	struct ms_region *al = ALIAS("al", big, 0xfffffffffffff000ull, 0x2000);

	ADD(big, 0xfffffffffffff000ull, top);
	ADD(self->root, 0x10000, al);
	EXPECT_STR_FREE("0x10000+0x1000 top@0x0\n", render_str(self->root));
	/* a 2^64 window at offset 0 onto a 2^64 container */
	EXPECT_EQ(0, ms_region__del_subregion(self->root, al, NULL));
	ms_region__unref(al);
	al = ALIAS("al", big, 0, UINT64_MAX);
	ADD(self->root, 0, al);
	EXPECT_STR_FREE("0xfffffffffffff000+0x1000 top@0x0\n", render_str(self->root));
	/* the same window placed at 0x1000 loses what would pass 2^64 */
	ms_region__set_address(al, 0x1000);
	EXPECT_STR_FREE("", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(top);
	ms_region__unref(big);
}

/* rule 5.5: containers (and alias windows onto them) are transparent where
 * their subtree renders nothing: QEMU's smram-region */
TEST_F(fv, container_transparent_smram)
{
	struct ms_region *ram = RAM("pc.ram", 0x100000), *pci = CONT("pci", UINT64_MAX);
	struct ms_region *smram = ALIAS("smram-region", pci, 0xa0000, 0x20000);
	struct ms_region *vga = IO("vga-lowmem", 0x20000);

	ADD(self->root, 0, ram);
	ADDP(self->root, 0, pci, -1);
	ADDP(self->root, 0xa0000, smram, 1);
	EXPECT_STR_FREE("0x0+0x100000 pc.ram@0x0\n", render_str(self->root));
	/* once pci decodes something there, the alias shows it */
	ADDP(pci, 0xa0000, vga, 1);
	EXPECT_STR_FREE("0x0+0xa0000 pc.ram@0x0\n0xa0000+0x20000 vga-lowmem@0x0\n"
			"0xc0000+0x40000 pc.ram@0xc0000\n", render_str(self->root));
	ms_region__unref(vga);
	ms_region__unref(smram);
	ms_region__unref(pci);
	ms_region__unref(ram);
}

/* rule 5.5: a terminating region with children shows through only in the gaps,
 * as several ranges with increasing offsets (rtc, the PC io root) */
TEST_F(fv, terminating_with_children)
{
	struct ms_region *io = IO("io", 0x100), *a = IO("a", 0x10), *b = IO("b", 0x8);
	struct ms_region *rtc = IO("rtc", 2), *idx = IO("rtc-index", 1);

	ADD(io, 0x10, a);
	ADD(io, 0x40, b);
	ADD(rtc, 0, idx);
	ADD(io, 0x70, rtc);
	ADD(self->root, 0x1000, io);
	EXPECT_STR_FREE("0x1000+0x10 io@0x0\n0x1010+0x10 a@0x0\n0x1020+0x20 io@0x20\n"
			"0x1040+0x8 b@0x0\n0x1048+0x28 io@0x48\n0x1070+0x1 rtc-index@0x0\n"
			"0x1071+0x1 rtc@0x1\n0x1072+0x8e io@0x72\n", render_str(self->root));
	ms_region__unref(idx);
	ms_region__unref(rtc);
	ms_region__unref(b);
	ms_region__unref(a);
	ms_region__unref(io);
}

/* rule 5.4, 5.5: "rendered earlier wins": higher priority first, then newer,
 * and children before their region; existing ranges are never modified */
TEST_F(fv, rendered_earlier_wins)
{
	struct ms_region *lo = IO("lo", 0x1000), *hi = IO("hi", 0x100);
	struct ms_region *mid1 = IO("mid1", 0x200), *mid2 = IO("mid2", 0x200);

	ADDP(self->root, 0, lo, -5);
	ADDP(self->root, 0x400, hi, 5);
	ADD(self->root, 0x300, mid1);
	ADD(self->root, 0x480, mid2);
	EXPECT_STR_FREE("0x0+0x300 lo@0x0\n0x300+0x100 mid1@0x0\n0x400+0x100 hi@0x0\n"
			"0x500+0x180 mid2@0x80\n0x680+0x980 lo@0x680\n",
			render_str(self->root));
	ms_region__unref(mid2);
	ms_region__unref(mid1);
	ms_region__unref(hi);
	ms_region__unref(lo);
}

/* rule 5.5: priority only orders siblings; a high-priority grandchild under a
 * low-priority container loses (rule 3.5) */
TEST_F(fv, nested_priorities)
{
	struct ms_region *c1 = CONT("c1", 0x1000), *c2 = CONT("c2", 0x1000);
	struct ms_region *x = IO("x", 0x1000), *y = IO("y", 0x1000);

	ADDP(c1, 0, x, INT32_MAX);
	ADDP(c2, 0, y, INT32_MIN);
	ADDP(self->root, 0, c1, 0);
	ADDP(self->root, 0, c2, 1);
	EXPECT_STR_FREE("0x0+0x1000 y@0x0\n", render_str(self->root));
	ms_region__unref(y);
	ms_region__unref(x);
	ms_region__unref(c2);
	ms_region__unref(c1);
}

/* ---- section 6: simplification ----------------------------------------------- */

/* rule 6.1, 6.2: adjacent windows onto contiguous parts of one region merge */
TEST_F(fv, merge_across_aliases)
{
	struct ms_region *ram = RAM("ram", 0x10000);
	struct ms_region *a1 = ALIAS("a1", ram, 0x1000, 0x1000);
	struct ms_region *a2 = ALIAS("a2", ram, 0x2000, 0x2000);
	struct ms_region *a3 = ALIAS("a3", ram, 0x4000, 0x1000);

	ADD(self->root, 0x10000, a1);
	ADD(self->root, 0x11000, a2);
	ADD(self->root, 0x13000, a3);
	EXPECT_STR_FREE("0x10000+0x4000 ram@0x1000\n", render_str(self->root));
	/* not contiguous inside the region: no merge */
	EXPECT_EQ(0, ms_region__set_alias_offset(a3, 0x5000, NULL));
	EXPECT_STR_FREE("0x10000+0x3000 ram@0x1000\n0x13000+0x1000 ram@0x5000\n",
			render_str(self->root));
	/* not touching: no merge */
	EXPECT_EQ(0, ms_region__set_alias_offset(a3, 0x4000, NULL));
	ms_region__set_address(a3, 0x13001);
	EXPECT_STR_FREE("0x10000+0x3000 ram@0x1000\n0x13001+0x1000 ram@0x4000\n",
			render_str(self->root));
	ms_region__unref(a3);
	ms_region__unref(a2);
	ms_region__unref(a1);
	ms_region__unref(ram);
}

/* rule 6.1: attributes must match for a merge */
TEST_F(fv, merge_needs_equal_attributes)
{
	struct ms_region *ram = RAM("ram", 0x10000);
	struct ms_region *a1 = ALIAS("a1", ram, 0, 0x1000);
	struct ms_region *a2 = ALIAS("a2", ram, 0x1000, 0x1000);

	ADD(self->root, 0, a1);
	ADD(self->root, 0x1000, a2);
	EXPECT_STR_FREE("0x0+0x2000 ram@0x0\n", render_str(self->root));
	ms_region__set_readonly(a2, true);
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0\n0x1000+0x1000 ram@0x1000 ro\n",
			render_str(self->root));
	ms_region__set_readonly(a1, true);
	EXPECT_STR_FREE("0x0+0x2000 ram@0x0 ro\n", render_str(self->root));
	ms_region__set_nonvolatile(a1, true);
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0 ro nv\n0x1000+0x1000 ram@0x1000 ro\n",
			render_str(self->root));
	ms_region__unref(a2);
	ms_region__unref(a1);
	ms_region__unref(ram);
}

/* rule 6.1 (10.0), 6.2: unmergeable ranges never merge, also when inherited */
TEST_F(fv, unmergeable)
{
	struct ms_region *ram = RAM("ram", 0x10000), *c = CONT("virtio-mem", 0x10000);
	struct ms_region *m0 = ALIAS("memslot-0", ram, 0, 0x4000);
	struct ms_region *m1 = ALIAS("memslot-1", ram, 0x4000, 0x4000);

	ADD(c, 0, m0);
	ADD(c, 0x4000, m1);
	ADD(self->root, 0x100000, c);
	EXPECT_STR_FREE("0x100000+0x8000 ram@0x0\n", render_str(self->root));
	ms_region__set_unmergeable(m1, true);
	EXPECT_STR_FREE("0x100000+0x4000 ram@0x0\n0x104000+0x4000 ram@0x4000 um\n",
			render_str(self->root));
	ms_region__set_unmergeable(m1, false);
	ms_region__set_unmergeable(c, true);
	EXPECT_STR_FREE("0x100000+0x4000 ram@0x0 um\n0x104000+0x4000 ram@0x4000 um\n",
			render_str(self->root));
	ms_region__unref(m1);
	ms_region__unref(m0);
	ms_region__unref(c);
	ms_region__unref(ram);
}

/* rule 6.3: different regions never merge, even RAM on one host block */
TEST_F(fv, no_merge_across_regions)
{
	void *host = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct ms_region *r1, *r2;

	ASSERT_NE(MAP_FAILED, host);
	r1 = NEW_OK(ms_region__new_ram_ptr(self->ctx, "r", 0x1000, host, NULL));
	r2 = NEW_OK(ms_region__new_ram_ptr(self->ctx, "r", 0x1000, (char *)host + 0x1000, NULL));
	ADD(self->root, 0, r1);
	ADD(self->root, 0x1000, r2);
	EXPECT_STR_FREE("0x0+0x1000 r@0x0\n0x1000+0x1000 r@0x0\n", render_str(self->root));
	ms_region__unref(r1);
	ms_region__unref(r2);
	munmap(host, 0x2000);
}

/* rule 6.2: a region reached directly and through an alias merges when the
 * pieces are contiguous in the region */
TEST_F(fv, merge_direct_and_alias)
{
	struct ms_region *ram = RAM("ram", 0x2000), *al = ALIAS("al", ram, 0x1000, 0x1000);

	ADD(self->root, 0, ram);
	ADDP(self->root, 0x1000, al, 1);
	EXPECT_STR_FREE("0x0+0x2000 ram@0x0\n", render_str(self->root));
	/* the alias window moved: the pieces are no longer contiguous */
	EXPECT_EQ(0, ms_region__set_alias_offset(al, 0, NULL));
	EXPECT_STR_FREE("0x0+0x1000 ram@0x0\n0x1000+0x1000 ram@0x0\n", render_str(self->root));
	ms_region__unref(al);
	ms_region__unref(ram);
}

/* ---- section 7: address spaces and sharing ------------------------------------ */

/* rule 7.1: default name; rule 7.2: the view is computed at creation */
TEST_F(fv, as_basics)
{
	struct ms_region *a = IO("a", 0x10);
	struct ms_as *as, *named;

	ADD(self->root, 0x20, a);
	as = NEW_OK(ms_as__new(self->ctx, self->root, NULL, NULL));
	named = NEW_OK(ms_as__new(self->ctx, self->root, "named", NULL));
	EXPECT_STREQ("anonymous", ms_as__name(as));
	EXPECT_STREQ("named", ms_as__name(named));
	EXPECT_EQ(self->root, ms_as__root(as));
	EXPECT_EQ(self->ctx, ms_as__ctx(as));
	EXPECT_STR_FREE("0x20+0x10 a@0x0\n", as_str(as));
	/* rule 7.4: same selected root, one view object */
	EXPECT_EQ(ms_as__flatview(as), ms_as__flatview(named));
	EXPECT_EQ(self->root, ms_flatview__root(ms_as__flatview(as)));
	EXPECT_EQ(0, ms_as__free(named));
	EXPECT_EQ(0, ms_as__free(as));
	EXPECT_EQ(0, ms_as__free(NULL));
	ms_region__unref(a);
}

static int collect_as(struct ms_as *as, void *opaque)
{
	char *buf = opaque;

	strcat(buf, ms_as__name(as));
	strcat(buf, " ");
	return 0;
}

static int stop_as(struct ms_as *as, void *opaque)
{
	(void)as;
	return ++*(int *)opaque == 2 ? 7 : 0;
}

/* rule 7.1: address spaces are listed in creation order */
TEST_F(fv, as_creation_order)
{
	struct ms_as *a = NEW_OK(ms_as__new(self->ctx, self->root, "z", NULL));
	struct ms_as *b = NEW_OK(ms_as__new(self->ctx, NULL, "a", NULL));
	struct ms_as *c = NEW_OK(ms_as__new(self->ctx, self->root, "m", NULL));
	char buf[64] = "";
	int n = 0;

	EXPECT_EQ(0, ms_ctx__for_each_as(self->ctx, collect_as, buf));
	EXPECT_STREQ("z a m ", buf);
	EXPECT_EQ(7, ms_ctx__for_each_as(self->ctx, stop_as, &n));
	EXPECT_EQ(2, n);
	ms_as__free(b);
	buf[0] = '\0';
	ms_ctx__for_each_as(self->ctx, collect_as, buf);
	EXPECT_STREQ("z m ", buf);
	ms_as__free(a);
	ms_as__free(c);
}

/* rule 7.3 step 1, 7.5: a disabled root, a NULL root and a container without
 * enabled children all select "absent" and share the one static empty view */
TEST_F(fv, root_absent_static_empty)
{
	struct ms_region *dis = CONT("dis", 0x1000), *empty = CONT("empty", 0x1000);
	struct ms_region *io = IO("io", 0x10), *hidden = IO("hidden", 0x10);
	struct ms_as *a1, *a2, *a3;
	struct ms_flatview *fv;

	ADD(dis, 0, io);
	ms_region__set_enabled(dis, false);
	ms_region__set_enabled(hidden, false);
	ADD(empty, 0, hidden);
	a1 = NEW_OK(ms_as__new(self->ctx, dis, "disabled", NULL));
	a2 = NEW_OK(ms_as__new(self->ctx, NULL, "null", NULL));
	a3 = NEW_OK(ms_as__new(self->ctx, empty, "empty", NULL));
	fv = ms_as__flatview(a1);
	ASSERT_NE(NULL, fv);
	EXPECT_EQ(0, ms_flatview__nr_ranges(fv));
	EXPECT_EQ(NULL, ms_flatview__root(fv));
	EXPECT_EQ(fv, ms_as__flatview(a2));
	EXPECT_EQ(fv, ms_as__flatview(a3));
	/* the static empty view survives commits with pending updates */
	ADD_PUT(self->root, 0, IO("x", 0x10));
	ms_region__set_enabled(io, false);
	EXPECT_EQ(fv, ms_as__flatview(a1));
	EXPECT_EQ(fv, ms_as__flatview(a3));
	/* enabling the root gives a real view; disabling it brings back the same
	 * static view */
	ms_region__set_enabled(io, true);
	ms_region__set_enabled(dis, true);
	EXPECT_NE(fv, ms_as__flatview(a1));
	EXPECT_STR_FREE("0x0+0x10 io@0x0\n", as_str(a1));
	ms_region__set_enabled(dis, false);
	EXPECT_EQ(fv, ms_as__flatview(a1));
	ms_as__free(a1);
	ms_as__free(a2);
	ms_as__free(a3);
	ms_region__unref(hidden);
	ms_region__unref(io);
	ms_region__unref(empty);
	ms_region__unref(dis);
}

/* rule 7.3 step 2, 7.7: a full-size alias at offset 0 shares its target's view */
TEST_F(fv, root_alias_shares)
{
	struct ms_region *io = IO("io", 0x10);
	struct ms_region *full = ALIAS("full", self->root, 0, UINT64_MAX);
	struct ms_region *off = ALIAS("off", self->root, 0x10, 0x1000);
	struct ms_region *small = ALIAS("small", self->root, 0, 0x1000);
	struct ms_as *sys, *a_full, *a_off, *a_small;

	ADD(self->root, 0x20, io);
	sys = NEW_OK(ms_as__new(self->ctx, self->root, "system", NULL));
	a_full = NEW_OK(ms_as__new(self->ctx, full, "full", NULL));
	a_off = NEW_OK(ms_as__new(self->ctx, off, "off", NULL));
	a_small = NEW_OK(ms_as__new(self->ctx, small, "small", NULL));
	EXPECT_EQ(ms_as__flatview(sys), ms_as__flatview(a_full));
	EXPECT_EQ(self->root, ms_flatview__root(ms_as__flatview(a_full)));
	EXPECT_NE(ms_as__flatview(sys), ms_as__flatview(a_off));
	EXPECT_EQ(off, ms_flatview__root(ms_as__flatview(a_off)));
	EXPECT_STR_FREE("0x10+0x10 io@0x0\n", as_str(a_off));
	EXPECT_NE(ms_as__flatview(sys), ms_as__flatview(a_small));
	EXPECT_EQ(small, ms_flatview__root(ms_as__flatview(a_small)));
	EXPECT_STR_FREE("0x20+0x10 io@0x0\n", as_str(a_small));
	/* rule 7.4: after a commit they still share (a new) view */
	ADD_PUT(self->root, 0x100, IO("more", 0x10));
	EXPECT_EQ(ms_as__flatview(sys), ms_as__flatview(a_full));
	EXPECT_STR_FREE("0x20+0x10 io@0x0\n0x100+0x10 more@0x0\n", as_str(a_full));
	ms_as__free(a_small);
	ms_as__free(a_off);
	ms_as__free(a_full);
	ms_as__free(sys);
	ms_region__unref(small);
	ms_region__unref(off);
	ms_region__unref(full);
	ms_region__unref(io);
}

/* rule 7.3 step 3, 7.7: the PCI "bus master container" with one enabled
 * full-size alias shares system's view; disabled, the static empty view */
TEST_F(fv, root_bus_master)
{
	struct ms_region *bmc = CONT("bus master container", UINT64_MAX);
	struct ms_region *bm = ALIAS("bus master", self->root, 0, UINT64_MAX);
	struct ms_as *sys, *dev, *empty;

	ADD_PUT(self->root, 0x1000, IO("dev", 0x100));
	ms_region__set_enabled(bm, false);
	ADD(bmc, 0, bm);
	sys = NEW_OK(ms_as__new(self->ctx, self->root, "memory", NULL));
	dev = NEW_OK(ms_as__new(self->ctx, bmc, "PIIX3", NULL));
	empty = NEW_OK(ms_as__new(self->ctx, NULL, "empty", NULL));
	EXPECT_EQ(ms_as__flatview(empty), ms_as__flatview(dev));
	EXPECT_EQ(NULL, ms_flatview__root(ms_as__flatview(dev)));
	ms_region__set_enabled(bm, true);
	EXPECT_EQ(ms_as__flatview(sys), ms_as__flatview(dev));
	EXPECT_STR_FREE("0x1000+0x100 dev@0x0\n", as_str(dev));
	/* a second enabled child stops the descent */
	ADD_PUT(bmc, 0x10000, IO("other", 0x10));
	EXPECT_NE(ms_as__flatview(sys), ms_as__flatview(dev));
	EXPECT_EQ(bmc, ms_flatview__root(ms_as__flatview(dev)));
	EXPECT_STR_FREE("0x1000+0x100 dev@0x0\n0x10000+0x10 other@0x0\n", as_str(dev));
	ms_as__free(empty);
	ms_as__free(dev);
	ms_as__free(sys);
	ms_region__unref(bm);
	ms_region__unref(bmc);
}

/* rule 7.3 step 3: the only child must sit at 0 and not be larger */
TEST_F(fv, root_container_one_child)
{
	struct ms_region *c = CONT("c", 0x10000), *c2 = CONT("c2", 0x1000);
	struct ms_region *a = IO("a", 0x1000), *big = IO("big", 0x20000);
	struct ms_as *as, *as_a;

	ADD(c, 0, a);
	as = NEW_OK(ms_as__new(self->ctx, c, "c", NULL));
	as_a = NEW_OK(ms_as__new(self->ctx, a, "a", NULL));
	EXPECT_EQ(ms_as__flatview(as_a), ms_as__flatview(as));
	EXPECT_EQ(a, ms_flatview__root(ms_as__flatview(as)));
	ms_region__set_address(a, 0x100);
	EXPECT_EQ(c, ms_flatview__root(ms_as__flatview(as)));
	EXPECT_STR_FREE("0x100+0x1000 a@0x0\n", as_str(as));
	/* rule 7.6 on the way: as_a's root a now has addr 0x100 */
	EXPECT_STR_FREE("0x100+0x1000 a@0x0\n", as_str(as_a));
	EXPECT_EQ(0, ms_region__del_subregion(c, a, NULL));
	ADD(c2, 0, big);
	ADD(c, 0, c2);
	/* c2 is c's one child at 0 and fits: descend; big, c2's one child, is
	 * larger than c2: stop at c2 */
	EXPECT_EQ(c2, ms_flatview__root(ms_as__flatview(as)));
	EXPECT_STR_FREE("0x0+0x1000 big@0x0\n", as_str(as));
	/* a disabled sibling does not count */
	ms_region__set_enabled(a, false);
	ADD(c, 0x2000, a);
	EXPECT_EQ(c2, ms_flatview__root(ms_as__flatview(as)));
	ms_region__set_enabled(a, true);
	EXPECT_EQ(c, ms_flatview__root(ms_as__flatview(as)));
	ms_as__free(as_a);
	ms_as__free(as);
	ms_region__unref(big);
	ms_region__unref(a);
	ms_region__unref(c2);
	ms_region__unref(c);
}

/* rule 7.3 step 4: a terminating root stays the root even with one child */
TEST_F(fv, root_terminating)
{
	struct ms_region *io = IO("io", 0x100), *a = IO("a", 0x100);
	struct ms_as *as;

	ADD(io, 0, a);
	as = NEW_OK(ms_as__new(self->ctx, io, "I/O", NULL));
	EXPECT_EQ(io, ms_flatview__root(ms_as__flatview(as)));
	EXPECT_STR_FREE("0x0+0x100 a@0x0\n", as_str(as));
	ms_as__free(as);
	ms_region__unref(a);
	ms_region__unref(io);
}

/* rule 7.6: the root's own addr is applied when rendering */
TEST_F(fv, root_addr_applied)
{
	struct ms_region *dm = CONT("device-memory", 0x100000), *d = IO("dimm", 0x1000);
	struct ms_as *as;

	ADD(dm, 0x2000, d);
	ADD(self->root, 0x100000000ull, dm);
	as = NEW_OK(ms_as__new(self->ctx, dm, "device-memory", NULL));
	EXPECT_STR_FREE("0x100002000+0x1000 dimm@0x0\n", as_str(as));
	EXPECT_STR_FREE("0x100002000+0x1000 dimm@0x0\n", render_str(dm));
	ms_as__free(as);
	ms_region__unref(d);
	ms_region__unref(dm);
}

/* rule 7.7: flags and addr of regions skipped by root selection do not apply */
TEST_F(fv, root_selection_quirks)
{
	struct ms_region *t = CONT("t", 0x10000), *io = IO("io", 0x10);
	struct ms_region *al = ALIAS("al", t, 0, 0x10000), *wrap = CONT("wrap", 0x10000);
	struct ms_as *as, *as_wrap;

	ADD(t, 0x20, io);
	ADD(self->root, 0x5000, t);	/* t.addr = 0x5000 */
	ms_region__set_readonly(al, true);
	as = NEW_OK(ms_as__new(self->ctx, al, "al", NULL));
	/* rendering the alias itself: not shifted, read-only */
	EXPECT_STR_FREE("0x20+0x10 io@0x0 ro\n", render_str(al));
	/* the address space renders t instead: shifted by t.addr, not read-only */
	EXPECT_EQ(t, ms_flatview__root(ms_as__flatview(as)));
	EXPECT_STR_FREE("0x5020+0x10 io@0x0\n", as_str(as));
	/* a skipped read-only container holding one child at 0 */
	ADD(wrap, 0, al);
	ms_region__set_readonly(wrap, true);
	as_wrap = NEW_OK(ms_as__new(self->ctx, wrap, "wrap", NULL));
	EXPECT_EQ(ms_as__flatview(as), ms_as__flatview(as_wrap));
	EXPECT_STR_FREE("0x20+0x10 io@0x0 ro\n", render_str(wrap));
	ms_as__free(as_wrap);
	ms_as__free(as);
	ms_region__unref(wrap);
	ms_region__unref(al);
	ms_region__unref(io);
	ms_region__unref(t);
}

/* rule 7.2: an address space created inside a transaction reuses a cached view
 * of the same root (old state) or renders the tree as it is now */
TEST_F(fv, as_created_in_transaction)
{
	struct ms_region *other = CONT("other", 0x10000);
	struct ms_as *a1, *a2, *a3;

	/* two children keep root selection at root (rule 7.3 step 3) */
	ADD_PUT(self->root, 0, IO("b1", 0x10));
	ADD_PUT(self->root, 0x10, IO("b2", 0x10));
	ADD_PUT(other, 0, IO("o", 0x10));
	a1 = NEW_OK(ms_as__new(self->ctx, self->root, "a1", NULL));
	ms_ctx__begin(self->ctx);
	ADD_PUT(self->root, 0x100, IO("new", 0x10));
	ADD_PUT(other, 0x100, IO("new2", 0x10));
	a2 = NEW_OK(ms_as__new(self->ctx, self->root, "a2", NULL));
	a3 = NEW_OK(ms_as__new(self->ctx, other, "a3", NULL));
	EXPECT_EQ(ms_as__flatview(a1), ms_as__flatview(a2));
	EXPECT_STR_FREE("0x0+0x10 b1@0x0\n0x10+0x10 b2@0x0\n", as_str(a2));
	EXPECT_STR_FREE("0x0+0x10 o@0x0\n0x100+0x10 new2@0x0\n", as_str(a3));
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_STR_FREE("0x0+0x10 b1@0x0\n0x10+0x10 b2@0x0\n0x100+0x10 new@0x0\n",
			as_str(a1));
	EXPECT_EQ(ms_as__flatview(a1), ms_as__flatview(a2));
	ms_as__free(a3);
	ms_as__free(a2);
	ms_as__free(a1);
	ms_region__unref(other);
}

/* rule 3.3: transactions defer the view update to the outermost commit */
TEST_F(fv, transaction_defers_view)
{
	struct ms_as *as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	struct ms_flatview *before = ms_as__flatview(as);

	ms_ctx__begin(self->ctx);
	ms_ctx__begin(self->ctx);
	EXPECT_EQ(2, ms_ctx__depth(self->ctx));
	ADD_PUT(self->root, 0, IO("a", 0x10));
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EQ(before, ms_as__flatview(as));
	EXPECT_STR_FREE("", as_str(as));
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EQ(0, ms_ctx__depth(self->ctx));
	EXPECT_STR_FREE("0x0+0x10 a@0x0\n", as_str(as));
	EXPECT_EQ(-EINVAL, ms_ctx__commit(self->ctx));
	EXPECT_EQ(0, ms_ctx__depth(self->ctx));
	ms_as__free(as);
}

/* ---- section 8: sections ----------------------------------------------------------- */

/* rule 8.1, 8.2 */
TEST_F(fv, sections)
{
	struct ms_region *ram = RAM("ram", 0x4000);
	struct ms_region *al = ALIAS("al", ram, 0x1000, 0x2000);
	struct ms_section s1, s2;
	struct ms_flatview *fv;

	ms_region__set_readonly(al, true);
	ms_region__set_unmergeable(al, true);
	ADD(self->root, 0x10000, al);
	fv = NEW_OK(ms_flatview__render(self->root, NULL));
	ASSERT_EQ(1, ms_flatview__nr_ranges(fv));
	ms_flat_range__section(fv, ms_flatview__range(fv, 0), &s1);
	EXPECT_EQ(ram, s1.mr);
	EXPECT_EQ(fv, s1.fv);
	EXPECT_EQ(0x1000, s1.offset_within_region);
	EXPECT_U128(0x2000, s1.size);
	EXPECT_EQ(0x10000, s1.offset_within_address_space);
	EXPECT_TRUE(s1.readonly);
	EXPECT_FALSE(s1.nonvolatile);
	EXPECT_TRUE(s1.unmergeable);
	s2 = s1;
	EXPECT_TRUE(ms_section_eq(&s1, &s2));
	s2.unmergeable = false;		/* not compared */
	EXPECT_TRUE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.readonly = false;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.nonvolatile = true;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.size = MS_SIZE_2_64;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.offset_within_region = 0;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.offset_within_address_space = 0;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.fv = NULL;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	s2 = s1;
	s2.mr = al;
	EXPECT_FALSE(ms_section_eq(&s1, &s2));
	ms_flatview__unref(fv);
	ms_region__unref(al);
	ms_region__unref(ram);
}

/* ---- section 9: translation and accesses ----------------------------------------- */

/* rule 9.1: lookup finds the containing range; boundaries exact */
TEST_F(fv, lookup)
{
	struct ms_flatview *fv;
	const struct ms_flat_range *fr;

	ADD_PUT(self->root, 0x1000, IO("a", 0x1000));
	ADD_PUT(self->root, 0x2000, IO("b", 0x10));
	ADD_PUT(self->root, 0xfffffffffffff000ull, IO("top", 0x1000));
	fv = NEW_OK(ms_flatview__render(self->root, NULL));
	EXPECT_EQ(NULL, ms_flatview__lookup(fv, 0xfff));
	fr = ms_flatview__lookup(fv, 0x1000);
	ASSERT_NE(NULL, fr);
	EXPECT_STREQ("a", ms_region__name(fr->mr));
	fr = ms_flatview__lookup(fv, 0x1fff);
	ASSERT_NE(NULL, fr);
	EXPECT_STREQ("a", ms_region__name(fr->mr));
	fr = ms_flatview__lookup(fv, 0x200f);
	ASSERT_NE(NULL, fr);
	EXPECT_STREQ("b", ms_region__name(fr->mr));
	EXPECT_EQ(NULL, ms_flatview__lookup(fv, 0x2010));
	fr = ms_flatview__lookup(fv, UINT64_MAX);
	ASSERT_NE(NULL, fr);
	EXPECT_STREQ("top", ms_region__name(fr->mr));
	ms_flatview__unref(fv);
}

/* rule 9.1, 9.2: translate gives the region offset; the length is clamped to
 * the range end for RAM only; unassigned gives NULL */
TEST_F(fv, translate)
{
	struct ms_region *ram = RAM("ram", 0x4000);
	struct ms_region *al = ALIAS("al", ram, 0x1000, 0x2000);
	const struct ms_flat_range *fr;
	struct ms_as *as;
	uint64_t xlat, len;

	ADD(self->root, 0x10000, al);
	ADD_PUT(self->root, 0x20000, IO("io", 0x100));
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	len = 0x10000;
	fr = ms_as__translate(as, 0x10800, &xlat, &len);
	ASSERT_NE(NULL, fr);
	EXPECT_EQ(ram, fr->mr);
	EXPECT_EQ(0x1800, xlat);
	EXPECT_EQ(0x1800, len);		/* clamped to 0x12000 */
	len = 0x10;
	fr = ms_as__translate(as, 0x10800, &xlat, &len);
	ASSERT_NE(NULL, fr);
	EXPECT_EQ(0x10, len);
	len = 0x1000;
	fr = ms_as__translate(as, 0x200f0, &xlat, &len);
	ASSERT_NE(NULL, fr);
	EXPECT_STREQ("io", ms_region__name(fr->mr));
	EXPECT_EQ(0xf0, xlat);
	EXPECT_EQ(0x1000, len);		/* not clamped for I/O */
	len = 8;
	EXPECT_EQ(NULL, ms_as__translate(as, 0x30000, &xlat, &len));
	ms_as__free(as);
	ms_region__unref(al);
	ms_region__unref(ram);
}

/* ms_as__rw: RAM is copied; through an alias too */
TEST_F(fv, rw_ram)
{
	struct ms_region *ram = RAM("ram", 0x4000);
	struct ms_region *al = ALIAS("al", ram, 0x1000, 0x1000);
	uint8_t buf[16], out[16];
	uint8_t *host;
	struct ms_as *as;

	ADD(self->root, 0, ram);
	ADD(self->root, 0x100000, al);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	host = ms_region__host_ptr(ram);
	ASSERT_NE(NULL, host);
	for (int i = 0; i < 16; i++)
		buf[i] = (uint8_t)(0xa0 + i);
	/* write through the alias, read back directly */
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x100ff8, buf, 8, true));
	EXPECT_EQ(0, memcmp(host + 0x1ff8, buf, 8));
	memset(out, 0, sizeof(out));
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x1ff8, out, 8, false));
	EXPECT_EQ(0, memcmp(out, buf, 8));
	ms_as__free(as);
	ms_region__unref(al);
	ms_region__unref(ram);
}

/* ms_as__rw: unassigned reads are 0 with a decode error; the transfer goes on */
TEST_F(fv, rw_unassigned)
{
	struct ms_region *ram = RAM("ram", 0x1000);
	uint8_t buf[0x20];
	uint8_t *host;
	struct ms_as *as;
	int ret;

	ADD(self->root, 0x1000, ram);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	host = ms_region__host_ptr(ram);
	memset(host, 0x5a, 0x1000);
	memset(buf, 0xff, sizeof(buf));
	ret = ms_as__rw(as, 0xff0, buf, 0x20, false);
	EXPECT_TRUE(ret & MS_MEMTX_DECODE_ERROR);
	for (int i = 0; i < 0x10; i++)
		EXPECT_EQ(0, buf[i]);
	for (int i = 0x10; i < 0x20; i++)
		EXPECT_EQ(0x5a, buf[i]);
	/* unassigned writes go nowhere but RAM after them is written */
	memset(buf, 0x11, sizeof(buf));
	ret = ms_as__rw(as, 0xff0, buf, 0x20, true);
	EXPECT_TRUE(ret & MS_MEMTX_DECODE_ERROR);
	EXPECT_EQ(0x11, host[0]);
	EXPECT_EQ(0x11, host[0xf]);
	EXPECT_EQ(0x5a, host[0x10]);
	ms_as__free(as);
	ms_region__unref(ram);
}

/* ms_as__rw: ROM writes are refused; ROM reads work; read-only aliases of RAM
 * refuse writes too (rule 4.1 read-only range) */
TEST_F(fv, rw_rom)
{
	struct ms_region *rom = ROM("rom", 0x1000);
	uint8_t *host = ms_region__host_ptr(rom);
	uint32_t v = 0x12345678, r = 0;
	struct ms_as *as;

	ASSERT_NE(NULL, host);
	memset(host, 0xee, 0x1000);
	ADD(self->root, 0xf0000, rom);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_DECODE_ERROR, ms_as__rw(as, 0xf0010, &v, 4, true));
	EXPECT_EQ(0xee, host[0x10]);
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0xf0010, &r, 4, false));
	EXPECT_EQ(0xeeeeeeee, r);
	ms_as__free(as);
	ms_region__unref(rom);
}

static const struct ms_region_ops split_ops = {
	.read = iodev_read,
	.write = iodev_write,
	.valid_max = 4,
	.impl_max = 2,
};

/* ms_as__rw on MMIO: pieces of at most valid_max bytes, split again by impl_max
 * and combined little-endian */
TEST_F(fv, rw_mmio_split)
{
	struct evlog log;
	struct iodev dev = { .log = &log, .name = "dev" };
	struct ms_region *io;
	struct ms_as *as;
	uint64_t v = 0;

	evlog_init(&log);
	for (int i = 0; i < 16; i++)
		dev.mem[i] = (uint8_t)(0x10 + i);
	io = NEW_OK(ms_region__new_io(self->ctx, "dev", 0x100, &split_ops, &dev, NULL));
	ADD(self->root, 0x1000, io);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x1000, &v, 8, false));
	EXPECT_EQ(0x1716151413121110ull, v);
	EXPECT_EVENTS(&log, "dev r 0x0 2\ndev r 0x2 2\ndev r 0x4 2\ndev r 0x6 2\n");
	v = 0xaabbccdd;
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x1008, &v, 4, true));
	EXPECT_EVENTS(&log, "dev w 0x8 2 0xccdd\ndev w 0xa 2 0xaabb\n");
	EXPECT_EQ(0xdd, dev.mem[8]);
	EXPECT_EQ(0xaa, dev.mem[11]);
	evlog_free(&log);
	ms_as__free(as);
	ms_region__unref(io);
}

static const struct ms_region_ops align_ops = {
	.read = iodev_read,
	.write = iodev_write,
};

/* ms_as__rw on MMIO: an unaligned access is split at its alignment */
TEST_F(fv, rw_mmio_unaligned)
{
	struct evlog log;
	struct iodev dev = { .log = &log, .name = "dev" };
	struct ms_region *io;
	struct ms_as *as;
	uint32_t v = 0;

	evlog_init(&log);
	for (int i = 0; i < 16; i++)
		dev.mem[i] = (uint8_t)(0x10 + i);
	io = NEW_OK(ms_region__new_io(self->ctx, "dev", 0x100, &align_ops, &dev, NULL));
	ADD(self->root, 0x1000, io);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x1001, &v, 4, false));
	EXPECT_EQ(0x14131211, v);
	EXPECT_EVENTS(&log, "dev r 0x1 1\ndev r 0x2 2\ndev r 0x4 1\n");
	evlog_free(&log);
	ms_as__free(as);
	ms_region__unref(io);
}

static const struct ms_region_ops strict_ops = {
	.read = iodev_read,
	.write = iodev_write,
	.valid_min = 2,
	.valid_max = 4,
};

/* ms_as__rw on MMIO: sizes the device does not accept are refused */
TEST_F(fv, rw_mmio_invalid_size)
{
	struct evlog log;
	struct iodev dev = { .log = &log, .name = "dev" };
	struct ms_region *io;
	struct ms_as *as;
	uint8_t b = 0xff;

	evlog_init(&log);
	io = NEW_OK(ms_region__new_io(self->ctx, "dev", 0x100, &strict_ops, &dev, NULL));
	ADD(self->root, 0, io);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_DECODE_ERROR, ms_as__rw(as, 0x10, &b, 1, false));
	EXPECT_EQ(0, log.n);
	evlog_free(&log);
	ms_as__free(as);
	ms_region__unref(io);
}

/* ms_as__rw: a device error is reported */
TEST_F(fv, rw_mmio_error)
{
	struct iodev dev = { .name = "dev", .ret = MS_MEMTX_ERROR };
	struct ms_region *io;
	struct ms_as *as;
	uint32_t v = 0;

	io = NEW_OK(ms_region__new_io(self->ctx, "dev", 0x100, &align_ops, &dev, NULL));
	ADD(self->root, 0, io);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_ERROR, ms_as__rw(as, 0, &v, 4, false));
	ms_as__free(as);
	ms_region__unref(io);
}

/* ms_as__rw: an I/O region without ops is "unassigned": reads 0, decode error */
TEST_F(fv, rw_io_null_ops)
{
	struct ms_as *as;
	uint32_t v = 0xffffffff;

	ADD_PUT(self->root, 0, IO("nothing", 0x100));
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_DECODE_ERROR, ms_as__rw(as, 0x10, &v, 4, false));
	EXPECT_EQ(0, v);
	v = 1;
	EXPECT_EQ(MS_MEMTX_DECODE_ERROR, ms_as__rw(as, 0x10, &v, 4, true));
	ms_as__free(as);
}

/* rule 1.5: a ROM device in ROMD mode is read from memory and written through
 * the callbacks; with ROMD off every access goes to the callbacks */
TEST_F(fv, rw_rom_device)
{
	struct evlog log;
	struct iodev dev = { .log = &log, .name = "flash" };
	struct ms_region *rd;
	struct ms_as *as;
	uint8_t *host;
	uint32_t v = 0;

	evlog_init(&log);
	rd = NEW_OK(ms_region__new_rom_device(self->ctx, "flash", 0x1000, &align_ops, &dev,
					      NULL));
	host = ms_region__host_ptr(rd);
	ASSERT_NE(NULL, host);
	memset(host, 0x77, 0x1000);
	dev.mem[0x10] = 0x42;
	ADD(self->root, 0x10000, rd);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x10010, &v, 4, false));
	EXPECT_EQ(0x77777777, v);
	EXPECT_EQ(0, log.n);
	v = 0x01020304;
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x10010, &v, 4, true));
	EXPECT_EVENTS(&log, "flash w 0x10 4 0x1020304\n");
	EXPECT_EQ(0x77, host[0x10]);
	EXPECT_EQ(0, ms_region__set_romd(rd, false, NULL));
	v = 0;
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x10010, &v, 1, false));
	EXPECT_EQ(0x04, v);
	EXPECT_EVENTS(&log, "flash r 0x10 1\n");
	evlog_free(&log);
	ms_as__free(as);
	ms_region__unref(rd);
}

/* a RAM device without ops is accessed through its host memory */
TEST_F(fv, rw_ram_device)
{
	uint8_t *host = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	struct ms_region *rd;
	struct ms_as *as;
	uint32_t v = 0xcafef00d, r = 0;

	ASSERT_NE(MAP_FAILED, host);
	rd = NEW_OK(ms_region__new_ram_device(self->ctx, "bar", 0x1000, host, NULL, NULL,
					      NULL));
	ADD(self->root, 0x80000000ull, rd);
	as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x80000100ull, &v, 4, true));
	EXPECT_EQ(0, memcmp(host + 0x100, &v, 4));
	EXPECT_EQ(MS_MEMTX_OK, ms_as__rw(as, 0x80000100ull, &r, 4, false));
	EXPECT_EQ(v, r);
	ms_as__free(as);
	ms_region__unref(rd);
	munmap(host, 0x1000);
}

/* ---- incremental updates against full renders ----------------------------- */

struct shadow {
	struct ms_section s[16384];
	size_t nr;
	int bad;
};

static void sh_add(void *o, const struct ms_section *s)
{
	struct shadow *sh = o;

	if (sh->nr == ARRAY_SIZE(sh->s))
		sh->bad = 1;
	else
		sh->s[sh->nr++] = *s;
}

static void sh_del(void *o, const struct ms_section *s)
{
	struct shadow *sh = o;

	for (size_t i = 0; i < sh->nr; i++) {
		if (sh->s[i].offset_within_address_space == s->offset_within_address_space &&
		    sh->s[i].size == s->size && sh->s[i].mr == s->mr) {
			sh->s[i] = sh->s[--sh->nr];
			return;
		}
	}
	sh->bad = 2;	/* a del of a range never added */
}

static uint64_t fv_rng = 0x243f6a8885a308d3ull;

static uint64_t fv_rnd(uint64_t n)
{
	fv_rng ^= fv_rng << 13;
	fv_rng ^= fv_rng >> 7;
	fv_rng ^= fv_rng << 17;
	return fv_rng % n;
}

/*
 * Many subregions in one container (so a window's render looks them up by
 * address), nested containers, aliases, priorities, unmergeable pieces:
 * after every commit the installed view equals a full render of its root,
 * and the listener (no region_nop, so only the changed windows are
 * diffed) has seen adds and dels that leave exactly the view's ranges.
 */
static void incremental_run(struct __test_metadata *_metadata, struct ms_ctx *ctx,
			    struct ms_region *root, int N, int OPS)
{
	static struct shadow sh;
	struct ms_listener_ops ops = { .region_add = sh_add, .region_del = sh_del };
	struct ms_region **r = calloc(N, sizeof(*r)), *ram;
	struct ms_region *sub = ms_region__new_container(ctx, "sub", 0x100000, NULL);
	struct ms_listener *l;
	struct ms_as *as;
	void *host;

	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, sub);
	sh.nr = 0;
	sh.bad = 0;
	host = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, host);
	ram = ms_region__new_ram_ptr(ctx, "ram", 0x10000, host, NULL);
	ASSERT_NE(NULL, ram);
	ms_region__set_unmergeable(ram, true);
	ASSERT_EQ(0, ms_region__add_subregion(root, 0x800000, sub, NULL));
	for (int i = 0; i < N; i++) {
		uint64_t size = (1 + fv_rnd(16)) * 0x1000;

		switch (fv_rnd(3)) {
		case 0:
			r[i] = ms_region__new_io(ctx, "io", size, NULL, NULL, NULL);
			break;
		case 1:
			r[i] = ms_region__new_alias(ctx, "a", ram, fv_rnd(8) * 0x1000,
						    size, NULL);
			break;
		default:
			r[i] = ms_region__new_io(ctx, "io2", size, NULL, NULL, NULL);
			break;
		}
		ASSERT_NE(NULL, r[i]);
		ASSERT_EQ(0, ms_region__add_subregion_overlap(i % 5 ? root : sub,
							      fv_rnd(N) * 0x4000, r[i],
							      (int32_t)fv_rnd(3) - 1, NULL));
	}
	as = ms_as__new(ctx, root, "as", NULL);
	ASSERT_NE(NULL, as);
	l = ms_listener__new(&ops, &sh, 0, "shadow");
	ASSERT_EQ(0, ms_listener__register(l, as, NULL));
	for (int op = 0; op < OPS; op++) {
		int batch = fv_rnd(4) ? 1 : 1 + (int)fv_rnd(5);
		struct ms_flatview *fv, *full;
		size_t n;

		ms_ctx__begin(ctx);
		for (int b = 0; b < batch; b++) {
			struct ms_region *x = r[fv_rnd(N)];

			switch (fv_rnd(4)) {
			case 0:
				ms_region__set_enabled(x, !ms_region__enabled(x));
				break;
			case 1:
				ms_region__set_address(x, fv_rnd(N) * 0x4000);
				break;
			case 2:
				ASSERT_EQ(0, ms_region__set_size(x, (1 + fv_rnd(16)) * 0x1000,
								 NULL));
				break;
			default:
				ms_region__set_readonly(x, !ms_region__readonly(x));
				break;
			}
		}
		ms_ctx__commit(ctx);
		fv = ms_as__flatview(as);
		full = ms_flatview__render(ms_flatview__root(fv), NULL);
		ASSERT_NE(NULL, full);
		n = ms_flatview__nr_ranges(fv);
		ASSERT_EQ(n, ms_flatview__nr_ranges(full)) TH_LOG("operation %d", op);
		ASSERT_EQ(0, sh.bad) TH_LOG("operation %d", op);
		ASSERT_EQ(n, sh.nr) TH_LOG("operation %d", op);
		for (size_t i = 0; i < n; i++) {
			const struct ms_flat_range *a = ms_flatview__range(fv, i);
			const struct ms_flat_range *b = ms_flatview__range(full, i);

			ASSERT_TRUE(a->mr == b->mr && a->start == b->start && a->size == b->size &&
				    a->offset_in_region == b->offset_in_region &&
				    a->readonly == b->readonly &&
				    a->unmergeable == b->unmergeable)
				TH_LOG("operation %d, range %zu", op, i);
		}
		ms_flatview__unref(full);
	}
	ms_listener__free(l);
	ASSERT_EQ(0, ms_as__free(as));
	for (int i = 0; i < N; i++) {
		if (ms_region__container(r[i]))
			ms_region__del_subregion(ms_region__container(r[i]), r[i], NULL);
		ms_region__unref(r[i]);
	}
	ms_region__del_subregion(root, sub, NULL);
	ms_region__unref(sub);
	ms_region__unref(ram);
	munmap(host, 0x10000);
	free(r);
}

/* views of a few hundred ranges, and of several thousand (many chunks) */
TEST_F(fv, incremental_matches_full_render)
{
	incremental_run(_metadata, self->ctx, self->root, 300, 20000);
	incremental_run(_metadata, self->ctx, self->root, 4000, 4000);
}

TEST_HARNESS_MAIN
