/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench.h: the named figures of `make bench`.
 *
 * A bench run with a directory argument writes <dir>/<bench>.json, one
 * fragment: { "bench", "where", "figures": { name: figure } }, where a
 * figure is a ratio (so that it survives a noisy host) with the raw
 * medians and p99s it came from, and its goal if it has one:
 *
 *	{ "value": 1.05, "goal": { "op": "<=", "value": 0.01 }, "met": false,
 *	  "what": "...", "raw": { "commit_median_ns": ..., ... } }
 *
 * scripts/bench-results.py gathers the fragments into results.json. The
 * bench also prints every figure with its goal and "met" / "NOT met"; a
 * missed goal is a result, never a failure.
 */
#ifndef MEMSLOT_BENCH_H
#define MEMSLOT_BENCH_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

struct bench_json {
	const char *bench;
	char path[4096];	/* empty: no fragment requested */
	char where[128];
	json_object *root, *figures;
};

/*
 * Where the bench runs: the kernel-in-the-loop runner exports the guest
 * kernel and its acceleration (selftests/vmtest.sh).
 */
static inline void bench_json__init(struct bench_json *bj, const char *bench, int argc,
				    char **argv)
{
	const char *kernel = getenv("MEMSLOT_VMTEST"), *accel = getenv("MEMSLOT_VMTEST_ACCEL");

	memset(bj, 0, sizeof(*bj));
	bj->bench = bench;
	if (kernel && *kernel)
		snprintf(bj->where, sizeof(bj->where), "guest %s %s", kernel,
			 accel && *accel ? accel : "kvm");
	else
		snprintf(bj->where, sizeof(bj->where), "host");
	if (argc > 1)
		snprintf(bj->path, sizeof(bj->path), "%s/%s.json", argv[1], bench);
	bj->root = json_object_new_object();
	bj->figures = json_object_new_object();
	json_object_object_add(bj->root, "bench", json_object_new_string(bench));
	json_object_object_add(bj->root, "where", json_object_new_string(bj->where));
	json_object_object_add(bj->root, "figures", bj->figures);
}

/* A raw figure: an object of its own, added with bench_json__raw(). */
static inline json_object *bench_json__raw_new(void)
{
	return json_object_new_object();
}

static inline void bench_json__raw(json_object *raw, const char *key, double v)
{
	json_object_object_add(raw, key, json_object_new_double(v));
}

static inline void bench_json__raw_u64(json_object *raw, const char *key, uint64_t v)
{
	json_object_object_add(raw, key, json_object_new_uint64(v));
}

static inline void bench_json__raw_str(json_object *raw, const char *key, const char *v)
{
	json_object_object_add(raw, key, json_object_new_string(v));
}

/*
 * Add figure @name = @value; @goal < 0 means the figure has no goal, else
 * the goal is value <= @goal. Prints one line: name, value, goal, met.
 * Takes @raw over.
 */
static inline void bench_json__figure(struct bench_json *bj, const char *name, double value,
				      double goal, const char *what, json_object *raw)
{
	json_object *f = json_object_new_object();
	bool met = value <= goal;

	json_object_object_add(f, "value", json_object_new_double(value));
	if (goal >= 0) {
		json_object *g = json_object_new_object();

		json_object_object_add(g, "op", json_object_new_string("<="));
		json_object_object_add(g, "value", json_object_new_double(goal));
		json_object_object_add(f, "goal", g);
		json_object_object_add(f, "met", json_object_new_boolean(met));
	}
	json_object_object_add(f, "what", json_object_new_string(what));
	json_object_object_add(f, "raw", raw ? raw : json_object_new_object());
	json_object_object_add(bj->figures, name, f);
	if (goal >= 0)
		printf("figure %-46s %10.4f   goal <= %-8g %s   (%s)\n", name, value, goal,
		       met ? "met" : "NOT met", bj->where);
	else
		printf("figure %-46s %10.4f   no goal          (%s)\n", name, value, bj->where);
	fflush(stdout);
}

/* Write the fragment if one was requested. Return: 0 or a negative errno. */
static inline int bench_json__write(struct bench_json *bj)
{
	int ret = 0;
	int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE;

	if (bj->path[0] && json_object_to_file_ext(bj->path, bj->root, flags) < 0) {
		ret = errno ? -errno : -EIO;
		fprintf(stderr, "%s: cannot write %s: %s\n", bj->bench, bj->path,
			json_util_get_last_err());
	}
	json_object_put(bj->root);
	bj->root = NULL;
	return ret;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median and p99 (nearest rank) of @v[0..n), which gets sorted. */
static inline void bench_stats(double *v, size_t n, double *med, double *p99)
{
	size_t r;

	if (!n) {
		*med = *p99 = 0;
		return;
	}
	qsort(v, n, sizeof(*v), bench_cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	r = (99 * n + 99) / 100;	/* ceil(0.99 n) */
	*p99 = v[(r ? r : 1) - 1];
}

#endif /* MEMSLOT_BENCH_H */
