/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: internal declarations shared by main.c, the command files
 * and the embedded default topology.
 */
#ifndef MEMSLOT_TOOL_H
#define MEMSLOT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <memslot/memslot.h>

/* Global options (main.c), set before any command handler runs. */
extern bool json_output;	/* -j/--json, or -p */
extern bool pretty_output;	/* -p/--pretty */
extern bool debug_output;	/* -d/--debug */

/**
 * struct cmd - one entry of the command table
 * @name: full command name (no abbreviations are accepted)
 * @handler: do_<name>(argc, argv); argv[0] is the command name. Returns the
 *	exit status: 0, 1 (error) or 2 (usage error)
 * @summary: one line for `memslot help`
 */
struct cmd {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *summary;
};

/* The command table (main.c), terminated by an entry with a NULL name. */
extern const struct cmd cmds[];

/* Exit statuses (STYLE.md "CLI"). */
#define EXIT_USAGE 2

/**
 * set_cmd_name() - name the running command in error messages
 * @name: command name, or NULL for errors of the global command line
 */
void set_cmd_name(const char *name);

/* get_cmd_name() - the name set_cmd_name() gave, or NULL. Return: it. */
const char *get_cmd_name(void);

/**
 * p_err() - report an error
 * @fmt: printf format of "<problem>: <value>"
 *
 * Prints `memslot: <cmd>: <problem>: <value>` on stderr, or in JSON mode the
 * document `{"error": "<cmd>: <problem>: <value>"}` on stdout (only if no
 * document was written yet; otherwise the line goes to stderr).
 */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * usage_err() - report a usage error
 * @fmt: printf format of "<problem>: <value>"
 *
 * Like p_err().
 *
 * Return: EXIT_USAGE, for `return usage_err(...)`.
 */
int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * error_text() - the text to print for a failed library call
 * @e: the call's &struct ms_error
 * @errnum: positive errno to describe when the call left @e->msg empty;
 *	each caller names its source (errno, -ret or -@e->err)
 *
 * Return: @e->msg if it is set, else strerror(@errnum). The string lives
 * as long as @e or until the next strerror() call.
 */
const char *error_text(const struct ms_error *e, int errnum);

/* The "version" of every top-level JSON object memslot writes (memslot(8)). */
#define JSON_SCHEMA_VERSION	1

/**
 * json_print() - write the one JSON document of this run on stdout
 * @obj: document, consumed (its reference is dropped); NULL writes `null`
 *
 * Plain one-line output, or indented with -p. Slashes are not escaped.
 * An object gets "version": JSON_SCHEMA_VERSION as its first member
 * (json_versioned()).
 *
 * Return: 0, or 1 after reporting a write error.
 */
int json_print(struct json_object *obj);

/**
 * json_print_line() - write one JSON Lines record on stdout
 * @obj: object, consumed (its reference is dropped)
 *
 * For streams (trace -j): always one line, -p or not, with "version"
 * first like json_print(); the run may write many of them.
 */
void json_print_line(struct json_object *obj);

/**
 * json_versioned() - put "version": JSON_SCHEMA_VERSION first in an object
 * @obj: JSON object, consumed; anything else (or an object that has a
 *       "version" already) is returned as it is
 *
 * json-c keeps members in insertion order, so the members of @obj move to
 * a new object after "version". Out of memory, @obj is returned unchanged.
 *
 * Return: the object to print in place of @obj.
 */
struct json_object *json_versioned(struct json_object *obj);

/**
 * json_was_written() - whether this run wrote its JSON document already
 *
 * Return: true once json_print() has been called.
 */
bool json_was_written(void);

/**
 * json_write_text() - write serialised JSON, valid UTF-8 whatever the input
 * @f: output
 * @text: NUL-terminated JSON text from json-c
 *
 * json-c copies string bytes as they are, so names and messages taken from
 * inputs (imported dumps, task names, file names) could make the output
 * invalid JSON; every byte that does not start a valid UTF-8 sequence
 * becomes U+FFFD. Outside strings json-c writes ASCII only.
 */
void json_write_text(FILE *f, const char *text);

/**
 * json_u64() - exact unsigned 64-bit JSON integer
 * @v: value
 *
 * Return: a new JSON object (NULL only on allocation failure).
 */
struct json_object *json_u64(uint64_t v);

/**
 * json_str_or_null() - JSON string, or JSON null for a NULL string
 * @s: string or NULL
 *
 * Return: a new JSON object, or NULL (which json-c serialises as null).
 */
struct json_object *json_str_or_null(const char *s);

/**
 * parse_size() - parse a size with QEMU's suffixes (qemu_strtosz rules)
 * @str: text, e.g. "4G", "1.5M", "0x1000", "512k", "100"
 * @unit: multiplier of a number without suffix (1 for bytes, 1 << 20 for
 *	QEMU's `-m`, which defaults to MiB)
 * @out: result in bytes
 *
 * Suffixes B, K, M, G, T, P, E (either case) are powers of 1024. A decimal
 * fraction is allowed ("1.5G", rounded down to whole bytes); hexadecimal
 * numbers take no fraction and no suffix. Leading or trailing garbage,
 * negative values and results of 2^64 or more are refused.
 *
 * Return: 0, -EINVAL for malformed text, -ERANGE for an overflow.
 */
int parse_size(const char *str, uint64_t unit, uint64_t *out);

/**
 * parse_u64() - parse an unsigned number of memslot's own options
 * @str: text without sign or suffix: decimal (leading zeros allowed,
 *	"010" is ten) or 0x hexadecimal
 * @out: result
 *
 * Return: 0, -EINVAL for malformed text, -ERANGE for an overflow.
 */
int parse_u64(const char *str, uint64_t *out);

/**
 * parse_qemu_u64() - parse an unsigned number of QEMU's option syntax
 * @str: text without sign or suffix: decimal, 0x hexadecimal or, with a
 *	leading 0, octal (qemu_strtou64() with base 0: "slots=010" is 8)
 * @out: result
 *
 * Return: 0, -EINVAL for malformed text, -ERANGE for an overflow.
 */
int parse_qemu_u64(const char *str, uint64_t *out);

/**
 * parse_pid() - parse a process id: decimal digits only, 1 to INT32_MAX
 * @str: text
 * @pid: result
 *
 * Return: 0, or -EINVAL (leading zeros are decimal, signs and blanks refused).
 */
int parse_pid(const char *str, uint32_t *pid);

/**
 * pid_missing() - say so if process @pid does not exist
 * @pid: process id, 0 for none given
 *
 * Prints "no such process: PID" as the command's error.
 *
 * Return: true if @pid was given and no such process exists.
 */
bool pid_missing(uint32_t pid);

/* The largest input file read_file() takes: dumps, scripts and plans are far smaller. */
#define READ_FILE_MAX	(64u << 20)

/**
 * read_file() - read a whole file into memory
 * @path: file name
 * @buf: set to a malloc()ed copy of the contents, NUL-terminated (the NUL
 *	is not counted in @len); the caller frees it
 * @len: set to the number of bytes read
 *
 * Reads at most READ_FILE_MAX bytes (an endless file such as /dev/zero
 * ends with -EFBIG, not with the memory exhausted).
 *
 * Return: 0, or a negative errno (nothing allocated).
 */
int read_file(const char *path, char **buf, size_t *len);

/**
 * read_file_strerror() - the text of a read_file() error
 * @err: its negative errno
 *
 * Return: strerror(), or for -EFBIG a text naming the limit.
 */
const char *read_file_strerror(int err);

/**
 * memslot_flags_str() - KVM slot flags as short text
 * @flags: MS_KVM_MEM_* bits
 * @buf: output buffer
 * @size: bytes in @buf (24 holds every combination)
 *
 * "log" (LOG_DIRTY_PAGES), "ro" (READONLY) and "gmem" (GUEST_MEMFD),
 * comma-separated in that order; unknown bits as "0x<hex>"; "-" for none.
 *
 * Return: @buf.
 */
const char *memslot_flags_str(uint32_t flags, char *buf, size_t size);

/**
 * memslot_json() - one KVM memory slot as a JSON object
 * @s: slot
 *
 * {"slot": u32, "as": KVM address space id, "gpa": u64, "size": u64,
 *  "flags": MS_KVM_MEM_* bits as an integer, "region": name or null}.
 * Shared by every command that prints slots (mtree --memslots, plan,
 * run, census) so the rows look the same everywhere.
 *
 * Return: a new JSON object, or NULL on allocation failure.
 */
struct json_object *memslot_json(const struct ms_memslot *s);

/**
 * machine_kvm_maps() - a machine's KVM slot maps, address space 0 first
 * @m: machine
 * @maps: filled with up to two maps (1 with SMM)
 *
 * Return: how many (0 without KVM).
 */
size_t machine_kvm_maps(const struct ms_machine *m, struct ms_slotmap *maps[2]);

/**
 * memslot_table_print() - the KVM memslot table of mtree --memslots and plan
 * @f: output
 * @maps: slot maps, KVM address space 0 first
 * @nr_maps: number of @maps
 *
 *   slot  as  gpa                 size                flags  region
 *      0   0  0x0000000000000000  0x00000000000c0000  -      pc.ram
 *   total: 1 slots, 0xc0000 bytes
 *
 * One row per slot, map by map, slot ids ascending; flags as
 * memslot_flags_str(); with two maps the total line adds
 * "(as 0: N, as 1: M)".
 */
void memslot_table_print(FILE *f, struct ms_slotmap *const *maps, size_t nr_maps);

/**
 * memslot_table_json() - the same table as an array of memslot_json() rows
 * @maps: slot maps, KVM address space 0 first
 * @nr_maps: number of @maps
 *
 * Return: a new JSON array, or NULL on allocation failure.
 */
struct json_object *memslot_table_json(struct ms_slotmap *const *maps, size_t nr_maps);

/**
 * struct memslot_cols - the extra columns of `memslot run`'s memslot table
 * @backend: id of the memory backend behind a slot, or NULL ("-", null)
 * @verified: pages of the slot the last verification checked, or -1
 * @dirty: pages the guest dirtied since the last report, or -1 (not
 *	logged); NULL: no such column
 * @opaque: passed to the callbacks
 *
 * Text columns after "region": "backend", "verified" and, with @dirty,
 * "dirty"; JSON keys "backend", "verified_pages" and "dirty_pages"
 * (null where the callback returned NULL or -1).
 */
struct memslot_cols {
	const char *(*backend)(const struct ms_memslot *s, void *opaque);
	int64_t (*verified)(const struct ms_memslot *s, void *opaque);
	int64_t (*dirty)(const struct ms_memslot *s, void *opaque);
	void *opaque;
};

/**
 * memslot_table_print_cols() - memslot_table_print() with extra columns
 * @f: output
 * @maps: slot maps, KVM address space 0 first
 * @nr_maps: number of @maps
 * @cols: extra columns, or NULL for memslot_table_print()'s table
 *
 *   slot  as  gpa                 size                flags    region          backend         verified
 *      0   0  0x0000000000000000  0x00000000000c0000  -        pc.ram          pc.ram                 3
 */
void memslot_table_print_cols(FILE *f, struct ms_slotmap *const *maps, size_t nr_maps,
			      const struct memslot_cols *cols);

/**
 * memslot_table_json_cols() - memslot_table_json() with extra keys per row
 * @maps: slot maps, KVM address space 0 first
 * @nr_maps: number of @maps
 * @cols: extra columns, or NULL
 *
 * Return: a new JSON array, or NULL on allocation failure.
 */
struct json_object *memslot_table_json_cols(struct ms_slotmap *const *maps, size_t nr_maps,
					    const struct memslot_cols *cols);

/*
 * BPF commands (bpfutil.c, trace.c, census.c, verify.c); the loaders of
 * the BPF programs are trace_prog.h and census_prog.h.
 */

int do_trace(int argc, char **argv);
int do_census(int argc, char **argv);
int do_verify(int argc, char **argv);

/**
 * bpf_check_privileges() - can this process load and attach tracing BPF?
 *
 * Reads the effective capability set; reports one error naming what is
 * missing (CAP_BPF, CAP_PERFMON) if CAP_SYS_ADMIN does not stand in.
 *
 * Return: 0, or -EPERM after reporting.
 */
int bpf_check_privileges(void);

/**
 * bpf_missing_privileges() - what bpf_check_privileges() would report
 *
 * Return: NULL if CAP_BPF and CAP_PERFMON are effective, else static text
 * naming what is missing; prints nothing.
 */
const char *bpf_missing_privileges(void);

/**
 * bpf_setup_libbpf() - route libbpf's messages to stderr only with -d
 */
void bpf_setup_libbpf(void);

/*
 * Embedded default topology (topology.c): a QEMU 7.2 "pc" machine with
 * 4 GiB RAM (split around the PCI hole), a few MMIO and port-I/O devices,
 * the PAM and SMRAM aliases, and five address spaces.
 */

/* Size of the default machine's RAM: 3 GiB below 4 GiB, 1 GiB above. */
#define TOPO_RAM_SIZE		(4ULL << 30)
#define TOPO_BELOW_4G		0xc0000000ULL

#define TOPO_MAX_REGIONS	96
#define TOPO_MAX_AS		8
#define TOPO_MAX_DEVS		16

/**
 * struct topology - a machine built in a context
 * @ctx: the context (not owned)
 * @regions: every region created, each holding the creator's reference
 * @nr_regions: count of @regions
 * @as: address spaces in creation order
 * @nr_as: count of @as
 * @system: the "system" container (root of "memory" and "cpu-memory-0")
 * @io: the "io" region (root of "I/O")
 * @ram: "pc.ram"
 * @latch: state of the simple I/O devices (one register each: reads
 *	return the last value written)
 * @nr_latches: count of @latch in use
 * @err: details of the failure of topology_default()
 */
struct topology {
	struct ms_ctx *ctx;
	struct ms_region *regions[TOPO_MAX_REGIONS];
	size_t nr_regions;
	struct ms_as *as[TOPO_MAX_AS];
	size_t nr_as;
	struct ms_region *system;
	struct ms_region *io;
	struct ms_region *ram;
	uint64_t latch[TOPO_MAX_DEVS];
	size_t nr_latches;
	struct ms_error err;
};

/**
 * topology_default() - build the embedded default machine
 * @ctx: empty context
 * @t: filled; free with topology_free() on success
 *
 * Return: 0, or a negative errno with @t->err describing the failure
 * (nothing is left allocated in @ctx).
 */
int topology_default(struct ms_ctx *ctx, struct topology *t);

/**
 * topology_free() - free the address spaces and regions of a topology
 * @t: topology; the context itself is left to the caller
 */
void topology_free(struct topology *t);

/* Command handlers. */
int do_help(int argc, char **argv);
int do_mtree(int argc, char **argv);
int do_plan(int argc, char **argv);
int do_run(int argc, char **argv);

/**
 * getopt_usage_err() - the usage error of a getopt_long() failure
 * @opt: what getopt_long() returned (':' for a missing argument, '?')
 * @argv: the command's arguments
 *
 * Return: EXIT_USAGE, after printing the error.
 */
int getopt_usage_err(int opt, char **argv);

#endif /* MEMSLOT_TOOL_H */
