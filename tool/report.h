/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: what plan's reports (report.c, report_json.c) are
 * gathered from: the memory devices and the memslot consumers of the
 * machine, and the numbers the capacity section derives from them.
 */
#ifndef MEMSLOT_REPORT_H
#define MEMSLOT_REPORT_H

#include <stdint.h>

#include "tool.h"

/* one memslot consumer (KVM or a vhost backend) */
struct consumer {
	enum ms_consumer_kind kind;
	char name[64];
	uint32_t max, used, free;
};

/* the machine's consumers, at most 64 */
struct consumers {
	struct consumer c[64];
	size_t nr;
};

/* the machine's memory devices; free @d */
struct devices {
	struct ms_memdev **d;
	size_t nr, cap;
	int err;
};

/* report_get_consumers() - fill @l with the consumers of @m. @m: machine @l: list */
void report_get_consumers(const struct ms_machine *m, struct consumers *l);

/* report_kind_name() - "kvm" or "vhost". @k: consumer kind. Return: the name */
const char *report_kind_name(enum ms_consumer_kind k);

/**
 * report_get_devices() - the memory devices of @m
 * @m: machine
 * @l: filled; free l->d
 *
 * Return: 0 or -ENOMEM (then l->d is NULL).
 */
int report_get_devices(const struct ms_machine *m, struct devices *l);

/* report_addr_bits() - address bits for the inclusive address @a. Return: them */
unsigned int report_addr_bits(uint64_t a);

/* report_highest_gpa() - highest byte of the flat view of "memory" (0 if empty). @m: machine */
uint64_t report_highest_gpa(const struct ms_machine *m);

/* report_left_after_reserved() - @free less @reserved, at least 0. Return: that */
uint32_t report_left_after_reserved(uint32_t free, uint32_t reserved);

/* report_dimm_slot_use() - DIMM slots in use by @l. @l: devices @used: set */
void report_dimm_slot_use(const struct devices *l, uint32_t *used);

#endif /* MEMSLOT_REPORT_H */
