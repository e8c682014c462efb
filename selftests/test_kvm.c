// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The KVM binding (ms_kvm) against the real kernel: every rule of
 * kvm-memslots.md sections 2, 6, 7.2 and 10 that a VM can show, with the
 * exact errno and the binding's explanation. Each test gets a fresh VM
 * from the fixture.
 *
 * The binding keeps a mirror of the kernel's slots. The kernel has no call
 * that lists slots, so kernel_mismatches() checks the mirror against the
 * kernel with calls whose outcome only depends on the table (rules 10.4 -
 * 10.6, 10.8): for each mirrored slot, KVM_GET_DIRTY_LOG succeeds iff it
 * logs, re-adding its range under a free id fails with EEXIST and an
 * identical re-set is a no-op success; deleting a free id fails with
 * EINVAL. These probes use the ioctl directly, so they leave the binding's
 * counters and injected faults alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define MAX_KEEP 16

FIXTURE(kvm) {
	struct ms_kvm *k;
	uint64_t page;
	uint32_t max;			/* KVM_CAP_NR_MEMSLOTS */
	void *mem;			/* anonymous mapping backing direct slots */
	size_t mem_size;
	struct ms_ctx *ctx;
	struct ms_region *sys;
	struct ms_as *as;
	struct ms_slotmap *map;
	struct ms_region *keep[MAX_KEEP];
	int nkeep;
	struct ms_region **many;	/* fill_slotmap's one-page regions */
	size_t nr_many;
	void *big;			/* a mapping for thousands of slots */
	size_t big_size;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
};

FIXTURE_SETUP(kvm)
{
	struct ms_error err = { 0 };

	self->vcpu_fd = -1;
	unsetenv("MEMSLOT_KVM_FAULT");
	self->page = (uint64_t)sysconf(_SC_PAGESIZE);
	self->k = ms_kvm__new(NULL, &err);
	if (!self->k && kvm_unusable())
		SKIP(return, "%s", kvm_unusable());
	ASSERT_NE(NULL, self->k) {
		TH_LOG("ms_kvm__new: %s", err.msg);
	}
	self->max = ms_kvm__max_memslots(self->k);
	self->mem_size = 64 * self->page;
	self->mem = mmap(NULL, self->mem_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->ctx = ms_ctx__new();
	ASSERT_NE(NULL, self->ctx);
	self->sys = CONT("system", UINT64_MAX);
	self->as = NEW_OK(ms_as__new(self->ctx, self->sys, "memory", NULL));
}

FIXTURE_TEARDOWN(kvm)
{
	if (self->run)
		munmap(self->run, self->run_size);
	if (self->vcpu_fd >= 0)
		close(self->vcpu_fd);
	ms_slotmap__free(self->map);
	ms_as__free(self->as);
	for (int i = self->nkeep; i-- > 0;)
		ms_region__unref(self->keep[i]);
	for (size_t i = 0; i < self->nr_many; i++)
		ms_region__unref(self->many[i]);
	free(self->many);
	ms_region__unref(self->sys);
	ms_ctx__free(self->ctx);
	ms_kvm__free(self->k);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->mem_size);
	if (self->big)
		munmap(self->big, self->big_size);
	EXPECT_NO_LEAKS();
}

/* ---- helpers ------------------------------------------------------------ */

/* Untouched anonymous memory freed by the teardown (after the regions on it). */
static char *big_map(struct __test_metadata *_metadata, FIXTURE_DATA(kvm) *self, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	self->big = p;
	self->big_size = size;
	return p;
}

/* One slot operation through the binding, as ms_slotmap would pass it. */
static int op(struct ms_kvm *k, enum ms_slot_op_kind kind, uint16_t as_id, uint32_t slot,
	      uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	struct ms_slot_op o = {
		.kind = kind,
		.slot = {
			.slot = slot,
			.as_id = as_id,
			.gpa = gpa,
			.size = kind == MS_SLOT_OP_DELETE ? 0 : size,
			.flags = kind == MS_SLOT_OP_DELETE ? 0 : flags,
			.hva = hva,
		},
	};

	return ms_kvm__exec(k, &o);
}

#define HVA(pg)	((void *)((char *)self->mem + (pg) * self->page))
#define CREATE(slot, gpa, size, hva, flags) \
	op(self->k, MS_SLOT_OP_CREATE, 0, (slot), (gpa), (size), (hva), (flags))
#define UPDATE(slot, gpa, size, hva, flags) \
	op(self->k, MS_SLOT_OP_UPDATE, 0, (slot), (gpa), (size), (hva), (flags))
#define DELETE(slot, gpa, hva) \
	op(self->k, MS_SLOT_OP_DELETE, 0, (slot), (gpa), 0, (hva), 0)
#define LAST_MSG() (ms_kvm__last_error(self->k)->msg)
#define LAST_ERR() (ms_kvm__last_error(self->k)->err)

/* KVM_SET_USER_MEMORY_REGION without the binding: 0 or -errno. */
static int raw_set(int vm_fd, uint32_t slot_field, uint32_t flags, uint64_t gpa, uint64_t size,
		   uint64_t hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot_field,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static int raw_dirty_log(int vm_fd, uint32_t slot_field, uint64_t *bitmap)
{
	struct kvm_dirty_log d = { .slot = slot_field, .dirty_bitmap = bitmap };

	return ioctl(vm_fd, KVM_GET_DIRTY_LOG, &d) ? -errno : 0;
}

struct table {
	struct ms_kvm_slot *s;
	size_t n, cap;
};

static int table_push(struct table *t, const struct ms_kvm_slot *s)
{
	if (t->n == t->cap) {
		size_t n = t->cap ? 2 * t->cap : 64;
		struct ms_kvm_slot *p = realloc(t->s, n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->s = p;
		t->cap = n;
	}
	t->s[t->n++] = *s;
	return 0;
}

static int collect_kvm(const struct ms_kvm_slot *s, void *opaque)
{
	return table_push(opaque, s);
}

static int collect_map(const struct ms_memslot *m, void *opaque)
{
	struct ms_kvm_slot s = {
		.as_id = m->as_id,
		.slot = m->slot,
		.flags = m->flags,
		.gpa = m->gpa,
		.size = m->size,
		.hva = (uint64_t)(uintptr_t)m->hva,
	};

	return table_push(opaque, &s);
}

static void slot_fmt(char *buf, size_t len, const struct ms_kvm_slot *s)
{
	snprintf(buf, len, "as %u slot %u 0x%" PRIx64 "+0x%" PRIx64 " f=0x%x hva=0x%" PRIx64,
		 s->as_id, s->slot, s->gpa, s->size, s->flags, s->hva);
}

/*
 * Does the binding's mirror equal the slot maps' tables (@map2: address
 * space 1, or NULL)? Logs the first difference.
 */
static bool tables_equal2(struct __test_metadata *_metadata, struct ms_kvm *k,
			  struct ms_slotmap *map, struct ms_slotmap *map2)
{
	struct table a = { 0 }, b = { 0 };
	char x[160], y[160];
	bool eq;

	EXPECT_EQ(0, ms_kvm__for_each_slot(k, collect_kvm, &a));
	EXPECT_EQ(0, ms_slotmap__for_each(map, collect_map, &b));
	if (map2)
		EXPECT_EQ(0, ms_slotmap__for_each(map2, collect_map, &b));
	eq = a.n == b.n;
	if (!eq)
		TH_LOG("kernel holds %zu slots, the slot map %zu", a.n, b.n);
	for (size_t i = 0; i < a.n && i < b.n; i++) {
		const struct ms_kvm_slot *x1 = &a.s[i], *y1 = &b.s[i];

		if (x1->as_id == y1->as_id && x1->slot == y1->slot && x1->flags == y1->flags &&
		    x1->gpa == y1->gpa && x1->size == y1->size && x1->hva == y1->hva)
			continue;
		slot_fmt(x, sizeof(x), &a.s[i]);
		slot_fmt(y, sizeof(y), &b.s[i]);
		TH_LOG("kernel: %s; slot map: %s", x, y);
		eq = false;
		break;
	}
	free(a.s);
	free(b.s);
	return eq;
}

static bool tables_equal(struct __test_metadata *_metadata, struct ms_kvm *k,
			 struct ms_slotmap *map)
{
	return tables_equal2(_metadata, k, map, NULL);
}

/*
 * Probe the kernel for the binding's mirror (see the top of the file);
 * free ids below @probe_free are checked for stray slots. Returns the
 * number of disagreements, each logged.
 */
static int kernel_mismatches(struct __test_metadata *_metadata, struct ms_kvm *k,
			     uint32_t probe_free)
{
	uint32_t max = ms_kvm__max_memslots(k), free_id = UINT32_MAX;
	int vm = ms_kvm__vm_fd(k), bad = 0, r;
	struct table t = { 0 };
	uint8_t *used;

	used = calloc(max, 1);
	if (!used || ms_kvm__for_each_slot(k, collect_kvm, &t)) {
		TH_LOG("out of memory");
		free(used);
		free(t.s);
		return 1;
	}
	for (size_t i = 0; i < t.n; i++)
		if (t.s[i].as_id == 0 && t.s[i].slot < max)
			used[t.s[i].slot] = 1;
	for (uint32_t id = 0; id < max; id++) {
		if (used[id])
			continue;
		if (free_id == UINT32_MAX)
			free_id = id;
		if (id >= probe_free)
			break;
		r = raw_set(vm, id, 0, 0, 0, 0);	/* rule 10.4 */
		if (r != -EINVAL) {
			TH_LOG("free slot %u: delete gave %d, not -EINVAL: the kernel had it", id,
			       r);
			bad++;
		}
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct ms_kvm_slot *s = &t.s[i];
		uint32_t field = s->slot | (uint32_t)s->as_id << 16;
		uint64_t pages = s->size / (uint64_t)sysconf(_SC_PAGESIZE);
		uint64_t *bm = calloc((pages + 63) / 64 + 1, sizeof(*bm));
		char d[160];

		slot_fmt(d, sizeof(d), s);
		r = bm ? raw_dirty_log(vm, field, bm) : -ENOMEM;	/* rule 10.8 */
		if (r != ((s->flags & MS_KVM_MEM_LOG_DIRTY_PAGES) ? 0 : -ENOENT)) {
			TH_LOG("%s: KVM_GET_DIRTY_LOG gave %d", d, r);
			bad++;
		}
		free(bm);
		if (free_id != UINT32_MAX) {	/* rule 10.5 */
			r = raw_set(vm, free_id | (uint32_t)s->as_id << 16, 0, s->gpa, s->size,
				    s->hva);
			if (r != -EEXIST) {
				TH_LOG("%s: re-adding its range as slot %u gave %d, not -EEXIST", d,
				       free_id, r);
				bad++;
				if (!r)
					raw_set(vm, free_id | (uint32_t)s->as_id << 16, 0, 0, 0, 0);
			}
		}
		r = raw_set(vm, field, s->flags, s->gpa, s->size, s->hva);	/* rule 10.6 */
		if (r) {
			TH_LOG("%s: identical re-set gave %d, not 0", d, r);
			bad++;
		}
	}
	free(used);
	free(t.s);
	return bad;
}

#define EXPECT_KERNEL_AGREES(k, probe_free) \
	EXPECT_EQ(0, kernel_mismatches(_metadata, (k), (probe_free)))
#define EXPECT_TABLES_EQUAL(k, map) EXPECT_TRUE(tables_equal(_metadata, (k), (map)))

static size_t nr_slots(const struct ms_kvm *k)
{
	struct table t = { 0 };
	size_t n;

	ms_kvm__for_each_slot(k, collect_kvm, &t);
	n = t.n;
	free(t.s);
	return n;
}

static const struct ms_kvm_slot *find_slot(const struct ms_kvm *k, uint32_t id)
{
	static struct ms_kvm_slot found;
	struct table t = { 0 };
	bool ok = false;

	ms_kvm__for_each_slot(k, collect_kvm, &t);
	for (size_t i = 0; i < t.n; i++) {
		if (t.s[i].as_id == 0 && t.s[i].slot == id) {
			found = t.s[i];
			ok = true;
		}
	}
	free(t.s);
	return ok ? &found : NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Memslot ioctls from CPU 0 are many times cheaper on this host than from others. */
static void pin_cpu0(struct __test_metadata *_metadata)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		TH_LOG("sched_setaffinity(CPU 0): %s; timings may be slow", strerror(errno));
}

static struct ms_slotmap *new_map(struct __test_metadata *_metadata, FIXTURE_DATA(kvm) *self,
				  uint32_t max_slots)
{
	struct ms_error err = { 0 };
	MS_OPTS(ms_slotmap_opts, o, .max_slots = max_slots, .kvm = self->k,
		.no_readonly_mem = !ms_kvm__has_readonly_mem(self->k));
	struct ms_slotmap *map = ms_slotmap__new(self->as, &o, &err);

	ASSERT_NE(NULL, map) {
		TH_LOG("ms_slotmap__new: %s", err.msg);
	}
	return map;
}

/* Every slot map error so far, then forget them. */
#define EXPECT_NO_MAP_ERROR(map) do {						\
	const struct ms_error *__e = ms_slotmap__error(map);			\
	EXPECT_EQ(NULL, __e) {							\
		TH_LOG("slot map error: %s", __e->msg);				\
	}									\
	ms_slotmap__clear_ops(map);						\
} while (0)

/* ---- section 2: capabilities -------------------------------------------- */

TEST_F(kvm, rule_2_capabilities)
{
	int sys = ms_kvm__sys_fd(self->k), vm = ms_kvm__vm_fd(self->k);
	int nr = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	EXPECT_EQ(12, ioctl(sys, KVM_GET_API_VERSION, 0));
	ASSERT_LE(0, nr);
	/* rule 2.1: 0 means 32 */
	EXPECT_EQ(nr ? (uint32_t)nr : MS_KVM_MEMSLOTS_DEFAULT, ms_kvm__max_memslots(self->k));
	/* rule 2.2 */
	EXPECT_EQ(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0,
		  ms_kvm__has_readonly_mem(self->k));
	/* rule 2.3 / 10.1: KVM_CAP_USER_MEMORY2 is 231 */
	EXPECT_EQ(ioctl(vm, KVM_CHECK_EXTENSION, 231) > 0, ms_kvm__has_memory2(self->k));
	ksft_print_msg("KVM: %u memslots, REGION2 %s, READONLY_MEM %s, address spaces %d\n",
		       ms_kvm__max_memslots(self->k), ms_kvm__has_memory2(self->k) ? "yes" : "no",
		       ms_kvm__has_readonly_mem(self->k) ? "yes" : "no",
		       ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE));
}

TEST_F(kvm, opts_no_memory2_uses_the_v1_ioctl)
{
	MS_OPTS(ms_kvm_opts, o, .no_memory2 = true);
	struct ms_error err = { 0 };
	struct ms_kvm *k = ms_kvm__new(&o, &err);
	struct ms_kvm_stats st;

	ASSERT_NE(NULL, k) {
		TH_LOG("%s", err.msg);
	}
	EXPECT_FALSE(ms_kvm__has_memory2(k));
	EXPECT_EQ(0, op(k, MS_SLOT_OP_CREATE, 0, 0, 0, 2 * self->page, HVA(0), 0));
	EXPECT_EQ(-EEXIST, op(k, MS_SLOT_OP_CREATE, 0, 1, self->page, self->page, HVA(4), 0));
	EXPECT_STREQ("slot 1: 0x1000+0x1000 overlaps slot 0", ms_kvm__last_error(k)->msg);
	/* v1 carries no guest_memfd: the flag is refused (rule 10.3) */
	EXPECT_EQ(-EINVAL, op(k, MS_SLOT_OP_CREATE, 0, 1, 16 * self->page, self->page, HVA(4),
			      MS_KVM_MEM_GUEST_MEMFD));
	EXPECT_EQ(0, op(k, MS_SLOT_OP_DELETE, 0, 0, 0, 0, HVA(0), 0));
	EXPECT_EQ(0, nr_slots(k));
	ms_kvm__stats(k, &st);
	EXPECT_EQ(4, st.ioctls);
	EXPECT_EQ(2, st.failures);
	ms_kvm__free(k);
}

TEST_F(kvm, new_bad_device)
{
	MS_OPTS(ms_kvm_opts, o, .dev = "/nonexistent/kvm");
	struct ms_error err = { 0 };

	errno = 0;
	EXPECT_EQ(NULL, ms_kvm__new(&o, &err));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-ENOENT, err.err);
	EXPECT_STREQ("/nonexistent/kvm: No such file or directory", err.msg);
}

/* ---- section 10: the kernel's rules ------------------------------------- */

/* rules 6.1, 6.2, 10.4, 10.5 */
TEST_F(kvm, rule_10_4_create_delete)
{
	uint64_t pg = self->page;
	const struct ms_kvm_slot *s;
	struct ms_kvm_stats st;

	EXPECT_EQ(0, LAST_ERR());
	EXPECT_EQ(0, CREATE(0, 0x100000, 4 * pg, HVA(0), 0));
	EXPECT_EQ(0, CREATE(7, 0x200000, 2 * pg, HVA(8), MS_KVM_MEM_LOG_DIRTY_PAGES));
	EXPECT_EQ(2, nr_slots(self->k));
	s = find_slot(self->k, 7);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x200000, s->gpa);
	EXPECT_EQ(2 * pg, s->size);
	EXPECT_EQ((uint64_t)(uintptr_t)HVA(8), s->hva);
	EXPECT_EQ(MS_KVM_MEM_LOG_DIRTY_PAGES, s->flags);
	EXPECT_KERNEL_AGREES(self->k, 64);

	/* a delete carries size 0; the kernel ignores the rest (rule 6.2) */
	EXPECT_EQ(0, DELETE(0, 0x100000, HVA(0)));
	EXPECT_EQ(NULL, find_slot(self->k, 0));
	EXPECT_KERNEL_AGREES(self->k, 64);
	/* the range is free again: another id may take it */
	EXPECT_EQ(0, CREATE(3, 0x100000, 4 * pg, HVA(0), 0));
	EXPECT_KERNEL_AGREES(self->k, 64);

	/* rule 10.4: deleting a slot that does not exist */
	EXPECT_EQ(-EINVAL, DELETE(0, 0x100000, HVA(0)));
	EXPECT_EQ(-EINVAL, LAST_ERR());
	EXPECT_STREQ("slot 0: delete 0x100000+0x0 no such slot", LAST_MSG());
	EXPECT_EQ(0, DELETE(7, 0, NULL));
	EXPECT_EQ(-EINVAL, DELETE(7, 0, NULL));
	EXPECT_STREQ("slot 7: delete 0x0+0x0 no such slot", LAST_MSG());
	EXPECT_EQ(1, nr_slots(self->k));
	EXPECT_KERNEL_AGREES(self->k, 64);

	ms_kvm__stats(self->k, &st);
	EXPECT_EQ(7, st.ioctls);
	EXPECT_EQ(2, st.failures);
	EXPECT_LT(0, st.ioctl_ns);
}

/* rule 10.5: EEXIST on overlap, the explanation names the slot */
TEST_F(kvm, rule_10_5_overlap_eexist)
{
	uint64_t pg = self->page;

	ASSERT_EQ(0, CREATE(3, 0x200000, 4 * pg, HVA(0), 0));
	EXPECT_EQ(-EEXIST, CREATE(5, 0x200000 + 2 * pg, 4 * pg, HVA(8), 0));
	EXPECT_EQ(-EEXIST, LAST_ERR());
	EXPECT_STREQ("slot 5: 0x202000+0x4000 overlaps slot 3", LAST_MSG());
	/* the last page of the range, and a range around it */
	EXPECT_EQ(-EEXIST, CREATE(5, 0x200000 + 3 * pg, pg, HVA(8), 0));
	EXPECT_STREQ("slot 5: 0x203000+0x1000 overlaps slot 3", LAST_MSG());
	EXPECT_EQ(-EEXIST, CREATE(6, 0x1ff000, 16 * pg, HVA(8), 0));
	EXPECT_STREQ("slot 6: 0x1ff000+0x10000 overlaps slot 3", LAST_MSG());
	/* touching ranges do not overlap */
	EXPECT_EQ(0, CREATE(5, 0x200000 + 4 * pg, pg, HVA(8), 0));
	EXPECT_EQ(0, CREATE(6, 0x200000 - pg, pg, HVA(9), 0));
	/* the host range may be shared by several slots */
	EXPECT_EQ(0, CREATE(8, 0x400000, 4 * pg, HVA(0), 0));
	EXPECT_EQ(4, nr_slots(self->k));
	EXPECT_KERNEL_AGREES(self->k, 64);
}

/* rule 10.3: misaligned guest address, size, host address */
TEST_F(kvm, rule_10_3_misaligned_einval)
{
	uint64_t pg = self->page;
	char want[160];

	EXPECT_EQ(-EINVAL, CREATE(0, 0x100000 + pg / 2, pg, HVA(0), 0));
	EXPECT_STREQ("slot 0: 0x100800+0x1000 gpa not page aligned", LAST_MSG());
	EXPECT_EQ(-EINVAL, CREATE(0, 0x100000, pg + pg / 2, HVA(0), 0));
	EXPECT_STREQ("slot 0: 0x100000+0x1800 size not page aligned", LAST_MSG());
	EXPECT_EQ(-EINVAL, CREATE(0, 0x100000, pg, (char *)HVA(0) + 0x10, 0));
	snprintf(want, sizeof(want), "slot 0: 0x100000+0x1000 hva %p not page aligned",
		 (void *)((char *)HVA(0) + 0x10));
	EXPECT_STREQ(want, LAST_MSG());
	EXPECT_EQ(-EINVAL, LAST_ERR());
	/* a range wrapping around 2^64 */
	EXPECT_EQ(-EINVAL, CREATE(0, -2 * pg, 4 * pg, HVA(0), 0));
	EXPECT_STREQ("slot 0: 0xffffffffffffe000+0x4000 range wraps around 2^64", LAST_MSG());
	EXPECT_EQ(0, nr_slots(self->k));
	EXPECT_KERNEL_AGREES(self->k, 64);
}

/* rule 10.2: slot id below KVM_CAP_NR_MEMSLOTS, address space below the count */
TEST_F(kvm, rule_10_2_slot_id_limit)
{
	int nr_as = ioctl(ms_kvm__vm_fd(self->k), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	struct ms_kvm_stats st, st2;
	uint64_t pg = self->page;
	char want[160];

	EXPECT_EQ(0, CREATE(self->max - 1, 0, pg, HVA(0), 0));
	EXPECT_EQ(-EINVAL, CREATE(self->max, pg, pg, HVA(1), 0));
	snprintf(want, sizeof(want), "slot %u: 0x1000+0x1000 slot id beyond the limit %u",
		 self->max, self->max);
	EXPECT_STREQ(want, LAST_MSG());
	EXPECT_EQ(-EINVAL, CREATE(0xffff, pg, pg, HVA(1), 0));
	/* ids above 16 bits would be an address space: refused without a call */
	ms_kvm__stats(self->k, &st);
	EXPECT_EQ(-EINVAL, CREATE(0x10000, pg, pg, HVA(1), 0));
	snprintf(want, sizeof(want), "slot 65536: 0x1000+0x1000 slot id beyond the limit %u",
		 self->max);
	EXPECT_STREQ(want, LAST_MSG());
	ms_kvm__stats(self->k, &st2);
	EXPECT_EQ(st.ioctls, st2.ioctls);
	EXPECT_EQ(0, DELETE(self->max - 1, 0, HVA(0)));

	/* slots of different address spaces are unrelated (rule 10.2) */
	if (nr_as > 1) {
		EXPECT_EQ(0, op(self->k, MS_SLOT_OP_CREATE, 0, 0, 0, pg, HVA(0), 0));
		EXPECT_EQ(0, op(self->k, MS_SLOT_OP_CREATE, 1, 0, 0, pg, HVA(0), 0));
		EXPECT_EQ(2, nr_slots(self->k));
	} else {
		EXPECT_EQ(-EINVAL, op(self->k, MS_SLOT_OP_CREATE, 1, 0, 0, pg, HVA(0), 0));
		EXPECT_STREQ("slot 0 as 1: 0x0+0x1000 address space 1 beyond the limit 1",
			     LAST_MSG());
		EXPECT_EQ(0, nr_slots(self->k));
	}
}

/* rule 10.6: a different gpa moves the slot (EEXIST on overlap) */
TEST_F(kvm, rule_10_6_move)
{
	uint64_t pg = self->page;
	const struct ms_kvm_slot *s;

	ASSERT_EQ(0, CREATE(1, 0x100000, 4 * pg, HVA(0), 0));
	ASSERT_EQ(0, CREATE(2, 0x300000, 4 * pg, HVA(8), 0));
	EXPECT_EQ(0, UPDATE(1, 0x200000, 4 * pg, HVA(0), 0));
	s = find_slot(self->k, 1);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x200000, s->gpa);
	EXPECT_KERNEL_AGREES(self->k, 64);
	/* the old range is free in the kernel */
	EXPECT_EQ(0, raw_set(ms_kvm__vm_fd(self->k), 9, 0, 0x100000, 4 * pg,
			     (uintptr_t)HVA(16)));
	EXPECT_EQ(0, raw_set(ms_kvm__vm_fd(self->k), 9, 0, 0, 0, 0));
	/* a move onto another slot */
	EXPECT_EQ(-EEXIST, UPDATE(1, 0x300000 - 2 * pg, 4 * pg, HVA(0), 0));
	EXPECT_STREQ("slot 1: 0x2fe000+0x4000 overlaps slot 2", LAST_MSG());
	s = find_slot(self->k, 1);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0x200000, s->gpa);
	EXPECT_KERNEL_AGREES(self->k, 64);
}

/* rule 10.6 / 6.6: flags-only update; an identical re-set is a no-op success */
TEST_F(kvm, rule_10_6_flags_only_update)
{
	uint64_t pg = self->page, bm[1];
	const struct ms_kvm_slot *s;
	struct ms_error err = { 0 };
	struct ms_kvm_stats st;

	ASSERT_EQ(0, CREATE(4, 0x100000, 4 * pg, HVA(0), 0));
	EXPECT_EQ(-ENOENT, ms_kvm__get_dirty_log(self->k, 0, 4, bm, &err));
	EXPECT_EQ(0, UPDATE(4, 0x100000, 4 * pg, HVA(0), MS_KVM_MEM_LOG_DIRTY_PAGES));
	s = find_slot(self->k, 4);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(MS_KVM_MEM_LOG_DIRTY_PAGES, s->flags);
	EXPECT_EQ(0, ms_kvm__get_dirty_log(self->k, 0, 4, bm, &err));
	EXPECT_KERNEL_AGREES(self->k, 64);
	/* identical: nothing to change, still a success */
	EXPECT_EQ(0, UPDATE(4, 0x100000, 4 * pg, HVA(0), MS_KVM_MEM_LOG_DIRTY_PAGES));
	EXPECT_EQ(0, CREATE(4, 0x100000, 4 * pg, HVA(0), MS_KVM_MEM_LOG_DIRTY_PAGES));
	EXPECT_EQ(1, nr_slots(self->k));
	/* logging off again: the kernel has no bitmap for it (rule 10.8) */
	EXPECT_EQ(0, UPDATE(4, 0x100000, 4 * pg, HVA(0), 0));
	EXPECT_EQ(-ENOENT, ms_kvm__get_dirty_log(self->k, 0, 4, bm, &err));
	EXPECT_STREQ("slot 4: 0x100000+0x4000: dirty logging is off", err.msg);
	EXPECT_KERNEL_AGREES(self->k, 64);
	ms_kvm__stats(self->k, &st);
	EXPECT_EQ(5, st.ioctls);
	EXPECT_EQ(0, st.failures);
}

/* rule 10.6: no resize, no new host address, no READONLY toggle in place */
TEST_F(kvm, rule_10_6_modify_einval)
{
	uint64_t pg = self->page;
	const struct ms_kvm_slot *s;

	ASSERT_EQ(0, CREATE(2, 0x100000, 4 * pg, HVA(0), 0));
	EXPECT_EQ(-EINVAL, UPDATE(2, 0x100000, 8 * pg, HVA(0), 0));
	EXPECT_STREQ("slot 2: 0x100000+0x8000 cannot be resized in place (slot has size 0x4000)",
		     LAST_MSG());
	EXPECT_EQ(-EINVAL, UPDATE(2, 0x100000, 2 * pg, HVA(0), 0));
	EXPECT_EQ(-EINVAL, UPDATE(2, 0x100000, 4 * pg, HVA(4), 0));
	EXPECT_NE(NULL, strstr(LAST_MSG(), "hva cannot change in place"));
	if (ms_kvm__has_readonly_mem(self->k)) {
		EXPECT_EQ(-EINVAL, UPDATE(2, 0x100000, 4 * pg, HVA(0), MS_KVM_MEM_READONLY));
		EXPECT_STREQ("slot 2: 0x100000+0x4000 READONLY cannot change in place",
			     LAST_MSG());
	}
	s = find_slot(self->k, 2);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(4 * pg, s->size);
	EXPECT_EQ(0, s->flags);
	EXPECT_EQ((uintptr_t)HVA(0), s->hva);
	EXPECT_KERNEL_AGREES(self->k, 64);
}

/* rules 2.2, 10.3, 10.7: READONLY needs KVM_CAP_READONLY_MEM; unknown flags are refused */
TEST_F(kvm, rule_10_3_flags)
{
	uint64_t pg = self->page;
	const struct ms_kvm_slot *s;

	if (ms_kvm__has_readonly_mem(self->k)) {
		EXPECT_EQ(0, CREATE(0, 0xfffc0000, 4 * pg, HVA(0), MS_KVM_MEM_READONLY));
		s = find_slot(self->k, 0);
		ASSERT_NE(NULL, s);
		EXPECT_EQ(MS_KVM_MEM_READONLY, s->flags);
		EXPECT_EQ(0, CREATE(1, 0, 4 * pg, HVA(0),
				    MS_KVM_MEM_READONLY | MS_KVM_MEM_LOG_DIRTY_PAGES));
	} else {
		EXPECT_EQ(-EINVAL, CREATE(0, 0xfffc0000, 4 * pg, HVA(0), MS_KVM_MEM_READONLY));
		EXPECT_STREQ("slot 0: 0xfffc0000+0x4000 flags 0x2 not supported", LAST_MSG());
	}
	EXPECT_EQ(-EINVAL, CREATE(2, 0x100000, pg, HVA(8), 1u << 3));
	EXPECT_STREQ("slot 2: 0x100000+0x1000 flags 0x8 not supported", LAST_MSG());
	/* guest_memfd slots need a guest_memfd file (rule 10.3) */
	EXPECT_EQ(-EINVAL, CREATE(2, 0x100000, pg, HVA(8), MS_KVM_MEM_GUEST_MEMFD));
	EXPECT_KERNEL_AGREES(self->k, 64);
}

/* rule 2.1 / 10.2 / 10.9: fill the real slot limit with one-page slots, then one more */
TEST_F_TIMEOUT(kvm, rule_10_2_fill_to_limit, 120)
{
	uint64_t pg = self->page, t0, t_create, t_delete, t_one_more;
	size_t size = (size_t)self->max * pg;
	struct ms_kvm_stats st0, st1;
	uint32_t i, failed = 0;
	char want[160];
	int r = 0;
	char *m;

	pin_cpu0(_metadata);
	m = big_map(_metadata, self, size);

	ms_kvm__stats(self->k, &st0);
	t0 = now_ns();
	for (i = 0; i < self->max; i++) {
		r = CREATE(i, (uint64_t)i * pg, pg, m + (uint64_t)i * pg, 0);
		if (r)
			break;
	}
	t_create = now_ns() - t0;
	ms_kvm__stats(self->k, &st1);
	EXPECT_EQ(0, r) {
		TH_LOG("slot %u: %s", i, LAST_MSG());
	}
	EXPECT_EQ(self->max, nr_slots(self->k));

	/* every id is taken: the next one is beyond the limit */
	t0 = now_ns();
	EXPECT_EQ(-EINVAL, CREATE(self->max, (uint64_t)self->max * pg, pg, m, 0));
	t_one_more = now_ns() - t0;
	snprintf(want, sizeof(want), "slot %u: 0x%" PRIx64 "+0x%" PRIx64
		 " slot id beyond the limit %u", self->max, (uint64_t)self->max * pg, pg,
		 self->max);
	EXPECT_STREQ(want, LAST_MSG());
	/* the last slot is there with its range: an identical re-set is a no-op */
	EXPECT_EQ(0, raw_set(ms_kvm__vm_fd(self->k), self->max - 1, 0,
			     (uint64_t)(self->max - 1) * pg, pg,
			     (uintptr_t)m + (uint64_t)(self->max - 1) * pg));
	/* moving it onto slot 0 overlaps, found among all the others */
	EXPECT_EQ(-EEXIST, UPDATE(self->max - 1, 0, pg, m + (uint64_t)(self->max - 1) * pg, 0));
	snprintf(want, sizeof(want), "slot %u: 0x0+0x%" PRIx64 " overlaps slot 0", self->max - 1,
		 pg);
	EXPECT_STREQ(want, LAST_MSG());

	t0 = now_ns();
	for (i = 0; i < self->max; i++)
		if (DELETE(i, (uint64_t)i * pg, m + (uint64_t)i * pg))
			failed++;
	t_delete = now_ns() - t0;
	EXPECT_EQ(0, failed);
	EXPECT_EQ(0, nr_slots(self->k));
	EXPECT_KERNEL_AGREES(self->k, self->max);

	ksft_print_msg("fill to %u slots: create %.2f us/slot (%.3f s, %.2f us in the ioctl), "
		       "one more %.2f us, delete %.2f us/slot (%.3f s)\n", self->max,
		       t_create / 1e3 / self->max, t_create / 1e9,
		       (st1.ioctl_ns - st0.ioctl_ns) / 1e3 / self->max, t_one_more / 1e3,
		       t_delete / 1e3 / self->max, t_delete / 1e9);
	/* times are reported, never asserted: the bench (bench_kvmslots) compares them */
}

/*
 * rule 5.2 with the real limit: a slot map with max_slots = KVM_CAP_NR_MEMSLOTS
 * fills every kernel slot; the next section finds no free slot.
 */
TEST_F_TIMEOUT(kvm, rule_5_2_slotmap_fill_to_limit, 120)
{
	uint64_t pg = self->page, t0, t_commit, last;
	size_t n = (size_t)self->max + 1, size = n * pg;
	int vm = ms_kvm__vm_fd(self->k);
	const struct ms_error *e;
	char name[32];
	char *m;

	pin_cpu0(_metadata);
	m = big_map(_metadata, self, size);
	self->many = calloc(n, sizeof(*self->many));
	ASSERT_NE(NULL, self->many);
	self->map = new_map(_metadata, self, self->max);
	EXPECT_EQ(self->max, ms_slotmap__max_slots(self->map));

	/* one page per region; regions never merge, so one section each */
	ms_ctx__begin(self->ctx);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "r%zu", i);
		self->many[i] = NEW_OK(ms_region__new_ram_ptr(self->ctx, name, pg, m + i * pg,
							      NULL));
		self->nr_many++;
		ADD(self->sys, i * pg, self->many[i]);
	}
	t0 = now_ns();
	ASSERT_EQ(0, ms_ctx__commit(self->ctx));
	t_commit = now_ns() - t0;

	e = ms_slotmap__error(self->map);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(-ENOSPC, e->err);
	EXPECT_NE(NULL, strstr(e->msg, "no free slot available")) {
		TH_LOG("%s", e->msg);
	}
	EXPECT_EQ(self->max, ms_slotmap__nr_used(self->map));
	EXPECT_EQ(self->max, nr_slots(self->k));
	EXPECT_TABLES_EQUAL(self->k, self->map);
	/* the section that found no slot is not in the kernel: the last slot can
	 * move onto its page (rule 10.6) and back */
	last = (uint64_t)(self->max - 1) * pg;
	EXPECT_EQ(0, raw_set(vm, self->max - 1, 0, last + pg, pg, (uintptr_t)m + last));
	EXPECT_EQ(0, raw_set(vm, self->max - 1, 0, last, pg, (uintptr_t)m + last));
	ksft_print_msg("slot map commit of %zu sections onto %u kernel slots: %.3f s\n", n,
		       self->max, t_commit / 1e9);
}

/* ---- section 3 and 6 through ms_slotmap --------------------------------- */

#define CHECK_STEP(what) do {							\
	EXPECT_NO_MAP_ERROR(self->map);						\
	EXPECT_TABLES_EQUAL(self->k, self->map) {				\
		TH_LOG("after %s", what);					\
	}									\
	EXPECT_KERNEL_AGREES(self->k, 64);					\
} while (0)

/* RAM, ROM, ROM device (ROMD on/off), read-only alias, move, resize, dirty logging */
TEST_F(kvm, rule_6_slotmap_round_trip)
{
	struct ms_region *ram, *rom, *romdev, *alias;
	bool ro = ms_kvm__has_readonly_mem(self->k);
	const struct ms_memslot *s;
	struct ms_error err = { 0 };

	self->map = new_map(_metadata, self, self->max);
	ram = KEEP(RAM("ram", 1 * MiB));
	ADD(self->sys, 0, ram);
	CHECK_STEP("ram");
	EXPECT_EQ(1, ms_slotmap__nr_used(self->map));

	rom = KEEP(ROM("rom", 64 * KiB));
	ADD(self->sys, 0x100000, rom);
	CHECK_STEP("rom");
	s = ms_slotmap__lookup(self->map, 0x100000, 64 * KiB);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(ro ? MS_KVM_MEM_READONLY : 0, s->flags);	/* rules 3.3, 6.3 */

	romdev = KEEP(NEW_OK(ms_region__new_rom_device(self->ctx, "romdev", 64 * KiB, NULL, NULL,
							NULL)));
	ADD(self->sys, 0x200000, romdev);
	CHECK_STEP("rom device");
	/* rule 3.1: mapped read-only in ROMD mode only, never without READONLY_MEM */
	EXPECT_EQ(ro, ms_slotmap__lookup(self->map, 0x200000, 64 * KiB) != NULL);
	ASSERT_EQ(0, ms_region__set_romd(romdev, false, &err));
	CHECK_STEP("romd off");
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0x200000, 64 * KiB));
	ASSERT_EQ(0, ms_region__set_romd(romdev, true, &err));
	CHECK_STEP("romd on");
	EXPECT_EQ(ro, ms_slotmap__lookup(self->map, 0x200000, 64 * KiB) != NULL);

	/* rule 3.2: a read-only alias of RAM is a writable slot */
	alias = KEEP(ALIAS("ram-ro", ram, 0x10000, 0x10000));
	ms_region__set_readonly(alias, true);
	ADD(self->sys, 0x300000, alias);
	CHECK_STEP("read-only alias");
	s = ms_slotmap__lookup(self->map, 0x300000, 0x10000);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, s->flags);
	EXPECT_EQ((char *)ms_region__host_ptr(ram) + 0x10000, s->hva);

	/* rule 6.5: a move is a delete and a create, the id reused */
	ms_region__set_address(rom, 0x400000);
	CHECK_STEP("move");
	EXPECT_EQ(NULL, ms_slotmap__lookup(self->map, 0x100000, 64 * KiB));
	EXPECT_NE(NULL, ms_slotmap__lookup(self->map, 0x400000, 64 * KiB));

	/* resize: the RAM slot is replaced by a smaller one */
	ASSERT_EQ(0, ms_region__set_size(ram, 512 * KiB, &err));
	CHECK_STEP("resize");
	EXPECT_NE(NULL, ms_slotmap__lookup(self->map, 0, 512 * KiB));

	/* rule 6.6: dirty logging is a flags-only update */
	ms_region__set_log(ram, true);
	CHECK_STEP("log on");
	s = ms_slotmap__lookup(self->map, 0, 512 * KiB);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(MS_KVM_MEM_LOG_DIRTY_PAGES, s->flags);
	ms_region__set_log(ram, false);
	CHECK_STEP("log off");

	/* everything away: the kernel is empty */
	ms_ctx__begin(self->ctx);
	ASSERT_EQ(0, ms_region__del_subregion(self->sys, ram, NULL));
	ASSERT_EQ(0, ms_region__del_subregion(self->sys, rom, NULL));
	ASSERT_EQ(0, ms_region__del_subregion(self->sys, romdev, NULL));
	ASSERT_EQ(0, ms_region__del_subregion(self->sys, alias, NULL));
	ASSERT_EQ(0, ms_ctx__commit(self->ctx));
	CHECK_STEP("removal");
	EXPECT_EQ(0, nr_slots(self->k));
}

/* rules 3.3, 6.3: a ROM made writable becomes a writable slot, in the kernel too */
TEST_F(kvm, rule_6_3_rom_made_writable)
{
	struct ms_region *rom;
	const struct ms_memslot *s;

	self->map = new_map(_metadata, self, self->max);
	rom = KEEP(ROM("rom", 64 * KiB));
	ADD(self->sys, 0x100000, rom);
	CHECK_STEP("rom");
	ms_region__set_readonly(rom, false);
	CHECK_STEP("rom writable");
	s = ms_slotmap__lookup(self->map, 0x100000, 64 * KiB);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, s->flags);
	ms_region__set_readonly(rom, true);
	CHECK_STEP("rom read-only again");
	s = ms_slotmap__lookup(self->map, 0x100000, 64 * KiB);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(ms_kvm__has_readonly_mem(self->k) ? MS_KVM_MEM_READONLY : 0, s->flags);
}

struct fault_case {
	int err;
	const char *name;
};

/*
 * A commit with two deletes and three creates; the ioctl number @nth of it
 * fails. Afterwards the slot map holds what the kernel holds.
 */
static void fault_commit(struct __test_metadata *_metadata, FIXTURE_DATA(kvm) *self, int nth,
			 int fault_err, struct ms_region *r[4])
{
	const struct ms_error *e;
	struct ms_kvm_stats st0, st1;
	size_t nr;

	ms_slotmap__clear_ops(self->map);
	ms_kvm__stats(self->k, &st0);
	ms_kvm__inject_fault(self->k, nth, fault_err);
	ms_ctx__begin(self->ctx);
	ms_region__set_address(r[0], 0x1000000);
	ms_region__set_address(r[1], 0x1100000);
	ASSERT_EQ(0, ms_region__add_subregion(self->sys, 0x1200000, r[3], NULL));
	ASSERT_EQ(0, ms_ctx__commit(self->ctx));
	ms_kvm__stats(self->k, &st1);
	ms_slotmap__ops(self->map, &nr);

	e = ms_slotmap__error(self->map);
	ASSERT_NE(NULL, e) {
		TH_LOG("fault at ioctl %d was not reported", nth);
	}
	EXPECT_EQ(-fault_err, e->err);
	EXPECT_EQ(-fault_err, ms_kvm__last_error(self->k)->err);
	EXPECT_NE(NULL, strstr(ms_kvm__last_error(self->k)->msg, "(injected fault)"));
	EXPECT_EQ(1, st1.failures - st0.failures);
	EXPECT_EQ(nr, st1.ioctls - st0.ioctls);
	EXPECT_TABLES_EQUAL(self->k, self->map) {
		TH_LOG("fault at ioctl %d (%s)", nth, e->msg);
	}
	EXPECT_KERNEL_AGREES(self->k, 64);
}

TEST_F(kvm, rule_6_fault_at_each_ioctl_of_a_commit)
{
	static const struct fault_case cases[] = {
		{ ENOMEM, "ENOMEM" }, { EEXIST, "EEXIST" }, { EINVAL, "EINVAL" },
		{ ENOSPC, "ENOSPC" }, { EFAULT, "EFAULT" },
	};
	/* two deletes, three creates */
	const int nr_ioctls = 5;

	for (int nth = 1; nth <= nr_ioctls; nth++) {
		struct ms_region *r[4];
		char name[16];

		/* a fresh VM and tree per case */
		ms_slotmap__free(self->map);
		self->map = NULL;
		ms_kvm__free(self->k);
		self->k = ms_kvm__new(NULL, NULL);
		ASSERT_NE(NULL, self->k);
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "r%d-%d", nth, i);
			r[i] = KEEP(RAM(name, 64 * KiB));
		}
		self->map = new_map(_metadata, self, self->max);
		ms_ctx__begin(self->ctx);
		for (int i = 0; i < 3; i++)
			ADD(self->sys, (uint64_t)i * MiB, r[i]);
		ASSERT_EQ(0, ms_ctx__commit(self->ctx));
		CHECK_STEP("setup");
		EXPECT_EQ(3, nr_slots(self->k));

		fault_commit(_metadata, self, nth, cases[nth - 1].err, r);
		ksft_print_msg("fault %s at ioctl %d: %s\n", cases[nth - 1].name, nth,
			       ms_slotmap__error(self->map)->msg);

		/* and the next commit works on that state */
		ms_slotmap__clear_ops(self->map);
		ms_ctx__begin(self->ctx);
		for (int i = 0; i < 4; i++)
			ASSERT_EQ(0, ms_region__del_subregion(self->sys, r[i], NULL));
		ASSERT_EQ(0, ms_ctx__commit(self->ctx));
		EXPECT_NO_MAP_ERROR(self->map);
		/* a slot whose delete failed is kept by both; it has no section now */
		EXPECT_TABLES_EQUAL(self->k, self->map);
		EXPECT_KERNEL_AGREES(self->k, 64);
		ms_slotmap__free(self->map);
		self->map = NULL;
		while (self->nkeep)
			ms_region__unref(self->keep[--self->nkeep]);
	}
}

/* A VM with the fault injection "N:ERRNO" (MEMSLOT_KVM_FAULT's syntax). */
static struct ms_kvm *new_faulty(const char *fault, struct ms_error *err)
{
	MS_OPTS(ms_kvm_opts, o);

	if (ms_kvm_fault_parse(fault, &o.fault_nth, &o.fault_errno)) {
		errno = EINVAL;
		return NULL;
	}
	return ms_kvm__new(&o, err);
}

/* "N:ERRNO" (memslot's MEMSLOT_KVM_FAULT) as ms_kvm_opts fault injection */
TEST_F(kvm, fault_env)
{
	static const char *const bad[] = { "x", "0:ENOMEM", "3:", ":ENOMEM", "3:EFOO",
					   "3:0", "3:-5", "-1:EIO", "2:ENOMEM:1" };
	uint64_t pg = self->page;
	struct ms_error err = { 0 };
	const struct ms_error *fe;
	struct ms_kvm_stats st;
	struct ms_kvm *k;

	/* the library never reads the environment */
	ASSERT_EQ(0, setenv("MEMSLOT_KVM_FAULT", "1:EIO", 1));
	k = ms_kvm__new(NULL, &err);
	ASSERT_NE(NULL, k);
	EXPECT_EQ(0, op(k, MS_SLOT_OP_CREATE, 0, 0, 0, pg, HVA(0), 0));
	EXPECT_EQ(NULL, ms_kvm__first_error(k));
	ms_kvm__free(k);
	unsetenv("MEMSLOT_KVM_FAULT");

	k = new_faulty("2:EEXIST", &err);
	ASSERT_NE(NULL, k) {
		TH_LOG("%s", err.msg);
	}
	EXPECT_EQ(0, op(k, MS_SLOT_OP_CREATE, 0, 0, 0, pg, HVA(0), 0));
	EXPECT_EQ(-EEXIST, op(k, MS_SLOT_OP_CREATE, 0, 1, 0x100000, pg, HVA(1), 0));
	EXPECT_STREQ("slot 1: 0x100000+0x1000: File exists (injected fault)",
		     ms_kvm__last_error(k)->msg);
	/* the details are fields, not text to search */
	fe = ms_kvm__first_error(k);
	ASSERT_NE(NULL, fe);
	EXPECT_EQ(MS_ERROR_KVM | MS_ERROR_INJECTED, fe->flags);
	EXPECT_EQ(MS_SLOT_OP_CREATE, fe->op);
	EXPECT_EQ(1, fe->slot);
	EXPECT_EQ(0x100000, fe->gpa);
	EXPECT_EQ(pg, fe->size);
	EXPECT_EQ(EEXIST, fe->kvm_errno);
	EXPECT_EQ(-EEXIST, fe->err);
	EXPECT_STREQ(ms_kvm__last_error(k)->msg, fe->msg);
	EXPECT_EQ(0, op(k, MS_SLOT_OP_CREATE, 0, 1, 0x100000, pg, HVA(1), 0));
	ms_kvm__stats(k, &st);
	EXPECT_EQ(3, st.ioctls);
	EXPECT_EQ(1, st.failures);
	EXPECT_EQ(1, st.injected);
	EXPECT_EQ(3, st.creates);
	EXPECT_EQ(0, st.deletes);
	EXPECT_EQ(0, st.updates);
	/* a real kernel failure: MS_ERROR_KVM alone; the first failure stays */
	EXPECT_EQ(-EEXIST, op(k, MS_SLOT_OP_CREATE, 0, 2, 0x100000, pg, HVA(2), 0));
	EXPECT_EQ(MS_ERROR_KVM, ms_kvm__last_error(k)->flags);
	EXPECT_EQ(2, ms_kvm__last_error(k)->slot);
	EXPECT_EQ(1, ms_kvm__first_error(k)->slot);
	ms_kvm__clear_error(k);
	EXPECT_EQ(NULL, ms_kvm__first_error(k));
	EXPECT_EQ(-EEXIST, ms_kvm__last_error(k)->err);
	EXPECT_EQ(2, nr_slots(k));
	EXPECT_KERNEL_AGREES(k, 64);
	ms_kvm__free(k);

	/* numbers work too; the injected call never reaches the kernel */
	k = new_faulty("1:12", &err);
	ASSERT_NE(NULL, k);
	EXPECT_EQ(-ENOMEM, op(k, MS_SLOT_OP_CREATE, 0, 0, 0, pg, HVA(0), 0));
	EXPECT_EQ(0, nr_slots(k));
	EXPECT_EQ(-EINVAL, raw_set(ms_kvm__vm_fd(k), 0, 0, 0, 0, 0));
	/* ms_kvm__inject_fault() counts from now; 0 cancels */
	ms_kvm__inject_fault(k, 2, ENOSPC);
	EXPECT_EQ(0, op(k, MS_SLOT_OP_CREATE, 0, 0, 0, pg, HVA(0), 0));
	EXPECT_EQ(-ENOSPC, op(k, MS_SLOT_OP_DELETE, 0, 0, 0, 0, HVA(0), 0));
	EXPECT_STREQ("slot 0: delete 0x0+0x1000: No space left on device (injected fault)",
		     ms_kvm__last_error(k)->msg);
	EXPECT_EQ(1, nr_slots(k));
	ms_kvm__inject_fault(k, 1, ENOMEM);
	ms_kvm__inject_fault(k, 0, 0);
	EXPECT_EQ(0, op(k, MS_SLOT_OP_DELETE, 0, 0, 0, 0, HVA(0), 0));
	EXPECT_EQ(0, nr_slots(k));
	ms_kvm__stats(k, &st);
	EXPECT_EQ(4, st.ioctls);
	EXPECT_EQ(2, st.failures);
	ms_kvm__free(k);

	/* the tool's message for these: test_run's fault_env_bad */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t nth = 77;
		int e = 78;

		EXPECT_EQ(-EINVAL, ms_kvm_fault_parse(bad[i], &nth, &e)) {
			TH_LOG("MEMSLOT_KVM_FAULT=%s accepted", bad[i]);
		}
		EXPECT_EQ(77, nth);
		EXPECT_EQ(78, e);
	}
}

/* The cost of one memslot ioctl, from CPU 0 (see pin_cpu0()). */
TEST_F(kvm, stats_ioctl_cost)
{
	enum { N = 2000 };
	uint64_t pg = self->page;
	struct ms_kvm_stats a, b, c;
	char *m;

	pin_cpu0(_metadata);
	m = big_map(_metadata, self, N * pg);
	ms_kvm__stats(self->k, &a);
	for (uint32_t i = 0; i < N; i++)
		ASSERT_EQ(0, CREATE(i, (uint64_t)i * 2 * pg, pg, m + i * pg, 0));
	ms_kvm__stats(self->k, &b);
	for (uint32_t i = 0; i < N; i++)
		ASSERT_EQ(0, DELETE(i, 0, NULL));
	ms_kvm__stats(self->k, &c);
	EXPECT_EQ(2 * N, c.ioctls - a.ioctls);
	EXPECT_EQ(0, c.failures);
	EXPECT_LT(0, b.ioctl_ns - a.ioctl_ns);
	EXPECT_LT(0, c.ioctl_ns - b.ioctl_ns);
	ksft_print_msg("memslot ioctl from CPU 0: create %.2f us, delete %.2f us (%d slots)\n",
		       (b.ioctl_ns - a.ioctl_ns) / 1e3 / N, (c.ioctl_ns - b.ioctl_ns) / 1e3 / N, N);
}

/* ---- section 7 / 10.8: dirty log ---------------------------------------- */

/* rule 10.8: ENOENT without logging or without a slot; host writes are not logged */
TEST_F(kvm, rule_10_8_dirty_log_host_writes)
{
	uint64_t pg = self->page, bm[2];
	struct ms_error err = { 0 };
	char want[96];

	ASSERT_EQ(0, CREATE(0, 0, 16 * pg, HVA(0), MS_KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, CREATE(1, 0x100000, 16 * pg, HVA(16), 0));
	memset(bm, 0xff, sizeof(bm));
	EXPECT_EQ(0, ms_kvm__get_dirty_log(self->k, 0, 0, bm, &err));
	EXPECT_EQ(0, bm[0]);
	memset(HVA(0), 1, 16 * pg);
	memset(bm, 0xff, sizeof(bm));
	EXPECT_EQ(0, ms_kvm__get_dirty_log(self->k, 0, 0, bm, &err));
	EXPECT_EQ(0, bm[0]);

	EXPECT_EQ(-ENOENT, ms_kvm__get_dirty_log(self->k, 0, 1, bm, &err));
	EXPECT_EQ(-ENOENT, err.err);
	EXPECT_STREQ("slot 1: 0x100000+0x10000: dirty logging is off", err.msg);
	EXPECT_EQ(-ENOENT, ms_kvm__get_dirty_log(self->k, 0, 2, bm, &err));
	EXPECT_STREQ("slot 2: no such slot", err.msg);
	EXPECT_EQ(-EINVAL, ms_kvm__get_dirty_log(self->k, 0, self->max, bm, &err));
	snprintf(want, sizeof(want), "slot %u: slot id beyond the limit %u", self->max, self->max);
	EXPECT_STREQ(want, err.msg);
}

/* A vCPU in real mode at 0; DS base 0. */
static void vcpu_setup(struct __test_metadata *_metadata, FIXTURE_DATA(kvm) *self)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0, .rflags = 2 };
	int sys = ms_kvm__sys_fd(self->k), sz;

	self->vcpu_fd = ioctl(ms_kvm__vm_fd(self->k), KVM_CREATE_VCPU, 0);
	ASSERT_LE(0, self->vcpu_fd) {
		TH_LOG("KVM_CREATE_VCPU: %s", strerror(errno));
	}
	sz = ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	ASSERT_LT(0, sz);
	self->run_size = (size_t)sz;
	self->run = mmap(NULL, self->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->vcpu_fd, 0);
	ASSERT_NE(MAP_FAILED, self->run) {
		self->run = NULL;
	}
	ASSERT_EQ(0, ioctl(self->vcpu_fd, KVM_GET_SREGS, &sregs));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	ASSERT_EQ(0, ioctl(self->vcpu_fd, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, ioctl(self->vcpu_fd, KVM_SET_REGS, &regs));
}

/* KVM_RUN until an exit other than an interrupted run; returns the exit reason. */
static int vcpu_run(struct __test_metadata *_metadata, FIXTURE_DATA(kvm) *self)
{
	for (int i = 0; i < 100; i++) {
		if (ioctl(self->vcpu_fd, KVM_RUN, 0)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			TH_LOG("KVM_RUN: %s", strerror(errno));
			return -1;
		}
		if (self->run->exit_reason != KVM_EXIT_INTR)
			return (int)self->run->exit_reason;
	}
	return -1;
}

/*
 * rules 7.2, 10.7, 10.8: guest writes are logged, page by page.
 *
 * The code runs from a slot without dirty logging: KVM may log a page the
 * guest only reads. With TDP (NPT, EPT) a read fault on a page the host
 * already maps writable gets a writable SPTE at once, and KVM marks the
 * page dirty when it creates a writable SPTE, so the code page, written
 * by the test before the run, came back dirty (Debian 6.1 and 6.12 under
 * nested SVM). The dirty log may over-report, never under-report: written
 * pages must be set, untouched pages clear; a page the guest only reads
 * may go either way.
 */
TEST_F(kvm, rule_10_8_dirty_log_guest_writes)
{
	/* mov al, [0x3000]; mov byte [0x2000], 1; mov byte [0x5000], 1; hlt */
	static const uint8_t code[] = {
		0xa0, 0x00, 0x30,
		0xc6, 0x06, 0x00, 0x20, 0x01,
		0xc6, 0x06, 0x00, 0x50, 0x01,
		0xf4,
	};
	/* slot 1 starts at page 1: guest page n is bit n - 1 */
	const uint64_t written = (1ull << (2 - 1)) | (1ull << (5 - 1)), read = 1ull << (3 - 1);
	uint64_t pg = self->page, bm[1];
	struct ms_error err = { 0 };
	int exit;

	if (pg != 0x1000)
		SKIP(return, "the guest code assumes 4 KiB pages, the host has %" PRIu64, pg);
	memcpy(HVA(0), code, sizeof(code));
	*(uint8_t *)HVA(3) = 0x5a;	/* the read page is mapped writable on the host */
	ASSERT_EQ(0, CREATE(0, 0, pg, HVA(0), 0));
	ASSERT_EQ(0, CREATE(1, pg, 15 * pg, HVA(1), MS_KVM_MEM_LOG_DIRTY_PAGES));
	vcpu_setup(_metadata, self);
	ASSERT_EQ(0, ms_kvm__get_dirty_log(self->k, 0, 1, bm, &err));
	EXPECT_EQ(0, bm[0]);

	exit = vcpu_run(_metadata, self);
	ASSERT_EQ(KVM_EXIT_HLT, exit);
	EXPECT_EQ(1, *(uint8_t *)HVA(2));
	EXPECT_EQ(1, *(uint8_t *)HVA(5));
	ASSERT_EQ(0, ms_kvm__get_dirty_log(self->k, 0, 1, bm, &err)) {
		TH_LOG("%s", err.msg);
	}
	EXPECT_EQ(written, bm[0] & ~read);
	TH_LOG("the page only read is %slogged", bm[0] & read ? "" : "not ");
	/* without manual protect the call clears what it returned */
	ASSERT_EQ(0, ms_kvm__get_dirty_log(self->k, 0, 1, bm, &err));
	EXPECT_EQ(0, bm[0]);
	EXPECT_EQ(-ENOENT, ms_kvm__get_dirty_log(self->k, 0, 0, bm, &err));
}

/* rule 10.7: a guest write to a READONLY slot exits as MMIO, the memory stays */
TEST_F(kvm, rule_10_7_readonly_guest_write_exits)
{
	/* mov byte [0x8000], 1; hlt */
	static const uint8_t code[] = { 0xc6, 0x06, 0x00, 0x80, 0x01, 0xf4 };
	uint64_t pg = self->page;
	int exit;

	if (!ms_kvm__has_readonly_mem(self->k))
		SKIP(return, "no KVM_CAP_READONLY_MEM");
	if (pg != 0x1000)
		SKIP(return, "the guest code assumes 4 KiB pages, the host has %" PRIu64, pg);
	memcpy(HVA(0), code, sizeof(code));
	ASSERT_EQ(0, CREATE(0, 0, 8 * pg, HVA(0), 0));
	ASSERT_EQ(0, CREATE(1, 0x8000, pg, HVA(8), MS_KVM_MEM_READONLY));
	vcpu_setup(_metadata, self);
	exit = vcpu_run(_metadata, self);
	ASSERT_EQ(KVM_EXIT_MMIO, exit);
	EXPECT_EQ(0x8000, self->run->mmio.phys_addr);
	EXPECT_EQ(1, self->run->mmio.is_write);
	EXPECT_EQ(1, self->run->mmio.len);
	EXPECT_EQ(1, self->run->mmio.data[0]);
	EXPECT_EQ(0, *(uint8_t *)HVA(8));
	EXPECT_EQ(KVM_EXIT_HLT, vcpu_run(_metadata, self));
}

/* ---- a machine's KVM consumer on a real VM ------------------------------ */

/*
 * SMM (kvm-memslots.md 1.2): where KVM has it, the machine sets every slot
 * of "memory" in address space 1 too, the kernel holds both tables, and
 * freeing the machine's maps on an error leaves nothing behind; smm=on
 * where KVM lacks it is refused before any slot is set.
 */
TEST_F(kvm, machine_smm_on_a_real_vm)
{
	MS_OPTS(ms_machine_opts, o, .type = MS_MACHINE_Q35, .ram_size = 256 * MiB,
		.kvm_memslots = ms_kvm__max_memslots(self->k), .kvm = self->k,
		.smm = MS_SMM_ON);
	struct ms_error err = { 0 };
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_slotmap *map, *smm;
	struct ms_machine *m;

	ASSERT_NE(NULL, ctx);
	m = ms_machine__new(ctx, &o, &err);
	if (!ms_kvm__has_smm(self->k)) {
		EXPECT_EQ(NULL, m);
		EXPECT_STREQ("System Management Mode not supported by this hypervisor.", err.msg);
		EXPECT_EQ(0, nr_slots(self->k));
		ms_ctx__free(ctx);
		SKIP(return, "KVM without SMM: smm=on refused as QEMU does");
	}
	ASSERT_NE(NULL, m) {
		TH_LOG("%s", err.msg);
	}
	map = ms_machine__kvm(m);
	smm = ms_machine__kvm_smm(m);
	ASSERT_NE(NULL, smm);
	EXPECT_NO_MAP_ERROR(smm);
	/* before the firmware runs, the same ranges in both */
	EXPECT_EQ(ms_slotmap__nr_used(map), ms_slotmap__nr_used(smm));
	EXPECT_LT(0, ms_slotmap__nr_used(smm));
	EXPECT_TRUE(tables_equal2(_metadata, self->k, map, smm));
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

TEST_F(kvm, machine_on_a_real_vm)
{
	MS_OPTS(ms_machine_opts, o, .type = MS_MACHINE_PC, .ram_size = 256 * MiB,
		.kvm_memslots = ms_kvm__max_memslots(self->k), .kvm = self->k,
		.smm = MS_SMM_OFF);
	struct ms_error err = { 0 };
	struct ms_machine *m;
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_slotmap *map;

	ASSERT_NE(NULL, ctx);
	m = ms_machine__new(ctx, &o, &err);
	ASSERT_NE(NULL, m) {
		TH_LOG("%s", err.msg);
	}
	map = ms_machine__kvm(m);
	ASSERT_NE(NULL, map);
	EXPECT_NO_MAP_ERROR(map);
	EXPECT_LT(0, ms_slotmap__nr_used(map));
	EXPECT_TABLES_EQUAL(self->k, map);
	EXPECT_KERNEL_AGREES(self->k, 64);
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

TEST_HARNESS_MAIN
