/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal QMP client for the tests that drive a real QEMU.
 */
#ifndef MEMSLOT_SELFTESTS_QMP_H
#define MEMSLOT_SELFTESTS_QMP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* How long a QMP answer may take. */
#define QMP_TIMEOUT_MS	20000

/**
 * struct qmp - one QMP connection
 * @fd: the connected socket, -1 if none
 * @rbuf: bytes read and not yet parsed
 * @rlen: bytes in @rbuf
 * @rcap: size of @rbuf
 */
struct qmp {
	int fd;
	char *rbuf;
	size_t rlen, rcap;
};

/**
 * qmp_read() - next message that is not an event
 * @q: connection
 *
 * Return: the message (a new reference), or NULL on timeout, EOF or bad JSON.
 */
struct json_object *qmp_read(struct qmp *q);

/**
 * qmp_call() - run a command
 * @q: connection
 * @cmd: command name
 * @args: arguments (consumed), or NULL
 * @err: set to the error text on failure
 * @errlen: size of @err
 *
 * Return: the "return" value (a new reference), or NULL with @err set.
 */
struct json_object *qmp_call(struct qmp *q, const char *cmd, struct json_object *args,
			     char *err, size_t errlen);

/**
 * qmp_close() - close the socket and free the buffer
 * @q: connection
 */
void qmp_close(struct qmp *q);

/**
 * qmp_plug() - hot-plug one line of a `memslot plan`/`run` script over QMP
 * @q: connection
 * @line: "object_add TYPE,key=value,..." or "device_add DRIVER,key=value,...",
 *	run as object-add (TYPE as qom-type) or device_add (DRIVER as driver);
 *	"size" and "addr" take QEMU's size suffixes (K, M, G) and become
 *	numbers, "slot" an integer, every other value a string
 * @err: set to the error text on failure
 * @errlen: size of @err
 *
 * Return: as for qmp_call().
 */
struct json_object *qmp_plug(struct qmp *q, const char *line, char *err, size_t errlen);

/**
 * qmp_hmp() - run a human monitor command
 * @q: connection
 * @cmdline: the command, e.g. "info mtree -f"
 * @err: set to the error text on failure
 * @errlen: size of @err
 *
 * Return: its output (malloc()ed), or NULL with @err set.
 */
char *qmp_hmp(struct qmp *q, const char *cmdline, char *err, size_t errlen);

/* A guest-physical range. */
struct gpa_range {
	uint64_t gpa, size;
};

/* qsort() order of &struct gpa_range: by address, then size. */
int gpa_range_cmp(const void *a, const void *b);

/**
 * qemu_kvm_ranges() - the " KVM"-marked ranges of AS "memory" in an
 * ``info mtree -f`` dump, sorted
 * @flat: the dump (LF or CRLF)
 * @r: filled
 * @max: room in @r
 *
 * Return: the number of ranges.
 */
int qemu_kvm_ranges(const char *flat, struct gpa_range *r, int max);

/**
 * qemu_as_kvm_ranges() - qemu_kvm_ranges() of the address space @as
 * ("memory", "KVM-SMRAM", ...)
 * @flat: the dump (LF or CRLF)
 * @as: address space name
 * @r: filled
 * @max: room in @r
 *
 * Return: the number of ranges (0 if the dump has no such address space).
 */
int qemu_as_kvm_ranges(const char *flat, const char *as, struct gpa_range *r, int max);

#endif /* MEMSLOT_SELFTESTS_QMP_H */
