// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memslot tool: the guest-physical memory map as SVG (svg.h).
 *
 * Picture, SVG_WIDTH pixels wide, top to bottom: the title line (bold) and
 * a detail line; one band per address space, all the same height, with the
 * band's name and note in a left column and its ranges on a shared address
 * axis; the axis with its ticks; the legend. The axis is logarithmic,
 * x ~ log2(1 + addr / 64 KiB), so that the first MiB (BIOS, option ROMs,
 * the VGA window) and terabytes of device memory both stay readable; it
 * ends at the next power of two at or above the highest address drawn (at
 * least 4 GiB). Ticks are labelled like QEMU's size_to_str() ("1 MiB",
 * "4 GiB") with the address in hex under them.
 *
 * A range is a rectangle colored by kind, labelled with its name and
 * "start, size" when the text fits (the text width is estimated from the
 * font size), and always carries a <title> tooltip. Dirty logging is a
 * hatched overlay with a red outline. What lies between ranges (MMIO,
 * unassigned space) is a gap, labelled with its size where it is wide
 * enough. The device-memory window is a dashed outline behind the ranges,
 * with a caption under the band.
 *
 * The document is standalone SVG 1.1: no external resources, no scripts,
 * every text XML-escaped; bytes that are not UTF-8 or not allowed in XML
 * (control characters) are replaced.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "svg.h"

/* --- model ----------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void svg_map_free(struct svg_map *sm)
{
	for (size_t i = 0; i < sm->nr_bands; i++) {
		struct svg_band *b = &sm->bands[i];

		for (size_t j = 0; j < b->nr; j++)
			free(b->ranges[j].label);
		free(b->ranges);
		free(b->name);
		free(b->note);
	}
	free(sm->bands);
	free(sm->title);
	free(sm->subtitle);
	memset(sm, 0, sizeof(*sm));
}

int svg_map_set_title(struct svg_map *sm, const char *title, const char *subtitle)
{
	char *t = xstrdup(title), *s = xstrdup(subtitle);

	if ((title && !t) || (subtitle && !s)) {
		free(t);
		free(s);
		return -ENOMEM;
	}
	free(sm->title);
	free(sm->subtitle);
	sm->title = t;
	sm->subtitle = s;
	return 0;
}

struct svg_band *svg_map_add_band(struct svg_map *sm, const char *name, const char *note)
{
	struct svg_band *bands, *b;

	bands = realloc(sm->bands, (sm->nr_bands + 1) * sizeof(*bands));
	if (!bands)
		return NULL;
	sm->bands = bands;
	b = &bands[sm->nr_bands];
	memset(b, 0, sizeof(*b));
	b->name = xstrdup(name ? name : "");
	b->note = xstrdup(note);
	if (!b->name || (note && !b->note)) {
		free(b->name);
		free(b->note);
		return NULL;
	}
	sm->nr_bands++;
	return b;
}

int svg_band_add(struct svg_band *b, uint64_t start, uint64_t size, enum svg_kind kind,
		 bool dirty, int32_t slot, const char *label)
{
	struct svg_range *r;

	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;

		r = realloc(b->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		b->ranges = r;
		b->cap = cap;
	}
	r = &b->ranges[b->nr];
	r->start = start;
	r->size = size;
	r->kind = kind < SVG_NR_KINDS ? kind : SVG_RAM;
	r->dirty = dirty;
	r->slot = slot;
	r->label = xstrdup(label);
	if (label && !r->label)
		return -ENOMEM;
	b->nr++;
	return 0;
}

/* --- text helpers ---------------------------------------------------------- */

/*
 * QEMU's size_to_str(): the largest binary unit that keeps the value below
 * 1000 (the switch happens at 1000, not 1024), three significant digits.
 */
const char *svg_size_str(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	double scaled = (double)v * 1.024;
	unsigned int i = 0;

	while (i < 6 && scaled >= (double)(1ULL << (10 * (i + 1))))
		i++;
	snprintf(buf, len, "%0.3g %sB", (double)v / (double)(1ULL << (10 * i)), unit[i]);
	return buf;
}

/* Length of the valid UTF-8 sequence at @s (RFC 3629), 0 if there is none. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return n;
}

/*
 * Write @s as XML character data or attribute value: markup characters as
 * entities; control characters (not allowed in XML 1.0) and invalid UTF-8
 * as U+FFFD. A newline in a <title> stays a newline.
 */
static void put_xml(FILE *f, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;

	while (c && *c) {
		size_t n;

		switch (*c) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		case '\n':
		case '\t':
			fputc(*c, f);
			break;
		default:
			if (*c < 0x20 || *c == 0x7f) {
				fputs("\xef\xbf\xbd", f);
				break;
			}
			n = utf8_seq(c);
			if (!n) {
				fputs("\xef\xbf\xbd", f);
				break;
			}
			fwrite(c, 1, n, f);
			c += n;
			continue;
		}
		c++;
	}
}

/* Characters of @s as displayed (UTF-8 sequences count once). */
static size_t text_chars(const char *s)
{
	size_t n = 0;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		n += (*c & 0xc0) != 0x80;
	return n;
}

/* Estimated width of @s in a sans-serif font of @px pixels (bold a bit wider). */
static double text_width(const char *s, double px, bool bold)
{
	return (double)text_chars(s) * px * (bold ? 0.64 : 0.58);
}

/* --- geometry -------------------------------------------------------------- */

#define X0		210.0		/* axis start (left column before it) */
#define X1		(SVG_WIDTH - 24.0)
#define TOP		84.0		/* first band */
#define BAND_H		46.0		/* ranges */
#define BAND_NOTE_H	16.0		/* caption strip under the ranges */
#define BAND_GAP	12.0
#define BAND_STEP	(BAND_H + BAND_NOTE_H + BAND_GAP)
#define AXIS_K		65536.0		/* piece width ~ log2(1 + size / AXIS_K) */
#define TICK_MIN_PX	64.0

static const struct {
	const char *name;
	const char *fill;
	const char *text;
} kinds[SVG_NR_KINDS] = {
	[SVG_RAM] = { "RAM", "#4e79a7", "#ffffff" },
	[SVG_ROM] = { "ROM", "#f28e2b", "#1f1f1f" },
	[SVG_DEVMEM] = { "device memory (DIMM, NVDIMM)", "#59a14f", "#ffffff" },
	[SVG_VIRTIO_MEM] = { "virtio-mem", "#b07aa1", "#ffffff" },
};

#define GAP_FILL	"#f1f3f5"
#define GAP_TEXT	"#7b828c"
#define DIRTY_STROKE	"#d62728"
#define WINDOW_STROKE	"#59a14f"
#define WINDOW_FILL	"#e6f2e3"

const char *svg_kind_name(enum svg_kind kind)
{
	return kind < SVG_NR_KINDS ? kinds[kind].name : "?";
}

/* log2(@v) for @v >= 1, without libm: exponent, then the atanh series. */
static double log2_of(double v)
{
	double e = 0, z, z2, term, sum = 0;

	while (v >= 2) {
		v /= 2;
		e++;
	}
	z = (v - 1) / (v + 1);		/* 0 <= z < 1/3 */
	z2 = z * z;
	term = z;
	for (int k = 1; k < 40; k += 2) {
		sum += term / k;
		term *= z2;
	}
	return e + 2 * sum / 0.69314718055994530942;
}

/*
 * The axis is cut at every range and window boundary of every band; each
 * piece gets a width that grows with the logarithm of its size, the
 * address is linear inside a piece.
 */
struct axis {
	uint64_t *bp;		/* sorted, unique; bp[0] = 0, bp[n - 1] = end */
	double *x;		/* their x */
	size_t n;
	uint64_t end;		/* saturated: UINT64_MAX stands for 2^64 */
};

/* Exclusive end of [@start, +@size), saturated at UINT64_MAX. */
static uint64_t end_of(uint64_t start, uint64_t size)
{
	uint64_t last = start + (size - 1);

	return last < start || last == UINT64_MAX ? UINT64_MAX : last + 1;
}

static double axis_x(const struct axis *ax, uint64_t a)
{
	size_t lo = 0, hi = ax->n - 1;

	if (a >= ax->end)
		return X1;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (ax->bp[mid] <= a)
			lo = mid;
		else
			hi = mid;
	}
	return ax->x[lo] + (ax->x[hi] - ax->x[lo]) * ((double)(a - ax->bp[lo]) /
						      (double)(ax->bp[hi] - ax->bp[lo]));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void axis_free(struct axis *ax)
{
	free(ax->bp);
	free(ax->x);
}

static int axis_init(struct axis *ax, const struct svg_map *sm)
{
	size_t max = 2, n = 0;
	double total = 0;

	for (size_t i = 0; i < sm->nr_bands; i++)
		max += 2 * sm->bands[i].nr + 2;
	memset(ax, 0, sizeof(*ax));
	ax->bp = malloc(max * sizeof(*ax->bp));
	ax->x = malloc(max * sizeof(*ax->x));
	if (!ax->bp || !ax->x) {
		axis_free(ax);
		return -ENOMEM;
	}
	ax->bp[n++] = 0;
	for (size_t i = 0; i < sm->nr_bands; i++) {
		const struct svg_band *b = &sm->bands[i];

		for (size_t j = 0; j < b->nr; j++) {
			if (!b->ranges[j].size)
				continue;
			ax->bp[n++] = b->ranges[j].start;
			ax->bp[n++] = end_of(b->ranges[j].start, b->ranges[j].size);
		}
		if (b->win_size) {
			ax->bp[n++] = b->win_start;
			ax->bp[n++] = end_of(b->win_start, b->win_size);
		}
	}
	qsort(ax->bp, n, sizeof(*ax->bp), cmp_u64);
	ax->n = 0;
	for (size_t i = 0; i < n; i++)
		if (!ax->n || ax->bp[i] != ax->bp[ax->n - 1])
			ax->bp[ax->n++] = ax->bp[i];
	if (ax->n == 1)
		ax->bp[ax->n++] = 4ULL << 30;	/* nothing drawn: 0 to 4 GiB */
	ax->end = ax->bp[ax->n - 1];

	/* weights: log2 of the size in 64 KiB units, plus a floor for pages */
	ax->x[0] = 0;
	for (size_t i = 0; i + 1 < ax->n; i++) {
		total += log2_of(1.0 + (double)(ax->bp[i + 1] - ax->bp[i]) / AXIS_K) + 0.8;
		ax->x[i + 1] = total;
	}
	for (size_t i = 0; i < ax->n; i++)
		ax->x[i] = X0 + (X1 - X0) * ax->x[i] / total;
	return 0;
}

/* --- writer ---------------------------------------------------------------- */

static void put_text(FILE *f, double x, double y, const char *attrs, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s%s>", x, y, attrs ? " " : "", attrs ? attrs : "");
	put_xml(f, s);
	fputs("</text>\n", f);
}

static int cmp_range(const void *a, const void *b)
{
	const struct svg_range *x = *(const struct svg_range *const *)a;
	const struct svg_range *y = *(const struct svg_range *const *)b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void range_texts(const struct svg_range *r, char *name, size_t nlen, char *detail,
			size_t dlen)
{
	char sz[32];

	if (r->label && r->label[0])
		snprintf(name, nlen, "%s", r->label);
	else if (r->slot >= 0)
		snprintf(name, nlen, "slot %d", r->slot);
	else
		snprintf(name, nlen, "%s", kinds[r->kind].name);
	svg_size_str(r->size, sz, sizeof(sz));
	if (r->slot >= 0)
		snprintf(detail, dlen, "slot %d \xc2\xb7 0x%" PRIx64 " \xc2\xb7 %s", r->slot,
			 r->start, sz);
	else
		snprintf(detail, dlen, "0x%" PRIx64 " \xc2\xb7 %s", r->start, sz);
}

static void put_range(FILE *f, const struct axis *ax, const struct svg_range *r, double y)
{
	char name[256], detail[128], tip[512], sz[32], slot[24] = "", *colon;
	double x = axis_x(ax, r->start), w = axis_x(ax, end_of(r->start, r->size)) - x;
	const char *tc = kinds[r->kind].text;

	/* at least 2 px, so that a page shows */
	if (w < 2)
		w = 2;
	range_texts(r, name, sizeof(name), detail, sizeof(detail));
	/* "slot N: name" first in the tooltip of a slot */
	if (r->slot >= 0)
		snprintf(slot, sizeof(slot), "slot %d: ", r->slot);
	snprintf(tip, sizeof(tip), "%s%s\n%s0x%" PRIx64 "-0x%" PRIx64 " (%s)\n%s%s", slot, name,
		 r->slot >= 0 ? "KVM memslot, " : "", r->start, r->start + (r->size - 1),
		 svg_size_str(r->size, sz, sizeof(sz)), kinds[r->kind].name,
		 r->dirty ? ", dirty logging" : "");

	fprintf(f, "<g>\n<title>");
	put_xml(f, tip);
	fprintf(f, "</title>\n<rect class=\"%s %s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
		"height=\"%.1f\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"0.75\"/>\n",
		r->slot >= 0 ? "slot" : "range",
		r->kind == SVG_RAM ? "ram" : r->kind == SVG_ROM ? "rom" :
		r->kind == SVG_DEVMEM ? "devmem" : "virtio-mem",
		x, y, w, BAND_H, kinds[r->kind].fill);
	if (r->dirty)
		fprintf(f, "<rect class=\"dirty\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
			"height=\"%.1f\" fill=\"url(#hatch)\" stroke=\"" DIRTY_STROKE "\" "
			"stroke-width=\"2\"/>\n", x + 1, y + 1, w > 2 ? w - 2 : w, BAND_H - 2);
	/* "device: region" that does not fit: the device */
	colon = strstr(name, ": ");
	if (colon && text_width(name, 12, true) > w - 8)
		*colon = 0;
	if (text_width(name, 12, true) <= w - 8) {
		char attrs[128];
		bool two = text_width(detail, 10, false) <= w - 8;

		snprintf(attrs, sizeof(attrs), "font-size=\"12\" font-weight=\"bold\" fill=\"%s\"",
			 tc);
		put_text(f, x + 4, y + (two ? 19 : 27), attrs, name);
		if (two) {
			snprintf(attrs, sizeof(attrs), "font-size=\"10\" fill=\"%s\" "
				 "fill-opacity=\"0.9\"", tc);
			put_text(f, x + 4, y + 35, attrs, detail);
		}
	}
	fputs("</g>\n", f);
}

/* Label the gaps between the ranges of a band with their size. */
static void put_gaps(FILE *f, const struct axis *ax, const struct svg_range **sorted, size_t nr,
		     double y)
{
	uint64_t end = 0;
	bool have_end = false;

	for (size_t i = 0; i < nr; i++) {
		const struct svg_range *r = sorted[i];
		uint64_t last;

		if (!r->size)
			continue;
		if (have_end && r->start > end) {
			double x = axis_x(ax, end), xe = axis_x(ax, r->start);
			char sz[32], txt[48];

			svg_size_str(r->start - end, sz, sizeof(sz));
			snprintf(txt, sizeof(txt), "%s hole", sz);
			if (text_width(txt, 10, false) > xe - x - 6)
				snprintf(txt, sizeof(txt), "%s", sz);
			if (text_width(txt, 10, false) <= xe - x - 6)
				put_text(f, (x + xe) / 2, y + BAND_H / 2 + 4,
					 "font-size=\"10\" font-style=\"italic\" "
					 "text-anchor=\"middle\" fill=\"" GAP_TEXT "\"", txt);
		}
		last = r->start + (r->size - 1);
		if (last == UINT64_MAX)
			return;
		if (!have_end || last + 1 > end)
			end = last + 1;
		have_end = true;
	}
}

static void put_band(FILE *f, const struct axis *ax, const struct svg_band *b, double y)
{
	const struct svg_range **sorted = NULL;
	char name[64];
	size_t n;

	/* left column: the name (shortened to the column), the note */
	n = text_chars(b->name);
	snprintf(name, sizeof(name), "%s", b->name);
	if (text_width(name, 14, true) > X0 - 30 && n > 3) {
		size_t keep = (size_t)((X0 - 30) / (14 * 0.64)) - 1, bytes = 0, c = 0;

		while (b->name[bytes] && c < keep && bytes < sizeof(name) - 4) {
			bytes++;
			while ((b->name[bytes] & 0xc0) == 0x80)
				bytes++;
			c++;
		}
		snprintf(name, sizeof(name), "%.*s\xe2\x80\xa6", (int)bytes, b->name);
	}
	fprintf(f, "<g>\n<title>");
	put_xml(f, b->name);
	if (b->note) {
		fputs("\n", f);
		put_xml(f, b->note);
	}
	fputs("</title>\n", f);
	put_text(f, 16, y + 19, "font-size=\"14\" font-weight=\"bold\" fill=\"#1f2328\"", name);
	if (b->note)
		put_text(f, 16, y + 36, "font-size=\"11\" fill=\"#57606a\"", b->note);
	fputs("</g>\n", f);

	if (b->win_size) {
		double x = axis_x(ax, b->win_start);
		double xe = axis_x(ax, end_of(b->win_start, b->win_size));
		char cap[128], sz[32];

		fprintf(f, "<rect class=\"window\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
			"height=\"%.1f\" fill=\"" WINDOW_FILL "\" stroke=\"" WINDOW_STROKE "\" "
			"stroke-width=\"1.25\" stroke-dasharray=\"5 3\"/>\n", x, y - 2,
			xe - x > 2 ? xe - x : 2, BAND_H + 4);
		snprintf(cap, sizeof(cap), "device-memory window 0x%" PRIx64 " \xc2\xb7 %s",
			 b->win_start, svg_size_str(b->win_size, sz, sizeof(sz)));
		if (x + text_width(cap, 10, false) > X1)
			x = X1 - text_width(cap, 10, false);
		put_text(f, x, y + BAND_H + 13, "font-size=\"10\" fill=\"#3b7a34\"", cap);
	}

	if (b->nr) {
		sorted = malloc(b->nr * sizeof(*sorted));
		if (sorted) {
			for (size_t i = 0; i < b->nr; i++)
				sorted[i] = &b->ranges[i];
			qsort(sorted, b->nr, sizeof(*sorted), cmp_range);
			put_gaps(f, ax, sorted, b->nr, y);
		}
	}
	for (size_t i = 0; i < b->nr; i++) {
		const struct svg_range *r = sorted ? sorted[i] : &b->ranges[i];

		if (r->size)
			put_range(f, ax, r, y);
	}
	if (!b->nr)
		put_text(f, (X0 + X1) / 2, y + BAND_H / 2 + 4,
			 "font-size=\"11\" font-style=\"italic\" text-anchor=\"middle\" "
			 "fill=\"" GAP_TEXT "\"", "no memory");
	free(sorted);
}

/*
 * Ticks, each at least TICK_MIN_PX from the others: 0, 1 MiB, 4 GiB and the
 * end first, then the boundaries of the widest pieces, then powers of two.
 */
static size_t ticks(const struct axis *ax, uint64_t *t, size_t max)
{
	uint64_t cand[64 + 4];
	size_t n = 0, nc = 0;
	bool *used;

	cand[nc++] = 0;
	if (ax->end > 1ULL << 20)
		cand[nc++] = 1ULL << 20;
	if (ax->end > 1ULL << 32)
		cand[nc++] = 1ULL << 32;
	cand[nc++] = ax->end;
	for (size_t i = 0; i < nc && n < max; i++)
		t[n++] = cand[i];

	used = calloc(ax->n, sizeof(*used));
	for (size_t round = 0; used && round < ax->n && n < max; round++) {
		double best = -1;
		size_t bi = 0;

		/* the start of the widest piece not yet tried */
		for (size_t i = 0; i + 1 < ax->n; i++)
			if (!used[i] && ax->x[i + 1] - ax->x[i] > best) {
				best = ax->x[i + 1] - ax->x[i];
				bi = i;
			}
		if (best < 0)
			break;
		used[bi] = true;
		for (int side = 0; side < 2 && n < max; side++) {
			uint64_t v = ax->bp[bi + side];
			bool crowded = false;

			for (size_t k = 0; k < n && !crowded; k++) {
				double d = axis_x(ax, v) - axis_x(ax, t[k]);

				crowded = t[k] == v || (d < TICK_MIN_PX && d > -TICK_MIN_PX);
			}
			if (!crowded)
				t[n++] = v;
		}
	}
	free(used);
	for (unsigned int k = 12; k < 64 && n < max; k++) {
		uint64_t v = 1ULL << k;
		bool crowded = false;

		if (v >= ax->end)
			break;
		for (size_t i = 0; i < n && !crowded; i++) {
			double d = axis_x(ax, v) - axis_x(ax, t[i]);

			crowded = t[i] == v || (d < TICK_MIN_PX && d > -TICK_MIN_PX);
		}
		if (!crowded)
			t[n++] = v;
	}
	return n;
}

static void put_axis(FILE *f, const struct axis *ax, double ytop, double y)
{
	uint64_t t[40];
	size_t n = ticks(ax, t, 40);

	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#57606a\" "
		"stroke-width=\"1\"/>\n", X0, y, X1, y);
	for (size_t i = 0; i < n; i++) {
		double x = axis_x(ax, t[i]);
		char sz[32], hex[32];
		const char *anchor = "middle";

		if (x > X1 - 20)
			anchor = "end";
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
			"stroke=\"#c9ced6\" stroke-width=\"1\" stroke-dasharray=\"2 3\"/>\n",
			x, ytop, x, y);
		fprintf(f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
			"stroke=\"#57606a\" stroke-width=\"1\"/>\n", x, y, x, y + 5);
		if (t[i])
			svg_size_str(t[i], sz, sizeof(sz));
		else
			snprintf(sz, sizeof(sz), "0");
		snprintf(hex, sizeof(hex), "0x%" PRIx64, t[i]);
		if (t[i] == UINT64_MAX) {
			snprintf(sz, sizeof(sz), "16 EiB");
			snprintf(hex, sizeof(hex), "2^64");
		}
		fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11\" font-weight=\"bold\" "
			"text-anchor=\"%s\" fill=\"#1f2328\">%s</text>\n", x, y + 18, anchor, sz);
		fprintf(f, "<text x=\"%.2f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"%s\" "
			"fill=\"#57606a\">%s</text>\n", x, y + 30, anchor, hex);
	}
	put_text(f, X0 - 12, y + 18, "font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\"",
		 "guest-physical address");
	put_text(f, X0 - 12, y + 30, "font-size=\"9\" text-anchor=\"end\" fill=\"#57606a\"",
		 "piece widths log-scaled");
}

static double put_legend_item(FILE *f, double x, double y, const char *swatch, const char *text)
{
	fprintf(f, "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"14\" %s/>\n",
		x, y - 11, swatch);
	put_text(f, x + 28, y, "font-size=\"12\" fill=\"#1f2328\"", text);
	fputs("</g>\n", f);
	return x + 28 + text_width(text, 12, false) + 22;
}

static void put_legend(FILE *f, double y)
{
	char sw[160];
	double x = 16;

	for (int k = 0; k < SVG_NR_KINDS; k++) {
		snprintf(sw, sizeof(sw), "fill=\"%s\"", kinds[k].fill);
		x = put_legend_item(f, x, y, sw, kinds[k].name);
	}
	x = put_legend_item(f, x, y, "fill=\"url(#hatch-legend)\" stroke=\"" DIRTY_STROKE "\" "
			    "stroke-width=\"2\"", "dirty logging");
	x = put_legend_item(f, x, y, "fill=\"" WINDOW_FILL "\" stroke=\"" WINDOW_STROKE "\" "
			    "stroke-dasharray=\"5 3\"", "device-memory window");
	put_legend_item(f, x, y, "fill=\"" GAP_FILL "\" stroke=\"#c9ced6\"", "MMIO or hole");
}

int svg_map_print(const struct svg_map *sm, FILE *f)
{
	struct axis ax;
	double h, yaxis;

	if (axis_init(&ax, sm))
		return -ENOMEM;
	yaxis = TOP + (double)sm->nr_bands * BAND_STEP;
	h = yaxis + 80;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
		"font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\">\n",
		SVG_WIDTH, h, SVG_WIDTH, h);
	fputs("<title>", f);
	put_xml(f, sm->title ? sm->title : "memory map");
	fputs("</title>\n", f);
	/* dirty logging: dark stripes over the kind's color */
	fputs("<defs>\n"
	      "<pattern id=\"hatch\" patternUnits=\"userSpaceOnUse\" width=\"7\" height=\"7\" "
	      "patternTransform=\"rotate(45)\">"
	      "<rect width=\"3\" height=\"7\" fill=\"#000000\" fill-opacity=\"0.35\"/></pattern>\n"
	      "<pattern id=\"hatch-legend\" patternUnits=\"userSpaceOnUse\" width=\"7\" "
	      "height=\"7\" patternTransform=\"rotate(45)\">"
	      "<rect width=\"7\" height=\"7\" fill=\"#9aa3ad\"/>"
	      "<rect width=\"3\" height=\"7\" fill=\"#000000\" fill-opacity=\"0.35\"/></pattern>\n"
	      "</defs>\n", f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
		SVG_WIDTH, h);
	put_text(f, 16, 32, "font-size=\"19\" font-weight=\"bold\" fill=\"#1f2328\"",
		 sm->title ? sm->title : "memory map");
	if (sm->subtitle)
		put_text(f, 16, 56, "font-size=\"12\" fill=\"#57606a\"", sm->subtitle);

	/* band backgrounds (the gaps), then the grid, then the contents */
	for (size_t i = 0; i < sm->nr_bands; i++)
		fprintf(f, "<rect class=\"band\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\" fill=\"" GAP_FILL "\" stroke=\"#d8dde3\"/>\n", X0,
			TOP + (double)i * BAND_STEP, X1 - X0, BAND_H);
	put_axis(f, &ax, TOP - 6, yaxis);
	for (size_t i = 0; i < sm->nr_bands; i++)
		put_band(f, &ax, &sm->bands[i], TOP + (double)i * BAND_STEP);
	put_legend(f, yaxis + 62);
	fputs("</svg>\n", f);
	axis_free(&ax);
	return ferror(f) ? -EIO : 0;
}

/* Print @sm to @f and close it. Return: 0 or a negative errno. */
static int print_close(const struct svg_map *sm, FILE *f)
{
	int ret = svg_map_print(sm, f);

	if (fflush(f) && !ret)
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

int svg_map_write(const struct svg_map *sm, const char *path, struct ms_error *err)
{
	char *real = NULL, *tmp = NULL;
	struct stat st;
	mode_t mask;
	FILE *f;
	int fd, ret;

	if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto fail;
	}
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		/* /dev/null, a fifo, /dev/stdout: written in place, never replaced */
		f = fopen(path, "w");
		ret = f ? print_close(sm, f) : -errno;
		if (ret)
			goto fail;
		return 0;
	}
	/* a link to a file: the file is replaced, the link stays */
	real = realpath(path, NULL);
	if (asprintf(&tmp, "%s.XXXXXX", real ?: path) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		goto fail;
	}
	/* a new name of our own (O_EXCL): nothing of the same name is followed */
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) || !(f = fdopen(fd, "w"))) {
		ret = -errno;
		close(fd);
	} else {
		ret = print_close(sm, f);
	}
	if (!ret && rename(tmp, real ?: path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		goto fail;
	}
	free(real);
	free(tmp);
	return 0;
fail:
	free(real);
	free(tmp);
	return ms_error_set(err, ret, "cannot write SVG file %s: %s", path, strerror(-ret));
}
