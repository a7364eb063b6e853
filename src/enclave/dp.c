/*
 * dp.c - dp_run (dp.h): plan, look up, charge, prepare, run, store.
 *
 * The cache's mutex is held from the look-up to the store, so a query
 * is looked up, charged and answered as one step: of two identical
 * queries at once, the second finds the first's answer.  (This also
 * runs dp queries one at a time; they are aggregations of one table.)
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "dp_int.h"
#include "engine_int.h"

/* SHA-256("cdr-dp-cache-v1" || analyst || len || data version || plan). */
static int cache_key(const struct dp_request *req, const struct dp_plan *dp, uint8_t key[32]) {
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  uint8_t len[4] = {0, 0, 0, (uint8_t)req->data_version_len};
  int ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
           EVP_DigestUpdate(h, "cdr-dp-cache-v1", 16) == 1 && EVP_DigestUpdate(h, req->analyst_fp, 32) == 1 &&
           EVP_DigestUpdate(h, len, 4) == 1 && EVP_DigestUpdate(h, req->data_version, req->data_version_len) == 1 &&
           EVP_DigestUpdate(h, dp->digest, 32) == 1 && EVP_DigestFinal_ex(h, key, NULL) == 1;
  EVP_MD_CTX_free(h);
  return ok ? 0 : CDR_ERR_NOMEM;
}

static int append(struct cdr_buf *out, const struct cdr_buf *doc) {
  int r = doc->len > 0 ? cdr_buf_put(out, doc->d, doc->len) : 0;
  return r == CDR_ERR_TOO_LARGE ? CDR_ERR_RESULT_TOO_LARGE : r;
}

/* Charge, prepare, run: with the cache locked, on a miss. */
static int run_locked(const struct dp_request *req, const struct dp_plan *dp, struct dp_ledger *ledger,
                      struct cdr_buf *doc, struct dp_outcome *oc, char **errmsg) {
  const struct rule_doc *d = dp->rule;
  sqlite3_stmt *st = NULL;
  int r = dp_ledger_charge(ledger, dp->table->name, req->analyst_fp, d->eps_total_micro, d->eps_analyst_micro,
                           dp->eps_micro, dp->delta_pico, errmsg);
  if (r != 0)
    return r;
  oc->charged = 1;
  oc->eps_micro = dp->eps_micro;
  oc->delta_pico = dp->delta_pico;
  int rc = sqlite3_prepare_v3(req->db, dp->sql, -1, 0, &st, NULL);
  if (rc != SQLITE_OK || st == NULL) {
    /* Nothing ran: the one failure that is refunded. */
    char m[CDR_MAX_ERROR_MSG];
    engine_redact_quoted(m, sizeof(m), sqlite3_errmsg(req->db));
    sqlite3_finalize(st);
    if (dp_ledger_refund(ledger, dp->table->name, req->analyst_fp, dp->eps_micro, dp->delta_pico) == 0) {
      oc->charged = 0;
      oc->eps_micro = oc->delta_pico = 0;
    }
    return (rc & 0xff) == SQLITE_NOMEM ? CDR_ERR_NOMEM : engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", m);
  }
  r = dp_exec(dp, st, req->max_result_rows, doc, &oc->rows, errmsg);
  sqlite3_finalize(st);
  return r;
}

int dp_run(const struct dp_request *req, struct dp_ledger *ledger, struct dp_cache *cache, struct cdr_buf *out,
           struct dp_outcome *oc, char **errmsg) {
  struct dp_plan *dp = NULL;
  struct cdr_buf doc;
  uint8_t key[32];
  int r;
  memset(oc, 0, sizeof(*oc));
  if (req->db == NULL || req->plan == NULL || req->analyst_fp == NULL || req->data_version == NULL ||
      req->data_version_len == 0 || req->data_version_len > 64)
    return CDR_ERR_ARG;
  if ((r = dp_plan_build(req->plan, &dp, errmsg)) != 0)
    return r;
  if ((r = cache_key(req, dp, key)) != 0) {
    dp_plan_free(dp);
    return r;
  }
  cdr_buf_init(&doc, req->max_result_bytes, 0);
  dp_cache_lock(cache);
  const struct cdr_buf *hit = dp_cache_get(cache, key, &oc->rows);
  if (hit != NULL) {
    oc->cached = 1;
    r = append(out, hit);
  } else if ((r = run_locked(req, dp, ledger, &doc, oc, errmsg)) == 0) {
    /* An answer the cache cannot keep (memory) is still given: asked
     * again, it is charged again. */
    (void)dp_cache_put(cache, key, &doc, oc->rows);
    r = append(out, &doc);
  }
  dp_cache_unlock(cache);
  if (r == CDR_ERR_RESULT_TOO_LARGE && (errmsg == NULL || *errmsg == NULL))
    r = engine_set_err(errmsg, r, "the result is larger than %zu bytes", req->max_result_bytes);
  cdr_buf_free(&doc);
  OPENSSL_cleanse(key, sizeof(key));
  dp_plan_free(dp);
  return r;
}
