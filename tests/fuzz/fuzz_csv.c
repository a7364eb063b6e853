/*
 * fuzz_csv.c - CSV uploads: the incremental parser (src/common/csv.c),
 * type inference, and engine_load_csv into a fresh engine.
 *
 * Input: one byte giving the chunk size (1..64) for feeding the parser,
 * then the CSV bytes.
 *
 * Invariants:
 *   - the parser delivers the same records (line, index, fields) and the
 *     same result and message whether the input arrives in one piece or
 *     in chunks (its contract: "feed it chunks of any size");
 *   - every field is NUL-terminated at its length and holds no NUL;
 *     data records have as many fields as the header;
 *   - csv_schema_infer succeeds exactly when the parser does, with the
 *     header's column count and the parser's record count;
 *   - engine_load_csv loads that many rows when it succeeds, the table
 *     then answers SELECT * with that row count in JSON the client can
 *     parse, and it can be dropped again (one engine serves all inputs).
 */
#include <jansson.h>
#include <string.h>

#include "common/limits.h"
#include "common/csv.h"
#include "enclave/engine.h"
#include "enclave/wipe_alloc.h"
#include "fuzzlib.h"

static struct cdr_engine *engine;
static struct engine_principal owner;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  FUZZ_CHECK(wipe_alloc_install(256u * CDR_MiB) == 0);
  /* One engine for every input (opening one costs more than most
   * inputs); each input's table is dropped after it. */
  fuzz_principal(FUZZ_WHO_PROVIDER, &owner);
  FUZZ_CHECK(engine_open(&engine) == 0);
  engine_set_time_limit_ms(engine, 1000);
  engine_set_result_limits(engine, 4u << 20, 100000);
  return 0;
}

/* A running digest of the records seen, FNV-1a over their parts. */
struct digest {
  uint64_t h;
  uint64_t records;
  size_t header_fields;
};

static void mix(struct digest *d, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static int on_record(void *arg, const struct csv_record *rec) {
  struct digest *d = arg;
  FUZZ_CHECK(rec->nfields >= 1 && rec->line >= 1);
  FUZZ_CHECK(rec->index == d->records);
  if (rec->index == 0)
    d->header_fields = rec->nfields;
  else
    FUZZ_CHECK(rec->nfields == d->header_fields);
  mix(d, &rec->line, sizeof(rec->line));
  mix(d, &rec->nfields, sizeof(rec->nfields));
  for (size_t i = 0; i < rec->nfields; i++) {
    FUZZ_CHECK(rec->field[i][rec->len[i]] == '\0' && strlen(rec->field[i]) == rec->len[i]);
    mix(d, &rec->len[i], sizeof(rec->len[i]));
    mix(d, rec->field[i], rec->len[i]);
    int64_t iv;
    double dv;
    (void)csv_parse_int64(rec->field[i], rec->len[i], &iv);
    (void)csv_parse_real(rec->field[i], rec->len[i], &dv);
  }
  d->records++;
  return 0;
}

/* Parse in chunks of `chunk` bytes (0: all at once). */
static int parse(const uint8_t *p, size_t n, size_t chunk, struct digest *d, char *msg, size_t msglen) {
  struct csv_parser *ps = NULL;
  int r;
  memset(d, 0, sizeof(*d));
  d->h = 1469598103934665603ull;
  FUZZ_CHECK(csv_parser_new(&ps, on_record, d) == 0);
  if (chunk == 0)
    chunk = n ? n : 1;
  r = 0;
  for (size_t off = 0; off < n && r == 0; off += chunk)
    r = csv_parser_feed(ps, p + off, n - off < chunk ? n - off : chunk);
  if (r == 0)
    r = csv_parser_finish(ps);
  snprintf(msg, msglen, "%s", csv_parser_error(ps));
  csv_parser_free(ps);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct digest whole, chunked;
  char msg1[CDR_MAX_ERROR_MSG], msg2[CDR_MAX_ERROR_MSG], err[CDR_MAX_ERROR_MSG];
  struct csv_schema schema;
  if (size < 1)
    return 0;
  size_t chunk = (size_t)(data[0] % 64) + 1;
  const uint8_t *csv = data + 1;
  size_t len = size - 1;

  int r1 = parse(csv, len, 0, &whole, msg1, sizeof(msg1));
  int r2 = parse(csv, len, chunk, &chunked, msg2, sizeof(msg2));
  FUZZ_CHECK(r1 == r2);
  FUZZ_CHECK(strcmp(msg1, msg2) == 0);
  FUZZ_CHECK(whole.h == chunked.h && whole.records == chunked.records);
  FUZZ_CHECK(r1 == 0 || r1 == CDR_ERR_CSV);

  memset(&schema, 0, sizeof(schema));
  int rs = csv_schema_infer(&schema, csv, len, err, sizeof(err));
  FUZZ_CHECK(rs == r1);
  if (rs == 0) {
    FUZZ_CHECK(schema.ncols == whole.header_fields);
    FUZZ_CHECK(whole.records >= 1 && schema.nrows == whole.records - 1);
  }

  uint64_t rows = 0;
  char *errmsg = NULL;
  int rl = engine_load_csv(engine, &owner, "t", csv, len, 0, &rows, &errmsg);
  if (rl == 0) {
    FUZZ_CHECK(rs == 0 && rows == schema.nrows);
    char *json = NULL, *qerr = NULL;
    size_t jlen = 0;
    uint64_t qrows = 0;
    int rq = engine_query_json(engine, &owner, "SELECT * FROM t", 15, &json, &jlen, &qrows, &qerr);
    FUZZ_CHECK(rq == 0 || rq == CDR_ERR_RESULT_TOO_LARGE || rq == CDR_ERR_NOMEM);
    if (rq == 0) {
      FUZZ_CHECK(qrows == rows);
      json_error_t je;
      json_t *j = json_loadb(json, jlen, JSON_REJECT_DUPLICATES, &je); /* as the client parses it */
      FUZZ_CHECK(json_is_object(j));
      FUZZ_CHECK(json_array_size(json_object_get(j, "columns")) == schema.ncols);
      json_decref(j);
    }
    free(json);
    free(qerr);
    char *derr = NULL;
    FUZZ_CHECK(engine_drop(engine, &owner, "t", &derr) == 0);
    free(derr);
  } else {
    FUZZ_CHECK(rl < 0);
  }
  free(errmsg);
  if (rs == 0)
    csv_schema_free(&schema);
  return 0;
}
