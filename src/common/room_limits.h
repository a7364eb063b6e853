/*
 * room_limits.h - the limits a room's admin sets (PROTOCOL 4.7,
 * "limits"), shared by `cdr room limits` (which writes them to
 * ROOM/limits.json), cdrd (which hands them to the enclave, IPC_LIMITS)
 * and the enclave (which seals, applies and shows them).
 */
#ifndef CDR_ROOM_LIMITS_COMMON_H
#define CDR_ROOM_LIMITS_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Each value between its CDR_MIN_* and CDR_MAX_* (common/limits.h). */
struct cdr_room_limits {
  uint64_t query_time_ms;
  uint64_t query_memory;   /* bytes of SQLite's heap one query may take */
  uint64_t result_bytes;   /* the largest result document */
  uint64_t result_rows;
  uint64_t member_queries; /* queries one member may run at once */
};

/* The defaults (CDR_DEFAULT_*): a room that never set its limits. */
void cdr_room_limits_default(struct cdr_room_limits *l);
/* 0 if every value is within its bounds, else CDR_ERR_ARG; *field (if
 * not NULL) names the first one that is not, as JSON names it. */
int cdr_room_limits_check(const struct cdr_room_limits *l, const char **field) CDR_WUR;
/* {"query_time_ms", "query_memory_bytes", "result_bytes", "result_rows",
 * "member_queries"}; NULL when out of memory. */
json_t *cdr_room_limits_to_json(const struct cdr_room_limits *l);
/* The same object (every key present, each an integer within its
 * bounds, no other key) into *l; CDR_ERR_ARG with why (a sentence
 * naming the field) otherwise. */
int cdr_room_limits_from_json(const json_t *o, struct cdr_room_limits *l, char *why, size_t whylen) CDR_WUR;

#endif
