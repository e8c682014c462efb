// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_qemu_opts: the QEMU command line of `memslot plan` and `memslot
 * run` (tool/cmdline.c): -M/-machine, -m, -object, -device, --vhost-limit,
 * --kvm-memslots, --kvm-smm, --firmware and run's flags. The input is the
 * argument vector, one argument per line or NUL-terminated.
 *
 * The vector is parsed as run's (parsing only: run allocates guest
 * memory) and as plan's, after "--kvm-memslots 509 --kvm-smm on" so that
 * /dev/kvm is never asked; a plan that parses is built (plan_build(), no
 * host memory) and its full report printed as text and JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "plan.h"

#define MAX_ARGS	256

static const char *const prefix[] = { "plan", "--kvm-memslots", "509", "--kvm-smm", "on" };
#define NR_PREFIX	(sizeof(prefix) / sizeof(prefix[0]))

static void plan_one(int argc, char **argv, bool run)
{
	struct plan p = { .run = run, .mo.sz = sizeof(p.mo) };
	bool help = false;

	if (!plan_parse_args(&p, argc, argv, &help) && !help && !run && !plan_build(&p)) {
		struct json_object *doc = json_object_new_object();
		FILE *f = fopen("/dev/null", "w");

		if (f) {
			plan_print_report(&p, f);
			fclose(f);
		}
		if (doc)
			plan_add_full_json(&p, doc);
		json_object_put(doc);
	}
	plan_free(&p);
}

int fuzz_qemu_opts(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), **argv = calloc(NR_PREFIX + MAX_ARGS + 1, sizeof(*argv));
	int argc = NR_PREFIX;

	if (!text || !argv)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < NR_PREFIX; i++)
		argv[i] = (char *)prefix[i];
	/* split on NUL and LF; a trailing separator ends the last argument */
	for (char *s = text, *end = text + size; s < end && argc < (int)(NR_PREFIX + MAX_ARGS);) {
		size_t n = strcspn(s, "\n");

		s[n] = '\0';
		argv[argc++] = s;
		s += n + 1;
	}
	fuzz_mute();
	plan_one(argc - (int)NR_PREFIX + 1, argv + NR_PREFIX - 1, true);
	plan_one(argc, argv, false);
	fuzz_unmute();
out:
	free(text);
	free(argv);
	return 0;
}
