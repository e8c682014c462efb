/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: the QEMU command line of `plan` and `run` (-M, -m,
 * -object, -device, --script; cmdline.c), the machine built from it
 * (machine.c), and the report sections both commands print (report.c,
 * report_json.c). `plan` builds the machine with backends that have no
 * host memory; `run` with real memory and the KVM binding as the executor
 * of slot operations.
 */
#ifndef MEMSLOT_PLAN_H
#define MEMSLOT_PLAN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "tool.h"
#include "scenario.h"

/* a parsed -object memory-backend-* */
struct object_arg {
	const char *text;
	struct backend_spec spec;
	bool ram;			/* boot RAM (-M memory-backend=, -numa memdev=) */
};

/* a parsed -device */
struct device_arg {
	const char *text;
	struct device_spec spec;
};

/* a -numa node (the other -numa types are only checked) */
struct numa_arg {
	const char *text;
	uint32_t nodeid;
	const char *memdev;		/* memdev=, NULL if none */
	uint64_t mem;			/* legacy mem= (pc-*-5.0 and older) */
	bool has_mem;
};

/**
 * struct qemu_machine_type - a pc or q35 machine type of QEMU 7.2
 * @name: "pc-i440fx-2.0", or the alias "pc" / "q35" (7.2)
 * @q35: the Q35 family, else i440FX
 * @major: version, e.g. 2
 * @minor: version, e.g. 0 (pc-q35-4.0.1 counts as 4.0)
 */
struct qemu_machine_type {
	const char *name;
	bool q35;
	int major, minor;
};

/**
 * qemu_option_kind() - is @name (without its dash) an option of QEMU 7.2?
 * @name: e.g. "cpu", "nodefaults"
 *
 * Return: 1 for an option that takes an argument, 0 for a flag, -1 if
 * QEMU does not know it.
 */
int qemu_option_kind(const char *name);

/* qemu_device_known() - is @driver a -device model of QEMU 7.2 (x86-64)? */
bool qemu_device_known(const char *driver);

/* qemu_object_known() - is @type a user-creatable -object type of QEMU 7.2? */
bool qemu_object_known(const char *type);

/**
 * qemu_machine_type_find() - a pc or q35 machine type QEMU 7.2 knows
 * @name: "pc", "q35", "pc-i440fx-X.Y", "pc-q35-X.Y"
 *
 * Return: the type, or NULL (other QEMU machines such as isapc or microvm
 * included: memslot models only these two families).
 */
const struct qemu_machine_type *qemu_machine_type_find(const char *name);

/* qemu_machine_at_most() - is @t's version @major.@minor or older? */
bool qemu_machine_at_most(const struct qemu_machine_type *t, int major, int minor);

/* a parsed --vhost-limit (plan only) */
struct vhost_arg {
	const char *text;
	struct qopts q;
	uint32_t limit;
	const char *name;		/* name=, NULL for default_name */
	char default_name[24];
	bool user;
	bool late;
};

/**
 * struct plan - the command line and the machine built from it
 * @run: parsed for `memslot run`: backends get host memory, KVM is
 *	required, --cpu/--dirty-log/--full are accepted and --kvm-memslots/
 *	--vhost-limit are not; the caller sets @kvm_memslots and
 *	@mo.kvm (the KVM binding) before plan_build()
 * @cpu: run --cpu N, -1 if not given
 * @dirty_log: run --dirty-log
 * @full: run --full
 * @verify: run --verify (BPF tracer and census against the kernel)
 * @kernel: run --kernel K: run inside guest kernel K (debian-X.Y or the
 *	path of a bzImage), NULL if not given
 * @modules: run --modules DIR: the modules of a --kernel PATH
 * @no_vm: run --no-vm: never run inside a guest kernel
 * @host_only: argv indices of --kernel, --modules and their values, which
 *	the run inside the guest kernel is not given (@nr_host_only of them)
 *
 * @machine_type: the -M type as QEMU 7.2 knows it (alias "pc"/"q35" kept)
 * @name: -name guest=NAME (or -name NAME), NULL if not given
 * @strict: --strict: the options below are refused, not ignored
 * @ignored: QEMU options, -object types, -device drivers and -M
 *	properties that do not change memory, as "-cpu", "-device
 *	virtio-net-pci", "-M usb" (each once, in order), listed in one note
 * @unmodelled: those that can change memory in a way the plan does not
 *	model (-mem-path, -bios, pflash, -readconfig, -set, -global,
 *	ivshmem), listed the same way in a separate warning
 * @numa: the -numa node options (@nr_numa)
 * @ram_backend: -M memory-backend=ID, NULL if not given
 * @ram_opts: the backends handed to the machine as its RAM (mo.ram_backends)
 * @no_acpi: -no-acpi or -M acpi=off: DIMMs cannot be plugged
 *
 * The other fields are cmdline.c's; the strings point into argv.
 */
struct plan {
	/* -M / -machine: every option kept for the second pass */
	const char **machine_texts;
	const char **machine_flags;	/* "-M" or "-machine", for messages */
	size_t nr_machine;
	const char *mtype;		/* "pc" or "q35" */
	const struct qemu_machine_type *machine_type;
	bool kvm;			/* accel=kvm (the default) */
	const char *accel_opt;		/* -accel given (its text), or -enable-kvm */
	const char *name;
	char *name_buf;			/* owns @name */
	bool strict;
	char **ignored;
	size_t nr_ignored;
	char **unmodelled;
	size_t nr_unmodelled;
	const char **numa_texts;	/* -numa, parsed after -M */
	size_t nr_numa_texts;
	struct numa_arg *numa;
	size_t nr_numa;
	const char *ram_backend;
	char *ram_backend_buf;		/* owns @ram_backend */
	struct ms_backend_opts *ram_opts;
	bool no_acpi;
	struct ms_machine_opts mo;
	bool ram_given;
	bool slots_given, maxmem_given;
	uint64_t slots_raw;		/* -m slots= as given (mo.slots saturates) */
	struct object_arg *objs;
	size_t nr_objs;
	struct device_arg *devs;
	size_t nr_devs;
	struct vhost_arg *vhosts;
	size_t nr_vhosts;
	uint32_t kvm_memslots;		/* 0: probe */
	int kvm_smm;			/* --kvm-smm: 1 on, -1 off, 0: probe */
	const char *script;
	const char *svg;		/* plan --svg FILE */
	bool quiet_ignored;		/* no note: a running VM's own options */
	struct scenario scn;

	bool run;
	int cpu;
	bool dirty_log;
	bool full;
	bool verify;
	const char *kernel;
	const char *modules;
	bool no_vm;
	int *host_only;
	size_t nr_host_only;

	struct ms_ctx *ctx;
	struct ms_machine *m;
};

/**
 * plan_parse_args() - parse the command's arguments into @p
 * @p: zeroed plan with @p->run and @p->mo.sz set
 * @argc: argument count (argv[0] is the command name)
 * @argv: arguments
 * @help: set if -h/--help was given (nothing else is parsed then)
 *
 * Return: the exit status: 0 to go on, 2 after a usage error, 1 after
 * another error (all reported).
 */
int plan_parse_args(struct plan *p, int argc, char **argv, bool *help);

/**
 * plan_load_script() - read and parse @p->script into @p->scn
 * @p: plan
 *
 * Return: 0, or 1 after reporting "FILE:LINE: problem".
 */
int plan_load_script(struct plan *p);

/**
 * plan_build() - build the machine, the backends, the cold-plugged devices
 * @p: parsed plan
 *
 * Errors are reported with QEMU's texts, prefixed with the option.
 *
 * Return: the exit status (0 to go on).
 */
int plan_build(struct plan *p);

/**
 * plan_kvm_fail_text() - QEMU's text for a failed memslot ioctl
 * @k: the KVM binding the operation ran on
 * @e: its error (MS_ERROR_KVM set, e.g. ms_kvm__first_error())
 * @buf: filled with QEMU's text for the operation (kvm-memslots.md 6.1,
 *	6.2, 6.8), "; kvm: " and the binding's explanation
 * @len: size of @buf
 */
void plan_kvm_fail_text(const struct ms_kvm *k, const struct ms_error *e, char *buf, size_t len);

/* plan_free() - free the machine, the context and the parsed options. @p: plan */
void plan_free(struct plan *p);

/*
 * Report sections (see plan.c's header comment and man/memslot-plan.8.rst):
 * "machine:" lines, `info memory-devices`, the memslot table, the
 * accounting lines, the flat view of "memory", and all of them with the
 * capacity (plan_print_report()). The printers return 0 or a negative
 * errno (only for an allocation failure); the JSON builders a new object
 * or NULL.
 */
void plan_print_machine(const struct plan *p, FILE *f);
int plan_print_devices(const struct plan *p, FILE *f);
int plan_print_memslots(const struct plan *p, FILE *f);
int plan_print_accounting(const struct plan *p, FILE *f);
int plan_print_flat(const struct plan *p, FILE *f);
int plan_print_report(const struct plan *p, FILE *f);
struct json_object *plan_machine_json(const struct plan *p);
struct json_object *plan_devices_json(const struct plan *p);
struct json_object *plan_accounting_json(const struct plan *p);
struct json_object *plan_consumers_json(const struct plan *p);
struct json_object *plan_flat_view_json(const struct plan *p);
struct json_object *plan_memslots_json(const struct plan *p);

/**
 * plan_add_state_json() - add "devices", "memslots", "accounting" and
 *	"consumers" to @o
 * @p: plan
 * @o: JSON object
 *
 * Return: 0 or -ENOMEM (the keys that could be built are added).
 */
int plan_add_state_json(const struct plan *p, struct json_object *o);

/**
 * plan_add_full_json() - add "machine", the state, "flat_view" and
 *	"capacity" to @doc
 * @p: plan
 * @doc: JSON object
 *
 * Return: 0 or -ENOMEM.
 */
int plan_add_full_json(const struct plan *p, struct json_object *doc);

/**
 * plan_print_warning() - ms_print_fn_t of plan and run
 * @level: message level
 * @fmt: format
 * @ap: arguments
 *
 * Library warnings are QEMU's warnings: "memslot: <cmd>: warning: ...";
 * other levels only with -d.
 *
 * Return: what fprintf returned.
 */
int plan_print_warning(enum ms_print_level level, const char *fmt, va_list ap);

#endif /* MEMSLOT_PLAN_H */
