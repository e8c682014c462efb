// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helpers: event log, recording listener, text dumpers, logging
 * I/O device, captured library warnings. See util.h for the text formats.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

char *u128_hex(char buf[U128_HEX_LEN], ms_u128 v)
{
	uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

	if (hi)
		snprintf(buf, U128_HEX_LEN, "0x%" PRIx64 "%016" PRIx64, hi, lo);
	else
		snprintf(buf, U128_HEX_LEN, "0x%" PRIx64, lo);
	return buf;
}

void evlog_init(struct evlog *log)
{
	memset(log, 0, sizeof(*log));
}

void evlog_add(struct evlog *log, const struct ms_section *s, const char *fmt, ...)
{
	struct ev *e;
	va_list ap;

	if (log->n == log->cap) {
		size_t cap = log->cap ? 2 * log->cap : 64;
		struct ev *n = realloc(log->ev, cap * sizeof(*n));

		if (!n)
			abort();
		log->ev = n;
		log->cap = cap;
	}
	e = &log->ev[log->n++];
	memset(e, 0, sizeof(*e));
	if (s)
		e->s = *s;
	va_start(ap, fmt);
	if (vasprintf(&e->text, fmt, ap) < 0)
		abort();
	va_end(ap);
}

void evlog_clear(struct evlog *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->ev[i].text);
	log->n = 0;
}

void evlog_free(struct evlog *log)
{
	evlog_clear(log);
	free(log->ev);
	evlog_init(log);
}

char *evlog_str(const struct evlog *log)
{
	size_t len = 1, off = 0;
	char *s;

	for (size_t i = 0; i < log->n; i++)
		len += strlen(log->ev[i].text) + 1;
	s = malloc(len);
	if (!s)
		abort();
	for (size_t i = 0; i < log->n; i++)
		off += sprintf(s + off, "%s\n", log->ev[i].text);
	s[off] = '\0';
	return s;
}

size_t evlog_count(const struct evlog *log, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		n += !strncmp(log->ev[i].text, prefix, strlen(prefix));
	return n;
}

static const char *name_of(const struct ms_region *mr)
{
	const char *n;

	if (!mr)
		return "-";
	n = ms_region__name(mr);
	return n ? n : "(null)";
}

void section_fmt(char *buf, size_t len, const struct ms_section *s)
{
	char b1[U128_HEX_LEN];

	snprintf(buf, len, "%s 0x%" PRIx64 "+%s @0x%" PRIx64 "%s%s%s", name_of(s->mr),
		 s->offset_within_address_space, u128_hex(b1, s->size),
		 s->offset_within_region, s->readonly ? " ro" : "",
		 s->nonvolatile ? " nv" : "", s->unmergeable ? " um" : "");
}

/* ---- recording listener -------------------------------------------------- */

static void rec_log_section(struct rec *r, const char *what, const struct ms_section *s,
			    const char *extra)
{
	char buf[256];

	section_fmt(buf, sizeof(buf), s);
	evlog_add(r->log, s, "%s%s%s %s%s", r->tag, *r->tag ? ":" : "", what, buf,
		  extra ? extra : "");
}

static void rec_log(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rec_log(struct rec *r, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	evlog_add(r->log, NULL, "%s%s%s", r->tag, *r->tag ? ":" : "", buf);
}

static void rec_begin(void *opaque)
{
	struct rec *r = opaque;

	if (!(r->flags & REC_NO_BEGIN_COMMIT))
		rec_log(r, "begin");
}

static void rec_commit(void *opaque)
{
	struct rec *r = opaque;

	if (!(r->flags & REC_NO_BEGIN_COMMIT))
		rec_log(r, "commit");
}

static void rec_add(void *opaque, const struct ms_section *s)
{
	rec_log_section(opaque, "add", s, NULL);
}

static void rec_del(void *opaque, const struct ms_section *s)
{
	rec_log_section(opaque, "del", s, NULL);
}

static void rec_nop(void *opaque, const struct ms_section *s)
{
	struct rec *r = opaque;

	if (!(r->flags & REC_NO_NOP))
		rec_log_section(r, "nop", s, NULL);
}

static void rec_log_start(void *opaque, const struct ms_section *s, int old_mask, int new_mask)
{
	char extra[32];

	snprintf(extra, sizeof(extra), " %d->%d", old_mask, new_mask);
	rec_log_section(opaque, "log_start", s, extra);
}

static void rec_log_stop(void *opaque, const struct ms_section *s, int old_mask, int new_mask)
{
	char extra[32];

	snprintf(extra, sizeof(extra), " %d->%d", old_mask, new_mask);
	rec_log_section(opaque, "log_stop", s, extra);
}

static void rec_log_sync(void *opaque, const struct ms_section *s)
{
	rec_log_section(opaque, "log_sync", s, NULL);
}

static void rec_log_sync_global(void *opaque, bool last_stage)
{
	rec_log(opaque, "log_sync_global last=%d", last_stage);
}

static void rec_log_clear(void *opaque, const struct ms_section *s)
{
	rec_log_section(opaque, "log_clear", s, NULL);
}

static int rec_log_global_start(void *opaque)
{
	struct rec *r = opaque;

	rec_log(r, "log_global_start");
	return r->global_start_ret;
}

static void rec_log_global_stop(void *opaque)
{
	rec_log(opaque, "log_global_stop");
}

static void rec_log_global_after_sync(void *opaque)
{
	rec_log(opaque, "log_global_after_sync");
}

static void rec_eventfd(struct rec *r, const char *what, const struct ms_section *s,
			bool match_data, uint64_t data, void *notifier)
{
	char b1[U128_HEX_LEN];

	evlog_add(r->log, s, "%s%s%s 0x%" PRIx64 "+%s match=%d data=0x%" PRIx64 " n=%s", r->tag,
		  *r->tag ? ":" : "", what, s->offset_within_address_space,
		  u128_hex(b1, s->size), match_data, data,
		  notifier ? (const char *)notifier : "-");
}

static void rec_eventfd_add(void *opaque, const struct ms_section *s, bool match_data,
			    uint64_t data, void *notifier)
{
	rec_eventfd(opaque, "eventfd_add", s, match_data, data, notifier);
}

static void rec_eventfd_del(void *opaque, const struct ms_section *s, bool match_data,
			    uint64_t data, void *notifier)
{
	rec_eventfd(opaque, "eventfd_del", s, match_data, data, notifier);
}

static void rec_coalesced(struct rec *r, const char *what, const struct ms_section *s,
			  uint64_t addr, uint64_t len)
{
	evlog_add(r->log, s, "%s%s%s %s 0x%" PRIx64 "+0x%" PRIx64, r->tag, *r->tag ? ":" : "",
		  what, name_of(s->mr), addr, len);
}

static void rec_coalesced_add(void *opaque, const struct ms_section *s, uint64_t addr,
			      uint64_t len)
{
	rec_coalesced(opaque, "coalesced_add", s, addr, len);
}

static void rec_coalesced_del(void *opaque, const struct ms_section *s, uint64_t addr,
			      uint64_t len)
{
	rec_coalesced(opaque, "coalesced_del", s, addr, len);
}

struct rec *rec_new(struct evlog *log, const char *tag, unsigned int priority,
		    unsigned int flags)
{
	struct ms_listener_ops ops = {
		.begin = rec_begin,
		.commit = rec_commit,
		.region_add = rec_add,
		.region_del = rec_del,
		.region_nop = rec_nop,
		.log_start = rec_log_start,
		.log_stop = rec_log_stop,
		.log_clear = rec_log_clear,
		.log_global_start = rec_log_global_start,
		.log_global_stop = rec_log_global_stop,
		.log_global_after_sync = rec_log_global_after_sync,
		.coalesced_io_add = rec_coalesced_add,
		.coalesced_io_del = rec_coalesced_del,
	};
	struct rec *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (flags & REC_SYNC_GLOBAL)
		ops.log_sync_global = rec_log_sync_global;
	else
		ops.log_sync = rec_log_sync;
	if (!(flags & REC_NO_EVENTFD)) {
		ops.eventfd_add = rec_eventfd_add;
		ops.eventfd_del = rec_eventfd_del;
	}
	r->log = log;
	r->flags = flags;
	snprintf(r->tag, sizeof(r->tag), "%s", tag ? tag : "");
	r->l = ms_listener__new(&ops, r, priority, tag);
	if (!r->l) {
		free(r);
		return NULL;
	}
	return r;
}

void rec_free(struct rec *r)
{
	if (!r)
		return;
	ms_listener__free(r->l);
	free(r);
}

/* ---- dumpers --------------------------------------------------------------- */

char *fv_str(const struct ms_flatview *fv)
{
	char *buf = NULL, b1[U128_HEX_LEN];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < ms_flatview__nr_ranges(fv); i++) {
		const struct ms_flat_range *fr = ms_flatview__range(fv, i);

		fprintf(f, "0x%" PRIx64 "+%s %s@0x%" PRIx64 "%s%s%s%s", fr->start,
			u128_hex(b1, fr->size), name_of(fr->mr), fr->offset_in_region,
			fr->readonly ? " ro" : "", fr->nonvolatile ? " nv" : "",
			fr->unmergeable ? " um" : "", fr->romd_mode ? "" : " noromd");
		if (fr->dirty_log_mask)
			fprintf(f, " log=%u", fr->dirty_log_mask);
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

char *as_str(const struct ms_as *as)
{
	return fv_str(ms_as__flatview(as));
}

char *render_str(struct ms_region *root)
{
	struct ms_flatview *fv = ms_flatview__render(root, NULL);
	char *s;

	if (!fv)
		return NULL;
	s = fv_str(fv);
	ms_flatview__unref(fv);
	return s;
}

char *mtree_str(struct ms_ctx *ctx, unsigned int flags, ms_mtree_mem_fn fn, void *opaque)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return NULL;
	ret = ms_mtree_print(ctx, f, flags, fn, opaque);
	fclose(f);
	if (ret) {
		free(buf);
		return NULL;
	}
	return buf;
}

int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n = 0, cap = 4096;
	int c;

	if (!f)
		return NULL;
	buf = malloc(cap);
	if (!buf)
		abort();
	while ((c = fgetc(f)) != EOF) {
		if (c == '\r')
			continue;
		if (n + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * A directory of the tree: $@env when set and not empty, else @rel from
 * the working directory when it is the repository root, else from the
 * test binary in build/selftests, two levels below it.
 */
static const char *tree_dir(const char *env, const char *rel, char *buf, size_t len)
{
	const char *e = getenv(env);
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (e && *e)
		return e;
	if (!stat(rel, &st) && S_ISDIR(st.st_mode))
		return rel;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return rel;
	exe[n] = '\0';
	snprintf(buf, len, "%s/../../%s", dirname(exe), rel);
	return buf;
}

const char *samples_dir(void)
{
	static char buf[PATH_MAX];

	return tree_dir("MEMSLOT_SAMPLES", "selftests/samples/qemu-7.2", buf, sizeof(buf));
}

const char *corpus_dir(void)
{
	static char buf[PATH_MAX];

	return tree_dir("MEMSLOT_CORPUS", "selftests/corpus/qemu-7.2", buf, sizeof(buf));
}

/* ---- logging I/O device ------------------------------------------------------ */

int iodev_read(void *opaque, uint64_t addr, uint64_t *val, unsigned int size)
{
	struct iodev *d = opaque;
	uint64_t v = 0;

	for (unsigned int i = 0; i < size && addr + i < sizeof(d->mem); i++)
		v |= (uint64_t)d->mem[addr + i] << (8 * i);
	*val = v;
	if (d->log)
		evlog_add(d->log, NULL, "%s r 0x%" PRIx64 " %u", d->name, addr, size);
	return d->ret;
}

int iodev_write(void *opaque, uint64_t addr, uint64_t val, unsigned int size)
{
	struct iodev *d = opaque;

	for (unsigned int i = 0; i < size && addr + i < sizeof(d->mem); i++)
		d->mem[addr + i] = (uint8_t)(val >> (8 * i));
	if (d->log)
		evlog_add(d->log, NULL, "%s w 0x%" PRIx64 " %u 0x%" PRIx64, d->name, addr, size,
			  val);
	return d->ret;
}

struct find_name {
	const char *name;
	void *found;
};

static int find_as_cb(struct ms_as *as, void *opaque)
{
	struct find_name *f = opaque;
	const char *name = ms_as__name(as);

	if (!name || strcmp(name, f->name))
		return 0;
	f->found = as;
	return 1;
}

struct ms_as *find_as(struct ms_ctx *ctx, const char *name)
{
	struct find_name f = { .name = name };

	ms_ctx__for_each_as(ctx, find_as_cb, &f);
	return f.found;
}

static int find_subregion_cb(struct ms_region *mr, void *opaque)
{
	struct find_name *f = opaque;
	const char *name = ms_region__name(mr);

	if (!name || strcmp(name, f->name))
		return 0;
	f->found = mr;
	return 1;
}

struct ms_region *find_subregion(struct ms_region *container, const char *name)
{
	struct find_name f = { .name = name };

	ms_region__for_each_subregion(container, find_subregion_cb, &f);
	return f.found;
}

const char *kvm_unusable(void)
{
	static char why[128];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	snprintf(why, sizeof(why), "/dev/kvm cannot be opened: %s", strerror(errno));
	return why;
}

bool kvm_smm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	bool smm;

	if (fd < 0)
		return false;
	smm = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_SMM) > 0 &&
	      ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE) > 1;
	close(fd);
	return smm;
}

const char *kvm_no_vm(void)
{
	static char why[128];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

	if (fd < 0) {
		snprintf(why, sizeof(why), "/dev/kvm: %s", strerror(errno));
		return why;
	}
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		snprintf(why, sizeof(why), "/dev/kvm: KVM_CREATE_VM: %s", strerror(errno));
	else
		close(vm);
	close(fd);
	return vm < 0 ? why : NULL;
}

/* ---- captured library warnings ----------------------------------------------------- */

static char warn_buf[16384];
static size_t warn_len;

int warn_capture(enum ms_print_level level, const char *fmt, va_list ap)
{
	int n;

	if (level != MS_WARN || warn_len >= sizeof(warn_buf) - 2)
		return 0;
	n = vsnprintf(warn_buf + warn_len, sizeof(warn_buf) - warn_len - 1, fmt, ap);
	if (n < 0)
		return 0;
	warn_len += (size_t)n < sizeof(warn_buf) - warn_len - 1 ? (size_t)n
								 : sizeof(warn_buf) - warn_len - 2;
	if (warn_len && warn_buf[warn_len - 1] != '\n')
		warn_buf[warn_len++] = '\n';
	warn_buf[warn_len] = '\0';
	return n;
}

void warn_clear(void)
{
	warn_len = 0;
	warn_buf[0] = '\0';
}

const char *warn_text(void)
{
	return warn_buf;
}

int warn_count(const char *text)
{
	int n = 0;

	for (const char *p = warn_buf; (p = strstr(p, text)); p += strlen(text))
		n++;
	return n;
}

/* ---- machines ----------------------------------------------------------------------- */

struct ms_devmem_stats devmem_stats(struct ms_machine *m)
{
	struct ms_devmem_stats st;

	memset(&st, 0, sizeof(st));
	ms_machine__devmem_stats(m, &st);
	return st;
}

int memslot_line(const struct ms_memslot *s, void *opaque)
{
	const char *name = s->mr ? ms_region__name(s->mr) : "-";

	fprintf(opaque, "kvm %u 0x%" PRIx64 "+0x%" PRIx64 " f=%u %s@0x%" PRIx64 "\n", s->slot,
		s->gpa, s->size, s->flags, name ? name : "(null)", s->offset_in_region);
	return 0;
}

int as_list_collect(struct ms_as *as, void *opaque)
{
	struct as_list *l = opaque;

	if (l->n < (int)(sizeof(l->as) / sizeof(l->as[0])))
		l->as[l->n++] = as;
	return 0;
}

int memdev_state_line(struct ms_memdev *dev, void *opaque)
{
	struct ms_memdev_info i;
	struct ms_virtio_mem_status vs;

	memset(&i, 0, sizeof(i));
	ms_memdev__info(dev, &i);
	fprintf(opaque, "dev %s id=%s addr=0x%" PRIx64 " size=0x%" PRIx64 " slot=%d "
		"memdev=%s req=0x%" PRIx64 " block=0x%" PRIx64 " memslots=%u/%u plugged=0x%"
		PRIx64 "\n", ms_memdev_type_name(i.type), i.id ? i.id : "-", i.addr, i.size,
		i.slot, i.memdev ? i.memdev : "-", i.requested_size, i.block_size,
		i.memslots_used, i.memslots, i.plugged_size);
	if (i.type != MS_MEMDEV_VIRTIO_MEM || ms_virtio_mem__status(dev, &vs))
		return 0;
	fprintf(opaque, "  vmem plugged=0x%" PRIx64 " usable=0x%" PRIx64 " active=%u/%u blocks=",
		vs.plugged_size, vs.usable_region_size, vs.active_memslots, vs.nr_memslots);
	for (uint64_t o = 0; o < vs.region_size && o < 64 * vs.block_size; o += vs.block_size)
		fputc('0' + ms_virtio_mem__state(dev, o, vs.block_size), opaque);
	fputs(" groups=", opaque);
	for (uint64_t o = 0; o < vs.region_size; o += 16 * vs.block_size)
		fputc('0' + ms_virtio_mem__state(dev, o, 16 * vs.block_size), opaque);
	fputc('\n', opaque);
	return 0;
}

int consumer_state_line(const struct ms_consumer_info *c, void *opaque)
{
	fprintf(opaque, "consumer %d %s max=%u used=%u free=%u\n", c->kind,
		c->name ? c->name : "-", c->max, c->used, c->free);
	return 0;
}
