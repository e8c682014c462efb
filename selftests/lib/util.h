/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the hand-written selftests: an event log, a recording
 * memory listener that logs every callback as one line of text, dumpers
 * for flat views and `info mtree` output, a logging I/O device, and the
 * library's warnings captured for a test to read.
 *
 * Text formats (used by the expected strings in the tests):
 *   section:  "<name> <start>+<size> @<offset>[ ro][ nv][ um]"
 *   range:    "<start>+<size> <name>@<offset>[ ro][ nv][ um][ noromd][ log=<mask>]"
 * with every number in "0x%" PRIx64 form (0 prints as "0x0") and sizes up
 * to 2^64 ("0x10000000000000000"). Unnamed regions print as "(null)".
 */
#ifndef SELFTESTS_LIB_UTIL_H
#define SELFTESTS_LIB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <memslot/memslot.h>

/*
 * The kselftest harness is written for the kernel's selftest flags, not for
 * the project's -Wextra -Werror: its EXPECT_EQ() compares an int literal
 * with a u64 (-Wsign-compare), its fork/setjmp wrappers trip -Wclobbered
 * and a signal handler has an unused parameter. Include this header before
 * kselftest_harness.h so these stay quiet in test files only.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wclobbered"
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define KiB	0x400ull
#define MiB	0x100000ull
#define GiB	0x40000000ull
#define PAGE	0x1000ull

/* Enough for any u128 in "0x" form (2^64 needs 20 bytes). */
#define U128_HEX_LEN 40

/**
 * u128_hex() - format a 0..2^64 value as "0x..." ("0x%" PRIx64 style, 0 is "0x0")
 * @buf: output buffer of U128_HEX_LEN bytes
 * @v: value
 *
 * Return: @buf.
 */
char *u128_hex(char buf[U128_HEX_LEN], ms_u128 v);

/**
 * struct ev - one logged event
 * @text: the event as text
 * @s: the section passed to the callback (zeroed if there was none)
 */
struct ev {
	char *text;
	struct ms_section s;
};

/**
 * struct evlog - an ordered list of events, shared by several recorders
 * @ev: events
 * @n: number of events
 * @cap: allocated entries
 */
struct evlog {
	struct ev *ev;
	size_t n, cap;
};

void evlog_init(struct evlog *log);
void evlog_add(struct evlog *log, const struct ms_section *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void evlog_clear(struct evlog *log);
void evlog_free(struct evlog *log);

/**
 * evlog_str() - the events, one per line, each line ending in "\n"
 * @log: log
 *
 * Return: a malloc()ed string ("" if the log is empty).
 */
char *evlog_str(const struct evlog *log);

/* Number of events whose text starts with @prefix. */
size_t evlog_count(const struct evlog *log, const char *prefix);

/* Recorder flags. */
#define REC_NO_BEGIN_COMMIT	(1u << 0)	/* do not log begin/commit */
#define REC_SYNC_GLOBAL		(1u << 1)	/* log_sync_global instead of log_sync */
#define REC_NO_EVENTFD		(1u << 2)	/* no eventfd callbacks at all */
#define REC_NO_NOP		(1u << 3)	/* do not log region_nop */

/**
 * struct rec - a recording listener
 * @l: the library listener
 * @log: where events go
 * @tag: prefix "<tag>:" of every event text, empty for none
 * @flags: REC_* flags
 * @global_start_ret: what log_global_start returns
 */
struct rec {
	struct ms_listener *l;
	struct evlog *log;
	char tag[16];
	unsigned int flags;
	int global_start_ret;
};

/**
 * rec_new() - create a recording listener (not registered)
 * @log: event log
 * @tag: prefix of its events, or NULL
 * @priority: listener priority
 * @flags: REC_* flags
 *
 * Event texts (after the tag): "begin", "commit", "add <section>",
 * "del <section>", "nop <section>", "log_start <section> <old>-><new>",
 * "log_stop <section> <old>-><new>", "log_sync <section>",
 * "log_sync_global last=<0|1>", "log_clear <section>", "log_global_start",
 * "log_global_stop", "log_global_after_sync",
 * "eventfd_add <start>+<size> match=<0|1> data=<data> n=<notifier>",
 * "eventfd_del ...", "coalesced_add <name> <addr>+<len>",
 * "coalesced_del <name> <addr>+<len>". Notifiers passed by the tests are
 * C strings (or NULL, printed "-").
 *
 * Return: the recorder, or NULL.
 */
struct rec *rec_new(struct evlog *log, const char *tag, unsigned int priority,
		    unsigned int flags);
void rec_free(struct rec *r);

/* Section text as described at the top of this file. */
void section_fmt(char *buf, size_t len, const struct ms_section *s);

/**
 * fv_str() - dump a flat view, one line per range ending in "\n"
 * @fv: view
 *
 * Return: a malloc()ed string ("" for an empty view).
 */
char *fv_str(const struct ms_flatview *fv);

/* fv_str() of an address space's current view. */
char *as_str(const struct ms_as *as);

/* Render @root with ms_flatview__render() and dump it; NULL on error. */
char *render_str(struct ms_region *root);

/**
 * mtree_str() - ms_mtree_print() into a string
 * @ctx: context
 * @flags: MS_MTREE_* flags
 * @fn: has_memory callback or NULL
 * @opaque: passed to @fn
 *
 * Return: a malloc()ed string, or NULL if printing failed.
 */
char *mtree_str(struct ms_ctx *ctx, unsigned int flags, ms_mtree_mem_fn fn, void *opaque);

/**
 * dir_entries() - count the entries of a directory
 * @dir: directory
 *
 * Return: the number of entries besides "." and "..", -1 if it cannot be read.
 */
int dir_entries(const char *dir);

/**
 * unix_listen() - a listening unix stream socket
 * @path: where to bind it; a file already there is removed first
 *
 * Return: the socket (close-on-exec), or -1 with errno set.
 */
int unix_listen(const char *path);

/**
 * slurp() - read a whole text file, dropping every '\r'
 * @path: file
 *
 * Return: a malloc()ed string, or NULL with errno set.
 */
char *slurp(const char *path);

/**
 * samples_dir() - the directory of the QEMU 7.2 reference output
 *
 * $MEMSLOT_SAMPLES when set and not empty (make check sets it), else the
 * tree's own selftests/samples/qemu-7.2: relative to the working directory
 * when that is the repository root (selftests/run.sh, make check), else
 * found from the test binary in build/selftests.
 *
 * Return: a path (static storage); the directory may not exist.
 */
const char *samples_dir(void);

/**
 * corpus_dir() - the directory of the project's QEMU corpus
 *
 * $MEMSLOT_CORPUS when set and not empty, else selftests/corpus/qemu-7.2,
 * found as samples_dir() finds its directory.
 *
 * Return: a path (static storage); the directory may not exist.
 */
const char *corpus_dir(void);

/**
 * struct iodev - a device behind I/O region callbacks that logs accesses
 * @log: where "<name> r <addr> <size>" / "<name> w <addr> <size> <val>" go
 * @name: device name in the log
 * @mem: backing bytes (little-endian values), offsets must stay below 256
 * @ret: what every callback returns (an &enum ms_memtx value)
 */
struct iodev {
	struct evlog *log;
	const char *name;
	uint8_t mem[256];
	int ret;
};

int iodev_read(void *opaque, uint64_t addr, uint64_t *val, unsigned int size);
int iodev_write(void *opaque, uint64_t addr, uint64_t val, unsigned int size);

/**
 * find_as() - the address space of @ctx named @name
 * @ctx: context to search
 * @name: address space name, as ms_as__name() gives it
 *
 * Return: the first matching address space (not referenced), or NULL.
 */
struct ms_as *find_as(struct ms_ctx *ctx, const char *name);

/**
 * find_subregion() - the direct subregion of @container named @name
 * @container: region to search (not recursively)
 * @name: region name, as ms_region__name() gives it
 *
 * Return: the first matching subregion (not referenced), or NULL.
 */
struct ms_region *find_subregion(struct ms_region *container, const char *name);

/**
 * kvm_unusable() - why /dev/kvm cannot be used here
 *
 * Return: NULL if /dev/kvm opens read-write, else a static text for SKIP():
 * "/dev/kvm cannot be opened: <strerror>".
 */
const char *kvm_unusable(void);

/**
 * kvm_no_vm() - why /dev/kvm cannot run a guest here
 *
 * The test `memslot run` makes before it falls back to a guest kernel and
 * memslot-vmtest --kvm-usable makes for its default -accel: /dev/kvm opens
 * read-write and KVM_CREATE_VM succeeds.
 *
 * Return: NULL if it can, else a static text in their words:
 * "/dev/kvm: <strerror>" or "/dev/kvm: KVM_CREATE_VM: <strerror>".
 */
const char *kvm_no_vm(void);

/**
 * kvm_smm() - does this host's KVM take SMM memslots (address space 1)?
 *
 * Return: true if /dev/kvm reports KVM_CAP_X86_SMM and at least two
 * address spaces (KVM_CAP_MULTI_ADDRESS_SPACE), as the library asks.
 */
bool kvm_smm(void);

/**
 * warn_capture() - an ms_print_fn_t that keeps the library's warnings
 * @level: message level; only MS_WARN is kept
 * @fmt: printf format
 * @ap: arguments
 *
 * Install it with ms_set_print(). Each warning is appended to one buffer
 * (16 KiB, static storage, the rest is dropped) as a line ending in "\n".
 * Other levels are dropped.
 *
 * Return: the length of the message, 0 if it was not kept.
 */
int warn_capture(enum ms_print_level level, const char *fmt, va_list ap);

/* Forget the captured warnings. */
void warn_clear(void);

/* The captured warnings, one per line ("" if there were none). */
const char *warn_text(void);

/**
 * warn_count() - how often @text occurs in the captured warnings
 * @text: text to count, not overlapping
 *
 * Return: the number of occurrences.
 */
int warn_count(const char *text);

/**
 * devmem_stats() - ms_machine__devmem_stats() as a value
 * @m: machine
 *
 * Return: the statistics, all zero where the library left them unset.
 */
struct ms_devmem_stats devmem_stats(struct ms_machine *m);

/**
 * memslot_line() - ms_slotmap__for_each() callback that prints a KVM slot
 * @s: the slot
 * @opaque: a FILE *
 *
 * Prints "kvm <id> <gpa>+<size> f=<flags> <region>@<offset in region>\n",
 * numbers as "0x%" PRIx64 except the id and flags (decimal), "-" for a
 * slot without region.
 *
 * Return: 0 (go on).
 */
int memslot_line(const struct ms_memslot *s, void *opaque);

/*
 * EXPECT_NO_LEAKS() - in a teardown, after everything is freed: the harness
 * leaves tests with _exit(), so under ASan check for leaks explicitly.
 */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define EXPECT_NO_LEAKS() EXPECT_EQ(0, __lsan_do_recoverable_leak_check())
/* leaks_found() - the same check where a test counts, not asserts, them */
static inline int leaks_found(void) { return __lsan_do_recoverable_leak_check(); }
#else
#define EXPECT_NO_LEAKS() do { } while (0)
static inline int leaks_found(void) { return 0; }
#endif

/* Up to 16 address spaces of a context, filled by as_list_collect(). */
struct as_list {
	struct ms_as *as[16];
	int n;
};

/* ms_ctx__for_each_as() callback appending to the struct as_list @opaque */
int as_list_collect(struct ms_as *as, void *opaque);

/*
 * memdev_state_line() - one memory device's state as text, for comparing
 * states: its info and, for virtio-mem, the block states (each of the
 * first 64 blocks, and each 16-block group of the region)
 * @dev: device
 * @opaque: FILE *
 *
 * Return: 0 (go on).
 */
int memdev_state_line(struct ms_memdev *dev, void *opaque);

/* consumer_state_line() - one memslot consumer as text, FILE * @opaque; 0 */
int consumer_state_line(const struct ms_consumer_info *c, void *opaque);

/*
 * KEEP() - hold @mr until the teardown, for a fixture with the members
 * ``struct ms_region *keep[N]`` and ``int nkeep`` (the teardown unrefs
 * them). ASSERTs that @mr is not NULL and that there is room. Returns @mr.
 */
#define KEEP(mr) ({								\
	struct ms_region *__kept = (mr);					\
	ASSERT_NE(NULL, __kept);						\
	ASSERT_LT(self->nkeep, (int)(sizeof(self->keep) / sizeof(self->keep[0]))); \
	self->keep[self->nkeep++] = __kept;					\
	__kept;									\
})

/*
 * Compare a malloc()ed string with an expected one and free it. The harness
 * prints both on mismatch.
 */
#define EXPECT_STR_FREE(expected, got) do {					\
	char *__got = (got);							\
	{									\
		EXPECT_STREQ((expected), __got ? __got : "(NULL)");		\
	}									\
	free(__got);								\
} while (0)

/* Compare the event log with @expected, then clear the log. */
#define EXPECT_EVENTS(log, expected) do {					\
	{									\
		EXPECT_STR_FREE((expected), evlog_str(log));			\
	}									\
	evlog_clear(log);							\
} while (0)

/* 128-bit equality with hex output on mismatch. */
#define EXPECT_U128(expected, seen) do {					\
	ms_u128 __e = (expected), __s = (seen);					\
	if (__e != __s) {							\
		char __b1[U128_HEX_LEN], __b2[U128_HEX_LEN];			\
		TH_LOG("Expected %s == %s: %s != %s", #expected, #seen,	\
		       u128_hex(__b1, __e), u128_hex(__b2, __s));		\
		_metadata->exit_code = KSFT_FAIL;				\
	}									\
} while (0)

/* Regions that must be created: ASSERT on NULL with errno in the log. */
#define NEW_OK(expr) ({								\
	__typeof__(expr) __r = (expr);						\
	if (!__r)								\
		TH_LOG("%s failed: errno %d", #expr, errno);			\
	ASSERT_NE(NULL, __r);							\
	__r;									\
})

/*
 * Shorthands for test bodies whose fixture has a ``ctx`` member. Each
 * constructor ASSERTs success; the caller owns the returned reference.
 */
#define IO(name, size)								\
	NEW_OK(ms_region__new_io(self->ctx, (name), (size), NULL, NULL, NULL))
#define CONT(name, size)							\
	NEW_OK(ms_region__new_container(self->ctx, (name), (size), NULL))
#define RAM(name, size)								\
	NEW_OK(ms_region__new_ram(self->ctx, (name), (size), MS_RAM_ANON, NULL))
#define ROM(name, size)								\
	NEW_OK(ms_region__new_rom(self->ctx, (name), (size), NULL))
#define ALIAS(name, target, off, size)						\
	NEW_OK(ms_region__new_alias(self->ctx, (name), (target), (off), (size), NULL))
/* A ROM device without callbacks; it starts in ROMD mode. */
#define ROMDEV(name, size)							\
	NEW_OK(ms_region__new_rom_device(self->ctx, (name), (size), NULL, NULL, NULL))

/* Map and ASSERT success; the caller keeps its own reference. */
#define ADD(c, off, sub)							\
	ASSERT_EQ(0, ms_region__add_subregion((c), (off), (sub), NULL))
#define ADDP(c, off, sub, prio)							\
	ASSERT_EQ(0, ms_region__add_subregion_overlap((c), (off), (sub), (prio), NULL))

/* Map and hand the caller's reference to the container. */
#define ADD_PUT(c, off, sub) do {						\
	struct ms_region *__sub = (sub);					\
	ADD((c), (off), __sub);							\
	ms_region__unref(__sub);						\
} while (0)
#define ADDP_PUT(c, off, sub, prio) do {					\
	struct ms_region *__sub = (sub);					\
	ADDP((c), (off), __sub, (prio));					\
	ms_region__unref(__sub);						\
} while (0)

#endif /* SELFTESTS_LIB_UTIL_H */
