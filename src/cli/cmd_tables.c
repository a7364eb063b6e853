/*
 * cmd_tables.c - `cdr tables [URL --key K --cert C] [--format text|json]`:
 * list the tables the caller can see (owns, or holds a grant on) with
 * owner, row count, the caller's access and the columns (type, hidden,
 * readable); an owner also sees the grants on its tables.  A table whose
 * sealed file the server did not load is marked UNAVAILABLE, with why.
 * Every string comes from other room members and is sanitised before
 * printing.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"

static const char *const CMD = "tables";

static void help(void) {
  printf("Usage: cdr tables [URL --key KEY --cert CERT] [--format text|json] [options]\n\n"
         "List the tables you can see: yours, and those whose owners granted you\n"
         "(by name or by role) read access.  For each: its owner, row count, your\n"
         "access (owner, all columns, or some columns) and its columns with their\n"
         "types; \"(hidden)\" marks a column that only its owner can read, \"(not\n"
         "granted)\" one that your grants do not cover.  Owners also see the grants.\n"
         "A table marked UNAVAILABLE keeps its name and owner, but the server did\n"
         "not load its sealed file (withheld or damaged): nothing reads it until the\n"
         "file is back; its owner can drop it or replace it (upload --replace).\n\n"
         "Options:\n"
         "  -f, --format text|json        output format (default text; json prints the\n"
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

static void print_table(const json_t *t) {
  json_t *cols = json_object_get(t, "columns"), *c, *grants = json_object_get(t, "grants");
  const char *access = str_or(t, "access", "?");
  char name[256], owner[256], type[32];
  size_t i, width = 0;

  cdr_sanitize(name, sizeof(name), str_or(t, "name", "?"));
  cdr_sanitize(owner, sizeof(owner), str_or(t, "owner", "?"));
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

int cmd_tables(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  const char *format = "text";
  json_t *hdr, *res = NULL, *tables, *t;
  size_t i;
  int ch, r, allow_sim = 0, rc;

  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, "f:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'f': format = optarg; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 0)
    return cli_usage(CMD, "unexpected argument: %s", argv[optind]);
  if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
    return cli_usage(CMD, "--format must be text or json");
  hdr = json_pack("{s:s}", "op", "tables");
  rc = cli_room_op(CMD, &o, hdr, &res);
  json_decref(hdr);
  if (rc != 0)
    return rc;
  tables = json_object_get(res, "tables");
  if (!json_is_array(tables)) {
    json_decref(res);
    return cli_fail(CMD, "the enclave's answer holds no list of tables");
  }
  if (strcmp(format, "json") == 0) {
    /* The enclave's JSON, re-encoded by jansson (escaped, one line). */
    if (json_dumpf(tables, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) != 0)
      rc = cli_fail(CMD, "cannot write the list");
    printf("\n");
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
    rc = cli_fail(CMD, "cannot write the list");
  json_decref(res);
  return rc;
}
