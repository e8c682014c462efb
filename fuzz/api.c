// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_api: bytes -> a sequence of library operations, checked against the
 * brute-force model of selftests/lib/model.c.
 *
 * The world is test_random.c's: three address spaces ("memory" on the
 * 2^64 container "system", "bm" on an alias of it, "c2" on a container
 * whose size the first byte picks), four listeners with region_nop and a
 * KVM slot map (4-byte pages) on "memory". Each operation takes an opcode
 * byte and argument bytes; regions are named by their index among the
 * live ones, so every byte string is a valid program. Operations: region
 * creation of every kind (aliases onto any live region), add (plain or
 * overlapping, with a priority) and del subregion, set_address, set_size,
 * enabled, readonly, nonvolatile, unmergeable, romd, alias offset, dirty
 * logging, freeing the last reference, nested begin/commit, and listener
 * unregistration plus registration of a new one on any address space.
 * Open transactions are committed at the end of the input.
 *
 * After every operation at depth 0 (the outermost commit, or a lone
 * operation) it checks:
 *   - the return value of every fallible call against the model's;
 *   - every address space's flat view against the model's rendering, range
 *     by range (the previous expectation when the model has no pending
 *     update), and against ms_flatview__render() of its root;
 *   - per listener: begin/commit bracket every section event, dels come
 *     before adds and nops, and the dels and adds replayed on the
 *     listener's own copy of the view give the installed view exactly
 *     (registration and unregistration replays included);
 *   - the slot map: no error; every slot lies in one flat range of its
 *     region at the matching offset and covers that range's page-aligned
 *     part; every RAM range with a whole page has its slot;
 *   - the tree accessors (container, address, size, enabled, readonly,
 *     mapped) against the model, and the transaction depth.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memslot/memslot.h>

#include "fuzz.h"
#include "model.h"

#define NR_AS		3
#define NR_LIS		4
#define MAX_DEPTH	3
#define PAGE		4
/* longest input decoded: bounds one execution */
#define MAX_OPS		4096

struct fuzz_api_stats fuzz_api_stats;
/* FUZZ_API_TRACE=1: print each applied operation and its bytes on fd 2 */
static bool trace_ops;

struct shadow {
	struct ms_section *s;
	size_t n, cap;
};

struct world;

struct lis {
	struct world *w;
	struct ms_listener *l;
	int as;
	bool live;
	bool in_txn;		/* between begin and commit */
	bool seen_add;		/* an add or nop in this transaction */
	struct shadow sh;	/* the view as this listener's events built it */
};

struct world {
	struct ms_ctx *ctx;
	struct model m;
	struct ms_region *r[MODEL_MAX_NODES];
	void *host[MODEL_MAX_NODES];
	struct ms_as *as[NR_AS];
	struct model_view mv[NR_AS];
	struct lis lis[NR_LIS];
	struct ms_slotmap *map;
	bool bad;		/* a property broke (details printed) */
	const uint8_t *p, *end;
};

static const struct ms_region_ops dummy_ops;

static void fail(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct world *w, const char *fmt, ...)
{
	va_list ap;

	if (w->bad)
		return;
	w->bad = true;
	va_start(ap, fmt);
	fuzz_vreport("fuzz_api", fmt, ap);
	va_end(ap);
}

/* --- input ------------------------------------------------------------ */

static uint8_t byte(struct world *w)
{
	return w->p < w->end ? *w->p++ : 0;
}

static uint64_t u64(struct world *w)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | byte(w);
	return v;
}

/* Small values, mostly multiples of 4 so that boundaries coincide often. */
static uint64_t small(struct world *w, uint64_t lim)
{
	uint8_t b = byte(w);

	return b & 0x80 ? 4 * ((b & 0x7f) % (lim / 4 + 1)) : (b & 0x7f) % (lim + 1);
}

static uint64_t pick_addr(struct world *w)
{
	switch (byte(w) & 15) {
	case 0:
		return UINT64_MAX - small(w, 40);		/* straddles 2^64 */
	case 1:
		return (1ULL << 63) - 32 + small(w, 60);
	case 2:
		return u64(w);
	default:
		return small(w, 120);
	}
}

static uint64_t pick_size(struct world *w, bool ram)
{
	if (ram)
		return 1 + small(w, 47);
	switch (byte(w) & 15) {
	case 0:
		return UINT64_MAX;				/* 2^64 */
	case 1:
		return UINT64_MAX - 1 - small(w, 40);
	case 2:
		return 1ULL << 63;
	default:
		return small(w, 48);
	}
}

static uint64_t pick_off(struct world *w)
{
	switch (byte(w) & 15) {
	case 0:
		return UINT64_MAX - small(w, 60);
	case 1:
		return (1ULL << 63) + small(w, 60);
	default:
		return small(w, 72);
	}
}

/* The (byte % count)th live region; -1 if none. */
static int pick_node(struct world *w, bool (*ok)(const struct world *, int))
{
	int v[MODEL_MAX_NODES], k = 0;
	uint8_t b = byte(w);

	for (int i = 0; i < w->m.nr; i++)
		if (w->m.n[i].live && (!ok || ok(w, i)))
			v[k++] = i;
	return k ? v[b % k] : -1;
}

static bool unmapped(const struct world *w, int id)
{
	return w->m.n[id].container < 0 && id >= NR_AS;
}

static bool mapped(const struct world *w, int id)
{
	return w->m.n[id].container >= 0;
}

static bool not_system(const struct world *w, int id)
{
	(void)w;
	return id != 0;
}

/* --- listeners: the view as the events build it ------------------------- */

static bool sec_eq(const struct ms_section *a, const struct ms_section *b)
{
	return a->mr == b->mr && a->offset_within_address_space == b->offset_within_address_space &&
	       a->size == b->size && a->offset_within_region == b->offset_within_region &&
	       a->readonly == b->readonly && a->nonvolatile == b->nonvolatile &&
	       a->unmergeable == b->unmergeable;
}

static ssize_t shadow_find(const struct shadow *sh, const struct ms_section *s)
{
	for (size_t i = 0; i < sh->n; i++)
		if (sec_eq(&sh->s[i], s))
			return (ssize_t)i;
	return -1;
}

static struct lis *ev_lis(void *opaque, const char *what)
{
	struct lis *li = opaque;

	if (!li->in_txn && strcmp(what, "begin"))
		fail(li->w, "listener %td: %s outside begin/commit\n", li - li->w->lis, what);
	return li;
}

static void cb_begin(void *o)
{
	struct lis *li = ev_lis(o, "begin");

	if (li->in_txn)
		fail(li->w, "listener %td: nested begin\n", li - li->w->lis);
	li->in_txn = true;
	li->seen_add = false;
}

static void cb_commit(void *o)
{
	struct lis *li = ev_lis(o, "commit");

	li->in_txn = false;
}

static void cb_add(void *o, const struct ms_section *s)
{
	struct lis *li = ev_lis(o, "add");
	struct shadow *sh = &li->sh;

	li->seen_add = true;
	if (shadow_find(sh, s) >= 0) {
		fail(li->w, "listener %td: add of a section it has: 0x%" PRIx64 "\n",
		     li - li->w->lis, s->offset_within_address_space);
		return;
	}
	if (sh->n == sh->cap) {
		size_t cap = sh->cap ? 2 * sh->cap : 16;
		struct ms_section *n = realloc(sh->s, cap * sizeof(*n));

		if (!n) {
			fail(li->w, "out of memory\n");
			return;
		}
		sh->s = n;
		sh->cap = cap;
	}
	sh->s[sh->n++] = *s;
}

static void cb_del(void *o, const struct ms_section *s)
{
	struct lis *li = ev_lis(o, "del");
	ssize_t k = shadow_find(&li->sh, s);

	if (li->seen_add)
		fail(li->w, "listener %td: del after add/nop (rule 2.4)\n", li - li->w->lis);
	if (k < 0) {
		fail(li->w, "listener %td: del of a section it does not have: 0x%" PRIx64 "\n",
		     li - li->w->lis, s->offset_within_address_space);
		return;
	}
	li->sh.s[k] = li->sh.s[--li->sh.n];
}

static void cb_nop(void *o, const struct ms_section *s)
{
	struct lis *li = ev_lis(o, "nop");

	li->seen_add = true;
	if (shadow_find(&li->sh, s) < 0)
		fail(li->w, "listener %td: nop of a section it does not have: 0x%" PRIx64 "\n",
		     li - li->w->lis, s->offset_within_address_space);
}

static void cb_log(void *o, const struct ms_section *s, int old_mask, int new_mask)
{
	struct lis *li = ev_lis(o, "log_start/stop");

	(void)old_mask;
	(void)new_mask;
	if (shadow_find(&li->sh, s) < 0)
		fail(li->w, "listener %td: log change of a section it does not have\n",
		     li - li->w->lis);
}

static const struct ms_listener_ops lis_ops = {
	.begin = cb_begin,
	.commit = cb_commit,
	.region_add = cb_add,
	.region_del = cb_del,
	.region_nop = cb_nop,
	.log_start = cb_log,
	.log_stop = cb_log,
};

static int lis_register(struct world *w, int slot, int as, unsigned int prio)
{
	struct lis *li = &w->lis[slot];
	struct ms_error err = { 0 };

	li->w = w;
	li->as = as;
	li->sh.n = 0;
	li->l = ms_listener__new(&lis_ops, li, prio, "fuzz");
	if (!li->l) {
		fail(w, "ms_listener__new: %s\n", strerror(errno));
		return -1;
	}
	if (ms_listener__register(li->l, w->as[as], &err)) {
		fail(w, "ms_listener__register: %s\n", err.msg);
		ms_listener__free(li->l);
		li->l = NULL;
		return -1;
	}
	li->live = true;
	return 0;
}

static void lis_unregister(struct world *w, int slot)
{
	struct lis *li = &w->lis[slot];

	if (!li->live)
		return;
	ms_listener__unregister(li->l);
	li->live = false;
	if (li->sh.n)
		fail(w, "listener %d: %zu sections left after the unregister replay (rule 6.2)\n",
		     slot, li->sh.n);
	ms_listener__free(li->l);
	li->l = NULL;
}

/* --- checks -------------------------------------------------------------- */

static bool fr_matches(const struct world *w, const struct ms_flat_range *fr,
		       const struct model_range *r)
{
	return fr->mr == w->r[r->mr] && fr->start == r->start && fr->size == r->size &&
	       fr->offset_in_region == r->off && fr->readonly == r->ro &&
	       fr->nonvolatile == r->nv && fr->unmergeable == r->um && fr->romd_mode == r->romd &&
	       fr->dirty_log_mask == r->mask;
}

static bool fr_same(const struct ms_flat_range *a, const struct ms_flat_range *b)
{
	return a->mr == b->mr && a->start == b->start && a->size == b->size &&
	       a->offset_in_region == b->offset_in_region &&
	       a->dirty_log_mask == b->dirty_log_mask && a->romd_mode == b->romd_mode &&
	       a->readonly == b->readonly && a->nonvolatile == b->nonvolatile &&
	       a->unmergeable == b->unmergeable;
}

static bool sec_is_fr(const struct ms_section *s, const struct ms_flat_range *fr)
{
	return s->mr == fr->mr && s->offset_within_address_space == fr->start &&
	       s->size == fr->size && s->offset_within_region == fr->offset_in_region &&
	       s->readonly == fr->readonly && s->nonvolatile == fr->nonvolatile &&
	       s->unmergeable == fr->unmergeable;
}

static void check_view(struct world *w, int as, const struct model_view *mv,
		       const struct ms_flatview *fv)
{
	size_t n = ms_flatview__nr_ranges(fv);
	struct ms_region *want_root = mv->root < 0 ? NULL : w->r[mv->root];

	if (ms_flatview__root(fv) != want_root) {
		fail(w, "as%d: view root %s, the model's r%d (rule 7.3)\n", as,
		     ms_flatview__root(fv) ? ms_region__name(ms_flatview__root(fv)) : "(none)",
		     mv->root);
		return;
	}
	if (n != mv->n) {
		fail(w, "as%d: %zu ranges, the model has %zu\n", as, n, mv->n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);

		if (!fr_matches(w, fr, &mv->r[i])) {
			fail(w, "as%d: range %zu [0x%" PRIx64 ", size 0x%" PRIx64 "] differs from "
			     "the model's [0x%" PRIx64 ", size 0x%" PRIx64 "]\n", as, i, fr->start,
			     (uint64_t)fr->size, mv->r[i].start, (uint64_t)mv->r[i].size);
			return;
		}
		if (ms_flatview__lookup(fv, fr->start) != fr)
			fail(w, "as%d: lookup of 0x%" PRIx64 " misses range %zu\n", as, fr->start, i);
	}
}

static void check_full_render(struct world *w, int as, struct ms_flatview *fv)
{
	struct ms_region *root = ms_flatview__root(fv);
	struct ms_flatview *full;
	size_t n = ms_flatview__nr_ranges(fv);
	bool same;

	if (!root)
		return;
	full = ms_flatview__render(root, NULL);
	if (!full) {
		fail(w, "ms_flatview__render: %s\n", strerror(errno));
		return;
	}
	same = ms_flatview__nr_ranges(full) == n;
	for (size_t i = 0; same && i < n; i++)
		same = fr_same(ms_flatview__range(full, i), ms_flatview__range(fv, i));
	if (!same)
		fail(w, "as%d: installed view (%zu ranges) differs from ms_flatview__render() of "
		     "its root (%zu ranges)\n", as, n, ms_flatview__nr_ranges(full));
	ms_flatview__unref(full);
}

static void check_listeners(struct world *w)
{
	for (int k = 0; k < NR_LIS; k++) {
		const struct lis *li = &w->lis[k];
		const struct ms_flatview *fv;
		size_t n;

		if (!li->live)
			continue;
		if (li->in_txn)
			fail(w, "listener %d: begin without commit\n", k);
		fv = ms_as__flatview(w->as[li->as]);
		n = ms_flatview__nr_ranges(fv);
		if (li->sh.n != n) {
			fail(w, "listener %d (as%d): its events give %zu sections, the view has "
			     "%zu ranges\n", k, li->as, li->sh.n, n);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			const struct ms_flat_range *fr = ms_flatview__range(fv, i);
			bool found = false;

			for (size_t j = 0; j < li->sh.n && !found; j++)
				found = sec_is_fr(&li->sh.s[j], fr);
			if (!found)
				fail(w, "listener %d (as%d): range 0x%" PRIx64 " never added\n", k,
				     li->as, fr->start);
		}
	}
}

static bool ram_node(const struct world *w, const struct ms_region *mr)
{
	for (int i = 0; i < MODEL_MAX_NODES; i++)
		if (w->r[i] == mr)
			return w->m.n[i].kind == MK_RAM || w->m.n[i].kind == MK_RAM_DEVICE;
	return false;
}

/* The page-aligned part of a range; 0 if no whole page. */
static uint64_t aligned(const struct ms_flat_range *fr, uint64_t *start)
{
	model_u128 st = ((model_u128)fr->start + PAGE - 1) & ~(model_u128)(PAGE - 1);
	model_u128 delta = st - fr->start, size;

	if (delta > fr->size)
		return 0;
	size = (fr->size - delta) & ~(model_u128)(PAGE - 1);
	if (!size || st >= MODEL_2_64)
		return 0;
	*start = (uint64_t)st;
	return size >= MODEL_2_64 ? UINT64_MAX & ~(uint64_t)(PAGE - 1) : (uint64_t)size;
}

struct slot_walk {
	struct world *w;
	const struct ms_flatview *fv;
	uint64_t prev_end;
	bool have_prev;
};

static int check_slot(const struct ms_memslot *s, void *opaque)
{
	struct slot_walk *sw = opaque;
	const struct ms_flat_range *fr = ms_flatview__lookup(sw->fv, s->gpa);
	uint64_t start = 0, size;

	if (!fr || fr->mr != s->mr) {
		fail(sw->w, "slot %u at 0x%" PRIx64 ": not in a range of its region\n", s->slot,
		     s->gpa);
		return 1;
	}
	size = aligned(fr, &start);
	if (start != s->gpa || size != s->size ||
	    s->offset_in_region != fr->offset_in_region + (s->gpa - fr->start)) {
		fail(sw->w, "slot %u: 0x%" PRIx64 "+0x%" PRIx64 " offset 0x%" PRIx64 ", the range "
		     "gives 0x%" PRIx64 "+0x%" PRIx64 "\n", s->slot, s->gpa, s->size,
		     s->offset_in_region, start, size);
		return 1;
	}
	return 0;
}

static void check_slots(struct world *w)
{
	const struct ms_flatview *fv = ms_as__flatview(w->as[0]);
	struct slot_walk sw = { .w = w, .fv = fv };
	const struct ms_error *e = ms_slotmap__error(w->map);
	size_t n = ms_flatview__nr_ranges(fv);

	if (e) {
		fail(w, "slot map error: %s\n", e->msg);
		return;
	}
	ms_slotmap__for_each(w->map, check_slot, &sw);
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t start = 0, size = aligned(fr, &start);

		if (size && ram_node(w, fr->mr) && !ms_slotmap__lookup(w->map, start, size))
			fail(w, "RAM range 0x%" PRIx64 "+0x%" PRIx64 " has no slot\n", start, size);
	}
	ms_slotmap__clear_ops(w->map);
}

static void check_tree(struct world *w)
{
	for (int id = 0; id < w->m.nr; id++) {
		const struct model_node *n = &w->m.n[id];
		struct ms_region *r = w->r[id];
		struct ms_region *c = n->container < 0 ? NULL : w->r[n->container];

		if (!n->live)
			continue;
		if (ms_region__container(r) != c || ms_region__addr(r) != n->addr ||
		    ms_region__size128(r) != n->size || ms_region__enabled(r) != n->enabled ||
		    ms_region__readonly(r) != n->readonly ||
		    ms_region__is_mapped(r) != model_is_mapped(&w->m, id) ||
		    (n->alias >= 0 && ms_region__alias_offset(r) != n->alias_offset)) {
			fail(w, "r%d: accessors differ from the model\n", id);
			return;
		}
	}
}

/* After an operation at depth 0: @dirty, the model expects an update. */
static void check_commit(struct world *w, bool dirty)
{
	for (int i = 0; i < NR_AS && !w->bad; i++) {
		struct ms_flatview *fv = ms_as__flatview(w->as[i]);

		if (dirty) {
			struct model_view nv = { 0 };

			if (model_render(&w->m, i, &nv)) {
				fail(w, "model: out of memory\n");
				break;
			}
			model_view_free(&w->mv[i]);
			w->mv[i] = nv;
			check_full_render(w, i, fv);
		}
		check_view(w, i, &w->mv[i], fv);
	}
	if (!w->bad)
		check_listeners(w);
	if (!w->bad)
		check_slots(w);
	if (!w->bad)
		check_tree(w);
	fuzz_api_stats.checks++;
}

/* --- operations ------------------------------------------------------------ */

static void expect_ret(struct world *w, const char *what, int id, int got, int want, int alt)
{
	if (got != want && !(alt && got == alt))
		fail(w, "%s(r%d) returned %d, the model %d\n", what, id, got, want);
}

static struct ms_region *new_region(struct world *w, int id, enum model_kind kind,
				    uint64_t size, int target, uint64_t off)
{
	struct ms_error err = { 0 };
	char name[16];

	snprintf(name, sizeof(name), "r%d", id);
	switch (kind) {
	case MK_CONTAINER:
		return ms_region__new_container(w->ctx, name, size, &err);
	case MK_IO:
		return ms_region__new_io(w->ctx, name, size, NULL, NULL, &err);
	case MK_RAM:
		return ms_region__new_ram(w->ctx, name, size, MS_RAM_ANON, &err);
	case MK_ROM:
		return ms_region__new_rom(w->ctx, name, size, &err);
	case MK_ROM_DEVICE:
		return ms_region__new_rom_device(w->ctx, name, size, &dummy_ops, NULL, &err);
	case MK_RAM_DEVICE:
		w->host[id] = calloc(1, size ? size : 1);
		if (!w->host[id])
			return NULL;
		return ms_region__new_ram_device(w->ctx, name, size, w->host[id], NULL, NULL,
						 &err);
	default:
		return ms_region__new_alias(w->ctx, name, w->r[target], off, size, &err);
	}
}

static int free_id(const struct world *w)
{
	for (int i = NR_AS; i < MODEL_MAX_NODES; i++)
		if (!w->m.n[i].live)
			return i;
	return -1;
}

static void op_new(struct world *w, int id, enum model_kind kind, uint64_t size, int target,
		   uint64_t off)
{
	if (id < 0)
		return;
	w->r[id] = new_region(w, id, kind, size, target, off);
	if (!w->r[id]) {
		fail(w, "creating r%d (kind %d, size 0x%" PRIx64 "): %s\n", id, kind, size,
		     strerror(errno));
		return;
	}
	model_new(&w->m, id, kind, size, target, off);
	if (ms_region__terminates(w->r[id]) != model_terminates(&w->m, id))
		fail(w, "r%d: terminates differs from the model\n", id);
}

enum op_type {
	OP_NEW, OP_ADD, OP_DEL, OP_SET_ADDR, OP_SET_SIZE, OP_SET_ENABLED, OP_SET_RO, OP_SET_NV,
	OP_SET_UM, OP_SET_ROMD, OP_SET_ALIAS_OFF, OP_SET_LOG, OP_BEGIN, OP_COMMIT, OP_RELISTEN,
	OP_FREE, OP_NR,
};

/* Opcode byte -> operation, weighted like test_random's generator. */
static const uint8_t op_table[32] = {
	OP_NEW, OP_NEW, OP_NEW, OP_NEW, OP_ADD, OP_ADD, OP_ADD, OP_ADD, OP_ADD, OP_ADD,
	OP_DEL, OP_DEL, OP_SET_ADDR, OP_SET_ADDR, OP_SET_SIZE, OP_SET_ENABLED, OP_SET_ENABLED,
	OP_SET_RO, OP_SET_NV, OP_SET_UM, OP_SET_ROMD, OP_SET_ALIAS_OFF, OP_SET_ALIAS_OFF,
	OP_SET_LOG, OP_BEGIN, OP_BEGIN, OP_COMMIT, OP_COMMIT, OP_RELISTEN, OP_FREE, OP_FREE,
	OP_ADD,
};

/* Decode and apply one operation. Return: false when it did nothing. */
static bool apply_one(struct world *w, int type)
{
	struct model *m = &w->m;
	struct ms_error err = { 0 };
	int a, b, want, got, alt = 0;
	uint8_t f;

	switch (type) {
	case OP_NEW: {
		enum model_kind kind = (enum model_kind)(byte(w) % MK_NR);
		uint64_t size = pick_size(w, kind != MK_CONTAINER && kind != MK_IO &&
					     kind != MK_ALIAS);
		int target = kind == MK_ALIAS ? pick_node(w, NULL) : -1;
		uint64_t off = kind == MK_ALIAS ? pick_off(w) : 0;

		if (free_id(w) < 0)
			return false;
		op_new(w, free_id(w), kind, size, target, off);
		break;
	}
	case OP_ADD:
		a = pick_node(w, byte(w) & 7 ? unmapped : not_system);
		b = pick_node(w, NULL);
		f = byte(w);
		if (a < 0 || b < 0)
			return false;
		{
			uint64_t addr = pick_addr(w);
			int32_t prio = (int32_t)(f >> 1 & 3) - 1;

			want = model_add(m, b, a, addr, f & 1 ? prio : 0);
			if (want == -EBUSY && model_would_loop(m, b, a))
				alt = -ELOOP;
			got = f & 1 ? ms_region__add_subregion_overlap(w->r[b], addr, w->r[a], prio,
								       &err) :
				      ms_region__add_subregion(w->r[b], addr, w->r[a], &err);
			expect_ret(w, "add_subregion", a, got, want, alt);
		}
		break;
	case OP_DEL:
		a = pick_node(w, byte(w) & 7 ? mapped : NULL);
		if (a < 0)
			return false;
		b = m->n[a].container >= 0 ? m->n[a].container : pick_node(w, NULL);
		want = model_del(m, b, a);
		got = ms_region__del_subregion(w->r[b], w->r[a], &err);
		expect_ret(w, "del_subregion", a, got, want, 0);
		break;
	case OP_SET_ADDR: {
		uint64_t addr;

		a = pick_node(w, not_system);
		addr = pick_addr(w);
		if (a < 0)
			return false;
		model_set_address(m, a, addr);
		ms_region__set_address(w->r[a], addr);
		break;
	}
	case OP_SET_SIZE: {
		uint64_t size;

		a = pick_node(w, not_system);
		if (a < 0)
			return false;
		size = pick_size(w, false);
		want = model_set_size(m, a, size);
		got = ms_region__set_size(w->r[a], size, &err);
		expect_ret(w, "set_size", a, got, want, 0);
		break;
	}
	case OP_SET_ENABLED:
	case OP_SET_RO:
	case OP_SET_NV:
	case OP_SET_UM:
	case OP_SET_ROMD:
	case OP_SET_LOG:
		a = pick_node(w, type == OP_SET_ENABLED ? not_system : NULL);
		f = byte(w) & 1;
		if (a < 0)
			return false;
		if (type == OP_SET_ENABLED) {
			model_set_enabled(m, a, f);
			ms_region__set_enabled(w->r[a], f);
		} else if (type == OP_SET_RO) {
			model_set_readonly(m, a, f);
			ms_region__set_readonly(w->r[a], f);
		} else if (type == OP_SET_NV) {
			model_set_nonvolatile(m, a, f);
			ms_region__set_nonvolatile(w->r[a], f);
		} else if (type == OP_SET_UM) {
			model_set_unmergeable(m, a, f);
			ms_region__set_unmergeable(w->r[a], f);
		} else if (type == OP_SET_ROMD) {
			want = model_set_romd(m, a, f);
			got = ms_region__set_romd(w->r[a], f, &err);
			expect_ret(w, "set_romd", a, got, want, 0);
		} else {
			/* QEMU has no defined behaviour below zero users. */
			if (!f && !m->n[a].log_users)
				return false;
			model_set_log(m, a, f);
			ms_region__set_log(w->r[a], f);
		}
		break;
	case OP_SET_ALIAS_OFF: {
		uint64_t off;

		a = pick_node(w, NULL);
		off = pick_off(w);
		if (a < 0)
			return false;
		want = model_set_alias_offset(m, a, off);
		got = ms_region__set_alias_offset(w->r[a], off, &err);
		expect_ret(w, "set_alias_offset", a, got, want, 0);
		break;
	}
	case OP_BEGIN:
		if (m->depth >= MAX_DEPTH)
			return false;
		model_begin(m);
		ms_ctx__begin(w->ctx);
		break;
	case OP_COMMIT:
		want = model_commit(m);
		got = ms_ctx__commit(w->ctx);
		expect_ret(w, "ms_ctx__commit", -1, got, want < 0 ? want : 0, 0);
		break;
	case OP_RELISTEN:
		a = byte(w) % NR_LIS;
		b = byte(w);
		if (m->depth)
			return false;
		lis_unregister(w, a);
		if (!w->bad)
			lis_register(w, a, b % NR_AS, (unsigned int)(b >> 2) % 12);
		break;
	case OP_FREE: {
		/*
		 * Unmapped, no alias onto it, not a root, outside transactions:
		 * this reference is the last and the region goes now (rule 3.11).
		 */
		struct model tmp;

		a = pick_node(w, unmapped);
		if (a < 0 || m->depth)
			return false;
		memcpy(&tmp, m, sizeof(tmp));
		if (model_free(&tmp, a, NR_AS - 1))
			return false;
		model_free(m, a, NR_AS - 1);
		ms_region__unref(w->r[a]);
		w->r[a] = NULL;
		free(w->host[a]);
		w->host[a] = NULL;
		break;
	}
	default:
		return false;
	}
	return true;
}

static void step(struct world *w, int type)
{
	const uint8_t *at = w->p;

	if (!apply_one(w, type) || w->bad)
		return;
	if (trace_ops) {
		dprintf(2, "op %d:", type);
		for (const uint8_t *q = at; q < w->p; q++)
			dprintf(2, " %02x", *q);
		dprintf(2, " (depth %u)\n", w->m.depth);
	}
	fuzz_api_stats.ops++;
	if (ms_ctx__depth(w->ctx) != w->m.depth) {
		fail(w, "transaction depth %u, the model %u\n", ms_ctx__depth(w->ctx), w->m.depth);
		return;
	}
	if (!w->m.depth) {
		bool dirty = w->m.pending;

		w->m.pending = false;
		check_commit(w, dirty);
	}
}

/* --- the world ----------------------------------------------------------------- */

static int world_init(struct world *w, uint8_t geometry)
{
	static const char *const as_name[NR_AS] = { "memory", "bm", "c2" };
	static const unsigned int prio[NR_LIS] = { 10, 0, 10, 5 };
	static const int lis_as[NR_LIS] = { 0, 0, 1, 2 };
	static const uint64_t c2_size[4] = { UINT64_MAX, 64, 1ULL << 63, 4096 };
	MS_OPTS(ms_slotmap_opts, opts, .max_slots = 4096, .page_size = PAGE, .name = "fuzz-kvm");
	struct ms_error err = { 0 };

	model_init(&w->m);
	w->ctx = ms_ctx__new();
	if (!w->ctx) {
		fail(w, "ms_ctx__new: %s\n", strerror(errno));
		return -1;
	}
	op_new(w, 0, MK_CONTAINER, UINT64_MAX, -1, 0);
	op_new(w, 1, MK_ALIAS, UINT64_MAX, 0, 0);
	op_new(w, 2, MK_CONTAINER, c2_size[geometry & 3], -1, 0);
	w->m.pending = false;
	for (int i = 0; i < NR_AS && !w->bad; i++) {
		w->as[i] = ms_as__new(w->ctx, w->r[i], as_name[i], &err);
		if (!w->as[i]) {
			fail(w, "ms_as__new: %s\n", err.msg);
			return -1;
		}
		if (model_render(&w->m, i, &w->mv[i])) {
			fail(w, "model: out of memory\n");
			return -1;
		}
	}
	for (int i = 0; i < NR_LIS && !w->bad; i++)
		lis_register(w, i, lis_as[i], prio[i]);
	if (w->bad)
		return -1;
	w->map = ms_slotmap__new(w->as[0], &opts, &err);
	if (!w->map) {
		fail(w, "ms_slotmap__new: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void world_fini(struct world *w)
{
	ms_slotmap__free(w->map);
	for (int i = 0; i < NR_LIS; i++) {
		ms_listener__free(w->lis[i].l);
		free(w->lis[i].sh.s);
	}
	for (int i = 0; i < NR_AS; i++) {
		ms_as__free(w->as[i]);
		model_view_free(&w->mv[i]);
	}
	for (int i = 0; i < MODEL_MAX_NODES; i++)
		ms_region__unref(w->r[i]);
	ms_ctx__free(w->ctx);
	for (int i = 0; i < MODEL_MAX_NODES; i++)
		free(w->host[i]);
}

int fuzz_api(const uint8_t *data, size_t size)
{
	struct world *w = calloc(1, sizeof(*w));
	int nops = 0, ret;

	if (!w)
		return 0;
	trace_ops = getenv("FUZZ_API_TRACE") != NULL;
	fuzz_mute();
	w->p = data;
	w->end = data + size;
	if (!world_init(w, byte(w))) {
		while (w->p < w->end && !w->bad && nops++ < MAX_OPS)
			step(w, op_table[byte(w) & 31]);
		while (w->m.depth && !w->bad)
			step(w, OP_COMMIT);
	}
	ret = w->bad ? -1 : 0;
	fuzz_api_stats.mismatches += w->bad;
	world_fini(w);
	free(w);
	fuzz_unmute();
	return ret;
}
