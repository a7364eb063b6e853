/*
 * cmd_serve.c - `cdr serve [ROOM] [OPTIONS]`: replace this process with
 * the `cdrd` that sits beside the `cdr` binary (same directory as
 * /proc/self/exe), passing every argument on unchanged.  cdrd owns the
 * options (one table in src/host/config.c: flags, the --config file's
 * keys, --help and --check-config), and finds the `cdr-enclave` beside
 * itself.  Running the sibling binaries rather than whatever PATH finds
 * keeps the three programs of one build together.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const CMD = "serve";

int cmd_serve(int argc, char **argv) {
  char self[PATH_MAX], cdrd[PATH_MAX + 16];
  char **args;
  ssize_t n;

  if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 || (size_t)n >= sizeof(self) - 1)
    return cli_fail(CMD, "cannot find the cdr executable: %s", strerror(errno));
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash == NULL)
    return cli_fail(CMD, "cannot find the directory of %s", self);
  *slash = '\0';
  snprintf(cdrd, sizeof(cdrd), "%s/cdrd", self);
  if (argc < 1 || (args = calloc((size_t)argc + 1, sizeof(*args))) == NULL)
    return cli_fail(CMD, "out of memory");
  args[0] = cdrd;
  for (int i = 1; i < argc; i++)
    args[i] = argv[i];
  args[argc] = NULL;
  fflush(stdout);
  execv(cdrd, args);
  free(args);
  return cli_fail(CMD, "cannot run %s: %s", cdrd, strerror(errno));
}
