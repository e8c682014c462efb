// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The minimal VMM of `memslot run` (vmm.h): one vCPU, the probe guest of
 * tool/guest/probe.S, and exit handling that sends MMIO exits through the
 * "memory" address space and port I/O through "I/O", as QEMU's KVM loop
 * does (Documentation/virt/kvm/api.rst 4.10 KVM_RUN, 5. struct kvm_run).
 *
 * Mode setup: the vCPU starts in 64-bit mode through KVM_SET_SREGS (CR0.PE
 * |ET|NE|PG, CR4.PAE, EFER.LME|LMA, CS a 64-bit code segment, a busy TSS
 * in TR as VM entry wants one, CR3 the host-built PML4), with KVM's
 * supported CPUID set first (KVM refuses EFER.LME without CPUID.LM). No
 * in-kernel irqchip is created, so that the IOAPIC and APIC windows exit
 * to user space like any other MMIO, and HLT exits as KVM_EXIT_HLT.
 *
 * Page tables: PML4 and PROBE_NR_PDPT directory-pointer tables are written
 * by the host before the first KVM_RUN; GiB 0 is mapped for good by
 * directory 0. Every other GiB is mapped on demand from a pool of
 * PROBE_NR_PD - 1 directories (2 MiB pages): before a command the host
 * picks directories (least recently used first) and puts "unmap GiB a,
 * map GiB b with directory d" operations into the mailbox; the guest
 * writes the entries and reloads CR3. Host writes to live page tables
 * would be missed by a shadow MMU, guest writes are not. The host keeps a
 * mirror (pd_gib) of what the guest was told.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm.h"
#include "guest/probe.h"

/* tool/guest/embed.S: the flat image of probe.S, linked at PROBE_CODE_GPA */
extern const unsigned char probe_guest_start[], probe_guest_end[];

#define GiB			(1ULL << 30)
#define NR_GIB_MAX		(PROBE_NR_PDPT * 512ULL)
#define NO_GIB			UINT64_MAX
#define DEFAULT_SEED		0x6d656d736c6f7421ULL
/* pages per verify command: about a second of guest time, see vmm.h */
#define BATCH_PAGES		65536ULL

/* x86 control bits (SDM vol. 3, 2.5 and 2.2.1) */
#define CR0_PE			(1ULL << 0)
#define CR0_ET			(1ULL << 4)
#define CR0_NE			(1ULL << 5)
#define CR0_PG			(1ULL << 31)
#define CR4_PAE			(1ULL << 5)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)
#define RFLAGS_FIXED		(1ULL << 1)

#define TSS_SIZE		104

_Static_assert(sizeof(struct probe_mbox) == 0x1000, "mailbox is one page");
_Static_assert(__builtin_offsetof(struct probe_mbox, status) == MB_STATUS, "MB_STATUS");
_Static_assert(__builtin_offsetof(struct probe_mbox, value_before) == MB_VALUE_BEFORE,
	       "MB_VALUE_BEFORE");
_Static_assert(__builtin_offsetof(struct probe_mbox, fault_cr2) == MB_FAULT_CR2, "MB_FAULT_CR2");
_Static_assert(__builtin_offsetof(struct probe_mbox, maps) == MB_MAPS, "MB_MAPS");
_Static_assert(sizeof(struct probe_run) == PROBE_RUN_SIZE, "PROBE_RUN_SIZE");
_Static_assert(PROBE_NR_PD - 1 <= PROBE_MAX_MAPS / 2, "a batch's map operations fit");

/* A verify run inside one GiB, with the host address of its first page. */
struct vrun {
	uint64_t gpa, stride, count;
	uint8_t *hva;
};

struct vruns {
	struct vrun *r;
	size_t n, cap;
};

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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* splitmix64: one seed per verify call */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static const char *vector_name(uint64_t vec)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9",
		"#TS", "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM",
		"#VE", "#CP",
	};

	return vec < sizeof(names) / sizeof(names[0]) ? names[vec] : "exception";
}

/* The guest (or the vCPU) is gone for good: remember why. */
static int die(struct vmm *v, struct ms_error *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int die(struct vmm *v, struct ms_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	v->dead = true;
	v->death.err = ret;
	va_start(ap, fmt);
	vsnprintf(v->death.msg, sizeof(v->death.msg), fmt, ap);
	va_end(ap);
	if (err)
		*err = v->death;
	return ret;
}

static int check_alive(struct vmm *v, struct ms_error *err)
{
	if (!v->dead)
		return 0;
	return ms_error_set(err, -EIO, "vcpu: dead since: %s", v->death.msg);
}

static uint64_t guest_rip(struct vmm *v)
{
	struct kvm_regs regs;

	return ioctl(v->vcpu_fd, KVM_GET_REGS, &regs) ? 0 : regs.rip;
}

static void name_region(const struct ms_flat_range *fr, char name[VMM_NAME_LEN])
{
	const char *s = fr ? ms_region__name(fr->mr) : "";

	snprintf(name, VMM_NAME_LEN, "%s", s ? s : "(null)");
}

static void record(struct vmm *v, const struct vmm_access *a)
{
	if (!v->nr_access++)
		v->first_access = *a;
}

/* KVM_EXIT_MMIO: serve it through "memory" like QEMU's kvm_cpu_exec(). */
static void handle_mmio(struct vmm *v)
{
	struct kvm_run *run = v->run;
	const struct ms_flat_range *fr;
	struct vmm_access a = {
		.is_write = run->mmio.is_write,
		.addr = run->mmio.phys_addr,
		.size = run->mmio.len,
	};
	uint64_t len = run->mmio.len, data = 0;

	fr = ms_as__translate(v->mem_as, a.addr, &a.offset, &len);
	name_region(fr, a.region);
	if (!a.is_write)
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
	a.memtx = ms_as__rw(v->mem_as, a.addr, run->mmio.data, run->mmio.len, a.is_write);
	memcpy(&data, run->mmio.data, a.size < 8 ? a.size : 8);
	a.data = data;
	/*
	 * RAM in the flat view but an exit from KVM: no slot covers it. A write
	 * to ROM is the one expected case (READONLY slot, rule 10.7).
	 */
	if (fr && ms_region__is_ram(fr->mr) && !ms_region__is_ram_device(fr->mr) &&
	    !(a.is_write && ms_region__is_rom(fr->mr))) {
		if (!v->unslotted++)
			v->first_unslotted = a.addr;
	}
	record(v, &a);
}

/* KVM_EXIT_IO other than the mailbox: serve it through "I/O". */
static void handle_pio(struct vmm *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	const struct ms_flat_range *fr;
	struct vmm_access a = {
		.is_write = run->io.direction == KVM_EXIT_IO_OUT,
		.is_pio = true,
		.addr = run->io.port,
		.size = run->io.size,
	};
	uint64_t len = run->io.size, val = 0;

	fr = v->io_as ? ms_as__translate(v->io_as, a.addr, &a.offset, &len) : NULL;
	name_region(fr, a.region);
	/* string I/O repeats the port access count times (api.rst, KVM_EXIT_IO) */
	for (uint32_t i = 0; i < run->io.count; i++) {
		uint8_t *p = data + (size_t)i * run->io.size;

		if (!a.is_write)
			memset(p, 0, run->io.size);
		if (v->io_as)
			a.memtx |= ms_as__rw(v->io_as, a.addr, p, run->io.size, a.is_write);
		else
			a.memtx |= MS_MEMTX_DECODE_ERROR;
	}
	memcpy(&val, data, a.size < 8 ? a.size : 8);
	a.data = val;
	record(v, &a);
}

/*
 * Run the vCPU until the guest reports on PROBE_PORT; serve every other
 * exit on the way. @status gets the guest's status word.
 */
static int run_guest(struct vmm *v, uint32_t *status, struct ms_error *err)
{
	struct kvm_run *run = v->run;

	v->nr_access = 0;
	v->unslotted = 0;
	v->first_unslotted = UINT64_MAX;
	v->cmd_hlts = 0;
	for (;;) {
		uint64_t t0 = now_ns();
		int ret = ioctl(v->vcpu_fd, KVM_RUN, 0);
		int e = errno;

		v->st.run_ns += now_ns() - t0;
		v->st.runs++;
		if (ret < 0) {
			if (e == EINTR || e == EAGAIN)
				continue;
			return die(v, err, -e, "vcpu: KVM_RUN: %s", strerror(e));
		}
		v->st.exits++;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			v->st.io_exits++;
			if (run->io.port == PROBE_PORT && run->io.direction == KVM_EXIT_IO_OUT &&
			    run->io.size == 4 && run->io.count == 1) {
				memcpy(status, (uint8_t *)run + run->io.data_offset, 4);
				return 0;
			}
			if (run->io.port == PROBE_PORT_FAULT) {
				const struct probe_mbox *mb = v->mb;

				return die(v, err, -EIO,
					   "guest: %s error 0x%" PRIx64 " at rip 0x%" PRIx64
					   " cr2 0x%" PRIx64, vector_name(mb->fault_vector),
					   mb->fault_error, mb->fault_rip, mb->fault_cr2);
			}
			handle_pio(v);
			break;
		case KVM_EXIT_MMIO:
			v->st.mmio_exits++;
			handle_mmio(v);
			break;
		case KVM_EXIT_HLT:
			/* without an in-kernel irqchip the next KVM_RUN resumes after hlt */
			v->st.hlt_exits++;
			v->cmd_hlts++;
			break;
		case KVM_EXIT_SHUTDOWN:
			return die(v, err, -EIO, "guest: shutdown (triple fault) at rip 0x%" PRIx64,
				   guest_rip(v));
		case KVM_EXIT_INTERNAL_ERROR:
			return die(v, err, -EIO,
				   "vcpu: KVM internal error, suberror %u at rip 0x%" PRIx64,
				   run->internal.suberror, guest_rip(v));
		case KVM_EXIT_FAIL_ENTRY:
			return die(v, err, -EIO, "vcpu: entry failed, reason 0x%llx",
				   (unsigned long long)
				   run->fail_entry.hardware_entry_failure_reason);
		default:
			return die(v, err, -EIO,
				   "vcpu: unexpected exit reason %u at rip 0x%" PRIx64,
				   run->exit_reason, guest_rip(v));
		}
	}
}

/* Issue the command in the mailbox and wait for its report. */
static int command(struct vmm *v, uint64_t cmd, struct ms_error *err)
{
	uint32_t status = 0;
	int ret;

	v->mb->cmd = cmd;
	v->mb->status = ~0ULL;
	v->st.commands++;
	ret = run_guest(v, &status, err);
	v->mb->nr_maps = 0;
	if (ret)
		return ret;
	if (status != PROBE_STATUS_OK)
		return die(v, err, -EIO, "guest: command %" PRIu64 " failed with status %u", cmd,
			   status);
	return 0;
}

/*
 * Queue map operations so that every GiB of @gibs is mapped after them.
 * @n is at most PROBE_NR_PD - 1, so there is always a directory to take.
 */
static void map_gibs(struct vmm *v, const uint64_t *gibs, size_t n)
{
	struct probe_mbox *mb = v->mb;
	size_t ops = mb->nr_maps;

	v->stamp++;
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < PROBE_NR_PD; d++)
			if (v->pd_gib[d] == gibs[i])
				v->pd_stamp[d] = v->stamp;
	for (size_t i = 0; i < n; i++) {
		int d, pick = -1;

		for (d = 0; d < PROBE_NR_PD; d++)
			if (v->pd_gib[d] == gibs[i])
				break;
		if (d < PROBE_NR_PD)
			continue;
		/* a free directory, else the least recently used one not needed now */
		for (d = 1; d < PROBE_NR_PD; d++) {
			if (v->pd_stamp[d] == v->stamp)
				continue;
			if (v->pd_gib[d] == NO_GIB) {
				pick = d;
				break;
			}
			if (pick < 0 || v->pd_stamp[d] < v->pd_stamp[pick])
				pick = d;
		}
		if (v->pd_gib[pick] != NO_GIB) {
			mb->maps[ops][0] = v->pd_gib[pick];
			mb->maps[ops][1] = 0;
			ops++;
		}
		mb->maps[ops][0] = gibs[i];
		mb->maps[ops][1] = PROBE_PD_GPA + (uint64_t)pick * 0x1000;
		ops++;
		v->pd_gib[pick] = gibs[i];
		v->pd_stamp[pick] = v->stamp;
		v->st.maps++;
	}
	mb->nr_maps = ops;
}

static int check_gpa(struct vmm *v, uint64_t gpa, uint64_t size, struct ms_error *err)
{
	if (gpa >= v->max_gpa || size > v->max_gpa - gpa)
		return ms_error_set(err, -ERANGE,
				    "vcpu: 0x%" PRIx64 "+0x%" PRIx64 " beyond the guest's reach 0x%"
				    PRIx64 " (%u phys-bits, %u GiB of page tables)", gpa, size,
				    v->max_gpa, v->st.phys_bits, (unsigned int)NR_GIB_MAX);
	return 0;
}

/* ------------------------------------------------------------------------
 * Setup
 */

struct find_as {
	const char *name;
	struct ms_as *as;
};

static int find_as_fn(struct ms_as *as, void *opaque)
{
	struct find_as *f = opaque;

	if (strcmp(ms_as__name(as), f->name))
		return 0;
	f->as = as;
	return 1;
}

struct find_slot {
	uint64_t hva;
	bool found;
};

static int find_slot_fn(const struct ms_kvm_slot *s, void *opaque)
{
	struct find_slot *f = opaque;

	if (s->as_id == 0 && s->gpa == 0 && s->size >= PROBE_RESERVED_END && s->hva == f->hva &&
	    !(s->flags & MS_KVM_MEM_READONLY))
		f->found = true;
	return f->found;
}

static int set_cpuid(struct vmm *v, struct ms_error *err)
{
	struct kvm_cpuid2 *cpuid = NULL;
	int ret, e;

	v->st.phys_bits = 36;	/* SDM: the width without CPUID 0x80000008 */
	for (unsigned int nent = 64; nent <= 4096; nent *= 2) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return ms_error_set(err, -ENOMEM, "vcpu: out of memory");
		cpuid->nent = nent;
		ret = ioctl(ms_kvm__sys_fd(v->k), KVM_GET_SUPPORTED_CPUID, cpuid);
		if (!ret || errno != E2BIG)
			break;
	}
	if (ret) {
		e = errno;
		free(cpuid);
		return ms_error_set(err, -e, "vcpu: KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
	}
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 0x80000008 && (cpuid->entries[i].eax & 0xff))
			v->st.phys_bits = cpuid->entries[i].eax & 0xff;
	ret = ioctl(v->vcpu_fd, KVM_SET_CPUID2, cpuid);
	e = errno;
	free(cpuid);
	if (ret)
		return ms_error_set(err, -e, "vcpu: KVM_SET_CPUID2: %s", strerror(e));
	return 0;
}

/* GDT, TSS, PML4, the PDPTs and directory 0 (GiB 0), then the image. */
static int write_image(struct vmm *v, struct ms_error *err)
{
	size_t size = (size_t)(probe_guest_end - probe_guest_start);
	uint8_t *low = v->low;
	uint64_t *gdt = (uint64_t *)(low + PROBE_GDT_GPA);
	uint64_t *pml4 = (uint64_t *)(low + PROBE_PML4_GPA);
	uint64_t *pdpt0 = (uint64_t *)(low + PROBE_PDPT_GPA);
	uint64_t *pd0 = (uint64_t *)(low + PROBE_PD_GPA);
	uint64_t tss = PROBE_TSS_GPA;

	if (!size || size > PROBE_CODE_MAX)
		return ms_error_set(err, -EINVAL, "guest: image of %zu bytes, room for %u", size,
				    PROBE_CODE_MAX);
	memset(low + PROBE_GDT_GPA, 0, PROBE_RESERVED_END - PROBE_GDT_GPA);
	memcpy(low + PROBE_CODE_GPA, probe_guest_start, size);

	/* flat descriptors (SDM vol. 3, 3.4.5): 64-bit code, data, 64-bit busy TSS */
	gdt[PROBE_SEL_CODE / 8] = 0x00af9b000000ffffULL;
	gdt[PROBE_SEL_DATA / 8] = 0x00cf93000000ffffULL;
	gdt[PROBE_SEL_TSS / 8] = (TSS_SIZE - 1) | (tss & 0xffffff) << 16 | 0x8bULL << 40 |
				 (tss >> 24 & 0xff) << 56;
	gdt[PROBE_SEL_TSS / 8 + 1] = tss >> 32;
	/* no I/O permission bitmap: its base lies beyond the limit */
	*(uint16_t *)(low + PROBE_TSS_GPA + 102) = TSS_SIZE;

	for (int i = 0; i < PROBE_NR_PDPT; i++)
		pml4[i] = (PROBE_PDPT_GPA + (uint64_t)i * 0x1000) | PROBE_PTE_P | PROBE_PTE_RW;
	pdpt0[0] = PROBE_PD_GPA | PROBE_PTE_P | PROBE_PTE_RW;
	for (uint64_t i = 0; i < 512; i++)
		pd0[i] = i << 21 | PROBE_PTE_P | PROBE_PTE_RW | PROBE_PTE_PS;
	v->pd_gib[0] = 0;
	for (int d = 1; d < PROBE_NR_PD; d++)
		v->pd_gib[d] = NO_GIB;
	return 0;
}

static int set_long_mode(struct vmm *v, struct ms_error *err)
{
	struct kvm_segment code = {
		.limit = 0xffffffff, .selector = PROBE_SEL_CODE, .type = 11, .present = 1,
		.s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.limit = 0xffffffff, .selector = PROBE_SEL_DATA, .type = 3, .present = 1,
		.s = 1, .db = 1, .g = 1,
	};
	struct kvm_segment tr = {
		.base = PROBE_TSS_GPA, .limit = TSS_SIZE - 1, .selector = PROBE_SEL_TSS,
		.type = 11, .present = 1,
	};
	struct kvm_regs regs = {
		.rip = PROBE_CODE_GPA, .rsp = PROBE_STACK_TOP, .rflags = RFLAGS_FIXED,
	};
	struct kvm_sregs sregs;
	int e;

	if (ioctl(v->vcpu_fd, KVM_GET_SREGS, &sregs)) {
		e = errno;
		return ms_error_set(err, -e, "vcpu: KVM_GET_SREGS: %s", strerror(e));
	}
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tr;
	sregs.gdt.base = PROBE_GDT_GPA;
	sregs.gdt.limit = PROBE_SEL_TSS + 16 - 1;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = PROBE_PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->vcpu_fd, KVM_SET_SREGS, &sregs)) {
		e = errno;
		return ms_error_set(err, -e, "vcpu: KVM_SET_SREGS (64-bit mode): %s", strerror(e));
	}
	if (ioctl(v->vcpu_fd, KVM_SET_REGS, &regs)) {
		e = errno;
		return ms_error_set(err, -e, "vcpu: KVM_SET_REGS: %s", strerror(e));
	}
	return 0;
}

struct vmm *vmm_new(struct ms_machine *m, struct ms_kvm *k, const struct vmm_opts *o,
		    struct ms_error *err)
{
	struct find_as fio = { .name = "I/O" };
	struct find_slot fs = { 0 };
	const struct ms_flat_range *fr;
	uint64_t t0 = now_ns(), xlat, len = PROBE_RESERVED_END;
	uint32_t status = 0;
	struct vmm *v;
	int ret, mmap_size;

	if (!m || !k) {
		ret = ms_error_set(err, -EINVAL, "vcpu: no machine or VM");
		goto err_out;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		ret = ms_error_set(err, -ENOMEM, "vcpu: out of memory");
		goto err_out;
	}
	v->m = m;
	v->k = k;
	v->vcpu_fd = -1;
	v->run = MAP_FAILED;
	v->opts.sz = sizeof(v->opts);
	if (o)
		memcpy(&v->opts, o, o->sz < sizeof(v->opts) ? o->sz : sizeof(v->opts));
	v->opts.sz = sizeof(v->opts);
	if (!v->opts.seed)
		v->opts.seed = DEFAULT_SEED;
	v->mem_as = ms_machine__memory_as(m);
	ms_ctx__for_each_as(ms_machine__ctx(m), find_as_fn, &fio);
	v->io_as = fio.as;

	/* the guest's home: plain RAM at 0 with host memory, in a KVM slot */
	fr = ms_as__translate(v->mem_as, 0, &xlat, &len);
	if (!fr || !ms_region__is_ram(fr->mr) || ms_region__is_rom(fr->mr) ||
	    !ms_region__host_ptr(fr->mr) || len < PROBE_RESERVED_END) {
		ret = ms_error_set(err, -EINVAL,
				   "vcpu: guest home 0x0+0x%x: no writable RAM with host memory",
				   PROBE_RESERVED_END);
		goto err_free;
	}
	v->low = (uint8_t *)ms_region__host_ptr(fr->mr) + xlat;
	fs.hva = (uint64_t)(uintptr_t)v->low;
	ms_kvm__for_each_slot(k, find_slot_fn, &fs);
	if (!fs.found) {
		ret = ms_error_set(err, -EINVAL,
				   "vcpu: 0x0+0x%x of %s is not in a KVM slot: "
				   "a machine without ms_machine_opts.kvm?",
				   PROBE_RESERVED_END, ms_region__name(fr->mr));
		goto err_free;
	}
	v->mb = (struct probe_mbox *)(v->low + PROBE_MBOX_GPA);

	v->vcpu_fd = ioctl(ms_kvm__vm_fd(k), KVM_CREATE_VCPU, (unsigned long)v->opts.vcpu_id);
	if (v->vcpu_fd < 0) {
		ret = ms_error_set(err, -errno, "vcpu %u: KVM_CREATE_VCPU: %s", v->opts.vcpu_id,
				   strerror(errno));
		goto err_free;
	}
	mmap_size = ioctl(ms_kvm__sys_fd(k), KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		ret = ms_error_set(err, mmap_size < 0 ? -errno : -EINVAL,
				   "vcpu: KVM_GET_VCPU_MMAP_SIZE: %d", mmap_size);
		goto err_close;
	}
	v->run_size = (size_t)mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu_fd, 0);
	if (v->run == MAP_FAILED) {
		ret = ms_error_set(err, -errno, "vcpu: mmap of kvm_run: %s", strerror(errno));
		goto err_close;
	}
	ret = set_cpuid(v, err);
	if (ret)
		goto err_unmap;
	v->max_gpa = v->st.phys_bits >= 63 ? UINT64_MAX : 1ULL << v->st.phys_bits;
	if (v->max_gpa > NR_GIB_MAX * GiB)
		v->max_gpa = NR_GIB_MAX * GiB;
	ret = write_image(v, err);
	if (ret)
		goto err_unmap;
	ret = set_long_mode(v, err);
	if (ret)
		goto err_unmap;

	v->st.setup_ns = now_ns() - t0;
	t0 = now_ns();
	ret = run_guest(v, &status, err);
	if (!ret && status != PROBE_STATUS_READY)
		ret = ms_error_set(err, -EIO, "guest: booted with status 0x%x, expected 0x%x",
				   status, PROBE_STATUS_READY);
	if (ret)
		goto err_unmap;
	v->st.boot_ns = now_ns() - t0;
	return v;

err_unmap:
	munmap(v->run, v->run_size);
err_close:
	close(v->vcpu_fd);
err_free:
	free(v);
err_out:
	errno = -ret;
	return NULL;
}

void vmm_free(struct vmm *v)
{
	if (!v)
		return;
	munmap(v->run, v->run_size);
	close(v->vcpu_fd);
	free(v);
}

void vmm_stats(const struct vmm *v, struct vmm_stats *st)
{
	*st = v->st;
}

int vmm_halt(struct vmm *v, struct ms_error *err)
{
	int ret = check_alive(v, err);

	if (ret)
		return ret;
	ret = command(v, PROBE_CMD_HLT, err);
	if (ret)
		return ret;
	if (!v->cmd_hlts)
		return ms_error_set(err, -EIO, "guest: hlt did not exit with KVM_EXIT_HLT");
	return 0;
}

int vmm_crash(struct vmm *v, struct ms_error *err)
{
	int ret = check_alive(v, err);

	if (ret)
		return ret;
	ret = command(v, PROBE_CMD_UD2, err);
	if (ret == -EIO && v->mb->fault_vector == 6)
		return ret;
	if (!ret)
		die(v, NULL, -EIO, "guest: survived ud2");
	return ms_error_set(err, -EPROTO, "guest: ud2 not reported as #UD: %s", v->death.msg);
}

/* ------------------------------------------------------------------------
 * Verify
 */

static int vruns_push(struct vruns *rs, uint64_t gpa, uint64_t stride, uint64_t count,
		      uint8_t *hva)
{
	/* split at GiB boundaries (a run lives in one page directory) and to batch size */
	while (count) {
		uint64_t gib_end = (gpa / GiB + 1) * GiB;
		uint64_t n = (gib_end - gpa + stride - 1) / stride;

		if (n > count)
			n = count;
		if (n > BATCH_PAGES)
			n = BATCH_PAGES;
		if (rs->n == rs->cap) {
			size_t cap = rs->cap ? rs->cap * 2 : 64;
			struct vrun *r = realloc(rs->r, cap * sizeof(*r));

			if (!r)
				return -ENOMEM;
			rs->r = r;
			rs->cap = cap;
		}
		rs->r[rs->n++] = (struct vrun){ gpa, stride, n, hva };
		gpa += n * stride;
		hva += n * stride;
		count -= n;
	}
	return 0;
}

/* Plain writable RAM with host memory: what a signature may be written to. */
static bool verifiable(const struct ms_flat_range *fr)
{
	const struct ms_region *mr = fr->mr;

	return ms_region__is_ram(mr) && !ms_region__readonly(mr) && !fr->readonly &&
	       !ms_region__is_ram_device(mr) && !ms_region__is_rom_device(mr) &&
	       ms_region__host_ptr(mr);
}

/* Pages of one section [ps, pe) (page aligned) per the sample rule of vmm.h. */
static int pick_pages(struct vruns *rs, uint64_t ps, uint64_t pe, uint8_t *hva, bool full,
		      struct vmm_verify_result *res)
{
	uint64_t last = pe - VMM_PAGE_SIZE, first;
	int ret;

	res->sections++;
	if (full || pe - ps <= VMM_SMALL_SECTION)
		return vruns_push(rs, ps, VMM_PAGE_SIZE, (pe - ps) / VMM_PAGE_SIZE, hva);
	res->sampled_sections++;
	ret = vruns_push(rs, ps, VMM_PAGE_SIZE, 1, hva);
	first = (ps / VMM_SAMPLE_STRIDE + 1) * VMM_SAMPLE_STRIDE;
	if (!ret && first < last)
		ret = vruns_push(rs, first, VMM_SAMPLE_STRIDE,
				 (last - 1 - first) / VMM_SAMPLE_STRIDE + 1, hva + (first - ps));
	if (!ret)
		ret = vruns_push(rs, last, VMM_PAGE_SIZE, 1, hva + (last - ps));
	return ret;
}

static int collect(struct vmm *v, const struct vmm_range *ranges, size_t n, bool full,
		   struct vruns *rs, struct vmm_verify_result *res, struct ms_error *err)
{
	struct ms_flatview *fv = ms_flatview__ref(ms_as__flatview(v->mem_as));
	size_t nr = ms_flatview__nr_ranges(fv);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		ms_u128 rs_start = ranges[i].gpa, rs_end = rs_start + ranges[i].size;
		uint64_t ram = 0;

		for (size_t j = 0; j < nr && !ret; j++) {
			const struct ms_flat_range *fr = ms_flatview__range(fv, j);
			ms_u128 s = fr->start, e = s + fr->size;
			uint64_t ps, pe;

			if (s < rs_start)
				s = rs_start;
			if (e > rs_end)
				e = rs_end;
			if (s < PROBE_RESERVED_END)
				s = PROBE_RESERVED_END;
			if (s >= e || !verifiable(fr))
				continue;
			ps = ((uint64_t)s + VMM_PAGE_SIZE - 1) & ~(VMM_PAGE_SIZE - 1);
			pe = (uint64_t)(e & ~(ms_u128)(VMM_PAGE_SIZE - 1));
			if (ps >= pe)
				continue;
			ret = check_gpa(v, ps, pe - ps, err);
			if (ret)
				break;
			ram += pe - ps;
			ret = pick_pages(rs, ps, pe,
					 (uint8_t *)ms_region__host_ptr(fr->mr) +
					 fr->offset_in_region + (ps - fr->start), full, res);
			if (ret)
				ms_error_set(err, ret, "verify: out of memory");
		}
		res->ram_bytes += ram;
		res->skipped_bytes += ranges[i].size - ram;
	}
	ms_flatview__unref(fv);
	return ret;
}

static void note_bad(struct vmm_verify_result *res, uint64_t gpa, uint64_t expected,
		     uint64_t found)
{
	if (res->first_bad_gpa != UINT64_MAX)
		return;
	res->first_bad_gpa = gpa;
	res->expected = expected;
	res->found = found;
}

/* One guest command over runs [first, end) that touch at most PROBE_NR_PD - 1 GiB. */
static int verify_batch(struct vmm *v, const struct vrun *runs, size_t nr, const uint64_t *gibs,
			size_t ngibs, uint64_t seed, struct vmm_verify_result *res,
			struct ms_error *err)
{
	struct probe_run *pr = (struct probe_run *)(v->low + PROBE_RUNS_GPA);
	struct probe_mbox *mb = v->mb;
	uint64_t pages = 0;
	int ret;

	for (size_t i = 0; i < nr; i++) {
		pr[i] = (struct probe_run){ runs[i].gpa, runs[i].stride, runs[i].count };
		pages += runs[i].count;
	}
	map_gibs(v, gibs, ngibs);
	mb->seed = seed;
	mb->nr_runs = nr;
	ret = command(v, PROBE_CMD_VERIFY, err);
	res->commands++;
	if (v->unslotted) {
		if (!res->unslotted)
			res->first_unslotted_gpa = v->first_unslotted;
		res->unslotted += v->unslotted;
	}
	if (ret)
		return ret;
	if (mb->pages != pages)
		return die(v, err, -EIO, "guest: verified %" PRIu64 " pages of %" PRIu64,
			   (uint64_t)mb->pages, pages);
	res->pages += pages;
	if (mb->mismatches) {
		res->guest_mismatches += mb->mismatches;
		note_bad(res, mb->first_bad, mb->first_bad ^ seed, mb->bad_value);
	}
	return 0;
}

/* Compare every page through the host address the flat view gave. */
static void host_check(const struct vruns *rs, uint64_t seed, struct vmm_verify_result *res)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct vrun *r = &rs->r[i];

		for (uint64_t k = 0; k < r->count; k++) {
			uint64_t gpa = r->gpa + k * r->stride, head, tail;
			const uint8_t *h = r->hva + k * r->stride;

			memcpy(&head, h, 8);
			memcpy(&tail, h + PROBE_SIG_LAST, 8);
			if (head == (gpa ^ seed) && tail == ~(gpa ^ seed))
				continue;
			res->host_mismatches++;
			note_bad(res, gpa, gpa ^ seed, head);
		}
	}
}

int vmm_verify(struct vmm *v, const struct vmm_range *ranges, size_t n, bool full,
	       struct vmm_verify_result *res, struct ms_error *err)
{
	uint64_t t0 = now_ns(), run0 = v->st.run_ns, exits0 = v->st.exits;
	uint64_t gibs[PROBE_NR_PD - 1], seed;
	struct vruns rs = { 0 };
	size_t first = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	res->first_bad_gpa = UINT64_MAX;
	res->first_unslotted_gpa = UINT64_MAX;
	ret = check_alive(v, err);
	if (ret)
		return ret;
	ret = collect(v, ranges, n, full, &rs, res, err);
	if (ret)
		goto out;
	seed = mix64(v->opts.seed + ++v->verify_calls);

	/*
	 * Batches: at most PROBE_MAX_RUNS runs, PROBE_NR_PD - 1 GiB windows and
	 * BATCH_PAGES pages, so that no KVM_RUN lasts much longer than a second.
	 */
	while (first < rs.n) {
		size_t end = first, ngibs = 0;
		uint64_t pages = 0;

		while (end < rs.n && end - first < PROBE_MAX_RUNS) {
			uint64_t g = rs.r[end].gpa / GiB;
			size_t j;

			if (end > first && pages + rs.r[end].count > BATCH_PAGES)
				break;
			for (j = 0; j < ngibs && gibs[j] != g; j++)
				;
			if (g && j == ngibs) {
				if (ngibs == PROBE_NR_PD - 1)
					break;
				gibs[ngibs++] = g;
			}
			pages += rs.r[end].count;
			end++;
		}
		ret = verify_batch(v, rs.r + first, end - first, gibs, ngibs, seed, res, err);
		if (ret)
			goto out;
		first = end;
	}
	if (v->opts.before_check)
		v->opts.before_check(v->opts.opaque, v);
	host_check(&rs, seed, res);
out:
	free(rs.r);
	res->exits = v->st.exits - exits0;
	res->guest_ns = v->st.run_ns - run0;
	res->ns = now_ns() - t0;
	return ret;
}

/* ------------------------------------------------------------------------
 * Single accesses
 */

static int access_cmd(struct vmm *v, uint64_t cmd, uint64_t addr, unsigned int size,
		      uint64_t value, struct ms_error *err)
{
	struct probe_mbox *mb = v->mb;
	uint64_t gibs[2] = { addr / GiB, (addr + size - 1) / GiB };
	size_t ngibs = 0;

	if (cmd != PROBE_CMD_PIO_IN && cmd != PROBE_CMD_PIO_OUT) {
		if (gibs[0])
			gibs[ngibs++] = gibs[0];
		if (gibs[1] && gibs[1] != gibs[0])
			gibs[ngibs++] = gibs[1];
		map_gibs(v, gibs, ngibs);
	}
	mb->addr = addr;
	mb->size = size;
	mb->value = value;
	mb->value_out = 0;
	mb->value_before = 0;
	return command(v, cmd, err);
}

int vmm_probe_mmio(struct vmm *v, uint64_t gpa, unsigned int size, bool is_write,
		   uint64_t value, struct vmm_probe_result *res, struct ms_error *err)
{
	int ret;

	memset(res, 0, sizeof(*res));
	ret = check_alive(v, err);
	if (ret)
		return ret;
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return ms_error_set(err, -EINVAL, "mmio: access size %u, not 1, 2, 4 or 8", size);
	ret = check_gpa(v, gpa, size, err);
	if (ret)
		return ret;
	ret = access_cmd(v, is_write ? PROBE_CMD_WRITE : PROBE_CMD_READ, gpa, size, value, err);
	if (ret)
		return ret;
	res->exits = v->nr_access;
	if (v->nr_access)
		res->access = v->first_access;
	res->value = is_write ? 0 : v->mb->value_out;
	return 0;
}

int vmm_probe_pio(struct vmm *v, uint16_t port, unsigned int size, bool is_write,
		  uint64_t value, struct vmm_probe_result *res, struct ms_error *err)
{
	int ret;

	memset(res, 0, sizeof(*res));
	ret = check_alive(v, err);
	if (ret)
		return ret;
	if (size != 1 && size != 2 && size != 4)
		return ms_error_set(err, -EINVAL, "pio: access size %u, not 1, 2 or 4", size);
	if (port >= PROBE_PORT && port <= PROBE_PORT_FAULT)
		return ms_error_set(err, -EINVAL, "pio: port 0x%x is the guest's mailbox", port);
	ret = access_cmd(v, is_write ? PROBE_CMD_PIO_OUT : PROBE_CMD_PIO_IN, port, size, value,
			 err);
	if (ret)
		return ret;
	res->exits = v->nr_access;
	if (v->nr_access)
		res->access = v->first_access;
	res->value = is_write ? 0 : v->mb->value_out;
	return 0;
}

int vmm_probe_rom_write(struct vmm *v, uint64_t gpa, uint8_t value, struct vmm_rom_result *res,
			struct ms_error *err)
{
	const struct ms_flat_range *fr;
	uint64_t len = 1;
	uint8_t *hva;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = check_alive(v, err);
	if (ret)
		return ret;
	ret = check_gpa(v, gpa, 1, err);
	if (ret)
		return ret;
	fr = ms_as__translate(v->mem_as, gpa, &res->offset, &len);
	if (!fr || !ms_region__host_ptr(fr->mr))
		return ms_error_set(err, -EINVAL, "rom: no host memory at 0x%" PRIx64 " (%s)", gpa,
				    fr ? ms_region__name(fr->mr) : "unassigned");
	name_region(fr, res->region);
	hva = (uint8_t *)ms_region__host_ptr(fr->mr) + res->offset;
	res->host_before = *hva;
	if (value == res->host_before)
		return ms_error_set(err, -EINVAL,
				    "rom: 0x%" PRIx64 " already holds 0x%02x: write another value",
				    gpa, value);
	ret = access_cmd(v, PROBE_CMD_WRITE_READ, gpa, 1, value, err);
	if (ret)
		return ret;
	res->host_after = *hva;
	res->guest_before = (uint8_t)v->mb->value_before;
	res->guest_after = (uint8_t)v->mb->value_out;
	res->exited = v->nr_access > 0;
	if (res->exited)
		res->access = v->first_access;
	res->unchanged = res->host_after == res->host_before &&
			 res->guest_after == res->guest_before;
	return 0;
}
