// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot census: every KVM VM file of every process (iter/task_file) and
 * the memslots of its active set in each address space.
 *
 * A VM file is recognised by its anon inode name "kvm-vm": kvm_vm_fops is a
 * static symbol without BTF, so f_op cannot be compared through a typed
 * __ksym. The slots are walked through kvm_memslots.id_hash (128 hlist
 * buckets, chained through kvm_memory_slot.id_node[node_idx]). One bpf_loop
 * drives a two-state walk (next bucket, next chain node), so the number of
 * steps is bounded by 128 + slots whatever the chain lengths are; 32764
 * slots take 32892 steps.
 *
 * The walk runs without kvm->srcu, so an update racing it can be seen half
 * done: the VM records carry the generation before and after the walk, and
 * the loader retries when they differ. All reads go through
 * bpf_probe_read_kernel().
 *
 * The walk's cursor starts as a copy of an all-zero map value, never as
 * stack constants. Verifiers before Linux 6.7 ("bpf: verify callbacks as if
 * they are called unknown number of times") check a bpf_loop callback for a
 * single call from the caller's state: from a zeroed stack struct they know
 * node == NULL and bucket == 0, find the slot and end branches of
 * walk_step() dead and remove them, so that Debian's 6.1 reads bucket heads
 * only and the census comes back empty and truncated. Map contents are
 * unknown to every verifier, so all branches stay.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "memslot_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Thread group to look at, 0 for all (set before load). */
const volatile __u32 targ_tgid = 0;

#define ID_HASH_BUCKETS	128
/* Step bound of one address space: buckets plus KVM's id space (16 bits). */
#define MAX_STEPS	(ID_HASH_BUCKETS + 65536)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} records SEC(".maps");

struct walk {
	struct kvm_memslots *slots;
	struct hlist_node *node;
	__u64 vm;
	__u32 bucket;
	__u32 node_off;		/* offset of id_node[node_idx] in the slot */
	__u32 pid;
	__u32 nr;
	__u16 as;
	bool done;
};

/* All zero, never written: the start of every walk (see the top comment). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walk_start SEC(".maps");

static long walk_step(__u64 i, void *ctx)
{
	struct walk *w = ctx;
	/* locals: CO-RE relocations must not see struct walk in the chain */
	struct kvm_memslots *slots = w->slots;
	struct hlist_node *node = w->node, *next = NULL;
	__u32 bucket = w->bucket;
	struct kvm_memory_slot *s;
	struct ms_census_slot *r;

	if (!node) {
		if (bucket >= ID_HASH_BUCKETS) {
			w->done = true;
			return 1;
		}
		bpf_core_read(&node, sizeof(node),
			      &slots->id_hash[bucket & (ID_HASH_BUCKETS - 1)].first);
		w->node = node;
		w->bucket = bucket + 1;
		return 0;
	}
	s = (void *)node - w->node_off;
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (r) {
		r->kind = MS_CENSUS_SLOT;
		r->as_id = w->as;
		r->id = (__u16)BPF_CORE_READ(s, id);
		r->flags = BPF_CORE_READ(s, flags);
		r->pid = w->pid;
		r->vm = w->vm;
		r->gpa = BPF_CORE_READ(s, base_gfn) << 12;
		r->size = BPF_CORE_READ(s, npages) << 12;
		r->hva = BPF_CORE_READ(s, userspace_addr);
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	} else {
		ms_bpf_count_lost();
	}
	w->nr++;
	bpf_core_read(&next, sizeof(next), &node->next);
	w->node = next;
	return 0;
}

static __always_inline int emit_vm(struct ms_census_vm *v, __u32 kind)
{
	struct ms_census_vm *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);

	if (!r) {
		ms_bpf_count_lost();
		return -1;
	}
	__builtin_memcpy(r, v, sizeof(*r));
	r->kind = kind;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline void read_generations(struct kvm *kvm, struct ms_census_vm *v)
{
	for (__u32 as = 0; as < MS_BPF_MAX_AS; as++) {
		struct kvm_memslots *slots = NULL;

		if (as >= v->nr_as)
			break;
		bpf_core_read(&slots, sizeof(slots), &kvm->memslots[as]);
		v->generation[as] = slots ? BPF_CORE_READ(slots, generation) : 0;
	}
}

SEC("iter/task_file")
int census(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *f = ctx->file;
	struct ms_census_vm v = {};
	const struct walk *start;
	struct kvm *kvm;
	__u32 zero = 0;
	struct walk w;

	if (!task || !f)
		return 0;
	v.pid = task->tgid;
	if (targ_tgid && v.pid != targ_tgid)
		return 0;
	if (!ms_bpf_is_vm_file(f))
		return 0;
	kvm = BPF_CORE_READ(f, private_data);
	start = bpf_map_lookup_elem(&walk_start, &zero);
	if (!kvm || !start)
		return 0;

	v.fd = ctx->fd;
	v.vm = (__u64)kvm;
	v.nr_as = bpf_core_field_size(kvm->memslots) / sizeof(void *);
	if (v.nr_as > MS_BPF_MAX_AS)
		v.nr_as = MS_BPF_MAX_AS;
	v.nr_memslot_pages = BPF_CORE_READ(kvm, nr_memslot_pages);
	bpf_probe_read_kernel_str(v.comm, sizeof(v.comm), task->comm);
	read_generations(kvm, &v);
	if (emit_vm(&v, MS_CENSUS_VM))
		return 0;

	for (__u32 as = 0; as < MS_BPF_MAX_AS; as++) {
		int node_idx;

		if (as >= v.nr_as)
			break;
		struct kvm_memslots *slots = NULL;

		__builtin_memcpy(&w, start, sizeof(w));
		bpf_core_read(&slots, sizeof(slots), &kvm->memslots[as]);
		if (!slots)
			continue;
		w.slots = slots;
		node_idx = BPF_CORE_READ(slots, node_idx) & 1;
		w.node_off = bpf_core_field_offset(struct kvm_memory_slot, id_node) +
			     node_idx * bpf_core_type_size(struct hlist_node);
		w.vm = v.vm;
		w.pid = v.pid;
		w.as = as;
		bpf_loop(MAX_STEPS, walk_step, &w, 0);
		v.nr_slots += w.nr;
		if (!w.done)
			v.truncated = 1;
	}
	read_generations(kvm, &v);
	emit_vm(&v, MS_CENSUS_VM_END);
	return 0;
}
