/*
 * contract_holders.c - version 1 of a room contract must name the room's
 * data holders as they are (contract_ops.h).
 *
 * Why.  cdr-gov-1 asks version 1 for the signatures of the members it
 * lists, and nothing else: before it there is no active version to take
 * the required signers from.  A room holds tables before its first version
 * (rooms made before contracts existed, and any room until its members
 * have signed), and they belong to keys.  Without this check one
 * certificate holder could propose a version 1 that lists only itself,
 * under a provider's display name and with the provider role, sign it
 * alone, and be that provider from then on (review of 2026-12-07).
 *
 * The rule, checked when version 1 is proposed and again before each
 * signature of it (tables may have been uploaded in between): for every
 * table, the key that owns it is a member of the version with the provider
 * role (so its signature is required) under the owner's name (ownership
 * and grants compare names, so the owner keeps its tables and what it was
 * granted), and no other member carries that name.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "catalog.h"
#include "common/err.h"
#include "common/util.h"
#include "contract_ops.h"
#include "engine.h"

int contract_holders_check(const struct cdr_engine *eng, const struct cdr_contract *v1, char *why, size_t whylen) {
  const struct catalog *cat = eng != NULL ? engine_catalog(eng) : NULL;
  char hex[65];
  if (cat == NULL || v1 == NULL || v1->version != 1)
    return 0;
  for (size_t i = 0; i < cat->n; i++) {
    const struct catalog_table *t = cat->tables[i];
    long m = cdr_contract_find_member(v1, t->owner_key_fp);
    if (m < 0 || (v1->members[m].roles & CDR_CONTRACT_ROLE_PROVIDER) == 0 ||
        strcmp(v1->members[m].name, t->owner) != 0) {
      cdr_hex_encode(hex, t->owner_key_fp, 32);
      snprintf(why, whylen,
               "version 1 must list the key that owns table %s (key %s) as a provider named %s, so that it signs "
               "and keeps its tables",
               t->name, hex, t->owner);
      return CDR_ERR_CONTRACT_INVALID;
    }
    for (size_t k = 0; k < v1->n_members; k++) {
      if ((long)k != m && cdr_ascii_casecmp(v1->members[k].name, t->owner) == 0) {
        snprintf(why, whylen, "version 1 gives the name %s, owner of table %s, to another key than the owner's",
                 t->owner, t->name);
        return CDR_ERR_CONTRACT_INVALID;
      }
    }
  }
  return 0;
}

int contract_holders_check_doc(const struct cdr_engine *eng, const struct contract_state *s, const uint8_t *doc,
                               size_t len, char *why, size_t whylen) {
  struct cdr_contract c;
  int r;
  if (contract_state_current(s) != NULL)
    return 0; /* a later version: the active one names its required signers */
  memset(&c, 0, sizeof(c));
  if (cdr_contract_parse(doc, len, &c, why, whylen) != 0) {
    cdr_contract_free(&c);
    return 0; /* contract_state_propose refuses it, with the parser's reason */
  }
  r = contract_holders_check(eng, &c, why, whylen);
  cdr_contract_free(&c);
  return r;
}
