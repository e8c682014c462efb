// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot mtree: print the embedded default topology, or a QEMU 7.2
 * `info mtree` dump imported with --import, like QEMU's
 * `info mtree [-f] [-o] [-D]` (spec/qemu-mtree-format.md).
 *
 * Text output is ms_mtree_print()'s, byte for byte QEMU's layout (without
 * the monitor's "\r"). The default topology gets no " KVM" markers:
 * nothing is mapped into KVM there.
 *
 * Import mode (--import TREE.txt): mtree_import.c. JSON output (-j):
 * mtree_json.c, and mtree_import.c for import mode. --svg FILE: svg.h,
 * written before anything goes to stdout, so that a failure is the one
 * error (in JSON mode the {"error"} document) and no partial file is left.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "mtree.h"
#include "svg.h"

static void mtree_usage(FILE *f)
{
	fprintf(f,
		"Usage: memslot [OPTIONS] mtree [-f|--flat] [-o|--owner] [-D|--disabled]\n"
		"       memslot [OPTIONS] mtree --import TREE.txt [--check-flat FLAT.txt]\n"
		"                              [-f|--flat] [--memslots] [-o] [-D]\n"
		"       memslot [OPTIONS] mtree ... --svg FILE\n"
		"\n"
		"Print the embedded default machine (QEMU pc, 4 GiB RAM), or a machine\n"
		"imported from QEMU's 'info mtree' text, like QEMU's 'info mtree'.\n"
		"\n"
		"  -f, --flat               print the flat views instead of the region trees\n"
		"                           (with --import: with QEMU's \" KVM\" markers)\n"
		"  -o, --owner              print owner and parent of every region or range\n"
		"  -D, --disabled           also print disabled regions (tree view only)\n"
		"      --import TREE.txt    rebuild the machine from an 'info mtree' dump\n"
		"                           (QEMU 7.2 layout, LF or CRLF, with or without -o/-D)\n"
		"                           and map it to KVM memslots as QEMU's KVM listeners do\n"
		"      --memslots           print the predicted KVM memslot table (with --import)\n"
		"      --check-flat FLAT.txt\n"
		"                           compare our flat views with QEMU's 'info mtree -f'\n"
		"                           dump of the same machine; exit 1 if one differs\n"
		"                           (with --import; FLAT.txt also settles i/o regions)\n"
		"      --svg FILE           also write the guest-physical memory map as an SVG\n"
		"                           picture: one band per address space, KVM memslots\n"
		"                           (with --import) or the flat view's RAM and ROM\n"
		"  -h, --help               print this help\n");
}

enum {
	OPT_IMPORT = 256,
	OPT_MEMSLOTS,
	OPT_CHECK_FLAT,
	OPT_SVG,
};

int do_mtree(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "flat",	no_argument,		NULL, 'f' },
		{ "owner",	no_argument,		NULL, 'o' },
		{ "disabled",	no_argument,		NULL, 'D' },
		{ "import",	required_argument,	NULL, OPT_IMPORT },
		{ "memslots",	no_argument,		NULL, OPT_MEMSLOTS },
		{ "check-flat",	required_argument,	NULL, OPT_CHECK_FLAT },
		{ "svg",	required_argument,	NULL, OPT_SVG },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mtree_opts o = { 0 };
	struct topology t;
	struct ms_ctx *ctx;
	unsigned int flags = 0;
	int opt, ret, status = 1;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:foDh", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o.flat = true;
			break;
		case 'o':
			o.owner = true;
			break;
		case 'D':
			o.disabled = true;
			break;
		case OPT_IMPORT:
			o.import = optarg;
			break;
		case OPT_MEMSLOTS:
			o.memslots = true;
			break;
		case OPT_CHECK_FLAT:
			o.check_flat = optarg;
			break;
		case OPT_SVG:
			o.svg = optarg;
			break;
		case 'h':
			mtree_usage(stdout);
			return 0;
		default:
			return getopt_usage_err(opt, argv);
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument: %s", argv[optind]);
	if (o.import && !*o.import)
		return usage_err("%s: empty argument", "--import");
	if (o.check_flat && !*o.check_flat)
		return usage_err("%s: empty argument", "--check-flat");
	if (o.svg && !*o.svg)
		return usage_err("%s: empty argument", "--svg");
	if (!o.import && o.check_flat)
		return usage_err("option needs --import: %s", "--check-flat");
	if (!o.import && o.memslots)
		return usage_err("option needs --import: %s", "--memslots");

	if (o.flat)
		flags |= MS_MTREE_FLAT;
	if (o.owner)
		flags |= MS_MTREE_OWNER;
	if (o.disabled)
		flags |= MS_MTREE_DISABLED;

	ctx = ms_ctx__new();
	if (!ctx) {
		p_err("cannot create a memory context: %s", strerror(errno));
		return 1;
	}

	if (o.import) {
		status = mtree_import(ctx, &o, flags);
		goto free_ctx;
	}

	ret = topology_default(ctx, &t);
	if (ret) {
		p_err("cannot build the default topology: %s",
		      error_text(&t.err, -ret));
		goto free_ctx;
	}

	if (o.svg) {
		struct ms_error err = { 0 };

		ret = svg_write_ctx(o.svg, ctx, NULL, "default machine (pc)", &err);
		if (ret) {
			p_err("%s", error_text(&err, -ret));
			goto free_topo;
		}
	}

	if (json_output) {
		struct json_object *doc = json_object_new_object();

		ret = doc ? 0 : -ENOMEM;
		if (!ret)
			ret = o.flat ? mtree_json_flat(ctx, &o, NULL, doc) :
				       mtree_json_tree(ctx, &o, doc);
		if (ret) {
			json_object_put(doc);
			p_err("cannot build JSON: %s", strerror(-ret));
			goto free_topo;
		}
		status = json_print(doc);
		goto free_topo;
	}

	ret = ms_mtree_print(ctx, stdout, flags, NULL, NULL);
	if (ret) {
		p_err("cannot write output: %s", strerror(-ret));
		goto free_topo;
	}
	status = 0;

free_topo:
	topology_free(&t);
free_ctx:
	ms_ctx__free(ctx);
	return status;
}
