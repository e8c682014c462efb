// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A running QEMU as the input of `memslot plan` (live.h).
 *
 * --from-pid: the command line as QEMU was started; --qmp adds what the
 * VM holds now, asked over QMP:
 *   - query-memory-devices is the truth for memory devices: a -device of
 *     the command line whose memdev no device uses any more was unplugged
 *     and is left out; the others get their actual address and slot
 *     (DIMMs: addr=, slot=; virtio: memaddr=, and requested-size= for
 *     virtio-mem), so placement matches whatever happened since start;
 *     devices no -device explains were hot-plugged: they are added as
 *     -device with those values and marked hotplugged;
 *   - query-memdev lists the backends: a -object memory-backend-* that is
 *     gone was object_del'ed and is left out; one the command line does not
 *     have was object_add'ed and becomes a -object (type, mem-path and
 *     align asked with qom-get), so that a -device memdev=ID of the user
 *     finds it. "pc.ram", the machine's own RAM backend, is not a -object.
 *   - a virtio-mem device with plugged memory gets a `virtio-mem plug ID 0
 *     SIZE` step: QMP does not say which blocks the guest plugged, so they
 *     are taken to be the first ones (exact for the memslot count unless
 *     the device uses dynamic memslots);
 *   - `info mtree -f` is kept to compare its KVM ranges with the plan.
 * -netdev ...,vhost=on (vhost-net, kernel vhost) adds --vhost-limit with
 * /sys/module/vhost/parameters/max_mem_regions (64 if unreadable, as QEMU,
 * memory-devices.md 9.1). vhost-user backends are not recognised: their
 * limit is negotiated with the backend (8, or up to 512 with
 * CONFIGURE_MEM_SLOTS); give it with --vhost-limit N,user=on.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "live.h"
#include "qmp.h"
#include "vmsel.h"

#define VHOST_PARAM	"/sys/module/vhost/parameters/max_mem_regions"
#define VHOST_DEFAULT	64

/* One memory device of query-memory-devices. */
struct ldev {
	const char *type;	/* "dimm", "nvdimm", "virtio-mem", ... */
	const char *id;		/* NULL without one */
	const char *memdev;	/* backend id ("/objects/" stripped) */
	uint64_t addr, size, requested, block_size;
	int64_t slot, node;
	bool hotplugged;
	bool matched;		/* explained by a -device of the command line */
};

/* One backend of query-memdev. */
struct lmem {
	const char *id;
	uint64_t size;
	bool share, prealloc;
	bool matched;		/* a -object of the command line */
};

struct live_state {
	struct json_object *devs_json, *mems_json;
	struct ldev *devs;
	size_t nr_devs;
	struct lmem *mems;
	size_t nr_mems;
};

static const char *src_name(const struct live_vm *lv, char *buf, size_t len)
{
	if (lv->socket)
		snprintf(buf, len, "--qmp %s", lv->socket);
	else
		snprintf(buf, len, "--from-pid %d", (int)lv->pid);
	return buf;
}

/* Keep @s for freeing with @lv. Return: @s, NULL if it is NULL or on ENOMEM. */
static char *keep(struct live_vm *lv, char *s)
{
	char **n;

	if (!s)
		return NULL;
	n = realloc(lv->strs, (lv->nr_strs + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return NULL;
	}
	lv->strs = n;
	lv->strs[lv->nr_strs++] = s;
	return s;
}

static int push_arg(struct live_vm *lv, const char *a)
{
	char **n = realloc(lv->argv, (lv->argc + 2) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	lv->argv = n;
	lv->argv[lv->argc++] = (char *)a;
	lv->argv[lv->argc] = NULL;
	return 0;
}

static int push_step(struct scenario *s, enum scn_cmd cmd, unsigned int line, const char *text,
		     const char *arg, uint64_t size)
{
	struct scn_step *n = realloc(s->steps, (s->nr + 1) * sizeof(*n)), *st;

	if (!n)
		return -ENOMEM;
	s->steps = n;
	st = &s->steps[s->nr++];
	memset(st, 0, sizeof(*st));
	st->line = line;
	st->cmd = cmd;
	st->text = strdup(text);
	st->arg = strdup(arg);
	st->size = size;
	return st->text && st->arg ? 0 : -ENOMEM;
}

/* --- the command line ------------------------------------------------------ */

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Is @arg QEMU's option @name ("-name" or "--name")? */
static bool qemu_opt(const char *arg, const char *name)
{
	if (arg[0] != '-')
		return false;
	arg += arg[1] == '-' ? 2 : 1;
	return !strcmp(arg, name);
}

/*
 * Read /proc/PID/cmdline into @lv->cmdline and check it is QEMU's:
 * argv[0] named qemu-system-* or qemu-kvm, or an -M/-machine option.
 * Return: the number of arguments, or -1 after reporting.
 */
static int read_cmdline(struct live_vm *lv, const char *src)
{
	char path[64], *base;
	size_t len, n = 0;
	bool qemu;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)lv->pid);
	ret = read_file(path, &lv->cmdline, &len);
	if (ret == -ENOENT || ret == -ESRCH) {
		p_err("%s: no such process", src);
		return -1;
	}
	if (ret) {
		p_err("%s: %s: %s", src, path, read_file_strerror(ret));
		return -1;
	}
	if (!len) {
		p_err("%s: not a QEMU process: empty command line (a kernel thread or a zombie)",
		      src);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		n += !lv->cmdline[i];
	if (lv->cmdline[len - 1])
		n++;	/* a process that rewrote its arguments */
	base = strrchr(lv->cmdline, '/');
	base = base ? base + 1 : lv->cmdline;
	qemu = has_prefix(base, "qemu-system-") || has_prefix(base, "qemu-kvm");
	for (const char *a = lv->cmdline + strlen(lv->cmdline) + 1; !qemu && a < lv->cmdline + len;
	     a += strlen(a) + 1)
		qemu = qemu_opt(a, "M") || qemu_opt(a, "machine");
	if (!qemu) {
		p_err("%s: not a QEMU process: %s", src, lv->cmdline);
		return -1;
	}
	return (int)n;
}

/*
 * driver (or qom-type), id and memdev of a -device / -object value, in
 * key=value or JSON form. Return: 0 (the strings are malloc()ed or NULL),
 * -ENOMEM.
 */
static int opt_fields(const char *text, bool device, char **driver, char **id, char **memdev)
{
	const char *kd = device ? "driver" : "qom-type";
	const char *d = NULL, *i = NULL, *m = NULL;
	struct json_object *o = NULL, *v;
	char err[QOPT_ERR_LEN];
	struct qopts q = { 0 };
	int ret = 0;

	if (text[0] == '{') {
		o = json_tokener_parse(text);
		if (json_object_object_get_ex(o, kd, &v))
			d = json_object_get_string(v);
		if (json_object_object_get_ex(o, "id", &v))
			i = json_object_get_string(v);
		if (json_object_object_get_ex(o, "memdev", &v))
			m = json_object_get_string(v);
	} else {
		ret = qopts_parse(text, kd, &q, err);
		if (ret == -ENOMEM)
			goto out;
		ret = 0;
		d = qopts_get(&q, kd);
		i = qopts_get(&q, "id");
		m = qopts_get(&q, "memdev");
	}
	*driver = d ? strdup(d) : NULL;
	*id = i ? strdup(i) : NULL;
	*memdev = m ? strdup(m) : NULL;
	if ((d && !*driver) || (i && !*id) || (m && !*memdev))
		ret = -ENOMEM;
out:
	json_object_put(o);
	qopts_free(&q);
	return ret;
}

static bool is_memdev_driver(const char *d)
{
	return d && (!strcmp(d, "pc-dimm") || !strcmp(d, "nvdimm") ||
		     !strcmp(d, "virtio-mem-pci") || !strcmp(d, "virtio-pmem-pci"));
}

/* -netdev ...,vhost=on (or JSON "vhost": true): kernel vhost-net. */
static bool netdev_vhost(const char *text)
{
	char err[QOPT_ERR_LEN];
	struct qopts q;
	bool on = false;
	const char *v;

	if (text[0] == '{') {
		struct json_object *o = json_tokener_parse(text), *jv;

		on = json_object_object_get_ex(o, "vhost", &jv) && json_object_get_boolean(jv);
		json_object_put(o);
		return on;
	}
	if (!qopts_parse(text, "type", &q, err) && (v = qopts_get(&q, "vhost")))
		qopt_bool("vhost", v, &on, err);
	qopts_free(&q);
	return on;
}

/* --- the VM now (QMP) -------------------------------------------------------- */

static uint64_t ju64(struct json_object *o, const char *k, uint64_t dflt)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !v)
		return dflt;
	return (uint64_t)json_object_get_uint64(v);
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int query_state(struct qmp_client *c, struct live_state *st, const char *src)
{
	char err[QMP_ERR_LEN];

	st->devs_json = qmp_client_execute(c, "query-memory-devices", NULL, err);
	if (!st->devs_json) {
		p_err("%s: query-memory-devices: %s", src, err);
		return -1;
	}
	st->mems_json = qmp_client_execute(c, "query-memdev", NULL, err);
	if (!st->mems_json) {
		p_err("%s: query-memdev: %s", src, err);
		return -1;
	}
	if (!json_object_is_type(st->devs_json, json_type_array)) {
		p_err("%s: query-memory-devices: answer is not an array", src);
		return -1;
	}
	if (!json_object_is_type(st->mems_json, json_type_array)) {
		p_err("%s: query-memdev: answer is not an array", src);
		return -1;
	}
	st->nr_devs = json_object_array_length(st->devs_json);
	st->nr_mems = json_object_array_length(st->mems_json);
	st->devs = calloc(st->nr_devs + 1, sizeof(*st->devs));
	st->mems = calloc(st->nr_mems + 1, sizeof(*st->mems));
	if (!st->devs || !st->mems) {
		p_err("%s: %s", src, strerror(ENOMEM));
		return -1;
	}
	for (size_t i = 0; i < st->nr_devs; i++) {
		struct json_object *e = json_object_array_get_idx(st->devs_json, i), *data;
		struct ldev *d = &st->devs[i];
		const char *md;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "data", &data) ||
		    !json_object_is_type(data, json_type_object)) {
			p_err("%s: query-memory-devices: element %zu is not an object with "
			      "object \"data\"", src, i);
			return -1;
		}
		d->type = jstr(e, "type");
		d->id = jstr(data, "id");
		md = jstr(data, "memdev");
		d->memdev = md && has_prefix(md, "/objects/") ? md + 9 : md;
		d->addr = ju64(data, "addr", ju64(data, "memaddr", 0));
		d->slot = (int64_t)ju64(data, "slot", (uint64_t)-1);
		d->node = (int64_t)ju64(data, "node", (uint64_t)-1);
		d->size = ju64(data, "size", 0);
		d->requested = ju64(data, "requested-size", 0);
		d->block_size = ju64(data, "block-size", 0);
		d->hotplugged = json_object_get_boolean(json_object_object_get(data,
									       "hotplugged"));
		if (!d->type || (strcmp(d->type, "dimm") && strcmp(d->type, "nvdimm") &&
				 strcmp(d->type, "virtio-mem") && strcmp(d->type, "virtio-pmem"))) {
			p_err("%s: memory device '%s' of type %s cannot be planned", src,
			      d->id ? d->id : "(unnamed)", d->type ? d->type : "(none)");
			return -1;
		}
		if (!d->memdev) {
			p_err("%s: memory device '%s' without a memdev", src,
			      d->id ? d->id : "(unnamed)");
			return -1;
		}
	}
	for (size_t i = 0; i < st->nr_mems; i++) {
		struct json_object *e = json_object_array_get_idx(st->mems_json, i);
		struct lmem *m = &st->mems[i];

		if (!json_object_is_type(e, json_type_object)) {
			p_err("%s: query-memdev: element %zu is not an object", src, i);
			return -1;
		}
		m->id = jstr(e, "id");
		m->size = ju64(e, "size", 0);
		m->share = json_object_get_boolean(json_object_object_get(e, "share"));
		m->prealloc = json_object_get_boolean(json_object_object_get(e, "prealloc"));
		/* the machine's own RAM is not an -object */
		m->matched = !m->id || !strcmp(m->id, "pc.ram");
	}
	return 0;
}

static struct ldev *find_ldev(struct live_state *st, const char *memdev, const char *id)
{
	for (size_t i = 0; i < st->nr_devs; i++) {
		struct ldev *d = &st->devs[i];

		if (d->matched || (d->type && !strcmp(d->type, "dimm") && d->hotplugged))
			continue;
		if (memdev && !strcmp(d->memdev, memdev))
			return d;
	}
	(void)id;
	return NULL;
}

static struct lmem *find_lmem(struct live_state *st, const char *id)
{
	for (size_t i = 0; i < st->nr_mems; i++)
		if (st->mems[i].id && id && !strcmp(st->mems[i].id, id))
			return &st->mems[i];
	return NULL;
}

static const char *driver_of(const char *type)
{
	if (!strcmp(type, "dimm"))
		return "pc-dimm";
	if (!strcmp(type, "nvdimm"))
		return "nvdimm";
	if (!strcmp(type, "virtio-mem"))
		return "virtio-mem-pci";
	return "virtio-pmem-pci";
}

static bool is_dimm(const struct ldev *d)
{
	return !strcmp(d->type, "dimm") || !strcmp(d->type, "nvdimm");
}

/* The placement of @d as key=value items, each with a leading comma. */
static char *placement(const struct ldev *d)
{
	char *s = NULL;
	int r;

	if (is_dimm(d))
		r = asprintf(&s, ",addr=0x%" PRIx64 ",slot=%" PRId64, d->addr, d->slot);
	else if (!strcmp(d->type, "virtio-mem"))
		r = asprintf(&s, ",memaddr=0x%" PRIx64 ",requested-size=%" PRIu64, d->addr,
			     d->requested);
	else
		r = asprintf(&s, ",memaddr=0x%" PRIx64, d->addr);
	return r < 0 ? NULL : s;
}

/*
 * The -device value of @text with @d's placement. Return: malloc()ed, or
 * NULL with *@bad_json set if @text is not a JSON object, clear on ENOMEM.
 */
static char *pin_device(const char *text, const struct ldev *d, bool *bad_json)
{
	struct json_object *o;
	char *s, *out = NULL;

	*bad_json = false;

	if (text[0] != '{') {
		s = placement(d);
		if (s && asprintf(&out, "%s%s", text, s) < 0)
			out = NULL;
		free(s);
		return out;
	}
	o = json_tokener_parse(text);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		*bad_json = true;
		return NULL;
	}
	if (is_dimm(d)) {
		json_object_object_add(o, "addr", json_object_new_uint64(d->addr));
		json_object_object_add(o, "slot", json_object_new_int64(d->slot));
	} else {
		json_object_object_add(o, "memaddr", json_object_new_uint64(d->addr));
		if (!strcmp(d->type, "virtio-mem"))
			json_object_object_add(o, "requested-size",
					       json_object_new_uint64(d->requested));
	}
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

/* -device for a device no -device explains. Return: malloc()ed, or NULL. */
static char *hotplugged_device(const struct ldev *d)
{
	char *pl = placement(d), *out = NULL, node[32] = "", bs[40] = "";

	if (!pl)
		return NULL;
	if (d->node >= 0 && strcmp(d->type, "virtio-pmem"))
		snprintf(node, sizeof(node), ",node=%" PRId64, d->node);
	if (!strcmp(d->type, "virtio-mem") && d->block_size)
		snprintf(bs, sizeof(bs), ",block-size=%" PRIu64, d->block_size);
	if (asprintf(&out, "%s%s%s,memdev=%s%s%s%s", driver_of(d->type), d->id ? ",id=" : "",
		     d->id ? d->id : "", d->memdev, pl, node, bs) < 0)
		out = NULL;
	free(pl);
	return out;
}

/* -object for a backend added after start. Return: malloc()ed, or NULL after reporting. */
static char *added_backend(struct qmp_client *c, const struct lmem *m, const char *src)
{
	char err[QMP_ERR_LEN], *path = NULL, *out = NULL, *mem_path = NULL, align[40] = "";
	struct json_object *type = NULL, *v;
	const char *t;

	if (asprintf(&path, "/objects/%s", m->id) < 0) {
		path = NULL;
		goto nomem;
	}
	type = qmp_client_qom_get(c, path, "type", err);
	if (!type) {
		p_err("%s: qom-get %s type: %s", src, path, err);
		goto out;
	}
	if (!json_object_is_type(type, json_type_string)) {
		p_err("%s: qom-get %s type: answer is not a string", src, path);
		goto out;
	}
	t = json_object_get_string(type);
	if (!strcmp(t, "memory-backend-file")) {
		v = qmp_client_qom_get(c, path, "mem-path", err);
		if (!v) {
			p_err("%s: qom-get %s mem-path: %s", src, path, err);
			goto out;
		}
		if (asprintf(&mem_path, ",mem-path=%s", json_object_get_string(v)) < 0)
			mem_path = NULL;
		json_object_put(v);
		if (!mem_path)
			goto nomem;
		v = qmp_client_qom_get(c, path, "align", err);
		if (v && json_object_get_uint64(v))
			snprintf(align, sizeof(align), ",align=%" PRIu64,
				 (uint64_t)json_object_get_uint64(v));
		json_object_put(v);
	}
	if (asprintf(&out, "%s,id=%s,size=%" PRIu64 "%s%s%s%s", t, m->id, m->size,
		     m->share ? ",share=on" : "", m->prealloc ? ",prealloc=on" : "",
		     mem_path ? mem_path : "", align) < 0) {
		out = NULL;
		goto nomem;
	}
	goto out;

nomem:
	p_err("%s: %s", src, strerror(ENOMEM));
out:
	json_object_put(type);
	free(mem_path);
	free(path);
	return out;
}

/* --- putting it together ------------------------------------------------------ */

static int vhost_limit(void)
{
	char *text;
	size_t len;
	uint64_t n;
	int limit = VHOST_DEFAULT;

	if (read_file(VHOST_PARAM, &text, &len))
		return limit;
	text[strcspn(text, "\n")] = '\0';
	if (!parse_u64(text, &n) && n > 0 && n < INT32_MAX)
		limit = (int)n;
	free(text);
	return limit;
}

/*
 * The VM's arguments into @lv->argv: the command line, with --qmp filtered
 * and pinned to @st, then what only the VM has now.
 */
static int vm_args(struct live_vm *lv, char **args, int n, struct live_state *st,
		   struct qmp_client *c, const char *src)
{
	bool vhost = false;

	for (int i = 1; i < n; i++) {
		const char *a = args[i], *val = i + 1 < n ? args[i + 1] : NULL;
		bool dev = qemu_opt(a, "device"), obj = qemu_opt(a, "object");
		char *driver = NULL, *id = NULL, *memdev = NULL, *v = NULL;
		int ret = 0;

		if (qemu_opt(a, "netdev") && val && netdev_vhost(val))
			vhost = true;
		if ((!dev && !obj) || !val || !st) {
			if (push_arg(lv, a))
				goto nomem;
			continue;
		}
		if (opt_fields(val, dev, &driver, &id, &memdev))
			goto nomem;
		if (dev && is_memdev_driver(driver)) {
			struct ldev *d = find_ldev(st, memdev, id);

			if (d) {
				bool bad_json;

				d->matched = true;
				v = keep(lv, pin_device(val, d, &bad_json));
				if (!v && bad_json) {
					p_err("%s: %s %s: not a JSON object", src, a, val);
					free(driver);
					free(id);
					free(memdev);
					return -1;
				}
				ret = v ? push_arg(lv, a) ?: push_arg(lv, v) : -ENOMEM;
			}
			/* else: unplugged since start */
		} else if (obj && driver && has_prefix(driver, "memory-backend-")) {
			struct lmem *m = find_lmem(st, id);

			if (m) {
				m->matched = true;
				ret = push_arg(lv, a) ?: push_arg(lv, val);
			}
			/* else: deleted since start */
		} else {
			ret = push_arg(lv, a) ?: push_arg(lv, val);
		}
		free(driver);
		free(id);
		free(memdev);
		if (ret)
			goto nomem;
		i++;
	}

	for (size_t i = 0; st && i < st->nr_mems; i++) {
		struct lmem *m = &st->mems[i];
		char *v;

		if (m->matched)
			continue;
		v = keep(lv, added_backend(c, m, src));
		if (!v)
			return -1;
		if (push_arg(lv, "-object") || push_arg(lv, v))
			goto nomem;
	}
	for (size_t i = 0; st && i < st->nr_devs; i++) {
		struct ldev *d = &st->devs[i];
		const char **n;
		char *v;

		lv->nr_devices++;
		if (!d->matched) {
			n = realloc(lv->hotplugged, (lv->nr_hotplugged + 1) * sizeof(*n));
			if (!n)
				goto nomem;
			lv->hotplugged = n;
			v = keep(lv, hotplugged_device(d));
			if (!v || push_arg(lv, "-device") || push_arg(lv, v))
				goto nomem;
			lv->hotplugged[lv->nr_hotplugged++] = v;
		}
		if (!strcmp(d->type, "virtio-mem") && d->size) {
			char *text;
			int ret;

			if (!d->id) {
				p_err("%s: virtio-mem device without an id has 0x%" PRIx64
				      " bytes plugged: cannot be planned", src, d->size);
				return -1;
			}
			if (asprintf(&text, "virtio-mem plug %s 0 %" PRIu64, d->id, d->size) < 0)
				goto nomem;
			ret = push_step(&lv->history, SCN_VMEM_PLUG, 0, text, d->id, d->size);
			free(text);
			if (ret)
				goto nomem;
		}
	}
	if (vhost) {
		char *v = NULL;

		lv->vhost_limit = vhost_limit();
		if (asprintf(&v, "%u,name=vhost-net", lv->vhost_limit) < 0 || !keep(lv, v) ||
		    push_arg(lv, "--vhost-limit") || push_arg(lv, v))
			goto nomem;
	}
	return 0;

nomem:
	p_err("%s: %s", src, strerror(ENOMEM));
	return -1;
}

/* With --from-pid: count the memory devices of the command line. */
static void count_cold(struct live_vm *lv)
{
	for (int i = 1; i + 1 < lv->argc; i++) {
		char *driver = NULL, *id = NULL, *memdev = NULL;

		if (!qemu_opt(lv->argv[i], "device"))
			continue;
		if (!opt_fields(lv->argv[i + 1], true, &driver, &id, &memdev) &&
		    is_memdev_driver(driver))
			lv->nr_devices++;
		free(driver);
		free(id);
		free(memdev);
		i++;
	}
}

int live_open(struct live_vm *lv, int argc, char **argv)
{
	const char *pid_text = NULL, *sock = NULL, *name = NULL;
	struct live_state st = { 0 };
	struct qmp_client c = { .fd = -1 };
	char src[300], err[QMP_ERR_LEN];
	int *user = calloc(argc + 1, sizeof(*user)), nr_user = 0, status = 1;
	unsigned int nsteps = 0;
	char **args = NULL;
	int nargs;

	lv->memslots_match = -1;
	if (!user) {
		p_err("%s", strerror(ENOMEM));
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **slot = NULL, *val = NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			free(user);
			return 0;
		}
		if (!strcmp(a, "--from-pid") || has_prefix(a, "--from-pid="))
			slot = &pid_text;
		else if (!strcmp(a, "--qmp") || has_prefix(a, "--qmp="))
			slot = &sock;
		else if (!strcmp(a, "--from-name") || has_prefix(a, "--from-name="))
			slot = &name;
		if (!slot) {
			user[nr_user++] = i;
			continue;
		}
		if (strchr(a, '=')) {
			val = strchr(a, '=') + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			free(user);
			return usage_err("missing argument of option: %s", a);
		}
		if (*slot) {
			free(user);
			return usage_err("%s %s: only one --from-pid, --from-name or --qmp", a,
					 val);
		}
		*slot = val;
	}
	if (!pid_text && !sock && !name) {
		free(user);
		return 0;
	}
	if (pid_text && sock) {
		free(user);
		return usage_err("--from-pid %s: not with --qmp %s", pid_text, sock);
	}
	if (name && (pid_text || sock)) {
		free(user);
		return usage_err("--from-name %s: not with %s", name,
				 sock ? "--qmp" : "--from-pid");
	}
	lv->active = true;
	if (name) {
		struct vmsel sel = { 0 };
		uint32_t pid = 0;

		if (!*name) {
			free(user);
			return usage_err("--from-name: empty argument");
		}
		/* QEMU's -name guest=NAME, else the process name; exactly one */
		status = vmsel_parse(&sel, 'n', name);
		if (!status && vmsel_resolve(&sel))
			status = 1;
		if (!status)
			status = vmsel_one(&sel, "--from-name", &pid);
		vmsel_free(&sel);
		if (status) {
			free(user);
			return status;
		}
		status = 1;
		lv->pid = (pid_t)pid;
	} else if (pid_text) {
		uint32_t pid;

		if (parse_pid(pid_text, &pid)) {
			free(user);
			return usage_err("--from-pid: invalid process id: %s", pid_text);
		}
		lv->pid = (pid_t)pid;
	} else {
		if (!*sock) {
			free(user);
			return usage_err("--qmp: empty argument");
		}
		lv->socket = sock;
		if (qmp_client_connect(&c, sock, err)) {
			p_err("--qmp %s: %s", sock, err);
			goto out;
		}
		lv->pid = c.peer;
		if (!lv->pid) {
			p_err("--qmp %s: cannot tell the process at the other end", sock);
			goto out;
		}
	}
	src_name(lv, src, sizeof(src));
	nargs = read_cmdline(lv, src);
	if (nargs < 0)
		goto out;
	args = calloc(nargs + 1, sizeof(*args));
	if (!args)
		goto nomem;
	for (int k = 0; k < nargs; k++)
		args[k] = k ? args[k - 1] + strlen(args[k - 1]) + 1 : lv->cmdline;
	if (push_arg(lv, argv[0]))
		goto nomem;
	if (sock) {
		if (query_state(&c, &st, src))
			goto out;
		lv->mtree = qmp_client_hmp(&c, "info mtree -f", err);
		if (!lv->mtree) {
			p_err("%s: info mtree -f: %s", src, err);
			goto out;
		}
	}
	if (vm_args(lv, args, nargs, sock ? &st : NULL, &c, src))
		goto out;
	if (!sock)
		count_cold(lv);

	/* the user's options: -object/-device are the hot-plug */
	for (int k = 0; k < nr_user; k++) {
		const char *a = argv[user[k]];
		bool dev = qemu_opt(a, "device"), obj = qemu_opt(a, "object");
		char text[64 + 4096];

		if ((dev || obj) && a[1] != '-' && k + 1 < nr_user && user[k + 1] == user[k] + 1) {
			const char *v = argv[user[++k]];

			snprintf(text, sizeof(text), "%s %s", dev ? "device_add" : "object_add", v);
			if (push_step(&lv->hotplug, dev ? SCN_DEVICE_ADD : SCN_OBJECT_ADD, ++nsteps,
				      text, v, 0))
				goto nomem;
			continue;
		}
		if (push_arg(lv, a))
			goto nomem;
	}
	status = 0;
	goto out;

nomem:
	p_err("%s: %s", src, strerror(ENOMEM));
out:
	free(user);
	free(args);
	free(st.devs);
	free(st.mems);
	json_object_put(st.devs_json);
	json_object_put(st.mems_json);
	qmp_client_close(&c);
	return status;
}

int live_apply(struct live_vm *lv, struct plan *p)
{
	if (p->script)
		return usage_err("--script %s: not with --from-pid or --qmp (give the hot-plug "
				 "as -object and -device)", p->script);
	for (size_t i = 0; i < p->nr_devs; i++)
		for (size_t k = 0; k < lv->nr_hotplugged; k++)
			if (p->devs[i].text == lv->hotplugged[k])
				p->devs[i].spec.o.hotplugged = true;
	scenario_free(&p->scn);
	p->scn = lv->hotplug;
	memset(&lv->hotplug, 0, sizeof(lv->hotplug));
	return 0;
}

int live_replay(struct live_vm *lv, struct plan *p)
{
	char err[QOPT_ERR_LEN], src[300];

	for (size_t i = 0; i < lv->history.nr; i++) {
		if (scenario_exec(p->m, &lv->history.steps[i], true, err)) {
			p_err("%s: the VM's state: %s: %s", src_name(lv, src, sizeof(src)),
			      lv->history.steps[i].text, err);
			return 1;
		}
	}
	return 0;
}

/* --- KVM ranges: the VM's against the plan's -------------------------------------- */

struct ranges {
	uint64_t (*r)[2];
	size_t nr, cap;
};

static int add_range(struct ranges *rs, uint64_t gpa, uint64_t size)
{
	if (rs->nr == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		uint64_t (*n)[2] = realloc(rs->r, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->nr][0] = gpa;
	rs->r[rs->nr++][1] = size;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

static int slot_range(const struct ms_memslot *s, void *opaque)
{
	return add_range(opaque, s->gpa, s->size);
}

void live_check_memslots(struct live_vm *lv, const struct plan *p)
{
	struct ranges q = { 0 }, m = { 0 };
	struct ms_flatdump *fd;
	struct ms_slotmap *kvm;
	const char *const *lines;
	size_t nr = 0, i;
	int ret = 0;

	kvm = p->m ? ms_machine__kvm(p->m) : NULL;
	if (!lv->mtree || !kvm)
		return;
	fd = ms_flatdump__parse(lv->mtree, strlen(lv->mtree), NULL);
	lines = fd ? ms_flatdump__view_lines(fd, "memory", &nr) : NULL;
	for (i = 0; lines && i < nr && !ret; i++) {
		const char *l = lines[i];
		size_t len = strlen(l);
		uint64_t s, e;

		if (len < 4 || strcmp(l + len - 4, " KVM"))
			continue;
		if (sscanf(l, " %" SCNx64 "-%" SCNx64, &s, &e) == 2 && e >= s)
			ret = add_range(&q, s, e - s + 1);
	}
	if (!ret)
		ret = ms_slotmap__for_each(kvm, slot_range, &m);
	if (!fd || !lines || ret)
		goto out;
	qsort(q.r, q.nr, sizeof(*q.r), range_cmp);
	qsort(m.r, m.nr, sizeof(*m.r), range_cmp);
	for (i = 0; i < q.nr && i < m.nr && !range_cmp(q.r[i], m.r[i]); i++)
		;
	lv->memslots_match = i == q.nr && i == m.nr;
	if (!lv->memslots_match) {
		char a[80] = "none", b[80] = "none", src[300];

		if (i < q.nr)
			snprintf(a, sizeof(a), "0x%" PRIx64 "+0x%" PRIx64, q.r[i][0], q.r[i][1]);
		if (i < m.nr)
			snprintf(b, sizeof(b), "0x%" PRIx64 "+0x%" PRIx64, m.r[i][0], m.r[i][1]);
		fflush(stdout);
		fprintf(stderr, "memslot: plan: warning: %s: the VM's KVM memslots (%zu) differ "
			"from the plan of its command line (%zu): first VM %s, plan %s%s\n",
			src_name(lv, src, sizeof(src)), q.nr, m.nr, a, b,
			p->mo.firmware == MS_FIRMWARE_NONE ? " (a VM past its firmware: "
			"try --firmware seabios)" : "");
	}
out:
	ms_flatdump__free(fd);
	free(q.r);
	free(m.r);
}

struct json_object *live_json(const struct live_vm *lv)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "pid", json_u64((uint64_t)lv->pid));
	json_object_object_add(o, "qmp", json_str_or_null(lv->socket));
	json_object_object_add(o, "memory_devices", json_u64(lv->nr_devices));
	json_object_object_add(o, "hotplugged", json_u64(lv->nr_hotplugged));
	json_object_object_add(o, "vhost_limit", lv->vhost_limit ? json_u64(lv->vhost_limit)
								  : NULL);
	json_object_object_add(o, "memslots_match", lv->memslots_match < 0 ? NULL :
			       json_object_new_boolean(lv->memslots_match));
	return o;
}

void live_print(const struct live_vm *lv, FILE *f)
{
	fprintf(f, "live VM: pid %d", (int)lv->pid);
	if (lv->socket)
		fprintf(f, " (QMP %s)", lv->socket);
	fprintf(f, ", %u memory device%s", lv->nr_devices, lv->nr_devices == 1 ? "" : "s");
	if (lv->socket)
		fprintf(f, ", %zu hot-plugged", lv->nr_hotplugged);
	if (lv->vhost_limit)
		fprintf(f, ", vhost-net limit %u", lv->vhost_limit);
	if (lv->memslots_match >= 0)
		fprintf(f, ", KVM memslots %s", lv->memslots_match ? "as planned" :
			"differ from the plan");
	fprintf(f, "\n");
}

void live_free(struct live_vm *lv)
{
	for (size_t i = 0; i < lv->nr_strs; i++)
		free(lv->strs[i]);
	free(lv->strs);
	free(lv->argv);
	free(lv->cmdline);
	free(lv->hotplugged);
	free(lv->mtree);
	scenario_free(&lv->history);
	scenario_free(&lv->hotplug);
	memset(lv, 0, sizeof(*lv));
}
