// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_bpf: what the BPF programs cost (issue 6, "Performance").
 *
 * 1. Same-run A/B of the raw memslot ioctl: KVM_SET_USER_MEMORY_REGION
 *    creating and deleting one 2 MiB slot in a loop, pinned to CPU 0, in
 *    three modes interleaved round by round: no tracer, the tracer
 *    (bpf/trace.bpf.c skeleton, loaded in-process) attached and filtering
 *    this process, and the tracer attached but filtering another pid (the
 *    cost of the filter alone). Each ioctl is timed on its own
 *    (CLOCK_MONOTONIC); the table shows medians over all rounds and the
 *    overhead of the median create + delete pair against the baseline,
 *    per ioctl. The ring buffer is drained in this thread after every
 *    batch; events received and lost are counted. Target: <= 0.5 us per
 *    ioctl.
 * 2. Census time for KVM_CAP_NR_MEMSLOTS (32764) one-page slots of one
 *    anonymous mapping: the census iterator (bpf/census.bpf.c) over this
 *    process, iterator run plus ring buffer drain, median of several runs.
 *    Target: <= 50 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/kvm.h>

#include "memslot_bpf.h"
#include "census.skel.h"
#include "trace.skel.h"

#define MiB		0x100000ull
#define ROUNDS		10
#define BATCH		500	/* create + delete pairs per mode and round */
#define CENSUS_RUNS	7

enum mode { M_BASE, M_SELF, M_OTHER, M_NR };

static const char *const mode_names[M_NR] = {
	"no tracer", "tracer, this pid", "tracer, other pid",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), u64_cmp);
	return n ? v[n / 2] : 0;
}

static int die(const char *what)
{
	fprintf(stderr, "bench_bpf: %s: %s\n", what, strerror(errno));
	return 1;
}

static int set_region(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
}

static int count_event(void *ctx, void *data, size_t len)
{
	(void)data;
	(void)len;
	++*(uint64_t *)ctx;
	return 0;
}

static struct trace_bpf *tracer_load(uint32_t tgid)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool tp = btf && btf__find_by_name_kind(btf, "btf_trace_sys_enter", BTF_KIND_TYPEDEF) > 0;
	struct trace_bpf *skel;

	btf__free(btf);
	skel = trace_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->targ_tgid = tgid;
	bpf_program__set_autoload(skel->progs.enter_btf, tp);
	bpf_program__set_autoload(skel->progs.exit_btf, tp);
	bpf_program__set_autoload(skel->progs.enter_raw, !tp);
	bpf_program__set_autoload(skel->progs.exit_raw, !tp);
	if (trace_bpf__load(skel)) {
		trace_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static uint64_t lost_of(int map_fd)
{
	uint32_t zero = 0;
	uint64_t lost = 0;

	bpf_map_lookup_elem(map_fd, &zero, &lost);
	return lost;
}

static int bench_ioctl(int vm)
{
	static uint64_t add[M_NR][ROUNDS * BATCH], del[M_NR][ROUNDS * BATCH];
	struct trace_bpf *skel[M_NR] = { NULL };
	struct ring_buffer *rb[M_NR] = { NULL };
	uint64_t got[M_NR] = { 0 }, med_add[M_NR], med_del[M_NR];
	size_t n[M_NR] = { 0 };
	void *mem;
	int ret = 1;

	mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return die("mmap");
	skel[M_SELF] = tracer_load((uint32_t)getpid());
	/* pid 1 issues no memslot ioctls: the filter rejects every call */
	skel[M_OTHER] = tracer_load(1);
	if (!skel[M_SELF] || !skel[M_OTHER]) {
		fprintf(stderr, "bench_bpf: cannot load the trace skeleton (needs root)\n");
		goto out;
	}
	for (int m = M_SELF; m < M_NR; m++) {
		rb[m] = ring_buffer__new(bpf_map__fd(skel[m]->maps.events), count_event, &got[m],
					 NULL);
		if (!rb[m]) {
			die("ring_buffer__new");
			goto out;
		}
	}
	/* warm up: fault in the code paths and the kernel's slot arrays */
	for (int i = 0; i < 200; i++)
		if (set_region(vm, 0, 0, 2 * MiB, mem) || set_region(vm, 0, 0, 0, mem)) {
			die("KVM_SET_USER_MEMORY_REGION");
			goto out;
		}
	for (int r = 0; r < ROUNDS; r++) {
		for (int m = 0; m < M_NR; m++) {
			if (skel[m] && trace_bpf__attach(skel[m])) {
				die("attach");
				goto out;
			}
			for (int i = 0; i < BATCH; i++) {
				uint64_t t0 = now_ns(), t1, t2;
				int e1 = set_region(vm, 0, 0, 2 * MiB, mem);

				t1 = now_ns();
				int e2 = set_region(vm, 0, 0, 0, mem);

				t2 = now_ns();
				if (e1 || e2) {
					die("KVM_SET_USER_MEMORY_REGION");
					goto out;
				}
				add[m][n[m]] = t1 - t0;
				del[m][n[m]++] = t2 - t1;
			}
			if (skel[m])
				trace_bpf__detach(skel[m]);
			/* drain in this thread, between batches */
			if (rb[m])
				ring_buffer__consume(rb[m]);
		}
	}
	printf("memslot ioctl (KVM_SET_USER_MEMORY_REGION, 2 MiB slot, CPU 0): "
	       "medians of %d creates and %d deletes per mode, %d interleaved rounds\n",
	       ROUNDS * BATCH, ROUNDS * BATCH, ROUNDS);
	printf("  %-18s %10s %10s %14s %10s %6s\n", "mode", "add ns", "delete ns",
	       "overhead ns", "events", "lost");
	for (int m = 0; m < M_NR; m++) {
		med_add[m] = median(add[m], n[m]);
		med_del[m] = median(del[m], n[m]);
	}
	for (int m = 0; m < M_NR; m++) {
		double over = ((double)med_add[m] + (double)med_del[m] -
			       (double)med_add[M_BASE] - (double)med_del[M_BASE]) / 2;
		char ev[24] = "-", lost[24] = "-";

		if (skel[m]) {
			snprintf(ev, sizeof(ev), "%llu", (unsigned long long)got[m]);
			snprintf(lost, sizeof(lost), "%llu",
				 (unsigned long long)lost_of(bpf_map__fd(skel[m]->maps.lost)));
		}
		if (m == M_BASE)
			printf("  %-18s %10llu %10llu %14s %10s %6s\n", mode_names[m],
			       (unsigned long long)med_add[m], (unsigned long long)med_del[m],
			       "baseline", ev, lost);
		else
			printf("  %-18s %10llu %10llu %+10.0f/ioctl %10s %6s\n", mode_names[m],
			       (unsigned long long)med_add[m], (unsigned long long)med_del[m],
			       over, ev, lost);
	}
	{
		double over = ((double)med_add[M_SELF] + (double)med_del[M_SELF] -
			       (double)med_add[M_BASE] - (double)med_del[M_BASE]) / 2;
		uint64_t want = 2ull * ROUNDS * BATCH;

		printf("  tracer overhead: %.0f ns per ioctl (target <= 500 ns): %s\n", over,
		       over <= 500 ? "met" : "NOT met");
		printf("  events: %llu of %llu expected, %llu lost%s\n",
		       (unsigned long long)got[M_SELF], (unsigned long long)want,
		       (unsigned long long)lost_of(bpf_map__fd(skel[M_SELF]->maps.lost)),
		       got[M_SELF] == want && !got[M_OTHER] ? "" : " (MISMATCH)");
	}
	ret = 0;
out:
	for (int m = 0; m < M_NR; m++) {
		ring_buffer__free(rb[m]);
		trace_bpf__destroy(skel[m]);
	}
	munmap(mem, 2 * MiB);
	return ret;
}

struct census_count {
	uint64_t vms, slots;
};

static int count_record(void *ctx, void *data, size_t len)
{
	struct census_count *c = ctx;
	const struct ms_census_vm *v = data;

	(void)len;
	if (v->kind == MS_CENSUS_VM)
		c->vms++;
	else if (v->kind == MS_CENSUS_SLOT)
		c->slots++;
	return 0;
}

static int bench_census(int kvm)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t t[CENSUS_RUNS], med;
	struct census_count c = { 0 };
	struct census_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	int vm, nr, ret = 1;
	uint64_t t_create;
	char *mem;

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return die("KVM_CREATE_VM");
	nr = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (nr <= 0) {
		close(vm);
		return die("KVM_CAP_NR_MEMSLOTS");
	}
	mem = mmap(NULL, (size_t)nr * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		close(vm);
		return die("mmap");
	}
	t_create = now_ns();
	for (int i = 0; i < nr; i++)
		if (set_region(vm, (uint32_t)i, (uint64_t)i * 2 * page, (uint64_t)page,
			       mem + (size_t)i * page)) {
			die("KVM_SET_USER_MEMORY_REGION");
			goto out;
		}
	t_create = now_ns() - t_create;

	skel = census_bpf__open();
	if (!skel) {
		die("census_bpf__open");
		goto out;
	}
	skel->rodata->targ_tgid = (uint32_t)getpid();
	if (census_bpf__load(skel) || census_bpf__attach(skel)) {
		fprintf(stderr, "bench_bpf: cannot load the census skeleton (needs root)\n");
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.records), count_record, &c, NULL);
	if (!rb) {
		die("ring_buffer__new");
		goto out;
	}
	for (int r = 0; r < CENSUS_RUNS; r++) {
		char buf[64];
		uint64_t t0 = now_ns();
		int fd = bpf_iter_create(bpf_link__fd(skel->links.census));

		if (fd < 0) {
			die("bpf_iter_create");
			goto out;
		}
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
		ring_buffer__consume(rb);
		t[r] = now_ns() - t0;
	}
	med = median(t, CENSUS_RUNS);
	printf("census of %d slots (one anonymous mapping; created in %.1f ms): "
	       "median %.2f ms of %d runs, min %.2f, max %.2f (target <= 50 ms): %s\n",
	       nr, (double)t_create / 1e6, (double)med / 1e6, CENSUS_RUNS, (double)t[0] / 1e6,
	       (double)t[CENSUS_RUNS - 1] / 1e6, med <= 50000000 ? "met" : "NOT met");
	printf("  records: %llu slots in %llu VM passes (expected %llu), %llu lost\n",
	       (unsigned long long)c.slots, (unsigned long long)c.vms,
	       (unsigned long long)nr * CENSUS_RUNS,
	       (unsigned long long)lost_of(bpf_map__fd(skel->maps.lost)));
	ret = 0;
out:
	ring_buffer__free(rb);
	census_bpf__destroy(skel);
	close(vm);
	munmap(mem, (size_t)nr * page);
	return ret;
}

int main(void)
{
	cpu_set_t cpus;
	int kvm, vm, ret;

	if (geteuid()) {
		printf("bench_bpf: skipped: needs root (CAP_BPF, CAP_PERFMON)\n");
		return 0;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("bench_bpf: skipped: /dev/kvm: %s\n", strerror(errno));
		return 0;
	}
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return die("sched_setaffinity");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return die("KVM_CREATE_VM");
	ret = bench_ioctl(vm);
	close(vm);
	if (!ret)
		ret = bench_census(kvm);
	close(kvm);
	return ret;
}
