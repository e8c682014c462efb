// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot census: the memslot tables of the KVM VMs of running processes,
 * read from the kernel with bpf/census.bpf.c (an iter/task_file iterator).
 *
 * The iterator emits a VM record, the VM's slots and a VM end record into
 * a ring buffer; the end record repeats the generations, and a VM whose
 * generation changed during the walk (a memslot update raced it) is read
 * again, up to CENSUS_TRIES times. The backing of each slot is the
 * /proc/PID/maps mapping that holds its host address.
 *
 * memslot verify compares the census of one process with the memslot
 * table a plan predicted ("memslots" of `memslot plan -j`).
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

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/kvm.h>

#include "memslot.h"
#include "memslot_bpf.h"
#include "census.skel.h"

#define CENSUS_TRIES	3

struct cvm {
	struct ms_census_vm head, end;
	struct ms_census_slot *slots;
	size_t nr, alloc;
	bool done;
};

struct census {
	struct cvm *vms;
	size_t nr_vms;
	int err;
};

static void census_free(struct census *c)
{
	for (size_t i = 0; i < c->nr_vms; i++)
		free(c->vms[i].slots);
	free(c->vms);
	c->vms = NULL;
	c->nr_vms = 0;
}

static struct cvm *cvm_find(struct census *c, uint32_t pid, uint64_t vm)
{
	/* the record of a VM comes last: search backwards */
	for (size_t i = c->nr_vms; i-- > 0;)
		if (c->vms[i].head.pid == pid && c->vms[i].head.vm == vm && !c->vms[i].done)
			return &c->vms[i];
	return NULL;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct census *c = ctx;
	const struct ms_census_vm *v = data;
	const struct ms_census_slot *s = data;
	struct cvm *cv;

	if (len < sizeof(uint32_t))
		return 0;
	switch (v->kind) {
	case MS_CENSUS_VM:
		if (len < sizeof(*v))
			return 0;
		cv = realloc(c->vms, (c->nr_vms + 1) * sizeof(*cv));
		if (!cv)
			return c->err = -ENOMEM;
		c->vms = cv;
		cv = &c->vms[c->nr_vms++];
		memset(cv, 0, sizeof(*cv));
		cv->head = *v;
		break;
	case MS_CENSUS_VM_END:
		cv = len >= sizeof(*v) ? cvm_find(c, v->pid, v->vm) : NULL;
		if (cv) {
			cv->end = *v;
			cv->done = true;
		}
		break;
	case MS_CENSUS_SLOT:
		cv = len >= sizeof(*s) ? cvm_find(c, s->pid, s->vm) : NULL;
		if (!cv)
			return 0;
		if (cv->nr == cv->alloc) {
			size_t n = cv->alloc ? cv->alloc * 2 : 64;
			struct ms_census_slot *p = realloc(cv->slots, n * sizeof(*p));

			if (!p)
				return c->err = -ENOMEM;
			cv->slots = p;
			cv->alloc = n;
		}
		cv->slots[cv->nr++] = *s;
		break;
	}
	return 0;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct ms_census_slot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Did the walk of @v see one consistent memslot set? */
static bool cvm_consistent(const struct cvm *v)
{
	if (!v->done || v->end.truncated || v->nr != v->end.nr_slots)
		return false;
	/*
	 * Bit 63 of the generation (KVM_MEMSLOT_GEN_UPDATE_IN_PROGRESS) marks
	 * a set being replaced: its slots may carry KVM_MEMSLOT_INVALID.
	 */
	for (unsigned int a = 0; a < v->head.nr_as && a < MS_BPF_MAX_AS; a++)
		if (v->head.generation[a] != v->end.generation[a] ||
		    v->end.generation[a] >> 63)
			return false;
	return true;
}

/* One pass of the iterator; @lost is the lost counter afterwards. */
static int census_pass(struct census_bpf *skel, struct ring_buffer *rb, struct census *c,
		       uint64_t *lost)
{
	uint32_t zero = 0;
	char buf[256];
	ssize_t n;
	int fd;

	fd = bpf_iter_create(bpf_link__fd(skel->links.census));
	if (fd < 0)
		return -errno;
	/* the program writes nothing to the seq_file: read() runs it to the end */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	if (n < 0)
		return -errno;
	if (ring_buffer__consume(rb) < 0 && !c->err)
		return -EIO;
	if (c->err)
		return c->err;
	*lost = 0;
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, lost);
	for (size_t i = 0; i < c->nr_vms; i++)
		if (c->vms[i].nr)	/* qsort() wants a non-NULL base */
			qsort(c->vms[i].slots, c->vms[i].nr, sizeof(*c->vms[i].slots), slot_cmp);
	return 0;
}

/*
 * Run the census of @pid (0: all) into @c. @elapsed_ns is the time of the
 * last pass (iterator plus ring buffer). Return: 0 or a negative errno
 * (-EAGAIN: no consistent pass in CENSUS_TRIES).
 */
static int census_run(uint32_t pid, struct census *c, uint64_t *elapsed_ns, uint64_t *lost)
{
	struct ring_buffer *rb = NULL;
	struct census_bpf *skel;
	struct timespec t0, t1;
	int err;

	skel = census_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->targ_tgid = pid;
	err = census_bpf__load(skel);
	if (!err)
		err = census_bpf__attach(skel);
	if (!err) {
		rb = ring_buffer__new(bpf_map__fd(skel->maps.records), on_record, c, NULL);
		if (!rb)
			err = -errno;
	}
	for (int tries = 0; !err && tries < CENSUS_TRIES; tries++) {
		bool ok = true;

		census_free(c);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = census_pass(skel, rb, c, lost);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		*elapsed_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
			      (uint64_t)(t1.tv_nsec - t0.tv_nsec);
		if (err)
			break;
		for (size_t i = 0; i < c->nr_vms; i++)
			ok = ok && cvm_consistent(&c->vms[i]);
		if (ok && !*lost)
			break;
		err = tries + 1 < CENSUS_TRIES ? 0 : -EAGAIN;
	}
	ring_buffer__free(rb);
	census_bpf__destroy(skel);
	return err;
}

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

static uint64_t cvm_bytes(const struct cvm *v)
{
	uint64_t b = 0;

	for (size_t i = 0; i < v->nr; i++)
		b += v->slots[i].size;
	return b;
}

static int census_print(const struct census *c, uint32_t max_slots)
{
	for (size_t i = 0; i < c->nr_vms; i++) {
		const struct cvm *v = &c->vms[i];
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
		printf("total: %zu slots, 0x%" PRIx64 " bytes", v->nr, cvm_bytes(v));
		if (max_slots)
			printf("; free %" PRIu64 " of %u (KVM_CAP_NR_MEMSLOTS)",
			       v->nr <= max_slots ? max_slots - v->nr : 0, max_slots);
		printf("\n");
	}
	if (!c->nr_vms)
		printf("no KVM VMs found\n");
	return 0;
}

static struct json_object *census_json(const struct census *c, uint32_t max_slots,
				       uint64_t elapsed_ns, uint64_t lost)
{
	struct json_object *doc = json_object_new_object(), *vms = json_object_new_array();

	if (!doc || !vms) {
		json_object_put(doc);
		json_object_put(vms);
		return NULL;
	}
	for (size_t i = 0; i < c->nr_vms; i++) {
		const struct cvm *v = &c->vms[i];
		struct json_object *o = json_object_new_object(), *slots = json_object_new_array();
		struct json_object *gens = json_object_new_array();

		for (unsigned int a = 0; a < v->end.nr_as && a < MS_BPF_MAX_AS; a++)
			json_object_array_add(gens, json_u64(v->end.generation[a]));
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
		json_object_object_add(o, "total_bytes", json_u64(cvm_bytes(v)));
		if (max_slots) {
			json_object_object_add(o, "max_slots", json_u64(max_slots));
			json_object_object_add(o, "free_slots",
					       json_u64(v->nr <= max_slots ? max_slots - v->nr : 0));
		}
		json_object_array_add(vms, o);
	}
	json_object_object_add(doc, "vms", vms);
	json_object_object_add(doc, "lost", json_u64(lost));
	json_object_object_add(doc, "elapsed_ns", json_u64(elapsed_ns));
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
	struct census c = { 0 };
	uint64_t pid = 0, elapsed = 0, lost = 0;
	uint32_t max_slots;
	int opt, err, status = 1;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, &pid) || !pid || pid > INT32_MAX)
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
	if (pid && kill((pid_t)pid, 0) && errno == ESRCH) {
		p_err("no such process: %" PRIu64, pid);
		return 1;
	}
	if (bpf_check_privileges())
		return 1;
	bpf_setup_libbpf();

	err = census_run((uint32_t)pid, &c, &elapsed, &lost);
	if (err == -EAGAIN) {
		p_err("memslots changed during %d census passes, or records were lost: %" PRIu64,
		      CENSUS_TRIES, lost);
		goto out;
	}
	if (err) {
		p_err("cannot run the census: %s (run with -d for details)", strerror(-err));
		goto out;
	}
	max_slots = nr_memslots_cap();
	if (json_output) {
		struct json_object *doc = census_json(&c, max_slots, elapsed, lost);

		if (!doc) {
			p_err("cannot build JSON: %s", strerror(ENOMEM));
			goto out;
		}
		status = json_print(doc);
	} else {
		status = census_print(&c, max_slots);
	}
out:
	census_free(&c);
	return status;
}

/* Find @key in @doc: the document itself if it is an array, else its member. */
static struct json_object *expected_rows(struct json_object *doc)
{
	struct json_object *rows;

	if (json_object_is_type(doc, json_type_array))
		return doc;
	if (json_object_object_get_ex(doc, "memslots", &rows) &&
	    json_object_is_type(rows, json_type_array))
		return rows;
	return NULL;
}

static uint64_t row_u64(struct json_object *row, const char *key, bool *ok)
{
	struct json_object *v;

	if (!json_object_object_get_ex(row, key, &v) || !json_object_is_type(v, json_type_int)) {
		*ok = false;
		return 0;
	}
	return json_object_get_uint64(v);
}

static void verify_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot verify -p PID --expect FILE [-j]\n"
		"\n"
		"Compare the KVM memslots of a running VM with the memslot table of\n"
		"`memslot plan -j` (its \"memslots\" array, or a bare array).\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID      the process of the VM\n"
		"  -e, --expect FILE  JSON with the expected table\n"
		"  -j, --json         one JSON document\n"
		"  -h, --help         print this help and exit\n");
}

int do_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL, 'p' },
		{ "expect",	required_argument,	NULL, 'e' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *doc = NULL, *rows, *diffs = NULL;
	struct census c = { 0 };
	uint64_t pid = 0, elapsed = 0, lost = 0;
	const char *expect = NULL;
	size_t nr_exp, matched = 0, nr_diff = 0;
	const struct cvm *v;
	bool *seen = NULL;
	int opt, err, status = 1;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:e:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, &pid) || !pid || pid > INT32_MAX)
				return usage_err("invalid process id: %s", optarg);
			break;
		case 'e':
			expect = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			verify_usage(stdout);
			return 0;
		default:
			return getopt_usage_err(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument: %s", argv[optind]);
	if (!pid || !expect)
		return usage_err("missing option: %s", !pid ? "-p" : "--expect");
	doc = json_object_from_file(expect);
	rows = doc ? expected_rows(doc) : NULL;
	if (!rows) {
		p_err("no memslot table in JSON file: %s", expect);
		goto out;
	}
	if (bpf_check_privileges())
		goto out;
	bpf_setup_libbpf();
	err = census_run((uint32_t)pid, &c, &elapsed, &lost);
	if (err) {
		p_err("cannot run the census: %s", err == -EAGAIN ? "memslots kept changing" :
		      strerror(-err));
		goto out;
	}
	if (c.nr_vms != 1) {
		p_err("process %" PRIu64 " has %zu KVM VMs, expected one", pid, c.nr_vms);
		goto out;
	}
	v = &c.vms[0];
	nr_exp = json_object_array_length(rows);
	seen = calloc(v->nr + 1, sizeof(*seen));
	diffs = json_object_new_array();
	if (!seen || !diffs) {
		p_err("cannot compare: %s", strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < nr_exp; i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		bool ok = true, found = false;
		uint64_t id = row_u64(row, "slot", &ok), as = row_u64(row, "as", &ok);
		uint64_t gpa = row_u64(row, "gpa", &ok), size = row_u64(row, "size", &ok);
		uint64_t flags = row_u64(row, "flags", &ok);
		char line[160];

		if (!ok) {
			p_err("malformed memslot row %zu in: %s", i, expect);
			goto out;
		}
		for (size_t j = 0; j < v->nr && !found; j++) {
			const struct ms_census_slot *s = &v->slots[j];

			if (s->as_id != as || s->id != id)
				continue;
			found = seen[j] = true;
			if (s->gpa == gpa && s->size == size && s->flags == flags) {
				matched++;
				continue;
			}
			snprintf(line, sizeof(line), "slot %" PRIu64 " as %" PRIu64 ": expected "
				 "0x%" PRIx64 "+0x%" PRIx64 " flags %" PRIu64 ", kernel 0x%" PRIx64
				 "+0x%" PRIx64 " flags %u", id, as, gpa, size, flags, s->gpa, s->size,
				 s->flags);
			json_object_array_add(diffs, json_object_new_string(line));
		}
		if (!found) {
			snprintf(line, sizeof(line), "slot %" PRIu64 " as %" PRIu64 ": expected "
				 "0x%" PRIx64 "+0x%" PRIx64 ", missing in the kernel", id, as, gpa,
				 size);
			json_object_array_add(diffs, json_object_new_string(line));
		}
	}
	for (size_t j = 0; j < v->nr; j++) {
		char line[160];

		if (seen[j])
			continue;
		snprintf(line, sizeof(line), "slot %u as %u: kernel 0x%" PRIx64 "+0x%" PRIx64
			 ", not expected", v->slots[j].id, v->slots[j].as_id, v->slots[j].gpa,
			 v->slots[j].size);
		json_object_array_add(diffs, json_object_new_string(line));
	}
	nr_diff = json_object_array_length(diffs);
	if (json_output) {
		struct json_object *o = json_object_new_object();

		if (!o) {
			p_err("cannot build JSON: %s", strerror(ENOMEM));
			goto out;
		}
		json_object_object_add(o, "pid", json_u64(pid));
		json_object_object_add(o, "vm", json_u64(v->head.vm));
		json_object_object_add(o, "expected", json_u64(nr_exp));
		json_object_object_add(o, "kernel", json_u64(v->nr));
		json_object_object_add(o, "matched", json_u64(matched));
		json_object_object_add(o, "ok", json_object_new_boolean(!nr_diff));
		json_object_object_add(o, "differences", json_object_get(diffs));
		if (json_print(o))
			goto out;
	} else {
		for (size_t i = 0; i < nr_diff; i++)
			printf("%s\n", json_object_get_string(json_object_array_get_idx(diffs, i)));
		printf("%s: %zu expected, %zu in the kernel, %zu equal\n",
		       nr_diff ? "DIFFERENT" : "OK", nr_exp, v->nr, matched);
	}
	status = nr_diff ? 1 : 0;
out:
	json_object_put(diffs);
	json_object_put(doc);
	free(seen);
	census_free(&c);
	return status;
}

/* --- the census of memslot run --verify ------------------------------------ */

struct census_self {
	struct census_bpf *skel;
	struct ring_buffer *rb;
	struct census c;
};

struct census_self *census_self_open(uint32_t tgid, int *err)
{
	struct census_self *cs = calloc(1, sizeof(*cs));

	if (!cs) {
		*err = -ENOMEM;
		return NULL;
	}
	cs->skel = census_bpf__open();
	if (!cs->skel) {
		*err = -errno;
		goto fail;
	}
	cs->skel->rodata->targ_tgid = tgid;
	*err = census_bpf__load(cs->skel);
	if (!*err)
		*err = census_bpf__attach(cs->skel);
	if (*err)
		goto fail;
	cs->rb = ring_buffer__new(bpf_map__fd(cs->skel->maps.records), on_record, &cs->c, NULL);
	if (!cs->rb) {
		*err = -errno;
		goto fail;
	}
	return cs;
fail:
	census_self_close(cs);
	return NULL;
}

int census_self_read(struct census_self *cs, int fd, struct census_self_vm *out)
{
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (int tries = 0; tries < CENSUS_TRIES; tries++) {
		const struct cvm *v = NULL;
		struct timespec t0, t1;
		uint64_t lost = 0;

		census_free(&cs->c);
		cs->c.err = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = census_pass(cs->skel, cs->rb, &cs->c, &lost);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		out->ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
			  (uint64_t)(t1.tv_nsec - t0.tv_nsec);
		out->lost = lost;
		if (err)
			return err;
		for (size_t i = 0; i < cs->c.nr_vms; i++)
			if ((int)cs->c.vms[i].head.fd == fd)
				v = &cs->c.vms[i];
		if (!v)
			return -ENOENT;
		out->found = true;
		out->vm = v->head.vm;
		out->slots = v->slots;
		out->nr = v->nr;
		out->generation = v->end.generation[0];
		out->nr_memslot_pages = v->end.nr_memslot_pages;
		if (cvm_consistent(v) && !lost)
			return 0;
		err = -EAGAIN;
	}
	return err;
}

void census_self_close(struct census_self *cs)
{
	if (!cs)
		return;
	census_free(&cs->c);
	ring_buffer__free(cs->rb);
	census_bpf__destroy(cs->skel);
	free(cs);
}
