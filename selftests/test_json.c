// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The JSON contract (memslot(8), JSON OUTPUT): real -j output of the
 * commands that run without KVM, checked against the member lists of the
 * man pages in both directions. Every documented member that is not marked
 * "?" is present with a documented type, no member is undocumented, the
 * first member is "version": 1, and over a document's runs every documented
 * member, optional ones included, shows up at least once.
 * Run from the repository root; the tool is $MEMSLOT.
 *
 * A list is a literal block after a comment line ".. json: NAME" in a
 * page of man/, one "PATH TYPE MEANING" per line (split at blanks).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"	/* before the harness, see there */
#include "cli.h"

#include "harness.h"

#define MAX_FIELDS	2048

struct field {
	char doc[32];
	char path[160];		/* without the "?" */
	char type[160];		/* "number|null", or "@path", "@doc:path" */
	bool optional;
	bool seen;
};

static struct field fields[MAX_FIELDS];
static size_t nr_fields;

/* Parse one page's ".. json: NAME" blocks; returns the number of fields, -1 on a bad line. */
static int parse_page(const char *text, char *bad, size_t bad_len)
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
		if (!p)
			return -1;
		line = p + 4;
		for (;;) {
			const char *end = strchr(line, '\n');
			size_t len = end ? (size_t)(end - line) : strlen(line);
			char buf[512], path[160] = "", type[160] = "";
			struct field *f;

			if (len && line[0] != ' ')
				break;
			snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
			if (sscanf(buf, "%159s %159s", path, type) == 2) {
				size_t pl = strlen(path);

				if (nr_fields == MAX_FIELDS)
					return -1;
				f = &fields[nr_fields++];
				memset(f, 0, sizeof(*f));
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

static int load_pages(char *bad, size_t bad_len)
{
	struct dirent *de;
	DIR *d = opendir("man");
	int total = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[300], *text;
		int n;

		if (!strstr(de->d_name, ".rst"))
			continue;
		snprintf(path, sizeof(path), "man/%s", de->d_name);
		text = slurp(path);
		if (!text)
			continue;
		n = parse_page(text, bad, bad_len);
		free(text);
		if (n < 0) {
			closedir(d);
			return -1;
		}
		total += n;
	}
	closedir(d);
	return total;
}

static struct field *find_field(const char *doc, const char *path)
{
	for (size_t i = 0; i < nr_fields; i++)
		if (!strcmp(fields[i].doc, doc) && !strcmp(fields[i].path, path))
			return &fields[i];
	return NULL;
}

static const char *type_of(struct json_object *v)
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

static bool type_allowed(const char *types, const char *t)
{
	size_t n = strlen(t);

	for (const char *p = types; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
		if (!strncmp(p, t, n) && (p[n] == '|' || !p[n]))
			return true;
	return false;
}

static int check_value(struct __test_metadata *_metadata, const char *doc, const char *path,
		       struct json_object *v);

/* The members of object @o against the fields of @doc under @path. */
static int check_members(struct __test_metadata *_metadata, const char *doc, const char *path,
			 struct json_object *o)
{
	char prefix[200];
	size_t pl;
	int bad = 0;

	snprintf(prefix, sizeof(prefix), "%s%s", path, *path ? "." : "");
	pl = strlen(prefix);
	/* documented members present */
	for (size_t i = 0; i < nr_fields; i++) {
		struct field *f = &fields[i];
		const char *name = f->path + pl;

		if (strcmp(f->doc, doc) || strncmp(f->path, prefix, pl) || strpbrk(name, ".[") ||
		    !strcmp(name, "*"))
			continue;
		if (!json_object_object_get_ex(o, name, NULL) && !f->optional) {
			TH_LOG("%s: %s%s missing", doc, prefix, name);
			bad++;
		}
	}
	/* no undocumented member; each value checked */
	json_object_object_foreach(o, k, v) {
		char sub[200];

		snprintf(sub, sizeof(sub), "%s%s", prefix, k);
		if (!find_field(doc, sub))
			snprintf(sub, sizeof(sub), "%s*", prefix);
		if (!find_field(doc, sub)) {
			TH_LOG("%s: %s%s is not documented", doc, prefix, k);
			bad++;
			continue;
		}
		bad += check_value(_metadata, doc, sub, v);
	}
	return bad;
}

static int check_value(struct __test_metadata *_metadata, const char *doc, const char *path,
		       struct json_object *v)
{
	struct field *f = find_field(doc, path);
	char sub[200];
	int bad = 0;

	if (!f) {
		TH_LOG("%s: %s is not documented", doc, path);
		return 1;
	}
	f->seen = true;
	if (f->type[0] == '@') {
		const char *ref = f->type + 1, *colon = strchr(ref, ':');
		char rdoc[32];

		snprintf(rdoc, sizeof(rdoc), "%.*s", colon ? (int)(colon - ref) : (int)strlen(doc),
			 colon ? ref : doc);
		ref = colon ? colon + 1 : ref;
		if (!json_object_is_type(v, json_type_object)) {
			TH_LOG("%s: %s is %s, not an object like %s", doc, path, type_of(v), ref);
			return 1;
		}
		return check_members(_metadata, rdoc, ref, v);
	}
	if (!type_allowed(f->type, type_of(v))) {
		TH_LOG("%s: %s is %s, documented %s", doc, path, type_of(v), f->type);
		return 1;
	}
	if (json_object_is_type(v, json_type_object))
		return check_members(_metadata, doc, path, v);
	if (!json_object_is_type(v, json_type_array))
		return 0;
	snprintf(sub, sizeof(sub), "%s[]", path);
	for (size_t i = 0; i < json_object_array_length(v); i++)
		bad += check_value(_metadata, doc, sub, json_object_array_get_idx(v, i));
	return bad;
}

/* Exactly one JSON document in @text, or NULL. */
static struct json_object *parse_doc(const char *text)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t end;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o && text[end + strspn(text + end, " \t\n")]) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Validate one document: an object, "version": 1 first, the fields of @doc. */
static int check_doc(struct __test_metadata *_metadata, const char *doc, const char *text)
{
	struct json_object *o = parse_doc(text);
	struct json_object_iterator it;
	int bad;

	if (!o || !json_object_is_type(o, json_type_object)) {
		TH_LOG("%s: not one JSON object: %.300s", doc, text);
		json_object_put(o);
		return 1;
	}
	it = json_object_iter_begin(o);
	if (strcmp(json_object_iter_peek_name(&it), "version") ||
	    json_object_get_int(json_object_iter_peek_value(&it)) != 1 ||
	    !json_object_is_type(json_object_iter_peek_value(&it), json_type_int)) {
		TH_LOG("%s: the first member is not \"version\": 1: %.200s", doc, text);
		json_object_put(o);
		return 1;
	}
	bad = check_members(_metadata, doc, "", o);
	json_object_put(o);
	return bad;
}

/* Run memslot with @args, expect @status, validate stdout against @doc. */
static void expect_doc(struct __test_metadata *_metadata, const char *doc, int status,
		       const char *const *args)
{
	struct cli_result r;
	char cmd[600] = "";

	for (const char *const *a = args; *a; a++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s", *a);
	ASSERT_EQ(0, cli_run(&r, NULL, args));
	EXPECT_EQ(status, r.status) TH_LOG("memslot%s: %s", cmd, r.err);
	EXPECT_EQ(0, check_doc(_metadata, doc, r.out)) TH_LOG("memslot%s", cmd);
	cli_result_free(&r);
}

#define EXPECT_DOC(doc, status, ...) \
	expect_doc(_metadata, doc, status, (const char *const[]){ __VA_ARGS__, NULL })

/*
 * Members only a live QEMU gives (plan --from-pid, --qmp): present or not,
 * the documents with them are checked, but not that they were met.
 */
static const char *const need_qemu[] = { "plan:live", NULL };

static bool needs_qemu(const struct field *f)
{
	for (const char *const *n = need_qemu; *n; n++) {
		size_t dl = strcspn(*n, ":"), pl = strlen(*n + dl + 1);

		if (strlen(f->doc) == dl && !strncmp(f->doc, *n, dl) &&
		    !strncmp(f->path, *n + dl + 1, pl) && strchr(".[", f->path[pl] ?: '.'))
			return true;
	}
	return false;
}

/* Every field of @doc met at least once. */
static void expect_all_seen(struct __test_metadata *_metadata, const char *doc)
{
	int n = 0, skipped = 0;

	for (size_t i = 0; i < nr_fields; i++) {
		if (strcmp(fields[i].doc, doc))
			continue;
		n++;
		if (!fields[i].seen && needs_qemu(&fields[i])) {
			skipped++;
			continue;
		}
		EXPECT_TRUE(fields[i].seen) TH_LOG("%s: %s never seen", doc, fields[i].path);
	}
	EXPECT_LT(0, n) TH_LOG("no \".. json: %s\" list in man/", doc);
	if (skipped)
		printf("# %s: %d members need a running QEMU, not met here\n", doc, skipped);
}

static char *sample(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", samples_dir(), name);
	return buf;
}

FIXTURE(contract) {
	char dir[64];
};

FIXTURE_SETUP(contract)
{
	char bad[600] = "";

	nr_fields = 0;
	ASSERT_LT(0, load_pages(bad, sizeof(bad))) TH_LOG("man/*.rst: bad JSON list line: %s", bad);
	snprintf(self->dir, sizeof(self->dir), "/tmp/test_json.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(contract)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

static char *write_file(struct __test_metadata *_metadata, const char *dir, const char *name,
			const char *text, char *buf, size_t len)
{
	FILE *f;

	snprintf(buf, len, "%s/%s", dir, name);
	f = fopen(buf, "w");
	EXPECT_NE(NULL, f);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return buf;
}

TEST_F(contract, lists_are_consistent)
{
	/* every path's parent is documented as an object or array; @refs resolve */
	for (size_t i = 0; i < nr_fields; i++) {
		struct field *f = &fields[i], *p;
		char parent[160];
		char *cut;

		snprintf(parent, sizeof(parent), "%s", f->path);
		cut = strrchr(parent, '.');
		if (strlen(parent) > 2 && !strcmp(parent + strlen(parent) - 2, "[]") &&
		    (!cut || cut < parent + strlen(parent) - 2)) {
			parent[strlen(parent) - 2] = '\0';
			p = find_field(f->doc, parent);
			EXPECT_TRUE(p && type_allowed(p->type, "array"))
				TH_LOG("%s: %s: %s is no array", f->doc, f->path, parent);
		} else if (cut) {
			*cut = '\0';
			p = find_field(f->doc, parent);
			EXPECT_TRUE(p && (type_allowed(p->type, "object") ||
					  !strncmp(p->type, "@", 1)))
				TH_LOG("%s: %s: %s is no object", f->doc, f->path, parent);
		}
		if (f->type[0] == '@') {
			const char *ref = f->type + 1, *colon = strchr(ref, ':');
			char rdoc[32];

			snprintf(rdoc, sizeof(rdoc), "%.*s", colon ? (int)(colon - ref) :
				 (int)strlen(f->doc), colon ? ref : f->doc);
			EXPECT_NE(NULL, find_field(rdoc, colon ? colon + 1 : ref))
				TH_LOG("%s: %s: no %s", f->doc, f->path, f->type);
		} else {
			char types[160], *save = NULL;

			snprintf(types, sizeof(types), "%s", f->type);
			for (char *t = strtok_r(types, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
				bool known = !strcmp(t, "number") || !strcmp(t, "string") ||
					     !strcmp(t, "boolean") || !strcmp(t, "object") ||
					     !strcmp(t, "array") || !strcmp(t, "null");

				EXPECT_TRUE(known) TH_LOG("%s: %s: unknown type %s", f->doc, f->path, t);
			}
		}
	}
}

TEST_F(contract, help_version_errors)
{
	EXPECT_DOC("commands", 0, "-j", "help");
	EXPECT_DOC("usage", 0, "-j", "--help");
	EXPECT_DOC("usage", 0, "-j", "help", "help");
	EXPECT_DOC("usage", 0, "--pretty", "help", "plan");
	for (const char *const *c = (const char *const[]){ "mtree", "plan", "run", "trace", "census",
							    "verify", NULL }; *c; c++) {
		EXPECT_DOC("usage", 0, "-j", "help", *c);
		EXPECT_DOC("usage", 0, *c, "help", "-j");
		EXPECT_DOC("usage", 0, "-j", *c, "--help");
		EXPECT_DOC("usage", 0, *c, "-h", "--json");
	}
	EXPECT_DOC("version", 0, "-j", "-V");
	EXPECT_DOC("error", 2, "-j", "bogus");
	EXPECT_DOC("error", 2, "-j");
	EXPECT_DOC("error", 2, "-j", "plan", "--bogus");
	EXPECT_DOC("error", 2, "-j", "help", "bogus");
	EXPECT_DOC("error", 1, "-j", "mtree", "--import", "/nonexistent/tree.txt");
	EXPECT_DOC("error", 1, "-j", "run", "--no-vm", "--script", "/nonexistent/x.scn");
	EXPECT_DOC("error", 1, "-j", "verify", "-p", "1", "--expect", "/nonexistent/plan.json");
	expect_all_seen(_metadata, "commands");
	expect_all_seen(_metadata, "usage");
	expect_all_seen(_metadata, "version");
	expect_all_seen(_metadata, "error");
}

TEST_F(contract, mtree)
{
	static const char *const names[] = { "pc-256m-stopped", "pc-4g-dimms-nvdimm",
					     "pc-pflash-virtio-mem", "q35-1g-stopped" };
	char tree[512], flat[512], one[512], bad[512], name[128];
	char *text, *p;

	EXPECT_DOC("mtree", 0, "-j", "mtree");
	EXPECT_DOC("mtree", 0, "-j", "mtree", "-o", "-D");
	EXPECT_DOC("mtree", 0, "-p", "mtree", "-o");
	EXPECT_DOC("mtree-flat", 0, "-j", "mtree", "-f");
	EXPECT_DOC("mtree-flat", 0, "-j", "mtree", "-f", "-o");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(name, sizeof(name), "%s.mtree.txt", names[i]);
		sample(name, tree, sizeof(tree));
		snprintf(name, sizeof(name), "%s.mtree_f.txt", names[i]);
		sample(name, flat, sizeof(flat));
		EXPECT_DOC("mtree", 0, "-j", "mtree", "--import", tree);
		EXPECT_DOC("mtree-import", 0, "-j", "mtree", "--import", tree, "-f", "--memslots",
			   "--check-flat", flat);
		EXPECT_DOC("mtree-import", 0, "-j", "mtree", "--import", tree, "--memslots");
	}
	EXPECT_DOC("mtree", 0, "-j", "mtree", "-o", "--import",
		   sample("pc-256m-stopped.mtree.txt", tree, sizeof(tree)));
	EXPECT_DOC("mtree", 0, "-j", "mtree", "-D", "--import",
		   sample("pc-256m-stopped.mtree_D.txt", tree, sizeof(tree)));
	/* one address space, and one with nothing mapped */
	write_file(_metadata, self->dir, "one.txt",
		   "address-space: memory\n"
		   "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		   "    0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n\n",
		   one, sizeof(one));
	EXPECT_DOC("mtree", 0, "-j", "mtree", "--import", one);
	EXPECT_DOC("mtree-import", 0, "-j", "mtree", "--import", one, "-f", "--memslots");
	write_file(_metadata, self->dir, "empty.txt",
		   "address-space: memory\n"
		   "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n\n",
		   one, sizeof(one));
	EXPECT_DOC("mtree-import", 0, "-j", "mtree", "--import", one, "-f", "--memslots");

	/* a flat dump that differs: "expected" and "got" lines, and a view only QEMU has */
	text = slurp(sample("pc-256m-stopped.mtree_f.txt", flat, sizeof(flat)));
	ASSERT_NE(NULL, text);
	p = strstr(text, "pc.rom");
	ASSERT_NE(NULL, p);
	memcpy(p, "pc.xyz", 6);
	text = realloc(text, strlen(text) + 200);
	ASSERT_NE(NULL, text);
	/* the samples have CRLF line ends, as the monitor writes them */
	strcat(text, "FlatView #9\r\n AS \"extra\", root: system\r\n"
		     " Root memory region: (none)\r\n  No rendered FlatView\r\n\r\n");
	write_file(_metadata, self->dir, "bad_f.txt", text, bad, sizeof(bad));
	free(text);
	EXPECT_DOC("mtree-import", 1, "-j", "mtree", "--import",
		   sample("pc-256m-stopped.mtree.txt", tree, sizeof(tree)), "--check-flat", bad);
	expect_all_seen(_metadata, "mtree");
	expect_all_seen(_metadata, "mtree-flat");
	expect_all_seen(_metadata, "mtree-import");
}

TEST_F(contract, plan)
{
	char script[512], nv[512];

	EXPECT_DOC("plan", 0, "-j", "plan");
	EXPECT_DOC("plan", 0, "-j", "plan", "-M", "q35", "-m", "1G", "--kvm-smm", "off");
	write_file(_metadata, self->dir, "nv.img", "", nv, sizeof(nv));
	write_file(_metadata, self->dir, "hotplug.txt",
		   "object_add memory-backend-ram,id=m2,size=1G\n"
		   "device_add pc-dimm,id=d2,memdev=m2\n"
		   "qom-set vmem0 requested-size 2G\n"
		   "info mtree\n"
		   "info memory-devices\n"
		   "device_del d2\n",
		   script, sizeof(script));
	EXPECT_DOC("plan", 0, "-j", "plan", "-M", "pc,nvdimm=on", "-m", "4G,slots=8,maxmem=64G",
		   "-object", "memory-backend-ram,id=m1,size=1G", "-device", "pc-dimm,id=d1,memdev=m1",
		   "-object", "memory-backend-file,id=nv,size=256M,share=on,mem-path=/dev/null",
		   "-device", "nvdimm,id=nv1,memdev=nv",
		   "-object", "memory-backend-memfd,id=pm,size=512M",
		   "-device", "virtio-pmem-pci,id=pmem0,memdev=pm",
		   "-object", "memory-backend-memfd,id=vm0,size=8G",
		   "-device", "virtio-mem-pci,id=vmem0,memdev=vm0,dynamic-memslots=on",
		   "--vhost-limit", "64", "--vhost-limit", "512,user=on,name=vu", "--script", script);
	write_file(_metadata, self->dir, "fail.txt",
		   "object_add memory-backend-ram,id=m2,size=1G\n"
		   "device_add pc-dimm,id=d2,memdev=nosuch\n",
		   script, sizeof(script));
	EXPECT_DOC("plan", 1, "-j", "plan", "-m", "1G,slots=2,maxmem=4G", "--script", script);
	expect_all_seen(_metadata, "plan");
}

TEST_HARNESS_MAIN
