/*
 * console_files.h - the web console's bundle as cdrd serves it at `/`
 * (docs/CONSOLE.md "The host's copy").
 *
 * cdrd serves, for convenience, the same static files `cdr console`
 * serves, read once at start into memory (what was read is what is
 * served), with the same strict Content-Security-Policy.  That copy is the
 * room operator's: the page learns from GET /console/info, which answers
 * {"served_by": "cdrd"} here, that it is not the member's own console,
 * says so in a banner and refuses to sign contract versions (the refusal
 * is in the page's logic; a dishonest operator could serve other code, so
 * only `cdr console` is trusted for what the contract promises).
 */
#ifndef CDR_HOST_CONSOLE_FILES_H
#define CDR_HOST_CONSOLE_FILES_H

#include <stddef.h>

#include "common/err.h"
#include "host/http.h"

/* Caps: files in the bundle, bytes of one file, bytes of all of them. */
#define HOST_CONSOLE_MAX_FILES 256u
#define HOST_CONSOLE_FILE_MAX (4u * CDR_MiB)
#define HOST_CONSOLE_TOTAL_MAX (16u * CDR_MiB)

struct host_console;

/* Read every regular file under dir (folders nested at most 4 deep; names
 * of [A-Za-z0-9_.-] not starting with '.'; a symbolic link or special
 * file refuses the bundle) into *out.  why gets a sentence on failure. */
int host_console_load(const char *dir, struct host_console **out, char *why, size_t whylen) CDR_WUR;

/* The default folder: EXE_DIR/../share/cdr/console beside cdrd
 * (malloc'd), or NULL when there is none. */
char *host_console_default_dir(void);

/* The file count, for the log line. */
size_t host_console_count(const struct host_console *c);

/* The GET handler for paths no API route names (http_server_opts'
 * get_fallback; ctx is the struct host_console): "/" is index.html,
 * "/console/info" is {"served_by": "cdrd"}, another path a bundle file
 * or 404 not_found. */
int host_console_serve(void *ctx, const struct http_request *rq, struct http_reply *rep);

void host_console_free(struct host_console *c);

#endif
