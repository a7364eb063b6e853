/*
 * witness_relay.c - the host's relay to the witnesses, for the client
 * tests of `cdr audit --verify` (tests/integration/test_witness_client.sh)
 * on a branch where cdrd does not relay yet: it connects to a real room as
 * a member, takes the enclave's current signed audit head (audit_head),
 * the active contract chain from version 1 (contract, "from": 1) and a
 * fresh attestation answer, and sends each witness the countersign
 * request with a join exactly as docs/PROTOCOL.md 9.3 writes it.  Nothing
 * here is trusted by the witness: it checks the chain, the evidence and
 * the enclave's signature itself.
 *
 *   witness_relay PROFILE CACERT FROM WITNESS_URL...
 *       sends the chain from version FROM (the version the witnesses
 *       pinned, as the host would remember it; 1 for a new witness) and
 *       prints "countersigned URL SIZE" or "refused URL CODE" per witness;
 *       exit 0 when every witness countersigned, 1 otherwise, 2 on a
 *       failure before any witness was asked
 */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/audit.h"
#include "client/client.h"
#include "client/connect.h"
#include "common/util.h"
#include "crypto/crypto.h"

static char *b64(const uint8_t *p, size_t n) {
  char *s = NULL;
  return cdr_b64_encode(&s, p, n) == 0 ? s : NULL;
}

/* The countersign request body (JSON text, malloc'd), or NULL. */
static char *request(struct cdr_connection *k, uint64_t from) {
  struct cdr_audit_head h;
  uint8_t known[32], nonce[CDR_NONCE_LEN], *ca = NULL;
  int have = 0, ca_len;
  char rid[33], head[65], *nonce_b64 = NULL, *body = NULL, *ca_b64 = NULL, *id_b64 = NULL, *out = NULL;
  json_t *chain = NULL, *att = NULL, *req = NULL;
  if (cdr_client_audit_head(k->client, k->session, UINT64_MAX, &h, known, &have) != 0 ||
      cdr_client_contract(k->client, k->session, from, &chain) != 0 || cdr_random(nonce, sizeof(nonce)) != 0 ||
      (nonce_b64 = b64(nonce, sizeof(nonce))) == NULL)
    goto out;
  json_t *areq = json_pack("{s:s}", "nonce", nonce_b64);
  body = areq ? json_dumps(areq, JSON_COMPACT) : NULL;
  json_decref(areq);
  if (body == NULL || cdr_http_json(k->client, "POST", "/v1/attest", body, strlen(body), &att) != 0)
    goto out;
  if ((ca_len = i2d_X509(k->client->ca, &ca)) <= 0 || (ca_b64 = b64(ca, (size_t)ca_len)) == NULL ||
      (id_b64 = b64(k->att.identity_spki, k->att.identity_spki_len)) == NULL)
    goto out;
  cdr_hex_encode(rid, k->client->room_id, sizeof(k->client->room_id));
  cdr_hex_encode(head, h.head, sizeof(h.head));
  req = json_pack("{s:s, s:{s:I,s:s,s:I,s:s}, s:s, s:{s:O,s:O,s:s,s:s}}", "room_id", rid, "head", "size",
                  (json_int_t)h.size, "head", head, "time", (json_int_t)h.time, "signature", h.signature_b64,
                  "identity_public_key", id_b64, "join", "chain", json_object_get(chain, "chain"), "attestation", att,
                  "nonce", nonce_b64, "ca_certificate", ca_b64);
  out = req ? json_dumps(req, JSON_COMPACT) : NULL;
out:
  cdr_audit_head_clear(&h);
  json_decref(chain);
  json_decref(att);
  json_decref(req);
  OPENSSL_free(ca);
  free(nonce_b64);
  free(body);
  free(ca_b64);
  free(id_b64);
  return out;
}

int main(int argc, char **argv) {
  struct cdr_connect_opts o;
  struct cdr_connection k;
  char why[512], *body;
  int rc = 0;
  if (argc < 5 || strtoull(argv[3], NULL, 10) == 0) {
    fprintf(stderr, "usage: witness_relay PROFILE CACERT FROM WITNESS_URL...\n");
    return 2;
  }
  memset(&o, 0, sizeof(o));
  memset(&k, 0, sizeof(k));
  o.profile = argv[1];
  o.allow_sim = 1;
  o.need_user = 1;
  o.open_session = 1;
  cdr_client_set_quiet(1);
  if (cdr_connect(&k, &o, why, sizeof(why)) != 0) {
    fprintf(stderr, "witness_relay: %s\n", why);
    cdr_connection_close(&k);
    return 2;
  }
  if ((body = request(&k, strtoull(argv[3], NULL, 10))) == NULL) {
    cdr_client_error_text(k.client, CDR_ERR_SERVER, why, sizeof(why));
    fprintf(stderr, "witness_relay: cannot build the request: %s\n", why);
    cdr_connection_close(&k);
    return 2;
  }
  for (int i = 4; i < argc; i++) {
    struct cdr_client *w = NULL;
    json_t *ans = NULL;
    int r = cdr_client_new(&w, argv[i]);
    if (r == 0)
      r = cdr_client_set_tls_cacert(w, argv[2]);
    if (r == 0)
      r = cdr_http_json(w, "POST", "/v1/witness/countersign", body, strlen(body), &ans);
    if (r == 0)
      printf("countersigned %s %lld\n", argv[i], (long long)json_integer_value(json_object_get(ans, "size")));
    else {
      cdr_client_error_text(w, r, why, sizeof(why));
      printf("refused %s %s\n", argv[i], why);
      rc = 1;
    }
    json_decref(ans);
    cdr_client_free(w);
  }
  free(body);
  cdr_connection_close(&k);
  return rc;
}
