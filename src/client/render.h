/*
 * render.h - printing a query result (PROTOCOL 4.7, "Response
 * plaintext") as CSV, an aligned table, or JSON.
 *
 * A result is {"columns":[names...],"rows":[[values...]...],"row_count":n}
 * where a value is a JSON integer, number, string, null, or {"hex":"..."}
 * (a BLOB, or TEXT that is not valid UTF-8).
 *
 * Cell text (CSV and table):  null -> empty (CSV) / "NULL" (table);
 * integer -> decimal; real -> shortest text that reads back to the same
 * double (cdr_real_precision), with ".0" added when it would look like an
 * integer;
 * {"hex":"ab"} -> "\xab"; strings as they are.
 *
 * CSV follows RFC 4180 for fields: a header row, and a field is quoted
 * (with "" for ") when it contains a comma, quote, CR or LF, or is the
 * empty string (so that an empty string differs from NULL).  Records end
 * with LF, not RFC 4180's CRLF, as Unix tools expect; quoted fields keep
 * their own CR and LF bytes, so any RFC 4180 reader parses the output.
 *
 * The table is for a terminal, and values come from other parties: every
 * control character (C0, DEL, C1) is shown escaped (\n, \t, \r, \xNN,
 * \u0085) so that data cannot move the cursor or send escape sequences.
 */
#ifndef CDR_RENDER_H
#define CDR_RENDER_H

#include <jansson.h>
#include <stdio.h>

#include "common/err.h"

/* 0 if result has the shape above (every row as long as columns). */
int cdr_result_check(const json_t *result) CDR_WUR;
/* (Also for a result-shaped object a command builds from a listing.) */
int cdr_render_csv(FILE *f, const json_t *result) CDR_WUR;
int cdr_render_table(FILE *f, const json_t *result) CDR_WUR;
/* The result object as compact JSON and a newline; every real in the
 * shortest form that reads back to the same double (4865.1, not
 * 4865.1000000000004), as in CSV and the table. */
int cdr_render_json(FILE *f, const json_t *result) CDR_WUR;
/* Any JSON value the same way; flags are jansson's (JSON_ENSURE_ASCII). */
int cdr_render_json_value(FILE *f, const json_t *v, size_t flags) CDR_WUR;
/* The fewest significant digits (1..17) with which "%.*g" reads back to
 * exactly d (17 for inf and nan). */
int cdr_real_precision(double d);

/* A paged result printed as its pages arrive (client.h,
 * cdr_client_cursor_read): begin with the query's result object (its
 * columns), then each page's rows, then end.  CSV and JSON are the bytes
 * cdr_render_csv and cdr_render_json print for the same rows unpaged;
 * the table, aligned over its rows, is printed a page at a time, each
 * page a table with its own header. */
enum cdr_render_format { CDR_RENDER_CSV, CDR_RENDER_JSON, CDR_RENDER_TABLE };
struct cdr_render_stream {
  FILE *f;
  enum cdr_render_format format;
  const json_t *columns; /* borrowed from the result object */
  unsigned long long rows;
};
int cdr_render_stream_begin(struct cdr_render_stream *rs, FILE *f, enum cdr_render_format format,
                            const json_t *result) CDR_WUR;
int cdr_render_stream_rows(struct cdr_render_stream *rs, const json_t *rows) CDR_WUR;
int cdr_render_stream_end(struct cdr_render_stream *rs) CDR_WUR;

/* The cell text of one value (see above); malloc'd, and result
 * plaintext: wipe it before freeing it. */
int cdr_value_text(char **out, const json_t *v, int for_table) CDR_WUR;

#endif
