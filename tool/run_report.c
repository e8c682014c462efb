// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot run's text report: the header (machine, KVM, guest, scenario)
 * and per step the ioctls, the memslot table, the accounting and the
 * checks (man/memslot-run.8.rst).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"
#include "plan.h"
#include "run.h"
#include "scenario.h"

static void print_kvm_line(const struct step *s, FILE *f)
{
	fprintf(f, "kvm: %" PRIu64 " memslot ioctl%s", s->ioctls, s->ioctls == 1 ? "" : "s");
	if (s->ioctls)
		fprintf(f, " (%" PRIu64 " create, %" PRIu64 " delete, %" PRIu64 " update, %"
			PRIu64 " failed), %.3f ms in the kernel", s->creates, s->deletes, s->updates,
			s->failures, s->ioctl_ns / 1e6);
	fprintf(f, "\n");
}

static const char *okfail(bool ok)
{
	return ok ? "ok" : "FAIL";
}

static void print_checks(const struct run *r, const struct step *s, FILE *f)
{
	bool vok = !s->vret && !s->guest_mismatches && !s->host_mismatches && !s->unslotted;

	fprintf(f, "checks:\n");
	if (s->st)
		fprintf(f, "  step: %s%s%s\n", okfail(!s->ret), s->ret ? ": " : "",
			s->ret ? s->err : "");
	if (!s->verified)
		fprintf(f, "  verify: not run, the guest failed earlier\n");
	else if (!s->vret || s->pages) {
		fprintf(f, "  verify: %s, %" PRIu64 " pages in %" PRIu64 " slots%s (%.1f ms, %"
			PRIu64 " exits)", okfail(vok), s->pages, s->slots_verified,
			r->p.full ? ", every page" : "", s->verify_ns / 1e6, s->exits);
		if (s->guest_mismatches || s->host_mismatches)
			fprintf(f, "; %" PRIu64 " guest and %" PRIu64 " host mismatches, first at 0x%"
				PRIx64 ": expected 0x%016" PRIx64 ", found 0x%016" PRIx64,
				s->guest_mismatches, s->host_mismatches, s->first_bad_gpa,
				s->expected, s->found);
		if (s->unslotted)
			fprintf(f, "; %" PRIu64 " accesses to RAM without a KVM slot, first at 0x%"
				PRIx64, s->unslotted, s->first_unslotted_gpa);
		fprintf(f, "\n");
	}
	if (s->verified && s->vret)
		fprintf(f, "  verify: FAIL: %s\n", error_text(&s->verr, -s->vret));
	if (s->mmio_done) {
		if (s->mret)
			fprintf(f, "  mmio: FAIL: %s\n", error_text(&s->merr, -s->mret));
		else
			fprintf(f, "  mmio: %s, read of 0x%" PRIx64 " (%s) %s\n",
				okfail(s->mmio.exits && s->mmio.access.addr == s->mmio_gpa),
				s->mmio_gpa, s->mmio.exits && s->mmio.access.region[0] ?
				s->mmio.access.region : "unassigned",
				s->mmio.exits ? "exited to user space" : "did not exit");
	}
	if (s->rom_done) {
		if (s->rret)
			fprintf(f, "  rom: FAIL: %s\n", error_text(&s->rerr, -s->rret));
		else
			fprintf(f, "  rom: %s, write to 0x%" PRIx64 " (%s) %s, %s\n",
				okfail(s->rom.exited && s->rom.unchanged), s->rom_gpa, s->rom.region,
				s->rom.exited ? "exited" : "did not exit",
				s->rom.unchanged ? "memory unchanged" : "memory CHANGED");
	}
	fprintf(f, "  kernel: %s, %u slots in the kernel, %u in the library", okfail(!s->nr_diffs),
		s->kernel_slots, s->lib_slots);
	for (size_t i = 0; i < s->nr_diffs; i++)
		fprintf(f, "%s%s", i ? "; " : ": ", s->diffs[i]);
	fprintf(f, "\n");
	if (r->p.dirty_log && !r->guest_dead)
		fprintf(f, "  dirty log: %s, %" PRIu64 " pages dirtied%s%s\n",
			okfail(!s->dirty_short), s->dirty_pages, s->dirty_short ? "; " : "",
			s->dirty_short ? s->dirty_fail : "");
	if (s->acct_checked)
		fprintf(f, "  unchanged: %s%s%s\n", okfail(s->acct_same), s->acct_same ? "" : ": ",
			s->acct_same ? "" : s->acct_diff);
	if (s->kv.done) {
		const struct kverify *kv = &s->kv;

		fprintf(f, "  verified against the kernel: %s (census %" PRIu64 " slots %s library, %"
			PRIu64 " ioctls traced %s issued", okfail(kv->ok), kv->census_slots,
			kv->census_slots == kv->lib_slots ? "==" : "!=", kv->traced,
			kv->traced == kv->issued ? "==" : "!=");
		if (kv->injected)
			fprintf(f, ", %" PRIu64 " injected fault%s not sent", kv->injected,
				kv->injected == 1 ? "" : "s");
		if (kv->traced_failed)
			fprintf(f, ", failed with %s", strerrorname_np(kv->traced_errno) ?: "?");
		if (kv->kchanges)
			fprintf(f, "; KVM: %" PRIu64 " create, %" PRIu64 " delete, %" PRIu64
				" move, %" PRIu64 " flags_only, %" PRIu64 " internal", kv->kc[0],
				kv->kc[1], kv->kc[2], kv->kc[3], kv->kc_internal);
		fprintf(f, ")");
		for (size_t i = 0; i < kv->nr_diffs; i++)
			fprintf(f, "%s%s", i ? "; " : ": ", kv->diffs[i]);
		fprintf(f, "\n");
	}
}

int run_print_step(struct run *r, const struct step *s, FILE *f)
{
	struct ms_slotmap *maps[2];
	size_t nr_maps = machine_kvm_maps(r->p.m, maps);
	struct memslot_cols cols = run_cols(r);
	int ret = 0;

	if (s->st)
		fprintf(f, "\nline %u: %s\n", s->st->line, s->st->text);
	else
		fprintf(f, "\nstart:\n");
	print_kvm_line(s, f);
	if (s->st && s->st->cmd == SCN_INFO) {
		switch (s->st->info) {
		case SCN_INFO_MEMORY_DEVICES:
			ret = plan_print_devices(&r->p, f);
			break;
		case SCN_INFO_MTREE:
			ret = plan_print_flat(&r->p, f);
			break;
		default:
			break;
		}
	}
	fprintf(f, "memslots:\n");
	memslot_table_print_cols(f, maps, nr_maps, &cols);
	fprintf(f, "accounting:\n");
	plan_print_accounting(&r->p, f);
	print_checks(r, s, f);
	return ret;
}

void run_print_header(const struct run *r, FILE *f)
{
	struct vmm_stats vs;

	vmm_stats(r->vmm, &vs);
	plan_print_machine(&r->p, f);
	fprintf(f, "kvm: %s, %u memslots, readonly memory %s\n",
		ms_kvm__has_memory2(r->kvm) ? "KVM_SET_USER_MEMORY_REGION2" :
					      "KVM_SET_USER_MEMORY_REGION",
		ms_kvm__max_memslots(r->kvm), ms_kvm__has_readonly_mem(r->kvm) ? "yes" : "no");
	fprintf(f, "guest: probe guest booted in %.1f ms, %u phys-bits", vs.boot_ns / 1e6,
		vs.phys_bits);
	if (r->cpu >= 0)
		fprintf(f, "; vCPU and memslot updates on CPU %d\n", r->cpu);
	else
		fprintf(f, "; not pinned\n");
	fprintf(f, "scenario: %s%s%s\n", r->script_name ?: "(none)",
		r->p.dirty_log ? ", dirty logging" : "", r->p.full ? ", every page verified" : "");
	if (r->ts)
		fprintf(f, "kernel verification: tracer %s (pid %d), %s%s%scensus iter/task_file\n",
			r->attach, (int)getpid(), r->tk ? "KVM's changes " : "",
			r->tk ? r->kattach : "", r->tk ? ", " : "");
	else if (r->kv_skipped[0])
		fprintf(f, "kernel verification: skipped: %s\n", r->kv_skipped);
}
