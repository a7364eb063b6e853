/*
 * upload.c - the state machine of streamed uploads; see upload.h for the
 * rules and docs/PROTOCOL.md 4.7 for the operations.
 *
 * A slot is used iff it holds an engine upload (eu != NULL) and a digest
 * context.  The request's seq already orders a session's requests (the
 * enclave accepts each seq once, in order); the chunk index makes the
 * upload's own order explicit, so that a chunk lost, repeated or swapped
 * by anyone (a buggy client included) is refused by number, and the
 * commit's count, size and hash close the stream: a truncated stream
 * cannot be committed.
 */
#include "upload.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/util.h"
#include "crypto/crypto.h"

/* Set *errmsg to a new sentence; returns rc. */
static int __attribute__((format(printf, 3, 4))) fail(char **errmsg, int rc, const char *fmt, ...) {
  char m[CDR_MAX_ERROR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof(m), fmt, ap);
  va_end(ap);
  if (errmsg != NULL) {
    free(*errmsg);
    *errmsg = strdup(m);
  }
  return rc;
}

static void slot_drop(struct upload_slot *s, struct cdr_engine *e) {
  if (!s->used)
    return;
  engine_upload_abort(e, s->eu);
  EVP_MD_CTX_free(s->sha);
  OPENSSL_cleanse(s, sizeof(*s));
}

static struct upload_slot *slot_of_session(struct upload_set *set, const uint8_t sid[CDR_SESSION_ID_LEN]) {
  for (size_t i = 0; i < CDR_MAX_UPLOADS; i++)
    if (set->slot[i].used && CRYPTO_memcmp(set->slot[i].session_id, sid, CDR_SESSION_ID_LEN) == 0)
      return &set->slot[i];
  return NULL;
}

int upload_session_has(const struct upload_set *set, const uint8_t sid[CDR_SESSION_ID_LEN]) {
  for (size_t i = 0; i < CDR_MAX_UPLOADS; i++)
    if (set->slot[i].used && memcmp(set->slot[i].session_id, sid, CDR_SESSION_ID_LEN) == 0)
      return 1;
  return 0;
}

void upload_drop_session(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN]) {
  struct upload_slot *s = slot_of_session(set, sid);
  if (s != NULL)
    slot_drop(s, e);
}

/* The session's upload called id, or NULL with *r and *errmsg set.
 * Another session's upload is not found either: ids do not cross
 * sessions. */
static struct upload_slot *slot_find(struct upload_set *set, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                                     int *r, char **errmsg) {
  struct upload_slot *s = slot_of_session(set, sid);
  if (id == NULL || strlen(id) != UPLOAD_ID_HEX) {
    *r = fail(errmsg, CDR_ERR_ARG, "field \"upload\" must be the 16 hex digits upload_begin returned");
    return NULL;
  }
  if (s == NULL || strcmp(s->id, id) != 0) {
    *r = fail(errmsg, CDR_ERR_NOT_FOUND, "no upload %s is in progress in this session", id);
    return NULL;
  }
  *r = 0;
  return s;
}

int upload_begin(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN],
                 const struct engine_principal *who, const char *table, int replace, const struct csv_schema *schema,
                 uint64_t bytes, int64_t now, char id_out[UPLOAD_ID_HEX + 1], char **errmsg) {
  struct upload_slot *s = NULL;
  uint8_t raw[UPLOAD_ID_HEX / 2];
  int r;

  id_out[0] = '\0';
  if (errmsg != NULL)
    *errmsg = NULL;
  if (slot_of_session(set, sid) != NULL) {
    upload_drop_session(set, e, sid);
    return fail(errmsg, CDR_ERR_BUSY,
                "this session already had an upload in progress (one at a time): both are cancelled");
  }
  if (bytes == 0 || bytes > CDR_MAX_UPLOAD_TOTAL)
    return fail(errmsg, bytes == 0 ? CDR_ERR_ARG : CDR_ERR_TOO_LARGE,
                "an upload declares 1 to %llu bytes of CSV", (unsigned long long)CDR_MAX_UPLOAD_TOTAL);
  for (size_t i = 0; i < CDR_MAX_UPLOADS && s == NULL; i++)
    if (!set->slot[i].used)
      s = &set->slot[i];
  if (s == NULL)
    return fail(errmsg, CDR_ERR_BUSY, "the enclave is receiving %u uploads already: try again later",
                CDR_MAX_UPLOADS);
  memset(s, 0, sizeof(*s));
  if ((s->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1 ||
      cdr_random(raw, sizeof(raw)) != 0) {
    EVP_MD_CTX_free(s->sha);
    s->sha = NULL;
    return fail(errmsg, CDR_ERR_CRYPTO, "cannot start the upload's digest");
  }
  if ((r = engine_upload_begin(e, who, table, replace, schema, &s->eu, errmsg)) != 0) {
    EVP_MD_CTX_free(s->sha);
    memset(s, 0, sizeof(*s));
    return r;
  }
  cdr_hex_encode(s->id, raw, sizeof(raw));
  memcpy(s->session_id, sid, CDR_SESSION_ID_LEN);
  s->declared = bytes;
  s->last_seen = now;
  s->used = 1;
  memcpy(id_out, s->id, sizeof(s->id));
  return 0;
}

int upload_chunk(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                 uint64_t index, const uint8_t *data, size_t len, int64_t now, uint64_t *received,
                 char **errmsg) {
  struct upload_slot *s;
  int r;

  *received = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((s = slot_find(set, sid, id, &r, errmsg)) == NULL)
    goto fail;
  if (index < s->next_index) {
    r = fail(errmsg, CDR_ERR_UPLOAD_SEQUENCE,
             "chunk %llu was already received (a repeated or reordered chunk): chunk %llu was expected; the upload "
             "is cancelled",
             (unsigned long long)index, (unsigned long long)s->next_index);
    goto fail;
  }
  if (index > s->next_index) {
    r = fail(errmsg, CDR_ERR_UPLOAD_SEQUENCE,
             "chunk %llu is missing (chunk %llu arrived instead): the upload is cancelled",
             (unsigned long long)s->next_index, (unsigned long long)index);
    goto fail;
  }
  if (len == 0 || len > CDR_UPLOAD_CHUNK_MAX) {
    r = fail(errmsg, len == 0 ? CDR_ERR_ARG : CDR_ERR_TOO_LARGE,
             "a chunk carries 1 to %u bytes of CSV: the upload is cancelled", CDR_UPLOAD_CHUNK_MAX);
    goto fail;
  }
  if (len > s->declared - s->received) {
    r = fail(errmsg, CDR_ERR_UPLOAD_MISMATCH,
             "chunk %llu goes past the %llu bytes the upload declared: the upload is cancelled",
             (unsigned long long)index, (unsigned long long)s->declared);
    goto fail;
  }
  if (EVP_DigestUpdate(s->sha, data, len) != 1) {
    r = fail(errmsg, CDR_ERR_CRYPTO, "hashing the chunk failed");
    goto fail;
  }
  if ((r = engine_upload_feed(e, s->eu, data, len, errmsg)) != 0)
    goto fail;
  s->received += len;
  s->next_index++;
  s->last_seen = now;
  *received = s->received;
  return 0;
fail:
  upload_drop_session(set, e, sid);
  return r;
}

int upload_commit(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                  uint64_t chunks, uint64_t bytes, const char *sha256_hex, struct engine_upload_result *res,
                  char **errmsg) {
  struct upload_slot *s;
  uint8_t want[32], got[32];
  unsigned int n = 0;
  int r;

  memset(res, 0, sizeof(*res));
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((s = slot_find(set, sid, id, &r, errmsg)) == NULL)
    goto fail;
  if (sha256_hex == NULL || strlen(sha256_hex) != 64 || cdr_hex_decode(want, sizeof(want), sha256_hex) != 0) {
    r = fail(errmsg, CDR_ERR_ARG, "field \"sha256\" must be 64 hex digits: the upload is cancelled");
    goto fail;
  }
  if (chunks != s->next_index) {
    r = fail(errmsg, CDR_ERR_UPLOAD_MISMATCH,
             "the commit counts %llu chunks but %llu arrived: the upload is cancelled", (unsigned long long)chunks,
             (unsigned long long)s->next_index);
    goto fail;
  }
  if (bytes != s->received || bytes != s->declared) {
    r = fail(errmsg, CDR_ERR_UPLOAD_MISMATCH,
             "the commit counts %llu bytes, %llu arrived and %llu were declared: the upload is cancelled",
             (unsigned long long)bytes, (unsigned long long)s->received, (unsigned long long)s->declared);
    goto fail;
  }
  if (EVP_DigestFinal_ex(s->sha, got, &n) != 1 || n != sizeof(got)) {
    r = fail(errmsg, CDR_ERR_CRYPTO, "hashing the upload failed");
    goto fail;
  }
  if (CRYPTO_memcmp(want, got, sizeof(got)) != 0) {
    r = fail(errmsg, CDR_ERR_UPLOAD_MISMATCH,
             "the SHA-256 of the bytes that arrived is not the one the commit states: the upload is cancelled");
    goto fail;
  }
  /* The engine consumes its upload whatever happens. */
  r = engine_upload_commit(e, s->eu, res, errmsg);
  s->eu = NULL;
  EVP_MD_CTX_free(s->sha);
  OPENSSL_cleanse(s, sizeof(*s));
  return r;
fail:
  upload_drop_session(set, e, sid);
  return r;
}

int upload_abort(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                 char **errmsg) {
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  (void)slot_find(set, sid, id, &r, errmsg);
  upload_drop_session(set, e, sid);
  return r;
}

void upload_set_reap(struct upload_set *set, struct cdr_engine *e, int64_t now,
                     int (*alive)(void *ctx, const uint8_t sid[CDR_SESSION_ID_LEN]), void *ctx) {
  for (size_t i = 0; i < CDR_MAX_UPLOADS; i++) {
    struct upload_slot *s = &set->slot[i];
    if (s->used && (now - s->last_seen > (int64_t)CDR_UPLOAD_IDLE_S || !alive(ctx, s->session_id)))
      slot_drop(s, e);
  }
}

void upload_set_clear(struct upload_set *set, struct cdr_engine *e) {
  for (size_t i = 0; i < CDR_MAX_UPLOADS; i++)
    slot_drop(&set->slot[i], e);
}

size_t upload_set_count(const struct upload_set *set) {
  size_t n = 0;
  for (size_t i = 0; i < CDR_MAX_UPLOADS; i++)
    n += set->slot[i].used != 0;
  return n;
}
