// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KVM ioctl failure, swept, on a real VM: every operation that changes
 * memslots runs with its Nth memslot ioctl failing, for N = 1, 2, 3, ...
 * until it runs without reaching N. The test is linked with --wrap=ioctl
 * (Makefile): __wrap_ioctl() below counts KVM_SET_USER_MEMORY_REGION,
 * KVM_SET_USER_MEMORY_REGION2, KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG
 * while a countdown is armed and makes the Nth one fail with an errno of
 * ERRNOS (EINVAL, ENOMEM, EEXIST, one after the other) without reaching
 * the kernel, so the binding takes the path of a real kernel refusal.
 *
 * The operations: machine creation (pc; q35 with SMM, two address
 * spaces), device_add of a pc-dimm, an NVDIMM and a virtio-mem device,
 * device_del of a pc-dimm (an NVDIMM cannot be unplugged, as in QEMU),
 * virtio-mem PLUG, UNPLUG and UNPLUG_ALL that (de)activate dynamic
 * memslots and a requested-size change (which sets no slot), global
 * dirty logging start and stop on
 * a machine, and on a plain address space with a slot map: a RAM region
 * grown and shrunk within its memory, made read-only and writable, VGA
 * dirty logging on and off, and a dirty-log sync (KVM_GET_DIRTY_LOG of
 * every logging slot).
 *
 * After each run that hit the failure:
 *  - the kernel's slot table, read by the census iterator (the tool's
 *    loader, tool/census_prog.c), equals the binding's mirror, which
 *    equals the slot maps' tables, ids included;
 *  - every address space's view is the render of its root;
 *  - an operation that reports errors (machine and device calls, virtio-mem
 *    requests, KVM_GET_DIRTY_LOG) returned one, the binding recorded the
 *    ioctl's errno (ms_kvm__first_error()), and the state is the one before
 *    the call: the dump() text of the region tree, the views, the device
 *    list, device-memory accounting, consumers and slot maps;
 *  - an operation that cannot report (a commit under ms_region__set_*(),
 *    ms_ctx__dirty_log_start/stop()) recorded the failure in its slot map
 *    (ms_slotmap__error(), MS_ERROR_KVM with the errno), as slotmap.h
 *    documents; its table keeps what the kernel holds.
 * Then each operation is swept again with every memslot ioctl from the
 * Nth on failing ("N.."), the ones that undo a change included: the
 * failure must still be reported or recorded and the state consistent as
 * above, but the state before cannot always come back (a slot whose
 * delete fails stays, in the kernel and in the slot map).
 *
 * Each sweep prints its memslot ioctls, the runs, the ioctls failed, the
 * failures reported and recorded, and how often the state (for recorded
 * failures: the slot table) was the one before or changed.
 * Under SAN=1 LeakSanitizer checks every sweep at its end.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "census_prog.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

/* ---- the failing ioctl ------------------------------------------------------------------ */

/* kvm.c's name for KVM_SET_USER_MEMORY_REGION2, missing from older headers */
#define SET_REGION2	_IOC(_IOC_WRITE, KVMIO, 0x49, 160)
#ifndef KVM_CLEAR_DIRTY_LOG
#define KVM_CLEAR_DIRTY_LOG	_IOWR(KVMIO, 0xc0, struct kvm_clear_dirty_log)
#endif

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

static const int ERRNOS[] = { EINVAL, ENOMEM, EEXIST };

static bool fi_armed;
static bool fi_persist;			/* every memslot ioctl from the Nth on fails */
static unsigned long fi_nth;		/* the memslot ioctl that fails */
static unsigned long fi_calls;		/* memslot ioctls since fi_arm() */
static unsigned long fi_failed;		/* of which failed */
static int fi_errno;
static bool fi_hit;
static unsigned long fi_req;		/* the first request that failed */

static bool memslot_ioctl(unsigned long req)
{
	return req == KVM_SET_USER_MEMORY_REGION || req == SET_REGION2 ||
	       req == KVM_GET_DIRTY_LOG || req == KVM_CLEAR_DIRTY_LOG;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fi_armed && memslot_ioctl(req)) {
		fi_calls++;
		if (fi_calls == fi_nth || (fi_hit && fi_persist)) {
			if (!fi_hit)
				fi_req = req;
			fi_hit = true;
			fi_failed++;
			errno = fi_errno;
			return -1;
		}
	}
	return __real_ioctl(fd, req, arg);
}

/* Make the @n-th memslot ioctl from now fail with @err, with @persist every later one too. */
static void fi_arm(unsigned long n, int err, bool persist)
{
	fi_calls = 0;
	fi_failed = 0;
	fi_hit = false;
	fi_req = 0;
	fi_errno = err;
	fi_nth = n;
	fi_persist = persist;
	fi_armed = true;
}

static bool fi_disarm(void)
{
	fi_armed = false;
	return fi_hit;
}


/* ---- the state under test --------------------------------------------------------------- */

struct st {
	struct ms_kvm *k;
	struct ms_ctx *ctx;
	struct ms_machine *m;
	struct ms_backend *b[4];
	struct ms_memdev *dev[4];
	/* a plain address space with a slot map of its own */
	struct ms_region *mr[4];
	struct ms_as *as;
	struct ms_slotmap *map;
	int arg;
};

static void st_free(struct st *st)
{
	ms_machine__free(st->m);
	ms_slotmap__free(st->map);
	if (st->as)
		ms_as__free(st->as);
	for (int i = 3; i >= 0; i--)
		ms_region__unref(st->mr[i]);
	ms_ctx__free(st->ctx);
	ms_kvm__free(st->k);
	memset(st, 0, sizeof(*st));
}

/* The slot maps of @st: the plain one, or the machine's (address space 0, 1). */
static int st_maps(const struct st *st, struct ms_slotmap *maps[2])
{
	maps[0] = st->map;
	maps[1] = NULL;
	if (st->m) {
		maps[0] = ms_machine__kvm(st->m);
		maps[1] = ms_machine__kvm_smm(st->m);
	}
	return maps[1] ? 2 : maps[0] ? 1 : 0;
}

/* A slot without its host address (which differs from run to run). */
static int slot_line(const struct ms_memslot *s, void *opaque)
{
	fprintf(opaque, "  %u:%u 0x%" PRIx64 "+0x%" PRIx64 " f=%u %s@0x%" PRIx64 "\n", s->as_id,
		s->slot, s->gpa, s->size, s->flags, s->mr ? ms_region__name(s->mr) ?: "-" : "-",
		s->offset_in_region);
	return 0;
}

static void maps_fmt(FILE *f, const struct st *st)
{
	struct ms_slotmap *maps[2];
	int n = st_maps(st, maps);

	fprintf(f, "slots:\n");
	for (int i = 0; i < n; i++)
		ms_slotmap__for_each(maps[i], slot_line, f);
}

/* Everything the library holds, as text (malloc()ed; call disarmed). */
static char *dump(const struct st *st)
{
	struct as_list l = { 0 };
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	s = mtree_str(st->ctx, 0, NULL, NULL);
	fprintf(f, "mtree:\n%s", s ?: "(NULL)\n");
	free(s);
	s = mtree_str(st->ctx, MS_MTREE_FLAT, NULL, NULL);
	fprintf(f, "mtree -f:\n%s", s ?: "(NULL)\n");
	free(s);
	ms_ctx__for_each_as(st->ctx, as_list_collect, &l);
	for (int i = 0; i < l.n; i++) {
		s = as_str(l.as[i]);
		fprintf(f, "as %s:\n%s", ms_as__name(l.as[i]) ?: "-", s ?: "(NULL)\n");
		free(s);
	}
	if (st->m) {
		struct ms_devmem_stats ds = devmem_stats(st->m);

		fprintf(f, "devmem present=%d used_region=0x%" PRIx64 " plugged=0x%" PRIx64
			" dimm=0x%" PRIx64 " required=%u used=%u reserved=%u\n", ds.present,
			ds.used_region_size, ds.plugged_size, ds.dimm_size, ds.required_memslots,
			ds.used_memslots, ds.reserved_memslots);
		ms_machine__for_each_device(st->m, memdev_state_line, f);
		ms_machine__for_each_consumer(st->m, consumer_state_line, f);
	}
	maps_fmt(f, st);
	fclose(f);
	return buf;
}

/* The slot table of dump(), alone. */
static char *dump_slots(const struct st *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	maps_fmt(f, st);
	fclose(f);
	return buf;
}

/* ---- the kernel's table ------------------------------------------------------------------ */

struct kslot {
	uint16_t as_id;
	uint32_t id, flags;
	uint64_t gpa, size, hva;
};

struct ktab {
	struct kslot s[1024];
	int n;
	bool overflow;
};

static void ktab_add(struct ktab *t, uint16_t as_id, uint32_t id, uint32_t flags, uint64_t gpa,
		     uint64_t size, uint64_t hva)
{
	if (t->n == (int)ARRAY_SIZE(t->s)) {
		t->overflow = true;
		return;
	}
	t->s[t->n++] = (struct kslot){ as_id, id, flags, gpa, size, hva };
}

static int kslot_cmp(const void *a, const void *b)
{
	const struct kslot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void ktab_fmt(FILE *f, const char *what, struct ktab *t)
{
	qsort(t->s, (size_t)t->n, sizeof(t->s[0]), kslot_cmp);
	fprintf(f, "%s:%s\n", what, t->overflow ? " OVERFLOW" : "");
	for (int i = 0; i < t->n; i++)
		fprintf(f, "  %u:%u 0x%" PRIx64 "+0x%" PRIx64 " f=0x%x hva=0x%" PRIx64 "\n",
			t->s[i].as_id, t->s[i].id, t->s[i].gpa, t->s[i].size, t->s[i].flags,
			t->s[i].hva);
}

static int mirror_collect(const struct ms_kvm_slot *s, void *opaque)
{
	ktab_add(opaque, s->as_id, s->slot, s->flags, s->gpa, s->size, s->hva);
	return 0;
}

static int map_collect(const struct ms_memslot *s, void *opaque)
{
	ktab_add(opaque, s->as_id, s->slot, s->flags, s->gpa, s->size,
		 (uint64_t)(uintptr_t)s->hva);
	return 0;
}

static struct census_prog *census;	/* NULL: no census here (census_why) */
static char census_why[128];
static unsigned long census_reads, census_slots, census_private;

/*
 * The kernel's slots of @k through the census iterator into @t; slot ids
 * from KVM_CAP_NR_MEMSLOTS up are the kernel's private ones (x86's APIC
 * access page, ...) and are left out. Return: 0 or a negative errno.
 */
static int census_table(struct ms_kvm *k, struct ktab *t)
{
	struct census_fd_vm v;
	int ret = census_prog_read_fd(census, ms_kvm__vm_fd(k), &v);

	if (ret)
		return ret;
	census_reads++;
	census_slots += v.nr;
	for (size_t i = 0; i < v.nr; i++) {
		const struct ms_census_slot *s = &v.slots[i];

		if (s->id >= ms_kvm__max_memslots(k)) {
			census_private++;
			continue;
		}
		ktab_add(t, s->as_id, s->id, s->flags, s->gpa, s->size, s->hva);
	}
	return 0;
}

static char *text_of(const char *what, struct ktab *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	ktab_fmt(f, what, t);
	fclose(f);
	return buf;
}

/*
 * The invariants, as text ("" when they hold): the kernel (census) holds
 * the binding's mirror, the mirror is the slot maps' tables, and each
 * address space's view is the render of its root.
 */
static char *check_consistent(const struct st *st)
{
	static struct ktab km, mm, cm;
	struct ms_slotmap *maps[2];
	struct as_list l = { 0 };
	char *buf = NULL, *a, *b, *c;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n, ret;

	if (!f)
		return NULL;
	km.n = mm.n = cm.n = 0;
	km.overflow = mm.overflow = cm.overflow = false;
	ms_kvm__for_each_slot(st->k, mirror_collect, &km);
	n = st_maps(st, maps);
	for (int i = 0; i < n; i++)
		ms_slotmap__for_each(maps[i], map_collect, &mm);
	a = text_of("binding", &km);
	b = text_of("slot maps", &mm);
	if (!a || !b || strcmp(a + strlen("binding"), b + strlen("slot maps")))
		fprintf(f, "the binding holds\n%sbut the slot maps\n%s", a ?: "", b ?: "");
	if (census) {
		ret = census_table(st->k, &cm);
		c = ret ? NULL : text_of("kernel", &cm);
		if (ret)
			fprintf(f, "census: %s\n", strerror(-ret));
		else if (!a || !c || strcmp(a + strlen("binding"), c + strlen("kernel")))
			fprintf(f, "the binding holds\n%sbut the kernel\n%s", a ?: "", c ?: "");
		free(c);
	}
	free(a);
	free(b);
	ms_ctx__for_each_as(st->ctx, as_list_collect, &l);
	for (int i = 0; i < l.n; i++) {
		a = as_str(l.as[i]);
		b = render_str(ms_flatview__root(ms_as__flatview(l.as[i])));
		if (!a || !b || strcmp(a, b))
			fprintf(f, "as %s: view\n%sis not the render\n%s", ms_as__name(l.as[i]),
				a ?: "(NULL)\n", b ?: "(NULL)\n");
		free(a);
		free(b);
	}
	fclose(f);
	return buf;
}

/* The first KVM failure a slot map recorded, or NULL. */
static const struct ms_error *map_error(const struct st *st)
{
	struct ms_slotmap *maps[2];
	int n = st_maps(st, maps);

	for (int i = 0; i < n; i++)
		if (ms_slotmap__error(maps[i]))
			return ms_slotmap__error(maps[i]);
	return NULL;
}

static void maps_clear(const struct st *st)
{
	struct ms_slotmap *maps[2];
	int n = st_maps(st, maps);

	for (int i = 0; i < n; i++)
		ms_slotmap__clear_ops(maps[i]);
}

/* ---- setups ----------------------------------------------------------------------------- */

#pragma GCC diagnostic ignored "-Woverride-init"

#define BOPTS(...) ((struct ms_backend_opts){ .sz = sizeof(struct ms_backend_opts),	\
	.kind = MS_BACKEND_RAM, __VA_ARGS__ })
#define DEV(...) ((struct ms_memdev_opts){ .sz = sizeof(struct ms_memdev_opts),		\
	.slot = MS_MEMDEV_SLOT_AUTO, .unplugged_inaccessible = MS_ON, __VA_ARGS__ })

static int new_vm(struct st *st)
{
	st->k = ms_kvm__new(NULL, NULL);
	st->ctx = ms_ctx__new();
	return st->k && st->ctx ? 0 : -1;
}

/* st->arg bit 0: q35 with SMM (where KVM has it), else pc without */
static struct ms_machine_opts machine_opts(struct st *st)
{
	MS_OPTS(ms_machine_opts, o, .type = MS_MACHINE_PC, .ram_size = 512 * MiB, .slots = 4,
		.maxmem = 16 * GiB, .nvdimm = true, .kvm = st->k, .smm = MS_SMM_OFF);

	if (st->arg & 1) {
		o.type = MS_MACHINE_Q35;
		o.smm = MS_SMM_AUTO;
	}
	return o;
}

/*
 * A machine with backends b0..b3 (b0, b1: 256 MiB, b2: 4 GiB, b3: 256 MiB
 * shared for the NVDIMM) and, per @devs: 1 pc-dimm d0 on b0, 2 virtio-mem
 * vm0 on b2 with dynamic memslots (four of 1 GiB), 4 nvdimm n0 on b3.
 */
static int setup_machine_devs(struct st *st, unsigned int devs)
{
	static const char *const ids[4] = { "b0", "b1", "b2", "b3" };
	static const uint64_t sizes[4] = { 256 * MiB, 256 * MiB, 4 * GiB, 256 * MiB };
	struct ms_machine_opts o;

	if (new_vm(st))
		return -1;
	o = machine_opts(st);
	st->m = ms_machine__new(st->ctx, &o, NULL);
	if (!st->m)
		return -1;
	for (int i = 0; i < 4; i++) {
		struct ms_backend_opts b = BOPTS(.id = ids[i], .size = sizes[i], .share = i == 3);

		st->b[i] = ms_machine__add_backend(st->m, &b, NULL);
		if (!st->b[i])
			return -1;
	}
	if (devs & 1) {
		st->dev[0] = ms_machine__device_add(st->m, &DEV(.type = MS_MEMDEV_DIMM,
				.id = "d0", .memdev = st->b[0]), NULL);
		if (!st->dev[0])
			return -1;
	}
	if (devs & 2) {
		st->dev[2] = ms_machine__device_add(st->m, &DEV(.type = MS_MEMDEV_VIRTIO_MEM,
				.id = "vm0", .memdev = st->b[2], .block_size = 2 * MiB,
				.requested_size = 4 * GiB, .dynamic_memslots = true), NULL);
		if (!st->dev[2])
			return -1;
	}
	if (devs & 4) {
		st->dev[3] = ms_machine__device_add(st->m, &DEV(.type = MS_MEMDEV_NVDIMM,
				.id = "n0", .memdev = st->b[3], .label_size = 128 * KiB), NULL);
		if (!st->dev[3])
			return -1;
	}
	maps_clear(st);
	return 0;
}

static int setup_vm(struct st *st)
{
	return new_vm(st);
}

static int setup_machine_dimm(struct st *st)
{
	return setup_machine_devs(st, 1 | 4);
}

static int setup_machine_vmem(struct st *st)
{
	return setup_machine_devs(st, 2);
}

/*
 * virtio-mem with memslots 0, 1 and 2 active: blocks plugged at 0 and at
 * 64 MiB..96 MiB, at 1 GiB..1 GiB + 4 MiB and at 2 GiB.
 */
static int setup_machine_vmem_plugged(struct st *st)
{
	if (setup_machine_devs(st, 2) ||
	    ms_virtio_mem__plug(st->dev[2], 0, 2 * MiB) != MS_VIRTIO_MEM_ACK ||
	    ms_virtio_mem__plug(st->dev[2], 64 * MiB, 32 * MiB) != MS_VIRTIO_MEM_ACK ||
	    ms_virtio_mem__plug(st->dev[2], GiB, 4 * MiB) != MS_VIRTIO_MEM_ACK ||
	    ms_virtio_mem__plug(st->dev[2], 2 * GiB, 2 * MiB) != MS_VIRTIO_MEM_ACK)
		return -1;
	maps_clear(st);
	return 0;
}

/* Global dirty logging already on. */
static int setup_machine_logging(struct st *st)
{
	if (setup_machine_devs(st, 1) ||
	    ms_ctx__dirty_log_start(st->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL) || map_error(st))
		return -1;
	maps_clear(st);
	return 0;
}

/*
 * A plain "memory" address space with its own slot map on the binding:
 * ram0 (library RAM, 32 MiB of memory, 16 MiB in use) at 0, ram1 (4 MiB)
 * at 64 MiB, a ROM (64 KiB) at 128 MiB.
 */
static int setup_plain(struct st *st)
{
	MS_OPTS(ms_slotmap_opts, o);

	if (new_vm(st))
		return -1;
	st->mr[0] = ms_region__new_container(st->ctx, "system", UINT64_MAX, NULL);
	st->mr[1] = ms_region__new_ram(st->ctx, "ram0", 32 * MiB, MS_RAM_ANON, NULL);
	st->mr[2] = ms_region__new_ram(st->ctx, "ram1", 4 * MiB, MS_RAM_ANON, NULL);
	st->mr[3] = ms_region__new_rom(st->ctx, "rom", 64 * KiB, NULL);
	for (int i = 0; i < 4; i++)
		if (!st->mr[i])
			return -1;
	if (ms_region__set_size(st->mr[1], 16 * MiB, NULL) ||
	    ms_region__add_subregion(st->mr[0], 0, st->mr[1], NULL) ||
	    ms_region__add_subregion(st->mr[0], 64 * MiB, st->mr[2], NULL) ||
	    ms_region__add_subregion(st->mr[0], 128 * MiB, st->mr[3], NULL))
		return -1;
	st->as = ms_as__new(st->ctx, st->mr[0], "memory", NULL);
	if (!st->as)
		return -1;
	o.kvm = st->k;
	o.no_readonly_mem = !ms_kvm__has_readonly_mem(st->k);
	st->map = ms_slotmap__new(st->as, &o, NULL);
	if (!st->map || ms_slotmap__error(st->map))
		return -1;
	ms_slotmap__clear_ops(st->map);
	return 0;
}

/* ram1 read-only, ram1 logging (VGA), or global dirty logging on, per st->arg */
static int setup_plain_changed(struct st *st)
{
	if (setup_plain(st))
		return -1;
	if (st->arg == 1)
		ms_region__set_readonly(st->mr[2], true);
	else if (st->arg == 2)
		ms_region__set_log(st->mr[2], true);
	else if (ms_ctx__dirty_log_start(st->ctx, MS_GLOBAL_DIRTY_MIGRATION, NULL))
		return -1;
	if (ms_slotmap__error(st->map))
		return -1;
	ms_slotmap__clear_ops(st->map);
	return 0;
}

/* ---- operations -------------------------------------------------------------------------- */

static int op_machine_new(struct st *st, struct ms_error *err)
{
	struct ms_machine_opts o = machine_opts(st);

	st->m = ms_machine__new(st->ctx, &o, err);
	return st->m ? 0 : -errno;
}

/* device_add of st->arg >> 1: 0 pc-dimm, 1 nvdimm, 2 virtio-mem */
static int op_device_add(struct st *st, struct ms_error *err)
{
	struct ms_memdev_opts o;

	switch (st->arg >> 1) {
	case 0:
		o = DEV(.type = MS_MEMDEV_DIMM, .id = "new", .memdev = st->b[1]);
		break;
	case 1:
		o = DEV(.type = MS_MEMDEV_NVDIMM, .id = "new", .memdev = st->b[1],
			.label_size = 128 * KiB);
		break;
	default:
		o = DEV(.type = MS_MEMDEV_VIRTIO_MEM, .id = "new", .memdev = st->b[1],
			.block_size = 2 * MiB, .requested_size = 128 * MiB);
		break;
	}
	return ms_machine__device_add(st->m, &o, err) ? 0 : -errno;
}

/* device_del of st->dev[st->arg >> 1] */
static int op_device_del(struct st *st, struct ms_error *err)
{
	int i = st->arg >> 1;
	int ret = ms_machine__device_del(st->m, st->dev[i], err);

	if (!ret)
		st->dev[i] = NULL;
	return ret;
}

/* A guest request on the virtio-mem device: ACK is success, anything else an error. */
static int vmem_resp(int resp)
{
	return resp == MS_VIRTIO_MEM_ACK ? 0 : -100 - resp;
}

/* 1 GiB - 2 MiB .. 1 GiB + 2 MiB: activates memslots 0 and 1 */
static int op_vmem_plug(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__plug(st->dev[2], GiB - 2 * MiB, 4 * MiB));
}

/* the last blocks of memslot 1: deactivates it */
static int op_vmem_unplug(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__unplug(st->dev[2], GiB, 4 * MiB));
}

static int op_vmem_unplug_all(struct st *st, struct ms_error *err)
{
	(void)err;
	return vmem_resp(ms_virtio_mem__unplug_all(st->dev[2]));
}

/* requested-size down to 1 GiB, then up again: no slot changes */
static int op_vmem_resize(struct st *st, struct ms_error *err)
{
	int ret = ms_virtio_mem__set_requested_size(st->dev[2], GiB, err);

	return ret ? ret : ms_virtio_mem__set_requested_size(st->dev[2], 3 * GiB, err);
}

static int op_dirty_start(struct st *st, struct ms_error *err)
{
	return ms_ctx__dirty_log_start(st->ctx, MS_GLOBAL_DIRTY_MIGRATION, err);
}

static int op_dirty_stop(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_ctx__dirty_log_stop(st->ctx, MS_GLOBAL_DIRTY_MIGRATION);
	return 0;
}

/* ram0 grown to its 32 MiB (arg 0) or shrunk to 8 MiB (arg 1) */
static int op_set_size(struct st *st, struct ms_error *err)
{
	return ms_region__set_size(st->mr[1], st->arg ? 8 * MiB : 32 * MiB, err);
}

static int op_readonly(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_region__set_readonly(st->mr[2], st->arg != 1);
	return 0;
}

static int op_vga_log(struct st *st, struct ms_error *err)
{
	(void)err;
	ms_region__set_log(st->mr[2], st->arg != 2);
	return 0;
}

struct sync_ctx {
	struct ms_kvm *k;
	struct ms_error *err;
	int ret;
	unsigned int synced;
};

static int sync_one(const struct ms_memslot *s, void *opaque)
{
	struct sync_ctx *c = opaque;
	uint64_t bm[(32 * MiB / PAGE + 63) / 64];

	if (!(s->flags & MS_KVM_MEM_LOG_DIRTY_PAGES) || s->size > 32 * MiB)
		return 0;
	c->ret = ms_kvm__get_dirty_log(c->k, s->as_id, s->slot, bm, c->err);
	c->synced++;
	return c->ret;
}

/* KVM_GET_DIRTY_LOG of every logging slot, as memslot run --dirty-log does */
static int op_dirty_sync(struct st *st, struct ms_error *err)
{
	struct sync_ctx c = { .k = st->k, .err = err };

	ms_slotmap__for_each(st->map, sync_one, &c);
	return c.synced ? c.ret : -ENODATA;
}

/* ---- the sweep ----------------------------------------------------------------------------- */

/*
 * An operation: @setup builds the state before it (disarmed: 0 or -1),
 * @op runs it and returns 0 or a negative errno. @reports: a failure is
 * returned (else it is recorded in a slot map, see the top of the file);
 * @has_err: @op fills its ms_error on failure; @get_log: its ioctls are
 * KVM_GET_DIRTY_LOG, which the binding does not record as a slot failure;
 * @persist: sweep again with every ioctl from the Nth on failing.
 */
struct fcase {
	const char *name;
	int (*setup)(struct st *st);
	int (*op)(struct st *st, struct ms_error *err);
	bool reports, has_err, get_log, persist;
	int arg;
};

struct sweep_stats {
	unsigned long runs, injected, failed, reported, recorded, kept, changed;
};

static struct sweep_stats total;
static unsigned long total_ops;

static void log_diff(struct __test_metadata *_metadata, const char *a, const char *b)
{
	const char *x[2] = { a ?: "", b ?: "" };

	for (int k = 0; k < 2; k++) {
		const char *p = x[k], *e;

		for (; *p; p = *e ? e + 1 : e) {
			const char *q = x[!k];
			size_t len;
			bool found = false;

			e = strchrnul(p, '\n');
			len = (size_t)(e - p);
			while (*q && !found) {
				const char *qe = strchrnul(q, '\n');

				found = (size_t)(qe - q) == len && !memcmp(p, q, len);
				q = *qe ? qe + 1 : qe;
			}
			if (!found)
				TH_LOG("%c %.*s", k ? '+' : '-', (int)len, p);
		}
	}
}

static const char *req_name(unsigned long req)
{
	return req == KVM_SET_USER_MEMORY_REGION ? "SET_USER_MEMORY_REGION" :
	       req == SET_REGION2 ? "SET_USER_MEMORY_REGION2" :
	       req == KVM_GET_DIRTY_LOG ? "GET_DIRTY_LOG" : "CLEAR_DIRTY_LOG";
}

/*
 * With @persist every memslot ioctl from the Nth on fails, the undoing
 * ones included: the operation must still report (or record) the failure
 * and leave a consistent state, but need not restore the one before.
 */
static void sweep(struct __test_metadata *_metadata, const struct fcase *c, bool persist)
{
	bool was_failed = _metadata->exit_code != KSFT_PASS;
	struct sweep_stats s = { 0 };
	unsigned long n, ioctls = 0;
	char *good = NULL, *bad;
	int ret;

	/* the run without failure */
	{
		struct st st = { .arg = c->arg };
		struct ms_error err = { 0 };

		if (c->setup(&st)) {
			st_free(&st);
			EXPECT_TRUE(false) TH_LOG("%s: setup failed", c->name);
			return;
		}
		fi_arm(ULONG_MAX, 0, false);
		ret = c->op(&st, &err);
		ioctls = fi_calls;
		fi_disarm();
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", c->name, err.msg);
		EXPECT_EQ(NULL, map_error(&st)) TH_LOG("%s: %s", c->name, map_error(&st)->msg);
		good = dump(&st);
		bad = check_consistent(&st);
		EXPECT_TRUE(bad && !bad[0]) TH_LOG("%s: inconsistent:\n%s", c->name, bad ?: "");
		free(bad);
		st_free(&st);
	}
	for (n = 1; n < 10000; n++) {
		int e = ERRNOS[(n - 1) % ARRAY_SIZE(ERRNOS)];
		struct st st = { .arg = c->arg };
		struct ms_error err = { 0 };
		char *before, *after, *slots_before = NULL, *slots_after;
		const struct ms_error *ke, *me;
		struct ms_kvm_stats k0, k1;
		unsigned long req;
		bool hit;

		if (c->setup(&st)) {
			st_free(&st);
			EXPECT_TRUE(false) TH_LOG("%s: setup failed", c->name);
			break;
		}
		before = dump(&st);
		slots_before = dump_slots(&st);
		ms_kvm__clear_error(st.k);
		ms_kvm__stats(st.k, &k0);
		errno = 0;
		fi_arm(n, e, persist);
		ret = c->op(&st, &err);
		hit = fi_disarm();
		req = fi_req;
		ms_kvm__stats(st.k, &k1);
		after = dump(&st);
		slots_after = dump_slots(&st);
		s.runs++;
		if (!hit) {
			EXPECT_EQ(0, ret) TH_LOG("%s: N=%lu not reached, yet %d", c->name, n, ret);
			EXPECT_TRUE(good && after && !strcmp(good, after)) {
				TH_LOG("%s: N=%lu not reached, yet (- good, + now):", c->name, n);
				log_diff(_metadata, good, after);
			}
			goto next;
		}
		s.injected++;
		s.failed += fi_failed;
		ke = ms_kvm__first_error(st.k);
		me = map_error(&st);
		if (!c->get_log) {
			/* the binding saw the refusal as the kernel's */
			EXPECT_LE(1, k1.failures - k0.failures);
			EXPECT_EQ(0, k1.injected - k0.injected);
			EXPECT_TRUE(ke && ke->kvm_errno == e && (ke->flags & MS_ERROR_KVM) &&
				    !(ke->flags & MS_ERROR_INJECTED)) {
				TH_LOG("%s: N=%lu (%s): binding error %s", c->name, n,
				       strerror(e), ke ? ke->msg : "(none)");
			}
		}
		if (c->reports) {
			EXPECT_GT(0, ret) {
				TH_LOG("%s: N=%lu: %s of %s not reported", c->name, n, strerror(e),
				       req_name(req));
			}
			if (ret < 0)
				s.reported++;
			if (c->has_err && ret < 0)
				EXPECT_TRUE(err.err < 0 && err.msg[0])
					TH_LOG("%s: N=%lu: %d without error details", c->name, n,
					       ret);
			if (before && after && !strcmp(before, after))
				s.kept++;
			else
				s.changed++;
			EXPECT_TRUE(persist || (before && after && !strcmp(before, after))) {
				TH_LOG("%s: N=%lu: %s of %s (%d: %s) changed the state "
				       "(- before, + now):", c->name, n, strerror(e), req_name(req),
				       ret, err.msg);
				log_diff(_metadata, before, after);
			}
		} else {
			/* slotmap.h: recorded in the map, which keeps what the kernel holds */
			EXPECT_EQ(0, ret);
			EXPECT_TRUE(me && (me->flags & MS_ERROR_KVM) && me->kvm_errno == e) {
				TH_LOG("%s: N=%lu: %s of %s not recorded (%s)", c->name, n,
				       strerror(e), req_name(req), me ? me->msg : "no map error");
			}
			if (me)
				s.recorded++;
			if (slots_before && slots_after && !strcmp(slots_before, slots_after))
				s.kept++;
			else
				s.changed++;
		}
next:
		bad = check_consistent(&st);
		EXPECT_TRUE(bad && !bad[0])
			TH_LOG("%s: N=%lu (%s): inconsistent:\n%s", c->name, n, strerror(e),
			       bad ?: "(NULL)");
		free(bad);
		free(before);
		free(after);
		free(slots_before);
		free(slots_after);
		st_free(&st);
		if (!hit)
			break;
		if (!was_failed && _metadata->exit_code != KSFT_PASS) {
			TH_LOG("%s: stopping at N=%lu", c->name, n);
			break;
		}
	}
	free(good);
	EXPECT_EQ(0, leaks_found()) TH_LOG("%s: leaks", c->name);
	EXPECT_EQ(ioctls, s.injected) TH_LOG("%s: %lu memslot ioctls, %lu failed", c->name, ioctls,
					      s.injected);
	ksft_print_msg("%-30s%s %2lu ioctls, N=1..%-2lu %3lu failed: %2lu reported, %2lu recorded; "
		       "state kept %lu, changed %lu\n", c->name, persist ? " N.." : "    ", ioctls,
		       s.runs, s.failed, s.reported, s.recorded, s.kept, s.changed);
	total_ops++;
	total.runs += s.runs;
	total.injected += s.failed;
	total.reported += s.reported;
	total.recorded += s.recorded;
	total.kept += s.kept;
	total.changed += s.changed;
}

/* ---- the tests --------------------------------------------------------------------------- */

FIXTURE(kf) {
	ms_print_fn_t old_print;
	struct timespec t0;
};

FIXTURE_SETUP(kf)
{
	const char *why = kvm_unusable();
	int err = 0;

	if (why)
		SKIP(return, "%s", why);
	clock_gettime(CLOCK_MONOTONIC, &self->t0);
	warn_clear();
	self->old_print = ms_set_print(warn_capture);
	if (!census && !census_why[0]) {
		if (geteuid())
			snprintf(census_why, sizeof(census_why), "not root");
		else if (!(census = census_prog_open((uint32_t)getpid(), &err)))
			snprintf(census_why, sizeof(census_why), "census: %s", strerror(-err));
		if (census_why[0])
			ksft_print_msg("the kernel's table is not read (%s): the mirror only\n",
				       census_why);
	}
}

FIXTURE_TEARDOWN(kf)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms_set_print(self->old_print);
	ksft_print_msg("sweeps: %lu, %lu runs, %lu ioctls failed; %lu failures reported, "
		       "%lu recorded in a slot map; state kept %lu, changed %lu; %lu census "
		       "reads of %lu slots (%lu private ones left out); %.1f s\n", total_ops,
		       total.runs, total.injected, total.reported, total.recorded, total.kept,
		       total.changed,
		       census_reads, census_slots, census_private,
		       (double)(t1.tv_sec - self->t0.tv_sec) +
		       (double)(t1.tv_nsec - self->t0.tv_nsec) / 1e9);
}

/* a sweep with one failing ioctl, then (@persist) with all from the Nth on failing */
#define SWEEP(...) do {								\
	const struct fcase __c = { __VA_ARGS__ };				\
	sweep(_metadata, &__c, false);						\
	if (__c.persist)							\
		sweep(_metadata, &__c, true);					\
} while (0)

TEST_F(kf, machine_new)
{
	SWEEP(.name = "machine pc", .setup = setup_vm, .op = op_machine_new, .reports = true,
	      .has_err = true);
	SWEEP(.name = "machine q35 smm", .setup = setup_vm, .op = op_machine_new, .reports = true,
	      .has_err = true, .arg = 1);
}

TEST_F(kf, device_add)
{
	static const char *const types[3] = { "pc-dimm", "nvdimm", "virtio-mem" };

	for (int t = 0; t < 3; t++) {
		for (int q = 0; q < 2; q++) {
			char name[64];

			snprintf(name, sizeof(name), "device_add %s%s", types[t],
				 q ? " q35 smm" : "");
			SWEEP(.name = name, .setup = setup_machine_vmem, .op = op_device_add,
			      .reports = true, .has_err = true, .persist = true,
			      .arg = t << 1 | q);
		}
	}
}

TEST_F(kf, device_del)
{
	for (int q = 0; q < 2; q++)
		SWEEP(.name = q ? "device_del pc-dimm q35 smm" : "device_del pc-dimm",
		      .setup = setup_machine_dimm, .op = op_device_del, .reports = true,
		      .has_err = true, .persist = true, .arg = 0 << 1 | q);
}

TEST_F(kf, virtio_mem)
{
	for (int q = 0; q < 2; q++) {
		const char *sfx = q ? " q35 smm" : "";
		char name[64];

		snprintf(name, sizeof(name), "virtio-mem plug%s", sfx);
		SWEEP(.name = name, .setup = setup_machine_vmem, .op = op_vmem_plug,
		      .reports = true, .persist = true, .arg = q);
		snprintf(name, sizeof(name), "virtio-mem unplug%s", sfx);
		SWEEP(.name = name, .setup = setup_machine_vmem_plugged, .op = op_vmem_unplug,
		      .reports = true, .persist = true, .arg = q);
		snprintf(name, sizeof(name), "virtio-mem unplug_all%s", sfx);
		SWEEP(.name = name, .setup = setup_machine_vmem_plugged,
		      .op = op_vmem_unplug_all, .reports = true, .persist = true, .arg = q);
		snprintf(name, sizeof(name), "virtio-mem resize%s", sfx);
		SWEEP(.name = name, .setup = setup_machine_vmem_plugged, .op = op_vmem_resize,
		      .reports = true, .has_err = true, .persist = true, .arg = q);
	}
}

TEST_F(kf, machine_dirty_log)
{
	for (int q = 0; q < 2; q++) {
		SWEEP(.name = q ? "dirty_log_start q35 smm" : "dirty_log_start",
		      .setup = setup_machine_dimm, .op = op_dirty_start, .persist = true, .arg = q);
		SWEEP(.name = q ? "dirty_log_stop q35 smm" : "dirty_log_stop",
		      .setup = setup_machine_logging, .op = op_dirty_stop, .persist = true,
		      .arg = q);
	}
}

TEST_F(kf, regions)
{
	SWEEP(.name = "RAM set_size grow", .setup = setup_plain, .op = op_set_size,
	      .persist = true, .arg = 0);
	SWEEP(.name = "RAM set_size shrink", .setup = setup_plain, .op = op_set_size,
	      .persist = true, .arg = 1);
	SWEEP(.name = "set_readonly on", .setup = setup_plain, .op = op_readonly,
	      .persist = true, .arg = 0);
	SWEEP(.name = "set_readonly off", .setup = setup_plain_changed, .op = op_readonly,
	      .persist = true, .arg = 1);
	SWEEP(.name = "set_log on (flags only)", .setup = setup_plain, .op = op_vga_log,
	      .persist = true, .arg = 0);
	SWEEP(.name = "set_log off (flags only)", .setup = setup_plain_changed, .op = op_vga_log,
	      .persist = true, .arg = 2);
	SWEEP(.name = "dirty_log_start plain", .setup = setup_plain, .op = op_dirty_start,
	      .persist = true);
	SWEEP(.name = "dirty-log sync", .setup = setup_plain_changed, .op = op_dirty_sync,
	      .reports = true, .has_err = true, .get_log = true, .persist = true, .arg = 3);
}

TEST_HARNESS_MAIN
