// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Machines: the memory map of a stopped QEMU "pc" or "q35" machine
 * (memory-devices.md section 4); its memory backends are in backend.c.
 *
 * The region tree is the one `info mtree` shows for QEMU 7.2 (compare
 * selftests/samples/qemu-7.2/pc-256m-stopped.mtree*.txt, pc-4g-dimms-nvdimm and
 * q35-1g-stopped), plus current QEMU's "device-memory" address space.
 * The KVM memory listener exists before the board is built, as in QEMU,
 * and the board is mapped in QEMU's commit order, so that the KVM slot
 * ids come out as in selftests/samples/qemu-7.2/kvm-ioctls-*.txt.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "memdev_internal.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define RAM_SIZE_ALIGN		(8 * KiB)	/* rule 4.5 */
#define DEFAULT_RAM_SIZE	(128 * MiB)	/* QEMU's -m default */
#define TARGET_PAGE_SIZE	4096ULL
#define MAX_RAM_SLOTS		256		/* rule 2.3 */
#define ABOVE_4G_START		(4 * GiB)	/* rule 4.3 */
#define PC_LOWMEM_DEFAULT	0xe0000000ULL	/* rule 4.1 */
#define PC_LOWMEM_GB_ALIGNED	0xc0000000ULL
#define Q35_LOWMEM_BIG		0x80000000ULL	/* rule 4.2 */
#define Q35_LOWMEM		0xb0000000ULL
#define DEVMEM_ALIGN		GiB		/* rule 2.3 */

/* fixed parts of the pc / q35 memory map */
#define PC_ROM_BASE		0xc0000ULL
#define PC_ROM_SIZE		0x20000ULL
#define BIOS_SIZE		0x40000ULL	/* pc.bios, ending at 4 GiB */
#define ISA_BIOS_SIZE		0x20000ULL	/* its last 128 KiB at 0xe0000 */
#define SMRAM_BASE		0xa0000ULL
#define SMRAM_SIZE		0x20000ULL
#define PAM_BLOCKS		13
#define PAM_BIOS_BASE		0xf0000ULL
#define PAM_BIOS_SIZE		0x10000ULL
#define PAM_EXPAN_BASE		0xc0000ULL
#define PAM_EXPAN_SIZE		0x4000ULL
#define IOAPIC_BASE		0xfec00000ULL
#define IOAPIC_SIZE		0x1000ULL
#define HPET_BASE		0xfed00000ULL
#define HPET_SIZE		0x400ULL
#define APIC_MSI_BASE		0xfee00000ULL
#define APIC_MSI_SIZE		0x100000ULL
#define APIC_MSI_PRIO		4096
#define IO_SIZE			0x10000ULL
#define KVMVAPIC_ROM_SIZE	0x3000ULL	/* kvmvapic.bin as SeaBIOS maps it */

/* owner texts QEMU prints with `info mtree -o` */
#define UNATTACHED		"obj path=/machine/unattached"
#define MACHINE_OBJ		"obj path=/machine"
#define LAPIC_DEV		"dev path=/machine/unattached/device[0]/lapic"
#define HPET_DEV		"dev path=/machine/unattached/device[9]"

/*
 * The commits QEMU makes while building the board, in order: the CPU's
 * APIC window, pc_memory_init()'s RAM aliases and device memory, the PCI
 * hole with the firmware (pc_pci_as_mapping_init()), the north bridge's
 * SMRAM and PAM aliases (one transaction), the remaining MMIO devices.
 */
enum stage {
	STAGE_CPU,
	STAGE_RAM_BELOW,
	STAGE_RAM_ABOVE,
	STAGE_DEVMEM,
	STAGE_PCI,
	STAGE_CHIPSET,
	STAGE_DEVICES,
	NR_STAGES,
};

struct pending {
	struct ms_region *mr;		/* creator reference */
	uint64_t addr;
	int32_t prio;
	enum stage stage;
};

#define MAX_PENDING	80

struct build {
	struct ms_machine *m;
	struct pending p[MAX_PENDING];
	unsigned int nr;
	struct ms_error *err;
	int ret;
};

/* ------------------------------------------------------------------------
 * Layout (rules 4.1-4.6)
 */

static int compute_layout(struct ms_machine *m, struct ms_error *err)
{
	struct ms_machine_opts *o = &m->opts;
	struct ms_machine_layout *l = &m->layout;
	uint64_t ram, maxmem, lowmem, max_below, devmem_size;
	ms_u128 end;

	if (o->type != MS_MACHINE_PC && o->type != MS_MACHINE_Q35)
		return ms_error_set(err, -EINVAL, "machine: unknown type %d", (int)o->type);
	if (!o->ram_size)
		o->ram_size = DEFAULT_RAM_SIZE;
	if (o->ram_size > UINT64_MAX - RAM_SIZE_ALIGN + 1)
		return ms_error_set(err, -EINVAL, "machine: bad RAM size 0x%llx",
				    (unsigned long long)o->ram_size);
	/* rule 4.5: RAM is rounded up to 8 KiB first (maxmem is not) */
	ram = align_up_u64(o->ram_size, RAM_SIZE_ALIGN);
	o->ram_size = ram;

	/*
	 * rule 4.5, in the order QEMU 7.2 reports them: the -m checks run when
	 * the option is parsed, before the machine properties and the board.
	 */
	if (o->maxmem) {
		if (o->maxmem < ram)
			return ms_error_set(err, -EINVAL,
					    "invalid value of maxmem: maximum memory size (0x%llx) must be at least the initial memory size (0x%llx)",
					    (unsigned long long)o->maxmem, (unsigned long long)ram);
		if (o->slots && o->maxmem == ram)
			return ms_error_set(err, -EINVAL,
					    "invalid value of maxmem: memory slots were specified but maximum memory size (0x%llx) is equal to the initial memory size (0x%llx)",
					    (unsigned long long)o->maxmem, (unsigned long long)ram);
	} else if (o->slots) {
		return ms_error_set(err, -EINVAL, "slots specified but no max-size");
	}
	maxmem = o->maxmem ? o->maxmem : ram;

	if (o->max_ram_below_4g > 4 * GiB)
		return ms_error_set(err, -EINVAL,
				    "Machine option 'max-ram-below-4g=%llu' expects size less than or equal to 4G",
				    (unsigned long long)o->max_ram_below_4g);

	if (o->type == MS_MACHINE_PC) {
		/* rule 4.1 */
		max_below = o->max_ram_below_4g ? o->max_ram_below_4g : PC_LOWMEM_DEFAULT;
		lowmem = max_below;
		if (ram >= max_below && !o->no_gigabyte_align) {
			if (lowmem > PC_LOWMEM_GB_ALIGNED)
				lowmem = PC_LOWMEM_GB_ALIGNED;
			if (lowmem & (GiB - 1))
				pr_warn("machine: max-ram-below-4g (%llu) is not a multiple of 1 GiB for a large machine: possibly bad performance\n",
					(unsigned long long)max_below);
		}
	} else {
		/* rule 4.2 */
		max_below = o->max_ram_below_4g ? o->max_ram_below_4g : 4 * GiB;
		lowmem = ram >= Q35_LOWMEM ? Q35_LOWMEM_BIG : Q35_LOWMEM;
		if (lowmem > max_below) {
			lowmem = max_below;
			if (ram > lowmem && ram - lowmem > lowmem && (lowmem & (GiB - 1)))
				pr_warn("machine: RAM (0x%llx) is more than twice max-ram-below-4g (%llu), which is not a multiple of 1 GiB: possibly bad performance\n",
					(unsigned long long)ram, (unsigned long long)max_below);
		}
	}
	memset(l, 0, sizeof(*l));
	if (ram >= lowmem) {
		l->below_4g = lowmem;
		l->above_4g = ram - lowmem;
	} else {
		l->below_4g = ram;
	}
	l->above_4g_start = ABOVE_4G_START;
	l->hotpluggable = maxmem - ram;

	/* rule 4.4: device memory iff maxmem > RAM */
	if (o->no_device_memory && (o->slots || maxmem > ram))
		return ms_error_set(err, -EINVAL, "\"-memory 'slots|maxmem'\" is not supported by: %s",
				    o->type_name ? o->type_name :
				    o->type == MS_MACHINE_Q35 ? "q35" : "pc");
	if (maxmem <= ram)
		return 0;
	if (o->slots > MAX_RAM_SLOTS)
		return ms_error_set(err, -EINVAL, "unsupported amount of memory slots: %u",
				    o->slots);
	if (maxmem % TARGET_PAGE_SIZE)
		return ms_error_set(err, -EINVAL,
				    "maximum memory size must by aligned to multiple of %llu bytes",
				    TARGET_PAGE_SIZE);
	end = (ms_u128)l->above_4g_start + l->above_4g;
	end = (end + DEVMEM_ALIGN - 1) / DEVMEM_ALIGN * DEVMEM_ALIGN;
	/* QEMU prints maxmem with RAM_ADDR_FMT: hex without 0x */
	if (end > UINT64_MAX)
		return ms_error_set(err, -EINVAL, "unsupported amount of maximum memory: %llx",
				    (unsigned long long)maxmem);
	l->devmem_base = (uint64_t)end;
	/* 7.2's pc-i440fx-2.1 and older: no per-slot slack (rule 4.4) */
	end = (ms_u128)(maxmem - ram) + (o->legacy_dimm_align ? 0 : (ms_u128)GiB * o->slots);
	if (end > UINT64_MAX || (ms_u128)l->devmem_base + end > UINT64_MAX)
		return ms_error_set(err, -EINVAL, "unsupported amount of maximum memory: %llx",
				    (unsigned long long)maxmem);
	devmem_size = (uint64_t)end;
	l->devmem_size = devmem_size;
	/* rule 4.6: wraps like QEMU's ROUND_UP for a map ending near 2^64 */
	l->reserved_end = align_up_u64(l->devmem_base + devmem_size, GiB);
	return 0;
}

void ms_machine__layout(const struct ms_machine *m, struct ms_machine_layout *l)
{
	*l = m->layout;
}

/* ------------------------------------------------------------------------
 * Building the board
 */

static int build_fail(struct build *b)
{
	if (!b->ret)
		b->ret = -(errno ?: ENOMEM);
	if (b->err && !b->err->err)
		ms_error_set(b->err, b->ret, "machine: %s", strerror(-b->ret));
	return b->ret;
}

/* Set owner texts; consumes @mr on failure. */
static struct ms_region *owned(struct build *b, struct ms_region *mr, const char *owner,
			       const char *parent)
{
	int ret;

	if (!mr) {
		build_fail(b);
		return NULL;
	}
	ret = ms_region__set_owner(mr, owner, parent);
	if (ret) {
		b->ret = ret;
		ms_error_set(b->err, ret, "region %s: out of memory", ms_region__name(mr));
		ms_region__unref(mr);
		return NULL;
	}
	return mr;
}

/* Queue @mr (creator reference) for mapping into "system" at @stage. */
static int later(struct build *b, enum stage stage, uint64_t addr, struct ms_region *mr,
		 int32_t prio)
{
	if (!mr)
		return build_fail(b);
	b->p[b->nr++] = (struct pending){ .mr = mr, .addr = addr, .prio = prio, .stage = stage };
	return 0;
}

/* Map @sub into @container now (creator reference consumed). */
static int now(struct build *b, struct ms_region *container, uint64_t addr,
	       struct ms_region *sub, int32_t prio)
{
	int ret;

	if (!sub)
		return build_fail(b);
	ret = ms_region__add_subregion_overlap(container, addr, sub, prio, b->err);
	ms_region__unref(sub);
	if (ret)
		b->ret = ret;
	return ret;
}

static struct ms_region *alias(struct build *b, const char *name, struct ms_region *target,
			       uint64_t offset, uint64_t size, bool enabled, bool readonly,
			       const char *owner, const char *parent)
{
	struct ms_region *mr = ms_region__new_alias(b->m->ctx, name, target, offset, size, b->err);

	mr = owned(b, mr, owner, parent);
	if (mr) {
		ms_region__set_enabled(mr, enabled);
		if (readonly)
			ms_region__set_readonly(mr, true);
	}
	return mr;
}

static struct ms_region *mmio(struct build *b, const char *name, uint64_t size,
			      const char *owner)
{
	/* "unassigned" I/O: reads 0, writes ignored; no memslot either way */
	return owned(b, ms_region__new_io(b->m->ctx, name, size, NULL, NULL, b->err), owner,
		     NULL);
}

/* i440FX / MCH: SMRAM window and the 13 PAM blocks in their reset state */
static int build_chipset(struct build *b, const char *pci_owner, const char *pam_owner)
{
	struct ms_machine *m = b->m;

	if (later(b, STAGE_CHIPSET, SMRAM_BASE,
		  alias(b, "smram-region", m->pci, SMRAM_BASE, SMRAM_SIZE, true, false,
			pci_owner, NULL), 1))
		return b->ret;
	for (int i = 0; i < PAM_BLOCKS; i++) {
		uint64_t start = i ? PAM_EXPAN_BASE + (i - 1) * PAM_EXPAN_SIZE : PAM_BIOS_BASE;
		uint64_t size = i ? PAM_EXPAN_SIZE : PAM_BIOS_SIZE;

		/*
		 * Four priority-1 aliases per block, added in this order so
		 * that `info mtree -D` lists them newest first as QEMU does;
		 * only the PCI one is enabled before the firmware runs.
		 */
		if (later(b, STAGE_CHIPSET, start,
			  m->pam[i][0] = alias(b, "pam-pci", m->pci, start, size, true, false,
					       pam_owner, NULL), 1) ||
		    later(b, STAGE_CHIPSET, start,
			  m->pam[i][1] = alias(b, "pam-rom", m->ram, start, size, false, true,
					       pam_owner, NULL), 1) ||
		    later(b, STAGE_CHIPSET, start,
			  m->pam[i][2] = alias(b, "pam-pci", m->ram, start, size, false, false,
					       pam_owner, NULL), 1) ||
		    later(b, STAGE_CHIPSET, start,
			  m->pam[i][3] = alias(b, "pam-ram", m->ram, start, size, false, false,
					       pam_owner, NULL), 1))
			return b->ret;
	}
	return 0;
}

/*
 * Boot RAM (m->ram): QEMU's own "pc.ram"; or -M memory-backend=ID's region;
 * or, with -numa node,memdev=ID, QEMU 7.2's numa_init_memdev_container():
 * a container "pc.ram" holding the node backends one after the other, so
 * that ram-below-4g and ram-above-4g show the backends' RAM.
 */
static int build_ram(struct build *b)
{
	struct ms_machine *m = b->m;
	const struct ms_machine_opts *o = &m->opts;
	struct ms_backend *be;
	uint64_t off = 0;

	if (!o->nr_ram_backends) {
		m->ram = owned(b, ms_region__new_ram(m->ctx, "pc.ram", o->ram_size, MS_RAM_ANON,
						     b->err), "obj path=/objects/pc.ram", NULL);
		return m->ram ? 0 : b->ret;
	}
	if (!o->ram_numa) {
		be = ms_machine__find_backend(m, o->ram_backends[0].id);
		m->ram = ms_region__ref(be->mr);
		return 0;
	}
	m->ram = owned(b, ms_region__new_container(m->ctx, "pc.ram", o->ram_size, b->err),
		       MACHINE_OBJ, NULL);
	if (!m->ram)
		return b->ret;
	for (size_t i = 0; i < o->nr_ram_backends; i++) {
		be = ms_machine__find_backend(m, o->ram_backends[i].id);
		if (now(b, m->ram, off, ms_region__ref(be->mr), 0))
			return b->ret;
		off += be->size;
	}
	return 0;
}

/*
 * The RAM backends, before the board: QEMU creates -object backends
 * before the machine, then checks their sizes against -m (7.2:
 * numa_complete_configuration(), machine_run_board_init()).
 */
static int add_ram_backends(struct ms_machine *m, struct ms_error *err)
{
	const struct ms_machine_opts *o = &m->opts;
	uint64_t total = 0;

	if (!o->nr_ram_backends)
		return 0;
	if (!o->ram_backends || (!o->ram_numa && o->nr_ram_backends != 1))
		return ms_error_set(err, -EINVAL, "machine: bad RAM backends");
	for (size_t i = 0; i < o->nr_ram_backends; i++) {
		struct ms_backend *be = ms_machine__add_backend(m, &o->ram_backends[i], err);

		if (!be)
			return -(errno ?: ENOMEM);
		be->mapped = true;
		total += be->size;
	}
	if (o->ram_numa && total != o->ram_size)
		return ms_error_set(err, -EINVAL,
				    "total memory for NUMA nodes (0x%llx) should equal RAM size (0x%llx)",
				    (unsigned long long)total, (unsigned long long)o->ram_size);
	if (!o->ram_numa && total != o->ram_size)
		return ms_error_set(err, -EINVAL,
				    "Machine memory size does not match the size of the memory backend");
	return 0;
}

/* Create every region; only the contents of "pci" are mapped yet. */
static int build_regions(struct build *b)
{
	struct ms_machine *m = b->m;
	const struct ms_machine_layout *l = &m->layout;
	bool q35 = m->opts.type == MS_MACHINE_Q35;
	struct ms_ctx *ctx = m->ctx;
	uint64_t bios_size = m->opts.bios_size ? m->opts.bios_size : BIOS_SIZE;
	struct ms_region *bios;

	m->system = owned(b, ms_region__new_container(ctx, "system", UINT64_MAX, b->err), NULL,
			  UNATTACHED);
	if (!m->system)
		return b->ret;
	m->io = owned(b, ms_region__new_io(ctx, "io", IO_SIZE, NULL, NULL, b->err), NULL,
		      UNATTACHED);
	if (!m->io)
		return b->ret;

	if (later(b, STAGE_CPU, APIC_MSI_BASE, mmio(b, "kvm-apic-msi", APIC_MSI_SIZE, LAPIC_DEV),
		  APIC_MSI_PRIO))
		return b->ret;

	/* boot RAM: library memory, MAP_NORESERVE and no THP, never touched */
	if (build_ram(b))
		return b->ret;
	if (later(b, STAGE_RAM_BELOW, 0,
		  alias(b, "ram-below-4g", m->ram, 0, l->below_4g, true, false, NULL,
			UNATTACHED), 0))
		return b->ret;
	if (l->above_4g &&
	    later(b, STAGE_RAM_ABOVE, l->above_4g_start,
		  alias(b, "ram-above-4g", m->ram, l->below_4g, l->above_4g, true, false, NULL,
			UNATTACHED), 0))
		return b->ret;

	if (l->devmem_size) {
		m->devmem = owned(b, ms_region__new_container(ctx, "device-memory", l->devmem_size,
							       b->err), MACHINE_OBJ, NULL);
		if (!m->devmem)
			return b->ret;
		ms_region__ref(m->devmem);	/* the machine's own reference */
		if (later(b, STAGE_DEVMEM, l->devmem_base, m->devmem, 0))
			return b->ret;
	}

	/* the PCI hole with the BIOS and the option ROM area */
	m->pci = owned(b, ms_region__new_container(ctx, "pci", UINT64_MAX, b->err), NULL,
		       UNATTACHED);
	if (!m->pci)
		return b->ret;
	ms_region__ref(m->pci);
	if (later(b, STAGE_PCI, 0, m->pci, -1))
		return b->ret;
	bios = owned(b, ms_region__new_rom(ctx, "pc.bios", bios_size, b->err), NULL, UNATTACHED);
	if (!bios)
		return b->ret;
	if (now(b, m->pci, ABOVE_4G_START - bios_size, ms_region__ref(bios), 0)) {
		ms_region__unref(bios);
		return b->ret;
	}
	if (now(b, m->pci, 0x100000 - ISA_BIOS_SIZE,
		alias(b, "isa-bios", bios, bios_size - ISA_BIOS_SIZE, ISA_BIOS_SIZE, true, true,
		      NULL, UNATTACHED), 1)) {
		ms_region__unref(bios);
		return b->ret;
	}
	ms_region__unref(bios);
	if (now(b, m->pci, PC_ROM_BASE,
		owned(b, ms_region__new_rom(ctx, "pc.rom", PC_ROM_SIZE, b->err), NULL,
		      UNATTACHED), 1))
		return b->ret;

	if (build_chipset(b, q35 ? "dev path=/machine/q35/mch" :
				   "dev path=/machine/unattached/device[3]",
			  q35 ? "dev path=/machine/q35/mch" : "dev path=/machine/i440fx"))
		return b->ret;

	if (later(b, STAGE_DEVICES, IOAPIC_BASE,
		  mmio(b, "kvm-ioapic", IOAPIC_SIZE, q35 ? "dev path=/machine/q35/ioapic" :
							   "dev path=/machine/i440fx/ioapic"),
		  0) ||
	    later(b, STAGE_DEVICES, HPET_BASE, mmio(b, "hpet", HPET_SIZE, HPET_DEV), 0))
		return b->ret;
	return 0;
}

/*
 * The layout after SeaBIOS's POST (enum ms_firmware), as QEMU 7.2 shows it
 * for a pc or q35 machine without option ROMs: PAM block 0 (0xf0000) and
 * blocks 1-10 (0xc0000-0xe7fff) in ROM mode (read-only RAM), blocks 11 and
 * 12 in RAM mode, and the kvmvapic option ROM, an alias of the RAM at
 * 0xc0000 above everything (priority 1000). One transaction, as the
 * firmware's PAM writes end in the north bridge's one update each; the
 * final layout is what counts.
 */
static int run_seabios(struct build *b)
{
	struct ms_machine *m = b->m;
	int ret;

	ms_ctx__begin(m->ctx);
	for (int i = 0; i < PAM_BLOCKS; i++) {
		int mode = i <= 10 ? 1 : 3;	/* pam-rom, else pam-ram */

		for (int k = 0; k < 4; k++)
			ms_region__set_enabled(m->pam[i][k], k == mode);
	}
	ret = now(b, m->system, PC_ROM_BASE,
		  alias(b, "kvmvapic-rom", m->ram, PC_ROM_BASE, KVMVAPIC_ROM_SIZE, true, false,
			"dev path=/machine/unattached/device[1]", NULL), 1000);
	ms_ctx__commit(m->ctx);
	return ret;
}

static int add_as(struct build *b, struct ms_as **as, struct ms_region *root, const char *name)
{
	*as = ms_as__new(b->m->ctx, root, name, b->err);
	return *as ? 0 : build_fail(b);
}

/* -M smm=: does the machine get QEMU's KVM-SMRAM address space? */
static int smm_wanted(struct ms_machine *m, bool *on, struct ms_error *err)
{
	bool kvm_smm = m->opts.kvm ? ms_kvm__has_smm(m->opts.kvm) : !m->opts.kvm_no_smm;

	*on = false;
	if (m->opts.smm == MS_SMM_OFF || !m->opts.kvm_memslots)
		return 0;
	if (m->opts.smm != MS_SMM_ON && m->opts.smm != MS_SMM_AUTO)
		return ms_error_set(err, -EINVAL, "machine: bad smm value %d", (int)m->opts.smm);
	if (!kvm_smm) {
		if (m->opts.smm == MS_SMM_ON)
			return ms_error_set(err, -ENOTSUP,
					    "System Management Mode not supported by this hypervisor.");
		return 0;
	}
	*on = true;
	return 0;
}

/*
 * kvm-memslots.md 1.2, at machine-init-done: "mem-container-smram" holds
 * an alias of all system memory and, at priority 10, the chipset's
 * "smram" region (4 GiB). The i440FX enables it with its "smram-low"
 * window onto RAM at 0xa0000 (the same RAM "memory" maps there before
 * the firmware runs); the Q35 MCH enables it empty (its windows are off
 * until the firmware opens them). Its slot map is address space 1.
 */
static int add_smram(struct build *b)
{
	struct ms_machine *m = b->m;
	bool q35 = m->opts.type == MS_MACHINE_Q35;
	const char *owner = q35 ? "dev path=/machine/q35/mch" :
				  "dev path=/machine/unattached/device[3]";
	struct ms_ctx *ctx = m->ctx;
	struct ms_region *smram;
	int ret;

	m->smram_root = owned(b, ms_region__new_container(ctx, "mem-container-smram", UINT64_MAX,
							  b->err), "obj type=kvm-accel", NULL);
	if (!m->smram_root)
		return b->ret;
	smram = owned(b, ms_region__new_container(ctx, "smram", ABOVE_4G_START, b->err), owner,
		      NULL);
	if (!smram)
		return b->ret;
	ms_ctx__begin(ctx);
	ret = now(b, smram, SMRAM_BASE,
		  alias(b, "smram-low", m->ram, SMRAM_BASE, SMRAM_SIZE, !q35, false, owner, NULL),
		  0);
	if (ret) {
		ms_ctx__commit(ctx);
		ms_region__unref(smram);
		return ret;
	}
	ret = now(b, m->smram_root, 0, smram, 10) ||
	      now(b, m->smram_root, 0,
		  alias(b, "mem-smram", m->system, 0, UINT64_MAX, true, false, "obj type=kvm-accel",
			NULL), 0);
	ms_ctx__commit(ctx);
	if (ret)
		return b->ret;
	return add_as(b, &m->smram_as, m->smram_root, "KVM-SMRAM");
}

/* Map the queued regions, one commit per stage. */
static int map_stages(struct build *b)
{
	struct ms_machine *m = b->m;
	int ret = 0;

	for (int st = 0; st < NR_STAGES; st++) {
		ms_ctx__begin(m->ctx);
		for (unsigned int i = 0; i < b->nr; i++) {
			struct pending *p = &b->p[i];

			if (!p->mr || p->stage != (enum stage)st)
				continue;
			if (!ret)
				ret = ms_region__add_subregion_overlap(m->system, p->addr, p->mr,
								       p->prio, b->err);
			ms_region__unref(p->mr);
			p->mr = NULL;
		}
		ms_ctx__commit(m->ctx);
	}
	if (ret)
		b->ret = ret;
	return ret;
}

/*
 * A slot whose delete KVM refused stays in its slot map without a section
 * (slotmap.h): unmapping the views does not reach it. Delete it here.
 */
static int drop_kept_slot(const struct ms_memslot *s, void *opaque)
{
	const struct ms_machine *m = opaque;
	struct ms_slot_op op = { .kind = MS_SLOT_OP_DELETE, .slot = *s };

	op.slot.size = 0;
	op.slot.flags = 0;
	if (m->opts.kvm)
		ms_kvm__exec(m->opts.kvm, &op);
	else if (m->opts.kvm_exec)
		m->opts.kvm_exec(m->opts.kvm_exec_opaque, &op);
	return 0;
}

/*
 * Unmap everything from "system", so that KVM sees its slots deleted; the
 * slots the maps still hold then are ones kept by a failed delete.
 */
static void unmap_all(struct ms_machine *m)
{
	struct ms_region *system = m->system;

	ms_ctx__begin(m->ctx);
	while (!list_empty(&system->subregions)) {
		struct ms_region *sub = list_entry(system->subregions.next, struct ms_region,
						   node);

		ms_region__del_subregion(system, sub, NULL);
	}
	while (m->smram_root && !list_empty(&m->smram_root->subregions)) {
		struct ms_region *sub = list_entry(m->smram_root->subregions.next,
						   struct ms_region, node);

		ms_region__del_subregion(m->smram_root, sub, NULL);
	}
	ms_ctx__commit(m->ctx);
	if (m->kvm)
		ms_slotmap__for_each(m->kvm, drop_kept_slot, m);
	if (m->kvm_smm)
		ms_slotmap__for_each(m->kvm_smm, drop_kept_slot, m);
}

static void machine_teardown(struct ms_machine *m)
{
	struct ms_ctx *ctx = m->ctx;

	ms_slotmap__free(m->kvm_smm);
	m->kvm_smm = NULL;
	ms_slotmap__free(m->kvm);
	m->kvm = NULL;
	ms_ctx__begin(ctx);
	memdev_machine_fini(m);
	ms_as__free(m->smram_as);
	ms_region__unref(m->smram_root);
	ms_as__free(m->memory_as);
	ms_as__free(m->cpu_as);
	ms_as__free(m->io_as);
	while (!list_empty(&m->backends)) {
		struct ms_backend *b = list_entry(m->backends.next, struct ms_backend, node);

		list_del(&b->node);
		ms_region__unref(b->mr);
		free(b->id);
		free(b->qom_path);
		free(b);
	}
	htab_fini(&m->backend_ids);
	htab_fini(&m->backend_regions);
	ms_region__unref(m->devmem);
	ms_region__unref(m->pci);
	ms_region__unref(m->ram);
	ms_region__unref(m->io);
	ms_region__unref(m->system);
	ms_ctx__commit(ctx);
	free(m);
}

struct ms_machine *ms_machine__new(struct ms_ctx *ctx, const struct ms_machine_opts *opts,
				   struct ms_error *err)
{
	struct build *b;
	struct ms_machine *m;
	const struct ms_error *kerr;
	bool smm;
	int ret;

	if (!ctx || !opts) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "machine: no context or options");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	b = calloc(1, sizeof(*b));
	if (!m || !b) {
		free(m);
		free(b);
		errno = ENOMEM;
		ms_error_set(err, -ENOMEM, "machine: out of memory");
		return NULL;
	}
	m->ctx = ctx;
	memcpy(&m->opts, opts, opts->sz < sizeof(m->opts) ? opts->sz : sizeof(m->opts));
	m->opts.sz = sizeof(m->opts);
	list_init(&m->backends);
	list_init(&m->devices);
	list_init(&m->custom_devices);
	list_init(&m->vhosts);
	b->m = m;
	b->err = err;

	ret = compute_layout(m, err);
	if (m->opts.kvm && !m->opts.kvm_memslots)
		m->opts.kvm_memslots = ms_kvm__max_memslots(m->opts.kvm);
	if (!ret)
		ret = smm_wanted(m, &smm, err);
	if (!ret && m->opts.bios_size &&
	    (m->opts.bios_size < ISA_BIOS_SIZE || m->opts.bios_size % TARGET_PAGE_SIZE ||
	     m->opts.bios_size > 16 * MiB))
		ret = ms_error_set(err, -EINVAL, "machine: bad BIOS size 0x%llx",
				   (unsigned long long)m->opts.bios_size);
	if (!ret && m->opts.firmware != MS_FIRMWARE_NONE && m->opts.firmware != MS_FIRMWARE_SEABIOS)
		ret = ms_error_set(err, -EINVAL, "machine: bad firmware %d", (int)m->opts.firmware);
	if (ret)
		goto err_free;

	/* 1. every region, unmapped: failures here touch nothing */
	ret = add_ram_backends(m, err);
	if (!ret)
		ret = build_regions(b);
	if (ret)
		goto err_teardown;
	/* 2. address spaces in QEMU's creation order, then the KVM listener */
	if (add_as(b, &m->memory_as, m->system, "memory") ||
	    add_as(b, &m->io_as, m->io, "I/O") ||
	    add_as(b, &m->cpu_as, m->system, "cpu-memory-0")) {
		ret = b->ret;
		goto err_teardown;
	}
	if (m->devmem) {
		ret = memdev_devmem_init(m, err);
		if (ret)
			goto err_teardown;
	}
	if (m->opts.kvm_memslots) {
		MS_OPTS(ms_slotmap_opts, so, .max_slots = m->opts.kvm_memslots,
			.page_size = m->opts.page_size, .exec = m->opts.kvm_exec,
			.exec_opaque = m->opts.kvm_exec_opaque, .kvm = m->opts.kvm);

		m->kvm = ms_slotmap__new(m->memory_as, &so, err);
		if (!m->kvm) {
			ret = -(errno ?: ENOMEM);
			goto err_teardown;
		}
	}
	/* 3. the board, commit by commit */
	ret = map_stages(b);
	/* 4. machine-init-done: SMM's address space and its KVM listener */
	if (!ret && smm) {
		MS_OPTS(ms_slotmap_opts, so, .as_id = 1, .max_slots = m->opts.kvm_memslots,
			.page_size = m->opts.page_size, .exec = m->opts.kvm_exec,
			.exec_opaque = m->opts.kvm_exec_opaque, .kvm = m->opts.kvm);

		ret = add_smram(b);
		if (!ret) {
			m->kvm_smm = ms_slotmap__new(m->smram_as, &so, err);
			if (!m->kvm_smm)
				ret = -(errno ?: ENOMEM);
		}
	}
	/* 5. the firmware */
	if (!ret && m->opts.firmware == MS_FIRMWARE_SEABIOS)
		ret = run_seabios(b);
	/* a commit that could not render left a view without the board */
	if (!ret && m->ctx->update_pending)
		ret = ms_error_set(err, -ENOMEM, "machine: out of memory rendering the memory map");
	kerr = m->kvm ? ms_slotmap__error(m->kvm) : NULL;
	if (!kerr && m->kvm_smm)
		kerr = ms_slotmap__error(m->kvm_smm);
	if (!ret && kerr) {
		ret = kerr->err ? kerr->err : -EIO;
		if (err)
			*err = *kerr;
	}
	if (ret)
		goto err_unmap;
	m->opts.ram_backends = NULL;	/* the caller's, used while building */
	m->opts.type_name = NULL;
	free(b);
	return m;

err_unmap:
	if (m->kvm || m->kvm_smm)
		unmap_all(m);
err_teardown:
	for (unsigned int i = 0; i < b->nr; i++)
		ms_region__unref(b->p[i].mr);
	machine_teardown(m);
	free(b);
	errno = -ret;
	return NULL;
err_free:
	free(m);
	free(b);
	errno = -ret;
	return NULL;
}

void ms_machine__free(struct ms_machine *m)
{
	if (m)
		machine_teardown(m);
}

struct ms_ctx *ms_machine__ctx(const struct ms_machine *m) { return m->ctx; }
struct ms_region *ms_machine__system(const struct ms_machine *m) { return m->system; }
struct ms_as *ms_machine__memory_as(const struct ms_machine *m) { return m->memory_as; }
struct ms_slotmap *ms_machine__kvm(const struct ms_machine *m) { return m->kvm; }
struct ms_slotmap *ms_machine__kvm_smm(const struct ms_machine *m) { return m->kvm_smm; }
