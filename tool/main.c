// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot: QEMU memory-map and KVM memslot tool.
 *
 * memslot [OPTIONS] COMMAND [ARGS]: a command from cmds[] matched by its
 * full name (STYLE.md "CLI"); the global options go before it or, as in
 * bpftool, anywhere among its arguments (take_global_options()).
 * `memslot COMMAND help` is `memslot COMMAND --help`.
 * Exit status: 0 success, 1 error, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tool.h"

#ifndef MS_VERSION
#error "MS_VERSION must be defined by the Makefile"
#endif

const struct cmd cmds[] = {
	{ "help",	do_help,	"list the commands, or show the help of one" },
	{ "mtree",	do_mtree,
	  "print a memory region tree or its flat views like QEMU's info mtree" },
	{ "plan",	do_plan,
	  "predict memory-device placement, KVM memslots and memslot accounting" },
	{ "run",	do_run,
	  "run a guest on the planned machine, hot-plug memory and verify the memslots" },
	{ "trace",	do_trace,
	  "trace KVM memslot ioctls of running VMs with BPF" },
	{ "census",	do_census,
	  "list the KVM memslots of running VMs, read from the kernel with BPF" },
	{ "verify",	do_verify,
	  "compare a running VM's memslots with a planned memslot table" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Options:\n"
		"  -j, --json     write one JSON document on stdout\n"
		"  -p, --pretty   indented JSON (implies -j)\n"
		"  -d, --debug    print library debug messages on stderr\n"
		"  -V, --version  print the version and exit\n"
		"  -h, --help     print this help and exit\n"
		"\n"
		"Commands:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'memslot COMMAND --help' for the options of a command.\n");
}

static const struct cmd *find_cmd(const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* -j: a usage text as {"version": 1, "command": NAME|null, "usage": TEXT}. */
static int usage_json(const char *name, const char *text)
{
	struct json_object *o = json_object_new_object();

	if (!o || json_object_object_add(o, "command", json_str_or_null(name)) ||
	    json_object_object_add(o, "usage", json_object_new_string(text))) {
		json_object_put(o);
		p_err("cannot build JSON: %s", strerror(ENOMEM));
		return 1;
	}
	return json_print(o);
}

static int main_usage_json(const char *name)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ret;

	if (!f) {
		p_err("cannot build JSON: %s", strerror(ENOMEM));
		return 1;
	}
	usage(f);
	if (fclose(f)) {
		free(text);
		p_err("cannot build JSON: %s", strerror(ENOMEM));
		return 1;
	}
	ret = usage_json(name, text);
	free(text);
	return ret;
}

/*
 * -j and a help request (`help CMD`, `CMD help`, `CMD --help`): the
 * command prints its usage text as ever, into a memfd, and the text goes
 * out as one JSON document. Whatever else the command wrote (its error, or
 * its document if "-h" was an option's value) goes out as it was.
 */
static int help_json(const struct cmd *c, int argc, char **argv)
{
	int fd, saved, ret, err;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	off_t size;

	fflush(stdout);
	fd = memfd_create("memslot-usage", MFD_CLOEXEC);
	if (fd < 0) {
		p_err("cannot capture the usage: %s", strerror(errno));
		return 1;
	}
	saved = dup(STDOUT_FILENO);
	if (saved < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		err = errno;
		if (saved >= 0)
			close(saved);
		close(fd);
		p_err("cannot capture the usage: %s", strerror(err));
		return 1;
	}
	optind = 0;
	ret = c->handler(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);

	size = lseek(fd, 0, SEEK_CUR);
	text = size >= 0 ? malloc((size_t)size + 1) : NULL;
	if (!text) {
		close(fd);
		p_err("cannot capture the usage: %s", strerror(size < 0 ? errno : ENOMEM));
		return 1;
	}
	while (len < (size_t)size && (n = pread(fd, text + len, (size_t)size - len, len)) > 0)
		len += (size_t)n;
	text[len] = '\0';
	close(fd);
	if (ret || json_was_written())
		fwrite(text, 1, len, stdout);
	else
		ret = usage_json(c->name, text);
	free(text);
	return ret;
}

/* Is this a help request: "-h" or "--help" among the arguments, up to "--"? */
static bool wants_help(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "help"))
		return true;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int do_help(int argc, char **argv)
{
	struct json_object *arr, *o;
	const struct cmd *c;

	if (argc > 2)
		return usage_err("unexpected argument: %s", argv[2]);
	if (argc == 2) {
		char help_opt[] = "--help";
		char *sub_argv[] = { argv[1], help_opt, NULL };

		if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
		    !strcmp(argv[1], "--help")) {
			if (json_output)
				return main_usage_json("help");
			usage(stdout);
			return 0;
		}
		c = find_cmd(argv[1]);
		if (!c)
			return usage_err("unknown command: %s", argv[1]);
		set_cmd_name(c->name);
		if (json_output)
			return help_json(c, 2, sub_argv);
		return c->handler(2, sub_argv);
	}

	if (!json_output) {
		for (c = cmds; c->name; c++)
			printf("%-8s %s\n", c->name, c->summary);
		return 0;
	}

	/* {"version": 1, "commands": [{"name": "...", "summary": "..."}, ...]} */
	o = json_object_new_object();
	arr = json_object_new_array();
	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		p_err("cannot build JSON: %s", strerror(ENOMEM));
		return 1;
	}
	json_object_object_add(o, "commands", arr);
	for (c = cmds; c->name; c++) {
		struct json_object *e = json_object_new_object();

		if (!e) {
			json_object_put(o);
			p_err("cannot build JSON: %s", strerror(ENOMEM));
			return 1;
		}
		json_object_object_add(e, "name", json_object_new_string(c->name));
		json_object_object_add(e, "summary", json_object_new_string(c->summary));
		json_object_array_add(arr, e);
	}
	return json_print(o);
}

static int print_version(void)
{
	struct json_object *o;

	if (!json_output) {
		printf("memslot %s\nlibmemslot %s\n", MS_VERSION, ms_version());
		return 0;
	}
	/* {"version": 1, "memslot_version": "...", "library_version": "..."} */
	o = json_object_new_object();
	if (!o) {
		p_err("cannot build JSON: %s", strerror(ENOMEM));
		return 1;
	}
	json_object_object_add(o, "memslot_version", json_object_new_string(MS_VERSION));
	json_object_object_add(o, "library_version", json_object_new_string(ms_version()));
	return json_print(o);
}

/*
 * Output is buffered: a full disk or closed pipe shows up at the flush.
 * A command that failed has reported its error already.
 */
static int finish(int ret, const char *cmd)
{
	if ((fflush(stdout) || ferror(stdout)) && !ret) {
		fprintf(stderr, "memslot: %s%scannot write output: %s\n", cmd ?: "",
			cmd ? ": " : "", strerror(errno));
		return 1;
	}
	return ret;
}

/*
 * The global options among a command's arguments, up to "--", taken out
 * before the command parses its own: -j, --json, --pretty, -d, --debug.
 * -p stays the command's (census, trace, verify: --pid). Returns the new
 * argument count.
 */
static int take_global_options(int argc, char **argv)
{
	int i, k = 1;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			json_output = true;
		} else if (!strcmp(a, "--pretty")) {
			json_output = true;
			pretty_output = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			debug_output = true;
		} else {
			argv[k++] = argv[i];
		}
	}
	while (i < argc)
		argv[k++] = argv[i++];
	argv[k] = NULL;
	return k;
}

/* -d: every library message, debug included, goes to stderr. */
static int print_all(enum ms_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json",	no_argument,	NULL, 'j' },
		{ "pretty",	no_argument,	NULL, 'p' },
		{ "debug",	no_argument,	NULL, 'd' },
		{ "version",	no_argument,	NULL, 'V' },
		{ "help",	no_argument,	NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool version = false, help = false;
	const struct cmd *c;
	int opt, ret;

	/* Our own messages only; '+': options end at the command name. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:jpdVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json_output = true;
			break;
		case 'p':
			json_output = true;
			pretty_output = true;
			break;
		case 'd':
			debug_output = true;
			break;
		case 'V':
			version = true;
			break;
		case 'h':
			help = true;
			break;
		default:
			return getopt_usage_err(opt, argv);
		}
	}

	if (optind < argc && find_cmd(argv[optind])) {
		int n = take_global_options(argc - optind, argv + optind);

		argc = optind + n;
	}
	if (debug_output)
		ms_set_print(print_all);

	if (help) {
		if (json_output)
			return finish(main_usage_json(NULL), NULL);
		usage(stdout);
		return finish(0, NULL);
	}
	if (version)
		return finish(print_version(), NULL);

	if (optind >= argc) {
		usage(stderr);
		if (json_output)
			return usage_err("missing command");
		return EXIT_USAGE;
	}

	c = find_cmd(argv[optind]);
	if (!c)
		return usage_err("unknown command: %s", argv[optind]);

	set_cmd_name(c->name);
	argc -= optind;
	argv += optind;
	/* `memslot COMMAND help` (not for help itself: `help help`) */
	if (argc == 2 && !strcmp(argv[1], "help") && strcmp(c->name, "help")) {
		char help_opt[] = "--help";
		char *sub_argv[] = { argv[0], help_opt, NULL };

		if (json_output)
			return finish(help_json(c, 2, sub_argv), c->name);
		optind = 0;
		return finish(c->handler(2, sub_argv), c->name);
	}
	if (json_output && strcmp(c->name, "help") && wants_help(argc, argv))
		return finish(help_json(c, argc, argv), c->name);
	/* Handlers parse their own options: argv[0] is the command name. */
	optind = 0;
	ret = c->handler(argc, argv);
	return finish(ret, c->name);
}
