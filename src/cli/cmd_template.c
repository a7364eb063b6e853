/*
 * cmd_template.c - `cdr template propose|list|approve|reject|withdraw`:
 * approved query templates (docs/RULES.md "Approved queries", the
 * "template" operation of PROTOCOL 4.7).  An analyst proposes a named
 * SQL text with :name parameters; every owner of every table it reads
 * reads the text in `list` and approves its SHA-256 (or rejects it);
 * then the members it names run it with `cdr query --template NAME
 * --param k=v`.  The enclave decides who owns what and checks the hash.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "common/util.h"

static const char *const CMD = "template";

static void help(void) {
  printf("Usage: cdr template [URL --key KEY --cert CERT] COMMAND [ARGS] [options]\n\n"
         "Approved query templates: a named SQL text with :name parameters that\n"
         "every owner of every table it reads approved.  It then runs for the\n"
         "members it names, with their values bound (never spliced into the text),\n"
         "whatever the tables' release rules or grants say (docs/RULES.md).\n\n"
         "Commands:\n"
         "  propose NAME \"SQL\"   propose a template (analysts, providers)\n"
         "  list                 the templates you proposed, may run, or decide on,\n"
         "                       with their full text, SHA-256 and each owner's decision\n"
         "  approve NAME SHA256  approve the text whose SHA-256 list showed (owners)\n"
         "  reject NAME          reject it (owners)\n"
         "  withdraw NAME        withdraw it, effective at once (owners, its proposer)\n\n"
         "Run an approved template: cdr query --template NAME --param k=v ...\n\n"
         "Options:\n"
         "      --for MEMBER              propose: a member who may run it (repeat;\n"
         "                                default you)\n"
         "      --type PARAM=TYPE         propose: a parameter's type, integer, real or\n"
         "                                text (repeat; default text)\n"
         "  -f, --format table|json       how to show the answer (default table)\n\n");
  cli_connect_help();
}

static void print_template(const json_t *t) {
  char buf[512];
  const json_t *v;
  size_t i;
  cdr_sanitize(buf, sizeof(buf), json_string_value(json_object_get(t, "name")));
  printf("template %s  %s\n", buf, json_string_value(json_object_get(t, "status")));
  cdr_sanitize(buf, sizeof(buf), json_string_value(json_object_get(t, "sha256")));
  printf("  sha256    %s\n", buf);
  cdr_sanitize(buf, sizeof(buf), json_string_value(json_object_get(t, "proposer")));
  printf("  proposer  %s\n  for      ", buf);
  json_array_foreach(json_object_get(t, "for"), i, v) {
    cdr_sanitize(buf, sizeof(buf), json_string_value(v));
    printf(" %s", buf);
  }
  printf("\n  params   ");
  json_array_foreach(json_object_get(t, "params"), i, v) {
    cdr_sanitize(buf, sizeof(buf), json_string_value(json_object_get(v, "name")));
    printf(" :%s %s", buf, json_string_value(json_object_get(v, "type")));
  }
  printf("\n  owners   ");
  json_array_foreach(json_object_get(t, "owners"), i, v) {
    cdr_sanitize(buf, sizeof(buf), json_string_value(json_object_get(v, "owner")));
    printf(" %s (%s)", buf, json_string_value(json_object_get(v, "decision")));
  }
  /* The text is shown whole: it is what an owner approves.  Control
   * characters are escaped so that it cannot rewrite the terminal. */
  const char *sql = json_string_value(json_object_get(t, "sql"));
  size_t n = sql != NULL ? strlen(sql) : 0;
  char *safe = malloc(4 * n + 1);
  if (safe != NULL) {
    size_t k = 0;
    for (i = 0; i < n; i++) {
      unsigned char c = (unsigned char)sql[i];
      if (c == '\n' || c == '\t' || c >= 0x20)
        safe[k++] = (char)c;
      else
        k += (size_t)snprintf(safe + k, 5, "\\x%02x", c);
    }
    safe[k] = '\0';
  }
  printf("\n  sql\n%s\n\n", safe != NULL ? safe : "?");
  free(safe);
}

/* "k=v" as a JSON object entry of o, v checked as a type name. */
static int add_type(json_t *o, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (eq == NULL || eq == kv)
    return -1;
  char *k = strndup(kv, (size_t)(eq - kv));
  int r = k != NULL && (strcmp(eq + 1, "integer") == 0 || strcmp(eq + 1, "real") == 0 || strcmp(eq + 1, "text") == 0)
              ? json_object_set_new(o, k, json_string(eq + 1))
              : -1;
  free(k);
  return r;
}

int cmd_template(int argc, char **argv) {
  static const struct option opts[] = {{"for", required_argument, NULL, 'F'},
                                       {"type", required_argument, NULL, 'T'},
                                       {"format", required_argument, NULL, 'f'},
                                       CLI_CONNECT_LONGOPTS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  enum cli_format fmt = CLI_FORMAT_TABLE;
  json_t *hdr = NULL, *res = NULL, *fors = json_array(), *types = json_object();
  int ch, r, allow_sim = 0, rc = 2;

  memset(&o, 0, sizeof(o));
  if (fors == NULL || types == NULL)
    goto out;
  while ((ch = cli_connect_getopt(argc, argv, "f:" CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'F': json_array_append_new(fors, json_string(optarg)); break;
    case 'T':
      if (add_type(types, optarg) != 0) {
        rc = cli_usage(CMD, "--type takes PARAM=integer|real|text, not %s", optarg);
        goto out;
      }
      break;
    case 'f':
      if (cli_format_parse(CMD, optarg, &fmt) != 0)
        goto out;
      break;
    case 'h': help(); rc = 0; goto out;
    default: rc = cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]); goto out;
    }
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0) {
    rc = r;
    goto out;
  }
  if (fmt == CLI_FORMAT_CSV) {
    rc = cli_usage(CMD, "templates are shown as table or json");
    goto out;
  }
  int npos = argc - optind;
  const char *sub = npos > 0 ? argv[optind] : "";
  char **a = argv + optind + 1;
  if (strcmp(sub, "propose") != 0 && (json_array_size(fors) > 0 || json_object_size(types) > 0)) {
    rc = cli_usage(CMD, "--for and --type go with propose");
    goto out;
  }
  if (strcmp(sub, "propose") == 0 && npos == 3) {
    hdr = json_pack("{s:s,s:s,s:s,s:s}", "op", "template", "action", "propose", "name", a[0], "sql", a[1]);
    if (hdr != NULL && json_array_size(fors) > 0)
      json_object_set(hdr, "for", fors);
    if (hdr != NULL && json_object_size(types) > 0)
      json_object_set(hdr, "params", types);
  } else if (strcmp(sub, "list") == 0 && npos == 1) {
    hdr = json_pack("{s:s,s:s}", "op", "template", "action", "list");
  } else if (strcmp(sub, "approve") == 0 && npos == 3) {
    hdr = json_pack("{s:s,s:s,s:s,s:s}", "op", "template", "action", "approve", "name", a[0], "sha256", a[1]);
  } else if ((strcmp(sub, "reject") == 0 || strcmp(sub, "withdraw") == 0) && npos == 2) {
    hdr = json_pack("{s:s,s:s,s:s}", "op", "template", "action", sub, "name", a[0]);
  } else {
    rc = cli_usage(CMD, "expected propose NAME \"SQL\", list, approve NAME SHA256, reject NAME or withdraw NAME");
    goto out;
  }
  if ((rc = cli_room_op(CMD, &o, hdr, &res)) != 0)
    goto out;
  if (fmt == CLI_FORMAT_JSON) {
    char *text = json_dumps(res, JSON_COMPACT);
    printf("%s\n", text != NULL ? text : "null");
    free(text);
  } else if (strcmp(sub, "list") == 0) {
    size_t i;
    json_t *t;
    if (json_array_size(json_object_get(res, "templates")) == 0)
      printf("no templates\n");
    json_array_foreach(json_object_get(res, "templates"), i, t) print_template(t);
  } else {
    print_template(json_object_get(res, "template"));
  }
out:
  json_decref(hdr);
  json_decref(res);
  json_decref(fors);
  json_decref(types);
  return rc;
}
