// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsing and comparing ``info mtree -f`` dumps, the flat views of
 * address spaces (qemu-mtree-format.md 3, rule 3.2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtree_lines.h"

struct fd_view {
	char **as_names;
	size_t nr_as;
	char **lines;
	size_t nr_lines;
	unsigned int first_line;
};

struct ms_flatdump {
	struct fd_view *views;
	size_t nr_views;
};

void ms_flatdump__free(struct ms_flatdump *fd)
{
	if (!fd)
		return;
	for (size_t i = 0; i < fd->nr_views; i++) {
		for (size_t k = 0; k < fd->views[i].nr_as; k++)
			free(fd->views[i].as_names[k]);
		for (size_t k = 0; k < fd->views[i].nr_lines; k++)
			free(fd->views[i].lines[k]);
		free(fd->views[i].as_names);
		free(fd->views[i].lines);
	}
	free(fd->views);
	free(fd);
}

static int strv_push(char ***v, size_t *nr, const char *s, size_t len)
{
	char **n = realloc(*v, (*nr + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	*v = n;
	n[*nr] = strndup(s, len);
	if (!n[*nr])
		return -ENOMEM;
	(*nr)++;
	return 0;
}

struct ms_flatdump *ms_flatdump__parse(const char *text, size_t len, struct ms_error *err)
{
	struct ms_flatdump *fd = calloc(1, sizeof(*fd));
	struct lines ls = { 0 };
	struct fd_view *v = NULL;
	int ret = -ENOMEM;

	if (!fd || split_lines(text, len, &ls))
		goto fail_nomem;
	if (ls.nul_line) {
		ret = ms_error_set(err, -EINVAL, "line %u: unexpected NUL byte", ls.nul_line);
		goto fail;
	}
	for (size_t i = 0; i < ls.nr; i++) {
		const char *s = ls.v[i].s;
		uint64_t a, b;
		const char *n;
		size_t nl;

		if (!strncmp(s, "FlatView #", 10)) {
			struct fd_view *nv = realloc(fd->views, (fd->nr_views + 1) * sizeof(*nv));

			if (!nv)
				goto fail_nomem;
			fd->views = nv;
			v = &fd->views[fd->nr_views++];
			memset(v, 0, sizeof(*v));
			v->first_line = ls.v[i].no;
		} else if (!s[0]) {
			v = NULL;
		} else if (!v) {
			ret = ms_error_set(err, -EINVAL, "line %u: expected \"FlatView #<n>\": %.40s",
					   ls.v[i].no, s);
			goto fail;
		} else if (!strncmp(s, " AS \"", 5)) {
			const char *q = strstr(s + 5, "\", root: ");

			if (!q) {
				ret = ms_error_set(err, -EINVAL,
						   "line %u: expected ' AS \"<name>\", root: <region>': %.40s",
						   ls.v[i].no, s);
				goto fail;
			}
			if (strv_push(&v->as_names, &v->nr_as, s + 5, q - s - 5))
				goto fail_nomem;
		} else if ((!strncmp(s, " Root memory region: ", 21) && !v->nr_lines) ||
			   (v->nr_lines && (!strcmp(s, "  No rendered FlatView") ||
					    (range_line_name(s, &n, &nl, &a, &b) &&
					     !strncmp(s + 35, " (prio ", 7))))) {
			/* rule 3.2/3.3: the root line, then ranges or "No rendered" */
			if (strv_push(&v->lines, &v->nr_lines, s, strlen(s)))
				goto fail_nomem;
		} else if (!strncmp(s, "  ", 2) || !strncmp(s, " Root memory region: ", 21)) {
			ret = ms_error_set(err, -EINVAL,
					   "line %u: expected a range line \"  <start>-<end> (prio <p>, <type>): <name>\": %.40s",
					   ls.v[i].no, s);
			goto fail;
		} else {
			ret = ms_error_set(err, -EINVAL, "line %u: unexpected text in a FlatView: %.40s",
					   ls.v[i].no, s);
			goto fail;
		}
	}
	if (v) {
		ret = ms_error_set(err, -EINVAL,
				   "line %u: unexpected end of file: expected an empty line closing the FlatView",
				   ls.nr ? ls.v[ls.nr - 1].no : 1);
		goto fail;
	}
	for (size_t i = 0; i < fd->nr_views; i++) {
		if (!fd->views[i].nr_as || !fd->views[i].nr_lines) {
			ret = ms_error_set(err, -EINVAL,
					   "line %u: FlatView without address spaces or lines",
					   fd->views[i].first_line);
			goto fail;
		}
	}
	free_lines(&ls);
	return fd;

fail_nomem:
	ret = ms_error_set(err, -ENOMEM, "flat dump: out of memory");
fail:
	free_lines(&ls);
	ms_flatdump__free(fd);
	errno = -ret;
	return NULL;
}

static const struct fd_view *view_of(const struct ms_flatdump *fd, const char *as_name)
{
	for (size_t i = 0; i < fd->nr_views; i++)
		for (size_t k = 0; k < fd->views[i].nr_as; k++)
			if (!strcmp(fd->views[i].as_names[k], as_name))
				return &fd->views[i];
	return NULL;
}

size_t ms_flatdump__nr_as(const struct ms_flatdump *fd)
{
	size_t n = 0;

	for (size_t i = 0; i < fd->nr_views; i++)
		n += fd->views[i].nr_as;
	return n;
}

const char *ms_flatdump__as_name(const struct ms_flatdump *fd, size_t i)
{
	for (size_t v = 0; v < fd->nr_views; v++) {
		if (i < fd->views[v].nr_as)
			return fd->views[v].as_names[i];
		i -= fd->views[v].nr_as;
	}
	return NULL;
}

const char *const *ms_flatdump__view_lines(const struct ms_flatdump *fd, const char *as_name,
					   size_t *nr)
{
	const struct fd_view *v = view_of(fd, as_name);

	if (!v)
		return NULL;
	*nr = v->nr_lines;
	return (const char *const *)v->lines;
}

bool flat_has_name_within(const struct ms_flatdump *fd, const char *name, bool ranged,
			  uint64_t start, uint64_t end)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < fd->nr_views; i++) {
		for (size_t k = 0; k < fd->views[i].nr_lines; k++) {
			const char *n;
			uint64_t s, e;
			size_t l;

			if (!range_line_name(fd->views[i].lines[k], &n, &l, &s, &e))
				continue;
			/* owner text may follow the name: accept a prefix match
			 * ending at " owner:{", " parent:{" or " orphan" */
			if (l < nl || memcmp(n, name, nl) ||
			    (l > nl && strncmp(n + nl, " owner:{", 8) &&
			     strncmp(n + nl, " parent:{", 9) && strncmp(n + nl, " orphan", 7)))
				continue;
			if (!ranged || (s >= start && e <= end))
				return true;
		}
	}
	return false;
}

static bool same_lines(const struct fd_view *x, const struct fd_view *y)
{
	if (x->nr_lines != y->nr_lines)
		return false;
	for (size_t k = 0; k < x->nr_lines; k++)
		if (strcmp(x->lines[k], y->lines[k]))
			return false;
	return true;
}

/*
 * The view of @got's address space that @name in @expected stands for.
 * Names need not be unique (two e1000 NICs, two "e1000" address spaces,
 * one bus master on and one off), and QEMU's view order is its own: of the
 * unused same-named spaces, take one whose view is equal, else the first.
 * @used has one flag per address space of @got, in dump order.
 */
static const struct fd_view *match_as(const struct ms_flatdump *got, const char *name,
				      const struct fd_view *want, bool *used)
{
	const struct fd_view *first = NULL;
	size_t idx = 0, first_idx = 0;

	for (size_t i = 0; i < got->nr_views; i++) {
		for (size_t k = 0; k < got->views[i].nr_as; k++, idx++) {
			if (used[idx] || strcmp(got->views[i].as_names[k], name))
				continue;
			if (same_lines(&got->views[i], want)) {
				used[idx] = true;
				return &got->views[i];
			}
			if (!first) {
				first = &got->views[i];
				first_idx = idx;
			}
		}
	}
	if (first)
		used[first_idx] = true;
	return first;
}

unsigned int ms_flatdump__diff(const struct ms_flatdump *expected, const struct ms_flatdump *got,
			       FILE *out)
{
	bool *used = calloc(ms_flatdump__nr_as(got) + 1, sizeof(*used));
	unsigned int ndiff = 0;
	size_t idx = 0;

	if (!used)
		return 1;
	for (size_t i = 0; i < expected->nr_views; i++) {
		const struct fd_view *e = &expected->views[i];

		for (size_t a = 0; a < e->nr_as; a++) {
			const struct fd_view *g = match_as(got, e->as_names[a], e, used);
			size_t n = 0;
			bool differs = false;

			if (!g) {
				if (out)
					fprintf(out, "AS \"%s\": missing\n", e->as_names[a]);
				ndiff++;
				continue;
			}
			/* a line-by-line report, good enough for sorted ranges */
			for (size_t k = 0; k < e->nr_lines || k < g->nr_lines; k++) {
				const char *x = k < e->nr_lines ? e->lines[k] : NULL;
				const char *y = k < g->nr_lines ? g->lines[k] : NULL;

				if (x && y && !strcmp(x, y))
					continue;
				if (!differs && out)
					fprintf(out, "AS \"%s\": flat view differs\n", e->as_names[a]);
				differs = true;
				if (out && n++ < 20) {
					if (x)
						fprintf(out, "-%s\n", x);
					if (y)
						fprintf(out, "+%s\n", y);
				}
			}
			if (out && n > 20)
				fprintf(out, "... %zu more differing lines\n", n - 20);
			ndiff += differs;
		}
	}
	for (size_t i = 0; i < got->nr_views; i++) {
		for (size_t a = 0; a < got->views[i].nr_as; a++, idx++) {
			if (used[idx])
				continue;
			if (out)
				fprintf(out, "AS \"%s\": not in the expected dump\n",
					got->views[i].as_names[a]);
			ndiff++;
		}
	}
	free(used);
	return ndiff;
}
