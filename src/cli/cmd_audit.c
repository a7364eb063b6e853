/*
 * cmd_audit.c - `cdr audit [verify] [URL --key K --cert C] [--verify]
 * [--since TIME] [--from N] [--format table|csv|json]
 * [--witness-ca FILE]`: read the room's audit log, checking its chain
 * against the enclave's signed head as it goes; --verify also checks
 * every user signature the entries carry, asks the room's witnesses what
 * they hold (client/witness_check.h) and prints what was verified.  Every string in an entry comes from room
 * members or the enclave and is sanitised before printing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/audit.h"
#include "client/connect.h"
#include "client/render.h"
#include "client/witness_check.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"

static const char *const CMD = "audit";

static void help(void) {
  printf("Usage: cdr audit [verify] [URL --key KEY --cert CERT] [--verify] [--since TIME]\n"
         "                 [--from N] [--format table|csv|json] [--witness-ca FILE]\n"
         "                 [options]\n\n"
         "Read the room's audit log: one entry for every decision the enclave made\n"
         "(sessions opened or refused, queries with the SHA-256 of their SQL, uploads,\n"
         "grants, hidden columns, drops, revocation lists, starts), each with its time,\n"
         "who asked, the decision and its reason.  Auditors see every entry; other\n"
         "members see their own, those about tables they own, and the room's own.\n\n"
         "The entries are hash-chained and the enclave signs the chain's head: the log\n"
         "shown is checked against that head, so an entry the server edited, removed,\n"
         "reordered or cut off makes the command fail (exit 5, verification failed).\n\n"
         "Options:\n"
         "  -V, --verify            also check the user's own signature in every entry\n"
         "                          you can see (over the session open, with the\n"
         "                          certificate checked against the room CA, or over the\n"
         "                          request) and print what was verified; `cdr audit\n"
         "                          verify` is the same.  It also asks each witness the\n"
         "                          active contract names, directly, for the latest head\n"
         "                          it holds of this room (over a fresh nonce), checks\n"
         "                          the witness's signature and the enclave's on that\n"
         "                          head, and that the head is in the log just verified;\n"
         "                          it prints which witnesses confirmed the history up\n"
         "                          to which entry and whether a quorum did.  A witness\n"
         "                          holding a head beyond the log or forking it fails\n"
         "                          the command (history_rollback, exit 5); a witness\n"
         "                          that is down or answers wrongly is listed and not\n"
         "                          counted, and fewer than a quorum of answers fails it\n"
         "                          (witness_unavailable, exit 3).  A contract without\n"
         "                          witnesses: \"history not witnessed\" (the operator\n"
         "                          can roll back activity since the last commit)\n"
         "      --witness-ca FILE   with --verify: the witnesses' TLS certificates chain\n"
         "                          to the CAs in FILE (default: CURL_CA_BUNDLE,\n"
         "                          SSL_CERT_FILE or the system store)\n"
         "  -S, --since TIME        only entries from TIME on: RFC 3339\n"
         "                          (2026-11-24T10:00:00Z) or a duration ago (90m, 24h, 7d);\n"
         "                          the chain is then checked from there to the head\n"
         "  -F, --from N            start at entry N (0 is the first)\n"
         "  -f, --format table|csv|json\n"
         "                          output format: table (default; also called text),\n"
         "                          one line per entry; csv, the columns index, time, op,\n"
         "                          decision, reason, subject, role, serial, tables,\n"
         "                          sql_sha256; json, one entry object per line, as the\n"
         "                          enclave wrote it\n\n");
  cli_connect_help();
}

struct show {
  enum cli_format format;
  json_t *csv; /* CSV: the result-shaped object the entries are added to */
};

static void print_text(uint64_t index, json_t *e) {
  char when[32], s[512];
  json_t *tables = json_object_get(e, "tables"), *t, *v;
  const char *keys[] = {"to", "column", "upload", "rows", "chunk", "bytes", "replaced", "crl_number", "revoked",
                        "sessions_ended", "manifest_version", "tables_loading", "tables_loaded", "tables_unavailable", "platform",
                        "from", "analyst", "epsilon", "delta", "epsilon_spent", "epsilon_left"};
  size_t i;
  cdr_time_format(when, sizeof(when), (int64_t)json_integer_value(json_object_get(e, "time")));
  cdr_sanitize(s, sizeof(s), json_string_value(json_object_get(e, "op")) ?: "?");
  printf("%-6llu %s  %-14s", (unsigned long long)index, when, s);
  const char *decision = json_string_value(json_object_get(e, "decision"));
  const char *reason = json_string_value(json_object_get(e, "reason"));
  cdr_sanitize(s, sizeof(s), reason ? reason : decision ? decision : "?");
  printf(" %-s%s", decision && strcmp(decision, "ok") == 0 ? "" : "refused: ", s);
  if (json_string_value(json_object_get(e, "subject")) != NULL) {
    cdr_sanitize(s, sizeof(s), json_string_value(json_object_get(e, "subject")));
    printf("  by %s", s);
    if (json_string_value(json_object_get(e, "role")) != NULL) {
      cdr_sanitize(s, sizeof(s), json_string_value(json_object_get(e, "role")));
      printf(" (%s", s);
      cdr_sanitize(s, sizeof(s), json_string_value(json_object_get(e, "serial")) ?: "?");
      printf(", serial %s)", s);
    }
  }
  json_array_foreach(tables, i, t) {
    cdr_sanitize(s, sizeof(s), json_string_value(json_object_get(t, "name")) ?: "?");
    printf("%s%s", i == 0 ? "  table " : ", ", s);
    if (json_string_value(json_object_get(t, "owner")) != NULL) {
      cdr_sanitize(s, sizeof(s), json_string_value(json_object_get(t, "owner")));
      printf(" (owner %s)", s);
    }
  }
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    if ((v = json_object_get(e, keys[i])) == NULL)
      continue;
    if (json_is_string(v))
      cdr_sanitize(s, sizeof(s), json_string_value(v));
    else if (json_is_integer(v))
      snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
      snprintf(s, sizeof(s), "%s", json_is_true(v) ? "yes" : "no");
    else
      continue;
    printf("  %s %s", keys[i], s);
  }
  if ((v = json_object_get(e, "sql_sha256")) != NULL && json_is_string(v)) {
    cdr_sanitize(s, sizeof(s), json_string_value(v));
    printf("  sql sha256 %s", s);
  }
  printf("\n");
}

/* One CSV row (help) added to sh->csv. */
static int add_csv(struct show *sh, uint64_t index, json_t *e) {
  char when[32];
  json_t *row, *t;
  size_t i;
  char *names = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&names, &len);
  if (m == NULL)
    return CDR_ERR_NOMEM;
  json_array_foreach(json_object_get(e, "tables"), i, t)
    fprintf(m, "%s%s", i == 0 ? "" : " ", json_string_value(json_object_get(t, "name")) ?: "?");
  fclose(m);
  cdr_time_format(when, sizeof(when), (int64_t)json_integer_value(json_object_get(e, "time")));
  row = json_pack("[I,s,s?,s?,s?,s?,s?,s?,s?,s?]", (json_int_t)index, when,
                  json_string_value(json_object_get(e, "op")), json_string_value(json_object_get(e, "decision")),
                  json_string_value(json_object_get(e, "reason")), json_string_value(json_object_get(e, "subject")),
                  json_string_value(json_object_get(e, "role")), json_string_value(json_object_get(e, "serial")),
                  names != NULL && names[0] != '\0' ? names : NULL, json_string_value(json_object_get(e, "sql_sha256")));
  free(names);
  if (row == NULL || json_array_append_new(json_object_get(sh->csv, "rows"), row) != 0)
    return CDR_ERR_NOMEM;
  return 0;
}

static int show_entry(void *ud, uint64_t index, json_t *e) {
  struct show *sh = ud;
  if (sh->format == CLI_FORMAT_JSON) {
    if (cdr_render_json_value(stdout, e, 0) != 0)
      return CDR_ERR_IO;
  } else if (sh->format == CLI_FORMAT_CSV) {
    return add_csv(sh, index, e);
  } else {
    print_text(index, e);
  }
  return 0;
}

/* ---- the witnesses (--verify; client/witness_check.h) ---- */

/* The active contract the attestation binds: its document must hash to
 * the hash in the evidence (the pins already checked that it follows the
 * profile's).  0 with *ct zeroed when no version is active. */
static int active_contract(struct cdr_connection *k, struct cdr_contract *ct) {
  json_t *res = NULL, *a;
  const char *doc;
  size_t len;
  uint8_t got[32];
  char why[CDR_CONTRACT_WHY_LEN];
  int r;
  memset(ct, 0, sizeof(*ct));
  if (k->att.contract_version == 0)
    return 0;
  if ((r = cdr_client_contract(k->client, k->session, 0, &res)) != 0)
    return cli_fail_client(CMD, k->client, r, NULL);
  a = json_object_get(res, "active");
  if (cdr_json_get_str(a, "document", CDR_CONTRACT_MAX_BYTES, &doc, &len) != 0 || cdr_sha256(got, doc, len) != 0 ||
      memcmp(got, k->att.contract_sha256, 32) != 0) {
    json_decref(res);
    return cli_fail_code(CMD, CDR_ERR_CONTRACT_UNPINNED,
                         "the active contract the enclave shows is not the one its attestation binds");
  }
  r = cdr_contract_parse((const uint8_t *)doc, len, ct, why, sizeof(why));
  json_decref(res);
  return r == 0 ? 0 : cli_fail_code(CMD, r, "the active contract does not parse: %s", why);
}

struct log_heads {
  struct cdr_audit_probe probes[CDR_CONTRACT_MAX_WITNESSES];
  size_t n;
  const struct cdr_audit_result *res;
};

/* head(size) as the verified read recorded it: 1, or 0 if it did not. */
static int log_head_at(void *ctx, uint64_t size, uint8_t out[CDR_WITNESS_HASH_LEN]) {
  const struct log_heads *lh = ctx;
  if (size == lh->res->size) {
    memcpy(out, lh->res->head, CDR_WITNESS_HASH_LEN);
    return 1;
  }
  for (size_t i = 0; i < lh->n; i++)
    if (lh->probes[i].found && lh->probes[i].size == size) {
      memcpy(out, lh->probes[i].head, CDR_WITNESS_HASH_LEN);
      return 1;
    }
  return 0;
}

/* One line per witness, on stderr beside the verification line. */
static void witness_lines(const struct cdr_witness_round *wr) {
  for (size_t i = 0; i < wr->n; i++) {
    const struct cdr_witness_report *w = &wr->w[i];
    char url[2 * CDR_CONTRACT_MAX_URL + 1], fp[65], head[65];
    uint64_t size = w->answer.head.size;
    cdr_sanitize(url, sizeof(url), w->url);
    cdr_hex_encode(fp, w->key_sha256, 32);
    cdr_hex_encode(head, w->answer.head.head, sizeof(w->answer.head.head));
    fprintf(stderr, "  %s (key %.16s...): ", url, fp);
    switch (w->status) {
    case CDR_WITNESS_UNREACHABLE: fprintf(stderr, "unreachable: %s\n", w->why); break;
    case CDR_WITNESS_REFUSED: fprintf(stderr, "answer refused: %s\n", w->why); break;
    case CDR_WITNESS_HOLDS_NOTHING: fprintf(stderr, "holds no head of this room\n"); break;
    case CDR_WITNESS_OTHER_IDENTITY:
      fprintf(stderr, "holds head size %llu signed by another enclave identity: not counted\n",
              (unsigned long long)size);
      break;
    case CDR_WITNESS_UNCHECKED:
      fprintf(stderr, "holds head size %llu, before the entries read (--from, --since): not checked\n",
              (unsigned long long)size);
      break;
    case CDR_WITNESS_CONFIRMED:
      if (size == 0)
        fprintf(stderr, "confirmed the empty log\n");
      else
        fprintf(stderr, "confirmed the history up to entry %llu (head %s)\n", (unsigned long long)(size - 1), head);
      break;
    case CDR_WITNESS_CONTRADICTS: fprintf(stderr, "CONTRADICTS THE LOG: %s\n", w->why); break;
    }
  }
}

/* Ask the witnesses (before the log is read: witness_check.h says why). */
static int witnesses_ask(struct cdr_connection *k, const char *cacert, struct cdr_contract *ct,
                         struct cdr_witness_round *wr) {
  int r;
  memset(wr, 0, sizeof(*wr));
  if ((r = active_contract(k, ct)) != 0)
    return r;
  if ((r = cdr_witness_round_ask(k->client, ct, cacert, wr)) != 0)
    return cli_fail_code(CMD, r, "cannot ask the witnesses");
  return 0;
}

/* Judge the answers against the verified log and say what they confirm. */
static int witnesses_judge(struct cdr_connection *k, const struct cdr_contract *ct, struct cdr_witness_round *wr,
                           struct log_heads *lh) {
  int r;
  if (ct->n_witnesses == 0) {
    fprintf(stderr, "%s\n", CDR_CONTRACT_UNWITNESSED);
    return 0;
  }
  r = cdr_witness_round_judge(k->client, wr, k->att.identity_spki, k->att.identity_spki_len, lh->res->size,
                              log_head_at, lh);
  fprintf(stderr, "witnesses: %zu named by contract version %llu (f = %u, quorum %zu); asked directly:\n", wr->n,
          (unsigned long long)ct->version, wr->f, wr->quorum);
  witness_lines(wr);
  /* The detail says it all (the codes' descriptions speak for the
   * enclave, which refuses to serve on the same findings). */
  if (r != 0)
    return cli_fail_code(CMD, r, "%s: %s", cdr_err_code(r), k->client->detail);
  if (wr->quorum_size > 0)
    fprintf(stderr, "witnessed: a quorum (%zu of %zu) confirmed the history up to entry %llu (the log has %llu)\n",
            wr->quorum, wr->n, (unsigned long long)(wr->quorum_size - 1), (unsigned long long)lh->res->size);
  else
    fprintf(stderr, "witnessed: no quorum has confirmed any entry yet (%zu of %zu witnesses confirmed a head; "
                    "quorum %zu)\n", wr->confirmed, wr->n, wr->quorum);
  return 0;
}

/* RFC 3339, or a duration before now. */
static int parse_since(const char *s, int64_t *t) {
  int64_t d;
  if (cli_parse_rfc3339(s, t) == 0)
    return 0;
  if (cdr_parse_duration(s, &d) == 0) {
    *t = cdr_now() - d;
    return 0;
  }
  return CDR_ERR_ARG;
}

int cmd_audit(int argc, char **argv) {
  static const struct option longopts[] = {CLI_CONNECT_LONGOPTS,
                                           {"verify", no_argument, NULL, 'V'},
                                           {"since", required_argument, NULL, 'S'},
                                           {"from", required_argument, NULL, 'F'},
                                           {"format", required_argument, NULL, 'f'},
                                           {"witness-ca", required_argument, NULL, 'W'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct cdr_connection k;
  struct cdr_audit_result res;
  struct show sh = {0};
  int verify = 0, allow_sim = 0, ch, r;
  int64_t since = INT64_MIN;
  uint64_t from = 0;
  int have_from = 0;
  char head[2 * CDR_AUDIT_HASH_LEN + 1];
  const char *witness_ca = NULL;
  struct cdr_contract ct;
  struct cdr_witness_round wr;
  struct log_heads lh;
  uint64_t sizes[CDR_CONTRACT_MAX_WITNESSES];

  memset(&ct, 0, sizeof(ct));
  memset(&wr, 0, sizeof(wr));
  memset(&lh, 0, sizeof(lh));

  memset(&o, 0, sizeof(o));
  /* `cdr audit verify ...` reads as `cdr audit --verify ...`. */
  if (argc > 1 && strcmp(argv[1], "verify") == 0) {
    verify = 1;
    argv[1] = argv[0];
    argc--;
    argv++;
  }
  optind = 1;
  while ((ch = getopt_long(argc, argv, CLI_CONNECT_SHORTOPTS "VS:F:f:h", longopts, NULL)) != -1) {
    if (cli_connect_option(ch, optarg, &o, &allow_sim))
      continue;
    switch (ch) {
    case 'V': verify = 1; break;
    case 'S':
      if (parse_since(optarg, &since) != 0)
        return cli_usage(CMD, "--since takes an RFC 3339 time (2026-11-24T10:00:00Z) or a duration (24h)");
      break;
    case 'F': {
      char *end = NULL;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (optarg[0] < '0' || optarg[0] > '9' || end == NULL || *end != '\0')
        return cli_usage(CMD, "--from takes an entry number (0 is the first)");
      from = v;
      have_from = 1;
      break;
    }
    case 'f':
      if ((r = cli_format_parse(CMD, optarg, &sh.format)) != 0)
        return r;
      break;
    case 'W': witness_ca = optarg; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option");
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (optind != argc)
    return cli_usage(CMD, "unexpected argument: %s", argv[optind]);
  if (witness_ca != NULL && !verify)
    return cli_usage(CMD, "--witness-ca goes with --verify (only --verify asks the witnesses)");

  memset(&k, 0, sizeof(k));
  if ((r = cli_connect_user(CMD, &o, &k, "note: using the room CA that the server offered (not pinned)\n")) != 0) {
    cdr_connection_close(&k);
    return r;
  }
  if (sh.format == CLI_FORMAT_CSV &&
      (sh.csv = json_pack("{s:[s,s,s,s,s,s,s,s,s,s], s:[]}", "columns", "index", "time", "op", "decision", "reason",
                          "subject", "role", "serial", "tables", "sql_sha256", "rows")) == NULL) {
    cdr_connection_close(&k);
    return cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
  }
  /* The witnesses first, the log after (client/witness_check.h). */
  if (verify && (r = witnesses_ask(&k, witness_ca, &ct, &wr)) != 0) {
    json_decref(sh.csv);
    cdr_connection_close(&k);
    return r;
  }
  cdr_witness_round_sizes(&wr, k.att.identity_spki, k.att.identity_spki_len, sizes, &lh.n);
  for (size_t i = 0; i < lh.n; i++)
    lh.probes[i].size = sizes[i];
  r = cdr_client_audit_read_probed(k.client, k.session, have_from || since == INT64_MIN ? from : UINT64_MAX, since,
                                   verify, show_entry, &sh, lh.probes, lh.n, &res);
  /* CSV only once the whole chain checked out: a failure prints no rows */
  if (r == 0 && sh.csv != NULL && cdr_render_csv(stdout, sh.csv) != 0)
    r = CDR_ERR_IO;
  json_decref(sh.csv);
  fflush(stdout);
  if (r != 0) {
    r = cli_fail_client(CMD, k.client, r, NULL);
    goto out;
  }
  if (verify) {
    cdr_hex_encode(head, res.head, sizeof(res.head));
    fprintf(stderr,
            "verified: entries %llu to %llu chain to the enclave's signed head %s%s; %llu shown, %llu seen as "
            "hashes only; %llu user signatures checked\n",
            (unsigned long long)res.from, (unsigned long long)(res.size ? res.size - 1 : 0), head,
            res.from == 0 ? " from the log's start" : " (from the head the enclave states before them)",
            (unsigned long long)res.shown, (unsigned long long)res.hidden, (unsigned long long)res.signatures);
    lh.res = &res;
    r = witnesses_judge(&k, &ct, &wr, &lh);
  }
out:
  cdr_witness_round_free(&wr);
  cdr_contract_free(&ct);
  cdr_connection_close(&k);
  return r;
}
