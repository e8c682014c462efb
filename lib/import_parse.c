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

/* Nodes come from blocks of NODE_BLOCK, freed with the parser. */
static struct node *alloc_node(struct parser *p)
{
	struct node_block *b = p->blocks;

	if (!b || b->nr == NODE_BLOCK) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->next = p->blocks;
		p->blocks = b;
	}
	return &b->v[b->nr++];
}

static struct node *new_node(struct parser *p, unsigned int line)
{
	struct node *n;

	if (p->nr_nodes == p->alloc_nodes) {
		size_t a = p->alloc_nodes ? 2 * p->alloc_nodes : 64;
		struct node **v = realloc(p->nodes, a * sizeof(*v));

		if (!v)
			return NULL;
		p->nodes = v;
		p->alloc_nodes = a;
	}
	n = alloc_node(p);
	if (!n)
		return NULL;
	n->line = line;
	n->idx = p->nr_nodes;
	n->first_met = SIZE_MAX;
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
	bool overflow = false;
	long long prio;
	char *endp;

	if (!strncmp(s, "[DETECTED OVERFLOW!] ", 21)) {
		s += 21;
		overflow = true;
	}
	while (s[spaces] == ' ')
		spaces++;
	if (spaces < 2 || spaces % 2)
		return perr(p, ln->no, "wrong indentation: expected an even number of spaces",
			    ln->s);
	n->level = (unsigned int)spaces / 2;
	s += spaces;
	if (strlen(s) < 33 || !parse_range(s, &n->start, &n->end))
		return perr(p, ln->no, "expected <start>-<end> of 16 hex digits each", s);
	if (strncmp(s + 33, " (prio ", 7))
		return perr(p, ln->no, "expected \" (prio \"", s + 33);
	/* QEMU marks every range that wraps (rule 2.3) */
	if (n->end < n->start && !overflow)
		return perr(p, ln->no, "end below start without [DETECTED OVERFLOW!]", s);
	s += 33 + 7;
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
		n->name = rest + 6;
		n->target = at + 2;
		return 0;
	}
	n->name = rest;
	return 0;
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
	/* a power of two from 16 on: double when full */
	if (p->nr_secs >= 16 && !(p->nr_secs & (p->nr_secs - 1))) {
		struct section *v = realloc(p->secs, 2 * p->nr_secs * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->secs = v;
	} else if (!p->secs) {
		p->secs = malloc(16 * sizeof(*p->secs));
		if (!p->secs)
			return -ENOMEM;
	}
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
				/* doubled at powers of two */
				v = sec.nr_names & (sec.nr_names - 1) ? sec.names :
				    realloc(sec.names, (sec.nr_names ? 2 * sec.nr_names : 1) *
							sizeof(*v));

				if (!v || !(v[sec.nr_names] = strdup(ls->v[i].s + 15))) {
					if (v)
						sec.names = v;
					for (size_t k = 0; k < sec.nr_names; k++)
						free(sec.names[k]);
					free(sec.names);
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

/* ---- the flat dump, indexed ------------------------------------------------ */

/* A range in a list: (list, range) pairs, sorted into lists at the end. */
struct fi_member {
	size_t list, idx;
};

struct fi_build {
	struct fi_member *m;
	size_t nr, alloc;
	size_t *view_of;	/* per range */
	size_t nr_lists;
};

static int fi_member(struct fi_build *b, size_t list, size_t idx)
{
	if (b->nr == b->alloc) {
		size_t a = b->alloc ? 2 * b->alloc : 1024;
		struct fi_member *v = realloc(b->m, a * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->m = v;
		b->alloc = a;
	}
	b->m[b->nr++] = (struct fi_member){ list, idx };
	return 0;
}

/* the list @m maps (@tag, @name) to, a new one if absent */
static int fi_list_id(struct fi_build *b, struct strmap *m, size_t tag, const char *name,
		      size_t len, size_t *id)
{
	size_t *v = strmap_add(m, tag, name, len, b->nr_lists, NULL);

	if (!v)
		return -ENOMEM;
	if (*v == b->nr_lists)
		b->nr_lists++;
	*id = *v;
	return 0;
}

/* a range of view @view: in its lists, and under its name with and
 * without each owner text that may follow it (flat_has_name_within()) */
static int fi_add_range(struct flat_index *fi, struct fi_build *b, size_t view, size_t idx)
{
	const struct fi_range *r = &fi->ranges[idx];
	size_t id;

	if (r->typed && (fi_member(b, view, idx) ||
			 fi_list_id(b, &fi->named, view, r->name, r->name_len, &id) ||
			 fi_member(b, id, idx)))
		return -ENOMEM;
	for (size_t j = 0; j <= r->name_len; j++) {
		const char *t = r->name + j;

		if (j < r->name_len && (*t != ' ' || (strncmp(t, " owner:{", 8) &&
						      strncmp(t, " parent:{", 9) &&
						      strncmp(t, " orphan", 7))))
			continue;
		if (fi_list_id(b, &fi->loose_names, 0, r->name, j, &id) || fi_member(b, id, idx))
			return -ENOMEM;
	}
	return 0;
}

static int fi_ent_cmp(const void *a, const void *b)
{
	const struct fi_ent *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static void fi_sort(struct fi_list *l)
{
	uint64_t m = 0;

	for (size_t i = 1; i < l->nr; i++) {
		if (l->v[i].start < l->v[i - 1].start) {
			qsort(l->v, l->nr, sizeof(*l->v), fi_ent_cmp);
			break;
		}
	}
	for (size_t i = 0; i < l->nr; i++) {
		if (!i || l->v[i].end > m)
			m = l->v[i].end;
		l->v[i].maxend = m;
	}
}

/* the range lines of the views, and the address spaces of each view */
static int fi_scan(struct flat_index *fi, struct fi_build *b)
{
	size_t alloc = 0;
	long view = -1;

	for (size_t i = 0; i < fi->ls.nr; i++) {
		char *s = fi->ls.v[i].s;
		struct flat_range_text t;
		struct fi_range *r;

		if (!strncmp(s, "FlatView #", 10)) {
			view = (long)fi->nr_views++;
		} else if (!s[0]) {
			view = -1;
		} else if (view < 0) {
			continue;
		} else if (!strncmp(s, " AS \"", 5)) {
			const char *q = strstr(s + 5, "\", root: ");

			if (q && !strmap_add(&fi->as_view, 0, s + 5, q - s - 5, (size_t)view, NULL))
				return -ENOMEM;
		} else if (range_line_name(s, &t.name, &t.name_len, &t.start, &t.end) &&
			   !strncmp(s + 35, " (prio ", 7)) {
			if (fi->nr_ranges == alloc) {
				size_t a = alloc ? 2 * alloc : 256;
				struct fi_range *v = realloc(fi->ranges, a * sizeof(*v));
				size_t *vo = realloc(b->view_of, a * sizeof(*vo));

				if (v)
					fi->ranges = v;
				if (vo)
					b->view_of = vo;
				if (!v || !vo)
					return -ENOMEM;
				alloc = a;
			}
			r = &fi->ranges[fi->nr_ranges];
			*r = (struct fi_range){ .start = t.start, .end = t.end, .name = t.name,
						.name_len = t.name_len };
			r->typed = parse_flat_range(s, &t);
			r->rom = r->typed && t.type_len == 3 && !memcmp(t.type, "rom", 3);
			b->view_of[fi->nr_ranges++] = (size_t)view;
		}
	}
	return 0;
}

int flat_index_build(struct flat_index *fi, const char *text, size_t len)
{
	struct fi_build b = { 0 };
	size_t *at = NULL;
	int ret;

	memset(fi, 0, sizeof(*fi));
	ret = split_lines(text, len, &fi->ls);
	if (!ret)
		ret = fi_scan(fi, &b);
	if (ret)
		goto out;
	ret = -ENOMEM;
	/* the lists of the views come first */
	b.nr_lists = fi->nr_views;
	for (size_t i = 0; i < fi->nr_ranges; i++)
		if (fi_add_range(fi, &b, b.view_of[i], i))
			goto out;
	/* counted, then filled in range order */
	fi->lists = calloc(b.nr_lists + 1, sizeof(*fi->lists));
	fi->ents = malloc((b.nr + 1) * sizeof(*fi->ents));
	at = calloc(b.nr_lists + 1, sizeof(*at));
	if (!fi->lists || !fi->ents || !at)
		goto out;
	fi->nr_lists = b.nr_lists;
	for (size_t i = 0; i < b.nr; i++)
		fi->lists[b.m[i].list].nr++;
	for (size_t i = 0, n = 0; i < b.nr_lists; i++) {
		fi->lists[i].v = fi->ents + n;
		n += fi->lists[i].nr;
	}
	for (size_t i = 0; i < b.nr; i++) {
		const struct fi_range *r = &fi->ranges[b.m[i].idx];
		struct fi_list *l = &fi->lists[b.m[i].list];

		l->v[at[b.m[i].list]++] = (struct fi_ent){ .start = r->start, .end = r->end,
							  .idx = b.m[i].idx };
	}
	for (size_t i = 0; i < fi->nr_lists; i++)
		fi_sort(&fi->lists[i]);
	ret = 0;
out:
	free(at);
	free(b.m);
	free(b.view_of);
	return ret;
}

void flat_index_free(struct flat_index *fi)
{
	free(fi->lists);
	free(fi->ents);
	free(fi->ranges);
	strmap_free(&fi->as_view);
	strmap_free(&fi->named);
	strmap_free(&fi->loose_names);
	free_lines(&fi->ls);
	memset(fi, 0, sizeof(*fi));
}

long fi_view(const struct flat_index *fi, const char *name)
{
	const size_t *v = strmap_find(&fi->as_view, 0, name, strlen(name));

	return v ? (long)*v : -1;
}

const struct fi_list *fi_list(const struct flat_index *fi, long view, const char *name,
			      size_t len)
{
	const size_t *id;

	if (view < 0)
		return NULL;
	if (!name)
		return &fi->lists[view];
	id = strmap_find(&fi->named, (size_t)view, name, len);
	return id ? &fi->lists[*id] : NULL;
}

size_t fi_first(const struct fi_list *l, uint64_t start)
{
	size_t lo = 0, hi = l->nr;

	/* maxend grows: the first entry whose maxend reaches @start */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].maxend >= start)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

bool fi_has_name_within(const struct flat_index *fi, const char *name, bool ranged,
			uint64_t start, uint64_t end)
{
	const size_t *id = strmap_find(&fi->loose_names, 0, name, strlen(name));
	const struct fi_list *l;
	size_t lo, hi;

	if (!id)
		return false;
	l = &fi->lists[*id];
	if (!ranged)
		return l->nr > 0;
	/* ranges starting at or after @start, then the first ending by @end */
	lo = 0;
	hi = l->nr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v[mid].start >= start)
			hi = mid;
		else
			lo = mid + 1;
	}
	for (; lo < l->nr && l->v[lo].start <= end; lo++)
		if (l->v[lo].end <= end)
			return true;
	return false;
}
