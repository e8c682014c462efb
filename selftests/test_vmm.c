// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The VMM of `memslot run` (tool/vmm.c) on a real VM: a pc or q35 machine
 * whose KVM slots are set by the KVM binding, the probe guest booted
 * straight into 64-bit mode, page signatures verified from inside the
 * guest and through the host addresses, MMIO and port-I/O exits served
 * through the address spaces, ROM writes refused, and the failures the
 * checks exist for: a page corrupted behind the guest's back, a KVM slot
 * pointing at other host memory, RAM without a KVM slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#include "vmm.h"
#include "guest/probe.h"

#define RAM_SIZE	(256 * MiB)
#define TEST_MMIO_GPA	0xfe000000ull	/* in the PCI hole, above "pci" (priority -1) */
#define TEST_PORT	0x80

/* A device with one register file: reads give a pattern, writes are logged. */
struct latch {
	uint64_t last_addr, last_val;
	unsigned int last_size;
	unsigned int reads, writes;
};

static int latch_read(void *opaque, uint64_t addr, uint64_t *val, unsigned int size)
{
	struct latch *l = opaque;

	l->reads++;
	l->last_addr = addr;
	l->last_size = size;
	*val = (0x1122334455667788ull + addr) & (size == 8 ? ~0ull : (1ull << (size * 8)) - 1);
	return MS_MEMTX_OK;
}

static int latch_write(void *opaque, uint64_t addr, uint64_t val, unsigned int size)
{
	struct latch *l = opaque;

	l->writes++;
	l->last_addr = addr;
	l->last_val = val;
	l->last_size = size;
	return MS_MEMTX_OK;
}

static const struct ms_region_ops latch_ops = {
	.read = latch_read, .write = latch_write,
	.valid_min = 1, .valid_max = 8, .impl_min = 1, .impl_max = 8,
};

FIXTURE(vmm) {
	struct ms_kvm *k;
	struct ms_ctx *ctx;
	struct ms_machine *m;
	struct vmm *v;
	struct ms_as *io_as;
	struct latch mmio, pio;
	uint8_t *corrupt;		/* before_check: flip this byte */
	unsigned int checks;		/* before_check calls */
};

FIXTURE_VARIANT(vmm) {
	enum ms_machine_type type;
};

FIXTURE_VARIANT_ADD(vmm, pc) {
	.type = MS_MACHINE_PC,
};

FIXTURE_VARIANT_ADD(vmm, q35) {
	.type = MS_MACHINE_Q35,
};

static void before_check(void *opaque, struct vmm *v)
{
	FIXTURE_DATA(vmm) *self = opaque;

	(void)v;
	self->checks++;
	if (self->corrupt)
		*self->corrupt ^= 0xff;
}

static int find_io_as(struct ms_as *as, void *opaque)
{
	if (strcmp(ms_as__name(as), "I/O"))
		return 0;
	*(struct ms_as **)opaque = as;
	return 1;
}

FIXTURE_SETUP(vmm)
{
	MS_OPTS(ms_machine_opts, mo, .type = variant->type, .ram_size = RAM_SIZE, .slots = 4,
		.maxmem = 128 * GiB);
	MS_OPTS(vmm_opts, vo, .before_check = before_check, .opaque = self);
	struct ms_error err = { 0 };

	self->k = ms_kvm__new(NULL, &err);
	if (!self->k && kvm_unusable())
		SKIP(return, "%s", kvm_unusable());
	ASSERT_NE(NULL, self->k) {
		TH_LOG("ms_kvm__new: %s", err.msg);
	}
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	mo.kvm_memslots = ms_kvm__max_memslots(self->k);
	mo.kvm = self->k;
	self->m = ms_machine__new(self->ctx, &mo, &err);
	ASSERT_NE(NULL, self->m) {
		TH_LOG("ms_machine__new: %s", err.msg);
	}
	ms_ctx__for_each_as(self->ctx, find_io_as, &self->io_as);
	ASSERT_NE(NULL, self->io_as);
	self->v = vmm_new(self->m, self->k, &vo, &err);
	ASSERT_NE(NULL, self->v) {
		TH_LOG("vmm_new: %s", err.msg);
	}
}

FIXTURE_TEARDOWN(vmm)
{
	vmm_free(self->v);
	ms_machine__free(self->m);
	ms_ctx__free(self->ctx);
	ms_kvm__free(self->k);
}

/* ---- helpers ------------------------------------------------------------ */

/* The host address the flat view of "memory" gives for @gpa. */
static uint8_t *hva_of(struct ms_machine *m, uint64_t gpa)
{
	uint64_t xlat, len = 1;
	const struct ms_flat_range *fr = ms_as__translate(ms_machine__memory_as(m), gpa, &xlat,
							  &len);

	if (!fr || !ms_region__host_ptr(fr->mr))
		return NULL;
	return (uint8_t *)ms_region__host_ptr(fr->mr) + xlat;
}

static int __verify(struct __test_metadata *_metadata, struct vmm *v, uint64_t gpa,
		    uint64_t size, bool full, struct vmm_verify_result *res)
{
	struct vmm_range r = { gpa, size };
	struct ms_error err = { 0 };
	int ret = vmm_verify(v, &r, 1, full, res, &err);

	if (ret)
		TH_LOG("vmm_verify(0x%" PRIx64 "+0x%" PRIx64 "): %s", gpa, size, err.msg);
	return ret;
}
#define VERIFY(gpa, size, full, res) __verify(_metadata, self->v, (gpa), (size), (full), (res))

/* Pages the sample rule of vmm.h picks in a page-aligned section. */
static uint64_t sample_pages(uint64_t start, uint64_t end)
{
	uint64_t n = 2;

	if (end - start <= VMM_SMALL_SECTION)
		return (end - start) / VMM_PAGE_SIZE;
	for (uint64_t p = (start / VMM_SAMPLE_STRIDE + 1) * VMM_SAMPLE_STRIDE;
	     p < end - VMM_PAGE_SIZE; p += VMM_SAMPLE_STRIDE)
		n++;
	return n;
}

#define EXPECT_CLEAN(res) do {							\
	EXPECT_EQ(0, (res).guest_mismatches);					\
	EXPECT_EQ(0, (res).host_mismatches);					\
	EXPECT_EQ(0, (res).unslotted);						\
	EXPECT_EQ(UINT64_MAX, (res).first_bad_gpa);				\
} while (0)

static struct ms_memdev *__add_dimm(struct __test_metadata *_metadata, struct ms_machine *m,
				    const char *id, enum ms_backend_kind kind, uint64_t size)
{
	char bid[32];
	MS_OPTS(ms_backend_opts, bo, .kind = kind, .id = bid, .size = size);
	MS_OPTS(ms_memdev_opts, dopts, .type = MS_MEMDEV_DIMM, .id = id,
		.slot = MS_MEMDEV_SLOT_AUTO, .hotplugged = true);
	struct ms_error err = { 0 };
	struct ms_memdev *d;

	snprintf(bid, sizeof(bid), "mem-%s", id);
	dopts.memdev = ms_machine__add_backend(m, &bo, &err);
	if (!dopts.memdev) {
		TH_LOG("add_backend(%s): %s", bid, err.msg);
		return NULL;
	}
	d = ms_machine__device_add(m, &dopts, &err);
	if (!d)
		TH_LOG("device_add(%s): %s", id, err.msg);
	return d;
}
#define ADD_DIMM(id, kind, size) __add_dimm(_metadata, self->m, (id), (kind), (size))

static uint64_t dimm_addr(struct ms_memdev *d)
{
	struct ms_memdev_info i;

	ms_memdev__info(d, &i);
	return i.addr;
}

struct slot_find {
	uint64_t gpa;
	struct ms_kvm_slot s;
	bool found;
};

static int slot_find_fn(const struct ms_kvm_slot *s, void *opaque)
{
	struct slot_find *f = opaque;

	if (s->as_id || s->gpa != f->gpa)
		return 0;
	f->s = *s;
	f->found = true;
	return 1;
}

/* Change a KVM slot behind the library's back (size 0 deletes it). */
static int raw_slot(struct ms_kvm *k, const struct ms_kvm_slot *s, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = s->slot | (uint32_t)s->as_id << 16,
		.flags = s->flags,
		.guest_phys_addr = s->gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return ioctl(ms_kvm__vm_fd(k), KVM_SET_USER_MEMORY_REGION, &r);
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Rss of the mapping holding @p, in bytes (/proc/self/smaps), or UINT64_MAX. */
static uint64_t mapping_rss(const void *p)
{
	uintptr_t a = (uintptr_t)p, start, end;
	uint64_t rss = UINT64_MAX, kb;
	bool in = false;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = start <= a && a < end;
			continue;
		}
		if (in && sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1) {
			rss = kb * 1024;
			break;
		}
	}
	fclose(f);
	return rss;
}

/* ---- boot ----------------------------------------------------------------- */

TEST_F(vmm, boots_in_long_mode_with_one_exit)
{
	struct vmm_stats st;
	struct ms_error err = { 0 };

	vmm_stats(self->v, &st);
	EXPECT_EQ(1, st.exits);
	EXPECT_EQ(1, st.io_exits);
	EXPECT_EQ(0, st.commands);
	EXPECT_LE(36, st.phys_bits);
	TH_LOG("setup %.3f ms, boot %.3f ms (%" PRIu64 " KVM_RUN), %u phys-bits",
	       st.setup_ns / 1e6, st.boot_ns / 1e6, st.runs, st.phys_bits);

	/* hlt leaves KVM as KVM_EXIT_HLT without an in-kernel irqchip */
	ASSERT_EQ(0, vmm_halt(self->v, &err)) {
		TH_LOG("vmm_halt: %s", err.msg);
	}
	vmm_stats(self->v, &st);
	EXPECT_EQ(1, st.hlt_exits);
	EXPECT_EQ(1, st.commands);
}

/* ---- verify ------------------------------------------------------------- */

TEST_F(vmm, boot_ram_verifies_by_sample)
{
	struct ms_machine_layout l;
	struct vmm_verify_result res;
	uint64_t want;

	ms_machine__layout(self->m, &l);
	ASSERT_EQ(RAM_SIZE, l.below_4g);
	ASSERT_EQ(0, VERIFY(0, l.below_4g, false, &res));
	/*
	 * Sections of verifiable RAM: [PROBE_RESERVED_END, 0xc0000) up to the
	 * option ROM (the SMRAM window shows RAM before the firmware runs), all
	 * 96 pages; [1 MiB, 256 MiB), sampled.
	 */
	want = sample_pages(PROBE_RESERVED_END, 0xc0000) + sample_pages(MiB, RAM_SIZE);
	EXPECT_EQ(want, res.pages);
	EXPECT_EQ(2, res.sections);
	EXPECT_EQ(1, res.sampled_sections);
	EXPECT_EQ(0xc0000 - PROBE_RESERVED_END + RAM_SIZE - MiB, res.ram_bytes);
	EXPECT_EQ(l.below_4g - res.ram_bytes, res.skipped_bytes);
	EXPECT_CLEAN(res);
	EXPECT_EQ(1, res.commands);
	EXPECT_EQ(res.commands, res.exits);	/* one exit per command: the report */
	EXPECT_EQ(1, self->checks);
	TH_LOG("sample of %" PRIu64 " MiB: %" PRIu64 " pages in %.3f ms (guest %.3f ms)",
	       l.below_4g >> 20, res.pages, res.ns / 1e6, res.guest_ns / 1e6);

	/* the guest wrote the signatures where the flat view says */
	uint64_t seed = *(uint64_t *)hva_of(self->m, MiB) ^ MiB;
	EXPECT_EQ(seed ^ (2 * MiB), *(uint64_t *)hva_of(self->m, 2 * MiB));
	EXPECT_EQ(~(seed ^ (RAM_SIZE - 4096)),
		  *(uint64_t *)(hva_of(self->m, RAM_SIZE - 4096) + PROBE_SIG_LAST));
}

TEST_F(vmm, full_verify_checks_every_page)
{
	struct vmm_verify_result res;

	ASSERT_EQ(0, VERIFY(0, 32 * MiB, true, &res));
	EXPECT_EQ((0xc0000 - PROBE_RESERVED_END + 31 * MiB) / 4096, res.pages);
	EXPECT_EQ(0, res.sampled_sections);
	EXPECT_CLEAN(res);
	EXPECT_EQ(res.commands, res.exits);
	TH_LOG("full: %" PRIu64 " pages in %.1f ms: %.0f pages/s, %" PRIu64 " commands",
	       res.pages, res.ns / 1e6, res.pages * 1e9 / res.ns, res.commands);

	/* a new seed per call: the second pass rewrites every page */
	uint64_t before = *(uint64_t *)hva_of(self->m, 8 * MiB);

	ASSERT_EQ(0, VERIFY(8 * MiB, 4096, true, &res));
	EXPECT_EQ(1, res.pages);
	EXPECT_NE(before, *(uint64_t *)hva_of(self->m, 8 * MiB));
	EXPECT_CLEAN(res);
}

TEST_F(vmm, non_ram_is_skipped)
{
	struct vmm_verify_result res;

	/* the VMM's own pages, the option ROM and the ISA BIOS */
	ASSERT_EQ(0, VERIFY(0, PROBE_RESERVED_END, true, &res));
	EXPECT_EQ(0, res.pages);
	EXPECT_EQ(PROBE_RESERVED_END, res.skipped_bytes);
	ASSERT_EQ(0, VERIFY(0xc0000, 0x40000, true, &res));
	EXPECT_EQ(0, res.pages);
	EXPECT_EQ(0x40000, res.skipped_bytes);
	ASSERT_EQ(0, VERIFY(0xfec00000, 0x1400000, false, &res));
	EXPECT_EQ(0, res.pages);
	EXPECT_EQ(0, res.commands);
	/* partial pages at both ends are not verified */
	ASSERT_EQ(0, VERIFY(2 * MiB + 1, 3 * 4096, true, &res));
	EXPECT_EQ(2, res.pages);
	EXPECT_EQ(3 * 4096 - 2 * 4096, res.skipped_bytes);
	EXPECT_CLEAN(res);
}

TEST_F(vmm, corrupted_page_is_caught_by_the_host_check)
{
	struct vmm_verify_result res;
	uint64_t bad = 64 * MiB;

	self->corrupt = hva_of(self->m, bad) + 3;
	ASSERT_NE(NULL, self->corrupt - 3);
	ASSERT_EQ(0, VERIFY(0, RAM_SIZE, false, &res));
	EXPECT_EQ(1, self->checks);
	EXPECT_EQ(0, res.guest_mismatches);
	EXPECT_EQ(1, res.host_mismatches);
	EXPECT_EQ(bad, res.first_bad_gpa);
	EXPECT_EQ(res.expected ^ (0xffull << 24), res.found);

	/* the corruption stays: the next pass writes a new signature over it */
	self->corrupt = NULL;
	ASSERT_EQ(0, VERIFY(0, RAM_SIZE, false, &res));
	EXPECT_CLEAN(res);
}

TEST_F(vmm, hotplugged_dimms_verify)
{
	struct vmm_verify_result res;
	struct ms_kvm_stats k0, k1;
	struct ms_memdev *d1, *d2;
	uint64_t a1, a2, t0, slots0;
	struct ms_error err = { 0 };

	slots0 = ms_slotmap__nr_used(ms_machine__kvm(self->m));
	ms_kvm__stats(self->k, &k0);
	t0 = ns_now();
	/* memslot changes between commands: the vCPU waits at its mailbox out */
	d1 = ADD_DIMM("d1", MS_BACKEND_RAM, 64 * MiB);
	ASSERT_NE(NULL, d1);
	d2 = ADD_DIMM("d2", MS_BACKEND_MEMFD, 8 * MiB);
	ASSERT_NE(NULL, d2);
	ms_kvm__stats(self->k, &k1);
	TH_LOG("2 x device_add with a stopped vCPU: %.3f ms, %" PRIu64 " memslot ioctls of %.1f us",
	       (ns_now() - t0) / 1e6, k1.ioctls - k0.ioctls,
	       (k1.ioctl_ns - k0.ioctl_ns) / 1e3 / (double)(k1.ioctls - k0.ioctls));
	EXPECT_EQ(slots0 + 2, ms_slotmap__nr_used(ms_machine__kvm(self->m)));
	a1 = dimm_addr(d1);
	a2 = dimm_addr(d2);
	EXPECT_LE(4 * GiB, a1);

	ASSERT_EQ(0, VERIFY(a1, 64 * MiB, false, &res));
	EXPECT_EQ(sample_pages(a1, a1 + 64 * MiB), res.pages);
	EXPECT_EQ(1, res.sampled_sections);
	EXPECT_CLEAN(res);
	ASSERT_EQ(0, VERIFY(a2, 8 * MiB, false, &res));
	EXPECT_EQ(8 * MiB / 4096, res.pages);
	EXPECT_CLEAN(res);

	/* every page of both, one call, one command */
	struct vmm_range rr[2] = { { a1, 64 * MiB }, { a2, 8 * MiB } };

	ASSERT_EQ(0, vmm_verify(self->v, rr, 2, true, &res, &err)) {
		TH_LOG("vmm_verify: %s", err.msg);
	}
	EXPECT_EQ(72 * MiB / 4096, res.pages);
	EXPECT_CLEAN(res);
	TH_LOG("full DIMMs: %" PRIu64 " pages in %.1f ms: %.0f pages/s, %" PRIu64 " exits",
	       res.pages, res.ns / 1e6, res.pages * 1e9 / res.ns, res.exits);

	/* unplugged: nothing left to verify there */
	ASSERT_EQ(0, ms_machine__device_del(self->m, d2, &err)) {
		TH_LOG("device_del: %s", err.msg);
	}
	ASSERT_EQ(0, VERIFY(a2, 8 * MiB, false, &res));
	EXPECT_EQ(0, res.pages);
	EXPECT_EQ(8 * MiB, res.skipped_bytes);
	ASSERT_EQ(0, VERIFY(a1, 64 * MiB, false, &res));
	EXPECT_CLEAN(res);
}

TEST_F(vmm, slot_on_other_host_memory_is_caught)
{
	struct vmm_verify_result res;
	struct ms_memdev *d = ADD_DIMM("d1", MS_BACKEND_RAM, 32 * MiB);
	struct slot_find f = { 0 };
	void *other;

	ASSERT_NE(NULL, d);
	f.gpa = dimm_addr(d);
	ms_kvm__for_each_slot(self->k, slot_find_fn, &f);
	ASSERT_TRUE(f.found);
	other = mmap(NULL, f.s.size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	ASSERT_EQ(0, raw_slot(self->k, &f.s, 0, (void *)(uintptr_t)f.s.hva));
	ASSERT_EQ(0, raw_slot(self->k, &f.s, f.s.size, other));

	/* consistent for the guest, wrong for the flat view */
	EXPECT_EQ(0, VERIFY(f.gpa, 32 * MiB, false, &res));
	EXPECT_EQ(0, res.guest_mismatches);
	EXPECT_EQ(res.pages, res.host_mismatches);
	EXPECT_EQ(f.gpa, res.first_bad_gpa);
	EXPECT_EQ(0, res.unslotted);

	/* without a slot the accesses exit and are served through "memory" */
	ASSERT_EQ(0, raw_slot(self->k, &f.s, 0, other));
	EXPECT_EQ(0, VERIFY(f.gpa, 32 * MiB, false, &res));
	EXPECT_EQ(0, res.guest_mismatches);
	EXPECT_EQ(0, res.host_mismatches);
	EXPECT_EQ(4 * res.pages, res.unslotted);	/* 2 writes, 2 reads a page */
	EXPECT_EQ(f.gpa, res.first_unslotted_gpa);
	EXPECT_EQ(res.commands + res.unslotted, res.exits);

	/* put the slot back as the library has it */
	ASSERT_EQ(0, raw_slot(self->k, &f.s, f.s.size, (void *)(uintptr_t)f.s.hva));
	EXPECT_EQ(0, VERIFY(f.gpa, 32 * MiB, false, &res));
	EXPECT_CLEAN(res);
	munmap(other, f.s.size);
}

TEST_F(vmm, large_requests_are_split_into_commands)
{
	enum { NR = PROBE_MAX_RUNS + 100, NR_GIB = PROBE_NR_PD + 6 };
	struct vmm_range *rr = calloc(NR, sizeof(*rr));
	struct vmm_verify_result res;
	struct ms_error err = { 0 };
	struct ms_memdev *d;
	uint64_t a;

	ASSERT_NE(NULL, rr);
	/* more runs than the guest's run area holds: one page each */
	for (int i = 0; i < NR; i++)
		rr[i] = (struct vmm_range){ MiB + (uint64_t)i * 2 * 4096, 4096 };
	ASSERT_EQ(0, vmm_verify(self->v, rr, NR, false, &res, &err)) {
		TH_LOG("vmm_verify: %s", err.msg);
	}
	EXPECT_EQ(NR, res.pages);
	EXPECT_EQ(2, res.commands);
	EXPECT_EQ(2, res.exits);
	EXPECT_CLEAN(res);

	/* more GiB windows than page directories: a DIMM of NR_GIB GiB, host memory untouched */
	d = ADD_DIMM("big", MS_BACKEND_RAM, NR_GIB * GiB);
	ASSERT_NE(NULL, d);
	a = dimm_addr(d);
	for (int g = 0; g < NR_GIB; g++)
		rr[g] = (struct vmm_range){ a + g * GiB + (uint64_t)g * 4096, 4096 };
	ASSERT_EQ(0, vmm_verify(self->v, rr, NR_GIB, false, &res, &err)) {
		TH_LOG("vmm_verify: %s", err.msg);
	}
	EXPECT_EQ(NR_GIB, res.pages);
	EXPECT_EQ(2, res.commands);
	EXPECT_CLEAN(res);
	/* and the sample of all of it, windows recycled between commands */
	ASSERT_EQ(0, VERIFY(a, NR_GIB * GiB, false, &res));
	EXPECT_EQ(sample_pages(a, a + NR_GIB * GiB), res.pages);
	EXPECT_EQ(2, res.commands);
	EXPECT_CLEAN(res);
	TH_LOG("%d GiB sample: %" PRIu64 " pages in %.1f ms, %" PRIu64 " commands",
	       NR_GIB, res.pages, res.ns / 1e6, res.commands);
	free(rr);
}

/*
 * The sample of a large DIMM costs the sampled pages, not their 2 MiB
 * neighbourhoods: with transparent huge pages "always" (Debian kernels)
 * each page the guest writes was a huge page, and the sample of a 70 GiB
 * DIMM filled a 4 GiB host.
 */
TEST_F(vmm, sampled_verify_touches_only_the_sampled_pages)
{
	struct vmm_verify_result res;
	struct ms_memdev *d[2];
	uint64_t a, rss;
	uint8_t *hva;

	d[0] = ADD_DIMM("ram", MS_BACKEND_RAM, GiB);
	ASSERT_NE(NULL, d[0]);
	d[1] = ADD_DIMM("memfd", MS_BACKEND_MEMFD, GiB);
	ASSERT_NE(NULL, d[1]);
	for (int i = 0; i < 2; i++) {
		a = dimm_addr(d[i]);
		hva = hva_of(self->m, a);
		ASSERT_NE(NULL, hva);
		ASSERT_EQ(0, VERIFY(a, GiB, false, &res));
		EXPECT_EQ(sample_pages(a, a + GiB), res.pages);
		EXPECT_CLEAN(res);
		rss = mapping_rss(hva);
		ASSERT_NE(UINT64_MAX, rss);
		/* the sampled pages, and slack for what the kernel adds around them */
		EXPECT_GE(res.pages * VMM_PAGE_SIZE, rss / 2) {
			TH_LOG("%s: %" PRIu64 " pages verified, %" PRIu64 " KiB resident",
			       i ? "memfd" : "ram", res.pages, rss >> 10);
		}
	}
}

TEST_F(vmm, aliased_slots_are_caught_by_the_guest)
{
	struct ms_memdev *d1 = ADD_DIMM("d1", MS_BACKEND_RAM, 8 * MiB);
	struct ms_memdev *d2 = ADD_DIMM("d2", MS_BACKEND_RAM, 8 * MiB);
	struct slot_find f1 = { 0 }, f2 = { 0 };
	struct vmm_verify_result res;
	struct ms_error err = { 0 };
	struct vmm_range rr[2];

	ASSERT_NE(NULL, d1);
	ASSERT_NE(NULL, d2);
	f1.gpa = dimm_addr(d1);
	f2.gpa = dimm_addr(d2);
	ms_kvm__for_each_slot(self->k, slot_find_fn, &f1);
	ms_kvm__for_each_slot(self->k, slot_find_fn, &f2);
	ASSERT_TRUE(f1.found && f2.found);
	ASSERT_EQ(f1.s.size, f2.s.size);
	/* d2's slot shows d1's host memory: two guest pages, one host page */
	ASSERT_EQ(0, raw_slot(self->k, &f2.s, 0, (void *)(uintptr_t)f2.s.hva));
	ASSERT_EQ(0, raw_slot(self->k, &f2.s, f2.s.size, (void *)(uintptr_t)f1.s.hva));

	rr[0] = (struct vmm_range){ f1.gpa, 8 * MiB };
	rr[1] = (struct vmm_range){ f2.gpa, 8 * MiB };
	ASSERT_EQ(0, vmm_verify(self->v, rr, 2, false, &res, &err)) {
		TH_LOG("vmm_verify: %s", err.msg);
	}
	EXPECT_EQ(1, res.commands);
	/* d2's signatures overwrote d1's before the guest read d1 back */
	EXPECT_EQ(8 * MiB / 4096, res.guest_mismatches);
	EXPECT_EQ(f1.gpa, res.first_bad_gpa);
	EXPECT_EQ(res.expected ^ f1.gpa ^ f2.gpa, res.found);
	/* d1's host memory holds d2's signatures, d2's holds none */
	EXPECT_EQ(2 * 8 * MiB / 4096, res.host_mismatches);

	ASSERT_EQ(0, raw_slot(self->k, &f2.s, 0, (void *)(uintptr_t)f1.s.hva));
	ASSERT_EQ(0, raw_slot(self->k, &f2.s, f2.s.size, (void *)(uintptr_t)f2.s.hva));
	ASSERT_EQ(0, vmm_verify(self->v, rr, 2, false, &res, &err));
	EXPECT_CLEAN(res);
}

TEST_F(vmm, guest_exceptions_are_reported)
{
	struct vmm_verify_result res;
	struct ms_error err = { 0 };

	EXPECT_EQ(-EIO, vmm_crash(self->v, &err));
	TH_LOG("%s", err.msg);
	EXPECT_EQ(0, strncmp(err.msg, "guest: #UD error 0x0 at rip 0x", 30));
	/* dead for good */
	EXPECT_EQ(-EIO, VERIFY(MiB, MiB, false, &res));
	EXPECT_EQ(0, res.pages);
}

TEST_F(vmm, ranges_beyond_the_page_tables_are_refused)
{
	struct vmm_verify_result res;
	struct vmm_probe_result pr;
	struct ms_error err = { 0 };
	struct vmm_stats st;

	vmm_stats(self->v, &st);
	EXPECT_EQ(-ERANGE, vmm_probe_mmio(self->v, 1ull << 52, 4, false, 0, &pr, &err));
	TH_LOG("%s", err.msg);
	EXPECT_EQ(-EINVAL, vmm_probe_mmio(self->v, 0xfec00000, 3, false, 0, &pr, &err));
	EXPECT_EQ(-EINVAL, vmm_probe_pio(self->v, PROBE_PORT, 4, true, 0, &pr, &err));
	/* nothing verifiable there: no RAM at 1 TiB */
	EXPECT_EQ(0, VERIFY(1ull << 40, GiB, false, &res));
	EXPECT_EQ(0, res.pages);
}

TEST_F(vmm, many_gib_windows_recycle_page_directories)
{
	struct vmm_probe_result pr;
	struct ms_error err = { 0 };
	struct vmm_stats st;

	/* 100 distinct GiB above 4 GiB: more than the pool holds */
	for (uint64_t g = 8; g < 108; g++) {
		ASSERT_EQ(0, vmm_probe_mmio(self->v, g * GiB + 0x1000 * g, 4, false, 0, &pr,
					    &err)) {
			TH_LOG("GiB %" PRIu64 ": %s", g, err.msg);
		}
		EXPECT_EQ(1, pr.exits);
		EXPECT_EQ(g * GiB + 0x1000 * g, pr.access.addr);
		EXPECT_STREQ("", pr.access.region);	/* unassigned */
	}
	vmm_stats(self->v, &st);
	EXPECT_EQ(100, st.maps);
}

/* ---- MMIO, port I/O, ROM ----------------------------------------------- */

TEST_F(vmm, mmio_reaches_the_flat_view_region)
{
	static const struct {
		uint64_t gpa;
		unsigned int size;
		const char *region;
		uint64_t offset;
	} cases[] = {
		{ 0xfec00000, 4, "kvm-ioapic", 0 },
		{ 0xfec00010, 4, "kvm-ioapic", 0x10 },
		{ 0xfed00000, 8, "hpet", 0 },
		{ 0xfed000f0, 2, "hpet", 0xf0 },
		{ 0xfee00300, 4, "kvm-apic-msi", 0x300 },
		{ 0xfed00401, 1, "", 0 },	/* after the HPET: unassigned */
	};
	struct vmm_probe_result pr;
	struct ms_error err = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int w = 0; w < 2; w++) {
			ASSERT_EQ(0, vmm_probe_mmio(self->v, cases[i].gpa, cases[i].size, w,
						    0x5a5a5a5a5a5a5a5aull, &pr, &err)) {
				TH_LOG("0x%" PRIx64 ": %s", cases[i].gpa, err.msg);
			}
			EXPECT_EQ(1, pr.exits);
			EXPECT_EQ(w, pr.access.is_write);
			EXPECT_FALSE(pr.access.is_pio);
			EXPECT_EQ(cases[i].gpa, pr.access.addr);
			EXPECT_EQ(cases[i].size, pr.access.size);
			EXPECT_STREQ(cases[i].region, pr.access.region);
			if (cases[i].region[0])
				EXPECT_EQ(cases[i].offset, pr.access.offset);
			/* the preset's devices are "unassigned" I/O: reads give 0 */
			if (!w)
				EXPECT_EQ(0, pr.value);
			EXPECT_EQ(MS_MEMTX_DECODE_ERROR, pr.access.memtx);
		}
	}
}

TEST_F(vmm, mmio_data_goes_through_the_callbacks)
{
	struct ms_region *dev = ms_region__new_io(self->ctx, "test-mmio", 0x1000, &latch_ops,
						  &self->mmio, NULL);
	struct vmm_probe_result pr;
	struct ms_error err = { 0 };

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, ms_region__add_subregion_overlap(ms_machine__system(self->m), TEST_MMIO_GPA,
						      dev, 1, NULL));
	ms_region__unref(dev);

	for (unsigned int size = 1; size <= 8; size *= 2) {
		uint64_t mask = size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
		uint64_t off = 0x100 + size * 8;

		ASSERT_EQ(0, vmm_probe_mmio(self->v, TEST_MMIO_GPA + off, size, false, 0, &pr,
					    &err)) {
			TH_LOG("read %u: %s", size, err.msg);
		}
		EXPECT_EQ(1, pr.exits);
		EXPECT_STREQ("test-mmio", pr.access.region);
		EXPECT_EQ(off, pr.access.offset);
		EXPECT_EQ((0x1122334455667788ull + off) & mask, pr.value);
		EXPECT_EQ(pr.value, pr.access.data);
		EXPECT_EQ(size, self->mmio.last_size);
		EXPECT_EQ(off, self->mmio.last_addr);

		ASSERT_EQ(0, vmm_probe_mmio(self->v, TEST_MMIO_GPA + off, size, true,
					    0xf0e0d0c0b0a09080ull, &pr, &err));
		EXPECT_EQ(1, pr.exits);
		EXPECT_EQ(MS_MEMTX_OK, pr.access.memtx);
		EXPECT_EQ(0xf0e0d0c0b0a09080ull & mask, self->mmio.last_val);
		EXPECT_EQ(size, self->mmio.last_size);
	}
	EXPECT_EQ(4, self->mmio.reads);
	EXPECT_EQ(4, self->mmio.writes);

	/* RAM does not exit: the guest reads what the host put there */
	*(uint64_t *)hva_of(self->m, 16 * MiB) = 0x0123456789abcdefull;
	ASSERT_EQ(0, vmm_probe_mmio(self->v, 16 * MiB, 8, false, 0, &pr, &err));
	EXPECT_EQ(0, pr.exits);
	EXPECT_EQ(0x0123456789abcdefull, pr.value);
}

TEST_F(vmm, port_io_goes_through_the_io_address_space)
{
	struct ms_region *dev = ms_region__new_io(self->ctx, "test-pio", 4, &latch_ops, &self->pio,
						  NULL);
	struct vmm_probe_result pr;
	struct ms_error err = { 0 };

	ASSERT_NE(NULL, dev);
	ASSERT_EQ(0, ms_region__add_subregion(ms_as__root(self->io_as), TEST_PORT, dev, NULL));
	ms_region__unref(dev);

	ASSERT_EQ(0, vmm_probe_pio(self->v, TEST_PORT + 2, 2, false, 0, &pr, &err)) {
		TH_LOG("%s", err.msg);
	}
	EXPECT_EQ(1, pr.exits);
	EXPECT_TRUE(pr.access.is_pio);
	EXPECT_STREQ("test-pio", pr.access.region);
	EXPECT_EQ(2, pr.access.offset);
	EXPECT_EQ((0x1122334455667788ull + 2) & 0xffff, pr.value);

	ASSERT_EQ(0, vmm_probe_pio(self->v, TEST_PORT, 4, true, 0xdeadbeef, &pr, &err));
	EXPECT_EQ(1, pr.exits);
	EXPECT_EQ(0xdeadbeef, self->pio.last_val);
	EXPECT_EQ(0, self->pio.last_addr);

	/* elsewhere: the "io" region, unassigned */
	ASSERT_EQ(0, vmm_probe_pio(self->v, 0x70, 1, true, 0x8f, &pr, &err));
	EXPECT_EQ(1, pr.exits);
	EXPECT_STREQ("io", pr.access.region);
	EXPECT_EQ(0x70, pr.access.offset);
	EXPECT_EQ(MS_MEMTX_DECODE_ERROR, pr.access.memtx);
}

TEST_F(vmm, rom_writes_are_refused)
{
	struct vmm_rom_result rr;
	struct ms_error err = { 0 };
	uint8_t *bios = hva_of(self->m, 0xfffffff0);

	ASSERT_NE(NULL, bios);
	bios[0] = 0xea;		/* a reset-vector far jump, as firmware has */

	ASSERT_EQ(0, vmm_probe_rom_write(self->v, 0xfffffff0, 0x90, &rr, &err)) {
		TH_LOG("%s", err.msg);
	}
	EXPECT_STREQ("pc.bios", rr.region);
	EXPECT_EQ(0x3fff0, rr.offset);
	EXPECT_TRUE(rr.exited);
	EXPECT_TRUE(rr.access.is_write);
	EXPECT_EQ(0xfffffff0, rr.access.addr);
	EXPECT_EQ(0x90, rr.access.data);
	EXPECT_EQ(0xea, rr.guest_before);
	EXPECT_EQ(0xea, rr.guest_after);
	EXPECT_EQ(0xea, rr.host_after);
	EXPECT_TRUE(rr.unchanged);
	EXPECT_EQ(0xea, bios[0]);

	/* the ISA BIOS alias below 1 MiB shows the same ROM */
	ASSERT_EQ(0, vmm_probe_rom_write(self->v, 0xffff0, 0x90, &rr, &err)) {
		TH_LOG("%s", err.msg);
	}
	EXPECT_STREQ("pc.bios", rr.region);
	EXPECT_TRUE(rr.exited);
	EXPECT_TRUE(rr.unchanged);
	EXPECT_EQ(0xea, rr.guest_after);

	/* plain RAM for contrast: no exit, the byte changes */
	ASSERT_EQ(0, vmm_probe_rom_write(self->v, 16 * MiB, 0x90, &rr, &err));
	EXPECT_FALSE(rr.exited);
	EXPECT_FALSE(rr.unchanged);
	EXPECT_EQ(0x90, rr.host_after);
	EXPECT_EQ(0x90, rr.guest_after);

	/* no host memory, or nothing to change: refused */
	EXPECT_EQ(-EINVAL, vmm_probe_rom_write(self->v, 0xfec00000, 1, &rr, &err));
	EXPECT_EQ(-EINVAL, vmm_probe_rom_write(self->v, 0xfffffff0, 0xea, &rr, &err));
}

/* ---- memslot updates with a stopped vCPU ---------------------------------- */

/* Average memslot ioctl time of @n DIMM plug/unplug cycles on @m. */
static double cycle_us(struct __test_metadata *_metadata, struct ms_machine *m,
		       struct ms_kvm *k, int n)
{
	struct ms_kvm_stats s0, s1;
	struct ms_error err = { 0 };

	ms_kvm__stats(k, &s0);
	for (int i = 0; i < n; i++) {
		char id[16];
		struct ms_memdev *d;

		snprintf(id, sizeof(id), "c%d", i);
		d = __add_dimm(_metadata, m, id, MS_BACKEND_RAM, 2 * MiB);
		if (!d || ms_machine__device_del(m, d, &err))
			return -1;
	}
	ms_kvm__stats(k, &s1);
	return (s1.ioctl_ns - s0.ioctl_ns) / 1e3 / (double)(s1.ioctls - s0.ioctls);
}

TEST_F(vmm, memslot_updates_do_not_wait_for_the_stopped_vcpu)
{
	MS_OPTS(ms_machine_opts, mo, .type = variant->type, .ram_size = RAM_SIZE, .slots = 4,
		.maxmem = 2 * GiB);
	struct vmm_verify_result res;
	struct ms_error err = { 0 };
	struct ms_kvm *k2;
	struct ms_ctx *ctx2;
	struct ms_machine *m2;
	double with, without;

	/* the same cycles on a VM that has no vCPU at all */
	k2 = ms_kvm__new(NULL, &err);
	ASSERT_NE(NULL, k2);
	ctx2 = ms_ctx__new();
	ASSERT_NE(NULL, ctx2);
	mo.kvm_memslots = ms_kvm__max_memslots(k2);
	mo.kvm = k2;
	m2 = ms_machine__new(ctx2, &mo, &err);
	ASSERT_NE(NULL, m2);
	without = cycle_us(_metadata, m2, k2, 20);
	ms_machine__free(m2);
	ms_ctx__free(ctx2);
	ms_kvm__free(k2);

	with = cycle_us(_metadata, self->m, self->k, 20);
	ASSERT_LT(0, with);
	ASSERT_LT(0, without);
	TH_LOG("memslot ioctl: %.1f us with the vCPU stopped at an exit, %.1f us without a vCPU",
	       with, without);
	/* and the guest still sees its RAM */
	ASSERT_EQ(0, VERIFY(0, RAM_SIZE, false, &res));
	EXPECT_CLEAN(res);
}

TEST_HARNESS_MAIN
