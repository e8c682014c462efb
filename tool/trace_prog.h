/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one loader of bpf/trace.bpf.c, used by memslot trace and by
 * memslot run --verify.
 */
#ifndef MEMSLOT_TOOL_TRACE_PROG_H
#define MEMSLOT_TOOL_TRACE_PROG_H

#include <stdint.h>

struct ms_trace_event;
struct trace_prog;

/**
 * struct trace_prog_opts - what to trace and where events go
 * @tgid: only this process (0: every process)
 * @vm: only this VM, by its struct kvm address (0: every VM)
 * @fn: called for every event read; a negative return stops the read and
 *	is returned by trace_prog_poll() / trace_prog_drain()
 * @opaque: passed to @fn
 */
struct trace_prog_opts {
	uint32_t tgid;
	uint64_t vm;
	int (*fn)(const struct ms_trace_event *e, void *opaque);
	void *opaque;
};

/**
 * trace_prog_open() - open, load and attach the tracer
 * @o: options
 * @err: set to a negative errno on failure
 *
 * Probes the kernel first: tp_btf programs on the syscall tracepoints when
 * the kernel BTF describes them, else raw_tp; the other pair is not loaded.
 *
 * Return: the tracer, or NULL with @err set.
 */
struct trace_prog *trace_prog_open(const struct trace_prog_opts *o, int *err);

/**
 * trace_prog_attach() - the attach path chosen
 * @tp: tracer
 *
 * Return: static text such as "tp_btf/sys_enter + sys_exit".
 */
const char *trace_prog_attach(const struct trace_prog *tp);

/**
 * trace_prog_poll() - wait up to @timeout_ms for events, then read them all
 * @tp: tracer
 * @timeout_ms: poll timeout (events are submitted without wakeup)
 *
 * Return: 0, @fn's negative return, or a negative errno (-EINTR included).
 */
int trace_prog_poll(struct trace_prog *tp, int timeout_ms);

/**
 * trace_prog_drain() - read the events already in the ring buffer
 * @tp: tracer
 *
 * Return: as trace_prog_poll().
 */
int trace_prog_drain(struct trace_prog *tp);

/**
 * trace_prog_lost() - events the program could not submit so far
 * @tp: tracer
 *
 * Return: the count.
 */
uint64_t trace_prog_lost(const struct trace_prog *tp);

/**
 * trace_prog_close() - detach and free (NULL is a no-op)
 * @tp: tracer
 */
void trace_prog_close(struct trace_prog *tp);

#endif
