// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Random region-tree operations checked against a brute-force model.
 *
 * A seeded generator drives the library and the model of selftests/lib/model.c
 * with the same operations: region creation of every kind, add/del
 * subregion with priorities and overlap, aliases (of aliases, offsets past
 * the target), enable, read-only, nonvolatile, unmergeable, ROMD, dirty
 * logging, resizing, moving, alias offsets, freeing, nested transactions
 * and late listener registration. Unmergeable is generated too: the model
 * derives QEMU's render pieces from the render path (see model.c), so the
 * unmerged boundaries are predicted exactly. Cycles are attempted as well
 * and must fail with -ELOOP. After every outermost commit it checks
 * (regions-and-flatview.md, listeners-and-transactions.md):
 *   - every address space's flat view against the model, range by range;
 *   - view identity: unchanged object without a pending update, views
 *     shared exactly between address spaces with one selected root (7.3-7.5);
 *   - the listener event stream: properties (dels first and in order, every
 *     del in the old view, every new range added or nop'd once, the dels
 *     and adds turn the old view into the new one), then the exact sequence
 *     of rule 2.2 with listener order of rule 1.4;
 *   - late registration and unregistration replays (6.1, 6.2);
 *   - tree accessors: container, address, priority, mapped, subregion order.
 *
 * Each episode runs in a child process with its operations logged in
 * shared memory, so that a failure, even a crash, can be replayed: the log
 * is shrunk by delta debugging (each try replayed from scratch in a child)
 * and the minimal trace is printed as C calls.
 *
 * MEMSLOT_SEED=<n> replaces the seeds of the variants, MEMSLOT_OPS=<n> the
 * number of operations per episode.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memslot/memslot.h>

/* The harness is not written for -Wextra -Werror (see selftests/lib/util.h). */
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wclobbered"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "harness.h"
#include "model.h"

#define NR_AS		3
#define NR_LIS		5
#define ROT_LIS		4	/* slot of the listener that OP_RELISTEN replaces */
#define MAX_DEPTH	3
#define MSG_LEN		32768

enum op_type {
	OP_NEW,		/* a = id, kind, x = size, b = alias target, y = alias offset */
	OP_ADD,		/* a = sub, b = container, x = addr, prio, flag = overlap */
	OP_DEL,		/* a = sub, b = container */
	OP_SET_ADDR,	/* a, x */
	OP_SET_SIZE,	/* a, x */
	OP_SET_ENABLED,	/* a, flag */
	OP_SET_RO,
	OP_SET_NV,
	OP_SET_UM,
	OP_SET_ROMD,
	OP_SET_ALIAS_OFF, /* a, x */
	OP_SET_LOG,	/* a, flag */
	OP_BEGIN,
	OP_COMMIT,
	OP_RELISTEN,	/* a = address space, prio */
	OP_FREE,	/* a: drop the last reference of an unmapped region */
	OP_NR,
};

struct op {
	uint8_t type;
	uint8_t kind;
	bool flag;
	int16_t a, b;
	int32_t prio;
	uint64_t x, y;
	const char *name;	/* OP_NEW: static name, NULL for "r<a>" */
};

enum ev_type { EV_BEGIN, EV_COMMIT, EV_ADD, EV_DEL, EV_NOP, EV_LOG_START, EV_LOG_STOP };

static const char *const ev_names[] = { "begin", "commit", "add", "del", "nop", "log_start",
					"log_stop" };

struct ev {
	int type;
	int lis;
	struct ms_section s;
	int old_mask, new_mask;
};

struct evlog {
	struct ev *e;
	size_t n, cap;
	bool oom;
};

struct world;

struct lis {
	struct ms_listener *l;
	struct world *w;
	int slot;
	int as;
	unsigned int prio;
	uint64_t regseq;
	bool live;
	bool nonop;		/* no region_nop callback */
};

struct world {
	struct ms_ctx *ctx;
	struct model m;
	struct ms_region *r[MODEL_MAX_NODES];
	void *host[MODEL_MAX_NODES];
	char name[MODEL_MAX_NODES][32];
	struct ms_as *as[NR_AS];
	int as_root[NR_AS];
	struct ms_flatview *fv[NR_AS];		/* views installed at the last check */
	struct model_view mv[NR_AS];		/* their expected contents */
	/*
	 * Quiet worlds: listeners without region_nop and no reference held on
	 * the views, so that the library patches views in place and diffs
	 * only the changed windows; snap[] keeps the ranges the views had.
	 */
	bool quiet;
	struct ms_flat_range *snap[NR_AS];
	size_t nsnap[NR_AS];
	struct ms_flatview *empty;		/* the static empty view, once seen */
	struct lis lis[NR_LIS];
	uint64_t regseq;
	struct evlog log;			/* events as the library sent them */
	struct evlog want;			/* scratch: expected events */
	FILE *trace;				/* print operations as C */
	int last_ret;				/* what the last call returned */
	struct stats {
		unsigned long ops, checks, dirty, ranges, events, errors;
	} st;
	char msg[MSG_LEN];
	size_t msglen;
};

static const struct ms_region_ops dummy_ops;

/* LeakSanitizer's interface, present only in SAN=1 builds. */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static void failf(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failf(struct world *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->msglen >= sizeof(w->msg) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->msg + w->msglen, sizeof(w->msg) - w->msglen, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->msglen += (size_t)n;
	if (w->msglen > sizeof(w->msg) - 1)
		w->msglen = sizeof(w->msg) - 1;
}

static const char *u128_str(model_u128 v, char *buf)
{
	if (v == MODEL_2_64)
		return strcpy(buf, "2^64");
	sprintf(buf, "%#" PRIx64, (uint64_t)v);
	return buf;
}

static const char *u64_arg(uint64_t v, char *buf)
{
	if (v == UINT64_MAX)
		return strcpy(buf, "UINT64_MAX");
	sprintf(buf, "%#" PRIx64, v);
	return buf;
}

static int id_of(const struct world *w, const struct ms_region *mr)
{
	int i;

	for (i = 0; i < MODEL_MAX_NODES; i++)
		if (mr && w->r[i] == mr)
			return i;
	return -1;
}

static const char *rname(const struct world *w, const struct ms_region *mr)
{
	int id = id_of(w, mr);

	if (!mr)
		return "(null)";
	return id < 0 ? "(unknown)" : w->name[id];
}

/* --- event log -------------------------------------------------------- */

static void evlog_push(struct evlog *l, const struct ev *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct ev *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne) {
			l->oom = true;
			return;
		}
		l->e = ne;
		l->cap = cap;
	}
	l->e[l->n++] = *e;
}

static void record(void *opaque, int type, const struct ms_section *s, int old_mask,
		   int new_mask)
{
	struct lis *li = opaque;
	struct ev e = { .type = type, .lis = li->slot, .old_mask = old_mask,
			.new_mask = new_mask };

	if (s)
		e.s = *s;
	evlog_push(&li->w->log, &e);
}

static void cb_begin(void *o) { record(o, EV_BEGIN, NULL, 0, 0); }
static void cb_commit(void *o) { record(o, EV_COMMIT, NULL, 0, 0); }
static void cb_add(void *o, const struct ms_section *s) { record(o, EV_ADD, s, 0, 0); }
static void cb_del(void *o, const struct ms_section *s) { record(o, EV_DEL, s, 0, 0); }
static void cb_nop(void *o, const struct ms_section *s) { record(o, EV_NOP, s, 0, 0); }

static void cb_log_start(void *o, const struct ms_section *s, int old_mask, int new_mask)
{
	record(o, EV_LOG_START, s, old_mask, new_mask);
}

static void cb_log_stop(void *o, const struct ms_section *s, int old_mask, int new_mask)
{
	record(o, EV_LOG_STOP, s, old_mask, new_mask);
}

static const struct ms_listener_ops lis_ops = {
	.begin = cb_begin,
	.commit = cb_commit,
	.region_add = cb_add,
	.region_del = cb_del,
	.region_nop = cb_nop,
	.log_start = cb_log_start,
	.log_stop = cb_log_stop,
};

static const struct ms_listener_ops lis_ops_nonop = {
	.begin = cb_begin,
	.commit = cb_commit,
	.region_add = cb_add,
	.region_del = cb_del,
	.log_start = cb_log_start,
	.log_stop = cb_log_stop,
};

static bool is_region_ev(int type)
{
	return type != EV_BEGIN && type != EV_COMMIT;
}

static bool ev_eq(const struct ev *a, const struct ev *b)
{
	if (a->type != b->type || a->lis != b->lis)
		return false;
	if (!is_region_ev(a->type))
		return true;
	if ((a->type == EV_LOG_START || a->type == EV_LOG_STOP) &&
	    (a->old_mask != b->old_mask || a->new_mask != b->new_mask))
		return false;
	return a->s.mr == b->s.mr && a->s.fv == b->s.fv &&
	       a->s.offset_within_region == b->s.offset_within_region && a->s.size == b->s.size &&
	       a->s.offset_within_address_space == b->s.offset_within_address_space &&
	       a->s.readonly == b->s.readonly && a->s.nonvolatile == b->s.nonvolatile &&
	       a->s.unmergeable == b->s.unmergeable;
}

static void ev_str(const struct world *w, const struct ev *e, char *buf, size_t len)
{
	char sz[40];
	int n;

	n = snprintf(buf, len, "L%d %s", e->lis, ev_names[e->type]);
	if (!is_region_ev(e->type))
		return;
	n += snprintf(buf + n, len - n, " %s [%#" PRIx64 " +%s) @%#" PRIx64 "%s%s%s fv=%p",
		      rname(w, e->s.mr), e->s.offset_within_address_space,
		      u128_str(e->s.size, sz), e->s.offset_within_region,
		      e->s.readonly ? " ro" : "", e->s.nonvolatile ? " nv" : "",
		      e->s.unmergeable ? " um" : "", (void *)e->s.fv);
	if ((e->type == EV_LOG_START || e->type == EV_LOG_STOP) && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " mask %d->%d", e->old_mask, e->new_mask);
}

/* --- views -------------------------------------------------------------- */

static void range_str(const struct world *w, const struct model_range *r, char *buf,
		      size_t len)
{
	char sz[40];

	snprintf(buf, len, "[%#" PRIx64 " +%s) %s @%#" PRIx64 "%s%s%s%s mask=%u", r->start,
		 u128_str(r->size, sz), w->name[r->mr], r->off, r->ro ? " ro" : "",
		 r->nv ? " nv" : "", r->um ? " um" : "", r->romd ? "" : " romd_off", r->mask);
}

static void fr_str(const struct world *w, const struct ms_flat_range *fr, char *buf,
		   size_t len)
{
	char sz[40];

	snprintf(buf, len, "[%#" PRIx64 " +%s) %s @%#" PRIx64 "%s%s%s%s mask=%u", fr->start,
		 u128_str(fr->size, sz), rname(w, fr->mr), fr->offset_in_region,
		 fr->readonly ? " ro" : "", fr->nonvolatile ? " nv" : "",
		 fr->unmergeable ? " um" : "", fr->romd_mode ? "" : " romd_off",
		 fr->dirty_log_mask);
}

static void dump_views(struct world *w, const struct model_view *mv,
		       const struct ms_flatview *fv)
{
	char buf[256];
	size_t i, n = fv ? ms_flatview__nr_ranges(fv) : 0;

	failf(w, "  expected (model, root %s):\n", mv->root < 0 ? "(none)" : w->name[mv->root]);
	for (i = 0; i < mv->n; i++) {
		range_str(w, &mv->r[i], buf, sizeof(buf));
		failf(w, "    %s\n", buf);
	}
	failf(w, "  library (root %s):\n", fv ? rname(w, ms_flatview__root(fv)) : "?");
	for (i = 0; i < n; i++) {
		fr_str(w, ms_flatview__range(fv, i), buf, sizeof(buf));
		failf(w, "    %s\n", buf);
	}
}

static bool fr_matches(const struct world *w, const struct ms_flat_range *fr,
		       const struct model_range *r)
{
	return fr->mr == w->r[r->mr] && fr->start == r->start && fr->size == r->size &&
	       fr->offset_in_region == r->off && fr->readonly == r->ro &&
	       fr->nonvolatile == r->nv && fr->unmergeable == r->um && fr->romd_mode == r->romd &&
	       fr->dirty_log_mask == r->mask;
}

static int check_view(struct world *w, int as, const struct model_view *mv,
		      const struct ms_flatview *fv)
{
	size_t i, n = ms_flatview__nr_ranges(fv);
	struct ms_region *root = ms_flatview__root(fv);
	struct ms_region *want_root = mv->root < 0 ? NULL : w->r[mv->root];

	if (root != want_root) {
		failf(w, "as%d: view root is %s, expected %s (rule 7.3)\n", as,
		      rname(w, root), want_root ? w->name[mv->root] : "(none)");
		goto bad;
	}
	if (n != mv->n) {
		failf(w, "as%d: %zu ranges, expected %zu\n", as, n, mv->n);
		goto bad;
	}
	for (i = 0; i < n; i++) {
		if (!fr_matches(w, ms_flatview__range(fv, i), &mv->r[i])) {
			failf(w, "as%d: range %zu differs\n", as, i);
			goto bad;
		}
	}
	/* Lookup (rule 9.1) at both ends of every range and just before it. */
	for (i = 0; i < n; i++) {
		const struct model_range *r = &mv->r[i];
		uint64_t last = (uint64_t)(r->start + r->size - 1);
		const struct ms_flat_range *a = ms_flatview__lookup(fv, r->start);
		const struct ms_flat_range *b = ms_flatview__lookup(fv, last);

		if (a != ms_flatview__range(fv, i) || b != ms_flatview__range(fv, i)) {
			failf(w, "as%d: lookup of %#" PRIx64 "/%#" PRIx64 " misses range %zu\n",
			      as, r->start, last, i);
			goto bad;
		}
		if (r->start && (!i || mv->r[i - 1].start + mv->r[i - 1].size < r->start) &&
		    ms_flatview__lookup(fv, r->start - 1)) {
			failf(w, "as%d: lookup of unassigned %#" PRIx64 " finds a range\n", as,
			      r->start - 1);
			goto bad;
		}
	}
	return 0;
bad:
	dump_views(w, mv, fv);
	return -1;
}

/* --- listeners: expected events ---------------------------------------- */

/* Listeners in Forward order (rule 1.2): priority, then registration. */
static int lis_order(const struct world *w, int as, int *out)
{
	int i, j, k = 0;

	for (i = 0; i < NR_LIS; i++) {
		const struct lis *li = &w->lis[i];

		if (!li->live || (as >= 0 && li->as != as))
			continue;
		for (j = k; j > 0; j--) {
			const struct lis *p = &w->lis[out[j - 1]];

			if (p->prio < li->prio || (p->prio == li->prio && p->regseq < li->regseq))
				break;
			out[j] = out[j - 1];
		}
		out[j] = i;
		k++;
	}
	return k;
}

static void want_simple(struct world *w, int type, int lis)
{
	struct ev e = { .type = type, .lis = lis };

	evlog_push(&w->want, &e);
}

static void want_range(struct world *w, int type, int lis, struct ms_flatview *fv,
		       const struct model_range *r, int old_mask, int new_mask)
{
	struct ev e = { .type = type, .lis = lis, .old_mask = old_mask, .new_mask = new_mask };

	e.s.mr = w->r[r->mr];
	e.s.fv = fv;
	e.s.offset_within_region = r->off;
	e.s.size = r->size;
	e.s.offset_within_address_space = r->start;
	e.s.readonly = r->ro;
	e.s.nonvolatile = r->nv;
	e.s.unmergeable = r->um;
	evlog_push(&w->want, &e);
}

/* Rule 2.2 for one address space, with the listener directions of 1.4. */
static void want_diff(struct world *w, const int *ls, int nls, const struct model_view *o,
		      struct ms_flatview *ofv, const struct model_view *n,
		      struct ms_flatview *nfv)
{
	int pass, k;

	for (pass = 1; pass <= 2; pass++) {
		size_t i = 0, j = 0;

		while (i < o->n || j < n->n) {
			const struct model_range *a = i < o->n ? &o->r[i] : NULL;
			const struct model_range *b = j < n->n ? &n->r[j] : NULL;

			if (a && (!b || a->start < b->start ||
				  (a->start == b->start && !model_range_eq(a, b)))) {
				if (pass == 1)
					for (k = nls - 1; k >= 0; k--)
						want_range(w, EV_DEL, ls[k], ofv, a, 0, 0);
				i++;
			} else if (a && b && model_range_eq(a, b)) {
				if (pass == 2) {
					for (k = 0; k < nls; k++)
						if (!w->lis[ls[k]].nonop)
							want_range(w, EV_NOP, ls[k], nfv, b, 0,
								   0);
					if (b->mask & ~a->mask)
						for (k = 0; k < nls; k++)
							want_range(w, EV_LOG_START, ls[k], nfv, b,
								   a->mask, b->mask);
					if (a->mask & ~b->mask)
						for (k = nls - 1; k >= 0; k--)
							want_range(w, EV_LOG_STOP, ls[k], nfv, b,
								   a->mask, b->mask);
				}
				i++;
				j++;
			} else {
				if (pass == 2)
					for (k = 0; k < nls; k++)
						want_range(w, EV_ADD, ls[k], nfv, b, 0, 0);
				j++;
			}
		}
	}
}

static int compare_events(struct world *w, const char *what)
{
	size_t i, n = w->log.n > w->want.n ? w->log.n : w->want.n;
	char a[512], b[512];

	if (w->log.oom || w->want.oom) {
		failf(w, "%s: out of memory recording events\n", what);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (i < w->log.n && i < w->want.n && ev_eq(&w->log.e[i], &w->want.e[i]))
			continue;
		failf(w, "%s: event %zu differs from the expected sequence\n", what, i);
		if (i < w->want.n)
			ev_str(w, &w->want.e[i], a, sizeof(a));
		else
			strcpy(a, "(nothing)");
		if (i < w->log.n)
			ev_str(w, &w->log.e[i], b, sizeof(b));
		else
			strcpy(b, "(nothing)");
		failf(w, "  expected: %s\n  library:  %s\n", a, b);
		failf(w, "  library events (%zu):\n", w->log.n);
		for (i = 0; i < w->log.n && i < 200; i++) {
			ev_str(w, &w->log.e[i], b, sizeof(b));
			failf(w, "    %s\n", b);
		}
		failf(w, "  expected events (%zu):\n", w->want.n);
		for (i = 0; i < w->want.n && i < 200; i++) {
			ev_str(w, &w->want.e[i], a, sizeof(a));
			failf(w, "    %s\n", a);
		}
		return -1;
	}
	return 0;
}

/* --- listeners: properties of one listener's stream --------------------- */

static bool sec_is_fr(const struct ms_section *s, const struct ms_flat_range *fr)
{
	return s->mr == fr->mr && s->offset_within_address_space == fr->start &&
	       s->size == fr->size && s->offset_within_region == fr->offset_in_region &&
	       s->readonly == fr->readonly && s->nonvolatile == fr->nonvolatile &&
	       s->unmergeable == fr->unmergeable;
}

static ssize_t find_in(const struct ms_flat_range *r, size_t n, const struct ms_section *s)
{
	for (size_t i = 0; i < n; i++)
		if (sec_is_fr(s, &r[i]))
			return (ssize_t)i;
	return -1;
}

static ssize_t find_fr(const struct ms_flatview *fv, const struct ms_section *s)
{
	size_t i, n = ms_flatview__nr_ranges(fv);

	for (i = 0; i < n; i++)
		if (sec_is_fr(s, ms_flatview__range(fv, i)))
			return (ssize_t)i;
	return -1;
}

/* The ranges @fv had at the last check (in a quiet world, a copy). */
static const struct ms_flat_range *old_ranges(const struct world *w, int as, size_t *n)
{
	if (w->quiet) {
		*n = w->nsnap[as];
		return w->snap[as];
	}
	*n = ms_flatview__nr_ranges(w->fv[as]);
	return *n ? ms_flatview__range(w->fv[as], 0) : NULL;
}

static bool as_has_nop(const struct world *w, int as)
{
	for (int i = 0; i < NR_LIS; i++)
		if (w->lis[i].live && w->lis[i].as == as && !w->lis[i].nonop)
			return true;
	return false;
}

static int snap_view(struct world *w, int as, const struct ms_flatview *fv)
{
	size_t n = ms_flatview__nr_ranges(fv);
	struct ms_flat_range *r = n ? malloc(n * sizeof(*r)) : NULL;

	if (n && !r) {
		failf(w, "out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		r[i] = *ms_flatview__range(fv, i);
	free(w->snap[as]);
	w->snap[as] = r;
	w->nsnap[as] = n;
	return 0;
}

/*
 * The reference: a full render of the view's root gives the same ranges,
 * whatever patched the installed view.
 */
static int check_full_render(struct world *w, int as, struct ms_flatview *fv)
{
	struct ms_region *root = ms_flatview__root(fv);
	struct ms_flatview *full;
	size_t n = ms_flatview__nr_ranges(fv);
	int ret = 0;

	if (!root)
		return 0;
	full = ms_flatview__render(root, NULL);
	if (!full) {
		failf(w, "ms_flatview__render: out of memory\n");
		return -1;
	}
	if (ms_flatview__nr_ranges(full) != n)
		ret = -1;
	for (size_t i = 0; !ret && i < n; i++) {
		const struct ms_flat_range *a = ms_flatview__range(full, i);
		const struct ms_flat_range *b = ms_flatview__range(fv, i);

		if (a->mr != b->mr || a->start != b->start || a->size != b->size ||
		    a->offset_in_region != b->offset_in_region ||
		    a->dirty_log_mask != b->dirty_log_mask || a->romd_mode != b->romd_mode ||
		    a->readonly != b->readonly || a->nonvolatile != b->nonvolatile ||
		    a->unmergeable != b->unmergeable)
			ret = -1;
	}
	if (ret)
		failf(w, "as%d: installed view (%zu ranges) differs from a full render of its "
		      "root (%zu ranges)\n", as, n, ms_flatview__nr_ranges(full));
	ms_flatview__unref(full);
	return ret;
}

/*
 * The brief's stream properties for listener @slot of address space @as,
 * from the library's own old and new views: one begin and one commit;
 * all dels first (rule 2.4), dels and adds/nops each in ascending address
 * order; every del names a range of the old view, every nop a range of both
 * views, every add a range of the new view that did not survive; the
 * survivors plus the adds are exactly the new view, each once.
 */
static int check_stream(struct world *w, int slot, int as, struct ms_flatview *ofv,
			struct ms_flatview *nfv, bool same_view)
{
	size_t on, nn = ms_flatview__nr_ranges(nfv);
	const struct ms_flat_range *or = old_ranges(w, as, &on);
	bool nonop = w->lis[slot].nonop;
	char *odel = calloc(on + 1, 1), *nseen = calloc(nn + 1, 1);
	int begins = 0, commits = 0, ret = -1;
	bool seen_add = false, have_del = false, have_add = false;
	uint64_t last_del = 0, last_add = 0;
	char buf[512];
	size_t i;

	if (!odel || !nseen) {
		failf(w, "out of memory\n");
		goto out;
	}
	for (i = 0; i < w->log.n; i++) {
		const struct ev *e = &w->log.e[i];
		ssize_t k;

		if (e->lis != slot)
			continue;
		ev_str(w, e, buf, sizeof(buf));
		if (e->type == EV_BEGIN) {
			if (begins++ || commits) {
				failf(w, "L%d: extra begin\n", slot);
				goto out;
			}
			continue;
		}
		if (!begins || commits) {
			failf(w, "L%d: event outside begin/commit: %s\n", slot, buf);
			goto out;
		}
		if (e->type == EV_COMMIT) {
			commits++;
			continue;
		}
		if (same_view) {
			failf(w, "L%d: %s although as%d kept its view object (rule 3.3)\n", slot,
			      buf, as);
			goto out;
		}
		switch (e->type) {
		case EV_DEL:
			if (seen_add) {
				failf(w, "L%d: del after add/nop (rule 2.4): %s\n", slot, buf);
				goto out;
			}
			if (e->s.fv != ofv) {
				failf(w, "L%d: del section not of the old view: %s\n", slot, buf);
				goto out;
			}
			if (have_del && e->s.offset_within_address_space <= last_del) {
				failf(w, "L%d: del out of address order: %s\n", slot, buf);
				goto out;
			}
			have_del = true;
			last_del = e->s.offset_within_address_space;
			k = find_in(or, on, &e->s);
			if (k < 0 || odel[k]) {
				failf(w, "L%d: del of a range %s the old view: %s\n", slot,
				      k < 0 ? "not in" : "deleted twice from", buf);
				goto out;
			}
			odel[k] = 1;
			break;
		case EV_ADD:
		case EV_NOP:
			seen_add = true;
			if (e->s.fv != nfv) {
				failf(w, "L%d: section not of the new view: %s\n", slot, buf);
				goto out;
			}
			if (have_add && e->s.offset_within_address_space <= last_add) {
				failf(w, "L%d: add/nop out of address order: %s\n", slot, buf);
				goto out;
			}
			have_add = true;
			last_add = e->s.offset_within_address_space;
			k = find_fr(nfv, &e->s);
			if (k < 0 || nseen[k]) {
				failf(w, "L%d: %s of a range %s the new view: %s\n", slot,
				      ev_names[e->type], k < 0 ? "not in" : "reported twice for",
				      buf);
				goto out;
			}
			nseen[k] = 1;
			k = find_in(or, on, &e->s);
			if (e->type == EV_NOP && (k < 0 || odel[k] ||
			    or[k].romd_mode !=
			    ms_flatview__range(nfv, find_fr(nfv, &e->s))->romd_mode)) {
				failf(w, "L%d: nop of a range not unchanged (rule 2.3): %s\n", slot,
				      buf);
				goto out;
			}
			if (e->type == EV_ADD && k >= 0 && !odel[k] &&
			    or[k].romd_mode ==
			    ms_flatview__range(nfv, find_fr(nfv, &e->s))->romd_mode) {
				failf(w, "L%d: add of a range that survived in the old view: %s\n",
				      slot, buf);
				goto out;
			}
			break;
		default:
			seen_add = true;
			break;
		}
	}
	if (begins != 1 || commits != 1) {
		failf(w, "L%d: %d begin and %d commit events, expected one each\n", slot, begins,
		      commits);
		goto out;
	}
	if (!same_view) {
		/* Old minus dels plus adds must be the new view, each range once. */
		for (i = 0; i < nn; i++) {
			const struct ms_flat_range *fr = ms_flatview__range(nfv, i);
			struct ms_section s = { .mr = fr->mr, .offset_within_region =
						fr->offset_in_region, .size = fr->size,
						.offset_within_address_space = fr->start,
						.readonly = fr->readonly,
						.nonvolatile = fr->nonvolatile,
						.unmergeable = fr->unmergeable };
			ssize_t k = find_in(or, on, &s);

			/* without region_nop, a range that stayed gets nothing */
			if (!nseen[i] && nonop && k >= 0 && !odel[k] &&
			    or[k].romd_mode == fr->romd_mode)
				continue;
			if (!nseen[i]) {
				fr_str(w, fr, buf, sizeof(buf));
				failf(w, "L%d: new range neither added nor nop'd: %s\n", slot, buf);
				goto out;
			}
		}
		for (i = 0; i < on; i++) {
			const struct ms_flat_range *fr = &or[i];
			struct ms_section s = { .mr = fr->mr, .offset_within_region =
						fr->offset_in_region, .size = fr->size,
						.offset_within_address_space = fr->start,
						.readonly = fr->readonly,
						.nonvolatile = fr->nonvolatile,
						.unmergeable = fr->unmergeable };
			ssize_t k;

			if (odel[i])
				continue;
			k = find_fr(nfv, &s);
			if (k < 0 || ms_flatview__range(nfv, k)->romd_mode != fr->romd_mode) {
				fr_str(w, fr, buf, sizeof(buf));
				failf(w, "L%d: old range gone without a del: %s\n", slot, buf);
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(odel);
	free(nseen);
	return ret;
}

/* --- checks after an outermost commit -------------------------------- */

static int sub_collect(struct ms_region *sub, void *opaque)
{
	struct ms_region **v = opaque;
	int i;

	for (i = 0; i < MODEL_MAX_NODES; i++) {
		if (!v[i]) {
			v[i] = sub;
			return 0;
		}
	}
	return 1;
}

static int check_tree(struct world *w)
{
	const struct model *m = &w->m;
	int id, i, k, kids[MODEL_MAX_NODES];

	for (id = 0; id < m->nr; id++) {
		const struct model_node *n = &m->n[id];
		struct ms_region *got[MODEL_MAX_NODES] = { NULL };
		struct ms_region *r = w->r[id];
		struct ms_region *c = n->container < 0 ? NULL : w->r[n->container];

		if (!n->live)
			continue;
		if (ms_region__container(r) != c || ms_region__addr(r) != n->addr ||
		    (c && ms_region__priority(r) != n->prio) ||
		    ms_region__enabled(r) != n->enabled || ms_region__size128(r) != n->size ||
		    ms_region__readonly(r) != n->readonly ||
		    ms_region__is_mapped(r) != model_is_mapped(m, id) ||
		    ms_region__romd_mode(r) != n->romd ||
		    ms_region__dirty_log_mask(r) != model_mask(m, id) ||
		    (n->alias >= 0 && ms_region__alias_offset(r) != n->alias_offset)) {
			char a[40], b[40];

			failf(w, "%s: accessors differ: container %s/%s addr %#" PRIx64 "/%#"
			      PRIx64 " prio %d/%d enabled %d/%d size %s/%s ro %d/%d mapped %d/%d "
			      "romd %d/%d mask %u/%u alias_offset %#" PRIx64 "/%#" PRIx64
			      " (library/model)\n", w->name[id],
			      rname(w, ms_region__container(r)), c ? w->name[n->container] : "(null)",
			      ms_region__addr(r), n->addr, ms_region__priority(r), n->prio,
			      ms_region__enabled(r), n->enabled,
			      u128_str(ms_region__size128(r), a), u128_str(n->size, b),
			      ms_region__readonly(r), n->readonly, ms_region__is_mapped(r),
			      model_is_mapped(m, id), ms_region__romd_mode(r), n->romd,
			      ms_region__dirty_log_mask(r), model_mask(m, id),
			      ms_region__alias_offset(r), n->alias_offset);
			return -1;
		}
		k = model_children(m, id, kids);
		ms_region__for_each_subregion(r, sub_collect, got);
		for (i = 0; i <= k && i < MODEL_MAX_NODES; i++) {
			if (got[i] != (i < k ? w->r[kids[i]] : NULL)) {
				failf(w, "%s: subregion %d is %s, expected %s (rule 3.3)\n",
				      w->name[id], i, rname(w, got[i]),
				      i < k ? w->name[kids[i]] : "(end)");
				return -1;
			}
		}
	}
	return 0;
}

/*
 * After an outermost commit (or a lone operation at depth 0): @dirty says
 * whether the model expects a topology update (rule 3.9).
 */
static int check_commit(struct world *w, bool dirty)
{
	struct model_view nv[NR_AS] = { { 0 } };
	struct ms_flatview *fv[NR_AS];
	int i, j, k, nls, ls[NR_LIS], ret = -1;

	w->want.n = 0;
	for (i = 0; i < NR_AS; i++) {
		fv[i] = ms_as__flatview(w->as[i]);
		if (!dirty) {
			/* Nothing pending: the installed view stays, whatever changed. */
			nv[i].root = w->mv[i].root;
			if (w->mv[i].n) {
				nv[i].r = malloc(w->mv[i].n * sizeof(*nv[i].r));
				if (!nv[i].r) {
					failf(w, "out of memory\n");
					goto out;
				}
				memcpy(nv[i].r, w->mv[i].r, w->mv[i].n * sizeof(*nv[i].r));
			}
			nv[i].n = nv[i].cap = w->mv[i].n;
		} else if (model_render(&w->m, w->as_root[i], &nv[i])) {
			failf(w, "model: out of memory\n");
			goto out;
		}
	}
	for (i = 0; i < NR_AS; i++) {
		if (!dirty && fv[i] != w->fv[i]) {
			failf(w, "as%d: view replaced without a pending update (rule 3.9, 3.1)\n",
			      i);
			goto out;
		}
		if (dirty && nv[i].root >= 0 && fv[i] == w->fv[i] && as_has_nop(w, i)) {
			failf(w, "as%d: view object not re-rendered (rule 3.3)\n", i);
			goto out;
		}
		/* without an update a view may be stale (a root moved, rule 3.7) */
		if (dirty && check_full_render(w, i, fv[i]))
			goto out;
		if (dirty && nv[i].root < 0 && w->empty && fv[i] != w->empty) {
			failf(w, "as%d: absent root but not the static empty view (rule 7.5)\n", i);
			goto out;
		}
		if (check_view(w, i, &nv[i], fv[i]))
			goto out;
		for (j = 0; j < i; j++) {
			if ((fv[i] == fv[j]) != (nv[i].root == nv[j].root)) {
				failf(w, "as%d and as%d: views %s but the selected roots are %s and "
				      "%s (rule 7.4)\n", j, i, fv[i] == fv[j] ? "shared" : "distinct",
				      nv[j].root < 0 ? "(none)" : w->name[nv[j].root],
				      nv[i].root < 0 ? "(none)" : w->name[nv[i].root]);
				goto out;
			}
		}
	}

	if (dirty) {
		for (i = 0; i < NR_AS; i++) {
			bool same = w->mv[i].root < 0 && nv[i].root < 0;

			nls = lis_order(w, i, ls);
			for (k = 0; k < nls; k++)
				if (check_stream(w, ls[k], i, w->fv[i], fv[i], same))
					goto out;
		}
		/* The exact sequence: rule 3.1 steps 2-5, rule 2.2 per address space. */
		nls = lis_order(w, -1, ls);
		for (k = 0; k < nls; k++)
			want_simple(w, EV_BEGIN, ls[k]);
		for (i = 0; i < NR_AS; i++) {
			int als[NR_LIS], nals = lis_order(w, i, als);

			if (nals && !(w->mv[i].root < 0 && nv[i].root < 0))
				want_diff(w, als, nals, &w->mv[i], w->fv[i], &nv[i], fv[i]);
		}
		for (k = 0; k < nls; k++)
			want_simple(w, EV_COMMIT, ls[k]);
	}
	w->st.checks++;
	w->st.dirty += dirty;
	w->st.events += w->log.n;
	for (i = 0; i < NR_AS; i++)
		w->st.ranges += nv[i].n;
	if (compare_events(w, dirty ? "commit" : "operation without pending update"))
		goto out;
	if (check_tree(w))
		goto out;

	for (i = 0; i < NR_AS; i++) {
		if (nv[i].root < 0 && !w->empty)
			w->empty = fv[i];
		if (w->quiet) {
			if (snap_view(w, i, fv[i]))
				goto out;
		} else {
			ms_flatview__ref(fv[i]);
			ms_flatview__unref(w->fv[i]);
		}
		w->fv[i] = fv[i];
		model_view_free(&w->mv[i]);
		w->mv[i] = nv[i];
		nv[i] = (struct model_view){ 0 };
	}
	ret = 0;
out:
	for (i = 0; i < NR_AS; i++)
		model_view_free(&nv[i]);
	w->log.n = 0;
	return ret;
}

/* --- listener registration (rules 6.1, 6.2) ------------------------------ */

static int lis_unregister(struct world *w, int slot)
{
	struct lis *li = &w->lis[slot];
	const struct model_view *mv = &w->mv[li->as];
	size_t i;

	if (!li->live)
		return 0;
	w->log.n = 0;
	w->want.n = 0;
	ms_listener__unregister(li->l);
	li->live = false;
	want_simple(w, EV_BEGIN, slot);
	for (i = 0; i < mv->n; i++) {
		if (mv->r[i].mask)
			want_range(w, EV_LOG_STOP, slot, w->fv[li->as], &mv->r[i], mv->r[i].mask, 0);
		want_range(w, EV_DEL, slot, w->fv[li->as], &mv->r[i], 0, 0);
	}
	want_simple(w, EV_COMMIT, slot);
	if (compare_events(w, "unregister replay (rule 6.2)"))
		return -1;
	w->log.n = 0;
	w->want.n = 0;
	ms_listener__free(li->l);
	li->l = NULL;
	return compare_events(w, "free of an unregistered listener");
}

static int lis_register(struct world *w, int slot, int as, unsigned int prio)
{
	struct lis *li = &w->lis[slot];
	const struct model_view *mv = &w->mv[as];
	struct ms_error err = { 0 };
	size_t i;
	int ret;

	w->log.n = 0;
	w->want.n = 0;
	li->w = w;
	li->slot = slot;
	li->as = as;
	li->prio = prio;
	li->nonop = w->quiet;
	li->l = ms_listener__new(w->quiet ? &lis_ops_nonop : &lis_ops, li, prio, "test");
	if (!li->l) {
		failf(w, "ms_listener__new: %s\n", strerror(errno));
		return -1;
	}
	ret = ms_listener__register(li->l, w->as[as], &err);
	if (ret) {
		failf(w, "ms_listener__register: %d %s\n", ret, err.msg);
		return -1;
	}
	li->live = true;
	li->regseq = ++w->regseq;
	/* Rule 6.1: begin, add (+ log_start) per range in order, commit; no nop. */
	want_simple(w, EV_BEGIN, slot);
	for (i = 0; i < mv->n; i++) {
		want_range(w, EV_ADD, slot, w->fv[as], &mv->r[i], 0, 0);
		if (mv->r[i].mask)
			want_range(w, EV_LOG_START, slot, w->fv[as], &mv->r[i], 0, mv->r[i].mask);
	}
	want_simple(w, EV_COMMIT, slot);
	ret = compare_events(w, "registration replay (rule 6.1)");
	w->log.n = 0;
	return ret;
}

/* --- the world: library + model --------------------------------------- */

static void trace(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(struct world *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->trace)
		return;
	va_start(ap, fmt);
	fprintf(w->trace, "#   ");
	vfprintf(w->trace, fmt, ap);
	fprintf(w->trace, "\n");
	va_end(ap);
}

static const char *const kind_fn[] = {
	[MK_CONTAINER] = "container", [MK_IO] = "io", [MK_RAM] = "ram", [MK_ROM] = "rom",
	[MK_ROM_DEVICE] = "rom_device", [MK_RAM_DEVICE] = "ram_device", [MK_ALIAS] = "alias",
};

static const enum ms_region_kind kind_map[] = {
	[MK_CONTAINER] = MS_REGION_CONTAINER, [MK_IO] = MS_REGION_IO, [MK_RAM] = MS_REGION_RAM,
	[MK_ROM] = MS_REGION_ROM, [MK_ROM_DEVICE] = MS_REGION_ROM_DEVICE,
	[MK_RAM_DEVICE] = MS_REGION_RAM_DEVICE, [MK_ALIAS] = MS_REGION_ALIAS,
};

/* One operation as the C call it makes (the trace is a reproducer). */
static void op_fmt(const struct op *op, char *buf, size_t len)
{
	char x[40], y[40], nm[32];

	u64_arg(op->x, x);
	u64_arg(op->y, y);
	switch (op->type) {
	case OP_NEW:
		if (op->name)
			snprintf(nm, sizeof(nm), "%s", op->name);
		else
			snprintf(nm, sizeof(nm), "r%d", op->a);
		switch (op->kind) {
		case MK_CONTAINER:
			snprintf(buf, len, "r%d = ms_region__new_container(ctx, \"%s\", %s, NULL);",
				 op->a, nm, x);
			break;
		case MK_IO:
			snprintf(buf, len, "r%d = ms_region__new_io(ctx, \"%s\", %s, NULL, NULL, NULL);",
				 op->a, nm, x);
			break;
		case MK_RAM:
			snprintf(buf, len,
				 "r%d = ms_region__new_ram(ctx, \"%s\", %s, MS_RAM_ANON, NULL);",
				 op->a, nm, x);
			break;
		case MK_ROM:
			snprintf(buf, len, "r%d = ms_region__new_rom(ctx, \"%s\", %s, NULL);", op->a,
				 nm, x);
			break;
		case MK_ROM_DEVICE:
			snprintf(buf, len,
				 "r%d = ms_region__new_rom_device(ctx, \"%s\", %s, &ops, NULL, NULL);",
				 op->a, nm, x);
			break;
		case MK_RAM_DEVICE:
			snprintf(buf, len, "r%d = ms_region__new_ram_device(ctx, \"%s\", %s, "
				 "malloc(%s), NULL, NULL, NULL);", op->a, nm, x, x);
			break;
		default:
			snprintf(buf, len, "r%d = ms_region__new_alias(ctx, \"%s\", r%d, %s, %s, NULL);",
				 op->a, nm, op->b, y, x);
			break;
		}
		break;
	case OP_ADD:
		if (op->flag)
			snprintf(buf, len, "ms_region__add_subregion_overlap(r%d, %s, r%d, %d, NULL);",
				 op->b, x, op->a, op->prio);
		else
			snprintf(buf, len, "ms_region__add_subregion(r%d, %s, r%d, NULL);", op->b, x,
				 op->a);
		break;
	case OP_DEL:
		snprintf(buf, len, "ms_region__del_subregion(r%d, r%d, NULL);", op->b, op->a);
		break;
	case OP_SET_ADDR:
		snprintf(buf, len, "ms_region__set_address(r%d, %s);", op->a, x);
		break;
	case OP_SET_SIZE:
		snprintf(buf, len, "ms_region__set_size(r%d, %s, NULL);", op->a, x);
		break;
	case OP_SET_ENABLED:
		snprintf(buf, len, "ms_region__set_enabled(r%d, %d);", op->a, op->flag);
		break;
	case OP_SET_RO:
		snprintf(buf, len, "ms_region__set_readonly(r%d, %d);", op->a, op->flag);
		break;
	case OP_SET_NV:
		snprintf(buf, len, "ms_region__set_nonvolatile(r%d, %d);", op->a, op->flag);
		break;
	case OP_SET_UM:
		snprintf(buf, len, "ms_region__set_unmergeable(r%d, %d);", op->a, op->flag);
		break;
	case OP_SET_ROMD:
		snprintf(buf, len, "ms_region__set_romd(r%d, %d, NULL);", op->a, op->flag);
		break;
	case OP_SET_ALIAS_OFF:
		snprintf(buf, len, "ms_region__set_alias_offset(r%d, %s, NULL);", op->a, x);
		break;
	case OP_SET_LOG:
		snprintf(buf, len, "ms_region__set_log(r%d, %d);", op->a, op->flag);
		break;
	case OP_BEGIN:
		snprintf(buf, len, "ms_ctx__begin(ctx);");
		break;
	case OP_COMMIT:
		snprintf(buf, len, "ms_ctx__commit(ctx);");
		break;
	case OP_RELISTEN:
		snprintf(buf, len, "/* L%d: unregister and free, then a new listener of "
			 "priority %d on as%d */", ROT_LIS, op->prio, op->a);
		break;
	case OP_FREE:
		snprintf(buf, len, "ms_region__unref(r%d);", op->a);
		break;
	default:
		snprintf(buf, len, "/* unknown operation %d */", op->type);
		break;
	}
}

static bool live(const struct world *w, int id)
{
	return id >= 0 && id < MODEL_MAX_NODES && w->m.n[id].live;
}

static int do_new(struct world *w, const struct op *op)
{
	struct ms_error err = { 0 };
	struct ms_region *r = NULL;
	int id = op->a;
	const char *nm;

	if (id < 0 || id >= MODEL_MAX_NODES || live(w, id) || op->kind >= MK_NR ||
	    (op->kind == MK_ALIAS && !live(w, op->b)))
		return 0;
	if (op->name)
		snprintf(w->name[id], sizeof(w->name[id]), "%s", op->name);
	else
		snprintf(w->name[id], sizeof(w->name[id]), "r%d", id);
	nm = w->name[id];
	switch (op->kind) {
	case MK_CONTAINER:
		r = ms_region__new_container(w->ctx, nm, op->x, &err);
		break;
	case MK_IO:
		r = ms_region__new_io(w->ctx, nm, op->x, NULL, NULL, &err);
		break;
	case MK_RAM:
		r = ms_region__new_ram(w->ctx, nm, op->x, MS_RAM_ANON, &err);
		break;
	case MK_ROM:
		r = ms_region__new_rom(w->ctx, nm, op->x, &err);
		break;
	case MK_ROM_DEVICE:
		r = ms_region__new_rom_device(w->ctx, nm, op->x, &dummy_ops, NULL, &err);
		break;
	case MK_RAM_DEVICE:
		w->host[id] = calloc(1, op->x ? op->x : 1);
		if (!w->host[id]) {
			failf(w, "out of memory\n");
			return -1;
		}
		r = ms_region__new_ram_device(w->ctx, nm, op->x, w->host[id], NULL, NULL, &err);
		break;
	case MK_ALIAS:
		r = ms_region__new_alias(w->ctx, nm, w->r[op->b], op->y, op->x, &err);
		break;
	}
	if (!r) {
		failf(w, "creating %s %s: %s (%s)\n", kind_fn[op->kind], nm, strerror(errno),
		      err.msg);
		return -1;
	}
	w->r[id] = r;
	model_new(&w->m, id, op->kind, op->x, op->b, op->y);
	if (ms_region__kind(r) != kind_map[op->kind] ||
	    ms_region__terminates(r) != model_terminates(&w->m, id)) {
		failf(w, "%s: kind %d terminates %d, expected %d %d\n", nm, ms_region__kind(r),
		      ms_region__terminates(r), kind_map[op->kind], model_terminates(&w->m, id));
		return -1;
	}
	return 0;
}

static int expect_ret(struct world *w, const char *what, int got, int want, int alt,
		      const struct ms_error *err)
{
	w->last_ret = got;
	if (got == want || (alt && got == alt))
		return 0;
	failf(w, "%s returned %d (%s), expected %d%s\n", what, got, err ? err->msg : "",
	      want, alt ? " or -ELOOP" : "");
	return -1;
}

/* apply_op() without the trace. */
static int apply_op_inner(struct world *w, const struct op *op)
{
	struct model *m = &w->m;
	struct ms_error err = { 0 };
	int want, got, alt = 0;

	switch (op->type) {
	case OP_NEW:
		if (do_new(w, op))
			return -1;
		break;
	case OP_ADD:
		if (!live(w, op->a) || !live(w, op->b))
			return 0;
		want = model_add(m, op->b, op->a, op->x, op->flag ? op->prio : 0);
		if (want == -EBUSY && model_would_loop(m, op->b, op->a))
			alt = -ELOOP;
		if (op->flag) {
			got = ms_region__add_subregion_overlap(w->r[op->b], op->x, w->r[op->a],
							       op->prio, &err);
		} else {
			got = ms_region__add_subregion(w->r[op->b], op->x, w->r[op->a], &err);
		}
		if (expect_ret(w, "add_subregion", got, want, alt, &err))
			return -1;
		break;
	case OP_DEL:
		if (!live(w, op->a) || !live(w, op->b))
			return 0;
		want = model_del(m, op->b, op->a);
		got = ms_region__del_subregion(w->r[op->b], w->r[op->a], &err);
		if (expect_ret(w, "del_subregion", got, want, 0, &err))
			return -1;
		break;
	case OP_SET_ADDR:
		if (!live(w, op->a))
			return 0;
		model_set_address(m, op->a, op->x);
		ms_region__set_address(w->r[op->a], op->x);
		break;
	case OP_SET_SIZE:
		if (!live(w, op->a))
			return 0;
		want = model_set_size(m, op->a, op->x);
		got = ms_region__set_size(w->r[op->a], op->x, &err);
		if (expect_ret(w, "set_size", got, want, 0, &err))
			return -1;
		break;
	case OP_SET_ENABLED:
		if (!live(w, op->a))
			return 0;
		model_set_enabled(m, op->a, op->flag);
		ms_region__set_enabled(w->r[op->a], op->flag);
		break;
	case OP_SET_RO:
		if (!live(w, op->a))
			return 0;
		model_set_readonly(m, op->a, op->flag);
		ms_region__set_readonly(w->r[op->a], op->flag);
		break;
	case OP_SET_NV:
		if (!live(w, op->a))
			return 0;
		model_set_nonvolatile(m, op->a, op->flag);
		ms_region__set_nonvolatile(w->r[op->a], op->flag);
		break;
	case OP_SET_UM:
		if (!live(w, op->a))
			return 0;
		model_set_unmergeable(m, op->a, op->flag);
		ms_region__set_unmergeable(w->r[op->a], op->flag);
		break;
	case OP_SET_ROMD:
		if (!live(w, op->a))
			return 0;
		want = model_set_romd(m, op->a, op->flag);
		got = ms_region__set_romd(w->r[op->a], op->flag, &err);
		if (expect_ret(w, "set_romd", got, want, 0, &err))
			return -1;
		break;
	case OP_SET_ALIAS_OFF:
		if (!live(w, op->a))
			return 0;
		want = model_set_alias_offset(m, op->a, op->x);
		got = ms_region__set_alias_offset(w->r[op->a], op->x, &err);
		if (expect_ret(w, "set_alias_offset", got, want, 0, &err))
			return -1;
		break;
	case OP_SET_LOG:
		/* QEMU has no defined behaviour below zero users; never go there. */
		if (!live(w, op->a) || (!op->flag && !m->n[op->a].log_users))
			return 0;
		model_set_log(m, op->a, op->flag);
		ms_region__set_log(w->r[op->a], op->flag);
		break;
	case OP_BEGIN:
		model_begin(m);
		ms_ctx__begin(w->ctx);
		break;
	case OP_COMMIT:
		want = model_commit(m);
		got = ms_ctx__commit(w->ctx);
		if (expect_ret(w, "ms_ctx__commit", got, want < 0 ? want : 0, 0, NULL))
			return -1;
		break;
	case OP_FREE:
		/*
		 * Unmapped, no alias onto it, not a root, outside transactions:
		 * no view and no other region holds it, so this reference is the
		 * last and the region is destroyed now (rule 3.11).
		 */
		model_free(m, op->a, NR_AS - 1);
		ms_region__unref(w->r[op->a]);
		w->r[op->a] = NULL;
		free(w->host[op->a]);
		w->host[op->a] = NULL;
		break;
	case OP_RELISTEN:
		if (m->depth || op->a < 0 || op->a >= NR_AS)
			return 0;
		if (lis_unregister(w, ROT_LIS) || lis_register(w, ROT_LIS, op->a, op->prio))
			return -1;
		break;
	default:
		return 0;
	}
	if (ms_ctx__depth(w->ctx) != m->depth) {
		failf(w, "transaction depth %u, expected %u\n", ms_ctx__depth(w->ctx), m->depth);
		return -1;
	}
	/* No address spaces yet while world_init() creates their roots. */
	if (m->depth == 0 && w->as[NR_AS - 1]) {
		bool dirty = m->pending;

		m->pending = false;
		return check_commit(w, dirty);
	}
	return 0;
}

static bool op_applies(const struct world *w, const struct op *op)
{
	switch (op->type) {
	case OP_NEW:
		return op->a >= 0 && op->a < MODEL_MAX_NODES && !live(w, op->a) &&
		       op->kind < MK_NR && (op->kind != MK_ALIAS || live(w, op->b));
	case OP_ADD:
	case OP_DEL:
		return live(w, op->a) && live(w, op->b);
	case OP_SET_LOG:
		return live(w, op->a) && (op->flag || w->m.n[op->a].log_users);
	case OP_BEGIN:
	case OP_COMMIT:
		return true;
	case OP_RELISTEN:
		return !w->m.depth && op->a >= 0 && op->a < NR_AS;
	case OP_FREE: {
		/* Only where the unref really destroys it (see apply_op_inner). */
		struct model tmp;

		if (w->m.depth || !live(w, op->a))
			return false;
		memcpy(&tmp, &w->m, sizeof(tmp));
		return !model_free(&tmp, op->a, NR_AS - 1);
	}
	default:
		return op->type < OP_NR && live(w, op->a);
	}
}

/*
 * Apply one operation to both sides and, at depth 0, check everything.
 * Operations naming regions that do not exist (in a shrunk trace) are
 * skipped. Return: 0, or -1 with w->msg set.
 */
static int apply_op(struct world *w, const struct op *op)
{
	char buf[256];
	int ret;

	if (!op_applies(w, op))
		return 0;
	if (w->trace) {
		op_fmt(op, buf, sizeof(buf));
		trace(w, "%s", buf);
		fflush(w->trace);
	}
	w->last_ret = 0;
	w->st.ops += w->as[NR_AS - 1] != NULL;
	ret = apply_op_inner(w, op);
	w->st.errors += w->last_ret != 0;
	if (w->last_ret)
		trace(w, "  /* returned %d */", w->last_ret);
	return ret;
}

struct geometry {
	const char *name;
	uint64_t c2_size;		/* size of the root of as2 */
	unsigned int high_pct;		/* share of values near 2^63 and 2^64 */
	bool quiet;			/* see struct world */
};

static int world_init(struct world *w, const struct geometry *g, FILE *tr)
{
	static const struct op setup[] = {
		{ .type = OP_NEW, .a = 0, .kind = MK_CONTAINER, .x = UINT64_MAX,
		  .name = "system" },
		{ .type = OP_NEW, .a = 1, .kind = MK_ALIAS, .x = UINT64_MAX, .b = 0,
		  .name = "bm" },
	};
	struct op c2 = { .type = OP_NEW, .a = 2, .kind = MK_CONTAINER, .x = g->c2_size,
			 .name = "c2" };
	static const unsigned int prio[NR_LIS - 1] = { 10, 0, 10, 5 };
	static const int lis_as[NR_LIS - 1] = { 0, 0, 1, 2 };
	static const char *const as_name[NR_AS] = { "memory", "bm", "c2" };
	int i;

	memset(w, 0, sizeof(*w));
	w->trace = tr;
	w->quiet = g->quiet;
	model_init(&w->m);
	trace(w, "/* setup (ops: listener callbacks recording every event) */");
	w->ctx = ms_ctx__new();
	if (!w->ctx) {
		failf(w, "ms_ctx__new: %s\n", strerror(errno));
		return -1;
	}
	if (apply_op(w, &setup[0]) || apply_op(w, &setup[1]) || apply_op(w, &c2))
		return -1;
	for (i = 0; i < NR_AS; i++) {
		struct ms_error err = { 0 };

		w->as_root[i] = i;
		trace(w, "as%d = ms_as__new(ctx, r%d, \"%s\", NULL);", i, i, as_name[i]);
		w->as[i] = ms_as__new(w->ctx, w->r[i], as_name[i], &err);
		if (!w->as[i]) {
			failf(w, "ms_as__new: %s\n", err.msg);
			return -1;
		}
		w->fv[i] = ms_as__flatview(w->as[i]);
		if (w->quiet ? snap_view(w, i, w->fv[i]) : !ms_flatview__ref(w->fv[i]))
			return -1;
		if (model_render(&w->m, i, &w->mv[i])) {
			failf(w, "model: out of memory\n");
			return -1;
		}
		if (w->mv[i].root < 0 && !w->empty)
			w->empty = w->fv[i];
		if (check_view(w, i, &w->mv[i], w->fv[i]))
			return -1;
	}
	if (w->log.n) {
		failf(w, "events at address space creation (rule 7.2)\n");
		return -1;
	}
	for (i = 0; i < NR_LIS - 1; i++) {
		trace(w, "L%d = ms_listener__new(&ops, NULL, %u, NULL); "
		      "ms_listener__register(L%d, as%d, NULL);", i, prio[i], i, lis_as[i]);
		if (lis_register(w, i, lis_as[i], prio[i]))
			return -1;
	}
	trace(w, "/* end of setup */");
	return 0;
}

static void world_fini(struct world *w)
{
	int i;

	for (i = 0; i < NR_LIS; i++)
		ms_listener__free(w->lis[i].l);
	for (i = 0; i < NR_AS; i++) {
		if (!w->quiet)
			ms_flatview__unref(w->fv[i]);
		free(w->snap[i]);
		ms_as__free(w->as[i]);
		model_view_free(&w->mv[i]);
	}
	for (i = 0; i < MODEL_MAX_NODES; i++)
		ms_region__unref(w->r[i]);
	ms_ctx__free(w->ctx);
	for (i = 0; i < MODEL_MAX_NODES; i++)
		free(w->host[i]);
	free(w->log.e);
	free(w->want.e);
}

/* Close transactions a shrunk trace left open, checking the last commit. */
static int world_finish(struct world *w)
{
	static const struct op commit = { .type = OP_COMMIT };

	while (w->m.depth)
		if (apply_op(w, &commit))
			return -1;
	return 0;
}

/* --- generator ------------------------------------------------------------ */

struct gen {
	uint64_t rng;
	const struct geometry *g;
	struct op plan;		/* next operation, if plan.type != OP_NR */
};

static uint64_t rnd(struct gen *g, uint64_t n)
{
	return model_rand_below(&g->rng, n);
}

static bool high(struct gen *g)
{
	return rnd(g, 100) < g->g->high_pct;
}

/* Small values, mostly multiples of 4 so that boundaries coincide often. */
static uint64_t small(struct gen *g, uint64_t lim)
{
	return rnd(g, 3) ? 4 * rnd(g, lim / 4 + 1) : rnd(g, lim + 1);
}

static uint64_t pick_addr(struct gen *g)
{
	if (!high(g))
		return small(g, 120);
	switch (rnd(g, 5)) {
	case 0:
		return UINT64_MAX - small(g, 40);		/* straddles 2^64 */
	case 1:
		return -(uint64_t)(4 * (1 + rnd(g, 12)));
	case 2:
		return (1ULL << 63) - 32 + small(g, 60);
	case 3:
		return model_rand(&g->rng);
	default:
		return small(g, 60);
	}
}

static uint64_t pick_size(struct gen *g, bool ram)
{
	if (ram)
		return 1 + small(g, 47);
	if (!high(g))
		return small(g, 48);
	switch (rnd(g, 4)) {
	case 0:
		return UINT64_MAX;				/* 2^64 */
	case 1:
		return UINT64_MAX - 1 - small(g, 40);
	case 2:
		return 1ULL << 63;
	default:
		return small(g, 48);
	}
}

static uint64_t pick_alias_off(struct gen *g, const struct model_node *t)
{
	/* Mostly inside the target (system: its low part), else past its end. */
	if (t && t->size && rnd(g, 10) < 7)
		return rnd(g, t->size < 64 ? (uint64_t)t->size : 64);
	if (!high(g))
		return small(g, 72);
	switch (rnd(g, 3)) {
	case 0:
		return UINT64_MAX - small(g, 60);	/* large: the base goes negative */
	case 1:
		return (1ULL << 63) + small(g, 60);
	default:
		return small(g, 72);
	}
}

static bool ram_kind(enum model_kind k)
{
	return k == MK_RAM || k == MK_ROM || k == MK_ROM_DEVICE || k == MK_RAM_DEVICE;
}

static int pick_node(const struct world *w, struct gen *g)
{
	int id;

	do
		id = (int)rnd(g, w->m.nr);
	while (!w->m.n[id].live);
	return id;
}

static int pick_where(const struct world *w, struct gen *g, bool want_container)
{
	int i, k = 0, v[MODEL_MAX_NODES];

	for (i = 0; i < w->m.nr; i++)
		if (w->m.n[i].live && (w->m.n[i].container >= 0) == want_container)
			v[k++] = i;
	return k ? v[rnd(g, k)] : -1;
}

/* Is @id under system through its container chain? */
static bool in_system(const struct world *w, int id)
{
	int guard = 0;

	while (id > 0 && guard++ < MODEL_MAX_NODES)
		id = w->m.n[id].container;
	return id == 0;
}

/* A place worth mapping into: system, something rendered, or anything. */
static int pick_container(const struct world *w, struct gen *g)
{
	int i, k = 0, v[MODEL_MAX_NODES], r = (int)rnd(g, 10);

	if (r < 4)
		return 0;
	if (r < 8) {
		for (i = 1; i < w->m.nr; i++)
			if (w->m.n[i].live && w->m.n[i].kind != MK_ALIAS && in_system(w, i))
				v[k++] = i;
		if (k)
			return v[rnd(g, k)];
	}
	return pick_node(w, g);
}

static int free_slot(const struct world *w)
{
	int i;

	for (i = NR_AS; i < w->m.nr; i++)
		if (!w->m.n[i].live)
			return i;
	return w->m.nr;
}

/* A mapped small alias or terminating region to put a twin window beside. */
static int pick_twin(const struct world *w, struct gen *g)
{
	int i, k = 0, v[MODEL_MAX_NODES];

	for (i = 1; i < w->m.nr; i++) {
		const struct model_node *n = &w->m.n[i];

		if (n->live && n->container >= 0 && n->size < 64 && n->kind != MK_CONTAINER &&
		    in_system(w, i))
			v[k++] = i;
	}
	return k ? v[rnd(g, k)] : -1;
}

static int32_t pick_prio(struct gen *g)
{
	return (int32_t)rnd(g, 4) - 1;
}

static struct op gen_op(const struct world *w, struct gen *g, int max_nodes)
{
	const struct model *m = &w->m;
	struct op op = { 0 };
	int live_nodes = 0, i, r;

	if (g->plan.type != OP_NR) {
		op = g->plan;
		g->plan.type = OP_NR;
		return op;
	}
	for (i = 0; i < m->nr; i++)
		live_nodes += m->n[i].live;
	if (live_nodes < max_nodes && rnd(g, 3) == 0 && (r = pick_twin(w, g)) >= 0) {
		/*
		 * A window next to a mapped alias or region, onto the following
		 * part of the same target: the two render pieces touch and merge
		 * unless one is unmergeable (rule 6.2).
		 */
		const struct model_node *n = &m->n[r];

		op.type = OP_NEW;
		op.a = (int16_t)free_slot(w);
		op.kind = MK_ALIAS;
		op.b = (int16_t)(n->kind == MK_ALIAS ? n->alias : r);
		op.y = (n->kind == MK_ALIAS ? n->alias_offset : 0) + (uint64_t)n->size;
		op.x = 1 + small(g, 24);
		g->plan = (struct op){ .type = OP_ADD, .a = op.a, .b = (int16_t)n->container,
				       .x = n->addr + (uint64_t)n->size, .prio = n->prio,
				       .flag = true };
		return op;
	}
	if (live_nodes < max_nodes && (live_nodes < 6 || rnd(g, 100) < 6)) {
		op.type = OP_NEW;
		op.a = (int16_t)free_slot(w);
		r = (int)rnd(g, 100);
		op.kind = r < 18 ? MK_CONTAINER : r < 36 ? MK_IO : r < 52 ? MK_RAM :
			  r < 58 ? MK_ROM : r < 64 ? MK_ROM_DEVICE : r < 68 ? MK_RAM_DEVICE :
			  MK_ALIAS;
		op.x = pick_size(g, ram_kind(op.kind));
		if (op.kind == MK_ALIAS) {
			op.b = (int16_t)(rnd(g, 3) ? pick_container(w, g) : pick_node(w, g));
			op.y = pick_alias_off(g, &m->n[op.b]);
		}
		return op;
	}
	for (;;) {
		r = (int)rnd(g, 100);
		/* Leave system (2^64 at 0) alone mostly, or nothing renders. */
		do
			op.a = (int16_t)pick_node(w, g);
		while (!op.a && rnd(g, 100));
		/* Flags mostly off, regions mostly on: see also OP_SET_ENABLED. */
		op.flag = rnd(g, 10) < 3;
		if (r < 24) {
			op.type = OP_ADD;
			/* Mostly an unmapped region (system rarely): else -EBUSY. */
			i = rnd(g, 20) ? pick_where(w, g, false) : -1;
			if (!i && rnd(g, 30))
				i = pick_where(w, g, false);
			op.a = (int16_t)(i >= 0 ? i : op.a);
			op.b = (int16_t)pick_container(w, g);
			op.x = pick_addr(g);
			/* Inside a small container mostly, else it is clipped away. */
			if (op.b && m->n[op.b].size < 64 && rnd(g, 10) < 7)
				op.x = rnd(g, (uint64_t)m->n[op.b].size + 4);
			op.prio = pick_prio(g);
			op.flag = rnd(g, 3) != 0;
		} else if (r < 32) {
			op.type = OP_DEL;
			i = pick_where(w, g, true);
			if (i < 0)
				continue;
			op.a = (int16_t)i;
			op.b = (int16_t)(rnd(g, 12) ? m->n[i].container : pick_node(w, g));
		} else if (r < 38) {
			op.type = OP_SET_ADDR;
			op.x = pick_addr(g);
			if (!op.a && rnd(g, 10) < 7)
				op.x = 0;
			else if (m->n[op.a].container > 0 && rnd(g, 10) < 7)
				op.x = rnd(g, (uint64_t)m->n[m->n[op.a].container].size < 64 ?
					   (uint64_t)m->n[m->n[op.a].container].size + 4 : 64);
		} else if (r < 45) {
			op.type = OP_SET_SIZE;
			/*
			 * Growing a RAM device past its caller memory is covered by
			 * hand_ram_device_resize alone, so that a failure there does
			 * not hide everything else.
			 */
			if (ram_kind(m->n[op.a].kind))
				op.x = rnd(g, 5) || m->n[op.a].kind == MK_RAM_DEVICE ?
				       (uint64_t)rnd(g, (uint64_t)m->n[op.a].alloc + 1) :
				       rnd(g, 2) ? 1ULL << 40 : UINT64_MAX;
			else
				op.x = pick_size(g, false);
			if (!op.a && rnd(g, 10) < 7)
				op.x = UINT64_MAX;
		} else if (r < 53) {
			op.type = OP_SET_ENABLED;
			op.flag = rnd(g, 10) < 8;
		} else if (r < 58) {
			op.type = OP_SET_RO;
		} else if (r < 62) {
			op.type = OP_SET_NV;
		} else if (r < 66) {
			op.type = OP_SET_UM;
		} else if (r < 70) {
			op.type = OP_SET_ROMD;
			op.flag = rnd(g, 2);
			if (rnd(g, 4)) {
				i = 0;
				while (i++ < 8 && m->n[op.a].kind != MK_ROM_DEVICE)
					op.a = (int16_t)pick_node(w, g);
			}
		} else if (r < 78) {
			op.type = OP_SET_ALIAS_OFF;
			if (rnd(g, 6)) {
				i = 0;
				while (i++ < 8 && m->n[op.a].kind != MK_ALIAS)
					op.a = (int16_t)pick_node(w, g);
			}
			op.x = m->n[op.a].kind == MK_ALIAS ?
			       pick_alias_off(g, &m->n[m->n[op.a].alias]) : pick_alias_off(g, NULL);
		} else if (r < 82) {
			op.type = OP_SET_LOG;
			op.flag = rnd(g, 2);
			if (!op.flag && !m->n[op.a].log_users)
				continue;
		} else if (r < 89) {
			if (m->depth >= MAX_DEPTH)
				continue;
			op.type = OP_BEGIN;
		} else if (r < 97) {
			if (!m->depth && rnd(g, 8))
				continue;
			op.type = OP_COMMIT;
		} else if (r < 99) {
			/* Unmapped regions that nothing refers to get freed. */
			for (i = 0; i < m->nr; i++) {
				op.a = (int16_t)((op.a + 1) % m->nr);
				op.type = OP_FREE;
				if (op_applies(w, &op))
					return op;
			}
			continue;
		} else {
			if (m->depth)
				continue;
			op.type = OP_RELISTEN;
			op.a = (int16_t)rnd(g, NR_AS);
			op.prio = (int32_t)(5 * rnd(g, 3));
		}
		return op;
	}
}

/* --- episodes, replay and shrinking --------------------------------------- */

struct shared {
	struct stats st;	/* of a successful episode */
	size_t n;		/* operations logged */
	ssize_t fail_at;	/* index of the failing operation, -1 */
	char msg[MSG_LEN];
	struct op ops[];
};

static struct shared *shared_new(size_t cap)
{
	struct shared *sh = mmap(NULL, sizeof(*sh) + cap * sizeof(struct op),
				 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return sh == MAP_FAILED ? NULL : sh;
}

static void shared_free(struct shared *sh, size_t cap)
{
	munmap(sh, sizeof(*sh) + cap * sizeof(struct op));
}

static void child_fail(struct shared *sh, struct world *w, ssize_t at)
{
	sh->fail_at = at;
	memcpy(sh->msg, w->msg, sizeof(sh->msg));
	sh->msg[sizeof(sh->msg) - 1] = 0;
	_exit(1);
}

/*
 * Run @ops in a child (crashes and hangs are failures too). Return: true
 * if they fail; sh->fail_at and sh->msg tell where and why.
 */
static bool replay(struct shared *sh, const struct op *ops, size_t n, const struct geometry *g,
		   FILE *tr)
{
	int status;
	pid_t pid;

	sh->fail_at = -1;
	sh->msg[0] = 0;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		struct world *w = malloc(sizeof(*w));
		size_t i;

		alarm(60);
		if (!w)
			_exit(2);
		if (world_init(w, g, tr))
			child_fail(sh, w, -1);
		for (i = 0; i < n; i++) {
			sh->fail_at = (ssize_t)i;
			if (apply_op(w, &ops[i]))
				child_fail(sh, w, (ssize_t)i);
		}
		sh->fail_at = (ssize_t)n;
		if (world_finish(w))
			child_fail(sh, w, (ssize_t)n);
		world_fini(w);
		free(w);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return false;
	if (WIFSIGNALED(status))
		snprintf(sh->msg + strlen(sh->msg), sizeof(sh->msg) - strlen(sh->msg),
			 "killed by signal %d (%s) at operation %zd\n", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), sh->fail_at);
	return true;
}

/*
 * Delta debugging: drop chunks of operations, halving the chunk size,
 * while the failure persists; every try is a replay from scratch.
 */
static size_t shrink(struct shared *sh, struct op *ops, size_t n, const struct geometry *g)
{
	struct op *tmp = malloc(n * sizeof(*tmp));
	time_t t0 = time(NULL);
	size_t chunk, i, tries = 0;

	if (!tmp)
		return n;
	for (chunk = n / 2 ? n / 2 : 1; chunk >= 1;) {
		bool changed = false;

		for (i = 0; i < n && time(NULL) - t0 < 60 && tries < 4000;) {
			size_t len = chunk < n - i ? chunk : n - i, k;

			memcpy(tmp, ops, i * sizeof(*tmp));
			memcpy(tmp + i, ops + i + len, (n - i - len) * sizeof(*tmp));
			tries++;
			if (replay(sh, tmp, n - len, g, NULL)) {
				k = n - len;
				/* Keep up to the failing operation only. */
				if (sh->fail_at >= 0 && (size_t)sh->fail_at < k)
					k = (size_t)sh->fail_at + 1;
				memcpy(ops, tmp, k * sizeof(*ops));
				n = k;
				changed = true;
			} else {
				i += len;
			}
		}
		if (time(NULL) - t0 >= 60 || tries >= 4000)
			break;
		if (!changed) {
			if (chunk == 1)
				break;
			chunk /= 2;
		} else if (chunk > n / 2 && n > 1) {
			chunk = n / 2;
		}
	}
	free(tmp);
	return n;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/* The model's tree and views, for MEMSLOT_DUMP and failure reports. */
static void dump_world(const struct world *w, FILE *f)
{
	const struct model *m = &w->m;
	char buf[256], sz[40];
	size_t k;
	int i;

	for (i = 0; i < m->nr; i++) {
		const struct model_node *n = &m->n[i];

		if (!n->live)
			continue;
		fprintf(f, "#   %-5s %-10s in %-5s @%#" PRIx64 " size %s prio %d%s%s%s%s%s",
			w->name[i], kind_fn[n->kind], n->container < 0 ? "-" :
			w->name[n->container], n->addr, u128_str(n->size, sz), n->prio,
			n->enabled ? "" : " disabled", n->readonly ? " ro" : "",
			n->nonvolatile ? " nv" : "", n->unmergeable ? " um" : "",
			n->romd ? "" : " romd_off");
		if (n->alias >= 0)
			fprintf(f, " -> %s+%#" PRIx64, w->name[n->alias], n->alias_offset);
		fprintf(f, "\n");
	}
	for (i = 0; i < NR_AS; i++) {
		fprintf(f, "#   as%d view (root %s):\n", i,
			w->mv[i].root < 0 ? "(none)" : w->name[w->mv[i].root]);
		for (k = 0; k < w->mv[i].n; k++) {
			range_str(w, &w->mv[i].r[k], buf, sizeof(buf));
			fprintf(f, "#     %s\n", buf);
		}
	}
}

/* Generate and apply @nops operations, logging them in @sh. Return: 0 or 1. */
static int episode(struct shared *sh, uint64_t seed, const struct geometry *geo, size_t nops,
		   int max_nodes)
{
	struct world *w = malloc(sizeof(*w));
	struct gen g = { .rng = seed, .g = geo, .plan.type = OP_NR };
	size_t i;

	if (!w)
		return 2;
	if (world_init(w, geo, NULL))
		goto fail;
	for (i = 0; i < nops || w->m.depth; i++) {
		struct op op = gen_op(w, &g, max_nodes);

		if (i >= nops)
			op = (struct op){ .type = OP_COMMIT };
		sh->ops[sh->n++] = op;
		if (apply_op(w, &op))
			goto fail;
	}
	sh->st = w->st;
	if (getenv("MEMSLOT_DUMP"))
		dump_world(w, stderr);
	world_fini(w);
	free(w);
	/* Under SAN=1: everything of the episode must be freed again. */
	if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check()) {
		snprintf(sh->msg, sizeof(sh->msg), "memory leaked (see the LeakSanitizer report)\n");
		sh->fail_at = (ssize_t)sh->n;
		return 1;
	}
	return 0;
fail:
	sh->fail_at = (ssize_t)sh->n - 1;
	memcpy(sh->msg, w->msg, sizeof(sh->msg));
	sh->msg[sizeof(sh->msg) - 1] = 0;
	return 1;
}

/*
 * One episode: a fresh context driven by @nops generated operations.
 * Return: true on success; on failure the seed, the reason and the shrunk
 * trace are printed.
 */
static bool run_episode(struct __test_metadata *_metadata, uint64_t seed,
			const struct geometry *geo, size_t nops, int max_nodes,
			struct stats *total)
{
	size_t cap = nops + MAX_DEPTH + 1, n, min;
	struct shared *sh = shared_new(cap), *sh2;
	struct op *ops;
	int status;
	pid_t pid;

	if (!sh) {
		TH_LOG("mmap: %s", strerror(errno));
		return false;
	}
	sh->n = 0;
	sh->fail_at = -1;
	if (getenv("MEMSLOT_INPROC")) {
		/* For debuggers: no fork, stop at the first failure. */
		if (episode(sh, seed, geo, nops, max_nodes)) {
			TH_LOG("FAILED: seed %#" PRIx64 " after %zu operations\n%s", seed, sh->n,
			       sh->msg);
			shared_free(sh, cap);
			return false;
		}
		shared_free(sh, cap);
		return true;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		_exit(episode(sh, seed, geo, nops, max_nodes));
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		TH_LOG("fork: %s", strerror(errno));
		shared_free(sh, cap);
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		total->ops += sh->st.ops;
		total->checks += sh->st.checks;
		total->dirty += sh->st.dirty;
		total->ranges += sh->st.ranges;
		total->events += sh->st.events;
		total->errors += sh->st.errors;
		shared_free(sh, cap);
		return true;
	}

	TH_LOG("FAILED: seed %#" PRIx64 " geometry %s, after %zu operations%s", seed, geo->name,
	       sh->n, WIFSIGNALED(status) ? " (crashed)" : "");
	if (WIFSIGNALED(status))
		TH_LOG("killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	fprintf(stderr, "%s", sh->msg);
	n = sh->n;
	ops = malloc(n * sizeof(*ops));
	sh2 = shared_new(0);
	if (!ops || !sh2) {
		TH_LOG("out of memory for shrinking");
		shared_free(sh, cap);
		return false;
	}
	memcpy(ops, sh->ops, n * sizeof(*ops));
	min = shrink(sh2, ops, n, geo);
	TH_LOG("minimal trace: %zu of %zu operations (rerun the episode with MEMSLOT_SEED=%#"
	       PRIx64 " %s -r random.%s.ops):", min, n, seed, program_invocation_name, geo->name);
	fflush(stderr);
	replay(sh2, ops, min, geo, stderr);
	fflush(stderr);
	TH_LOG("failure of the minimal trace:");
	fprintf(stderr, "%s", sh2->msg);
	free(ops);
	shared_free(sh2, 0);
	shared_free(sh, cap);
	return false;
}

/* --- tests ----------------------------------------------------------------- */

FIXTURE(random) {
	int unused;
};

FIXTURE_VARIANT(random) {
	const char *geometry;
	uint64_t c2_size;
	unsigned int high_pct;
	uint64_t seed;
	unsigned int episodes;
	unsigned int ops;
	int max_nodes;
	bool quiet;
};

/* Small address space [0, 0x80): dense overlaps, ties, merges. */
FIXTURE_VARIANT_ADD(random, small) {
	.geometry = "small", .c2_size = 0x40, .high_pct = 0, .seed = 0x5eed0001,
	.episodes = 20, .ops = 5000, .max_nodes = 16,
};

/* Bigger trees, deeper nesting. */
FIXTURE_VARIANT_ADD(random, deep) {
	.geometry = "deep", .c2_size = 0x40, .high_pct = 0, .seed = 0x5eed0002,
	.episodes = 12, .ops = 8000, .max_nodes = 32,
};

/* Values near 2^63 and 2^64: straddling, 2^64 sizes, negative bases. */
FIXTURE_VARIANT_ADD(random, high) {
	.geometry = "high", .c2_size = UINT64_MAX, .high_pct = 30, .seed = 0x5eed0003,
	.episodes = 20, .ops = 5000, .max_nodes = 20,
};

/* Mostly small with occasional huge values. */
FIXTURE_VARIANT_ADD(random, mixed) {
	.geometry = "mixed", .c2_size = 0x30, .high_pct = 5, .seed = 0x5eed0004,
	.episodes = 20, .ops = 5000, .max_nodes = 24,
};

/*
 * The same geometries with quiet listeners (no region_nop) and no view
 * references: views patched in place, only changed windows diffed.
 */
FIXTURE_VARIANT_ADD(random, small_quiet) {
	.geometry = "small", .c2_size = 0x40, .high_pct = 0, .seed = 0x9e7a0001,
	.episodes = 20, .ops = 8000, .max_nodes = 16, .quiet = true,
};

FIXTURE_VARIANT_ADD(random, deep_quiet) {
	.geometry = "deep", .c2_size = 0x40, .high_pct = 0, .seed = 0x9e7a0002,
	.episodes = 12, .ops = 12000, .max_nodes = 32, .quiet = true,
};

FIXTURE_VARIANT_ADD(random, high_quiet) {
	.geometry = "high", .c2_size = UINT64_MAX, .high_pct = 30, .seed = 0x9e7a0003,
	.episodes = 20, .ops = 8000, .max_nodes = 20, .quiet = true,
};

FIXTURE_VARIANT_ADD(random, mixed_quiet) {
	.geometry = "mixed", .c2_size = 0x30, .high_pct = 5, .seed = 0x9e7a0004,
	.episodes = 20, .ops = 8000, .max_nodes = 24, .quiet = true,
};

FIXTURE_SETUP(random)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(random)
{
}

TEST_F_TIMEOUT(random, ops, 600)
{
	struct geometry geo = { .name = variant->geometry, .c2_size = variant->c2_size,
				.high_pct = variant->high_pct, .quiet = variant->quiet };
	uint64_t seed = env_u64("MEMSLOT_SEED", variant->seed);
	size_t nops = env_u64("MEMSLOT_OPS", variant->ops);
	unsigned int e, failed = 0;
	struct stats st = { 0 };

	TH_LOG("seed %#" PRIx64 ", %u episodes of %zu operations", seed, variant->episodes, nops);
	for (e = 0; e < variant->episodes && failed < 1; e++) {
		uint64_t s = seed + e * 0x1000193ULL;

		if (!run_episode(_metadata, s, &geo, nops, variant->max_nodes, &st))
			failed++;
	}
	TH_LOG("%lu operations (%lu refused as expected), %lu checks (%lu with an update), "
	       "%lu ranges compared, %lu listener events", st.ops, st.errors, st.checks, st.dirty,
	       st.ranges, st.events);
	ASSERT_EQ(0, failed);
}

/* --- hand-computed cases ------------------------------------------------- */

struct want_range {
	const char *name;
	uint64_t start;
	uint64_t size;
	uint64_t off;
	bool ro;
};

static int find_name(const struct world *w, const char *name)
{
	int i;

	for (i = 0; i < w->m.nr; i++)
		if (w->m.n[i].live && !strcmp(w->name[i], name))
			return i;
	return -1;
}

/*
 * Apply @ops to a world (library and model), then compare the model's view
 * of @as with @want; the model is checked by hand, the library by the model.
 */
static void run_hand(struct __test_metadata *_metadata, const struct op *ops, size_t n, int as,
		     const struct want_range *want, size_t nwant)
{
	static const struct geometry geo = { .name = "hand", .c2_size = UINT64_MAX };
	struct world *w = malloc(sizeof(*w));
	size_t i;

	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, world_init(w, &geo, NULL)) TH_LOG("setup: %s", w->msg);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, apply_op(w, &ops[i])) TH_LOG("operation %zu: %s", i, w->msg);
	}
	EXPECT_EQ(nwant, w->mv[as].n);
	for (i = 0; i < nwant && i < w->mv[as].n; i++) {
		const struct model_range *r = &w->mv[as].r[i];
		char buf[256];

		range_str(w, r, buf, sizeof(buf));
		EXPECT_EQ(find_name(w, want[i].name), r->mr) TH_LOG("range %zu: %s", i, buf);
		EXPECT_EQ(want[i].start, r->start) TH_LOG("range %zu: %s", i, buf);
		EXPECT_TRUE((model_u128)want[i].size == r->size) TH_LOG("range %zu: %s", i, buf);
		EXPECT_EQ(want[i].off, r->off) TH_LOG("range %zu: %s", i, buf);
		EXPECT_EQ(want[i].ro, r->ro) TH_LOG("range %zu: %s", i, buf);
	}
	world_fini(w);
	free(w);
}

#define NEW(id, k, nm, sz) { .type = OP_NEW, .a = id, .kind = k, .x = sz, .name = nm }
#define ALIAS(id, nm, tgt, off, sz) \
	{ .type = OP_NEW, .a = id, .kind = MK_ALIAS, .b = tgt, .y = off, .x = sz, .name = nm }
#define ADD(c, at, sub, pr) \
	{ .type = OP_ADD, .a = sub, .b = c, .x = at, .prio = pr, .flag = true }
#define OP1(t, id, v) { .type = t, .a = id, .flag = v }
#define OPX(t, id, v) { .type = t, .a = id, .x = v }

/* The PC "memory" view of selftests/samples/qemu-7.2/pc-256m-stopped.mtree_f.txt. */
TEST(hand_pc_memory)
{
	static const struct op ops[] = {
		{ .type = OP_BEGIN },
		NEW(3, MK_RAM, "pc.ram", 0x10000000),
		ALIAS(4, "ram-below-4g", 3, 0, 0x10000000),
		ADD(0, 0, 4, 0),
		NEW(5, MK_CONTAINER, "pci", UINT64_MAX),
		ADD(0, 0, 5, -1),
		NEW(6, MK_ROM, "pc.rom", 0x20000),
		ADD(5, 0xc0000, 6, 1),
		NEW(7, MK_ROM, "pc.bios", 0x40000),
		ALIAS(8, "isa-bios", 7, 0x20000, 0x20000),
		ADD(5, 0xe0000, 8, 1),
		ADD(5, 0xfffc0000, 7, 0),
		/* smram-region: transparent where pci renders nothing (rule 5.5) */
		ALIAS(9, "smram-region", 5, 0xa0000, 0x20000),
		ADD(0, 0xa0000, 9, 1),
		ALIAS(10, "pam-pci", 5, 0xc0000, 0x4000), ADD(0, 0xc0000, 10, 1),
		ALIAS(11, "pam-pci", 5, 0xc4000, 0x4000), ADD(0, 0xc4000, 11, 1),
		ALIAS(12, "pam-pci", 5, 0xc8000, 0x4000), ADD(0, 0xc8000, 12, 1),
		ALIAS(13, "pam-pci", 5, 0xcc000, 0x4000), ADD(0, 0xcc000, 13, 1),
		ALIAS(14, "pam-pci", 5, 0xd0000, 0x4000), ADD(0, 0xd0000, 14, 1),
		ALIAS(15, "pam-pci", 5, 0xd4000, 0x4000), ADD(0, 0xd4000, 15, 1),
		ALIAS(16, "pam-pci", 5, 0xd8000, 0x4000), ADD(0, 0xd8000, 16, 1),
		ALIAS(17, "pam-pci", 5, 0xdc000, 0x4000), ADD(0, 0xdc000, 17, 1),
		ALIAS(18, "pam-pci", 5, 0xe0000, 0x4000), ADD(0, 0xe0000, 18, 1),
		ALIAS(19, "pam-pci", 5, 0xe4000, 0x4000), ADD(0, 0xe4000, 19, 1),
		ALIAS(20, "pam-pci", 5, 0xe8000, 0x4000), ADD(0, 0xe8000, 20, 1),
		ALIAS(21, "pam-pci", 5, 0xec000, 0x4000), ADD(0, 0xec000, 21, 1),
		ALIAS(22, "pam-pci", 5, 0xf0000, 0x10000), ADD(0, 0xf0000, 22, 1),
		NEW(23, MK_IO, "kvm-ioapic", 0x1000), ADD(0, 0xfec00000, 23, 0),
		NEW(24, MK_IO, "hpet", 0x400), ADD(0, 0xfed00000, 24, 0),
		NEW(25, MK_IO, "kvm-apic-msi", 0x100000), ADD(0, 0xfee00000, 25, 4096),
		{ .type = OP_COMMIT },
	};
	static const struct want_range want[] = {
		{ "pc.ram", 0, 0xc0000, 0, false },
		{ "pc.rom", 0xc0000, 0x20000, 0, true },
		{ "pc.bios", 0xe0000, 0x20000, 0x20000, true },
		{ "pc.ram", 0x100000, 0xff00000, 0x100000, false },
		{ "kvm-ioapic", 0xfec00000, 0x1000, 0, false },
		{ "hpet", 0xfed00000, 0x400, 0, false },
		{ "kvm-apic-msi", 0xfee00000, 0x100000, 0, false },
		{ "pc.bios", 0xfffc0000, 0x40000, 0, true },
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/*
 * The PC "I/O" view: a terminating region with children shows through in
 * pieces (rtc @1, io @...), priority 1 child inside a register window.
 * The root container holds only io at 0, so io is the selected root (7.3).
 */
TEST(hand_pc_io)
{
	static const struct op ops[] = {
		NEW(3, MK_IO, "io", 0x10000),
		NEW(4, MK_IO, "dma-chan", 8), ADD(3, 0, 4, 0),
		NEW(5, MK_IO, "kvm-pic", 2), ADD(3, 0x20, 5, 0),
		NEW(6, MK_IO, "rtc", 2), ADD(3, 0x70, 6, 0),
		NEW(7, MK_IO, "rtc-index", 1), ADD(6, 0, 7, 0),
		NEW(8, MK_IO, "pci-conf-idx", 4), ADD(3, 0xcf8, 8, 0),
		NEW(9, MK_IO, "piix3-reset-control", 1), ADD(3, 0xcf9, 9, 1),
		NEW(10, MK_IO, "pci-conf-data", 4), ADD(3, 0xcfc, 10, 0),
		ADD(0, 0, 3, 0),
	};
	static const struct want_range want[] = {
		{ "dma-chan", 0, 8, 0, false },
		{ "io", 8, 0x18, 8, false },
		{ "kvm-pic", 0x20, 2, 0, false },
		{ "io", 0x22, 0x4e, 0x22, false },
		{ "rtc-index", 0x70, 1, 0, false },
		{ "rtc", 0x71, 1, 1, false },
		{ "io", 0x72, 0xcf8 - 0x72, 0x72, false },
		{ "pci-conf-idx", 0xcf8, 1, 0, false },
		{ "piix3-reset-control", 0xcf9, 1, 0, false },
		{ "pci-conf-idx", 0xcfa, 2, 2, false },
		{ "pci-conf-data", 0xcfc, 4, 0, false },
		{ "io", 0xd00, 0x10000 - 0xd00, 0xd00, false },
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/*
 * Rule 5.5 and 3.5: an alias window larger than what its target covers,
 * priority local to a container, a disabled container hiding an enabled
 * child, and an enabled alias onto a disabled region.
 */
TEST(hand_rule_5_5)
{
	static const struct op ops[] = {
		NEW(3, MK_RAM, "a", 0x10),
		ALIAS(4, "w", 3, 0, 0x40), ADD(0, 0x100, 4, 1),
		NEW(5, MK_IO, "b", 0x40), ADD(0, 0x100, 5, 0),
		NEW(6, MK_CONTAINER, "c", 0x100), ADD(0, 0x200, 6, -1),
		NEW(7, MK_RAM, "d", 0x10), ADD(6, 0, 7, 1000),
		NEW(8, MK_IO, "e", 8), ADD(0, 0x200, 8, 0),
		NEW(9, MK_CONTAINER, "f", 0x100), ADD(0, 0x300, 9, 0),
		NEW(10, MK_RAM, "g", 0x10), ADD(9, 0, 10, 0),
		OP1(OP_SET_ENABLED, 9, false),
		NEW(11, MK_RAM, "h", 0x10), OP1(OP_SET_ENABLED, 11, false),
		ALIAS(12, "hw", 11, 0, 0x10), ADD(0, 0x400, 12, 0),
	};
	static const struct want_range want[] = {
		{ "a", 0x100, 0x10, 0, false },
		{ "b", 0x110, 0x30, 0x10, false },
		{ "e", 0x200, 8, 0, false },
		{ "d", 0x208, 8, 8, false },
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/* Rules 3.4 and 3.7: newest equal-priority sibling wins; moving renews. */
TEST(hand_rule_3_7)
{
	static const struct op ops[] = {
		NEW(3, MK_IO, "x", 0x10), ADD(0, 0x400, 3, 0),
		NEW(4, MK_IO, "y", 0x10), ADD(0, 0x408, 4, 0),
		OPX(OP_SET_ADDR, 3, 0x401),
	};
	static const struct want_range want[] = {
		{ "x", 0x401, 0x10, 0, false },
		{ "y", 0x411, 7, 9, false },
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/* Rule 6.2: windows onto contiguous parts of a region merge unless unmergeable. */
TEST(hand_unmergeable)
{
	static const struct op ops[] = {
		NEW(3, MK_RAM, "u", 0x20),
		ALIAS(4, "a1", 3, 0, 0x10), ADD(0, 0x500, 4, 0),
		ALIAS(5, "a2", 3, 0x10, 0x10), ADD(0, 0x510, 5, 0),
		NEW(6, MK_IO, "v", 0x20), ADD(0, 0x600, 6, 0),
		NEW(7, MK_IO, "v1", 0x8), ADD(6, 0x8, 7, 0),
		OP1(OP_SET_UM, 6, true),
		OP1(OP_SET_UM, 5, true),
	};
	static const struct want_range want[] = {
		{ "u", 0x500, 0x10, 0, false },
		{ "u", 0x510, 0x10, 0x10, false },
		{ "v", 0x600, 8, 0, false },
		{ "v1", 0x608, 8, 0, false },
		{ "v", 0x610, 0x10, 0x10, false },
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/*
 * Rule 7.7: a container holding one full-size alias of system at 0 shares
 * system's view; with its alias disabled it shares the static empty view
 * with every other absent root. The world checks sharing against the model
 * after each step; this checks the model's root selection by hand.
 */
TEST(hand_rule_7_7)
{
	static const struct op ops[] = {
		NEW(3, MK_RAM, "ram", 0x1000), ADD(0, 0, 3, 0),
		NEW(4, MK_IO, "dev", 0x10), ADD(0, 0x2000, 4, 0),
		ALIAS(5, "bus master", 0, 0, UINT64_MAX), ADD(2, 0, 5, 0),
	};
	static const struct op ops2[] = {
		OP1(OP_SET_ENABLED, 5, false),
		OP1(OP_SET_ENABLED, 1, false),
	};
	static const struct geometry geo = { .name = "hand", .c2_size = UINT64_MAX };
	struct world *w = malloc(sizeof(*w));
	size_t i;

	ASSERT_NE(NULL, w);
	ASSERT_EQ(0, world_init(w, &geo, NULL)) TH_LOG("%s", w->msg);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		ASSERT_EQ(0, apply_op(w, &ops[i])) TH_LOG("%s", w->msg);
	}
	EXPECT_EQ(0, model_select_root(&w->m, 2));
	EXPECT_EQ(0, model_select_root(&w->m, 1));
	EXPECT_EQ(2u, w->mv[2].n);
	EXPECT_TRUE(ms_as__flatview(w->as[0]) == ms_as__flatview(w->as[2]));
	EXPECT_TRUE(ms_as__flatview(w->as[0]) == ms_as__flatview(w->as[1]));
	for (i = 0; i < sizeof(ops2) / sizeof(ops2[0]); i++) {
		ASSERT_EQ(0, apply_op(w, &ops2[i])) TH_LOG("%s", w->msg);
	}
	EXPECT_EQ(-1, model_select_root(&w->m, 2));
	EXPECT_EQ(-1, model_select_root(&w->m, 1));
	EXPECT_TRUE(ms_as__flatview(w->as[1]) == ms_as__flatview(w->as[2]));
	EXPECT_EQ(0u, ms_flatview__nr_ranges(ms_as__flatview(w->as[2])));
	EXPECT_EQ(0u, w->mv[2].n);
	world_fini(w);
	free(w);
}

/*
 * region.h: ms_region__set_size() returns -EINVAL when the caller memory of
 * a RAM device (or of RAM on caller memory) is smaller than the new size.
 */
TEST(hand_ram_device_resize)
{
	static const struct op ops[] = {
		NEW(3, MK_RAM_DEVICE, "ramdev", 0x10), ADD(0, 0, 3, 0),
		OPX(OP_SET_SIZE, 3, 0x8),
		OPX(OP_SET_SIZE, 3, 0x10),
		OPX(OP_SET_SIZE, 3, 1ULL << 40),
		OPX(OP_SET_SIZE, 3, UINT64_MAX),
	};
	static const struct want_range want[] = {
		{ "ramdev", 0, 0x10, 0, false },
	};

	struct ms_ctx *ctx;
	struct ms_region *r;
	char mem[16];

	/* RAM on caller memory. */
	ctx = ms_ctx__new();
	ASSERT_NE(NULL, ctx);
	r = ms_region__new_ram_ptr(ctx, "ramptr", sizeof(mem), mem, NULL);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, ms_region__set_size(r, 8, NULL));
	EXPECT_EQ(0, ms_region__set_size(r, sizeof(mem), NULL));
	EXPECT_EQ(-EINVAL, ms_region__set_size(r, sizeof(mem) + 1, NULL));
	EXPECT_EQ(sizeof(mem), ms_region__size(r));
	ms_region__unref(r);
	ms_ctx__free(ctx);

	/* A RAM device, through the model. */
	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/*
 * A root that is not absent (rule 7.3: one child, not at 0) but renders
 * nothing: an empty view that is not the static one.
 */
TEST(hand_empty_render)
{
	static const struct op ops[] = {
		NEW(3, MK_CONTAINER, "c", 0x40),
		ADD(0, 0x7c, 3, 0),
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, NULL, 0);
}

/*
 * A trace the random test shrank while the library crashed in it (library
 * of 21 Nov, before lib/flatview.c was reworked); kept as a regression.
 */
TEST(hand_regress_set_size)
{
	static const struct op ops[] = {
		NEW(10, MK_RAM, "r10", 0x2d),
		NEW(12, MK_IO, "r12", 0x28),
		NEW(25, MK_RAM, "r25", 0xd),
		ADD(0, 0x28, 25, -1),
		OPX(OP_SET_SIZE, 12, 1),
		ADD(0, 0x8, 10, 2),
		OPX(OP_SET_SIZE, 10, 9),
	};
	static const struct want_range want[] = {
		{ "r10", 0x8, 0x9, 0, false },
		{ "r25", 0x28, 0xd, 0, false },
	};

	run_hand(_metadata, ops, sizeof(ops) / sizeof(ops[0]), 0, want,
		 sizeof(want) / sizeof(want[0]));
}

/*
 * The model's jump from boundary to boundary against a walk over every
 * address, on random trees inside [0, 0x100).
 */
TEST(model_selfcheck)
{
	struct model_view fast = { 0 }, slow = { 0 };
	uint64_t st = env_u64("MEMSLOT_SEED", 0x5eed0100);
	int it, i, bad = 0;

	for (it = 0; it < 3000 && bad < 3; it++) {
		struct model m;
		int nn = 2 + (int)model_rand_below(&st, 14);

		model_init(&m);
		model_new(&m, 0, MK_CONTAINER, UINT64_MAX, -1, 0);
		for (i = 1; i < nn; i++) {
			enum model_kind k = (enum model_kind)model_rand_below(&st, MK_NR);

			if (k == MK_ALIAS)
				model_new(&m, i, k, model_rand_below(&st, 40),
					  (int)model_rand_below(&st, i), model_rand_below(&st, 40));
			else
				model_new(&m, i, k, 1 + model_rand_below(&st, 40), -1, 0);
			model_set_unmergeable(&m, i, !model_rand_below(&st, 4));
			model_set_readonly(&m, i, !model_rand_below(&st, 5));
			model_set_enabled(&m, i, model_rand_below(&st, 8));
		}
		for (i = 1; i < nn; i++)
			model_add(&m, model_rand_below(&st, 2) ? 0 : (int)model_rand_below(&st, nn),
				  i, model_rand_below(&st, 64), (int)model_rand_below(&st, 3) - 1);
		ASSERT_EQ(0, model_render(&m, 0, &fast));
		ASSERT_EQ(0, model_render_slow(&m, 0, 0x100, &slow));
		if (!model_view_eq(&fast, &slow)) {
			TH_LOG("iteration %d: %zu vs %zu ranges", it, fast.n, slow.n);
			bad++;
		}
	}
	EXPECT_EQ(0, bad);
	model_view_free(&fast);
	model_view_free(&slow);
}

TEST_HARNESS_MAIN
