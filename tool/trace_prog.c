// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The loader of bpf/trace.bpf.c (trace_prog.h): the only code that opens
 * its skeleton.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tool.h"
#include "memslot_bpf.h"
#include "trace.skel.h"
#include "trace_prog.h"

struct trace_prog {
	struct trace_bpf *skel;
	struct ring_buffer *rb;
	const char *attach;
	int (*fn)(const struct ms_trace_event *e, void *opaque);
	void *opaque;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct trace_prog *tp = ctx;

	if (len < sizeof(struct ms_trace_event))
		return 0;
	return tp->fn(data, tp->opaque);
}

struct trace_prog *trace_prog_open(const struct trace_prog_opts *o, int *err)
{
	struct trace_prog *tp = calloc(1, sizeof(*tp));
	bool btf_tp;

	if (!tp) {
		*err = -ENOMEM;
		return NULL;
	}
	tp->fn = o->fn;
	tp->opaque = o->opaque;
	tp->skel = trace_bpf__open();
	if (!tp->skel) {
		*err = -errno;
		goto fail;
	}
	tp->skel->rodata->targ_tgid = o->tgid;
	tp->skel->rodata->targ_vm = o->vm;
	/* Probe: tp_btf needs the tracepoints in the kernel BTF; else raw_tp. */
	btf_tp = bpf_have_btf_tracepoints();
	bpf_program__set_autoload(tp->skel->progs.enter_btf, btf_tp);
	bpf_program__set_autoload(tp->skel->progs.exit_btf, btf_tp);
	bpf_program__set_autoload(tp->skel->progs.enter_raw, !btf_tp);
	bpf_program__set_autoload(tp->skel->progs.exit_raw, !btf_tp);
	tp->attach = btf_tp ? "tp_btf/sys_enter + sys_exit" : "raw_tp/sys_enter + sys_exit";
	*err = trace_bpf__load(tp->skel);
	if (!*err)
		*err = trace_bpf__attach(tp->skel);
	if (*err)
		goto fail;
	tp->rb = ring_buffer__new(bpf_map__fd(tp->skel->maps.events), on_event, tp, NULL);
	if (!tp->rb) {
		*err = -errno;
		goto fail;
	}
	return tp;
fail:
	trace_prog_close(tp);
	return NULL;
}

const char *trace_prog_attach(const struct trace_prog *tp)
{
	return tp->attach;
}

int trace_prog_poll(struct trace_prog *tp, int timeout_ms)
{
	int n = ring_buffer__poll(tp->rb, timeout_ms);

	if (n >= 0)
		n = ring_buffer__consume(tp->rb);
	return n < 0 ? n : 0;
}

int trace_prog_drain(struct trace_prog *tp)
{
	int n = ring_buffer__consume(tp->rb);

	return n < 0 ? n : 0;
}

uint64_t trace_prog_lost(const struct trace_prog *tp)
{
	uint64_t lost = 0;
	uint32_t zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(tp->skel->maps.lost), &zero, &lost);
	return lost;
}

void trace_prog_close(struct trace_prog *tp)
{
	if (!tp)
		return;
	ring_buffer__free(tp->rb);
	trace_bpf__destroy(tp->skel);
	free(tp);
}
