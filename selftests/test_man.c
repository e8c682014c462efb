// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The man pages follow the command table: every command `memslot help`
 * lists has man/memslot-<cmd>.8.rst and is named in man/memslot.8.rst,
 * and every long option of `memslot <cmd> --help` is documented on its page
 * and every long option the page documents is accepted by --help's usage.
 * Every example of a page's EXAMPLES section runs as written and exits 0.
 * Run from the repository root; the tool is $MEMSLOT.
 *
 * Examples are the paragraphs "**$ COMMAND**" or "**# COMMAND**" (root's
 * prompt) of EXAMPLES. They run with sh -c, in order, in one temporary
 * directory per page, with `memslot` on $PATH being $MEMSLOT. Comment
 * lines of the page's source say more:
 *   .. example-file: NAME SAMPLE   NAME is a copy of SAMPLE of the QEMU
 *                                  samples (samples_dir())
 *   .. example-file: NAME -        NAME holds the page's next literal block
 *   .. example-needs: REASON       the next example cannot run here (KVM,
 *                                  root, a running QEMU): skipped, REASON
 *                                  printed as a TAP comment
 */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The literal block after @p: its lines without their indentation, "" if none. */
static char *literal_block(const char *p)
{
	const char *q = strstr(p, "::\n"), *line, *end;
	char *buf = NULL;
	size_t len = 0, indent = 0;
	FILE *out;

	if (!q)
		return strdup("");
	out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	for (line = q + 3; *line; line = end + 1) {
		size_t n;

		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		n = (size_t)(end - line);
		if (n && line[0] != ' ' && line[0] != '\t')
			break;
		if (n && !indent)
			indent = strspn(line, " \t");
		if (n > indent)
			fprintf(out, "%.*s", (int)(n - indent), line + indent);
		if (len || n)
			fputc('\n', out);
		if (!*end)
			break;
	}
	fclose(out);
	/* the blank lines that close the block */
	while (len > 1 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
		buf[--len] = '\0';
	return buf;
}

/* An example's text between "**$ " or "**# " and "**", rst escapes removed. */
static void example_text(const char *p, char *cmd, size_t size)
{
	size_t n = 0;

	for (p += 4; *p && strncmp(p, "**", 2) && n + 1 < size; p++) {
		if (*p == '\\' && p[1] == ' ') {
			p++;
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		cmd[n++] = *p;
	}
	cmd[n] = '\0';
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int copy_sample(const char *dir, const char *name, const char *sample)
{
	char src[PATH_MAX], dst[PATH_MAX];
	char *text;
	int ret;

	snprintf(src, sizeof(src), "%s/%s", samples_dir(), sample);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	text = slurp(src);
	if (!text)
		return -1;
	ret = write_text(dst, text);
	free(text);
	return ret;
}

/* Run the examples of one page; returns the number that failed. */
static int run_examples(struct __test_metadata *_metadata, const char *page, const char *text,
			int *ran)
{
	const char *ex = strstr(text, "\nEXAMPLES\n"), *end, *p;
	char dir[] = "/tmp/test_man.XXXXXX", bin[64], cmd[4096], shell[8192];
	char need[256] = "";
	const char *tool = getenv("MEMSLOT");
	char toolpath[PATH_MAX];
	int failed = 0;

	if (!ex) {
		TH_LOG("%s: no EXAMPLES section", page);
		return 1;
	}
	end = strstr(ex + 10, "\n=====");
	/* back to the start of the next section's title line */
	if (end)
		while (end > ex && end[-1] != '\n')
			end--;
	if (!end)
		end = ex + strlen(ex);
	if (!mkdtemp(dir))
		return 1;
	snprintf(bin, sizeof(bin), "%s/bin", dir);
	if (mkdir(bin, 0755) || !realpath(tool && *tool ? tool : "build/memslot", toolpath)) {
		TH_LOG("%s: cannot set up %s", page, bin);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "%s/memslot", bin);
	if (symlink(toolpath, cmd))
		return 1;

	/* the files, wherever they are declared on the page */
	for (p = text; (p = strstr(p, "\n.. example-file: ")); ) {
		char name[128] = "", sample[256] = "", path[PATH_MAX];

		p += strlen("\n.. example-file: ");
		if (sscanf(p, "%127s %255s", name, sample) != 2 || strchr(name, '/')) {
			TH_LOG("%s: bad example-file line", page);
			failed++;
			continue;
		}
		if (!strcmp(sample, "-")) {
			char *block = literal_block(p);

			snprintf(path, sizeof(path), "%s/%s", dir, name);
			if (!block || write_text(path, block)) {
				TH_LOG("%s: cannot write %s", page, name);
				failed++;
			}
			free(block);
		} else if (copy_sample(dir, name, sample)) {
			TH_LOG("%s: %s: cannot copy sample %s", page, name, sample);
			failed++;
		}
	}

	for (p = ex; p < end; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, ".. example-needs: ", 18)) {
			snprintf(need, sizeof(need), "%.*s", (int)strcspn(p + 18, "\n"), p + 18);
			continue;
		}
		if (strncmp(p, "**$ ", 4) && strncmp(p, "**# ", 4)) {
			if (!strchr(p, '\n'))
				break;
			continue;
		}
		example_text(p, cmd, sizeof(cmd));
		if (need[0]) {
			printf("# %s: skipped (needs %s): %s\n", page, need, cmd);
			need[0] = '\0';
			continue;
		}
		EXPECT_EQ(0, strncmp(cmd, "memslot ", 8) && !strstr(cmd, " memslot ") &&
			     !strstr(cmd, "|memslot "))
			TH_LOG("%s: an example that does not run memslot: %s", page, cmd);
		snprintf(shell, sizeof(shell), "cd '%s' && PATH='%s':\"$PATH\" sh -ec '%s' "
			 "</dev/null >out.txt 2>err.txt", dir, bin, cmd);
		if (strchr(cmd, '\'')) {
			TH_LOG("%s: a quote in an example: %s", page, cmd);
			failed++;
			continue;
		}
		(*ran)++;
		if (system(shell)) {
			char path[PATH_MAX], *err;

			snprintf(path, sizeof(path), "%s/err.txt", dir);
			err = slurp(path);
			TH_LOG("%s: example failed: %s\n%s", page, cmd, err ? err : "");
			free(err);
			failed++;
		} else {
			printf("# %s: ok: %s\n", page, cmd);
		}
		if (!strchr(p, '\n'))
			break;
	}
	snprintf(shell, sizeof(shell), "rm -rf '%s'", dir);
	if (system(shell))
		TH_LOG("cannot remove %s", dir);
	return failed;
}

TEST(examples_run)
{
	struct dirent *de;
	DIR *d = opendir("man");
	int ran = 0, pages = 0;

	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		char path[300], *text;

		/* the command pages; libmemslot.3's example is C (test_install) */
		if (strncmp(de->d_name, "memslot", 7) || !strstr(de->d_name, ".8.rst"))
			continue;
		snprintf(path, sizeof(path), "man/%s", de->d_name);
		text = slurp(path);
		ASSERT_NE(NULL, text);
		pages++;
		EXPECT_EQ(0, run_examples(_metadata, de->d_name, text, &ran));
		free(text);
	}
	closedir(d);
	EXPECT_LT(6, pages);
	EXPECT_LT(5, ran) TH_LOG("only %d examples ran", ran);
}

TEST_HARNESS_MAIN
