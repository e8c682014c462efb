// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The man pages' JSON member lists and the validation of real output
 * against them; see jsondoc.h and memslot(8), JSON OUTPUT.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsondoc.h"
#include "util.h"

static void log_add(struct jsondoc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_add(struct jsondoc *d, const char *fmt, ...)
{
	char line[512];
	char *log;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	log = realloc(d->log, d->log_len + n + 2);
	if (!log)
		return;
	d->log = log;
	memcpy(d->log + d->log_len, line, n);
	d->log_len += n;
	d->log[d->log_len++] = '\n';
	d->log[d->log_len] = '\0';
}

static struct jsondoc_field *add_field(struct jsondoc *d)
{
	if (d->nr == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 256;
		struct jsondoc_field *f = realloc(d->fields, cap * sizeof(*f));

		if (!f)
			return NULL;
		d->fields = f;
		d->cap = cap;
	}
	memset(&d->fields[d->nr], 0, sizeof(d->fields[0]));
	return &d->fields[d->nr++];
}

/* One page's ".. json: NAME" blocks. Return: the number of fields, -1 on a bad line. */
static int parse_page(struct jsondoc *d, const char *text, char *bad, size_t bad_len)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, "\n.. json: "))) {
		char doc[32] = "";
		const char *line;

		p += strlen("\n.. json: ");
		sscanf(p, "%31s", doc);
		/* the "::" paragraph, then the indented lines up to an unindented one */
		p = strstr(p, "\n::\n");
		if (!p) {
			snprintf(bad, bad_len, "%s: no \"::\" block", doc);
			return -1;
		}
		line = p + 4;
		for (;;) {
			const char *end = strchr(line, '\n');
			size_t len = end ? (size_t)(end - line) : strlen(line);
			char buf[512], path[160] = "", type[160] = "";
			struct jsondoc_field *f;

			if (len && line[0] != ' ')
				break;
			snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
			if (sscanf(buf, "%159s %159s", path, type) == 2) {
				size_t pl = strlen(path);

				f = add_field(d);
				if (!f)
					return -1;
				snprintf(f->doc, sizeof(f->doc), "%s", doc);
				if (path[pl - 1] == '?') {
					f->optional = true;
					path[pl - 1] = '\0';
				}
				snprintf(f->path, sizeof(f->path), "%s", path);
				snprintf(f->type, sizeof(f->type), "%s", type);
				n++;
			} else if (buf[strspn(buf, " ")]) {
				snprintf(bad, bad_len, "%s: %s", doc, buf);
				return -1;
			}
			if (!end)
				break;
			line = end + 1;
		}
		p = line;
	}
	return n;
}

int jsondoc_load(struct jsondoc *d, const char *dir, char *bad, size_t bad_len)
{
	struct dirent *de;
	DIR *dd = opendir(dir);
	int total = 0;

	if (!dd)
		return -1;
	while ((de = readdir(dd))) {
		char path[600], *text;
		int n;

		if (!strstr(de->d_name, ".rst"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = slurp(path);
		if (!text)
			continue;
		n = parse_page(d, text, bad, bad_len);
		free(text);
		if (n < 0) {
			closedir(dd);
			return -1;
		}
		total += n;
	}
	closedir(dd);
	return total;
}

void jsondoc_free(struct jsondoc *d)
{
	free(d->fields);
	free(d->log);
	memset(d, 0, sizeof(*d));
}

struct jsondoc_field *jsondoc_find(const struct jsondoc *d, const char *doc, const char *path)
{
	for (size_t i = 0; i < d->nr; i++)
		if (!strcmp(d->fields[i].doc, doc) && !strcmp(d->fields[i].path, path))
			return &d->fields[i];
	return NULL;
}

const char *jsondoc_type_of(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:	return "null";
	case json_type_boolean:	return "boolean";
	case json_type_int:
	case json_type_double:	return "number";
	case json_type_string:	return "string";
	case json_type_array:	return "array";
	case json_type_object:	return "object";
	}
	return "?";
}

bool jsondoc_type_allowed(const char *types, const char *t)
{
	size_t n = strlen(t);

	for (const char *p = types; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
		if (!strncmp(p, t, n) && (p[n] == '|' || !p[n]))
			return true;
	return false;
}

const char *jsondoc_ref(const struct jsondoc_field *f, char rdoc[32])
{
	const char *ref = f->type + 1, *colon = strchr(ref, ':');

	snprintf(rdoc, 32, "%.*s", colon ? (int)(colon - ref) : (int)strlen(f->doc),
		 colon ? ref : f->doc);
	return colon ? colon + 1 : ref;
}

static int check_value(struct jsondoc *d, const char *doc, const char *path,
		       struct json_object *v);

/* The members of object @o against the fields of @doc under @path. */
static int check_members(struct jsondoc *d, const char *doc, const char *path,
			 struct json_object *o)
{
	char prefix[200];
	size_t pl;
	int bad = 0;

	snprintf(prefix, sizeof(prefix), "%s%s", path, *path ? "." : "");
	pl = strlen(prefix);
	/* documented members present */
	for (size_t i = 0; i < d->nr; i++) {
		struct jsondoc_field *f = &d->fields[i];
		const char *name = f->path + pl;

		if (strcmp(f->doc, doc) || strncmp(f->path, prefix, pl) || strpbrk(name, ".[") ||
		    !strcmp(name, "*"))
			continue;
		if (!json_object_object_get_ex(o, name, NULL) && !f->optional) {
			log_add(d, "%s: %s%s missing", doc, prefix, name);
			bad++;
		}
	}
	/* no undocumented member; each value checked */
	json_object_object_foreach(o, k, v) {
		char sub[200];

		snprintf(sub, sizeof(sub), "%s%s", prefix, k);
		if (!jsondoc_find(d, doc, sub))
			snprintf(sub, sizeof(sub), "%s*", prefix);
		if (!jsondoc_find(d, doc, sub)) {
			log_add(d, "%s: %s%s is not documented", doc, prefix, k);
			bad++;
			continue;
		}
		bad += check_value(d, doc, sub, v);
	}
	return bad;
}

static int check_value(struct jsondoc *d, const char *doc, const char *path,
		       struct json_object *v)
{
	struct jsondoc_field *f = jsondoc_find(d, doc, path);
	char sub[200];
	int bad = 0;

	if (!f) {
		log_add(d, "%s: %s is not documented", doc, path);
		return 1;
	}
	f->seen = true;
	if (f->type[0] == '@') {
		char rdoc[32];
		const char *ref = jsondoc_ref(f, rdoc);

		if (!json_object_is_type(v, json_type_object)) {
			log_add(d, "%s: %s is %s, not an object like %s", doc, path,
				jsondoc_type_of(v), ref);
			return 1;
		}
		return check_members(d, rdoc, ref, v);
	}
	if (!jsondoc_type_allowed(f->type, jsondoc_type_of(v))) {
		log_add(d, "%s: %s is %s, documented %s", doc, path, jsondoc_type_of(v), f->type);
		return 1;
	}
	if (json_object_is_type(v, json_type_object))
		return check_members(d, doc, path, v);
	if (!json_object_is_type(v, json_type_array))
		return 0;
	snprintf(sub, sizeof(sub), "%s[]", path);
	for (size_t i = 0; i < json_object_array_length(v); i++)
		bad += check_value(d, doc, sub, json_object_array_get_idx(v, i));
	return bad;
}

int jsondoc_check_object(struct jsondoc *d, const char *doc, struct json_object *o)
{
	struct json_object_iterator it;
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_length(o)) {
		log_add(d, "%s: not a JSON object with members: %.300s", doc,
			json_object_to_json_string(o));
		return 1;
	}
	it = json_object_iter_begin(o);
	v = json_object_iter_peek_value(&it);
	if (strcmp(json_object_iter_peek_name(&it), "version") ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) != 1) {
		log_add(d, "%s: the first member is not \"version\": 1: %.200s", doc,
			json_object_to_json_string(o));
		return 1;
	}
	return check_members(d, doc, "", o);
}

int jsondoc_check_text(struct jsondoc *d, const char *doc, const char *text)
{
	struct json_object *o = parse_one(text);
	int bad;

	if (!o) {
		log_add(d, "%s: not one JSON document: %.300s", doc, text);
		return 1;
	}
	bad = jsondoc_check_object(d, doc, o);
	json_object_put(o);
	return bad;
}

static bool is_exempt(const struct jsondoc_field *f, const char *const *exempt)
{
	for (; exempt && *exempt; exempt++) {
		size_t dl = strcspn(*exempt, ":"), pl;

		if (!(*exempt)[dl])
			continue;
		pl = strlen(*exempt + dl + 1);
		if (strlen(f->doc) == dl && !strncmp(f->doc, *exempt, dl) &&
		    !strncmp(f->path, *exempt + dl + 1, pl) && strchr(".[", f->path[pl] ?: '.'))
			return true;
	}
	return false;
}

int jsondoc_unseen(struct jsondoc *d, const char *doc, const char *const *exempt,
		   int *nr_exempt)
{
	int n = 0, unseen = 0, skipped = 0;

	for (size_t i = 0; i < d->nr; i++) {
		struct jsondoc_field *f = &d->fields[i];

		if (strcmp(f->doc, doc))
			continue;
		n++;
		if (f->seen)
			continue;
		if (is_exempt(f, exempt)) {
			skipped++;
			continue;
		}
		log_add(d, "%s: %s never seen", doc, f->path);
		unseen++;
	}
	if (nr_exempt)
		*nr_exempt = skipped;
	if (!n) {
		log_add(d, "no \".. json: %s\" list in the pages", doc);
		return -1;
	}
	return unseen;
}

void jsondoc_log_clear(struct jsondoc *d)
{
	free(d->log);
	d->log = NULL;
	d->log_len = 0;
}

const char *jsondoc_log(const struct jsondoc *d)
{
	return d->log ?: "";
}
