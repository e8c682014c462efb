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

#include "tool.h"
#include "memslot_bpf.h"
#include "trace_prog.h"

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

static int handle_event(const struct ms_trace_event *e, void *opaque)
{
	struct tracer *t = opaque;
	unsigned int as = e->slot >> 16, id = e->slot & 0xffff;
	enum trace_kind kind;
	struct tslot *s;
	struct tvm *v;
	bool churn = false;
	char why[96];

	if (t->stop)
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
	uint64_t pid = 0, vm = 0, duration = 0, count = 0, deadline = 0;
	struct tracer t = { 0 };
	struct trace_prog *tp;
	struct timespec mono, real;
	int opt, err, status = 1;

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

	tp = trace_prog_open(&(struct trace_prog_opts){ .tgid = (uint32_t)pid, .vm = vm,
						      .fn = handle_event, .opaque = &t }, &err);
	if (!tp) {
		p_err("cannot load or attach the BPF programs: %s (run with -d for details)",
		      strerror(-err));
		return 1;
	}
	fprintf(stderr, "memslot: trace: attach: %s; %s\n", trace_prog_attach(tp),
		bpf_kvm_hooks_note());
	t.limit = count;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	t.mono_to_real = (uint64_t)(real.tv_sec - mono.tv_sec) * NS_PER_SEC +
			 (uint64_t)(real.tv_nsec - mono.tv_nsec);
	if (duration)
		deadline = (uint64_t)mono.tv_sec + duration;
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
	/* what arrived after the last drain (SIGINT, deadline) */
	if (!t.err && !t.stop)
		trace_prog_drain(tp);
	if (t.err) {
		p_err("cannot print events: %s", strerror(-t.err));
		goto out;
	}
	print_summary(&t, trace_prog_lost(tp));
	status = 0;
out:
	trace_prog_close(tp);
	for (size_t i = 0; i < t.nr_vms; i++)
		for (int a = 0; a < TRACE_AS; a++)
			free(t.vms[i].as[a]);
	free(t.vms);
	return status;
}
