// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A real QEMU for the tests that compare with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu.h"
#include "util.h"

static const char *qemu_name(void)
{
	const char *q = getenv("QEMU");

	return q && *q ? q : "qemu-system-x86_64";
}

/* Is @name executable along $PATH (or as a path if it has a '/')? */
static bool find_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(name, '/'))
		return !access(name, X_OK);
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
		if (len && !access(buf, X_OK))
			return true;
		p += len + (e ? 1 : 0);
	}
	return false;
}

void qemu_init(struct qemu *qm)
{
	memset(qm, 0, sizeof(*qm));
	qm->listen_fd = -1;
	qm->q = (struct qmp){ .fd = -1 };
}

const char *qemu_unusable(void)
{
	static char why[160];
	int fd;

	if (!find_program(qemu_name())) {
		snprintf(why, sizeof(why), "%s not found", qemu_name());
		return why;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "/dev/kvm: %s", strerror(errno));
		return why;
	}
	close(fd);
	return NULL;
}

char *qemu_mkdtemp(struct qemu *qm, const char *tag)
{
	snprintf(qm->dir, sizeof(qm->dir), "/tmp/memslot-%s.XXXXXX", tag);
	if (mkdtemp(qm->dir))
		return qm->dir;
	qm->dir[0] = '\0';
	return NULL;
}

/* fork() and exec QEMU with its output in @dir/qemu.log; NULL or a failure text. */
static const char *spawn(struct qemu *qm, const char *const *argv)
{
	char log[128];
	int logfd;

	snprintf(log, sizeof(log), "%s/qemu.log", qm->dir);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0)
		return "cannot create the QEMU log";
	qm->pid = fork();
	if (qm->pid < 0) {
		qm->pid = 0;
		close(logfd);
		return "fork failed";
	}
	if (qm->pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (in < 0 || dup2(in, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	close(logfd);
	return NULL;
}

const char *qemu_start(struct qemu *qm, const char *const *args)
{
	static const char *const fixed[] = { "-nodefaults", "-display", "none", "-S", "-qmp" };
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char **argv, *why;
	struct json_object *ret;
	size_t n = 0, nargs = 0;
	struct pollfd pfd;
	char qmp[160];

	snprintf(sock, sizeof(sock), "%s/qmp.sock", qm->dir);
	qm->listen_fd = unix_listen(sock);
	if (qm->listen_fd < 0)
		return "cannot listen on the QMP socket";

	while (args[nargs])
		nargs++;
	argv = calloc(1 + sizeof(fixed) / sizeof(fixed[0]) + 1 + nargs + 1, sizeof(*argv));
	if (!argv)
		return "out of memory";
	snprintf(qmp, sizeof(qmp), "unix:%s", sock);
	argv[n++] = qemu_name();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[n++] = fixed[i];
	argv[n++] = qmp;
	for (size_t i = 0; i < nargs; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	why = spawn(qm, argv);
	free(argv);
	if (why)
		return why;

	pfd = (struct pollfd){ .fd = qm->listen_fd, .events = POLLIN };
	if (poll(&pfd, 1, QMP_TIMEOUT_MS) <= 0)
		return "QEMU did not connect to the QMP socket";
	qm->q.fd = accept4(qm->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (qm->q.fd < 0)
		return "accept failed";
	ret = qmp_read(&qm->q);
	if (!ret)
		return "no QMP greeting from QEMU";
	json_object_put(ret);
	ret = qmp_call(&qm->q, "qmp_capabilities", NULL, qm->why, sizeof(qm->why));
	if (!ret)
		return qm->why;
	json_object_put(ret);
	return NULL;
}

char *qemu_log(const struct qemu *qm)
{
	char path[128];

	if (!qm->dir[0])
		return NULL;
	snprintf(path, sizeof(path), "%s/qemu.log", qm->dir);
	return slurp(path);
}

void qemu_stop(struct qemu *qm)
{
	struct dirent *de;
	DIR *d;

	qmp_close(&qm->q);
	if (qm->listen_fd >= 0)
		close(qm->listen_fd);
	if (qm->pid > 0) {
		kill(qm->pid, SIGKILL);
		waitpid(qm->pid, NULL, 0);
	}
	if (qm->dir[0]) {
		d = opendir(qm->dir);
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(qm->dir);
	}
	qemu_init(qm);
}
