// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot run: build the machine `memslot plan` describes, with real
 * memory, in a KVM VM whose memslots the library sets (the KVM binding,
 * ms_machine_opts.kvm, carries out the machine's slot operations and
 * counts them), boot the probe guest
 * (vmm.h), replay a scenario of hot(un)plug commands (scenario.h) while
 * the guest runs, and check after the start and after every step:
 *
 *   verify   the guest writes a signature into sampled pages (every page
 *            with --full) of every KVM slot's range and reads it back; the
 *            host finds it at the host address the flat view gives; no
 *            access to RAM of the flat view leaves KVM (a missing slot)
 *   mmio     a guest read of a non-RAM address exits to user space (a
 *            range the step unmapped, else the first I/O range)
 *   rom      a guest write to a READONLY slot exits and changes nothing
 *   kernel   the kernel's table (the binding's mirror of every successful
 *            ioctl, ms_kvm__for_each_slot) equals the library's slot map
 *   dirty    with --dirty-log: KVM_GET_DIRTY_LOG of every logging slot
 *            reports at least the pages the guest wrote in it
 *   unchanged after a failing step: the device-memory accounting and the
 *            consumers are those of the step before
 *   verified against the kernel
 *            with --verify (default of the default scenario when CAP_BPF
 *            and CAP_PERFMON are there): the BPF census of this VM (found
 *            by its fd) equals the slot map, the tracer (attached to this
 *            pid before plan_build()) saw the step's ioctls minus the
 *            injected faults (which fail in the binding, never in the
 *            kernel; ms_kvm__stats() counts them and MS_ERROR_INJECTED
 *            marks one), failures with the library's errno, the
 *            device-memory used memslots are the census's slots there, and
 *            no event was lost
 *
 * Threading: one thread does everything, pinned with sched_setaffinity
 * (--cpu, default CPU 0 when the affinity mask has it): the vCPU runs only
 * inside the vmm_*() calls and is stopped at the guest's mailbox `out`
 * (an I/O exit) while a step changes the memory map, so memslot updates
 * never race with the vCPU and need no kick.
 *
 * A step whose memslot ioctl fails (MEMSLOT_KVM_FAULT="N:ERRNO" makes the
 * Nth fail: the tool parses it with ms_kvm_fault_parse() and passes it to
 * ms_kvm__new() as ms_kvm_opts.fault_nth) fails with QEMU's text for the operation
 * (kvm-memslots.md 6.1, 6.2, 6.8) and the binding's explanation; the
 * library undoes the step (device_add/device_del; virtio-mem requests are
 * undone by scenario_exec()), the run checks the state once more and
 * stops. Exit status 0 only if every step and every check passed.
 *
 * Output: see man/memslot-run.8.rst. Text: the machine, then per step
 * "start:" or "line L: COMMAND", the ioctls it issued, the memslot table
 * with backend and verified pages, the accounting and the checks; JSON:
 * {"machine", "kvm", "options", "steps": [...], "ok", "checks_passed",
 * "checks_failed", "elapsed_ns", "peak_rss_bytes"[, "error"]}.
 *
 * Without a usable /dev/kvm (or with --kernel) the command line runs
 * inside a guest kernel instead (vmfallback.h), before anything is set up.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "census_prog.h"
#include "memslot.h"
#include "memslot_bpf.h"
#include "plan.h"
#include "scenario.h"
#include "trace_prog.h"
#include "vmfallback.h"
#include "vmm.h"

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

/*
 * The embedded default scenario: q35 with 512 MiB, 4 DIMM slots, 8 GiB
 * maximum; a cold-plugged virtio-mem device of 4 GiB with dynamic memslots
 * (4 memslots of 1 GiB, rule 10.2) and two hot-plugged DIMMs; blocks are
 * plugged across memslots 0-2 and partly unplugged (memslot 1 is
 * deactivated), and one DIMM is unplugged.
 */
static const char *const default_args[] = {
	"run",
	"-M", "q35",
	"-m", "512M,slots=4,maxmem=8G",
	"-object", "memory-backend-ram,id=mem-vm0,size=4G",
	"-device", "virtio-mem-pci,id=vm0,memdev=mem-vm0,dynamic-memslots=on",
	NULL,
};

static const char default_script[] =
	"# memslot run's default scenario (man memslot-run)\n"
	"object_add memory-backend-ram,id=mem-d0,size=1G\n"
	"device_add pc-dimm,id=d0,memdev=mem-d0\n"
	"object_add memory-backend-memfd,id=mem-d1,size=512M\n"
	"device_add pc-dimm,id=d1,memdev=mem-d1\n"
	"qom-set vm0 requested-size 3G\n"
	"virtio-mem plug vm0 512M 1G       # memslots 0 and 1\n"
	"virtio-mem plug vm0 2G 1G         # memslot 2\n"
	"virtio-mem unplug vm0 1G 512M     # memslot 1 is empty again\n"
	"virtio-mem unplug vm0 512M 256M   # memslot 0 keeps blocks\n"
	"device_del d0\n"
	"info memory-devices\n";

#define DEFAULT_NAME	"(default)"

/* Results of the last verification per slot id (KVM address space 0). */
struct slot_note {
	bool set;
	uint64_t gpa, size;
	int64_t verified;	/* pages, -1: nothing verifiable */
	int64_t dirty;		/* pages, -1: not logging */
};

/* The first failed memslot ioctl of a step (ms_kvm__first_error()). */
struct kvm_fail {
	bool set;
	struct ms_error e;
};

/* Snapshot of the accounting, for the "unchanged" check. */
struct acct {
	struct ms_devmem_stats st;
	uint32_t kvm_used;
	uint32_t kvm_free;
};

/* --verify: the kernel's view of a step (the census and the tracer). */
struct kverify {
	bool done;			/* the check ran */
	bool ok;
	uint64_t census_slots, lib_slots;
	uint64_t traced, issued;	/* ioctls: traced, issued minus injected */
	uint64_t injected;		/* failed in the binding, never sent */
	uint64_t traced_failed, failed;	/* failures: traced, issued minus injected */
	int traced_errno;		/* of the first traced failure, 0 if none */
	int expected_errno;		/* of the first failure that reached the kernel */
	uint64_t foreign;		/* events of another VM or fd of this process */
	uint64_t devmem_used, devmem_census;
	uint64_t lost;
	uint64_t vm, generation;
	uint64_t census_ns;
	int err;			/* census or tracer error, negative errno */
	char **diffs;
	size_t nr_diffs;
};

struct step {
	const struct scn_step *st;	/* NULL: the start */
	int ret;
	char err[QOPT_ERR_LEN + 512];
	struct kvm_fail kf;
	uint64_t t0, ns;

	/* memslot ioctls */
	uint64_t ioctl_first, ioctls, failures, ioctl_ns;
	uint64_t creates, deletes, updates;
	uint64_t injected;		/* of failures: injected faults, never sent */

	/* verification */
	bool verified;			/* it ran (the guest was alive) */
	int vret;
	struct ms_error verr;
	uint64_t pages, slots_verified, ram_bytes;
	uint64_t guest_mismatches, host_mismatches, unslotted;
	uint64_t first_bad_gpa, expected, found, first_unslotted_gpa;
	uint64_t uncovered;		/* RAM bytes of the flat view without a slot */
	uint64_t verify_ns, exits;

	/* mmio probe */
	bool mmio_done;
	int mret;
	uint64_t mmio_gpa;
	struct vmm_probe_result mmio;
	struct ms_error merr;

	/* rom write probe */
	bool rom_done;
	int rret;
	uint64_t rom_gpa;
	struct vmm_rom_result rom;
	struct ms_error rerr;

	/* kernel vs library */
	unsigned int kernel_slots, lib_slots;
	char **diffs;
	size_t nr_diffs;

	/* dirty log */
	uint64_t dirty_pages;
	uint64_t dirty_short;		/* logging slots reporting fewer pages than written */
	char dirty_fail[320];

	/* accounting after a failure */
	bool acct_checked, acct_same;
	char acct_diff[160];

	struct kverify kv;

	unsigned int checks, failed;
};

struct run {
	struct plan p;
	const char *script_name;
	bool default_scenario;
	struct ms_kvm *kvm;
	struct vmm *vmm;
	int cpu;
	uint64_t t0;


	struct slot_note *notes;
	size_t nr_notes;

	/* --verify */
	struct trace_prog *ts;
	struct census_prog *cs;
	const char *attach;		/* the tracer's attach path */
	char kv_skipped[200];		/* default scenario: why it does not run */
	int vm_fd;
	uint64_t tr_events, tr_failed, tr_foreign;	/* traced, current step */
	int tr_errno;
	uint64_t tr_vm;			/* the VM pointer of the last event */

	unsigned int checks, failed;
	bool guest_dead;
	char first_error[QOPT_ERR_LEN + 1024];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Peak resident set size of this process in bytes (ru_maxrss is in KiB). */
static uint64_t peak_rss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot [OPTIONS] run [-M|-machine MACHINE] [-m MEMORY] [-object BACKEND]...\n"
		"                             [-device DEVICE]... [--script FILE] [--cpu N]\n"
		"                             [--dirty-log] [--full] [--verify]\n"
		"                             [--kernel KERNEL [--modules DIR] | --no-vm]\n"
		"\n"
		"Build the machine with real memory in a KVM VM whose memslots libmemslot sets,\n"
		"boot a probe guest, replay the script's hot(un)plug commands while it runs and\n"
		"verify from inside the guest after every step. Without machine, device or\n"
		"script options, run the embedded default scenario. The options are plan's.\n"
		"\n"
		"  -M, -machine pc|q35[,max-ram-below-4g=SIZE][,nvdimm=on]\n"
		"  -m [size=]SIZE[,slots=N][,maxmem=SIZE]\n"
		"  -object memory-backend-ram|memory-backend-memfd|memory-backend-file,id=ID,\n"
		"          size=SIZE[,share=on|off][,prealloc=on|off][,mem-path=PATH][,align=SIZE]\n"
		"          [,readonly=on|off]\n"
		"  -device pc-dimm|nvdimm|virtio-pmem-pci|virtio-mem-pci,memdev=ID[,id=ID][,...]\n"
		"      --script FILE   replay hot(un)plug commands (memslot-plan's format)\n"
		"      --cpu N         pin the thread that runs the vCPU and updates the memslots\n"
		"                      to CPU N (default: CPU 0 if the affinity mask has it)\n"
		"      --dirty-log     start dirty logging (migration) and report the pages the\n"
		"                      guest dirtied in each slot\n"
		"      --full          verify every page instead of a sample\n"
		"      --verify        check every step against the kernel: the census of the\n"
		"                      VM's memslots and the traced ioctls (BPF; the default\n"
		"                      of the default scenario when CAP_BPF and CAP_PERFMON\n"
		"                      are there)\n"
		"      --kernel debian-6.1|debian-6.12|PATH\n"
		"                      run inside this guest kernel, booted under QEMU by\n"
		"                      memslot-vmtest (default without a usable /dev/kvm:\n"
		"                      debian-6.12)\n"
		"      --modules DIR   the modules of a --kernel PATH\n"
		"      --no-vm         never run inside a guest kernel\n"
		"  -h, --help          print this help\n");
}

/* --- KVM failures ------------------------------------------------------------ */

static const char *op_name(enum ms_slot_op_kind k)
{
	return k == MS_SLOT_OP_CREATE ? "create" : k == MS_SLOT_OP_DELETE ? "delete" : "update";
}

/* The first failed memslot ioctl since ms_kvm__clear_error(), if any. */
static struct kvm_fail kvm_fail_take(const struct run *r)
{
	const struct ms_error *e = ms_kvm__first_error(r->kvm);
	struct kvm_fail kf = { .set = e != NULL };

	if (e)
		kf.e = *e;
	return kf;
}

/* QEMU's text for the failed operation, then the binding's explanation. */
static void kvm_fail_text(const struct run *r, const struct kvm_fail *kf, char *buf, size_t len)
{
	plan_kvm_fail_text(r->kvm, &kf->e, buf, len);
}

/* --- per-slot notes ---------------------------------------------------------- */

static struct slot_note *note_of(struct run *r, uint32_t slot, bool grow)
{
	if (slot >= r->nr_notes) {
		size_t n = r->nr_notes ? r->nr_notes : 64;
		struct slot_note *a;

		if (!grow)
			return NULL;
		while (n <= slot)
			n *= 2;
		a = realloc(r->notes, n * sizeof(*a));
		if (!a)
			return NULL;
		memset(&a[r->nr_notes], 0, (n - r->nr_notes) * sizeof(*a));
		r->notes = a;
		r->nr_notes = n;
	}
	return &r->notes[slot];
}

/* The note of @s if it was taken for this very slot (same id and range). */
static const struct slot_note *note_for(const struct run *r, const struct ms_memslot *s)
{
	const struct slot_note *n;

	if (s->as_id || s->slot >= r->nr_notes)
		return NULL;
	n = &r->notes[s->slot];
	return n->set && n->gpa == s->gpa && n->size == s->size ? n : NULL;
}

static const char *col_backend(const struct ms_memslot *s, void *opaque)
{
	static const char prefix[] = "obj path=/objects/";
	const char *owner = s->mr ? ms_region__owner(s->mr) : NULL;

	(void)opaque;
	if (!owner || strncmp(owner, prefix, sizeof(prefix) - 1))
		return NULL;
	return owner + sizeof(prefix) - 1;
}

static int64_t col_verified(const struct ms_memslot *s, void *opaque)
{
	const struct slot_note *n = note_for(opaque, s);

	return n ? n->verified : -1;
}

static int64_t col_dirty(const struct ms_memslot *s, void *opaque)
{
	const struct slot_note *n = note_for(opaque, s);

	return n ? n->dirty : -1;
}

static struct memslot_cols cols_of(struct run *r)
{
	return (struct memslot_cols){
		.backend = col_backend,
		.verified = col_verified,
		.dirty = r->p.dirty_log ? col_dirty : NULL,
		.opaque = r,
	};
}

/* --- checks ------------------------------------------------------------------ */

static void check(struct run *r, struct step *s, bool ok)
{
	s->checks++;
	r->checks++;
	if (!ok) {
		s->failed++;
		r->failed++;
	}
}

/* Room for one more element of @elem bytes at the end of *@v, or NULL. */
static void *vec_grow(void **v, size_t *nr, size_t *cap, size_t elem)
{
	if (*nr == *cap) {
		size_t n = *cap ? 2 * *cap : 64;
		void *p = realloc(*v, n * elem);

		if (!p)
			return NULL;
		*v = p;
		*cap = n;
	}
	return (char *)*v + (*nr)++ * elem;
}

struct slot_list {
	struct ms_memslot *s;
	size_t nr, cap;
	int err;
};

static int collect_slot(const struct ms_memslot *s, void *opaque)
{
	struct slot_list *l = opaque;
	struct ms_memslot *e = vec_grow((void **)&l->s, &l->nr, &l->cap, sizeof(*e));

	if (!e) {
		l->err = -ENOMEM;
		return 1;
	}
	*e = *s;
	return 0;
}

struct kslot_list {
	struct ms_kvm_slot *s;
	size_t nr, cap;
	int err;
};

static int collect_kslot(const struct ms_kvm_slot *s, void *opaque)
{
	struct kslot_list *l = opaque;
	struct ms_kvm_slot *e = vec_grow((void **)&l->s, &l->nr, &l->cap, sizeof(*e));

	if (!e) {
		l->err = -ENOMEM;
		return 1;
	}
	*e = *s;
	return 0;
}

static int add_diff(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add_diff(struct step *s, const char *fmt, ...)
{
	char **n = realloc(s->diffs, (s->nr_diffs + 1) * sizeof(*n));
	va_list ap;
	int ret;

	if (!n)
		return -ENOMEM;
	s->diffs = n;
	va_start(ap, fmt);
	ret = vasprintf(&n[s->nr_diffs], fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	s->nr_diffs++;
	return 0;
}

static int cmp_kslot(const void *a, const void *b)
{
	const struct ms_kvm_slot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct ms_memslot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* The kernel's table (what every successful ioctl left) against the slot map. */
static int compare_kernel(struct run *r, struct step *s)
{
	struct slot_list l = { 0 };
	struct kslot_list k = { 0 };
	size_t i = 0, j = 0;
	int ret = 0;

	ms_slotmap__for_each(ms_machine__kvm(r->p.m), collect_slot, &l);
	ms_kvm__for_each_slot(r->kvm, collect_kslot, &k);
	if (l.err || k.err) {
		ret = -ENOMEM;
		goto out;
	}
	qsort(l.s, l.nr, sizeof(*l.s), cmp_slot);
	qsort(k.s, k.nr, sizeof(*k.s), cmp_kslot);
	s->lib_slots = (unsigned int)l.nr;
	s->kernel_slots = (unsigned int)k.nr;
	while ((i < l.nr || j < k.nr) && !ret) {
		const struct ms_memslot *a = i < l.nr ? &l.s[i] : NULL;
		const struct ms_kvm_slot *b = j < k.nr ? &k.s[j] : NULL;
		int c = !a ? 1 : !b ? -1 :
			a->as_id != b->as_id ? (a->as_id < b->as_id ? -1 : 1) :
			a->slot != b->slot ? (a->slot < b->slot ? -1 : 1) : 0;

		if (c < 0) {
			ret = add_diff(s, "slot %u as %u: 0x%" PRIx64 "+0x%" PRIx64
				       " in the library only", a->slot, a->as_id, a->gpa, a->size);
			i++;
		} else if (c > 0) {
			ret = add_diff(s, "slot %u as %u: 0x%" PRIx64 "+0x%" PRIx64
				       " in the kernel only", b->slot, b->as_id, b->gpa, b->size);
			j++;
		} else {
			if (a->gpa != b->gpa || a->size != b->size || a->flags != b->flags ||
			    (uint64_t)(uintptr_t)a->hva != b->hva)
				ret = add_diff(s, "slot %u as %u: library 0x%" PRIx64 "+0x%" PRIx64
					       " flags 0x%x hva %p, kernel 0x%" PRIx64 "+0x%" PRIx64
					       " flags 0x%x hva 0x%" PRIx64, a->slot, a->as_id,
					       a->gpa, a->size, a->flags, a->hva, b->gpa, b->size,
					       b->flags, b->hva);
			i++;
			j++;
		}
	}
out:
	free(l.s);
	free(k.s);
	return ret;
}

/* Writable RAM with host memory: what the guest can verify (vmm.c's rule). */
static bool plain_ram(const struct ms_flat_range *fr)
{
	return ms_region__is_ram(fr->mr) && !ms_region__readonly(fr->mr) && !fr->readonly &&
	       !ms_region__is_ram_device(fr->mr) && !ms_region__is_rom_device(fr->mr) &&
	       ms_region__host_ptr(fr->mr);
}

/*
 * Page-aligned plain RAM of the flat view that no slot covers: the guest's
 * accesses there would leave KVM. Collected to be verified too (the VMM
 * counts such accesses as unslotted).
 */
static int uncovered_ranges(struct run *r, const struct slot_list *l, struct vmm_range **out,
			    size_t *nr, uint64_t *bytes)
{
	struct ms_flatview *fv = ms_flatview__ref(ms_as__flatview(ms_machine__memory_as(r->p.m)));
	size_t n = ms_flatview__nr_ranges(fv), cap = 0;
	int ret = 0;

	*out = NULL;
	*nr = 0;
	*bytes = 0;
	for (size_t i = 0; i < n && !ret; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t a, e;

		if (!plain_ram(fr) || fr->size >= MS_SIZE_2_64)
			continue;
		a = (fr->start + 4095) & ~4095ULL;
		e = (fr->start + (uint64_t)fr->size) & ~4095ULL;
		while (a < e) {
			uint64_t next = e;
			bool covered = false;

			/* the slot holding @a, else the first slot starting above it */
			for (size_t k = 0; k < l->nr; k++) {
				const struct ms_memslot *s = &l->s[k];

				if (s->as_id)
					continue;
				if (s->gpa <= a && a < s->gpa + s->size) {
					covered = true;
					next = s->gpa + s->size < e ? s->gpa + s->size : e;
					break;
				}
				if (s->gpa > a && s->gpa < next)
					next = s->gpa;
			}
			if (!covered) {
				if (*nr == cap) {
					struct vmm_range *v = realloc(*out, (cap = cap ? 2 * cap : 8) *
								      sizeof(*v));

					if (!v) {
						ret = -ENOMEM;
						break;
					}
					*out = v;
				}
				(*out)[(*nr)++] = (struct vmm_range){ a, next - a };
				*bytes += next - a;
			}
			a = next;
		}
	}
	ms_flatview__unref(fv);
	return ret;
}

static void add_verify(struct step *s, const struct vmm_verify_result *v)
{
	s->pages += v->pages;
	s->ram_bytes += v->ram_bytes;
	s->guest_mismatches += v->guest_mismatches;
	s->host_mismatches += v->host_mismatches;
	if (v->first_bad_gpa != UINT64_MAX && s->first_bad_gpa == UINT64_MAX) {
		s->first_bad_gpa = v->first_bad_gpa;
		s->expected = v->expected;
		s->found = v->found;
	}
	if (v->unslotted && !s->unslotted)
		s->first_unslotted_gpa = v->first_unslotted_gpa;
	s->unslotted += v->unslotted;
	s->verify_ns += v->ns;
	s->exits += v->exits;
}

static uint64_t popcount_words(const uint64_t *w, size_t n)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (uint64_t)__builtin_popcountll(w[i]);
	return c;
}

/*
 * Verify every slot's range (one VMM call per slot, for the per-slot page
 * counts), then the uncovered RAM, then collect the dirty logs.
 */
static int verify_all(struct run *r, struct step *s)
{
	struct slot_list l = { 0 };
	struct vmm_range *gaps = NULL;
	size_t nr_gaps = 0;
	int ret;

	s->first_bad_gpa = UINT64_MAX;
	s->first_unslotted_gpa = UINT64_MAX;
	ms_slotmap__for_each(ms_machine__kvm(r->p.m), collect_slot, &l);
	if (l.err)
		return l.err;
	for (size_t i = 0; i < r->nr_notes; i++)
		r->notes[i].set = false;

	for (size_t i = 0; i < l.nr && !s->vret; i++) {
		const struct ms_memslot *m = &l.s[i];
		struct vmm_range range = { m->gpa, m->size };
		struct vmm_verify_result v;
		struct slot_note *n;

		if (m->as_id)
			continue;
		n = note_of(r, m->slot, true);
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		*n = (struct slot_note){ .set = true, .gpa = m->gpa, .size = m->size,
					 .verified = -1, .dirty = -1 };
		s->vret = vmm_verify(r->vmm, &range, 1, r->p.full, &v, &s->verr);
		add_verify(s, &v);
		if (v.ram_bytes) {
			n->verified = (int64_t)v.pages;
			s->slots_verified++;
		}
	}
	if (!s->vret) {
		ret = uncovered_ranges(r, &l, &gaps, &nr_gaps, &s->uncovered);
		if (ret)
			goto out;
		if (nr_gaps) {
			struct vmm_verify_result v;

			s->vret = vmm_verify(r->vmm, gaps, nr_gaps, r->p.full, &v, &s->verr);
			add_verify(s, &v);
		}
	}
	if (s->vret == -EIO)
		r->guest_dead = true;

	if (r->p.dirty_log) {
		for (size_t i = 0; i < l.nr; i++) {
			const struct ms_memslot *m = &l.s[i];
			struct slot_note *n = note_of(r, m->slot, false);
			size_t words = (size_t)((m->size / 4096 + 63) / 64);
			struct ms_error e = { 0 };
			uint64_t *bm;
			int64_t d;

			if (m->as_id || !n || !(m->flags & MS_KVM_MEM_LOG_DIRTY_PAGES))
				continue;
			bm = calloc(words ? words : 1, sizeof(*bm));
			if (!bm) {
				ret = -ENOMEM;
				goto out;
			}
			if (ms_kvm__get_dirty_log(r->kvm, m->as_id, m->slot, bm, &e)) {
				/* a logging slot must have a log */
				if (!s->dirty_short)
					snprintf(s->dirty_fail, sizeof(s->dirty_fail), "%s", e.msg);
				s->dirty_short++;
				free(bm);
				continue;
			}
			d = (int64_t)popcount_words(bm, words);
			free(bm);
			n->dirty = d;
			s->dirty_pages += (uint64_t)d;
			/* every page the guest wrote in this slot must be reported */
			if (n->verified > 0 && d < n->verified) {
				if (!s->dirty_short)
					snprintf(s->dirty_fail, sizeof(s->dirty_fail),
						 "slot %u: %" PRId64 " dirty pages, the guest wrote %"
						 PRId64, m->slot, d, n->verified);
				s->dirty_short++;
			}
		}
	}
	ret = 0;
out:
	free(gaps);
	free(l.s);
	return ret;
}

/* An address the step unmapped, if the flat view has nothing there now. */
static bool unmapped_by_step(struct run *r, uint64_t *gpa)
{
	struct ms_slotmap *map = ms_machine__kvm(r->p.m);
	struct ms_as *as = ms_machine__memory_as(r->p.m);
	const struct ms_slot_op *ops;
	size_t nr;

	ops = ms_slotmap__ops(map, &nr);
	for (size_t i = 0; i < nr; i++) {
		uint64_t off, len = 1;
		const struct ms_flat_range *fr;

		if (ops[i].kind != MS_SLOT_OP_DELETE || ops[i].ret)
			continue;
		fr = ms_as__translate(as, ops[i].slot.gpa, &off, &len);
		if (!fr || !ms_region__is_ram(fr->mr)) {
			*gpa = ops[i].slot.gpa;
			return true;
		}
	}
	return false;
}

/* The first range of "memory" that is neither RAM nor ROM: MMIO. */
static bool first_mmio(struct run *r, uint64_t *gpa)
{
	struct ms_flatview *fv = ms_as__flatview(ms_machine__memory_as(r->p.m));
	size_t n = ms_flatview__nr_ranges(fv);

	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);

		if (!ms_region__is_ram(fr->mr) && !ms_region__is_rom_device(fr->mr)) {
			*gpa = fr->start;
			return true;
		}
	}
	return false;
}

static int find_ro_slot(const struct ms_memslot *s, void *opaque)
{
	if (s->as_id || !(s->flags & MS_KVM_MEM_READONLY) || !s->hva)
		return 0;
	*(uint64_t *)opaque = s->gpa;
	return 1;
}

static void probe_mmio(struct run *r, struct step *s)
{
	if (!unmapped_by_step(r, &s->mmio_gpa) && !first_mmio(r, &s->mmio_gpa))
		return;
	s->mmio_done = true;
	s->mret = vmm_probe_mmio(r->vmm, s->mmio_gpa, 4, false, 0, &s->mmio, &s->merr);
	if (s->mret == -EIO)
		r->guest_dead = true;
}

static void probe_rom(struct run *r, struct step *s)
{
	struct ms_as *as = ms_machine__memory_as(r->p.m);
	const struct ms_flat_range *fr;
	uint64_t gpa = 0, off, len = 1;

	const struct ms_slot_op *ops;
	bool found = false;
	size_t nr;

	/* a READONLY slot this step created, else the first one */
	ops = ms_slotmap__ops(ms_machine__kvm(r->p.m), &nr);
	for (size_t i = 0; i < nr && !found; i++) {
		const struct ms_memslot *s = &ops[i].slot;

		if (ops[i].kind == MS_SLOT_OP_CREATE && !ops[i].ret && !s->as_id &&
		    (s->flags & MS_KVM_MEM_READONLY) && s->hva &&
		    ms_slotmap__lookup(ms_machine__kvm(r->p.m), s->gpa, s->size)) {
			gpa = s->gpa;
			found = true;
		}
	}
	if (!found && !ms_slotmap__for_each(ms_machine__kvm(r->p.m), find_ro_slot, &gpa))
		return;
	fr = ms_as__translate(as, gpa, &off, &len);
	if (!fr || !ms_region__host_ptr(fr->mr))
		return;
	s->rom_done = true;
	s->rom_gpa = gpa;
	s->rret = vmm_probe_rom_write(r->vmm, gpa,
				      (uint8_t)~*((uint8_t *)ms_region__host_ptr(fr->mr) + off),
				      &s->rom, &s->rerr);
	if (s->rret == -EIO)
		r->guest_dead = true;
}

static void acct_take(const struct run *r, struct acct *a)
{
	struct ms_slotmap *map = ms_machine__kvm(r->p.m);

	memset(a, 0, sizeof(*a));
	ms_machine__devmem_stats(r->p.m, &a->st);
	a->kvm_used = ms_slotmap__nr_used(map);
	a->kvm_free = ms_slotmap__max_slots(map) - a->kvm_used;
}

static bool acct_same(const struct acct *a, const struct acct *b, char *why, size_t len)
{
#define SAME(f, name) do {								\
		if (a->f != b->f) {							\
			snprintf(why, len, "%s 0x%" PRIx64 " before, 0x%" PRIx64 " after",	\
				 name, (uint64_t)a->f, (uint64_t)b->f);			\
			return false;							\
		}									\
	} while (0)
	SAME(st.used_region_size, "device memory used");
	SAME(st.plugged_size, "plugged size");
	SAME(st.dimm_size, "dimm size");
	SAME(st.required_memslots, "required memslots");
	SAME(st.used_memslots, "used memslots");
	SAME(st.reserved_memslots, "reserved memslots");
	SAME(st.auto_decision_active, "auto decision devices");
	SAME(kvm_used, "kvm memslots used");
#undef SAME
	return true;
}

/* --- --verify: the census and the tracer ----------------------------------------- */

/* Every traced memslot ioctl of this process (run from trace_prog_drain()). */
static int on_trace(const struct ms_trace_event *e, void *opaque)
{
	struct run *r = opaque;

	if (e->fd != r->vm_fd) {
		r->tr_foreign++;
		return 0;
	}
	r->tr_events++;
	r->tr_vm = e->vm;
	if (e->ret) {
		if (!r->tr_failed)
			r->tr_errno = e->ret;
		r->tr_failed++;
	}
	return 0;
}

static int kv_diff(struct kverify *kv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int kv_diff(struct kverify *kv, const char *fmt, ...)
{
	char **n = realloc(kv->diffs, (kv->nr_diffs + 1) * sizeof(*n));
	va_list ap;
	int ret;

	if (!n)
		return -ENOMEM;
	kv->diffs = n;
	va_start(ap, fmt);
	ret = vasprintf(&n[kv->nr_diffs], fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	kv->nr_diffs++;
	return 0;
}

static int cmp_cslot(const struct ms_memslot *a, const struct ms_census_slot *b)
{
	if (!a)
		return 1;
	if (!b)
		return -1;
	if (a->as_id != b->as_id)
		return a->as_id < b->as_id ? -1 : 1;
	return a->slot < b->id ? -1 : a->slot > b->id;
}

/* The census of our VM against the library's slot map. */
static int kv_compare(struct run *r, struct kverify *kv, const struct census_fd_vm *cv)
{
	struct ms_machine_layout lay;
	struct ms_devmem_stats st;
	struct slot_list l = { 0 };
	size_t i = 0, j = 0;
	int ret = 0;

	ms_slotmap__for_each(ms_machine__kvm(r->p.m), collect_slot, &l);
	if (l.err)
		return l.err;
	if (l.nr)
		qsort(l.s, l.nr, sizeof(*l.s), cmp_slot);
	kv->lib_slots = l.nr;
	kv->census_slots = cv->nr;
	while ((i < l.nr || j < cv->nr) && !ret) {
		const struct ms_memslot *a = i < l.nr ? &l.s[i] : NULL;
		const struct ms_census_slot *b = j < cv->nr ? &cv->slots[j] : NULL;
		int c = cmp_cslot(a, b);

		if (c < 0) {
			ret = kv_diff(kv, "slot %u as %u: 0x%" PRIx64 "+0x%" PRIx64
				      " in the library only", a->slot, a->as_id, a->gpa, a->size);
			i++;
		} else if (c > 0) {
			ret = kv_diff(kv, "slot %u as %u: 0x%" PRIx64 "+0x%" PRIx64
				      " in the kernel's census only", b->id, b->as_id, b->gpa,
				      b->size);
			j++;
		} else {
			if (a->gpa != b->gpa || a->size != b->size || a->flags != b->flags ||
			    (uint64_t)(uintptr_t)a->hva != b->hva)
				ret = kv_diff(kv, "slot %u as %u: library 0x%" PRIx64 "+0x%" PRIx64
					      " flags 0x%x hva %p, census 0x%" PRIx64 "+0x%" PRIx64
					      " flags 0x%x hva 0x%" PRIx64, a->slot, a->as_id,
					      a->gpa, a->size, a->flags, a->hva, b->gpa, b->size,
					      b->flags, b->hva);
			i++;
			j++;
		}
	}
	free(l.s);
	if (ret)
		return ret;

	/* device memory: used memslots (rule 6.2) against the kernel's slots there */
	ms_machine__layout(r->p.m, &lay);
	ms_machine__devmem_stats(r->p.m, &st);
	kv->devmem_used = st.used_memslots;
	for (size_t k = 0; k < cv->nr; k++) {
		const struct ms_census_slot *c = &cv->slots[k];

		if (!c->as_id && lay.devmem_size && c->gpa >= lay.devmem_base &&
		    c->gpa - lay.devmem_base < lay.devmem_size)
			kv->devmem_census++;
	}
	if (kv->devmem_used != kv->devmem_census)
		ret = kv_diff(kv, "device memory: %" PRIu64 " used memslots, %" PRIu64
			      " slots in the kernel", kv->devmem_used, kv->devmem_census);
	return ret;
}

/*
 * After a step: read the tracer's events of the step and the census of
 * our VM, and compare both with what the library did.
 */
static int kv_check(struct run *r, struct step *s)
{
	struct kverify *kv = &s->kv;
	struct census_fd_vm cv;
	int ret;

	kv->done = true;
	r->tr_events = r->tr_failed = r->tr_foreign = 0;
	r->tr_errno = 0;
	ret = trace_prog_drain(r->ts);
	if (ret) {
		kv->err = ret;
		return kv_diff(kv, "cannot read the trace: %s", strerror(-ret));
	}
	kv->traced = r->tr_events;
	kv->traced_failed = r->tr_failed;
	kv->traced_errno = r->tr_errno ? -r->tr_errno : 0;
	kv->foreign = r->tr_foreign;
	kv->injected = s->injected;
	kv->issued = s->ioctls - kv->injected;
	kv->failed = s->failures - kv->injected;
	kv->expected_errno = s->kf.set && !(s->kf.e.flags & MS_ERROR_INJECTED) ?
			     -s->kf.e.err : 0;

	ret = census_prog_read_fd(r->cs, r->vm_fd, &cv);
	kv->census_ns = cv.ns;
	kv->lost = trace_prog_lost(r->ts) + cv.lost;
	if (ret && ret != -EAGAIN) {
		kv->err = ret;
		ret = kv_diff(kv, ret == -ENOENT ? "the census found no VM with fd %d" :
			      "census of fd %d failed", r->vm_fd);
		goto lost;
	}
	if (ret == -EAGAIN && (ret = kv_diff(kv, "no consistent census in 3 passes")))
		return ret;
	kv->vm = cv.vm;
	kv->generation = cv.generation;
	ret = kv_compare(r, kv, &cv);
	if (ret)
		return ret;
	if (kv->traced && r->tr_vm != cv.vm)
		ret = kv_diff(kv, "traced VM 0x%" PRIx64 ", census VM 0x%" PRIx64, r->tr_vm, cv.vm);
	if (!ret && kv->traced != kv->issued)
		ret = kv_diff(kv, "%" PRIu64 " ioctls traced, %" PRIu64 " issued to the kernel",
			      kv->traced, kv->issued);
	if (!ret && kv->traced_failed != kv->failed)
		ret = kv_diff(kv, "%" PRIu64 " failed ioctls traced, %" PRIu64
			      " failed in the kernel", kv->traced_failed, kv->failed);
	if (!ret && kv->expected_errno && kv->traced_errno != kv->expected_errno)
		ret = kv_diff(kv, "failed ioctl traced with %s, the library got %s",
			      strerrorname_np(kv->traced_errno) ?: "none",
			      strerrorname_np(kv->expected_errno) ?: "?");
lost:
	if (!ret && kv->lost)
		ret = kv_diff(kv, "%" PRIu64 " events lost", kv->lost);
	return ret;
}

/* --- one step ------------------------------------------------------------------ */

static void step_free(struct step *s)
{
	for (size_t i = 0; i < s->nr_diffs; i++)
		free(s->diffs[i]);
	free(s->diffs);
	for (size_t i = 0; i < s->kv.nr_diffs; i++)
		free(s->kv.diffs[i]);
	free(s->kv.diffs);
}

/*
 * Run @s->st (nothing for the start), then every check. Return: 0, or a
 * negative errno for an allocation failure of the tool itself.
 */
static int step_run(struct run *r, struct step *s)
{
	struct ms_slotmap *map = ms_machine__kvm(r->p.m);
	struct ms_kvm_stats k0, k1;
	struct acct before, after;
	int ret;

	s->t0 = now_ns();
	ms_kvm__stats(r->kvm, &k0);
	acct_take(r, &before);
	if (s->st) {
		char err[QOPT_ERR_LEN];
		struct kvm_fail kf;

		ms_kvm__clear_error(r->kvm);
		ms_slotmap__clear_ops(map);
		s->ret = scenario_exec(r->p.m, s->st, false, err);
		kf = kvm_fail_take(r);
		if (s->ret && kf.set)
			kvm_fail_text(r, &kf, s->err, sizeof(s->err));
		else if (s->ret)
			snprintf(s->err, sizeof(s->err), "%s", err);
		else if (kf.set || ms_slotmap__error(map)) {
			/* the library went on although KVM refused: report it all the same */
			if (kf.set)
				kvm_fail_text(r, &kf, s->err, sizeof(s->err));
			else
				snprintf(s->err, sizeof(s->err), "%s", ms_slotmap__error(map)->msg);
			s->ret = ms_slotmap__error(map) && ms_slotmap__error(map)->err ?
				 ms_slotmap__error(map)->err : -EIO;
		}
		s->kf = kf;
		ms_kvm__stats(r->kvm, &k1);
		s->ioctl_first = k0.ioctls + 1;
		s->ioctls = k1.ioctls - k0.ioctls;
		s->failures = k1.failures - k0.failures;
		s->ioctl_ns = k1.ioctl_ns - k0.ioctl_ns;
		s->creates = k1.creates - k0.creates;
		s->deletes = k1.deletes - k0.deletes;
		s->updates = k1.updates - k0.updates;
		s->injected = k1.injected - k0.injected;
	} else {
		/* the start: everything since the VM was created */
		s->ioctl_first = 1;
		s->ioctls = k0.ioctls;
		s->failures = k0.failures;
		s->ioctl_ns = k0.ioctl_ns;
		s->creates = k0.creates;
		s->deletes = k0.deletes;
		s->updates = k0.updates;
		s->injected = k0.injected;
	}
	s->ns = now_ns() - s->t0;

	if (s->st)
		check(r, s, !s->ret);
	if (!r->guest_dead) {
		s->verified = true;
		ret = verify_all(r, s);
		if (ret)
			return ret;
		check(r, s, !s->vret && !s->guest_mismatches && !s->host_mismatches &&
		      !s->unslotted);
	}
	if (!r->guest_dead) {
		probe_mmio(r, s);
		if (s->mmio_done)
			check(r, s, !s->mret && s->mmio.exits && s->mmio.access.addr == s->mmio_gpa);
	}
	if (!r->guest_dead) {
		probe_rom(r, s);
		if (s->rom_done)
			check(r, s, !s->rret && s->rom.exited && s->rom.unchanged);
	}
	ret = compare_kernel(r, s);
	if (ret)
		return ret;
	check(r, s, !s->nr_diffs);
	if (r->p.dirty_log && !r->guest_dead)
		check(r, s, !s->dirty_short);
	if (s->st && s->ret) {
		acct_take(r, &after);
		s->acct_checked = true;
		s->acct_same = acct_same(&before, &after, s->acct_diff, sizeof(s->acct_diff));
		check(r, s, s->acct_same);
	}
	if (r->ts) {
		ret = kv_check(r, s);
		if (ret && !s->kv.err)
			return ret;
		s->kv.ok = !s->kv.nr_diffs;
		check(r, s, s->kv.ok);
	}
	ms_slotmap__clear_ops(map);
	return 0;
}

/* --- text output ----------------------------------------------------------- */

static void print_kvm_line(const struct step *s, FILE *f)
{
	fprintf(f, "kvm: %" PRIu64 " memslot ioctl%s", s->ioctls, s->ioctls == 1 ? "" : "s");
	if (s->ioctls)
		fprintf(f, " (%" PRIu64 " create, %" PRIu64 " delete, %" PRIu64 " update, %"
			PRIu64 " failed), %.3f ms in the kernel", s->creates, s->deletes, s->updates,
			s->failures, s->ioctl_ns / 1e6);
	fprintf(f, "\n");
}

static const char *okfail(bool ok)
{
	return ok ? "ok" : "FAIL";
}

static void print_checks(const struct run *r, const struct step *s, FILE *f)
{
	bool vok = !s->vret && !s->guest_mismatches && !s->host_mismatches && !s->unslotted;

	fprintf(f, "checks:\n");
	if (s->st)
		fprintf(f, "  step: %s%s%s\n", okfail(!s->ret), s->ret ? ": " : "",
			s->ret ? s->err : "");
	if (!s->verified)
		fprintf(f, "  verify: not run, the guest failed earlier\n");
	else if (!s->vret || s->pages) {
		fprintf(f, "  verify: %s, %" PRIu64 " pages in %" PRIu64 " slots%s (%.1f ms, %"
			PRIu64 " exits)", okfail(vok), s->pages, s->slots_verified,
			r->p.full ? ", every page" : "", s->verify_ns / 1e6, s->exits);
		if (s->guest_mismatches || s->host_mismatches)
			fprintf(f, "; %" PRIu64 " guest and %" PRIu64 " host mismatches, first at 0x%"
				PRIx64 ": expected 0x%016" PRIx64 ", found 0x%016" PRIx64,
				s->guest_mismatches, s->host_mismatches, s->first_bad_gpa,
				s->expected, s->found);
		if (s->unslotted)
			fprintf(f, "; %" PRIu64 " accesses to RAM without a KVM slot, first at 0x%"
				PRIx64, s->unslotted, s->first_unslotted_gpa);
		fprintf(f, "\n");
	}
	if (s->verified && s->vret)
		fprintf(f, "  verify: FAIL: %s\n", s->verr.msg[0] ? s->verr.msg :
			strerror(-s->vret));
	if (s->mmio_done) {
		if (s->mret)
			fprintf(f, "  mmio: FAIL: %s\n", s->merr.msg[0] ? s->merr.msg :
				strerror(-s->mret));
		else
			fprintf(f, "  mmio: %s, read of 0x%" PRIx64 " (%s) %s\n",
				okfail(s->mmio.exits && s->mmio.access.addr == s->mmio_gpa),
				s->mmio_gpa, s->mmio.exits && s->mmio.access.region[0] ?
				s->mmio.access.region : "unassigned",
				s->mmio.exits ? "exited to user space" : "did not exit");
	}
	if (s->rom_done) {
		if (s->rret)
			fprintf(f, "  rom: FAIL: %s\n", s->rerr.msg[0] ? s->rerr.msg :
				strerror(-s->rret));
		else
			fprintf(f, "  rom: %s, write to 0x%" PRIx64 " (%s) %s, %s\n",
				okfail(s->rom.exited && s->rom.unchanged), s->rom_gpa, s->rom.region,
				s->rom.exited ? "exited" : "did not exit",
				s->rom.unchanged ? "memory unchanged" : "memory CHANGED");
	}
	fprintf(f, "  kernel: %s, %u slots in the kernel, %u in the library", okfail(!s->nr_diffs),
		s->kernel_slots, s->lib_slots);
	for (size_t i = 0; i < s->nr_diffs; i++)
		fprintf(f, "%s%s", i ? "; " : ": ", s->diffs[i]);
	fprintf(f, "\n");
	if (r->p.dirty_log && !r->guest_dead)
		fprintf(f, "  dirty log: %s, %" PRIu64 " pages dirtied%s%s\n",
			okfail(!s->dirty_short), s->dirty_pages, s->dirty_short ? "; " : "",
			s->dirty_short ? s->dirty_fail : "");
	if (s->acct_checked)
		fprintf(f, "  unchanged: %s%s%s\n", okfail(s->acct_same), s->acct_same ? "" : ": ",
			s->acct_same ? "" : s->acct_diff);
	if (s->kv.done) {
		const struct kverify *kv = &s->kv;

		fprintf(f, "  verified against the kernel: %s (census %" PRIu64 " slots %s library, %"
			PRIu64 " ioctls traced %s issued", okfail(kv->ok), kv->census_slots,
			kv->census_slots == kv->lib_slots ? "==" : "!=", kv->traced,
			kv->traced == kv->issued ? "==" : "!=");
		if (kv->injected)
			fprintf(f, ", %" PRIu64 " injected fault%s not sent", kv->injected,
				kv->injected == 1 ? "" : "s");
		if (kv->traced_failed)
			fprintf(f, ", failed with %s", strerrorname_np(kv->traced_errno) ?: "?");
		fprintf(f, ")");
		for (size_t i = 0; i < kv->nr_diffs; i++)
			fprintf(f, "%s%s", i ? "; " : ": ", kv->diffs[i]);
		fprintf(f, "\n");
	}
}

static int print_step(struct run *r, const struct step *s, FILE *f)
{
	struct ms_slotmap *map = ms_machine__kvm(r->p.m);
	struct memslot_cols cols = cols_of(r);
	int ret = 0;

	if (s->st)
		fprintf(f, "\nline %u: %s\n", s->st->line, s->st->text);
	else
		fprintf(f, "\nstart:\n");
	print_kvm_line(s, f);
	if (s->st && s->st->cmd == SCN_INFO) {
		switch (s->st->info) {
		case SCN_INFO_MEMORY_DEVICES:
			ret = plan_print_devices(&r->p, f);
			break;
		case SCN_INFO_MTREE:
			ret = plan_print_flat(&r->p, f);
			break;
		default:
			break;
		}
	}
	fprintf(f, "memslots:\n");
	memslot_table_print_cols(f, &map, 1, &cols);
	fprintf(f, "accounting:\n");
	plan_print_accounting(&r->p, f);
	print_checks(r, s, f);
	return ret;
}

/* --- JSON -------------------------------------------------------------------- */

static int kslot_json(const struct ms_kvm_slot *s, void *opaque)
{
	struct json_object *a = opaque, *o = json_object_new_object();

	if (!o)
		return 1;
	ADD(o, "slot", json_u64(s->slot));
	ADD(o, "as", json_u64(s->as_id));
	ADD(o, "gpa", json_u64(s->gpa));
	ADD(o, "size", json_u64(s->size));
	ADD(o, "flags", json_u64(s->flags));
	ADD(o, "hva", json_u64(s->hva));
	return json_object_array_add(a, o) ? 1 : 0;
}

static struct json_object *kvm_fail_json(const struct run *r, const struct kvm_fail *kf)
{
	struct json_object *o = json_object_new_object();
	char text[QOPT_ERR_LEN + 512];

	if (!o)
		return NULL;
	kvm_fail_text(r, kf, text, sizeof(text));
	ADD(o, "op", json_object_new_string(op_name((enum ms_slot_op_kind)kf->e.op)));
	ADD(o, "slot", json_u64(kf->e.slot));
	ADD(o, "as", json_u64(kf->e.as_id));
	ADD(o, "gpa", json_u64(kf->e.gpa));
	ADD(o, "size", json_u64(kf->e.size));
	ADD(o, "flags", json_u64(kf->e.flags_kvm));
	ADD(o, "errno", json_u64(kf->e.err ? (uint64_t)-kf->e.err : 0));
	ADD(o, "explanation", json_object_new_string(kf->e.msg));
	ADD(o, "message", json_object_new_string(text));
	return o;
}

static struct json_object *kv_json(const struct kverify *kv)
{
	struct json_object *o = json_object_new_object(), *a;

	if (!o)
		return NULL;
	ADD(o, "ok", json_object_new_boolean(kv->ok));
	ADD(o, "vm", json_u64(kv->vm));
	ADD(o, "generation", json_u64(kv->generation));
	ADD(o, "census_slots", json_u64(kv->census_slots));
	ADD(o, "library_slots", json_u64(kv->lib_slots));
	ADD(o, "traced_ioctls", json_u64(kv->traced));
	ADD(o, "issued_ioctls", json_u64(kv->issued));
	ADD(o, "injected_faults", json_u64(kv->injected));
	ADD(o, "traced_failures", json_u64(kv->traced_failed));
	ADD(o, "kernel_failures", json_u64(kv->failed));
	ADD(o, "traced_errno", kv->traced_errno ? json_u64((uint64_t)kv->traced_errno) : NULL);
	ADD(o, "devmem_used_memslots", json_u64(kv->devmem_used));
	ADD(o, "devmem_kernel_slots", json_u64(kv->devmem_census));
	ADD(o, "lost_events", json_u64(kv->lost));
	ADD(o, "census_ns", json_u64(kv->census_ns));
	a = json_object_new_array();
	ADD(o, "differences", a);
	for (size_t i = 0; a && i < kv->nr_diffs; i++)
		json_object_array_add(a, json_object_new_string(kv->diffs[i]));
	if (!a)
		return json_object_put(o), NULL;
	return o;
}

static struct json_object *step_json(struct run *r, const struct step *s)
{
	struct ms_slotmap *map = ms_machine__kvm(r->p.m);
	struct memslot_cols cols = cols_of(r);
	struct json_object *o = json_object_new_object(), *k, *v, *a;
	bool ok = true;

	if (!o)
		return NULL;
	ADD(o, "line", json_u64(s->st ? s->st->line : 0));
	ADD(o, "command", json_object_new_string(s->st ? s->st->text : "start"));
	ADD(o, "ok", json_object_new_boolean(!s->ret && !s->failed));
	ADD(o, "step_ok", json_object_new_boolean(!s->ret));
	ADD(o, "error", s->ret ? json_object_new_string(s->err) : NULL);
	ADD(o, "kvm_error", s->kf.set ? kvm_fail_json(r, &s->kf) : NULL);
	ADD(o, "ns", json_u64(s->ns));

	k = json_object_new_object();
	ADD(o, "kvm", k);
	if (k) {
		ADD(k, "ioctl_first", json_u64(s->ioctl_first));
		ADD(k, "ioctls", json_u64(s->ioctls));
		ADD(k, "creates", json_u64(s->creates));
		ADD(k, "deletes", json_u64(s->deletes));
		ADD(k, "updates", json_u64(s->updates));
		ADD(k, "failures", json_u64(s->failures));
		ADD(k, "ioctl_ns", json_u64(s->ioctl_ns));
	}
	a = memslot_table_json_cols(&map, 1, &cols);
	ADD(o, "memslots", a);
	ok = ok && k && a;
	a = json_object_new_array();
	ADD(o, "kernel_memslots", a);
	ok = ok && a && !ms_kvm__for_each_slot(r->kvm, kslot_json, a);
	ADD(o, "consistent", json_object_new_boolean(!s->nr_diffs));
	a = json_object_new_array();
	ADD(o, "differences", a);
	for (size_t i = 0; a && i < s->nr_diffs; i++)
		json_object_array_add(a, json_object_new_string(s->diffs[i]));
	ok = ok && a;
	a = plan_accounting_json(&r->p);
	ADD(o, "accounting", a);
	ok = ok && a;
	a = plan_consumers_json(&r->p);
	ADD(o, "consumers", a);
	ok = ok && a;
	a = plan_devices_json(&r->p);
	ADD(o, "devices", a);
	ok = ok && a;
	if (s->acct_checked)
		ADD(o, "accounting_unchanged", json_object_new_boolean(s->acct_same));
	ADD(o, "kernel_verify", s->kv.done ? kv_json(&s->kv) : NULL);

	v = json_object_new_object();
	ADD(o, "verification", v);
	if (!v)
		return json_object_put(o), NULL;
	ADD(v, "ok", json_object_new_boolean(s->verified && !s->vret && !s->guest_mismatches &&
					      !s->host_mismatches && !s->unslotted));
	ADD(v, "error", s->vret ? json_object_new_string(s->verr.msg) : NULL);
	ADD(v, "full", json_object_new_boolean(r->p.full));
	ADD(v, "slots", json_u64(s->slots_verified));
	ADD(v, "pages", json_u64(s->pages));
	ADD(v, "ram_bytes", json_u64(s->ram_bytes));
	ADD(v, "guest_mismatches", json_u64(s->guest_mismatches));
	ADD(v, "host_mismatches", json_u64(s->host_mismatches));
	ADD(v, "first_bad_gpa", s->first_bad_gpa != UINT64_MAX ? json_u64(s->first_bad_gpa) : NULL);
	ADD(v, "unslotted", json_u64(s->unslotted));
	ADD(v, "uncovered_bytes", json_u64(s->uncovered));
	ADD(v, "exits", json_u64(s->exits));
	ADD(v, "ns", json_u64(s->verify_ns));
	if (s->mmio_done) {
		struct json_object *m = json_object_new_object();

		ADD(v, "mmio", m);
		if (m) {
			ADD(m, "gpa", json_u64(s->mmio_gpa));
			ADD(m, "ok", json_object_new_boolean(!s->mret && s->mmio.exits &&
							     s->mmio.access.addr == s->mmio_gpa));
			ADD(m, "exits", json_u64(s->mmio.exits));
			ADD(m, "region", s->mmio.exits ?
			    json_object_new_string(s->mmio.access.region) : NULL);
			ADD(m, "error", s->mret ? json_object_new_string(s->merr.msg) : NULL);
		}
	} else {
		ADD(v, "mmio", NULL);
	}
	if (s->rom_done) {
		struct json_object *m = json_object_new_object();

		ADD(v, "rom_write", m);
		if (m) {
			ADD(m, "gpa", json_u64(s->rom_gpa));
			ADD(m, "ok", json_object_new_boolean(!s->rret && s->rom.exited &&
							     s->rom.unchanged));
			ADD(m, "exited", json_object_new_boolean(s->rom.exited));
			ADD(m, "unchanged", json_object_new_boolean(s->rom.unchanged));
			ADD(m, "region", json_object_new_string(s->rom.region));
			ADD(m, "error", s->rret ? json_object_new_string(s->rerr.msg) : NULL);
		}
	} else {
		ADD(v, "rom_write", NULL);
	}
	if (r->p.dirty_log) {
		struct json_object *d = json_object_new_object();

		ADD(v, "dirty_log", d);
		if (d) {
			ADD(d, "ok", json_object_new_boolean(!s->dirty_short && !r->guest_dead));
			ADD(d, "pages", json_u64(s->dirty_pages));
			ADD(d, "error", s->dirty_short ? json_object_new_string(s->dirty_fail) : NULL);
		}
	}
	ADD(o, "checks", json_u64(s->checks));
	ADD(o, "checks_failed", json_u64(s->failed));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *kvm_json(const struct run *r)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	ADD(o, "max_memslots", json_u64(ms_kvm__max_memslots(r->kvm)));
	ADD(o, "memory2", json_object_new_boolean(ms_kvm__has_memory2(r->kvm)));
	ADD(o, "readonly_mem", json_object_new_boolean(ms_kvm__has_readonly_mem(r->kvm)));
	ADD(o, "cpu", r->cpu >= 0 ? json_u64((uint64_t)r->cpu) : NULL);
	return o;
}

/* --- setup ------------------------------------------------------------------- */

/* Pin the calling thread: --cpu N, else CPU 0 if allowed. Return: the CPU or -1. */
static int pin_cpu(int want, int *cpu)
{
	cpu_set_t set, one;

	*cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set)) {
		if (want < 0)
			return 0;
		p_err("--cpu %d: sched_getaffinity: %s", want, strerror(errno));
		return 1;
	}
	if (want < 0) {
		if (!CPU_ISSET(0, &set))
			return 0;
		want = 0;
	} else if (!CPU_ISSET(want, &set)) {
		p_err("--cpu %d: not in the allowed CPUs of this process", want);
		return 1;
	}
	CPU_ZERO(&one);
	CPU_SET(want, &one);
	if (sched_setaffinity(0, sizeof(one), &one)) {
		p_err("--cpu %d: sched_setaffinity: %s", want, strerror(errno));
		return 1;
	}
	*cpu = want;
	return 0;
}

static int load_default_script(struct run *r)
{
	char err[QOPT_ERR_LEN];
	unsigned int line = 0;
	int ret = scenario_parse(default_script, &r->p.scn, &line, err);

	if (ret) {
		p_err("%s:%u: %s", DEFAULT_NAME, line, ret == -ENOMEM ? strerror(ENOMEM) : err);
		return 1;
	}
	return 0;
}

/* Did the command line describe a machine or a script? */
static bool has_scenario_args(const struct plan *p)
{
	return p->nr_machine || p->ram_given || p->nr_objs || p->nr_devs || p->script;
}

static int parse(struct run *r, int argc, char **argv, bool *help)
{
	struct plan extra = { .run = true, .mo = { .sz = sizeof(extra.mo) } };
	int status;

	status = plan_parse_args(&r->p, argc, argv, help);
	if (status || *help)
		return status;
	if (!r->p.kvm)
		return usage_err("accel=tcg: the guest runs under KVM");
	if (has_scenario_args(&r->p)) {
		r->script_name = r->p.script;
		return r->p.script ? plan_load_script(&r->p) : 0;
	}
	/*
	 * The default scenario, with the flags (--cpu, --dirty-log, --full)
	 * of the command line.
	 */
	status = plan_parse_args(&extra, (int)(sizeof(default_args) / sizeof(default_args[0])) - 1,
				 (char **)default_args, help);
	if (status) {
		plan_free(&extra);
		return status;
	}
	extra.cpu = r->p.cpu;
	extra.dirty_log = r->p.dirty_log;
	extra.full = r->p.full;
	extra.verify = r->p.verify;
	extra.kernel = r->p.kernel;
	extra.modules = r->p.modules;
	extra.no_vm = r->p.no_vm;
	extra.host_only = r->p.host_only;
	extra.nr_host_only = r->p.nr_host_only;
	r->p.host_only = NULL;
	plan_free(&r->p);
	r->p = extra;
	r->script_name = DEFAULT_NAME;
	r->default_scenario = true;
	return load_default_script(r);
}

/* --- the command --------------------------------------------------------------- */

static void note_failure(struct run *r, const struct step *s)
{
	char where[64];

	if (r->first_error[0])
		return;
	if (s->st)
		snprintf(where, sizeof(where), "%s:%u: ", r->script_name, s->st->line);
	else
		snprintf(where, sizeof(where), "start: ");
	if (s->ret) {
		snprintf(r->first_error, sizeof(r->first_error), "%s%s", where, s->err);
		return;
	}
	if (s->vret)
		snprintf(r->first_error, sizeof(r->first_error), "%sverify: %s", where, s->verr.msg);
	else if (s->guest_mismatches || s->host_mismatches)
		snprintf(r->first_error, sizeof(r->first_error), "%sverify: page 0x%" PRIx64
			 " holds 0x%016" PRIx64 ", expected 0x%016" PRIx64, where, s->first_bad_gpa,
			 s->found, s->expected);
	else if (s->unslotted)
		snprintf(r->first_error, sizeof(r->first_error), "%sverify: RAM at 0x%" PRIx64
			 " has no KVM slot", where, s->first_unslotted_gpa);
	else if (s->nr_diffs)
		snprintf(r->first_error, sizeof(r->first_error), "%skernel and library differ: %s",
			 where, s->diffs[0]);
	else if (s->mmio_done && (s->mret || !s->mmio.exits))
		snprintf(r->first_error, sizeof(r->first_error), "%smmio: read of 0x%" PRIx64
			 " did not exit", where, s->mmio_gpa);
	else if (s->rom_done && (s->rret || !s->rom.exited || !s->rom.unchanged))
		snprintf(r->first_error, sizeof(r->first_error), "%srom: write to 0x%" PRIx64
			 " was not refused", where, s->rom_gpa);
	else if (s->dirty_short)
		snprintf(r->first_error, sizeof(r->first_error), "%sdirty log: %s", where,
			 s->dirty_fail);
	else if (s->acct_checked && !s->acct_same)
		snprintf(r->first_error, sizeof(r->first_error), "%saccounting changed: %s", where,
			 s->acct_diff);
	else if (s->kv.done && s->kv.nr_diffs)
		snprintf(r->first_error, sizeof(r->first_error), "%sverify against the kernel: %s",
			 where, s->kv.diffs[0]);
	else
		snprintf(r->first_error, sizeof(r->first_error), "%sa check failed", where);
}

/*
 * --verify (the default of the default scenario): attach the tracer to this
 * process and load the census before the machine sets any memslot. Given
 * explicitly, a failure is an error; by default it is one line saying why
 * the kernel verification is skipped.
 */
static int start_kverify(struct run *r)
{
	bool wanted = r->p.verify;
	const char *why = bpf_missing_privileges();
	int err = 0;

	if (!wanted && !r->default_scenario)
		return 0;
	if (why) {
		if (wanted) {
			p_err("--verify: %s", why);
			return 1;
		}
		snprintf(r->kv_skipped, sizeof(r->kv_skipped), "%s", why);
		return 0;
	}
	bpf_setup_libbpf();
	r->vm_fd = ms_kvm__vm_fd(r->kvm);
	r->ts = trace_prog_open(&(struct trace_prog_opts){ .tgid = (uint32_t)getpid(),
							   .fn = on_trace, .opaque = r }, &err);
	if (r->ts) {
		r->attach = trace_prog_attach(r->ts);
		r->cs = census_prog_open((uint32_t)getpid(), &err);
	}
	if (r->ts && r->cs)
		return 0;
	trace_prog_close(r->ts);
	r->ts = NULL;
	if (wanted) {
		p_err("--verify: cannot load or attach the BPF programs: %s (run with -d for "
		      "details)", strerror(-err));
		return 1;
	}
	snprintf(r->kv_skipped, sizeof(r->kv_skipped),
		 "cannot load or attach the BPF programs: %s", strerror(-err));
	return 0;
}

static int start_vm(struct run *r)
{
	MS_OPTS(ms_kvm_opts, ko);
	struct ms_error e = { 0 };
	struct kvm_fail kf;
	const char *fault;
	int status;

	/* fault injection for tests (man/memslot-run.8.rst); the library never reads it */
	fault = getenv("MEMSLOT_KVM_FAULT");
	if (fault && *fault && ms_kvm_fault_parse(fault, &ko.fault_nth, &ko.fault_errno)) {
		p_err("cannot create a KVM VM: MEMSLOT_KVM_FAULT: bad value: %s (want N:ERRNO)%s",
		      fault, r->p.no_vm ? " (--no-vm: not running in a guest kernel, see --kernel)" :
		      "");
		return 1;
	}
	r->kvm = ms_kvm__new(&ko, &e);
	if (!r->kvm) {
		p_err("cannot create a KVM VM: %s%s", e.msg[0] ? e.msg : strerror(errno),
		      r->p.no_vm ? " (--no-vm: not running in a guest kernel, see --kernel)" : "");
		return 1;
	}
	status = start_kverify(r);
	if (status)
		return status;
	r->p.kvm_memslots = ms_kvm__max_memslots(r->kvm);
	r->p.mo.kvm = r->kvm;
	status = plan_build(&r->p);
	if (status)
		return status;
	kf = kvm_fail_take(r);
	if (kf.set) {
		/* the library went on although KVM refused a slot */
		char text[QOPT_ERR_LEN + 512];

		kvm_fail_text(r, &kf, text, sizeof(text));
		p_err("%s", text);
		return 1;
	}
	if (r->p.dirty_log) {
		memset(&e, 0, sizeof(e));
		status = ms_ctx__dirty_log_start(r->p.ctx, MS_GLOBAL_DIRTY_MIGRATION, &e);
		kf = kvm_fail_take(r);
		if (status || kf.set) {
			char text[QOPT_ERR_LEN + 512];

			if (kf.set)
				kvm_fail_text(r, &kf, text, sizeof(text));
			p_err("--dirty-log: %s", kf.set ? text : e.msg);
			return 1;
		}
	}
	memset(&e, 0, sizeof(e));
	r->vmm = vmm_new(r->p.m, r->kvm, NULL, &e);
	if (!r->vmm) {
		p_err("cannot start the guest: %s", e.msg[0] ? e.msg : strerror(errno));
		return 1;
	}
	return 0;
}

static void print_header(const struct run *r, FILE *f)
{
	struct vmm_stats vs;

	vmm_stats(r->vmm, &vs);
	plan_print_machine(&r->p, f);
	fprintf(f, "kvm: %s, %u memslots, readonly memory %s\n",
		ms_kvm__has_memory2(r->kvm) ? "KVM_SET_USER_MEMORY_REGION2" :
					      "KVM_SET_USER_MEMORY_REGION",
		ms_kvm__max_memslots(r->kvm), ms_kvm__has_readonly_mem(r->kvm) ? "yes" : "no");
	fprintf(f, "guest: probe guest booted in %.1f ms, %u phys-bits", vs.boot_ns / 1e6,
		vs.phys_bits);
	if (r->cpu >= 0)
		fprintf(f, "; vCPU and memslot updates on CPU %d\n", r->cpu);
	else
		fprintf(f, "; not pinned\n");
	fprintf(f, "scenario: %s%s%s\n", r->script_name ?: "(none)",
		r->p.dirty_log ? ", dirty logging" : "", r->p.full ? ", every page verified" : "");
	if (r->ts)
		fprintf(f, "kernel verification: tracer %s (pid %d), census iter/task_file\n",
			r->attach, (int)getpid());
	else if (r->kv_skipped[0])
		fprintf(f, "kernel verification: skipped: %s\n", r->kv_skipped);
}

int do_run(int argc, char **argv)
{
	struct run r = { .p = { .run = true, .mo = { .sz = sizeof(r.p.mo) } } };
	ms_print_fn_t old_print = ms_set_print(plan_print_warning);
	struct json_object *doc = NULL, *steps = NULL;
	bool help = false, stop = false;
	int status, ret = 0;

	r.t0 = now_ns();
	status = parse(&r, argc, argv, &help);
	if (status || help) {
		if (help)
			run_usage(stdout);
		goto out;
	}
	/* before anything is set up: the exec must start from scratch */
	status = vm_fallback(&r.p, argc, argv);
	if (status >= 0)
		goto out;
	status = pin_cpu(r.p.cpu, &r.cpu);
	if (status)
		goto out;
	status = start_vm(&r);
	if (status)
		goto out;

	if (json_output) {
		doc = json_object_new_object();
		steps = json_object_new_array();
		if (!doc || !steps) {
			json_object_put(steps);
			ret = -ENOMEM;
			goto json_fail;
		}
		ADD(doc, "machine", plan_machine_json(&r.p));
		ADD(doc, "kvm", kvm_json(&r));
		ADD(doc, "script", json_str_or_null(r.script_name));
		ADD(doc, "dirty_log", json_object_new_boolean(r.p.dirty_log));
		ADD(doc, "full", json_object_new_boolean(r.p.full));
		ADD(doc, "kernel_verify", json_object_new_boolean(r.ts != NULL));
		ADD(doc, "kernel_verify_skipped", json_str_or_null(r.kv_skipped[0] ?
								    r.kv_skipped : NULL));
		ADD(doc, "steps", steps);
	} else {
		print_header(&r, stdout);
	}

	for (size_t i = 0; i <= r.p.scn.nr && !stop; i++) {
		struct step s = { .st = i ? &r.p.scn.steps[i - 1] : NULL };

		ret = step_run(&r, &s);
		if (!ret && steps) {
			struct json_object *o = step_json(&r, &s);

			ret = o ? json_object_array_add(steps, o) : -ENOMEM;
		} else if (!ret) {
			ret = print_step(&r, &s, stdout);
		}
		if (s.failed || s.ret)
			note_failure(&r, &s);
		/* a failed command stops the scenario, as in plan; so does a dead guest */
		stop = s.ret || r.guest_dead;
		step_free(&s);
		if (ret)
			break;
	}
	if (ret)
		goto json_fail;

	status = r.failed || r.first_error[0] ? 1 : 0;
	if (doc) {
		ADD(doc, "ok", json_object_new_boolean(!status));
		ADD(doc, "checks_passed", json_u64(r.checks - r.failed));
		ADD(doc, "checks_failed", json_u64(r.failed));
		ADD(doc, "elapsed_ns", json_u64(now_ns() - r.t0));
		ADD(doc, "peak_rss_bytes", json_u64(peak_rss()));
		ADD(doc, "error", r.first_error[0] ? json_object_new_string(r.first_error) : NULL);
		if (json_print(doc))
			status = 1;
		doc = NULL;
	} else {
		printf("\nresult: %s, %u checks passed, %u failed, %.2f s, peak RSS %.1f MiB\n",
		       status ? "FAILED" : "ok", r.checks - r.failed, r.failed,
		       (now_ns() - r.t0) / 1e9, peak_rss() / 1048576.0);
	}
	if (r.first_error[0]) {
		fflush(stdout);
		p_err("%s", r.first_error);
	}
	goto out;

json_fail:
	json_object_put(doc);
	p_err("cannot build the report: %s", strerror(-ret));
	status = 1;
out:
	vmm_free(r.vmm);
	plan_free(&r.p);
	trace_prog_close(r.ts);
	census_prog_close(r.cs);
	ms_kvm__free(r.kvm);
	free(r.notes);
	ms_set_print(old_print);
	return status;
}
