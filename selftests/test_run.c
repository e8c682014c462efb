// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `memslot run`: a real KVM VM whose memslots libmemslot sets, with the
 * probe guest verifying after every step. The default scenario; scripted
 * scenarios from selftests/scenarios/ (DIMM churn with hole reuse,
 * virtio-mem with 96 dynamic memslots, ROM and MMIO, virtio-mem resize);
 * dirty logging; usage errors; and fault injection
 * (MEMSLOT_KVM_FAULT=N:ENOMEM) at every memslot ioctl of a DIMM plug, a
 * DIMM unplug and virtio-mem resizes: the run must exit 1 with QEMU's text
 * and the binding's explanation, and its JSON must show the library's
 * table equal to the kernel's (compared here from the rows, not only the
 * run's own "consistent") and the accounting equal to the step before.
 *
 * Expected values come from the scenarios and the rules they exercise
 * (memory-devices.md 5.4, 5.5 first fit, 10.2, 10.5, 10.6; kvm-memslots.md
 * 5.2 lowest free slot id, 6.1, 6.2), not from the tool.
 *
 * The tool is $MEMSLOT (default build/memslot), the scenarios
 * $MEMSLOT_SCENARIOS (default selftests/scenarios, the tests run from the
 * repository root). Without /dev/kvm every test is skipped, saying why.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)

static const char *scn_dir(void)
{
	const char *p = getenv("MEMSLOT_SCENARIOS");

	return p && *p ? p : "selftests/scenarios";
}

#define NEED_KVM() do {								\
		const char *__why = kvm_unusable();					\
		if (__why)							\
			SKIP(return, "%s", __why);				\
	} while (0)

/* Run the tool with @args (NULL-terminated, without argv[0]); @fault sets MEMSLOT_KVM_FAULT. */
static int run_env(struct cli_result *r, const char *fault, const char *const *args)
{
	char var[128] = "MEMSLOT_KVM_FAULT";
	const char *env[] = { var, NULL };

	if (fault)
		snprintf(var, sizeof(var), "MEMSLOT_KVM_FAULT=%s", fault);
	return cli_run(r, &(struct cli_opts){ .env = env }, args);
}

#define RUN(r, ...) run_env(r, NULL, (const char *const[]){ __VA_ARGS__, NULL })

/* --verify needs the BPF tracer and census: root (CAP_BPF, CAP_PERFMON). */
#define NEED_BPF() do {								\
		if (geteuid())							\
			SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");	\
	} while (0)

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Index of the first step of @doc whose command is @cmd, or SIZE_MAX. */
static size_t step_index(struct json_object *doc, const char *cmd)
{
	struct json_object *steps = jget(doc, "steps");

	for (size_t i = 0; i < jget_len(steps); i++) {
		const char *c = jget_str(jget_idx(steps, i), "command");

		if (c && !strcmp(c, cmd))
			return i;
	}
	return SIZE_MAX;
}

/* The step of @doc whose command is @cmd (the first one), or NULL. */
static struct json_object *step_of(struct json_object *doc, const char *cmd)
{
	return jget_idx(jget(doc, "steps"), step_index(doc, cmd));
}

/* KVM address spaces the library sets memslots in: 2 where KVM has SMM. */
static unsigned int nr_as(void)
{
	static unsigned int n;

	if (!n)
		n = kvm_smm() ? 2 : 1;
	return n;
}

/* Row of @table with "slot" @slot in address space @as, or NULL. */
static struct json_object *row_of_as(struct json_object *table, uint64_t slot, uint64_t as)
{
	for (size_t i = 0; i < jget_len(table); i++)
		if (jget_u64(jget_idx(table, i), "slot") == slot &&
		    jget_u64(jget_idx(table, i), "as") == as)
			return jget_idx(table, i);
	return NULL;
}

/* Row of @table with "slot" @slot in address space 0, or NULL. */
static struct json_object *row_of(struct json_object *table, uint64_t slot)
{
	return row_of_as(table, slot, 0);
}

/* Row of @table at guest address @gpa, or NULL. */
static struct json_object *row_at(struct json_object *table, uint64_t gpa)
{
	for (size_t i = 0; i < jget_len(table); i++)
		if (jget_u64(jget_idx(table, i), "gpa") == gpa)
			return jget_idx(table, i);
	return NULL;
}

/* Device @id of a step's "devices", or NULL. */
static struct json_object *device_of(struct json_object *step, const char *id)
{
	struct json_object *d = jget(step, "devices");

	for (size_t i = 0; i < jget_len(d); i++)
		if (jget_str(jget_idx(d, i), "id") && !strcmp(jget_str(jget_idx(d, i), "id"), id))
			return jget_idx(d, i);
	return NULL;
}

/*
 * The library's rows and the kernel's rows describe the same slots:
 * (slot, as, gpa, size, flags) for every row, both ways.
 */
static bool tables_equal(struct __test_metadata *_metadata, struct json_object *step)
{
	struct json_object *lib = jget(step, "memslots"), *kern = jget(step, "kernel_memslots");
	static const char *const keys[] = { "as", "gpa", "size", "flags" };
	bool same = jget_len(lib) == jget_len(kern) && jget_len(lib) > 0;

	for (size_t i = 0; i < jget_len(lib) && same; i++) {
		struct json_object *a = jget_idx(lib, i);
		struct json_object *b = row_of_as(kern, jget_u64(a, "slot"), jget_u64(a, "as"));

		if (!b) {
			TH_LOG("slot %" PRIu64 " is not in the kernel", jget_u64(a, "slot"));
			same = false;
			break;
		}
		for (size_t k = 0; k < 4; k++) {
			if (jget_u64(a, keys[k]) != jget_u64(b, keys[k])) {
				TH_LOG("slot %" PRIu64 ": %s 0x%" PRIx64 " in the library, 0x%"
				       PRIx64 " in the kernel", jget_u64(a, "slot"), keys[k],
				       jget_u64(a, keys[k]), jget_u64(b, keys[k]));
				same = false;
			}
		}
	}
	return same;
}

/* Every step passed: ok, consistent, verified with pages, equal tables. */
/*
 * Every step's "kernel_verify" of a run with --verify passed: the census of
 * the VM equals the library's table, every ioctl that reached the kernel
 * was traced, device memory agrees, nothing was lost, and KVM made the
 * changes the library asked for.
 */
static void check_kernel_verify(struct __test_metadata *_metadata, struct json_object *doc)
{
	struct json_object *steps = jget(doc, "steps"), *kc;
	uint64_t changes = 0;

	EXPECT_TRUE(jget_bool(doc, "kernel_verify"));
	EXPECT_LT(0, jget_len(steps));
	for (size_t i = 0; i < jget_len(steps); i++) {
		struct json_object *s = jget_idx(steps, i), *kv = jget(s, "kernel_verify");
		uint64_t injected = jget_u64(kv, "injected_faults");

		ASSERT_NE(NULL, kv) TH_LOG("step %zu", i);
		EXPECT_TRUE(jget_bool(kv, "ok")) TH_LOG("%s: %s", jget_str(s, "command"),
						       json_object_to_json_string(kv));
		EXPECT_EQ(jget_len(jget(s, "memslots")), jget_u64(kv, "census_slots"));
		EXPECT_EQ(jget_u64(kv, "library_slots"), jget_u64(kv, "census_slots"));
		EXPECT_EQ(jget_len(jget(s, "kernel_memslots")), jget_u64(kv, "census_slots"));
		EXPECT_EQ(jget_u64(jget(s, "kvm"), "ioctls") - injected,
			  jget_u64(kv, "traced_ioctls"));
		EXPECT_EQ(jget_u64(kv, "issued_ioctls"), jget_u64(kv, "traced_ioctls"));
		EXPECT_EQ(jget_u64(jget(s, "kvm"), "failures") - injected,
			  jget_u64(kv, "traced_failures"));
		EXPECT_EQ(jget_u64(jget(s, "accounting"), "used_memslots"),
			  jget_u64(kv, "devmem_kernel_slots"))
			TH_LOG("%s", json_object_to_json_string(jget(s, "accounting")));
		EXPECT_EQ(0, jget_u64(kv, "lost_events"));
		EXPECT_EQ(0, jget_len(jget(kv, "differences")));
		/*
		 * KVM's own changes where kvm_set_memslot() can be probed (the
		 * test kernels): one per create, delete and flags update of a
		 * step without failures, never a move.
		 */
		kc = jget(kv, "kvm_changes");
		if (!kc || jget_u64(jget(s, "kvm"), "failures"))
			continue;
		EXPECT_EQ(jget_u64(jget(s, "kvm"), "creates"), jget_u64(kc, "create"));
		EXPECT_EQ(jget_u64(jget(s, "kvm"), "deletes"), jget_u64(kc, "delete"));
		EXPECT_EQ(jget_u64(jget(s, "kvm"), "updates"), jget_u64(kc, "flags_only"));
		EXPECT_EQ(0, jget_u64(kc, "move"));
		changes += jget_u64(kc, "create") + jget_u64(kc, "delete");
	}
	/* the kernels with kprobes have the probe: it must have seen the run */
	if (!access("/sys/bus/event_source/devices/kprobe/type", F_OK)) {
		EXPECT_LT(0, changes);
	}
}

static void check_all_steps(struct __test_metadata *_metadata, struct json_object *doc)
{
	struct json_object *steps = jget(doc, "steps");

	EXPECT_LE(1, jget_len(steps));
	EXPECT_STREQ("start", jget_str(jget_idx(steps, 0), "command"));
	for (size_t i = 0; i < jget_len(steps); i++) {
		struct json_object *s = jget_idx(steps, i), *v = jget(s, "verification");

		EXPECT_TRUE(jget_bool(s, "ok"))
			TH_LOG("step %zu (%s): %s", i, jget_str(s, "command"),
			       jget_str(s, "error") ?: "a check failed");
		EXPECT_TRUE(jget_bool(s, "consistent")) TH_LOG("step %zu", i);
		EXPECT_TRUE(jget_bool(v, "ok")) TH_LOG("step %zu", i);
		EXPECT_LT(0, jget_u64(v, "pages")) TH_LOG("step %zu", i);
		EXPECT_EQ(0, jget_u64(v, "unslotted"));
		EXPECT_TRUE(jget_bool(jget(v, "mmio"), "ok")) TH_LOG("step %zu", i);
		EXPECT_TRUE(jget_bool(jget(v, "rom_write"), "ok")) TH_LOG("step %zu", i);
		EXPECT_TRUE(tables_equal(_metadata, s)) TH_LOG("step %zu", i);
	}
	EXPECT_TRUE(jget_bool(doc, "ok"));
	EXPECT_EQ(0, jget_u64(doc, "checks_failed"));
}

/* --- the default scenario ------------------------------------------------------ */

TEST(default_scenario_text)
{
	const char *res;
	struct cli_result r;
	double mib = 0;
	int end = 0;

	NEED_KVM();
	ASSERT_EQ(0, RUN(&r, "run"));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_STREQ("", r.err);
	/* the issue: boot, verify and exit 0 in under a minute */
	EXPECT_GT(60.0, r.secs);
	EXPECT_NE(NULL, strstr(r.out, "\nstart:\n"));
	EXPECT_NE(NULL, strstr(r.out, "\nline 3: device_add pc-dimm,id=d0,memdev=mem-d0\n"));
	EXPECT_NE(NULL, strstr(r.out, "slot  as  gpa                 size                flags    "
				      "region          backend         verified\n"));
	EXPECT_NE(NULL, strstr(r.out, "  verify: ok, "));
	EXPECT_NE(NULL, strstr(r.out, "  rom: ok, write to 0xfffc0000 (pc.bios) exited, "
				      "memory unchanged\n"));
	EXPECT_NE(NULL, strstr(r.out, "  kernel: ok, "));
	EXPECT_EQ(NULL, strstr(r.out, "FAIL"));
	EXPECT_NE(NULL, strstr(r.out, "\nresult: ok, "));
	/* the summary ends with the peak RSS (getrusage), in MiB with one decimal */
	res = strstr(r.out, "\nresult: ok, ");
	ASSERT_NE(NULL, res);
	res = strstr(res, ", peak RSS ");
	ASSERT_NE(NULL, res) TH_LOG("no peak RSS in the result line");
	EXPECT_EQ(1, sscanf(res, ", peak RSS %lf MiB\n%n", &mib, &end));
	EXPECT_LT(0.0, mib);
	EXPECT_EQ('\0', res[end]);
	/* boot RAM: slot 4 is pc.ram above 1 MiB (the PAM split), verified */
	EXPECT_TRUE(has_line(r.out, "   4   0  0x0000000000100000  0x000000001ff00000  -        "
				    "pc.ram          pc.ram               257"));
	TH_LOG("default scenario: %.2f s", r.secs);
	cli_result_free(&r);
}

/* The default scenario verifies against the kernel by default (root here). */
TEST(default_scenario_verify)
{
	struct json_object *doc;
	struct cli_result r;
	char want[160];
	size_t steps;
	bool smm;

	NEED_KVM();
	NEED_BPF();
	ASSERT_EQ(0, RUN(&r, "run"));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_STREQ("", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\nkernel verification: tracer "));
	steps = count_of(r.out, "\nstart:\n") + count_of(r.out, "\nline ");
	EXPECT_EQ(12, steps);
	EXPECT_EQ(steps, count_of(r.out, "\n  verified against the kernel: ok (census "));
	/*
	 * The start: 5 slots, 6 creates and 1 delete in address space 0; with
	 * SMM the same 5 slots in address space 1, created once each.
	 */
	smm = kvm_smm();
	snprintf(want, sizeof(want), "\n  verified against the kernel: ok (census %d slots == "
		 "library, %d ioctls traced == issued", smm ? 10 : 5, smm ? 12 : 7);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	/* KVM's own changes where the kernel has the probe */
	if (!access("/sys/bus/event_source/devices/kprobe/type", F_OK))
		snprintf(want, sizeof(want), "%d ioctls traced == issued; KVM: %d create, 1 delete, "
			 "0 move, 0 flags_only, 0 internal)\n", smm ? 12 : 7, smm ? 11 : 6);
	else
		snprintf(want, sizeof(want), "%d ioctls traced == issued)\n", smm ? 12 : 7);
	EXPECT_NE(NULL, strstr(r.out, want)) TH_LOG("%s", want);
	EXPECT_EQ(NULL, strstr(r.out, "FAIL"));
	cli_result_free(&r);

	/* --verify given explicitly, JSON */
	ASSERT_EQ(0, RUN(&r, "-j", "run", "--verify"));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(12, jget_len(jget(doc, "steps")));
	check_kernel_verify(_metadata, doc);
	EXPECT_TRUE(jget_bool(doc, "ok"));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST(default_scenario_json)
{
	struct json_object *doc, *s, *rows, *row, *vm;
	struct cli_result r;

	NEED_KVM();
	ASSERT_EQ(0, RUN(&r, "-j", "run"));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("not one JSON document: %.300s", r.out);
	check_all_steps(_metadata, doc);
	EXPECT_EQ(12, jget_len(jget(doc, "steps")));
	EXPECT_STREQ("q35", jget_str(jget(doc, "machine"), "type"));
	EXPECT_EQ(512 * MIB, jget_u64(jget(doc, "machine"), "ram_size"));
	EXPECT_STREQ("(default)", jget_str(doc, "script"));
	/* ru_maxrss (KiB) in bytes */
	EXPECT_LT(1 * MIB, jget_u64(doc, "peak_rss_bytes"));
	EXPECT_EQ(0, jget_u64(doc, "peak_rss_bytes") % 1024);

	/* the rows: memslot_json keys plus backend and verified_pages */
	rows = jget(jget_idx(jget(doc, "steps"), 0), "memslots");
	row = row_of(rows, 1);
	EXPECT_EQ(0xfffc0000, jget_u64(row, "gpa"));
	EXPECT_EQ(2, jget_u64(row, "flags"));	/* READONLY */
	EXPECT_STREQ("pc.bios", jget_str(row, "region"));
	EXPECT_TRUE(jget(row, "backend") == NULL &&
		    json_object_object_get_ex(row, "backend", NULL));
	EXPECT_TRUE(json_object_object_get_ex(row, "verified_pages", NULL));
	row = row_of(rows, 4);
	EXPECT_STREQ("pc.ram", jget_str(row, "backend"));
	EXPECT_LT(0, jget_u64(row, "verified_pages"));

	/* the first DIMM: one create, its own slot, verified */
	s = step_of(doc, "device_add pc-dimm,id=d0,memdev=mem-d0");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(1 * nr_as(), jget_u64(jget(s, "kvm"), "ioctls"));
	EXPECT_EQ(1 * nr_as(), jget_u64(jget(s, "kvm"), "creates"));
	row = row_at(jget(s, "memslots"), jget_u64(device_of(s, "d0"), "addr"));
	EXPECT_STREQ("mem-d0", jget_str(row, "backend"));
	EXPECT_EQ(GIB, jget_u64(row, "size"));
	EXPECT_LT(0, jget_u64(row, "verified_pages"));

	/* virtio-mem: 4 memslots of 1 GiB, plugging [512M, 1.5G) maps 0 and 1 */
	s = step_of(doc, "virtio-mem plug vm0 512M 1G");
	ASSERT_NE(NULL, s);
	vm = device_of(s, "vm0");
	EXPECT_EQ(4, jget_u64(vm, "memslots"));
	EXPECT_EQ(2, jget_u64(vm, "memslots_used"));
	EXPECT_EQ(2 * nr_as(), jget_u64(jget(s, "kvm"), "creates"));
	EXPECT_NE(NULL, row_at(jget(s, "memslots"), jget_u64(vm, "memaddr")));
	EXPECT_NE(NULL, row_at(jget(s, "memslots"), jget_u64(vm, "memaddr") + GIB));
	EXPECT_EQ(2, jget_u64(jget(s, "accounting"), "reserved_memslots"));

	/* unplugging [1G, 1.5G) empties memslot 1: one delete, 0 and 2 stay */
	s = step_of(doc, "virtio-mem unplug vm0 1G 512M");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(1 * nr_as(), jget_u64(jget(s, "kvm"), "deletes"));
	EXPECT_EQ(NULL, row_at(jget(s, "memslots"), jget_u64(vm, "memaddr") + GIB));
	/* the mmio check reads where the memslot was: it exits, unassigned */
	EXPECT_EQ(jget_u64(vm, "memaddr") + GIB,
		  jget_u64(jget(jget(s, "verification"), "mmio"), "gpa"));

	s = step_of(doc, "device_del d0");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(1 * nr_as(), jget_u64(jget(s, "kvm"), "deletes"));
	EXPECT_EQ(NULL, device_of(s, "d0"));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST(dirty_log)
{
	struct json_object *doc, *steps;
	struct cli_result r;

	NEED_KVM();
	ASSERT_EQ(0, RUN(&r, "-j", "run", "--dirty-log"));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	check_all_steps(_metadata, doc);
	steps = jget(doc, "steps");
	for (size_t i = 0; i < jget_len(steps); i++) {
		struct json_object *s = jget_idx(steps, i), *rows = jget(s, "memslots");
		struct json_object *d = jget(jget(s, "verification"), "dirty_log");

		EXPECT_TRUE(jget_bool(d, "ok")) TH_LOG("step %zu: %s", i, jget_str(d, "error"));
		EXPECT_LT(0, jget_u64(d, "pages"));
		for (size_t k = 0; k < jget_len(rows); k++) {
			struct json_object *row = jget_idx(rows, k), *dp = jget(row, "dirty_pages");
			struct json_object *vp = jget(row, "verified_pages");

			/* migration logs every slot of migratable RAM (rule 6.3) */
			EXPECT_TRUE(jget_u64(row, "flags") & 1)
				TH_LOG("slot %" PRIu64, jget_u64(row, "slot"));
			if (dp && vp)
				EXPECT_LE(json_object_get_uint64(vp), json_object_get_uint64(dp));
		}
	}
	json_object_put(doc);
	cli_result_free(&r);
}

TEST(cpu_option)
{
	struct json_object *doc;
	cpu_set_t set;
	struct cli_result r;

	NEED_KVM();
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	if (!CPU_ISSET(1, &set))
		SKIP(return, "CPU 1 is not in this process's affinity mask");
	ASSERT_EQ(0, RUN(&r, "-j", "run", "--cpu", "1", "-M", "pc", "-m", "128M"));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	EXPECT_EQ(1, jget_u64(jget(doc, "kvm"), "cpu"));
	/* no script: the start only */
	EXPECT_EQ(1, jget_len(jget(doc, "steps")));
	check_all_steps(_metadata, doc);
	json_object_put(doc);
	cli_result_free(&r);
}

/* --- usage and errors ---------------------------------------------------------- */

TEST(usage_errors)
{
	static const struct {
		const char *args[8];
		int status;
		const char *line;
	} c[] = {
		{ { "run", "--kvm-memslots", "8" }, 2, "memslot: run: unknown option: --kvm-memslots" },
		{ { "run", "--vhost-limit", "8" }, 2, "memslot: run: unknown option: --vhost-limit" },
		{ { "run", "--full=yes" }, 2, "memslot: run: option takes no argument: --full=yes" },
		{ { "run", "--cpu", "x" }, 2, "memslot: run: invalid CPU number: x" },
		{ { "run", "--cpu", "100000" }, 2, "memslot: run: invalid CPU number: 100000" },
		{ { "run", "-M", "pc,accel=tcg" }, 2,
		  "memslot: run: accel=tcg: the guest runs under KVM" },
		{ { "run", "--script", "/nonexistent/x.scn" }, 1,
		  "memslot: run: /nonexistent/x.scn: No such file or directory" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct cli_result r;

		ASSERT_EQ(0, run_env(&r, NULL, c[i].args));
		EXPECT_EQ(c[i].status, r.status) TH_LOG("case %zu: %s", i, r.err);
		EXPECT_TRUE(has_line(r.err, c[i].line)) TH_LOG("case %zu: got \"%s\"", i, r.err);
		EXPECT_STREQ("", r.out ?: "");
		cli_result_free(&r);
	}
}

TEST(help)
{
	struct cli_result r;

	ASSERT_EQ(0, RUN(&r, "run", "--help"));
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "Usage: memslot [OPTIONS] run "));
	EXPECT_NE(NULL, strstr(r.out, "--dirty-log"));
	cli_result_free(&r);
}

/* A command that fails for a QEMU reason stops the run: exit 1, QEMU's text. */
TEST(failing_command)
{
	char path[] = "/tmp/memslot-run-script.XXXXXX";
	static const char text[] =
		"object_add memory-backend-ram,id=m0,size=256M\n"
		"device_add pc-dimm,id=d0,memdev=m0\n"
		"device_add pc-dimm,id=d1,memdev=nope\n"
		"device_del d0\n";
	struct json_object *doc, *steps, *last;
	struct cli_result r;
	int fd;

	NEED_KVM();
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(text), write(fd, text, strlen(text)));
	close(fd);
	ASSERT_EQ(0, RUN(&r, "-j", "run", "-M", "q35", "-m", "256M,slots=2,maxmem=2G",
			 "--script", path));
	unlink(path);
	EXPECT_EQ(1, r.status);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc);
	steps = jget(doc, "steps");
	EXPECT_EQ(4, jget_len(steps));		/* start and lines 1-3: line 4 did not run */
	last = jget_idx(steps, jget_len(steps) - 1);
	EXPECT_FALSE(jget_bool(last, "step_ok"));
	EXPECT_STREQ("Device 'nope' not found", jget_str(last, "error"));
	EXPECT_TRUE(jget_bool(last, "consistent"));
	EXPECT_TRUE(jget_bool(jget(last, "verification"), "ok"));
	EXPECT_FALSE(jget_bool(doc, "ok"));
	EXPECT_NE(NULL, strstr(r.err, "memslot: run: "));
	EXPECT_NE(NULL, strstr(r.err, ":3: Device 'nope' not found"));
	json_object_put(doc);
	cli_result_free(&r);
}

/*
 * A bad MEMSLOT_KVM_FAULT stops the run before the VM: the tool parses it
 * (ms_kvm_fault_parse()), the library never reads the environment.
 */
TEST(fault_env_bad)
{
	static const char *const bad[] = { "x", "0:ENOMEM", "3:EFOO", "2:ENOMEM:1" };
	struct cli_result r;
	char want[128];

	NEED_KVM();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, run_env(&r, bad[i], (const char *const[]){ "run", NULL }));
		EXPECT_EQ(1, r.status) TH_LOG("MEMSLOT_KVM_FAULT=%s", bad[i]);
		snprintf(want, sizeof(want), "memslot: run: cannot create a KVM VM: "
			 "MEMSLOT_KVM_FAULT: bad value: %s (want N:ERRNO)", bad[i]);
		EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("stderr: %s", r.err);
		EXPECT_STREQ("", r.out ?: "");
		cli_result_free(&r);
	}
}

/* --- scripted scenarios -------------------------------------------------------- */

FIXTURE(scn) {
	char path[512];
};

FIXTURE_VARIANT(scn) {
	const char *file;
	const char *args[12];
};

FIXTURE_VARIANT_ADD(scn, dimm_churn) {
	.file = "dimm-churn.scn",
	.args = { "-M", "q35", "-m", "512M,slots=8,maxmem=16G" },
};

FIXTURE_VARIANT_ADD(scn, vmem_many) {
	.file = "vmem-many.scn",
	.args = { "-M", "q35", "-m", "512M,maxmem=100G",
		  "-object", "memory-backend-ram,id=mem-vm0,size=96G",
		  "-device", "virtio-mem-pci,id=vm0,memdev=mem-vm0,dynamic-memslots=on" },
};

FIXTURE_VARIANT_ADD(scn, rom_mmio) {
	.file = "rom-mmio.scn",
	.args = { "-M", "pc,nvdimm=on", "-m", "256M,slots=4,maxmem=4G" },
};

FIXTURE_VARIANT_ADD(scn, vmem_resize) {
	.file = "vmem-resize.scn",
	.args = { "-M", "q35", "-m", "512M,maxmem=8G",
		  "-object", "memory-backend-ram,id=mem-vm0,size=4G",
		  "-device", "virtio-mem-pci,id=vm0,memdev=mem-vm0,dynamic-memslots=on" },
};

FIXTURE_SETUP(scn)
{
	snprintf(self->path, sizeof(self->path), "%s/%s", scn_dir(), variant->file);
}

FIXTURE_TEARDOWN(scn)
{
}

/* Run the variant's scenario with -j (and @extra); the document or NULL. */
static struct json_object *run_scn(struct __test_metadata *_metadata, const char *path,
				   const char *const *vargs, const char *fault, const char *extra,
				   struct cli_result *r)
{
	const char *args[32];
	size_t n = 0;

	args[n++] = "-j";
	args[n++] = "run";
	while (*vargs)
		args[n++] = *vargs++;
	args[n++] = "--script";
	args[n++] = path;
	if (extra)
		args[n++] = extra;
	args[n] = NULL;
	if (run_env(r, fault, args))
		return NULL;
	return parse_one(r->out);
}

/* The step whose command starts with @prefix (the first), or NULL. */
static struct json_object *step_with(struct json_object *doc, const char *prefix)
{
	struct json_object *steps = jget(doc, "steps");

	for (size_t i = 0; i < jget_len(steps); i++) {
		const char *c = jget_str(jget_idx(steps, i), "command");

		if (c && !strncmp(c, prefix, strlen(prefix)))
			return jget_idx(steps, i);
	}
	return NULL;
}

static void dimm_churn_checks(struct __test_metadata *_metadata, struct json_object *doc)
{
	struct json_object *s, *d;
	uint64_t d1_addr, d0_addr, d0_slot;

	s = step_with(doc, "device_add pc-dimm,id=d1,memdev=m1");
	ASSERT_NE(NULL, s);
	d1_addr = jget_u64(device_of(s, "d1"), "addr");
	d0_addr = jget_u64(device_of(s, "d0"), "addr");
	/* d0 first at the device-memory base (4 GiB: 512 MiB RAM all below) */
	EXPECT_EQ(4 * GIB, d0_addr);
	EXPECT_EQ(d0_addr + GIB, d1_addr);
	d0_slot = jget_u64(row_at(jget(s, "memslots"), d0_addr), "slot");

	/* d3 (256 MiB) and d4 (128 MiB) fill d1's 512 MiB hole, first fit */
	s = step_with(doc, "device_add pc-dimm,id=d3,memdev=m3");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(d1_addr, jget_u64(device_of(s, "d3"), "addr"));
	/* rule 5.4: the lowest free DIMM slot, the one d1 left */
	EXPECT_EQ(1, jget_u64(device_of(s, "d3"), "slot"));
	s = step_with(doc, "device_add pc-dimm,id=d4,memdev=m4");
	EXPECT_EQ(d1_addr + 256 * MIB, jget_u64(device_of(s, "d4"), "addr"));
	EXPECT_EQ(3, jget_u64(device_of(s, "d4"), "slot"));

	/* m1 again goes to d0's hole and gets d0's old KVM slot id (lowest free) */
	s = jget_idx(jget(doc, "steps"), step_index(doc, "device_del d0") + 1);
	ASSERT_NE(NULL, s);
	d = device_of(s, "d1");
	EXPECT_EQ(d0_addr, jget_u64(d, "addr"));
	EXPECT_EQ(0, jget_u64(d, "slot"));
	EXPECT_EQ(d0_slot, jget_u64(row_at(jget(s, "memslots"), d0_addr), "slot"));
	EXPECT_STREQ("m1", jget_str(row_at(jget(s, "memslots"), d0_addr), "backend"));

	/* everything unplugged at the end: only the boot slots are left */
	s = jget_idx(jget(doc, "steps"), jget_len(jget(doc, "steps")) - 1);
	EXPECT_EQ(5 * nr_as(), jget_len(jget(s, "memslots")));
	EXPECT_EQ(0, jget_u64(jget(s, "accounting"), "used_region_size"));
}

static void vmem_many_checks(struct __test_metadata *_metadata, struct json_object *doc)
{
	struct json_object *s, *vm;
	size_t max_rows = 0;

	s = step_with(doc, "virtio-mem plug vm0 0 64G");
	ASSERT_NE(NULL, s);
	vm = device_of(s, "vm0");
	/* rule 10.2: 96 GiB, limit well above 96: memslots of 1 GiB */
	EXPECT_EQ(96, jget_u64(vm, "memslots"));
	EXPECT_EQ(GIB, jget_u64(vm, "memslot_size"));
	EXPECT_EQ(64, jget_u64(vm, "memslots_used"));
	EXPECT_EQ(64 * nr_as(), jget_u64(jget(s, "kvm"), "creates"));
	EXPECT_EQ(64 * nr_as(), jget_u64(jget(s, "kvm"), "ioctls"));
	/* rule 10.5: one KVM slot per activated memslot, each verified */
	for (uint64_t i = 0; i < 64; i++) {
		struct json_object *row = row_at(jget(s, "memslots"),
						 jget_u64(vm, "memaddr") + i * GIB);

		EXPECT_NE(NULL, row) TH_LOG("memslot %" PRIu64, i);
		EXPECT_EQ(GIB, jget_u64(row, "size"));
		EXPECT_LT(0, jget_u64(row, "verified_pages"));
	}
	for (size_t i = 0; i < jget_len(jget(doc, "steps")); i++) {
		size_t n = jget_len(jget(jget_idx(jget(doc, "steps"), i), "memslots"));

		max_rows = n > max_rows ? n : max_rows;
	}
	EXPECT_LE((5 + 64 + 1 + 16) * nr_as(), max_rows);

	/* rule 10.6: unplugging [1G, 31G) empties memslots 1-30 */
	s = step_with(doc, "virtio-mem unplug vm0 1G 30G");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(30 * nr_as(), jget_u64(jget(s, "kvm"), "deletes"));
	EXPECT_EQ(0, jget_u64(jget(s, "kvm"), "creates"));
	s = step_with(doc, "virtio-mem plug vm0 10G 1G");
	EXPECT_EQ(1 * nr_as(), jget_u64(jget(s, "kvm"), "creates"));
}

static void rom_mmio_checks(struct __test_metadata *_metadata, struct json_object *doc)
{
	struct json_object *s, *rom, *row;
	uint64_t addr;

	s = step_with(doc, "device_add pc-dimm,id=drom,memdev=rom0");
	ASSERT_NE(NULL, s);
	addr = jget_u64(device_of(s, "drom"), "addr");
	row = row_at(jget(s, "memslots"), addr);
	EXPECT_EQ(2, jget_u64(row, "flags"));		/* READONLY: a ROM region */
	EXPECT_STREQ("rom0", jget_str(row, "backend"));
	rom = jget(jget(s, "verification"), "rom_write");
	EXPECT_EQ(addr, jget_u64(rom, "gpa"));
	EXPECT_TRUE(jget_bool(rom, "exited"));
	EXPECT_TRUE(jget_bool(rom, "unchanged"));

	s = step_with(doc, "device_del drom");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(addr, jget_u64(jget(jget(s, "verification"), "mmio"), "gpa"));
	EXPECT_LE(1, jget_u64(jget(jget(s, "verification"), "mmio"), "exits"));
	EXPECT_STREQ("", jget_str(jget(jget(s, "verification"), "mmio"), "region"));

	s = step_with(doc, "info mtree");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(addr, jget_u64(device_of(s, "drom"), "addr"));	/* back in the hole */
}

static void vmem_resize_checks(struct __test_metadata *_metadata, struct json_object *doc)
{
	struct json_object *s;

	s = step_with(doc, "virtio-mem plug vm0 0 3G");
	ASSERT_NE(NULL, s);
	EXPECT_EQ(3 * nr_as(), jget_u64(jget(s, "kvm"), "creates"));
	s = step_with(doc, "virtio-mem unplug vm0 512M 2G");
	EXPECT_EQ(1 * nr_as(), jget_u64(jget(s, "kvm"), "deletes"));
	EXPECT_EQ(2, jget_u64(device_of(s, "vm0"), "memslots_used"));
	s = step_with(doc, "virtio-mem unplug-all vm0");
	EXPECT_EQ(2 * nr_as(), jget_u64(jget(s, "kvm"), "deletes"));
	EXPECT_EQ(0, jget_u64(device_of(s, "vm0"), "memslots_used"));
}

TEST_F(scn, passes)
{
	struct json_object *doc;
	struct cli_result r;

	NEED_KVM();
	doc = run_scn(_metadata, self->path, variant->args, NULL, NULL, &r);
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	ASSERT_NE(NULL, doc) TH_LOG("not one JSON document: %.300s", r.out);
	check_all_steps(_metadata, doc);
	TH_LOG("%s: %zu steps in %.2f s", variant->file, jget_len(jget(doc, "steps")), r.secs);
	if (!strcmp(variant->file, "dimm-churn.scn"))
		dimm_churn_checks(_metadata, doc);
	else if (!strcmp(variant->file, "vmem-many.scn"))
		vmem_many_checks(_metadata, doc);
	else if (!strcmp(variant->file, "rom-mmio.scn"))
		rom_mmio_checks(_metadata, doc);
	else
		vmem_resize_checks(_metadata, doc);
	json_object_put(doc);
	cli_result_free(&r);
}

/* The text report of the same scenario: exit 0, no FAIL. */
TEST_F(scn, text)
{
	const char *args[24];
	struct cli_result r;
	size_t n = 0;

	NEED_KVM();
	args[n++] = "run";
	for (const char *const *a = variant->args; *a; a++)
		args[n++] = *a;
	args[n++] = "--script";
	args[n++] = self->path;
	args[n] = NULL;
	ASSERT_EQ(0, run_env(&r, NULL, args));
	EXPECT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	EXPECT_EQ(NULL, strstr(r.out, "FAIL"));
	EXPECT_NE(NULL, strstr(r.out, "\nresult: ok, "));
	cli_result_free(&r);
}

/* --- fault injection ------------------------------------------------------------- */

FIXTURE(fault) {
	char path[512];
};

FIXTURE_VARIANT(fault) {
	const char *file;
	const char *command;	/* the step whose ioctls fail one by one */
	const char *qemu;	/* QEMU's text for it (kvm-memslots.md 6.1, 6.2) */
	uint64_t ioctls;	/* what the step issues without faults */
	const char *args[12];
};

FIXTURE_VARIANT_ADD(fault, dimm_plug) {
	.file = "dimm-churn.scn",
	.command = "device_add pc-dimm,id=d2,memdev=m2",
	.qemu = "kvm_set_phys_mem: error registering slot: Cannot allocate memory",
	.ioctls = 1,
	.args = { "-M", "q35", "-m", "512M,slots=8,maxmem=16G" },
};

FIXTURE_VARIANT_ADD(fault, dimm_unplug) {
	.file = "dimm-churn.scn",
	.command = "device_del d1",
	.qemu = "kvm_set_phys_mem: error unregistering slot: Cannot allocate memory",
	.ioctls = 1,
	.args = { "-M", "q35", "-m", "512M,slots=8,maxmem=16G" },
};

FIXTURE_VARIANT_ADD(fault, vmem_grow) {
	.file = "vmem-resize.scn",
	.command = "virtio-mem plug vm0 0 3G",
	.qemu = "kvm_set_phys_mem: error registering slot: Cannot allocate memory",
	.ioctls = 3,
	.args = { "-M", "q35", "-m", "512M,maxmem=8G",
		  "-object", "memory-backend-ram,id=mem-vm0,size=4G",
		  "-device", "virtio-mem-pci,id=vm0,memdev=mem-vm0,dynamic-memslots=on" },
};

FIXTURE_VARIANT_ADD(fault, vmem_shrink) {
	.file = "vmem-resize.scn",
	.command = "virtio-mem unplug-all vm0",
	.qemu = "kvm_set_phys_mem: error unregistering slot: Cannot allocate memory",
	.ioctls = 2,
	.args = { "-M", "q35", "-m", "512M,maxmem=8G",
		  "-object", "memory-backend-ram,id=mem-vm0,size=4G",
		  "-device", "virtio-mem-pci,id=vm0,memdev=mem-vm0,dynamic-memslots=on" },
};

FIXTURE_SETUP(fault)
{
	snprintf(self->path, sizeof(self->path), "%s/%s", scn_dir(), variant->file);
}

FIXTURE_TEARDOWN(fault)
{
}

TEST_F(fault, every_ioctl)
{
	struct json_object *clean, *s;
	uint64_t first, n;
	size_t at;
	struct cli_result r;

	NEED_KVM();
	clean = run_scn(_metadata, self->path, variant->args, NULL, NULL, &r);
	ASSERT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	ASSERT_NE(NULL, clean);
	cli_result_free(&r);
	at = step_index(clean, variant->command);
	ASSERT_NE(SIZE_MAX, at);
	s = jget_idx(jget(clean, "steps"), at);
	first = jget_u64(jget(s, "kvm"), "ioctl_first");
	n = jget_u64(jget(s, "kvm"), "ioctls");
	/* the minimum: one ioctl per memslot created or deleted, in each address space */
	EXPECT_EQ(variant->ioctls * nr_as(), n);

	for (uint64_t k = 0; k < n; k++) {
		struct json_object *doc, *steps, *last, *prev, *ke;
		char fault[64];

		snprintf(fault, sizeof(fault), "%" PRIu64 ":ENOMEM", first + k);
		doc = run_scn(_metadata, self->path, variant->args, fault, NULL, &r);
		EXPECT_EQ(1, r.status) TH_LOG("fault %s", fault);
		ASSERT_NE(NULL, doc) TH_LOG("fault %s: %.300s", fault, r.out);
		steps = jget(doc, "steps");
		/* the run stops at the failing step, after checking it */
		EXPECT_EQ(at + 1, jget_len(steps)) TH_LOG("fault %s", fault);
		last = jget_idx(steps, jget_len(steps) - 1);
		prev = jget_idx(steps, jget_len(steps) - 2);
		EXPECT_STREQ(variant->command, jget_str(last, "command"));
		EXPECT_FALSE(jget_bool(last, "step_ok"));
		ke = jget(last, "kvm_error");
		EXPECT_EQ(ENOMEM, jget_u64(ke, "errno"));
		EXPECT_NE(NULL, strstr(jget_str(ke, "explanation") ?: "", "(injected fault)"));
		EXPECT_NE(NULL, strstr(jget_str(last, "error") ?: "", variant->qemu))
			TH_LOG("fault %s: %s", fault, jget_str(last, "error"));
		/* QEMU's text and the binding's explanation, on stderr too */
		EXPECT_NE(NULL, strstr(r.err, variant->qemu)) TH_LOG("stderr: %s", r.err);
		EXPECT_NE(NULL, strstr(r.err, "; kvm: slot "));
		EXPECT_NE(NULL, strstr(r.err, "(injected fault)"));
		/* library and kernel agree, the guest sees exactly that */
		EXPECT_TRUE(tables_equal(_metadata, last)) TH_LOG("fault %s", fault);
		EXPECT_TRUE(jget_bool(last, "consistent"));
		EXPECT_TRUE(jget_bool(jget(last, "verification"), "ok")) TH_LOG("fault %s", fault);
		EXPECT_EQ(0, jget_u64(jget(last, "verification"), "unslotted"));
		/* the accounting is the step before's, and so is the memslot table */
		EXPECT_TRUE(json_object_equal(jget(prev, "accounting"), jget(last, "accounting")))
			TH_LOG("fault %s: before %s, after %s", fault,
			       json_object_to_json_string(jget(prev, "accounting")),
			       json_object_to_json_string(jget(last, "accounting")));
		EXPECT_TRUE(jget_bool(last, "accounting_unchanged"));
		EXPECT_EQ(jget_len(jget(prev, "memslots")), jget_len(jget(last, "memslots")));
		for (size_t i = 0; i < jget_len(jget(prev, "memslots")); i++) {
			struct json_object *a = jget_idx(jget(prev, "memslots"), i);
			struct json_object *b = row_at(jget(last, "memslots"), jget_u64(a, "gpa"));

			EXPECT_NE(NULL, b) TH_LOG("fault %s: 0x%" PRIx64 " gone", fault,
						  jget_u64(a, "gpa"));
			EXPECT_EQ(jget_u64(a, "size"), jget_u64(b, "size"));
			EXPECT_EQ(jget_u64(a, "flags"), jget_u64(b, "flags"));
		}
		EXPECT_FALSE(jget_bool(doc, "ok"));
		json_object_put(doc);
		cli_result_free(&r);
	}
	json_object_put(clean);
}

/*
 * --verify with an injected fault at the first ioctl of the step: the step
 * fails, but the injected ioctl never reaches the kernel, so the tracer
 * sees one ioctl less than the binding counted and no failed one; the
 * census still equals the library's table (nothing half-added) and every
 * step before and the failing one verify against the kernel.
 */
TEST_F(fault, verify_kernel)
{
	struct json_object *clean, *doc, *last, *kv;
	struct cli_result r;
	uint64_t first, n;
	char fault[64];
	size_t at;

	NEED_KVM();
	NEED_BPF();
	clean = run_scn(_metadata, self->path, variant->args, NULL, "--verify", &r);
	ASSERT_EQ(0, r.status) TH_LOG("stderr: %s", r.err);
	ASSERT_NE(NULL, clean);
	cli_result_free(&r);
	check_kernel_verify(_metadata, clean);
	at = step_index(clean, variant->command);
	ASSERT_NE(SIZE_MAX, at);
	first = jget_u64(jget(jget_idx(jget(clean, "steps"), at), "kvm"), "ioctl_first");
	n = jget_u64(jget(jget_idx(jget(clean, "steps"), at), "kvm"), "ioctls");
	EXPECT_EQ(n, jget_u64(jget(jget_idx(jget(clean, "steps"), at), "kernel_verify"),
			      "traced_ioctls"));
	json_object_put(clean);

	snprintf(fault, sizeof(fault), "%" PRIu64 ":ENOMEM", first);
	doc = run_scn(_metadata, self->path, variant->args, fault, "--verify", &r);
	EXPECT_EQ(1, r.status);
	ASSERT_NE(NULL, doc) TH_LOG("%.300s", r.out);
	EXPECT_EQ(at + 1, jget_len(jget(doc, "steps")));
	last = jget_idx(jget(doc, "steps"), jget_len(jget(doc, "steps")) - 1);
	EXPECT_STREQ(variant->command, jget_str(last, "command"));
	EXPECT_FALSE(jget_bool(last, "step_ok"));
	EXPECT_EQ(ENOMEM, jget_u64(jget(last, "kvm_error"), "errno"));
	kv = jget(last, "kernel_verify");
	ASSERT_NE(NULL, kv);
	EXPECT_TRUE(jget_bool(kv, "ok")) TH_LOG("%s", json_object_to_json_string(kv));
	/* the injected fault stopped the step at its first ioctl, before the kernel */
	EXPECT_EQ(1, jget_u64(kv, "injected_faults"));
	EXPECT_EQ(jget_u64(jget(last, "kvm"), "ioctls") - 1, jget_u64(kv, "traced_ioctls"));
	EXPECT_EQ(jget_u64(kv, "issued_ioctls"), jget_u64(kv, "traced_ioctls"));
	EXPECT_EQ(0, jget_u64(kv, "traced_failures"));
	EXPECT_EQ(NULL, jget(kv, "traced_errno"));
	check_kernel_verify(_metadata, doc);
	EXPECT_FALSE(jget_bool(doc, "ok"));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST_HARNESS_MAIN
