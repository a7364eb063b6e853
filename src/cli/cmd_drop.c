/*
 * cmd_drop.c - `cdr drop [URL --key K --cert C] TABLE`: the owner of a
 * table deletes it, with its grants, from the enclave.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"

static const char *const CMD = "drop";

static void help(void) {
  printf("Usage: cdr drop [URL --key KEY --cert CERT] TABLE [options]\n\n"
         "Delete TABLE, which you own, with its rows, hidden columns and grants.\n"
         "This cannot be undone (upload the CSV again to bring it back).\n\n");
  cli_connect_help();
}

int cmd_drop(int argc, char **argv) {
  static const struct option opts[] = {CLI_CONNECT_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  json_t *hdr, *res = NULL;
  char st[128];
  int ch, r, allow_sim = 0, rc;

  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 1)
    return cli_usage(CMD, "expected one TABLE");
  hdr = json_pack("{s:s,s:s}", "op", "drop", "table", argv[optind]);
  rc = cli_room_op(CMD, &o, hdr, &res);
  if (rc == 0) {
    cdr_sanitize(st, sizeof(st), argv[optind]);
    printf("dropped table %s\n", st);
  }
  json_decref(hdr);
  json_decref(res);
  return rc;
}
