/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JSON contract of the man pages (memslot(8), JSON OUTPUT): the member
 * lists of the pages in man/, parsed, and real -j output validated against them in
 * both directions. Shared by the host test (test_json.c) and the one run
 * in the guest kernel (test_json_kvm.c).
 *
 * A list is a literal block after a comment line ".. json: NAME" in a
 * page, one "PATH TYPE MEANING" per line (split at blanks). Problems found
 * while validating are appended to a log, one line each, for the test to
 * print with TH_LOG().
 */
#ifndef SELFTESTS_LIB_JSONDOC_H
#define SELFTESTS_LIB_JSONDOC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/**
 * struct jsondoc_field - one documented member
 * @doc: the document, the NAME of ".. json: NAME"
 * @path: its path, without the "?" of an optional member
 * @type: "number|null" style, or "@path", "@doc:path"
 * @optional: the path ended in "?"
 * @seen: met by a validation since the lists were loaded
 */
struct jsondoc_field {
	char doc[32];
	char path[160];
	char type[160];
	bool optional;
	bool seen;
};

/**
 * struct jsondoc - every list of the pages, and the problems found
 * @fields: the members of all documents (malloc()ed)
 * @nr: number of @fields
 * @cap: allocated entries
 * @log: problems, one per line, NUL-terminated (malloc()ed, NULL if none)
 * @log_len: bytes in @log
 */
struct jsondoc {
	struct jsondoc_field *fields;
	size_t nr, cap;
	char *log;
	size_t log_len;
};

/**
 * jsondoc_load() - parse the lists of every *.rst page of a directory
 * @d: zeroed, or freed with jsondoc_free(); free it with jsondoc_free()
 * @dir: the pages' directory, e.g. "man" from the repository root
 * @bad: set to the offending "DOC: LINE" when a list line has no type
 * @bad_len: size of @bad
 *
 * Return: the number of members read, or -1 if @dir cannot be read, a line
 * is bad or memory runs out.
 */
int jsondoc_load(struct jsondoc *d, const char *dir, char *bad, size_t bad_len);

/**
 * jsondoc_free() - free the lists and the log
 * @d: the lists; zeroed again
 */
void jsondoc_free(struct jsondoc *d);

/**
 * jsondoc_find() - the member @path of document @doc
 * @d: the lists
 * @doc: document name
 * @path: member path, without "?"
 *
 * Return: the field, or NULL if it is not documented.
 */
struct jsondoc_field *jsondoc_find(const struct jsondoc *d, const char *doc, const char *path);

/**
 * jsondoc_type_of() - the name a list uses for the type of a value
 * @v: a value, NULL for JSON null
 *
 * Return: "null", "boolean", "number", "string", "array" or "object".
 */
const char *jsondoc_type_of(struct json_object *v);

/**
 * jsondoc_type_allowed() - is type @t one of the "|"-joined @types?
 * @types: e.g. "number|null"
 * @t: one type name
 *
 * Return: true if it is.
 */
bool jsondoc_type_allowed(const char *types, const char *t);

/**
 * jsondoc_ref() - where the members of an "@" type are listed
 * @f: a field whose type starts with "@"
 * @rdoc: set to the document: the one after "@" and before ":", else @f's
 *
 * Return: the path of the object whose members @f has (in @f->type).
 */
const char *jsondoc_ref(const struct jsondoc_field *f, char rdoc[32]);

/**
 * jsondoc_check_object() - validate one parsed document or JSON line
 * @d: the lists; the members met are marked seen, problems go to @d->log
 * @doc: the document it should be
 * @o: the value: an object whose first member is "version": 1
 *
 * Every documented member not marked "?" must be present with a documented
 * type, at every level; no member may be undocumented.
 *
 * Return: the number of problems, 0 if it conforms.
 */
int jsondoc_check_object(struct jsondoc *d, const char *doc, struct json_object *o);

/**
 * jsondoc_check_text() - validate text that must be exactly one document
 * @d: as for jsondoc_check_object()
 * @doc: as for jsondoc_check_object()
 * @text: e.g. the stdout of `memslot -j ...`
 *
 * Return: the number of problems, 1 if @text is not exactly one JSON object.
 */
int jsondoc_check_text(struct jsondoc *d, const char *doc, const char *text);

/**
 * jsondoc_unseen() - log the members of @doc never met
 * @d: the lists; each member of @doc not yet seen is logged
 * @doc: document name
 * @exempt: NULL-terminated "doc:path" prefixes (a path and everything under
 *	it) that need what the host may lack; not logged but counted in
 *	@nr_exempt; NULL for none
 * @nr_exempt: set to the members exempted and unseen; may be NULL
 *
 * Return: the number of members logged as never met, or -1 if @doc has no
 * list at all (also logged).
 */
int jsondoc_unseen(struct jsondoc *d, const char *doc, const char *const *exempt,
		   int *nr_exempt);

/**
 * jsondoc_log_clear() - forget the problems logged so far
 * @d: the lists
 */
void jsondoc_log_clear(struct jsondoc *d);

/**
 * jsondoc_log() - the problems logged so far
 * @d: the lists
 *
 * Return: the log, "" if empty; valid until the next call on @d.
 */
const char *jsondoc_log(const struct jsondoc *d);

#endif /* SELFTESTS_LIB_JSONDOC_H */
