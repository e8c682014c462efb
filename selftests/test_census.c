// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpf/census.bpf.c against the real kernel: a VM of the KVM binding
 * (ms_kvm) gets 0, 1, 509 or KVM_CAP_NR_MEMSLOTS (32764 here) one-page
 * slots, some with dirty logging or read-only; the census iterator, loaded
 * from the skeleton by the test, must list exactly the binding's mirror of
 * the slots, with the VM's nr_memslot_pages, a stable generation, no
 * truncation and no lost records. The time of one census pass (iterator
 * run plus ring buffer drain) is reported; the target for 32764 slots is
 * 50 ms. verify_cli runs `memslot verify` ($MEMSLOT) on this process with
 * the mirror as the expected table, then with one row changed.
 *
 * census_after_updates takes a VM through what QEMU does to its slots
 * (create, delete, move, dirty logging on, a reused id, address space 1
 * where there is one), so that the active set has been swapped many times
 * and its node_idx is 1 as often as 0, and checks the census against the
 * mirror again. Before the walk cursor came from a map value, the 6.1
 * verifier removed the slot branch of the walk and this census was empty.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#include <linux/kvm.h>

#include "memslot_bpf.h"
#include "census.skel.h"

struct crec {
	uint16_t as;
	uint32_t id, flags;
	uint64_t gpa, size, hva;
};

struct result {
	uint64_t vm;		/* the VM to collect, 0: take the one with @fd */
	uint32_t fd;
	struct ms_census_vm head, end;
	int vms;		/* VM records of this process */
	struct crec *recs;
	size_t nr, alloc;
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct result *r = ctx;
	const struct ms_census_vm *v = data;
	const struct ms_census_slot *s = data;

	(void)len;
	if (v->kind == MS_CENSUS_VM && v->fd == r->fd) {
		r->vms++;
		r->vm = v->vm;
		r->head = *v;
	} else if (v->kind == MS_CENSUS_VM_END && v->vm == r->vm) {
		r->end = *v;
	} else if (s->kind == MS_CENSUS_SLOT && s->vm == r->vm && r->vm) {
		if (r->nr == r->alloc) {
			r->alloc = r->alloc ? 2 * r->alloc : 1024;
			r->recs = realloc(r->recs, r->alloc * sizeof(*r->recs));
			if (!r->recs)
				return -ENOMEM;
		}
		r->recs[r->nr++] = (struct crec){ s->as_id, s->id, s->flags, s->gpa, s->size,
						 s->hva };
	}
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct crec *x = a, *y = b;

	if (x->as != y->as)
		return x->as < y->as ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sort both tables of @n slots and expect them equal; log the first ten rows that differ. */
static void expect_same_slots(struct __test_metadata *_metadata, struct crec *want,
			      struct crec *got, size_t n)
{
	if (!n)		/* qsort() wants a non-NULL base */
		return;
	qsort(want, n, sizeof(*want), rec_cmp);
	qsort(got, n, sizeof(*got), rec_cmp);
	for (size_t i = 0, bad = 0; i < n && bad < 10; i++) {
		const struct crec *a = &want[i], *b = &got[i];

		if (a->as == b->as && a->id == b->id && a->flags == b->flags &&
		    a->gpa == b->gpa && a->size == b->size && a->hva == b->hva)
			continue;
		bad++;
		EXPECT_EQ(a->as, b->as);
		EXPECT_EQ(a->id, b->id);
		EXPECT_EQ(a->flags, b->flags);
		EXPECT_EQ(a->gpa, b->gpa);
		EXPECT_EQ(a->size, b->size);
		EXPECT_EQ(a->hva, b->hva);
		TH_LOG("row %zu differs (slot %u)", i, a->id);
	}
}

struct mirror {
	struct crec *recs;
	size_t nr;
	uint64_t pages;
};

static int mirror_add(const struct ms_kvm_slot *s, void *opaque)
{
	struct mirror *m = opaque;

	m->recs[m->nr++] = (struct crec){ s->as_id, s->slot, s->flags, s->gpa, s->size, s->hva };
	m->pages += s->size / 4096;
	return 0;
}

FIXTURE(census) {
	struct ms_kvm *k;
	struct census_bpf *skel;
	struct ring_buffer *rb;
	struct result res;
	void *mem;
	size_t mem_size;
	uint32_t nr;
};

FIXTURE_VARIANT(census) {
	uint32_t slots;		/* UINT32_MAX: KVM_CAP_NR_MEMSLOTS */
};

FIXTURE_VARIANT_ADD(census, empty) { .slots = 0 };
FIXTURE_VARIANT_ADD(census, one) { .slots = 1 };
FIXTURE_VARIANT_ADD(census, qemu_safe_max) { .slots = 509 };
FIXTURE_VARIANT_ADD(census, all) { .slots = UINT32_MAX };

FIXTURE_SETUP(census)
{
	struct ms_error err = { 0 };
	long page = sysconf(_SC_PAGESIZE);

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	self->k = ms_kvm__new(NULL, &err);
	if (!self->k)
		SKIP(return, "no KVM VM: %s", err.msg);
	self->nr = variant->slots == UINT32_MAX ? ms_kvm__max_memslots(self->k) : variant->slots;
	self->mem_size = (self->nr + 1) * (size_t)page;
	self->mem = mmap(NULL, self->mem_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	for (uint32_t i = 0; i < self->nr; i++) {
		struct ms_slot_op op = {
			.kind = MS_SLOT_OP_CREATE,
			.slot = {
				.slot = i,
				/* a hole every 3 slots: not one contiguous range */
				.gpa = (uint64_t)i * page + (uint64_t)(i / 3) * page,
				.size = (uint64_t)page,
				.hva = (char *)self->mem + (size_t)i * page,
				.flags = i % 7 == 1 ? MS_KVM_MEM_LOG_DIRTY_PAGES :
					 i % 11 == 2 && ms_kvm__has_readonly_mem(self->k) ?
					 MS_KVM_MEM_READONLY : 0,
			},
		};

		ASSERT_EQ(0, ms_kvm__exec(self->k, &op)) TH_LOG("slot %u", i);
	}

	self->skel = census_bpf__open();
	ASSERT_NE(NULL, self->skel);
	self->skel->rodata->targ_tgid = (uint32_t)getpid();
	ASSERT_EQ(0, census_bpf__load(self->skel));
	ASSERT_EQ(0, census_bpf__attach(self->skel));
	self->res.fd = (uint32_t)ms_kvm__vm_fd(self->k);
	self->rb = ring_buffer__new(bpf_map__fd(self->skel->maps.records), on_record, &self->res,
				    NULL);
	ASSERT_NE(NULL, self->rb);
}

FIXTURE_TEARDOWN(census)
{
	ring_buffer__free(self->rb);
	census_bpf__destroy(self->skel);
	free(self->res.recs);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, self->mem_size);
	ms_kvm__free(self->k);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TEST_F(census, equals_mirror)
{
	struct mirror m = { .recs = calloc(self->nr + 1, sizeof(struct crec)) };
	uint64_t t0, t1, lost = 0;
	uint32_t zero = 0;
	char buf[64];
	int fd, n;

	ASSERT_NE(NULL, m.recs);
	ms_kvm__for_each_slot(self->k, mirror_add, &m);
	ASSERT_EQ(self->nr, m.nr);

	t0 = now_ns();
	fd = bpf_iter_create(bpf_link__fd(self->skel->links.census));
	ASSERT_LE(0, fd);
	while ((n = (int)read(fd, buf, sizeof(buf))) > 0)
		;
	EXPECT_EQ(0, n);
	close(fd);
	EXPECT_LE(0, ring_buffer__consume(self->rb));
	t1 = now_ns();
	TH_LOG("census of %u slots: %.3f ms", self->nr, (double)(t1 - t0) / 1e6);

	EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(self->skel->maps.lost), &zero, &lost));
	EXPECT_EQ(0, lost);
	ASSERT_EQ(1, self->res.vms);
	EXPECT_EQ(MS_CENSUS_VM_END, self->res.end.kind);
	EXPECT_EQ(0, self->res.end.truncated);
	EXPECT_EQ(self->nr, self->res.end.nr_slots);
	EXPECT_EQ(self->res.head.generation[0], self->res.end.generation[0]);
	EXPECT_EQ(0, self->res.end.generation[0] >> 63);
	EXPECT_EQ(m.pages, self->res.end.nr_memslot_pages);
	EXPECT_EQ((uint32_t)getpid(), self->res.head.pid);

	ASSERT_EQ(m.nr, self->res.nr);
	expect_same_slots(_metadata, m.recs, self->res.recs, m.nr);
	free(m.recs);
}

static int write_expect(const char *path, const struct mirror *m, int change)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "{\"memslots\": [");
	for (size_t i = 0; i < m->nr; i++)
		fprintf(f, "%s{\"slot\": %u, \"as\": %u, \"gpa\": %llu, \"size\": %llu, "
			"\"flags\": %u, \"region\": null}", i ? ", " : "", m->recs[i].id,
			m->recs[i].as, (unsigned long long)m->recs[i].gpa +
			((int)i == change ? 0x1000000000ull : 0),
			(unsigned long long)m->recs[i].size, m->recs[i].flags);
	fprintf(f, "]}\n");
	return fclose(f);
}

static int run_verify(const char *path)
{
	struct cli_result r;
	char pid[16];
	int st;

	snprintf(pid, sizeof(pid), "%d", getpid());
	st = CLI_RUN(&r, "verify", "-p", pid, "--expect", path) ? -1 : r.status;
	cli_result_free(&r);
	return st;
}

TEST_F(census, verify_cli)
{
	struct mirror m = { .recs = calloc(self->nr + 1, sizeof(struct crec)) };
	char path[] = "/tmp/memslot-verify-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_NE(NULL, m.recs);
	ms_kvm__for_each_slot(self->k, mirror_add, &m);
	ASSERT_EQ(0, write_expect(path, &m, -1));
	EXPECT_EQ(0, run_verify(path));
	if (m.nr) {
		ASSERT_EQ(0, write_expect(path, &m, (int)(m.nr / 2)));
		EXPECT_EQ(1, run_verify(path));
	}
	unlink(path);
	free(m.recs);
}

static int slot_op(struct ms_kvm *k, enum ms_slot_op_kind kind, uint16_t as, uint32_t id,
		   uint64_t gpa, void *hva, uint32_t flags)
{
	struct ms_slot_op op = {
		.kind = kind,
		.slot = { .slot = id, .as_id = as, .gpa = gpa, .size = 4096, .hva = hva,
			  .flags = kind == MS_SLOT_OP_DELETE ? 0 : flags },
	};

	return ms_kvm__exec(k, &op);
}

TEST(census_after_updates)
{
	struct ms_error err = { 0 };
	struct result res = { 0 };
	struct mirror m = { 0 };
	struct census_bpf *skel;
	struct ring_buffer *rb;
	uint64_t lost = 0;
	uint32_t zero = 0;
	struct ms_kvm *k;
	char buf[64], *mem;
	int fd, n, nr_as;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	k = ms_kvm__new(NULL, &err);
	if (!k)
		SKIP(return, "no KVM VM: %s", err.msg);
	mem = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	nr_as = ioctl(ms_kvm__vm_fd(k), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);

	/* slots 0-5 at 1 MiB steps; 2 logs dirty pages */
	for (uint32_t i = 0; i < 6; i++) {
		ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, 0, i, (uint64_t)i << 20,
				     mem + i * 4096, i == 2 ? MS_KVM_MEM_LOG_DIRTY_PAGES : 0))
			TH_LOG("slot %u: %s", i, ms_kvm__last_error(k)->msg);
	}
	/* delete 1, move 4 to 64 MiB, dirty logging on 5, 1 again elsewhere */
	ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_DELETE, 0, 1, 1 << 20, mem + 4096, 0));
	ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, 0, 4, 64 << 20, mem + 4 * 4096, 0));
	ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_UPDATE, 0, 5, 5 << 20, mem + 5 * 4096,
			     MS_KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, 0, 1, 32 << 20, mem + 6 * 4096, 0));
	/* a slot id far from the others: another id_hash bucket */
	ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, 0, 300, 128 << 20, mem + 7 * 4096, 0));
	if (nr_as > 1) {
		ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, 1, 0, 0, mem + 8 * 4096, 0));
		ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, 1, 3, 3 << 20, mem + 9 * 4096, 0));
	} else {
		TH_LOG("KVM_CAP_MULTI_ADDRESS_SPACE is %d: address space 0 only", nr_as);
	}

	m.recs = calloc(16, sizeof(*m.recs));
	ASSERT_NE(NULL, m.recs);
	ms_kvm__for_each_slot(k, mirror_add, &m);
	EXPECT_EQ(nr_as > 1 ? 9 : 7, m.nr);

	skel = census_bpf__open();
	ASSERT_NE(NULL, skel);
	skel->rodata->targ_tgid = (uint32_t)getpid();
	ASSERT_EQ(0, census_bpf__load(skel));
	ASSERT_EQ(0, census_bpf__attach(skel));
	res.fd = (uint32_t)ms_kvm__vm_fd(k);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.records), on_record, &res, NULL);
	ASSERT_NE(NULL, rb);
	fd = bpf_iter_create(bpf_link__fd(skel->links.census));
	ASSERT_LE(0, fd);
	while ((n = (int)read(fd, buf, sizeof(buf))) > 0)
		;
	EXPECT_EQ(0, n);
	close(fd);
	EXPECT_LE(0, ring_buffer__consume(rb));

	EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, &lost));
	EXPECT_EQ(0, lost);
	ASSERT_EQ(1, res.vms);
	EXPECT_EQ(0, res.end.truncated);
	EXPECT_EQ(m.nr, res.end.nr_slots);
	for (unsigned int a = 0; a < res.end.nr_as && a < MS_BPF_MAX_AS; a++) {
		EXPECT_EQ(res.head.generation[a], res.end.generation[a]);
		EXPECT_EQ(0, res.end.generation[a] >> 63);
	}
	EXPECT_EQ(m.pages, res.end.nr_memslot_pages);
	ASSERT_EQ(m.nr, res.nr);
	expect_same_slots(_metadata, m.recs, res.recs, m.nr);

	ring_buffer__free(rb);
	census_bpf__destroy(skel);
	free(res.recs);
	free(m.recs);
	munmap(mem, 16 * 4096);
	ms_kvm__free(k);
}

/*
 * `memslot census` on a VM with 3 slots in address space 0 and 5 in 1:
 * KVM_CAP_NR_MEMSLOTS holds per address space, so 5 of the limit are
 * taken, not 8 (QEMU 8.2+ kvm_get_free_memslots()). Until the census
 * counted per address space it subtracted every slot of the VM.
 */
TEST(census_cli_free_per_as)
{
	enum { NR_AS0 = 3, NR_AS1 = 5 };
	struct json_object *doc, *vm = NULL, *vms;
	struct ms_error err = { 0 };
	struct cli_result r;
	char pid[16], want[200];
	uint32_t max;
	struct ms_kvm *k;
	char *mem;
	int nr_as;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	k = ms_kvm__new(NULL, &err);
	if (!k)
		SKIP(return, "no KVM VM: %s", err.msg);
	nr_as = ioctl(ms_kvm__vm_fd(k), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	if (nr_as < 2) {
		ms_kvm__free(k);
		SKIP(return, "KVM_CAP_MULTI_ADDRESS_SPACE is %d: no address space 1", nr_as);
	}
	max = ms_kvm__max_memslots(k);
	mem = mmap(NULL, (NR_AS0 + NR_AS1) * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (uint32_t i = 0; i < NR_AS0 + NR_AS1; i++) {
		uint16_t as = i < NR_AS0 ? 0 : 1;

		ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, as, i, (uint64_t)i << 20,
				     mem + i * 4096, 0))
			TH_LOG("as %u slot %u: %s", as, i, ms_kvm__last_error(k)->msg);
	}
	snprintf(pid, sizeof(pid), "%d", getpid());

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "-p", pid));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	vms = jget(doc, "vms");
	for (size_t i = 0; i < jget_len(vms); i++)
		if (jget_u64(jget_idx(vms, i), "fd") == (uint64_t)ms_kvm__vm_fd(k))
			vm = jget_idx(vms, i);
	ASSERT_NE(NULL, vm) TH_LOG("%s", r.out);
	EXPECT_EQ(NR_AS0 + NR_AS1, jget_u64(vm, "total_slots"));
	EXPECT_EQ(2, jget_len(jget(vm, "slots_per_as")));
	EXPECT_EQ(NR_AS0, json_object_get_uint64(jget_idx(jget(vm, "slots_per_as"), 0)));
	EXPECT_EQ(NR_AS1, json_object_get_uint64(jget_idx(jget(vm, "slots_per_as"), 1)));
	EXPECT_EQ(1, jget_u64(vm, "busiest_as"));
	EXPECT_EQ(max, jget_u64(vm, "max_slots"));
	EXPECT_EQ(max - NR_AS1, jget_u64(vm, "free_slots"));
	json_object_put(doc);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "census", "-p", pid));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "total: %d slots, 0x%x bytes; free %u of %u per address "
		 "space (KVM_CAP_NR_MEMSLOTS; busiest: as 1, %d slots)", NR_AS0 + NR_AS1,
		 (NR_AS0 + NR_AS1) * 4096, max - NR_AS1, max, NR_AS1);
	EXPECT_TRUE(has_line(r.out, want)) TH_LOG("want %s in:\n%s", want, r.out);
	cli_result_free(&r);

	munmap(mem, (NR_AS0 + NR_AS1) * 4096);
	ms_kvm__free(k);
}

/*
 * A strict reader of the Prometheus text exposition format 0.0.4 (what
 * node_exporter's textfile collector accepts): every line is a HELP, a TYPE
 * or a sample; metric and label names match their regexes; label values
 * use only the escapes \\, \" and \n; HELP and TYPE come at most once per
 * family and before its samples; a family's samples are contiguous; values
 * parse as floats; no two samples have the same name and label set; the
 * text ends with a newline.
 */
#define PROM_MAX_LABELS	8

struct prom_sample {
	char name[64];
	int nr_labels;
	char key[PROM_MAX_LABELS][32];
	char val[PROM_MAX_LABELS][256];
	double value;
};

struct prom {
	struct prom_sample s[512];
	int nr;
	char families[16][64];		/* in order of their first line */
	bool typed[16], helped[16];
	int nr_families;
	char why[200];
};

static bool prom_name_ok(const char *n, bool label)
{
	if (!*n || isdigit((unsigned char)*n))
		return false;
	if (label && !strncmp(n, "__", 2))	/* reserved */
		return false;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && *n != '_' && (label || *n != ':'))
			return false;
	return true;
}

/* The family of @name; a new one must not have been seen before (contiguity). */
static int prom_family(struct prom *p, const char *name, bool sample)
{
	int last = p->nr_families - 1;

	if (last >= 0 && !strcmp(p->families[last], name))
		return last;
	for (int i = 0; i < p->nr_families; i++)
		if (!strcmp(p->families[i], name)) {
			snprintf(p->why, sizeof(p->why), "%s %s after another family",
				 name, sample ? "sample" : "HELP/TYPE");
			return -1;
		}
	if (p->nr_families == 16)
		return -1;
	snprintf(p->families[p->nr_families], 64, "%s", name);
	p->typed[p->nr_families] = p->helped[p->nr_families] = false;
	return p->nr_families++;
}

static int prom_token(const char **line, char *out, size_t len, bool label)
{
	size_t n = 0;

	while (isalnum((unsigned char)**line) || **line == '_' || (!label && **line == ':')) {
		if (n + 1 >= len)
			return -1;
		out[n++] = *(*line)++;
	}
	out[n] = 0;
	return prom_name_ok(out, label) ? 0 : -1;
}

static int prom_line(struct prom *p, const char *line)
{
	struct prom_sample *s = &p->s[p->nr];
	char name[64], *end;
	int f;

	if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
		bool help = line[2] == 'H';

		line += 7;
		if (prom_token(&line, name, sizeof(name), false) || *line++ != ' ')
			return snprintf(p->why, sizeof(p->why), "bad HELP/TYPE name"), -1;
		f = prom_family(p, name, false);
		if (f < 0)
			return -1;
		if (help) {
			/* the docstring: only \\ and \n escapes */
			for (const char *c = line; *c; c++)
				if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
					return snprintf(p->why, sizeof(p->why), "bad HELP escape"), -1;
				else if (*c == '\\')
					c++;
			if (p->helped[f])
				return snprintf(p->why, sizeof(p->why), "second HELP of %s", name), -1;
			p->helped[f] = true;
			return 0;
		}
		if (strcmp(line, "counter") && strcmp(line, "gauge") && strcmp(line, "histogram") &&
		    strcmp(line, "summary") && strcmp(line, "untyped"))
			return snprintf(p->why, sizeof(p->why), "bad TYPE %s", line), -1;
		/* TYPE before any sample of the family */
		for (int i = 0; i < p->nr; i++)
			if (!strcmp(p->s[i].name, name))
				return snprintf(p->why, sizeof(p->why), "TYPE after samples"), -1;
		if (p->typed[f])
			return snprintf(p->why, sizeof(p->why), "second TYPE of %s", name), -1;
		p->typed[f] = true;
		return 0;
	}
	if (line[0] == '#')
		return 0;	/* a comment */
	if (p->nr == (int)(sizeof(p->s) / sizeof(p->s[0])))
		return snprintf(p->why, sizeof(p->why), "too many samples"), -1;
	memset(s, 0, sizeof(*s));
	if (prom_token(&line, s->name, sizeof(s->name), false))
		return snprintf(p->why, sizeof(p->why), "bad metric name"), -1;
	if (prom_family(p, s->name, true) < 0)
		return -1;
	if (*line == '{') {
		line++;
		while (*line != '}') {
			size_t n = 0;

			if (s->nr_labels == PROM_MAX_LABELS ||
			    prom_token(&line, s->key[s->nr_labels], 32, true) ||
			    *line++ != '=' || *line++ != '"')
				return snprintf(p->why, sizeof(p->why), "bad label"), -1;
			for (int k = 0; k < s->nr_labels; k++)
				if (!strcmp(s->key[k], s->key[s->nr_labels]))
					return snprintf(p->why, sizeof(p->why), "label twice"), -1;
			for (; *line != '"'; line++) {
				char c = *line;

				if (!c)
					return snprintf(p->why, sizeof(p->why), "open label value"), -1;
				if (c == '\\') {
					c = *++line;
					if (c == 'n')
						c = '\n';
					else if (c != '\\' && c != '"')
						return snprintf(p->why, sizeof(p->why), "bad escape"), -1;
				}
				if (n + 1 >= 256)
					return snprintf(p->why, sizeof(p->why), "long value"), -1;
				s->val[s->nr_labels][n++] = c;
			}
			line++;
			s->nr_labels++;
			if (*line == ',')
				line++;
			else if (*line != '}')
				return snprintf(p->why, sizeof(p->why), "bad label list"), -1;
		}
		line++;
	}
	if (*line++ != ' ')
		return snprintf(p->why, sizeof(p->why), "no value"), -1;
	errno = 0;
	s->value = strtod(line, &end);
	if (end == line || errno || (*end && *end != ' '))
		return snprintf(p->why, sizeof(p->why), "bad value %s", line), -1;
	if (*end && strtoll(end + 1, &end, 10) == 0 && *end)
		return snprintf(p->why, sizeof(p->why), "bad timestamp"), -1;
	/* no duplicate series: same name, same set of label pairs */
	for (int i = 0; i < p->nr; i++) {
		const struct prom_sample *o = &p->s[i];
		int same = 0;

		if (strcmp(o->name, s->name) || o->nr_labels != s->nr_labels)
			continue;
		for (int a = 0; a < s->nr_labels; a++)
			for (int b = 0; b < o->nr_labels; b++)
				same += !strcmp(s->key[a], o->key[b]) && !strcmp(s->val[a], o->val[b]);
		if (same == s->nr_labels)
			return snprintf(p->why, sizeof(p->why), "duplicate series of %s", s->name), -1;
	}
	p->nr++;
	return 0;
}

/* Parse @text into @p; 0, or -1 with @p->why and the line number set. */
static int prom_parse(struct prom *p, const char *text, int *lineno)
{
	size_t len = strlen(text);
	char *copy, *save = NULL, *line;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	*lineno = 0;
	if (!len || text[len - 1] != '\n')
		return snprintf(p->why, sizeof(p->why), "no final newline"), -1;
	copy = strdup(text);
	for (const char *c = text; *c; c++)
		if (c[0] == '\n' && c[1] == '\n')
			ret = -1;	/* strtok would hide an empty line */
	if (ret) {
		free(copy);
		return snprintf(p->why, sizeof(p->why), "empty line"), -1;
	}
	for (line = strtok_r(copy, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		++*lineno;
		ret = prom_line(p, line);
	}
	free(copy);
	return ret;
}

static const char *prom_label(const struct prom_sample *s, const char *key)
{
	for (int i = 0; i < s->nr_labels; i++)
		if (!strcmp(s->key[i], key))
			return s->val[i];
	return NULL;
}

/* The value of @name for VM @vm (hex text) and address space @as (-1: no as_id), or NAN. */
static double prom_value(const struct prom *p, const char *name, const char *vm, int as,
			 const char **label_name)
{
	for (int i = 0; i < p->nr; i++) {
		const struct prom_sample *s = &p->s[i];
		const char *a = prom_label(s, "as_id");
		char want[16];

		snprintf(want, sizeof(want), "%d", as);
		if (strcmp(s->name, name) || strcmp(prom_label(s, "vm") ?: "", vm) ||
		    (as < 0 ? a != NULL : !a || strcmp(a, want)))
			continue;
		if (label_name)
			*label_name = prom_label(s, "name");
		return s->value;
	}
	return NAN;
}

/* The parser itself refuses what the format forbids. */
TEST(prometheus_parser_is_strict)
{
	static const char *const bad[] = {
		"m 1",						/* no final newline */
		"1m 1\n",					/* metric name */
		"m{a=\"x\\t\"} 1\n",				/* escape */
		"m{a=\"x\",a=\"y\"} 1\n",			/* label twice */
		"m{__a=\"x\"} 1\n",				/* reserved label */
		"m{a=\"x\"} one\n",				/* value */
		"m{a=\"x\"} 1\nm{a=\"x\"} 2\n",			/* duplicate series */
		"m 1\nn 1\nm 2\n",				/* family not contiguous */
		"m 1\n# TYPE m gauge\n",			/* TYPE after samples */
		"# HELP m a\n# HELP m b\nm 1\n",		/* HELP twice */
		"# TYPE m gauge\n\nm 1\n",			/* empty line */
	};
	static struct prom p;
	int line;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-1, prom_parse(&p, bad[i], &line)) TH_LOG("accepted case %zu", i);
	}
	EXPECT_EQ(0, prom_parse(&p, "# HELP m x\\\\y\\n\n# TYPE m gauge\nm{a=\"\\\"\\\\\\n\",} "
				"1.5e3\nm{a=\"y\"} 2\nn +Inf\n", &line)) TH_LOG("%s", p.why);
	EXPECT_EQ(3, p.nr);
	EXPECT_STREQ("\"\\\n", p.s[0].val[0]);
	EXPECT_EQ(1500.0, p.s[0].value);
}

/*
 * `memslot census --prometheus` on a VM with slots in address space 0 (and
 * 1 where there is one), this process renamed so that its name label
 * needs every escape: the text must pass the strict reader, and its values
 * must be those of `memslot -j census` of the same VM. --qmp (a socket
 * this process listens on) and -n (its comm) must find the same VM.
 */
TEST(census_prometheus)
{
	enum { NR_AS0 = 3, NR_AS1 = 5 };
	static const char comm[] = "t\"e\\s\nt";
	struct json_object *doc, *vm = NULL, *vms, *rows;
	struct ms_error err = { 0 };
	static struct prom p;
	struct cli_result r;
	char pid[16], old_comm[17] = "", vmid[24], sock[64];
	const char *label_name = NULL;
	struct ms_kvm *k;
	int nr_as, line, lfd;
	uint32_t nr = 0;
	char *mem;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	k = ms_kvm__new(NULL, &err);
	if (!k)
		SKIP(return, "no KVM VM: %s", err.msg);
	nr_as = ioctl(ms_kvm__vm_fd(k), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	mem = mmap(NULL, (NR_AS0 + NR_AS1) * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (uint32_t i = 0; i < NR_AS0 + NR_AS1; i++) {
		uint16_t as = i < NR_AS0 || nr_as < 2 ? 0 : 1;

		ASSERT_EQ(0, slot_op(k, MS_SLOT_OP_CREATE, as, i, (uint64_t)i << 20,
				     mem + i * 4096, 0))
			TH_LOG("as %u slot %u: %s", as, i, ms_kvm__last_error(k)->msg);
		nr++;
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, prctl(PR_GET_NAME, old_comm));
	ASSERT_EQ(0, prctl(PR_SET_NAME, comm));

	/* the JSON census: the reference, and "vm" as a hex string */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "-p", pid));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	vms = jget(doc, "vms");
	for (size_t i = 0; i < jget_len(vms); i++)
		if (jget_u64(jget_idx(vms, i), "fd") == (uint64_t)ms_kvm__vm_fd(k))
			vm = jget_idx(vms, i);
	ASSERT_NE(NULL, vm) TH_LOG("%s", r.out);
	ASSERT_NE(NULL, jget_str(vm, "vm")) TH_LOG("vm is no string: %s", r.out);
	snprintf(vmid, sizeof(vmid), "%s", jget_str(vm, "vm"));
	/* a kernel address: the upper half, all 16 hex digits */
	EXPECT_EQ(0, strncmp(vmid, "0xff", 4)) TH_LOG("%s", vmid);
	EXPECT_EQ(18, strlen(vmid)) TH_LOG("%s", vmid);
	EXPECT_EQ(nr, jget_u64(vm, "total_slots"));
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "census", "-p", pid, "--prometheus", "--vhost-limit", "509"));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	ASSERT_EQ(0, prom_parse(&p, r.out, &line)) TH_LOG("line %d: %s\n%s", line, p.why, r.out);
	EXPECT_EQ(5, p.nr_families);
	rows = jget(vm, "memslots");
	for (unsigned int a = 0; a < jget_len(jget(vm, "slots_per_as")); a++) {
		uint64_t used = json_object_get_uint64(jget_idx(jget(vm, "slots_per_as"), a));
		uint64_t max = jget_u64(vm, "max_slots"), bytes = 0;

		for (size_t i = 0; i < jget_len(rows); i++)
			if (jget_u64(jget_idx(rows, i), "as") == a)
				bytes += jget_u64(jget_idx(rows, i), "size");
		EXPECT_EQ((double)used, prom_value(&p, "memslot_slots_used", vmid, (int)a,
						   &label_name)) TH_LOG("as %u", a);
		EXPECT_EQ((double)max, prom_value(&p, "memslot_slots_limit", vmid, (int)a, NULL));
		EXPECT_EQ((double)(max - used), prom_value(&p, "memslot_slots_free", vmid, (int)a,
							   NULL));
		EXPECT_EQ((double)bytes, prom_value(&p, "memslot_bytes_mapped", vmid, (int)a,
						    NULL));
	}
	EXPECT_EQ((double)(nr_as > 1 ? NR_AS0 : NR_AS0 + NR_AS1),
		  prom_value(&p, "memslot_slots_used", vmid, 0, NULL));
	EXPECT_EQ(509.0, prom_value(&p, "memslot_vhost_limit", vmid, -1, NULL));
	ASSERT_NE(NULL, label_name);
	EXPECT_STREQ(comm, label_name);
	json_object_put(doc);
	cli_result_free(&r);

	/* -n finds this process by its comm, --qmp by a socket it listens on */
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "-n", comm));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, vmid)) TH_LOG("%s", r.out);
	cli_result_free(&r);
	snprintf(sock, sizeof(sock), "/tmp/memslot-qmp-%d", getpid());
	lfd = unix_listen(sock);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "--qmp", sock));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	/* this process only: the VM of its fd and no other */
	vms = jget(doc, "vms");
	EXPECT_EQ(1, jget_len(vms));
	EXPECT_STREQ(vmid, jget_str(jget_idx(vms, 0), "vm") ?: "");
	EXPECT_EQ((uint64_t)getpid(), jget_u64(jget_idx(vms, 0), "pid"));
	json_object_put(doc);
	cli_result_free(&r);
	close(lfd);
	unlink(sock);

	prctl(PR_SET_NAME, old_comm);
	munmap(mem, (NR_AS0 + NR_AS1) * 4096);
	ms_kvm__free(k);
}

TEST_HARNESS_MAIN
