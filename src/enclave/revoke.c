/*
 * revoke.c - the room's certificate revocation list inside the enclave.
 *
 * The host delivers the CRL (IPC_CRL) at start and whenever ROOM/crl.pem
 * changes.  The enclave accepts it only if the room CA signed it, and
 * only if its CRL number is not below the one it holds (the host cannot
 * bring back an older list to un-revoke someone).  A newer list ends the
 * open sessions of every certificate it revokes, at once, and is recorded
 * in the sealed manifest, so that after a restart the enclave refuses to
 * open sessions until the host hands it a list at least that new.
 */
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "common/log.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "persist.h"

/* The CRL number extension as a uint64 (0 if absent or too large). */
static uint64_t crl_number_of(X509_CRL *crl) {
  ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
  uint64_t v = 0;
  if (n == NULL || ASN1_INTEGER_get_uint64(&v, n) != 1)
    v = 0;
  ASN1_INTEGER_free(n);
  return v;
}

/* Is this session's certificate serial (hex) in the CRL? */
static int session_revoked(X509_CRL *crl, const struct session *s) {
  BIGNUM *bn = NULL;
  ASN1_INTEGER *serial = NULL;
  X509_REVOKED *rev = NULL;
  int yes = 0;
  if (BN_hex2bn(&bn, s->serial) > 0 && (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL)
    yes = X509_CRL_get0_by_serial(crl, &rev, serial) == 1;
  ASN1_INTEGER_free(serial);
  BN_free(bn);
  return yes;
}

static int session_revoked_pred(void *ctx, const struct session *s) { return session_revoked(ctx, s); }

int enclave_cert_not_revoked(struct enclave *e, X509 *cert) {
  X509_REVOKED *rev = NULL;
  if (e->crl_number < e->crl_required)
    return CDR_ERR_CRL_STALE;
  if (e->crl != NULL && X509_CRL_get0_by_cert(e->crl, &rev, cert) == 1)
    return CDR_ERR_CERT_REVOKED;
  return 0;
}

/* Refuse a list the host handed over, with an audit entry (an older
 * or forged list is the host trying to un-revoke someone). */
static int crl_refused(struct enclave *e, struct cdr_buf *out, uint32_t *rt, int code, uint64_t number,
                       const char *message) {
  int r;
  if ((r = audit_begin(e, "crl")) != 0)
    return r;
  if (number > 0)
    audit_set(e, "crl_number", json_integer((json_int_t)number));
  if ((r = audit_finish(e, code)) != 0)
    return r; /* fatal: e->fatal is set */
  return enclave_reply_error(out, rt, code, message);
}

int enclave_handle_crl(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  const uint8_t *der;
  size_t len;
  X509_CRL *crl = NULL;
  uint32_t ended = 0;
  int r;
  if ((r = ipc_get_crl(in, &der, &len)) != 0)
    return r;
  const unsigned char *p = der;
  crl = d2i_X509_CRL(NULL, &p, (long)len);
  if (crl == NULL || p != der + len) {
    X509_CRL_free(crl);
    return crl_refused(e, out, rt, CDR_ERR_ARG, 0, "the revocation list is not a DER CRL");
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(e->ca_cert)) != 0 ||
      X509_CRL_verify(crl, X509_get0_pubkey(e->ca_cert)) != 1) {
    X509_CRL_free(crl);
    return crl_refused(e, out, rt, CDR_ERR_BAD_SIGNATURE, 0, "the revocation list is not signed by the room CA");
  }
  uint64_t number = crl_number_of(crl);
  if (number == 0 || number < e->crl_number || number < e->crl_required) {
    X509_CRL_free(crl);
    log_error("refused a revocation list numbered %llu: this room has accepted number %llu",
              (unsigned long long)number,
              (unsigned long long)(e->crl_number > e->crl_required ? e->crl_number : e->crl_required));
    return crl_refused(e, out, rt, CDR_ERR_CRL_OLDER, number,
                       "the revocation list is older than one this room has already accepted");
  }
  int newer = number > e->crl_number;
  X509_CRL_free(e->crl);
  e->crl = crl;
  e->crl_number = number;
  /* End, at once, every open session of a revoked certificate. */
  ended = session_table_remove_if(&e->sessions, session_revoked_pred, crl);
  if (newer && number > e->crl_required) {
    /* A newer list is a decision of the room: logged with its commit. */
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl);
    if ((r = audit_begin(e, "crl")) != 0)
      return r;
    audit_set(e, "crl_number", json_integer((json_int_t)number));
    audit_set(e, "revoked", json_integer(revoked ? sk_X509_REVOKED_num(revoked) : 0));
    audit_set(e, "sessions_ended", json_integer((json_int_t)ended));
    if ((r = persist_meta_changed(e)) != 0)
      return r; /* fatal: e->fatal is set */
  }
  log_info("revocation list number %llu accepted; %u open sessions ended", (unsigned long long)number, ended);
  *rt = IPC_CRL_OK;
  return ipc_put_crl_ok(out, number, ended);
}
