// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tracer and the census against QEMU itself: Debian's
 * qemu-system-x86_64 is started (-machine pc,accel=kvm, -m 256 with DIMM
 * slots, -nodefaults, -display none, -S, QMP), the trace skeleton is
 * loaded in-process and filtered on QEMU's pid once QMP answers, and DIMMs
 * are hot-plugged over QMP (object-add memory-backend-ram + device_add
 * pc-dimm). Checked:
 *   - the trace holds exactly one successful create per DIMM in address
 *     space 0, at the address query-memory-devices reports and of the
 *     DIMM's size; the only other memslot ioctls allowed are the same
 *     create in address space 1 (x86 SMRAM, where QEMU's SMM listener
 *     mirrors system memory) - nothing else, no failure, no lost event;
 *   - `memslot -j census -p PID` ($MEMSLOT) lists, in address space 0,
 *     exactly the ranges of address space "memory" that `info mtree -f`
 *     marks " KVM" (gpa and size).
 *
 * QMP: the test listens on a unix socket and QEMU connects to it as a
 * client. QEMU dies with the test (PR_SET_PDEATHSIG) and is killed in the
 * teardown, pass or fail. SKIPs only when qemu-system-x86_64 ($QEMU
 * overrides) or a usable /dev/kvm is missing.
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

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "qmp.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#include "memslot_bpf.h"
#include "trace.skel.h"

#define MAX_ARGS	32
#define MAX_RANGES	256
#define MAX_EV		256
#define MiB		0x100000ull

struct events {
	struct ms_trace_event ev[MAX_EV];
	int nr;
	int dropped;		/* more than MAX_EV */
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct events *e = ctx;

	if (len < sizeof(struct ms_trace_event))
		return 0;
	if (e->nr < MAX_EV)
		memcpy(&e->ev[e->nr++], data, sizeof(struct ms_trace_event));
	else
		e->dropped++;
	return 0;
}

static bool btf_tracepoints(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok = btf && btf__find_by_name_kind(btf, "btf_trace_sys_enter", BTF_KIND_TYPEDEF) > 0 &&
		  btf__find_by_name_kind(btf, "btf_trace_sys_exit", BTF_KIND_TYPEDEF) > 0;

	btf__free(btf);
	return ok;
}

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

FIXTURE(trace_qemu) {
	char dir[64];
	pid_t qemu;
	int listen_fd;
	struct qmp q;
	struct trace_bpf *skel;
	struct ring_buffer *rb;
	struct events got;
};

FIXTURE_VARIANT(trace_qemu) {
	const char *hot[8];	/* object_add / device_add lines in pairs, NULL-terminated */
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
};

FIXTURE_SETUP(trace_qemu)
{
	char *qemu;
	int fd;

	self->qemu = 0;
	self->listen_fd = -1;
	self->q = (struct qmp){ .fd = -1 };
	self->skel = NULL;
	self->rb = NULL;
	self->dir[0] = '\0';
	qemu = find_program(qemu_name());
	if (!qemu)
		SKIP(return, "%s not found", qemu_name());
	free(qemu);
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "/dev/kvm: %s", strerror(errno));
	close(fd);
	snprintf(self->dir, sizeof(self->dir), "/tmp/memslot-trace-qemu.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(trace_qemu)
{
	static const char *const files[] = { "qmp.sock", "qemu.log", NULL };
	char path[128];

	ring_buffer__free(self->rb);
	trace_bpf__destroy(self->skel);
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
static const char *start_qemu(FIXTURE_DATA(trace_qemu) *self)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *argv[MAX_ARGS];
	char qmp[160], log[128];
	struct pollfd pfd;
	int n = 0, logfd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", self->dir);
	self->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (self->listen_fd < 0 || bind(self->listen_fd, (void *)&sa, sizeof(sa)) ||
	    listen(self->listen_fd, 1))
		return "cannot listen on the QMP socket";

	snprintf(qmp, sizeof(qmp), "unix:%s", sa.sun_path);
	argv[n++] = qemu_name();
	argv[n++] = "-machine";
	argv[n++] = "pc,accel=kvm";
	argv[n++] = "-m";
	argv[n++] = "256,slots=4,maxmem=8G";
	argv[n++] = "-nodefaults";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-S";
	argv[n++] = "-qmp";
	argv[n++] = qmp;
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

static void log_qemu(struct __test_metadata *_metadata, FIXTURE_DATA(trace_qemu) *self)
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
			char *end;
			unsigned long long n = strtoull(v, &end, 0);

			switch (*end) {
			case 'G': n <<= 30; break;
			case 'M': n <<= 20; break;
			case 'K': case 'k': n <<= 10; break;
			default: break;
			}
			json_object_object_add(a, k, json_object_new_uint64(n));
		} else {
			json_object_object_add(a, k, json_object_new_string(v));
		}
		first = false;
	}
	free(copy);
	return a;
}

TEST_F_TIMEOUT(trace_qemu, hotplug, 120)
{
	struct gpa_range q[MAX_RANGES], c[MAX_RANGES], dimm[4];
	struct json_object *ret, *devs, *doc, *vms, *slots;
	int nq, nc = 0, nd = 0, n = 0, status;
	const char *args[8], *why;
	char err[512], pidbuf[16];
	char *out, *tool_err, *flat;
	uint64_t lost = 0;
	uint32_t zero = 0;
	int matched[4] = { 0 }, matched_as1[4] = { 0 };
	bool tp;

	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	why = start_qemu(self);
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
	/* QMP answers from the main loop: the machine is built, RAM is mapped. */
	ret = qmp_call(&self->q, "query-status", NULL, err, sizeof(err));
	ASSERT_NE(NULL, ret) TH_LOG("%s", err);
	json_object_put(ret);

	/* The tracer, on QEMU only. */
	self->skel = trace_bpf__open();
	ASSERT_NE(NULL, self->skel);
	self->skel->rodata->targ_tgid = (uint32_t)self->qemu;
	tp = btf_tracepoints();
	bpf_program__set_autoload(self->skel->progs.enter_btf, tp);
	bpf_program__set_autoload(self->skel->progs.exit_btf, tp);
	bpf_program__set_autoload(self->skel->progs.enter_raw, !tp);
	bpf_program__set_autoload(self->skel->progs.exit_raw, !tp);
	TH_LOG("attach path: %s", tp ? "tp_btf" : "raw_tp");
	ASSERT_EQ(0, trace_bpf__load(self->skel));
	ASSERT_EQ(0, trace_bpf__attach(self->skel));
	self->rb = ring_buffer__new(bpf_map__fd(self->skel->maps.events), on_event, &self->got,
				    NULL);
	ASSERT_NE(NULL, self->rb);

	for (int i = 0; variant->hot[i]; i++) {
		bool obj = !strncmp(variant->hot[i], "object_add ", 11);
		const char *opts = strchr(variant->hot[i], ' ') + 1;

		ret = qmp_call(&self->q, obj ? "object-add" : "device_add",
			       qmp_args(opts, obj ? "qom-type" : "driver"), err, sizeof(err));
		ASSERT_NE(NULL, ret) TH_LOG("%s: %s", variant->hot[i], err);
		json_object_put(ret);
		/* device_add returns after the KVM listener ran: drain now */
		ASSERT_LE(0, ring_buffer__consume(self->rb));
	}

	devs = qmp_call(&self->q, "query-memory-devices", NULL, err, sizeof(err));
	ASSERT_NE(NULL, devs) TH_LOG("%s", err);
	for (size_t i = 0; i < json_object_array_length(devs) && nd < 4; i++) {
		struct json_object *data = jget(json_object_array_get_idx(devs, i), "data");

		dimm[nd++] = (struct gpa_range){ jget_u64(data, "addr"), jget_u64(data, "size") };
		TH_LOG("dimm %s: %#" PRIx64 "+%#" PRIx64, jget_str(data, "id"), dimm[nd - 1].gpa,
		       dimm[nd - 1].size);
	}
	json_object_put(devs);
	ASSERT_EQ(variant->hot[4] ? 3 : 2, nd);

	ret = qmp_call(&self->q, "human-monitor-command",
		       json_tokener_parse("{\"command-line\": \"info mtree -f\"}"), err, sizeof(err));
	ASSERT_NE(NULL, ret) TH_LOG("%s", err);
	flat = strdup(json_object_get_string(ret));
	json_object_put(ret);
	nq = qemu_kvm_ranges(flat, q, MAX_RANGES);
	ASSERT_LT(0, nq);

	/* The trace: one successful create per DIMM, nothing else. */
	ASSERT_LE(0, ring_buffer__consume(self->rb));
	EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(self->skel->maps.lost), &zero, &lost));
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, self->got.dropped);
	for (int i = 0; i < self->got.nr; i++) {
		const struct ms_trace_event *e = &self->got.ev[i];
		unsigned int as = e->slot >> 16;
		bool known = false;

		TH_LOG("event %d: as %u slot %u gpa %#" PRIx64 " size %#" PRIx64 " ret %d", i, as,
		       e->slot & 0xffff, (uint64_t)e->gpa, (uint64_t)e->size, e->ret);
		EXPECT_EQ((uint32_t)self->qemu, e->pid);
		EXPECT_EQ(0, e->ret);
		EXPECT_EQ(0, e->copy_err);
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

	/* The census of QEMU = its KVM-marked ranges of AS "memory". */
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)self->qemu);
	args[n++] = cli_tool_path();
	args[n++] = "-j";
	args[n++] = "census";
	args[n++] = "-p";
	args[n++] = pidbuf;
	args[n] = NULL;
	out = run_tool(args, &status, &tool_err);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status) TH_LOG("memslot census: %s%s", out, tool_err ? tool_err : "");
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
	free(out);
	free(tool_err);
	free(flat);
}

TEST_HARNESS_MAIN
