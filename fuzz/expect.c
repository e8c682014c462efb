// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_expect: the JSON reader of `memslot verify --expect FILE`
 * (tool/verify.c). The input is the file. verify.c is linked as it is;
 * the BPF side it calls is replaced here by a census made up in memory
 * (one VM with slots in address spaces 0 and 1; two VMs when the input
 * length is a multiple of 7), so that the whole comparison runs: do_verify()
 * is called as `verify -p 1 --expect FILE`, then again with -j.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "census_prog.h"
#include "fuzz.h"
#include "tool.h"

static struct ms_census_slot slots[] = {
	{ .kind = MS_CENSUS_SLOT, .as_id = 0, .id = 0, .gpa = 0, .size = 0xa0000 },
	{ .kind = MS_CENSUS_SLOT, .as_id = 0, .id = 1, .flags = 2, .gpa = 0xc0000,
	  .size = 0x20000 },
	{ .kind = MS_CENSUS_SLOT, .as_id = 0, .id = 2, .gpa = 0x100000, .size = 0x7f00000 },
	{ .kind = MS_CENSUS_SLOT, .as_id = 1, .id = 0, .gpa = 0, .size = 0xa0000 },
	{ .kind = MS_CENSUS_SLOT, .as_id = 1, .id = 5, .flags = 1, .gpa = 0x100000000ULL,
	  .size = 0x40000000 },
};

static struct census_vm vms[2] = {
	{ .slots = slots, .nr = sizeof(slots) / sizeof(slots[0]), .done = true },
	{ .slots = slots, .nr = 2, .done = true },
};
static struct census census = { .vms = vms, .nr_vms = 1 };
static int dummy;

int bpf_check_privileges(void)
{
	return 0;
}

void bpf_setup_libbpf(void)
{
}

struct census_prog *census_prog_open(uint32_t tgid, int *err)
{
	(void)tgid;
	(void)err;
	return (struct census_prog *)&dummy;
}

const struct census *census_prog_run(struct census_prog *cp)
{
	(void)cp;
	return &census;
}

void census_prog_close(struct census_prog *cp)
{
	(void)cp;
}

int fuzz_expect(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], *argv[8];
	const uint8_t *p = data;
	size_t left = size;

	if (fd < 0)
		fd = memfd_create("fuzz-expect", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0))
		return 0;
	while (left) {
		ssize_t n = pwrite(fd, p, left, (off_t)(p - data));

		if (n <= 0)
			return 0;
		p += n;
		left -= (size_t)n;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	census.nr_vms = size && size % 7 == 0 ? 2 : 1;
	fuzz_mute();
	for (int j = 0; j < 2; j++) {
		int argc = 0;

		argv[argc++] = "verify";
		argv[argc++] = "-p";
		argv[argc++] = "1";
		argv[argc++] = "--expect";
		argv[argc++] = path;
		if (j)
			argv[argc++] = "-j";
		argv[argc] = NULL;
		json_output = false;
		do_verify(argc, argv);
	}
	json_output = false;
	fuzz_unmute();
	return 0;
}
