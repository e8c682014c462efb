/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot BPF: the one header shared by the BPF programs (bpf/NAME.bpf.c) and
 * their loaders (tool/trace.c, tool/census.c, selftests). Records cross the
 * ring buffers as these structs; every field has a fixed size so that the
 * BPF target and the host agree on the layout.
 */
#ifndef MEMSLOT_BPF_H
#define MEMSLOT_BPF_H

/*
 * Fixed-size field types: the kernel's __uN in BPF programs, <stdint.h> in
 * user space (so that printf's PRIu64 matches); same sizes either way.
 */
#ifdef __VMLINUX_H__
typedef __u16 msb_u16;
typedef __u32 msb_u32;
typedef __s32 msb_s32;
typedef __u64 msb_u64;
#else
#include <stdint.h>
typedef uint16_t msb_u16;
typedef uint32_t msb_u32;
typedef int32_t msb_s32;
typedef uint64_t msb_u64;
#endif

/* ioctl numbers (kvm-memslots.md 10.1); x86_64 syscall number of ioctl. */
#define MS_BPF_NR_IOCTL			16
#define MS_BPF_SET_REGION		0x4020ae46u	/* _IOW(0xae, 0x46, 32 bytes) */
#define MS_BPF_SET_REGION2		0x40a0ae49u	/* _IOW(0xae, 0x49, 160 bytes) */

/* Address spaces the programs look at (KVM_MAX_NR_ADDRESS_SPACES <= 2). */
#define MS_BPF_MAX_AS			2

/*
 * Where a trace event was seen (struct ms_trace_event.source), most precise
 * first: KVM's kvm_set_memslot() (the change KVM classified, the old slot),
 * its caller __kvm_set_memory_region() / kvm_set_memory_region() (every
 * request that reaches KVM, internal slots included), or the ioctl at the
 * syscall boundary (user requests only).
 */
enum ms_trace_source {
	MS_TRACE_SYSCALL = 0,
	MS_TRACE_REGION = 1,
	MS_TRACE_MEMSLOT = 2,
};

/* enum kvm_mr_change as KVM numbers it; MS_TRACE_CHANGE_UNSEEN otherwise. */
#define MS_TRACE_CHANGE_UNSEEN		(-1)

/*
 * x86's KVM_USER_MEM_SLOTS: ids from here up are KVM's own slots (APIC
 * access page, identity map, TSS), which no ioctl can name.
 */
#define MS_BPF_USER_MEM_SLOTS		32764

/**
 * struct ms_trace_event - one finished memslot update (bpf/trace.bpf.c)
 * @time_ns: CLOCK_MONOTONIC (bpf_ktime_get_ns()) at return
 * @latency_ns: return minus entry time, in the probed function or syscall
 * @vm: the VM's struct kvm address, a VM identity
 * @pid: thread group id
 * @tid: thread id
 * @comm: task name
 * @ioctl: MS_BPF_SET_REGION or MS_BPF_SET_REGION2 (syscall source), else 0
 * @fd: the VM file descriptor (syscall source), else -1
 * @slot: slot id | as_id << 16 (rule 10.2)
 * @flags: KVM_MEM_* flags of the new slot (of the old one for a delete)
 * @gpa: guest_phys_addr (of the old slot for a delete at MS_TRACE_MEMSLOT)
 * @size: memory_size (0: delete)
 * @hva: userspace_addr
 * @ret: return value, 0 or -errno
 * @copy_err: non-zero if the argument could not be read at entry
 * @generation: kvm->memslots[as]->generation after the call (0 if the VM
 *	or the address space could not be read)
 * @nr_memslot_pages: kvm->nr_memslot_pages after the call
 * @source: enum ms_trace_source
 * @change: enum kvm_mr_change at MS_TRACE_MEMSLOT, else MS_TRACE_CHANGE_UNSEEN
 * @has_old: @old_* hold the slot before the change (MS_TRACE_MEMSLOT,
 *	delete, move and flags changes)
 * @old_flags: its flags
 * @old_gpa: its guest-physical address
 * @old_size: its size
 * @old_hva: its userspace_addr
 * @vcpu_entries: guest entries of this VM's vCPUs so far (kvm_entry), 0
 *	unless the vCPU probes are loaded
 * @vcpu_exits: guest exits likewise (kvm_exit)
 */
struct ms_trace_event {
	msb_u64 time_ns;
	msb_u64 latency_ns;
	msb_u64 vm;
	msb_u32 pid;
	msb_u32 tid;
	char comm[16];
	msb_u32 ioctl;
	msb_s32 fd;
	msb_u32 slot;
	msb_u32 flags;
	msb_u64 gpa;
	msb_u64 size;
	msb_u64 hva;
	msb_s32 ret;
	msb_s32 copy_err;
	msb_u64 generation;
	msb_u64 nr_memslot_pages;
	msb_u32 source;
	msb_s32 change;
	msb_u32 has_old;
	msb_u32 old_flags;
	msb_u64 old_gpa;
	msb_u64 old_size;
	msb_u64 old_hva;
	msb_u64 vcpu_entries;
	msb_u64 vcpu_exits;
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
	msb_u32 kind;
	msb_u32 pid;
	msb_u32 fd;
	msb_u32 nr_as;
	msb_u64 vm;
	msb_u64 nr_memslot_pages;
	msb_u64 generation[MS_BPF_MAX_AS];
	msb_u32 nr_slots;
	msb_u32 truncated;
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
	msb_u32 kind;
	msb_u16 as_id;
	msb_u16 id;
	msb_u32 flags;
	msb_u32 pid;
	msb_u64 vm;
	msb_u64 gpa;
	msb_u64 size;
	msb_u64 hva;
};

#ifdef __bpf__
/*
 * BPF side only, after vmlinux.h, <bpf/bpf_helpers.h> and <bpf/bpf_core_read.h>.
 *
 * lost: the count of records that did not fit in a program's ring buffer
 * (census records, trace events), read by the loaders.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void ms_bpf_count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * A KVM VM file is known by its anon inode name "kvm-vm": kvm_vm_fops is a
 * static symbol without BTF, so f_op cannot be compared through a __ksym.
 */
static __always_inline bool ms_bpf_is_vm_file(struct file *f)
{
	const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	char buf[8] = {};

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) != 7 ||
	    buf[0] != 'k' || buf[1] != 'v' || buf[2] != 'm' || buf[3] != '-' ||
	    buf[4] != 'v' || buf[5] != 'm')
		return false;
	return true;
}
#endif /* __bpf__ */

#endif /* MEMSLOT_BPF_H */
