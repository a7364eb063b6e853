/*
 * cli_op.c - what the commands that manage tables (tables, grant,
 * revoke-grant, hide, drop) share: the help text of the connection
 * options, and one sealed operation from connecting to the decrypted
 * answer, with the failure printed as every command prints it.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"

void cli_connect_help(void) {
  printf("Without URL, the profile (--profile NAME, or the default one saved by\n"
         "`cdr enroll`) gives the URL, key, certificate and room CA.  With URL, give\n"
         "--key and --cert, or a profile for that URL is used.\n\n"
         "Connection options:\n"
         "  -k, --key KEY                 your private key: a PEM file, or a key in a\n"
         "                                PKCS#11 token as an RFC 7512 pkcs11: URI\n"
         "                                (e.g. \"pkcs11:token=alice;object=cdr\";\n"
         "                                module-path=, pin-source= in its query)\n"
         "      --pass SRC                the key file's passphrase, from env:VAR or\n"
         "                                file:PATH (its first line), as openssl's -passin\n"
         "      --pin SRC                 the token's user PIN, from env:VAR or file:PATH\n"
         "                                (else the URI's pin-source or pin-value)\n"
         "  -C, --cert CERT               your certificate from `cdr enroll` (PEM)\n"
         "  -c, --ca FILE                 the room CA certificate (default: the profile's,\n"
         "                                else CERT's .ca.crt file saved by enroll);\n"
         "                                TLS trusts this CA only\n"
         "      --cacert FILE             TLS trusts this CA file instead (a server\n"
         "                                certificate of the operator's own CA)\n"
         "  -p, --profile NAME            use this profile\n"
         "  -m, --expect-measurement HEX  require this enclave measurement: 64 hex\n"
         "                                digits for sim, 96 for snp, tdx (MRTD), nitro\n"
         "                                (PCR0)\n"
         "      --expect-rtmr N=HEX       tdx: require RTMR N (0-3) to be HEX (96 hex\n"
         "                                digits); repeatable\n"
         "      --expect-pcr N=HEX        nitro: require PCR N (0-31) to be HEX (96 hex\n"
         "                                digits); repeatable.  A register the room's\n"
         "                                platform does not have fails attestation\n"
         "      --snp-min-tcb SPEC        snp: require the reported TCB to be at least\n"
         "                                SPEC, e.g. bootloader=4,snp=22,microcode=213\n"
         "                                (any of the four fields; the others: any)\n"
         "  -s, --allow-sim               accept simulated attestation (not\n"
         "                                hardware-backed; proves nothing against the\n"
         "                                server operator)\n"
         "  -h, --help                    show this help\n\n"
         "Environment:\n"
         "  CDR_ALLOW_SIM   1 has the effect of --allow-sim\n"
         "  CDR_SNP_MIN_TCB  --snp-min-tcb when it is not given\n"
         "  CURL_CA_BUNDLE, SSL_CERT_FILE  TLS CAs when no room CA is known yet\n"
         "  CDR_ACCEPT_TCB  TCB statuses to accept besides UpToDate (tdx), e.g.\n"
         "                  SWHardeningNeeded\n"
         "  CDR_TDX_COLLATERAL  Intel's collateral file, which a tdx room needs\n"
         "                  (docs/ATTESTATION.md)\n"
         "  CDR_CONFIG_DIR  where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                  else ~/.config/cdr)\n");
}

int cli_room_op(const char *cmd, struct cdr_connect_opts *o, json_t *header, json_t **result) {
  return cli_room_op_payload(cmd, o, header, NULL, 0, result);
}

int cli_room_op_payload(const char *cmd, struct cdr_connect_opts *o, json_t *header, const void *payload,
                        size_t payload_len, json_t **result) {
  struct cdr_connection k;
  int r;

  *result = NULL;
  memset(&k, 0, sizeof(k));
  if (header == NULL)
    return cli_fail(cmd, "a name is not valid UTF-8");
  if ((r = cli_connect_user(cmd, o, &k, NULL)) != 0) {
    cdr_connection_close(&k);
    return r;
  }
  if ((r = cdr_client_op_payload(k.client, k.session, header, payload, payload_len, result)) != 0) {
    r = cli_fail_client(cmd, k.client, r, NULL);
    cdr_connection_close(&k);
    return r;
  }
  cdr_connection_close(&k);
  return 0;
}
