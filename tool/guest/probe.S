/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe guest of `memslot run`: 64-bit code, linked at PROBE_CODE_GPA,
 * started by the VMM directly in long mode (CS 64-bit, paging on, the
 * host-built PML4 in CR3, interrupts off). It owns no memory map of its
 * own: the VMM names the GiB windows to map with 2 MiB pages before each
 * command, and the guest writes those page-directory entries itself so that
 * every page-table update is a guest write, which any KVM MMU (two-level
 * paging, shadow paging) observes. Layout and mailbox: probe.h.
 *
 * Register use in the command loop: rbx = mailbox; everything else is
 * scratch. Costs (guest instructions): about 9 per page and pass of a
 * verify, about 2100 per GiB mapped.
 */
#include "probe.h"

	.code64
	.text
	.globl	_start
_start:
	mov	$PROBE_STACK_TOP, %esp

	/* IDT: 64-bit interrupt gates for vectors 0-31, one 16-byte stub each */
	lea	exc_stubs(%rip), %rsi
	mov	$PROBE_IDT_GPA, %edi
	xor	%ecx, %ecx
1:	mov	%rsi, %rax
	mov	%ax, (%rdi)
	movw	$PROBE_SEL_CODE, 2(%rdi)
	movw	$0x8e00, 4(%rdi)		/* present, DPL 0, interrupt gate */
	shr	$16, %rax
	mov	%ax, 6(%rdi)
	shr	$16, %rax
	mov	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
	add	$16, %rsi
	add	$16, %rdi
	inc	%ecx
	cmp	$32, %ecx
	jb	1b
	lidt	idtr(%rip)

	mov	$PROBE_STATUS_READY, %eax

/* Report status eax, wait for the next command. */
cmd_loop:
	mov	$PROBE_MBOX_GPA, %ebx
	mov	%rax, MB_STATUS(%rbx)
	mov	$PROBE_PORT, %dx
	out	%eax, %dx

	call	do_maps
	mov	MB_CMD(%rbx), %rax
	cmp	$PROBE_NR_CMDS, %rax
	jae	bad_cmd
	lea	cmd_table(%rip), %rcx
	movslq	(%rcx,%rax,4), %rax
	add	%rcx, %rax
	jmp	*%rax

bad_cmd:
	mov	$PROBE_STATUS_BAD_CMD, %eax
	jmp	cmd_loop

	.balign	4
cmd_table:
	.long	cmd_nop - cmd_table
	.long	cmd_verify - cmd_table
	.long	cmd_read - cmd_table
	.long	cmd_write - cmd_table
	.long	cmd_write_read - cmd_table
	.long	cmd_pio_in - cmd_table
	.long	cmd_pio_out - cmd_table
	.long	cmd_hlt - cmd_table
	.long	cmd_ud2 - cmd_table

cmd_nop:
	xor	%eax, %eax
	jmp	cmd_loop

cmd_hlt:
	hlt
	xor	%eax, %eax
	jmp	cmd_loop

cmd_ud2:
	ud2

/*
 * Apply the mailbox's map operations in order, then reload CR3 to drop
 * every cached translation (no global pages are used).
 */
do_maps:
	mov	MB_NR_MAPS(%rbx), %rcx
	test	%rcx, %rcx
	jz	9f
	lea	MB_MAPS(%rbx), %rsi
1:	mov	(%rsi), %rax			/* GiB number */
	mov	8(%rsi), %rdi			/* page directory, or 0 */
	mov	%rax, %r8
	shr	$9, %r8
	shl	$12, %r8
	add	$PROBE_PDPT_GPA, %r8		/* its page-directory-pointer table */
	mov	%rax, %r9
	and	$511, %r9
	lea	(%r8,%r9,8), %r8		/* its PDPT entry */
	test	%rdi, %rdi
	jz	3f
	mov	%rax, %r10
	shl	$30, %r10
	or	$(PROBE_PTE_P | PROBE_PTE_RW | PROBE_PTE_PS), %r10
	xor	%r9d, %r9d
2:	mov	%r10, (%rdi,%r9,8)
	add	$0x200000, %r10
	inc	%r9d
	cmp	$512, %r9d
	jb	2b
	or	$(PROBE_PTE_P | PROBE_PTE_RW), %rdi
3:	mov	%rdi, (%r8)
	add	$PROBE_MAP_SIZE, %rsi
	dec	%rcx
	jnz	1b
	mov	%cr3, %rax
	mov	%rax, %cr3
9:	ret

/*
 * Verify: pass 1 writes every page's signature, pass 2 reads them all
 * back, so that two guest pages sharing host memory show up as a
 * mismatch of the earlier one.
 */
cmd_verify:
	mov	MB_SEED(%rbx), %r12
	mov	MB_NR_RUNS(%rbx), %r13
	xor	%r14d, %r14d			/* mismatches */
	xor	%r15d, %r15d			/* pages read back */
	mov	%r14, MB_FIRST_BAD(%rbx)
	mov	%r14, MB_BAD_VALUE(%rbx)

	mov	$PROBE_RUNS_GPA, %esi
	mov	%r13, %rcx
	test	%rcx, %rcx
	jz	5f
1:	mov	(%rsi), %rdi
	mov	8(%rsi), %r8
	mov	16(%rsi), %r9
	test	%r9, %r9
	jz	3f
2:	mov	%rdi, %rax
	xor	%r12, %rax
	mov	%rax, (%rdi)
	not	%rax
	mov	%rax, PROBE_SIG_LAST(%rdi)
	add	%r8, %rdi
	dec	%r9
	jnz	2b
3:	add	$PROBE_RUN_SIZE, %rsi
	dec	%rcx
	jnz	1b

	mov	$PROBE_RUNS_GPA, %esi
	mov	%r13, %rcx
1:	mov	(%rsi), %rdi
	mov	8(%rsi), %r8
	mov	16(%rsi), %r9
	test	%r9, %r9
	jz	4f
2:	inc	%r15
	mov	%rdi, %rax
	xor	%r12, %rax
	cmp	(%rdi), %rax
	jne	6f
	not	%rax
	cmp	PROBE_SIG_LAST(%rdi), %rax
	jne	6f
3:	add	%r8, %rdi
	dec	%r9
	jnz	2b
4:	add	$PROBE_RUN_SIZE, %rsi
	dec	%rcx
	jnz	1b
5:	mov	%r15, MB_PAGES(%rbx)
	mov	%r14, MB_MISMATCHES(%rbx)
	xor	%eax, %eax
	jmp	cmd_loop
6:	inc	%r14
	cmp	$1, %r14
	jne	3b
	mov	%rdi, MB_FIRST_BAD(%rbx)
	mov	(%rdi), %rax
	mov	%rax, MB_BAD_VALUE(%rbx)
	jmp	3b

/* Single accesses: rdi = address, rcx = size, rax = value. */
cmd_read:
	call	load_access
	call	do_read
	jc	bad_size
	mov	%rax, MB_VALUE_OUT(%rbx)
	xor	%eax, %eax
	jmp	cmd_loop

cmd_write:
	call	load_access
	call	do_write
	jc	bad_size
	xor	%eax, %eax
	jmp	cmd_loop

cmd_write_read:
	call	load_access
	call	do_read
	jc	bad_size
	mov	%rax, MB_VALUE_BEFORE(%rbx)
	mov	MB_VALUE(%rbx), %rax
	call	do_write
	call	do_read
	mov	%rax, MB_VALUE_OUT(%rbx)
	xor	%eax, %eax
	jmp	cmd_loop

cmd_pio_in:
	call	load_access
	mov	%edi, %edx
	xor	%eax, %eax
	cmp	$1, %rcx
	jne	1f
	in	%dx, %al
	jmp	3f
1:	cmp	$2, %rcx
	jne	2f
	in	%dx, %ax
	jmp	3f
2:	cmp	$4, %rcx
	jne	bad_size
	in	%dx, %eax
3:	mov	%rax, MB_VALUE_OUT(%rbx)
	xor	%eax, %eax
	jmp	cmd_loop

cmd_pio_out:
	call	load_access
	mov	%edi, %edx
	cmp	$1, %rcx
	jne	1f
	out	%al, %dx
	jmp	3f
1:	cmp	$2, %rcx
	jne	2f
	out	%ax, %dx
	jmp	3f
2:	cmp	$4, %rcx
	jne	bad_size
	out	%eax, %dx
3:	xor	%eax, %eax
	jmp	cmd_loop

bad_size:
	mov	$PROBE_STATUS_BAD_SIZE, %eax
	jmp	cmd_loop

load_access:
	mov	MB_ADDR(%rbx), %rdi
	mov	MB_SIZE(%rbx), %rcx
	mov	MB_VALUE(%rbx), %rax
	ret

/* rax = the rcx bytes at rdi, zero-extended; CF set for a bad size */
do_read:
	cmp	$1, %rcx
	jne	1f
	movzbl	(%rdi), %eax
	ret
1:	cmp	$2, %rcx
	jne	2f
	movzwl	(%rdi), %eax
	ret
2:	cmp	$4, %rcx
	jne	3f
	mov	(%rdi), %eax
	ret
3:	cmp	$8, %rcx
	jne	4f
	mov	(%rdi), %rax
	ret
4:	stc
	ret

/* store the low rcx bytes of rax at rdi; CF set for a bad size */
do_write:
	cmp	$1, %rcx
	jne	1f
	mov	%al, (%rdi)
	clc
	ret
1:	cmp	$2, %rcx
	jne	2f
	mov	%ax, (%rdi)
	clc
	ret
2:	cmp	$4, %rcx
	jne	3f
	mov	%eax, (%rdi)
	clc
	ret
3:	cmp	$8, %rcx
	jne	4f
	mov	%rax, (%rdi)
	clc
	ret
4:	stc
	ret

/*
 * Exceptions: each stub pushes a zero error code where the CPU pushes
 * none, then the vector. Vectors with an error code (SDM vol. 3, 6.13):
 * 8, 10-14, 17, 21, 29, 30.
 */
	.balign	16
exc_stubs:
	vector = 0
	.rept	32
	.balign	16
	errcode = (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17)
	errcode = errcode || (vector == 21) || (vector == 29) || (vector == 30)
	.if	!errcode
	push	$0
	.endif
	push	$vector
	jmp	exc_common
	vector = vector + 1
	.endr

exc_common:
	mov	$PROBE_MBOX_GPA, %ebx
	pop	%rax
	mov	%rax, MB_FAULT_VECTOR(%rbx)
	pop	%rax
	mov	%rax, MB_FAULT_ERROR(%rbx)
	pop	%rax
	mov	%rax, MB_FAULT_RIP(%rbx)
	mov	%cr2, %rax
	mov	%rax, MB_FAULT_CR2(%rbx)
	mov	MB_FAULT_VECTOR(%rbx), %rax
	mov	$PROBE_PORT_FAULT, %dx
	out	%eax, %dx
1:	hlt
	jmp	1b

	.balign	8
idtr:
	.word	32 * 16 - 1
	.quad	PROBE_IDT_GPA
