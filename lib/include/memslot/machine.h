/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot machines: pc and q35 presets of a stopped QEMU machine
 * (memory-devices.md 4), memory backends, device memory, memory-device
 * hot(un)plug (rule 5), memslot consumers (KVM, vhost; rules 6, 9).
 */
#ifndef MEMSLOT_MACHINE_H
#define MEMSLOT_MACHINE_H

#include "memdev.h"

/**
 * enum ms_machine_type - presets
 * @MS_MACHINE_PC: i440FX "pc"
 * @MS_MACHINE_Q35: "q35"
 */
enum ms_machine_type {
	MS_MACHINE_PC,
	MS_MACHINE_Q35,
};

/**
 * enum ms_smm - -M smm=
 * @MS_SMM_AUTO: on where the KVM consumer supports SMM (QEMU's default)
 * @MS_SMM_ON: on; an error where the KVM consumer does not support it
 * @MS_SMM_OFF: off
 */
enum ms_smm {
	MS_SMM_AUTO,
	MS_SMM_ON,
	MS_SMM_OFF,
};

/**
 * enum ms_firmware - what has run in the guest before the plan starts
 * @MS_FIRMWARE_NONE: nothing: the machine as a stopped QEMU (-S) has it
 * @MS_FIRMWARE_SEABIOS: QEMU 7.2's SeaBIOS finished POST on a machine
 *	without option ROMs of its own (only QEMU's kvmvapic): PAM shadowing
 *	with 0xc0000-0xe7fff and 0xf0000-0xfffff read-only RAM, 0xe8000-0xeffff
 *	writable RAM, and the kvmvapic ROM at 0xc0000 (3 pages). Option ROMs
 *	(VGA, network boot) move the read-only end and are not modelled.
 */
enum ms_firmware {
	MS_FIRMWARE_NONE,
	MS_FIRMWARE_SEABIOS,
};

/**
 * struct ms_machine_opts - -M / -m options
 * @sz: MS_OPTS
 * @type: preset
 * @ram_size: -m size in bytes (rounded up to 8 KiB, rule 4.5); 0: QEMU's
 *	default of 128 MiB
 * @slots: -m slots=N
 * @maxmem: -m maxmem=SIZE, 0 if not given
 * @max_ram_below_4g: -M max-ram-below-4g=SIZE, 0 for the default
 * @nvdimm: -M nvdimm=on
 * @kvm_memslots: KVM_CAP_NR_MEMSLOTS of the KVM consumer; 0: no KVM
 *	(with @kvm: 0 means ms_kvm__max_memslots() of @kvm)
 * @page_size: host page size for the memslot mapping, 0: the host's
 * @kvm_exec: executor of KVM slot operations for other consumers than the
 *	KVM binding, or NULL; not with @kvm (ms_slotmap_opts.exec)
 * @kvm_exec_opaque: passed to @kvm_exec
 * @kvm: the KVM binding that sets the memslots, or NULL for the pure
 *	memslot mapping. The library executes every slot operation on it
 *	and counts them (ms_kvm__stats()); a failure's details are in the
 *	&struct ms_error of the failing call (MS_ERROR_KVM) and in
 *	ms_kvm__first_error(). Not owned; it must outlive the machine.
 * @smm: -M smm=; with SMM and a KVM consumer the machine has QEMU's
 *	"KVM-SMRAM" address space and a second slot map, address space 1
 *	(kvm-memslots.md 1.2, ms_machine__kvm_smm())
 * @kvm_no_smm: the KVM consumer lacks KVM_CAP_X86_SMM (with @kvm, its
 *	ms_kvm__has_smm() decides instead)
 * @firmware: the layout after this firmware ran (enum ms_firmware), set
 *	after machine-init-done in one transaction
 * @ram_backends: the backends boot RAM is made of, NULL for QEMU's own
 *	"pc.ram": with @ram_numa unset exactly one (-M memory-backend=ID:
 *	the backend's region is the RAM, its size must equal @ram_size);
 *	with @ram_numa the -numa node memdevs in node order. The machine
 *	creates them as its first backends (ms_machine__find_backend() finds
 *	them) and marks them mapped, so no memory device can use them.
 * @nr_ram_backends: number of @ram_backends
 * @ram_numa: boot RAM is a container "pc.ram" holding the @ram_backends one
 *	after the other (QEMU 7.2 numa_init_memdev_container()); their sizes
 *	must add up to @ram_size
 * @legacy_dimm_align: pc-i440fx-2.1 and older (no "enforce aligned DIMM"):
 *	no 1 GiB of device memory per slot, and DIMMs aligned to the target
 *	page instead of their region (memory-devices.md 4.4)
 * @no_gigabyte_align: pc-i440fx-1.7 and older: the RAM split below 4 GiB
 *	is not lowered to 3 GiB (rule 4.1)
 * @no_device_memory: the machine type has no device memory (pc-i440fx-2.0
 *	and older): maxmem > RAM or slots fail with @type_name in the text
 * @type_name: the machine type for messages (e.g. "pc-i440fx-2.0"), NULL:
 *	"pc" or "q35"
 * @bios_size: size of "pc.bios" below 4 GiB, 0: 256 KiB (bios-256k.bin);
 *	128 KiB for pc-i440fx-1.7 and older (bios.bin). At least 128 KiB, a
 *	multiple of 4 KiB; its last 128 KiB show at 0xe0000 ("isa-bios")
 * @numa_nodes: number of -numa nodes, 0 without NUMA (then node 0 only);
 *	the node properties of memory devices must be below it
 */
struct ms_machine_opts {
	size_t sz;
	enum ms_machine_type type;
	uint64_t ram_size;
	uint32_t slots;
	uint64_t maxmem;
	uint64_t max_ram_below_4g;
	bool nvdimm;
	uint32_t kvm_memslots;
	uint64_t page_size;
	ms_slot_exec_fn kvm_exec;
	void *kvm_exec_opaque;
	struct ms_kvm *kvm;
	enum ms_smm smm;
	bool kvm_no_smm;
	enum ms_firmware firmware;
	const struct ms_backend_opts *ram_backends;
	size_t nr_ram_backends;
	bool ram_numa;
	bool legacy_dimm_align;
	bool no_gigabyte_align;
	bool no_device_memory;
	const char *type_name;
	uint64_t bios_size;
	uint32_t numa_nodes;
};

/**
 * ms_machine__new() - build a machine as a stopped QEMU has it
 * @ctx: context (empty)
 * @opts: options
 * @err: optional error details, QEMU's start-up error texts (rule 4.5)
 *
 * Creates "system" with pc.ram and its ram-below-4g/ram-above-4g aliases,
 * the "pci" container with pc.rom, pc.bios and its isa-bios alias, the
 * SMRAM and PAM aliases of a machine that has not run, the IOAPIC, HPET and
 * APIC MSI MMIO regions, the "I/O" address space, device memory (with its
 * "device-memory" address space and counting listener) when maxmem > RAM,
 * and the KVM consumer (an ms_slotmap on "memory") when @opts->kvm_memslots
 * is non-zero; with SMM (@opts->smm), at machine-init-done as QEMU, the
 * "KVM-SMRAM" address space and its slot map (address space 1).
 *
 * Return: the machine or NULL with errno set.
 */
MS_API struct ms_machine *ms_machine__new(struct ms_ctx *ctx, const struct ms_machine_opts *opts,
					  struct ms_error *err);

/**
 * ms_machine__free() - free the machine, its devices and backends
 * @m: machine, may be NULL
 */
MS_API void ms_machine__free(struct ms_machine *m);

/** ms_machine__ctx() - context. @m: machine. Return: the context. */
MS_API struct ms_ctx *ms_machine__ctx(const struct ms_machine *m);
/** ms_machine__system() - the "system" region. @m: machine. Return: the region. */
MS_API struct ms_region *ms_machine__system(const struct ms_machine *m);
/** ms_machine__memory_as() - the "memory" address space. @m: machine. Return: it. */
MS_API struct ms_as *ms_machine__memory_as(const struct ms_machine *m);
/** ms_machine__kvm() - the KVM slot map or NULL. @m: machine. Return: the map. */
MS_API struct ms_slotmap *ms_machine__kvm(const struct ms_machine *m);
/**
 * ms_machine__kvm_smm() - the KVM slot map of address space 1 (SMM)
 * @m: machine
 *
 * The "kvm-smram" listener of QEMU on address space "KVM-SMRAM": system
 * memory under the chipset's "smram" region (kvm-memslots.md 1.2).
 *
 * Return: the slot map, or NULL without SMM or without KVM.
 */
MS_API struct ms_slotmap *ms_machine__kvm_smm(const struct ms_machine *m);

/**
 * struct ms_machine_layout - where memory is
 * @below_4g: bytes of RAM below 4 GiB
 * @above_4g: bytes of RAM above 4 GiB
 * @above_4g_start: guest address of RAM above 4 GiB
 * @devmem_base: device memory base, 0 without device memory
 * @devmem_size: device memory container size (with per-slot slack)
 * @hotpluggable: maxmem - RAM
 * @reserved_end: round_up(devmem_base + devmem_size, 1 GiB) (rule 4.6)
 */
struct ms_machine_layout {
	uint64_t below_4g;
	uint64_t above_4g;
	uint64_t above_4g_start;
	uint64_t devmem_base;
	uint64_t devmem_size;
	uint64_t hotpluggable;
	uint64_t reserved_end;
};

/**
 * ms_machine__layout() - the machine's memory layout
 * @m: machine
 * @l: filled
 */
MS_API void ms_machine__layout(const struct ms_machine *m, struct ms_machine_layout *l);

/**
 * struct ms_devmem_stats - device-memory accounting (rules 3.1, 6)
 * @present: the machine has device memory
 * @used_region_size: region sizes of plugged devices
 * @plugged_size: get_plugged_memory_size() (rule 12.1)
 * @dimm_size: plugged non-NVDIMM DIMM sizes
 * @required_memslots: rule 6.1
 * @used_memslots: rule 6.2 (counting listener)
 * @reserved_memslots: rule 6.4
 * @auto_decision_active: devices that decided on more than one memslot
 * @warnings: times the counting listener warned (rule 6.2)
 */
struct ms_devmem_stats {
	bool present;
	uint64_t used_region_size;
	uint64_t plugged_size;
	uint64_t dimm_size;
	uint32_t required_memslots;
	uint32_t used_memslots;
	uint32_t reserved_memslots;
	uint32_t auto_decision_active;
	uint32_t warnings;
};

/**
 * ms_machine__devmem_stats() - read device-memory accounting
 * @m: machine
 * @st: filled
 */
MS_API void ms_machine__devmem_stats(const struct ms_machine *m, struct ms_devmem_stats *st);

/**
 * enum ms_consumer_kind - who consumes memslots
 * @MS_CONSUMER_KVM: the KVM memory listener
 * @MS_CONSUMER_VHOST: a vhost backend
 */
enum ms_consumer_kind {
	MS_CONSUMER_KVM,
	MS_CONSUMER_VHOST,
};

/**
 * struct ms_consumer_info - one memslot consumer
 * @kind: KVM or vhost
 * @name: "kvm" or the vhost backend's name
 * @max: its memslot limit
 * @used: memslots its table holds now (vhost: rule 9.3 region count; KVM:
 *	of its busiest address space, rule 9.1)
 * @free: max - used (0 if over the limit)
 */
struct ms_consumer_info {
	enum ms_consumer_kind kind;
	const char *name;
	uint32_t max, used, free;
};

/**
 * ms_machine__add_vhost() - attach a vhost backend with a memslot limit
 * @m: machine
 * @name: name for reports
 * @limit: its memslot limit (vhost-user without CONFIGURE_MEM_SLOTS: 8;
 *	vhost-kernel: max_mem_regions, 64 by default)
 * @needs_fd: vhost-user: only sections with a file descriptor count
 * @err: optional error details (rules 9.4)
 *
 * Registers a listener on "memory" that keeps the backend's region table
 * (rule 9.3) and checks rule 9.4; on failure nothing is attached. QEMU's
 * hint for the -EBUSY case goes to the log (MS_INFO), as the message fills
 * the line.
 *
 * Return: 0 or -ENOSPC / -EBUSY with QEMU's text.
 */
MS_API int ms_machine__add_vhost(struct ms_machine *m, const char *name, uint32_t limit,
				 bool needs_fd, struct ms_error *err);

/**
 * ms_machine__for_each_consumer() - visit KVM (first) and the vhost backends
 * @m: machine
 * @fn: callback; non-zero stops
 * @opaque: passed to @fn
 *
 * Return: what @fn returned last, or 0.
 */
MS_API int ms_machine__for_each_consumer(const struct ms_machine *m,
					 int (*fn)(const struct ms_consumer_info *c, void *opaque),
					 void *opaque);

/**
 * enum ms_backend_kind - -object memory-backend-*
 * @MS_BACKEND_RAM: memory-backend-ram (anonymous)
 * @MS_BACKEND_MEMFD: memory-backend-memfd
 * @MS_BACKEND_FILE: memory-backend-file (mem-path)
 */
enum ms_backend_kind {
	MS_BACKEND_RAM,
	MS_BACKEND_MEMFD,
	MS_BACKEND_FILE,
};

/**
 * struct ms_backend_opts - backend properties
 * @sz: MS_OPTS
 * @kind: backend type
 * @id: object id (required)
 * @size: bytes
 * @share: share=on
 * @mem_path: memory-backend-file mem-path
 * @align: memory-backend-file align, 0: page size
 * @prealloc: prealloc=on
 * @readonly: memory-backend-file readonly=on
 * @no_memory: describe only: allocate no host memory (planning)
 */
struct ms_backend_opts {
	size_t sz;
	enum ms_backend_kind kind;
	const char *id;
	uint64_t size;
	bool share;
	const char *mem_path;
	uint64_t align;
	bool prealloc;
	bool readonly;
	bool no_memory;
};

/**
 * ms_machine__add_backend() - create a memory backend
 * @m: machine
 * @opts: options
 * @err: optional error details
 *
 * Its RAM region is named after @opts->id, like QEMU's; anonymous backends
 * have a 2 MiB region alignment, file backends max(page size, align),
 * memfd backends (always mapped shared) the page size. Host memory is
 * mapped MAP_NORESERVE and madvise(MADV_NOHUGEPAGE), as by
 * ms_region__new_ram(): untouched except for the pages the guest verifies
 * (or all of it with @opts->prealloc), 4 KiB pages even where transparent
 * huge pages are "always".
 *
 * Return: the backend (owned by @m) or NULL with errno set.
 */
MS_API struct ms_backend *ms_machine__add_backend(struct ms_machine *m,
						  const struct ms_backend_opts *opts,
						  struct ms_error *err);

/** ms_machine__find_backend() - backend by id. @m: machine. @id: id. Return: it or NULL. */
MS_API struct ms_backend *ms_machine__find_backend(const struct ms_machine *m, const char *id);
/** ms_backend__region() - the backend's RAM region. @b: backend. Return: the region. */
MS_API struct ms_region *ms_backend__region(const struct ms_backend *b);
/** ms_backend__id() - id. @b: backend. Return: the id. */
MS_API const char *ms_backend__id(const struct ms_backend *b);

/**
 * ms_machine__device_add() - device_add: pre_plug, realize, plug (rule 5)
 * @m: machine
 * @opts: device properties
 * @err: optional error details with QEMU's exact text
 *
 * All or nothing: on failure no counter, address, slot, region or memslot
 * changed.
 *
 * Return: the device (owned by @m) or NULL with errno set.
 */
MS_API struct ms_memdev *ms_machine__device_add(struct ms_machine *m,
						const struct ms_memdev_opts *opts,
						struct ms_error *err);

/**
 * ms_machine__device_add_custom() - plug a device implementing the interface
 * @m: machine
 * @id: device id or NULL
 * @ops: the memory-device callbacks, copied
 * @opaque: passed to them
 * @err: optional error details
 *
 * Return: the device or NULL with errno set.
 */
MS_API struct ms_memdev *ms_machine__device_add_custom(struct ms_machine *m, const char *id,
						       const struct ms_memdev_ops *ops, void *opaque,
						       struct ms_error *err);

/**
 * ms_machine__device_del() - device_del: unplug request and unplug
 * @m: machine
 * @dev: device
 * @err: optional error details with QEMU's text (e.g. virtio-pmem, NVDIMM
 *	cannot be unplugged; virtio-mem rule 10.11)
 *
 * The guest is assumed to accept (ACPI eject). On success @dev is freed.
 *
 * Return: 0 or a negative errno, nothing changed.
 */
MS_API int ms_machine__device_del(struct ms_machine *m, struct ms_memdev *dev,
				  struct ms_error *err);

/** ms_machine__find_device() - device by id. @m: machine. @id: id. Return: it or NULL. */
MS_API struct ms_memdev *ms_machine__find_device(const struct ms_machine *m, const char *id);

/**
 * ms_machine__for_each_device() - visit devices by ascending address (12.2)
 * @m: machine
 * @fn: callback; non-zero stops
 * @opaque: passed to @fn
 *
 * Return: what @fn returned last, or 0.
 */
MS_API int ms_machine__for_each_device(const struct ms_machine *m,
				       int (*fn)(struct ms_memdev *dev, void *opaque),
				       void *opaque);

#endif /* MEMSLOT_MACHINE_H */
