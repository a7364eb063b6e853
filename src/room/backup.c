/*
 * backup.c - a consistent copy of a room folder, while its cdrd runs
 * (cdr_room_backup, room.h; docs/DEPLOY.md "Backup and restore").
 *
 * What "consistent" means here is what the enclave checks at start
 * (docs/design/persistence.md): the sealed manifest is the commit point;
 * it names the table files of its version and the audit log's size and
 * head at its commit; the log must extend that, and must hold no commit
 * newer than the manifest (else the start is refused as a rollback).
 * cdrd holds ROOM/state under flock for its whole life, so the copy
 * cannot take that lock; it relies on the order in which a commit
 * writes (src/enclave/persist.c, through src/host/store.c):
 *
 *   1. new table files (fresh names; temp file, fsync, rename)
 *   2. fdatasync of the audit log
 *   3. the manifest: temp file, fsync, rename  (the commit point)
 *   4. the commit's own audit record, appended
 *   5. the replaced or dropped table's file deleted
 *
 * So the state is snapshot as: open the manifest; open the identity,
 * platform note and audit log, note the log's size; open every table
 * file; then check that the manifest's name still points at the file
 * opened.  If it does, no later commit reached step 3 before the log's
 * size was read, so the log up to that size holds no newer commit; and
 * no file of the opened manifest's tables was deleted (step 5 comes after
 * step 3).  If it does not, a commit happened in between: start again.
 * The copy then reads from the open descriptors, so later commits do not
 * matter.  The log is cut at its last whole record (u32be len || sealed
 * record), in case an append was caught half written; records past the
 * manifest's (later queries' entries) are kept: they extend the chain.
 * A table file of a commit not yet made is copied too; cdrd removes such
 * files at start ("no manifest names it").
 *
 * The rest of the folder is copied after the state: crl.pem then (a CRL
 * only grows, so the copy is at least as new as the CRL number the
 * copied manifest recorded, which the enclave requires), and host.db
 * last, through SQLite's online backup API (a transaction-consistent
 * snapshot; a revocation is recorded in host.db before crl.pem is
 * written).  hsm/user-pin, the embedded token's generated PIN, is left
 * out on purpose: SoftHSM2 keeps the CA key encrypted under that PIN, so
 * the backup alone cannot sign as the room CA; the operator keeps the
 * PIN apart.  hsm/softhsm2.conf is written anew for the copy's own path
 * (it names its token folder by absolute path).  Symbolic links and
 * other non-regular files are not copied.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "hsm.h"
#include "room_int.h"

#define BACKUP_ATTEMPTS 20 /* snapshots tried before giving up (a commit between open and check) */
#define BACKUP_MAX_TABLES 100000
#define BACKUP_MAX_DEPTH 8
#define COPY_CHUNK 65536

/* The state snapshot: descriptors opened before the manifest check. */
struct snapshot {
  int manifest, identity, platform, audit; /* -1: absent */
  uint64_t audit_size;
  char (*names)[64]; /* table file names */
  int *fds;
  size_t n;
};

static void snapshot_close(struct snapshot *s) {
  int *one[] = {&s->manifest, &s->identity, &s->platform, &s->audit};
  for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
    if (*one[i] >= 0)
      close(*one[i]);
    *one[i] = -1;
  }
  for (size_t i = 0; i < s->n; i++)
    close(s->fds[i]);
  free(s->names);
  free(s->fds);
  s->names = NULL;
  s->fds = NULL;
  s->n = 0;
}

/* open(dirfd/name) for reading; *fd = -1 when it does not exist. */
static int open_optional(int dirfd, const char *name, int *fd) {
  *fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (*fd < 0 && errno != ENOENT) {
    log_error("backup: cannot open state/%s: %s", name, strerror(errno));
    return CDR_ERR_IO;
  }
  return 0;
}

static int is_table_file(const char *s) {
  return strlen(s) == 32 + strlen(".sealed") && cdr_hex_lower_ok(s, 32) && strcmp(s + 32, ".sealed") == 0;
}

/* Open every table file under state/tables.  CDR_ERR_BUSY when one
 * vanished between the listing and its open (a commit deleted it). */
static int open_tables(int state_fd, struct snapshot *s) {
  int tfd = openat(state_fd, "tables", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r = 0;
  DIR *d;
  struct dirent *de;
  if (tfd < 0)
    return errno == ENOENT ? 0 : CDR_ERR_IO;
  if ((d = fdopendir(tfd)) == NULL) {
    close(tfd);
    return CDR_ERR_IO;
  }
  while (r == 0 && (de = readdir(d)) != NULL) {
    if (!is_table_file(de->d_name))
      continue;
    if (s->n >= BACKUP_MAX_TABLES) {
      r = CDR_ERR_TOO_LARGE;
      break;
    }
    char(*names)[64] = realloc(s->names, (s->n + 1) * sizeof(*names));
    int *fds = names ? realloc(s->fds, (s->n + 1) * sizeof(*fds)) : NULL;
    if (names)
      s->names = names;
    if (fds)
      s->fds = fds;
    if (names == NULL || fds == NULL) {
      r = CDR_ERR_NOMEM;
      break;
    }
    int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      r = errno == ENOENT ? CDR_ERR_BUSY : CDR_ERR_IO;
      break;
    }
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", de->d_name);
    s->fds[s->n++] = fd;
  }
  closedir(d);
  return r;
}

/* One attempt at a snapshot of ROOM/state: 0, CDR_ERR_BUSY (a commit
 * came between: try again) or another error. */
static int snapshot_take(int state_fd, struct snapshot *s) {
  struct stat before, after;
  int r, had, has;
  if ((r = open_optional(state_fd, "manifest.sealed", &s->manifest)) != 0)
    return r;
  had = s->manifest >= 0;
  if (had && fstat(s->manifest, &before) != 0)
    return CDR_ERR_IO;
  if ((r = open_optional(state_fd, "identity.sealed", &s->identity)) != 0 ||
      (r = open_optional(state_fd, "platform", &s->platform)) != 0 ||
      (r = open_optional(state_fd, "audit.sealed", &s->audit)) != 0)
    return r;
  if (s->audit >= 0) {
    struct stat st;
    if (fstat(s->audit, &st) != 0)
      return CDR_ERR_IO;
    s->audit_size = (uint64_t)st.st_size;
  }
  if ((r = open_tables(state_fd, s)) != 0)
    return r;
  has = fstatat(state_fd, "manifest.sealed", &after, AT_SYMLINK_NOFOLLOW) == 0;
  if (!has && errno != ENOENT)
    return CDR_ERR_IO;
  if (had != has || (had && (before.st_ino != after.st_ino || before.st_dev != after.st_dev)))
    return CDR_ERR_BUSY;
  return 0;
}

/* Copy `limit` bytes (UINT64_MAX: all) from fd, from its start, to a new
 * file `path` (must not exist) with `mode`, then fsync it. */
static int copy_fd(int fd, const char *path, int mode, uint64_t limit) {
  uint8_t *buf = malloc(COPY_CHUNK);
  uint64_t off = 0;
  int out = -1, r = 0;
  if (buf == NULL)
    return CDR_ERR_NOMEM;
  if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777)) < 0) {
    log_error("backup: cannot create %s: %s", path, strerror(errno));
    free(buf);
    return CDR_ERR_IO;
  }
  while (off < limit) {
    size_t want = limit - off < COPY_CHUNK ? (size_t)(limit - off) : COPY_CHUNK;
    ssize_t got = pread(fd, buf, want, (off_t)off);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      r = CDR_ERR_IO;
      break;
    }
    if (got == 0)
      break;
    if ((r = cdr_write_full(out, buf, (size_t)got)) != 0)
      break;
    off += (uint64_t)got;
  }
  if (r == 0 && limit != UINT64_MAX && off != limit)
    r = CDR_ERR_IO; /* the file shrank under us */
  if (r == 0 && fsync(out) != 0)
    r = CDR_ERR_IO;
  if (close(out) != 0 && r == 0)
    r = CDR_ERR_IO;
  free(buf);
  if (r != 0)
    log_error("backup: copying to %s failed", path);
  return r;
}

/* The end of the audit log's last whole record within its first `size`
 * bytes (records: u32be len || len bytes). */
static int audit_whole_records(int fd, uint64_t size, uint64_t *end) {
  uint64_t off = 0;
  uint8_t h[4];
  while (size - off >= 4) {
    if (pread(fd, h, 4, (off_t)off) != 4)
      return CDR_ERR_IO;
    uint64_t len = ((uint64_t)h[0] << 24) | ((uint64_t)h[1] << 16) | ((uint64_t)h[2] << 8) | h[3];
    if (len == 0 || len > size - off - 4)
      break;
    off += 4 + len;
  }
  *end = off;
  return 0;
}

static int copy_snapshot(struct snapshot *s, const char *dest, struct cdr_room_backup_info *info) {
  char *state = cdr_path_join(dest, "state"), *tables = NULL, *p = NULL;
  int r = CDR_ERR_NOMEM;
  if (state == NULL || (tables = cdr_path_join(state, "tables")) == NULL)
    goto out;
  if (mkdir(state, 0700) != 0 || mkdir(tables, 0700) != 0) {
    r = CDR_ERR_IO;
    goto out;
  }
  static const char *const names[] = {"manifest.sealed", "identity.sealed", "platform"};
  int fds[] = {s->manifest, s->identity, s->platform};
  for (size_t i = 0; i < 3; i++) {
    if (fds[i] < 0)
      continue;
    r = (p = cdr_path_join(state, names[i])) ? copy_fd(fds[i], p, 0600, UINT64_MAX) : CDR_ERR_NOMEM;
    free(p);
    p = NULL;
    if (r != 0)
      goto out;
  }
  if (s->audit >= 0) {
    if ((r = audit_whole_records(s->audit, s->audit_size, &info->audit_bytes)) != 0)
      goto out;
    r = (p = cdr_path_join(state, "audit.sealed")) ? copy_fd(s->audit, p, 0600, info->audit_bytes) : CDR_ERR_NOMEM;
    free(p);
    p = NULL;
    if (r != 0)
      goto out;
  }
  for (size_t i = 0; i < s->n; i++) {
    r = (p = cdr_path_join(tables, s->names[i])) ? copy_fd(s->fds[i], p, 0600, UINT64_MAX) : CDR_ERR_NOMEM;
    free(p);
    p = NULL;
    if (r != 0)
      goto out;
  }
  info->tables = s->n;
  r = 0;
out:
  free(state);
  free(tables);
  return r;
}

/* Copy ROOM/state as one snapshot (the file comment). */
static int backup_state(const struct cdr_room *room, const char *dest, struct cdr_room_backup_info *info) {
  struct snapshot s = {.manifest = -1, .identity = -1, .platform = -1, .audit = -1};
  char *path;
  int state_fd, r = CDR_ERR_BUSY;
  if (cdr_room_path(room, "state", &path) != 0)
    return CDR_ERR_NOMEM;
  state_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  free(path);
  if (state_fd < 0)
    return errno == ENOENT ? 0 : CDR_ERR_IO; /* never served: nothing sealed yet */
  for (info->attempts = 1; info->attempts <= BACKUP_ATTEMPTS; info->attempts++) {
    r = snapshot_take(state_fd, &s);
    if (r == 0)
      r = copy_snapshot(&s, dest, info);
    snapshot_close(&s);
    if (r != CDR_ERR_BUSY)
      break;
    usleep(50000); /* a commit is under way: let it finish */
  }
  if (r == CDR_ERR_BUSY)
    log_error("backup: the room committed changes during each of %d attempts at a snapshot", BACKUP_ATTEMPTS);
  close(state_fd);
  return r;
}

/* Left out of the generic copy: state/ and host.db (copied their own way),
 * SQLite's side files, the token PIN, the SoftHSM2 configuration (written
 * anew), and the TLS server key and certificate: the key is a plain file
 * key, and a backup must not let its holder pose as the room's server
 * (cdrd issues a new pair through the token at the restored room's first
 * start). */
static int skipped(const char *rel) {
  static const char *const skip[] = {"state",        "host.db",           "host.db-journal", "host.db-wal",
                                     "host.db-shm",  "hsm/user-pin",      "hsm/softhsm2.conf",
                                     "tls/server.key", "tls/server.crt"};
  for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
    if (strcmp(rel, skip[i]) == 0)
      return 1;
  return 0;
}

/* Copy the folder src/rel to dest/rel, recursively, regular files only. */
static int copy_tree(const char *src, const char *dest, const char *rel, int depth) {
  char *sdir = rel[0] ? cdr_path_join(src, rel) : strdup(src), *sub = NULL, *sp = NULL, *dp = NULL;
  DIR *d = NULL;
  struct dirent *de;
  int r = 0;
  if (sdir == NULL)
    return CDR_ERR_NOMEM;
  if (depth > BACKUP_MAX_DEPTH || (d = opendir(sdir)) == NULL) {
    free(sdir);
    return CDR_ERR_IO;
  }
  while (r == 0 && (de = readdir(d)) != NULL) {
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if ((sub = rel[0] ? cdr_path_join(rel, de->d_name) : strdup(de->d_name)) == NULL ||
        (sp = cdr_path_join(src, sub)) == NULL || (dp = cdr_path_join(dest, sub)) == NULL) {
      r = CDR_ERR_NOMEM;
    } else if (!skipped(sub) && lstat(sp, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        /* 0700 whatever the source says: a tampered backup's 0777
         * folders must not make the restored room world-writable. */
        if (mkdir(dp, 0700) != 0 && errno != EEXIST)
          r = CDR_ERR_IO;
        else
          r = copy_tree(src, dest, sub, depth + 1);
      } else if (S_ISREG(st.st_mode)) {
        int fd = open(sp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        r = fd < 0 ? CDR_ERR_IO : copy_fd(fd, dp, (int)(st.st_mode & 0755), UINT64_MAX);
        if (fd >= 0)
          close(fd);
      }
    }
    free(sub);
    free(sp);
    free(dp);
    sub = sp = dp = NULL;
  }
  closedir(d);
  free(sdir);
  return r;
}

/* host.db through SQLite's online backup: one consistent snapshot. */
static int backup_host_db(const struct cdr_room *room, const char *dest) {
  char *from = NULL, *to = cdr_path_join(dest, "host.db");
  sqlite3 *src = NULL, *dst = NULL;
  sqlite3_backup *b;
  int r = CDR_ERR_IO;
  if (to == NULL || cdr_room_path(room, "host.db", &from) != 0) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if (access(from, F_OK) != 0) {
    r = 0; /* a room without one yet */
    goto out;
  }
  int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600); /* mode 0600 before SQLite writes */
  if (fd < 0 || close(fd) != 0)
    goto out;
  if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
      sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    goto out;
  sqlite3_busy_timeout(src, 5000);
  if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL)
    goto out;
  int rc;
  while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
    sqlite3_sleep(50);
  if (sqlite3_backup_finish(b) == SQLITE_OK && rc == SQLITE_DONE)
    r = 0;
out:
  if (r != 0)
    log_error("backup: copying host.db failed: %s", dst ? sqlite3_errmsg(dst) : src ? sqlite3_errmsg(src) : "cannot open");
  sqlite3_close(src);
  sqlite3_close(dst);
  free(from);
  free(to);
  return r;
}

int cdr_room_backup(const struct cdr_room *room, const char *dest, struct cdr_room_backup_info *info) {
  char *abs = NULL, *hsm = NULL, *pin = NULL;
  int r;
  memset(info, 0, sizeof(*info));
  if (mkdir(dest, 0700) != 0) {
    log_error("backup: cannot create %s: %s", dest, errno == EEXIST ? "it exists (give a new folder)" : strerror(errno));
    return errno == EEXIST ? CDR_ERR_ARG : CDR_ERR_IO;
  }
  if ((abs = realpath(dest, NULL)) == NULL)
    return CDR_ERR_IO;
  size_t rl = strlen(room->dir);
  if (strncmp(abs, room->dir, rl) == 0 && (abs[rl] == '\0' || abs[rl] == '/')) {
    log_error("backup: %s is inside the room itself", dest);
    (void)rmdir(abs);
    r = CDR_ERR_ARG;
    goto out;
  }
  /* Order matters: the state, then the rest (crl.pem), then host.db. */
  if ((r = backup_state(room, abs, info)) != 0 || (r = copy_tree(room->dir, abs, "", 0)) != 0 ||
      (r = backup_host_db(room, abs)) != 0)
    goto out;
  if (room->embedded_softhsm) {
    if ((hsm = cdr_path_join(abs, "hsm")) == NULL || (pin = cdr_path_join(room->dir, "hsm/user-pin")) == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    if ((r = cdr_hsm_softhsm_write_conf(hsm)) != 0)
      goto out;
    info->pin_left_out = access(pin, F_OK) == 0;
  }
out:
  free(abs);
  free(hsm);
  free(pin);
  return r;
}
