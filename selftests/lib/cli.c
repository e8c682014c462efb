// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Running the memslot command line (or any program) from a test.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *cli_tool_path(void)
{
	const char *p = getenv("MEMSLOT");

	return p && *p ? p : "build/memslot";
}

char *slurp_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf || lseek(fd, 0, SEEK_SET) < 0) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* In the child: stdin, stdout, stderr and the environment; false on failure. */
static bool child_setup(const struct cli_opts *o, int in, int out, int err)
{
	if (o->env) {
		for (const char *const *e = o->env; *e; e++) {
			const char *eq = strchr(*e, '=');
			char name[128];

			if (!eq) {
				unsetenv(*e);
				continue;
			}
			snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
			if (setenv(name, eq + 1, 1))
				return false;
		}
	}
	if (in < 0)
		in = open("/dev/null", O_RDONLY);
	if (o->stdout_path)
		out = open(o->stdout_path, O_WRONLY);
	return in >= 0 && out >= 0 && dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(err, 2) >= 0;
}

int cli_exec(struct cli_result *r, const struct cli_opts *opts, const char *const *argv)
{
	static const struct cli_opts none;
	const struct cli_opts *o = opts ? opts : &none;
	int out = -1, err = -1, in = -1, st, ret = 0;
	struct timespec t0, t1;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	out = memfd_create("cli-stdout", MFD_CLOEXEC);
	err = memfd_create("cli-stderr", MFD_CLOEXEC);
	if (out < 0 || err < 0) {
		ret = -errno;
		goto close_fds;
	}
	if (o->stdin_text) {
		size_t len = strlen(o->stdin_text);

		in = memfd_create("cli-stdin", MFD_CLOEXEC);
		if (in < 0 || write(in, o->stdin_text, len) != (ssize_t)len ||
		    lseek(in, 0, SEEK_SET) < 0) {
			ret = in < 0 ? -errno : -EIO;
			goto close_fds;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto close_fds;
	}
	if (pid == 0) {
		if (!child_setup(o, in, out, err))
			_exit(126);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0) {
		ret = -errno;
		goto close_fds;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp_fd(out);
	r->err = slurp_fd(err);
	if (!r->out || !r->err)
		ret = -ENOMEM;
close_fds:
	if (in >= 0)
		close(in);
	if (err >= 0)
		close(err);
	if (out >= 0)
		close(out);
	return ret;
}

int cli_run(struct cli_result *r, const struct cli_opts *opts, const char *const *args)
{
	size_t n = 0;
	const char **argv;
	int ret;

	while (args[n])
		n++;
	argv = calloc(n + 2, sizeof(*argv));
	if (!argv) {
		memset(r, 0, sizeof(*r));
		return -ENOMEM;
	}
	argv[0] = cli_tool_path();
	memcpy(argv + 1, args, n * sizeof(*argv));
	ret = cli_exec(r, opts, argv);
	free(argv);
	return ret;
}

void cli_result_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

char *run_tool(const char *const *args, int *status, char **err_out)
{
	struct cli_result r;

	if (cli_exec(&r, NULL, args)) {
		cli_result_free(&r);
		*status = -1;
		*err_out = NULL;
		return NULL;
	}
	*status = r.status;
	*err_out = r.err;
	return r.out;
}

bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, len) && (p[len] == '\n' || p[len] == '\0'))
			return true;
	return false;
}

struct json_object *parse_one(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t len = strlen(s), end;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		/* nothing but whitespace may follow: -j writes exactly one document */
		for (end = json_tokener_get_parse_end(tok); end < len; end++)
			if (!isspace((unsigned char)s[end]))
				break;
		if (end != len) {
			json_object_put(o);
			o = NULL;
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

uint64_t jget_u64(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);

	return v ? json_object_get_uint64(v) : UINT64_MAX;
}

const char *jget_str(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool jget_bool(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

struct json_object *jget_idx(struct json_object *a, size_t i)
{
	return a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a) ?
		       json_object_array_get_idx(a, i) : NULL;
}

size_t jget_len(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}
