/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The node tree of an imported ``info mtree`` dump, shared by
 * import_parse.c (text to nodes) and import.c (nodes to regions).
 * Not installed.
 */
#ifndef MEMSLOT_IMPORT_INTERNAL_H
#define MEMSLOT_IMPORT_INTERNAL_H

#include "mtree_lines.h"

enum type {
	T_RAM, T_ROM, T_ROMD, T_RAMD, T_IO,
};

struct node {
	unsigned int line;
	unsigned int level;
	uint64_t start, end;	/* as printed */
	int32_t prio;
	enum type type;
	bool nv, disabled, hidden, is_alias;
	char *name;		/* NULL for hidden parents */
	char *target;		/* alias target name */
	uint64_t alias_off, alias_end;
	char *owner, *parent;
	struct node *up;
	struct node **kids;
	size_t nr_kids, alloc_kids;
	struct ms_region *mr;
	struct node *tnode;	/* resolved alias target */
	unsigned int alias_refs;	/* aliases resolved to this node */
	bool in_as_tree;
	unsigned int section;	/* index of the section holding it */
};

struct section {
	bool is_as;		/* address-space group, else memory-region */
	char **names;		/* address-space names, or the one region name */
	size_t nr_names;
	struct node *root;	/* level-1 node (may be a hidden parent) */
	unsigned int line;
};

struct parser {
	bool seen_memory;	/* an "address-space: memory" header was read */
	struct ms_ctx *ctx;
	struct ms_error *err;
	struct section *secs;
	size_t nr_secs;
	struct node **nodes;	/* every node, file order */
	size_t nr_nodes, alloc_nodes;
	bool owner_mode;
	bool disabled_mode;		/* -D dump: every region printed */
	struct ms_flatdump *flat;
};

/* import_parse.c */
/* a "line N: <what>: <text>" error; returns -EINVAL */
int perr(struct parser *p, unsigned int line, const char *what, const char *text);
/* the dump was printed with -o (owner texts) */
bool detect_owner_mode(const struct lines *ls);
/* the sections and their node trees (rules 2, 4, 5) */
int parse_sections(struct parser *p, struct lines *ls);

#endif /* MEMSLOT_IMPORT_INTERNAL_H */
