// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fuzz corpus as a regression test: every committed input of
 * fuzz/corpus/<target>/ goes through the target's entry function
 * (fuzz/fuzz.h), built here with $(CC) and without libFuzzer, so that
 * `make check` (and SAN=1 check) replays the seeds and every reproducer
 * added there without clang. An entry must return 0 (no broken property)
 * and not crash. fuzz/crashes-found/ is not replayed: it holds the
 * reproducers of findings not fixed yet.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"	/* before the harness, see there */

#include "harness.h"
#include "fuzz.h"

#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "fuzz/corpus"
#endif

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay fuzz/corpus/@target; Return: the number of inputs that failed. */
static int replay(struct __test_metadata *_metadata, const char *target,
		  int (*entry)(const uint8_t *, size_t), size_t *nr)
{
	char dir[4096], path[8192];
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int failed = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", FUZZ_CORPUS, target);
	d = opendir(dir);
	ASSERT_NE(NULL, d) TH_LOG("%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char **nn;

		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		ASSERT_NE(NULL, nn);
		names = nn;
		names[n] = strdup(de->d_name);
		ASSERT_NE(NULL, names[n++]);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, r;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "rb");
		ASSERT_NE(NULL, f) TH_LOG("%s: %s", path, strerror(errno));
		do {
			if (len == cap) {
				cap = cap ? 2 * cap : 65536;
				buf = realloc(buf, cap);
				ASSERT_NE(NULL, buf);
			}
			r = fread(buf + len, 1, cap - len, f);
			len += r;
		} while (r);
		fclose(f);
		if (entry(buf, len)) {
			TH_LOG("%s: the input breaks a property (details above)", path);
			failed++;
		}
		free(buf);
		free(names[i]);
	}
	free(names);
	*nr = n;
	return failed;
}

#define CORPUS_TEST(target)							\
TEST(target)									\
{										\
	size_t nr = 0;								\
										\
	EXPECT_EQ(0, replay(_metadata, #target, fuzz_##target, &nr));		\
	EXPECT_LT(0, nr) TH_LOG("no seeds in %s/%s", FUZZ_CORPUS, #target);	\
	ksft_print_msg("%s: %zu inputs replayed\n", #target, nr);		\
}

CORPUS_TEST(import)
CORPUS_TEST(qemu_opts)
CORPUS_TEST(script)
CORPUS_TEST(expect)
CORPUS_TEST(api)

TEST_HARNESS_MAIN
