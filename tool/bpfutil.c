// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot: what the BPF commands share: privileges and libbpf messages
 * (STYLE.md "BPF"); the probes of attach points live in the loaders.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
