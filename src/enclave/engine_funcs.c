/*
 * engine_funcs.c - bounded versions of SQLite's product-cost functions
 * (engine_funcs.h): instr, replace, trim/ltrim/rtrim, LIKE and GLOB.
 *
 * Each returns what SQLite 3.40's built-in returns for the same
 * arguments (NULLs, numbers and blobs read as text, UTF-8 character
 * positions, LIKE's ASCII-only case folding and ESCAPE, GLOB's [...]
 * sets, SQLITE_LIMIT_LENGTH and SQLITE_LIMIT_LIKE_PATTERN_LENGTH with
 * SQLite's own messages), written from the documented behaviour and
 * checked against the built-ins by tests/unit/test_funcs.c.  What
 * differs is cost control: every loop spends units of work from the
 * connection's budget, and past the deadline the call fails with
 * "query exceeded its time limit" and budget->timed_out set (the engine
 * turns that into sql_timeout).  Invalid UTF-8 is read leniently, as
 * SQLite reads it (a stray continuation byte is a character of its own).
 *
 * Memory: outputs and scratch arrays come from sqlite3_malloc64, so they
 * count against the heap limits like SQLite's own.
 */
#include "engine_funcs.h"

#include <string.h>
#include <time.h>

uint64_t engine_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int engine_budget_over(struct engine_budget *b) {
  if (b->deadline_ns == 0)
    return 0;
  if (!b->timed_out && engine_mono_ns() >= b->deadline_ns)
    b->timed_out = 1;
  return b->timed_out;
}

/* Spend n units of work; 1 once the deadline has passed. */
static int budget_spend(struct engine_budget *b, uint64_t n) {
  b->work += n;
  if (b->work < ENGINE_BUDGET_STEP)
    return b->deadline_ns != 0 && b->timed_out;
  b->work = 0;
  return engine_budget_over(b);
}

static void fail_timeout(sqlite3_context *ctx) { sqlite3_result_error(ctx, "query exceeded its time limit", -1); }

/* ---- UTF-8 as SQLite reads it ---- */

/* The next character of z (NUL-terminated), advancing *pz past it (and
 * past the NUL at the end).  Malformed sequences read as SQLite reads
 * them: a lead byte takes every continuation byte after it, and an
 * overlong, surrogate or U+FFFE/U+FFFF result is U+FFFD. */
static uint32_t u8_read(const unsigned char **pz) {
  const unsigned char *z = *pz;
  uint32_t c = *z++;
  if (c >= 0xc0) {
    c = c < 0xe0 ? c & 0x1f : c < 0xf0 ? c & 0x0f : c < 0xf8 ? c & 0x07 : c < 0xfc ? c & 0x03 : c < 0xfe ? c & 0x01 : 0;
    while ((*z & 0xc0) == 0x80)
      c = (c << 6) + (*z++ & 0x3fu);
    if (c < 0x80 || (c & 0xfffff800u) == 0xd800 || (c & 0xfffffffeu) == 0xfffe)
      c = 0xfffd;
  }
  *pz = z;
  return c;
}

/* Past one character: one byte, and the continuation bytes after a lead
 * byte. */
static const unsigned char *u8_skip(const unsigned char *z) {
  if (*z++ >= 0xc0)
    while ((*z & 0xc0) == 0x80)
      z++;
  return z;
}

static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static uint32_t ascii_upper(uint32_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

/* ---- instr ---- */

/* The character starts (bytes that are not UTF-8 continuation bytes)
 * in h[from..to). */
static int64_t char_starts(const unsigned char *h, size_t from, size_t to) {
  int64_t n = 0;
  for (size_t k = from; k < to; k++)
    n += (h[k] & 0xc0) != 0x80;
  return n;
}

static void fn_instr(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct engine_budget *b = sqlite3_user_data(ctx);
  const unsigned char *h, *n;
  size_t nh, nn, i = 0;
  int64_t pos = 1;
  int text = 1;
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return;
  if (sqlite3_value_bytes(argv[1]) <= 0) {
    sqlite3_result_int(ctx, 1);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_BLOB && sqlite3_value_type(argv[1]) == SQLITE_BLOB) {
    h = sqlite3_value_blob(argv[0]);
    n = sqlite3_value_blob(argv[1]);
    text = 0;
  } else {
    h = sqlite3_value_text(argv[0]);
    n = sqlite3_value_text(argv[1]);
  }
  nh = (size_t)sqlite3_value_bytes(argv[0]);
  nn = (size_t)sqlite3_value_bytes(argv[1]);
  if (n == NULL || (nh > 0 && h == NULL)) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  /* Text is searched at character starts only: a needle that begins
   * with a continuation byte can match at byte 0 alone. */
  if (text && (n[0] & 0xc0) == 0x80) {
    sqlite3_result_int(ctx, nn <= nh && memcmp(h, n, nn) == 0);
    return;
  }
  /* i is where the search stands (a character start when text) and pos
   * its 1-based position, in characters for text, else in bytes. */
  while (nh - i >= nn) {
    const unsigned char *q = memchr(h + i, n[0], nh - nn - i + 1);
    if (q == NULL)
      break;
    size_t at = (size_t)(q - h), next = at + 1;
    pos = text ? pos + char_starts(h, i + 1, at + 1) : (int64_t)at + 1;
    if (budget_spend(b, at - i + nn)) {
      fail_timeout(ctx);
      return;
    }
    if (memcmp(q, n, nn) == 0) {
      sqlite3_result_int64(ctx, pos);
      return;
    }
    while (text && next < nh && (h[next] & 0xc0) == 0x80)
      next++;
    pos = text ? pos + 1 : (int64_t)next + 1;
    i = next;
  }
  sqlite3_result_int(ctx, 0);
}

/* ---- replace ---- */

/* out[*len..] += p[0..n), growing out (capacity *cap) by doubling. */
static int out_put(unsigned char **out, size_t *len, size_t *cap, const unsigned char *p, size_t n) {
  if (n > *cap - *len) {
    size_t want = *cap * 2 > *len + n ? *cap * 2 : *len + n + 1;
    unsigned char *d = sqlite3_realloc64(*out, want);
    if (d == NULL)
      return -1;
    *out = d;
    *cap = want;
  }
  if (n > 0)
    memcpy(*out + *len, p, n);
  *len += n;
  return 0;
}

static void fn_replace(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct engine_budget *b = sqlite3_user_data(ctx);
  const unsigned char *s, *pat, *rep;
  size_t ns, np, nr, i = 0, len = 0, cap;
  int64_t limit = sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1), grown = 0;
  unsigned char *out;
  (void)argc;
  if ((s = sqlite3_value_text(argv[0])) == NULL)
    return;
  ns = (size_t)sqlite3_value_bytes(argv[0]);
  if ((pat = sqlite3_value_text(argv[1])) == NULL)
    return;
  if (pat[0] == 0) {
    sqlite3_result_value(ctx, argv[0]);
    return;
  }
  np = (size_t)sqlite3_value_bytes(argv[1]);
  if ((rep = sqlite3_value_text(argv[2])) == NULL)
    return;
  nr = (size_t)sqlite3_value_bytes(argv[2]);
  if ((int64_t)ns + 1 > limit) {
    sqlite3_result_error_toobig(ctx);
    return;
  }
  cap = ns + 1;
  if ((out = sqlite3_malloc64(cap)) == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  while (ns >= np && i <= ns - np) {
    const unsigned char *q = memchr(s + i, pat[0], ns - np - i + 1);
    size_t at = q != NULL ? (size_t)(q - s) : ns - np + 1;
    if (out_put(&out, &len, &cap, s + i, at - i) != 0)
      goto nomem;
    if (budget_spend(b, at - i + np)) {
      sqlite3_free(out);
      fail_timeout(ctx);
      return;
    }
    i = at;
    if (q == NULL)
      break;
    if (memcmp(q, pat, np) != 0) {
      if (out_put(&out, &len, &cap, s + i, 1) != 0)
        goto nomem;
      i++;
      continue;
    }
    if (nr > np && (grown += (int64_t)(nr - np), (int64_t)ns + grown > limit)) {
      sqlite3_free(out);
      sqlite3_result_error_toobig(ctx);
      return;
    }
    if (out_put(&out, &len, &cap, rep, nr) != 0)
      goto nomem;
    i += np;
  }
  if (out_put(&out, &len, &cap, s + i, ns - i) != 0 || out_put(&out, &len, &cap, (const unsigned char *)"", 1) != 0)
    goto nomem;
  sqlite3_result_text64(ctx, (const char *)out, len - 1, sqlite3_free, SQLITE_UTF8);
  return;
nomem:
  sqlite3_free(out);
  sqlite3_result_error_nomem(ctx);
}

/* ---- trim, ltrim, rtrim ---- */

struct trim_data {
  struct engine_budget *b;
  int sides; /* 1 left, 2 right, 3 both */
};

/* The length of the first character of set[0..nchar) (starts in at[],
 * lengths in len[]) that z[0..n) starts with (left) or ends with
 * (right), or 0. */
static size_t trim_match(const unsigned char *z, size_t n, const unsigned char *const *at, const unsigned char *len,
                         size_t nchar, int right) {
  for (size_t k = 0; k < nchar; k++)
    if (len[k] <= n && memcmp(right ? z + n - len[k] : z, at[k], len[k]) == 0)
      return len[k];
  return 0;
}

static void fn_trim(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const struct trim_data *d = sqlite3_user_data(ctx);
  static const unsigned char space[] = " ";
  const unsigned char *in, *set = space, *z, **at = NULL;
  unsigned char *len = NULL;
  size_t n, nchar = 0, k;
  int64_t limit = sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || (in = sqlite3_value_text(argv[0])) == NULL)
    return;
  n = (size_t)sqlite3_value_bytes(argv[0]);
  if (argc == 2 && (set = sqlite3_value_text(argv[1])) == NULL)
    return;
  for (z = set; *z != 0; z = u8_skip(z))
    nchar++;
  if (nchar > 0) {
    if ((int64_t)nchar * (int64_t)(sizeof(*at) + 1) > limit) {
      sqlite3_result_error_toobig(ctx);
      return;
    }
    if ((at = sqlite3_malloc64(nchar * (sizeof(*at) + 1))) == NULL) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    len = (unsigned char *)&at[nchar];
    for (z = set, k = 0; *z != 0; k++) {
      at[k] = z;
      z = u8_skip(z);
      len[k] = (unsigned char)(z - at[k]);
    }
    for (int side = 1; side <= 2; side++) {
      size_t m;
      while ((d->sides & side) && n > 0) {
        if (budget_spend(d->b, nchar)) {
          sqlite3_free(at);
          fail_timeout(ctx);
          return;
        }
        if ((m = trim_match(in, n, at, len, nchar, side == 2)) == 0)
          break;
        if (side == 1)
          in += m;
        n -= m;
      }
    }
    sqlite3_free(at);
  }
  sqlite3_result_text64(ctx, (const char *)in, n, SQLITE_TRANSIENT, SQLITE_UTF8);
}

/* ---- LIKE and GLOB ---- */

struct match_info {
  uint32_t all;  /* '%' or '*'; 0 when it is the ESCAPE character */
  uint32_t one;  /* '_' or '?'; 0 when it is the ESCAPE character */
  uint32_t set;  /* '[' (GLOB) or 0 */
  int nocase;    /* LIKE: ASCII letters match either case */
};

struct like_data {
  struct engine_budget *b;
  struct match_info info;
};

enum { M_MATCH, M_NOMATCH, M_NOWILD, M_STOP };

static int pattern_match(const unsigned char *p, const unsigned char *s, const struct match_info *mi, uint32_t other,
                         struct engine_budget *b);

/* GLOB's [...] at p (just past the '['), against the next character of
 * *ps: 1 if it matches (both advanced), else 0. */
static int match_set(const unsigned char **pp, const unsigned char **ps) {
  const unsigned char *p = *pp;
  uint32_t prior = 0, c, c2;
  int seen = 0, invert = 0;
  if ((c = u8_read(ps)) == 0)
    return 0;
  c2 = u8_read(&p);
  if (c2 == '^') {
    invert = 1;
    c2 = u8_read(&p);
  }
  if (c2 == ']') {
    seen = c == ']';
    c2 = u8_read(&p);
  }
  while (c2 != 0 && c2 != ']') {
    if (c2 == '-' && p[0] != ']' && p[0] != 0 && prior > 0) {
      c2 = u8_read(&p);
      if (c >= prior && c <= c2)
        seen = 1;
      prior = 0;
    } else {
      if (c == c2)
        seen = 1;
      prior = c2;
    }
    c2 = u8_read(&p);
  }
  *pp = p;
  return c2 != 0 && (seen ^ invert) != 0;
}

/* The rest of a match after a '%' (p just past it): the run of '%' and
 * '_' that follows, then every place in s where the pattern's next
 * character occurs, recursively. */
static int match_star(const unsigned char *p, const unsigned char *s, const struct match_info *mi, uint32_t other,
                      struct engine_budget *b) {
  uint32_t c, c2;
  int r;
  while ((c = u8_read(&p)) != 0 && (c == mi->all || c == mi->one))
    if (c == mi->one && u8_read(&s) == 0)
      return M_NOWILD;
  if (c == 0)
    return M_MATCH;
  if (c == other) {
    if (mi->set == 0) {
      if ((c = u8_read(&p)) == 0)
        return M_NOWILD;
    } else {
      for (; *s != 0; s = u8_skip(s)) {
        if (budget_spend(b, 1))
          return M_STOP;
        if ((r = pattern_match(p - 1, s, mi, other, b)) != M_NOMATCH)
          return r;
      }
      return M_NOWILD;
    }
  }
  if (c < 0x80) {
    char stop[3] = {(char)(mi->nocase ? ascii_upper(c) : c), (char)(mi->nocase ? ascii_lower(c) : 0), 0};
    for (;;) {
      size_t k = strcspn((const char *)s, stop);
      if (budget_spend(b, k + 1))
        return M_STOP;
      if (s[k] == 0)
        break;
      s += k + 1;
      if ((r = pattern_match(p, s, mi, other, b)) != M_NOMATCH)
        return r;
    }
  } else {
    while ((c2 = u8_read(&s)) != 0) {
      if (budget_spend(b, 1))
        return M_STOP;
      if (c2 == c && (r = pattern_match(p, s, mi, other, b)) != M_NOMATCH)
        return r;
    }
  }
  return M_NOWILD;
}

/* Does s match the pattern p?  M_MATCH, M_NOMATCH, M_NOWILD (no match,
 * and no later start can match either), or M_STOP (deadline). */
static int pattern_match(const unsigned char *p, const unsigned char *s, const struct match_info *mi, uint32_t other,
                         struct engine_budget *b) {
  const unsigned char *escaped = NULL;
  uint32_t c, c2;
  while ((c = u8_read(&p)) != 0) {
    if (budget_spend(b, 1))
      return M_STOP;
    if (c == mi->all)
      return match_star(p, s, mi, other, b);
    if (c == other) {
      if (mi->set == 0) {
        if ((c = u8_read(&p)) == 0)
          return M_NOMATCH;
        escaped = p;
      } else {
        if (!match_set(&p, &s))
          return M_NOMATCH;
        continue;
      }
    }
    c2 = u8_read(&s);
    if (c == c2)
      continue;
    if (mi->nocase && c < 0x80 && c2 < 0x80 && ascii_lower(c) == ascii_lower(c2))
      continue;
    if (c == mi->one && p != escaped && c2 != 0)
      continue;
    return M_NOMATCH;
  }
  return *s == 0 ? M_MATCH : M_NOMATCH;
}

/* like(pattern, string [, escape]) and glob(pattern, string). */
static void fn_like(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const struct like_data *d = sqlite3_user_data(ctx);
  struct match_info mi = d->info;
  const unsigned char *pat, *str;
  uint32_t esc = mi.set;
  int npat;
  /* Debian's SQLite is built with SQLITE_LIKE_DOESNT_MATCH_BLOBS */
  if (sqlite3_value_type(argv[0]) == SQLITE_BLOB || sqlite3_value_type(argv[1]) == SQLITE_BLOB) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  npat = sqlite3_value_bytes(argv[0]);
  if (npat > sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LIKE_PATTERN_LENGTH, -1)) {
    sqlite3_result_error(ctx, "LIKE or GLOB pattern too complex", -1);
    return;
  }
  if (argc == 3) {
    const unsigned char *z = sqlite3_value_text(argv[2]);
    if (z == NULL)
      return;
    if (z[0] == 0 || *u8_skip(z) != 0) {
      sqlite3_result_error(ctx, "ESCAPE expression must be a single character", -1);
      return;
    }
    esc = u8_read(&z);
    if (esc == mi.all)
      mi.all = 0;
    if (esc == mi.one)
      mi.one = 0;
  }
  pat = sqlite3_value_text(argv[0]);
  str = sqlite3_value_text(argv[1]);
  if (pat == NULL || str == NULL)
    return;
  int r = budget_spend(d->b, (uint64_t)npat + 1) ? M_STOP : pattern_match(pat, str, &mi, esc, d->b);
  if (r == M_STOP)
    fail_timeout(ctx);
  else
    sqlite3_result_int(ctx, r == M_MATCH);
}

/* ---- registration ---- */

static int reg(sqlite3 *db, const char *name, int nargs, void *data, void (*fn)(sqlite3_context *, int, sqlite3_value **),
               void (*destroy)(void *)) {
  return sqlite3_create_function_v2(db, name, nargs, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, data, fn,
                                    NULL, NULL, destroy);
}

/* A like_data or trim_data for one registration (each is freed by the
 * registration it belongs to). */
static void *new_data(size_t size, const void *init) {
  void *d = sqlite3_malloc64(size);
  if (d != NULL)
    memcpy(d, init, size);
  return d;
}

int engine_funcs_register(sqlite3 *db, struct engine_budget *b) {
  static const struct {
    const char *name;
    int nargs, sides;
  } trims[] = {{"trim", 1, 3}, {"trim", 2, 3}, {"ltrim", 1, 1}, {"ltrim", 2, 1}, {"rtrim", 1, 2}, {"rtrim", 2, 2}};
  const struct like_data like = {b, {'%', '_', 0, 1}}, glob = {b, {'*', '?', '[', 0}};
  void *d;
  int rc;
  if ((rc = reg(db, "instr", 2, b, fn_instr, NULL)) != SQLITE_OK || (rc = reg(db, "replace", 3, b, fn_replace, NULL)) != SQLITE_OK)
    return rc;
  for (size_t i = 0; i < sizeof(trims) / sizeof(trims[0]); i++) {
    const struct trim_data t = {b, trims[i].sides};
    if ((d = new_data(sizeof(t), &t)) == NULL)
      return SQLITE_NOMEM;
    if ((rc = reg(db, trims[i].name, trims[i].nargs, d, fn_trim, sqlite3_free)) != SQLITE_OK)
      return rc;
  }
  for (int nargs = 2; nargs <= 3; nargs++) {
    if ((d = new_data(sizeof(like), &like)) == NULL)
      return SQLITE_NOMEM;
    if ((rc = reg(db, "like", nargs, d, fn_like, sqlite3_free)) != SQLITE_OK)
      return rc;
  }
  if ((d = new_data(sizeof(glob), &glob)) == NULL)
    return SQLITE_NOMEM;
  return reg(db, "glob", 2, d, fn_like, sqlite3_free);
}
