// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot tool: the svg.h builders: bands from a context's slot maps and
 * flat views, from a machine (its devices decide the kinds of device
 * memory), from the census's kernel memslot tables; and the title lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

/* --- builders -------------------------------------------------------------- */

/* A memory device's extent, for the kind and label of the ranges inside. */
struct dev_extent {
	uint64_t start, size;
	enum svg_kind kind;
	char name[64];
};

/* What decides the kinds: the device-memory window and the devices in it. */
struct classify {
	uint64_t dm_base, dm_size;
	struct dev_extent *devs;
	size_t nr_devs;
};

static bool inside(uint64_t a, uint64_t base, uint64_t size)
{
	return size && a >= base && a - base < size;
}

/* Kind and label of the range at @start that is ROM (@rom) or RAM of region @name. */
static enum svg_kind classify(const struct classify *c, uint64_t start, bool rom,
			      const char *name, char *label, size_t len)
{
	snprintf(label, len, "%s", name ? name : "");
	if (rom)
		return SVG_ROM;
	for (size_t i = 0; c && i < c->nr_devs; i++) {
		const struct dev_extent *d = &c->devs[i];

		if (inside(start, d->start, d->size)) {
			if (name && strcmp(name, d->name))
				snprintf(label, len, "%s: %s", d->name, name);
			else
				snprintf(label, len, "%s", d->name);
			return d->kind;
		}
	}
	if (c && inside(start, c->dm_base, c->dm_size))
		return SVG_DEVMEM;
	return SVG_RAM;
}

struct slot_walk {
	struct svg_band *b;
	const struct classify *c;
	uint64_t ram;
	int err;
};

static int add_slot(const struct ms_memslot *s, void *opaque)
{
	struct slot_walk *w = opaque;
	char label[160];
	enum svg_kind k;

	k = classify(w->c, s->gpa, s->flags & MS_KVM_MEM_READONLY,
		     s->mr ? ms_region__name(s->mr) : NULL, label, sizeof(label));
	if (k == SVG_RAM)
		w->ram += s->size;
	w->err = svg_band_add(w->b, s->gpa, s->size, k, s->flags & MS_KVM_MEM_LOG_DIRTY_PAGES,
			      (int32_t)s->slot, label);
	return w->err;
}

/* Flat-view ranges that hold memory; MMIO is left out (a gap). */
static bool range_has_memory(const struct ms_flat_range *fr)
{
	switch (ms_region__kind(fr->mr)) {
	case MS_REGION_RAM:
	case MS_REGION_ROM:
	case MS_REGION_RAM_DEVICE:
		return true;
	case MS_REGION_ROM_DEVICE:
		return ms_region__is_romd(fr->mr);
	default:
		return false;
	}
}

struct ctx_walk {
	struct svg_map *sm;
	struct ms_slotmap *const *maps;
	const struct classify *c;
	const struct ms_region *roots[64];
	size_t nr_roots;
	uint64_t ram;		/* RAM of the first band */
	unsigned int slots;
	int err;
};

static bool root_seen(struct ctx_walk *w, const struct ms_region *root)
{
	for (size_t i = 0; i < w->nr_roots; i++)
		if (w->roots[i] == root)
			return true;
	if (w->nr_roots < sizeof(w->roots) / sizeof(w->roots[0]))
		w->roots[w->nr_roots++] = root;
	return false;
}

static struct ms_slotmap *map_of(struct ms_slotmap *const *maps, const struct ms_as *as)
{
	for (size_t i = 0; maps && maps[i]; i++)
		if (ms_slotmap__as(maps[i]) == as)
			return maps[i];
	return NULL;
}

static int add_flat_band(struct ms_as *as, void *opaque)
{
	struct ctx_walk *w = opaque;
	struct ms_region *root = ms_as__root(as);
	struct ms_flatview *fv;
	struct svg_band *b;
	uint64_t ram = 0;
	size_t n, nr = 0;
	char note[64];

	if (map_of(w->maps, as) || !root || root_seen(w, root))
		return 0;
	fv = ms_as__flatview(as);
	n = ms_flatview__nr_ranges(fv);
	for (size_t i = 0; i < n; i++)
		nr += range_has_memory(ms_flatview__range(fv, i));
	if (!nr)
		return 0;
	snprintf(note, sizeof(note), "flat view, %zu range%s", nr, nr == 1 ? "" : "s");
	b = svg_map_add_band(w->sm, ms_as__name(as), note);
	if (!b)
		return w->err = -ENOMEM;
	/*
	 * A root that is itself mapped (current QEMU's "device-memory"): its
	 * view is rendered at the root's own address (regions-and-flatview.md
	 * 7.6), so it is drawn in place, in a window.
	 */
	if (ms_region__container(root)) {
		b->win_start = ms_region__addr(root);
		b->win_size = ms_region__size(root);
	} else if (w->c && !strcmp(ms_as__name(as), "memory")) {
		b->win_start = w->c->dm_base;
		b->win_size = w->c->dm_size;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t size = fr->size > UINT64_MAX ? UINT64_MAX : (uint64_t)fr->size;
		char label[160];
		enum svg_kind k;

		if (!range_has_memory(fr))
			continue;
		k = classify(w->c, fr->start, fr->readonly || ms_region__is_rom(fr->mr) ||
			     ms_region__is_romd(fr->mr), ms_region__name(fr->mr), label,
			     sizeof(label));
		if (k == SVG_RAM)
			ram += size;
		w->err = svg_band_add(b, fr->start, size, k, fr->dirty_log_mask != 0, -1,
				      label);
		if (w->err)
			return w->err;
	}
	if (w->sm->nr_bands == 1)
		w->ram = ram;
	return 0;
}

static int first_slot(const struct ms_memslot *s, void *opaque)
{
	*(const struct ms_memslot **)opaque = s;
	return 1;
}

static int add_bands(struct svg_map *sm, struct ms_ctx *ctx, struct ms_slotmap *const *maps,
		     const struct classify *c, struct ctx_walk *w)
{
	memset(w, 0, sizeof(*w));
	w->sm = sm;
	w->maps = maps;
	w->c = c;
	/* slot maps first, by KVM address space id (0: memory, 1: SMRAM) */
	for (unsigned int as_id = 0; as_id < 16; as_id++) {
		for (size_t i = 0; maps && maps[i]; i++) {
			struct slot_walk sw = { .c = c };
			struct ms_as *as = ms_slotmap__as(maps[i]);
			unsigned int nr = ms_slotmap__nr_used(maps[i]);
			const struct ms_memslot *first = NULL;
			char note[64];

			/* the as_id is in the slots; an empty map goes by its position */
			ms_slotmap__for_each(maps[i], first_slot, &first);
			if ((first ? first->as_id : i) != as_id)
				continue;
			root_seen(w, ms_as__root(as));
			snprintf(note, sizeof(note), "KVM as %u, %u slot%s", as_id, nr,
				 nr == 1 ? "" : "s");
			sw.b = svg_map_add_band(sm, ms_as__name(as), note);
			if (!sw.b)
				return -ENOMEM;
			if (!as_id) {
				sw.b->win_start = c->dm_base;
				sw.b->win_size = c->dm_size;
			}
			ms_slotmap__for_each(maps[i], add_slot, &sw);
			if (sw.err)
				return sw.err;
			if (sm->nr_bands == 1)
				w->ram = sw.ram;
			w->slots += nr;
		}
	}
	ms_ctx__for_each_as(ctx, add_flat_band, w);
	return w->err;
}

struct dm_find {
	uint64_t base, size;
};

static int find_devmem(struct ms_region *sub, void *opaque)
{
	struct dm_find *d = opaque;
	const char *name = ms_region__name(sub);

	if (name && !strcmp(name, "device-memory") && ms_region__enabled(sub)) {
		d->base = ms_region__addr(sub);
		d->size = ms_region__size(sub);
		return 1;
	}
	return 0;
}

static int find_memory_as(struct ms_as *as, void *opaque)
{
	if (strcmp(ms_as__name(as), "memory"))
		return 0;
	*(struct ms_as **)opaque = as;
	return 1;
}

int svg_map_add_ctx(struct svg_map *sm, struct ms_ctx *ctx, struct ms_slotmap *const *maps)
{
	struct ms_as *mem = NULL;
	struct dm_find d = { 0 };
	struct classify c = { 0 };
	struct ctx_walk w;

	/* QEMU puts "device-memory" right into "system" (memory-devices.md 3) */
	ms_ctx__for_each_as(ctx, find_memory_as, &mem);
	if (mem && ms_as__root(mem))
		ms_region__for_each_subregion(ms_as__root(mem), find_devmem, &d);
	c.dm_base = d.base;
	c.dm_size = d.size;
	return add_bands(sm, ctx, maps, &c, &w);
}

struct dev_walk {
	struct dev_extent *devs;
	size_t nr, cap;
	int err;
};

static int add_dev(struct ms_memdev *dev, void *opaque)
{
	struct dev_walk *w = opaque;
	struct ms_region *mr = ms_memdev__region(dev);
	struct ms_memdev_info info;
	struct dev_extent *d;

	ms_memdev__info(dev, &info);
	if (!mr || !info.addr)
		return 0;
	if (w->nr == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;

		d = realloc(w->devs, cap * sizeof(*d));
		if (!d)
			return w->err = -ENOMEM;
		w->devs = d;
		w->cap = cap;
	}
	d = &w->devs[w->nr++];
	d->start = info.addr;
	d->size = ms_region__size(mr);
	d->kind = info.type == MS_MEMDEV_VIRTIO_MEM ? SVG_VIRTIO_MEM : SVG_DEVMEM;
	snprintf(d->name, sizeof(d->name), "%s", info.id ? info.id :
		 ms_memdev_type_name(info.type));
	return 0;
}

static int machine_bands(struct svg_map *sm, const struct ms_machine *m, struct ctx_walk *w)
{
	struct ms_slotmap *maps[3] = { ms_machine__kvm(m), NULL, NULL };
	struct ms_machine_layout l;
	struct dev_walk dw = { 0 };
	struct classify c = { 0 };
	int ret;

	if (maps[0])
		maps[1] = ms_machine__kvm_smm(m);
	else
		maps[0] = ms_machine__kvm_smm(m);
	ms_machine__layout(m, &l);
	ms_machine__for_each_device(m, add_dev, &dw);
	if (dw.err) {
		free(dw.devs);
		return dw.err;
	}
	c.dm_base = l.devmem_base;
	c.dm_size = l.devmem_size;
	c.devs = dw.devs;
	c.nr_devs = dw.nr;
	ret = add_bands(sm, ms_machine__ctx(m), maps, &c, w);
	free(dw.devs);
	return ret;
}

int svg_map_add_machine(struct svg_map *sm, const struct ms_machine *m)
{
	struct ctx_walk w;

	return machine_bands(sm, m, &w);
}

static const char *slots_str(unsigned int nr, bool kvm, char *buf, size_t len)
{
	if (!kvm)
		snprintf(buf, len, "no KVM memslots");
	else
		snprintf(buf, len, "%u KVM memslot%s", nr, nr == 1 ? "" : "s");
	return buf;
}

static int write_map(struct svg_map *sm, const char *path, int ret, struct ms_error *err)
{
	if (!ret)
		ret = svg_map_write(sm, path, err);
	else
		ms_error_set(err, ret, "cannot write SVG file %s: %s", path, strerror(-ret));
	svg_map_free(sm);
	return ret;
}

int svg_write_ctx(const char *path, struct ms_ctx *ctx, struct ms_slotmap *const *maps,
		  const char *what, struct ms_error *err)
{
	struct svg_map sm = { 0 };
	struct ms_as *mem = NULL;
	struct dm_find d = { 0 };
	struct classify c = { 0 };
	char title[512], sub[256], ram[32], slots[48], dm[32];
	struct ctx_walk w;
	int ret;

	ms_ctx__for_each_as(ctx, find_memory_as, &mem);
	if (mem && ms_as__root(mem))
		ms_region__for_each_subregion(ms_as__root(mem), find_devmem, &d);
	c.dm_base = d.base;
	c.dm_size = d.size;
	ret = add_bands(&sm, ctx, maps, &c, &w);
	if (!ret) {
		snprintf(title, sizeof(title), "%s \xc2\xb7 RAM %s \xc2\xb7 %s", what,
			 svg_size_str(w.ram, ram, sizeof(ram)),
			 slots_str(w.slots, maps && maps[0], slots, sizeof(slots)));
		if (d.size)
			snprintf(sub, sizeof(sub), "%zu address space%s drawn \xc2\xb7 "
				 "device memory 0x%" PRIx64 " \xc2\xb7 %s", sm.nr_bands,
				 sm.nr_bands == 1 ? "" : "s", d.base,
				 svg_size_str(d.size, dm, sizeof(dm)));
		else
			snprintf(sub, sizeof(sub), "%zu address space%s drawn", sm.nr_bands,
				 sm.nr_bands == 1 ? "" : "s");
		ret = svg_map_set_title(&sm, title, sub);
	}
	return write_map(&sm, path, ret, err);
}

int svg_write_machine(const char *path, const struct ms_machine *m, const char *what,
		      struct ms_error *err)
{
	struct svg_map sm = { 0 };
	struct ms_machine_layout l;
	struct ms_devmem_stats st;
	char title[512], sub[512], a[32], b[32], c[32], slots[48];
	struct ctx_walk w;
	size_t n;
	int ret;

	ret = machine_bands(&sm, m, &w);
	if (!ret) {
		ms_machine__layout(m, &l);
		ms_machine__devmem_stats(m, &st);
		snprintf(title, sizeof(title), "%s \xc2\xb7 RAM %s \xc2\xb7 %s", what,
			 svg_size_str(l.below_4g + l.above_4g, a, sizeof(a)),
			 slots_str(w.slots, ms_machine__kvm(m), slots, sizeof(slots)));
		n = (size_t)snprintf(sub, sizeof(sub), "below 4 GiB %s, above 4 GiB %s",
				     svg_size_str(l.below_4g, a, sizeof(a)),
				     svg_size_str(l.above_4g, b, sizeof(b)));
		if (l.devmem_size && n < sizeof(sub))
			snprintf(sub + n, sizeof(sub) - n, " \xc2\xb7 device memory 0x%" PRIx64
				 " \xc2\xb7 %s, %s plugged", l.devmem_base,
				 svg_size_str(l.devmem_size, a, sizeof(a)),
				 svg_size_str(st.plugged_size, c, sizeof(c)));
		ret = svg_map_set_title(&sm, title, sub);
	}
	return write_map(&sm, path, ret, err);
}

int svg_write_census(const char *path, const struct census *c, uint64_t devmem_base,
		     uint64_t devmem_size, struct ms_error *err)
{
	struct classify cl = { .dm_base = devmem_base, .dm_size = devmem_size };
	struct svg_map sm = { 0 };
	char title[128], name[64], note[64];
	size_t total = 0;
	int ret = 0;

	for (size_t i = 0; i < c->nr_vms && !ret; i++) {
		const struct census_vm *v = &c->vms[i];

		for (unsigned int as = 0; as < MS_BPF_MAX_AS && !ret; as++) {
			struct svg_band *b;
			size_t nr = 0;

			for (size_t j = 0; j < v->nr; j++)
				nr += v->slots[j].as_id == as;
			if (!nr && as)
				continue;
			snprintf(name, sizeof(name), "pid %u %.16s", v->head.pid, v->head.comm);
			snprintf(note, sizeof(note), "KVM as %u, %zu slot%s", as, nr,
				 nr == 1 ? "" : "s");
			b = svg_map_add_band(&sm, name, note);
			if (!b) {
				ret = -ENOMEM;
				break;
			}
			if (devmem_size && !as) {
				b->win_start = devmem_base;
				b->win_size = devmem_size;
			}
			for (size_t j = 0; j < v->nr && !ret; j++) {
				const struct ms_census_slot *s = &v->slots[j];
				char label[32];
				enum svg_kind k;

				if (s->as_id != as)
					continue;
				k = classify(&cl, s->gpa, s->flags & MS_KVM_MEM_READONLY, NULL,
					     label, sizeof(label));
				snprintf(label, sizeof(label), "slot %u", s->id);
				ret = svg_band_add(b, s->gpa, s->size, k,
						   s->flags & MS_KVM_MEM_LOG_DIRTY_PAGES, s->id,
						   label);
			}
			total += nr;
		}
	}
	if (!ret) {
		snprintf(title, sizeof(title), "memslot census \xc2\xb7 %zu VM%s \xc2\xb7 "
			 "%zu KVM memslot%s", c->nr_vms, c->nr_vms == 1 ? "" : "s", total,
			 total == 1 ? "" : "s");
		ret = svg_map_set_title(&sm, title, c->nr_vms ? NULL : "no KVM VMs found");
	}
	return write_map(&sm, path, ret, err);
}
