/*
 * rule.h - checking an analyst's query against the release rules of the
 * tables it reads, and writing the SQLite statement that runs it
 * (issue 11, docs/RULES.md).
 *
 * rule_check first looks for a ruled table's name among the words of
 * the text (runs of [A-Za-z0-9_]: the only way SQLite can name a table);
 * a text with none is RULE_UNGOVERNED without parsing.  Otherwise it
 * parses the SQL with the PostgreSQL parser (libpg_query; at most
 * RULE_MAX_TOKENS tokens, since the parser recurses), finds every table
 * the tree names anywhere (a generic walk of the whole tree), and, if
 * one of them has a rule, walks the tree with an
 * allowlist: anything it does not positively understand is refused with
 * CDR_ERR_RULE_VIOLATION and a sentence naming the rule and the clause.
 * What it accepts becomes a plan (rule_int.h): our own small tree, with
 * every column resolved to a table instance and a catalog column.
 * rule_emit writes SQLite SQL from that plan alone (every identifier
 * quoted and qualified, literals re-encoded, never the analyst's text),
 * adding the release conditions: under an aggregate rule, for each
 * instance of a ruled table T, HAVING COUNT(DISTINCT T.unit) >=
 * T.min_units; under a list rule, SELECT DISTINCT.
 *
 * The caller decides who is checked: an owner reading its own tables and
 * members the owner granted full access run their SQL as before.  A query
 * that names no ruled table is RULE_UNGOVERNED: the caller runs it on
 * the normal path, where the SQLite authorizer must still refuse ruled
 * tables to a caller without a grant (the second line: the parser may
 * not see a table that SQLite would, e.g. in text it cannot parse).
 *
 * Semantics are SQLite's: the emitted statement is what runs.  Thresholds
 * do not stop differencing between two accepted queries; list mode
 * releases the list columns of matched rows (docs/RULES.md).
 */
#ifndef CDR_RULE_H
#define CDR_RULE_H

#include <stddef.h>

#include "common/err.h"
#include "rule_doc.h"

/* One table as the checker sees it: the catalog's spelling of its name and
 * columns, its owner, and its rule (NULL: none).  readable: the caller
 * may read the table without its rule (it owns it, or holds a grant); a
 * query governs only if it names a ruled table that is not readable,
 * and then every table it reads is judged by its rule. */
struct rule_table {
  const char *name;
  const char *owner;
  size_t ncols;
  const char *const *cols;
  const struct rule_doc *rule;
  int readable;
};

/* The table called name (ASCII case folded), or NULL if there is none
 * the caller may name (the checker then refuses uniformly). */
typedef const struct rule_table *(*rule_lookup_fn)(void *ctx, const char *name);

struct rule_plan;

#define RULE_UNGOVERNED 1
#define RULE_MAX_SQL (64u * 1024u)
#define RULE_MAX_DEPTH 64u
#define RULE_MAX_TOKENS 2000u

/* Check sql[0..len) (no NUL inside, at most RULE_MAX_SQL bytes).
 * Returns:
 *   0                 *plan is the checked query (rule_plan_free);
 *   RULE_UNGOVERNED   no word of the text names a ruled table (*plan
 *                     NULL); a text whose words name one that the parse
 *                     tree does not read (a string, a comment, a
 *                     construct the dialects read differently) is
 *                     CDR_ERR_RULE_VIOLATION;
 *   CDR_ERR_RULE_VIOLATION  a rule refuses it, *errmsg says which rule
 *                     and clause (or: over RULE_MAX_TOKENS tokens);
 *   CDR_ERR_SQL_ERROR it does not parse, or names an unknown table or
 *                     column (the same sentence for a hidden column of a
 *                     ruled table as for a missing one);
 *   CDR_ERR_TOO_LARGE, CDR_ERR_NOMEM.
 * Nothing of any table's data is read or named in a message. */
int rule_check(const char *sql, size_t len, rule_lookup_fn lookup, void *ctx, struct rule_plan **plan,
               char **errmsg) CDR_WUR;

/* The mode of a checked plan (all its ruled tables share it). */
enum rule_mode rule_plan_mode(const struct rule_plan *p);

/* Write the SQLite statement for p as a new NUL-terminated string
 * (*sql, free()).  0, CDR_ERR_NOMEM, CDR_ERR_TOO_LARGE, or
 * CDR_ERR_RULE_VIOLATION for a mode it cannot run yet (dp). */
int rule_emit(const struct rule_plan *p, char **sql, char **errmsg) CDR_WUR;

void rule_plan_free(struct rule_plan *p);

/* Call fn(ctx, table, column) for every column the statement rule_emit
 * writes for p reads (its expressions, join conditions and thresholds),
 * and fn(ctx, table, "") once per table it reads: what the authorizer
 * lets that statement read (policy_approve).  Stops at the first
 * non-zero return and returns it. */
int rule_plan_columns(const struct rule_plan *p, int (*fn)(void *ctx, const char *table, const char *column),
                      void *ctx) CDR_WUR;

#endif
