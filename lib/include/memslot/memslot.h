/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemslot: QEMU-exact memory regions, flat views, address spaces and
 * listeners, memory devices and KVM memslots.
 */
#ifndef MEMSLOT_MEMSLOT_H
#define MEMSLOT_MEMSLOT_H

#include "error.h"
#include "ctx.h"
#include "region.h"
#include "flatview.h"
#include "as.h"
#include "slotmap.h"
#include "kvm.h"
#include "import.h"
#include "flatdump.h"
#include "memdev.h"
#include "machine.h"

/**
 * ms_version() - library version string
 *
 * Return: e.g. "0.1.0".
 */
MS_API const char *ms_version(void);

#endif /* MEMSLOT_MEMSLOT_H */
