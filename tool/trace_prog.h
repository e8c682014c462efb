/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one loader of bpf/trace.bpf.c, used by memslot trace, memslot run
 * --verify, the selftests and the BPF bench. It depends on libbpf only.
 */
#ifndef MEMSLOT_TOOL_TRACE_PROG_H
#define MEMSLOT_TOOL_TRACE_PROG_H

#include <stdbool.h>
#include <stdint.h>

struct ms_trace_event;
struct trace_prog;

/* Ring buffer bytes per event: the record and its 8-byte header. */
#define TRACE_PROG_EVENT_BYTES	(sizeof(struct ms_trace_event) + 8)

/**
 * struct trace_prog_opts - what to trace, where, and where events go
 * @tgid: only this process (0: every process)
 * @vm: only this VM, by its struct kvm address (0: every VM)
 * @attach: NULL for the most precise attach point the kernel has, else
 *	"fentry", "kprobe" or "syscall", optionally followed by "/FUNCTION"
 *	(kvm_set_memslot, __kvm_set_memory_region, kvm_set_memory_region)
 *	for the first two; see trace_prog_open()
 * @vcpus: also count guest entries and exits per VM (kvm_entry and
 *	kvm_exit tracepoints) into struct ms_trace_event.vcpu_entries/exits
 * @ring_size: ring buffer size in bytes, a power of two and a multiple of
 *	the page size (0: the program's 8 MiB); an event takes
 *	TRACE_PROG_EVENT_BYTES of it
 * @fn: called for every event read; a negative return stops the read and
 *	is returned by trace_prog_poll() / trace_prog_drain()
 * @opaque: passed to @fn
 */
struct trace_prog_opts {
	uint32_t tgid;
	uint64_t vm;
	const char *attach;
	bool vcpus;
	uint64_t ring_size;
	int (*fn)(const struct ms_trace_event *e, void *opaque);
	void *opaque;
};

/**
 * trace_prog_attach_valid() - is @attach a valid trace_prog_opts.attach?
 * @attach: the text
 *
 * Return: true if trace_prog_open() understands it.
 */
bool trace_prog_attach_valid(const char *attach);

/**
 * trace_prog_open() - open, load and attach the tracer
 * @o: options
 * @err: set to a negative errno on failure
 * @why: on failure, and on success after a fallback, what each rejected
 *	attach point lacked (may be NULL)
 * @why_len: size of @why
 *
 * Tries, in order, until one loads and attaches: fentry/fexit on
 * kvm_set_memslot(), __kvm_set_memory_region(), kvm_set_memory_region()
 * (the function must be in the vmlinux or kvm module BTF); kprobe/kretprobe
 * on the same (the function must be in kallsyms); the syscall tracepoints
 * (tp_btf where the kernel BTF describes them, else raw_tp). An @o->attach
 * limits the list to its kind and function.
 *
 * Return: the tracer, or NULL with @err set.
 */
struct trace_prog *trace_prog_open(const struct trace_prog_opts *o, int *err, char *why,
				   size_t why_len);

/**
 * trace_prog_attach() - the attach point chosen
 * @tp: tracer
 *
 * Return: text such as "fexit/kvm_set_memslot (kvm module BTF)", valid
 * until trace_prog_close().
 */
const char *trace_prog_attach(const struct trace_prog *tp);

/**
 * trace_prog_source() - the depth of the chosen attach point
 * @tp: tracer
 *
 * Return: an enum ms_trace_source.
 */
int trace_prog_source(const struct trace_prog *tp);

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
 * trace_prog_detach() - stop seeing new events, keep those not read yet
 * @tp: tracer
 *
 * After it, trace_prog_drain() reads the last events and the lost counts
 * are final: every event the programs saw was either read or counted
 * lost. A change in flight at the detach (its entry seen, its return not)
 * is neither.
 */
void trace_prog_detach(struct trace_prog *tp);

/**
 * trace_prog_lost() - events the program could not submit so far
 * @tp: tracer
 *
 * Return: the count.
 */
uint64_t trace_prog_lost(const struct trace_prog *tp);

/**
 * trace_prog_lost_vms() - events the program could not submit, per VM
 * @tp: tracer
 * @fn: called once for each VM (struct kvm address) that lost events,
 *	with its count summed over the CPUs
 * @opaque: passed to @fn
 *
 * The counts add up to trace_prog_lost() unless the program's table of
 * VMs (4096) filled up.
 *
 * Return: 0, or a negative errno if the counts could not be read.
 */
int trace_prog_lost_vms(const struct trace_prog *tp,
			void (*fn)(uint64_t vm, uint64_t lost, void *opaque), void *opaque);

/**
 * trace_prog_ring_size() - the size of the ring buffer loaded
 * @tp: tracer
 *
 * Return: its size in bytes.
 */
uint64_t trace_prog_ring_size(const struct trace_prog *tp);

/**
 * trace_prog_close() - detach and free (NULL is a no-op)
 * @tp: tracer
 */
void trace_prog_close(struct trace_prog *tp);

#endif
