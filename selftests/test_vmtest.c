// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel-in-the-loop runner, selftests/vmtest.sh as installed into the
 * build (memslot-vmtest beside $MEMSLOT): it boots a real guest kernel,
 * runs one command there and gives back that command's stdout, stderr and
 * exit status, unmixed and complete, also into a regular file (the tests
 * read memfds); it refuses bad input with its own status 2 or 125.
 *
 * The guests boot the default Debian kernel (make fetched it on a host
 * without /dev/kvm; the runner fetches it otherwise), and once more as a
 * developer's own bzImage with its modules directory.
 */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */
#include "cli.h"

#include "harness.h"

static const char *runner(void)
{
	static char path[PATH_MAX];
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", cli_tool_path());
	snprintf(path, sizeof(path), "%s/memslot-vmtest", dirname(buf));
	return path;
}

#define RUN(st, err, ...) \
	run_tool((const char *const[]){ runner(), __VA_ARGS__, NULL }, st, err)

static int count_of(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Every test boots a guest or may fetch a kernel: minutes, not seconds. */
FIXTURE(vmtest) {};
FIXTURE_SETUP(vmtest) {}
FIXTURE_TEARDOWN(vmtest) {}

TEST_F_TIMEOUT(vmtest, streams_status_cwd_and_environment, 300)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64], *out, *err = NULL;
	int st;

	ASSERT_NE(NULL, getcwd(cwd, sizeof(cwd)));
	setenv("MEMSLOT_VMTEST_PROBE", "a b'c", 1);
	out = RUN(&st, &err, "-q", "--",
		  "sh", "-c", "echo out1; echo err1 >&2; pwd; echo \"$MEMSLOT_VMTEST_PROBE\";"
		  " test -c /dev/kvm && echo kvm; echo \"$MEMSLOT_VMTEST\"; exit 7");
	unsetenv("MEMSLOT_VMTEST_PROBE");
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, err);
	EXPECT_EQ(7, st) TH_LOG("stderr: %s", err);
	snprintf(want, sizeof(want), "out1\n%s\na b'c\nkvm\ndebian-6.12\n", cwd);
	EXPECT_STREQ(want, out);
	/* -q: nothing of the runner's own, the command's line once */
	EXPECT_STREQ("err1\n", err);
	free(out);
	free(err);
}

TEST_F_TIMEOUT(vmtest, one_line_names_kernel_and_acceleration, 300)
{
	char *out, *err = NULL;
	int st;

	out = RUN(&st, &err, "-k", "debian-6.12", "--", "true");
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, err);
	EXPECT_EQ(0, st) TH_LOG("stderr: %s", err);
	EXPECT_STREQ("", out);
	EXPECT_EQ(1, count_of(err, "\n"));
	EXPECT_EQ(err, strstr(err, "vmtest: kernel debian-6.12 (6.12.")) TH_LOG("%s", err);
	EXPECT_TRUE(strstr(err, ", accel tcg (") || strstr(err, ", accel kvm (")) TH_LOG("%s", err);
	free(out);
	free(err);
}

/* A bzImage and its modules directory, as a kernel developer passes them. */
TEST_F_TIMEOUT(vmtest, own_bzimage_with_modules, 600)
{
	char cache[PATH_MAX], image[PATH_MAX] = "", modroot[PATH_MAX] = "", *out, *err = NULL;
	struct dirent *de;
	DIR *d;
	int st;

	/* the default kernel, fetched if make has not: its unpacked package */
	out = RUN(&st, &err, "--fetch");
	ASSERT_EQ(0, st) TH_LOG("--fetch: %s", err);
	free(out);
	free(err);
	snprintf(cache, sizeof(cache), "%s", runner());
	snprintf(cache + strlen(cache) - strlen("memslot-vmtest"),
		 sizeof(cache) - strlen(cache), "vmtest/debian-6.12");
	/* a SAN build's runner lives in build/san and shares build/vmtest */
	if (access(cache, F_OK))
		snprintf(cache + strlen(cache) - strlen("san/vmtest/debian-6.12"),
			 sizeof(cache), "vmtest/debian-6.12");
	d = opendir(cache);
	ASSERT_NE(NULL, d) TH_LOG("%s", cache);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !strstr(de->d_name, ".tmp"))
			snprintf(modroot, sizeof(modroot), "%s/%s/root", cache, de->d_name);
	closedir(d);
	ASSERT_NE(0, modroot[0]);
	d = opendir(strcat(strcpy(image, modroot), "/boot"));
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "vmlinuz-", 8))
			snprintf(image, sizeof(image), "%s/boot/%s", modroot, de->d_name);
	closedir(d);

	err = NULL;
	out = RUN(&st, &err, "-k", image, "--modules", modroot, "--",
		  "sh", "-c", "uname -r; test -c /dev/kvm && echo kvm; echo \"$MEMSLOT_VMTEST\"");
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st) TH_LOG("stderr: %s", err);
	EXPECT_NE(NULL, strstr(out, "\nkvm\n")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(err, "vmtest: kernel /")) TH_LOG("%s", err);
	free(out);
	free(err);
}

TEST(bad_input)
{
	static const struct {
		const char *args[4];
		int status;
		const char *err;
	} cases[] = {
		{ { "-k", "/nonexistent/bzImage", "true" }, 125,
		  "vmtest: kernel: no such file: /nonexistent/bzImage\n" },
		{ { "-k", "debian-x", "true" }, 125,
		  "vmtest: kernel: not debian-X.Y or a bzImage path: debian-x\n" },
		{ { "--accel", "hvf", "true" }, 2, "vmtest: --accel: kvm or tcg, not: hvf\n" },
		{ { "--timeout", "0", "true" }, 2,
		  "vmtest: --timeout: not a number of seconds: 0\n" },
		{ { "--bogus", "true" }, 2, "vmtest: unknown option: --bogus\n" },
		{ { "-q" }, 2, "vmtest: no command given (try --help)\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[8] = { runner() };
		char *out, *err = NULL;
		int st, n = 1;

		for (int j = 0; j < 4 && cases[i].args[j]; j++)
			argv[n++] = cases[i].args[j];
		out = run_tool(argv, &st, &err);
		ASSERT_NE(NULL, out);
		EXPECT_EQ(cases[i].status, st) TH_LOG("case %zu", i);
		EXPECT_STREQ(cases[i].err, err);
		EXPECT_STREQ("", out);
		free(out);
		free(err);
	}
}

/*
 * --kvm-usable, the test behind the default -accel and the Makefile's
 * KVM_USABLE, is the one `memslot run` makes before it falls back: the
 * same verdict in the same words.
 */
TEST(kvm_usable_agrees_with_run)
{
	const char *why = kvm_no_vm();
	char want[192], *out, *err = NULL;
	int st;

	out = RUN(&st, &err, "--kvm-usable");
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, err);
	TH_LOG("%s", why ?: "/dev/kvm is usable");
	EXPECT_EQ(why ? 1 : 0, st);
	snprintf(want, sizeof(want), "%s%s%s", why ? "vmtest: " : "", why ?: "", why ? "\n" : "");
	EXPECT_STREQ(want, err);
	EXPECT_STREQ("", out);
	free(out);
	free(err);
}

TEST(missing_qemu)
{
	char *out, *err = NULL;
	int st;

	setenv("QEMU", "/nonexistent/qemu-system-x86_64", 1);
	out = RUN(&st, &err, "-q", "--", "true");
	unsetenv("QEMU");
	ASSERT_NE(NULL, out);
	EXPECT_EQ(125, st);
	EXPECT_STREQ("vmtest: /nonexistent/qemu-system-x86_64 not found: install the Debian "
		     "package qemu-system-x86\n", err);
	free(out);
	free(err);
}

TEST_HARNESS_MAIN
