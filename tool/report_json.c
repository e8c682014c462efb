// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The JSON report of `memslot plan` (-j) and the sections `memslot run`
 * shares: shapes in man/memslot-plan.8.rst.
 */
#include <errno.h>
#include <stdlib.h>

#include "tool.h"
#include "plan.h"
#include "report.h"

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

/* --- JSON ------------------------------------------------------------------ */

struct json_object *plan_machine_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object();
	struct ms_machine_layout l;

	if (!o)
		return NULL;
	ms_machine__layout(p->m, &l);
	ADD(o, "type", json_object_new_string(p->mtype));
	ADD(o, "family", json_object_new_string(p->mo.type == MS_MACHINE_Q35 ? "q35" : "pc"));
	ADD(o, "guest_name", json_str_or_null(p->name));
	ADD(o, "accel", json_object_new_string(p->kvm ? "kvm" : "tcg"));
	ADD(o, "kvm_memslots", json_u64(p->mo.kvm_memslots));
	ADD(o, "smm", json_object_new_boolean(ms_machine__kvm_smm(p->m) != NULL));
	ADD(o, "firmware", json_object_new_string(p->mo.firmware == MS_FIRMWARE_SEABIOS ?
						  "seabios" : "none"));
	ADD(o, "ram_size", json_u64(p->mo.ram_size));
	ADD(o, "slots", json_u64(p->mo.slots));
	ADD(o, "maxmem", json_u64(p->mo.maxmem ?: p->mo.ram_size));
	ADD(o, "nvdimm", json_object_new_boolean(p->mo.nvdimm));
	ADD(o, "below_4g", json_u64(l.below_4g));
	ADD(o, "above_4g", json_u64(l.above_4g));
	ADD(o, "above_4g_start", json_u64(l.above_4g_start));
	ADD(o, "devmem_base", json_u64(l.devmem_base));
	ADD(o, "devmem_size", json_u64(l.devmem_size));
	ADD(o, "hotpluggable", json_u64(l.hotpluggable));
	ADD(o, "reserved_end", json_u64(l.reserved_end));
	return o;
}

static struct json_object *device_json(const struct ms_memdev *d)
{
	struct json_object *o = json_object_new_object();
	struct ms_virtio_mem_status vs;
	struct ms_memdev_info i;

	if (!o)
		return NULL;
	ms_memdev__info(d, &i);
	ADD(o, "id", json_str_or_null(i.id));
	ADD(o, "type", json_object_new_string(ms_memdev_type_name(i.type)));
	ADD(o, "addr", json_u64(i.addr));
	ADD(o, "size", json_u64(i.size));
	ADD(o, "memslots", json_u64(i.memslots));
	ADD(o, "memslots_used", json_u64(i.memslots_used));
	ADD(o, "plugged_size", json_u64(i.plugged_size));
	/* query-memory-devices "data" fields, snake_case (rule 12.2) */
	switch (i.type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		ADD(o, "slot", json_object_new_int(i.slot));
		ADD(o, "node", json_u64(i.node));
		ADD(o, "memdev", json_str_or_null(i.memdev));
		ADD(o, "hotplugged", json_object_new_boolean(i.hotplugged));
		ADD(o, "hotpluggable", json_object_new_boolean(i.hotpluggable));
		break;
	case MS_MEMDEV_VIRTIO_PMEM:
		ADD(o, "memaddr", json_u64(i.addr));
		ADD(o, "memdev", json_str_or_null(i.memdev));
		break;
	case MS_MEMDEV_VIRTIO_MEM:
		ADD(o, "memaddr", json_u64(i.addr));
		ADD(o, "node", json_u64(i.node));
		ADD(o, "requested_size", json_u64(i.requested_size));
		ADD(o, "max_size", json_u64(i.max_size));
		ADD(o, "block_size", json_u64(i.block_size));
		ADD(o, "memdev", json_str_or_null(i.memdev));
		if (!ms_virtio_mem__status(d, &vs)) {
			ADD(o, "memslot_size", json_u64(vs.memslot_size));
			ADD(o, "usable_region_size", json_u64(vs.usable_region_size));
		}
		break;
	case MS_MEMDEV_CUSTOM:
		break;
	}
	return o;
}

struct json_object *plan_devices_json(const struct plan *p)
{
	struct json_object *a = json_object_new_array();
	struct devices l;

	if (!a || report_get_devices(p->m, &l)) {
		json_object_put(a);
		return NULL;
	}
	for (size_t i = 0; i < l.nr; i++) {
		struct json_object *o = device_json(l.d[i]);

		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			json_object_put(a);
			a = NULL;
			break;
		}
	}
	free(l.d);
	return a;
}

struct json_object *plan_memslots_json(const struct plan *p)
{
	struct ms_slotmap *maps[2];
	size_t n = machine_kvm_maps(p->m, maps);

	return n ? memslot_table_json(maps, n) : json_object_new_array();
}

struct json_object *plan_accounting_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object();
	struct ms_devmem_stats st;

	if (!o)
		return NULL;
	ms_machine__devmem_stats(p->m, &st);
	ADD(o, "device_memory", json_object_new_boolean(st.present));
	ADD(o, "used_region_size", json_u64(st.used_region_size));
	ADD(o, "plugged_size", json_u64(st.plugged_size));
	ADD(o, "dimm_size", json_u64(st.dimm_size));
	ADD(o, "required_memslots", json_u64(st.required_memslots));
	ADD(o, "used_memslots", json_u64(st.used_memslots));
	ADD(o, "reserved_memslots", json_u64(st.reserved_memslots));
	ADD(o, "auto_decision_active", json_object_new_boolean(st.auto_decision_active > 0));
	ADD(o, "auto_decision_devices", json_u64(st.auto_decision_active));
	ADD(o, "warnings", json_u64(st.warnings));
	return o;
}

struct json_object *plan_consumers_json(const struct plan *p)
{
	struct json_object *a = json_object_new_array();
	struct consumers c;

	if (!a)
		return NULL;
	report_get_consumers(p->m, &c);
	for (size_t i = 0; i < c.nr; i++) {
		struct json_object *o = json_object_new_object();

		if (!o) {
			json_object_put(a);
			return NULL;
		}
		ADD(o, "kind", json_object_new_string(report_kind_name(c.c[i].kind)));
		ADD(o, "name", json_object_new_string(c.c[i].name));
		ADD(o, "max", json_u64(c.c[i].max));
		ADD(o, "used", json_u64(c.c[i].used));
		ADD(o, "free", json_u64(c.c[i].free));
		json_object_array_add(a, o);
	}
	return a;
}

/* The ranges of "memory" like `mtree -j -f`, with "kvm": has a memslot. */
struct json_object *plan_flat_view_json(const struct plan *p)
{
	struct ms_flatview *fv = ms_as__flatview(ms_machine__memory_as(p->m));
	struct ms_slotmap *kvm = ms_machine__kvm(p->m);
	struct json_object *a = json_object_new_array();
	size_t n;

	if (!a)
		return NULL;
	n = ms_flatview__nr_ranges(fv);
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		struct json_object *r = json_object_new_object();

		if (!r) {
			json_object_put(a);
			a = NULL;
			break;
		}
		json_object_array_add(a, r);
		ADD(r, "start", json_u64(fr->start));
		ADD(r, "end", json_u64(fr->start + (uint64_t)(fr->size - 1)));
		ADD(r, "size", fr->size < MS_SIZE_2_64 ? json_u64((uint64_t)fr->size) : NULL);
		ADD(r, "priority", json_object_new_int(ms_region__priority(fr->mr)));
		ADD(r, "type", json_object_new_string(fr->readonly ? "rom" :
						      ms_region__type_str(fr->mr)));
		ADD(r, "region", json_str_or_null(ms_region__name(fr->mr)));
		ADD(r, "offset_in_region", json_u64(fr->offset_in_region));
		ADD(r, "readonly", json_object_new_boolean(fr->readonly));
		ADD(r, "nonvolatile", json_object_new_boolean(fr->nonvolatile));
		ADD(r, "kvm", json_object_new_boolean(
			    kvm && ms_slotmap__has_memory(kvm, fr->start, fr->size)));
	}
	return a;
}

static struct json_object *capacity_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object(), *a;
	struct ms_machine_layout l;
	struct ms_devmem_stats st;
	struct consumers c;
	struct devices d;
	uint32_t dimms, min_left = MS_MEMSLOTS_UNLIMITED;
	uint64_t top;

	if (!o)
		return NULL;
	a = json_object_new_array();
	if (!a || report_get_devices(p->m, &d)) {
		json_object_put(a);
		json_object_put(o);
		return NULL;
	}
	report_dimm_slot_use(&d, &dimms);
	free(d.d);
	ms_machine__layout(p->m, &l);
	ms_machine__devmem_stats(p->m, &st);
	report_get_consumers(p->m, &c);

	ADD(o, "consumers", a);
	for (size_t i = 0; i < c.nr; i++) {
		struct json_object *e = json_object_new_object();
		uint32_t left = report_left_after_reserved(c.c[i].free, st.reserved_memslots);

		if (!e) {
			json_object_put(o);
			return NULL;
		}
		ADD(e, "kind", json_object_new_string(report_kind_name(c.c[i].kind)));
		ADD(e, "name", json_object_new_string(c.c[i].name));
		ADD(e, "free", json_u64(c.c[i].free));
		ADD(e, "reserved", json_u64(st.reserved_memslots));
		ADD(e, "left", json_u64(left));
		json_object_array_add(a, e);
		if (left < min_left)
			min_left = left;
	}
	ADD(o, "memslots_left", json_u64(min_left));
	ADD(o, "dimm_slots", json_u64(p->mo.slots));
	ADD(o, "dimm_slots_free", json_u64(p->mo.slots > dimms ? p->mo.slots - dimms : 0));
	ADD(o, "device_memory_size", json_u64(st.present ? l.hotpluggable : 0));
	ADD(o, "device_memory_used", json_u64(st.used_region_size));
	ADD(o, "device_memory_left", json_u64(st.present && l.hotpluggable > st.used_region_size ?
					      l.hotpluggable - st.used_region_size : 0));
	top = report_highest_gpa(p->m);
	ADD(o, "highest_gpa", json_u64(top));
	ADD(o, "phys_bits", json_u64(report_addr_bits(top)));
	ADD(o, "reserved_end", json_u64(l.reserved_end));
	ADD(o, "reserved_end_phys_bits", l.reserved_end ? json_u64(report_addr_bits(l.reserved_end - 1)) :
							  NULL);
	return o;
}

/* Add "devices", "memslots", "accounting", "consumers" to @o. */
int plan_add_state_json(const struct plan *p, struct json_object *o)
{
	struct json_object *v[4] = {
		plan_devices_json(p), plan_memslots_json(p), plan_accounting_json(p), plan_consumers_json(p),
	};
	static const char *const keys[4] = { "devices", "memslots", "accounting", "consumers" };
	int ret = 0;

	for (int i = 0; i < 4; i++) {
		if (!v[i])
			ret = -ENOMEM;
		ADD(o, keys[i], v[i]);
	}
	return ret;
}

int plan_add_full_json(const struct plan *p, struct json_object *doc)
{
	struct json_object *m = plan_machine_json(p), *fv, *cap;
	int ret;

	if (!m)
		return -ENOMEM;
	ADD(doc, "machine", m);
	ret = plan_add_state_json(p, doc);
	if (ret)
		return ret;
	fv = plan_flat_view_json(p);
	cap = capacity_json(p);
	ADD(doc, "flat_view", fv);
	ADD(doc, "capacity", cap);
	return fv && cap ? 0 : -ENOMEM;
}
