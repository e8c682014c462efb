// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `memslot plan` against QEMU itself: for pc and q35 configurations with
 * cold-plugged DIMMs and NVDIMMs (-object/-device, with and without addr)
 * and DIMMs hot-plugged over QMP (object-add + device_add, with and without
 * addr), Debian's qemu-system-x86_64 is started (accel=kvm, -S,
 * -nodefaults, -display none) and asked for query-memory-devices and
 * `info mtree -f`; `memslot -j plan` gets the same options, with the
 * hot-plugs as a --script. Checked:
 *   - the memory devices match one to one (sorted by address): type, id,
 *     addr, slot, size and hotplugged equal QEMU's (memory-devices.md 5.4,
 *     5.5, 12.2);
 *   - the predicted KVM memslots, as a set of (gpa, size) per KVM address
 *     space, are exactly the ranges that QEMU marks " KVM" in address
 *     space "memory" (as 0) and, where KVM has SMM, "KVM-SMRAM" (as 1)
 *     (kvm-memslots.md 1.2, 8.1);
 *   - as root, the kernel's table of QEMU's VM (`memslot -j census`)
 *     holds the plan's slots per address space, flags included.
 * Also a libvirt-style command line (JSON -object/-device, two NUMA nodes,
 * options that do not touch memory), -M memory-backend= and old versioned
 * machine types, given to QEMU and to the plan alike.
 *
 * QEMU is started and driven as in selftests/lib/qemu.h and killed in the
 * teardown.
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

#define MAX_ARGS	112
#define MAX_RANGES	256

/*
 * One configuration. Every string may contain @DIR@, replaced by the
 * temporary directory (memory-backend-file paths).
 */
FIXTURE_VARIANT(plan_qemu) {
	const char *machine;		/* -machine, without accel */
	const char *memory;		/* -m */
	const char *cold[16];		/* -object/-device arguments, in pairs */
	const char *hot[8];		/* script lines: object_add / device_add */
	const char *extra[64];		/* any other options, for QEMU and plan alike */
};

FIXTURE(plan_qemu) {
	struct qemu qm;
};

FIXTURE_VARIANT_ADD(plan_qemu, pc_two_dimms) {
	.machine = "pc",
	.memory = "1G,slots=4,maxmem=8G",
	.cold = { "-object", "memory-backend-ram,id=m1,size=1G",
		  "-device", "pc-dimm,id=d1,memdev=m1",
		  "-object", "memory-backend-ram,id=m2,size=512M",
		  "-device", "pc-dimm,id=d2,memdev=m2" },
};

FIXTURE_VARIANT_ADD(plan_qemu, pc_dimms_nvdimm_addr) {
	.machine = "pc,nvdimm=on",
	.memory = "4G,slots=4,maxmem=16G",
	.cold = { "-object", "memory-backend-ram,id=m1,size=1G",
		  "-device", "pc-dimm,id=dimm1,memdev=m1",
		  "-object", "memory-backend-ram,id=m2,size=512M",
		  "-device", "pc-dimm,memdev=m2,addr=0x200000000",
		  "-object", "memory-backend-file,id=nv1,size=256M,mem-path=@DIR@/nv1,share=on",
		  "-device", "nvdimm,id=nv1,memdev=nv1" },
};

FIXTURE_VARIANT_ADD(plan_qemu, pc_256m_hotplug) {
	.machine = "pc",
	.memory = "256,slots=4,maxmem=8G",
	.hot = { "object_add memory-backend-ram,id=h1,size=1G",
		 "device_add pc-dimm,id=hd1,memdev=h1",
		 "object_add memory-backend-ram,id=h2,size=512M",
		 "device_add pc-dimm,id=hd2,memdev=h2" },
};

FIXTURE_VARIANT_ADD(plan_qemu, q35_cold_and_hot) {
	.machine = "q35",
	.memory = "2G,slots=8,maxmem=32G",
	.cold = { "-object", "memory-backend-ram,id=m1,size=1G",
		  "-device", "pc-dimm,id=d1,memdev=m1,slot=3",
		  "-object", "memory-backend-ram,id=m2,size=2G",
		  "-device", "pc-dimm,id=d2,memdev=m2,addr=0x300000000" },
	.hot = { "object_add memory-backend-ram,id=h1,size=512M",
		 "device_add pc-dimm,id=hd1,memdev=h1",
		 "object_add memory-backend-ram,id=h2,size=1G",
		 "device_add pc-dimm,id=hd2,memdev=h2,addr=0x500000000",
		 "object_add memory-backend-ram,id=h3,size=4M",
		 "device_add pc-dimm,id=hd3,memdev=h3" },
};

/* First fit into the hole before a DIMM placed high (rule 5.5.8). */
FIXTURE_VARIANT_ADD(plan_qemu, q35_hotplug_fills_hole) {
	.machine = "q35",
	.memory = "4G,slots=4,maxmem=20G",
	.cold = { "-object", "memory-backend-ram,id=m1,size=1G",
		  "-device", "pc-dimm,id=d1,memdev=m1,addr=0x240000000",
		  "-object", "memory-backend-ram,id=m2,size=2M",
		  "-device", "pc-dimm,memdev=m2" },
	.hot = { "object_add memory-backend-ram,id=h1,size=1G",
		 "device_add pc-dimm,id=hd1,memdev=h1",
		 "object_add memory-backend-ram,id=h2,size=256M",
		 "device_add pc-dimm,id=hd2,memdev=h2,addr=0x400000000" },
};

FIXTURE_VARIANT_ADD(plan_qemu, pc_lowmem_split_hotplug_addr) {
	.machine = "pc",
	.memory = "3584,slots=2,maxmem=8G",
	.hot = { "object_add memory-backend-ram,id=h1,size=1G",
		 "device_add pc-dimm,id=hd1,memdev=h1,addr=0x200000000,slot=1",
		 "object_add memory-backend-memfd,id=h2,size=1G",
		 "device_add pc-dimm,id=hd2,memdev=h2" },
};

FIXTURE_VARIANT_ADD(plan_qemu, q35_max_ram_below_4g_nvdimm) {
	.machine = "q35,max-ram-below-4g=1G,nvdimm=on",
	.memory = "2G,slots=2,maxmem=6G",
	.cold = { "-object", "memory-backend-file,id=nv1,size=512M,mem-path=@DIR@/nv1,share=on",
		  "-device", "nvdimm,id=nv1,memdev=nv1,slot=1" },
	.hot = { "object_add memory-backend-ram,id=h1,size=1G",
		 "device_add pc-dimm,id=hd1,memdev=h1" },
};

FIXTURE_VARIANT_ADD(plan_qemu, q35_no_device_memory) {
	.machine = "q35",
	.memory = "512",
};

FIXTURE_VARIANT_ADD(plan_qemu, pc_maxmem_no_slots) {
	.machine = "pc",
	.memory = "1G,maxmem=3G",
};

/*
 * A command line as libvirt writes it for a q35 guest with two NUMA nodes,
 * a DIMM and a virtio-mem device in JSON, and options that do not touch
 * memory (the monitor on a socket in the temporary directory, no fds).
 */
FIXTURE_VARIANT_ADD(plan_qemu, libvirt_q35_numa) {
	.machine = "pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off",
	.memory = "size=4194304k,slots=4,maxmem=16777216k",
	.extra = {
		"-name", "guest=vm1,debug-threads=on",
		"-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\","
			   "\"data\":\"0123456789abcdef\"}",
		"-cpu", "host,migratable=on",
		"-overcommit", "mem-lock=off",
		"-smp", "2,sockets=2,cores=1,threads=1",
		"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"ram-node0\","
			   "\"size\":1073741824}",
		"-numa", "node,nodeid=0,cpus=0,memdev=ram-node0",
		"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"ram-node1\","
			   "\"size\":3221225472}",
		"-numa", "node,nodeid=1,cpus=1,memdev=ram-node1",
		"-uuid", "6c1d0c3e-1d2b-4f8a-9f3c-6a8b2f2b7c11",
		"-no-user-config",
		"-chardev", "socket,id=charmonitor,path=@DIR@/monitor.sock,server=on,wait=off",
		"-mon", "chardev=charmonitor,id=monitor,mode=control",
		"-rtc", "base=utc,driftfix=slew",
		"-global", "kvm-pit.lost_tick_policy=delay",
		"-no-hpet", "-no-shutdown",
		"-boot", "strict=on",
		"-device", "{\"driver\":\"pcie-root-port\",\"port\":16,\"chassis\":1,"
			   "\"id\":\"pci.1\",\"bus\":\"pcie.0\",\"multifunction\":true,"
			   "\"addr\":\"0x2\"}",
		"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"memdimm0\","
			   "\"size\":1073741824}",
		"-device", "{\"driver\":\"pc-dimm\",\"node\":0,\"memdev\":\"memdimm0\","
			   "\"id\":\"dimm0\",\"slot\":0}",
		"-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"memvirtiomem0\","
			   "\"size\":2147483648}",
		"-device", "{\"driver\":\"virtio-mem-pci\",\"node\":1,\"block-size\":2097152,"
			   "\"requested-size\":0,\"memdev\":\"memvirtiomem0\","
			   "\"id\":\"virtiomem0\",\"bus\":\"pci.1\",\"addr\":\"0x0\"}",
		"-audiodev", "{\"id\":\"audio1\",\"driver\":\"none\"}",
		"-msg", "timestamp=on",
	},
};

/*
 * An old machine type: no per-slot slack, 4 KiB-aligned DIMMs; SMM turned
 * off by the type after KVM registered its SMRAM listener (still there).
 */
FIXTURE_VARIANT_ADD(plan_qemu, pc_i440fx_2_1_dimms) {
	.machine = "pc-i440fx-2.1",
	.memory = "4G,slots=3,maxmem=12G",
	.cold = { "-object", "memory-backend-ram,id=m1,size=6M",
		  "-device", "pc-dimm,id=d1,memdev=m1",
		  "-object", "memory-backend-ram,id=m2,size=1G",
		  "-device", "pc-dimm,id=d2,memdev=m2" },
	.hot = { "object_add memory-backend-ram,id=h1,size=2M",
		 "device_add pc-dimm,id=hd1,memdev=h1" },
};

/* pc-i440fx-1.7: 3.5 GiB below 4 GiB and the 128 KiB BIOS */
FIXTURE_VARIANT_ADD(plan_qemu, pc_i440fx_1_7_split) {
	.machine = "pc-i440fx-1.7",
	.memory = "4G",
};

/* -M memory-backend= as libvirt gives it for a guest without NUMA */
FIXTURE_VARIANT_ADD(plan_qemu, pc_memory_backend) {
	.machine = "pc-i440fx-7.2,memory-backend=pc.ram",
	.memory = "3584",
	.extra = { "-object", "{\"qom-type\":\"memory-backend-memfd\",\"id\":\"pc.ram\","
			      "\"size\":3758096384,\"share\":true}" },
};

/* @s with @DIR@ replaced by @dir; malloc()ed. */
static char *subst(const char *s, const char *dir)
{
	const char *at = strstr(s, "@DIR@");
	char *out;

	if (!at)
		return strdup(s);
	if (asprintf(&out, "%.*s%s%s", (int)(at - s), s, dir, at + 5) < 0)
		return NULL;
	return out;
}

FIXTURE_SETUP(plan_qemu)
{
	const char *why;

	qemu_init(&self->qm);
	why = qemu_unusable();
	if (why)
		SKIP(return, "%s", why);
	ASSERT_NE(NULL, qemu_mkdtemp(&self->qm, "plan-qemu"));
}

FIXTURE_TEARDOWN(plan_qemu)
{
	qemu_stop(&self->qm);
}

/* --- comparisons ------------------------------------------------------------ */


TEST_F_TIMEOUT(plan_qemu, same_as_qemu, 120)
{
	char *store[16] = { NULL }, *hot[8] = { NULL }, *extra[64] = { NULL };
	char err[512], path[128], machine[256];
	struct json_object *devs, *ret, *doc, *mine, *slots;
	struct gpa_range q[MAX_RANGES], m[MAX_RANGES];
	const char *args[MAX_ARGS], *why;
	int nq, nm = 0, n = 0;
	struct cli_result r;
	char *out, *flat;
	FILE *script;

	for (int i = 0; variant->cold[i]; i++)
		ASSERT_NE(NULL, store[i] = subst(variant->cold[i], self->qm.dir));
	for (int i = 0; variant->hot[i]; i++)
		ASSERT_NE(NULL, hot[i] = subst(variant->hot[i], self->qm.dir));
	for (int i = 0; variant->extra[i]; i++)
		ASSERT_NE(NULL, extra[i] = subst(variant->extra[i], self->qm.dir));

	snprintf(machine, sizeof(machine), "%s,accel=kvm", variant->machine);
	args[n++] = "-machine";
	args[n++] = machine;
	args[n++] = "-m";
	args[n++] = variant->memory;
	for (int i = 0; store[i]; i++)
		args[n++] = store[i];
	for (int i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	why = qemu_start(&self->qm, args);
	if (why) {
		TH_LOG_QEMU(&self->qm);
		ASSERT_EQ(NULL, why);
	}

	for (int i = 0; hot[i]; i++) {
		ret = qmp_plug(&self->qm.q, hot[i], err, sizeof(err));
		ASSERT_NE(NULL, ret) TH_LOG("%s: %s", hot[i], err);
		json_object_put(ret);
	}

	devs = qmp_call(&self->qm.q, "query-memory-devices", NULL, err, sizeof(err));
	ASSERT_NE(NULL, devs) TH_LOG("%s", err);
	flat = qmp_hmp(&self->qm.q, "info mtree -f", err, sizeof(err));
	ASSERT_NE(NULL, flat) TH_LOG("%s", err);
	nq = qemu_kvm_ranges(flat, q, MAX_RANGES);
	ASSERT_LT(0, nq);

	/* The same machine planned by memslot. */
	snprintf(path, sizeof(path), "%s/script", self->qm.dir);
	script = fopen(path, "w");
	ASSERT_NE(NULL, script);
	fprintf(script, "# hot-plugged over QMP\n");
	for (int i = 0; hot[i]; i++)
		fprintf(script, "%s\n", hot[i]);
	fclose(script);
	n = 0;
	args[n++] = "-j";
	args[n++] = "plan";
	args[n++] = "-M";
	args[n++] = variant->machine;
	args[n++] = "-m";
	args[n++] = variant->memory;
	for (int i = 0; store[i]; i++)
		args[n++] = store[i];
	for (int i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n++] = "--script";
	args[n++] = path;
	args[n] = NULL;
	ASSERT_EQ(0, cli_run(&r, NULL, args));
	out = r.out;
	EXPECT_EQ(0, r.status) TH_LOG("memslot plan: %s%s", out, r.err);
	doc = json_tokener_parse(out);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON: %s", out);

	/* Devices, both sorted by address (rule 12.2). */
	mine = jget(doc, "devices");
	ASSERT_NE(NULL, mine);
	EXPECT_EQ(json_object_array_length(devs), json_object_array_length(mine));
	for (size_t i = 0; i < json_object_array_length(devs) &&
			   i < json_object_array_length(mine); i++) {
		struct json_object *qd = json_object_array_get_idx(devs, i);
		struct json_object *data = jget(qd, "data");
		struct json_object *md = json_object_array_get_idx(mine, i);
		const char *qid = jget_str(data, "id"), *mid = jget_str(md, "id");
		const char *qtype = jget_str(qd, "type"), *mtype = jget_str(md, "type");
		/* query-memory-devices: the virtio devices' address is "memaddr" */
		const char *akey = qtype && !strncmp(qtype, "virtio-", 7) ? "memaddr" : "addr";

		EXPECT_STREQ(qtype, mtype);
		EXPECT_STREQ(qid ? qid : "(none)", mid ? mid : "(none)");
		EXPECT_EQ(jget_u64(data, akey), jget_u64(md, "addr"))
			TH_LOG("device %s: QEMU addr 0x%" PRIx64 ", memslot 0x%" PRIx64,
			       qid ? qid : "?", jget_u64(data, akey), jget_u64(md, "addr"));
		EXPECT_EQ(jget_u64(data, "slot"), jget_u64(md, "slot"))
			TH_LOG("device %s: slot", qid ? qid : "?");
		EXPECT_EQ(jget_u64(data, "size"), jget_u64(md, "size"))
			TH_LOG("device %s: size", qid ? qid : "?");
		EXPECT_EQ(json_object_get_boolean(jget(data, "hotplugged")),
			  json_object_get_boolean(jget(md, "hotplugged")))
			TH_LOG("device %s: hotplugged", qid ? qid : "?");
	}

	/*
	 * Memslots, per KVM address space: (gpa, size) of every slot = QEMU's
	 * KVM-marked ranges of "memory" (0) and, with SMM, "KVM-SMRAM" (1).
	 */
	slots = jget(doc, "memslots");
	ASSERT_NE(NULL, slots);
	for (unsigned int as = 0; as < 2; as++) {
		nq = qemu_as_kvm_ranges(flat, as ? "KVM-SMRAM" : "memory", q, MAX_RANGES);
		nm = 0;
		for (size_t i = 0; i < json_object_array_length(slots) && nm < MAX_RANGES; i++) {
			struct json_object *s = json_object_array_get_idx(slots, i);

			if (jget_u64(s, "as") == as)
				m[nm++] = (struct gpa_range){ jget_u64(s, "gpa"),
							      jget_u64(s, "size") };
		}
		qsort(m, nm, sizeof(*m), gpa_range_cmp);
		EXPECT_EQ(nq, nm) TH_LOG("address space %u", as);
		for (int i = 0; i < nq || i < nm; i++) {
			bool same = i < nq && i < nm && !gpa_range_cmp(&q[i], &m[i]);

			EXPECT_TRUE(same)
				TH_LOG("as %u range %d: QEMU %#" PRIx64 "+%#" PRIx64 ", memslot %#"
				       PRIx64 "+%#" PRIx64, as, i, i < nq ? q[i].gpa : 0,
				       i < nq ? q[i].size : 0, i < nm ? m[i].gpa : 0,
				       i < nm ? m[i].size : 0);
		}
	}
	/* where KVM has SMM, QEMU uses it and so does the plan */
	EXPECT_EQ(kvm_smm(), jget_bool(jget(doc, "machine"), "smm"));

	/*
	 * The kernel's table of QEMU's VM, read by the BPF census (as root),
	 * holds the plan's slots per address space: (gpa, size, flags), ids
	 * aside (QEMU's commit order decides those).
	 */
	if (!geteuid()) {
		struct gpa_range k[MAX_RANGES], p[MAX_RANGES];
		struct json_object *cdoc, *cslots;
		struct cli_result v;
		int nk = 0, np = 0;
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)self->qm.pid);
		ASSERT_EQ(0, CLI_RUN(&v, "-j", "census", "-p", pid));
		EXPECT_EQ(0, v.status) TH_LOG("memslot census: %s", v.err);
		cdoc = json_tokener_parse(v.out);
		ASSERT_NE(NULL, cdoc) TH_LOG("%s", v.out);
		ASSERT_EQ(1, jget_len(jget(cdoc, "vms")));
		cslots = jget(jget_idx(jget(cdoc, "vms"), 0), "memslots");
		/* the flags ride in the low bits of the size: both are page multiples */
		for (size_t i = 0; i < jget_len(cslots) && nk < MAX_RANGES; i++) {
			struct json_object *c = jget_idx(cslots, i);

			k[nk++] = (struct gpa_range){ jget_u64(c, "gpa") | jget_u64(c, "as"),
						      jget_u64(c, "size") | jget_u64(c, "flags") };
		}
		for (size_t i = 0; i < jget_len(slots) && np < MAX_RANGES; i++) {
			struct json_object *c = jget_idx(slots, i);

			p[np++] = (struct gpa_range){ jget_u64(c, "gpa") | jget_u64(c, "as"),
						      jget_u64(c, "size") | jget_u64(c, "flags") };
		}
		qsort(k, nk, sizeof(*k), gpa_range_cmp);
		qsort(p, np, sizeof(*p), gpa_range_cmp);
		EXPECT_EQ(nk, np);
		for (int j = 0; j < nk && j < np; j++) {
			EXPECT_EQ(0, gpa_range_cmp(&k[j], &p[j]))
				TH_LOG("census %#" PRIx64 "+%#" PRIx64 ", plan %#" PRIx64 "+%#" PRIx64
				       " (as in bit 0, flags in the size's low bits)", k[j].gpa,
				       k[j].size, p[j].gpa, p[j].size);
		}
		json_object_put(cdoc);
		cli_result_free(&v);
	}
	if (_metadata->exit_code)
		TH_LOG("QEMU info mtree -f:\n%s", flat);

	ret = qmp_call(&self->qm.q, "quit", NULL, err, sizeof(err));
	json_object_put(ret);
	json_object_put(doc);
	json_object_put(devs);
	cli_result_free(&r);
	free(flat);
	for (int i = 0; i < 16; i++)
		free(store[i]);
	for (int i = 0; i < 8; i++)
		free(hot[i]);
	for (int i = 0; i < 64; i++)
		free(extra[i]);
}

TEST_HARNESS_MAIN
