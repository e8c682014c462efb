// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot plan: build a pc or q35 machine from QEMU's own options (-M, -m,
 * -object, -device) with libmemslot's machine model, nothing allocated,
 * and predict what QEMU (current rules, memory-devices.md) does with it:
 * where every memory device goes, which KVM memslots exist, how device
 * memory and memslots are accounted (required, used, reserved, the
 * automatic memslot decision of virtio-mem), and how many memslots KVM and
 * each vhost backend have left. --script replays hot(un)plug commands
 * (scenario.h) and reports after each one.
 *
 * Order of construction, as QEMU's start-up does it: the machine (rule 4),
 * every -object, the vhost backends (like -netdev, created before the
 * devices; late=on attaches one after the cold-plugged devices, like a
 * vhost-user backend that connects later), every -device in order, the
 * late vhost backends, then the script.
 *
 * Text output without --script, sections separated by a blank line:
 *
 *   machine: q35, accel kvm, 32764 KVM memslots
 *     ram: 0x100000000 (below 4G 0x80000000, above 4G 0x80000000 at 0x100000000)
 *     slots: 8, maxmem: 0x1000000000
 *     device memory: 0x180000000-0x127fffffff, size 0x1100000000, hotpluggable 0xf00000000
 *     reserved end: 0x1280000000
 *
 *   memory devices:
 *   Memory device [dimm]: "d1"            QEMU's `info memory-devices`,
 *     addr: 0x180000000                   byte for byte, then per device
 *     ...                                 "  memslots: N" (required) and
 *     memslots: 1                         "  memslots-used: N" (mapped now),
 *     memslots-used: 1                    for virtio-mem "  memslot-size: N"
 *
 *   memslots:
 *   slot  as  gpa ...                     memslot_table_print()
 *
 *   accounting:
 *     device memory: used 0x.. of 0x.., plugged 0x..
 *     memslots: required N, used N, reserved N
 *     auto decision active: yes|no (N devices)
 *     kind   name      max     used    free
 *     kvm    kvm       32764   12      32752
 *     vhost  vhost0    32      12      20
 *
 *   flat view of "memory":
 *   FlatView #0                           ms_mtree_print() -f, the block of
 *    AS "memory", root: system            address space "memory", with
 *    ...                                  QEMU's " KVM" markers
 *
 *   capacity:
 *     memslots left for memory devices: kvm 32745, vhost0 13
 *     dimm slots: 6 of 8 free
 *     device memory left: 0xe80000000 of 0xf00000000
 *     highest guest address: 0x1bfffffff (33 phys-bits)
 *     reserved end: 0x1280000000 (37 phys-bits)
 *
 * With --script: the machine section, "start:" and the accounting, then
 * per step "line L: COMMAND" followed by the accounting, or for `info` by
 * the table named. A failing step stops the replay: its error goes to
 * stderr as "FILE:LINE: <QEMU text>", exit status 1.
 *
 * JSON (-j): {"machine", "devices", "memslots", "accounting", "consumers",
 * "flat_view", "capacity"} (state after the script), with --script also
 * "steps": [{"line", "command", "ok", "error", "devices", "memslots",
 * "accounting", "consumers"[, "flat_view" for info mtree]}] and, if a step
 * failed, "error". Shapes: see man/memslot-plan.8.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "memslot.h"
#include "plan.h"
#include "scenario.h"

#define MIB			(1ULL << 20)
#define GIB			(1ULL << 30)
/* QEMU's default -m (MiB) and the 8 KiB rounding of rule 4.5 */
#define DEFAULT_RAM_SIZE	(128 * MIB)
#define RAM_SIZE_ALIGN		8192ULL
/* KVM_CAP_NR_MEMSLOTS of current x86 kernels, when /dev/kvm cannot be asked */
#define KVM_MEMSLOTS_FALLBACK	32764

static void plan_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot [OPTIONS] plan [-M|-machine MACHINE] [-m MEMORY] [-object BACKEND]...\n"
		"                              [-device DEVICE]... [--vhost-limit N[,...]]...\n"
		"                              [--kvm-memslots N] [--script FILE]\n"
		"\n"
		"Predict, with QEMU's rules and nothing allocated, where a pc or q35 machine's\n"
		"memory devices go, which KVM memslots it uses and how many memslots KVM and\n"
		"each vhost backend have left. The options are QEMU's.\n"
		"\n"
		"  -M, -machine pc|q35[,max-ram-below-4g=SIZE][,nvdimm=on][,accel=kvm|tcg]\n"
		"  -m [size=]SIZE[,slots=N][,maxmem=SIZE]\n"
		"                      RAM (MiB without a suffix), DIMM slots, maximum memory\n"
		"  -object memory-backend-ram|memory-backend-memfd|memory-backend-file,id=ID,\n"
		"          size=SIZE[,share=on|off][,prealloc=on|off][,mem-path=PATH][,align=SIZE]\n"
		"          [,readonly=on|off]\n"
		"  -device pc-dimm|nvdimm|virtio-pmem-pci|virtio-mem-pci,memdev=ID[,id=ID]\n"
		"          [,addr=ADDR][,slot=N][,node=N][,label-size=SIZE][,unarmed=on]\n"
		"          [,memaddr=ADDR][,requested-size=SIZE][,block-size=SIZE]\n"
		"          [,dynamic-memslots=on|off][,unplugged-inaccessible=on|off|auto]\n"
		"          [,prealloc=on|off]\n"
		"      --vhost-limit N[,name=NAME][,user=on][,late=on]\n"
		"                      a vhost backend with a limit of N memslots (repeatable);\n"
		"                      user=on: vhost-user (only memory with a file descriptor);\n"
		"                      late=on: attached after the -device memory devices\n"
		"      --kvm-memslots N\n"
		"                      KVM's memslot limit (default: KVM_CAP_NR_MEMSLOTS of\n"
		"                      /dev/kvm, else 32764)\n"
		"      --script FILE   replay hot(un)plug commands, reporting after each one\n"
		"  -h, --help          print this help\n");
}

/* --- option parsing ------------------------------------------------------ */

#define GROW(arr, nr) ({							\
	__typeof__(arr) __n = realloc((arr), ((nr) + 1) * sizeof(*(arr)));	\
	if (__n) {								\
		(arr) = __n;							\
		memset(&(arr)[(nr)], 0, sizeof(*(arr)));			\
	}									\
	__n;									\
})

/* -m: merged like QEMU's (a later -m overrides the keys it gives). */
static int parse_memory(struct plan *p, const char *text)
{
	char err[QOPT_ERR_LEN];
	struct qopts q;
	int ret;

	ret = qopts_parse(text, "size", &q, err);
	if (ret)
		goto out;
	for (size_t i = 0; i < q.nr && !ret; i++) {
		const char *k = q.opt[i].key, *v = q.opt[i].value;
		uint64_t n;

		if (!strcmp(k, "size")) {
			size_t len = strlen(v);

			/* Legacy form: a number without suffix is MiB. */
			ret = parse_size(v, 1, &n);
			if (!ret && len && v[len - 1] >= '0' && v[len - 1] <= '9') {
				if (n > UINT64_MAX / MIB)
					ret = -ERANGE;
				n *= MIB;
			}
			if (ret) {
				snprintf(err, sizeof(err), "Parameter 'size' expects a non-negative "
					 "number below 2^64");
				ret = -EINVAL;
				break;
			}
			p->mo.ram_size = n;
			p->ram_given = true;
		} else if (!strcmp(k, "slots")) {
			if (parse_u64(v, &n)) {
				snprintf(err, sizeof(err), "Parameter 'slots' expects a number");
				ret = -EINVAL;
				break;
			}
			/* Anything above 256 fails the same way (rule 4.5). */
			p->mo.slots = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			p->slots_given = true;
		} else if (!strcmp(k, "maxmem")) {
			if (parse_size(v, 1, &n)) {
				snprintf(err, sizeof(err), "Parameter 'maxmem' expects a non-negative "
					 "number below 2^64");
				ret = -EINVAL;
				break;
			}
			p->mo.maxmem = n;
			p->maxmem_given = true;
		} else {
			snprintf(err, sizeof(err), "Invalid parameter '%s'", k);
			ret = -EINVAL;
		}
	}
out:
	qopts_free(&q);
	if (ret == -ENOMEM) {
		p_err("-m %s: %s", text, strerror(ENOMEM));
		return 1;
	}
	if (ret)
		return usage_err("-m %s: %s", text, err);
	return 0;
}

static const char *qom_machine_type(const char *mtype)
{
	return !strcmp(mtype, "q35") ? "pc-q35-7.2-machine" : "pc-i440fx-7.2-machine";
}

/* Second pass over -M: the type is the last one given, then every key. */
static int parse_machines(struct plan *p)
{
	char err[QOPT_ERR_LEN];
	int status = 0;

	p->mtype = "pc";
	p->kvm = true;
	for (size_t i = 0; i < p->nr_machine; i++) {
		struct qopts q;
		const char *t;

		if (qopts_parse(p->machine_texts[i], "type", &q, err)) {
			qopts_free(&q);
			return usage_err("%s %s: %s", p->machine_flags[i], p->machine_texts[i], err);
		}
		t = qopts_get(&q, "type");
		if (t && !strcmp(t, "pc"))
			p->mtype = "pc";
		else if (t && !strcmp(t, "q35"))
			p->mtype = "q35";
		else if (t) {
			status = usage_err("%s %s: unsupported machine type", p->machine_flags[i],
					   p->machine_texts[i]);
		}
		qopts_free(&q);
		if (status)
			return status;
	}
	p->mo.type = !strcmp(p->mtype, "q35") ? MS_MACHINE_Q35 : MS_MACHINE_PC;

	for (size_t i = 0; i < p->nr_machine && !status; i++) {
		const char *text = p->machine_texts[i], *flag = p->machine_flags[i];
		struct qopts q;

		qopts_parse(text, "type", &q, err);
		for (size_t k = 0; k < q.nr && !status; k++) {
			const char *key = q.opt[k].key, *v = q.opt[k].value;

			if (!strcmp(key, "type")) {
				continue;
			} else if (!strcmp(key, "max-ram-below-4g")) {
				if (parse_size(v, 1, &p->mo.max_ram_below_4g))
					status = usage_err("%s %s: Parameter 'max-ram-below-4g' "
							   "expects size", flag, text);
			} else if (!strcmp(key, "nvdimm")) {
				if (qopt_bool("nvdimm", v, &p->mo.nvdimm, err))
					status = usage_err("%s %s: %s", flag, text, err);
			} else if (!strcmp(key, "accel")) {
				if (!strcmp(v, "kvm"))
					p->kvm = true;
				else if (!strcmp(v, "tcg"))
					p->kvm = false;
				else
					status = usage_err("%s %s: invalid accelerator %s", flag, text,
							   v);
			} else {
				status = usage_err("%s %s: Property '%s.%s' not found", flag, text,
						   qom_machine_type(p->mtype), key);
			}
		}
		qopts_free(&q);
	}
	return status;
}

static int parse_vhost(struct vhost_arg *v, size_t index)
{
	char err[QOPT_ERR_LEN];
	uint64_t n;

	if (qopts_parse(v->text, "limit", &v->q, err))
		return usage_err("--vhost-limit %s: %s", v->text, err);
	snprintf(v->default_name, sizeof(v->default_name), "vhost%zu", index);
	v->name = v->default_name;
	for (size_t i = 0; i < v->q.nr; i++) {
		const char *k = v->q.opt[i].key, *val = v->q.opt[i].value;

		if (!strcmp(k, "limit")) {
			if (parse_u64(val, &n) || !n || n > UINT32_MAX)
				return usage_err("--vhost-limit %s: invalid memslot limit: %s",
						 v->text, val);
			v->limit = (uint32_t)n;
		} else if (!strcmp(k, "name")) {
			if (!*val)
				return usage_err("--vhost-limit %s: empty name", v->text);
			v->name = val;
		} else if (!strcmp(k, "user")) {
			if (qopt_bool("user", val, &v->user, err))
				return usage_err("--vhost-limit %s: %s", v->text, err);
		} else if (!strcmp(k, "late")) {
			if (qopt_bool("late", val, &v->late, err))
				return usage_err("--vhost-limit %s: %s", v->text, err);
		} else {
			return usage_err("--vhost-limit %s: Invalid parameter '%s'", v->text, k);
		}
	}
	if (!v->limit)
		return usage_err("--vhost-limit %s: Parameter 'limit' is missing", v->text);
	return 0;
}

void plan_free(struct plan *p)
{
	ms_machine__free(p->m);
	ms_ctx__free(p->ctx);
	for (size_t i = 0; i < p->nr_objs; i++)
		backend_spec_free(&p->objs[i].spec);
	for (size_t i = 0; i < p->nr_devs; i++)
		device_spec_free(&p->devs[i].spec);
	for (size_t i = 0; i < p->nr_vhosts; i++)
		qopts_free(&p->vhosts[i].q);
	free(p->objs);
	free(p->devs);
	free(p->vhosts);
	free(p->machine_texts);
	free(p->machine_flags);
	free(p->host_only);
	scenario_free(&p->scn);
}

/* Is @arg the option @name: "-name" for QEMU's options, else "--name"? */
static bool is_opt(const char *arg, const char *name, bool qemu_style)
{
	if (qemu_style)
		return arg[0] == '-' && !strcmp(arg + 1, name);
	return arg[0] == '-' && arg[1] == '-' && !strcmp(arg + 2, name);
}

enum arg_kind {
	A_MACHINE, A_MEMORY, A_OBJECT, A_DEVICE, A_VHOST, A_KVM, A_SCRIPT,
	A_CPU, A_DIRTY_LOG, A_FULL, A_VERIFY, A_KERNEL, A_MODULES, A_NO_VM,
};

/* which command accepts an option */
#define FOR_PLAN	1
#define FOR_RUN		2
#define FOR_BOTH	(FOR_PLAN | FOR_RUN)

int plan_parse_args(struct plan *p, int argc, char **argv, bool *help)
{
	static const struct {
		const char *name;
		bool qemu_style;	/* single dash */
		enum arg_kind kind;
		int cmds;		/* FOR_* */
		bool no_arg;		/* a flag without value */
	} table[] = {
		{ "M", true, A_MACHINE, FOR_BOTH, false },
		{ "machine", true, A_MACHINE, FOR_BOTH, false },
		{ "m", true, A_MEMORY, FOR_BOTH, false },
		{ "object", true, A_OBJECT, FOR_BOTH, false },
		{ "device", true, A_DEVICE, FOR_BOTH, false },
		{ "vhost-limit", false, A_VHOST, FOR_PLAN, false },
		{ "kvm-memslots", false, A_KVM, FOR_PLAN, false },
		{ "script", false, A_SCRIPT, FOR_BOTH, false },
		{ "cpu", false, A_CPU, FOR_RUN, false },
		{ "dirty-log", false, A_DIRTY_LOG, FOR_RUN, true },
		{ "full", false, A_FULL, FOR_RUN, true },
		{ "verify", false, A_VERIFY, FOR_RUN, true },
		{ "kernel", false, A_KERNEL, FOR_RUN, false },
		{ "modules", false, A_MODULES, FOR_RUN, false },
		{ "no-vm", false, A_NO_VM, FOR_RUN, true },
	};
	int cmd = p->run ? FOR_RUN : FOR_PLAN;
	char err[QOPT_ERR_LEN];

	p->cpu = -1;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;
		char name[32];
		int first = i;
		size_t t;
		uint64_t n;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			*help = true;
			return 0;
		}
		if (arg[0] != '-' || !arg[1])
			return usage_err("unexpected argument: %s", arg);
		/* "--name=value" for the long options */
		snprintf(name, sizeof(name), "%s", arg);
		if (arg[1] == '-' && strchr(arg, '=')) {
			size_t len = strchr(arg, '=') - arg;

			if (len < sizeof(name))
				name[len] = '\0';
			val = strchr(arg, '=') + 1;
		}
		for (t = 0; t < sizeof(table) / sizeof(table[0]); t++)
			if ((table[t].cmds & cmd) && is_opt(name, table[t].name, table[t].qemu_style))
				break;
		if (t == sizeof(table) / sizeof(table[0]))
			return usage_err("unknown option: %s", arg);
		if (table[t].no_arg && val)
			return usage_err("option takes no argument: %s", arg);
		if (!val && !table[t].no_arg) {
			if (i + 1 >= argc)
				return usage_err("missing argument of option: %s", arg);
			val = argv[++i];
		}

		switch (table[t].kind) {
		case A_MACHINE:
			if (!GROW(p->machine_texts, p->nr_machine) ||
			    !GROW(p->machine_flags, p->nr_machine))
				goto nomem;
			p->machine_texts[p->nr_machine] = val;
			p->machine_flags[p->nr_machine++] = arg[1] == 'M' ? "-M" : "-machine";
			break;
		case A_MEMORY:
			if (parse_memory(p, val))
				return EXIT_USAGE;
			break;
		case A_OBJECT: {
			struct object_arg *o;
			int ret;

			if (!GROW(p->objs, p->nr_objs))
				goto nomem;
			o = &p->objs[p->nr_objs++];
			o->text = val;
			ret = backend_spec_parse(val, &o->spec, err);
			if (ret == -ENOMEM)
				goto nomem;
			if (ret)
				return usage_err("-object %s: %s", val, err);
			/* plan describes; run allocates (MAP_NORESERVE, untouched) */
			o->spec.o.no_memory = !p->run;
			break;
		}
		case A_DEVICE: {
			struct device_arg *d;
			int ret;

			if (!GROW(p->devs, p->nr_devs))
				goto nomem;
			d = &p->devs[p->nr_devs++];
			d->text = val;
			ret = device_spec_parse(val, &d->spec, err);
			if (ret == -ENOMEM)
				goto nomem;
			if (ret)
				return usage_err("-device %s: %s", val, err);
			break;
		}
		case A_VHOST:
			if (!GROW(p->vhosts, p->nr_vhosts))
				goto nomem;
			p->vhosts[p->nr_vhosts].text = val;
			p->nr_vhosts++;
			if (parse_vhost(&p->vhosts[p->nr_vhosts - 1], p->nr_vhosts - 1))
				return EXIT_USAGE;
			break;
		case A_KVM:
			if (parse_u64(val, &n) || !n || n > UINT32_MAX)
				return usage_err("invalid number of KVM memslots: %s", val);
			p->kvm_memslots = (uint32_t)n;
			break;
		case A_SCRIPT:
			p->script = val;
			break;
		case A_CPU:
			if (parse_u64(val, &n) || n >= CPU_SETSIZE)
				return usage_err("invalid CPU number: %s", val);
			p->cpu = (int)n;
			break;
		case A_DIRTY_LOG:
			p->dirty_log = true;
			break;
		case A_FULL:
			p->full = true;
			break;
		case A_VERIFY:
			p->verify = true;
			break;
		case A_KERNEL:
		case A_MODULES:
			if (!*val)
				return usage_err("%s: empty argument", name);
			*(table[t].kind == A_KERNEL ? &p->kernel : &p->modules) = val;
			for (int k = first; k <= i; k++) {
				if (!GROW(p->host_only, p->nr_host_only))
					goto nomem;
				p->host_only[p->nr_host_only++] = k;
			}
			break;
		case A_NO_VM:
			p->no_vm = true;
			break;
		}
	}
	if (p->kernel && p->no_vm)
		return usage_err("--kernel %s: not with --no-vm", p->kernel);
	if (p->modules && !p->kernel)
		return usage_err("--modules %s: only with --kernel PATH", p->modules);
	if (p->modules && !strncmp(p->kernel, "debian-", 7))
		return usage_err("--modules %s: only with --kernel PATH, not %s", p->modules,
				 p->kernel);
	return parse_machines(p);

nomem:
	p_err("cannot parse the options: %s", strerror(ENOMEM));
	return 1;
}

/* KVM_CAP_NR_MEMSLOTS as QEMU reads it (0 from the kernel means 32, kvm-memslots.md 2.1). */
static uint32_t probe_kvm_memslots(void)
{
	int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return KVM_MEMSLOTS_FALLBACK;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	close(fd);
	if (r < 0)
		return KVM_MEMSLOTS_FALLBACK;
	return r ? (uint32_t)r : MS_KVM_MEMSLOTS_DEFAULT;
}

/* --- building ------------------------------------------------------------ */

static const char *err_text(const struct ms_error *e, int fallback)
{
	return e->msg[0] ? e->msg : strerror(e->err ? -e->err : fallback);
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
	snprintf(buf, len, "%s; kvm: %s", qemu, e->msg[0] ? e->msg : strerror(en));
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
		if (ms_machine__add_vhost(p->m, v->name, v->limit, v->user, &e)) {
			p_err("--vhost-limit %s: %s", v->text, err_text(&e, errno));
			return 1;
		}
	}
	return 0;
}

/* Everything before the script. Return: the exit status (0 to go on). */
int plan_build(struct plan *p)
{
	struct ms_error e = { 0 };
	char err[QOPT_ERR_LEN], kerr[QOPT_ERR_LEN + 512];

	if (!p->ram_given || !p->mo.ram_size)
		p->mo.ram_size = DEFAULT_RAM_SIZE;
	if (p->mo.ram_size > UINT64_MAX - RAM_SIZE_ALIGN + 1) {
		p_err("-m: Parameter 'size' expects a non-negative number below 2^64");
		return 1;
	}
	p->mo.ram_size = (p->mo.ram_size + RAM_SIZE_ALIGN - 1) & ~(RAM_SIZE_ALIGN - 1);
	p->mo.kvm_memslots = p->kvm ? (p->kvm_memslots ?: probe_kvm_memslots()) : 0;
	/*
	 * Rule 4.5: QEMU refuses slots without maxmem even for slots=0, which
	 * the library's options cannot tell from "not given".
	 */
	if (p->slots_given && !p->maxmem_given) {
		p_err("slots specified but no max-size");
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

/* --- gathering ------------------------------------------------------------ */

struct consumer {
	enum ms_consumer_kind kind;
	char name[64];
	uint32_t max, used, free;
};

struct consumers {
	struct consumer c[64];
	size_t nr;
};

static int collect_consumer(const struct ms_consumer_info *c, void *opaque)
{
	struct consumers *l = opaque;
	struct consumer *d;

	if (l->nr == sizeof(l->c) / sizeof(l->c[0]))
		return 1;
	d = &l->c[l->nr++];
	d->kind = c->kind;
	snprintf(d->name, sizeof(d->name), "%s", c->name ?: "");
	d->max = c->max;
	d->used = c->used;
	d->free = c->free;
	return 0;
}

static void get_consumers(const struct ms_machine *m, struct consumers *l)
{
	l->nr = 0;
	ms_machine__for_each_consumer(m, collect_consumer, l);
}

static const char *kind_name(enum ms_consumer_kind k)
{
	return k == MS_CONSUMER_KVM ? "kvm" : "vhost";
}

struct devices {
	struct ms_memdev **d;
	size_t nr, cap;
	int err;
};

static int collect_device(struct ms_memdev *dev, void *opaque)
{
	struct devices *l = opaque;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ms_memdev **n = realloc(l->d, cap * sizeof(*n));

		if (!n) {
			l->err = -ENOMEM;
			return 1;
		}
		l->d = n;
		l->cap = cap;
	}
	l->d[l->nr++] = dev;
	return 0;
}

static int get_devices(const struct ms_machine *m, struct devices *l)
{
	memset(l, 0, sizeof(*l));
	ms_machine__for_each_device(m, collect_device, l);
	if (l->err) {
		free(l->d);
		l->d = NULL;
	}
	return l->err;
}

/* Number of address bits needed for the inclusive address @a. */
static unsigned int addr_bits(uint64_t a)
{
	return a ? 64 - __builtin_clzll(a) : 1;
}

/* Highest byte of the flat view of "memory" (0 if empty). */
static uint64_t highest_gpa(const struct ms_machine *m)
{
	struct ms_flatview *fv = ms_as__flatview(ms_machine__memory_as(m));
	size_t n;
	uint64_t top = 0;

	n = ms_flatview__nr_ranges(fv);
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		uint64_t last = fr->start + (uint64_t)(fr->size - 1);

		if (last > top)
			top = last;
	}
	return top;
}

static uint32_t left_after_reserved(uint32_t free, uint32_t reserved)
{
	return free > reserved ? free - reserved : 0;
}

static void dimm_slot_use(const struct devices *l, uint32_t *used)
{
	*used = 0;
	for (size_t i = 0; i < l->nr; i++) {
		enum ms_memdev_type t = ms_memdev__type(l->d[i]);

		*used += t == MS_MEMDEV_DIMM || t == MS_MEMDEV_NVDIMM;
	}
}

/* --- text output --------------------------------------------------------- */

void plan_print_machine(const struct plan *p, FILE *f)
{
	struct ms_machine_layout l;

	ms_machine__layout(p->m, &l);
	fprintf(f, "machine: %s, accel %s", p->mtype, p->kvm ? "kvm" : "tcg");
	if (p->kvm)
		fprintf(f, ", %u KVM memslots", p->mo.kvm_memslots);
	fprintf(f, "\n  ram: 0x%" PRIx64 " (below 4G 0x%" PRIx64, p->mo.ram_size, l.below_4g);
	if (l.above_4g)
		fprintf(f, ", above 4G 0x%" PRIx64 " at 0x%" PRIx64, l.above_4g,
			l.above_4g_start);
	fprintf(f, ")\n  slots: %u, maxmem: 0x%" PRIx64 "\n", p->mo.slots,
		p->mo.maxmem ?: p->mo.ram_size);
	if (l.devmem_size)
		fprintf(f, "  device memory: 0x%" PRIx64 "-0x%" PRIx64 ", size 0x%" PRIx64
			", hotpluggable 0x%" PRIx64 "\n  reserved end: 0x%" PRIx64 "\n",
			l.devmem_base, l.devmem_base + l.devmem_size - 1, l.devmem_size,
			l.hotpluggable, l.reserved_end);
	else
		fprintf(f, "  device memory: none\n");
}

/* One device as QEMU's `info memory-devices` prints it, then our lines. */
static void print_device(const struct ms_memdev *d, FILE *f)
{
	struct ms_virtio_mem_status vs;
	struct ms_memdev_info i;

	ms_memdev__info(d, &i);
	fprintf(f, "Memory device [%s]: \"%s\"\n", ms_memdev_type_name(i.type), i.id ?: "");
	switch (i.type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		fprintf(f, "  addr: 0x%" PRIx64 "\n  slot: %d\n  node: %u\n  size: %" PRIu64
			"\n  memdev: %s\n  hotplugged: %s\n  hotpluggable: %s\n", i.addr, i.slot,
			i.node, i.size, i.memdev ?: "", i.hotplugged ? "true" : "false",
			i.hotpluggable ? "true" : "false");
		break;
	case MS_MEMDEV_VIRTIO_PMEM:
		fprintf(f, "  memaddr: 0x%" PRIx64 "\n  size: %" PRIu64 "\n  memdev: %s\n",
			i.addr, i.size, i.memdev ?: "");
		break;
	case MS_MEMDEV_VIRTIO_MEM:
		fprintf(f, "  memaddr: 0x%" PRIx64 "\n  node: %u\n  requested-size: %" PRIu64
			"\n  size: %" PRIu64 "\n  max-size: %" PRIu64 "\n  block-size: %" PRIu64
			"\n  memdev: %s\n", i.addr, i.node, i.requested_size, i.size, i.max_size,
			i.block_size, i.memdev ?: "");
		break;
	case MS_MEMDEV_CUSTOM:
		fprintf(f, "  addr: 0x%" PRIx64 "\n  size: %" PRIu64 "\n", i.addr, i.size);
		break;
	}
	fprintf(f, "  memslots: %u\n  memslots-used: %u\n", i.memslots, i.memslots_used);
	if (i.type == MS_MEMDEV_VIRTIO_MEM && !ms_virtio_mem__status(d, &vs))
		fprintf(f, "  memslot-size: %" PRIu64 "\n", vs.memslot_size);
}

int plan_print_devices(const struct plan *p, FILE *f)
{
	struct devices l;

	if (get_devices(p->m, &l))
		return -ENOMEM;
	if (!l.nr)
		fprintf(f, "(none)\n");
	for (size_t i = 0; i < l.nr; i++)
		print_device(l.d[i], f);
	free(l.d);
	return 0;
}

static void print_memslots(const struct plan *p, FILE *f)
{
	struct ms_slotmap *kvm = ms_machine__kvm(p->m);

	if (!kvm) {
		fprintf(f, "(no KVM: accel=tcg)\n");
		return;
	}
	memslot_table_print(f, &kvm, 1);
}

void plan_print_accounting(const struct plan *p, FILE *f)
{
	struct ms_devmem_stats st;
	struct consumers c;

	ms_machine__devmem_stats(p->m, &st);
	get_consumers(p->m, &c);
	if (st.present) {
		struct ms_machine_layout l;

		ms_machine__layout(p->m, &l);
		fprintf(f, "  device memory: used 0x%" PRIx64 " of 0x%" PRIx64 ", plugged 0x%"
			PRIx64 "\n", st.used_region_size, l.hotpluggable, st.plugged_size);
	} else {
		fprintf(f, "  device memory: none\n");
	}
	fprintf(f, "  memslots: required %u, used %u, reserved %u\n", st.required_memslots,
		st.used_memslots, st.reserved_memslots);
	fprintf(f, "  auto decision active: %s (%u device%s)\n",
		st.auto_decision_active ? "yes" : "no", st.auto_decision_active,
		st.auto_decision_active == 1 ? "" : "s");
	if (st.warnings)
		fprintf(f, "  listener warnings: %u\n", st.warnings);
	fprintf(f, "  %-6s %-16s %-10s %-10s %s\n", "kind", "name", "max", "used", "free");
	for (size_t i = 0; i < c.nr; i++)
		fprintf(f, "  %-6s %-16s %-10u %-10u %u\n", kind_name(c.c[i].kind), c.c[i].name,
			c.c[i].max, c.c[i].used, c.c[i].free);
}

/* The FlatView block of address space "memory" out of the full -f text. */
static int flat_memory_block(const struct plan *p, char **out)
{
	struct ms_slotmap *maps[2] = { ms_machine__kvm(p->m), NULL };
	char *buf = NULL, *blk, *end;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	ret = ms_mtree_print(p->ctx, f, MS_MTREE_FLAT, maps[0] ? ms_mtree_kvm_marker : NULL,
			     maps);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(buf);
		return ret;
	}
	blk = strstr(buf, "\n AS \"memory\", root:");
	if (!blk) {
		free(buf);
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	/* back to the start of the "FlatView #n" line of this block */
	while (blk > buf && strncmp(blk, "FlatView #", 10))
		blk--;
	end = strstr(blk, "\n\n");
	end = end ? end + 1 : blk + strlen(blk);
	*out = strndup(blk, end - blk);
	free(buf);
	return *out ? 0 : -ENOMEM;
}

int plan_print_flat(const struct plan *p, FILE *f)
{
	char *blk;
	int ret = flat_memory_block(p, &blk);

	if (ret)
		return ret;
	fputs(blk, f);
	free(blk);
	return 0;
}

static int print_capacity(const struct plan *p, FILE *f)
{
	struct ms_machine_layout l;
	struct ms_devmem_stats st;
	struct consumers c;
	struct devices d;
	uint32_t dimms;
	uint64_t top;

	ms_machine__layout(p->m, &l);
	ms_machine__devmem_stats(p->m, &st);
	get_consumers(p->m, &c);
	if (get_devices(p->m, &d))
		return -ENOMEM;
	dimm_slot_use(&d, &dimms);
	free(d.d);

	fprintf(f, "  memslots left for memory devices:");
	for (size_t i = 0; i < c.nr; i++)
		fprintf(f, "%s %s %u", i ? "," : "", c.c[i].name,
			left_after_reserved(c.c[i].free, st.reserved_memslots));
	fprintf(f, "%s\n", c.nr ? "" : " unlimited");
	fprintf(f, "  dimm slots: %u of %u free\n", p->mo.slots > dimms ? p->mo.slots - dimms : 0,
		p->mo.slots);
	if (st.present)
		fprintf(f, "  device memory left: 0x%" PRIx64 " of 0x%" PRIx64 "\n",
			l.hotpluggable > st.used_region_size ? l.hotpluggable - st.used_region_size : 0,
			l.hotpluggable);
	else
		fprintf(f, "  device memory left: none (no maxmem above the RAM size)\n");
	top = highest_gpa(p->m);
	fprintf(f, "  highest guest address: 0x%" PRIx64 " (%u phys-bits)\n", top, addr_bits(top));
	if (l.reserved_end)
		fprintf(f, "  reserved end: 0x%" PRIx64 " (%u phys-bits)\n", l.reserved_end,
			addr_bits(l.reserved_end - 1));
	return 0;
}

static int print_report(const struct plan *p, FILE *f)
{
	int ret;

	plan_print_machine(p, f);
	fprintf(f, "\nmemory devices:\n");
	ret = plan_print_devices(p, f);
	if (ret)
		return ret;
	fprintf(f, "\nmemslots:\n");
	print_memslots(p, f);
	fprintf(f, "\naccounting:\n");
	plan_print_accounting(p, f);
	fprintf(f, "\nflat view of \"memory\":\n");
	ret = plan_print_flat(p, f);
	if (ret)
		return ret;
	fprintf(f, "\ncapacity:\n");
	return print_capacity(p, f);
}

/* --- JSON ------------------------------------------------------------------ */

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

struct json_object *plan_machine_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object();
	struct ms_machine_layout l;

	if (!o)
		return NULL;
	ms_machine__layout(p->m, &l);
	ADD(o, "type", json_object_new_string(p->mtype));
	ADD(o, "accel", json_object_new_string(p->kvm ? "kvm" : "tcg"));
	ADD(o, "kvm_memslots", json_u64(p->mo.kvm_memslots));
	ADD(o, "ram_size", json_u64(p->mo.ram_size));
	ADD(o, "slots", json_u64(p->mo.slots));
	ADD(o, "maxmem", json_u64(p->mo.maxmem ?: p->mo.ram_size));
	ADD(o, "nvdimm", json_object_new_boolean(p->mo.nvdimm));
	ADD(o, "below_4g", json_u64(l.below_4g));
	ADD(o, "above_4g", json_u64(l.above_4g));
	ADD(o, "above_4g_start", json_u64(l.above_4g_start));
	ADD(o, "devmem_base", json_u64(l.devmem_base));
	ADD(o, "devmem_size", json_u64(l.devmem_size));
	ADD(o, "hotpluggable", json_u64(l.hotpluggable));
	ADD(o, "reserved_end", json_u64(l.reserved_end));
	return o;
}

static struct json_object *device_json(const struct ms_memdev *d)
{
	struct json_object *o = json_object_new_object();
	struct ms_virtio_mem_status vs;
	struct ms_memdev_info i;

	if (!o)
		return NULL;
	ms_memdev__info(d, &i);
	ADD(o, "id", json_str_or_null(i.id));
	ADD(o, "type", json_object_new_string(ms_memdev_type_name(i.type)));
	ADD(o, "addr", json_u64(i.addr));
	ADD(o, "size", json_u64(i.size));
	ADD(o, "memslots", json_u64(i.memslots));
	ADD(o, "memslots_used", json_u64(i.memslots_used));
	ADD(o, "plugged_size", json_u64(i.plugged_size));
	/* query-memory-devices "data" fields, snake_case (rule 12.2) */
	switch (i.type) {
	case MS_MEMDEV_DIMM:
	case MS_MEMDEV_NVDIMM:
		ADD(o, "slot", json_object_new_int(i.slot));
		ADD(o, "node", json_u64(i.node));
		ADD(o, "memdev", json_str_or_null(i.memdev));
		ADD(o, "hotplugged", json_object_new_boolean(i.hotplugged));
		ADD(o, "hotpluggable", json_object_new_boolean(i.hotpluggable));
		break;
	case MS_MEMDEV_VIRTIO_PMEM:
		ADD(o, "memaddr", json_u64(i.addr));
		ADD(o, "memdev", json_str_or_null(i.memdev));
		break;
	case MS_MEMDEV_VIRTIO_MEM:
		ADD(o, "memaddr", json_u64(i.addr));
		ADD(o, "node", json_u64(i.node));
		ADD(o, "requested_size", json_u64(i.requested_size));
		ADD(o, "max_size", json_u64(i.max_size));
		ADD(o, "block_size", json_u64(i.block_size));
		ADD(o, "memdev", json_str_or_null(i.memdev));
		if (!ms_virtio_mem__status(d, &vs)) {
			ADD(o, "memslot_size", json_u64(vs.memslot_size));
			ADD(o, "usable_region_size", json_u64(vs.usable_region_size));
		}
		break;
	case MS_MEMDEV_CUSTOM:
		break;
	}
	return o;
}

struct json_object *plan_devices_json(const struct plan *p)
{
	struct json_object *a = json_object_new_array();
	struct devices l;

	if (!a || get_devices(p->m, &l)) {
		json_object_put(a);
		return NULL;
	}
	for (size_t i = 0; i < l.nr; i++) {
		struct json_object *o = device_json(l.d[i]);

		if (!o || json_object_array_add(a, o)) {
			json_object_put(o);
			json_object_put(a);
			a = NULL;
			break;
		}
	}
	free(l.d);
	return a;
}

static struct json_object *memslots_json(const struct plan *p)
{
	struct ms_slotmap *kvm = ms_machine__kvm(p->m);

	return kvm ? memslot_table_json(&kvm, 1) : json_object_new_array();
}

struct json_object *plan_accounting_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object();
	struct ms_devmem_stats st;

	if (!o)
		return NULL;
	ms_machine__devmem_stats(p->m, &st);
	ADD(o, "device_memory", json_object_new_boolean(st.present));
	ADD(o, "used_region_size", json_u64(st.used_region_size));
	ADD(o, "plugged_size", json_u64(st.plugged_size));
	ADD(o, "dimm_size", json_u64(st.dimm_size));
	ADD(o, "required_memslots", json_u64(st.required_memslots));
	ADD(o, "used_memslots", json_u64(st.used_memslots));
	ADD(o, "reserved_memslots", json_u64(st.reserved_memslots));
	ADD(o, "auto_decision_active", json_object_new_boolean(st.auto_decision_active > 0));
	ADD(o, "auto_decision_devices", json_u64(st.auto_decision_active));
	ADD(o, "warnings", json_u64(st.warnings));
	return o;
}

struct json_object *plan_consumers_json(const struct plan *p)
{
	struct json_object *a = json_object_new_array();
	struct consumers c;

	if (!a)
		return NULL;
	get_consumers(p->m, &c);
	for (size_t i = 0; i < c.nr; i++) {
		struct json_object *o = json_object_new_object();

		if (!o) {
			json_object_put(a);
			return NULL;
		}
		ADD(o, "kind", json_object_new_string(kind_name(c.c[i].kind)));
		ADD(o, "name", json_object_new_string(c.c[i].name));
		ADD(o, "max", json_u64(c.c[i].max));
		ADD(o, "used", json_u64(c.c[i].used));
		ADD(o, "free", json_u64(c.c[i].free));
		json_object_array_add(a, o);
	}
	return a;
}

/* The ranges of "memory" like `mtree -j -f`, with "kvm": has a memslot. */
struct json_object *plan_flat_view_json(const struct plan *p)
{
	struct ms_flatview *fv = ms_as__flatview(ms_machine__memory_as(p->m));
	struct ms_slotmap *kvm = ms_machine__kvm(p->m);
	struct json_object *a = json_object_new_array();
	size_t n;

	if (!a)
		return NULL;
	n = ms_flatview__nr_ranges(fv);
	for (size_t i = 0; i < n; i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);
		struct json_object *r = json_object_new_object();

		if (!r) {
			json_object_put(a);
			a = NULL;
			break;
		}
		json_object_array_add(a, r);
		ADD(r, "start", json_u64(fr->start));
		ADD(r, "end", json_u64(fr->start + (uint64_t)(fr->size - 1)));
		if (fr->size < MS_SIZE_2_64)
			ADD(r, "size", json_u64((uint64_t)fr->size));
		ADD(r, "priority", json_object_new_int(ms_region__priority(fr->mr)));
		ADD(r, "type", json_object_new_string(fr->readonly ? "rom" :
						      ms_region__type_str(fr->mr)));
		ADD(r, "region", json_str_or_null(ms_region__name(fr->mr)));
		ADD(r, "offset_in_region", json_u64(fr->offset_in_region));
		ADD(r, "readonly", json_object_new_boolean(fr->readonly));
		ADD(r, "nonvolatile", json_object_new_boolean(fr->nonvolatile));
		ADD(r, "kvm", json_object_new_boolean(
			    kvm && ms_slotmap__has_memory(kvm, fr->start, fr->size)));
	}
	return a;
}

static struct json_object *capacity_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object(), *a;
	struct ms_machine_layout l;
	struct ms_devmem_stats st;
	struct consumers c;
	struct devices d;
	uint32_t dimms, min_left = MS_MEMSLOTS_UNLIMITED;
	uint64_t top;

	if (!o)
		return NULL;
	a = json_object_new_array();
	if (!a || get_devices(p->m, &d)) {
		json_object_put(a);
		json_object_put(o);
		return NULL;
	}
	dimm_slot_use(&d, &dimms);
	free(d.d);
	ms_machine__layout(p->m, &l);
	ms_machine__devmem_stats(p->m, &st);
	get_consumers(p->m, &c);

	ADD(o, "consumers", a);
	for (size_t i = 0; i < c.nr; i++) {
		struct json_object *e = json_object_new_object();
		uint32_t left = left_after_reserved(c.c[i].free, st.reserved_memslots);

		if (!e) {
			json_object_put(o);
			return NULL;
		}
		ADD(e, "kind", json_object_new_string(kind_name(c.c[i].kind)));
		ADD(e, "name", json_object_new_string(c.c[i].name));
		ADD(e, "free", json_u64(c.c[i].free));
		ADD(e, "reserved", json_u64(st.reserved_memslots));
		ADD(e, "left", json_u64(left));
		json_object_array_add(a, e);
		if (left < min_left)
			min_left = left;
	}
	ADD(o, "memslots_left", json_u64(min_left));
	ADD(o, "dimm_slots", json_u64(p->mo.slots));
	ADD(o, "dimm_slots_free", json_u64(p->mo.slots > dimms ? p->mo.slots - dimms : 0));
	ADD(o, "device_memory_size", json_u64(st.present ? l.hotpluggable : 0));
	ADD(o, "device_memory_used", json_u64(st.used_region_size));
	ADD(o, "device_memory_left", json_u64(st.present && l.hotpluggable > st.used_region_size ?
					      l.hotpluggable - st.used_region_size : 0));
	top = highest_gpa(p->m);
	ADD(o, "highest_gpa", json_u64(top));
	ADD(o, "phys_bits", json_u64(addr_bits(top)));
	ADD(o, "reserved_end", json_u64(l.reserved_end));
	ADD(o, "reserved_end_phys_bits", l.reserved_end ? json_u64(addr_bits(l.reserved_end - 1)) :
							  NULL);
	return o;
}

/* Add "devices", "memslots", "accounting", "consumers" to @o. */
static int add_state(const struct plan *p, struct json_object *o)
{
	struct json_object *v[4] = {
		plan_devices_json(p), memslots_json(p), plan_accounting_json(p), plan_consumers_json(p),
	};
	static const char *const keys[4] = { "devices", "memslots", "accounting", "consumers" };
	int ret = 0;

	for (int i = 0; i < 4; i++) {
		if (!v[i])
			ret = -ENOMEM;
		ADD(o, keys[i], v[i]);
	}
	return ret;
}

static int add_full(const struct plan *p, struct json_object *doc)
{
	struct json_object *m = plan_machine_json(p), *fv, *cap;
	int ret;

	if (!m)
		return -ENOMEM;
	ADD(doc, "machine", m);
	ret = add_state(p, doc);
	if (ret)
		return ret;
	fv = plan_flat_view_json(p);
	cap = capacity_json(p);
	ADD(doc, "flat_view", fv);
	ADD(doc, "capacity", cap);
	return fv && cap ? 0 : -ENOMEM;
}

/* --- script ---------------------------------------------------------------- */

static int print_info(const struct plan *p, enum scn_info what, FILE *f)
{
	switch (what) {
	case SCN_INFO_MEMORY_DEVICES:
		return plan_print_devices(p, f);
	case SCN_INFO_MEMSLOTS:
		print_memslots(p, f);
		return 0;
	case SCN_INFO_ACCOUNTING:
		plan_print_accounting(p, f);
		return 0;
	case SCN_INFO_MTREE:
		return plan_print_flat(p, f);
	}
	return 0;
}

int plan_load_script(struct plan *p)
{
	char err[QOPT_ERR_LEN], *text;
	unsigned int line = 0;
	size_t len;
	int ret;

	ret = read_file(p->script, &text, &len);
	if (ret) {
		p_err("%s: %s", p->script, strerror(-ret));
		return 1;
	}
	if (strlen(text) != len) {
		free(text);
		p_err("%s: NUL byte in the script", p->script);
		return 1;
	}
	ret = scenario_parse(text, &p->scn, &line, err);
	free(text);
	if (ret == -ENOMEM) {
		p_err("%s: %s", p->script, strerror(ENOMEM));
		return 1;
	}
	if (ret) {
		p_err("%s:%u: %s", p->script, line, err);
		return 1;
	}
	return 0;
}

/*
 * Replay the script. @steps (JSON mode) gets one entry per step run; on a
 * failing step @failed is set to "FILE:LINE: text". Return: 0, or a
 * negative errno for an output failure.
 */
static int replay(struct plan *p, struct json_object *steps, char *failed, size_t failed_len)
{
	char err[QOPT_ERR_LEN];
	int ret;

	for (size_t i = 0; i < p->scn.nr; i++) {
		const struct scn_step *st = &p->scn.steps[i];
		int r = scenario_exec(p->m, st, true, err);

		if (r)
			snprintf(failed, failed_len, "%s:%u: %s", p->script, st->line, err);
		if (steps) {
			struct json_object *o = json_object_new_object();

			if (!o)
				return -ENOMEM;
			json_object_array_add(steps, o);
			ADD(o, "line", json_u64(st->line));
			ADD(o, "command", json_object_new_string(st->text));
			ADD(o, "ok", json_object_new_boolean(!r));
			ADD(o, "error", r ? json_object_new_string(err) : NULL);
			ret = add_state(p, o);
			if (!ret && st->cmd == SCN_INFO && st->info == SCN_INFO_MTREE) {
				struct json_object *fv = plan_flat_view_json(p);

				ADD(o, "flat_view", fv);
				ret = fv ? 0 : -ENOMEM;
			}
			if (ret)
				return ret;
		} else {
			/* A failing step prints its line only: the error goes to stderr. */
			printf("\nline %u: %s\n", st->line, st->text);
			if (!r && st->cmd == SCN_INFO) {
				ret = print_info(p, st->info, stdout);
				if (ret)
					return ret;
			} else if (!r) {
				plan_print_accounting(p, stdout);
			}
		}
		if (r)
			break;
	}
	return 0;
}

/* --- command --------------------------------------------------------------- */

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

int do_plan(int argc, char **argv)
{
	struct plan p = { .mo = { .sz = sizeof(p.mo) } };
	char failed[QOPT_ERR_LEN + 4096] = "";
	ms_print_fn_t old_print = ms_set_print(plan_print_warning);
	bool help = false;
	int status, ret;

	status = plan_parse_args(&p, argc, argv, &help);
	if (status || help) {
		if (help)
			plan_usage(stdout);
		goto free_plan;
	}
	if (p.script && (status = plan_load_script(&p)))
		goto free_plan;
	status = plan_build(&p);
	if (status)
		goto free_plan;

	status = 1;
	if (json_output) {
		struct json_object *doc = json_object_new_object(), *steps = NULL;

		ret = doc ? 0 : -ENOMEM;
		if (!ret && p.script) {
			steps = json_object_new_array();
			ret = steps ? replay(&p, steps, failed, sizeof(failed)) : -ENOMEM;
		}
		if (!ret)
			ret = add_full(&p, doc);
		if (!ret && steps) {
			ADD(doc, "steps", steps);
			steps = NULL;
			if (failed[0])
				ADD(doc, "error", json_object_new_string(failed));
		}
		json_object_put(steps);
		if (ret) {
			json_object_put(doc);
			p_err("cannot build JSON: %s", strerror(-ret));
			goto free_plan;
		}
		status = json_print(doc);
	} else {
		if (p.script) {
			plan_print_machine(&p, stdout);
			printf("\nstart:\n");
			plan_print_accounting(&p, stdout);
			ret = replay(&p, NULL, failed, sizeof(failed));
		} else {
			ret = print_report(&p, stdout);
		}
		if (!ret && ferror(stdout))
			ret = -EIO;
		if (ret) {
			p_err("cannot write output: %s", strerror(-ret));
			goto free_plan;
		}
		status = 0;
	}
	if (failed[0]) {
		/* After the output: in JSON mode this goes to stderr. */
		fflush(stdout);
		p_err("%s", failed);
		status = 1;
	}

free_plan:
	plan_free(&p);
	ms_set_print(old_print);
	return status;
}
