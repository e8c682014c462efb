/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real QEMU for the tests that compare with it: Debian's
 * qemu-system-x86_64 ($QEMU overrides) started paused and headless, with
 * a QMP connection ready for commands.
 *
 * QMP: the test listens on a unix socket in a temporary directory and QEMU
 * connects to it (-qmp unix:PATH as a client), so there is no start-up
 * race and no polling; every read is bounded by poll(). QEMU dies with
 * the test (PR_SET_PDEATHSIG) and is killed by qemu_stop().
 */
#ifndef MEMSLOT_SELFTESTS_QEMU_H
#define MEMSLOT_SELFTESTS_QEMU_H

#include <stdlib.h>
#include <sys/types.h>

#include "qmp.h"

/**
 * struct qemu - one QEMU process and its QMP connection
 * @dir: temporary directory (qmp.sock, qemu.log and the test's own
 *	files), "" if none
 * @pid: QEMU's pid, 0 if not started
 * @listen_fd: the listening QMP socket, -1 if none
 * @q: the QMP connection, ready for commands after qemu_start()
 * @why: room for a failure text of qemu_start()
 */
struct qemu {
	char dir[64];
	pid_t pid;
	int listen_fd;
	struct qmp q;
	char why[256];
};

/**
 * qemu_init() - nothing started yet: qemu_stop() is then a no-op
 * @qm: filled
 */
void qemu_init(struct qemu *qm);

/**
 * qemu_unusable() - why QEMU with KVM cannot run here
 *
 * Return: NULL if it can, else a static text for SKIP(): "<qemu> not
 * found" (along $PATH) or "/dev/kvm: <strerror>".
 */
const char *qemu_unusable(void);

/**
 * qemu_mkdtemp() - create @qm->dir as /tmp/memslot-@tag.XXXXXX
 * @qm: initialised by qemu_init()
 * @tag: part of the name, e.g. the test's name
 *
 * Return: @qm->dir, or NULL with errno set.
 */
char *qemu_mkdtemp(struct qemu *qm, const char *tag);

/**
 * qemu_start() - start QEMU and wait until QMP accepts commands
 * @qm: with @qm->dir made by qemu_mkdtemp()
 * @args: NULL-terminated QEMU arguments (at least -machine ...,accel=kvm
 *	and -m); added to -nodefaults -display none -S -qmp unix:@dir/qmp.sock
 *
 * QEMU's stdout and stderr go to @dir/qemu.log (see qemu_log()). Waits for
 * the connection, the greeting and the answer to qmp_capabilities, each
 * for at most QMP_TIMEOUT_MS.
 *
 * Return: NULL, or a text saying what failed (static or in @qm->why).
 */
const char *qemu_start(struct qemu *qm, const char *const *args);

/**
 * qemu_log() - what QEMU printed so far
 * @qm: QEMU
 *
 * Return: the log (malloc()ed), or NULL if there is none.
 */
char *qemu_log(const struct qemu *qm);

/* TH_LOG() what QEMU printed, if anything. */
#define TH_LOG_QEMU(qm) do {							\
		char *__text = qemu_log(qm);					\
		if (__text && *__text)						\
			TH_LOG("QEMU said: %s", __text);			\
		free(__text);							\
	} while (0)

/**
 * qemu_stop() - kill QEMU, close QMP and remove @qm->dir with its files
 * @qm: QEMU in any state after qemu_init(); it is initialised again
 *
 * For the fixture teardown, pass or fail. Only regular files directly in
 * @dir are removed (what QEMU and the tests put there).
 */
void qemu_stop(struct qemu *qm);

#endif /* MEMSLOT_SELFTESTS_QEMU_H */
