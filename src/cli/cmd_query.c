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
  printf("Usage: cdr query [URL --key KEY --cert CERT] \"SQL\" [options]\n"
         "       cdr query [URL --key KEY --cert CERT] --template NAME [--param K=V ...]\n\n"
         "Run one SQL statement (SQLite dialect, read-only, subject to the room's\n"
         "policy) inside the enclave, after verifying its attestation, and print the\n"
         "result.  SQL \"-\" reads the statement from standard input.  --template\n"
         "runs an approved query template instead (cdr template), with each\n"
         "parameter's value bound, never spliced into the text.\n\n"
         "Options:\n"
         "      --template NAME           run the approved template NAME\n"
         "      --param K=V               the value of its parameter :K (repeat)\n"
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

/* "K=V" into *params (made on first use): 0, 2 for a malformed one, 3
 * for a K given before, 1 out of memory. */
static int add_param(json_t **params, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv)
    return 2;
  if (*params == NULL && (*params = json_object()) == NULL)
    return 1;
  char *k = strndup(kv, (size_t)(eq - kv));
  int r = k == NULL                           ? 1
          : json_object_get(*params, k) != NULL ? 3
                                                : json_object_set_new(*params, k, json_string(eq + 1)) != 0;
  free(k);
  return r;
}

/* Print a query's answer res in format: 0, or the exit code. */
static int print_result(const json_t *res, enum cli_format format) {
  const json_t *result = json_object_get(res, "result");
  int r;
  if (cdr_result_check(result) != 0)
    return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the enclave's answer holds no well-formed result");
  if (format == CLI_FORMAT_CSV)
    r = cdr_render_csv(stdout, result);
  else if (format == CLI_FORMAT_JSON)
    r = cdr_render_json(stdout, result);
  else
    r = cdr_render_table(stdout, result);
  if (r != 0 || fflush(stdout) != 0)
    return cli_fail_code(CMD, CDR_ERR_IO, "cannot write the result");
  return 0;
}

/* cdr query --template NAME --param K=V ...: {"op":"query","template",
 * "params"} (values as strings; the enclave checks them against the
 * template's types).  Takes params. */
static int run_template(struct cdr_connect_opts *o, const char *tmpl, json_t *params, int npos,
                        enum cli_format format) {
  json_t *hdr = NULL, *res = NULL;
  int rc;
  if (tmpl == NULL || npos != 0) {
    json_decref(params);
    return cli_usage(CMD, tmpl == NULL ? "--param goes with --template NAME"
                                       : "--template runs a template: give no SQL text with it");
  }
  hdr = json_pack("{s:s,s:s,s:o}", "op", "query", "template", tmpl, "params", params != NULL ? params : json_object());
  if ((rc = cli_room_op(CMD, o, hdr, &res)) == 0)
    rc = print_result(res, format);
  json_decref(hdr);
  json_decref(res);
  return rc;
}

int cmd_query(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"template", required_argument, NULL, 'T'},
                                       {"param", required_argument, NULL, 'P'},
                                       CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *tmpl = NULL;
  json_t *params = NULL;
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
    case 'T': tmpl = optarg; break;
    case 'P':
      if ((r = add_param(&params, optarg)) != 0) {
        json_decref(params);
        return r == 2   ? cli_usage(CMD, "--param takes K=V (K a parameter name), not %s", optarg)
               : r == 3 ? cli_usage(CMD, "--param gives each parameter once: %s repeats one", optarg)
                        : 1;
      }
      break;
    case 'h': json_decref(params); help(); return 0;
    default:
      json_decref(params);
      return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0) {
    json_decref(params);
    return r;
  }
  npos = argc - optind;
  if (tmpl != NULL || params != NULL)
    return run_template(&o, tmpl, params, npos, have_format ? format : isatty(STDOUT_FILENO) ? CLI_FORMAT_TABLE
                                                                                           : CLI_FORMAT_CSV);
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
