/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How the commands that look at running VMs (census, trace, verify) name
 * them: by process id (-p), by QEMU's QMP socket (--qmp) or by name (-n),
 * and how they print a VM's kernel id in JSON.
 */
#ifndef MEMSLOT_TOOL_VMSEL_H
#define MEMSLOT_TOOL_VMSEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* getopt_long() value of --qmp, which has no short form. */
#define VMSEL_OPT_QMP	0x100

/*
 * Longest name kept per process for display (QEMU's guest name or the
 * comm), with the NUL; -n compares the whole guest name.
 */
#define VMSEL_NAME_MAX	256

/**
 * struct vmsel_proc - one process a selection names
 * @pid: its process id
 * @name: QEMU's guest name (``-name guest=NAME`` or ``-name NAME`` in its
 *	command line) if it has one, else its comm (/proc/PID/comm)
 */
struct vmsel_proc {
	uint32_t pid;
	char name[VMSEL_NAME_MAX];
};

/**
 * struct vmsel_arg - one selection option as given
 * @opt: 'p', 'n' or VMSEL_OPT_QMP
 * @pid: the process id of 'p'
 * @val: the text of the option (points into argv)
 */
struct vmsel_arg {
	int opt;
	uint32_t pid;
	const char *val;
};

/**
 * struct vmsel - the processes named by -p, --qmp and -n options
 * @args: the options in the order given
 * @nr_args: number of @args
 * @procs: after vmsel_resolve(): each process once, in the order the
 *	options named them (the union of all options)
 * @nr: number of @procs; 0 when no option was given (every process)
 *
 * Zero-initialise it; free it with vmsel_free().
 */
struct vmsel {
	struct vmsel_arg *args;
	size_t nr_args;
	struct vmsel_proc *procs;
	size_t nr;
};

/**
 * vmsel_parse() - take one selection option of getopt_long()
 * @s: selection
 * @opt: what getopt_long() returned: 'p', 'n' or VMSEL_OPT_QMP
 * @arg: its argument (optarg; kept, not copied)
 *
 * Checks the syntax only (a process id, a non-empty name or path);
 * vmsel_resolve() looks the processes up.
 *
 * Return: 0, or EXIT_USAGE after reporting the usage error.
 */
int vmsel_parse(struct vmsel *s, int opt, const char *arg);

/**
 * vmsel_resolve() - find the processes the options name
 * @s: selection filled by vmsel_parse()
 *
 * -p: the process must exist ("no such process: PID"). --qmp: connects to
 * the unix socket (without a word of QMP) and takes the pid of the
 * process listening on it from SO_PEERCRED. -n: every process whose QEMU
 * command line has that guest name (``-name guest=NAME``, ``-name NAME``,
 * QEMU's ",," for a comma), compared whole; if there is none, every
 * process whose comm is NAME (a NAME of 15 characters or more by its first
 * 15, all the kernel keeps of a process name). This process itself never
 * matches a name.
 *
 * Return: 0, or 1 after reporting the one-line error naming the value.
 */
int vmsel_resolve(struct vmsel *s);

/**
 * vmsel_one() - the one process of a command that needs exactly one VM
 * @s: resolved selection
 * @what: the option to name when none was given, e.g. "-p, --qmp or -n"
 * @pid: set to its process id
 *
 * Reports a usage error when no option was given, and an error listing
 * each process (pid and name) when several match.
 *
 * Return: 0, EXIT_USAGE or 1.
 */
int vmsel_one(const struct vmsel *s, const char *what, uint32_t *pid);

/**
 * vmsel_has() - does the selection take the VMs of process @pid?
 * @s: resolved selection
 * @pid: process id
 *
 * Return: true if @pid is in @s or @s names no process (every process).
 */
bool vmsel_has(const struct vmsel *s, uint32_t pid);

/**
 * vmsel_name_of() - the name of process @pid as vmsel_proc.name gives it
 * @pid: process id
 * @buf: output
 * @len: bytes in @buf
 *
 * Return: @buf; empty if the process is gone.
 */
const char *vmsel_name_of(uint32_t pid, char *buf, size_t len);

/**
 * vmsel_free() - free what vmsel_parse() and vmsel_resolve() allocated
 * @s: selection (zeroed again)
 */
void vmsel_free(struct vmsel *s);

/**
 * vm_id_json() - a VM's id (its struct kvm address) as a JSON string
 * @vm: kernel address
 *
 * "0xffff8881..." rather than an integer: kernel addresses are above
 * 2^53, which JSON readers that hold numbers as doubles (jq 1.6,
 * JavaScript) round. Every -j output that names a VM uses it.
 *
 * Return: a new JSON string, or NULL on allocation failure.
 */
struct json_object *vm_id_json(uint64_t vm);

#endif
