/*
 * Unit tests of the image checks (src/media/image*.c, exif.c).
 *
 * Every input is built in memory here: JPEGs with libjpeg (with an APP1 EXIF
 * segment holding an orientation and GPS tags when asked), PNGs with libpng,
 * TIFFs with libtiff over a memory buffer, and a few files written byte by
 * byte (a PNG header claiming 100000 x 100000, other formats' signatures).
 * Test images are split in four coloured quadrants so that orientation can be
 * checked by looking at where each colour ended up.
 *
 * With CR_IMAGE_SEEDS=DIR set, the run also writes the fuzz seeds of
 * fuzz/corpus/image/ into DIR (tiny versions of the same builders).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include "media/image.h"
#include "media/image_int.h"

/* ------------------------------------------------------------ memory buffer */

struct mb {
	unsigned char *p;
	size_t len, cap, pos;
};

static void
mb_reserve(struct mb *m, size_t n)
{
	if (n <= m->cap)
		return;
	m->cap = n * 2 + 64;
	m->p = realloc(m->p, m->cap);
	assert_non_null(m->p);
}

static void
mb_write_at(struct mb *m, size_t at, const void *d, size_t n)
{
	mb_reserve(m, at + n);
	if (at > m->len)
		memset(m->p + m->len, 0, at - m->len);
	memcpy(m->p + at, d, n);
	if (at + n > m->len)
		m->len = at + n;
}

static void
mb_add(struct mb *m, const void *d, size_t n)
{
	mb_write_at(m, m->len, d, n);
}

static void
mb_free(struct mb *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------ pixels */

enum { RED, GREEN, BLUE, YELLOW, WHITE };
static const unsigned char colours[][3] = {
    {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {255, 255, 255},
};

/* w x h RGB in quadrants: red top left, green top right, blue bottom left, yellow bottom right. */
static unsigned char *
quads(uint32_t w, uint32_t h)
{
	unsigned char *p = malloc((size_t)w * h * 3);

	assert_non_null(p);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			int q = (y >= h / 2) * 2 + (x >= w / 2);

			memcpy(p + ((size_t)y * w + x) * 3, colours[q], 3);
		}
	return p;
}

static void
pixel_near(const struct cr_image *img, uint32_t x, uint32_t y, int c, int tol)
{
	const unsigned char *p = img->rgb + ((size_t)y * img->w + x) * 3;

	for (int i = 0; i < 3; i++)
		if (abs(p[i] - colours[c][i]) > tol)
			fail_msg("pixel (%u,%u) = %d,%d,%d, want colour %d", x, y, p[0], p[1], p[2], c);
}

/* The colours at the centres of img's four quadrants. */
static void
check_quads(const struct cr_image *img, int tl, int tr, int bl, int br, int tol)
{
	uint32_t x0 = img->w / 4, x1 = img->w * 3 / 4, y0 = img->h / 4, y1 = img->h * 3 / 4;

	pixel_near(img, x0, y0, tl, tol);
	pixel_near(img, x1, y0, tr, tol);
	pixel_near(img, x0, y1, bl, tol);
	pixel_near(img, x1, y1, br, tol);
}

/* ------------------------------------------------------------ EXIF */

static void
put16(unsigned char *p, uint16_t v, bool be)
{
	p[be ? 0 : 1] = (unsigned char)(v >> 8);
	p[be ? 1 : 0] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v, bool be)
{
	for (int i = 0; i < 4; i++)
		p[be ? i : 3 - i] = (unsigned char)(v >> (24 - 8 * i));
}

static void
entry(unsigned char *e, uint16_t tag, uint16_t type, uint32_t count, uint32_t value, bool be)
{
	put16(e, tag, be);
	put16(e + 2, type, be);
	put32(e + 4, count, be);
	if (type == 3 && count == 1) {
		memset(e + 8, 0, 4);
		put16(e + 8, (uint16_t)value, be);
	} else
		put32(e + 8, value, be);
}

/* An APP1 payload: "Exif\0\0", IFD0 {Orientation, GPSInfo -> GPS IFD {LatitudeRef "N", Latitude}}. */
static size_t
exif_app1(unsigned char *out, int orientation, bool be)
{
	unsigned char *t = out + 6;

	memset(out, 0, 6 + 92);
	memcpy(out, "Exif\0\0", 6);
	memcpy(t, be ? "MM" : "II", 2);
	put16(t + 2, 42, be);
	put32(t + 4, 8, be);
	put16(t + 8, 2, be);
	entry(t + 10, 0x0112, 3, 1, (uint32_t)orientation, be);
	entry(t + 22, 0x8825, 4, 1, 38, be);
	put32(t + 34, 0, be);
	put16(t + 38, 2, be);
	entry(t + 40, 0x0001, 2, 2, 0, be);
	memcpy(t + 48, "N\0\0\0", 4);
	entry(t + 52, 0x0002, 5, 3, 68, be);
	put32(t + 64, 0, be);
	put32(t + 68, 52, be), put32(t + 72, 1, be);
	put32(t + 76, 30, be), put32(t + 80, 1, be);
	put32(t + 84, 0, be), put32(t + 88, 1, be);
	return 6 + 92;
}

/* ------------------------------------------------------------ JPEG */

struct jpeg_spec {
	uint32_t w, h;
	int comps;           /* 1 grey, 3 RGB, 4 CMYK */
	int quality;
	bool progressive;
	int orientation;     /* 0: no EXIF */
	bool exif_be;
};

static void
make_jpeg(const struct jpeg_spec *s, const unsigned char *px, struct mb *out)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *mem = NULL;
	unsigned long mem_len = 0;

	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &mem_len);
	ci.image_width = s->w;
	ci.image_height = s->h;
	ci.input_components = s->comps;
	ci.in_color_space = s->comps == 1 ? JCS_GRAYSCALE : s->comps == 4 ? JCS_CMYK : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, s->quality ? s->quality : 90, TRUE);
	if (s->progressive)
		jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	if (s->orientation != 0) {
		unsigned char app1[128];
		size_t n = exif_app1(app1, s->orientation, s->exif_be);

		jpeg_write_marker(&ci, JPEG_APP0 + 1, app1, (unsigned)n);
	}
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * s->w * (size_t)s->comps);

		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	memset(out, 0, sizeof(*out));
	mb_add(out, mem, mem_len);
	free(mem);
}

static void
quads_jpeg(uint32_t w, uint32_t h, int orientation, bool be, struct mb *out)
{
	struct jpeg_spec s = {w, h, 3, 90, false, orientation, be};
	unsigned char *px = quads(w, h);

	make_jpeg(&s, px, out);
	free(px);
}

/* True when a JPEG holds a marker FF m (entropy-coded data stuffs FF as FF 00, so a scan is exact). */
static bool
has_marker(const unsigned char *p, size_t n, unsigned char m)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == 0xff && p[i + 1] == m)
			return true;
	return false;
}

static bool
has_bytes(const unsigned char *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, s, k) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ PNG */

struct png_spec {
	uint32_t w, h;
	int type, depth;
	bool interlace;
	const png_color *pal;
	int npal;
	const png_byte *trans;
	int ntrans;
	bool text;       /* add a tEXt chunk */
	int orientation; /* 0: no eXIf */
};

static void
png_put(png_structp p, png_bytep d, size_t n)
{
	mb_add(png_get_io_ptr(p), d, n);
}

static void
png_flush_none(png_structp p)
{
	(void)p;
}

/* px: rows of the file's own layout (16-bit samples big-endian), packed. */
static void
make_png(const struct png_spec *s, const unsigned char *px, struct mb *out)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	int ch = s->type == PNG_COLOR_TYPE_RGB ? 3 : s->type == PNG_COLOR_TYPE_RGBA ? 4
	         : s->type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
	size_t stride = (size_t)s->w * (size_t)ch * (size_t)(s->depth / 8);

	assert_non_null(info);
	memset(out, 0, sizeof(*out));
	if (setjmp(png_jmpbuf(png)))
		fail_msg("libpng write failed");
	png_set_write_fn(png, out, png_put, png_flush_none);
	png_set_IHDR(png, info, s->w, s->h, s->depth, s->type,
	    s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	    PNG_FILTER_TYPE_DEFAULT);
	if (s->pal != NULL)
		png_set_PLTE(png, info, s->pal, s->npal);
	if (s->trans != NULL)
		png_set_tRNS(png, info, s->trans, s->ntrans, NULL);
	if (s->text) {
		png_text t = {0};

		t.compression = PNG_TEXT_COMPRESSION_NONE;
		t.key = (png_charp) "Comment";
		t.text = (png_charp) "hello";
		png_set_text(png, info, &t, 1);
	}
	if (s->orientation != 0) {
		unsigned char app1[128];
		size_t n = exif_app1(app1, s->orientation, false);

		png_set_eXIf_1(png, info, (png_uint_32)(n - 6), app1 + 6);
	}
	png_write_info(png, info);
	{
		int passes = png_set_interlace_handling(png);

		for (int pass = 0; pass < passes; pass++)
			for (uint32_t y = 0; y < s->h; y++)
				png_write_row(png, px + stride * y);
	}
	/* NULL: libpng 1.6.39 would write eXIf a second time after the image data. */
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
}

static void
quads_png(uint32_t w, uint32_t h, bool interlace, struct mb *out)
{
	struct png_spec s = {w, h, PNG_COLOR_TYPE_RGB, 8, interlace, NULL, 0, NULL, 0, false, 0};
	unsigned char *px = quads(w, h);

	make_png(&s, px, out);
	free(px);
}

static uint32_t
crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static void
be32put(unsigned char *p, uint32_t v)
{
	put32(p, v, true);
}

/* Offset of the first chunk of this type in a PNG, or 0. */
static size_t
png_chunk(const struct mb *m, const char *type)
{
	size_t at = 8;

	while (at + 12 <= m->len) {
		uint32_t n = (uint32_t)m->p[at] << 24 | (uint32_t)m->p[at + 1] << 16 | (uint32_t)m->p[at + 2] << 8 |
		             m->p[at + 3];

		if (memcmp(m->p + at + 4, type, 4) == 0)
			return at;
		at += 12 + (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------------------ TIFF */

static tmsize_t
t_read(thandle_t h, void *d, tmsize_t n)
{
	struct mb *m = (struct mb *)h;
	size_t k = m->pos >= m->len ? 0 : m->len - m->pos;

	if ((size_t)n < k)
		k = (size_t)n;
	memcpy(d, m->p + m->pos, k);
	m->pos += k;
	return (tmsize_t)k;
}

static tmsize_t
t_write(thandle_t h, void *d, tmsize_t n)
{
	struct mb *m = (struct mb *)h;

	mb_write_at(m, m->pos, d, (size_t)n);
	m->pos += (size_t)n;
	return n;
}

static toff_t
t_seek(thandle_t h, toff_t off, int whence)
{
	struct mb *m = (struct mb *)h;

	if (whence == SEEK_SET)
		m->pos = (size_t)off;
	else if (whence == SEEK_CUR)
		m->pos += (size_t)(int64_t)off;
	else
		m->pos = m->len + (size_t)(int64_t)off;
	return m->pos;
}

static int
t_close(thandle_t h)
{
	(void)h;
	return 0;
}

static toff_t
t_size(thandle_t h)
{
	return ((struct mb *)h)->len;
}

static int
t_map(thandle_t h, void **b, toff_t *s)
{
	(void)h, (void)b, (void)s;
	return 0;
}

static void
t_unmap(thandle_t h, void *b, toff_t s)
{
	(void)h, (void)b, (void)s;
}

/* pages RGB pages of quads (the stored order), with this orientation tag (0: none). */
static void
make_tiff(uint32_t w, uint32_t h, int pages, int orientation, uint16_t compression, struct mb *out)
{
	unsigned char *px = quads(w, h);
	TIFF *t;

	memset(out, 0, sizeof(*out));
	t = TIFFClientOpen("mem", "w", (thandle_t)out, t_read, t_write, t_seek, t_close, t_size, t_map, t_unmap);
	assert_non_null(t);
	for (int p = 0; p < pages; p++) {
		TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
		TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
		TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
		TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
		TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
		TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
		TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
		if (orientation != 0)
			TIFFSetField(t, TIFFTAG_ORIENTATION, orientation);
		if (pages > 1) {
			TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
			TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
		}
		for (uint32_t y = 0; y < h; y++)
			assert_int_equal(TIFFWriteScanline(t, px + (size_t)y * w * 3, y, 0), 1);
		assert_int_equal(TIFFWriteDirectory(t), 1);
	}
	TIFFClose(t);
	free(px);
}

/* ------------------------------------------------------------ helpers */

static enum cr_image_verdict
decode(const struct mb *m, struct cr_image *img)
{
	static const struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;

	return cr_image_decode(m->p, m->len, &lim, img, NULL);
}

static void
expect(const void *buf, size_t len, const struct cr_image_limits *lim, enum cr_image_verdict want)
{
	struct cr_image img = {0};
	enum cr_image_verdict v = cr_image_decode(buf, len, lim, &img, NULL);

	if (v != want)
		fail_msg("verdict %s, want %s", cr_image_verdict_name(v), cr_image_verdict_name(want));
	if (v != CR_IMG_OK)
		assert_null(img.rgb);
	cr_image_free(&img);
}

/* ------------------------------------------------------------ tests */

static void
test_sniff_and_refusals(void **state)
{
	static const struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;
	struct cr_image_limits small = CR_IMAGE_LIMITS_DEFAULT;
	static const unsigned char heic[] = "\0\0\0\x18" "ftypheic\0\0\0\0mif1heic";
	static const unsigned char avif[] = "\0\0\0\x1c" "ftypavif\0\0\0\0avifmif1";
	static const unsigned char webp[] = "RIFF\x24\0\0\0WEBPVP8 ";
	static const unsigned char gif[] = "GIF89a\x01\0\x01\0\0\0\0";
	static const unsigned char pdf[] = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
	static const unsigned char bmp[] = "BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0";
	static const unsigned char mp4[] = "\0\0\0\x18" "ftypisom\0\0\0\0isomiso2";
	static const char text[] = "Dear officer,\nplease find my photo attached.\n";
	struct mb j;
	enum cr_image_format f;
	struct cr_image img;

	(void)state;
	assert_int_equal(cr_image_sniff("\xff\xd8\xff\xe0", 4), CR_IMG_FMT_JPEG);
	assert_int_equal(cr_image_sniff("\x89PNG\r\n\x1a\n", 8), CR_IMG_FMT_PNG);
	assert_int_equal(cr_image_sniff("\x89PNG\r\n\x1a", 7), CR_IMG_FMT_NONE);
	assert_int_equal(cr_image_sniff("II*\0", 4), CR_IMG_FMT_TIFF);
	assert_int_equal(cr_image_sniff("MM\0*", 4), CR_IMG_FMT_TIFF);
	assert_int_equal(cr_image_sniff(heic, sizeof(heic) - 1), CR_IMG_FMT_OTHER);
	assert_int_equal(cr_image_sniff(avif, sizeof(avif) - 1), CR_IMG_FMT_OTHER);
	assert_int_equal(cr_image_sniff(webp, sizeof(webp) - 1), CR_IMG_FMT_OTHER);
	assert_int_equal(cr_image_sniff(gif, sizeof(gif) - 1), CR_IMG_FMT_OTHER);
	assert_int_equal(cr_image_sniff(pdf, sizeof(pdf) - 1), CR_IMG_FMT_OTHER);
	assert_int_equal(cr_image_sniff(bmp, sizeof(bmp) - 1), CR_IMG_FMT_OTHER);
	assert_int_equal(cr_image_sniff(mp4, sizeof(mp4) - 1), CR_IMG_FMT_NONE);
	assert_int_equal(cr_image_sniff("BMW owners", 10), CR_IMG_FMT_NONE);
	assert_int_equal(cr_image_sniff(NULL, 0), CR_IMG_FMT_NONE);

	expect(heic, sizeof(heic) - 1, &lim, CR_IMG_UNSUPPORTED);
	expect(avif, sizeof(avif) - 1, &lim, CR_IMG_UNSUPPORTED);
	expect(webp, sizeof(webp) - 1, &lim, CR_IMG_UNSUPPORTED);
	expect(gif, sizeof(gif) - 1, &lim, CR_IMG_UNSUPPORTED);
	expect(pdf, sizeof(pdf) - 1, &lim, CR_IMG_UNSUPPORTED);
	expect(bmp, sizeof(bmp) - 1, &lim, CR_IMG_UNSUPPORTED);
	expect(text, sizeof(text) - 1, &lim, CR_IMG_NOT_IMAGE);
	expect(mp4, sizeof(mp4) - 1, &lim, CR_IMG_NOT_IMAGE);
	expect("", 0, &lim, CR_IMG_EMPTY);
	expect(NULL, 0, NULL, CR_IMG_EMPTY);
	/* Signatures alone, with nothing after them. */
	expect("\xff\xd8\xff", 3, &lim, CR_IMG_CORRUPT);
	expect("\x89PNG\r\n\x1a\n", 8, &lim, CR_IMG_CORRUPT);
	expect("II*\0", 4, &lim, CR_IMG_CORRUPT);

	/* Over max_bytes: refused by length before anything is read. */
	quads_jpeg(96, 64, 0, false, &j);
	small.max_bytes = j.len - 1;
	expect(j.p, j.len, &small, CR_IMG_TOO_BIG);
	small.max_bytes = j.len;
	expect(j.p, j.len, &small, CR_IMG_OK);
	assert_int_equal(cr_image_decode(j.p, j.len, NULL, &img, &f), CR_IMG_OK);
	assert_int_equal(f, CR_IMG_FMT_JPEG);
	cr_image_free(&img);
	cr_image_free(&img); /* twice: a no-op */
	cr_image_free(NULL);
	mb_free(&j);
}

static void
test_verdict_names(void **state)
{
	static const char *const want[] = {"ok", "empty", "too_big", "not_image", "unsupported", "too_many_pixels",
	    "too_small", "multi_page", "corrupt", "internal"};

	(void)state;
	for (int v = 0; v < CR_IMG_VERDICT_COUNT; v++)
		assert_string_equal(cr_image_verdict_name((enum cr_image_verdict)v), want[v]);
	assert_string_equal(cr_image_verdict_name((enum cr_image_verdict)99), "internal");
}

static void
test_jpeg_roundtrip(void **state)
{
	struct mb j;
	struct cr_image img = {0}, back = {0};
	unsigned char *out = NULL;
	size_t out_len = 0;

	(void)state;
	quads_jpeg(96, 64, 0, false, &j);
	assert_int_equal(decode(&j, &img), CR_IMG_OK);
	assert_int_equal(img.w, 96);
	assert_int_equal(img.h, 64);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 24);

	assert_int_equal(cr_image_encode_jpeg(&img, 10, &out, &out_len), CR_IMG_OK); /* clamped to 50 */
	assert_true(out_len > 100);
	/* SOI then APP0 "JFIF", and no other application marker, no comment. */
	assert_memory_equal(out, "\xff\xd8\xff\xe0", 4);
	assert_memory_equal(out + 6, "JFIF\0", 5);
	for (unsigned char m = 0xe1; m <= 0xef; m++)
		assert_false(has_marker(out, out_len, m));
	assert_false(has_marker(out, out_len, 0xfe));
	assert_false(has_marker(out, out_len, 0xc2)); /* baseline, not progressive */
	assert_int_equal(cr_image_decode(out, out_len, NULL, &back, NULL), CR_IMG_OK);
	assert_int_equal(back.w, 96);
	assert_int_equal(back.h, 64);
	check_quads(&back, RED, GREEN, BLUE, YELLOW, 32);
	free(out);
	cr_image_free(&back);

	assert_int_equal(cr_image_encode_jpeg(NULL, 90, &out, &out_len), CR_IMG_INTERNAL);
	assert_null(out);
	cr_image_free(&img);
	mb_free(&j);
}

static void
test_jpeg_variants(void **state)
{
	struct jpeg_spec s = {96, 64, 1, 90, false, 0, false};
	unsigned char *px = malloc(96 * 64 * 4);
	struct cr_image img = {0};
	struct mb j;

	(void)state;
	assert_non_null(px);
	/* Grey: comes out as RGB with equal channels. */
	memset(px, 200, 96 * 64);
	make_jpeg(&s, px, &j);
	assert_int_equal(decode(&j, &img), CR_IMG_OK);
	assert_true(abs(img.rgb[0] - 200) <= 2 && img.rgb[0] == img.rgb[1] && img.rgb[1] == img.rgb[2]);
	cr_image_free(&img);
	mb_free(&j);

	/* Progressive RGB. */
	free(px);
	px = quads(96, 64);
	s.comps = 3;
	s.progressive = true;
	make_jpeg(&s, px, &j);
	assert_true(has_marker(j.p, j.len, 0xc2));
	assert_int_equal(decode(&j, &img), CR_IMG_OK);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 24);
	cr_image_free(&img);
	mb_free(&j);
	free(px);

	/* CMYK: refused, not converted. */
	px = calloc(96 * 64, 4);
	assert_non_null(px);
	s.comps = 4;
	s.progressive = false;
	make_jpeg(&s, px, &j);
	expect(j.p, j.len, NULL, CR_IMG_UNSUPPORTED);
	mb_free(&j);
	free(px);
}

static void
test_jpeg_truncated_and_limits(void **state)
{
	struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;
	struct mb j;

	(void)state;
	quads_jpeg(200, 160, 0, false, &j);
	expect(j.p, j.len / 2, NULL, CR_IMG_CORRUPT);
	expect(j.p, j.len - 2, NULL, CR_IMG_CORRUPT); /* no EOI */
	/* Damaged entropy data in the middle of the scan. */
	for (size_t i = j.len / 2; i < j.len / 2 + 16; i++)
		j.p[i] = (unsigned char)(i * 37);
	expect(j.p, j.len, NULL, CR_IMG_CORRUPT);
	mb_free(&j);

	quads_jpeg(200, 160, 0, false, &j);
	lim.max_pixels = 200 * 160 - 1;
	expect(j.p, j.len, &lim, CR_IMG_TOO_MANY_PIXELS);
	lim.max_pixels = 200 * 160;
	expect(j.p, j.len, &lim, CR_IMG_OK);
	lim.max_side = 199;
	expect(j.p, j.len, &lim, CR_IMG_TOO_MANY_PIXELS);
	lim.max_side = 200;
	lim.min_side = 161;
	expect(j.p, j.len, &lim, CR_IMG_TOO_SMALL);
	mb_free(&j);

	quads_jpeg(10, 10, 0, false, &j);
	expect(j.p, j.len, NULL, CR_IMG_TOO_SMALL);
	mb_free(&j);
}

/* Decodes a 96 x 64 quads JPEG with this EXIF orientation; normalises it; checks both. */
static void
orientation_case(int o, bool be, uint32_t w, uint32_t h, int tl, int tr, int bl, int br)
{
	struct mb j;
	struct cr_image img = {0};
	unsigned char *out = NULL;
	size_t out_len = 0;
	uint32_t ow = 0, oh = 0;

	quads_jpeg(96, 64, o, be, &j);
	assert_true(has_marker(j.p, j.len, 0xe1));
	assert_true(has_bytes(j.p, j.len, "Exif"));
	assert_int_equal(decode(&j, &img), CR_IMG_OK);
	assert_int_equal(img.w, w);
	assert_int_equal(img.h, h);
	check_quads(&img, tl, tr, bl, br, 24);
	cr_image_free(&img);

	assert_int_equal(cr_image_normalise(j.p, j.len, NULL, &out, &out_len, &ow, &oh), CR_IMG_OK);
	assert_int_equal(ow, w);
	assert_int_equal(oh, h);
	assert_false(has_marker(out, out_len, 0xe1));
	assert_false(has_bytes(out, out_len, "Exif"));
	assert_int_equal(cr_image_decode(out, out_len, NULL, &img, NULL), CR_IMG_OK);
	check_quads(&img, tl, tr, bl, br, 32);
	cr_image_free(&img);
	free(out);
	mb_free(&j);
}

static void
test_jpeg_exif_orientation(void **state)
{
	(void)state;
	orientation_case(1, false, 96, 64, RED, GREEN, BLUE, YELLOW);
	orientation_case(6, false, 64, 96, BLUE, RED, YELLOW, GREEN); /* 90 clockwise */
	orientation_case(6, true, 64, 96, BLUE, RED, YELLOW, GREEN);
	orientation_case(3, true, 96, 64, YELLOW, BLUE, GREEN, RED);  /* 180 */
	orientation_case(8, false, 64, 96, GREEN, YELLOW, RED, BLUE); /* 90 counter-clockwise */
	orientation_case(2, false, 96, 64, GREEN, RED, YELLOW, BLUE); /* mirrored */
	orientation_case(4, true, 96, 64, BLUE, YELLOW, RED, GREEN);
	orientation_case(5, false, 64, 96, RED, BLUE, GREEN, YELLOW); /* transposed */
	orientation_case(7, false, 64, 96, YELLOW, GREEN, BLUE, RED);
}

static void
test_exif_parser(void **state)
{
	unsigned char a[128], b[600];
	size_t n;

	(void)state;
	n = exif_app1(a, 6, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 6);
	n = exif_app1(a, 8, true);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 8);
	/* IFD0 ends at 8 + 2 + 24: anything shorter loses the entries. */
	assert_int_equal(cr_exif_orientation(a + 6, 34), 8);
	assert_int_equal(cr_exif_orientation(a + 6, 33), 1);
	assert_int_equal(cr_exif_orientation(a + 6, 7), 1);
	assert_int_equal(cr_exif_orientation(NULL, 100), 1);
	/* Out-of-range value, wrong type, wrong count, bad magic, bad offsets, huge count. */
	n = exif_app1(a, 9, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	n = exif_app1(a, 0, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	n = exif_app1(a, 6, false);
	entry(a + 6 + 10, 0x0112, 4, 1, 6, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	entry(a + 6 + 10, 0x0112, 3, 2, 6, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	n = exif_app1(a, 6, false);
	a[6 + 2] = 43;
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	n = exif_app1(a, 6, false);
	put32(a + 6 + 4, (uint32_t)(n - 6 - 1), false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	put32(a + 6 + 4, 0xfffffffeu, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	put32(a + 6 + 4, 4, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	n = exif_app1(a, 6, false);
	put16(a + 6 + 8, 0xffff, false);
	assert_int_equal(cr_exif_orientation(a + 6, n - 6), 1);
	/* 257 entries: over the cap even when they all fit. */
	memset(b, 0, sizeof(b));
	memcpy(b, "II*\0\x08\0\0\0", 8);
	put16(b + 8, 257, false);
	assert_int_equal(cr_exif_orientation(b, sizeof(b)), 1);
	/* The tag as the last of many entries. */
	put16(b + 8, 40, false);
	entry(b + 10 + 39 * 12, 0x0112, 3, 1, 3, false);
	assert_int_equal(cr_exif_orientation(b, 10 + 40 * 12), 3);
	assert_int_equal(cr_exif_orientation(b, 10 + 40 * 12 - 1), 1);
}

static void
test_png_variants(void **state)
{
	static const png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};
	static const png_byte trans[4] = {255, 255, 255, 0};
	struct png_spec s = {64, 64, PNG_COLOR_TYPE_RGB, 8, false, NULL, 0, NULL, 0, true, 0};
	unsigned char *px = malloc(64 * 64 * 8);
	struct cr_image img = {0};
	struct mb p;

	(void)state;
	assert_non_null(px);
	quads_png(64, 64, false, &p);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 0);
	cr_image_free(&img);
	mb_free(&p);
	quads_png(64, 64, true, &p); /* Adam7 */
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 0);
	cr_image_free(&img);
	mb_free(&p);

	/* RGBA, with a text chunk: opaque red, clear (-> white), half-transparent black (-> mid grey). */
	s.type = PNG_COLOR_TYPE_RGBA;
	for (int i = 0; i < 64 * 64; i++) {
		int x = i % 64;
		unsigned char *q = px + 4 * i;

		q[0] = x < 32 ? 255 : 0, q[1] = 0, q[2] = 0;
		q[3] = x < 32 ? 255 : x < 48 ? 0 : 128;
	}
	make_png(&s, px, &p);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	pixel_near(&img, 10, 10, RED, 0);
	pixel_near(&img, 40, 10, WHITE, 0);
	assert_true(abs(img.rgb[(10 * 64 + 56) * 3] - 127) <= 1);
	cr_image_free(&img);
	mb_free(&p);

	/* Palette with a transparent entry (yellow -> white). */
	s.type = PNG_COLOR_TYPE_PALETTE;
	s.pal = pal, s.npal = 4, s.trans = trans, s.ntrans = 4;
	for (int i = 0; i < 64 * 64; i++)
		px[i] = (unsigned char)(((i / 64) >= 32) * 2 + ((i % 64) >= 32));
	make_png(&s, px, &p);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	check_quads(&img, RED, GREEN, BLUE, WHITE, 0);
	cr_image_free(&img);
	mb_free(&p);
	s.pal = NULL, s.npal = 0, s.trans = NULL, s.ntrans = 0;

	/* Grey, 8 and 16 bits: a ramp 4x across. */
	s.type = PNG_COLOR_TYPE_GRAY;
	for (int i = 0; i < 64 * 64; i++)
		px[i] = (unsigned char)(4 * (i % 64));
	make_png(&s, px, &p);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	for (int x = 0; x < 64; x++)
		assert_true(img.rgb[3 * (64 * 5 + x)] == 4 * x && img.rgb[3 * (64 * 5 + x) + 2] == 4 * x);
	cr_image_free(&img);
	mb_free(&p);
	s.depth = 16;
	for (int i = 0; i < 64 * 64; i++)
		px[2 * i] = (unsigned char)(4 * (i % 64)), px[2 * i + 1] = 0x80;
	make_png(&s, px, &p);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	for (int x = 0; x < 64; x++)
		assert_true(abs(img.rgb[3 * (64 * 7 + x) + 1] - 4 * x) <= 1);
	cr_image_free(&img);
	mb_free(&p);

	/* RGB, 16 bits. */
	s.type = PNG_COLOR_TYPE_RGB;
	for (int i = 0; i < 64 * 64 * 3; i++)
		px[2 * i] = (i % 3) == 1 ? 0xff : 0, px[2 * i + 1] = (i % 3) == 1 ? 0xff : 0;
	make_png(&s, px, &p);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	pixel_near(&img, 33, 33, GREEN, 0);
	cr_image_free(&img);
	mb_free(&p);
	free(px);
}

static void
test_png_exif_orientation(void **state)
{
	struct png_spec s = {96, 64, PNG_COLOR_TYPE_RGB, 8, false, NULL, 0, NULL, 0, false, 8};
	unsigned char *px = quads(96, 64);
	struct cr_image img = {0};
	struct mb p;

	(void)state;
	make_png(&s, px, &p);
	assert_true(png_chunk(&p, "eXIf") != 0);
	assert_int_equal(decode(&p, &img), CR_IMG_OK);
	assert_int_equal(img.w, 64);
	assert_int_equal(img.h, 96);
	check_quads(&img, GREEN, YELLOW, RED, BLUE, 0);
	cr_image_free(&img);
	mb_free(&p);
	free(px);
}

static void
test_png_bomb(void **state)
{
	unsigned char f[8 + 25 + 12 + 12];
	struct timespec t0, t1;
	double ms;

	(void)state;
	memcpy(f, "\x89PNG\r\n\x1a\n", 8);
	be32put(f + 8, 13);
	memcpy(f + 12, "IHDR", 4);
	be32put(f + 16, 100000);
	be32put(f + 20, 100000);
	memcpy(f + 24, "\x08\x02\0\0\0", 5); /* 8-bit RGB */
	be32put(f + 29, crc32_png(f + 12, 17));
	/* An empty IDAT and IEND, each with its CRC. */
	be32put(f + 33, 0);
	memcpy(f + 37, "IDAT", 4);
	be32put(f + 41, crc32_png(f + 37, 4));
	be32put(f + 45, 0);
	memcpy(f + 49, "IEND", 4);
	be32put(f + 53, crc32_png(f + 49, 4));
	assert_int_equal(crc32_png((const unsigned char *)"IEND", 4), 0xae426082u);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect(f, sizeof(f), NULL, CR_IMG_TOO_MANY_PIXELS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms < 50);
	/* One side alone over max_side, few pixels. */
	be32put(f + 16, 20000);
	be32put(f + 20, 64);
	be32put(f + 29, crc32_png(f + 12, 17));
	expect(f, sizeof(f), NULL, CR_IMG_TOO_MANY_PIXELS);
	/* A plausible size but no pixel data: corrupt. */
	be32put(f + 16, 64);
	be32put(f + 29, crc32_png(f + 12, 17));
	expect(f, sizeof(f), NULL, CR_IMG_CORRUPT);
}

static void
test_png_crc(void **state)
{
	struct png_spec s = {64, 64, PNG_COLOR_TYPE_RGB, 8, false, NULL, 0, NULL, 0, true, 0};
	unsigned char *px = quads(64, 64);
	struct mb p;
	size_t at;

	(void)state;
	make_png(&s, px, &p);
	expect(p.p, p.len, NULL, CR_IMG_OK);
	/* A flipped byte inside IDAT: its CRC no longer matches. */
	at = png_chunk(&p, "IDAT");
	assert_true(at != 0);
	p.p[at + 8 + 3] ^= 0x01;
	expect(p.p, p.len, NULL, CR_IMG_CORRUPT);
	p.p[at + 8 + 3] ^= 0x01;
	/* IHDR's CRC. */
	p.p[8 + 8 + 13] ^= 0x80;
	expect(p.p, p.len, NULL, CR_IMG_CORRUPT);
	p.p[8 + 8 + 13] ^= 0x80;
	/* An ancillary chunk we skip unread still has its CRC checked. */
	at = png_chunk(&p, "tEXt");
	assert_true(at != 0);
	p.p[at + 8] ^= 0x20;
	expect(p.p, p.len, NULL, CR_IMG_CORRUPT);
	p.p[at + 8] ^= 0x20;
	expect(p.p, p.len, NULL, CR_IMG_OK);
	/* Truncated anywhere after the header. */
	expect(p.p, p.len - 12, NULL, CR_IMG_CORRUPT); /* no IEND */
	expect(p.p, p.len / 2, NULL, CR_IMG_CORRUPT);
	expect(p.p, 40, NULL, CR_IMG_CORRUPT);
	mb_free(&p);

	quads_png(10, 10, false, &p);
	expect(p.p, p.len, NULL, CR_IMG_TOO_SMALL);
	mb_free(&p);
	free(px);
}

static void
test_tiff(void **state)
{
	struct cr_image img = {0};
	struct mb t;

	(void)state;
	make_tiff(96, 64, 1, 0, COMPRESSION_NONE, &t);
	assert_memory_equal(t.p, "II*\0", 4);
	assert_int_equal(decode(&t, &img), CR_IMG_OK);
	assert_int_equal(img.w, 96);
	assert_int_equal(img.h, 64);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 0);
	pixel_near(&img, 0, 0, RED, 0);
	pixel_near(&img, 95, 63, YELLOW, 0);
	cr_image_free(&img);
	mb_free(&t);

	make_tiff(96, 64, 1, 0, COMPRESSION_LZW, &t);
	assert_int_equal(decode(&t, &img), CR_IMG_OK);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 0);
	cr_image_free(&img);
	expect(t.p, t.len / 2, NULL, CR_IMG_CORRUPT);
	mb_free(&t);

	make_tiff(96, 64, 2, 0, COMPRESSION_NONE, &t);
	expect(t.p, t.len, NULL, CR_IMG_MULTI_PAGE);
	mb_free(&t);

	make_tiff(10, 10, 1, 0, COMPRESSION_NONE, &t);
	expect(t.p, t.len, NULL, CR_IMG_TOO_SMALL);
	mb_free(&t);
}

static void
tiff_orientation_case(int o, uint32_t w, uint32_t h, int tl, int tr, int bl, int br)
{
	struct cr_image img = {0};
	struct mb t;

	make_tiff(96, 64, 1, o, COMPRESSION_NONE, &t);
	assert_int_equal(decode(&t, &img), CR_IMG_OK);
	assert_int_equal(img.w, w);
	assert_int_equal(img.h, h);
	check_quads(&img, tl, tr, bl, br, 0);
	cr_image_free(&img);
	mb_free(&t);
}

static void
test_tiff_orientation(void **state)
{
	(void)state;
	tiff_orientation_case(1, 96, 64, RED, GREEN, BLUE, YELLOW);
	tiff_orientation_case(2, 96, 64, GREEN, RED, YELLOW, BLUE);
	tiff_orientation_case(3, 96, 64, YELLOW, BLUE, GREEN, RED);
	tiff_orientation_case(4, 96, 64, BLUE, YELLOW, RED, GREEN);
	tiff_orientation_case(5, 64, 96, RED, BLUE, GREEN, YELLOW);
	tiff_orientation_case(6, 64, 96, BLUE, RED, YELLOW, GREEN);
	tiff_orientation_case(7, 64, 96, YELLOW, GREEN, BLUE, RED);
	tiff_orientation_case(8, 64, 96, GREEN, YELLOW, RED, BLUE);
}

static void
test_resize(void **state)
{
	unsigned char row[9] = {0, 0, 0, 90, 90, 90, 180, 180, 180};
	unsigned char two[6] = {0, 0, 0, 255, 255, 255};
	struct cr_image src = {3, 1, row}, out = {0}, q = {0};

	(void)state;
	/* Area: output 0 covers [0, 1.5): (0 + 90 / 2) / 1.5 = 30; output 1: (90 / 2 + 180) / 1.5 = 150. */
	assert_int_equal(cr_image_resize(&src, 2, 1, &out), CR_IMG_OK);
	assert_int_equal(out.rgb[0], 30);
	assert_int_equal(out.rgb[3], 150);
	cr_image_free(&out);
	assert_int_equal(cr_image_resize(&src, 1, 1, &out), CR_IMG_OK);
	assert_int_equal(out.rgb[0], 90);
	cr_image_free(&out);
	/* Same size: identity. */
	assert_int_equal(cr_image_resize(&src, 3, 1, &out), CR_IMG_OK);
	assert_memory_equal(out.rgb, row, 9);
	cr_image_free(&out);
	/* Bilinear, centres aligned: 0, 63.75, 191.25, 255. */
	src = (struct cr_image){2, 1, two};
	assert_int_equal(cr_image_resize(&src, 4, 1, &out), CR_IMG_OK);
	assert_int_equal(out.rgb[0], 0);
	assert_int_equal(out.rgb[3], 64);
	assert_int_equal(out.rgb[6], 191);
	assert_int_equal(out.rgb[9], 255);
	cr_image_free(&out);
	/* Vertically too (1 x 2 -> 1 x 4). */
	src = (struct cr_image){1, 2, two};
	assert_int_equal(cr_image_resize(&src, 1, 4, &out), CR_IMG_OK);
	assert_int_equal(out.rgb[3], 64);
	assert_int_equal(out.rgb[6], 191);
	cr_image_free(&out);

	/* Quadrants 96 x 64 -> 2 x 2: each output pixel is one quadrant's colour exactly. */
	q.w = 96, q.h = 64, q.rgb = quads(96, 64);
	assert_int_equal(cr_image_resize(&q, 2, 2, &out), CR_IMG_OK);
	pixel_near(&out, 0, 0, RED, 0);
	pixel_near(&out, 1, 0, GREEN, 0);
	pixel_near(&out, 0, 1, BLUE, 0);
	pixel_near(&out, 1, 1, YELLOW, 0);
	cr_image_free(&out);
	/* -> 3 x 1: the middle column averages red+green over the top half and blue+yellow below. */
	assert_int_equal(cr_image_resize(&q, 3, 1, &out), CR_IMG_OK);
	assert_int_equal(out.rgb[3], 128);     /* (255 / 2 + 0 / 2 + 0 / 2 + 255 / 2) / 2 */
	assert_int_equal(out.rgb[4], 128);
	assert_int_equal(out.rgb[5], 64);
	cr_image_free(&out);
	/* Shrink one axis, grow the other. */
	assert_int_equal(cr_image_resize(&q, 2, 128, &out), CR_IMG_OK);
	pixel_near(&out, 0, 10, RED, 0);
	pixel_near(&out, 1, 120, YELLOW, 0);
	cr_image_free(&out);

	assert_int_equal(cr_image_resize(&q, 0, 10, &out), CR_IMG_INTERNAL);
	assert_null(out.rgb);
	assert_int_equal(cr_image_resize(&q, 16385, 10, &out), CR_IMG_TOO_MANY_PIXELS);
	assert_int_equal(cr_image_resize(NULL, 10, 10, &out), CR_IMG_INTERNAL);
	cr_image_free(&q);
}

static void
test_normalise_scale(void **state)
{
	struct jpeg_spec s = {3000, 2000, 3, 50, false, 0, false};
	struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;
	unsigned char *px = quads(3000, 2000), *out = NULL;
	size_t out_len = 0;
	uint32_t w = 0, h = 0;
	struct cr_image img = {0};
	struct mb j;

	(void)state;
	make_jpeg(&s, px, &j);
	free(px);
	/* 2000 * 1600 / 3000 = 1066.67, rounded to the nearest: 1067. */
	assert_int_equal(cr_image_normalise(j.p, j.len, NULL, &out, &out_len, &w, &h), CR_IMG_OK);
	assert_int_equal(w, 1600);
	assert_int_equal(h, 1067);
	assert_int_equal(cr_image_decode(out, out_len, NULL, &img, NULL), CR_IMG_OK);
	assert_int_equal(img.w, 1600);
	assert_int_equal(img.h, 1067);
	check_quads(&img, RED, GREEN, BLUE, YELLOW, 32);
	cr_image_free(&img);
	free(out);
	mb_free(&j);

	/* Portrait, and never scaled up. */
	px = quads(300, 500);
	s.w = 300, s.h = 500;
	make_jpeg(&s, px, &j);
	free(px);
	lim.out_max_side = 250;
	assert_int_equal(cr_image_normalise(j.p, j.len, &lim, &out, &out_len, &w, &h), CR_IMG_OK);
	assert_int_equal(w, 150);
	assert_int_equal(h, 250);
	free(out);
	lim.out_max_side = 1600;
	assert_int_equal(cr_image_normalise(j.p, j.len, &lim, &out, &out_len, &w, &h), CR_IMG_OK);
	assert_int_equal(w, 300);
	assert_int_equal(h, 500);
	free(out);
	/* Refusals leave the outputs empty. */
	assert_int_equal(cr_image_normalise(j.p, j.len / 2, &lim, &out, &out_len, &w, &h), CR_IMG_CORRUPT);
	assert_null(out);
	assert_int_equal(out_len, 0);
	assert_int_equal(w, 0);
	mb_free(&j);
}

/* ------------------------------------------------------------ fuzz seeds */

static void
seed(const char *dir, const char *name, const struct mb *m)
{
	char path[512];
	FILE *f;

	assert_true(m->len < 2048);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(m->p, 1, m->len, f), m->len);
	assert_int_equal(fclose(f), 0);
}

static void
test_write_seeds(void **state)
{
	static const png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};
	static const png_byte trans[4] = {255, 255, 255, 0};
	const char *dir = getenv("CR_IMAGE_SEEDS");
	struct jpeg_spec js = {24, 16, 3, 75, true, 0, false};
	struct png_spec ps = {16, 12, PNG_COLOR_TYPE_PALETTE, 8, false, pal, 4, trans, 4, true, 6};
	unsigned char *px;
	struct mb m;

	(void)state;
	if (dir == NULL)
		skip();
	quads_jpeg(24, 16, 6, false, &m);
	seed(dir, "exif6.jpg", &m);
	mb_free(&m);
	px = quads(24, 16);
	make_jpeg(&js, px, &m);
	seed(dir, "progressive.jpg", &m);
	mb_free(&m);
	free(px);
	px = malloc(16 * 16);
	assert_non_null(px);
	memset(px, 99, 16 * 16);
	js = (struct jpeg_spec){16, 16, 1, 75, false, 3, true};
	make_jpeg(&js, px, &m);
	seed(dir, "grey-exif3.jpg", &m);
	mb_free(&m);
	for (int i = 0; i < 16 * 12; i++)
		px[i] = (unsigned char)(i % 4);
	make_png(&ps, px, &m);
	seed(dir, "palette-trns-exif6.png", &m);
	mb_free(&m);
	free(px);
	quads_png(16, 12, true, &m);
	seed(dir, "rgb-interlaced.png", &m);
	mb_free(&m);
	make_tiff(16, 12, 1, 6, COMPRESSION_NONE, &m);
	seed(dir, "rgb-orient6.tif", &m);
	mb_free(&m);
	make_tiff(16, 12, 1, 0, COMPRESSION_LZW, &m);
	seed(dir, "rgb-lzw.tif", &m);
	mb_free(&m);
	make_tiff(8, 8, 2, 0, COMPRESSION_NONE, &m);
	seed(dir, "two-pages.tif", &m);
	mb_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sniff_and_refusals),
	    cmocka_unit_test(test_verdict_names),
	    cmocka_unit_test(test_jpeg_roundtrip),
	    cmocka_unit_test(test_jpeg_variants),
	    cmocka_unit_test(test_jpeg_truncated_and_limits),
	    cmocka_unit_test(test_jpeg_exif_orientation),
	    cmocka_unit_test(test_exif_parser),
	    cmocka_unit_test(test_png_variants),
	    cmocka_unit_test(test_png_exif_orientation),
	    cmocka_unit_test(test_png_bomb),
	    cmocka_unit_test(test_png_crc),
	    cmocka_unit_test(test_tiff),
	    cmocka_unit_test(test_tiff_orientation),
	    cmocka_unit_test(test_resize),
	    cmocka_unit_test(test_normalise_scale),
	    cmocka_unit_test(test_write_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
