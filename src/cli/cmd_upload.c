/*
 * cmd_upload.c - `cdr upload [URL --key K --cert C] TABLE FILE.csv
 * [--replace] [--schema "col TYPE, ..."]`: a provider uploads a CSV file
 * as a new table (which it then owns), or replaces the rows and columns
 * of a table it owns.  The file streams (cdr_client_upload_stream): read
 * once to infer its column types (or only its header, with --schema),
 * then sent in encrypted, signed chunks, in flat memory whatever its
 * size.  On a terminal a progress bar on stderr shows bytes, rate and
 * time left; otherwise the command is quiet until the result.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client/connect.h"
#include "common/csv.h"
#include "common/limits.h"
#include "common/util.h"

static const char *const CMD = "upload";

static void help(void) {
  printf("Usage: cdr upload [URL --key KEY --cert CERT] TABLE FILE.csv [--replace]\n"
         "                  [--schema \"COL TYPE, ...\"] [options]\n\n"
         "Upload FILE.csv as the new table TABLE (role provider).  The CSV is RFC 4180,\n"
         "UTF-8, with a header row naming the columns; files of several GB are fine.\n"
         "It is encrypted end to end to the enclave, after attestation, and sent in\n"
         "signed chunks whose order and completeness the enclave checks: if anything\n"
         "fails (a malformed row, a lost connection) no part of the table is kept.\n\n"
         "Column types (INTEGER, REAL or TEXT) are inferred from all values of each\n"
         "column, which reads the file once before sending it; --schema declares them\n"
         "instead (the names must be the header's, in order, without regard to case),\n"
         "and a value that does not fit its type is refused with its line number.\n\n"
         "You own the table: only you can read it until you grant access\n"
         "(`cdr grant`).  With --replace, TABLE must be yours already; its rows and\n"
         "columns are replaced in one step (if the upload fails the old table stays),\n"
         "and its grants and hidden columns carry over to the columns that keep\n"
         "their names.\n\n"
         "On a terminal, a progress bar on stderr shows bytes, rate and time left.\n\n"
         "Options:\n"
         "  -r, --replace                 replace your existing table TABLE\n"
         "      --schema \"COL TYPE, ...\"  declare the columns, e.g. \"id INTEGER, name TEXT,\n"
         "                                cost REAL\" (a name may contain spaces, not commas)\n"
         "      --delimiter ,             the file is comma-separated even though its header\n"
         "                                (one column) contains ';' or a tab.  CDR reads\n"
         "                                comma-separated files only: a header of one column\n"
         "                                holding ';' or a tab is refused as semicolon- or\n"
         "                                tab-delimited, and so is --delimiter ';' or tab;\n"
         "                                convert such a file first, e.g. with\n"
         "                                python3 -c 'import csv,sys; csv.writer(sys.stdout)\n"
         "                                .writerows(csv.reader(sys.stdin, delimiter=\";\"))'\n");
  cli_connect_help();
}

/* ---- the progress bar ---- */

struct progress {
  int on;            /* stderr is a terminal */
  int drawn;         /* a line is on screen (needs its newline) */
  int phase;
  double t0, last;   /* phase start, last draw (seconds) */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(char *out, size_t n, double bytes) {
  if (bytes >= 1e9)
    snprintf(out, n, "%.2f GB", bytes / 1e9);
  else
    snprintf(out, n, "%.1f MB", bytes / 1e6);
}

/* cdr_upload_progress_fn: one line, redrawn in place at most 10 times a
 * second (and at the end of each phase). */
static void progress_draw(void *ctx, int phase, uint64_t done, uint64_t total) {
  struct progress *p = ctx;
  double t = now_s(), el, rate;
  char d[32], tot[32], eta[32];
  if (!p->on)
    return;
  if (phase != p->phase || !p->drawn) {
    p->phase = phase;
    p->t0 = t;
    p->last = 0;
  }
  if (done < total && t - p->last < 0.1)
    return;
  p->last = t;
  el = t - p->t0;
  rate = el > 0.05 ? (double)done / el : 0;
  human(d, sizeof(d), (double)done);
  human(tot, sizeof(tot), (double)total);
  if (done >= total)
    snprintf(eta, sizeof(eta), "%s", phase == 0 ? "" : "sealing...");
  else if (rate > 0)
    snprintf(eta, sizeof(eta), "%d:%02d left", (int)(((double)(total - done) / rate) / 60),
             (int)((double)(total - done) / rate) % 60);
  else
    snprintf(eta, sizeof(eta), "--:-- left");
  fprintf(stderr, "\r%-9s %3d%%  %s / %s  %6.1f MB/s  %-12s", phase == 0 ? "checking" : "uploading",
          total > 0 ? (int)((double)done * 100.0 / (double)total) : 100, d, tot, rate / 1e6, eta);
  fflush(stderr);
  p->drawn = 1;
}

static void progress_end(struct progress *p) {
  if (p->drawn)
    fputc('\n', stderr);
  p->drawn = 0;
}

enum { OPT_SCHEMA = 1000, OPT_DELIMITER };

#define CONVERT_HINT                                                                                   \
  "CDR reads comma-separated CSV only; convert the file first, e.g. python3 -c 'import csv,sys; "     \
  "csv.writer(sys.stdout).writerows(csv.reader(sys.stdin, delimiter=\"%s\"))' < IN > OUT.csv"

/* csv_record_fn for the header: which foreign delimiter it seems to use
 * (one field holding ';' or a tab), then stop (1). */
static int header_delimiter(void *arg, const struct csv_record *rec) {
  char *found = arg;
  if (rec->nfields == 1)
    *found = memchr(rec->field[0], ';', rec->len[0]) ? ';' : memchr(rec->field[0], '\t', rec->len[0]) ? '\t' : 0;
  return 1;
}

/* Refuse a file whose header looks semicolon- or tab-delimited: read as
 * CSV it would be one column holding whole lines.  0, or the exit status
 * after printing why.  A header it cannot read is left to the upload's
 * own checks, which name the line. */
static int check_delimiter(const char *file) {
  struct csv_parser *p = NULL;
  char found = 0;
  uint8_t buf[4096];
  size_t n;
  int r = 0;
  FILE *f = fopen(file, "rb");
  if (f == NULL)
    return 0;
  if (csv_parser_new(&p, header_delimiter, &found) != 0) {
    fclose(f);
    return cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
  }
  while (r == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0)
    r = csv_parser_feed(p, buf, n);
  if (r == 0)
    r = csv_parser_finish(p);
  csv_parser_free(p);
  fclose(f);
  if (found == 0)
    return 0;
  return cli_fail_code(CMD, CDR_ERR_CSV,
                       "%s looks %s-delimited: its header is one column holding '%s'.  " CONVERT_HINT
                       "; or, if it really is one comma-separated column, give --delimiter ,",
                       file, found == ';' ? "semicolon" : "tab", found == ';' ? ";" : "\\t", found == ';' ? ";" : "\\t");
}

int cmd_upload(int argc, char **argv) {
  static const struct option opts[] = {{"replace", no_argument, NULL, 'r'},
                                       {"schema", required_argument, NULL, OPT_SCHEMA},
                                       {"delimiter", required_argument, NULL, OPT_DELIMITER},
                                       CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct cdr_connection k;
  struct cdr_upload_opts uo;
  struct csv_schema schema;
  struct progress prog;
  const char *table, *file, *schema_spec = NULL;
  char why[1024], safe[256];
  size_t i;
  json_t *res = NULL, *cols, *col, *rows;
  struct stat st;
  int ch, r, allow_sim = 0, rc = 1, npos, replace = 0, comma = 0;

  memset(&o, 0, sizeof(o));
  memset(&k, 0, sizeof(k));
  memset(&uo, 0, sizeof(uo));
  memset(&schema, 0, sizeof(schema));
  memset(&prog, 0, sizeof(prog));
  while ((ch = cli_connect_getopt(argc, argv, "r" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'r': replace = 1; break;
    case OPT_SCHEMA: schema_spec = optarg; break;
    case OPT_DELIMITER:
      if (strcmp(optarg, ",") == 0)
        comma = 1;
      else if (strcmp(optarg, ";") == 0 || strcmp(optarg, "\\t") == 0 || strcmp(optarg, "\t") == 0 ||
               strcmp(optarg, "tab") == 0)
        return cli_usage(CMD, "--delimiter %s: " CONVERT_HINT, optarg, optarg[0] == ';' ? ";" : "\\t");
      else
        return cli_usage(CMD, "--delimiter takes , (CDR reads comma-separated CSV only)");
      break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  npos = argc - optind;
  if (npos != 2)
    return cli_usage(CMD, "expected TABLE and FILE.csv");
  table = argv[optind];
  file = argv[optind + 1];
  if (schema_spec != NULL && (r = csv_schema_parse(&schema, schema_spec, why, sizeof(why))) != 0)
    return r == CDR_ERR_ARG ? cli_usage(CMD, "--schema: %s", why) : cli_fail(CMD, "out of memory");

  if (stat(file, &st) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_NOT_FOUND, "cannot read %s: no such file", file);
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = cli_fail_code(CMD, CDR_ERR_IO, "%s is not a regular file", file);
    goto out;
  }
  if (access(file, R_OK) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot read %s: permission denied", file);
    goto out;
  }

  if (!comma && (rc = check_delimiter(file)) != 0)
    goto out;
  if ((rc = cli_connect_user(CMD, &o, &k, NULL)) != 0)
    goto out;
  rc = 1;
  uo.replace = replace;
  uo.schema = schema_spec != NULL ? &schema : NULL;
  prog.on = isatty(STDERR_FILENO);
  r = cdr_client_upload_stream(k.client, k.session, table, file, &uo, progress_draw, &prog, &res);
  progress_end(&prog);
  if (r != 0) {
    rc = cli_fail_client(CMD, k.client, r, NULL);
    goto out;
  }
  cols = json_object_get(res, "columns");
  rows = json_object_get(res, "rows");
  cdr_sanitize(safe, sizeof(safe), cdr_json_string(res, "table") ? cdr_json_string(res, "table") : table);
  printf("%s table %s: %" JSON_INTEGER_FORMAT " rows\n", replace ? "replaced" : "uploaded", safe,
         json_is_integer(rows) ? json_integer_value(rows) : 0);
  if (json_is_array(cols) && json_array_size(cols) > 0) {
    printf("columns:");
    json_array_foreach(cols, i, col) {
      const char *n = cdr_json_string(col, "name"), *t = cdr_json_string(col, "type");
      char sn[256], stype[64];
      cdr_sanitize(sn, sizeof(sn), n ? n : "?");
      cdr_sanitize(stype, sizeof(stype), t ? t : "?");
      printf("%s %s %s", i == 0 ? "" : ",", sn, stype);
    }
    printf("\n");
  }
  rc = 0;
out:
  csv_schema_free(&schema);
  json_decref(res);
  cdr_connection_close(&k);
  return rc;
}
