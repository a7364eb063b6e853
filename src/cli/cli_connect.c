/*
 * cli_connect.c - the options every room-talking command shares (see
 * cli.h): --key, --pass, --pin, --cert, --ca, --cacert, --profile,
 * --expect-measurement,
 * --expect-rtmr, --expect-pcr, --snp-min-tcb, --allow-sim, and a leading
 * URL argument; and connecting with them as the user (cli_connect_user),
 * which every command that opens a session starts with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hwattest.h"
#include "cli.h"
#include "client/connect.h"

/* Is sim attestation allowed (--allow-sim given, or CDR_ALLOW_SIM=1)? */
int cli_allow_sim(int flag) {
  const char *e = getenv("CDR_ALLOW_SIM");
  if (flag)
    return 1;
  return e != NULL && (strcmp(e, "1") == 0 || strcmp(e, "true") == 0 || strcmp(e, "yes") == 0);
}

int cli_connect_expect_reg(struct cdr_connect_opts *o, int ch, const char *spec) {
  int rtmr = ch == CLI_OPT_EXPECT_RTMR;
  if (cdr_hw_expect_add(&o->expect_regs, rtmr ? CDR_HW_REG_RTMR : CDR_HW_REG_PCR, spec) == 0)
    return 0;
  if (o->expect_regs_error == NULL)
    o->expect_regs_error = rtmr ? "--expect-rtmr takes N=HEX: N 0-3 and 96 hex digits, one value per RTMR"
                                : "--expect-pcr takes N=HEX: N 0-31 and 96 hex digits, one value per PCR";
  return CDR_ERR_ARG;
}

int cli_connect_option(int ch, const char *arg, struct cdr_connect_opts *o, int *allow_sim) {
  switch (ch) {
  case 'k': o->key = arg; return 1;
  case 'C': o->cert = arg; return 1;
  case 'c': o->ca = arg; return 1;
  case 'p': o->profile = arg; return 1;
  case 'm': o->expect_measurement = arg; return 1;
  case 's': *allow_sim = 1; return 1;
  case CLI_OPT_EXPECT_RTMR:
  case CLI_OPT_EXPECT_PCR:
    (void)cli_connect_expect_reg(o, ch, arg); /* reported by cli_connect_finish */
    return 1;
  case CLI_OPT_SNP_MIN_TCB: o->snp_min_tcb = arg; return 1;
  case CLI_OPT_CACERT: o->tls_cacert = arg; return 1;
  case CLI_OPT_PASS: o->key_pass = arg; return 1;
  case CLI_OPT_PIN: o->key_pin = arg; return 1;
  default: return 0;
  }
}

int cli_connect_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                       struct cdr_connect_opts *o, int *allow_sim) {
  int ch;
  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
    if (!cli_connect_option(ch, optarg, o, allow_sim))
      break;
  return ch;
}

int cli_connect_user(const char *cmd, struct cdr_connect_opts *o, struct cdr_connection *k, const char *unpinned_note) {
  char why[1024];
  int r;
  o->need_user = 1;
  o->open_session = 1;
  if ((r = cdr_connect(k, o, why, sizeof(why))) != 0)
    return cli_fail_client(cmd, k->client, r, "%s", why);
  if (!k->ca_pinned)
    cli_note("%s", unpinned_note != NULL ? unpinned_note : CLI_NOTE_UNPINNED);
  return 0;
}

int cli_connect_check_min_tcb(const char *cmd, const struct cdr_connect_opts *o) {
  const char *spec = o->snp_min_tcb ? o->snp_min_tcb : getenv("CDR_SNP_MIN_TCB");
  uint8_t tcb[CDR_SNP_TCB_LEN];
  if (spec == NULL || ((o->snp_min_tcb == NULL || spec[0] != '\0') && cdr_snp_min_tcb_parse(spec, tcb) == 0))
    return 0;
  return cli_usage(cmd, "%s takes " CDR_SNP_MIN_TCB_FORM,
                   o->snp_min_tcb ? "--snp-min-tcb" : "CDR_SNP_MIN_TCB");
}

int cli_connect_finish(const char *cmd, int argc, char **argv, int *optind_io, struct cdr_connect_opts *o,
                       int allow_sim) {
  int r;
  if (*optind_io < argc && cdr_is_url(argv[*optind_io]))
    o->url = argv[(*optind_io)++];
  if (o->expect_measurement != NULL && strlen(o->expect_measurement) != 64 && strlen(o->expect_measurement) != 96)
    return cli_usage(cmd, "--expect-measurement must be 64 hex digits (sim) or 96 (snp, tdx, nitro)");
  if (o->expect_regs_error != NULL)
    return cli_usage(cmd, "%s", o->expect_regs_error);
  if ((r = cli_connect_check_min_tcb(cmd, o)) != 0)
    return r;
  o->allow_sim = cli_allow_sim(allow_sim);
  return 0;
}
