/*
 * cmd_witness.c - `cdr witness serve ...`: replace this process with the
 * `cdr-witness` that sits beside the `cdr` binary (as `cdr serve` runs
 * cdrd), passing the arguments after "serve" on unchanged.  cdr-witness
 * owns its options and its --help.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const CMD = "witness";

static void usage(FILE *f) {
  fprintf(f, "Usage: cdr witness serve --listen HOST:PORT --state DIR [--key KEY] [OPTIONS]\n\n"
             "A history witness countersigns a room's audit heads so that the room's\n"
             "operator cannot roll its history back (docs/ARCHITECTURE.md, \"Witnesses\").\n"
             "An organisation runs one apart from the room's operator.\n\n"
             "Commands:\n"
             "  serve        run a witness (`cdr witness serve --help` lists its options)\n\n");
}

int cmd_witness(int argc, char **argv) {
  char self[PATH_MAX], prog[PATH_MAX + 16];
  char **args;
  ssize_t n;

  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "serve") != 0) {
    usage(stderr);
    return argc < 2 ? cli_usage(CMD, "a subcommand is needed: serve")
                    : cli_usage(CMD, "unknown subcommand %s (the only one is serve)", argv[1]);
  }
  if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 || (size_t)n >= sizeof(self) - 1)
    return cli_fail(CMD, "cannot find the cdr executable: %s", strerror(errno));
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash == NULL)
    return cli_fail(CMD, "cannot find the directory of %s", self);
  *slash = '\0';
  snprintf(prog, sizeof(prog), "%s/cdr-witness", self);
  if ((args = calloc((size_t)argc, sizeof(*args))) == NULL)
    return cli_fail(CMD, "out of memory");
  args[0] = prog;
  for (int i = 2; i < argc; i++)
    args[i - 1] = argv[i];
  args[argc - 1] = NULL;
  fflush(stdout);
  execv(prog, args);
  free(args);
  return cli_fail(CMD, "cannot run %s: %s", prog, strerror(errno));
}
