/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot run in a guest kernel: on a host without a usable /dev/kvm, or
 * with --kernel, `memslot run` execs the kernel-in-the-loop runner
 * (memslot-vmtest, selftests/vmtest.sh) to run the same command line
 * inside a guest kernel booted under QEMU.
 */
#ifndef MEMSLOT_VMFALLBACK_H
#define MEMSLOT_VMFALLBACK_H

#include "plan.h"

/* The guest kernel of the fallback when --kernel is not given. */
#define VM_DEFAULT_KERNEL	"debian-6.12"

/* The environment variable naming the runner, used instead of the lookup. */
#define VM_RUNNER_ENV		"MEMSLOT_VMTEST_RUNNER"

/**
 * vm_fallback() - run `memslot run` inside a guest kernel if it has to
 * @p: the parsed command line (@p->kernel, @p->modules, @p->no_vm,
 *	@p->host_only)
 * @argc: run's argument count
 * @argv: run's arguments, argv[0] "run"
 *
 * Must be called before anything is set up (CPU affinity, KVM, BPF): on
 * success the process is replaced by
 *
 *   memslot-vmtest -q [--accel tcg] -k KERNEL [--modules DIR] --
 *	/proc/self/exe's path [-p|-j] [-d] run ARGS... --no-vm
 *
 * ARGS being @argv without --kernel and --modules, after one line on
 * stderr saying why and in which kernel. It goes into the guest with
 * --kernel, or without --no-vm when /dev/kvm cannot be opened or cannot
 * create a VM (KVM_CREATE_VM); then --accel tcg tells the runner so. The runner is $MEMSLOT_VMTEST_RUNNER if set,
 * else memslot-vmtest beside the executable, else in MS_LIBEXECDIR.
 *
 * Return: -1 to run on this host, else the exit status after an error
 * (reported).
 */
int vm_fallback(const struct plan *p, int argc, char **argv);

#endif /* MEMSLOT_VMFALLBACK_H */
