/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot BPF: the one header shared by the BPF programs (bpf/NAME.bpf.c) and
 * their loaders (tool/trace.c, tool/census.c, selftests). Records cross the
 * ring buffers as these structs; every field has a fixed size so that the
 * BPF target and the host agree on the layout.
 */
#ifndef MEMSLOT_BPF_H
#define MEMSLOT_BPF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ioctl numbers (kvm-memslots.md 10.1); x86_64 syscall number of ioctl. */
#define MS_BPF_NR_IOCTL			16
#define MS_BPF_SET_REGION		0x4020ae46u	/* _IOW(0xae, 0x46, 32 bytes) */
#define MS_BPF_SET_REGION2		0x40a0ae49u	/* _IOW(0xae, 0x49, 160 bytes) */

/* Address spaces the programs look at (KVM_MAX_NR_ADDRESS_SPACES <= 2). */
#define MS_BPF_MAX_AS			2

/**
 * struct ms_trace_event - one finished memslot ioctl (bpf/trace.bpf.c)
 * @time_ns: CLOCK_MONOTONIC (bpf_ktime_get_ns()) at syscall exit
 * @latency_ns: exit minus entry time
 * @vm: the VM's struct kvm address (file->private_data), a VM identity
 * @pid: thread group id
 * @tid: thread id
 * @comm: task name
 * @ioctl: MS_BPF_SET_REGION or MS_BPF_SET_REGION2
 * @fd: the VM file descriptor
 * @slot: the ioctl's slot field (id | as_id << 16, rule 10.2)
 * @flags: KVM_MEM_* flags as passed
 * @gpa: guest_phys_addr
 * @size: memory_size (0: delete)
 * @hva: userspace_addr
 * @ret: syscall return, 0 or -errno
 * @copy_err: non-zero if the argument could not be read at entry
 * @generation: kvm->memslots[as]->generation after the call (0 if the VM
 *	or the address space could not be read)
 * @nr_memslot_pages: kvm->nr_memslot_pages after the call
 */
struct ms_trace_event {
	__u64 time_ns;
	__u64 latency_ns;
	__u64 vm;
	__u32 pid;
	__u32 tid;
	char comm[16];
	__u32 ioctl;
	__s32 fd;
	__u32 slot;
	__u32 flags;
	__u64 gpa;
	__u64 size;
	__u64 hva;
	__s32 ret;
	__s32 copy_err;
	__u64 generation;
	__u64 nr_memslot_pages;
};

/* Record kinds of the census ring buffer (bpf/census.bpf.c). */
enum ms_census_kind {
	MS_CENSUS_VM = 1,	/* struct ms_census_vm, before its slots */
	MS_CENSUS_SLOT = 2,	/* struct ms_census_slot */
	MS_CENSUS_VM_END = 3,	/* struct ms_census_vm, after its slots */
};

/**
 * struct ms_census_vm - one VM file found by the census iterator
 * @kind: MS_CENSUS_VM or MS_CENSUS_VM_END
 * @pid: thread group id of the task holding the file
 * @fd: file descriptor
 * @vm: struct kvm address
 * @nr_memslot_pages: kvm->nr_memslot_pages
 * @generation: generation of each address space's active set; the END
 *	record repeats them, a difference means the walk raced an update
 * @nr_as: address spaces walked
 * @nr_slots: slots emitted (END only)
 * @truncated: the walk hit its step bound (END only)
 * @comm: task name
 */
struct ms_census_vm {
	__u32 kind;
	__u32 pid;
	__u32 fd;
	__u32 nr_as;
	__u64 vm;
	__u64 nr_memslot_pages;
	__u64 generation[MS_BPF_MAX_AS];
	__u32 nr_slots;
	__u32 truncated;
	char comm[16];
};

/**
 * struct ms_census_slot - one memslot of a VM's active set
 * @kind: MS_CENSUS_SLOT
 * @as_id: address space
 * @id: slot id
 * @flags: KVM_MEM_* flags
 * @pid: as in the VM record
 * @vm: as in the VM record
 * @gpa: base_gfn << 12
 * @size: npages << 12
 * @hva: userspace_addr
 */
struct ms_census_slot {
	__u32 kind;
	__u16 as_id;
	__u16 id;
	__u32 flags;
	__u32 pid;
	__u64 vm;
	__u64 gpa;
	__u64 size;
	__u64 hva;
};

#endif /* MEMSLOT_BPF_H */
