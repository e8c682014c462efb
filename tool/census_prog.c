// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The loader of bpf/census.bpf.c (census_prog.h): the only code that opens
 * its skeleton.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "census_prog.h"
#include "census.skel.h"

struct census_prog {
	struct census_bpf *skel;
	struct ring_buffer *rb;
	struct census c;
	uint32_t *pids;		/* census_prog_set_pids(), NULL: every process */
	size_t nr_pids;
	int err;		/* of the record callback, in the current pass */
};

static void census_clear(struct census *c)
{
	for (size_t i = 0; i < c->nr_vms; i++)
		free(c->vms[i].slots);
	free(c->vms);
	memset(c, 0, sizeof(*c));
}

static struct census_vm *vm_find(struct census *c, uint32_t pid, uint64_t vm)
{
	/* the record of a VM comes last: search backwards */
	for (size_t i = c->nr_vms; i-- > 0;)
		if (c->vms[i].head.pid == pid && c->vms[i].head.vm == vm && !c->vms[i].done)
			return &c->vms[i];
	return NULL;
}

static bool pid_wanted(const struct census_prog *cp, uint32_t pid)
{
	if (!cp->pids)
		return true;
	for (size_t i = 0; i < cp->nr_pids; i++)
		if (cp->pids[i] == pid)
			return true;
	return false;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct census_prog *cp = ctx;
	struct census *c = &cp->c;
	const struct ms_census_vm *v = data;
	const struct ms_census_slot *s = data;
	struct census_vm *cv;

	if (len < sizeof(uint32_t))
		return 0;
	switch (v->kind) {
	case MS_CENSUS_VM:
		/* the slots and end record of a VM not kept find no VM: dropped */
		if (len < sizeof(*v) || !pid_wanted(cp, v->pid))
			return 0;
		cv = realloc(c->vms, (c->nr_vms + 1) * sizeof(*cv));
		if (!cv)
			return cp->err = -ENOMEM;
		c->vms = cv;
		cv = &c->vms[c->nr_vms++];
		memset(cv, 0, sizeof(*cv));
		cv->head = *v;
		break;
	case MS_CENSUS_VM_END:
		cv = len >= sizeof(*v) ? vm_find(c, v->pid, v->vm) : NULL;
		if (cv) {
			cv->end = *v;
			cv->done = true;
		}
		break;
	case MS_CENSUS_SLOT:
		cv = len >= sizeof(*s) ? vm_find(c, s->pid, s->vm) : NULL;
		if (!cv)
			return 0;
		if (cv->nr == cv->alloc) {
			size_t n = cv->alloc ? cv->alloc * 2 : 64;
			struct ms_census_slot *p = realloc(cv->slots, n * sizeof(*p));

			if (!p)
				return cp->err = -ENOMEM;
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

bool census_vm_consistent(const struct census_vm *v)
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

/* One pass of the iterator into cp->c. */
static int census_pass(struct census_prog *cp)
{
	struct census *c = &cp->c;
	struct timespec t0, t1;
	uint32_t zero = 0;
	char buf[256];
	ssize_t n;
	int fd;

	census_clear(c);
	cp->err = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = bpf_iter_create(bpf_link__fd(cp->skel->links.census));
	if (fd < 0)
		return -errno;
	/* the program writes nothing to the seq_file: read() runs it to the end */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	if (n < 0)
		return -errno;
	if (ring_buffer__consume(cp->rb) < 0 && !cp->err)
		return -EIO;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->elapsed_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
			(uint64_t)(t1.tv_nsec - t0.tv_nsec);
	if (cp->err)
		return cp->err;
	bpf_map_lookup_elem(bpf_map__fd(cp->skel->maps.lost), &zero, &c->lost);
	for (size_t i = 0; i < c->nr_vms; i++)
		if (c->vms[i].nr)	/* qsort() wants a non-NULL base */
			qsort(c->vms[i].slots, c->vms[i].nr, sizeof(*c->vms[i].slots), slot_cmp);
	return 0;
}

struct census_prog *census_prog_open(uint32_t tgid, int *err)
{
	struct census_prog *cp = calloc(1, sizeof(*cp));

	if (!cp) {
		*err = -ENOMEM;
		return NULL;
	}
	cp->skel = census_bpf__open();
	if (!cp->skel) {
		*err = -errno;
		goto fail;
	}
	cp->skel->rodata->targ_tgid = tgid;
	*err = census_bpf__load(cp->skel);
	if (!*err)
		*err = census_bpf__attach(cp->skel);
	if (*err)
		goto fail;
	cp->rb = ring_buffer__new(bpf_map__fd(cp->skel->maps.records), on_record, cp, NULL);
	if (!cp->rb) {
		*err = -errno;
		goto fail;
	}
	return cp;
fail:
	census_prog_close(cp);
	return NULL;
}

int census_prog_set_pids(struct census_prog *cp, const uint32_t *pids, size_t nr)
{
	uint32_t *n = NULL;

	if (pids) {
		n = malloc((nr ?: 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memcpy(n, pids, nr * sizeof(*n));
	}
	free(cp->pids);
	cp->pids = n;
	cp->nr_pids = nr;
	return 0;
}

const struct census *census_prog_run(struct census_prog *cp)
{
	for (int tries = 0; tries < CENSUS_TRIES; tries++) {
		bool ok = true;
		int err = census_pass(cp);

		if (err) {
			errno = -err;
			return NULL;
		}
		for (size_t i = 0; i < cp->c.nr_vms; i++)
			ok = ok && census_vm_consistent(&cp->c.vms[i]);
		if (ok && !cp->c.lost)
			return &cp->c;
	}
	errno = EAGAIN;
	return NULL;
}

const struct census *census_prog_last(const struct census_prog *cp)
{
	return &cp->c;
}

const struct census_vm *census_find_fd(const struct census *c, int fd)
{
	for (size_t i = 0; i < c->nr_vms; i++)
		if ((int)c->vms[i].head.fd == fd)
			return &c->vms[i];
	return NULL;
}

int census_prog_read_fd(struct census_prog *cp, int fd, struct census_fd_vm *out)
{
	const struct census *c = census_prog_run(cp);
	int err = c ? 0 : -errno;
	const struct census_vm *v;

	memset(out, 0, sizeof(*out));
	if (err && err != -EAGAIN)
		return err;
	c = &cp->c;
	out->ns = c->elapsed_ns;
	out->lost = c->lost;
	v = census_find_fd(c, fd);
	if (!v)
		return -ENOENT;
	out->vm = v->head.vm;
	out->slots = v->slots;
	out->nr = v->nr;
	out->generation = v->end.generation[0];
	out->nr_memslot_pages = v->end.nr_memslot_pages;
	return err;
}

void census_prog_close(struct census_prog *cp)
{
	if (!cp)
		return;
	census_clear(&cp->c);
	free(cp->pids);
	ring_buffer__free(cp->rb);
	census_bpf__destroy(cp->skel);
	free(cp);
}
