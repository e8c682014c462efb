// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The text report of `memslot plan` (and the sections `memslot run` and
 * the script's `info` print): the layout is in plan.c's header comment;
 * what it is gathered from (the devices, the memslot consumers) is shared
 * with report_json.c through report.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "plan.h"
#include "report.h"

/* --- gathering ------------------------------------------------------------ */

static int collect_consumer(const struct ms_consumer_info *c, void *opaque)
{
	struct consumers *l = opaque;
	struct consumer *d;

	if (l->nr == sizeof(l->c) / sizeof(l->c[0]))
		return 1;
	d = &l->c[l->nr++];
	d->kind = c->kind;
	snprintf(d->name, sizeof(d->name), "%s", c->name ?: "");
	d->max = c->max;
	d->used = c->used;
	d->free = c->free;
	return 0;
}

void report_get_consumers(const struct ms_machine *m, struct consumers *l)
{
	l->nr = 0;
	ms_machine__for_each_consumer(m, collect_consumer, l);
}

const char *report_kind_name(enum ms_consumer_kind k)
{
	return k == MS_CONSUMER_KVM ? "kvm" : "vhost";
}

static int collect_device(struct ms_memdev *dev, void *opaque)
{
	struct devices *l = opaque;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ms_memdev **n = realloc(l->d, cap * sizeof(*n));

		if (!n) {
			l->err = -ENOMEM;
			return 1;
		}
		l->d = n;
		l->cap = cap;
	}
	l->d[l->nr++] = dev;
	return 0;
}

int report_get_devices(const struct ms_machine *m, struct devices *l)
{
	memset(l, 0, sizeof(*l));
	ms_machine__for_each_device(m, collect_device, l);
	if (l->err) {
		free(l->d);
		l->d = NULL;
	}
	return l->err;
}

/* Number of address bits needed for the inclusive address @a. */
unsigned int report_addr_bits(uint64_t a)
{
	return a ? 64 - __builtin_clzll(a) : 1;
}

/* Highest byte of the flat view of "memory" (0 if empty). */
uint64_t report_highest_gpa(const struct ms_machine *m)
{
	struct ms_flatview *fv = ms_as__flatview(ms_machine__memory_as(m));
	size_t n;
	uint64_t top = 0;

	n = ms_flatview__nr_ranges(fv);
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t last = fr->start + (uint64_t)(fr->size - 1);

		if (last > top)
			top = last;
	}
	return top;
}

uint32_t report_left_after_reserved(uint32_t free, uint32_t reserved)
{
	return free > reserved ? free - reserved : 0;
}

void report_dimm_slot_use(const struct devices *l, uint32_t *used)
{
	*used = 0;
	for (size_t i = 0; i < l->nr; i++) {
		enum ms_memdev_type t = ms_memdev__type(l->d[i]);

		*used += t == MS_MEMDEV_DIMM || t == MS_MEMDEV_NVDIMM;
	}
}

/* --- text output --------------------------------------------------------- */

void plan_print_machine(const struct plan *p, FILE *f)
{
	struct ms_machine_layout l;

	ms_machine__layout(p->m, &l);
	fprintf(f, "machine: %s", p->mtype);
	if (p->name)
		fprintf(f, ", guest %s", p->name);
	fprintf(f, ", accel %s", p->kvm ? "kvm" : "tcg");
	if (p->kvm)
		fprintf(f, ", %u KVM memslots per address space, SMM %s", p->mo.kvm_memslots,
			ms_machine__kvm_smm(p->m) ? "on (address space 1)" : "off");
	if (p->mo.firmware == MS_FIRMWARE_SEABIOS)
		fprintf(f, ", after SeaBIOS's POST");
	fprintf(f, "\n  ram: 0x%" PRIx64 " (below 4G 0x%" PRIx64, p->mo.ram_size, l.below_4g);
	if (l.above_4g)
		fprintf(f, ", above 4G 0x%" PRIx64 " at 0x%" PRIx64, l.above_4g,
			l.above_4g_start);
	fprintf(f, ")\n  slots: %u, maxmem: 0x%" PRIx64 "\n", p->mo.slots,
		p->mo.maxmem ?: p->mo.ram_size);
	if (l.devmem_size)
		fprintf(f, "  device memory: 0x%" PRIx64 "-0x%" PRIx64 ", size 0x%" PRIx64
			", hotpluggable 0x%" PRIx64 "\n  reserved end: 0x%" PRIx64 "\n",
			l.devmem_base, l.devmem_base + l.devmem_size - 1, l.devmem_size,
			l.hotpluggable, l.reserved_end);
	else
		fprintf(f, "  device memory: none\n");
}

/* One device as QEMU's `info memory-devices` prints it, then our lines. */
static void print_device(const struct ms_memdev *d, FILE *f)
{
	struct ms_virtio_mem_status vs;
	struct ms_memdev_info i;

	ms_memdev__info(d, &i);
	fprintf(f, "Memory device [%s]: \"%s\"\n", ms_memdev_type_name(i.type), i.id ?: "");
	switch (i.type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		fprintf(f, "  addr: 0x%" PRIx64 "\n  slot: %d\n  node: %u\n  size: %" PRIu64
			"\n  memdev: %s\n  hotplugged: %s\n  hotpluggable: %s\n", i.addr, i.slot,
			i.node, i.size, i.memdev ?: "", i.hotplugged ? "true" : "false",
			i.hotpluggable ? "true" : "false");
		break;
	case MS_MEMDEV_VIRTIO_PMEM:
		fprintf(f, "  memaddr: 0x%" PRIx64 "\n  size: %" PRIu64 "\n  memdev: %s\n",
			i.addr, i.size, i.memdev ?: "");
		break;
	case MS_MEMDEV_VIRTIO_MEM:
		fprintf(f, "  memaddr: 0x%" PRIx64 "\n  node: %u\n  requested-size: %" PRIu64
			"\n  size: %" PRIu64 "\n  max-size: %" PRIu64 "\n  block-size: %" PRIu64
			"\n  memdev: %s\n", i.addr, i.node, i.requested_size, i.size, i.max_size,
			i.block_size, i.memdev ?: "");
		break;
	case MS_MEMDEV_CUSTOM:
		fprintf(f, "  addr: 0x%" PRIx64 "\n  size: %" PRIu64 "\n", i.addr, i.size);
		break;
	}
	fprintf(f, "  memslots: %u\n  memslots-used: %u\n", i.memslots, i.memslots_used);
	if (i.type == MS_MEMDEV_VIRTIO_MEM && !ms_virtio_mem__status(d, &vs))
		fprintf(f, "  memslot-size: %" PRIu64 "\n", vs.memslot_size);
}

int plan_print_devices(const struct plan *p, FILE *f)
{
	struct devices l;

	if (report_get_devices(p->m, &l))
		return -ENOMEM;
	if (!l.nr)
		fprintf(f, "(none)\n");
	for (size_t i = 0; i < l.nr; i++)
		print_device(l.d[i], f);
	free(l.d);
	return 0;
}

int plan_print_memslots(const struct plan *p, FILE *f)
{
	struct ms_slotmap *maps[2];
	size_t n = machine_kvm_maps(p->m, maps);

	if (!n)
		fprintf(f, "(no KVM: accel=tcg)\n");
	else
		memslot_table_print(f, maps, n);
	return 0;
}

int plan_print_accounting(const struct plan *p, FILE *f)
{
	struct ms_devmem_stats st;
	struct consumers c;

	ms_machine__devmem_stats(p->m, &st);
	report_get_consumers(p->m, &c);
	if (st.present) {
		struct ms_machine_layout l;

		ms_machine__layout(p->m, &l);
		fprintf(f, "  device memory: used 0x%" PRIx64 " of 0x%" PRIx64 ", plugged 0x%"
			PRIx64 "\n", st.used_region_size, l.hotpluggable, st.plugged_size);
	} else {
		fprintf(f, "  device memory: none\n");
	}
	fprintf(f, "  memslots: required %u, used %u, reserved %u\n", st.required_memslots,
		st.used_memslots, st.reserved_memslots);
	fprintf(f, "  auto decision active: %s (%u device%s)\n",
		st.auto_decision_active ? "yes" : "no", st.auto_decision_active,
		st.auto_decision_active == 1 ? "" : "s");
	if (st.warnings)
		fprintf(f, "  listener warnings: %u\n", st.warnings);
	fprintf(f, "  %-6s %-16s %-10s %-10s %s\n", "kind", "name", "max", "used", "free");
	for (size_t i = 0; i < c.nr; i++)
		fprintf(f, "  %-6s %-16s %-10u %-10u %u\n", report_kind_name(c.c[i].kind), c.c[i].name,
			c.c[i].max, c.c[i].used, c.c[i].free);
	return 0;
}

/* The FlatView block of address space "memory" out of the full -f text. */
static int flat_memory_block(const struct plan *p, char **out)
{
	struct ms_slotmap *maps[2] = { ms_machine__kvm(p->m), NULL };
	char *buf = NULL, *blk, *end;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	ret = ms_mtree_print(p->ctx, f, MS_MTREE_FLAT, maps[0] ? ms_mtree_kvm_marker : NULL,
			     maps);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(buf);
		return ret;
	}
	blk = strstr(buf, "\n AS \"memory\", root:");
	if (!blk) {
		free(buf);
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	/* back to the start of the "FlatView #n" line of this block */
	while (blk > buf && strncmp(blk, "FlatView #", 10))
		blk--;
	end = strstr(blk, "\n\n");
	end = end ? end + 1 : blk + strlen(blk);
	*out = strndup(blk, end - blk);
	free(buf);
	return *out ? 0 : -ENOMEM;
}

int plan_print_flat(const struct plan *p, FILE *f)
{
	char *blk = NULL;
	int ret = flat_memory_block(p, &blk);

	if (ret)
		return ret;
	fputs(blk, f);
	free(blk);
	return 0;
}

static int print_capacity(const struct plan *p, FILE *f)
{
	struct ms_machine_layout l;
	struct ms_devmem_stats st;
	struct consumers c;
	struct devices d;
	uint32_t dimms;
	uint64_t top;

	ms_machine__layout(p->m, &l);
	ms_machine__devmem_stats(p->m, &st);
	report_get_consumers(p->m, &c);
	if (report_get_devices(p->m, &d))
		return -ENOMEM;
	report_dimm_slot_use(&d, &dimms);
	free(d.d);

	fprintf(f, "  memslots left for memory devices:");
	for (size_t i = 0; i < c.nr; i++)
		fprintf(f, "%s %s %u", i ? "," : "", c.c[i].name,
			report_left_after_reserved(c.c[i].free, st.reserved_memslots));
	fprintf(f, "%s\n", c.nr ? "" : " unlimited");
	fprintf(f, "  dimm slots: %u of %u free\n", p->mo.slots > dimms ? p->mo.slots - dimms : 0,
		p->mo.slots);
	if (st.present)
		fprintf(f, "  device memory left: 0x%" PRIx64 " of 0x%" PRIx64 "\n",
			l.hotpluggable > st.used_region_size ? l.hotpluggable - st.used_region_size : 0,
			l.hotpluggable);
	else
		fprintf(f, "  device memory left: none (no maxmem above the RAM size)\n");
	top = report_highest_gpa(p->m);
	fprintf(f, "  highest guest address: 0x%" PRIx64 " (%u phys-bits)\n", top, report_addr_bits(top));
	if (l.reserved_end)
		fprintf(f, "  reserved end: 0x%" PRIx64 " (%u phys-bits)\n", l.reserved_end,
			report_addr_bits(l.reserved_end - 1));
	return 0;
}

int plan_print_report(const struct plan *p, FILE *f)
{
	static const struct {
		const char *title;
		int (*print)(const struct plan *p, FILE *f);
	} sections[] = {
		{ "memory devices", plan_print_devices },
		{ "memslots", plan_print_memslots },
		{ "accounting", plan_print_accounting },
		{ "flat view of \"memory\"", plan_print_flat },
		{ "capacity", print_capacity },
	};
	int ret = 0;

	plan_print_machine(p, f);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]) && !ret; i++) {
		fprintf(f, "\n%s:\n", sections[i].title);
		ret = sections[i].print(p, f);
	}
	return ret;
}
