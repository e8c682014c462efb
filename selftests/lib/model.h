/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Brute-force reference model of the region tree, for the random selftest.
 *
 * The model mirrors a tree of regions with plain data (no pointers into the
 * library) and computes flat views from the per-address definition of
 * regions-and-flatview.md section 5: the owner of an address is the first
 * terminating region that covers it in render order. It never calls the
 * library and shares no code with it; node ids are small integers that the
 * test maps to library regions.
 */
#ifndef SELFTESTS_MODEL_H
#define SELFTESTS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 model_u128;
typedef __int128 model_i128;

#define MODEL_2_64		(((model_u128)1) << 64)
#define MODEL_MAX_NODES		40
/* Longest render path: every node at most once (the tree has no cycles). */
#define MODEL_MAX_DEPTH		(MODEL_MAX_NODES + 1)
#define MODEL_VGA		(1u << 0)

/* Region kinds, in the order of enum ms_region_kind (rule 1.3). */
enum model_kind {
	MK_CONTAINER,
	MK_IO,
	MK_RAM,
	MK_ROM,
	MK_ROM_DEVICE,
	MK_RAM_DEVICE,
	MK_ALIAS,
	MK_NR,
};

/**
 * struct model_node - mirror of one region
 * @live: the slot holds a region
 * @kind: how it was created
 * @addr: address inside its container
 * @size: 0..2^64
 * @alloc: memory behind a RAM-backed region (resizes beyond it fail), 0
 *	for regions without memory
 * @prio: priority among its siblings
 * @seq: value of the insertion counter when it was last added; with @prio
 *	it gives the subregion order (rule 3.3: priority descending, newest
 *	first among equals)
 * @enabled, @readonly, @nonvolatile, @unmergeable, @romd: own flags
 * @alias: target node, -1 if not an alias
 * @alias_offset: window offset inside @alias
 * @container: container node, -1 if unmapped
 * @log_users: VGA dirty-log users (rule 7.1)
 * @mapped_via_alias: rule 3.2 counter
 */
struct model_node {
	bool live;
	enum model_kind kind;
	uint64_t addr;
	model_u128 size;
	model_u128 alloc;
	int32_t prio;
	uint64_t seq;
	bool enabled, readonly, nonvolatile, unmergeable, romd;
	int alias;
	uint64_t alias_offset;
	int container;
	unsigned int log_users;
	unsigned int mapped_via_alias;
};

/**
 * struct model_range - one expected flat range (rule 5.1)
 */
struct model_range {
	int mr;
	uint64_t start;
	model_u128 size;
	uint64_t off;
	bool ro, nv, um, romd;
	uint8_t mask;
};

/**
 * struct model_view - an expected flat view
 * @root: selected root node (rule 7.3), -1 for "absent" (empty static view)
 * @n: number of ranges
 * @cap: allocated ranges
 * @r: ranges in ascending address order
 */
struct model_view {
	int root;
	size_t n, cap;
	struct model_range *r;
};

/**
 * struct model - the mirrored universe of one context
 * @n: nodes by id
 * @nr: ids in use are below @nr
 * @seq: insertion counter
 * @depth: transaction depth
 * @pending: a topology update is pending (regions-and-flatview.md 3.9)
 */
struct model {
	struct model_node n[MODEL_MAX_NODES];
	int nr;
	uint64_t seq;
	unsigned int depth;
	bool pending;
};

void model_init(struct model *m);

/* Size argument as the API takes it: UINT64_MAX means 2^64 (rule 2.1). */
static inline model_u128 model_size(uint64_t size)
{
	return size == UINT64_MAX ? MODEL_2_64 : (model_u128)size;
}

/*
 * Mutators. Each does what the corresponding library call must do to the
 * tree and returns the value the library call must return. They set
 * m->pending as rule 3.9 says.
 */
int model_new(struct model *m, int id, enum model_kind kind, uint64_t size, int alias,
	      uint64_t alias_offset);
/*
 * Destroy an unmapped region that nothing else references (rule 3.11: its
 * subregions are deleted). Return: 0, or -EBUSY if it is mapped, an alias
 * target, or @keep or below (the roots of the address spaces).
 */
int model_free(struct model *m, int id, int keep);
int model_add(struct model *m, int container, int sub, uint64_t addr, int32_t prio);
int model_del(struct model *m, int container, int sub);
void model_set_address(struct model *m, int id, uint64_t addr);
int model_set_size(struct model *m, int id, uint64_t size);
void model_set_enabled(struct model *m, int id, bool v);
void model_set_readonly(struct model *m, int id, bool v);
void model_set_nonvolatile(struct model *m, int id, bool v);
void model_set_unmergeable(struct model *m, int id, bool v);
int model_set_romd(struct model *m, int id, bool v);
int model_set_alias_offset(struct model *m, int id, uint64_t off);
void model_set_log(struct model *m, int id, bool v);
void model_begin(struct model *m);
/* Return: -EINVAL at depth 0, 1 when this closed the outermost level, 0. */
int model_commit(struct model *m);

/* Would mapping @sub into @container create a cycle (-ELOOP)? */
bool model_would_loop(const struct model *m, int container, int sub);
bool model_is_mapped(const struct model *m, int id);
bool model_terminates(const struct model *m, int id);
uint8_t model_mask(const struct model *m, int id);

/* Subregions of @id in list order (rule 3.3). Return: their number. */
int model_children(const struct model *m, int id, int *out);

/* Flat-view root of an address space rooted at @id (rule 7.3); -1: absent. */
int model_select_root(const struct model *m, int id);

/*
 * Expected flat view of an address space rooted at @as_root (-1: no root).
 * Return: 0, or -ENOMEM.
 */
int model_render(const struct model *m, int as_root, struct model_view *v);

/*
 * Same, the slow way: evaluates every address of [0, @limit) one by one
 * and requires nothing to be rendered at or above @limit (returns -ERANGE
 * otherwise). Used to check the fast version.
 */
int model_render_slow(const struct model *m, int as_root, uint64_t limit,
		      struct model_view *v);

void model_view_free(struct model_view *v);
bool model_range_eq(const struct model_range *a, const struct model_range *b);
bool model_view_eq(const struct model_view *a, const struct model_view *b);

/* splitmix64: the seeded generator of the test. */
static inline uint64_t model_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (bias is irrelevant here). */
static inline uint64_t model_rand_below(uint64_t *state, uint64_t n)
{
	return model_rand(state) % n;
}

#endif /* SELFTESTS_MODEL_H */
