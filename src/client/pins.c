/*
 * pins.c - what a profile remembers of its room, checked on every
 * connection (issue 10 item 5, PROTOCOL 8.9 "Client pins"):
 *
 *   - the room CA's fingerprint (profile "ca_sha256"): the CA file the
 *     profile names must still have it (CDR_ERR_CA_UNPINNED);
 *   - the latest active contract version seen (profiles/NAME.contract:
 *     version and hash; NAME.contract.json: its canonical document).  The
 *     contract hash the attestation binds (PROTOCOL 4.5) must be that
 *     version, or a later one that follows from it through properly
 *     signed versions (read from the enclave with `contract`, checked by
 *     cdr_contract_chain_follows), else CDR_ERR_CONTRACT_UNPINNED;
 *   - the platform and the accepted measurements: those of the pinned
 *     contract once a version is active (CDR_ERR_PLATFORM_UNPINNED,
 *     CDR_ERR_MEASUREMENT_UNPINNED, and its ca_sha256 must be the pinned
 *     CA); before that, "attest_platform" and "attest_measurement" (from
 *     the invitation bundle, else the first attestation: trust on first
 *     use).  An explicit --expect-measurement replaces the measurement pin
 *     for that one command (attestation compared it already).
 *
 * Everything is checked before the command's own request.  Only when the
 * contract moved (or a first version is pinned) is a session needed: the
 * chain is read over it before anything else is sent.  When the pin
 * moves, one line on stderr says what changed.  A connection without a
 * profile has nothing to remember and is not checked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"

#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"

static int doc_path(const char *profile, char **out) {
  return cdr_profile_file_path(profile, ".contract.json", out);
}

/* The pinned document, which must hash to hash.  0 or CDR_ERR_NOT_FOUND. */
static int doc_load(const char *profile, const uint8_t hash[32], struct cdr_contract *c) {
  char *path = NULL;
  uint8_t *d = NULL, h[32];
  size_t len = 0;
  int r;
  if ((r = doc_path(profile, &path)) != 0)
    return r;
  r = cdr_file_read(path, &d, &len, CDR_CONTRACT_MAX_BYTES);
  free(path);
  if (r != 0)
    return CDR_ERR_NOT_FOUND;
  r = cdr_sha256(h, d, len) == 0 && memcmp(h, hash, 32) == 0 && cdr_contract_parse(d, len, c, NULL, 0) == 0
          ? 0
          : CDR_ERR_NOT_FOUND;
  free(d);
  return r;
}

static int fail(char *why, size_t whylen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t whylen, int r, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(why, whylen, "%s: ", cdr_err_code(r));
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < whylen)
    vsnprintf(why + n, whylen - (size_t)n, fmt, ap);
  va_end(ap);
  return r;
}

/* The attested enclave against contract c (or, with c NULL, against the
 * profile's pre-contract pins). */
static int check_enclave(const struct cdr_connection *k, const struct cdr_contract *c, int measurement_given,
                         char *why, size_t whylen) {
  const struct cdr_attestation *a = &k->att;
  char got[2 * CDR_MEASUREMENT_MAX + 1], fp[65];
  cdr_hex_encode(got, a->measurement, a->measurement_len);
  if (c == NULL) {
    const struct cdr_profile *p = k->profile;
    if (p->attest_platform != NULL && strcmp(p->attest_platform, a->platform) != 0)
      return fail(why, whylen, CDR_ERR_PLATFORM_UNPINNED, "the room attests platform %s, profile %s pinned %s",
                  a->platform, p->name, p->attest_platform);
    if (!measurement_given && p->attest_measurement != NULL && strcmp(p->attest_measurement, got) != 0)
      return fail(why, whylen, CDR_ERR_MEASUREMENT_UNPINNED,
                  "the room's enclave measurement is %s, profile %s pinned %s (until the profile pins a contract "
                  "version it holds the enclave it first saw: a new build is accepted once with "
                  "--expect-measurement, or by a signed contract version that lists it)",
                  got, p->name, p->attest_measurement);
    return 0;
  }
  cdr_hex_encode(fp, c->ca_sha256, 32);
  if (memcmp(c->ca_sha256, k->client->ca_fp, 32) != 0)
    return fail(why, whylen, CDR_ERR_CA_UNPINNED, "contract version %llu names room CA %s, not the one this profile "
                "trusts", (unsigned long long)c->version, fp);
  if (strcmp(c->platform, a->platform) != 0)
    return fail(why, whylen, CDR_ERR_PLATFORM_UNPINNED, "the room attests platform %s, contract version %llu says %s",
                a->platform, (unsigned long long)c->version, c->platform);
  if (measurement_given)
    return 0;
  for (size_t i = 0; i < c->n_measurements; i++)
    if (cdr_contract_measurement_len(c->platform) == a->measurement_len &&
        memcmp(c->measurements[i], a->measurement, a->measurement_len) == 0)
      return 0;
  return fail(why, whylen, CDR_ERR_MEASUREMENT_UNPINNED,
              "the room's enclave measurement %s is not among the %zu that contract version %llu accepts (a new "
              "enclave build is accepted by a version that lists it, signed as %s asks)",
              got, c->n_measurements, (unsigned long long)c->version, CDR_CONTRACT_GOVERNANCE);
}

/* One line: what version `to` changed from `from` (NULL: unknown). */
static void say_moved(const char *profile, const struct cdr_contract *from, uint64_t from_v,
                      const struct cdr_contract *to, const uint8_t hash[32]) {
  char hex[65], what[256] = "";
  size_t added = 0, removed = 0, changed = 0;
  cdr_hex_encode(hex, hash, 32);
  if (from != NULL) {
    for (size_t i = 0; i < to->n_members; i++) {
      size_t j = 0;
      while (j < from->n_members && memcmp(from->members[j].key_sha256, to->members[i].key_sha256, 32) != 0)
        j++;
      if (j == from->n_members)
        added++;
      else if (from->members[j].roles != to->members[i].roles || strcmp(from->members[j].name, to->members[i].name))
        changed++;
    }
    removed = from->n_members + added - to->n_members;
    snprintf(what, sizeof(what), ": members +%zu -%zu, %zu changed; measurements %s", added, removed, changed,
             from->n_measurements == to->n_measurements &&
                     memcmp(from->measurements, to->measurements, sizeof(to->measurements)) == 0
                 ? "unchanged"
                 : "changed");
  }
  if (!cdr_client_quiet())
    fprintf(stderr, "contract pin moved from version %llu to version %llu (%s) in profile %s%s\n",
            (unsigned long long)from_v, (unsigned long long)to->version, hex, profile, what);
}

/* Read the chain from `from` over the session, check it follows the pin
 * (when there is one) and ends at the attested version; *c is the last
 * version's document, *doc_json its text.  */
static int follow(struct cdr_connection *k, uint64_t pv, const uint8_t ph[32], struct cdr_contract *c,
                  json_t **answer, const char **doc, size_t *doc_len, char *why, size_t whylen) {
  uint64_t lv = 0, from = pv ? pv : k->att.contract_version;
  uint8_t lh[32], h[32];
  json_t *chain, *last;
  char text[768];
  int r;
  if ((r = cdr_client_contract(k->client, k->session, from, answer)) != 0 ||
      (chain = json_object_get(*answer, "chain")) == NULL || json_array_size(chain) == 0) {
    if (r == 0)
      r = CDR_ERR_CONTRACT_UNPINNED;
    cdr_client_error_text(k->client, r, text, sizeof(text));
    return fail(why, whylen, r, "cannot read the room's contract chain: %s", text);
  }
  if (pv != 0 && (r = cdr_contract_chain_follows(k->client, chain, pv, ph, &lv, lh)) != 0) {
    cdr_client_error_text(k->client, r, text, sizeof(text));
    snprintf(why, whylen, "%s", text);
    return r;
  }
  last = json_array_get(chain, json_array_size(chain) - 1);
  if ((r = cdr_contract_entry_doc(last, c, h)) != 0 || c->version != k->att.contract_version ||
      memcmp(h, k->att.contract_sha256, 32) != 0)
    return fail(why, whylen, CDR_ERR_CONTRACT_UNPINNED,
                "the room's contract chain does not end at version %llu, which its attestation binds",
                (unsigned long long)k->att.contract_version);
  if (cdr_json_get_str(last, "document", CDR_CONTRACT_MAX_BYTES, doc, doc_len) != 0)
    return fail(why, whylen, CDR_ERR_CONTRACT_UNPINNED, "the room's contract answer has no document");
  return 0;
}

/* Fill the profile's pins it does not have yet from this connection
 * (trust on first use), and save it when one was added. */
static int remember(struct cdr_connection *k, char *why, size_t whylen) {
  struct cdr_profile *p = k->profile;
  char fp[65], meas[2 * CDR_MEASUREMENT_MAX + 1];
  int dirty = 0, r;
  cdr_hex_encode(fp, k->client->ca_fp, 32);
  cdr_hex_encode(meas, k->att.measurement, k->att.measurement_len);
  if (p->ca_sha256 == NULL && ++dirty && (p->ca_sha256 = strdup(fp)) == NULL)
    return CDR_ERR_NOMEM;
  if (k->att.contract_version == 0 && p->attest_platform == NULL && ++dirty &&
      (p->attest_platform = strdup(k->att.platform)) == NULL)
    return CDR_ERR_NOMEM;
  if (k->att.contract_version == 0 && p->attest_measurement == NULL && ++dirty &&
      (p->attest_measurement = strdup(meas)) == NULL)
    return CDR_ERR_NOMEM;
  if (dirty && (r = cdr_profile_save(p)) != 0)
    return fail(why, whylen, r, "cannot save the pins of profile %s", p->name);
  return 0;
}

int cdr_pins_check(struct cdr_connection *k, const struct cdr_connect_opts *o, int *follow_needed, char *why,
                   size_t whylen) {
  struct cdr_profile *p = k->profile;
  struct cdr_contract doc;
  uint64_t pv = 0, av = k->att.contract_version;
  uint8_t ph[32];
  char fp[65];
  int have_pin, have_doc, r;

  *follow_needed = 0;
  if (p == NULL)
    return 0;
  cdr_hex_encode(fp, k->client->ca_fp, 32);
  if (p->ca_sha256 != NULL && strcmp(p->ca_sha256, fp) != 0)
    return fail(why, whylen, CDR_ERR_CA_UNPINNED, "profile %s pinned room CA %s, but the CA it trusts (%s) is %s",
                p->name, p->ca_sha256, p->ca, fp);
  have_pin = cdr_contract_pin_load(p->name, &pv, ph) == 0;
  if (have_pin && av == 0)
    return fail(why, whylen, CDR_ERR_CONTRACT_UNPINNED,
                "the room shows no active contract version, but this profile pinned version %llu (profile %s; a "
                "host restarted from an older sealed state?)",
                (unsigned long long)pv, p->name);
  if (have_pin && av < pv)
    return fail(why, whylen, CDR_ERR_CONTRACT_UNPINNED,
                "the room's enclave binds contract version %llu, below version %llu that profile %s pinned (a "
                "host restarted from an older sealed state?)",
                (unsigned long long)av, (unsigned long long)pv, p->name);
  if (have_pin && av == pv && memcmp(k->att.contract_sha256, ph, 32) != 0)
    return fail(why, whylen, CDR_ERR_CONTRACT_UNPINNED,
                "the room's contract version %llu is not the one profile %s pinned (another room, or a forked "
                "contract)",
                (unsigned long long)pv, p->name);
  /* A profile without a contract pin holds the platform and measurement
   * it was given or first saw, whatever contract version the evidence
   * claims: an enclave build of the host's choosing could bind a version
   * 1 of its own making, which nobody signed (the first follow below has
   * no pinned start to check its signatures from). */
  if (!have_pin && (r = check_enclave(k, NULL, o->expect_measurement != NULL, why, whylen)) != 0)
    return r;
  memset(&doc, 0, sizeof(doc));
  have_doc = have_pin && doc_load(p->name, ph, &doc) == 0;
  if (av > 0 && (!have_pin || av > pv || !have_doc)) {
    if (o->open_session) {
      cdr_contract_free(&doc);
      *follow_needed = 1; /* cdr_pins_follow, over the session */
      return 0;
    }
    if (!cdr_client_quiet())
      fprintf(stderr, "note: the room's contract is at version %llu, profile %s pinned %s%llu; the next command "
                      "with a session follows it\n",
              (unsigned long long)av, p->name, have_pin ? "version " : "none ", (unsigned long long)pv);
    /* Without a session the newer version cannot be read: the pinned
     * version's terms still hold. */
    r = have_doc ? check_enclave(k, &doc, o->expect_measurement != NULL, why, whylen) : 0;
    cdr_contract_free(&doc);
    return r != 0 ? r : remember(k, why, whylen);
  }
  r = check_enclave(k, av > 0 ? &doc : NULL, o->expect_measurement != NULL, why, whylen);
  cdr_contract_free(&doc);
  return r != 0 ? r : remember(k, why, whylen);
}

int cdr_pins_follow(struct cdr_connection *k, const struct cdr_connect_opts *o, char *why, size_t whylen) {
  struct cdr_profile *p = k->profile;
  struct cdr_contract old, cur;
  json_t *answer = NULL;
  const char *doc = NULL;
  size_t doc_len = 0;
  uint64_t pv = 0;
  uint8_t ph[32];
  char *path = NULL, hex[65];
  int have_pin, have_old = 0, r;

  memset(&old, 0, sizeof(old));
  memset(&cur, 0, sizeof(cur));
  have_pin = cdr_contract_pin_load(p->name, &pv, ph) == 0;
  if (have_pin)
    have_old = doc_load(p->name, ph, &old) == 0;
  if ((r = follow(k, have_pin ? pv : 0, ph, &cur, &answer, &doc, &doc_len, why, whylen)) != 0 ||
      (r = check_enclave(k, &cur, o->expect_measurement != NULL, why, whylen)) != 0)
    goto out;
  if ((r = doc_path(p->name, &path)) != 0 || (r = cdr_file_write(path, doc, doc_len, 0600, 0)) != 0 ||
      (r = cdr_contract_pin_save(p->name, cur.version, k->att.contract_sha256)) != 0) {
    r = fail(why, whylen, r, "cannot save the contract pin of profile %s", p->name);
    goto out;
  }
  if ((r = remember(k, why, whylen)) != 0)
    goto out;
  cdr_hex_encode(hex, k->att.contract_sha256, 32);
  if (have_pin && pv != cur.version)
    say_moved(p->name, have_old ? &old : NULL, pv, &cur, k->att.contract_sha256);
  else if (!have_pin && !cdr_client_quiet())
    fprintf(stderr, "pinned contract version %llu (%s) in profile %s\n", (unsigned long long)cur.version, hex,
            p->name);
out:
  free(path);
  json_decref(answer);
  cdr_contract_free(&old);
  cdr_contract_free(&cur);
  return r;
}
