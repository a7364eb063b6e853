/*
 * util.h - small helpers shared by every process: hex and base64
 * codecs (through OpenSSL), whole-file I/O with explicit modes,
 * time and durations.
 */
#ifndef CDR_UTIL_H
#define CDR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void cdr_hex_encode(char *out, const uint8_t *in, size_t n);
/* Decode exactly n bytes from a 2n-digit hex string; 0 or CDR_ERR_ARG. */
int cdr_hex_decode(uint8_t *out, size_t n, const char *hex) CDR_WUR;

/* 1 if the len bytes at s are all lower-case hex digits [0-9a-f] (the
 * form of every id CDR writes: room, table, token); the caller checks the
 * length it wants.  0 otherwise, and for len 0. */
int cdr_hex_lower_ok(const char *s, size_t len);

/* strcmp ignoring ASCII case only (SQL identifiers, column and type
 * names): the locale never changes what names match. */
int cdr_ascii_casecmp(const char *a, const char *b);

/* Standard base64 with padding; *out is malloc'd and NUL-terminated. */
int cdr_b64_encode(char **out, const uint8_t *in, size_t n) CDR_WUR;
/* Strict standard base64 with padding; rejects anything else.  At most
 * maxlen decoded bytes (checked before allocation); *out is malloc'd. */
int cdr_b64_decode(uint8_t **out, size_t *outlen, const char *in, size_t maxlen) CDR_WUR;
/* URL-safe base64 without padding (enrollment tokens). */
int cdr_b64url_encode(char **out, const uint8_t *in, size_t n) CDR_WUR;
int cdr_b64url_decode(uint8_t **out, size_t *outlen, const char *in, size_t maxlen) CDR_WUR;

/* Read a whole file of at most maxlen bytes; *out is malloc'd with a NUL
 * after the data.  CDR_ERR_NOT_FOUND, CDR_ERR_TOO_LARGE or CDR_ERR_IO. */
int cdr_file_read(const char *path, uint8_t **out, size_t *len, size_t maxlen) CDR_WUR;
/* The same, but a symbolic link as the last component is not followed
 * (CDR_ERR_IO): what an lstat saw is what is read, with no window between. */
int cdr_file_read_nofollow(const char *path, uint8_t **out, size_t *len, size_t maxlen) CDR_WUR;
/* Write a file atomically (temp file + fsync + rename) with this mode.
 * excl != 0 fails with CDR_ERR_IO (errno EEXIST) if path exists. */
int cdr_file_write(const char *path, const void *data, size_t len, int mode, int excl) CDR_WUR;
/* Write or read exactly n bytes, looping over short transfers and
 * EINTR.  0, or CDR_ERR_IO on error or end of file. */
int cdr_write_full(int fd, const void *p, size_t n) CDR_WUR;
int cdr_read_full(int fd, void *p, size_t n) CDR_WUR;

/* mkdir -p with the given mode for new directories. */
int cdr_mkdir_p(const char *path, int mode) CDR_WUR;

/* Parse "90s", "15m", "72h", "30d" (or plain seconds); 0 or CDR_ERR_ARG. */
int cdr_parse_duration(const char *s, int64_t *seconds) CDR_WUR;
/* Seconds since the epoch, from CLOCK_REALTIME. */
int64_t cdr_now(void);
/* RFC 3339 UTC rendering into out (at least 21 bytes). */
void cdr_time_format(char *out, size_t outlen, int64_t t);

/* 1 if an enclave on this attestation platform keeps its sealed state
 * (identity key, tables, audit log) across restarts: "sim" (a secret
 * file) and "snp" (the firmware's derived key).  0 for "tdx" and "nitro",
 * which offer a guest no sealing key: there the enclave seals under a
 * random key made at each start, so a restart is a new identity and an
 * empty room (docs/ATTESTATION.md, "Sealing").  cdr-enclave, cdrd and
 * the client all decide by this one rule. */
int cdr_platform_keeps_state(const char *platform);

/* Join directory and name into a new string. */
char *cdr_path_join(const char *dir, const char *name);

/* A finite double as the shortest of %.15g..%.17g that reads back as v,
 * with ".0" added to an integral value so that a REAL stays
 * distinguishable from an INTEGER (C locale).  out holds
 * CDR_DOUBLE_TEXT_LEN bytes. */
#define CDR_DOUBLE_TEXT_LEN 48
void cdr_double_text(char out[CDR_DOUBLE_TEXT_LEN], double v);

/* Wipe a NUL-terminated string (text of a user's query, a value) and
 * free it; NULL is nothing. */
void cdr_str_wipe_free(char *s);

#endif
