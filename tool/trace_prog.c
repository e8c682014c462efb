// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The loader of bpf/trace.bpf.c (trace_prog.h): the only code that opens
 * its skeleton. It chooses the attach point by trying them, most precise
 * first, after cheap checks (BTF, kallsyms, the kprobe PMU) that skip the
 * ones the kernel cannot have; the first that loads and attaches wins.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "memslot_bpf.h"
#include "trace.skel.h"
#include "trace_prog.h"

#ifndef ENOTSUPP
#define ENOTSUPP	524	/* the kernel's, for an unsupported trampoline */
#endif

enum mech { M_FENTRY, M_KPROBE, M_SYSCALL, M_NR };
static const char *const mech_names[M_NR] = { "fentry", "kprobe", "syscall" };

/* Functions, most precise first (trace.bpf.c says what each one sees). */
static const char *const funcs[] = {
	"kvm_set_memslot", "__kvm_set_memory_region", "kvm_set_memory_region",
};
#define NR_FUNCS	(sizeof(funcs) / sizeof(funcs[0]))

struct trace_prog {
	struct trace_bpf *skel;
	struct ring_buffer *rb;
	char attach[96];
	int source;
	int (*fn)(const struct ms_trace_event *e, void *opaque);
	void *opaque;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct trace_prog *tp = ctx;

	if (len < sizeof(struct ms_trace_event))
		return 0;
	return tp->fn(data, tp->opaque);
}

static void add_why(char *why, size_t len, const char *fmt, ...)
{
	size_t n = why ? strlen(why) : 0;
	va_list ap;

	if (!why || n + 3 >= len)
		return;
	if (n)
		n += (size_t)snprintf(why + n, len - n, "; ");
	va_start(ap, fmt);
	vsnprintf(why + n, len - n, fmt, ap);
	va_end(ap);
}

static const char *err_text(int err)
{
	if (err == -ENOTSUPP)
		return "not supported by this kernel";
	return strerror(-err);
}

static int split_attach(const char *attach, enum mech *m, const char **fn)
{
	size_t n = strcspn(attach, "/");

	*fn = attach[n] ? attach + n + 1 : NULL;
	for (int i = 0; i < M_NR; i++) {
		if (strlen(mech_names[i]) != n || strncmp(attach, mech_names[i], n))
			continue;
		*m = (enum mech)i;
		if (!*fn)
			return 0;
		if (*m == M_SYSCALL)
			return -EINVAL;
		for (size_t f = 0; f < NR_FUNCS; f++)
			if (!strcmp(*fn, funcs[f]))
				return 0;
		return -EINVAL;
	}
	return -EINVAL;
}

bool trace_prog_attach_valid(const char *attach)
{
	const char *fn;
	enum mech m;

	return !split_attach(attach, &m, &fn);
}

/* Where the BTF describes @fn: "vmlinux", "kvm module", or NULL. */
static const char *btf_has(const char *fn)
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *kvm = NULL;
	const char *where = NULL;

	if (!vmlinux)
		return NULL;
	if (btf__find_by_name_kind(vmlinux, fn, BTF_KIND_FUNC) > 0) {
		where = "vmlinux";
	} else {
		kvm = btf__load_module_btf("kvm", vmlinux);
		if (kvm && btf__find_by_name_kind(kvm, fn, BTF_KIND_FUNC) > 0)
			where = "kvm module";
	}
	btf__free(kvm);
	btf__free(vmlinux);
	return where;
}

static bool kallsyms_has(const char *fn)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[256], name[128], type;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*x %c %127s", &type, name) == 2 &&
			(type == 't' || type == 'T') && !strcmp(name, fn);
	fclose(f);
	return found;
}

static bool btf_tracepoints(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "btf_trace_sys_enter", BTF_KIND_TYPEDEF) > 0 &&
	     btf__find_by_name_kind(btf, "btf_trace_sys_exit", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return ok;
}

/* Open the skeleton with only the programs of (@m, @fn) to be loaded. */
static struct trace_bpf *skel_open(const struct trace_prog_opts *o, enum mech m,
				   const char *fn, bool btf_tp)
{
	struct trace_bpf *s = trace_bpf__open();
	bool memslot = fn && !strcmp(fn, funcs[0]);
	struct bpf_program *p;
	int err = 0;

	if (!s)
		return NULL;
	s->rodata->targ_tgid = o->tgid;
	s->rodata->targ_vm = o->vm;
	if (o->ring_size)
		err = bpf_map__set_max_entries(s->maps.events, (uint32_t)o->ring_size);
	bpf_object__for_each_program(p, s->obj)
		bpf_program__set_autoload(p, false);
	bpf_program__set_autoload(s->progs.vcpu_entry, o->vcpus);
	bpf_program__set_autoload(s->progs.vcpu_exit, o->vcpus);
	switch (m) {
	case M_FENTRY:
		if (memslot) {
			bpf_program__set_autoload(s->progs.memslot_fentry, true);
			bpf_program__set_autoload(s->progs.memslot_fexit, true);
		} else {
			bpf_program__set_autoload(s->progs.region_fentry, true);
			bpf_program__set_autoload(s->progs.region_fexit, true);
			err = err ?: bpf_program__set_attach_target(s->progs.region_fentry, 0, fn) ?:
			      bpf_program__set_attach_target(s->progs.region_fexit, 0, fn);
		}
		break;
	case M_KPROBE:
		bpf_program__set_autoload(memslot ? s->progs.memslot_kprobe :
					  s->progs.region_kprobe, true);
		bpf_program__set_autoload(s->progs.func_kretprobe, true);
		break;
	default:
		bpf_program__set_autoload(btf_tp ? s->progs.enter_btf : s->progs.enter_raw, true);
		bpf_program__set_autoload(btf_tp ? s->progs.exit_btf : s->progs.exit_raw, true);
	}
	if (err) {
		trace_bpf__destroy(s);
		errno = -err;
		return NULL;
	}
	return s;
}

static int try_attach(struct trace_prog *tp, const struct trace_prog_opts *o, enum mech m,
		      const char *fn, bool btf_tp)
{
	struct trace_bpf *s = skel_open(o, m, fn, btf_tp);
	int err;

	if (!s)
		return -errno;
	err = trace_bpf__load(s) ?: trace_bpf__attach(s);
	/*
	 * SEC("kprobe") names no function: attach here, into the skeleton's
	 * links (libbpf 1.x returns NULL and sets errno on failure;
	 * trace_bpf__destroy() frees the links that are set)
	 */
	if (!err && m == M_KPROBE) {
		bool memslot = !strcmp(fn, funcs[0]);
		struct bpf_link **in = memslot ? &s->links.memslot_kprobe : &s->links.region_kprobe;

		*in = bpf_program__attach_kprobe(memslot ? s->progs.memslot_kprobe :
						 s->progs.region_kprobe, false, fn);
		if (*in)
			s->links.func_kretprobe =
				bpf_program__attach_kprobe(s->progs.func_kretprobe, true, fn);
		err = *in && s->links.func_kretprobe ? 0 : -errno;
	}
	if (err) {
		trace_bpf__destroy(s);
		return err;
	}
	tp->skel = s;
	return 0;
}

struct trace_prog *trace_prog_open(const struct trace_prog_opts *o, int *err, char *why,
				   size_t why_len)
{
	struct trace_prog *tp = calloc(1, sizeof(*tp));
	const char *only_fn = NULL, *where;
	enum mech only = M_NR;

	if (why && why_len)
		why[0] = 0;
	if (!tp) {
		*err = -ENOMEM;
		return NULL;
	}
	tp->fn = o->fn;
	tp->opaque = o->opaque;
	/* the kernel's rule for BPF_MAP_TYPE_RINGBUF sizes */
	if (o->ring_size && (o->ring_size & (o->ring_size - 1) ||
			     o->ring_size % (uint64_t)sysconf(_SC_PAGESIZE) ||
			     o->ring_size > UINT32_MAX)) {
		*err = -EINVAL;
		add_why(why, why_len, "ring buffer size %" PRIu64
			": not a power of two multiple of the page size", o->ring_size);
		goto fail;
	}
	if (o->attach && split_attach(o->attach, &only, &only_fn)) {
		*err = -EINVAL;
		goto fail;
	}
	*err = -ENOENT;
	for (int m = M_FENTRY; m < M_SYSCALL && !tp->skel; m++) {
		if (only != M_NR && only != (enum mech)m)
			continue;
		if (m == M_KPROBE && access("/sys/bus/event_source/devices/kprobe/type", F_OK)) {
			add_why(why, why_len, "kprobe: no kprobe PMU (CONFIG_KPROBES)");
			*err = -EOPNOTSUPP;
			continue;
		}
		for (size_t f = 0; f < NR_FUNCS && !tp->skel; f++) {
			const char *fn = funcs[f];

			if (only_fn && strcmp(only_fn, fn))
				continue;
			where = m == M_FENTRY ? btf_has(fn) : kallsyms_has(fn) ? "kallsyms" : NULL;
			if (!where) {
				add_why(why, why_len, "%s/%s: not in %s", mech_names[m], fn,
					m == M_FENTRY ? "the BTF" : "kallsyms");
				continue;
			}
			*err = try_attach(tp, o, (enum mech)m, fn, false);
			if (!*err) {
				tp->source = f ? MS_TRACE_REGION : MS_TRACE_MEMSLOT;
				snprintf(tp->attach, sizeof(tp->attach), "%s/%s (%s%s)",
					 m == M_FENTRY ? "fentry+fexit" : "kprobe+kretprobe", fn,
					 where, m == M_FENTRY ? " BTF" : "");
				break;
			}
			add_why(why, why_len, "%s/%s: %s", mech_names[m], fn, err_text(*err));
			/* the mechanism, not the function, is missing */
			if (*err == -ENOTSUPP || *err == -EOPNOTSUPP)
				break;
		}
	}
	if (!tp->skel && (only == M_NR || only == M_SYSCALL)) {
		bool btf_tp = btf_tracepoints();

		*err = try_attach(tp, o, M_SYSCALL, NULL, btf_tp);
		if (*err)
			add_why(why, why_len, "syscall: %s", err_text(*err));
		tp->source = MS_TRACE_SYSCALL;
		snprintf(tp->attach, sizeof(tp->attach), "%s/sys_enter + sys_exit",
			 btf_tp ? "tp_btf" : "raw_tp");
	}
	if (!tp->skel)
		goto fail;
	tp->rb = ring_buffer__new(bpf_map__fd(tp->skel->maps.events), on_event, tp, NULL);
	if (!tp->rb) {
		*err = -errno;
		goto fail;
	}
	*err = 0;
	return tp;
fail:
	trace_prog_close(tp);
	return NULL;
}

const char *trace_prog_attach(const struct trace_prog *tp)
{
	return tp->attach;
}

int trace_prog_source(const struct trace_prog *tp)
{
	return tp->source;
}

int trace_prog_poll(struct trace_prog *tp, int timeout_ms)
{
	int n = ring_buffer__poll(tp->rb, timeout_ms);

	if (n >= 0)
		n = ring_buffer__consume(tp->rb);
	return n < 0 ? n : 0;
}

int trace_prog_drain(struct trace_prog *tp)
{
	int n = ring_buffer__consume(tp->rb);

	return n < 0 ? n : 0;
}

void trace_prog_detach(struct trace_prog *tp)
{
	trace_bpf__detach(tp->skel);
}

uint64_t trace_prog_lost(const struct trace_prog *tp)
{
	uint64_t lost = 0;
	uint32_t zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(tp->skel->maps.lost), &zero, &lost);
	return lost;
}

int trace_prog_lost_vms(const struct trace_prog *tp,
			void (*fn)(uint64_t vm, uint64_t lost, void *opaque), void *opaque)
{
	int fd = bpf_map__fd(tp->skel->maps.lost_vm), ncpus = libbpf_num_possible_cpus();
	uint64_t key, next, *per_cpu;
	void *prev = NULL;
	int ret = 0;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	/* entries are only added while this walks, never deleted */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		uint64_t sum = 0;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, per_cpu)) {
			ret = -errno;
			break;
		}
		for (int c = 0; c < ncpus; c++)
			sum += per_cpu[c];
		if (sum)
			fn(key, sum, opaque);
	}
	free(per_cpu);
	return ret;
}

uint64_t trace_prog_ring_size(const struct trace_prog *tp)
{
	return bpf_map__max_entries(tp->skel->maps.events);
}

void trace_prog_close(struct trace_prog *tp)
{
	if (!tp)
		return;
	ring_buffer__free(tp->rb);
	trace_bpf__destroy(tp->skel);
	free(tp);
}
