// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The probe guest's page tables: PML4 and PROBE_NR_PDPT directory-pointer
 * tables are written by the host before the first KVM_RUN; GiB 0 is mapped
 * for good by directory 0. Every other GiB is mapped on demand from a pool
 * of PROBE_NR_PD - 1 directories (2 MiB pages): before a command the host
 * picks directories (least recently used first) and puts "unmap GiB a,
 * map GiB b with directory d" operations into the mailbox; the guest
 * writes the entries and reloads CR3. Host writes to live page tables
 * would be missed by a shadow MMU, guest writes are not. The host keeps a
 * mirror (pd_gib) of what the guest was told.
 */
#include <errno.h>
#include <inttypes.h>

#include "vmm_internal.h"

_Static_assert(PROBE_NR_PD - 1 <= PROBE_MAX_MAPS / 2, "a batch's map operations fit");

void window_init(struct vmm *v)
{
	uint64_t *pml4 = (uint64_t *)(v->low + PROBE_PML4_GPA);
	uint64_t *pdpt0 = (uint64_t *)(v->low + PROBE_PDPT_GPA);
	uint64_t *pd0 = (uint64_t *)(v->low + PROBE_PD_GPA);

	for (int i = 0; i < PROBE_NR_PDPT; i++)
		pml4[i] = (PROBE_PDPT_GPA + (uint64_t)i * 0x1000) | PROBE_PTE_P | PROBE_PTE_RW;
	pdpt0[0] = PROBE_PD_GPA | PROBE_PTE_P | PROBE_PTE_RW;
	for (uint64_t i = 0; i < 512; i++)
		pd0[i] = i << 21 | PROBE_PTE_P | PROBE_PTE_RW | PROBE_PTE_PS;
	v->pd_gib[0] = 0;
	for (int d = 1; d < PROBE_NR_PD; d++)
		v->pd_gib[d] = NO_GIB;
}

void window_map(struct vmm *v, const uint64_t *gibs, size_t n)
{
	struct probe_mbox *mb = v->mb;
	size_t ops = mb->nr_maps;

	v->stamp++;
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < PROBE_NR_PD; d++)
			if (v->pd_gib[d] == gibs[i])
				v->pd_stamp[d] = v->stamp;
	for (size_t i = 0; i < n; i++) {
		int d, pick = -1;

		for (d = 0; d < PROBE_NR_PD; d++)
			if (v->pd_gib[d] == gibs[i])
				break;
		if (d < PROBE_NR_PD)
			continue;
		/* a free directory, else the least recently used one not needed now */
		for (d = 1; d < PROBE_NR_PD; d++) {
			if (v->pd_stamp[d] == v->stamp)
				continue;
			if (v->pd_gib[d] == NO_GIB) {
				pick = d;
				break;
			}
			if (pick < 0 || v->pd_stamp[d] < v->pd_stamp[pick])
				pick = d;
		}
		if (v->pd_gib[pick] != NO_GIB) {
			mb->maps[ops][0] = v->pd_gib[pick];
			mb->maps[ops][1] = 0;
			ops++;
		}
		mb->maps[ops][0] = gibs[i];
		mb->maps[ops][1] = PROBE_PD_GPA + (uint64_t)pick * 0x1000;
		ops++;
		v->pd_gib[pick] = gibs[i];
		v->pd_stamp[pick] = v->stamp;
		v->st.maps++;
	}
	mb->nr_maps = ops;
}

int window_check_gpa(struct vmm *v, uint64_t gpa, uint64_t size, struct ms_error *err)
{
	if (gpa >= v->max_gpa || size > v->max_gpa - gpa)
		return ms_error_set(err, -ERANGE,
				    "vcpu: 0x%" PRIx64 "+0x%" PRIx64 " beyond the guest's reach 0x%"
				    PRIx64 " (%u phys-bits, %u GiB of page tables)", gpa, size,
				    v->max_gpa, v->st.phys_bits, (unsigned int)NR_GIB_MAX);
	return 0;
}
