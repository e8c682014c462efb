// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot run's checks after every step (run.c's header comment): the
 * guest verifies every slot (and RAM without one), probes MMIO and a ROM
 * write, the kernel's table is compared with the slot map, the dirty log
 * with what the guest wrote, the accounting after a failed step with the
 * one before; the per-slot results are the columns of the memslot table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "plan.h"
#include "run.h"
#include "scenario.h"

/* --- per-slot notes ---------------------------------------------------------- */

static struct slot_note *note_of(struct run *r, uint32_t slot, bool grow)
{
	if (slot >= r->nr_notes) {
		size_t n = r->nr_notes ? r->nr_notes : 64;
		struct slot_note *a;

		if (!grow)
			return NULL;
		while (n <= slot)
			n *= 2;
		a = realloc(r->notes, n * sizeof(*a));
		if (!a)
			return NULL;
		memset(&a[r->nr_notes], 0, (n - r->nr_notes) * sizeof(*a));
		r->notes = a;
		r->nr_notes = n;
	}
	return &r->notes[slot];
}

/* The note of @s if it was taken for this very slot (same id and range). */
static const struct slot_note *note_for(const struct run *r, const struct ms_memslot *s)
{
	const struct slot_note *n;

	if (s->as_id || s->slot >= r->nr_notes)
		return NULL;
	n = &r->notes[s->slot];
	return n->set && n->gpa == s->gpa && n->size == s->size ? n : NULL;
}

static const char *col_backend(const struct ms_memslot *s, void *opaque)
{
	static const char prefix[] = "obj path=/objects/";
	const char *owner = s->mr ? ms_region__owner(s->mr) : NULL;

	(void)opaque;
	if (!owner || strncmp(owner, prefix, sizeof(prefix) - 1))
		return NULL;
	return owner + sizeof(prefix) - 1;
}

static int64_t col_verified(const struct ms_memslot *s, void *opaque)
{
	const struct slot_note *n = note_for(opaque, s);

	return n ? n->verified : -1;
}

static int64_t col_dirty(const struct ms_memslot *s, void *opaque)
{
	const struct slot_note *n = note_for(opaque, s);

	return n ? n->dirty : -1;
}

struct memslot_cols run_cols(struct run *r)
{
	return (struct memslot_cols){
		.backend = col_backend,
		.verified = col_verified,
		.dirty = r->p.dirty_log ? col_dirty : NULL,
		.opaque = r,
	};
}

/* --- checks ------------------------------------------------------------------ */

void run_check(struct run *r, struct step *s, bool ok)
{
	s->checks++;
	r->checks++;
	if (!ok) {
		s->failed++;
		r->failed++;
	}
}

/* Append @e (@elem bytes) to *@v; on failure set *@err. Return: 0, or 1 to stop a walk. */
static int vec_push(void **v, size_t *nr, size_t *cap, int *err, const void *e, size_t elem)
{
	if (*nr == *cap) {
		size_t n = *cap ? 2 * *cap : 64;
		void *p = realloc(*v, n * elem);

		if (!p) {
			*err = -ENOMEM;
			return 1;
		}
		*v = p;
		*cap = n;
	}
	memcpy((char *)*v + (*nr)++ * elem, e, elem);
	return 0;
}

int run_collect_slot(const struct ms_memslot *s, void *opaque)
{
	struct slot_list *l = opaque;

	return vec_push((void **)&l->s, &l->nr, &l->cap, &l->err, s, sizeof(*s));
}

/* slots as rows of the kernel's table, to compare the slot map with it */
struct kslot_list {
	struct ms_kvm_slot *s;
	size_t nr, cap;
	int err;
};

static int collect_kslot(const struct ms_kvm_slot *s, void *opaque)
{
	struct kslot_list *l = opaque;

	return vec_push((void **)&l->s, &l->nr, &l->cap, &l->err, s, sizeof(*s));
}

/* A slot of the slot map as a row of the kernel's table. */
static int collect_lib_row(const struct ms_memslot *s, void *opaque)
{
	struct ms_kvm_slot row = {
		.as_id = s->as_id, .slot = s->slot, .flags = s->flags,
		.gpa = s->gpa, .size = s->size, .hva = (uint64_t)(uintptr_t)s->hva,
	};

	return collect_kslot(&row, opaque);
}

int run_add_diff(char ***diffs, size_t *nr, const char *fmt, ...)
{
	char **n = realloc(*diffs, (*nr + 1) * sizeof(*n));
	va_list ap;
	int ret;

	if (!n)
		return -ENOMEM;
	*diffs = n;
	va_start(ap, fmt);
	ret = vasprintf(&n[*nr], fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	(*nr)++;
	return 0;
}

/* qsort() order of the slot tables: address space, then slot id */
static int cmp_kslot(const void *a, const void *b)
{
	const struct ms_kvm_slot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

int run_diff_slots(struct run *r, const struct ms_kvm_slot *other, size_t nr, const char *who,
		   const char *tag, size_t *lib_slots, char ***diffs, size_t *nr_diffs)
{
	struct kslot_list l = { 0 };
	size_t i = 0, j = 0;
	int ret = 0;

	struct ms_slotmap *maps[2];
	size_t nr_maps = machine_kvm_maps(r->p.m, maps);

	for (size_t m = 0; m < nr_maps; m++)
		ms_slotmap__for_each(maps[m], collect_lib_row, &l);
	if (l.err) {
		free(l.s);
		return l.err;
	}
	qsort(l.s, l.nr, sizeof(*l.s), cmp_kslot);
	*lib_slots = l.nr;
	while ((i < l.nr || j < nr) && !ret) {
		const struct ms_kvm_slot *a = i < l.nr ? &l.s[i] : NULL;
		const struct ms_kvm_slot *b = j < nr ? &other[j] : NULL;
		int c = !a ? 1 : !b ? -1 : cmp_kslot(a, b);

		if (c < 0) {
			ret = run_add_diff(diffs, nr_diffs, "slot %u as %u: 0x%" PRIx64 "+0x%" PRIx64
					   " in the library only", a->slot, a->as_id, a->gpa,
					   a->size);
			i++;
		} else if (c > 0) {
			ret = run_add_diff(diffs, nr_diffs, "slot %u as %u: 0x%" PRIx64 "+0x%" PRIx64
					   " in %s only", b->slot, b->as_id, b->gpa, b->size, who);
			j++;
		} else {
			if (a->gpa != b->gpa || a->size != b->size || a->flags != b->flags ||
			    a->hva != b->hva)
				ret = run_add_diff(diffs, nr_diffs, "slot %u as %u: library 0x%" PRIx64
						   "+0x%" PRIx64 " flags 0x%x hva %p, %s 0x%" PRIx64
						   "+0x%" PRIx64 " flags 0x%x hva 0x%" PRIx64,
						   a->slot, a->as_id, a->gpa, a->size, a->flags,
						   (void *)(uintptr_t)a->hva, tag, b->gpa, b->size,
						   b->flags, b->hva);
			i++;
			j++;
		}
	}
	free(l.s);
	return ret;
}

/* The kernel's table (what every successful ioctl left) against the slot map. */
int run_compare_kernel(struct run *r, struct step *s)
{
	struct kslot_list k = { 0 };
	size_t lib_slots = 0;
	int ret;

	ms_kvm__for_each_slot(r->kvm, collect_kslot, &k);
	if (k.err) {
		free(k.s);
		return k.err;
	}
	qsort(k.s, k.nr, sizeof(*k.s), cmp_kslot);
	s->kernel_slots = (unsigned int)k.nr;
	ret = run_diff_slots(r, k.s, k.nr, "the kernel", "kernel", &lib_slots, &s->diffs,
			     &s->nr_diffs);
	s->lib_slots = (unsigned int)lib_slots;
	free(k.s);
	return ret;
}

/* Writable RAM with host memory: what the guest can verify (vmm.c's rule). */
static bool plain_ram(const struct ms_flat_range *fr)
{
	return ms_region__is_ram(fr->mr) && !ms_region__readonly(fr->mr) && !fr->readonly &&
	       !ms_region__is_ram_device(fr->mr) && !ms_region__is_rom_device(fr->mr) &&
	       ms_region__host_ptr(fr->mr);
}

/*
 * Page-aligned plain RAM of the flat view that no slot covers: the guest's
 * accesses there would leave KVM. Collected to be verified too (the VMM
 * counts such accesses as unslotted).
 */
static int uncovered_ranges(struct run *r, const struct slot_list *l, struct vmm_range **out,
			    size_t *nr, uint64_t *bytes)
{
	struct ms_flatview *fv = ms_flatview__ref(ms_as__flatview(ms_machine__memory_as(r->p.m)));
	size_t n = ms_flatview__nr_ranges(fv), cap = 0;
	int ret = 0;

	*out = NULL;
	*nr = 0;
	*bytes = 0;
	for (size_t i = 0; i < n && !ret; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t a, e;

		if (!plain_ram(fr) || fr->size >= MS_SIZE_2_64)
			continue;
		a = (fr->start + 4095) & ~4095ULL;
		e = (fr->start + (uint64_t)fr->size) & ~4095ULL;
		while (a < e) {
			uint64_t next = e;
			bool covered = false;

			/* the slot holding @a, else the first slot starting above it */
			for (size_t k = 0; k < l->nr; k++) {
				const struct ms_memslot *s = &l->s[k];

				if (s->as_id)
					continue;
				if (s->gpa <= a && a < s->gpa + s->size) {
					covered = true;
					next = s->gpa + s->size < e ? s->gpa + s->size : e;
					break;
				}
				if (s->gpa > a && s->gpa < next)
					next = s->gpa;
			}
			if (!covered) {
				if (*nr == cap) {
					struct vmm_range *v = realloc(*out, (cap = cap ? 2 * cap : 8) *
								      sizeof(*v));

					if (!v) {
						ret = -ENOMEM;
						break;
					}
					*out = v;
				}
				(*out)[(*nr)++] = (struct vmm_range){ a, next - a };
				*bytes += next - a;
			}
			a = next;
		}
	}
	ms_flatview__unref(fv);
	return ret;
}

static void add_verify(struct step *s, const struct vmm_verify_result *v)
{
	s->pages += v->pages;
	s->ram_bytes += v->ram_bytes;
	s->guest_mismatches += v->guest_mismatches;
	s->host_mismatches += v->host_mismatches;
	if (v->first_bad_gpa != UINT64_MAX && s->first_bad_gpa == UINT64_MAX) {
		s->first_bad_gpa = v->first_bad_gpa;
		s->expected = v->expected;
		s->found = v->found;
	}
	if (v->unslotted && !s->unslotted)
		s->first_unslotted_gpa = v->first_unslotted_gpa;
	s->unslotted += v->unslotted;
	s->verify_ns += v->ns;
	s->exits += v->exits;
}

static uint64_t popcount_words(const uint64_t *w, size_t n)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += (uint64_t)__builtin_popcountll(w[i]);
	return c;
}

/*
 * Verify every slot's range (one VMM call per slot, for the per-slot page
 * counts), then the uncovered RAM, then collect the dirty logs.
 */
int run_verify_all(struct run *r, struct step *s)
{
	struct slot_list l = { 0 };
	struct vmm_range *gaps = NULL;
	size_t nr_gaps = 0;
	int ret;

	s->first_bad_gpa = UINT64_MAX;
	s->first_unslotted_gpa = UINT64_MAX;
	ms_slotmap__for_each(ms_machine__kvm(r->p.m), run_collect_slot, &l);
	if (l.err)
		return l.err;
	for (size_t i = 0; i < r->nr_notes; i++)
		r->notes[i].set = false;

	for (size_t i = 0; i < l.nr && !s->vret; i++) {
		const struct ms_memslot *m = &l.s[i];
		struct vmm_range range = { m->gpa, m->size };
		struct vmm_verify_result v;
		struct slot_note *n;

		if (m->as_id)
			continue;
		n = note_of(r, m->slot, true);
		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		*n = (struct slot_note){ .set = true, .gpa = m->gpa, .size = m->size,
					 .verified = -1, .dirty = -1 };
		s->vret = vmm_verify(r->vmm, &range, 1, r->p.full, &v, &s->verr);
		add_verify(s, &v);
		if (v.ram_bytes) {
			n->verified = (int64_t)v.pages;
			s->slots_verified++;
		}
	}
	if (!s->vret) {
		ret = uncovered_ranges(r, &l, &gaps, &nr_gaps, &s->uncovered);
		if (ret)
			goto out;
		if (nr_gaps) {
			struct vmm_verify_result v;

			s->vret = vmm_verify(r->vmm, gaps, nr_gaps, r->p.full, &v, &s->verr);
			add_verify(s, &v);
		}
	}
	if (s->vret == -EIO)
		r->guest_dead = true;

	if (r->p.dirty_log) {
		for (size_t i = 0; i < l.nr; i++) {
			const struct ms_memslot *m = &l.s[i];
			struct slot_note *n = note_of(r, m->slot, false);
			size_t words = (size_t)((m->size / 4096 + 63) / 64);
			struct ms_error e = { 0 };
			uint64_t *bm;
			int64_t d;

			if (m->as_id || !n || !(m->flags & MS_KVM_MEM_LOG_DIRTY_PAGES))
				continue;
			bm = calloc(words ? words : 1, sizeof(*bm));
			if (!bm) {
				ret = -ENOMEM;
				goto out;
			}
			if (ms_kvm__get_dirty_log(r->kvm, m->as_id, m->slot, bm, &e)) {
				/* a logging slot must have a log */
				if (!s->dirty_short)
					snprintf(s->dirty_fail, sizeof(s->dirty_fail), "%s", e.msg);
				s->dirty_short++;
				free(bm);
				continue;
			}
			d = (int64_t)popcount_words(bm, words);
			free(bm);
			n->dirty = d;
			s->dirty_pages += (uint64_t)d;
			/* every page the guest wrote in this slot must be reported */
			if (n->verified > 0 && d < n->verified) {
				if (!s->dirty_short)
					snprintf(s->dirty_fail, sizeof(s->dirty_fail),
						 "slot %u: %" PRId64 " dirty pages, the guest wrote %"
						 PRId64, m->slot, d, n->verified);
				s->dirty_short++;
			}
		}
	}
	ret = 0;
out:
	free(gaps);
	free(l.s);
	return ret;
}

/* An address the step unmapped, if the flat view has nothing there now. */
static bool unmapped_by_step(struct run *r, uint64_t *gpa)
{
	struct ms_slotmap *map = ms_machine__kvm(r->p.m);
	struct ms_as *as = ms_machine__memory_as(r->p.m);
	const struct ms_slot_op *ops;
	size_t nr;

	ops = ms_slotmap__ops(map, &nr);
	for (size_t i = 0; i < nr; i++) {
		uint64_t off, len = 1;
		const struct ms_flat_range *fr;

		if (ops[i].kind != MS_SLOT_OP_DELETE || ops[i].ret)
			continue;
		fr = ms_as__translate(as, ops[i].slot.gpa, &off, &len);
		if (!fr || !ms_region__is_ram(fr->mr)) {
			*gpa = ops[i].slot.gpa;
			return true;
		}
	}
	return false;
}

/* The first range of "memory" that is neither RAM nor ROM: MMIO. */
static bool first_mmio(struct run *r, uint64_t *gpa)
{
	struct ms_flatview *fv = ms_as__flatview(ms_machine__memory_as(r->p.m));
	size_t n = ms_flatview__nr_ranges(fv);

	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);

		if (!ms_region__is_ram(fr->mr) && !ms_region__is_rom_device(fr->mr)) {
			*gpa = fr->start;
			return true;
		}
	}
	return false;
}

static int find_ro_slot(const struct ms_memslot *s, void *opaque)
{
	if (s->as_id || !(s->flags & MS_KVM_MEM_READONLY) || !s->hva)
		return 0;
	*(uint64_t *)opaque = s->gpa;
	return 1;
}

void run_probe_mmio(struct run *r, struct step *s)
{
	if (!unmapped_by_step(r, &s->mmio_gpa) && !first_mmio(r, &s->mmio_gpa))
		return;
	s->mmio_done = true;
	s->mret = vmm_probe_mmio(r->vmm, s->mmio_gpa, 4, false, 0, &s->mmio, &s->merr);
	if (s->mret == -EIO)
		r->guest_dead = true;
}

void run_probe_rom(struct run *r, struct step *s)
{
	struct ms_as *as = ms_machine__memory_as(r->p.m);
	const struct ms_flat_range *fr;
	uint64_t gpa = 0, off, len = 1;

	const struct ms_slot_op *ops;
	bool found = false;
	size_t nr;

	/* a READONLY slot this step created, else the first one */
	ops = ms_slotmap__ops(ms_machine__kvm(r->p.m), &nr);
	for (size_t i = 0; i < nr && !found; i++) {
		const struct ms_memslot *s = &ops[i].slot;

		if (ops[i].kind == MS_SLOT_OP_CREATE && !ops[i].ret && !s->as_id &&
		    (s->flags & MS_KVM_MEM_READONLY) && s->hva &&
		    ms_slotmap__lookup(ms_machine__kvm(r->p.m), s->gpa, s->size)) {
			gpa = s->gpa;
			found = true;
		}
	}
	if (!found && !ms_slotmap__for_each(ms_machine__kvm(r->p.m), find_ro_slot, &gpa))
		return;
	fr = ms_as__translate(as, gpa, &off, &len);
	if (!fr || !ms_region__host_ptr(fr->mr))
		return;
	s->rom_done = true;
	s->rom_gpa = gpa;
	s->rret = vmm_probe_rom_write(r->vmm, gpa,
				      (uint8_t)~*((uint8_t *)ms_region__host_ptr(fr->mr) + off),
				      &s->rom, &s->rerr);
	if (s->rret == -EIO)
		r->guest_dead = true;
}

/* The KVM consumer's figures: the library's rule 9.1 (the busiest address space). */
static int take_kvm(const struct ms_consumer_info *c, void *opaque)
{
	struct acct *a = opaque;

	if (c->kind != MS_CONSUMER_KVM)
		return 0;
	a->kvm_used = c->used;
	a->kvm_free = c->free;
	return 1;
}

void run_acct_take(const struct run *r, struct acct *a)
{
	memset(a, 0, sizeof(*a));
	ms_machine__devmem_stats(r->p.m, &a->st);
	ms_machine__for_each_consumer(r->p.m, take_kvm, a);
}

bool run_acct_same(const struct acct *a, const struct acct *b, char *why, size_t len)
{
#define SAME(f, name) do {								\
		if (a->f != b->f) {							\
			snprintf(why, len, "%s 0x%" PRIx64 " before, 0x%" PRIx64 " after",	\
				 name, (uint64_t)a->f, (uint64_t)b->f);			\
			return false;							\
		}									\
	} while (0)
	SAME(st.used_region_size, "device memory used");
	SAME(st.plugged_size, "plugged size");
	SAME(st.dimm_size, "dimm size");
	SAME(st.required_memslots, "required memslots");
	SAME(st.used_memslots, "used memslots");
	SAME(st.reserved_memslots, "reserved memslots");
	SAME(st.auto_decision_active, "auto decision devices");
	SAME(kvm_used, "kvm memslots used");
#undef SAME
	return true;
}
