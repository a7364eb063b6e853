/*
 * session.h - the enclave's table of open sessions.
 *
 * A session maps a random 16-byte id to the certified user key, the
 * user's name and role, the two session keys and the last accepted
 * sequence number.  Session records live in OpenSSL's secure heap and
 * are wiped when removed.  The table is open addressing with linear
 * probing over a power-of-two array twice the session cap; session ids
 * are uniformly random, so their first bytes index it directly.
 *
 * Concurrency: `lock` guards the table and every record's `refs` and
 * `removed`.  A lane that uses a session holds a reference
 * (session_table_get ... session_put): a session removed meanwhile
 * (expired, evicted, revoked, closed) leaves the table at once and is
 * wiped and freed by its last holder.  A session's own requests are
 * serialised by its `busy` mutex (the user's `seq` orders them anyway).
 * session_table_find is for single-threaded callers (tests).
 */
#ifndef CDR_SESSION_H
#define CDR_SESSION_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>

#include "common/limits.h"
#include "crypto/envelope.h"
#include "crypto/x509.h"

struct session {
  uint8_t id[CDR_SESSION_ID_LEN];
  EVP_PKEY *user_key;      /* certified public key of the user */
  uint8_t *user_spki;      /* its DER SubjectPublicKeyInfo (malloc'd): the audit log's user_key */
  size_t user_spki_len;
  uint8_t key_fp[32];      /* SHA-256 of user_spki: the engine's principal */
  char name[CDR_MAX_NAME_LEN + 1];
  enum cdr_role role;
  uint8_t cert_fp[32];
  char serial[64];         /* certificate serial, lower-case hex (revocation) */
  int64_t expires_at;
  uint64_t last_seq;       /* 0 before the first request; under busy */
  struct cdr_session_keys keys;
  unsigned refs;           /* lanes using it (table lock) */
  int removed;             /* out of the table; freed by the last session_put */
  pthread_mutex_t busy;    /* held while one of its requests runs (zeroed = initialised) */
};

#define SESSION_TABLE_SLOTS (2u * CDR_MAX_SESSIONS)

struct session_table {
  pthread_mutex_t lock; /* zeroed = initialised (glibc) */
  struct session *slot[SESSION_TABLE_SLOTS];
  size_t count;
};

/* Allocate a zeroed session record in secure memory. */
struct session *session_new(void);
/* Wipe and free a record not in a table (NULL allowed). */
void session_free(struct session *s);
/* Insert; the table takes ownership.  If the certificate (s->cert_fp)
 * already holds CDR_MAX_SESSIONS_PER_CERT sessions, its oldest is
 * removed first, so that replaying one user's session-open request
 * holds at most that many.  When the table is full even after dropping
 * sessions expired at `now`, the oldest session of the certificate
 * holding the most goes, if it holds more than s's certificate would
 * with s (fair share: a few certificates cannot keep everyone out; one
 * certificate can take others' sessions down to the fair level, never
 * past its own cap); else CDR_ERR_SESSION_LIMIT. */
int session_table_insert(struct session_table *t, struct session *s, int64_t now) CDR_WUR;
/* Find by id, or NULL (no reference: single-threaded callers only). */
struct session *session_table_find(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN]);
/* Find by id and take a reference, or NULL. */
struct session *session_table_get(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN]);
/* Drop a reference taken by session_table_get (frees a removed session). */
void session_put(struct session_table *t, struct session *s);
/* 1 if the session is in the table and not expired at now. */
int session_table_alive(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN], int64_t now);
/* Remove every session for which pred(ctx, s) is non-zero; how many. */
unsigned session_table_remove_if(struct session_table *t, int (*pred)(void *ctx, const struct session *s), void *ctx);
/* Remove by id and wipe the record. */
void session_table_remove(struct session_table *t, const uint8_t id[CDR_SESSION_ID_LEN]);
/* Remove every session expired at `now`. */
void session_table_expire(struct session_table *t, int64_t now);
void session_table_clear(struct session_table *t);

#endif
