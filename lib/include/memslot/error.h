/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot error details and logging.
 */
#ifndef MEMSLOT_ERROR_H
#define MEMSLOT_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifndef MS_API
#define MS_API __attribute__((visibility("default")))
#endif

/*
 * MS_OPTS() - declare an options struct with its size filled in
 * @type: struct tag, e.g. ms_slotmap_opts
 * @name: variable name
 *
 * Extensible calls take an options struct whose first field is ``size_t
 * sz``; unnamed fields are zero.
 */
#define MS_OPTS(type, name, ...) \
	struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

/* Size of &struct ms_error's message buffer, including the NUL. */
#define MS_ERROR_MSG_LEN 256

/* &struct ms_error flags */
/* A KVM memslot operation failed: @op, @as_id, @slot, @gpa, @size, @flags_kvm, @kvm_errno are set. */
#define MS_ERROR_KVM		(1u << 0)
/* ... and the failure was injected (ms_kvm_opts.fault_nth): the kernel never saw the call. */
#define MS_ERROR_INJECTED	(1u << 1)

/**
 * struct ms_error - details of a failed call
 * @err: the negative errno the call returned (0 if nothing failed)
 * @msg: one line naming the object and the value, e.g.
 *       "slot 7: 0x100000+0x1000 overlaps slot 3"; empty if nothing failed
 * @flags: MS_ERROR_* bits saying what the fields below describe (0: only
 *	@err and @msg are set)
 * @op: with MS_ERROR_KVM: the failed slot operation, an enum
 *	ms_slot_op_kind value
 * @as_id: with MS_ERROR_KVM: the KVM address space id of the slot
 * @slot: with MS_ERROR_KVM: the slot id
 * @gpa: with MS_ERROR_KVM: guest address of the operation
 * @size: with MS_ERROR_KVM: size of the operation (the slot's size for a
 *	delete, as &struct ms_slot_op carries it)
 * @flags_kvm: with MS_ERROR_KVM: the MS_KVM_MEM_* flags of the operation
 * @kvm_errno: with MS_ERROR_KVM: the positive errno of the memslot ioctl
 *	(the injected one with MS_ERROR_INJECTED)
 *
 * Caller-owned. Fallible library calls take an optional last parameter
 * ``struct ms_error *err`` (may be NULL) and fill it on failure only.
 * Callers decide from @flags and the fields, never from the text of @msg.
 */
struct ms_error {
	int err;
	char msg[MS_ERROR_MSG_LEN];
	unsigned int flags;
	int op;
	uint16_t as_id;
	uint32_t slot;
	uint64_t gpa;
	uint64_t size;
	uint32_t flags_kvm;
	int kvm_errno;
};

/**
 * ms_error_set() - record a failure in an optional error object
 * @e: error object, may be NULL
 * @err: negative errno
 * @fmt: printf format of the one-line message
 *
 * Sets @err and the message; @flags becomes 0 (no structured details).
 *
 * Return: @err, so callers can write ``return ms_error_set(e, -EINVAL, ...)``.
 */
MS_API int ms_error_set(struct ms_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * enum ms_print_level - severity of a library message
 * @MS_WARN: something the caller should know about
 * @MS_INFO: progress information
 * @MS_DEBUG: details for debugging
 */
enum ms_print_level {
	MS_WARN,
	MS_INFO,
	MS_DEBUG,
};

/**
 * typedef ms_print_fn_t - library logging callback
 * @level: severity
 * @fmt: printf format
 * @ap: arguments
 *
 * Return: number of characters printed (ignored).
 */
typedef int (*ms_print_fn_t)(enum ms_print_level level, const char *fmt, va_list ap);

/**
 * ms_set_print() - route library messages through @fn
 * @fn: new callback, or NULL to silence the library
 *
 * By default warnings go to stderr and info/debug are dropped.
 *
 * Return: the previous callback.
 */
MS_API ms_print_fn_t ms_set_print(ms_print_fn_t fn);

#endif /* MEMSLOT_ERROR_H */
