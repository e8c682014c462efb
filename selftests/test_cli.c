// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The memslot command line: global options, the command table, exit
 * statuses, error lines, JSON mode (STYLE.md "CLI" and "JSON") and the
 * `mtree` command on the embedded default topology (a QEMU 7.2 pc machine
 * with 4 GiB RAM; qemu-mtree-format.md).
 *
 * The tool is the binary named by $MEMSLOT (default build/memslot), run
 * with stdin on /dev/null and stdout/stderr captured in memory files.
 *
 * `mtree --import` is checked against the QEMU 7.2 captures of the tree,
 * selftests/samples/qemu-7.2 (samples_dir(): $MEMSLOT_SAMPLES overrides);
 * the malformed-input and SMRAM tests use inline dumps.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <memslot/memslot.h>

#include "cli.h"
#include "util.h"	/* before the harness, see there; samples_dir() */

#include "harness.h"

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

static struct json_object *key(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str_key(struct json_object *o, const char *k)
{
	struct json_object *v = key(o, k);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Name @i of a flat view's "address_spaces". */
static const char *as_name(struct json_object *view, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(key(view, "address_spaces"), i));
}

/* Depth-first search of a tree-mode region object for @name. */
static struct json_object *find_region(struct json_object *r, const char *name)
{
	struct json_object *subs = key(r, "subregions");
	const char *n = str_key(r, "name");

	if (n && !strcmp(n, name))
		return r;
	for (size_t i = 0; subs && i < json_object_array_length(subs); i++) {
		struct json_object *f = find_region(json_object_array_get_idx(subs, i), name);

		if (f)
			return f;
	}
	return NULL;
}

static int count_regions(struct json_object *r, const char *name)
{
	struct json_object *subs = key(r, "subregions");
	const char *n = str_key(r, "name");
	int c = n && !strcmp(n, name);

	for (size_t i = 0; subs && i < json_object_array_length(subs); i++)
		c += count_regions(json_object_array_get_idx(subs, i), name);
	return c;
}

/* --- global options and the command table ----------------------------- */

TEST(version)
{
	const char *opts[] = { "--version", "-V" };
	char want[128];
	struct cli_result r;

	snprintf(want, sizeof(want), "memslot %s\nlibmemslot %s\n", MS_VERSION, ms_version());
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, CLI_RUN(&r, opts[i]));
		if (r.status || strcmp(want, r.out))
			TH_LOG("memslot %s", opts[i]);
		EXPECT_EQ(0, r.status);
		EXPECT_STREQ(want, r.out);
		EXPECT_STREQ("", r.err);
		cli_result_free(&r);
	}
}

TEST(version_json)
{
	struct json_object *o;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "--version"));
	EXPECT_EQ(0, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(1, json_object_get_int(key(o, "version")));
	EXPECT_STREQ(MS_VERSION, str_key(o, "memslot_version"));
	EXPECT_STREQ(ms_version(), str_key(o, "library_version"));
	json_object_put(o);
	cli_result_free(&r);
}

TEST(help_lists_commands)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "help"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_TRUE(starts_with(r.out, "help ") || strstr(r.out, "\nhelp "));
	EXPECT_NE(NULL, strstr(r.out, "\nmtree "));
	EXPECT_NE(NULL, strstr(r.out, "\nplan "));
	EXPECT_NE(NULL, strstr(r.out, "\nrun "));
	EXPECT_NE(NULL, strstr(r.out, "\ntrace "));
	EXPECT_NE(NULL, strstr(r.out, "\ncensus "));
	EXPECT_NE(NULL, strstr(r.out, "\nverify "));
	EXPECT_EQ(7, count_lines(r.out));
	cli_result_free(&r);

	/* help COMMAND shows the command's own usage. */
	ASSERT_EQ(0, CLI_RUN(&r, "help", "mtree"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "--flat"));
	cli_result_free(&r);
}

TEST(help_option)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-h"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(starts_with(r.out, "Usage: memslot [OPTIONS] COMMAND [ARGS]\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n  mtree "));
	EXPECT_STREQ("", r.err);
	cli_result_free(&r);
}

TEST(help_json)
{
	struct json_object *o, *cmds;
	struct cli_result r;
	bool found = false;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "help"));
	EXPECT_EQ(0, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	cmds = key(o, "commands");
	ASSERT_TRUE(json_object_is_type(cmds, json_type_array));
	for (size_t i = 0; i < json_object_array_length(cmds); i++) {
		const char *n = str_key(json_object_array_get_idx(cmds, i), "name");

		found |= n && !strcmp(n, "mtree");
	}
	EXPECT_TRUE(found);
	json_object_put(o);
	cli_result_free(&r);
}

TEST(unknown_command)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "bogus"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: unknown command: bogus\n", r.err);
	cli_result_free(&r);
}

TEST(command_prefix_is_not_a_command)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtre"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: unknown command: mtre\n", r.err);
	cli_result_free(&r);
}

TEST(missing_command)
{
	struct cli_result r;

	ASSERT_EQ(0, cli_run(&r, NULL, (const char *const[]){ NULL }));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_TRUE(starts_with(r.err, "Usage: memslot "));
	cli_result_free(&r);
}

TEST(unknown_global_option)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "--bogus", "mtree"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: unknown option: --bogus\n", r.err);
	cli_result_free(&r);

	/* Global options anywhere, as in bpftool; "--" ends them */
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "-j"));
	EXPECT_EQ(0, r.status);
	EXPECT_EQ('{', r.out[0]);
	EXPECT_STREQ("", r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "-f", "--pretty", "-d"));
	EXPECT_EQ(0, r.status);
	EXPECT_EQ('{', r.out[0]);
	EXPECT_NE(NULL, strchr(r.out, '\n'));
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--", "-j"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: mtree: unexpected argument: -j\n", r.err);
	cli_result_free(&r);
	/* COMMAND help is COMMAND --help */
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "mtree"));
	EXPECT_EQ(0, strncmp(r.out, "Usage: memslot", 14));
	cli_result_free(&r);
}

/* --- mtree: text ------------------------------------------------------- */

TEST(mtree_tree)
{
	static const char *const lines[] = {
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system",
		"    0000000000000000-00000000bfffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-00000000bfffffff",
		"    0000000000000000-ffffffffffffffff (prio -1, i/o): pci",
		"      00000000000c0000-00000000000dffff (prio 1, rom): pc.rom",
		"      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff",
		"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios",
		"    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff",
		"    00000000000f0000-00000000000fffff (prio 1, i/o): alias pam-pci @pci 00000000000f0000-00000000000fffff",
		"    00000000fec00000-00000000fec00fff (prio 0, i/o): kvm-ioapic",
		"    00000000fed00000-00000000fed003ff (prio 0, i/o): hpet",
		"    00000000fee00000-00000000feefffff (prio 4096, i/o): kvm-apic-msi",
		"    0000000100000000-000000013fffffff (prio 0, ram): alias ram-above-4g @pc.ram 00000000c0000000-00000000ffffffff",
		"address-space: I/O",
		"  0000000000000000-000000000000ffff (prio 0, i/o): io",
		"    0000000000000070-0000000000000071 (prio 0, i/o): rtc",
		"      0000000000000070-0000000000000070 (prio 0, i/o): rtc-index",
		"    0000000000000cf9-0000000000000cf9 (prio 1, i/o): piix3-reset-control",
		"address-space: i440FX",
		"address-space: PIIX3",
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): bus master container",
		"memory-region: pc.ram",
		"  0000000000000000-00000000ffffffff (prio 0, ram): pc.ram",
		"memory-region: pc.bios",
		"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios",
		"memory-region: pci",
		"memory-region: system",
	};
	struct cli_result r;
	const char *p;
	int pam = 0;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	/* Group names sorted with strcmp (rule 2.1); first group = first AS. */
	EXPECT_TRUE(starts_with(r.out, "address-space: cpu-memory-0\naddress-space: memory\n"));
	EXPECT_TRUE(has_line(r.out, "address-space: memory"));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		bool found = has_line(r.out, lines[i]);

		if (!found)
			TH_LOG("missing line: %s", lines[i]);
		EXPECT_TRUE(found);
	}
	/* Alias targets in first-met order, after the groups (rule 2.2). */
	p = strstr(r.out, "memory-region: pc.ram\n");
	ASSERT_NE(NULL, p);
	EXPECT_NE(NULL, strstr(p, "memory-region: pc.bios\n"));
	EXPECT_TRUE(strstr(r.out, "memory-region: pc.bios\n") <
		    strstr(r.out, "memory-region: pci\n"));
	EXPECT_TRUE(strstr(r.out, "memory-region: pci\n") <
		    strstr(r.out, "memory-region: system\n"));
	EXPECT_TRUE(strstr(r.out, "address-space: PIIX3\n") < p);
	/* 13 enabled PAM aliases, in "memory" and in "memory-region: system". */
	for (p = r.out; (p = strstr(p, "): alias pam-pci @pci ")); p++)
		pam++;
	EXPECT_EQ(26, pam);
	EXPECT_EQ(NULL, strstr(r.out, "[disabled]"));
	EXPECT_EQ(NULL, strstr(r.out, "pam-ram"));
	EXPECT_EQ('\n', r.out[strlen(r.out) - 1]);
	EXPECT_EQ(NULL, strchr(r.out, '\r'));
	cli_result_free(&r);
}

TEST(mtree_disabled)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "-D"));
	EXPECT_EQ(0, r.status);
	/* PAM aliases newest first among equal priorities (rule 3.4). */
	EXPECT_NE(NULL, strstr(r.out,
		"    00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-ram @pc.ram 00000000000c0000-00000000000c3fff [disabled]\n"
		"    00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-pci @pc.ram 00000000000c0000-00000000000c3fff [disabled]\n"
		"    00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-rom @pc.ram 00000000000c0000-00000000000c3fff [disabled]\n"
		"    00000000000c0000-00000000000c3fff (prio 1, i/o): alias pam-pci @pci 00000000000c0000-00000000000c3fff\n"));
	EXPECT_NE(NULL, strstr(r.out,
		"address-space: i440FX\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): bus master container\n"
		"    0000000000000000-ffffffffffffffff (prio 0, i/o): alias bus master @system 0000000000000000-ffffffffffffffff [disabled]\n"
		"\n"));
	cli_result_free(&r);
}

static const char flat_expected[] =
	"FlatView #0\n"
	" AS \"memory\", root: system\n"
	" AS \"cpu-memory-0\", root: system\n"
	" Root memory region: system\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\n"
	"  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"  00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000\n"
	"  0000000000100000-00000000bfffffff (prio 0, ram): pc.ram @0000000000100000\n"
	"  00000000fec00000-00000000fec00fff (prio 0, i/o): kvm-ioapic\n"
	"  00000000fed00000-00000000fed003ff (prio 0, i/o): hpet\n"
	"  00000000fee00000-00000000feefffff (prio 4096, i/o): kvm-apic-msi\n"
	"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"  0000000100000000-000000013fffffff (prio 0, ram): pc.ram @00000000c0000000\n"
	"\n"
	"FlatView #1\n"
	" AS \"I/O\", root: io\n"
	" Root memory region: io\n"
	"  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan\n"
	"  0000000000000008-000000000000000f (prio 0, i/o): dma-cont\n"
	"  0000000000000010-000000000000001f (prio 0, i/o): io @0000000000000010\n"
	"  0000000000000020-0000000000000021 (prio 0, i/o): kvm-pic\n"
	"  0000000000000022-000000000000006f (prio 0, i/o): io @0000000000000022\n"
	"  0000000000000070-0000000000000070 (prio 0, i/o): rtc-index\n"
	"  0000000000000071-0000000000000071 (prio 0, i/o): rtc @0000000000000001\n"
	"  0000000000000072-0000000000000cf7 (prio 0, i/o): io @0000000000000072\n"
	"  0000000000000cf8-0000000000000cf8 (prio 0, i/o): pci-conf-idx\n"
	"  0000000000000cf9-0000000000000cf9 (prio 1, i/o): piix3-reset-control\n"
	"  0000000000000cfa-0000000000000cfb (prio 0, i/o): pci-conf-idx @0000000000000002\n"
	"  0000000000000cfc-0000000000000cff (prio 0, i/o): pci-conf-data\n"
	"  0000000000000d00-000000000000ffff (prio 0, i/o): io @0000000000000d00\n"
	"\n"
	"FlatView #2\n"
	" AS \"i440FX\", root: bus master container\n"
	" AS \"PIIX3\", root: bus master container\n"
	" Root memory region: (none)\n"
	"  No rendered FlatView\n"
	"\n";

TEST(mtree_flat)
{
	const char *opts[] = { "-f", "--flat" };
	struct cli_result r;

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, CLI_RUN(&r, "mtree", opts[i]));
		if (r.status || strcmp(flat_expected, r.out))
			TH_LOG("memslot mtree %s", opts[i]);
		EXPECT_EQ(0, r.status);
		EXPECT_STREQ("", r.err);
		EXPECT_TRUE(has_line(r.out,
			"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram"));
		EXPECT_TRUE(has_line(r.out,
			"  0000000000000010-000000000000001f (prio 0, i/o): io @0000000000000010"));
		EXPECT_NE(NULL, strstr(r.out, " Root memory region: (none)\n  No rendered FlatView\n"));
		EXPECT_STREQ(flat_expected, r.out);
		cli_result_free(&r);
	}
}

TEST(mtree_flat_owner)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "-f", "-o"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(has_line(r.out,
		"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram owner:{obj path=/objects/pc.ram}"));
	EXPECT_TRUE(has_line(r.out,
		"  0000000000000010-000000000000001f (prio 0, i/o): io @0000000000000010 parent:{obj path=/machine/unattached}"));
	EXPECT_TRUE(has_line(r.out,
		"  00000000fec00000-00000000fec00fff (prio 0, i/o): kvm-ioapic owner:{dev path=/machine/i440fx/ioapic}"));
	cli_result_free(&r);
}

TEST(mtree_debug_output_unchanged)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-d", "mtree", "-f"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(flat_expected, r.out);
	cli_result_free(&r);
}

TEST(mtree_unknown_option)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "-x"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: mtree: unknown option: -x\n", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--nope"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: mtree: unknown option: --nope\n", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "extra"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: mtree: unexpected argument: extra\n", r.err);
	cli_result_free(&r);
}

TEST(mtree_write_error)
{
	struct cli_result r;

	if (access("/dev/full", W_OK))
		SKIP(return, "no writable /dev/full");
	ASSERT_EQ(0, cli_run(&r, &(struct cli_opts){ .stdout_path = "/dev/full" },
			     (const char *const[]){ "mtree", NULL }));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(starts_with(r.err, "memslot: mtree: cannot write output: "));
	EXPECT_EQ(1, count_lines(r.err));
	cli_result_free(&r);
}

/* --- mtree: JSON ------------------------------------------------------- */

TEST(mtree_json_tree)
{
	struct json_object *o, *groups, *g, *names, *root, *mr, *alias, *targets;
	const char *want_targets[] = { "pc.ram", "pc.bios", "pci", "system" };
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	/* Not indented: one line. */
	EXPECT_EQ(1, count_lines(r.out));
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(3, json_object_object_length(o));	/* and "version" */

	groups = key(o, "address_spaces");
	ASSERT_TRUE(json_object_is_type(groups, json_type_array));
	ASSERT_EQ(4, json_object_array_length(groups));
	g = json_object_array_get_idx(groups, 0);
	names = key(g, "names");
	ASSERT_EQ(2, json_object_array_length(names));
	EXPECT_STREQ("cpu-memory-0", json_object_get_string(json_object_array_get_idx(names, 0)));
	EXPECT_STREQ("memory", json_object_get_string(json_object_array_get_idx(names, 1)));

	root = key(g, "root");
	ASSERT_NE(NULL, root);
	EXPECT_STREQ("system", str_key(root, "name"));
	EXPECT_EQ(0, json_object_get_uint64(key(root, "start")));
	EXPECT_EQ(UINT64_MAX, json_object_get_uint64(key(root, "end")));
	EXPECT_EQ(NULL, key(root, "size"));	/* 2^64 */
	EXPECT_STREQ("i/o", str_key(root, "type"));

	mr = find_region(root, "ram-below-4g");
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(0, json_object_get_uint64(key(mr, "start")));
	EXPECT_EQ(0xbfffffffULL, json_object_get_uint64(key(mr, "end")));
	EXPECT_EQ(0xc0000000ULL, json_object_get_uint64(key(mr, "size")));
	EXPECT_STREQ("ram", str_key(mr, "type"));
	alias = key(mr, "alias");
	ASSERT_NE(NULL, alias);
	EXPECT_STREQ("pc.ram", str_key(alias, "target"));
	EXPECT_EQ(0, json_object_get_uint64(key(alias, "offset")));

	mr = find_region(root, "ram-above-4g");
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(0x100000000ULL, json_object_get_uint64(key(mr, "start")));
	EXPECT_EQ(0xc0000000ULL, json_object_get_uint64(key(key(mr, "alias"), "offset")));

	mr = find_region(root, "kvm-apic-msi");
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(4096, json_object_get_int(key(mr, "priority")));
	EXPECT_EQ(NULL, key(mr, "alias"));
	EXPECT_TRUE(json_object_get_boolean(key(mr, "enabled")));

	/* Disabled aliases only with -D. */
	EXPECT_EQ(13, count_regions(root, "pam-pci"));
	EXPECT_EQ(0, count_regions(root, "pam-ram"));

	/* rtc-index is a child of the terminating rtc. */
	g = json_object_array_get_idx(groups, 1);
	EXPECT_STREQ("I/O", json_object_get_string(json_object_array_get_idx(key(g, "names"), 0)));
	mr = find_region(key(g, "root"), "rtc");
	ASSERT_NE(NULL, mr);
	EXPECT_EQ(1, json_object_array_length(key(mr, "subregions")));
	EXPECT_NE(NULL, find_region(mr, "rtc-index"));

	targets = key(o, "alias_targets");
	ASSERT_TRUE(json_object_is_type(targets, json_type_array));
	ASSERT_EQ(4, json_object_array_length(targets));
	for (int i = 0; i < 4; i++)
		EXPECT_STREQ(want_targets[i],
			     str_key(json_object_array_get_idx(targets, i), "name"));
	mr = json_object_array_get_idx(targets, 1);
	EXPECT_EQ(0xfffc0000ULL, json_object_get_uint64(key(mr, "start")));
	json_object_put(o);
	cli_result_free(&r);
}

TEST(mtree_json_tree_disabled)
{
	struct json_object *o, *root, *bmc, *subs;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "-D", "-o"));
	EXPECT_EQ(0, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	root = key(json_object_array_get_idx(key(o, "address_spaces"), 0), "root");
	EXPECT_EQ(26, count_regions(root, "pam-pci"));
	EXPECT_EQ(13, count_regions(root, "pam-ram"));
	EXPECT_STREQ("obj path=/machine/unattached", str_key(root, "parent"));
	bmc = key(json_object_array_get_idx(key(o, "address_spaces"), 2), "root");
	subs = key(bmc, "subregions");
	ASSERT_EQ(1, json_object_array_length(subs));
	EXPECT_STREQ("bus master", str_key(json_object_array_get_idx(subs, 0), "name"));
	EXPECT_FALSE(json_object_get_boolean(key(json_object_array_get_idx(subs, 0), "enabled")));
	json_object_put(o);
	cli_result_free(&r);
}

TEST(mtree_json_flat)
{
	struct json_object *o, *views, *v, *ranges, *rg;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "-f"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	views = key(o, "flat_views");
	ASSERT_TRUE(json_object_is_type(views, json_type_array));
	ASSERT_EQ(3, json_object_array_length(views));

	v = json_object_array_get_idx(views, 0);
	EXPECT_STREQ("system", str_key(v, "root"));
	EXPECT_EQ(2, json_object_array_length(key(v, "address_spaces")));
	EXPECT_STREQ("memory", as_name(v, 0));
	ranges = key(v, "ranges");
	ASSERT_EQ(9, json_object_array_length(ranges));
	rg = json_object_array_get_idx(ranges, 2);
	EXPECT_STREQ("pc.bios", str_key(rg, "region"));
	EXPECT_EQ(0xe0000ULL, json_object_get_uint64(key(rg, "start")));
	EXPECT_EQ(0xfffffULL, json_object_get_uint64(key(rg, "end")));
	EXPECT_EQ(0x20000ULL, json_object_get_uint64(key(rg, "size")));
	EXPECT_EQ(0x20000ULL, json_object_get_uint64(key(rg, "offset_in_region")));
	EXPECT_STREQ("rom", str_key(rg, "type"));
	EXPECT_TRUE(json_object_get_boolean(key(rg, "readonly")));
	EXPECT_EQ(0, json_object_get_int(key(rg, "priority")));
	rg = json_object_array_get_idx(ranges, 8);
	EXPECT_STREQ("pc.ram", str_key(rg, "region"));
	EXPECT_EQ(0x100000000ULL, json_object_get_uint64(key(rg, "start")));
	EXPECT_EQ(0x13fffffffULL, json_object_get_uint64(key(rg, "end")));
	EXPECT_EQ(0xc0000000ULL, json_object_get_uint64(key(rg, "offset_in_region")));
	EXPECT_STREQ("ram", str_key(rg, "type"));
	EXPECT_FALSE(json_object_get_boolean(key(rg, "readonly")));
	EXPECT_EQ(NULL, key(rg, "owner"));	/* only with -o */

	v = json_object_array_get_idx(views, 1);
	EXPECT_STREQ("io", str_key(v, "root"));
	ranges = key(v, "ranges");
	ASSERT_EQ(13, json_object_array_length(ranges));
	rg = json_object_array_get_idx(ranges, 2);
	EXPECT_STREQ("io", str_key(rg, "region"));
	EXPECT_EQ(0x10, json_object_get_uint64(key(rg, "offset_in_region")));

	v = json_object_array_get_idx(views, 2);
	EXPECT_TRUE(json_object_is_type(key(v, "root"), json_type_null));
	EXPECT_TRUE(json_object_object_get_ex(v, "root", NULL));
	EXPECT_EQ(0, json_object_array_length(key(v, "ranges")));
	EXPECT_STREQ("PIIX3", as_name(v, 1));
	json_object_put(o);
	cli_result_free(&r);
}

TEST(pretty_indents)
{
	struct json_object *plain, *pretty;
	struct cli_result r1, r2;

	ASSERT_EQ(0, CLI_RUN(&r1, "-j", "mtree", "-f", "-o"));
	ASSERT_EQ(0, CLI_RUN(&r2, "-p", "mtree", "-f", "-o"));
	EXPECT_EQ(0, r2.status);
	EXPECT_STREQ("", r2.err);
	EXPECT_EQ(1, count_lines(r1.out));
	EXPECT_LT(100, count_lines(r2.out));
	EXPECT_TRUE(starts_with(r2.out, "{\n  \"version\": 1,\n  \"flat_views\": [\n"));
	plain = parse_one(r1.out);
	pretty = parse_one(r2.out);
	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, pretty);
	EXPECT_TRUE(json_object_equal(plain, pretty));
	/* Slashes are not escaped. */
	EXPECT_NE(NULL, strstr(r2.out, "\"obj path=/objects/pc.ram\""));
	json_object_put(plain);
	json_object_put(pretty);
	cli_result_free(&r1);
	cli_result_free(&r2);
}

TEST(json_error)
{
	struct json_object *o;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "-x"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(2, json_object_object_length(o));	/* and "version" */
	EXPECT_STREQ("mtree: unknown option: -x", str_key(o, "error"));
	json_object_put(o);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "-p", "bogus"));
	EXPECT_EQ(2, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_STREQ("unknown command: bogus", str_key(o, "error"));
	json_object_put(o);
	cli_result_free(&r);

	/* Still exactly one document when the command is missing. */
	ASSERT_EQ(0, CLI_RUN(&r, "-j"));
	EXPECT_EQ(2, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_NE(NULL, str_key(o, "error"));
	json_object_put(o);
	cli_result_free(&r);
}

/* --- mtree --import: helpers ------------------------------------------ */

/* Whole file as a string, "\r" removed if @strip_cr; NULL on error. */
static char *read_text(const char *path, bool strip_cr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *s, *w;

	if (fd < 0)
		return NULL;
	s = slurp_fd(fd);
	close(fd);
	if (s && strip_cr) {
		w = s;
		for (const char *r = s; *r; r++)
			if (*r != '\r')
				*w++ = *r;
		*w = '\0';
	}
	return s;
}

/*
 * Put @text in a memory file and name it in @path (PATH_MAX bytes) as
 * /proc/self/fd/<n>: the descriptor is inherited by the tool, and nothing
 * is left on disk when a test stops at a failed ASSERT (the harness skips
 * the teardown then).
 */
static int write_temp(char *path, const char *text, size_t len)
{
	int fd = memfd_create("memslot-test", 0);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	snprintf(path, PATH_MAX, "/proc/self/fd/%d", fd);
	return 0;
}

/* Number of lines of @text starting with @prefix. */
static int count_prefixed(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += starts_with(p, prefix);
	return n;
}

/* Does every line of @want appear as a line of @text? Logs the first miss. */
static bool has_all_lines(struct __test_metadata *_metadata, const char *text, const char *want)
{
	char line[512];

	for (const char *p = want; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (!has_line(text, line)) {
			TH_LOG("missing line: %s", line);
			return false;
		}
		p += len + (nl ? 1 : 0);
	}
	return true;
}

/* --- mtree --import: the QEMU 7.2 samples ----------------------------- */

FIXTURE(sample) {
	char tree[PATH_MAX];
	char flat[PATH_MAX];
	char *flat_text;	/* QEMU's `info mtree -f`, "\r" removed */
};

FIXTURE_VARIANT(sample) {
	const char *prefix;
};

FIXTURE_VARIANT_ADD(sample, pc_256m_stopped) {
	.prefix = "pc-256m-stopped",
};

FIXTURE_VARIANT_ADD(sample, pc_4g_dimms_nvdimm) {
	.prefix = "pc-4g-dimms-nvdimm",
};

FIXTURE_VARIANT_ADD(sample, pc_pflash_virtio_mem) {
	.prefix = "pc-pflash-virtio-mem",
};

FIXTURE_VARIANT_ADD(sample, q35_1g_stopped) {
	.prefix = "q35-1g-stopped",
};

FIXTURE_SETUP(sample)
{
	const char *dir = samples_dir();

	snprintf(self->tree, sizeof(self->tree), "%s/%s.mtree.txt", dir, variant->prefix);
	snprintf(self->flat, sizeof(self->flat), "%s/%s.mtree_f.txt", dir, variant->prefix);
	self->flat_text = read_text(self->flat, true);
	ASSERT_NE(NULL, self->flat_text) TH_LOG("cannot read %s", self->flat);
	ASSERT_EQ(0, access(self->tree, R_OK)) TH_LOG("cannot read %s", self->tree);
}

FIXTURE_TEARDOWN(sample)
{
	free(self->flat_text);
}

/* Our flat views, " KVM" markers included, equal QEMU's view by view. */
TEST_F(sample, check_flat)
{
	int nr_as = count_prefixed(self->flat_text, " AS \"");
	struct cli_result r;
	char want[64];

	ASSERT_LT(0, nr_as);
	snprintf(want, sizeof(want), "flat views identical: %d address spaces\n", nr_as);
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", self->tree, "--check-flat", self->flat));
	if (r.status)
		TH_LOG("%s%s", r.out, r.err);
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(want, r.out);
	EXPECT_STREQ("", r.err);
	cli_result_free(&r);
}

TEST_F(sample, check_flat_json)
{
	int nr_as = count_prefixed(self->flat_text, " AS \"");
	struct json_object *o, *c;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", self->tree, "--check-flat", self->flat));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(3, json_object_object_length(o));	/* and "version" */
	EXPECT_EQ(nr_as, json_object_array_length(key(o, "address_spaces")));
	c = key(o, "check_flat");
	ASSERT_NE(NULL, c);
	EXPECT_TRUE(json_object_is_type(key(c, "identical"), json_type_boolean));
	EXPECT_TRUE(json_object_get_boolean(key(c, "identical")));
	EXPECT_TRUE(json_object_is_type(key(c, "differences"), json_type_array));
	EXPECT_EQ(0, json_object_array_length(key(c, "differences")));
	json_object_put(o);
	cli_result_free(&r);
}

/* -f prints every line QEMU printed (views in another order), markers too. */
TEST_F(sample, flat_lines)
{
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", self->tree, "--check-flat", self->flat, "-f"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(has_all_lines(_metadata, r.out, self->flat_text));
	EXPECT_EQ(count_lines(self->flat_text) + 1, count_lines(r.out));
	EXPECT_EQ(count_prefixed(self->flat_text, "FlatView #"),
		  count_prefixed(r.out, "FlatView #"));
	EXPECT_TRUE(strstr(r.out, " KVM\n") != NULL);
	cli_result_free(&r);
}

/* The tree printed back is the dump, byte for byte, without the "\r". */
TEST_F(sample, tree_round_trip)
{
	char *want = read_text(self->tree, true);
	struct cli_result r;

	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", self->tree));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_STREQ(want, r.out);
	free(want);
	cli_result_free(&r);
}

/* An `info mtree -D` dump prints back with -D, and as the plain dump without. */
TEST(import_disabled_round_trip)
{
	char tree_d[PATH_MAX], tree[PATH_MAX];
	const char *dir = samples_dir();
	char *want_d, *want;
	struct cli_result r;

	snprintf(tree_d, sizeof(tree_d), "%s/pc-256m-stopped.mtree_D.txt", dir);
	snprintf(tree, sizeof(tree), "%s/pc-256m-stopped.mtree.txt", dir);
	want_d = read_text(tree_d, true);
	want = read_text(tree, true);
	ASSERT_NE(NULL, want_d);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, strstr(want_d, " [disabled]\n"));

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", tree_d, "-D"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_STREQ(want_d, r.out);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", tree_d));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(want, r.out);
	cli_result_free(&r);
	free(want_d);
	free(want);
}

/*
 * kvm-memslots.md 6.5: the registration replay maps the stopped pc machine
 * in address order, lowest free id first; ROMs read-only (rule 6.3), the
 * MMIO ranges and the unaligned nothing.
 */
TEST(import_memslots_json)
{
	static const struct {
		uint64_t gpa, size;
		uint32_t flags;
		const char *region;
	} want[] = {
		{ 0x0, 0xc0000, 0, "pc.ram" },
		{ 0xc0000, 0x20000, 2, "pc.rom" },
		{ 0xe0000, 0x20000, 2, "pc.bios" },
		{ 0x100000, 0xff00000, 0, "pc.ram" },
		{ 0xfffc0000, 0x40000, 2, "pc.bios" },
	};
	const char *dir = samples_dir();
	struct json_object *o, *slots;
	char tree[PATH_MAX];
	struct cli_result r;

	snprintf(tree, sizeof(tree), "%s/pc-256m-stopped.mtree.txt", dir);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", tree, "--memslots"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(3, json_object_object_length(o));	/* and "version" */
	EXPECT_EQ(7, json_object_array_length(key(o, "address_spaces")));
	EXPECT_STREQ("i440FX", json_object_get_string(
			     json_object_array_get_idx(key(o, "address_spaces"), 0)));
	slots = key(o, "memslots");
	ASSERT_TRUE(json_object_is_type(slots, json_type_array));
	ASSERT_EQ(5, json_object_array_length(slots));
	for (size_t i = 0; i < 5; i++) {
		struct json_object *s = json_object_array_get_idx(slots, i);

		if (json_object_get_uint64(key(s, "gpa")) != want[i].gpa ||
		    json_object_get_uint64(key(s, "flags")) != want[i].flags)
			TH_LOG("slot %zu: %s", i, json_object_to_json_string(s));
		EXPECT_EQ(6, json_object_object_length(s));
		EXPECT_EQ(i, json_object_get_uint64(key(s, "slot")));
		EXPECT_EQ(0, json_object_get_uint64(key(s, "as")));
		EXPECT_EQ(want[i].gpa, json_object_get_uint64(key(s, "gpa")));
		EXPECT_EQ(want[i].size, json_object_get_uint64(key(s, "size")));
		EXPECT_TRUE(json_object_is_type(key(s, "flags"), json_type_int));
		EXPECT_EQ(want[i].flags, json_object_get_uint64(key(s, "flags")));
		EXPECT_STREQ(want[i].region, str_key(s, "region"));
	}
	json_object_put(o);
	cli_result_free(&r);
}

TEST(import_memslots_text)
{
	static const char want[] =
		"slot  as  gpa                 size                flags  region\n"
		"   0   0  0x0000000000000000  0x00000000000c0000  -      pc.ram\n"
		"   1   0  0x00000000000c0000  0x0000000000020000  ro     pc.rom\n"
		"   2   0  0x00000000000e0000  0x0000000000020000  ro     pc.bios\n"
		"   3   0  0x0000000000100000  0x000000000ff00000  -      pc.ram\n"
		"   4   0  0x00000000fffc0000  0x0000000000040000  ro     pc.bios\n"
		"total: 5 slots, 0x10040000 bytes\n";
	const char *dir = samples_dir();
	char tree[PATH_MAX], flat[PATH_MAX];
	struct cli_result r;
	const char *p;

	snprintf(tree, sizeof(tree), "%s/pc-256m-stopped.mtree.txt", dir);
	snprintf(flat, sizeof(flat), "%s/pc-256m-stopped.mtree_f.txt", dir);
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", tree, "--memslots"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_STREQ(want, r.out);
	cli_result_free(&r);

	/* Combined: flat views, then the table, then the check. */
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", tree, "-f", "--memslots", "--check-flat",
			     flat));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(starts_with(r.out, "FlatView #0\n"));
	p = strstr(r.out, "\n\nslot  as  gpa");
	ASSERT_NE(NULL, p);
	EXPECT_TRUE(starts_with(p + 2, want));
	EXPECT_STREQ("flat views identical: 7 address spaces\n", p + 2 + strlen(want));
	cli_result_free(&r);
}

/* A flat dump with one range changed: the line is reported, exit 1. */
TEST(import_check_flat_corrupted)
{
	static const char good[] =
		"  0000000000100000-000000000fffffff (prio 0, ram): pc.ram @0000000000100000 KVM";
	static const char bad[] =
		"  0000000000100000-000000000effffff (prio 0, ram): pc.ram @0000000000100000 KVM";
	struct json_object *o, *c, *diffs;
	char tree[PATH_MAX], flat[PATH_MAX], tmp[PATH_MAX], line[200];
	const char *dir = samples_dir();
	bool seen_memory = false;
	struct cli_result r;
	char *text, *p;

	snprintf(tree, sizeof(tree), "%s/pc-256m-stopped.mtree.txt", dir);
	snprintf(flat, sizeof(flat), "%s/pc-256m-stopped.mtree_f.txt", dir);
	text = read_text(flat, false);		/* CRLF kept */
	ASSERT_NE(NULL, text);
	p = strstr(text, good);
	ASSERT_NE(NULL, p);
	memcpy(p, bad, strlen(bad));
	ASSERT_EQ(0, write_temp(tmp, text, strlen(text)));
	free(text);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", tree, "--check-flat", tmp));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.err);
	snprintf(line, sizeof(line), "-%s", bad);
	EXPECT_TRUE(has_line(r.out, line));
	snprintf(line, sizeof(line), "+%s", good);
	EXPECT_TRUE(has_line(r.out, line));
	/* "memory" and "cpu-memory-0" share the view: both differ. */
	EXPECT_TRUE(has_line(r.out, "AS \"memory\": flat view differs"));
	EXPECT_TRUE(has_line(r.out, "AS \"cpu-memory-0\": flat view differs"));
	EXPECT_TRUE(has_line(r.out, "flat views differ: 2 of 7 address spaces"));
	EXPECT_EQ(NULL, strstr(r.out, "identical"));
	EXPECT_EQ(NULL, strstr(r.out, "AS \"I/O\""));
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", tree, "--check-flat", tmp));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	c = key(o, "check_flat");
	EXPECT_FALSE(json_object_get_boolean(key(c, "identical")));
	diffs = key(c, "differences");
	ASSERT_EQ(2, json_object_array_length(diffs));
	for (size_t i = 0; i < 2; i++) {
		struct json_object *d = json_object_array_get_idx(diffs, i);
		const char *as = str_key(d, "address_space");

		ASSERT_NE(NULL, as);
		seen_memory |= !strcmp(as, "memory");
		EXPECT_TRUE(!strcmp(as, "memory") || !strcmp(as, "cpu-memory-0"));
		ASSERT_EQ(1, json_object_array_length(key(d, "expected")));
		ASSERT_EQ(1, json_object_array_length(key(d, "got")));
		EXPECT_STREQ(bad, json_object_get_string(
				     json_object_array_get_idx(key(d, "expected"), 0)));
		EXPECT_STREQ(good, json_object_get_string(
				     json_object_array_get_idx(key(d, "got"), 0)));
	}
	EXPECT_TRUE(seen_memory);
	json_object_put(o);
	cli_result_free(&r);
}

/* --- mtree --import: inline dumps --------------------------------------- */

/*
 * A machine with KVM SMM (kvm-memslots.md 1.2): VGA MMIO over RAM in
 * "memory", SMRAM opened over it in "KVM-SMRAM".
 */
#define SMM_SYSTEM \
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n" \
	"    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff\n" \
	"    00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n" \
	"    00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
static const char smm_tree[] =
	"address-space: memory\n"
	SMM_SYSTEM
	"\n"
	"address-space: KVM-SMRAM\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): mem-container-smram\n"
	"    0000000000000000-ffffffffffffffff (prio 0, i/o): alias mem-smram @system 0000000000000000-ffffffffffffffff\n"
	"    00000000000a0000-00000000000bffff (prio 10, ram): alias smram-low @pc.ram 00000000000a0000-00000000000bffff\n"
	"\n"
	"memory-region: pc.ram\n"
	"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"
	"\n"
	"memory-region: system\n"
	SMM_SYSTEM
	"\n";

TEST(import_round_trip_lf_crlf)
{
	char path[2][PATH_MAX], crlf[sizeof(smm_tree) * 2];
	struct cli_result r;
	size_t n = 0;

	ASSERT_EQ(0, write_temp(path[0], smm_tree, strlen(smm_tree)));
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path[0]));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_STREQ(smm_tree, r.out);
	cli_result_free(&r);

	for (const char *p = smm_tree; *p; p++) {
		if (*p == '\n')
			crlf[n++] = '\r';
		crlf[n++] = *p;
	}
	ASSERT_EQ(0, write_temp(path[1], crlf, n));
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path[1]));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(smm_tree, r.out);
	cli_result_free(&r);
}

/* "KVM-SMRAM" gets its own slot table with KVM address space id 1. */
TEST(import_smram)
{
	static const struct {
		uint32_t slot, as;
		uint64_t gpa, size;
		uint32_t flags;
	} want[] = {
		{ 0, 0, 0x0, 0xa0000, 0 },
		{ 1, 0, 0xc0000, 0x7f40000, 0 },
		{ 2, 0, 0xfffc0000, 0x40000, 2 },
		{ 0, 1, 0x0, 0x8000000, 0 },
		{ 1, 1, 0xfffc0000, 0x40000, 2 },
	};
	struct json_object *o, *slots, *views;
	char path[PATH_MAX];
	struct cli_result r;
	int smram_kvm = 0;

	ASSERT_EQ(0, write_temp(path, smm_tree, strlen(smm_tree)));
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", path, "--memslots", "-f"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	slots = key(o, "memslots");
	ASSERT_EQ(5, json_object_array_length(slots));
	for (size_t i = 0; i < 5; i++) {
		struct json_object *s = json_object_array_get_idx(slots, i);

		if (json_object_get_uint64(key(s, "gpa")) != want[i].gpa ||
		    json_object_get_uint64(key(s, "as")) != want[i].as)
			TH_LOG("row %zu: %s", i, json_object_to_json_string(s));
		EXPECT_EQ(want[i].slot, json_object_get_uint64(key(s, "slot")));
		EXPECT_EQ(want[i].as, json_object_get_uint64(key(s, "as")));
		EXPECT_EQ(want[i].gpa, json_object_get_uint64(key(s, "gpa")));
		EXPECT_EQ(want[i].size, json_object_get_uint64(key(s, "size")));
		EXPECT_EQ(want[i].flags, json_object_get_uint64(key(s, "flags")));
	}
	/* Markers: each range names the address spaces whose map has it. */
	views = key(o, "flat_views");
	ASSERT_EQ(2, json_object_array_length(views));
	for (size_t v = 0; v < 2; v++) {
		struct json_object *view = json_object_array_get_idx(views, v);
		struct json_object *ranges = key(view, "ranges");
		const char *as = as_name(view, 0);

		for (size_t i = 0; i < json_object_array_length(ranges); i++) {
			struct json_object *rg = json_object_array_get_idx(ranges, i);
			struct json_object *kvm = key(rg, "kvm");
			bool io = !strcmp(str_key(rg, "region"), "vga-lowmem");

			ASSERT_TRUE(json_object_is_type(kvm, json_type_array));
			EXPECT_EQ(io ? 0 : 1, json_object_array_length(kvm));
			if (!io)
				EXPECT_STREQ(as, json_object_get_string(
						     json_object_array_get_idx(kvm, 0)));
			smram_kvm += !strcmp(as, "KVM-SMRAM") && !io;
		}
	}
	EXPECT_EQ(2, smram_kvm);
	json_object_put(o);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path, "--memslots"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(has_line(r.out,
		"   0   1  0x0000000000000000  0x0000000008000000  -      pc.ram"));
	EXPECT_TRUE(has_line(r.out, "total: 5 slots (as 0: 3, as 1: 2), 0x10060000 bytes"));
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path, "-f"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out,
		" AS \"KVM-SMRAM\", root: mem-container-smram\n"
		" Root memory region: mem-container-smram\n"
		"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram KVM\n"
		"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios KVM\n\n"));
	EXPECT_TRUE(has_line(r.out,
		"  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem"));
	EXPECT_TRUE(has_line(r.out,
		"  00000000000c0000-0000000007ffffff (prio 0, ram): pc.ram @00000000000c0000 KVM"));
	cli_result_free(&r);
}

/* JSON tree of an import; owner text from a -o dump via the region getters. */
TEST(import_json_tree_owner)
{
	static const char tree[] =
		"address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system parent:{obj path=/machine/unattached}\n"
		"    0000000000000000-0000000007ffffff (prio 0, ram): pc.ram owner:{obj path=/objects/pc.ram}\n"
		"    00000000fed00000-00000000fed003ff (prio 0, i/o): hpet orphan\n"
		"\n";
	struct json_object *o, *root, *mr;
	char path[PATH_MAX];
	struct cli_result r;

	ASSERT_EQ(0, write_temp(path, tree, strlen(tree)));
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path, "-o"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(tree, r.out);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", path, "-o"));
	EXPECT_EQ(0, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(3, json_object_object_length(o));	/* and "version" */
	EXPECT_EQ(0, json_object_array_length(key(o, "alias_targets")));
	root = key(json_object_array_get_idx(key(o, "address_spaces"), 0), "root");
	ASSERT_NE(NULL, root);
	EXPECT_STREQ("system", str_key(root, "name"));
	EXPECT_TRUE(json_object_is_type(key(root, "owner"), json_type_null));
	EXPECT_STREQ("obj path=/machine/unattached", str_key(root, "parent"));
	mr = find_region(root, "pc.ram");
	ASSERT_NE(NULL, mr);
	EXPECT_STREQ("obj path=/objects/pc.ram", str_key(mr, "owner"));
	EXPECT_TRUE(json_object_is_type(key(mr, "parent"), json_type_null));
	mr = find_region(root, "hpet");
	ASSERT_NE(NULL, mr);
	EXPECT_TRUE(json_object_object_get_ex(mr, "owner", NULL));
	EXPECT_TRUE(json_object_is_type(key(mr, "owner"), json_type_null));
	json_object_put(o);
	cli_result_free(&r);
}

/* Malformed dumps: one error line naming file and line, nothing on stdout. */
#define BAD_L1 "address-space: memory\n"
#define BAD_L2 "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
#define BAD_L3 "    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff\n"
#define BAD_L4 "    00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
#define BAD_L5 "    00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
#define BAD_TAIL "\nmemory-region: pc.ram\n" \
	"  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n\n"

FIXTURE(malformed) {
	char path[PATH_MAX];
};

FIXTURE_VARIANT(malformed) {
	const char *text;
	unsigned int line;
};

/* The well-formed base of the variants: must import. */
FIXTURE_VARIANT_ADD(malformed, none) {
	.text = BAD_L1 BAD_L2 BAD_L3 BAD_L4 BAD_L5 BAD_TAIL,
	.line = 0,
};

FIXTURE_VARIANT_ADD(malformed, truncated_mid_line) {
	.text = BAD_L1 BAD_L2
		"    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 00000000",
	.line = 3,
};

FIXTURE_VARIANT_ADD(malformed, odd_indentation) {
	.text = BAD_L1 BAD_L2 BAD_L3
		"     00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
		BAD_L5 BAD_TAIL,
	.line = 4,
};

FIXTURE_VARIANT_ADD(malformed, unknown_type) {
	.text = BAD_L1 BAD_L2 BAD_L3
		"    00000000000a0000-00000000000bffff (prio 0, foo): vga-lowmem\n"
		BAD_L5 BAD_TAIL,
	.line = 4,
};

FIXTURE_VARIANT_ADD(malformed, alias_to_missing_region) {
	.text = BAD_L1 BAD_L2
		"    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @nowhere 0000000000000000-0000000007ffffff\n"
		BAD_L4 BAD_L5 BAD_TAIL,
	.line = 3,
};

FIXTURE_VARIANT_ADD(malformed, address_of_17_digits) {
	.text = BAD_L1 BAD_L2 BAD_L3 BAD_L4
		"    000000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
		BAD_TAIL,
	.line = 5,
};

FIXTURE_SETUP(malformed)
{
	ASSERT_EQ(0, write_temp(self->path, variant->text, strlen(variant->text)));
}

FIXTURE_TEARDOWN(malformed)
{
	/* The memory file goes with the test process. */
}

TEST_F(malformed, text)
{
	char want[PATH_MAX + 64];
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", self->path));
	if (!variant->line) {
		EXPECT_EQ(0, r.status);
		EXPECT_STREQ("", r.err);
		EXPECT_STREQ(variant->text, r.out);
		cli_result_free(&r);
		return;
	}
	snprintf(want, sizeof(want), "memslot: mtree: %s: line %u: ", self->path, variant->line);
	if (!starts_with(r.err, want))
		TH_LOG("stderr: %s", r.err);
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_TRUE(starts_with(r.err, want));
	EXPECT_EQ(1, count_lines(r.err));
	cli_result_free(&r);

	/* The other outputs fail the same way. */
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", self->path, "-f", "--memslots"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_TRUE(starts_with(r.err, want));
	cli_result_free(&r);
}

TEST_F(malformed, json)
{
	struct json_object *o;
	char want[PATH_MAX + 64];
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", self->path, "--memslots"));
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	if (!variant->line) {
		EXPECT_EQ(0, r.status);
		EXPECT_NE(NULL, key(o, "memslots"));
	} else {
		snprintf(want, sizeof(want), "mtree: %s: line %u: ", self->path, variant->line);
		EXPECT_EQ(1, r.status);
		EXPECT_EQ(2, json_object_object_length(o));	/* and "version" */
		ASSERT_NE(NULL, str_key(o, "error"));
		EXPECT_TRUE(starts_with(str_key(o, "error"), want));
	}
	json_object_put(o);
	cli_result_free(&r);
}

/* A malformed --check-flat dump is reported under its own name. */
TEST(import_malformed_flat)
{
	static const char flat[] = "FlatView #0\n AS \"memory\", root: system\nbogus\n\n";
	static const char tree_text[] = BAD_L1 BAD_L2 BAD_L3 BAD_L4 BAD_L5 BAD_TAIL;
	char tree[PATH_MAX], fpath[PATH_MAX], want[PATH_MAX + 64];
	struct cli_result r;

	ASSERT_EQ(0, write_temp(tree, tree_text, strlen(tree_text)));
	ASSERT_EQ(0, write_temp(fpath, flat, strlen(flat)));
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", tree, "--check-flat", fpath));
	snprintf(want, sizeof(want), "memslot: mtree: %s: line 3: ", fpath);
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_TRUE(starts_with(r.err, want));
	EXPECT_EQ(1, count_lines(r.err));
	cli_result_free(&r);
}

TEST(import_unreadable)
{
	struct json_object *o;
	struct cli_result r;

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", "/nonexistent/tree.txt"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: mtree: /nonexistent/tree.txt: No such file or directory\n", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", "/"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: mtree: /: Is a directory\n", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", "/nonexistent/tree.txt"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_STREQ("mtree: /nonexistent/tree.txt: No such file or directory",
		     str_key(o, "error"));
	json_object_put(o);
	cli_result_free(&r);
}

TEST(import_usage_errors)
{
	static const char *const cases[][5] = {
		{ "mtree", "--check-flat", "x.txt", NULL },
		{ "mtree", "--memslots", NULL },
		{ "mtree", "--import", NULL },
		{ "mtree", "--import", "x.txt", "--bogus" },
	};
	static const char *const errs[] = {
		"memslot: mtree: option needs --import: --check-flat\n",
		"memslot: mtree: option needs --import: --memslots\n",
		"memslot: mtree: missing argument of option: --import\n",
		"memslot: mtree: unknown option: --bogus\n",
	};
	struct cli_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(0, cli_run(&r, NULL, cases[i]));
		if (strcmp(errs[i], r.err))
			TH_LOG("case %zu", i);
		EXPECT_EQ(2, r.status);
		EXPECT_STREQ("", r.out);
		EXPECT_STREQ(errs[i], r.err);
		cli_result_free(&r);
	}

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "--import TREE.txt"));
	EXPECT_NE(NULL, strstr(r.out, "--memslots"));
	EXPECT_NE(NULL, strstr(r.out, "--check-flat FLAT.txt"));
	cli_result_free(&r);
}

/*
 * Input files are bounded (64 MiB): an endless one such as /dev/zero is
 * refused instead of read until memory runs out; a missing or malformed
 * --expect says what is wrong with it, not that it has no table.
 */
TEST(inputs_bounded_and_named)
{
	static const char *const cases[][6] = {
		{ "mtree", "--import", "/dev/zero" },
		{ "plan", "--script", "/dev/zero" },
		{ "verify", "-p", "1", "--expect", "/nonexistent/plan.json" },
		{ "verify", "-p", "1", "--expect", "/dev/zero" },
		{ "verify", "-p", "1", "--expect", NULL },
		{ "verify", "-p", "1", "--expect", NULL },
	};
	static const char *const errs[] = {
		"memslot: mtree: /dev/zero: larger than 64 MiB, not an input of memslot\n",
		"memslot: plan: /dev/zero: larger than 64 MiB, not an input of memslot\n",
		"memslot: verify: /nonexistent/plan.json: No such file or directory\n",
		"memslot: verify: /dev/zero: larger than 64 MiB, not an input of memslot\n",
		"empty or incomplete JSON (byte 0)",
		"text after the JSON document (byte 8)",
	};
	static const char *const texts[] = { "", "{\"a\":1} x\n" };
	char path[2][PATH_MAX], want[PATH_MAX + 100];
	const char *args[6];
	struct cli_result r;

	for (int k = 0; k < 2; k++)
		ASSERT_EQ(0, write_temp(path[k], texts[k], strlen(texts[k])));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0;

		for (; n < 5 && cases[i][n]; n++)
			args[n] = cases[i][n];
		if (n == 4)
			args[n++] = path[i - 4];
		args[n] = NULL;
		if (i < 4)
			snprintf(want, sizeof(want), "%s", errs[i]);
		else
			snprintf(want, sizeof(want), "memslot: verify: %s: %s\n", path[i - 4], errs[i]);
		ASSERT_EQ(0, cli_run(&r, NULL, args));
		EXPECT_EQ(1, r.status) TH_LOG("case %zu", i);
		EXPECT_STREQ("", r.out);
		EXPECT_STREQ(want, r.err);
		cli_result_free(&r);
	}
	for (int k = 0; k < 2; k++)
		unlink(path[k]);
}

/*
 * Numbers as a user means them: process ids are decimal ("0123" is pid
 * 123, not octal 83; "0x10" is no pid), -m slots= is reported as given, and a trace
 * duration beyond the clock's range runs until a signal instead of
 * wrapping around and ending at once.
 */
TEST(numbers_as_given)
{
	const char *trace[] = { "/usr/bin/timeout", "--preserve-status", "-s", "INT", "2",
				cli_tool_path(), "trace", "-D", "18446744073709551615", NULL };
	struct cli_result r;
	char pid[24];

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "-m", "1G,slots=4294967297,maxmem=8G"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: plan: unsupported amount of memory slots: 4294967297\n", r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "census", "-p", "0x10"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: census: invalid process id: 0x10\n", r.err);
	cli_result_free(&r);
	if (geteuid())
		SKIP(return, "census and trace need root (CAP_BPF, CAP_PERFMON)");
	/* this process with a leading zero: as octal it would be another one */
	snprintf(pid, sizeof(pid), "0%d", (int)getpid());
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "-p", pid));
	EXPECT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, cli_exec(&r, NULL, trace));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* it ran until timeout's SIGINT, two seconds on */
	EXPECT_LE(1.9, r.secs);
	cli_result_free(&r);
}

/*
 * -j output is valid UTF-8 whatever the input: a byte that starts no valid
 * sequence (in a region name of an imported dump, in a file name of an
 * error) becomes U+FFFD; valid multi-byte text stays as it is.
 */
TEST(json_output_is_utf8)
{
	static const char tree[] =
		"address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\xfftem\n"
		"    0000000000000000-0000000007ffffff (prio 0, ram): caf\xc3\xa9 \xc3\n"
		"\n";
	char path[PATH_MAX], bad[PATH_MAX];
	struct cli_result r;

	ASSERT_EQ(0, write_temp(path, tree, strlen(tree)));
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", path));
	EXPECT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	EXPECT_EQ(NULL, strchr(r.out, '\xff'));
	EXPECT_NE(NULL, strstr(r.out, "\"sys\xef\xbf\xbdtem\""));
	EXPECT_NE(NULL, strstr(r.out, "\"caf\xc3\xa9 \xef\xbf\xbd\""));
	cli_result_free(&r);
	unlink(path);

	snprintf(bad, sizeof(bad), "/nonexistent/\xfe.txt");
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", bad));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("{\"version\":1,\"error\":\"mtree: /nonexistent/\xef\xbf\xbd.txt: No such file or "
		     "directory\"}\n", r.out);
	cli_result_free(&r);
}

/* a dump cut before "address-space: memory" has no memslot table to print */
TEST(import_memslots_need_memory)
{
	static const char tree[] =
		"address-space: I/O\n"
		"  0000000000000000-000000000000ffff (prio 0, i/o): io\n"
		"\n";
	char path[PATH_MAX], want[PATH_MAX + 100];
	struct cli_result r;

	ASSERT_EQ(0, write_temp(path, tree, strlen(tree)));
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path, "--memslots"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	snprintf(want, sizeof(want), "memslot: mtree: %s: no address space \"memory\": not a "
		 "whole info mtree dump\n", path);
	EXPECT_STREQ(want, r.err);
	cli_result_free(&r);
	/* the tree alone still prints */
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", path));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(tree, r.out);
	cli_result_free(&r);
	unlink(path);
}

/*
 * A process that looks like QEMU to -n: @exe (a path, whose base name
 * becomes its comm) run as a shell waiting on its stdin, with @args (such
 * as "-name", "guest=X") in its command line. Returns its pid once the
 * exec is done; closing *@in ends it.
 */
static pid_t fake_qemu(const char *exe, const char *const *args, int *in)
{
	const char *argv[8] = { exe, "-c", "read x", "sh" };
	int p[2], done[2];
	size_t n = 4;
	pid_t pid;
	char c;

	while (*args && n < 7)
		argv[n++] = *args++;
	/* close-on-exec: a later fake must not hold this one's stdin open */
	if (pipe2(p, O_CLOEXEC) || pipe2(done, O_CLOEXEC))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(p[0], 0);
		close(p[1]);
		execv(exe, (char **)argv);
		_exit(127);
	}
	close(p[0]);
	close(done[1]);
	/* EOF once the exec closed the other end */
	while (read(done[0], &c, 1) < 0 && errno == EINTR)
		;
	close(done[0]);
	*in = p[1];
	return pid;
}

static void fake_qemu_end(pid_t pid, int in)
{
	close(in);
	waitpid(pid, NULL, 0);
}

/*
 * -p, --qmp and -n name running VMs: --qmp takes the pid of the socket's
 * listener, -n QEMU's guest name (-name guest=NAME, -name NAME, ",," for a
 * comma) or else the comm. verify needs one process and lists them all
 * (pid and name) when the options name several; a name or socket that
 * names nothing is an error naming it. Resolution comes before the
 * privilege check, so none of this needs root.
 */
TEST(vm_selection)
{
	char guest[64], guest2[64], want[512], sock[64], dir[] = "/tmp/memslot-vmsel.XXXXXX";
	char comm[32], exe[96], qname[80];
	int in1, in2, in3, lfd;
	struct cli_result r;
	pid_t a, b, c;

	ASSERT_EQ(0, CLI_RUN(&r, "census", "--qmp", "/nonexistent/qmp.sock"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: census: cannot connect to QMP socket: /nonexistent/qmp.sock: "
		     "No such file or directory\n", r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "trace", "-n", ""));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: trace: --name: empty argument\n", r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "census", "-n", "memslot-no-such-guest"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: census: no QEMU guest or process named: memslot-no-such-guest\n",
		     r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "census", "--vhost-limit", "509"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: census: option needs --prometheus: --vhost-limit\n", r.err);
	cli_result_free(&r);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "--prometheus"));
	EXPECT_EQ(2, r.status);
	EXPECT_EQ(NULL, strstr(r.out, "# TYPE"));
	cli_result_free(&r);

	/* two guests of one name, in both spellings of -name; a third by comm only */
	snprintf(guest, sizeof(guest), "ms-sel-%d,x", getpid());
	snprintf(qname, sizeof(qname), "guest=ms-sel-%d,,x,debug-threads=on", getpid());
	a = fake_qemu("/bin/sh", (const char *const[]){ "-name", qname, NULL }, &in1);
	snprintf(qname, sizeof(qname), "ms-sel-%d,,x,process=foo", getpid());
	b = fake_qemu("/bin/sh", (const char *const[]){ "-name", qname, NULL }, &in2);
	ASSERT_LT(0, a);
	ASSERT_LT(0, b);
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(comm, sizeof(comm), "msv%d", getpid());
	snprintf(exe, sizeof(exe), "%s/%s", dir, comm);
	ASSERT_EQ(0, symlink("/bin/sh", exe));
	c = fake_qemu(exe, (const char *const[]){ NULL }, &in3);
	ASSERT_LT(0, c);

	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", guest, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: verify: 2 processes match, one VM needed: "
		 "pid %d (%s), pid %d (%s)\n", a < b ? a : b, guest, a < b ? b : a, guest);
	EXPECT_STREQ(want, r.err);
	cli_result_free(&r);

	/* one match: on to the next check, the expected table */
	snprintf(guest2, sizeof(guest2), "%.*s", (int)strlen(guest) - 2, guest);
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", comm, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: verify: /nonexistent/plan.json: No such file or directory\n", r.err);
	cli_result_free(&r);
	/* a guest name is not a comm: "ms-sel-N" is neither */
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", guest2, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: verify: no QEMU guest or process named: %s\n",
		 guest2);
	EXPECT_STREQ(want, r.err);
	cli_result_free(&r);

	/* --qmp: this process listens; with -p of the comm-named one, two processes */
	snprintf(sock, sizeof(sock), "%s/qmp", dir);
	lfd = unix_listen(sock);
	ASSERT_LE(0, lfd);
	snprintf(qname, sizeof(qname), "%d", c);
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "--qmp", sock, "-p", qname, "-n", comm, "--expect",
			     "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: verify: 2 processes match, one VM needed: "
		 "pid %d (test_cli), pid %d (%s)\n", getpid(), c, comm);
	EXPECT_STREQ(want, r.err);
	cli_result_free(&r);
	close(lfd);

	fake_qemu_end(a, in1);
	fake_qemu_end(b, in2);
	fake_qemu_end(c, in3);
	unlink(sock);
	unlink(exe);
	rmdir(dir);
}

/*
 * -n compares the whole guest name, however long (no cut at 255
 * characters); a name of 15 characters or more matches a comm, which the
 * kernel cuts at 15, by its first 15.
 */
TEST(vm_selection_long_names)
{
	char name[300], qname[310], want[400], exe[160], comm[64];
	char dir[] = "/tmp/memslot-vmsel.XXXXXX";
	struct cli_result r;
	int in1, in2;
	pid_t a, c;

	memset(name, 'g', 255);
	snprintf(name + 255, sizeof(name) - 255, "XYZ%d", getpid());
	snprintf(qname, sizeof(qname), "guest=%s", name);
	a = fake_qemu("/bin/sh", (const char *const[]){ "-name", qname, NULL }, &in1);
	ASSERT_LT(0, a);
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(comm, sizeof(comm), "msv-long-comm-%d", getpid());
	snprintf(exe, sizeof(exe), "%s/%s", dir, comm);
	ASSERT_EQ(0, symlink("/bin/sh", exe));
	c = fake_qemu(exe, (const char *const[]){ NULL }, &in2);
	ASSERT_LT(0, c);

	/* the whole name: one match, on to the expected table */
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", name, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: verify: /nonexistent/plan.json: No such file or directory\n", r.err);
	cli_result_free(&r);
	/* its first 255 characters name nothing */
	name[255] = 0;
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", name, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: verify: no QEMU guest or process named: %s\n", name);
	EXPECT_STREQ(want, r.err);
	cli_result_free(&r);

	/* the executable's whole name finds the comm the kernel cut at 15 */
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", comm, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: verify: /nonexistent/plan.json: No such file or directory\n", r.err);
	cli_result_free(&r);
	/* fewer than 15 characters are compared whole */
	comm[14] = 0;
	ASSERT_EQ(0, CLI_RUN(&r, "verify", "-n", comm, "--expect", "/nonexistent/plan.json"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: verify: no QEMU guest or process named: %s\n", comm);
	EXPECT_STREQ(want, r.err);
	cli_result_free(&r);

	fake_qemu_end(a, in1);
	fake_qemu_end(c, in2);
	unlink(exe);
	rmdir(dir);
}

TEST_HARNESS_MAIN
