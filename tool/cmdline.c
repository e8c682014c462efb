// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command line of `memslot plan` and `memslot run`: QEMU's -M/-machine,
 * -m, -object and -device (the last two with the parsers the script's
 * object_add and device_add use, scenario.h), plan's --vhost-limit and
 * --kvm-memslots, run's flags, and --script, read into a struct plan.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "plan.h"
#include "scenario.h"

#define MIB			(1ULL << 20)
#define RAM_ALIGN		8192ULL	/* QEMU's alignment of the RAM size */

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
			/* QEMU rounds the size up to 8 KiB: that must stay below 2^64 too */
			if (!ret && n > UINT64_MAX - RAM_ALIGN + 1)
				ret = -ERANGE;
			if (ret) {
				snprintf(err, sizeof(err), "Parameter 'size' expects a non-negative "
					 "number below 2^64");
				ret = -EINVAL;
				break;
			}
			p->mo.ram_size = n;
			p->ram_given = true;
		} else if (!strcmp(k, "slots")) {
			if (parse_qemu_u64(v, &n)) {
				snprintf(err, sizeof(err), "Parameter 'slots' expects a number");
				ret = -EINVAL;
				break;
			}
			/* Anything above 256 fails the same way (rule 4.5). */
			p->mo.slots = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
			p->slots_raw = n;
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
			} else if (!strcmp(key, "smm")) {
				/* QEMU's OnOffAuto */
				if (!strcmp(v, "on"))
					p->mo.smm = MS_SMM_ON;
				else if (!strcmp(v, "off"))
					p->mo.smm = MS_SMM_OFF;
				else if (!strcmp(v, "auto"))
					p->mo.smm = MS_SMM_AUTO;
				else
					status = usage_err("%s %s: Parameter 'smm' does not accept "
							   "value '%s'", flag, text, v);
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
	/* no pointer into the array: it moves as more --vhost-limit grow it */
	snprintf(v->default_name, sizeof(v->default_name), "vhost%zu", index);
	v->name = NULL;
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
	A_MACHINE, A_MEMORY, A_OBJECT, A_DEVICE, A_VHOST, A_KVM, A_KVM_SMM, A_FIRMWARE, A_SCRIPT,
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
		{ "kvm-smm", false, A_KVM_SMM, FOR_PLAN, false },
		{ "firmware", false, A_FIRMWARE, FOR_PLAN, false },
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
		case A_FIRMWARE:
			if (!strcmp(val, "seabios"))
				p->mo.firmware = MS_FIRMWARE_SEABIOS;
			else if (!strcmp(val, "none"))
				p->mo.firmware = MS_FIRMWARE_NONE;
			else
				return usage_err("invalid --firmware: %s (none or seabios)", val);
			break;
		case A_KVM_SMM:
			if (strcmp(val, "on") && strcmp(val, "off"))
				return usage_err("invalid --kvm-smm: %s (on or off)", val);
			p->kvm_smm = !strcmp(val, "on") ? 1 : -1;
			break;
		case A_SCRIPT:
			if (!*val)
				return usage_err("%s: empty argument", name);
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

int plan_load_script(struct plan *p)
{
	char err[QOPT_ERR_LEN], *text;
	unsigned int line = 0;
	size_t len;
	int ret;

	ret = read_file(p->script, &text, &len);
	if (ret) {
		p_err("%s: %s", p->script, read_file_strerror(ret));
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
