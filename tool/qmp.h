/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memslot tool: a small QMP client (QEMU Machine Protocol over a unix
 * socket, qapi/qmp-spec): connect, read the greeting, leave capabilities
 * negotiation with qmp_capabilities, then run commands one at a time.
 * Asynchronous events are read and dropped. Every wait is bounded by
 * QMP_CLIENT_TIMEOUT_MS, so a socket that is not QMP (or a stopped QEMU
 * that does not answer) ends in an error, not a hang.
 */
#ifndef MEMSLOT_TOOL_QMP_H
#define MEMSLOT_TOOL_QMP_H

#include <stddef.h>
#include <sys/types.h>

#include <json-c/json.h>

/* How long the greeting and each answer may take. */
#define QMP_CLIENT_TIMEOUT_MS	10000

/* Room for an error text of this client. */
#define QMP_ERR_LEN		512

/**
 * struct qmp_client - one QMP connection
 * @fd: the connected socket, -1 if none
 * @peer: pid of the process at the other end (SO_PEERCRED), 0 if unknown
 * @buf: bytes read and not yet parsed
 * @len: bytes in @buf
 * @cap: size of @buf
 * @tok: the JSON tokener
 */
struct qmp_client {
	int fd;
	pid_t peer;
	char *buf;
	size_t len, cap;
	struct json_tokener *tok;
};

/**
 * qmp_client_connect() - connect to QEMU's QMP socket and negotiate
 * @c: filled; release with qmp_client_close(), also after a failure
 * @path: the socket (QEMU's -qmp unix:PATH,server=on or -chardev socket
 *	with -mon mode=control)
 * @err: QMP_ERR_LEN bytes for what failed: "cannot connect: <strerror>",
 *	"not a QMP server: <why>", the error of qmp_capabilities
 *
 * Return: 0, or -1 with @err set.
 */
int qmp_client_connect(struct qmp_client *c, const char *path, char *err);

/**
 * qmp_client_execute() - run one command and wait for its answer
 * @c: connected client
 * @cmd: command name, e.g. "query-memory-devices"
 * @args: its "arguments" object (consumed), or NULL
 * @err: QMP_ERR_LEN bytes: for an error answer QEMU's "desc" as it is,
 *	else what went wrong with the connection
 *
 * Return: the "return" value (a new reference; an empty object for
 * commands without one), or NULL with @err set.
 */
struct json_object *qmp_client_execute(struct qmp_client *c, const char *cmd,
				       struct json_object *args, char *err);

/**
 * qmp_client_hmp() - run a human monitor command (human-monitor-command)
 * @c: connected client
 * @cmdline: e.g. "info mtree -f"
 * @err: as for qmp_client_execute()
 *
 * Return: its output (malloc()ed), or NULL with @err set.
 */
char *qmp_client_hmp(struct qmp_client *c, const char *cmdline, char *err);

/**
 * qmp_client_qom_get() - qom-get of @path's @prop
 * @c: connected client
 * @path: QOM path, e.g. "/objects/m1"
 * @prop: property, e.g. "type"
 * @err: as for qmp_client_execute()
 *
 * Return: the value (a new reference), or NULL with @err set.
 */
struct json_object *qmp_client_qom_get(struct qmp_client *c, const char *path, const char *prop,
				       char *err);

/**
 * qmp_client_close() - close the connection and free its buffers
 * @c: client in any state after qmp_client_connect() was called (or zeroed
 *	with @fd -1); calling it twice is harmless
 */
void qmp_client_close(struct qmp_client *c);

#endif /* MEMSLOT_TOOL_QMP_H */
