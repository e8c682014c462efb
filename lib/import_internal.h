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
	char *name;		/* NULL for hidden parents; in the text's lines */
	char *target;		/* alias target name, in the lines */
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
	size_t idx;		/* in parser.nodes */
	struct node *next_named;	/* the next node of this name, file order */
	uint64_t shape;		/* hash of what same_shape() compares */
	size_t first_met;	/* print point of the first alias onto it */
	struct node *ftarget;	/* final target, for aliases */
	struct node *ft_aliases, *ft_next;	/* the aliases onto it, via ftarget */
	signed char flat_named;	/* fi_has_name_within() of it: 0 unknown, 1, -1 */
};

#define NODE_BLOCK	256

struct node_block {
	struct node_block *next;
	size_t nr;
	struct node v[NODE_BLOCK];
};

struct section {
	bool is_as;		/* address-space group, else memory-region */
	char **names;		/* address-space names, or the one region name */
	size_t nr_names;
	struct node *root;	/* level-1 node (may be a hidden parent) */
	unsigned int line;
	size_t next_named;	/* next memory-region section of the name, or SIZE_MAX */
	struct node *region;	/* section_region(), once known */
	bool region_known;
};

/*
 * QEMU's ``info mtree -f`` dump of the same machine, indexed for the
 * inference of import.c (flatdump.c has parsed and checked it first).
 */
struct fi_range {
	uint64_t start, end;
	const char *name;	/* without " @<offset>" and " KVM" markers */
	size_t name_len;
	bool typed;		/* parse_flat_range() takes it */
	bool rom;		/* of type "rom" */
};

/* Ranges by start, with the largest end up to each, for overlap queries. */
struct fi_ent {
	uint64_t start, end, maxend;
	size_t idx;		/* into flat_index.ranges */
};

struct fi_list {
	struct fi_ent *v;	/* in flat_index.ents */
	size_t nr;
};

struct flat_index {
	struct lines ls;
	struct fi_range *ranges;
	size_t nr_ranges;
	size_t nr_views;
	/*
	 * Lists of typed ranges: of each view (list <view>), of each (view,
	 * name); lists of the ranges of any view by name, with or without
	 * the owner text that follows it.
	 */
	struct fi_list *lists;
	size_t nr_lists;
	struct fi_ent *ents;
	struct strmap as_view;	/* address-space name -> its (first) view */
	struct strmap named;	/* (view, name) -> list */
	struct strmap loose_names;	/* name -> list */
};

struct parser {
	bool seen_memory;	/* an "address-space: memory" header was read */
	struct ms_ctx *ctx;
	struct ms_error *err;
	struct section *secs;
	size_t nr_secs;
	struct node **nodes;	/* every node, file order */
	struct node_block *blocks;	/* where they live */
	size_t nr_nodes, alloc_nodes;
	bool owner_mode;
	bool disabled_mode;		/* -D dump: every region printed */
	struct ms_flatdump *flat;
	const char *flat_text;
	size_t flat_len;
	struct flat_index fi;		/* of @flat */
	struct strmap node_names;	/* name -> first node of the name */
	struct strmap sec_names;	/* name -> first memory-region section */
};

/* import_parse.c */
/* a "line N: <what>: <text>" error; returns -EINVAL */
int perr(struct parser *p, unsigned int line, const char *what, const char *text);
/* the dump was printed with -o (owner texts) */
bool detect_owner_mode(const struct lines *ls);
/* the sections and their node trees (rules 2, 4, 5) */
int parse_sections(struct parser *p, struct lines *ls);


/* index the flat dump @text (parsed by ms_flatdump__parse() already) */
int flat_index_build(struct flat_index *fi, const char *text, size_t len);
void flat_index_free(struct flat_index *fi);
/* the view of address space @name, or -1 */
long fi_view(const struct flat_index *fi, const char *name);
/* typed ranges of view @view (and named @name, unless NULL) */
const struct fi_list *fi_list(const struct flat_index *fi, long view, const char *name,
			      size_t len);
/* the first entry of @l that may overlap [@start, @end]: go on while
 * v[i].start <= @end, taking those with v[i].end >= @start */
size_t fi_first(const struct fi_list *l, uint64_t start);
/* does a range of any view name @name (followed by owner text or not),
 * within [@start, @end] if @ranged (flat_has_name_within())? */
bool fi_has_name_within(const struct flat_index *fi, const char *name, bool ranged,
			uint64_t start, uint64_t end);

#endif /* MEMSLOT_IMPORT_INTERNAL_H */
