/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: a running QEMU as the input of `memslot plan` (--from-pid
 * PID, --qmp SOCKET). The VM becomes an argument vector for
 * plan_parse_args(): its own command line (/proc/PID/cmdline without
 * argv[0]), with --qmp corrected to what the VM holds now (memory devices
 * and backends as query-memory-devices and query-memdev list them, at
 * their actual addresses and slots), then the user's options. The user's
 * -object and -device become a hot-plug onto that machine: object_add and
 * device_add steps (scenario.h) replayed after it was built.
 */
#ifndef MEMSLOT_TOOL_LIVE_H
#define MEMSLOT_TOOL_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "plan.h"
#include "scenario.h"

/**
 * struct live_vm - a running QEMU read for `plan`
 * @active: --from-pid or --qmp was given
 * @pid: QEMU's pid
 * @socket: the --qmp socket, NULL for --from-pid
 * @argv: the argument vector for plan_parse_args() (@argc entries,
 *	argv[0] the command name, NULL-terminated)
 * @argc: entries in @argv
 * @strs: strings allocated for @argv (@nr_strs of them)
 * @nr_strs: see @strs
 * @cmdline: /proc/PID/cmdline, NUL-separated (@argv points into it)
 * @hotplugged: the -device texts of @argv for devices hot-plugged after
 *	start (@nr_hotplugged of them; compared by address)
 * @nr_hotplugged: see @hotplugged
 * @nr_devices: memory devices the VM has now (--qmp), or cold-plugged by
 *	its command line (--from-pid)
 * @history: virtio-mem plugs of the VM, replayed before the hot-plug
 * @hotplug: the user's -object and -device as object_add / device_add
 *	steps; @line is the position of the option among the arguments
 * @mtree: the VM's `info mtree -f` (--qmp), or NULL
 * @vhost_limit: the --vhost-limit added for -netdev vhost=on, 0 if none
 * @memslots_match: after live_check_memslots(): 1 if the VM's KVM ranges
 *	equal the plan's, 0 if not, -1 if not compared
 */
struct live_vm {
	bool active;
	pid_t pid;
	const char *socket;
	char **argv;
	int argc;
	char **strs;
	size_t nr_strs;
	char *cmdline;
	const char **hotplugged;
	size_t nr_hotplugged;
	unsigned int nr_devices;
	struct scenario history;
	struct scenario hotplug;
	char *mtree;
	unsigned int vhost_limit;
	int memslots_match;
};

/**
 * live_open() - read the running QEMU named by --from-pid or --qmp
 * @lv: zeroed; filled (@lv->active stays false without those options, or
 *	with -h/--help); free with live_free()
 * @argc: plan's argument count
 * @argv: plan's arguments (argv[0] the command name)
 *
 * Errors are one line naming the option and its value, e.g.
 * "--from-pid 42: not a QEMU process: sleep".
 *
 * Return: the exit status: 0 to go on, 2 after a usage error, 1 after
 * another error.
 */
int live_open(struct live_vm *lv, int argc, char **argv);

/**
 * live_apply() - finish the parsed plan for the live VM
 * @lv: opened live VM
 * @p: plan parsed from @lv->argv (not yet built)
 *
 * Marks the hot-plugged devices and moves @lv->hotplug into @p->scn.
 *
 * Return: the exit status (2 for --script, which a live plan does not take).
 */
int live_apply(struct live_vm *lv, struct plan *p);

/**
 * live_replay() - replay @lv->history on the built machine
 * @lv: live VM
 * @p: built plan
 *
 * Return: the exit status (1 after reporting a step that failed).
 */
int live_replay(struct live_vm *lv, struct plan *p);

/**
 * live_check_memslots() - compare the VM's KVM ranges with the plan's
 * @lv: live VM; does nothing without @lv->mtree
 * @p: built plan, before the hot-plug
 *
 * The " KVM"-marked ranges of address space "memory" in @lv->mtree are
 * compared with the plan's KVM memslots of address space 0; if they
 * differ, a one-line warning on stderr says how. Sets @lv->memslots_match.
 */
void live_check_memslots(struct live_vm *lv, const struct plan *p);

/**
 * live_json() - the "live" member of plan's JSON document
 * @lv: live VM
 *
 * Return: {"pid", "qmp" (socket or null), "memory_devices", "hotplugged",
 * "vhost_limit" (or null), "memslots_match" (bool or null)}, or NULL on
 * allocation failure.
 */
struct json_object *live_json(const struct live_vm *lv);

/**
 * live_print() - the "live VM:" line of plan's text output
 * @lv: live VM
 * @f: output
 */
void live_print(const struct live_vm *lv, FILE *f);

/* live_free() - free what live_open() allocated. @lv: live VM */
void live_free(struct live_vm *lv);

#endif /* MEMSLOT_TOOL_LIVE_H */
