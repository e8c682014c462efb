// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot trace: KVM_SET_USER_MEMORY_REGION(2) ioctls seen at the syscall
 * boundary. kvm_set_memory_region() cannot be hooked on kernels without
 * kprobes or a function tracer, so the programs sit on sys_enter/sys_exit
 * (tp_btf, or raw_tp where BTF-enabled tracepoints are missing; the loader
 * picks one pair with bpf_program__set_autoload()).
 *
 * At entry the user argument is copied into a per-thread map together with
 * the VM (the struct kvm behind the fd, read through files->fdt); at exit
 * one struct ms_trace_event goes to the ring buffer with the return value
 * and the VM's generation afterwards (kvm-memslots.md 10).
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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/*
 * 8 MiB hold about 65000 events: the reader drains every 100 ms, and a
 * VMM issuing no-op ioctls in a loop makes about 300000 a second.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

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

static __always_inline int on_enter(struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct pending p = {};
	struct region_arg a;
	unsigned int cmd;

	if (id != MS_BPF_NR_IOCTL)
		return 0;
	cmd = (unsigned int)BPF_CORE_READ(regs, si);
	if (cmd != MS_BPF_SET_REGION && cmd != MS_BPF_SET_REGION2)
		return 0;
	if (targ_tgid && tgid != targ_tgid)
		return 0;

	p.start_ns = bpf_ktime_get_ns();
	p.ev.pid = tgid;
	p.ev.tid = tid;
	p.ev.ioctl = cmd;
	p.ev.fd = (int)BPF_CORE_READ(regs, di);
	bpf_get_current_comm(p.ev.comm, sizeof(p.ev.comm));
	p.ev.copy_err = bpf_probe_read_user(&a, sizeof(a), (void *)BPF_CORE_READ(regs, dx));
	if (!p.ev.copy_err) {
		p.ev.slot = a.slot;
		p.ev.flags = a.flags;
		p.ev.gpa = a.gpa;
		p.ev.size = a.size;
		p.ev.hva = a.hva;
	}
	p.ev.vm = vm_of_fd(p.ev.fd);
	if (targ_vm && p.ev.vm != targ_vm)
		return 0;
	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ms_trace_event *e;
	struct pending *p;
	struct kvm *kvm;

	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		ms_bpf_count_lost();
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
