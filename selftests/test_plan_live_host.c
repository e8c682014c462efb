// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `memslot plan --from-pid` and `--qmp` without KVM: against a stand-in
 * for QEMU, this test program run again with QEMU's argv (so that
 * /proc/PID/cmdline is a QEMU command line) that either just waits or
 * serves QMP with canned answers of a VM whose state changed since start
 * (a cold DIMM unplugged, one hot-plugged, a backend object-add'ed).
 * Checked: the hot-plug predicted on that state (slot, address, the
 * hotplugged flag, the backends available), --from-pid equal to the same
 * options given directly, and the one-line errors and exit statuses for a
 * process that is not QEMU, one that does not exist, a missing socket, a
 * socket that does not speak QMP, and misused options.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "util.h"	/* before the harness, see there */

#include "harness.h"

#define FAKE_ENV	"MEMSLOT_FAKE_QEMU_SOCKET"
/* answers in place of the canned ones: "KEY\tANSWER\n"..., see answer_of() */
#define ANSWERS_ENV	"MEMSLOT_FAKE_QEMU_ANSWERS"

static const char *const fake_argv[] = {
	"qemu-system-x86_64", "-machine", "pc", "-m", "1G,slots=4,maxmem=8G",
	"-object", "memory-backend-ram,id=m1,size=1G", "-device", "pc-dimm,id=d1,memdev=m1",
	"-object", "memory-backend-ram,id=m2,size=512M", "-device", "pc-dimm,id=d2,memdev=m2",
	"-name", "guest=memslot-live-host,debug-threads=on", NULL,
};

/* What the VM holds now: d2 unplugged, hd1 hot-plugged into slot 2, free1 added. */
static const struct {
	const char *cmd, *answer;
} canned[] = {
	{ "qmp_capabilities", "{}" },
	{ "query-memory-devices",
	  "[{\"type\": \"dimm\", \"data\": {\"id\": \"d1\", \"addr\": 4294967296, \"slot\": 0,"
	  " \"node\": 0, \"size\": 1073741824, \"memdev\": \"/objects/m1\", \"hotplugged\": false,"
	  " \"hotpluggable\": true}},"
	  " {\"type\": \"dimm\", \"data\": {\"id\": \"hd1\", \"addr\": 6442450944, \"slot\": 2,"
	  " \"node\": 0, \"size\": 536870912, \"memdev\": \"/objects/h1\", \"hotplugged\": true,"
	  " \"hotpluggable\": true}}]" },
	{ "query-memdev",
	  "[{\"id\": \"pc.ram\", \"size\": 1073741824, \"share\": false, \"prealloc\": false},"
	  " {\"id\": \"m1\", \"size\": 1073741824, \"share\": false, \"prealloc\": false},"
	  " {\"id\": \"m2\", \"size\": 536870912, \"share\": false, \"prealloc\": false},"
	  " {\"id\": \"h1\", \"size\": 536870912, \"share\": false, \"prealloc\": false},"
	  " {\"id\": \"free1\", \"size\": 268435456, \"share\": false, \"prealloc\": false}]" },
	{ "qom-get", "\"memory-backend-ram\"" },
	{ "human-monitor-command", "\"\"" },
};

/*
 * The answer to command @o: from ANSWERS_ENV if it has the key "CMD" or,
 * for qom-get, "qom-get PATH PROPERTY"; else the canned one; NULL if none.
 * Return: malloc()ed.
 */
static char *answer_of(struct json_object *o)
{
	const char *env = getenv(ANSWERS_ENV), *cmd;
	struct json_object *c, *args, *v;
	char key[512];

	if (!json_object_object_get_ex(o, "execute", &c) || !(cmd = json_object_get_string(c)))
		return NULL;
	snprintf(key, sizeof(key), "%s", cmd);
	if (!strcmp(cmd, "qom-get") && json_object_object_get_ex(o, "arguments", &args)) {
		const char *path = "", *prop = "";

		if (json_object_object_get_ex(args, "path", &v))
			path = json_object_get_string(v);
		if (json_object_object_get_ex(args, "property", &v))
			prop = json_object_get_string(v);
		snprintf(key, sizeof(key), "qom-get %s %s", path, prop);
	}
	for (const char *l = env; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		const char *tab = strchr(l, '\t');
		size_t len = strcspn(l, "\n");

		if (tab && tab < l + len && (size_t)(tab - l) == strlen(key) &&
		    !strncmp(l, key, strlen(key)))
			return strndup(tab + 1, l + len - tab - 1);
	}
	for (size_t i = 0; i < sizeof(canned) / sizeof(canned[0]); i++)
		if (!strcmp(canned[i].cmd, cmd))
			return strdup(canned[i].answer);
	return NULL;
}

/*
 * The stand-in: serve QMP on @path (or, for "", just wait). It listens
 * itself, as QEMU does: SO_PEERCRED names the process that called listen().
 * The socket is bound under a temporary name and renamed when it listens,
 * so that it exists only when it can be connected to.
 */
static void fake_qemu(const char *path)
{
	char tmp[PATH_MAX];
	int lfd;

	if (!*path)
		for (;;)
			pause();
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	lfd = unix_listen(tmp);
	if (lfd < 0 || rename(tmp, path))
		_exit(1);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct json_tokener *tok = json_tokener_new();
		char buf[4096];
		ssize_t n;

		if (fd < 0)
			_exit(1);
		dprintf(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			size_t off = 0;

			while (off < (size_t)n) {
				struct json_object *o = json_tokener_parse_ex(tok, buf + off,
									     (int)(n - off)), *c;
				const char *cmd;
				char *ans;

				if (!o) {
					off = n;
					break;
				}
				off += json_tokener_get_parse_end(tok);
				json_tokener_reset(tok);
				json_object_object_get_ex(o, "execute", &c);
				cmd = json_object_get_string(c);
				ans = answer_of(o);
				if (ans)
					dprintf(fd, "{\"return\": %s}\r\n", ans);
				else
					dprintf(fd, "{\"error\": {\"class\": \"CommandNotFound\", "
						"\"desc\": \"The command %s has not been found\"}}\r\n",
						cmd ? cmd : "?");
				free(ans);
				json_object_put(o);
			}
		}
		json_tokener_free(tok);
		close(fd);
	}
}

__attribute__((constructor)) static void maybe_fake_qemu(void)
{
	const char *path = getenv(FAKE_ENV);

	if (path)
		fake_qemu(path);
}

FIXTURE(live) {
	pid_t pid;
	char dir[64];
	char sock[96];
	char pidtext[16];
};

/*
 * Start the stand-in; with @qmp it listens on self->sock, answering with
 * @answers (ANSWERS_ENV, or NULL) before the canned answers.
 */
static void start_fake_answers(struct __test_metadata *_metadata, FIXTURE_DATA(live) *self,
			       bool qmp, const char *answers)
{
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv(FAKE_ENV, qmp ? self->sock : "", 1);
		if (answers)
			setenv(ANSWERS_ENV, answers, 1);
		execv("/proc/self/exe", (char **)fake_argv);
		_exit(127);
	}
	snprintf(self->pidtext, sizeof(self->pidtext), "%d", (int)self->pid);
	/* QEMU's command line once the exec is done; the socket once it listens */
	for (int i = 0; i < 500; i++) {
		char path[64], *cl;
		bool ok;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)self->pid);
		cl = slurp(path);
		ok = cl && !strcmp(cl, "qemu-system-x86_64") && (!qmp || !access(self->sock, F_OK));
		free(cl);
		if (ok)
			return;
		usleep(10000);
	}
	ASSERT_TRUE(false) TH_LOG("the stand-in did not start");
}

static void start_fake(struct __test_metadata *_metadata, FIXTURE_DATA(live) *self, bool qmp)
{
	start_fake_answers(_metadata, self, qmp, NULL);
}

FIXTURE_SETUP(live)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/memslot-live.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->sock, sizeof(self->sock), "%s/qmp.sock", self->dir);
	self->pid = 0;
}

FIXTURE_TEARDOWN(live)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
	}
	unlink(self->sock);
	snprintf(self->sock + strlen(self->sock), 8, ".tmp");
	unlink(self->sock);
	rmdir(self->dir);
}

/* One line on stderr, "memslot: plan: " and @what in it. */
static bool one_error(const char *err, const char *what)
{
	const char *nl = strchr(err, '\n');

	return !strncmp(err, "memslot: plan: ", 15) && nl && !nl[1] && strstr(err, what);
}

TEST_F(live, qmp_hotplug_on_the_state_now)
{
	static const struct {
		const char *id;
		uint64_t addr, slot;
		bool hot;
	} want[] = {
		{ "d1", 0x100000000, 0, false }, { "d9", 0x140000000, 1, true },
		{ "d8", 0x150000000, 3, true }, { "hd1", 0x180000000, 2, true },
	};
	struct json_object *doc, *devs, *live;
	struct cli_result r;

	start_fake(_metadata, self, true);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "--qmp", self->sock, "-device",
			     "pc-dimm,id=d9,memdev=free1", "-device", "pc-dimm,id=d8,memdev=m2"));
	EXPECT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	live = jget(doc, "live");
	EXPECT_EQ((uint64_t)self->pid, jget_u64(live, "pid"));
	EXPECT_STREQ(self->sock, jget_str(live, "qmp") ?: "(none)");
	EXPECT_EQ(2, jget_u64(live, "memory_devices"));
	EXPECT_EQ(1, jget_u64(live, "hotplugged"));
	EXPECT_EQ(NULL, jget(live, "memslots_match"));

	/* d1 and hd1 where they are; d9 and d8 into the hole and free slots */
	devs = jget(doc, "devices");
	ASSERT_EQ(4, jget_len(devs));
	for (size_t i = 0; i < 4; i++) {
		struct json_object *d = jget_idx(devs, i);

		EXPECT_STREQ(want[i].id, jget_str(d, "id"));
		EXPECT_EQ(want[i].addr, jget_u64(d, "addr")) TH_LOG("%s", want[i].id);
		EXPECT_EQ(want[i].slot, jget_u64(d, "slot")) TH_LOG("%s", want[i].id);
		EXPECT_EQ(want[i].hot, jget_bool(d, "hotplugged")) TH_LOG("%s", want[i].id);
	}
	EXPECT_EQ(2, jget_len(jget(doc, "steps")));
	EXPECT_EQ(1, jget_u64(jget_idx(jget(doc, "steps"), 0), "line"));
	json_object_put(doc);
	cli_result_free(&r);

	/* the QEMU text of the refused hot-plug: slot 2 is hd1's */
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--qmp", self->sock,
			     "-device", "pc-dimm,id=d9,memdev=free1,slot=2"));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(one_error(r.err, "device_add pc-dimm,id=d9,memdev=free1,slot=2: slot 2 is busy"))
		TH_LOG("%s", r.err);
	cli_result_free(&r);
}

TEST_F(live, from_pid_as_given_directly)
{
	struct cli_result a, b;
	struct json_object *x, *y;

	start_fake(_metadata, self, false);
	ASSERT_EQ(0, CLI_RUN(&a, "-j", "plan", "--from-pid", self->pidtext, "--kvm-memslots", "509"));
	ASSERT_EQ(0, cli_run(&b, NULL, (const char *const[]){ "-j", "plan", fake_argv[1],
			fake_argv[2], fake_argv[3], fake_argv[4], fake_argv[5], fake_argv[6],
			fake_argv[7], fake_argv[8], fake_argv[9], fake_argv[10], fake_argv[11],
			fake_argv[12], fake_argv[13], fake_argv[14], "--kvm-memslots", "509",
			NULL }));
	EXPECT_EQ(0, a.status) TH_LOG("%s", a.err);
	EXPECT_EQ(0, b.status) TH_LOG("%s", b.err);
	x = parse_one(a.out);
	y = parse_one(b.out);
	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, y);
	EXPECT_EQ(2, jget_u64(jget(x, "live"), "memory_devices"));
	json_object_object_del(x, "live");
	EXPECT_STREQ(json_object_to_json_string(y), json_object_to_json_string(x));
	json_object_put(x);
	json_object_put(y);
	cli_result_free(&a);
	cli_result_free(&b);
}

/* --from-name finds the stand-in by its -name guest=; nothing else has it */
TEST_F(live, from_name_as_from_pid)
{
	struct cli_result a, b;

	start_fake(_metadata, self, false);
	ASSERT_EQ(0, CLI_RUN(&a, "-j", "plan", "--from-pid", self->pidtext, "--kvm-memslots", "509"));
	ASSERT_EQ(0, CLI_RUN(&b, "-j", "plan", "--from-name", "memslot-live-host",
			     "--kvm-memslots", "509"));
	EXPECT_EQ(0, a.status) TH_LOG("%s", a.err);
	EXPECT_EQ(0, b.status) TH_LOG("%s", b.err);
	EXPECT_STREQ(a.out, b.out);
	cli_result_free(&a);
	cli_result_free(&b);

	ASSERT_EQ(0, CLI_RUN(&b, "plan", "--from-name", "memslot-no-such-guest"));
	EXPECT_EQ(1, b.status);
	EXPECT_TRUE(one_error(b.err, "memslot-no-such-guest")) TH_LOG("%s", b.err);
	cli_result_free(&b);

	ASSERT_EQ(0, CLI_RUN(&b, "plan", "--from-name", "memslot-live-host", "--from-pid", "1"));
	EXPECT_EQ(2, b.status);
	EXPECT_TRUE(one_error(b.err, "--from-name memslot-live-host: not with --from-pid"))
		TH_LOG("%s", b.err);
	cli_result_free(&b);
}

TEST_F(live, errors)
{
	struct cli_result r;
	char me[16], what[300];
	int lfd;
	pid_t child;

	/* not QEMU: this test program */
	snprintf(me, sizeof(me), "%d", (int)getpid());
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--from-pid", me));
	EXPECT_EQ(1, r.status);
	snprintf(what, sizeof(what), "--from-pid %s: not a QEMU process: ", me);
	EXPECT_TRUE(one_error(r.err, what)) TH_LOG("%s", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--from-pid", "2147483646"));
	EXPECT_EQ(1, r.status);
	EXPECT_TRUE(one_error(r.err, "--from-pid 2147483646: no such process")) TH_LOG("%s", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--from-pid", "x1"));
	EXPECT_EQ(2, r.status);
	EXPECT_TRUE(one_error(r.err, "invalid process id: x1")) TH_LOG("%s", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "--qmp", self->sock));
	EXPECT_EQ(1, r.status);
	snprintf(what, sizeof(what), "\"error\":\"plan: --qmp %s: cannot connect: %s\"}\n",
		 self->sock, strerror(ENOENT));
	EXPECT_NE(NULL, strstr(r.out, what)) TH_LOG("%s", r.out);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--qmp", self->sock, "--from-pid", "1"));
	EXPECT_EQ(2, r.status);
	EXPECT_TRUE(one_error(r.err, "not with --qmp")) TH_LOG("%s", r.err);
	cli_result_free(&r);

	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--qmp"));
	EXPECT_EQ(2, r.status);
	EXPECT_TRUE(one_error(r.err, "missing argument of option: --qmp")) TH_LOG("%s", r.err);
	cli_result_free(&r);

	/* a socket that says something else */
	lfd = unix_listen(self->sock);
	ASSERT_LE(0, lfd);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			dprintf(fd, "SSH-2.0-OpenSSH_9.2\r\n");
		_exit(0);
	}
	close(lfd);
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--qmp", self->sock));
	waitpid(child, NULL, 0);
	EXPECT_EQ(1, r.status);
	snprintf(what, sizeof(what), "--qmp %s: not a QMP server: not JSON", self->sock);
	EXPECT_TRUE(one_error(r.err, what)) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	cli_result_free(&r);
}

static void stop_fake(FIXTURE_DATA(live) *self)
{
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	self->pid = 0;
	unlink(self->sock);
}

/* A QMP answer of the wrong shape is one error line naming it, not a crash. */
TEST_F(live, malformed_answers)
{
	static const struct {
		const char *answers, *error;
	} cases[] = {
		{ "query-memory-devices\t{\"not\": \"array\"}",
		  "query-memory-devices: answer is not an array" },
		{ "query-memdev\t\"pc.ram\"", "query-memdev: answer is not an array" },
		{ "query-memory-devices\t[1]",
		  "query-memory-devices: element 0 is not an object with object \"data\"" },
		{ "query-memory-devices\t[{\"type\": \"dimm\", \"data\": [2]}]",
		  "query-memory-devices: element 0 is not an object with object \"data\"" },
		{ "query-memdev\t[{\"id\": \"pc.ram\"}, null]",
		  "query-memdev: element 1 is not an object" },
		{ "qom-get /objects/free1 type\t{\"a\": 1}",
		  "qom-get /objects/free1 type: answer is not a string" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cli_result r;
		char what[300];

		start_fake_answers(_metadata, self, true, cases[i].answers);
		ASSERT_EQ(0, CLI_RUN(&r, "plan", "--qmp", self->sock));
		EXPECT_EQ(1, r.status) TH_LOG("%s", cases[i].answers);
		snprintf(what, sizeof(what), "--qmp %s: %s\n", self->sock, cases[i].error);
		EXPECT_TRUE(one_error(r.err, what)) TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.out);
		cli_result_free(&r);
		stop_fake(self);
	}
}

/*
 * Values of the VM are taken whole, however long: a device id of 400
 * characters, a backend's mem-path of 700 (its align, after it, still
 * applies).
 */
TEST_F(live, long_values)
{
	char id[401], mem_path[701], *answers;
	struct json_object *doc, *devs;
	struct cli_result r;
	bool seen = false;

	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = 0;
	memset(mem_path, 'p', sizeof(mem_path) - 1);
	mem_path[0] = '/';
	mem_path[sizeof(mem_path) - 1] = 0;
	ASSERT_LT(0, asprintf(&answers,
		"query-memory-devices\t[{\"type\": \"dimm\", \"data\": {\"id\": \"d1\","
		" \"addr\": 4294967296, \"slot\": 0, \"node\": 0, \"size\": 1073741824,"
		" \"memdev\": \"/objects/m1\", \"hotplugged\": false}},"
		" {\"type\": \"dimm\", \"data\": {\"id\": \"%s\", \"addr\": 6442450944,"
		" \"slot\": 2, \"node\": 0, \"size\": 536870912, \"memdev\": \"/objects/h1\","
		" \"hotplugged\": true}}]\n"
		"query-memdev\t[{\"id\": \"m1\", \"size\": 1073741824},"
		" {\"id\": \"h1\", \"size\": 536870912}, {\"id\": \"free1\", \"size\": 2147483648}]\n"
		"qom-get /objects/free1 type\t\"memory-backend-file\"\n"
		"qom-get /objects/free1 mem-path\t\"%s\"\n"
		"qom-get /objects/free1 align\t2147483648\n", id, mem_path));
	start_fake_answers(_metadata, self, true, answers);
	free(answers);
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "plan", "--qmp", self->sock, "-device",
			     "pc-dimm,id=d9,memdev=free1"));
	EXPECT_EQ(0, r.status) TH_LOG("%s%s", r.out, r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("%s", r.out);
	devs = jget(doc, "devices");
	for (size_t i = 0; i < jget_len(devs); i++) {
		struct json_object *d = jget_idx(devs, i);
		const char *did = jget_str(d, "id");

		if (did && !strcmp(did, "d9"))	/* 2 GiB aligned past hd1 */
			EXPECT_EQ(0x200000000, jget_u64(d, "addr"));
		if (did && !strcmp(did, id)) {
			seen = true;
			EXPECT_EQ(0x180000000, jget_u64(d, "addr"));
			EXPECT_TRUE(jget_bool(d, "hotplugged"));
		}
	}
	EXPECT_TRUE(seen) TH_LOG("no device with the 400-character id: %s", r.out);
	EXPECT_EQ(3, jget_len(devs));
	json_object_put(doc);
	cli_result_free(&r);
}

TEST_F(live, no_script)
{
	struct cli_result r;

	start_fake(_metadata, self, false);
	ASSERT_EQ(0, CLI_RUN(&r, "plan", "--from-pid", self->pidtext, "--script", "/dev/null"));
	EXPECT_EQ(2, r.status);
	EXPECT_TRUE(one_error(r.err, "--script /dev/null: not with --from-pid or --qmp"))
		TH_LOG("%s", r.err);
	cli_result_free(&r);
}

TEST_HARNESS_MAIN
