// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The memslot decision arithmetic of memory-devices.md:
 *   - ms_memslot_decision_limit(), rule 7: a table over (KVM max/free,
 *     vhost max/free, required, reserved, size, hotpluggable, used) with
 *     every corner the rule names, plus a seeded sweep against a reference
 *     written from the rule text;
 *   - ms_virtio_mem_decide(), rule 10.2: the examples of rule 10.4 and the
 *     corners of steps 2, 4, 5 and 6.
 * Expected values are computed by hand from the spec (the comment of each
 * row shows the arithmetic).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define TiB	0x10000000000ull

#define UNL	MS_MEMSLOTS_UNLIMITED

/* KVM as in the rule 7 examples: 32764 slots, about 10 used. */
#define KVM_DEF		.kvm_enabled = true, .kvm_max = 32764, .kvm_free = 32754
#define NO_VHOST	.vhost_max = UNL, .vhost_free = UNL

/* ---- rule 7 table ------------------------------------------------------------------ */

FIXTURE(limit) {
	int unused;
};

FIXTURE_VARIANT(limit) {
	struct ms_decision_input in;
	uint32_t expected;
};

FIXTURE_SETUP(limit)
{
}

FIXTURE_TEARDOWN(limit)
{
}

/* Rule 7 examples: 8 GiB of 18 GiB -> floor(256 * 8 / 18) = floor(113.7) = 113. */
FIXTURE_VARIANT_ADD(limit, example_8g_of_18g_113) {
	.in = { KVM_DEF, NO_VHOST, .size = 8 * GiB, .hotpluggable = 18 * GiB },
	.expected = 113,
};

/* 1 TiB region taking all 1 TiB hotpluggable: step 9 returns memslots = 256. */
FIXTURE_VARIANT_ADD(limit, example_1t_all_256) {
	.in = { KVM_DEF, NO_VHOST, .size = TiB, .hotpluggable = TiB },
	.expected = 256,
};

/* 1 TiB of 2 TiB: 256 * 1 / 2 = 128. */
FIXTURE_VARIANT_ADD(limit, example_1t_of_2t_128) {
	.in = { KVM_DEF, NO_VHOST, .size = TiB, .hotpluggable = 2 * TiB },
	.expected = 128,
};

/* 16 GiB when 16 of 64 GiB are used and 200 required: floor(56 * 16 / 48) = 18. */
FIXTURE_VARIANT_ADD(limit, example_16g_used_16g_of_64g_required_200_18) {
	.in = { KVM_DEF, NO_VHOST, .required = 200, .size = 16 * GiB,
		.hotpluggable = 64 * GiB, .used_region_size = 16 * GiB },
	.expected = 18,
};

/* Any vhost-user backend without configurable slots (limit 8): step 4 -> 1. */
FIXTURE_VARIANT_ADD(limit, example_vhost_user_8_gives_1) {
	.in = { KVM_DEF, .vhost_max = 8, .vhost_free = 6, .size = 8 * GiB,
		.hotpluggable = 18 * GiB },
	.expected = 1,
};

/* Step 4: vhost max 508 < 509 -> 1, even with plenty free. */
FIXTURE_VARIANT_ADD(limit, step4_vhost_max_508) {
	.in = { KVM_DEF, .vhost_max = 508, .vhost_free = 508, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 4 boundary: vhost max 509 is enough; free 509 does not limit 256. */
FIXTURE_VARIANT_ADD(limit, step4_vhost_max_509) {
	.in = { KVM_DEF, .vhost_max = 509, .vhost_free = 509, .size = TiB, .hotpluggable = TiB },
	.expected = 256,
};

/* Step 3/4: KVM max 508 < 509 -> 1. */
FIXTURE_VARIANT_ADD(limit, step4_kvm_max_508) {
	.in = { .kvm_enabled = true, .kvm_max = 508, .kvm_free = 500, NO_VHOST,
		.size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 3/4 boundary: KVM max 509 with 499 free -> min(256, 499) = 256. */
FIXTURE_VARIANT_ADD(limit, step4_kvm_max_509) {
	.in = { .kvm_enabled = true, .kvm_max = 509, .kvm_free = 499, NO_VHOST,
		.size = TiB, .hotpluggable = TiB },
	.expected = 256,
};

/* Step 3: min(vhost, KVM) for max: vhost 600 but KVM 508 -> 1. */
FIXTURE_VARIANT_ADD(limit, step3_min_of_vhost_and_kvm_max) {
	.in = { .kvm_enabled = true, .kvm_max = 508, .kvm_free = 508, .vhost_max = 600,
		.vhost_free = 600, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 3 only with KVM enabled: a disabled KVM's tiny numbers are ignored. */
FIXTURE_VARIANT_ADD(limit, step3_kvm_disabled_ignored) {
	.in = { .kvm_enabled = false, .kvm_max = 8, .kvm_free = 0, NO_VHOST,
		.size = 8 * GiB, .hotpluggable = 18 * GiB },
	.expected = 113,
};

/* No consumer at all: max = free = UINT_MAX; step 9 -> 256. */
FIXTURE_VARIANT_ADD(limit, no_consumers) {
	.in = { .kvm_enabled = false, NO_VHOST, .size = 4 * GiB, .hotpluggable = 4 * GiB },
	.expected = 256,
};

/* Step 3: free = min(vhost free 50, KVM free 32754) = 50; step 9 -> 50. */
FIXTURE_VARIANT_ADD(limit, step3_vhost_free_limits) {
	.in = { KVM_DEF, .vhost_max = 1000, .vhost_free = 50, .size = TiB, .hotpluggable = TiB },
	.expected = 50,
};

/* Step 3: free = min(vhost free 900, KVM free 70) = 70. */
FIXTURE_VARIANT_ADD(limit, step3_kvm_free_limits) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 70, .vhost_max = 1000,
		.vhost_free = 900, .size = TiB, .hotpluggable = TiB },
	.expected = 70,
};

/* Step 5: required 256 >= 256 -> 1. */
FIXTURE_VARIANT_ADD(limit, step5_required_256) {
	.in = { KVM_DEF, NO_VHOST, .required = 256, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 5: required 300 -> 1 (256 - 300 must not wrap into a huge count). */
FIXTURE_VARIANT_ADD(limit, step5_required_300) {
	.in = { KVM_DEF, NO_VHOST, .required = 300, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 6: required 255 -> memslots 1; step 9 -> 1. */
FIXTURE_VARIANT_ADD(limit, step6_required_255_all) {
	.in = { KVM_DEF, NO_VHOST, .required = 255, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 6: required 200 -> memslots 56; step 9 -> 56. */
FIXTURE_VARIANT_ADD(limit, step6_required_200_all) {
	.in = { KVM_DEF, NO_VHOST, .required = 200, .size = TiB, .hotpluggable = TiB },
	.expected = 56,
};

/* Step 7: free 100 - reserved 20 = 80 < 256 -> 80. */
FIXTURE_VARIANT_ADD(limit, step7_free_minus_reserved) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 100, NO_VHOST,
		.reserved = 20, .size = TiB, .hotpluggable = TiB },
	.expected = 80,
};

/* Step 7: reserved 32600 of free 32754 -> 154. */
FIXTURE_VARIANT_ADD(limit, step7_large_reserved) {
	.in = { KVM_DEF, NO_VHOST, .reserved = 32600, .size = TiB, .hotpluggable = TiB },
	.expected = 154,
};

/* Step 6+7: min(256 - 100, 32754 - 0) = 156. */
FIXTURE_VARIANT_ADD(limit, step7_required_100) {
	.in = { KVM_DEF, NO_VHOST, .required = 100, .size = TiB, .hotpluggable = TiB },
	.expected = 156,
};

/*
 * Step 7/8, the unsigned wrap: free 10 < reserved 20. free - reserved wraps
 * to 2^32 - 10, so min() keeps 256; step 8 must still answer 1.
 */
FIXTURE_VARIANT_ADD(limit, step8_free_lt_reserved_wrap) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 10, NO_VHOST,
		.reserved = 20, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* The same wrap through the vhost free count (vhost free 5 < reserved 6). */
FIXTURE_VARIANT_ADD(limit, step8_vhost_free_lt_reserved_wrap) {
	.in = { KVM_DEF, .vhost_max = 1000, .vhost_free = 5, .reserved = 6,
		.size = 8 * GiB, .hotpluggable = 18 * GiB },
	.expected = 1,
};

/* Wrap with the proportional branch: 1 as well (not 113). */
FIXTURE_VARIANT_ADD(limit, step8_wrap_proportional) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 3, NO_VHOST,
		.reserved = 4, .size = 8 * GiB, .hotpluggable = 18 * GiB },
	.expected = 1,
};

/* Step 8: free == reserved -> memslots 0 < 1 -> 1. */
FIXTURE_VARIANT_ADD(limit, step8_free_eq_reserved) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 40, NO_VHOST,
		.reserved = 40, .size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 8: nothing free, nothing reserved -> 0 -> 1. */
FIXTURE_VARIANT_ADD(limit, step8_no_free) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 0, NO_VHOST,
		.size = TiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 9 compares size with maxmem - RAM only: returns memslots even with space used. */
FIXTURE_VARIANT_ADD(limit, step9_size_eq_hotpluggable_with_used) {
	.in = { KVM_DEF, NO_VHOST, .size = 8 * GiB, .hotpluggable = 8 * GiB,
		.used_region_size = 4 * GiB },
	.expected = 256,
};

/* Step 9 with a free limit: size == hotpluggable -> memslots = min(256, 77). */
FIXTURE_VARIANT_ADD(limit, step9_size_eq_hotpluggable_free_77) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 77, NO_VHOST,
		.size = 2 * GiB, .hotpluggable = 2 * GiB },
	.expected = 77,
};

/* Step 10 truncation toward zero: 256 * 1 / 3 = 85.33 -> 85. */
FIXTURE_VARIANT_ADD(limit, step10_truncates_85) {
	.in = { KVM_DEF, NO_VHOST, .size = GiB, .hotpluggable = 3 * GiB },
	.expected = 85,
};

/* Step 10 truncation: 256 * 2 / 3 = 170.67 -> 170 (not rounded to 171). */
FIXTURE_VARIANT_ADD(limit, step10_truncates_170) {
	.in = { KVM_DEF, NO_VHOST, .size = 2 * GiB, .hotpluggable = 3 * GiB },
	.expected = 170,
};

/* Step 10 uses the available space: 80 * 3 / (10 - 4) = 40. */
FIXTURE_VARIANT_ADD(limit, step10_available_after_used) {
	.in = { .kvm_enabled = true, .kvm_max = 32764, .kvm_free = 80, NO_VHOST,
		.size = 3 * GiB, .hotpluggable = 10 * GiB, .used_region_size = 4 * GiB },
	.expected = 40,
};

/* Step 10: a tiny region gives 0.000244 -> max(1, 0) = 1. */
FIXTURE_VARIANT_ADD(limit, step10_below_one_gives_1) {
	.in = { KVM_DEF, NO_VHOST, .size = MiB, .hotpluggable = TiB },
	.expected = 1,
};

/* Step 10: size 0 (degenerate) -> 0 -> 1. */
FIXTURE_VARIANT_ADD(limit, step10_size_0_gives_1) {
	.in = { KVM_DEF, NO_VHOST, .size = 0, .hotpluggable = TiB },
	.expected = 1,
};

/*
 * Step 10 in double precision: size 2^60 - 1 of 2^60. Exactly this is
 * 255.99999..., but (double)(2^60 - 1) rounds to 2^60, so QEMU computes
 * 256 * 2^60 / 2^60 = 256.
 */
FIXTURE_VARIANT_ADD(limit, step10_double_precision_256) {
	.in = { KVM_DEF, NO_VHOST, .size = (1ull << 60) - 1, .hotpluggable = 1ull << 60 },
	.expected = 256,
};

/* Step 10 is not clamped to memslots: 256 * 10 / 5 = 512 (the space check fails later). */
FIXTURE_VARIANT_ADD(limit, step10_no_clamp_512) {
	.in = { KVM_DEF, NO_VHOST, .size = 10 * GiB, .hotpluggable = 20 * GiB,
		.used_region_size = 15 * GiB },
	.expected = 512,
};

/* available == 0 (device memory full): QEMU divides by zero; return 1, no crash. */
FIXTURE_VARIANT_ADD(limit, available_0_gives_1) {
	.in = { KVM_DEF, NO_VHOST, .size = GiB, .hotpluggable = 8 * GiB,
		.used_region_size = 8 * GiB },
	.expected = 1,
};

/* available == 0 and size 0: still 1. */
FIXTURE_VARIANT_ADD(limit, available_0_size_0_gives_1) {
	.in = { KVM_DEF, NO_VHOST, .size = 0, .hotpluggable = 8 * GiB,
		.used_region_size = 8 * GiB },
	.expected = 1,
};

/* available == 0 with nothing hotpluggable at all. */
FIXTURE_VARIANT_ADD(limit, nothing_hotpluggable_gives_1) {
	.in = { KVM_DEF, NO_VHOST, .size = GiB, .hotpluggable = 0 },
	.expected = 1,
};

/* Used beyond maxmem - RAM: the u64 available wraps to ~2^64 -> ~0 -> 1. */
FIXTURE_VARIANT_ADD(limit, used_over_hotpluggable_gives_1) {
	.in = { KVM_DEF, NO_VHOST, .size = GiB, .hotpluggable = 8 * GiB,
		.used_region_size = 9 * GiB },
	.expected = 1,
};

/* Rule 7 step by step (memory-devices.md section 7). */
TEST_F(limit, rule_7)
{
	const struct ms_decision_input *in = &variant->in;
	uint32_t got = ms_memslot_decision_limit(in);

	EXPECT_EQ(variant->expected, got) {
		TH_LOG("kvm %d max %u free %u, vhost max %u free %u, required %u reserved %u, "
		       "size 0x%" PRIx64 " hotpluggable 0x%" PRIx64 " used 0x%" PRIx64,
		       in->kvm_enabled, in->kvm_max, in->kvm_free, in->vhost_max,
		       in->vhost_free, in->required, in->reserved, in->size,
		       in->hotpluggable, in->used_region_size);
	}
}

/* ---- rule 7 against a reference ----------------------------------------------------- */

/* Rule 7 written out from the spec text, for the sweep below. */
static uint32_t ref_limit(const struct ms_decision_input *in)
{
	uint32_t max = in->vhost_max, free = in->vhost_free, memslots;
	uint64_t available;
	double d;

	if (in->kvm_enabled) {
		max = max < in->kvm_max ? max : in->kvm_max;
		free = free < in->kvm_free ? free : in->kvm_free;
	}
	if (max < MS_MEMDEV_SAFE_MAX_MEMSLOTS)
		return 1;
	if (in->required >= MS_MEMDEV_SOFT_MEMSLOT_LIMIT)
		return 1;
	memslots = MS_MEMDEV_SOFT_MEMSLOT_LIMIT - in->required;
	if ((uint32_t)(free - in->reserved) < memslots)
		memslots = free - in->reserved;
	if (memslots < 1 || free < in->reserved)
		return 1;
	if (in->size == in->hotpluggable)
		return memslots;
	available = in->hotpluggable - in->used_region_size;
	if (!available)
		return 1;
	d = (double)memslots * (double)in->size / (double)available;
	return d < 1 ? 1 : (uint32_t)d;
}

static uint64_t rnd64(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A value near one of the interesting boundaries of a slot count. */
static uint32_t pick_slots(uint64_t *s)
{
	static const uint32_t pts[] = { 0, 1, 8, 64, 255, 256, 257, 508, 509, 510, 512,
					32764, UNL };
	uint32_t v = pts[rnd64(s) % (sizeof(pts) / sizeof(pts[0]))];
	int64_t d = (int64_t)(rnd64(s) % 5) - 2;

	if (v == UNL || (d < 0 && v < (uint32_t)-d))
		return v;
	return v + d;
}

static uint64_t seed_from_env(void)
{
	const char *e = getenv("MEMSLOT_SEED");

	return e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
}

/*
 * Rule 7 over random inputs in the domain where pre_plug goes on (the
 * device fits: used + size <= maxmem - RAM), compared with ref_limit().
 */
TEST(rule_7_sweep)
{
	uint64_t seed = seed_from_env(), s = seed;
	unsigned int bad = 0;

	TH_LOG("seed %" PRIu64 " (MEMSLOT_SEED overrides)", seed);
	for (int i = 0; i < 200000 && bad < 10; i++) {
		struct ms_decision_input in = { 0 };
		uint32_t want, got;

		in.kvm_enabled = rnd64(&s) & 1;
		in.kvm_max = pick_slots(&s);
		in.kvm_free = pick_slots(&s);
		if (in.kvm_free > in.kvm_max)
			in.kvm_free = in.kvm_max;
		in.vhost_max = pick_slots(&s);
		in.vhost_free = in.vhost_max == UNL ? UNL : (uint32_t)(rnd64(&s) %
								       ((uint64_t)in.vhost_max + 1));
		in.required = pick_slots(&s) % 400;
		in.reserved = in.required ? (uint32_t)(rnd64(&s) % (in.required + 1)) : 0;
		in.hotpluggable = (rnd64(&s) % (4 * TiB / (2 * MiB)) + 1) * 2 * MiB;
		in.used_region_size = rnd64(&s) % 4 ? (rnd64(&s) % (in.hotpluggable / (2 * MiB) + 1))
						* 2 * MiB : 0;
		in.size = in.hotpluggable - in.used_region_size;
		if (in.size && rnd64(&s) % 3)
			in.size = (rnd64(&s) % (in.size / (2 * MiB)) + 1) * 2 * MiB;
		want = ref_limit(&in);
		got = ms_memslot_decision_limit(&in);
		if (want != got) {
			bad++;
			TH_LOG("case %d: kvm %d max %u free %u, vhost max %u free %u, required %u "
			       "reserved %u, size 0x%" PRIx64 " hotpluggable 0x%" PRIx64
			       " used 0x%" PRIx64 ": expected %u, got %u", i, in.kvm_enabled,
			       in.kvm_max, in.kvm_free, in.vhost_max, in.vhost_free, in.required,
			       in.reserved, in.size, in.hotpluggable, in.used_region_size, want,
			       got);
		}
	}
	EXPECT_EQ(0, bad);
}

/* ---- rule 10.2 ---------------------------------------------------------------------- */

FIXTURE(decide) {
	int unused;
};

FIXTURE_VARIANT(decide) {
	uint64_t region, block, page;
	uint32_t limit;
	uint32_t n;
	uint64_t memslot_size;
};

FIXTURE_SETUP(decide)
{
}

FIXTURE_TEARDOWN(decide)
{
}

/* 10.4: 8 GiB with limit 113 -> 8 memslots of 1 GiB (floor(8G/113) -> 74 MiB -> 1 GiB min). */
FIXTURE_VARIANT_ADD(decide, example_8g_limit_113) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 113,
	.n = 8, .memslot_size = GiB,
};

/* 10.4: 1 TiB with limit 256 -> 256 x 4 GiB. */
FIXTURE_VARIANT_ADD(decide, example_1t_limit_256) {
	.region = TiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 256,
	.n = 256, .memslot_size = 4 * GiB,
};

/* 10.4: 1 TiB with limit 100 -> 100 memslots of 5243 x 2 MiB (the last 10970202112). */
FIXTURE_VARIANT_ADD(decide, example_1t_limit_100) {
	.region = TiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 100,
	.n = 100, .memslot_size = 10995367936ull,
};

/* 10.4: 512 MiB with any limit -> 1 memslot of 512 MiB. */
FIXTURE_VARIANT_ADD(decide, example_512m_limit_256) {
	.region = 512 * MiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 256,
	.n = 1, .memslot_size = 512 * MiB,
};

FIXTURE_VARIANT_ADD(decide, example_512m_limit_2) {
	.region = 512 * MiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 2,
	.n = 1, .memslot_size = 512 * MiB,
};

FIXTURE_VARIANT_ADD(decide, example_512m_limit_max) {
	.region = 512 * MiB, .block = 2 * MiB, .page = 4 * KiB, .limit = UNL,
	.n = 1, .memslot_size = 512 * MiB,
};

/* Step 2: limit 1 -> 1 memslot (the whole region, rule 10.3). */
FIXTURE_VARIANT_ADD(decide, step2_limit_1) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 1,
	.n = 1, .memslot_size = 8 * GiB,
};

/* Step 2: limit 0 -> 1 memslot (no division by zero). */
FIXTURE_VARIANT_ADD(decide, step2_limit_0) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 0,
	.n = 1, .memslot_size = 8 * GiB,
};

/* Step 4: block 1 MiB < 2 MiB page (hugetlbfs) -> 1 memslot. */
FIXTURE_VARIANT_ADD(decide, step4_block_below_page) {
	.region = 8 * GiB, .block = MiB, .page = 2 * MiB, .limit = 256,
	.n = 1, .memslot_size = 8 * GiB,
};

/* Step 4: region 8 GiB + 1 MiB not a multiple of the 2 MiB block -> 1 memslot. */
FIXTURE_VARIANT_ADD(decide, step4_region_not_block_multiple) {
	.region = 8 * GiB + MiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 256,
	.n = 1, .memslot_size = 8 * GiB + MiB,
};

/* Step 4 boundary: block == page is fine. */
FIXTURE_VARIANT_ADD(decide, step4_block_eq_page) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 2 * MiB, .limit = 113,
	.n = 8, .memslot_size = GiB,
};

/* Step 5: floor(8G/1000) = 8.2 MiB -> 10 MiB -> at least 1 GiB -> 8. */
FIXTURE_VARIANT_ADD(decide, step5_min_1g) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 1000,
	.n = 8, .memslot_size = GiB,
};

/* Step 5: limit UINT_MAX -> floor = 2 bytes -> 2 MiB -> 1 GiB -> 8. */
FIXTURE_VARIANT_ADD(decide, step5_limit_uint_max) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = UNL,
	.n = 8, .memslot_size = GiB,
};

/* Step 5: a 1 GiB block -> max(1 GiB, 1 GiB). */
FIXTURE_VARIANT_ADD(decide, step5_block_1g) {
	.region = 8 * GiB, .block = GiB, .page = 4 * KiB, .limit = 256,
	.n = 8, .memslot_size = GiB,
};

/* Step 5: a 2 GiB block -> memslots of max(2 GiB, 1 GiB) -> 4. */
FIXTURE_VARIANT_ADD(decide, step5_block_2g) {
	.region = 8 * GiB, .block = 2 * GiB, .page = 4 * KiB, .limit = 256,
	.n = 4, .memslot_size = 2 * GiB,
};

/* Step 5: floor(8G/3) = 2863311530 -> round up to 2 MiB = 1366 x 2 MiB. */
FIXTURE_VARIANT_ADD(decide, step5_round_up_limit_3) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 3,
	.n = 3, .memslot_size = 1366 * 2 * MiB,
};

/* Step 5/6: limit 2 -> 2 x 4 GiB. */
FIXTURE_VARIANT_ADD(decide, step5_limit_2) {
	.region = 8 * GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 2,
	.n = 2, .memslot_size = 4 * GiB,
};

/* Step 6: ceil((8 GiB + 2 MiB) / 1 GiB) = 9, the last 2 MiB. */
FIXTURE_VARIANT_ADD(decide, step6_ceil_partial_last) {
	.region = 8 * GiB + 2 * MiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 256,
	.n = 9, .memslot_size = GiB,
};

/* Step 6: 1.5 GiB -> 1 GiB + 512 MiB. */
FIXTURE_VARIANT_ADD(decide, step6_1_5g) {
	.region = 3 * 512 * MiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 256,
	.n = 2, .memslot_size = GiB,
};

/* Step 6: exactly 1 GiB -> n = 1, one memslot of the region. */
FIXTURE_VARIANT_ADD(decide, step6_exactly_1g) {
	.region = GiB, .block = 2 * MiB, .page = 4 * KiB, .limit = 256,
	.n = 1, .memslot_size = GiB,
};

/* 1 GiB hugetlb pages with 1 GiB blocks: 8 GiB -> 8. */
FIXTURE_VARIANT_ADD(decide, hugetlb_1g) {
	.region = 8 * GiB, .block = GiB, .page = GiB, .limit = 100,
	.n = 8, .memslot_size = GiB,
};

/* Rule 10.2 (with 10.3 for the single-memslot size). */
TEST_F(decide, rule_10_2)
{
	uint64_t memslot_size = 0xdeadbeef;
	uint32_t n = ms_virtio_mem_decide(variant->region, variant->block, variant->page,
					  variant->limit, &memslot_size);

	EXPECT_EQ(variant->n, n);
	EXPECT_EQ(variant->memslot_size, memslot_size);
	if (n > 1 && memslot_size && memslot_size != 0xdeadbeef) {
		/* n memslots cover the region, the last one non-empty */
		EXPECT_GE((unsigned __int128)n * memslot_size, variant->region);
		EXPECT_LT((uint64_t)(n - 1) * memslot_size, variant->region);
		EXPECT_EQ(0, memslot_size % variant->block);
	}
}

/* 10.4: the last of the 100 memslots of 1 TiB is 10970202112 bytes. */
TEST(rule_10_4_last_memslot)
{
	uint64_t ms = 0;
	uint32_t n = ms_virtio_mem_decide(TiB, 2 * MiB, 4 * KiB, 100, &ms);

	ASSERT_EQ(100, n);
	EXPECT_EQ(10995367936ull, ms);
	EXPECT_EQ(10970202112ull, TiB - (uint64_t)(n - 1) * ms);
}

/* The decided count never exceeds the limit when the limit allows more than one. */
TEST(rule_10_2_within_limit)
{
	static const uint64_t regions[] = { GiB, 3 * GiB, 8 * GiB, 64 * GiB + 2 * MiB, TiB,
					    4 * TiB };
	static const uint64_t blocks[] = { MiB, 2 * MiB, 128 * MiB, GiB };

	for (size_t r = 0; r < sizeof(regions) / sizeof(regions[0]); r++)
		for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++)
			for (uint32_t limit = 2; limit <= 600; limit += 7) {
				uint64_t ms = 0;
				uint32_t n;

				if (regions[r] % blocks[b])
					continue;
				n = ms_virtio_mem_decide(regions[r], blocks[b], 4 * KiB, limit,
							 &ms);
				EXPECT_LE(n, limit) {
					TH_LOG("region 0x%" PRIx64 " block 0x%" PRIx64 " limit %u",
					       regions[r], blocks[b], limit);
				}
				EXPECT_GE(n, 1);
				EXPECT_GE(ms, GiB < regions[r] ? GiB : regions[r]);
			}
}

TEST_HARNESS_MAIN
