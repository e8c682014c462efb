// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SVG memory map (tool/svg.h): the pictures of a q35 machine with SMM,
 * DIMMs, virtio-mem and dirty logging built with the library, of a census
 * memslot table, of the embedded default machine and of imported QEMU 7.2
 * dumps (`memslot mtree [--import] --svg FILE`), and the writer's escaping
 * and failure modes.
 *
 * Each picture must be well-formed XML (python3's xml.etree parses it), name
 * the bands, regions and legend entries, and have exactly one rectangle per
 * KVM memslot. Headless Chromium renders some of them to PNG; the PNG is
 * decoded here (zlib, the five scanline filters) and must show the colors
 * of the kinds drawn. Those checks SKIP only without chromium or python3.
 *
 * The model and the builders are compiled into this test from tool/ (the
 * tool's objects are not a library).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "../tool/svg.c"
#include "../tool/svg_build.c"

#include "cli.h"
#include "util.h"	/* before the harness */

#include "harness.h"


static const char *chromium_path(void)
{
	static const char *const paths[] = { "/usr/bin/chromium", "/usr/bin/chromium-browser",
					     "/usr/bin/google-chrome" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

static bool have_python(void)
{
	return !access("/usr/bin/python3", X_OK);
}

/* Occurrences of @needle in @s. */
static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* python3's XML parser accepts @path; its message in @why otherwise. */
static bool well_formed(const char *path, char **why)
{
	const char *const argv[] = { "/usr/bin/python3", "-c",
		"import sys, xml.etree.ElementTree as E\n"
		"r = E.parse(sys.argv[1]).getroot()\n"
		"assert r.tag == '{http://www.w3.org/2000/svg}svg', r.tag\n"
		"assert r.get('version') == '1.1'\n"
		"assert r.get('width') == '1200'\n"
		"assert not [e for e in r.iter() if e.get('href') or "
		"e.get('{http://www.w3.org/1999/xlink}href')], 'external reference'\n",
		path, NULL };
	struct cli_result r;
	bool ok;

	*why = NULL;
	if (cli_exec(&r, NULL, argv))
		return false;
	ok = r.status == 0;
	if (!ok)
		*why = strdup(r.err);
	cli_result_free(&r);
	return ok;
}

/* --- PNG ------------------------------------------------------------------- */

struct png {
	uint32_t w, h;
	unsigned int bpp;	/* bytes per pixel: 3 (RGB) or 4 (RGBA) */
	unsigned char *px;	/* h rows of w * bpp bytes */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);

	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Decode an 8-bit RGB or RGBA, non-interlaced PNG. Return: 0 or why not. */
static const char *png_decode(const unsigned char *d, size_t len, struct png *p)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char *idat = NULL, *raw;
	size_t nidat = 0, stride;
	uLongf rawlen;

	memset(p, 0, sizeof(*p));
	if (len < 33 || memcmp(d, sig, 8) || memcmp(d + 12, "IHDR", 4))
		return "no PNG signature or IHDR";
	p->w = be32(d + 16);
	p->h = be32(d + 20);
	if (d[24] != 8 || (d[25] != 2 && d[25] != 6) || d[28])
		return "not 8-bit RGB(A) non-interlaced";
	p->bpp = d[25] == 6 ? 4 : 3;
	if (!p->w || !p->h || p->w > 10000 || p->h > 10000)
		return "bad size";
	for (size_t off = 8; off + 12 <= len;) {
		uint32_t n = be32(d + off);

		if (off + 12 + n > len)
			return "truncated chunk";
		if (!memcmp(d + off + 4, "IDAT", 4)) {
			unsigned char *t = realloc(idat, nidat + n);

			if (!t)
				return "out of memory";
			idat = t;
			memcpy(idat + nidat, d + off + 8, n);
			nidat += n;
		}
		off += 12 + n;
	}
	stride = (size_t)p->w * p->bpp;
	rawlen = (uLongf)(stride + 1) * p->h;
	raw = malloc(rawlen);
	p->px = malloc(stride * p->h);
	if (!raw || !p->px || uncompress(raw, &rawlen, idat, nidat) != Z_OK ||
	    rawlen != (stride + 1) * p->h) {
		free(raw);
		free(idat);
		return "IDAT does not inflate to the image size";
	}
	free(idat);
	for (uint32_t y = 0; y < p->h; y++) {
		const unsigned char *in = raw + y * (stride + 1) + 1;
		unsigned char *out = p->px + y * stride, *up = y ? out - stride : NULL;

		for (size_t x = 0; x < stride; x++) {
			int a = x >= p->bpp ? out[x - p->bpp] : 0, b = up ? up[x] : 0;
			int c = up && x >= p->bpp ? up[x - p->bpp] : 0, v;

			switch (in[-1]) {
			case 0: v = in[x]; break;
			case 1: v = in[x] + a; break;
			case 2: v = in[x] + b; break;
			case 3: v = in[x] + (a + b) / 2; break;
			case 4: v = in[x] + paeth(a, b, c); break;
			default:
				free(raw);
				return "bad filter type";
			}
			out[x] = (unsigned char)v;
		}
	}
	free(raw);
	return NULL;
}

/* Pixels of color #@rgb (each channel within 3). */
static size_t png_count(const struct png *p, uint32_t rgb)
{
	size_t n = 0;

	for (size_t i = 0; i < (size_t)p->w * p->h; i++) {
		const unsigned char *c = p->px + i * p->bpp;

		n += abs(c[0] - (int)(rgb >> 16 & 0xff)) <= 3 &&
		     abs(c[1] - (int)(rgb >> 8 & 0xff)) <= 3 && abs(c[2] - (int)(rgb & 0xff)) <= 3;
	}
	return n;
}

/* Distinct colors of @p, counting up to @max. */
static int png_colors(const struct png *p, int max)
{
	uint32_t seen[64];
	int n = 0;

	for (size_t i = 0; i < (size_t)p->w * p->h && n < max && n < 64; i++) {
		const unsigned char *c = p->px + i * p->bpp;
		uint32_t v = (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
		int k = 0;

		while (k < n && seen[k] != v)
			k++;
		if (k == n)
			seen[n++] = v;
	}
	return n;
}

/* --- fixture --------------------------------------------------------------- */

FIXTURE(svg) {
	char dir[64];
	char path[128];
};

FIXTURE_SETUP(svg)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/memslot-svg.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/map.svg", self->dir);
}

FIXTURE_TEARDOWN(svg)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/*
 * Render @svg with headless Chromium into @dir/NAME.png, decode it. Return:
 * 0, 1 for "no chromium" (a SKIP), -1 after a failed check.
 */
static int render(struct __test_metadata *_metadata, const char *dir, const char *svg,
		  const char *name, struct png *p)
{
	const char *chromium = chromium_path();
	char png[160], shot[200], url[200], prof[160], size[40];
	const char *err;
	struct cli_result r;
	char *text = slurp(svg), *h;
	unsigned char *data;
	long height = 0;
	size_t len;
	FILE *f;

	memset(p, 0, sizeof(*p));
	if (!chromium) {
		free(text);
		return 1;
	}
	/* the window is as high as the picture */
	h = text ? strstr(text, " height=\"") : NULL;
	if (h)
		height = strtol(h + 9, NULL, 10);
	free(text);
	EXPECT_LT(100, height);
	if (height <= 100)
		return -1;
	snprintf(png, sizeof(png), "%s/%s.png", dir, name);
	snprintf(shot, sizeof(shot), "--screenshot=%s", png);
	snprintf(url, sizeof(url), "file://%s", svg);
	snprintf(prof, sizeof(prof), "--user-data-dir=%s/chromium", dir);
	snprintf(size, sizeof(size), "--window-size=%d,%ld", SVG_WIDTH, height);
	{
		const char *const argv[] = { "/usr/bin/timeout", "90", chromium, "--headless",
			"--no-sandbox", "--disable-gpu", "--hide-scrollbars", prof, shot, size,
			url, NULL };

		ASSERT_EQ(0, cli_exec(&r, NULL, argv));
	}
	EXPECT_EQ(0, r.status) {
		TH_LOG("chromium: %s", r.err);
	}
	cli_result_free(&r);
	f = fopen(png, "rb");
	EXPECT_NE(NULL, f) {
		TH_LOG("chromium wrote no %s", png);
	}
	if (!f)
		return -1;
	data = malloc(1 << 24);
	len = data ? fread(data, 1, 1 << 24, f) : 0;
	fclose(f);
	EXPECT_LT(2000, len);	/* a picture with text compresses to more */
	err = data ? png_decode(data, len, p) : "out of memory";
	free(data);
	EXPECT_EQ(NULL, err) {
		TH_LOG("%s: %s", png, err);
	}
	if (err)
		return -1;
	EXPECT_EQ(SVG_WIDTH, p->w);
	EXPECT_EQ(height, (long)p->h);
	/* a white background, and many colors (kinds, text antialiasing) */
	EXPECT_LT((size_t)p->w * p->h / 4, png_count(p, 0xffffff));
	EXPECT_LE(16, png_colors(p, 16));
	return 0;
}

static uint32_t hexcolor(const char *s)
{
	return (uint32_t)strtoul(s + 1, NULL, 16);
}

/* --- a q35 machine with SMM, DIMMs and virtio-mem -------------------------- */

static struct ms_machine *q35(struct __test_metadata *_metadata, struct ms_ctx *ctx)
{
	MS_OPTS(ms_machine_opts, mo, .type = MS_MACHINE_Q35, .ram_size = 4 * GiB, .slots = 4,
		.maxmem = 32 * GiB, .kvm_memslots = 32764, .page_size = 4096, .smm = MS_SMM_ON);
	struct ms_error err = { 0 };
	struct ms_machine *m = ms_machine__new(ctx, &mo, &err);
	struct ms_backend *b[3];
	static const char *const ids[] = { "mem1", "mem2", "vmem-backend" };
	static const uint64_t sizes[] = { 1 * GiB, 512 * MiB, 4 * GiB };

	ASSERT_NE(NULL, m) {
		TH_LOG("ms_machine__new: %s", err.msg);
	}
	for (int i = 0; i < 3; i++) {
		MS_OPTS(ms_backend_opts, bo, .kind = MS_BACKEND_RAM, .id = ids[i],
			.size = sizes[i], .no_memory = true);

		b[i] = ms_machine__add_backend(m, &bo, &err);
		ASSERT_NE(NULL, b[i]) {
			TH_LOG("backend %s: %s", ids[i], err.msg);
		}
	}
	{
		MS_OPTS(ms_memdev_opts, d1, .type = MS_MEMDEV_DIMM, .id = "dimm1", .memdev = b[0],
			.slot = MS_MEMDEV_SLOT_AUTO);
		MS_OPTS(ms_memdev_opts, d2, .type = MS_MEMDEV_DIMM, .id = "dimm2", .memdev = b[1],
			.slot = MS_MEMDEV_SLOT_AUTO);
		MS_OPTS(ms_memdev_opts, v, .type = MS_MEMDEV_VIRTIO_MEM, .id = "vmem0",
			.memdev = b[2], .slot = MS_MEMDEV_SLOT_AUTO, .requested_size = 1 * GiB);

		ASSERT_NE(NULL, ms_machine__device_add(m, &d1, &err)) TH_LOG("%s", err.msg);
		ASSERT_NE(NULL, ms_machine__device_add(m, &d2, &err)) TH_LOG("%s", err.msg);
		ASSERT_NE(NULL, ms_machine__device_add(m, &v, &err)) TH_LOG("%s", err.msg);
	}
	/* VGA-style dirty logging on dimm2's memory: its slot gets the flag */
	ms_region__set_log(ms_backend__region(b[1]), true);
	return m;
}

struct slot_count {
	int slots, dirty;
};

static int count_slot(const struct ms_memslot *s, void *opaque)
{
	struct slot_count *c = opaque;

	c->slots++;
	c->dirty += !!(s->flags & MS_KVM_MEM_LOG_DIRTY_PAGES);
	return 0;
}

TEST_F_TIMEOUT(svg, q35_machine, 180)
{
	struct ms_ctx *ctx = ms_ctx__new();
	struct ms_machine *m;
	struct slot_count sc = { 0 };
	struct ms_error err = { 0 };
	struct svg_map sm = { 0 };
	char *text, *why = NULL;
	struct png p;
	int ret;

	ASSERT_NE(NULL, ctx);
	m = q35(_metadata, ctx);
	ms_slotmap__for_each(ms_machine__kvm(m), count_slot, &sc);
	ms_slotmap__for_each(ms_machine__kvm_smm(m), count_slot, &sc);
	ASSERT_LT(5, sc.slots);
	ASSERT_LE(1, sc.dirty);	/* dimm2 in address spaces 0 and 1 */

	/* the model: bands in KVM address space order, then device memory */
	ASSERT_EQ(0, svg_map_add_machine(&sm, m));
	ASSERT_EQ(3, sm.nr_bands);
	EXPECT_STREQ("memory", sm.bands[0].name);
	EXPECT_STREQ("KVM-SMRAM", sm.bands[1].name);
	EXPECT_STREQ("device-memory", sm.bands[2].name);
	EXPECT_EQ(sc.slots, (int)(sm.bands[0].nr + sm.bands[1].nr));
	EXPECT_NE(0, sm.bands[2].win_size);
	svg_map_free(&sm);

	ret = svg_write_machine(self->path, m, "q35", &err);
	ASSERT_EQ(0, ret) TH_LOG("%s", err.msg);
	ASSERT_EQ(1, dir_entries(self->dir));	/* no .tmp left */
	if (!have_python())
		SKIP(goto free_m, "python3 is not installed: cannot parse the SVG");
	EXPECT_TRUE(well_formed(self->path, &why)) TH_LOG("%s", why);
	free(why);

	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "xmlns=\"http://www.w3.org/2000/svg\""));
	/* title line: machine type, RAM, memslots */
	EXPECT_NE(NULL, strstr(text, "q35 \xc2\xb7 RAM 4 GiB \xc2\xb7 "));
	EXPECT_NE(NULL, strstr(text, "KVM memslots</text>"));
	/* bands, regions, devices, legend */
	EXPECT_NE(NULL, strstr(text, ">memory</text>"));
	EXPECT_NE(NULL, strstr(text, ">KVM-SMRAM</text>"));
	EXPECT_NE(NULL, strstr(text, ">device-memory</text>"));
	EXPECT_NE(NULL, strstr(text, "KVM as 1, "));
	EXPECT_NE(NULL, strstr(text, ">pc.ram</text>"));
	EXPECT_NE(NULL, strstr(text, "pc.bios"));
	EXPECT_NE(NULL, strstr(text, "dimm1: mem1"));
	EXPECT_NE(NULL, strstr(text, "vmem0"));
	for (int k = 0; k < SVG_NR_KINDS; k++) {
		EXPECT_NE(NULL, strstr(text, svg_kind_name(k))) {
			TH_LOG("%s", svg_kind_name(k));
		}
	}
	EXPECT_NE(NULL, strstr(text, ">dirty logging</text>"));
	EXPECT_NE(NULL, strstr(text, ">MMIO or hole</text>"));
	/* one rect per slot; kinds; the dirty one hatched */
	EXPECT_EQ(sc.slots, count(text, "<rect class=\"slot "));
	/* the slots, and dimm2's range in the device-memory band */
	EXPECT_EQ(sc.dirty + 1, count(text, "<rect class=\"dirty\""));
	EXPECT_LE(2, count(text, "<rect class=\"slot devmem\""));
	EXPECT_LE(1, count(text, "<rect class=\"slot virtio-mem\""));
	EXPECT_LE(1, count(text, "<rect class=\"slot rom\""));
	EXPECT_LE(2, count(text, "<rect class=\"slot ram\""));
	EXPECT_LE(2, count(text, "<rect class=\"window\""));
	EXPECT_EQ(count(text, "<g>") + count(text, "<g class="), count(text, "</g>"));
	EXPECT_EQ(count(text, "<text "), count(text, "</text>"));
	free(text);

	ret = render(_metadata, self->dir, self->path, "q35", &p);
	if (ret == 1)
		SKIP(goto free_m, "chromium is not installed: the picture is not rendered");
	if (!ret) {
		for (int k = 0; k < SVG_NR_KINDS; k++) {
			EXPECT_LT(300, png_count(&p, hexcolor(kinds[k].fill))) {
				TH_LOG("too few pixels of %s", kinds[k].name);
			}
		}
	}
	free(p.px);
free_m:
	ms_machine__free(m);
	ms_ctx__free(ctx);
}

/* --- census ---------------------------------------------------------------- */

TEST_F(svg, census)
{
	struct ms_census_slot slots[] = {
		{ .as_id = 0, .id = 0, .gpa = 0, .size = 0xc0000 },
		{ .as_id = 0, .id = 1, .flags = MS_KVM_MEM_READONLY, .gpa = 0xfffc0000,
		  .size = 0x40000 },
		{ .as_id = 0, .id = 2, .flags = MS_KVM_MEM_LOG_DIRTY_PAGES, .gpa = 0x100000,
		  .size = 0x7ff00000 },
		{ .as_id = 0, .id = 3, .gpa = 0x100000000, .size = GiB },
		{ .as_id = 1, .id = 0, .gpa = 0, .size = 0x100000 },
	};
	struct census_vm vm = { .slots = slots, .nr = 5, .done = true };
	struct census c = { .vms = &vm, .nr_vms = 1 };
	struct ms_error err = { 0 };
	char *text, *why = NULL;

	vm.head.pid = 4242;
	snprintf(vm.head.comm, sizeof(vm.head.comm), "qemu-<system>");
	ASSERT_EQ(0, svg_write_census(self->path, &c, 0x100000000, 16 * GiB, &err))
		TH_LOG("%s", err.msg);
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "memslot census \xc2\xb7 1 VM \xc2\xb7 5 KVM memslots"));
	EXPECT_NE(NULL, strstr(text, "pid 4242 qemu-&lt;system&gt;"));
	EXPECT_EQ(2, count(text, "<rect class=\"band\""));
	EXPECT_EQ(5, count(text, "<rect class=\"slot "));
	EXPECT_EQ(1, count(text, "<rect class=\"slot rom\""));
	EXPECT_EQ(1, count(text, "<rect class=\"slot devmem\""));	/* by GPA */
	EXPECT_EQ(3, count(text, "<rect class=\"slot ram\""));
	EXPECT_EQ(1, count(text, "<rect class=\"dirty\""));
	EXPECT_NE(NULL, strstr(text, "slot 3: slot 3\n"));
	free(text);
	if (have_python()) {
		EXPECT_TRUE(well_formed(self->path, &why)) TH_LOG("%s", why);
		free(why);
	}
}

/* --- escaping -------------------------------------------------------------- */

TEST_F(svg, escaping)
{
	struct svg_map sm = { 0 };
	struct svg_band *b;
	char *text, *why = NULL;

	ASSERT_EQ(0, svg_map_set_title(&sm, "t<&>\"'", "bad \x01 byte \xff end"));
	b = svg_map_add_band(&sm, "as<1>", "n&te");
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, svg_band_add(b, 0, 16 * GiB, SVG_RAM, false, -1,
				  "]]> <!-- \"q\" & 'a' \x1b[0m \xc3\xa9"));
	ASSERT_EQ(0, svg_map_write(&sm, self->path, NULL));
	svg_map_free(&sm);
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "t&lt;&amp;&gt;&quot;&apos;"));
	EXPECT_NE(NULL, strstr(text, "bad \xef\xbf\xbd byte \xef\xbf\xbd end"));
	EXPECT_NE(NULL, strstr(text, "]]&gt; &lt;!-- &quot;q&quot; &amp; &apos;a&apos; "
			       "\xef\xbf\xbd[0m \xc3\xa9"));
	EXPECT_EQ(NULL, strstr(text, "<!--"));
	EXPECT_EQ(NULL, strchr(text, '\x1b'));
	/* the hole between nothing is not labelled; the 16 GiB range is */
	EXPECT_NE(NULL, strstr(text, "0x0 \xc2\xb7 16 GiB"));
	free(text);
	if (have_python()) {
		EXPECT_TRUE(well_formed(self->path, &why)) TH_LOG("%s", why);
		free(why);
	}
}

TEST(size_str)
{
	static const struct { uint64_t v; const char *s; } t[] = {
		{ 0, "0 B" }, { 1000, "0.977 KiB" }, { 0xa0000, "640 KiB" },
		{ 1 * MiB, "1 MiB" }, { 3 * GiB, "3 GiB" }, { 0xfffc0000, "4 GiB" },
		{ 1536 * MiB, "1.5 GiB" }, { 1ULL << 40, "1 TiB" }, { UINT64_MAX, "16 EiB" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		EXPECT_STREQ(t[i].s, svg_size_str(t[i].v, buf, sizeof(buf)));
}

/* --- errors: no file is left ----------------------------------------------- */

TEST_F(svg, write_errors)
{
	struct svg_map sm = { 0 };
	struct ms_error err = { 0 };
	char path[200];

	ASSERT_EQ(0, svg_map_set_title(&sm, "t", NULL));
	/* a directory that does not exist */
	snprintf(path, sizeof(path), "%s/missing/map.svg", self->dir);
	EXPECT_EQ(-ENOENT, svg_map_write(&sm, path, &err));
	EXPECT_NE(NULL, strstr(err.msg, path));
	/* the target is a directory: the rename fails, the .tmp goes */
	snprintf(path, sizeof(path), "%s/adir", self->dir);
	ASSERT_EQ(0, mkdir(path, 0755));
	EXPECT_GT(0, svg_map_write(&sm, path, &err));
	EXPECT_EQ(1, dir_entries(self->dir));
	/* the write itself fails (file size limit): no partial file */
	snprintf(path, sizeof(path), "%s/map.svg", self->dir);
	{
		pid_t pid = fork();
		int status = -1;

		ASSERT_LE(0, pid);
		if (!pid) {
			struct rlimit rl = { .rlim_cur = 100, .rlim_max = 100 };

			signal(SIGXFSZ, SIG_IGN);
			if (setrlimit(RLIMIT_FSIZE, &rl))
				_exit(2);
			_exit(svg_map_write(&sm, path, &err) < 0 ? 0 : 1);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, status);
	}
	EXPECT_EQ(1, dir_entries(self->dir));	/* adir only */
	svg_map_free(&sm);
}

/*
 * What is at the path stays what it was: a planted PATH.tmp link is not
 * followed, a link to a file keeps linking to the (new) file, a fifo and
 * /dev/null are written in place, never replaced by a regular file.
 */
TEST_F(svg, existing_paths)
{
	struct svg_map sm = { 0 };
	char path[200], other[200], fifo[200], *text;
	struct stat st;
	int fd, status;
	pid_t pid;

	ASSERT_EQ(0, svg_map_set_title(&sm, "t", NULL));
	/* a planted map.svg.tmp -> victim: the victim is not written */
	snprintf(other, sizeof(other), "%s/victim", self->dir);
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(7, write(fd, "victim\n", 7));
	close(fd);
	snprintf(path, sizeof(path), "%s.tmp", self->path);
	ASSERT_EQ(0, symlink(other, path));
	ASSERT_EQ(0, svg_map_write(&sm, self->path, NULL));
	text = slurp(other);
	EXPECT_STREQ("victim\n", text ?: "(none)");
	free(text);
	ASSERT_EQ(0, lstat(path, &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	EXPECT_EQ(3, dir_entries(self->dir));	/* victim, map.svg, the planted link */

	/* link.svg -> map.svg: still a link, map.svg rewritten */
	snprintf(path, sizeof(path), "%s/link.svg", self->dir);
	ASSERT_EQ(0, symlink("map.svg", path));
	ASSERT_EQ(0, truncate(self->path, 0));
	ASSERT_EQ(0, svg_map_write(&sm, path, NULL));
	ASSERT_EQ(0, lstat(path, &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_LT(100, st.st_size);

	/* a fifo: read by a child, stays a fifo */
	snprintf(fifo, sizeof(fifo), "%s/fifo", self->dir);
	ASSERT_EQ(0, mkfifo(fifo, 0600));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char buf[4096];
		ssize_t n, total = 0;
		int rfd = open(fifo, O_RDONLY);

		while (rfd >= 0 && (n = read(rfd, buf, sizeof(buf))) > 0)
			total += n;
		_exit(total > 100 ? 0 : 1);
	}
	EXPECT_EQ(0, svg_map_write(&sm, fifo, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	ASSERT_EQ(0, lstat(fifo, &st));
	EXPECT_TRUE(S_ISFIFO(st.st_mode));

	/* /dev/null stays the device */
	EXPECT_EQ(0, svg_map_write(&sm, "/dev/null", NULL));
	ASSERT_EQ(0, stat("/dev/null", &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	svg_map_free(&sm);
	unlink(fifo);
	unlink(path);
	snprintf(path, sizeof(path), "%s.tmp", self->path);
	unlink(path);
	unlink(other);
}

/* --- the command line ------------------------------------------------------ */

TEST_F_TIMEOUT(svg, cli_default, 180)
{
	struct cli_result r, plain;
	char *text, *why = NULL;
	struct png p;
	int ret;

	ASSERT_EQ(0, CLI_RUN(&plain, "mtree"));
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--svg", self->path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	EXPECT_STREQ(plain.out, r.out);	/* stdout as without --svg */
	cli_result_free(&r);
	cli_result_free(&plain);

	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, ">default machine (pc) \xc2\xb7 RAM 4 GiB \xc2\xb7 "
			       "no KVM memslots</text>"));
	EXPECT_NE(NULL, strstr(text, ">memory</text>"));
	EXPECT_NE(NULL, strstr(text, ">pc.ram</text>"));
	EXPECT_NE(NULL, strstr(text, "pc.bios"));
	EXPECT_NE(NULL, strstr(text, "isa-bios") ?: strstr(text, "pc.rom"));
	EXPECT_NE(NULL, strstr(text, " GiB hole</text>"));	/* the PCI hole */
	EXPECT_EQ(0, count(text, "<rect class=\"slot "));
	/* pc.ram x3 (below the VGA window, below and above 4 GiB), 3 ROMs */
	EXPECT_EQ(6, count(text, "<rect class=\"range "));
	EXPECT_EQ(3, count(text, "<rect class=\"range ram\""));
	free(text);
	if (!have_python())
		SKIP(return, "python3 is not installed: cannot parse the SVG");
	EXPECT_TRUE(well_formed(self->path, &why)) TH_LOG("%s", why);
	free(why);

	ret = render(_metadata, self->dir, self->path, "default", &p);
	if (ret == 1)
		SKIP(return, "chromium is not installed: the picture is not rendered");
	if (!ret) {
		EXPECT_LT(2000, png_count(&p, hexcolor(kinds[SVG_RAM].fill)));
		EXPECT_LT(300, png_count(&p, hexcolor(kinds[SVG_ROM].fill)));
		EXPECT_EQ(0, png_count(&p, hexcolor(kinds[SVG_VIRTIO_MEM].fill)) > 2000);
	}
	free(p.px);
}

/*
 * plan --svg: a q35 with a DIMM and virtio-mem and a script that hot-plugs
 * a second DIMM. The picture is the machine after the script: the new
 * DIMM's label is in it and there is one rectangle per memslot of plan -j,
 * which stays on stdout. An unwritable place: exit 1, one error line, no
 * file.
 */
TEST_F(svg, cli_plan_script)
{
	static const char script[] = "object_add memory-backend-ram,id=m2,size=256M\n"
				     "device_add pc-dimm,id=hotdimm2,memdev=m2\n";
	const char *args[] = { "-j", "plan", "-M", "q35", "-m", "1G,slots=4,maxmem=8G",
		"-object", "memory-backend-ram,id=m1,size=512M", "-device", "pc-dimm,id=d1,memdev=m1",
		"-object", "memory-backend-ram,id=vm0,size=2G",
		"-device", "virtio-mem-pci,id=vmem0,memdev=vm0,requested-size=1G",
		"--script", NULL, "--svg", self->path, NULL };
	struct json_object *doc;
	char scn[160], bad[200], *text, *why = NULL;
	struct cli_result r;
	FILE *f;

	snprintf(scn, sizeof(scn), "%s/hotplug.txt", self->dir);
	f = fopen(scn, "w");
	ASSERT_NE(NULL, f);
	fputs(script, f);
	ASSERT_EQ(0, fclose(f));
	args[15] = scn;
	ASSERT_EQ(0, cli_run(&r, NULL, args));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("stdout: %.300s", r.out);
	cli_result_free(&r);
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, ">hotdimm2: m2</text>"));
	EXPECT_NE(NULL, strstr(text, ">d1: m1</text>"));
	EXPECT_NE(NULL, strstr(text, ">vmem0: vm0</text>"));
	EXPECT_LT(0, (int)jget_len(jget(doc, "memslots")));
	EXPECT_EQ((int)jget_len(jget(doc, "memslots")), count(text, "<rect class=\"slot "));
	free(text);
	json_object_put(doc);
	if (have_python()) {
		EXPECT_TRUE(well_formed(self->path, &why)) TH_LOG("%s", why);
		free(why);
	}

	/* without the script the DIMM is not there */
	args[14] = "--kvm-smm";
	args[15] = "on";
	ASSERT_EQ(0, cli_run(&r, NULL, args));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	cli_result_free(&r);
	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(NULL, strstr(text, "hotdimm2"));
	free(text);

	/*
	 * A directory that does not exist: exit 1, one error naming it,
	 * nothing written and no report: on stderr, or with -j as the one
	 * document {"error": ...} on stdout.
	 */
	snprintf(bad, sizeof(bad), "%s/no/such/map.svg", self->dir);
	args[14] = "--script";
	args[15] = scn;
	args[17] = bad;
	for (int json = 0; json < 2; json++) {
		ASSERT_EQ(0, cli_run(&r, NULL, args + !json));
		EXPECT_EQ(1, r.status);
		if (json) {
			const char *e;

			doc = parse_one(r.out);
			ASSERT_NE(NULL, doc) TH_LOG("stdout: %.300s", r.out);
			e = jget_str(doc, "error");
			EXPECT_TRUE(e && !strncmp(e, "plan: cannot write SVG file ", 28) &&
				    strstr(e, bad)) TH_LOG("%s", r.out);
			EXPECT_STREQ("", r.err);
			json_object_put(doc);
		} else {
			EXPECT_EQ(0, strncmp(r.err, "memslot: plan: cannot write SVG file ", 37))
				TH_LOG("%s", r.err);
			EXPECT_NE(NULL, strstr(r.err, bad)) TH_LOG("%s", r.err);
			EXPECT_EQ(1, count(r.err, "\n")) TH_LOG("%s", r.err);
		}
		cli_result_free(&r);
		EXPECT_EQ(2, dir_entries(self->dir));	/* map.svg and the script */
	}
}

FIXTURE(sample) {
	char dir[64];
	char path[128];
	char tree[PATH_MAX], flat[PATH_MAX];
};

FIXTURE_VARIANT(sample) {
	const char *name;
	int devmem;		/* slots in device memory */
};

FIXTURE_VARIANT_ADD(sample, pc_4g_dimms_nvdimm) {
	.name = "pc-4g-dimms-nvdimm", .devmem = 3,
};

FIXTURE_VARIANT_ADD(sample, pc_pflash_virtio_mem) {
	.name = "pc-pflash-virtio-mem", .devmem = 1,
};

FIXTURE_VARIANT_ADD(sample, q35_1g_stopped) {
	.name = "q35-1g-stopped", .devmem = 0,
};

FIXTURE_SETUP(sample)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/memslot-svg.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/map.svg", self->dir);
	snprintf(self->tree, sizeof(self->tree), "%s/%s.mtree.txt", samples_dir(),
		 variant->name);
	snprintf(self->flat, sizeof(self->flat), "%s/%s.mtree_f.txt", samples_dir(),
		 variant->name);
}

FIXTURE_TEARDOWN(sample)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/* -j --memslots --svg: the JSON on stdout, one rect per memslot in the file */
TEST_F(sample, import)
{
	struct json_object *doc, *slots;
	struct cli_result r;
	char *text, *why = NULL;
	size_t n;

	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--import", self->tree, "--check-flat",
			     self->flat, "--memslots", "--svg", self->path));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	doc = parse_one(r.out);
	ASSERT_NE(NULL, doc) TH_LOG("stdout: %s", r.out);
	slots = jget(doc, "memslots");
	n = json_object_array_length(slots);
	EXPECT_LT(2, n);
	EXPECT_TRUE(jget_bool(jget(doc, "check_flat"), "identical"));
	cli_result_free(&r);

	text = slurp(self->path);
	ASSERT_NE(NULL, text);
	EXPECT_EQ((int)n, count(text, "<rect class=\"slot "));
	EXPECT_EQ(variant->devmem, count(text, "<rect class=\"slot devmem\""));
	EXPECT_NE(NULL, strstr(text, variant->name));
	EXPECT_NE(NULL, strstr(text, ">pc.ram</text>"));
	EXPECT_NE(NULL, strstr(text, "KVM as 0, "));
	for (size_t i = 0; i < n; i++) {
		const char *region = jget_str(json_object_array_get_idx(slots, i), "region");
		char want[200];

		snprintf(want, sizeof(want), "slot %" PRIu64 ": %s\n",
			 jget_u64(json_object_array_get_idx(slots, i), "slot"), region);
		EXPECT_NE(NULL, strstr(text, want)) TH_LOG("no tooltip %s", want);
	}
	free(text);
	json_object_put(doc);
	if (have_python()) {
		EXPECT_TRUE(well_formed(self->path, &why)) TH_LOG("%s", why);
		free(why);
	}
}

/* An unwritable place: one error line, exit 1, no file; in JSON mode the error document. */
TEST_F(sample, unwritable)
{
	struct cli_result r;
	char path[200];

	snprintf(path, sizeof(path), "%s/no/such/dir/map.svg", self->dir);
	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--import", self->tree, "--svg", path));
	EXPECT_EQ(1, r.status);
	EXPECT_STREQ("", r.out);
	EXPECT_EQ(0, strncmp(r.err, "memslot: mtree: cannot write SVG file ", 38)) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, path));
	EXPECT_EQ(1, count(r.err, "\n"));
	cli_result_free(&r);

	/* a regular file as the directory: ENOTDIR */
	snprintf(path, sizeof(path), "%s/map.svg/x.svg", self->dir);
	ASSERT_EQ(0, close(open(self->path, O_CREAT | O_WRONLY, 0644)));
	ASSERT_EQ(0, CLI_RUN(&r, "-j", "mtree", "--svg", path));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.out, "{\"error\": \"mtree: cannot write SVG file ") ?:
		  strstr(r.out, "\"error\":")) TH_LOG("%s", r.out);
	cli_result_free(&r);
	EXPECT_EQ(1, dir_entries(self->dir));

	ASSERT_EQ(0, CLI_RUN(&r, "mtree", "--svg", ""));
	EXPECT_EQ(2, r.status);
	cli_result_free(&r);
}

TEST_HARNESS_MAIN
