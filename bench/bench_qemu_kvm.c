// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_qemu_kvm: QEMU 7.2's pc-dimm hot-plug into a KVM VM, as bench_run
 * measures libmemslot's: wall time per plug against the time spent in
 * the kernel's memslot code, and memslot change requests per plug.
 *
 * For N = 8, 64, 200: a fresh QEMU (-M q35 -accel kvm -S -m
 * 512M,slots=256,maxmem=512M+N GiB, -nodefaults, -display none, N
 * memory-backend-ram objects of 1 GiB on the command line, bench_qemu.h)
 * with `memslot trace -j -p PID` attached (fentry on
 * __kvm_set_memory_region, where every request that reaches KVM passes,
 * no-op ones included; kvm_set_memory_region on kernels that renamed it)
 * gets N pc-dimms hot-plugged one after another, each one QMP device_add.
 * Per plug: the QMP round trip (wall, CLOCK_MONOTONIC) and the events that
 * returned within it, their latency_ns summed (the kernel's time in the
 * function, not the whole ioctl: bench_run's denominator also has the
 * syscall and the slots_lock around it) and their number. The vCPU never
 * ran (-S); KVM's internal slots do not count.
 *
 * Figures: hotplug_wall_vs_kernel_ioctl_qemu_<N> for N = 8, 64, 200, the
 * median over the N plugs of wall / kernel memslot time, and
 * ioctls_per_dimm_plug_qemu, memslot change requests per plug at N = 200;
 * no goals: they are QEMU's side of bench_run's hotplug_wall_vs_kernel_ioctl_<N>
 * and ioctls_per_dimm_plug. The tracer's fentry/fexit programs add to both
 * wall and kernel time.
 *
 * Needs /dev/kvm, QEMU and root for the tracer (build/memslot next to
 * build/bench, or $MEMSLOT); without them it is skipped and its figures
 * are absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_qemu.h"

#define NR_SIZES 3

static const unsigned int sizes[NR_SIZES] = { 8, 64, 200 };
static const char *attach_points[] = {
	"fentry/__kvm_set_memory_region",	/* up to Linux 6.12 */
	"fentry/kvm_set_memory_region",
};

static const char *where;
static char qemu_version[64];
static char memslot[PATH_MAX];
static char source[128];		/* the events' attach point */

struct plug {
	uint64_t t0, t1;		/* QMP round trip */
	uint64_t kernel_ns, requests, creates;
};

struct run {
	unsigned int n;
	struct plug *p;
	uint64_t events, outside, internal, failed;
	double ratio_med, ratio_p99, wall_med, wall_p99, kernel_med, kernel_p99;
	double requests_per_plug, creates_per_plug;
	double seconds;
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_qemu_kvm: %s: %s\n", what, why ? why : strerror(errno));
	exit(1);
}

static void skip(const char *why)
{
	/* no fragment: the figures are absent, not zero */
	printf("bench_qemu_kvm: skipped (%s): %s\n", where, why);
	exit(0);
}

static void find_memslot(void)
{
	const char *env = getenv("MEMSLOT");
	char self[PATH_MAX];
	ssize_t len;

	if (env && *env) {
		snprintf(memslot, sizeof(memslot), "%s", env);
		return;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		die("/proc/self/exe", NULL);
	self[len] = 0;
	/* build/bench/bench_qemu_kvm -> build/memslot */
	snprintf(memslot, sizeof(memslot), "%s/../memslot", dirname(self));
}

struct tracer {
	pid_t pid;
	FILE *err;		/* its stderr */
	char events[128];	/* its stdout */
};

/* Start the tracer on @pid with @attach; 0 once it attached, else -1. */
static int tracer_start(struct tracer *t, const char *dir, pid_t pid, const char *attach)
{
	char pidstr[16], *line = NULL;
	size_t cap = 0;
	int pipefd[2], out;

	snprintf(t->events, sizeof(t->events), "%s/events", dir);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	out = open(t->events, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0 || pipe2(pipefd, O_CLOEXEC))
		die(t->events, NULL);
	fflush(NULL);
	t->pid = fork();
	if (t->pid == 0) {
		dup2(out, 1);
		dup2(pipefd[1], 2);
		execl(memslot, memslot, "trace", "-j", "-p", pidstr, "-a", attach, (char *)NULL);
		_exit(127);
	}
	close(out);
	close(pipefd[1]);
	if (t->pid < 0)
		die("fork", NULL);
	t->err = fdopen(pipefd[0], "r");
	if (!t->err)
		die("fdopen", NULL);
	while (getline(&line, &cap, t->err) > 0) {
		if (strstr(line, "attach: ")) {
			free(line);
			return 0;
		}
		fprintf(stderr, "bench_qemu_kvm: %s: %s", attach, line);
	}
	free(line);
	fclose(t->err);
	waitpid(t->pid, NULL, 0);
	unlink(t->events);
	return -1;
}

/* SIGINT once its 100 ms ring-buffer timer had a turn; the rest of its stderr. */
static void tracer_stop(struct tracer *t)
{
	char *line = NULL;
	size_t cap = 0;
	int status;

	usleep(300000);
	kill(t->pid, SIGINT);
	while (getline(&line, &cap, t->err) > 0)
		if (strstr(line, "lost") && !strstr(line, " 0 lost"))
			fprintf(stderr, "bench_qemu_kvm: tracer: %s", line);
	free(line);
	fclose(t->err);
	if (waitpid(t->pid, &status, 0) != t->pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("memslot trace", "did not exit with status 0");
}

static uint64_t get_u64(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint64_t)json_object_get_uint64(v) : 0;
}

static int64_t get_i64(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* Give every event to the plug whose round trip it returned in. */
static void attribute(struct run *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		die(path, NULL);
	while (getline(&line, &cap, f) > 0) {
		json_object *e = json_tokener_parse(line), *v;
		uint64_t t;
		unsigned int i;

		if (!e)
			continue;
		if (!json_object_object_get_ex(e, "time_ns", &v)) {
			json_object_put(e);	/* not an event */
			continue;
		}
		t = json_object_get_uint64(v);
		r->events++;
		if (!source[0] && json_object_object_get_ex(e, "source", &v))
			snprintf(source, sizeof(source), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(e, "internal", &v) && json_object_get_boolean(v)) {
			r->internal++;
			json_object_put(e);
			continue;
		}
		if (get_i64(e, "ret"))
			r->failed++;
		for (i = 0; i < r->n; i++)
			if (t >= r->p[i].t0 && t <= r->p[i].t1)
				break;
		if (i == r->n) {
			r->outside++;
		} else {
			r->p[i].kernel_ns += get_u64(e, "latency_ns");
			r->p[i].requests++;
			if (json_object_object_get_ex(e, "change", &v) &&
			    !strcmp(json_object_get_string(v), "create"))
				r->p[i].creates++;
		}
		json_object_put(e);
	}
	free(line);
	fclose(f);
}

static void measure(struct run *r)
{
	uint64_t start = bq_now_ns(), requests = 0, creates = 0;
	double *ratio, *wall, *kernel;
	struct tracer t = { 0 };
	const char *error;
	struct bq_qemu q;
	size_t a;
	int ret;

	r->p = calloc(r->n, sizeof(*r->p));
	ratio = calloc(r->n, sizeof(double));
	wall = calloc(r->n, sizeof(double));
	kernel = calloc(r->n, sizeof(double));
	if (!r->p || !ratio || !wall || !kernel)
		die("memory", NULL);
	/* QEMU under the runner's TCG takes seconds to start */
	ret = bq_start(&q, "kvm", r->n, 300, &error);
	if (ret == -ENOENT)
		skip("QEMU cannot be run");
	if (ret)
		die("QEMU", error);
	snprintf(qemu_version, sizeof(qemu_version), "%s", q.version);
	for (a = 0; a < sizeof(attach_points) / sizeof(attach_points[0]); a++)
		if (!tracer_start(&t, q.dir, q.pid, attach_points[a]))
			break;
	if (a == sizeof(attach_points) / sizeof(attach_points[0])) {
		bq_stop(&q);
		skip("memslot trace cannot attach to __kvm_set_memory_region");
	}
	for (unsigned int i = 0; i < r->n; i++) {
		r->p[i].t0 = bq_now_ns();
		if (bq_plug_dimm(&q, i, &error))
			die("device_add", error);
		r->p[i].t1 = bq_now_ns();
	}
	tracer_stop(&t);
	attribute(r, t.events);
	unlink(t.events);
	bq_stop(&q);

	for (unsigned int i = 0; i < r->n; i++) {
		const struct plug *p = &r->p[i];

		if (!p->kernel_ns)
			die("trace", "a plug without memslot events");
		wall[i] = (double)(p->t1 - p->t0);
		kernel[i] = (double)p->kernel_ns;
		ratio[i] = wall[i] / kernel[i];
		requests += p->requests;
		creates += p->creates;
	}
	bench_stats(ratio, r->n, &r->ratio_med, &r->ratio_p99);
	bench_stats(wall, r->n, &r->wall_med, &r->wall_p99);
	bench_stats(kernel, r->n, &r->kernel_med, &r->kernel_p99);
	r->requests_per_plug = (double)requests / r->n;
	r->creates_per_plug = (double)creates / r->n;
	r->seconds = (bq_now_ns() - start) / 1e9;
	free(ratio);
	free(wall);
	free(kernel);
}

static void add_figures(struct bench_json *bj, const struct run *runs)
{
	const struct run *last = &runs[NR_SIZES - 1];
	json_object *raw;
	char name[64];

	for (int i = 0; i < NR_SIZES; i++) {
		const struct run *r = &runs[i];

		raw = bench_json__raw_new();
		bench_json__raw_u64(raw, "dimms", r->n);
		bench_json__raw_str(raw, "qemu", qemu_version);
		bench_json__raw_str(raw, "source", source);
		bench_json__raw(raw, "wall_median_ns", r->wall_med);
		bench_json__raw(raw, "wall_p99_ns", r->wall_p99);
		bench_json__raw(raw, "kernel_median_ns", r->kernel_med);
		bench_json__raw(raw, "kernel_p99_ns", r->kernel_p99);
		bench_json__raw(raw, "ratio_p99", r->ratio_p99);
		bench_json__raw(raw, "requests_per_plug", r->requests_per_plug);
		bench_json__raw(raw, "seconds", r->seconds);
		snprintf(name, sizeof(name), "hotplug_wall_vs_kernel_ioctl_qemu_%u", r->n);
		bench_json__figure(bj, name, r->ratio_med, -1,
				   "pc-dimm hot-plug into QEMU 7.2 accel=kvm (q35 -m "
				   "512M,slots=256, -S): QMP round trip of device_add / kernel "
				   "time in __kvm_set_memory_region (memslot trace latency_ns), "
				   "median per plug; QEMU's side of hotplug_wall_vs_kernel_ioctl_N",
				   raw);
	}
	raw = bench_json__raw_new();
	bench_json__raw_u64(raw, "dimms", last->n);
	bench_json__raw_str(raw, "source", source);
	bench_json__raw_u64(raw, "events", last->events);
	bench_json__raw_u64(raw, "events_outside_plugs", last->outside);
	bench_json__raw_u64(raw, "internal_events", last->internal);
	bench_json__raw_u64(raw, "failed_requests", last->failed);
	bench_json__raw(raw, "memslots_created_per_plug", last->creates_per_plug);
	bench_json__figure(bj, "ioctls_per_dimm_plug_qemu", last->requests_per_plug, -1,
			   "memslot change requests QEMU 7.2 accel=kvm issues per pc-dimm "
			   "device_add (memslot trace events in __kvm_set_memory_region); "
			   "QEMU's side of ioctls_per_dimm_plug", raw);
}

int main(int argc, char **argv)
{
	static struct run runs[NR_SIZES];
	struct bench_json bj;
	int fd;

	bench_json__init(&bj, "bench_qemu_kvm", argc, argv);
	where = bj.where;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		char why[128];

		snprintf(why, sizeof(why), "/dev/kvm cannot be opened: %s", strerror(errno));
		skip(why);
	}
	close(fd);
	find_memslot();
	if (access(memslot, X_OK))
		skip("no memslot binary to trace with");

	for (int i = 0; i < NR_SIZES; i++) {
		runs[i].n = sizes[i];
		measure(&runs[i]);
	}
	printf("bench_qemu_kvm: pc-dimm hot-plug of N x 1 GiB into QEMU %s -M q35 -accel kvm -S\n"
	       "-m 512M,slots=256 (%s), traced at %s; us per plug\n", qemu_version, bj.where,
	       source);
	printf("%5s %19s %19s %17s %9s %9s %9s %8s\n", "", "wall (QMP)", "kernel memslot",
	       "wall/kernel", "requests", "creates", "outside", "seconds");
	printf("%5s %9s %9s %9s %9s %8s %8s %9s %9s %9s %8s\n", "N", "med", "p99", "med", "p99",
	       "med", "p99", "/plug", "/plug", "events", "");
	for (int i = 0; i < NR_SIZES; i++) {
		const struct run *r = &runs[i];

		printf("%5u %9.1f %9.1f %9.1f %9.1f %8.2f %8.2f %9.2f %9.2f %9llu %8.1f\n", r->n,
		       r->wall_med / 1e3, r->wall_p99 / 1e3, r->kernel_med / 1e3,
		       r->kernel_p99 / 1e3, r->ratio_med, r->ratio_p99, r->requests_per_plug,
		       r->creates_per_plug, (unsigned long long)r->outside, r->seconds);
	}
	printf("wall: QMP round trip of device_add; kernel memslot: latency_ns of the traced\n"
	       "requests that returned within it, summed per plug; wall/kernel: median and p99\n"
	       "of the per-plug ratios; requests: memslot change requests per plug (KVM's\n"
	       "internal slots aside), creates: those that created a memslot; outside: events\n"
	       "between plugs; seconds: the whole run, QEMU start included\n");
	add_figures(&bj, runs);
	printf("\n");
	return bench_json__write(&bj) ? 1 : 0;
}
