/*
 * invite_bundle.c - what `cdr room invite --url URL` adds to a token:
 * it attests the room's running server at URL as a member would (TLS
 * pinned to ROOM/ca.crt, or --cacert; the evidence verified under the
 * room CA), and puts the platform and measurement it saw, the URL, the
 * token and the CA into one bundle (client/invite.h).  Attesting first
 * means a bundle never names a URL that does not serve this room.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/client.h"
#include "client/invite.h"
#include "common/util.h"
#include "room/room.h"

int cli_invite_attest(const char *cmd, const struct cdr_room *room, const struct cli_invite_opts *o,
                      struct cdr_invite *inv) {
  struct cdr_client *c = NULL;
  struct cdr_attestation att;
  const char *coll = getenv("CDR_TDX_COLLATERAL");
  char text[1024];
  int r, rc = 1;

  memset(&att, 0, sizeof(att));
  memset(inv, 0, sizeof(*inv));
  if ((r = cdr_client_new(&c, o->url)) != 0) {
    if (r == CDR_ERR_INSECURE_URL)
      return cli_fail(cmd, "%s: %s: %s", cdr_err_code(r), cdr_err_describe(r), o->url);
    return cli_usage(cmd, "--url: '%s' is not an https:// URL", o->url);
  }
  cdr_client_allow_sim(c, strcmp(room->attestation, "sim") == 0);
  if ((r = cdr_client_set_ca(c, room->ca_cert)) != 0 ||
      (o->cacert != NULL && (r = cdr_client_set_tls_cacert(c, o->cacert)) != 0) ||
      (o->expect_measurement != NULL && (r = cdr_client_expect_measurement(c, o->expect_measurement)) != 0) ||
      (coll != NULL && coll[0] != '\0' && (r = cdr_client_set_tdx_collateral(c, coll)) != 0)) {
    cdr_client_error_text(c, r, text, sizeof(text));
    cli_fail(cmd, "%s", text);
    goto out;
  }
  if ((r = cdr_client_attest(c, &att)) != 0) {
    cdr_client_error_text(c, r, text, sizeof(text));
    cli_fail_client(cmd, c, r, "the server at %s does not attest as this room: %s; no invitation was made", o->url,
                    text);
    goto out;
  }
  if ((inv->url = strdup(c->url)) == NULL || att.measurement_len * 2 >= sizeof(inv->measurement))
    goto out;
  snprintf(inv->platform, sizeof(inv->platform), "%s", att.platform);
  cdr_hex_encode(inv->measurement, att.measurement, att.measurement_len);
  inv->has_contract = 1; /* the attested one: report_data binds it */
  inv->contract_version = att.contract_version;
  memcpy(inv->contract_sha256, att.contract_sha256, sizeof(inv->contract_sha256));
  inv->ca = room->ca_cert;
  X509_up_ref(inv->ca);
  rc = 0;
out:
  cdr_attestation_clear(&att);
  cdr_client_free(c);
  if (rc != 0)
    cdr_invite_clear(inv);
  return rc;
}

int cli_invite_print(const char *cmd, struct cdr_invite *inv, const char *token) {
  char *bundle = NULL;
  int r;

  if ((inv->token = strdup(token)) == NULL || (r = cdr_invite_build(inv, &bundle)) != 0)
    return cli_fail(cmd, "cannot build the invitation bundle");
  printf("  server:           %s (attested: %s, measurement %s)\n", inv->url, inv->platform, inv->measurement);
  if (inv->contract_version == 0) {
    printf("  contract:         none active yet\n");
  } else {
    char ch[65];
    cdr_hex_encode(ch, inv->contract_sha256, sizeof(inv->contract_sha256));
    printf("  contract:         version %llu, %s\n", (unsigned long long)inv->contract_version, ch);
  }
  printf("Give the user this invitation over a trusted channel (it holds the secret token);\n"
         "they run: cdr enroll INVITATION --key THEIR.key\n"
         "and should confirm the room CA fingerprint and the contract hash with a member\n"
         "they already know (everything in the invitation is the operator's word).\n");
  printf("%s\n", bundle);
  OPENSSL_clear_free(bundle, strlen(bundle));
  return 0;
}
