// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer entry of one target: built once per target with
 * -DFUZZ_ENTRY=fuzz_<target> (Makefile, "fuzz" section). A target that
 * reports a broken property aborts, which libFuzzer records as a crash.
 */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (FUZZ_ENTRY(data, size))
		abort();
	return 0;
}
