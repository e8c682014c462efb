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
 * Each request commits a transaction, so the whole "memory" view is
 * re-rendered and diffed by the KVM memslot mapping: QEMU semantics.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memslot/memslot.h>

#define GiB (1ull << 30)
#define MiB (1ull << 20)

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

static void bench_dimms(void)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_machine *m = machine(ctx, 256, 2 * GiB + 256 * GiB);
	double bucket[4] = { 0 };
	struct ms_devmem_stats st;
	char id[32], mid[32];

	for (int i = 0; i < 200; i++) {
		struct ms_error err = { 0 };
		double t0;

		snprintf(mid, sizeof(mid), "m%d", i);
		snprintf(id, sizeof(id), "d%d", i);
		MS_OPTS(ms_memdev_opts, o, .type = MS_MEMDEV_DIMM, .id = id,
			.memdev = backend(m, mid, 512 * MiB), .slot = MS_MEMDEV_SLOT_AUTO);
		t0 = now_ns();
		if (!ms_machine__device_add(m, &o, &err))
			die(id, &err);
		bucket[i / 50] += now_ns() - t0;
	}
	ms_machine__devmem_stats(m, &st);
	printf("200 pc-dimms (512 MiB each), q35 -m 2G,slots=256,maxmem=258G\n");
	printf("%-12s %14s\n", "dimms", "us/device_add");
	for (int b = 0; b < 4; b++)
		printf("%4d-%-7d %14.1f\n", b * 50 + 1, b * 50 + 50, bucket[b] / 50 / 1e3);
	printf("each device_add commits: full re-render and diff of the view, O(ranges)\n");
	printf("last/first bucket: %.2fx   (memslots: required %u, used %u, KVM slots %u)\n\n",
	       bucket[3] / bucket[0], st.required_memslots, st.used_memslots,
	       ms_slotmap__nr_used(ms_machine__kvm(m)));
	ms_machine__free(m);
	ms_ctx__free(ctx);
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
	double by_step[4] = { 0 }, by_active[5][2] = { { 0 } };
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
		by_active[bucket][remap] += dt;
		n_active[bucket][remap]++;
	}
	ms_virtio_mem__status(d, &vs);
	printf("virtio-mem 256 GiB, 2 MiB blocks, dynamic memslots: %u memslots of %llu MiB, "
	       "%d random 128 MiB plug/unplug requests (%d acked)\n", vs.nr_memslots,
	       (unsigned long long)(vs.memslot_size / MiB), steps, acks);
	printf("%-14s %12s\n", "steps", "us/request");
	for (int b = 0; b < 4; b++)
		printf("%5d-%-8d %12.1f\n", b * steps / 4 + 1, (b + 1) * steps / 4,
		       by_step[b] / (steps / 4) / 1e3);
	printf("%-14s %14s %8s %14s %8s\n", "active slots", "us/block-only", "requests",
	       "us/(un)map", "requests");
	for (int b = 0; b < 5; b++)
		printf("%3u%%-%3u%%      %14.1f %8u %14.1f %8u\n", b * 20, b * 20 + 20,
		       n_active[b][0] ? by_active[b][0] / n_active[b][0] / 1e3 : 0.0,
		       n_active[b][0],
		       n_active[b][1] ? by_active[b][1] / n_active[b][1] / 1e3 : 0.0,
		       n_active[b][1]);
	printf("block-only requests stay flat; a request that maps or unmaps a memslot commits a\n"
	       "topology change, which (QEMU semantics, listeners-and-transactions.md 3.3)\n"
	       "re-renders the view and sends region_nop for every range: O(ranges).\n");
	printf("last/first step bucket: %.2fx   (active memslots now %u, KVM slots %u)\n",
	       by_step[3] / by_step[0], vs.active_memslots,
	       ms_slotmap__nr_used(ms_machine__kvm(m)));
	free(plugged);
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

int main(void)
{
	cpu_set_t set;
	bool pinned;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pinned = !sched_setaffinity(0, sizeof(set), &set);
	printf("bench_memdev: memory-device planning cost, libmemslot %s, %s\n\n", ms_version(),
	       pinned ? "pinned to CPU 0" : "not pinned");
	bench_dimms();
	bench_virtio_mem();
	return 0;
}
