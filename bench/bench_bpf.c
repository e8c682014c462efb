// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_bpf: what the BPF programs cost (issue 6, "Performance").
 *
 * 1. Same-run A/B of the raw memslot ioctl: KVM_SET_USER_MEMORY_REGION
 *    creating and deleting one 2 MiB slot in a loop, pinned to CPU 0, in
 *    modes interleaved round by round: no tracer, the tracer
 *    (tool/trace_prog.c, in-process) at each attach point the kernel has
 *    (fentry and kprobe on kvm_set_memslot and __kvm_set_memory_region,
 *    the syscall tracepoints) filtering this process, and at the syscall
 *    filtering another pid (the cost of the filter alone). The tracer is
 *    opened before and closed after each batch, outside the timing. Each
 *    ioctl is timed on its own (CLOCK_MONOTONIC); the table shows medians
 *    over all rounds, the overhead of the median create + delete pair
 *    against the baseline per ioctl, and the ratio to the untraced pair.
 *    The ring buffer is drained after every batch; events received and
 *    lost are counted. Target: <= 0.5 us per ioctl. Under TCG (in the
 *    kernel-in-the-loop guest) a memslot change costs milliseconds, so the
 *    batches are smaller there.
 * 2. Census time for KVM_CAP_NR_MEMSLOTS (32764) one-page slots of one
 *    anonymous mapping: the census iterator (bpf/census.bpf.c) over this
 *    process, iterator run plus ring buffer drain, median of several runs.
 *    Target: <= 50 ms.
 *
 * Figures: tracer_overhead_<attach point>, the median create + delete pair
 * traced over the untraced one, for every attach point the kernel has. It
 * has no goal of its own; the goal above (<= 500 ns per ioctl) is checked
 * on its raw overhead_ns_per_ioctl.
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
#include "trace_prog.h"

#include "bench.h"

#define MiB		0x100000ull
#define ROUNDS		10
#define BATCH_MAX	500	/* create + delete pairs per mode and round */
#define CENSUS_RUNS	7
#define OVERHEAD_GOAL_NS 500.0

static struct bench_json bj;

static int batch = BATCH_MAX;

enum mode { M_BASE, M_FENTRY, M_KPROBE, M_FENTRY_R, M_KPROBE_R, M_SYSCALL, M_OTHER, M_NR };

static const char *const mode_names[M_NR] = {
	"no tracer", "fentry kvm_set_memslot", "kprobe kvm_set_memslot",
	"fentry __kvm_set_mem..", "kprobe __kvm_set_mem..", "syscall", "syscall, other pid",
};

/* figure name suffixes */
static const char *const mode_key[M_NR] = {
	NULL, "fentry_kvm_set_memslot", "kprobe_kvm_set_memslot",
	"fentry_kvm_set_memory_region", "kprobe_kvm_set_memory_region", "syscall",
	"syscall_other_pid",
};

static const char *const mode_attach[M_NR] = {
	NULL, "fentry/kvm_set_memslot", "kprobe/kvm_set_memslot",
	"fentry/__kvm_set_memory_region", "kprobe/__kvm_set_memory_region", "syscall", "syscall",
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

/* p99 (nearest rank) of @v[0..n), sorted by median() */
static uint64_t p99_sorted(const uint64_t *v, size_t n)
{
	size_t r = (99 * n + 99) / 100;

	return n ? v[(r ? r : 1) - 1] : 0;
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

static int count_trace(const struct ms_trace_event *e, void *opaque)
{
	(void)e;
	++*(uint64_t *)opaque;
	return 0;
}

static struct trace_prog *tracer_open(enum mode m, uint64_t *got, char *why, size_t len)
{
	/* pid 1 issues no memslot ioctls: the filter rejects every call */
	uint32_t tgid = m == M_OTHER ? 1 : (uint32_t)getpid();
	int err;

	return trace_prog_open(&(struct trace_prog_opts){ .tgid = tgid, .attach = mode_attach[m],
							 .fn = count_trace, .opaque = got },
			       &err, why, len);
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
	static uint64_t add[M_NR][ROUNDS * BATCH_MAX], del[M_NR][ROUNDS * BATCH_MAX];
	uint64_t got[M_NR] = { 0 }, lost[M_NR] = { 0 }, med_add[M_NR], med_del[M_NR];
	uint64_t p99_add[M_NR], p99_del[M_NR];
	char why[M_NR][256] = { { 0 } };
	bool have[M_NR] = { true };
	size_t n[M_NR] = { 0 };
	void *mem;

	mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return die("mmap");
	/* which attach points this kernel has */
	for (int m = 1; m < M_NR; m++) {
		struct trace_prog *tp = tracer_open((enum mode)m, &got[m], why[m], sizeof(why[m]));

		have[m] = tp;
		trace_prog_close(tp);
	}
	/* warm up: fault in the code paths and the kernel's slot arrays */
	for (int i = 0; i < 200 && i < batch; i++)
		if (set_region(vm, 0, 0, 2 * MiB, mem) || set_region(vm, 0, 0, 0, mem))
			return die("KVM_SET_USER_MEMORY_REGION");
	for (int r = 0; r < ROUNDS; r++) {
		for (int m = 0; m < M_NR; m++) {
			struct trace_prog *tp = NULL;

			if (!have[m])
				continue;
			if (m && !(tp = tracer_open((enum mode)m, &got[m], why[m], sizeof(why[m]))))
				return die("trace_prog_open");
			for (int i = 0; i < batch; i++) {
				uint64_t t0 = now_ns(), t1, t2;
				int e1 = set_region(vm, 0, 0, 2 * MiB, mem);

				t1 = now_ns();
				int e2 = set_region(vm, 0, 0, 0, mem);

				t2 = now_ns();
				if (e1 || e2) {
					trace_prog_close(tp);
					return die("KVM_SET_USER_MEMORY_REGION");
				}
				add[m][n[m]] = t1 - t0;
				del[m][n[m]++] = t2 - t1;
			}
			if (tp) {
				trace_prog_drain(tp);
				lost[m] += trace_prog_lost(tp);
				trace_prog_close(tp);
			}
		}
	}
	printf("memslot ioctl (KVM_SET_USER_MEMORY_REGION, 2 MiB slot, CPU 0): "
	       "medians of %d creates and %d deletes per mode, %d interleaved rounds\n",
	       ROUNDS * batch, ROUNDS * batch, ROUNDS);
	printf("  %-24s %10s %10s %16s %7s %8s %6s\n", "mode", "add ns", "delete ns",
	       "overhead ns", "ratio", "events", "lost");
	for (int m = 0; m < M_NR; m++) {
		med_add[m] = have[m] ? median(add[m], n[m]) : 0;
		med_del[m] = have[m] ? median(del[m], n[m]) : 0;
		p99_add[m] = have[m] ? p99_sorted(add[m], n[m]) : 0;
		p99_del[m] = have[m] ? p99_sorted(del[m], n[m]) : 0;
	}
	for (int m = 0; m < M_NR; m++) {
		double base = (double)med_add[M_BASE] + (double)med_del[M_BASE];
		double pair = (double)med_add[m] + (double)med_del[m];
		uint64_t want = m == M_OTHER ? 0 : 2ull * ROUNDS * batch;

		if (!have[m]) {
			printf("  %-24s unavailable: %s\n", mode_names[m], why[m]);
			continue;
		}
		if (m == M_BASE) {
			printf("  %-24s %10llu %10llu %16s %7s %8s %6s\n", mode_names[m],
			       (unsigned long long)med_add[m], (unsigned long long)med_del[m],
			       "baseline", "1.000", "-", "-");
			continue;
		}
		printf("  %-24s %10llu %10llu %+11.0f/ioctl %7.3f %8llu %6llu %s%s\n", mode_names[m],
		       (unsigned long long)med_add[m], (unsigned long long)med_del[m],
		       (pair - base) / 2, pair / base, (unsigned long long)got[m],
		       (unsigned long long)lost[m],
		       (pair - base) / 2 <= OVERHEAD_GOAL_NS ? "met" : "NOT met",
		       got[m] == want ? "" : " (MISMATCH)");
	}
	printf("  overhead goal: <= %.0f ns per ioctl (met / NOT met above)\n", OVERHEAD_GOAL_NS);
	for (int m = 1; m < M_NR; m++) {
		double base = (double)med_add[M_BASE] + (double)med_del[M_BASE];
		double pair = (double)med_add[m] + (double)med_del[m];
		json_object *raw;
		char name[96];

		if (!have[m])
			continue;	/* no such attach point: the figure is absent */
		raw = bench_json__raw_new();
		bench_json__raw_str(raw, "attach", mode_attach[m]);
		bench_json__raw_u64(raw, "pairs", n[m]);
		bench_json__raw_u64(raw, "untraced_add_median_ns", med_add[M_BASE]);
		bench_json__raw_u64(raw, "untraced_add_p99_ns", p99_add[M_BASE]);
		bench_json__raw_u64(raw, "untraced_delete_median_ns", med_del[M_BASE]);
		bench_json__raw_u64(raw, "untraced_delete_p99_ns", p99_del[M_BASE]);
		bench_json__raw_u64(raw, "add_median_ns", med_add[m]);
		bench_json__raw_u64(raw, "add_p99_ns", p99_add[m]);
		bench_json__raw_u64(raw, "delete_median_ns", med_del[m]);
		bench_json__raw_u64(raw, "delete_p99_ns", p99_del[m]);
		bench_json__raw(raw, "overhead_ns_per_ioctl", (pair - base) / 2);
		bench_json__raw(raw, "overhead_goal_ns", OVERHEAD_GOAL_NS);
		json_object_object_add(raw, "overhead_goal_met",
				       json_object_new_boolean((pair - base) / 2 <=
							       OVERHEAD_GOAL_NS));
		bench_json__raw_u64(raw, "events", got[m]);
		bench_json__raw_u64(raw, "lost", lost[m]);
		snprintf(name, sizeof(name), "tracer_overhead_%s", mode_key[m]);
		bench_json__figure(&bj, name, pair / base, -1,
				   m == M_OTHER ? "memslot ioctl create + delete pair, tracer on "
				   "the syscall filtering another pid / no tracer" :
				   "memslot ioctl create + delete pair, tracer attached and "
				   "filtering this process / no tracer", raw);
	}
	munmap(mem, 2 * MiB);
	return 0;
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

int main(int argc, char **argv)
{
	cpu_set_t cpus;
	int kvm, vm, ret;

	bench_json__init(&bj, "bench_bpf", argc, argv);
	/* a skipped run writes no fragment: the figures are absent, not zero */
	if (geteuid()) {
		printf("bench_bpf: skipped (%s): needs root (CAP_BPF, CAP_PERFMON)\n", bj.where);
		return 0;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("bench_bpf: skipped (%s): /dev/kvm: %s\n", bj.where, strerror(errno));
		return 0;
	}
	printf("bench_bpf: cost of the BPF tracer and census (%s)\n", bj.where);
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return die("sched_setaffinity");
	libbpf_set_print(NULL);
	/* nested KVM under TCG: milliseconds per change */
	if (getenv("MEMSLOT_VMTEST_ACCEL") && !strcmp(getenv("MEMSLOT_VMTEST_ACCEL"), "tcg"))
		batch = 100;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return die("KVM_CREATE_VM");
	ret = bench_ioctl(vm);
	close(vm);
	if (!ret)
		ret = bench_census(kvm);
	close(kvm);
	if (bench_json__write(&bj))
		ret = 1;
	return ret;
}
