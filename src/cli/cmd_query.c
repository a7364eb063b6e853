/*
 * cmd_query.c - `cdr query [URL --key K --cert C] "SQL"`: run one SQL
 * statement in the attested enclave and print the result as an aligned
 * table (default on a terminal), RFC 4180 CSV (default otherwise) or the
 * result object as JSON.  The SQL text and the result are wiped from
 * this process's memory once printed: the client library wipes its JSON
 * (its jansson free, installed by cdr_client_new), its request and
 * response buffers and the rendered cells, and this file wipes the SQL
 * read from standard input.  SQL given as an argument stays in argv, as
 * every argument does (and `ps` shows it): "-" keeps it out of both.
 */
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client/connect.h"
#include "client/render.h"
#include "common/limits.h"

static const char *const CMD = "query";

static void help(void) {
  printf("Usage: cdr query [URL --key KEY --cert CERT] \"SQL\" [options]\n\n"
         "Run one SQL statement (SQLite dialect, read-only, subject to the room's\n"
         "policy) inside the enclave, after verifying its attestation, and print the\n"
         "result.  SQL \"-\" reads the statement from standard input.\n\n"
         "Options:\n"
         "  -f, --format table|csv|json   output format; default table when standard\n"
         "                                output is a terminal, else csv.  csv: RFC 4180\n"
         "                                with a header row, NULL as an empty field, BLOBs\n"
         "                                as \\x<hex>; json: the result object\n"
         "                                {\"columns\",\"rows\",\"row_count\"}\n\n");
  cli_connect_help();
}

/* The SQL text from standard input, at most CDR_MAX_SQL_LEN bytes. */
static char *read_sql_stdin(void) {
  size_t cap = CDR_MAX_SQL_LEN + 1, n = 0, got;
  char *s = malloc(cap + 1);
  if (s == NULL)
    return NULL;
  while (n < cap && (got = fread(s + n, 1, cap - n, stdin)) > 0)
    n += got;
  if (n > CDR_MAX_SQL_LEN || ferror(stdin)) {
    free(s);
    return NULL;
  }
  s[n] = '\0';
  return s;
}

int cmd_query(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct cdr_connection k;
  const char *sql;
  enum cli_format format = CLI_FORMAT_TABLE;
  int have_format = 0;
  char *sql_in = NULL;
  json_t *res = NULL, *result;
  int ch, r, allow_sim = 0, rc = 1, npos;

  memset(&o, 0, sizeof(o));
  memset(&k, 0, sizeof(k));
  while ((ch = cli_connect_getopt(argc, argv, "f:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'f':
      if ((r = cli_format_parse(CMD, optarg, &format)) != 0)
        return r;
      have_format = 1;
      break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  npos = argc - optind;
  if (npos != 1)
    return cli_usage(CMD, "expected one SQL statement (quote it)");
  sql = argv[optind];
  if (!have_format)
    format = isatty(STDOUT_FILENO) ? CLI_FORMAT_TABLE : CLI_FORMAT_CSV;
  if (strcmp(sql, "-") == 0) {
    if ((sql_in = read_sql_stdin()) == NULL)
      return cli_fail_code(CMD, CDR_ERR_IO, "cannot read the SQL from standard input (at most %u bytes)", (unsigned)CDR_MAX_SQL_LEN);
    sql = sql_in;
  }
  if (strlen(sql) > CDR_MAX_SQL_LEN) {
    rc = cli_fail_code(CMD, CDR_ERR_TOO_LARGE, "the SQL text is longer than %u bytes", (unsigned)CDR_MAX_SQL_LEN);
    goto out;
  }
  if ((rc = cli_connect_user(CMD, &o, &k, NULL)) != 0)
    goto out;
  rc = 1;
  if ((r = cdr_client_query(k.client, k.session, sql, &res)) != 0) {
    rc = cli_fail_client(CMD, k.client, r, NULL);
    goto out;
  }
  result = json_object_get(res, "result");
  if (cdr_result_check(result) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the enclave's answer holds no well-formed result");
    goto out;
  }
  if (format == CLI_FORMAT_CSV)
    r = cdr_render_csv(stdout, result);
  else if (format == CLI_FORMAT_JSON)
    r = cdr_render_json(stdout, result);
  else
    r = cdr_render_table(stdout, result);
  if (r != 0 || fflush(stdout) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the result");
    goto out;
  }
  rc = 0;
out:
  if (sql_in != NULL) {
    OPENSSL_cleanse(sql_in, strlen(sql_in));
    free(sql_in);
  }
  json_decref(res);
  cdr_connection_close(&k);
  return rc;
}
