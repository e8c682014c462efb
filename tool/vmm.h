/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal VMM for `memslot run`: one vCPU on a libmemslot machine whose
 * KVM slots are set by the KVM binding (the machine's ms_machine_opts.kvm),
 * running the built-in probe guest (tool/guest/probe.S) that
 * proves from inside the guest that the memslots map what the flat view
 * says.
 *
 * Threading: everything runs on the caller's thread, which must be the
 * thread that changes the machine (and so issues the memslot ioctls). The
 * vCPU is inside KVM_RUN only during a vmm_*() call; between calls it is
 * stopped at the guest's mailbox `out`, so memslot updates made between
 * calls (hot-plug, virtio-mem) need no vCPU kick and do not wait for one.
 *
 * Guest memory: the first PROBE_RESERVED_END bytes of guest RAM (GDT,
 * mailbox, stack, code, IDT, page tables, verify runs; see
 * tool/guest/probe.h) belong to the VMM and are never verified.
 */
#ifndef MEMSLOT_VMM_H
#define MEMSLOT_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memslot/memslot.h>

struct vmm;

/*
 * The verify sample: sections (flat-view ranges of verifiable RAM, cut to
 * the requested ranges) of at most VMM_SMALL_SECTION bytes are verified
 * page by page; of a larger one only its first 4 KiB page, its last, and
 * each page whose guest address is a multiple of VMM_SAMPLE_STRIDE (the
 * first page of each 2 MiB guest page). 8 GiB thus costs 4097 pages
 * instead of 2M; with full set every page is verified.
 *
 * Cost on the emulating KVM this was written on: 50-75k pages/s, sampled
 * or not (the first touch of a guest page dominates, not the 9 guest
 * instructions per page and pass); a command carries at most 65536 pages
 * (about one second inside KVM_RUN), PROBE_MAX_RUNS runs and
 * PROBE_NR_PD - 1 GiB windows, and costs one exit (its report) plus one
 * per access that finds no KVM slot.
 */
#define VMM_PAGE_SIZE		4096ULL
#define VMM_SMALL_SECTION	(16ULL << 20)
#define VMM_SAMPLE_STRIDE	(2ULL << 20)

/**
 * struct vmm_opts - options of vmm_new()
 * @sz: MS_OPTS
 * @vcpu_id: KVM vCPU id (KVM keeps a vCPU until the VM is closed, so a
 *	second VMM on the same VM needs another id)
 * @seed: signature seed; each vmm_verify() call derives a new one from it,
 *	so that a page keeping an older signature is caught. 0: a fixed default
 * @before_check: optional; called by vmm_verify() after the guest wrote
 *	and read back every page and before the host compares them through
 *	the host addresses (tests corrupt a page here). It must not change
 *	the memory map.
 * @opaque: passed to @before_check
 */
struct vmm_opts {
	size_t sz;
	uint32_t vcpu_id;
	uint64_t seed;
	void (*before_check)(void *opaque, struct vmm *v);
	void *opaque;
};

/**
 * vmm_new() - create the vCPU and boot the probe guest
 * @m: machine built with ms_machine_opts.kvm = @k; the guest
 *	lives in its RAM at guest address 0
 * @k: the KVM VM executing @m's slot operations
 * @o: options, may be NULL
 * @err: optional error details
 *
 * Creates the vCPU with KVM's supported CPUID, writes the guest, its GDT
 * and the page tables of GiB 0 into low RAM and starts the vCPU directly
 * in 64-bit mode (CR0.PE|PG, CR4.PAE, EFER.LME|LMA, a 64-bit code
 * segment): no real-mode or firmware stage. Returns when the guest has
 * reported ready (one exit). @m and @k must outlive the VMM.
 *
 * A vCPU, once created, stays in the VM until the VM is closed: after a
 * failure past KVM_CREATE_VCPU (or a vmm_free()) a new VMM on the same VM
 * needs another @o->vcpu_id.
 *
 * Return: the VMM, or NULL with errno set (-EINVAL: low RAM is missing or
 * not in a KVM slot; KVM ioctl errors; -EIO: the guest did not boot).
 */
struct vmm *vmm_new(struct ms_machine *m, struct ms_kvm *k, const struct vmm_opts *o,
		    struct ms_error *err);

/**
 * vmm_free() - unmap and close the vCPU
 * @v: VMM, may be NULL
 *
 * The VM (and with it the vCPU object in KVM) stays open; its owner frees
 * it with ms_kvm__free().
 */
void vmm_free(struct vmm *v);

/**
 * struct vmm_range - guest-physical range to verify
 * @gpa: start
 * @size: bytes
 */
struct vmm_range {
	uint64_t gpa;
	uint64_t size;
};

/**
 * struct vmm_verify_result - outcome of vmm_verify()
 * @pages: 4 KiB pages written and read back by the guest and compared by
 *	the host
 * @ram_bytes: bytes of the ranges that are verifiable RAM (plain,
 *	writable RAM regions, outside the VMM's reserved area), sampled or not
 * @skipped_bytes: other bytes of the ranges: unassigned, I/O, ROM,
 *	read-only, RAM devices, the VMM's area, partial pages
 * @sections: verifiable sections found
 * @sampled_sections: of which were sampled rather than verified in full
 * @guest_mismatches: pages whose signature the guest did not read back
 * @host_mismatches: pages whose signature is not at the host address the
 *	flat view gives (owning region's host memory + offset)
 * @unslotted: guest accesses that left KVM as MMIO exits although the flat
 *	view has RAM there (no KVM slot); they are served through the
 *	"memory" address space, as QEMU does, and counted here
 * @first_bad_gpa: first bad page (guest read-back order first, then the
 *	host check), or UINT64_MAX
 * @expected: the first quadword @first_bad_gpa should hold
 * @found: what it held (as the guest or the host read it)
 * @first_unslotted_gpa: address of the first unslotted access, or UINT64_MAX
 * @commands: guest commands issued (batches, see VMM_SMALL_SECTION)
 * @exits: vCPU exits during the call
 * @guest_ns: nanoseconds inside KVM_RUN
 * @ns: nanoseconds for the whole call
 */
struct vmm_verify_result {
	uint64_t pages;
	uint64_t ram_bytes;
	uint64_t skipped_bytes;
	uint64_t sections;
	uint64_t sampled_sections;
	uint64_t guest_mismatches;
	uint64_t host_mismatches;
	uint64_t unslotted;
	uint64_t first_bad_gpa;
	uint64_t expected;
	uint64_t found;
	uint64_t first_unslotted_gpa;
	uint64_t commands;
	uint64_t exits;
	uint64_t guest_ns;
	uint64_t ns;
};

/**
 * vmm_verify() - verify guest RAM page signatures from inside the guest
 * @v: VMM
 * @ranges: guest ranges; only their verifiable RAM is touched
 * @n: number of @ranges
 * @full: every page instead of the sample (see VMM_SMALL_SECTION)
 * @res: filled (also on failure, with what was done so far)
 * @err: optional error details
 *
 * Splits the ranges along the flat view of "memory", picks pages, and
 * has the guest write each page's signature (probe.h) into the first and
 * last quadword, then read them all back, batch by batch; then compares
 * every page through the host address of the region the flat view names.
 * The guest's earlier contents of those quadwords are overwritten. A
 * mismatch is a result, not an error.
 *
 * Return: 0, -ERANGE for RAM at or above 4 TiB or the guest's physical
 * address width, -ENOMEM, or -EIO if the guest failed (the VMM is dead
 * then: every later call fails).
 */
int vmm_verify(struct vmm *v, const struct vmm_range *ranges, size_t n, bool full,
	       struct vmm_verify_result *res, struct ms_error *err);

/* Length of the region names in results, including the NUL. */
#define VMM_NAME_LEN	64

/**
 * struct vmm_access - one MMIO or port-I/O exit the VMM served
 * @is_write: direction
 * @is_pio: port I/O (dispatched through "I/O") rather than MMIO ("memory")
 * @addr: guest address or port of the exit
 * @size: bytes
 * @data: value written, or value returned to the guest
 * @memtx: &enum ms_memtx OR of ms_as__rw()
 * @region: name of the region the flat view maps at @addr, "" if nothing
 *	(unassigned), truncated to VMM_NAME_LEN - 1 bytes
 * @offset: @addr's offset inside that region
 */
struct vmm_access {
	bool is_write;
	bool is_pio;
	uint64_t addr;
	uint32_t size;
	uint64_t data;
	int memtx;
	char region[VMM_NAME_LEN];
	uint64_t offset;
};

/**
 * struct vmm_probe_result - outcome of vmm_probe_mmio() / vmm_probe_pio()
 * @exits: MMIO or port-I/O exits the guest's access caused (0: it did not
 *	leave KVM: the address is in a KVM slot)
 * @access: the first of them (valid if @exits)
 * @value: for a read, what the guest's instruction read (zero-extended)
 */
struct vmm_probe_result {
	uint32_t exits;
	struct vmm_access access;
	uint64_t value;
};

/**
 * vmm_probe_mmio() - have the guest access one guest-physical address
 * @v: VMM
 * @gpa: address (below 4 TiB and the guest's physical address width)
 * @size: 1, 2, 4 or 8, the size of the guest's mov
 * @is_write: write @value instead of reading
 * @value: value to write
 * @res: filled
 * @err: optional error details
 *
 * The access exits as KVM_EXIT_MMIO unless a KVM slot maps @gpa; the VMM
 * serves such exits through ms_as__rw() on "memory" and reports which
 * region the flat view sends it to.
 *
 * Return: 0, -EINVAL (size), -ERANGE, or -EIO (the guest failed).
 */
int vmm_probe_mmio(struct vmm *v, uint64_t gpa, unsigned int size, bool is_write,
		   uint64_t value, struct vmm_probe_result *res, struct ms_error *err);

/**
 * vmm_probe_pio() - have the guest execute one in or out
 * @v: VMM
 * @port: port; the mailbox ports PROBE_PORT and PROBE_PORT_FAULT are refused
 * @size: 1, 2 or 4
 * @is_write: out instead of in
 * @value: value to write
 * @res: filled; the exit is served through ms_as__rw() on "I/O"
 * @err: optional error details
 *
 * Return: 0, -EINVAL, or -EIO (the guest failed).
 */
int vmm_probe_pio(struct vmm *v, uint16_t port, unsigned int size, bool is_write,
		  uint64_t value, struct vmm_probe_result *res, struct ms_error *err);

/**
 * struct vmm_rom_result - outcome of vmm_probe_rom_write()
 * @exited: the guest's write left KVM as an MMIO exit (a READONLY slot)
 * @access: that exit (valid if @exited); the VMM drops ROM writes as
 *	QEMU does, @access.memtx tells what the address space said
 * @guest_before: the byte the guest read before writing
 * @guest_after: the byte the guest read after writing
 * @host_before: the byte at the region's host address before
 * @host_after: the byte there after
 * @unchanged: neither the guest nor the host saw the byte change
 * @region: the region the flat view maps at the address
 * @offset: offset inside it
 */
struct vmm_rom_result {
	bool exited;
	struct vmm_access access;
	uint8_t guest_before, guest_after;
	uint8_t host_before, host_after;
	bool unchanged;
	char region[VMM_NAME_LEN];
	uint64_t offset;
};

/**
 * vmm_probe_rom_write() - prove that a guest write to ROM is refused
 * @v: VMM
 * @gpa: a guest address with host memory behind it in the flat view
 *	(ROM, or RAM to see the contrast)
 * @value: byte to write; pick one that differs from the current byte
 * @res: filled
 * @err: optional error details
 *
 * The guest reads the byte, writes @value, reads it again.
 *
 * Return: 0, -EINVAL if the flat view has no host memory at @gpa,
 * -ERANGE, or -EIO (the guest failed).
 */
int vmm_probe_rom_write(struct vmm *v, uint64_t gpa, uint8_t value, struct vmm_rom_result *res,
			struct ms_error *err);

/**
 * struct vmm_stats - counters since vmm_new()
 * @runs: KVM_RUN calls
 * @exits: exits of all kinds
 * @io_exits: KVM_EXIT_IO, mailbox reports included
 * @mmio_exits: KVM_EXIT_MMIO
 * @hlt_exits: KVM_EXIT_HLT
 * @commands: guest commands, boot excluded
 * @maps: GiB windows the guest mapped
 * @boot_ns: from the first KVM_RUN to the guest's ready report
 * @setup_ns: vmm_new() before the first KVM_RUN (vCPU, CPUID, image)
 * @run_ns: nanoseconds inside KVM_RUN
 * @phys_bits: the guest's physical address width (CPUID 0x80000008)
 */
struct vmm_stats {
	uint64_t runs;
	uint64_t exits;
	uint64_t io_exits;
	uint64_t mmio_exits;
	uint64_t hlt_exits;
	uint64_t commands;
	uint64_t maps;
	uint64_t boot_ns;
	uint64_t setup_ns;
	uint64_t run_ns;
	uint32_t phys_bits;
};

/**
 * vmm_stats() - read the counters
 * @v: VMM
 * @st: filled
 */
void vmm_stats(const struct vmm *v, struct vmm_stats *st);

/**
 * vmm_halt() - have the guest execute hlt and continue (checks HLT exits)
 * @v: VMM
 * @err: optional error details
 *
 * Return: 0, or -EIO if the guest failed or no KVM_EXIT_HLT was seen.
 */
int vmm_halt(struct vmm *v, struct ms_error *err);

/**
 * vmm_crash() - have the guest execute ud2 (checks the exception report)
 * @v: VMM
 * @err: the guest's report: "guest: #UD error 0x0 at rip 0x... cr2 0x0"
 *
 * The VMM is dead afterwards: every later call fails with -EIO.
 *
 * Return: -EIO if the guest reported the exception as expected, -EPROTO
 * if it did not.
 */
int vmm_crash(struct vmm *v, struct ms_error *err);

#endif /* MEMSLOT_VMM_H */
