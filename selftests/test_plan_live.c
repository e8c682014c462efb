// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `memslot plan --qmp` and `--from-pid` against a running QEMU: Debian's
 * qemu-system-x86_64 (accel=kvm, -S) is started with
 * -m 1G,slots=4,maxmem=8G, one cold-plugged DIMM and a second QMP monitor
 * as a server socket for memslot; one more DIMM is hot-plugged over QMP
 * before memslot looks. Checked:
 *   - `memslot -j plan --qmp SOCK -object ... -device pc-dimm,...` sees the
 *     VM as it is (2 devices, 1 hot-plugged, its KVM ranges equal to the
 *     plan's) and predicts the hot-plug: after QEMU does the same hot-plug
 *     over QMP, query-memory-devices (type, id, addr, slot, size,
 *     hotplugged) and the KVM ranges of `info mtree -f` (address space
 *     "memory") equal the plan's devices and memslots of address space 0
 *     (memory-devices.md 5.4, 5.5; kvm-memslots.md 1.2);
 *   - with all 4 slots used, the plan fails with exit status 1 and the
 *     error text QEMU's device_add gives for the same hot-plug;
 *   - `memslot -j plan --from-pid PID` equals the plan of the memory
 *     options QEMU was started with, given directly.
 *
 * SKIPs only when qemu-system-x86_64 ($QEMU overrides) or a usable /dev/kvm
 * is missing. The tool is $MEMSLOT (default build/memslot).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "qemu.h"
#include "qmp.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define MAX_RANGES	256
#define MEMORY		"1G,slots=4,maxmem=8G"
#define COLD_OBJ	"memory-backend-ram,id=m1,size=1G"
#define COLD_DEV	"pc-dimm,id=d1,memdev=m1"
#define NEW_OBJ		"memory-backend-ram,id=m9,size=1G"
#define NEW_DEV		"pc-dimm,id=d9,memdev=m9"

FIXTURE_VARIANT(plan_live) {
	const char *machine;
};

FIXTURE(plan_live) {
	struct qemu qm;
	char machine[64];
	char sock[128];
};

FIXTURE_VARIANT_ADD(plan_live, pc) {
	.machine = "pc",
};

FIXTURE_VARIANT_ADD(plan_live, q35) {
	.machine = "q35",
};

/* Run one object_add/device_add line in QEMU; ASSERT it worked. */
#define PLUG(line) do {								\
		char __e[512];							\
		struct json_object *__r = qmp_plug(&self->qm.q, (line), __e, sizeof(__e)); \
		ASSERT_NE(NULL, __r) TH_LOG("%s: %s", (line), __e);		\
		json_object_put(__r);						\
	} while (0)

FIXTURE_SETUP(plan_live)
{
	char qmp[160];
	const char *why, *args[16];
	int n = 0;

	qemu_init(&self->qm);
	why = qemu_unusable();
	if (why)
		SKIP(return, "%s", why);
	ASSERT_NE(NULL, qemu_mkdtemp(&self->qm, "plan-live"));
	snprintf(self->machine, sizeof(self->machine), "%s,accel=kvm", variant->machine);
	snprintf(self->sock, sizeof(self->sock), "%s/live.sock", self->qm.dir);
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", self->sock);
	args[n++] = "-machine";
	args[n++] = self->machine;
	args[n++] = "-m";
	args[n++] = MEMORY;
	args[n++] = "-object";
	args[n++] = COLD_OBJ;
	args[n++] = "-device";
	args[n++] = COLD_DEV;
	args[n++] = "-qmp";
	args[n++] = qmp;
	args[n] = NULL;
	why = qemu_start(&self->qm, args);
	if (why) {
		TH_LOG_QEMU(&self->qm);
		ASSERT_EQ(NULL, why);
	}
	/* hot-plugged before memslot looks */
	PLUG("object_add memory-backend-ram,id=h1,size=512M");
	PLUG("device_add pc-dimm,id=hd1,memdev=h1");
}

FIXTURE_TEARDOWN(plan_live)
{
	qemu_stop(&self->qm);
}

/* `memslot -j plan --qmp SOCK [extra...]`: the document; @status set. */
static struct json_object *plan_qmp(const char *sock, const char *const *extra, int *status,
				    char **err)
{
	const char *args[16];
	struct json_object *doc;
	struct cli_result r;
	int n = 0;

	args[n++] = "-j";
	args[n++] = "plan";
	args[n++] = "--qmp";
	args[n++] = sock;
	for (int i = 0; extra && extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	if (cli_run(&r, NULL, args)) {
		cli_result_free(&r);
		return NULL;
	}
	*status = r.status;
	doc = parse_one(r.out);
	*err = r.err;
	r.err = NULL;
	cli_result_free(&r);
	return doc;
}

TEST_F_TIMEOUT(plan_live, hotplug_as_predicted, 120)
{
	static const char *const extra[] = { "-object", NEW_OBJ, "-device", NEW_DEV, NULL };
	struct gpa_range q[MAX_RANGES], m[MAX_RANGES];
	struct json_object *doc, *devs, *mine, *slots, *live;
	char err[512], *stderr_text = NULL, *flat;
	int status = -1, nq, nm = 0;

	doc = plan_qmp(self->sock, extra, &status, &stderr_text);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON; stderr: %s", stderr_text);
	EXPECT_EQ(0, status) TH_LOG("memslot plan: %s %s", stderr_text, jget_str(doc, "error"));
	/* the VM as memslot saw it */
	live = jget(doc, "live");
	EXPECT_EQ((uint64_t)self->qm.pid, jget_u64(live, "pid"));
	EXPECT_EQ(2, jget_u64(live, "memory_devices"));
	EXPECT_EQ(1, jget_u64(live, "hotplugged"));
	EXPECT_TRUE(jget_bool(live, "memslots_match")) TH_LOG("stderr: %s", stderr_text);
	EXPECT_EQ(2, jget_len(jget(doc, "steps")));
	EXPECT_TRUE(jget_bool(jget_idx(jget(doc, "steps"), 1), "ok"));

	/* now QEMU does it */
	PLUG("object_add " NEW_OBJ);
	PLUG("device_add " NEW_DEV);
	devs = qmp_call(&self->qm.q, "query-memory-devices", NULL, err, sizeof(err));
	ASSERT_NE(NULL, devs) TH_LOG("%s", err);
	flat = qmp_hmp(&self->qm.q, "info mtree -f", err, sizeof(err));
	ASSERT_NE(NULL, flat) TH_LOG("%s", err);

	mine = jget(doc, "devices");
	EXPECT_EQ(3, json_object_array_length(devs));
	EXPECT_EQ(json_object_array_length(devs), jget_len(mine));
	for (size_t i = 0; i < json_object_array_length(devs) && i < jget_len(mine); i++) {
		struct json_object *qd = json_object_array_get_idx(devs, i);
		struct json_object *data = jget(qd, "data"), *md = jget_idx(mine, i);
		const char *qid = jget_str(data, "id"), *mid = jget_str(md, "id");

		EXPECT_STREQ(jget_str(qd, "type"), jget_str(md, "type"));
		EXPECT_STREQ(qid ? qid : "(none)", mid ? mid : "(none)");
		EXPECT_EQ(jget_u64(data, "addr"), jget_u64(md, "addr"))
			TH_LOG("device %s: QEMU addr 0x%" PRIx64 ", plan 0x%" PRIx64,
			       qid ? qid : "?", jget_u64(data, "addr"), jget_u64(md, "addr"));
		EXPECT_EQ(jget_u64(data, "slot"), jget_u64(md, "slot"))
			TH_LOG("device %s: slot", qid ? qid : "?");
		EXPECT_EQ(jget_u64(data, "size"), jget_u64(md, "size"));
		EXPECT_EQ(jget_bool(data, "hotplugged"), jget_bool(md, "hotplugged"))
			TH_LOG("device %s: hotplugged", qid ? qid : "?");
	}

	nq = qemu_as_kvm_ranges(flat, "memory", q, MAX_RANGES);
	slots = jget(doc, "memslots");
	for (size_t i = 0; i < jget_len(slots) && nm < MAX_RANGES; i++) {
		struct json_object *s = jget_idx(slots, i);

		if (!jget_u64(s, "as"))
			m[nm++] = (struct gpa_range){ jget_u64(s, "gpa"), jget_u64(s, "size") };
	}
	qsort(m, nm, sizeof(*m), gpa_range_cmp);
	EXPECT_LT(0, nq);
	EXPECT_EQ(nq, nm);
	for (int i = 0; i < nq || i < nm; i++) {
		bool same = i < nq && i < nm && !gpa_range_cmp(&q[i], &m[i]);

		EXPECT_TRUE(same)
			TH_LOG("range %d: QEMU %#" PRIx64 "+%#" PRIx64 ", plan %#" PRIx64 "+%#"
			       PRIx64, i, i < nq ? q[i].gpa : 0, i < nq ? q[i].size : 0,
			       i < nm ? m[i].gpa : 0, i < nm ? m[i].size : 0);
	}
	if (_metadata->exit_code)
		TH_LOG("QEMU info mtree -f:\n%s", flat);
	free(flat);
	free(stderr_text);
	json_object_put(devs);
	json_object_put(doc);
}

TEST_F_TIMEOUT(plan_live, no_free_slot_as_qemu_says, 120)
{
	static const char *const extra[] = { "-object", NEW_OBJ, "-device", NEW_DEV, NULL };
	struct json_object *doc, *ret, *steps;
	char err[512], *stderr_text = NULL, want[600];
	const char *qerr, *perr;
	int status = -1;

	/* slots 2 and 3: all 4 used */
	PLUG("object_add memory-backend-ram,id=h2,size=256M");
	PLUG("device_add pc-dimm,id=hd2,memdev=h2");
	PLUG("object_add memory-backend-ram,id=h3,size=256M");
	PLUG("device_add pc-dimm,id=hd3,memdev=h3");

	doc = plan_qmp(self->sock, extra, &status, &stderr_text);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON; stderr: %s", stderr_text);
	EXPECT_EQ(1, status) TH_LOG("memslot plan: %s %s", stderr_text, jget_str(doc, "error"));
	EXPECT_EQ(4, jget_u64(jget(doc, "live"), "memory_devices"));
	steps = jget(doc, "steps");
	ASSERT_EQ(2, jget_len(steps));
	EXPECT_FALSE(jget_bool(jget_idx(steps, 1), "ok"));
	perr = jget_str(jget_idx(steps, 1), "error");

	PLUG("object_add " NEW_OBJ);
	ret = qmp_plug(&self->qm.q, "device_add " NEW_DEV, err, sizeof(err));
	ASSERT_EQ(NULL, ret);
	/* qmp_call() says "device_add: <QEMU's text>" */
	qerr = strncmp(err, "device_add: ", 12) ? err : err + 12;
	EXPECT_STREQ(qerr, perr ? perr : "(none)");
	snprintf(want, sizeof(want), "device_add " NEW_DEV ": %s", qerr);
	EXPECT_STREQ(want, jget_str(doc, "error"));
	/* and the one line on stderr names the hot-plug */
	EXPECT_NE(NULL, strstr(stderr_text, want)) TH_LOG("stderr: %s", stderr_text);
	free(stderr_text);
	json_object_put(doc);
}

TEST_F_TIMEOUT(plan_live, from_pid_as_given_directly, 120)
{
	struct json_object *a, *b;
	struct cli_result r1, r2;
	char pid[16];
	static const char *const keys[] = { "machine", "devices", "memslots", "accounting",
					    "consumers", "capacity" };

	snprintf(pid, sizeof(pid), "%d", (int)self->qm.pid);
	ASSERT_EQ(0, CLI_RUN(&r1, "-j", "plan", "--from-pid", pid));
	ASSERT_EQ(0, CLI_RUN(&r2, "-j", "plan", "-machine", self->machine, "-m", MEMORY,
			     "-object", COLD_OBJ, "-device", COLD_DEV));
	EXPECT_EQ(0, r1.status) TH_LOG("--from-pid: %s%s", r1.out, r1.err);
	EXPECT_EQ(0, r2.status) TH_LOG("direct: %s", r2.err);
	a = parse_one(r1.out);
	b = parse_one(r2.out);
	ASSERT_NE(NULL, a) TH_LOG("%s", r1.out);
	ASSERT_NE(NULL, b) TH_LOG("%s", r2.out);
	EXPECT_EQ((uint64_t)self->qm.pid, jget_u64(jget(a, "live"), "pid"));
	EXPECT_EQ(1, jget_u64(jget(a, "live"), "memory_devices"));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *x = json_object_to_json_string(jget(a, keys[i]));
		const char *y = json_object_to_json_string(jget(b, keys[i]));

		EXPECT_STREQ(y, x) TH_LOG("%s differs", keys[i]);
	}
	json_object_put(a);
	json_object_put(b);
	cli_result_free(&r1);
	cli_result_free(&r2);
}

TEST_HARNESS_MAIN
