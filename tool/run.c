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

#include "tool.h"
#include "plan.h"
#include "run.h"
#include "scenario.h"
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
		"                             [--strict] [QEMU-OPTION]...\n"
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
		"      --strict        refuse QEMU options that do not affect memory or\n"
		"                      that change it in ways not modelled\n"
		"  -h, --help          print this help\n");
}

/* --- KVM failures ------------------------------------------------------------ */

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
void run_kvm_fail_text(const struct run *r, const struct kvm_fail *kf, char *buf, size_t len)
{
	plan_kvm_fail_text(r->kvm, &kf->e, buf, len);
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
	struct ms_slotmap *maps[2];
	size_t nr_maps = machine_kvm_maps(r->p.m, maps);
	const struct ms_error *map_err;
	struct ms_kvm_stats k0, k1;
	struct acct before, after;
	int ret;

	s->t0 = now_ns();
	ms_kvm__stats(r->kvm, &k0);
	run_acct_take(r, &before);
	if (s->st) {
		char err[QOPT_ERR_LEN];
		struct kvm_fail kf;

		ms_kvm__clear_error(r->kvm);
		for (size_t m = 0; m < nr_maps; m++)
			ms_slotmap__clear_ops(maps[m]);
		s->ret = scenario_exec(r->p.m, s->st, false, err);
		kf = kvm_fail_take(r);
		map_err = ms_slotmap__error(maps[0]);
		if (!map_err && nr_maps > 1)
			map_err = ms_slotmap__error(maps[1]);
		if (s->ret && kf.set)
			run_kvm_fail_text(r, &kf, s->err, sizeof(s->err));
		else if (s->ret)
			snprintf(s->err, sizeof(s->err), "%s", err);
		else if (kf.set || map_err) {
			/* the library went on although KVM refused: report it all the same */
			if (kf.set)
				run_kvm_fail_text(r, &kf, s->err, sizeof(s->err));
			else
				snprintf(s->err, sizeof(s->err), "%s", map_err->msg);
			s->ret = map_err && map_err->err ? map_err->err : -EIO;
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
		run_check(r, s, !s->ret);
	if (!r->guest_dead) {
		s->verified = true;
		ret = run_verify_all(r, s);
		if (ret)
			return ret;
		run_check(r, s, !s->vret && !s->guest_mismatches && !s->host_mismatches &&
		      !s->unslotted);
	}
	if (!r->guest_dead) {
		run_probe_mmio(r, s);
		if (s->mmio_done)
			run_check(r, s, !s->mret && s->mmio.exits && s->mmio.access.addr == s->mmio_gpa);
	}
	if (!r->guest_dead) {
		run_probe_rom(r, s);
		if (s->rom_done)
			run_check(r, s, !s->rret && s->rom.exited && s->rom.unchanged);
	}
	ret = run_compare_kernel(r, s);
	if (ret)
		return ret;
	run_check(r, s, !s->nr_diffs);
	if (r->p.dirty_log && !r->guest_dead)
		run_check(r, s, !s->dirty_short);
	if (s->st && s->ret) {
		run_acct_take(r, &after);
		s->acct_checked = true;
		s->acct_same = run_acct_same(&before, &after, s->acct_diff, sizeof(s->acct_diff));
		run_check(r, s, s->acct_same);
	}
	if (r->ts) {
		ret = kverify_check(r, s);
		if (ret && !s->kv.err)
			return ret;
		s->kv.ok = !s->kv.nr_diffs;
		run_check(r, s, s->kv.ok);
	}
	for (size_t m = 0; m < nr_maps; m++)
		ms_slotmap__clear_ops(maps[m]);
	return 0;
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
		p_err("cannot create a KVM VM: %s%s", error_text(&e, errno),
		      r->p.no_vm ? " (--no-vm: not running in a guest kernel, see --kernel)" : "");
		return 1;
	}
	status = kverify_start(r);
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

		run_kvm_fail_text(r, &kf, text, sizeof(text));
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
				run_kvm_fail_text(r, &kf, text, sizeof(text));
			p_err("--dirty-log: %s", kf.set ? text : e.msg);
			return 1;
		}
	}
	memset(&e, 0, sizeof(e));
	r->vmm = vmm_new(r->p.m, r->kvm, NULL, &e);
	if (!r->vmm) {
		p_err("cannot start the guest: %s", error_text(&e, errno));
		return 1;
	}
	return 0;
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
		ADD(doc, "kvm", run_kvm_json(&r));
		ADD(doc, "script", json_str_or_null(r.script_name));
		ADD(doc, "dirty_log", json_object_new_boolean(r.p.dirty_log));
		ADD(doc, "full", json_object_new_boolean(r.p.full));
		ADD(doc, "kernel_verify", json_object_new_boolean(r.ts != NULL));
		ADD(doc, "kernel_verify_skipped", json_str_or_null(r.kv_skipped[0] ?
								    r.kv_skipped : NULL));
		ADD(doc, "steps", steps);
	} else {
		run_print_header(&r, stdout);
	}

	for (size_t i = 0; i <= r.p.scn.nr && !stop; i++) {
		struct step s = { .st = i ? &r.p.scn.steps[i - 1] : NULL };

		ret = step_run(&r, &s);
		if (!ret && steps) {
			struct json_object *o = run_step_json(&r, &s);

			ret = o ? json_object_array_add(steps, o) : -ENOMEM;
		} else if (!ret) {
			ret = run_print_step(&r, &s, stdout);
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
	trace_prog_close(r.tk);
	census_prog_close(r.cs);
	ms_kvm__free(r.kvm);
	free(r.notes);
	ms_set_print(old_print);
	return status;
}
