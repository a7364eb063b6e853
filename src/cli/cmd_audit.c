/*
 * cmd_audit.c - `cdr audit [verify] [URL --key K --cert C] [--verify]
 * [--since TIME] [--from N] [--format table|csv|json]`: read the room's
 * audit log, checking its chain against the enclave's signed head as it
 * goes; --verify also checks every user signature the entries carry and
 * prints what was verified.  Every string in an entry comes from room
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
#include "common/util.h"

static const char *const CMD = "audit";

static void help(void) {
  printf("Usage: cdr audit [verify] [URL --key KEY --cert CERT] [--verify] [--since TIME]\n"
         "                 [--from N] [--format table|csv|json]\n                 [options]\n\n"
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
         "                          verify` is the same\n"
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
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option");
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (optind != argc)
    return cli_usage(CMD, "unexpected argument: %s", argv[optind]);

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
  r = cdr_client_audit_read(k.client, k.session, have_from || since == INT64_MIN ? from : UINT64_MAX, since, verify,
                            show_entry, &sh, &res);
  /* CSV only once the whole chain checked out: a failure prints no rows */
  if (r == 0 && sh.csv != NULL && cdr_render_csv(stdout, sh.csv) != 0)
    r = CDR_ERR_IO;
  json_decref(sh.csv);
  fflush(stdout);
  if (r != 0) {
    r = cli_fail_client(CMD, k.client, r, NULL);
    cdr_connection_close(&k);
    return r;
  }
  if (verify) {
    cdr_hex_encode(head, res.head, sizeof(res.head));
    fprintf(stderr,
            "verified: entries %llu to %llu chain to the enclave's signed head %s%s; %llu shown, %llu seen as "
            "hashes only; %llu user signatures checked\n",
            (unsigned long long)res.from, (unsigned long long)(res.size ? res.size - 1 : 0), head,
            res.from == 0 ? " from the log's start" : " (from the head the enclave states before them)",
            (unsigned long long)res.shown, (unsigned long long)res.hidden, (unsigned long long)res.signatures);
  }
  cdr_connection_close(&k);
  return 0;
}
