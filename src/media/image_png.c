/*
 * PNG through libpng, from memory. The IHDR's size is read from the bytes and
 * checked against the limits before libpng is even set up; libpng is then
 * given the same limits (png_set_user_limits) and a small cap on ancillary
 * chunk memory (compressed text, ICC profiles). Errors leave through
 * setjmp/longjmp; benign errors are errors, a bad CRC on any chunk is an error,
 * and any remaining warning makes the file CR_IMG_CORRUPT. Colour-management
 * and text chunks are skipped unread (their CRC is still checked): we apply no
 * gamma or profile, and skipping them avoids libpng's warnings about broken
 * but harmless profiles. Everything is expanded to 8-bit RGBA and composited
 * on white. An eXIf chunk's orientation is applied like a JPEG's.
 *
 * State that changes after setjmp lives in a struct reached through a pointer.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "media/image_int.h"

#define CHUNK_MALLOC_MAX (1u << 20)

/* Ancillary chunks read as unknown and dropped: colour management, text, time, layout. */
static const png_byte skip_chunks[] = {
    'b', 'K', 'G', 'D', '\0', 'c', 'H', 'R', 'M', '\0', 'g', 'A', 'M', 'A', '\0', 'h', 'I', 'S', 'T', '\0',
    'i', 'C', 'C', 'P', '\0', 'i', 'T', 'X', 't', '\0', 'o', 'F', 'F', 's', '\0', 'p', 'C', 'A', 'L', '\0',
    'p', 'H', 'Y', 's', '\0', 's', 'B', 'I', 'T', '\0', 's', 'C', 'A', 'L', '\0', 's', 'P', 'L', 'T', '\0',
    's', 'R', 'G', 'B', '\0', 's', 'T', 'E', 'R', '\0', 't', 'E', 'X', 't', '\0', 't', 'I', 'M', 'E', '\0',
    'z', 'T', 'X', 't', '\0',
};

struct dec {
	png_structp png;
	png_infop info;
	const unsigned char *buf;
	size_t len, pos;
	const struct cr_image_limits *lim;
	unsigned char *px;     /* RGBA, then RGB in place */
	png_bytep *rows;
	int warned;
};

static void
on_error(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
	struct dec *d = png_get_error_ptr(png);

	(void)msg;
	d->warned = 1;
}

static void
on_read(png_structp png, png_bytep out, size_t n)
{
	struct dec *d = png_get_io_ptr(png);

	if (n > d->len - d->pos)
		png_error(png, "truncated");
	memcpy(out, d->buf + d->pos, n);
	d->pos += n;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Asks libpng for 8-bit RGBA whatever the file holds. */
static void
want_rgba8(png_structp png, png_infop info)
{
	int type = png_get_color_type(png, info);

	png_set_expand(png); /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
	png_set_scale_16(png);
	if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(png);
	png_set_filler(png, 0xff, PNG_FILLER_AFTER); /* no effect when there is alpha */
	(void)png_set_interlace_handling(png);
}

/* RGBA -> RGB on white, in place (each RGB pixel is written at or before its RGBA source). */
static void
flatten(unsigned char *px, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *s = px + 4 * i;
		unsigned a = s[3], r = s[0], g = s[1], b = s[2];
		unsigned char *d = px + 3 * i;

		d[0] = (unsigned char)((r * a + 255u * (255u - a) + 127u) / 255u);
		d[1] = (unsigned char)((g * a + 255u * (255u - a) + 127u) / 255u);
		d[2] = (unsigned char)((b * a + 255u * (255u - a) + 127u) / 255u);
	}
}

static int
exif_orientation(struct dec *d)
{
	png_bytep exif = NULL;
	png_uint_32 n = 0;

	if (png_get_eXIf_1(d->png, d->info, &n, &exif) == 0 || exif == NULL)
		return 1;
	return cr_exif_orientation(exif, n);
}

static enum cr_image_verdict
decode_jmp(struct dec *d, uint32_t w, uint32_t h, int *orientation)
{
	size_t stride = (size_t)w * 4;

	if (setjmp(png_jmpbuf(d->png)) != 0)
		return CR_IMG_CORRUPT;
	png_set_user_limits(d->png, d->lim->max_side, d->lim->max_side);
	png_set_chunk_malloc_max(d->png, CHUNK_MALLOC_MAX);
	png_set_benign_errors(d->png, 0);
	png_set_crc_action(d->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
	png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
	png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, skip_chunks, (int)(sizeof(skip_chunks) / 5));
	png_set_read_fn(d->png, d, on_read);
	png_read_info(d->png, d->info);
	if (png_get_image_width(d->png, d->info) != w || png_get_image_height(d->png, d->info) != h)
		return CR_IMG_CORRUPT;
	want_rgba8(d->png, d->info);
	png_read_update_info(d->png, d->info);
	if (png_get_rowbytes(d->png, d->info) != stride || png_get_channels(d->png, d->info) != 4)
		return CR_IMG_INTERNAL;
	d->px = malloc(stride * h);
	d->rows = malloc(sizeof(*d->rows) * h);
	if (d->px == NULL || d->rows == NULL)
		return CR_IMG_INTERNAL;
	for (uint32_t y = 0; y < h; y++)
		d->rows[y] = d->px + stride * y;
	png_read_image(d->png, d->rows);
	png_read_end(d->png, d->info);
	*orientation = exif_orientation(d);
	return d->warned ? CR_IMG_CORRUPT : CR_IMG_OK;
}

enum cr_image_verdict
cr_img_png_decode(const unsigned char *buf, size_t len, const struct cr_image_limits *lim, struct cr_image *out)
{
	struct dec *d;
	enum cr_image_verdict v;
	uint32_t w, h;
	int orientation = 1;

	/* Signature (8), IHDR length (4) and type (4), width (4), height (4). */
	if (len < 33 || be32(buf + 8) != 13 || memcmp(buf + 12, "IHDR", 4) != 0)
		return CR_IMG_CORRUPT;
	w = be32(buf + 16);
	h = be32(buf + 20);
	if ((v = cr_img_check_dims(w, h, lim)) != CR_IMG_OK)
		return v;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return CR_IMG_INTERNAL;
	d->buf = buf;
	d->len = len;
	d->lim = lim;
	d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_error, on_warning);
	if (d->png != NULL)
		d->info = png_create_info_struct(d->png);
	if (d->png == NULL || d->info == NULL)
		v = CR_IMG_INTERNAL;
	else
		v = decode_jmp(d, w, h, &orientation);
	png_destroy_read_struct(&d->png, &d->info, NULL);
	if (v == CR_IMG_OK) {
		flatten(d->px, (size_t)w * h);
		out->rgb = realloc(d->px, (size_t)w * h * 3);
		if (out->rgb == NULL)
			out->rgb = d->px; /* shrinking failed: the larger block still holds the pixels */
		d->px = NULL;
		out->w = w;
		out->h = h;
		if ((v = cr_img_orient(out, orientation)) != CR_IMG_OK)
			cr_image_free(out);
	}
	free(d->px);
	free(d->rows);
	free(d);
	return v;
}
