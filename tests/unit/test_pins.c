/*
 * test_pins.c - the client's pins of a room's enclave (src/client/pins.c)
 * when the profile has no contract pin yet.
 *
 * The attack (review of the contract binding): a profile pinned the
 * platform and measurement from its invitation (or its first connection)
 * but no contract version.  The host runs an enclave build of its own
 * whose evidence binds a "version 1" it made up.  cdr_pins_check used to
 * consult the measurement pin only when the evidence claimed no contract,
 * so this build passed, and the first follow (no pinned start, so no
 * signatures to check from) pinned its made-up contract.  The profile's
 * platform and measurement must hold whatever version the evidence
 * claims, with and without a session, until a contract version is pinned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/connect.h"
#include "common/err.h"
#include "testlib.h"

int main(void) {
  static char dir[] = "/tmp/cdr-test-pins.XXXXXX";
  char fp[65], pinned[97], why[512];
  struct cdr_client *c = NULL;
  struct cdr_profile p;
  struct cdr_connection k;
  struct cdr_connect_opts o;
  int follow = 0;

  if (mkdtemp(dir) == NULL || setenv("CDR_CONFIG_DIR", dir, 1) != 0 || cdr_client_new(&c, "https://127.0.0.1:1") != 0)
    return 1;
  memset(c->ca_fp, 0xab, 32);
  for (int i = 0; i < 64; i++)
    fp[i] = (i % 2) ? 'b' : 'a';
  fp[64] = '\0';
  memset(pinned, '1', 96); /* M: 48 bytes of 0x11 */
  pinned[96] = '\0';
  memset(&p, 0, sizeof(p));
  p.name = "victim";
  p.ca_sha256 = fp;
  p.attest_platform = "snp";
  p.attest_measurement = pinned;
  memset(&k, 0, sizeof(k));
  k.client = c;
  k.profile = &p;
  snprintf(k.att.platform, sizeof(k.att.platform), "snp");
  k.att.measurement_len = 48;
  memset(k.att.measurement, 0x22, 48); /* M', another build */
  memset(&o, 0, sizeof(o));

  /* Claiming no contract: the first-use pin refuses M'. */
  k.att.contract_version = 0;
  CHECK_RC(cdr_pins_check(&k, &o, &follow, why, sizeof(why)), CDR_ERR_MEASUREMENT_UNPINNED);

  /* Claiming a version 1 it bound itself: refused too, before any follow
   * (it used to pass and set follow_needed). */
  k.att.contract_version = 1;
  memset(k.att.contract_sha256, 0x33, 32);
  o.open_session = 1;
  follow = 0;
  CHECK_RC(cdr_pins_check(&k, &o, &follow, why, sizeof(why)), CDR_ERR_MEASUREMENT_UNPINNED);
  CHECK(follow == 0);
  CHECK(strstr(why, "measurement_unpinned") != NULL);
  o.open_session = 0; /* cdr attest, no session */
  CHECK_RC(cdr_pins_check(&k, &o, &follow, why, sizeof(why)), CDR_ERR_MEASUREMENT_UNPINNED);

  /* Another platform is refused as such. */
  snprintf(k.att.platform, sizeof(k.att.platform), "tdx");
  CHECK_RC(cdr_pins_check(&k, &o, &follow, why, sizeof(why)), CDR_ERR_PLATFORM_UNPINNED);

  /* The pinned build itself, with a contract to follow: a session command
   * goes on to follow it over the session. */
  snprintf(k.att.platform, sizeof(k.att.platform), "snp");
  memset(k.att.measurement, 0x11, 48);
  o.open_session = 1;
  CHECK_RC(cdr_pins_check(&k, &o, &follow, why, sizeof(why)), 0);
  CHECK(follow == 1);

  /* --expect-measurement lets one command through to follow. */
  memset(k.att.measurement, 0x22, 48);
  o.expect_measurement = "2222";
  follow = 0;
  CHECK_RC(cdr_pins_check(&k, &o, &follow, why, sizeof(why)), 0);
  CHECK(follow == 1);

  cdr_client_free(c);
  return test_summary("test_pins");
}
