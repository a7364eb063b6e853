/*
 * cmd_upload.c - `cdr upload [URL --key K --cert C] TABLE FILE.csv
 * [--replace]`: a provider uploads a CSV file as a new table (which it
 * then owns), or replaces the rows and columns of a table it owns.  The file is read whole
 * (at most 64 MiB, checked before reading and before connecting), sealed
 * to the attested enclave in one request, and wiped from memory after.
 */
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "client/connect.h"
#include "common/limits.h"
#include "common/util.h"

static const char *const CMD = "upload";

static void help(void) {
  printf("Usage: cdr upload [URL --key KEY --cert CERT] TABLE FILE.csv [--replace] [options]\n\n"
         "Upload FILE.csv as the new table TABLE (role provider).  The CSV is RFC 4180,\n"
         "UTF-8, with a header row naming the columns; at most 64 MiB.  It is\n"
         "encrypted end to end to the enclave, after attestation.\n\n"
         "You own the table: only you can read it until you grant access\n"
         "(`cdr grant`).  With --replace, TABLE must be yours already; its rows and\n"
         "columns are replaced in one step (if the upload fails the old table stays),\n"
         "and its grants and hidden columns carry over to the columns that keep\n"
         "their names.\n\n"
         "Without URL, the profile (--profile NAME, or the default one saved by\n"
         "`cdr enroll`) gives the URL, key, certificate and room CA.  With URL, give\n"
         "--key and --cert, or a profile for that URL is used.\n\n"
         "Options:\n"
         "  -r, --replace                 replace your existing table TABLE\n"
         "  -k, --key KEY                 your private key (PEM)\n"
         "  -C, --cert CERT               your certificate from `cdr enroll` (PEM)\n"
         "  -c, --ca FILE                 the room CA certificate (default: the profile's,\n"
         "                                else CERT's .ca.crt file saved by enroll)\n"
         "  -p, --profile NAME            use this profile\n"
         "  -m, --expect-measurement HEX  require this enclave measurement (64 hex)\n"
         "  -s, --allow-sim               accept simulated attestation (not\n"
         "                                hardware-backed; proves nothing against the\n"
         "                                server operator)\n"
         "  -h, --help                    show this help\n\n"
         "Environment:\n"
         "  CDR_ALLOW_SIM   1 has the effect of --allow-sim\n"
         "  CDR_CONFIG_DIR  where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                  else ~/.config/cdr)\n");
}

int cmd_upload(int argc, char **argv) {
  static const struct option opts[] = {{"replace", no_argument, NULL, 'r'}, CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct cdr_connection k;
  const char *table, *file;
  char why[1024], text[1024], safe[256];
  uint8_t *csv = NULL;
  size_t csv_len = 0, i;
  json_t *res = NULL, *cols, *col, *rows;
  struct stat st;
  int ch, r, allow_sim = 0, rc = 1, npos, replace = 0;

  memset(&o, 0, sizeof(o));
  memset(&k, 0, sizeof(k));
  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "r" CLI_CONNECT_SHORTOPTS "h", opts, NULL)) != -1) {
    if (cli_connect_option(ch, optarg, &o, &allow_sim))
      continue;
    switch (ch) {
    case 'r': replace = 1; break;
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
  o.need_user = 1;
  o.open_session = 1;

  if (stat(file, &st) != 0)
    return cli_fail(CMD, "cannot read %s: no such file", file);
  if (!S_ISREG(st.st_mode))
    return cli_fail(CMD, "%s is not a regular file", file);
  if ((uint64_t)st.st_size > CDR_MAX_UPLOAD_BYTES)
    return cli_fail(CMD, "%s is %llu bytes; an upload is limited to 64 MiB (%u bytes): split the file", file,
                    (unsigned long long)st.st_size, (unsigned)CDR_MAX_UPLOAD_BYTES);
  if ((r = cdr_file_read(file, &csv, &csv_len, CDR_MAX_UPLOAD_BYTES)) != 0) {
    if (r == CDR_ERR_TOO_LARGE)
      return cli_fail(CMD, "%s is larger than the 64 MiB upload limit (%u bytes)", file,
                      (unsigned)CDR_MAX_UPLOAD_BYTES);
    return cli_fail_err(CMD, r, "cannot read %s", file);
  }

  if (cdr_connect(&k, &o, why, sizeof(why)) != 0) {
    cli_fail(CMD, "%s", why);
    goto out;
  }
  if (!k.ca_pinned)
    fprintf(stderr, "note: using the room CA that the server offered (not pinned); your certificate verifies "
                    "under it\n");
  if ((r = cdr_client_upload_ex(k.client, k.session, table, replace, csv, csv_len, &res)) != 0) {
    cdr_client_error_text(k.client, r, text, sizeof(text));
    cli_fail(CMD, "%s", text);
    goto out;
  }
  cols = json_object_get(res, "columns");
  rows = json_object_get(res, "rows");
  cdr_sanitize(safe, sizeof(safe), cdr_json_string(res, "table") ? cdr_json_string(res, "table") : table);
  printf("%s table %s: %" JSON_INTEGER_FORMAT " rows\n", replace ? "replaced" : "uploaded", safe, json_is_integer(rows) ? json_integer_value(rows) : 0);
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
  if (csv != NULL)
    OPENSSL_cleanse(csv, csv_len);
  free(csv);
  json_decref(res);
  cdr_connection_close(&k);
  return rc;
}
