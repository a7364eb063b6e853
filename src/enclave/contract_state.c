/*
 * contract_state.c - the room contract chain and the pending version in
 * the enclave; see contract_state.h.  The governance rule itself is the
 * contract library's (crypto/contract_gov.c): this file only applies it.
 */
#include "contract_state.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/crypto.h"

static int refuse(int code, char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(int code, char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  if (why != NULL && whylen > 0) {
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return code;
}

static void version_clear(struct contract_version *v) {
  for (size_t i = 0; i < v->n_sigs; i++) {
    free(v->sigs[i].spki);
    free(v->sigs[i].obj);
  }
  free(v->sigs);
  free(v->doc);
  cdr_contract_free(&v->c);
  memset(v, 0, sizeof(*v));
}

void contract_state_free(struct contract_state *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n_active; i++)
    version_clear(&s->active[i]);
  free(s->active);
  if (s->has_pending)
    version_clear(&s->pending);
  memset(s, 0, sizeof(*s));
}

const struct contract_version *contract_state_current(const struct contract_state *s) {
  return s != NULL && s->n_active > 0 ? &s->active[s->n_active - 1] : NULL;
}

const struct contract_version *contract_state_pending(const struct contract_state *s, int64_t now) {
  return s != NULL && s->has_pending && now < s->pending_expires ? &s->pending : NULL;
}

enum contract_key_standing contract_state_key(const struct contract_state *s, const uint8_t key[32], int64_t now) {
  const struct contract_version *cur = contract_state_current(s), *p = contract_state_pending(s, now);
  if (cur == NULL)
    return CONTRACT_KEY_NO_CONTRACT;
  if (cdr_contract_find_member(&cur->c, key) >= 0)
    return CONTRACT_KEY_MEMBER;
  if (p != NULL && cdr_contract_find_member(&p->c, key) >= 0)
    return CONTRACT_KEY_PENDING;
  return CONTRACT_KEY_NONE;
}

static size_t version_size(const struct contract_version *v) {
  size_t n = 4 + v->doc_len + 4;
  for (size_t i = 0; i < v->n_sigs; i++)
    n += 8 + v->sigs[i].spki_len + v->sigs[i].obj_len;
  return n;
}

/* The size of contract_state_encode's output, plus `more` (without the
 * pending version when it is being replaced), is within the cap. */
static int fits(const struct contract_state *s, size_t more, int replacing) {
  size_t n = 4 + 1 + 8 + more;
  for (size_t i = 0; i < s->n_active; i++)
    n += version_size(&s->active[i]);
  if (s->has_pending && !replacing)
    n += version_size(&s->pending);
  return n <= CONTRACT_MAX_STATE_BYTES;
}

/* A version from its document's bytes (copied, parsed, hashed). */
static int version_from_doc(struct contract_version *v, const uint8_t *doc, size_t len, char *why, size_t whylen) {
  int r;
  memset(v, 0, sizeof(*v));
  if ((r = cdr_contract_parse(doc, len, &v->c, why, whylen)) != 0)
    return r;
  if ((v->doc = malloc(len)) == NULL) {
    cdr_contract_free(&v->c);
    return CDR_ERR_NOMEM;
  }
  memcpy(v->doc, doc, len);
  v->doc_len = len;
  if ((r = cdr_sha256(v->hash, doc, len)) != 0)
    version_clear(v);
  return r;
}

static int version_encode(const struct contract_version *v, struct cdr_buf *out) {
  int r;
  if ((r = cdr_buf_put_lp(out, v->doc, v->doc_len)) != 0 || (r = cdr_buf_put_u32(out, (uint32_t)v->n_sigs)) != 0)
    return r;
  for (size_t i = 0; i < v->n_sigs; i++)
    if ((r = cdr_buf_put_lp(out, v->sigs[i].spki, v->sigs[i].spki_len)) != 0 ||
        (r = cdr_buf_put_lp(out, v->sigs[i].obj, v->sigs[i].obj_len)) != 0)
      return r;
  return 0;
}

int contract_state_encode(const struct contract_state *s, struct cdr_buf *out) {
  int r;
  if ((r = cdr_buf_put_u32(out, (uint32_t)s->n_active)) != 0)
    return r;
  for (size_t i = 0; i < s->n_active; i++)
    if ((r = version_encode(&s->active[i], out)) != 0)
      return r;
  if ((r = cdr_buf_put_u8(out, s->has_pending ? 1 : 0)) != 0)
    return r;
  if (s->has_pending &&
      ((r = version_encode(&s->pending, out)) != 0 || (r = cdr_buf_put_u64(out, (uint64_t)s->pending_expires)) != 0))
    return r;
  return 0;
}

/* Add a signature record (copies); the object's key is taken from it. */
static int sig_add(struct contract_version *v, const uint8_t key[32], const uint8_t *spki, size_t spki_len,
                   const uint8_t *obj, size_t obj_len) {
  struct contract_sigrec *n, *rec;
  if (v->n_sigs >= CONTRACT_MAX_SIGS)
    return CDR_ERR_TOO_LARGE;
  if ((n = realloc(v->sigs, (v->n_sigs + 1) * sizeof(*n))) == NULL)
    return CDR_ERR_NOMEM;
  v->sigs = n;
  rec = &n[v->n_sigs];
  memset(rec, 0, sizeof(*rec));
  if ((rec->spki = malloc(spki_len)) == NULL || (rec->obj = malloc(obj_len)) == NULL) {
    free(rec->spki);
    return CDR_ERR_NOMEM;
  }
  memcpy(rec->key_sha256, key, 32);
  memcpy(rec->spki, spki, spki_len);
  rec->spki_len = spki_len;
  memcpy(rec->obj, obj, obj_len);
  rec->obj_len = obj_len;
  v->n_sigs++;
  return 0;
}

static int version_decode(struct cdr_buf *b, struct contract_version *v) {
  const uint8_t *doc, *spki, *obj;
  size_t doc_len, spki_len, obj_len;
  uint32_t n;
  int r;
  if ((r = cdr_buf_get_lp(b, &doc, &doc_len, CDR_CONTRACT_MAX_BYTES)) != 0)
    return r;
  if ((r = version_from_doc(v, doc, doc_len, NULL, 0)) != 0)
    return r;
  if ((r = cdr_buf_get_u32(b, &n)) != 0)
    return r;
  if (n > CONTRACT_MAX_SIGS)
    return CDR_ERR_TRUNCATED;
  for (uint32_t i = 0; i < n; i++) {
    struct cdr_contract_sig sig;
    if ((r = cdr_buf_get_lp(b, &spki, &spki_len, CDR_MAX_PUBKEY_DER)) != 0 ||
        (r = cdr_buf_get_lp(b, &obj, &obj_len, 4096)) != 0)
      return r;
    if ((r = cdr_contract_sig_parse(obj, obj_len, &sig, NULL, 0)) != 0)
      return r;
    r = sig_add(v, sig.member_key_sha256, spki, spki_len, obj, obj_len);
    cdr_contract_sig_free(&sig);
    if (r != 0)
      return r;
  }
  return 0;
}

int contract_state_decode(struct cdr_buf *b, struct contract_state *s) {
  uint32_t n;
  uint8_t has;
  uint64_t exp;
  int r;
  memset(s, 0, sizeof(*s));
  if ((r = cdr_buf_get_u32(b, &n)) != 0)
    return r;
  if (n > CONTRACT_MAX_CHAIN)
    return CDR_ERR_TRUNCATED;
  if (n > 0 && (s->active = calloc(n, sizeof(*s->active))) == NULL)
    return CDR_ERR_NOMEM;
  for (uint32_t i = 0; i < n; i++) {
    s->n_active = i + 1;
    if ((r = version_decode(b, &s->active[i])) != 0)
      goto fail;
  }
  if ((r = cdr_buf_get_u8(b, &has)) != 0 || has > 1)
    goto fail_trunc;
  if (has) {
    s->has_pending = 1;
    if ((r = version_decode(b, &s->pending)) != 0 || (r = cdr_buf_get_u64(b, &exp)) != 0 || exp > INT64_MAX)
      goto fail_trunc;
    s->pending_expires = (int64_t)exp;
  }
  return 0;
fail_trunc:
  if (r == 0)
    r = CDR_ERR_TRUNCATED;
fail:
  contract_state_free(s);
  return r;
}

int contract_state_required(const struct contract_state *s, struct cdr_contract_signers *out) {
  const struct contract_version *cur = contract_state_current(s);
  memset(out, 0, sizeof(*out));
  if (!s->has_pending)
    return CDR_ERR_CONTRACT_NO_PENDING;
  return cdr_contract_required_signers(cur != NULL ? &cur->c : NULL, &s->pending.c, out, NULL, 0);
}

int contract_state_propose(struct contract_state *s, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                           const uint8_t ca_sha256[32], const uint8_t *doc, size_t len, int64_t now, size_t *voided,
                           char *why, size_t whylen) {
  const struct contract_version *cur = contract_state_current(s);
  struct contract_version v;
  struct cdr_contract_signers req;
  int r;
  *voided = 0;
  if (s->n_active >= CONTRACT_MAX_CHAIN)
    return refuse(CDR_ERR_TOO_LARGE, why, whylen, "the room's contract chain holds %u versions, the most it may",
                  CONTRACT_MAX_CHAIN);
  if (!fits(s, 8 + len, 1))
    return refuse(CDR_ERR_TOO_LARGE, why, whylen, "the room's sealed contract state would pass %u MiB",
                  CONTRACT_MAX_STATE_BYTES / CDR_MiB);
  if ((r = version_from_doc(&v, doc, len, why, whylen)) != 0)
    return r;
  if (memcmp(v.c.room_id, room_id, CDR_ROOM_ID_BYTES) != 0) {
    version_clear(&v);
    return refuse(CDR_ERR_CONTRACT_INVALID, why, whylen, "room_id: not this room's id");
  }
  if (CRYPTO_memcmp(v.c.ca_sha256, ca_sha256, 32) != 0) {
    version_clear(&v);
    return refuse(CDR_ERR_CONTRACT_INVALID, why, whylen, "ca_sha256: not the CA this room runs under");
  }
  /* Follows the active version, and needs at least one signature. */
  if ((r = cdr_contract_required_signers(cur != NULL ? &cur->c : NULL, &v.c, &req, why, whylen)) != 0) {
    version_clear(&v);
    return r;
  }
  cdr_contract_signers_free(&req);
  if (s->has_pending) {
    *voided = s->pending.n_sigs;
    version_clear(&s->pending);
  }
  s->pending = v;
  s->has_pending = 1;
  s->pending_expires = now + CONTRACT_PENDING_TTL_SECONDS;
  return 0;
}

/* Move the pending version to the end of the chain. */
static int activate(struct contract_state *s) {
  struct contract_version *a = realloc(s->active, (s->n_active + 1) * sizeof(*a));
  if (a == NULL)
    return CDR_ERR_NOMEM;
  s->active = a;
  a[s->n_active++] = s->pending;
  memset(&s->pending, 0, sizeof(s->pending));
  s->has_pending = 0;
  s->pending_expires = 0;
  return 0;
}

/* Whether key may sign the pending version: a required signer or one of
 * its members. */
static int may_sign(const struct contract_state *s, const struct cdr_contract_signers *req, const uint8_t key[32]) {
  for (size_t i = 0; i < req->n; i++)
    if (memcmp(req->v[i].key_sha256, key, 32) == 0)
      return 1;
  return cdr_contract_find_member(&s->pending.c, key) >= 0;
}

static int count_missing(const struct contract_state *s, const struct cdr_contract_signers *req, size_t *missing) {
  uint8_t(*have)[32] = NULL;
  int r;
  if (s->pending.n_sigs > 0 && (have = calloc(s->pending.n_sigs, 32)) == NULL)
    return CDR_ERR_NOMEM;
  for (size_t i = 0; i < s->pending.n_sigs; i++)
    memcpy(have[i], s->pending.sigs[i].key_sha256, 32);
  r = cdr_contract_signers_missing(req, (const uint8_t(*)[32])have, s->pending.n_sigs, missing, NULL);
  free(have);
  return r;
}

int contract_state_sign(struct contract_state *s, const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *spki,
                        size_t spki_len, const uint8_t *obj, size_t len, int64_t now, enum contract_sign_result *res,
                        size_t *missing, char *why, size_t whylen) {
  struct cdr_contract_sig sig;
  struct cdr_contract_signers req;
  uint8_t key[32];
  char hex[65];
  int r;
  *missing = 0;
  *res = CONTRACT_SIGN_ADDED;
  memset(&req, 0, sizeof(req));
  if ((r = cdr_contract_sig_parse(obj, len, &sig, why, whylen)) != 0)
    return r;
  if (contract_state_pending(s, now) == NULL) {
    r = refuse(CDR_ERR_CONTRACT_NO_PENDING, why, whylen, "no contract version is pending (none proposed, or it expired)");
    goto out;
  }
  if (sig.version != s->pending.c.version || CRYPTO_memcmp(sig.contract_sha256, s->pending.hash, 32) != 0) {
    cdr_hex_encode(hex, s->pending.hash, 32);
    r = refuse(CDR_ERR_CONTRACT_MISMATCH, why, whylen,
               "the signature is over version %llu with another hash; the pending version is %llu, %s",
               (unsigned long long)sig.version, (unsigned long long)s->pending.c.version, hex);
    goto out;
  }
  if ((r = cdr_sha256(key, spki, spki_len)) != 0)
    goto out;
  if (CRYPTO_memcmp(key, sig.member_key_sha256, 32) != 0) {
    r = refuse(CDR_ERR_CERT_KEY_MISMATCH, why, whylen, "member_key_sha256: not the key of this session's certificate");
    goto out;
  }
  if ((r = contract_state_required(s, &req)) != 0)
    goto out;
  if (!may_sign(s, &req, key)) {
    cdr_hex_encode(hex, key, 32);
    r = refuse(CDR_ERR_NOT_A_MEMBER, why, whylen,
               "key %s is not a member of the pending version, nor one %s asks to sign it", hex,
               CDR_CONTRACT_GOVERNANCE);
    goto out;
  }
  if ((r = cdr_contract_verify(spki, spki_len, key, s->pending.hash, room_id, sig.version, sig.sig, sig.sig_len)) !=
      0) {
    refuse(r, why, whylen, "the signature does not verify under this session's key over the pending version");
    goto out;
  }
  for (size_t i = 0; i < s->pending.n_sigs; i++)
    if (memcmp(s->pending.sigs[i].key_sha256, key, 32) == 0)
      *res = CONTRACT_SIGN_REPEATED; /* the first one stays: nothing changes */
  if (*res == CONTRACT_SIGN_ADDED && !fits(s, 8 + spki_len + len, 0)) {
    r = refuse(CDR_ERR_TOO_LARGE, why, whylen, "the room's sealed contract state would pass %u MiB",
               CONTRACT_MAX_STATE_BYTES / CDR_MiB);
    goto out;
  }
  if (*res == CONTRACT_SIGN_ADDED && (r = sig_add(&s->pending, key, spki, spki_len, obj, len)) != 0)
    goto out;
  if ((r = count_missing(s, &req, missing)) != 0)
    goto out;
  if (*missing == 0 && *res == CONTRACT_SIGN_ADDED) {
    if ((r = activate(s)) != 0)
      goto out;
    *res = CONTRACT_SIGN_ACTIVATED;
  }
out:
  cdr_contract_signers_free(&req);
  cdr_contract_sig_free(&sig);
  return r;
}
