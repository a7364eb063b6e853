/*
 * contract_gov.c - the governance rule cdr-gov-1 (contract.h,
 * PROTOCOL.md 8.6): which members must sign a new version of the room
 * contract before it may be activated, computed from the ACTIVE version,
 * never from the draft, and whether a set of verified signatures covers
 * them.
 *
 * Pure functions.  Invariants: the signer set of a later version always
 * contains every provider of the active version (whether or not the new
 * version keeps it: a provider leaves only by signing its own removal),
 * every member the new version adds, and every member given a role it
 * did not have; a version that would need no signature is refused.
 */
#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_int.h"
#include "crypto.h"

void cdr_contract_signers_free(struct cdr_contract_signers *s) {
  if (s == NULL)
    return;
  free(s->v);
  memset(s, 0, sizeof(*s));
}

static int signer_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_signer *)a)->key_sha256, ((const struct cdr_contract_signer *)b)->key_sha256,
                32);
}

/* next follows active: same room, the next version number, chained by
 * hash, and the same governance rule (the only one there is). */
static int check_chain(const struct cdr_contract *active, const struct cdr_contract *next, char *why, size_t whylen) {
  uint8_t h[32];
  int r;
  if ((r = cdr_contract_validate(active, why, whylen)) != 0)
    return r;
  if (memcmp(active->room_id, next->room_id, CDR_ROOM_ID_BYTES) != 0)
    return contract_refuse(why, whylen, "room_id: the new version is for another room");
  if (active->version == UINT64_MAX || next->version != active->version + 1)
    return contract_refuse(why, whylen, "version: must be %llu, the active version plus one",
                   (unsigned long long)(active->version + 1));
  if ((r = cdr_contract_hash(active, h)) != 0)
    return r;
  if (memcmp(h, next->previous_sha256, 32) != 0)
    return contract_refuse(why, whylen, "previous_sha256: is not the hash of the active version");
  if (strcmp(active->governance, next->governance) != 0)
    return contract_refuse(why, whylen, "governance: a version may not loosen the governance rule");
  return 0;
}

int cdr_contract_required_signers(const struct cdr_contract *active, const struct cdr_contract *next,
                                  struct cdr_contract_signers *out, char *why, size_t whylen) {
  struct cdr_contract_signer *v = NULL;
  size_t n = 0;
  int r;

  memset(out, 0, sizeof(*out));
  if ((r = cdr_contract_validate(next, why, whylen)) != 0)
    return r;
  if (active == NULL && next->version != 1)
    return contract_refuse(why, whylen, "version: with no active version, the first version is 1");
  if (active != NULL && (r = check_chain(active, next, why, whylen)) != 0)
    return r;
  /* At most every active member and every new one (caps checked by validate). */
  size_t cap = next->n_members + (active != NULL ? active->n_members : 0);
  if ((v = calloc(cap, sizeof(*v))) == NULL)
    return CDR_ERR_NOMEM;
  for (size_t i = 0; active == NULL && i < next->n_members; i++) {
    memcpy(v[n].key_sha256, next->members[i].key_sha256, 32);
    v[n++].reasons = CDR_SIGNER_LISTED;
  }
  for (size_t i = 0; active != NULL && i < active->n_members; i++)
    if (active->members[i].roles & CDR_CONTRACT_ROLE_PROVIDER) {
      memcpy(v[n].key_sha256, active->members[i].key_sha256, 32);
      v[n++].reasons = CDR_SIGNER_PROVIDER;
    }
  /* No provider to agree: every active member does (else a version that
   * adds one key as provider would need that key alone, and could change
   * the CA, the enclave and the members at will). */
  int no_provider = n == 0;
  for (size_t i = 0; active != NULL && no_provider && i < active->n_members; i++) {
    memcpy(v[n].key_sha256, active->members[i].key_sha256, 32);
    v[n++].reasons = CDR_SIGNER_MEMBER;
  }
  for (size_t i = 0; active != NULL && i < next->n_members; i++) {
    const struct cdr_contract_member *m = &next->members[i];
    long j = cdr_contract_find_member(active, m->key_sha256);
    unsigned why_bits = j < 0 ? CDR_SIGNER_ADDED : (m->roles & ~active->members[j].roles) != 0 ? CDR_SIGNER_WIDENED : 0;
    if (why_bits != 0) {
      memcpy(v[n].key_sha256, m->key_sha256, 32);
      v[n++].reasons = why_bits;
    }
  }
  if (n == 0) {
    free(v);
    return contract_refuse(why, whylen,
                   "members: under %s this version needs no signature (the active version has no provider and it "
                   "adds or widens no member), so it cannot be made",
                   CDR_CONTRACT_GOVERNANCE);
  }
  /* Sort and merge a key listed twice (a provider that is also widened). */
  qsort(v, n, sizeof(*v), signer_cmp);
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (w > 0 && memcmp(v[w - 1].key_sha256, v[i].key_sha256, 32) == 0)
      v[w - 1].reasons |= v[i].reasons;
    else
      v[w++] = v[i];
  }
  out->v = v;
  out->n = w;
  return 0;
}

int cdr_contract_signers_missing(const struct cdr_contract_signers *req, const uint8_t (*have)[32], size_t n_have,
                                 size_t *missing, size_t *first_missing) {
  size_t miss = 0, first = req != NULL ? req->n : 0;
  if (req == NULL || missing == NULL || (n_have > 0 && have == NULL))
    return CDR_ERR_ARG;
  for (size_t i = 0; i < req->n; i++) {
    size_t j = 0;
    while (j < n_have && memcmp(have[j], req->v[i].key_sha256, 32) != 0)
      j++;
    if (j == n_have) {
      if (miss == 0)
        first = i;
      miss++;
    }
  }
  *missing = miss;
  if (first_missing != NULL)
    *first_missing = first;
  return 0;
}
