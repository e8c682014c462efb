// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot verify: the census of one process (census_prog.h) compared with
 * the memslot table a plan predicted ("memslots" of `memslot plan -j`, or
 * a bare array of its rows).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "census_prog.h"
#include "tool.h"
#include "vmsel.h"

/* Find @key in @doc: the document itself if it is an array, else its member. */
static struct json_object *expected_rows(struct json_object *doc)
{
	struct json_object *rows;

	if (json_object_is_type(doc, json_type_array))
		return doc;
	if (json_object_object_get_ex(doc, "memslots", &rows) &&
	    json_object_is_type(rows, json_type_array))
		return rows;
	return NULL;
}

static uint64_t row_u64(struct json_object *row, const char *key, bool *ok)
{
	struct json_object *v;

	if (!json_object_object_get_ex(row, key, &v) || !json_object_is_type(v, json_type_int)) {
		*ok = false;
		return 0;
	}
	return json_object_get_uint64(v);
}

static void verify_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot verify {-p PID | --qmp SOCKET | -n NAME} --expect FILE [-j]\n"
		"\n"
		"Compare the KVM memslots of a running VM with the memslot table of\n"
		"`memslot plan -j` (its \"memslots\" array, or a bare array).\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID      the process of the VM\n"
		"      --qmp SOCKET   the QEMU listening on this QMP unix socket\n"
		"  -n, --name NAME    the QEMU of -name guest=NAME (else the process\n"
		"                     named NAME); it must be one process\n"
		"  -e, --expect FILE  JSON with the expected table\n"
		"  -j, --json         one JSON document\n"
		"  -h, --help         print this help and exit\n");
}

static int verify_run(int argc, char **argv, struct vmsel *sel)
{
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL, 'p' },
		{ "qmp",	required_argument,	NULL, VMSEL_OPT_QMP },
		{ "name",	required_argument,	NULL, 'n' },
		{ "expect",	required_argument,	NULL, 'e' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *doc = NULL, *rows, *diffs = NULL;
	struct census_prog *cp = NULL;
	const struct census *c;
	uint32_t pid = 0;
	const char *expect = NULL;
	struct json_tokener *tok;
	size_t nr_exp, matched = 0, nr_diff = 0, len, end;
	const char *why;
	char *text;
	int ret;
	const struct census_vm *v;
	bool *seen = NULL;
	int opt, err, status = 1;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:p:n:e:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 'n':
		case VMSEL_OPT_QMP:
			ret = vmsel_parse(sel, opt, optarg);
			if (ret)
				return ret;
			break;
		case 'e':
			expect = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			verify_usage(stdout);
			return 0;
		default:
			return getopt_usage_err(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument: %s", argv[optind]);
	if (!sel->nr_args)
		return usage_err("missing option: %s", "-p, --qmp or -n");
	if (!expect)
		return usage_err("missing option: %s", "--expect");
	if (!*expect)
		return usage_err("%s: empty argument", "--expect");
	if (vmsel_resolve(sel))
		return 1;
	ret = vmsel_one(sel, "-p, --qmp or -n", &pid);
	if (ret)
		return ret;
	ret = read_file(expect, &text, &len);
	if (ret) {
		p_err("%s: %s", expect, read_file_strerror(ret));
		return 1;
	}
	tok = json_tokener_new();
	doc = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	end = tok ? json_tokener_get_parse_end(tok) : 0;
	while (end < len && isspace((unsigned char)text[end]))
		end++;
	why = !tok ? "out of memory" :
	      doc && end < len ? "text after the JSON document" :
	      doc ? NULL :
	      json_tokener_get_error(tok) == json_tokener_continue ? "empty or incomplete JSON" :
	      json_tokener_error_desc(json_tokener_get_error(tok));
	if (why) {
		p_err("%s: %s (byte %zu)", expect, why, end);
		json_object_put(doc);
		json_tokener_free(tok);
		free(text);
		return 1;
	}
	json_tokener_free(tok);
	free(text);
	rows = expected_rows(doc);
	if (!rows) {
		p_err("no memslot table in JSON file: %s", expect);
		goto out;
	}
	if (bpf_check_privileges())
		goto out;
	bpf_setup_libbpf();
	cp = census_prog_open(pid, &err);
	c = cp ? census_prog_run(cp) : NULL;
	if (!c) {
		p_err("cannot run the census: %s", cp && errno == EAGAIN ?
		      "memslots kept changing" : strerror(cp ? errno : -err));
		goto out;
	}
	if (c->nr_vms != 1) {
		p_err("process %" PRIu32 " has %zu KVM VMs, expected one", pid, c->nr_vms);
		goto out;
	}
	v = &c->vms[0];
	nr_exp = json_object_array_length(rows);
	seen = calloc(v->nr + 1, sizeof(*seen));
	diffs = json_object_new_array();
	if (!seen || !diffs) {
		p_err("cannot compare: %s", strerror(ENOMEM));
		goto out;
	}
	for (size_t i = 0; i < nr_exp; i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		bool ok = true, found = false;
		uint64_t id = row_u64(row, "slot", &ok), as = row_u64(row, "as", &ok);
		uint64_t gpa = row_u64(row, "gpa", &ok), size = row_u64(row, "size", &ok);
		uint64_t flags = row_u64(row, "flags", &ok);
		char line[160];

		if (!ok) {
			p_err("malformed memslot row %zu in: %s", i, expect);
			goto out;
		}
		for (size_t j = 0; j < v->nr && !found; j++) {
			const struct ms_census_slot *s = &v->slots[j];

			if (s->as_id != as || s->id != id)
				continue;
			found = seen[j] = true;
			if (s->gpa == gpa && s->size == size && s->flags == flags) {
				matched++;
				continue;
			}
			snprintf(line, sizeof(line), "slot %" PRIu64 " as %" PRIu64 ": expected "
				 "0x%" PRIx64 "+0x%" PRIx64 " flags %" PRIu64 ", kernel 0x%" PRIx64
				 "+0x%" PRIx64 " flags %u", id, as, gpa, size, flags, s->gpa, s->size,
				 s->flags);
			json_object_array_add(diffs, json_object_new_string(line));
		}
		if (!found) {
			snprintf(line, sizeof(line), "slot %" PRIu64 " as %" PRIu64 ": expected "
				 "0x%" PRIx64 "+0x%" PRIx64 ", missing in the kernel", id, as, gpa,
				 size);
			json_object_array_add(diffs, json_object_new_string(line));
		}
	}
	for (size_t j = 0; j < v->nr; j++) {
		char line[160];

		if (seen[j])
			continue;
		snprintf(line, sizeof(line), "slot %u as %u: kernel 0x%" PRIx64 "+0x%" PRIx64
			 ", not expected", v->slots[j].id, v->slots[j].as_id, v->slots[j].gpa,
			 v->slots[j].size);
		json_object_array_add(diffs, json_object_new_string(line));
	}
	nr_diff = json_object_array_length(diffs);
	if (json_output) {
		struct json_object *o = json_object_new_object();

		if (!o) {
			p_err("cannot build JSON: %s", strerror(ENOMEM));
			goto out;
		}
		json_object_object_add(o, "pid", json_u64(pid));
		json_object_object_add(o, "vm", vm_id_json(v->head.vm));
		json_object_object_add(o, "expected", json_u64(nr_exp));
		json_object_object_add(o, "kernel", json_u64(v->nr));
		json_object_object_add(o, "matched", json_u64(matched));
		json_object_object_add(o, "ok", json_object_new_boolean(!nr_diff));
		json_object_object_add(o, "differences", json_object_get(diffs));
		if (json_print(o))
			goto out;
	} else {
		for (size_t i = 0; i < nr_diff; i++)
			printf("%s\n", json_object_get_string(json_object_array_get_idx(diffs, i)));
		printf("%s: %zu expected, %zu in the kernel, %zu equal\n",
		       nr_diff ? "DIFFERENT" : "OK", nr_exp, v->nr, matched);
	}
	status = nr_diff ? 1 : 0;
out:
	json_object_put(diffs);
	json_object_put(doc);
	free(seen);
	census_prog_close(cp);
	return status;
}

int do_verify(int argc, char **argv)
{
	struct vmsel sel = { 0 };
	int status = verify_run(argc, argv, &sel);

	vmsel_free(&sel);
	return status;
}
