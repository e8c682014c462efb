// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot trace: memslot updates of KVM VMs, seen at one of three depths
 * (enum ms_trace_source); the loader (tool/trace_prog.c) loads one pair of
 * programs with bpf_program__set_autoload():
 *
 *  - fentry/fexit or kprobe/kretprobe on kvm_set_memslot(kvm, old, new,
 *    change): the change KVM classified and the slot before it;
 *  - the same on __kvm_set_memory_region() or kvm_set_memory_region()
 *    (kvm, mem) (the loader sets the target): every request that reaches
 *    KVM, user and internal slots;
 *  - tp_btf or raw_tp on sys_enter/sys_exit: KVM_SET_USER_MEMORY_REGION(2)
 *    ioctls, where the kernel has neither kprobes nor a function tracer.
 *    The VM is the struct kvm behind the fd, read through files->fdt.
 *
 * At entry the arguments go into a per-thread map; at return one struct
 * ms_trace_event goes to the ring buffer with the return value and the
 * VM's generation afterwards (kvm-memslots.md 10). Optional programs on
 * the kvm_entry/kvm_exit tracepoints count guest entries and exits per VM
 * for memslot trace --gaps.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "memslot_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Thread group to trace, 0 for all (set before load). */
const volatile __u32 targ_tgid = 0;
const volatile __u64 targ_vm = 0;	/* struct kvm address, 0: every VM */

struct pending {
	struct ms_trace_event ev;
	__u64 start_ns;
};

struct vcpu_count {
	__u64 entries;
	__u64 exits;
};

/* Guest entries and exits per VM (struct kvm address), with --gaps. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vcpu_count);
} vcpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/*
 * 8 MiB hold about 47000 events: the reader drains every 100 ms, and a
 * VMM issuing no-op ioctls in a loop makes about 300000 a second. The
 * loader may set another size before load (memslot trace --ring-size).
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/*
 * Events that did not fit in the ring buffer, per VM (struct kvm address)
 * and CPU: the reader sums the CPUs. A VM that finds the map full is
 * counted only in the shared total (lost, memslot_bpf.h), which counts
 * every loss.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} lost_vm SEC(".maps");

/* The v1 struct is the prefix of the v2 struct (rule 10.1). */
struct region_arg {
	__u32 slot;
	__u32 flags;
	__u64 gpa;
	__u64 size;
	__u64 hva;
};

/* struct kvm behind @fd if it is a KVM VM file ("kvm-vm" anon inode), else 0. */
static __always_inline __u64 vm_of_fd(int fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	if (!ms_bpf_is_vm_file(f))
		return 0;
	return (__u64)BPF_CORE_READ(f, private_data);
}

/* Start an event of the current thread; false if it is filtered out. */
static __always_inline bool begin(struct pending *p, __u64 vm, enum ms_trace_source src)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (targ_vm && vm != targ_vm)
		return false;
	p->start_ns = bpf_ktime_get_ns();
	p->ev.pid = tgid;
	p->ev.tid = (__u32)pid_tgid;
	p->ev.vm = vm;
	p->ev.fd = -1;
	p->ev.source = src;
	p->ev.change = MS_TRACE_CHANGE_UNSEEN;
	bpf_get_current_comm(p->ev.comm, sizeof(p->ev.comm));
	return true;
}

static __always_inline void set_region(struct pending *p, const struct region_arg *a)
{
	p->ev.slot = a->slot;
	p->ev.flags = a->flags;
	p->ev.gpa = a->gpa;
	p->ev.size = a->size;
	p->ev.hva = a->hva;
}

static __always_inline void save(struct pending *p)
{
	__u32 tid = p->ev.tid;

	bpf_map_update_elem(&pending, &tid, p, BPF_ANY);
}

static __always_inline int on_enter(struct pt_regs *regs, long id)
{
	struct pending p = {};
	struct region_arg a;
	unsigned int cmd;
	int fd;

	if (id != MS_BPF_NR_IOCTL)
		return 0;
	cmd = (unsigned int)BPF_CORE_READ(regs, si);
	if (cmd != MS_BPF_SET_REGION && cmd != MS_BPF_SET_REGION2)
		return 0;
	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	fd = (int)BPF_CORE_READ(regs, di);
	if (!begin(&p, vm_of_fd(fd), MS_TRACE_SYSCALL))
		return 0;
	p.ev.ioctl = cmd;
	p.ev.fd = fd;
	p.ev.copy_err = bpf_probe_read_user(&a, sizeof(a), (void *)BPF_CORE_READ(regs, dx));
	if (!p.ev.copy_err)
		set_region(&p, &a);
	save(&p);
	return 0;
}

/* (kvm, mem): __kvm_set_memory_region() and kvm_set_memory_region(). */
static __always_inline int region_enter(struct kvm *kvm, const void *mem)
{
	struct pending p = {};
	struct region_arg a;

	if (!begin(&p, (__u64)kvm, MS_TRACE_REGION))
		return 0;
	p.ev.copy_err = bpf_probe_read_kernel(&a, sizeof(a), mem);
	if (!p.ev.copy_err)
		set_region(&p, &a);
	save(&p);
	return 0;
}

/* kvm_set_memslot(kvm, old, new, change): old is NULL for a create, new for a delete. */
static __always_inline int memslot_enter(struct kvm *kvm, struct kvm_memory_slot *old,
					 struct kvm_memory_slot *new, int change)
{
	struct kvm_memory_slot *s = new ? new : old;
	struct pending p = {};
	__u32 as = 0;

	if (!s || !begin(&p, (__u64)kvm, MS_TRACE_MEMSLOT))
		return 0;
	if (bpf_core_field_exists(s->as_id))
		as = BPF_CORE_READ(s, as_id);
	p.ev.slot = (__u16)BPF_CORE_READ(s, id) | as << 16;
	p.ev.change = change;
	p.ev.gpa = BPF_CORE_READ(s, base_gfn) << 12;
	p.ev.size = new ? BPF_CORE_READ(new, npages) << 12 : 0;
	p.ev.flags = BPF_CORE_READ(s, flags);
	p.ev.hva = BPF_CORE_READ(s, userspace_addr);
	if (old) {
		p.ev.has_old = 1;
		p.ev.old_gpa = BPF_CORE_READ(old, base_gfn) << 12;
		p.ev.old_size = BPF_CORE_READ(old, npages) << 12;
		p.ev.old_flags = BPF_CORE_READ(old, flags);
		p.ev.old_hva = BPF_CORE_READ(old, userspace_addr);
	}
	save(&p);
	return 0;
}

static __always_inline void count_lost(__u64 vm)
{
	__u64 one = 1, *n;

	ms_bpf_count_lost();
	n = bpf_map_lookup_elem(&lost_vm, &vm);
	/*
	 * This CPU's copy: atomic only against a preempted program on the
	 * same CPU, never contended across CPUs.
	 */
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	/* a program on another CPU may have added the key meanwhile */
	if (bpf_map_update_elem(&lost_vm, &vm, &one, BPF_NOEXIST)) {
		n = bpf_map_lookup_elem(&lost_vm, &vm);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
}

static __always_inline int on_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ms_trace_event *e;
	struct vcpu_count *vc;
	struct pending *p;
	struct kvm *kvm;
	__u64 vm;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost(p->ev.vm);
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	__builtin_memcpy(e, &p->ev, sizeof(*e));
	e->time_ns = bpf_ktime_get_ns();
	e->latency_ns = e->time_ns - p->start_ns;
	e->ret = (int)ret;
	kvm = (void *)e->vm;
	if (kvm) {
		__u32 as = e->slot >> 16;
		__u32 nr_as = bpf_core_field_size(kvm->memslots) / sizeof(void *);
		struct kvm_memslots *slots = NULL;

		if (as < nr_as && as < MS_BPF_MAX_AS &&
		    !bpf_core_read(&slots, sizeof(slots), &kvm->memslots[as]) && slots)
			e->generation = BPF_CORE_READ(slots, generation);
		e->nr_memslot_pages = BPF_CORE_READ(kvm, nr_memslot_pages);
		/* a key on the stack: 6.1 takes no ring buffer memory as a key */
		vm = e->vm;
		vc = bpf_map_lookup_elem(&vcpus, &vm);
		if (vc) {
			e->vcpu_entries = vc->entries;
			e->vcpu_exits = vc->exits;
		}
	}
	bpf_map_delete_elem(&pending, &tid);
	/* The reader polls with a timeout: no wakeup per event. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(enter_btf, struct pt_regs *regs, long id)
{
	return on_enter(regs, id);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_btf, struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(enter_raw, struct pt_regs *regs, long id)
{
	return on_enter(regs, id);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(exit_raw, struct pt_regs *regs, long ret)
{
	return on_exit(ret);
}

SEC("fentry/kvm_set_memslot")
int BPF_PROG(memslot_fentry, struct kvm *kvm, struct kvm_memory_slot *old,
	     struct kvm_memory_slot *new, int change)
{
	return memslot_enter(kvm, old, new, change);
}

SEC("fexit/kvm_set_memslot")
int BPF_PROG(memslot_fexit, struct kvm *kvm, struct kvm_memory_slot *old,
	     struct kvm_memory_slot *new, int change, int ret)
{
	return on_exit(ret);
}

SEC("kprobe")
int BPF_KPROBE(memslot_kprobe, struct kvm *kvm, struct kvm_memory_slot *old,
	       struct kvm_memory_slot *new, int change)
{
	return memslot_enter(kvm, old, new, change);
}

/* The target is set by the loader: __kvm_set_memory_region or kvm_set_memory_region. */
SEC("fentry")
int BPF_PROG(region_fentry, struct kvm *kvm, const void *mem)
{
	return region_enter(kvm, mem);
}

SEC("fexit")
int BPF_PROG(region_fexit, struct kvm *kvm, const void *mem, int ret)
{
	return on_exit(ret);
}

SEC("kprobe")
int BPF_KPROBE(region_kprobe, struct kvm *kvm, const void *mem)
{
	return region_enter(kvm, mem);
}

SEC("kretprobe")
int BPF_KRETPROBE(func_kretprobe, long ret)
{
	return on_exit(ret);
}

static __always_inline int count_vcpu(struct kvm_vcpu *vcpu, bool entry)
{
	__u64 kvm = (__u64)BPF_CORE_READ(vcpu, kvm);
	struct vcpu_count zero = {}, *vc;

	if (targ_vm && kvm != targ_vm)
		return 0;
	vc = bpf_map_lookup_elem(&vcpus, &kvm);
	if (!vc) {
		bpf_map_update_elem(&vcpus, &kvm, &zero, BPF_NOEXIST);
		vc = bpf_map_lookup_elem(&vcpus, &kvm);
		if (!vc)
			return 0;
	}
	if (entry)
		__sync_fetch_and_add(&vc->entries, 1);
	else
		__sync_fetch_and_add(&vc->exits, 1);
	return 0;
}

/* Both tracepoints pass the vCPU first (6.1: kvm_entry(vcpu), 6.12: (vcpu, bool)). */
SEC("raw_tp/kvm_entry")
int BPF_PROG(vcpu_entry, struct kvm_vcpu *vcpu)
{
	return count_vcpu(vcpu, true);
}

SEC("raw_tp/kvm_exit")
int BPF_PROG(vcpu_exit, struct kvm_vcpu *vcpu)
{
	return count_vcpu(vcpu, false);
}
