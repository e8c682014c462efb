// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot tool: the embedded default topology.
 *
 * A QEMU 7.2 "pc" machine (-machine pc,accel=kvm -nodefaults -m 4G) reduced
 * to the regions that shape its memory map: compare
 * selftests/samples/qemu-7.2/pc-256m-stopped.mtree*.txt (same machine, 256 MiB)
 * and pc-4g-dimms-nvdimm.mtree.txt (the RAM split for 4 GiB).
 *
 * - RAM: with 4 GiB, more than the 0xe0000000 that fit below the PCI hole,
 *   so the pc machine puts 3 GiB (0xc0000000) below 4 GiB ("ram-below-4g")
 *   and the rest at 4 GiB ("ram-above-4g"), both aliases of "pc.ram".
 * - "pci" is a priority -1 container under "system", holding the option
 *   ROM area "pc.rom", the BIOS "pc.bios" at the top of 4 GiB and its last
 *   128 KiB mirrored at 0xe0000 ("isa-bios").
 * - The i440FX north bridge maps "smram-region" (VGA window to PCI) and
 *   13 PAM blocks (0xc0000-0xeffff in 16 KiB, 0xf0000-0xfffff as one
 *   64 KiB block). Each block has four priority-1 aliases added in this
 *   order: "pam-pci" of pci (enabled: PAM reset state, reads and writes go
 *   to PCI), "pam-rom" of pc.ram (read-only), "pam-pci" of pc.ram and
 *   "pam-ram" of pc.ram (disabled), so `info mtree -D` lists them newest
 *   first as QEMU does (regions-and-flatview.md rule 3.4).
 * - MMIO and port-I/O devices are single-register latches: reads return
 *   the last value written.
 * - Address spaces in QEMU's creation order: "memory" and "I/O" (memory
 *   map init), the PCI bus-master spaces "i440FX" and "PIIX3" (each a
 *   "bus master container" holding a disabled "bus master" alias of
 *   system, so root selection gives the empty view, rule 7.3), then the
 *   CPU's "cpu-memory-0".
 *
 * Owner texts are the ones QEMU 7.2 prints with -o under KVM for the same
 * machine (device numbers from pc-256m-stopped.mtree_f_o.txt).
 */
#include <errno.h>
#include <string.h>

#include "tool.h"

#define UNATTACHED	"obj path=/machine/unattached"
#define I440FX		"dev path=/machine/i440fx"
#define I440FX_PCI	"dev path=/machine/unattached/device[3]"
#define PIIX3_PCI	"dev path=/machine/unattached/device[4]"

#define PCI_ROM_SIZE	0x20000ULL	/* pc.rom, at 0xc0000 */
#define BIOS_SIZE	0x40000ULL	/* pc.bios, at 4 GiB - BIOS_SIZE */
#define ISA_BIOS_SIZE	0x20000ULL	/* last 128 KiB of pc.bios, at 0xe0000 */
#define PAM_BLOCKS	13

static int latch_read(void *opaque, uint64_t addr, uint64_t *val, unsigned int size)
{
	const uint64_t *latch = opaque;

	(void)addr;
	*val = size >= 8 ? *latch : *latch & ((1ULL << (size * 8)) - 1);
	return MS_MEMTX_OK;
}

static int latch_write(void *opaque, uint64_t addr, uint64_t val, unsigned int size)
{
	uint64_t *latch = opaque;

	(void)addr;
	(void)size;
	*latch = val;
	return MS_MEMTX_OK;
}

static const struct ms_region_ops latch_ops = {
	.read = latch_read,
	.write = latch_write,
	.valid_min = 1,
	.valid_max = 4,
	.impl_min = 1,
	.impl_max = 4,
};

/* Keep the creator's reference of @mr in @t and set its owner text. */
static struct ms_region *track(struct topology *t, struct ms_region *mr, const char *owner,
			       const char *parent)
{
	int ret;

	if (!mr)
		return NULL;
	if (t->nr_regions == TOPO_MAX_REGIONS) {
		ms_error_set(&t->err, -ENOSPC, "region %s: more than %d regions",
			     ms_region__name(mr), TOPO_MAX_REGIONS);
		ms_region__unref(mr);
		return NULL;
	}
	t->regions[t->nr_regions] = mr;
	t->nr_regions++;

	ret = ms_region__set_owner(mr, owner, parent);
	if (ret) {
		ms_error_set(&t->err, ret, "region %s: cannot set the owner", ms_region__name(mr));
		return NULL;
	}
	return mr;
}

static struct ms_region *device(struct topology *t, const char *name, uint64_t size,
				const char *owner)
{
	uint64_t *latch;

	if (t->nr_latches == TOPO_MAX_DEVS) {
		ms_error_set(&t->err, -ENOSPC, "region %s: more than %d devices", name,
			     TOPO_MAX_DEVS);
		return NULL;
	}
	latch = &t->latch[t->nr_latches++];
	return track(t, ms_region__new_io(t->ctx, name, size, &latch_ops, latch, &t->err),
		     owner, NULL);
}

static struct ms_region *alias(struct topology *t, const char *name, struct ms_region *target,
			       uint64_t offset, uint64_t size, const char *owner,
			       const char *parent)
{
	return track(t, ms_region__new_alias(t->ctx, name, target, offset, size, &t->err),
		     owner, parent);
}

static int map(struct topology *t, struct ms_region *container, uint64_t addr,
	       struct ms_region *sub, int32_t priority)
{
	return ms_region__add_subregion_overlap(container, addr, sub, priority, &t->err);
}

/* Create, (optionally disable) and map @name; NULL on failure. */
static struct ms_region *map_alias(struct topology *t, struct ms_region *container,
				   uint64_t addr, int32_t priority, bool enabled,
				   const char *name, struct ms_region *target, uint64_t offset,
				   uint64_t size, const char *owner, const char *parent)
{
	struct ms_region *mr = alias(t, name, target, offset, size, owner, parent);

	if (!mr)
		return NULL;
	if (!enabled)
		ms_region__set_enabled(mr, false);
	if (map(t, container, addr, mr, priority))
		return NULL;
	return mr;
}

static struct ms_region *map_device(struct topology *t, struct ms_region *container,
				    uint64_t addr, int32_t priority, const char *name,
				    uint64_t size, const char *owner)
{
	struct ms_region *mr = device(t, name, size, owner);

	if (!mr || map(t, container, addr, mr, priority))
		return NULL;
	return mr;
}

static int add_pam(struct topology *t, struct ms_region *system, struct ms_region *pci,
		   struct ms_region *ram)
{
	for (int i = 0; i < PAM_BLOCKS; i++) {
		uint64_t start = i ? 0xc0000 + (i - 1) * 0x4000ULL : 0xf0000;
		uint64_t size = i ? 0x4000 : 0x10000;
		struct ms_region *rom;

		if (!map_alias(t, system, start, 1, true, "pam-pci", pci, start, size, I440FX,
			       NULL))
			return -1;
		rom = alias(t, "pam-rom", ram, start, size, I440FX, NULL);
		if (!rom)
			return -1;
		ms_region__set_readonly(rom, true);
		ms_region__set_enabled(rom, false);
		if (map(t, system, start, rom, 1))
			return -1;
		if (!map_alias(t, system, start, 1, false, "pam-pci", ram, start, size, I440FX,
			       NULL) ||
		    !map_alias(t, system, start, 1, false, "pam-ram", ram, start, size, I440FX,
			       NULL))
			return -1;
	}
	return 0;
}

static struct ms_region *bus_master(struct topology *t, struct ms_region *system,
				    const char *owner)
{
	struct ms_region *bmc;

	bmc = track(t, ms_region__new_container(t->ctx, "bus master container", UINT64_MAX,
						&t->err), owner, NULL);
	if (!bmc || !map_alias(t, bmc, 0, 0, false, "bus master", system, 0, UINT64_MAX, owner,
				      NULL))
		return NULL;
	return bmc;
}

static int add_as(struct topology *t, struct ms_region *root, const char *name)
{
	struct ms_as *as;

	if (t->nr_as == TOPO_MAX_AS) {
		ms_error_set(&t->err, -ENOSPC, "address space %s: more than %d", name,
			     TOPO_MAX_AS);
		return -1;
	}
	as = ms_as__new(t->ctx, root, name, &t->err);
	if (!as)
		return -1;
	t->as[t->nr_as++] = as;
	return 0;
}

int topology_default(struct ms_ctx *ctx, struct topology *t)
{
	struct ms_region *system, *io, *ram, *pci, *bios, *mr, *bmc[2];
	int ret;

	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	ms_ctx__begin(ctx);

	system = track(t, ms_region__new_container(ctx, "system", UINT64_MAX, &t->err), NULL,
		       UNATTACHED);
	if (!system)
		goto fail;
	io = track(t, ms_region__new_io(ctx, "io", 0x10000, NULL, NULL, &t->err), NULL,
		   UNATTACHED);
	if (!io)
		goto fail;
	t->system = system;
	t->io = io;

	/* RAM, split around the PCI hole. */
	ram = track(t, ms_region__new_ram(ctx, "pc.ram", TOPO_RAM_SIZE, MS_RAM_ANON, &t->err),
		    "obj path=/objects/pc.ram", NULL);
	if (!ram)
		goto fail;
	t->ram = ram;
	if (!map_alias(t, system, 0, 0, true, "ram-below-4g", ram, 0, TOPO_BELOW_4G, NULL,
		       UNATTACHED) ||
	    !map_alias(t, system, 1ULL << 32, 0, true, "ram-above-4g", ram, TOPO_BELOW_4G,
		       TOPO_RAM_SIZE - TOPO_BELOW_4G, NULL, UNATTACHED))
		goto fail;

	/* PCI memory space with the BIOS and the option ROM area. */
	pci = track(t, ms_region__new_container(ctx, "pci", UINT64_MAX, &t->err), NULL,
		    UNATTACHED);
	if (!pci || map(t, system, 0, pci, -1))
		goto fail;
	bios = track(t, ms_region__new_rom(ctx, "pc.bios", BIOS_SIZE, &t->err), NULL, UNATTACHED);
	if (!bios || map(t, pci, (1ULL << 32) - BIOS_SIZE, bios, 0))
		goto fail;
	mr = alias(t, "isa-bios", bios, BIOS_SIZE - ISA_BIOS_SIZE, ISA_BIOS_SIZE, NULL,
		   UNATTACHED);
	if (!mr)
		goto fail;
	ms_region__set_readonly(mr, true);
	if (map(t, pci, 0x100000 - ISA_BIOS_SIZE, mr, 1))
		goto fail;
	mr = track(t, ms_region__new_rom(ctx, "pc.rom", PCI_ROM_SIZE, &t->err), NULL, UNATTACHED);
	if (!mr || map(t, pci, 0xc0000, mr, 1))
		goto fail;

	/* i440FX: SMRAM window and PAM. */
	if (!map_alias(t, system, 0xa0000, 1, true, "smram-region", pci, 0xa0000, 0x20000,
		       I440FX_PCI, NULL))
		goto fail;
	if (add_pam(t, system, pci, ram))
		goto fail;

	/* MMIO devices. */
	if (!map_device(t, system, 0xfec00000, 0, "kvm-ioapic", 0x1000,
			"dev path=/machine/i440fx/ioapic") ||
	    !map_device(t, system, 0xfed00000, 0, "hpet", 0x400,
			"dev path=/machine/unattached/device[9]") ||
	    !map_device(t, system, 0xfee00000, 4096, "kvm-apic-msi", 0x100000,
			"dev path=/machine/unattached/device[0]/lapic"))
		goto fail;

	/* Port I/O: "io" terminates, so the gaps render as "io @offset". */
	if (!map_device(t, io, 0x0, 0, "dma-chan", 8, "dev path=/machine/unattached/device[5]") ||
	    !map_device(t, io, 0x8, 0, "dma-cont", 8, "dev path=/machine/unattached/device[5]") ||
	    !map_device(t, io, 0x20, 0, "kvm-pic", 2, "dev path=/machine/unattached/device[7]"))
		goto fail;
	mr = map_device(t, io, 0x70, 0, "rtc", 2, "dev path=/machine/unattached/device[10]");
	if (!mr ||
	    !map_device(t, mr, 0x0, 0, "rtc-index", 1, "dev path=/machine/unattached/device[10]"))
		goto fail;
	if (!map_device(t, io, 0xcf8, 0, "pci-conf-idx", 4, I440FX) ||
	    !map_device(t, io, 0xcf9, 1, "piix3-reset-control", 1, PIIX3_PCI) ||
	    !map_device(t, io, 0xcfc, 0, "pci-conf-data", 4, I440FX))
		goto fail;

	/* PCI bus-master spaces, bus mastering off. */
	bmc[0] = bus_master(t, system, I440FX_PCI);
	if (!bmc[0])
		goto fail;
	bmc[1] = bus_master(t, system, PIIX3_PCI);
	if (!bmc[1])
		goto fail;

	ret = ms_ctx__commit(ctx);
	if (ret) {
		ms_error_set(&t->err, ret, "commit: %s", strerror(-ret));
		goto fail_commit;
	}

	if (add_as(t, system, "memory") || add_as(t, io, "I/O") ||
	    add_as(t, bmc[0], "i440FX") || add_as(t, bmc[1], "PIIX3") ||
	    add_as(t, system, "cpu-memory-0"))
		goto fail_commit;
	return 0;

fail:
	/* Constructors set errno and, given &t->err, fill it too. */
	ret = t->err.err ? t->err.err : -(errno ?: ENOMEM);
	ms_ctx__commit(ctx);
	topology_free(t);
	return ret;
fail_commit:
	ret = t->err.err ? t->err.err : -(errno ?: ENOMEM);
	topology_free(t);
	return ret;
}

void topology_free(struct topology *t)
{
	while (t->nr_as)
		ms_as__free(t->as[--t->nr_as]);
	/* Reverse creation order; containers and aliases hold their own references. */
	while (t->nr_regions)
		ms_region__unref(t->regions[--t->nr_regions]);
	t->system = t->io = t->ram = NULL;
}
