/*
 * cmd_tables.c - `cdr tables [URL --key K --cert C] [--format table|csv|json]`:
 * list the tables the caller can see (owns, or holds a grant on) with
 * owner, row count, the caller's access and the columns (type, hidden,
 * readable); an owner also sees the grants on its tables.  A table whose
 * sealed file the server did not load is marked UNAVAILABLE, with why.
 * Every string comes from other room members and is sanitised before
 * printing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "client/render.h"

static const char *const CMD = "tables";

static void help(void) {
  printf("Usage: cdr tables [URL --key KEY --cert CERT] [--format table|csv|json] [options]\n\n"
         "List the tables you can see: yours, and those whose owners granted you\n"
         "(by name or by role) read access.  For each: its owner, row count, your\n"
         "access (owner, all columns, or some columns) and its columns with their\n"
         "types; \"(hidden)\" marks a column that only its owner can read, \"(not\n"
         "granted)\" one that your grants do not cover.  Owners also see the grants.\n"
         "Analysts also see the tables they may query under their owners' release\n"
         "rules, with the columns each rule lets them use (`cdr rule TABLE`).\n"
         "A table marked UNAVAILABLE keeps its name and owner, but the server did\n"
         "not load its sealed file (withheld or damaged): nothing reads it until the\n"
         "file is back; its owner can drop it or replace it (upload --replace).\n\n"
         "Options:\n"
         "  -f, --format table|csv|json   output format (default table, also called\n"
         "                                text; csv: one row per table with columns\n"
         "                                name,owner,rows,access,unavailable,columns\n"
         "                                (\"name:type\" separated by spaces); json: the\n"
         "                                enclave's list as it is)\n\n");
  cli_connect_help();
}

static const char *str_or(const json_t *o, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, key));
  return s != NULL ? s : dflt;
}

static void print_grants(const json_t *grants) {
  size_t i, k;
  json_t *g, *c;
  char s[256];
  printf("  grants:");
  if (json_array_size(grants) == 0)
    printf(" none (only you can read it)");
  json_array_foreach(grants, i, g) {
    json_t *cols = json_object_get(g, "columns");
    cdr_sanitize(s, sizeof(s), str_or(g, "to", "?"));
    printf("%s %s (", i == 0 ? "" : ";", s);
    if (json_is_array(cols)) {
      json_array_foreach(cols, k, c) {
        cdr_sanitize(s, sizeof(s), json_string_value(c) != NULL ? json_string_value(c) : "?");
        printf("%s%s", k == 0 ? "" : ", ", s);
      }
    } else {
      printf("all columns");
    }
    printf(")");
  }
  printf("\n");
}

/* A table read under its owner's release rule: the columns the rule lets
 * the caller use, with their classes (`cdr rule TABLE` shows the rule). */
static void print_ruled(const json_t *t, const char *name, const char *owner) {
  json_t *cols = json_object_get(t, "columns"), *c;
  char cname[256], type[32], cls[32];
  size_t i;
  printf("%s  owner %s  your access: under its %s rule (cdr rule %s)\n", name, owner,
         str_or(json_object_get(t, "rule"), "mode", "?"), name);
  json_array_foreach(cols, i, c) {
    cdr_sanitize(cname, sizeof(cname), str_or(c, "name", "?"));
    cdr_sanitize(type, sizeof(type), str_or(c, "type", "?"));
    cdr_sanitize(cls, sizeof(cls), str_or(c, "class", "?"));
    printf("    %-24s  %-7s  %s\n", cname, type, cls);
  }
}

static void print_table(const json_t *t) {
  json_t *cols = json_object_get(t, "columns"), *c, *grants = json_object_get(t, "grants");
  const char *access = str_or(t, "access", "?");
  char name[256], owner[256], type[32];
  size_t i, width = 0;

  cdr_sanitize(name, sizeof(name), str_or(t, "name", "?"));
  cdr_sanitize(owner, sizeof(owner), str_or(t, "owner", "?"));
  if (strcmp(access, "rule") == 0) {
    print_ruled(t, name, owner);
    return;
  }
  printf("%s  owner %s  %" JSON_INTEGER_FORMAT " rows  your access: %s\n", name, owner,
         json_integer_value(json_object_get(t, "rows")),
         strcmp(access, "owner") == 0 ? "owner" : strcmp(access, "all") == 0 ? "all columns" : "some columns");
  json_array_foreach(cols, i, c) {
    cdr_sanitize(name, sizeof(name), str_or(c, "name", "?"));
    if (strlen(name) > width)
      width = strlen(name);
  }
  if (width > 40)
    width = 40;
  if (json_is_string(json_object_get(t, "unavailable"))) {
    char why[256];
    cdr_sanitize(why, sizeof(why), str_or(t, "unavailable", "?"));
    printf("  UNAVAILABLE: %s\n", why);
    printf("  (the server did not load its sealed file; its owner can still drop or replace it)\n");
  }
  json_array_foreach(cols, i, c) {
    int hidden = json_is_true(json_object_get(c, "hidden")), readable = json_is_true(json_object_get(c, "readable"));
    cdr_sanitize(name, sizeof(name), str_or(c, "name", "?"));
    cdr_sanitize(type, sizeof(type), str_or(c, "type", "?"));
    int unavailable = json_is_string(json_object_get(t, "unavailable"));
    const char *mark = hidden ? "(hidden)" : !readable && !unavailable ? "(not granted)" : NULL;
    if (mark != NULL)
      printf("    %-*s  %-7s  %s\n", (int)width, name, type, mark);
    else
      printf("    %-*s  %s\n", (int)width, name, type);
  }
  if (json_is_array(grants))
    print_grants(grants);
}

/* The list as CSV (help): one row per table. */
static int print_csv(const json_t *tables) {
  json_t *res = json_pack("{s:[s,s,s,s,s,s], s:[]}", "columns", "name", "owner", "rows", "access", "unavailable",
                          "columns", "rows"),
         *t, *c, *row;
  size_t i, k;
  int r;
  if (res == NULL)
    return CDR_ERR_NOMEM;
  json_array_foreach(tables, i, t) {
    char *cols = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&cols, &len);
    if (m == NULL) {
      json_decref(res);
      return CDR_ERR_NOMEM;
    }
    json_array_foreach(json_object_get(t, "columns"), k, c)
      fprintf(m, "%s%s:%s", k == 0 ? "" : " ", str_or(c, "name", "?"), str_or(c, "type", "?"));
    fclose(m);
    row = json_pack("[s,s,O,s,s?,s]", str_or(t, "name", "?"), str_or(t, "owner", "?"),
                    json_object_get(t, "rows") ? json_object_get(t, "rows") : json_null(), str_or(t, "access", "?"),
                    json_string_value(json_object_get(t, "unavailable")), cols != NULL ? cols : "");
    free(cols);
    if (row == NULL || json_array_append_new(json_object_get(res, "rows"), row) != 0) {
      json_decref(res);
      return CDR_ERR_NOMEM;
    }
  }
  r = cdr_render_csv(stdout, res);
  json_decref(res);
  return r;
}

int cmd_tables(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  enum cli_format format = CLI_FORMAT_TABLE;
  json_t *hdr, *res = NULL, *tables, *t;
  size_t i;
  int ch, r, allow_sim = 0, rc;

  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, "f:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'f':
      if ((r = cli_format_parse(CMD, optarg, &format)) != 0)
        return r;
      break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 0)
    return cli_usage(CMD, "unexpected argument: %s", argv[optind]);
  hdr = json_pack("{s:s}", "op", "tables");
  rc = cli_room_op(CMD, &o, hdr, &res);
  json_decref(hdr);
  if (rc != 0)
    return rc;
  tables = json_object_get(res, "tables");
  if (!json_is_array(tables)) {
    json_decref(res);
    return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the enclave's answer holds no list of tables");
  }
  if (format == CLI_FORMAT_JSON) {
    /* The enclave's JSON, re-encoded by jansson (escaped, one line). */
    if (cdr_render_json_value(stdout, tables, JSON_ENSURE_ASCII) != 0)
      rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the list");
  } else if (format == CLI_FORMAT_CSV) {
    if (print_csv(tables) != 0)
      rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the list");
  } else if (json_array_size(tables) == 0) {
    printf("no tables: none of yours, and no owner has granted you access to one\n");
  } else {
    json_array_foreach(tables, i, t) {
      if (i > 0)
        printf("\n");
      print_table(t);
    }
  }
  if (fflush(stdout) != 0)
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the list");
  json_decref(res);
  return rc;
}
