/*
 * audit.c - signed heads, the rollback check and log verification on the
 * client; see audit.h and docs/PROTOCOL.md 4.8.
 */
#include "audit.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_int.h"
#include "common/json_get.h"
#include "common/limits.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"
#include "crypto/x509.h"
#include "profile.h"

#define AUDIT_PAGE_LIMIT 1000
#define HEAD_FILE_MAX 8192u
#define HEAD_IDENTITY_FP_LEN 32u /* sizeof(struct cdr_attestation.identity_fp) */

void cdr_audit_head_clear(struct cdr_audit_head *h) {
  free(h->signature_b64);
  memset(h, 0, sizeof(*h));
}

static int hex32(uint8_t out[CDR_AUDIT_HASH_LEN], const char *s) {
  return s != NULL && strlen(s) == 2 * CDR_AUDIT_HASH_LEN ? cdr_hex_decode(out, CDR_AUDIT_HASH_LEN, s) : CDR_ERR_ARG;
}

/* Verify a head (size, head, time, b64 signature) under the identity. */
static int head_verify(struct cdr_client *c, EVP_PKEY *identity, const struct cdr_audit_head *h) {
  struct cdr_buf t;
  uint8_t *sig = NULL;
  size_t siglen = 0;
  int r;
  cdr_buf_init(&t, 512, 0);
  if ((r = cdr_b64_decode(&sig, &siglen, h->signature_b64 ? h->signature_b64 : "", CDR_MAX_SIGNATURE)) != 0 ||
      (r = cdr_audit_head_transcript(&t, c->room_id, sizeof(c->room_id), h->size, h->head, h->time)) != 0 ||
      cdr_verify(identity, t.d, t.len, sig, siglen) != 0) {
    cdr_client_set_detail(c, "the audit log's head is not signed by the attested enclave");
    r = CDR_ERR_AUDIT_INVALID;
  }
  free(sig);
  cdr_buf_free(&t);
  return r;
}

/* The head fields of a response object. */
static int head_parse(struct cdr_client *c, const json_t *o, struct cdr_audit_head *h) {
  const char *sig = cdr_json_string(o, "signature");
  memset(h, 0, sizeof(*h));
  if (cdr_json_get_u64(o, "size", &h->size) != 0 || cdr_json_get_u64(o, "time", &h->time) != 0 ||
      hex32(h->head, cdr_json_string(o, "head")) != 0 || sig == NULL || (h->signature_b64 = strdup(sig)) == NULL) {
    cdr_client_set_detail(c, "the server's audit head is malformed");
    return CDR_ERR_SERVER;
  }
  return 0;
}

int cdr_client_audit_head(struct cdr_client *c, struct cdr_session *s, uint64_t known, struct cdr_audit_head *out,
                          uint8_t known_head[CDR_AUDIT_HASH_LEN], int *have_known) {
  json_t *hdr = known == UINT64_MAX ? json_pack("{s:s}", "op", "audit_head")
                                    : json_pack("{s:s,s:I}", "op", "audit_head", "known", (json_int_t)known);
  json_t *res = NULL;
  int r;
  memset(out, 0, sizeof(*out));
  *have_known = 0;
  if (hdr == NULL)
    return CDR_ERR_NOMEM;
  if ((r = cdr_client_op(c, s, hdr, &res)) == 0 && (r = head_parse(c, res, out)) == 0 &&
      (r = head_verify(c, s->identity, out)) == 0 && known != UINT64_MAX && known <= out->size) {
    if (hex32(known_head, cdr_json_string(res, "known_head")) != 0) {
      cdr_client_set_detail(c, "the server did not return its head at the size this client remembers");
      r = CDR_ERR_SERVER;
    } else {
      *have_known = 1;
    }
  }
  json_decref(hdr);
  json_decref(res);
  if (r != 0)
    cdr_audit_head_clear(out);
  return r;
}

/* ---- remembered heads ---- */

static char *head_path(struct cdr_client *c) {
  char *cfg = NULL, *path = NULL, rid[2 * CDR_ROOM_ID_BYTES + 1], name[96];
  if (cdr_config_dir(&cfg) != 0)
    return NULL;
  cdr_hex_encode(rid, c->room_id, sizeof(c->room_id));
  snprintf(name, sizeof(name), "heads/%s.json", rid);
  path = cdr_path_join(cfg, name);
  free(cfg);
  return path;
}

#define FP_HEX (2 * HEAD_IDENTITY_FP_LEN + 1)
#define RETIRED_MAX 32 /* identities of earlier runs remembered per room */

/* What the client keeps of a room (audit.h). */
struct remembered {
  struct cdr_audit_head head;
  char identity[FP_HEX]; /* "" in files written before it was kept */
  char platform[16];
  json_t *retired;       /* array of hex fingerprints (own reference) */
};

static void remembered_clear(struct remembered *m) {
  cdr_audit_head_clear(&m->head);
  json_decref(m->retired);
  memset(m, 0, sizeof(*m));
}

/* Copy string field key of o into out (cap bytes) if it fits exactly. */
static void copy_field(const json_t *o, const char *key, char *out, size_t cap) {
  const char *v = cdr_json_string(o, key);
  out[0] = '\0';
  if (v != NULL && strlen(v) < cap)
    memcpy(out, v, strlen(v) + 1);
}

/* 0 with the remembered state, CDR_ERR_NOT_FOUND, or another error. */
static int head_load(struct cdr_client *c, const char *path, struct remembered *m) {
  uint8_t *data = NULL;
  size_t len = 0;
  json_t *o = NULL, *ret;
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = cdr_file_read(path, &data, &len, HEAD_FILE_MAX)) != 0)
    return r;
  if ((r = cdr_json_parse_object(&o, data, len)) == 0 && (r = head_parse(c, o, &m->head)) != 0)
    cdr_client_set_detail(c, "%s is not a remembered audit head; remove it to start again", path);
  if (r == 0) {
    copy_field(o, "identity", m->identity, sizeof(m->identity));
    if (strlen(m->identity) != FP_HEX - 1)
      m->identity[0] = '\0';
    copy_field(o, "platform", m->platform, sizeof(m->platform));
    ret = json_object_get(o, "retired");
    m->retired = json_is_array(ret) ? json_incref(ret) : json_array();
    if (m->retired == NULL)
      r = CDR_ERR_NOMEM;
  }
  json_decref(o);
  free(data);
  return r;
}

static int head_save(const char *path, const struct cdr_audit_head *h, const char *identity, const char *platform,
                     json_t *retired) {
  char hex[2 * CDR_AUDIT_HASH_LEN + 1], *dir = strdup(path), *slash;
  int r;
  if (dir == NULL)
    return CDR_ERR_NOMEM;
  if ((slash = strrchr(dir, '/')) != NULL)
    *slash = '\0';
  r = cdr_mkdir_p(dir, 0700);
  free(dir);
  if (r != 0)
    return r;
  cdr_hex_encode(hex, h->head, sizeof(h->head));
  json_t *o = json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:O}", "size", (json_int_t)h->size, "head", hex, "time",
                        (json_int_t)h->time, "signature", h->signature_b64, "identity", identity, "platform",
                        platform, "retired", retired);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  r = text ? cdr_file_write(path, text, strlen(text), 0600, 0) : CDR_ERR_NOMEM;
  free(text);
  json_decref(o);
  return r;
}

int cdr_audit_head_restarted(const char *seen_identity, const char *seen_platform, const char *identity,
                             const char *platform) {
  return seen_identity[0] != '\0' && strcmp(seen_identity, identity) != 0 && strcmp(seen_platform, platform) == 0 &&
         !cdr_platform_keeps_state(platform);
}

/* 1 if fp is in the array of retired identities. */
static int is_retired(const json_t *retired, const char *fp) {
  size_t i;
  json_t *v;
  json_array_foreach(retired, i, v) if (json_is_string(v) && strcmp(json_string_value(v), fp) == 0) return 1;
  return 0;
}

/* Hold an exclusive lock on path".lock" (made if absent) so that two
 * cdr processes of one user check and remember a room's head one after
 * the other: otherwise the slower could store the older head.  The
 * holder keeps it across one round trip to the server (load, fetch,
 * check, save), which takes at most the client's request timeout, so a
 * waiter waits that long and a minute more, then gives up rather than
 * hang behind a holder that is stuck.  Returns the fd to close (which
 * releases the lock), or a cdr_err (all negative) with c->detail set:
 * the check never runs unlocked. */
#define HEAD_LOCK_POLL_MS 20
static int head_lock(struct cdr_client *c, const char *path) {
  char lock[PATH_MAX], *dir;
  int fd = -1, busy;
  long waited = 0, wait_ms = (c->timeout_s + 60) * 1000;
  if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock) || (dir = strdup(path)) == NULL) {
    cdr_client_set_detail(c, "the path of the room's audit head is too long: %s", path);
    return CDR_ERR_ARG;
  }
  if (strrchr(dir, '/') != NULL)
    *strrchr(dir, '/') = '\0';
  if (cdr_mkdir_p(dir, 0700) == 0)
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  free(dir);
  if (fd < 0) {
    cdr_client_set_detail(c, "cannot make the lock %s for the room's audit head", lock);
    return CDR_ERR_IO;
  }
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      return fd;
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK || waited >= wait_ms)
      break;
    (void)usleep(HEAD_LOCK_POLL_MS * 1000);
    waited += HEAD_LOCK_POLL_MS;
  }
  busy = errno == EWOULDBLOCK;
  close(fd);
  if (busy)
    cdr_client_set_detail(c,
                          "another cdr command has been checking this room's audit head for %ld s (it holds %s); "
                          "try again once it has finished",
                          wait_ms / 1000, lock);
  else
    cdr_client_set_detail(c, "cannot lock %s for the room's audit head", lock);
  return busy ? CDR_ERR_BUSY : CDR_ERR_IO;
}

int cdr_client_audit_check(struct cdr_client *c, struct cdr_session *s, const struct cdr_attestation *att) {
  struct remembered seen;
  struct cdr_audit_head now;
  uint8_t at_seen[CDR_AUDIT_HASH_LEN];
  int r, have_seen = 0, have_at = 0, lock_fd;
  char *path = head_path(c), identity[FP_HEX];
  json_t *retired = NULL;
  memset(&seen, 0, sizeof(seen));
  memset(&now, 0, sizeof(now));
  if (path == NULL) {
    cdr_client_set_detail(c, "no configuration directory to remember the room's audit head in");
    return CDR_ERR_NOT_FOUND;
  }
  if ((lock_fd = head_lock(c, path)) < 0) {
    free(path);
    return lock_fd;
  }
  cdr_hex_encode(identity, att->identity_fp, HEAD_IDENTITY_FP_LEN);
  if ((r = head_load(c, path, &seen)) == 0)
    have_seen = 1;
  else if (r != CDR_ERR_NOT_FOUND)
    goto out;
  retired = have_seen ? json_incref(seen.retired) : json_array();
  if (retired == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  /* An identity of an earlier run can never come back (its key died with
   * it): seeing one again means the host runs more than one enclave. */
  if (is_retired(retired, identity)) {
    cdr_client_set_detail(c,
                          "the enclave attests with an identity key this client saw replaced by a newer one: the "
                          "host is running more than one enclave for this room (if the operator explains it, "
                          "remove %s)",
                          path);
    r = CDR_ERR_AUDIT_FORK;
    goto out;
  }
  /* Where the platform keeps no state (util.h), a new identity on the
   * same platform is a restarted enclave whose log began again, not a
   * rollback: the old identity's state can no longer be opened by anyone,
   * so the host cannot put it back.  Elsewhere, a new identity gets the
   * usual checks. */
  if (have_seen && cdr_audit_head_restarted(seen.identity, seen.platform, identity, att->platform)) {
    if (!cdr_client_quiet())
      fprintf(stderr,
            "notice: the room's enclave restarted with a new identity key; %s keeps no state across restarts, so "
            "its tables and audit log began again\n",
            att->platform);
    if (json_array_append_new(retired, json_string(seen.identity)) != 0 ||
        (json_array_size(retired) > RETIRED_MAX && json_array_remove(retired, 0) != 0)) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    have_seen = 0;
  }
  if ((r = cdr_client_audit_head(c, s, have_seen ? seen.head.size : UINT64_MAX, &now, at_seen, &have_at)) != 0)
    goto out;
  if (have_seen && now.size < seen.head.size) {
    cdr_client_set_detail(c,
                          "the server's audit log has %llu entries, but this client has seen %llu: the room's state "
                          "was put back to an older copy (if the operator explains it, remove %s)",
                          (unsigned long long)now.size, (unsigned long long)seen.head.size, path);
    r = CDR_ERR_AUDIT_ROLLBACK;
    goto out;
  }
  if (have_seen && (!have_at || CRYPTO_memcmp(at_seen, seen.head.head, CDR_AUDIT_HASH_LEN) != 0)) {
    cdr_client_set_detail(c,
                          "the server's audit log does not extend the one this client saw at %llu entries: it was "
                          "replaced or forked (if the operator explains it, remove %s)",
                          (unsigned long long)seen.head.size, path);
    r = CDR_ERR_AUDIT_FORK;
    goto out;
  }
  r = head_save(path, &now, identity, att->platform, retired);
  if (r != 0)
    cdr_client_set_detail(c, "cannot remember the room's audit head in %s", path);
out:
  if (lock_fd >= 0)
    close(lock_fd); /* releases the lock */
  json_decref(retired);
  remembered_clear(&seen);
  cdr_audit_head_clear(&now);
  free(path);
  return r;
}

/* ---- reading and verifying ---- */

/* Decode b64 field `key` of o (at most max bytes); NULL if absent/bad. */
static uint8_t *b64_field(const json_t *o, const char *key, size_t max, size_t *len) {
  uint8_t *p = NULL;
  return cdr_json_get_b64(o, key, max, &p, len) == 0 ? p : NULL;
}

/* A session open's signature: the certificate is the room CA's, the key
 * is the one it certifies, and Sign_U(T_req) verifies. */
static int check_open_sig(struct cdr_client *c, const json_t *open, int64_t at) {
  struct cdr_open_req q;
  struct cdr_buf t;
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  enum cdr_role role;
  char *name = NULL;
  size_t cl = 0, kl = 0, sl = 0, shl = 0, nl = 0;
  uint8_t *cd = b64_field(open, "certificate", CDR_MAX_CERT_DER, &cl);
  uint8_t *kd = b64_field(open, "user_public_key", CDR_MAX_CERT_DER, &kl);
  uint8_t *sd = b64_field(open, "signature", CDR_MAX_SIGNATURE, &sl);
  uint8_t *sh = b64_field(open, "client_key_share", CDR_P256_POINT_LEN, &shl);
  uint8_t *no = b64_field(open, "client_nonce", CDR_NONCE_LEN, &nl);
  uint64_t ts = 0, ver = 0;
  int r = CDR_ERR_AUDIT_INVALID;
  cdr_buf_init(&t, 8 * CDR_MAX_CERT_DER, 0);
  if (cd == NULL || kd == NULL || sd == NULL || sh == NULL || no == NULL || shl != CDR_P256_POINT_LEN ||
      nl != CDR_NONCE_LEN || cdr_json_get_u64(open, "timestamp", &ts) != 0 || cdr_json_get_u64(open, "version", &ver) != 0)
    goto out;
  memset(&q, 0, sizeof(q));
  q.version = (uint32_t)ver;
  q.cert_der = cd;
  q.cert_len = cl;
  q.user_spki = kd;
  q.user_spki_len = kl;
  memcpy(q.client_share, sh, CDR_P256_POINT_LEN);
  memcpy(q.client_nonce, no, CDR_NONCE_LEN);
  q.timestamp = ts;
  /* The certificate is checked as of the entry's time: it may have
   * expired since. */
  if (cdr_cert_from_der(&cert, cd, cl) != 0 || cdr_cert_verify_user(c->ca, cert, at, &role, &name) != 0 ||
      cdr_pubkey_from_der(&key, kd, kl) != 0 || EVP_PKEY_eq(key, X509_get0_pubkey(cert)) != 1 ||
      cdr_open_req_transcript(&t, &q) != 0 || cdr_verify(key, t.d, t.len, sd, sl) != 0)
    goto out;
  r = 0;
out:
  cdr_buf_free(&t);
  X509_free(cert);
  EVP_PKEY_free(key);
  free(name);
  free(cd);
  free(kd);
  free(sd);
  free(sh);
  free(no);
  return r;
}

/* A request's signature over S_req with the key the entry names. */
static int check_request_sig(const json_t *entry) {
  const json_t *q = json_object_get(entry, "request");
  struct cdr_buf t;
  EVP_PKEY *key = NULL;
  uint8_t h[32];
  size_t sidl = 0, kl = 0, sl = 0;
  uint8_t *sid = b64_field(entry, "session", CDR_SESSION_ID_LEN, &sidl);
  uint8_t *kd = b64_field(entry, "user_key", CDR_MAX_CERT_DER, &kl);
  uint8_t *sd = b64_field(q, "signature", CDR_MAX_SIGNATURE, &sl);
  uint64_t seq = 0, ts = 0;
  int r = CDR_ERR_AUDIT_INVALID;
  cdr_buf_init(&t, 512, 0);
  if (sid == NULL || kd == NULL || sd == NULL || sidl != CDR_SESSION_ID_LEN || cdr_json_get_u64(q, "seq", &seq) != 0 ||
      cdr_json_get_u64(q, "timestamp", &ts) != 0 || hex32(h, cdr_json_string(q, "ct_sha256")) != 0)
    goto out;
  if (cdr_pubkey_from_der(&key, kd, kl) != 0 || cdr_request_sig_input_hashed(&t, sid, seq, ts, h) != 0 ||
      cdr_verify(key, t.d, t.len, sd, sl) != 0)
    goto out;
  r = 0;
out:
  cdr_buf_free(&t);
  EVP_PKEY_free(key);
  free(sid);
  free(kd);
  free(sd);
  return r;
}

/* The user signature an entry carries, if any: 1 checked, 0 none, or
 * CDR_ERR_AUDIT_INVALID.  `opens` maps the session ids of admitted opens
 * seen so far to their certified key: a request of such a session must
 * carry that key (else its signature proves nothing about the session's
 * user). */
static int check_entry_sig(struct cdr_client *c, const json_t *entry, json_t *opens) {
  const json_t *open = json_object_get(entry, "open");
  const json_t *q = json_object_get(entry, "request");
  int64_t at = (int64_t)json_integer_value(json_object_get(entry, "time"));
  const char *decision = cdr_json_string(entry, "decision");
  int admitted = decision != NULL && strcmp(decision, "ok") == 0;
  /* A refused open may carry anything the host sent (that is why it was
   * refused); an admitted one must verify.  Requests carry a signature
   * only when it verified in the enclave. */
  const char *sid = cdr_json_string(entry, "session");
  if (open != NULL && admitted) {
    if (check_open_sig(c, open, at) != 0)
      return CDR_ERR_AUDIT_INVALID;
    if (sid != NULL && json_object_get(open, "user_public_key") != NULL)
      (void)json_object_set(opens, sid, json_object_get(open, "user_public_key"));
    return 1;
  }
  if (q != NULL && json_object_get(q, "signature") != NULL) {
    const char *want = sid ? json_string_value(json_object_get(opens, sid)) : NULL;
    const char *key = cdr_json_string(entry, "user_key");
    if (want != NULL && (key == NULL || strcmp(want, key) != 0))
      return CDR_ERR_AUDIT_INVALID;
    return check_request_sig(entry) == 0 ? 1 : CDR_ERR_AUDIT_INVALID;
  }
  return 0;
}

/* Record h as head(size) in every probe of that size. */
static void probe_note(struct cdr_audit_probe *probes, size_t n, uint64_t size, const uint8_t h[CDR_AUDIT_HASH_LEN]) {
  for (size_t i = 0; i < n; i++)
    if (probes[i].size == size) {
      memcpy(probes[i].head, h, CDR_AUDIT_HASH_LEN);
      probes[i].found = 1;
    }
}

int cdr_client_audit_read(struct cdr_client *c, struct cdr_session *s, uint64_t from, int64_t since,
                          int check_signatures, int (*fn)(void *ud, uint64_t index, json_t *entry), void *ud,
                          struct cdr_audit_result *res) {
  return cdr_client_audit_read_probed(c, s, from, since, check_signatures, fn, ud, NULL, 0, res);
}

int cdr_client_audit_read_probed(struct cdr_client *c, struct cdr_session *s, uint64_t from, int64_t since,
                                 int check_signatures, int (*fn)(void *ud, uint64_t index, json_t *entry), void *ud,
                                 struct cdr_audit_probe *probes, size_t n_probes,
                                 struct cdr_audit_result *res) {
  struct cdr_audit_head page_head;
  uint8_t h[CDR_AUDIT_HASH_LEN], leaf[CDR_AUDIT_HASH_LEN], want[CDR_AUDIT_HASH_LEN];
  uint64_t next = from, first = 1;
  json_t *hdr = NULL, *page = NULL, *el, *opens = json_object();
  int r = 0;
  size_t i;
  memset(res, 0, sizeof(*res));
  if (opens == NULL)
    return CDR_ERR_NOMEM;
  memset(&page_head, 0, sizeof(page_head));
  for (;;) {
    json_decref(hdr);
    json_decref(page);
    page = NULL;
    cdr_audit_head_clear(&page_head);
    if (next == UINT64_MAX)
      hdr = json_pack("{s:s,s:I,s:i}", "op", "audit", "since", (json_int_t)since, "limit", AUDIT_PAGE_LIMIT);
    else if (since != INT64_MIN)
      hdr = json_pack("{s:s,s:I,s:I,s:i}", "op", "audit", "from", (json_int_t)next, "since", (json_int_t)since,
                      "limit", AUDIT_PAGE_LIMIT);
    else
      hdr = json_pack("{s:s,s:I,s:i}", "op", "audit", "from", (json_int_t)next, "limit", AUDIT_PAGE_LIMIT);
    if (hdr == NULL) {
      r = CDR_ERR_NOMEM;
      break;
    }
    if ((r = cdr_client_op(c, s, hdr, &page)) != 0 || (r = head_parse(c, page, &page_head)) != 0 ||
        (r = head_verify(c, s->identity, &page_head)) != 0)
      break;
    uint64_t pfrom = 0, pnext = 0;
    json_t *entries = json_object_get(page, "entries");
    if (cdr_json_get_u64(page, "from", &pfrom) != 0 || cdr_json_get_u64(page, "next", &pnext) != 0 || !json_is_array(entries) ||
        hex32(want, cdr_json_string(page, "prev")) != 0 || pnext < pfrom || pnext > page_head.size ||
        (!first && pfrom != next)) {
      cdr_client_set_detail(c, "the server's audit page is malformed");
      r = CDR_ERR_SERVER;
      break;
    }
    if (first) {
      /* The chain starts at the genesis for a whole log; a log read from
       * the middle starts at the head the server states for it. */
      res->from = pfrom;
      if (pfrom == 0 && (r = cdr_audit_genesis(want, c->room_id, sizeof(c->room_id))) != 0)
        break;
      memcpy(h, want, sizeof(h));
      first = 0;
      for (size_t p = 0; p < n_probes; p++)
        probes[p].found = 0;
      probe_note(probes, n_probes, pfrom, h);
    }
    uint64_t expect = pfrom;
    json_array_foreach(entries, i, el) {
      uint64_t idx = 0;
      const char *damaged = cdr_json_string(el, "damaged");
      if (cdr_json_get_u64(el, "index", &idx) != 0 || idx != expect) {
        cdr_client_set_detail(c, "audit entry %llu is missing from the server's answer", (unsigned long long)expect);
        r = CDR_ERR_AUDIT_INVALID;
        goto out;
      }
      if (damaged != NULL) {
        cdr_client_set_detail(c, "audit entry %llu is damaged: %s", (unsigned long long)idx, damaged);
        r = CDR_ERR_AUDIT_INVALID;
        goto out;
      }
      if (hex32(leaf, cdr_json_string(el, "leaf")) != 0) {
        cdr_client_set_detail(c, "audit entry %llu has no leaf hash", (unsigned long long)idx);
        r = CDR_ERR_AUDIT_INVALID;
        goto out;
      }
      const char *b64 = cdr_json_string(el, "entry");
      if (b64 != NULL) {
        uint8_t *bytes = NULL, lh[CDR_AUDIT_HASH_LEN];
        size_t n = 0;
        json_t *entry = NULL;
        if (cdr_b64_decode(&bytes, &n, b64, 4u * CDR_MiB) != 0 || cdr_audit_leaf(lh, bytes, n) != 0 ||
            CRYPTO_memcmp(lh, leaf, sizeof(lh)) != 0 || cdr_json_parse_object(&entry, bytes, n) != 0 ||
            json_integer_value(json_object_get(entry, "index")) != (json_int_t)idx) {
          free(bytes);
          json_decref(entry);
          cdr_client_set_detail(c, "audit entry %llu does not match its leaf hash", (unsigned long long)idx);
          r = CDR_ERR_AUDIT_INVALID;
          goto out;
        }
        free(bytes);
        int sr = check_signatures ? check_entry_sig(c, entry, opens) : 0;
        if (sr < 0) {
          json_decref(entry);
          cdr_client_set_detail(c, "the user signature in audit entry %llu does not verify",
                                (unsigned long long)idx);
          r = CDR_ERR_AUDIT_INVALID;
          goto out;
        }
        res->signatures += (uint64_t)sr;
        res->shown++;
        r = fn ? fn(ud, idx, entry) : 0;
        json_decref(entry);
        if (r != 0)
          goto out;
      } else {
        res->hidden++;
      }
      if ((r = cdr_audit_step(h, h, idx, leaf)) != 0)
        goto out;
      probe_note(probes, n_probes, idx + 1, h);
      expect++;
    }
    if (expect != pnext) {
      cdr_client_set_detail(c, "the server's audit page is malformed");
      r = CDR_ERR_SERVER;
      break;
    }
    next = pnext;
    if (next == page_head.size) {
      /* The end of the log as this page's signed head states it. */
      if (CRYPTO_memcmp(h, page_head.head, sizeof(h)) != 0) {
        cdr_client_set_detail(c,
                              "the audit entries do not chain to the enclave's signed head (%llu entries): edited, "
                              "removed, reordered or cut short",
                              (unsigned long long)page_head.size);
        r = CDR_ERR_AUDIT_INVALID;
        break;
      }
      res->size = page_head.size;
      memcpy(res->head, h, sizeof(h));
      break;
    }
    if (pnext == pfrom) {
      cdr_client_set_detail(c, "the server's audit page is empty before the end of the log");
      r = CDR_ERR_SERVER;
      break;
    }
  }
out:
  json_decref(opens);
  json_decref(hdr);
  json_decref(page);
  cdr_audit_head_clear(&page_head);
  return r;
}
