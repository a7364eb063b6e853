/*
 * csv.c - incremental RFC 4180 parser, type inference and declared
 * schemas, shared by the client and the enclave; see csv.h for the
 * accepted format and the contracts.
 *
 * The parser is a byte-at-a-time state machine, so chunk boundaries can
 * fall anywhere (inside a quote, a CRLF, a UTF-8 sequence or the byte
 * order mark) without changing the result.  Each byte goes through, in
 * order: the BOM filter (only at the start of input), the NUL check, the
 * UTF-8 validator, then the CSV state machine.
 *
 * Invariants:
 *   - buf[0..buflen) holds the fields of the current record, each
 *     followed by a NUL; start[i]/len[i] locate field i (< nfields).
 *     buflen <= CSV_MAX_RECORD_BYTES + CDR_MAX_COLUMNS.
 *   - nfields <= CDR_MAX_COLUMNS.
 *   - Blank records (one unquoted empty field) are not delivered at
 *     once: they are counted in pending_blank and delivered just before
 *     the next non-blank record, or dropped at the end of input.  They
 *     are consecutive physical lines starting at pending_line.
 *   - err_rc != 0 means the parser has failed; it stays failed.
 *   - Every buffer that held field bytes is wiped before it is freed or
 *     replaced (grown), since the CSV is confidential; between records
 *     it is reused as it is, the next record overwriting the last.
 *   - The fast path (plain_run) copies runs of bytes that would only be
 *     appended to the current field one by one; it is taken only inside
 *     a field (so after the BOM filter) with no UTF-8 sequence open.
 */
#include "csv.h"
#include "utf8.h"
#include "util.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum csv_state {
  ST_FIELD_START, /* at the first byte of a field */
  ST_UNQUOTED,    /* inside an unquoted field */
  ST_QUOTED,      /* inside a quoted field */
  ST_QUOTE_SEEN,  /* a '"' inside a quoted field: end or escape */
  ST_CR,          /* a CR outside quotes: LF must follow */
};

struct csv_parser {
  csv_record_fn fn;
  void *arg;

  unsigned bom_seen;  /* 0..2: BOM bytes held so far; 3: decided */
  struct cdr_utf8_state u8;
  enum csv_state state;
  uint64_t line;      /* physical line of the next byte (1-based) */

  int in_record;
  uint64_t rec_line;  /* line on which the current record started */
  int rec_quoted;     /* some field of the record was quoted */

  char *buf;
  size_t buflen, bufcap;
  size_t field_start;
  size_t start[CDR_MAX_COLUMNS];
  size_t len[CDR_MAX_COLUMNS];
  const char *ptr[CDR_MAX_COLUMNS];
  size_t nfields;

  uint64_t pending_blank;
  uint64_t pending_line;

  int header_seen;
  size_t ncols;
  uint64_t nrecords;  /* data records delivered */

  int err_rc;
  char err[CDR_MAX_ERROR_MSG];
};

static const uint8_t utf8_bom[3] = {0xEF, 0xBB, 0xBF};

/* Record the first error; returns CDR_ERR_CSV. */
static int __attribute__((format(printf, 2, 3))) csv_fail(struct csv_parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof(p->err), fmt, ap);
  va_end(ap);
  p->err_rc = CDR_ERR_CSV;
  return CDR_ERR_CSV;
}

int csv_parser_new(struct csv_parser **out, csv_record_fn fn, void *arg) {
  struct csv_parser *p;
  *out = NULL;
  if ((p = calloc(1, sizeof(*p))) == NULL)
    return CDR_ERR_NOMEM;
  p->fn = fn;
  p->arg = arg;
  p->u8 = (struct cdr_utf8_state)CDR_UTF8_INIT;
  p->line = 1;
  *out = p;
  return 0;
}

void csv_parser_free(struct csv_parser *p) {
  if (p == NULL)
    return;
  if (p->buf != NULL)
    OPENSSL_clear_free(p->buf, p->bufcap);
  OPENSSL_cleanse(p, sizeof(*p));
  free(p);
}

const char *csv_parser_error(const struct csv_parser *p) { return p->err; }

/* Append one byte to the current field. */
static inline int buf_putc(struct csv_parser *p, char c) {
  if (__builtin_expect(p->buflen >= p->bufcap, 0)) {
    /* The record cap plus one NUL per field bounds the buffer. */
    size_t max = CSV_MAX_RECORD_BYTES + CDR_MAX_COLUMNS;
    if (p->buflen - p->nfields >= CSV_MAX_RECORD_BYTES || p->bufcap >= max)
      return csv_fail(p, "line %llu: record is longer than %zu bytes", (unsigned long long)p->rec_line,
                      CSV_MAX_RECORD_BYTES);
    size_t ncap = p->bufcap ? p->bufcap : 1024;
    while (ncap <= p->buflen)
      ncap = ncap > max / 2 ? max : ncap * 2;
    char *nb = malloc(ncap);
    if (nb == NULL) {
      p->err_rc = CDR_ERR_NOMEM;
      return CDR_ERR_NOMEM;
    }
    if (p->buf != NULL) {
      memcpy(nb, p->buf, p->buflen);
      OPENSSL_clear_free(p->buf, p->bufcap);
    }
    p->buf = nb;
    p->bufcap = ncap;
  }
  p->buf[p->buflen++] = c;
  return 0;
}

/* Append n bytes of field data: a copy while they fit the buffer, else
 * byte by byte through buf_putc and its growth and cap rules. */
static int buf_put_run(struct csv_parser *p, const uint8_t *d, size_t n) {
  int r;
  if (p->bufcap - p->buflen >= n) {
    memcpy(p->buf + p->buflen, d, n);
    p->buflen += n;
    return 0;
  }
  for (size_t k = 0; k < n; k++)
    if ((r = buf_putc(p, (char)d[k])) != 0)
      return r;
  return 0;
}

/* The length of the run of bytes at d that change nothing but the
 * current field: printable ASCII other than '"' (and ',' outside
 * quotes).  Everything else (controls, NUL, CR, LF, non-ASCII for the
 * UTF-8 validator) goes through csv_byte. */
static size_t plain_run(const uint8_t *d, size_t n, int quoted) {
  size_t k = 0;
  if (quoted)
    while (k < n && d[k] >= 0x20 && d[k] < 0x80 && d[k] != '"')
      k++;
  else
    while (k < n && d[k] >= 0x20 && d[k] < 0x80 && d[k] != '"' && d[k] != ',')
      k++;
  return k;
}

/* Close the current field (NUL-terminate it and record where it is). */
static int end_field(struct csv_parser *p) {
  int r;
  if (p->nfields >= CDR_MAX_COLUMNS) {
    if (p->header_seen)
      return csv_fail(p, "line %llu: expected %zu fields, found more than %u", (unsigned long long)p->rec_line,
                      p->ncols, CDR_MAX_COLUMNS);
    return csv_fail(p, "line %llu: more than %u columns", (unsigned long long)p->rec_line, CDR_MAX_COLUMNS);
  }
  size_t flen = p->buflen - p->field_start;
  if ((r = buf_putc(p, '\0')) != 0)
    return r;
  p->start[p->nfields] = p->field_start;
  p->len[p->nfields] = flen;
  p->nfields++;
  p->field_start = p->buflen;
  return 0;
}

/* The header's rules: names non-empty, not too long, distinct ignoring
 * ASCII case (SQLite identifiers are case-insensitive in ASCII only). */
static int check_header(struct csv_parser *p, uint64_t line, size_t n, const char *const *f, const size_t *len) {
  for (size_t i = 0; i < n; i++) {
    if (len[i] == 0)
      return csv_fail(p, "line %llu: column %zu has an empty name", (unsigned long long)line, i + 1);
    if (len[i] > CSV_MAX_NAME_LEN)
      return csv_fail(p, "line %llu: the name of column %zu is longer than %u bytes", (unsigned long long)line,
                      i + 1, CSV_MAX_NAME_LEN);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (len[i] == len[j] && cdr_ascii_casecmp(f[i], f[j]) == 0)
        return csv_fail(p, "line %llu: columns %zu and %zu have the same name (column names are case-insensitive)",
                        (unsigned long long)line, i + 1, j + 1);
  return 0;
}

/* Check a record against the header rules and hand it to the callback. */
static int deliver_one(struct csv_parser *p, uint64_t line, size_t n, const char *const *f, const size_t *len) {
  struct csv_record rec;
  int r;
  if (!p->header_seen) {
    if ((r = check_header(p, line, n, f, len)) != 0)
      return r;
    p->header_seen = 1;
    p->ncols = n;
    rec.index = 0;
  } else {
    if (n != p->ncols)
      return csv_fail(p, "line %llu: expected %zu fields, found %zu", (unsigned long long)line, p->ncols, n);
    rec.index = ++p->nrecords;
  }
  rec.line = line;
  rec.nfields = n;
  rec.field = f;
  rec.len = len;
  if ((r = p->fn(p->arg, &rec)) != 0)
    p->err_rc = r;
  return r;
}

/* The current record is complete. */
static int end_record(struct csv_parser *p) {
  static const char *const blank_field[1] = {""};
  static const size_t blank_len[1] = {0};
  int r;

  p->in_record = 0;
  if (p->nfields == 1 && p->len[0] == 0 && !p->rec_quoted) {
    if (p->pending_blank++ == 0)
      p->pending_line = p->rec_line;
    return 0;
  }
  for (uint64_t i = 0; i < p->pending_blank; i++)
    if ((r = deliver_one(p, p->pending_line + i, 1, blank_field, blank_len)) != 0)
      return r;
  p->pending_blank = 0;
  for (size_t i = 0; i < p->nfields; i++)
    p->ptr[i] = p->buf + p->start[i];
  return deliver_one(p, p->rec_line, p->nfields, p->ptr, p->len);
}

/* Outside quotes, ',' ends a field, CR ends it and must be followed by
 * LF, and LF ends it and the record.  1 if c is one of them (handled;
 * *r is how it went), 0 if not. */
static int field_delimiter(struct csv_parser *p, uint8_t c, int *r) {
  if (c == ',') {
    *r = end_field(p);
    p->state = ST_FIELD_START;
  } else if (c == '\r') {
    *r = end_field(p);
    p->state = ST_CR;
  } else if (c == '\n') {
    if ((*r = end_field(p)) == 0)
      *r = end_record(p);
  } else {
    return 0;
  }
  return 1;
}

/* One byte of CSV after the BOM filter. */
static int csv_byte(struct csv_parser *p, uint8_t c) {
  int r = 0;

  if (!p->in_record) {
    p->in_record = 1;
    p->rec_line = p->line;
    p->rec_quoted = 0;
    p->nfields = 0;
    p->buflen = 0; /* the next record overwrites this one */
    p->field_start = 0;
    p->state = ST_FIELD_START;
  }
  if (c == 0)
    return csv_fail(p, "line %llu: NUL byte in the data", (unsigned long long)p->rec_line);
  if (!cdr_utf8_step(&p->u8, c))
    return csv_fail(p, "line %llu: invalid UTF-8", (unsigned long long)p->rec_line);

  switch (p->state) {
  case ST_FIELD_START:
  case ST_UNQUOTED:
    if (field_delimiter(p, c, &r))
      break;
    if (c == '"') {
      if (p->state == ST_UNQUOTED)
        return csv_fail(p, "line %llu: field %zu: quote character inside an unquoted field",
                        (unsigned long long)p->rec_line, p->nfields + 1);
      p->rec_quoted = 1;
      p->state = ST_QUOTED;
    } else {
      r = buf_putc(p, (char)c);
      p->state = ST_UNQUOTED;
    }
    break;
  case ST_QUOTED:
    if (c == '"')
      p->state = ST_QUOTE_SEEN;
    else
      r = buf_putc(p, (char)c);
    break;
  case ST_QUOTE_SEEN:
    if (c == '"') {
      r = buf_putc(p, '"');
      p->state = ST_QUOTED;
    } else if (!field_delimiter(p, c, &r)) {
      return csv_fail(p, "line %llu: field %zu: unexpected character after a closing quote",
                      (unsigned long long)p->rec_line, p->nfields + 1);
    }
    break;
  case ST_CR:
    if (c != '\n')
      return csv_fail(p, "line %llu: carriage return not followed by a line feed", (unsigned long long)p->rec_line);
    r = end_record(p);
    break;
  }
  if (c == '\n')
    p->line++;
  return r;
}

int csv_parser_feed(struct csv_parser *p, const uint8_t *data, size_t len) {
  int r;
  if (p->err_rc != 0)
    return p->err_rc;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = data[i];
    /* Fast path: inside a field, copy a run of plain bytes at once.  Same
     * result as feeding them one by one (no state, line or UTF-8
     * change). */
    if (p->in_record && p->u8.need == 0 && (p->state == ST_UNQUOTED || p->state == ST_QUOTED)) {
      size_t k = plain_run(data + i, len - i, p->state == ST_QUOTED);
      if (k > 0) {
        if ((r = buf_put_run(p, data + i, k)) != 0)
          return r;
        i += k - 1;
        continue;
      }
    }
    if (p->bom_seen < 3) {
      if (c == utf8_bom[p->bom_seen]) {
        p->bom_seen++;
        continue;
      }
      /* Not a BOM after all: replay the bytes held back. */
      unsigned held = p->bom_seen;
      p->bom_seen = 3;
      for (unsigned j = 0; j < held; j++)
        if ((r = csv_byte(p, utf8_bom[j])) != 0)
          return r;
    }
    if ((r = csv_byte(p, c)) != 0)
      return r;
  }
  return 0;
}

int csv_parser_finish(struct csv_parser *p) {
  int r;
  if (p->err_rc != 0)
    return p->err_rc;
  if (p->bom_seen < 3) {
    unsigned held = p->bom_seen;
    p->bom_seen = 3;
    for (unsigned j = 0; j < held; j++)
      if ((r = csv_byte(p, utf8_bom[j])) != 0)
        return r;
  }
  if (p->u8.need > 0)
    return csv_fail(p, "line %llu: invalid UTF-8 (truncated at the end of the data)", (unsigned long long)p->rec_line);
  if (p->in_record) {
    switch (p->state) {
    case ST_QUOTED:
      return csv_fail(p, "line %llu: field %zu: unterminated quoted field", (unsigned long long)p->rec_line,
                      p->nfields + 1);
    case ST_CR:
      return csv_fail(p, "line %llu: carriage return not followed by a line feed", (unsigned long long)p->rec_line);
    case ST_FIELD_START:
    case ST_UNQUOTED:
    case ST_QUOTE_SEEN:
      if ((r = end_field(p)) != 0 || (r = end_record(p)) != 0)
        return r;
      break;
    }
  }
  p->pending_blank = 0; /* trailing blank lines are ignored */
  if (!p->header_seen)
    return csv_fail(p, "line 1: no header row (the CSV is empty)");
  return 0;
}

/* ---- value classification ---- */

int csv_parse_int64(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  uint64_t v = 0;
  /* 2^63: the magnitude of INT64_MIN. */
  const uint64_t lim = (uint64_t)INT64_MAX + 1;

  if (len > 0 && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == len)
    return -1;
  if (s[i] == '0' && i + 1 < len)
    return -1; /* redundant leading zero */
  for (; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (lim - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  if (!neg && v > (uint64_t)INT64_MAX)
    return -1;
  if (neg)
    *out = v == lim ? INT64_MIN : -(int64_t)v;
  else
    *out = (int64_t)v;
  return 0;
}

int csv_parse_real(const char *s, size_t len, double *out) {
  size_t i = 0, digits = 0;
  char *end;
  double v;

  if (len == 0 || s[len] != '\0')
    return -1;
  for (size_t k = 0; k < len; k++) {
    char c = s[k];
    if (c >= '0' && c <= '9')
      digits++;
    else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E')
      return -1;
  }
  if (digits == 0)
    return -1;
  if (s[0] == '+' || s[0] == '-')
    i = 1;
  if (i + 1 < len && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9')
    return -1; /* redundant leading zero */
  /* Underflow (ERANGE with a tiny finite result) is accepted. */
  v = strtod(s, &end);
  if (end != s + len || !isfinite(v))
    return -1;
  *out = v;
  return 0;
}

const char *csv_type_name(enum csv_type t) {
  switch (t) {
  case CSV_INTEGER:
    return "INTEGER";
  case CSV_REAL:
    return "REAL";
  case CSV_TEXT:
    break;
  }
  return "TEXT";
}

/* ---- type inference ---- */

struct csv_infer {
  struct csv_parser *p;
  struct csv_schema s;
  uint8_t *may_int, *may_real, *seen;
  char err[CDR_MAX_ERROR_MSG];
};

static int infer_record(void *arg, const struct csv_record *rec) {
  struct csv_infer *c = arg;
  struct csv_schema *s = &c->s;

  if (rec->index == 0) {
    size_t n = rec->nfields;
    if ((s->names = calloc(n, sizeof(*s->names))) == NULL || (s->types = calloc(n, sizeof(*s->types))) == NULL ||
        (c->may_int = malloc(n)) == NULL || (c->may_real = malloc(n)) == NULL || (c->seen = calloc(n, 1)) == NULL)
      return CDR_ERR_NOMEM;
    s->ncols = n;
    for (size_t i = 0; i < n; i++) {
      if ((s->names[i] = strdup(rec->field[i])) == NULL)
        return CDR_ERR_NOMEM;
      c->may_int[i] = c->may_real[i] = 1;
    }
    return 0;
  }
  s->nrows = rec->index;
  for (size_t i = 0; i < rec->nfields; i++) {
    int64_t iv;
    double dv;
    if (rec->len[i] == 0)
      continue; /* NULL */
    c->seen[i] = 1;
    if (c->may_int[i] && csv_parse_int64(rec->field[i], rec->len[i], &iv) != 0)
      c->may_int[i] = 0;
    if (!c->may_int[i] && c->may_real[i] && csv_parse_real(rec->field[i], rec->len[i], &dv) != 0)
      c->may_real[i] = 0;
  }
  return 0;
}

void csv_schema_free(struct csv_schema *s) {
  if (s->names != NULL) {
    for (size_t i = 0; i < s->ncols; i++)
      free(s->names[i]);
    free(s->names);
  }
  free(s->types);
  memset(s, 0, sizeof(*s));
}

int csv_schema_copy(struct csv_schema *dst, const struct csv_schema *src) {
  memset(dst, 0, sizeof(*dst));
  if (src->ncols == 0)
    return 0;
  if ((dst->names = calloc(src->ncols, sizeof(*dst->names))) == NULL ||
      (dst->types = calloc(src->ncols, sizeof(*dst->types))) == NULL) {
    csv_schema_free(dst);
    return CDR_ERR_NOMEM;
  }
  dst->ncols = src->ncols;
  for (size_t i = 0; i < src->ncols; i++) {
    dst->types[i] = src->types[i];
    if ((dst->names[i] = strdup(src->names[i])) == NULL) {
      csv_schema_free(dst);
      return CDR_ERR_NOMEM;
    }
  }
  dst->nrows = src->nrows;
  return 0;
}

int csv_infer_new(struct csv_infer **out) {
  struct csv_infer *c;
  int r;
  *out = NULL;
  if ((c = calloc(1, sizeof(*c))) == NULL)
    return CDR_ERR_NOMEM;
  if ((r = csv_parser_new(&c->p, infer_record, c)) != 0) {
    free(c);
    return r;
  }
  *out = c;
  return 0;
}

/* Keep the parser's message: csv_infer_error outlives the parser. */
static int infer_rc(struct csv_infer *c, int r) {
  if (r == CDR_ERR_CSV && c->err[0] == '\0')
    snprintf(c->err, sizeof(c->err), "%s", csv_parser_error(c->p));
  return r;
}

int csv_infer_feed(struct csv_infer *c, const uint8_t *data, size_t len) {
  return infer_rc(c, csv_parser_feed(c->p, data, len));
}

int csv_infer_finish(struct csv_infer *c, struct csv_schema *out) {
  int r;
  memset(out, 0, sizeof(*out));
  if ((r = infer_rc(c, csv_parser_finish(c->p))) != 0)
    return r;
  for (size_t i = 0; i < c->s.ncols; i++) {
    if (!c->seen[i])
      c->s.types[i] = CSV_TEXT;
    else if (c->may_int[i])
      c->s.types[i] = CSV_INTEGER;
    else if (c->may_real[i])
      c->s.types[i] = CSV_REAL;
    else
      c->s.types[i] = CSV_TEXT;
  }
  *out = c->s;
  memset(&c->s, 0, sizeof(c->s));
  return 0;
}

const char *csv_infer_error(const struct csv_infer *c) { return c->err; }

void csv_infer_free(struct csv_infer *c) {
  if (c == NULL)
    return;
  csv_parser_free(c->p);
  csv_schema_free(&c->s);
  free(c->may_int);
  free(c->may_real);
  free(c->seen);
  free(c);
}

int csv_schema_infer(struct csv_schema *out, const uint8_t *data, size_t len, char *err, size_t errlen) {
  struct csv_infer *c = NULL;
  int r;

  memset(out, 0, sizeof(*out));
  if (errlen > 0)
    err[0] = '\0';
  if ((r = csv_infer_new(&c)) != 0)
    return r;
  if ((r = csv_infer_feed(c, data, len)) != 0 || (r = csv_infer_finish(c, out)) != 0) {
    if (r == CDR_ERR_CSV && errlen > 0)
      snprintf(err, errlen, "%s", csv_infer_error(c));
  }
  csv_infer_free(c);
  return r;
}

/* ---- declared schemas ---- */

int csv_type_parse(const char *s, enum csv_type *out) {
  static const enum csv_type types[] = {CSV_INTEGER, CSV_REAL, CSV_TEXT};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    if (cdr_ascii_casecmp(s, csv_type_name(types[i])) == 0) {
      *out = types[i];
      return 0;
    }
  }
  return -1;
}

int csv_value_fits(enum csv_type t, const char *s, size_t len) {
  int64_t iv;
  double dv;
  if (len == 0)
    return 1;
  switch (t) {
  case CSV_INTEGER:
    return csv_parse_int64(s, len, &iv) == 0;
  case CSV_REAL:
    return csv_parse_real(s, len, &dv) == 0;
  case CSV_TEXT:
    break;
  }
  return 1;
}

int csv_schema_check(const struct csv_schema *s, char *err, size_t errlen) {
  if (s->ncols == 0 || s->ncols > CDR_MAX_COLUMNS) {
    snprintf(err, errlen, "a schema names 1 to %u columns", CDR_MAX_COLUMNS);
    return CDR_ERR_ARG;
  }
  for (size_t i = 0; i < s->ncols; i++) {
    size_t n = s->names[i] != NULL ? strlen(s->names[i]) : 0;
    if (n == 0) {
      snprintf(err, errlen, "column %zu of the schema has an empty name", i + 1);
      return CDR_ERR_ARG;
    }
    if (n > CSV_MAX_NAME_LEN || !cdr_utf8_valid((const uint8_t *)s->names[i], n)) {
      snprintf(err, errlen, "the name of column %zu of the schema is not UTF-8 of at most %u bytes", i + 1,
               CSV_MAX_NAME_LEN);
      return CDR_ERR_ARG;
    }
    if (s->types[i] != CSV_TEXT && s->types[i] != CSV_INTEGER && s->types[i] != CSV_REAL) {
      snprintf(err, errlen, "column %zu of the schema has no valid type", i + 1);
      return CDR_ERR_ARG;
    }
    for (size_t j = 0; j < i; j++) {
      if (cdr_ascii_casecmp(s->names[i], s->names[j]) == 0) {
        snprintf(err, errlen,
                 "columns %zu and %zu of the schema have the same name (column names are case-insensitive)", j + 1,
                 i + 1);
        return CDR_ERR_ARG;
      }
    }
  }
  return 0;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int csv_schema_parse(struct csv_schema *out, const char *spec, char *err, size_t errlen) {
  size_t n = 1, k = 0;
  const char *p;
  int r;

  memset(out, 0, sizeof(*out));
  for (p = spec; *p != '\0'; p++)
    if (*p == ',')
      n++;
  if (n > CDR_MAX_COLUMNS) {
    snprintf(err, errlen, "a schema names 1 to %u columns", CDR_MAX_COLUMNS);
    return CDR_ERR_ARG;
  }
  if ((out->names = calloc(n, sizeof(*out->names))) == NULL || (out->types = calloc(n, sizeof(*out->types))) == NULL) {
    csv_schema_free(out);
    return CDR_ERR_NOMEM;
  }
  out->ncols = n;
  for (p = spec; k < n; k++) {
    const char *end = strchr(p, ','), *b, *e, *tstart;
    char tname[16];
    if (end == NULL)
      end = p + strlen(p);
    for (b = p; b < end && is_blank(*b); b++)
      ;
    for (e = end; e > b && is_blank(e[-1]); e--)
      ;
    /* [b, e) is "name TYPE": the type is the last word */
    for (tstart = e; tstart > b && !is_blank(tstart[-1]); tstart--)
      ;
    if (b == e) {
      snprintf(err, errlen, "entry %zu of the schema is empty (expected \"name TYPE\")", k + 1);
      r = CDR_ERR_ARG;
      goto fail;
    }
    if (tstart == b) {
      snprintf(err, errlen,
               "entry %zu of the schema has no type (expected \"name TYPE\", TYPE one of INTEGER, REAL, TEXT)", k + 1);
      r = CDR_ERR_ARG;
      goto fail;
    }
    if ((size_t)(e - tstart) >= sizeof(tname)) {
      tname[0] = '\0';
    } else {
      memcpy(tname, tstart, (size_t)(e - tstart));
      tname[e - tstart] = '\0';
    }
    if (csv_type_parse(tname, &out->types[k]) != 0) {
      snprintf(err, errlen, "entry %zu of the schema: the type must be INTEGER, REAL or TEXT", k + 1);
      r = CDR_ERR_ARG;
      goto fail;
    }
    for (e = tstart; e > b && is_blank(e[-1]); e--)
      ;
    if ((out->names[k] = strndup(b, (size_t)(e - b))) == NULL) {
      r = CDR_ERR_NOMEM;
      goto fail;
    }
    p = *end == ',' ? end + 1 : end;
  }
  if ((r = csv_schema_check(out, err, errlen)) != 0)
    goto fail;
  return 0;
fail:
  csv_schema_free(out);
  return r;
}

/* At most 64 bytes of name s in out, cut at a character boundary. */
static void clip_name(char out[68], const char *s) {
  size_t n = strlen(s);
  if (n > 64) {
    n = 64;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--; /* s[n] would start the cut character: stop before it */
  }
  memcpy(out, s, n);
  memcpy(out + n, n < strlen(s) ? "..." : "", n < strlen(s) ? 4 : 1);
}

int csv_schema_match_header(const struct csv_schema *s, const struct csv_record *rec, char *err, size_t errlen) {
  if (rec->nfields != s->ncols) {
    snprintf(err, errlen, "line %llu: the header has %zu columns but the schema names %zu",
             (unsigned long long)rec->line, rec->nfields, s->ncols);
    return CDR_ERR_CSV;
  }
  for (size_t i = 0; i < s->ncols; i++) {
    if (cdr_ascii_casecmp(rec->field[i], s->names[i]) != 0) {
      /* Names are the table's structure, not data: they may be shown. */
      char h[68], d[68];
      clip_name(h, rec->field[i]);
      clip_name(d, s->names[i]);
      snprintf(err, errlen, "line %llu: column %zu is \"%s\" in the header but \"%s\" in the schema",
               (unsigned long long)rec->line, i + 1, h, d);
      return CDR_ERR_CSV;
    }
  }
  return 0;
}
