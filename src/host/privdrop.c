/*
 * privdrop.c - see privdrop.h.
 *
 * Why a root-owned room keeps cdrd root instead of switching to
 * "nobody": the room's private files (the sim platform key and sealing
 * secret, the token's objects, host.db, state/) are 0600 and root's, so
 * nobody could open none of them, and cdrd would fail later with a less
 * clear message.  The operator's fix is to give the room to a service
 * user (or name one with --user), which the warning says.  Starting as
 * root on such a room is what `make demo` and the tests do in a root
 * container.
 *
 * setgroups, setresgid and setresuid act on every thread (glibc applies
 * them process-wide), but privdrop_begin runs before any thread exists
 * and privdrop_finish, for an unprivileged port, before the HTTP server
 * starts its threads.
 */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* The user named `user` (a name, or a number) into p. */
static int privdrop_lookup(struct privdrop *p, const char *user) {
  struct passwd pw, *res = NULL;
  char buf[4096], *end;
  int e;
  if ((e = getpwnam_r(user, &pw, buf, sizeof(buf), &res)) != 0 || res == NULL) {
    unsigned long n;
    errno = 0;
    n = strtoul(user, &end, 10);
    if (user[0] < '0' || user[0] > '9' || *end != '\0' || errno != 0 || n > (unsigned long)(uid_t)-2 ||
        (e = getpwuid_r((uid_t)n, &pw, buf, sizeof(buf), &res)) != 0 || res == NULL) {
      log_error("--user %s: no such user%s%s", user, e ? ": " : "", e ? strerror(e) : "");
      return CDR_ERR_ARG;
    }
  }
  p->uid = pw.pw_uid;
  p->gid = pw.pw_gid;
  snprintf(p->name, sizeof(p->name), "%s", pw.pw_name);
  return 0;
}

int privdrop_plan(struct privdrop *p, const char *user, const char *room_dir) {
  struct stat st;
  memset(p, 0, sizeof(*p));
  if (geteuid() != 0) {
    struct privdrop want;
    if (user == NULL)
      return 0;
    memset(&want, 0, sizeof(want));
    if (privdrop_lookup(&want, user) != 0)
      return CDR_ERR_ARG;
    if (want.uid != geteuid()) {
      log_error("--user %s: only a cdrd started as root can switch to another user", user);
      return CDR_ERR_ARG;
    }
    return 0;
  }
  if (user != NULL) {
    if (privdrop_lookup(p, user) != 0)
      return CDR_ERR_ARG;
    if (p->uid == 0 || p->gid == 0) {
      log_error("--user %s: that is root (uid or gid 0); name an unprivileged user", user);
      return CDR_ERR_ARG;
    }
  } else {
    if (stat(room_dir, &st) != 0) {
      log_error("cannot open the room %s: %s", room_dir, strerror(errno));
      return CDR_ERR_IO;
    }
    if (st.st_uid == 0) {
      log_warn("running as root: the room folder %s belongs to root, so there is no user to switch to; give it "
               "to a service user (chown -R USER %s) or pass --user USER",
               room_dir, room_dir);
      return 0;
    }
    {
      struct passwd pw, *res = NULL;
      char buf[4096];
      p->uid = st.st_uid;
      p->gid = st.st_gid;
      if (getpwuid_r(st.st_uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
        p->gid = pw.pw_gid;
        snprintf(p->name, sizeof(p->name), "%s", pw.pw_name);
      } else {
        snprintf(p->name, sizeof(p->name), "uid %lu", (unsigned long)st.st_uid);
      }
    }
    if (p->gid == 0) {
      log_error("the owner of %s (%s) has group 0 (root); pass --user USER", room_dir, p->name);
      return CDR_ERR_ARG;
    }
  }
  p->active = 1;
  return 0;
}

int privdrop_begin(struct privdrop *p) {
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  if (!p->active)
    return 0;
  if (getrlimit(RLIMIT_MEMLOCK, &p->memlock) == 0 && setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0)
    p->memlock_raised = 1;
  else
    log_warn("cannot lift RLIMIT_MEMLOCK for the enclave: it may not lock all its memory");
  if (setgroups(0, NULL) != 0 || setresgid(p->gid, p->gid, 0) != 0 || setresuid(p->uid, p->uid, 0) != 0) {
    log_error("cannot switch to user %s (uid %lu, gid %lu): %s; refusing to run as root", p->name,
              (unsigned long)p->uid, (unsigned long)p->gid, strerror(errno));
    return CDR_ERR_INTERNAL;
  }
  return 0;
}

int privdrop_before_listen(struct privdrop *p, uint16_t port) {
  if (!p->active || p->finished)
    return 0;
  if (port == 0 || port >= 1024)
    return privdrop_finish(p);
  if (setresuid((uid_t)-1, 0, (uid_t)-1) != 0) {
    log_error("cannot take root back to bind port %u: %s", (unsigned)port, strerror(errno));
    return CDR_ERR_INTERNAL;
  }
  return 0;
}

int privdrop_finish(struct privdrop *p) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (!p->active || p->finished)
    return 0;
  if (setresgid(p->gid, p->gid, p->gid) != 0 || setresuid(p->uid, p->uid, p->uid) != 0) {
    log_error("cannot drop root for user %s: %s", p->name, strerror(errno));
    return CDR_ERR_INTERNAL;
  }
  /* No way back: every id is the user's, no supplementary group, and
   * asking for root fails. */
  if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != p->uid || eu != p->uid ||
      su != p->uid || rg != p->gid || eg != p->gid || sg != p->gid || getgroups(0, NULL) != 0 || setuid(0) == 0 ||
      setgid(0) == 0 || seteuid(0) == 0) {
    log_error("dropping root for user %s did not hold; refusing to run", p->name);
    return CDR_ERR_INTERNAL;
  }
  p->finished = 1;
  log_info("running as user %s (uid %lu, gid %lu), not root", p->name, (unsigned long)p->uid, (unsigned long)p->gid);
  return 0;
}

void privdrop_memlock_restore(struct privdrop *p) {
  if (!p->memlock_raised)
    return;
  if (setrlimit(RLIMIT_MEMLOCK, &p->memlock) != 0)
    log_warn("cannot restore RLIMIT_MEMLOCK: %s", strerror(errno));
  p->memlock_raised = 0;
}
