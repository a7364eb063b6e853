/*
 * render.c - query results as CSV, table or JSON; see render.h for the
 * rules.  The table renderer holds every cell's text at once (results
 * are capped at CDR_MAX_RESULT_BYTES by the enclave), to size columns.
 * A result is plaintext: every copy of a value made here is wiped when it
 * is freed (render_text_free) or goes out of scope.
 */
#include "render.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "common/json_get.h"

int cdr_result_check(const json_t *result) {
  json_t *cols = json_object_get(result, "columns"), *rows = json_object_get(result, "rows");
  size_t i, nc;
  json_t *v;
  if (!json_is_object(result) || !json_is_array(cols) || !json_is_array(rows))
    return CDR_ERR_BAD_JSON;
  nc = json_array_size(cols);
  json_array_foreach(cols, i, v) if (!json_is_string(v)) return CDR_ERR_BAD_JSON;
  json_array_foreach(rows, i, v) if (!json_is_array(v) || json_array_size(v) != nc) return CDR_ERR_BAD_JSON;
  return 0;
}

/* Free a value's text, wiping it first. */
static void render_text_free(char *s) {
  if (s == NULL)
    return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

int cdr_real_precision(double d) {
  char buf[64];
  int prec;
  if (!isfinite(d))
    return 17;
  for (prec = 1; prec < 17; prec++) {
    snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (strtod(buf, NULL) == d)
      break;
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return prec;
}

static char *real_text(double d) {
  char buf[64];
  if (isnan(d))
    return strdup("nan");
  if (isinf(d))
    return strdup(d > 0 ? "inf" : "-inf");
  snprintf(buf, sizeof(buf), "%.*g", cdr_real_precision(d), d);
  /* The exponent as jansson writes it in JSON: no '+', no leading zeros
   * ("1e301", "1e-7"), so that CSV, table and JSON show the same text. */
  char *e = strchr(buf, 'e');
  if (e != NULL) {
    char *dst = e + 1, *src = e + 1;
    if (*src == '+')
      src++;
    else if (*src == '-')
      dst = ++src;
    while (*src == '0' && src[1] != '\0')
      src++;
    memmove(dst, src, strlen(src) + 1);
  }
  size_t n = strlen(buf);
  if (strpbrk(buf, ".en") == NULL && n + 3 <= sizeof(buf))
    memcpy(buf + n, ".0", 3);
  char *out = strdup(buf);
  OPENSSL_cleanse(buf, sizeof(buf));
  return out;
}

int cdr_value_text(char **out, const json_t *v, int for_table) {
  char buf[32];
  const char *hex;
  *out = NULL;
  switch (json_typeof(v)) {
  case JSON_NULL:
    *out = strdup(for_table ? "NULL" : "");
    break;
  case JSON_INTEGER:
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    *out = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    break;
  case JSON_REAL:
    *out = real_text(json_real_value(v));
    break;
  case JSON_STRING:
    *out = strdup(json_string_value(v));
    break;
  case JSON_TRUE:
  case JSON_FALSE:
    *out = strdup(json_is_true(v) ? "true" : "false");
    break;
  case JSON_OBJECT:
    if (json_object_size(v) == 1 && (hex = cdr_json_get_cstr_opt(v, "real")) != NULL &&
        (strcmp(hex, "inf") == 0 || strcmp(hex, "-inf") == 0 || strcmp(hex, "nan") == 0)) {
      *out = strdup(hex); /* a non-finite REAL (PROTOCOL 4.7) */
      break;
    }
    if (json_object_size(v) == 1 && (hex = cdr_json_get_cstr_opt(v, "hex")) != NULL) {
      size_t n = strlen(hex) + 3;
      if ((*out = malloc(n)) != NULL)
        snprintf(*out, n, "\\x%s", hex);
      break;
    }
    /* anything else is shown as its JSON */
    *out = cj_dump(v);
    break;
  default:
    *out = cj_dump(v);
    break;
  }
  return *out ? 0 : CDR_ERR_NOMEM;
}

/* ---- CSV ---- */

static void csv_field(FILE *f, const char *s, int is_null) {
  if (is_null)
    return;
  if (*s != '\0' && strpbrk(s, ",\"\r\n") == NULL) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static int csv_rows(FILE *f, const json_t *rows);

static void csv_header(FILE *f, const json_t *cols) {
  const json_t *v;
  size_t k;
  json_array_foreach(cols, k, v) {
    if (k > 0)
      fputc(',', f);
    csv_field(f, json_string_value(v), 0);
  }
  fputs("\r\n", f);
}

int cdr_render_csv(FILE *f, const json_t *result) {
  int r;
  if ((r = cdr_result_check(result)) != 0)
    return r;
  csv_header(f, json_object_get(result, "columns"));
  return csv_rows(f, json_object_get(result, "rows"));
}

/* Each row of rows (checked) as a CSV record. */
static int csv_rows(FILE *f, const json_t *rows) {
  const json_t *row, *v;
  size_t i, k;
  char *text;
  int r;
  json_array_foreach(rows, i, row) {
    json_array_foreach(row, k, v) {
      if (k > 0)
        fputc(',', f);
      if ((r = cdr_value_text(&text, v, 0)) != 0)
        return r;
      csv_field(f, text, json_is_null(v));
      render_text_free(text);
    }
    fputs("\r\n", f);
  }
  return ferror(f) ? CDR_ERR_IO : 0;
}

/* ---- table ---- */

/* s with control characters escaped (render.h); malloc'd. */
static char *table_escape(const char *s) {
  size_t n = strlen(s), o = 0;
  const unsigned char *p = (const unsigned char *)s;
  char *out;
  if (n > (SIZE_MAX - 1) / 6 || (out = malloc(6 * n + 1)) == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = p[i];
    if (ch == '\n' || ch == '\t' || ch == '\r') {
      out[o++] = '\\';
      out[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
    } else if (ch < 0x20 || ch == 0x7f) {
      o += (size_t)snprintf(out + o, 5, "\\x%02x", ch);
    } else if (ch == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
      o += (size_t)snprintf(out + o, 7, "\\u%04x", p[i + 1]);
      i++;
    } else {
      out[o++] = (char)ch;
    }
  }
  out[o] = '\0';
  return out;
}

/* Display width: code points of UTF-8 text. */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      w++;
  return w;
}

static void pad(FILE *f, size_t n) {
  while (n-- > 0)
    fputc(' ', f);
}

/* One cell padded to width; the last cell of a line gets no trailing
 * padding. */
static void table_cell(FILE *f, const char *s, size_t width, int right, int last) {
  size_t w = text_width(s);
  if (right)
    pad(f, width > w ? width - w : 0);
  fputs(s, f);
  if (!right && !last)
    pad(f, width > w ? width - w : 0);
}

int cdr_render_table(FILE *f, const json_t *result) {
  json_t *cols, *rows, *row, *v, *rc;
  size_t nc, nr, i, k;
  char **cells = NULL, **heads = NULL;
  size_t *width = NULL;
  int *right = NULL;
  int r;

  if ((r = cdr_result_check(result)) != 0)
    return r;
  cols = json_object_get(result, "columns");
  rows = json_object_get(result, "rows");
  nc = json_array_size(cols);
  nr = json_array_size(rows);
  r = CDR_ERR_NOMEM;
  if (nc > 0 && nr > SIZE_MAX / sizeof(char *) / nc)
    goto out;
  heads = calloc(nc + 1, sizeof(char *));
  cells = calloc(nr * nc + 1, sizeof(char *));
  width = calloc(nc + 1, sizeof(size_t));
  right = calloc(nc + 1, sizeof(int));
  if (heads == NULL || cells == NULL || width == NULL || right == NULL)
    goto out;
  json_array_foreach(cols, k, v) {
    if ((heads[k] = table_escape(json_string_value(v))) == NULL)
      goto out;
    width[k] = text_width(heads[k]);
    right[k] = 1;
  }
  json_array_foreach(rows, i, row) {
    json_array_foreach(row, k, v) {
      char *raw = NULL;
      if ((r = cdr_value_text(&raw, v, 1)) != 0)
        goto out;
      cells[i * nc + k] = table_escape(raw);
      render_text_free(raw);
      r = CDR_ERR_NOMEM;
      if (cells[i * nc + k] == NULL)
        goto out;
      size_t w = text_width(cells[i * nc + k]);
      if (w > width[k])
        width[k] = w;
      if (!json_is_number(v) && !json_is_null(v))
        right[k] = 0;
    }
  }
  if (nc > 0) {
    for (k = 0; k < nc; k++) {
      if (k > 0)
        fputs(" | ", f);
      table_cell(f, heads[k], width[k], 0, k + 1 == nc);
    }
    fputc('\n', f);
    for (k = 0; k < nc; k++) {
      if (k > 0)
        fputs("-+-", f);
      for (size_t d = 0; d < width[k]; d++)
        fputc('-', f);
    }
    fputc('\n', f);
    for (i = 0; i < nr; i++) {
      for (k = 0; k < nc; k++) {
        if (k > 0)
          fputs(" | ", f);
        table_cell(f, cells[i * nc + k], width[k], right[k], k + 1 == nc);
      }
      fputc('\n', f);
    }
  }
  rc = json_object_get(result, "row_count");
  json_int_t count = json_is_integer(rc) ? json_integer_value(rc) : (json_int_t)nr;
  fprintf(f, "(%" JSON_INTEGER_FORMAT " %s)\n", count, count == 1 ? "row" : "rows");
  r = ferror(f) ? CDR_ERR_IO : 0;
out:
  if (heads != NULL)
    for (k = 0; k < nc; k++)
      render_text_free(heads[k]);
  if (cells != NULL)
    for (i = 0; i < nr * nc; i++)
      render_text_free(cells[i]);
  free(heads);
  free(cells);
  free(width);
  free(right);
  return r;
}

/* One scalar as jansson writes it, a real with its own shortest
 * precision (jansson's JSON_REAL_PRECISION is one value per dump). */
static int json_scalar(FILE *f, const json_t *v, size_t flags) {
  char *text;
  if (json_is_real(v))
    flags |= JSON_REAL_PRECISION(cdr_real_precision(json_real_value(v)));
  if ((text = json_dumps(v, flags | JSON_ENCODE_ANY)) == NULL)
    return CDR_ERR_NOMEM;
  fputs(text, f);
  cdr_json_text_free(text);
  return 0;
}

/* v as compact JSON: structure written here, every scalar and key by
 * jansson (its escaping), so each real gets its own precision. */
static int json_emit(FILE *f, const json_t *v, size_t flags) {
  const char *key;
  json_t *item, *ks;
  size_t i;
  int r;
  if (json_is_object(v)) {
    i = 0;
    fputc('{', f);
    json_object_foreach((json_t *)v, key, item) {
      if ((ks = json_string(key)) == NULL)
        return CDR_ERR_NOMEM;
      if (i++ > 0)
        fputc(',', f);
      r = json_scalar(f, ks, flags);
      json_decref(ks);
      if (r != 0)
        return r;
      fputc(':', f);
      if ((r = json_emit(f, item, flags)) != 0)
        return r;
    }
    fputc('}', f);
    return 0;
  }
  if (json_is_array(v)) {
    fputc('[', f);
    json_array_foreach(v, i, item) {
      if (i > 0)
        fputc(',', f);
      if ((r = json_emit(f, item, flags)) != 0)
        return r;
    }
    fputc(']', f);
    return 0;
  }
  return json_scalar(f, v, flags);
}

int cdr_render_json_value(FILE *f, const json_t *v, size_t flags) {
  int r = json_emit(f, v, flags | JSON_COMPACT);
  if (r != 0)
    return r;
  fputc('\n', f);
  return ferror(f) ? CDR_ERR_IO : 0;
}

int cdr_render_json(FILE *f, const json_t *result) { return cdr_render_json_value(f, result, 0); }

/* ---- a paged result, as its pages arrive ---- */

int cdr_render_stream_begin(struct cdr_render_stream *rs, FILE *f, enum cdr_render_format format,
                            const json_t *result) {
  const json_t *cols = json_object_get(result, "columns"), *v;
  size_t k;
  int r;
  memset(rs, 0, sizeof(*rs));
  rs->f = f;
  rs->format = format;
  rs->columns = cols;
  if (!json_is_array(cols))
    return CDR_ERR_BAD_JSON;
  json_array_foreach(cols, k, v) if (!json_is_string(v)) return CDR_ERR_BAD_JSON;
  if (format == CDR_RENDER_CSV) {
    csv_header(f, cols);
  } else if (format == CDR_RENDER_JSON) {
    fputs("{\"columns\":", f);
    if ((r = json_emit(f, cols, JSON_COMPACT)) != 0)
      return r;
    fputs(",\"rows\":[", f);
  }
  return ferror(f) ? CDR_ERR_IO : 0;
}

int cdr_render_stream_rows(struct cdr_render_stream *rs, const json_t *rows) {
  const json_t *row;
  json_t *page;
  size_t i;
  int r = 0;
  if (rs->format == CDR_RENDER_CSV) {
    r = csv_rows(rs->f, rows);
  } else if (rs->format == CDR_RENDER_JSON) {
    json_array_foreach(rows, i, row) {
      if (rs->rows + i > 0)
        fputc(',', rs->f);
      if ((r = json_emit(rs->f, row, JSON_COMPACT)) != 0)
        break;
    }
  } else {
    /* A table is aligned over its rows: each page is a table of its own. */
    page = json_pack("{s:O,s:O}", "columns", rs->columns, "rows", rows);
    r = page == NULL ? CDR_ERR_NOMEM : cdr_render_table(rs->f, page);
    json_decref(page);
  }
  rs->rows += json_array_size(rows);
  return r != 0 ? r : ferror(rs->f) ? CDR_ERR_IO : 0;
}

int cdr_render_stream_end(struct cdr_render_stream *rs) {
  if (rs->format == CDR_RENDER_JSON)
    fprintf(rs->f, "],\"row_count\":%llu}\n", (unsigned long long)rs->rows);
  return ferror(rs->f) ? CDR_ERR_IO : 0;
}
