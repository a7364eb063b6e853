#include "testlib.h"

#include <stdlib.h>

int test_checks, test_failures;

int test_summary(const char *name) {
  printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
  return test_failures == 0 ? 0 : 1;
}

char *test_copy_text(const void *p, size_t n) {
  char *t = n < (size_t)-1 ? malloc(n + 1) : NULL;
  if (t != NULL) {
    if (n > 0)
      memcpy(t, p, n);
    t[n] = '\0';
  }
  return t;
}
