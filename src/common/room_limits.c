/*
 * room_limits.c - the room's limits: defaults, bounds and their JSON
 * form (room_limits.h).
 */
#include "room_limits.h"

#include <stdio.h>
#include <string.h>

#include "common/limits.h"

/* One row per limit: its JSON name, where it lives, and its bounds. */
struct limit_row {
  const char *name;
  size_t off;
  uint64_t dflt, min, max;
};

static const struct limit_row rows[] = {
    {"query_time_ms", offsetof(struct cdr_room_limits, query_time_ms), CDR_DEFAULT_QUERY_TIME_MS,
     CDR_MIN_QUERY_TIME_MS, CDR_MAX_QUERY_TIME_MS},
    {"query_memory_bytes", offsetof(struct cdr_room_limits, query_memory), CDR_DEFAULT_QUERY_MEMORY,
     CDR_MIN_QUERY_MEMORY, CDR_MAX_QUERY_MEMORY},
    {"result_bytes", offsetof(struct cdr_room_limits, result_bytes), CDR_DEFAULT_RESULT_BYTES, CDR_MIN_RESULT_BYTES,
     CDR_MAX_RESULT_BYTES},
    {"result_rows", offsetof(struct cdr_room_limits, result_rows), CDR_DEFAULT_RESULT_ROWS, CDR_MIN_RESULT_ROWS,
     CDR_MAX_RESULT_ROWS},
    {"member_queries", offsetof(struct cdr_room_limits, member_queries), CDR_DEFAULT_MEMBER_QUERIES,
     CDR_MIN_MEMBER_QUERIES, CDR_MAX_MEMBER_QUERIES},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static uint64_t *field_of(struct cdr_room_limits *l, size_t i) { return (uint64_t *)((char *)l + rows[i].off); }
static uint64_t value_of(const struct cdr_room_limits *l, size_t i) {
  return *(const uint64_t *)((const char *)l + rows[i].off);
}

void cdr_room_limits_default(struct cdr_room_limits *l) {
  for (size_t i = 0; i < NROWS; i++)
    *field_of(l, i) = rows[i].dflt;
}

int cdr_room_limits_check(const struct cdr_room_limits *l, const char **field) {
  for (size_t i = 0; i < NROWS; i++)
    if (value_of(l, i) < rows[i].min || value_of(l, i) > rows[i].max) {
      if (field != NULL)
        *field = rows[i].name;
      return CDR_ERR_ARG;
    }
  return 0;
}

json_t *cdr_room_limits_to_json(const struct cdr_room_limits *l) {
  json_t *o = json_object();
  for (size_t i = 0; o != NULL && i < NROWS; i++)
    if (value_of(l, i) > (uint64_t)INT64_MAX ||
        json_object_set_new(o, rows[i].name, json_integer((json_int_t)value_of(l, i))) != 0) {
      json_decref(o);
      o = NULL;
    }
  return o;
}

int cdr_room_limits_from_json(const json_t *o, struct cdr_room_limits *l, char *why, size_t whylen) {
  if (!json_is_object(o)) {
    snprintf(why, whylen, "the limits must be a JSON object");
    return CDR_ERR_ARG;
  }
  for (size_t i = 0; i < NROWS; i++) {
    const json_t *v = json_object_get(o, rows[i].name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < rows[i].min ||
        (uint64_t)json_integer_value(v) > rows[i].max) {
      snprintf(why, whylen, "\"%s\" must be an integer from %llu to %llu", rows[i].name,
               (unsigned long long)rows[i].min, (unsigned long long)rows[i].max);
      return CDR_ERR_ARG;
    }
    *field_of(l, i) = (uint64_t)json_integer_value(v);
  }
  if (json_object_size(o) != NROWS) {
    snprintf(why, whylen, "the limits hold a key other than query_time_ms, query_memory_bytes, result_bytes, "
                          "result_rows and member_queries");
    return CDR_ERR_ARG;
  }
  return 0;
}
