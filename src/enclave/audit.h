/*
 * audit.h - the room's audit log, kept by the enclave and stored by the
 * host (docs/ARCHITECTURE.md "Audit log", docs/PROTOCOL.md 4.8).
 *
 * Every request the enclave decides on (a session open, an operation of
 * a known session, a revocation list, a start) appends one entry: a
 * compact JSON object whose bytes are its canonical form.  Entries form
 * the hash chain of crypto/audit_chain.h; the enclave keeps, per entry,
 * the chain head after it, its time and where its record starts in the
 * stored log (48 bytes an entry), so it can sign the head and show any
 * part of the log without holding the entries.
 *
 * Stored form: the object "audit" is a sequence of records
 *   u32be len || seal(kind audit, name "audit", version = index, entry)
 * so the host can neither read an entry nor move, swap or edit one
 * undetected.  Records are appended lazily (written before the client is
 * answered, so a crash of either process keeps them; synced to disk
 * before every manifest commit).  The manifest records the log's size
 * and head at each commit, and carries the commit's own entry, so that
 * a crash between the manifest's rename and the entry's append is
 * repaired at the next start (persist.c).
 *
 * The entry being decided is built while a request runs, in a pending
 * entry that belongs to the thread deciding (thread-local: workers
 * decide in parallel); handlers add fields to it, and audit_finish
 * appends it.  A commit (persist.c) takes it instead, so that the
 * change and its entry are durable together.
 *
 * Concurrency (docs/ARCHITECTURE.md, "Concurrency").  `lock` guards
 * every field of struct audit_log: an entry's index, its chain step,
 * its place in the arrays and in the queue are one critical section, so
 * chain order, queue order and file order agree.  With an audit lane
 * (audit_writer_start) entries are group-committed: queued under the
 * lock, written by the writer thread as one IPC_STORE of appends and a
 * sync, and `durable` counts the entries on disk; audit_finish returns
 * only once its entry is durable (the gate: durable, later witnessed,
 * then answered).  Without one (unit tests, a connected enclave) each
 * entry goes out at once as IPC_STORE_NOWAIT on the caller's channel,
 * as before, and counts as durable when sent.
 */
#ifndef CDR_AUDIT_H
#define CDR_AUDIT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "crypto/audit_chain.h"

struct enclave;

struct audit_log {
  uint64_t n;                          /* entries */
  uint8_t (*head)[CDR_AUDIT_HASH_LEN]; /* head[0..n] */
  uint64_t *off;                       /* off[i]: where record i starts; off[n]: the end */
  int64_t *time;                       /* time[i]: entry i's time */
  size_t cap;
  uint64_t max_committed;              /* highest manifest version an entry names */
  int unsynced;                        /* entries appended since the host last synced the log */
  /* Zero-initialised or pthread_*_init'ed (glibc's initialisers are zeros). */
  pthread_mutex_t lock;                /* guards every field */
  pthread_cond_t cond;                 /* durable moved, queue filled, or stop */
  uint64_t durable;                    /* entries [0, durable) are on disk */
  uint64_t witnessed;                  /* [0, witnessed) countersigned by a quorum (witness_start.h) */
  struct cdr_buf queue;                /* sealed records of entries [durable, n) */
  uint32_t queued;                     /* how many */
  int lane_fd;                         /* the audit lane; 0 when none (unit tests) */
  int writer_running, writer_stop, writer_failed;
  pthread_t writer;
};
/* Entries are compact JSON padded with spaces to cdr_pad_length. */

/* The largest entry (the biggest is a session open with a 16 KiB
 * certificate and key, base64: under 48 KiB) and record. */
#define AUDIT_MAX_ENTRY (64u * 1024u)
#define AUDIT_MAX_RECORD (AUDIT_MAX_ENTRY + 128u)

void audit_free(struct audit_log *a);

/* Start the group-commit writer on the audit lane `fd` (the enclave's
 * start, before the sandbox: it creates a thread).  0 or an error. */
int audit_writer_start(struct enclave *e, int fd) CDR_WUR;
/* Stop it: the queue is written first; then the thread is joined. */
void audit_writer_stop(struct enclave *e);

/* Hold the log for a reader (audit_ops.c): no entry is added while it
 * is held.  audit_visible is the number of entries a reader may see and
 * fetch (the durable ones); audit_sign_head signs the head at that size. */
void audit_lock(struct enclave *e);
void audit_unlock(struct enclave *e);
uint64_t audit_visible(struct enclave *e);

/* For a commit (persist.c): take the log, waiting until every queued
 * entry is durable, so that the commit's sync covers them and its own
 * entry is the next; audit_seal_commit and audit_sealed_appended are
 * called between the two.  audit_commit_end releases the log. */
int audit_commit_begin(struct enclave *e) CDR_WUR;
void audit_commit_end(struct enclave *e);

/* Start the entry of a decision: {"v":1,"time":..,"salt":..,"op":op}
 * (replacing one that was never finished). */
int audit_begin(struct enclave *e, const char *op) CDR_WUR;
/* Add a field to the pending entry (v is consumed; nothing happens
 * without a pending entry).  Key order is insertion order. */
void audit_set(struct enclave *e, const char *key, json_t *v);
/* The same for a value the user chose (names, ids, column lists): one
 * whose compact JSON is longer than AUDIT_MAX_INPUT is kept as
 * {"bytes": n, "sha256": hex of that JSON}, so no request can make an
 * entry too large to log. */
#define AUDIT_MAX_INPUT 1024u
void audit_set_input(struct enclave *e, const char *key, json_t *v);
/* At most this many tables are named in one entry; "tables_more"
 * counts the rest. */
#define AUDIT_MAX_TABLES 32u
/* The who of the entry: subject, role, certificate serial. */
void audit_set_user(struct enclave *e, const char *name, const char *role, const char *serial);
/* Add {"name","owner"} to the entry's "tables" (the owner from the
 * catalog; `owner` when the table does not exist yet, else none). */
void audit_add_table(struct enclave *e, const char *table, const char *owner);
/* JSON strings of bytes, for entries: base64 and lower-case hex (NULL on
 * allocation failure, which audit_set ignores). */
json_t *audit_b64(const void *p, size_t n);
json_t *audit_hex(const void *p, size_t n);
/* The request fields of an operation's entry: session, seq, timestamp,
 * the ciphertext's SHA-256, the user's signature (when it verified) and
 * the user's key, so that anyone holding the entry can check who asked. */
struct cdr_request_env;
void audit_set_request(struct enclave *e, const struct cdr_request_env *env, const uint8_t *user_spki,
                       size_t user_spki_len, int sig_ok);
/* Make p this thread's pending entry and return the one it replaces
 * (owned by the caller): a request's entry set aside while another
 * entry of the same thread is committed (dp_ops.c), and put back. */
json_t *audit_pending_swap(json_t *p);
/* Drop the pending entry (a request that is not logged: audit_head). */
void audit_discard(struct enclave *e);

/* Finish the pending entry with decision "ok" (err == 0) or "refused"
 * with reason cdr_err_code(err), and append it through the host before
 * the request is answered.  0 if there was nothing pending.  A storage
 * failure sets e->fatal: no client hears of a decision the log lacks. */
int audit_finish(struct enclave *e, int err) CDR_WUR;

/* For a commit (persist.c): finish the pending entry as "ok" with
 * "manifest_version" (making a bare {"op":"commit"} entry if none is
 * pending) and seal it as the next record, without changing the log.
 * *size and head are what the log will be once the record is appended. */
struct audit_sealed {
  struct cdr_buf record; /* u32be len || sealed entry */
  uint64_t size;
  uint8_t head[CDR_AUDIT_HASH_LEN];
  int64_t time;
  uint64_t version; /* the manifest version it commits */
};
int audit_seal_commit(struct enclave *e, uint64_t manifest_version, struct audit_sealed *out) CDR_WUR;
/* The commit is durable: the sealed entry is now part of the log. */
int audit_sealed_appended(struct enclave *e, const struct audit_sealed *s) CDR_WUR;
void audit_sealed_free(struct audit_sealed *s);

/* At start (enclave_load.c, LOAD_DONE): read the whole stored log through the
 * host, check every record and the chain, check it against the sealed
 * manifest's record of the log (size, head, and the carried record of
 * its last entry, re-appended if a crash lost it) and check that no
 * entry names a manifest version newer than the loaded one (a manifest
 * put back).  Any failure is written to why and refuses the start.
 * The one damage it repairs is a torn last record (a power loss during
 * an unsynced append; see audit.c): cut off with IPC_STORE_TRUNCATE, only
 * after every check passed.  manifest_size 0 means no manifest records
 * the log (a new room). */
int audit_load(struct enclave *e, uint64_t manifest_version, uint64_t manifest_size,
               const uint8_t manifest_head[CDR_AUDIT_HASH_LEN], const uint8_t *carried, size_t carried_len, char *why,
               size_t whylen) CDR_WUR;

/* The signed head: Sign_I(T_head) of the durable size and its head at
 * time (the caller holds the log: audit_lock). */
int audit_sign_head(struct enclave *e, uint64_t time, struct cdr_buf *sig) CDR_WUR;

/* Read entries [from, to) (to <= audit_visible; the caller holds the
 * log: audit_lock) back from the host, in order, and
 * call fn for each: with its bytes after the record's seal and its leaf
 * were checked against the kept heads, or with entry NULL and a sentence
 * in `damage` for a record that fails (edited, moved, cut short: not
 * fatal, the reader is told).  fn returns 0 to go on, 1 to stop, or an
 * error.  0, fn's error, or a channel error (fatal). */
typedef int (*audit_entry_fn)(void *ud, uint64_t index, const uint8_t *entry, size_t len,
                              const uint8_t leaf[CDR_AUDIT_HASH_LEN], const char *damage);
int audit_read(struct enclave *e, uint64_t from, uint64_t to, audit_entry_fn fn, void *ud) CDR_WUR;

#endif
