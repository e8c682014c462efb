// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Lines of QEMU's ``info mtree`` and ``info mtree -f`` text: splitting,
 * hex addresses and ranges, and the parts of a flat-view range line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mtree_lines.h"

int split_lines(const char *text, size_t len, struct lines *ls)
{
	size_t alloc = 64;
	char *p, *end;

	ls->buf = malloc(len + 1);
	ls->v = malloc(alloc * sizeof(*ls->v));
	ls->nr = 0;
	if (!ls->buf || !ls->v)
		return -ENOMEM;
	memcpy(ls->buf, text, len);
	ls->buf[len] = 0;
	p = ls->buf;
	end = ls->buf + len;
	while (p < end) {
		char *nl = memchr(p, '\n', end - p);
		size_t l;

		if (!nl)
			nl = end;
		*nl = 0;
		l = nl - p;
		if (l && p[l - 1] == '\r')	/* rule 1.3: CRLF through the monitor */
			p[--l] = 0;
		if (!ls->nul_line && memchr(p, 0, l))
			ls->nul_line = (unsigned int)ls->nr + 1;
		if (ls->nr == alloc) {
			struct line *v = realloc(ls->v, 2 * alloc * sizeof(*v));

			if (!v)
				return -ENOMEM;
			ls->v = v;
			alloc *= 2;
		}
		ls->v[ls->nr].s = p;
		ls->v[ls->nr].no = (unsigned int)ls->nr + 1;
		ls->nr++;
		p = nl + 1;
	}
	return 0;
}

void free_lines(struct lines *ls)
{
	free(ls->v);
	free(ls->buf);
}

bool parse_hex16(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < 16; i++) {
		int c = s[i];

		if (c >= '0' && c <= '9')
			x = x << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	*v = x;
	return true;
}

/* "<16hex>-<16hex>" */
bool parse_range(const char *s, uint64_t *a, uint64_t *b)
{
	return parse_hex16(s, a) && s[16] == '-' && parse_hex16(s + 17, b);
}

bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t l = strlen(suffix);

	return len >= l && !memcmp(s + len - l, suffix, l);
}

/* "  <start>-<end> (prio <p>, <type>): <name>...": the type and the name
 * (see range_line_name() for where the name ends). */
bool parse_flat_range(const char *line, struct flat_range_text *r)
{
	const char *c, *q;

	if (!range_line_name(line, &r->name, &r->name_len, &r->start, &r->end))
		return false;
	q = r->name - 3;
	c = memchr(line, ',', q - line);
	if (!c || c[1] != ' ')
		return false;
	r->type = c + 2;
	r->type_len = q - r->type;
	return true;
}

/* Name of the region of a range line: between "): " and " @<16hex>",
 * the owner text or the " KVM" markers. */
bool range_line_name(const char *line, const char **name, size_t *len, uint64_t *start,
			    uint64_t *end)
{
	const char *q = strstr(line, "): ");
	size_t l;

	if (strncmp(line, "  ", 2) || !parse_range(line + 2, start, end) || !q)
		return false;
	*name = q + 3;
	l = strlen(*name);
	while (ends_with(*name, l, " KVM"))
		l -= 4;
	for (const char *at = *name; (at = strstr(at, " @")) && at < *name + l; at++) {
		uint64_t off;

		if (at + 18 <= *name + l && parse_hex16(at + 2, &off)) {
			l = at - *name;
			break;
		}
	}
	*len = l;
	return true;
}

/* FNV-1a over the tag and the bytes */
static uint64_t strmap_hash(size_t tag, const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ tag;

	h *= 0x100000001b3ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	return h ^ h >> 29;
}

static struct strmap_slot *strmap_slot(const struct strmap *m, uint64_t h, size_t tag,
				       const char *key, size_t len)
{
	size_t i = (size_t)h & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct strmap_slot *s = &m->v[i];

		if (!s->key || (s->hash == h && s->tag == tag && s->len == len &&
				!memcmp(s->key, key, len)))
			return s;
	}
}

size_t *strmap_find(const struct strmap *m, size_t tag, const char *key, size_t len)
{
	struct strmap_slot *s;

	if (!m->cap)
		return NULL;
	s = strmap_slot(m, strmap_hash(tag, key, len), tag, key, len);
	return s->key ? &s->val : NULL;
}

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	struct strmap_slot *v = calloc(cap, sizeof(*v)), *old = m->v;
	size_t old_cap = m->cap;

	if (!v)
		return -ENOMEM;
	m->v = v;
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key)
			*strmap_slot(m, old[i].hash, old[i].tag, old[i].key, old[i].len) = old[i];
	free(old);
	return 0;
}

size_t *strmap_add(struct strmap *m, size_t tag, const char *key, size_t len, size_t val,
		   bool *added)
{
	uint64_t h = strmap_hash(tag, key, len);
	struct strmap_slot *s;

	/* at most half full */
	if (2 * (m->nr + 1) > m->cap && strmap_grow(m))
		return NULL;
	s = strmap_slot(m, h, tag, key, len);
	if (added)
		*added = !s->key;
	if (!s->key) {
		*s = (struct strmap_slot){ .key = key, .len = len, .tag = tag, .val = val,
					   .hash = h };
		m->nr++;
	}
	return &s->val;
}

void strmap_free(struct strmap *m)
{
	free(m->v);
	m->v = NULL;
	m->cap = m->nr = 0;
}
