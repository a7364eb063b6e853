/*
 * log.h - process log to stderr.
 *
 * Contract: nothing logged may contain a secret: no key, PIN, token
 * secret, plaintext query, result value or session key.  Log codes,
 * lengths, fingerprints and identifiers only.
 */
#ifndef CDR_LOG_H
#define CDR_LOG_H

enum cdr_log_level { CDR_LOG_DEBUG, CDR_LOG_INFO, CDR_LOG_WARN, CDR_LOG_ERROR };

/* Name printed before each line ("cdrd", "cdr-enclave"). */
void cdr_log_init(const char *progname, enum cdr_log_level min);
void cdr_log(enum cdr_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) cdr_log(CDR_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) cdr_log(CDR_LOG_INFO, __VA_ARGS__)
#define log_warn(...) cdr_log(CDR_LOG_WARN, __VA_ARGS__)
#define log_error(...) cdr_log(CDR_LOG_ERROR, __VA_ARGS__)

#endif
