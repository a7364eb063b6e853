/*
 * cmd_rule.c - `cdr rule [URL --key K --cert C] TABLE [--file RULE.json
 * [--keep-grants|--revoke-grants] | --remove] [--format table|json]`: a
 * table's release rule (docs/RULES.md).  Without --file or --remove it
 * shows the rule (its owner sees the rule as set; an analyst who queries
 * under it sees the columns it may use).  The enclave checks that the
 * caller owns the table and refuses a malformed rule naming the field.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "common/util.h"

static const char *const CMD = "rule";

#define OPT_KEEP 256
#define OPT_REVOKE 257
#define OPT_REMOVE 258
/* The enclave refuses a rule over 1 MiB (rule_doc.h). */
#define RULE_FILE_MAX (1024u * 1024u)

static void help(void) {
  printf("Usage: cdr rule [URL --key KEY --cert CERT] TABLE [--format table|json]\n"
         "       cdr rule [URL --key KEY --cert CERT] TABLE --file RULE.json\n"
         "                [--keep-grants | --revoke-grants]\n"
         "       cdr rule [URL --key KEY --cert CERT] TABLE --remove\n\n"
         "Show or set the release rule of TABLE: what analysts without a grant may\n"
         "learn from it (docs/RULES.md).  Modes: aggregate (aggregates over at least\n"
         "min_units distinct privacy units per output row; smaller groups are\n"
         "removed), list (SELECT DISTINCT of list columns for keys matched by an\n"
         "inner join), template (only query templates its owners approved run: see\n"
         "cdr template) and dp (noisy counts, sums and averages under a privacy\n"
         "budget, epsilon_total, that every analyst's queries spend and nothing\n"
         "refills).  A query that breaks the rule is refused before it runs,\n"
         "naming the rule and the clause.\n\n"
         "Without --file, show the rule: its owner sees it as set; an analyst sees\n"
         "the columns it may use and their classes; under a dp rule both see the\n"
         "epsilon spent and left.  With --file (owners), set it;\n"
         "a malformed rule is refused naming the field.  Grants stay full access\n"
         "under a rule, so on a table with grants say --keep-grants or\n"
         "--revoke-grants.  --remove takes the rule away: the table is then read by\n"
         "its owner and grantees only.\n\n"
         "Options:\n"
         "      --file RULE.json          set this rule (a JSON object)\n"
         "      --keep-grants             keep the table's grants (full access)\n"
         "      --revoke-grants           revoke the table's grants with the rule\n"
         "      --remove                  remove the rule\n"
         "  -f, --format table|json       how to show it (default table)\n\n");
  cli_connect_help();
}

static void print_rule(const json_t *res) {
  const json_t *rule = json_object_get(res, "rule");
  char table[256], owner[256];
  char *text = json_dumps(rule, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  cdr_sanitize(table, sizeof(table), json_string_value(json_object_get(res, "table")));
  cdr_sanitize(owner, sizeof(owner), json_string_value(json_object_get(res, "owner")));
  printf("table %s  owner %s\n", table, owner);
  if (json_is_null(rule) || rule == NULL) {
    printf("no rule: only its owner and the members it granted access read it\n");
  } else {
    /* The text is the owner's JSON re-encoded: printable. */
    printf("%s\n", text != NULL ? text : "?");
  }
  const json_t *b = json_object_get(res, "budget");
  if (json_is_object(b)) {
    char spent[64], total[64], left[64], delta[64];
    cdr_sanitize(spent, sizeof(spent), json_string_value(json_object_get(b, "epsilon_spent")));
    cdr_sanitize(total, sizeof(total), json_string_value(json_object_get(b, "epsilon_total")));
    cdr_sanitize(left, sizeof(left), json_string_value(json_object_get(b, "epsilon_left")));
    cdr_sanitize(delta, sizeof(delta), json_string_value(json_object_get(b, "delta_spent")));
    printf("privacy budget: epsilon %s of %s spent, %s left (delta spent %s)\n", spent, total, left, delta);
  }
  if (json_is_true(json_object_get(res, "stale")))
    printf("STALE: the rule names columns the table no longer has; set it again\n");
  if (json_is_integer(json_object_get(res, "grants")))
    printf("grants: %" JSON_INTEGER_FORMAT " (full access, besides the rule)\n",
           json_integer_value(json_object_get(res, "grants")));
  free(text);
}

int cmd_rule(int argc, char **argv) {
  static const struct option opts[] = {{"file", required_argument, NULL, 'F'},
                                       {"keep-grants", no_argument, NULL, OPT_KEEP},
                                       {"revoke-grants", no_argument, NULL, OPT_REVOKE},
                                       {"remove", no_argument, NULL, OPT_REMOVE},
                                       {"format", required_argument, NULL, 'f'},
                                       CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  const char *file = NULL, *grants = NULL;
  enum cli_format fmt = CLI_FORMAT_TABLE;
  json_t *hdr = NULL, *res = NULL;
  uint8_t *doc = NULL;
  size_t len = 0;
  int ch, r, allow_sim = 0, remove = 0, rc = 1;
  char st[128];

  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, "f:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'F': file = optarg; break;
    case OPT_KEEP: grants = "keep"; break;
    case OPT_REVOKE: grants = "revoke"; break;
    case OPT_REMOVE: remove = 1; break;
    case 'f':
      if (cli_format_parse(CMD, optarg, &fmt) != 0)
        return 2;
      break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 1)
    return cli_usage(CMD, "expected one TABLE");
  if (file != NULL && remove)
    return cli_usage(CMD, "--file sets a rule and --remove removes it: give one");
  if (grants != NULL && file == NULL)
    return cli_usage(CMD, "--keep-grants and --revoke-grants go with --file");
  if (fmt == CLI_FORMAT_CSV)
    return cli_usage(CMD, "a rule is shown as table or json");
  if (file != NULL && (r = cdr_file_read(file, &doc, &len, RULE_FILE_MAX)) != 0)
    return cli_fail_code(CMD, r, "cannot read the rule file %s (a JSON object of at most 1 MiB)", file);
  const char *action = file != NULL ? "set" : remove ? "remove" : "show";
  hdr = grants != NULL ? json_pack("{s:s,s:s,s:s,s:s}", "op", "rule", "table", argv[optind], "action", action,
                                   "grants", grants)
                       : json_pack("{s:s,s:s,s:s}", "op", "rule", "table", argv[optind], "action", action);
  if ((rc = cli_room_op_payload(CMD, &o, hdr, doc, len, &res)) != 0)
    goto out;
  rc = 0;
  cdr_sanitize(st, sizeof(st), argv[optind]);
  if (fmt == CLI_FORMAT_JSON) {
    json_t *shown = file == NULL && !remove ? json_object_get(res, "rule") : res;
    char *text = json_dumps(shown, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s\n", text != NULL ? text : "null");
    free(text);
  } else if (file != NULL) {
    json_int_t n = json_integer_value(json_object_get(res, "revoked_grants"));
    printf("set the release rule of table %s", st);
    if (n > 0)
      printf(" (revoked %" JSON_INTEGER_FORMAT " grant%s)", n, n == 1 ? "" : "s");
    printf("\n");
  } else if (remove) {
    printf("removed the release rule of table %s: only its owner and grantees read it\n", st);
  } else {
    print_rule(json_object_get(res, "rule"));
  }
out:
  json_decref(hdr);
  json_decref(res);
  free(doc);
  return rc;
}
