// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot tool: error reporting, the JSON writer, number parsing, file
 * reading and the memslot JSON row shared by every command.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

bool json_output;
bool pretty_output;
bool debug_output;

static const char *cmd_name;
/* STYLE.md "JSON": exactly one document per run, errors included. */
static bool json_written;

void set_cmd_name(const char *name)
{
	cmd_name = name;
}

const char *get_cmd_name(void)
{
	return cmd_name;
}

static void vreport(const char *fmt, va_list ap)
{
	char raw[512], msg[512];
	size_t n = 0;

	if (cmd_name)
		n = snprintf(msg, sizeof(msg), "%s: ", cmd_name);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/*
	 * One line, whatever the values quoted from the input: control
	 * characters (a newline in an argument, a terminal escape in a
	 * dump) are written as \n, \r, \xNN.
	 */
	for (const unsigned char *c = (const unsigned char *)raw; *c && n < sizeof(msg) - 5; c++) {
		if (*c == '\n' || *c == '\r')
			n += snprintf(msg + n, sizeof(msg) - n, "\\%c", *c == '\n' ? 'n' : 'r');
		else if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			n += snprintf(msg + n, sizeof(msg) - n, "\\x%02x", *c);
		else
			msg[n++] = (char)*c;
	}
	msg[n] = '\0';

	if (json_output && !json_written) {
		struct json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "error", json_object_new_string(msg));
			json_print(o);
			return;
		}
	}
	fprintf(stderr, "memslot: %s\n", msg);
}

void p_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

const char *error_text(const struct ms_error *e, int errnum)
{
	return e->msg[0] ? e->msg : strerror(errnum);
}

/* Length of the valid UTF-8 sequence at @s (RFC 3629), 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80 ||
		    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

void json_write_text(FILE *f, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;

	while (*s) {
		size_t n = utf8_len(s);

		if (n) {
			fwrite(s, 1, n, f);
			s += n;
		} else {
			fputs("\xef\xbf\xbd", f);	/* U+FFFD for the byte */
			s++;
		}
	}
}

bool json_was_written(void)
{
	return json_written;
}

struct json_object *json_versioned(struct json_object *obj)
{
	struct json_object *n;

	if (!json_object_is_type(obj, json_type_object) ||
	    json_object_object_get_ex(obj, "version", NULL))
		return obj;
	n = json_object_new_object();
	if (!n || json_object_object_add(n, "version", json_object_new_int(JSON_SCHEMA_VERSION))) {
		json_object_put(n);
		return obj;
	}
	json_object_object_foreach(obj, k, v) {
		if (json_object_object_add(n, k, json_object_get(v))) {
			json_object_put(v);
			json_object_put(n);
			return obj;
		}
	}
	json_object_put(obj);
	return n;
}

void json_print_line(struct json_object *obj)
{
	obj = json_versioned(obj);
	json_write_text(stdout, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE) ?: "null");
	fputc('\n', stdout);
	json_object_put(obj);
}

int json_print(struct json_object *obj)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *s;

	obj = json_versioned(obj);

	flags |= pretty_output ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
				 JSON_C_TO_STRING_PLAIN;
	s = json_object_to_json_string_ext(obj, flags);
	json_written = true;
	if (!s) {
		json_object_put(obj);
		fprintf(stderr, "memslot: %s%scannot format JSON: %s\n", cmd_name ?: "",
			cmd_name ? ": " : "", strerror(ENOMEM));
		return 1;
	}
	json_write_text(stdout, s);
	fputc('\n', stdout);
	json_object_put(obj);
	return 0;
}

struct json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

struct json_object *json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* strtoull() in @base, without its leading blanks and signs (QEMU takes none either). */
static int parse_base(const char *str, int base, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!str || !isdigit((unsigned char)str[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(str, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == str || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u64(const char *str, uint64_t *out)
{
	/* "0x" is hexadecimal; leading zeros are decimal: "010" is no octal 8 */
	if (str && str[0] == '0' && (str[1] == 'x' || str[1] == 'X'))
		return isxdigit((unsigned char)str[2]) ? parse_base(str, 16, out) : -EINVAL;
	return parse_base(str, 10, out);
}

int parse_qemu_u64(const char *str, uint64_t *out)
{
	return parse_base(str, 0, out);
}

int parse_pid(const char *str, uint32_t *pid)
{
	uint64_t v = 0;

	/* decimal only, as ps and kill print it: "010" is no octal 8 */
	for (const char *c = str; c && *c; c++) {
		if (!isdigit((unsigned char)*c) || v > INT32_MAX)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (!str || !*str || !v || v > INT32_MAX)
		return -EINVAL;
	*pid = (uint32_t)v;
	return 0;
}

bool pid_missing(uint32_t pid)
{
	/* a VM count of 0 or an empty trace would blame a process that is not there */
	if (!pid || !kill((pid_t)pid, 0) || errno != ESRCH)
		return false;
	p_err("no such process: %" PRIu32, pid);
	return true;
}

static int suffix_shift(char c)
{
	switch (tolower((unsigned char)c)) {
	case 'b': return 0;
	case 'k': return 10;
	case 'm': return 20;
	case 'g': return 30;
	case 't': return 40;
	case 'p': return 50;
	case 'e': return 60;
	default: return -1;
	}
}

/*
 * QEMU's qemu_strtosz family (util/cutils.c behaviour, QEMU 7.2): decimal
 * with an optional fraction and an optional one-letter binary suffix, or
 * plain hexadecimal; a fraction needs a multiplier above 1 byte.
 */
int parse_size(const char *str, uint64_t unit, uint64_t *out)
{
	unsigned __int128 val = 0, frac = 0, div = 1, mul, res;
	const char *p = str;
	int shift;

	if (!str || !isdigit((unsigned char)*p))
		return -EINVAL;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		if (!isxdigit((unsigned char)*p))
			return -EINVAL;
		for (; isxdigit((unsigned char)*p); p++) {
			val = val * 16 + (isdigit((unsigned char)*p) ? *p - '0' :
					  tolower((unsigned char)*p) - 'a' + 10);
			if (val > UINT64_MAX)
				return -ERANGE;
		}
		if (*p)
			return -EINVAL;
		*out = (uint64_t)val;
		return 0;
	}

	for (; isdigit((unsigned char)*p); p++) {
		val = val * 10 + (*p - '0');
		if (val > UINT64_MAX)
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		/* 18 digits keep frac * 2^60 inside 128 bits; more cannot matter. */
		for (int n = 0; isdigit((unsigned char)*p); p++, n++) {
			if (n < 18) {
				frac = frac * 10 + (*p - '0');
				div *= 10;
			}
		}
	}

	mul = unit;
	if (*p) {
		shift = suffix_shift(*p);
		if (shift < 0 || p[1])
			return -EINVAL;
		mul = (unsigned __int128)1 << shift;
	}
	if (frac && mul == 1)
		return -EINVAL;

	res = val * mul + frac * mul / div;
	if (res > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)res;
	return 0;
}

const char *read_file_strerror(int err)
{
	return err == -EFBIG ? "larger than 64 MiB, not an input of memslot" : strerror(-err);
}

int read_file(const char *path, char **buf, size_t *len)
{
	size_t n = 0, cap = 1 << 16;
	char *b = NULL, *nb;
	ssize_t r;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!b || cap - n < 2) {
			cap = b ? cap * 2 : cap;
			nb = realloc(b, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto free_buf;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto free_buf;
		}
		if (!r)
			break;
		n += r;
		if (n > READ_FILE_MAX) {
			ret = -EFBIG;
			goto free_buf;
		}
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;

free_buf:
	free(b);
	close(fd);
	return ret;
}

const char *memslot_flags_str(uint32_t flags, char *buf, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ MS_KVM_MEM_LOG_DIRTY_PAGES,	"log" },
		{ MS_KVM_MEM_READONLY,		"ro" },
		{ MS_KVM_MEM_GUEST_MEMFD,	"gmem" },
	};
	size_t n = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit))
			continue;
		flags &= ~names[i].bit;
		n += snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? "," : "",
			      names[i].name);
	}
	if (flags)
		n += snprintf(buf + n, n < size ? size - n : 0, "%s0x%x", n ? "," : "", flags);
	if (!n)
		snprintf(buf, size, "-");
	return buf;
}

struct json_object *memslot_json(const struct ms_memslot *s)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (json_object_object_add(o, "slot", json_object_new_uint64(s->slot)) ||
	    json_object_object_add(o, "as", json_object_new_uint64(s->as_id)) ||
	    json_object_object_add(o, "gpa", json_u64(s->gpa)) ||
	    json_object_object_add(o, "size", json_u64(s->size)) ||
	    json_object_object_add(o, "flags", json_object_new_uint64(s->flags)) ||
	    json_object_object_add(o, "region",
				   json_str_or_null(s->mr ? ms_region__name(s->mr) : NULL))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct slot_rows {
	struct json_object *arr;	/* JSON mode */
	FILE *f;			/* text mode */
	const struct memslot_cols *cols;
	unsigned int nr;
	uint64_t bytes;
	int err;
};

/* A count column: the number, or "-" for a negative (not applicable) value. */
static const char *count_str(int64_t v, char *buf, size_t size)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%" PRId64, v);
	return buf;
}

static int extra_json(struct json_object *o, const struct ms_memslot *s,
		      const struct memslot_cols *c)
{
	const char *b = c->backend ? c->backend(s, c->opaque) : NULL;
	int64_t v;

	if (json_object_object_add(o, "backend", json_str_or_null(b)))
		return -ENOMEM;
	if (c->verified) {
		v = c->verified(s, c->opaque);
		if (json_object_object_add(o, "verified_pages", v < 0 ? NULL : json_u64(v)))
			return -ENOMEM;
	}
	if (c->dirty) {
		v = c->dirty(s, c->opaque);
		if (json_object_object_add(o, "dirty_pages", v < 0 ? NULL : json_u64(v)))
			return -ENOMEM;
	}
	return 0;
}

static int slot_row(const struct ms_memslot *s, void *opaque)
{
	struct slot_rows *r = opaque;
	const struct memslot_cols *c = r->cols;
	const char *name = s->mr ? ms_region__name(s->mr) : NULL;
	char flags[24], v[24], d[24];

	r->nr++;
	r->bytes += s->size;
	if (r->arr) {
		struct json_object *o = memslot_json(s);

		if (!o || (c && extra_json(o, s, c)) || json_object_array_add(r->arr, o)) {
			json_object_put(o);
			r->err = -ENOMEM;
			return 1;
		}
		return 0;
	}
	if (!c) {
		fprintf(r->f, "%4u  %2u  0x%016" PRIx64 "  0x%016" PRIx64 "  %-5s  %s\n", s->slot,
			s->as_id, s->gpa, s->size,
			memslot_flags_str(s->flags, flags, sizeof(flags)), name ?: "(null)");
		return 0;
	}
	fprintf(r->f, "%4u  %2u  0x%016" PRIx64 "  0x%016" PRIx64 "  %-7s  %-14s  %-14s  %8s",
		s->slot, s->as_id, s->gpa, s->size,
		memslot_flags_str(s->flags, flags, sizeof(flags)), name ?: "(null)",
		(c->backend ? c->backend(s, c->opaque) : NULL) ?: "-",
		count_str(c->verified ? c->verified(s, c->opaque) : -1, v, sizeof(v)));
	if (c->dirty)
		fprintf(r->f, "  %8s", count_str(c->dirty(s, c->opaque), d, sizeof(d)));
	fputc('\n', r->f);
	return 0;
}

void memslot_table_print_cols(FILE *f, struct ms_slotmap *const *maps, size_t nr_maps,
			      const struct memslot_cols *cols)
{
	struct slot_rows r = { .f = f, .cols = cols };
	unsigned int per_as[2] = { 0 };

	if (cols)
		fprintf(f, "slot  as  gpa                 size                flags    %-14s  %-14s"
			"  %8s%s\n", "region", "backend", "verified", cols->dirty ? "     dirty" : "");
	else
		fprintf(f, "slot  as  gpa                 size                flags  region\n");
	for (size_t i = 0; i < nr_maps; i++) {
		unsigned int before = r.nr;

		ms_slotmap__for_each(maps[i], slot_row, &r);
		if (i < 2)
			per_as[i] = r.nr - before;
	}
	fprintf(f, "total: %u slots", r.nr);
	if (nr_maps > 1)
		fprintf(f, " (as 0: %u, as 1: %u)", per_as[0], per_as[1]);
	fprintf(f, ", 0x%" PRIx64 " bytes\n", r.bytes);
}

size_t machine_kvm_maps(const struct ms_machine *m, struct ms_slotmap *maps[2])
{
	size_t n = 0;

	maps[0] = maps[1] = NULL;
	if (ms_machine__kvm(m))
		maps[n++] = ms_machine__kvm(m);
	if (ms_machine__kvm_smm(m))
		maps[n++] = ms_machine__kvm_smm(m);
	return n;
}

void memslot_table_print(FILE *f, struct ms_slotmap *const *maps, size_t nr_maps)
{
	memslot_table_print_cols(f, maps, nr_maps, NULL);
}

struct json_object *memslot_table_json_cols(struct ms_slotmap *const *maps, size_t nr_maps,
					    const struct memslot_cols *cols)
{
	struct slot_rows r = { .arr = json_object_new_array(), .cols = cols };

	if (!r.arr)
		return NULL;
	for (size_t i = 0; i < nr_maps && !r.err; i++)
		ms_slotmap__for_each(maps[i], slot_row, &r);
	if (r.err) {
		json_object_put(r.arr);
		return NULL;
	}
	return r.arr;
}

struct json_object *memslot_table_json(struct ms_slotmap *const *maps, size_t nr_maps)
{
	return memslot_table_json_cols(maps, nr_maps, NULL);
}

int getopt_usage_err(int opt, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : NULL;

	if (opt == ':')
		return usage_err("missing argument of option: %s", arg);
	/*
	 * A long option is named as written: for "--flat=1" getopt_long()
	 * sets optopt to the option's short name, 'f'.
	 */
	if (arg && !strncmp(arg, "--", 2)) {
		if (optopt && strchr(arg, '='))
			return usage_err("option takes no argument: %s", arg);
		return usage_err("unknown option: %s", arg);
	}
	if (optopt)
		return usage_err("unknown option: -%c", optopt);
	return usage_err("unknown option: %s", arg);
}
