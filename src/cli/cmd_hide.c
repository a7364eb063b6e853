/*
 * cmd_hide.c - `cdr hide [URL --key K --cert C] TABLE COLUMN [--unhide]`:
 * the owner of a table makes one of its columns readable by the owner
 * alone, whatever the grants say and however a query reaches it
 * (SELECT *, joins, subqueries, WHERE, ORDER BY...), or readable again.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"

static const char *const CMD = "hide";

static void help(void) {
  printf("Usage: cdr hide [URL --key KEY --cert CERT] TABLE COLUMN [--unhide] [options]\n\n"
         "Hide COLUMN of TABLE, which you own: from now on no one but you can read it,\n"
         "in any part of any query, whatever the grants say.  A query of another user\n"
         "that touches it fails and names the column.  --unhide makes it readable\n"
         "again by those whose grants cover it.\n\n"
         "Options:\n"
         "  -u, --unhide                  make the column readable again\n\n");
  cli_connect_help();
}

int cmd_hide(int argc, char **argv) {
  static const struct option opts[] = {{"unhide", no_argument, NULL, 'u'}, CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  json_t *hdr, *res = NULL;
  char st[128], sc[256];
  int ch, r, allow_sim = 0, unhide = 0, rc;

  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, "u" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'u': unhide = 1; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 2)
    return cli_usage(CMD, "expected TABLE and COLUMN");
  hdr = json_pack("{s:s,s:s,s:s,s:b}", "op", "hide", "table", argv[optind], "column", argv[optind + 1], "hidden",
                  !unhide);
  rc = cli_room_op(CMD, &o, hdr, &res);
  if (rc == 0) {
    cdr_sanitize(st, sizeof(st), argv[optind]);
    cdr_sanitize(sc, sizeof(sc), argv[optind + 1]);
    if (unhide)
      printf("column %s.%s is no longer hidden: grants that cover it apply again\n", st, sc);
    else
      printf("column %s.%s is hidden: only you can read it\n", st, sc);
  }
  json_decref(hdr);
  json_decref(res);
  return rc;
}
