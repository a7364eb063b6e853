/*
 * template_ops.c - approved query templates: propose, list, approve,
 * reject, withdraw, and the run through "query" (template_ops.h;
 * docs/RULES.md "Approved queries"; PROTOCOL 4.7).
 *
 * Who decides: the owners of the tables the text reads, as SQLite's
 * authorizer reports them when the enclave compiles the text at
 * proposal (engine_template_inspect), never as the proposer says.  An
 * approval names the template's SHA-256 (template_state.h), so an owner
 * approves the text it read, not whatever the name holds by then.  A
 * rejection or a withdrawal (by any owner, or the proposer) ends the
 * template at once: the next run is refused.
 *
 * A run checks, in this order: the template exists (not_found), the
 * caller is one of its members (access_denied), every owner approved
 * and nobody withdrew (template_not_approved), every table it reads
 * still belongs to the owner who approved (template_not_approved: a
 * table dropped and uploaded again by someone else is not covered), and
 * every parameter is given once with a value of its type (bad_request
 * naming it).  Then the text runs with the values bound, reading the
 * approved tables whatever their rules or grants say: all their owners
 * approved this text.
 */
#include "template_ops.h"

#include <math.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "common/csv.h"
#include "common/json_get.h"
#include "common/utf8.h"
#include "common/util.h"
#include "persist.h"

static int64_t tmpl_now(const struct enclave *e) { return e->now != NULL ? e->now() : cdr_now(); }

static int fail(struct cdr_buf *out, struct enclave_op_outcome *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct cdr_buf *out, struct enclave_op_outcome *res, int code, const char *fmt, ...) {
  char msg[CDR_MAX_ERROR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return enclave_reply_op_fail(out, res, code, msg);
}

static json_t *hex_json(const uint8_t h[32]) {
  char hex[65];
  cdr_hex_encode(hex, h, 32);
  return json_string(hex);
}

/* The audit entry's details: name, hash, text, tables with owners. */
static void audit_template(struct enclave *e, const struct cdr_template *t, int with_text) {
  audit_set(e, "template", json_string(t->name));
  audit_set(e, "template_sha256", hex_json(t->sha256));
  if (with_text)
    audit_set_input(e, "sql", json_string(t->sql));
  for (size_t i = 0; i < t->ntables; i++)
    audit_add_table(e, t->tables[i].table, t->tables[i].owner);
}

static int is_member(const struct cdr_template *t, const char *name) {
  for (size_t i = 0; i < t->nfor; i++)
    if (strcmp(t->for_members[i], name) == 0)
      return 1;
  return 0;
}

/* ---- propose ---- */

/* The declared type of parameter p ("params" object; text if absent). */
static int declared_type(const json_t *decl, const char *p, int *type) {
  const json_t *v = json_object_get(decl, p);
  *type = v == NULL ? 3 : template_type_parse(json_string_value(v));
  return *type != 0 ? 0 : CDR_ERR_ARG;
}

/* Fill t's params, members, tables and owners from the header and what
 * the engine found; *why names a refusal. */
static int fill_template(struct enclave *e, struct cdr_template *t, const json_t *hdr,
                         const struct engine_template_info *info, char *why, size_t whylen) {
  const json_t *decl = json_object_get(hdr, "params"), *fo = json_object_get(hdr, "for"), *v;
  const char *k;
  size_t i;
  if (decl != NULL && !json_is_object(decl))
    return snprintf(why, whylen, "field \"params\" must map parameter names to \"integer\", \"real\" or \"text\""),
           CDR_ERR_ARG;
  json_object_foreach((json_t *)decl, k, v) {
    size_t j;
    for (j = 0; j < info->nparams && strcmp(info->params[j], k) != 0; j++)
      ;
    if (j == info->nparams)
      return snprintf(why, whylen, "params: the text has no parameter :%.64s", k), CDR_ERR_ARG;
  }
  if (info->nparams > TEMPLATE_MAX_PARAMS || info->ntables > TEMPLATE_MAX_TABLES)
    return snprintf(why, whylen, "a template takes at most %u parameters and reads at most %u tables",
                    TEMPLATE_MAX_PARAMS, TEMPLATE_MAX_TABLES),
           CDR_ERR_TOO_LARGE;
  t->params = calloc(info->nparams + 1, sizeof(*t->params));
  t->tables = calloc(info->ntables + 1, sizeof(*t->tables));
  t->owners = calloc(info->ntables + 1, sizeof(*t->owners));
  if (t->params == NULL || t->tables == NULL || t->owners == NULL)
    return CDR_ERR_NOMEM;
  for (i = 0; i < info->nparams; i++, t->nparams++) {
    if (declared_type(decl, info->params[i], &t->params[i].type) != 0)
      return snprintf(why, whylen, "params.%.64s: the type must be \"integer\", \"real\" or \"text\"",
                      info->params[i]),
             CDR_ERR_ARG;
    if ((t->params[i].name = strdup(info->params[i])) == NULL)
      return CDR_ERR_NOMEM;
  }
  for (i = 0; i < info->ntables; i++) {
    const struct catalog_table *ct = catalog_find(engine_catalog(e->engine), info->tables[i]);
    if (ct == NULL)
      return CDR_ERR_INTERNAL;
    t->tables[t->ntables].table = strdup(ct->name);
    t->tables[t->ntables].owner = strdup(ct->owner);
    if (t->tables[t->ntables++].owner == NULL || t->tables[t->ntables - 1].table == NULL)
      return CDR_ERR_NOMEM;
    if (template_owner_find(t, ct->owner) == NULL && (t->owners[t->nowners++].owner = strdup(ct->owner)) == NULL)
      return CDR_ERR_NOMEM;
  }
  /* Who may run it: "for" (1 to 64 distinct names), default the proposer. */
  if (fo != NULL && (!json_is_array(fo) || json_array_size(fo) == 0 || json_array_size(fo) > TEMPLATE_MAX_FOR))
    return snprintf(why, whylen, "field \"for\" must list 1 to %u member names", TEMPLATE_MAX_FOR), CDR_ERR_ARG;
  size_t nfor = fo != NULL ? json_array_size(fo) : 1;
  if ((t->for_members = calloc(nfor, sizeof(char *))) == NULL)
    return CDR_ERR_NOMEM;
  for (i = 0; i < nfor; i++) {
    const char *m = fo != NULL ? json_string_value(json_array_get(fo, i)) : t->proposer;
    if (m == NULL || !catalog_owner_valid(m) || is_member(t, m))
      return snprintf(why, whylen, "for[%zu]: a member's name (1 to %u printable bytes), each once", i,
                      CDR_MAX_NAME_LEN),
             CDR_ERR_ARG;
    if ((t->for_members[t->nfor++] = strdup(m)) == NULL)
      return CDR_ERR_NOMEM;
  }
  return template_hash(t);
}

/* The template's JSON for list and answers. */
static json_t *template_json(const struct cdr_template *t) {
  json_t *o = json_pack("{s:s,s:s,s:o,s:s,s:I,s:s,s:[],s:[],s:[],s:[]}", "name", t->name, "sql", t->sql, "sha256",
                        hex_json(t->sha256), "proposer", t->proposer, "created_at", (json_int_t)t->created,
                        "status", template_status(t), "params", "for", "tables", "owners");
  if (o == NULL)
    return NULL;
  for (size_t i = 0; i < t->nparams; i++)
    json_array_append_new(json_object_get(o, "params"), json_pack("{s:s,s:s}", "name", t->params[i].name, "type",
                                                                  template_type_name(t->params[i].type)));
  for (size_t i = 0; i < t->nfor; i++)
    json_array_append_new(json_object_get(o, "for"), json_string(t->for_members[i]));
  for (size_t i = 0; i < t->ntables; i++)
    json_array_append_new(json_object_get(o, "tables"),
                          json_pack("{s:s,s:s}", "name", t->tables[i].table, "owner", t->tables[i].owner));
  static const char *const decisions[] = {"pending", "approved", "rejected"};
  for (size_t i = 0; i < t->nowners; i++)
    json_array_append_new(json_object_get(o, "owners"), json_pack("{s:s,s:s}", "owner", t->owners[i].owner,
                                                                  "decision", decisions[t->owners[i].decision]));
  return o;
}

/* Seal the change, then answer {"ok":true,"template":<t>}. */
static int commit_answer(struct enclave *e, const struct cdr_template *t, struct cdr_buf *out,
                         struct enclave_op_outcome *res) {
  int r = persist_meta_changed(e);
  if (r != 0)
    return r;
  return enclave_reply_op_json(out, res, json_pack("{s:b,s:o}", "ok", 1, "template", template_json(t)));
}

static int op_propose(struct enclave *e, const struct engine_principal *who, const json_t *hdr,
                      struct cdr_buf *out, struct enclave_op_outcome *res) {
  const char *name = cdr_json_get_cstr_opt(hdr, "name"), *sql = NULL;
  struct engine_template_info info;
  struct cdr_template *t = NULL, *old;
  char why[512], *errmsg = NULL;
  size_t len;
  int r;
  if (who->role == CDR_ROLE_AUDITOR)
    return fail(out, res, CDR_ERR_ROLE, "only analysts and providers propose query templates");
  if (name == NULL || !catalog_table_name_valid(name))
    return fail(out, res, CDR_ERR_ARG, "field \"name\" must be a template name ([A-Za-z_][A-Za-z0-9_]{0,63})");
  if (cdr_json_get_str(hdr, "sql", CDR_MAX_SQL_LEN, &sql, &len) != 0)
    return fail(out, res, CDR_ERR_ARG, "field \"sql\" must be the template's SQL text (at most %u bytes)",
                CDR_MAX_SQL_LEN);
  audit_set(e, "action", json_string("propose"));
  audit_set(e, "template", json_string(name));
  old = template_find(&e->templates, name);
  if (old != NULL && strcmp(old->proposer, who->name) != 0 && !old->withdrawn &&
      strcmp(template_status(old), "rejected") != 0)
    return fail(out, res, CDR_ERR_TEMPLATE_EXISTS, "template %s exists, proposed by %s: choose another name", name,
                old->proposer);
  if ((r = engine_template_inspect(e->engine, who, sql, len, &info, &errmsg)) != 0) {
    r = fail(out, res, r, "%s", errmsg != NULL ? errmsg : cdr_err_describe(r));
    free(errmsg);
    return r;
  }
  why[0] = '\0';
  if ((t = calloc(1, sizeof(*t))) == NULL || (t->name = strdup(name)) == NULL ||
      (t->sql = strndup(sql, len)) == NULL || (t->proposer = strdup(who->name)) == NULL)
    r = CDR_ERR_NOMEM;
  else
    r = fill_template(e, t, hdr, &info, why, sizeof(why));
  engine_template_info_free(&info);
  if (r == 0) {
    size_t total = 12 + template_encoded_size(t);
    for (size_t i = 0; i < e->templates.n; i++)
      if (strcmp(e->templates.v[i]->name, name) != 0)
        total += template_encoded_size(e->templates.v[i]);
    if (total > TEMPLATE_MAX_BYTES) {
      snprintf(why, sizeof(why),
               "the room's templates would take %zu bytes, over the %u the sealed state keeps for them: propose "
               "again under the name of a rejected or withdrawn one, or shorten the text",
               total, TEMPLATE_MAX_BYTES);
      r = CDR_ERR_TOO_LARGE;
    }
  }
  if (r == 0) {
    t->created = tmpl_now(e);
    audit_template(e, t, 1);
    if ((r = template_put(&e->templates, t)) == 0)
      return commit_answer(e, t, out, res);
  }
  template_free(t);
  return fail(out, res, r, "%s", why[0] != '\0' ? why : cdr_err_describe(r));
}

/* ---- the owners' decisions ---- */

static int op_decide(struct enclave *e, const struct engine_principal *who, const json_t *hdr, const char *action,
                     struct cdr_buf *out, struct enclave_op_outcome *res) {
  const char *name = cdr_json_get_cstr_opt(hdr, "name");
  struct cdr_template *t;
  struct template_owner *o;
  uint8_t h[32];
  audit_set(e, "action", json_string(action));
  if (name == NULL)
    return fail(out, res, CDR_ERR_ARG, "field \"name\" must name a template");
  audit_set(e, "template", json_string(name));
  if ((t = template_find(&e->templates, name)) == NULL)
    return fail(out, res, CDR_ERR_NOT_FOUND, "no template %.64s", name);
  audit_template(e, t, 1);
  o = template_owner_find(t, who->name);
  int withdraw = strcmp(action, "withdraw") == 0;
  if (o == NULL && !(withdraw && strcmp(t->proposer, who->name) == 0))
    return fail(out, res, CDR_ERR_ACCESS_DENIED,
                "only the owners of the tables template %s reads decide on it%s", name,
                withdraw ? " (and its proposer may withdraw it)" : "");
  if (withdraw) {
    t->withdrawn = 1;
    return commit_answer(e, t, out, res);
  }
  if (t->withdrawn)
    return fail(out, res, CDR_ERR_TEMPLATE_NOT_APPROVED, "template %s was withdrawn: propose it again", name);
  if (strcmp(action, "reject") == 0) {
    o->decision = TEMPLATE_REJECTED;
    return commit_answer(e, t, out, res);
  }
  if (cdr_json_get_hex_exact(hdr, "sha256", h, sizeof(h)) != 0)
    return fail(out, res, CDR_ERR_ARG,
                "field \"sha256\" must be the template's SHA-256 as 64 hex digits (cdr template list shows it)");
  audit_set(e, "approved_sha256", hex_json(h));
  if (CRYPTO_memcmp(h, t->sha256, sizeof(h)) != 0)
    return fail(out, res, CDR_ERR_TEMPLATE_HASH,
                "the hash given is not the SHA-256 of template %s as it is now: read it again (cdr template list) "
                "before you approve it",
                name);
  if (strcmp(template_status(t), "rejected") == 0)
    return fail(out, res, CDR_ERR_TEMPLATE_NOT_APPROVED, "template %s was rejected: propose it again", name);
  o->decision = TEMPLATE_APPROVED;
  return commit_answer(e, t, out, res);
}

static int op_list(struct enclave *e, const struct engine_principal *who, struct cdr_buf *out,
                   struct enclave_op_outcome *res) {
  json_t *a = json_array();
  audit_set(e, "action", json_string("list"));
  for (size_t i = 0; a != NULL && i < e->templates.n; i++) {
    const struct cdr_template *t = e->templates.v[i];
    if (who->role == CDR_ROLE_AUDITOR || strcmp(t->proposer, who->name) == 0 || is_member(t, who->name) ||
        template_owner_find(t, who->name) != NULL)
      json_array_append_new(a, template_json(t));
  }
  return enclave_reply_op_json(out, res, json_pack("{s:b,s:o}", "ok", 1, "templates", a));
}

int template_op(struct enclave *e, const struct engine_principal *who, const json_t *hdr, struct cdr_buf *out,
                struct enclave_op_outcome *res) {
  const char *action = json_string_value(json_object_get(hdr, "action"));
  if (action == NULL)
    return fail(out, res, CDR_ERR_ARG,
                "field \"action\" must be \"propose\", \"list\", \"approve\", \"reject\" or \"withdraw\"");
  if (strcmp(action, "propose") == 0)
    return op_propose(e, who, hdr, out, res);
  if (strcmp(action, "list") == 0)
    return op_list(e, who, out, res);
  if (strcmp(action, "approve") == 0 || strcmp(action, "reject") == 0 || strcmp(action, "withdraw") == 0)
    return op_decide(e, who, hdr, action, out, res);
  return fail(out, res, CDR_ERR_ARG,
              "field \"action\" must be \"propose\", \"list\", \"approve\", \"reject\" or \"withdraw\"");
}

/* ---- running ---- */

/* vals[i] from the "params" object's value for t->params[i]. */
static int param_value(const struct template_param *p, const json_t *v, struct engine_param_value *out, char *why,
                       size_t whylen) {
  const char *s = json_string_value(v);
  size_t slen = s != NULL ? json_string_length(v) : 0;
  out->name = p->name;
  out->type = (enum engine_param_type)p->type;
  if (v == NULL)
    return snprintf(why, whylen, "params.%s: missing (the template takes it, as %s)", p->name,
                    template_type_name(p->type)),
           CDR_ERR_ARG;
  if (s != NULL && memchr(s, '\0', slen) != NULL)
    return snprintf(why, whylen, "params.%s: a value holds no NUL", p->name), CDR_ERR_ARG;
  switch (p->type) {
  case 1:
    if (json_is_integer(v)) {
      out->i = json_integer_value(v);
      return 0;
    }
    if (s != NULL && csv_parse_int64(s, slen, &out->i) == 0)
      return 0;
    break;
  case 2:
    if (json_is_number(v)) {
      out->d = json_number_value(v);
      return 0;
    }
    if (s != NULL && csv_parse_real(s, slen, &out->d) == 0 && isfinite(out->d))
      return 0;
    break;
  default:
    if (s != NULL) {
      out->s = s;
      out->slen = slen;
      return 0;
    }
  }
  return snprintf(why, whylen, "params.%s: the value is not of type %s", p->name, template_type_name(p->type)),
         CDR_ERR_ARG;
}

/* Who may run t now: 0, or a refusal in why. */
static int may_run(struct enclave *e, const struct engine_principal *who, const struct cdr_template *t, char *why,
                   size_t whylen) {
  if (!is_member(t, who->name))
    return snprintf(why, whylen, "template %s is not yours to run: it names its members, and %s is not one", t->name,
                    who->name),
           CDR_ERR_ACCESS_DENIED;
  if (strcmp(template_status(t), "approved") != 0) {
    size_t waiting = 0;
    for (size_t i = 0; i < t->nowners; i++)
      waiting += t->owners[i].decision == TEMPLATE_PENDING;
    return snprintf(why, whylen, "template %s is %s (%zu of %zu owners have not approved it yet): nothing ran",
                    t->name, template_status(t), waiting, t->nowners),
           CDR_ERR_TEMPLATE_NOT_APPROVED;
  }
  for (size_t i = 0; i < t->ntables; i++) {
    const struct catalog_table *ct = catalog_find(engine_catalog(e->engine), t->tables[i].table);
    if (ct != NULL && strcmp(ct->owner, t->tables[i].owner) != 0)
      return snprintf(why, whylen,
                      "table %s, which template %s reads, now belongs to %s, who has not approved it: nothing ran",
                      ct->name, t->name, ct->owner),
             CDR_ERR_TEMPLATE_NOT_APPROVED;
  }
  return 0;
}

int template_op_run(struct enclave *e, struct cdr_engine *lane, const struct engine_principal *who, const json_t *hdr,
                    struct cdr_buf *out, struct enclave_op_outcome *res) {
  const char *name = cdr_json_get_cstr_opt(hdr, "template");
  const json_t *pv = json_object_get(hdr, "params");
  struct engine_param_value vals[TEMPLATE_MAX_PARAMS];
  const char *tables[TEMPLATE_MAX_TABLES];
  const struct cdr_template *t;
  char why[512], *errmsg = NULL;
  uint64_t rows = 0;
  int r;
  if (name == NULL)
    return fail(out, res, CDR_ERR_ARG, "field \"template\" must name a template");
  audit_set(e, "template", json_string(name));
  if (pv != NULL && !json_is_object(pv))
    return fail(out, res, CDR_ERR_ARG, "field \"params\" must be an object of the template's parameters");
  if ((t = template_find(&e->templates, name)) == NULL)
    return fail(out, res, CDR_ERR_NOT_FOUND, "no template %.64s", name);
  audit_template(e, t, 0);
  if ((r = may_run(e, who, t, why, sizeof(why))) != 0)
    return fail(out, res, r, "%s", why);
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)pv, k, v) {
    size_t j;
    for (j = 0; j < t->nparams && strcmp(t->params[j].name, k) != 0; j++)
      ;
    if (j == t->nparams)
      return fail(out, res, CDR_ERR_ARG, "params: template %s has no parameter %.64s", name, k);
  }
  memset(vals, 0, sizeof(vals));
  for (size_t i = 0; i < t->nparams; i++)
    if ((r = param_value(&t->params[i], json_object_get(pv, t->params[i].name), &vals[i], why, sizeof(why))) != 0)
      return fail(out, res, r, "%s", why);
  for (size_t i = 0; i < t->ntables; i++)
    tables[i] = t->tables[i].table;
  if (cdr_buf_put(out, "{\"ok\":true,\"result\":", 20) != 0)
    return fail(out, res, CDR_ERR_RESULT_TOO_LARGE, "the result does not fit");
  r = engine_template_run(lane, who, t->sql, strlen(t->sql), tables, t->ntables, vals, t->nparams, out, &rows,
                          &errmsg);
  if (r == 0 && cdr_buf_put(out, "}", 1) != 0)
    r = CDR_ERR_RESULT_TOO_LARGE;
  if (r != 0) {
    r = fail(out, res, r, "%s", errmsg != NULL ? errmsg : cdr_err_describe(r));
    free(errmsg);
    return r;
  }
  audit_set(e, "rows", json_integer((json_int_t)rows));
  res->status = CDR_STATUS_OK;
  res->code = 0;
  return 0;
}
