/*
 * CSV reader for operator files (RFC 4180, as spreadsheets write it).
 *
 * Pure: no I/O, no allocation; the caller hands in the whole file. Accepts
 * quoted fields ("a,b", "say ""hi""", fields spanning lines), CRLF or LF line
 * ends, an optional UTF-8 byte-order mark at the start, and a missing final
 * line end. Empty lines are skipped. Everything else is refused with the line
 * number: a quote inside an unquoted field, text after a closing quote, an
 * unterminated quoted field, a bare CR, a NUL byte, bytes that are not UTF-8.
 *
 * Input is untrusted (fuzz/fuzz_csv.c): every size is capped below.
 * The reader knows nothing of headers; the caller treats the first record as one.
 */
#ifndef CR_CSV_H
#define CR_CSV_H

#include <stddef.h>

#include "util/err.h"

#define CR_CSV_MAX_RECORD 8192    /* bytes of one record as written (normally one line), w/o line end */
#define CR_CSV_MAX_FIELDS 64
#define CR_CSV_MAX_LINES 1000000  /* physical lines in the file */

/* One record. Everything is borrowed: valid only during the callback. */
struct cr_csv_record {
	size_t line;                           /* 1-based line on which the record starts */
	size_t nfields;                        /* 1..CR_CSV_MAX_FIELDS */
	const char *field[CR_CSV_MAX_FIELDS];  /* unquoted, NUL-terminated, valid UTF-8 without NUL */
	size_t len[CR_CSV_MAX_FIELDS];         /* strlen(field[i]) */
};

/* Where and why parsing stopped. line is 0 when the error is not the parser's. */
struct cr_csv_error {
	size_t line;
	char reason[96];
};

/* Called once per record in file order; a non-CR_OK return stops parsing and is returned. */
typedef enum cr_err (*cr_csv_record_fn)(const struct cr_csv_record *rec, void *arg);

/*
 * Parses buf[0..len) and calls fn for each record. Returns CR_OK after the last
 * record; CR_ERR_INVALID (malformed) or CR_ERR_TOOBIG (a cap exceeded) with
 * err->line and err->reason filled; or whatever fn returned (err->line 0).
 * Records before a syntax error have been delivered; nothing after it is.
 * err may be NULL.
 */
enum cr_err cr_csv_parse(const char *buf, size_t len, cr_csv_record_fn fn, void *arg,
    struct cr_csv_error *err);

#endif
