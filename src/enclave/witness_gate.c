/*
 * witness_gate.c - the enclave's checks of its witnesses' answers
 * (witness_gate.h has the contracts and how it is to be wired).
 *
 * Everything here arrives through the host, so nothing is believed
 * because it arrived: a countersignature counts only under the key the
 * contract names for that witness, a "latest" answer only over our own
 * nonce, and a held head only with our identity's own signature.  A
 * witness is counted once however often the host repeats its answer.
 */
#include "witness_gate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/crypto.h"

size_t witness_quorum(size_t n, unsigned f) { return n == 0 ? 0 : (n + (size_t)f + 2) / 2; }

int witness_gate_same_set(const struct witness_gate *g, const struct cdr_contract *c) {
  if (c->n_witnesses != g->n || (g->n > 0 && c->witness_faults != g->f))
    return 0;
  for (size_t i = 0; i < g->n; i++)
    if (memcmp(c->witnesses[i].key_sha256, g->w[i].key_sha256, 32) != 0)
      return 0;
  return 1;
}

void witness_gate_free(struct witness_gate *g) {
  for (size_t i = 0; g->w != NULL && i < g->n; i++) {
    free(g->w[i].url);
    EVP_PKEY_free(g->w[i].key);
  }
  free(g->w);
  memset(g, 0, sizeof(*g));
}

int witness_gate_init(struct witness_gate *g, const struct cdr_contract *c) {
  memset(g, 0, sizeof(*g));
  memcpy(g->room_id, c->room_id, CDR_ROOM_ID_BYTES);
  if (c->n_witnesses > 0 && c->n_witnesses < 3u * (size_t)c->witness_faults + 1u)
    return CDR_ERR_CONTRACT_INVALID;
  if (c->n_witnesses > 0 && (g->w = calloc(c->n_witnesses, sizeof(*g->w))) == NULL)
    return CDR_ERR_NOMEM;
  g->n = c->n_witnesses;
  g->f = c->witness_faults;
  g->quorum = witness_quorum(g->n, g->f);
  for (size_t i = 0; i < g->n; i++) {
    memcpy(g->w[i].key_sha256, c->witnesses[i].key_sha256, 32);
    if ((g->w[i].url = strdup(c->witnesses[i].url)) == NULL) {
      witness_gate_free(g);
      return CDR_ERR_NOMEM;
    }
  }
  return 0;
}

int witness_gate_set_key(struct witness_gate *g, const uint8_t *spki, size_t spki_len, size_t *index) {
  uint8_t fp[32], point[CDR_P256_POINT_LEN];
  EVP_PKEY *k = NULL;
  int r;
  if ((r = cdr_sha256(fp, spki, spki_len)) != 0)
    return r;
  for (size_t i = 0; i < g->n; i++) {
    if (!cdr_ct_equal(fp, g->w[i].key_sha256, 32))
      continue;
    if (cdr_pubkey_from_der(&k, spki, spki_len) != 0 || cdr_p256_point_get(point, k) != 0) {
      EVP_PKEY_free(k);
      return CDR_ERR_KEY_UNSUPPORTED;
    }
    EVP_PKEY_free(g->w[i].key);
    g->w[i].key = k;
    if (index != NULL)
      *index = i;
    return 0;
  }
  return CDR_ERR_NOT_A_MEMBER;
}

int witness_gate_confirmed(const struct witness_gate *g, uint64_t size, const uint8_t head[CDR_WITNESS_HASH_LEN],
                           const struct witness_countersig *cs, size_t n_cs, size_t *confirmed) {
  uint8_t counted[CDR_CONTRACT_MAX_WITNESSES] = {0};
  *confirmed = 0;
  for (size_t j = 0; j < n_cs; j++) {
    for (size_t i = 0; i < g->n && i < CDR_CONTRACT_MAX_WITNESSES; i++) {
      if (counted[i] || g->w[i].key == NULL || !cdr_ct_equal(cs[j].witness_key_sha256, g->w[i].key_sha256, 32))
        continue;
      if (cdr_witness_countersign_verify(g->w[i].key, g->room_id, size, head, cs[j].sig, cs[j].sig_len) == 0) {
        counted[i] = 1;
        (*confirmed)++;
      }
      break;
    }
  }
  return g->n > 0 && *confirmed >= g->quorum ? 0 : CDR_ERR_WITNESS_UNAVAILABLE;
}

static void say(struct witness_gate_verdict *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct witness_gate_verdict *v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->message, sizeof(v->message), fmt, ap);
  va_end(ap);
}

/* Does witness i's answer count?  0 yes; else why (for the message). */
static int answer_counts(const struct witness_gate *g, size_t i, const struct cdr_witness_latest *a,
                         const uint8_t nonce[CDR_NONCE_LEN], const struct witness_gate_log *log, char *why,
                         size_t whylen) {
  if (a == NULL) {
    snprintf(why, whylen, "no answer");
    return CDR_ERR_WITNESS_UNAVAILABLE;
  }
  if (g->w[i].key == NULL) {
    snprintf(why, whylen, "its key was not relayed");
    return CDR_ERR_WITNESS_UNAVAILABLE;
  }
  int r = cdr_witness_latest_verify(a, g->w[i].key, g->room_id, nonce, why, whylen);
  if (r != 0)
    return r;
  if (a->head.sig_len > 0 && (a->identity_spki_len != log->identity_spki_len ||
                              !cdr_ct_equal(a->identity_spki, log->identity_spki, log->identity_spki_len))) {
    snprintf(why, whylen, "its head is signed by another enclave identity");
    return CDR_ERR_BAD_SIGNATURE;
  }
  return 0;
}

/* A counted head against the log: 0, or history_rollback with v filled. */
static int head_against_log(const struct witness_gate *g, size_t i, const struct cdr_witness_head *h,
                            const struct witness_gate_log *log, struct witness_gate_verdict *v) {
  uint8_t ours[CDR_WITNESS_HASH_LEN];
  char theirs_hex[65], ours_hex[65], fp[65];
  int r;
  if (h->sig_len == 0)
    return 0; /* holds nothing: confirms nothing, contradicts nothing */
  if ((r = log->head_at(log->ctx, h->size <= log->size ? h->size : log->size, ours)) != 0)
    return r;
  if (h->size <= log->size && cdr_ct_equal(ours, h->head, CDR_WITNESS_HASH_LEN))
    return 0;
  v->culprit = i;
  v->theirs = *h;
  v->our_size = log->size;
  memcpy(v->our_head, ours, sizeof(ours));
  cdr_hex_encode(theirs_hex, h->head, 32);
  cdr_hex_encode(ours_hex, ours, 32);
  cdr_hex_encode(fp, g->w[i].key_sha256, 32);
  if (h->size > log->size)
    say(v,
        "history_rollback: witness %zu (%s, key %s) holds head size %llu hash %s, signed by this enclave, beyond "
        "the log (size %llu, head %s): the room's state was rolled back",
        i, g->w[i].url, fp, (unsigned long long)h->size, theirs_hex, (unsigned long long)log->size, ours_hex);
  else
    say(v,
        "history_rollback: witness %zu (%s, key %s) holds head size %llu hash %s, signed by this enclave, where the "
        "log (size %llu) has hash %s: the room's history was replaced",
        i, g->w[i].url, fp, (unsigned long long)h->size, theirs_hex, (unsigned long long)log->size, ours_hex);
  return CDR_ERR_HISTORY_ROLLBACK;
}

int witness_gate_start_check(const struct witness_gate *g, const uint8_t nonce[CDR_NONCE_LEN],
                             const struct cdr_witness_latest *const *answers, const struct witness_gate_log *log,
                             struct witness_gate_verdict *v) {
  char why[256] = "", first_why[300] = "";
  int r;
  memset(v, 0, sizeof(*v));
  v->our_size = log->size;
  if (g->n == 0) {
    say(v, "history not witnessed: the operator can roll back activity since the last commit");
    return 0;
  }
  for (size_t i = 0; i < g->n; i++) {
    if (answer_counts(g, i, answers[i], nonce, log, why, sizeof(why)) != 0) {
      if (first_why[0] == '\0')
        snprintf(first_why, sizeof(first_why), "witness %zu (%s): %s", i, g->w[i].url, why);
      continue;
    }
    if ((r = head_against_log(g, i, &answers[i]->head, log, v)) != 0)
      return r;
    v->answered++;
  }
  if (v->answered < g->quorum) {
    say(v, "witness_unavailable: %zu of %zu witnesses confirmed the history, a quorum is %zu%s%s", v->answered, g->n,
        g->quorum, first_why[0] ? "; " : "", first_why);
    return CDR_ERR_WITNESS_UNAVAILABLE;
  }
  say(v, "%zu of %zu witnesses confirmed the history up to entry %llu (quorum %zu)", v->answered, g->n,
      (unsigned long long)log->size, g->quorum);
  return 0;
}
