/*
 * cmd_room_backup.c - `cdr room backup ROOM DEST` and `cdr room restore
 * BACKUP ROOM`: a consistent copy of a room folder, taken while its
 * server runs (src/room/backup.c), and the same copy back into a room's
 * place.  docs/DEPLOY.md "Backup and restore" says what a restore means
 * to the members: a rollback, which their clients refuse.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "room/room.h"

static void backup_help(int restore) {
  if (restore)
    printf("Usage: cdr room restore BACKUP ROOM\n"
           "\n"
           "Copy the backup folder BACKUP (made by 'cdr room backup') to the new\n"
           "folder ROOM, ready for 'cdr serve ROOM'.  The embedded token's PIN is\n"
           "not in a backup: set CDR_HSM_PIN, or put the PIN back in\n"
           "ROOM/hsm/user-pin (mode 0600), before serving.\n"
           "\n"
           "A restored room is a rollback: members' clients that saw later\n"
           "activity refuse it (audit_rollback) until they agree to it.  On SEV-SNP\n"
           "the sealed state opens only where the same sealing key is derived\n"
           "(same chip, same measurement); TDX and Nitro rooms keep no sealed state.\n"
           "See docs/DEPLOY.md.\n");
  else
    printf("Usage: cdr room backup ROOM DEST\n"
           "\n"
           "Copy the room folder ROOM to the new folder DEST (mode 0700), also while\n"
           "'cdr serve ROOM' runs: the enclave's sealed state as of one commit (the\n"
           "manifest, the tables it names, the audit log up to it and any later\n"
           "entries), then the CA, token and attestation files and crl.pem, then\n"
           "host.db through SQLite's online backup.  The embedded token's PIN file\n"
           "(ROOM/hsm/user-pin) is left out: with it the backup could sign as the\n"
           "room CA.  Keep the PIN apart.  Archive DEST as you like (tar).\n"
           "\n"
           "Restore with 'cdr room restore DEST NEWROOM'; see its --help for what a\n"
           "restore means to the members.\n");
}

/* backup and restore: the same copy, said differently. */
static int room_copy(int argc, char **argv, int restore) {
  static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *cmd = restore ? "room restore" : "room backup";
  struct cdr_room *room = NULL;
  struct cdr_room_backup_info info;
  int ch, r;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (ch == 'h') {
      backup_help(restore);
      return 0;
    }
    return cli_usage(cmd, "unknown option: %s", argv[optind - 1]);
  }
  if (argc - optind != 2)
    return cli_usage(cmd, restore ? "expected BACKUP and ROOM" : "expected ROOM and DEST");
  const char *src = argv[optind], *dest = argv[optind + 1];
  if ((r = cdr_room_open(src, &room)) != 0)
    return cli_fail_err(cmd, r, "cannot open the room %s", src);
  r = cdr_room_backup(room, dest, &info);
  cdr_room_free(room);
  if (r == CDR_ERR_ARG) /* DEST exists or is inside the room: nothing was written */
    return cli_fail_err(cmd, r, "cannot copy %s to %s", src, dest);
  if (r != 0)
    return cli_fail_err(cmd, r, "cannot copy %s to %s; %s is incomplete: remove it", src, dest, dest);
  printf("%s %s to %s: %zu sealed table file%s, %" PRIu64 " bytes of audit log, host.db\n",
         restore ? "restored" : "backed up", src, dest, info.tables, info.tables == 1 ? "" : "s", info.audit_bytes);
  if (info.attempts > 1)
    printf("(the room committed during the first snapshot%s of its state; snapshot %d was consistent)\n",
           info.attempts > 2 ? "s" : "", info.attempts);
  if (info.pin_left_out)
    printf("the token PIN (%s/hsm/user-pin) is not in the copy: keep it apart; to serve the copy, set "
           "CDR_HSM_PIN or put the PIN in %s/hsm/user-pin (mode 0600)\n",
           src, dest);
  if (restore)
    printf("this is a rollback: members whose clients saw later activity are refused until they agree "
           "(docs/DEPLOY.md)\n");
  return 0;
}

int cmd_room_backup(int argc, char **argv) { return room_copy(argc, argv, 0); }

int cmd_room_restore(int argc, char **argv) { return room_copy(argc, argv, 1); }
