/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot flat views: the rendered, simplified form of a region tree
 * (regions-and-flatview.md sections 5, 6, 8, 9).
 */
#ifndef MEMSLOT_FLATVIEW_H
#define MEMSLOT_FLATVIEW_H

#include "region.h"

struct ms_flatview;

/**
 * struct ms_flat_range - one range of a flat view (rule 5.1)
 * @mr: terminating region (never an alias or a container)
 * @start: guest address of the first byte
 * @size: size in bytes, 1..2^64
 * @offset_in_region: offset of @start inside @mr
 * @dirty_log_mask: effective dirty-log mask of @mr at render time
 * @romd_mode: @mr's own ROMD mode
 * @readonly: inherited read-only (rule 4.1)
 * @nonvolatile: inherited nonvolatile
 * @unmergeable: inherited unmergeable
 */
struct ms_flat_range {
	struct ms_region *mr;
	uint64_t start;
	ms_u128 size;
	uint64_t offset_in_region;
	uint8_t dirty_log_mask;
	bool romd_mode;
	bool readonly;
	bool nonvolatile;
	bool unmergeable;
};

/**
 * struct ms_section - listener-facing view of one flat range (rule 8.1)
 * @mr: terminating region; NULL for ioeventfd sections (rule 4.3)
 * @fv: flat view the range belongs to
 * @offset_within_region: offset inside @mr
 * @size: size in bytes, 0..2^64
 * @offset_within_address_space: guest address
 * @readonly: inherited read-only
 * @nonvolatile: inherited nonvolatile
 * @unmergeable: inherited unmergeable
 */
struct ms_section {
	struct ms_region *mr;
	struct ms_flatview *fv;
	uint64_t offset_within_region;
	ms_u128 size;
	uint64_t offset_within_address_space;
	bool readonly;
	bool nonvolatile;
	bool unmergeable;
};

/**
 * ms_section_eq() - QEMU's section equality (rule 8.2; ignores unmergeable)
 * @a: section
 * @b: section
 *
 * Return: true if equal.
 */
MS_API bool ms_section_eq(const struct ms_section *a, const struct ms_section *b);

/**
 * ms_flatview__render() - render a region as a flat view
 * @root: root region or NULL (empty view)
 * @err: optional error details
 *
 * Renders and simplifies exactly as an address space would, without
 * root selection (rule 7.3). The view holds references on its regions.
 * O(n log n) in the number of rendered regions and ranges.
 *
 * Return: a new view (one reference) or NULL with errno set.
 */
MS_API struct ms_flatview *ms_flatview__render(struct ms_region *root, struct ms_error *err);

/**
 * ms_flatview__ref() - take a reference on a view
 * @fv: view
 *
 * Return: @fv.
 */
MS_API struct ms_flatview *ms_flatview__ref(struct ms_flatview *fv);

/**
 * ms_flatview__unref() - drop a reference; the last one frees the view
 * @fv: view, may be NULL
 */
MS_API void ms_flatview__unref(struct ms_flatview *fv);

/**
 * ms_flatview__nr_ranges() - number of ranges
 * @fv: view
 *
 * Return: the count.
 */
MS_API size_t ms_flatview__nr_ranges(const struct ms_flatview *fv);

/**
 * ms_flatview__range() - one range, in ascending address order
 * @fv: view
 * @i: index below ms_flatview__nr_ranges()
 *
 * Return: the range, valid as long as the view.
 */
MS_API const struct ms_flat_range *ms_flatview__range(const struct ms_flatview *fv, size_t i);

/**
 * ms_flatview__root() - region the view was rendered from
 * @fv: view
 *
 * Return: the root, or NULL for the empty view of an absent root.
 */
MS_API struct ms_region *ms_flatview__root(const struct ms_flatview *fv);

/**
 * ms_flatview__lookup() - find the range containing an address (rule 9.1)
 * @fv: view
 * @addr: guest address
 *
 * O(log n).
 *
 * Return: the range, or NULL if @addr is unassigned.
 */
MS_API const struct ms_flat_range *ms_flatview__lookup(const struct ms_flatview *fv,
						       uint64_t addr);

/**
 * ms_flat_range__section() - the section of a range (rule 8.1)
 * @fv: view holding @fr
 * @fr: range
 * @s: filled
 */
MS_API void ms_flat_range__section(struct ms_flatview *fv, const struct ms_flat_range *fr,
				   struct ms_section *s);

#endif /* MEMSLOT_FLATVIEW_H */
