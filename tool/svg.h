/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: the guest-physical memory map as a standalone SVG 1.1
 * picture (--svg FILE of mtree, plan and census).
 *
 * A generic model (struct svg_map: a title and bands, each band a list of
 * ranges with a kind and a label) and its writer, plus builders from the
 * library's objects: the KVM slot maps and flat views of a context or of a
 * machine, and the kernel's memslot tables read by the census. The writer
 * draws one band per address space on a shared, log-scaled address axis,
 * ranges colored by kind, holes as gaps, a legend and a title line.
 *
 * svg.c has the model and the writer, svg_build.c the builders.
 * Nothing here prints: errors come back as a negative errno with a one-line
 * message in the caller's &struct ms_error, for p_err().
 */
#ifndef MEMSLOT_TOOL_SVG_H
#define MEMSLOT_TOOL_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <memslot/memslot.h>

#include "census_prog.h"

/**
 * enum svg_kind - what a range holds (its color)
 * @SVG_RAM: RAM
 * @SVG_ROM: ROM: read-only for the guest (ROM, ROM device, readonly slot)
 * @SVG_DEVMEM: memory of a memory device in device memory (DIMM, NVDIMM,
 *	virtio-pmem), or any RAM inside the device-memory window
 * @SVG_VIRTIO_MEM: memory of a virtio-mem device
 * @SVG_NR_KINDS: number of kinds
 */
enum svg_kind {
	SVG_RAM,
	SVG_ROM,
	SVG_DEVMEM,
	SVG_VIRTIO_MEM,
	SVG_NR_KINDS,
};

/**
 * struct svg_range - one range of a band
 * @start: guest-physical address
 * @size: bytes (0 is not drawn)
 * @kind: color
 * @dirty: dirty logging is on (drawn hatched and outlined)
 * @slot: KVM slot id, or -1 for a flat-view range
 * @label: name (region, device or slot), owned; may be NULL
 */
struct svg_range {
	uint64_t start, size;
	enum svg_kind kind;
	bool dirty;
	int32_t slot;
	char *label;
};

/**
 * struct svg_band - one address space
 * @name: band title (address space name), owned
 * @note: second line under the name (e.g. "KVM as 0, 9 slots"), owned
 * @ranges: the ranges, any order; they should not overlap
 * @nr: number of @ranges
 * @cap: allocated entries
 * @win_start: start of the device-memory window drawn behind the ranges
 * @win_size: its size; 0: no window
 */
struct svg_band {
	char *name;
	char *note;
	struct svg_range *ranges;
	size_t nr, cap;
	uint64_t win_start, win_size;
};

/**
 * struct svg_map - a picture
 * @title: first line: what the machine is (bold), owned
 * @subtitle: second line, details, owned; may be NULL
 * @bands: bands from top to bottom
 * @nr_bands: number of @bands
 */
struct svg_map {
	char *title;
	char *subtitle;
	struct svg_band *bands;
	size_t nr_bands;
};

/* Width of the picture in pixels; every band has the same height. */
#define SVG_WIDTH	1200

/**
 * svg_map_free() - free everything a map holds (not @sm itself)
 * @sm: map, zeroed or filled by the functions below
 */
void svg_map_free(struct svg_map *sm);

/**
 * svg_map_set_title() - set the two title lines
 * @sm: map
 * @title: first line
 * @subtitle: second line or NULL
 *
 * Return: 0 or -ENOMEM.
 */
int svg_map_set_title(struct svg_map *sm, const char *title, const char *subtitle);

/**
 * svg_map_add_band() - append a band
 * @sm: map
 * @name: its name
 * @note: its second line, or NULL
 *
 * Return: the band (valid until the next svg_map_add_band()), or NULL for
 * out of memory.
 */
struct svg_band *svg_map_add_band(struct svg_map *sm, const char *name, const char *note);

/**
 * svg_band_add() - append a range to a band
 * @b: band
 * @start: guest-physical address
 * @size: bytes
 * @kind: color
 * @dirty: dirty logging on
 * @slot: KVM slot id or -1
 * @label: name or NULL (copied)
 *
 * Return: 0 or -ENOMEM.
 */
int svg_band_add(struct svg_band *b, uint64_t start, uint64_t size, enum svg_kind kind,
		 bool dirty, int32_t slot, const char *label);

/**
 * svg_kind_name() - the legend text of a kind
 * @kind: kind
 *
 * Return: "RAM", "ROM", "device memory (DIMM, NVDIMM)" or "virtio-mem".
 */
const char *svg_kind_name(enum svg_kind kind);

/**
 * svg_size_str() - a size as QEMU's size_to_str() writes it
 * @v: bytes
 * @buf: output
 * @len: its size (24 bytes are enough)
 *
 * The largest binary unit that keeps the number below 1000, three
 * significant digits: "640 KiB", "1 GiB", "1.5 GiB".
 *
 * Return: @buf.
 */
const char *svg_size_str(uint64_t v, char *buf, size_t len);

/**
 * svg_map_print() - write the SVG document of @sm to a stream
 * @sm: map
 * @f: stream
 *
 * Return: 0, or -EIO if the stream reports an error.
 */
int svg_map_print(const struct svg_map *sm, FILE *f);

/**
 * svg_map_write() - write the SVG document of @sm to a file
 * @sm: map
 * @path: file name
 * @err: optional: "cannot write SVG file PATH: <reason>"
 *
 * A regular file (or a link to one: the file it names) is written as a
 * new file of its own (mkstemp() beside it, so no existing name is
 * followed) renamed over it: on failure @path is unchanged and nothing
 * is left. A path that exists and is not a regular file (/dev/null, a
 * fifo) is written in place; a directory is an error (-EISDIR).
 *
 * Return: 0 or a negative errno.
 */
int svg_map_write(const struct svg_map *sm, const char *path, struct ms_error *err);

/**
 * svg_map_add_ctx() - one band per address space of a context
 * @sm: map
 * @ctx: context (its address spaces in creation order)
 * @maps: NULL-terminated KVM slot maps on some of them, or NULL
 *
 * An address space with a slot map becomes a band of its slots, one range
 * per slot (bands with slot maps first, by KVM address space id); one
 * without becomes a band of its flat view's RAM, ROM and RAM-device ranges,
 * unless it has none or renders the same root as an earlier band
 * (cpu-memory-0 is memory). An address space whose root is itself mapped
 * (current QEMU's "device-memory") gets the root's extent as its window. Kinds: readonly slot, ROM, ROM
 * device or readonly range: ROM; inside the "device-memory" region of the
 * "memory" address space: device memory; otherwise RAM; dirty logging from
 * the slot flags or the range's dirty-log mask. Slot labels are the
 * region's name.
 *
 * Return: 0 or -ENOMEM.
 */
int svg_map_add_ctx(struct svg_map *sm, struct ms_ctx *ctx, struct ms_slotmap *const *maps);

/**
 * svg_map_add_machine() - the bands of a machine
 * @sm: map
 * @m: machine
 *
 * svg_map_add_ctx() with the machine's KVM slot maps (address spaces 0 and
 * 1), its device-memory window (ms_machine__layout()) and its memory
 * devices: ranges of a virtio-mem device get SVG_VIRTIO_MEM, those of
 * other devices SVG_DEVMEM, and their labels name the device
 * ("dimm1: mem1").
 *
 * Return: 0 or -ENOMEM.
 */
int svg_map_add_machine(struct svg_map *sm, const struct ms_machine *m);

/**
 * svg_write_ctx() - the picture of a context, written to @path
 * @path: output file (svg_map_write())
 * @ctx: context
 * @maps: NULL-terminated KVM slot maps or NULL (svg_map_add_ctx())
 * @what: start of the title line (e.g. "pc-4g.mtree.txt"); RAM and the
 *	number of KVM memslots are appended
 * @err: optional error details
 *
 * Return: 0 or a negative errno.
 */
int svg_write_ctx(const char *path, struct ms_ctx *ctx, struct ms_slotmap *const *maps,
		  const char *what, struct ms_error *err);

/**
 * svg_write_machine() - the picture of a machine, written to @path
 * @path: output file (svg_map_write())
 * @m: machine
 * @what: start of the title line, e.g. the machine type "q35"; RAM, the
 *	number of KVM memslots and device memory are appended
 * @err: optional error details
 *
 * Return: 0 or a negative errno.
 */
int svg_write_machine(const char *path, const struct ms_machine *m, const char *what,
		      struct ms_error *err);

/**
 * svg_write_census() - the memslot tables of a census, written to @path
 * @path: output file (svg_map_write())
 * @c: census: one band per VM and KVM address space
 * @devmem_base: device-memory window of the VMs, if known: its slots
 *	are drawn as device memory; 0 when unknown
 * @devmem_size: its size, 0 when unknown
 * @err: optional error details
 *
 * Kinds: KVM_MEM_READONLY: ROM; in the device-memory window: device
 * memory; otherwise RAM; KVM_MEM_LOG_DIRTY_PAGES: dirty logging. Labels
 * are "slot N".
 *
 * Return: 0 or a negative errno.
 */
int svg_write_census(const char *path, const struct census *c, uint64_t devmem_base,
		     uint64_t devmem_size, struct ms_error *err);

#endif /* MEMSLOT_TOOL_SVG_H */
