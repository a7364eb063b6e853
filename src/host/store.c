/*
 * store.c - ROOM/state/ as a store of sealed objects; see store.h.
 *
 * All paths are built from a validated name, relative to directory file
 * descriptors opened once (openat family), so a symlink planted under
 * ROOM cannot redirect a write (O_NOFOLLOW on every open).
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

struct host_store {
  int state_fd;   /* ROOM/state */
  int tables_fd;  /* ROOM/state/tables */
  int cursors_fd; /* ROOM/state/cursors: pages of paged results */
};

#define TABLE_PREFIX "tables/"
#define CURSOR_PREFIX "cursors/"
#define ID_HEX 32
#define PAGE_HEX (ID_HEX + 8) /* cursor id, page index */

static int is_table_id(const char *s) { return strlen(s) == ID_HEX && cdr_hex_lower_ok(s, ID_HEX); }
static int is_page_id(const char *s) { return strlen(s) == PAGE_HEX && cdr_hex_lower_ok(s, PAGE_HEX); }

int host_store_name_ok(const char *name) {
  if (name == NULL)
    return 0;
  if (strcmp(name, "manifest") == 0 || strcmp(name, "identity") == 0 || strcmp(name, "audit") == 0)
    return 1;
  if (strncmp(name, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) == 0)
    return is_page_id(name + strlen(CURSOR_PREFIX));
  return strncmp(name, TABLE_PREFIX, strlen(TABLE_PREFIX)) == 0 && is_table_id(name + strlen(TABLE_PREFIX));
}

int host_store_is_page(const char *name) {
  return host_store_name_ok(name) && strncmp(name, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) == 0;
}

/* Directory fd and file name within it for an object. */
static int locate(struct host_store *st, const char *name, int *dirfd, char file[64]) {
  if (!host_store_name_ok(name))
    return CDR_ERR_ARG;
  if (strchr(name, '/') == NULL) {
    *dirfd = st->state_fd;
    snprintf(file, 64, "%s.sealed", name);
  } else if (strncmp(name, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) == 0) {
    *dirfd = st->cursors_fd;
    snprintf(file, 64, "%s.sealed", name + strlen(CURSOR_PREFIX));
  } else {
    *dirfd = st->tables_fd;
    snprintf(file, 64, "%s.sealed", name + strlen(TABLE_PREFIX));
  }
  return 0;
}

static int open_dir_at(int parent, const char *name, int *out) {
  if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
    return CDR_ERR_IO;
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return CDR_ERR_IO;
  *out = fd;
  return 0;
}

/* Pages of paged results are sealed under keys that lived only in the
 * enclave that wrote them: at start they are garbage, removed. */
static void cursors_empty(int dirfd) {
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  struct dirent *e;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return;
  }
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      (void)unlinkat(dirfd, e->d_name, 0);
  closedir(d);
}

int host_store_open(const char *room_dir, struct host_store **out) {
  struct host_store *st = calloc(1, sizeof(*st));
  int room_fd = -1, r;
  if (st == NULL)
    return CDR_ERR_NOMEM;
  st->state_fd = st->tables_fd = st->cursors_fd = -1;
  room_fd = open(room_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (room_fd < 0) {
    r = CDR_ERR_IO;
    goto out;
  }
  if ((r = open_dir_at(room_fd, "state", &st->state_fd)) != 0)
    goto out;
  /* One cdrd per room: two would interleave two enclaves' logs, and an
   * ephemeral room's start would delete a running enclave's state. */
  if (flock(st->state_fd, LOCK_EX | LOCK_NB) != 0) {
    r = errno == EWOULDBLOCK ? CDR_ERR_BUSY : CDR_ERR_IO;
    log_error("%s/state is locked: another cdrd is serving this room", room_dir);
    goto out;
  }
  if ((r = open_dir_at(st->state_fd, "tables", &st->tables_fd)) != 0 ||
      (r = open_dir_at(st->state_fd, "cursors", &st->cursors_fd)) != 0)
    goto out;
  cursors_empty(st->cursors_fd);
  *out = st;
  st = NULL;
out:
  if (room_fd >= 0)
    close(room_fd);
  host_store_close(st);
  if (r != 0)
    log_error("cannot open the state store under %s/state", room_dir);
  return r;
}

void host_store_close(struct host_store *st) {
  if (st == NULL)
    return;
  if (st->state_fd >= 0)
    close(st->state_fd);
  if (st->tables_fd >= 0)
    close(st->tables_fd);
  if (st->cursors_fd >= 0)
    close(st->cursors_fd);
  free(st);
}

int host_store_put(struct host_store *st, const char *name, const void *data, size_t len) {
  char file[64], tmp[80];
  int dirfd, fd, r;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  snprintf(tmp, sizeof(tmp), "%s.tmp", file);
  (void)unlinkat(dirfd, tmp, 0);
  fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return CDR_ERR_IO;
  r = cdr_write_full(fd, data, len);
  if (r == 0 && fsync(fd) != 0)
    r = CDR_ERR_IO;
  if (close(fd) != 0 && r == 0)
    r = CDR_ERR_IO;
  if (r == 0 && renameat(dirfd, tmp, dirfd, file) != 0)
    r = CDR_ERR_IO;
  if (r == 0 && fsync(dirfd) != 0)
    r = CDR_ERR_IO;
  if (r != 0)
    (void)unlinkat(dirfd, tmp, 0);
  return r;
}

static int append(struct host_store *st, const char *name, const void *data, size_t len, int durable) {
  char file[64];
  int dirfd, fd, r;
  struct stat sb;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  int created = fstatat(dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) != 0;
  fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return CDR_ERR_IO;
  r = cdr_write_full(fd, data, len);
  if (r == 0 && durable && fdatasync(fd) != 0)
    r = CDR_ERR_IO;
  if (close(fd) != 0 && r == 0)
    r = CDR_ERR_IO;
  /* A page of a paged result need not survive a crash (cursors_empty). */
  if (r == 0 && created && dirfd != st->cursors_fd && fsync(dirfd) != 0)
    r = CDR_ERR_IO;
  return r;
}

int host_store_append(struct host_store *st, const char *name, const void *data, size_t len) {
  return append(st, name, data, len, 1);
}

int host_store_append_lazy(struct host_store *st, const char *name, const void *data, size_t len) {
  return append(st, name, data, len, 0);
}

int host_store_sync(struct host_store *st, const char *name) {
  char file[64];
  int dirfd, fd, r;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  fd = openat(dirfd, file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : CDR_ERR_IO; /* nothing appended yet */
  r = fdatasync(fd) == 0 ? 0 : CDR_ERR_IO;
  if (close(fd) != 0 && r == 0)
    r = CDR_ERR_IO;
  return r;
}

int host_store_truncate(struct host_store *st, const char *name, uint64_t size) {
  char file[64];
  struct stat sb;
  int dirfd, fd, r;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  if ((fd = openat(dirfd, file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  if (fstat(fd, &sb) != 0)
    r = CDR_ERR_IO;
  else if (size > (uint64_t)sb.st_size)
    r = CDR_ERR_ARG;
  else if (ftruncate(fd, (off_t)size) != 0 || fsync(fd) != 0)
    r = CDR_ERR_IO;
  if (close(fd) != 0 && r == 0)
    r = CDR_ERR_IO;
  return r;
}

int host_store_delete(struct host_store *st, const char *name) {
  char file[64];
  int dirfd, r;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  if (unlinkat(dirfd, file, 0) != 0)
    return errno == ENOENT ? 0 : CDR_ERR_IO;
  return fsync(dirfd) == 0 ? 0 : CDR_ERR_IO;
}

int host_store_size(struct host_store *st, const char *name, uint64_t *size) {
  char file[64];
  int dirfd, r;
  struct stat sb;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  if (fstatat(dirfd, file, &sb, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  if (!S_ISREG(sb.st_mode))
    return CDR_ERR_IO;
  *size = (uint64_t)sb.st_size;
  return 0;
}

int host_store_read(struct host_store *st, const char *name, uint64_t offset, uint8_t *buf, size_t max,
                    size_t *got) {
  char file[64];
  int dirfd, fd, r;
  if ((r = locate(st, name, &dirfd, file)) != 0)
    return r;
  fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  size_t done = 0;
  r = 0;
  while (done < max) {
    ssize_t k = pread(fd, buf + done, max - done, (off_t)(offset + done));
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0) {
      r = CDR_ERR_IO;
      break;
    }
    if (k == 0)
      break;
    done += (size_t)k;
  }
  close(fd);
  *got = done;
  return r;
}

int host_store_list_tables(struct host_store *st, char (**ids)[33], size_t *n) {
  int fd = dup(st->tables_fd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  char(*list)[33] = NULL;
  size_t count = 0, cap = 0;
  struct dirent *e;
  if (d == NULL) {
    if (fd >= 0)
      close(fd);
    return CDR_ERR_IO;
  }
  rewinddir(d);
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len != ID_HEX + strlen(".sealed") || strcmp(e->d_name + ID_HEX, ".sealed") != 0)
      continue;
    char id[33];
    memcpy(id, e->d_name, ID_HEX);
    id[ID_HEX] = '\0';
    if (!is_table_id(id))
      continue;
    if (count == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char(*nl)[33] = realloc(list, ncap * sizeof(*list));
      if (nl == NULL) {
        free(list);
        closedir(d);
        return CDR_ERR_NOMEM;
      }
      list = nl;
      cap = ncap;
    }
    memcpy(list[count++], id, 33);
  }
  closedir(d);
  *ids = list;
  *n = count;
  return 0;
}
