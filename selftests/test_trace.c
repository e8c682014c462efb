// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpf/trace.bpf.c against the real kernel, through its one loader
 * (tool/trace_prog.c) with each attach point forced in turn: filtered on
 * its own process, a VM of the KVM binding (ms_kvm) performs a known
 * sequence of memslot ioctls and the events must equal that sequence
 * exactly as each point sees it: at the syscall and at the memory-region
 * functions every request (no-ops and failures included), at
 * kvm_set_memslot() only the changes KVM made, with KVM's own change type
 * and the slot before the change; VM identity, slot encoding, arguments,
 * result (errno), the generation and page count of the VM after each call.
 *
 * Generation rule (virt/kvm/kvm_main.c, kvm_swap_active_memslots()): each
 * swap of the active memslot set adds the number of address spaces N to
 * the generation; a create and a flags change swap once, a move and a
 * delete twice (invalidate, then commit); a failed call or a no-op does
 * not swap.
 *
 * The CLI is checked against a vCPU that runs while memslots change:
 * memslot trace --gaps reports the range a delete + create left unmapped
 * (and that a vCPU entered the guest meanwhile), none for a move or a
 * flags change; --latency counts every change per type.
 *
 * Under load (MEMSLOT_LOAD_CHANGES changes on four VMs at once, through a
 * ring buffer of one page) every change is read or counted lost, per VM,
 * and the generations of the events read show no gap the lost count does
 * not explain; memslot trace --summary --ring-size counts the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <linux/kvm.h>

#include "cli.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#include "memslot_bpf.h"
#include "trace_prog.h"

#define MAX_EV	64

struct expect {
	uint32_t slot;		/* id | as << 16 */
	uint32_t flags;
	uint64_t gpa, size, hva;
	int ret;
	unsigned int swaps;	/* generation += swaps * N */
	uint64_t pages;		/* nr_memslot_pages after the call */
	int change;		/* KVM_MR_*, or NONE: does not reach kvm_set_memslot() */
	uint32_t old_flags;	/* of the slot before a delete, move or flags change */
	uint64_t old_gpa;
};

enum { CREATE, DELETE, MOVE, FLAGS, NONE };

struct events {
	struct ms_trace_event ev[MAX_EV];
	int nr;
};

static int on_event(const struct ms_trace_event *ev, void *opaque)
{
	struct events *e = opaque;

	if (e->nr < MAX_EV)
		memcpy(&e->ev[e->nr++], ev, sizeof(*ev));
	return 0;
}

/* The tracer at @attach for this process; SKIP-worthy text in @why if it cannot be. */
static struct trace_prog *tracer_open(const char *attach, uint64_t vm, struct events *got,
				      char *why, size_t len)
{
	int err;

	return trace_prog_open(&(struct trace_prog_opts){ .tgid = (uint32_t)getpid(),
							 .vm = vm, .attach = attach,
							 .fn = on_event, .opaque = got },
			       &err, why, len);
}

FIXTURE(trace) {
	struct trace_prog *tp;
	struct events got;
	struct ms_kvm *k;
	void *mem;
	size_t mem_size;
	unsigned int nr_as;
};

FIXTURE_VARIANT(trace) {
	bool v1;		/* KVM_SET_USER_MEMORY_REGION instead of ...2 */
	bool any;		/* ...2 where the kernel has it, else the first */
	const char *attach;
	int source;		/* enum ms_trace_source expected */
};

FIXTURE_VARIANT_ADD(trace, region2) { .attach = "syscall", .source = MS_TRACE_SYSCALL };
FIXTURE_VARIANT_ADD(trace, region1) { .v1 = true, .attach = "syscall",
				      .source = MS_TRACE_SYSCALL };
FIXTURE_VARIANT_ADD(trace, fentry_memslot) {
	.any = true, .attach = "fentry/kvm_set_memslot", .source = MS_TRACE_MEMSLOT,
};
FIXTURE_VARIANT_ADD(trace, fentry_region) {
	.any = true, .attach = "fentry/__kvm_set_memory_region", .source = MS_TRACE_REGION,
};
FIXTURE_VARIANT_ADD(trace, kprobe_memslot) {
	.any = true, .attach = "kprobe/kvm_set_memslot", .source = MS_TRACE_MEMSLOT,
};
FIXTURE_VARIANT_ADD(trace, kprobe_region) {
	.v1 = true, .attach = "kprobe/__kvm_set_memory_region", .source = MS_TRACE_REGION,
};

FIXTURE_SETUP(trace)
{
	struct ms_kvm_opts o = { .sz = sizeof(o), .no_memory2 = variant->v1 };
	struct ms_error err = { 0 };
	char why[512];
	int r;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	self->k = ms_kvm__new(&o, &err);
	if (!self->k)
		SKIP(return, "no KVM VM: %s", err.msg);
	if (!variant->v1 && !variant->any && !ms_kvm__has_memory2(self->k))
		SKIP(return, "kernel lacks KVM_CAP_USER_MEMORY2");
	r = ioctl(ms_kvm__vm_fd(self->k), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	self->nr_as = r > 0 ? (unsigned int)r : 1;

	self->mem_size = 16 * MiB;
	self->mem = mmap(NULL, self->mem_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);

	self->tp = tracer_open(variant->attach, 0, &self->got, why, sizeof(why));
	if (!self->tp)
		SKIP(return, "%s: %s", variant->attach, why);
	TH_LOG("attach: %s", trace_prog_attach(self->tp));
	ASSERT_EQ(variant->source, trace_prog_source(self->tp));
}

FIXTURE_TEARDOWN(trace)
{
	trace_prog_close(self->tp);
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

/*
 * Compare the events with the expected ones this attach point sees; the
 * generation of the first one is the base.
 */
static void check_events(struct __test_metadata *_metadata, FIXTURE_DATA(trace) *self,
			 const FIXTURE_VARIANT(trace) *variant, const struct expect *all,
			 int nr_all)
{
	bool memslot = variant->source == MS_TRACE_MEMSLOT;
	uint64_t gen[2] = { 0 };
	struct expect exp[MAX_EV];
	bool seen[2] = { false };
	int nr = 0;

	for (int i = 0; i < nr_all; i++)
		if (!memslot || all[i].change != NONE)
			exp[nr++] = all[i];
	ASSERT_EQ(0, trace_prog_drain(self->tp));
	ASSERT_EQ(nr, self->got.nr);
	EXPECT_EQ(0, trace_prog_lost(self->tp));
	for (int i = 0; i < nr; i++) {
		const struct ms_trace_event *e = &self->got.ev[i];
		bool del = !exp[i].size;

		TH_LOG("event %d: slot %#x gpa %#llx size %#llx ret %d gen %llu pages %llu "
		       "change %d", i, e->slot, (unsigned long long)e->gpa,
		       (unsigned long long)e->size, e->ret, (unsigned long long)e->generation,
		       (unsigned long long)e->nr_memslot_pages, e->change);
		EXPECT_EQ((uint32_t)variant->source, e->source);
		if (variant->source == MS_TRACE_SYSCALL) {
			EXPECT_EQ(variant->v1 ? MS_BPF_SET_REGION : MS_BPF_SET_REGION2, e->ioctl);
			EXPECT_EQ(ms_kvm__vm_fd(self->k), e->fd);
		} else {
			EXPECT_EQ(0, e->ioctl);
			EXPECT_EQ(-1, e->fd);
		}
		EXPECT_EQ((uint32_t)getpid(), e->pid);
		EXPECT_EQ((uint32_t)gettid(), e->tid);
		EXPECT_NE(0, e->vm);
		EXPECT_EQ(self->got.ev[0].vm, e->vm);
		EXPECT_EQ(0, e->copy_err);
		EXPECT_EQ(exp[i].slot, e->slot);
		/* KVM's delete carries the slot it removes */
		EXPECT_EQ(memslot && del ? exp[i].old_flags : exp[i].flags, e->flags);
		EXPECT_EQ(exp[i].gpa, e->gpa);
		EXPECT_EQ(exp[i].size, e->size);
		EXPECT_EQ(exp[i].hva, e->hva);
		EXPECT_EQ(exp[i].ret, e->ret);
		EXPECT_EQ(exp[i].pages, e->nr_memslot_pages);
		EXPECT_LT(0, e->latency_ns);
		EXPECT_LE(e->latency_ns, 1000000000ull);
		if (memslot) {
			EXPECT_EQ(exp[i].change, e->change);
			EXPECT_EQ(exp[i].change != CREATE, e->has_old);
			if (e->has_old) {
				EXPECT_EQ(exp[i].old_gpa, e->old_gpa);
				EXPECT_EQ(exp[i].old_flags, e->old_flags);
				EXPECT_EQ(2 * MiB, e->old_size);
				EXPECT_EQ(exp[i].hva, e->old_hva);
			}
		} else {
			EXPECT_EQ(MS_TRACE_CHANGE_UNSEEN, e->change);
			EXPECT_EQ(0, e->has_old);
		}
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
		{ 0, 0, 0, 2 * MiB, hva, 0, 1, 512, CREATE, 0, 0 },
		/* flags: dirty logging on */
		{ 0, log, 0, 2 * MiB, hva, 0, 1, 512, FLAGS, 0, 0 },
		/* identical parameters: no-op */
		{ 0, log, 0, 2 * MiB, hva, 0, 0, 512, NONE, 0, 0 },
		/* move to 4 GiB */
		{ 0, log, 0x100000000ull, 2 * MiB, hva, 0, 2, 512, MOVE, log, 0 },
		/* create slot 1 overlapping slot 0: EEXIST */
		{ 1, 0, 0x100100000ull, 2 * MiB, hva2, -EEXIST, 0, 512, NONE, 0, 0 },
		/* create slot 1 next to it */
		{ 1, 0, 0x100200000ull, 2 * MiB, hva2, 0, 1, 1024, CREATE, 0, 0 },
		/* delete slot 0 */
		{ 0, 0, 0x100000000ull, 0, hva, 0, 2, 512, DELETE, log, 0x100000000ull },
		/* delete it again: EINVAL */
		{ 0, 0, 0x100000000ull, 0, hva, -EINVAL, 0, 512, NONE, 0, 0 },
		/* unaligned size: EINVAL */
		{ 2, 0, 0x200000000ull, 0x1800, hva, -EINVAL, 0, 512, NONE, 0, 0 },
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
	check_events(_metadata, self, variant, exp, (int)(sizeof(exp) / sizeof(exp[0])));
}

/* Address space 1 (x86 SMM) exists only where KVM_CAP_MULTI_ADDRESS_SPACE > 1. */
TEST_F(trace, address_space)
{
	uint64_t hva = (uint64_t)(uintptr_t)self->mem;
	const struct expect exp[] = {
		{ 1u << 16 | 3, 0, 0, 2 * MiB, hva, 0, 1, 512, CREATE, 0, 0 },
		/* the same range in address space 0 does not overlap */
		{ 3, 0, 0, 2 * MiB, hva, 0, 1, 1024, CREATE, 0, 0 },
		{ 1u << 16 | 3, 0, 0, 0, hva, 0, 2, 512, DELETE, 0, 0 },
	};

	if (self->nr_as < 2)
		SKIP(return, "KVM_CAP_MULTI_ADDRESS_SPACE is %u: no address space 1 on this host",
		     self->nr_as);
	EXPECT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 1, 3, 0, 2 * MiB, self->mem, 0));
	EXPECT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 3, 0, 2 * MiB, self->mem, 0));
	EXPECT_EQ(0, do_op(self->k, MS_SLOT_OP_DELETE, 1, 3, 0, 2 * MiB, self->mem, 0));
	check_events(_metadata, self, variant, exp, (int)(sizeof(exp) / sizeof(exp[0])));
}

/* The events of one op on each of two VMs, with the tracer's VM filter. */
static int trace_two_vms(struct ms_kvm *a, struct ms_kvm *b, void *mem, uint64_t vm_filter,
			 struct events *got)
{
	struct trace_prog *tp;
	char why[512];
	int ret = -1;

	memset(got, 0, sizeof(*got));
	tp = tracer_open(NULL, vm_filter, got, why, sizeof(why));
	if (!tp)
		return -1;
	/* create and delete one slot in each VM */
	for (int i = 0; i < 2; i++) {
		struct ms_kvm *k = i ? b : a;

		if (do_op(k, MS_SLOT_OP_CREATE, 0, 0, 0, 2 * MiB, mem, 0) ||
		    do_op(k, MS_SLOT_OP_DELETE, 0, 0, 0, 0, mem, 0))
			goto out;
	}
	ret = trace_prog_drain(tp);
out:
	trace_prog_close(tp);
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
	munmap(mem, 2 * MiB);
	ms_kvm__free(a);
	ms_kvm__free(b);
}

/* --- the CLI beside a running vCPU ------------------------------------- */

/* memslot trace ARGS... in the background, stdout into a file, until SIGINT. */
struct bg_trace {
	pid_t pid;
	FILE *out;
	FILE *err;		/* read to the end at stop: the summary goes there */
};

static int bg_trace_start(struct bg_trace *b, const char *const *args)
{
	const char *argv[16] = { cli_tool_path() };
	char line[1024];
	int errp[2];
	size_t n = 1;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	b->out = tmpfile();
	if (!b->out || pipe(errp))
		return -errno;
	b->pid = fork();
	if (b->pid < 0)
		return -errno;
	if (!b->pid) {
		dup2(fileno(b->out), 1);
		dup2(errp[1], 2);
		close(errp[0]);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(errp[1]);
	b->err = fdopen(errp[0], "r");
	/* events count from the line that names the attach point */
	while (b->err && fgets(line, sizeof(line), b->err)) {
		fputs(line, stderr);
		if (strstr(line, "attach: "))
			return 0;
	}
	return -EIO;
}

/* Stop it; return its stdout (malloc()ed) or NULL. */
static char *bg_trace_stop(struct bg_trace *b, int *status)
{
	long len;
	char *text;

	char line[1024];

	kill(b->pid, SIGINT);
	while (fgets(line, sizeof(line), b->err))
		fputs(line, stderr);
	fclose(b->err);
	if (waitpid(b->pid, status, 0) < 0)
		return NULL;
	fflush(b->out);
	len = ftell(b->out);
	text = len >= 0 ? calloc(1, (size_t)len + 1) : NULL;
	rewind(b->out);
	if (text && fread(text, 1, (size_t)len, b->out) != (size_t)len) {
		free(text);
		text = NULL;
	}
	fclose(b->out);
	return text;
}

#define RESET_BASE	0xffff0000ull	/* the 64 KiB below 4 GiB hold the reset vector */

struct vcpu_loop {
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	volatile bool stop;
	void *rom;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_loop *v = arg;

	while (!v->stop) {
		if (ioctl(v->fd, KVM_RUN, 0) && errno != EINTR)
			break;

	}
	return NULL;
}

/* A vCPU spinning on "jmp ." at the reset vector, in slot 10 of @k. */
static int vcpu_start(struct ms_kvm *k, struct vcpu_loop *v)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	int sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int size;

	memset(v, 0, sizeof(*v));
	if (sys < 0)
		return -errno;
	size = ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	close(sys);
	v->rom = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (size <= 0 || v->rom == MAP_FAILED)
		return -ENOMEM;
	memset(v->rom, 0xf4, 64 * KiB);
	memcpy((char *)v->rom + 0xfff0, "\xeb\xfe", 2);		/* jmp . */
	if (do_op(k, MS_SLOT_OP_CREATE, 0, 10, RESET_BASE, 64 * KiB, v->rom, 0))
		return -EIO;
	v->fd = ioctl(ms_kvm__vm_fd(k), KVM_CREATE_VCPU, 0);
	if (v->fd < 0)
		return -errno;
	v->run_size = (size_t)size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		return -errno;
	sigaction(SIGUSR1, &sa, NULL);
	return -pthread_create(&v->thread, NULL, vcpu_thread, v);
}

static void vcpu_stop(struct vcpu_loop *v)
{
	v->stop = true;
	while (pthread_kill(v->thread, SIGUSR1) == 0 && pthread_tryjoin_np(v->thread, NULL))
		usleep(1000);
	munmap(v->run, v->run_size);
	close(v->fd);
	munmap(v->rom, 64 * KiB);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The JSON objects of @text, one per line, into @objs; return the count. */
static int json_lines(char *text, struct json_object **objs, int max)
{
	int n = 0;

	for (char *l = strtok(text, "\n"); l && n < max; l = strtok(NULL, "\n"))
		objs[n++] = json_tokener_parse(l);
	return n;
}

FIXTURE(cli_vcpu) {
	struct ms_kvm *k;
	struct vcpu_loop v;
	void *mem;
	char pid[16];
};

FIXTURE_VARIANT(cli_vcpu) {
	const char *attach;	/* NULL: the most precise point */
};

FIXTURE_VARIANT_ADD(cli_vcpu, best) { .attach = NULL };
/* the delete's range then comes from the tracer's own table */
FIXTURE_VARIANT_ADD(cli_vcpu, syscall) { .attach = "--attach=syscall" };

FIXTURE_SETUP(cli_vcpu)
{
	struct ms_error err = { 0 };

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	self->k = ms_kvm__new(NULL, &err);
	if (!self->k)
		SKIP(return, "no KVM VM: %s", err.msg);
	self->mem = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	ASSERT_EQ(0, vcpu_start(self->k, &self->v));
	snprintf(self->pid, sizeof(self->pid), "%d", getpid());
}

FIXTURE_TEARDOWN(cli_vcpu)
{
	if (self->v.thread)
		vcpu_stop(&self->v);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, 4 * MiB);
	ms_kvm__free(self->k);
}

/*
 * A delete and a create of the same range while the vCPU runs leave a
 * gap the vCPU may fault in; a move and a flags change are one ioctl each
 * and leave none.
 */
TEST_F_TIMEOUT(cli_vcpu, gaps, 120)
{
	const char *const args[] = { "-j", "trace", "--gaps", "-p", self->pid, variant->attach,
				     NULL };
	struct json_object *objs[8] = { NULL };
	struct bg_trace b;
	char *out;
	int status, n;

	ASSERT_EQ(0, bg_trace_start(&b, args));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 1, 1 * MiB, 2 * MiB, self->mem, 0));
	sleep_ms(20);
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_DELETE, 0, 1, 1 * MiB, 2 * MiB, self->mem, 0));
	sleep_ms(100);
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 1, 1 * MiB, 2 * MiB, self->mem, 0));
	sleep_ms(20);
	/* atomic: one ioctl each */
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 1, 8 * MiB, 2 * MiB, self->mem, 0));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_UPDATE, 0, 1, 8 * MiB, 2 * MiB, self->mem,
			   MS_KVM_MEM_LOG_DIRTY_PAGES));
	sleep_ms(200);
	out = bg_trace_stop(&b, &status);
	ASSERT_NE(NULL, out);
	TH_LOG("trace --gaps: %s", out);
	EXPECT_EQ(0, status);
	n = json_lines(out, objs, 8);
	/* the gap, then the summary */
	ASSERT_EQ(2, n);
	EXPECT_EQ(1, jget_u64(jget(objs[1], "summary"), "gaps"));
	EXPECT_EQ(0, jget_u64(jget(objs[1], "summary"), "lost"));
	EXPECT_EQ(1 * MiB, jget_u64(objs[0], "gpa"));
	EXPECT_EQ(2 * MiB, jget_u64(objs[0], "size"));
	EXPECT_EQ(0, jget_u64(objs[0], "as"));
	EXPECT_LE(90 * 1000000ull, jget_u64(objs[0], "duration_ns"));
	EXPECT_LT(0, jget_u64(objs[0], "vcpu_entries"));
	EXPECT_TRUE(jget_bool(objs[0], "vcpu_entered"));
	for (int i = 0; i < n; i++)
		json_object_put(objs[i]);
	free(out);
}

/* --latency: every change counted under its type, percentiles in order */
TEST_F_TIMEOUT(cli_vcpu, latency, 120)
{
	const char *const args[] = { "-j", "trace", "--latency", "--summary", "-p", self->pid,
				     variant->attach, NULL };
	static const char *const types[] = { "create", "flags_only", "move", "delete" };
	const uint64_t counts[] = { 2, 1, 1, 2 };
	struct json_object *objs[4] = { NULL }, *lat, *t, *sum;
	struct bg_trace b;
	char *out;
	int status;

	ASSERT_EQ(0, bg_trace_start(&b, args));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 1, 1 * MiB, 2 * MiB, self->mem, 0));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_UPDATE, 0, 1, 1 * MiB, 2 * MiB, self->mem,
			   MS_KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 1, 8 * MiB, 2 * MiB, self->mem,
			   MS_KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_CREATE, 0, 2, 1 * MiB, 2 * MiB,
			   (char *)self->mem + 2 * MiB, 0));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_DELETE, 0, 1, 8 * MiB, 2 * MiB, self->mem, 0));
	ASSERT_EQ(0, do_op(self->k, MS_SLOT_OP_DELETE, 0, 2, 1 * MiB, 2 * MiB, self->mem, 0));
	sleep_ms(200);
	out = bg_trace_stop(&b, &status);
	ASSERT_NE(NULL, out);
	TH_LOG("trace --latency: %s", out);
	EXPECT_EQ(0, status);
	/* the histograms, then the summary */
	ASSERT_EQ(2, json_lines(out, objs, 4));
	sum = jget(objs[1], "summary");
	EXPECT_EQ(6, jget_u64(sum, "events"));
	EXPECT_EQ(0, jget_u64(sum, "lost"));
	lat = jget(objs[0], "latency");
	ASSERT_NE(NULL, lat);
	for (int i = 0; i < 4; i++) {
		struct json_object *h;
		uint64_t sum = 0;

		t = jget(lat, types[i]);
		ASSERT_NE(NULL, t);
		EXPECT_EQ(counts[i], jget_u64(t, "count"));
		EXPECT_LE(jget_u64(t, "p50_ns"), jget_u64(t, "p99_ns"));
		EXPECT_LE(jget_u64(t, "p99_ns"), jget_u64(t, "sum_ns"));
		h = jget(t, "histogram");
		for (size_t r = 0; r < jget_len(h); r++)
			sum += jget_u64(jget_idx(h, r), "count");
		EXPECT_EQ(counts[i], sum);
	}
	json_object_put(objs[0]);
	json_object_put(objs[1]);
	free(out);
}

static bool param_yes(const char *path)
{
	FILE *f = fopen(path, "re");
	int c = f ? fgetc(f) : EOF;

	if (f)
		fclose(f);
	return c == 'Y' || c == '1';
}

/*
 * KVM's own slots (ids from KVM_USER_MEM_SLOTS up): the memory-region
 * functions see them, the syscall never does. x86 makes the APIC-access
 * page slot when a vCPU with an in-kernel local APIC is created and the
 * CPU virtualizes APIC accesses (VMX flexpriority, SVM AVIC); a CPU that
 * does neither makes none, and the test says which case it checked.
 */
TEST(internal_slots)
{
	bool vmx = !access("/sys/module/kvm_intel", F_OK);
	bool expect = vmx ? param_yes("/sys/module/kvm_intel/parameters/flexpriority") :
			    param_yes("/sys/module/kvm_amd/parameters/avic");
	static struct events got;
	struct trace_prog *tp;
	struct ms_kvm *k;
	char why[512];
	int internal = 0, vcpu;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	tp = tracer_open("fentry/__kvm_set_memory_region", 0, &got, why, sizeof(why));
	if (!tp)
		tp = tracer_open("kprobe/__kvm_set_memory_region", 0, &got, why, sizeof(why));
	if (!tp)
		SKIP(return, "no probe on __kvm_set_memory_region: %s", why);
	k = ms_kvm__new(NULL, NULL);
	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, ioctl(ms_kvm__vm_fd(k), KVM_CREATE_IRQCHIP, 0));
	vcpu = ioctl(ms_kvm__vm_fd(k), KVM_CREATE_VCPU, 0);
	ASSERT_LE(0, vcpu);
	ASSERT_EQ(0, trace_prog_drain(tp));
	for (int i = 0; i < got.nr; i++) {
		const struct ms_trace_event *e = &got.ev[i];

		TH_LOG("event: slot %#x gpa %#llx size %#llx", e->slot,
		       (unsigned long long)e->gpa, (unsigned long long)e->size);
		EXPECT_LE(MS_BPF_USER_MEM_SLOTS, e->slot & 0xffff);
		internal++;
	}
	TH_LOG("%s with %s: %d internal slot events", vmx ? "VMX" : "SVM",
	       vmx ? (expect ? "flexpriority" : "no flexpriority") : (expect ? "AVIC" : "no AVIC"),
	       internal);
	EXPECT_EQ(expect, internal > 0);
	close(vcpu);
	ms_kvm__free(k);
	trace_prog_close(tp);
}

/* --- under load --------------------------------------------------------- */

/*
 * LOAD_VMS threads, one VM each, create and delete one 4 KiB slot in turn
 * with raw KVM_SET_USER_MEMORY_REGION ioctls while the tracer reads a ring
 * buffer of one page (about 23 events), so that most events do not fit.
 * Every change must be read or counted lost for its VM, and the
 * generation of each event read must give its place in its VM's
 * sequence: the changes between two events read (a gap) are exactly the
 * lost ones. MEMSLOT_LOAD_CHANGES sets the changes per attach point
 * (all VMs together, default LOAD_CHANGES).
 */
#define LOAD_VMS	4
#define LOAD_CHANGES	100000

struct load_vm {
	int fd;
	void *mem;
	uint64_t n;		/* changes to make */
	uint64_t done;
	int err;
	pthread_t thread;
	const volatile bool *go;
};

struct load_seen {
	uint64_t vm;		/* struct kvm address */
	uint64_t read;		/* events read */
	int64_t last;		/* index of the last change read, -1 */
	uint64_t missing;	/* changes between (and before) the changes read */
	uint64_t lost;		/* the program's count for the VM */
	uint64_t bad;		/* events of no place in the sequence */
};

struct load_check {
	struct load_seen vm[LOAD_VMS];
	unsigned int nr_vms;
	unsigned int nr_as;	/* generation step of one swap */
	uint32_t pid;
	uint64_t foreign;	/* events or lost counts of a fifth VM */
	uint64_t first_bad_gen;
};

static uint64_t load_changes(void)
{
	const char *s = getenv("MEMSLOT_LOAD_CHANGES");
	uint64_t n = s && *s ? strtoull(s, NULL, 0) : LOAD_CHANGES;

	/* an even count per VM: each VM ends with its slot deleted */
	n -= n % (2 * LOAD_VMS);
	return n ? n : 2 * LOAD_VMS;
}

static void *load_thread(void *arg)
{
	struct load_vm *l = arg;
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .userspace_addr = (uintptr_t)l->mem,
	};

	while (!__atomic_load_n(l->go, __ATOMIC_ACQUIRE))
		sched_yield();
	for (uint64_t i = 0; i < l->n; i++) {
		/* even: create, odd: delete */
		r.memory_size = i & 1 ? 0 : PAGE;
		if (ioctl(l->fd, KVM_SET_USER_MEMORY_REGION, &r)) {
			__atomic_store_n(&l->err, -errno, __ATOMIC_RELEASE);
			break;
		}
		__atomic_store_n(&l->done, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static struct load_seen *load_vm_of(struct load_check *c, uint64_t vm)
{
	for (unsigned int i = 0; i < c->nr_vms; i++)
		if (c->vm[i].vm == vm)
			return &c->vm[i];
	if (c->nr_vms == LOAD_VMS)
		return NULL;
	c->vm[c->nr_vms] = (struct load_seen){ .vm = vm, .last = -1 };
	return &c->vm[c->nr_vms++];
}

/*
 * The place of a change in its VM's sequence from the generation after it
 * (rule in the header comment): a fresh VM starts at 0 in address space
 * 0 (kvm_create_vm() starts each address space at its id), a create adds
 * one step of nr_as, a delete two, so after change i (0-based)
 * steps = 3 * (i + 1) / 2 for a delete (i odd), 3 * i / 2 + 1 for a
 * create (i even). -1 for a generation no change gives.
 */
static int64_t load_index(uint64_t gen, unsigned int nr_as, bool create)
{
	uint64_t steps = gen / nr_as;

	if (gen % nr_as || !steps)
		return -1;
	if (create)
		return steps % 3 == 1 ? (int64_t)(steps / 3 * 2) : -1;
	return steps % 3 == 0 ? (int64_t)(steps / 3 * 2 - 1) : -1;
}

static int load_event(const struct ms_trace_event *e, void *opaque)
{
	struct load_check *c = opaque;
	struct load_seen *v = load_vm_of(c, e->vm);
	bool create = e->size != 0;
	int64_t i;

	if (!v) {
		c->foreign++;
		return 0;
	}
	v->read++;
	i = load_index(e->generation, c->nr_as, create);
	if (i <= v->last || e->ret || e->slot || e->gpa || e->pid != c->pid ||
	    (e->size && e->size != PAGE) ||
	    (e->change != MS_TRACE_CHANGE_UNSEEN && e->change != (create ? CREATE : DELETE))) {
		if (!v->bad++ && !c->first_bad_gen)
			c->first_bad_gen = e->generation;
		return 0;
	}
	v->missing += (uint64_t)(i - v->last - 1);
	v->last = i;
	return 0;
}

static void load_lost(uint64_t vm, uint64_t lost, void *opaque)
{
	struct load_check *c = opaque;
	struct load_seen *v = load_vm_of(c, vm);

	if (v)
		v->lost += lost;
	else
		c->foreign += lost;
}

struct load_gen {
	struct load_vm vm[LOAD_VMS];
	volatile bool go;
	uint64_t total;
};

/* LOAD_VMS VMs (raw KVM_CREATE_VM), each with a page and a thread waiting for ->go. */
static int load_gen_start(struct load_gen *g, unsigned int *nr_as)
{
	int sys = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	memset(g, 0, sizeof(*g));
	for (int i = 0; i < LOAD_VMS; i++)
		g->vm[i].fd = -1;
	if (sys < 0)
		return -errno;
	g->total = load_changes();
	for (int i = 0; i < LOAD_VMS; i++) {
		struct load_vm *l = &g->vm[i];

		l->fd = ioctl(sys, KVM_CREATE_VM, 0);
		l->mem = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
		if (l->fd < 0 || l->mem == MAP_FAILED) {
			close(sys);
			return -ENOMEM;
		}
		l->n = g->total / LOAD_VMS;
		l->go = &g->go;
		if (pthread_create(&l->thread, NULL, load_thread, l)) {
			close(sys);
			return -EAGAIN;
		}
	}
	r = ioctl(g->vm[0].fd, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	*nr_as = r > 0 ? (unsigned int)r : 1;
	close(sys);
	return 0;
}

static bool load_gen_done(struct load_gen *g)
{
	for (int i = 0; i < LOAD_VMS; i++)
		if (__atomic_load_n(&g->vm[i].done, __ATOMIC_ACQUIRE) < g->vm[i].n &&
		    !__atomic_load_n(&g->vm[i].err, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/* Let the threads finish (with nothing to do if they never started) and free all. */
static void load_gen_stop(struct load_gen *g)
{
	if (!g->go)
		for (int i = 0; i < LOAD_VMS; i++)
			g->vm[i].n = 0;
	__atomic_store_n(&g->go, true, __ATOMIC_RELEASE);
	for (int i = 0; i < LOAD_VMS; i++) {
		if (g->vm[i].thread)
			pthread_join(g->vm[i].thread, NULL);
		if (g->vm[i].fd >= 0)
			close(g->vm[i].fd);
		if (g->vm[i].mem && g->vm[i].mem != MAP_FAILED)
			munmap(g->vm[i].mem, PAGE);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

FIXTURE(load) {
	struct load_gen g;
	struct load_check c;
	struct trace_prog *tp;
};

FIXTURE_VARIANT(load) {
	const char *attach;
};

FIXTURE_VARIANT_ADD(load, syscall) { .attach = "syscall" };
FIXTURE_VARIANT_ADD(load, fentry_memslot) { .attach = "fentry/kvm_set_memslot" };
FIXTURE_VARIANT_ADD(load, fentry_region) { .attach = "fentry/__kvm_set_memory_region" };
FIXTURE_VARIANT_ADD(load, kprobe_memslot) { .attach = "kprobe/kvm_set_memslot" };
FIXTURE_VARIANT_ADD(load, kprobe_region) { .attach = "kprobe/__kvm_set_memory_region" };

FIXTURE_SETUP(load)
{
	char why[512];
	int err;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, load_gen_start(&self->g, &self->c.nr_as));
	self->c.pid = (uint32_t)getpid();
	self->tp = trace_prog_open(&(struct trace_prog_opts){
					.tgid = self->c.pid, .attach = variant->attach,
					.ring_size = (uint64_t)sysconf(_SC_PAGESIZE),
					.fn = load_event, .opaque = &self->c },
				   &err, why, sizeof(why));
	if (!self->tp)
		SKIP(return, "%s: %s", variant->attach, why);
	TH_LOG("attach: %s, ring buffer %llu bytes", trace_prog_attach(self->tp),
	       (unsigned long long)trace_prog_ring_size(self->tp));
}

FIXTURE_TEARDOWN(load)
{
	load_gen_stop(&self->g);
	trace_prog_close(self->tp);
}

/* Every change read or counted lost, and each gap in the generations a lost change. */
TEST_F_TIMEOUT(load, every_change_read_or_lost, 600)
{
	struct load_check *c = &self->c;
	uint64_t read = 0, lost = 0, per_vm = self->g.total / LOAD_VMS;
	double t0 = now_s(), t;

	self->g.go = true;
	/* the reader drains every 10 ms, the generator fills the page far faster */
	while (!load_gen_done(&self->g))
		ASSERT_EQ(0, trace_prog_poll(self->tp, 10));
	t = now_s() - t0;
	for (int i = 0; i < LOAD_VMS; i++)
		ASSERT_EQ(0, self->g.vm[i].err);
	trace_prog_detach(self->tp);
	ASSERT_EQ(0, trace_prog_drain(self->tp));
	ASSERT_EQ(0, trace_prog_lost_vms(self->tp, load_lost, c));
	EXPECT_EQ(0, c->foreign);
	ASSERT_EQ(LOAD_VMS, c->nr_vms);
	for (unsigned int i = 0; i < c->nr_vms; i++) {
		struct load_seen *v = &c->vm[i];

		/* the changes after the last one read */
		v->missing += per_vm - 1 - (uint64_t)v->last;
		TH_LOG("vm %#llx: %llu changes, %llu read, %llu lost, %llu missing from the "
		       "generations", (unsigned long long)v->vm, (unsigned long long)per_vm,
		       (unsigned long long)v->read, (unsigned long long)v->lost,
		       (unsigned long long)v->missing);
		EXPECT_EQ(0, v->bad);
		EXPECT_EQ(per_vm, v->read + v->lost);
		EXPECT_EQ(v->lost, v->missing);
		read += v->read;
		lost += v->lost;
	}
	if (c->first_bad_gen)
		TH_LOG("first event out of sequence: generation %llu",
		       (unsigned long long)c->first_bad_gen);
	EXPECT_EQ(lost, trace_prog_lost(self->tp));
	EXPECT_LT(0, lost);
	EXPECT_LT(0, read);
	TH_LOG("%s: %llu changes in %.1f s (%.0f/s): %llu read, %llu lost",
	       trace_prog_attach(self->tp), (unsigned long long)self->g.total, t,
	       (double)self->g.total / t, (unsigned long long)read, (unsigned long long)lost);
}

/*
 * The same load under memslot trace --summary --ring-size of one page:
 * the JSON summary counts, per VM, every change as read (by type) or lost.
 */
FIXTURE(cli_load) {
	struct load_gen g;
	unsigned int nr_as;
	char pid[16], ring[24];
};

FIXTURE_VARIANT(cli_load) {
	const char *attach;	/* NULL: the most precise point */
};

FIXTURE_VARIANT_ADD(cli_load, best) { .attach = NULL };
/* create and delete then come from the tracer's own table */
FIXTURE_VARIANT_ADD(cli_load, syscall) { .attach = "--attach=syscall" };

FIXTURE_SETUP(cli_load)
{
	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "no /dev/kvm");
	ASSERT_EQ(0, load_gen_start(&self->g, &self->nr_as));
	snprintf(self->pid, sizeof(self->pid), "%d", getpid());
	snprintf(self->ring, sizeof(self->ring), "%ld", sysconf(_SC_PAGESIZE));
}

FIXTURE_TEARDOWN(cli_load)
{
	load_gen_stop(&self->g);
}

TEST_F_TIMEOUT(cli_load, summary_counts_lost, 600)
{
	const char *const args[] = { "-j", "trace", "--summary", "--ring-size", self->ring,
				     "-p", self->pid, variant->attach, NULL };
	uint64_t per_vm = self->g.total / LOAD_VMS, read = 0, lost = 0;
	struct json_object *objs[2] = { NULL }, *sum, *vms;
	struct bg_trace b;
	int status, n;
	char *out;

	ASSERT_EQ(0, bg_trace_start(&b, args));
	self->g.go = true;
	while (!load_gen_done(&self->g))
		sleep_ms(10);
	for (int i = 0; i < LOAD_VMS; i++)
		ASSERT_EQ(0, self->g.vm[i].err);
	out = bg_trace_stop(&b, &status);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status);
	n = json_lines(out, objs, 2);
	ASSERT_EQ(1, n);
	sum = jget(objs[0], "summary");
	ASSERT_NE(NULL, sum);
	EXPECT_EQ(strtoull(self->ring, NULL, 10), jget_u64(sum, "ring_size"));
	EXPECT_EQ(0, jget_u64(sum, "lost_unattributed"));
	vms = jget(sum, "vms");
	ASSERT_EQ(LOAD_VMS, jget_len(vms));
	for (size_t i = 0; i < LOAD_VMS; i++) {
		static const char *const kinds[] = { "create", "delete", "move", "flags_only",
						      "none" };
		struct json_object *v = jget_idx(vms, i), *ch = jget(v, "changes");
		uint64_t ok[5], vm_read = 0;

		for (int k = 0; k < 5; k++) {
			ok[k] = jget_u64(jget(ch, kinds[k]), "ok");
			vm_read += ok[k];
			EXPECT_EQ(0, jget_u64(jget(ch, kinds[k]), "failed"));
		}
		TH_LOG("vm %s: %llu changes, %llu creates, %llu deletes and %llu no-ops read, "
		       "%llu lost", jget_str(v, "vm") ?: "?",
		       (unsigned long long)per_vm, (unsigned long long)ok[0],
		       (unsigned long long)ok[1], (unsigned long long)ok[4],
		       (unsigned long long)jget_u64(v, "lost"));
		EXPECT_EQ(per_vm, vm_read + jget_u64(v, "lost"));
		EXPECT_EQ(0, ok[2] + ok[3]);
		/*
		 * Away from kvm_set_memslot() the type comes from the tracer's
		 * table, which a lost delete leaves holding the slot: the
		 * create after it looks like a request that changes nothing.
		 */
		if (!variant->attach)
			EXPECT_EQ(0, ok[4]);
		read += vm_read;
		lost += jget_u64(v, "lost");
	}
	EXPECT_EQ(read, jget_u64(sum, "events"));
	EXPECT_EQ(lost, jget_u64(sum, "lost"));
	EXPECT_LT(0, lost);
	TH_LOG("%s: %llu changes: %llu read, %llu lost", jget_str(sum, "source"),
	       (unsigned long long)self->g.total, (unsigned long long)read,
	       (unsigned long long)lost);
	json_object_put(objs[0]);
	free(out);
}

/*
 * -j names VMs by a hex string (their struct kvm address is above 2^53,
 * which readers holding numbers as doubles round): the events and the
 * summary agree on it. The process is given by --qmp, a unix socket this
 * process listens on. A trace that saw no event still ends with its
 * summary line.
 */
TEST(trace_json_vm_ids)
{
	struct json_object *objs[4] = { NULL }, *sum;
	struct ms_error err = { 0 };
	struct cli_result r;
	struct bg_trace b;
	struct ms_kvm *k;
	char sock[64], pid[16], *out;
	const char *const args[] = { "-j", "trace", "--qmp", sock, NULL };
	const char *vm;
	int lfd, status, n;
	void *mem;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	k = ms_kvm__new(NULL, &err);
	if (!k)
		SKIP(return, "no KVM VM: %s", err.msg);
	mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	snprintf(pid, sizeof(pid), "%d", getpid());

	/* nothing happens: the summary alone, events 0 */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "trace", "-p", pid, "-D", "1"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	n = json_lines(r.out, objs, 4);
	ASSERT_EQ(1, n) TH_LOG("%s", r.out);
	sum = jget(objs[0], "summary");
	ASSERT_NE(NULL, sum) TH_LOG("no summary line");
	EXPECT_EQ(0, jget_u64(sum, "events"));
	EXPECT_EQ(0, jget_len(jget(sum, "vms")));
	json_object_put(objs[0]);
	cli_result_free(&r);

	snprintf(sock, sizeof(sock), "/tmp/memslot-qmp-%d", getpid());
	lfd = unix_listen(sock);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bg_trace_start(&b, args));
	ASSERT_EQ(0, do_op(k, MS_SLOT_OP_CREATE, 0, 1, 1 * MiB, 2 * MiB, mem, 0));
	sleep_ms(200);
	out = bg_trace_stop(&b, &status);
	close(lfd);
	unlink(sock);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status);
	n = json_lines(out, objs, 4);
	ASSERT_EQ(2, n) TH_LOG("%s", out);
	vm = jget_str(objs[0], "vm");
	ASSERT_NE(NULL, vm) TH_LOG("vm is no string: %s", out);
	EXPECT_EQ(0, strncmp(vm, "0xff", 4)) TH_LOG("%s", vm);
	EXPECT_EQ(18, strlen(vm)) TH_LOG("%s", vm);
	EXPECT_EQ((uint64_t)getpid(), jget_u64(objs[0], "pid"));
	sum = jget(objs[1], "summary");
	ASSERT_EQ(1, jget_len(jget(sum, "vms"))) TH_LOG("%s", out);
	EXPECT_STREQ(vm, jget_str(jget_idx(jget(sum, "vms"), 0), "vm") ?: "");
	for (int i = 0; i < n; i++)
		json_object_put(objs[i]);
	free(out);
	munmap(mem, 2 * MiB);
	ms_kvm__free(k);
}

TEST_HARNESS_MAIN
