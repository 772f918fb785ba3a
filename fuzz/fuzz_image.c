/*
 * libFuzzer target for the image checks (src/media/image*.c, exif.c).
 *
 * Runs the whole upload check, cr_image_normalise, on the input with the
 * default limits except: max_pixels 4 megapixels (so one input cannot take
 * long), min_side 1 (so that small inputs reach the decoders instead of being
 * refused as too small from their header) and out_max_side 256 (so the scaler
 * runs on most decoded inputs and the re-encode stays cheap). It checks what
 * the interface promises: a known verdict; on refusal empty outputs; on
 * success a JPEG that starts with SOI, carries no APP1 (EXIF/XMP) marker, fits
 * out_max_side, and decodes again to the size reported. The input is also fed
 * to the EXIF reader directly, which must answer 1..8.
 *
 * Build and run: sh scripts/fuzz.sh. Seeds: fuzz/corpus/image/ (written by
 * CR_IMAGE_SEEDS=fuzz/corpus/image build/tests/test_image).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/image.h"
#include "media/image_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_image_limits lim = CR_IMAGE_LIMITS_DEFAULT;
	struct cr_image back = {0};
	unsigned char *jpeg = (unsigned char *)1;
	size_t len = 1;
	uint32_t w = 1, h = 1;
	enum cr_image_verdict v;
	int o;

	o = cr_exif_orientation(data, size);
	if (o < 1 || o > 8)
		abort();

	lim.max_pixels = 4000000;
	lim.min_side = 1;
	lim.out_max_side = 256;
	v = cr_image_normalise(data, size, &lim, &jpeg, &len, &w, &h);
	if ((unsigned)v >= CR_IMG_VERDICT_COUNT || cr_image_verdict_name(v) == NULL)
		abort();
	if (v != CR_IMG_OK) {
		if (jpeg != NULL || len != 0 || w != 0 || h != 0)
			abort();
		return 0;
	}
	if (jpeg == NULL || len < 4 || w == 0 || h == 0 || w > lim.out_max_side || h > lim.out_max_side)
		abort();
	if (memcmp(jpeg, "\xff\xd8\xff", 3) != 0)
		abort();
	for (size_t i = 0; i + 1 < len; i++)
		if (jpeg[i] == 0xff && jpeg[i + 1] == 0xe1)
			abort();
	if (cr_image_decode(jpeg, len, &lim, &back, NULL) != CR_IMG_OK || back.w != w || back.h != h)
		abort();
	cr_image_free(&back);
	free(jpeg);
	return 0;
}
