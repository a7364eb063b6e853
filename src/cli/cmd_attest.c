/*
 * cmd_attest.c - `cdr attest`, in two modes.
 *
 * Online, `cdr attest [URL]`: verify a server's enclave the way every
 * other command does before its first request (fresh nonce, evidence,
 * report_data binding, optional measurement, RTMRs and PCRs; sim:
 * platform certificate under the room CA; snp, tdx, nitro: the hardware
 * verifiers below at the current time) and print what was attested, for
 * hardware with its registers and every check made.  It needs no user
 * key: anyone may check a room before enrolling.
 *
 * Offline, `cdr attest --evidence FILE --platform snp|tdx|nitro`: verify a
 * saved piece of hardware evidence (an SEV-SNP report, a TDX quote, a
 * Nitro attestation document; binary, hex or base64) with the verifiers
 * of src/attest/hwattest.h at a given time (--at, default now), against
 * the vendor roots pinned in the project and the certificates and
 * collateral the evidence does not carry (--certs, --collateral).  It
 * prints a summary (platform, measurement, report_data, TCB and status,
 * policy, each check made) even when a check fails, and exits 0 only when
 * the verifier accepted everything; a TCB status other than UpToDate
 * fails unless named in --accept-tcb.  Nothing is fetched from the
 * network in this mode.
 *
 * Both modes take --expect-rtmr N=HEX and --expect-pcr N=HEX (repeatable,
 * parsed by cli_connect_expect_reg into one list): cdr_verify_hw compares
 * them once the evidence is proven, and fails on a register the platform
 * does not have.
 */
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hwattest.h"
#include "cli.h"
#include "client/connect.h"
#include "client/render.h"
#include "common/util.h"
#include "crypto/x509.h"

static const char *const CMD = "attest";

/* Caps on what the offline mode reads besides the evidence. */
#define CERTS_FILE_MAX (1u << 20)
#define COLLATERAL_FILE_MAX (4u << 20)

static void help(void) {
  printf("Usage: cdr attest [URL] [--expect-measurement HEX] [--expect-rtmr N=HEX]...\n"
         "                  [--expect-pcr N=HEX]... [--allow-sim] [--ca FILE]\n"
         "                  [--profile NAME] [--collateral FILE] [--accept-tcb STATUS[,STATUS]]\n"
         "                  [--snp-min-tcb SPEC]\n"
         "       cdr attest --evidence FILE --platform snp|tdx|nitro [--certs PEM-BUNDLE]\n"
         "                  [--collateral FILE] [--at RFC3339-TIME] [--expect-measurement HEX]\n"
         "                  [--expect-rtmr N=HEX]... [--expect-pcr N=HEX]...\n"
         "                  [--expect-report-data HEX] [--accept-tcb STATUS[,STATUS]]\n"
         "                  [--snp-min-tcb SPEC] [--allow-debug]\n\n"
         "Online (the first form): ask the server's enclave for attestation evidence\n"
         "bound to a fresh random nonce, verify it, and print the platform, the enclave\n"
         "measurement, the enclave identity key fingerprint (SHA-256 of its DER\n"
         "SubjectPublicKeyInfo), the room id and the active room contract (version and\n"
         "hash) that the evidence binds; for hardware (snp, tdx, nitro) also\n"
         "the registers (TDX: RTMR0-3; Nitro: the non-zero PCRs), the TCB, the policy\n"
         "and every check the verifier made, at the current time.\n"
         "Every other command that connects verifies the same way.\n\n"
         "The evidence must chain to the room CA.  Which CA: --ca FILE; else the CA of\n"
         "the profile whose URL is URL (or of --profile, or of the default profile when\n"
         "no URL is given); else the CA the server itself offers (GET /v1/room), which\n"
         "is then NOT pinned (trust on first use): compare its fingerprint with the\n"
         "one your room administrator printed at `cdr room init`.\n\n"
         "Offline (--evidence): verify a saved AMD SEV-SNP attestation report, Intel\n"
         "TDX quote or AWS Nitro attestation document (raw binary, hex or base64;\n"
         "detected) against the vendor roots pinned in cdr, without any network\n"
         "access, and print the platform, the measurement (Nitro: the non-zero PCRs;\n"
         "TDX: MRTD and RTMR0-3), report_data, the TCB and its status, the policy and\n"
         "every check made.  Exit status 0 only when every check passed.\n\n"
         "Options (online):\n"
         "  -m, --expect-measurement HEX  require this enclave measurement: 64 hex\n"
         "                                digits for sim (SHA-256 of cdr-enclave), 96\n"
         "                                for snp (MEASUREMENT), tdx (MRTD), nitro (PCR0);\n"
         "                                docs/ATTESTATION.md says how to compute it\n"
         "      --expect-rtmr N=HEX       tdx: require RTMR N (0-3) to be HEX (96 hex\n"
         "                                digits); repeatable\n"
         "      --expect-pcr N=HEX        nitro: require PCR N (0-31) to be HEX (96 hex\n"
         "                                digits); repeatable.  Either, for a register\n"
         "                                the platform does not have (sim, snp, a PCR on\n"
         "                                tdx, an RTMR on nitro), fails attestation\n"
         "      --collateral FILE         tdx: Intel's collateral (TCB info, QE identity;\n"
         "                                default: $CDR_TDX_COLLATERAL)\n"
         "      --accept-tcb LIST         accept these TCB statuses besides UpToDate\n"
         "                                (default: $CDR_ACCEPT_TCB)\n"
         "      --snp-min-tcb SPEC        snp: require the reported TCB to be at least\n"
         "                                SPEC, e.g. bootloader=4,snp=22,microcode=213\n"
         "                                (default: $CDR_SNP_MIN_TCB)\n"
         "  -s, --allow-sim               accept simulated attestation (sim), which is\n"
         "                                not hardware-backed and proves nothing against\n"
         "                                the server operator\n"
         "  -c, --ca FILE                 the room CA certificate (PEM) to verify against\n"
         "      --cacert FILE             TLS trusts this CA file instead of the room CA\n"
         "  -p, --profile NAME            use this profile's URL and CA\n"
         "  -f, --format table|csv|json   output format of what was verified (default\n"
         "                                table, also called text; csv: field,value\n"
         "                                rows; json: one object).  Online only: the\n"
         "                                --evidence summary is a table\n"
         "  -h, --help                    show this help\n\n"
         "Options (offline):\n"
         "      --evidence FILE           the evidence to verify\n"
         "      --platform P              snp, tdx or nitro\n"
         "      --certs FILE              one PEM file with the certificates the evidence\n"
         "                                does not carry (SEV-SNP: the chip's VCEK, and\n"
         "                                the ASK if it is not pinned); never roots\n"
         "      --collateral FILE         TDX: the collateral JSON (TCB info, QE identity)\n"
         "      --at TIME                 verify as of this RFC 3339 time, e.g.\n"
         "                                2026-01-01T00:00:00Z (default: now)\n"
         "  -m, --expect-measurement HEX  require this measurement (96 hex digits; SNP:\n"
         "                                MEASUREMENT, TDX: MRTD, Nitro: PCR0)\n"
         "      --expect-rtmr N=HEX       TDX: require RTMR N (0-3); repeatable\n"
         "      --expect-pcr N=HEX        Nitro: require PCR N (0-31), which the document\n"
         "                                must carry; repeatable\n"
         "      --expect-report-data HEX  require this report_data (128 hex digits)\n"
         "      --accept-tcb LIST         accept these TCB statuses besides UpToDate,\n"
         "                                comma-separated, e.g. SWHardeningNeeded\n"
         "      --snp-min-tcb SPEC        SEV-SNP minimum reported TCB, e.g.\n"
         "                                bootloader=4,tee=0,snp=27,microcode=222\n"
         "      --allow-debug             accept a guest whose policy allows debugging\n\n"
         "Environment:\n"
         "  CDR_ALLOW_SIM   1 has the effect of --allow-sim\n"
         "  CDR_TDX_COLLATERAL, CDR_ACCEPT_TCB, CDR_SNP_MIN_TCB  --collateral,\n"
         "                  --accept-tcb and --snp-min-tcb for every command that\n"
         "                  connects to a room\n"
         "  CDR_CONFIG_DIR  where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                  else ~/.config/cdr)\n");
}

enum {
  OPT_EVIDENCE = 256,
  OPT_PLATFORM,
  OPT_CERTS,
  OPT_COLLATERAL,
  OPT_AT,
  OPT_EXPECT_REPORT_DATA,
  OPT_ACCEPT_TCB,
  OPT_SNP_MIN_TCB,
  OPT_ALLOW_DEBUG,
  OPT_FORMAT = 'f',
};

struct offline_opts {
  const char *evidence, *platform, *certs, *collateral, *at, *expect_measurement, *expect_report_data;
  const char *accept_tcb, *snp_min_tcb;
  int allow_debug;
  const struct cdr_hw_expect *expect_regs; /* --expect-rtmr / --expect-pcr, shared with online */
};

/* Every certificate of a PEM file, in order (at least one). */
static int read_cert_bundle(const char *path, STACK_OF(X509) **out) {
  uint8_t *pem = NULL;
  size_t len = 0;
  BIO *bio = NULL;
  STACK_OF(X509) *sk = NULL;
  X509 *x;
  int r;

  *out = NULL;
  ERR_clear_error();
  if ((r = cdr_file_read(path, &pem, &len, CERTS_FILE_MAX)) != 0)
    return cli_fail_err(CMD, r, "cannot read --certs %s", path);
  r = 1;
  if (len > (size_t)INT32_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
      (sk = sk_X509_new_null()) == NULL) {
    cli_fail(CMD, "out of memory");
    goto out;
  }
  while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (!sk_X509_push(sk, x)) {
      X509_free(x);
      cli_fail(CMD, "out of memory");
      goto out;
    }
  }
  /* The loop ends at the end of the file (no further PEM block) or at a
   * block that does not parse; only the first is acceptable. */
  if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
    r = cli_fail_code(CMD, CDR_ERR_IO, "--certs %s: certificate %d does not parse", path, sk_X509_num(sk) + 1);
    goto out;
  }
  if (sk_X509_num(sk) == 0) {
    r = cli_fail_code(CMD, CDR_ERR_IO, "--certs %s: no PEM certificate in the file", path);
    goto out;
  }
  *out = sk;
  sk = NULL;
  r = 0;
out:
  ERR_clear_error();
  sk_X509_pop_free(sk, X509_free);
  BIO_free(bio);
  free(pem);
  return r;
}

/* Are the n bytes at p all zero? */
static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

/* TDX: RTMR0-3; Nitro: the non-zero PCRs and how many there are. */
static void print_registers(const struct cdr_hw_report *rep) {
  char hex[97];
  if (rep->platform == CDR_HW_TDX) {
    for (int i = 0; i < 4; i++) {
      cdr_hex_encode(hex, rep->rtmr[i], 48);
      printf("RTMR%d:        %s\n", i, hex);
    }
  } else if (rep->platform == CDR_HW_NITRO && rep->npcrs > 0) {
    size_t shown = 0;
    for (size_t i = 0; i < rep->npcrs && i < CDR_HW_MAX_PCRS; i++) {
      if (all_zero(rep->pcr[i], 48))
        continue;
      cdr_hex_encode(hex, rep->pcr[i], 48);
      printf("PCR%-2zu         %s\n", i, hex);
      shown++;
    }
    printf("              (%zu PCRs, %zu non-zero shown)\n", rep->npcrs, shown);
  }
}

static void print_summary(const struct cdr_hw_report *rep, const char *platform_name, const char *evidence,
                          const char *format, size_t len, int64_t at, int measurement_checked,
                          int report_data_checked) {
  char hex[129], when[32];

  cdr_time_format(when, sizeof(when), at);
  printf("platform:     %s\n", platform_name);
  printf("evidence:     %s (%s, %zu bytes)\n", evidence, format, len);
  printf("verified at:  %s\n", when);
  if (rep->platform == CDR_HW_TDX) {
    cdr_hex_encode(hex, rep->measurement, rep->measurement_len <= 48 ? rep->measurement_len : 48);
    printf("MRTD:         %s\n", hex);
    print_registers(rep);
  } else if (rep->platform == CDR_HW_NITRO && rep->npcrs > 0) {
    print_registers(rep);
  } else if (rep->measurement_len > 0) {
    cdr_hex_encode(hex, rep->measurement, rep->measurement_len <= 48 ? rep->measurement_len : 48);
    printf("measurement:  %s\n", hex);
  }
  if (rep->measurement_len > 0 && !measurement_checked)
    printf("              (not compared: no --expect-measurement)\n");
  if (rep->has_report_data) {
    cdr_hex_encode(hex, rep->report_data, 64);
    printf("%s  %s\n", rep->platform == CDR_HW_NITRO ? "user_data:  " : "report_data:", hex);
    if (!report_data_checked)
      printf("              (not compared: no --expect-report-data)\n");
  }
  if (rep->nitro_nonce_len > 0) {
    cdr_hex_encode(hex, rep->nitro_nonce, rep->nitro_nonce_len <= 64 ? rep->nitro_nonce_len : 64);
    printf("nonce:        %s\n", hex);
  }
  printf("TCB:          %s\n", rep->tcb[0] ? rep->tcb : "(none reported)");
  printf("TCB status:   %s\n",
         rep->tcb_status[0] ? rep->tcb_status
                            : (rep->platform == CDR_HW_SNP ? "none (SEV-SNP has no TCB status; see --snp-min-tcb)"
                                                           : "(none)"));
  printf("policy:       %s\n", rep->policy[0] ? rep->policy : "(none)");
  printf("debug:        %s\n", rep->debug ? "ENABLED" : "disabled");
  printf("checks:\n");
  for (size_t i = 0; i < rep->nchecks && i < CDR_HW_MAX_CHECKS; i++)
    printf("  [%s] %s: %s\n", rep->checks[i].ok ? "ok" : "FAIL", rep->checks[i].name, rep->checks[i].detail);
}

static int attest_offline(const struct offline_opts *o) {
  struct cdr_hw_policy policy;
  struct cdr_hw_report *rep = NULL;
  uint8_t measurement[48], report_data[64], *evidence = NULL, *collateral = NULL;
  size_t evidence_len = 0, collateral_len = 0;
  const char *format = "binary", *platform_name;
  enum cdr_hw_platform platform;
  int r, rc = 1;

  memset(&policy, 0, sizeof(policy));
  /* Options first: usage errors before any file is read. */
  if (o->platform == NULL)
    return cli_usage(CMD, "--evidence needs --platform snp, tdx or nitro");
  if (strcmp(o->platform, "snp") == 0) {
    platform = CDR_HW_SNP;
    platform_name = "AMD SEV-SNP";
  } else if (strcmp(o->platform, "tdx") == 0) {
    platform = CDR_HW_TDX;
    platform_name = "Intel TDX";
  } else if (strcmp(o->platform, "nitro") == 0) {
    platform = CDR_HW_NITRO;
    platform_name = "AWS Nitro Enclaves";
  } else {
    return cli_usage(CMD, "--platform must be snp, tdx or nitro");
  }
  policy.at = cdr_now();
  if (o->at != NULL && cli_parse_rfc3339(o->at, &policy.at) != 0)
    return cli_usage(CMD, "--at must be an RFC 3339 time such as 2026-01-01T00:00:00Z");
  if (o->expect_measurement != NULL) {
    if (cdr_hex_decode(measurement, sizeof(measurement), o->expect_measurement) != 0)
      return cli_usage(CMD, "with --evidence, --expect-measurement must be 96 hex digits (48 bytes)");
    policy.expect_measurement = measurement;
    policy.expect_measurement_len = sizeof(measurement);
  }
  if (o->expect_report_data != NULL) {
    if (cdr_hex_decode(report_data, sizeof(report_data), o->expect_report_data) != 0)
      return cli_usage(CMD, "--expect-report-data must be 128 hex digits (64 bytes)");
    policy.expect_report_data = report_data;
  }
  if (o->snp_min_tcb != NULL) {
    if (platform != CDR_HW_SNP)
      return cli_usage(CMD, "--snp-min-tcb applies to --platform snp only");
    if (cdr_snp_min_tcb_parse(o->snp_min_tcb, policy.snp_min_tcb) != 0)
      return cli_usage(CMD, "--snp-min-tcb takes " CDR_SNP_MIN_TCB_FORM);
  }
  policy.allow_debug = o->allow_debug;
  policy.accept_tcb_statuses = o->accept_tcb;
  policy.expect_regs = o->expect_regs;

  if ((r = cli_read_evidence(o->evidence, &evidence, &evidence_len, &format)) != 0) {
    if (r == CDR_ERR_ARG)
      rc = cli_fail_code(CMD, CDR_ERR_IO, "%s is neither binary evidence nor hex nor base64", o->evidence);
    else
      rc = cli_fail_err(CMD, r, "cannot read --evidence %s", o->evidence);
    goto out;
  }
  if (o->certs != NULL && (r = read_cert_bundle(o->certs, &policy.certs)) != 0) {
    rc = r;
    goto out;
  }
  if (o->collateral != NULL) {
    if ((r = cdr_file_read(o->collateral, &collateral, &collateral_len, COLLATERAL_FILE_MAX)) != 0) {
      rc = cli_fail_err(CMD, r, "cannot read --collateral %s", o->collateral);
      goto out;
    }
    policy.collateral = collateral;
    policy.collateral_len = collateral_len;
  }
  if ((rep = calloc(1, sizeof(*rep))) == NULL) {
    cli_fail(CMD, "out of memory");
    goto out;
  }

  r = cdr_verify_hw(platform, evidence, evidence_len, &policy, rep);
  print_summary(rep, platform_name, o->evidence, format, evidence_len, policy.at, policy.expect_measurement != NULL,
                policy.expect_report_data != NULL);
  if (r != 0) {
    const struct cdr_hw_check *failed = NULL;
    for (size_t i = 0; i < rep->nchecks && i < CDR_HW_MAX_CHECKS; i++)
      if (!rep->checks[i].ok)
        failed = &rep->checks[i];
    printf("result:       FAILED\n");
    if (failed != NULL)
      rc = cli_fail_code(CMD, r, "%s: %s (%s: %s)", cdr_err_code(r), cdr_err_describe(r), failed->name,
                         failed->detail);
    else
      rc = cli_fail_code(CMD, r, "%s: %s", cdr_err_code(r), cdr_err_describe(r));
    goto out;
  }
  printf("result:       attestation verified\n");
  rc = 0;
out:
  free(rep);
  free(evidence);
  free(collateral);
  sk_X509_pop_free(policy.certs, X509_free);
  return rc;
}

/* What the online mode verified, as one JSON object or field,value CSV
 * rows (--format json|csv).  0, or the exit status. */
static int print_structured(const struct cdr_connection *k, enum cli_format format, const char *meas,
                            const char *idfp, const char *rid, const char *cafp, const char *when) {
  const struct cdr_hw_report *rep = k->att.hw;
  json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "verified", 1, "platform", k->att.platform,
                        "measurement", meas, "identity_key", idfp, "room_id", rid, "room_ca", cafp, "ca_source",
                        k->ca_source, "ca_pinned", k->ca_pinned),
         *res = NULL, *v;
  const char *key;
  int r = 0;
  if (o != NULL) {
    char ch[65];
    cdr_hex_encode(ch, k->att.contract_sha256, sizeof(k->att.contract_sha256));
    r |= json_object_set_new(o, "contract_sha256", json_string(ch));
    r |= json_object_set_new(o, "contract_version", json_integer((json_int_t)k->att.contract_version));
  }
  if (o != NULL && rep == NULL)
    r |= json_object_set_new(o, "evidence_time", json_string(when));
  if (o != NULL && rep != NULL) {
    json_t *checks = json_array();
    r |= json_object_set_new(o, "tcb", json_string(rep->tcb)) | json_object_set_new(o, "policy", json_string(rep->policy));
    if (rep->tcb_status[0])
      r |= json_object_set_new(o, "tcb_status", json_string(rep->tcb_status));
    for (size_t i = 0; checks != NULL && i < rep->nchecks && i < CDR_HW_MAX_CHECKS; i++)
      r |= json_array_append_new(checks, json_pack("{s:s,s:b,s:s}", "name", rep->checks[i].name, "ok",
                                                   rep->checks[i].ok, "detail", rep->checks[i].detail));
    r |= json_object_set_new(o, "checks", checks != NULL ? checks : json_null());
  }
  if (o == NULL || r != 0) {
    json_decref(o);
    return cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
  }
  if (format == CLI_FORMAT_JSON) {
    r = cdr_render_json_value(stdout, o, JSON_ENSURE_ASCII);
  } else if ((res = json_pack("{s:[s,s], s:[]}", "columns", "field", "value", "rows")) == NULL) {
    r = CDR_ERR_NOMEM;
  } else {
    json_object_foreach(o, key, v) {
      if (json_is_array(v)) { /* the checks: one row each, "check:NAME", "ok: detail" */
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
          char f[128], d[512];
          snprintf(f, sizeof(f), "check:%s", json_string_value(json_object_get(c, "name")));
          snprintf(d, sizeof(d), "%s: %s", json_is_true(json_object_get(c, "ok")) ? "ok" : "FAIL",
                   json_string_value(json_object_get(c, "detail")));
          r |= json_array_append_new(json_object_get(res, "rows"), json_pack("[s,s]", f, d));
        }
      } else {
        r |= json_array_append_new(json_object_get(res, "rows"),
                                   json_pack("[s,s]", key, json_is_string(v) ? json_string_value(v)
                                                          : json_is_true(v)  ? "true"
                                                                             : "false"));
      }
    }
    if (r == 0)
      r = cdr_render_csv(stdout, res);
  }
  json_decref(res);
  json_decref(o);
  if (r != 0 || fflush(stdout) != 0)
    return cli_fail_code(CMD, CDR_ERR_IO, "cannot write the result");
  return 0;
}

int cmd_attest(int argc, char **argv) {
  static const struct option opts[] = {{"expect-measurement", required_argument, NULL, 'm'},
                                       {"allow-sim", no_argument, NULL, 's'},
                                       {"ca", required_argument, NULL, 'c'},
                                       {"cacert", required_argument, NULL, CLI_OPT_CACERT},
                                       {"profile", required_argument, NULL, 'p'},
                                       {"evidence", required_argument, NULL, OPT_EVIDENCE},
                                       {"platform", required_argument, NULL, OPT_PLATFORM},
                                       {"certs", required_argument, NULL, OPT_CERTS},
                                       {"collateral", required_argument, NULL, OPT_COLLATERAL},
                                       {"at", required_argument, NULL, OPT_AT},
                                       {"expect-report-data", required_argument, NULL, OPT_EXPECT_REPORT_DATA},
                                       {"accept-tcb", required_argument, NULL, OPT_ACCEPT_TCB},
                                       {"snp-min-tcb", required_argument, NULL, OPT_SNP_MIN_TCB},
                                       {"allow-debug", no_argument, NULL, OPT_ALLOW_DEBUG},
                                       {"format", required_argument, NULL, OPT_FORMAT},
                                       {"expect-rtmr", required_argument, NULL, CLI_OPT_EXPECT_RTMR},
                                       {"expect-pcr", required_argument, NULL, CLI_OPT_EXPECT_PCR},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct offline_opts off;
  struct cdr_connection k;
  char why[1024], meas[2 * CDR_MEASUREMENT_MAX + 1], idfp[65], rid[33], cafp[96], when[32];
  int ch, r, allow_sim = 0, offline_only = 0, rc = 1;
  enum cli_format format = CLI_FORMAT_TABLE;

  memset(&o, 0, sizeof(o));
  memset(&off, 0, sizeof(off));
  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "m:sc:p:f:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'm': o.expect_measurement = off.expect_measurement = optarg; break;
    case 's': allow_sim = 1; break;
    case 'c': o.ca = optarg; break;
    case CLI_OPT_CACERT: o.tls_cacert = optarg; break;
    case 'p': o.profile = optarg; break;
    case OPT_EVIDENCE: off.evidence = optarg; break;
    case OPT_PLATFORM: off.platform = optarg; offline_only = 1; break;
    case OPT_CERTS: off.certs = optarg; offline_only = 1; break;
    case OPT_COLLATERAL: off.collateral = o.tdx_collateral = optarg; break;
    case OPT_AT: off.at = optarg; offline_only = 1; break;
    case OPT_EXPECT_REPORT_DATA: off.expect_report_data = optarg; offline_only = 1; break;
    case OPT_ACCEPT_TCB: off.accept_tcb = o.accept_tcb = optarg; break;
    case OPT_SNP_MIN_TCB: off.snp_min_tcb = o.snp_min_tcb = optarg; break;
    case OPT_ALLOW_DEBUG: off.allow_debug = 1; offline_only = 1; break;
    case CLI_OPT_EXPECT_RTMR:
    case CLI_OPT_EXPECT_PCR:
      if (cli_connect_expect_reg(&o, ch, optarg) != 0)
        return cli_usage(CMD, "%s", o.expect_regs_error);
      break;
    case OPT_FORMAT:
      if ((r = cli_format_parse(CMD, optarg, &format)) != 0)
        return r;
      break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }

  if (off.evidence != NULL && format != CLI_FORMAT_TABLE)
    return cli_usage(CMD, "--format: the --evidence summary is a table only");
  if (off.evidence != NULL) {
    if (argc - optind > 0)
      return cli_usage(CMD, "--evidence takes no URL: it verifies the file offline");
    if (o.ca != NULL || o.profile != NULL || allow_sim)
      return cli_usage(CMD, "--ca, --profile and --allow-sim are for the online mode, not --evidence");
    off.expect_regs = &o.expect_regs;
    return attest_offline(&off);
  }
  if (offline_only)
    return cli_usage(CMD, "--platform and the other offline options need --evidence FILE");

  if (argc - optind > 1)
    return cli_usage(CMD, "expected at most one URL");
  if (argc - optind == 1) {
    o.url = argv[optind];
    if (!cdr_is_url(o.url))
      return cli_usage(CMD, "the URL must start with http:// or https://");
  }
  if (o.expect_measurement != NULL && strlen(o.expect_measurement) != 64 && strlen(o.expect_measurement) != 96)
    return cli_usage(CMD, "--expect-measurement must be 64 hex digits (sim) or 96 (snp, tdx, nitro)");
  if ((ch = cli_connect_check_min_tcb(CMD, &o)) != 0)
    return ch;
  o.allow_sim = cli_allow_sim(allow_sim);
  o.need_user = 0;
  o.open_session = 0;

  if ((r = cdr_connect(&k, &o, why, sizeof(why))) != 0) {
    rc = cli_fail_client(CMD, k.client, r, "%s", why);
    goto out;
  }
  cdr_hex_encode(meas, k.att.measurement, k.att.measurement_len);
  cdr_hex_encode(idfp, k.att.identity_fp, sizeof(k.att.identity_fp));
  cdr_hex_encode(rid, k.client->room_id, sizeof(k.client->room_id));
  cdr_fingerprint_format(cafp, k.client->ca_fp);
  cdr_time_format(when, sizeof(when), (int64_t)k.att.timestamp);
  if (format != CLI_FORMAT_TABLE) {
    rc = print_structured(&k, format, meas, idfp, rid, cafp, when);
    goto out;
  }
  printf("attestation verified\n");
  printf("platform:     %s%s\n", k.att.platform,
         strcmp(k.att.platform, "sim") == 0 ? " (simulated: not hardware-backed)" : "");
  printf("measurement:  %s%s\n", meas, o.expect_measurement ? " (as expected)" : "");
  printf("identity key: %s\n", idfp);
  printf("room id:      %s\n", rid);
  printf("room CA:      %s\n", cafp);
  printf("              %s\n", k.ca_source);
  if (k.att.contract_version == 0) {
    printf("contract:     none active yet (report_data binds 64 zeros)\n");
  } else {
    char chash[65];
    cdr_hex_encode(chash, k.att.contract_sha256, sizeof(k.att.contract_sha256));
    printf("contract:     version %llu, %s\n", (unsigned long long)k.att.contract_version, chash);
  }
  if (k.att.hw != NULL) {
    const struct cdr_hw_report *rep = k.att.hw;
    print_registers(rep);
    printf("TCB:          %s\n", rep->tcb[0] ? rep->tcb : "(none reported)");
    if (rep->tcb_status[0])
      printf("TCB status:   %s\n", rep->tcb_status);
    printf("policy:       %s\n", rep->policy[0] ? rep->policy : "(none)");
    printf("checks:\n");
    for (size_t i = 0; i < rep->nchecks && i < CDR_HW_MAX_CHECKS; i++)
      printf("  [%s] %s: %s\n", rep->checks[i].ok ? "ok" : "FAIL", rep->checks[i].name, rep->checks[i].detail);
  } else {
    printf("evidence at:  %s\n", when);
  }
  if (!k.ca_pinned)
    printf("warning: the room CA was not pinned (trust on first use); verify its fingerprint\n"
           "         with your room administrator\n");
  rc = 0;
out:
  cdr_connection_close(&k);
  return rc;
}
