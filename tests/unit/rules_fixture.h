/*
 * rules_fixture.h - the tables, rules and data shared by the rule tests
 * (test_rules.c, test_rule_emit.c) and the rule fuzz targets
 * (tests/fuzz/fuzz_rule_check.c, fuzz_rule_emit.c).  Header-only: each
 * program includes it once.
 *
 * Tables (the catalog's view; rules in rules_fx_rules):
 *   hospital(patient_id, region, diagnosis, age, cost, note, secret)
 *       aggregate, min_units 5: patient_id unit; region, diagnosis, age
 *       dimensions; cost metric sum/avg/count bounded [0, 5000]; note
 *       hidden; secret not named (hidden)
 *   claims(pid, insurer, amount, zip)
 *       aggregate, min_units 6: pid unit; insurer dimension; amount metric
 *       sum/min/max/count_distinct; zip join
 *   zips(zip, city, zid)   aggregate, min_units 5: zip join, city
 *       dimension, zid unit
 *   mine(pid, label)       no rule (an analyst's own upload)
 *   lst_a(email, seg, x), lst_b(email, tier)   list: email join, seg/tier list
 *   dpt(uid, region, cost) dp
 *   tpl(a)                 template
 *   odd(k, "we""ird", v)   aggregate: k unit, we"ird dimension, v metric
 */
#ifndef CDR_RULES_FIXTURE_H
#define CDR_RULES_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "enclave/rule.h"

struct rules_fx_def {
  const char *name, *owner;
  const char *cols[8];
  const char *types[8];
  const char *rule; /* NULL: no rule */
};

static const struct rules_fx_def rules_fx_defs[] = {
    {"hospital", "hospital-co",
     {"patient_id", "region", "diagnosis", "age", "cost", "note", "secret"},
     {"INTEGER", "TEXT", "TEXT", "INTEGER", "REAL", "TEXT", "TEXT"},
     "{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": \"dimension\","
     " \"diagnosis\": \"dimension\", \"age\": \"dimension\","
     " \"cost\": {\"metric\": [\"sum\", \"avg\", \"count\"], \"bounds\": [0, 5000]}, \"note\": \"hidden\"},"
     " \"min_units\": 5}"},
    {"claims", "insurer-co",
     {"pid", "insurer", "amount", "zip"},
     {"INTEGER", "TEXT", "INTEGER", "TEXT"},
     "{\"mode\": \"aggregate\", \"columns\": {\"pid\": \"privacy_unit\", \"insurer\": \"dimension\","
     " \"amount\": {\"metric\": [\"sum\", \"min\", \"max\", \"count_distinct\"]}, \"zip\": \"join\"},"
     " \"min_units\": 6}"},
    {"zips", "post-co",
     {"zip", "city", "zid"},
     {"TEXT", "TEXT", "INTEGER"},
     "{\"mode\": \"aggregate\", \"columns\": {\"zip\": \"join\", \"city\": \"dimension\", \"zid\": \"privacy_unit\"},"
     " \"min_units\": 5}"},
    {"mine", "analyst", {"pid", "label"}, {"INTEGER", "TEXT"}, NULL},
    {"lst_a", "shop-a",
     {"email", "seg", "x"},
     {"TEXT", "TEXT", "TEXT"},
     "{\"mode\": \"list\", \"columns\": {\"email\": \"join\", \"seg\": \"list\"}}"},
    {"lst_b", "shop-b",
     {"email", "tier"},
     {"TEXT", "TEXT"},
     "{\"mode\": \"list\", \"columns\": {\"email\": \"join\", \"tier\": \"list\"}}"},
    {"dpt", "dp-co",
     {"uid", "region", "cost"},
     {"INTEGER", "TEXT", "INTEGER"},
     "{\"mode\": \"dp\", \"columns\": {\"uid\": \"privacy_unit\", \"region\": \"dimension\","
     " \"cost\": {\"metric\": [\"sum\", \"count\", \"avg\"], \"bounds\": [0, 5000]}},"
     " \"epsilon_per_query\": 0.5, \"epsilon_total\": 3, \"delta\": 1e-7, \"max_groups_per_unit\": 1}"},
    {"tpl", "tpl-co", {"a"}, {"INTEGER"}, "{\"mode\": \"template\"}"},
    {"odd", "odd-co",
     {"k", "we\"ird", "v"},
     {"INTEGER", "TEXT", "INTEGER"},
     "{\"mode\": \"aggregate\", \"columns\": {\"k\": \"privacy_unit\", \"we\\\"ird\": \"dimension\","
     " \"v\": {\"metric\": [\"sum\"]}}, \"min_units\": 5}"},
};

#define RULES_FX_N (sizeof(rules_fx_defs) / sizeof(rules_fx_defs[0]))

static struct rule_table rules_fx_tables[RULES_FX_N];
static struct rule_doc *rules_fx_docs[RULES_FX_N];

static size_t rules_fx_ncols(const struct rules_fx_def *d) {
  size_t n = 0;
  while (n < 8 && d->cols[n] != NULL)
    n++;
  return n;
}

/* Parse every rule; 0, or the index+1 of the first that fails. */
static int rules_fx_init(void) {
  for (size_t i = 0; i < RULES_FX_N; i++) {
    const struct rules_fx_def *d = &rules_fx_defs[i];
    size_t n = rules_fx_ncols(d);
    char *err = NULL;
    rules_fx_docs[i] = NULL;
    if (d->rule != NULL &&
        rule_doc_parse(d->rule, strlen(d->rule), d->cols, d->types, n, &rules_fx_docs[i], &err) != 0) {
      fprintf(stderr, "rules_fx: %s: %s\n", d->name, err ? err : "?");
      free(err);
      return (int)i + 1;
    }
    rules_fx_tables[i] = (struct rule_table){d->name, d->owner, n, d->cols, rules_fx_docs[i], 0};
  }
  return 0;
}

__attribute__((unused)) static void rules_fx_free(void) {
  for (size_t i = 0; i < RULES_FX_N; i++)
    rule_doc_free(rules_fx_docs[i]);
}

static const struct rule_table *rules_fx_lookup(void *ctx, const char *name) {
  (void)ctx;
  for (size_t i = 0; i < RULES_FX_N; i++)
    if (strcasecmp(rules_fx_tables[i].name, name) == 0)
      return &rules_fx_tables[i];
  return NULL;
}

/* An in-memory database with every fixture table (empty), double-quoted
 * string literals off as the engine will have them. */
__attribute__((unused)) static sqlite3 *rules_fx_db(void) {
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK)
    return NULL;
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)0);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)0);
  for (size_t i = 0; i < RULES_FX_N; i++) {
    const struct rules_fx_def *d = &rules_fx_defs[i];
    char ddl[512];
    size_t off = (size_t)snprintf(ddl, sizeof(ddl), "CREATE TABLE \"%s\" (", d->name);
    for (size_t k = 0; k < rules_fx_ncols(d); k++) {
      char q[64];
      size_t j = 0;
      for (const char *c = d->cols[k]; *c && j < sizeof(q) - 2; c++) {
        if (*c == '"')
          q[j++] = '"';
        q[j++] = *c;
      }
      q[j] = '\0';
      off += (size_t)snprintf(ddl + off, sizeof(ddl) - off, "%s\"%s\" %s", k ? ", " : "", q, d->types[k]);
    }
    snprintf(ddl + off, sizeof(ddl) - off, ")");
    if (sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK) {
      sqlite3_close(db);
      return NULL;
    }
  }
  return db;
}

#endif
