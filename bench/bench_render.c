// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_render: cost of rendering a whole flat view, directly with
 * ms_flatview__render() and through the commit path (an address space with
 * a counting listener), for random disjoint and random overlapping region
 * trees of 1k, 10k and 100k regions; then the growth from 10k to 100k
 * against n log n, and the cost of one small change at each size.
 *
 * Figures: commit_one_change_vs_full_render_{1k,10k,100k}, the median
 * commit after a one-region change (set_enabled or set_address of a
 * leaf) in the disjoint tree over the median full render of that tree;
 * goal <= 0.01.
 *
 * The rendering algorithm is regions-and-flatview.md section 5; the diff a
 * commit runs is listeners-and-transactions.md section 2. A commit renders
 * again only the windows its changes touched and diffs those (lib/ctx.c),
 * unless a listener has region_nop, which asks for every unchanged range
 * at every commit: the counting listener here counts adds and dels only.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memslot/memslot.h>

#include "bench.h"

#define BENCH_NAME	"bench_render"
#define PAGE		4096ull

/* Disjoint layout: one region per 64 KiB slot, in the first or second half. */
#define DJ_STRIDE	(64 * 1024ull)
#define DJ_HALF		(DJ_STRIDE / 2)
#define DJ_MAX_PAGES	4

/*
 * Overlap layout: leaves of 1..64 pages (skewed small, mean about 10 pages)
 * at random page addresses in a span of 16 KiB per region, so an address is
 * covered by about two regions on average; priorities in [-2, 2].
 */
#define OV_SPAN_PER	(16 * 1024ull)
#define OV_MAX_PAGES	64
#define OV_PRIO_SPAN	5

/* Measurement budget per table cell; a cell always gets one run. */
#define CELL_BUDGET_MS	2500.0
/* Skip a size whose single render is projected to exceed this. */
#define SKIP_PROJECTED_MS 20000.0
#define CHANGE_GOAL	0.01

enum layout {
	LAYOUT_DISJOINT,
	LAYOUT_OVERLAP,
	NR_LAYOUTS,
};

static const char *const layout_name[NR_LAYOUTS] = {
	[LAYOUT_DISJOINT] = "disjoint",
	[LAYOUT_OVERLAP] = "overlap",
};

static const size_t sizes[] = { 1000, 10000, 100000 };
static const int max_runs[] = { 31, 21, 11 };
/* one-region changes per leaf kind and size: 2 toggles + 1 move each */
static const int nr_changes[] = { 100, 30, 10 };
#define NR_CHANGES_MAX	100
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NR_SIZES ARRAY_SIZE(sizes)

struct counts {
	unsigned long add, del, nop;
};

/* A region tree plus the address space and listener that watch it. */
struct tree {
	struct ms_ctx *ctx;
	struct ms_region *root;
	struct ms_as *as;
	struct ms_listener *l;
	struct counts cnt;
	/* Terminating leaves (not containers or aliases), for single changes. */
	struct ms_region **leaf;
	/* Disjoint: slot base of each leaf; overlap: address limit in its parent. */
	uint64_t *aux;
	size_t nr_leaves;
};

struct row {
	int done;
	size_t regions, ranges;
	double build_ms, as_ms, render_ms, commit_ms, free_ms;
	double render_p99_ms, commit_p99_ms;
	int render_runs, commit_runs;
	/* every one-region change commit: median and p99 */
	double change_ms, change_p99_ms;
	int nr_change_commits;
};

struct change {
	const char *what;
	double ms;
	int nr;
	double add, del, nop;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static unsigned char *host_buf;
static int failed;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, so every run builds the same trees */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Natural logarithm for x >= 1, so that the bench needs no libm. */
static double ln(double x)
{
	double y = 0, z, z2, term, sum = 0;
	int k;

	while (x > 2) {
		x /= 2;
		y += 0.693147180559945309;
	}
	/* x in [1, 2]: ln x = 2 atanh(z) with z = (x - 1) / (x + 1) <= 1/3 */
	z = (x - 1) / (x + 1);
	z2 = z * z;
	term = z;
	for (k = 1; k < 60; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return y + 2 * sum;
}

static void __attribute__((noreturn)) die(const char *what, int err, const struct ms_error *e)
{
	fprintf(stderr, "%s: %s: %s%s%s\n", BENCH_NAME, what, strerror(err < 0 ? -err : err),
		e && e->msg[0] ? ": " : "", e && e->msg[0] ? e->msg : "");
	exit(1);
}

static void on_add(void *opaque, const struct ms_section *s)
{
	(void)s;
	((struct counts *)opaque)->add++;
}

static void on_del(void *opaque, const struct ms_section *s)
{
	(void)s;
	((struct counts *)opaque)->del++;
}

static const struct ms_listener_ops counting_ops = {
	.region_add = on_add,
	.region_del = on_del,
};

static void shuffle(size_t *v, size_t n)
{
	size_t i, j, tmp;

	for (i = n; i > 1; i--) {
		j = rnd_below(i);
		tmp = v[i - 1];
		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

/* A terminating leaf: unassigned I/O or RAM on the shared host buffer. */
static struct ms_region *new_leaf(struct ms_ctx *ctx, size_t i, uint64_t size)
{
	struct ms_error e = { 0 };
	struct ms_region *mr;
	char name[32];

	snprintf(name, sizeof(name), "r%zu", i);
	if (i & 1)
		mr = ms_region__new_io(ctx, name, size, NULL, NULL, &e);
	else
		mr = ms_region__new_ram_ptr(ctx, name, size, host_buf, &e);
	if (!mr)
		die("create region", errno, &e);
	return mr;
}

static void map(struct ms_region *parent, uint64_t addr, struct ms_region *mr, int32_t prio)
{
	struct ms_error e = { 0 };
	int err;

	err = ms_region__add_subregion_overlap(parent, addr, mr, prio, &e);
	if (err)
		die("add subregion", err, &e);
	/* the container's reference keeps @mr alive from now on */
	ms_region__unref(mr);
}

static void alloc_tree(struct tree *t, size_t n)
{
	struct ms_error e = { 0 };

	memset(t, 0, sizeof(*t));
	t->ctx = ms_ctx__new();
	if (!t->ctx)
		die("create context", errno, NULL);
	t->root = ms_region__new_container(t->ctx, "root", UINT64_MAX, &e);
	if (!t->root)
		die("create root", errno, &e);
	t->leaf = calloc(n, sizeof(*t->leaf));
	t->aux = calloc(n, sizeof(*t->aux));
	if (!t->leaf || !t->aux)
		die("allocate", ENOMEM, NULL);
}

/*
 * n leaves in one container, one per 64 KiB slot, added in random order
 * with priority 0 (plain add_subregion semantics).
 */
static void build_disjoint(struct tree *t, size_t n)
{
	size_t *perm, i;

	perm = malloc(n * sizeof(*perm));
	if (!perm)
		die("allocate", ENOMEM, NULL);
	for (i = 0; i < n; i++)
		perm[i] = i;
	shuffle(perm, n);

	for (i = 0; i < n; i++) {
		uint64_t base = perm[i] * DJ_STRIDE;
		uint64_t size = (1 + rnd_below(DJ_MAX_PAGES)) * PAGE;
		uint64_t off = rnd_below((DJ_HALF - size) / PAGE + 1) * PAGE;
		struct ms_region *mr = new_leaf(t->ctx, i, size);

		map(t->root, base + off, mr, 0);
		t->leaf[i] = mr;
		t->aux[i] = base;
	}
	t->nr_leaves = n;
	free(perm);
}

struct op {
	struct ms_region *mr, *parent;
	uint64_t addr;
	int32_t prio;
};

static uint64_t ov_leaf_size(void)
{
	return (1 + rnd_below(1ull << rnd_below(7))) * PAGE;
}

static int32_t ov_prio(void)
{
	return (int32_t)rnd_below(OV_PRIO_SPAN) - OV_PRIO_SPAN / 2;
}

/*
 * n regions: 1% nested containers of 1-4 MiB (a quarter of them inside an
 * earlier container), 2% aliases in the root onto random leaves or
 * containers, the rest leaves (a quarter of them inside a container). All
 * are created first and then mapped in random order with random priorities.
 */
static void build_overlap(struct tree *t, size_t n)
{
	size_t nc = n / 100 ? n / 100 : 1, na = n / 50, nl = n - nc - na, i, k = 0;
	uint64_t span = n * OV_SPAN_PER;
	struct ms_region **cont;
	uint64_t *cont_size;
	size_t *perm;
	struct op *ops;

	cont = calloc(nc, sizeof(*cont));
	cont_size = calloc(nc, sizeof(*cont_size));
	ops = calloc(n, sizeof(*ops));
	perm = calloc(n, sizeof(*perm));
	if (!cont || !cont_size || !ops || !perm)
		die("allocate", ENOMEM, NULL);

	for (i = 0; i < nc; i++) {
		struct ms_error e = { 0 };
		char name[32];

		snprintf(name, sizeof(name), "c%zu", i);
		cont_size[i] = (256 + rnd_below(769)) * PAGE;
		cont[i] = ms_region__new_container(t->ctx, name, cont_size[i], &e);
		if (!cont[i])
			die("create container", errno, &e);
		ops[k].mr = cont[i];
		ops[k].prio = ov_prio();
		if (i && !rnd_below(4)) {
			size_t p = rnd_below(i);

			ops[k].parent = cont[p];
			ops[k].addr = rnd_below(cont_size[p] / PAGE) * PAGE;
		} else {
			ops[k].parent = t->root;
			ops[k].addr = rnd_below(span / PAGE) * PAGE;
		}
		k++;
	}

	for (i = 0; i < nl; i++) {
		struct ms_region *mr = new_leaf(t->ctx, i, ov_leaf_size());

		ops[k].mr = mr;
		ops[k].prio = ov_prio();
		if (!rnd_below(4)) {
			size_t p = rnd_below(nc);

			ops[k].parent = cont[p];
			t->aux[i] = cont_size[p];
		} else {
			ops[k].parent = t->root;
			t->aux[i] = span;
		}
		ops[k].addr = rnd_below(t->aux[i] / PAGE) * PAGE;
		t->leaf[i] = mr;
		k++;
	}
	t->nr_leaves = nl;

	for (i = 0; i < na; i++) {
		struct ms_error e = { 0 };
		struct ms_region *target;
		uint64_t tsize;
		char name[32];

		if (!rnd_below(8)) {
			size_t p = rnd_below(nc);

			target = cont[p];
			tsize = cont_size[p];
		} else {
			target = t->leaf[rnd_below(nl)];
			tsize = ms_region__size(target);
		}
		snprintf(name, sizeof(name), "a%zu", i);
		ops[k].mr = ms_region__new_alias(t->ctx, name, target,
						 rnd_below(tsize / PAGE) * PAGE,
						 ov_leaf_size(), &e);
		if (!ops[k].mr)
			die("create alias", errno, &e);
		/* only in the root, so an alias can never end up containing itself */
		ops[k].parent = t->root;
		ops[k].addr = rnd_below(span / PAGE) * PAGE;
		ops[k].prio = ov_prio();
		k++;
	}

	for (i = 0; i < n; i++)
		perm[i] = i;
	shuffle(perm, n);
	for (i = 0; i < n; i++) {
		struct op *op = &ops[perm[i]];

		map(op->parent, op->addr, op->mr, op->prio);
	}

	free(perm);
	free(ops);
	free(cont_size);
	free(cont);
}

static void attach(struct tree *t)
{
	struct ms_error e = { 0 };
	int err;

	t->as = ms_as__new(t->ctx, t->root, "bench", &e);
	if (!t->as)
		die("create address space", errno, &e);
	t->l = ms_listener__new(&counting_ops, &t->cnt, MS_LISTENER_PRIORITY_MIN, "count");
	if (!t->l)
		die("create listener", errno, NULL);
	err = ms_listener__register(t->l, t->as, &e);
	if (err)
		die("register listener", err, &e);
}

static void free_tree(struct tree *t)
{
	int err;

	ms_listener__free(t->l);
	err = ms_as__free(t->as);
	if (err)
		die("free address space", err, NULL);
	ms_region__unref(t->root);
	ms_ctx__free(t->ctx);
	free(t->leaf);
	free(t->aux);
}

static void __attribute__((format(printf, 4, 5)))
check(int ok, const char *layout, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	fprintf(stderr, "%s: %s, %zu regions: ", BENCH_NAME, layout, n);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = 1;
}

/* Median time of ms_flatview__render() of the root. */
static void measure_render(struct tree *t, struct row *r, int runs, const char *layout)
{
	double v[32], total = 0;
	int i;

	for (i = 0; i < runs && total < CELL_BUDGET_MS; i++) {
		struct ms_error e = { 0 };
		struct ms_flatview *fv;
		double t0 = now_ms();
		size_t nr;

		fv = ms_flatview__render(t->root, &e);
		v[i] = now_ms() - t0;
		if (!fv)
			die("render", errno, &e);
		nr = ms_flatview__nr_ranges(fv);
		ms_flatview__unref(fv);
		if (!i)
			r->ranges = nr;
		check(nr == r->ranges, layout, r->regions, "render gave %zu ranges, earlier %zu",
		      nr, r->ranges);
		total += v[i];
	}
	r->render_runs = i;
	bench_stats(v, i, &r->render_ms, &r->render_p99_ms);
}

/*
 * Median time of a commit that renders the whole view and reports every
 * range to the listener: the root is disabled (view empty, not timed) and
 * enabled again (timed).
 */
static void measure_commit(struct tree *t, struct row *r, int runs, const char *layout)
{
	double v[32], total = 0;
	int i;

	for (i = 0; i < runs && total < CELL_BUDGET_MS; i++) {
		double t0;
		size_t nr;

		ms_region__set_enabled(t->root, false);
		memset(&t->cnt, 0, sizeof(t->cnt));
		t0 = now_ms();
		ms_ctx__begin(t->ctx);
		ms_region__set_enabled(t->root, true);
		ms_ctx__commit(t->ctx);
		v[i] = now_ms() - t0;
		nr = ms_flatview__nr_ranges(ms_as__flatview(t->as));
		check(t->cnt.add == r->ranges, layout, r->regions,
		      "commit added %lu ranges, render gave %zu", t->cnt.add, r->ranges);
		check(nr == r->ranges, layout, r->regions,
		      "address space view has %zu ranges, render gave %zu", nr, r->ranges);
		total += v[i];
	}
	r->commit_runs = i;
	bench_stats(v, i, &r->commit_ms, &r->commit_p99_ms);
}

static void commit_one(struct tree *t, struct change *c, double *v,
		       void (*fn)(struct tree *t, size_t i), size_t leaf)
{
	double t0;

	memset(&t->cnt, 0, sizeof(t->cnt));
	t0 = now_ms();
	ms_ctx__begin(t->ctx);
	fn(t, leaf);
	ms_ctx__commit(t->ctx);
	v[c->nr++] = now_ms() - t0;
	c->add += t->cnt.add;
	c->del += t->cnt.del;
	c->nop += t->cnt.nop;
}

static void toggle(struct tree *t, size_t i)
{
	ms_region__set_enabled(t->leaf[i], !ms_region__enabled(t->leaf[i]));
}

static void move_disjoint(struct tree *t, size_t i)
{
	uint64_t off = ms_region__addr(t->leaf[i]) - t->aux[i];

	/* the other half of its own slot: stays disjoint from every sibling */
	ms_region__set_address(t->leaf[i], t->aux[i] + (off >= DJ_HALF ? off - DJ_HALF :
							   off + DJ_HALF));
}

static void move_overlap(struct tree *t, size_t i)
{
	ms_region__set_address(t->leaf[i], rnd_below(t->aux[i] / PAGE) * PAGE);
}

/* One-region changes: toggle enabled twice, and set_address once, per leaf. */
static void measure_changes(struct tree *t, enum layout lay, struct row *r, int nr,
			    struct change c[2])
{
	double ven[2 * NR_CHANGES_MAX], vmv[NR_CHANGES_MAX], all[3 * NR_CHANGES_MAX];
	int k;

	memset(c, 0, 2 * sizeof(*c));
	c[0].what = "set_enabled";
	c[1].what = "set_address";
	for (k = 0; k < nr; k++) {
		size_t i = rnd_below(t->nr_leaves);

		commit_one(t, &c[0], ven, toggle, i);
		commit_one(t, &c[0], ven, toggle, i);
		commit_one(t, &c[1], vmv, lay == LAYOUT_DISJOINT ? move_disjoint : move_overlap,
			   rnd_below(t->nr_leaves));
	}
	for (k = 0; k < 2; k++) {
		c[k].add /= c[k].nr;
		c[k].del /= c[k].nr;
		c[k].nop /= c[k].nr;
	}
	memcpy(all, ven, c[0].nr * sizeof(*all));
	memcpy(all + c[0].nr, vmv, c[1].nr * sizeof(*all));
	r->nr_change_commits = c[0].nr + c[1].nr;
	bench_stats(all, r->nr_change_commits, &r->change_ms, &r->change_p99_ms);
	c[0].ms = median(ven, c[0].nr);
	c[1].ms = median(vmv, c[1].nr);
}

static void print_row(enum layout lay, const struct row *r)
{
	if (!r->done) {
		printf("%-9s %7zu  %s\n", layout_name[lay], r->regions,
		       "skipped: projected render time over budget");
		fflush(stdout);
		return;
	}
	printf("%-9s %7zu %7zu %9.2f %9.2f %10.3f %9.1f %10.3f %9.1f %8.2f %5d/%d\n",
	       layout_name[lay], r->regions, r->ranges, r->build_ms, r->as_ms, r->render_ms,
	       r->render_ms * 1e6 / r->regions, r->commit_ms, r->commit_ms * 1e6 / r->regions,
	       r->free_ms, r->render_runs, r->commit_runs);
	fflush(stdout);
}

static void print_growth(enum layout lay, const struct row *a, const struct row *b)
{
	double n = (double)b->regions / a->regions;
	double nlogn = n * ln(b->regions) / ln(a->regions);

	if (!a->done || !b->done) {
		printf("growth %zuk->%zuk: %s: not measured\n", a->regions / 1000,
		       b->regions / 1000, layout_name[lay]);
		return;
	}
	printf("growth %zuk->%zuk: %-8s render %.1fx, commit %.1fx, build %.1fx "
	       "(n: %.0fx, n log n: %.1fx, n^2: %.0fx)\n", a->regions / 1000, b->regions / 1000,
	       layout_name[lay], b->render_ms / a->render_ms, b->commit_ms / a->commit_ms,
	       b->build_ms / a->build_ms, n, nlogn, n * n);
}

/* Build one tree, measure it, free it; skip if its render is projected too slow. */
static void run_cell(enum layout lay, size_t s, struct row rows[NR_SIZES],
		     struct change c[NR_SIZES][2])
{
	struct row *r = &rows[s];
	size_t n = sizes[s];
	struct tree t;
	double t0;

	r->regions = n;
	/* project from the last two sizes, never better than linear */
	if (s >= 2 && rows[s - 1].done) {
		double prev = rows[s - 1].render_ms;
		double g = prev / rows[s - 2].render_ms;
		double lin = (double)n / sizes[s - 1];

		if (prev * (g > lin ? g : lin) > SKIP_PROJECTED_MS)
			return;
	}

	t0 = now_ms();
	alloc_tree(&t, n);
	if (lay == LAYOUT_DISJOINT)
		build_disjoint(&t, n);
	else
		build_overlap(&t, n);
	r->build_ms = now_ms() - t0;

	measure_render(&t, r, max_runs[s], layout_name[lay]);
	if (lay == LAYOUT_DISJOINT)
		check(r->ranges == n, layout_name[lay], n,
		      "disjoint view has %zu ranges, want %zu", r->ranges, n);

	t0 = now_ms();
	attach(&t);
	r->as_ms = now_ms() - t0;
	measure_commit(&t, r, max_runs[s], layout_name[lay]);
	measure_changes(&t, lay, r, nr_changes[s], c[s]);

	t0 = now_ms();
	free_tree(&t);
	r->free_ms = now_ms() - t0;
	r->done = 1;
}

/*
 * commit_one_change_vs_full_render_<n>: the disjoint tree, where every
 * region is one range, so N regions are N ranges for the render and the
 * commit alike.
 */
static void add_figures(struct bench_json *bj, const struct row rows[NR_LAYOUTS][NR_SIZES])
{
	for (size_t s = 0; s < NR_SIZES; s++) {
		const struct row *r = &rows[LAYOUT_DISJOINT][s];
		const struct row *o = &rows[LAYOUT_OVERLAP][s];
		json_object *raw;
		char name[64];

		if (!r->done)
			continue;	/* not measured: the figure is absent */
		raw = bench_json__raw_new();
		bench_json__raw_str(raw, "layout", layout_name[LAYOUT_DISJOINT]);
		bench_json__raw_u64(raw, "regions", r->regions);
		bench_json__raw_u64(raw, "ranges", r->ranges);
		bench_json__raw(raw, "change_commit_median_ms", r->change_ms);
		bench_json__raw(raw, "change_commit_p99_ms", r->change_p99_ms);
		bench_json__raw_u64(raw, "change_commits", r->nr_change_commits);
		bench_json__raw(raw, "render_median_ms", r->render_ms);
		bench_json__raw(raw, "render_p99_ms", r->render_p99_ms);
		bench_json__raw_u64(raw, "renders", r->render_runs);
		bench_json__raw(raw, "full_commit_median_ms", r->commit_ms);
		bench_json__raw(raw, "full_commit_p99_ms", r->commit_p99_ms);
		if (o->done) {
			bench_json__raw(raw, "overlap_ratio", o->change_ms / o->render_ms);
			bench_json__raw(raw, "overlap_change_commit_median_ms", o->change_ms);
			bench_json__raw(raw, "overlap_render_median_ms", o->render_ms);
		}
		snprintf(name, sizeof(name), "commit_one_change_vs_full_render_%zuk",
			 sizes[s] / 1000);
		bench_json__figure(bj, name, r->change_ms / r->render_ms, CHANGE_GOAL,
				   "commit after a one-region change / full render, "
				   "disjoint tree, address space + counting listener", raw);
	}
}

int main(int argc, char **argv)
{
	struct row rows[NR_LAYOUTS][NR_SIZES] = { 0 };
	struct change changes[NR_LAYOUTS][NR_SIZES][2];
	struct bench_json bj;
	size_t last = NR_SIZES - 1, s;
	cpu_set_t set;
	int pinned, lay, k;

	bench_json__init(&bj, BENCH_NAME, argc, argv);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pinned = !sched_setaffinity(0, sizeof(set), &set);

	host_buf = calloc(1, OV_MAX_PAGES * PAGE);
	if (!host_buf)
		die("allocate", ENOMEM, NULL);

	printf("%s: flat view render and commit cost (%s), libmemslot %s, %s, "
	       "medians of up to %d/%d/%d runs\n", BENCH_NAME, bj.where, ms_version(),
	       pinned ? "pinned to CPU 0" : "not pinned", max_runs[0], max_runs[1], max_runs[2]);
	printf("%-9s %7s %7s %9s %9s %10s %9s %10s %9s %8s %s\n", "layout", "regions", "ranges",
	       "build ms", "attach ms", "render ms", "ns/region", "commit ms", "ns/region",
	       "free ms", "runs");
	fflush(stdout);

	for (lay = 0; lay < NR_LAYOUTS; lay++) {
		for (s = 0; s < NR_SIZES; s++) {
			run_cell(lay, s, rows[lay], changes[lay]);
			print_row(lay, &rows[lay][s]);
		}
	}

	for (lay = 0; lay < NR_LAYOUTS; lay++)
		print_growth(lay, &rows[lay][last - 1], &rows[lay][last]);

	printf("one-region change, address space + counting listener; "
	       "vs render: median change commit / median render\n");
	printf("%-9s %7s %-12s %9s %10s %8s %10s %10s %9s\n", "layout", "regions", "change",
	       "commit ms", "ns/region", "commits", "add/commit", "del/commit", "vs render");
	for (lay = 0; lay < NR_LAYOUTS; lay++) {
		for (s = 0; s < NR_SIZES; s++) {
			if (!rows[lay][s].done) {
				printf("%-9s %7zu skipped\n", layout_name[lay], sizes[s]);
				continue;
			}
			for (k = 0; k < 2; k++) {
				const struct change *c = &changes[lay][s][k];

				printf("%-9s %7zu %-12s %9.3f %10.1f %8d %10.2f %10.2f %9.3f\n",
				       layout_name[lay], sizes[s], c->what, c->ms,
				       c->ms * 1e6 / sizes[s], c->nr, c->add, c->del,
				       c->ms / rows[lay][s].render_ms);
			}
		}
	}

	add_figures(&bj, rows);
	free(host_buf);
	if (bench_json__write(&bj))
		return 1;
	return failed;
}
