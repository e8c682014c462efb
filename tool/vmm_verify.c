// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vmm_verify() (vmm.h): pick the pages of the requested ranges' verifiable
 * RAM along the flat view of "memory", have the probe guest write and
 * read back their signatures batch by batch, then compare them through
 * the host addresses the flat view gives.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/* pages per verify command: about a second of guest time, see vmm.h */
#define BATCH_PAGES		65536ULL

/* A verify run inside one GiB, with the host address of its first page. */
struct vrun {
	uint64_t gpa, stride, count;
	uint8_t *hva;
};

struct vruns {
	struct vrun *r;
	size_t n, cap;
};

/* splitmix64: one seed per verify call */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int vruns_push(struct vruns *rs, uint64_t gpa, uint64_t stride, uint64_t count,
		      uint8_t *hva)
{
	/* split at GiB boundaries (a run lives in one page directory) and to batch size */
	while (count) {
		uint64_t gib_end = (gpa / GiB + 1) * GiB;
		uint64_t n = (gib_end - gpa + stride - 1) / stride;

		if (n > count)
			n = count;
		if (n > BATCH_PAGES)
			n = BATCH_PAGES;
		if (rs->n == rs->cap) {
			size_t cap = rs->cap ? rs->cap * 2 : 64;
			struct vrun *r = realloc(rs->r, cap * sizeof(*r));

			if (!r)
				return -ENOMEM;
			rs->r = r;
			rs->cap = cap;
		}
		rs->r[rs->n++] = (struct vrun){ gpa, stride, n, hva };
		gpa += n * stride;
		hva += n * stride;
		count -= n;
	}
	return 0;
}

/* Plain writable RAM with host memory: what a signature may be written to. */
static bool verifiable(const struct ms_flat_range *fr)
{
	const struct ms_region *mr = fr->mr;

	return ms_region__is_ram(mr) && !ms_region__readonly(mr) && !fr->readonly &&
	       !ms_region__is_ram_device(mr) && !ms_region__is_rom_device(mr) &&
	       ms_region__host_ptr(mr);
}

/* Pages of one section [ps, pe) (page aligned) per the sample rule of vmm.h. */
static int pick_pages(struct vruns *rs, uint64_t ps, uint64_t pe, uint8_t *hva, bool full,
		      struct vmm_verify_result *res)
{
	uint64_t last = pe - VMM_PAGE_SIZE, first;
	int ret;

	res->sections++;
	if (full || pe - ps <= VMM_SMALL_SECTION)
		return vruns_push(rs, ps, VMM_PAGE_SIZE, (pe - ps) / VMM_PAGE_SIZE, hva);
	res->sampled_sections++;
	ret = vruns_push(rs, ps, VMM_PAGE_SIZE, 1, hva);
	first = (ps / VMM_SAMPLE_STRIDE + 1) * VMM_SAMPLE_STRIDE;
	if (!ret && first < last)
		ret = vruns_push(rs, first, VMM_SAMPLE_STRIDE,
				 (last - 1 - first) / VMM_SAMPLE_STRIDE + 1, hva + (first - ps));
	if (!ret)
		ret = vruns_push(rs, last, VMM_PAGE_SIZE, 1, hva + (last - ps));
	return ret;
}

static int collect(struct vmm *v, const struct vmm_range *ranges, size_t n, bool full,
		   struct vruns *rs, struct vmm_verify_result *res, struct ms_error *err)
{
	struct ms_flatview *fv = ms_flatview__ref(ms_as__flatview(v->mem_as));
	size_t nr = ms_flatview__nr_ranges(fv);
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		ms_u128 rs_start = ranges[i].gpa, rs_end = rs_start + ranges[i].size;
		uint64_t ram = 0;

		for (size_t j = 0; j < nr && !ret; j++) {
			const struct ms_flat_range *fr = ms_flatview__range(fv, j);
			ms_u128 s = fr->start, e = s + fr->size;
			uint64_t ps, pe;

			if (s < rs_start)
				s = rs_start;
			if (e > rs_end)
				e = rs_end;
			if (s < PROBE_RESERVED_END)
				s = PROBE_RESERVED_END;
			if (s >= e || !verifiable(fr))
				continue;
			ps = ((uint64_t)s + VMM_PAGE_SIZE - 1) & ~(VMM_PAGE_SIZE - 1);
			pe = (uint64_t)(e & ~(ms_u128)(VMM_PAGE_SIZE - 1));
			if (ps >= pe)
				continue;
			ret = window_check_gpa(v, ps, pe - ps, err);
			if (ret)
				break;
			ram += pe - ps;
			ret = pick_pages(rs, ps, pe,
					 (uint8_t *)ms_region__host_ptr(fr->mr) +
					 fr->offset_in_region + (ps - fr->start), full, res);
			if (ret)
				ms_error_set(err, ret, "verify: out of memory");
		}
		res->ram_bytes += ram;
		res->skipped_bytes += ranges[i].size - ram;
	}
	ms_flatview__unref(fv);
	return ret;
}

static void note_bad(struct vmm_verify_result *res, uint64_t gpa, uint64_t expected,
		     uint64_t found)
{
	if (res->first_bad_gpa != UINT64_MAX)
		return;
	res->first_bad_gpa = gpa;
	res->expected = expected;
	res->found = found;
}

/* One guest command over runs [first, end) that touch at most PROBE_NR_PD - 1 GiB. */
static int verify_batch(struct vmm *v, const struct vrun *runs, size_t nr, const uint64_t *gibs,
			size_t ngibs, uint64_t seed, struct vmm_verify_result *res,
			struct ms_error *err)
{
	struct probe_run *pr = (struct probe_run *)(v->low + PROBE_RUNS_GPA);
	struct probe_mbox *mb = v->mb;
	uint64_t pages = 0;
	int ret;

	for (size_t i = 0; i < nr; i++) {
		pr[i] = (struct probe_run){ runs[i].gpa, runs[i].stride, runs[i].count };
		pages += runs[i].count;
	}
	window_map(v, gibs, ngibs);
	mb->seed = seed;
	mb->nr_runs = nr;
	ret = vcpu_command(v, PROBE_CMD_VERIFY, err);
	res->commands++;
	if (v->unslotted) {
		if (!res->unslotted)
			res->first_unslotted_gpa = v->first_unslotted;
		res->unslotted += v->unslotted;
	}
	if (ret)
		return ret;
	if (mb->pages != pages)
		return vcpu_die(v, err, -EIO, "guest: verified %" PRIu64 " pages of %" PRIu64,
			   (uint64_t)mb->pages, pages);
	res->pages += pages;
	if (mb->mismatches) {
		res->guest_mismatches += mb->mismatches;
		note_bad(res, mb->first_bad, mb->first_bad ^ seed, mb->bad_value);
	}
	return 0;
}

/* Compare every page through the host address the flat view gave. */
static void host_check(const struct vruns *rs, uint64_t seed, struct vmm_verify_result *res)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct vrun *r = &rs->r[i];

		for (uint64_t k = 0; k < r->count; k++) {
			uint64_t gpa = r->gpa + k * r->stride, head, tail;
			const uint8_t *h = r->hva + k * r->stride;

			memcpy(&head, h, 8);
			memcpy(&tail, h + PROBE_SIG_LAST, 8);
			if (head == (gpa ^ seed) && tail == ~(gpa ^ seed))
				continue;
			res->host_mismatches++;
			note_bad(res, gpa, gpa ^ seed, head);
		}
	}
}

int vmm_verify(struct vmm *v, const struct vmm_range *ranges, size_t n, bool full,
	       struct vmm_verify_result *res, struct ms_error *err)
{
	uint64_t t0 = now_ns(), run0 = v->st.run_ns, exits0 = v->st.exits;
	uint64_t gibs[PROBE_NR_PD - 1], seed;
	struct vruns rs = { 0 };
	size_t first = 0;
	int ret;

	memset(res, 0, sizeof(*res));
	res->first_bad_gpa = UINT64_MAX;
	res->first_unslotted_gpa = UINT64_MAX;
	ret = vcpu_check_alive(v, err);
	if (ret)
		return ret;
	ret = collect(v, ranges, n, full, &rs, res, err);
	if (ret)
		goto out;
	seed = mix64(v->opts.seed + ++v->verify_calls);

	/*
	 * Batches: at most PROBE_MAX_RUNS runs, PROBE_NR_PD - 1 GiB windows and
	 * BATCH_PAGES pages, so that no KVM_RUN lasts much longer than a second.
	 */
	while (first < rs.n) {
		size_t end = first, ngibs = 0;
		uint64_t pages = 0;

		while (end < rs.n && end - first < PROBE_MAX_RUNS) {
			uint64_t g = rs.r[end].gpa / GiB;
			size_t j;

			if (end > first && pages + rs.r[end].count > BATCH_PAGES)
				break;
			for (j = 0; j < ngibs && gibs[j] != g; j++)
				;
			if (g && j == ngibs) {
				if (ngibs == PROBE_NR_PD - 1)
					break;
				gibs[ngibs++] = g;
			}
			pages += rs.r[end].count;
			end++;
		}
		ret = verify_batch(v, rs.r + first, end - first, gibs, ngibs, seed, res, err);
		if (ret)
			goto out;
		first = end;
	}
	if (v->opts.before_check)
		v->opts.before_check(v->opts.opaque, v);
	host_check(&rs, seed, res);
out:
	free(rs.r);
	res->exits = v->st.exits - exits0;
	res->guest_ns = v->st.run_ns - run0;
	res->ns = now_ns() - t0;
	return ret;
}
