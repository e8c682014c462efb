// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot plan: build a pc or q35 machine from QEMU's own options (-M, -m,
 * -object, -device) with libmemslot's machine model, nothing allocated,
 * and predict what QEMU (current rules, memory-devices.md) does with it:
 * where every memory device goes, which KVM memslots exist, how device
 * memory and memslots are accounted (required, used, reserved, the
 * automatic memslot decision of virtio-mem), and how many memslots KVM and
 * each vhost backend have left. --script replays hot(un)plug commands
 * (scenario.h) and reports after each one.
 *
 * Order of construction, as QEMU's start-up does it: the machine (rule 4),
 * every -object, the vhost backends (like -netdev, created before the
 * devices; late=on attaches one after the cold-plugged devices, like a
 * vhost-user backend that connects later), every -device in order, the
 * late vhost backends, then the script.
 *
 * Text output without --script, sections separated by a blank line:
 *
 *   machine: q35, accel kvm, 32764 KVM memslots
 *     ram: 0x100000000 (below 4G 0x80000000, above 4G 0x80000000 at 0x100000000)
 *     slots: 8, maxmem: 0x1000000000
 *     device memory: 0x180000000-0x127fffffff, size 0x1100000000, hotpluggable 0xf00000000
 *     reserved end: 0x1280000000
 *
 *   memory devices:
 *   Memory device [dimm]: "d1"            QEMU's `info memory-devices`,
 *     addr: 0x180000000                   byte for byte, then per device
 *     ...                                 "  memslots: N" (required) and
 *     memslots: 1                         "  memslots-used: N" (mapped now),
 *     memslots-used: 1                    for virtio-mem "  memslot-size: N"
 *
 *   memslots:
 *   slot  as  gpa ...                     memslot_table_print()
 *
 *   accounting:
 *     device memory: used 0x.. of 0x.., plugged 0x..
 *     memslots: required N, used N, reserved N
 *     auto decision active: yes|no (N devices)
 *     kind   name      max     used    free
 *     kvm    kvm       32764   12      32752
 *     vhost  vhost0    32      12      20
 *
 *   flat view of "memory":
 *   FlatView #0                           ms_mtree_print() -f, the block of
 *    AS "memory", root: system            address space "memory", with
 *    ...                                  QEMU's " KVM" markers
 *
 *   capacity:
 *     memslots left for memory devices: kvm 32745, vhost0 13
 *     dimm slots: 6 of 8 free
 *     device memory left: 0xe80000000 of 0xf00000000
 *     highest guest address: 0x1bfffffff (33 phys-bits)
 *     reserved end: 0x1280000000 (37 phys-bits)
 *
 * With --script: the machine section, "start:" and the accounting, then
 * per step "line L: COMMAND" followed by the accounting, or for `info` by
 * the table named. A failing step stops the replay: its error goes to
 * stderr as "FILE:LINE: <QEMU text>", exit status 1.
 *
 * JSON (-j): {"machine", "devices", "memslots", "accounting", "consumers",
 * "flat_view", "capacity"} (state after the script), with --script also
 * "steps": [{"line", "command", "ok", "error", "devices", "memslots",
 * "accounting", "consumers"[, "flat_view" for info mtree]}] and, if a step
 * failed, "error". Shapes: see man/memslot-plan.8.rst.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"
#include "live.h"
#include "plan.h"
#include "scenario.h"
#include "svg.h"

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

static void plan_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot [OPTIONS] plan [-M|-machine MACHINE] [-m MEMORY] [-object BACKEND]...\n"
		"                              [-device DEVICE]... [--vhost-limit N[,...]]...\n"
		"                              [--kvm-memslots N] [--kvm-smm on|off]\n"
		"                              [--firmware none|seabios] [--script FILE]\n"
		"                              [--strict] [QEMU-OPTION]...\n"
		"       memslot [OPTIONS] plan --from-pid PID|--from-name NAME|--qmp SOCKET\n"
		"                              [-object BACKEND]...\n"
		"                              [-device DEVICE]... [OPTIONS...]\n"
		"\n"
		"Predict, with QEMU's rules and nothing allocated, where a pc or q35 machine's\n"
		"memory devices go, which KVM memslots it uses and how many memslots KVM and\n"
		"each vhost backend have left. The options are QEMU's.\n"
		"\n"
		"  -M, -machine pc|q35|pc-i440fx-X.Y|pc-q35-X.Y[,max-ram-below-4g=SIZE]\n"
		"          [,nvdimm=on][,smm=on|off|auto][,accel=kvm|tcg][,memory-backend=ID]\n"
		"  -numa node[,nodeid=N][,memdev=ID]   RAM of NUMA node N from backend ID\n"
		"  -accel kvm|tcg, -smp, -name    as QEMU; JSON -object/-device as libvirt's\n"
		"  -m [size=]SIZE[,slots=N][,maxmem=SIZE]\n"
		"                      RAM (MiB without a suffix), DIMM slots, maximum memory\n"
		"  -object memory-backend-ram|memory-backend-memfd|memory-backend-file,id=ID,\n"
		"          size=SIZE[,share=on|off][,prealloc=on|off][,mem-path=PATH][,align=SIZE]\n"
		"          [,readonly=on|off]\n"
		"  -device pc-dimm|nvdimm|virtio-pmem-pci|virtio-mem-pci,memdev=ID[,id=ID]\n"
		"          [,addr=ADDR][,slot=N][,node=N][,label-size=SIZE][,unarmed=on]\n"
		"          [,memaddr=ADDR][,requested-size=SIZE][,block-size=SIZE]\n"
		"          [,dynamic-memslots=on|off][,unplugged-inaccessible=on|off|auto]\n"
		"          [,prealloc=on|off]\n"
		"      --vhost-limit N[,name=NAME][,user=on][,late=on]\n"
		"                      a vhost backend with a limit of N memslots (repeatable);\n"
		"                      user=on: vhost-user (only memory with a file descriptor);\n"
		"                      late=on: attached after the -device memory devices\n"
		"      --kvm-memslots N\n"
		"                      KVM's memslot limit (default: KVM_CAP_NR_MEMSLOTS of\n"
		"                      /dev/kvm, else 32764)\n"
		"      --kvm-smm on|off\n"
		"                      whether that KVM has SMM (address space 1; default:\n"
		"                      asked of /dev/kvm, else on)\n"
		"      --strict        refuse QEMU options that do not affect memory or\n"
		"                      that change it in ways not modelled (by default\n"
		"                      accepted: named in one note, one warning)\n"
		"      --firmware none|seabios\n"
		"                      the layout after this firmware's POST (default none:\n"
		"                      a stopped machine); seabios: PAM shadowing and the\n"
		"                      kvmvapic ROM of a machine without option ROMs\n"
		"      --script FILE   replay hot(un)plug commands, reporting after each one\n"
		"      --svg FILE      also draw the machine's memory map to FILE (SVG), as\n"
		"                      it is at the end (after --script or a hot-plug)\n"
		"      --from-pid PID  plan the running QEMU PID from its command line; the\n"
		"                      -object/-device given here are hot-plugged onto it\n"
		"      --from-name NAME\n"
		"                      the same for the one QEMU started with -name guest=NAME\n"
		"                      (else the one process named NAME)\n"
		"      --qmp SOCKET    the same for the QEMU at this QMP socket, with the memory\n"
		"                      devices and backends it has now\n"
		"  -h, --help          print this help\n");
}

/* --- script ---------------------------------------------------------------- */

static int print_info(const struct plan *p, enum scn_info what, FILE *f)
{
	switch (what) {
	case SCN_INFO_MEMORY_DEVICES:
		return plan_print_devices(p, f);
	case SCN_INFO_MEMSLOTS:
		return plan_print_memslots(p, f);
	case SCN_INFO_ACCOUNTING:
		return plan_print_accounting(p, f);
	case SCN_INFO_MTREE:
		return plan_print_flat(p, f);
	}
	return 0;
}

/*
 * Replay the script. @steps (JSON mode) gets one entry per step run; on a
 * failing step @failed is set to "FILE:LINE: text". Return: 0, or a
 * negative errno for an output failure.
 */
static int replay(struct plan *p, struct json_object *steps, char *failed, size_t failed_len)
{
	char err[QOPT_ERR_LEN];
	int ret;

	for (size_t i = 0; i < p->scn.nr; i++) {
		const struct scn_step *st = &p->scn.steps[i];
		int r = scenario_exec(p->m, st, true, err);

		if (r && p->script)
			snprintf(failed, failed_len, "%s:%u: %s", p->script, st->line, err);
		else if (r)	/* the hot-plug of a live plan */
			snprintf(failed, failed_len, "%s: %s", st->text, err);
		if (steps) {
			struct json_object *o = json_object_new_object();

			if (!o)
				return -ENOMEM;
			json_object_array_add(steps, o);
			ADD(o, "line", json_u64(st->line));
			ADD(o, "command", json_object_new_string(st->text));
			ADD(o, "ok", json_object_new_boolean(!r));
			ADD(o, "error", r ? json_object_new_string(err) : NULL);
			ret = plan_add_state_json(p, o);
			if (!ret && st->cmd == SCN_INFO && st->info == SCN_INFO_MTREE) {
				struct json_object *fv = plan_flat_view_json(p);

				ADD(o, "flat_view", fv);
				ret = fv ? 0 : -ENOMEM;
			}
			if (ret)
				return ret;
		} else {
			/* A failing step prints its line only: the error goes to stderr. */
			if (p->script)
				printf("\nline %u: %s\n", st->line, st->text);
			else
				printf("\nhot-plug: %s\n", st->text);
			if (!r && st->cmd == SCN_INFO) {
				ret = print_info(p, st->info, stdout);
				if (ret)
					return ret;
			} else if (!r) {
				plan_print_accounting(p, stdout);
			}
		}
		if (r)
			break;
	}
	return 0;
}


/* --- command --------------------------------------------------------------- */

/* --svg FILE: the machine as it is now. Return: 0, or 1 after the error. */
static int write_svg(const struct plan *p)
{
	struct ms_error e = { 0 };
	int ret;

	if (!p->svg)
		return 0;
	ret = svg_write_machine(p->svg, p->m, p->mtype, &e);
	if (ret)
		p_err("%s", error_text(&e, -ret));
	return ret ? 1 : 0;
}

int do_plan(int argc, char **argv)
{
	struct plan p = { .mo = { .sz = sizeof(p.mo) } };
	char failed[QOPT_ERR_LEN + 4096] = "";
	ms_print_fn_t old_print = ms_set_print(plan_print_warning);
	struct live_vm lv = { 0 };
	bool help = false, steps_mode;
	int status, ret;

	/* --from-pid / --from-name / --qmp: the running VM's arguments, then the user's */
	status = live_open(&lv, argc, argv);
	if (status)
		goto free_plan;
	/* a running QEMU's command line is what it is: no note of its options */
	p.quiet_ignored = lv.active;
	status = plan_parse_args(&p, lv.active ? lv.argc : argc, lv.active ? lv.argv : argv,
				 &help);
	if (status || help) {
		if (help)
			plan_usage(stdout);
		goto free_plan;
	}
	if (lv.active && (status = live_apply(&lv, &p)))
		goto free_plan;
	if (p.script && (status = plan_load_script(&p)))
		goto free_plan;
	status = plan_build(&p);
	if (status)
		goto free_plan;
	if (lv.active) {
		status = live_replay(&lv, &p);
		if (status)
			goto free_plan;
		live_check_memslots(&lv, &p);
	}
	steps_mode = p.script || p.scn.nr;

	status = 1;
	if (json_output) {
		struct json_object *doc = json_object_new_object(), *steps = NULL;

		ret = doc ? 0 : -ENOMEM;
		if (!ret && lv.active) {
			struct json_object *l = live_json(&lv);

			ADD(doc, "live", l);
			ret = l ? 0 : -ENOMEM;
		}
		if (!ret && steps_mode) {
			steps = json_object_new_array();
			ret = steps ? replay(&p, steps, failed, sizeof(failed)) : -ENOMEM;
		}
		if (!ret)
			ret = plan_add_full_json(&p, doc);
		if (!ret && steps) {
			ADD(doc, "steps", steps);
			steps = NULL;
			if (failed[0])
				ADD(doc, "error", json_object_new_string(failed));
		}
		json_object_put(steps);
		if (ret) {
			json_object_put(doc);
			p_err("cannot build JSON: %s", strerror(-ret));
			goto free_plan;
		}
		/* the final state is there: the picture before the document */
		if (write_svg(&p)) {
			json_object_put(doc);
			goto free_plan;
		}
		status = json_print(doc);
	} else {
		/* without steps the state is final now: no report before an error */
		if (!steps_mode && write_svg(&p))
			goto free_plan;
		if (lv.active)
			live_print(&lv, stdout);
		if (lv.active && steps_mode) {
			/* now, each hot-plug step, then the whole machine after them */
			printf("\nnow:\n");
			plan_print_accounting(&p, stdout);
			ret = replay(&p, NULL, failed, sizeof(failed));
			if (!ret && !failed[0]) {
				printf("\nafter the hot-plug:\n\n");
				ret = plan_print_report(&p, stdout);
			}
		} else if (p.script) {
			plan_print_machine(&p, stdout);
			printf("\nstart:\n");
			plan_print_accounting(&p, stdout);
			ret = replay(&p, NULL, failed, sizeof(failed));
		} else {
			if (lv.active)
				printf("\n");
			ret = plan_print_report(&p, stdout);
		}
		if (!ret && ferror(stdout))
			ret = -EIO;
		if (ret) {
			p_err("cannot write output: %s", strerror(-ret));
			goto free_plan;
		}
		status = 0;
		/* after the steps' reports: the state they ended in */
		if (steps_mode) {
			fflush(stdout);
			if (write_svg(&p))
				status = 1;
		}
	}
	if (failed[0]) {
		/* After the output: in JSON mode this goes to stderr. */
		fflush(stdout);
		p_err("%s", failed);
		status = 1;
	}

free_plan:
	plan_free(&p);
	live_free(&lv);
	ms_set_print(old_print);
	return status;
}
