// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A small QMP client (qmp.h). The protocol (qapi/qmp-spec): the server
 * greets with {"QMP": {...}}, accepts nothing but qmp_capabilities until
 * that ran, and answers each {"execute": ...} with {"return": ...} or
 * {"error": {"class", "desc"}}; {"event": ...} messages may come at any
 * time in between. Messages are JSON objects; QEMU ends each with CRLF,
 * but a monitor with pretty=on spreads them over lines, so the stream is
 * cut by the JSON tokener, not at line ends.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

#define ERR(err, ...) snprintf((err), QMP_ERR_LEN, __VA_ARGS__)

/* The largest message taken: `info mtree` of big VMs is far below this. */
#define QMP_MSG_MAX	(64u << 20)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait for @events on @c->fd until @deadline. Return: 0, or -1 with @err set. */
static int wait_fd(struct qmp_client *c, short events, long long deadline, char *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = events };
		long long left = deadline - now_ms();
		int r;

		if (left <= 0) {
			ERR(err, "no answer within %d s", QMP_CLIENT_TIMEOUT_MS / 1000);
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			ERR(err, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/*
 * The next message from the server, events included. Return: it (a new
 * reference), or NULL with @err set.
 */
static struct json_object *read_msg(struct qmp_client *c, long long deadline, char *err)
{
	for (;;) {
		size_t skip = 0;
		ssize_t n;

		while (skip < c->len && strchr(" \t\r\n", c->buf[skip]))
			skip++;
		if (skip) {
			memmove(c->buf, c->buf + skip, c->len - skip);
			c->len -= skip;
		}
		if (c->len) {
			struct json_object *o;
			enum json_tokener_error je;

			json_tokener_reset(c->tok);
			o = json_tokener_parse_ex(c->tok, c->buf, (int)c->len);
			je = json_tokener_get_error(c->tok);
			if (o || je == json_tokener_success) {
				size_t end = json_tokener_get_parse_end(c->tok);

				memmove(c->buf, c->buf + end, c->len - end);
				c->len -= end;
				if (!json_object_is_type(o, json_type_object)) {
					json_object_put(o);
					ERR(err, "not a QMP message: not a JSON object");
					return NULL;
				}
				return o;
			}
			if (je != json_tokener_continue) {
				ERR(err, "not JSON: %s", json_tokener_error_desc(je));
				return NULL;
			}
		}
		if (c->len == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *b;

			if (cap > QMP_MSG_MAX) {
				ERR(err, "message longer than %u bytes", QMP_MSG_MAX);
				return NULL;
			}
			b = realloc(c->buf, cap);
			if (!b) {
				ERR(err, "%s", strerror(ENOMEM));
				return NULL;
			}
			c->buf = b;
			c->cap = cap;
		}
		if (wait_fd(c, POLLIN, deadline, err))
			return NULL;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			ERR(err, "read: %s", strerror(errno));
			return NULL;
		}
		if (!n) {
			ERR(err, "connection closed by the other end");
			return NULL;
		}
		c->len += n;
	}
}

static int write_all(struct qmp_client *c, const char *s, size_t len, long long deadline,
		     char *err)
{
	while (len) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(c, POLLOUT, deadline, err))
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ERR(err, "write: %s", strerror(errno));
			return -1;
		}
		s += n;
		len -= n;
	}
	return 0;
}

/* QEMU's error answer as one line: the "desc" (class if there is none). */
static void error_answer(struct json_object *e, char *err)
{
	struct json_object *d = NULL, *cl = NULL;

	json_object_object_get_ex(e, "desc", &d);
	json_object_object_get_ex(e, "class", &cl);
	if (json_object_is_type(d, json_type_string))
		ERR(err, "%s", json_object_get_string(d));
	else if (json_object_is_type(cl, json_type_string))
		ERR(err, "error of class %s", json_object_get_string(cl));
	else
		ERR(err, "error answer without a description");
	/* one line: QEMU's texts have none, but hints could */
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

struct json_object *qmp_client_execute(struct qmp_client *c, const char *cmd,
				       struct json_object *args, char *err)
{
	long long deadline = now_ms() + QMP_CLIENT_TIMEOUT_MS;
	struct json_object *req = json_object_new_object(), *msg, *v;
	const char *text;

	if (!req) {
		json_object_put(args);
		ERR(err, "%s", strerror(ENOMEM));
		return NULL;
	}
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || write_all(c, text, strlen(text), deadline, err) ||
	    write_all(c, "\n", 1, deadline, err)) {
		if (!text)
			ERR(err, "%s", strerror(ENOMEM));
		json_object_put(req);
		return NULL;
	}
	json_object_put(req);

	for (;;) {
		msg = read_msg(c, deadline, err);
		if (!msg)
			return NULL;
		if (json_object_object_get_ex(msg, "return", &v)) {
			v = json_object_get(v);
			json_object_put(msg);
			return v ? v : json_object_new_object();
		}
		if (json_object_object_get_ex(msg, "error", &v)) {
			error_answer(v, err);
			json_object_put(msg);
			return NULL;
		}
		if (!json_object_object_get_ex(msg, "event", NULL)) {
			json_object_put(msg);
			ERR(err, "not a QMP answer");
			return NULL;
		}
		json_object_put(msg);
	}
}

char *qmp_client_hmp(struct qmp_client *c, const char *cmdline, char *err)
{
	struct json_object *args = json_object_new_object(), *ret;
	char *out;

	if (!args) {
		ERR(err, "%s", strerror(ENOMEM));
		return NULL;
	}
	json_object_object_add(args, "command-line", json_object_new_string(cmdline));
	ret = qmp_client_execute(c, "human-monitor-command", args, err);
	if (!ret)
		return NULL;
	if (!json_object_is_type(ret, json_type_string)) {
		json_object_put(ret);
		ERR(err, "human-monitor-command: the answer is not a string");
		return NULL;
	}
	out = strdup(json_object_get_string(ret));
	json_object_put(ret);
	if (!out)
		ERR(err, "%s", strerror(ENOMEM));
	return out;
}

struct json_object *qmp_client_qom_get(struct qmp_client *c, const char *path, const char *prop,
				       char *err)
{
	struct json_object *args = json_object_new_object();

	if (!args) {
		ERR(err, "%s", strerror(ENOMEM));
		return NULL;
	}
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string(prop));
	return qmp_client_execute(c, "qom-get", args, err);
}

int qmp_client_connect(struct qmp_client *c, const char *path, char *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + QMP_CLIENT_TIMEOUT_MS;
	struct json_object *msg, *ret;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char why[QMP_ERR_LEN];

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ERR(err, "cannot connect: socket path longer than %zu bytes",
		    sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->tok = json_tokener_new();
	if (!c->tok) {
		ERR(err, "%s", strerror(ENOMEM));
		return -1;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		ERR(err, "socket: %s", strerror(errno));
		return -1;
	}
	/* A unix connect completes at once or fails with EAGAIN (backlog full). */
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			if (wait_fd(c, POLLOUT, deadline, err))
				return -1;
			continue;
		}
		ERR(err, "cannot connect: %s", strerror(errno));
		return -1;
	}
	if (!getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		c->peer = cred.pid;

	msg = read_msg(c, deadline, why);
	if (!msg) {
		ERR(err, "not a QMP server: %.400s", why);
		return -1;
	}
	if (!json_object_object_get_ex(msg, "QMP", NULL)) {
		json_object_put(msg);
		ERR(err, "not a QMP server: no greeting");
		return -1;
	}
	json_object_put(msg);
	ret = qmp_client_execute(c, "qmp_capabilities", NULL, why);
	if (!ret) {
		ERR(err, "qmp_capabilities: %.400s", why);
		return -1;
	}
	json_object_put(ret);
	return 0;
}

void qmp_client_close(struct qmp_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->tok)
		json_tokener_free(c->tok);
	c->tok = NULL;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}
