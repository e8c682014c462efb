/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe guest's fixed layout and mailbox: the one definition shared by
 * tool/guest/probe.S (preprocessed by cpp before GNU as) and tool/vmm.c.
 *
 * Everything lives in the first 384 KiB of guest RAM (pc.ram's
 * ram-below-4g alias starts at 0 on pc and q35), below the VGA hole:
 *
 *   0x01000  GDT (null, 64-bit code, data, TSS descriptor) and the TSS
 *   0x02000  mailbox page
 *   0x03000  stack page (grows down from 0x4000)
 *   0x04000  code, at most 16 KiB (linked at this address)
 *   0x08000  IDT, vectors 0-31 (built by the guest)
 *   0x09000  PML4
 *   0x0a000  PROBE_NR_PDPT page-directory-pointer tables (PML4 entries
 *            0..PROBE_NR_PDPT-1, set by the host before the first run)
 *   0x12000  PROBE_NR_PD page directories (2 MiB pages); directory 0
 *            maps GiB 0 for good, the others are a pool the host assigns
 *   0x52000  verify runs (struct probe_run), PROBE_RUNS_PAGES pages
 *   0x60000  end of the reserved area: verify never writes below it
 *
 * Protocol: the guest writes its status to the mailbox and executes
 * `out %eax, $PROBE_PORT` (eax = status). The VMM sees KVM_EXIT_IO, reads
 * the results, fills the next command into the mailbox and re-enters
 * KVM_RUN; the `out` completes and the guest applies the mailbox's map
 * operations, then runs the command. The first `out` (status
 * PROBE_STATUS_READY) means the guest has booted. An exception makes the
 * guest store vector, error code, RIP and CR2 in the mailbox and execute
 * `out %eax, $PROBE_PORT_FAULT`, then halt for good.
 */
#ifndef MEMSLOT_PROBE_H
#define MEMSLOT_PROBE_H

#define PROBE_PORT		0x510	/* command done, next please */
#define PROBE_PORT_FAULT	0x511	/* the guest took an exception */

#define PROBE_GDT_GPA		0x1000
#define PROBE_TSS_GPA		0x1080
#define PROBE_MBOX_GPA		0x2000
#define PROBE_STACK_TOP		0x4000
#define PROBE_CODE_GPA		0x4000
#define PROBE_CODE_MAX		0x4000
#define PROBE_IDT_GPA		0x8000
#define PROBE_PML4_GPA		0x9000
#define PROBE_PDPT_GPA		0xa000
#define PROBE_NR_PDPT		8	/* 8 x 512 GiB: guest addresses below 4 TiB */
#define PROBE_PD_GPA		0x12000
#define PROBE_NR_PD		64	/* GiB 0 plus a pool of 63 */
#define PROBE_RUNS_GPA		0x52000
#define PROBE_RUNS_PAGES	14
#define PROBE_RESERVED_END	0x60000

/* selectors of the host-built GDT */
#define PROBE_SEL_CODE		0x08
#define PROBE_SEL_DATA		0x10
#define PROBE_SEL_TSS		0x18

/* page-table entry bits */
#define PROBE_PTE_P		0x1
#define PROBE_PTE_RW		0x2
#define PROBE_PTE_PS		0x80

/* commands (mailbox cmd) */
#define PROBE_CMD_NOP		0	/* map operations only */
#define PROBE_CMD_VERIFY	1	/* write signatures to the runs, read them back */
#define PROBE_CMD_READ		2	/* value_out = size bytes at addr */
#define PROBE_CMD_WRITE		3	/* size bytes of value to addr */
#define PROBE_CMD_WRITE_READ	4	/* read (value_before), write, read (value_out) */
#define PROBE_CMD_PIO_IN	5	/* value_out = in of size bytes from port addr */
#define PROBE_CMD_PIO_OUT	6	/* out of size bytes of value to port addr */
#define PROBE_CMD_HLT		7	/* hlt, then report */
#define PROBE_CMD_UD2		8	/* raise #UD: exercises the exception report */
#define PROBE_NR_CMDS		9

/* status (mailbox status and eax of the out) */
#define PROBE_STATUS_OK		0
#define PROBE_STATUS_READY	0x5250	/* "PR": booted */
#define PROBE_STATUS_BAD_CMD	1
#define PROBE_STATUS_BAD_SIZE	2

/* mailbox offsets: host to guest */
#define MB_CMD			0x00
#define MB_SEED			0x08
#define MB_NR_RUNS		0x10
#define MB_NR_MAPS		0x18
#define MB_ADDR			0x20
#define MB_SIZE			0x28
#define MB_VALUE		0x30
/* guest to host */
#define MB_STATUS		0x40
#define MB_PAGES		0x48
#define MB_MISMATCHES		0x50
#define MB_FIRST_BAD		0x58
#define MB_BAD_VALUE		0x60
#define MB_VALUE_OUT		0x68
#define MB_VALUE_BEFORE		0x70
#define MB_FAULT_VECTOR		0x80
#define MB_FAULT_ERROR		0x88
#define MB_FAULT_RIP		0x90
#define MB_FAULT_CR2		0x98
/* map operations: { gib, page directory GPA or 0 to unmap } */
#define MB_MAPS			0x100
#define PROBE_MAP_SIZE		16
#define PROBE_MAX_MAPS		((0x1000 - MB_MAPS) / PROBE_MAP_SIZE)

/* verify run: { gpa, stride, count }, every page 4 KiB aligned */
#define PROBE_RUN_SIZE		24
#define PROBE_MAX_RUNS		(PROBE_RUNS_PAGES * 0x1000 / PROBE_RUN_SIZE)

/*
 * Page signature: the first quadword of a verified 4 KiB page holds
 * gpa ^ seed, its last quadword (offset PROBE_SIG_LAST) the complement.
 */
#define PROBE_SIG_LAST		0xff8

#ifndef __ASSEMBLER__
#include <stdint.h>

/**
 * struct probe_mbox - the mailbox page (offsets are the MB_* macros)
 * @cmd: PROBE_CMD_*
 * @seed: signature seed of a verify
 * @nr_runs: verify runs at PROBE_RUNS_GPA
 * @nr_maps: entries of @maps to apply before the command
 * @addr: guest address (or port) of a single access
 * @size: its size: 1, 2, 4 or 8 (port I/O: 1, 2 or 4)
 * @value: value to write
 * @status: PROBE_STATUS_*
 * @pages: pages read back by a verify
 * @mismatches: pages whose read-back differed
 * @first_bad: address of the first such page
 * @bad_value: the first quadword read there
 * @value_out: value read
 * @value_before: value read before the write of PROBE_CMD_WRITE_READ
 * @fault_vector: exception vector
 * @fault_error: its error code (0 if it has none)
 * @fault_rip: faulting RIP
 * @fault_cr2: CR2 at the exception
 * @maps: map operations: @maps[i][0] is a GiB number, @maps[i][1] the
 *	page directory to fill for it, or 0 to unmap that GiB
 */
struct probe_mbox {
	uint64_t cmd, seed, nr_runs, nr_maps, addr, size, value, rsvd0;
	uint64_t status, pages, mismatches, first_bad, bad_value, value_out, value_before;
	uint64_t rsvd1;
	uint64_t fault_vector, fault_error, fault_rip, fault_cr2;
	uint64_t rsvd2[12];
	uint64_t maps[PROBE_MAX_MAPS][2];
};

/** struct probe_run - pages @gpa, @gpa + @stride, ... (@count of them) */
struct probe_run {
	uint64_t gpa, stride, count;
};
#endif

#endif /* MEMSLOT_PROBE_H */
