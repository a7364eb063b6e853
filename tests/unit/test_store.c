/*
 * test_store.c - the host's state store: names outside the allowed set
 * (traversal, other files) are refused before any file is touched; put
 * replaces atomically; append creates then extends; reads page; deletes
 * are idempotent; truncate only cuts; a planted symlink is not followed;
 * pages of paged results live in state/cursors and are gone at the next
 * open.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/store.h"
#include "testlib.h"

#define ID "0123456789abcdef0123456789abcdef"

int main(void) {
  char dir[] = "/tmp/cdr-store-XXXXXX", path[256];
  struct host_store *st = NULL;
  uint8_t buf[64];
  size_t got;
  uint64_t size;
  if (mkdtemp(dir) == NULL)
    return 1;
  CHECK_RC(host_store_open(dir, &st), 0);
  struct stat sb;
  snprintf(path, sizeof(path), "%s/state/tables", dir);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0700);

  static const char *bad[] = {"", "manifest.sealed", "../x", "tables/../manifest", "tables/" ID "/x",
                              "tables/0123456789ABCDEF0123456789ABCDEF", "tables/0123", "/etc/passwd", "identity2"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK(!host_store_name_ok(bad[i]));
    CHECK_RC(host_store_put(st, bad[i], "x", 1), CDR_ERR_ARG);
  }
  CHECK(host_store_name_ok("manifest") && host_store_name_ok("identity") && host_store_name_ok("tables/" ID));

  CHECK_RC(host_store_put(st, "manifest", "one", 3), 0);
  CHECK_RC(host_store_put(st, "manifest", "second", 6), 0);
  CHECK_RC(host_store_read(st, "manifest", 0, buf, sizeof(buf), &got), 0);
  CHECK(got == 6 && memcmp(buf, "second", 6) == 0);
  snprintf(path, sizeof(path), "%s/state/manifest.sealed", dir);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
  snprintf(path, sizeof(path), "%s/state/manifest.sealed.tmp", dir);
  CHECK(access(path, F_OK) != 0); /* no temp file left */

  CHECK_RC(host_store_append(st, "tables/" ID, "abc", 3), 0);
  CHECK_RC(host_store_append(st, "tables/" ID, "defg", 4), 0);
  CHECK_RC(host_store_size(st, "tables/" ID, &size), 0);
  CHECK(size == 7);
  CHECK_RC(host_store_read(st, "tables/" ID, 2, buf, 3, &got), 0);
  CHECK(got == 3 && memcmp(buf, "cde", 3) == 0);
  CHECK_RC(host_store_read(st, "tables/" ID, 7, buf, 3, &got), 0);
  CHECK(got == 0);

  /* Truncate cuts, never grows, and refuses what is not there. */
  CHECK_RC(host_store_truncate(st, "tables/" ID, 8), CDR_ERR_ARG);
  CHECK_RC(host_store_truncate(st, "tables/" ID, 5), 0);
  CHECK_RC(host_store_size(st, "tables/" ID, &size), 0);
  CHECK(size == 5);
  CHECK_RC(host_store_truncate(st, "tables/" ID, 5), 0); /* to its own size: nothing to do */
  CHECK_RC(host_store_truncate(st, "audit", 0), CDR_ERR_NOT_FOUND);
  CHECK_RC(host_store_truncate(st, "../x", 0), CDR_ERR_ARG);
  CHECK_RC(host_store_append(st, "tables/" ID, "fg", 2), 0);

  char (*ids)[33] = NULL;
  size_t n = 0;
  CHECK_RC(host_store_list_tables(st, &ids, &n), 0);
  CHECK(n == 1 && strcmp(ids[0], ID) == 0);
  free(ids);

  CHECK_RC(host_store_delete(st, "tables/" ID), 0);
  CHECK_RC(host_store_delete(st, "tables/" ID), 0);
  CHECK_RC(host_store_size(st, "tables/" ID, &size), CDR_ERR_NOT_FOUND);
  CHECK_RC(host_store_read(st, "tables/" ID, 0, buf, 3, &got), CDR_ERR_NOT_FOUND);

  /* A symlink planted where a table file goes is not followed. */
  snprintf(path, sizeof(path), "%s/state/tables/" ID ".sealed", dir);
  char target[256];
  snprintf(target, sizeof(target), "%s/outside", dir);
  CHECK(symlink(target, path) == 0);
  CHECK_RC(host_store_append(st, "tables/" ID, "x", 1), CDR_ERR_IO);
  CHECK(access(target, F_OK) != 0);
  unlink(path);

  /* Pages of paged results: "cursors/" and 40 lower-case hex only, kept
   * apart from the tables, and gone at the next open. */
  static const char *bad_pages[] = {"cursors/" ID, "cursors/" ID "0000000g", "cursors/" ID "0000000A",
                                    "cursors/../" ID "00", "cursors/" ID "00000001/x", "cursor/" ID "00000001"};
  for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++) {
    CHECK(!host_store_name_ok(bad_pages[i]) && !host_store_is_page(bad_pages[i]));
    CHECK_RC(host_store_append_lazy(st, bad_pages[i], "x", 1), CDR_ERR_ARG);
  }
  CHECK(host_store_is_page("cursors/" ID "00000001") && !host_store_is_page("tables/" ID) &&
        !host_store_is_page("audit"));
  CHECK_RC(host_store_append_lazy(st, "cursors/" ID "00000001", "page", 4), 0);
  CHECK_RC(host_store_read(st, "cursors/" ID "00000001", 0, buf, sizeof(buf), &got), 0);
  CHECK(got == 4 && memcmp(buf, "page", 4) == 0);
  snprintf(path, sizeof(path), "%s/state/cursors/" ID "00000001.sealed", dir);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
  CHECK_RC(host_store_size(st, "tables/" ID, &size), CDR_ERR_NOT_FOUND);
  host_store_close(st);
  st = NULL;
  CHECK_RC(host_store_open(dir, &st), 0);
  CHECK(access(path, F_OK) != 0); /* a new start empties state/cursors */
  CHECK_RC(host_store_read(st, "cursors/" ID "00000001", 0, buf, sizeof(buf), &got), CDR_ERR_NOT_FOUND);

  host_store_close(st);
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 1;
  return test_summary("test_store");
}
