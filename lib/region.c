// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory regions and the region tree (regions-and-flatview.md sections 1-4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

ms_u128 size_from_u64(uint64_t size)
{
	/* rule 2.1: UINT64_MAX stands for 2^64 */
	return size == UINT64_MAX ? MS_SIZE_2_64 : (ms_u128)size;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct ms_region *region_alloc(struct ms_ctx *ctx, const char *name, uint64_t size,
				      enum ms_region_kind kind, struct ms_error *err)
{
	struct ms_region *mr;

	if (!ctx) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "region %s: no context", name ? name : "(null)");
		return NULL;
	}
	mr = calloc(1, sizeof(*mr));
	if (!mr)
		goto err_nomem;
	if (name && !(mr->name = strdup(name))) {
		free(mr);
		goto err_nomem;
	}
	/* rule 1.2 */
	mr->ctx = ctx;
	mr->kind = kind;
	mr->size = size_from_u64(size);
	mr->refcount = 1;
	mr->enabled = true;
	mr->romd_mode = true;
	mr->fd = -1;
	list_init(&mr->node);
	list_init(&mr->subregions);
	list_init(&mr->aliases);
	list_init(&mr->alias_node);
	return mr;

err_nomem:
	errno = ENOMEM;
	ms_error_set(err, -ENOMEM, "region %s: out of memory", name ? name : "(null)");
	return NULL;
}

static void region_free_memory(struct ms_region *mr)
{
	if (mr->host_size)
		munmap(mr->host, mr->host_size);
	if (mr->fd >= 0)
		close(mr->fd);
	mr->host = NULL;
	mr->host_size = 0;
	mr->fd = -1;
}

/*
 * Guest RAM the library maps is sparse by design: a machine of many GiB
 * whose host memory stays untouched except for the pages the guest or the
 * caller writes (the verify sample of `memslot run` is one page in 2 MiB).
 * With transparent huge pages "always" (Debian's default) each such page
 * would fault in a whole 2 MiB page, for the host access and for KVM's
 * fault alike, and a sparse 70 GiB DIMM would need 70 GiB. So the mapping
 * opts out of THP; QEMU opts in (MADV_HUGEPAGE) because its guests use
 * their RAM. A kernel without THP fails the call with EINVAL, which
 * changes nothing.
 */
void region_nohugepage(void *host, size_t size)
{
	int saved = errno;

	madvise(host, size, MADV_NOHUGEPAGE);
	errno = saved;
}

static int region_alloc_memory(struct ms_region *mr, enum ms_ram_backing backing,
			       struct ms_error *err)
{
	const char *name = mr->name ? mr->name : "(null)";
	int flags = MAP_NORESERVE;
	size_t size;
	void *p;
	int ret;

	if (mr->size == 0 || mr->size >= MS_SIZE_2_64 || (uint64_t)mr->size > SIZE_MAX / 2)
		return ms_error_set(err, -EINVAL, "region %s: bad RAM size: 0x%llx", name,
				    (unsigned long long)mr->size);
	size = (size_t)mr->size;
	switch (backing) {
	case MS_RAM_ANON:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	case MS_RAM_SHARED_ANON:
		flags |= MAP_SHARED | MAP_ANONYMOUS;
		break;
	case MS_RAM_MEMFD:
		mr->fd = memfd_create(name, MFD_CLOEXEC);
		if (mr->fd < 0)
			goto err_errno;
		if (ftruncate(mr->fd, size) < 0)
			goto err_errno;
		flags |= MAP_SHARED;
		break;
	default:
		return ms_error_set(err, -EINVAL, "region %s: bad RAM backing: %d", name,
				    (int)backing);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, mr->fd, 0);
	if (p == MAP_FAILED)
		goto err_errno;
	region_nohugepage(p, size);
	mr->host = p;
	mr->host_size = size;
	mr->host_limit = size;
	mr->migratable = true;
	return 0;

err_errno:
	ret = -errno;
	region_free_memory(mr);
	return ms_error_set(err, ret, "region %s: cannot allocate 0x%zx bytes of RAM: %s", name,
			    size, strerror(-ret));
}

static void region_discard(struct ms_region *mr)
{
	int saved = errno;

	region_free_memory(mr);
	free(mr->name);
	free(mr);
	errno = saved;
}

struct ms_region *ms_region__new_container(struct ms_ctx *ctx, const char *name, uint64_t size,
					   struct ms_error *err)
{
	return region_alloc(ctx, name, size, MS_REGION_CONTAINER, err);
}

static void region_set_ops(struct ms_region *mr, const struct ms_region_ops *ops, void *opaque)
{
	if (ops) {
		mr->ops = *ops;
		mr->has_ops = true;
	}
	mr->opaque = opaque;
}

struct ms_region *ms_region__new_io(struct ms_ctx *ctx, const char *name, uint64_t size,
				    const struct ms_region_ops *ops, void *opaque,
				    struct ms_error *err)
{
	struct ms_region *mr = region_alloc(ctx, name, size, MS_REGION_IO, err);

	if (!mr)
		return NULL;
	mr->terminates = true;
	region_set_ops(mr, ops, opaque);
	return mr;
}

static struct ms_region *new_ram_kind(struct ms_ctx *ctx, const char *name, uint64_t size,
				      enum ms_region_kind kind, enum ms_ram_backing backing,
				      struct ms_error *err)
{
	struct ms_region *mr = region_alloc(ctx, name, size, kind, err);
	int ret;

	if (!mr)
		return NULL;
	mr->terminates = true;
	mr->ram = kind != MS_REGION_ROM_DEVICE;
	mr->rom_device = kind == MS_REGION_ROM_DEVICE;
	mr->readonly = kind == MS_REGION_ROM;
	ret = region_alloc_memory(mr, backing, err);
	if (ret) {
		region_discard(mr);
		errno = -ret;
		return NULL;
	}
	return mr;
}

struct ms_region *ms_region__new_ram(struct ms_ctx *ctx, const char *name, uint64_t size,
				     enum ms_ram_backing backing, struct ms_error *err)
{
	return new_ram_kind(ctx, name, size, MS_REGION_RAM, backing, err);
}

struct ms_region *ms_region__new_rom(struct ms_ctx *ctx, const char *name, uint64_t size,
				     struct ms_error *err)
{
	return new_ram_kind(ctx, name, size, MS_REGION_ROM, MS_RAM_ANON, err);
}

struct ms_region *ms_region__new_rom_device(struct ms_ctx *ctx, const char *name, uint64_t size,
					    const struct ms_region_ops *ops, void *opaque,
					    struct ms_error *err)
{
	struct ms_region *mr = new_ram_kind(ctx, name, size, MS_REGION_ROM_DEVICE, MS_RAM_ANON,
					    err);

	if (mr)
		region_set_ops(mr, ops, opaque);
	return mr;
}

static struct ms_region *new_ptr_kind(struct ms_ctx *ctx, const char *name, uint64_t size,
				      void *host, enum ms_region_kind kind, struct ms_error *err)
{
	struct ms_region *mr;

	if (!host) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "region %s: no host memory", name ? name : "(null)");
		return NULL;
	}
	mr = region_alloc(ctx, name, size, kind, err);
	if (!mr)
		return NULL;
	mr->terminates = true;
	mr->ram = true;
	mr->ram_device = kind == MS_REGION_RAM_DEVICE;
	mr->host = host;
	mr->host_limit = mr->size;	/* the caller gave this much */
	return mr;
}

struct ms_region *ms_region__new_ram_ptr(struct ms_ctx *ctx, const char *name, uint64_t size,
					 void *host, struct ms_error *err)
{
	return new_ptr_kind(ctx, name, size, host, MS_REGION_RAM, err);
}

struct ms_region *ms_region__new_ram_device(struct ms_ctx *ctx, const char *name, uint64_t size,
					    void *host, const struct ms_region_ops *ops,
					    void *opaque, struct ms_error *err)
{
	struct ms_region *mr = new_ptr_kind(ctx, name, size, host, MS_REGION_RAM_DEVICE, err);

	if (mr)
		region_set_ops(mr, ops, opaque);
	return mr;
}

struct ms_region *ms_region__new_alias(struct ms_ctx *ctx, const char *name,
				       struct ms_region *target, uint64_t offset, uint64_t size,
				       struct ms_error *err)
{
	struct ms_region *mr;

	if (!target || target->ctx != ctx) {
		errno = EINVAL;
		ms_error_set(err, -EINVAL, "alias %s: %s target", name ? name : "(null)",
			     target ? "foreign" : "no");
		return NULL;
	}
	mr = region_alloc(ctx, name, size, MS_REGION_ALIAS, err);
	if (!mr)
		return NULL;
	mr->alias = ms_region__ref(target);
	mr->alias_offset = offset;
	list_add_before(&mr->alias_node, &target->aliases);
	return mr;
}

struct ms_region *ms_region__ref(struct ms_region *mr)
{
	if (mr)
		mr->refcount++;
	return mr;
}

static int region_del_subregion(struct ms_region *container, struct ms_region *sub);

void ms_region__unref(struct ms_region *mr)
{
	struct ms_ctx *ctx;

	if (!mr || --mr->refcount)
		return;
	ctx = mr->ctx;
	/* rule 3.11: a region being freed has no container (it held a ref) */
	if (!list_empty(&mr->subregions)) {
		/* keep @mr alive while its children go */
		mr->refcount = 1;
		ms_ctx__begin(ctx);
		while (!list_empty(&mr->subregions))
			region_del_subregion(mr, list_entry(mr->subregions.next,
							    struct ms_region, node));
		ms_ctx__commit(ctx);
		if (--mr->refcount)
			return;
	}
	list_del(&mr->alias_node);
	ms_region__unref(mr->alias);
	free(mr->groups);
	free(mr->ioeventfds);
	free(mr->coalesced);
	free(mr->owner);
	free(mr->parent);
	region_discard(mr);
}

/* Binary search in the prio-desc group array: index of the first group whose
 * priority is <= @prio (nr_groups if none). */
static unsigned int group_lower_bound(const struct ms_region *c, int32_t prio)
{
	unsigned int lo = 0, hi = c->nr_groups;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (c->groups[mid].prio > prio)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * rule 3.3: insert before the first element whose priority is lower than or
 * equal to the new one's, i.e. at the head of the run of equal priority or,
 * failing that, before the first lower run.
 */
static int link_subregion(struct ms_region *c, struct ms_region *sub)
{
	unsigned int i = group_lower_bound(c, sub->priority);
	struct prio_group *g;

	if (i < c->nr_groups && c->groups[i].prio == sub->priority) {
		g = &c->groups[i];
		list_add_before(&sub->node, &g->first->node);
		g->first = sub;
		g->count++;
		return 0;
	}
	if (c->nr_groups == c->alloc_groups) {
		unsigned int n = c->alloc_groups ? 2 * c->alloc_groups : 4;
		struct prio_group *ng = realloc(c->groups, n * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		c->groups = ng;
		c->alloc_groups = n;
	}
	if (i < c->nr_groups)
		list_add_before(&sub->node, &c->groups[i].first->node);
	else
		list_add_before(&sub->node, &c->subregions);
	memmove(&c->groups[i + 1], &c->groups[i], (c->nr_groups - i) * sizeof(*c->groups));
	c->groups[i] = (struct prio_group){ .prio = sub->priority, .first = sub, .count = 1 };
	c->nr_groups++;
	return 0;
}

static void unlink_subregion(struct ms_region *c, struct ms_region *sub)
{
	unsigned int i = group_lower_bound(c, sub->priority);
	struct prio_group *g = &c->groups[i];

	if (--g->count == 0) {
		memmove(g, g + 1, (c->nr_groups - i - 1) * sizeof(*g));
		c->nr_groups--;
	} else if (g->first == sub) {
		g->first = list_entry(sub->node.next, struct ms_region, node);
	}
	list_del(&sub->node);
}

/* --- the subregions by address ------------------------------------------ */

static ms_u128 sub_end(const struct ms_region *r)
{
	return (ms_u128)r->addr + r->size;
}

static void idx_pull(struct ms_region *t)
{
	ms_u128 m = sub_end(t);

	if (t->idx_l && t->idx_l->idx_max_end > m)
		m = t->idx_l->idx_max_end;
	if (t->idx_r && t->idx_r->idx_max_end > m)
		m = t->idx_r->idx_max_end;
	t->idx_max_end = m;
}

static bool idx_before(const struct ms_region *a, const struct ms_region *b)
{
	return a->addr < b->addr || (a->addr == b->addr && a->seq < b->seq);
}

/* Split @t into the nodes before @key (*l) and the others (*r). */
static void idx_split(struct ms_region *t, const struct ms_region *key, struct ms_region **l,
		      struct ms_region **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (idx_before(t, key)) {
		idx_split(t->idx_r, key, &t->idx_r, r);
		*l = t;
		idx_pull(t);
	} else {
		idx_split(t->idx_l, key, l, &t->idx_l);
		*r = t;
		idx_pull(t);
	}
}

static struct ms_region *idx_merge(struct ms_region *a, struct ms_region *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->idx_prio > b->idx_prio) {
		a->idx_r = idx_merge(a->idx_r, b);
		idx_pull(a);
		return a;
	}
	b->idx_l = idx_merge(a, b->idx_l);
	idx_pull(b);
	return b;
}

static void idx_insert(struct ms_region *c, struct ms_region *sub)
{
	struct ms_region *l, *r;
	uint64_t x = sub->seq * 0x9e3779b97f4a7c15ull;

	sub->idx_prio = (uint32_t)(x >> 32);
	sub->idx_l = sub->idx_r = NULL;
	sub->idx_max_end = sub_end(sub);
	idx_split(c->sub_index, sub, &l, &r);
	c->sub_index = idx_merge(idx_merge(l, sub), r);
}

static struct ms_region *idx_erase(struct ms_region *t, struct ms_region *sub)
{
	if (t == sub)
		return idx_merge(t->idx_l, t->idx_r);
	if (idx_before(sub, t))
		t->idx_l = idx_erase(t->idx_l, sub);
	else
		t->idx_r = idx_erase(t->idx_r, sub);
	idx_pull(t);
	return t;
}

struct subs_acc {
	struct ms_region **v;
	size_t nr, cap;
	int err;
};

static void idx_collect(struct ms_region *t, ms_u128 lo, ms_u128 hi, struct subs_acc *a)
{
	while (t && t->idx_max_end > lo && !a->err) {
		idx_collect(t->idx_l, lo, hi, a);
		if (t->addr >= hi)
			return;
		if (t->enabled && sub_end(t) > lo && t->size) {
			if (a->nr == a->cap) {
				size_t n = a->cap ? 2 * a->cap : 16;
				struct ms_region **v = realloc(a->v, n * sizeof(*v));

				if (!v) {
					a->err = -ENOMEM;
					return;
				}
				a->v = v;
				a->cap = n;
			}
			a->v[a->nr++] = t;
		}
		t = t->idx_r;
	}
}

static int render_order_cmp(const void *x, const void *y)
{
	const struct ms_region *a = *(struct ms_region *const *)x;
	const struct ms_region *b = *(struct ms_region *const *)y;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	return a->seq > b->seq ? -1 : a->seq < b->seq;
}

long region_subs_in(const struct ms_region *c, ms_u128 lo, ms_u128 hi, struct ms_region ***v,
		    size_t *cap)
{
	struct subs_acc a = { .v = *v, .cap = *cap };

	idx_collect(c->sub_index, lo, hi, &a);
	*v = a.v;
	*cap = a.cap;
	if (a.err)
		return a.err;
	if (a.nr > 1)
		qsort(a.v, a.nr, sizeof(*a.v), render_order_cmp);
	return (long)a.nr;
}

static void alias_chain_mapped(struct ms_region *sub, int delta)
{
	for (struct ms_region *a = sub->alias; a; a = a->alias)
		a->mapped_via_alias += delta;
}

/* Is @needle reachable from @mr through subregion and alias-target edges? */
static bool region_reaches(const struct ms_region *mr, const struct ms_region *needle,
			   unsigned int depth)
{
	struct list_head *pos;

	if (mr == needle)
		return true;
	if (depth > 4096)
		return true;	/* absurd depth: treat as a loop */
	if (mr->alias && region_reaches(mr->alias, needle, depth + 1))
		return true;
	list_for_each(pos, &mr->subregions)
		if (region_reaches(list_entry(pos, struct ms_region, node), needle, depth + 1))
			return true;
	return false;
}

static const char *rname(const struct ms_region *mr)
{
	return mr->name ? mr->name : "(null)";
}

int ms_region__add_subregion_overlap(struct ms_region *container, uint64_t offset,
				     struct ms_region *sub, int32_t priority,
				     struct ms_error *err)
{
	int ret;

	if (!container || !sub || container->ctx != sub->ctx)
		return ms_error_set(err, -EINVAL, "add_subregion: bad arguments");
	if (sub->container)
		return ms_error_set(err, -EBUSY, "region %s: already mapped in %s", rname(sub),
				    rname(sub->container));
	/* QEMU would recurse forever rendering a cycle; refuse to build one. */
	if (region_reaches(sub, container, 0))
		return ms_error_set(err, -ELOOP, "region %s: mapping it into %s makes a loop",
				    rname(sub), rname(container));

	sub->priority = priority;
	ret = link_subregion(container, sub);
	if (ret)
		return ms_error_set(err, ret, "region %s: out of memory", rname(sub));
	ms_ctx__begin(container->ctx);
	/* a root's view moves with its address */
	if (sub->view_root && offset != sub->addr)
		container->ctx->full_update = true;
	ms_region__ref(sub);
	sub->container = container;
	sub->addr = offset;
	sub->seq = ++container->ctx->link_seq;
	idx_insert(container, sub);
	container->nr_subregions++;
	alias_chain_mapped(sub, 1);
	if (container->enabled && sub->enabled)	/* rule 3.9 */
		ctx_mark_region(sub);
	ms_ctx__commit(container->ctx);
	return 0;
}

int ms_region__add_subregion(struct ms_region *container, uint64_t offset,
			     struct ms_region *sub, struct ms_error *err)
{
	return ms_region__add_subregion_overlap(container, offset, sub, 0, err);
}

static int region_del_subregion(struct ms_region *container, struct ms_region *sub)
{
	ms_ctx__begin(container->ctx);
	if (container->enabled && sub->enabled)
		ctx_mark_region(sub);
	unlink_subregion(container, sub);
	container->sub_index = idx_erase(container->sub_index, sub);
	container->nr_subregions--;
	sub->container = NULL;
	alias_chain_mapped(sub, -1);
	ms_ctx__commit(container->ctx);
	ms_region__unref(sub);
	return 0;
}

int ms_region__del_subregion(struct ms_region *container, struct ms_region *sub,
			     struct ms_error *err)
{
	if (!container || !sub || sub->container != container)
		return ms_error_set(err, -ENOENT, "region %s: not a subregion of %s",
				    sub ? rname(sub) : "(null)",
				    container ? rname(container) : "(null)");
	return region_del_subregion(container, sub);
}

void ms_region__set_address(struct ms_region *mr, uint64_t addr)
{
	struct ms_region *c = mr->container;

	if (addr == mr->addr || !c) {
		/* no update, as in QEMU; but a root's view moves with it when one
		 * is rendered next */
		if (addr != mr->addr && mr->view_root)
			mr->ctx->full_update = true;
		mr->addr = addr;
		return;
	}
	/* rule 3.7: delete and re-add, so @mr becomes the newest of its run */
	ms_ctx__begin(mr->ctx);
	ms_region__ref(mr);
	region_del_subregion(c, mr);
	if (ms_region__add_subregion_overlap(c, addr, mr, mr->priority, NULL)) {
		/* only -ENOMEM for a new priority run; cannot happen when re-adding to
		 * a run that existed a moment ago unless it was the last of it */
		pr_warn("memslot: region %s: cannot re-add at 0x%llx\n", rname(mr),
			(unsigned long long)addr);
	}
	ms_region__unref(mr);
	ms_ctx__commit(mr->ctx);
}

int ms_region__set_size(struct ms_region *mr, uint64_t size, struct ms_error *err)
{
	ms_u128 s = size_from_u64(size);

	if (s == mr->size)
		return 0;
	if (mr->host && s > mr->host_limit)
		return ms_error_set(err, -EINVAL, "region %s: size 0x%llx exceeds its memory 0x%llx",
				    rname(mr), (unsigned long long)size,
				    (unsigned long long)mr->host_limit);
	ms_ctx__begin(mr->ctx);
	ctx_mark_region(mr);
	if (mr->container)
		mr->container->sub_index = idx_erase(mr->container->sub_index, mr);
	mr->size = s;
	if (mr->container)
		idx_insert(mr->container, mr);
	ctx_mark_region(mr);
	ms_ctx__commit(mr->ctx);
	return 0;
}

/* rule 3.9: attribute changes dirty the topology when the region is enabled */
static void attr_changed(struct ms_region *mr)
{
	ms_ctx__begin(mr->ctx);
	if (mr->enabled)
		ctx_mark_region(mr);
	ms_ctx__commit(mr->ctx);
}

int ms_region__set_alias_offset(struct ms_region *mr, uint64_t offset, struct ms_error *err)
{
	if (!mr->alias)
		return ms_error_set(err, -EINVAL, "region %s: not an alias", rname(mr));
	if (offset != mr->alias_offset) {
		mr->alias_offset = offset;
		attr_changed(mr);
	}
	return 0;
}

void ms_region__set_enabled(struct ms_region *mr, bool enabled)
{
	if (enabled == mr->enabled)
		return;
	ms_ctx__begin(mr->ctx);
	ctx_mark_region(mr);
	mr->enabled = enabled;
	ctx_mark_region(mr);
	ms_ctx__commit(mr->ctx);
}

#define DEFINE_FLAG_SETTER(flag)						\
void ms_region__set_##flag(struct ms_region *mr, bool flag)			\
{										\
	if (mr->flag != flag) {							\
		mr->flag = flag;						\
		attr_changed(mr);						\
	}									\
}
DEFINE_FLAG_SETTER(readonly)
DEFINE_FLAG_SETTER(nonvolatile)
DEFINE_FLAG_SETTER(unmergeable)

int ms_region__set_romd(struct ms_region *mr, bool romd, struct ms_error *err)
{
	if (!mr->rom_device)
		return ms_error_set(err, -EINVAL, "region %s: not a ROM device", rname(mr));
	if (mr->romd_mode != romd) {
		mr->romd_mode = romd;
		attr_changed(mr);
	}
	return 0;
}

void ms_region__set_log(struct ms_region *mr, bool log)
{
	/* listeners-and-transactions.md 7.1: only 0->1 and 1->0 change the bit */
	if (log) {
		if (mr->vga_log_count++)
			return;
		mr->vga_log_mask = MS_DIRTY_VGA;
	} else {
		if (!mr->vga_log_count || --mr->vga_log_count)
			return;
		mr->vga_log_mask = 0;
	}
	attr_changed(mr);
}

void ms_region__set_migratable(struct ms_region *mr, bool migratable)
{
	if (mr->migratable == migratable)
		return;
	mr->migratable = migratable;
	if (mr->ctx->global_dirty)
		attr_changed(mr);
}

int ms_region__set_owner(struct ms_region *mr, const char *owner, const char *parent)
{
	char *o = dup_or_null(owner), *p = dup_or_null(parent);

	if ((owner && !o) || (parent && !p)) {
		free(o);
		free(p);
		return -ENOMEM;
	}
	free(mr->owner);
	free(mr->parent);
	mr->owner = o;
	mr->parent = p;
	return 0;
}

uint8_t region_dirty_log_mask(const struct ms_region *mr)
{
	uint8_t mask = mr->vga_log_mask;

	/* The CODE bit belongs to TCG, which libmemslot does not model. */
	if (mr->ctx->global_dirty && (mr->ram || mr->rom_device) && mr->migratable)
		mask |= MS_DIRTY_MIGRATION;
	return mask;
}

const struct ms_region *region_final_target(const struct ms_region *mr)
{
	while (mr->alias)
		mr = mr->alias;
	return mr;
}

const char *ms_region__name(const struct ms_region *mr) { return mr->name; }
const char *ms_region__owner(const struct ms_region *mr) { return mr->owner; }
const char *ms_region__parent(const struct ms_region *mr) { return mr->parent; }
enum ms_region_kind ms_region__kind(const struct ms_region *mr) { return mr->kind; }
ms_u128 ms_region__size128(const struct ms_region *mr) { return mr->size; }
uint64_t ms_region__addr(const struct ms_region *mr) { return mr->addr; }
int32_t ms_region__priority(const struct ms_region *mr) { return mr->priority; }
struct ms_region *ms_region__container(const struct ms_region *mr) { return mr->container; }
struct ms_region *ms_region__alias(const struct ms_region *mr) { return mr->alias; }
uint64_t ms_region__alias_offset(const struct ms_region *mr) { return mr->alias_offset; }
bool ms_region__enabled(const struct ms_region *mr) { return mr->enabled; }
bool ms_region__readonly(const struct ms_region *mr) { return mr->readonly; }
bool ms_region__nonvolatile(const struct ms_region *mr) { return mr->nonvolatile; }
bool ms_region__unmergeable(const struct ms_region *mr) { return mr->unmergeable; }
bool ms_region__terminates(const struct ms_region *mr) { return mr->terminates; }
bool ms_region__is_ram(const struct ms_region *mr) { return mr->ram; }
bool ms_region__is_rom(const struct ms_region *mr) { return mr->ram && mr->readonly; }
bool ms_region__is_romd(const struct ms_region *mr) { return mr->rom_device && mr->romd_mode; }
bool ms_region__is_rom_device(const struct ms_region *mr) { return mr->rom_device; }
bool ms_region__is_ram_device(const struct ms_region *mr) { return mr->ram_device; }
bool ms_region__romd_mode(const struct ms_region *mr) { return mr->romd_mode; }
void *ms_region__host_ptr(const struct ms_region *mr) { return mr->host; }
int ms_region__fd(const struct ms_region *mr) { return mr->fd; }
uint8_t ms_region__dirty_log_mask(const struct ms_region *mr) { return region_dirty_log_mask(mr); }

uint64_t ms_region__size(const struct ms_region *mr)
{
	/* rule 2.2 */
	return mr->size == MS_SIZE_2_64 ? UINT64_MAX : (uint64_t)mr->size;
}

bool ms_region__is_mapped(const struct ms_region *mr)
{
	return mr->container || mr->mapped_via_alias > 0;	/* rule 3.10 */
}

const char *ms_region__type_str(const struct ms_region *mr)
{
	const struct ms_region *t = region_final_target(mr);

	/* qemu-mtree-format.md 4.1 */
	if (t->ram_device)
		return "ramd";
	if (t->rom_device && t->romd_mode)
		return "romd";
	if (t->ram && t->readonly)
		return "rom";
	if (t->ram)
		return "ram";
	return "i/o";
}

int ms_region__for_each_subregion(const struct ms_region *mr,
				  int (*fn)(struct ms_region *sub, void *opaque), void *opaque)
{
	struct list_head *pos;
	int ret;

	list_for_each(pos, &mr->subregions) {
		ret = fn(list_entry(pos, struct ms_region, node), opaque);
		if (ret)
			return ret;
	}
	return 0;
}

/* rule 4.1 of listeners-and-transactions.md: the sort order of ioeventfds */
int ioeventfd_cmp(const struct ioeventfd *a, const struct ioeventfd *b)
{
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	if (a->match_data != b->match_data)
		return a->match_data ? 1 : -1;
	if (a->match_data && a->data != b->data)
		return a->data < b->data ? -1 : 1;
	if (a->notifier != b->notifier)
		return (uintptr_t)a->notifier < (uintptr_t)b->notifier ? -1 : 1;
	return 0;
}

int ms_region__add_eventfd(struct ms_region *mr, uint64_t addr, uint32_t size, bool match_data,
			   uint64_t data, void *notifier, struct ms_error *err)
{
	struct ioeventfd e = { addr, size, match_data, data, notifier }, *n;
	unsigned int i;

	/* Device endianness is little endian here, as is the host: no swap. */
	n = realloc(mr->ioeventfds, (mr->nr_ioeventfds + 1) * sizeof(*n));
	if (!n)
		return ms_error_set(err, -ENOMEM, "region %s: out of memory", rname(mr));
	mr->ioeventfds = n;
	for (i = 0; i < mr->nr_ioeventfds; i++)
		if (ioeventfd_cmp(&e, &n[i]) < 0)
			break;
	memmove(&n[i + 1], &n[i], (mr->nr_ioeventfds - i) * sizeof(*n));
	n[i] = e;
	mr->nr_ioeventfds++;
	ms_ctx__begin(mr->ctx);
	if (mr->enabled)
		ctx_mark_ioeventfd(mr->ctx);
	ms_ctx__commit(mr->ctx);
	return 0;
}

int ms_region__del_eventfd(struct ms_region *mr, uint64_t addr, uint32_t size, bool match_data,
			   uint64_t data, void *notifier, struct ms_error *err)
{
	unsigned int i;

	/* rule 4.2: size 0 on either side matches any size */
	for (i = 0; i < mr->nr_ioeventfds; i++) {
		const struct ioeventfd *e = &mr->ioeventfds[i];

		if (e->addr != addr)
			continue;
		if (!e->size || !size)
			break;
		if (e->size == size && e->match_data == match_data &&
		    (!match_data || e->data == data) && e->notifier == notifier)
			break;
	}
	if (i == mr->nr_ioeventfds)
		return ms_error_set(err, -ENOENT, "region %s: no ioeventfd at 0x%llx size %u",
				    rname(mr), (unsigned long long)addr, size);
	memmove(&mr->ioeventfds[i], &mr->ioeventfds[i + 1],
		(mr->nr_ioeventfds - i - 1) * sizeof(*mr->ioeventfds));
	mr->nr_ioeventfds--;
	ms_ctx__begin(mr->ctx);
	if (mr->enabled)
		ctx_mark_ioeventfd(mr->ctx);
	ms_ctx__commit(mr->ctx);
	return 0;
}

int ms_region__add_coalescing(struct ms_region *mr, uint64_t offset, uint64_t size)
{
	struct coalesced *n = realloc(mr->coalesced, (mr->nr_coalesced + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	mr->coalesced = n;
	n[mr->nr_coalesced] = (struct coalesced){ offset, size_from_u64(size) };
	mr->nr_coalesced++;
	ctx_coalesced_notify(mr, &n[mr->nr_coalesced - 1], true);
	return 0;
}

void ms_region__clear_coalescing(struct ms_region *mr)
{
	for (unsigned int i = 0; i < mr->nr_coalesced; i++)
		ctx_coalesced_notify(mr, &mr->coalesced[i], false);
	free(mr->coalesced);
	mr->coalesced = NULL;
	mr->nr_coalesced = 0;
}

void ms_region__set_coalescing(struct ms_region *mr)
{
	ms_region__clear_coalescing(mr);
	ms_region__add_coalescing(mr, 0, ms_region__size(mr));
}

/*
 * A region of @kind whose RAM exists only as a description (imported
 * dumps): flags as its constructor would set them, no host memory.
 */
struct ms_region *region_new_described(struct ms_ctx *ctx, const char *name, uint64_t size,
				       enum ms_region_kind kind, struct ms_error *err)
{
	struct ms_region *mr = region_alloc(ctx, name, size, kind, err);

	if (!mr)
		return NULL;
	mr->terminates = kind != MS_REGION_CONTAINER && kind != MS_REGION_ALIAS;
	mr->ram = kind == MS_REGION_RAM || kind == MS_REGION_ROM || kind == MS_REGION_RAM_DEVICE;
	mr->rom_device = kind == MS_REGION_ROM_DEVICE;
	mr->ram_device = kind == MS_REGION_RAM_DEVICE;
	mr->readonly = kind == MS_REGION_ROM;
	mr->migratable = mr->ram || mr->rom_device;
	return mr;
}
