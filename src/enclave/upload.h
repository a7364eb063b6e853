/*
 * upload.h - the streamed uploads of PROTOCOL 4.7 (upload_begin,
 * upload_chunk, upload_commit, upload_abort): which session owns which
 * upload, the chunk sequence, the byte count and the SHA-256 of the
 * stream.  The engine builds the table (engine.h, "uploads").
 *
 * Rules, all enforced here:
 *   - at most one upload per session, CDR_MAX_UPLOADS per enclave;
 *   - an upload is known by a random 16-hex-digit id and only to the
 *     session that began it (another session's id is "not found");
 *   - chunks are numbered 0, 1, 2...: each must be exactly the next
 *     (CDR_ERR_UPLOAD_SEQUENCE otherwise, saying which was expected),
 *     carry 1..CDR_UPLOAD_CHUNK_MAX bytes, and stay within the declared
 *     size;
 *   - the commit must state the number of chunks, the byte count (the
 *     declared one) and the SHA-256 of the whole stream, and all three
 *     must match what arrived (CDR_ERR_UPLOAD_MISMATCH);
 *   - ANY failed upload operation of a session (a bad chunk, a CSV error,
 *     a mismatch, an unknown id, a second begin) drops the upload that
 *     session has in progress, and so does an abort, the end of the
 *     session, or CDR_UPLOAD_IDLE_S without a chunk (upload_set_reap):
 *     no partial table is ever kept, and a client that died mid-upload
 *     does not hold the enclave's memory for long.
 *
 * Each function returns 0 or a cdr_err with a sentence in *errmsg
 * (malloc'd, the caller frees it; it may name the table, lines and
 * columns, never a value, and goes to the session's user only).
 */
#ifndef CDR_UPLOAD_H
#define CDR_UPLOAD_H

#include <openssl/evp.h>
#include <stdint.h>

#include "common/limits.h"
#include "crypto/envelope.h"
#include "engine.h"

#define UPLOAD_ID_HEX 16u

struct upload_slot {
  int used;
  uint8_t session_id[CDR_SESSION_ID_LEN];
  char id[UPLOAD_ID_HEX + 1];
  struct engine_upload *eu;
  uint64_t declared;   /* bytes, from upload_begin */
  uint64_t received;   /* bytes so far */
  uint64_t next_index; /* the chunk expected next = chunks so far */
  EVP_MD_CTX *sha;     /* SHA-256 of the bytes so far */
  int64_t last_seen;   /* enclave time of its last operation */
};

/* Every upload in progress in one enclave.  All zero is an empty set. */
struct upload_set {
  struct upload_slot slot[CDR_MAX_UPLOADS];
};

struct csv_schema;

/* Begin an upload of `bytes` (1..CDR_MAX_UPLOAD_TOTAL) bytes of CSV for
 * session sid; id_out gets its id.  CDR_ERR_BUSY when the session has
 * one in progress already (which is dropped) or the enclave has
 * CDR_MAX_UPLOADS; the engine's refusals (engine_upload_begin). */
int upload_begin(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN],
                 const struct engine_principal *who, const char *table, int replace, const struct csv_schema *schema,
                 uint64_t bytes, int64_t now, char id_out[UPLOAD_ID_HEX + 1], char **errmsg) CDR_WUR;
/* Chunk `index` of upload id; *received gets the bytes so far. */
int upload_chunk(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                 uint64_t index, const uint8_t *data, size_t len, int64_t now, uint64_t *received,
                 char **errmsg) CDR_WUR;
/* Check the stated totals (sha256_hex: 64 hex digits) and put the table
 * in place (engine_upload_commit).  The upload is gone afterwards, in
 * every case. */
int upload_commit(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                  uint64_t chunks, uint64_t bytes, const char *sha256_hex, struct engine_upload_result *res,
                  char **errmsg) CDR_WUR;
/* Drop upload id (it must be the session's). */
int upload_abort(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN], const char *id,
                 char **errmsg) CDR_WUR;
/* 1 if session sid has an upload in progress. */
int upload_session_has(const struct upload_set *set, const uint8_t sid[CDR_SESSION_ID_LEN]);
/* Drop whatever upload session sid has in progress (after a failure). */
void upload_drop_session(struct upload_set *set, struct cdr_engine *e, const uint8_t sid[CDR_SESSION_ID_LEN]);
/* Drop the uploads of every session for which alive() says 0 (closed,
 * evicted or expired), and those idle for CDR_UPLOAD_IDLE_S at `now`. */
void upload_set_reap(struct upload_set *set, struct cdr_engine *e, int64_t now,
                     int (*alive)(void *ctx, const uint8_t sid[CDR_SESSION_ID_LEN]), void *ctx);
/* Drop everything (the enclave stops). */
void upload_set_clear(struct upload_set *set, struct cdr_engine *e);
/* Uploads in progress (for tests). */
size_t upload_set_count(const struct upload_set *set);

#endif
