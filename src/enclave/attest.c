/*
 * attest.c - choosing an attestation provider (attest.h): by name, or
 * `auto` by looking at what this machine offers.
 *
 * auto never chooses sim: a room that should run on hardware must not
 * come up with simulated attestation because the hardware went missing.
 * Clients refuse sim unless told otherwise anyway, but the operator
 * should hear it at start, not from users.
 */
#include <string.h>
#include <unistd.h>

#include "attest.h"
#include "common/log.h"

struct attest_provider *attest_provider_find(const char *name) {
  static struct attest_provider *const all[] = {&attest_sim_provider, &attest_snp_provider, &attest_tdx_provider,
                                                &attest_nitro_provider};
  if (name == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    if (strcmp(all[i]->name, name) == 0)
      return all[i];
  return NULL;
}

int attest_detect(const struct attest_options *o, const char **name) {
  const char *root = o && o->tsm_root ? o->tsm_root : ATTEST_TSM_ROOT_DEFAULT;
  const char *nsm = o && o->nsm_device ? o->nsm_device : ATTEST_NSM_DEVICE_DEFAULT;
  *name = NULL;
  if (access(root, F_OK) == 0) {
    if (attest_tsm_probe(root, name) == 0) {
      log_info("attestation auto: configfs-tsm at %s is %s", root, *name);
      return 0;
    }
    log_warn("attestation auto: configfs-tsm at %s offers no report provider CDR supports", root);
  }
  if (access(nsm, F_OK) == 0) {
    *name = "nitro";
    log_info("attestation auto: %s is present: nitro", nsm);
    return 0;
  }
  log_error("attestation auto: no attestation hardware here (no configfs-tsm at %s, no %s); simulated "
            "attestation is only used when chosen by name (sim)",
            root, nsm);
  return CDR_ERR_NOT_FOUND;
}
