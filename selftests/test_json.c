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
 * The lists are read and the output checked by lib/jsondoc.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"	/* before the harness, see there */
#include "cli.h"
#include "jsondoc.h"

#include "harness.h"

static struct jsondoc jd;

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
	jsondoc_log_clear(&jd);
	EXPECT_EQ(0, jsondoc_check_text(&jd, doc, r.out)) TH_LOG("memslot%s:\n%s", cmd, jsondoc_log(&jd));
	cli_result_free(&r);
}

#define EXPECT_DOC(doc, status, ...) \
	expect_doc(_metadata, doc, status, (const char *const[]){ __VA_ARGS__, NULL })

/*
 * Members only a live QEMU gives (plan --from-pid, --qmp): present or not,
 * the documents with them are checked, but not that they were met.
 */
static const char *const need_qemu[] = { "plan:live", NULL };

/* Every field of @doc met at least once. */
static void expect_all_seen(struct __test_metadata *_metadata, const char *doc)
{
	int skipped = 0;

	jsondoc_log_clear(&jd);
	EXPECT_EQ(0, jsondoc_unseen(&jd, doc, need_qemu, &skipped)) TH_LOG("%s", jsondoc_log(&jd));
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

	jsondoc_free(&jd);
	ASSERT_LT(0, jsondoc_load(&jd, "man", bad, sizeof(bad))) TH_LOG("man/*.rst: bad JSON list line: %s", bad);
	snprintf(self->dir, sizeof(self->dir), "/tmp/test_json.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(contract)
{
	char cmd[128];

	jsondoc_free(&jd);
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
	for (size_t i = 0; i < jd.nr; i++) {
		struct jsondoc_field *f = &jd.fields[i], *p;
		char parent[160];
		char *cut;

		snprintf(parent, sizeof(parent), "%s", f->path);
		cut = strrchr(parent, '.');
		if (strlen(parent) > 2 && !strcmp(parent + strlen(parent) - 2, "[]") &&
		    (!cut || cut < parent + strlen(parent) - 2)) {
			parent[strlen(parent) - 2] = '\0';
			p = jsondoc_find(&jd, f->doc, parent);
			EXPECT_TRUE(p && jsondoc_type_allowed(p->type, "array"))
				TH_LOG("%s: %s: %s is no array", f->doc, f->path, parent);
		} else if (cut) {
			*cut = '\0';
			p = jsondoc_find(&jd, f->doc, parent);
			EXPECT_TRUE(p && (jsondoc_type_allowed(p->type, "object") ||
					  !strncmp(p->type, "@", 1)))
				TH_LOG("%s: %s: %s is no object", f->doc, f->path, parent);
		}
		if (f->type[0] == '@') {
			char rdoc[32];
			const char *ref = jsondoc_ref(f, rdoc);

			EXPECT_NE(NULL, jsondoc_find(&jd, rdoc, ref))
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
