// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Allocation failure, swept: every operation runs with the Nth allocation
 * failing, for N = 1, 2, 3, ... until it runs without reaching N. The test
 * is linked with --wrap for malloc, calloc, realloc, strdup, strndup and
 * asprintf (Makefile): the __wrap_ functions below count the calls while
 * a countdown is armed and make exactly the Nth one fail with ENOMEM.
 *
 * After each run that hit the failure:
 *  - an operation that reported an error (negative return, NULL, err set)
 *    must have left the state as it was: the same dump() text, which holds
 *    the region tree (ms_mtree_print, plain and -f), every address space's
 *    view, what a listener holds, the slot maps' tables, the executor's
 *    "kernel" table, and for machines the device list, the device-memory
 *    accounting and the memslot consumers;
 *  - an operation that reported success must have left the state of a
 *    run without failure (the failure was absorbed), or, where the
 *    library documents it cannot (a commit's render failing keeps the old
 *    view and warns), have warned, be consistent (every listener holds
 *    its address space's view, every slot map the executor's table) and
 *    come back to the state without failure at the next commit.
 * Under SAN=1 LeakSanitizer checks every sweep at its end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

/* ---- the failing allocator ------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_asprintf(char **strp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static unsigned long fi_countdown;	/* 0: off; else the call that fails, counting down */
static unsigned long fi_calls;		/* calls counted since fi_arm() */
static bool fi_hit;			/* the failure was injected */

static bool fi_fail(void)
{
	if (!fi_countdown)
		return false;
	fi_calls++;
	if (--fi_countdown)
		return false;
	fi_hit = true;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t size)
{
	return fi_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	return fi_fail() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	return fi_fail() ? NULL : __real_realloc(ptr, size);
}

char *__wrap_strdup(const char *s)
{
	return fi_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fi_fail() ? NULL : __real_strndup(s, n);
}

int __wrap_asprintf(char **strp, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (fi_fail())
		return -1;
	va_start(ap, fmt);
	ret = vasprintf(strp, fmt, ap);
	va_end(ap);
	return ret;
}

/* Make the @n-th allocation from now fail (0: none). */
static void fi_arm(unsigned long n)
{
	fi_calls = 0;
	fi_hit = false;
	fi_countdown = n;
}

/* Stop counting; return whether the failure was injected. */
static bool fi_disarm(void)
{
	fi_countdown = 0;
	return fi_hit;
}


/* ---- a listener that holds its view, an executor that holds its table --------------------- */

#define MAX_SECT 256

struct held {
	struct ms_region *mr;
	uint64_t start, offset;
	ms_u128 size;
};

/* A listener's sections: what the address space shows it. No allocation. */
struct holder {
	struct held s[MAX_SECT];
	int n;
	bool overflow, bad_del;
};

static void h_add(void *opaque, const struct ms_section *s)
{
	struct holder *h = opaque;

	if (h->n == MAX_SECT) {
		h->overflow = true;
		return;
	}
	h->s[h->n++] = (struct held){ s->mr, s->offset_within_address_space,
				      s->offset_within_region, s->size };
}

static void h_del(void *opaque, const struct ms_section *s)
{
	struct holder *h = opaque;

	for (int i = 0; i < h->n; i++) {
		if (h->s[i].start == s->offset_within_address_space && h->s[i].mr == s->mr &&
		    h->s[i].size == s->size && h->s[i].offset == s->offset_within_region) {
			h->s[i] = h->s[--h->n];
			return;
		}
	}
	h->bad_del = true;
}

static const struct ms_listener_ops holder_ops = {
	.region_add = h_add,
	.region_del = h_del,
};

static int held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void holder_fmt(FILE *f, struct holder *h)
{
	struct held s[MAX_SECT];

	memcpy(s, h->s, sizeof(s[0]) * (size_t)h->n);
	qsort(s, (size_t)h->n, sizeof(s[0]), held_cmp);
	fprintf(f, "listener:%s%s\n", h->overflow ? " OVERFLOW" : "", h->bad_del ? " BAD-DEL" : "");
	for (int i = 0; i < h->n; i++)
		fprintf(f, "  0x%" PRIx64 "+0x%" PRIx64 " %s@0x%" PRIx64 "\n", s[i].start,
			(uint64_t)s[i].size, ms_region__name(s[i].mr) ?: "-", s[i].offset);
}

/* fv_str() of a view in the format of holder_fmt(), to compare the two. */
static void view_fmt(FILE *f, struct ms_flatview *fv)
{
	struct holder h = { 0 };

	for (size_t i = 0; fv && i < ms_flatview__nr_ranges(fv); i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		struct ms_section s;

		ms_flat_range__section(fv, fr, &s);
		h_add(&h, &s);
	}
	holder_fmt(f, &h);
}

#define MAX_KSLOT 512

/* The executor's table: what "the kernel" holds. No allocation. */
struct ktable {
	struct ms_memslot s[MAX_KSLOT];
	int n;
	int fail;			/* bad operations (create on a used id, ...) */
};

static int k_find(struct ktable *k, uint16_t as_id, uint32_t slot)
{
	for (int i = 0; i < k->n; i++)
		if (k->s[i].as_id == as_id && k->s[i].slot == slot)
			return i;
	return -1;
}

static int k_exec(void *opaque, const struct ms_slot_op *op)
{
	struct ktable *k = opaque;
	int i = k_find(k, op->slot.as_id, op->slot.slot);

	switch (op->kind) {
	case MS_SLOT_OP_CREATE:
		if (i >= 0 || k->n == MAX_KSLOT)
			k->fail++;
		else
			k->s[k->n++] = op->slot;
		break;
	case MS_SLOT_OP_DELETE:
		if (i < 0)
			k->fail++;
		else
			k->s[i] = k->s[--k->n];
		break;
	case MS_SLOT_OP_UPDATE:
		if (i < 0)
			k->fail++;
		else
			k->s[i].flags = op->slot.flags;
		break;
	}
	return 0;
}

static int kslot_cmp(const void *a, const void *b)
{
	const struct ms_memslot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static void kslot_fmt(FILE *f, const struct ms_memslot *s, bool ids)
{
	if (ids)
		fprintf(f, "  %u:%u", s->as_id, s->slot);
	else
		fprintf(f, "  %u", s->as_id);
	fprintf(f, " 0x%" PRIx64 "+0x%" PRIx64 " f=%u %s@0x%" PRIx64 "\n", s->gpa, s->size, s->flags, s->mr ? ms_region__name(s->mr) ?: "-" : "-",
		s->offset_in_region);
}

/*
 * Slots by address; with @ids their ids too. Dumps leave the ids out: a
 * slot map that carried out a section at once (out of memory queueing it)
 * may number the same slots otherwise.
 */
static void ktable_fmt(FILE *f, struct ktable *k, bool ids)
{
	struct ms_memslot s[MAX_KSLOT];

	memcpy(s, k->s, sizeof(s[0]) * (size_t)k->n);
	qsort(s, (size_t)k->n, sizeof(s[0]), kslot_cmp);
	fprintf(f, "slots:%s\n", k->fail ? " BAD-OPS" : "");
	for (int i = 0; i < k->n; i++)
		kslot_fmt(f, &s[i], ids);
}

struct slot_list {
	struct ms_memslot s[MAX_KSLOT];
	int n;
};

static int slot_collect(const struct ms_memslot *s, void *opaque)
{
	struct slot_list *l = opaque;

	if (l->n < MAX_KSLOT)
		l->s[l->n++] = *s;
	return 0;
}

/* The slot maps' tables in the format of ktable_fmt(), to compare the two. */
static void maps_fmt(FILE *f, struct ms_slotmap *const *maps, int nr, bool ids)
{
	struct ktable k = { 0 };
	struct slot_list l;

	for (int m = 0; m < nr; m++) {
		if (!maps[m])
			continue;
		l.n = 0;
		ms_slotmap__for_each(maps[m], slot_collect, &l);
		for (int i = 0; i < l.n && k.n < MAX_KSLOT; i++)
			k.s[k.n++] = l.s[i];
	}
	ktable_fmt(f, &k, ids);
}

/* ---- the state under test -------------------------------------------------------------- */

#define MAX_MR 16

struct st {
	struct ms_ctx *ctx;
	struct ms_region *mr[MAX_MR];	/* references the test holds */
	struct ms_as *as[4];		/* address spaces the test made */
	struct holder *hold;		/* with its listener on as[0] */
	struct ms_listener *l;
	struct ms_slotmap *map;
	struct ktable *k;		/* the executor of map or of the machine's maps */
	struct ms_machine *m;
	struct ms_backend *b[4];
	struct ms_memdev *dev[4];
	struct ms_flatview *fv;		/* a rendered view the test holds */
	struct ms_region *new_mr;	/* made by the operation */
	unsigned int skip, failed;	/* transaction steps: not to run, that failed */
	bool commit_enomem;		/* a commit kept an old view (-ENOMEM) */
	int arg;			/* variant of the operation */
};

/* Everything the library holds, as text (malloc()ed; call disarmed). */
static char *dump(struct st *st)
{
	struct as_list l = { 0 };
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	s = mtree_str(st->ctx, 0, NULL, NULL);
	fprintf(f, "mtree:\n%s", s ?: "(NULL)\n");
	free(s);
	s = mtree_str(st->ctx, MS_MTREE_FLAT, NULL, NULL);
	fprintf(f, "mtree -f:\n%s", s ?: "(NULL)\n");
	free(s);
	ms_ctx__for_each_as(st->ctx, as_list_collect, &l);
	for (int i = 0; i < l.n; i++) {
		s = as_str(l.as[i]);
		fprintf(f, "as %s:\n%s", ms_as__name(l.as[i]) ?: "-", s ?: "(NULL)\n");
		free(s);
	}
	if (st->hold)
		holder_fmt(f, st->hold);
	if (st->map)
		maps_fmt(f, &st->map, 1, false);
	if (st->k)
		ktable_fmt(f, st->k, false);
	if (st->m) {
		struct ms_devmem_stats ds = devmem_stats(st->m);
		struct ms_slotmap *maps[2] = { ms_machine__kvm(st->m), ms_machine__kvm_smm(st->m) };

		fprintf(f, "devmem present=%d used_region=0x%" PRIx64 " plugged=0x%" PRIx64
			" dimm=0x%" PRIx64 " required=%u used=%u reserved=%u\n", ds.present,
			ds.used_region_size, ds.plugged_size, ds.dimm_size, ds.required_memslots,
			ds.used_memslots, ds.reserved_memslots);
		ms_machine__for_each_device(st->m, memdev_state_line, f);
		ms_machine__for_each_consumer(st->m, consumer_state_line, f);
		maps_fmt(f, maps, 2, false);
	}
	fclose(f);
	return buf;
}

/*
 * The invariants of a consistent state, as text ("" when they hold): each
 * address space's view is what a render of its view's root gives (the
 * root rule 7.3 selected, whose own address applies, rule 7.7), the listener
 * holds the view of as[0], and the slot maps hold the executor's table.
 */
static char *check_consistent(struct st *st)
{
	struct as_list l = { 0 };
	char *buf = NULL, *a, *b;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ms_ctx__for_each_as(st->ctx, as_list_collect, &l);
	for (int i = 0; i < l.n; i++) {
		a = as_str(l.as[i]);
		b = render_str(ms_flatview__root(ms_as__flatview(l.as[i])));
		if (!a || !b || strcmp(a, b))
			fprintf(f, "as %s: view\n%sis not the render\n%s", ms_as__name(l.as[i]),
				a ?: "(NULL)\n", b ?: "(NULL)\n");
		free(a);
		free(b);
	}
	if (st->hold) {
		char *x = NULL, *y = NULL;
		size_t xl = 0, yl = 0;
		FILE *fx = open_memstream(&x, &xl), *fy = open_memstream(&y, &yl);

		holder_fmt(fx, st->hold);
		view_fmt(fy, ms_as__flatview(st->as[0]));
		fclose(fx);
		fclose(fy);
		if (strcmp(x, y))
			fprintf(f, "listener holds\n%sbut the view is\n%s", x, y);
		free(x);
		free(y);
	}
	if (st->k) {
		char *x = NULL, *y = NULL;
		size_t xl = 0, yl = 0;
		FILE *fx = open_memstream(&x, &xl), *fy = open_memstream(&y, &yl);
		struct ms_slotmap *maps[2] = { st->map, NULL };

		if (st->m) {
			maps[0] = ms_machine__kvm(st->m);
			maps[1] = ms_machine__kvm_smm(st->m);
		}
		maps_fmt(fx, maps, 2, true);
		ktable_fmt(fy, st->k, true);
		fclose(fx);
		fclose(fy);
		if (strcmp(x, y))
			fprintf(f, "slot maps hold\n%sbut the executor has\n%s", x, y);
		free(x);
		free(y);
	}
	fclose(f);
	return buf;
}

/* The first failure a slot map recorded (its table missing an operation), or NULL. */
static const struct ms_error *map_error(struct st *st)
{
	const struct ms_error *e = st->map ? ms_slotmap__error(st->map) : NULL;

	if (!e && st->m && ms_machine__kvm(st->m))
		e = ms_slotmap__error(ms_machine__kvm(st->m));
	if (!e && st->m && ms_machine__kvm_smm(st->m))
		e = ms_slotmap__error(ms_machine__kvm_smm(st->m));
	return e;
}

static void st_free(struct st *st)
{
	if (st->fv)
		ms_flatview__unref(st->fv);
	ms_machine__free(st->m);
	ms_slotmap__free(st->map);
	if (st->l)
		ms_listener__free(st->l);
	for (int i = 3; i >= 0; i--)
		if (st->as[i])
			ms_as__free(st->as[i]);
	ms_region__unref(st->new_mr);
	for (int i = MAX_MR - 1; i >= 0; i--)
		ms_region__unref(st->mr[i]);
	ms_ctx__free(st->ctx);
	free(st->hold);
	free(st->k);
	memset(st, 0, sizeof(*st));
}

/* ---- the sweep ----------------------------------------------------------------------- */

/*
 * An operation family: @setup builds the state before the operation
 * (disarmed: 0 or -1), @op runs it and returns 0 or a negative errno
 * (a pointer returner's NULL as -errno). @has_err: @op fills its ms_error
 * on failure. @replay: a transaction whose steps may fail one by one;
 * the state after it must be that of a run without failure that skips
 * the steps that failed (st->failed). @stale_ok: a run that hit the
 * failure may report success with a state other than the good one (the
 * commit kept an old view or a slot map missed an operation): then it
 * must have warned, and recover() must bring back the good state.
 */
struct fcase {
	const char *name;
	int (*setup)(struct st *st);
	int (*op)(struct st *st, struct ms_error *err);
	int (*recover)(struct st *st);
	bool has_err, replay, stale_ok;
	int arg;
};

/* The lines of @a missing from @b ("-") and of @b missing from @a ("+"), for a log. */
static void log_diff(struct __test_metadata *_metadata, const char *a, const char *b)
{
	const char *x[2] = { a ?: "", b ?: "" };

	for (int k = 0; k < 2; k++) {
		const char *p = x[k], *e;

		for (; *p; p = *e ? e + 1 : e) {
			const char *q = x[!k];
			size_t len;
			bool found = false;

			e = strchrnul(p, '\n');
			len = (size_t)(e - p);
			while (*q && !found) {
				const char *qe = strchrnul(q, '\n');

				found = (size_t)(qe - q) == len && !memcmp(p, q, len);
				q = *qe ? qe + 1 : qe;
			}
			if (!found)
				TH_LOG("%c %.*s", k ? '+' : '-', (int)len, p);
		}
	}
}

struct sweep_stats {
	unsigned long runs, injected, reported, absorbed, stale;
};

static struct sweep_stats total;

static int sweep(struct __test_metadata *_metadata, const struct fcase *c)
{
	bool was_failed = _metadata->exit_code != KSFT_PASS;
	struct sweep_stats s = { 0 };
	char *good = NULL;
	unsigned long n;
	int ret;

	/* the run without failure */
	{
		struct st st = { .arg = c->arg };
		struct ms_error err = { 0 };

		if (c->setup(&st)) {
			st_free(&st);
			EXPECT_TRUE(false) TH_LOG("%s: setup failed", c->name);
			return -1;
		}
		ret = c->op(&st, &err);
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", c->name, err.msg);
		good = dump(&st);
		st_free(&st);
	}
	for (n = 1; n < 100000; n++) {
		struct st st = { .arg = c->arg };
		struct ms_error err = { 0 };
		char *before, *after, *bad;
		bool hit;

		if (c->setup(&st)) {
			st_free(&st);
			EXPECT_TRUE(false) TH_LOG("%s: setup failed", c->name);
			break;
		}
		before = dump(&st);
		warn_clear();
		errno = 0;
		fi_arm(n);
		ret = c->op(&st, &err);
		hit = fi_disarm();
		after = dump(&st);
		s.runs++;
		if (!hit) {
			EXPECT_EQ(0, ret) TH_LOG("%s: N=%lu not reached, yet %d", c->name, n, ret);
			EXPECT_TRUE(good && after && !strcmp(good, after)) {
				TH_LOG("%s: N=%lu not reached, yet (- good, + now):", c->name, n);
				log_diff(_metadata, good, after);
			}
			free(before);
			free(after);
			st_free(&st);
			break;
		}
		s.injected++;
		if (ret < 0) {
			s.reported++;
			if (c->has_err)
				EXPECT_TRUE(err.err < 0 && err.msg[0])
					TH_LOG("%s: N=%lu: %d without error details", c->name, n, ret);
			if (c->replay && st.failed) {
				/* the steps that worked stay, as in a run that skips the others */
				struct st ref = { .arg = c->arg, .skip = st.failed };
				struct ms_error e2 = { 0 };
				char *want;

				if (!c->setup(&ref)) {
					c->op(&ref, &e2);
					want = dump(&ref);
					EXPECT_TRUE(want && after && !strcmp(want, after)) {
						TH_LOG("%s: N=%lu: steps 0x%x failed (- want, + now):",
						       c->name, n, st.failed);
						log_diff(_metadata, want, after);
					}
					free(want);
				}
				st_free(&ref);
			} else {
				EXPECT_TRUE(before && after && !strcmp(before, after)) {
					TH_LOG("%s: N=%lu: failed (%d: %s) but changed the state (- before, + now):",
					       c->name, n, ret, err.msg);
					log_diff(_metadata, before, after);
				}
			}
		} else if (good && after && !strcmp(good, after)) {
			s.absorbed++;
		} else {
			s.stale++;
			EXPECT_TRUE(c->stale_ok) {
				TH_LOG("%s: N=%lu: succeeded with another state (- good, + now):",
				       c->name, n);
				log_diff(_metadata, good, after);
			}
			/*
			 * A slot map records what it could not do (ms_slotmap__error())
			 * and keeps what the executor holds: no later commit redoes it.
			 */
			EXPECT_TRUE(warn_text()[0] || map_error(&st))
				TH_LOG("%s: N=%lu: other state without a warning", c->name, n);
			EXPECT_TRUE(st.commit_enomem || map_error(&st) || !c->replay)
				TH_LOG("%s: N=%lu: the commit did not report it", c->name, n);
			if (c->recover && !map_error(&st)) {
				char *rec;

				EXPECT_EQ(0, c->recover(&st));
				rec = dump(&st);
				EXPECT_TRUE(good && rec && !strcmp(good, rec)) {
					TH_LOG("%s: N=%lu: not recovered (- good, + now):", c->name, n);
					log_diff(_metadata, good, rec);
				}
				free(rec);
			}
		}
		bad = check_consistent(&st);
		EXPECT_TRUE(bad && !bad[0])
			TH_LOG("%s: N=%lu: inconsistent:\n%s", c->name, n, bad ?: "(NULL)");
		free(bad);
		free(before);
		free(after);
		st_free(&st);
		if (!was_failed && _metadata->exit_code != KSFT_PASS) {
			TH_LOG("%s: stopping at N=%lu", c->name, n);
			break;
		}
	}
	free(good);
	EXPECT_EQ(0, leaks_found()) TH_LOG("%s: leaks", c->name);
	TH_LOG("%-28s N=1..%lu: %lu injected, %lu reported, %lu absorbed, %lu stale", c->name,
	       s.runs, s.injected, s.reported, s.absorbed, s.stale);
	total.runs += s.runs;
	total.injected += s.injected;
	return 0;
}

/* ---- region, address space and listener setups --------------------------------------- */

static char ram_a[0x10000] __attribute__((aligned(4096)));
static char ram_b[0x10000] __attribute__((aligned(4096)));

/*
 * "system" (4 GiB) holding ram-a at 0 (64 KiB), io-x at 0x100000, a
 * container "box" at 0x200000 with ram-b inside, an alias of ram-a at
 * 0x300000 and a second address space "io" on its own root; as[0]
 * "memory" on system with the holder listener and, for @map, a slot map
 * with the table executor.
 */
static int setup_tree(struct st *st, bool map)
{
	struct ms_slotmap_opts o = { .sz = sizeof(o), .max_slots = 64, .page_size = PAGE };
	struct ms_region **mr = st->mr;

	st->ctx = ms_ctx__new();
	if (!st->ctx)
		return -1;
	mr[0] = ms_region__new_container(st->ctx, "system", 4 * GiB, NULL);
	mr[1] = ms_region__new_ram_ptr(st->ctx, "ram-a", sizeof(ram_a), ram_a, NULL);
	mr[2] = ms_region__new_io(st->ctx, "io-x", 0x1000, NULL, NULL, NULL);
	mr[3] = ms_region__new_container(st->ctx, "box", 0x100000, NULL);
	mr[4] = ms_region__new_ram_ptr(st->ctx, "ram-b", sizeof(ram_b), ram_b, NULL);
	mr[5] = ms_region__new_alias(st->ctx, "alias-a", mr[1], 0x1000, 0x4000, NULL);
	mr[6] = ms_region__new_container(st->ctx, "io-root", 0x10000, NULL);
	mr[7] = ms_region__new_io(st->ctx, "port", 0x10, NULL, NULL, NULL);
	for (int i = 0; i < 8; i++)
		if (!mr[i])
			return -1;
	if (ms_region__add_subregion(mr[0], 0, mr[1], NULL) ||
	    ms_region__add_subregion(mr[0], 0x100000, mr[2], NULL) ||
	    ms_region__add_subregion(mr[0], 0x200000, mr[3], NULL) ||
	    ms_region__add_subregion(mr[3], 0x10000, mr[4], NULL) ||
	    ms_region__add_subregion_overlap(mr[0], 0x300000, mr[5], 1, NULL) ||
	    ms_region__add_subregion(mr[6], 0x60, mr[7], NULL))
		return -1;
	st->as[0] = ms_as__new(st->ctx, mr[0], "memory", NULL);
	st->as[1] = ms_as__new(st->ctx, mr[6], "io", NULL);
	st->hold = calloc(1, sizeof(*st->hold));
	if (!st->as[0] || !st->as[1] || !st->hold)
		return -1;
	st->l = ms_listener__new(&holder_ops, st->hold, 0, "holder");
	if (!st->l || ms_listener__register(st->l, st->as[0], NULL))
		return -1;
	if (map) {
		st->k = calloc(1, sizeof(*st->k));
		if (!st->k)
			return -1;
		o.exec = k_exec;
		o.exec_opaque = st->k;
		st->map = ms_slotmap__new(st->as[0], &o, NULL);
		if (!st->map)
			return -1;
	}
	return 0;
}

static int setup_plain(struct st *st)
{
	return setup_tree(st, false);
}

static int setup_map(struct st *st)
{
	return setup_tree(st, true);
}

/* A region made by the operation: @kind 0 container, 1 RAM, 2 I/O, 3 alias. */
static struct ms_region *make_region(struct st *st, int kind, struct ms_error *err)
{
	static char ram_c[0x8000] __attribute__((aligned(4096)));

	switch (kind) {
	case 0:
		return ms_region__new_container(st->ctx, "new-box", 0x8000, err);
	case 1:
		return ms_region__new_ram_ptr(st->ctx, "new-ram", sizeof(ram_c), ram_c, err);
	case 2:
		return ms_region__new_io(st->ctx, "new-io", 0x1000, NULL, NULL, err);
	default:
		return ms_region__new_alias(st->ctx, "new-alias", st->mr[4], 0x2000, 0x2000, err);
	}
}

/* Create a region of kind st->arg and map it at 0x500000 (a transaction of its own). */
static int op_new_add(struct st *st, struct ms_error *err)
{
	struct ms_region *mr = make_region(st, st->arg, err);
	int ret;

	if (!mr)
		return -errno;
	ret = ms_region__add_subregion_overlap(st->mr[0], 0x500000, mr, 2, err);
	if (ret) {
		ms_region__unref(mr);
		return ret;
	}
	st->new_mr = mr;
	return 0;
}

/* Map a region inside box, which is mapped: the view changes. */
static int op_add_nested(struct st *st, struct ms_error *err)
{
	struct ms_region *mr = make_region(st, 1, err);
	int ret;

	if (!mr)
		return -errno;
	ret = ms_region__add_subregion(st->mr[3], 0x40000, mr, err);
	if (ret) {
		ms_region__unref(mr);
		return ret;
	}
	st->new_mr = mr;
	return 0;
}

static int op_del(struct st *st, struct ms_error *err)
{
	return ms_region__del_subregion(st->mr[0], st->mr[st->arg], err);
}

static int op_set_size(struct st *st, struct ms_error *err)
{
	return ms_region__set_size(st->mr[3], 0x80000, err);
}

static int op_alias_offset(struct st *st, struct ms_error *err)
{
	return ms_region__set_alias_offset(st->mr[5], 0x3000, err);
}

static int op_disable(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_region__set_enabled(st->mr[st->arg], false);
	return 0;
}

static int op_set_address(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_region__set_address(st->mr[3], 0x600000);
	return 0;
}

static int op_readonly(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_region__set_readonly(st->mr[1], true);
	return 0;
}

/*
 * ms_ctx__commit() that may keep an old view: its changes are made, a view
 * is stale until the next commit. For the sweep that is success with
 * another state (st->commit_enomem), not an error.
 */
static int commit(struct st *st)
{
	int ret = ms_ctx__commit(st->ctx);

	if (ret == -ENOMEM) {
		st->commit_enomem = true;
		return 0;
	}
	return ret;
}

/* The recovery: the next commit renders again, even an empty one. */
static int recover_commit(struct st *st)
{
	ms_ctx__begin(st->ctx);
	return ms_ctx__commit(st->ctx);
}

/*
 * One transaction, several changes: step 0 maps a new RAM region, 1 moves
 * box, 2 disables io-x, 3 unmaps the alias, 4 maps a new alias of ram-b,
 * 5 resizes box, 6 maps a new container in "io", then the commit.
 */
static int op_transaction(struct st *st, struct ms_error *err)
{
	static char ram_t[0x4000] __attribute__((aligned(4096)));
	struct ms_region *mr[3] = { 0 };
	int first = 0, ret;

	ms_ctx__begin(st->ctx);
	for (int i = 0; i < 7; i++) {
		ret = 0;
		if (st->skip & (1u << i))
			continue;
		switch (i) {
		case 0:
			mr[0] = ms_region__new_ram_ptr(st->ctx, "t-ram", sizeof(ram_t), ram_t, err);
			ret = mr[0] ? ms_region__add_subregion(st->mr[0], 0x700000, mr[0], err)
				    : -errno;
			break;
		case 1:
			ms_region__set_address(st->mr[3], 0x800000);
			break;
		case 2:
			ms_region__set_enabled(st->mr[2], false);
			break;
		case 3:
			ret = ms_region__del_subregion(st->mr[0], st->mr[5], err);
			break;
		case 4:
			mr[1] = ms_region__new_alias(st->ctx, "t-alias", st->mr[4], 0, 0x8000, err);
			ret = mr[1] ? ms_region__add_subregion_overlap(st->mr[0], 0x900000, mr[1],
								       -1, err)
				    : -errno;
			break;
		case 5:
			ret = ms_region__set_size(st->mr[3], 0x20000, err);
			break;
		case 6:
			mr[2] = ms_region__new_container(st->ctx, "t-box", 0x100, err);
			ret = mr[2] ? ms_region__add_subregion(st->mr[6], 0x100, mr[2], err)
				    : -errno;
			break;
		}
		if (ret) {
			st->failed |= 1u << i;
			if (!first)
				first = ret;
		}
	}
	/* the transaction holds no reference of the test's */
	for (int i = 0; i < 3; i++)
		ms_region__unref(mr[i]);
	ret = commit(st);
	return first ?: ret;
}

static int op_as_new(struct st *st, struct ms_error *err)
{
	st->as[2] = ms_as__new(st->ctx, st->mr[3], "box-as", err);
	return st->as[2] ? 0 : -errno;
}

static int op_as_free(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_as__free(st->as[1]);
	st->as[1] = NULL;
	return 0;
}

static struct holder second_hold;

static int op_listener(struct st *st, struct ms_error *err)
{
	struct ms_listener *l;
	int ret;

	memset(&second_hold, 0, sizeof(second_hold));
	l = ms_listener__new(&holder_ops, &second_hold, 5, "second");
	if (!l)	/* without details of its own */
		return ms_error_set(err, -errno, "ms_listener__new: %s", strerror(errno));
	ret = ms_listener__register(l, st->as[0], err);
	if (ret) {
		ms_listener__free(l);
		return ret;
	}
	/* swap: the test's holder is now the new listener's, checked by dump() */
	ms_listener__free(st->l);
	st->l = l;
	*st->hold = second_hold;
	return 0;
}

static int op_render(struct st *st, struct ms_error *err)
{
	st->fv = ms_flatview__render(st->mr[0], err);
	return st->fv ? 0 : -errno;
}

static int setup_plain_k(struct st *st)
{
	st->k = calloc(1, sizeof(*st->k));
	return st->k ? setup_tree(st, false) : -1;
}

static int op_slotmap_new(struct st *st, struct ms_error *err)
{
	struct ms_slotmap_opts o = { .sz = sizeof(o), .max_slots = 64, .page_size = PAGE };

	o.exec = k_exec;
	o.exec_opaque = st->k;
	st->map = ms_slotmap__new(st->as[0], &o, err);
	return st->map ? 0 : -errno;
}

/* A commit that maps slots and removes one: new RAM, ram-a moved, box disabled. */
static int op_map_commit(struct st *st, struct ms_error *err)
{
	static char ram_m[0x20000] __attribute__((aligned(4096)));
	struct ms_region *mr;
	int ret;

	ms_ctx__begin(st->ctx);
	mr = ms_region__new_ram_ptr(st->ctx, "m-ram", sizeof(ram_m), ram_m, err);
	if (!mr) {
		ret = -errno;
		ms_ctx__commit(st->ctx);
		return ret;
	}
	ret = ms_region__add_subregion(st->mr[0], 0x1000000, mr, err);
	if (ret) {
		ms_region__unref(mr);
		ms_ctx__commit(st->ctx);
		return ret;
	}
	st->new_mr = mr;
	ms_region__set_address(st->mr[1], 0x2000000);
	ms_region__set_enabled(st->mr[3], false);
	return commit(st);
}

/* ---- machines --------------------------------------------------------------------- */

#pragma GCC diagnostic ignored "-Woverride-init"

#define MOPTS(...) ((struct ms_machine_opts){ .sz = sizeof(struct ms_machine_opts),	\
	.kvm_memslots = 32764, .page_size = PAGE, __VA_ARGS__ })
#define BOPTS(...) ((struct ms_backend_opts){ .sz = sizeof(struct ms_backend_opts),	\
	.kind = MS_BACKEND_RAM, .no_memory = true, __VA_ARGS__ })
#define DEV(...) ((struct ms_memdev_opts){ .sz = sizeof(struct ms_memdev_opts),		\
	.slot = MS_MEMDEV_SLOT_AUTO, .unplugged_inaccessible = MS_ON, __VA_ARGS__ })

/* st->arg for machine cases: bit 0 q35, bit 1 SMM (a second slot map) */
static struct ms_machine_opts machine_opts(struct st *st)
{
	struct ms_machine_opts o = MOPTS(.type = (st->arg & 1) ? MS_MACHINE_Q35 : MS_MACHINE_PC,
					 .ram_size = 4 * GiB, .slots = 4, .maxmem = 32 * GiB,
					 .nvdimm = true, .smm = MS_SMM_OFF);

	if (st->arg & 2)
		o.smm = MS_SMM_ON;
	o.kvm_exec = k_exec;
	o.kvm_exec_opaque = st->k;
	return o;
}

static int setup_machine_ctx(struct st *st)
{
	st->ctx = ms_ctx__new();
	st->k = calloc(1, sizeof(*st->k));
	return st->ctx && st->k ? 0 : -1;
}

static int op_machine_new(struct st *st, struct ms_error *err)
{
	struct ms_machine_opts o = machine_opts(st);

	st->m = ms_machine__new(st->ctx, &o, err);
	return st->m ? 0 : -errno;
}

/* A machine with backends b0..b3 (1 GiB each) and, per @devs, devices on them. */
static int setup_machine_devs(struct st *st, unsigned int devs)
{
	static const char *const ids[4] = { "b0", "b1", "b2", "b3" };
	struct ms_machine_opts o;

	if (setup_machine_ctx(st))
		return -1;
	o = machine_opts(st);
	st->m = ms_machine__new(st->ctx, &o, NULL);
	if (!st->m)
		return -1;
	for (int i = 0; i < 4; i++) {
		struct ms_backend_opts b = BOPTS(.id = ids[i], .size = GiB);

		st->b[i] = ms_machine__add_backend(st->m, &b, NULL);
		if (!st->b[i])
			return -1;
	}
	if (devs & 1) {
		st->dev[0] = ms_machine__device_add(st->m, &DEV(.type = MS_MEMDEV_DIMM,
				.id = "d0", .memdev = st->b[0]), NULL);
		if (!st->dev[0])
			return -1;
	}
	if (devs & 4) {
		st->dev[1] = ms_machine__device_add(st->m, &DEV(.type = MS_MEMDEV_DIMM,
				.id = "d1", .memdev = st->b[3]), NULL);
		if (!st->dev[1])
			return -1;
	}
	if (devs & 2) {
		st->dev[2] = ms_machine__device_add(st->m, &DEV(.type = MS_MEMDEV_VIRTIO_MEM,
				.id = "vm0", .memdev = st->b[2], .block_size = 2 * MiB,
				.requested_size = 512 * MiB, .dynamic_memslots = true), NULL);
		if (!st->dev[2])
			return -1;
	}
	return 0;
}

static int setup_machine(struct st *st)
{
	return setup_machine_devs(st, 0);
}

/*
 * Two DIMMs: with d0 alone, device-memory holds one region at 0 and a full
 * render after a failed commit shows it at 0 instead of at the base (see
 * as_on_mapped_root_with_one_child).
 */
static int setup_machine_dimm(struct st *st)
{
	return setup_machine_devs(st, 1 | 4);
}

static int setup_machine_vmem(struct st *st)
{
	return setup_machine_devs(st, 2);
}

/* A virtio-mem device with blocks plugged at 0 and 64 MiB..96 MiB. */
static int setup_machine_vmem_plugged(struct st *st)
{
	if (setup_machine_devs(st, 2) ||
	    ms_virtio_mem__plug(st->dev[2], 0, 2 * MiB) != MS_VIRTIO_MEM_ACK ||
	    ms_virtio_mem__plug(st->dev[2], 64 * MiB, 32 * MiB) != MS_VIRTIO_MEM_ACK)
		return -1;
	return 0;
}

/* A virtio-mem device that can go: requested-size 0, nothing plugged. */
static int setup_machine_vmem_idle(struct st *st)
{
	if (setup_machine_devs(st, 2) || ms_virtio_mem__set_requested_size(st->dev[2], 0, NULL))
		return -1;
	return 0;
}

static int op_backend_add(struct st *st, struct ms_error *err)
{
	struct ms_backend_opts b = BOPTS(.id = "nb", .size = GiB);

	return ms_machine__add_backend(st->m, &b, err) ? 0 : -errno;
}

/* device_add of st->arg >> 2: 0 pc-dimm, 1 nvdimm, 2 virtio-mem, 3 virtio-pmem */
static int op_device_add(struct st *st, struct ms_error *err)
{
	struct ms_memdev_opts o;

	switch (st->arg >> 2) {
	case 0:
		o = DEV(.type = MS_MEMDEV_DIMM, .id = "new", .memdev = st->b[1]);
		break;
	case 1:
		o = DEV(.type = MS_MEMDEV_NVDIMM, .id = "new", .memdev = st->b[1],
			.label_size = 128 * 1024);
		break;
	case 2:
		o = DEV(.type = MS_MEMDEV_VIRTIO_MEM, .id = "new", .memdev = st->b[1],
			.block_size = 2 * MiB, .requested_size = 256 * MiB,
			.dynamic_memslots = true);
		break;
	default:
		o = DEV(.type = MS_MEMDEV_VIRTIO_PMEM, .id = "new", .memdev = st->b[1]);
		break;
	}
	return ms_machine__device_add(st->m, &o, err) ? 0 : -errno;
}

static int op_device_del(struct st *st, struct ms_error *err)
{
	struct ms_memdev *d = st->dev[st->arg >> 2];
	int ret = ms_machine__device_del(st->m, d, err);

	if (!ret)
		st->dev[st->arg >> 2] = NULL;
	return ret;
}

/* A guest request on the virtio-mem device: ACK is success, anything else an error. */
static int vmem_resp(int resp)
{
	return resp == MS_VIRTIO_MEM_ACK ? 0 : -100 - resp;
}

static int op_vmem_plug(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__plug(st->dev[2], 128 * MiB, 256 * MiB - 128 * MiB));
}

static int op_vmem_plug_small(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__plug(st->dev[2], 4 * MiB, 2 * MiB));
}

static int op_vmem_unplug(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__unplug(st->dev[2], 64 * MiB, 16 * MiB));
}

static int op_vmem_unplug_all(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__unplug_all(st->dev[2]));
}

static int op_vmem_resize(struct st *st, struct ms_error *err)
{
	return ms_virtio_mem__set_requested_size(st->dev[2], 768 * MiB, err);
}

/* ---- the tests -------------------------------------------------------------------- */

FIXTURE(af) {
	ms_print_fn_t old_print;
};

FIXTURE_SETUP(af)
{
	warn_clear();
	self->old_print = ms_set_print(warn_capture);
}

FIXTURE_TEARDOWN(af)
{
	ms_set_print(self->old_print);
	fprintf(stderr, "# sweeps: %lu runs, %lu failures injected\n", total.runs, total.injected);
}

#define SWEEP(...) sweep(_metadata, &(struct fcase){ __VA_ARGS__ })

TEST_F(af, regions)
{
	static const char *const kinds[4] = { "container", "ram", "io", "alias" };

	for (int k = 0; k < 4; k++) {
		char name[64];

		snprintf(name, sizeof(name), "new %s + add_subregion", kinds[k]);
		SWEEP(.name = name, .setup = setup_plain, .op = op_new_add, .has_err = true,
		      .arg = k, .stale_ok = true, .recover = recover_commit);
	}
	SWEEP(.name = "add_subregion nested", .setup = setup_plain, .op = op_add_nested,
	      .has_err = true, .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "del_subregion io-x", .setup = setup_plain, .op = op_del, .arg = 2,
	      .has_err = true, .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "del_subregion box", .setup = setup_plain, .op = op_del, .arg = 3,
	      .has_err = true, .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "del_subregion alias", .setup = setup_plain, .op = op_del, .arg = 5,
	      .has_err = true, .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "set_size", .setup = setup_plain, .op = op_set_size, .has_err = true,
	      .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "set_alias_offset", .setup = setup_plain, .op = op_alias_offset,
	      .has_err = true, .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "set_enabled box", .setup = setup_plain, .op = op_disable, .arg = 3,
	      .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "set_enabled ram-a", .setup = setup_plain, .op = op_disable, .arg = 1,
	      .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "set_address", .setup = setup_plain, .op = op_set_address,
	      .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "set_readonly", .setup = setup_plain, .op = op_readonly,
	      .stale_ok = true, .recover = recover_commit);
}

TEST_F(af, transaction)
{
	SWEEP(.name = "transaction of 7 changes", .setup = setup_plain, .op = op_transaction,
	      .has_err = true, .replay = true, .stale_ok = true, .recover = recover_commit);
	SWEEP(.name = "transaction, slot map", .setup = setup_map, .op = op_transaction,
	      .has_err = true, .replay = true, .stale_ok = true, .recover = recover_commit);
}

TEST_F(af, as_listener_render)
{
	SWEEP(.name = "ms_as__new", .setup = setup_plain, .op = op_as_new, .has_err = true);
	SWEEP(.name = "ms_as__free", .setup = setup_plain, .op = op_as_free);
	SWEEP(.name = "listener register", .setup = setup_plain, .op = op_listener,
	      .has_err = true);
	SWEEP(.name = "flat view render", .setup = setup_plain, .op = op_render,
	      .has_err = true);
}

TEST_F(af, slotmap)
{
	SWEEP(.name = "ms_slotmap__new", .setup = setup_plain_k, .op = op_slotmap_new,
	      .has_err = true);
	SWEEP(.name = "commit mapping slots", .setup = setup_map, .op = op_map_commit,
	      .has_err = true, .stale_ok = true, .recover = recover_commit);
}

TEST_F(af, machine_new)
{
	for (int a = 0; a < 4; a++) {
		char name[64];

		snprintf(name, sizeof(name), "machine %s%s", a & 1 ? "q35" : "pc",
			 a & 2 ? " smm" : "");
		SWEEP(.name = name, .setup = setup_machine_ctx, .op = op_machine_new,
		      .has_err = true, .arg = a);
	}
}

TEST_F(af, device_add)
{
	static const char *const types[4] = { "pc-dimm", "nvdimm", "virtio-mem", "virtio-pmem" };

	SWEEP(.name = "add_backend", .setup = setup_machine, .op = op_backend_add,
	      .has_err = true);
	for (int t = 0; t < 4; t++) {
		for (int q = 0; q < 2; q++) {
			char name[64];

			snprintf(name, sizeof(name), "device_add %s %s", types[t], q ? "q35" : "pc");
			SWEEP(.name = name, .setup = setup_machine_vmem, .op = op_device_add,
			      .has_err = true, .arg = t << 2 | q);
		}
	}
}

TEST_F(af, device_del)
{
	SWEEP(.name = "device_del pc-dimm", .setup = setup_machine_dimm, .op = op_device_del,
	      .has_err = true, .arg = 0 << 2);
	SWEEP(.name = "device_del pc-dimm q35", .setup = setup_machine_dimm,
	      .op = op_device_del, .has_err = true, .arg = 0 << 2 | 1);
	SWEEP(.name = "device_del virtio-mem", .setup = setup_machine_vmem_idle,
	      .op = op_device_del, .has_err = true, .arg = 2 << 2);
}

/*
 * A PLUG that activates a dynamic memslot ("plug 128 MiB") and UNPLUG_ALL,
 * which deactivates them, commit a topology change: a render that fails
 * makes them answer BUSY with the blocks as they were.
 */
TEST_F(af, virtio_mem)
{
	SWEEP(.name = "plug 128 MiB", .setup = setup_machine_vmem, .op = op_vmem_plug);
	SWEEP(.name = "unplug_all", .setup = setup_machine_vmem_plugged,
	      .op = op_vmem_unplug_all);
	SWEEP(.name = "plug one block", .setup = setup_machine_vmem_plugged,
	      .op = op_vmem_plug_small);
	SWEEP(.name = "unplug 16 MiB", .setup = setup_machine_vmem_plugged,
	      .op = op_vmem_unplug);
	SWEEP(.name = "set requested-size", .setup = setup_machine_vmem,
	      .op = op_vmem_resize, .has_err = true);
}

/*
 * Found by the device_del sweep: an address space whose root is mapped at
 * an address (device-memory, rule 7.6) and holds one region at 0 is
 * rendered, as in QEMU, from that region (rule 7.3), so the root's address
 * does not apply (rule 7.7); the root rendered by itself is at its
 * address. Every way of making the view gives the same: the address
 * space's creation, a commit after a change, one after a failed commit.
 */
TEST(as_on_mapped_root_with_one_child)
{
	static char ram[0x4000] __attribute__((aligned(4096)));
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_region *sys, *box, *r;
	struct ms_as *as;
	char *view, *want;

	ASSERT_NE(NULL, ctx);
	sys = ms_region__new_container(ctx, "sys", GiB, NULL);
	box = ms_region__new_container(ctx, "box", 0x100000, NULL);
	r = ms_region__new_ram_ptr(ctx, "r", sizeof(ram), ram, NULL);
	ASSERT_TRUE(sys && box && r);
	ASSERT_EQ(0, ms_region__add_subregion(box, 0, r, NULL));
	ASSERT_EQ(0, ms_region__add_subregion(sys, 0x10000000, box, NULL));
	as = ms_as__new(ctx, box, "box-as", NULL);
	ASSERT_NE(NULL, as);
	view = as_str(as);
	want = render_str(box);
	EXPECT_STREQ("0x10000000+0x4000 r@0x0\n", want);
	EXPECT_STREQ("0x0+0x4000 r@0x0\n", view);
	EXPECT_EQ(r, ms_flatview__root(ms_as__flatview(as)));
	free(view);
	/* a change that patches the view keeps it so */
	ms_region__set_readonly(r, true);
	view = as_str(as);
	EXPECT_STREQ("0x0+0x4000 r@0x0 ro\n", view);
	free(view);
	free(want);
	ms_as__free(as);
	ms_region__unref(r);
	ms_region__unref(box);
	ms_region__unref(sys);
	ms_ctx__free(ctx);
}

TEST_HARNESS_MAIN
