/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Lines of QEMU's ``info mtree`` and ``info mtree -f`` text, shared by
 * import.c and flatdump.c (qemu-mtree-format.md 1, 3). Not installed.
 */
#ifndef MEMSLOT_MTREE_LINES_H
#define MEMSLOT_MTREE_LINES_H

#include "internal.h"

struct line {
	char *s;
	unsigned int no;
};

struct lines {
	struct line *v;
	size_t nr;
	char *buf;
	unsigned int nul_line;	/* first line holding a NUL byte, or 0 */
};

/* split @text at LF (a CR before it is dropped); 0 or -ENOMEM */
int split_lines(const char *text, size_t len, struct lines *ls);
void free_lines(struct lines *ls);
/* 16 lower-case hex digits */
bool parse_hex16(const char *s, uint64_t *v);
/* "<16hex>-<16hex>" */
bool parse_range(const char *s, uint64_t *a, uint64_t *b);
bool ends_with(const char *s, size_t len, const char *suffix);

/* a flat-view range line, "  <start>-<end> (prio <p>, <type>): <name>..." */
struct flat_range_text {
	uint64_t start, end;
	const char *type;	/* up to "): " */
	size_t type_len;
	const char *name;
	size_t name_len;
};

bool parse_flat_range(const char *line, struct flat_range_text *r);
/* the name of a range line and its range */
bool range_line_name(const char *line, const char **name, size_t *len, uint64_t *start,
		     uint64_t *end);

/*
 * A hash map from (tag, byte string) to a size_t, for names met in a dump.
 * Keys are not copied: they must outlive the map. Zero-initialized is empty.
 */
struct strmap_slot {
	const char *key;	/* NULL: free */
	size_t len, tag, val;
	uint64_t hash;
};

struct strmap {
	struct strmap_slot *v;
	size_t cap, nr;
};

/* the value of (@tag, @key), or NULL */
size_t *strmap_find(const struct strmap *m, size_t tag, const char *key, size_t len);
/* the value of (@tag, @key), added as @val if absent (*@added tells);
 * NULL if out of memory */
size_t *strmap_add(struct strmap *m, size_t tag, const char *key, size_t len, size_t val,
		   bool *added);
void strmap_free(struct strmap *m);

/* flatdump.c: names of flat ranges lying in [start, end] of some view
 * (anywhere unless @ranged) */
bool flat_has_name_within(const struct ms_flatdump *fd, const char *name, bool ranged,
			  uint64_t start, uint64_t end);

#endif /* MEMSLOT_MTREE_LINES_H */
