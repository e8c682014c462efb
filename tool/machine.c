// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The machine of `memslot plan` and `memslot run`, built from the parsed
 * command line in QEMU's start-up order (plan.c's header comment), with
 * QEMU's texts for what it refuses, and the library's warnings printed
 * as QEMU's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tool.h"
#include "plan.h"
#include "scenario.h"

#define MIB			(1ULL << 20)
/* QEMU's default -m (MiB) and the 8 KiB rounding of rule 4.5 */
#define DEFAULT_RAM_SIZE	(128 * MIB)
#define RAM_SIZE_ALIGN		8192ULL
/* KVM_CAP_NR_MEMSLOTS of current x86 kernels, when /dev/kvm cannot be asked */
#define KVM_MEMSLOTS_FALLBACK	32764

/*
 * The KVM the plan is for, asked of /dev/kvm with one open when there is
 * one: KVM_CAP_NR_MEMSLOTS as QEMU reads it (0 from the kernel means 32,
 * kvm-memslots.md 2.1) and whether it takes SMM memslots (KVM_CAP_X86_SMM
 * with a second address space). Without /dev/kvm: 32764 and yes, as on
 * every x86 host with SVM or VMX.
 */
static void probe_kvm(uint32_t *memslots, bool *smm)
{
	int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC), r;

	*memslots = KVM_MEMSLOTS_FALLBACK;
	*smm = true;
	if (fd < 0)
		return;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (r >= 0)
		*memslots = r ? (uint32_t)r : MS_KVM_MEMSLOTS_DEFAULT;
	*smm = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_SMM) > 0 &&
	       ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE) > 1;
	close(fd);
}

/* --- building ------------------------------------------------------------ */

/* The errno the library recorded in @e wins over the caller's @fallback. */
static const char *err_text(const struct ms_error *e, int fallback)
{
	return error_text(e, e->err ? -e->err : fallback);
}

/*
 * QEMU's text for a failed slot operation (kvm-memslots.md 6.1, 6.2 and
 * 6.8: kvm_set_phys_mem for a create or delete, kvm_set_user_memory_region
 * for a flag update), then the binding's explanation.
 */
void plan_kvm_fail_text(const struct ms_kvm *k, const struct ms_error *e, char *buf, size_t len)
{
	int en = e->err ? -e->err : EIO;
	char qemu[256];

	switch (e->op) {
	case MS_SLOT_OP_CREATE:
		snprintf(qemu, sizeof(qemu), "kvm_set_phys_mem: error registering slot: %s",
			 strerror(en));
		break;
	case MS_SLOT_OP_DELETE:
		snprintf(qemu, sizeof(qemu), "kvm_set_phys_mem: error unregistering slot: %s",
			 strerror(en));
		break;
	default:
		snprintf(qemu, sizeof(qemu), "kvm_set_user_memory_region: %s failed, slot=%u, "
			 "start=0x%" PRIx64 ", size=0x%" PRIx64 ": %s",
			 ms_kvm__has_memory2(k) ? "KVM_SET_USER_MEMORY_REGION2" :
						  "KVM_SET_USER_MEMORY_REGION",
			 e->slot | (uint32_t)e->as_id << 16, e->gpa, e->size, strerror(en));
		break;
	}
	snprintf(buf, len, "%s; kvm: %s", qemu, error_text(e, en));
}

/*
 * The library's text, or QEMU's and the binding's for a failed memslot
 * ioctl of the KVM binding (memslot run).
 */
static const char *build_err_text(const struct plan *p, const struct ms_error *e, int fallback,
				  char *buf, size_t len)
{
	const struct ms_error *ke = p->mo.kvm ? ms_kvm__first_error(p->mo.kvm) : NULL;

	if (ke) {
		plan_kvm_fail_text(p->mo.kvm, ke, buf, len);
		return buf;
	}
	return err_text(e, fallback);
}

static int attach_vhosts(struct plan *p, bool late)
{
	for (size_t i = 0; i < p->nr_vhosts; i++) {
		struct vhost_arg *v = &p->vhosts[i];
		struct ms_error e = { 0 };

		if (v->late != late)
			continue;
		if (ms_machine__add_vhost(p->m, v->name ? v->name : v->default_name, v->limit,
					  v->user, &e)) {
			p_err("--vhost-limit %s: %s", v->text, err_text(&e, errno));
			return 1;
		}
	}
	return 0;
}

static struct object_arg *find_object(struct plan *p, const char *id)
{
	for (size_t i = 0; i < p->nr_objs; i++)
		if (!strcmp(p->objs[i].spec.o.id, id))
			return &p->objs[i];
	return NULL;
}

static int cmp_nodeid(const void *a, const void *b)
{
	const struct numa_arg *x = a, *y = b;

	return x->nodeid < y->nodeid ? -1 : x->nodeid > y->nodeid;
}

/*
 * Boot RAM from -M memory-backend=ID or the -numa node memdevs (QEMU 7.2
 * numa_complete_configuration() and machine_run_board_init(), in their
 * order of checks): those -object backends go to the machine (mo), which
 * creates them first and builds its RAM of them.
 */
static int collect_ram(struct plan *p)
{
	uint64_t total = 0;
	bool memdevs = false;

	if (p->nr_numa)
		qsort(p->numa, p->nr_numa, sizeof(*p->numa), cmp_nodeid);
	p->mo.numa_nodes = (uint32_t)p->nr_numa;
	/* QEMU names the highest id missing below the highest given */
	for (size_t i = p->nr_numa; i-- > 0;) {
		uint32_t want = i ? p->numa[i - 1].nodeid + 1 : 0;

		if (p->numa[i].nodeid != want) {
			p_err("numa: Node ID missing: %u", p->numa[i].nodeid - 1);
			return 1;
		}
	}
	for (size_t i = 0; i < p->nr_numa; i++) {
		struct numa_arg *a = &p->numa[i];

		if (a->memdev && !find_object(p, a->memdev)) {
			p_err("-numa %s: memdev=%s is ambiguous", a->text, a->memdev);
			return 1;
		}
		memdevs |= a->memdev != NULL;
		total += a->memdev ? find_object(p, a->memdev)->spec.o.size : a->mem;
	}
	if (p->ram_backend && memdevs) {
		p_err("'-machine memory-backend' and '-numa memdev' properties are mutually "
		      "exclusive");
		return 1;
	}
	if (p->nr_numa && total != p->mo.ram_size) {
		p_err("total memory for NUMA nodes (0x%" PRIx64 ") should equal RAM size (0x%"
		      PRIx64 ")", total, p->mo.ram_size);
		return 1;
	}
	if (p->ram_backend) {
		struct object_arg *o = find_object(p, p->ram_backend);

		if (!o) {
			p_err("Memory backend '%s' not found", p->ram_backend);
			return 1;
		}
		p->ram_opts = calloc(1, sizeof(*p->ram_opts));
		if (!p->ram_opts)
			goto nomem;
		p->ram_opts[0] = o->spec.o;
		o->ram = true;
		p->mo.nr_ram_backends = 1;
	} else if (memdevs) {
		p->ram_opts = calloc(p->nr_numa, sizeof(*p->ram_opts));
		if (!p->ram_opts)
			goto nomem;
		for (size_t i = 0; i < p->nr_numa; i++) {
			struct object_arg *o;

			if (!p->numa[i].memdev)
				continue;
			o = find_object(p, p->numa[i].memdev);
			p->ram_opts[p->mo.nr_ram_backends++] = o->spec.o;
			o->ram = true;
		}
		p->mo.ram_numa = true;
	}
	p->mo.ram_backends = p->ram_opts;
	return 0;
nomem:
	p_err("cannot build the machine: %s", strerror(ENOMEM));
	return 1;
}

/* Everything before the script. Return: the exit status (0 to go on). */
int plan_build(struct plan *p)
{
	uint32_t probed_memslots = KVM_MEMSLOTS_FALLBACK;
	bool probed_smm = true;
	struct ms_error e = { 0 };
	char err[QOPT_ERR_LEN], kerr[QOPT_ERR_LEN + 512];

	/* -M memory-backend=ID without -m: the backend's size (machine_consume_memdev()) */
	if ((!p->ram_given || !p->mo.ram_size) && p->ram_backend && find_object(p, p->ram_backend))
		p->mo.ram_size = find_object(p, p->ram_backend)->spec.o.size;
	if ((!p->ram_given || !p->mo.ram_size) && !p->ram_backend)
		p->mo.ram_size = DEFAULT_RAM_SIZE;
	if (p->mo.ram_size > UINT64_MAX - RAM_SIZE_ALIGN + 1) {
		p_err("-m: Parameter 'size' expects a non-negative number below 2^64");
		return 1;
	}
	p->mo.ram_size = (p->mo.ram_size + RAM_SIZE_ALIGN - 1) & ~(RAM_SIZE_ALIGN - 1);
	if (collect_ram(p))
		return 1;
	if (p->kvm && !p->mo.kvm && (!p->kvm_memslots || !p->kvm_smm))
		probe_kvm(&probed_memslots, &probed_smm);
	p->mo.kvm_memslots = p->kvm ? (p->kvm_memslots ?: probed_memslots) : 0;
	if (!p->mo.kvm)
		p->mo.kvm_no_smm = p->kvm_smm ? p->kvm_smm < 0 : !probed_smm;
	/*
	 * Rule 4.5: QEMU refuses slots without maxmem even for slots=0, which
	 * the library's options cannot tell from "not given".
	 */
	if (p->slots_given && !p->maxmem_given) {
		p_err("slots specified but no max-size");
		return 1;
	}
	/* rule 4.5 with the value as given, beyond what the options hold */
	if (p->slots_raw > UINT32_MAX && p->mo.maxmem > p->mo.ram_size) {
		p_err("unsupported amount of memory slots: %" PRIu64, p->slots_raw);
		return 1;
	}

	p->ctx = ms_ctx__new();
	if (!p->ctx) {
		p_err("cannot create a memory context: %s", strerror(errno));
		return 1;
	}
	p->m = ms_machine__new(p->ctx, &p->mo, &e);
	if (!p->m) {
		/* QEMU prints start-up errors without naming an option. */
		p_err("%s", build_err_text(p, &e, errno, kerr, sizeof(kerr)));
		return 1;
	}

	for (size_t i = 0; i < p->nr_objs; i++) {
		struct object_arg *o = &p->objs[i];

		memset(&e, 0, sizeof(e));
		if (o->ram)
			continue;	/* the machine's RAM, created with it */
		if (ms_machine__find_backend(p->m, o->spec.o.id)) {
			p_err("-object %s: Duplicate ID '%s' for object", o->text, o->spec.o.id);
			return 1;
		}
		if (!ms_machine__add_backend(p->m, &o->spec.o, &e)) {
			p_err("-object %s: %s", o->text,
			      build_err_text(p, &e, errno, kerr, sizeof(kerr)));
			return 1;
		}
	}

	if (attach_vhosts(p, false))
		return 1;

	for (size_t i = 0; i < p->nr_devs; i++) {
		struct device_arg *d = &p->devs[i];

		memset(&e, 0, sizeof(e));
		if (d->spec.o.id && ms_machine__find_device(p->m, d->spec.o.id)) {
			p_err("-device %s: Duplicate ID '%s' for device", d->text, d->spec.o.id);
			return 1;
		}
		/* rule 5.1.1: DIMMs need ACPI memory hotplug */
		if (p->no_acpi && (d->spec.o.type == MS_MEMDEV_DIMM ||
				   d->spec.o.type == MS_MEMDEV_NVDIMM)) {
			p_err("-device %s: memory hotplug is not enabled: missing acpi device or "
			      "acpi disabled", d->text);
			return 1;
		}
		if (device_spec_resolve(p->m, &d->spec, err)) {
			p_err("-device %s: %s", d->text, err);
			return 1;
		}
		if (!ms_machine__device_add(p->m, &d->spec.o, &e)) {
			p_err("-device %s: %s", d->text,
			      build_err_text(p, &e, errno, kerr, sizeof(kerr)));
			return 1;
		}
	}

	return attach_vhosts(p, true);
}

/*
 * Library warnings are QEMU's warnings (e.g. rule 5.5.2): print them like
 * QEMU does, as "memslot: plan: warning: ..." (run: "memslot: run: ...");
 * the rest only with -d.
 */
int plan_print_warning(enum ms_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	const char *m = msg;

	if (level != MS_WARN)
		return debug_output ? vfprintf(stderr, fmt, ap) : 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!strncmp(m, "memslot: ", 9))
		m += 9;
	return fprintf(stderr, "memslot: %s: warning: %s%s", get_cmd_name() ?: "plan", m,
		       *m && m[strlen(m) - 1] == '\n' ? "" : "\n");
}
