// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Error details and logging.
 */
#include <errno.h>
#include <stdio.h>

#include "internal.h"

static int default_print(enum ms_print_level level, const char *fmt, va_list ap)
{
	if (level != MS_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static ms_print_fn_t print_fn = default_print;

ms_print_fn_t ms_set_print(ms_print_fn_t fn)
{
	ms_print_fn_t old = print_fn;

	print_fn = fn;
	return old;
}

void ms_pr(enum ms_print_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (print_fn) {
		va_start(ap, fmt);
		print_fn(level, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

int ms_error_set(struct ms_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->err = err;
		e->flags = 0;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

const char *ms_version(void)
{
	return MS_VERSION;
}
