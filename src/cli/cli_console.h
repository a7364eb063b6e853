/*
 * cli_console.h - `cdr console`: the web console's files served on
 * loopback by the member's own cdr, and the relay of the page's /v1
 * requests to the room (docs/CONSOLE.md).
 *
 *   console_bundle.c  where the bundle is, and its hash
 *   console_serve.c   the loopback HTTP server: static files, the relay
 *   cmd_console.c     options, --version, the run until a signal
 */
#ifndef CDR_CLI_CONSOLE_H
#define CDR_CLI_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Largest file of the bundle that is hashed or served. */
#define CONSOLE_FILE_MAX (4u * 1024u * 1024u)
/* The default listen port: fixed, because the browser keeps the
 * member's key per origin (scheme, host and port). */
#define CONSOLE_DEFAULT_PORT 8754

/* The bundle folder: given (--bundle), else $CDR_CONSOLE_DIR, else
 * EXE_DIR/../share/cdr/console; an absolute path (malloc'd) in *out, or
 * CDR_ERR_NOT_FOUND. */
int console_bundle_find(const char *given, char **out) CDR_WUR;
/* The bundle hash (lower-case hex) and the number of files; 0, or an
 * error with a sentence in why. */
int console_bundle_hash(const char *root, char hex[65], size_t *nfiles, char *why, size_t whylen) CDR_WUR;

struct cdr_client;
struct console_server;
struct console_config {
  const char *bundle;         /* absolute path of the bundle folder */
  const char *bundle_sha256;  /* its hash, shown to the page */
  uint32_t listen_addr;       /* IPv4 loopback address, host order */
  uint16_t port;              /* 0: an ephemeral port */
  struct cdr_client *target;  /* the room the relay talks to (a profile's),
                               * or NULL: the page names it once from an
                               * invitation bundle (POST /console/room) */
  const char *profile;        /* the profile's name, or NULL */
};
/* Start serving (a thread of libmicrohttpd's); *out, and the port
 * bound in *port_out.  The server owns cfg->target from here on. */
int console_server_start(const struct console_config *cfg, struct console_server **out, uint16_t *port_out,
                         char *why, size_t whylen) CDR_WUR;
void console_server_stop(struct console_server *s);

#endif
