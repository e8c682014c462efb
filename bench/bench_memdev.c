// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_memdev: cost of memory-device planning as devices accumulate.
 *
 * 1. Plug 200 pc-dimms one after another into a q35 machine (plan mode,
 *    no memory allocated) and report the time per device_add in buckets of
 *    50: it must stay flat, not grow with the number already plugged.
 * 2. A virtio-mem device with dynamic memslots decided at 256 goes through
 *    10k random block plug/unplug requests; report the time per request
 *    by step bucket and by the number of active memslots.
 * 3. The same device: the request that maps one memslot (plug of one
 *    block into an inactive memslot) and the one that unmaps it, with all
 *    other memslots unmapped ("empty") and with all of them mapped ("full").
 * Each request that changes a region commits a transaction; the commit
 * renders again only the windows the change touched in each view and
 * the KVM memslot mapping gets the diff of those (lib/ctx.c).
 *
 * Figures: dimm_plug_200th_vs_1st, the median over DIMM_REPS fresh
 * machines of the 200th device_add over that of the 1st (goal <= 1.5);
 * virtio_mem_map_full_vs_empty, the median memslot-mapping request with
 * all other memslots mapped over the one with none mapped (goal <= 1.5).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memslot/memslot.h>

#include "bench.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)

#define NR_DIMMS	200
#define DIMM_REPS	15	/* machines plugged with NR_DIMMS, after one warm-up */
#define MAP_REPS	41	/* map + unmap requests per state */
#define GROWTH_GOAL	1.5

static struct bench_json bj;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what, const struct ms_error *e)
{
	fprintf(stderr, "bench_memdev: %s: %s\n", what, e ? e->msg : "failed");
	exit(1);
}

static struct ms_machine *machine(struct ms_ctx *ctx, uint32_t slots, uint64_t maxmem)
{
	struct ms_error err = { 0 };
	MS_OPTS(ms_machine_opts, o, .type = MS_MACHINE_Q35, .ram_size = 2 * GiB, .slots = slots,
		.maxmem = maxmem, .kvm_memslots = 32764, .page_size = 4096);
	struct ms_machine *m = ms_machine__new(ctx, &o, &err);

	if (!m)
		die("machine", &err);
	return m;
}

static struct ms_backend *backend(struct ms_machine *m, const char *id, uint64_t size)
{
	struct ms_error err = { 0 };
	MS_OPTS(ms_backend_opts, o, .kind = MS_BACKEND_RAM, .id = id, .size = size,
		.no_memory = true);
	struct ms_backend *b = ms_machine__add_backend(m, &o, &err);

	if (!b)
		die(id, &err);
	return b;
}

/* Plug NR_DIMMS pc-dimms into a fresh machine; @ns[i] is the i-th device_add. */
static void plug_dimms(double *ns, struct ms_devmem_stats *st, unsigned int *kvm_slots)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_machine *m = machine(ctx, 256, 2 * GiB + 256 * GiB);
	char id[32], mid[32];

	for (int i = 0; i < NR_DIMMS; i++) {
		struct ms_error err = { 0 };
		double t0;

		snprintf(mid, sizeof(mid), "m%d", i);
		snprintf(id, sizeof(id), "d%d", i);
		MS_OPTS(ms_memdev_opts, o, .type = MS_MEMDEV_DIMM, .id = id,
			.memdev = backend(m, mid, 512 * MiB), .slot = MS_MEMDEV_SLOT_AUTO);
		t0 = now_ns();
		if (!ms_machine__device_add(m, &o, &err))
			die(id, &err);
		ns[i] = now_ns() - t0;
	}
	ms_machine__devmem_stats(m, st);
	*kvm_slots = ms_slotmap__nr_used(ms_machine__kvm(m));
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

static void bench_dimms(void)
{
	static double t[DIMM_REPS][NR_DIMMS];
	double med[NR_DIMMS], p99[NR_DIMMS], col[DIMM_REPS], bucket[4] = { 0 };
	double all[50 * DIMM_REPS], bmed[4], bp99[4];
	struct ms_devmem_stats st;
	unsigned int kvm_slots;
	json_object *raw;

	plug_dimms(t[0], &st, &kvm_slots);	/* warm-up, not counted */
	for (int r = 0; r < DIMM_REPS; r++)
		plug_dimms(t[r], &st, &kvm_slots);
	for (int i = 0; i < NR_DIMMS; i++) {
		for (int r = 0; r < DIMM_REPS; r++)
			col[r] = t[r][i];
		bench_stats(col, DIMM_REPS, &med[i], &p99[i]);
		bucket[i / 50] += med[i];
	}
	for (int b = 0; b < 4; b++) {
		for (int i = 0; i < 50; i++)
			for (int r = 0; r < DIMM_REPS; r++)
				all[i * DIMM_REPS + r] = t[r][b * 50 + i];
		bench_stats(all, 50 * DIMM_REPS, &bmed[b], &bp99[b]);
	}
	printf("%d pc-dimms (512 MiB each), q35 -m 2G,slots=256,maxmem=258G, plan mode, "
	       "%d machines\n", NR_DIMMS, DIMM_REPS);
	printf("%-12s %14s %10s %10s\n", "dimms", "us/device_add", "median", "p99");
	for (int b = 0; b < 4; b++)
		printf("%4d-%-7d %14.1f %10.1f %10.1f\n", b * 50 + 1, b * 50 + 50,
		       bucket[b] / 50 / 1e3, bmed[b] / 1e3, bp99[b] / 1e3);
	printf("(us/device_add: mean of the per-index medians over the machines; median and\n"
	       " p99 of all device_adds in the bucket)\n");
	printf("each device_add commits: the views are patched where the DIMM shows\n");
	printf("last/first bucket: %.2fx   1st: %.1f us, 200th: %.1f us (medians)   "
	       "(memslots: required %u, used %u, KVM slots %u)\n",
	       bucket[3] / bucket[0], med[0] / 1e3, med[NR_DIMMS - 1] / 1e3,
	       st.required_memslots, st.used_memslots, kvm_slots);

	raw = bench_json__raw_new();
	bench_json__raw_u64(raw, "machines", DIMM_REPS);
	bench_json__raw(raw, "first_median_ns", med[0]);
	bench_json__raw(raw, "first_p99_ns", p99[0]);
	bench_json__raw(raw, "last_median_ns", med[NR_DIMMS - 1]);
	bench_json__raw(raw, "last_p99_ns", p99[NR_DIMMS - 1]);
	bench_json__raw(raw, "bucket_1_50_mean_ns", bucket[0] / 50);
	bench_json__raw(raw, "bucket_151_200_mean_ns", bucket[3] / 50);
	bench_json__figure(&bj, "dimm_plug_200th_vs_1st", med[NR_DIMMS - 1] / med[0], GROWTH_GOAL,
			   "library time of the 200th pc-dimm device_add / the 1st, plan mode "
			   "(no executor), q35 slots=256", raw);
	printf("\n");
}

static void bench_virtio_mem(void)
{
	const uint64_t size = 256 * GiB, block = 2 * MiB;
	const uint64_t blocks = size / block, chunk_blocks = 64;	/* 128 MiB requests */
	const int steps = 10000;
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_machine *m = machine(ctx, 0, 2 * GiB + size);
	struct ms_virtio_mem_status vs;
	struct ms_error err = { 0 };
	double by_step[4] = { 0 }, by_active[5][2] = { { 0 } }, smed, sp99;
	double *samples = calloc(steps, sizeof(*samples));
	unsigned int n_active[5][2] = { { 0 } };
	unsigned char *plugged;
	struct ms_memdev *d;
	int acks = 0;

	MS_OPTS(ms_memdev_opts, o, .type = MS_MEMDEV_VIRTIO_MEM, .id = "vmem0",
		.memdev = backend(m, "vm0", size), .requested_size = size, .block_size = block,
		.dynamic_memslots = true, .unplugged_inaccessible = MS_ON);
	d = ms_machine__device_add(m, &o, &err);
	if (!d)
		die("virtio-mem", &err);
	ms_virtio_mem__status(d, &vs);
	plugged = calloc(blocks / chunk_blocks, 1);
	if (!plugged || !samples)
		die("virtio-mem", NULL);
	for (int i = 0; i < steps; i++) {
		uint64_t c = rnd() % (blocks / chunk_blocks);
		uint64_t off = c * chunk_blocks * block, len = chunk_blocks * block;
		double t0, dt;
		int resp, bucket;

		uint32_t before;
		int remap;

		ms_virtio_mem__status(d, &vs);
		before = vs.active_memslots;
		bucket = before * 5 / (vs.nr_memslots + 1);
		t0 = now_ns();
		resp = plugged[c] ? ms_virtio_mem__unplug(d, off, len) :
				    ms_virtio_mem__plug(d, off, len);
		dt = now_ns() - t0;
		if (resp == MS_VIRTIO_MEM_ACK) {
			plugged[c] ^= 1;
			acks++;
		}
		ms_virtio_mem__status(d, &vs);
		remap = vs.active_memslots != before;	/* a memslot was (un)mapped */
		by_step[i * 4 / steps] += dt;
		samples[i] = dt;
		by_active[bucket][remap] += dt;
		n_active[bucket][remap]++;
	}
	ms_virtio_mem__status(d, &vs);
	printf("virtio-mem 256 GiB, 2 MiB blocks, dynamic memslots: %u memslots of %llu MiB, "
	       "%d random 128 MiB plug/unplug requests (%d acked)\n", vs.nr_memslots,
	       (unsigned long long)(vs.memslot_size / MiB), steps, acks);
	printf("%-14s %12s %10s %10s\n", "steps", "us/request", "median", "p99");
	for (int b = 0; b < 4; b++) {
		bench_stats(samples + b * (steps / 4), steps / 4, &smed, &sp99);
		printf("%5d-%-8d %12.1f %10.1f %10.1f\n", b * steps / 4 + 1, (b + 1) * steps / 4,
		       by_step[b] / (steps / 4) / 1e3, smed / 1e3, sp99 / 1e3);
	}
	printf("%-14s %14s %8s %14s %8s\n", "active slots", "us/block-only", "requests",
	       "us/(un)map", "requests");
	for (int b = 0; b < 5; b++)
		printf("%3u%%-%3u%%      %14.1f %8u %14.1f %8u\n", b * 20, b * 20 + 20,
		       n_active[b][0] ? by_active[b][0] / n_active[b][0] / 1e3 : 0.0,
		       n_active[b][0],
		       n_active[b][1] ? by_active[b][1] / n_active[b][1] / 1e3 : 0.0,
		       n_active[b][1]);
	printf("block-only requests change no region; a request that maps or unmaps a memslot\n"
	       "commits a topology change: the views are patched where the memslot shows.\n");
	printf("last/first step bucket: %.2fx   (active memslots now %u, KVM slots %u)\n",
	       by_step[3] / by_step[0], vs.active_memslots,
	       ms_slotmap__nr_used(ms_machine__kvm(m)));
	free(plugged);
	free(samples);
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

/* Map then unmap memslot @k with one block, MAP_REPS times; ns per request. */
static void map_unmap(struct ms_memdev *d, uint64_t off, uint64_t block, double *map,
		      double *unmap)
{
	for (int r = 0; r < MAP_REPS; r++) {
		double t0 = now_ns();

		if (ms_virtio_mem__plug(d, off, block) != MS_VIRTIO_MEM_ACK)
			die("virtio-mem plug", NULL);
		map[r] = now_ns() - t0;
		t0 = now_ns();
		if (ms_virtio_mem__unplug(d, off, block) != MS_VIRTIO_MEM_ACK)
			die("virtio-mem unplug", NULL);
		unmap[r] = now_ns() - t0;
	}
}

static void bench_virtio_mem_map(void)
{
	const uint64_t size = 256 * GiB, block = 2 * MiB;
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_machine *m = machine(ctx, 0, 2 * GiB + size);
	double map[2][MAP_REPS], unmap[2][MAP_REPS], mmed[2], mp99[2], umed[2], up99[2];
	struct ms_virtio_mem_status vs;
	struct ms_error err = { 0 };
	uint32_t active[2];
	struct ms_memdev *d;
	json_object *raw;
	uint64_t off;

	MS_OPTS(ms_memdev_opts, o, .type = MS_MEMDEV_VIRTIO_MEM, .id = "vmem0",
		.memdev = backend(m, "vm0", size), .requested_size = size, .block_size = block,
		.dynamic_memslots = true, .unplugged_inaccessible = MS_ON);
	d = ms_machine__device_add(m, &o, &err);
	if (!d)
		die("virtio-mem", &err);
	ms_virtio_mem__status(d, &vs);
	/* the same memslot both times, in the middle */
	off = vs.nr_memslots / 2 * vs.memslot_size;
	active[0] = vs.active_memslots;
	map_unmap(d, off, block, map[0], unmap[0]);
	for (uint32_t k = 0; k < vs.nr_memslots; k++) {
		uint64_t start = k * vs.memslot_size, len = vs.memslot_size;

		if (start == off)
			continue;
		if (start + len > vs.usable_region_size)
			len = vs.usable_region_size - start;
		if (ms_virtio_mem__plug(d, start, len) != MS_VIRTIO_MEM_ACK)
			die("virtio-mem fill", NULL);
	}
	ms_virtio_mem__status(d, &vs);
	active[1] = vs.active_memslots;
	map_unmap(d, off, block, map[1], unmap[1]);
	for (int s = 0; s < 2; s++) {
		bench_stats(map[s], MAP_REPS, &mmed[s], &mp99[s]);
		bench_stats(unmap[s], MAP_REPS, &umed[s], &up99[s]);
	}
	printf("\nvirtio-mem 256 GiB, %u memslots: map one memslot (plug 1 block) and unmap it, "
	       "medians of %d\n", vs.nr_memslots, MAP_REPS);
	printf("%-28s %10s %10s %10s %10s\n", "other memslots", "map us", "p99", "unmap us",
	       "p99");
	for (int s = 0; s < 2; s++)
		printf("%-28s %10.1f %10.1f %10.1f %10.1f\n",
		       s ? "all mapped (full)" : "none mapped (empty)", mmed[s] / 1e3,
		       mp99[s] / 1e3, umed[s] / 1e3, up99[s] / 1e3);

	raw = bench_json__raw_new();
	bench_json__raw_u64(raw, "memslots", vs.nr_memslots);
	bench_json__raw_u64(raw, "requests", MAP_REPS);
	bench_json__raw_u64(raw, "empty_active_memslots", active[0]);
	bench_json__raw_u64(raw, "full_active_memslots", active[1]);
	bench_json__raw(raw, "empty_map_median_ns", mmed[0]);
	bench_json__raw(raw, "empty_map_p99_ns", mp99[0]);
	bench_json__raw(raw, "full_map_median_ns", mmed[1]);
	bench_json__raw(raw, "full_map_p99_ns", mp99[1]);
	bench_json__raw(raw, "empty_unmap_median_ns", umed[0]);
	bench_json__raw(raw, "full_unmap_median_ns", umed[1]);
	bench_json__raw(raw, "unmap_ratio", umed[1] / umed[0]);
	bench_json__figure(&bj, "virtio_mem_map_full_vs_empty", mmed[1] / mmed[0], GROWTH_GOAL,
			   "library time of a virtio-mem request that maps a memslot, all other "
			   "memslots mapped / none mapped, plan mode", raw);
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

int main(int argc, char **argv)
{
	cpu_set_t set;
	bool pinned;

	bench_json__init(&bj, "bench_memdev", argc, argv);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pinned = !sched_setaffinity(0, sizeof(set), &set);
	printf("bench_memdev: memory-device planning cost (%s), libmemslot %s, %s\n\n", bj.where,
	       ms_version(), pinned ? "pinned to CPU 0" : "not pinned");
	bench_dimms();
	bench_virtio_mem();
	bench_virtio_mem_map();
	return bench_json__write(&bj) ? 1 : 0;
}
