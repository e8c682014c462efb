/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running the memslot command line (or any program) from a test: stdin
 * from /dev/null or a given text, stdout and stderr captured in memory
 * files, the exit status, and the checks every CLI test makes of what it
 * printed.
 */
#ifndef MEMSLOT_SELFTESTS_CLI_H
#define MEMSLOT_SELFTESTS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/**
 * struct cli_result - what one run produced
 * @status: exit status, or 128 + signal number if killed
 * @out: stdout, NUL-terminated (malloc()ed; "" if it went to a file)
 * @err: stderr, NUL-terminated (malloc()ed)
 * @secs: wall-clock time from fork() to the end of waitpid(), in seconds
 */
struct cli_result {
	int status;
	char *out;
	char *err;
	double secs;
};

/**
 * struct cli_opts - how to run it; a NULL pointer or a zeroed struct is the default
 * @stdin_text: what the program reads on stdin; NULL for /dev/null
 * @env: NULL-terminated list applied in the child before exec():
 *	"NAME=value" sets NAME, a bare "NAME" unsets it; NULL for none
 * @stdout_path: file stdout is opened on (O_WRONLY, e.g. "/dev/full")
 *	instead of being captured; NULL to capture it
 */
struct cli_opts {
	const char *stdin_text;
	const char *const *env;
	const char *stdout_path;
};

/**
 * cli_tool_path() - the memslot binary under test
 *
 * Return: $MEMSLOT if set and not empty, else "build/memslot" (the
 * Makefile runs the tests from the repository root).
 */
const char *cli_tool_path(void);

/**
 * cli_exec() - run a program and wait for it
 * @r: filled (zeroed first); free with cli_result_free(), also on failure
 * @opts: stdin, environment and stdout redirection, or NULL
 * @argv: NULL-terminated, @argv[0] the path (execv(), no $PATH search)
 *
 * The child's stdout and stderr go to memory files read back after it
 * exited, so output of any size cannot block it. A child that cannot set
 * up its descriptors exits 126, one that cannot exec 127.
 *
 * Return: 0, or a negative errno if the run or reading its output failed.
 */
int cli_exec(struct cli_result *r, const struct cli_opts *opts, const char *const *argv);

/**
 * cli_run() - run the memslot tool (cli_tool_path()) with @args
 * @r: as for cli_exec()
 * @opts: as for cli_exec()
 * @args: NULL-terminated arguments, without argv[0]
 *
 * Return: as for cli_exec().
 */
int cli_run(struct cli_result *r, const struct cli_opts *opts, const char *const *args);

/* cli_run() with the arguments inline: CLI_RUN(&r, "-j", "plan"). */
#define CLI_RUN(r, ...) cli_run((r), NULL, (const char *const[]){ __VA_ARGS__, NULL })

/**
 * cli_result_free() - free the captured output
 * @r: result; its pointers are reset, so a second call is harmless
 */
void cli_result_free(struct cli_result *r);

/**
 * run_tool() - run a program with no stdin, the short form of cli_exec()
 * @args: argv, NULL-terminated, args[0] the path
 * @status: set to the exit status (128 + signal if killed)
 * @err_out: set to its stderr (malloc()ed, NULL on failure)
 *
 * Return: its stdout (malloc()ed), or NULL on failure.
 */
char *run_tool(const char *const *args, int *status, char **err_out);

/**
 * slurp_fd() - the whole content of a file, byte for byte
 * @fd: open for reading and seekable (a memory or regular file); read from
 *	offset 0 to its end
 *
 * Return: the content, NUL-terminated (malloc()ed), or NULL on error.
 */
char *slurp_fd(int fd);

/**
 * has_line() - is @line (without its "\n") one whole line of @text?
 * @text: NUL-terminated text, may be NULL
 * @line: the line
 *
 * Return: true if found.
 */
bool has_line(const char *text, const char *line);

/**
 * parse_one() - parse text that must be exactly one JSON document
 * @s: the text (e.g. the stdout of `memslot -j`); whitespace may follow
 *
 * Return: the document (a new reference), or NULL if @s is not valid JSON
 * or anything but whitespace follows the document.
 */
struct json_object *parse_one(const char *s);

/*
 * JSON lookups for reading documents (the tool's, QMP's). Each takes a
 * NULL or mistyped @o as a missing value, so lookups chain without checks
 * in between and a test fails on the value it compares, not on a crash.
 */

/* jget() - member @k of object @o. Return: it, or NULL if missing or null. */
struct json_object *jget(struct json_object *o, const char *k);

/* jget_u64() - member @k as a u64. Return: it, or UINT64_MAX if missing or null. */
uint64_t jget_u64(struct json_object *o, const char *k);

/* jget_str() - member @k as a string. Return: it, or NULL if missing or not a string. */
const char *jget_str(struct json_object *o, const char *k);

/* jget_bool() - member @k. Return: true if it is the boolean true. */
bool jget_bool(struct json_object *o, const char *k);

/* jget_idx() - element @i of array @a. Return: it, or NULL if @a is not an array that long. */
struct json_object *jget_idx(struct json_object *a, size_t i);

/* jget_len() - Return: the length of array @a, 0 if it is not an array. */
size_t jget_len(struct json_object *a);

#endif /* MEMSLOT_SELFTESTS_CLI_H */
