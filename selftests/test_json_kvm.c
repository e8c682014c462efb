// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The JSON contract (memslot(8), JSON OUTPUT) of the commands that need
 * KVM and BPF: real -j output of run, census, trace and verify checked
 * against the member lists of their man pages in both directions
 * (lib/jsondoc.c, as test_json.c does for the others). Every documented
 * member not marked "?" is present with a documented type and no member
 * is undocumented; where the runs here can produce every member, each one
 * must show up at least once.
 *
 * The VM the BPF commands look at is this process's own (ms_kvm), with a
 * few one-page slots; trace watches it change them. census --svg draws
 * the same VM: the file must parse as XML and have one slot rectangle per
 * memslot of census -j. Run from the repository root; the tool is
 * $MEMSLOT. Without /dev/kvm or root the tests skip, saying why.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util.h"	/* before the harness, see there */
#include "cli.h"
#include "jsondoc.h"

#include "harness.h"

#define NR_SLOTS	4

static struct jsondoc jd;

FIXTURE(kvmjson) {
	char dir[64];
	char pid[16];
	struct ms_kvm *k;
	char *mem;
};

FIXTURE_SETUP(kvmjson)
{
	struct ms_error err = { 0 };
	char bad[600] = "";

	jsondoc_free(&jd);
	ASSERT_LT(0, jsondoc_load(&jd, "man", bad, sizeof(bad)))
		TH_LOG("man/*.rst: bad JSON list line: %s", bad);
	snprintf(self->dir, sizeof(self->dir), "/tmp/test_json_kvm.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->pid, sizeof(self->pid), "%d", getpid());
	if (geteuid())
		SKIP(return, "needs root (CAP_BPF, CAP_PERFMON)");
	self->k = ms_kvm__new(NULL, &err);
	if (!self->k)
		SKIP(return, "no KVM VM: %s", err.msg);
	self->mem = mmap(NULL, (NR_SLOTS + 4) * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
}

FIXTURE_TEARDOWN(kvmjson)
{
	char cmd[128];

	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, (NR_SLOTS + 4) * PAGE);
	ms_kvm__free(self->k);
	jsondoc_free(&jd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/* Create (@kind MS_SLOT_OP_CREATE) or delete slot @id: one page at @id MiB, @flags. */
static int slot_op(FIXTURE_DATA(kvmjson) *self, enum ms_slot_op_kind kind, uint32_t id,
		   uint32_t flags)
{
	struct ms_slot_op op = {
		.kind = kind,
		.slot = { .slot = id, .gpa = (uint64_t)id * MiB, .size = PAGE, .flags = flags,
			  .hva = self->mem + (size_t)id * PAGE },
	};

	return ms_kvm__exec(self->k, &op);
}

/* Slot 7 over slot 3's page: fails in the kernel with EEXIST. */
static int overlap_op(FIXTURE_DATA(kvmjson) *self)
{
	struct ms_slot_op op = {
		.kind = MS_SLOT_OP_CREATE,
		.slot = { .slot = 7, .gpa = 3 * MiB, .size = PAGE, .hva = self->mem + 7 * PAGE },
	};

	return ms_kvm__exec(self->k, &op);
}

/* NR_SLOTS slots, the second one with dirty logging. */
static int add_slots(FIXTURE_DATA(kvmjson) *self)
{
	for (uint32_t i = 0; i < NR_SLOTS; i++)
		if (slot_op(self, MS_SLOT_OP_CREATE, i, i == 1 ? MS_KVM_MEM_LOG_DIRTY_PAGES : 0))
			return -1;
	return 0;
}

/*
 * Run memslot with @args (@env as for struct cli_opts), expect exit @status
 * and stdout conforming to @doc. Return: the parsed stdout, NULL if none.
 */
static struct json_object *doc_run(struct __test_metadata *_metadata, const char *doc,
				   int status, const char *const *env, const char *const *args)
{
	struct json_object *o;
	struct cli_result r;
	char line[600] = "";

	for (const char *const *a = args; *a; a++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s", *a);
	if (cli_run(&r, &(struct cli_opts){ .env = env }, args)) {
		cli_result_free(&r);
		EXPECT_TRUE(false) TH_LOG("memslot%s: cannot run it", line);
		return NULL;
	}
	EXPECT_EQ(status, r.status) TH_LOG("memslot%s: %s", line, r.err);
	jsondoc_log_clear(&jd);
	EXPECT_EQ(0, jsondoc_check_text(&jd, doc, r.out))
		TH_LOG("memslot%s:\n%s", line, jsondoc_log(&jd));
	o = parse_one(r.out);
	cli_result_free(&r);
	return o;
}

#define DOC_RUN(doc, status, env, ...) \
	doc_run(_metadata, doc, status, env, (const char *const[]){ __VA_ARGS__, NULL })

/* Every member of @doc met, but those under the "doc:path" prefixes of @exempt. */
static void expect_seen(struct __test_metadata *_metadata, const char *doc,
			const char *const *exempt)
{
	int skipped = 0;

	jsondoc_log_clear(&jd);
	EXPECT_EQ(0, jsondoc_unseen(&jd, doc, exempt, &skipped)) TH_LOG("%s", jsondoc_log(&jd));
	if (skipped)
		printf("# %s: %d members not met, none to show here\n", doc, skipped);
}

static char *write_text(const char *dir, const char *name, const char *text, char *buf,
			size_t len)
{
	FILE *f;

	snprintf(buf, len, "%s/%s", dir, name);
	f = fopen(buf, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	return fclose(f) ? NULL : buf;
}

/* The step of run document @o whose command starts with @cmd, or NULL. */
static struct json_object *step_named(struct json_object *o, const char *cmd)
{
	struct json_object *steps = jget(o, "steps");

	for (size_t i = 0; i < jget_len(steps); i++) {
		const char *c = jget_str(jget_idx(steps, i), "command");

		if (c && !strncmp(c, cmd, strlen(cmd)))
			return jget_idx(steps, i);
	}
	return NULL;
}

/*
 * run: the default scenario, with --verify and --dirty-log, a ROM and MMIO
 * scenario, and one whose DIMM plug fails at its first ioctl
 * (MEMSLOT_KVM_FAULT): exit 1 with the failed ioctl in kvm_error.
 */
TEST_F_TIMEOUT(kvmjson, run, 600)
{
	static const char *const script =
		"object_add memory-backend-ram,id=m1,size=128M\n"
		"device_add pc-dimm,id=d1,memdev=m1\n"
		"object_add memory-backend-file,id=rom0,size=64M,mem-path=/dev/zero,readonly=on\n"
		"device_add pc-dimm,id=drom,memdev=rom0\n"
		"device_del d1\n";
	struct json_object *o, *s;
	char scn[128], fault[64];
	const char *env[] = { fault, NULL };
	uint64_t first;

	snprintf(fault, sizeof(fault), "MEMSLOT_KVM_FAULT");
	json_object_put(DOC_RUN("run", 0, NULL, "-j", "run"));
	json_object_put(DOC_RUN("run", 0, NULL, "-j", "run", "--verify", "--dirty-log"));
	ASSERT_NE(NULL, write_text(self->dir, "dimm.scn", script, scn, sizeof(scn)));
	o = DOC_RUN("run", 0, NULL, "-j", "run", "-M", "pc", "-m", "256M,slots=4,maxmem=4G",
		    "--verify", "--script", scn);
	s = step_named(o, "device_add pc-dimm,id=d1");
	ASSERT_NE(NULL, s) TH_LOG("no step of the DIMM plug");
	first = jget_u64(jget(s, "kvm"), "ioctl_first");
	ASSERT_NE(UINT64_MAX, first);
	json_object_put(o);

	snprintf(fault, sizeof(fault), "MEMSLOT_KVM_FAULT=%llu:ENOMEM",
		 (unsigned long long)first + 1);
	o = DOC_RUN("run", 1, env, "-j", "run", "-M", "pc", "-m", "256M,slots=4,maxmem=4G",
		    "--verify", "--script", scn);
	s = step_named(o, "device_add pc-dimm,id=d1");
	EXPECT_NE(NULL, jget(s, "kvm_error")) TH_LOG("the faulted step has no kvm_error");
	EXPECT_FALSE(jget_bool(o, "ok"));
	json_object_put(o);
	/* the tables always agreed: no difference to list */
	expect_seen(_metadata, "run", (const char *const[]){ "run:steps[].differences[]",
		"run:steps[].kernel_verify.differences[]", NULL });
}

/* census -j of this process's VM, of all VMs, of a process without one; --svg. */
TEST_F(kvmjson, census)
{
	static const char py[] =
		"import sys, xml.etree.ElementTree as E\n"
		"r = E.parse(sys.argv[1]).getroot()\n"
		"n = sum(1 for e in r.iter('{http://www.w3.org/2000/svg}rect')\n"
		"        if (e.get('class') or '').split()[:1] == ['slot'])\n"
		"print(n)\n";
	const char *argv[] = { "/usr/bin/python3", "-c", py, NULL, NULL };
	struct json_object *o, *vm;
	char svg[128], child[16];
	struct cli_result r;
	pid_t pid;
	int st;

	ASSERT_EQ(0, add_slots(self));
	o = DOC_RUN("census", 0, NULL, "-j", "census", "-p", self->pid);
	vm = jget_idx(jget(o, "vms"), 0);
	EXPECT_EQ(1, jget_len(jget(o, "vms")));
	EXPECT_EQ(NR_SLOTS, jget_len(jget(vm, "memslots")));
	json_object_put(o);
	json_object_put(DOC_RUN("census", 0, NULL, "-j", "census"));

	/* a process without a VM */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* without the VM file it inherited */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		pause();
		_exit(0);
	}
	snprintf(child, sizeof(child), "%d", pid);
	o = DOC_RUN("census", 0, NULL, "-j", "census", "-p", child);
	EXPECT_EQ(0, jget_len(jget(o, "vms")));
	json_object_put(o);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	expect_seen(_metadata, "census", NULL);

	/* --svg beside -j: one slot rectangle per memslot */
	snprintf(svg, sizeof(svg), "%s/census.svg", self->dir);
	o = DOC_RUN("census", 0, NULL, "-j", "census", "-p", self->pid, "--svg", svg);
	vm = jget_idx(jget(o, "vms"), 0);
	argv[3] = svg;
	ASSERT_EQ(0, cli_exec(&r, NULL, argv));
	EXPECT_EQ(0, r.status) TH_LOG("%s is no XML: %s", svg, r.err);
	EXPECT_EQ(jget_len(jget(vm, "memslots")), strtoull(r.out, NULL, 10))
		TH_LOG("slot rectangles: %s", r.out);
	EXPECT_EQ(NR_SLOTS, strtoull(r.out, NULL, 10));
	cli_result_free(&r);
	json_object_put(o);
}

/* verify -j: the census's table as expected, then with one slot moved. */
TEST_F(kvmjson, verify)
{
	struct json_object *o, *rows, *expect;
	char path[128];
	FILE *f;

	ASSERT_EQ(0, add_slots(self));
	o = DOC_RUN("census", 0, NULL, "-j", "census", "-p", self->pid);
	rows = jget(jget_idx(jget(o, "vms"), 0), "memslots");
	ASSERT_EQ(NR_SLOTS, jget_len(rows));
	expect = json_object_new_object();
	ASSERT_NE(NULL, expect);
	json_object_object_add(expect, "memslots", json_object_get(rows));
	snprintf(path, sizeof(path), "%s/expect.json", self->dir);
	ASSERT_EQ(0, json_object_to_file(path, expect));
	json_object_put(DOC_RUN("verify", 0, NULL, "-j", "verify", "-p", self->pid,
				"--expect", path));

	/* a bare array, one row moved and one missing */
	json_object_object_add(jget_idx(rows, 2), "gpa", json_object_new_uint64(64 * GiB));
	json_object_array_del_idx(rows, 3, 1);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fputs(json_object_to_json_string(rows), f);
	ASSERT_EQ(0, fclose(f));
	json_object_put(expect);
	json_object_put(o);
	o = DOC_RUN("verify", 1, NULL, "-j", "verify", "-p", self->pid, "--expect", path);
	EXPECT_FALSE(jget_bool(o, "ok"));
	EXPECT_EQ(2, jget_len(jget(o, "differences")));
	json_object_put(o);
	expect_seen(_metadata, "verify", NULL);
}

/*
 * `memslot ARGS` in the background (posix_spawn()), stdout into an unlinked
 * file, stderr into a pipe read up to the line naming the attach point.
 */
struct tracer {
	pid_t pid;
	int out;
	FILE *err;
};

static int tracer_start(struct tracer *t, const char *const *args)
{
	const char *argv[16] = { cli_tool_path() };
	posix_spawn_file_actions_t fa;
	char tmpl[] = "/tmp/test_json_kvm.out.XXXXXX";
	char line[512];
	int errp[2] = { -1, -1 }, ret;

	for (size_t n = 1; *args && n < 15; n++)
		argv[n] = *args++;
	t->out = mkostemp(tmpl, O_CLOEXEC);
	if (t->out < 0 || unlink(tmpl) || pipe2(errp, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, t->out, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	ret = posix_spawn(&t->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(errp[1]);
	t->err = ret ? NULL : fdopen(errp[0], "r");
	if (!t->err)
		return ret ? -ret : -errno;
	/* the duration counts from that line */
	while (fgets(line, sizeof(line), t->err))
		if (strstr(line, "attach: "))
			return 0;
	return -EIO;
}

/* Wait for its end (--duration); its stdout, NUL-terminated (malloc()ed), or NULL. */
static char *tracer_wait(struct tracer *t, int *status)
{
	char line[512], *text = NULL;
	int st;

	while (fgets(line, sizeof(line), t->err))
		fputs(line, stderr);	/* the text summary, for the log */
	fclose(t->err);
	if (waitpid(t->pid, &st, 0) == t->pid) {
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		text = slurp_fd(t->out);
	}
	close(t->out);
	return text;
}

/* Each line of trace -j against the list its kind has; count the kinds in @n. */
static int check_lines(struct __test_metadata *_metadata, char *text, int n[4])
{
	static const char *const docs[] = { "trace-event", "trace-gap", "trace-latency",
					    "trace-summary" };
	char *save = NULL;
	int bad = 0, lines = 0, last = -1;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = parse_one(l);
		int kind = jget(o, "summary") ? 3 : jget(o, "latency") ? 2 :
			   jget(o, "unmapped_ns") ? 1 : 0;

		lines++;
		jsondoc_log_clear(&jd);
		if (!o || jsondoc_check_object(&jd, docs[kind], o)) {
			bad++;
			TH_LOG("line %d: %s\n%s", lines, l, o ? jsondoc_log(&jd) : "no JSON");
		}
		n[kind]++;
		last = kind;
		json_object_put(o);
	}
	EXPECT_EQ(3, last) TH_LOG("the last line is no summary");
	return bad;
}

/*
 * trace -j -D 2 while this process creates, changes, deletes and recreates
 * slots, and fails to create one: events with --latency, then --gaps (gap
 * lines instead of events), then --summary (the summary alone).
 */
TEST_F(kvmjson, trace)
{
	static const char *const lat[] = { "-j", "trace", "-p", "PID", "-D", "2", "--latency",
					   NULL };
	static const char *const gaps[] = { "-j", "trace", "-p", "PID", "-D", "2", "--gaps", NULL };
	static const char *const sums[] = { "-j", "trace", "-p", "PID", "-D", "2", "--summary",
					    NULL };
	const char *const *runs[] = { lat, gaps, sums };
	const char *args[10];

	for (int i = 0; i < 3; i++) {
		struct tracer t = { 0 };
		int n[4] = { 0 }, status = -1;
		char *out;

		for (size_t a = 0; a < 10 && (!a || args[a - 1]); a++)
			args[a] = strcmp(runs[i][a] ?: "", "PID") ? runs[i][a] : self->pid;
		ASSERT_EQ(0, tracer_start(&t, args));
		EXPECT_EQ(0, add_slots(self));
		EXPECT_EQ(0, slot_op(self, MS_SLOT_OP_UPDATE, 1, 0));
		EXPECT_EQ(0, slot_op(self, MS_SLOT_OP_DELETE, 2, 0));
		EXPECT_EQ(0, slot_op(self, MS_SLOT_OP_CREATE, 2, 0));	/* a gap, churn */
		EXPECT_NE(0, overlap_op(self));
		for (uint32_t id = 0; id < NR_SLOTS; id++)
			EXPECT_EQ(0, slot_op(self, MS_SLOT_OP_DELETE, id, 0));
		out = tracer_wait(&t, &status);
		ASSERT_NE(NULL, out);
		EXPECT_EQ(0, status);
		EXPECT_EQ(0, check_lines(_metadata, out, n));
		/*
		 * 4 creates, a flags change, a delete and a create, 4 deletes;
		 * the failure too where the attach point is the ioctl (KVM
		 * finds the overlap before kvm_set_memslot())
		 */
		EXPECT_TRUE(i || n[0] == 11 || n[0] == 12) TH_LOG("%d events", n[0]);
		EXPECT_TRUE(!i || !n[0]) TH_LOG("%d events with %s", n[0], runs[i][6]);
		EXPECT_EQ(i == 1 ? 1 : 0, n[1]) TH_LOG("gap lines");
		EXPECT_EQ(i == 0 ? 1 : 0, n[2]) TH_LOG("latency lines");
		EXPECT_EQ(1, n[3]);
		free(out);
	}
	expect_seen(_metadata, "trace-event", NULL);
	expect_seen(_metadata, "trace-gap", NULL);
	expect_seen(_metadata, "trace-latency", NULL);
	expect_seen(_metadata, "trace-summary", NULL);
}

TEST_HARNESS_MAIN
