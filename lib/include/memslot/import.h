/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot: rebuild a region tree from QEMU's ``info mtree`` text
 * (qemu-mtree-format.md); ``info mtree -f`` dumps are in flatdump.h.
 */
#ifndef MEMSLOT_IMPORT_H
#define MEMSLOT_IMPORT_H

#include "as.h"

struct ms_import;

/**
 * ms_import__parse() - rebuild regions and address spaces from a dump
 * @ctx: context to create them in (normally a new, empty one)
 * @tree: ``info mtree`` text, with or without ``-o`` and ``-D``, LF or CRLF
 * @tree_len: bytes in @tree
 * @flat: optional ``info mtree -f`` text of the same VM, or NULL; it
 *	settles which ``i/o`` regions terminate (qemu-mtree-format.md 7.1),
 *	which aliases are read-only, and the order of address spaces
 * @flat_len: bytes in @flat
 * @err: optional error details: "line N: <what was expected>: <text>"
 *
 * RAM and ROM regions get no host memory. Without @flat, an ``i/o``
 * region with subregions is taken for a container, except an
 * address-space root smaller than 2^64 (QEMU's "io"); a childless one
 * terminates unless it is a 2^64 address-space root. With @flat, an
 * ``i/o`` region terminates if a view shows it under its own name; one
 * with subregions otherwise is a container; a childless one that no view
 * shows is a container (all its children disabled and, without ``-D``,
 * not printed: QEMU's q35 "smram") if, taken for I/O, it would be visible
 * in an address space the dump has a view of, and stays I/O (fully
 * covered by higher-priority regions) if it would not. Aliases are created
 * after their targets; siblings of equal priority and address are added
 * so that the list order QEMU printed is kept, others newest-last in
 * address order. On failure nothing is left in @ctx.
 *
 * Return: the import, or NULL with errno set (EINVAL for malformed input).
 */
MS_API struct ms_import *ms_import__parse(struct ms_ctx *ctx, const char *tree, size_t tree_len,
					  const char *flat, size_t flat_len,
					  struct ms_error *err);

/**
 * ms_import__free() - free the address spaces and drop the region references
 * @imp: import, may be NULL
 *
 * Listeners on its address spaces must be gone.
 */
MS_API void ms_import__free(struct ms_import *imp);

/** ms_import__nr_as() - number of address spaces. @imp: import. Return: the count. */
MS_API size_t ms_import__nr_as(const struct ms_import *imp);

/**
 * ms_import__as() - one address space, in file order
 * @imp: import
 * @i: index
 *
 * Return: the address space or NULL.
 */
MS_API struct ms_as *ms_import__as(const struct ms_import *imp, size_t i);

/**
 * ms_import__find_as() - address space by name
 * @imp: import
 * @name: name
 *
 * Return: the first address space named @name, or NULL.
 */
MS_API struct ms_as *ms_import__find_as(const struct ms_import *imp, const char *name);

#endif /* MEMSLOT_IMPORT_H */
