// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Translation and accesses through an address space
 * (regions-and-flatview.md section 9).
 */
#include <string.h>

#include "internal.h"

const struct ms_flat_range *ms_as__translate(struct ms_as *as, uint64_t addr, uint64_t *xlat,
					     uint64_t *len)
{
	const struct ms_flat_range *fr = ms_flatview__lookup(as->fv, addr);
	ms_u128 left;

	if (!fr)
		return NULL;
	*xlat = addr - fr->start + fr->offset_in_region;
	/* rule 9.2: clamp only for RAM */
	if (fr->mr->ram) {
		left = fr->start + fr->size - addr;
		if ((ms_u128)*len > left)
			*len = (uint64_t)left;
	}
	return fr;
}

static bool direct_access(const struct ms_region *mr, bool is_write)
{
	/* RAM is copied directly, except RAM devices; ROMD reads too; writes
	 * only to writable plain RAM (the region's own flag, not the inherited
	 * one). */
	if (is_write)
		return mr->ram && !mr->readonly && !mr->rom_device && !mr->ram_device;
	return (mr->ram && !mr->ram_device) || (mr->rom_device && mr->romd_mode);
}

static unsigned int ops_valid_max(const struct ms_region_ops *o)
{
	return o->valid_max ? o->valid_max : 4;
}

/* Size of the next piece of an access: at most valid_max, at most the
 * alignment of @addr unless the implementation takes unaligned accesses,
 * and a power of two. */
static unsigned int access_size(const struct ms_region_ops *o, uint64_t addr, uint64_t left)
{
	uint64_t max = ops_valid_max(o);

	if (!o->impl_unaligned) {
		uint64_t align = addr & -addr;

		if (align && align < max)
			max = align;
	}
	if (left > max)
		left = max;
	while (left & (left - 1))
		left &= left - 1;
	return (unsigned int)left;
}

static bool access_valid(const struct ms_region_ops *o, uint64_t addr, unsigned int size)
{
	unsigned int min = o->valid_min ? o->valid_min : 1;

	if (!o->valid_unaligned && (addr & (size - 1)))
		return false;
	return size >= min && size <= ops_valid_max(o);
}

static int ram_device_read(void *opaque, uint64_t addr, uint64_t *val, unsigned int size)
{
	const struct ms_region *mr = opaque;

	*val = 0;
	memcpy(val, (char *)mr->host + addr, size);
	return MS_MEMTX_OK;
}

static int ram_device_write(void *opaque, uint64_t addr, uint64_t val, unsigned int size)
{
	const struct ms_region *mr = opaque;

	memcpy((char *)mr->host + addr, &val, size);
	return MS_MEMTX_OK;
}

static const struct ms_region_ops ram_device_ops = {
	.read = ram_device_read,
	.write = ram_device_write,
	.valid_min = 1, .valid_max = 8, .valid_unaligned = true,
	.impl_min = 1, .impl_max = 8, .impl_unaligned = true,
};

/* One access of @size bytes, widened or split to the implementation's sizes
 * and combined little endian. */
static int dispatch(struct ms_region *mr, const struct ms_region_ops *o, void *opaque,
		    uint64_t addr, uint64_t *val, unsigned int size, bool is_write)
{
	unsigned int imin = o->impl_min ? o->impl_min : 1;
	unsigned int imax = o->impl_max ? o->impl_max : 4;
	unsigned int step = size < imin ? imin : size > imax ? imax : size;
	uint64_t mask = step >= 8 ? ~0ull : (1ull << (step * 8)) - 1;
	int ret = MS_MEMTX_OK;

	(void)mr;
	if (!is_write)
		*val = 0;
	for (unsigned int i = 0; i < size; i += step) {
		uint64_t v = 0;

		if (is_write) {
			if (o->write)
				ret |= o->write(opaque, addr + i, (*val >> (i * 8)) & mask, step);
		} else if (o->read) {
			ret |= o->read(opaque, addr + i, &v, step);
			*val |= (v & mask) << (i * 8);
		}
	}
	return ret;
}

int ms_as__rw(struct ms_as *as, uint64_t addr, void *buf, uint64_t len, bool is_write)
{
	uint8_t *p = buf;
	int ret = MS_MEMTX_OK;

	while (len) {
		const struct ms_flat_range *fr = ms_flatview__lookup(as->fv, addr);
		const struct ms_region_ops *o;
		struct ms_region *mr;
		uint64_t xlat, l, val;
		void *opaque;

		if (!fr) {
			/* unassigned: reads 0, writes dropped, decode error (rule 9.1) */
			const struct ms_flat_range *next = NULL;
			/* @addr is in no range: the next one is the first ending after it */
			size_t i = fv_first_ending_after(as->fv, addr);

			if (i < as->fv->nr)
				next = fv_at(as->fv, i);
			l = next && next->start - addr < len ? next->start - addr : len;
			if (!is_write)
				memset(p, 0, l);
			ret |= MS_MEMTX_DECODE_ERROR;
			goto advance;
		}
		mr = fr->mr;
		xlat = addr - fr->start + fr->offset_in_region;
		l = len;
		if ((ms_u128)l > fr->start + fr->size - addr)
			l = (uint64_t)(fr->start + fr->size - addr);
		if (direct_access(mr, is_write)) {
			if (is_write)
				memcpy((char *)mr->host + xlat, p, l);
			else
				memcpy(p, (char *)mr->host + xlat, l);
			goto advance;
		}
		if (mr->has_ops) {
			o = &mr->ops;
			opaque = mr->opaque;
		} else if (mr->ram_device) {
			o = &ram_device_ops;
			opaque = mr;
		} else {
			/* no callbacks (ROM writes, unassigned I/O): refused */
			if (!is_write)
				memset(p, 0, l);
			ret |= MS_MEMTX_DECODE_ERROR;
			goto advance;
		}
		l = access_size(o, xlat, l);
		if (!access_valid(o, xlat, (unsigned int)l)) {
			if (!is_write)
				memset(p, 0, l);
			ret |= MS_MEMTX_DECODE_ERROR;
			goto advance;
		}
		val = 0;
		if (is_write)
			memcpy(&val, p, l);
		ret |= dispatch(mr, o, opaque, xlat, &val, (unsigned int)l, is_write);
		if (!is_write)
			memcpy(p, &val, l);
advance:
		p += l;
		addr += l;
		len -= l;
	}
	return ret;
}
