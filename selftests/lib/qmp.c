// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A minimal QMP client for the tests that drive a real QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmp.h"
#include "util.h"

/* Next message that is not an event, or NULL (timeout, EOF, bad JSON). */
struct json_object *qmp_read(struct qmp *self)
{
	for (;;) {
		char *nl = self->rlen ? memchr(self->rbuf, '\n', self->rlen) : NULL;
		struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t len = nl - self->rbuf + 1;
			struct json_object *o;

			*nl = '\0';
			o = json_tokener_parse(self->rbuf);
			memmove(self->rbuf, self->rbuf + len, self->rlen - len);
			self->rlen -= len;
			if (!o)
				return NULL;
			if (json_object_object_get_ex(o, "event", NULL)) {
				json_object_put(o);
				continue;
			}
			return o;
		}
		if (self->rcap - self->rlen < 4096) {
			char *b = realloc(self->rbuf, self->rcap + 65536);

			if (!b)
				return NULL;
			self->rbuf = b;
			self->rcap += 65536;
		}
		if (poll(&pfd, 1, QMP_TIMEOUT_MS) <= 0)
			return NULL;
		n = read(self->fd, self->rbuf + self->rlen, self->rcap - self->rlen - 1);
		if (n <= 0)
			return NULL;
		self->rlen += n;
	}
}

struct json_object *qmp_call(struct qmp *self, const char *cmd, struct json_object *args,
			     char *err, size_t errlen)
{
	struct json_object *req = json_object_new_object(), *resp, *v, *ret = NULL;
	const char *s;
	size_t len, off = 0;

	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(s);
	while (off < len) {
		ssize_t n = write(self->fd, s + off, len - off);

		if (n <= 0) {
			snprintf(err, errlen, "%s: write: %s", cmd, strerror(errno));
			json_object_put(req);
			return NULL;
		}
		off += n;
	}
	json_object_put(req);
	resp = qmp_read(self);
	if (!resp) {
		snprintf(err, errlen, "%s: no answer from QEMU", cmd);
		return NULL;
	}
	if (json_object_object_get_ex(resp, "return", &v)) {
		ret = json_object_get(v);
	} else if (json_object_object_get_ex(resp, "error", &v) &&
		   json_object_object_get_ex(v, "desc", &v)) {
		snprintf(err, errlen, "%s: %s", cmd, json_object_get_string(v));
	} else {
		snprintf(err, errlen, "%s: unexpected answer %s", cmd,
			 json_object_to_json_string(resp));
	}
	json_object_put(resp);
	return ret;
}

void qmp_close(struct qmp *self)
{
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	free(self->rbuf);
	self->rbuf = NULL;
	self->rlen = self->rcap = 0;
}

/* "key=value,..." of an object_add / device_add line as QMP arguments. */
static struct json_object *plug_args(const char *opts, const char *type_key)
{
	struct json_object *a = json_object_new_object();
	char *copy = strdup(opts), *save = NULL, *item;
	bool first = true;

	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *k = eq ? item : type_key;
		const char *v = eq ? eq + 1 : item;

		if (eq)
			*eq = '\0';
		if (first && !eq) {
			json_object_object_add(a, k, json_object_new_string(v));
		} else if (!strcmp(k, "size") || !strcmp(k, "addr")) {
			/* QMP takes numbers; the lines use QEMU's size syntax */
			char *end;
			unsigned long long n = strtoull(v, &end, 0);

			switch (*end) {
			case 'G': n <<= 30; break;
			case 'M': n <<= 20; break;
			case 'K': case 'k': n <<= 10; break;
			default: break;
			}
			json_object_object_add(a, k, json_object_new_uint64(n));
		} else if (!strcmp(k, "slot")) {
			json_object_object_add(a, k, json_object_new_int(atoi(v)));
		} else {
			json_object_object_add(a, k, json_object_new_string(v));
		}
		first = false;
	}
	free(copy);
	return a;
}

struct json_object *qmp_plug(struct qmp *self, const char *line, char *err, size_t errlen)
{
	bool obj = !strncmp(line, "object_add ", 11);
	const char *opts = strchr(line, ' ');

	if (!opts || (!obj && strncmp(line, "device_add ", 11))) {
		snprintf(err, errlen, "not an object_add or device_add line: %s", line);
		return NULL;
	}
	return qmp_call(self, obj ? "object-add" : "device_add",
			plug_args(opts + 1, obj ? "qom-type" : "driver"), err, errlen);
}

char *qmp_hmp(struct qmp *self, const char *cmdline, char *err, size_t errlen)
{
	struct json_object *args = json_object_new_object(), *ret;
	char *text;

	json_object_object_add(args, "command-line", json_object_new_string(cmdline));
	ret = qmp_call(self, "human-monitor-command", args, err, errlen);
	if (!ret)
		return NULL;
	text = strdup(json_object_get_string(ret));
	json_object_put(ret);
	if (!text)
		snprintf(err, errlen, "%s: out of memory", cmdline);
	return text;
}

/* --- comparing with QEMU ----------------------------------------------- */

int gpa_range_cmp(const void *a, const void *b)
{
	const struct gpa_range *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* The " KVM"-marked ranges of the FlatView block of AS @as. */
int qemu_as_kvm_ranges(const char *flat, const char *as, struct gpa_range *r, int max)
{
	char *text = strdup(flat), *save = NULL, *line;
	bool in_block = false, in_memory = false;
	char head[128];
	int n = 0;

	snprintf(head, sizeof(head), " AS \"%s\",", as);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len;
		uint64_t s, e;

		line[strcspn(line, "\r")] = '\0';
		len = strlen(line);
		if (!strncmp(line, "FlatView #", 10)) {
			in_block = true;
			in_memory = false;
			continue;
		}
		if (in_block && !strncmp(line, head, strlen(head)))
			in_memory = true;
		if (!in_memory || len < 4 || strcmp(line + len - 4, " KVM"))
			continue;
		if (sscanf(line, " %" SCNx64 "-%" SCNx64, &s, &e) == 2 && n < max)
			r[n++] = (struct gpa_range){ s, e - s + 1 };
	}
	free(text);
	qsort(r, n, sizeof(*r), gpa_range_cmp);
	return n;
}

int qemu_kvm_ranges(const char *flat, struct gpa_range *r, int max)
{
	return qemu_as_kvm_ranges(flat, "memory", r, max);
}
