/*
 * JPEG through libjpeg-turbo, from and to memory. Errors leave through
 * setjmp/longjmp; every warning (premature end of data, corrupt entropy data,
 * extraneous bytes) is made an error too, so a truncated or damaged file is
 * refused rather than shown half grey. Nothing is ever printed.
 *
 * Decoding: the header is read first and its size checked against the limits
 * before jpeg_start_decompress allocates anything of image size; progressive
 * files may have at most MAX_SCANS scans (each scan is a pass over the whole
 * coefficient buffer, so a file of thousands of tiny scans is a CPU bomb), and
 * libjpeg's own memory is capped near what a legitimate image of the limits
 * needs. Grey and YCbCr come out as RGB; CMYK and YCCK (print files, never a
 * camera's) are refused as CR_IMG_UNSUPPORTED rather than converted without a
 * colour profile. APP1 segments are kept only long enough to read the EXIF
 * orientation, which is then applied to the pixels.
 *
 * State that changes after setjmp lives in a struct reached through a pointer
 * that does not change, so nothing needs to be volatile.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "media/image_int.h"

#define MAX_SCANS 100
#define EXIF_HDR "Exif\0\0"
#define EXIF_HDR_LEN 6

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
};

struct dec {
	struct jpeg_decompress_struct ci;
	struct jerr err;
	struct jpeg_progress_mgr progress;
	const struct cr_image_limits *lim;
	unsigned char *rgb;
	int orientation;
};

static void
on_error(j_common_ptr ci)
{
	struct jerr *e = (struct jerr *)ci->err;

	longjmp(e->jb, 1);
}

/* Level -1 is a warning: corrupt or missing data. Levels >= 0 are trace messages. */
static void
on_message(j_common_ptr ci, int level)
{
	if (level < 0)
		on_error(ci);
}

static void
no_output(j_common_ptr ci)
{
	(void)ci;
}

static void
on_progress(j_common_ptr ci)
{
	j_decompress_ptr d = (j_decompress_ptr)ci;

	if (ci->is_decompressor && d->progressive_mode && d->input_scan_number > MAX_SCANS)
		on_error(ci);
}

static void
quiet_errors(struct jerr *e)
{
	jpeg_std_error(&e->pub);
	e->pub.error_exit = on_error;
	e->pub.emit_message = on_message;
	e->pub.output_message = no_output;
}

static int
exif_orientation(j_decompress_ptr ci)
{
	for (jpeg_saved_marker_ptr m = ci->marker_list; m != NULL; m = m->next)
		if (m->marker == JPEG_APP0 + 1 && m->data_length >= EXIF_HDR_LEN &&
		    memcmp(m->data, EXIF_HDR, EXIF_HDR_LEN) == 0)
			return cr_exif_orientation(m->data + EXIF_HDR_LEN, m->data_length - EXIF_HDR_LEN);
	return 1;
}

/* Runs the decode; returns through longjmp on any libjpeg error or warning. */
static enum cr_image_verdict
decode_run(struct dec *d, const unsigned char *buf, size_t len, uint32_t *w, uint32_t *h)
{
	j_decompress_ptr ci = &d->ci;
	enum cr_image_verdict v;
	size_t stride;

	jpeg_mem_src(ci, buf, (unsigned long)len);
	jpeg_save_markers(ci, JPEG_APP0 + 1, 0xffff);
	if (jpeg_read_header(ci, TRUE) != JPEG_HEADER_OK)
		return CR_IMG_CORRUPT;
	if ((v = cr_img_check_dims(ci->image_width, ci->image_height, d->lim)) != CR_IMG_OK)
		return v;
	if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK)
		return CR_IMG_UNSUPPORTED;
	d->orientation = exif_orientation(ci);
	ci->out_color_space = JCS_RGB;
	ci->scale_num = ci->scale_denom = 1;
	jpeg_start_decompress(ci);
	if (ci->output_width != ci->image_width || ci->output_height != ci->image_height ||
	    ci->output_components != 3)
		return CR_IMG_INTERNAL;
	stride = (size_t)ci->output_width * 3;
	if ((d->rgb = malloc(stride * ci->output_height)) == NULL)
		return CR_IMG_INTERNAL;
	while (ci->output_scanline < ci->output_height) {
		JSAMPROW row = d->rgb + stride * ci->output_scanline;

		if (jpeg_read_scanlines(ci, &row, 1) != 1)
			return CR_IMG_CORRUPT;
	}
	jpeg_finish_decompress(ci);
	*w = ci->output_width;
	*h = ci->output_height;
	return CR_IMG_OK;
}

static enum cr_image_verdict
decode_jmp(struct dec *d, const unsigned char *buf, size_t len, struct cr_image *out)
{
	enum cr_image_verdict v;
	uint32_t w = 0, h = 0;

	if (setjmp(d->err.jb) != 0) {
		/* Any error or warning of libjpeg's: the file is damaged, or memory ran out. */
		v = d->err.pub.msg_code == JERR_OUT_OF_MEMORY ? CR_IMG_INTERNAL : CR_IMG_CORRUPT;
		jpeg_destroy_decompress(&d->ci);
		return v;
	}
	jpeg_create_decompress(&d->ci);
	d->progress.progress_monitor = on_progress;
	d->ci.progress = &d->progress;
	/* Coefficients of a progressive 4:4:4 image (6 bytes a pixel) plus working space. */
	d->ci.mem->max_memory_to_use = (long)(d->lim->max_pixels > 1000000000u ? 6000000000u
	                                                                       : d->lim->max_pixels * 6u) +
	                               (32L << 20);
	v = decode_run(d, buf, len, &w, &h);
	jpeg_destroy_decompress(&d->ci);
	if (v == CR_IMG_OK) {
		out->w = w;
		out->h = h;
		out->rgb = d->rgb;
		d->rgb = NULL;
	}
	return v;
}

enum cr_image_verdict
cr_img_jpeg_decode(const unsigned char *buf, size_t len, const struct cr_image_limits *lim, struct cr_image *out)
{
	struct dec *d;
	enum cr_image_verdict v;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return CR_IMG_INTERNAL;
	d->lim = lim;
	d->orientation = 1;
	quiet_errors(&d->err);
	d->ci.err = &d->err.pub;
	v = decode_jmp(d, buf, len, out);
	if (v == CR_IMG_OK && (v = cr_img_orient(out, d->orientation)) != CR_IMG_OK)
		cr_image_free(out);
	free(d->rgb);
	free(d);
	return v;
}

struct enc {
	struct jpeg_compress_struct ci;
	struct jerr err;
	unsigned char *mem;
	unsigned long mem_len;
};

static enum cr_image_verdict
encode_jmp(struct enc *e, const struct cr_image *img, int quality)
{
	size_t stride = (size_t)img->w * 3;

	if (setjmp(e->err.jb) != 0) {
		jpeg_destroy_compress(&e->ci);
		return CR_IMG_INTERNAL;
	}
	jpeg_create_compress(&e->ci);
	jpeg_mem_dest(&e->ci, &e->mem, &e->mem_len);
	e->ci.image_width = img->w;
	e->ci.image_height = img->h;
	e->ci.input_components = 3;
	e->ci.in_color_space = JCS_RGB;
	jpeg_set_defaults(&e->ci);
	jpeg_set_quality(&e->ci, quality, TRUE);
	e->ci.optimize_coding = TRUE;
	e->ci.write_JFIF_header = TRUE;
	e->ci.write_Adobe_marker = FALSE;
	jpeg_start_compress(&e->ci, TRUE);
	while (e->ci.next_scanline < e->ci.image_height) {
		JSAMPROW row = img->rgb + stride * e->ci.next_scanline;

		jpeg_write_scanlines(&e->ci, &row, 1);
	}
	jpeg_finish_compress(&e->ci);
	jpeg_destroy_compress(&e->ci);
	return CR_IMG_OK;
}

enum cr_image_verdict
cr_image_encode_jpeg(const struct cr_image *img, int quality, unsigned char **out, size_t *out_len)
{
	struct enc *e;
	enum cr_image_verdict v;

	if (out == NULL || out_len == NULL)
		return CR_IMG_INTERNAL;
	*out = NULL;
	*out_len = 0;
	if (img == NULL || img->rgb == NULL || img->w == 0 || img->h == 0 || img->w > JPEG_MAX_DIMENSION ||
	    img->h > JPEG_MAX_DIMENSION)
		return CR_IMG_INTERNAL;
	if (quality < 50)
		quality = 50;
	if (quality > 100)
		quality = 100;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return CR_IMG_INTERNAL;
	quiet_errors(&e->err);
	e->ci.err = &e->err.pub;
	v = encode_jmp(e, img, quality);
	if (v == CR_IMG_OK && e->mem != NULL && e->mem_len > 0) {
		*out = e->mem;
		*out_len = e->mem_len;
	} else {
		free(e->mem);
		v = CR_IMG_INTERNAL;
	}
	free(e);
	return v;
}
