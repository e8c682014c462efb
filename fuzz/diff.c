// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The differential run of `make fuzz-diff`: fuzz_api() over seeded random
 * inputs until a number of library operations, each input checked against
 * the model as under libFuzzer.
 *
 *   fuzz-diff [-n OPS] [-s SEED] [-l BYTES] [-o DIR]
 *
 * OPS (default 10000000) operations in all; input k is BYTES (default
 * 2048) bytes of splitmix64 output from SEED + k. An input that breaks a
 * property is written to DIR (default .) as diff-<seed>-<k>.bin, a
 * reproducer for the libFuzzer binary and for fuzz/corpus/api/. Prints
 * progress, then "fuzz-diff: N inputs, N operations, N checks, N
 * mismatches, T s"; exit status 1 if there was a mismatch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "model.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int save(const char *dir, uint64_t seed, uint64_t k, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/diff-%" PRIu64 "-%" PRIu64 ".bin", dir, seed, k);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "fuzz-diff: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(stderr, "fuzz-diff: reproducer: %s\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t target = 10000000, seed = 1, k, next = 1000000;
	const char *dir = ".";
	size_t len = 2048;
	double t0 = now();
	uint8_t *buf;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:l:o:")) != -1) {
		switch (opt) {
		case 'n':
			target = strtoull(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			len = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			dir = optarg;
			break;
		default:
			fprintf(stderr, "usage: fuzz-diff [-n OPS] [-s SEED] [-l BYTES] [-o DIR]\n");
			return 2;
		}
	}
	if (len < 16)
		len = 16;
	buf = malloc(len + 8);
	if (!buf)
		return 1;
	for (k = 0; fuzz_api_stats.ops < target; k++) {
		uint64_t rng = seed + k * 0x9e3779b97f4a7c15ULL;

		for (size_t i = 0; i < len; i += 8) {
			uint64_t v = model_rand(&rng);

			memcpy(buf + i, &v, 8);
		}
		if (fuzz_api(buf, len)) {
			if (fuzz_api_stats.mismatches <= 10 && save(dir, seed, k, buf, len))
				return 1;
			/* the first ten are reported and kept; the rest only counted */
			fuzz_silent = fuzz_api_stats.mismatches >= 10;
		}
		if (fuzz_api_stats.ops >= next) {
			printf("fuzz-diff: %" PRIu64 " operations, %" PRIu64 " mismatches, %.0f s\n",
			       fuzz_api_stats.ops, fuzz_api_stats.mismatches, now() - t0);
			fflush(stdout);
			next += 1000000;
		}
	}
	printf("fuzz-diff: %" PRIu64 " inputs, %" PRIu64 " operations, %" PRIu64 " checks, %"
	       PRIu64 " mismatches, %.0f s\n", k, fuzz_api_stats.ops, fuzz_api_stats.checks,
	       fuzz_api_stats.mismatches, now() - t0);
	free(buf);
	return fuzz_api_stats.mismatches ? 1 : 0;
}
