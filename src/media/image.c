/*
 * Upload checks for images; see image.h and docs/internals/image.md. This file
 * holds the order of the checks (length, signature, then the format's decoder,
 * which checks the header's dimensions before it allocates pixels), the
 * orientation transform shared by JPEG and TIFF, and normalisation. The
 * decoders live in image_jpeg.c, image_png.c and image_tiff.c; scaling in
 * image_resize.c; the EXIF reader in exif.c. No global state.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/image.h"
#include "media/image_int.h"

static const unsigned char sig_png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* ISO BMFF brands of still images we do not take (HEIF, HEIC, AVIF). */
static const char *const bmff_brands[] = {
    "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "mif2", "msf1", "avif", "avis",
};

static bool
starts(const unsigned char *p, size_t len, const void *sig, size_t n)
{
	return len >= n && memcmp(p, sig, n) == 0;
}

static bool
is_bmff_image(const unsigned char *p, size_t len)
{
	if (len < 12 || memcmp(p + 4, "ftyp", 4) != 0)
		return false;
	for (size_t i = 0; i < sizeof(bmff_brands) / sizeof(bmff_brands[0]); i++)
		if (memcmp(p + 8, bmff_brands[i], 4) == 0)
			return true;
	return false;
}

enum cr_image_format
cr_image_sniff(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (p == NULL)
		return CR_IMG_FMT_NONE;
	if (starts(p, len, "\xff\xd8\xff", 3))
		return CR_IMG_FMT_JPEG;
	if (starts(p, len, sig_png, sizeof(sig_png)))
		return CR_IMG_FMT_PNG;
	if (starts(p, len, "II*\0", 4) || starts(p, len, "MM\0*", 4))
		return CR_IMG_FMT_TIFF;
	if (starts(p, len, "GIF8", 4) || starts(p, len, "%PDF", 4) || is_bmff_image(p, len) ||
	    (starts(p, len, "RIFF", 4) && len >= 12 && memcmp(p + 8, "WEBP", 4) == 0) ||
	    starts(p, len, "II+\0", 4) || starts(p, len, "MM\0+", 4))
		return CR_IMG_FMT_OTHER;
	/* "BM" alone is too weak (a text file may start so): BMP's reserved header bytes 6..9 are zero. */
	if (starts(p, len, "BM", 2) && len >= 14 && memcmp(p + 6, "\0\0\0\0", 4) == 0)
		return CR_IMG_FMT_OTHER;
	return CR_IMG_FMT_NONE;
}

enum cr_image_verdict
cr_img_check_dims(uint64_t w, uint64_t h, const struct cr_image_limits *lim)
{
	if (w == 0 || h == 0)
		return CR_IMG_CORRUPT;
	if (w > lim->max_side || h > lim->max_side || w * h > lim->max_pixels)
		return CR_IMG_TOO_MANY_PIXELS;
	if (w < lim->min_side || h < lim->min_side)
		return CR_IMG_TOO_SMALL;
	return CR_IMG_OK;
}

enum cr_image_verdict
cr_img_orient(struct cr_image *img, int o)
{
	/* The source pixel of output (x, y) is origin + x * dx + y * dy (in pixels of the stored image). */
	ptrdiff_t W = img->w, H = img->h, origin, dx, dy;
	uint32_t ow = img->w, oh = img->h;
	unsigned char *dst;

	switch (o) {
	case 2: origin = W - 1; dx = -1; dy = W; break;
	case 3: origin = (H - 1) * W + W - 1; dx = -1; dy = -W; break;
	case 4: origin = (H - 1) * W; dx = 1; dy = -W; break;
	case 5: origin = 0; dx = W; dy = 1; break;
	case 6: origin = (H - 1) * W; dx = -W; dy = 1; break;
	case 7: origin = (H - 1) * W + W - 1; dx = -W; dy = -1; break;
	case 8: origin = W - 1; dx = W; dy = -1; break;
	default: return CR_IMG_OK;
	}
	if (o >= 5) {
		ow = img->h;
		oh = img->w;
	}
	if ((dst = malloc((size_t)ow * oh * 3)) == NULL)
		return CR_IMG_INTERNAL;
	for (uint32_t y = 0; y < oh; y++) {
		unsigned char *d = dst + (size_t)y * ow * 3;
		ptrdiff_t s = origin + (ptrdiff_t)y * dy;

		for (uint32_t x = 0; x < ow; x++, s += dx, d += 3)
			memcpy(d, img->rgb + s * 3, 3);
	}
	free(img->rgb);
	img->rgb = dst;
	img->w = ow;
	img->h = oh;
	return CR_IMG_OK;
}

enum cr_image_verdict
cr_image_decode(const void *buf, size_t len, const struct cr_image_limits *lim, struct cr_image *out,
    enum cr_image_format *fmt)
{
	static const struct cr_image_limits def = CR_IMAGE_LIMITS_DEFAULT;
	enum cr_image_format f;
	enum cr_image_verdict v;

	if (fmt != NULL)
		*fmt = CR_IMG_FMT_NONE;
	if (out == NULL)
		return CR_IMG_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (lim == NULL)
		lim = &def;
	if (len == 0)
		return CR_IMG_EMPTY;
	if (buf == NULL)
		return CR_IMG_INTERNAL;
	if (len > lim->max_bytes)
		return CR_IMG_TOO_BIG;
	f = cr_image_sniff(buf, len);
	if (fmt != NULL)
		*fmt = f;
	switch (f) {
	case CR_IMG_FMT_JPEG: v = cr_img_jpeg_decode(buf, len, lim, out); break;
	case CR_IMG_FMT_PNG: v = cr_img_png_decode(buf, len, lim, out); break;
	case CR_IMG_FMT_TIFF: v = cr_img_tiff_decode(buf, len, lim, out); break;
	case CR_IMG_FMT_OTHER: return CR_IMG_UNSUPPORTED;
	default: return CR_IMG_NOT_IMAGE;
	}
	if (v == CR_IMG_OK && (out->rgb == NULL || out->w == 0 || out->h == 0))
		v = CR_IMG_INTERNAL;
	if (v != CR_IMG_OK)
		cr_image_free(out);
	return v;
}

/* The size that fits img within side x side with its aspect ratio, rounded to the nearest pixel. */
static void
fit(uint32_t w, uint32_t h, uint32_t side, uint32_t *nw, uint32_t *nh)
{
	if (w >= h) {
		*nw = side;
		*nh = (uint32_t)(((uint64_t)h * side + w / 2) / w);
	} else {
		*nh = side;
		*nw = (uint32_t)(((uint64_t)w * side + h / 2) / h);
	}
	if (*nw == 0)
		*nw = 1;
	if (*nh == 0)
		*nh = 1;
}

enum cr_image_verdict
cr_image_normalise(const void *buf, size_t len, const struct cr_image_limits *lim, unsigned char **jpeg,
    size_t *jpeg_len, uint32_t *w, uint32_t *h)
{
	static const struct cr_image_limits def = CR_IMAGE_LIMITS_DEFAULT;
	struct cr_image img = {0}, small = {0};
	enum cr_image_verdict v;

	if (jpeg == NULL || jpeg_len == NULL)
		return CR_IMG_INTERNAL;
	*jpeg = NULL;
	*jpeg_len = 0;
	if (w != NULL)
		*w = 0;
	if (h != NULL)
		*h = 0;
	if (lim == NULL)
		lim = &def;
	if (lim->out_max_side == 0)
		return CR_IMG_INTERNAL;
	if ((v = cr_image_decode(buf, len, lim, &img, NULL)) != CR_IMG_OK)
		goto out;
	if (img.w > lim->out_max_side || img.h > lim->out_max_side) {
		uint32_t nw, nh;

		fit(img.w, img.h, lim->out_max_side, &nw, &nh);
		if ((v = cr_image_resize(&img, nw, nh, &small)) != CR_IMG_OK)
			goto out;
		cr_image_free(&img);
		img = small;
		small = (struct cr_image){0};
	}
	if ((v = cr_image_encode_jpeg(&img, lim->jpeg_quality, jpeg, jpeg_len)) != CR_IMG_OK)
		goto out;
	if (w != NULL)
		*w = img.w;
	if (h != NULL)
		*h = img.h;
out:
	cr_image_free(&img);
	cr_image_free(&small);
	return v;
}

void
cr_image_free(struct cr_image *img)
{
	if (img == NULL)
		return;
	free(img->rgb);
	img->rgb = NULL;
	img->w = img->h = 0;
}

const char *
cr_image_verdict_name(enum cr_image_verdict v)
{
	static const char *const names[CR_IMG_VERDICT_COUNT] = {
	    "ok", "empty", "too_big", "not_image", "unsupported", "too_many_pixels", "too_small", "multi_page",
	    "corrupt", "internal",
	};

	if ((unsigned)v >= CR_IMG_VERDICT_COUNT)
		return "internal";
	return names[v];
}
