/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot memory contexts: one universe of regions, address spaces and
 * listeners, its transactions and global dirty logging
 * (listeners-and-transactions.md).
 */
#ifndef MEMSLOT_CTX_H
#define MEMSLOT_CTX_H

#include <stdbool.h>

#include "error.h"

struct ms_ctx;

/**
 * ms_ctx__new() - create a memory context
 *
 * A context holds one universe of regions, address spaces and listeners,
 * the transaction depth and the pending-update flags (QEMU keeps these
 * global). Objects of different contexts must never be mixed. A context is
 * not thread safe: all calls on it and on its objects must be serialized
 * by the caller.
 *
 * Return: the context, or NULL with errno set.
 */
MS_API struct ms_ctx *ms_ctx__new(void);

/**
 * ms_ctx__free() - free a context
 * @ctx: context, may be NULL
 *
 * Every address space and listener of @ctx must have been freed and every
 * region reference dropped; leftover objects are leaked rather than
 * corrupted. No transaction may be open.
 */
MS_API void ms_ctx__free(struct ms_ctx *ctx);

/**
 * ms_ctx__begin() - open a (possibly nested) transaction
 * @ctx: context
 *
 * Changes made until the matching outermost ms_ctx__commit() are seen by
 * listeners as one net difference (listeners-and-transactions.md 3.1).
 */
MS_API void ms_ctx__begin(struct ms_ctx *ctx);

/**
 * ms_ctx__commit() - close a transaction
 * @ctx: context
 *
 * At depth 0 rebuilds the flat views and runs the listener diff if an
 * update is pending, or only recomputes ioeventfds if only that is pending.
 * Out of memory rendering a view, its address space keeps the old view
 * (with a warning), the changes stay made and the next commit renders again.
 *
 * Return: 0, -EINVAL if no transaction is open, or -ENOMEM if a view kept
 * its old state.
 */
MS_API int ms_ctx__commit(struct ms_ctx *ctx);

/**
 * ms_ctx__depth() - current transaction nesting depth
 * @ctx: context
 *
 * Return: the depth, 0 outside any transaction.
 */
MS_API unsigned int ms_ctx__depth(const struct ms_ctx *ctx);

/* Global dirty tracking reasons (listeners-and-transactions.md 7.2). */
#define MS_GLOBAL_DIRTY_MIGRATION	(1u << 0)
#define MS_GLOBAL_DIRTY_DIRTY_RATE	(1u << 1)
#define MS_GLOBAL_DIRTY_DIRTY_LIMIT	(1u << 2)

/**
 * ms_ctx__dirty_log_start() - start global dirty tracking for @flags
 * @ctx: context
 * @flags: MS_GLOBAL_DIRTY_* reasons
 * @err: optional error details
 *
 * If no reason was active, calls log_global_start on every listener; if
 * one fails the earlier ones get log_global_stop and nothing changes.
 *
 * Return: 0, or the negative errno of the failing listener.
 */
MS_API int ms_ctx__dirty_log_start(struct ms_ctx *ctx, unsigned int flags, struct ms_error *err);

/**
 * ms_ctx__dirty_log_stop() - stop global dirty tracking for @flags
 * @ctx: context
 * @flags: MS_GLOBAL_DIRTY_* reasons
 *
 * While the VM is stopped (ms_ctx__set_running()) the stop is postponed.
 */
MS_API void ms_ctx__dirty_log_stop(struct ms_ctx *ctx, unsigned int flags);

/**
 * ms_ctx__set_running() - tell the context whether the VM runs
 * @ctx: context
 * @running: new state; going to running executes postponed stops
 *
 * A new context is "running".
 */
MS_API void ms_ctx__set_running(struct ms_ctx *ctx, bool running);

/**
 * ms_ctx__global_dirty() - active global dirty tracking reasons
 * @ctx: context
 *
 * Return: MS_GLOBAL_DIRTY_* bits.
 */
MS_API unsigned int ms_ctx__global_dirty(const struct ms_ctx *ctx);

#endif /* MEMSLOT_CTX_H */
