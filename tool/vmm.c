// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The minimal VMM of `memslot run` (vmm.h): one vCPU, the probe guest of
 * tool/guest/probe.S, and exit handling that sends MMIO exits through the
 * "memory" address space and port I/O through "I/O" (vmm_vcpu.c). This
 * file creates and frees it.
 *
 * Mode setup: the vCPU starts in 64-bit mode through KVM_SET_SREGS (CR0.PE
 * |ET|NE|PG, CR4.PAE, EFER.LME|LMA, CS a 64-bit code segment, a busy TSS
 * in TR as VM entry wants one, CR3 the host-built PML4 of vmm_window.c),
 * with KVM's supported CPUID set first (KVM refuses EFER.LME without
 * CPUID.LM). No in-kernel irqchip is created, so that the IOAPIC and APIC
 * windows exit to user space like any other MMIO, and HLT exits as
 * KVM_EXIT_HLT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm_internal.h"

/* tool/guest/embed.S: the flat image of probe.S, linked at PROBE_CODE_GPA */
extern const unsigned char probe_guest_start[], probe_guest_end[];

#define DEFAULT_SEED		0x6d656d736c6f7421ULL

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

	window_init(v);
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
	ret = vcpu_run(v, &status, err);
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
