/*
 * witness_state.c - one room's state at a witness, DIR/rooms/<room>.json
 * (mode 0600, in a 0700 folder):
 *
 *   {"v": 1, "room_id": "<32 hex>",
 *    "contract": {"version": n, "sha256": "<64 hex>", "document": "<canonical JSON>"},
 *    "platform": "sim", "measurement": "<hex>",
 *    "identity_public_key": "<b64 SPKI>",
 *    "head": {"size": n, "head": "<64 hex>", "time": t, "signature": "<b64>"}}
 *
 * Nothing in it is secret: the witness key is a file of its own.  A
 * write is durable before it returns (cdr_file_write: temporary file,
 * fsync, rename; then an fsync of the folder so that the rename itself
 * survives a power cut), because the witness answers a countersignature
 * only after its state says so: a countersignature the witness could
 * forget would let a rolled-back room find a quorum that never saw the
 * newer head.  The file is read back whole and checked as strictly as a
 * request: the witness trusts its disk no more than it must.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json_get.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "witness.h"

/* A state file is at most a contract document and a few fields. */
#define STATE_MAX_BYTES (CDR_CONTRACT_MAX_BYTES + 64u * 1024u)

void witness_room_free(struct witness_room *r) {
  free(r->contract_doc);
  memset(r, 0, sizeof(*r));
}

static int room_path(const struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES], char **out) {
  char hex[2 * CDR_ROOM_ID_BYTES + 1];
  size_t n = strlen(w->state_dir) + sizeof("/rooms/") + sizeof(hex) + sizeof(".json");
  cdr_hex_encode(hex, room_id, CDR_ROOM_ID_BYTES);
  if ((*out = malloc(n)) == NULL)
    return CDR_ERR_NOMEM;
  snprintf(*out, n, "%s/rooms/%s.json", w->state_dir, hex);
  return 0;
}

static int state_from_json(const json_t *j, const uint8_t room_id[CDR_ROOM_ID_BYTES], struct witness_room *out) {
  const json_t *c = json_object_get(j, "contract");
  const char *doc, *plat, *meas;
  size_t doc_len, mlen;
  uint8_t *spki = NULL;
  size_t spki_len = 0;
  uint64_t v = 0;

  if (cdr_json_get_u64(j, "v", &v) != 0 || v != 1 ||
      cdr_json_get_hex_exact(j, "room_id", out->room_id, CDR_ROOM_ID_BYTES) != 0 ||
      memcmp(out->room_id, room_id, CDR_ROOM_ID_BYTES) != 0 || !json_is_object(c) ||
      cdr_json_get_u64(c, "version", &out->contract_version) != 0 || out->contract_version == 0 ||
      cdr_json_get_hex_exact(c, "sha256", out->contract_sha256, 32) != 0 ||
      cdr_json_get_str(c, "document", CDR_CONTRACT_MAX_BYTES, &doc, &doc_len) != 0 ||
      cdr_json_get_cstr(j, "platform", sizeof(out->platform) - 1, &plat) != 0 ||
      cdr_json_get_cstr(j, "measurement", 2 * WITNESS_MEASUREMENT_MAX, &meas) != 0)
    return CDR_ERR_IO;
  mlen = strlen(meas) / 2;
  if (mlen == 0 || strlen(meas) != 2 * mlen || cdr_hex_decode(out->measurement, mlen, meas) != 0)
    return CDR_ERR_IO;
  out->measurement_len = mlen;
  snprintf(out->platform, sizeof(out->platform), "%s", plat);
  if ((out->contract_doc = malloc(doc_len + 1)) == NULL)
    return CDR_ERR_NOMEM;
  memcpy(out->contract_doc, doc, doc_len);
  out->contract_doc[doc_len] = '\0';
  out->contract_doc_len = doc_len;
  if (cdr_json_get_b64(j, "identity_public_key", CDR_MAX_PUBKEY_DER, &spki, &spki_len) != 0 || spki_len == 0) {
    free(spki);
    return CDR_ERR_IO;
  }
  memcpy(out->identity_spki, spki, spki_len);
  out->identity_spki_len = spki_len;
  free(spki);
  if (cdr_witness_head_from_json(json_object_get(j, "head"), &out->head, 0, NULL, 0) != 0)
    return CDR_ERR_IO;
  return 0;
}

int witness_state_load(const struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES], struct witness_room *out) {
  char *path = NULL;
  uint8_t *d = NULL;
  size_t len = 0;
  json_t *j = NULL;
  int r;

  memset(out, 0, sizeof(*out));
  if ((r = room_path(w, room_id, &path)) != 0)
    return r;
  if (access(path, F_OK) != 0 && errno == ENOENT) {
    free(path);
    return CDR_ERR_NOT_FOUND;
  }
  if ((r = cdr_file_read(path, &d, &len, STATE_MAX_BYTES)) != 0 ||
      (j = json_loadb((const char *)d, len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
    cdr_log(CDR_LOG_ERROR, "witness: cannot read %s: the room is refused until it is repaired", path);
    r = CDR_ERR_IO;
    goto out;
  }
  if ((r = state_from_json(j, room_id, out)) != 0) {
    cdr_log(CDR_LOG_ERROR, "witness: %s is damaged: the room is refused until it is repaired", path);
    witness_room_free(out);
  }
out:
  json_decref(j);
  free(d);
  free(path);
  return r;
}

static json_t *state_to_json(const struct witness_room *room) {
  char rid[2 * CDR_ROOM_ID_BYTES + 1], hash[65], meas[2 * WITNESS_MEASUREMENT_MAX + 1], *spki = NULL;
  json_t *j = NULL, *head = NULL;

  cdr_hex_encode(rid, room->room_id, CDR_ROOM_ID_BYTES);
  cdr_hex_encode(hash, room->contract_sha256, 32);
  cdr_hex_encode(meas, room->measurement, room->measurement_len);
  if (cdr_b64_encode(&spki, room->identity_spki, room->identity_spki_len) != 0 || (head = json_object()) == NULL ||
      cdr_witness_head_to_json(head, &room->head) != 0)
    goto fail;
  j = json_pack("{s:i, s:s, s:{s:I, s:s, s:s%}, s:s, s:s, s:s, s:O}", "v", 1, "room_id", rid, "contract", "version",
                (json_int_t)room->contract_version, "sha256", hash, "document", room->contract_doc,
                room->contract_doc_len, "platform", room->platform, "measurement", meas, "identity_public_key", spki,
                "head", head);
fail:
  json_decref(head);
  free(spki);
  return j;
}

/* fsync the folder that holds path, so that a rename in it is durable. */
static int sync_folder(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return CDR_ERR_IO;
  int ok = fsync(fd) == 0;
  close(fd);
  return ok ? 0 : CDR_ERR_IO;
}

int witness_state_save(const struct witness *w, const struct witness_room *room) {
  char *path = NULL, *text = NULL, *dir = NULL;
  json_t *j = NULL;
  int r = CDR_ERR_NOMEM;
  size_t n = strlen(w->state_dir) + sizeof("/rooms");

  if ((dir = malloc(n)) == NULL)
    goto out;
  snprintf(dir, n, "%s/rooms", w->state_dir);
  if ((r = room_path(w, room->room_id, &path)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((j = state_to_json(room)) == NULL || (text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
    goto out;
  if ((r = cdr_file_write(path, text, strlen(text), 0600, 0)) != 0 || (r = sync_folder(dir)) != 0) {
    cdr_log(CDR_LOG_ERROR, "witness: cannot write %s durably: %s", path, strerror(errno));
    goto out;
  }
out:
  json_decref(j);
  free(text);
  free(path);
  free(dir);
  return r;
}
