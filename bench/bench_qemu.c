// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_qemu: pc-dimm hot-plug in QEMU 7.2 against libmemslot's plan of it.
 *
 * For N = 8, 64, 200: a fresh QEMU (-M q35 -accel tcg -S -m
 * 512M,slots=256,maxmem=512M+N GiB, -nodefaults, -display none, N
 * memory-backend-ram objects of 1 GiB on the command line, bench_qemu.h)
 * gets N pc-dimms hot-plugged one after another, each one QMP device_add.
 * Per plug it measures the QMP round trip (wall) and QEMU's CPU time, the
 * whole process's (clock_getcpuclockid(): utime + stime in ns, all
 * threads, the monitor's I/O thread included) and its main thread's
 * (/proc/PID/task/PID/schedstat), which runs the command. CPU time leaves
 * out the socket and scheduling latency, so the ratio uses it; RCU
 * reclaim that QEMU defers to its call_rcu thread after the reply is left
 * out. libmemslot then does the same: a q35 machine with the same -m
 * options, N backends of 1 GiB created beforehand (plan mode, no memory),
 * N hot-plugged pc-dimms, each ms_machine__device_add() timed, with the
 * KVM memslot mapping of both address spaces ("memory" and "KVM-SMRAM",
 * no executor) that QEMU with accel=kvm would set, after one warm-up
 * machine. (QEMU under TCG keeps no KVM memslots; the library plans them
 * as well.)
 *
 * Figures: qemu_vs_memslot_dimm_plug_<N>, the median over the N plugs of
 * QEMU's CPU time per device_add over the median library time per
 * ms_machine__device_add(); no goal: how many times faster memslot models
 * a plug than QEMU performs it.
 *
 * Without QEMU the bench is skipped and its figures are absent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <memslot/memslot.h>

#include "bench.h"
#include "bench_qemu.h"

#define NR_SIZES 3

static const unsigned int sizes[NR_SIZES] = { 8, 64, 200 };
static char qemu_version[64];	/* query-version */
static const char *where;

struct run {
	unsigned int n;
	/* per plug, ns */
	double *wall, *cpu, *main_cpu, *lib, *lib_nokvm;
	double wall_med, wall_p99, cpu_med, cpu_p99, main_med, main_p99;
	double lib_med, lib_p99, nokvm_med, nokvm_p99;
	unsigned int kvm_slots;
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_qemu: %s: %s\n", what, why ? why : "failed");
	exit(1);
}

static uint64_t cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		die("clock_gettime of QEMU's CPU clock", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The first field of schedstat: time on the CPU, ns. */
static uint64_t thread_ns(int fd)
{
	char buf[128];
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);

	if (len <= 0)
		die("schedstat", "unreadable");
	buf[len] = 0;
	return strtoull(buf, NULL, 10);
}

static void run_qemu(struct run *r)
{
	struct bq_qemu q;
	const char *error;
	char path[64];
	clockid_t clk;
	int sched, ret;

	ret = bq_start(&q, "tcg", r->n, 60, &error);
	if (ret == -ENOENT) {
		/* no fragment: the figures are absent, not zero */
		printf("bench_qemu: skipped (%s): %s cannot be run\n", where, bq_binary());
		exit(0);
	}
	if (ret)
		die("QEMU", error);
	if (clock_getcpuclockid(q.pid, &clk))
		die("clock_getcpuclockid", strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", q.pid, q.pid);
	sched = open(path, O_RDONLY | O_CLOEXEC);
	if (sched < 0)
		die(path, strerror(errno));
	for (unsigned int i = 0; i < r->n; i++) {
		uint64_t c0 = cpu_ns(clk), m0 = thread_ns(sched), t0 = bq_now_ns(), t1;

		if (bq_plug_dimm(&q, i, &error))
			die("device_add", error);
		t1 = bq_now_ns();
		r->wall[i] = (double)(t1 - t0);
		r->cpu[i] = (double)(cpu_ns(clk) - c0);
		r->main_cpu[i] = (double)(thread_ns(sched) - m0);
	}
	close(sched);
	snprintf(qemu_version, sizeof(qemu_version), "%s", q.version);
	bq_stop(&q);
}

static struct ms_backend *backend(struct ms_machine *m, const char *id)
{
	struct ms_error err = { 0 };
	MS_OPTS(ms_backend_opts, o, .kind = MS_BACKEND_RAM, .id = id, .size = BQ_GiB,
		.no_memory = true);
	struct ms_backend *b = ms_machine__add_backend(m, &o, &err);

	if (!b)
		die(id, err.msg);
	return b;
}

/* @ns[i]: the i-th device_add; @kvm: with the KVM memslot mapping. */
static unsigned int run_lib(unsigned int n, bool kvm, double *ns)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_error err = { 0 };
	MS_OPTS(ms_machine_opts, o, .type = MS_MACHINE_Q35, .ram_size = BQ_RAM,
		.slots = BQ_SLOTS, .maxmem = BQ_RAM + n * BQ_GiB, .kvm_memslots = kvm ? 32764 : 0);
	struct ms_machine *m;
	struct ms_backend **b;
	unsigned int slots = 0;

	if (!ctx)
		die("context", strerror(errno));
	m = ms_machine__new(ctx, &o, &err);
	b = calloc(n, sizeof(*b));
	if (!m || !b)
		die("machine", err.msg);
	for (unsigned int i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "m%u", i);
		b[i] = backend(m, id);
	}
	for (unsigned int i = 0; i < n; i++) {
		char id[32];
		double t0;

		snprintf(id, sizeof(id), "d%u", i);
		MS_OPTS(ms_memdev_opts, d, .type = MS_MEMDEV_DIMM, .id = id, .memdev = b[i],
			.slot = MS_MEMDEV_SLOT_AUTO, .hotplugged = true);
		t0 = (double)bq_now_ns();
		if (!ms_machine__device_add(m, &d, &err))
			die(id, err.msg);
		ns[i] = (double)bq_now_ns() - t0;
	}
	if (kvm) {
		struct ms_slotmap *smm = ms_machine__kvm_smm(m);

		slots = ms_slotmap__nr_used(ms_machine__kvm(m));
		if (smm)
			slots += ms_slotmap__nr_used(smm);
	}
	free(b);
	ms_machine__free(m);
	ms_ctx__free(ctx);
	return slots;
}

static void measure(struct run *r)
{
	unsigned int n = r->n;

	r->wall = calloc(n, sizeof(double));
	r->cpu = calloc(n, sizeof(double));
	r->main_cpu = calloc(n, sizeof(double));
	r->lib = calloc(n, sizeof(double));
	r->lib_nokvm = calloc(n, sizeof(double));
	if (!r->wall || !r->cpu || !r->main_cpu || !r->lib || !r->lib_nokvm)
		die("memory", NULL);
	run_qemu(r);
	run_lib(n, true, r->lib);	/* warm-up */
	r->kvm_slots = run_lib(n, true, r->lib);
	run_lib(n, false, r->lib_nokvm);
	bench_stats(r->wall, n, &r->wall_med, &r->wall_p99);
	bench_stats(r->cpu, n, &r->cpu_med, &r->cpu_p99);
	bench_stats(r->main_cpu, n, &r->main_med, &r->main_p99);
	bench_stats(r->lib, n, &r->lib_med, &r->lib_p99);
	bench_stats(r->lib_nokvm, n, &r->nokvm_med, &r->nokvm_p99);
}

static void add_figure(struct bench_json *bj, const struct run *r, const char *version)
{
	json_object *raw = bench_json__raw_new();
	char name[64];

	bench_json__raw_u64(raw, "dimms", r->n);
	bench_json__raw_str(raw, "qemu", version);
	bench_json__raw(raw, "qemu_cpu_median_ns", r->cpu_med);
	bench_json__raw(raw, "qemu_cpu_p99_ns", r->cpu_p99);
	bench_json__raw(raw, "qemu_main_thread_cpu_median_ns", r->main_med);
	bench_json__raw(raw, "qemu_main_thread_cpu_p99_ns", r->main_p99);
	bench_json__raw(raw, "qemu_wall_median_ns", r->wall_med);
	bench_json__raw(raw, "qemu_wall_p99_ns", r->wall_p99);
	bench_json__raw(raw, "memslot_median_ns", r->lib_med);
	bench_json__raw(raw, "memslot_p99_ns", r->lib_p99);
	bench_json__raw(raw, "memslot_no_kvm_median_ns", r->nokvm_med);
	bench_json__raw(raw, "memslot_no_kvm_p99_ns", r->nokvm_p99);
	bench_json__raw(raw, "wall_ratio", r->wall_med / r->lib_med);
	bench_json__raw_u64(raw, "memslot_kvm_slots", r->kvm_slots);
	snprintf(name, sizeof(name), "qemu_vs_memslot_dimm_plug_%u", r->n);
	bench_json__figure(bj, name, r->cpu_med / r->lib_med, -1,
			   "pc-dimm hot-plug, q35 -m 512M,slots=256, 1 GiB backends created "
			   "beforehand: QEMU 7.2 accel=tcg CPU time per QMP device_add (all "
			   "threads, socket latency excluded) / libmemslot "
			   "ms_machine__device_add time in plan mode with the KVM memslot "
			   "mapping, medians over the N plugs",
			   raw);
}

int main(int argc, char **argv)
{
	static struct run runs[NR_SIZES];
	struct bench_json bj;

	bench_json__init(&bj, "bench_qemu", argc, argv);
	where = bj.where;

	for (int i = 0; i < NR_SIZES; i++) {
		runs[i].n = sizes[i];
		measure(&runs[i]);
	}
	printf("bench_qemu: pc-dimm hot-plug of N x 1 GiB into q35 -m 512M,slots=256 (%s):\n"
	       "QEMU %s -accel tcg -S over QMP against libmemslot %s (plan mode); us per plug\n",
	       bj.where, qemu_version, ms_version());
	printf("%5s %17s %17s %17s %17s %17s %9s %9s\n", "", "qemu wall", "qemu cpu",
	       "qemu main cpu", "memslot", "memslot no kvm", "cpu/lib", "wall/lib");
	printf("%5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "N", "med", "p99", "med",
	       "p99", "med", "p99", "med", "p99", "med", "p99", "med", "med");
	for (int i = 0; i < NR_SIZES; i++) {
		const struct run *r = &runs[i];

		printf("%5u %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.2f %8.2f %8.2f %8.2f "
		       "%9.1f %9.1f\n", r->n, r->wall_med / 1e3, r->wall_p99 / 1e3,
		       r->cpu_med / 1e3, r->cpu_p99 / 1e3, r->main_med / 1e3, r->main_p99 / 1e3,
		       r->lib_med / 1e3, r->lib_p99 / 1e3, r->nokvm_med / 1e3, r->nokvm_p99 / 1e3,
		       r->cpu_med / r->lib_med, r->wall_med / r->lib_med);
	}
	printf("qemu wall: QMP round trip of device_add; qemu cpu: the process's CPU time (all\n"
	       "threads), main cpu: its main thread's; memslot: ms_machine__device_add() with the\n"
	       "KVM memslot mapping (both address spaces), no kvm: without it; cpu/lib and\n"
	       "wall/lib: QEMU's median over memslot's median (the figure: cpu/lib)\n");
	for (int i = 0; i < NR_SIZES; i++)
		add_figure(&bj, &runs[i], qemu_version);
	printf("\n");
	return bench_json__write(&bj) ? 1 : 0;
}
