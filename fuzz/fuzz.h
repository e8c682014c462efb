/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz targets: one entry function per target, called with one input.
 *
 * The same functions run under libFuzzer (fuzz/libfuzzer.c, built with
 * clang by `make fuzz`), in the corpus replay of `make check`
 * (selftests/test_fuzz_corpus.c, built like every selftest) and in the
 * differential run of `make fuzz-diff` (fuzz/diff.c). An entry returns 0,
 * or -1 when the input broke a property the target checks (a mismatch
 * against a model, a rendering our own parser refuses); the details go to
 * stderr. Crashes and sanitizer reports are findings of their own.
 *
 * Targets:
 *   import      ms_import__parse() and ms_flatdump__parse(): `info mtree`
 *               text, a NUL byte, then optionally `info mtree -f` text
 *   qemu_opts   plan_parse_args() and plan_build(): the QEMU options of
 *               `memslot plan`, one argument per line (or NUL-separated)
 *   script      scenario_parse() and scenario_exec() on a planned machine
 *   expect      `memslot verify --expect FILE`: the JSON reader, compared
 *               with a census made up from the input
 *   api         a byte-coded sequence of region, transaction and listener
 *               operations, checked after every commit against the model
 *               of selftests/lib/model.c (fuzz/api.c)
 */
#ifndef MEMSLOT_FUZZ_H
#define MEMSLOT_FUZZ_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int fuzz_import(const uint8_t *data, size_t size);
int fuzz_qemu_opts(const uint8_t *data, size_t size);
int fuzz_script(const uint8_t *data, size_t size);
int fuzz_expect(const uint8_t *data, size_t size);
int fuzz_api(const uint8_t *data, size_t size);

/**
 * struct fuzz_api_stats - what fuzz_api() did, summed over its calls
 * @ops: library operations applied (those that named live regions)
 * @checks: comparisons with the model (one per outermost commit)
 * @mismatches: inputs that broke a property
 */
struct fuzz_api_stats {
	uint64_t ops, checks, mismatches;
};

extern struct fuzz_api_stats fuzz_api_stats;

/*
 * fuzz_mute() - send what the library and the tool print to /dev/null
 *
 * Swaps the stdio streams stdout and stderr (not the file descriptors:
 * sanitizer and libFuzzer reports still reach fd 2) until fuzz_unmute().
 * Library messages are dropped (ms_set_print(NULL)).
 */
void fuzz_mute(void);
void fuzz_unmute(void);

/* fuzz_vreport() - "<target>: <message>" on the real stderr, muted or not */
void fuzz_vreport(const char *target, const char *fmt, va_list ap);

/* fuzz_silent - set: fuzz_vreport() prints nothing (fuzz-diff after a few) */
extern bool fuzz_silent;

#endif /* MEMSLOT_FUZZ_H */
