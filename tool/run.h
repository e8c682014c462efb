/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: the state of `memslot run` (run.c) shared by its parts:
 * the checks after every step (checks.c), the verification against the
 * kernel (kverify.c) and the step reports (run_report.c, run_json.c).
 */
#ifndef MEMSLOT_RUN_H
#define MEMSLOT_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "census_prog.h"
#include "tool.h"
#include "plan.h"
#include "scenario.h"
#include "trace_prog.h"
#include "vmm.h"

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
	bool kchanges;			/* KVM's changes were traced (kvm_set_memslot) */
	uint64_t kc[4];			/* of our VM, by KVM_MR_*: create delete move flags */
	uint64_t kc_internal;		/* of them, KVM's internal slots */
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
	struct trace_prog *tk;		/* KVM's changes, where kvm_set_memslot is probed */
	const char *kattach;
	uint64_t tk_vm;			/* our VM's struct kvm, from the syscall tracer */
	uint64_t tk_other;		/* changes of other VMs, current step */
	uint64_t tk_kc[4], tk_internal;	/* current step */
	char kv_skipped[200];		/* default scenario: why it does not run */
	int vm_fd;
	uint64_t tr_events, tr_failed, tr_foreign;	/* traced, current step */
	int tr_errno;
	uint64_t tr_vm;			/* the VM pointer of the last event */

	unsigned int checks, failed;
	bool guest_dead;
	char first_error[QOPT_ERR_LEN + 1024];
};

/* the slots of a slot map, collected by run_collect_slot() */
struct slot_list {
	struct ms_memslot *s;
	size_t nr, cap;
	int err;
};

/* --- run.c --- */

/**
 * run_kvm_fail_text() - QEMU's text for the failed operation, then the
 *	binding's explanation
 * @r: run
 * @kf: the failure
 * @buf: filled
 * @len: size of @buf
 */
void run_kvm_fail_text(const struct run *r, const struct kvm_fail *kf, char *buf, size_t len);

/* --- checks.c --- */

/* run_check() - count a check of @s (and of @r), failed unless @ok */
void run_check(struct run *r, struct step *s, bool ok);

/* run_cols() - the memslot table's columns: backend, verified and dirty pages of @r */
struct memslot_cols run_cols(struct run *r);

/**
 * run_collect_slot() - ms_slotmap__for_each() callback appending to a slot_list
 * @s: slot
 * @opaque: the struct slot_list (err set to -ENOMEM on failure)
 *
 * Return: 0 to go on, 1 to stop.
 */
int run_collect_slot(const struct ms_memslot *s, void *opaque);

/**
 * run_diff_slots() - the slot map of @r against another table of slots
 * @r: run
 * @other: the other table (the kernel's, the census), sorted by address
 *	space and slot id
 * @nr: its length
 * @who: the other side in "... in @who only"
 * @tag: the other side in "library ..., @tag ..." of a slot that differs
 * @lib_slots: set to the number of slots of the slot map
 * @diffs: gets one string per difference (run_add_diff())
 * @nr_diffs: its length
 *
 * Return: 0 or -ENOMEM.
 */
int run_diff_slots(struct run *r, const struct ms_kvm_slot *other, size_t nr, const char *who,
		   const char *tag, size_t *lib_slots, char ***diffs, size_t *nr_diffs);

/**
 * run_add_diff() - append a formatted difference to a list of strings
 * @diffs: the list (realloc'ed)
 * @nr: its length
 * @fmt: printf format
 *
 * Return: 0 or -ENOMEM.
 */
int run_add_diff(char ***diffs, size_t *nr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * run_compare_kernel() - the kernel's table (what every successful ioctl
 *	left) against the slot map, into @s->diffs
 * @r: run
 * @s: step
 *
 * Return: 0 or -ENOMEM.
 */
int run_compare_kernel(struct run *r, struct step *s);

/**
 * run_verify_all() - verify every slot's range and the RAM without a slot
 *	from the guest, then collect the dirty logs
 * @r: run
 * @s: step, gets the results
 *
 * Return: 0, or a negative errno for a failure of the tool itself.
 */
int run_verify_all(struct run *r, struct step *s);

/* run_probe_mmio() - a guest read of an address the step unmapped, else of the first MMIO */
void run_probe_mmio(struct run *r, struct step *s);

/* run_probe_rom() - a guest write to a READONLY slot the step created, else the first */
void run_probe_rom(struct run *r, struct step *s);

/* run_acct_take() - snapshot the accounting of @r into @a */
void run_acct_take(const struct run *r, struct acct *a);

/**
 * run_acct_same() - compare two accounting snapshots
 * @a: before
 * @b: after
 * @why: the first difference, if any
 * @len: size of @why
 *
 * Return: true if they are the same.
 */
bool run_acct_same(const struct acct *a, const struct acct *b, char *why, size_t len);

/* --- kverify.c --- */

/**
 * kverify_start() - attach the tracer and load the census (--verify)
 * @r: run, after the KVM binding was created
 *
 * Return: the exit status: 0 to go on (also when skipped, with the
 * reason in @r->kv_skipped), 1 after reporting an error.
 */
int kverify_start(struct run *r);

/**
 * kverify_check() - after a step: the traced ioctls and the census of the
 *	VM against what the library did, into @s->kv
 * @r: run
 * @s: step
 *
 * Return: 0, or a negative errno (@s->kv.err set for a census or tracer error).
 */
int kverify_check(struct run *r, struct step *s);

/* --- run_report.c, run_json.c --- */

/* run_print_header() - machine, KVM, guest and scenario lines. @r: run @f: stream */
void run_print_header(const struct run *r, FILE *f);

/**
 * run_print_step() - a step's text report
 * @r: run
 * @s: step
 * @f: stream
 *
 * Return: 0 or a negative errno.
 */
int run_print_step(struct run *r, const struct step *s, FILE *f);

/* run_step_json() - a step's JSON object. @r: run @s: step. Return: it, or NULL */
struct json_object *run_step_json(struct run *r, const struct step *s);

/* run_kvm_json() - the "kvm" object. @r: run. Return: it, or NULL */
struct json_object *run_kvm_json(const struct run *r);

#endif /* MEMSLOT_RUN_H */
