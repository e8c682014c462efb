/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kselftest harness, with per-test timeouts scaled for emulation.
 *
 * Include this instead of kselftest_harness.h, after util.h. Under TCG a
 * guest kernel runs the KVM tests several times slower than a host does:
 * the kernel-in-the-loop runner sets MEMSLOT_TIMEOUT_SCALE, and every
 * test's timeout (TEST_F_TIMEOUT or the harness default) is multiplied by
 * it before main() runs. No test sleeps to wait for anything.
 */
#ifndef SELFTESTS_LIB_HARNESS_H
#define SELFTESTS_LIB_HARNESS_H

#include <stdlib.h>

#include "kselftest_harness.h"

/* Runs after every test and xfail registration (KSELFTEST_PRIO_XFAIL). */
static void __attribute__((constructor(KSELFTEST_PRIO_XFAIL + 1))) scale_test_timeouts(void)
{
	const char *s = getenv("MEMSLOT_TIMEOUT_SCALE");
	char *end;
	unsigned long k;

	if (!s || !*s)
		return;
	k = strtoul(s, &end, 10);
	if (*end || k < 2 || k > 100)
		return;
	for (struct __fixture_metadata *f = __fixture_list; f; f = f->next)
		for (struct __test_metadata *t = f->tests; t; t = t->next)
			t->timeout *= (int)k;
}

#endif
