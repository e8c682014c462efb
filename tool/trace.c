// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot trace: follow KVM_SET_USER_MEMORY_REGION(2) ioctls of running
 * VMMs with bpf/trace.bpf.c.
 *
 * The tracer keeps a slot table per VM built from the successful events it
 * saw (kvm-memslots.md 10.4 - 10.6), which classifies each call (create,
 * delete, move, flags, no-op), names the slot an EEXIST overlapped and marks
 * churn: a slot id deleted and created again within a second. Slots that
 * existed before the trace started are unknown to it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "memslot.h"
#include "memslot_bpf.h"
#include "trace.skel.h"

#define NS_PER_SEC	UINT64_C(1000000000)
#define TRACE_AS	2		/* address spaces kept per VM */
#define TRACE_IDS	32768		/* slot ids kept per address space */
#define LAT_BUCKETS	24		/* log2 microsecond buckets */

enum trace_kind { K_CREATE, K_DELETE, K_MOVE, K_FLAGS, K_NOOP, K_NR };
static const char *const kind_names[K_NR] = { "create", "delete", "move", "flags", "noop" };

struct tslot {
	bool used;
	uint64_t gpa, size, hva;
	uint32_t flags;
	uint64_t deleted_ns;		/* time of the last delete, 0 if none */
};

struct tvm {
	uint64_t vm;
	uint32_t pid;
	char comm[16];
	struct tslot *as[TRACE_AS];
	uint64_t ok[K_NR], failed[K_NR];
	uint64_t churn;
	uint64_t lat[LAT_BUCKETS];
};

struct tracer {
	struct tvm *vms;
	size_t nr_vms;
	uint64_t events, limit;
	uint64_t mono_to_real;
	bool stop;
	int err;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static struct tvm *vm_get(struct tracer *t, const struct ms_trace_event *e)
{
	struct tvm *v;

	for (size_t i = 0; i < t->nr_vms; i++)
		if (t->vms[i].vm == e->vm && t->vms[i].pid == e->pid)
			return &t->vms[i];
	v = realloc(t->vms, (t->nr_vms + 1) * sizeof(*v));
	if (!v)
		return NULL;
	t->vms = v;
	v = &t->vms[t->nr_vms++];
	memset(v, 0, sizeof(*v));
	v->vm = e->vm;
	v->pid = e->pid;
	memcpy(v->comm, e->comm, sizeof(v->comm));
	return v;
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

static enum trace_kind classify(const struct tslot *s, const struct ms_trace_event *e)
{
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

static int print_event(struct tracer *t, struct tvm *v, const struct ms_trace_event *e,
		       enum trace_kind kind, bool churn, const char *why)
{
	unsigned int as = e->slot >> 16, id = e->slot & 0xffff;
	bool v2 = e->ioctl == MS_BPF_SET_REGION2;

	if (json_output) {
		struct json_object *o = json_object_new_object();
		const char *s;

		if (!o)
			return -ENOMEM;
		json_object_object_add(o, "time_ns", json_u64(e->time_ns));
		json_object_object_add(o, "pid", json_object_new_int64(e->pid));
		json_object_object_add(o, "tid", json_object_new_int64(e->tid));
		json_object_object_add(o, "comm", json_object_new_string(e->comm));
		json_object_object_add(o, "vm", json_u64(e->vm));
		json_object_object_add(o, "ioctl", json_object_new_string(v2 ? "region2" : "region"));
		json_object_object_add(o, "kind", json_object_new_string(kind_names[kind]));
		json_object_object_add(o, "as", json_object_new_int(as));
		json_object_object_add(o, "slot", json_object_new_int(id));
		json_object_object_add(o, "gpa", json_u64(e->gpa));
		json_object_object_add(o, "size", json_u64(e->size));
		json_object_object_add(o, "hva", json_u64(e->hva));
		json_object_object_add(o, "flags", json_object_new_int64(e->flags));
		json_object_object_add(o, "ret", json_object_new_int(e->ret));
		json_object_object_add(o, "latency_ns", json_u64(e->latency_ns));
		if (!e->ret) {
			json_object_object_add(o, "generation", json_u64(e->generation));
			json_object_object_add(o, "nr_memslot_pages", json_u64(e->nr_memslot_pages));
		}
		if (why[0])
			json_object_object_add(o, "error", json_object_new_string(why));
		json_object_object_add(o, "churn", json_object_new_boolean(churn));
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
		printf("%s\n", s);
		json_object_put(o);
	} else {
		uint64_t real = e->time_ns + t->mono_to_real;
		time_t sec = (time_t)(real / NS_PER_SEC);
		char tbuf[16], fbuf[24], res[96];
		struct tm tm;

		localtime_r(&sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		if (e->ret)
			snprintf(res, sizeof(res), "%s (%s)", strerrorname_np(-e->ret) ?: "error", why);
		else
			snprintf(res, sizeof(res), "ok gen %" PRIu64 " pages %" PRIu64,
				 e->generation, e->nr_memslot_pages);
		printf("%s.%06" PRIu64 " %-7u %-15s vm %#" PRIx64 " %s as %u slot %-5u %-6s "
		       "gpa %#" PRIx64 " size %#" PRIx64 " hva %#" PRIx64 " flags %s %" PRIu64 "us %s%s\n",
		       tbuf, real % NS_PER_SEC / 1000, e->pid, e->comm, e->vm, v2 ? "v2" : "v1",
		       as, id, kind_names[kind], e->gpa, e->size, e->hva,
		       memslot_flags_str(e->flags, fbuf, sizeof(fbuf)), e->latency_ns / 1000, res,
		       churn ? " churn" : "");
	}
	(void)v;
	return 0;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct tracer *t = ctx;
	const struct ms_trace_event *e = data;
	unsigned int as = e->slot >> 16, id = e->slot & 0xffff;
	enum trace_kind kind;
	struct tslot *s;
	struct tvm *v;
	bool churn = false;
	char why[96];

	if (len < sizeof(*e) || t->stop)
		return 0;
	v = vm_get(t, e);
	if (!v) {
		t->err = -ENOMEM;
		return -ENOMEM;
	}
	s = slot_get(v, as, id);
	kind = classify(s, e);
	explain(why, sizeof(why), v, e, s);
	v->lat[lat_bucket(e->latency_ns)]++;
	if (e->ret) {
		v->failed[kind]++;
	} else {
		v->ok[kind]++;
		if (s && kind == K_CREATE && s->deleted_ns &&
		    e->time_ns - s->deleted_ns < NS_PER_SEC) {
			churn = true;
			v->churn++;
		}
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
	t->err = print_event(t, v, e, kind, churn, why);
	if (++t->events >= t->limit && t->limit)
		t->stop = true;
	return t->err;
}

static void print_summary(struct tracer *t, uint64_t lost)
{
	FILE *f = json_output ? stderr : stdout;

	fprintf(f, "summary: %" PRIu64 " events, %" PRIu64 " lost\n", t->events, lost);
	for (size_t i = 0; i < t->nr_vms; i++) {
		struct tvm *v = &t->vms[i];
		unsigned int last = 0;

		fprintf(f, "vm %#" PRIx64 " pid %u %s:", v->vm, v->pid, v->comm);
		for (int k = 0; k < K_NR; k++)
			fprintf(f, " %s %" PRIu64 "/%" PRIu64, kind_names[k], v->ok[k],
				v->failed[k]);
		fprintf(f, " (ok/failed), churn %" PRIu64 "\n", v->churn);
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
		"Usage: memslot trace [-p PID] [--vm ID] [--duration S | --count N] [-j]\n"
		"\n"
		"Print every KVM_SET_USER_MEMORY_REGION(2) ioctl as it returns.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID       only this process\n"
		"      --vm ID         only this VM (the address printed after \"vm\")\n"
		"  -D, --duration S    stop after S seconds\n"
		"  -c, --count N       stop after N events\n"
		"  -j, --json          one JSON object per event and line\n"
		"  -h, --help          print this help and exit\n");
}

int do_trace(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL, 'p' },
		{ "vm",		required_argument,	NULL, 'V' },
		{ "duration",	required_argument,	NULL, 'D' },
		{ "count",	required_argument,	NULL, 'c' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t pid = 0, vm = 0, duration = 0, count = 0, lost = 0, deadline = 0;
	struct tracer t = { 0 };
	struct ring_buffer *rb = NULL;
	struct trace_bpf *skel;
	struct timespec mono, real;
	bool btf_tp;
	int opt, err, status = 1;
	uint32_t zero = 0;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:D:c:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, &pid) || !pid || pid > INT32_MAX)
				return usage_err("invalid process id: %s", optarg);
			break;
		case 'V':
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

	if (bpf_check_privileges())
		return 1;
	bpf_setup_libbpf();

	skel = trace_bpf__open();
	if (!skel) {
		p_err("cannot open the BPF object: %s", strerror(errno));
		return 1;
	}
	skel->rodata->targ_tgid = (uint32_t)pid;
	skel->rodata->targ_vm = vm;
	/* Probe: tp_btf needs the tracepoints in the kernel BTF; else raw_tp. */
	btf_tp = bpf_have_btf_tracepoints();
	bpf_program__set_autoload(skel->progs.enter_btf, btf_tp);
	bpf_program__set_autoload(skel->progs.exit_btf, btf_tp);
	bpf_program__set_autoload(skel->progs.enter_raw, !btf_tp);
	bpf_program__set_autoload(skel->progs.exit_raw, !btf_tp);
	fprintf(stderr, "memslot: trace: attach: %s/sys_enter + sys_exit; %s\n",
		btf_tp ? "tp_btf" : "raw_tp", bpf_kvm_hooks_note());

	err = trace_bpf__load(skel);
	if (!err)
		err = trace_bpf__attach(skel);
	if (err) {
		p_err("cannot load or attach the BPF programs: %s (run with -d for details)",
		      strerror(-err));
		goto out;
	}
	t.limit = count;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	t.mono_to_real = (uint64_t)(real.tv_sec - mono.tv_sec) * NS_PER_SEC +
			 (uint64_t)(real.tv_nsec - mono.tv_nsec);
	if (duration)
		deadline = (uint64_t)mono.tv_sec + duration;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event, &t, NULL);
	if (!rb) {
		p_err("cannot create the ring buffer: %s", strerror(errno));
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!interrupted && !t.stop && !t.err) {
		/* Events are submitted without wakeup: poll on a timer. */
		err = ring_buffer__poll(rb, 100);
		if (err >= 0)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR && !t.err) {
			p_err("cannot read events: %s", strerror(-err));
			goto out;
		}
		clock_gettime(CLOCK_MONOTONIC, &mono);
		if (deadline && (uint64_t)mono.tv_sec >= deadline)
			break;
	}
	/* what arrived after the last drain (SIGINT, deadline) */
	if (!t.err && !t.stop)
		ring_buffer__consume(rb);
	if (t.err) {
		p_err("cannot print events: %s", strerror(-t.err));
		goto out;
	}
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, &lost);
	print_summary(&t, lost);
	status = 0;
out:
	ring_buffer__free(rb);
	trace_bpf__destroy(skel);
	for (size_t i = 0; i < t.nr_vms; i++)
		for (int a = 0; a < TRACE_AS; a++)
			free(t.vms[i].as[a]);
	free(t.vms);
	return status;
}

/* --- the tracer of memslot run --verify ------------------------------------ */

struct trace_self {
	struct trace_bpf *skel;
	struct ring_buffer *rb;
	int (*fn)(const struct ms_trace_event *e, void *opaque);
	void *opaque;
};

static int self_event(void *ctx, void *data, size_t len)
{
	struct trace_self *ts = ctx;

	if (len < sizeof(struct ms_trace_event))
		return 0;
	return ts->fn(data, ts->opaque);
}

struct trace_self *trace_self_open(uint32_t tgid, const char **attach,
				   int (*fn)(const struct ms_trace_event *e, void *opaque),
				   void *opaque, int *err)
{
	struct trace_self *ts = calloc(1, sizeof(*ts));
	bool btf_tp;

	if (!ts) {
		*err = -ENOMEM;
		return NULL;
	}
	ts->fn = fn;
	ts->opaque = opaque;
	ts->skel = trace_bpf__open();
	if (!ts->skel) {
		*err = -errno;
		goto fail;
	}
	ts->skel->rodata->targ_tgid = tgid;
	btf_tp = bpf_have_btf_tracepoints();
	bpf_program__set_autoload(ts->skel->progs.enter_btf, btf_tp);
	bpf_program__set_autoload(ts->skel->progs.exit_btf, btf_tp);
	bpf_program__set_autoload(ts->skel->progs.enter_raw, !btf_tp);
	bpf_program__set_autoload(ts->skel->progs.exit_raw, !btf_tp);
	*attach = btf_tp ? "tp_btf/sys_enter + sys_exit" : "raw_tp/sys_enter + sys_exit";
	*err = trace_bpf__load(ts->skel);
	if (!*err)
		*err = trace_bpf__attach(ts->skel);
	if (*err)
		goto fail;
	ts->rb = ring_buffer__new(bpf_map__fd(ts->skel->maps.events), self_event, ts, NULL);
	if (!ts->rb) {
		*err = -errno;
		goto fail;
	}
	return ts;
fail:
	trace_self_close(ts);
	return NULL;
}

int trace_self_drain(struct trace_self *ts)
{
	int n = ring_buffer__consume(ts->rb);

	return n < 0 ? n : 0;
}

uint64_t trace_self_lost(struct trace_self *ts)
{
	uint64_t lost = 0;
	uint32_t zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(ts->skel->maps.lost), &zero, &lost);
	return lost;
}

void trace_self_close(struct trace_self *ts)
{
	if (!ts)
		return;
	ring_buffer__free(ts->rb);
	trace_bpf__destroy(ts->skel);
	free(ts);
}
