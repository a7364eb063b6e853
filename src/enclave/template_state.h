/*
 * template_state.h - the room's approved query templates (docs/RULES.md
 * "Approved queries", PROTOCOL 4.7 op "template"), kept in the sealed
 * manifest (persist.c) after the contract.
 *
 * A template is a named SELECT text with typed :name parameters, the
 * members who may run it, the room tables it reads with their owners at
 * proposal time, and each owner's decision.  Its hash binds what an
 * owner approves:
 *   sha256 = SHA-256( lp("CDR-v1 template") || lp(name) || lp(sql) ||
 *                     u32be(nparams) || nparams x ( lp(param) || lp(type) ) ||
 *                     u32be(nfor) || nfor x lp(member) )
 * (params in the text's order, types "integer", "real" or "text"; the
 * members as proposed).  It is approved when every owner approved that
 * hash; a rejection or a withdrawal ends it (a new proposal under the
 * name starts again).
 *
 * Encoding (sealed): "CDRTPLv1" || u32be n || n x ( lp(name) lp(sql)
 *   lp(proposer) u64be created u32be nparams (lp name, u8 type)
 *   u32be nfor (lp member) u32be ntables (lp table, lp owner)
 *   u32be nowners (lp owner, u8 decision) u8 withdrawn ).
 */
#ifndef CDR_TEMPLATE_STATE_H
#define CDR_TEMPLATE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define TEMPLATE_MAGIC "CDRTPLv1"
#define TEMPLATE_MAX 1000u        /* templates in a room */
#define TEMPLATE_MAX_PARAMS 64u
#define TEMPLATE_MAX_FOR 64u
#define TEMPLATE_MAX_TABLES 64u
/* The whole set's encoding, so that the sealed manifest (persist.c)
 * always has room for it: a proposal past it is refused, never a commit
 * that cannot be stored. */
#define TEMPLATE_MAX_BYTES (1024u * 1024u)

enum template_decision { TEMPLATE_PENDING = 0, TEMPLATE_APPROVED = 1, TEMPLATE_REJECTED = 2 };

struct template_param {
  char *name;
  int type; /* enum engine_param_type: 1 integer, 2 real, 3 text */
};

struct template_table {
  char *table;
  char *owner;
};

struct template_owner {
  char *owner;
  int decision; /* enum template_decision */
};

struct cdr_template {
  char *name;
  char *sql;
  char *proposer;
  int64_t created;
  size_t nparams, nfor, ntables, nowners;
  struct template_param *params;
  char **for_members;
  struct template_table *tables;
  struct template_owner *owners;
  int withdrawn;
  uint8_t sha256[32]; /* computed, never stored */
};

struct template_set {
  size_t n;
  struct cdr_template **v;
};

void template_set_free(struct template_set *s);
void template_free(struct cdr_template *t);
/* The template called name (exact), or NULL. */
struct cdr_template *template_find(const struct template_set *s, const char *name);
/* Put t in the set (taking it), replacing the one of its name. */
int template_put(struct template_set *s, struct cdr_template *t) CDR_WUR;
/* Compute t->sha256 from its fields. */
int template_hash(struct cdr_template *t) CDR_WUR;
/* "integer", "real", "text" for a type; 0 for an unknown name. */
const char *template_type_name(int type);
int template_type_parse(const char *name);
/* "pending", "approved", "rejected" or "withdrawn": the whole template. */
const char *template_status(const struct cdr_template *t);
/* The owner entry of name, or NULL. */
struct template_owner *template_owner_find(const struct cdr_template *t, const char *name);

/* Exact length of t's part of template_set_encode's output. */
size_t template_encoded_size(const struct cdr_template *t);
int template_set_encode(const struct template_set *s, struct cdr_buf *out) CDR_WUR;
/* Decode one set from b (advancing it); s is initialised here. */
int template_set_decode(struct cdr_buf *b, struct template_set *s) CDR_WUR;

#endif
