// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tracer and the census against QEMU itself: Debian's
 * qemu-system-x86_64 is started (-machine pc,accel=kvm, -m 256 with DIMM
 * slots, -nodefaults, -display none, -S, QMP), the tracer (trace_prog.h) is
 * loaded in-process and filtered on QEMU's pid once QMP answers, and DIMMs
 * are hot-plugged over QMP (object-add memory-backend-ram + device_add
 * pc-dimm). The tracer attaches at the most precise point the kernel has
 * (kvm_set_memslot() in the test kernels) or, in one variant, at the
 * syscall. Checked:
 *   - the trace holds exactly one successful create per DIMM in address
 *     space 0, at the address query-memory-devices reports and of the
 *     DIMM's size; the only other memslot ioctls allowed are the same
 *     create in address space 1 (x86 SMRAM, where QEMU's SMM listener
 *     mirrors system memory) - nothing else, no failure, no lost event;
 *   - `memslot -j census -p PID` ($MEMSLOT) lists, in address space 0,
 *     exactly the ranges of address space "memory" that `info mtree -f`
 *     marks " KVM" (gpa and size).
 *
 * QEMU is started and driven as in selftests/lib/qemu.h and killed in the
 * teardown, pass or fail. SKIPs only when qemu-system-x86_64 ($QEMU
 * overrides) or a usable /dev/kvm is missing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "qemu.h"
#include "qmp.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#include "memslot_bpf.h"
#include "trace_prog.h"

#define MAX_RANGES	256
#define MAX_EV		256

struct events {
	struct ms_trace_event ev[MAX_EV];
	int nr;
	int dropped;		/* more than MAX_EV */
};

static int on_event(const struct ms_trace_event *ev, void *opaque)
{
	struct events *e = opaque;

	if (e->nr < MAX_EV)
		memcpy(&e->ev[e->nr++], ev, sizeof(*ev));
	else
		e->dropped++;
	return 0;
}

FIXTURE(trace_qemu) {
	struct qemu qm;
	struct trace_prog *tp;
	struct events got;
};

FIXTURE_VARIANT(trace_qemu) {
	const char *hot[8];	/* object_add / device_add lines in pairs, NULL-terminated */
	const char *attach;	/* NULL: the most precise point */
};

FIXTURE_VARIANT_ADD(trace_qemu, two_dimms) {
	.hot = { "object_add memory-backend-ram,id=h1,size=1G",
		 "device_add pc-dimm,id=hd1,memdev=h1",
		 "object_add memory-backend-ram,id=h2,size=512M",
		 "device_add pc-dimm,id=hd2,memdev=h2" },
};

FIXTURE_VARIANT_ADD(trace_qemu, three_dimms_addr) {
	.hot = { "object_add memory-backend-ram,id=h1,size=256M",
		 "device_add pc-dimm,id=hd1,memdev=h1",
		 "object_add memory-backend-ram,id=h2,size=128M",
		 "device_add pc-dimm,id=hd2,memdev=h2,addr=0x180000000",
		 "object_add memory-backend-ram,id=h3,size=2M",
		 "device_add pc-dimm,id=hd3,memdev=h3" },
	.attach = "syscall",
};

FIXTURE_SETUP(trace_qemu)
{
	const char *why;

	qemu_init(&self->qm);
	self->tp = NULL;
	why = qemu_unusable();
	if (why)
		SKIP(return, "%s", why);
	ASSERT_NE(NULL, qemu_mkdtemp(&self->qm, "trace-qemu"));
}

FIXTURE_TEARDOWN(trace_qemu)
{
	trace_prog_close(self->tp);
	qemu_stop(&self->qm);
}

TEST_F_TIMEOUT(trace_qemu, hotplug, 120)
{
	struct gpa_range q[MAX_RANGES], c[MAX_RANGES], dimm[4];
	struct json_object *ret, *devs, *doc, *vms, *slots;
	int nq, nc = 0, nd = 0;
	char err[512], pidbuf[16];
	struct cli_result r;
	const char *why;
	char *out, *flat;
	int matched[4] = { 0 }, matched_as1[4] = { 0 };
	int source, e_err;
	char tp_why[512];

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	why = qemu_start(&self->qm, (const char *const[]){ "-machine", "pc,accel=kvm",
			 "-m", "256,slots=4,maxmem=8G", NULL });
	if (why) {
		TH_LOG_QEMU(&self->qm);
		ASSERT_EQ(NULL, why);
	}
	/* QMP answers from the main loop: the machine is built, RAM is mapped. */
	ret = qmp_call(&self->qm.q, "query-status", NULL, err, sizeof(err));
	ASSERT_NE(NULL, ret) TH_LOG("%s", err);
	json_object_put(ret);

	/* The tracer, on QEMU only. */
	self->tp = trace_prog_open(&(struct trace_prog_opts){ .tgid = (uint32_t)self->qm.pid,
							    .attach = variant->attach,
							    .fn = on_event, .opaque = &self->got },
				   &e_err, tp_why, sizeof(tp_why));
	ASSERT_NE(NULL, self->tp) TH_LOG("%s", tp_why);
	source = trace_prog_source(self->tp);
	TH_LOG("attach: %s", trace_prog_attach(self->tp));
	/* where the kernel has a function probe, the tracer sits on KVM itself */
	if (!variant->attach && !access("/sys/bus/event_source/devices/kprobe/type", F_OK))
		EXPECT_EQ(MS_TRACE_MEMSLOT, source);

	for (int i = 0; variant->hot[i]; i++) {
		ret = qmp_plug(&self->qm.q, variant->hot[i], err, sizeof(err));
		ASSERT_NE(NULL, ret) TH_LOG("%s: %s", variant->hot[i], err);
		json_object_put(ret);
		/* device_add returns after the KVM listener ran: drain now */
		ASSERT_EQ(0, trace_prog_drain(self->tp));
	}

	devs = qmp_call(&self->qm.q, "query-memory-devices", NULL, err, sizeof(err));
	ASSERT_NE(NULL, devs) TH_LOG("%s", err);
	for (size_t i = 0; i < json_object_array_length(devs) && nd < 4; i++) {
		struct json_object *data = jget(json_object_array_get_idx(devs, i), "data");

		dimm[nd++] = (struct gpa_range){ jget_u64(data, "addr"), jget_u64(data, "size") };
		TH_LOG("dimm %s: %#" PRIx64 "+%#" PRIx64, jget_str(data, "id"), dimm[nd - 1].gpa,
		       dimm[nd - 1].size);
	}
	json_object_put(devs);
	ASSERT_EQ(variant->hot[4] ? 3 : 2, nd);

	flat = qmp_hmp(&self->qm.q, "info mtree -f", err, sizeof(err));
	ASSERT_NE(NULL, flat) TH_LOG("%s", err);
	nq = qemu_kvm_ranges(flat, q, MAX_RANGES);
	ASSERT_LT(0, nq);

	/* The trace: one successful create per DIMM, nothing else. */
	ASSERT_EQ(0, trace_prog_drain(self->tp));
	EXPECT_EQ(0, trace_prog_lost(self->tp));
	EXPECT_EQ(0, self->got.dropped);
	for (int i = 0; i < self->got.nr; i++) {
		const struct ms_trace_event *e = &self->got.ev[i];
		unsigned int as = e->slot >> 16;
		bool known = false;

		TH_LOG("event %d: as %u slot %u gpa %#" PRIx64 " size %#" PRIx64 " ret %d", i, as,
		       e->slot & 0xffff, (uint64_t)e->gpa, (uint64_t)e->size, e->ret);
		EXPECT_EQ((uint32_t)self->qm.pid, e->pid);
		EXPECT_EQ(0, e->ret);
		EXPECT_EQ(0, e->copy_err);
		EXPECT_EQ((uint32_t)source, e->source);
		EXPECT_LT(0, e->latency_ns);
		/* KVM's own classification where the point sees it */
		EXPECT_EQ(source == MS_TRACE_MEMSLOT ? 0 : MS_TRACE_CHANGE_UNSEEN, e->change);
		for (int d = 0; d < nd; d++) {
			if (e->gpa != dimm[d].gpa || e->size != dimm[d].size || e->ret)
				continue;
			if (as == 0)
				matched[d]++;
			else
				matched_as1[d]++;
			known = true;
		}
		EXPECT_TRUE(known) TH_LOG("event %d is not the create of a DIMM", i);
	}
	for (int d = 0; d < nd; d++) {
		EXPECT_EQ(1, matched[d]) TH_LOG("dimm %d: %d creates in address space 0", d,
						matched[d]);
		EXPECT_GE(1, matched_as1[d]) TH_LOG("dimm %d: %d creates in address space 1", d,
						    matched_as1[d]);
		EXPECT_EQ(matched_as1[0], matched_as1[d]);
	}
	EXPECT_LT(0, self->got.nr);

	/* The census of QEMU = its KVM-marked ranges of AS "memory". */
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)self->qm.pid);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "census", "-p", pidbuf));
	out = r.out;
	EXPECT_EQ(0, r.status) TH_LOG("memslot census: %s%s", out, r.err);
	doc = json_tokener_parse(out);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON: %s", out);
	vms = jget(doc, "vms");
	ASSERT_NE(NULL, vms);
	ASSERT_EQ(1, json_object_array_length(vms)) TH_LOG("%s", out);
	EXPECT_EQ(0, jget_u64(doc, "lost"));
	slots = jget(json_object_array_get_idx(vms, 0), "memslots");
	ASSERT_NE(NULL, slots);
	for (size_t i = 0; i < json_object_array_length(slots) && nc < MAX_RANGES; i++) {
		struct json_object *s = json_object_array_get_idx(slots, i);

		if (jget_u64(s, "as") == 0)
			c[nc++] = (struct gpa_range){ jget_u64(s, "gpa"), jget_u64(s, "size") };
	}
	qsort(c, nc, sizeof(*c), gpa_range_cmp);
	EXPECT_EQ(nq, nc);
	for (int i = 0; i < nq || i < nc; i++) {
		bool same = i < nq && i < nc && !gpa_range_cmp(&q[i], &c[i]);

		EXPECT_TRUE(same)
			TH_LOG("range %d: QEMU %#" PRIx64 "+%#" PRIx64 ", census %#" PRIx64
			       "+%#" PRIx64, i, i < nq ? q[i].gpa : 0, i < nq ? q[i].size : 0,
			       i < nc ? c[i].gpa : 0, i < nc ? c[i].size : 0);
	}
	/* every DIMM is one of them */
	for (int d = 0; d < nd; d++) {
		bool found = false;

		for (int i = 0; i < nc; i++)
			found |= !gpa_range_cmp(&c[i], &dimm[d]);
		EXPECT_TRUE(found) TH_LOG("dimm %d not in the census", d);
	}
	if (_metadata->exit_code)
		TH_LOG("QEMU info mtree -f:\n%s\ncensus: %s", flat, out);

	json_object_put(doc);
	cli_result_free(&r);
	free(flat);
}

TEST_HARNESS_MAIN
