// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot run --verify: after every step, the tracer's events of the
 * step (trace_prog.h) and the BPF census of this VM (census_prog.h)
 * against what the library did and its slot map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "census_prog.h"
#include "memslot_bpf.h"
#include "tool.h"
#include "plan.h"
#include "run.h"
#include "scenario.h"
#include "trace_prog.h"

#define kv_diff(kv, ...) run_add_diff(&(kv)->diffs, &(kv)->nr_diffs, __VA_ARGS__)

/* Every traced memslot ioctl of this process (run from trace_prog_drain()). */
static int on_trace(const struct ms_trace_event *e, void *opaque)
{
	struct run *r = opaque;

	if (e->fd != r->vm_fd) {
		r->tr_foreign++;
		return 0;
	}
	r->tr_events++;
	r->tr_vm = e->vm;
	r->tk_vm = e->vm;
	if (e->ret) {
		if (!r->tr_failed)
			r->tr_errno = e->ret;
		r->tr_failed++;
	}
	return 0;
}

/* Every change KVM made for this process (kvm_set_memslot(), run from trace_prog_drain()). */
static int on_kchange(const struct ms_trace_event *e, void *opaque)
{
	struct run *r = opaque;

	if (!r->tk_vm || e->vm != r->tk_vm || e->change < 0 || e->change > 3) {
		r->tk_other++;
		return 0;
	}
	if ((e->slot & 0xffff) >= MS_BPF_USER_MEM_SLOTS)
		r->tk_internal++;
	else if (!e->ret)
		r->tk_kc[e->change]++;
	return 0;
}

/*
 * KVM's changes against the library's operations: a create, a delete and a
 * flags update each make one change of that type (rules 6.1, 6.2, 6.6),
 * never a move. With failures in the step only "at most" can be said.
 */
static int kv_changes(struct run *r, struct step *s, struct kverify *kv)
{
	static const char *const names[4] = { "create", "delete", "move", "flags_only" };
	const uint64_t want[4] = { s->creates, s->deletes, 0, s->updates };
	int ret;

	memset(r->tk_kc, 0, sizeof(r->tk_kc));
	r->tk_internal = r->tk_other = 0;
	ret = trace_prog_drain(r->tk);
	if (ret)
		return kv_diff(kv, "cannot read KVM's changes: %s", strerror(-ret));
	kv->kchanges = true;
	memcpy(kv->kc, r->tk_kc, sizeof(kv->kc));
	kv->kc_internal = r->tk_internal;
	kv->lost += trace_prog_lost(r->tk);
	for (int c = 0; c < 4; c++) {
		if (s->failures ? kv->kc[c] <= want[c] : kv->kc[c] == want[c])
			continue;
		ret = kv_diff(kv, "KVM made %" PRIu64 " %s change%s, the library asked for %s%"
			      PRIu64, kv->kc[c], names[c], kv->kc[c] == 1 ? "" : "s",
			      s->failures ? "at most " : "", want[c]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The census of our VM against the library's slot map. */
static int kv_compare(struct run *r, struct kverify *kv, const struct census_fd_vm *cv)
{
	struct ms_kvm_slot *rows = calloc(cv->nr ?: 1, sizeof(*rows));
	struct ms_machine_layout lay;
	struct ms_devmem_stats st;
	size_t lib_slots = 0;
	int ret;

	if (!rows)
		return -ENOMEM;
	for (size_t k = 0; k < cv->nr; k++) {
		const struct ms_census_slot *c = &cv->slots[k];

		rows[k] = (struct ms_kvm_slot){ .as_id = c->as_id, .slot = c->id, .flags = c->flags,
						.gpa = c->gpa, .size = c->size, .hva = c->hva };
	}
	kv->census_slots = cv->nr;
	ret = run_diff_slots(r, rows, cv->nr, "the kernel's census", "census", &lib_slots,
			     &kv->diffs, &kv->nr_diffs);
	kv->lib_slots = lib_slots;
	free(rows);
	if (ret)
		return ret;

	/* device memory: used memslots (rule 6.2) against the kernel's slots there */
	ms_machine__layout(r->p.m, &lay);
	ms_machine__devmem_stats(r->p.m, &st);
	kv->devmem_used = st.used_memslots;
	for (size_t k = 0; k < cv->nr; k++) {
		const struct ms_census_slot *c = &cv->slots[k];

		if (!c->as_id && lay.devmem_size && c->gpa >= lay.devmem_base &&
		    c->gpa - lay.devmem_base < lay.devmem_size)
			kv->devmem_census++;
	}
	if (kv->devmem_used != kv->devmem_census)
		ret = kv_diff(kv, "device memory: %" PRIu64 " used memslots, %" PRIu64
			      " slots in the kernel", kv->devmem_used, kv->devmem_census);
	return ret;
}

/*
 * After a step: read the tracer's events of the step and the census of
 * our VM, and compare both with what the library did.
 */
int kverify_check(struct run *r, struct step *s)
{
	struct kverify *kv = &s->kv;
	struct census_fd_vm cv;
	int ret;

	kv->done = true;
	r->tr_events = r->tr_failed = r->tr_foreign = 0;
	r->tr_errno = 0;
	ret = trace_prog_drain(r->ts);
	if (ret) {
		kv->err = ret;
		return kv_diff(kv, "cannot read the trace: %s", strerror(-ret));
	}
	kv->traced = r->tr_events;
	kv->traced_failed = r->tr_failed;
	kv->traced_errno = r->tr_errno ? -r->tr_errno : 0;
	kv->foreign = r->tr_foreign;
	kv->injected = s->injected;
	kv->issued = s->ioctls - kv->injected;
	kv->failed = s->failures - kv->injected;
	kv->expected_errno = s->kf.set && !(s->kf.e.flags & MS_ERROR_INJECTED) ?
			     -s->kf.e.err : 0;

	ret = census_prog_read_fd(r->cs, r->vm_fd, &cv);
	kv->census_ns = cv.ns;
	kv->lost = trace_prog_lost(r->ts) + cv.lost;
	if (ret && ret != -EAGAIN) {
		kv->err = ret;
		ret = kv_diff(kv, ret == -ENOENT ? "the census found no VM with fd %d" :
			      "census of fd %d failed", r->vm_fd);
		goto lost;
	}
	if (ret == -EAGAIN && (ret = kv_diff(kv, "no consistent census in 3 passes")))
		return ret;
	kv->vm = cv.vm;
	kv->generation = cv.generation;
	ret = kv_compare(r, kv, &cv);
	if (ret)
		return ret;
	if (kv->traced && r->tr_vm != cv.vm)
		ret = kv_diff(kv, "traced VM 0x%" PRIx64 ", census VM 0x%" PRIx64, r->tr_vm, cv.vm);
	if (!ret && kv->traced != kv->issued)
		ret = kv_diff(kv, "%" PRIu64 " ioctls traced, %" PRIu64 " issued to the kernel",
			      kv->traced, kv->issued);
	if (!ret && kv->traced_failed != kv->failed)
		ret = kv_diff(kv, "%" PRIu64 " failed ioctls traced, %" PRIu64
			      " failed in the kernel", kv->traced_failed, kv->failed);
	if (!ret && kv->expected_errno && kv->traced_errno != kv->expected_errno)
		ret = kv_diff(kv, "failed ioctl traced with %s, the library got %s",
			      strerrorname_np(kv->traced_errno) ?: "none",
			      strerrorname_np(kv->expected_errno) ?: "?");
	if (!ret && r->tk)
		ret = kv_changes(r, s, kv);
lost:
	if (!ret && kv->lost)
		ret = kv_diff(kv, "%" PRIu64 " events lost", kv->lost);
	return ret;
}

/*
 * --verify (the default of the default scenario): attach the tracer to this
 * process and load the census before the machine sets any memslot. Given
 * explicitly, a failure is an error; by default it is one line saying why
 * the kernel verification is skipped.
 */
int kverify_start(struct run *r)
{
	bool wanted = r->p.verify;
	const char *why = bpf_missing_privileges();
	int err = 0;

	if (!wanted && !r->default_scenario)
		return 0;
	if (why) {
		if (wanted) {
			p_err("--verify: %s", why);
			return 1;
		}
		snprintf(r->kv_skipped, sizeof(r->kv_skipped), "%s", why);
		return 0;
	}
	bpf_setup_libbpf();
	r->vm_fd = ms_kvm__vm_fd(r->kvm);
	r->ts = trace_prog_open(&(struct trace_prog_opts){ .tgid = (uint32_t)getpid(),
							   .attach = "syscall", .fn = on_trace,
							   .opaque = r }, &err, NULL, 0);
	if (r->ts) {
		r->attach = trace_prog_attach(r->ts);
		r->cs = census_prog_open((uint32_t)getpid(), &err);
	}
	/* KVM's own changes where the kernel lets us probe kvm_set_memslot() */
	for (int i = 0; r->ts && r->cs && !r->tk && i < 2; i++) {
		static const char *const at[] = { "fentry/kvm_set_memslot", "kprobe/kvm_set_memslot" };
		int kerr;

		r->tk = trace_prog_open(&(struct trace_prog_opts){ .tgid = (uint32_t)getpid(),
								   .attach = at[i], .fn = on_kchange,
								   .opaque = r }, &kerr, NULL, 0);
	}
	if (r->tk)
		r->kattach = trace_prog_attach(r->tk);
	if (r->ts && r->cs)
		return 0;
	trace_prog_close(r->ts);
	r->ts = NULL;
	if (wanted) {
		p_err("--verify: cannot load or attach the BPF programs: %s (run with -d for "
		      "details)", strerror(-err));
		return 1;
	}
	snprintf(r->kv_skipped, sizeof(r->kv_skipped),
		 "cannot load or attach the BPF programs: %s", strerror(-err));
	return 0;
}
