/*
 * contract_pin.c - the room contract a profile has seen (item 5 of
 * issue 10): profiles/NAME.contract holds "<version> <64 hex hash>" of
 * the latest active version this user accepted.  Every later connection
 * (pins.c) whose attestation binds a later version asks the enclave for
 * the chain from the pinned version and accepts the room only if it
 * follows from the pin through properly signed versions: each
 * document hashes to its hash, names the previous one, and carries a
 * verified signature of every signer cdr-gov-1 computes from the version
 * before it.  Anything else is CDR_ERR_CONTRACT_UNPINNED.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "profile.h"

static int pin_path(const char *profile, char **out) { return cdr_profile_file_path(profile, ".contract", out); }

int cdr_contract_pin_load(const char *profile, uint64_t *version, uint8_t hash[32]) {
  char *path = NULL, text[128], hex[65];
  uint8_t *d = NULL;
  size_t len = 0;
  unsigned long long v = 0;
  int r;
  if ((r = pin_path(profile, &path)) != 0)
    return r;
  r = cdr_file_read(path, &d, &len, 100);
  free(path);
  if (r != 0)
    return CDR_ERR_NOT_FOUND;
  memcpy(text, d, len);
  text[len] = '\0';
  free(d);
  char *sp = strchr(text, ' '), *end = NULL;
  if (sp == NULL || strlen(sp + 1) < 64)
    return CDR_ERR_TRUNCATED;
  v = strtoull(text, &end, 10);
  memcpy(hex, sp + 1, 64);
  hex[64] = '\0';
  if (end != sp || v == 0 || cdr_hex_decode(hash, 32, hex) != 0)
    return CDR_ERR_TRUNCATED;
  *version = v;
  return 0;
}

int cdr_contract_pin_save(const char *profile, uint64_t version, const uint8_t hash[32]) {
  char *path = NULL, text[128], hex[65];
  int r;
  if ((r = pin_path(profile, &path)) != 0)
    return r;
  cdr_hex_encode(hex, hash, 32);
  int n = snprintf(text, sizeof(text), "%llu %s\n", (unsigned long long)version, hex);
  r = cdr_file_write(path, text, (size_t)n, 0600, 0);
  free(path);
  return r;
}

/* See client.h.  At most CDR_CONTRACT_MAX_SIGNATURES objects are read:
 * a chain entry from the other side of a boundary names its own count. */
int cdr_contract_verified_signers(const json_t *v, const struct cdr_contract *c, const uint8_t hash[32],
                                  uint8_t (**have)[32], size_t *n) {
  const json_t *sigs = json_object_get(v, "signatures"), *it;
  size_t i;
  *n = 0;
  *have = NULL;
  if (json_array_size(sigs) > CDR_CONTRACT_MAX_SIGNATURES)
    return CDR_ERR_CONTRACT_INVALID;
  if ((*have = calloc(json_array_size(sigs) + 1, 32)) == NULL)
    return CDR_ERR_NOMEM;
  json_array_foreach(sigs, i, it) {
    uint8_t *spki = NULL;
    size_t spki_len = 0, olen = 0;
    const char *obj;
    struct cdr_contract_sig s;
    if (cdr_json_get_b64(it, "spki", CDR_MAX_PUBKEY_DER, &spki, &spki_len) != 0 ||
        cdr_json_get_str(it, "object", 4096, &obj, &olen) != 0 ||
        cdr_contract_sig_parse((const uint8_t *)obj, olen, &s, NULL, 0) != 0) {
      free(spki);
      continue; /* an unreadable object is no signature; the count decides */
    }
    if (s.version == c->version && memcmp(s.contract_sha256, hash, 32) == 0 &&
        cdr_contract_verify(spki, spki_len, s.member_key_sha256, hash, c->room_id, c->version, s.sig, s.sig_len) == 0)
      memcpy((*have)[(*n)++], s.member_key_sha256, 32);
    cdr_contract_sig_free(&s);
    free(spki);
  }
  return 0;
}

/* One chain entry: its document checked against its hash and parsed. */
int cdr_contract_entry_doc(const json_t *v, struct cdr_contract *c, uint8_t hash[32]) {
  const char *doc, *h;
  size_t len;
  uint8_t want[32];
  if (cdr_json_get_str(v, "document", CDR_CONTRACT_MAX_BYTES, &doc, &len) != 0 ||
      (h = cdr_json_get_cstr_opt(v, "sha256")) == NULL || strlen(h) != 64 || cdr_hex_decode(want, 32, h) != 0 ||
      cdr_sha256(hash, doc, len) != 0 || memcmp(hash, want, 32) != 0)
    return CDR_ERR_CONTRACT_UNPINNED;
  return cdr_contract_parse((const uint8_t *)doc, len, c, NULL, 0) == 0 ? 0 : CDR_ERR_CONTRACT_UNPINNED;
}

int cdr_contract_chain_follows(struct cdr_client *cl, const json_t *chain, uint64_t pin_version,
                               const uint8_t pin_hash[32], uint64_t *last_version, uint8_t last_hash[32]) {
  struct cdr_contract prev, cur;
  uint8_t prev_hash[32], hash[32];
  size_t i;
  json_t *v;
  int r = 0, first = 1;
  memset(&prev, 0, sizeof(prev));
  if (!json_is_array(chain) || json_array_size(chain) == 0) {
    cdr_client_set_detail(cl, "the room no longer shows the pinned contract version %llu",
                          (unsigned long long)pin_version);
    return CDR_ERR_CONTRACT_UNPINNED;
  }
  json_array_foreach(chain, i, v) {
    memset(&cur, 0, sizeof(cur));
    if ((r = cdr_contract_entry_doc(v, &cur, hash)) != 0) {
      cdr_client_set_detail(cl, "a contract version in the chain does not match its hash");
      break;
    }
    if (first) {
      first = 0;
      if (cur.version != pin_version || memcmp(hash, pin_hash, 32) != 0) {
        cdr_client_set_detail(cl, "the room's contract version %llu is not the one this profile pinned (another "
                                  "room, or a forked contract)",
                              (unsigned long long)pin_version);
        r = CDR_ERR_CONTRACT_UNPINNED;
      }
    } else {
      struct cdr_contract_signers req;
      uint8_t(*have)[32] = NULL;
      size_t n = 0, missing = 1;
      if (cdr_contract_required_signers(&prev, &cur, &req, NULL, 0) != 0 ||
          memcmp(cur.previous_sha256, prev_hash, 32) != 0) {
        cdr_client_set_detail(cl, "contract version %llu does not follow version %llu", (unsigned long long)cur.version,
                              (unsigned long long)prev.version);
        r = CDR_ERR_CONTRACT_UNPINNED;
      } else {
        if ((r = cdr_contract_verified_signers(v, &cur, hash, &have, &n)) == 0 &&
            (r = cdr_contract_signers_missing(&req, (const uint8_t(*)[32])have, n, &missing, NULL)) == 0 &&
            missing != 0) {
          cdr_client_set_detail(cl, "contract version %llu lacks %zu of the signatures %s asks for",
                                (unsigned long long)cur.version, missing, CDR_CONTRACT_GOVERNANCE);
          r = CDR_ERR_CONTRACT_UNPINNED;
        }
        cdr_contract_signers_free(&req);
        free(have);
      }
    }
    cdr_contract_free(&prev);
    prev = cur;
    memcpy(prev_hash, hash, 32);
    if (r != 0)
      break;
  }
  if (r == 0) {
    *last_version = prev.version;
    memcpy(last_hash, prev_hash, 32);
  }
  cdr_contract_free(&prev);
  return r;
}
