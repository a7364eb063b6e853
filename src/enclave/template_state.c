/*
 * template_state.c - the room's query templates: lookup, the hash an
 * owner approves, and the sealed encoding (template_state.h).  Decoding
 * trusts no count or length: each is capped before anything is
 * allocated, and the hash is computed again from the decoded fields.
 */
#include "template_state.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "crypto/crypto.h"

void template_free(struct cdr_template *t) {
  if (t == NULL)
    return;
  free(t->name);
  free(t->sql);
  free(t->proposer);
  for (size_t i = 0; i < t->nparams; i++)
    free(t->params[i].name);
  for (size_t i = 0; i < t->nfor; i++)
    free(t->for_members[i]);
  for (size_t i = 0; i < t->ntables; i++) {
    free(t->tables[i].table);
    free(t->tables[i].owner);
  }
  for (size_t i = 0; i < t->nowners; i++)
    free(t->owners[i].owner);
  free(t->params);
  free(t->for_members);
  free(t->tables);
  free(t->owners);
  free(t);
}

void template_set_free(struct template_set *s) {
  for (size_t i = 0; i < s->n; i++)
    template_free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

struct cdr_template *template_find(const struct template_set *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i]->name, name) == 0)
      return s->v[i];
  return NULL;
}

int template_put(struct template_set *s, struct cdr_template *t) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i]->name, t->name) == 0) {
      template_free(s->v[i]);
      s->v[i] = t;
      return 0;
    }
  if (s->n >= TEMPLATE_MAX)
    return CDR_ERR_TOO_LARGE;
  struct cdr_template **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
  if (nv == NULL)
    return CDR_ERR_NOMEM;
  s->v = nv;
  s->v[s->n++] = t;
  return 0;
}

const char *template_type_name(int type) {
  return type == 1 ? "integer" : type == 2 ? "real" : type == 3 ? "text" : NULL;
}

int template_type_parse(const char *name) {
  if (name == NULL)
    return 0;
  return strcmp(name, "integer") == 0 ? 1 : strcmp(name, "real") == 0 ? 2 : strcmp(name, "text") == 0 ? 3 : 0;
}

const char *template_status(const struct cdr_template *t) {
  int all = 1;
  if (t->withdrawn)
    return "withdrawn";
  for (size_t i = 0; i < t->nowners; i++) {
    if (t->owners[i].decision == TEMPLATE_REJECTED)
      return "rejected";
    if (t->owners[i].decision != TEMPLATE_APPROVED)
      all = 0;
  }
  return all && t->nowners > 0 ? "approved" : "pending";
}

struct template_owner *template_owner_find(const struct cdr_template *t, const char *name) {
  for (size_t i = 0; i < t->nowners; i++)
    if (strcmp(t->owners[i].owner, name) == 0)
      return &t->owners[i];
  return NULL;
}

int template_hash(struct cdr_template *t) {
  struct cdr_buf b;
  int r;
  cdr_buf_init(&b, SIZE_MAX, 0);
  if ((r = cdr_buf_put_lpstr(&b, "CDR-v1 template")) != 0 || (r = cdr_buf_put_lpstr(&b, t->name)) != 0 ||
      (r = cdr_buf_put_lpstr(&b, t->sql)) != 0 || (r = cdr_buf_put_u32(&b, (uint32_t)t->nparams)) != 0)
    goto out;
  for (size_t i = 0; i < t->nparams; i++)
    if ((r = cdr_buf_put_lpstr(&b, t->params[i].name)) != 0 ||
        (r = cdr_buf_put_lpstr(&b, template_type_name(t->params[i].type))) != 0)
      goto out;
  if ((r = cdr_buf_put_u32(&b, (uint32_t)t->nfor)) != 0)
    goto out;
  for (size_t i = 0; i < t->nfor; i++)
    if ((r = cdr_buf_put_lpstr(&b, t->for_members[i])) != 0)
      goto out;
  r = cdr_sha256(t->sha256, b.d, b.len);
out:
  cdr_buf_free(&b);
  return r;
}

size_t template_encoded_size(const struct cdr_template *t) {
  size_t n = 4 + strlen(t->name) + 4 + strlen(t->sql) + 4 + strlen(t->proposer) + 8 + 4 + 4 + 4 + 4 + 1;
  for (size_t i = 0; i < t->nparams; i++)
    n += 4 + strlen(t->params[i].name) + 1;
  for (size_t i = 0; i < t->nfor; i++)
    n += 4 + strlen(t->for_members[i]);
  for (size_t i = 0; i < t->ntables; i++)
    n += 8 + strlen(t->tables[i].table) + strlen(t->tables[i].owner);
  for (size_t i = 0; i < t->nowners; i++)
    n += 4 + strlen(t->owners[i].owner) + 1;
  return n;
}

static int encode_one(const struct cdr_template *t, struct cdr_buf *o) {
  int r;
  if ((r = cdr_buf_put_lpstr(o, t->name)) != 0 || (r = cdr_buf_put_lpstr(o, t->sql)) != 0 ||
      (r = cdr_buf_put_lpstr(o, t->proposer)) != 0 || (r = cdr_buf_put_u64(o, (uint64_t)t->created)) != 0 ||
      (r = cdr_buf_put_u32(o, (uint32_t)t->nparams)) != 0)
    return r;
  for (size_t i = 0; i < t->nparams; i++)
    if ((r = cdr_buf_put_lpstr(o, t->params[i].name)) != 0 || (r = cdr_buf_put_u8(o, (uint8_t)t->params[i].type)) != 0)
      return r;
  if ((r = cdr_buf_put_u32(o, (uint32_t)t->nfor)) != 0)
    return r;
  for (size_t i = 0; i < t->nfor; i++)
    if ((r = cdr_buf_put_lpstr(o, t->for_members[i])) != 0)
      return r;
  if ((r = cdr_buf_put_u32(o, (uint32_t)t->ntables)) != 0)
    return r;
  for (size_t i = 0; i < t->ntables; i++)
    if ((r = cdr_buf_put_lpstr(o, t->tables[i].table)) != 0 || (r = cdr_buf_put_lpstr(o, t->tables[i].owner)) != 0)
      return r;
  if ((r = cdr_buf_put_u32(o, (uint32_t)t->nowners)) != 0)
    return r;
  for (size_t i = 0; i < t->nowners; i++)
    if ((r = cdr_buf_put_lpstr(o, t->owners[i].owner)) != 0 ||
        (r = cdr_buf_put_u8(o, (uint8_t)t->owners[i].decision)) != 0)
      return r;
  return cdr_buf_put_u8(o, t->withdrawn ? 1 : 0);
}

int template_set_encode(const struct template_set *s, struct cdr_buf *out) {
  int r;
  if ((r = cdr_buf_put(out, TEMPLATE_MAGIC, 8)) != 0 || (r = cdr_buf_put_u32(out, (uint32_t)s->n)) != 0)
    return r;
  for (size_t i = 0; i < s->n; i++)
    if ((r = encode_one(s->v[i], out)) != 0)
      return r;
  return 0;
}

static int get_count(struct cdr_buf *b, size_t max, size_t *n) {
  uint32_t v;
  int r = cdr_buf_get_u32(b, &v);
  if (r == 0 && v > max)
    r = CDR_ERR_TOO_LARGE;
  *n = r == 0 ? v : 0;
  return r;
}

/* calloc of n elements (at least one byte). */
static void *alloc_n(size_t n, size_t size) { return calloc(n > 0 ? n : 1, size); }

static int decode_lists(struct cdr_buf *b, struct cdr_template *t) {
  size_t n;
  uint8_t u;
  int r;
  if ((r = get_count(b, TEMPLATE_MAX_PARAMS, &n)) != 0 || (t->params = alloc_n(n, sizeof(*t->params))) == NULL)
    return r != 0 ? r : CDR_ERR_NOMEM;
  while (t->nparams < n) {
    struct template_param *p = &t->params[t->nparams++]; /* counted first: freed on failure */
    if ((r = cdr_buf_get_lpstr(b, &p->name, 64)) != 0 || (r = cdr_buf_get_u8(b, &u)) != 0 ||
        template_type_name(u) == NULL)
      return r != 0 ? r : CDR_ERR_ARG;
    p->type = u;
  }
  if ((r = get_count(b, TEMPLATE_MAX_FOR, &n)) != 0 || (t->for_members = alloc_n(n, sizeof(char *))) == NULL)
    return r != 0 ? r : CDR_ERR_NOMEM;
  while (t->nfor < n)
    if ((r = cdr_buf_get_lpstr(b, &t->for_members[t->nfor++], CDR_MAX_NAME_LEN)) != 0)
      return r;
  if ((r = get_count(b, TEMPLATE_MAX_TABLES, &n)) != 0 || (t->tables = alloc_n(n, sizeof(*t->tables))) == NULL)
    return r != 0 ? r : CDR_ERR_NOMEM;
  for (; t->ntables < n; t->ntables++)
    if ((r = cdr_buf_get_lpstr(b, &t->tables[t->ntables].table, CDR_MAX_TABLE_NAME)) != 0 ||
        (r = cdr_buf_get_lpstr(b, &t->tables[t->ntables].owner, CDR_MAX_NAME_LEN)) != 0) {
      t->ntables++;
      return r;
    }
  if ((r = get_count(b, TEMPLATE_MAX_TABLES, &n)) != 0 || (t->owners = alloc_n(n, sizeof(*t->owners))) == NULL)
    return r != 0 ? r : CDR_ERR_NOMEM;
  for (; t->nowners < n; t->nowners++)
    if ((r = cdr_buf_get_lpstr(b, &t->owners[t->nowners].owner, CDR_MAX_NAME_LEN)) != 0 ||
        (r = cdr_buf_get_u8(b, &u)) != 0 || u > TEMPLATE_REJECTED) {
      t->nowners++;
      return r != 0 ? r : CDR_ERR_ARG;
    } else {
      t->owners[t->nowners].decision = u;
    }
  if ((r = cdr_buf_get_u8(b, &u)) != 0 || u > 1)
    return r != 0 ? r : CDR_ERR_ARG;
  t->withdrawn = u;
  return 0;
}

int template_set_decode(struct cdr_buf *b, struct template_set *s) {
  uint8_t magic[8];
  size_t n;
  uint64_t created;
  int r;
  memset(s, 0, sizeof(*s));
  if ((r = cdr_buf_get(b, magic, 8)) != 0 || memcmp(magic, TEMPLATE_MAGIC, 8) != 0 ||
      (r = get_count(b, TEMPLATE_MAX, &n)) != 0)
    return r != 0 ? r : CDR_ERR_ARG;
  for (size_t i = 0; i < n; i++) {
    struct cdr_template *t = calloc(1, sizeof(*t));
    if (t == NULL)
      return CDR_ERR_NOMEM;
    if ((r = cdr_buf_get_lpstr(b, &t->name, CDR_MAX_TABLE_NAME)) != 0 ||
        (r = cdr_buf_get_lpstr(b, &t->sql, CDR_MAX_SQL_LEN)) != 0 ||
        (r = cdr_buf_get_lpstr(b, &t->proposer, CDR_MAX_NAME_LEN)) != 0 || (r = cdr_buf_get_u64(b, &created)) != 0 ||
        (r = decode_lists(b, t)) != 0 || (r = template_hash(t)) != 0 || template_find(s, t->name) != NULL ||
        (r = template_put(s, t)) != 0) {
      template_free(t);
      return r != 0 ? r : CDR_ERR_ARG;
    }
    t->created = (int64_t)created;
  }
  return 0;
}
