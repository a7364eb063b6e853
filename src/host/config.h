/*
 * config.h - cdrd's settings: the command line and the configuration
 * file (`cdr serve --config FILE`, JSON), described by ONE table of
 * option rows in config.c: {flag, config key, type, field, help}.  A new
 * setting is a new field below and a new row there; the parser, the
 * file's key check, --help and --check-config all follow the table.
 *
 * Precedence: built-in defaults, then the file, then every flag.  The
 * file is a JSON object whose keys are the rows' keys; an unknown key,
 * a duplicate key or a value of the wrong type is refused naming it.
 * Only the host's settings live here: the enclave's limits are in its
 * sealed room configuration.
 */
#ifndef CDR_HOST_CONFIG_H
#define CDR_HOST_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"
#include "host/tls.h"
#include "ipc/channel.h"

#define CDRD_DEFAULT_LISTEN "127.0.0.1:8443"

/* A repeatable setting (an OPT_LIST row): every occurrence of the flag
 * appends; the file gives a JSON array of strings.  Flags replace the
 * file's list rather than add to it (flags override the file). */
struct cdrd_strlist {
  char **v; /* n malloc'd strings */
  size_t n;
  int from_flags; /* set once a flag has replaced the file's list */
};

/* The effective settings.  Strings are malloc'd (NULL: not set). */
struct cdrd_config {
  char *config_file;
  char *room, *listen, *enclave, *ready_file, *enclave_vsock, *enclave_unix, *tsm_root, *user;
  char *upgrade_to; /* --upgrade-to: hand the room to this build, then exit (host/upgrade.c) */
  char *metrics_listen, *log_level;
  uint64_t http_threads, http_max_body; /* 0: the server's default */
  int metrics_allow_remote, check_config, help;
  struct cdrd_strlist tls_names; /* --tls-name, at most HOST_TLS_MAX_NAMES */
  char *tls_cert, *tls_key;
  int insecure_http;
  char *console; /* the console bundle folder, "none", or NULL: the default */

  /* Derived by cdrd_config_parse once every source is read. */
  char *host, *metrics_host; /* from listen, metrics_listen */
  uint16_t port, metrics_port;
  int metrics_set;
  struct ipc_channel_addr connect_addr;
  int connect_set; /* enclave_vsock or enclave_unix */
  enum cdr_log_level level;
  struct host_tls_opts tls; /* points into tls_names, tls_cert, tls_key */
};

/* Read the file named by --config (if any), then the flags, then check
 * and derive.  Returns -1 to go on, or the status to exit with: 0 after
 * --help (printed to stdout) or --check-config (the effective settings
 * printed to stdout as JSON), 2 after a usage or configuration error
 * (printed to stderr, naming the flag or key). */
int cdrd_config_parse(struct cdrd_config *c, int argc, char **argv);
void cdrd_config_free(struct cdrd_config *c);

/* Split "HOST:PORT" or "[V6]:PORT" into host (malloc'd) and port. */
int cdrd_parse_hostport(const char *s, char **host, uint16_t *port) CDR_WUR;

/* --help, generated from the table. */
void cdrd_config_usage(FILE *f);

#endif
