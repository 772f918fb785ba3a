/*
 * govsim's face comparison ("govsim-ncc" 1.0): not face recognition, but an
 * image similarity that recognises the same picture again after the changes a
 * photo goes through on its way to DSI (re-encoding, another format, scaling,
 * a slight crop or tilt), and tells the drawn demo faces apart.
 *
 * Features of a picture: grey levels (Rec. 601 luma), area-averaged to
 * REF_W x REF_H whatever the size or aspect of the input, then Gaussian-blurred
 * so that JPEG artefacts, grain and resampling differences do not count.
 *
 * Score of a probe against a registered face: the probe's central part
 * (COVER of each side) sampled on a TPL_W x TPL_H grid and normalised to zero
 * mean and unit variance is the template; the registered face is sampled on
 * the same grid moved by a similarity transform (scale, rotation, shift); the
 * score is the best normalised cross-correlation over a coarse grid of
 * transforms refined by a pattern search, clipped to [0, 1].
 *
 * Everything works on memory and is read-only after creation: safe from any
 * thread. A compare costs a few million bilinear samples (~10 ms).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "govsim.h"

#define REF_W 128
#define REF_H 160
#define TPL_W 64
#define TPL_H 80
#define COVER 0.92         /* of the probe's width and height the template covers */
#define BLUR_SIGMA 1.5     /* in REF pixels */
#define WIDE_SIGMA 6.0     /* the broad layout taken away */
#define DEG (3.14159265358979323846 / 180.0)

struct gs_face {
	float ref[REF_W * REF_H];  /* blurred grey levels, 0..255 */
	float tpl[TPL_W * TPL_H];  /* the central template, zero mean, unit variance (all 0 if flat) */
	int flat;                  /* a picture of one colour: nothing to correlate */
};

/* A similarity transform of the template grid, in REF pixels about the centre. */
struct xform {
	double s, theta, tx, ty;
};

/*
 * Resamples n_in values (in[k * in_step]) to n_out (out[k * out_step]): the
 * mean over each output cell's footprint when shrinking, linear interpolation
 * when growing.
 */
static void
resample(const float *in, size_t n_in, size_t in_step, float *out, size_t n_out, size_t out_step)
{
	double scale = (double)n_in / (double)n_out;

	for (size_t o = 0; o < n_out; o++) {
		double v = 0;

		if (n_out <= n_in) {
			double a = (double)o * scale, b = a + scale;
			size_t i0 = (size_t)a, i1 = (size_t)ceil(b);

			if (i1 > n_in)
				i1 = n_in;
			for (size_t i = i0; i < i1; i++) {
				double lo = (double)i > a ? (double)i : a;
				double hi = (double)(i + 1) < b ? (double)(i + 1) : b;

				v += (hi - lo) * in[i * in_step];
			}
			v /= scale;
		} else {
			double x = ((double)o + 0.5) * scale - 0.5;
			size_t i;
			double f;

			if (x < 0)
				x = 0;
			if (x > (double)(n_in - 1))
				x = (double)(n_in - 1);
			i = (size_t)x;
			f = x - (double)i;
			v = in[i * in_step] * (1 - f) + (i + 1 < n_in ? in[(i + 1) * in_step] : in[i * in_step]) * f;
		}
		out[o * out_step] = (float)v;
	}
}

/* Separable Gaussian blur of a REF_W x REF_H image in place, edges clamped. */
static void
blur(float *img, double sigma)
{
	enum { RMAX = 24 };
	int r = (int)ceil(3 * sigma);
	float k[2 * RMAX + 1], line[REF_H > REF_W ? REF_H : REF_W];
	double sum = 0;

	if (r > RMAX)
		r = RMAX;
	for (int i = -r; i <= r; i++)
		sum += k[i + r] = (float)exp(-(double)(i * i) / (2 * sigma * sigma));
	for (int i = 0; i <= 2 * r; i++)
		k[i] = (float)(k[i] / sum);
	for (int pass = 0; pass < 2; pass++) {
		int n = pass == 0 ? REF_W : REF_H, lines = pass == 0 ? REF_H : REF_W;
		int step = pass == 0 ? 1 : REF_W, lstep = pass == 0 ? REF_W : 1;

		for (int l = 0; l < lines; l++) {
			float *p = img + l * lstep;

			for (int i = 0; i < n; i++)
				line[i] = p[i * step];
			for (int i = 0; i < n; i++) {
				float v = 0;

				for (int j = -r; j <= r; j++) {
					int x = i + j < 0 ? 0 : i + j >= n ? n - 1 : i + j;

					v += k[j + r] * line[x];
				}
				p[i * step] = v;
			}
		}
	}
}

/* Bilinear sample of a REF image at (x, y) in pixel coordinates, edges clamped. */
static float
sample(const float *img, double x, double y)
{
	int x0, y0, x1, y1;
	double fx, fy;

	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x > REF_W - 1)
		x = REF_W - 1;
	if (y > REF_H - 1)
		y = REF_H - 1;
	x0 = (int)x;
	y0 = (int)y;
	x1 = x0 + 1 < REF_W ? x0 + 1 : x0;
	y1 = y0 + 1 < REF_H ? y0 + 1 : y0;
	fx = x - x0;
	fy = y - y0;
	return (float)((img[y0 * REF_W + x0] * (1 - fx) + img[y0 * REF_W + x1] * fx) * (1 - fy) +
	    (img[y1 * REF_W + x0] * (1 - fx) + img[y1 * REF_W + x1] * fx) * fy);
}

/*
 * The normalised cross-correlation of tpl with the registered face sampled on
 * the template grid under transform t (-1..1; 0 when either side is flat),
 * over every stride-th cell in each direction (1: all of them).
 */
static double
correlate(const struct gs_face *reg, const float *tpl, const struct xform *t, int stride)
{
	double c = cos(t->theta) * t->s, sn = sin(t->theta) * t->s;
	double sq = 0, sum = 0, tsum = 0, tsq = 0, dot = 0, n = 0, var, tvar;

	for (int j = 0; j < TPL_H; j += stride) {
		double v = (((j + 0.5) / TPL_H) - 0.5) * COVER * REF_H;

		for (int i = 0; i < TPL_W; i += stride) {
			double u = (((i + 0.5) / TPL_W) - 0.5) * COVER * REF_W;
			double x = c * u - sn * v + t->tx + REF_W / 2.0 - 0.5;
			double y = sn * u + c * v + t->ty + REF_H / 2.0 - 0.5;
			double q = sample(reg->ref, x, y), p = tpl[j * TPL_W + i];

			sum += q;
			sq += q * q;
			tsum += p;
			tsq += p * p;
			dot += q * p;
			n++;
		}
	}
	var = sq / n - (sum / n) * (sum / n);
	tvar = tsq / n - (tsum / n) * (tsum / n);
	if (var < 1e-9 || tvar < 1e-9)
		return 0;
	return (dot / n - (sum / n) * (tsum / n)) / sqrt(var * tvar);
}

static struct gs_face *
features(const struct cr_image *img)
{
	struct gs_face *f = NULL;
	float *row = NULL, *cols = NULL;
	double sum = 0, sq = 0, n = TPL_W * TPL_H, sd;
	struct xform id = { 1, 0, 0, 0 };
	float *wide = NULL;

	if (img->w == 0 || img->h == 0 || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	/* Rows to REF_W first (one row of grey at a time), then columns to REF_H. */
	if ((row = malloc(img->w * sizeof(*row))) == NULL ||
	    (cols = malloc((size_t)img->h * REF_W * sizeof(*cols))) == NULL ||
	    (wide = malloc(sizeof(f->ref))) == NULL) {
		free(row);
		free(cols);
		free(f);
		return NULL;
	}
	for (uint32_t y = 0; y < img->h; y++) {
		const unsigned char *p = img->rgb + (size_t)y * img->w * 3;

		for (uint32_t x = 0; x < img->w; x++)
			row[x] = (float)(0.299 * p[3 * x] + 0.587 * p[3 * x + 1] + 0.114 * p[3 * x + 2]);
		resample(row, img->w, 1, cols + (size_t)y * REF_W, REF_W, 1);
	}
	for (int x = 0; x < REF_W; x++)
		resample(cols + x, img->h, REF_W, f->ref + x, REF_H, REF_W);
	free(row);
	free(cols);
	/* Band-pass (difference of Gaussians): fine detail and the broad layout both go. */
	memcpy(wide, f->ref, sizeof(f->ref));
	blur(f->ref, BLUR_SIGMA);
	blur(wide, WIDE_SIGMA);
	for (int i = 0; i < REF_W * REF_H; i++)
		f->ref[i] -= wide[i];
	free(wide);

	/* The template: the identity transform's samples of this picture, normalised. */
	for (int j = 0; j < TPL_H; j++) {
		double v = (((j + 0.5) / TPL_H) - 0.5) * COVER * REF_H + REF_H / 2.0 - 0.5;

		for (int i = 0; i < TPL_W; i++) {
			double u = (((i + 0.5) / TPL_W) - 0.5) * COVER * REF_W + REF_W / 2.0 - 0.5;
			float q = sample(f->ref, u + id.tx, v + id.ty);

			f->tpl[j * TPL_W + i] = q;
			sum += q;
			sq += (double)q * q;
		}
	}
	sd = sqrt(sq / n - (sum / n) * (sum / n));
	f->flat = !(sd > 0.5);  /* under half a grey level: a blank picture */
	for (int i = 0; i < TPL_W * TPL_H; i++)
		f->tpl[i] = f->flat ? 0.0f : (float)((f->tpl[i] - sum / n) / sd);
	return f;
}

enum cr_err
gs_face_from_pixels(const struct cr_image *img, struct gs_face **out)
{
	*out = features(img);
	return *out == NULL ? CR_ERR_NOMEM : CR_OK;
}

enum cr_image_verdict
gs_face_from_bytes(const void *buf, size_t len, struct gs_face **out)
{
	static const struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;
	struct cr_image img = { 0 };
	enum cr_image_verdict v;

	*out = NULL;
	if ((v = cr_image_decode(buf, len, &lim, &img, NULL)) != CR_IMG_OK)
		return v;
	if (gs_face_from_pixels(&img, out) != CR_OK)
		v = CR_IMG_INTERNAL;
	cr_image_free(&img);
	return v;
}

void
gs_face_free(struct gs_face *f)
{
	free(f);
}

/* The search: a coarse grid on a quarter of the template, then a pattern search on all of it
 * with halving steps. */
double
gs_face_score(const struct gs_face *reg, const struct gs_face *probe)
{
	static const double scales[] = { 0.85, 0.92, 1.0, 1.08, 1.16 };
	static const double angles[] = { -4, -2, 0, 2, 4 };
	static const double shifts[] = { -8, -4, 0, 4, 8 };
	struct xform best = { 1, 0, 0, 0 }, step = { 0.035, 1.0 * DEG, 2, 2 };
	double bestc = -1;

	if (reg->flat || probe->flat)
		return 0;
	for (size_t a = 0; a < 5; a++)
		for (size_t b = 0; b < 5; b++)
			for (size_t c = 0; c < 5; c++)
				for (size_t d = 0; d < 5; d++) {
					struct xform t = { scales[a], angles[b] * DEG, shifts[c], shifts[d] };
					double r = correlate(reg, probe->tpl, &t, 2);

					if (r > bestc) {
						bestc = r;
						best = t;
					}
				}
	/* The coarse grid saw a quarter of the cells: score its winner on all of them. */
	bestc = correlate(reg, probe->tpl, &best, 1);
	for (int round = 0; round < 3; round++) {
		int moved = 1;

		for (int iter = 0; moved && iter < 8; iter++) {
			moved = 0;
			for (int dim = 0; dim < 4; dim++)
				for (int sign = -1; sign <= 1; sign += 2) {
					struct xform t = best;
					double *p = dim == 0 ? &t.s : dim == 1 ? &t.theta : dim == 2 ? &t.tx : &t.ty;
					double dp = dim == 0 ? step.s : dim == 1 ? step.theta : dim == 2 ? step.tx : step.ty;
					double r;

					*p += sign * dp;
					if ((r = correlate(reg, probe->tpl, &t, 1)) > bestc) {
						bestc = r;
						best = t;
						moved = 1;
					}
				}
		}
		step.s /= 2;
		step.theta /= 2;
		step.tx /= 2;
		step.ty /= 2;
	}
	return bestc > 0 ? (bestc < 1 ? bestc : 1) : 0;
}
