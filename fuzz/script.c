// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_script: scenario scripts (`memslot plan --script`, `memslot run`
 * scenarios; tool/scenario.c). The first byte picks the machine of
 * `memslot plan` the script runs on; the rest, up to a NUL byte, is the
 * script.
 *
 * A script that parses is replayed like plan's replay, but on past a
 * failing step (the library leaves the machine as it was): each step is
 * carried out with scenario_exec() (no host memory), what `info` asks for
 * is printed, and after every step the accounting and the JSON state are
 * built and the flat view of "memory" must equal ms_flatview__render() of
 * its root (a difference is a finding).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "plan.h"

#define MAX_STEPS	512

static const char *const machines[][12] = {
	{ "plan", "-M", "q35", "-m", "512M,slots=8,maxmem=16G", "--kvm-memslots", "509",
	  "--kvm-smm", "on" },
	{ "plan", "-M", "pc,nvdimm=on", "-m", "1G,slots=4,maxmem=8G", "--kvm-memslots", "32",
	  "--kvm-smm", "off", "--vhost-limit", "16" },
	{ "plan", "-M", "q35,smm=off", "-m", "128M,slots=2,maxmem=4G", "--kvm-memslots", "12",
	  "--kvm-smm", "on", "--firmware", "seabios" },
	{ "plan", "-M", "pc,accel=tcg", "-m", "4G,slots=16,maxmem=1T", "--vhost-limit",
	  "8,user=on", "--kvm-smm", "on" },
};
#define NR_MACHINES	(sizeof(machines) / sizeof(machines[0]))

static int report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fuzz_vreport("fuzz_script", fmt, ap);
	va_end(ap);
	return -1;
}

static int check_memory(const struct plan *p)
{
	struct ms_as *as = ms_machine__memory_as(p->m);
	struct ms_flatview *fv = ms_as__flatview(as), *full;
	size_t n = ms_flatview__nr_ranges(fv);
	int ret = 0;

	full = ms_flatview__render(ms_as__root(as), NULL);
	if (!full)
		return 0;
	if (ms_flatview__nr_ranges(full) != n)
		ret = -1;
	for (size_t i = 0; !ret && i < n; i++) {
		const struct ms_flat_range *a = ms_flatview__range(full, i);
		const struct ms_flat_range *b = ms_flatview__range(fv, i);

		if (a->mr != b->mr || a->start != b->start || a->size != b->size ||
		    a->offset_in_region != b->offset_in_region || a->readonly != b->readonly ||
		    a->romd_mode != b->romd_mode || a->nonvolatile != b->nonvolatile ||
		    a->dirty_log_mask != b->dirty_log_mask)
			ret = -1;
	}
	ms_flatview__unref(full);
	if (ret)
		report("\"memory\": installed view (%zu ranges) differs from a full render\n", n);
	return ret;
}

static int replay(struct plan *p, FILE *f)
{
	char err[QOPT_ERR_LEN];
	struct ms_slotmap *maps[2];

	for (size_t i = 0; i < p->scn.nr && i < MAX_STEPS; i++) {
		const struct scn_step *st = &p->scn.steps[i];
		struct json_object *o;
		size_t nr = machine_kvm_maps(p->m, maps);

		scenario_exec(p->m, st, true, err);
		while (nr)
			ms_slotmap__clear_ops(maps[--nr]);
		if (st->cmd == SCN_INFO) {
			switch (st->info) {
			case SCN_INFO_MEMORY_DEVICES:
				plan_print_devices(p, f);
				break;
			case SCN_INFO_MEMSLOTS:
				plan_print_memslots(p, f);
				break;
			case SCN_INFO_ACCOUNTING:
				plan_print_accounting(p, f);
				break;
			case SCN_INFO_MTREE:
				json_object_put(plan_flat_view_json(p));
				plan_print_flat(p, f);
				break;
			}
		}
		plan_print_accounting(p, f);
		o = json_object_new_object();
		if (o)
			plan_add_state_json(p, o);
		json_object_put(o);
		if (check_memory(p))
			return -1;
	}
	return 0;
}

int fuzz_script(const uint8_t *data, size_t size)
{
	const char *const *argv = machines[size ? data[0] % NR_MACHINES : 0];
	struct plan p = { .mo.sz = sizeof(p.mo) };
	char *text = malloc(size + 1);
	char err[QOPT_ERR_LEN];
	unsigned int line = 0;
	bool help = false;
	int argc = 0, ret = 0;
	FILE *f;

	if (!text)
		return 0;
	if (size)
		memcpy(text, data + 1, size - 1);
	text[size ? size - 1 : 0] = '\0';
	while (argc < 12 && argv[argc])
		argc++;
	fuzz_mute();
	f = fopen("/dev/null", "w");
	if (f && !scenario_parse(text, &p.scn, &line, err) &&
	    !plan_parse_args(&p, argc, (char **)argv, &help) && !plan_build(&p))
		ret = replay(&p, f);
	if (f)
		fclose(f);
	plan_free(&p);
	free(text);
	fuzz_unmute();
	return ret;
}
