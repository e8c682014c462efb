/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot KVM binding: a VM on /dev/kvm whose memslots are set by
 * executing ms_slotmap operations (slotmap.h; kvm-memslots.md 6, 10).
 */
#ifndef MEMSLOT_KVM_H
#define MEMSLOT_KVM_H

#include "slotmap.h"

struct ms_kvm;

/**
 * struct ms_kvm_opts - options of ms_kvm__new()
 * @sz: MS_OPTS
 * @dev: device path, NULL for "/dev/kvm"
 * @no_memory2: use KVM_SET_USER_MEMORY_REGION even if
 *	KVM_CAP_USER_MEMORY2 is present
 * @fault_nth: fault injection: the @fault_nth memslot ioctl of this VM
 *	(counting from 1) fails with @fault_errno without reaching the
 *	kernel; 0: none (see also ms_kvm__inject_fault())
 * @fault_errno: positive errno of the injected fault; 0: EIO
 */
struct ms_kvm_opts {
	size_t sz;
	const char *dev;
	bool no_memory2;
	uint64_t fault_nth;
	int fault_errno;
};

/**
 * ms_kvm__new() - open KVM and create a VM
 * @opts: options, may be NULL
 * @err: optional error details ("/dev/kvm: <strerror>")
 *
 * Reads KVM_CAP_NR_MEMSLOTS (0 means 32, rule 2.1), KVM_CAP_USER_MEMORY2,
 * KVM_CAP_READONLY_MEM and KVM_CAP_MULTI_ADDRESS_SPACE. Fault injection
 * is an option (@opts->fault_nth, @opts->fault_errno); the library never
 * reads the environment (memslot's MEMSLOT_KVM_FAULT is parsed by
 * ms_kvm_fault_parse() and passed in).
 *
 * Return: the VM or NULL with errno set.
 */
MS_API struct ms_kvm *ms_kvm__new(const struct ms_kvm_opts *opts, struct ms_error *err);

/**
 * ms_kvm__free() - close the VM (the kernel drops its memslots)
 * @k: VM, may be NULL
 */
MS_API void ms_kvm__free(struct ms_kvm *k);

/** ms_kvm__vm_fd() - the VM file descriptor. @k: VM. Return: the fd. */
MS_API int ms_kvm__vm_fd(const struct ms_kvm *k);
/** ms_kvm__sys_fd() - the /dev/kvm file descriptor. @k: VM. Return: the fd. */
MS_API int ms_kvm__sys_fd(const struct ms_kvm *k);
/** ms_kvm__max_memslots() - KVM_CAP_NR_MEMSLOTS. @k: VM. Return: the limit. */
MS_API uint32_t ms_kvm__max_memslots(const struct ms_kvm *k);
/** ms_kvm__has_memory2() - KVM_SET_USER_MEMORY_REGION2 is used. @k: VM. Return: the flag. */
MS_API bool ms_kvm__has_memory2(const struct ms_kvm *k);
/** ms_kvm__has_readonly_mem() - KVM_CAP_READONLY_MEM. @k: VM. Return: the flag. */
MS_API bool ms_kvm__has_readonly_mem(const struct ms_kvm *k);
/**
 * ms_kvm__has_smm() - KVM_CAP_X86_SMM with a second address space
 * @k: VM
 *
 * Return: true if the VM takes memslots in address space 1 (SMM), as
 * QEMU's "kvm-smram" listener sets them (kvm-memslots.md 1.2).
 */
MS_API bool ms_kvm__has_smm(const struct ms_kvm *k);

/**
 * ms_kvm__exec() - ms_slot_exec_fn that performs a slot operation
 * @kvm: the struct ms_kvm
 * @op: operation
 *
 * Issues KVM_SET_USER_MEMORY_REGION(2) with ``slot | as_id << 16``. On
 * failure ms_kvm__last_error() explains it with the slot, the range and
 * the reason: "overlaps slot N" (EEXIST), "not page aligned", "flags not
 * supported", "slot id beyond the limit" (EINVAL), "no such slot"; its
 * MS_ERROR_KVM fields name the operation, slot and errno, and
 * MS_ERROR_INJECTED marks an injected fault. The operation is counted in
 * &struct ms_kvm_stats. A machine or slot map given the binding
 * (ms_machine_opts.kvm, ms_slotmap_opts.kvm) calls it itself.
 * Safe to call only from the thread that owns the VM's memslots.
 *
 * Return: 0 or the negative errno of the ioctl.
 */
MS_API int ms_kvm__exec(void *kvm, const struct ms_slot_op *op);

/**
 * ms_kvm__last_error() - explanation of the last failed operation
 * @k: VM
 *
 * Return: the error (err 0 if none failed yet).
 */
MS_API const struct ms_error *ms_kvm__last_error(const struct ms_kvm *k);

/**
 * ms_kvm__first_error() - first failed operation since ms_kvm__clear_error()
 * @k: VM
 *
 * The error is ms_kvm__last_error()'s of the first operation that failed
 * since the VM was created or ms_kvm__clear_error() was last called: the
 * explanation in msg, MS_ERROR_KVM with the operation, slot and errno, and
 * MS_ERROR_INJECTED for an injected fault. A caller that makes several
 * machine changes (a hot-plug step) reads the failure of that step here.
 *
 * Return: the error, or NULL if none failed.
 */
MS_API const struct ms_error *ms_kvm__first_error(const struct ms_kvm *k);

/**
 * ms_kvm__clear_error() - forget the first failure (start a new step)
 * @k: VM
 *
 * ms_kvm__last_error() is kept.
 */
MS_API void ms_kvm__clear_error(struct ms_kvm *k);

/**
 * ms_kvm_fault_parse() - parse a fault injection "N:ERRNO"
 * @s: text, e.g. "3:ENOMEM" or "1:12": N counts from 1, ERRNO is a
 *	positive errno number below 4096 or a name such as ENOMEM, EEXIST,
 *	EINVAL, EFAULT, ENOSPC, EIO, ... (case ignored)
 * @nth: set to N (&struct ms_kvm_opts fault_nth)
 * @errnum: set to the positive errno (&struct ms_kvm_opts fault_errno)
 *
 * The syntax of memslot's MEMSLOT_KVM_FAULT; the library does not read the
 * environment itself. @nth and @errnum are left alone on failure.
 *
 * Return: 0, or -EINVAL if @s is not of that form.
 */
MS_API int ms_kvm_fault_parse(const char *s, uint64_t *nth, int *errnum);

/**
 * ms_kvm__inject_fault() - make a future memslot ioctl fail
 * @k: VM
 * @nth: 1 for the next memslot ioctl, 2 for the one after, ...; 0 cancels
 * @err: positive errno to fail with
 */
MS_API void ms_kvm__inject_fault(struct ms_kvm *k, uint64_t nth, int err);

/**
 * struct ms_kvm_slot - a slot as the kernel holds it (what succeeded)
 * @as_id: address space id
 * @slot: slot id
 * @flags: KVM flags
 * @gpa: guest address
 * @size: bytes
 * @hva: userspace address
 */
struct ms_kvm_slot {
	uint16_t as_id;
	uint32_t slot;
	uint32_t flags;
	uint64_t gpa, size, hva;
};

/**
 * ms_kvm__for_each_slot() - visit the slots every successful ioctl left
 * @k: VM
 * @fn: callback; non-zero stops
 * @opaque: passed to @fn
 *
 * Return: what @fn returned last, or 0.
 */
MS_API int ms_kvm__for_each_slot(const struct ms_kvm *k,
				 int (*fn)(const struct ms_kvm_slot *s, void *opaque), void *opaque);

/**
 * struct ms_kvm_stats - memslot ioctl counters of a VM
 * @ioctls: memslot ioctls issued (including failed and injected ones)
 * @failures: of which failed
 * @ioctl_ns: nanoseconds spent inside them (CLOCK_MONOTONIC around the call)
 * @creates: MS_SLOT_OP_CREATE operations given to ms_kvm__exec(), failed
 *	ones and ones refused before the ioctl included
 * @deletes: MS_SLOT_OP_DELETE operations, counted the same way
 * @updates: MS_SLOT_OP_UPDATE operations, counted the same way
 * @injected: of @failures, injected faults (never sent to the kernel)
 *
 * The counters only grow, from the VM's creation; per-step figures are
 * the difference of two snapshots.
 */
struct ms_kvm_stats {
	uint64_t ioctls;
	uint64_t failures;
	uint64_t ioctl_ns;
	uint64_t creates;
	uint64_t deletes;
	uint64_t updates;
	uint64_t injected;
};

/**
 * ms_kvm__stats() - snapshot the counters
 * @k: VM
 * @st: filled
 */
MS_API void ms_kvm__stats(const struct ms_kvm *k, struct ms_kvm_stats *st);

/**
 * ms_kvm__get_dirty_log() - KVM_GET_DIRTY_LOG of one slot (rule 7.2, 10.8)
 * @k: VM
 * @as_id: address space id
 * @slot: slot id
 * @bitmap: ceil(pages / 64) 64-bit words, filled (bit 0 = first page)
 * @err: optional error details
 *
 * Return: 0, or a negative errno (-ENOENT: no such slot or no logging).
 */
MS_API int ms_kvm__get_dirty_log(struct ms_kvm *k, uint16_t as_id, uint32_t slot,
				 uint64_t *bitmap, struct ms_error *err);

#endif /* MEMSLOT_KVM_H */
