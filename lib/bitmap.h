/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bitmaps of u64 words, a range at a time (O(range / 64)): the DIMM slot
 * map and virtio-mem's plugged blocks. Not installed.
 */
#ifndef MEMSLOT_BITMAP_H
#define MEMSLOT_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

bool bit_test(const uint64_t *map, uint64_t i);
void bits_assign(uint64_t *map, uint64_t start, uint64_t n, bool set);
/* every bit of [start, start + n) equals @set */
bool bits_all(const uint64_t *map, uint64_t start, uint64_t n, bool set);
/* first index >= @start in [start, nbits) whose bit equals @set, or nbits */
uint64_t bits_find(const uint64_t *map, uint64_t nbits, uint64_t start, bool set);

#endif /* MEMSLOT_BITMAP_H */
