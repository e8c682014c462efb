// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The man pages follow the command table: every command `memslot help`
 * lists has man/memslot-<cmd>.8.rst and is named in man/memslot.8.rst,
 * and every long option of `memslot <cmd> --help` is documented on its page
 * and every long option the page documents is accepted by --help's usage.
 * Run from the repository root; the tool is $MEMSLOT.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"

static char *run(const char *args)
{
	const char *tool = getenv("MEMSLOT");
	char cmd[1024], *buf = NULL;
	size_t len = 0;
	FILE *p, *out;
	int c;

	snprintf(cmd, sizeof(cmd), "%s %s </dev/null 2>&1", tool ? tool : "build/memslot", args);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	out = open_memstream(&buf, &len);
	while ((c = fgetc(p)) != EOF)
		fputc(c, out);
	fclose(out);
	pclose(p);
	return buf;
}

static char *read_page(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "man/%s.8.rst", name);
	return slurp(path);
}

/* Does @text hold the long option @opt as a whole word? */
static bool has_option(const char *text, const char *opt, size_t len)
{
	for (const char *p = text; (p = strstr(p, "--")); p += 2) {
		if (strncmp(p, opt, len))
			continue;
		if (!isalnum((unsigned char)p[len]) && p[len] != '-')
			return true;
	}
	return false;
}

/* Check that every "--word" of @from appears in @in. */
static int missing_options(struct __test_metadata *_metadata, const char *from,
			   const char *in, const char *what)
{
	int missing = 0;

	for (const char *p = from; (p = strstr(p, "--")); ) {
		size_t len = 2;

		while (isalnum((unsigned char)p[len]) || p[len] == '-')
			len++;
		if (isalpha((unsigned char)p[2]) && (p == from || !isalnum((unsigned char)p[-1])) &&
		    !has_option(in, p, len)) {
			TH_LOG("%.*s is not in %s", (int)len, p, what);
			missing++;
		}
		p += len;
	}
	return missing;
}

TEST(commands_have_pages)
{
	char *help = run("help"), *main_page = read_page("memslot");
	char *save = NULL, *line;
	int n = 0;

	ASSERT_NE(NULL, help);
	ASSERT_NE(NULL, main_page) TH_LOG("man/memslot.8.rst missing");
	for (line = strtok_r(help, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], page[80], bold[80];
		char *usage, *text;

		if (sscanf(line, "%63s", name) != 1 || !strcmp(name, "help"))
			continue;
		n++;
		snprintf(page, sizeof(page), "memslot-%s", name);
		snprintf(bold, sizeof(bold), "**%s**", name);
		EXPECT_NE(NULL, strstr(main_page, bold)) TH_LOG("memslot.8 does not name %s", name);
		text = read_page(page);
		EXPECT_NE(NULL, text) TH_LOG("man/%s.8.rst missing", page);
		if (!text)
			continue;
		snprintf(bold, sizeof(bold), "%s --help", name);
		usage = run(bold);
		ASSERT_NE(NULL, usage);
		EXPECT_EQ(0, missing_options(_metadata, usage, text, page));
		EXPECT_EQ(0, missing_options(_metadata, text, usage, "--help"));
		free(usage);
		free(text);
	}
	EXPECT_LT(0, n) TH_LOG("memslot help listed no command");
	free(main_page);
	free(help);
}

TEST(global_options_documented)
{
	char *usage = run("--help"), *common = slurp("man/common_options.rst");

	ASSERT_NE(NULL, usage);
	ASSERT_NE(NULL, common);
	EXPECT_EQ(0, missing_options(_metadata, usage, common, "common_options.rst"));
	free(usage);
	free(common);
}

TEST_HARNESS_MAIN
