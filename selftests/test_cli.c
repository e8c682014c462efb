// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The memslot command line: global options, the command table, exit
 * statuses, error lines, JSON mode (STYLE.md "CLI" and "JSON") and the
 * `mtree` command on the embedded default topology (a QEMU 7.2 pc machine
 * with 4 GiB RAM; qemu-mtree-format.md).
 *
 * The tool is the binary named by $MEMSLOT (default build/memslot), run
 * with stdin on /dev/null and stdout/stderr captured in memory files.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <memslot/memslot.h>

/*
 * The harness's macros trip these (unused "variant" parameter, int
 * literals compared with size_t), as in selftests/lib/util.h.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wclobbered"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

/**
 * struct result - what one run of the tool produced
 * @status: exit status, or 128 + signal number
 * @out: stdout, NUL-terminated
 * @err: stderr, NUL-terminated
 */
struct result {
	int status;
	char *out;
	char *err;
};

static const char *tool_path(void)
{
	const char *p = getenv("MEMSLOT");

	return p && *p ? p : "build/memslot";
}

static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf || lseek(fd, 0, SEEK_SET) < 0) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/*
 * Run the tool with @args (NULL-terminated, without argv[0]); stdout goes
 * to @stdout_path if given, else it is captured. Return 0 or -errno.
 */
static int run_to(struct result *r, const char *stdout_path, const char *const *args)
{
	const char *argv[32];
	int out, err, st;
	size_t n = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	argv[n++] = tool_path();
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;

	out = memfd_create("memslot-stdout", MFD_CLOEXEC);
	err = memfd_create("memslot-stderr", MFD_CLOEXEC);
	if (out < 0 || err < 0)
		return -errno;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = stdout_path ? open(stdout_path, O_WRONLY) : out;

		if (in < 0 || o < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp(out);
	r->err = slurp(err);
	close(out);
	close(err);
	if (!r->out || !r->err)
		return -ENOMEM;
	return 0;
}

#define RUN(r, ...) run_to(r, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define RUN0(r) run_to(r, NULL, (const char *const[]){ NULL })

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* Is @line (without its "\n") one whole line of @text? */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, len) && (p[len] == '\n' || p[len] == '\0'))
			return true;
	return false;
}

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

/* Parse exactly one JSON document (trailing whitespace allowed) or NULL. */
static struct json_object *parse_one(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	size_t len = strlen(s), end;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (end = json_tokener_get_parse_end(tok); end < len; end++)
			if (!isspace((unsigned char)s[end]))
				break;
		if (end != len) {
			json_object_put(o);
			o = NULL;
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
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
	struct result r;

	snprintf(want, sizeof(want), "memslot %s\nlibmemslot %s\n", MS_VERSION, ms_version());
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, RUN(&r, opts[i]));
		if (r.status || strcmp(want, r.out))
			TH_LOG("memslot %s", opts[i]);
		EXPECT_EQ(0, r.status);
		EXPECT_STREQ(want, r.out);
		EXPECT_STREQ("", r.err);
		result_free(&r);
	}
}

TEST(version_json)
{
	struct json_object *o;
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-j", "--version"));
	EXPECT_EQ(0, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_STREQ(MS_VERSION, str_key(o, "version"));
	EXPECT_STREQ(ms_version(), str_key(o, "library_version"));
	json_object_put(o);
	result_free(&r);
}

TEST(help_lists_commands)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "help"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_TRUE(starts_with(r.out, "help ") || strstr(r.out, "\nhelp "));
	EXPECT_NE(NULL, strstr(r.out, "\nmtree "));
	EXPECT_EQ(2, count_lines(r.out));
	result_free(&r);

	/* help COMMAND shows the command's own usage. */
	ASSERT_EQ(0, RUN(&r, "help", "mtree"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "--flat"));
	result_free(&r);
}

TEST(help_option)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-h"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(starts_with(r.out, "Usage: memslot [OPTIONS] COMMAND [ARGS]\n"));
	EXPECT_NE(NULL, strstr(r.out, "\n  mtree "));
	EXPECT_STREQ("", r.err);
	result_free(&r);
}

TEST(help_json)
{
	struct json_object *o, *cmds;
	struct result r;
	bool found = false;

	ASSERT_EQ(0, RUN(&r, "-j", "help"));
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
	result_free(&r);
}

TEST(unknown_command)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "bogus"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: unknown command: bogus\n", r.err);
	result_free(&r);
}

TEST(command_prefix_is_not_a_command)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "mtre"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: unknown command: mtre\n", r.err);
	result_free(&r);
}

TEST(missing_command)
{
	struct result r;

	ASSERT_EQ(0, RUN0(&r));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_TRUE(starts_with(r.err, "Usage: memslot "));
	result_free(&r);
}

TEST(unknown_global_option)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "--bogus", "mtree"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: unknown option: --bogus\n", r.err);
	result_free(&r);

	/* Global options come before the command only. */
	ASSERT_EQ(0, RUN(&r, "mtree", "-j"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: mtree: unknown option: -j\n", r.err);
	result_free(&r);
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
	struct result r;
	const char *p;
	int pam = 0;

	ASSERT_EQ(0, RUN(&r, "mtree"));
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
	result_free(&r);
}

TEST(mtree_disabled)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "mtree", "-D"));
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
	result_free(&r);
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
	struct result r;

	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, RUN(&r, "mtree", opts[i]));
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
		result_free(&r);
	}
}

TEST(mtree_flat_owner)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "mtree", "-f", "-o"));
	EXPECT_EQ(0, r.status);
	EXPECT_TRUE(has_line(r.out,
		"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram owner:{obj path=/objects/pc.ram}"));
	EXPECT_TRUE(has_line(r.out,
		"  0000000000000010-000000000000001f (prio 0, i/o): io @0000000000000010 parent:{obj path=/machine/unattached}"));
	EXPECT_TRUE(has_line(r.out,
		"  00000000fec00000-00000000fec00fff (prio 0, i/o): kvm-ioapic owner:{dev path=/machine/i440fx/ioapic}"));
	result_free(&r);
}

TEST(mtree_debug_output_unchanged)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-d", "mtree", "-f"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ(flat_expected, r.out);
	result_free(&r);
}

TEST(mtree_unknown_option)
{
	struct result r;

	ASSERT_EQ(0, RUN(&r, "mtree", "-x"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("memslot: mtree: unknown option: -x\n", r.err);
	result_free(&r);

	ASSERT_EQ(0, RUN(&r, "mtree", "--nope"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: mtree: unknown option: --nope\n", r.err);
	result_free(&r);

	ASSERT_EQ(0, RUN(&r, "mtree", "extra"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("memslot: mtree: unexpected argument: extra\n", r.err);
	result_free(&r);
}

TEST(mtree_write_error)
{
	struct result r;

	if (access("/dev/full", W_OK))
		SKIP(return, "no writable /dev/full");
	ASSERT_EQ(0, run_to(&r, "/dev/full", (const char *const[]){ "mtree", NULL }));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(starts_with(r.err, "memslot: mtree: cannot write output: "));
	EXPECT_EQ(1, count_lines(r.err));
	result_free(&r);
}

/* --- mtree: JSON ------------------------------------------------------- */

TEST(mtree_json_tree)
{
	struct json_object *o, *groups, *g, *names, *root, *mr, *alias, *targets;
	const char *want_targets[] = { "pc.ram", "pc.bios", "pci", "system" };
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-j", "mtree"));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	/* Not indented: one line. */
	EXPECT_EQ(1, count_lines(r.out));
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(2, json_object_object_length(o));

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
	result_free(&r);
}

TEST(mtree_json_tree_disabled)
{
	struct json_object *o, *root, *bmc, *subs;
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-j", "mtree", "-D", "-o"));
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
	result_free(&r);
}

TEST(mtree_json_flat)
{
	struct json_object *o, *views, *v, *ranges, *rg;
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-j", "mtree", "-f"));
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
	result_free(&r);
}

TEST(pretty_indents)
{
	struct json_object *plain, *pretty;
	struct result r1, r2;

	ASSERT_EQ(0, RUN(&r1, "-j", "mtree", "-f", "-o"));
	ASSERT_EQ(0, RUN(&r2, "-p", "mtree", "-f", "-o"));
	EXPECT_EQ(0, r2.status);
	EXPECT_STREQ("", r2.err);
	EXPECT_EQ(1, count_lines(r1.out));
	EXPECT_LT(100, count_lines(r2.out));
	EXPECT_TRUE(starts_with(r2.out, "{\n  \"flat_views\": [\n"));
	plain = parse_one(r1.out);
	pretty = parse_one(r2.out);
	ASSERT_NE(NULL, plain);
	ASSERT_NE(NULL, pretty);
	EXPECT_TRUE(json_object_equal(plain, pretty));
	/* Slashes are not escaped. */
	EXPECT_NE(NULL, strstr(r2.out, "\"obj path=/objects/pc.ram\""));
	json_object_put(plain);
	json_object_put(pretty);
	result_free(&r1);
	result_free(&r2);
}

TEST(json_error)
{
	struct json_object *o;
	struct result r;

	ASSERT_EQ(0, RUN(&r, "-j", "mtree", "-x"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.err);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(1, json_object_object_length(o));
	EXPECT_STREQ("mtree: unknown option: -x", str_key(o, "error"));
	json_object_put(o);
	result_free(&r);

	ASSERT_EQ(0, RUN(&r, "-p", "bogus"));
	EXPECT_EQ(2, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_STREQ("unknown command: bogus", str_key(o, "error"));
	json_object_put(o);
	result_free(&r);

	/* Still exactly one document when the command is missing. */
	ASSERT_EQ(0, RUN(&r, "-j"));
	EXPECT_EQ(2, r.status);
	o = parse_one(r.out);
	ASSERT_NE(NULL, o);
	EXPECT_NE(NULL, str_key(o, "error"));
	json_object_put(o);
	result_free(&r);
}

TEST_HARNESS_MAIN
