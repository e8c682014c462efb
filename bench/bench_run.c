// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_run: memory hot-plug into a real KVM VM, the path `memslot run`
 * takes: libmemslot's machine with the KVM binding (ms_kvm__exec) as the
 * slot executor. Per operation it reports the wall time of the library
 * call, the time spent inside the memslot ioctls (ms_kvm__stats ioctl_ns,
 * CLOCK_MONOTONIC around each ioctl) and their ratio, and the number of
 * memslot ioctls per operation.
 *
 * 1. N = 1, 8, 64, 200 pc-dimms of 1 GiB (memory-backend-ram, MAP_NORESERVE,
 *    never touched) hot-plugged one after another into a fresh q35 VM with
 *    512 MiB, then unplugged in the same order. The guest is idle as an
 *    idle QEMU guest is: an in-kernel irqchip and one vCPU thread inside
 *    KVM_RUN, halted (`cli; hlt` at the reset vector in pc.bios, real
 *    mode); this bench links the library only, not the tool's VMM. Both
 *    threads are pinned to CPU 0.
 * 2. virtio-mem with dynamic memslots (16 GiB, 16 memslots of 1 GiB):
 *    block plug into an inactive memslot, into an active one, unplug of a
 *    block that leaves others in its memslot, unplug of the last one.
 * 3. For context, one create + delete by slot size: the kernel's cost
 *    grows with the slot size.
 *
 * The minimum is one ioctl per memslot created or deleted and none when no
 * memslot changes; the target for the ratio is at most 1.05 and flat in N.
 *
 * Figures: hotplug_wall_vs_kernel_ioctl_<N> for N = 8, 64, 200, the median
 * over the N plugs of wall time / memslot ioctl time (goal <= 1.05), and
 * ioctls_per_dimm_plug, memslot ioctls per plug at N = 200; its goal is
 * the memslots a plug creates (one per KVM address space the DIMM appears
 * in: "memory", and "KVM-SMRAM" on a machine with SMM).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <memslot/memslot.h>

#include "bench.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)

#define RATIO_GOAL	1.05

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const struct ms_error *e)
{
	fprintf(stderr, "bench_run: %s: %s\n", what, e && e->msg[0] ? e->msg : strerror(errno));
	exit(1);
}

/* A VM, one idle vCPU, and a q35 machine whose slots the binding sets. */
struct vm {
	struct ms_kvm *k;
	int vcpu;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	int run_ret, run_errno;		/* KVM_RUN's result once it returned */
	volatile bool returned;
	struct ms_ctx *ctx;
	struct ms_machine *m;
};

static void kick(int sig)
{
	(void)sig;
}

static void *vcpu_thread(void *opaque)
{
	struct vm *v = opaque;

	v->run_ret = ioctl(v->vcpu, KVM_RUN, 0);
	v->run_errno = errno;
	__atomic_store_n(&v->returned, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Real mode starts at 0xfffffff0, the last 16 bytes of pc.bios (mapped by
 * a READONLY slot): cli; hlt; jmp back to the hlt. With the in-kernel
 * irqchip the halted vCPU blocks inside KVM_RUN, as an idle guest's does.
 */
static void start_idle_guest(struct vm *v)
{
	static const unsigned char code[] = { 0xfa, 0xf4, 0xeb, 0xfd };
	struct ms_as *as = ms_machine__memory_as(v->m);
	const struct ms_flat_range *fr;
	uint64_t off, len = sizeof(code);
	int size;

	fr = ms_as__translate(as, 0xfffffff0ULL, &off, &len);
	if (!fr || !ms_region__host_ptr(fr->mr))
		die("reset vector: no memory", NULL);
	memcpy((char *)ms_region__host_ptr(fr->mr) + off, code, sizeof(code));
	size = ioctl(ms_kvm__sys_fd(v->k), KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		die("KVM_GET_VCPU_MMAP_SIZE", NULL);
	v->run_size = (size_t)size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED)
		die("mmap kvm_run", NULL);
	if (pthread_create(&v->thread, NULL, vcpu_thread, v))
		die("vCPU thread", NULL);
	/* long enough to reach the hlt; it must still be inside KVM_RUN */
	usleep(20000);
	if (__atomic_load_n(&v->returned, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "bench_run: the idle guest left KVM_RUN: %d (%s), exit reason %u\n",
			v->run_ret, strerror(v->run_errno), v->run->exit_reason);
		exit(1);
	}
}

static void vm_new(struct vm *v, uint32_t slots, uint64_t maxmem)
{
	struct ms_error err = { 0 };

	memset(v, 0, sizeof(*v));
	v->k = ms_kvm__new(NULL, &err);
	if (!v->k)
		die("KVM", &err);
	if (ioctl(ms_kvm__vm_fd(v->k), KVM_CREATE_IRQCHIP, 0))
		die("KVM_CREATE_IRQCHIP", NULL);
	v->vcpu = ioctl(ms_kvm__vm_fd(v->k), KVM_CREATE_VCPU, 0UL);
	if (v->vcpu < 0)
		die("KVM_CREATE_VCPU", NULL);
	v->ctx = ms_ctx__new();
	if (!v->ctx)
		die("context", NULL);
	MS_OPTS(ms_machine_opts, o, .type = MS_MACHINE_Q35, .ram_size = 512 * MiB,
		.slots = slots, .maxmem = maxmem, .kvm_memslots = ms_kvm__max_memslots(v->k),
		.kvm = v->k);
	v->m = ms_machine__new(v->ctx, &o, &err);
	if (!v->m)
		die("machine", &err);
	start_idle_guest(v);
}

static void vm_free(struct vm *v)
{
	/* SIGUSR1 makes KVM_RUN return -EINTR */
	while (!__atomic_load_n(&v->returned, __ATOMIC_ACQUIRE)) {
		pthread_kill(v->thread, SIGUSR1);
		usleep(1000);
	}
	pthread_join(v->thread, NULL);
	munmap(v->run, v->run_size);
	ms_machine__free(v->m);
	ms_ctx__free(v->ctx);
	close(v->vcpu);
	ms_kvm__free(v->k);
}

static struct ms_backend *backend(struct ms_machine *m, const char *id, uint64_t size)
{
	struct ms_error err = { 0 };
	MS_OPTS(ms_backend_opts, o, .kind = MS_BACKEND_RAM, .id = id, .size = size);
	struct ms_backend *b = ms_machine__add_backend(m, &o, &err);

	if (!b)
		die(id, &err);
	return b;
}

/* One operation's cost: wall ns, ioctl ns, ioctls. */
struct cost {
	uint64_t wall, ioctl, n;
};

struct probe {
	uint64_t t0;
	struct ms_kvm_stats s0;
};

static void begin(struct vm *v, struct probe *p)
{
	ms_kvm__stats(v->k, &p->s0);
	p->t0 = now_ns();
}

static struct cost end(struct vm *v, const struct probe *p)
{
	uint64_t t1 = now_ns();
	struct ms_kvm_stats s1;

	ms_kvm__stats(v->k, &s1);
	return (struct cost){ t1 - p->t0, s1.ioctl_ns - p->s0.ioctl_ns, s1.ioctls - p->s0.ioctls };
}

struct summary {
	uint64_t wall, ioctl, n, ops;
	double lib_median;		/* wall - ioctl, median over the operations */
	double ratio_median;		/* wall / ioctl, median over the operations */
	double ratio_p99;
	double wall_median, wall_p99, ioctl_median, ioctl_p99;
	double first_over, last_over;	/* library time per op, first and last tenth */
	double slots_per_op;		/* memslots created (plug) or deleted per op */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarize(const struct cost *c, size_t n, struct summary *s)
{
	size_t tenth = n >= 10 ? n / 10 : 1;
	double *lib = calloc(n, sizeof(*lib)), *ratio = calloc(n, sizeof(*ratio));
	double *wall = calloc(n, sizeof(*wall)), *io = calloc(n, sizeof(*io));
	uint64_t a = 0, b = 0;

	if (!lib || !ratio || !wall || !io)
		die("memory", NULL);
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		s->wall += c[i].wall;
		s->ioctl += c[i].ioctl;
		s->n += c[i].n;
		lib[i] = (double)(c[i].wall - c[i].ioctl);
		ratio[i] = c[i].ioctl ? (double)c[i].wall / (double)c[i].ioctl : 0;
		wall[i] = (double)c[i].wall;
		io[i] = (double)c[i].ioctl;
		if (i < tenth)
			a += c[i].wall - c[i].ioctl;
		if (i >= n - tenth)
			b += c[i].wall - c[i].ioctl;
	}
	s->ops = n;
	s->lib_median = median(lib, n);
	bench_stats(ratio, n, &s->ratio_median, &s->ratio_p99);
	bench_stats(wall, n, &s->wall_median, &s->wall_p99);
	bench_stats(io, n, &s->ioctl_median, &s->ioctl_p99);
	s->first_over = (double)a / tenth;
	s->last_over = (double)b / tenth;
	free(lib);
	free(ratio);
	free(wall);
	free(io);
}

static void print_row(unsigned int n, const char *op, const struct summary *s)
{
	printf("%5u  %-7s %9.1f %9.1f %8.1f %8.1f %7.3f %7.3f %9.2f %8.2f %9.1f %9.1f\n", n, op,
	       s->wall / 1e3 / s->ops, s->ioctl / 1e3 / s->ops,
	       (s->wall - s->ioctl) / 1e3 / s->ops, s->lib_median / 1e3,
	       (double)s->wall / (double)s->ioctl, s->ratio_median, (double)s->n / s->ops,
	       s->slots_per_op, s->first_over / 1e3, s->last_over / 1e3);
}

/* Slots in use in both KVM address spaces. */
static unsigned int slots_used(const struct vm *v)
{
	struct ms_slotmap *smm = ms_machine__kvm_smm(v->m);

	return ms_slotmap__nr_used(ms_machine__kvm(v->m)) + (smm ? ms_slotmap__nr_used(smm) : 0);
}

static void bench_dimms(unsigned int n, struct summary *plug, struct summary *unplug)
{
	unsigned int before, plugged;
	struct cost *cp = calloc(n, sizeof(*cp)), *cu = calloc(n, sizeof(*cu));
	struct ms_memdev **d = calloc(n, sizeof(*d));
	struct vm v;

	if (!cp || !cu || !d)
		die("memory", NULL);
	vm_new(&v, 256, 512 * MiB + (uint64_t)n * GiB);
	before = slots_used(&v);
	for (unsigned int i = 0; i < n; i++) {
		struct ms_error err = { 0 };
		char id[32], mid[32];
		struct probe p;

		snprintf(mid, sizeof(mid), "m%u", i);
		snprintf(id, sizeof(id), "d%u", i);
		MS_OPTS(ms_memdev_opts, o, .type = MS_MEMDEV_DIMM, .id = id,
			.memdev = backend(v.m, mid, GiB), .slot = MS_MEMDEV_SLOT_AUTO,
			.hotplugged = true);
		begin(&v, &p);
		d[i] = ms_machine__device_add(v.m, &o, &err);
		cp[i] = end(&v, &p);
		if (!d[i])
			die(id, &err);
	}
	plugged = slots_used(&v);
	for (unsigned int i = 0; i < n; i++) {
		struct ms_error err = { 0 };
		struct probe p;

		begin(&v, &p);
		if (ms_machine__device_del(v.m, d[i], &err))
			die("device_del", &err);
		cu[i] = end(&v, &p);
	}
	summarize(cp, n, plug);
	summarize(cu, n, unplug);
	plug->slots_per_op = (double)(plugged - before) / n;
	unplug->slots_per_op = (double)(plugged - slots_used(&v)) / n;
	vm_free(&v);
	free(cp);
	free(cu);
	free(d);
}

static void bench_virtio_mem(void)
{
	/* one cycle: from no block plugged back to none */
	static const struct {
		const char *what;
		bool plug;
		uint64_t off, size;
	} req[] = {
		{ "plug 1 block, memslot inactive", true, 0, 2 * MiB },
		{ "plug 1 block, memslot active", true, 2 * MiB, 2 * MiB },
		{ "unplug 1 block, others stay", false, 0, 2 * MiB },
		{ "unplug the last block", false, 2 * MiB, 2 * MiB },
		{ "plug 4 GiB = 4 memslots", true, 4 * GiB, 4 * GiB },
		{ "unplug 4 GiB = 4 memslots", false, 4 * GiB, 4 * GiB },
	};
	enum { NR = sizeof(req) / sizeof(req[0]), REPS = 20 };
	struct cost c[NR] = { { 0 } };
	struct ms_virtio_mem_status vs;
	struct ms_error err = { 0 };
	struct ms_memdev *dev;
	struct vm v;

	vm_new(&v, 0, 512 * MiB + 16 * GiB);
	MS_OPTS(ms_memdev_opts, o, .type = MS_MEMDEV_VIRTIO_MEM, .id = "vm0",
		.memdev = backend(v.m, "mem-vm0", 16 * GiB), .slot = MS_MEMDEV_SLOT_AUTO,
		.dynamic_memslots = true, .requested_size = 16 * GiB);
	dev = ms_machine__device_add(v.m, &o, &err);
	if (!dev || ms_virtio_mem__status(dev, &vs))
		die("virtio-mem", &err);
	for (int rep = 0; rep < REPS; rep++) {
		for (size_t i = 0; i < NR; i++) {
			struct probe p;
			struct cost one;
			int resp;

			begin(&v, &p);
			resp = req[i].plug ? ms_virtio_mem__plug(dev, req[i].off, req[i].size) :
					     ms_virtio_mem__unplug(dev, req[i].off, req[i].size);
			one = end(&v, &p);
			if (resp != MS_VIRTIO_MEM_ACK) {
				fprintf(stderr, "bench_run: %s: response %d\n", req[i].what, resp);
				exit(1);
			}
			c[i].wall += one.wall;
			c[i].ioctl += one.ioctl;
			c[i].n += one.n;
		}
	}
	printf("\nvirtio-mem 16 GiB, dynamic memslots (%u of %llu MiB), 2 MiB blocks, "
	       "averages of %d\n", vs.nr_memslots, (unsigned long long)(vs.memslot_size / MiB),
	       REPS);
	printf("%-32s %10s %10s %8s %7s %9s\n", "request", "wall us", "ioctl us", "lib us",
	       "ratio", "ioctls/op");
	for (size_t i = 0; i < NR; i++) {
		printf("%-32s %10.1f %10.1f %8.1f ", req[i].what, c[i].wall / 1e3 / REPS,
		       c[i].ioctl / 1e3 / REPS, (c[i].wall - c[i].ioctl) / 1e3 / REPS);
		if (c[i].ioctl)
			printf("%7.3f", (double)c[i].wall / (double)c[i].ioctl);
		else
			printf("%7s", "-");
		printf(" %9.2f\n", (double)c[i].n / REPS);
	}
	vm_free(&v);
}

/* Raw create + delete of one slot of @size: the kernel's share alone. */
static void bench_slot_sizes(void)
{
	static const uint64_t sizes[] = { 2 * MiB, 64 * MiB, 256 * MiB, GiB, 4 * GiB };
	struct vm v;

	vm_new(&v, 0, 0);
	printf("\nkernel cost of one memslot by size (create, delete), medians of 9\n");
	printf("%10s %12s %12s\n", "size", "create us", "delete us");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ms_error err = { 0 };
		uint64_t cr[9], de[9];
		struct ms_region *mr;

		mr = ms_region__new_ram(v.ctx, "probe", sizes[i], MS_RAM_ANON, &err);
		if (!mr)
			die("ram", &err);
		for (int rep = 0; rep < 9; rep++) {
			struct ms_slot_op op = { .kind = MS_SLOT_OP_CREATE };
			struct probe p;

			op.slot.slot = 1000;
			op.slot.gpa = 64 * GiB;
			op.slot.size = sizes[i];
			op.slot.hva = ms_region__host_ptr(mr);
			begin(&v, &p);
			if (ms_kvm__exec(v.k, &op))
				die("create", ms_kvm__last_error(v.k));
			cr[rep] = end(&v, &p).ioctl;
			op.kind = MS_SLOT_OP_DELETE;
			op.slot.size = 0;
			begin(&v, &p);
			if (ms_kvm__exec(v.k, &op))
				die("delete", ms_kvm__last_error(v.k));
			de[rep] = end(&v, &p).ioctl;
		}
		for (int a = 0; a < 9; a++)
			for (int b = a + 1; b < 9; b++) {
				if (cr[b] < cr[a]) {
					uint64_t t = cr[a];

					cr[a] = cr[b];
					cr[b] = t;
				}
				if (de[b] < de[a]) {
					uint64_t t = de[a];

					de[a] = de[b];
					de[b] = t;
				}
			}
		printf("%7llu MiB %12.1f %12.1f\n", (unsigned long long)(sizes[i] / MiB),
		       cr[4] / 1e3, de[4] / 1e3);
		ms_region__unref(mr);
	}
	vm_free(&v);
}

static void add_figures(struct bench_json *bj, const unsigned int *ns,
			const struct summary *plug, const struct summary *unplug, size_t nr)
{
	json_object *raw;
	char name[64];

	for (size_t i = 0; i < nr; i++) {
		if (ns[i] < 8)
			continue;	/* N = 1 is in the table only */
		raw = bench_json__raw_new();
		bench_json__raw_u64(raw, "dimms", ns[i]);
		bench_json__raw(raw, "wall_median_ns", plug[i].wall_median);
		bench_json__raw(raw, "wall_p99_ns", plug[i].wall_p99);
		bench_json__raw(raw, "ioctl_median_ns", plug[i].ioctl_median);
		bench_json__raw(raw, "ioctl_p99_ns", plug[i].ioctl_p99);
		bench_json__raw(raw, "lib_median_ns", plug[i].lib_median);
		bench_json__raw(raw, "ratio_p99", plug[i].ratio_p99);
		bench_json__raw(raw, "sum_wall_vs_sum_ioctl",
				(double)plug[i].wall / (double)plug[i].ioctl);
		bench_json__raw(raw, "unplug_ratio_median", unplug[i].ratio_median);
		bench_json__raw(raw, "ioctls_per_plug", (double)plug[i].n / plug[i].ops);
		snprintf(name, sizeof(name), "hotplug_wall_vs_kernel_ioctl_%u", ns[i]);
		bench_json__figure(bj, name, plug[i].ratio_median, RATIO_GOAL,
				   "pc-dimm hot-plug through libmemslot's KVM binding: wall time "
				   "of device_add / time inside the memslot ioctls, median per plug",
				   raw);
	}
	raw = bench_json__raw_new();
	bench_json__raw_u64(raw, "dimms", ns[nr - 1]);
	bench_json__raw_u64(raw, "ioctls", plug[nr - 1].n);
	bench_json__raw_u64(raw, "unplug_ioctls", unplug[nr - 1].n);
	bench_json__raw(raw, "memslots_created_per_plug", plug[nr - 1].slots_per_op);
	bench_json__raw(raw, "memslots_deleted_per_unplug", unplug[nr - 1].slots_per_op);
	bench_json__figure(bj, "ioctls_per_dimm_plug", (double)plug[nr - 1].n / plug[nr - 1].ops,
			   plug[nr - 1].slots_per_op, "memslot ioctls per pc-dimm device_add; "
			   "goal: the memslots it creates (one per KVM address space)", raw);
}

int main(int argc, char **argv)
{
	static const unsigned int ns[] = { 1, 8, 64, 200 };
	struct summary plug[4], unplug[4];
	struct bench_json bj;
	cpu_set_t set;
	int fd, cpu = -1;

	bench_json__init(&bj, "bench_run", argc, argv);

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/* no fragment: the figures are absent, not zero */
		printf("bench_run: skipped (%s): /dev/kvm cannot be opened: %s\n", bj.where,
		       strerror(errno));
		json_object_put(bj.root);
		return 0;
	}
	close(fd);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (!sched_setaffinity(0, sizeof(set), &set))
		cpu = 0;	/* the vCPU threads inherit it */
	signal(SIGUSR1, kick);

	printf("bench_run: memory hot-plug into a KVM VM (%s), libmemslot %s, %s\n", bj.where,
	       ms_version(), cpu == 0 ? "pinned to CPU 0" : "not pinned");
	printf("pc-dimms of 1 GiB into q35 -m 512M,slots=256, guest idle (vCPU halted in KVM_RUN, "
	       "in-kernel irqchip); us per operation\n");
	printf("%5s  %-7s %9s %9s %8s %8s %7s %7s %9s %8s %9s %9s\n", "N", "op", "wall", "ioctl",
	       "lib", "lib med", "ratio", "r med", "ioctls/op", "slots/op", "lib 1st", "lib last");
	for (size_t i = 0; i < 4; i++) {
		bench_dimms(ns[i], &plug[i], &unplug[i]);
		print_row(ns[i], "plug", &plug[i]);
		print_row(ns[i], "unplug", &unplug[i]);
	}
	printf("wall, ioctl, lib (= wall - ioctl): means; lib med: median; ratio: sum of wall / sum\n"
	       "of ioctl (target <= 1.05, flat in N); r med: median of the per-op ratios;\n"
	       "slots/op: memslots created or deleted per operation, both KVM address spaces;\n"
	       "lib 1st / lib last: mean lib of the first and last tenth of the operations\n");
	add_figures(&bj, ns, plug, unplug, 4);
	bench_virtio_mem();
	bench_slot_sizes();
	return bench_json__write(&bj) ? 1 : 0;
}
