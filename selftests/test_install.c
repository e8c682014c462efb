// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * make install and make uninstall into a DESTDIR: the installed tree has
 * the libraries, headers, pkg-config file, man pages and scripts;
 * examples/list-ranges.c builds against it with pkg-config and its
 * examples/Makefile, runs on the installed shared library and prints what
 * libmemslot(3) shows; uninstall leaves nothing behind. Run from the
 * repository root after the build (make check builds what install
 * copies); MEMSLOT_MAKE_ARGS are the O= and SAN= of that build and
 * MEMSLOT_SANFLAGS the sanitizer flags the example then needs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define PREFIX "/usr/local"
/* a sub-make must not take this make's command line or jobserver */
#define MAKE "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s"

/* Run @cmd with sh, stdout and stderr into *@out (may be NULL). Return: its exit status. */
static int __attribute__((format(printf, 2, 3))) sh(char **out, const char *fmt, ...)
{
	char *cmd, *buf = NULL;
	size_t len = 0;
	FILE *p, *mem;
	va_list ap;
	int c, rc;

	va_start(ap, fmt);
	rc = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return -1;
	mem = open_memstream(&buf, &len);
	while ((c = fgetc(p)) != EOF)
		fputc(c, mem);
	fclose(mem);
	rc = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v ? v : def;
}

/* Is every line of @text in @page, indented by four spaces (an rst literal block)? */
static int missing_lines(struct __test_metadata *_metadata, const char *text, const char *page)
{
	char *copy = strdup(text), *save = NULL, *line;
	int missing = 0;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[512];

		snprintf(want, sizeof(want), "\n    %s\n", line);
		if (!strstr(page, want)) {
			TH_LOG("libmemslot.3.rst lacks: %s", line);
			missing++;
		}
	}
	free(copy);
	return missing;
}

TEST(example_is_in_man_page)
{
	char *code = slurp("examples/list-ranges.c"), *page = slurp("man/libmemslot.3.rst");

	ASSERT_NE(NULL, code);
	ASSERT_NE(NULL, page);
	EXPECT_EQ(0, missing_lines(_metadata, code, page));
	free(code);
	free(page);
}

TEST(install_build_uninstall)
{
	static const char *const files[] = {
		"sbin/memslot", "libexec/memslot/memslot-vmtest", "lib/libmemslot.a",
		"lib/libmemslot.so.0", "lib/libmemslot.so", "lib/pkgconfig/libmemslot.pc",
		"include/memslot/memslot.h", "include/memslot/region.h",
		"share/man/man3/libmemslot.3", "share/man/man8/memslot.8",
		"share/man/man8/memslot-mtree.8", "share/memslot/qmp-mtree.py",
		"share/memslot/trace-hotplug.py", "share/bash-completion/completions/memslot",
	};
	const char *args = env_or("MEMSLOT_MAKE_ARGS", ""), *san = env_or("MEMSLOT_SANFLAGS", "");
	char tmp[] = "/tmp/memslot-install.XXXXXX", root[64], path[256], link[64];
	char *out = NULL, *page;
	ssize_t n;

	ASSERT_NE(NULL, mkdtemp(tmp));
	snprintf(root, sizeof(root), "%s/root", tmp);
	ASSERT_EQ(0, mkdir(root, 0755));

	EXPECT_EQ(0, sh(&out, MAKE " install %s PREFIX=" PREFIX " DESTDIR=%s 2>&1", args, root))
		TH_LOG("make install:\n%s", out);
	free(out);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s" PREFIX "/%s", root, files[i]);
		EXPECT_EQ(0, access(path, R_OK)) TH_LOG("not installed: %s", path);
	}
	snprintf(path, sizeof(path), "%s" PREFIX "/lib/libmemslot.so", root);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n) TH_LOG("%s is not a symbolic link", path);
	link[n] = 0;
	EXPECT_STREQ("libmemslot.so.0", link);

	/* pkg-config finds the DESTDIR copy; the sysroot puts -I and -L into it */
	snprintf(path, sizeof(path), "PKG_CONFIG_PATH=%s" PREFIX "/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=%s",
		 root, root);
	EXPECT_EQ(0, sh(&out, "%s pkg-config --modversion libmemslot 2>&1", path));
	EXPECT_STREQ(MS_VERSION "\n", out);
	free(out);
	EXPECT_EQ(0, sh(&out, "%s " MAKE " -C examples O=%s CFLAGS='-O2 -Wall -Wextra -Werror %s' 2>&1",
			path, tmp, san)) TH_LOG("examples build:\n%s", out);
	free(out);

	/* it runs on the installed shared library and prints the man page's output */
	EXPECT_EQ(0, sh(&out, "LD_LIBRARY_PATH=%s" PREFIX "/lib %s/list-ranges 2>&1", root, tmp));
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "\nlistener: 3 added, 0 deleted\n")) TH_LOG("%s", out);
	page = slurp("man/libmemslot.3.rst");
	ASSERT_NE(NULL, page);
	EXPECT_EQ(0, missing_lines(_metadata, out, page)) TH_LOG("list-ranges printed:\n%s", out);
	free(page);
	free(out);
	EXPECT_EQ(0, sh(&out, "LD_LIBRARY_PATH=%s" PREFIX "/lib ldd %s/list-ranges", root, tmp));
	EXPECT_NE(NULL, strstr(out, root)) TH_LOG("not linked to the installed library:\n%s", out);
	free(out);

	EXPECT_EQ(0, sh(&out, MAKE " uninstall %s PREFIX=" PREFIX " DESTDIR=%s 2>&1", args, root))
		TH_LOG("make uninstall:\n%s", out);
	free(out);
	EXPECT_EQ(0, sh(&out, "find %s -mindepth 1", root));
	EXPECT_STREQ("", out) TH_LOG("left after uninstall:\n%s", out);
	free(out);
	sh(NULL, "rm -rf %s", tmp);
}

TEST_HARNESS_MAIN
