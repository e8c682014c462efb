// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot run in a guest kernel (vmfallback.h): probe /dev/kvm the way
 * `run` would use it, find the runner, exec it. Nothing of the run is set
 * up before the exec, so the process the runner starts inside the guest
 * begins from the same state (no CPU affinity, no VM, no BPF program).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"
#include "vmfallback.h"

/* `make install` puts the runner here; the Makefile may override it. */
#ifndef MS_LIBEXECDIR
#define MS_LIBEXECDIR	"/usr/local/libexec/memslot"
#endif

#define RUNNER_NAME	"memslot-vmtest"

/*
 * Can this host run the VM? /dev/kvm must open read-write and create a VM
 * (a guest without nested virtualization may have the node, or a
 * container may forbid the ioctl). The runner's `--kvm-usable`
 * (selftests/vmtest.sh) makes the same test for its default --accel and
 * for the Makefile; a fallback decided here passes `--accel tcg` itself.
 * Return: true, else false with @why.
 */
static bool kvm_usable(char *why, size_t len)
{
	int fd, vm, e;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return false;
	}
	do
		vm = ioctl(fd, KVM_CREATE_VM, 0);
	while (vm < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (vm < 0) {
		snprintf(why, len, "/dev/kvm: KVM_CREATE_VM: %s", strerror(e));
		return false;
	}
	close(vm);
	return true;
}

/* NULL if @path is an executable file, else why not. */
static const char *not_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return strerror(errno);
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	return access(path, X_OK) ? strerror(errno) : NULL;
}

/* The runner, into @buf. Return: 0, or 1 after reporting why not. */
static int find_runner(const char *exe, const char *why, char *buf, size_t len)
{
	const char *env = getenv(VM_RUNNER_ENV);
	char dir[PATH_MAX];

	if (env && *env) {
		const char *bad = not_executable(env);

		if (bad) {
			p_err("%s: %s=%s: %s", why, VM_RUNNER_ENV, env, bad);
			return 1;
		}
		snprintf(buf, len, "%s", env);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", exe);
	*strrchr(dir, '/') = '\0';
	snprintf(buf, len, "%s/%s", dir, RUNNER_NAME);
	if (!not_executable(buf))
		return 0;
	snprintf(buf, len, "%s/%s", MS_LIBEXECDIR, RUNNER_NAME);
	if (!not_executable(buf))
		return 0;
	p_err("%s: cannot run in a guest kernel: no %s in %s or %s", why, RUNNER_NAME, dir,
	      MS_LIBEXECDIR);
	return 1;
}

int vm_fallback(const struct plan *p, int argc, char **argv)
{
	char why[PATH_MAX + 64], exe[PATH_MAX], runner[PATH_MAX + 32];
	const char *kernel = p->kernel;
	bool no_kvm = false;
	const char **args;
	struct stat st;
	size_t n = 0;

	if (p->no_vm)
		return -1;
	if (!kernel) {
		if (kvm_usable(why, sizeof(why)))
			return -1;
		kernel = VM_DEFAULT_KERNEL;
		no_kvm = true;
	} else {
		snprintf(why, sizeof(why), "--kernel %s", kernel);
		/* debian-X.Y names a package the runner fetches; anything else a file */
		if (strncmp(kernel, "debian-", 7) && access(kernel, R_OK)) {
			p_err("--kernel %s: %s", kernel, strerror(errno));
			return 1;
		}
		if (p->modules && stat(p->modules, &st)) {
			p_err("--modules %s: %s", p->modules, strerror(errno));
			return 1;
		}
		if (p->modules && !S_ISDIR(st.st_mode)) {
			p_err("--modules %s: %s", p->modules, strerror(ENOTDIR));
			return 1;
		}
	}

	if (!realpath("/proc/self/exe", exe)) {
		p_err("%s: cannot run in a guest kernel: /proc/self/exe: %s", why, strerror(errno));
		return 1;
	}
	if (find_runner(exe, why, runner, sizeof(runner)))
		return 1;

	/* runner -q [--accel tcg] -k K [--modules D] -- exe [-p|-j] [-d] run ARGS --no-vm NULL */
	args = calloc((size_t)argc + 16, sizeof(*args));
	if (!args) {
		p_err("%s: %s", why, strerror(ENOMEM));
		return 1;
	}
	args[n++] = runner;
	args[n++] = "-q";
	if (no_kvm) {
		/* the runner is told, not left to try /dev/kvm again */
		args[n++] = "--accel";
		args[n++] = "tcg";
	}
	args[n++] = "-k";
	args[n++] = kernel;
	if (p->modules) {
		args[n++] = "--modules";
		args[n++] = p->modules;
	}
	args[n++] = "--";
	args[n++] = exe;
	if (pretty_output)
		args[n++] = "-p";
	else if (json_output)
		args[n++] = "-j";
	if (debug_output)
		args[n++] = "-d";
	args[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		bool skip = false;

		for (size_t k = 0; k < p->nr_host_only && !skip; k++)
			skip = p->host_only[k] == i;
		if (!skip)
			args[n++] = argv[i];
	}
	/* inside, the run never looks for a guest kernel again */
	args[n++] = "--no-vm";
	args[n] = NULL;

	if (p->kernel)
		fprintf(stderr, "memslot: %s: running in guest kernel %s (%s)\n",
			get_cmd_name() ?: "run", kernel, RUNNER_NAME);
	else
		fprintf(stderr, "memslot: %s: %s: running in guest kernel %s (%s)\n",
			get_cmd_name() ?: "run", why, kernel, RUNNER_NAME);
	fflush(stdout);
	execv(runner, (char **)args);
	p_err("%s: %s", runner, strerror(errno));
	free(args);
	return 1;
}
