// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_slotmap: library cost of one memslot update as the slot count
 * grows. An address space holds N RAM regions of 2 MiB (each one slot);
 * a KVM slot map (ms_slotmap) watches it with no executor, so only the
 * library runs: no ioctl, no VM. One update is one more 2 MiB region
 * added, or removed again, in one transaction: begin, add or delete the
 * subregion, commit. The commit re-renders the view and diffs it, and the
 * map turns the difference into one slot create or delete.
 *
 * The host memory behind the regions is one PROT_NONE reservation with
 * MAP_NORESERVE: no page is ever touched.
 *
 * Where the probe goes: "top", above all other slots (the figure), or
 * "bottom", in the place of the first region, removed before, so that it
 * is indexed below every other slot and takes the lowest id, freed below
 * all used ones: the case that costs a sorted array O(n).
 *
 * All four maps (8 and 32000 slots, the probe above every slot or below
 * them on the lowest free id) are built first and measured in turns of 50
 * updates, so that the host's slower and faster spells fall on all four.
 *
 * Figure: slot_update_32k_vs_8, the median update with 32000 slots present
 * over the median with 8 (goal <= 2), probe at the top.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <memslot/memslot.h>

#include "bench.h"

#define BENCH_NAME	"bench_slotmap"
#define MiB		(1ull << 20)
#define REGION		(2 * MiB)
/* a gap between regions, so that no two ranges are adjacent */
#define STRIDE		(4 * MiB)
#define MAX_SLOTS	32764	/* KVM_CAP_NR_MEMSLOTS on x86 */
#define UPDATE_GOAL	2.0
/* per size: at most this many updates, and a time budget */
#define MAX_UPDATES	2000
#define BUDGET_MS	6000.0
#define ROUND		50

static const unsigned int sizes[] = { 8, 32000 };
#define NR_SIZES	(sizeof(sizes) / sizeof(sizes[0]))

struct result {
	unsigned int slots;
	bool bottom;
	int updates;
	double build_ms;
	double med, p99, add_med, add_p99, del_med, del_p99;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void __attribute__((noreturn)) die(const char *what, int err, const struct ms_error *e)
{
	fprintf(stderr, "%s: %s: %s%s%s\n", BENCH_NAME, what, strerror(err < 0 ? -err : err),
		e && e->msg[0] ? ": " : "", e && e->msg[0] ? e->msg : "");
	exit(1);
}

static void add(struct ms_region *root, uint64_t gpa, struct ms_region *mr)
{
	struct ms_error e = { 0 };
	int err = ms_region__add_subregion(root, gpa, mr, &e);

	if (err)
		die("add subregion", err, &e);
}

static void expect_slots(struct ms_slotmap *map, unsigned int want)
{
	const struct ms_error *e = ms_slotmap__error(map);

	if (e)
		die("slot map", e->err, e);
	if (ms_slotmap__nr_used(map) != want) {
		fprintf(stderr, "%s: %u slots in use, want %u\n", BENCH_NAME,
			ms_slotmap__nr_used(map), want);
		exit(1);
	}
	ms_slotmap__clear_ops(map);
}

/* One address space with @n slots and the probe that is mapped and unmapped. */
struct world {
	struct ms_ctx *ctx;
	struct ms_region *root, *probe, *first;
	struct ms_slotmap *map;
	struct ms_as *as;
	unsigned int base;
	uint64_t at;
	double all[2 * MAX_UPDATES], adds[MAX_UPDATES], dels[MAX_UPDATES];
	int nr;
	struct result *r;
};

static void setup(struct world *w, unsigned int n, bool bottom, char *hva, struct result *r)
{
	struct ms_error e = { 0 };
	double t0;

	memset(r, 0, sizeof(*r));
	w->r = r;
	w->nr = 0;
	r->slots = n;
	r->bottom = bottom;
	w->base = n;
	w->at = (uint64_t)n * STRIDE;
	t0 = now_ns();
	w->ctx = ms_ctx__new();
	if (!w->ctx)
		die("create context", errno, NULL);
	w->root = ms_region__new_container(w->ctx, "root", UINT64_MAX, &e);
	if (!w->root)
		die("create root", errno, &e);
	w->as = ms_as__new(w->ctx, w->root, "memory", &e);
	if (!w->as)
		die("create address space", errno, &e);
	MS_OPTS(ms_slotmap_opts, o, .max_slots = MAX_SLOTS);
	w->map = ms_slotmap__new(w->as, &o, &e);
	if (!w->map)
		die("create slot map", errno, &e);
	/* one transaction, one commit: the N slots are the setting, not the subject */
	ms_ctx__begin(w->ctx);
	for (unsigned int s = 0; s < n; s++) {
		struct ms_region *mr;
		char name[32];

		snprintf(name, sizeof(name), "ram%u", s);
		mr = ms_region__new_ram_ptr(w->ctx, name, REGION, hva + s * REGION, &e);
		if (!mr)
			die("create region", errno, &e);
		add(w->root, s * STRIDE, mr);
		if (s)
			ms_region__unref(mr);	/* the container holds it */
		else
			w->first = mr;
	}
	ms_ctx__commit(w->ctx);
	expect_slots(w->map, n);
	r->build_ms = (now_ns() - t0) / 1e6;
	if (bottom) {
		int err = ms_region__del_subregion(w->root, w->first, &e);

		if (err)
			die("delete first region", err, &e);
		expect_slots(w->map, --w->base);
		w->at = 0;
	}
	/* our reference keeps the probe alive while it is not mapped */
	w->probe = ms_region__new_ram_ptr(w->ctx, "probe", REGION, hva + n * REGION, &e);
	if (!w->probe)
		die("create probe", errno, &e);
}

/* @n updates: the probe added, then removed again, each its own commit */
static double updates(struct world *w, int n)
{
	struct ms_error e = { 0 };
	double spent = 0;

	for (int i = 0; i < n && w->nr < MAX_UPDATES; i++) {
		double t0, t1, t2;
		int err;

		t0 = now_ns();
		ms_ctx__begin(w->ctx);
		add(w->root, w->at, w->probe);
		ms_ctx__commit(w->ctx);
		t1 = now_ns();
		expect_slots(w->map, w->base + 1);

		t2 = now_ns();
		ms_ctx__begin(w->ctx);
		err = ms_region__del_subregion(w->root, w->probe, &e);
		ms_ctx__commit(w->ctx);
		w->adds[w->nr] = t1 - t0;
		w->dels[w->nr] = now_ns() - t2;
		if (err)
			die("delete subregion", err, &e);
		expect_slots(w->map, w->base);
		w->all[2 * w->nr] = w->adds[w->nr];
		w->all[2 * w->nr + 1] = w->dels[w->nr];
		spent += w->adds[w->nr] + w->dels[w->nr];
		w->nr++;
	}
	return spent;
}

static void finish(struct world *w)
{
	struct result *r = w->r;

	r->updates = 2 * w->nr;
	bench_stats(w->all, 2 * w->nr, &r->med, &r->p99);
	bench_stats(w->adds, w->nr, &r->add_med, &r->add_p99);
	bench_stats(w->dels, w->nr, &r->del_med, &r->del_p99);
	ms_region__unref(w->probe);
	ms_region__unref(w->first);
	ms_slotmap__free(w->map);
	if (ms_as__free(w->as))
		die("free address space", EBUSY, NULL);
	ms_region__unref(w->root);
	ms_ctx__free(w->ctx);
}

int main(int argc, char **argv)
{
	struct result res[NR_SIZES], low[NR_SIZES];
	struct bench_json bj;
	json_object *raw;
	size_t len = (sizes[NR_SIZES - 1] + 1) * REGION;
	cpu_set_t set;
	int pinned;
	char *hva;

	bench_json__init(&bj, BENCH_NAME, argc, argv);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pinned = !sched_setaffinity(0, sizeof(set), &set);
	hva = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		die("reserve host memory", errno, NULL);

	printf("%s: memslot update cost, slot map without executor (%s), libmemslot %s, %s\n",
	       BENCH_NAME, bj.where, ms_version(), pinned ? "pinned to CPU 0" : "not pinned");
	printf("one update: begin, add or delete one 2 MiB RAM subregion, commit; "
	       "us, medians and p99 of up to %d updates\n", 2 * MAX_UPDATES);
	printf("%7s %6s %9s %8s %9s %9s %9s %9s %9s %9s\n", "slots", "probe", "build ms",
	       "updates", "update", "p99", "add", "p99", "delete", "p99");
	/* all four set up first, then measured in turns of ROUND updates each, so
	 * that a slower or faster spell of the host falls on all of them */
	static struct world w[2 * NR_SIZES];
	double spent = 0;

	for (size_t p = 0; p < 2 * NR_SIZES; p++)
		setup(&w[p], sizes[p % NR_SIZES], p >= NR_SIZES, hva,
		      p < NR_SIZES ? &res[p] : &low[p - NR_SIZES]);
	while (w[0].nr < MAX_UPDATES && spent < BUDGET_MS * 1e6)
		for (size_t p = 0; p < 2 * NR_SIZES; p++)
			spent += updates(&w[p], ROUND);
	for (size_t p = 0; p < 2 * NR_SIZES; p++) {
		struct result *r = w[p].r;

		finish(&w[p]);
		printf("%7u %6s %9.1f %8d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", r->slots,
		       r->bottom ? "bottom" : "top", r->build_ms, r->updates, r->med / 1e3,
		       r->p99 / 1e3, r->add_med / 1e3, r->add_p99 / 1e3, r->del_med / 1e3,
		       r->del_p99 / 1e3);
	}

	raw = bench_json__raw_new();
	bench_json__raw_u64(raw, "small_slots", res[0].slots);
	bench_json__raw_u64(raw, "large_slots", res[1].slots);
	bench_json__raw(raw, "small_update_median_ns", res[0].med);
	bench_json__raw(raw, "small_update_p99_ns", res[0].p99);
	bench_json__raw_u64(raw, "small_updates", res[0].updates);
	bench_json__raw(raw, "large_update_median_ns", res[1].med);
	bench_json__raw(raw, "large_update_p99_ns", res[1].p99);
	bench_json__raw_u64(raw, "large_updates", res[1].updates);
	bench_json__raw(raw, "large_add_median_ns", res[1].add_med);
	bench_json__raw(raw, "large_delete_median_ns", res[1].del_med);
	bench_json__raw(raw, "small_bottom_update_median_ns", low[0].med);
	bench_json__raw(raw, "large_bottom_update_median_ns", low[1].med);
	bench_json__raw(raw, "large_bottom_update_p99_ns", low[1].p99);
	bench_json__figure(&bj, "slot_update_32k_vs_8", res[1].med / res[0].med, UPDATE_GOAL,
			   "library time per memslot update (2 MiB region added or removed + "
			   "commit, ms_slotmap without executor), 32000 slots / 8 slots", raw);
	munmap(hva, len);
	return bench_json__write(&bj) ? 1 : 0;
}
