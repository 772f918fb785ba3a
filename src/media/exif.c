/*
 * The one EXIF field we use: IFD0's Orientation (tag 0x0112). EXIF is a TIFF
 * structure written by the camera, so this is untrusted-input code. It reads
 * the 8-byte TIFF header (either byte order), follows the IFD0 offset once, and
 * scans at most EXIF_MAX_ENTRIES 12-byte entries. Every offset is checked
 * against len before it is used, with the subtraction on the side that cannot
 * wrap. Nothing else is followed: no IFD chain, no sub-IFD (EXIF, GPS), no
 * value stored out of line, so there is no loop and nothing to allocate.
 * Anything odd means "no orientation" (1): the metadata is dropped anyway.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/image_int.h"

#define EXIF_MAX_ENTRIES 256u
#define TAG_ORIENTATION 0x0112u
#define TYPE_SHORT 3u

static uint16_t
rd16(const unsigned char *p, bool be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t
rd32(const unsigned char *p, bool be)
{
	if (be)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int
cr_exif_orientation(const unsigned char *buf, size_t len)
{
	bool be;
	uint32_t off;
	uint16_t n;

	if (buf == NULL || len < 8)
		return 1;
	if (buf[0] == 'I' && buf[1] == 'I')
		be = false;
	else if (buf[0] == 'M' && buf[1] == 'M')
		be = true;
	else
		return 1;
	if (rd16(buf + 2, be) != 42)
		return 1;
	off = rd32(buf + 4, be);
	/* The entry count (2 bytes) must lie inside the buffer, after the header. */
	if (off < 8 || off > len - 2)
		return 1;
	n = rd16(buf + off, be);
	if (n == 0 || n > EXIF_MAX_ENTRIES)
		return 1;
	/* off <= len - 2 above, so len - off - 2 does not wrap; n * 12 <= 3072. */
	if ((size_t)n * 12u > len - off - 2)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = buf + off + 2 + i * 12u;
		uint16_t v;

		if (rd16(e, be) != TAG_ORIENTATION)
			continue;
		if (rd16(e + 2, be) != TYPE_SHORT || rd32(e + 4, be) != 1)
			return 1;
		/* One SHORT sits in the first two bytes of the value field, in the file's byte order. */
		v = rd16(e + 8, be);
		return v >= 1 && v <= 8 ? v : 1;
	}
	return 1;
}
