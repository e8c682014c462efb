// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Memory backends of a machine (rule 11.1): memory-backend-ram, -memfd and
 * -file objects, their host memory (MAP_NORESERVE, no transparent huge
 * pages, optionally preallocated) and their lookup by id and by region.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "memdev_internal.h"

#define MiB (1ULL << 20)
#define ANON_RAM_ALIGN		(2 * MiB)	/* rule 11.1, x86-64 Linux hosts */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC		0x958458f6
#endif

struct ms_backend *backend_of_region(const struct ms_machine *m, const struct ms_region *mr)
{
	uint64_t hash;
	struct hnode *n;

	while (mr && ms_region__kind(mr) == MS_REGION_ALIAS)
		mr = ms_region__alias(mr);
	if (!mr)
		return NULL;
	hash = hash_ptr(mr);
	for (n = htab_bucket(&m->backend_regions, hash); n; n = n->next) {
		struct ms_backend *b = container_of(n, struct ms_backend, mr_node);

		if (n->hash == hash && b->mr == mr)
			return b;
	}
	return NULL;
}

struct ms_backend *ms_machine__find_backend(const struct ms_machine *m, const char *id)
{
	uint64_t hash;
	struct hnode *n;

	if (!m || !id)
		return NULL;
	hash = hash_str(id);
	for (n = htab_bucket(&m->backend_ids, hash); n; n = n->next) {
		struct ms_backend *b = container_of(n, struct ms_backend, id_node);

		if (n->hash == hash && !strcmp(b->id, id))
			return b;
	}
	return NULL;
}

struct ms_region *ms_backend__region(const struct ms_backend *b) { return b->mr; }
const char *ms_backend__id(const struct ms_backend *b) { return b->id; }

/* The host page size the machine maps memory with (opts.page_size or the host's). */
uint64_t host_page_size(const struct ms_machine *m)
{
	long page;

	if (m->opts.page_size)
		return m->opts.page_size;
	page = sysconf(_SC_PAGESIZE);
	return page > 0 ? (uint64_t)page : 4096;
}

static const char *backend_type(enum ms_backend_kind kind)
{
	switch (kind) {
	case MS_BACKEND_RAM:
		return "memory-backend-ram";
	case MS_BACKEND_MEMFD:
		return "memory-backend-memfd";
	case MS_BACKEND_FILE:
		return "memory-backend-file";
	}
	return "memory-backend";
}

/* prealloc=on: fault every page in now */
static int prealloc(void *host, uint64_t size, bool writable, const char *id,
		    struct ms_error *err)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!madvise(host, size, writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ))
		return 0;
	if (errno != EINVAL)
		return ms_error_set(err, -errno, "backend %s: cannot preallocate 0x%llx bytes: %s",
				    id, (unsigned long long)size, strerror(errno));
	/* kernels before 5.14 */
	for (uint64_t off = 0; off < size; off += (uint64_t)page) {
		volatile char *p = (char *)host + off;

		if (writable)
			*p = *p;
		else
			(void)*p;
	}
	return 0;
}

/* memory-backend-file: open (or create) mem-path like QEMU's file_ram_open() */
static int file_open(const char *path, const char *id, bool readonly, char **created,
		     struct ms_error *err)
{
	struct stat st;
	char *tmpl;
	int fd, saved;

	*created = NULL;
	if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
		/* a directory: an unlinked temporary file in it */
		if (asprintf(&tmpl, "%s/qemu_back_mem.%s.XXXXXX", path, id) < 0)
			return ms_error_set(err, -ENOMEM, "backend %s: out of memory", id);
		for (char *c = tmpl + strlen(path) + 1; *c; c++)
			if (*c == '/')
				*c = '_';
		fd = mkstemp(tmpl);
		saved = errno;
		if (fd >= 0)
			unlink(tmpl);
		free(tmpl);
		errno = saved;
	} else {
		fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && !readonly) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd >= 0 && !(*created = strdup(path))) {
				unlink(path);
				close(fd);
				return ms_error_set(err, -ENOMEM, "backend %s: out of memory", id);
			}
		}
	}
	if (fd < 0) {
		saved = errno;
		return ms_error_set(err, -saved, "can't open backing store %s for guest RAM: %s",
				    path, strerror(saved));
	}
	return fd;
}

/* page size of the file's RAM block (qemu_fd_getpagesize()) */
static uint64_t fd_page_size(const struct ms_machine *m, int fd)
{
	struct statfs fs;

	if (fd >= 0 && !fstatfs(fd, &fs) && (unsigned long)fs.f_type == HUGETLBFS_MAGIC)
		return (uint64_t)fs.f_bsize;
	return host_page_size(m);
}

static int file_backend(struct ms_machine *m, struct ms_backend *b,
			const struct ms_backend_opts *o, struct ms_error *err)
{
	char *created = NULL;
	struct stat st;
	void *host;
	int fd = -1, ret;

	if (!o->no_memory) {
		fd = file_open(o->mem_path, o->id, o->readonly, &created, err);
		if (fd < 0)
			return fd;
	}
	b->page_size = fd_page_size(m, fd);
	if (o->align % b->page_size) {
		ret = ms_error_set(err, -EINVAL,
				   "alignment 0x%llx must be multiples of page size 0x%llx",
				   (unsigned long long)o->align, (unsigned long long)b->page_size);
		goto err_close;
	}
	if (o->align & (o->align - 1)) {
		ret = ms_error_set(err, -EINVAL, "alignment 0x%llx must be a power of two",
				   (unsigned long long)o->align);
		goto err_close;
	}
	b->align = o->align > b->page_size ? o->align : b->page_size;

	if (o->no_memory) {
		b->mr = region_new_described(m->ctx, o->id, o->size,
					     o->readonly ? MS_REGION_ROM : MS_REGION_RAM, err);
		return b->mr ? 0 : -(errno ?: ENOMEM);
	}
	if (fstat(fd, &st)) {
		ret = ms_error_set(err, -errno, "backend %s: %s: %s", o->id, o->mem_path,
				   strerror(errno));
		goto err_close;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < o->size) {
		if (st.st_size > 0 || o->readonly) {
			ret = ms_error_set(err, -EINVAL,
					   "backing store size 0x%llx does not match 'size' option 0x%llx",
					   (unsigned long long)st.st_size,
					   (unsigned long long)o->size);
			goto err_close;
		}
		if (ftruncate(fd, (off_t)o->size)) {
			ret = ms_error_set(err, -errno, "backend %s: cannot resize %s: %s", o->id,
					   o->mem_path, strerror(errno));
			goto err_close;
		}
	}
	if (o->size > SIZE_MAX) {
		ret = ms_error_set(err, -EINVAL, "backend %s: size 0x%llx too large", o->id,
				   (unsigned long long)o->size);
		goto err_close;
	}
	host = mmap(NULL, (size_t)o->size, PROT_READ | (o->readonly ? 0 : PROT_WRITE),
		    (o->share ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE, fd, 0);
	if (host == MAP_FAILED) {
		ret = ms_error_set(err, -errno, "backend %s: cannot map %s: %s", o->id,
				   o->mem_path, strerror(errno));
		goto err_close;
	}
	region_nohugepage(host, (size_t)o->size);	/* see region.c */
	/* QEMU makes a readonly=on file a ROM (memory_region_init_ram_from_file) */
	b->mr = region_new_described(m->ctx, o->id, o->size,
				     o->readonly ? MS_REGION_ROM : MS_REGION_RAM, err);
	if (!b->mr) {
		ret = -(errno ?: ENOMEM);
		munmap(host, (size_t)o->size);
		goto err_close;
	}
	/* the region owns the mapping and the descriptor from now on */
	b->mr->host = host;
	b->mr->host_size = (size_t)o->size;
	b->mr->host_limit = b->mr->size;
	b->mr->fd = fd;
	free(created);
	return 0;

err_close:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(created);
	free(created);
	return ret;
}

struct ms_backend *ms_machine__add_backend(struct ms_machine *m,
					   const struct ms_backend_opts *opts,
					   struct ms_error *err)
{
	struct ms_backend_opts o;
	struct ms_backend *b;
	char owner[PATH_MAX];
	int ret;

	if (!m || !opts) {
		ret = ms_error_set(err, -EINVAL, "backend: no machine or options");
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	/* the checks in the order QEMU's -object reports them */
	if (!o.id || !*o.id) {
		ret = ms_error_set(err, -EINVAL, "Parameter 'id' is missing");
		goto fail;
	}
	if (o.kind != MS_BACKEND_RAM && o.kind != MS_BACKEND_MEMFD &&
	    o.kind != MS_BACKEND_FILE) {
		ret = ms_error_set(err, -EINVAL, "backend %s: unknown kind %d", o.id, (int)o.kind);
		goto fail;
	}
	if (o.kind == MS_BACKEND_FILE && (!o.mem_path || !*o.mem_path)) {
		ret = ms_error_set(err, -EINVAL, "Parameter 'mem-path' is missing");
		goto fail;
	}
	if (!o.size) {
		ret = ms_error_set(err, -EINVAL, "property 'size' of %s doesn't take value '0'",
				   backend_type(o.kind));
		goto fail;
	}
	if (ms_machine__find_backend(m, o.id)) {
		ret = ms_error_set(err, -EEXIST, "Duplicate ID '%s' for object", o.id);
		goto fail;
	}

	b = calloc(1, sizeof(*b));
	if (!b || !(b->id = strdup(o.id)) || asprintf(&b->qom_path, "/objects/%s", o.id) < 0) {
		if (b) {
			b->qom_path = NULL;
			free(b->id);
		}
		free(b);
		ret = ms_error_set(err, -ENOMEM, "backend %s: out of memory", o.id);
		goto fail;
	}
	b->m = m;
	list_init(&b->node);
	b->kind = o.kind;
	b->size = o.size;
	b->share = o.share;
	b->prealloc = o.prealloc;
	b->readonly = o.kind == MS_BACKEND_FILE && o.readonly;

	switch (o.kind) {
	case MS_BACKEND_RAM:
		/* qemu_anon_ram_alloc(): QEMU_VMALLOC_ALIGN */
		b->page_size = host_page_size(m);
		b->align = ANON_RAM_ALIGN;
		b->mr = o.no_memory ?
			region_new_described(m->ctx, o.id, o.size, MS_REGION_RAM, err) :
			ms_region__new_ram(m->ctx, o.id, o.size,
					   o.share ? MS_RAM_SHARED_ANON : MS_RAM_ANON, err);
		ret = b->mr ? 0 : -(errno ?: ENOMEM);
		break;
	case MS_BACKEND_MEMFD:
		/* fd-backed RAM blocks are aligned to their page size; memfd is
		 * always mapped shared here (QEMU's share=on default) */
		b->page_size = host_page_size(m);
		b->align = b->page_size;
		b->share = true;
		b->mr = o.no_memory ?
			region_new_described(m->ctx, o.id, o.size, MS_REGION_RAM, err) :
			ms_region__new_ram(m->ctx, o.id, o.size, MS_RAM_MEMFD, err);
		ret = b->mr ? 0 : -(errno ?: ENOMEM);
		break;
	default:
		ret = file_backend(m, b, &o, err);
		break;
	}
	if (ret)
		goto err_free;
	snprintf(owner, sizeof(owner), "obj path=%s", b->qom_path);
	ret = ms_region__set_owner(b->mr, owner, NULL);
	if (ret) {
		ms_error_set(err, ret, "backend %s: out of memory", o.id);
		goto err_free;
	}
	if (o.prealloc && !o.no_memory && ms_region__host_ptr(b->mr)) {
		ret = prealloc(ms_region__host_ptr(b->mr), o.size, !b->readonly, o.id, err);
		if (ret)
			goto err_free;
	}
	list_add_before(&b->node, &m->backends);
	htab_add(&m->backend_ids, &b->id_node, hash_str(b->id));
	htab_add(&m->backend_regions, &b->mr_node, hash_ptr(b->mr));
	return b;

err_free:
	ms_region__unref(b->mr);
	free(b->qom_path);
	free(b->id);
	free(b);
fail:
	errno = -ret;
	return NULL;
}
