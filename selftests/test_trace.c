// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpf/trace.bpf.c against the real kernel: the test loads the trace
 * skeleton itself (not through the CLI), filtered on its own process, has
 * a VM of the KVM binding (ms_kvm) perform a known sequence of memslot
 * ioctls and checks that the events equal that sequence exactly: ioctl
 * kind, VM identity, slot encoding, arguments, result (errno) and the
 * generation and page count of the VM after each call.
 *
 * Generation rule (virt/kvm/kvm_main.c, kvm_swap_active_memslots()): each
 * swap of the active memslot set adds the number of address spaces N to
 * the generation; a create and a flags change swap once, a move and a
 * delete twice (invalidate, then commit); a failed call or a no-op does
 * not swap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/kvm.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#include "memslot_bpf.h"
#include "trace.skel.h"

#define MAX_EV	64

struct expect {
	uint32_t slot;		/* id | as << 16 */
	uint32_t flags;
	uint64_t gpa, size, hva;
	int ret;
	unsigned int swaps;	/* generation += swaps * N */
	uint64_t pages;		/* nr_memslot_pages after the call */
};

struct events {
	struct ms_trace_event ev[MAX_EV];
	int nr;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct events *e = ctx;

	if (len >= sizeof(struct ms_trace_event) && e->nr < MAX_EV)
		memcpy(&e->ev[e->nr++], data, sizeof(struct ms_trace_event));
	return 0;
}

static bool btf_tracepoints(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok = btf && btf__find_by_name_kind(btf, "btf_trace_sys_enter", BTF_KIND_TYPEDEF) > 0;

	btf__free(btf);
	return ok;
}

FIXTURE(trace) {
	struct trace_bpf *skel;
	struct ring_buffer *rb;
	struct events got;
	struct ms_kvm *k;
	void *mem;
	size_t mem_size;
	unsigned int nr_as;
};

FIXTURE_VARIANT(trace) {
	bool v1;		/* KVM_SET_USER_MEMORY_REGION instead of ...2 */
};

FIXTURE_VARIANT_ADD(trace, region2) { .v1 = false };
FIXTURE_VARIANT_ADD(trace, region1) { .v1 = true };

FIXTURE_SETUP(trace)
{
	struct ms_kvm_opts o = { .sz = sizeof(o), .no_memory2 = variant->v1 };
	struct ms_error err = { 0 };
	bool tp;
	int r;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	self->k = ms_kvm__new(&o, &err);
	if (!self->k)
		SKIP(return, "no KVM VM: %s", err.msg);
	if (!variant->v1 && !ms_kvm__has_memory2(self->k))
		SKIP(return, "kernel lacks KVM_CAP_USER_MEMORY2");
	r = ioctl(ms_kvm__vm_fd(self->k), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	self->nr_as = r > 0 ? (unsigned int)r : 1;

	self->mem_size = 16 * MiB;
	self->mem = mmap(NULL, self->mem_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);

	self->skel = trace_bpf__open();
	ASSERT_NE(NULL, self->skel);
	self->skel->rodata->targ_tgid = (uint32_t)getpid();
	tp = btf_tracepoints();
	bpf_program__set_autoload(self->skel->progs.enter_btf, tp);
	bpf_program__set_autoload(self->skel->progs.exit_btf, tp);
	bpf_program__set_autoload(self->skel->progs.enter_raw, !tp);
	bpf_program__set_autoload(self->skel->progs.exit_raw, !tp);
	TH_LOG("attach path: %s", tp ? "tp_btf" : "raw_tp");
	ASSERT_EQ(0, trace_bpf__load(self->skel));
	ASSERT_EQ(0, trace_bpf__attach(self->skel));
	self->rb = ring_buffer__new(bpf_map__fd(self->skel->maps.events), on_event, &self->got,
				    NULL);
	ASSERT_NE(NULL, self->rb);
}

FIXTURE_TEARDOWN(trace)
{
	ring_buffer__free(self->rb);
	trace_bpf__destroy(self->skel);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->mem_size);
	ms_kvm__free(self->k);
}

static int do_op(struct ms_kvm *k, enum ms_slot_op_kind kind, uint16_t as, uint32_t id,
		 uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	struct ms_slot_op op = {
		.kind = kind,
		.slot = { .slot = id, .as_id = as, .gpa = gpa, .size = size, .flags = flags,
			  .hva = hva },
	};

	return ms_kvm__exec(k, &op);
}

/* Compare the events with @exp; the generation of the first one is the base. */
static void check_events(struct __test_metadata *_metadata, FIXTURE_DATA(trace) *self,
			 bool v1, const struct expect *exp, int nr)
{
	uint64_t gen[2] = { 0 }, lost = 0;
	bool seen[2] = { false };
	uint32_t zero = 0;

	ring_buffer__consume(self->rb);
	ASSERT_EQ(nr, self->got.nr);
	EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(self->skel->maps.lost), &zero, &lost));
	EXPECT_EQ(0, lost);
	for (int i = 0; i < nr; i++) {
		const struct ms_trace_event *e = &self->got.ev[i];

		TH_LOG("event %d: slot %#x gpa %#llx size %#llx ret %d gen %llu pages %llu", i,
		       e->slot, (unsigned long long)e->gpa, (unsigned long long)e->size, e->ret,
		       (unsigned long long)e->generation, (unsigned long long)e->nr_memslot_pages);
		EXPECT_EQ(v1 ? MS_BPF_SET_REGION : MS_BPF_SET_REGION2, e->ioctl);
		EXPECT_EQ((uint32_t)getpid(), e->pid);
		EXPECT_EQ((uint32_t)gettid(), e->tid);
		EXPECT_EQ(ms_kvm__vm_fd(self->k), e->fd);
		EXPECT_NE(0, e->vm);
		EXPECT_EQ(self->got.ev[0].vm, e->vm);
		EXPECT_EQ(0, e->copy_err);
		EXPECT_EQ(exp[i].slot, e->slot);
		EXPECT_EQ(exp[i].flags, e->flags);
		EXPECT_EQ(exp[i].gpa, e->gpa);
		EXPECT_EQ(exp[i].size, e->size);
		EXPECT_EQ(exp[i].hva, e->hva);
		EXPECT_EQ(exp[i].ret, e->ret);
		EXPECT_EQ(exp[i].pages, e->nr_memslot_pages);
		EXPECT_LE(e->latency_ns, 1000000000ull);
		/* each address space has its own memslot set and generation */
		unsigned int as = (e->slot >> 16) & 1;

		if (seen[as])
			EXPECT_EQ(gen[as] + exp[i].swaps * self->nr_as, e->generation);
		gen[as] = e->generation;
		seen[as] = true;
	}
}

TEST_F(trace, sequence)
{
	uint64_t hva = (uint64_t)(uintptr_t)self->mem, hva2 = hva + 2 * MiB;
	const uint32_t log = MS_KVM_MEM_LOG_DIRTY_PAGES;
	const struct expect exp[] = {
		/* create slot 0: 2 MiB at 0 */
		{ 0, 0, 0, 2 * MiB, hva, 0, 1, 512 },
		/* flags: dirty logging on */
		{ 0, log, 0, 2 * MiB, hva, 0, 1, 512 },
		/* identical parameters: no-op */
		{ 0, log, 0, 2 * MiB, hva, 0, 0, 512 },
		/* move to 4 GiB */
		{ 0, log, 0x100000000ull, 2 * MiB, hva, 0, 2, 512 },
		/* create slot 1 overlapping slot 0: EEXIST */
		{ 1, 0, 0x100100000ull, 2 * MiB, hva2, -EEXIST, 0, 512 },
		/* create slot 1 next to it */
		{ 1, 0, 0x100200000ull, 2 * MiB, hva2, 0, 1, 1024 },
		/* delete slot 0 */
		{ 0, 0, 0x100000000ull, 0, hva, 0, 2, 512 },
		/* delete it again: EINVAL */
		{ 0, 0, 0x100000000ull, 0, hva, -EINVAL, 0, 512 },
		/* unaligned size: EINVAL */
		{ 2, 0, 0x200000000ull, 0x1800, hva, -EINVAL, 0, 512 },
	};
	struct ms_kvm *k = self->k;

	EXPECT_EQ(0, do_op(k, MS_SLOT_OP_CREATE, 0, 0, 0, 2 * MiB, self->mem, 0));
	EXPECT_EQ(0, do_op(k, MS_SLOT_OP_UPDATE, 0, 0, 0, 2 * MiB, self->mem, log));
	EXPECT_EQ(0, do_op(k, MS_SLOT_OP_UPDATE, 0, 0, 0, 2 * MiB, self->mem, log));
	EXPECT_EQ(0, do_op(k, MS_SLOT_OP_CREATE, 0, 0, 0x100000000ull, 2 * MiB, self->mem, log));
	EXPECT_EQ(-EEXIST, do_op(k, MS_SLOT_OP_CREATE, 0, 1, 0x100100000ull, 2 * MiB,
				 (char *)self->mem + 2 * MiB, 0));
	EXPECT_EQ(0, do_op(k, MS_SLOT_OP_CREATE, 0, 1, 0x100200000ull, 2 * MiB,
			   (char *)self->mem + 2 * MiB, 0));
	EXPECT_EQ(0, do_op(k, MS_SLOT_OP_DELETE, 0, 0, 0x100000000ull, 2 * MiB, self->mem, 0));
	EXPECT_EQ(-EINVAL, do_op(k, MS_SLOT_OP_DELETE, 0, 0, 0x100000000ull, 2 * MiB,
				 self->mem, 0));
	EXPECT_EQ(-EINVAL, do_op(k, MS_SLOT_OP_CREATE, 0, 2, 0x200000000ull, 0x1800, self->mem, 0));
	check_events(_metadata, self, variant->v1, exp, (int)(sizeof(exp) / sizeof(exp[0])));
}

/* Address space 1 (x86 SMM) exists only where KVM_CAP_MULTI_ADDRESS_SPACE > 1. */
TEST_F(trace, address_space)
{
	uint64_t hva = (uint64_t)(uintptr_t)self->mem;
	const struct expect exp[] = {
		{ 1u << 16 | 3, 0, 0, 2 * MiB, hva, 0, 1, 512 },
		/* the same range in address space 0 does not overlap */
		{ 3, 0, 0, 2 * MiB, hva, 0, 1, 1024 },
		{ 1u << 16 | 3, 0, 0, 0, hva, 0, 2, 512 },
	};

	if (self->nr_as < 2)
		SKIP(return, "KVM_CAP_MULTI_ADDRESS_SPACE is %u: no address space 1 on this host",
		     self->nr_as);
	EXPECT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 1, 3, 0, 2 * MiB, self->mem, 0));
	EXPECT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 3, 0, 2 * MiB, self->mem, 0));
	EXPECT_EQ(0, do_op(self->k, MS_SLOT_OP_DELETE, 1, 3, 0, 2 * MiB, self->mem, 0));
	check_events(_metadata, self, variant->v1, exp, (int)(sizeof(exp) / sizeof(exp[0])));
}

/* The events of one op on each of two VMs, with the skeleton's VM filter. */
static int trace_two_vms(struct ms_kvm *a, struct ms_kvm *b, void *mem, uint64_t vm_filter,
			 struct events *got)
{
	struct trace_bpf *skel = trace_bpf__open();
	struct ring_buffer *rb = NULL;
	bool tp = btf_tracepoints();
	int ret = -1;

	if (!skel)
		return -1;
	skel->rodata->targ_tgid = (uint32_t)getpid();
	skel->rodata->targ_vm = vm_filter;
	bpf_program__set_autoload(skel->progs.enter_btf, tp);
	bpf_program__set_autoload(skel->progs.exit_btf, tp);
	bpf_program__set_autoload(skel->progs.enter_raw, !tp);
	bpf_program__set_autoload(skel->progs.exit_raw, !tp);
	if (trace_bpf__load(skel) || trace_bpf__attach(skel))
		goto out;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, got, NULL);
	if (!rb)
		goto out;
	memset(got, 0, sizeof(*got));
	/* create and delete one slot in each VM */
	for (int i = 0; i < 2; i++) {
		struct ms_kvm *k = i ? b : a;

		if (do_op(k, MS_SLOT_OP_CREATE, 0, 0, 0, 2 * MiB, mem, 0) ||
		    do_op(k, MS_SLOT_OP_DELETE, 0, 0, 0, 0, mem, 0))
			goto out;
	}
	ring_buffer__consume(rb);
	ret = 0;
out:
	ring_buffer__free(rb);
	trace_bpf__destroy(skel);
	return ret;
}

/* --vm: events of other VMs are dropped in the BPF program */
TEST(vm_filter)
{
	static struct events all, one;
	struct ms_kvm *a, *b;
	void *mem;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	a = ms_kvm__new(NULL, NULL);
	b = ms_kvm__new(NULL, NULL);
	if (!a || !b)
		SKIP(return, "no KVM VM");
	mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, trace_two_vms(a, b, mem, 0, &all));
	ASSERT_EQ(4, all.nr);
	EXPECT_NE(all.ev[0].vm, all.ev[2].vm);
	ASSERT_EQ(0, trace_two_vms(a, b, mem, all.ev[2].vm, &one));
	ASSERT_EQ(2, one.nr);
	EXPECT_EQ(all.ev[2].vm, one.ev[0].vm);
	EXPECT_EQ(all.ev[2].vm, one.ev[1].vm);
	EXPECT_EQ(ms_kvm__vm_fd(b), one.ev[0].fd);
	munmap(mem, 2 * MiB);
	ms_kvm__free(a);
	ms_kvm__free(b);
}

TEST_HARNESS_MAIN
