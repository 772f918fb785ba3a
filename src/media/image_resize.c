/*
 * Scaling (cr_image_resize). Separable: each axis has a table saying, for
 * every output index, which run of source indices it draws from and with what
 * weights. Shrinking an axis averages the area each output pixel covers (a box
 * filter with fractional coverage at the ends, computed exactly in integers);
 * growing it interpolates linearly between the two nearest source centres. An
 * output row is the weighted sum of horizontally scaled source rows; the last
 * two such rows are kept, which is all either filter ever revisits, so memory
 * is the output plus three float rows.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/image_int.h"

struct axis {
	uint32_t *start;  /* first source index of output i */
	uint32_t *count;  /* how many */
	uint32_t *woff;   /* where its weights begin in w */
	float *w;
};

static void
axis_free(struct axis *a)
{
	free(a->start);
	free(a->count);
	free(a->woff);
	free(a->w);
}

/* Output i covers [i*src, (i+1)*src) and source k covers [k*dst, (k+1)*dst), in units of 1/dst. */
static int
axis_area(struct axis *a, uint32_t src, uint32_t dst)
{
	size_t used = 0;

	/* Each output spans at most ceil(src/dst) + 1 source pixels. */
	if ((a->w = malloc(sizeof(float) * ((size_t)dst * (src / dst + 2)))) == NULL)
		return -1;
	for (uint32_t i = 0; i < dst; i++) {
		uint64_t lo = (uint64_t)i * src, hi = lo + src;
		uint32_t k = (uint32_t)(lo / dst);

		a->start[i] = k;
		a->woff[i] = (uint32_t)used;
		for (; k < src && (uint64_t)k * dst < hi; k++) {
			uint64_t a0 = (uint64_t)k * dst, a1 = a0 + dst;

			if (a0 < lo)
				a0 = lo;
			if (a1 > hi)
				a1 = hi;
			a->w[used++] = (float)((double)(a1 - a0) / (double)src);
		}
		a->count[i] = (uint32_t)(used - a->woff[i]);
	}
	return 0;
}

/* Centres aligned: output i samples source position (i + 0.5) * src / dst - 0.5, clamped. */
static int
axis_linear(struct axis *a, uint32_t src, uint32_t dst)
{
	if ((a->w = malloc(sizeof(float) * 2 * (size_t)dst)) == NULL)
		return -1;
	for (uint32_t i = 0; i < dst; i++) {
		double pos = ((double)i + 0.5) * src / dst - 0.5, f;
		uint32_t k;

		if (pos < 0)
			pos = 0;
		k = (uint32_t)floor(pos);
		f = pos - k;
		if (k >= src - 1) {
			k = src - 1;
			f = 0;
		}
		a->start[i] = k;
		a->woff[i] = 2 * i;
		a->w[2 * i] = (float)(1 - f);
		a->w[2 * i + 1] = (float)f;
		a->count[i] = f > 0 ? 2 : 1;
	}
	return 0;
}

static int
axis_make(struct axis *a, uint32_t src, uint32_t dst)
{
	memset(a, 0, sizeof(*a));
	a->start = malloc(sizeof(uint32_t) * dst);
	a->count = malloc(sizeof(uint32_t) * dst);
	a->woff = malloc(sizeof(uint32_t) * dst);
	if (a->start == NULL || a->count == NULL || a->woff == NULL)
		return -1;
	return dst <= src ? axis_area(a, src, dst) : axis_linear(a, src, dst);
}

/* Scales source row r horizontally into row (ow * 3 floats). */
static void
hscale(const struct cr_image *img, uint32_t r, const struct axis *ax, uint32_t ow, float *row)
{
	const unsigned char *s = img->rgb + (size_t)r * img->w * 3;

	for (uint32_t x = 0; x < ow; x++) {
		const float *w = ax->w + ax->woff[x];
		const unsigned char *p = s + (size_t)ax->start[x] * 3;
		float c0 = 0, c1 = 0, c2 = 0;

		for (uint32_t k = 0; k < ax->count[x]; k++, p += 3) {
			c0 += w[k] * p[0];
			c1 += w[k] * p[1];
			c2 += w[k] * p[2];
		}
		row[3 * x] = c0;
		row[3 * x + 1] = c1;
		row[3 * x + 2] = c2;
	}
}

static unsigned char
to_byte(float v)
{
	if (v <= 0)
		return 0;
	if (v >= 255)
		return 255;
	return (unsigned char)(v + 0.5f);
}

enum cr_image_verdict
cr_image_resize(const struct cr_image *img, uint32_t w, uint32_t h, struct cr_image *out)
{
	struct axis ax = {0}, ay = {0};
	float *cache[2] = {NULL, NULL}, *acc = NULL;
	int64_t key[2] = {-1, -1};
	int lru = 0; /* the cache slot to replace next */
	enum cr_image_verdict v = CR_IMG_INTERNAL;
	unsigned char *dst = NULL;

	if (out == NULL)
		return CR_IMG_INTERNAL;
	memset(out, 0, sizeof(*out));
	if (img == NULL || img->rgb == NULL || img->w == 0 || img->h == 0 || w == 0 || h == 0)
		return CR_IMG_INTERNAL;
	if (w > CR_IMG_SIDE_CAP || h > CR_IMG_SIDE_CAP)
		return CR_IMG_TOO_MANY_PIXELS;
	if (axis_make(&ax, img->w, w) != 0 || axis_make(&ay, img->h, h) != 0)
		goto out;
	cache[0] = malloc(sizeof(float) * 3 * (size_t)w);
	cache[1] = malloc(sizeof(float) * 3 * (size_t)w);
	acc = malloc(sizeof(float) * 3 * (size_t)w);
	dst = malloc((size_t)w * h * 3);
	if (cache[0] == NULL || cache[1] == NULL || acc == NULL || dst == NULL)
		goto out;
	for (uint32_t y = 0; y < h; y++) {
		const float *wy = ay.w + ay.woff[y];
		unsigned char *d = dst + (size_t)y * w * 3;

		memset(acc, 0, sizeof(float) * 3 * (size_t)w);
		for (uint32_t k = 0; k < ay.count[y]; k++) {
			int64_t r = (int64_t)ay.start[y] + k;
			const float *row;
			int slot;

			if (key[0] == r)
				slot = 0;
			else if (key[1] == r)
				slot = 1;
			else {
				slot = lru;
				hscale(img, (uint32_t)r, &ax, w, cache[slot]);
				key[slot] = r;
			}
			lru = 1 - slot;
			row = cache[slot];
			for (size_t i = 0; i < 3 * (size_t)w; i++)
				acc[i] += wy[k] * row[i];
		}
		for (size_t i = 0; i < 3 * (size_t)w; i++)
			d[i] = to_byte(acc[i]);
	}
	out->w = w;
	out->h = h;
	out->rgb = dst;
	dst = NULL;
	v = CR_IMG_OK;
out:
	axis_free(&ax);
	axis_free(&ay);
	free(cache[0]);
	free(cache[1]);
	free(acc);
	free(dst);
	return v;
}
