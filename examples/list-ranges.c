// SPDX-License-Identifier: LGPL-2.1-or-later
/* List the flat view of a small address space (the example of libmemslot(3)). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <memslot/memslot.h>

struct counts {
	unsigned int added, deleted;
};

static void count_add(void *opaque, const struct ms_section *s)
{
	(void)s;
	((struct counts *)opaque)->added++;
}

static void count_del(void *opaque, const struct ms_section *s)
{
	(void)s;
	((struct counts *)opaque)->deleted++;
}

int main(void)
{
	const struct ms_listener_ops ops = { .region_add = count_add, .region_del = count_del };
	struct ms_region *root, *ram, *mmio;
	struct ms_listener *l = NULL;
	struct counts counts = { 0 };
	struct ms_error err = { 0 };
	struct ms_flatview *fv;
	struct ms_as *as = NULL;
	struct ms_ctx *ctx;
	int ret = EXIT_FAILURE;

	ctx = ms_ctx__new();
	if (!ctx)
		return EXIT_FAILURE;
	/* The container root spans the whole 64-bit space (UINT64_MAX: 2^64). */
	root = ms_region__new_container(ctx, "system", UINT64_MAX, &err);
	/* 256 MiB of anonymous RAM, and a 4 KiB I/O region that hides part of it. */
	ram = ms_region__new_ram(ctx, "ram", 256 << 20, MS_RAM_ANON, &err);
	mmio = ms_region__new_io(ctx, "mmio", 0x1000, NULL, NULL, &err);
	if (!root || !ram || !mmio)
		goto out_regions;
	as = ms_as__new(ctx, root, "memory", &err);
	if (!as)
		goto out_regions;
	l = ms_listener__new(&ops, &counts, MS_LISTENER_PRIORITY_MIN, "counter");
	if (!l || ms_listener__register(l, as, &err))
		goto out_as;

	/* One transaction: the listener sees the net result at the commit. */
	ms_ctx__begin(ctx);
	if (ms_region__add_subregion(root, 0, ram, &err) ||
	    ms_region__add_subregion_overlap(root, 0xa0000, mmio, 1, &err)) {
		ms_ctx__commit(ctx);
		goto out_as;
	}
	if (ms_ctx__commit(ctx))
		goto out_as;

	fv = ms_as__flatview(as);
	for (size_t i = 0; i < ms_flatview__nr_ranges(fv); i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t last = fr->start + (uint64_t)(fr->size - 1);

		printf("%016" PRIx64 "-%016" PRIx64 " (%s) %s @%" PRIx64 "\n", fr->start, last,
		       ms_region__type_str(fr->mr), ms_region__name(fr->mr), fr->offset_in_region);
	}
	printf("listener: %u added, %u deleted\n", counts.added, counts.deleted);
	ret = EXIT_SUCCESS;
out_as:
	ms_listener__free(l);
	ms_as__free(as);
out_regions:
	if (ret != EXIT_SUCCESS && err.err)
		fprintf(stderr, "list-ranges: %s\n", err.msg);
	ms_region__unref(mmio);
	ms_region__unref(ram);
	ms_region__unref(root);
	ms_ctx__free(ctx);
	return ret;
}
