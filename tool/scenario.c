// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot tool: QEMU option lists and scenario scripts (see scenario.h).
 *
 * Error texts are QEMU 7.2's for the same input (qemu-system-x86_64 run on
 * it, -object / -device / HMP object_add and device_add): the property
 * visitors' "Parameter 'KEY' expects ...", qdev's "Property 'TYPE.KEY' not
 * found", keyval's "Invalid parameter" and "Parameter 'KEY' is missing".
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "scenario.h"

#define ERR(err, ...) snprintf((err), QOPT_ERR_LEN, __VA_ARGS__)

/* --- option lists ------------------------------------------------------ */

void qopts_free(struct qopts *q)
{
	for (size_t i = 0; i < q->nr; i++) {
		free(q->opt[i].key);
		free(q->opt[i].value);
	}
	free(q->opt);
	q->opt = NULL;
	q->nr = 0;
}

/* Copy [@s, @e) with ",," turned into ",". */
static char *unescape(const char *s, const char *e)
{
	char *out = malloc(e - s + 1), *o = out;

	if (!out)
		return NULL;
	while (s < e) {
		if (s[0] == ',' && s + 1 < e && s[1] == ',')
			s++;
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* End of the item starting at @p: the first ',' not doubled. */
static const char *item_end(const char *p)
{
	while (*p) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++;
		}
		p++;
	}
	return p;
}

int qopts_parse(const char *text, const char *implied, struct qopts *q, char *err)
{
	const char *p = text;
	size_t cap = 0;

	memset(q, 0, sizeof(*q));
	for (bool first = true; ; first = false) {
		const char *end = item_end(p), *eq;
		struct qopt *o;

		/* QEMU: a trailing comma ends the list ("a=1," is "a=1"). */
		if (end == p && !*p && !first)
			break;
		eq = memchr(p, '=', end - p);
		if (q->nr == cap) {
			struct qopt *n = realloc(q->opt, (cap ? cap * 2 : 8) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			q->opt = n;
			cap = cap ? cap * 2 : 8;
		}
		o = &q->opt[q->nr];
		if (!eq) {
			if (!first || !implied) {
				ERR(err, "Expected '=' after parameter '%.*s'", (int)(end - p), p);
				return -EINVAL;
			}
			o->key = strdup(implied);
			o->value = unescape(p, end);
		} else {
			if (eq == p) {
				ERR(err, "Invalid parameter ''");
				return -EINVAL;
			}
			o->key = unescape(p, eq);
			o->value = unescape(eq + 1, end);
		}
		q->nr++;
		if (!o->key || !o->value)
			return -ENOMEM;
		if (!*end)
			break;
		p = end + 1;
	}
	return 0;
}

const char *qopts_get(const struct qopts *q, const char *key)
{
	for (size_t i = q->nr; i-- > 0;)
		if (!strcmp(q->opt[i].key, key))
			return q->opt[i].value;
	return NULL;
}

int qopt_bool(const char *key, const char *s, bool *out, char *err)
{
	static const char *const on[] = { "on", "yes", "true", "y" };
	static const char *const off[] = { "off", "no", "false", "n" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(s, on[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, off[i])) {
			*out = false;
			return 0;
		}
	}
	ERR(err, "Parameter '%s' expects 'on' or 'off'", key);
	return -EINVAL;
}

bool qopt_id_valid(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	return true;
}

/* Signed integer, base 0 (QEMU's qemu_strtoi64). */
static int parse_i64(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t v;
	int ret;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	ret = parse_qemu_u64(s, &v);
	if (ret)
		return ret;
	if (v > (uint64_t)INT64_MAX + neg)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* --- -object ------------------------------------------------------------ */

void backend_spec_free(struct backend_spec *s)
{
	qopts_free(&s->q);
}

int backend_spec_parse(const char *text, struct backend_spec *s, char *err)
{
	/*
	 * Accepted as QEMU does; what they change (NUMA policy, madvise,
	 * core dumps, preallocation threads, the RAM block id, huge pages)
	 * does not move memory or memslots, except a hugetlb page size, which
	 * is not modelled (man/memslot-plan.8.rst).
	 */
	static const char *const common[] = { "qom-type", "id", "size", "share", "prealloc",
					      "host-nodes", "policy", "prealloc-threads",
					      "prealloc-context", "merge", "dump", "reserve",
					      "x-use-canonical-path-for-ramblock-id", NULL };
	static const char *const bools[] = { "merge", "dump", "reserve", "hugetlb", "seal",
					     "x-use-canonical-path-for-ramblock-id",
					     "discard-data", "pmem", NULL };
	static const char *const file_only[] = { "mem-path", "align", "readonly", "discard-data",
						 "pmem", NULL };
	static const char *const memfd_only[] = { "hugetlb", "hugetlbsize", "seal", NULL };
	struct ms_backend_opts *o = &s->o;
	const char *type, *v;
	uint64_t n;
	int ret;

	memset(s, 0, sizeof(*s));
	o->sz = sizeof(*o);
	ret = qopts_parse(text, "qom-type", &s->q, err);
	if (ret)
		return ret;
	type = qopts_get(&s->q, "qom-type");
	if (!type) {
		ERR(err, "Parameter 'qom-type' is missing");
		return -EINVAL;
	}
	if (!strcmp(type, "memory-backend-ram")) {
		o->kind = MS_BACKEND_RAM;
	} else if (!strcmp(type, "memory-backend-memfd")) {
		o->kind = MS_BACKEND_MEMFD;
	} else if (!strcmp(type, "memory-backend-file")) {
		o->kind = MS_BACKEND_FILE;
	} else {
		ERR(err, "Parameter 'qom-type' does not accept value '%s'", type);
		return -EINVAL;
	}

	for (size_t i = 0; i < s->q.nr; i++) {
		const char *key = s->q.opt[i].key;
		bool known = false;

		for (size_t k = 0; common[k] && !known; k++)
			known = !strcmp(key, common[k]);
		for (size_t k = 0; o->kind == MS_BACKEND_FILE && file_only[k] && !known; k++)
			known = !strcmp(key, file_only[k]);
		for (size_t k = 0; o->kind == MS_BACKEND_MEMFD && memfd_only[k] && !known; k++)
			known = !strcmp(key, memfd_only[k]);
		if (!known) {
			ERR(err, "Invalid parameter '%s'", key);
			return -EINVAL;
		}
	}
	for (size_t k = 0; bools[k]; k++) {
		bool b;

		if ((v = qopts_get(&s->q, bools[k])) && qopt_bool(bools[k], v, &b, err))
			return -EINVAL;
	}
	if ((v = qopts_get(&s->q, "hugetlbsize")) && parse_size(v, 1, &n)) {
		ERR(err, "Parameter 'hugetlbsize' expects a size value");
		return -EINVAL;
	}
	if ((v = qopts_get(&s->q, "policy")) && strcmp(v, "default") && strcmp(v, "preferred") &&
	    strcmp(v, "bind") && strcmp(v, "interleave")) {
		ERR(err, "Parameter 'policy' does not accept value '%s'", v);
		return -EINVAL;
	}

	o->id = qopts_get(&s->q, "id");
	if (!o->id) {
		ERR(err, "Parameter 'id' is missing");
		return -EINVAL;
	}
	if (!qopt_id_valid(o->id)) {
		ERR(err, "Parameter 'id' expects an identifier");
		return -EINVAL;
	}
	v = qopts_get(&s->q, "size");
	if (!v) {
		ERR(err, "Parameter 'size' is missing");
		return -EINVAL;
	}
	if (parse_size(v, 1, &o->size)) {
		ERR(err, "Parameter 'size' expects a size value");
		return -EINVAL;
	}
	if ((v = qopts_get(&s->q, "share")) && qopt_bool("share", v, &o->share, err))
		return -EINVAL;
	if ((v = qopts_get(&s->q, "prealloc")) && qopt_bool("prealloc", v, &o->prealloc, err))
		return -EINVAL;
	if (o->kind != MS_BACKEND_FILE)
		return 0;
	o->mem_path = qopts_get(&s->q, "mem-path");
	if (!o->mem_path) {
		ERR(err, "Parameter 'mem-path' is missing");
		return -EINVAL;
	}
	if ((v = qopts_get(&s->q, "align")) && parse_size(v, 1, &o->align)) {
		ERR(err, "Parameter 'align' expects a size value");
		return -EINVAL;
	}
	if ((v = qopts_get(&s->q, "readonly")) && qopt_bool("readonly", v, &o->readonly, err))
		return -EINVAL;
	return 0;
}

/* --- -device ------------------------------------------------------------ */

enum prop_kind {
	P_ID,		/* identifier */
	P_LINK,		/* memdev */
	P_U64,		/* uint64 */
	P_I32,		/* int32 */
	P_U32,		/* uint32 */
	P_SIZE,		/* size */
	P_BLOCK_SIZE,	/* size, and said to be given (0 is no default) */
	P_BOOL,
	P_ONOFFAUTO,
	P_IGNORED,	/* PCI placement of the virtio proxies */
};

struct prop {
	const char *name;
	enum prop_kind kind;
	size_t off;		/* in struct ms_memdev_opts */
};

#define MO(field) offsetof(struct ms_memdev_opts, field)

static const struct prop dimm_props[] = {
	{ "id", P_ID, MO(id) }, { "memdev", P_LINK, 0 }, { "addr", P_U64, MO(addr) },
	{ "slot", P_I32, MO(slot) }, { "node", P_U32, MO(node) }, { NULL, 0, 0 },
};
static const struct prop nvdimm_props[] = {
	{ "id", P_ID, MO(id) }, { "memdev", P_LINK, 0 }, { "addr", P_U64, MO(addr) },
	{ "slot", P_I32, MO(slot) }, { "node", P_U32, MO(node) },
	{ "label-size", P_SIZE, MO(label_size) }, { "unarmed", P_BOOL, MO(unarmed) },
	{ NULL, 0, 0 },
};
static const struct prop vpmem_props[] = {
	{ "id", P_ID, MO(id) }, { "memdev", P_LINK, 0 }, { "memaddr", P_U64, MO(addr) },
	{ "addr", P_IGNORED, 0 }, { "bus", P_IGNORED, 0 }, { NULL, 0, 0 },
};
static const struct prop vmem_props[] = {
	{ "id", P_ID, MO(id) }, { "memdev", P_LINK, 0 }, { "memaddr", P_U64, MO(addr) },
	{ "node", P_U32, MO(node) }, { "requested-size", P_SIZE, MO(requested_size) },
	{ "block-size", P_BLOCK_SIZE, MO(block_size) },
	{ "dynamic-memslots", P_BOOL, MO(dynamic_memslots) },
	{ "unplugged-inaccessible", P_ONOFFAUTO, MO(unplugged_inaccessible) },
	{ "prealloc", P_BOOL, MO(prealloc) },
	{ "addr", P_IGNORED, 0 }, { "bus", P_IGNORED, 0 }, { NULL, 0, 0 },
};

static const struct {
	const char *driver;
	enum ms_memdev_type type;
	const struct prop *props;
} drivers[] = {
	{ "pc-dimm",		MS_MEMDEV_DIMM,		dimm_props },
	{ "nvdimm",		MS_MEMDEV_NVDIMM,	nvdimm_props },
	{ "virtio-pmem-pci",	MS_MEMDEV_VIRTIO_PMEM,	vpmem_props },
	{ "virtio-mem-pci",	MS_MEMDEV_VIRTIO_MEM,	vmem_props },
};

#define NR_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

void device_spec_free(struct device_spec *s)
{
	qopts_free(&s->q);
}

static int set_prop(struct device_spec *s, const struct prop *p, const char *v, char *err)
{
	char *base = (char *)&s->o;
	uint64_t u;
	int64_t i;
	bool b;

	switch (p->kind) {
	case P_ID:
		if (!qopt_id_valid(v)) {
			ERR(err, "Parameter 'id' expects an identifier");
			return -EINVAL;
		}
		*(const char **)(base + p->off) = v;
		return 0;
	case P_LINK:
		s->memdev = v;
		return 0;
	case P_U64:
		if (parse_qemu_u64(v, &u)) {
			ERR(err, "Parameter '%s' expects integer", p->name);
			return -EINVAL;
		}
		*(uint64_t *)(base + p->off) = u;
		return 0;
	case P_I32:
		if (parse_i64(v, &i) == -EINVAL) {
			ERR(err, "Parameter '%s' expects integer", p->name);
			return -EINVAL;
		}
		if (parse_i64(v, &i) || i < INT32_MIN || i > INT32_MAX) {
			ERR(err, "Parameter '%s' expects int32_t", p->name);
			return -EINVAL;
		}
		*(int *)(base + p->off) = (int)i;
		return 0;
	case P_U32:
		if (parse_i64(v, &i) == -EINVAL) {
			ERR(err, "Parameter '%s' expects integer", p->name);
			return -EINVAL;
		}
		if (parse_i64(v, &i) || i < 0 || i > UINT32_MAX) {
			ERR(err, "Parameter '%s' expects uint32_t", p->name);
			return -EINVAL;
		}
		*(uint32_t *)(base + p->off) = (uint32_t)i;
		return 0;
	case P_SIZE:
	case P_BLOCK_SIZE:
		if (parse_size(v, 1, &u)) {
			ERR(err, "Parameter '%s' expects size", p->name);
			return -EINVAL;
		}
		*(uint64_t *)(base + p->off) = u;
		if (p->kind == P_BLOCK_SIZE)
			s->o.block_size_set = true;
		return 0;
	case P_BOOL:
		if (qopt_bool(p->name, v, &b, err))
			return -EINVAL;
		*(bool *)(base + p->off) = b;
		return 0;
	case P_ONOFFAUTO:
		if (!strcmp(v, "on"))
			*(enum ms_onoffauto *)(base + p->off) = MS_ON;
		else if (!strcmp(v, "off"))
			*(enum ms_onoffauto *)(base + p->off) = MS_OFF;
		else if (!strcmp(v, "auto"))
			*(enum ms_onoffauto *)(base + p->off) = MS_AUTO;
		else {
			ERR(err, "Parameter '%s' does not accept value '%s'", p->name, v);
			return -EINVAL;
		}
		return 0;
	case P_IGNORED:
		return 0;
	}
	return 0;
}

int device_spec_parse(const char *text, struct device_spec *s, char *err)
{
	const struct prop *props = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	s->o.sz = sizeof(s->o);
	s->o.slot = MS_MEMDEV_SLOT_AUTO;
	ret = qopts_parse(text, "driver", &s->q, err);
	if (ret)
		return ret;
	s->driver = qopts_get(&s->q, "driver");
	if (!s->driver) {
		ERR(err, "Parameter 'driver' is missing");
		return -EINVAL;
	}
	for (size_t i = 0; i < NR_DRIVERS; i++) {
		if (!strcmp(s->driver, drivers[i].driver)) {
			s->o.type = drivers[i].type;
			props = drivers[i].props;
		}
	}
	if (!props) {
		ERR(err, "'%s' is not a valid device model name", s->driver);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->q.nr; i++) {
		const struct qopt *q = &s->q.opt[i];
		const struct prop *p;

		if (!strcmp(q->key, "driver"))
			continue;
		for (p = props; p->name && strcmp(p->name, q->key); p++)
			;
		if (!p->name) {
			ERR(err, "Property '%s.%s' not found", s->driver, q->key);
			return -EINVAL;
		}
		ret = set_prop(s, p, q->value, err);
		if (ret)
			return ret;
	}
	return 0;
}

int device_spec_resolve(struct ms_machine *m, struct device_spec *s, char *err)
{
	if (!s->memdev)
		return 0;
	s->o.memdev = ms_machine__find_backend(m, s->memdev);
	if (!s->o.memdev) {
		ERR(err, "Device '%s' not found", s->memdev);
		return -ENOENT;
	}
	return 0;
}

/* --- scripts ------------------------------------------------------------ */

const char *scn_info_name(enum scn_info info)
{
	switch (info) {
	case SCN_INFO_MEMORY_DEVICES:
		return "memory-devices";
	case SCN_INFO_MEMSLOTS:
		return "memslots";
	case SCN_INFO_ACCOUNTING:
		return "accounting";
	case SCN_INFO_MTREE:
		return "mtree";
	}
	return "?";
}

void scenario_free(struct scenario *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		free(s->steps[i].text);
		free(s->steps[i].arg);
		free(s->steps[i].prop);
		free(s->steps[i].value);
	}
	free(s->steps);
	s->steps = NULL;
	s->nr = 0;
}

#define MAX_WORDS 6

/* Split @line in place at blanks. Return: the number of words, or -1 if too many. */
static int split_words(char *line, char **w)
{
	int n = 0;

	for (char *p = line; *p;) {
		while (*p && isspace((unsigned char)*p))
			*p++ = '\0';
		if (!*p)
			break;
		if (n == MAX_WORDS)
			return -1;
		w[n++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	return n;
}

static int parse_step(char *words_line, struct scn_step *st, char *err)
{
	char *w[MAX_WORDS] = { NULL };
	int n = split_words(words_line, w);
	const char *cmd;

	if (n < 0) {
		ERR(err, "too many arguments");
		return -EINVAL;
	}
	if (!n)
		return -EINVAL;	/* blank lines never get here */
	cmd = w[0];

#define NEED(count, usage) do {							\
		if (n != (count)) {						\
			ERR(err, "usage: %s", (usage));				\
			return -EINVAL;						\
		}								\
	} while (0)
#define DUP(dst, src) do {							\
		if (!((dst) = strdup(src)))					\
			return -ENOMEM;						\
	} while (0)

	if (!strcmp(cmd, "object_add") || !strcmp(cmd, "object-add")) {
		NEED(2, "object_add TYPE,id=ID,size=SIZE[,...]");
		st->cmd = SCN_OBJECT_ADD;
		DUP(st->arg, w[1]);
	} else if (!strcmp(cmd, "device_add") || !strcmp(cmd, "device-add")) {
		NEED(2, "device_add DRIVER,key=value[,...]");
		st->cmd = SCN_DEVICE_ADD;
		DUP(st->arg, w[1]);
	} else if (!strcmp(cmd, "device_del") || !strcmp(cmd, "device-del")) {
		NEED(2, "device_del ID");
		st->cmd = SCN_DEVICE_DEL;
		DUP(st->arg, w[1]);
	} else if (!strcmp(cmd, "qom-set") || !strcmp(cmd, "qom_set")) {
		NEED(4, "qom-set ID PROPERTY VALUE");
		st->cmd = SCN_QOM_SET;
		DUP(st->arg, w[1]);
		DUP(st->prop, w[2]);
		DUP(st->value, w[3]);
	} else if (!strcmp(cmd, "virtio-mem")) {
		if (n >= 2 && !strcmp(w[1], "unplug-all")) {
			NEED(3, "virtio-mem unplug-all ID");
			st->cmd = SCN_VMEM_UNPLUG_ALL;
			DUP(st->arg, w[2]);
			return 0;
		}
		if (n < 2 || (strcmp(w[1], "plug") && strcmp(w[1], "unplug"))) {
			ERR(err, "usage: virtio-mem plug|unplug ID OFFSET SIZE, "
			    "virtio-mem unplug-all ID");
			return -EINVAL;
		}
		st->cmd = !strcmp(w[1], "plug") ? SCN_VMEM_PLUG : SCN_VMEM_UNPLUG;
		NEED(5, st->cmd == SCN_VMEM_PLUG ? "virtio-mem plug ID OFFSET SIZE" :
						 "virtio-mem unplug ID OFFSET SIZE");
		DUP(st->arg, w[2]);
		if (parse_size(w[3], 1, &st->offset)) {
			ERR(err, "invalid offset: %s", w[3]);
			return -EINVAL;
		}
		if (parse_size(w[4], 1, &st->size)) {
			ERR(err, "invalid size: %s", w[4]);
			return -EINVAL;
		}
	} else if (!strcmp(cmd, "info")) {
		static const enum scn_info all[] = { SCN_INFO_MEMORY_DEVICES, SCN_INFO_MEMSLOTS,
						     SCN_INFO_ACCOUNTING, SCN_INFO_MTREE };
		size_t i;

		NEED(2, "info memory-devices|memslots|accounting|mtree");
		st->cmd = SCN_INFO;
		for (i = 0; i < 4 && strcmp(w[1], scn_info_name(all[i])); i++)
			;
		if (i == 4) {
			ERR(err, "unknown info item: %s", w[1]);
			return -EINVAL;
		}
		st->info = all[i];
	} else {
		ERR(err, "unknown command: %s", cmd);
		return -EINVAL;
	}
	return 0;
#undef NEED
#undef DUP
}

/* Strip a comment and surrounding blanks in place. Return: the text. */
static char *trim(char *s)
{
	char *hash = strchr(s, '#'), *e;

	if (hash)
		*hash = '\0';
	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int scenario_parse(const char *text, struct scenario *s, unsigned int *line, char *err)
{
	const char *p = text;
	size_t cap = 0;
	unsigned int lineno = 0;

	memset(s, 0, sizeof(*s));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *buf, *t, *words;
		struct scn_step *st;
		int ret;

		lineno++;
		buf = malloc(len + 1);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, p, len);
		buf[len] = '\0';
		p += len + (nl ? 1 : 0);
		if (memchr(buf, '\0', len)) {
			free(buf);
			*line = lineno;
			ERR(err, "NUL byte in the script");
			return -EINVAL;
		}
		t = trim(buf);
		if (!*t) {
			free(buf);
			continue;
		}
		if (s->nr == cap) {
			struct scn_step *n = realloc(s->steps, (cap ? cap * 2 : 16) * sizeof(*n));

			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			s->steps = n;
			cap = cap ? cap * 2 : 16;
		}
		st = &s->steps[s->nr++];
		memset(st, 0, sizeof(*st));
		st->line = lineno;
		st->text = strdup(t);
		words = strdup(t);
		ret = st->text && words ? parse_step(words, st, err) : -ENOMEM;
		free(words);
		free(buf);
		if (ret) {
			*line = lineno;
			return ret;
		}
	}
	return 0;
}

/* --- executing steps ----------------------------------------------------- */

static const char *driver_of(enum ms_memdev_type type)
{
	for (size_t i = 0; i < NR_DRIVERS; i++)
		if (drivers[i].type == type)
			return drivers[i].driver;
	return "memory-device";
}

/* ID, or a QOM path /machine/peripheral/ID. */
static struct ms_memdev *find_device(struct ms_machine *m, const char *id, char *err)
{
	static const char prefix[] = "/machine/peripheral/";
	struct ms_memdev *d;

	if (!strncmp(id, prefix, sizeof(prefix) - 1))
		id += sizeof(prefix) - 1;
	d = ms_machine__find_device(m, id);
	if (!d)
		ERR(err, "Device '%s' not found", id);
	return d;
}

static const char *resp_name(int r)
{
	switch (r) {
	case MS_VIRTIO_MEM_ACK:
		return "ACK";
	case MS_VIRTIO_MEM_NACK:
		return "NACK";
	case MS_VIRTIO_MEM_BUSY:
		return "BUSY";
	case MS_VIRTIO_MEM_ERROR:
		return "ERROR";
	}
	return "?";
}

static int exec_object_add(struct ms_machine *m, const char *text, bool no_memory, char *err)
{
	struct ms_error e = { 0 };
	struct backend_spec b;
	int ret;

	ret = backend_spec_parse(text, &b, err);
	if (ret)
		goto free_spec;
	/* QMP/HMP object-add's text for a taken id (QEMU 7.2). */
	if (ms_machine__find_backend(m, b.o.id)) {
		ERR(err, "attempt to add duplicate property '%s' to object (type 'container')",
		    b.o.id);
		ret = -EEXIST;
		goto free_spec;
	}
	b.o.no_memory = no_memory;
	if (!ms_machine__add_backend(m, &b.o, &e)) {
		ret = e.err ? e.err : -errno;
		ERR(err, "%s", error_text(&e, -ret));
	}
free_spec:
	backend_spec_free(&b);
	return ret;
}

static int exec_device_add(struct ms_machine *m, const char *text, char *err)
{
	struct ms_error e = { 0 };
	struct device_spec d;
	int ret;

	ret = device_spec_parse(text, &d, err);
	if (ret)
		goto free_spec;
	if (d.o.id && ms_machine__find_device(m, d.o.id)) {
		ERR(err, "Duplicate device ID '%s'", d.o.id);
		ret = -EEXIST;
		goto free_spec;
	}
	ret = device_spec_resolve(m, &d, err);
	if (ret)
		goto free_spec;
	d.o.hotplugged = true;
	if (!ms_machine__device_add(m, &d.o, &e)) {
		ret = e.err ? e.err : -errno;
		ERR(err, "%s", error_text(&e, -ret));
	}
free_spec:
	device_spec_free(&d);
	return ret;
}

static int exec_qom_set(struct ms_machine *m, const struct scn_step *st, char *err)
{
	const char *driver;
	struct ms_error e = { 0 };
	struct ms_memdev *d;
	uint64_t size;
	int ret;

	d = find_device(m, st->arg, err);
	if (!d)
		return -ENOENT;
	driver = driver_of(ms_memdev__type(d));
	if (ms_memdev__type(d) != MS_MEMDEV_VIRTIO_MEM || strcmp(st->prop, "requested-size")) {
		const struct prop *props = NULL;

		for (size_t i = 0; i < NR_DRIVERS; i++)
			if (drivers[i].type == ms_memdev__type(d))
				props = drivers[i].props;
		for (; props && props->name; props++) {
			if (strcmp(props->name, st->prop))
				continue;
			if (!strcmp(st->prop, "block-size"))	/* rule 8.2 */
				ERR(err, "'block-size' cannot be changed");
			else
				ERR(err, "Attempt to set property '%s' on device '%s' "
				    "(type '%s') after it was realized", st->prop,
				    ms_memdev__id(d) ?: "", driver);
			return -EPERM;
		}
		ERR(err, "Property '%s.%s' not found", driver, st->prop);
		return -ENOENT;
	}
	if (parse_size(st->value, 1, &size)) {
		ERR(err, "Parameter 'requested-size' expects size");
		return -EINVAL;
	}
	ret = ms_virtio_mem__set_requested_size(d, size, &e);
	if (ret)
		ERR(err, "%s", error_text(&e, -ret));
	return ret;
}

static int exec_vmem(struct ms_machine *m, const struct scn_step *st, char *err)
{
	struct ms_memdev *d = find_device(m, st->arg, err);
	struct ms_slotmap *kvm = ms_machine__kvm(m);
	const struct ms_error *kerr;
	const char *what;
	bool had;
	int r;

	if (!d)
		return -ENOENT;
	if (ms_memdev__type(d) != MS_MEMDEV_VIRTIO_MEM) {
		ERR(err, "device '%s' is not a virtio-mem device (type '%s')", st->arg,
		    driver_of(ms_memdev__type(d)));
		return -EINVAL;
	}
	had = kvm && ms_slotmap__error(kvm);
	switch (st->cmd) {
	case SCN_VMEM_PLUG:
		r = ms_virtio_mem__plug(d, st->offset, st->size);
		what = "plug";
		break;
	case SCN_VMEM_UNPLUG:
		r = ms_virtio_mem__unplug(d, st->offset, st->size);
		what = "unplug";
		break;
	default:
		r = ms_virtio_mem__unplug_all(d);
		what = "unplug-all";
		break;
	}
	/* KVM refused a memslot: the library undid the request (BUSY) */
	kerr = kvm && !had ? ms_slotmap__error(kvm) : NULL;
	if (r != MS_VIRTIO_MEM_ACK && kerr) {
		int ret = kerr->err ? kerr->err : -EIO;

		ERR(err, "%s", error_text(kerr, -ret));
		return ret;
	}
	if (r == MS_VIRTIO_MEM_ACK)
		return 0;
	if (st->cmd == SCN_VMEM_UNPLUG_ALL)
		ERR(err, "virtio-mem '%s': %s request answered %s", st->arg, what, resp_name(r));
	else
		ERR(err, "virtio-mem '%s': %s request [0x%" PRIx64 ":0x%" PRIx64
		    "] answered %s", st->arg, what, st->offset, st->size, resp_name(r));
	return -EIO;
}

int scenario_exec(struct ms_machine *m, const struct scn_step *st, bool no_memory, char *err)
{
	struct ms_error e = { 0 };
	struct ms_memdev *d;
	int ret;

	err[0] = '\0';
	switch (st->cmd) {
	case SCN_OBJECT_ADD:
		return exec_object_add(m, st->arg, no_memory, err);
	case SCN_DEVICE_ADD:
		return exec_device_add(m, st->arg, err);
	case SCN_DEVICE_DEL:
		d = find_device(m, st->arg, err);
		if (!d)
			return -ENOENT;
		ret = ms_machine__device_del(m, d, &e);
		if (ret)
			ERR(err, "%s", error_text(&e, -ret));
		return ret;
	case SCN_QOM_SET:
		return exec_qom_set(m, st, err);
	case SCN_VMEM_PLUG:
	case SCN_VMEM_UNPLUG:
	case SCN_VMEM_UNPLUG_ALL:
		return exec_vmem(m, st, err);
	case SCN_INFO:
		return 0;
	}
	return 0;
}
