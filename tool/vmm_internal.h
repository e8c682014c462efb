/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VMM's state and the helpers its parts share: vmm.c (creation, vCPU
 * mode setup, the guest image), vmm_vcpu.c (KVM_RUN and its exits, guest
 * commands), vmm_window.c (the guest's page tables and GiB windows),
 * vmm_verify.c (vmm_verify()) and vmm_probe.c (single accesses, hlt, ud2).
 * Not part of the interface: run.c and the selftests use vmm.h.
 */
#ifndef MEMSLOT_VMM_INTERNAL_H
#define MEMSLOT_VMM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vmm.h"
#include "guest/probe.h"

#define GiB			(1ULL << 30)
#define NR_GIB_MAX		(PROBE_NR_PDPT * 512ULL)
#define NO_GIB			UINT64_MAX

struct kvm_run;

struct vmm {
	struct ms_machine *m;
	struct ms_kvm *k;
	struct ms_as *mem_as;
	struct ms_as *io_as;
	struct vmm_opts opts;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *low;			/* host address of guest address 0 */
	struct probe_mbox *mb;
	uint64_t max_gpa;		/* exclusive */

	uint64_t pd_gib[PROBE_NR_PD];	/* GiB directory i maps, or NO_GIB */
	uint64_t pd_stamp[PROBE_NR_PD];	/* last batch that used it */
	uint64_t stamp;

	uint64_t verify_calls;

	/* exits of the current command */
	uint32_t nr_access;
	struct vmm_access first_access;
	uint64_t unslotted;
	uint64_t first_unslotted;
	uint64_t cmd_hlts;

	bool dead;
	struct ms_error death;
	struct vmm_stats st;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/**
 * vcpu_die() - mark the VMM dead for good and say why
 * @v: VMM
 * @err: optional; gets the reason too
 * @ret: negative errno to remember and return
 * @fmt: printf format of the reason
 *
 * Every later vcpu_check_alive() fails with the reason.
 *
 * Return: @ret.
 */
int vcpu_die(struct vmm *v, struct ms_error *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * vcpu_check_alive() - refuse to use a dead VMM
 * @v: VMM
 * @err: optional error details
 *
 * Return: 0, or -EIO naming why the VMM died.
 */
int vcpu_check_alive(struct vmm *v, struct ms_error *err);

/**
 * vcpu_name_region() - the name a result gives a flat range's region
 * @fr: flat range, or NULL (unassigned: "")
 * @name: filled, truncated to VMM_NAME_LEN - 1 bytes
 */
void vcpu_name_region(const struct ms_flat_range *fr, char name[VMM_NAME_LEN]);

/**
 * vcpu_run() - run the vCPU until the guest reports on PROBE_PORT
 * @v: VMM
 * @status: the guest's status word
 * @err: optional error details
 *
 * Serves every other exit on the way (MMIO through "memory", port I/O
 * through "I/O", HLT) and counts it in @v's per-command fields, which it
 * resets first.
 *
 * Return: 0, or a negative errno after which the VMM is dead.
 */
int vcpu_run(struct vmm *v, uint32_t *status, struct ms_error *err);

/**
 * vcpu_command() - issue the command in the mailbox and wait for its report
 * @v: VMM
 * @cmd: PROBE_CMD_*; its arguments are in the mailbox already
 * @err: optional error details
 *
 * Return: 0, or a negative errno (-EIO if the guest failed) after which the
 * VMM is dead.
 */
int vcpu_command(struct vmm *v, uint64_t cmd, struct ms_error *err);

/**
 * window_init() - write the PML4, the PDPTs and directory 0 (GiB 0)
 * @v: VMM whose low RAM is zeroed and not yet run
 */
void window_init(struct vmm *v);

/**
 * window_map() - queue map operations so that every GiB of @gibs is mapped
 * @v: VMM
 * @gibs: GiB numbers, none 0 (GiB 0 is mapped for good)
 * @n: at most PROBE_NR_PD - 1, so there is always a directory to take
 *
 * The operations go into the mailbox for the next vcpu_command().
 */
void window_map(struct vmm *v, const uint64_t *gibs, size_t n);

/**
 * window_check_gpa() - check that the guest can reach a range
 * @v: VMM
 * @gpa: start
 * @size: bytes
 * @err: optional error details
 *
 * Return: 0, or -ERANGE beyond the guest's physical address width or its
 * page tables.
 */
int window_check_gpa(struct vmm *v, uint64_t gpa, uint64_t size, struct ms_error *err);

#endif /* MEMSLOT_VMM_INTERNAL_H */
