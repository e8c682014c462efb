// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Bitmap helpers: word at a time, so a range costs O(range / 64).
 */
#include "bitmap.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

bool bit_test(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static uint64_t word_mask(uint64_t lo, uint64_t hi)
{
	/* bits [lo, hi) of one word, 0 <= lo < hi <= 64 */
	uint64_t m = hi == 64 ? ~0ULL : (1ULL << hi) - 1;

	return m & ~((1ULL << lo) - 1);
}

void bits_assign(uint64_t *map, uint64_t start, uint64_t n, bool set)
{
	uint64_t end = start + n;

	while (start < end) {
		uint64_t w = start / 64, lo = start % 64;
		uint64_t hi = min_u64(64, lo + (end - start));
		uint64_t m = word_mask(lo, hi);

		if (set)
			map[w] |= m;
		else
			map[w] &= ~m;
		start += hi - lo;
	}
}

bool bits_all(const uint64_t *map, uint64_t start, uint64_t n, bool set)
{
	uint64_t end = start + n;

	while (start < end) {
		uint64_t w = start / 64, lo = start % 64;
		uint64_t hi = min_u64(64, lo + (end - start));
		uint64_t m = word_mask(lo, hi);
		uint64_t v = set ? ~map[w] : map[w];

		if (v & m)
			return false;
		start += hi - lo;
	}
	return true;
}

uint64_t bits_find(const uint64_t *map, uint64_t nbits, uint64_t start, bool set)
{
	while (start < nbits) {
		uint64_t w = start / 64, lo = start % 64;
		uint64_t v = (set ? map[w] : ~map[w]) & word_mask(lo, 64);

		if (v) {
			uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(v);

			return i < nbits ? i : nbits;
		}
		start = (w + 1) * 64;
	}
	return nbits;
}
