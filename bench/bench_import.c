// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_import: cost of ms_import__parse() (what `memslot mtree --import`
 * runs) on generated QEMU 7.2 `info mtree` dumps of about 1, 10 and 50 MB,
 * each one dump (one "address-space: memory") with its `info mtree -f`
 * flat views, in memory.
 *
 * The generated machine is a PC with many PCI devices: per device a BAR
 * container under "pci" holding register and MSI-X regions, VRAM on every
 * 4th, a quirk region under a disabled (unprinted) container on every 8th,
 * an alias window onto a region of the device's own (so one
 * "memory-region:" section per device; a ROM on every 16th, so that the
 * KVM slots stay under 32764), an I/O port (while the port space lasts)
 * and an address space of its own (a "bus master container"); QEMU's
 * "memory-region: system" copy of the system tree follows, queued by the
 * unprinted "bus master" aliases (qemu-mtree-format.md 2.2). The first
 * run of a size also pays the page faults of fresh memory (the p99
 * column).
 *
 * Figures: import_50mb_seconds, the median import of the 50 MB dump
 * (goal <= 5), and import_growth_50mb_vs_1mb, its cost per MB over the
 * 1 MB dump's (goal <= 1.5: near-linear).
 *
 * `bench_import --write MB TREE FLAT` writes one generated dump pair
 * instead (for profiling `memslot mtree --import TREE --check-flat FLAT`),
 * `bench_import --only MB` times one import of one size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memslot/memslot.h>

#include "bench.h"

#define BENCH_NAME	"bench_import"
#define MB		(1024.0 * 1024.0)

static const double sizes_mb[] = { 1, 10, 50 };
static const int max_runs[] = { 9, 5, 3 };
/* Measurement budget per size; a size always gets one run. */
#define SIZE_BUDGET_MS	6000.0
#define GOAL_50MB_S	5.0
#define GOAL_GROWTH	1.5
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NR_SIZES ARRAY_SIZE(sizes_mb)

/* ---- generated dumps ------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void __attribute__((noreturn)) die(const char *what, int err, const struct ms_error *e)
{
	fprintf(stderr, "%s: %s: %s%s%s\n", BENCH_NAME, what, strerror(err < 0 ? -err : err),
		e && e->msg[0] ? ": " : "", e && e->msg[0] ? e->msg : "");
	exit(1);
}

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("format", EINVAL, NULL);
		if (b->len + (size_t)n < b->cap)
			break;
		b->cap = b->cap ? 2 * b->cap : 1 << 16;
		while (b->cap <= b->len + (size_t)n)
			b->cap *= 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("allocate", ENOMEM, NULL);
	}
	b->len += (size_t)n;
}

#define RAM_SIZE	0x40000000ull
#define BAR_BASE	0x100000000ull
#define BAR_SIZE	0x10000ull
#define PORT_BASE	0x1000u
#define PORT_SIZE	4u
#define NR_PORTS	((0x10000u - PORT_BASE) / PORT_SIZE)
#define QUIRK_EVERY	8
/* KVM memory slots (at most 32764): VRAM on every 4th device, a ROM (else
 * an I/O region) behind the alias window of every 16th */
#define VRAM_EVERY	4
#define ROM_EVERY	16

static const char *exp_type(size_t i)
{
	return i % ROM_EVERY ? "i/o" : "rom";
}

/* "<ind><start>-<end> (prio <p>, <type>): " */
static void range(struct sbuf *b, unsigned int level, uint64_t start, uint64_t size, int prio,
		  const char *type)
{
	sb_printf(b, "%*s%016" PRIx64 "-%016" PRIx64 " (prio %d, %s): ", 2 * level, "", start,
		  start + size - 1, prio, type);
}

/* The system tree at @level (1: its own section). */
static void system_tree(struct sbuf *t, size_t ndev)
{
	sb_printf(t, "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n");
	range(t, 2, 0, RAM_SIZE, 0, "ram");
	sb_printf(t, "alias ram-below-4g @pc.ram 0000000000000000-%016" PRIx64 "\n", (uint64_t)RAM_SIZE - 1);
	sb_printf(t, "    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n");
	for (size_t i = 0; i < ndev; i++) {
		uint64_t bar = BAR_BASE + i * BAR_SIZE;

		range(t, 3, bar, BAR_SIZE, 1, "i/o");
		sb_printf(t, "dev%zu-bar\n", i);
		if (i % QUIRK_EVERY == 0) {
			/* under a disabled container: printed two levels down */
			range(t, 5, bar + 0x4000, 0x100, 0, "i/o");
			sb_printf(t, "dev%zu-quirk\n", i);
		}
		range(t, 4, bar, 0x1000, 0, "i/o");
		sb_printf(t, "dev%zu-regs\n", i);
		range(t, 4, bar + 0x1000, 0x1000, 0, "i/o");
		sb_printf(t, "dev%zu-msix-table\n", i);
		range(t, 4, bar + 0x2000, 0x1000, 0, "i/o");
		sb_printf(t, "dev%zu-msix-pba\n", i);
		if (i % VRAM_EVERY == 0) {
			range(t, 4, bar + 0x3000, 0x1000, 0, "ram");
			sb_printf(t, "dev%zu-vram\n", i);
		}
		range(t, 4, bar + 0x8000, 0x1000, 0, exp_type(i));
		sb_printf(t, "alias dev%zu-exp-win @dev%zu.exp 0000000000000000-0000000000000fff\n",
			  i, i);
	}
}

/*
 * One dump of @ndev devices: the tree text in @t, QEMU's flat views in @f.
 * Returns the number of region lines; the dump has 2 @ndev + 4 sections.
 */
static size_t gen_dump(size_t ndev, struct sbuf *t, struct sbuf *f)
{
	size_t nports = ndev < NR_PORTS ? ndev : NR_PORTS, lines = 0;
	uint64_t io_end = PORT_BASE + nports * PORT_SIZE;

	t->len = f->len = 0;
	sb_printf(t, "address-space: I/O\n");
	sb_printf(t, "  0000000000000000-000000000000ffff (prio 0, i/o): io\n");
	for (size_t i = 0; i < nports; i++) {
		range(t, 2, PORT_BASE + i * PORT_SIZE, PORT_SIZE, 0, "i/o");
		sb_printf(t, "dev%zu-port\n", i);
	}
	sb_printf(t, "\naddress-space: cpu-memory-0\naddress-space: memory\n");
	system_tree(t, ndev);
	sb_printf(t, "\n");
	for (size_t i = 0; i < ndev; i++)
		sb_printf(t, "address-space: dev%zu\n"
			  "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus master container\n\n",
			  i);
	sb_printf(t, "memory-region: pc.ram\n");
	range(t, 1, 0, RAM_SIZE, 0, "ram");
	sb_printf(t, "pc.ram\n\n");
	for (size_t i = 0; i < ndev; i++) {
		sb_printf(t, "memory-region: dev%zu.exp\n", i);
		range(t, 1, 0, 0x1000, 0, exp_type(i));
		sb_printf(t, "dev%zu.exp\n\n", i);
	}
	sb_printf(t, "memory-region: system\n");
	system_tree(t, ndev);
	sb_printf(t, "\n");
	for (size_t i = 0; i < t->len; i++)
		lines += t->p[i] == ' ' && (!i || t->p[i - 1] == '\n');

	sb_printf(f, "FlatView #0\n AS \"memory\", root: system\n"
		  " AS \"cpu-memory-0\", root: system\n Root memory region: system\n");
	range(f, 1, 0, RAM_SIZE, 0, "ram");
	sb_printf(f, "pc.ram KVM\n");
	for (size_t i = 0; i < ndev; i++) {
		uint64_t bar = BAR_BASE + i * BAR_SIZE;

		range(f, 1, bar, 0x1000, 0, "i/o");
		sb_printf(f, "dev%zu-regs\n", i);
		range(f, 1, bar + 0x1000, 0x1000, 0, "i/o");
		sb_printf(f, "dev%zu-msix-table\n", i);
		range(f, 1, bar + 0x2000, 0x1000, 0, "i/o");
		sb_printf(f, "dev%zu-msix-pba\n", i);
		if (i % VRAM_EVERY == 0) {
			range(f, 1, bar + 0x3000, 0x1000, 0, "ram");
			sb_printf(f, "dev%zu-vram KVM\n", i);
		}
		range(f, 1, bar + 0x8000, 0x1000, 0, exp_type(i));
		sb_printf(f, "dev%zu.exp%s\n", i, i % ROM_EVERY ? "" : " KVM");
	}
	sb_printf(f, "\nFlatView #1\n AS \"I/O\", root: io\n Root memory region: io\n");
	sb_printf(f, "  0000000000000000-%016x (prio 0, i/o): io\n", PORT_BASE - 1);
	for (size_t i = 0; i < nports; i++) {
		range(f, 1, PORT_BASE + i * PORT_SIZE, PORT_SIZE, 0, "i/o");
		sb_printf(f, "dev%zu-port\n", i);
	}
	if (io_end < 0x10000)
		sb_printf(f, "  %016" PRIx64 "-000000000000ffff (prio 0, i/o): io @%016" PRIx64 "\n",
			  io_end, io_end);
	if (ndev) {
		sb_printf(f, "\nFlatView #2\n");
		for (size_t i = 0; i < ndev; i++)
			sb_printf(f, " AS \"dev%zu\", root: bus master container\n", i);
		sb_printf(f, " Root memory region: (none)\n  No rendered FlatView\n");
	}
	sb_printf(f, "\n");
	return lines;
}

/* Generate a dump of about @mb MB: scaled from a small one, then
 * corrected for the ports running out (past NR_PORTS devices). */
static size_t gen_size(double mb, struct sbuf *t, struct sbuf *f)
{
	size_t n = 1000;

	for (int k = 0; k < 3; k++) {
		gen_dump(n, t, f);
		n = (size_t)(n * (mb * MB / t->len));
	}
	return gen_dump(n, t, f);
}

/* the device count of a generated dump: its last "address-space: devN" + 1 */
static size_t devices_of(const struct sbuf *t)
{
	const char *last = NULL;

	for (const char *s = t->p; (s = memmem(s, t->p + t->len - s, "address-space: dev", 18));
	     s++)
		last = s;
	return last ? strtoul(last + 18, NULL, 10) + 1 : 0;
}

/* ---- timing ---------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct row {
	double mb;
	size_t devices, regions, sections, nr_as;
	double med_ms, p99_ms;
	int runs;
};

static double import_once(const struct sbuf *t, const struct sbuf *f, size_t *nr_as)
{
	struct ms_error err = { 0 };
	struct ms_import *imp;
	struct ms_ctx *ctx = ms_ctx__new();
	double t0, ms;

	if (!ctx)
		die("ms_ctx__new", errno, NULL);
	t0 = now_ms();
	imp = ms_import__parse(ctx, t->p, t->len, f->p, f->len, &err);
	ms = now_ms() - t0;
	if (!imp)
		die("ms_import__parse", errno, &err);
	*nr_as = ms_import__nr_as(imp);
	ms_import__free(imp);
	ms_ctx__free(ctx);
	return ms;
}

static void run_size(size_t s, struct row *r)
{
	struct sbuf t = { 0 }, f = { 0 };
	double ms[16], start;
	int n = 0;

	r->mb = sizes_mb[s];
	r->regions = gen_size(sizes_mb[s], &t, &f);
	r->devices = devices_of(&t);
	r->sections = 2 * r->devices + 4;
	start = now_ms();
	do {
		ms[n++] = import_once(&t, &f, &r->nr_as);
	} while (n < max_runs[s] && now_ms() - start < SIZE_BUDGET_MS);
	r->runs = n;
	bench_stats(ms, n, &r->med_ms, &r->p99_ms);
	r->mb = t.len / MB;
	free(t.p);
	free(f.p);
}

static int write_pair(const char *mb, const char *tree, const char *flat)
{
	struct sbuf t = { 0 }, f = { 0 };
	const char *paths[2] = { tree, flat };
	struct sbuf *bufs[2] = { &t, &f };
	size_t ndev;

	gen_size(atof(mb), &t, &f);
	ndev = devices_of(&t);
	for (int k = 0; k < 2; k++) {
		FILE *o = fopen(paths[k], "w");

		if (!o || fwrite(bufs[k]->p, 1, bufs[k]->len, o) != bufs[k]->len || fclose(o))
			die(paths[k], errno, NULL);
	}
	printf("%s: %zu devices, %.2f MB tree, %.2f MB flat\n", BENCH_NAME, ndev, t.len / MB,
	       f.len / MB);
	free(t.p);
	free(f.p);
	return 0;
}

/* `--only MB`: one size, one run (for profiling) */
static int time_one(double mb)
{
	struct sbuf t = { 0 }, f = { 0 };
	size_t nr_as, regions = gen_size(mb, &t, &f);
	double ms = import_once(&t, &f, &nr_as);

	printf("%.2f MB, %zu regions, %zu address spaces: %.1f ms\n", t.len / MB, regions, nr_as,
	       ms);
	free(t.p);
	free(f.p);
	return 0;
}

int main(int argc, char **argv)
{
	struct row rows[NR_SIZES] = { 0 };
	struct bench_json bj;
	json_object *raw;
	double growth;

	if (argc == 5 && !strcmp(argv[1], "--write"))
		return write_pair(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "--only"))
		return time_one(atof(argv[2]));
	bench_json__init(&bj, BENCH_NAME, argc, argv);
	printf("%s: ms_import__parse() of generated info mtree dumps with their flat views "
	       "(%s), libmemslot %s\n", BENCH_NAME, bj.where, ms_version());
	printf("%8s %8s %8s %8s %6s %10s %10s %8s %5s\n", "MB", "devices", "regions", "sections",
	       "AS", "median ms", "p99 ms", "MB/s", "runs");
	fflush(stdout);
	for (size_t s = 0; s < NR_SIZES; s++) {
		struct row *r = &rows[s];

		run_size(s, r);
		printf("%8.2f %8zu %8zu %8zu %6zu %10.1f %10.1f %8.1f %5d\n", r->mb, r->devices,
		       r->regions, r->sections, r->nr_as, r->med_ms, r->p99_ms,
		       r->mb / (r->med_ms / 1e3), r->runs);
		fflush(stdout);
	}

	raw = bench_json__raw_new();
	bench_json__raw(raw, "import_50mb_median_ms", rows[2].med_ms);
	bench_json__raw(raw, "import_50mb_p99_ms", rows[2].p99_ms);
	bench_json__raw(raw, "dump_mb", rows[2].mb);
	bench_json__raw_u64(raw, "regions", rows[2].regions);
	bench_json__raw_u64(raw, "sections", rows[2].sections);
	bench_json__figure(&bj, "import_50mb_seconds", rows[2].med_ms / 1e3, GOAL_50MB_S,
			   "median ms_import__parse() of a generated 50 MB info mtree dump with "
			   "its flat views, in seconds", raw);

	growth = (rows[2].med_ms / rows[2].mb) / (rows[0].med_ms / rows[0].mb);
	raw = bench_json__raw_new();
	for (size_t s = 0; s < NR_SIZES; s++) {
		char key[64];

		snprintf(key, sizeof(key), "import_%gmb_median_ms", sizes_mb[s]);
		bench_json__raw(raw, key, rows[s].med_ms);
		snprintf(key, sizeof(key), "import_%gmb_dump_mb", sizes_mb[s]);
		bench_json__raw(raw, key, rows[s].mb);
	}
	bench_json__figure(&bj, "import_growth_50mb_vs_1mb", growth, GOAL_GROWTH,
			   "import cost per MB of the 50 MB dump over the 1 MB dump's "
			   "(1: linear)", raw);
	if (bench_json__write(&bj))
		return 1;
	return 0;
}
