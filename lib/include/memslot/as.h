/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot address spaces, memory listeners and accesses
 * (regions-and-flatview.md section 7 and 9, listeners-and-transactions.md).
 */
#ifndef MEMSLOT_AS_H
#define MEMSLOT_AS_H

#include <stdio.h>

#include "flatview.h"

struct ms_as;
struct ms_listener;

/**
 * ms_as__new() - create an address space
 * @ctx: context
 * @root: root region (a reference is taken), or NULL
 * @name: name, NULL for "anonymous" (rule 7.1)
 * @err: optional error details
 *
 * The view is computed at once, reusing a shared view of the same selected
 * root (rules 7.2-7.4); no listener is called.
 *
 * Return: the address space or NULL with errno set.
 */
MS_API struct ms_as *ms_as__new(struct ms_ctx *ctx, struct ms_region *root, const char *name,
				struct ms_error *err);

/**
 * ms_as__free() - destroy an address space
 * @as: address space, may be NULL
 *
 * Return: 0, or -EBUSY (nothing done) if listeners are still registered.
 */
MS_API int ms_as__free(struct ms_as *as);

/** ms_as__name() - name. @as: address space. Return: the name. */
MS_API const char *ms_as__name(const struct ms_as *as);
/** ms_as__root() - root region or NULL. @as: address space. Return: the root. */
MS_API struct ms_region *ms_as__root(const struct ms_as *as);
/** ms_as__ctx() - owning context. @as: address space. Return: the context. */
MS_API struct ms_ctx *ms_as__ctx(const struct ms_as *as);

/**
 * ms_as__flatview() - current flat view
 * @as: address space
 *
 * At every outermost commit with a pending update the view changes: in
 * place, only where the changes show, while nothing but the address
 * spaces showing it holds it; else by a new view. A reference keeps a
 * view as it is (the commit then makes a new one).
 *
 * Return: the view (never NULL).
 */
MS_API struct ms_flatview *ms_as__flatview(const struct ms_as *as);

/**
 * ms_ctx__for_each_as() - visit every address space in creation order
 * @ctx: context
 * @fn: callback; a non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * Return: what @fn returned last.
 */
MS_API int ms_ctx__for_each_as(struct ms_ctx *ctx, int (*fn)(struct ms_as *as, void *opaque),
			       void *opaque);

/**
 * ms_as__translate() - translate an address (rule 9.1, 9.2)
 * @as: address space
 * @addr: guest address
 * @xlat: set to the offset inside the returned range's region
 * @len: in: wanted length; out: clamped to the range end for RAM regions
 *
 * Return: the range, or NULL if nothing is mapped at @addr (unassigned).
 */
MS_API const struct ms_flat_range *ms_as__translate(struct ms_as *as, uint64_t addr,
						    uint64_t *xlat, uint64_t *len);

/**
 * ms_as__rw() - read or write guest memory through an address space
 * @as: address space
 * @addr: guest address
 * @buf: data
 * @len: bytes
 * @is_write: direction
 *
 * RAM is copied directly; ROM writes are refused; ROM devices with ROMD
 * mode, I/O and RAM-device regions go through their callbacks, split by
 * the access size rules of &struct ms_region_ops. Unassigned addresses
 * read as 0. The transfer continues after an error.
 *
 * Return: OR of &enum ms_memtx results of every piece.
 */
MS_API int ms_as__rw(struct ms_as *as, uint64_t addr, void *buf, uint64_t len, bool is_write);

/**
 * struct ms_listener_ops - callbacks of a memory listener (rule 1.1)
 * @begin: a topology update (or replay) starts
 * @commit: it ends
 * @region_add: a range appeared
 * @region_del: a range disappeared
 * @region_nop: a range is unchanged; a listener with it gets QEMU's full
 *	diff at every update (rule 3.3, O(ranges)), one without it only
 *	the ranges that changed
 * @log_start: dirty-log mask of an unchanged range gained bits
 * @log_stop: dirty-log mask of an unchanged range lost bits
 * @log_sync: fetch dirty bits of a logging range
 * @log_sync_global: fetch all dirty bits (exclusive with @log_sync)
 * @log_clear: clear dirty bits of a range
 * @log_global_start: global dirty tracking starts; non-zero return fails it
 * @log_global_stop: global dirty tracking stops
 * @log_global_after_sync: a global sync finished
 * @eventfd_add: ioeventfd appeared (section has no region, rule 4.3)
 * @eventfd_del: ioeventfd disappeared
 * @coalesced_io_add: coalesced range appeared (@addr, @len absolute)
 * @coalesced_io_del: coalesced range disappeared
 *
 * Every callback is optional and gets the opaque pointer given at
 * ms_listener__new(). Callbacks run inside the library's commit and must
 * not change regions or register listeners of the same context.
 */
struct ms_listener_ops {
	void (*begin)(void *opaque);
	void (*commit)(void *opaque);
	void (*region_add)(void *opaque, const struct ms_section *s);
	void (*region_del)(void *opaque, const struct ms_section *s);
	void (*region_nop)(void *opaque, const struct ms_section *s);
	void (*log_start)(void *opaque, const struct ms_section *s, int old_mask, int new_mask);
	void (*log_stop)(void *opaque, const struct ms_section *s, int old_mask, int new_mask);
	void (*log_sync)(void *opaque, const struct ms_section *s);
	void (*log_sync_global)(void *opaque, bool last_stage);
	void (*log_clear)(void *opaque, const struct ms_section *s);
	int (*log_global_start)(void *opaque);
	void (*log_global_stop)(void *opaque);
	void (*log_global_after_sync)(void *opaque);
	void (*eventfd_add)(void *opaque, const struct ms_section *s, bool match_data,
			    uint64_t data, void *notifier);
	void (*eventfd_del)(void *opaque, const struct ms_section *s, bool match_data,
			    uint64_t data, void *notifier);
	void (*coalesced_io_add)(void *opaque, const struct ms_section *s, uint64_t addr,
				 uint64_t len);
	void (*coalesced_io_del)(void *opaque, const struct ms_section *s, uint64_t addr,
				 uint64_t len);
};

/* Standard listener priorities (listeners-and-transactions.md 1.5). */
#define MS_LISTENER_PRIORITY_MIN		0
#define MS_LISTENER_PRIORITY_ACCEL		10
#define MS_LISTENER_PRIORITY_DEV_BACKEND	10

/**
 * ms_listener__new() - create an unregistered listener
 * @ops: callbacks, copied
 * @opaque: first argument of every callback
 * @priority: lower runs first in Forward order (rule 1.4)
 * @name: name for messages, copied; may be NULL
 *
 * Return: the listener, or NULL with errno set (-EINVAL if both log_sync
 * and log_sync_global are given, rule 1.3).
 */
MS_API struct ms_listener *ms_listener__new(const struct ms_listener_ops *ops, void *opaque,
					    unsigned int priority, const char *name);

/**
 * ms_listener__register() - attach to an address space and replay it
 * @l: unregistered listener
 * @as: address space
 * @err: optional error details
 *
 * Replays the current view to @l only (rule 6.1). Must not be called from
 * a listener callback.
 *
 * Return: 0, -EBUSY if already registered, or the error of a failing
 * log_global_start (nothing registered).
 */
MS_API int ms_listener__register(struct ms_listener *l, struct ms_as *as, struct ms_error *err);

/**
 * ms_listener__unregister() - replay removal to @l and detach it (rule 6.2)
 * @l: listener; nothing happens if it is not registered
 */
MS_API void ms_listener__unregister(struct ms_listener *l);

/**
 * ms_listener__free() - unregister (if needed) and free
 * @l: listener, may be NULL
 */
MS_API void ms_listener__free(struct ms_listener *l);

/** ms_listener__as() - address space or NULL. @l: listener. Return: the address space. */
MS_API struct ms_as *ms_listener__as(const struct ms_listener *l);

/**
 * ms_ctx__log_sync() - sync dirty bits from every listener (rule 7.4)
 * @ctx: context
 * @mr: only ranges of this region, or NULL for all ranges
 *
 * Then calls log_global_after_sync on every listener when @mr is NULL.
 */
MS_API void ms_ctx__log_sync(struct ms_ctx *ctx, struct ms_region *mr);

/**
 * ms_region__clear_dirty() - call log_clear for a region's ranges (rule 7.5)
 * @mr: region
 * @start: region offset
 * @len: length
 */
MS_API void ms_region__clear_dirty(struct ms_region *mr, uint64_t start, uint64_t len);

/* ms_mtree_print() flags, matching ``info mtree`` options. */
#define MS_MTREE_FLAT		(1u << 0)	/* -f */
#define MS_MTREE_OWNER		(1u << 1)	/* -o */
#define MS_MTREE_DISABLED	(1u << 2)	/* -D */

/**
 * typedef ms_mtree_mem_fn - does an accelerator map this range (rule 8.1)?
 * @opaque: user pointer
 * @as: address space sharing the view
 * @start: range start
 * @size: range size
 *
 * Return: true to print a " KVM" marker for @as.
 */
typedef bool (*ms_mtree_mem_fn)(void *opaque, struct ms_as *as, uint64_t start, ms_u128 size);

/**
 * ms_mtree_print() - print the context in QEMU's ``info mtree`` format
 * @ctx: context
 * @f: output stream
 * @flags: MS_MTREE_* flags
 * @has_memory: marker callback for the flat view, or NULL
 * @opaque: passed to @has_memory
 *
 * Lines end with "\n". QEMU prints address-space groups and flat views in
 * hash-table order; here groups are printed in the creation order of their
 * first address space, which is the only difference.
 *
 * Return: 0, or a negative errno if writing failed.
 */
MS_API int ms_mtree_print(struct ms_ctx *ctx, FILE *f, unsigned int flags,
			  ms_mtree_mem_fn has_memory, void *opaque);

#endif /* MEMSLOT_AS_H */
