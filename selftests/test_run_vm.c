// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `memslot run` in a guest kernel (man memslot-run, HOSTS WITHOUT
 * /dev/kvm): without a usable /dev/kvm, or with --kernel, run says so in
 * one line and execs the runner, memslot-vmtest, with the same command
 * line plus --no-vm; the runner's output and exit status are run's.
 *
 * No guest is booted here: $MEMSLOT_VMTEST_RUNNER (or a memslot-vmtest
 * beside a copy of the tool) is a script that prints its arguments one a
 * line and exits 7. On a host whose /dev/kvm works, the tests that need
 * the fallback without --kernel use --kernel instead; only the refusal of
 * --no-vm needs a host without KVM.
 *
 * The tool is $MEMSLOT (default build/memslot).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */
#include "cli.h"

#include "harness.h"

#define RUNNER_ENV	"MEMSLOT_VMTEST_RUNNER"
#define FAKE_STATUS	7

/*
 * Run @tool with @args (NULL-terminated, without argv[0]), the runner
 * variable set to @runner (unset if NULL). Return 0 or -errno.
 */
static int run_with(struct cli_result *r, const char *tool, const char *runner,
		    const char *const *args)
{
	char var[PATH_MAX + 32] = RUNNER_ENV;
	const char *argv[32] = { tool }, *env[] = { var, NULL };
	size_t n = 1;

	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (runner)
		snprintf(var, sizeof(var), "%s=%s", RUNNER_ENV, runner);
	return cli_exec(r, &(struct cli_opts){ .env = env }, argv);
}

#define RUN_WITH(r, tool, runner, ...) \
	run_with(r, tool, runner, (const char *const[]){ __VA_ARGS__, NULL })

/* @lines joined with "\n", each ending with one. */
static char *joined(const char *const *lines)
{
	size_t len = 1;
	char *s;

	for (const char *const *l = lines; *l; l++)
		len += strlen(*l) + 1;
	s = calloc(1, len);
	for (const char *const *l = lines; s && *l; l++) {
		strcat(s, *l);
		strcat(s, "\n");
	}
	return s;
}

#define EXPECT_ARGV(out, ...) do {						\
		char *__want = joined((const char *const[]){ __VA_ARGS__, NULL });	\
		ASSERT_NE(NULL, __want);					\
		EXPECT_STREQ(__want, out);					\
		free(__want);							\
	} while (0)

FIXTURE(runner) {
	char dir[64];		/* a temporary directory */
	char script[128];	/* the fake runner in it */
	char tool[PATH_MAX];	/* realpath of $MEMSLOT, what run passes on */
	const char *no_kvm;	/* why the host falls back without --kernel */
};

static void write_script(struct __test_metadata *_metadata, const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT_NE(NULL, f);
	fputs(text, f);
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, chmod(path, 0755));
}

FIXTURE_SETUP(runner)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/memslot-run-vm.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->script, sizeof(self->script), "%s/fake-runner", self->dir);
	write_script(_metadata, self->script,
		     "#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done\nexit 7\n");
	ASSERT_NE(NULL, realpath(cli_tool_path(), self->tool));
	self->no_kvm = kvm_no_vm();
	TH_LOG("%s", self->no_kvm ?: "/dev/kvm is usable");
}

FIXTURE_TEARDOWN(runner)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/*
 * Without /dev/kvm: one line, debian-6.12, the same argv plus --no-vm, and
 * --accel tcg for the runner, which is told what failed here rather than
 * left to probe /dev/kvm again; status 7.
 */
TEST_F(runner, fallback_default_kernel)
{
	char line[256];
	struct cli_result r;

	if (self->no_kvm) {
		ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "run", "-M", "q35", "--full"));
		snprintf(line, sizeof(line), "memslot: run: %s: running in guest kernel "
			 "debian-6.12 (memslot-vmtest)\n", self->no_kvm);
		EXPECT_ARGV(r.out, "-q", "--accel", "tcg", "-k", "debian-6.12", "--", self->tool,
			    "run", "-M", "q35", "--full", "--no-vm");
	} else {
		/* a usable /dev/kvm: only --kernel goes into a guest, the runner picks kvm */
		ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "run", "-M", "q35", "--full",
				      "--kernel", "debian-6.12"));
		snprintf(line, sizeof(line), "memslot: run: running in guest kernel debian-6.12 "
			 "(memslot-vmtest)\n");
		EXPECT_ARGV(r.out, "-q", "-k", "debian-6.12", "--", self->tool, "run", "-M", "q35",
			    "--full", "--no-vm");
	}
	EXPECT_EQ(FAKE_STATUS, r.status);
	EXPECT_STREQ(line, r.err);
	cli_result_free(&r);
}

/* --kernel and --modules go to the runner, not to the run inside; global options do. */
TEST_F(runner, kernel_option)
{
	char kernel[192], modules[192], kopt[256];
	struct cli_result r;

	ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "-p", "-d", "run", "--kernel",
			      "debian-6.1", "--cpu", "1", "--dirty-log"));
	EXPECT_EQ(FAKE_STATUS, r.status);
	EXPECT_STREQ("memslot: run: running in guest kernel debian-6.1 (memslot-vmtest)\n",
		     r.err);
	EXPECT_ARGV(r.out, "-q", "-k", "debian-6.1", "--", self->tool, "-p", "-d", "run", "--cpu",
		    "1", "--dirty-log", "--no-vm");
	cli_result_free(&r);

	/* a bzImage path with its modules, the --name=value forms, -j */
	snprintf(kernel, sizeof(kernel), "%s/bzImage", self->dir);
	snprintf(modules, sizeof(modules), "--modules=%s", self->dir);
	write_script(_metadata, kernel, "");
	snprintf(kopt, sizeof(kopt), "--kernel=%s", kernel);
	ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "-j", "run", modules, "-m", "1G", kopt,
			      "--full"));
	EXPECT_EQ(FAKE_STATUS, r.status);
	EXPECT_ARGV(r.out, "-q", "-k", kernel, "--modules", self->dir, "--", self->tool, "-j",
		    "run", "-m", "1G", "--full", "--no-vm");
	cli_result_free(&r);
}

/* The runner's status passes through, whatever it is. */
TEST_F(runner, status_passes_through)
{
	char path[128];
	struct cli_result r;

	snprintf(path, sizeof(path), "%s/exit-125", self->dir);
	write_script(_metadata, path, "#!/bin/sh\necho 'vmtest: cannot start' >&2\nexit 125\n");
	ASSERT_EQ(0, RUN_WITH(&r, self->tool, path, "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(125, r.status);
	EXPECT_STREQ("memslot: run: running in guest kernel debian-6.1 (memslot-vmtest)\n"
		     "vmtest: cannot start\n", r.err);
	EXPECT_STREQ("", r.out);
	cli_result_free(&r);
}

/* Lookup: memslot-vmtest beside the executable, unless the variable names one. */
TEST_F(runner, beside_the_executable)
{
	char tool[128], beside[128], cmd[PATH_MAX + 256], want[192];
	struct cli_result r;

	snprintf(tool, sizeof(tool), "%s/memslot", self->dir);
	snprintf(beside, sizeof(beside), "%s/memslot-vmtest", self->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", self->tool, tool);
	ASSERT_EQ(0, system(cmd));
	write_script(_metadata, beside, "#!/bin/sh\necho beside \"$5\"\nexit 3\n");

	ASSERT_EQ(0, RUN_WITH(&r, tool, NULL, "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(3, r.status);
	snprintf(want, sizeof(want), "beside %s\n", tool);
	EXPECT_STREQ(want, r.out);
	cli_result_free(&r);

	/* the variable comes first; an empty one is not set */
	ASSERT_EQ(0, RUN_WITH(&r, tool, self->script, "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(FAKE_STATUS, r.status);
	cli_result_free(&r);
	ASSERT_EQ(0, RUN_WITH(&r, tool, "", "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(3, r.status);
	cli_result_free(&r);
}

/* No runner: one line naming where it looked, exit 1, nothing exec'd. */
TEST_F(runner, runner_not_found)
{
	char tool[128], cmd[PATH_MAX + 256], want[PATH_MAX + 512];
	struct cli_result r;

	/* the runner variable names nothing */
	snprintf(cmd, sizeof(cmd), "%s/none", self->dir);
	ASSERT_EQ(0, RUN_WITH(&r, self->tool, cmd, "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: run: --kernel debian-6.1: " RUNNER_ENV "=%s: "
		 "No such file or directory\n", cmd);
	EXPECT_STREQ(want, r.err);
	EXPECT_STREQ("", r.out);
	cli_result_free(&r);

	/* neither beside the executable nor installed */
	if (!access("/usr/local/libexec/memslot/memslot-vmtest", F_OK))
		SKIP(return, "a runner is installed in /usr/local/libexec/memslot");
	snprintf(tool, sizeof(tool), "%s/memslot", self->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", self->tool, tool);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, RUN_WITH(&r, tool, NULL, "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want), "memslot: run: --kernel debian-6.1: cannot run in a guest "
		 "kernel: no memslot-vmtest in %s or /usr/local/libexec/memslot\n", self->dir);
	EXPECT_STREQ(want, r.err);
	EXPECT_STREQ("", r.out);
	cli_result_free(&r);

	/* in JSON mode the error is the document */
	ASSERT_EQ(0, RUN_WITH(&r, tool, NULL, "-j", "run", "--kernel", "debian-6.1"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.err);
	EXPECT_EQ(0, strncmp(r.out, "{\"version\":1,\"error\":\"run: --kernel debian-6.1: cannot run in a guest "
			     "kernel: ", 64));
	cli_result_free(&r);
}

/* --no-vm: the error of old plus a hint, and the runner never runs. */
TEST_F(runner, no_vm_refuses)
{
	const char *want;
	struct cli_result r;

	if (!self->no_kvm)
		SKIP(return, "/dev/kvm is usable: --no-vm has nothing to refuse");
	ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "run", "--no-vm"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_EQ(0, strncmp(r.err, "memslot: run: cannot create a KVM VM: ", 38)) TH_LOG("%s", r.err);
	want = " (--no-vm: not running in a guest kernel, see --kernel)\n";
	EXPECT_NE(NULL, strstr(r.err, want));
	/* one line */
	EXPECT_EQ(strlen(r.err) - 1, (size_t)(strchr(r.err, '\n') - r.err));
	cli_result_free(&r);
}

TEST_F(runner, usage_errors)
{
	static const struct {
		const char *args[8];
		const char *line;
	} c[] = {
		{ { "run", "--kernel", "debian-6.1", "--no-vm" },
		  "memslot: run: --kernel debian-6.1: not with --no-vm\n" },
		{ { "run", "--no-vm", "--kernel=/boot/vmlinuz" },
		  "memslot: run: --kernel /boot/vmlinuz: not with --no-vm\n" },
		{ { "run", "--modules", "/lib/modules" },
		  "memslot: run: --modules /lib/modules: only with --kernel PATH\n" },
		{ { "run", "--kernel", "debian-6.12", "--modules", "/lib/modules" },
		  "memslot: run: --modules /lib/modules: only with --kernel PATH, not debian-6.12\n" },
		{ { "run", "--kernel" },
		  "memslot: run: missing argument of option: --kernel\n" },
		{ { "run", "--kernel=" },
		  "memslot: run: --kernel: empty argument\n" },
		{ { "run", "--no-vm=yes" },
		  "memslot: run: option takes no argument: --no-vm=yes\n" },
		{ { "plan", "--kernel", "debian-6.1" },
		  "memslot: plan: unknown option: --kernel\n" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cli_result r;

		ASSERT_EQ(0, run_with(&r, self->tool, self->script, c[i].args));
		EXPECT_EQ(2, r.status) TH_LOG("case %zu", i);
		EXPECT_STREQ(c[i].line, r.err) TH_LOG("case %zu", i);
		EXPECT_STREQ("", r.out) TH_LOG("case %zu", i);
		cli_result_free(&r);
	}
}

/* A --kernel PATH that is not there fails on the host, before the runner. */
TEST_F(runner, kernel_path_missing)
{
	struct cli_result r;

	ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "run", "--kernel",
			      "/nonexistent/bzImage"));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("memslot: run: --kernel /nonexistent/bzImage: No such file or directory\n",
		     r.err);
	EXPECT_STREQ("", r.out);
	cli_result_free(&r);
}

/* --help documents the options and runs nothing. */
TEST_F(runner, help)
{
	struct cli_result r;

	ASSERT_EQ(0, RUN_WITH(&r, self->tool, self->script, "run", "--help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "--kernel debian-6.1|debian-6.12|PATH"));
	EXPECT_NE(NULL, strstr(r.out, "--modules DIR"));
	EXPECT_NE(NULL, strstr(r.out, "--no-vm"));
	EXPECT_STREQ("", r.err);
	cli_result_free(&r);
}

TEST_HARNESS_MAIN
