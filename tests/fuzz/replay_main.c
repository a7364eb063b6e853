/*
 * replay_main.c - the main() that turns a fuzz harness into a plain
 * program for the normal build: it runs LLVMFuzzerTestOneInput over every
 * file named on the command line, or over every file (sorted by name,
 * dot-files skipped) in every directory named there.  ctest runs it over
 * tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/, so
 * every input that ever crashed a harness is replayed by `make test`.
 *
 * Each input is copied into a buffer of exactly its size, so that a
 * sanitizer build catches a harness or parser reading past it.  A crash
 * or failed invariant (FUZZ_CHECK) aborts with the file name printed
 * first.  A missing or empty directory is fine (a target may have no
 * regressions yet), but replaying nothing at all is an error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzzlib.h"

/* Defined by harnesses that need one-time setup. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
    if (f != NULL)
      fclose(f);
    return -1;
  }
  /* malloc(0) may return NULL; an empty input still gets a distinct pointer. */
  if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
  (void)LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

static int no_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

int main(int argc, char **argv) {
  size_t count = 0;
  int bad = 0;
  if (LLVMFuzzerInitialize != NULL)
    (void)LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      /* A target with no regressions yet may have no directory for them. */
      fprintf(stderr, "replay: %s: %s (no inputs there)\n", argv[i], strerror(errno));
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      bad |= replay_file(argv[i]) != 0;
      count++;
      continue;
    }
    struct dirent **list = NULL;
    int n = scandir(argv[i], &list, no_dot, alphasort);
    if (n < 0) {
      fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], strerror(errno));
      bad = 1;
      continue;
    }
    for (int k = 0; k < n; k++) {
      size_t len = strlen(argv[i]) + strlen(list[k]->d_name) + 2;
      char *path = malloc(len);
      if (path == NULL)
        abort();
      snprintf(path, len, "%s/%s", argv[i], list[k]->d_name);
      if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        bad |= replay_file(path) != 0;
        count++;
      }
      free(path);
      free(list[k]);
    }
    free(list);
  }
  if (count == 0) {
    fprintf(stderr, "replay: no inputs at all: the seed corpus is missing\n");
    bad = 1;
  }
  fprintf(stderr, "replay: %zu inputs, %s\n", count, bad ? "with errors" : "no crash");
  return bad;
}
