/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checks of device_add/device_del on an ms_machine, shared by the memory
 * device tests. They use the harness: include this after harness.h, in a
 * file whose fixture has a ``struct ms_machine *m`` member.
 */
#ifndef SELFTESTS_LIB_MACHINE_H
#define SELFTESTS_LIB_MACHINE_H

#include <stdlib.h>

#include "util.h"
#include "harness.h"

/**
 * __add_ok() - ms_machine__device_add() that must succeed
 * @_metadata: the running test
 * @m: machine
 * @o: device options
 *
 * ASSERTs success and logs the library's message otherwise.
 *
 * Return: the new device.
 */
static inline struct ms_memdev *__add_ok(struct __test_metadata *_metadata, struct ms_machine *m,
					 struct ms_memdev_opts o)
{
	struct ms_error err = { 0 };
	struct ms_memdev *d = ms_machine__device_add(m, &o, &err);

	ASSERT_NE(NULL, d) {
		TH_LOG("device_add(%s %s): %s", ms_memdev_type_name(o.type),
		       o.id ? o.id : "-", err.msg);
	}
	return d;
}
#define ADD_OK(o) __add_ok(_metadata, self->m, (o))

/* ms_machine__device_del() of @d must succeed (ASSERT). */
#define DEL_OK(d) do {									\
	struct ms_error __e = { 0 };							\
	ASSERT_EQ(0, ms_machine__device_del(self->m, (d), &__e)) {			\
		TH_LOG("device_del: %s", __e.msg);					\
	}										\
} while (0)

/**
 * __del_fail() - ms_machine__device_del() that must fail and change nothing
 * @_metadata: the running test
 * @m: machine
 * @d: device
 * @text: the exact error message expected
 * @snap: the test's snapshot of @m as text (malloc()ed)
 *
 * EXPECTs a negative return, @text as the message and the same @snap
 * after the call as before it.
 */
static inline void __del_fail(struct __test_metadata *_metadata, struct ms_machine *m,
			      struct ms_memdev *d, const char *text,
			      char *(*snap)(struct ms_machine *m))
{
	struct ms_error err = { 0 };
	char *before = snap(m);
	int ret = ms_machine__device_del(m, d, &err);

	EXPECT_GT(0, ret) {
		TH_LOG("device_del succeeded, expected \"%s\"", text);
	}
	if (!ret) {
		free(before);
		return;
	}
	EXPECT_STREQ(text, err.msg);
	EXPECT_STR_FREE(before, snap(m));
	free(before);
}
/* Needs a snap(struct ms_machine *) in the test file. */
#define DEL_FAIL(d, text) __del_fail(_metadata, self->m, (d), (text), snap)

#endif /* SELFTESTS_LIB_MACHINE_H */
