// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Helpers of the fuzz targets (fuzz.h): muting what the code under test
 * prints, and reporting what a target found.
 */
#include <stdarg.h>
#include <stdio.h>

#include <memslot/memslot.h>

#include "fuzz.h"

static FILE *devnull;
static FILE *real_out, *real_err;
static unsigned int muted;
static ms_print_fn_t real_print;

void fuzz_mute(void)
{
	if (muted++)
		return;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	real_out = stdout;
	real_err = stderr;
	real_print = ms_set_print(NULL);
	if (devnull) {
		stdout = devnull;
		stderr = devnull;
	}
}

void fuzz_unmute(void)
{
	if (!muted || --muted)
		return;
	if (devnull) {
		fflush(devnull);
		clearerr(devnull);
	}
	ms_set_print(real_print);
	stdout = real_out;
	stderr = real_err;
}

bool fuzz_silent;

void fuzz_vreport(const char *target, const char *fmt, va_list ap)
{
	FILE *f = muted ? real_err : stderr;

	if (fuzz_silent)
		return;
	fprintf(f, "%s: ", target);
	vfprintf(f, fmt, ap);
	fflush(f);
}
