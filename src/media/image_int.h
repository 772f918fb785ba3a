/*
 * Private to src/media: the per-format decoders behind image.h, the EXIF
 * orientation reader and the shared helpers. Each decoder is called by
 * cr_image_decode only after the signature matched and the length was checked,
 * and calls cr_img_check_dims on the header's dimensions before it allocates
 * any pixel memory. On anything but CR_IMG_OK *out is left empty.
 */
#ifndef CR_MEDIA_IMAGE_INT_H
#define CR_MEDIA_IMAGE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "media/image.h"

/* Largest side cr_image_resize accepts or produces. */
#define CR_IMG_SIDE_CAP 16384u

/* TOO_MANY_PIXELS, TOO_SMALL or OK for a header's w x h within lim. */
enum cr_image_verdict cr_img_check_dims(uint64_t w, uint64_t h, const struct cr_image_limits *lim);

/* Replaces img's pixels by the same pixels shown as EXIF/TIFF orientation o (1..8) asks; 5..8
   swap w and h. Any other o is taken as 1. CR_IMG_INTERNAL when out of memory (img unchanged). */
enum cr_image_verdict cr_img_orient(struct cr_image *img, int o);

/* The orientation (1..8) in a TIFF structure (an EXIF payload after "Exif\0\0", or a PNG eXIf
   chunk): IFD0's tag 0x0112. 1 when absent, malformed or out of range; never reads outside
   buf[0..len). */
int cr_exif_orientation(const unsigned char *buf, size_t len);

enum cr_image_verdict cr_img_jpeg_decode(const unsigned char *buf, size_t len, const struct cr_image_limits *lim,
    struct cr_image *out);
enum cr_image_verdict cr_img_png_decode(const unsigned char *buf, size_t len, const struct cr_image_limits *lim,
    struct cr_image *out);
enum cr_image_verdict cr_img_tiff_decode(const unsigned char *buf, size_t len, const struct cr_image_limits *lim,
    struct cr_image *out);

#endif
