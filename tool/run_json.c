// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot run's JSON report (-j): the "kvm" object and one object per
 * step (man/memslot-run.8.rst).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "tool.h"
#include "plan.h"
#include "run.h"
#include "scenario.h"

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

static const char *op_name(enum ms_slot_op_kind k)
{
	return k == MS_SLOT_OP_CREATE ? "create" : k == MS_SLOT_OP_DELETE ? "delete" : "update";
}

static int kslot_json(const struct ms_kvm_slot *s, void *opaque)
{
	struct json_object *a = opaque, *o = json_object_new_object();

	if (!o)
		return 1;
	ADD(o, "slot", json_u64(s->slot));
	ADD(o, "as", json_u64(s->as_id));
	ADD(o, "gpa", json_u64(s->gpa));
	ADD(o, "size", json_u64(s->size));
	ADD(o, "flags", json_u64(s->flags));
	ADD(o, "hva", json_u64(s->hva));
	return json_object_array_add(a, o) ? 1 : 0;
}

static struct json_object *kvm_fail_json(const struct run *r, const struct kvm_fail *kf)
{
	struct json_object *o = json_object_new_object();
	char text[QOPT_ERR_LEN + 512];

	if (!o)
		return NULL;
	run_kvm_fail_text(r, kf, text, sizeof(text));
	ADD(o, "op", json_object_new_string(op_name((enum ms_slot_op_kind)kf->e.op)));
	ADD(o, "slot", json_u64(kf->e.slot));
	ADD(o, "as", json_u64(kf->e.as_id));
	ADD(o, "gpa", json_u64(kf->e.gpa));
	ADD(o, "size", json_u64(kf->e.size));
	ADD(o, "flags", json_u64(kf->e.flags_kvm));
	ADD(o, "errno", json_u64(kf->e.err ? (uint64_t)-kf->e.err : 0));
	ADD(o, "explanation", json_object_new_string(kf->e.msg));
	ADD(o, "message", json_object_new_string(text));
	return o;
}

static struct json_object *kv_json(const struct kverify *kv)
{
	struct json_object *o = json_object_new_object(), *a;
	char vm[24];

	if (!o)
		return NULL;
	ADD(o, "ok", json_object_new_boolean(kv->ok));
	/* a kernel address: a hex string, as census and trace give it (memslot(8)) */
	snprintf(vm, sizeof(vm), "0x%" PRIx64, kv->vm);
	ADD(o, "vm", json_object_new_string(vm));
	ADD(o, "generation", json_u64(kv->generation));
	ADD(o, "census_slots", json_u64(kv->census_slots));
	ADD(o, "library_slots", json_u64(kv->lib_slots));
	ADD(o, "traced_ioctls", json_u64(kv->traced));
	ADD(o, "issued_ioctls", json_u64(kv->issued));
	ADD(o, "injected_faults", json_u64(kv->injected));
	ADD(o, "traced_failures", json_u64(kv->traced_failed));
	ADD(o, "kernel_failures", json_u64(kv->failed));
	ADD(o, "traced_errno", kv->traced_errno ? json_u64((uint64_t)kv->traced_errno) : NULL);
	if (kv->kchanges) {
		struct json_object *c = json_object_new_object();

		ADD(o, "kvm_changes", c);
		ADD(c, "create", json_u64(kv->kc[0]));
		ADD(c, "delete", json_u64(kv->kc[1]));
		ADD(c, "move", json_u64(kv->kc[2]));
		ADD(c, "flags_only", json_u64(kv->kc[3]));
		ADD(c, "internal", json_u64(kv->kc_internal));
	} else {
		ADD(o, "kvm_changes", NULL);
	}
	ADD(o, "devmem_used_memslots", json_u64(kv->devmem_used));
	ADD(o, "devmem_kernel_slots", json_u64(kv->devmem_census));
	ADD(o, "lost_events", json_u64(kv->lost));
	ADD(o, "census_ns", json_u64(kv->census_ns));
	a = json_object_new_array();
	ADD(o, "differences", a);
	for (size_t i = 0; a && i < kv->nr_diffs; i++)
		json_object_array_add(a, json_object_new_string(kv->diffs[i]));
	if (!a)
		return json_object_put(o), NULL;
	return o;
}

struct json_object *run_step_json(struct run *r, const struct step *s)
{
	struct ms_slotmap *maps[2];
	size_t nr_maps = machine_kvm_maps(r->p.m, maps);
	struct memslot_cols cols = run_cols(r);
	struct json_object *o = json_object_new_object(), *k, *v, *a;
	bool ok = true;

	if (!o)
		return NULL;
	ADD(o, "line", json_u64(s->st ? s->st->line : 0));
	ADD(o, "command", json_object_new_string(s->st ? s->st->text : "start"));
	ADD(o, "ok", json_object_new_boolean(!s->ret && !s->failed));
	ADD(o, "step_ok", json_object_new_boolean(!s->ret));
	ADD(o, "error", s->ret ? json_object_new_string(s->err) : NULL);
	ADD(o, "kvm_error", s->kf.set ? kvm_fail_json(r, &s->kf) : NULL);
	ADD(o, "ns", json_u64(s->ns));

	k = json_object_new_object();
	ADD(o, "kvm", k);
	if (k) {
		ADD(k, "ioctl_first", json_u64(s->ioctl_first));
		ADD(k, "ioctls", json_u64(s->ioctls));
		ADD(k, "creates", json_u64(s->creates));
		ADD(k, "deletes", json_u64(s->deletes));
		ADD(k, "updates", json_u64(s->updates));
		ADD(k, "failures", json_u64(s->failures));
		ADD(k, "ioctl_ns", json_u64(s->ioctl_ns));
	}
	a = memslot_table_json_cols(maps, nr_maps, &cols);
	ADD(o, "memslots", a);
	ok = ok && k && a;
	a = json_object_new_array();
	ADD(o, "kernel_memslots", a);
	ok = ok && a && !ms_kvm__for_each_slot(r->kvm, kslot_json, a);
	ADD(o, "consistent", json_object_new_boolean(!s->nr_diffs));
	a = json_object_new_array();
	ADD(o, "differences", a);
	for (size_t i = 0; a && i < s->nr_diffs; i++)
		json_object_array_add(a, json_object_new_string(s->diffs[i]));
	ok = ok && a;
	a = plan_accounting_json(&r->p);
	ADD(o, "accounting", a);
	ok = ok && a;
	a = plan_consumers_json(&r->p);
	ADD(o, "consumers", a);
	ok = ok && a;
	a = plan_devices_json(&r->p);
	ADD(o, "devices", a);
	ok = ok && a;
	ADD(o, "accounting_unchanged", s->acct_checked ? json_object_new_boolean(s->acct_same) : NULL);
	ADD(o, "kernel_verify", s->kv.done ? kv_json(&s->kv) : NULL);

	v = json_object_new_object();
	ADD(o, "verification", v);
	if (!v)
		return json_object_put(o), NULL;
	ADD(v, "ok", json_object_new_boolean(s->verified && !s->vret && !s->guest_mismatches &&
					      !s->host_mismatches && !s->unslotted));
	ADD(v, "error", s->vret ? json_object_new_string(s->verr.msg) : NULL);
	ADD(v, "full", json_object_new_boolean(r->p.full));
	ADD(v, "slots", json_u64(s->slots_verified));
	ADD(v, "pages", json_u64(s->pages));
	ADD(v, "ram_bytes", json_u64(s->ram_bytes));
	ADD(v, "guest_mismatches", json_u64(s->guest_mismatches));
	ADD(v, "host_mismatches", json_u64(s->host_mismatches));
	ADD(v, "first_bad_gpa", s->first_bad_gpa != UINT64_MAX ? json_u64(s->first_bad_gpa) : NULL);
	ADD(v, "unslotted", json_u64(s->unslotted));
	ADD(v, "uncovered_bytes", json_u64(s->uncovered));
	ADD(v, "exits", json_u64(s->exits));
	ADD(v, "ns", json_u64(s->verify_ns));
	if (s->mmio_done) {
		struct json_object *m = json_object_new_object();

		ADD(v, "mmio", m);
		if (m) {
			ADD(m, "gpa", json_u64(s->mmio_gpa));
			ADD(m, "ok", json_object_new_boolean(!s->mret && s->mmio.exits &&
							     s->mmio.access.addr == s->mmio_gpa));
			ADD(m, "exits", json_u64(s->mmio.exits));
			ADD(m, "region", s->mmio.exits ?
			    json_object_new_string(s->mmio.access.region) : NULL);
			ADD(m, "error", s->mret ? json_object_new_string(s->merr.msg) : NULL);
		}
	} else {
		ADD(v, "mmio", NULL);
	}
	if (s->rom_done) {
		struct json_object *m = json_object_new_object();

		ADD(v, "rom_write", m);
		if (m) {
			ADD(m, "gpa", json_u64(s->rom_gpa));
			ADD(m, "ok", json_object_new_boolean(!s->rret && s->rom.exited &&
							     s->rom.unchanged));
			ADD(m, "exited", json_object_new_boolean(s->rom.exited));
			ADD(m, "unchanged", json_object_new_boolean(s->rom.unchanged));
			ADD(m, "region", json_object_new_string(s->rom.region));
			ADD(m, "error", s->rret ? json_object_new_string(s->rerr.msg) : NULL);
		}
	} else {
		ADD(v, "rom_write", NULL);
	}
	if (r->p.dirty_log) {
		struct json_object *d = json_object_new_object();

		ADD(v, "dirty_log", d);
		if (d) {
			ADD(d, "ok", json_object_new_boolean(!s->dirty_short && !r->guest_dead));
			ADD(d, "pages", json_u64(s->dirty_pages));
			ADD(d, "error", s->dirty_short ? json_object_new_string(s->dirty_fail) : NULL);
		}
	} else {
		ADD(v, "dirty_log", NULL);
	}
	ADD(o, "checks", json_u64(s->checks));
	ADD(o, "checks_failed", json_u64(s->failed));
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *run_kvm_json(const struct run *r)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	ADD(o, "max_memslots", json_u64(ms_kvm__max_memslots(r->kvm)));
	ADD(o, "memory2", json_object_new_boolean(ms_kvm__has_memory2(r->kvm)));
	ADD(o, "readonly_mem", json_object_new_boolean(ms_kvm__has_readonly_mem(r->kvm)));
	ADD(o, "cpu", r->cpu >= 0 ? json_u64((uint64_t)r->cpu) : NULL);
	return o;
}
