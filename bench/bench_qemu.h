/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_qemu.h: a QEMU 7.2 to measure against, driven over QMP.
 *
 * The benches that compare with QEMU start it as scripts/trace-hotplug.py
 * does: -M q35 -accel ACCEL -S -m 512M,slots=256,maxmem=..., -nodefaults,
 * -display none, QMP on a unix socket in a temporary directory, and here
 * with N memory-backend-ram objects of 1 GiB created on the command line
 * (m0 .. mN-1), so that every plug is one device_add of pc-dimm dI with
 * memdev mI. $QEMU names the binary (default: qemu-system-x86_64 on PATH).
 *
 * The QMP client is the least one: a line per message, events skipped.
 */
#ifndef MEMSLOT_BENCH_QEMU_H
#define MEMSLOT_BENCH_QEMU_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#define BQ_GiB (1ull << 30)
#define BQ_MiB (1ull << 20)
#define BQ_RAM (512 * BQ_MiB)	/* -m 512M, as bench_run */
#define BQ_SLOTS 256

struct bq_qemu {
	pid_t pid;
	int fd;			/* QMP socket */
	FILE *in;		/* its reading side */
	char dir[64];		/* temporary directory of the socket */
	char sock[96];
	char version[64];	/* query-version: "7.2.22" */
};

static inline uint64_t bq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline const char *bq_binary(void)
{
	const char *q = getenv("QEMU");

	return q && *q ? q : "qemu-system-x86_64";
}

static inline void bq_stop(struct bq_qemu *q)
{
	if (q->in)
		fclose(q->in);
	if (q->fd >= 0)
		close(q->fd);
	if (q->pid > 0) {
		kill(q->pid, SIGKILL);
		waitpid(q->pid, NULL, 0);
	}
	if (q->sock[0])
		unlink(q->sock);
	if (q->dir[0])
		rmdir(q->dir);
	q->in = NULL;
	q->fd = -1;
	q->pid = 0;
}

/*
 * One QMP command; @args is taken over (may be NULL). Return: the reply's
 * "return" (the caller puts it), or NULL with *@error set to QEMU's
 * description (static storage) or to why the monitor went away.
 */
static inline json_object *bq_qmp(struct bq_qemu *q, const char *cmd, json_object *args,
				  const char **error)
{
	static char desc[512];
	json_object *req = json_object_new_object();
	char *line = NULL;
	size_t cap = 0;
	const char *s;
	size_t len;

	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	*error = NULL;
	if (write(q->fd, s, len) != (ssize_t)len || write(q->fd, "\n", 1) != 1) {
		json_object_put(req);
		*error = "cannot write to the QMP socket";
		return NULL;
	}
	json_object_put(req);
	while (getline(&line, &cap, q->in) > 0) {
		json_object *msg = json_tokener_parse(line), *v;

		if (!msg)
			continue;
		if (json_object_object_get_ex(msg, "return", &v)) {
			json_object_get(v);
			json_object_put(msg);
			free(line);
			return v;
		}
		if (json_object_object_get_ex(msg, "error", &v)) {
			json_object *d;

			snprintf(desc, sizeof(desc), "%s",
				 json_object_object_get_ex(v, "desc", &d) ?
				 json_object_get_string(d) : "error");
			json_object_put(msg);
			free(line);
			*error = desc;
			return NULL;
		}
		json_object_put(msg);	/* an event */
	}
	free(line);
	*error = "QMP connection closed";
	return NULL;
}

/* device_add pc-dimm d@i with memdev m@i. Return: 0 or -1 with *@error set. */
static inline int bq_plug_dimm(struct bq_qemu *q, unsigned int i, const char **error)
{
	json_object *args = json_object_new_object(), *r;
	char id[32];

	json_object_object_add(args, "driver", json_object_new_string("pc-dimm"));
	snprintf(id, sizeof(id), "d%u", i);
	json_object_object_add(args, "id", json_object_new_string(id));
	snprintf(id, sizeof(id), "m%u", i);
	json_object_object_add(args, "memdev", json_object_new_string(id));
	r = bq_qmp(q, "device_add", args, error);
	if (!r)
		return -1;
	json_object_put(r);
	return 0;
}

/*
 * Start QEMU with -accel @accel and @dimms backends of 1 GiB, room for
 * them (maxmem = 512M + @dimms GiB), and connect to its QMP monitor
 * within @timeout_s seconds.
 *
 * Return: 0; -ENOENT when the binary cannot be run (QEMU is absent);
 * another negative errno with *@error set when it did not come up.
 */
static inline int bq_start(struct bq_qemu *q, const char *accel, unsigned int dimms,
			   int timeout_s, const char **error)
{
	static char why[256];
	char mem[64], qmp[160], **argv;
	unsigned int argc = 0, objects;
	uint64_t deadline;
	json_object *v, *qv, *x;
	int status, saved;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	*error = NULL;
	snprintf(q->dir, sizeof(q->dir), "/tmp/bench_qemu.XXXXXX");
	if (!mkdtemp(q->dir)) {
		q->dir[0] = 0;
		*error = "cannot create a temporary directory";
		return -errno;
	}
	snprintf(q->sock, sizeof(q->sock), "%s/qmp", q->dir);
	snprintf(mem, sizeof(mem), "%llu,slots=%u,maxmem=%lluM",
		 (unsigned long long)(BQ_RAM / BQ_MiB), BQ_SLOTS,
		 (unsigned long long)((BQ_RAM + dimms * BQ_GiB) / BQ_MiB));
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", q->sock);
	argv = calloc(16 + 2 * dimms, sizeof(*argv));
	if (!argv) {
		bq_stop(q);
		return -ENOMEM;
	}
	argv[argc++] = (char *)bq_binary();
	argv[argc++] = "-M";
	argv[argc++] = "q35";
	argv[argc++] = "-accel";
	argv[argc++] = (char *)accel;
	argv[argc++] = "-S";
	argv[argc++] = "-m";
	argv[argc++] = mem;
	argv[argc++] = "-nodefaults";
	argv[argc++] = "-display";
	argv[argc++] = "none";
	argv[argc++] = "-qmp";
	argv[argc++] = qmp;
	objects = argc;
	for (unsigned int i = 0; i < dimms; i++) {
		argv[argc++] = "-object";
		if (asprintf(&argv[argc++], "memory-backend-ram,id=m%u,size=1G", i) < 0) {
			perror("bench_qemu: asprintf");
			exit(1);
		}
	}
	fflush(NULL);
	q->pid = fork();
	saved = errno;
	if (q->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		close(null);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (unsigned int i = objects; i < argc; i += 2)
		free(argv[i + 1]);
	free(argv);
	if (q->pid < 0) {
		q->pid = 0;
		*error = "fork";
		bq_stop(q);
		return -saved;
	}
	deadline = bq_now_ns() + (uint64_t)timeout_s * 1000000000ull;
	for (;;) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
			q->pid = 0;
			bq_stop(q);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
				return -ENOENT;
			snprintf(why, sizeof(why), "QEMU exited with status %d", status);
			*error = why;
			return -ECHILD;
		}
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", q->sock);
		q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q->fd >= 0 && !connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		if (q->fd >= 0)
			close(q->fd);
		q->fd = -1;
		if (bq_now_ns() > deadline) {
			*error = "no QMP socket";
			bq_stop(q);
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
	q->in = fdopen(dup(q->fd), "r");
	if (!q->in) {
		*error = "fdopen";
		bq_stop(q);
		return -ENOMEM;
	}
	v = bq_qmp(q, "qmp_capabilities", NULL, error);
	if (!v) {
		bq_stop(q);
		return -EIO;
	}
	json_object_put(v);
	v = bq_qmp(q, "query-version", NULL, error);
	if (v && json_object_object_get_ex(v, "qemu", &qv)) {
		int64_t maj = 0, min = 0, mic = 0;

		if (json_object_object_get_ex(qv, "major", &x))
			maj = json_object_get_int64(x);
		if (json_object_object_get_ex(qv, "minor", &x))
			min = json_object_get_int64(x);
		if (json_object_object_get_ex(qv, "micro", &x))
			mic = json_object_get_int64(x);
		snprintf(q->version, sizeof(q->version), "%lld.%lld.%lld", (long long)maj,
			 (long long)min, (long long)mic);
	}
	json_object_put(v);
	*error = NULL;
	return 0;
}

#endif /* MEMSLOT_BENCH_QEMU_H */
