// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The examples in examples/ run as their comments say. Every scenario
 * file (*.scn) names its command in a "# $ memslot ..." line: it must
 * exit 0 with every step done, text and -j (each steps[].ok true, no
 * error). Every shell example (*.sh) must exit 0; the libvirt command line
 * must plan both memory devices where QEMU puts them, and note the
 * options that do not affect memory in one line. Run from the repository
 * root with memslot ($MEMSLOT) first on PATH.
 */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"
#include "cli.h"

/* "PATH=<directory of memslot>:$PATH" */
static const char *path_env(void)
{
	static char env[PATH_MAX * 2];
	char tool[PATH_MAX];

	if (!realpath(cli_tool_path(), tool))
		return NULL;
	snprintf(env, sizeof(env), "PATH=%s:%s", dirname(tool), getenv("PATH") ?: "/usr/bin:/bin");
	return env;
}

static int sh(struct cli_result *r, const char *cmd)
{
	const char *const env[] = { path_env(), NULL };
	const struct cli_opts o = { .env = env };

	return cli_exec(r, &o, (const char *const[]){ "/bin/sh", "-ec", cmd, NULL });
}

/* The "# $ " line of @text, copied into @cmd. Return: true if found. */
static bool command_of(const char *text, char *cmd, size_t size)
{
	const char *p = strstr(text, "\n# $ "), *end;

	if (!p)
		return false;
	p += 5;
	end = strchrnul(p, '\n');
	snprintf(cmd, size, "%.*s", (int)(end - p), p);
	return true;
}

TEST(scenarios)
{
	unsigned int ran = 0;
	struct dirent *de;
	DIR *d = opendir("examples");

	ASSERT_NE(NULL, d);
	ASSERT_NE(NULL, path_env());
	while ((de = readdir(d))) {
		char path[300], cmd[4096], jcmd[4200];
		struct json_object *doc, *steps;
		struct cli_result r;
		size_t len = strlen(de->d_name);
		char *text;

		if (len < 5 || strcmp(de->d_name + len - 4, ".scn"))
			continue;
		snprintf(path, sizeof(path), "examples/%s", de->d_name);
		text = slurp(path);
		ASSERT_NE(NULL, text);
		EXPECT_TRUE(command_of(text, cmd, sizeof(cmd))) TH_LOG("%s: no \"# $ \" line", path);
		free(text);
		if (!strstr(cmd, path)) {
			TH_LOG("%s: its command does not name it: %s", path, cmd);
			EXPECT_TRUE(false);
			continue;
		}
		ksft_print_msg("%s: %s\n", path, cmd);

		ASSERT_EQ(0, sh(&r, cmd));
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", path, r.err);
		EXPECT_STREQ("", r.err);
		cli_result_free(&r);

		/* the same with -j: every step done */
		ASSERT_EQ(0, strncmp(cmd, "memslot ", 8));
		snprintf(jcmd, sizeof(jcmd), "memslot -j %s", cmd + 8);
		ASSERT_EQ(0, sh(&r, jcmd));
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", path, r.err);
		doc = json_tokener_parse(r.out);
		ASSERT_NE(NULL, doc) TH_LOG("%s: %.300s", path, r.out);
		steps = jget(doc, "steps");
		EXPECT_LT(0, jget_len(steps)) TH_LOG("%s", path);
		for (size_t k = 0; k < jget_len(steps); k++) {
			size_t step = k;

			EXPECT_TRUE(jget_bool(jget_idx(steps, step), "ok"))
				TH_LOG("%s: step %zu", path, step);
		}
		EXPECT_EQ(NULL, jget(doc, "error")) TH_LOG("%s", path);
		json_object_put(doc);
		cli_result_free(&r);
		ran++;
	}
	closedir(d);
	EXPECT_LE(2, ran);
}

TEST(libvirt_command_line)
{
	struct cli_result r;

	ASSERT_NE(NULL, path_env());
	ASSERT_EQ(0, sh(&r, "sh examples/libvirt-q35.sh"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* one note, naming options that do not affect memory, nothing else */
	EXPECT_EQ(0, strncmp(r.err, "memslot: plan: note: not affecting memory, ignored: -name -S ",
			     61)) TH_LOG("%s", r.err);
	EXPECT_EQ(strlen(r.err) - 1, (size_t)(strchr(r.err, '\n') - r.err)) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, " -device pcie-root-port ")) TH_LOG("%s", r.err);
	/* the machine as given, both NUMA nodes as RAM, the devices placed */
	EXPECT_EQ(0, strncmp(r.out, "machine: pc-q35-7.2, guest vm1, accel kvm", 41)) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "ram: 0x100000000 (below 4G 0x80000000, above 4G 0x80000000 "
				      "at 0x100000000)")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "Memory device [dimm]: \"dimm0\"\n  addr: 0x180000000\n"))
		TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "Memory device [virtio-mem]: \"virtiomem0\"\n"
				      "  memaddr: 0x1c0000000\n")) TH_LOG("%s", r.out);
	/* node backends split by the PCI hole: each its own section */
	EXPECT_NE(NULL, strstr(r.out, "): ram-node0 KVM\n")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "): ram-node1 KVM\n")) TH_LOG("%s", r.out);
	cli_result_free(&r);
}

TEST_HARNESS_MAIN
