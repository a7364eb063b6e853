/*
 * cmd_limits.c - the room's limits (PROTOCOL 4.7, "limits"):
 *   `cdr limits [URL ...]` shows them to any member, read from the
 *   enclave through the secure channel;
 *   `cdr room limits ROOM [--query-time T] ...` is the room admin's:
 *   it writes ROOM/limits.json, which the running server hands to the
 *   enclave (IPC_LIMITS), which seals and applies them.
 * A member who passes a setting to `cdr limits` sends it to the enclave
 * (op limits_set), which refuses it: only the admin sets limits.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "client/render.h"
#include "common/limits.h"
#include "common/room_limits.h"
#include "common/util.h"
#include "room/room.h"

/* The settings both commands take, as getopt rows (value = index). */
#define LIMIT_OPTS                                                                                                   \
  {"query-time", required_argument, NULL, 1000}, {"query-memory", required_argument, NULL, 1001},                     \
      {"result-bytes", required_argument, NULL, 1002}, {"result-rows", required_argument, NULL, 1003},               \
      {"member-queries", required_argument, NULL, 1004}

static const char limits_opts_help[] =
    "  --query-time T        a query's time limit: 500ms, 30s, 5m, 1h (100ms to 1h;\n"
    "                        default 30s)\n"
    "  --query-memory SIZE   memory one query may use: 256MiB, 2GiB (1MiB to 4GiB;\n"
    "                        default 2GiB); past it that query alone fails\n"
    "                        (sql_memory_limit)\n"
    "  --result-bytes SIZE   the largest result, as JSON, over all its pages (1KiB\n"
    "                        to 1024GiB; default 32MiB); past it result_too_large.\n"
    "                        A result past one page (2MiB) is spooled, sealed, on\n"
    "                        the server's disk and read page by page\n"
    "  --result-rows N       the most rows of a result (default 1000000)\n"
    "  --member-queries N    queries one member may run at once (1 to 64;\n"
    "                        default 4)\n";

/* "N" followed by one of the units (name, factor), or by nothing when
 * bare_ok; the product must not overflow. */
static int parse_scaled(const char *s, const char *const *units, const uint64_t *factor, size_t nunits, int bare_ok,
                        uint64_t *out) {
  char *end;
  errno = 0;
  if (s[0] < '0' || s[0] > '9')
    return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0)
    return -1;
  if (*end == '\0') {
    if (!bare_ok)
      return -1;
    *out = v;
    return 0;
  }
  for (size_t i = 0; i < nunits; i++)
    if (strcmp(end, units[i]) == 0) {
      if (v > UINT64_MAX / factor[i])
        return -1;
      *out = v * factor[i];
      return 0;
    }
  return -1;
}

/* Apply one setting (getopt value 1000..1004) to l. */
static int limits_option(const char *cmd, int ch, const char *arg, struct cdr_room_limits *l) {
  static const char *const tu[] = {"ms", "s", "m", "h"};
  static const uint64_t tf[] = {1, 1000, 60000, 3600000};
  static const char *const su[] = {"B", "K", "KiB", "M", "MiB", "G", "GiB"};
  static const uint64_t sf[] = {1, 1024, 1024, 1048576, 1048576, 1073741824, 1073741824};
  int bad = 0;
  switch (ch) {
  case 1000: bad = parse_scaled(arg, tu, tf, 4, 0, &l->query_time_ms); break;
  case 1001: bad = parse_scaled(arg, su, sf, 7, 1, &l->query_memory); break;
  case 1002: bad = parse_scaled(arg, su, sf, 7, 1, &l->result_bytes); break;
  case 1003: bad = parse_scaled(arg, NULL, NULL, 0, 1, &l->result_rows); break;
  case 1004: bad = parse_scaled(arg, NULL, NULL, 0, 1, &l->member_queries); break;
  default: return -1;
  }
  if (bad)
    return cli_usage(cmd, "%s: '%s' is not a %s", ch == 1000 ? "--query-time" : ch == 1001 ? "--query-memory"
                                                 : ch == 1002   ? "--result-bytes"
                                                 : ch == 1003   ? "--result-rows"
                                                                : "--member-queries",
                     arg, ch == 1000 ? "duration (e.g. 30s)" : ch <= 1002 ? "size (e.g. 256MiB)" : "number");
  return 0;
}

/* csv: "field,value" and one row per limit, by its JSON name. */
static void print_limits_csv(const json_t *o) {
  const char *k;
  json_t *v;
  printf("field,value\n");
  json_object_foreach((json_t *)o, k, v) {
    if (json_is_integer(v))
      printf("%s,%" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
  }
}

static void print_limits(const json_t *o) {
  const char *names[][2] = {{"query_time_ms", "query time (ms)"},
                            {"query_memory_bytes", "memory per query (bytes)"},
                            {"result_bytes", "result size (bytes)"},
                            {"result_rows", "result rows"},
                            {"member_queries", "queries per member at once"}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    const json_t *v = json_object_get(o, names[i][0]);
    if (json_is_integer(v))
      printf("%-28s %" JSON_INTEGER_FORMAT "\n", names[i][1], json_integer_value(v));
  }
}

/* ---- cdr limits (members) ---- */

static void limits_help(void) {
  printf("Usage: cdr limits [URL --key KEY --cert CERT] [--format table|csv|json] [options]\n\n"
         "Show the room's limits, as the enclave applies them: a query's time limit,\n"
         "the memory one query may use, the largest result (bytes and rows) and how\n"
         "many queries one member may run at once.  The room's admin sets them on\n"
         "the server's host (`cdr room limits ROOM`); the enclave keeps them sealed\n"
         "and logs every change in the audit log.  Every member may read them.\n"
         "A setting given here is sent to the enclave, which refuses it\n"
         "(role_forbidden): members cannot change the limits.\n\n"
         "Options:\n"
         "  -f, --format table|csv|json   output format (default table; csv: field,value\n"
         "                                rows by JSON name; json: the enclave's object)\n%s\n",
         limits_opts_help);
  cli_connect_help();
}

int cmd_limits(int argc, char **argv) {
  static const char *const CMD = "limits";
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, LIMIT_OPTS, CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct cdr_room_limits l;
  enum cli_format format = CLI_FORMAT_TABLE;
  json_t *hdr, *res = NULL, *lim;
  int ch, r, allow_sim = 0, rc, set = 0;

  memset(&o, 0, sizeof(o));
  cdr_room_limits_default(&l);
  while ((ch = cli_connect_getopt(argc, argv, "f:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'f':
      if ((r = cli_format_parse(CMD, optarg, &format)) != 0)
        return r;
      break;
    case 'h': limits_help(); return 0;
    case 1000: case 1001: case 1002: case 1003: case 1004:
      if ((r = limits_option(CMD, ch, optarg, &l)) != 0)
        return r;
      set = 1;
      break;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (argc - optind != 0)
    return cli_usage(CMD, "unexpected argument: %s", argv[optind]);
  hdr = set ? json_pack("{s:s,s:o}", "op", "limits_set", "limits", cdr_room_limits_to_json(&l))
            : json_pack("{s:s}", "op", "limits");
  rc = cli_room_op(CMD, &o, hdr, &res);
  json_decref(hdr);
  if (rc != 0)
    return rc;
  if (!json_is_object(lim = json_object_get(res, "limits"))) {
    json_decref(res);
    return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the enclave's answer holds no limits");
  }
  if (format == CLI_FORMAT_JSON) {
    if (cdr_render_json_value(stdout, lim, JSON_ENSURE_ASCII) != 0)
      rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the limits");
  } else if (format == CLI_FORMAT_CSV) {
    print_limits_csv(lim);
  } else {
    print_limits(lim);
  }
  json_decref(res);
  return rc;
}

/* ---- cdr room limits (the room's admin) ---- */

static void room_limits_help(void) {
  printf("Usage: cdr room limits ROOM [settings]\n\n"
         "Set the room's limits (the room admin's command, on the server's host).\n"
         "The settings given change ROOM/limits.json (the others keep their value,\n"
         "or the default); the running server hands the file to the enclave within\n"
         "a second, and again at every start.  The enclave checks each value against\n"
         "its bounds, keeps them in its sealed state (a restart keeps them, even\n"
         "without the file), logs each change in the audit log and shows them to\n"
         "every member (`cdr limits`).  Without settings, prints the file's limits.\n\n"
         "Settings:\n%s"
         "  -h, --help            show this help\n",
         limits_opts_help);
}

int cmd_room_limits(int argc, char **argv) {
  static const char *const CMD = "room limits";
  static const struct option opts[] = {LIMIT_OPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  struct cdr_room_limits l;
  struct cdr_room *room = NULL;
  const char *field = NULL;
  char why[256], *path = NULL, *text = NULL;
  json_t *o = NULL;
  int ch, r, rc = 0;
  int pending[5] = {0};
  const char *values[5] = {NULL};

  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (ch >= 1000 && ch <= 1004) {
      pending[ch - 1000] = 1;
      values[ch - 1000] = optarg;
    } else if (ch == 'h') {
      room_limits_help();
      return 0;
    } else {
      return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected ROOM");
  if ((r = cdr_room_open(argv[optind], &room)) != 0)
    return cli_fail_err(CMD, r, "cannot open the room %s", argv[optind]);
  if ((path = cdr_path_join(room->dir, "limits.json")) == NULL) {
    rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  cdr_room_limits_default(&l);
  json_error_t jerr;
  if ((o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) != NULL &&
      cdr_room_limits_from_json(o, &l, why, sizeof(why)) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_ARG, "%s: %s (fix or remove the file)", path, why);
    goto out;
  }
  for (int i = 0; i < 5; i++)
    if (pending[i] && (rc = limits_option(CMD, 1000 + i, values[i], &l)) != 0)
      goto out;
  if (cdr_room_limits_check(&l, &field) != 0) {
    rc = cli_usage(CMD, "%s is out of bounds (see --help for each setting's range)", field);
    goto out;
  }
  json_decref(o);
  if ((o = cdr_room_limits_to_json(&l)) == NULL ||
      (text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
    rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (pending[0] | pending[1] | pending[2] | pending[3] | pending[4]) {
    size_t n = strlen(text);
    text[n] = '\n';
    r = cdr_file_write(path, text, n + 1, 0644, 0);
    text[n] = '\0';
    if (r != 0) {
      rc = cli_fail_err(CMD, r, "cannot write %s", path);
      goto out;
    }
    printf("written to %s; a running server applies them within a second\n", path);
  }
  print_limits(o);
out:
  free(text);
  json_decref(o);
  free(path);
  cdr_room_free(room);
  return rc;
}
