/*
 * witness_check.c - asking the room's witnesses for the heads they hold
 * and judging those heads against the verified log; see witness_check.h
 * and docs/PROTOCOL.md 9.4.
 *
 * Every witness gets its own client context (its own connection and TLS
 * trust), never the room's: the room's host is not in the path.  Nothing
 * a witness says reaches the terminal unsanitised.
 */
#include "witness_check.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"

void cdr_witness_round_free(struct cdr_witness_round *r) {
  free(r->w);
  memset(r, 0, sizeof(*r));
}

/* w's public key: GET /v1/witness/key, which must hash to the contract's
 * key_sha256.  0 with *key, or the error with w->why. */
static int witness_key(struct cdr_client *wc, struct cdr_witness_report *w, EVP_PKEY **key) {
  json_t *ans = NULL;
  uint8_t *spki = NULL, fp[32];
  size_t len = 0;
  int r;
  *key = NULL;
  if ((r = cdr_http_json(wc, "GET", "/v1/witness/key", NULL, 0, &ans)) != 0)
    goto out;
  if (cdr_json_get_b64(ans, "public_key", CDR_MAX_PUBKEY_DER, &spki, &len) != 0) {
    cdr_client_set_detail(wc, "its key answer has no public_key");
    r = CDR_ERR_SERVER;
  } else if (cdr_sha256(fp, spki, len) != 0 || CRYPTO_memcmp(fp, w->key_sha256, 32) != 0) {
    char got[65];
    cdr_hex_encode(got, fp, 32);
    cdr_client_set_detail(wc, "it answers with key %s, not the key the contract names", got);
    r = CDR_ERR_BAD_SIGNATURE;
  } else if (cdr_pubkey_from_der(key, spki, len) != 0 || EVP_PKEY_get_base_id(*key) != EVP_PKEY_EC) {
    cdr_client_set_detail(wc, "its public key is not an EC P-256 key");
    r = CDR_ERR_BAD_SIGNATURE;
  }
out:
  if (r != 0) {
    EVP_PKEY_free(*key);
    *key = NULL;
  }
  free(spki);
  json_decref(ans);
  return r;
}

/* One witness: its key, then "latest" with our nonce, checked. */
static void ask_one(struct cdr_client *c, struct cdr_witness_report *w, const uint8_t nonce[CDR_NONCE_LEN],
                    const char *tls_cacert) {
  struct cdr_client *wc = NULL;
  EVP_PKEY *key = NULL;
  json_t *req = NULL, *ans = NULL;
  char *body = NULL, *nonce_b64 = NULL, rid[2 * CDR_ROOM_ID_BYTES + 1], why[256] = "";
  int r;
  w->status = CDR_WITNESS_UNREACHABLE;
  if ((r = cdr_client_new(&wc, w->url)) != 0) {
    w->err = r;
    snprintf(w->why, sizeof(w->why), "its URL cannot be used");
    return;
  }
  wc->connect_timeout_s = CDR_WITNESS_CONNECT_TIMEOUT_S;
  wc->timeout_s = CDR_WITNESS_TIMEOUT_S;
  if (tls_cacert != NULL && (r = cdr_client_set_tls_cacert(wc, tls_cacert)) != 0)
    goto out;
  if ((r = witness_key(wc, w, &key)) != 0)
    goto out;
  cdr_hex_encode(rid, c->room_id, sizeof(c->room_id));
  r = CDR_ERR_NOMEM;
  if (cdr_b64_encode(&nonce_b64, nonce, CDR_NONCE_LEN) != 0 ||
      (req = json_pack("{s:s,s:s}", "room_id", rid, "nonce", nonce_b64)) == NULL || (body = cj_dump(req)) == NULL)
    goto out;
  if ((r = cdr_http_json(wc, "POST", "/v1/witness/latest", body, strlen(body), &ans)) != 0)
    goto out;
  /* From here on the witness answered: what is wrong is its answer. */
  w->status = CDR_WITNESS_REFUSED;
  if ((r = cdr_witness_latest_parse(ans, &w->answer, why, sizeof(why))) != 0) {
    cdr_client_set_detail(wc, "its latest answer is malformed: %s", why);
    goto out;
  }
  if ((r = cdr_witness_latest_verify(&w->answer, key, c->room_id, nonce, why, sizeof(why))) != 0) {
    cdr_client_set_detail(wc, "%s", why);
    goto out;
  }
  w->status = w->answer.head.sig_len == 0 ? CDR_WITNESS_HOLDS_NOTHING : CDR_WITNESS_CONFIRMED;
out:
  if (r != 0) {
    w->err = r;
    cdr_client_error_text(wc, r, why, sizeof(why));
    cdr_sanitize(w->why, sizeof(w->why), why);
  }
  EVP_PKEY_free(key);
  json_decref(req);
  json_decref(ans);
  free(body);
  free(nonce_b64);
  cdr_client_free(wc);
}

int cdr_witness_round_ask(struct cdr_client *c, const struct cdr_contract *ct, const char *tls_cacert,
                          struct cdr_witness_round *out) {
  int r;
  memset(out, 0, sizeof(*out));
  out->n = ct->n_witnesses;
  out->f = ct->witness_faults;
  out->quorum = cdr_contract_witness_quorum(ct);
  if (out->n == 0)
    return 0;
  if ((out->w = calloc(out->n, sizeof(*out->w))) == NULL)
    return CDR_ERR_NOMEM;
  if ((r = cdr_random(out->nonce, sizeof(out->nonce))) != 0) {
    cdr_witness_round_free(out);
    return r;
  }
  for (size_t i = 0; i < out->n; i++) {
    out->w[i].url = ct->witnesses[i].url;
    memcpy(out->w[i].key_sha256, ct->witnesses[i].key_sha256, 32);
    ask_one(c, &out->w[i], out->nonce, tls_cacert);
  }
  return 0;
}

/* 1 if a valid held head of w was signed by the attested identity. */
static int ours(const struct cdr_witness_report *w, const uint8_t *spki, size_t len) {
  return w->status == CDR_WITNESS_CONFIRMED && w->answer.identity_spki_len == len &&
         CRYPTO_memcmp(w->answer.identity_spki, spki, len) == 0;
}

void cdr_witness_round_sizes(const struct cdr_witness_round *r, const uint8_t *identity_spki, size_t identity_len,
                             uint64_t *sizes, size_t *n_out) {
  *n_out = 0;
  for (size_t i = 0; i < r->n; i++)
    if (ours(&r->w[i], identity_spki, identity_len))
      sizes[(*n_out)++] = r->w[i].answer.head.size;
}

/* w's head against the log: 0 (the log has it), 1 (before the entries
 * read), or history_rollback with w->why (and c's detail when name_it). */
static int against_log(struct cdr_client *c, struct cdr_witness_report *w, uint64_t log_size,
                       int (*head_at)(void *, uint64_t, uint8_t *), void *ctx, int name_it) {
  const struct cdr_witness_head *h = &w->answer.head;
  uint8_t at[CDR_WITNESS_HASH_LEN];
  char theirs[65], log_hex[65] = "", fp[65];
  int have = h->size <= log_size ? head_at(ctx, h->size, at) : head_at(ctx, log_size, at);
  if (h->size <= log_size && !have)
    return 1;
  if (h->size <= log_size && CRYPTO_memcmp(at, h->head, sizeof(at)) == 0)
    return 0;
  cdr_hex_encode(theirs, h->head, sizeof(h->head));
  if (have)
    cdr_hex_encode(log_hex, at, sizeof(at));
  cdr_hex_encode(fp, w->key_sha256, 32);
  if (h->size > log_size)
    snprintf(w->why, sizeof(w->why), "holds head size %llu hash %s, signed by this room's enclave, beyond the log "
             "(size %llu%s%s)", (unsigned long long)h->size, theirs, (unsigned long long)log_size,
             have ? ", head " : "", log_hex);
  else
    snprintf(w->why, sizeof(w->why), "holds head size %llu hash %s, signed by this room's enclave, where the log "
             "(size %llu) has hash %s", (unsigned long long)h->size, theirs, (unsigned long long)log_size, log_hex);
  if (name_it)
    cdr_client_set_detail(c, "witness %.120s (key %s) %s: the room's history was %s", w->url, fp, w->why,
                        h->size > log_size ? "rolled back" : "replaced (forked)");
  w->status = CDR_WITNESS_CONTRADICTS;
  return CDR_ERR_HISTORY_ROLLBACK;
}

static int cmp_desc(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

int cdr_witness_round_judge(struct cdr_client *c, struct cdr_witness_round *r, const uint8_t *identity_spki,
                            size_t identity_len, uint64_t log_size,
                            int (*head_at)(void *ctx, uint64_t size, uint8_t out[CDR_WITNESS_HASH_LEN]),
                            void *ctx) {
  uint64_t sizes[CDR_CONTRACT_MAX_WITNESSES];
  size_t others = 0;
  int rollback = 0;
  r->answered = r->confirmed = 0;
  r->quorum_size = 0;
  for (size_t i = 0; i < r->n; i++) {
    struct cdr_witness_report *w = &r->w[i];
    if (w->status < CDR_WITNESS_HOLDS_NOTHING)
      continue;
    if (w->status > CDR_WITNESS_HOLDS_NOTHING)
      w->status = CDR_WITNESS_CONFIRMED; /* a held head, judged (again) below */
    /* A head another identity signed says nothing about this room's
     * history: it is reported, never counted toward the quorum (as the
     * enclave's witness_gate.c does not count it). */
    if (w->status == CDR_WITNESS_CONFIRMED && !ours(w, identity_spki, identity_len)) {
      w->status = CDR_WITNESS_OTHER_IDENTITY;
      others++;
      continue;
    }
    r->answered++;
    if (w->status != CDR_WITNESS_CONFIRMED)
      continue;
    int v = against_log(c, w, log_size, head_at, ctx, !rollback);
    if (v < 0 && !rollback)
      rollback = v; /* the first one found is the one the detail names */
    else if (v == 1)
      w->status = CDR_WITNESS_UNCHECKED;
    else if (v == 0 && r->confirmed < CDR_CONTRACT_MAX_WITNESSES)
      sizes[r->confirmed++] = w->answer.head.size;
  }
  if (rollback)
    return rollback;
  if (r->n > 0 && r->answered < r->quorum) {
    char more[128] = "";
    if (others > 0)
      snprintf(more, sizeof(more), "; %zu more hold a head of another enclave identity, which counts for nothing",
               others);
    cdr_client_set_detail(c, "only %zu of the room's %zu witnesses answered (a quorum is %zu)%s: the room's history "
                          "cannot be confirmed against a rollback", r->answered, r->n, r->quorum, more);
    return CDR_ERR_WITNESS_UNAVAILABLE;
  }
  qsort(sizes, r->confirmed, sizeof(sizes[0]), cmp_desc);
  if (r->quorum > 0 && r->confirmed >= r->quorum)
    r->quorum_size = sizes[r->quorum - 1];
  return 0;
}
