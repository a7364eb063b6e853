/*
 * cmd_room_invites.c - `cdr room invites ROOM [--format table|csv|json]`
 * lists the room's open invitations (enrollment tokens neither used nor
 * expired: name, role, expiry, token id; never a token), and
 * `cdr room invites ROOM --cancel ID|NAME` ends one, so that the token
 * it names fails enrollment (token_unknown).  The tokens live in
 * ROOM/host.db (room/tokens_admin.c); no PIN is needed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "client/render.h"
#include "common/util.h"
#include "room/room.h"

#define CMD "room invites"

static void invites_help(void) {
  printf("Usage: cdr room invites ROOM [--format table|csv|json]\n"
         "  or:  cdr room invites ROOM --cancel ID|NAME\n"
         "\n"
         "List the room's open invitations: the tokens `cdr room invite` made that\n"
         "are neither used nor expired, with the name and role each is for, when it\n"
         "expires and its token id.  The token itself (its secret) is never shown.\n"
         "\n"
         "With --cancel, end one invitation, named by its token id or by the name it\n"
         "was made for (when only one open invitation has that name): its token then\n"
         "fails enrollment as unknown to the room (token_unknown).\n"
         "\n"
         "Options:\n"
         "  --cancel ID|NAME              cancel this invitation\n"
         "  -f, --format table|csv|json   output format of the list (default table;\n"
         "                                text is another name for table)\n"
         "  -h, --help                    show this help\n");
}

static int invites_print(const struct cdr_room *room, enum cli_format format) {
  struct cdr_token_info *list = NULL;
  size_t n = 0, i;
  json_t *res, *rows;
  int r, rc = 0;

  if ((r = cdr_token_list_open(room, cdr_now(), &list, &n)) != 0)
    return cli_fail_err(CMD, r, "cannot read the invitations of %s", room->dir);
  res = json_pack("{s:[s,s,s,s], s:[]}", "columns", "name", "role", "expires", "token_id", "rows");
  rows = json_object_get(res, "rows");
  for (i = 0; i < n && res != NULL; i++) {
    char expires[32];
    json_t *row;
    cdr_time_format(expires, sizeof(expires), list[i].expires_at);
    if (format == CLI_FORMAT_JSON)
      row = json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", list[i].name, "role", cdr_role_name(list[i].role), "expires",
                      expires, "expires_at", (json_int_t)list[i].expires_at, "token_id", list[i].token_id);
    else
      row = json_pack("[s,s,s,s]", list[i].name, cdr_role_name(list[i].role), expires, list[i].token_id);
    if (row == NULL || json_array_append_new(rows, row) != 0)
      rc = 1;
  }
  if (res == NULL || rc != 0)
    rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
  else if (format == CLI_FORMAT_TABLE && n == 0)
    printf("no open invitations\n");
  else if ((format == CLI_FORMAT_JSON   ? cdr_render_json_value(stdout, rows, JSON_ENSURE_ASCII)
            : format == CLI_FORMAT_CSV ? cdr_render_csv(stdout, res)
                                       : cdr_render_table(stdout, res)) != 0 ||
           fflush(stdout) != 0)
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the list");
  json_decref(res);
  cdr_token_list_free(list, n);
  return rc;
}

int cmd_room_invites(int argc, char **argv) {
  static const struct option opts[] = {{"cancel", required_argument, NULL, 'x'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  enum cli_format format = CLI_FORMAT_TABLE;
  const char *cancel = NULL;
  struct cdr_room *room = NULL;
  char id[33];
  int ch, r, rc;

  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'x': cancel = optarg; break;
    case 'f':
      if ((r = cli_format_parse(CMD, optarg, &format)) != 0)
        return r;
      break;
    case 'h': invites_help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected ROOM");
  if ((r = cdr_room_open(argv[optind], &room)) != 0)
    return cli_fail_err(CMD, r, "%s is not a usable room", argv[optind]);
  if (cancel == NULL) {
    rc = invites_print(room, format);
  } else {
    r = cdr_token_cancel(room, cancel, id);
    if (r == CDR_ERR_NOT_FOUND)
      rc = cli_fail_code(CMD, r, "no open invitation has the id or name '%s' (see `cdr room invites %s`)", cancel,
                         argv[optind]);
    else if (r == CDR_ERR_ARG)
      rc = cli_usage(CMD, "several open invitations are named '%s': give the token id from `cdr room invites`",
                     cancel);
    else if (r == CDR_ERR_TOKEN_USED)
      rc = cli_fail_code(CMD, r, "the invitation '%s' was used meanwhile: revoke the certificate instead "
                                 "(cdr room revoke)", cancel);
    else if (r != 0)
      rc = cli_fail_err(CMD, r, "cannot cancel the invitation '%s'", cancel);
    else
      rc = printf("cancelled the invitation %s: its token no longer enrolls anyone\n", id) < 0 ? 1 : 0;
  }
  cdr_room_free(room);
  return rc;
}
