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
		json_object_object_add(o, "vm", json_u64(v->head.vm));
		json_object_object_add(o, "generation", gens);
		json_object_object_add(o, "nr_memslot_pages", json_u64(v->end.nr_memslot_pages));
		json_object_object_add(o, "memslots", slots);
		json_object_object_add(o, "total_slots", json_u64(v->nr));
		json_object_object_add(o, "total_bytes", json_u64(vm_bytes(v)));
		json_object_object_add(o, "slots_per_as", per_as);
		json_object_object_add(o, "busiest_as", json_object_new_int64(u.busiest));
		if (max_slots) {
			/* both per address space, see struct as_use */
			json_object_object_add(o, "max_slots", json_u64(max_slots));
			json_object_object_add(o, "free_slots", json_u64(free_slots(&u, max_slots)));
		}
		json_object_array_add(vms, o);
	}
	json_object_object_add(doc, "vms", vms);
	json_object_object_add(doc, "lost", json_u64(c->lost));
	json_object_object_add(doc, "elapsed_ns", json_u64(c->elapsed_ns));
	return doc;
}

static void census_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot census [-p PID] [-j]\n"
		"\n"
		"Print the KVM memslot tables of running VMs, read from the kernel.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID   only this process\n"
		"  -j, --json      one JSON document\n"
		"  -h, --help      print this help and exit\n");
}

int do_census(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL, 'p' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct census *c;
	struct census_prog *cp;
	uint32_t pid = 0;
	uint32_t max_slots;
	int opt, err, status = 1;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_pid(optarg, &pid))
				return usage_err("invalid process id: %s", optarg);
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			census_usage(stdout);
			return 0;
		default:
			return getopt_usage_err(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument: %s", argv[optind]);
	if (pid_missing(pid))
		return 1;
	if (bpf_check_privileges())
		return 1;
	bpf_setup_libbpf();

	cp = census_prog_open(pid, &err);
	if (!cp) {
		p_err("cannot run the census: %s (run with -d for details)", strerror(-err));
		return 1;
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
	max_slots = nr_memslots_cap();
	if (json_output) {
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
	census_prog_close(cp);
	return status;
}
