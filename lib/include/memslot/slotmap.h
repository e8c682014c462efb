/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot memslot mapping: flat-view sections to KVM memory slots, as
 * QEMU's KVM memory listener decides them (kvm-memslots.md). This part is
 * pure logic: it keeps a slot table and emits an ordered list of slot
 * operations; the KVM binding (kvm.h, ms_slotmap_opts.kvm) or an executor
 * callback may carry them out.
 */
#ifndef MEMSLOT_SLOTMAP_H
#define MEMSLOT_SLOTMAP_H

#include "as.h"

/* KVM slot flags (kvm-memslots.md 10.1). */
#define MS_KVM_MEM_LOG_DIRTY_PAGES	(1u << 0)
#define MS_KVM_MEM_READONLY		(1u << 1)
#define MS_KVM_MEM_GUEST_MEMFD		(1u << 2)

/* KVM_CAP_NR_MEMSLOTS fallback when the capability reads 0 (rule 2.1). */
#define MS_KVM_MEMSLOTS_DEFAULT		32

struct ms_slotmap;
struct ms_kvm;

/**
 * struct ms_memslot - one KVM memory slot
 * @slot: slot id (index in the table)
 * @as_id: KVM address space id; the ioctl's slot field is
 *	``slot | as_id << 16`` (rule 10.2)
 * @gpa: guest physical address
 * @size: bytes, a multiple of the host page size
 * @flags: MS_KVM_MEM_* bits
 * @mr: region backing the slot (the flat range's terminating region)
 * @offset_in_region: offset of @gpa's byte inside @mr
 * @hva: host address (the region's RAM + @offset_in_region), or NULL if
 *	the region has no host memory
 */
struct ms_memslot {
	uint32_t slot;
	uint16_t as_id;
	uint64_t gpa;
	uint64_t size;
	uint32_t flags;
	struct ms_region *mr;
	uint64_t offset_in_region;
	void *hva;
};

/**
 * enum ms_slot_op_kind - what a slot operation does to the kernel's table
 * @MS_SLOT_OP_CREATE: set a free slot (rule 6.1)
 * @MS_SLOT_OP_DELETE: set size 0; @slot holds the old gpa and hva with
 *	flags 0, as QEMU passes them (rule 6.2)
 * @MS_SLOT_OP_UPDATE: change the flags of an existing slot in place
 *	(rule 6.6); never used for a READONLY change (rule 6.7)
 */
enum ms_slot_op_kind {
	MS_SLOT_OP_CREATE,
	MS_SLOT_OP_DELETE,
	MS_SLOT_OP_UPDATE,
};

/**
 * struct ms_slot_op - one slot operation
 * @kind: what to do
 * @slot: the slot as the ioctl carries it (size 0 for a delete)
 * @old_flags: flags before an update
 * @commit: number of the commit (listener commit callback) it belongs to,
 *	counting from 1
 * @ret: the executor's result, 0 or a negative errno (0 without executor)
 */
struct ms_slot_op {
	enum ms_slot_op_kind kind;
	struct ms_memslot slot;
	uint32_t old_flags;
	uint64_t commit;
	int ret;
};

/**
 * typedef ms_slot_exec_fn - carry out one slot operation
 * @opaque: user pointer
 * @op: the operation
 *
 * Return: 0, or a negative errno; a failure is recorded in the map
 * (ms_slotmap__error()), the rest of that section is not processed, and
 * the table keeps what the kernel holds: a failed create leaves no slot, a
 * failed delete keeps the slot, a failed update keeps the old flags.
 */
typedef int (*ms_slot_exec_fn)(void *opaque, const struct ms_slot_op *op);

/**
 * struct ms_slotmap_opts - options of ms_slotmap__new()
 * @sz: size of the struct (MS_OPTS)
 * @as_id: KVM address space id (0 for "memory", 1 for SMRAM)
 * @max_slots: KVM_CAP_NR_MEMSLOTS; 0 means MS_KVM_MEMSLOTS_DEFAULT
 * @max_slot_size: largest slot in bytes; 0: unlimited (x86, rule 4.2)
 * @page_size: host page size; 0: sysconf(_SC_PAGESIZE)
 * @no_readonly_mem: the kernel lacks KVM_CAP_READONLY_MEM (rule 3.3)
 * @exec: executor called for every operation, or NULL; for other
 *	executors than the KVM binding (use @kvm for that)
 * @exec_opaque: passed to @exec
 * @name: listener name; NULL: "kvm-memory"
 * @kvm: the KVM binding that carries out every operation, or NULL; not
 *	with @exec. The map's errors then carry the binding's details
 *	(MS_ERROR_KVM, MS_ERROR_INJECTED in &struct ms_error). Not owned; it
 *	must outlive the map.
 */
struct ms_slotmap_opts {
	size_t sz;
	uint16_t as_id;
	uint32_t max_slots;
	uint64_t max_slot_size;
	uint64_t page_size;
	bool no_readonly_mem;
	ms_slot_exec_fn exec;
	void *exec_opaque;
	const char *name;
	struct ms_kvm *kvm;
};

/**
 * ms_slotmap__new() - map an address space's flat view to KVM slots
 * @as: address space (usually "memory")
 * @opts: options, may be NULL
 * @err: optional error details
 *
 * Registers a listener of priority MS_LISTENER_PRIORITY_ACCEL on @as; the
 * registration replay maps the current view at once. Removals and
 * additions are queued and executed at the listener's commit, removals
 * first (current QEMU, rule 6.4); dirty-log flag changes are executed
 * when they are reported (rule 6.6).
 *
 * Return: the map, or NULL with errno set (EINVAL for both @opts->exec
 * and @opts->kvm).
 */
MS_API struct ms_slotmap *ms_slotmap__new(struct ms_as *as, const struct ms_slotmap_opts *opts,
					  struct ms_error *err);

/**
 * ms_slotmap__free() - unregister and free (no deletions are emitted)
 * @map: map, may be NULL
 */
MS_API void ms_slotmap__free(struct ms_slotmap *map);

/**
 * ms_slotmap__nr_used() - number of slots in use (rule 5.4)
 * @map: map
 *
 * Return: the count.
 */
MS_API unsigned int ms_slotmap__nr_used(const struct ms_slotmap *map);

/**
 * ms_slotmap__max_slots() - the slot limit the map works with
 * @map: map
 *
 * Return: the limit.
 */
MS_API unsigned int ms_slotmap__max_slots(const struct ms_slotmap *map);

/**
 * ms_slotmap__for_each() - visit used slots in ascending slot id order
 * @map: map
 * @fn: callback; a non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * Return: what @fn returned last, or 0.
 */
MS_API int ms_slotmap__for_each(const struct ms_slotmap *map,
				int (*fn)(const struct ms_memslot *s, void *opaque), void *opaque);

/**
 * ms_slotmap__lookup() - find the slot exactly at (@gpa, @size) (rule 5.3)
 * @map: map
 * @gpa: guest address
 * @size: size
 *
 * Return: the slot (valid until the next change), or NULL.
 */
MS_API const struct ms_memslot *ms_slotmap__lookup(const struct ms_slotmap *map, uint64_t gpa,
						   uint64_t size);

/**
 * ms_slotmap__has_memory() - QEMU's mtree " KVM" marker test (rule 8.1)
 * @map: map
 * @start: flat range start
 * @size: flat range size
 *
 * Return: true if a slot starts at @start with size min(@size, max slot
 * size).
 */
MS_API bool ms_slotmap__has_memory(const struct ms_slotmap *map, uint64_t start, ms_u128 size);

/**
 * ms_slotmap__ops() - operations emitted so far
 * @map: map
 * @nr: set to the number of operations
 *
 * Return: the log (valid until the next change or ms_slotmap__clear_ops()).
 */
MS_API const struct ms_slot_op *ms_slotmap__ops(const struct ms_slotmap *map, size_t *nr);

/**
 * ms_slotmap__clear_ops() - forget the operation log
 * @map: map
 */
MS_API void ms_slotmap__clear_ops(struct ms_slotmap *map);

/**
 * ms_slotmap__error() - first failure since the last ms_slotmap__clear_ops()
 * @map: map
 *
 * Failures are: no free slot (QEMU aborts with "kvm_alloc_slot: no free
 * slot available"), a section beyond KVM's slot size limit, or an
 * executor error. An executor error has MS_ERROR_KVM set with the failed
 * operation and errno; with ms_slotmap_opts.kvm, MS_ERROR_INJECTED tells an
 * injected fault.
 *
 * Return: NULL if none, else the error (err and message).
 */
MS_API const struct ms_error *ms_slotmap__error(const struct ms_slotmap *map);

/**
 * ms_slotmap__vcpu_pause_needed() - did the last commit need paused vCPUs?
 * @map: map
 *
 * Return: true if a queued removal overlapped a queued addition (rule 6.4).
 */
MS_API bool ms_slotmap__vcpu_pause_needed(const struct ms_slotmap *map);

/**
 * ms_slotmap__as() - address space of the map
 * @map: map
 *
 * Return: the address space.
 */
MS_API struct ms_as *ms_slotmap__as(const struct ms_slotmap *map);

/**
 * ms_mtree_kvm_marker() - ms_mtree_mem_fn for maps of several address spaces
 * @opaque: NULL-terminated array of ``struct ms_slotmap *``
 * @as: address space of the range
 * @start: range start
 * @size: range size
 *
 * Return: true if one of the maps belongs to @as and has the memory.
 */
MS_API bool ms_mtree_kvm_marker(void *opaque, struct ms_as *as, uint64_t start, ms_u128 size);

#endif /* MEMSLOT_SLOTMAP_H */
