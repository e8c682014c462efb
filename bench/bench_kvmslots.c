// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_kvmslots: memslot updates at KVM's slot limit, in a real VM. Every
 * slot is 2 MiB of RAM, 2 MiB apart from the next (no two are adjacent);
 * the host memory behind them is one PROT_NONE reservation with
 * MAP_NORESERVE, never touched. No vCPU is created: the VMs hold memslots
 * only.
 *
 * 1. The kernel alone: raw KVM_SET_USER_MEMORY_REGION on a VM fd, no
 *    library. With 8 slots present, then with KVM_CAP_NR_MEMSLOTS minus
 *    HEADROOM, one more slot is created in a random gap, moved to another
 *    (same id, new guest address: KVM_MR_MOVE) and deleted, KREPS times
 *    back to back, then IDLE_REPS times with IDLE_MS of sleep before each
 *    ioctl; median and p99 per ioctl. Under TCG an ioctl after a pause
 *    costs about ten times one issued right after another, whatever the
 *    slot count: the second row shows that cost.
 * 2. The library: a context with one address space ("memory", a container
 *    root), an ms_slotmap on it with the KVM binding (ms_kvm) executing its
 *    operations, and one 2 MiB RAM region per possible slot. The VM holds
 *    8 slots, then is grown in one transaction to KVM_CAP_NR_MEMSLOTS
 *    slots in its one address space. At each size, seeded random updates
 *    (up to OPS, within BUDGET_S): begin, map or unmap one region, commit.
 *    The count walks between the size and the size minus WALK. Per update,
 *    the kernel's time is the time inside the memslot ioctls (ms_kvm__stats
 *    ioctl_ns) and the library's the wall time of the update minus that.
 *
 * Figures: kernel_{create,delete,move}_32k_vs_8, the kernel's median at
 * the limit over its median with 8 slots (no goal: not ours); of the
 * library VM at the limit, vm32k_library_update_ns and
 * vm32k_kernel_update_ns (medians per update, no goal),
 * vm32k_library_vs_kernel_update, the median per update of library time /
 * kernel time (goal <= 0.05, the hot-plug goal of bench_run: wall <= 1.05 x
 * ioctl), and vm32k_library_update_32k_vs_8, the library's median at the
 * limit over its median with 8 slots (goal <= 2, as slot_update_32k_vs_8).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
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

#define BENCH_NAME	"bench_kvmslots"
#define MiB		(1ull << 20)
#define GiB		(1ull << 30)
#define REGION		(2 * MiB)
#define STRIDE		(4 * MiB)	/* slot i at BASE + i * STRIDE, a gap after it */
#define BASE		(4 * GiB)
#define SMALL		8		/* slots present in the small case */
#define HEADROOM	4		/* part 1: ids left free below the limit */
#define KREPS		300		/* part 1: create + move + delete per size ... */
#define IDLE_REPS	60		/* ... and as many with a pause before each ioctl */
#define IDLE_MS		20
#define OPS		2000		/* part 2: updates per size at most ... */
#define BUDGET_S	300.0		/* ... and the seconds they may take */
#define WALK		64		/* part 2: the count stays in [size - WALK, size] */
#define SEED		13
#define RATIO_GOAL	0.05
#define GROWTH_GOAL	2.0

enum { K_CREATE, K_MOVE, K_DELETE, NR_KOPS };
static const char *const kop_names[NR_KOPS] = { "create", "move", "delete" };

static uint64_t rng_state = SEED;

/* xorshift64: the same sequence on every libc */
static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn)) die(const char *what, const struct ms_error *e)
{
	fprintf(stderr, BENCH_NAME ": %s: %s\n", what, e && e->msg[0] ? e->msg : strerror(errno));
	exit(1);
}

static uint64_t slot_gpa(uint32_t i)
{
	return BASE + (uint64_t)i * STRIDE;
}

/* --- 1. the kernel alone ------------------------------------------------ */

struct kernel_result {
	uint32_t slots;			/* present while measuring */
	double med[NR_KOPS], p99[NR_KOPS];		/* back to back */
	double idle_med[NR_KOPS], idle_p99[NR_KOPS];	/* after IDLE_MS of sleep */
};

/*
 * One KVM_SET_USER_MEMORY_REGION (size 0: delete), after @pause_us of
 * sleep; the ns the ioctl took.
 */
static uint64_t set_region(int vm, uint32_t slot, uint64_t gpa, uint64_t size, char *hva,
			   unsigned int pause_us)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};
	uint64_t t0;
	char what[96];

	if (pause_us)
		usleep(pause_us);
	t0 = now_ns();
	if (!ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r))
		return now_ns() - t0;
	snprintf(what, sizeof(what), "KVM_SET_USER_MEMORY_REGION slot %u 0x%llx+0x%llx", slot,
		 (unsigned long long)gpa, (unsigned long long)size);
	die(what, NULL);
}

/* Create slots [from, to); the ns inside the ioctls. */
static uint64_t kernel_fill(int vm, uint32_t from, uint32_t to, char *hva)
{
	uint64_t ns = 0;

	for (uint32_t i = from; i < to; i++)
		ns += set_region(vm, i, slot_gpa(i), REGION, hva + (uint64_t)i * REGION, 0);
	return ns;
}

/*
 * Slots 0..@present-1 are there; slot @probe is created in the gap after a
 * random one, moved to the gap after another and deleted, @reps times,
 * each ioctl after @pause_us of sleep; median and p99 into @med, @p99.
 */
static void kernel_measure(int vm, uint32_t present, uint32_t probe, char *hva, int reps,
			   unsigned int pause_us, double *med, double *p99)
{
	static double t[NR_KOPS][KREPS];

	for (int rep = 0; rep < reps; rep++) {
		uint32_t a = (uint32_t)rnd(present), b = (uint32_t)rnd(present - 1);
		uint64_t gap_a = slot_gpa(a) + REGION, gap_b = slot_gpa(b + (b >= a)) + REGION;

		t[K_CREATE][rep] = set_region(vm, probe, gap_a, REGION, hva, pause_us);
		t[K_MOVE][rep] = set_region(vm, probe, gap_b, REGION, hva, pause_us);
		t[K_DELETE][rep] = set_region(vm, probe, gap_b, 0, hva, pause_us);
	}
	for (int k = 0; k < NR_KOPS; k++)
		bench_stats(t[k], reps, &med[k], &p99[k]);
}

static void kernel_both(int vm, uint32_t present, uint32_t probe, char *hva,
			struct kernel_result *r)
{
	r->slots = present;
	kernel_measure(vm, present, probe, hva, KREPS, 0, r->med, r->p99);
	kernel_measure(vm, present, probe, hva, IDLE_REPS, IDLE_MS * 1000, r->idle_med,
		       r->idle_p99);
	for (int k = 0; k < NR_KOPS; k++)
		printf("%7u  %-7s %10.1f %10.1f %10.1f %10.1f\n", r->slots, kop_names[k],
		       r->med[k] / 1e3, r->p99[k] / 1e3, r->idle_med[k] / 1e3,
		       r->idle_p99[k] / 1e3);
	fflush(stdout);
}

static void kernel_figures(struct bench_json *bj, const struct kernel_result *s,
			   const struct kernel_result *l, uint32_t cap)
{
	static const char *const names[NR_KOPS] = {
		"kernel_create_32k_vs_8", "kernel_move_32k_vs_8", "kernel_delete_32k_vs_8",
	};
	static const char *const whats[NR_KOPS] = {
		"kernel time of one memslot create (raw KVM_SET_USER_MEMORY_REGION, 2 MiB, "
		"back to back), median with the limit minus headroom present / with 8",
		"kernel time of one memslot move (same slot, new guest address, back to "
		"back), median with the limit minus headroom present / with 8",
		"kernel time of one memslot delete (back to back), median with the limit "
		"minus headroom present / with 8",
	};

	for (int k = 0; k < NR_KOPS; k++) {
		json_object *raw = bench_json__raw_new();

		bench_json__raw_u64(raw, "kvm_cap_nr_memslots", cap);
		bench_json__raw_u64(raw, "small_slots", s->slots);
		bench_json__raw_u64(raw, "large_slots", l->slots);
		bench_json__raw_u64(raw, "ioctls_per_size", KREPS);
		bench_json__raw(raw, "small_median_ns", s->med[k]);
		bench_json__raw(raw, "small_p99_ns", s->p99[k]);
		bench_json__raw(raw, "large_median_ns", l->med[k]);
		bench_json__raw(raw, "large_p99_ns", l->p99[k]);
		bench_json__raw_u64(raw, "idle_ms", IDLE_MS);
		bench_json__raw_u64(raw, "idle_ioctls_per_size", IDLE_REPS);
		bench_json__raw(raw, "idle_small_median_ns", s->idle_med[k]);
		bench_json__raw(raw, "idle_small_p99_ns", s->idle_p99[k]);
		bench_json__raw(raw, "idle_large_median_ns", l->idle_med[k]);
		bench_json__raw(raw, "idle_large_p99_ns", l->idle_p99[k]);
		bench_json__figure(bj, names[k], l->med[k] / s->med[k], -1, whats[k], raw);
	}
}

static void bench_kernel(struct bench_json *bj, char *hva, uint32_t want)
{
	struct kernel_result small, large;
	uint32_t cap, large_n;
	uint64_t fill_ns, t0;
	int sys, vm, r;

	sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (sys < 0)
		die("/dev/kvm", NULL);
	do {
		vm = ioctl(sys, KVM_CREATE_VM, 0);
	} while (vm < 0 && errno == EINTR);
	if (vm < 0)
		die("KVM_CREATE_VM", NULL);
	r = ioctl(sys, KVM_CHECK_EXTENSION, KVM_CAP_CHECK_EXTENSION_VM) > 0 ? vm : sys;
	r = ioctl(r, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	cap = r > 0 ? (uint32_t)r : 32;		/* 0: the old default */
	if (cap != want) {
		fprintf(stderr, BENCH_NAME ": KVM_CAP_NR_MEMSLOTS %u, the binding says %u\n",
			cap, want);
		exit(1);
	}
	large_n = cap - HEADROOM;

	printf("\n1. kernel: raw KVM_SET_USER_MEMORY_REGION on a VM fd, 2 MiB slots, no vCPU; "
	       "KVM_CAP_NR_MEMSLOTS %u\n", cap);
	printf("one more slot created in a random gap, moved (KVM_MR_MOVE) and deleted: %d "
	       "times back to back,\n%d times with %d ms of sleep before each ioctl; us per "
	       "ioctl\n", KREPS, IDLE_REPS, IDLE_MS);
	printf("%7s  %-7s %10s %10s %10s %10s\n", "slots", "ioctl", "median", "p99",
	       "idle med", "idle p99");
	kernel_fill(vm, 0, SMALL, hva);
	kernel_both(vm, SMALL, cap - 1, hva, &small);
	t0 = now_ns();
	fill_ns = kernel_fill(vm, SMALL, large_n, hva);
	t0 = now_ns() - t0;
	kernel_both(vm, large_n, cap - 1, hva, &large);
	printf("filling %u -> %u slots: %.1f s, %.1f s of it in the ioctls (%.1f us each)\n",
	       SMALL, large_n, t0 / 1e9, fill_ns / 1e9, fill_ns / 1e3 / (large_n - SMALL));
	fflush(stdout);
	kernel_figures(bj, &small, &large, cap);
	t0 = now_ns();
	close(vm);
	close(sys);
	printf("VM with %u slots closed in %.1f s\n", large_n, (now_ns() - t0) / 1e9);
}

/* --- 2. the library's VM ---------------------------------------------- */

/* Region i at slot_gpa(i); pos[0..nr_in) are mapped, pos[nr_in..nr) not. */
struct lib_vm {
	struct ms_kvm *k;
	struct ms_ctx *ctx;
	struct ms_region *root;
	struct ms_as *as;
	struct ms_slotmap *map;
	struct ms_region **mr;
	uint32_t *pos;
	uint32_t nr, nr_in;
};

struct lib_result {
	uint32_t top, bottom;		/* the count walked between these */
	unsigned int ops;
	uint64_t ioctls;
	double spent_s;
	double lib_med, lib_p99, kern_med, kern_p99, wall_med, wall_p99;
	double ratio_med, ratio_p99;	/* library / kernel per update */
};

static void swap_pos(struct lib_vm *v, uint32_t a, uint32_t b)
{
	uint32_t t = v->pos[a];

	v->pos[a] = v->pos[b];
	v->pos[b] = t;
}

/* Map the unmapped region at pos[@at] (@at >= nr_in), or unmap the mapped one. */
static void map_pos(struct lib_vm *v, uint32_t at, bool add)
{
	struct ms_error err = { 0 };
	uint32_t i = v->pos[at];

	if (add) {
		if (ms_region__add_subregion(v->root, slot_gpa(i), v->mr[i], &err))
			die("add subregion", &err);
		swap_pos(v, at, v->nr_in++);
	} else {
		if (ms_region__del_subregion(v->root, v->mr[i], &err))
			die("delete subregion", &err);
		swap_pos(v, at, --v->nr_in);
	}
}

static void check_map(struct lib_vm *v)
{
	const struct ms_error *e = ms_slotmap__error(v->map);

	if (e)
		die("slot map", e);
	if (ms_slotmap__nr_used(v->map) != v->nr_in) {
		fprintf(stderr, BENCH_NAME ": %u slots in use, want %u\n",
			ms_slotmap__nr_used(v->map), v->nr_in);
		exit(1);
	}
	ms_slotmap__clear_ops(v->map);
}

static void lib_vm_new(struct lib_vm *v, char *hva)
{
	struct ms_error err = { 0 };

	memset(v, 0, sizeof(*v));
	v->k = ms_kvm__new(NULL, &err);
	if (!v->k)
		die("KVM", &err);
	v->nr = ms_kvm__max_memslots(v->k);
	v->ctx = ms_ctx__new();
	if (!v->ctx)
		die("context", NULL);
	v->root = ms_region__new_container(v->ctx, "system", UINT64_MAX, &err);
	if (!v->root)
		die("root", &err);
	v->as = ms_as__new(v->ctx, v->root, "memory", &err);
	if (!v->as)
		die("address space", &err);
	MS_OPTS(ms_slotmap_opts, o, .max_slots = v->nr, .kvm = v->k);
	v->map = ms_slotmap__new(v->as, &o, &err);
	if (!v->map)
		die("slot map", &err);
	v->mr = calloc(v->nr, sizeof(*v->mr));
	v->pos = calloc(v->nr, sizeof(*v->pos));
	if (!v->mr || !v->pos)
		die("memory", NULL);
	for (uint32_t i = 0; i < v->nr; i++) {
		char name[32];

		snprintf(name, sizeof(name), "ram%u", i);
		v->mr[i] = ms_region__new_ram_ptr(v->ctx, name, REGION, hva + (uint64_t)i * REGION,
						  &err);
		if (!v->mr[i])
			die(name, &err);
		v->pos[i] = i;
	}
}

static void lib_vm_free(struct lib_vm *v)
{
	ms_slotmap__free(v->map);
	if (ms_as__free(v->as))
		die("free address space", NULL);
	ms_region__unref(v->root);
	for (uint32_t i = 0; i < v->nr; i++)
		ms_region__unref(v->mr[i]);
	ms_ctx__free(v->ctx);
	ms_kvm__free(v->k);
	free(v->mr);
	free(v->pos);
}

/* Map random unmapped regions up to @n in one transaction. */
static void lib_grow(struct lib_vm *v, uint32_t n)
{
	struct ms_kvm_stats s0, s1;
	uint32_t from = v->nr_in;
	uint64_t t0;

	ms_kvm__stats(v->k, &s0);
	t0 = now_ns();
	ms_ctx__begin(v->ctx);
	while (v->nr_in < n)
		map_pos(v, v->nr_in + (uint32_t)rnd(v->nr - v->nr_in), true);
	ms_ctx__commit(v->ctx);
	t0 = now_ns() - t0;
	ms_kvm__stats(v->k, &s1);
	check_map(v);
	printf("grown %u -> %u slots in one transaction: %.1f s, %.1f s of it in %llu ioctls\n",
	       from, n, t0 / 1e9, (s1.ioctl_ns - s0.ioctl_ns) / 1e9,
	       (unsigned long long)(s1.ioctls - s0.ioctls));
	fflush(stdout);
}

/* Random single updates, the count between @top - WALK (or @top / 2) and @top. */
static void lib_walk(struct lib_vm *v, uint32_t top, struct lib_result *r)
{
	static double lib[OPS], kern[OPS], wall[OPS], ratio[OPS];
	uint32_t bottom = top - (top / 2 < WALK ? top / 2 : WALK);
	uint64_t start = now_ns(), budget = (uint64_t)(BUDGET_S * 1e9);
	unsigned int n;

	memset(r, 0, sizeof(*r));
	r->top = top;
	r->bottom = bottom;
	for (n = 0; n < OPS && now_ns() - start < budget; n++) {
		bool add = v->nr_in == bottom ? true : v->nr_in == top ? false : rnd(2);
		uint32_t at = add ? v->nr_in + (uint32_t)rnd(v->nr - v->nr_in) :
				    (uint32_t)rnd(v->nr_in);
		struct ms_kvm_stats s0, s1;
		uint64_t t0, t1;

		ms_kvm__stats(v->k, &s0);
		t0 = now_ns();
		ms_ctx__begin(v->ctx);
		map_pos(v, at, add);
		ms_ctx__commit(v->ctx);
		t1 = now_ns();
		ms_kvm__stats(v->k, &s1);
		check_map(v);
		kern[n] = (double)(s1.ioctl_ns - s0.ioctl_ns);
		wall[n] = (double)(t1 - t0);
		lib[n] = wall[n] - kern[n];
		ratio[n] = kern[n] > 0 ? lib[n] / kern[n] : 0;
		r->ioctls += s1.ioctls - s0.ioctls;
	}
	r->ops = n;
	r->spent_s = (now_ns() - start) / 1e9;
	bench_stats(lib, n, &r->lib_med, &r->lib_p99);
	bench_stats(kern, n, &r->kern_med, &r->kern_p99);
	bench_stats(wall, n, &r->wall_med, &r->wall_p99);
	bench_stats(ratio, n, &r->ratio_med, &r->ratio_p99);
}

static void print_lib(const struct lib_result *r)
{
	printf("%5u-%-5u %5u %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %8.3f %8.3f %7.2f %7.1f\n",
	       r->bottom, r->top, r->ops, r->lib_med / 1e3, r->lib_p99 / 1e3, r->kern_med / 1e3,
	       r->kern_p99 / 1e3, r->wall_med / 1e3, r->wall_p99 / 1e3, r->ratio_med,
	       r->ratio_p99, (double)r->ioctls / r->ops, r->spent_s);
	fflush(stdout);
}

static void lib_raw(json_object *raw, const char *size, const struct lib_result *r)
{
	static const char *const keys[] = {
		"slots", "slots_min", "updates", "ioctls", "library_median_ns", "library_p99_ns",
		"kernel_median_ns", "kernel_p99_ns", "wall_median_ns", "wall_p99_ns",
		"library_vs_kernel_median", "library_vs_kernel_p99",
	};
	const double vals[] = {
		r->top, r->bottom, r->ops, (double)r->ioctls, r->lib_med, r->lib_p99,
		r->kern_med, r->kern_p99, r->wall_med, r->wall_p99, r->ratio_med, r->ratio_p99,
	};
	char key[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "%s_%s", size, keys[i]);
		if (i < 4)
			bench_json__raw_u64(raw, key, (uint64_t)vals[i]);
		else
			bench_json__raw(raw, key, vals[i]);
	}
}

static json_object *lib_raw_both(const struct lib_result *s, const struct lib_result *l)
{
	json_object *raw = bench_json__raw_new();

	bench_json__raw_u64(raw, "seed", SEED);
	lib_raw(raw, "small", s);
	lib_raw(raw, "large", l);
	return raw;
}

static void lib_figures(struct bench_json *bj, const struct lib_result *s,
			const struct lib_result *l)
{
	bench_json__figure(bj, "vm32k_library_update_ns", l->lib_med, -1,
			   "library time per memslot update at the KVM slot limit (one 2 MiB "
			   "region mapped or unmapped + commit through the KVM binding, wall - "
			   "ioctl), median ns", lib_raw_both(s, l));
	bench_json__figure(bj, "vm32k_kernel_update_ns", l->kern_med, -1,
			   "kernel time per memslot update at the KVM slot limit (time inside "
			   "the memslot ioctls of the same updates), median ns",
			   lib_raw_both(s, l));
	bench_json__figure(bj, "vm32k_library_vs_kernel_update", l->ratio_med, RATIO_GOAL,
			   "library time / kernel time per memslot update at the KVM slot "
			   "limit, median over the updates", lib_raw_both(s, l));
	bench_json__figure(bj, "vm32k_library_update_32k_vs_8", l->lib_med / s->lib_med,
			   GROWTH_GOAL, "library time per memslot update through the KVM "
			   "binding, median at the KVM slot limit / median with 8 slots",
			   lib_raw_both(s, l));
}

static void bench_library(struct bench_json *bj, char *hva)
{
	struct lib_result small, large;
	struct lib_vm v;
	uint64_t t0;

	lib_vm_new(&v, hva);
	printf("\n2. library: one address space, ms_slotmap with the KVM binding, 2 MiB RAM "
	       "regions, no vCPU; KVM_CAP_NR_MEMSLOTS %u\n", v.nr);
	printf("random updates (seed %d): begin, map or unmap one region, commit; up to %d "
	       "or %.0f s per size; us\n", SEED, OPS, BUDGET_S);
	lib_grow(&v, SMALL);
	lib_walk(&v, SMALL, &small);
	lib_grow(&v, v.nr);
	lib_walk(&v, v.nr, &large);
	printf("%11s %5s %9s %9s %9s %9s %9s %9s %8s %8s %7s %7s\n", "slots", "ops", "lib med",
	       "lib p99", "kern med", "kern p99", "wall med", "wall p99", "lib/kern", "l/k p99",
	       "ioctl/u", "s");
	print_lib(&small);
	print_lib(&large);
	printf("lib = wall - kern per update; kern: inside the memslot ioctls; lib/kern: median "
	       "and p99 of the per-update ratio;\nioctl/u: memslot ioctls per update; s: "
	       "seconds taken. At the limit each ioctl follows a long\nlibrary commit: its "
	       "kern is part 1's cost after a pause, not back to back\n");
	lib_figures(bj, &small, &large);
	t0 = now_ns();
	lib_vm_free(&v);
	printf("library VM with %u slots freed in %.1f s\n", large.top, (now_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
	struct bench_json bj;
	struct ms_kvm *k;
	uint64_t start = now_ns();
	uint32_t cap;
	size_t len;
	cpu_set_t set;
	int pinned;
	char *hva;

	bench_json__init(&bj, BENCH_NAME, argc, argv);
	k = ms_kvm__new(NULL, NULL);
	if (!k) {
		/* no fragment: the figures are absent, not zero */
		printf(BENCH_NAME ": skipped (%s): no KVM VM: %s\n", bj.where, strerror(errno));
		json_object_put(bj.root);
		return 0;
	}
	cap = ms_kvm__max_memslots(k);
	ms_kvm__free(k);
	if (cap <= SMALL + HEADROOM) {
		printf(BENCH_NAME ": skipped (%s): KVM_CAP_NR_MEMSLOTS is %u\n", bj.where, cap);
		json_object_put(bj.root);
		return 0;
	}
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pinned = !sched_setaffinity(0, sizeof(set), &set);
	len = (size_t)cap * REGION;
	hva = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		die("reserve host memory", NULL);

	printf(BENCH_NAME ": memslot updates at the KVM slot limit (%s), libmemslot %s, %s\n",
	       bj.where, ms_version(), pinned ? "pinned to CPU 0" : "not pinned");
	bench_kernel(&bj, hva, cap);
	bench_library(&bj, hva);
	munmap(hva, len);
	printf(BENCH_NAME ": %.0f s\n", (now_ns() - start) / 1e9);
	return bench_json__write(&bj) ? 1 : 0;
}
