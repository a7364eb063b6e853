/*
 * rule_int.h - the checked plan that rule_check builds and rule_emit
 * writes out, and the libpg_query glue they share.  For rule_*.c and the
 * tests and fuzz targets of the rules only.
 *
 * Calls between the files go one way (no cycle):
 *   rule_check.c -> rule_check_expr.c -> rule_parse_tree.c
 *   rule_check.c -> rule_parse_tree.c, rule_doc.c
 *   rule_emit.c -> rule_doc.c
 *
 * Plan invariants (rule_check establishes them; the fuzz targets check
 * them): every column reference names an instance rte < nrte and a column
 * of its table; a literal's text is its value (strings unescaped, numbers
 * in the parser's digits); aggregates appear only in targets, HAVING and
 * ORDER BY; the join conditions are equalities of two columns of
 * different instances.
 */
#ifndef CDR_RULE_INT_H
#define CDR_RULE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rule.h"

enum rx_kind {
  RX_COL,      /* rte.col */
  RX_INT,      /* ival */
  RX_REAL,     /* text: digits as the parser read them */
  RX_TEXT,     /* text */
  RX_BOOL,     /* ival 0 or 1 */
  RX_AGG,      /* op: RX_AGG_*; nargs 0 (COUNT(*)) or 1 */
  RX_CMP,      /* op: RX_CMP_*; 2 args */
  RX_AND,      /* n args */
  RX_OR,       /* n args */
  RX_NOT,      /* 1 arg */
  RX_IN,       /* args[0] IN (args[1..]); op 1: NOT IN */
  RX_BETWEEN,  /* args[0] BETWEEN args[1] AND args[2]; op 1: NOT */
  RX_NULLTEST, /* args[0] IS NULL; op 1: IS NOT NULL */
  RX_FUNC      /* op: RX_FN_*; scalar function of a dimension */
};

enum { RX_CMP_EQ, RX_CMP_NE, RX_CMP_LT, RX_CMP_LE, RX_CMP_GT, RX_CMP_GE };
enum { RX_AGG_COUNT, RX_AGG_COUNT_DISTINCT, RX_AGG_SUM, RX_AGG_SUM_DISTINCT, RX_AGG_AVG, RX_AGG_MIN, RX_AGG_MAX };
enum { RX_FN_LOWER, RX_FN_UPPER, RX_FN_LENGTH, RX_FN_ABS, RX_FN_ROUND };

struct rx {
  enum rx_kind kind;
  int op;
  size_t rte, col;
  int64_t ival;
  char *text;
  size_t nargs;
  struct rx **args;
};

struct rule_rte {
  const struct rule_table *t;
};

/* Equality conditions of the joins: instance ra.ca = rb.cb. */
struct rule_eq {
  size_t ra, ca, rb, cb;
};

struct rule_target {
  struct rx *e;
  char *name; /* output name */
};

struct rule_order {
  size_t target; /* 1-based position in the targets */
  int desc;
};

#define RULE_MAX_RTE 16u
#define RULE_MAX_ITEMS 256u

struct rule_plan {
  enum rule_mode mode;
  int distinct;                      /* SELECT DISTINCT */
  size_t nrte;
  struct rule_rte rte[RULE_MAX_RTE]; /* rte[0] FROM, rte[i>0] JOIN ... ON */
  size_t neq;
  struct rule_eq eq[RULE_MAX_ITEMS];
  size_t eq_end[RULE_MAX_RTE];       /* eq[eq_end[i-1]..eq_end[i]) belong to JOIN i */
  size_t ntargets;
  struct rule_target targets[RULE_MAX_ITEMS];
  struct rx *where;                  /* or NULL */
  size_t ngroup;
  struct rx *group[RULE_MAX_ITEMS];
  struct rx *having;                 /* or NULL */
  size_t norder;
  struct rule_order order[RULE_MAX_ITEMS];
  int has_limit, has_offset;
  int64_t limit, offset;
};

/* ---- pieces of the emitter (rule_emit.c), for dp_plan.c ---- */
struct cdr_buf;
/* Append x (no aggregate inside; a column is "ti"."name") as SQLite SQL
 * to b.  0, CDR_ERR_TOO_LARGE (b's max), CDR_ERR_INTERNAL, CDR_ERR_ARG
 * (x NULL). */
int rule_emit_expr(const struct rule_plan *p, const struct rx *x, struct cdr_buf *b);
/* Append " FROM "T" AS "t0" [JOIN ...]" to b.  0 or as above. */
int rule_emit_from(const struct rule_plan *p, struct cdr_buf *b);

/* ---- libpg_query glue (rule_parse_tree.c) ---- */
struct PgQuery__ParseResult;
struct PgQuery__Node;
struct PgQuery__FuncCall;
/* Count the tokens of sql (NUL-terminated) with the scanner alone
 * (iterative: safe on any input).  0, or CDR_ERR_SQL_ERROR, NOMEM. */
int rule_tree_count_tokens(const char *sql, size_t *ntokens, char **errmsg);
/* Parse sql (NUL-terminated, at most RULE_MAX_TOKENS tokens: the parser
 * recurses) into *tree (rule_tree_free).  0, or CDR_ERR_SQL_ERROR with
 * the parser's message, CDR_ERR_TOO_LARGE (nested deeper than
 * RULE_MAX_DEPTH * 4 messages), CDR_ERR_NOMEM. */
int rule_tree_parse(const char *sql, struct PgQuery__ParseResult **tree, char **errmsg);
void rule_tree_free(struct PgQuery__ParseResult *tree);
/* Call fn for the relname of every RangeVar anywhere under the tree (a
 * generic walk over the protobuf descriptors, so no node kind is
 * missed); stops at the first non-zero return and returns it.  A tree
 * deeper than RULE_MAX_DEPTH * 4 is CDR_ERR_TOO_LARGE. */
int rule_tree_each_table(const struct PgQuery__ParseResult *tree, int (*fn)(void *ctx, const char *relname),
                         void *ctx);
/* The String value of a list item, or NULL. */
const char *rule_node_str(const struct PgQuery__Node *n);

/* ---- expressions (rule_check_expr.c) ---- */
enum rx_where { RX_IN_TARGET, RX_IN_WHERE, RX_IN_GROUP, RX_IN_HAVING, RX_IN_ORDER };

struct rule_ctx {
  struct rule_plan *p;
  char **errmsg;
  const struct rule_table *named; /* the ruled table that refusals name */
  const char *alias[RULE_MAX_RTE]; /* as written, or NULL: the table's name */
  unsigned in_func; /* inside a scalar function's arguments */
};

/* Check n in clause `where` (aggregates allowed when agg_ok) and build
 * *out.  0, or a refusal with *errmsg set. */
int rule_expr(struct rule_ctx *c, const struct PgQuery__Node *n, enum rx_where where, int agg_ok, unsigned depth,
              struct rx **out);
/* A function call: an aggregate (agg_ok) or an allowed scalar function. */
int rule_func(struct rule_ctx *c, const struct PgQuery__FuncCall *f, enum rx_where where, int agg_ok, unsigned depth,
              struct rx **out);
/* SELECT's clauses after FROM (rule_check_clause.c). */
struct PgQuery__SelectStmt;
int rule_clauses(struct rule_ctx *c, const struct PgQuery__SelectStmt *s);
/* Resolve a column reference (1 or 2 fields) to an instance and column:
 * 0, or CDR_ERR_SQL_ERROR / RULE_VIOLATION. */
int rule_resolve_column(struct rule_ctx *c, const struct PgQuery__Node *n, size_t *rte, size_t *col);
/* Whether rte.col is a privacy unit: its own class, or equated to one. */
int rule_is_unit(const struct rule_ctx *c, size_t rte, size_t col);
void rx_free(struct rx *e);
/* Refusal naming c->named's rule: "<msg> (the <mode> rule of T)". */
int rule_refuse(struct rule_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
