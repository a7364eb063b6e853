/*
 * cmd_room_propose.c - `cdr room propose ROOM`: the room admin drafts the
 * next version of the room contract from what the host knows (the
 * certificates host.db records as issued and not revoked, with their
 * keys; the room CA; the enclave measurement given, or the active
 * version's), prints it with its hash, and writes it to
 * ROOM/proposal.json, which the running cdrd hands to the enclave
 * (IPC_PROPOSE).  A proposal needs no trust: members read it through the
 * secure channel and only their signatures make it count.
 */
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/client.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "room/room.h"

static const char *const CMD = "room propose";

#define MAX_EXCLUDES 64

struct propose_opts {
  const char *previous;
  const char *platform;
  const char *exclude[MAX_EXCLUDES];
  size_t n_exclude;
  char *measurements[CDR_CONTRACT_MAX_MEASUREMENTS];
  size_t n_measurements;
  const char *witnesses[CDR_CONTRACT_MAX_WITNESSES];
  size_t n_witnesses;
  long witness_faults; /* -1: not given */
  const char *witness_ca;
  int no_witnesses;
};

static void help(void) {
  printf("Usage: cdr room propose ROOM [--measurement HEX]... [--previous FILE]\n"
         "                             [--exclude NAME|KEY-FINGERPRINT]... [--platform P]\n"
         "                             [--witness URL]... [--witness-faults F] [--witness-ca FILE]\n"
         "                             [--no-witnesses]\n\n"
         "Draft the next version of the room contract: its members are the\n"
         "certificates this room issued and has not revoked (their keys, names and\n"
         "roles), its CA the room CA.  The draft is printed with its contract hash and\n"
         "written to ROOM/proposal.json, which the running server hands to the\n"
         "enclave; members read it with `cdr contract` and sign it with `cdr contract\n"
         "sign HASH`.  It counts only once the signatures the rule cdr-gov-1 asks for\n"
         "are there.\n\n"
         "  --measurement HEX   an enclave measurement to accept (repeatable; the\n"
         "                      running enclave's is in cdrd's log and `cdr attest`);\n"
         "                      with --previous, added to the active version's.\n"
         "                      Without it (and without --previous) the draft takes\n"
         "                      the running enclave's platform and measurement from\n"
         "                      ROOM/contract.json, which cdrd writes at start\n"
         "  --previous FILE     the active version's canonical document (`cdr\n"
         "                      contract --format json`): the draft is its next\n"
         "                      version; without it, the draft is version 1\n"
         "  --exclude X         leave out the member named X, or the key whose\n"
         "                      fingerprint is X (64 hex digits); repeatable\n"
         "  --platform P        sim, snp, tdx or nitro (default: the previous\n"
         "                      version's, else the room's, else sim)\n"
         "  --witness URL       a history witness (https://HOST:PORT, `cdr witness\n"
         "                      serve`), repeatable: each is asked for its public key\n"
         "                      (GET /v1/witness/key) and the draft names its URL and\n"
         "                      key fingerprint; confirm each fingerprint with the\n"
         "                      witness's operator.  The enclave then answers nothing\n"
         "                      until a quorum has countersigned the history.  With\n"
         "                      --previous and no --witness, the previous version's\n"
         "                      witnesses are kept\n"
         "  --witness-faults F  faulty witnesses tolerated (default 0); needs at\n"
         "                      least 3F+1 witnesses; the quorum is ceil((n+F+1)/2)\n"
         "  --witness-ca FILE   CA certificates (PEM) that the witnesses' TLS\n"
         "                      certificates chain to (default: CURL_CA_BUNDLE,\n"
         "                      SSL_CERT_FILE, else the system store)\n"
         "  --no-witnesses      drop the previous version's witnesses\n");
}

static int excluded(const struct propose_opts *o, const char *name, const uint8_t fp[32]) {
  char hex[65];
  cdr_hex_encode(hex, fp, 32);
  for (size_t i = 0; i < o->n_exclude; i++)
    if (strcmp(o->exclude[i], name) == 0 || cdr_ascii_casecmp(o->exclude[i], hex) == 0)
      return 1;
  return 0;
}

static unsigned contract_role(enum cdr_role r) {
  switch (r) {
  case CDR_ROLE_ANALYST: return CDR_CONTRACT_ROLE_ANALYST;
  case CDR_ROLE_PROVIDER: return CDR_CONTRACT_ROLE_PROVIDER;
  case CDR_ROLE_AUDITOR: return CDR_CONTRACT_ROLE_AUDITOR;
  default: return 0;
  }
}

static int member_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_member *)a)->key_sha256, ((const struct cdr_contract_member *)b)->key_sha256,
                32);
}

/* The members from the room's certificates (a key certified twice, as
 * when re-enrolled under the same name, once).  1 after printing why not. */
static int add_members(struct cdr_contract *c, const struct propose_opts *o, const struct cdr_room_cert *certs,
                       size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t fp[32];
    if (certs[i].spki == NULL) {
      fprintf(stderr, "note: %s was enrolled before the server kept keys: not in the draft (they can join with "
                      "`cdr contract propose`)\n", certs[i].name);
      continue;
    }
    if (cdr_sha256(fp, certs[i].spki, certs[i].spki_len) != 0)
      return cli_fail(CMD, "cannot hash a key");
    if (excluded(o, certs[i].name, fp) || cdr_contract_find_member(c, fp) >= 0)
      continue;
    for (size_t j = 0; j < c->n_members; j++)
      if (strcmp(c->members[j].name, certs[i].name) == 0) {
        char a[65], b[65];
        cdr_hex_encode(a, c->members[j].key_sha256, 32);
        cdr_hex_encode(b, fp, 32);
        return cli_fail(CMD, "two certificates are named %s, with keys %s and %s: leave one out with --exclude KEY",
                        certs[i].name, a, b);
      }
    struct cdr_contract_member *m = &c->members[c->n_members];
    memcpy(m->key_sha256, fp, 32);
    if ((m->name = strdup(certs[i].name)) == NULL)
      return cli_fail(CMD, "out of memory");
    m->roles = contract_role(certs[i].role);
    c->n_members++;
    /* The contract keeps members sorted by key (PROTOCOL 8.1). */
    qsort(c->members, c->n_members, sizeof(*m), member_cmp);
  }
  return 0;
}

/* Measurements are kept sorted (PROTOCOL 8.1); rows are zero past the
 * platform's length, so whole rows compare as the values do. */
static int measurement_cmp(const void *a, const void *b) { return memcmp(a, b, CDR_CONTRACT_MEASUREMENT_MAX); }

/* No measurement given and none inherited: the running enclave's, as
 * cdrd wrote it in ROOM/contract.json from the enclave's IPC_INIT answer.
 * That is the host's word, which is enough for a proposal (members
 * compare it with their own attestation before they sign).  0, or 1
 * after printing why not. */
static int running_enclave(struct cdr_contract *c, const struct cdr_room *room, const struct propose_opts *o) {
  size_t n = strlen(room->dir) + sizeof("/contract.json");
  char *path = malloc(n);
  uint8_t *text = NULL;
  size_t len = 0;
  json_t *j = NULL;
  const char *plat = NULL, *meas = NULL;
  int rc = 1;
  if (path == NULL)
    return cli_fail(CMD, "out of memory");
  snprintf(path, n, "%s/contract.json", room->dir);
  if (cdr_file_read(path, &text, &len, 4u * CDR_MiB) == 0 && cdr_json_parse_object(&j, text, len) == 0) {
    plat = cdr_json_get_cstr_opt(json_object_get(j, "enclave"), "platform");
    meas = cdr_json_get_cstr_opt(json_object_get(j, "enclave"), "measurement");
  }
  if (plat == NULL || meas == NULL) {
    cli_fail(CMD, "give the enclave's measurement with --measurement HEX (see `cdr attest`): %s does not name the "
                  "running enclave's (start the room with cdr serve first)", path);
  } else if (o->platform != NULL && strcmp(o->platform, plat) != 0) {
    cli_fail(CMD, "the running enclave is %s, not --platform %s: give --measurement HEX", plat, o->platform);
  } else if (strlen(plat) >= sizeof(c->platform) || cdr_contract_measurement_len(plat) == 0 ||
             strlen(meas) != 2 * cdr_contract_measurement_len(plat) ||
             cdr_hex_decode(c->measurements[0], cdr_contract_measurement_len(plat), meas) != 0) {
    cli_fail(CMD, "%s names no valid enclave measurement: give --measurement HEX", path);
  } else {
    snprintf(c->platform, sizeof(c->platform), "%s", plat);
    c->n_measurements = 1;
    fprintf(stderr, "measurement: %s, the running %s enclave's as cdrd reported it (%s); members compare it with "
                    "their own attestation\n", meas, plat, path);
    rc = 0;
  }
  json_decref(j);
  free(text);
  free(path);
  return rc;
}

/* Version, chain, CA, platform and measurements.  1 after printing why not. */
static int fill_head(struct cdr_contract *c, const struct propose_opts *o, const struct cdr_room *room) {
  struct cdr_contract prev;
  uint8_t *doc = NULL, *der = NULL;
  size_t len = 0;
  char why[CDR_CONTRACT_WHY_LEN] = "";
  int n;
  memset(&prev, 0, sizeof(prev));
  c->version = 1;
  snprintf(c->platform, sizeof(c->platform), "%s",
           o->platform ? o->platform : strcmp(room->attestation, "auto") != 0 ? room->attestation : "sim");
  if (o->previous != NULL) {
    if (cdr_file_read(o->previous, &doc, &len, CDR_CONTRACT_MAX_BYTES) != 0)
      return cli_fail(CMD, "cannot read %s", o->previous);
    if (cdr_contract_parse(doc, len, &prev, why, sizeof(why)) != 0) {
      free(doc);
      return cli_fail(CMD, "%s is not a canonical contract document: %s", o->previous, why);
    }
    c->version = prev.version + 1;
    if (cdr_sha256(c->previous_sha256, doc, len) != 0)
      return cli_fail(CMD, "cannot hash %s", o->previous);
    free(doc);
    if (o->platform == NULL)
      memcpy(c->platform, prev.platform, sizeof(c->platform));
    memcpy(c->measurements, prev.measurements, sizeof(c->measurements));
    c->n_measurements = prev.n_measurements;
    c->has_snp_min_tcb = prev.has_snp_min_tcb;
    c->snp_min_tcb = prev.snp_min_tcb;
    /* The previous witnesses are kept unless --witness or --no-witnesses
     * replaces them (add_witnesses): the strings move over. */
    c->witnesses = prev.witnesses;
    c->n_witnesses = prev.n_witnesses;
    c->witness_faults = prev.witness_faults;
    prev.witnesses = NULL;
    prev.n_witnesses = 0;
  }
  cdr_contract_free(&prev);
  size_t mlen = cdr_contract_measurement_len(c->platform);
  if (mlen == 0)
    return cli_fail(CMD, "unknown platform %s (sim, snp, tdx or nitro)", c->platform);
  for (size_t i = 0; i < o->n_measurements; i++) {
    uint8_t m[CDR_CONTRACT_MEASUREMENT_MAX];
    if (strlen(o->measurements[i]) != 2 * mlen || cdr_hex_decode(m, mlen, o->measurements[i]) != 0)
      return cli_fail(CMD, "a %s measurement is %zu hex digits: %s", c->platform, 2 * mlen, o->measurements[i]);
    size_t j = 0;
    while (j < c->n_measurements && memcmp(c->measurements[j], m, mlen) != 0)
      j++;
    if (j < c->n_measurements)
      continue;
    if (c->n_measurements >= CDR_CONTRACT_MAX_MEASUREMENTS)
      return cli_fail(CMD, "at most %u measurements", CDR_CONTRACT_MAX_MEASUREMENTS);
    memcpy(c->measurements[c->n_measurements++], m, mlen);
  }
  if (c->n_measurements == 0 && running_enclave(c, room, o) != 0)
    return 1;
  qsort(c->measurements, c->n_measurements, sizeof(c->measurements[0]), measurement_cmp);
  if ((n = i2d_X509(room->ca_cert, &der)) <= 0 || cdr_sha256(c->ca_sha256, der, (size_t)n) != 0) {
    OPENSSL_free(der);
    return cli_fail(CMD, "cannot read the room CA certificate");
  }
  OPENSSL_free(der);
  if (cdr_hex_decode(c->room_id, CDR_ROOM_ID_BYTES, room->room_id) != 0 || (c->room_name = strdup(room->name)) == NULL)
    return cli_fail(CMD, "cannot read the room's id and name");
  memcpy(c->governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  return 0;
}

static int witness_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_witness *)a)->key_sha256,
                ((const struct cdr_contract_witness *)b)->key_sha256, 32);
}

/* The witnesses: each --witness URL's key, asked of the witness, or the
 * previous version's (kept in *c by fill_head).  n >= 3f + 1 is checked
 * here with a message that says what to do.  1 after printing why not. */
static int add_witnesses(struct cdr_contract *c, const struct propose_opts *o) {
  if (o->no_witnesses || o->n_witnesses > 0) {
    for (size_t i = 0; i < c->n_witnesses; i++)
      free(c->witnesses[i].url);
    free(c->witnesses);
    c->witnesses = NULL;
    c->n_witnesses = 0;
    c->witness_faults = 0;
  }
  if (o->n_witnesses > 0 && (c->witnesses = calloc(o->n_witnesses, sizeof(*c->witnesses))) == NULL)
    return cli_fail(CMD, "out of memory");
  for (size_t i = 0; i < o->n_witnesses; i++) {
    struct cdr_contract_witness *w = &c->witnesses[c->n_witnesses];
    char why[CDR_CONTRACT_MAX_URL + 256] = "", fp[65];
    uint8_t *spki = NULL;
    size_t spki_len = 0, ulen = strlen(o->witnesses[i]);
    int r;
    while (ulen > 8 && o->witnesses[i][ulen - 1] == '/')
      ulen--;
    if (strncmp(o->witnesses[i], "https://", 8) != 0 || ulen <= 8 || ulen > CDR_CONTRACT_MAX_URL)
      return cli_usage(CMD, "--witness %s: a witness URL is https://HOST:PORT (at most %u bytes)", o->witnesses[i],
                       CDR_CONTRACT_MAX_URL);
    if ((w->url = strndup(o->witnesses[i], ulen)) == NULL)
      return cli_fail(CMD, "out of memory");
    c->n_witnesses++;
    if ((r = cdr_witness_key_fetch(w->url, o->witness_ca, &spki, &spki_len, w->key_sha256, why, sizeof(why))) != 0)
      return cli_fail_err(CMD, r, "cannot get the key of witness %s: %s", w->url, why);
    free(spki);
    for (size_t j = 0; j + 1 < c->n_witnesses; j++)
      if (memcmp(c->witnesses[j].key_sha256, w->key_sha256, 32) == 0)
        return cli_usage(CMD, "--witness %s and --witness %s are the same witness (one key): name each once",
                         c->witnesses[j].url, w->url);
    cdr_hex_encode(fp, w->key_sha256, 32);
    fprintf(stderr, "witness %s: key sha256 %s (confirm it with the witness's operator)\n", w->url, fp);
  }
  if (c->n_witnesses > 1) /* qsort wants a base, even for nothing to sort */
    qsort(c->witnesses, c->n_witnesses, sizeof(*c->witnesses), witness_cmp);
  if (o->witness_faults >= 0)
    c->witness_faults = (unsigned)o->witness_faults;
  if (c->witness_faults > 0 && c->n_witnesses < 3u * (size_t)c->witness_faults + 1u)
    return cli_usage(CMD,
                     "--witness-faults %u needs at least %u witnesses (n >= 3f + 1: any two quorums must share an "
                     "honest witness and a quorum must stay reachable with f gone), and %zu are named",
                     c->witness_faults, 3u * c->witness_faults + 1u, c->n_witnesses);
  if (c->n_witnesses > 0)
    fprintf(stderr, "witnesses: %zu, tolerating %u faulty, quorum %zu\n", c->n_witnesses, c->witness_faults,
            (c->n_witnesses + c->witness_faults + 2) / 2);
  return 0;
}

static int draft(const char *dir, const struct propose_opts *o) {
  struct cdr_room *room = NULL;
  struct cdr_room_cert *certs = NULL;
  struct cdr_contract c;
  uint8_t *doc = NULL, h[32];
  size_t n = 0, len = 0;
  char why[CDR_CONTRACT_WHY_LEN] = "", hex[65], *path = NULL;
  int rc = 1, r;
  memset(&c, 0, sizeof(c));
  if ((r = cdr_room_open(dir, &room)) != 0)
    return cli_fail_err(CMD, r, "cannot open room %s", dir);
  if ((r = cdr_room_certs(room, &certs, &n)) != 0) {
    cli_fail_err(CMD, r, "cannot read the room's certificates");
    goto out;
  }
  if (n == 0) {
    cli_fail(CMD, "the room has issued no certificate that is not revoked: invite and enroll its members first");
    goto out;
  }
  if (cdr_contract_alloc(&c, n, 0) != 0) {
    cli_fail(CMD, "too many certificates for one contract (at most %u members)", CDR_CONTRACT_MAX_MEMBERS);
    goto out;
  }
  c.n_members = 0;
  if (fill_head(&c, o, room) != 0 || add_members(&c, o, certs, n) != 0 || add_witnesses(&c, o) != 0)
    goto out;
  if (cdr_contract_encode(&c, &doc, &len, why, sizeof(why)) != 0) {
    cli_fail(CMD, "the draft is not a valid contract: %s", why);
    goto out;
  }
  if (cdr_sha256(h, doc, len) != 0 || (path = cdr_path_join(room->dir, "proposal.json")) == NULL ||
      cdr_file_write(path, doc, len, 0644, 0) != 0) {
    cli_fail(CMD, "cannot write %s", path ? path : "ROOM/proposal.json");
    goto out;
  }
  cdr_hex_encode(hex, h, 32);
  fwrite(doc, 1, len, stdout);
  printf("\nversion %llu, %zu members, contract hash %s\n", (unsigned long long)c.version, c.n_members, hex);
  printf("written to %s; the running server hands it to the enclave.  Each member checks it with\n"
         "`cdr contract` and signs with `cdr contract sign %s`.\n", path, hex);
  rc = 0;
out:
  free(path);
  free(doc);
  /* c.n_members may be below what was allocated: free what alloc made. */
  cdr_contract_free(&c);
  cdr_room_certs_free(certs, n);
  cdr_room_free(room);
  return rc;
}

int cmd_room_propose(int argc, char **argv) {
  static const struct option opts[] = {{"measurement", required_argument, NULL, 'm'},
                                       {"previous", required_argument, NULL, 'P'},
                                       {"exclude", required_argument, NULL, 'x'},
                                       {"platform", required_argument, NULL, 'p'},
                                       {"witness", required_argument, NULL, 'w'},
                                       {"witness-faults", required_argument, NULL, 'f'},
                                       {"witness-ca", required_argument, NULL, 'C'},
                                       {"no-witnesses", no_argument, NULL, 'N'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct propose_opts o;
  int ch;
  memset(&o, 0, sizeof(o));
  o.witness_faults = -1;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "m:P:x:p:w:f:C:Nh", opts, NULL)) != -1) {
    switch (ch) {
    case 'h': help(); return 0;
    case 'm':
      if (o.n_measurements >= CDR_CONTRACT_MAX_MEASUREMENTS)
        return cli_usage(CMD, "at most %u measurements", CDR_CONTRACT_MAX_MEASUREMENTS);
      o.measurements[o.n_measurements++] = optarg;
      break;
    case 'P': o.previous = optarg; break;
    case 'x':
      if (o.n_exclude >= MAX_EXCLUDES)
        return cli_usage(CMD, "at most %d --exclude", MAX_EXCLUDES);
      o.exclude[o.n_exclude++] = optarg;
      break;
    case 'p': o.platform = optarg; break;
    case 'w':
      if (o.n_witnesses >= CDR_CONTRACT_MAX_WITNESSES)
        return cli_usage(CMD, "at most %u --witness", CDR_CONTRACT_MAX_WITNESSES);
      o.witnesses[o.n_witnesses++] = optarg;
      break;
    case 'f': {
      char *end = NULL;
      unsigned long v = strtoul(optarg, &end, 10);
      if (optarg[0] < '0' || optarg[0] > '9' || end == NULL || *end != '\0' || v > CDR_CONTRACT_MAX_WITNESSES)
        return cli_usage(CMD, "--witness-faults %s: a number from 0 to %u", optarg, CDR_CONTRACT_MAX_WITNESSES);
      o.witness_faults = (long)v;
      break;
    }
    case 'C': o.witness_ca = optarg; break;
    case 'N': o.no_witnesses = 1; break;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected one ROOM folder");
  if (o.no_witnesses && o.n_witnesses > 0)
    return cli_usage(CMD, "--no-witnesses and --witness contradict each other");
  return draft(argv[optind], &o);
}
