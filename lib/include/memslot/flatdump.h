/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot: parse and compare QEMU's ``info mtree -f`` dumps, the flat
 * views of address spaces (qemu-mtree-format.md 3).
 */
#ifndef MEMSLOT_FLATDUMP_H
#define MEMSLOT_FLATDUMP_H

#include <stdio.h>

#include "error.h"

struct ms_flatdump;

/**
 * ms_flatdump__parse() - parse an ``info mtree -f`` dump
 * @text: dump, LF or CRLF
 * @len: bytes
 * @err: optional error details
 *
 * Return: the parsed dump, or NULL with errno set.
 */
MS_API struct ms_flatdump *ms_flatdump__parse(const char *text, size_t len, struct ms_error *err);

/** ms_flatdump__free() - free a dump. @fd: dump, may be NULL. */
MS_API void ms_flatdump__free(struct ms_flatdump *fd);

/**
 * ms_flatdump__nr_as() - number of address spaces named in the dump
 * @fd: dump
 *
 * Return: the count.
 */
MS_API size_t ms_flatdump__nr_as(const struct ms_flatdump *fd);

/**
 * ms_flatdump__as_name() - one address space name, in dump order
 * @fd: dump
 * @i: index
 *
 * Return: the name or NULL.
 */
MS_API const char *ms_flatdump__as_name(const struct ms_flatdump *fd, size_t i);

/**
 * ms_flatdump__view_lines() - the lines of the view an address space uses
 * @fd: dump
 * @as_name: address space
 * @nr: set to the number of lines
 *
 * The lines are " Root memory region: ..." and the range lines (or
 * "  No rendered FlatView"), without line ends.
 *
 * Return: the lines, or NULL if @as_name is not in the dump.
 */
MS_API const char *const *ms_flatdump__view_lines(const struct ms_flatdump *fd,
						   const char *as_name, size_t *nr);

/**
 * ms_flatdump__diff() - compare two dumps address space by address space
 * @expected: reference dump (e.g. QEMU's)
 * @got: dump to check
 * @out: stream for a readable report of each difference, or NULL
 *
 * QEMU prints views in hash order, so views are matched by address-space
 * name. Every address space of @expected must be in @got with identical
 * lines, and @got must have no others.
 *
 * Return: the number of address spaces that differ.
 */
MS_API unsigned int ms_flatdump__diff(const struct ms_flatdump *expected,
				      const struct ms_flatdump *got, FILE *out);

#endif /* MEMSLOT_FLATDUMP_H */
