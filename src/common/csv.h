/*
 * csv.h - the CSV reader shared by the client and the enclave: an
 * incremental RFC 4180 parser, the type inference that turns a CSV into
 * a table schema, the strict value classifiers that both the inference
 * and the loader use, and declared schemas (`cdr upload --schema`).
 * Pure parsing code: no I/O, no process-specific state.  The client
 * infers with exactly the rules the enclave enforces, so a schema the
 * client inferred from a file is one the enclave accepts for it.
 *
 * The input format (RFC 4180, with the usual relaxations):
 *   - fields are separated by commas and records by CRLF or LF;
 *   - a field may be quoted with '"'; inside quotes, commas, CR and LF
 *     are data and '""' is one quote character;
 *   - the first record is the header and names the columns; every later
 *     record must have exactly as many fields as the header;
 *   - the bytes must be UTF-8 (strictly: no overlong forms, no
 *     surrogates, nothing above U+10FFFF) without NUL; a UTF-8 byte
 *     order mark at the very start is skipped;
 *   - a lone CR (not followed by LF) outside quotes is an error;
 *   - blank lines at the end of the input are ignored.  A blank line
 *     elsewhere is a record with one empty field (a NULL in a one-column
 *     table, a ragged row otherwise).
 *
 * The parser is push-driven: feed it chunks of any size (down to one
 * byte; a boundary may fall inside a record, a quoted field, a CRLF or a
 * UTF-8 sequence) and it calls back once per complete record, so uploads
 * stream with one record in memory.  Error messages start with "line N: ", N being the
 * 1-based physical line on which the failing record starts, and never
 * quote a data value (they may give column numbers).
 */
#ifndef CDR_CSV_H
#define CDR_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

/* Longest column name, in bytes.  With CDR_MAX_COLUMNS this bounds the
 * length of the CREATE TABLE statement the loader builds. */
#define CSV_MAX_NAME_LEN 256u
/* Longest record (all of its field bytes): the parser's only buffer. */
#define CSV_MAX_RECORD_BYTES ((size_t)CDR_MAX_CSV_RECORD)

/* One record, valid only during the callback.  field[i] is
 * NUL-terminated and len[i] bytes long (fields never contain NUL).
 * index is 0 for the header and counts data records from 1. */
struct csv_record {
  uint64_t line;
  uint64_t index;
  size_t nfields;
  const char *const *field;
  const size_t *len;
};

/* Called once per record, in order.  Return 0 to go on; any other value
 * stops the parser and is returned by csv_parser_feed/finish. */
typedef int (*csv_record_fn)(void *arg, const struct csv_record *rec);

struct csv_parser;

/* A parser that delivers records to fn(arg, ...).  0 or CDR_ERR_NOMEM. */
int csv_parser_new(struct csv_parser **out, csv_record_fn fn, void *arg) CDR_WUR;
/* Parse len more bytes.  Returns 0, CDR_ERR_CSV (see csv_parser_error),
 * CDR_ERR_NOMEM or the callback's non-zero value.  Errors are sticky:
 * once one is returned every later call returns it again. */
int csv_parser_feed(struct csv_parser *p, const uint8_t *data, size_t len) CDR_WUR;
/* End of input: delivers the last record if it had no line ending and
 * checks that the input was complete (closed quotes, whole UTF-8
 * sequences, a header).  Same returns as csv_parser_feed. */
int csv_parser_finish(struct csv_parser *p) CDR_WUR;
/* The message of the last CDR_ERR_CSV, or "" if there was none. */
const char *csv_parser_error(const struct csv_parser *p);
/* Wipe the parser's buffers (they held data) and free it.  NULL is ok. */
void csv_parser_free(struct csv_parser *p);

/* Column types, as SQLite spells them (csv_type_name). */
enum csv_type { CSV_TEXT = 0, CSV_INTEGER = 1, CSV_REAL = 2 };
const char *csv_type_name(enum csv_type t);

/* The table a CSV describes. */
struct csv_schema {
  size_t ncols;
  char **names;          /* ncols malloc'd, NUL-terminated names */
  enum csv_type *types;  /* ncols types */
  uint64_t nrows;        /* data records */
};

/* Parse the whole CSV once and infer each column's type from all of its
 * non-empty values: INTEGER if every one passes csv_parse_int64, else
 * REAL if every one passes csv_parse_real, else TEXT (also TEXT if the
 * column has no value at all).  On CDR_ERR_CSV the message (with its
 * line number) is copied into err (errlen bytes, may be truncated).
 * Returns 0, CDR_ERR_CSV or CDR_ERR_NOMEM.  On success the caller frees
 * *out with csv_schema_free; on failure *out is empty. */
int csv_schema_infer(struct csv_schema *out, const uint8_t *data, size_t len, char *err, size_t errlen) CDR_WUR;
void csv_schema_free(struct csv_schema *s);
/* A deep copy of src into *dst (names and types; nrows too).  0 or
 * CDR_ERR_NOMEM (then *dst is empty). */
int csv_schema_copy(struct csv_schema *dst, const struct csv_schema *src) CDR_WUR;

/* The same inference over a CSV that arrives in pieces (a file read in
 * chunks: memory stays one record).  feed/finish return 0, CDR_ERR_CSV
 * (message in csv_infer_error) or CDR_ERR_NOMEM, stickily; finish moves
 * the schema into *out (the caller frees it with csv_schema_free). */
struct csv_infer;
int csv_infer_new(struct csv_infer **out) CDR_WUR;
int csv_infer_feed(struct csv_infer *c, const uint8_t *data, size_t len) CDR_WUR;
int csv_infer_finish(struct csv_infer *c, struct csv_schema *out) CDR_WUR;
const char *csv_infer_error(const struct csv_infer *c);
/* Wipe and free (the parser's record held data).  NULL is ok. */
void csv_infer_free(struct csv_infer *c);

/* A type name, "INTEGER", "REAL" or "TEXT" without ASCII case: 0 and
 * *out, or -1. */
int csv_type_parse(const char *s, enum csv_type *out);
/* 1 if the non-empty value s[0..len) (s[len] == '\0') may be stored in
 * a column of type t: INTEGER needs csv_parse_int64, REAL csv_parse_real
 * (which also takes integers), TEXT takes anything.  The empty value is
 * NULL and fits every type. */
int csv_value_fits(enum csv_type t, const char *s, size_t len);

/* Check a declared schema against the header's rules: 1..CDR_MAX_COLUMNS
 * columns, names non-empty, at most CSV_MAX_NAME_LEN bytes of UTF-8
 * without NUL, distinct without ASCII case.  0, or CDR_ERR_ARG with a
 * sentence in err. */
int csv_schema_check(const struct csv_schema *s, char *err, size_t errlen) CDR_WUR;
/* Parse a schema declaration "name TYPE, name TYPE, ..." (`cdr upload
 * --schema`): entries separated by commas; in each, the last word is
 * the type (csv_type_parse) and what precedes it, blanks trimmed, the
 * name (it may contain spaces, not commas).  The result passes
 * csv_schema_check.  0, CDR_ERR_ARG (sentence in err) or CDR_ERR_NOMEM. */
int csv_schema_parse(struct csv_schema *out, const char *spec, char *err, size_t errlen) CDR_WUR;
/* Do the header's column names rec->field[0..nfields) match the schema's,
 * in count and (without ASCII case) in order?  0, or CDR_ERR_CSV with a
 * sentence that starts "line N: " in err. */
int csv_schema_match_header(const struct csv_schema *s, const struct csv_record *rec, char *err, size_t errlen) CDR_WUR;

/* s[0..len) is a decimal integer that fits int64: an optional sign, then
 * one or more digits, nothing else (no spaces).  A redundant leading
 * zero ("007", "-01") does not count, so that codes such as ZIP codes
 * keep their zeros as TEXT.  Returns 0 and sets *out, or -1. */
int csv_parse_int64(const char *s, size_t len, int64_t *out);
/* s[0..len) is a finite decimal number that strtod consumes entirely:
 * only digits, sign, '.', 'e' or 'E' (no hex, inf, nan, spaces), at
 * least one digit, no redundant leading zero.  Returns 0 and sets *out,
 * or -1.  s[len] must be readable and be '\0'. */
int csv_parse_real(const char *s, size_t len, double *out);

#endif
