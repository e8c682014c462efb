// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot trace: follow the memslot changes of running VMs with
 * bpf/trace.bpf.c, attached where trace_prog.c finds the most precise
 * point (kvm_set_memslot(), the memory-region functions, the syscall).
 *
 * The tracer keeps a slot table per VM built from the successful events it
 * saw (kvm-memslots.md 10.4 - 10.6). Where the attach point does not see
 * KVM's own classification it classifies each call from that table
 * (create, delete, move, flags change, none), names the slot an EEXIST
 * overlapped and marks churn: a slot id deleted and created again within
 * a second. Slots that existed before the trace started are unknown to it.
 * --latency keeps every latency per change type, --gaps the ranges deletes
 * unmapped until a create maps them again.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"
#include "memslot_bpf.h"
#include "trace_prog.h"
#include "vmsel.h"

#define NS_PER_SEC	UINT64_C(1000000000)
#define TRACE_AS	2		/* address spaces kept per VM */
#define TRACE_IDS	32768		/* slot ids kept per address space */
#define LAT_BUCKETS	32		/* log2 microsecond buckets */

/* enum kvm_mr_change order, then what only a request can be. */
enum trace_kind { K_CREATE, K_DELETE, K_MOVE, K_FLAGS, K_NOOP, K_NR };
static const char *const kind_names[K_NR] = { "create", "delete", "move", "flags_only", "none" };

struct tslot {
	bool used;
	uint64_t gpa, size, hva;
	uint32_t flags;
	uint64_t deleted_ns;		/* time of the last delete, 0 if none */
};

/* A guest-physical range a delete unmapped, until a create maps it again. */
struct hole {
	unsigned int as;
	uint64_t gpa, size;
	uint64_t time_ns;
	uint64_t vcpu_entries;
};

struct tvm {
	uint64_t vm;
	uint32_t pid;
	char comm[16];
	struct tslot *as[TRACE_AS];
	uint64_t ok[K_NR], failed[K_NR];
	uint64_t churn, internal;
	uint64_t lost;			/* events the ring buffer had no room for */
	uint64_t lat[LAT_BUCKETS];
	struct hole *holes;
	size_t nr_holes;
};

/* Kernel latencies of one change type, kept whole for exact percentiles. */
struct lat_set {
	uint64_t *ns;
	size_t nr, cap;
	uint64_t sum;
	uint64_t hist[LAT_BUCKETS];
};

struct tracer {
	struct tvm *vms;
	size_t nr_vms;
	uint64_t events, limit, gaps;
	uint64_t lost;			/* every lost event, of a known VM or not */
	uint64_t ring_size;
	uint64_t mono_to_real;
	const char *source;		/* the attach point */
	bool vcpus;			/* vCPU entries are counted */
	bool quiet;			/* --summary, --gaps: no event lines */
	bool gap_mode;
	bool latency;
	struct lat_set lat[K_NR];
	const struct vmsel *sel;	/* several processes: filtered here */
	bool stop;
	int err;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static struct tvm *vm_add(struct tracer *t, uint64_t vm, uint32_t pid, const char *comm)
{
	struct tvm *v = realloc(t->vms, (t->nr_vms + 1) * sizeof(*v));

	if (!v)
		return NULL;
	t->vms = v;
	v = &t->vms[t->nr_vms++];
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->pid = pid;
	memcpy(v->comm, comm, sizeof(v->comm));
	return v;
}

static struct tvm *vm_get(struct tracer *t, const struct ms_trace_event *e)
{
	for (size_t i = 0; i < t->nr_vms; i++)
		if (t->vms[i].vm == e->vm && t->vms[i].pid == e->pid)
			return &t->vms[i];
	return vm_add(t, e->vm, e->pid, e->comm);
}

/*
 * The program counts lost events per VM only: they go to the first entry
 * of that VM, or to a new one (pid 0) when every event of the VM was lost.
 */
static void add_lost(uint64_t vm, uint64_t lost, void *opaque)
{
	static const char none[16] = "?";
	struct tracer *t = opaque;
	struct tvm *v = NULL;

	for (size_t i = 0; i < t->nr_vms && !v; i++)
		if (t->vms[i].vm == vm)
			v = &t->vms[i];
	if (!v && t->sel->nr > 1)
		return;		/* another process's VM, or one never seen */
	if (!v)
		v = vm_add(t, vm, 0, none);
	if (v)
		v->lost += lost;
	else
		t->err = -ENOMEM;
}

static struct tslot *slot_get(struct tvm *v, unsigned int as, unsigned int id)
{
	if (as >= TRACE_AS || id >= TRACE_IDS)
		return NULL;
	if (!v->as[as])
		v->as[as] = calloc(TRACE_IDS, sizeof(struct tslot));
	return v->as[as] ? &v->as[as][id] : NULL;
}

/* The slot of @v's address space @as other than @id that [gpa, gpa+size) overlaps. */
static int overlapped(struct tvm *v, unsigned int as, unsigned int id, uint64_t gpa,
		      uint64_t size)
{
	if (as >= TRACE_AS || !v->as[as])
		return -1;
	for (unsigned int i = 0; i < TRACE_IDS; i++) {
		const struct tslot *s = &v->as[as][i];

		if (s->used && i != id && gpa < s->gpa + s->size && s->gpa < gpa + size)
			return (int)i;
	}
	return -1;
}

/*
 * The kernel's classification where the attach point sees it; else the
 * one the trace's table gives (a slot it never saw counts as created).
 */
static enum trace_kind classify(const struct tslot *s, const struct ms_trace_event *e)
{
	if (e->change >= 0 && e->change < K_NOOP)
		return (enum trace_kind)e->change;
	if (!e->size)
		return K_DELETE;
	if (!s || !s->used)
		return K_CREATE;
	if (s->gpa != e->gpa)
		return K_MOVE;
	if (s->flags != e->flags)
		return K_FLAGS;
	return K_NOOP;
}

static void explain(char *buf, size_t size, struct tvm *v, const struct ms_trace_event *e,
		    const struct tslot *s)
{
	unsigned int as = e->slot >> 16, id = e->slot & 0xffff;
	int other;

	buf[0] = 0;
	switch (-e->ret) {
	case 0:
		break;
	case EEXIST:
		other = overlapped(v, as, id, e->gpa, e->size);
		if (other >= 0)
			snprintf(buf, size, "overlaps slot %d", other);
		else
			snprintf(buf, size, "overlaps a slot unknown to the trace");
		break;
	case EINVAL:
		if (!e->size && (!s || !s->used))
			snprintf(buf, size, "no such slot");
		else if ((e->gpa | e->size | e->hva) & 0xfff)
			snprintf(buf, size, "not page aligned");
		else if (s && s->used && (s->size != e->size || s->hva != e->hva))
			snprintf(buf, size, "resize or new hva of an existing slot");
		else if (s && s->used && ((s->flags ^ e->flags) & ~1u))
			snprintf(buf, size, "READONLY or GUEST_MEMFD change in place");
		else
			snprintf(buf, size, "invalid argument (flags, slot id or address space)");
		break;
	default:
		snprintf(buf, size, "%s", strerror(-e->ret));
	}
}

static unsigned int lat_bucket(uint64_t ns)
{
	unsigned int b = 0;

	for (uint64_t us = ns / 1000; us && b < LAT_BUCKETS - 1; us >>= 1)
		b++;
	return b;
}

static int lat_add(struct lat_set *l, uint64_t ns)
{
	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		uint64_t *n = realloc(l->ns, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->ns = n;
		l->cap = cap;
	}
	l->ns[l->nr++] = ns;
	l->sum += ns;
	l->hist[lat_bucket(ns)]++;
	return 0;
}

/*
 * The slot before the event: the kernel's where the attach point sees it,
 * else the table's (@derived set: used for --gaps, never printed as the
 * kernel's), else none.
 */
static bool old_slot(const struct ms_trace_event *e, const struct tslot *s, struct tslot *old,
		     bool *derived)
{
	*derived = false;
	if (e->has_old) {
		*old = (struct tslot){ .used = true, .gpa = e->old_gpa, .size = e->old_size,
				       .hva = e->old_hva, .flags = e->old_flags };
		return true;
	}
	if (e->source != MS_TRACE_MEMSLOT && s && s->used) {
		*old = *s;
		*derived = true;
		return true;
	}
	return false;
}

static bool is_internal(const struct ms_trace_event *e)
{
	return (e->slot & 0xffff) >= MS_BPF_USER_MEM_SLOTS;
}

static struct json_object *old_json(const struct tslot *old)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "gpa", json_u64(old->gpa));
	json_object_object_add(o, "size", json_u64(old->size));
	json_object_object_add(o, "flags", json_object_new_int64(old->flags));
	json_object_object_add(o, "hva", json_u64(old->hva));
	return o;
}

static const char *clock_text(const struct tracer *t, uint64_t mono_ns, char *buf, size_t len)
{
	uint64_t real = mono_ns + t->mono_to_real;
	time_t sec = (time_t)(real / NS_PER_SEC);
	char hms[16];
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06" PRIu64, hms, real % NS_PER_SEC / 1000);
	return buf;
}

static int print_event(struct tracer *t, const struct ms_trace_event *e, enum trace_kind kind,
		       const struct tslot *old, bool churn, const char *why)
{
	unsigned int as = e->slot >> 16, id = e->slot & 0xffff;
	bool v2 = e->ioctl == MS_BPF_SET_REGION2;

	if (json_output) {
		struct json_object *o = json_object_new_object();

		if (!o)
			return -ENOMEM;
		json_object_object_add(o, "time_ns", json_u64(e->time_ns));
		json_object_object_add(o, "vm", vm_id_json(e->vm));
		json_object_object_add(o, "pid", json_object_new_int64(e->pid));
		json_object_object_add(o, "tid", json_object_new_int64(e->tid));
		json_object_object_add(o, "comm", json_object_new_string(e->comm));
		json_object_object_add(o, "as", json_object_new_int(as));
		json_object_object_add(o, "slot", json_object_new_int(id));
		json_object_object_add(o, "change", json_object_new_string(kind_names[kind]));
		json_object_object_add(o, "gpa", json_u64(e->gpa));
		json_object_object_add(o, "size", json_u64(e->size));
		json_object_object_add(o, "flags", json_object_new_int64(e->flags));
		json_object_object_add(o, "hva", json_u64(e->hva));
		json_object_object_add(o, "old", old ? old_json(old) : NULL);
		json_object_object_add(o, "ret", json_object_new_int(e->ret));
		json_object_object_add(o, "generation", e->ret ? NULL : json_u64(e->generation));
		json_object_object_add(o, "nr_memslot_pages",
				       e->ret ? NULL : json_u64(e->nr_memslot_pages));
		json_object_object_add(o, "latency_ns", json_u64(e->latency_ns));
		json_object_object_add(o, "internal", json_object_new_boolean(is_internal(e)));
		json_object_object_add(o, "source", json_object_new_string(t->source));
		json_object_object_add(o, "ioctl", e->ioctl ?
				       json_object_new_string(v2 ? "region2" : "region") : NULL);
		json_object_object_add(o, "error", why[0] ? json_object_new_string(why) : NULL);
		json_object_object_add(o, "churn", json_object_new_boolean(churn));
		json_print_line(o);
	} else {
		char tbuf[24], fbuf[24], res[96], obuf[96] = "";

		if (e->ret)
			snprintf(res, sizeof(res), "%s (%s)", strerrorname_np(-e->ret) ?: "error", why);
		else
			snprintf(res, sizeof(res), "ok gen %" PRIu64 " pages %" PRIu64,
				 e->generation, e->nr_memslot_pages);
		if (old && kind != K_CREATE)
			snprintf(obuf, sizeof(obuf), " (was gpa %#" PRIx64 " size %#" PRIx64 ")",
				 old->gpa, old->size);
		printf("%s %-7u %-15s vm %#" PRIx64 " as %u slot %-5u %-10s gpa %#" PRIx64
		       " size %#" PRIx64 " hva %#" PRIx64 " flags %s%s %" PRIu64 "us %s%s%s\n",
		       clock_text(t, e->time_ns, tbuf, sizeof(tbuf)), e->pid, e->comm, e->vm, as,
		       id, kind_names[kind], e->gpa, e->size, e->hva,
		       memslot_flags_str(e->flags, fbuf, sizeof(fbuf)), obuf, e->latency_ns / 1000,
		       res, is_internal(e) ? " internal" : "", churn ? " churn" : "");
	}
	return 0;
}

static int print_gap(struct tracer *t, const struct tvm *v, const struct hole *h, uint64_t gpa,
		     uint64_t size, const struct ms_trace_event *e)
{
	uint64_t ns = e->time_ns - h->time_ns;
	int entered = t->vcpus ? e->vcpu_entries != h->vcpu_entries : -1;

	t->gaps++;
	if (json_output) {
		struct json_object *o = json_object_new_object();

		if (!o)
			return -ENOMEM;
		json_object_object_add(o, "vm", vm_id_json(v->vm));
		json_object_object_add(o, "pid", json_object_new_int64(v->pid));
		json_object_object_add(o, "comm", json_object_new_string(v->comm));
		json_object_object_add(o, "as", json_object_new_int((int)h->as));
		json_object_object_add(o, "gpa", json_u64(gpa));
		json_object_object_add(o, "size", json_u64(size));
		json_object_object_add(o, "unmapped_ns", json_u64(h->time_ns));
		json_object_object_add(o, "mapped_ns", json_u64(e->time_ns));
		json_object_object_add(o, "duration_ns", json_u64(ns));
		json_object_object_add(o, "vcpu_entries", entered < 0 ? NULL :
				       json_u64(e->vcpu_entries - h->vcpu_entries));
		json_object_object_add(o, "vcpu_entered", entered < 0 ? NULL :
				       json_object_new_boolean(entered));
		json_print_line(o);
	} else {
		char tbuf[24], vbuf[48] = "vcpu entries not counted";

		if (entered >= 0)
			snprintf(vbuf, sizeof(vbuf), "%" PRIu64 " vcpu entries%s",
				 e->vcpu_entries - h->vcpu_entries, entered ? " (vcpu entered)" : "");
		printf("%s %-7u %-15s vm %#" PRIx64 " as %u gap gpa %#" PRIx64 " size %#" PRIx64
		       " unmapped %" PRIu64 "us, %s\n", clock_text(t, e->time_ns, tbuf, sizeof(tbuf)),
		       v->pid, v->comm, v->vm, h->as, gpa, size, ns / 1000, vbuf);
	}
	return 0;
}

/* A create mapped [gpa, gpa+size): report and trim the holes it fills. */
static int fill_holes(struct tracer *t, struct tvm *v, const struct ms_trace_event *e)
{
	unsigned int as = e->slot >> 16;
	uint64_t lo = e->gpa, hi = e->gpa + e->size;
	int ret = 0;

	for (size_t i = 0; i < v->nr_holes && !ret; ) {
		struct hole *h = &v->holes[i];
		uint64_t hlo = h->gpa, hhi = h->gpa + h->size;
		uint64_t a = hlo > lo ? hlo : lo, b = hhi < hi ? hhi : hi;

		if (h->as != as || a >= b) {
			i++;
			continue;
		}
		ret = print_gap(t, v, h, a, b - a, e);
		if (hlo < a && b < hhi) {
			/* the create maps the middle: keep the tail as a new hole */
			struct hole tail = *h, *n = realloc(v->holes, (v->nr_holes + 1) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			v->holes = n;
			h = &v->holes[i];
			tail.gpa = b;
			tail.size = hhi - b;
			v->holes[v->nr_holes++] = tail;
			h->size = a - hlo;
		} else if (hlo < a) {
			h->size = a - hlo;
		} else if (b < hhi) {
			h->gpa = b;
			h->size = hhi - b;
		} else {
			v->holes[i] = v->holes[--v->nr_holes];
			continue;
		}
		i++;
	}
	return ret;
}

static int add_hole(struct tvm *v, const struct ms_trace_event *e, const struct tslot *old)
{
	struct hole *n = realloc(v->holes, (v->nr_holes + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	v->holes = n;
	v->holes[v->nr_holes++] = (struct hole){ .as = e->slot >> 16, .gpa = old->gpa,
						 .size = old->size, .time_ns = e->time_ns,
						 .vcpu_entries = e->vcpu_entries };
	return 0;
}

static int handle_event(const struct ms_trace_event *e, void *opaque)
{
	struct tracer *t = opaque;
	unsigned int as = e->slot >> 16, id = e->slot & 0xffff;
	struct tslot *s, old;
	enum trace_kind kind;
	bool churn = false, has_old, derived;
	struct tvm *v;
	char why[96];
	int ret = 0;

	if (t->stop || !vmsel_has(t->sel, e->pid))
		return 0;
	v = vm_get(t, e);
	if (!v) {
		t->err = -ENOMEM;
		return -ENOMEM;
	}
	s = slot_get(v, as, id);
	kind = classify(s, e);
	has_old = old_slot(e, s, &old, &derived);
	explain(why, sizeof(why), v, e, s);
	v->lat[lat_bucket(e->latency_ns)]++;
	if (is_internal(e))
		v->internal++;
	if (t->latency && !e->ret)
		ret = lat_add(&t->lat[kind], e->latency_ns);
	if (e->ret) {
		v->failed[kind]++;
	} else {
		v->ok[kind]++;
		if (s && kind == K_CREATE && s->deleted_ns &&
		    e->time_ns - s->deleted_ns < NS_PER_SEC) {
			churn = true;
			v->churn++;
		}
		if (!ret && t->gap_mode && kind == K_DELETE && has_old)
			ret = add_hole(v, e, &old);
		if (!ret && t->gap_mode && (kind == K_CREATE || kind == K_MOVE))
			ret = fill_holes(t, v, e);
		if (s && kind == K_DELETE) {
			s->used = false;
			s->deleted_ns = e->time_ns;
		} else if (s) {
			s->used = true;
			s->gpa = e->gpa;
			s->size = e->size;
			s->hva = e->hva;
			s->flags = e->flags;
		}
	}
	if (!ret && !t->quiet)
		ret = print_event(t, e, kind, has_old && !derived ? &old : NULL, churn, why);
	t->err = ret;
	if (++t->events >= t->limit && t->limit)
		t->stop = true;
	return t->err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted @l. */
static uint64_t pct(const struct lat_set *l, unsigned int p)
{
	size_t rank = (l->nr * p + 99) / 100;

	return l->ns[rank ? rank - 1 : 0];
}

/* --latency: one log2 histogram per change type, as bcc's funclatency draws them. */
static void print_latency(struct tracer *t)
{
	struct json_object *all = json_output ? json_object_new_object() : NULL;

	for (int k = 0; k < K_NR; k++) {
		struct lat_set *l = &t->lat[k];
		unsigned int last = 0, first = LAT_BUCKETS;
		uint64_t max = 0;

		if (!l->nr)
			continue;
		qsort(l->ns, l->nr, sizeof(*l->ns), cmp_u64);
		for (unsigned int b = 0; b < LAT_BUCKETS; b++) {
			if (!l->hist[b])
				continue;
			first = first < b ? first : b;
			last = b;
			max = max > l->hist[b] ? max : l->hist[b];
		}
		if (all) {
			struct json_object *o = json_object_new_object(), *h = json_object_new_array();

			for (unsigned int b = first; b <= last; b++) {
				struct json_object *r = json_object_new_object();

				json_object_object_add(r, "lo_us", json_u64(b ? 1ull << (b - 1) : 0));
				json_object_object_add(r, "hi_us", json_u64((1ull << b) - 1));
				json_object_object_add(r, "count", json_u64(l->hist[b]));
				json_object_array_add(h, r);
			}
			json_object_object_add(o, "count", json_u64(l->nr));
			json_object_object_add(o, "sum_ns", json_u64(l->sum));
			json_object_object_add(o, "p50_ns", json_u64(pct(l, 50)));
			json_object_object_add(o, "p99_ns", json_u64(pct(l, 99)));
			json_object_object_add(o, "histogram", h);
			json_object_object_add(all, kind_names[k], o);
			continue;
		}
		printf("\nchange = %s (%s)\n", kind_names[k], t->source);
		printf("%21s : %-8s |%-40s|\n", "usecs", "count", "distribution");
		for (unsigned int b = first; b <= last; b++) {
			char stars[41];
			unsigned int n = (unsigned int)(l->hist[b] * 40 / max);

			memset(stars, '*', n);
			stars[n] = 0;
			printf("%10llu -> %-8llu : %-8" PRIu64 " |%-40s|\n",
			       b ? 1ull << (b - 1) : 0ull, (1ull << b) - 1, l->hist[b], stars);
		}
		printf("count %zu, sum %" PRIu64 " us, avg %" PRIu64 " us, p50 %" PRIu64
		       " us, p99 %" PRIu64 " us\n", l->nr, l->sum / 1000, l->sum / l->nr / 1000,
		       pct(l, 50) / 1000, pct(l, 99) / 1000);
	}
	if (all) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "latency", all);
		json_object_object_add(o, "source", json_object_new_string(t->source));
		json_print_line(o);
	}
}

/* -j: the last line, {"summary": {...}}, the text summary's figures. */
static void print_summary_json(struct tracer *t)
{
	struct json_object *o = json_object_new_object(), *s = json_object_new_object();
	struct json_object *vms = json_object_new_array();
	uint64_t attributed = 0;

	for (size_t i = 0; i < t->nr_vms; i++) {
		struct json_object *vo = json_object_new_object(), *ch = json_object_new_object();
		struct tvm *v = &t->vms[i];

		for (int k = 0; k < K_NR; k++) {
			struct json_object *c = json_object_new_object();

			json_object_object_add(c, "ok", json_u64(v->ok[k]));
			json_object_object_add(c, "failed", json_u64(v->failed[k]));
			json_object_object_add(ch, kind_names[k], c);
		}
		json_object_object_add(vo, "vm", vm_id_json(v->vm));
		json_object_object_add(vo, "pid", v->pid ? json_object_new_int64(v->pid) : NULL);
		json_object_object_add(vo, "comm", v->pid ? json_object_new_string(v->comm) : NULL);
		json_object_object_add(vo, "changes", ch);
		json_object_object_add(vo, "internal", json_u64(v->internal));
		json_object_object_add(vo, "churn", json_u64(v->churn));
		json_object_object_add(vo, "lost", json_u64(v->lost));
		json_object_array_add(vms, vo);
		attributed += v->lost;
	}
	json_object_object_add(s, "source", json_object_new_string(t->source));
	json_object_object_add(s, "ring_size", json_u64(t->ring_size));
	json_object_object_add(s, "events", json_u64(t->events));
	json_object_object_add(s, "lost", json_u64(t->lost));
	json_object_object_add(s, "lost_unattributed",
			       json_u64(t->lost > attributed ? t->lost - attributed : 0));
	if (t->gap_mode)
		json_object_object_add(s, "gaps", json_u64(t->gaps));
	json_object_object_add(s, "vms", vms);
	json_object_object_add(o, "summary", s);
	json_print_line(o);
}

static void print_summary(struct tracer *t)
{
	FILE *f = json_output ? stderr : stdout;

	if (json_output)
		print_summary_json(t);
	fprintf(f, "summary: %" PRIu64 " events, %" PRIu64 " lost (ring buffer %" PRIu64
		" bytes)", t->events, t->lost, t->ring_size);
	if (t->gap_mode)
		fprintf(f, ", %" PRIu64 " gaps", t->gaps);
	fprintf(f, "\n");
	for (size_t i = 0; i < t->nr_vms; i++) {
		struct tvm *v = &t->vms[i];
		unsigned int last = 0;

		fprintf(f, "vm %#" PRIx64 " pid %u %s:", v->vm, v->pid, v->comm);
		for (int k = 0; k < K_NR; k++)
			fprintf(f, " %s %" PRIu64 "/%" PRIu64, kind_names[k], v->ok[k],
				v->failed[k]);
		fprintf(f, " (ok/failed), internal %" PRIu64 ", churn %" PRIu64 ", lost %" PRIu64
			"\n", v->internal, v->churn, v->lost);
		for (unsigned int b = 0; b < LAT_BUCKETS; b++)
			if (v->lat[b])
				last = b;
		fprintf(f, "  latency us      count\n");
		for (unsigned int b = 0; b <= last; b++)
			fprintf(f, "  %6llu-%-7llu %7" PRIu64 "\n", b ? 1ull << (b - 1) : 0ull,
				(1ull << b) - 1, v->lat[b]);
	}
}

static void trace_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot trace [-p PID | --qmp SOCKET | -n NAME]... [--vm ADDR]\n"
		"                     [--duration S | --count N]\n"
		"                     [--attach fentry|kprobe|syscall[/FUNCTION]]\n"
		"                     [--latency] [--summary] [--gaps] [--ring-size SIZE] [-j]\n"
		"\n"
		"Print every memslot change of running KVM VMs as it returns, seen in\n"
		"kvm_set_memslot() where the kernel allows, else at the syscall.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID       only this process\n"
		"      --qmp SOCKET    only the QEMU listening on this QMP unix socket\n"
		"  -n, --name NAME     only the QEMUs of -name guest=NAME (else the\n"
		"                      processes named NAME)\n"
		"      --vm ADDR       only the VM whose struct kvm is at this kernel\n"
		"                      address (\"vm\" of the events and of census)\n"
		"  -D, --duration S    stop after S seconds\n"
		"  -c, --count N       stop after N events\n"
		"  -a, --attach A      fentry, kprobe or syscall, optionally /FUNCTION:\n"
		"                      kvm_set_memslot, __kvm_set_memory_region,\n"
		"                      kvm_set_memory_region (default: the most precise)\n"
		"  -L, --latency       at the end, a kernel latency histogram per change type\n"
		"  -s, --summary       no event lines, only the totals per VM\n"
		"  -g, --gaps          print, instead of events, every range unmapped between\n"
		"                      a delete and the create that maps it again\n"
		"  -B, --ring-size SIZE\n"
		"                      ring buffer size (a power of two, at least a page;\n"
		"                      default 8M); events that do not fit are counted lost\n"
		"  -j, --json          one JSON object per event and line\n"
		"  -h, --help          print this help and exit\n");
}

static void tracer_free(struct tracer *t)
{
	for (size_t i = 0; i < t->nr_vms; i++) {
		for (int a = 0; a < TRACE_AS; a++)
			free(t->vms[i].as[a]);
		free(t->vms[i].holes);
	}
	free(t->vms);
	for (int k = 0; k < K_NR; k++)
		free(t->lat[k].ns);
}

static int trace_run(int argc, char **argv, struct vmsel *sel)
{
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL, 'p' },
		{ "qmp",	required_argument,	NULL, VMSEL_OPT_QMP },
		{ "name",	required_argument,	NULL, 'n' },
		{ "vm",		required_argument,	NULL, 'V' },
		{ "duration",	required_argument,	NULL, 'D' },
		{ "count",	required_argument,	NULL, 'c' },
		{ "attach",	required_argument,	NULL, 'a' },
		{ "latency",	no_argument,		NULL, 'L' },
		{ "summary",	no_argument,		NULL, 's' },
		{ "gaps",	no_argument,		NULL, 'g' },
		{ "ring-size",	required_argument,	NULL, 'B' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t vm = 0, duration = 0, count = 0, deadline = 0, ring_size = 0;
	struct tracer t = { .sel = sel };
	struct trace_prog_opts po;
	struct trace_prog *tp;
	struct timespec mono, real;
	const char *attach = NULL;
	int opt, err, status = 1;
	char why[512];

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:n:D:c:a:LsgB:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 'n':
		case VMSEL_OPT_QMP:
			err = vmsel_parse(sel, opt, optarg);
			if (err)
				return err;
			break;
		case 'V':
			/* 0x... as census and the events print it */
			if (parse_u64(optarg, &vm) || !vm)
				return usage_err("invalid VM id: %s", optarg);
			break;
		case 'D':
			if (parse_u64(optarg, &duration) || !duration)
				return usage_err("invalid duration: %s", optarg);
			break;
		case 'c':
			if (parse_u64(optarg, &count) || !count)
				return usage_err("invalid count: %s", optarg);
			break;
		case 'a':
			if (!trace_prog_attach_valid(optarg))
				return usage_err("invalid attach point: %s", optarg);
			attach = optarg;
			break;
		case 'L':
			t.latency = true;
			break;
		case 's':
			t.quiet = true;
			break;
		case 'g':
			t.gap_mode = t.quiet = true;
			break;
		case 'B':
			/* the kernel's rule for BPF_MAP_TYPE_RINGBUF sizes */
			if (parse_size(optarg, 1, &ring_size) || ring_size & (ring_size - 1) ||
			    ring_size % (uint64_t)sysconf(_SC_PAGESIZE) || ring_size > UINT32_MAX)
				return usage_err("invalid ring buffer size (a power of two, "
						 "from the page size to 2G): %s", optarg);
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			trace_usage(stdout);
			return 0;
		default:
			return getopt_usage_err(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument: %s", argv[optind]);
	if (duration && count)
		return usage_err("options exclude each other: %s", "--duration, --count");
	if (vmsel_resolve(sel))
		return 1;

	if (bpf_check_privileges())
		return 1;
	bpf_setup_libbpf();

	/* one process is filtered in the BPF program, several in handle_event() */
	po = (struct trace_prog_opts){ .tgid = sel->nr == 1 ? sel->procs[0].pid : 0, .vm = vm,
				       .attach = attach, .ring_size = ring_size, .fn = handle_event,
				       .opaque = &t };
	po.vcpus = t.vcpus = t.gap_mode;
	tp = trace_prog_open(&po, &err, why, sizeof(why));
	if (!tp && t.vcpus) {
		/* no kvm_entry/kvm_exit tracepoints: gaps without the vCPU column */
		po.vcpus = t.vcpus = false;
		tp = trace_prog_open(&po, &err, why, sizeof(why));
	}
	if (!tp) {
		p_err("cannot load or attach the BPF programs: %s (%s; run with -d for details)",
		      strerror(-err), why);
		return 1;
	}
	t.source = trace_prog_attach(tp);
	t.ring_size = trace_prog_ring_size(tp);
	fprintf(stderr, "memslot: trace: attach: %s%s%s%s%s\n", t.source, why[0] ? " (" : "",
		why, why[0] ? ")" : "",
		t.gap_mode && !t.vcpus ? "; vcpu entries not counted (no kvm_entry tracepoint)" :
		"");
	t.limit = count;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	t.mono_to_real = (uint64_t)(real.tv_sec - mono.tv_sec) * NS_PER_SEC +
			 (uint64_t)(real.tv_nsec - mono.tv_nsec);
	/* a duration beyond the clock's range never ends */
	if (duration)
		deadline = duration > UINT64_MAX - (uint64_t)mono.tv_sec ? UINT64_MAX :
			   (uint64_t)mono.tv_sec + duration;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!interrupted && !t.stop && !t.err) {
		/* Events are submitted without wakeup: poll on a timer. */
		err = trace_prog_poll(tp, 100);
		if (err < 0 && err != -EINTR && !t.err) {
			p_err("cannot read events: %s", strerror(-err));
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &mono);
		if (deadline && (uint64_t)mono.tv_sec >= deadline)
			break;
	}
	/*
	 * What arrived after the last read (SIGINT, deadline), detached
	 * first so that the lost counts read below are final.
	 */
	trace_prog_detach(tp);
	if (!t.err && !t.stop)
		trace_prog_drain(tp);
	if (t.err) {
		p_err("cannot print events: %s", strerror(-t.err));
		goto out;
	}
	/* after the last read: every event is either counted or lost */
	t.lost = trace_prog_lost(tp);
	err = trace_prog_lost_vms(tp, add_lost, &t);
	if (err || t.err) {
		p_err("cannot read the lost event counts: %s", strerror(-(err ?: t.err)));
		goto out;
	}
	if (t.latency)
		print_latency(&t);
	print_summary(&t);
	status = 0;
out:
	trace_prog_close(tp);
	tracer_free(&t);
	return status;
}

int do_trace(int argc, char **argv)
{
	struct vmsel sel = { 0 };
	int status = trace_run(argc, argv, &sel);

	vmsel_free(&sel);
	return status;
}
