/*
 * hwexpect.c - expectations of TDX RTMRs and Nitro PCRs: parsing them
 * from "N=HEX", and comparing them with what a verifier found; and the
 * parser of an SEV-SNP minimum TCB ("snp=27,microcode=222"); see
 * hwattest.h.
 *
 * The comparison runs only on a report its verifier accepted (signature,
 * chain, TCB, debug, report_data), from cdr_verify_hw, so a register is
 * compared only once it is proven.  Register values are public (they are
 * hashes of what was booted), so they are compared with memcmp and shown
 * in full in a failing check: the user needs both values to see which
 * image or configuration differs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "hwattest.h"

const char *cdr_hw_reg_name(enum cdr_hw_reg kind) {
  return kind == CDR_HW_REG_RTMR ? "RTMR" : kind == CDR_HW_REG_PCR ? "PCR" : "register";
}

/* How many registers of `kind` a platform can have (0: not a kind). */
static unsigned reg_count(enum cdr_hw_reg kind) {
  return kind == CDR_HW_REG_RTMR ? CDR_HW_RTMRS : kind == CDR_HW_REG_PCR ? CDR_HW_MAX_PCRS : 0;
}

int cdr_hw_expect_add(struct cdr_hw_expect *list, enum cdr_hw_reg kind, const char *spec) {
  struct cdr_hw_expect_reg e;
  unsigned idx = 0;
  const char *p = spec;

  if (list == NULL || spec == NULL || reg_count(kind) == 0)
    return CDR_ERR_ARG;
  /* N: one or two decimal digits, no sign, no leading zero but "0". */
  if (*p < '0' || *p > '9')
    return CDR_ERR_ARG;
  idx = (unsigned)(*p++ - '0');
  if (*p >= '0' && *p <= '9') {
    if (idx == 0)
      return CDR_ERR_ARG;
    idx = idx * 10 + (unsigned)(*p++ - '0');
  }
  if (*p++ != '=' || idx >= reg_count(kind))
    return CDR_ERR_ARG;
  memset(&e, 0, sizeof(e));
  e.kind = kind;
  e.index = idx;
  if (cdr_hex_decode(e.value, sizeof(e.value), p) != 0) /* exactly 96 digits */
    return CDR_ERR_ARG;
  for (size_t i = 0; i < list->n && i < CDR_HW_MAX_EXPECT; i++) {
    if (list->reg[i].kind != kind || list->reg[i].index != idx)
      continue;
    return memcmp(list->reg[i].value, e.value, CDR_HW_REG_LEN) == 0 ? 0 : CDR_ERR_ARG;
  }
  if (list->n >= CDR_HW_MAX_EXPECT) /* unreachable with one entry per register */
    return CDR_ERR_ARG;
  list->reg[list->n++] = e;
  return 0;
}

int cdr_hw_expect_valid(const struct cdr_hw_expect *list) {
  if (list == NULL)
    return 0;
  if (list->n > CDR_HW_MAX_EXPECT)
    return CDR_ERR_ARG;
  for (size_t i = 0; i < list->n; i++)
    if (list->reg[i].index >= reg_count(list->reg[i].kind))
      return CDR_ERR_ARG;
  return 0;
}

/* The value of register e in rep, or NULL with *why saying why there is
 * none. */
static const uint8_t *reg_value(const struct cdr_hw_report *rep, const struct cdr_hw_expect_reg *e, char *why,
                                size_t whylen) {
  static const char *const platform_name[] = {"", "AMD SEV-SNP", "Intel TDX", "AWS Nitro"};
  const char *pname = rep->platform >= CDR_HW_SNP && rep->platform <= CDR_HW_NITRO ? platform_name[rep->platform]
                                                                                     : "this platform";
  const char *rname = cdr_hw_reg_name(e->kind);

  if (rep->platform == CDR_HW_TDX && e->kind == CDR_HW_REG_RTMR)
    return rep->rtmr[e->index];
  if (rep->platform == CDR_HW_NITRO && e->kind == CDR_HW_REG_PCR) {
    if (e->index < rep->npcrs && (rep->pcr_present >> e->index) & 1u)
      return rep->pcr[e->index];
    snprintf(why, whylen, "PCR%u expected, but the document does not carry it (%zu PCRs, indexes 0-%zu)", e->index,
             rep->npcrs, rep->npcrs > 0 ? rep->npcrs - 1 : 0);
    return NULL;
  }
  snprintf(why, whylen, "%s%u expected, but %s evidence has no %ss%s", rname, e->index, pname, rname,
           rep->platform == CDR_HW_TDX     ? " (its registers are MRTD and RTMR0-3)"
           : rep->platform == CDR_HW_NITRO ? " (its registers are PCR0-31)"
                                           : " (its one register is MEASUREMENT)");
  return NULL;
}

int cdr_hw_expect_check(const struct cdr_hw_expect *list, struct cdr_hw_report *out) {
  static const char name[] = "expected register";
  char why[sizeof(out->checks[0].detail)];
  char want[2 * CDR_HW_REG_LEN + 1], got[2 * CDR_HW_REG_LEN + 1];

  if (list == NULL)
    return 0;
  if (cdr_hw_expect_valid(list) != 0) {
    cdr_hw_check(out, 0, name, "the expectation list is not well formed");
    return CDR_ERR_ARG;
  }
  for (size_t i = 0; i < list->n; i++) {
    const struct cdr_hw_expect_reg *e = &list->reg[i];
    const char *rname = cdr_hw_reg_name(e->kind);
    const uint8_t *have = reg_value(out, e, why, sizeof(why));
    if (have == NULL) {
      cdr_hw_check(out, 0, name, "%s", why);
      return CDR_ERR_ATTEST_MEASUREMENT;
    }
    if (memcmp(have, e->value, CDR_HW_REG_LEN) != 0) {
      cdr_hex_encode(want, e->value, CDR_HW_REG_LEN);
      cdr_hex_encode(got, have, CDR_HW_REG_LEN);
      cdr_hw_check(out, 0, name, "%s%u differs: expected %s, got %s", rname, e->index, want, got);
      return CDR_ERR_ATTEST_MEASUREMENT;
    }
    cdr_hw_check(out, 1, name, "%s%u equals the expected value", rname, e->index);
  }
  return 0;
}

/* "bootloader=4,tee=0,snp=27,microcode=222" (any subset, any order) into
 * the TCB_VERSION byte layout of cdr_hw_policy.snp_min_tcb. */
int cdr_snp_min_tcb_parse(const char *spec, uint8_t tcb[CDR_SNP_TCB_LEN]) {
  static const struct {
    const char *name;
    int byte;
  } fields[] = {{"bootloader", 0}, {"tee", 1}, {"snp", 6}, {"microcode", 7}};
  const char *p = spec;
  unsigned seen = 0;

  memset(tcb, 0, CDR_SNP_TCB_LEN);
  while (*p != '\0') {
    size_t i, n;
    char *end;
    unsigned long v;
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
      n = strlen(fields[i].name);
      if (strncmp(p, fields[i].name, n) == 0 && p[n] == '=')
        break;
    }
    if (i == sizeof(fields) / sizeof(fields[0]) || (seen & 1u << i) != 0)
      return CDR_ERR_ARG; /* unknown, or again (snp=27,snp=0 would lower the floor) */
    seen |= 1u << i;
    p += strlen(fields[i].name) + 1;
    if (*p < '0' || *p > '9')
      return CDR_ERR_ARG;
    v = strtoul(p, &end, 10);
    if (v > 255 || (*end != ',' && *end != '\0'))
      return CDR_ERR_ARG;
    tcb[fields[i].byte] = (uint8_t)v;
    p = *end == ',' ? end + 1 : end;
    if (*end == ',' && *p == '\0')
      return CDR_ERR_ARG;
  }
  return 0;
}
