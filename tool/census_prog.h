/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one loader of bpf/census.bpf.c (an iter/task_file iterator over the
 * KVM VMs of running processes), used by memslot census, memslot verify
 * and memslot run --verify.
 *
 * The iterator emits a VM record, the VM's slots and a VM end record into
 * a ring buffer; the end record repeats the generations, and a walk that a
 * memslot update raced (a generation changed, or bit 63 marks a set being
 * replaced) or that lost records is run again, up to CENSUS_TRIES times.
 */
#ifndef MEMSLOT_TOOL_CENSUS_PROG_H
#define MEMSLOT_TOOL_CENSUS_PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memslot_bpf.h"

#define CENSUS_TRIES	3

/**
 * struct census_vm - one VM as the census read it
 * @head: its VM record
 * @end: its end record (valid if @done)
 * @slots: its slots, sorted by address space and slot id
 * @nr: number of @slots
 * @alloc: allocated entries of @slots
 * @done: the end record arrived
 */
struct census_vm {
	struct ms_census_vm head, end;
	struct ms_census_slot *slots;
	size_t nr, alloc;
	bool done;
};

/**
 * struct census - the VMs of one census pass
 * @vms: the VMs, in the order the iterator met them
 * @nr_vms: number of @vms
 * @elapsed_ns: time of the last pass (iterator plus ring buffer)
 * @lost: records the program could not submit, after the last pass
 */
struct census {
	struct census_vm *vms;
	size_t nr_vms;
	uint64_t elapsed_ns, lost;
};

struct census_prog;

/**
 * census_prog_open() - open, load and attach the census iterator
 * @tgid: only the VMs of this process (0: every process)
 * @err: set to a negative errno on failure
 *
 * Return: the loader, or NULL with @err set.
 */
struct census_prog *census_prog_open(uint32_t tgid, int *err);

/**
 * census_prog_set_pids() - keep only the VMs of these processes
 * @cp: loader
 * @pids: process ids (copied), or NULL for every process the loader sees
 * @nr: number of @pids
 *
 * For a census of several processes (census_prog_open() filters on one in
 * the BPF program): the VMs of other processes are dropped as their
 * records arrive, and their consistency does not count.
 *
 * Return: 0, or -ENOMEM.
 */
int census_prog_set_pids(struct census_prog *cp, const uint32_t *pids, size_t nr);

/**
 * census_prog_run() - read every VM's memslot table, consistently
 * @cp: loader
 *
 * Runs passes until one sees every VM consistent and lost nothing, at most
 * CENSUS_TRIES.
 *
 * Return: the census, valid until the next run or the close; or NULL with
 * errno set (EAGAIN: no consistent pass; the last pass stays readable
 * through census_prog_last()).
 */
const struct census *census_prog_run(struct census_prog *cp);

/**
 * census_prog_last() - the last pass, consistent or not
 * @cp: loader
 *
 * Return: the census of the last census_prog_run() pass.
 */
const struct census *census_prog_last(const struct census_prog *cp);

/**
 * census_prog_close() - detach and free (NULL is a no-op)
 * @cp: loader
 */
void census_prog_close(struct census_prog *cp);

/**
 * census_vm_consistent() - did the walk of @v see one consistent memslot set?
 * @v: VM
 *
 * Return: true if its end record arrived, nothing was truncated, every slot
 * announced was read and no generation changed or was being updated.
 */
bool census_vm_consistent(const struct census_vm *v);

/**
 * struct census_fd_vm - one VM of a process, found by its file descriptor
 * @vm: its struct kvm address
 * @slots: its slots, sorted by address space and slot id
 * @nr: number of @slots
 * @generation: the memslot generation of address space 0
 * @nr_memslot_pages: the kernel's page count of all its slots
 * @lost: records lost in the last pass
 * @ns: time of the last pass
 */
struct census_fd_vm {
	uint64_t vm;
	const struct ms_census_slot *slots;
	size_t nr;
	uint64_t generation, nr_memslot_pages;
	uint64_t lost;
	uint64_t ns;
};

/**
 * census_prog_read_fd() - census_prog_run(), then the VM whose file is @fd
 * @cp: loader (opened for one process)
 * @fd: the VM's file descriptor in that process
 * @out: the VM; its slots stay valid until the next run or the close
 *
 * Return: 0; -EAGAIN if no pass was consistent (@out holds the last pass);
 * -ENOENT if no VM has that file (@out says how long the pass took and
 * what it lost); or another negative errno.
 */
int census_prog_read_fd(struct census_prog *cp, int fd, struct census_fd_vm *out);

/**
 * census_find_fd() - the VM of @c whose file descriptor is @fd
 * @c: census
 * @fd: the VM file descriptor in its process
 *
 * Return: the VM, or NULL.
 */
const struct census_vm *census_find_fd(const struct census *c, int fd);

#endif
