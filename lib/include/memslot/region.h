/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot memory regions and the region tree.
 *
 * Semantics follow QEMU's memory API (see regions-and-flatview.md of the
 * project specification); rule numbers in comments refer to that text.
 * Where QEMU 7.2 and current QEMU differ, current QEMU is followed.
 */
#ifndef MEMSLOT_REGION_H
#define MEMSLOT_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "error.h"

/* 128-bit unsigned arithmetic for sizes that may reach 2^64. */
typedef unsigned __int128 ms_u128;

/* The size 2^64 as a 128-bit value. */
#define MS_SIZE_2_64 (((ms_u128)1) << 64)

struct ms_ctx;
struct ms_region;

/**
 * enum ms_region_kind - how a region was initialised (rule 1.3)
 * @MS_REGION_CONTAINER: holds subregions only, does not terminate
 * @MS_REGION_IO: MMIO or port I/O with callbacks; terminates
 * @MS_REGION_RAM: RAM backed by host memory
 * @MS_REGION_ROM: RAM that is read-only for the guest
 * @MS_REGION_ROM_DEVICE: RAM for reads (ROMD mode), callbacks for writes
 * @MS_REGION_RAM_DEVICE: RAM-backed but accessed through callbacks
 * @MS_REGION_ALIAS: window onto another region
 */
enum ms_region_kind {
	MS_REGION_CONTAINER,
	MS_REGION_IO,
	MS_REGION_RAM,
	MS_REGION_ROM,
	MS_REGION_ROM_DEVICE,
	MS_REGION_RAM_DEVICE,
	MS_REGION_ALIAS,
};

/**
 * enum ms_memtx - result of an access through an address space
 * @MS_MEMTX_OK: access done
 * @MS_MEMTX_ERROR: the device reported an error
 * @MS_MEMTX_DECODE_ERROR: nothing decodes the address (unassigned), or the
 *	access was refused (size, alignment, write to ROM)
 */
enum ms_memtx {
	MS_MEMTX_OK = 0,
	MS_MEMTX_ERROR = 1,
	MS_MEMTX_DECODE_ERROR = 2,
};

/**
 * struct ms_region_ops - callbacks of an I/O, ROM-device or RAM-device region
 * @read: read @size bytes at region offset @addr; store the little-endian
 *	value in *@val; return an &enum ms_memtx value. NULL: reads give 0.
 * @write: write the low @size bytes of @val at region offset @addr.
 *	NULL: writes are ignored.
 * @valid_min: smallest access size the device accepts (0: 1)
 * @valid_max: largest access size the device accepts (0: 4)
 * @valid_unaligned: the device accepts accesses not aligned to their size
 * @impl_min: smallest size the callbacks implement (0: 1); smaller
 *	accesses are widened
 * @impl_max: largest size the callbacks implement (0: 4); larger accesses
 *	are split into several calls, combined little-endian
 * @impl_unaligned: the callbacks handle unaligned accesses themselves
 *
 * Accesses through an address space are split as QEMU does: each piece is
 * at most @valid_max bytes, at most the alignment of its address unless
 * @impl_unaligned, and a power of two.
 */
struct ms_region_ops {
	int (*read)(void *opaque, uint64_t addr, uint64_t *val, unsigned int size);
	int (*write)(void *opaque, uint64_t addr, uint64_t val, unsigned int size);
	unsigned int valid_min, valid_max;
	bool valid_unaligned;
	unsigned int impl_min, impl_max;
	bool impl_unaligned;
};

/**
 * enum ms_ram_backing - host memory for library-allocated RAM
 * @MS_RAM_ANON: private anonymous mmap (MAP_NORESERVE, no THP, as all three)
 * @MS_RAM_MEMFD: memfd_create() with the region name, mapped shared
 * @MS_RAM_SHARED_ANON: shared anonymous mmap
 */
enum ms_ram_backing {
	MS_RAM_ANON,
	MS_RAM_MEMFD,
	MS_RAM_SHARED_ANON,
};

/*
 * Region constructors. Each returns a new unmapped region holding one
 * reference owned by the caller, or NULL with errno set (and @err filled).
 * @name may be NULL (printed as "(null)"); it is copied. @size is the size
 * in bytes where UINT64_MAX means 2^64 (rule 2.1). Regions belong to @ctx.
 */

/**
 * ms_region__new_container() - create a pure container (does not terminate)
 * @ctx: context
 * @name: name or NULL
 * @size: size, UINT64_MAX for 2^64
 * @err: optional error details
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_container(struct ms_ctx *ctx, const char *name,
						  uint64_t size, struct ms_error *err);

/**
 * ms_region__new_io() - create an I/O (MMIO / port I/O) region
 * @ctx: context
 * @name: name or NULL
 * @size: size, UINT64_MAX for 2^64
 * @ops: callbacks, copied; NULL makes an "unassigned" region (reads 0,
 *	writes ignored, accesses report %MS_MEMTX_DECODE_ERROR)
 * @opaque: first argument of the callbacks
 * @err: optional error details
 *
 * The region terminates: it fills the gaps its children leave (rule 5.5).
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_io(struct ms_ctx *ctx, const char *name, uint64_t size,
					   const struct ms_region_ops *ops, void *opaque,
					   struct ms_error *err);

/**
 * ms_region__new_ram() - create a RAM region on library-allocated memory
 * @ctx: context
 * @name: name or NULL (also the memfd name)
 * @size: size in bytes, non-zero and below 2^64
 * @backing: kind of host memory
 * @err: optional error details
 *
 * The memory is mapped at creation, zero-filled and freed with the region.
 * It is mapped MAP_NORESERVE and madvise(MADV_NOHUGEPAGE): host memory is
 * only used for the pages that are touched, 4 KiB at a time even where
 * transparent huge pages are "always", so that a large machine of which
 * only a sample of pages is used costs that sample (QEMU asks for huge
 * pages instead; a caller wanting them may madvise() the host pointer).
 * On allocation failure no region is returned (rule 1.7 leaves a size-0
 * region in QEMU; a library caller gets the error instead).
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_ram(struct ms_ctx *ctx, const char *name, uint64_t size,
					    enum ms_ram_backing backing, struct ms_error *err);

/**
 * ms_region__new_ram_ptr() - create a RAM region on caller memory
 * @ctx: context
 * @name: name or NULL
 * @size: size in bytes
 * @host: host address of @size bytes, owned by the caller, which must keep
 *	it mapped until the region is freed
 * @err: optional error details
 *
 * Such RAM is not migratable (no MIGRATION dirty-log bit), as in QEMU.
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_ram_ptr(struct ms_ctx *ctx, const char *name,
						uint64_t size, void *host, struct ms_error *err);

/**
 * ms_region__new_rom() - create a ROM region (RAM, read-only for the guest)
 * @ctx: context
 * @name: name or NULL
 * @size: size in bytes
 * @err: optional error details
 *
 * Library-allocated anonymous memory, writable by the host through
 * ms_region__host_ptr().
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_rom(struct ms_ctx *ctx, const char *name, uint64_t size,
					    struct ms_error *err);

/**
 * ms_region__new_rom_device() - create a ROM device
 * @ctx: context
 * @name: name or NULL
 * @size: size in bytes
 * @ops: callbacks for writes (and for reads with ROMD mode off), copied
 * @opaque: first argument of the callbacks
 * @err: optional error details
 *
 * ROMD mode starts on: reads are served from library-allocated memory.
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_rom_device(struct ms_ctx *ctx, const char *name,
						   uint64_t size, const struct ms_region_ops *ops,
						   void *opaque, struct ms_error *err);

/**
 * ms_region__new_ram_device() - create a RAM device region on caller memory
 * @ctx: context
 * @name: name or NULL
 * @size: size in bytes
 * @host: host address, owned by the caller
 * @ops: callbacks for CPU accesses, copied; NULL: accesses go to @host
 * @opaque: first argument of the callbacks
 * @err: optional error details
 *
 * Return: the region or NULL with errno set.
 */
MS_API struct ms_region *ms_region__new_ram_device(struct ms_ctx *ctx, const char *name,
						   uint64_t size, void *host,
						   const struct ms_region_ops *ops, void *opaque,
						   struct ms_error *err);

/**
 * ms_region__new_alias() - create an alias: a window onto another region
 * @ctx: context
 * @name: name or NULL
 * @target: region the alias shows; the alias takes a reference on it
 * @offset: offset of the window inside @target (may exceed its size)
 * @size: window size, UINT64_MAX for 2^64
 * @err: optional error details
 *
 * Return: the region or NULL with errno set (-EINVAL: @target NULL or of
 * another context).
 */
MS_API struct ms_region *ms_region__new_alias(struct ms_ctx *ctx, const char *name,
					      struct ms_region *target, uint64_t offset,
					      uint64_t size, struct ms_error *err);

/**
 * ms_region__ref() - take a reference
 * @mr: region, may be NULL
 *
 * Return: @mr.
 */
MS_API struct ms_region *ms_region__ref(struct ms_region *mr);

/**
 * ms_region__unref() - drop a reference
 * @mr: region, may be NULL
 *
 * A container holds a reference on each subregion, an alias on its target,
 * an address space on its root and a flat view on each region it shows, so
 * a mapped region is never freed. On the last reference the region deletes
 * its subregions (one transaction, rule 3.11) and frees its memory.
 */
MS_API void ms_region__unref(struct ms_region *mr);

/**
 * ms_region__add_subregion() - map @sub into @container at @offset, priority 0
 * @container: container (any region kind may hold subregions)
 * @offset: address of @sub inside @container
 * @sub: region without a container
 * @err: optional error details
 *
 * Overlap is allowed and resolved by priority and insertion order
 * (rules 3.1, 3.3). The container takes a reference on @sub.
 *
 * Return: 0; -EBUSY if @sub already has a container; -ELOOP if the
 * mapping would make @sub (or an alias in it) contain itself; -EINVAL for
 * objects of different contexts.
 */
MS_API int ms_region__add_subregion(struct ms_region *container, uint64_t offset,
				    struct ms_region *sub, struct ms_error *err);

/**
 * ms_region__add_subregion_overlap() - map @sub with priority @priority
 * @container: container
 * @offset: address of @sub inside @container
 * @sub: region without a container
 * @priority: priority among the siblings (rule 3.5: local to @container)
 * @err: optional error details
 *
 * Return: as ms_region__add_subregion().
 */
MS_API int ms_region__add_subregion_overlap(struct ms_region *container, uint64_t offset,
					    struct ms_region *sub, int32_t priority,
					    struct ms_error *err);

/**
 * ms_region__del_subregion() - unmap @sub from @container
 * @container: container
 * @sub: a subregion of @container
 * @err: optional error details
 *
 * Drops the container's reference on @sub.
 *
 * Return: 0, or -ENOENT if @sub is not a subregion of @container.
 */
MS_API int ms_region__del_subregion(struct ms_region *container, struct ms_region *sub,
				    struct ms_error *err);

/**
 * ms_region__set_address() - move a region inside its container (rule 3.7)
 * @mr: region
 * @addr: new address; a mapped region is re-added and becomes the newest
 *	among its equal-priority siblings
 */
MS_API void ms_region__set_address(struct ms_region *mr, uint64_t addr);

/**
 * ms_region__set_size() - change the size (UINT64_MAX: 2^64)
 * @mr: region
 * @size: new size
 * @err: optional error details
 *
 * Return: 0, or -EINVAL if @mr has library-allocated or caller memory
 * smaller than @size.
 */
MS_API int ms_region__set_size(struct ms_region *mr, uint64_t size, struct ms_error *err);

/**
 * ms_region__set_alias_offset() - move an alias window
 * @mr: alias
 * @offset: new offset inside the target
 * @err: optional error details
 *
 * Return: 0, or -EINVAL if @mr is not an alias.
 */
MS_API int ms_region__set_alias_offset(struct ms_region *mr, uint64_t offset,
				       struct ms_error *err);

/**
 * ms_region__set_enabled() - show or hide a region and its subtree
 * @mr: region
 * @enabled: new state
 */
MS_API void ms_region__set_enabled(struct ms_region *mr, bool enabled);

/**
 * ms_region__set_readonly() - set the region's own read-only flag
 * @mr: region
 * @readonly: new state; inherited by everything rendered below (rule 4.1)
 */
MS_API void ms_region__set_readonly(struct ms_region *mr, bool readonly);

/**
 * ms_region__set_nonvolatile() - set the nonvolatile attribute (rule 1.6)
 * @mr: region
 * @nonvolatile: new state
 */
MS_API void ms_region__set_nonvolatile(struct ms_region *mr, bool nonvolatile);

/**
 * ms_region__set_unmergeable() - forbid merging of its flat ranges (rule 6.2)
 * @mr: region
 * @unmergeable: new state
 */
MS_API void ms_region__set_unmergeable(struct ms_region *mr, bool unmergeable);

/**
 * ms_region__set_romd() - switch ROMD mode of a ROM device (rule 1.5)
 * @mr: ROM device
 * @romd: true: reads from memory; false: every access to the callbacks
 * @err: optional error details
 *
 * Return: 0, or -EINVAL if @mr is not a ROM device.
 */
MS_API int ms_region__set_romd(struct ms_region *mr, bool romd, struct ms_error *err);

/**
 * ms_region__set_log() - start or stop VGA dirty logging of a region
 * @mr: region
 * @log: true adds a user, false drops one; the VGA bit of the dirty-log
 *	mask changes only when the user count goes 0->1 or 1->0
 *	(listeners-and-transactions.md 7.1)
 */
MS_API void ms_region__set_log(struct ms_region *mr, bool log);

/**
 * ms_region__set_migratable() - mark the region's RAM as migratable
 * @mr: RAM, ROM or ROM-device region
 * @migratable: library-allocated memory is migratable by default, caller
 *	memory is not; only migratable RAM gets the MIGRATION dirty-log bit
 */
MS_API void ms_region__set_migratable(struct ms_region *mr, bool migratable);

/**
 * ms_region__set_owner() - set the owner text printed by ``info mtree -o``
 * @mr: region
 * @owner: inner text of ``owner:{...}``, e.g. "obj path=/objects/pc.ram",
 *	or NULL for none (the region prints " orphan" if it has no parent
 *	either)
 * @parent: inner text of ``parent:{...}``, or NULL
 *
 * Return: 0 or -ENOMEM.
 */
MS_API int ms_region__set_owner(struct ms_region *mr, const char *owner, const char *parent);

/**
 * ms_region__owner() - owner text set by ms_region__set_owner()
 * @mr: region
 *
 * Return: the text or NULL.
 */
MS_API const char *ms_region__owner(const struct ms_region *mr);

/**
 * ms_region__parent() - parent text set by ms_region__set_owner()
 * @mr: region
 *
 * Return: the text or NULL.
 */
MS_API const char *ms_region__parent(const struct ms_region *mr);

/* Accessors. Sizes read back as UINT64_MAX for 2^64 (rule 2.2). */

/** ms_region__name() - name, or NULL if unnamed. @mr: region. Return: the name. */
MS_API const char *ms_region__name(const struct ms_region *mr);
/** ms_region__kind() - kind. @mr: region. Return: the &enum ms_region_kind. */
MS_API enum ms_region_kind ms_region__kind(const struct ms_region *mr);
/** ms_region__size() - size, UINT64_MAX for 2^64. @mr: region. Return: the size. */
MS_API uint64_t ms_region__size(const struct ms_region *mr);
/** ms_region__size128() - exact size. @mr: region. Return: 0..2^64. */
MS_API ms_u128 ms_region__size128(const struct ms_region *mr);
/** ms_region__addr() - address inside the container. @mr: region. Return: the address. */
MS_API uint64_t ms_region__addr(const struct ms_region *mr);
/** ms_region__priority() - priority among siblings. @mr: region. Return: the priority. */
MS_API int32_t ms_region__priority(const struct ms_region *mr);
/** ms_region__container() - container or NULL. @mr: region. Return: the container. */
MS_API struct ms_region *ms_region__container(const struct ms_region *mr);
/** ms_region__alias() - alias target or NULL. @mr: region. Return: the target. */
MS_API struct ms_region *ms_region__alias(const struct ms_region *mr);
/** ms_region__alias_offset() - alias offset. @mr: region. Return: the offset. */
MS_API uint64_t ms_region__alias_offset(const struct ms_region *mr);
/** ms_region__enabled() - enabled flag. @mr: region. Return: the flag. */
MS_API bool ms_region__enabled(const struct ms_region *mr);
/** ms_region__readonly() - own read-only flag. @mr: region. Return: the flag. */
MS_API bool ms_region__readonly(const struct ms_region *mr);
/** ms_region__nonvolatile() - own nonvolatile flag. @mr: region. Return: the flag. */
MS_API bool ms_region__nonvolatile(const struct ms_region *mr);
/** ms_region__unmergeable() - own unmergeable flag. @mr: region. Return: the flag. */
MS_API bool ms_region__unmergeable(const struct ms_region *mr);
/** ms_region__terminates() - fills gaps when rendered. @mr: region. Return: the flag. */
MS_API bool ms_region__terminates(const struct ms_region *mr);
/** ms_region__is_ram() - QEMU's memory_region_is_ram. @mr: region. Return: the predicate. */
MS_API bool ms_region__is_ram(const struct ms_region *mr);
/** ms_region__is_rom() - RAM and read-only. @mr: region. Return: the predicate. */
MS_API bool ms_region__is_rom(const struct ms_region *mr);
/** ms_region__is_romd() - ROM device in ROMD mode. @mr: region. Return: the predicate. */
MS_API bool ms_region__is_romd(const struct ms_region *mr);
/** ms_region__is_rom_device() - ROM device. @mr: region. Return: the predicate. */
MS_API bool ms_region__is_rom_device(const struct ms_region *mr);
/** ms_region__is_ram_device() - RAM device. @mr: region. Return: the predicate. */
MS_API bool ms_region__is_ram_device(const struct ms_region *mr);
/** ms_region__romd_mode() - raw ROMD mode flag. @mr: region. Return: the flag. */
MS_API bool ms_region__romd_mode(const struct ms_region *mr);
/** ms_region__is_mapped() - has a container or is aliased (rule 3.10). @mr: region. Return: the predicate. */
MS_API bool ms_region__is_mapped(const struct ms_region *mr);
/** ms_region__dirty_log_mask() - effective dirty-log mask (7.1). @mr: region. Return: the mask. */
MS_API uint8_t ms_region__dirty_log_mask(const struct ms_region *mr);

/**
 * ms_region__host_ptr() - host address of a RAM-backed region
 * @mr: RAM, ROM, ROM-device or RAM-device region
 *
 * Return: the host address of offset 0, or NULL for regions without memory.
 */
MS_API void *ms_region__host_ptr(const struct ms_region *mr);

/**
 * ms_region__fd() - file descriptor of memfd-backed RAM
 * @mr: region
 *
 * Return: the fd (owned by the region), or -1.
 */
MS_API int ms_region__fd(const struct ms_region *mr);

/**
 * ms_region__type_str() - QEMU's type string (qemu-mtree-format.md 4.1)
 * @mr: region
 *
 * Return: "ramd", "romd", "rom", "ram" or "i/o" for @mr's final alias target.
 */
MS_API const char *ms_region__type_str(const struct ms_region *mr);

/**
 * ms_region__for_each_subregion() - visit the subregions in list order
 * @mr: container
 * @fn: called for each subregion, highest priority first and newest first
 *	among equal priorities (rule 3.3); a non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * @fn must not change the tree.
 *
 * Return: the non-zero value @fn returned, or 0.
 */
MS_API int ms_region__for_each_subregion(const struct ms_region *mr,
					 int (*fn)(struct ms_region *sub, void *opaque),
					 void *opaque);

/* Dirty-log client bits (listeners-and-transactions.md 7.1). */
#define MS_DIRTY_VGA		(1u << 0)
#define MS_DIRTY_CODE		(1u << 1)
#define MS_DIRTY_MIGRATION	(1u << 2)

/**
 * ms_region__add_eventfd() - register an ioeventfd on a region (rule 4.1)
 * @mr: region
 * @addr: region-relative address
 * @size: access size, 0 for any
 * @match_data: match @data only
 * @data: value to match
 * @notifier: identity of the notifier (opaque)
 * @err: optional error details
 *
 * Return: 0 or -ENOMEM.
 */
MS_API int ms_region__add_eventfd(struct ms_region *mr, uint64_t addr, uint32_t size,
				  bool match_data, uint64_t data, void *notifier,
				  struct ms_error *err);

/**
 * ms_region__del_eventfd() - remove an ioeventfd (rule 4.2)
 * @mr: region
 * @addr: region-relative address
 * @size: access size, 0 matches any
 * @match_data: match flag of the entry
 * @data: value of the entry
 * @notifier: notifier of the entry
 * @err: optional error details
 *
 * Return: 0, or -ENOENT if no such entry exists (QEMU asserts).
 */
MS_API int ms_region__del_eventfd(struct ms_region *mr, uint64_t addr, uint32_t size,
				  bool match_data, uint64_t data, void *notifier,
				  struct ms_error *err);

/**
 * ms_region__set_coalescing() - make the whole region one coalesced range
 * @mr: region
 */
MS_API void ms_region__set_coalescing(struct ms_region *mr);

/**
 * ms_region__add_coalescing() - add a coalesced-MMIO range (rule 5.1)
 * @mr: region
 * @offset: region-relative start
 * @size: size
 *
 * Return: 0 or -ENOMEM.
 */
MS_API int ms_region__add_coalescing(struct ms_region *mr, uint64_t offset, uint64_t size);

/**
 * ms_region__clear_coalescing() - remove every coalesced range (rule 5.1)
 * @mr: region
 */
MS_API void ms_region__clear_coalescing(struct ms_region *mr);

#endif /* MEMSLOT_REGION_H */
