/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe guest's flat image, embedded read-only in the memslot binary
 * (and in the VMM selftest). The Makefile passes the image's path in
 * PROBE_BIN; tool/vmm.c copies probe_guest_start..probe_guest_end to
 * PROBE_CODE_GPA.
 */
#include "probe.h"

	.section .rodata
	.balign	16
	.globl	probe_guest_start
	.globl	probe_guest_end
	.hidden	probe_guest_start
	.hidden	probe_guest_end
probe_guest_start:
	.incbin	PROBE_BIN
probe_guest_end:
	.if	probe_guest_end - probe_guest_start > PROBE_CODE_MAX
	.error	"the probe guest outgrew PROBE_CODE_MAX"
	.endif

	.section .note.GNU-stack, "", @progbits
