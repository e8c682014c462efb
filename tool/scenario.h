/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: QEMU option lists (-object, -device, object_add,
 * device_add) turned into libmemslot options, and scenario scripts: the
 * parser and the executor shared by `plan` and `run`.
 *
 * Scenario script: one command per line; '#' starts a comment (to the end
 * of the line); blank lines are ignored. Commands:
 *
 *   object_add TYPE,id=ID,size=SIZE[,...]   like -object (HMP object_add)
 *   device_add TYPE,key=value[,...]         like -device (HMP device_add)
 *   device_del ID                           unplug request + guest eject
 *   qom-set ID requested-size SIZE          virtio-mem requested size
 *   virtio-mem plug ID OFFSET SIZE          guest PLUG request
 *   virtio-mem unplug ID OFFSET SIZE        guest UNPLUG request
 *   virtio-mem unplug-all ID                guest UNPLUG_ALL request
 *   info memory-devices|memslots|accounting|mtree
 *
 * ID may also be written as a QOM path /machine/peripheral/ID. Sizes and
 * offsets take QEMU's suffixes (bytes without one).
 */
#ifndef MEMSLOT_SCENARIO_H
#define MEMSLOT_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memslot/memslot.h>

/* Room for an error message: QEMU's text plus the option it names. */
#define QOPT_ERR_LEN	512

/**
 * struct qopt - one key=value of a QEMU option list
 * @key: key; the leading item without '=' gets the implied key
 * @value: value, ",," unescaped to ","
 */
struct qopt {
	char *key;
	char *value;
};

/**
 * struct qopts - a parsed QEMU option list ("pc-dimm,id=d1,memdev=m1")
 * @opt: items in order
 * @nr: number of items
 */
struct qopts {
	struct qopt *opt;
	size_t nr;
};

/**
 * qopts_parse() - split a QEMU option list
 * @text: "VALUE,key=value,..." (a first item without '=' is @implied's)
 * @implied: key of a leading item without '=' ("driver", "size", "type",
 *	"qom-type"), or NULL if every item needs "key="
 * @q: filled; free with qopts_free() (also after a failure)
 * @err: QOPT_ERR_LEN bytes for QEMU's text of the failure
 *
 * ",," stands for a literal comma inside a value, as in QEMU.
 *
 * Return: 0, -EINVAL (message in @err) or -ENOMEM.
 */
int qopts_parse(const char *text, const char *implied, struct qopts *q, char *err);

/* qopts_free() - free the items of @q. @q: list */
void qopts_free(struct qopts *q);

/**
 * qopts_get() - value of the last item with @key (QEMU: the last wins)
 * @q: list
 * @key: key
 *
 * Return: the value or NULL.
 */
const char *qopts_get(const struct qopts *q, const char *key);

/**
 * qopt_bool() - QEMU's boolean syntax (on/yes/true/y, off/no/false/n)
 * @key: key for the message
 * @s: text
 * @out: result
 * @err: QOPT_ERR_LEN bytes: "Parameter 'KEY' expects 'on' or 'off'"
 *
 * Return: 0 or -EINVAL.
 */
int qopt_bool(const char *key, const char *s, bool *out, char *err);

/* qopt_id_valid() - QEMU identifier: a letter, then letters, digits, '-', '.', '_' */
bool qopt_id_valid(const char *s);

/**
 * struct backend_spec - a parsed -object memory-backend-*
 * @q: the option list (the strings of @o point into it)
 * @o: library options; @o.no_memory is left to the caller
 */
struct backend_spec {
	struct qopts q;
	struct ms_backend_opts o;
};

/**
 * backend_spec_parse() - parse -object / object_add text
 * @text: "memory-backend-ram,id=m1,size=1G"
 * @s: filled; free with backend_spec_free() (also after a failure)
 * @err: QOPT_ERR_LEN bytes for QEMU's text
 *
 * Types: memory-backend-ram, -memfd, -file; properties id (required, an
 * identifier), size (required), share, prealloc, and for memory-backend-file
 * mem-path (required), align and readonly. Accepted and checked, without
 * effect on the model: host-nodes, policy, prealloc-threads,
 * prealloc-context, merge, dump, reserve,
 * x-use-canonical-path-for-ramblock-id; discard-data and pmem (file);
 * hugetlb, hugetlbsize and seal (memfd).
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int backend_spec_parse(const char *text, struct backend_spec *s, char *err);

/* backend_spec_free() - free what backend_spec_parse() allocated. @s: spec */
void backend_spec_free(struct backend_spec *s);

/**
 * struct device_spec - a parsed -device for a memory device
 * @q: the option list (the strings below point into it)
 * @o: library options; @o.memdev is NULL, see @memdev
 * @driver: the driver name as written ("pc-dimm", "virtio-mem-pci", ...)
 * @memdev: the memdev id, or NULL if not given
 */
struct device_spec {
	struct qopts q;
	struct ms_memdev_opts o;
	const char *driver;
	const char *memdev;
};

/**
 * device_spec_parse() - parse -device / device_add text
 * @text: "pc-dimm,id=d1,memdev=m1,slot=0"
 * @s: filled; free with device_spec_free() (also after a failure)
 * @err: QOPT_ERR_LEN bytes for QEMU's text
 *
 * Drivers pc-dimm, nvdimm, virtio-pmem-pci and virtio-mem-pci with QEMU's
 * property names: id, memdev, addr and slot, node (DIMMs); label-size and
 * unarmed (nvdimm); memaddr (virtio); node, requested-size, block-size,
 * dynamic-memslots, unplugged-inaccessible, prealloc (virtio-mem). For the
 * virtio PCI proxies, the PCI properties addr and bus are accepted and
 * ignored (they place the PCI function, not memory).
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int device_spec_parse(const char *text, struct device_spec *s, char *err);

/* device_spec_free() - free what device_spec_parse() allocated. @s: spec */
void device_spec_free(struct device_spec *s);

/**
 * device_spec_resolve() - look up the memdev of @s in @m
 * @m: machine
 * @s: parsed device; @s->o.memdev is set
 * @err: QOPT_ERR_LEN bytes: "Device 'ID' not found"
 *
 * Return: 0 or -ENOENT.
 */
int device_spec_resolve(struct ms_machine *m, struct device_spec *s, char *err);

/**
 * enum scn_cmd - scenario commands
 * @SCN_OBJECT_ADD: object_add
 * @SCN_DEVICE_ADD: device_add
 * @SCN_DEVICE_DEL: device_del
 * @SCN_QOM_SET: qom-set
 * @SCN_VMEM_PLUG: virtio-mem plug
 * @SCN_VMEM_UNPLUG: virtio-mem unplug
 * @SCN_VMEM_UNPLUG_ALL: virtio-mem unplug-all
 * @SCN_INFO: info
 */
enum scn_cmd {
	SCN_OBJECT_ADD,
	SCN_DEVICE_ADD,
	SCN_DEVICE_DEL,
	SCN_QOM_SET,
	SCN_VMEM_PLUG,
	SCN_VMEM_UNPLUG,
	SCN_VMEM_UNPLUG_ALL,
	SCN_INFO,
};

/**
 * enum scn_info - what `info` shows
 * @SCN_INFO_MEMORY_DEVICES: info memory-devices
 * @SCN_INFO_MEMSLOTS: the KVM memslot table
 * @SCN_INFO_ACCOUNTING: device-memory accounting and consumers
 * @SCN_INFO_MTREE: the flat view of "memory" (info mtree -f)
 */
enum scn_info {
	SCN_INFO_MEMORY_DEVICES,
	SCN_INFO_MEMSLOTS,
	SCN_INFO_ACCOUNTING,
	SCN_INFO_MTREE,
};

/**
 * struct scn_step - one command of a script
 * @line: line number, from 1
 * @cmd: command
 * @text: the command as written, without comment and surrounding blanks
 * @arg: object_add/device_add option list, or the device id
 * @prop: qom-set property name
 * @value: qom-set value text
 * @offset: virtio-mem plug/unplug offset
 * @size: virtio-mem plug/unplug size
 * @info: what `info` shows
 */
struct scn_step {
	unsigned int line;
	enum scn_cmd cmd;
	char *text;
	char *arg;
	char *prop;
	char *value;
	uint64_t offset, size;
	enum scn_info info;
};

/**
 * struct scenario - a parsed script
 * @steps: commands in order
 * @nr: number of commands
 */
struct scenario {
	struct scn_step *steps;
	size_t nr;
};

/**
 * scenario_parse() - parse a script
 * @text: the script, NUL-terminated
 * @s: filled; free with scenario_free() (also after a failure)
 * @line: set to the failing line number on -EINVAL
 * @err: QOPT_ERR_LEN bytes for the problem (without the line number)
 *
 * Only the form of each command is checked here (command name, number
 * of arguments, numbers); option lists and ids are checked when the step
 * runs, as QEMU checks them when the command runs.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int scenario_parse(const char *text, struct scenario *s, unsigned int *line, char *err);

/* scenario_free() - free a parsed script. @s: script */
void scenario_free(struct scenario *s);

/**
 * scenario_exec() - carry out one state-changing step on @m
 * @m: machine
 * @st: step; SCN_INFO does nothing here
 * @no_memory: create backends with no host memory (planning)
 * @err: QOPT_ERR_LEN bytes for QEMU's text of a failure
 *
 * Hot-plugged devices are marked hotplugged. A failing step leaves @m as
 * the library leaves it on failure (unchanged). A virtio-mem request that
 * is not answered ACK fails with the response named. A virtio-mem request
 * during which the KVM executor refused a slot operation is undone by the
 * library (answered BUSY) and fails with the slot map's text; the caller
 * clears the map's error (ms_slotmap__clear_ops()) before the next step.
 *
 * Return: 0, or a negative errno with @err set.
 */
int scenario_exec(struct ms_machine *m, const struct scn_step *st, bool no_memory, char *err);

/**
 * scn_info_name() - the argument of `info` for @info
 * @info: what
 *
 * Return: "memory-devices", "memslots", "accounting" or "mtree".
 */
const char *scn_info_name(enum scn_info info);

#endif /* MEMSLOT_SCENARIO_H */
