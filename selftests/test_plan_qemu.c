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
 *   - the predicted KVM memslots, as a set of (gpa, size), are exactly the
 *     ranges of address space "memory" that QEMU marks " KVM"
 *     (kvm-memslots.md 8.1).
 *
 * QMP: the test listens on a unix socket in a temporary directory and QEMU
 * connects to it (-qmp unix:PATH as a client), so there is no start-up race
 * and no polling; every read is bounded by poll(). QEMU dies with the test
 * (PR_SET_PDEATHSIG) and is killed in the teardown.
 *
 * SKIPs only when qemu-system-x86_64 ($QEMU overrides) or a usable /dev/kvm
 * is missing. The tool is $MEMSLOT (default build/memslot).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "qmp.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define MAX_ARGS	48
#define MAX_RANGES	256

static const char *qemu_name(void)
{
	const char *q = getenv("QEMU");

	return q && *q ? q : "qemu-system-x86_64";
}

/* Full path of @name along $PATH (or @name itself if it has a '/'), or NULL. */
static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(name, '/'))
		return access(name, X_OK) ? NULL : strdup(name);
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, name);
		if (len && !access(buf, X_OK))
			return strdup(buf);
		p += len + (e ? 1 : 0);
	}
	return NULL;
}

/*
 * One configuration. Every string may contain @DIR@, replaced by the
 * temporary directory (memory-backend-file paths).
 */
FIXTURE_VARIANT(plan_qemu) {
	const char *machine;		/* -machine, without accel */
	const char *memory;		/* -m */
	const char *cold[16];		/* -object/-device arguments, in pairs */
	const char *hot[8];		/* script lines: object_add / device_add */
};

FIXTURE(plan_qemu) {
	char dir[64];
	pid_t qemu;
	int listen_fd;
	struct qmp q;
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
	char *qemu = find_program(qemu_name());
	int fd;

	self->qemu = 0;
	self->listen_fd = -1;
	self->q = (struct qmp){ .fd = -1 };
	self->dir[0] = '\0';
	if (!qemu)
		SKIP(return, "%s not found", qemu_name());
	free(qemu);
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "/dev/kvm: %s", strerror(errno));
	close(fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/memslot-plan-qemu.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(plan_qemu)
{
	static const char *const files[] = { "qmp.sock", "qemu.log", "script", "nv1", NULL };
	char path[128];

	qmp_close(&self->q);
	if (self->listen_fd >= 0)
		close(self->listen_fd);
	if (self->qemu > 0) {
		kill(self->qemu, SIGKILL);
		waitpid(self->qemu, NULL, 0);
	}
	if (!self->dir[0])
		return;
	for (int i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", self->dir, files[i]);
		unlink(path);
	}
	rmdir(self->dir);
}

/* --- QMP ------------------------------------------------------------------- */


/* Start QEMU; it connects to our socket. Return: NULL or a failure text. */
static const char *start_qemu(FIXTURE_DATA(plan_qemu) *self,
			      const FIXTURE_VARIANT(plan_qemu) *variant, char **argv_store)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *argv[MAX_ARGS];
	char machine[256], qmp[160], log[128];
	struct pollfd pfd;
	int n = 0, logfd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", self->dir);
	self->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (self->listen_fd < 0 || bind(self->listen_fd, (void *)&sa, sizeof(sa)) ||
	    listen(self->listen_fd, 1))
		return "cannot listen on the QMP socket";

	snprintf(machine, sizeof(machine), "%s,accel=kvm", variant->machine);
	snprintf(qmp, sizeof(qmp), "unix:%s", sa.sun_path);
	argv[n++] = qemu_name();
	argv[n++] = "-machine";
	argv[n++] = machine;
	argv[n++] = "-m";
	argv[n++] = variant->memory;
	argv[n++] = "-nodefaults";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-S";
	argv[n++] = "-qmp";
	argv[n++] = qmp;
	for (int i = 0; variant->cold[i]; i++)
		argv[n++] = argv_store[i];
	argv[n] = NULL;

	snprintf(log, sizeof(log), "%s/qemu.log", self->dir);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0)
		return "cannot create the QEMU log";
	self->qemu = fork();
	if (self->qemu < 0)
		return "fork failed";
	if (self->qemu == 0) {
		int in = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (in < 0 || dup2(in, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(126);
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	close(logfd);

	pfd = (struct pollfd){ .fd = self->listen_fd, .events = POLLIN };
	if (poll(&pfd, 1, QMP_TIMEOUT_MS) <= 0)
		return "QEMU did not connect to the QMP socket";
	self->q.fd = accept4(self->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (self->q.fd < 0)
		return "accept failed";
	return NULL;
}

static void log_qemu(struct __test_metadata *_metadata, FIXTURE_DATA(plan_qemu) *self)
{
	char path[128], *text;

	snprintf(path, sizeof(path), "%s/qemu.log", self->dir);
	text = slurp(path);
	if (text && *text)
		TH_LOG("QEMU said: %s", text);
	free(text);
}

/* "key=value,..." of an object_add / device_add line as QMP arguments. */
static struct json_object *qmp_args(const char *opts, const char *type_key)
{
	struct json_object *a = json_object_new_object();
	char *copy = strdup(opts), *save = NULL, *item;
	bool first = true;

	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *k = eq ? item : type_key;
		const char *v = eq ? eq + 1 : item;

		if (eq)
			*eq = '\0';
		if (first && !eq) {
			json_object_object_add(a, k, json_object_new_string(v));
		} else if (!strcmp(k, "size") || !strcmp(k, "addr")) {
			/* QMP takes numbers; the lines use QEMU's size syntax */
			char *end;
			unsigned long long n = strtoull(v, &end, 0);

			switch (*end) {
			case 'G': n <<= 30; break;
			case 'M': n <<= 20; break;
			case 'K': case 'k': n <<= 10; break;
			default: break;
			}
			json_object_object_add(a, k, json_object_new_uint64(n));
		} else if (!strcmp(k, "slot")) {
			json_object_object_add(a, k, json_object_new_int(atoi(v)));
		} else {
			json_object_object_add(a, k, json_object_new_string(v));
		}
		first = false;
	}
	free(copy);
	return a;
}

/* --- comparisons ------------------------------------------------------------ */


TEST_F_TIMEOUT(plan_qemu, same_as_qemu, 120)
{
	char *store[16] = { NULL }, *hot[8] = { NULL }, err[512], path[128];
	struct json_object *devs, *ret, *doc, *mine, *slots;
	struct gpa_range q[MAX_RANGES], m[MAX_RANGES];
	const char *args[MAX_ARGS], *why;
	int nq, nm = 0, n = 0, status;
	char *out, *tool_err, *flat;
	FILE *script;

	for (int i = 0; variant->cold[i]; i++)
		ASSERT_NE(NULL, store[i] = subst(variant->cold[i], self->dir));
	for (int i = 0; variant->hot[i]; i++)
		ASSERT_NE(NULL, hot[i] = subst(variant->hot[i], self->dir));

	why = start_qemu(self, variant, store);
	if (why) {
		log_qemu(_metadata, self);
		ASSERT_EQ(NULL, why);
	}
	ret = qmp_read(&self->q);	/* greeting */
	if (!ret)
		log_qemu(_metadata, self);
	ASSERT_NE(NULL, ret);
	json_object_put(ret);
	ret = qmp_call(&self->q, "qmp_capabilities", NULL, err, sizeof(err));
	ASSERT_NE(NULL, ret) TH_LOG("%s", err);
	json_object_put(ret);

	for (int i = 0; hot[i]; i++) {
		bool obj = !strncmp(hot[i], "object_add ", 11);
		const char *opts = strchr(hot[i], ' ') + 1;

		ret = qmp_call(&self->q, obj ? "object-add" : "device_add",
			       qmp_args(opts, obj ? "qom-type" : "driver"), err, sizeof(err));
		ASSERT_NE(NULL, ret) TH_LOG("%s: %s", hot[i], err);
		json_object_put(ret);
	}

	devs = qmp_call(&self->q, "query-memory-devices", NULL, err, sizeof(err));
	ASSERT_NE(NULL, devs) TH_LOG("%s", err);
	ret = qmp_call(&self->q, "human-monitor-command",
		       json_tokener_parse("{\"command-line\": \"info mtree -f\"}"), err, sizeof(err));
	ASSERT_NE(NULL, ret) TH_LOG("%s", err);
	flat = strdup(json_object_get_string(ret));
	json_object_put(ret);
	nq = qemu_kvm_ranges(flat, q, MAX_RANGES);
	ASSERT_LT(0, nq);

	/* The same machine planned by memslot. */
	snprintf(path, sizeof(path), "%s/script", self->dir);
	script = fopen(path, "w");
	ASSERT_NE(NULL, script);
	fprintf(script, "# hot-plugged over QMP\n");
	for (int i = 0; hot[i]; i++)
		fprintf(script, "%s\n", hot[i]);
	fclose(script);
	args[n++] = cli_tool_path();
	args[n++] = "-j";
	args[n++] = "plan";
	args[n++] = "-M";
	args[n++] = variant->machine;
	args[n++] = "-m";
	args[n++] = variant->memory;
	for (int i = 0; store[i]; i++)
		args[n++] = store[i];
	args[n++] = "--script";
	args[n++] = path;
	args[n] = NULL;
	out = run_tool(args, &status, &tool_err);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status) TH_LOG("memslot plan: %s%s", out, tool_err ? tool_err : "");
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

		EXPECT_STREQ(qtype, mtype);
		EXPECT_STREQ(qid ? qid : "(none)", mid ? mid : "(none)");
		EXPECT_EQ(jget_u64(data, "addr"), jget_u64(md, "addr"))
			TH_LOG("device %s: QEMU addr 0x%" PRIx64 ", memslot 0x%" PRIx64,
			       qid ? qid : "?", jget_u64(data, "addr"), jget_u64(md, "addr"));
		EXPECT_EQ(jget_u64(data, "slot"), jget_u64(md, "slot"))
			TH_LOG("device %s: slot", qid ? qid : "?");
		EXPECT_EQ(jget_u64(data, "size"), jget_u64(md, "size"))
			TH_LOG("device %s: size", qid ? qid : "?");
		EXPECT_EQ(json_object_get_boolean(jget(data, "hotplugged")),
			  json_object_get_boolean(jget(md, "hotplugged")))
			TH_LOG("device %s: hotplugged", qid ? qid : "?");
	}

	/* Memslots: (gpa, size) of every slot = QEMU's KVM-marked ranges. */
	slots = jget(doc, "memslots");
	ASSERT_NE(NULL, slots);
	for (size_t i = 0; i < json_object_array_length(slots) && nm < MAX_RANGES; i++) {
		struct json_object *s = json_object_array_get_idx(slots, i);

		m[nm++] = (struct gpa_range){ jget_u64(s, "gpa"), jget_u64(s, "size") };
	}
	qsort(m, nm, sizeof(*m), gpa_range_cmp);
	EXPECT_EQ(nq, nm);
	for (int i = 0; i < nq || i < nm; i++) {
		bool same = i < nq && i < nm && !gpa_range_cmp(&q[i], &m[i]);

		EXPECT_TRUE(same)
			TH_LOG("range %d: QEMU %#" PRIx64 "+%#" PRIx64 ", memslot %#" PRIx64
			       "+%#" PRIx64, i, i < nq ? q[i].gpa : 0, i < nq ? q[i].size : 0,
			       i < nm ? m[i].gpa : 0, i < nm ? m[i].size : 0);
	}
	if (_metadata->exit_code)
		TH_LOG("QEMU info mtree -f:\n%s", flat);

	ret = qmp_call(&self->q, "quit", NULL, err, sizeof(err));
	json_object_put(ret);
	json_object_put(doc);
	json_object_put(devs);
	free(out);
	free(tool_err);
	free(flat);
	for (int i = 0; i < 16; i++)
		free(store[i]);
	for (int i = 0; i < 8; i++)
		free(hot[i]);
}

TEST_HARNESS_MAIN
