// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsing QEMU's ``info mtree`` text into sections and node trees
 * (qemu-mtree-format.md 2, 4, 5); import.c builds the regions.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_internal.h"

int perr(struct parser *p, unsigned int line, const char *what, const char *text)
{
	char shown[64];

	snprintf(shown, sizeof(shown), "%s", text ? text : "");
	return ms_error_set(p->err, -EINVAL, "line %u: %s%s%s", line, what, text ? ": " : "",
			    text ? shown : "");
}

static struct node *new_node(struct parser *p, unsigned int line)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->line = line;
	if (p->nr_nodes == p->alloc_nodes) {
		size_t a = p->alloc_nodes ? 2 * p->alloc_nodes : 64;
		struct node **v = realloc(p->nodes, a * sizeof(*v));

		if (!v) {
			free(n);
			return NULL;
		}
		p->nodes = v;
		p->alloc_nodes = a;
	}
	p->nodes[p->nr_nodes++] = n;
	return n;
}

static int add_kid(struct node *up, struct node *n)
{
	if (up->nr_kids == up->alloc_kids) {
		size_t a = up->alloc_kids ? 2 * up->alloc_kids : 4;
		struct node **v = realloc(up->kids, a * sizeof(*v));

		if (!v)
			return -ENOMEM;
		up->kids = v;
		up->alloc_kids = a;
	}
	up->kids[up->nr_kids++] = n;
	n->up = up;
	return 0;
}

/* rule 5.1: " orphan", or " owner:{...}" and/or " parent:{...}" at the end */
static bool strip_owner(char *s, size_t *len, char **owner, char **parent)
{
	size_t l = *len;
	char *o = NULL, *pa = NULL;

	if (ends_with(s, l, " orphan")) {
		*len = l - 7;
		*owner = *parent = NULL;
		return true;
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *tags[] = { " parent:{", " owner:{" };
		char *open;

		if (!l || s[l - 1] != '}')
			break;
		s[l - 1] = 0;
		open = strrchr(s, '{');
		s[l - 1] = '}';
		if (!open)
			break;
		for (int t = 0; t < 2; t++) {
			size_t tl = strlen(tags[t]);

			if (open + 1 - s >= (long)tl && !memcmp(open + 1 - tl, tags[t], tl)) {
				char *val = strndup(open + 1, s + l - 1 - open - 1);

				if (t == 0 && !pa && !o)
					pa = val;
				else if (t == 1 && !o)
					o = val;
				else
					free(val);
				l = open + 1 - tl - s;
				break;
			}
		}
	}
	if (!o && !pa)
		return false;
	*len = l;
	*owner = o;
	*parent = pa;
	return true;
}

static int parse_type(const char *s, size_t len, enum type *t, bool *nv)
{
	static const struct { const char *s; enum type t; } types[] = {
		{ "ram", T_RAM }, { "rom", T_ROM }, { "romd", T_ROMD }, { "ramd", T_RAMD },
		{ "i/o", T_IO },
	};

	*nv = len > 3 && !memcmp(s, "nv-", 3);
	if (*nv) {
		s += 3;
		len -= 3;
	}
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		if (strlen(types[i].s) == len && !memcmp(s, types[i].s, len)) {
			*t = types[i].t;
			return 0;
		}
	}
	return -EINVAL;
}

/* One region line (rule 2.3); @s is modified. */
static int parse_region_line(struct parser *p, const struct line *ln, struct node *n)
{
	char *s = ln->s, *q, *rest;
	size_t spaces = 0, len;
	long long prio;
	char *endp;

	if (!strncmp(s, "[DETECTED OVERFLOW!] ", 21))
		s += 21;
	while (s[spaces] == ' ')
		spaces++;
	if (spaces < 2 || spaces % 2)
		return perr(p, ln->no, "wrong indentation: expected an even number of spaces",
			    ln->s);
	n->level = (unsigned int)spaces / 2;
	s += spaces;
	if (strlen(s) < 33 || !parse_range(s, &n->start, &n->end))
		return perr(p, ln->no, "expected <start>-<end> of 16 hex digits each", s);
	s += 33;
	if (strncmp(s, " (prio ", 7))
		return perr(p, ln->no, "expected \" (prio \"", s);
	s += 7;
	errno = 0;
	prio = strtoll(s, &endp, 10);
	if (endp == s || errno || prio < INT32_MIN || prio > INT32_MAX || strncmp(endp, ", ", 2))
		return perr(p, ln->no, "expected a 32-bit priority", s);
	n->prio = (int32_t)prio;
	s = endp + 2;
	q = strstr(s, "): ");
	if (!q)
		return perr(p, ln->no, "expected \"<type>): <name>\"", s);
	if (parse_type(s, q - s, &n->type, &n->nv))
		return perr(p, ln->no, "unknown region type", s);
	rest = q + 3;
	len = strlen(rest);
	if (p->owner_mode && !strip_owner(rest, &len, &n->owner, &n->parent))
		return perr(p, ln->no, "expected owner text (-o): \" orphan\" or \" owner:{...}\"",
			    rest);
	rest[len] = 0;
	if (ends_with(rest, len, " [disabled]")) {
		n->disabled = true;
		len -= 11;
		rest[len] = 0;
	}
	if (!strncmp(rest, "alias ", 6)) {
		char *at;

		/* "alias <name> @<target> <off>-<offend>": names may hold spaces */
		if (len < 6 + 35 || rest[len - 34] != ' ' ||
		    !parse_range(rest + len - 33, &n->alias_off, &n->alias_end))
			return perr(p, ln->no, "expected alias offsets <off>-<end>", rest);
		rest[len - 34] = 0;
		at = strstr(rest + 6, " @");
		if (!at)
			return perr(p, ln->no, "expected \"alias <name> @<target>\"", rest);
		*at = 0;
		n->is_alias = true;
		n->name = strdup(rest + 6);
		n->target = strdup(at + 2);
		if (!n->name || !n->target)
			return -ENOMEM;
		return 0;
	}
	n->name = strdup(rest);
	return n->name ? 0 : -ENOMEM;
}

/* Does any region line carry owner text? Decide once per file. */
bool detect_owner_mode(const struct lines *ls)
{
	for (size_t i = 0; i < ls->nr; i++) {
		const char *s = ls->v[i].s;
		size_t l = strlen(s);

		if (s[0] == ' ' && strstr(s, "): "))
			return ends_with(s, l, " orphan") || (l && s[l - 1] == '}' &&
							      (strstr(s, " owner:{") ||
							       strstr(s, " parent:{")));
	}
	return false;
}

static int push_section(struct parser *p, struct section *sec)
{
	struct section *v = realloc(p->secs, (p->nr_secs + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->secs = v;
	p->secs[p->nr_secs++] = *sec;
	return 0;
}

/* Sections: header lines, region lines, one empty line (rules 2.1, 2.2). */
int parse_sections(struct parser *p, struct lines *ls)
{
	size_t i = 0;
	int ret;

	while (i < ls->nr) {
		struct section sec = { .line = ls->v[i].no };
		struct node *stack[256] = { 0 };
		unsigned int depth = 0;

		if (!ls->v[i].s[0] && i == ls->nr - 1)
			break;		/* the final empty line of the last section */
		if (!strncmp(ls->v[i].s, "address-space: ", 15)) {
			sec.is_as = true;
			while (i < ls->nr && !strncmp(ls->v[i].s, "address-space: ", 15)) {
				char **v;

				/* QEMU has one: a second one is a second dump */
				if (!strcmp(ls->v[i].s + 15, "memory")) {
					if (p->seen_memory) {
						for (size_t k = 0; k < sec.nr_names; k++)
							free(sec.names[k]);
						free(sec.names);
						return perr(p, ls->v[i].no,
							    "a second address space \"memory\" "
							    "(two dumps in one file?)", ls->v[i].s);
					}
					p->seen_memory = true;
				}
				v = realloc(sec.names, (sec.nr_names + 1) * sizeof(*v));

				if (!v || !(v[sec.nr_names] = strdup(ls->v[i].s + 15))) {
					free(v ? v : sec.names);
					return -ENOMEM;
				}
				sec.names = v;
				sec.nr_names++;
				i++;
			}
		} else if (!strncmp(ls->v[i].s, "memory-region: ", 15)) {
			sec.names = malloc(sizeof(*sec.names));
			if (!sec.names || !(sec.names[0] = strdup(ls->v[i].s + 15))) {
				free(sec.names);
				return -ENOMEM;
			}
			sec.nr_names = 1;
			i++;
		} else {
			return perr(p, ls->v[i].no,
				    "expected \"address-space: <name>\" or \"memory-region: <name>\"",
				    ls->v[i].s);
		}
		ret = push_section(p, &sec);
		if (ret) {
			for (size_t k = 0; k < sec.nr_names; k++)
				free(sec.names[k]);
			free(sec.names);
			return ret;
		}
		for (; i < ls->nr && ls->v[i].s[0]; i++) {
			struct node *n = new_node(p, ls->v[i].no);

			if (!n)
				return -ENOMEM;
			n->section = (unsigned int)p->nr_secs - 1;
			n->in_as_tree = sec.is_as;
			ret = parse_region_line(p, &ls->v[i], n);
			if (ret)
				return ret;
			if (n->level >= ARRAY_SIZE(stack))
				return perr(p, ls->v[i].no, "region nesting too deep", NULL);
			/* A deeper jump means the parents were disabled and not printed
			 * (rule 2.3: children print regardless): stand-in containers.
			 * With -D every region is printed, so a jump is an error. */
			if (n->level > depth + 1 && p->disabled_mode)
				return perr(p, ls->v[i].no,
					    "wrong indentation: a level skipped in a -D dump",
					    ls->v[i].s);
			if (depth == 0 && p->secs[p->nr_secs - 1].root)
				return perr(p, ls->v[i].no,
					    "wrong indentation: a second top-level region",
					    ls->v[i].s);
			/* the header names the region its first line prints */
			if (depth == 0 && n->level > 1 && !sec.is_as)
				return perr(p, ls->v[i].no,
					    "wrong indentation: a memory-region section starts "
					    "deeper than the first level", ls->v[i].s);
			while (depth + 1 < n->level) {
				struct node *h = new_node(p, ls->v[i].no);

				if (!h)
					return -ENOMEM;
				h->hidden = h->disabled = true;
				h->level = depth + 1;
				h->type = T_IO;
				h->section = n->section;
				h->in_as_tree = sec.is_as;
				h->start = depth ? stack[depth]->start : 0;
				h->end = h->start;
				if (depth)
					ret = add_kid(stack[depth], h);
				else
					p->secs[p->nr_secs - 1].root = h;
				if (ret)
					return ret;
				stack[++depth] = h;
			}
			depth = n->level;
			if (depth == 1) {
				if (p->secs[p->nr_secs - 1].root)
					return perr(p, ls->v[i].no,
						    "wrong indentation: a second top-level region",
						    ls->v[i].s);
				p->secs[p->nr_secs - 1].root = n;
			} else {
				ret = add_kid(stack[depth - 1], n);
				if (ret)
					return ret;
			}
			stack[depth] = n;
		}
		if (!p->secs[p->nr_secs - 1].root && !p->secs[p->nr_secs - 1].is_as)
			return perr(p, sec.line, "expected a region line after the header",
				    p->secs[p->nr_secs - 1].names[0]);
		if (i == ls->nr)
			return perr(p, ls->v[ls->nr - 1].no,
				    "unexpected end of file: expected an empty line closing the section",
				    NULL);
		i++;	/* the empty line */
	}
	if (!p->nr_secs)
		return perr(p, 1, "expected \"address-space: <name>\"", ls->nr ? ls->v[0].s : NULL);
	return 0;
}
