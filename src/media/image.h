/*
 * Images from untrusted uploads (SPEC R6.2): the holder's recent photo, and
 * govsim's face comparison. A file is judged only by decoding it: the format
 * by its magic bytes (never its name or Content-Type), the pixel count from the
 * header before any pixel is decoded (decompression bombs), then a full decode
 * with libjpeg-turbo, libpng or libtiff in which any warning (a truncated file,
 * a bad CRC) is an error. A phone photo's EXIF orientation is applied, and what
 * is kept is a fresh baseline JPEG of the pixels alone: no EXIF, GPS, ICC or
 * comment survives.
 *
 * The media layer sits just above util/: no I/O, no store, no HTTP; every
 * function works on memory buffers and is safe to call from any thread.
 */
#ifndef CR_MEDIA_IMAGE_H
#define CR_MEDIA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

enum cr_image_format {
	CR_IMG_FMT_NONE,   /* not recognised */
	CR_IMG_FMT_JPEG,
	CR_IMG_FMT_PNG,
	CR_IMG_FMT_TIFF,
	CR_IMG_FMT_OTHER,  /* a known image or document format we do not accept (HEIC, WebP, GIF, PDF, BMP) */
};

enum cr_image_verdict {
	CR_IMG_OK,
	CR_IMG_EMPTY,          /* zero bytes */
	CR_IMG_TOO_BIG,        /* more bytes than limits.max_bytes */
	CR_IMG_NOT_IMAGE,      /* no known signature (a text file named .jpg) */
	CR_IMG_UNSUPPORTED,    /* HEIC, WebP, GIF, PDF, BMP: not one of the four accepted formats */
	CR_IMG_TOO_MANY_PIXELS,/* the header claims more than max_pixels or a side over max_side */
	CR_IMG_TOO_SMALL,      /* a side under min_side */
	CR_IMG_MULTI_PAGE,     /* a TIFF with more than one page */
	CR_IMG_CORRUPT,        /* truncated or undecodable */
	CR_IMG_INTERNAL,       /* out of memory, encoder failure */
};
#define CR_IMG_VERDICT_COUNT 10

struct cr_image_limits {
	size_t max_bytes;      /* the file (10 MB) */
	uint64_t max_pixels;   /* width * height as the header claims it (40 megapixels) */
	uint32_t max_side;     /* either side (16384) */
	uint32_t min_side;     /* either side (64): a face must be recognisable */
	uint32_t out_max_side; /* the re-encoded JPEG is scaled down to fit this (1600) */
	int jpeg_quality;      /* of the re-encoded JPEG (90) */
};
#define CR_IMAGE_LIMITS_DEFAULT {10u * 1024u * 1024u, 40000000u, 16384u, 64u, 1600u, 90}

/* Decoded pixels: 8-bit RGB, rows top to bottom, w * h * 3 bytes, orientation applied. */
struct cr_image {
	uint32_t w, h;
	unsigned char *rgb;
};

/* The format the first bytes announce. */
enum cr_image_format cr_image_sniff(const void *buf, size_t len);

/* Decodes buf within lim into out (caller frees with cr_image_free). *fmt (may be NULL) gets the
   format found. Anything but CR_IMG_OK leaves out empty. */
enum cr_image_verdict cr_image_decode(const void *buf, size_t len, const struct cr_image_limits *lim,
    struct cr_image *out, enum cr_image_format *fmt);

/* Scales img to w x h (area averaging when shrinking, bilinear when growing) into out. */
enum cr_image_verdict cr_image_resize(const struct cr_image *img, uint32_t w, uint32_t h, struct cr_image *out);

/* Encodes img as a baseline JPEG with no markers but JFIF; *out (caller frees) and *out_len. */
enum cr_image_verdict cr_image_encode_jpeg(const struct cr_image *img, int quality, unsigned char **out,
    size_t *out_len);

/* The whole upload check: decode within lim, apply orientation, scale down to lim->out_max_side,
   re-encode as JPEG. *jpeg (caller frees), its length and its pixel size on CR_IMG_OK. */
enum cr_image_verdict cr_image_normalise(const void *buf, size_t len, const struct cr_image_limits *lim,
    unsigned char **jpeg, size_t *jpeg_len, uint32_t *w, uint32_t *h);

void cr_image_free(struct cr_image *img);

/* A stable name ("not_image", "too_many_pixels"...), for logs and message keys. */
const char *cr_image_verdict_name(enum cr_image_verdict v);

#endif
