// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The command line of `memslot plan` and `memslot run`: QEMU's -M/-machine,
 * -m, -object and -device (the last two with the parsers the script's
 * object_add and device_add use, scenario.h, also in libvirt's JSON form),
 * -numa, -accel, -smp and -name, plan's --vhost-limit and --kvm-memslots,
 * run's flags, and --script, read into a struct plan. Every other option of
 * QEMU 7.2 (qemu_table.c) is accepted: named in one note if it does not
 * change memory, in one warning if it can in a way not modelled (both
 * refused with --strict).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tool.h"
#include "plan.h"
#include "scenario.h"

#define MIB			(1ULL << 20)
#define RAM_ALIGN		8192ULL	/* QEMU's alignment of the RAM size */
#define NUMA_MAX_NODES		128	/* QEMU 7.2's MAX_NODES */

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

/*
 * A note, not an error: QEMU options, object types, device models and
 * machine properties that do not change memory (@unmodelled false), or
 * that can change it in a way the plan does not model (@unmodelled true:
 * a warning). --strict refuses the first of either.
 */
static int add_listed(struct plan *p, bool unmodelled, const char *what, const char *arg)
{
	char ***list = unmodelled ? &p->unmodelled : &p->ignored;
	size_t *nr = unmodelled ? &p->nr_unmodelled : &p->nr_ignored;
	char *s, **n;

	if (asprintf(&s, "%s%s%s", what, arg ? " " : "", arg ? arg : "") < 0) {
		p_err("cannot parse the options: %s", strerror(ENOMEM));
		return 1;
	}
	if (p->strict) {
		usage_err("%s, refused by --strict: %s",
			  unmodelled ? "not modelled" : "not affecting memory", s);
		free(s);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < *nr; i++) {
		if (!strcmp((*list)[i], s)) {
			free(s);
			return 0;
		}
	}
	n = realloc(*list, (*nr + 1) * sizeof(*n));
	if (!n) {
		free(s);
		p_err("cannot parse the options: %s", strerror(ENOMEM));
		return 1;
	}
	*list = n;
	n[(*nr)++] = s;
	return 0;
}

static int add_ignored(struct plan *p, const char *what, const char *arg)
{
	return add_listed(p, false, what, arg);
}

/*
 * QEMU options that can change memory in ways the plan does not model:
 * RAM from a file (-mem-path), the BIOS ROM's size (-bios), flash
 * devices with their own memslots (-pflash, -drive if=pflash), and
 * options that can add objects or devices or change their properties
 * (-readconfig, -set, -global).
 */
static bool unmodelled_option(const char *name, const char *arg)
{
	static const char *const names[] = { "-mem-path", "-bios", "-pflash", "-readconfig",
					     "-set", "-global" };
	char err[QOPT_ERR_LEN];
	struct qopts q;
	bool ret;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	if (strcmp(name, "-drive") || !arg)
		return false;
	/* -drive if=pflash (a malformed -drive is QEMU's to refuse) */
	ret = !qopts_parse(arg, NULL, &q, err) && qopts_get(&q, "if") &&
	      !strcmp(qopts_get(&q, "if"), "pflash");
	qopts_free(&q);
	return ret;
}

/*
 * Machine properties of QEMU 7.2's pc and q35 types that do not change
 * memory (`-machine pc,help`, plus the accelerator properties -machine
 * still takes): 'b' boolean, 'o' OnOffAuto, 's' anything; 'f' the flash
 * devices' block nodes, which do change memory (a warning).
 */
static const struct {
	const char *name;
	char kind;
} machine_props[] = {
	{ "append", 's' }, { "boot", 's' }, { "bus-lock-ratelimit", 's' },
	{ "confidential-guest-support", 's' }, { "default-bus-bypass-iommu", 'b' },
	{ "dt-compatible", 's' }, { "dtb", 's' }, { "dump-guest-core", 'b' },
	{ "dumpdtb", 's' }, { "firmware", 's' }, { "graphics", 'b' }, { "hpet", 'b' },
	{ "i8042", 'b' }, { "initrd", 's' }, { "kernel", 's' }, { "kernel-irqchip", 's' },
	{ "kernel_irqchip", 's' }, { "kvm-shadow-mem", 's' }, { "max-fw-size", 's' },
	{ "mem-merge", 'b' }, { "memory-encryption", 's' }, { "nvdimm-persistence", 's' },
	{ "pflash0", 'f' }, { "pflash1", 'f' }, { "phandle-start", 's' }, { "pic", 'o' }, { "pit", 'o' }, { "sata", 'b' },
	{ "smbios-entry-point-type", 's' }, { "smbus", 'b' }, { "suppress-vmdesc", 'b' },
	{ "usb", 'b' }, { "vmport", 'o' }, { "x-oem-id", 's' }, { "x-oem-table-id", 's' },
};

static const char *qom_machine_type(const struct plan *p)
{
	static char buf[64];
	const struct qemu_machine_type *t = p->machine_type;

	snprintf(buf, sizeof(buf), "pc-%s-%d.%d-machine", t->q35 ? "q35" : "i440fx", t->major,
		 t->minor);
	return buf;
}

/*
 * The defaults of the machine type's version that change the memory map
 * (QEMU 7.2 hw/i386/pc_piix.c, pc_q35.c, pc.c; memory-devices.md 4.1,
 * 4.4): pc-i440fx-2.0 and older have no device memory, 2.1 and older no
 * per-slot slack and page-aligned DIMMs, 1.7 and older no 3 GiB split
 * and a 128 KiB BIOS. The q35 types QEMU 7.2 has (2.4 and newer) do not
 * differ in memory. pc-i440fx-2.3 and older turn SMM off under KVM
 * (pc_compat_2_3_fn), but only after KVM registered its "KVM-SMRAM"
 * listener (kvm_arch_init() runs before the machine's init): QEMU 7.2
 * under KVM still has address space 1 with all of RAM and ROM in it, so
 * nothing changes for the memslots (seen with test_plan_qemu and the
 * kernel's own table).
 */
static void machine_type_defaults(struct plan *p)
{
	const struct qemu_machine_type *t = p->machine_type;

	p->mo.type_name = t->name;
	if (t->q35)
		return;
	p->mo.no_device_memory = qemu_machine_at_most(t, 2, 0);
	p->mo.legacy_dimm_align = qemu_machine_at_most(t, 2, 1);
	p->mo.no_gigabyte_align = qemu_machine_at_most(t, 1, 7);
	/* 1.7 and older boot bios.bin (128 KiB), the others bios-256k.bin */
	p->mo.bios_size = qemu_machine_at_most(t, 1, 7) ? 128 << 10 : 0;
}

static int set_accel(struct plan *p, const char *flag, const char *text, const char *v)
{
	if (!strcmp(v, "kvm"))
		p->kvm = true;
	else if (!strcmp(v, "tcg"))
		p->kvm = false;
	else
		return usage_err("%s %s: invalid accelerator %s", flag, text, v);
	return 0;
}

static int machine_prop(struct plan *p, const char *flag, const char *text, const char *key,
			const char *v)
{
	char err[QOPT_ERR_LEN];
	bool b;

	if (!strcmp(key, "max-ram-below-4g")) {
		if (parse_size(v, 1, &p->mo.max_ram_below_4g))
			return usage_err("%s %s: Parameter 'max-ram-below-4g' expects size", flag,
					 text);
	} else if (!strcmp(key, "nvdimm")) {
		if (qopt_bool("nvdimm", v, &p->mo.nvdimm, err))
			return usage_err("%s %s: %s", flag, text, err);
	} else if (!strcmp(key, "smm")) {
		/* QEMU's OnOffAuto */
		if (!strcmp(v, "on"))
			p->mo.smm = MS_SMM_ON;
		else if (!strcmp(v, "off"))
			p->mo.smm = MS_SMM_OFF;
		else if (!strcmp(v, "auto"))
			p->mo.smm = MS_SMM_AUTO;
		else
			return usage_err("%s %s: Parameter 'smm' does not accept value '%s'", flag,
					 text, v);
	} else if (!strcmp(key, "accel")) {
		if (p->accel_opt)
			return usage_err("%s %s: The -accel and \"-machine accel=\" options are "
					 "incompatible", flag, text);
		return set_accel(p, flag, text, v);
	} else if (!strcmp(key, "memory-backend")) {
		free(p->ram_backend_buf);
		p->ram_backend_buf = strdup(v);
		if (!p->ram_backend_buf) {
			p_err("cannot parse the options: %s", strerror(ENOMEM));
			return 1;
		}
		p->ram_backend = p->ram_backend_buf;
	} else if (!strcmp(key, "acpi")) {
		/* without ACPI no DIMM can be plugged (rule 5.1.1) */
		if (!strcmp(v, "off"))
			p->no_acpi = true;
		else if (!strcmp(v, "on") || !strcmp(v, "auto"))
			p->no_acpi = false;
		else
			return usage_err("%s %s: Parameter 'acpi' does not accept value '%s'", flag,
					 text, v);
	} else {
		size_t i;

		for (i = 0; i < sizeof(machine_props) / sizeof(machine_props[0]); i++)
			if (!strcmp(machine_props[i].name, key))
				break;
		if (i == sizeof(machine_props) / sizeof(machine_props[0]))
			return usage_err("%s %s: Property '%s.%s' not found", flag, text,
					 qom_machine_type(p), key);
		if (machine_props[i].kind == 'b' && qopt_bool(key, v, &b, err))
			return usage_err("%s %s: %s", flag, text, err);
		if (machine_props[i].kind == 'o' && strcmp(v, "on") && strcmp(v, "off") &&
		    strcmp(v, "auto"))
			return usage_err("%s %s: Parameter '%s' does not accept value '%s'", flag,
					 text, key, v);
		if (machine_props[i].kind == 'f')
			return add_listed(p, true, "-M", key);
		return add_ignored(p, "-machine", key);
	}
	return 0;
}

/* Second pass over -M: the type is the last one given, then every key. */
static int parse_machines(struct plan *p)
{
	char err[QOPT_ERR_LEN];
	int status = 0;

	p->machine_type = qemu_machine_type_find("pc");
	for (size_t i = 0; i < p->nr_machine; i++) {
		struct qopts q;
		const char *t;

		if (qopts_parse(p->machine_texts[i], "type", &q, err)) {
			qopts_free(&q);
			return usage_err("%s %s: %s", p->machine_flags[i], p->machine_texts[i], err);
		}
		t = qopts_get(&q, "type");
		if (t && qemu_machine_type_find(t))
			p->machine_type = qemu_machine_type_find(t);
		else if (t) {
			status = usage_err("%s %s: unsupported machine type%s", p->machine_flags[i],
					   p->machine_texts[i],
					   !strcmp(t, "isapc") || !strcmp(t, "microvm") ||
					   !strcmp(t, "none") || !strcmp(t, "x-remote") ?
					   " (memslot models the pc and q35 types only)" : "");
		}
		qopts_free(&q);
		if (status)
			return status;
	}
	p->mtype = p->machine_type->name;
	p->mo.type = p->machine_type->q35 ? MS_MACHINE_Q35 : MS_MACHINE_PC;

	for (size_t i = 0; i < p->nr_machine && !status; i++) {
		const char *text = p->machine_texts[i], *flag = p->machine_flags[i];
		struct qopts q;

		qopts_parse(text, "type", &q, err);
		for (size_t k = 0; k < q.nr && !status; k++)
			if (strcmp(q.opt[k].key, "type"))
				status = machine_prop(p, flag, text, q.opt[k].key, q.opt[k].value);
		qopts_free(&q);
	}
	if (!status)
		machine_type_defaults(p);
	return status;
}

/* -numa (after -M: whether mem= is allowed depends on the machine type) */
static int parse_numa(struct plan *p, const char *text)
{
	static const char *const types[] = { "node", "dist", "cpu", "hmat-lb", "hmat-cache" };
	char err[QOPT_ERR_LEN];
	struct numa_arg *a, *n;
	const char *type;
	struct qopts q;
	size_t t;
	int status = 0;

	if (qopts_parse(text, "type", &q, err)) {
		qopts_free(&q);
		return usage_err("-numa %s: %s", text, err);
	}
	type = qopts_get(&q, "type");
	for (t = 0; type && t < sizeof(types) / sizeof(types[0]); t++)
		if (!strcmp(type, types[t]))
			break;
	if (!type) {
		status = usage_err("-numa %s: Parameter 'type' is missing", text);
	} else if (t == sizeof(types) / sizeof(types[0])) {
		status = usage_err("-numa %s: Parameter 'type' does not accept value '%s'", text,
				   type);
	} else if (t) {
		/* distances, CPU placement, HMAT: nothing for memory */
		qopts_free(&q);
		return 0;
	}
	if (status) {
		qopts_free(&q);
		return status;
	}

	n = realloc(p->numa, (p->nr_numa + 1) * sizeof(*n));
	if (!n) {
		qopts_free(&q);
		p_err("cannot parse the options: %s", strerror(ENOMEM));
		return 1;
	}
	p->numa = n;
	a = &p->numa[p->nr_numa];
	memset(a, 0, sizeof(*a));
	a->text = text;
	a->nodeid = (uint32_t)p->nr_numa;
	for (size_t i = 0; i < q.nr && !status; i++) {
		const char *k = q.opt[i].key, *v = q.opt[i].value;
		uint64_t u;

		if (!strcmp(k, "type") || !strcmp(k, "cpus") || !strcmp(k, "initiator")) {
			continue;
		} else if (!strcmp(k, "nodeid")) {
			if (parse_qemu_u64(v, &u) || u > UINT16_MAX)
				status = usage_err("-numa %s: Parameter 'nodeid' expects uint16_t",
						   text);
			a->nodeid = (uint32_t)u;
		} else if (!strcmp(k, "memdev")) {
			a->memdev = v;
		} else if (!strcmp(k, "mem")) {
			if (parse_size(v, 1, &a->mem))
				status = usage_err("-numa %s: Parameter 'mem' expects a size",
						   text);
			a->has_mem = true;
		} else {
			status = usage_err("-numa %s: Invalid parameter '%s'", text, k);
		}
	}
	/* QEMU 7.2's order: node limit, duplicate, mixing, mem= support */
	if (!status && a->nodeid >= NUMA_MAX_NODES)
		status = usage_err("-numa %s: Max number of NUMA nodes reached: %u", text,
				   a->nodeid);
	for (size_t i = 0; i < p->nr_numa && !status; i++)
		if (p->numa[i].nodeid == a->nodeid)
			status = usage_err("-numa %s: Duplicate NUMA nodeid: %u", text, a->nodeid);
	for (size_t i = 0; i <= p->nr_numa && !status; i++) {
		/* against every earlier node, and within this one (i == nr_numa) */
		const struct numa_arg *b = &p->numa[i];

		if ((b->has_mem && a->memdev) || (b->memdev && a->has_mem))
			status = usage_err("-numa %s: numa configuration should use either mem= "
					   "or memdev=,mixing both is not allowed", text);
	}
	/* 7.2: only machine types with numa_mem_supported (5.0 and older) */
	if (!status && a->has_mem && !qemu_machine_at_most(p->machine_type, 5, 0))
		status = usage_err("-numa %s: Parameter -numa node,mem is not supported by this "
				   "machine type", text);
	if (!status) {
		/* keep @q's copy of memdev= (plan_free() frees it) */
		a->memdev = NULL;
		for (size_t i = q.nr; i-- > 0;) {
			if (!strcmp(q.opt[i].key, "memdev")) {
				a->memdev = q.opt[i].value;
				q.opt[i].value = NULL;	/* kept: freed in plan_free */
				break;
			}
		}
		p->nr_numa++;
	}
	qopts_free(&q);
	return status;
}

/* --- JSON -object / -device (libvirt) ------------------------------------ */

/*
 * The JSON type QEMU's visitors want for a property of the memory
 * backends and devices: 'u' unsigned integer, 'i' integer, 'b' boolean,
 * 's' string, 'a' array (host-nodes), 'p' a PCI address string (addr= of
 * the virtio proxies; a DIMM's addr= is 'u').
 */
static const struct {
	const char *key;
	char type;
} json_props[] = {
	{ "qom-type", 's' }, { "driver", 's' }, { "id", 's' }, { "size", 'u' },
	{ "share", 'b' }, { "prealloc", 'b' }, { "mem-path", 's' }, { "align", 'u' },
	{ "readonly", 'b' }, { "hugetlb", 'b' }, { "hugetlbsize", 'u' }, { "seal", 'b' },
	{ "host-nodes", 'a' }, { "policy", 's' }, { "prealloc-threads", 'u' },
	{ "prealloc-context", 's' }, { "merge", 'b' }, { "dump", 'b' }, { "reserve", 'b' },
	{ "x-use-canonical-path-for-ramblock-id", 'b' }, { "discard-data", 'b' },
	{ "pmem", 'b' }, { "memdev", 's' }, { "slot", 'i' }, { "node", 'u' },
	{ "memaddr", 'u' }, { "requested-size", 'u' }, { "block-size", 'u' },
	{ "label-size", 'u' }, { "unarmed", 'b' }, { "dynamic-memslots", 'b' },
	{ "unplugged-inaccessible", 's' }, { "bus", 's' }, { "addr", 'p' },
};

/* Append @s to @out with QEMU's ",," for a comma. */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == ',')
			fputc(',', out);
		fputc(*s, out);
	}
}

/*
 * @json with ".0" after each integer that fits neither int64 nor uint64:
 * QEMU's parser makes such a number a double (its visitors then refuse it
 * for an integer property), json-c would clamp it. malloc()ed, NULL if
 * out of memory.
 */
static char *json_widen_ints(const char *json)
{
	size_t len = strlen(json);
	bool in_str = false;
	char *out = malloc(len * 3 / 2 + 3), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		const char *s = json + i;
		size_t k;

		if (in_str || *s == '"') {
			if (in_str && *s == '\\' && s[1]) {
				*o++ = *s;
				i++;
			} else if (*s == '"') {
				in_str = !in_str;
			}
			*o++ = json[i++];
			continue;
		}
		/* a number starts after a structural character or whitespace */
		k = *s == '-';
		if (s[k] < '0' || s[k] > '9' || (i && strchr("0123456789.eE+-", s[-1]))) {
			*o++ = json[i++];
			continue;
		}
		while (s[k] >= '0' && s[k] <= '9')
			k++;
		memcpy(o, s, k);
		o += k;
		i += k;
		if (s[k] != '.' && s[k] != 'e' && s[k] != 'E') {
			char *end;

			errno = 0;
			if (*s == '-')
				(void)strtoll(s, &end, 10);
			else
				(void)strtoull(s, &end, 10);
			if (errno == ERANGE) {
				*o++ = '.';
				*o++ = '0';
			}
		}
	}
	*o = '\0';
	return out;
}

/*
 * JSON -object/-device as the key=value text of the same options, with
 * QEMU 7.2's texts for what its JSON visitor refuses. @implied is
 * "qom-type" or "driver" (put first); @pci: addr= is a PCI address.
 * Return: the text (malloc()ed) or NULL with @err set (ENOMEM: empty @err).
 */
static char *json_to_opts(const char *json, const char *implied, bool pci, char *err)
{
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	struct json_object *o;
	const char *first = NULL, *rest;
	char *buf = NULL, *wide;
	size_t len = 0;
	FILE *out;

	err[0] = '\0';
	wide = json_widen_ints(json);
	tok = json_tokener_new();
	if (!wide || !tok) {
		free(wide);
		if (tok)
			json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, wide, -1);
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	/* QEMU takes one JSON value: only whitespace may follow it */
	rest = o ? wide + json_tokener_get_parse_end(tok) : "";
	json_tokener_free(tok);
	if (rest[strspn(rest, " \t\n\r")]) {
		json_object_put(o);
		free(wide);
		snprintf(err, QOPT_ERR_LEN, "Expecting at most one JSON value");
		return NULL;
	}
	free(wide);
	if (!o || !json_object_is_type(o, json_type_object)) {
		if (o)
			snprintf(err, QOPT_ERR_LEN, "Parameter '%s' does not accept value '%s'",
				 implied, json);
		else
			snprintf(err, QOPT_ERR_LEN, "JSON parse error, %s",
				 json_tokener_error_desc(jerr));
		json_object_put(o);
		return NULL;
	}
	json_object_object_foreach(o, key0, val0) {
		(void)val0;
		if (!strcmp(key0, implied))
			first = key0;
	}
	if (!first) {
		json_object_put(o);
		snprintf(err, QOPT_ERR_LEN, "Parameter '%s' is missing", implied);
		return NULL;
	}
	out = open_memstream(&buf, &len);
	if (!out) {
		json_object_put(o);
		return NULL;
	}
	for (int pass = 0; pass < 2 && !err[0]; pass++) {
		json_object_object_foreach(o, key, val) {
			enum json_type jt = json_object_get_type(val);
			char type = 0;

			if (!strcmp(key, implied) != !pass)
				continue;
			for (size_t i = 0; i < sizeof(json_props) / sizeof(json_props[0]); i++)
				if (!strcmp(json_props[i].key, key))
					type = json_props[i].type;
			if (type == 'p' && !pci)
				type = 'u';
			if (!type) {
				snprintf(err, QOPT_ERR_LEN, "Parameter '%s' is unexpected", key);
				break;
			}
			/* QEMU's visitor: unsigned and signed properties differ */
			if (type == 'u' && (jt != json_type_int || (json_object_get_int64(val) < 0 &&
								   !json_object_get_uint64(val)))) {
				snprintf(err, QOPT_ERR_LEN, "Parameter '%s' expects uint64", key);
				break;
			}
			if (type == 'i' && jt != json_type_int) {
				snprintf(err, QOPT_ERR_LEN, "Invalid parameter type for '%s', "
					 "expected: integer", key);
				break;
			}
			if (type == 'b' && jt != json_type_boolean) {
				snprintf(err, QOPT_ERR_LEN, "Invalid parameter type for '%s', "
					 "expected: boolean", key);
				break;
			}
			if ((type == 's' || type == 'p') && jt != json_type_string) {
				snprintf(err, QOPT_ERR_LEN, "Invalid parameter type for '%s', "
					 "expected: string", key);
				break;
			}
			if (type == 'a' && jt != json_type_array) {
				snprintf(err, QOPT_ERR_LEN, "Invalid parameter type for '%s', "
					 "expected: array", key);
				break;
			}
			if (type == 'a')
				continue;	/* host-nodes: nothing for memory */
			if (pass)
				fputc(',', out);
			if (pass) {
				put_escaped(out, key);
				fputc('=', out);
			}
			if (type == 'u')
				fprintf(out, "%" PRIu64, json_object_get_uint64(val));
			else if (type == 'i')
				fprintf(out, "%" PRId64, json_object_get_int64(val));
			else if (type == 'b')
				fputs(json_object_get_boolean(val) ? "on" : "off", out);
			else
				put_escaped(out, json_object_get_string(val));
		}
	}
	json_object_put(o);
	if (fclose(out) || err[0]) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The type or driver of an -object / -device, JSON or key=value; malloc()ed. */
static char *opt_type(const char *text, const char *implied)
{
	struct json_object *o, *t;
	char err[QOPT_ERR_LEN], *ret = NULL;
	struct qopts q;

	if (text[0] == '{') {
		o = json_tokener_parse(text);
		if (o && json_object_object_get_ex(o, implied, &t) &&
		    json_object_is_type(t, json_type_string))
			ret = strdup(json_object_get_string(t));
		json_object_put(o);
		return ret;
	}
	if (!qopts_parse(text, implied, &q, err) && qopts_get(&q, implied))
		ret = strdup(qopts_get(&q, implied));
	qopts_free(&q);
	return ret;
}

static bool memory_backend_type(const char *type)
{
	return !strcmp(type, "memory-backend-ram") || !strcmp(type, "memory-backend-memfd") ||
	       !strcmp(type, "memory-backend-file");
}

static bool memory_device_driver(const char *driver)
{
	return !strcmp(driver, "pc-dimm") || !strcmp(driver, "nvdimm") ||
	       !strcmp(driver, "virtio-pmem-pci") || !strcmp(driver, "virtio-mem-pci");
}

/*
 * -object: memory backends are parsed (JSON turned into key=value first),
 * other object types of QEMU are noted as not affecting memory.
 * Return: 0, or the exit status after a reported error.
 */
static int object_option(struct plan *p, const char *val)
{
	char err[QOPT_ERR_LEN], *type = opt_type(val, "qom-type"), *text = NULL;
	struct object_arg *o;
	int ret;

	if (type && !memory_backend_type(type) && qemu_object_known(type)) {
		ret = add_ignored(p, "-object", type);
		free(type);
		return ret;
	}
	free(type);
	if (val[0] == '{') {
		text = json_to_opts(val, "qom-type", false, err);
		if (!text && err[0])
			return usage_err("-object %s: %s", val, err);
		if (!text)
			goto nomem;
	}
	if (!GROW(p->objs, p->nr_objs)) {
		free(text);
		goto nomem;
	}
	o = &p->objs[p->nr_objs++];
	o->text = val;
	ret = backend_spec_parse(text ? text : val, &o->spec, err);
	free(text);
	if (ret == -ENOMEM)
		goto nomem;
	if (ret)
		return usage_err("-object %s: %s", val, err);
	/* plan describes; run allocates (MAP_NORESERVE, untouched) */
	o->spec.o.no_memory = !p->run;
	return 0;
nomem:
	p_err("cannot parse the options: %s", strerror(ENOMEM));
	return 1;
}

/* -device: the same for memory devices and QEMU's other device models */
static int device_option(struct plan *p, const char *val)
{
	char err[QOPT_ERR_LEN], *driver = opt_type(val, "driver"), *text = NULL;
	struct device_arg *d;
	int ret;

	if (driver && !memory_device_driver(driver) && qemu_device_known(driver)) {
		/* the bare virtio devices need a virtio bus the machine lacks */
		if (!strcmp(driver, "virtio-mem") || !strcmp(driver, "virtio-pmem"))
			ret = usage_err("-device %s: No 'virtio-bus' bus found for device '%s'",
					val, driver);
		else
			ret = add_listed(p, !strcmp(driver, "ivshmem-plain") ||
					 !strcmp(driver, "ivshmem-doorbell"), "-device", driver);
		free(driver);
		return ret;
	}
	if (val[0] == '{') {
		text = json_to_opts(val, "driver", driver && strstr(driver, "-pci"), err);
		if (!text && err[0]) {
			free(driver);
			return usage_err("-device %s: %s", val, err);
		}
		if (!text) {
			free(driver);
			goto nomem;
		}
	}
	free(driver);
	if (!GROW(p->devs, p->nr_devs)) {
		free(text);
		goto nomem;
	}
	d = &p->devs[p->nr_devs++];
	d->text = val;
	ret = device_spec_parse(text ? text : val, &d->spec, err);
	free(text);
	if (ret == -ENOMEM)
		goto nomem;
	if (ret)
		return usage_err("-device %s: %s", val, err);
	return 0;
nomem:
	p_err("cannot parse the options: %s", strerror(ENOMEM));
	return 1;
}

/* --- -smp, -name, -accel ------------------------------------------------- */

/*
 * -smp: QEMU 7.2's syntax and topology checks (machine_parse_smp_config(),
 * preferring cores as 6.2 and newer types do). It places CPUs, not
 * memory: noted as ignored.
 */
static int parse_smp(struct plan *p, const char *text)
{
	static const char *const keys[] = { "cpus", "maxcpus", "sockets", "dies", "clusters",
					    "cores", "threads" };
	uint64_t v[7] = { 0 }, prod;
	char err[QOPT_ERR_LEN];
	struct qopts q;
	int status = 0;

	if (qopts_parse(text, "cpus", &q, err)) {
		qopts_free(&q);
		return usage_err("-smp %s: %s", text, err);
	}
	for (size_t i = 0; i < q.nr && !status; i++) {
		size_t k;

		for (k = 0; k < 7 && strcmp(keys[k], q.opt[i].key); k++)
			;
		if (k == 7)
			status = usage_err("-smp %s: Invalid parameter '%s'", text, q.opt[i].key);
		else if (parse_qemu_u64(q.opt[i].value, &v[k]) || v[k] > UINT32_MAX)
			status = usage_err("-smp %s: Parameter 'smp.%s' expects integer", text,
					   keys[k]);
	}
	qopts_free(&q);
	if (status)
		return status;
	/* cpus maxcpus sockets dies clusters cores threads */
	v[3] = v[3] ?: 1;
	v[4] = v[4] ?: 1;
	if (!v[0] && !v[1]) {
		v[2] = v[2] ?: 1;
		v[5] = v[5] ?: 1;
		v[6] = v[6] ?: 1;
	} else {
		v[1] = v[1] ?: v[0];
		v[2] = v[2] ?: 1;
		v[6] = v[6] ?: 1;
		if (!v[5])
			v[5] = v[1] / (v[2] * v[3] * v[4] * v[6]) ?: 1;
	}
	prod = v[2] * v[3] * v[4] * v[5] * v[6];
	v[1] = v[1] ?: prod;
	v[0] = v[0] ?: v[1];
	if (prod != v[1])
		return usage_err("-smp %s: Invalid CPU topology: product of the hierarchy must "
				 "match maxcpus: sockets (%" PRIu64 ") * dies (%" PRIu64 ") * cores (%"
				 PRIu64 ") * threads (%" PRIu64 ") != maxcpus (%" PRIu64 ")", text,
				 v[2], v[3], v[5], v[6], v[1]);
	if (v[1] < v[0])
		return usage_err("-smp %s: Invalid CPU topology: maxcpus must be equal to or "
				 "greater than smp: sockets (%" PRIu64 ") * dies (%" PRIu64 ") * "
				 "cores (%" PRIu64 ") * threads (%" PRIu64 ") == maxcpus (%" PRIu64
				 ") < smp_cpus (%" PRIu64 ")", text, v[2], v[3], v[5], v[6], v[1],
				 v[0]);
	return add_ignored(p, "-smp", NULL);
}

/* -name [guest=]NAME[,process=P][,debug-threads=on|off]: kept for reports */
static int parse_name(struct plan *p, const char *text)
{
	char err[QOPT_ERR_LEN];
	struct qopts q;
	int status = 0;
	bool b;

	if (qopts_parse(text, "guest", &q, err)) {
		qopts_free(&q);
		return usage_err("-name %s: %s", text, err);
	}
	for (size_t i = 0; i < q.nr && !status; i++) {
		const char *k = q.opt[i].key;

		if (!strcmp(k, "debug-threads") && qopt_bool(k, q.opt[i].value, &b, err))
			status = usage_err("-name %s: %s", text, err);
		else if (strcmp(k, "guest") && strcmp(k, "process") && strcmp(k, "debug-threads"))
			status = usage_err("-name %s: Invalid parameter '%s'", text, k);
	}
	if (!status && qopts_get(&q, "guest")) {
		free(p->name_buf);
		p->name_buf = strdup(qopts_get(&q, "guest"));
		p->name = p->name_buf;
	}
	qopts_free(&q);
	return status ?: add_ignored(p, "-name", NULL);
}

/* -accel [accel=]kvm|tcg[,prop=value...]: the accelerator, as -M accel= */
static int parse_accel(struct plan *p, const char *text)
{
	char err[QOPT_ERR_LEN];
	struct qopts q;
	const char *a;
	int status;

	if (qopts_parse(text, "accel", &q, err)) {
		qopts_free(&q);
		return usage_err("-accel %s: %s", text, err);
	}
	a = qopts_get(&q, "accel");
	status = a ? set_accel(p, "-accel", text, a) :
		     usage_err("-accel %s: Parameter 'accel' is missing", text);
	qopts_free(&q);
	p->accel_opt = text;
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
	for (size_t i = 0; i < p->nr_ignored; i++)
		free(p->ignored[i]);
	free(p->ignored);
	for (size_t i = 0; i < p->nr_unmodelled; i++)
		free(p->unmodelled[i]);
	free(p->unmodelled);
	for (size_t i = 0; i < p->nr_numa; i++)
		free((char *)p->numa[i].memdev);
	free(p->numa);
	free(p->numa_texts);
	free(p->ram_opts);
	free(p->name_buf);
	free(p->ram_backend_buf);
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
	A_CPU, A_DIRTY_LOG, A_FULL, A_VERIFY, A_KERNEL, A_MODULES, A_NO_VM, A_STRICT, A_SVG,
	A_NUMA, A_SMP, A_NAME, A_ACCEL, A_ENABLE_KVM, A_NO_ACPI,
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
		{ "strict", false, A_STRICT, FOR_BOTH, true },
		{ "svg", false, A_SVG, FOR_PLAN, false },
		{ "numa", true, A_NUMA, FOR_BOTH, false },
		{ "smp", true, A_SMP, FOR_BOTH, false },
		{ "name", true, A_NAME, FOR_BOTH, false },
		{ "accel", true, A_ACCEL, FOR_BOTH, false },
		{ "enable-kvm", true, A_ENABLE_KVM, FOR_BOTH, true },
		{ "no-acpi", true, A_NO_ACPI, FOR_BOTH, true },
	};
	int cmd = p->run ? FOR_RUN : FOR_PLAN;
	int status;

	p->cpu = -1;
	p->kvm = true;
	/* --strict applies to every option, also those before it */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--strict"))
			p->strict = true;

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
		if (t == sizeof(table) / sizeof(table[0])) {
			int kind = arg[1] != '-' ? qemu_option_kind(arg + 1) : -1;
			int status;
			bool um;

			/* QEMU's other options: their argument is taken, they are noted */
			if (kind < 0)
				return usage_err("unknown option: %s", arg);
			if (kind && i + 1 >= argc)
				return usage_err("missing argument of option: %s", arg);
			i += kind;
			um = unmodelled_option(arg, kind ? argv[i] : NULL);
			status = add_listed(p, um, arg, um && !strcmp(arg, "-drive") ? "if=pflash" :
					    NULL);
			if (status)
				return status;
			continue;
		}
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
		case A_OBJECT:
		case A_DEVICE:
		case A_SMP:
		case A_NAME:
		case A_ACCEL: {
			int status = table[t].kind == A_OBJECT ? object_option(p, val) :
				     table[t].kind == A_DEVICE ? device_option(p, val) :
				     table[t].kind == A_SMP ? parse_smp(p, val) :
				     table[t].kind == A_NAME ? parse_name(p, val) :
				     parse_accel(p, val);

			if (status)
				return status;
			break;
		}
		case A_NUMA:
			if (!GROW(p->numa_texts, p->nr_numa_texts))
				goto nomem;
			p->numa_texts[p->nr_numa_texts++] = val;
			break;
		case A_ENABLE_KVM:
			p->kvm = true;
			p->accel_opt = "-enable-kvm";
			break;
		case A_NO_ACPI:
			p->no_acpi = true;
			break;
		case A_STRICT:
			break;
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
		case A_SVG:
			if (!*val)
				return usage_err("%s: empty argument", name);
			*(table[t].kind == A_SCRIPT ? &p->script : &p->svg) = val;
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
	status = parse_machines(p);
	for (size_t k = 0; k < p->nr_numa_texts && !status; k++)
		status = parse_numa(p, p->numa_texts[k]);
	if (!status && p->nr_ignored && !p->quiet_ignored) {
		/* one line: what was given but changes nothing the plan models */
		fprintf(stderr, "memslot: %s: note: not affecting memory, ignored:",
			get_cmd_name() ?: (p->run ? "run" : "plan"));
		for (size_t k = 0; k < p->nr_ignored; k++)
			fprintf(stderr, " %s", p->ignored[k]);
		fputc('\n', stderr);
	}
	if (!status && p->nr_unmodelled) {
		/* and what can change memory in ways the plan does not follow */
		fprintf(stderr, "memslot: %s: warning: not modelled, memory may differ from "
			"QEMU's:", get_cmd_name() ?: (p->run ? "run" : "plan"));
		for (size_t k = 0; k < p->nr_unmodelled; k++)
			fprintf(stderr, " %s", p->unmodelled[k]);
		fputc('\n', stderr);
	}
	return status;

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
