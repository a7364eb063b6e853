/*
 * cmd_grant.c - `cdr grant [URL --key K --cert C] TABLE --to NAME|role:ROLE
 * [--columns a,b]` and `cdr revoke-grant ... TABLE --to NAME|role:ROLE`:
 * the owner of a table lets a user (by certificate name) or every holder
 * of a role read it, or takes that back.  The enclave checks that the
 * caller owns the table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "common/limits.h"

#define OPT_COLUMNS 256

static void help_grant(void) {
  printf("Usage: cdr grant [URL --key KEY --cert CERT] TABLE --to NAME|role:ROLE\n"
         "                 [--columns COL,COL...] [options]\n\n"
         "Let NAME (a user's certificate name, e.g. analyst@institute.example) or\n"
         "every holder of ROLE (analyst, provider or auditor) read TABLE, which you\n"
         "own.  With --columns only those columns; without, every column.  Hidden\n"
         "columns (`cdr hide`) stay hidden whatever a grant says.  A new grant to the\n"
         "same NAME or role replaces the earlier one; `cdr revoke-grant` removes it.\n\n"
         "Options:\n"
         "  -t, --to NAME|role:ROLE       who may read (required)\n"
         "      --columns COL,COL...      only these columns (comma-separated)\n\n");
  cli_connect_help();
}

static void help_revoke(void) {
  printf("Usage: cdr revoke-grant [URL --key KEY --cert CERT] TABLE --to NAME|role:ROLE\n"
         "                        [options]\n\n"
         "Take back the grant that lets NAME or ROLE read TABLE, which you own.\n"
         "Queries that rely on it fail from now on.\n\n"
         "Options:\n"
         "  -t, --to NAME|role:ROLE       whose grant (required)\n\n");
  cli_connect_help();
}

/* ["a","b"] from "a,b"; NULL (after printing why) if an item is empty. */
static json_t *split_columns(const char *cmd, const char *list) {
  json_t *a = json_array();
  const char *p = list;
  if (a == NULL)
    return NULL;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
    if (n == 0 || n > CDR_MAX_COLUMN_NAME || json_array_append_new(a, json_stringn(p, n)) != 0 ||
        json_array_size(a) > CDR_MAX_COLUMNS) {
      cli_usage(cmd, "--columns must be a comma-separated list of column names");
      json_decref(a);
      return NULL;
    }
    if (comma == NULL)
      return a;
    p = comma + 1;
  }
}

static int run(int argc, char **argv, int revoke) {
  static const struct option opts[] = {{"to", required_argument, NULL, 't'},
                                       {"columns", required_argument, NULL, OPT_COLUMNS},
                                       CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *cmd = revoke ? "revoke-grant" : "grant";
  struct cdr_connect_opts o;
  const char *to = NULL, *columns = NULL, *table;
  json_t *hdr = NULL, *cols = NULL, *res = NULL, *gc;
  char st[128], sto[256], sc[256];
  int ch, r, allow_sim = 0, rc = 1;

  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, "t:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 't': to = optarg; break;
    case OPT_COLUMNS:
      if (revoke)
        return cli_usage(cmd, "--columns is for `cdr grant`; revoke-grant removes the whole grant");
      columns = optarg;
      break;
    case 'h':
      if (revoke)
        help_revoke();
      else
        help_grant();
      return 0;
    default: return cli_usage(cmd, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(cmd, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 1)
    return cli_usage(cmd, "expected one TABLE");
  if (to == NULL || to[0] == '\0')
    return cli_usage(cmd, "say who with --to NAME or --to role:ROLE");
  table = argv[optind];
  if (columns != NULL && (cols = split_columns(cmd, columns)) == NULL)
    return 2;
  if (revoke)
    hdr = json_pack("{s:s,s:s,s:s}", "op", "revoke_grant", "table", table, "to", to);
  else if (cols != NULL)
    hdr = json_pack("{s:s,s:s,s:s,s:O}", "op", "grant", "table", table, "to", to, "columns", cols);
  else
    hdr = json_pack("{s:s,s:s,s:s}", "op", "grant", "table", table, "to", to);
  if ((rc = cli_room_op(cmd, &o, hdr, &res)) != 0)
    goto out;
  rc = 1;
  cdr_sanitize(st, sizeof(st), table);
  cdr_sanitize(sto, sizeof(sto), to);
  if (revoke) {
    printf("revoked the grant of %s on table %s\n", sto, st);
  } else {
    gc = json_object_get(res, "columns");
    printf("granted %s read access to table %s: ", sto, st);
    if (json_is_array(gc)) {
      size_t i;
      json_t *v;
      printf("columns");
      json_array_foreach(gc, i, v) {
        cdr_sanitize(sc, sizeof(sc), json_string_value(v) ? json_string_value(v) : "?");
        printf("%s %s", i == 0 ? "" : ",", sc);
      }
      printf("\n");
    } else {
      printf("all columns\n");
    }
  }
  rc = 0;
out:
  json_decref(hdr);
  json_decref(cols);
  json_decref(res);
  return rc;
}

int cmd_grant(int argc, char **argv) { return run(argc, argv, 0); }

int cmd_revoke_grant(int argc, char **argv) { return run(argc, argv, 1); }
