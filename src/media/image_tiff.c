/*
 * TIFF through libtiff, over a read-only memory buffer (TIFFClientOpenExt with
 * read, seek and size procedures; writing and mapping are refused). libtiff's
 * process-wide error and warning handlers print to stderr, so they are
 * switched off once (pthread_once); each file gets its own handlers through
 * TIFFOpenOptions, which record what happened without printing.
 *
 * Order: open (reads the first directory), refuse a second directory
 * (CR_IMG_MULTI_PAGE), check the size tags against the limits, refuse
 * compressions outside a short list of common ones (less decoder surface),
 * then decode through libtiff's RGBA interface. Any libtiff error is
 * CR_IMG_CORRUPT, and so is a warning while pixels are decoded; warnings while
 * the directory is read (an unknown private tag, a string without its NUL;
 * common in scanner output and harmless to pixels) are tolerated.
 *
 * Orientation: TIFFReadRGBAImageOriented is asked for the file's own
 * orientation, which makes it copy rows in stored order with no flip (it can
 * flip but not transpose, so it cannot do 5..8 itself); cr_img_orient then
 * applies the tag, as for JPEG. tests/unit/test_image.c checks corners for 3
 * and 6.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "media/image_int.h"

struct mem {
	const unsigned char *buf;
	uint64_t len, pos;
	int errors, warnings;
};

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

static void
handlers_off(void)
{
	(void)TIFFSetErrorHandler(NULL);
	(void)TIFFSetWarningHandler(NULL);
}

static int
on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
	struct mem *m = user;

	(void)tif, (void)module, (void)fmt, (void)ap;
	m->errors++;
	return 1; /* handled: the process-wide handler is not called */
}

static int
on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
	struct mem *m = user;

	(void)tif, (void)module, (void)fmt, (void)ap;
	m->warnings++;
	return 1;
}

static tmsize_t
mem_read(thandle_t h, void *out, tmsize_t n)
{
	struct mem *m = (struct mem *)h;
	uint64_t left = m->len - m->pos;

	if (n <= 0)
		return 0;
	if ((uint64_t)n > left)
		n = (tmsize_t)left;
	memcpy(out, m->buf + m->pos, (size_t)n);
	m->pos += (uint64_t)n;
	return n;
}

static tmsize_t
mem_write(thandle_t h, void *p, tmsize_t n)
{
	(void)h, (void)p, (void)n;
	return 0;
}

/* Positions stay within [0, len]: a seek past the end is a failure, not a hole. */
static toff_t
mem_seek(thandle_t h, toff_t off, int whence)
{
	struct mem *m = (struct mem *)h;
	uint64_t base;

	switch (whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = m->pos; break;
	case SEEK_END: base = m->len; break;
	default: return (toff_t)-1;
	}
	/* off is unsigned; SEEK_CUR/SEEK_END may move back by a negative value cast to toff_t. */
	if ((int64_t)off < 0) {
		uint64_t back = (uint64_t)0 - off;

		if (back > base)
			return (toff_t)-1;
		m->pos = base - back;
	} else {
		if (off > m->len - base)
			return (toff_t)-1;
		m->pos = base + off;
	}
	return m->pos;
}

static int
mem_close(thandle_t h)
{
	(void)h;
	return 0;
}

static toff_t
mem_size(thandle_t h)
{
	return ((struct mem *)h)->len;
}

static int
mem_map(thandle_t h, void **base, toff_t *size)
{
	(void)h, (void)base, (void)size;
	return 0;
}

static void
mem_unmap(thandle_t h, void *base, toff_t size)
{
	(void)h, (void)base, (void)size;
}

static int
compression_ok(TIFF *tif)
{
	uint16_t c = COMPRESSION_NONE;

	(void)TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &c);
	switch (c) {
	case COMPRESSION_NONE:
	case COMPRESSION_LZW:
	case COMPRESSION_ADOBE_DEFLATE:
	case COMPRESSION_DEFLATE:
	case COMPRESSION_PACKBITS:
	case COMPRESSION_JPEG:
		return 1;
	default:
		return 0;
	}
}

/* ABGR words (TIFFGet[RGBA]) to RGB on white; libtiff hands alpha premultiplied. */
static void
flatten(const uint32_t *px, unsigned char *rgb, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned a = TIFFGetA(px[i]), back = 255u - a;
		unsigned r = TIFFGetR(px[i]) + back, g = TIFFGetG(px[i]) + back, b = TIFFGetB(px[i]) + back;

		rgb[3 * i] = (unsigned char)(r > 255 ? 255 : r);
		rgb[3 * i + 1] = (unsigned char)(g > 255 ? 255 : g);
		rgb[3 * i + 2] = (unsigned char)(b > 255 ? 255 : b);
	}
}

static enum cr_image_verdict
decode_open(TIFF *tif, struct mem *m, const struct cr_image_limits *lim, struct cr_image *out)
{
	uint32_t w = 0, h = 0, *px = NULL;
	uint16_t orient = ORIENTATION_TOPLEFT;
	char emsg[1024];
	enum cr_image_verdict v;

	if (m->errors != 0)
		return CR_IMG_CORRUPT;
	if (TIFFNumberOfDirectories(tif) > 1)
		return CR_IMG_MULTI_PAGE;
	if (m->errors != 0)
		return CR_IMG_CORRUPT;
	if (TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) != 1 || TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) != 1)
		return CR_IMG_CORRUPT;
	if ((v = cr_img_check_dims(w, h, lim)) != CR_IMG_OK)
		return v;
	if (!compression_ok(tif))
		return CR_IMG_UNSUPPORTED;
	if (!TIFFRGBAImageOK(tif, emsg))
		return CR_IMG_UNSUPPORTED;
	(void)TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orient);
	if (orient < 1 || orient > 8)
		orient = ORIENTATION_TOPLEFT;
	if ((px = malloc((size_t)w * h * 4)) == NULL)
		return CR_IMG_INTERNAL;
	m->warnings = 0;
	if (TIFFReadRGBAImageOriented(tif, w, h, px, orient, 1) != 1 || m->errors != 0 || m->warnings != 0) {
		free(px);
		return CR_IMG_CORRUPT;
	}
	/* RGB is 3/4 of the words' size; converting into a fresh buffer keeps this simple. */
	if ((out->rgb = malloc((size_t)w * h * 3)) == NULL) {
		free(px);
		return CR_IMG_INTERNAL;
	}
	flatten(px, out->rgb, (size_t)w * h);
	free(px);
	out->w = w;
	out->h = h;
	if ((v = cr_img_orient(out, orient)) != CR_IMG_OK)
		cr_image_free(out);
	return v;
}

enum cr_image_verdict
cr_img_tiff_decode(const unsigned char *buf, size_t len, const struct cr_image_limits *lim, struct cr_image *out)
{
	struct mem m = {buf, len, 0, 0, 0};
	TIFFOpenOptions *opts;
	TIFF *tif;
	enum cr_image_verdict v;
	uint64_t cap;

	(void)pthread_once(&handlers_once, handlers_off);
	if ((opts = TIFFOpenOptionsAlloc()) == NULL)
		return CR_IMG_INTERNAL;
	/* No single libtiff allocation beyond a 16-bit RGBA image of the limits (strips, tiles). */
	cap = lim->max_pixels > (UINT64_C(1) << 40) ? (UINT64_C(1) << 43) : lim->max_pixels * 8;
	TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(cap + (UINT64_C(1) << 20)));
	TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &m);
	TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &m);
	/* "m": never map the buffer (libtiff would decode strips in place). */
	tif = TIFFClientOpenExt("upload", "rm", (thandle_t)&m, mem_read, mem_write, mem_seek, mem_close, mem_size,
	    mem_map, mem_unmap, opts);
	TIFFOpenOptionsFree(opts);
	if (tif == NULL)
		return CR_IMG_CORRUPT;
	v = decode_open(tif, &m, lim, out);
	TIFFClose(tif);
	return v;
}
