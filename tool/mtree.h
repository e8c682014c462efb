/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot mtree: the parts of the command shared between mtree.c (options,
 * the default topology), mtree_json.c (the JSON tree and flat views) and
 * mtree_import.c (--import, --check-flat, --memslots).
 */
#ifndef MEMSLOT_MTREE_H
#define MEMSLOT_MTREE_H

#include "tool.h"

/**
 * struct mtree_opts - the command line of memslot mtree
 * @flat: -f, the flat views instead of the region trees
 * @owner: -o, owner and parent of every region or range
 * @disabled: -D, also disabled regions (tree view only)
 * @memslots: --memslots, the KVM memslot table (import mode)
 * @import: --import TREE.txt, or NULL: the default topology
 * @check_flat: --check-flat FLAT.txt, or NULL
 * @svg: --svg FILE, or NULL: also write the memory map as SVG (svg.h)
 */
struct mtree_opts {
	bool flat;
	bool owner;
	bool disabled;
	bool memslots;
	const char *import;	/* TREE.txt, or NULL: the default topology */
	const char *check_flat;	/* FLAT.txt or NULL */
	const char *svg;	/* FILE or NULL */
};

/**
 * mtree_json_tree() - the region trees of @ctx as JSON
 * @ctx: the machine
 * @o: options (@o->owner, @o->disabled)
 * @doc: JSON object that gets "address_spaces" and "alias_targets"
 *
 * Return: 0 or -ENOMEM (@doc may hold part of the output then).
 */
int mtree_json_tree(struct ms_ctx *ctx, const struct mtree_opts *o, struct json_object *doc);

/**
 * mtree_json_flat() - the flat views of @ctx as JSON
 * @ctx: the machine
 * @o: options (@o->owner)
 * @maps: NULL-terminated slot maps (import mode: adds "kvm" to every
 *	range), or NULL
 * @doc: JSON object that gets "flat_views"
 *
 * Return: 0 or -ENOMEM (@doc may hold part of the output then).
 */
int mtree_json_flat(struct ms_ctx *ctx, const struct mtree_opts *o, struct ms_slotmap **maps,
		    struct json_object *doc);

/**
 * mtree_import() - the whole of import mode
 * @ctx: an empty memory context to rebuild the dump in
 * @o: options; @o->import is set
 * @flags: MS_MTREE_* flags of ms_mtree_print() for the text output
 *
 * Loads @o->import (and @o->check_flat), maps it to KVM memslots and
 * prints what @o asks for, as text or (json_output) one JSON document.
 * Errors are reported.
 *
 * Return: the exit status: 0, or 1 after an error or if a flat view differs.
 */
int mtree_import(struct ms_ctx *ctx, const struct mtree_opts *o, unsigned int flags);

#endif /* MEMSLOT_MTREE_H */
