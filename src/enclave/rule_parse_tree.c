/*
 * rule_parse_tree.c - the libpg_query glue of the rule checker: SQL text
 * to the parser's protobuf tree (unpacked into protobuf-c's typed C
 * structs, which libpg_query exports together with their unpacker), and
 * a generic walk over that tree that finds every table named anywhere.
 *
 * libpg_query (Debian 12: 15-4.0.0) needs no system call beyond memory
 * allocation: its parser keeps its state in memory contexts (malloc) and
 * reports errors by longjmp, so it runs under the enclave's seccomp
 * filter (tests/unit/test_rule_emit.c parses inside the sandbox).
 *
 * The parser and its serializer recurse, and libpg_query's stack-depth
 * check does not stop them: "a=1 OR a=1 OR ..." of 10000 terms overflows
 * an 8 MiB stack inside libpg_query.  So the checker counts tokens first
 * with the scanner (flex, iterative) and parses only queries of at most
 * RULE_MAX_TOKENS tokens (about 2000 terms survive a 1 MiB stack), and
 * the serialized tree's depth is measured without recursion before
 * protobuf-c's recursive unpacker sees it.
 */
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "rule_int.h"

/* Read a protobuf varint at p[*pos..end): 0, or -1 if malformed. */
static int pb_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
  *v = 0;
  for (unsigned shift = 0; shift < 64 && *pos < end; shift += 7) {
    uint8_t b = p[(*pos)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      return 0;
  }
  return -1;
}

/* Whether the serialized tree nests at most `max` messages deep, found
 * without recursion (protobuf-c's unpacker recurses once per level, and
 * a chain like 1-1-1-... is as deep as it is long).  Sub-messages are
 * told from strings by the descriptors. */
static int pb_depth_ok(const uint8_t *p, size_t n, unsigned max) {
  struct {
    const ProtobufCMessageDescriptor *d;
    size_t end;
  } st[RULE_MAX_DEPTH * 4u + 1u];
  unsigned top = 0;
  size_t pos = 0;
  st[0].d = &pg_query__parse_result__descriptor;
  st[0].end = n;
  for (;;) {
    while (pos == st[top].end && top > 0)
      top--;
    if (pos == n && top == 0)
      return 1;
    uint64_t key, len;
    if (pb_varint(p, st[top].end, &pos, &key) != 0)
      return 0;
    switch (key & 7u) {
    case 0: if (pb_varint(p, st[top].end, &pos, &len) != 0) return 0; break;
    case 1: if (st[top].end - pos < 8) return 0; pos += 8; break;
    case 5: if (st[top].end - pos < 4) return 0; pos += 4; break;
    case 2: {
      if (pb_varint(p, st[top].end, &pos, &len) != 0 || len > st[top].end - pos)
        return 0;
      const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(st[top].d, (unsigned)(key >> 3));
      if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE) {
        pos += len;
        break;
      }
      if (top + 1 > max || top + 1 >= sizeof(st) / sizeof(st[0]))
        return 0;
      top++;
      st[top].d = f->descriptor;
      st[top].end = pos + len;
      break;
    }
    default: return 0;
    }
  }
}

int rule_tree_count_tokens(const char *sql, size_t *ntokens, char **errmsg) {
  PgQueryScanResult r = pg_query_scan(sql);
  int rc = 0;
  *ntokens = 0;
  if (r.error != NULL) {
    rc = engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the query does not parse: %s (at character %d)",
                        r.error->message != NULL ? r.error->message : "syntax error", r.error->cursorpos);
  } else {
    PgQuery__ScanResult *s = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
    if (s == NULL)
      rc = engine_set_err(errmsg, CDR_ERR_NOMEM, "the query's tokens could not be read");
    else
      *ntokens = s->n_tokens;
    if (s != NULL)
      pg_query__scan_result__free_unpacked(s, NULL);
  }
  if (r.pbuf.data != NULL)
    memset(r.pbuf.data, 0, r.pbuf.len);
  pg_query_free_scan_result(r);
  return rc;
}

int rule_tree_parse(const char *sql, struct PgQuery__ParseResult **tree, char **errmsg) {
  *tree = NULL;
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
  int rc = 0;
  if (r.error != NULL) {
    rc = engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the query does not parse: %s (at character %d)",
                        r.error->message != NULL ? r.error->message : "syntax error", r.error->cursorpos);
  } else if (!pb_depth_ok((const uint8_t *)r.parse_tree.data, r.parse_tree.len, RULE_MAX_DEPTH * 4u)) {
    rc = engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the query is nested too deeply");
  } else if ((*tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data)) ==
             NULL) {
    rc = engine_set_err(errmsg, CDR_ERR_NOMEM, "the query's parse tree could not be read");
  }
  if (r.parse_tree.data != NULL)
    memset(r.parse_tree.data, 0, r.parse_tree.len);
  pg_query_free_protobuf_parse_result(r);
  return rc;
}

void rule_tree_free(struct PgQuery__ParseResult *tree) {
  if (tree != NULL)
    pg_query__parse_result__free_unpacked(tree, NULL);
}

const char *rule_node_str(const struct PgQuery__Node *n) {
  if (n == NULL || n->node_case != PG_QUERY__NODE__NODE_STRING || n->string == NULL)
    return NULL;
  return n->string->sval;
}

struct walk {
  int (*fn)(void *ctx, const char *relname);
  void *ctx;
};

static int walk_msg(struct walk *w, const ProtobufCMessage *m, unsigned depth);

static int walk_field(struct walk *w, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, unsigned depth) {
  const char *base = (const char *)m;
  if (f->type != PROTOBUF_C_TYPE_MESSAGE)
    return 0;
  if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
    uint32_t which;
    memcpy(&which, base + f->quantifier_offset, sizeof(which));
    if (which != f->id)
      return 0;
  }
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t n;
    ProtobufCMessage **items;
    memcpy(&n, base + f->quantifier_offset, sizeof(n));
    memcpy(&items, base + f->offset, sizeof(items));
    for (size_t i = 0; i < n; i++) {
      int r = items[i] != NULL ? walk_msg(w, items[i], depth + 1) : 0;
      if (r != 0)
        return r;
    }
    return 0;
  }
  ProtobufCMessage *sub;
  memcpy(&sub, base + f->offset, sizeof(sub));
  return sub != NULL ? walk_msg(w, sub, depth + 1) : 0;
}

static int walk_msg(struct walk *w, const ProtobufCMessage *m, unsigned depth) {
  if (depth > RULE_MAX_DEPTH * 4u)
    return CDR_ERR_TOO_LARGE;
  if (m->descriptor == &pg_query__range_var__descriptor) {
    const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)m;
    int r = w->fn(w->ctx, rv->relname != NULL ? rv->relname : "");
    if (r != 0)
      return r;
  }
  for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
    int r = walk_field(w, m, &m->descriptor->fields[i], depth);
    if (r != 0)
      return r;
  }
  return 0;
}

int rule_tree_each_table(const struct PgQuery__ParseResult *tree, int (*fn)(void *ctx, const char *relname),
                         void *ctx) {
  struct walk w = {fn, ctx};
  return walk_msg(&w, &tree->base, 0);
}
