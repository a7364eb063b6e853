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
 * A paged result (PROTOCOL 4.7 "Paged results") is printed page by page
 * as it arrives, to standard output or --out FILE, one page in memory at
 * a time; a failure part way removes FILE.
 */
#include <errno.h>
#include <fcntl.h>
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
         "  -o, --out FILE                write the result to FILE (made or emptied; mode\n"
         "                                0600) instead of standard output.  A result larger\n"
         "                                than one page (2 MiB) arrives page by page and is\n"
         "                                written as it arrives, each page checked, in\n"
         "                                bounded memory; on any failure FILE is removed\n"
         "  -f, --format table|csv|json   output format; default table when standard\n"
         "                                output is a terminal, else csv.  csv: RFC 4180\n"
         "                                with a header row, NULL as an empty field, BLOBs\n"
         "                                as \\x<hex>; json: the result object\n"
         "                                {\"columns\",\"rows\",\"row_count\"}.  A paged result\n"
         "                                prints the same CSV and JSON; as a table each page\n"
         "                                is a table of its own\n\n");
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
static int print_result(FILE *dst, const json_t *res, enum cli_format format) {
  const json_t *result = json_object_get(res, "result");
  int r;
  if (cdr_result_check(result) != 0)
    return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the enclave's answer holds no well-formed result");
  if (format == CLI_FORMAT_CSV)
    r = cdr_render_csv(dst, result);
  else if (format == CLI_FORMAT_JSON)
    r = cdr_render_json(dst, result);
  else
    r = cdr_render_table(dst, result);
  if (r != 0 || fflush(dst) != 0)
    return cli_fail_code(CMD, CDR_ERR_IO, "cannot write the result");
  return 0;
}

static int page_rows(void *ud, const json_t *rows, uint64_t page) {
  (void)page;
  struct cdr_render_stream *rs = ud;
  int r = cdr_render_stream_rows(rs, rows);
  return r != 0 ? r : fflush(rs->f) != 0 ? CDR_ERR_IO : 0;
}

/* A paged result (res's "result" carries a cursor): its pages read and
 * printed to dst as they arrive.  0, or the exit code. */
static int print_paged(struct cdr_connection *k, FILE *dst, const json_t *res, enum cli_format format) {
  const json_t *result = json_object_get(res, "result");
  struct cdr_render_stream rs;
  enum cdr_render_format rf = format == CLI_FORMAT_CSV    ? CDR_RENDER_CSV
                              : format == CLI_FORMAT_JSON ? CDR_RENDER_JSON
                                                          : CDR_RENDER_TABLE;
  int r;
  if (cdr_render_stream_begin(&rs, dst, rf, result) != 0)
    return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the enclave's answer holds no well-formed result");
  if ((r = cdr_client_cursor_read(k->client, k->session, result, page_rows, &rs)) != 0)
    return r == CDR_ERR_IO && !k->client->remote_error ? cli_fail_code(CMD, CDR_ERR_IO, "cannot write the result")
                                                       : cli_fail_client(CMD, k->client, r, NULL);
  if (cdr_render_stream_end(&rs) != 0 || fflush(dst) != 0)
    return cli_fail_code(CMD, CDR_ERR_IO, "cannot write the result");
  return 0;
}

/* --out FILE: made or emptied, 0600; NULL (said why) if it cannot be. */
static FILE *open_out(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (f == NULL) {
    if (fd >= 0)
      close(fd);
    cli_fail_code(CMD, CDR_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  }
  return f;
}

/* cdr query --template NAME --param K=V ...: {"op":"query","template",
 * "params"} (values as strings; the enclave checks them against the
 * template's types).  Takes params. */
static int run_template(struct cdr_connect_opts *o, const char *tmpl, json_t *params, int npos, FILE *dst,
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
    rc = print_result(dst, res, format);
  json_decref(hdr);
  json_decref(res);
  return rc;
}

int cmd_query(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"template", required_argument, NULL, 'T'},
                                       {"param", required_argument, NULL, 'P'},
                                       {"out", required_argument, NULL, 'o'},
                                       CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *tmpl = NULL, *out_path = NULL;
  FILE *dst = stdout;
  json_t *params = NULL;
  struct cdr_connect_opts o;
  struct cdr_connection k;
  const char *sql;
  enum cli_format format = CLI_FORMAT_TABLE;
  int have_format = 0;
  char *sql_in = NULL;
  json_t *res = NULL;
  int ch, r, allow_sim = 0, rc = 1, npos;

  memset(&o, 0, sizeof(o));
  memset(&k, 0, sizeof(k));
  while ((ch = cli_connect_getopt(argc, argv, "f:o:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'f':
      if ((r = cli_format_parse(CMD, optarg, &format)) != 0)
        return r;
      have_format = 1;
      break;
    case 'T': tmpl = optarg; break;
    case 'o': out_path = optarg; break;
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
  if (!have_format)
    format = out_path == NULL && isatty(STDOUT_FILENO) ? CLI_FORMAT_TABLE : CLI_FORMAT_CSV;
  if (tmpl == NULL && params == NULL && npos != 1)
    return cli_usage(CMD, "expected one SQL statement (quote it)");
  if (out_path != NULL && (dst = open_out(out_path)) == NULL) {
    json_decref(params);
    return 1;
  }
  if (tmpl != NULL || params != NULL) {
    rc = run_template(&o, tmpl, params, npos, dst, format);
    goto done;
  }
  sql = argv[optind];
  if (strcmp(sql, "-") == 0) {
    if ((sql_in = read_sql_stdin()) == NULL) {
      rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot read the SQL from standard input (at most %u bytes)",
                         (unsigned)CDR_MAX_SQL_LEN);
      goto out;
    }
    sql = sql_in;
  }
  if (strlen(sql) > CDR_MAX_SQL_LEN) {
    rc = cli_fail_code(CMD, CDR_ERR_TOO_LARGE, "the SQL text is longer than %u bytes", (unsigned)CDR_MAX_SQL_LEN);
    goto out;
  }
  if ((rc = cli_connect_user(CMD, &o, &k, NULL)) != 0)
    goto out;
  if ((r = cdr_client_query(k.client, k.session, sql, &res)) != 0) {
    rc = cli_fail_client(CMD, k.client, r, NULL);
    goto out;
  }
  rc = cdr_result_paged(json_object_get(res, "result")) ? print_paged(&k, dst, res, format)
                                                        : print_result(dst, res, format);
out:
  if (sql_in != NULL) {
    OPENSSL_cleanse(sql_in, strlen(sql_in));
    free(sql_in);
  }
  json_decref(res);
  cdr_connection_close(&k);
done:
  if (dst != stdout && fclose(dst) != 0 && rc == 0)
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write %s: %s", out_path, strerror(errno));
  /* An incomplete result is not left behind looking like a whole one. */
  if (out_path != NULL && rc != 0)
    (void)unlink(out_path);
  return rc;
}
