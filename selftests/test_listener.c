// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Memory listeners, the topology diff, transactions, ioeventfds,
 * coalesced MMIO, late registration and dirty logging:
 * listeners-and-transactions.md. Rule numbers refer to that file unless
 * "regions" (regions-and-flatview.md) is named.
 *
 * Every fixture starts with the address space "as" rooted at "root" (a
 * 2^64 container) holding RAM "x" [0, 0x1000) and I/O "y" [0x10000,
 * 0x10100). Events are compared as text, see selftests/lib/util.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define X "x 0x0+0x1000 @0x0"
#define Y "y 0x10000+0x100 @0x0"

#define MAX_RECS 8

FIXTURE(lis) {
	struct ms_ctx *ctx;
	struct ms_region *root, *x, *y;
	struct ms_as *as, *as2;
	struct evlog log;
	struct rec *r[MAX_RECS];
	int nr;
};

FIXTURE_SETUP(lis)
{
	evlog_init(&self->log);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->root = CONT("root", UINT64_MAX);
	self->x = RAM("x", 0x1000);
	self->y = IO("y", 0x100);
	ADD(self->root, 0, self->x);
	ADD(self->root, 0x10000, self->y);
	self->as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
}

FIXTURE_TEARDOWN(lis)
{
	for (int i = 0; i < self->nr; i++)
		rec_free(self->r[i]);
	ms_as__free(self->as2);
	ms_as__free(self->as);
	ms_region__unref(self->y);
	ms_region__unref(self->x);
	ms_region__unref(self->root);
	ms_ctx__free(self->ctx);
	evlog_free(&self->log);
}

/* A recorder registered on @as; freed by the teardown. */
static struct rec *__reg(struct __test_metadata *_metadata, FIXTURE_DATA(lis) *self,
			 struct ms_as *as, const char *tag, unsigned int prio, unsigned int flags)
{
	struct rec *r;

	ASSERT_LT(self->nr, MAX_RECS);
	r = rec_new(&self->log, tag, prio, flags);
	ASSERT_NE(NULL, r);
	self->r[self->nr++] = r;
	if (as)
		EXPECT_EQ(0, ms_listener__register(r->l, as, NULL));
	return r;
}

#define REG(as, tag, prio, flags) __reg(_metadata, self, (as), (tag), (prio), (flags))

/* ---- section 1: listeners and their order ------------------------------------- */

/* rule 1.2, 1.4: lists sorted by ascending priority, equal priorities in
 * registration order; begin/commit/add/nop Forward, del Reverse, one range
 * at a time over all listeners */
TEST_F(lis, order_add_del_nop)
{
	REG(self->as, "A", 10, 0);
	REG(self->as, "B", 0, 0);
	REG(self->as, "C", 10, 0);
	evlog_clear(&self->log);
	ms_region__set_readonly(self->x, true);
	EXPECT_EVENTS(&self->log,
		      "B:begin\nA:begin\nC:begin\n"
		      "C:del " X "\nA:del " X "\nB:del " X "\n"
		      "B:add " X " ro\nA:add " X " ro\nC:add " X " ro\n"
		      "B:nop " Y "\nA:nop " Y "\nC:nop " Y "\n"
		      "B:commit\nA:commit\nC:commit\n");
}

/* rule 1.4, 2.2: for an unchanged range: all nops, then log_start Forward,
 * then log_stop Reverse */
TEST_F(lis, order_log_start_stop)
{
	REG(self->as, "A", 10, REC_NO_BEGIN_COMMIT);
	REG(self->as, "B", 0, REC_NO_BEGIN_COMMIT);
	REG(self->as, "C", 10, REC_NO_BEGIN_COMMIT);
	evlog_clear(&self->log);
	ms_region__set_log(self->x, true);
	EXPECT_EVENTS(&self->log,
		      "B:nop " X "\nA:nop " X "\nC:nop " X "\n"
		      "B:log_start " X " 0->1\nA:log_start " X " 0->1\nC:log_start " X " 0->1\n"
		      "B:nop " Y "\nA:nop " Y "\nC:nop " Y "\n");
	ms_region__set_log(self->x, false);
	EXPECT_EVENTS(&self->log,
		      "B:nop " X "\nA:nop " X "\nC:nop " X "\n"
		      "C:log_stop " X " 1->0\nA:log_stop " X " 1->0\nB:log_stop " X " 1->0\n"
		      "B:nop " Y "\nA:nop " Y "\nC:nop " Y "\n");
}

/* rule 1.4: the eventfd inversion: eventfd_add Reverse, eventfd_del Forward;
 * an ioeventfd-only update calls no begin/commit (rule 3.1) */
TEST_F(lis, order_eventfd_inverted)
{
	REG(self->as, "A", 10, 0);
	REG(self->as, "B", 0, 0);
	REG(self->as, "C", 10, 0);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0, 4, false, 0, "n1", NULL));
	/* rule 4.3: the section has the view, the address and the size only */
	ASSERT_EQ(3, self->log.n);
	EXPECT_EQ(NULL, self->log.ev[0].s.mr);
	EXPECT_EQ(ms_as__flatview(self->as), self->log.ev[0].s.fv);
	EXPECT_EVENTS(&self->log,
		      "C:eventfd_add 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "A:eventfd_add 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "B:eventfd_add 0x10000+0x4 match=0 data=0x0 n=n1\n");
	EXPECT_EQ(0, ms_region__del_eventfd(self->y, 0, 4, false, 0, "n1", NULL));
	EXPECT_EVENTS(&self->log,
		      "B:eventfd_del 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "A:eventfd_del 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "C:eventfd_del 0x10000+0x4 match=0 data=0x0 n=n1\n");
}

/* rule 1.4, 5.1: coalesced_io_add Forward, coalesced_io_del Reverse */
TEST_F(lis, order_coalesced)
{
	REG(self->as, "A", 10, 0);
	REG(self->as, "B", 0, 0);
	REG(self->as, "C", 10, 0);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0x10, 0x8));
	EXPECT_EVENTS(&self->log,
		      "B:coalesced_add y 0x10010+0x8\nA:coalesced_add y 0x10010+0x8\n"
		      "C:coalesced_add y 0x10010+0x8\n");
	ms_region__clear_coalescing(self->y);
	EXPECT_EVENTS(&self->log,
		      "C:coalesced_del y 0x10010+0x8\nA:coalesced_del y 0x10010+0x8\n"
		      "B:coalesced_del y 0x10010+0x8\n");
}

/* rule 1.4, 7.2-7.4: log_global_start Forward, log_global_stop Reverse,
 * log_sync and log_global_after_sync Forward */
TEST_F(lis, order_global_dirty)
{
	REG(self->as, "A", 10, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	REG(self->as, "B", 0, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	REG(self->as, "C", 10, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	EXPECT_EVENTS(&self->log,
		      "B:log_global_start\nA:log_global_start\nC:log_global_start\n"
		      "B:log_start " X " 0->4\nA:log_start " X " 0->4\nC:log_start " X " 0->4\n");
	ms_ctx__log_sync(self->ctx, NULL);
	EXPECT_EVENTS(&self->log,
		      "B:log_sync " X "\nA:log_sync " X "\nC:log_sync " X "\n"
		      "B:log_global_after_sync\nA:log_global_after_sync\n"
		      "C:log_global_after_sync\n");
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_EVENTS(&self->log,
		      "C:log_stop " X " 4->0\nA:log_stop " X " 4->0\nB:log_stop " X " 4->0\n"
		      "C:log_global_stop\nA:log_global_stop\nB:log_global_stop\n");
}

/* rule 1.2, 3.4: begin/commit go to every listener through the global list;
 * region events only to the listeners of the address space concerned */
TEST_F(lis, global_vs_as_list)
{
	struct ms_region *r2 = CONT("r2", 0x100000);

	ADD_PUT(r2, 0x100, IO("z", 0x10));
	ADD_PUT(r2, 0x200, IO("w", 0x10));
	self->as2 = NEW_OK(ms_as__new(self->ctx, r2, "as2", NULL));
	REG(self->as, "A", 10, 0);
	REG(self->as, "B", 0, 0);
	REG(self->as2, "D", 5, 0);
	evlog_clear(&self->log);
	ms_region__set_readonly(self->x, true);
	/* rule 3.3: as2 was re-rendered too, so D gets nops */
	EXPECT_EVENTS(&self->log,
		      "B:begin\nD:begin\nA:begin\n"
		      "A:del " X "\nB:del " X "\n"
		      "B:add " X " ro\nA:add " X " ro\n"
		      "B:nop " Y "\nA:nop " Y "\n"
		      "D:nop z 0x100+0x10 @0x0\nD:nop w 0x200+0x10 @0x0\n"
		      "B:commit\nD:commit\nA:commit\n");
	ms_region__unref(r2);
}

static void no_sync(void *opaque, const struct ms_section *s)
{
	(void)opaque;
	(void)s;
}

static void no_sync_global(void *opaque, bool last_stage)
{
	(void)opaque;
	(void)last_stage;
}

/* rule 1.3: log_sync and log_sync_global are exclusive */
TEST(log_sync_exclusive)
{
	struct ms_listener_ops ops = {
		.log_sync = no_sync,
		.log_sync_global = no_sync_global,
	};
	struct ms_listener *l;

	errno = 0;
	l = ms_listener__new(&ops, NULL, 0, "bad");
	EXPECT_EQ(NULL, l);
	EXPECT_EQ(EINVAL, errno);
	ms_listener__free(l);
}

/* a listener with no callbacks at all is fine (rule 1.1: missing ones skipped) */
TEST_F(lis, empty_listener)
{
	struct ms_listener_ops ops = { 0 };
	struct ms_listener *l = ms_listener__new(&ops, NULL, 0, NULL);

	ASSERT_NE(NULL, l);
	EXPECT_EQ(0, ms_listener__register(l, self->as, NULL));
	EXPECT_EQ(self->as, ms_listener__as(l));
	ms_region__set_readonly(self->x, true);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0, 4, false, 0, NULL, NULL));
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0, 4));
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	ms_ctx__log_sync(self->ctx, NULL);
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	ms_listener__free(l);
}

/* registering twice is -EBUSY; a listener blocks freeing its address space */
TEST_F(lis, register_busy)
{
	struct rec *a = REG(self->as, "A", 0, 0);
	struct ms_as *other = NEW_OK(ms_as__new(self->ctx, NULL, "other", NULL));

	evlog_clear(&self->log);
	EXPECT_EQ(-EBUSY, ms_listener__register(a->l, self->as, NULL));
	EXPECT_EQ(-EBUSY, ms_listener__register(a->l, other, NULL));
	EXPECT_EQ(self->as, ms_listener__as(a->l));
	EXPECT_EVENTS(&self->log, "");
	/* regions 7.2, rule 3.6: -EBUSY while a listener is registered */
	EXPECT_EQ(-EBUSY, ms_as__free(self->as));
	EXPECT_STR_FREE("0x0+0x1000 x@0x0\n0x10000+0x100 y@0x0\n", as_str(self->as));
	ms_region__set_readonly(self->x, true);
	EXPECT_EQ(1, evlog_count(&self->log, "A:add"));
	ms_as__free(other);
}

/* ---- section 2: the topology diff ---------------------------------------------- */


/* rule 2.5: the worked example, exactly; rule 2.6: removals carry the old view,
 * additions the new one */
TEST_F(lis, diff_example_2_5)
{
	struct ms_region *a = IO("A", 10), *b = IO("B", 10), *c = IO("C", 10);
	struct ms_flatview *old, *new;

	EXPECT_EQ(0, ms_region__del_subregion(self->root, self->x, NULL));
	EXPECT_EQ(0, ms_region__del_subregion(self->root, self->y, NULL));
	ADD(self->root, 0, a);
	ADD(self->root, 10, b);
	REG(self->as, NULL, 0, 0);
	evlog_clear(&self->log);
	old = ms_flatview__ref(ms_as__flatview(self->as));
	ADDP(self->root, 5, c, 1);
	new = ms_as__flatview(self->as);
	EXPECT_NE(old, new);
	ASSERT_EQ(7, self->log.n);
	EXPECT_EQ(old, self->log.ev[1].s.fv);
	EXPECT_EQ(old, self->log.ev[2].s.fv);
	for (int i = 3; i < 6; i++) {
		EXPECT_EQ(new, self->log.ev[i].s.fv);
	}
	EXPECT_EQ(a, self->log.ev[1].s.mr);
	EXPECT_EQ(c, self->log.ev[4].s.mr);
	EXPECT_EVENTS(&self->log,
		      "begin\n"
		      "del A 0x0+0xa @0x0\n"
		      "del B 0xa+0xa @0x0\n"
		      "add A 0x0+0x5 @0x0\n"
		      "add C 0x5+0xa @0x0\n"
		      "add B 0xf+0x5 @0x5\n"
		      "commit\n");
	ms_flatview__unref(old);
	ms_region__unref(a);
	ms_region__unref(b);
	ms_region__unref(c);
}

/* rule 2.4: dirty-log changes alone give nop + log_start/log_stop; both fire
 * for one range when one client starts and another stops */
TEST_F(lis, dirty_start_and_stop_together)
{
	REG(self->as, NULL, 0, 0);
	ms_region__set_log(self->x, true);
	evlog_clear(&self->log);
	ms_ctx__begin(self->ctx);
	ms_region__set_log(self->x, false);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	EXPECT_EVENTS(&self->log, "log_global_start\n");
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EVENTS(&self->log,
		      "begin\nnop " X "\nlog_start " X " 1->4\nlog_stop " X " 1->4\n"
		      "nop " Y "\ncommit\n");
}

/* ---- rule 2.3, 2.4: what is a del+add and what is a nop (a sweep) ------------- */

enum chg_op {
	OP_READONLY, OP_NONVOLATILE, OP_UNMERGEABLE, OP_ROMD_OFF, OP_GROW, OP_SHRINK,
	OP_ALIAS_OFFSET, OP_MOVE, OP_MOVE_PAST, OP_LOG, OP_DISABLE, OP_ADD_OTHER, OP_SPLIT,
	OP_SAME_ENABLED, OP_SAME_READONLY, OP_SAME_NONVOLATILE, OP_SAME_UNMERGEABLE,
	OP_SAME_SIZE, OP_SAME_ALIAS_OFFSET, OP_SAME_ROMD, OP_SAME_ADDRESS,
};

FIXTURE(chg) {
	struct ms_ctx *ctx;
	struct ms_region *root, *r, *w, *n;
	struct ms_as *as;
	struct evlog log;
	struct rec *rec;
};

/* r is a ROM device seen through the alias w at 0x1000; n is a neighbour */
#define R "r 0x1000+0x1000 @0x0"
#define N "n 0x10000+0x10 @0x0"

FIXTURE_VARIANT(chg) {
	enum chg_op op;
	const char *expected;
};

FIXTURE_VARIANT_ADD(chg, readonly) {
	OP_READONLY, "begin\ndel " R "\nadd " R " ro\nnop " N "\ncommit\n"
};
FIXTURE_VARIANT_ADD(chg, nonvolatile) {
	OP_NONVOLATILE, "begin\ndel " R "\nadd " R " nv\nnop " N "\ncommit\n"
};
/* rule 8.4: unmergeable takes part in equality since 8.2 */
FIXTURE_VARIANT_ADD(chg, unmergeable) {
	OP_UNMERGEABLE, "begin\ndel " R "\nadd " R " um\nnop " N "\ncommit\n"
};
/* regions 5.7: ROMD mode is compared although sections do not show it */
FIXTURE_VARIANT_ADD(chg, romd_off) {
	OP_ROMD_OFF, "begin\ndel " R "\nadd " R "\nnop " N "\ncommit\n"
};
/* same start, other size: del+add, never a modification */
FIXTURE_VARIANT_ADD(chg, grow) {
	OP_GROW, "begin\ndel " R "\nadd r 0x1000+0x2000 @0x0\nnop " N "\ncommit\n"
};
FIXTURE_VARIANT_ADD(chg, shrink) {
	OP_SHRINK, "begin\ndel " R "\nadd r 0x1000+0x800 @0x0\nnop " N "\ncommit\n"
};
FIXTURE_VARIANT_ADD(chg, alias_offset) {
	OP_ALIAS_OFFSET, "begin\ndel " R "\nadd r 0x1000+0x1000 @0x800\nnop " N "\ncommit\n"
};
FIXTURE_VARIANT_ADD(chg, move) {
	OP_MOVE, "begin\ndel " R "\nadd r 0x3000+0x1000 @0x0\nnop " N "\ncommit\n"
};
/* all removals before any addition; pass 2 in address order */
FIXTURE_VARIANT_ADD(chg, move_past) {
	OP_MOVE_PAST, "begin\ndel " R "\nnop " N "\nadd r 0x20000+0x1000 @0x0\ncommit\n"
};
/* the dirty-log mask is not compared */
FIXTURE_VARIANT_ADD(chg, log) {
	OP_LOG, "begin\nnop " R "\nlog_start " R " 0->1\nnop " N "\ncommit\n"
};
FIXTURE_VARIANT_ADD(chg, disable) {
	OP_DISABLE, "begin\ndel " R "\nnop " N "\ncommit\n"
};
/* rule 3.3: an unrelated change gives nops for everything else */
FIXTURE_VARIANT_ADD(chg, add_other) {
	OP_ADD_OTHER, "begin\nnop " R "\nnop " N "\nadd z 0x20000+0x10 @0x0\ncommit\n"
};
FIXTURE_VARIANT_ADD(chg, split) {
	OP_SPLIT, "begin\ndel " R "\nadd r 0x1000+0x400 @0x0\nadd s 0x1400+0x100 @0x0\n"
		  "add r 0x1500+0xb00 @0x500\nnop " N "\ncommit\n"
};
/* regions 3.8: setters are no-ops when the value does not change */
FIXTURE_VARIANT_ADD(chg, same_enabled) { OP_SAME_ENABLED, "" };
FIXTURE_VARIANT_ADD(chg, same_readonly) { OP_SAME_READONLY, "" };
FIXTURE_VARIANT_ADD(chg, same_nonvolatile) { OP_SAME_NONVOLATILE, "" };
FIXTURE_VARIANT_ADD(chg, same_unmergeable) { OP_SAME_UNMERGEABLE, "" };
FIXTURE_VARIANT_ADD(chg, same_size) { OP_SAME_SIZE, "" };
FIXTURE_VARIANT_ADD(chg, same_alias_offset) { OP_SAME_ALIAS_OFFSET, "" };
FIXTURE_VARIANT_ADD(chg, same_romd) { OP_SAME_ROMD, "" };
/* regions 3.7: set_address re-adds only if the address changes */
FIXTURE_VARIANT_ADD(chg, same_address) { OP_SAME_ADDRESS, "" };

static const struct ms_region_ops romd_ops = {
	.read = iodev_read,
	.write = iodev_write,
};

static struct iodev romd_dev;

FIXTURE_SETUP(chg)
{
	evlog_init(&self->log);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->root = CONT("root", UINT64_MAX);
	self->r = NEW_OK(ms_region__new_rom_device(self->ctx, "r", 0x2000, &romd_ops,
						   &romd_dev, NULL));
	self->w = ALIAS("w", self->r, 0, 0x1000);
	self->n = IO("n", 0x10);
	ADD(self->root, 0x1000, self->w);
	ADD(self->root, 0x10000, self->n);
	self->as = NEW_OK(ms_as__new(self->ctx, self->root, "as", NULL));
	self->rec = rec_new(&self->log, NULL, 0, 0);
	ASSERT_NE(NULL, self->rec);
	ASSERT_EQ(0, ms_listener__register(self->rec->l, self->as, NULL));
	evlog_clear(&self->log);
}

FIXTURE_TEARDOWN(chg)
{
	rec_free(self->rec);
	ms_as__free(self->as);
	ms_region__unref(self->n);
	ms_region__unref(self->w);
	ms_region__unref(self->r);
	ms_region__unref(self->root);
	ms_ctx__free(self->ctx);
	evlog_free(&self->log);
}

/* rule 2.2-2.4 */
TEST_F(chg, diff)
{
	switch (variant->op) {
	case OP_READONLY:
		ms_region__set_readonly(self->w, true);
		break;
	case OP_NONVOLATILE:
		ms_region__set_nonvolatile(self->w, true);
		break;
	case OP_UNMERGEABLE:
		ms_region__set_unmergeable(self->w, true);
		break;
	case OP_ROMD_OFF:
		EXPECT_EQ(0, ms_region__set_romd(self->r, false, NULL));
		break;
	case OP_GROW:
		EXPECT_EQ(0, ms_region__set_size(self->w, 0x2000, NULL));
		break;
	case OP_SHRINK:
		EXPECT_EQ(0, ms_region__set_size(self->w, 0x800, NULL));
		break;
	case OP_ALIAS_OFFSET:
		EXPECT_EQ(0, ms_region__set_alias_offset(self->w, 0x800, NULL));
		break;
	case OP_MOVE:
		ms_region__set_address(self->w, 0x3000);
		break;
	case OP_MOVE_PAST:
		ms_region__set_address(self->w, 0x20000);
		break;
	case OP_LOG:
		ms_region__set_log(self->r, true);
		break;
	case OP_DISABLE:
		ms_region__set_enabled(self->w, false);
		break;
	case OP_ADD_OTHER:
		ADD_PUT(self->root, 0x20000, IO("z", 0x10));
		break;
	case OP_SPLIT:
		ADDP_PUT(self->root, 0x1400, IO("s", 0x100), 1);
		break;
	case OP_SAME_ENABLED:
		ms_region__set_enabled(self->w, true);
		break;
	case OP_SAME_READONLY:
		ms_region__set_readonly(self->w, false);
		break;
	case OP_SAME_NONVOLATILE:
		ms_region__set_nonvolatile(self->w, false);
		break;
	case OP_SAME_UNMERGEABLE:
		ms_region__set_unmergeable(self->w, false);
		break;
	case OP_SAME_SIZE:
		EXPECT_EQ(0, ms_region__set_size(self->w, 0x1000, NULL));
		break;
	case OP_SAME_ALIAS_OFFSET:
		EXPECT_EQ(0, ms_region__set_alias_offset(self->w, 0, NULL));
		break;
	case OP_SAME_ROMD:
		EXPECT_EQ(0, ms_region__set_romd(self->r, true, NULL));
		break;
	case OP_SAME_ADDRESS:
		ms_region__set_address(self->w, 0x1000);
		break;
	}
	EXPECT_EVENTS(&self->log, variant->expected);
}

/* ---- section 3: transactions ----------------------------------------------------- */

/* rule 3.1, 3.2: nested transactions; listeners see the net difference once */
TEST_F(lis, transaction_nesting)
{
	REG(self->as, NULL, 0, 0);
	evlog_clear(&self->log);
	ms_ctx__begin(self->ctx);
	ms_ctx__begin(self->ctx);
	EXPECT_EQ(2, ms_ctx__depth(self->ctx));
	ADD_PUT(self->root, 0x20000, IO("a", 0x10));
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EQ(1, ms_ctx__depth(self->ctx));
	EXPECT_EVENTS(&self->log, "");
	ms_region__set_readonly(self->x, true);
	EXPECT_EVENTS(&self->log, "");
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EVENTS(&self->log,
		      "begin\ndel " X "\nadd " X " ro\nnop " Y "\nadd a 0x20000+0x10 @0x0\n"
		      "commit\n");
	EXPECT_EQ(-EINVAL, ms_ctx__commit(self->ctx));
	EXPECT_EVENTS(&self->log, "");
}

/* rule 3.1, 3.3: changes that cancel out still give begin, nops, commit;
 * a transaction without changes gives nothing */
TEST_F(lis, transaction_net_zero)
{
	struct ms_region *a = IO("a", 0x10);

	REG(self->as, NULL, 0, 0);
	evlog_clear(&self->log);
	ms_ctx__begin(self->ctx);
	ADD(self->root, 0x20000, a);
	EXPECT_EQ(0, ms_region__del_subregion(self->root, a, NULL));
	ms_region__set_readonly(self->x, true);
	ms_region__set_readonly(self->x, false);
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EVENTS(&self->log, "begin\nnop " X "\nnop " Y "\ncommit\n");
	ms_ctx__begin(self->ctx);
	EXPECT_EQ(0, ms_ctx__commit(self->ctx));
	EXPECT_EVENTS(&self->log, "");
	ms_region__unref(a);
}

/* rule 3.3, 3.4, regions 7.5: a listener of an address space on the static
 * empty view gets begin and commit only */
TEST_F(lis, transaction_static_empty)
{
	self->as2 = NEW_OK(ms_as__new(self->ctx, NULL, "empty", NULL));
	REG(self->as2, "E", 0, 0);
	EXPECT_EVENTS(&self->log, "E:begin\nE:commit\n");
	REG(self->as, "A", 1, 0);
	evlog_clear(&self->log);
	ms_region__set_readonly(self->x, true);
	EXPECT_EVENTS(&self->log,
		      "E:begin\nA:begin\nA:del " X "\nA:add " X " ro\nA:nop " Y "\n"
		      "E:commit\nA:commit\n");
}

/* regions 3.9: which operations mark the topology dirty */
TEST_F(lis, pending_rules)
{
	struct ms_region *dis = CONT("dis", 0x1000), *a = IO("a", 0x10), *lone = IO("lone", 4);
	struct ms_region *t = IO("t", 0x10), *al = ALIAS("al", t, 0, 8);
	const char *nops = "begin\nnop " X "\nnop " Y "\ncommit\n";

	REG(self->as, NULL, 0, 0);
	ms_region__set_enabled(dis, false);
	ms_region__set_enabled(al, false);
	evlog_clear(&self->log);
	/* add/del: only if container and subregion are both enabled */
	ADD(self->root, 0x5000, dis);
	EXPECT_EVENTS(&self->log, "");
	ADD(dis, 0, a);
	EXPECT_EVENTS(&self->log, "");
	ADD(self->root, 0x6000, al);
	EXPECT_EVENTS(&self->log, "");
	/* attribute setters: only if the region itself is enabled */
	ms_region__set_readonly(dis, true);
	ms_region__set_nonvolatile(dis, true);
	ms_region__set_unmergeable(dis, true);
	ms_region__set_log(dis, true);
	EXPECT_EQ(0, ms_region__set_alias_offset(al, 4, NULL));
	EXPECT_EVENTS(&self->log, "");
	/* set_enabled and set_size: always */
	ms_region__set_enabled(a, false);
	EXPECT_EVENTS(&self->log, nops);
	EXPECT_EQ(0, ms_region__set_size(dis, 0x2000, NULL));
	EXPECT_EVENTS(&self->log, nops);
	EXPECT_EQ(0, ms_region__del_subregion(dis, a, NULL));
	EXPECT_EVENTS(&self->log, "");
	/* the region's own enabled flag counts, not whether it is reachable */
	ms_region__set_readonly(lone, true);
	EXPECT_EVENTS(&self->log, nops);
	ms_region__set_log(dis, false);
	ms_region__unref(al);
	ms_region__unref(t);
	ms_region__unref(lone);
	ms_region__unref(a);
	ms_region__unref(dis);
}

/* rule 3.6: creating and destroying an address space calls no listener */
TEST_F(lis, as_create_destroy_silent)
{
	struct ms_as *tmp;

	REG(self->as, "A", 0, 0);
	evlog_clear(&self->log);
	tmp = NEW_OK(ms_as__new(self->ctx, self->root, "tmp", NULL));
	EXPECT_EQ(0, ms_as__free(tmp));
	tmp = NEW_OK(ms_as__new(self->ctx, NULL, "tmp2", NULL));
	EXPECT_EQ(0, ms_as__free(tmp));
	EXPECT_EVENTS(&self->log, "");
}

/* ---- section 4: ioeventfds ---------------------------------------------------------- */

/* rule 4.1: per-region order start, size, match_data, data (replayed in order) */
TEST_F(lis, eventfd_order)
{
	REG(self->as, "A", 0, REC_NO_BEGIN_COMMIT);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 4, true, 2, "n1", NULL));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 4, true, 1, "n1", NULL));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 4, false, 0, "n1", NULL));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 2, false, 0, "n1", NULL));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0, 4, false, 0, "n1", NULL));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 0, false, 0, "n1", NULL));
	EXPECT_EQ(6, evlog_count(&self->log, "A:eventfd_add"));
	EXPECT_EQ(0, evlog_count(&self->log, "A:eventfd_del"));
	EXPECT_EQ(6, self->log.n);
	evlog_clear(&self->log);
	/* rule 6.1 (10.0): the replay lists the address space's sorted list */
	REG(self->as, "B", 1, REC_NO_BEGIN_COMMIT);
	EXPECT_EVENTS(&self->log,
		      "B:add " X "\nB:add " Y "\n"
		      "B:eventfd_add 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "B:eventfd_add 0x10008+0x0 match=0 data=0x0 n=n1\n"
		      "B:eventfd_add 0x10008+0x2 match=0 data=0x0 n=n1\n"
		      "B:eventfd_add 0x10008+0x4 match=0 data=0x0 n=n1\n"
		      "B:eventfd_add 0x10008+0x4 match=1 data=0x1 n=n1\n"
		      "B:eventfd_add 0x10008+0x4 match=1 data=0x2 n=n1\n");
}

/* rule 4.2: deleting needs an equal entry; size 0 matches any size */
TEST_F(lis, eventfd_del_matching)
{
	struct ms_error err = { 0 };

	REG(self->as, NULL, 0, 0);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 4, true, 5, "n1", NULL));
	evlog_clear(&self->log);
	EXPECT_EQ(-ENOENT, ms_region__del_eventfd(self->y, 8, 4, true, 6, "n1", &err));
	EXPECT_EQ(-ENOENT, err.err);
	EXPECT_EQ(-ENOENT, ms_region__del_eventfd(self->y, 8, 4, true, 5, "n2", NULL));
	EXPECT_EQ(-ENOENT, ms_region__del_eventfd(self->y, 8, 2, true, 5, "n1", NULL));
	EXPECT_EQ(-ENOENT, ms_region__del_eventfd(self->y, 8, 4, false, 5, "n1", NULL));
	EXPECT_EQ(-ENOENT, ms_region__del_eventfd(self->y, 0, 0, false, 0, NULL, NULL));
	EXPECT_EVENTS(&self->log, "");
	EXPECT_EQ(0, ms_region__del_eventfd(self->y, 8, 0, false, 0, NULL, NULL));
	EXPECT_EVENTS(&self->log, "eventfd_del 0x10008+0x4 match=1 data=0x5 n=n1\n");
	/* a stored size 0 matches a request of any size */
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 0, false, 0, "n1", NULL));
	EXPECT_EVENTS(&self->log, "eventfd_add 0x10008+0x0 match=0 data=0x0 n=n1\n");
	EXPECT_EQ(0, ms_region__del_eventfd(self->y, 8, 4, true, 9, "other", NULL));
	EXPECT_EVENTS(&self->log, "eventfd_del 0x10008+0x0 match=0 data=0x0 n=n1\n");
	/* data is ignored without match_data */
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 4, false, 1, "n1", NULL));
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_region__del_eventfd(self->y, 8, 4, false, 2, "n1", NULL));
	EXPECT_EQ(1, evlog_count(&self->log, "eventfd_del 0x10008+0x4 match=0"));
}

/* rule 4.3, 3.1: after a topology change the ioeventfd list is recomputed and
 * diffed in address order (after the region diff, before commit) */
TEST_F(lis, eventfd_move)
{
	REG(self->as, NULL, 0, 0);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0, 4, false, 0, "n1", NULL));
	evlog_clear(&self->log);
	ms_region__set_address(self->y, 0x20000);
	EXPECT_EVENTS(&self->log,
		      "begin\ndel " Y "\nnop " X "\nadd y 0x20000+0x100 @0x0\n"
		      "eventfd_del 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "eventfd_add 0x20000+0x4 match=0 data=0x0 n=n1\n"
		      "commit\n");
	ms_region__set_address(self->y, 0x8000);
	EXPECT_EVENTS(&self->log,
		      "begin\ndel y 0x20000+0x100 @0x0\nnop " X "\nadd y 0x8000+0x100 @0x0\n"
		      "eventfd_add 0x8000+0x4 match=0 data=0x0 n=n1\n"
		      "eventfd_del 0x20000+0x4 match=0 data=0x0 n=n1\n"
		      "commit\n");
}

/* rule 4.3: only ioeventfds intersecting a flat range of their region count,
 * and they are kept unclipped */
TEST_F(lis, eventfd_hidden)
{
	struct ms_region *h = IO("h", 0x80);

	REG(self->as, NULL, 0, 0);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0x7e, 4, false, 0, "n1", NULL));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0x80, 4, false, 0, "n2", NULL));
	evlog_clear(&self->log);
	ADDP(self->root, 0x10080, h, 1);
	EXPECT_EVENTS(&self->log,
		      "begin\ndel " Y "\nnop " X "\nadd y 0x10000+0x80 @0x0\n"
		      "add h 0x10080+0x80 @0x0\n"
		      "eventfd_del 0x10080+0x4 match=0 data=0x0 n=n2\n"
		      "commit\n");
	REG(self->as, "B", 1, REC_NO_BEGIN_COMMIT);
	EXPECT_EQ(1, evlog_count(&self->log, "B:eventfd_add"));
	EXPECT_EQ(1, evlog_count(&self->log, "B:eventfd_add 0x1007e+0x4 "));
	ms_region__unref(h);
}

/* regions 3.9: an ioeventfd of a disabled region marks nothing pending; it
 * appears with the region */
TEST_F(lis, eventfd_disabled_region)
{
	REG(self->as, NULL, 0, 0);
	ms_region__set_enabled(self->y, false);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0, 4, false, 0, "n1", NULL));
	EXPECT_EVENTS(&self->log, "");
	ms_region__set_enabled(self->y, true);
	EXPECT_EVENTS(&self->log,
		      "begin\nnop " X "\nadd " Y "\n"
		      "eventfd_add 0x10000+0x4 match=0 data=0x0 n=n1\ncommit\n");
}

/* rule 4.4, 6.4 (10.0): without an ioeventfd listener the list is not
 * recomputed; the first such listener gets the stale list and catches up at
 * the next commit */
TEST_F(lis, eventfd_stale_list)
{
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0, 4, false, 0, "n1", NULL));
	REG(self->as, "N", 0, REC_NO_EVENTFD | REC_NO_BEGIN_COMMIT);
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 8, 4, false, 0, "n2", NULL));
	evlog_clear(&self->log);
	REG(self->as, "B", 5, REC_NO_BEGIN_COMMIT);
	EXPECT_EVENTS(&self->log, "B:add " X "\nB:add " Y "\n");
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0x10, 4, false, 0, "n3", NULL));
	EXPECT_EVENTS(&self->log,
		      "B:eventfd_add 0x10000+0x4 match=0 data=0x0 n=n1\n"
		      "B:eventfd_add 0x10008+0x4 match=0 data=0x0 n=n2\n"
		      "B:eventfd_add 0x10010+0x4 match=0 data=0x0 n=n3\n");
}

/* ---- section 5: coalesced MMIO ----------------------------------------------------------- */

/* rule 5.1, 5.2, 2.2: immediate notification per flat range with the
 * intersection; the diff reports them around region_del/region_add */
TEST_F(lis, coalesced)
{
	struct ms_region *h = IO("h", 0x40), *lone;

	ADDP(self->y, 0x40, h, 1);
	REG(self->as, NULL, 0, 0);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0x30, 0x60));
	EXPECT_EVENTS(&self->log,
		      "coalesced_add y 0x10030+0x10\ncoalesced_add y 0x10080+0x10\n");
	ms_region__clear_coalescing(self->y);
	EXPECT_EVENTS(&self->log,
		      "coalesced_del y 0x10030+0x10\ncoalesced_del y 0x10080+0x10\n");
	ms_region__set_coalescing(self->y);
	EXPECT_EVENTS(&self->log,
		      "coalesced_add y 0x10000+0x40\ncoalesced_add y 0x10080+0x80\n");
	EXPECT_EQ(0, ms_region__del_subregion(self->root, self->y, NULL));
	EXPECT_EVENTS(&self->log,
		      "begin\n"
		      "coalesced_del y 0x10000+0x40\ndel y 0x10000+0x40 @0x0\n"
		      "del h 0x10040+0x40 @0x0\n"
		      "coalesced_del y 0x10080+0x80\ndel y 0x10080+0x80 @0x80\n"
		      "nop " X "\ncommit\n");
	ADD(self->root, 0x10000, self->y);
	EXPECT_EVENTS(&self->log,
		      "begin\nnop " X "\n"
		      "add y 0x10000+0x40 @0x0\ncoalesced_add y 0x10000+0x40\n"
		      "add h 0x10040+0x40 @0x0\n"
		      "add y 0x10080+0x80 @0x80\ncoalesced_add y 0x10080+0x80\n"
		      "commit\n");
	/* an unmapped region notifies nothing */
	lone = IO("lone", 0x10);
	EXPECT_EQ(0, ms_region__add_coalescing(lone, 0, 4));
	ms_region__set_coalescing(lone);
	ms_region__clear_coalescing(lone);
	EXPECT_EVENTS(&self->log, "");
	ms_region__unref(lone);
	ms_region__unref(h);
}

/* rule 6.3 (10.0 quirk): the registration replay stops at the first coalesced
 * range not intersecting the flat range; the diff reports all of them */
TEST_F(lis, coalesced_replay_quirk)
{
	struct ms_region *h = IO("h", 0x40);

	ADDP(self->y, 0x40, h, 1);
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0x00, 0x10));
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0x90, 0x10));
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0x20, 0x10));
	REG(self->as, NULL, 0, 0);
	EXPECT_EVENTS(&self->log,
		      "begin\nadd " X "\n"
		      "add y 0x10000+0x40 @0x0\ncoalesced_add y 0x10000+0x10\n"
		      "add h 0x10040+0x40 @0x0\n"
		      "add y 0x10080+0x80 @0x80\n"
		      "commit\n");
	EXPECT_EQ(0, ms_region__del_subregion(self->root, self->y, NULL));
	EXPECT_EVENTS(&self->log,
		      "begin\n"
		      "coalesced_del y 0x10000+0x10\ncoalesced_del y 0x10020+0x10\n"
		      "del y 0x10000+0x40 @0x0\n"
		      "del h 0x10040+0x40 @0x0\n"
		      "coalesced_del y 0x10090+0x10\ndel y 0x10080+0x80 @0x80\n"
		      "nop " X "\ncommit\n");
	ms_region__unref(h);
}

/* ---- section 6: late registration and unregistration ------------------------------ */

/* rule 6.1, 6.2 (10.0 order) */
TEST_F(lis, replay_register_unregister)
{
	struct rec *b;

	REG(self->as, "A", 0, 0);
	ms_region__set_log(self->x, true);
	EXPECT_EQ(0, ms_region__add_coalescing(self->y, 0x10, 0x8));
	EXPECT_EQ(0, ms_region__add_eventfd(self->y, 0x20, 4, true, 7, "n1", NULL));
	evlog_clear(&self->log);
	b = REG(self->as, "B", 5, 0);
	EXPECT_EQ(self->as, ms_listener__as(b->l));
	EXPECT_EVENTS(&self->log,
		      "B:begin\n"
		      "B:add " X "\nB:log_start " X " 0->1\n"
		      "B:add " Y "\nB:coalesced_add y 0x10010+0x8\n"
		      "B:eventfd_add 0x10020+0x4 match=1 data=0x7 n=n1\n"
		      "B:commit\n");
	ms_listener__unregister(b->l);
	EXPECT_EVENTS(&self->log,
		      "B:begin\n"
		      "B:log_stop " X " 1->0\nB:del " X "\n"
		      "B:coalesced_del y 0x10010+0x8\nB:del " Y "\n"
		      "B:eventfd_del 0x10020+0x4 match=1 data=0x7 n=n1\n"
		      "B:commit\n");
	EXPECT_EQ(NULL, ms_listener__as(b->l));
	ms_listener__unregister(b->l);
	EXPECT_EVENTS(&self->log, "");
	ms_region__set_readonly(self->x, true);
	EXPECT_EQ(0, evlog_count(&self->log, "B:"));
	EXPECT_NE(0, evlog_count(&self->log, "A:"));
	evlog_clear(&self->log);
	/* it can be registered again */
	EXPECT_EQ(0, ms_listener__register(b->l, self->as, NULL));
	EXPECT_EQ(2, evlog_count(&self->log, "B:add"));
	ms_region__set_log(self->x, false);
}

/* rule 6.1: replay while global dirty tracking is active */
TEST_F(lis, replay_global_dirty)
{
	REG(self->as, "A", 0, 0);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	evlog_clear(&self->log);
	REG(self->as, "B", 5, 0);
	EXPECT_EVENTS(&self->log,
		      "B:begin\nB:log_global_start\n"
		      "B:add " X "\nB:log_start " X " 0->4\n"
		      "B:add " Y "\nB:commit\n");
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
}

/* ---- section 7: dirty logging ------------------------------------------------------- */

/* rule 7.1, regions 3.9: the VGA bit changes on 0->1 and 1->0 users only;
 * added ranges get no log_start (rule 2.4) */
TEST_F(lis, vga_log)
{
	REG(self->as, NULL, 0, 0);
	evlog_clear(&self->log);
	ms_region__set_log(self->x, true);
	EXPECT_EVENTS(&self->log, "begin\nnop " X "\nlog_start " X " 0->1\nnop " Y "\ncommit\n");
	ms_region__set_log(self->x, true);
	ms_region__set_log(self->x, false);
	EXPECT_EVENTS(&self->log, "");
	ms_region__set_log(self->x, false);
	EXPECT_EVENTS(&self->log, "begin\nnop " X "\nlog_stop " X " 1->0\nnop " Y "\ncommit\n");
	ms_region__set_enabled(self->x, false);
	EXPECT_EVENTS(&self->log, "begin\ndel " X "\nnop " Y "\ncommit\n");
	ms_region__set_log(self->x, true);
	EXPECT_EVENTS(&self->log, "");
	ms_region__set_enabled(self->x, true);
	EXPECT_EVENTS(&self->log, "begin\nadd " X "\nnop " Y "\ncommit\n");
	EXPECT_STR_FREE("0x0+0x1000 x@0x0 log=1\n0x10000+0x100 y@0x0\n", as_str(self->as));
	ms_region__set_log(self->x, false);
	EXPECT_EVENTS(&self->log, "begin\nnop " X "\nlog_stop " X " 1->0\nnop " Y "\ncommit\n");
}

/* rule 7.1-7.3: global dirty tracking; only migratable RAM gets the bit;
 * more reasons add nothing; the last stop runs the transaction, then
 * log_global_stop */
TEST_F(lis, global_dirty)
{
	void *host = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct ms_region *p, *rom = ROM("rom", 0x1000);

	ASSERT_NE(MAP_FAILED, host);
	p = NEW_OK(ms_region__new_ram_ptr(self->ctx, "p", 0x1000, host, NULL));
	ADD(self->root, 0x1000, p);
	ADD(self->root, 0x20000, rom);
	REG(self->as, NULL, 0, 0);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	EXPECT_EVENTS(&self->log,
		      "log_global_start\nbegin\n"
		      "nop " X "\nlog_start " X " 0->4\n"
		      "nop p 0x1000+0x1000 @0x0\n"
		      "nop " Y "\n"
		      "nop rom 0x20000+0x1000 @0x0 ro\nlog_start rom 0x20000+0x1000 @0x0 ro 0->4\n"
		      "commit\n");
	EXPECT_EQ(MS_GLOBAL_DIRTY_MIGRATION, ms_ctx__global_dirty(self->ctx));
	EXPECT_EQ(MS_DIRTY_MIGRATION, ms_region__dirty_log_mask(self->x));
	EXPECT_EQ(0, ms_region__dirty_log_mask(p));
	EXPECT_EQ(0, ms_region__dirty_log_mask(self->y));
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_DIRTY_RATE, NULL));
	EXPECT_EVENTS(&self->log, "");
	EXPECT_EQ(MS_GLOBAL_DIRTY_MIGRATION | MS_GLOBAL_DIRTY_DIRTY_RATE,
		  ms_ctx__global_dirty(self->ctx));
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_EVENTS(&self->log, "");
	EXPECT_EQ(MS_GLOBAL_DIRTY_DIRTY_RATE, ms_ctx__global_dirty(self->ctx));
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_DIRTY_RATE);
	EXPECT_EVENTS(&self->log,
		      "begin\n"
		      "nop " X "\nlog_stop " X " 4->0\n"
		      "nop p 0x1000+0x1000 @0x0\n"
		      "nop " Y "\n"
		      "nop rom 0x20000+0x1000 @0x0 ro\nlog_stop rom 0x20000+0x1000 @0x0 ro 4->0\n"
		      "commit\nlog_global_stop\n");
	EXPECT_EQ(0, ms_ctx__global_dirty(self->ctx));
	/* caller memory made migratable gets the bit too */
	ms_region__set_migratable(p, true);
	ms_region__set_migratable(rom, false);
	evlog_clear(&self->log);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_DIRTY_LIMIT, NULL));
	EXPECT_EQ(2, evlog_count(&self->log, "log_start"));
	EXPECT_EQ(1, evlog_count(&self->log, "log_start p "));
	EXPECT_EQ(MS_DIRTY_MIGRATION, ms_region__dirty_log_mask(p));
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_DIRTY_LIMIT);
	EXPECT_EQ(0, ms_region__del_subregion(self->root, p, NULL));
	ms_region__unref(p);
	ms_region__unref(rom);
	munmap(host, 0x1000);
}

/* rule 7.3: while the VM is stopped the stop is postponed until it runs */
TEST_F(lis, global_dirty_postponed_stop)
{
	REG(self->as, NULL, 0, 0);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	evlog_clear(&self->log);
	ms_ctx__set_running(self->ctx, false);
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_EVENTS(&self->log, "");
	EXPECT_EQ(MS_GLOBAL_DIRTY_MIGRATION, ms_ctx__global_dirty(self->ctx));
	ms_ctx__set_running(self->ctx, true);
	EXPECT_EVENTS(&self->log,
		      "begin\nnop " X "\nlog_stop " X " 4->0\nnop " Y "\ncommit\n"
		      "log_global_stop\n");
	EXPECT_EQ(0, ms_ctx__global_dirty(self->ctx));
}

/* rule 7.3: a later start cancels the matching postponed stop */
TEST_F(lis, global_dirty_postponed_cancelled)
{
	REG(self->as, NULL, 0, 0);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	evlog_clear(&self->log);
	ms_ctx__set_running(self->ctx, false);
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	ms_ctx__set_running(self->ctx, true);
	EXPECT_EVENTS(&self->log, "");
	EXPECT_EQ(MS_GLOBAL_DIRTY_MIGRATION, ms_ctx__global_dirty(self->ctx));
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	EXPECT_EQ(1, evlog_count(&self->log, "log_global_stop"));
}

/* rule 7.2 (10.0), 8.3: a failing log_global_start is rolled back */
TEST_F(lis, global_dirty_start_fails)
{
	struct ms_error err = { 0 };
	struct rec *f, *g;
	int ret;

	REG(self->as, "P", 0, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	REG(self->as, "Q", 1, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	f = REG(self->as, "F", 5, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	REG(self->as, "R", 10, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	evlog_clear(&self->log);
	f->global_start_ret = -EIO;
	EXPECT_EQ(-EIO, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, &err));
	EXPECT_EQ(-EIO, err.err);
	TH_LOG("error message: %s", err.msg);
	EXPECT_EVENTS(&self->log,
		      "P:log_global_start\nQ:log_global_start\nF:log_global_start\n"
		      "Q:log_global_stop\nP:log_global_stop\n");
	EXPECT_EQ(0, ms_ctx__global_dirty(self->ctx));
	EXPECT_EQ(0, ms_region__dirty_log_mask(self->x));
	f->global_start_ret = 0;
	EXPECT_EQ(0, ms_ctx__dirty_log_start(self->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL));
	EXPECT_EVENTS(&self->log,
		      "P:log_global_start\nQ:log_global_start\nF:log_global_start\n"
		      "R:log_global_start\n"
		      "P:log_start " X " 0->4\nQ:log_start " X " 0->4\nF:log_start " X " 0->4\n"
		      "R:log_start " X " 0->4\n");
	/* registering a listener whose log_global_start fails registers nothing */
	g = REG(NULL, "G", 3, 0);
	g->global_start_ret = -EPERM;
	ret = ms_listener__register(g->l, self->as, NULL);
	EXPECT_EQ(-EPERM, ret);
	EXPECT_EQ(NULL, ms_listener__as(g->l));
	evlog_clear(&self->log);
	ms_region__set_readonly(self->x, true);
	EXPECT_EQ(0, evlog_count(&self->log, "G:"));
	ms_ctx__dirty_log_stop(self->ctx, MS_GLOBAL_DIRTY_MIGRATION);
}

/* rule 7.4: log_sync per listener for the logging ranges of its address space
 * (only the given region's if one is given); log_sync_global once;
 * log_global_after_sync only for a global sync */
TEST_F(lis, log_sync)
{
	struct ms_region *r2 = CONT("r2", 0x100000), *v = RAM("v", 0x1000);
	struct ms_region *xa = ALIAS("xa", self->x, 0, 0x1000);

	ADD(r2, 0x50000, xa);
	ADD(r2, 0x60000, v);
	self->as2 = NEW_OK(ms_as__new(self->ctx, r2, "as2", NULL));
	ms_region__set_log(self->x, true);
	ms_region__set_log(v, true);
	REG(self->as, "A", 0, REC_NO_BEGIN_COMMIT);
	REG(self->as, "G", 1, REC_NO_BEGIN_COMMIT | REC_SYNC_GLOBAL);
	REG(self->as2, "H", 2, REC_NO_BEGIN_COMMIT);
	evlog_clear(&self->log);
	ms_ctx__log_sync(self->ctx, NULL);
	EXPECT_EVENTS(&self->log,
		      "A:log_sync " X "\nG:log_sync_global last=0\n"
		      "H:log_sync x 0x50000+0x1000 @0x0\nH:log_sync v 0x60000+0x1000 @0x0\n"
		      "A:log_global_after_sync\nG:log_global_after_sync\n"
		      "H:log_global_after_sync\n");
	ms_ctx__log_sync(self->ctx, self->x);
	EXPECT_EVENTS(&self->log,
		      "A:log_sync " X "\nG:log_sync_global last=0\n"
		      "H:log_sync x 0x50000+0x1000 @0x0\n");
	ms_ctx__log_sync(self->ctx, self->y);
	EXPECT_EVENTS(&self->log, "G:log_sync_global last=0\n");
	ms_region__set_log(self->x, false);
	ms_region__set_log(v, false);
	ms_region__unref(xa);
	ms_region__unref(v);
	ms_region__unref(r2);
}

/* rule 7.5: log_clear narrowed to the overlap with the region offsets */
TEST_F(lis, log_clear)
{
	struct ms_region *lr = RAM("lr", 0x10000), *hole = IO("hole", 0x4000);

	ADD(self->root, 0x100000, lr);
	ADDP(self->root, 0x104000, hole, 1);
	ms_region__set_log(lr, true);
	REG(self->as, NULL, 0, REC_NO_BEGIN_COMMIT | REC_NO_NOP);
	evlog_clear(&self->log);
	ms_region__clear_dirty(lr, 0x3000, 0x6000);
	EXPECT_EVENTS(&self->log,
		      "log_clear lr 0x103000+0x1000 @0x3000\n"
		      "log_clear lr 0x108000+0x1000 @0x8000\n");
	ms_region__clear_dirty(lr, 0x4000, 0x4000);
	EXPECT_EVENTS(&self->log, "");
	ms_region__clear_dirty(self->y, 0, 0x100);
	EXPECT_EVENTS(&self->log, "");
	ms_region__set_log(lr, false);
	evlog_clear(&self->log);
	ms_region__clear_dirty(lr, 0, 0x10000);
	EXPECT_EVENTS(&self->log, "");
	ms_region__unref(hole);
	ms_region__unref(lr);
}

TEST_HARNESS_MAIN
