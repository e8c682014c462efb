// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The KVM binding: a VM on /dev/kvm whose memory slots are set by executing
 * ms_slotmap operations (kvm-memslots.md sections 2, 6, 7.2 and 10; Linux
 * Documentation/virt/kvm/api.rst, KVM_SET_USER_MEMORY_REGION(2),
 * KVM_GET_DIRTY_LOG, KVM_CHECK_EXTENSION).
 *
 * Besides issuing the ioctls it keeps a mirror of what the kernel holds:
 * every successful call is applied to it, a failed one leaves it alone
 * (the kernel changes nothing on failure). The mirror lets a failure be
 * explained ("overlaps slot 3", "no such slot") and lets tests compare the
 * kernel's table with the slot map's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "internal.h"

#define KVM_API_VERSION_WANTED	12

/*
 * KVM_SET_USER_MEMORY_REGION2 (Linux 6.8, api.rst 4.140) is missing from
 * older UAPI headers such as Debian 12's; the layout is part of the ABI,
 * so it is described here under a name of our own. The kernel reads the
 * padding too and wants it zero.
 */
struct region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};

_Static_assert(sizeof(struct region2) == 160, "kvm_userspace_memory_region2 is 160 bytes");

#define SET_REGION2_IOCTL	_IOW(KVMIO, 0x49, struct region2)

#ifdef KVM_SET_USER_MEMORY_REGION2
_Static_assert(KVM_SET_USER_MEMORY_REGION2 == SET_REGION2_IOCTL,
	       "KVM_SET_USER_MEMORY_REGION2 ioctl number");
#endif
#ifndef KVM_CAP_X86_SMM
#define KVM_CAP_X86_SMM		117
#endif
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2	231
#endif

/* The slot field carries the id in bits 0-15, the address space above. */
#define SLOT_ID_BITS		16
#define SLOT_ID_MAX		0xffffu
/* rule 10.3: a user slot holds at most 2^31 - 1 pages */
#define MAX_SLOT_PAGES		((1ull << 31) - 1)

/* Slots of one address space as the kernel holds them; size 0 = unused. */
struct mirror {
	struct ms_kvm_slot *slots;	/* index = slot id */
	uint32_t alloc;
};

struct ms_kvm {
	int sys_fd, vm_fd;
	uint32_t max_slots;		/* KVM_CAP_NR_MEMSLOTS (rule 2.1) */
	uint32_t nr_as;			/* KVM_CAP_MULTI_ADDRESS_SPACE, at least 1 */
	bool memory2;			/* use KVM_SET_USER_MEMORY_REGION2 */
	bool ro_mem;			/* KVM_CAP_READONLY_MEM */
	bool smm;			/* KVM_CAP_X86_SMM, with a second address space */
	uint64_t page_size;

	struct mirror *as;		/* index = address space id */
	uint32_t nr_as_alloc;

	uint64_t fault_at;		/* stats.ioctls value that fails; 0 = none */
	int fault_err;			/* positive errno */

	struct ms_kvm_stats stats;
	struct ms_error last_err;
	bool has_first_err;		/* a failure since ms_kvm__clear_error() */
	struct ms_error first_err;
};

/*
 * The VM's answer where KVM_CAP_CHECK_EXTENSION_VM says the VM fd takes
 * the ioctl (capabilities can be per VM type), else the system's.
 */
static int check_cap(const struct ms_kvm *k, bool vm_caps, long cap)
{
	int r = ioctl(vm_caps ? k->vm_fd : k->sys_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

struct errno_name {
	const char *name;
	int err;
};

static const struct errno_name errno_names[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EINTR", EINTR }, { "EIO", EIO },
	{ "ENXIO", ENXIO }, { "E2BIG", E2BIG }, { "EBADF", EBADF }, { "EAGAIN", EAGAIN },
	{ "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EFAULT", EFAULT }, { "EBUSY", EBUSY },
	{ "EEXIST", EEXIST }, { "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "ENFILE", ENFILE },
	{ "EMFILE", EMFILE }, { "ENOTTY", ENOTTY }, { "EFBIG", EFBIG }, { "ENOSPC", ENOSPC },
	{ "ERANGE", ERANGE }, { "ENOSYS", ENOSYS }, { "EOVERFLOW", EOVERFLOW },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "ENOTSUP", ENOTSUP }, { "ETIMEDOUT", ETIMEDOUT },
	{ "EHWPOISON", EHWPOISON },
};

/* "N:ERRNO", ERRNO a name of the table above or a number. */
int ms_kvm_fault_parse(const char *s, uint64_t *nth, int *errnum)
{
	int saved = errno;
	unsigned long long n;
	unsigned long e;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *end != ':' || !n || *s == '-')
		goto bad;
	s = end + 1;
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++) {
		if (!strcasecmp(s, errno_names[i].name)) {
			*nth = n;
			*errnum = errno_names[i].err;
			errno = saved;
			return 0;
		}
	}
	errno = 0;
	e = strtoul(s, &end, 10);
	if (errno || end == s || *end || !e || e > 4095 || *s == '-')
		goto bad;
	*nth = n;
	*errnum = (int)e;
	errno = saved;
	return 0;
bad:
	errno = saved;
	return -EINVAL;
}

struct ms_kvm *ms_kvm__new(const struct ms_kvm_opts *opts, struct ms_error *err)
{
	struct ms_kvm_opts o = { 0 };
	const char *dev;
	struct ms_kvm *k;
	bool vm_caps;
	int ret, e;
	long page;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	dev = o.dev ? o.dev : "/dev/kvm";
	k = calloc(1, sizeof(*k));
	if (!k) {
		ms_error_set(err, -ENOMEM, "%s: out of memory", dev);
		errno = ENOMEM;
		return NULL;
	}
	k->vm_fd = -1;
	k->sys_fd = open(dev, O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		e = errno;
		ms_error_set(err, -e, "%s: %s", dev, strerror(e));
		goto err_free;
	}
	ret = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION_WANTED) {
		e = ret < 0 ? errno : EOPNOTSUPP;
		if (ret < 0)
			ms_error_set(err, -e, "%s: KVM_GET_API_VERSION: %s", dev, strerror(e));
		else
			ms_error_set(err, -e, "%s: KVM API version %d, want %d", dev, ret,
				     KVM_API_VERSION_WANTED);
		goto err_close_sys;
	}
	/* type 0: the default VM type; EINTR is possible while it sets up */
	do {
		k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	} while (k->vm_fd < 0 && errno == EINTR);
	if (k->vm_fd < 0) {
		e = errno;
		ms_error_set(err, -e, "%s: KVM_CREATE_VM: %s", dev, strerror(e));
		goto err_close_sys;
	}

	vm_caps = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_CHECK_EXTENSION_VM) > 0;
	k->max_slots = (uint32_t)check_cap(k, vm_caps, KVM_CAP_NR_MEMSLOTS);
	if (!k->max_slots)
		k->max_slots = MS_KVM_MEMSLOTS_DEFAULT;		/* rule 2.1 */
	k->memory2 = !o.no_memory2 && check_cap(k, vm_caps, KVM_CAP_USER_MEMORY2) > 0;
	k->ro_mem = check_cap(k, vm_caps, KVM_CAP_READONLY_MEM) > 0;
	k->nr_as = (uint32_t)check_cap(k, vm_caps, KVM_CAP_MULTI_ADDRESS_SPACE);
	if (!k->nr_as)
		k->nr_as = 1;
	k->smm = k->nr_as > 1 && check_cap(k, vm_caps, KVM_CAP_X86_SMM) > 0;
	page = sysconf(_SC_PAGESIZE);
	k->page_size = page > 0 ? (uint64_t)page : 4096;

	if (o.fault_nth) {
		ms_kvm__inject_fault(k, o.fault_nth, o.fault_errno);
		pr_debug("%s: fault injection: memslot ioctl %llu fails with %s\n", dev,
			 (unsigned long long)o.fault_nth, strerror(k->fault_err));
	}
	pr_debug("%s: VM fd %d: %u memslots, %u address spaces, %s, READONLY_MEM %s\n", dev,
		 k->vm_fd, k->max_slots, k->nr_as,
		 k->memory2 ? "KVM_SET_USER_MEMORY_REGION2" : "KVM_SET_USER_MEMORY_REGION",
		 k->ro_mem ? "yes" : "no");
	return k;

err_close_sys:
	close(k->sys_fd);
err_free:
	free(k);
	errno = e;
	return NULL;
}

void ms_kvm__free(struct ms_kvm *k)
{
	if (!k)
		return;
	close(k->vm_fd);
	close(k->sys_fd);
	for (uint32_t i = 0; i < k->nr_as_alloc; i++)
		free(k->as[i].slots);
	free(k->as);
	free(k);
}

int ms_kvm__vm_fd(const struct ms_kvm *k) { return k->vm_fd; }
int ms_kvm__sys_fd(const struct ms_kvm *k) { return k->sys_fd; }
uint32_t ms_kvm__max_memslots(const struct ms_kvm *k) { return k->max_slots; }
bool ms_kvm__has_memory2(const struct ms_kvm *k) { return k->memory2; }
bool ms_kvm__has_readonly_mem(const struct ms_kvm *k) { return k->ro_mem; }
bool ms_kvm__has_smm(const struct ms_kvm *k) { return k->smm; }
const struct ms_error *ms_kvm__last_error(const struct ms_kvm *k) { return &k->last_err; }

const struct ms_error *ms_kvm__first_error(const struct ms_kvm *k)
{
	return k->has_first_err ? &k->first_err : NULL;
}

void ms_kvm__clear_error(struct ms_kvm *k)
{
	k->has_first_err = false;
}

void ms_kvm__inject_fault(struct ms_kvm *k, uint64_t nth, int err)
{
	k->fault_at = nth ? k->stats.ioctls + nth : 0;
	k->fault_err = err > 0 ? err : EIO;
}

void ms_kvm__stats(const struct ms_kvm *k, struct ms_kvm_stats *st)
{
	*st = k->stats;
}

static const struct ms_kvm_slot *mirror_get(const struct ms_kvm *k, uint16_t as_id, uint32_t slot)
{
	if (as_id >= k->nr_as_alloc || slot >= k->as[as_id].alloc ||
	    !k->as[as_id].slots[slot].size)
		return NULL;
	return &k->as[as_id].slots[slot];
}

/* Make room for (@as_id, @slot) before the ioctl, so that a success can
 * always be recorded. */
static int mirror_reserve(struct ms_kvm *k, uint16_t as_id, uint32_t slot)
{
	struct mirror *m;

	if (as_id >= k->nr_as_alloc) {
		uint32_t n = as_id + 1u;
		struct mirror *a = realloc(k->as, n * sizeof(*a));

		if (!a)
			return -ENOMEM;
		memset(&a[k->nr_as_alloc], 0, (n - k->nr_as_alloc) * sizeof(*a));
		k->as = a;
		k->nr_as_alloc = n;
	}
	m = &k->as[as_id];
	if (slot >= m->alloc) {
		uint32_t n = m->alloc ? m->alloc : 64;
		struct ms_kvm_slot *s;

		while (n <= slot)
			n *= 2;
		if (n > SLOT_ID_MAX + 1)
			n = SLOT_ID_MAX + 1;
		s = realloc(m->slots, n * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memset(&s[m->alloc], 0, (n - m->alloc) * sizeof(*s));
		m->slots = s;
		m->alloc = n;
	}
	return 0;
}

/* Another slot of @as_id overlapping [gpa, gpa + size) (rule 10.5). */
static const struct ms_kvm_slot *mirror_overlap(const struct ms_kvm *k, uint16_t as_id,
						uint32_t slot, uint64_t gpa, uint64_t size)
{
	const struct mirror *m;

	if (as_id >= k->nr_as_alloc)
		return NULL;
	m = &k->as[as_id];
	for (uint32_t i = 0; i < m->alloc; i++) {
		const struct ms_kvm_slot *s = &m->slots[i];

		if (i == slot || !s->size)
			continue;
		if (gpa < s->gpa + s->size && s->gpa < gpa + size)
			return s;
	}
	return NULL;
}

/*
 * Why did the kernel say EINVAL? The checks of api.rst and rules 10.2-10.6,
 * in the order the kernel makes them; the first one that applies wins.
 */
static void einval_reason(const struct ms_kvm *k, const struct ms_slot_op *op, uint64_t size,
			  char *buf, size_t len)
{
	const struct ms_memslot *s = &op->slot;
	uint64_t hva = (uint64_t)(uintptr_t)s->hva, mask = k->page_size - 1;
	uint32_t valid = MS_KVM_MEM_LOG_DIRTY_PAGES | (k->ro_mem ? MS_KVM_MEM_READONLY : 0);
	const struct ms_kvm_slot *old;

	/* guest_memfd slots need a file this binding never passes */
	if (s->slot >= k->max_slots)
		snprintf(buf, len, "slot id beyond the limit %u", k->max_slots);
	else if (s->flags & ~valid)
		snprintf(buf, len, "flags 0x%x not supported", s->flags & ~valid);
	else if (size & mask)
		snprintf(buf, len, "size not page aligned");
	else if (s->gpa & mask)
		snprintf(buf, len, "gpa not page aligned");
	else if (hva & mask)
		snprintf(buf, len, "hva 0x%llx not page aligned", (unsigned long long)hva);
	else if (s->as_id >= k->nr_as)
		snprintf(buf, len, "address space %u beyond the limit %u", s->as_id, k->nr_as);
	else if (size && s->gpa + size < s->gpa)
		snprintf(buf, len, "range wraps around 2^64");
	else if (size / k->page_size > MAX_SLOT_PAGES)
		snprintf(buf, len, "more than 2^31-1 pages");
	else if (!(old = mirror_get(k, s->as_id, s->slot)))
		snprintf(buf, len, size ? "rejected by the kernel" : "no such slot");
	else if (old->hva != hva)	/* rule 10.6: modify keeps hva, size, READONLY */
		snprintf(buf, len, "hva cannot change in place (slot has 0x%llx)",
			 (unsigned long long)old->hva);
	else if (old->size != size)
		snprintf(buf, len, "cannot be resized in place (slot has size 0x%llx)",
			 (unsigned long long)old->size);
	else if ((old->flags ^ s->flags) & MS_KVM_MEM_READONLY)
		snprintf(buf, len, "READONLY cannot change in place");
	else
		snprintf(buf, len, "rejected by the kernel");
}

static void explain(struct ms_kvm *k, const struct ms_slot_op *op, uint64_t size, int ret,
		    bool injected)
{
	const struct ms_memslot *s = &op->slot;
	const struct ms_kvm_slot *other;
	char who[64], range[64], why[160];

	if (s->as_id)
		snprintf(who, sizeof(who), "slot %u as %u", s->slot, s->as_id);
	else
		snprintf(who, sizeof(who), "slot %u", s->slot);
	if (size) {
		snprintf(range, sizeof(range), "0x%llx+0x%llx", (unsigned long long)s->gpa,
			 (unsigned long long)size);
	} else {
		const struct ms_kvm_slot *old = mirror_get(k, s->as_id, s->slot);

		snprintf(range, sizeof(range), "delete 0x%llx+0x%llx",
			 (unsigned long long)(old ? old->gpa : s->gpa),
			 (unsigned long long)(old ? old->size : 0));
	}
	if (injected) {
		snprintf(why, sizeof(why), ": %s (injected fault)", strerror(-ret));
	} else if (ret == -EEXIST) {
		other = mirror_overlap(k, s->as_id, s->slot, s->gpa, size);
		if (other)
			snprintf(why, sizeof(why), " overlaps slot %u", other->slot);
		else
			snprintf(why, sizeof(why), " overlaps another slot");
	} else if (ret == -EINVAL) {
		why[0] = ' ';
		einval_reason(k, op, size, why + 1, sizeof(why) - 1);
	} else {
		snprintf(why, sizeof(why), ": %s", strerror(-ret));
	}
	ms_error_set(&k->last_err, ret, "%s: %s%s", who, range, why);
}

/*
 * @k->last_err (its message already written) gets the operation's details;
 * the first failure since ms_kvm__clear_error() is kept apart.
 */
static int fail(struct ms_kvm *k, const struct ms_slot_op *op, int ret, bool injected)
{
	struct ms_error *e = &k->last_err;

	e->flags = MS_ERROR_KVM | (injected ? MS_ERROR_INJECTED : 0);
	e->op = (int)op->kind;
	e->as_id = op->slot.as_id;
	e->slot = op->slot.slot;
	e->gpa = op->slot.gpa;
	e->size = op->slot.size;
	e->flags_kvm = op->slot.flags;
	e->kvm_errno = -ret;
	if (!k->has_first_err) {
		k->has_first_err = true;
		k->first_err = *e;
	}
	return ret;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ms_kvm__exec(void *kvm, const struct ms_slot_op *op)
{
	struct ms_kvm *k = kvm;
	const struct ms_memslot *s = &op->slot;
	/* rule 6.2 / 10.4: a delete is the same call with size 0 */
	uint64_t size = op->kind == MS_SLOT_OP_DELETE ? 0 : s->size;
	struct region2 r = {
		.slot = s->slot | (uint32_t)s->as_id << SLOT_ID_BITS,
		.flags = s->flags,
		.guest_phys_addr = s->gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)s->hva,
	};
	bool injected = false;
	uint64_t t0;
	int ret;

	switch (op->kind) {
	case MS_SLOT_OP_CREATE:
		k->stats.creates++;
		break;
	case MS_SLOT_OP_DELETE:
		k->stats.deletes++;
		break;
	case MS_SLOT_OP_UPDATE:
		k->stats.updates++;
		break;
	}
	/* an id above 16 bits would spill into the address space bits */
	if (s->slot > SLOT_ID_MAX) {
		ms_error_set(&k->last_err, -EINVAL,
			     "slot %u: 0x%llx+0x%llx slot id beyond the limit %u", s->slot,
			     (unsigned long long)s->gpa, (unsigned long long)size, k->max_slots);
		return fail(k, op, -EINVAL, false);
	}
	if (size && mirror_reserve(k, s->as_id, s->slot)) {
		ms_error_set(&k->last_err, -ENOMEM, "slot %u: out of memory", s->slot);
		return fail(k, op, -ENOMEM, false);
	}

	k->stats.ioctls++;
	if (k->fault_at && k->stats.ioctls == k->fault_at) {
		k->fault_at = 0;
		injected = true;
		k->stats.injected++;
		ret = -k->fault_err;
	} else {
		t0 = now_ns();
		if (k->memory2) {
			ret = ioctl(k->vm_fd, SET_REGION2_IOCTL, &r);
		} else {
			struct kvm_userspace_memory_region r1 = {
				.slot = r.slot,
				.flags = r.flags,
				.guest_phys_addr = r.guest_phys_addr,
				.memory_size = r.memory_size,
				.userspace_addr = r.userspace_addr,
			};

			ret = ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r1);
		}
		if (ret < 0)
			ret = -errno;
		k->stats.ioctl_ns += now_ns() - t0;
	}
	if (ret) {
		k->stats.failures++;
		explain(k, op, size, ret, injected);
		return fail(k, op, ret, injected);
	}

	/* the kernel now holds exactly this (create, move, flags, no-op) */
	if (!size) {
		if (mirror_get(k, s->as_id, s->slot))
			memset(&k->as[s->as_id].slots[s->slot], 0, sizeof(struct ms_kvm_slot));
	} else {
		k->as[s->as_id].slots[s->slot] = (struct ms_kvm_slot){
			.as_id = s->as_id,
			.slot = s->slot,
			.flags = s->flags,
			.gpa = s->gpa,
			.size = size,
			.hva = r.userspace_addr,
		};
	}
	return 0;
}

int ms_kvm__for_each_slot(const struct ms_kvm *k,
			  int (*fn)(const struct ms_kvm_slot *s, void *opaque), void *opaque)
{
	int ret;

	for (uint32_t a = 0; a < k->nr_as_alloc; a++) {
		for (uint32_t i = 0; i < k->as[a].alloc; i++) {
			if (!k->as[a].slots[i].size)
				continue;
			ret = fn(&k->as[a].slots[i], opaque);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int ms_kvm__get_dirty_log(struct ms_kvm *k, uint16_t as_id, uint32_t slot, uint64_t *bitmap,
			  struct ms_error *err)
{
	struct kvm_dirty_log log = {
		.slot = slot | (uint32_t)as_id << SLOT_ID_BITS,
		.dirty_bitmap = bitmap,
	};
	const struct ms_kvm_slot *s;
	int e;

	if (slot > SLOT_ID_MAX)
		return ms_error_set(err, -EINVAL, "slot %u: slot id beyond the limit %u", slot,
				    k->max_slots);
	if (!ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log))
		return 0;
	e = errno;
	/* rule 10.8 */
	s = mirror_get(k, as_id, slot);
	if (e == ENOENT && s)
		return ms_error_set(err, -e, "slot %u: 0x%llx+0x%llx: dirty logging is off", slot,
				    (unsigned long long)s->gpa, (unsigned long long)s->size);
	if (e == ENOENT)
		return ms_error_set(err, -e, "slot %u: no such slot", slot);
	if (e == EINVAL && slot >= k->max_slots)
		return ms_error_set(err, -e, "slot %u: slot id beyond the limit %u", slot,
				    k->max_slots);
	if (e == EINVAL && as_id >= k->nr_as)
		return ms_error_set(err, -e, "slot %u as %u: address space beyond the limit %u",
				    slot, as_id, k->nr_as);
	return ms_error_set(err, -e, "slot %u: KVM_GET_DIRTY_LOG: %s", slot, strerror(e));
}
