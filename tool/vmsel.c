// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * VM selection (vmsel.h): -p PID, --qmp SOCKET and -n NAME turned into
 * process ids, and the JSON form of a VM's kernel id.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tool.h"
#include "vmsel.h"

/* Characters of a process name the kernel keeps in its comm (TASK_COMM_LEN - 1). */
#define COMM_LEN	15

int vmsel_parse(struct vmsel *s, int opt, const char *arg)
{
	struct vmsel_arg a = { .opt = opt, .val = arg }, *n;

	switch (opt) {
	case 'p':
		if (parse_pid(arg, &a.pid))
			return usage_err("invalid process id: %s", arg);
		break;
	case 'n':
		if (!*arg)
			return usage_err("%s: empty argument", "--name");
		break;
	case VMSEL_OPT_QMP:
		if (!*arg)
			return usage_err("%s: empty argument", "--qmp");
		break;
	default:
		return usage_err("unknown option: %c", opt);
	}
	n = realloc(s->args, (s->nr_args + 1) * sizeof(*n));
	if (!n) {
		p_err("cannot parse options: %s", strerror(ENOMEM));
		return 1;
	}
	s->args = n;
	s->args[s->nr_args++] = a;
	return 0;
}

/* The comm of @pid without its newline; "" if the process is gone. */
static void read_comm(uint32_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	/* only the newline the kernel appends: a comm may hold one itself */
	if (buf[n - 1] == '\n')
		n--;
	buf[n] = 0;
}

/*
 * QEMU's guest name in the NUL-separated @cmdline of @len bytes: the value
 * of the last -name (or --name) option, a QemuOpts list with the implied
 * key "guest" ("NAME", "guest=NAME", "NAME,process=P,debug-threads=on"),
 * ",," standing for a comma. Return: 1 with *@out set to it, whole and
 * malloc()ed, if there is one; 0 if not; -ENOMEM.
 */
static int guest_name(const char *cmdline, size_t len, char **out)
{
	const char *val = NULL;
	bool first = true;
	char *param;

	*out = NULL;
	for (size_t i = 0; i < len; i += strlen(cmdline + i) + 1) {
		const char *a = cmdline + i;

		if ((!strcmp(a, "-name") || !strcmp(a, "--name")) && i + strlen(a) + 1 < len)
			val = a + strlen(a) + 1;
	}
	if (!val)
		return 0;
	param = malloc(strlen(val) + 1);
	if (!param)
		return -ENOMEM;
	for (const char *p = val; *p; first = false) {
		const char *name = NULL;
		size_t n = 0;

		/* one parameter, up to a single comma */
		while (*p && !(p[0] == ',' && p[1] != ',')) {
			if (p[0] == ',')	/* ",," */
				p++;
			param[n++] = *p++;
		}
		param[n] = 0;
		if (*p)
			p++;
		if (first && !strchr(param, '='))
			name = param;	/* only the first parameter may leave out its key */
		else if (!strncmp(param, "guest=", 6))
			name = param + 6;
		if (name) {
			free(*out);
			*out = strdup(name);
			if (!*out) {
				free(param);
				return -ENOMEM;
			}
		}
	}
	free(param);
	return *out ? 1 : 0;
}

/* QEMU's guest name of process @pid, whole. Return: as guest_name(). */
static int read_guest_name(uint32_t pid, char **out)
{
	char path[64], *text;
	size_t n;
	int ret;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/cmdline", pid);
	if (read_file(path, &text, &n))
		return 0;
	ret = guest_name(text, n, out);
	free(text);
	return ret;
}

const char *vmsel_name_of(uint32_t pid, char *buf, size_t len)
{
	char *name;

	buf[0] = 0;
	if (read_guest_name(pid, &name) > 0)
		snprintf(buf, len, "%s", name);
	free(name);
	if (!buf[0])
		read_comm(pid, buf, len);
	return buf;
}

static int add_proc(struct vmsel *s, uint32_t pid)
{
	struct vmsel_proc *n;

	for (size_t i = 0; i < s->nr; i++)
		if (s->procs[i].pid == pid)
			return 0;
	n = realloc(s->procs, (s->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->procs = n;
	n = &s->procs[s->nr++];
	n->pid = pid;
	vmsel_name_of(pid, n->name, sizeof(n->name));
	return 0;
}

/* The pid of the process listening on unix socket @path, from SO_PEERCRED. */
static int qmp_pid(const char *path, uint32_t *pid)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, err = 0;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path));
	/*
	 * Non-blocking: QEMU accepts one QMP client at a time, so while another
	 * one is connected this connection waits in the backlog; it still has
	 * the listener's credentials (unix_stream_connect() copies them), and a
	 * full backlog is EAGAIN instead of a hang.
	 */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		err = -errno;
	close(fd);
	if (err)
		return err;
	if (cred.pid <= 0)	/* the listener is in another PID namespace */
		return -ESRCH;
	*pid = (uint32_t)cred.pid;
	return 0;
}

/*
 * Is @comm (/proc/PID/comm) the comm of a process named @name? The kernel
 * keeps the first COMM_LEN characters of a name, so a name that long or
 * longer matches by those.
 */
static bool comm_is(const char *comm, const char *name)
{
	if (strlen(name) >= COMM_LEN)
		return strlen(comm) == COMM_LEN && !strncmp(comm, name, COMM_LEN);
	return !strcmp(comm, name);
}

/* Every process named @name (see vmsel_resolve()); -ENOENT if none. */
static int add_name(struct vmsel *s, const char *name)
{
	char buf[VMSEL_NAME_MAX];
	bool found = false;
	int ret = 0;

	for (int pass = 0; pass < 2 && !found && !ret; pass++) {
		struct dirent *d;
		DIR *dir = opendir("/proc");

		if (!dir)
			return -errno;
		while (!ret && (d = readdir(dir))) {
			uint32_t pid;

			if (parse_pid(d->d_name, &pid) || pid == (uint32_t)getpid())
				continue;
			if (pass) {
				read_comm(pid, buf, sizeof(buf));
				if (!comm_is(buf, name))
					continue;
			} else {
				char *guest;
				bool same;

				ret = read_guest_name(pid, &guest);
				same = ret > 0 && !strcmp(guest, name);
				free(guest);
				if (ret < 0)
					break;
				ret = 0;
				if (!same)
					continue;
			}
			found = true;
			ret = add_proc(s, pid);
		}
		closedir(dir);
	}
	return ret ?: found ? 0 : -ENOENT;
}

int vmsel_resolve(struct vmsel *s)
{
	for (size_t i = 0; i < s->nr_args; i++) {
		const struct vmsel_arg *a = &s->args[i];
		uint32_t pid = a->pid;
		int ret = 0;

		switch (a->opt) {
		case 'p':
			if (pid_missing(pid))
				return 1;
			ret = add_proc(s, pid);
			break;
		case VMSEL_OPT_QMP:
			ret = qmp_pid(a->val, &pid);
			if (ret == -ESRCH) {
				p_err("QMP socket of a process in another PID namespace: %s", a->val);
				return 1;
			}
			if (ret && ret != -ENOMEM) {
				p_err("cannot connect to QMP socket: %s: %s", a->val, strerror(-ret));
				return 1;
			}
			ret = ret ?: add_proc(s, pid);
			break;
		case 'n':
			ret = add_name(s, a->val);
			if (ret == -ENOENT) {
				p_err("no QEMU guest or process named: %s", a->val);
				return 1;
			}
			if (ret && ret != -ENOMEM) {
				p_err("cannot read /proc for --name %s: %s", a->val, strerror(-ret));
				return 1;
			}
			break;
		}
		if (ret) {
			p_err("cannot select VMs: %s", strerror(-ret));
			return 1;
		}
	}
	return 0;
}

int vmsel_one(const struct vmsel *s, const char *what, uint32_t *pid)
{
	char list[512];
	size_t n = 0;

	if (!s->nr_args)
		return usage_err("missing option: %s", what);
	if (s->nr == 1) {
		*pid = s->procs[0].pid;
		return 0;
	}
	list[0] = 0;
	for (size_t i = 0; i < s->nr && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%spid %" PRIu32 " (%s)",
				      i ? ", " : "", s->procs[i].pid, s->procs[i].name);
	p_err("%zu processes match, one VM needed: %s", s->nr, list);
	return 1;
}

bool vmsel_has(const struct vmsel *s, uint32_t pid)
{
	if (!s->nr)
		return true;
	for (size_t i = 0; i < s->nr; i++)
		if (s->procs[i].pid == pid)
			return true;
	return false;
}

void vmsel_free(struct vmsel *s)
{
	free(s->args);
	free(s->procs);
	memset(s, 0, sizeof(*s));
}

struct json_object *vm_id_json(uint64_t vm)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, vm);
	return json_object_new_string(buf);
}
