/*
 * Photo benchmark (bench/README.md): what one 「上傳近照」 costs the portal's CPU. A synthetic phone
 * photo (JPEG, 4032x3024, quality 92, textured so it compresses like a real one) is normalised by
 * cr_image_normalise (sniff, header check, full decode, orientation, scale to 1600, re-encode) N
 * times, side by side with the baseline of the same work done with bare libjpeg calls and no checks
 * (decode with DCT scaling off, encode at the same size), and with sealing the result
 * (XChaCha20-Poly1305). Prints ms per photo for each.
 *
 * usage: build/bench/photo [N]   (make bench-photo)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>

#include "media/image.h"
#include "util/crypto.h"
#include "util/seal.h"

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static unsigned char *
synthetic(uint32_t w, uint32_t h, size_t *len)
{
	struct cr_image img = {w, h, malloc((size_t)w * h * 3)};
	unsigned char *out = NULL;
	uint32_t seed = 12345;

	for (size_t i = 0; i < (size_t)w * h; i++) {
		uint32_t x = (uint32_t)(i % w), y = (uint32_t)(i / w);
		seed = seed * 1103515245u + 12345u;
		img.rgb[3 * i] = (unsigned char)((x / 7 + y / 5) + (seed >> 28));
		img.rgb[3 * i + 1] = (unsigned char)((x * y / 1000) + (seed >> 27));
		img.rgb[3 * i + 2] = (unsigned char)((y / 3) ^ (seed >> 26));
	}
	if (cr_image_encode_jpeg(&img, 92, &out, len) != CR_IMG_OK)
		exit(2);
	cr_image_free(&img);
	return out;
}

/* The baseline: libjpeg decode then (encode_too) encode, nothing checked, nothing scaled. */
static void
bare(const unsigned char *jpeg, size_t len, bool encode_too)
{
	struct jpeg_decompress_struct d;
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e1, e2;
	unsigned char *pix, *out = NULL;
	unsigned long olen = 0;
	size_t stride;

	d.err = jpeg_std_error(&e1);
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, jpeg, (unsigned long)len);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	stride = (size_t)d.output_width * 3;
	pix = malloc(stride * d.output_height);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = pix + stride * d.output_scanline;
		jpeg_read_scanlines(&d, &row, 1);
	}
	if (!encode_too) {
		jpeg_finish_decompress(&d);
		jpeg_destroy_decompress(&d);
		free(pix);
		return;
	}
	c.err = jpeg_std_error(&e2);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &olen);
	c.image_width = d.output_width;
	c.image_height = d.output_height;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 90, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = pix + stride * c.next_scanline;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_finish_decompress(&d);
	jpeg_destroy_compress(&c);
	jpeg_destroy_decompress(&d);
	free(pix);
	free(out);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20;
	struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;
	struct cr_seal_key key;
	size_t len = 0, olen = 0, slen = 0;
	unsigned char *jpeg, *out = NULL, *sealed = NULL;
	uint32_t w = 0, h = 0;
	double t0, t_norm, t_bare, t_dec, t_seal;

	if (n < 1 || cr_crypto_init() != CR_OK)
		return 2;
	cr_random(key.k, sizeof(key.k));
	jpeg = synthetic(4032, 3024, &len);
	t0 = now_ms();
	for (int i = 0; i < n; i++)
		bare(jpeg, len, false);
	t_dec = (now_ms() - t0) / n;
	t0 = now_ms();
	for (int i = 0; i < n; i++)
		bare(jpeg, len, true);
	t_bare = (now_ms() - t0) / n;
	t0 = now_ms();
	for (int i = 0; i < n; i++) {
		free(out);
		out = NULL;
		if (cr_image_normalise(jpeg, len, &lim, &out, &olen, &w, &h) != CR_IMG_OK)
			return 1;
	}
	t_norm = (now_ms() - t0) / n;
	t0 = now_ms();
	for (int i = 0; i < n; i++) {
		free(sealed);
		if (cr_seal(&key, "bench", out, olen, 16u << 20, &sealed, &slen) != CR_OK)
			return 1;
	}
	t_seal = (now_ms() - t0) / n;
	printf("photo 4032x3024 JPEG, %zu bytes -> %ux%u, %zu bytes; %d runs each\n", len, w, h, olen, n);
	printf("  baseline: bare libjpeg decode only:                             %7.1f ms\n", t_dec);
	printf("  baseline: bare libjpeg decode + encode, no checks, no scaling:  %7.1f ms\n", t_bare);
	printf("  cr_image_normalise (checks, decode, orient, scale, encode):      %7.1f ms  (%.2fx baseline)\n", t_norm,
	    t_norm / t_bare);
	printf("  cr_seal of the result:                                           %7.2f ms\n", t_seal);
	free(out);
	free(sealed);
	free(jpeg);
	return 0;
}
