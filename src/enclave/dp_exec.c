/*
 * dp_exec.c - run a dp plan (dp_int.h): step the per-unit statement,
 * bound each unit's groups and contributions, sum per group, add noise,
 * select the groups, and render the answer (dp.h describes the
 * mechanism).
 *
 * Invariants:
 *   - a unit adds to at most k slots (groups or key cells), at most 1 to
 *     a slot's unit count and to each metric count, and a value in
 *     [lo, hi] (millionths) to each metric sum: the sensitivities the
 *     noise scales of dp_plan.c assume;
 *   - no arithmetic error depends on the data: counts are u64 (one per
 *     row of the statement at most), sums i128 (|contribution| < 2^60,
 *     so 2^63 of them fit), a noisy value saturates at the i128 range;
 *   - the statement's ordinals decide "same unit" and "same group"
 *     (dp_int.h); group values are kept as SQLite values (dup'd), and
 *     public keys are matched on the value's text.
 */
#include <math.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "dp_int.h"
#include "engine_int.h"

#define DP_MAX_GID (1ull << 40)

struct key_ref {
  const char *s;
  size_t idx;
};

struct exec {
  const struct dp_plan *dp;
  size_t nm, ng;
  struct dp_rng rng;
  /* per slot */
  size_t nslots, cap;
  uint64_t *units, *cnt; /* cnt[slot * nm + i] */
  dp_i128 *sum;
  sqlite3_value **vals;  /* DP_SEL_THRESHOLD: vals[slot * ng + i] */
  /* DP_SEL_PUBLIC: the cell of each group ordinal (SIZE_MAX: no key;
   * SIZE_MAX - 1: not seen yet), and the keys of each grouped column
   * sorted by text (key indexes) */
  size_t *cell_of, ncell_of;
  struct key_ref *sorted[RULE_MAX_ITEMS];
  /* the current unit's rows */
  int64_t unit;
  size_t nrows, rcap, *rslot;
  int64_t *rcount; /* rcount[row * nm + i] */
  double *rtotal;
};

/* p (old elements of size bytes) moved to a new block of n elements;
 * the old block wiped and freed (it holds true aggregates).  NULL, with
 * p untouched, if memory runs out. */
static void *grow(void *p, size_t old, size_t n, size_t size) {
  void *q = n > SIZE_MAX / size ? NULL : malloc(n * size);
  if (q == NULL)
    return NULL;
  if (p != NULL) {
    memcpy(q, p, old * size);
    OPENSSL_cleanse(p, old * size);
    free(p);
  }
  return q;
}

static void wipe_free(void *p, size_t n) {
  if (p != NULL) {
    OPENSSL_cleanse(p, n);
    free(p);
  }
}

/* Room for slot index s (zeroed when new). */
static int ensure_slot(struct exec *x, size_t s) {
  if (s < x->cap)
    return 0;
  size_t cap = x->cap ? x->cap : 16, nm = x->nm ? x->nm : 1, ng = x->ng ? x->ng : 1;
  while (cap <= s)
    cap *= 2;
  uint64_t *u = grow(x->units, x->cap, cap, sizeof(*u));
  if (u != NULL)
    x->units = u;
  uint64_t *c = grow(x->cnt, x->cap * nm, cap * nm, sizeof(*c));
  if (c != NULL)
    x->cnt = c;
  dp_i128 *m = grow(x->sum, x->cap * nm, cap * nm, sizeof(*m));
  if (m != NULL)
    x->sum = m;
  sqlite3_value **v = grow(x->vals, x->cap * ng, cap * ng, sizeof(*v));
  if (v != NULL)
    x->vals = v;
  if (u == NULL || c == NULL || m == NULL || v == NULL)
    return CDR_ERR_NOMEM; /* the arrays that grew stay valid: cap is what all have */
  memset(u + x->cap, 0, (cap - x->cap) * sizeof(*u));
  memset(c + x->cap * nm, 0, (cap - x->cap) * nm * sizeof(*c));
  memset(m + x->cap * nm, 0, (cap - x->cap) * nm * sizeof(*m));
  memset(v + x->cap * ng, 0, (cap - x->cap) * ng * sizeof(*v));
  x->cap = cap;
  return 0;
}

static const struct rule_column *gcol(const struct exec *x, size_t i) {
  return &x->dp->rule->cols[x->dp->group_col[i]];
}

/* Sorted by text, then by position: the first of equal keys wins. */
static int cmp_key(const void *a, const void *b) {
  const struct key_ref *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  return c != 0 ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int sort_keys(struct exec *x) {
  for (size_t i = 0; i < x->ng; i++) {
    const struct rule_column *rc = gcol(x, i);
    if ((x->sorted[i] = calloc(rc->nkeys, sizeof(struct key_ref))) == NULL)
      return CDR_ERR_NOMEM;
    for (size_t k = 0; k < rc->nkeys; k++)
      x->sorted[i][k] = (struct key_ref){rc->keys[k], k};
    qsort(x->sorted[i], rc->nkeys, sizeof(struct key_ref), cmp_key);
  }
  return 0;
}

/* The first key of grouped column i whose text is s, or SIZE_MAX. */
static size_t key_index(const struct exec *x, size_t i, const char *s) {
  const struct rule_column *rc = gcol(x, i);
  size_t lo = 0, hi = rc->nkeys;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(x->sorted[i][mid].s, s) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < rc->nkeys && strcmp(x->sorted[i][lo].s, s) == 0 ? x->sorted[i][lo].idx : SIZE_MAX;
}

/* The slot of the statement's current row, or SIZE_MAX for a row left
 * out (a value that is not a public key). */
static int row_slot(struct exec *x, sqlite3_stmt *st, size_t *slot) {
  int64_t gid = sqlite3_column_int64(st, 1);
  if (gid < 1 || (uint64_t)gid > DP_MAX_GID)
    return CDR_ERR_INTERNAL;
  size_t g = (size_t)gid - 1;
  if (x->dp->sel == DP_SEL_ONE) {
    *slot = 0;
    return 0;
  }
  if (x->dp->sel == DP_SEL_THRESHOLD) {
    int r = ensure_slot(x, g);
    if (r != 0)
      return r;
    for (size_t i = 0; x->vals[g * x->ng + x->ng - 1] == NULL && i < x->ng; i++)
      if ((x->vals[g * x->ng + i] = sqlite3_value_dup(sqlite3_column_value(st, 2 + (int)i))) == NULL)
        return CDR_ERR_NOMEM;
    if (g + 1 > x->nslots)
      x->nslots = g + 1;
    *slot = g;
    return 0;
  }
  if (g >= x->ncell_of) {
    size_t n = x->ncell_of ? x->ncell_of : 16;
    while (n <= g)
      n *= 2;
    size_t *c = grow(x->cell_of, x->ncell_of, n, sizeof(*c));
    if (c == NULL)
      return CDR_ERR_NOMEM;
    for (size_t i = x->ncell_of; i < n; i++)
      c[i] = SIZE_MAX - 1;
    x->cell_of = c;
    x->ncell_of = n;
  }
  if (x->cell_of[g] == SIZE_MAX - 1) {
    size_t cell = 0;
    for (size_t i = 0; i < x->ng && cell != SIZE_MAX; i++) {
      const char *s = (const char *)sqlite3_column_text(st, 2 + (int)i);
      size_t k = s != NULL ? key_index(x, i, s) : SIZE_MAX;
      cell = k == SIZE_MAX ? SIZE_MAX : cell * gcol(x, i)->nkeys + k;
    }
    x->cell_of[g] = cell;
  }
  *slot = x->cell_of[g];
  return 0;
}

/* A unit's total of metric m as its contribution in millionths, in
 * [m->lo, m->hi] whatever the double (NaN, from SQLite's NULL, as 0). */
static int64_t clamp_fixed(double v, const struct dp_metric *m) {
  double y = isnan(v) ? 0.0 : v * DP_SCALE;
  if (y <= (double)m->lo)
    return m->lo;
  if (y >= (double)m->hi)
    return m->hi;
  int64_t f = llround(y);
  return f < m->lo ? m->lo : f > m->hi ? m->hi : f;
}

static void swap_rows(struct exec *x, size_t a, size_t b) {
  size_t s = x->rslot[a];
  x->rslot[a] = x->rslot[b];
  x->rslot[b] = s;
  for (size_t i = 0; i < x->nm; i++) {
    int64_t c = x->rcount[a * x->nm + i];
    double t = x->rtotal[a * x->nm + i];
    x->rcount[a * x->nm + i] = x->rcount[b * x->nm + i];
    x->rtotal[a * x->nm + i] = x->rtotal[b * x->nm + i];
    x->rcount[b * x->nm + i] = c;
    x->rtotal[b * x->nm + i] = t;
  }
}

/* The current unit's contribution: at most k of its rows, chosen
 * uniformly at random (a partial Fisher-Yates shuffle), each bounded. */
static int flush_unit(struct exec *x) {
  size_t keep = x->nrows < x->dp->k ? x->nrows : x->dp->k;
  for (size_t i = 0; x->nrows > keep && i < keep; i++) {
    dp_u128 j;
    int r = dp_uniform(&x->rng, x->nrows - i, &j);
    if (r != 0)
      return r;
    swap_rows(x, i, i + (size_t)j);
  }
  for (size_t i = 0; i < keep; i++) {
    size_t s = x->rslot[i];
    x->units[s]++;
    for (size_t k = 0; k < x->nm; k++) {
      if (x->rcount[i * x->nm + k] <= 0)
        continue;
      x->cnt[s * x->nm + k]++;
      x->sum[s * x->nm + k] += clamp_fixed(x->rtotal[i * x->nm + k], &x->dp->metric[k]);
    }
  }
  x->nrows = 0;
  return 0;
}

/* Add the statement's current row to the current unit. */
static int add_row(struct exec *x, sqlite3_stmt *st) {
  size_t slot;
  int r = row_slot(x, st, &slot);
  if (r != 0 || slot == SIZE_MAX)
    return r;
  if (x->nrows == x->rcap) {
    size_t cap = x->rcap ? x->rcap * 2 : 16, nm = x->nm ? x->nm : 1;
    size_t *s = grow(x->rslot, x->rcap, cap, sizeof(*s));
    if (s != NULL)
      x->rslot = s;
    int64_t *c = grow(x->rcount, x->rcap * nm, cap * nm, sizeof(*c));
    if (c != NULL)
      x->rcount = c;
    double *t = grow(x->rtotal, x->rcap * nm, cap * nm, sizeof(*t));
    if (t != NULL)
      x->rtotal = t;
    if (s == NULL || c == NULL || t == NULL)
      return CDR_ERR_NOMEM;
    x->rcap = cap;
  }
  size_t n = x->nrows++, base = 2 + x->ng;
  x->rslot[n] = slot;
  for (size_t i = 0; i < x->nm; i++) {
    x->rtotal[n * x->nm + i] = sqlite3_column_double(st, (int)(base + 2 * i));
    x->rcount[n * x->nm + i] = sqlite3_column_int64(st, (int)(base + 2 * i + 1));
  }
  return 0;
}

static int run_statement(struct exec *x, sqlite3_stmt *st, char **errmsg) {
  int rc = SQLITE_DONE, r = 0, first = 1;
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t u = sqlite3_column_int64(st, 0);
    if (!first && u != x->unit)
      r = flush_unit(x);
    first = 0;
    x->unit = u;
    if (r == 0)
      r = add_row(x, st);
  }
  if (r != 0)
    return r;
  if (rc != SQLITE_DONE) {
    char m[CDR_MAX_ERROR_MSG];
    if ((rc & 0xff) == SQLITE_NOMEM)
      return CDR_ERR_NOMEM;
    engine_redact_quoted(m, sizeof(m), sqlite3_errmsg(sqlite3_db_handle(st)));
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", m);
  }
  return flush_unit(x);
}

static dp_i128 sat_add(dp_i128 a, dp_i128 b) {
  const dp_i128 max = (dp_i128)(((dp_u128)1 << 127) - 1), min = -max - 1;
  if (b > 0 && a > max - b)
    return max;
  if (b < 0 && a < min - b)
    return min;
  return a + b;
}

/* Slot s's noisy quantities into v[0..nq): 0, or 1 for a slot the
 * threshold keeps out (the unit count, quantity 0, is drawn first and
 * the rest not at all), or an error. */
static int noisy(struct exec *x, size_t s, dp_i128 *v) {
  const struct dp_plan *dp = x->dp;
  for (size_t i = 0; i < dp->nq; i++) {
    if (i == 1 && dp->sel == DP_SEL_THRESHOLD && v[dp->q_units] < (dp_i128)dp->tau)
      return 1;
    const struct dp_quantity *q = &dp->q[i];
    dp_i128 y, base = q->kind == DP_Q_UNITS   ? (dp_i128)x->units[s]
                      : q->kind == DP_Q_COUNT ? (dp_i128)x->cnt[s * x->nm + q->metric]
                                              : x->sum[s * x->nm + q->metric];
    int r = dp_laplace(&x->rng, q->t, q->s, &y);
    if (r != 0)
      return r;
    v[i] = sat_add(base, y);
  }
  return dp->sel == DP_SEL_THRESHOLD && v[dp->q_units] < (dp_i128)dp->tau;
}

static int put_cell(struct exec *x, struct cdr_buf *doc, size_t s, const struct dp_output *o, const dp_i128 *v) {
  const struct dp_plan *dp = x->dp;
  const struct dp_metric *m = o->kind == DP_OUT_DIM || o->kind == DP_OUT_UNITS ? NULL : &dp->metric[o->idx];
  switch (o->kind) {
  case DP_OUT_DIM:
    if (dp->sel == DP_SEL_THRESHOLD) {
      sqlite3_value *g = x->vals[s * x->ng + o->idx];
      /* -0.0 and 0.0 are one group to SQLite: show the group, not which
       * of the two its first unit had. */
      if (sqlite3_value_type(g) == SQLITE_FLOAT && sqlite3_value_double(g) == 0.0)
        return dp_render_double(doc, 0.0);
      return dp_render_value(doc, g);
    }
    size_t cell = s;
    for (size_t i = x->ng; i-- > o->idx + 1;)
      cell /= gcol(x, i)->nkeys;
    const char *key = gcol(x, o->idx)->keys[cell % gcol(x, o->idx)->nkeys];
    return dp_render_text(doc, (const uint8_t *)key, strlen(key));
  case DP_OUT_UNITS: return dp_render_int(doc, v[dp->q_units] < 0 ? 0 : v[dp->q_units]);
  case DP_OUT_COUNT: return dp_render_int(doc, v[m->q_count] < 0 ? 0 : v[m->q_count]);
  case DP_OUT_SUM: return dp_render_fixed(doc, v[m->q_sum]);
  case DP_OUT_AVG:
    if (v[m->q_count] <= 0)
      return dp_render_sep(doc, "null");
    double a = (double)v[m->q_sum] / DP_SCALE / (double)v[m->q_count];
    return dp_render_double(doc, a < m->dlo ? m->dlo : a > m->dhi ? m->dhi : a);
  }
  return CDR_ERR_INTERNAL;
}

/* Noise, select and render every slot in order. */
static int release(struct exec *x, uint64_t max_rows, struct cdr_buf *doc, uint64_t *rows, char **errmsg) {
  const struct dp_plan *dp = x->dp;
  size_t n = dp->sel == DP_SEL_ONE ? 1 : dp->sel == DP_SEL_PUBLIC ? dp->ncells : x->nslots;
  dp_i128 *v = calloc(dp->nq ? dp->nq : 1, sizeof(*v));
  int r = v != NULL ? dp_render_begin(doc, dp) : CDR_ERR_NOMEM;
  for (size_t s = 0; r == 0 && s < n; s++) {
    /* Under the threshold, only groups some unit kept: a group whose
     * every row was dropped by bounding must not exist, or one unit
     * could make any number of groups that each might pass. */
    if (dp->sel == DP_SEL_THRESHOLD && x->units[s] == 0)
      continue;
    if ((r = noisy(x, s, v)) == 1) {
      r = 0;
      continue;
    }
    if (r != 0)
      break;
    if (*rows >= max_rows) {
      r = engine_set_err(errmsg, CDR_ERR_RESULT_TOO_LARGE, "the result has more than %llu rows",
                         (unsigned long long)max_rows);
      break;
    }
    r = dp_render_sep(doc, *rows > 0 ? ",[" : "[");
    for (size_t i = 0; r == 0 && i < dp->nout; i++)
      if ((i == 0 || (r = dp_render_sep(doc, ",")) == 0))
        r = put_cell(x, doc, s, &dp->out[i], v);
    if (r == 0)
      r = dp_render_sep(doc, "]");
    (*rows)++;
  }
  if (r == 0)
    r = dp_render_end(doc, *rows);
  wipe_free(v, (dp->nq ? dp->nq : 1) * sizeof(*v));
  return r;
}

static void exec_free(struct exec *x) {
  for (size_t i = 0; x->vals != NULL && i < x->cap * (x->ng ? x->ng : 1); i++)
    sqlite3_value_free(x->vals[i]);
  for (size_t i = 0; i < x->ng; i++)
    free(x->sorted[i]);
  size_t nm = x->nm ? x->nm : 1;
  wipe_free(x->units, x->cap * sizeof(*x->units));
  wipe_free(x->cnt, x->cap * nm * sizeof(*x->cnt));
  wipe_free(x->sum, x->cap * nm * sizeof(*x->sum));
  free(x->vals);
  wipe_free(x->cell_of, x->ncell_of * sizeof(*x->cell_of));
  wipe_free(x->rslot, x->rcap * sizeof(*x->rslot));
  wipe_free(x->rcount, x->rcap * nm * sizeof(*x->rcount));
  wipe_free(x->rtotal, x->rcap * nm * sizeof(*x->rtotal));
  dp_rng_wipe(&x->rng);
}

int dp_exec(const struct dp_plan *dp, sqlite3_stmt *st, uint64_t max_rows, struct cdr_buf *doc, uint64_t *rows,
            char **errmsg) {
  struct exec x = {.dp = dp, .nm = dp->nmetric, .ng = dp->ngroup};
  int r = 0;
  *rows = 0;
  if (dp->sel == DP_SEL_ONE)
    r = ensure_slot(&x, 0);
  else if (dp->sel == DP_SEL_PUBLIC)
    r = ensure_slot(&x, dp->ncells - 1) == 0 ? sort_keys(&x) : CDR_ERR_NOMEM;
  if (r == 0)
    r = run_statement(&x, st, errmsg);
  if (r == 0)
    r = release(&x, max_rows, doc, rows, errmsg);
  if (r == CDR_ERR_RESULT_TOO_LARGE && (errmsg == NULL || *errmsg == NULL))
    r = engine_set_err(errmsg, r, "the result is larger than %zu bytes", doc->max);
  exec_free(&x);
  return r;
}
