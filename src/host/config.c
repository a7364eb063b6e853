/*
 * config.c - cdrd's options as one table, and the file and command line
 * parsed through it; see config.h.
 *
 * Each row: the flag (--NAME; a short letter or 0), the file's key (NULL
 * for flags that only make sense on a command line), the value's type,
 * the field of struct cdrd_config it sets, the argument's name and the
 * help line(s).  An OPT_LIST row is repeatable (struct cdrd_strlist).
 */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

enum opt_type { OPT_STRING, OPT_UINT, OPT_BOOL, OPT_LIST };

struct opt_row {
  const char *flag;
  int short_name;
  const char *key;
  enum opt_type type;
  size_t offset;
  const char *arg;
  const char *help;
};

#define F(field) offsetof(struct cdrd_config, field)
static const struct opt_row opt_rows[] = {
    {"config", 'c', NULL, OPT_STRING, F(config_file), "FILE",
     "read settings from this JSON file first (keys: the names in [brackets]); every flag overrides it"},
    {"check-config", 0, NULL, OPT_BOOL, F(check_config), NULL,
     "check the settings, print the effective ones as JSON and exit (0; 2 naming a bad field)"},
    {"room", 0, "room", OPT_STRING, F(room), "ROOM", "the room folder (made by `cdr room init`); also the operand"},
    {"listen", 'l', "listen", OPT_STRING, F(listen), "HOST:PORT",
     "API address (default " CDRD_DEFAULT_LISTEN "; port 0 picks a free one; IPv6 as [ADDR]:PORT)"},
    {"ready-file", 'r', "ready_file", OPT_STRING, F(ready_file), "PATH",
     "once the room serves requests with every sealed table loaded, write the URL and a newline to PATH"},
    {"user", 'u', "user", OPT_STRING, F(user), "NAME",
     "when started as root: the user to run as (default: the owner of ROOM; a room root owns keeps cdrd root)"},
    {"log-level", 0, "log_level", OPT_STRING, F(log_level), "LEVEL",
     "cdrd's log lines: debug, info (default), warn or error (the enclave keeps its own)"},
    {"http-threads", 0, "http_threads", OPT_UINT, F(http_threads), "N",
     "API worker threads, 1 to 64 (default 4): bounds the requests queued for the enclave"},
    {"http-max-body", 0, "http_max_body", OPT_UINT, F(http_max_body), "BYTES",
     "largest request body accepted (default and maximum: the protocol's, 8 MiB + 64 KiB)"},
    {"metrics-listen", 0, "metrics_listen", OPT_STRING, F(metrics_listen), "HOST:PORT",
     "serve GET /metrics (Prometheus text) on a listener of its own; loopback addresses only unless "
     "--metrics-allow-remote: who queries the room when is itself sensitive, keep it for your own scraper"},
    {"metrics-allow-remote", 0, "metrics_allow_remote", OPT_BOOL, F(metrics_allow_remote), NULL,
     "allow --metrics-listen on a non-loopback address"},
    {"tls-name", 0, "tls_name", OPT_LIST, F(tls_names), "NAME",
     "a DNS name or IP address clients reach cdrd by, for the server certificate the room CA issues (repeatable, "
     "at most 16; in the file an array of strings; default: the --listen host, so required on 0.0.0.0 or ::); "
     "its key is made in ROOM/tls/server.key"},
    {"tls-cert", 0, "tls_cert", OPT_STRING, F(tls_cert), "FILE",
     "serve this PEM certificate (chain) instead of one from the room CA (members then enroll with --cacert); "
     "with --tls-key"},
    {"tls-key", 0, "tls_key", OPT_STRING, F(tls_key), "FILE",
     "the unencrypted PEM key of --tls-cert (read as the user cdrd runs as)"},
    {"insecure-http", 0, "insecure_http", OPT_BOOL, F(insecure_http), NULL,
     "plain HTTP instead of HTTPS, only on a loopback --listen address (tests, or a TLS proxy in front)"},
    {"enclave", 'e', "enclave", OPT_STRING, F(enclave), "PATH", "the cdr-enclave executable (default: beside cdrd)"},
    {"enclave-vsock", 0, "enclave_vsock", OPT_STRING, F(enclave_vsock), "CID:PORT",
     "do not start the enclave: connect to the one listening there (a Nitro enclave, docs/ATTESTATION.md)"},
    {"enclave-unix", 0, "enclave_unix", OPT_STRING, F(enclave_unix), "PATH",
     "the same on an AF_UNIX socket (cdr-enclave --listen-unix)"},
    {"console", 0, "console", OPT_STRING, F(console), "DIR|none",
     "serve the web console's files from DIR at / (default: share/cdr/console beside cdrd, when it exists; "
     "none: do not).  That copy is the operator's: it says so and refuses to sign contract versions "
     "(members use `cdr console`, docs/CONSOLE.md)"},
    {"tsm-root", 0, "tsm_root", OPT_STRING, F(tsm_root), "DIR", "the started enclave's configfs-tsm directory (tests)"},
    {"upgrade-to", 0, "upgrade_to", OPT_STRING, F(upgrade_to), "PATH",
     "start the room, hand its sealing root to the cdr-enclave at PATH (the active contract must accept its "
     "measurement; docs/ATTESTATION.md \"Sealing and upgrades\"), store the result and exit; then serve with "
     "--enclave PATH"},
    {"help", 'h', NULL, OPT_BOOL, F(help), NULL, "show this text"},
};
#undef F
#define OPT_NROWS (sizeof(opt_rows) / sizeof(opt_rows[0]))

static const struct opt_row *row_by_flag(const char *flag) {
  for (size_t i = 0; i < OPT_NROWS; i++)
    if (strcmp(opt_rows[i].flag, flag) == 0)
      return &opt_rows[i];
  abort(); /* a name from this file that is not in the table */
}

static char **row_str(struct cdrd_config *c, const struct opt_row *o) { return (char **)((char *)c + o->offset); }
static uint64_t *row_uint(struct cdrd_config *c, const struct opt_row *o) {
  return (uint64_t *)((char *)c + o->offset);
}
static int *row_bool(struct cdrd_config *c, const struct opt_row *o) { return (int *)((char *)c + o->offset); }
static struct cdrd_strlist *row_list(struct cdrd_config *c, const struct opt_row *o) {
  return (struct cdrd_strlist *)((char *)c + o->offset);
}

static void list_clear(struct cdrd_strlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* Append a copy of v.  0, or 2 when out of memory. */
static int list_append(struct cdrd_strlist *l, const char *v) {
  char **grown, *copy;
  if (l->n >= SIZE_MAX / sizeof(*l->v) - 1 || (copy = strdup(v)) == NULL)
    return 2;
  if ((grown = realloc(l->v, (l->n + 1) * sizeof(*l->v))) == NULL) {
    free(copy);
    return 2;
  }
  l->v = grown;
  l->v[l->n++] = copy;
  return 0;
}

/* "  HEAD  text" with the text wrapped at 79 columns under itself. */
static void usage_wrapped(FILE *f, const char *head, const char *text) {
  const size_t indent = 33, width = 79 - 33;
  const char *p = text;
  fprintf(f, "  %-30s ", head);
  if (strlen(head) > 30)
    fprintf(f, "\n%*s", (int)indent, "");
  while (*p != '\0') {
    size_t n = strlen(p), cut = n;
    if (n > width) {
      cut = width;
      while (cut > 0 && p[cut] != ' ')
        cut--;
      if (cut == 0)
        cut = width;
    }
    fprintf(f, "%.*s\n", (int)cut, p);
    p += cut;
    while (*p == ' ')
      p++;
    if (*p != '\0')
      fprintf(f, "%*s", (int)indent, "");
  }
}

void cdrd_config_usage(FILE *f) {
  fprintf(f, "usage: cdrd [ROOM] [OPTIONS]   (cdr serve ROOM [OPTIONS] runs this)\n\n"
             "Serve the data room in ROOM over HTTPS (docs/PROTOCOL.md).\n\nOptions [config file key]:\n");
  for (size_t i = 0; i < OPT_NROWS; i++) {
    const struct opt_row *o = &opt_rows[i];
    char head[64];
    if (o->short_name)
      snprintf(head, sizeof(head), "-%c, --%s%s%s", o->short_name, o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
    else
      snprintf(head, sizeof(head), "    --%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
    char text[512];
    snprintf(text, sizeof(text), "%s%s%s%s", o->help, o->key ? " [" : "", o->key ? o->key : "", o->key ? "]" : "");
    usage_wrapped(f, head, text);
  }
  fprintf(f, "\nThe token PIN comes from CDR_HSM_PIN, or ROOM/hsm/user-pin for the embedded\n"
             "SoftHSM2 token.  cdrd listens at once: /v1/health, /v1/ready, /v1/openapi.json\n"
             "and /metrics answer while the enclave starts, every other route 503\n"
             "room_loading; then every route is served while the sealed tables load in the\n"
             "background (smallest first; a table still loading answers room_loading, and\n"
             "/v1/health shows the progress).  It stops on SIGINT or SIGTERM (exit 0) and\n"
             "when the enclave dies (exit 1).\n\n"
             "TLS (1.2 and 1.3, AEAD ciphers only) is on unless --insecure-http.  The room\n"
             "CA issues the server certificate (through the token) for the --tls-name\n"
             "names; members pin the room CA, so no public CA is needed.  It lasts 90\n"
             "days; cdrd renews it when started within 30 days of its end and warns in\n"
             "its log meanwhile, so restart it (e.g. monthly).  The --metrics-listen\n"
             "listener is plain HTTP, never TLS.\n");
}

int cdrd_parse_hostport(const char *s, char **host, uint16_t *port) {
  const char *colon, *h = s, *hend;
  unsigned long p = 0;

  if (s[0] == '[') {
    h = s + 1;
    if ((hend = strchr(h, ']')) == NULL || hend[1] != ':')
      return CDR_ERR_ARG;
    colon = hend + 1;
  } else {
    if ((colon = strrchr(s, ':')) == NULL)
      return CDR_ERR_ARG;
    hend = colon;
    if (memchr(s, ':', (size_t)(colon - s)) != NULL) /* bare IPv6 needs brackets */
      return CDR_ERR_ARG;
  }
  if (hend == h || colon[1] == '\0' || strlen(colon + 1) > 5)
    return CDR_ERR_ARG;
  for (const char *d = colon + 1; *d; d++) {
    if (*d < '0' || *d > '9')
      return CDR_ERR_ARG;
    p = p * 10 + (unsigned long)(*d - '0');
  }
  if (p > 65535)
    return CDR_ERR_ARG;
  if ((*host = strndup(h, (size_t)(hend - h))) == NULL)
    return CDR_ERR_NOMEM;
  *port = (uint16_t)p;
  return 0;
}

/* Set a row's field from text (a flag's argument).  2 and a message on
 * a bad value.  A list row's first flag replaces the file's list. */
static int row_set_text(struct cdrd_config *c, const struct opt_row *o, const char *v) {
  if (o->type == OPT_LIST) {
    struct cdrd_strlist *l = row_list(c, o);
    if (!l->from_flags) {
      list_clear(l);
      l->from_flags = 1;
    }
    return list_append(l, v);
  }
  if (o->type == OPT_BOOL) {
    *row_bool(c, o) = 1;
    return 0;
  }
  if (o->type == OPT_UINT) {
    char *end;
    if (v[0] < '0' || v[0] > '9' || (*row_uint(c, o) = strtoull(v, &end, 10), *end != '\0')) {
      fprintf(stderr, "cdrd: --%s wants a non-negative integer, got \"%s\"\n", o->flag, v);
      return 2;
    }
    return 0;
  }
  char *copy = strdup(v);
  if (copy == NULL)
    return 2;
  free(*row_str(c, o));
  *row_str(c, o) = copy;
  return 0;
}

/* Set a row's field from the file's value; 2 naming the key if its type
 * is wrong. */
static int row_set_json(struct cdrd_config *c, const struct opt_row *o, json_t *v, const char *file) {
  static const char *const want[] = {"a string", "a non-negative integer", "true or false", "an array of strings"};
  if (o->type == OPT_STRING && json_is_string(v))
    return row_set_text(c, o, json_string_value(v));
  if (o->type == OPT_UINT && json_is_integer(v) && json_integer_value(v) >= 0) {
    *row_uint(c, o) = (uint64_t)json_integer_value(v);
    return 0;
  }
  if (o->type == OPT_BOOL && json_is_boolean(v)) {
    *row_bool(c, o) = json_is_true(v);
    return 0;
  }
  if (o->type == OPT_LIST && json_is_array(v)) {
    size_t i;
    json_t *e;
    list_clear(row_list(c, o));
    json_array_foreach(v, i, e) {
      if (!json_is_string(e))
        break;
      if (list_append(row_list(c, o), json_string_value(e)) != 0)
        return 2;
    }
    if (i == json_array_size(v))
      return 0;
  }
  fprintf(stderr, "cdrd: %s: \"%s\" must be %s\n", file, o->key, want[o->type]);
  return 2;
}

/* The file --config names: every key must be a row's. */
static int config_read_file(struct cdrd_config *c, const char *file) {
  json_error_t e;
  json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &e), *v;
  const char *key;
  int st = 0;

  if (root == NULL) {
    fprintf(stderr, "cdrd: %s: not a valid JSON file (line %d, column %d: %s)\n", file, e.line, e.column, e.text);
    return 2;
  }
  if (!json_is_object(root)) {
    fprintf(stderr, "cdrd: %s: must be a JSON object of settings\n", file);
    json_decref(root);
    return 2;
  }
  json_object_foreach(root, key, v) {
    const struct opt_row *o = NULL;
    for (size_t i = 0; i < OPT_NROWS && o == NULL; i++)
      if (opt_rows[i].key != NULL && strcmp(opt_rows[i].key, key) == 0)
        o = &opt_rows[i];
    if (o == NULL) {
      fprintf(stderr, "cdrd: %s: unknown key \"%s\" (cdrd --help lists the keys in [brackets])\n", file, key);
      st = 2;
      break;
    }
    if ((st = row_set_json(c, o, v, file)) != 0)
      break;
  }
  json_decref(root);
  return st;
}

/* --config FILE or --config=FILE, found before the other flags so that
 * they override the file wherever they stand. */
static const char *config_find_file(int argc, char **argv) {
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
      file = argv[++i];
    else if (strncmp(argv[i], "--config=", 9) == 0)
      file = argv[i] + 9;
  }
  return file;
}

/* The flags, through getopt_long built from the table. */
static int config_read_flags(struct cdrd_config *c, int argc, char **argv) {
  struct option lopts[OPT_NROWS + 1];
  char shorts[2 * OPT_NROWS + 2];
  size_t ns = 0;
  int ch, idx, st;

  memset(lopts, 0, sizeof(lopts));
  shorts[ns++] = ':';
  for (size_t i = 0; i < OPT_NROWS; i++) {
    lopts[i].name = opt_rows[i].flag;
    lopts[i].has_arg = opt_rows[i].type == OPT_BOOL ? no_argument : required_argument;
    lopts[i].val = 0x100 + (int)i;
    if (opt_rows[i].short_name) {
      shorts[ns++] = (char)opt_rows[i].short_name;
      if (opt_rows[i].type != OPT_BOOL)
        shorts[ns++] = ':';
    }
  }
  shorts[ns] = '\0';
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, shorts, lopts, &idx)) != -1) {
    const struct opt_row *o = NULL;
    if (ch >= 0x100 && (size_t)(ch - 0x100) < OPT_NROWS)
      o = &opt_rows[ch - 0x100];
    for (size_t i = 0; i < OPT_NROWS && o == NULL; i++)
      if (opt_rows[i].short_name == ch)
        o = &opt_rows[i];
    if (o == NULL) {
      fprintf(stderr, "cdrd: unknown option or missing argument: %s (cdrd --help)\n", argv[optind - 1]);
      return 2;
    }
    if ((st = row_set_text(c, o, optarg)) != 0)
      return st;
  }
  if (argc - optind > 1) {
    fprintf(stderr, "cdrd: expected at most one ROOM operand\n");
    return 2;
  }
  if (argc - optind == 1)
    return row_set_text(c, row_by_flag("room"), argv[optind]);
  return 0;
}

/* A literal loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or
 * "localhost". */
static int host_is_loopback(const char *h) {
  struct in_addr a4;
  struct in6_addr a6;
  if (strcmp(h, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, h, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, h, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  return 0;
}

/* Refuse naming the setting: flag and key.  Returns 2. */
static int config_bad(const char *flag, const char *why, const char *got) {
  const struct opt_row *o = row_by_flag(flag);
  fprintf(stderr, "cdrd: --%s%s%s%s: %s%s%s%s\n", flag, o->key ? " (config key \"" : "", o->key ? o->key : "",
          o->key ? "\")" : "", why, got ? ", got \"" : "", got ? got : "", got ? "\"" : "");
  return 2;
}

/* The TLS rows into c->tls, checked against the listen host (tls.h;
 * its refusals name the flags). */
static int config_check_tls(struct cdrd_config *c) {
  if (c->tls_names.n > HOST_TLS_MAX_NAMES)
    return config_bad("tls-name", "is given more than 16 names", NULL);
  memset(&c->tls, 0, sizeof(c->tls));
  for (size_t i = 0; i < c->tls_names.n; i++)
    c->tls.names[i] = c->tls_names.v[i];
  c->tls.nnames = c->tls_names.n;
  c->tls.cert_file = c->tls_cert;
  c->tls.key_file = c->tls_key;
  c->tls.insecure_http = c->insecure_http;
  return host_tls_check_args(&c->tls, c->host) != 0 ? 2 : 0;
}

/* Check every value and fill the derived fields. */
static int config_check(struct cdrd_config *c) {
  static const char *const levels[] = {"debug", "info", "warn", "error"};
  int found = 0;
  if (c->room == NULL)
    return config_bad("room", "a room folder is required (the operand or the key)", NULL);
  if (cdrd_parse_hostport(c->listen ? c->listen : CDRD_DEFAULT_LISTEN, &c->host, &c->port) != 0)
    return config_bad("listen", "wants HOST:PORT (or [IPV6]:PORT)", c->listen);
  if (c->metrics_listen != NULL) {
    if (cdrd_parse_hostport(c->metrics_listen, &c->metrics_host, &c->metrics_port) != 0)
      return config_bad("metrics-listen", "wants HOST:PORT (or [IPV6]:PORT)", c->metrics_listen);
    if (!c->metrics_allow_remote && !host_is_loopback(c->metrics_host))
      return config_bad("metrics-listen",
                        "is not a loopback address; metrics tell who uses the room when: add "
                        "--metrics-allow-remote to serve them elsewhere",
                        c->metrics_listen);
    c->metrics_set = 1;
  }
  c->level = CDR_LOG_INFO;
  for (size_t i = 0; c->log_level != NULL && i < 4; i++)
    if (strcmp(c->log_level, levels[i]) == 0) {
      c->level = (enum cdr_log_level)i;
      found = 1;
    }
  if (c->log_level != NULL && !found)
    return config_bad("log-level", "wants debug, info, warn or error", c->log_level);
  if (c->http_threads > 64)
    return config_bad("http-threads", "wants 1 to 64 (0: the default, 4)", NULL);
  if (c->http_max_body > CDR_MAX_HTTP_REQUEST_BODY)
    return config_bad("http-max-body", "is above the protocol's largest request (8 MiB + 64 KiB)", NULL);
  if (c->enclave_vsock != NULL && c->enclave_unix != NULL)
    return config_bad("enclave-vsock", "and --enclave-unix exclude each other", NULL);
  if (c->enclave_vsock != NULL && ipc_channel_vsock(&c->connect_addr, c->enclave_vsock) != 0)
    return config_bad("enclave-vsock", "wants CID:PORT", c->enclave_vsock);
  if (c->enclave_unix != NULL && ipc_channel_unix(&c->connect_addr, c->enclave_unix) != 0)
    return config_bad("enclave-unix", "wants a socket path of at most 107 bytes", c->enclave_unix);
  c->connect_set = c->enclave_vsock != NULL || c->enclave_unix != NULL;
  return config_check_tls(c);
}

/* --check-config: the effective settings, every keyed row, as JSON. */
static int config_print(struct cdrd_config *c) {
  json_t *o = json_object();
  char *text;
  for (size_t i = 0; o != NULL && i < OPT_NROWS; i++) {
    const struct opt_row *r = &opt_rows[i];
    json_t *v;
    if (r->key == NULL)
      continue;
    if (r->type == OPT_STRING) {
      const char *s = *row_str(c, r);
      if (s == NULL && strcmp(r->flag, "listen") == 0)
        s = CDRD_DEFAULT_LISTEN;
      v = s ? json_string(s) : json_null();
    } else if (r->type == OPT_UINT) {
      v = json_integer((json_int_t)*row_uint(c, r));
    } else if (r->type == OPT_LIST) {
      const struct cdrd_strlist *l = row_list(c, r);
      v = json_array();
      for (size_t k = 0; v != NULL && k < l->n; k++)
        json_array_append_new(v, json_string(l->v[k]));
    } else {
      v = json_boolean(*row_bool(c, r));
    }
    json_object_set_new(o, r->key, v);
  }
  text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  if (text == NULL)
    return 1;
  printf("%s\n", text);
  free(text);
  return 0;
}

int cdrd_config_parse(struct cdrd_config *c, int argc, char **argv) {
  const char *file = config_find_file(argc, argv);
  int st;
  if (file != NULL && (st = config_read_file(c, file)) != 0)
    return st;
  if ((st = config_read_flags(c, argc, argv)) != 0)
    return st;
  if (c->help) {
    cdrd_config_usage(stdout);
    return 0;
  }
  if ((st = config_check(c)) != 0)
    return st;
  if (c->check_config)
    return config_print(c);
  return -1;
}

void cdrd_config_free(struct cdrd_config *c) {
  for (size_t i = 0; i < OPT_NROWS; i++)
    if (opt_rows[i].type == OPT_STRING) {
      free(*row_str(c, &opt_rows[i]));
      *row_str(c, &opt_rows[i]) = NULL;
    } else if (opt_rows[i].type == OPT_LIST) {
      list_clear(row_list(c, &opt_rows[i]));
    }
  free(c->host);
  free(c->metrics_host);
  c->host = c->metrics_host = NULL;
}
