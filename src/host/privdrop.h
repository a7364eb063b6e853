/*
 * privdrop.h - cdrd started as root gives root up (OpenSSH privsep
 * style: decide early, switch before touching anything, verify that
 * there is no way back).
 *
 * Who cdrd becomes: --user NAME, or else the owner of the room folder,
 * the one user that can read its keys (0600) and write its state.  A
 * room folder that root owns has no such user; cdrd then stays root and
 * says so at every start (see privdrop_plan for why it does not fall back
 * to "nobody").
 *
 * The switch happens in two steps:
 *   privdrop_begin   before the room, the token or the state store is
 *                    opened and before the enclave is started: real and
 *                    effective ids become the user's (supplementary
 *                    groups dropped), so every file cdrd makes is the
 *                    user's and the enclave is exec'd without any
 *                    privilege.  Only the saved set-user-ID stays 0.
 *   privdrop_finish  around the listening socket: for a port below 1024
 *                    root comes back (privdrop_before_listen) just to
 *                    bind it; then every id, real, effective and saved,
 *                    becomes the user's, and cdrd checks that setuid(0)
 *                    and setgid(0) now fail.
 * Any failure is fatal: cdrd never goes on half-switched.
 */
#ifndef CDR_HOST_PRIVDROP_H
#define CDR_HOST_PRIVDROP_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "common/err.h"

struct privdrop {
  int active;      /* started as root with a user to become */
  int finished;    /* privdrop_finish done */
  uid_t uid;
  gid_t gid;
  char name[64];   /* for the log: the user name, or "uid N" */
  struct rlimit memlock; /* ours before privdrop_begin raised it */
  int memlock_raised;
};

/* Decide.  Not root: nothing to do (a --user naming someone else is an
 * error: only root can switch).  Root: `user` (NULL: not given), which
 * must exist and not be root, or else the owner of room_dir if that is
 * not root.  0 (p->active says whether a switch is due), or a cdr_err
 * after logging why. */
int privdrop_plan(struct privdrop *p, const char *user, const char *room_dir) CDR_WUR;

/* Step one (see above), when p->active.  Also raises RLIMIT_MEMLOCK to
 * unlimited, while still root, so that the enclave cdrd starts later
 * (after privdrop_finish: cdrd listens before it starts the enclave)
 * can still lock all its memory (harden.c) without CAP_IPC_LOCK; cdrd's
 * own limit goes back at privdrop_memlock_restore. */
int privdrop_begin(struct privdrop *p) CDR_WUR;

/* Before binding `port` (0: any): root back for a port below 1024,
 * otherwise privdrop_finish now, so that the server's threads never run
 * with a way back to root. */
int privdrop_before_listen(struct privdrop *p, uint16_t port) CDR_WUR;

/* Step two (see above); a no-op when not active or already done. */
int privdrop_finish(struct privdrop *p) CDR_WUR;

/* Once the enclave is started: cdrd's own RLIMIT_MEMLOCK back to what
 * it was before privdrop_begin (lowering needs no privilege). */
void privdrop_memlock_restore(struct privdrop *p);

#endif
