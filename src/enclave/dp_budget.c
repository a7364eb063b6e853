/*
 * dp_budget.c - the privacy budget ledger (dp_budget.h).
 *
 * Plain arrays searched linearly: at most CDR_MAX_TABLES tables of at
 * most DP_MAX_ANALYSTS analysts, touched once per dp query.  Invariants
 * (every mutator keeps them, the decoder checks them):
 *   - table names are valid and distinct without ASCII case;
 *   - a table's epsilon spent is the exact sum of its analysts' and at
 *     most RULE_EPSILON_MAX_MICRO (a charge never passes the rule's
 *     total, itself at most that);
 *   - analyst keys are distinct within a table.
 */
#include "dp_budget.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "engine_int.h"
#include "rule_doc.h"

struct dp_analyst {
  uint8_t fp[32];
  uint64_t eps_micro;
};

struct dp_table {
  char name[CDR_MAX_TABLE_NAME + 1];
  uint64_t eps_micro, delta_pico;
  size_t n, cap;
  struct dp_analyst *a;
};

struct dp_ledger {
  pthread_mutex_t mu;
  size_t n, cap;
  struct dp_table *t;
};

int dp_ledger_new(struct dp_ledger **out) {
  struct dp_ledger *l = calloc(1, sizeof(*l));
  *out = NULL;
  if (l == NULL)
    return CDR_ERR_NOMEM;
  if (pthread_mutex_init(&l->mu, NULL) != 0) {
    free(l);
    return CDR_ERR_NOMEM;
  }
  *out = l;
  return 0;
}

void dp_ledger_free(struct dp_ledger *l) {
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    free(l->t[i].a);
  free(l->t);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

void dp_amount_format(uint64_t units, unsigned decimals, char out[DP_AMOUNT_STR]) {
  uint64_t scale = 1;
  for (unsigned i = 0; i < decimals && i < 18; i++)
    scale *= 10;
  uint64_t whole = units / scale, frac = units % scale;
  if (frac == 0) {
    snprintf(out, DP_AMOUNT_STR, "%llu", (unsigned long long)whole);
    return;
  }
  int w = (int)decimals;
  while (frac % 10 == 0) {
    frac /= 10;
    w--;
  }
  snprintf(out, DP_AMOUNT_STR, "%llu.%0*llu", (unsigned long long)whole, w, (unsigned long long)frac);
}

static struct dp_table *find_table(const struct dp_ledger *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (strcasecmp(l->t[i].name, name) == 0)
      return &l->t[i];
  return NULL;
}

static struct dp_analyst *find_analyst(const struct dp_table *t, const uint8_t fp[32]) {
  for (size_t i = 0; i < t->n; i++)
    if (CRYPTO_memcmp(t->a[i].fp, fp, 32) == 0)
      return &t->a[i];
  return NULL;
}

/* The table called name, added (with nothing spent) if new; NULL if
 * memory runs out or the ledger is full. */
static struct dp_table *add_table(struct dp_ledger *l, const char *name) {
  struct dp_table *t = find_table(l, name);
  if (t != NULL)
    return t;
  if (l->n >= CDR_MAX_TABLES)
    return NULL;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    struct dp_table *nt = realloc(l->t, cap * sizeof(*nt));
    if (nt == NULL)
      return NULL;
    l->t = nt;
    l->cap = cap;
  }
  t = &l->t[l->n++];
  memset(t, 0, sizeof(*t));
  memcpy(t->name, name, strlen(name) + 1);
  return t;
}

static struct dp_analyst *add_analyst(struct dp_table *t, const uint8_t fp[32]) {
  struct dp_analyst *a = find_analyst(t, fp);
  if (a != NULL)
    return a;
  if (t->n >= DP_MAX_ANALYSTS)
    return NULL;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 4;
    struct dp_analyst *na = realloc(t->a, cap * sizeof(*na));
    if (na == NULL)
      return NULL;
    t->a = na;
    t->cap = cap;
  }
  a = &t->a[t->n++];
  memcpy(a->fp, fp, 32);
  a->eps_micro = 0;
  return a;
}

void dp_ledger_spent(struct dp_ledger *l, const char *table, const uint8_t *analyst_fp, struct dp_spent *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&l->mu);
  const struct dp_table *t = find_table(l, table);
  if (t != NULL) {
    out->eps_micro = t->eps_micro;
    out->delta_pico = t->delta_pico;
    const struct dp_analyst *a = analyst_fp != NULL ? find_analyst(t, analyst_fp) : NULL;
    out->analyst_micro = a != NULL ? a->eps_micro : 0;
  }
  pthread_mutex_unlock(&l->mu);
}

/* The refusal of a charge, naming the table and what is left. */
static int exhausted(char **errmsg, const char *table, uint64_t need, uint64_t spent, uint64_t total,
                     const char *whose) {
  char n[DP_AMOUNT_STR], left[DP_AMOUNT_STR], tot[DP_AMOUNT_STR];
  dp_amount_format(need, 6, n);
  dp_amount_format(spent < total ? total - spent : 0, 6, left);
  dp_amount_format(total, 6, tot);
  return engine_set_err(errmsg, CDR_ERR_BUDGET_EXHAUSTED,
                        "%s privacy budget of table %s is spent: this query needs epsilon %s and %s of %s%s is left",
                        whose[0] != '\0' ? "your share of the" : "the", table, n, left, whose, tot);
}

static int charge_locked(struct dp_ledger *l, const char *table, const uint8_t fp[32], uint64_t total,
                         uint64_t per_analyst, uint64_t eps, uint64_t delta, char **errmsg) {
  struct dp_table *t = find_table(l, table);
  uint64_t spent = t != NULL ? t->eps_micro : 0;
  if (eps > total || spent > total - eps)
    return exhausted(errmsg, table, eps, spent, total, "");
  const struct dp_analyst *a0 = t != NULL ? find_analyst(t, fp) : NULL;
  uint64_t mine = a0 != NULL ? a0->eps_micro : 0;
  if (per_analyst != 0 && (eps > per_analyst || mine > per_analyst - eps))
    return exhausted(errmsg, table, eps, mine, per_analyst, "your ");
  if (t == NULL && (t = add_table(l, table)) == NULL)
    return l->n >= CDR_MAX_TABLES ? engine_set_err(errmsg, CDR_ERR_INTERNAL, "the budget ledger is full")
                                  : CDR_ERR_NOMEM;
  struct dp_analyst *a = add_analyst(t, fp);
  if (a == NULL)
    return t->n >= DP_MAX_ANALYSTS
               ? engine_set_err(errmsg, CDR_ERR_BUDGET_EXHAUSTED,
                                "the privacy budget of table %s is shared by %u analysts already, the most it "
                                "keeps", table, DP_MAX_ANALYSTS)
               : CDR_ERR_NOMEM;
  t->eps_micro += eps;
  a->eps_micro += eps;
  t->delta_pico = delta > UINT64_MAX - t->delta_pico ? UINT64_MAX : t->delta_pico + delta;
  return 0;
}

int dp_ledger_charge(struct dp_ledger *l, const char *table, const uint8_t analyst_fp[32], uint64_t total_micro,
                     uint64_t per_analyst_micro, uint64_t eps_micro, uint64_t delta_pico, char **errmsg) {
  if (eps_micro == 0 || !catalog_table_name_valid(table) || total_micro > RULE_EPSILON_MAX_MICRO)
    return CDR_ERR_ARG;
  pthread_mutex_lock(&l->mu);
  int r = charge_locked(l, table, analyst_fp, total_micro, per_analyst_micro, eps_micro, delta_pico, errmsg);
  pthread_mutex_unlock(&l->mu);
  return r;
}

int dp_ledger_refund(struct dp_ledger *l, const char *table, const uint8_t analyst_fp[32], uint64_t eps_micro,
                     uint64_t delta_pico) {
  int r = CDR_ERR_INTERNAL;
  pthread_mutex_lock(&l->mu);
  struct dp_table *t = find_table(l, table);
  struct dp_analyst *a = t != NULL ? find_analyst(t, analyst_fp) : NULL;
  if (a != NULL && a->eps_micro >= eps_micro && t->eps_micro >= eps_micro) {
    a->eps_micro -= eps_micro;
    t->eps_micro -= eps_micro;
    /* A saturated delta total stays saturated: what it was is unknown. */
    if (t->delta_pico != UINT64_MAX)
      t->delta_pico = t->delta_pico >= delta_pico ? t->delta_pico - delta_pico : 0;
    r = 0;
  }
  pthread_mutex_unlock(&l->mu);
  return r;
}

int dp_ledger_encode(struct dp_ledger *l, struct cdr_buf *out) {
  int r;
  pthread_mutex_lock(&l->mu);
  r = cdr_buf_put(out, DP_LEDGER_MAGIC, DP_LEDGER_MAGIC_LEN);
  if (r == 0)
    r = cdr_buf_put_u32(out, (uint32_t)l->n);
  for (size_t i = 0; i < l->n && r == 0; i++) {
    const struct dp_table *t = &l->t[i];
    if ((r = cdr_buf_put_lpstr(out, t->name)) != 0 || (r = cdr_buf_put_u64(out, t->eps_micro)) != 0 ||
        (r = cdr_buf_put_u64(out, t->delta_pico)) != 0 || (r = cdr_buf_put_u32(out, (uint32_t)t->n)) != 0)
      break;
    for (size_t k = 0; k < t->n && r == 0; k++)
      if ((r = cdr_buf_put(out, t->a[k].fp, 32)) == 0)
        r = cdr_buf_put_u64(out, t->a[k].eps_micro);
  }
  pthread_mutex_unlock(&l->mu);
  return r;
}

static int decode_table(struct cdr_buf *b, struct dp_ledger *l) {
  char *name = NULL;
  uint64_t eps, delta, sum = 0;
  uint32_t na;
  int r;
  if ((r = cdr_buf_get_lpstr(b, &name, CDR_MAX_TABLE_NAME)) != 0)
    return r;
  if (!catalog_table_name_valid(name) || find_table(l, name) != NULL) {
    free(name);
    return CDR_ERR_ARG;
  }
  struct dp_table *t = add_table(l, name);
  free(name);
  if (t == NULL)
    return CDR_ERR_NOMEM;
  if ((r = cdr_buf_get_u64(b, &eps)) != 0 || (r = cdr_buf_get_u64(b, &delta)) != 0 ||
      (r = cdr_buf_get_u32(b, &na)) != 0)
    return r;
  if (eps > RULE_EPSILON_MAX_MICRO)
    return CDR_ERR_ARG;
  if (na > DP_MAX_ANALYSTS)
    return CDR_ERR_TOO_LARGE;
  t->eps_micro = eps;
  t->delta_pico = delta;
  for (uint32_t k = 0; k < na; k++) {
    uint8_t fp[32];
    uint64_t v;
    if ((r = cdr_buf_get(b, fp, sizeof(fp))) != 0 || (r = cdr_buf_get_u64(b, &v)) != 0)
      return r;
    if (find_analyst(t, fp) != NULL || v > eps - sum)
      return CDR_ERR_ARG;
    struct dp_analyst *a = add_analyst(t, fp);
    if (a == NULL)
      return CDR_ERR_NOMEM;
    a->eps_micro = v;
    sum += v;
  }
  return sum == eps ? 0 : CDR_ERR_ARG;
}

int dp_ledger_decode(const uint8_t *p, size_t n, struct dp_ledger **out) {
  struct cdr_buf b;
  uint8_t magic[DP_LEDGER_MAGIC_LEN];
  uint32_t nt;
  struct dp_ledger *l = NULL;
  int r;
  *out = NULL;
  if (p == NULL && n > 0)
    return CDR_ERR_ARG;
  if (n > DP_LEDGER_MAX_BYTES)
    return CDR_ERR_TOO_LARGE;
  if ((r = dp_ledger_new(&l)) != 0)
    return r;
  cdr_buf_view(&b, p, n);
  if ((r = cdr_buf_get(&b, magic, sizeof(magic))) != 0 || (r = cdr_buf_get_u32(&b, &nt)) != 0)
    goto out;
  if (memcmp(magic, DP_LEDGER_MAGIC, DP_LEDGER_MAGIC_LEN) != 0) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if (nt > CDR_MAX_TABLES) {
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  for (uint32_t i = 0; i < nt && r == 0; i++)
    r = decode_table(&b, l);
  if (r == 0)
    r = cdr_buf_expect_end(&b);
out:
  if (r != 0) {
    dp_ledger_free(l);
    return r;
  }
  *out = l;
  return 0;
}
