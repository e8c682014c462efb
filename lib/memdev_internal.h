/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot internals shared by machine.c, memdev.c (device memory,
 * plugging, accounting), vhost.c (vhost consumers), devices.c (the model
 * table, the factory and the lookup tables) and the device models
 * (dimm.c, virtio_pmem.c, virtio_mem.c).
 * Not installed.
 */
#ifndef MEMSLOT_MEMDEV_INTERNAL_H
#define MEMSLOT_MEMDEV_INTERNAL_H

#include "internal.h"

/*
 * A chained hash table of intrusive nodes, for the lookups on every update
 * path (device ids, backend ids, backend regions). The first buckets live
 * in the table itself, so adding never fails; growing is best effort. A
 * zeroed table is empty. Lookups walk htab_bucket() comparing hashes.
 */
#define HTAB_INLINE	16

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	size_t nb, n;
	struct hnode *inl[HTAB_INLINE];
};

void htab_add(struct htab *t, struct hnode *n, uint64_t hash);
void htab_del(struct htab *t, struct hnode *n);
void htab_fini(struct htab *t);
uint64_t hash_str(const char *s);

static inline uint64_t hash_u64(uint64_t x)
{
	/* splitmix64's finaliser */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t hash_ptr(const void *p)
{
	return hash_u64((uint64_t)(uintptr_t)p);
}

static inline struct hnode *htab_bucket(const struct htab *t, uint64_t hash)
{
	return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}

struct ms_backend {
	struct ms_machine *m;
	struct list_head node;		/* in m->backends */
	struct hnode id_node;		/* in m->backend_ids */
	struct hnode mr_node;		/* in m->backend_regions, by @mr */
	char *id;
	char *qom_path;			/* "/objects/<id>" */
	enum ms_backend_kind kind;
	struct ms_region *mr;		/* RAM region named <id> (one reference) */
	uint64_t size;
	uint64_t align;			/* memory_region_get_alignment() */
	uint64_t page_size;		/* the RAM block's page size */
	bool share, prealloc, readonly;
	struct ms_memdev *user;		/* device using it ("busy memdev") */
	bool mapped;			/* boot RAM (-M memory-backend=, -numa memdev=) */
};

/*
 * A built-in device model, listed in devices.c's model table: @create
 * fills @d (model state, memory-device interface) from the properties;
 * @backend gives the memdev in use. The other hooks may be NULL and are
 * skipped. Called by memdev.c in QEMU's order: create (property checks)
 * -> pre_plug (model part, e.g. DIMM slot; runs before memory_device_pre_plug) ->
 * memory_device_pre_plug -> realize -> memory_device_plug -> plug.
 * Unplug: unplug_request (refusals) -> memory_device_unplug -> unplug ->
 * destroy.
 */
struct memdev_model {
	const char *name;		/* QEMU's driver name */
	enum ms_memdev_type type;
	int (*create)(struct ms_memdev *d, const struct ms_memdev_opts *o, struct ms_error *err);
	struct ms_backend *(*backend)(const struct ms_memdev *d);
	int (*pre_plug)(struct ms_memdev *d, struct ms_error *err);
	int (*realize)(struct ms_memdev *d, struct ms_error *err);
	void (*plug)(struct ms_memdev *d);
	int (*unplug_request)(struct ms_memdev *d, struct ms_error *err);
	void (*unplug)(struct ms_memdev *d);
	void (*destroy)(struct ms_memdev *d);	/* free model state */
	void (*info)(const struct ms_memdev *d, struct ms_memdev_info *info);
};

/*
 * A plugged device in the machine's address tree (memdev.c): a treap in
 * m->devices order, (address at plug time, plug sequence), whose nodes sum
 * up their subtree's mapped ranges so that the free-address search and the
 * conflict check (rule 5.5) skip whole subtrees. Address and region are
 * taken at plug time: a device keeps both while plugged (memory-device.h).
 */
struct addr_node {
	struct ms_memdev *l, *r;
	uint32_t prio;
	uint64_t key, seq;
	bool ranged;			/* the device maps [lob, upb] */
	uint64_t lob, upb;
	bool any;			/* a range in the subtree: then */
	uint64_t min_lob, max_upb;	/* the span of its ranges and */
	uint64_t max_gap;		/* the widest free gap inside it */
};

struct ms_memdev {
	struct ms_machine *m;
	struct list_head node;		/* in m->devices once plugged */
	struct hnode id_node;		/* in m->device_ids once plugged, with an id */
	struct list_head custom_node;	/* in m->custom_devices once plugged, custom */
	struct addr_node an;		/* in m->addr_tree once plugged */
	bool in_total;			/* counted in m->plugged_size */
	enum ms_memdev_type type;
	char *id;
	struct ms_memdev_ops ops;	/* the memory-device interface (rule 1.1) */
	void *opaque;			/* first argument of @ops */
	const struct memdev_model *model;	/* NULL for custom devices */
	void *model_state;		/* owned by the model */
	bool plugged;
	bool hotplugged;
	uint32_t node_id;
};

struct vhost_backend;

struct ms_machine {
	struct ms_ctx *ctx;
	struct ms_machine_opts opts;
	struct ms_machine_layout layout;
	struct ms_region *system, *ram, *pci, *io;
	struct ms_as *memory_as, *io_as;
	struct ms_as *cpu_as;		/* "cpu-memory-0" */
	struct ms_slotmap *kvm;		/* NULL without KVM */
	struct ms_region *smram_root;	/* "mem-container-smram", NULL without SMM */
	struct ms_as *smram_as;		/* "KVM-SMRAM" */
	struct ms_slotmap *kvm_smm;	/* its slot map, address space 1 */
	struct ms_region *pam[13][4];	/* PAM aliases per block: pci, rom, pci-ram, ram */
	struct list_head backends;
	struct list_head devices;	/* plugged devices */
	struct list_head vhosts;

	/* indexes of backends and plugged devices */
	struct htab backend_ids, backend_regions, device_ids;
	struct ms_memdev *addr_tree;
	uint64_t plug_seq;
	struct list_head custom_devices;
	uint64_t dimm_slots[256 / 64];	/* busy DIMM slots (rule 5.4, at most 256) */

	/* device-memory state (rule 3.1); devmem == NULL without it */
	struct ms_region *devmem;
	struct ms_as *devmem_as;
	struct ms_listener *devmem_listener;
	uint64_t dimm_size;
	uint64_t used_region_size;
	uint32_t required_memslots;
	uint32_t used_memslots;
	uint32_t auto_decision_active;
	uint32_t warnings;
	/* rule 12.1 as a running total over built-in devices; custom ones
	 * report what they like and are asked each time */
	uint64_t plugged_size;
};

/* the device models (dimm.c, virtio_pmem.c, virtio_mem.c) */
extern const struct memdev_model dimm_model, nvdimm_model, pmem_model, vmem_model;

/* devices.c, for the models: owner text of a region the device creates
 * (@sub: the QOM child holding it, "" for the device itself) */
void memdev_set_owner(const struct ms_memdev *d, struct ms_region *mr, const char *sub);
/* devices.c: @b is claimed by a device other than @d */
bool memdev_backend_busy(const struct ms_backend *b, const struct ms_memdev *d);

/* devices.c: build a device of a built-in model from its properties
 * (property checks happen here), not yet plugged. */
struct ms_memdev *memdev_create(struct ms_machine *m, const struct ms_memdev_opts *o,
				struct ms_error *err);
/* devices.c: free a device that is not plugged */
void memdev_destroy(struct ms_memdev *d);
/* devices.c: the memdev of a built-in device, or NULL */
struct ms_backend *memdev_backend(const struct ms_memdev *d);

/* memdev.c: the generic steps (rules 5.2, 5.3, 5.5, 5.6) */
int memory_device_pre_plug(struct ms_machine *m, struct ms_memdev *d, struct ms_error *err);
void memory_device_plug(struct ms_machine *m, struct ms_memdev *d);
void memory_device_unplug(struct ms_machine *m, struct ms_memdev *d);
/* memdev.c: a plugged built-in device's plugged size went from @old to @new */
void memdev_plugged_size_changed(struct ms_memdev *d, uint64_t old, uint64_t new);
uint32_t memdev_reserved_memslots(const struct ms_machine *m);
bool memdev_auto_decision_active(const struct ms_machine *m);
/* the decision limit for a region of @size with the machine's consumers */
uint32_t memdev_decision_limit(const struct ms_machine *m, uint64_t size);

/* memdev.c, for machine.c: device-memory address space and counting
 * listener (rule 3.3) once m->devmem is mapped; teardown of devices, vhost
 * backends and that address space */
int memdev_devmem_init(struct ms_machine *m, struct ms_error *err);
void memdev_machine_fini(struct ms_machine *m);
/* machine.c: the backend whose RAM region is @mr (aliases followed), or NULL */
struct ms_backend *backend_of_region(const struct ms_machine *m, const struct ms_region *mr);

/* KVM failures of the machine's slot maps during one request */
static inline void kvm_watch(const struct ms_machine *m)
{
	if (m->kvm)
		slotmap_mark(m->kvm);
	if (m->kvm_smm)
		slotmap_mark(m->kvm_smm);
}

static inline const struct ms_error *kvm_window_error(const struct ms_machine *m)
{
	const struct ms_error *e = m->kvm ? slotmap_window_error(m->kvm) : NULL;

	return e ? e : m->kvm_smm ? slotmap_window_error(m->kvm_smm) : NULL;
}

static inline bool kvm_failed(const struct ms_machine *m)
{
	return kvm_window_error(m) != NULL;
}

/*
 * kvm-memslots.md rule 9.1: the limit holds per address space, the busiest
 * one counts (address space 1 exists with SMM).
 */
static inline uint32_t kvm_used_memslots(const struct ms_machine *m)
{
	uint32_t used = ms_slotmap__nr_used(m->kvm);
	uint32_t smm = m->kvm_smm ? ms_slotmap__nr_used(m->kvm_smm) : 0;

	return used > smm ? used : smm;
}

static inline void kvm_memslots(const struct ms_machine *m, uint32_t *max, uint32_t *free_slots)
{
	uint32_t used = kvm_used_memslots(m);

	*max = ms_slotmap__max_slots(m->kvm);
	*free_slots = used > *max ? 0 : *max - used;
}

/* vhost.c: rule 9.2, vhost_get_max_memslots() and vhost_get_free_memslots() */
uint32_t vhost_max_memslots(const struct ms_machine *m);
uint32_t vhost_free_memslots(const struct ms_machine *m);
/* vhost.c, for memdev_machine_fini: free the vhost backends */
void vhost_machine_fini(struct ms_machine *m);

/* machine.c: the page size memory is mapped with */
uint64_t host_page_size(const struct ms_machine *m);

/* helpers */
static inline uint64_t align_up_u64(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

#endif /* MEMSLOT_MEMDEV_INTERNAL_H */
