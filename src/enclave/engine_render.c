/*
 * engine_render.c - the engine's answers as JSON text (engine.h): a
 * query's result document, rendered row by row as the statement steps,
 * and the table list a principal may see; both appended straight to the
 * caller's cdr_buf (the reply being built), so the plaintext exists in
 * one buffer only.
 *
 * Contracts and invariants:
 *   - A document is capped while it is written, never after: it may add
 *     at most e->max_result_bytes to the buffer (and the buffer's own max
 *     holds too); either limit is CDR_ERR_RESULT_TOO_LARGE.
 *   - On failure the buffer is as it was: the bytes appended are wiped
 *     and dropped.  When the buffer grows, cdr_buf wipes the old block,
 *     so no copy of a partial result is left in freed memory.
 *   - The bytes are exactly those engine.h shows (compact JSON, values
 *     as engine_query_json describes); engine_query_json and
 *     engine_tables_json are these renderers into a malloc'd copy.
 */
#include "engine.h"
#include "engine_int.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/utf8.h"
#include "common/util.h"
#include "rule_doc.h"

/* A document being appended to b: b->len may not pass end. */
struct jout {
  struct cdr_buf *b;
  size_t start, end;
  int buf_full; /* the buffer's own max, not end, stopped a write */
};

static void jo_init(struct jout *j, struct cdr_buf *b, size_t max_bytes) {
  j->b = b;
  j->start = b->len;
  j->end = max_bytes > SIZE_MAX - b->len ? SIZE_MAX : b->len + max_bytes;
  j->buf_full = 0;
}

/* Wipe and drop what this document appended (a failed render). */
static void jo_undo(struct jout *j) {
  if (j->b->len > j->start) {
    OPENSSL_cleanse(j->b->d + j->start, j->b->len - j->start);
    j->b->len = j->start;
  }
}

/* CDR_ERR_RESULT_TOO_LARGE unless n more bytes fit the document's cap
 * and the buffer's. */
static int jo_reserve(struct jout *j, size_t n) {
  if (n > j->end - j->b->len)
    return CDR_ERR_RESULT_TOO_LARGE;
  int r = cdr_buf_reserve(j->b, n);
  if (r == CDR_ERR_TOO_LARGE)
    j->buf_full = 1;
  return r == CDR_ERR_TOO_LARGE ? CDR_ERR_RESULT_TOO_LARGE : r;
}

static int jo_put(struct jout *j, const void *p, size_t n) {
  int r;
  if (n == 0)
    return 0;
  if ((r = jo_reserve(j, n)) != 0)
    return r;
  return cdr_buf_put(j->b, p, n);
}

static int jo_puts(struct jout *j, const char *s) { return jo_put(j, s, strlen(s)); }

/* A JSON string of valid UTF-8: quote, backslash and control characters
 * escaped, everything else copied. */
static int jo_put_string(struct jout *j, const uint8_t *s, size_t n) {
  static const char hexd[] = "0123456789abcdef";
  size_t i = 0, run;
  int r;
  if ((r = jo_put(j, "\"", 1)) != 0)
    return r;
  while (i < n) {
    for (run = i; run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\'; run++)
      ;
    if (run > i && (r = jo_put(j, s + i, run - i)) != 0)
      return r;
    if ((i = run) == n)
      break;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t elen = 2;
    switch (s[i]) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hexd[s[i] >> 4];
      esc[5] = hexd[s[i] & 15];
      elen = 6;
      break;
    }
    if ((r = jo_put(j, esc, elen)) != 0)
      return r;
    i++;
  }
  return jo_put(j, "\"", 1);
}

/* {"hex":"..."} for bytes that are not text.  The room for all 2n
 * digits is checked first; they are encoded through a small block on the
 * stack, wiped after. */
static int jo_put_hex(struct jout *j, const uint8_t *p, size_t n) {
  char blk[2 * 256 + 1];
  int r;
  if (n > (SIZE_MAX - 1) / 2)
    return CDR_ERR_RESULT_TOO_LARGE;
  if ((r = jo_puts(j, "{\"hex\":\"")) != 0 || (r = jo_reserve(j, 2 * n)) != 0)
    return r;
  for (size_t i = 0; i < n && r == 0; i += 256) {
    size_t k = n - i < 256 ? n - i : 256;
    cdr_hex_encode(blk, p + i, k);
    r = cdr_buf_put(j->b, blk, 2 * k);
  }
  OPENSSL_cleanse(blk, sizeof(blk));
  return r != 0 ? r : jo_puts(j, "\"}");
}

/* A finite REAL as cdr_double_text writes it (the enclave never sets a
 * locale); NaN and the infinities as tagged strings. */
static int jo_put_double(struct jout *j, double v) {
  char b[CDR_DOUBLE_TEXT_LEN];
  if (isnan(v))
    return jo_puts(j, "{\"real\":\"nan\"}");
  if (isinf(v))
    return jo_puts(j, v > 0 ? "{\"real\":\"inf\"}" : "{\"real\":\"-inf\"}");
  cdr_double_text(b, v);
  return jo_puts(j, b);
}

static int jo_put_text(struct jout *j, const uint8_t *p, size_t n) {
  /* A NUL inside TEXT would need "\u0000", which strict JSON readers
   * (ours among them) refuse: such values travel as hex, like non-UTF-8. */
  return cdr_utf8_valid(p, n) && memchr(p, 0, n) == NULL ? jo_put_string(j, p, n) : jo_put_hex(j, p, n);
}

static int jo_put_value(struct jout *j, sqlite3_stmt *st, int i) {
  char b[32];
  const uint8_t *p;
  size_t n;
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER:
    snprintf(b, sizeof(b), "%lld", (long long)sqlite3_column_int64(st, i));
    return jo_puts(j, b);
  case SQLITE_FLOAT:
    return jo_put_double(j, sqlite3_column_double(st, i));
  case SQLITE_TEXT:
    p = sqlite3_column_text(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    if (p == NULL)
      return CDR_ERR_NOMEM; /* a TEXT value is never NULL otherwise */
    return jo_put_text(j, p, n);
  case SQLITE_BLOB:
    p = sqlite3_column_blob(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    if (p == NULL && n > 0)
      return CDR_ERR_NOMEM;
    return jo_put_hex(j, p, n);
  default:
    return jo_puts(j, "null");
  }
}

/* Our code and message for a statement that stopped stepping with rc:
 * the time limit, a denial during a re-prepare, memory, or SQLite's
 * run-time message with its quotations removed. */
static int step_error(struct cdr_engine *e, int rc, char **errmsg) {
  char m[CDR_MAX_ERROR_MSG];
  if (e->budget.timed_out)
    return engine_set_err(errmsg, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of %u ms", e->time_limit_ms);
  if (policy_denial(&e->policy) != NULL)
    return engine_set_err(errmsg, policy_denial_code(&e->policy), "%s", policy_denial(&e->policy));
  if (e->meter.exceeded)
    return engine_memory_err(e, errmsg);
  if ((rc & 0xff) == SQLITE_NOMEM)
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  engine_redact_quoted(m, sizeof(m), sqlite3_errmsg(e->db));
  return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", m);
}

/* A paging render's state: the sink, where the rows begin in the
 * buffer, and the bytes and pages flushed so far. */
struct pager {
  const struct engine_page_sink *sink;
  size_t rows_key_at; /* where "rows":[ begins */
  size_t rows_at;     /* where the current page's rows begin */
  uint64_t flushed;   /* bytes in pages flushed */
  uint64_t pages;
  uint64_t in_page; /* rows in the current page */
};

/* Hand the rows in the buffer to the sink as the next page, then wipe
 * and drop them from it. */
static int pager_flush(struct cdr_engine *e, struct jout *j, struct pager *p, int last, char **errmsg) {
  size_t n = j->b->len - p->rows_at;
  int r;
  if (p->flushed + n + (p->rows_at - j->start) > e->max_result_bytes)
    return engine_set_err(errmsg, CDR_ERR_RESULT_TOO_LARGE, "the result is larger than %zu bytes",
                          e->max_result_bytes);
  if ((r = p->sink->flush(p->sink->ud, j->b->d + p->rows_at, n, p->pages, last, errmsg)) != 0)
    return r;
  OPENSSL_cleanse(j->b->d + p->rows_at, n);
  j->b->len = p->rows_at;
  p->flushed += n;
  p->pages++;
  p->in_page = 0;
  return 0;
}

/* A paged document's tail: "rows":[ gives way to the row count and the
 * cursor (engine.h). */
static int pager_finish(struct jout *j, struct pager *p, uint64_t rows) {
  char b[192];
  OPENSSL_cleanse(j->b->d + p->rows_key_at, j->b->len - p->rows_key_at);
  j->b->len = p->rows_key_at;
  snprintf(b, sizeof(b), "\"row_count\":%llu,\"cursor\":{\"id\":\"", (unsigned long long)rows);
  int r = jo_puts(j, b);
  if (r == 0 && (r = jo_puts(j, p->sink->id)) == 0) {
    snprintf(b, sizeof(b), "\",\"pages\":%llu,\"bytes\":%llu,\"idle_timeout_s\":%u}}", (unsigned long long)p->pages,
             (unsigned long long)p->flushed, p->sink->idle_s);
    r = jo_puts(j, b);
  }
  return r;
}

/* The column names and every row of st, from "{" to "row_count":N},
 * paged through p->sink when there is one and the rows pass a page. */
static int render_rows(struct cdr_engine *e, sqlite3_stmt *st, struct jout *j, struct pager *p, uint64_t *rows,
                       char **errmsg) {
  char b[64];
  int r, rc, ncol = sqlite3_column_count(st);

  if ((r = jo_puts(j, "{\"columns\":[")) != 0)
    return r;
  for (int i = 0; i < ncol; i++) {
    const char *name = sqlite3_column_name(st, i);
    if (name == NULL)
      return CDR_ERR_NOMEM;
    if ((i > 0 && (r = jo_put(j, ",", 1)) != 0) || (r = jo_put_text(j, (const uint8_t *)name, strlen(name))) != 0)
      return r;
  }
  if ((r = jo_puts(j, "],")) != 0)
    return r;
  p->rows_key_at = j->b->len;
  if ((r = jo_puts(j, "\"rows\":[")) != 0)
    return r;
  p->rows_at = j->b->len;
  if (p->sink != NULL && p->rows_at <= SIZE_MAX - CDR_RESULT_PAGE_MAX && j->end > p->rows_at + CDR_RESULT_PAGE_MAX)
    j->end = p->rows_at + CDR_RESULT_PAGE_MAX; /* per page; the whole is checked as pages flush */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*rows >= e->max_result_rows)
      return engine_set_err(errmsg, CDR_ERR_RESULT_TOO_LARGE, "the result has more than %llu rows",
                            (unsigned long long)e->max_result_rows);
    /* A full page goes once another row follows it, so the last page
     * is never empty. */
    if (p->sink != NULL && j->b->len - p->rows_at >= p->sink->page_bytes && (r = pager_flush(e, j, p, 0, errmsg)) != 0)
      return r;
    if ((p->in_page > 0 && (r = jo_put(j, ",", 1)) != 0) || (r = jo_put(j, "[", 1)) != 0)
      return r;
    for (int i = 0; i < ncol; i++)
      if ((i > 0 && (r = jo_put(j, ",", 1)) != 0) || (r = jo_put_value(j, st, i)) != 0)
        return r;
    if ((r = jo_put(j, "]", 1)) != 0)
      return r;
    (*rows)++;
    p->in_page++;
  }
  if (rc != SQLITE_DONE)
    return step_error(e, rc, errmsg);
  if (p->pages > 0) {
    if ((r = pager_flush(e, j, p, 1, errmsg)) != 0)
      return r;
    return pager_finish(j, p, *rows);
  }
  snprintf(b, sizeof(b), "],\"row_count\":%llu}", (unsigned long long)*rows);
  return jo_puts(j, b);
}

int engine_render_result_paged(struct cdr_engine *e, sqlite3_stmt *st, struct cdr_buf *out,
                               const struct engine_page_sink *sink, uint64_t *rows, uint64_t *pages, char **errmsg) {
  struct jout j;
  struct pager p;
  int r;
  *rows = 0;
  memset(&p, 0, sizeof(p));
  p.sink = sink != NULL && sink->flush != NULL && sink->id != NULL ? sink : NULL;
  jo_init(&j, out, e->max_result_bytes);
  r = render_rows(e, st, &j, &p, rows, errmsg);
  if (pages != NULL)
    *pages = p.pages;
  /* The caps' failures carry no message yet: the room's limit (the
   * document's end is the room's), a page's cap, or one answer's. */
  int room = !j.buf_full && (j.end - j.start == e->max_result_bytes || SIZE_MAX - j.start < e->max_result_bytes);
  if (r == CDR_ERR_RESULT_TOO_LARGE && (errmsg == NULL || *errmsg == NULL) && room)
    r = engine_set_err(errmsg, r, "the result is larger than %zu bytes", e->max_result_bytes);
  else if (r == CDR_ERR_RESULT_TOO_LARGE && (errmsg == NULL || *errmsg == NULL) && p.sink != NULL)
    r = engine_set_err(errmsg, r, "a row of the result does not fit one page of %u bytes", CDR_RESULT_PAGE_MAX);
  else if (r == CDR_ERR_RESULT_TOO_LARGE && (errmsg == NULL || *errmsg == NULL))
    r = engine_set_err(errmsg, r, "the result is larger than one answer can carry (this query is not paged)");
  else if (r == CDR_ERR_NOMEM && (errmsg == NULL || *errmsg == NULL))
    r = engine_set_err(errmsg, r, "out of memory");
  if (r != 0)
    jo_undo(&j);
  return r;
}

int engine_render_result(struct cdr_engine *e, sqlite3_stmt *st, struct cdr_buf *out, uint64_t *rows,
                         char **errmsg) {
  return engine_render_result_paged(e, st, out, NULL, rows, NULL, errmsg);
}

int engine_buf_to_cstr(struct cdr_buf *b, char **json_out, size_t *json_len) {
  char *s;
  if ((s = malloc(b->len + 1)) == NULL)
    return CDR_ERR_NOMEM;
  if (b->len > 0)
    memcpy(s, b->d, b->len);
  s[b->len] = '\0';
  *json_out = s;
  if (json_len != NULL)
    *json_len = b->len;
  return 0;
}

/* ---- the table list ---- */

static int jo_dump_cb(const char *p, size_t n, void *ud) { return jo_put(ud, p, n) == 0 ? 0 : -1; }

static const char *access_name(enum policy_table_access a) {
  switch (a) {
  case POLICY_ACCESS_OWNER: return "owner";
  case POLICY_ACCESS_ALL: return "all";
  case POLICY_ACCESS_NONE: return "rule";
  default: return "columns";
  }
}

/* A table who reads under its release rule: what the rule lets it use,
 * and no row count or hidden column. */
static json_t *ruled_table_json(const struct catalog_table *t) {
  char fp[65];
  json_t *o, *cols;
  cdr_hex_encode(fp, t->owner_key_fp, sizeof(t->owner_key_fp));
  o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:o*}", "name", t->name, "owner", t->owner, "owner_key_sha256", fp,
                "created_at", (json_int_t)t->created_at, "access", "rule", "rule", engine_rule_public_json(t));
  if (o == NULL || json_object_get(o, "rule") == NULL || (cols = json_array()) == NULL ||
      json_object_set_new(o, "columns", cols) != 0) {
    json_decref(o);
    return NULL;
  }
  for (size_t k = 0; k < t->ncols && k < t->rule_doc->ncols; k++) {
    if (t->rule_doc->cols[k].cls == RULE_COL_HIDDEN)
      continue;
    if (json_array_append_new(cols, json_pack("{s:s,s:s,s:s}", "name", t->cols[k].name, "type", t->cols[k].type,
                                              "class", rule_class_name(t->rule_doc->cols[k].cls))) != 0) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* The JSON object describing t to who (access a, not NONE); NULL if
 * memory runs out. */
static json_t *table_json(const struct catalog_table *t, const struct engine_principal *who,
                          enum policy_table_access a) {
  char fp[65];
  json_t *o, *cols, *grants = NULL;
  cdr_hex_encode(fp, t->owner_key_fp, sizeof(t->owner_key_fp));
  o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "name", t->name, "owner", t->owner, "owner_key_sha256", fp,
                "created_at", (json_int_t)t->created_at, "rows", (json_int_t)t->rows, "access", access_name(a));
  if (o != NULL && t->unavailable != NULL &&
      (json_object_set_new(o, "unavailable", json_string(t->unavailable)) != 0 ||
       (t->loading && json_object_set_new(o, "loading", json_true()) != 0))) {
    json_decref(o);
    return NULL;
  }
  cols = json_array();
  if (o == NULL || cols == NULL || json_object_set_new(o, "columns", cols) != 0) {
    json_decref(o);
    return NULL;
  }
  for (size_t k = 0; k < t->ncols; k++) {
    int readable = t->unavailable == NULL && policy_access(t, who, t->cols[k].name, NULL, 0) == 0;
    if (json_array_append_new(cols, json_pack("{s:s,s:s,s:b,s:b}", "name", t->cols[k].name, "type", t->cols[k].type,
                                              "hidden", t->cols[k].hidden, "readable", readable)) != 0)
      goto fail;
  }
  if (a != POLICY_ACCESS_OWNER)
    return o;
  if ((grants = json_array()) == NULL || json_object_set_new(o, "grants", grants) != 0)
    goto fail;
  for (size_t i = 0; i < t->ngrants; i++) {
    const struct catalog_grant *g = &t->grants[i];
    json_t *gc = g->all_columns ? json_string("all") : json_array();
    for (size_t k = 0; gc != NULL && !g->all_columns && k < g->ncols; k++)
      if (json_array_append_new(gc, json_string(g->cols[k])) != 0) {
        json_decref(gc);
        gc = NULL;
      }
    if (gc == NULL || json_array_append_new(grants, json_pack("{s:s,s:o}", "to", g->grantee, "columns", gc)) != 0)
      goto fail;
  }
  return o;
fail:
  json_decref(o);
  return NULL;
}

int engine_tables_render(struct cdr_engine *e, const struct engine_principal *who, struct cdr_buf *out,
                         char **errmsg) {
  struct jout j;
  json_t *arr = NULL, *o;
  int r;

  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || who == NULL || who->name == NULL || out == NULL)
    return engine_set_err(errmsg, CDR_ERR_ARG, "no engine or user");
  if ((arr = json_array()) == NULL)
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < e->catalog.n; i++) {
    const struct catalog_table *t = e->catalog.tables[i];
    enum policy_table_access a = policy_table_access(t, who);
    int ruled = a == POLICY_ACCESS_NONE && engine_table_governed(t, who);
    if (a == POLICY_ACCESS_NONE && !ruled)
      continue;
    if ((o = ruled ? ruled_table_json(t) : table_json(t, who, a)) == NULL || json_array_append_new(arr, o) != 0) {
      r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
      goto out;
    }
  }
  jo_init(&j, out, e->max_result_bytes);
  if (json_dump_callback(arr, jo_dump_cb, &j, JSON_COMPACT) != 0) {
    jo_undo(&j);
    r = engine_set_err(errmsg, CDR_ERR_RESULT_TOO_LARGE, "the list of tables is larger than %zu bytes",
                       e->max_result_bytes);
    goto out;
  }
  r = 0;
out:
  json_decref(arr);
  return r;
}

int engine_tables_json(struct cdr_engine *e, const struct engine_principal *who, char **json_out, size_t *json_len,
                       char **errmsg) {
  struct cdr_buf b;
  int r;
  *json_out = NULL;
  if (json_len != NULL)
    *json_len = 0;
  cdr_buf_init(&b, SIZE_MAX, 0);
  if ((r = engine_tables_render(e, who, &b, errmsg)) == 0 && (r = engine_buf_to_cstr(&b, json_out, json_len)) != 0)
    r = engine_set_err(errmsg, r, "out of memory");
  cdr_buf_free(&b);
  return r;
}
