/*
 * rule_parse_tree.c - the libpg_query glue of the rule checker: SQL text
 * to the parser's protobuf tree (unpacked into protobuf-c's typed C
 * structs, which libpg_query exports together with their unpacker), and
 * a generic walk over that tree that finds every table named anywhere.
 *
 * libpg_query (Debian 12: 15-4.0.0) needs no system call beyond memory
 * allocation: its parser keeps its state in memory contexts (malloc) and
 * reports errors by longjmp, so it runs under the enclave's seccomp
 * filter (tests/unit/test_rules.c parses inside the sandbox).
 */
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "rule_int.h"

int rule_tree_parse(const char *sql, struct PgQuery__ParseResult **tree, char **errmsg) {
  *tree = NULL;
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
  int rc = 0;
  if (r.error != NULL) {
    rc = engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the query does not parse: %s (at character %d)",
                        r.error->message != NULL ? r.error->message : "syntax error", r.error->cursorpos);
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
