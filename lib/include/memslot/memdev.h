/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot memory devices: the memory-device interface, device memory,
 * memslot accounting and the automatic memslot decision, memslot consumers
 * (KVM, vhost), and the pc-dimm, nvdimm, virtio-pmem and virtio-mem models
 * (memory-devices.md; current QEMU unless a rule says otherwise).
 */
#ifndef MEMSLOT_MEMDEV_H
#define MEMSLOT_MEMDEV_H

#include "kvm.h"

struct ms_machine;
struct ms_memdev;
struct ms_backend;

/* memory-devices.md 2.1 */
#define MS_MEMDEV_SOFT_MEMSLOT_LIMIT	256
#define MS_MEMDEV_SAFE_MAX_MEMSLOTS	509
/* "no limit" of a consumer kind that is absent (QEMU's UINT_MAX) */
#define MS_MEMSLOTS_UNLIMITED		UINT32_MAX

/**
 * struct ms_decision_input - inputs of the memslot decision limit (rule 7)
 * @kvm_enabled: KVM takes part
 * @kvm_max: KVM's maximum memslots (kvm-memslots.md 9.1)
 * @kvm_free: KVM's free memslots
 * @vhost_max: smallest vhost backend limit, MS_MEMSLOTS_UNLIMITED if none
 * @vhost_free: smallest vhost free count, MS_MEMSLOTS_UNLIMITED if none
 * @required: required memslots of plugged devices (rule 6.1)
 * @reserved: reserved memslots (rule 6.4)
 * @size: region size of the deciding device
 * @hotpluggable: maxmem - RAM size
 * @used_region_size: region sizes of plugged devices
 */
struct ms_decision_input {
	bool kvm_enabled;
	uint32_t kvm_max, kvm_free;
	uint32_t vhost_max, vhost_free;
	uint32_t required, reserved;
	uint64_t size;
	uint64_t hotpluggable;
	uint64_t used_region_size;
};

/**
 * ms_memslot_decision_limit() - how many memslots a device may decide on
 * @in: inputs
 *
 * Rule 7 step by step, in unsigned arithmetic where QEMU uses it; returns 1
 * where QEMU would divide by zero (no space left) and where free < reserved.
 *
 * Return: the limit, at least 1.
 */
MS_API uint32_t ms_memslot_decision_limit(const struct ms_decision_input *in);

/**
 * enum ms_memdev_type - memory device models
 * @MS_MEMDEV_DIMM: pc-dimm
 * @MS_MEMDEV_NVDIMM: nvdimm
 * @MS_MEMDEV_VIRTIO_PMEM: virtio-pmem-pci
 * @MS_MEMDEV_VIRTIO_MEM: virtio-mem-pci
 * @MS_MEMDEV_CUSTOM: a device implementing &struct ms_memdev_ops itself
 */
enum ms_memdev_type {
	MS_MEMDEV_DIMM,
	MS_MEMDEV_NVDIMM,
	MS_MEMDEV_VIRTIO_PMEM,
	MS_MEMDEV_VIRTIO_MEM,
	MS_MEMDEV_CUSTOM,
};

/**
 * ms_memdev_type_name() - QEMU's query-memory-devices kind
 * @type: device model
 *
 * Return: "dimm", "nvdimm", "virtio-pmem", "virtio-mem" or "custom".
 */
MS_API const char *ms_memdev_type_name(enum ms_memdev_type type);

/**
 * struct ms_memdev_ops - the memory-device interface (rule 1.1)
 * @get_addr: guest-physical address, 0 for "none yet"
 * @set_addr: store the chosen address
 * @get_plugged_size: bytes usable by the guest now
 * @get_memory_region: the device's region; NULL without error for an
 *	empty device (rule 1.3), NULL with @err set on failure
 * @decide_memslots: optional; choose how many memslots to use, at most
 *	@limit; called once in pre_plug before the first get_memslots
 * @get_memslots: optional (absent: 1); memslots the device needs
 * @get_min_alignment: optional; minimum guest-physical alignment
 *
 * Every callback gets the opaque pointer of ms_machine__device_add_custom().
 */
struct ms_memdev_ops {
	uint64_t (*get_addr)(void *opaque);
	void (*set_addr)(void *opaque, uint64_t addr);
	uint64_t (*get_plugged_size)(void *opaque);
	struct ms_region *(*get_memory_region)(void *opaque, struct ms_error *err);
	void (*decide_memslots)(void *opaque, uint32_t limit);
	uint32_t (*get_memslots)(void *opaque);
	uint64_t (*get_min_alignment)(void *opaque);
};

/**
 * enum ms_onoffauto - QEMU's OnOffAuto, plus "not given"
 * @MS_DEFAULT: not given: the property's default in current QEMU (for
 *	virtio-mem unplugged-inaccessible on x86: on, rule 8.1)
 * @MS_ON: on
 * @MS_OFF: off
 * @MS_AUTO: decided by the device (7.2's default for unplugged-inaccessible)
 */
enum ms_onoffauto {
	MS_DEFAULT,
	MS_ON,
	MS_OFF,
	MS_AUTO,
};

/**
 * struct ms_memdev_opts - properties of -device (QEMU names in brackets)
 * @sz: MS_OPTS
 * @type: model
 * @id: device id [id], may be NULL
 * @memdev: memory backend [memdev]
 * @addr: address [addr / memaddr], 0: assign
 * @slot: DIMM slot [slot], -1: assign (use MS_MEMDEV_SLOT_AUTO)
 * @node: NUMA node [node]
 * @requested_size: virtio-mem [requested-size]
 * @block_size: virtio-mem [block-size], 0: automatic (rule 8.2)
 * @dynamic_memslots: virtio-mem [dynamic-memslots]
 * @unplugged_inaccessible: virtio-mem [unplugged-inaccessible]
 * @label_size: nvdimm [label-size]
 * @unarmed: nvdimm [unarmed]
 * @prealloc: virtio-mem [prealloc]
 * @hotplugged: added after machine start (reported by queries)
 * @block_size_set: [block-size] was given, 0 included: QEMU's setter
 *	refuses a value below its minimum, so 0 is no request for the default
 */
struct ms_memdev_opts {
	size_t sz;
	enum ms_memdev_type type;
	const char *id;
	struct ms_backend *memdev;
	uint64_t addr;
	int slot;
	uint32_t node;
	uint64_t requested_size;
	uint64_t block_size;
	bool dynamic_memslots;
	enum ms_onoffauto unplugged_inaccessible;
	uint64_t label_size;
	bool unarmed;
	bool prealloc;
	bool hotplugged;
	bool block_size_set;
};

#define MS_MEMDEV_SLOT_AUTO	(-1)

/**
 * struct ms_memdev_info - one device as query-memory-devices reports it
 * @type: model
 * @id: device id or NULL
 * @addr: guest-physical address ("addr" or "memaddr")
 * @size: region size (DIMMs, virtio-pmem); virtio-mem: plugged size
 * @slot: DIMM slot, -1 for other models
 * @node: NUMA node
 * @memdev: backend QOM path, "/objects/<id>"
 * @hotplugged: plugged after start
 * @hotpluggable: can be hot-(un)plugged
 * @requested_size: virtio-mem requested size
 * @max_size: virtio-mem memdev size
 * @block_size: virtio-mem block size
 * @memslots: memslots the device requires (after any decision)
 * @memslots_used: memslots its mapped regions use now
 * @plugged_size: bytes usable by the guest (rule 12.1)
 */
struct ms_memdev_info {
	enum ms_memdev_type type;
	const char *id;
	uint64_t addr;
	uint64_t size;
	int slot;
	uint32_t node;
	const char *memdev;
	bool hotplugged, hotpluggable;
	uint64_t requested_size, max_size, block_size;
	uint32_t memslots, memslots_used;
	uint64_t plugged_size;
};

/**
 * ms_memdev__info() - describe a device
 * @dev: device
 * @info: filled; strings are valid while the device exists
 */
MS_API void ms_memdev__info(const struct ms_memdev *dev, struct ms_memdev_info *info);

/** ms_memdev__type() - model. @dev: device. Return: the type. */
MS_API enum ms_memdev_type ms_memdev__type(const struct ms_memdev *dev);
/** ms_memdev__id() - device id or NULL. @dev: device. Return: the id. */
MS_API const char *ms_memdev__id(const struct ms_memdev *dev);
/** ms_memdev__region() - the mapped region, NULL if empty. @dev: device. Return: the region. */
MS_API struct ms_region *ms_memdev__region(const struct ms_memdev *dev);

/*
 * virtio-mem (rules 8 and 10). Offsets are relative to the device start
 * (its memaddr); sizes are multiples of the block size.
 */

/**
 * enum ms_virtio_mem_resp - response to a guest request (rule 8.8)
 * @MS_VIRTIO_MEM_ACK: done
 * @MS_VIRTIO_MEM_NACK: refused (plugging beyond requested-size)
 * @MS_VIRTIO_MEM_BUSY: try again later
 * @MS_VIRTIO_MEM_ERROR: invalid request
 */
enum ms_virtio_mem_resp {
	MS_VIRTIO_MEM_ACK = 0,
	MS_VIRTIO_MEM_NACK = 1,
	MS_VIRTIO_MEM_BUSY = 2,
	MS_VIRTIO_MEM_ERROR = 3,
};

/**
 * enum ms_virtio_mem_state - STATE request result (rule 8.8)
 * @MS_VIRTIO_MEM_PLUGGED: all blocks plugged
 * @MS_VIRTIO_MEM_UNPLUGGED: no block plugged
 * @MS_VIRTIO_MEM_MIXED: some plugged
 */
enum ms_virtio_mem_state {
	MS_VIRTIO_MEM_PLUGGED = 0,
	MS_VIRTIO_MEM_UNPLUGGED = 1,
	MS_VIRTIO_MEM_MIXED = 2,
};

/**
 * ms_virtio_mem__set_requested_size() - qom-set requested-size (rule 8.7)
 * @dev: virtio-mem device
 * @size: new requested size
 * @err: optional error details (QEMU's texts)
 *
 * Return: 0 or -EINVAL.
 */
MS_API int ms_virtio_mem__set_requested_size(struct ms_memdev *dev, uint64_t size,
					     struct ms_error *err);

/**
 * ms_virtio_mem__plug() - guest PLUG request for [@offset, @offset + @size)
 * @dev: virtio-mem device
 * @offset: offset from the device start
 * @size: bytes
 *
 * Activates dynamic memslots first (rule 10.5), notifies discard-manager
 * listeners, updates the bitmap and the plugged size.
 *
 * Return: an &enum ms_virtio_mem_resp.
 */
MS_API int ms_virtio_mem__plug(struct ms_memdev *dev, uint64_t offset, uint64_t size);

/**
 * ms_virtio_mem__unplug() - guest UNPLUG request (rules 8.8, 10.6)
 * @dev: virtio-mem device
 * @offset: offset from the device start
 * @size: bytes
 *
 * Return: an &enum ms_virtio_mem_resp.
 */
MS_API int ms_virtio_mem__unplug(struct ms_memdev *dev, uint64_t offset, uint64_t size);

/**
 * ms_virtio_mem__unplug_all() - guest UNPLUG_ALL request (also system reset)
 * @dev: virtio-mem device
 *
 * Return: an &enum ms_virtio_mem_resp.
 */
MS_API int ms_virtio_mem__unplug_all(struct ms_memdev *dev);

/**
 * ms_virtio_mem__state() - guest STATE request
 * @dev: virtio-mem device
 * @offset: offset from the device start
 * @size: bytes
 *
 * Return: an &enum ms_virtio_mem_state, or MS_VIRTIO_MEM_ERROR + 100 for
 * an invalid range (QEMU answers ERROR).
 */
MS_API int ms_virtio_mem__state(const struct ms_memdev *dev, uint64_t offset, uint64_t size);

/**
 * struct ms_virtio_mem_status - sizes and memslots of a virtio-mem device
 * @block_size: block size
 * @region_size: memdev size
 * @usable_region_size: rule 8.6
 * @requested_size: requested size
 * @plugged_size: plugged size
 * @nr_memslots: decided memslot count (1 without dynamic memslots)
 * @memslot_size: bytes per memslot (the last may be smaller)
 * @active_memslots: memslots mapped now
 */
struct ms_virtio_mem_status {
	uint64_t block_size;
	uint64_t region_size;
	uint64_t usable_region_size;
	uint64_t requested_size;
	uint64_t plugged_size;
	uint32_t nr_memslots;
	uint64_t memslot_size;
	uint32_t active_memslots;
};

/**
 * ms_virtio_mem__status() - read a virtio-mem device's sizes
 * @dev: virtio-mem device
 * @st: filled
 *
 * Return: 0, or -EINVAL if @dev is not virtio-mem.
 */
MS_API int ms_virtio_mem__status(const struct ms_memdev *dev, struct ms_virtio_mem_status *st);

/**
 * ms_virtio_mem__memslot_active() - is dynamic memslot @i mapped?
 * @dev: virtio-mem device
 * @i: memslot index
 *
 * Return: true if mapped.
 */
MS_API bool ms_virtio_mem__memslot_active(const struct ms_memdev *dev, uint32_t i);

/**
 * struct ms_rdm_listener_ops - RAM discard manager listener (rule 10.10)
 * @populate: blocks [@offset, @offset + @size) of the memdev region became
 *	plugged; a non-zero return refuses (the plug answers BUSY)
 * @discard: blocks became unplugged
 */
struct ms_rdm_listener_ops {
	int (*populate)(void *opaque, uint64_t offset, uint64_t size);
	void (*discard)(void *opaque, uint64_t offset, uint64_t size);
};

/**
 * ms_virtio_mem__rdm_register() - follow plugged blocks of a virtio-mem device
 * @dev: virtio-mem device
 * @ops: callbacks, copied
 * @opaque: passed to them
 *
 * Replays every plugged range to @ops->populate, in ascending order.
 *
 * Return: 0, -ENOMEM, or the populate error (nothing registered).
 */
MS_API int ms_virtio_mem__rdm_register(struct ms_memdev *dev, const struct ms_rdm_listener_ops *ops,
				       void *opaque);

/**
 * ms_virtio_mem__rdm_unregister() - stop following
 * @dev: virtio-mem device
 * @opaque: the pointer given at registration
 */
MS_API void ms_virtio_mem__rdm_unregister(struct ms_memdev *dev, void *opaque);

/**
 * ms_virtio_mem_decide() - virtio-mem's decide_memslots arithmetic (rule 10.2)
 * @region_size: memdev size
 * @block_size: block size
 * @page_size: the RAM block's page size
 * @limit: decision limit
 * @memslot_size: set to the bytes per memslot
 *
 * Return: the memslot count.
 */
MS_API uint32_t ms_virtio_mem_decide(uint64_t region_size, uint64_t block_size,
				     uint64_t page_size, uint32_t limit, uint64_t *memslot_size);

#endif /* MEMSLOT_MEMDEV_H */
