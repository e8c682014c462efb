// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot census: the memslot tables of the KVM VMs of running processes,
 * read from the kernel by the census loader (census_prog.h). The backing of
 * each slot is the /proc/PID/maps mapping that holds its host address.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "census_prog.h"
#include "tool.h"
#include "svg.h"
#include "vmsel.h"

/* The mapping of /proc/@pid/maps holding @hva: "memfd:NAME", a path, or "anonymous". */
static char *backing_of(uint32_t pid, uint64_t hva)
{
	char path[64], line[4096], *res = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		int off = 0;
		char *name, *nl;

		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %n", &lo, &hi, &off) < 2 || !off)
			continue;
		if (hva < lo || hva >= hi)
			continue;
		name = line + off;
		nl = strchr(name, '\n');
		if (nl)
			*nl = 0;
		if (!strncmp(name, "/memfd:", 7)) {
			char *del = strstr(name, " (deleted)");

			if (del)
				*del = 0;
			res = strdup(name + 1);
		} else {
			res = strdup(name[0] ? name : "anonymous");
		}
		break;
	}
	fclose(f);
	return res;
}

static uint32_t nr_memslots_cap(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return 0;
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	close(fd);
	return r > 0 ? (uint32_t)r : 0;
}

static uint64_t vm_bytes(const struct census_vm *v)
{
	uint64_t b = 0;

	for (size_t i = 0; i < v->nr; i++)
		b += v->slots[i].size;
	return b;
}

/*
 * KVM_CAP_NR_MEMSLOTS bounds each address space on its own: a slot is
 * (as_id << 16 | id) with id below the limit in every as_id (x86 with SMM
 * has two, KVM_ADDRESS_SPACE_NUM). What a VM has left is the room in its
 * busiest address space, as QEMU 8.2+ counts it (kvm_get_free_memslots():
 * the limit minus the largest used count of its address spaces).
 */
struct as_use {
	unsigned int nr_as;		/* address spaces walked, at least 1 */
	size_t slots[MS_BPF_MAX_AS];
	unsigned int busiest;		/* the lowest as_id with the most slots */
};

static void as_use_of(const struct census_vm *v, struct as_use *u)
{
	memset(u, 0, sizeof(*u));
	u->nr_as = v->end.nr_as < MS_BPF_MAX_AS ? v->end.nr_as : MS_BPF_MAX_AS;
	for (size_t i = 0; i < v->nr; i++) {
		uint16_t as = v->slots[i].as_id;

		if (as >= MS_BPF_MAX_AS)
			continue;
		u->slots[as]++;
		if (as >= u->nr_as)
			u->nr_as = as + 1u;
	}
	if (!u->nr_as)
		u->nr_as = 1;
	for (unsigned int a = 1; a < u->nr_as; a++)
		if (u->slots[a] > u->slots[u->busiest])
			u->busiest = a;
}

static uint64_t free_slots(const struct as_use *u, uint32_t max_slots)
{
	size_t used = u->slots[u->busiest];

	return used < max_slots ? max_slots - used : 0;
}

static int census_print(const struct census *c, uint32_t max_slots)
{
	for (size_t i = 0; i < c->nr_vms; i++) {
		const struct census_vm *v = &c->vms[i];
		char fbuf[24];

		printf("%spid %u %s fd %u vm %#" PRIx64 ": generation %" PRIu64
		       ", nr_memslot_pages %" PRIu64 "\n", i ? "\n" : "", v->head.pid,
		       v->head.comm, v->head.fd, v->head.vm, v->end.generation[0],
		       v->end.nr_memslot_pages);
		printf("slot  as  gpa                 size                flags  region\n");
		for (size_t j = 0; j < v->nr; j++) {
			const struct ms_census_slot *s = &v->slots[j];
			char *b = backing_of(s->pid, s->hva);

			printf("%4u  %2u  0x%016" PRIx64 "  0x%016" PRIx64 "  %-5s  %s\n", s->id,
			       s->as_id, s->gpa, s->size,
			       memslot_flags_str(s->flags, fbuf, sizeof(fbuf)), b ? b : "?");
			free(b);
		}
		printf("total: %zu slots, 0x%" PRIx64 " bytes", v->nr, vm_bytes(v));
		if (max_slots) {
			struct as_use u;

			as_use_of(v, &u);
			printf("; free %" PRIu64 " of %u per address space (KVM_CAP_NR_MEMSLOTS; "
			       "busiest: as %u, %zu slots)", free_slots(&u, max_slots), max_slots,
			       u.busiest, u.slots[u.busiest]);
		}
		printf("\n");
	}
	if (!c->nr_vms)
		printf("no KVM VMs found\n");
	return 0;
}

static struct json_object *census_json(const struct census *c, uint32_t max_slots)
{
	struct json_object *doc = json_object_new_object(), *vms = json_object_new_array();

	if (!doc || !vms) {
		json_object_put(doc);
		json_object_put(vms);
		return NULL;
	}
	for (size_t i = 0; i < c->nr_vms; i++) {
		const struct census_vm *v = &c->vms[i];
		struct json_object *o = json_object_new_object(), *slots = json_object_new_array();
		struct json_object *gens = json_object_new_array();
		struct json_object *per_as = json_object_new_array();
		struct as_use u;

		as_use_of(v, &u);
		for (unsigned int a = 0; a < v->end.nr_as && a < MS_BPF_MAX_AS; a++)
			json_object_array_add(gens, json_u64(v->end.generation[a]));
		for (unsigned int a = 0; a < u.nr_as; a++)
			json_object_array_add(per_as, json_u64(u.slots[a]));
		for (size_t j = 0; j < v->nr; j++) {
			const struct ms_census_slot *s = &v->slots[j];
			struct json_object *r = json_object_new_object();
			char *b = backing_of(s->pid, s->hva);

			/* the keys of memslot_json(), plus the host address */
			json_object_object_add(r, "slot", json_object_new_int64(s->id));
			json_object_object_add(r, "as", json_object_new_int(s->as_id));
			json_object_object_add(r, "gpa", json_u64(s->gpa));
			json_object_object_add(r, "size", json_u64(s->size));
			json_object_object_add(r, "flags", json_object_new_int64(s->flags));
			json_object_object_add(r, "region", json_str_or_null(b));
			json_object_object_add(r, "hva", json_u64(s->hva));
			json_object_array_add(slots, r);
			free(b);
		}
		json_object_object_add(o, "pid", json_object_new_int64(v->head.pid));
		json_object_object_add(o, "comm", json_object_new_string(v->head.comm));
		json_object_object_add(o, "fd", json_object_new_int64(v->head.fd));
		json_object_object_add(o, "vm", vm_id_json(v->head.vm));
		json_object_object_add(o, "generation", gens);
		json_object_object_add(o, "nr_memslot_pages", json_u64(v->end.nr_memslot_pages));
		json_object_object_add(o, "memslots", slots);
		json_object_object_add(o, "total_slots", json_u64(v->nr));
		json_object_object_add(o, "total_bytes", json_u64(vm_bytes(v)));
		json_object_object_add(o, "slots_per_as", per_as);
		json_object_object_add(o, "busiest_as", json_object_new_int64(u.busiest));
		/* both per address space, see struct as_use; null if /dev/kvm does not say */
		json_object_object_add(o, "max_slots", max_slots ? json_u64(max_slots) : NULL);
		json_object_object_add(o, "free_slots", max_slots ?
				       json_u64(free_slots(&u, max_slots)) : NULL);
		json_object_array_add(vms, o);
	}
	json_object_object_add(doc, "vms", vms);
	json_object_object_add(doc, "lost", json_u64(c->lost));
	json_object_object_add(doc, "elapsed_ns", json_u64(c->elapsed_ns));
	return doc;
}

/*
 * --prometheus: the Prometheus text exposition format (version 0.0.4), as
 * node_exporter's textfile collector reads it: per metric family one HELP
 * and one TYPE line, then all its samples together; label values are UTF-8
 * with \, " and newline escaped; no two samples of a family share a label
 * set; the text ends with a newline.
 */

/* Length of the valid UTF-8 sequence at @s (RFC 3629), 0 if there is none. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned int n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
			 s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

	for (unsigned int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates and code points above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

static void prom_label_value(FILE *f, const char *text)
{
	for (const unsigned char *s = (const unsigned char *)text; *s; ) {
		size_t n = utf8_seq(s);

		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (n)
			fwrite(s, 1, n, f);
		else
			fputs("\xef\xbf\xbd", f);	/* U+FFFD for the byte */
		s += n ?: 1;
	}
}

struct prom_vm {
	const struct census_vm *v;
	char name[VMSEL_NAME_MAX];
	struct as_use u;
};

enum prom_metric { P_USED, P_FREE, P_LIMIT, P_BYTES, P_VHOST, P_NR };

static const char *const prom_names[P_NR][2] = {
	[P_USED] = { "memslot_slots_used", "KVM memslots in use in the address space." },
	[P_FREE] = { "memslot_slots_free",
		     "KVM memslots left in the address space (limit minus used)." },
	[P_LIMIT] = { "memslot_slots_limit",
		      "KVM memslots an address space can hold (KVM_CAP_NR_MEMSLOTS)." },
	[P_BYTES] = { "memslot_bytes_mapped",
		      "Guest memory bytes the address space's memslots map." },
	[P_VHOST] = { "memslot_vhost_limit",
		      "Memory regions vhost takes per VM, as given by --vhost-limit." },
};

static void prom_labels(FILE *f, const struct prom_vm *p)
{
	fprintf(f, "{pid=\"%" PRIu32 "\",name=\"", p->v->head.pid);
	prom_label_value(f, p->name);
	fprintf(f, "\",vm=\"0x%" PRIx64 "\"", p->v->head.vm);
}

static uint64_t as_bytes(const struct census_vm *v, unsigned int as)
{
	uint64_t b = 0;

	for (size_t i = 0; i < v->nr; i++)
		if (v->slots[i].as_id == as)
			b += v->slots[i].size;
	return b;
}

static void prom_write(FILE *f, const struct prom_vm *pv, size_t nr, uint32_t max_slots,
		       uint64_t vhost_limit)
{
	for (int m = 0; m < P_NR; m++) {
		if ((m == P_FREE || m == P_LIMIT) && !max_slots)
			continue;
		if (m == P_VHOST && !vhost_limit)
			continue;
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", prom_names[m][0], prom_names[m][1],
			prom_names[m][0]);
		for (size_t i = 0; i < nr; i++) {
			const struct prom_vm *p = &pv[i];

			if (m == P_VHOST) {
				fprintf(f, "%s", prom_names[m][0]);
				prom_labels(f, p);
				fprintf(f, "} %" PRIu64 "\n", vhost_limit);
				continue;
			}
			for (unsigned int a = 0; a < p->u.nr_as; a++) {
				uint64_t used = p->u.slots[a], val;

				val = m == P_USED ? used : m == P_LIMIT ? max_slots :
				      m == P_FREE ? (used < max_slots ? max_slots - used : 0) :
				      as_bytes(p->v, a);
				fprintf(f, "%s", prom_names[m][0]);
				prom_labels(f, p);
				fprintf(f, ",as_id=\"%u\"} %" PRIu64 "\n", a, val);
			}
		}
	}
}

/* The whole text first: an error leaves nothing half-written on stdout. */
static int census_prometheus(const struct census *c, uint32_t max_slots, uint64_t vhost_limit)
{
	struct prom_vm *pv = calloc(c->nr_vms ?: 1, sizeof(*pv));
	size_t nr = 0, len = 0;
	char *text = NULL;
	FILE *f;
	int status = 1;

	if (!pv)
		goto nomem;
	for (size_t i = 0; i < c->nr_vms; i++) {
		const struct census_vm *v = &c->vms[i];
		bool dup = false;

		/* a VM open in several fds of one process is one series */
		for (size_t j = 0; j < nr && !dup; j++)
			dup = pv[j].v->head.pid == v->head.pid && pv[j].v->head.vm == v->head.vm;
		if (dup)
			continue;
		pv[nr].v = v;
		if (!vmsel_name_of(v->head.pid, pv[nr].name, sizeof(pv[nr].name))[0])
			snprintf(pv[nr].name, sizeof(pv[nr].name), "%s", v->head.comm);
		as_use_of(v, &pv[nr].u);
		nr++;
	}
	f = open_memstream(&text, &len);
	if (!f)
		goto nomem;
	prom_write(f, pv, nr, max_slots, vhost_limit);
	if (fclose(f))
		goto nomem;
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout)) {
		p_err("cannot write the metrics: %s", strerror(errno));
		goto out;
	}
	status = 0;
	goto out;
nomem:
	p_err("cannot format the metrics: %s", strerror(ENOMEM));
out:
	free(text);
	free(pv);
	return status;
}

static void census_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot census [-p PID | --qmp SOCKET | -n NAME]... [-j]\n"
		"       memslot census [-p PID | --qmp SOCKET | -n NAME]... --prometheus\n"
		"                      [--vhost-limit N]\n"
		"All forms take --svg FILE (the memslot tables drawn as a memory map).\n"
		"\n"
		"Print the KVM memslot tables of running VMs, read from the kernel.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID        only this process\n"
		"      --qmp SOCKET     only the QEMU listening on this QMP unix socket\n"
		"  -n, --name NAME      only the QEMUs of -name guest=NAME (else the\n"
		"                       processes named NAME)\n"
		"      --prometheus     metrics in the Prometheus text format\n"
		"      --vhost-limit N  with --prometheus: also memslot_vhost_limit N per VM\n"
		"      --svg FILE       also draw the memslot tables to FILE (SVG)\n"
		"  -j, --json           one JSON document\n"
		"  -h, --help           print this help and exit\n");
}

int do_census(int argc, char **argv)
{
	enum { OPT_PROM = 0x200, OPT_VHOST, OPT_SVG };
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL, 'p' },
		{ "qmp",	required_argument,	NULL, VMSEL_OPT_QMP },
		{ "name",	required_argument,	NULL, 'n' },
		{ "prometheus",	no_argument,		NULL, OPT_PROM },
		{ "vhost-limit", required_argument,	NULL, OPT_VHOST },
		{ "svg",	required_argument,	NULL, OPT_SVG },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct census *c;
	struct census_prog *cp = NULL;
	struct vmsel sel = { 0 };
	uint64_t vhost_limit = 0;
	const char *svg = NULL;
	bool prometheus = false;
	uint32_t max_slots, *pids = NULL;
	int opt, err, status = 1;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:n:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 'n':
		case VMSEL_OPT_QMP:
			status = vmsel_parse(&sel, opt, optarg);
			if (status)
				goto out;
			status = 1;
			break;
		case OPT_PROM:
			prometheus = true;
			break;
		case OPT_VHOST:
			if (parse_u64(optarg, &vhost_limit) || !vhost_limit) {
				status = usage_err("invalid vhost limit: %s", optarg);
				goto out;
			}
			break;
		case OPT_SVG:
			if (!*optarg) {
				status = usage_err("%s: empty argument", "--svg");
				goto out;
			}
			svg = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			census_usage(stdout);
			status = 0;
			goto out;
		default:
			status = getopt_usage_err(opt, argv);
			goto out;
		}
	}
	if (optind < argc) {
		status = usage_err("unexpected argument: %s", argv[optind]);
		goto out;
	}
	if (prometheus && json_output) {
		status = usage_err("options exclude each other: %s", "-j, --prometheus");
		goto out;
	}
	if (vhost_limit && !prometheus) {
		status = usage_err("option needs --prometheus: %s", "--vhost-limit");
		goto out;
	}
	if (vmsel_resolve(&sel))
		goto out;
	if (bpf_check_privileges())
		goto out;
	bpf_setup_libbpf();

	/* one process is filtered in the BPF program, several as records arrive */
	cp = census_prog_open(sel.nr == 1 ? sel.procs[0].pid : 0, &err);
	if (!cp) {
		p_err("cannot run the census: %s (run with -d for details)", strerror(-err));
		goto out;
	}
	if (sel.nr > 1) {
		pids = calloc(sel.nr, sizeof(*pids));
		for (size_t i = 0; pids && i < sel.nr; i++)
			pids[i] = sel.procs[i].pid;
		if (!pids || census_prog_set_pids(cp, pids, sel.nr)) {
			p_err("cannot run the census: %s", strerror(ENOMEM));
			goto out;
		}
	}
	c = census_prog_run(cp);
	if (!c && errno == EAGAIN) {
		p_err("memslots changed during %d census passes, or records were lost: %" PRIu64,
		      CENSUS_TRIES, census_prog_last(cp)->lost);
		goto out;
	}
	if (!c) {
		p_err("cannot run the census: %s (run with -d for details)", strerror(errno));
		goto out;
	}
	if (svg) {
		struct ms_error e = { 0 };
		int r = svg_write_census(svg, c, 0, 0, &e);

		if (r) {
			p_err("%s", error_text(&e, -r));
			goto out;
		}
	}
	max_slots = nr_memslots_cap();
	if (prometheus) {
		status = census_prometheus(c, max_slots, vhost_limit);
	} else if (json_output) {
		struct json_object *doc = census_json(c, max_slots);

		if (!doc) {
			p_err("cannot build JSON: %s", strerror(ENOMEM));
			goto out;
		}
		status = json_print(doc);
	} else {
		status = census_print(c, max_slots);
	}
out:
	free(pids);
	census_prog_close(cp);
	vmsel_free(&sel);
	return status;
}
