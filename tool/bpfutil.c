// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot: what the BPF commands share: privileges, libbpf messages and
 * kernel probes made before a skeleton is loaded (STYLE.md "BPF").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>

#include "tool.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

const char *bpf_missing_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	bool bpf, perfmon;

	if (syscall(SYS_capget, &h, d))
		return "cannot read the capabilities";
	/* CAP_SYS_ADMIN covers both on kernels from before the split (5.8). */
	bpf = has_cap(d, CAP_BPF) || has_cap(d, CAP_SYS_ADMIN);
	perfmon = has_cap(d, CAP_PERFMON) || has_cap(d, CAP_SYS_ADMIN);
	if (bpf && perfmon)
		return NULL;
	if (!bpf && !perfmon)
		return "missing capabilities: CAP_BPF and CAP_PERFMON (run as root)";
	return bpf ? "missing capabilities: CAP_PERFMON (run as root)" :
		     "missing capabilities: CAP_BPF (run as root)";
}

int bpf_check_privileges(void)
{
	const char *why = bpf_missing_privileges();

	if (!why)
		return 0;
	if (!strncmp(why, "cannot", 6))
		p_err("%s: %s", why, strerror(errno));
	else
		p_err("%s", why);
	return -EPERM;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

void bpf_setup_libbpf(void)
{
	libbpf_set_print(debug_output ? libbpf_print : NULL);
}

bool bpf_have_btf_tracepoints(void)
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

/*
 * Can an fexit program attach to kvm_set_memory_region()? Load and attach
 * an empty one ("return 0") and drop it at once; the kallsyms names of
 * ftrace say nothing about whether direct calls work.
 */
static bool fexit_works(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT);
	struct btf *btf = btf__load_vmlinux_btf();
	int id, prog, link;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "kvm_set_memory_region", BTF_KIND_FUNC);
	btf__free(btf);
	if (id <= 0)
		return false;
	o.attach_btf_id = id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &o);
	if (prog < 0)
		return false;
	link = bpf_link_create(prog, 0, BPF_TRACE_FEXIT, NULL);
	close(prog);
	if (link < 0)
		return false;
	close(link);
	return true;
}

const char *bpf_kvm_hooks_note(void)
{
	bool kprobe = !access("/sys/bus/event_source/devices/kprobe/type", F_OK);
	bool fexit = fexit_works();

	if (kprobe && fexit)
		return "kprobe and fexit on kvm_set_memory_region work but are not used";
	if (kprobe)
		return "fexit on kvm_set_memory_region does not attach";
	if (fexit)
		return "kprobe on kvm_set_memory_region unavailable (no CONFIG_KPROBES)";
	return "kprobe/fexit on kvm_set_memory_region unavailable "
	       "(no CONFIG_KPROBES, fexit does not attach)";
}
