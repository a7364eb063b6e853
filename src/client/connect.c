/*
 * connect.c - from command-line options to an attested session; see
 * connect.h for the order in which the room CA is looked for.
 *
 * Invariant: a connection that cdr_connect returned 0 for has a client
 * that trusts exactly one room CA, whose room id equals the profile's
 * (when a profile is used), whose user certificate (when there is one)
 * verifies under that CA now, and whose attestation passed with a nonce
 * made for this connection.
 */
#include "connect.h"

#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "crypto/userkey.h"
#include "crypto/x509.h"

int cdr_is_url(const char *s) { return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0); }

char *cdr_ca_path_beside(const char *cert_path) {
  size_t n = strlen(cert_path), stem = n;
  char *out;
  if (n >= 4 && (strcmp(cert_path + n - 4, ".crt") == 0 || strcmp(cert_path + n - 4, ".pem") == 0))
    stem = n - 4;
  if ((out = malloc(stem + sizeof(".ca.crt"))) == NULL)
    return NULL;
  memcpy(out, cert_path, stem);
  memcpy(out + stem, ".ca.crt", sizeof(".ca.crt"));
  return out;
}

void cdr_connection_close(struct cdr_connection *k) {
  /* End the session in the enclave too, so that its keys do not outlive
   * the command by the session's hour.  Best effort: a failure only means
   * the session expires on its own. */
  if (k->client != NULL && k->session != NULL) {
    json_t *hdr = json_pack("{s:s}", "op", "close"), *res = NULL;
    /* Remember the head after this command's own changes, so that a room
     * put back to before them is refused at the next command. */
    int r = k->head_checked ? cdr_client_audit_check(k->client, k->session, &k->att) : 0;
    if (r != 0) { /* the next command's check says more; this command's result stands */
      char text[1024];
      cdr_client_error_text(k->client, r, text, sizeof(text));
      if (!cdr_client_quiet())
        fprintf(stderr, "warning: the room's audit head after this command was not remembered: %s\n", text);
      cdr_client_clear_error(k->client);
    }
    if (hdr != NULL && cdr_client_op(k->client, k->session, hdr, &res) == 0)
      json_decref(res);
    json_decref(hdr);
    cdr_client_clear_error(k->client);
  }
  cdr_session_free(k->session);
  cdr_attestation_clear(&k->att);
  cdr_profile_free(k->profile);
  cdr_client_free(k->client);
  memset(k, 0, sizeof(*k));
}

/* Trust the CA from the first source that has one (connect.h). */
static int choose_ca(struct cdr_connection *k, const struct cdr_connect_opts *o, const char *cert, char *why,
                     size_t whylen) {
  struct cdr_client *c = k->client;
  struct cdr_room_info ri;
  char *beside = NULL;
  int r;

  if (o->ca != NULL) {
    r = cdr_client_set_ca_file(c, o->ca);
    snprintf(k->ca_source, sizeof(k->ca_source), "pinned: %s", o->ca);
    k->ca_pinned = 1;
  } else if (k->profile != NULL) {
    r = cdr_client_set_ca_file(c, k->profile->ca);
    snprintf(k->ca_source, sizeof(k->ca_source), "pinned: profile %s (%s)", k->profile->name, k->profile->ca);
    k->ca_pinned = 1;
  } else if (cert != NULL && (beside = cdr_ca_path_beside(cert)) != NULL && access(beside, F_OK) == 0) {
    r = cdr_client_set_ca_file(c, beside);
    snprintf(k->ca_source, sizeof(k->ca_source), "pinned: %s", beside);
    k->ca_pinned = 1;
  } else {
    if ((r = cdr_client_fetch_room(c, &ri)) != 0) {
      char text[768];
      cdr_client_error_text(c, r, text, sizeof(text));
      snprintf(why, whylen, "cannot fetch the room CA: %s", text);
      goto out;
    }
    r = cdr_client_set_ca(c, ri.ca);
    cdr_room_info_clear(&ri);
    snprintf(k->ca_source, sizeof(k->ca_source), "NOT pinned: fetched from the server (trust on first use)");
    k->ca_pinned = 0;
  }
  if (r != 0) {
    char text[768];
    cdr_client_error_text(c, r, text, sizeof(text));
    snprintf(why, whylen, "room CA: %s", text);
  }
out:
  free(beside);
  return r;
}

/* TLS trust beyond the room CA (--cacert, else the profile's
 * tls_cacert).  (The measurement the profile pinned is pins.c's.) */
static int connect_tls_and_invite(struct cdr_connection *k, const struct cdr_connect_opts *o, char *why,
                                  size_t whylen) {
  const char *cacert = o->tls_cacert ? o->tls_cacert : (k->profile ? k->profile->tls_cacert : NULL);
  int r;

  if (cacert != NULL && (r = cdr_client_set_tls_cacert(k->client, cacert)) != 0) {
    snprintf(why, whylen, "cannot read the TLS CA file %s", cacert);
    return r;
  }
  return 0;
}

int cdr_connect(struct cdr_connection *k, const struct cdr_connect_opts *o, char *why, size_t whylen) {
  const char *url, *key, *cert;
  char text[768], rid[2 * CDR_ROOM_ID_BYTES + 1];
  int r, follow = 0;

  memset(k, 0, sizeof(*k));
  snprintf(why, whylen, "internal error");
  if (o->url != NULL) {
    if (o->profile != NULL)
      r = cdr_profile_load(o->profile, &k->profile);
    else if ((r = cdr_profile_find_url(o->url, &k->profile)) == CDR_ERR_NOT_FOUND)
      r = 0;
    if (r != 0) {
      snprintf(why, whylen, "cannot load profile %s: %s", o->profile ? o->profile : "", cdr_err_describe(r));
      goto out;
    }
    url = o->url;
  } else {
    if ((r = cdr_profile_load(o->profile, &k->profile)) != 0) {
      if (r == CDR_ERR_NOT_FOUND && o->profile == NULL)
        snprintf(why, whylen, "no URL given and no default profile (give URL --key K --cert C, or run cdr enroll)");
      else if (r == CDR_ERR_NOT_FOUND)
        snprintf(why, whylen, "no profile named %s", o->profile);
      else
        snprintf(why, whylen, "cannot load profile %s: %s", o->profile ? o->profile : "(default)",
                 cdr_err_describe(r));
      goto out;
    }
    url = k->profile->url;
  }
  key = o->key ? o->key : (k->profile ? k->profile->key : NULL);
  cert = o->cert ? o->cert : (k->profile ? k->profile->cert : NULL);
  r = CDR_ERR_ARG;
  if ((key == NULL) != (cert == NULL)) {
    snprintf(why, whylen, "give both --key and --cert");
    goto out;
  }
  if (o->need_user && key == NULL) {
    snprintf(why, whylen, "no key and certificate (give URL --key K --cert C, or run cdr enroll to make a profile)");
    goto out;
  }
  if ((r = cdr_client_new(&k->client, url)) != 0) {
    if (r == CDR_ERR_INSECURE_URL)
      snprintf(why, whylen, "%s: %s: %s", cdr_err_code(r), cdr_err_describe(r), url);
    else
      snprintf(why, whylen, "invalid server URL (want https://HOST:PORT, or http:// to a loopback address)");
    goto out;
  }
  cdr_client_allow_sim(k->client, o->allow_sim);
  if ((r = connect_tls_and_invite(k, o, why, whylen)) != 0)
    goto out;
  if (o->expect_measurement != NULL && (r = cdr_client_expect_measurement(k->client, o->expect_measurement)) != 0) {
    snprintf(why, whylen, "--expect-measurement must be 64 hex digits (sim) or 96 (snp, tdx, nitro)");
    goto out;
  }
  /* Hardware attestation policy: options, else the environment. */
  {
    const char *coll = o->tdx_collateral ? o->tdx_collateral : getenv("CDR_TDX_COLLATERAL");
    const char *tcb = o->accept_tcb ? o->accept_tcb : getenv("CDR_ACCEPT_TCB");
    const char *min_tcb = o->snp_min_tcb ? o->snp_min_tcb : getenv("CDR_SNP_MIN_TCB");
    if (coll != NULL && coll[0] != '\0' && (r = cdr_client_set_tdx_collateral(k->client, coll)) != 0) {
      snprintf(why, whylen, "cannot read the TDX collateral %s: %s", coll, cdr_err_describe(r));
      goto out;
    }
    if (tcb != NULL && tcb[0] != '\0' && (r = cdr_client_accept_tcb(k->client, tcb)) != 0) {
      snprintf(why, whylen, "out of memory");
      goto out;
    }
    if ((r = cdr_client_snp_min_tcb(k->client, min_tcb, o->snp_min_tcb != NULL)) != 0) {
      snprintf(why, whylen, "%s takes " CDR_SNP_MIN_TCB_FORM,
               o->snp_min_tcb ? "--snp-min-tcb" : "CDR_SNP_MIN_TCB");
      goto out;
    }
    if (o->expect_regs_error != NULL) {
      snprintf(why, whylen, "%s", o->expect_regs_error);
      r = CDR_ERR_ARG;
      goto out;
    }
    if ((r = cdr_client_expect_registers(k->client, &o->expect_regs)) != 0) {
      snprintf(why, whylen, "an --expect-rtmr / --expect-pcr expectation is out of range");
      goto out;
    }
  }
  if (key != NULL && (r = cdr_client_load_user_src(k->client, &(struct cdr_key_source){key, o->key_pass, o->key_pin},
                                                    cert)) != 0) {
    cdr_client_error_text(k->client, r, text, sizeof(text));
    snprintf(why, whylen, "%s", text);
    goto out;
  }
  if ((r = choose_ca(k, o, cert, why, whylen)) != 0)
    goto out;
  cdr_hex_encode(rid, k->client->room_id, sizeof(k->client->room_id));
  if (k->profile != NULL && strcmp(k->profile->room_id, rid) != 0) {
    snprintf(why, whylen, "profile %s is for room %s but its CA is for room %s", k->profile->name,
             k->profile->room_id, rid);
    r = CDR_ERR_CERT_UNTRUSTED;
    goto out;
  }
  if (cert != NULL && (r = cdr_client_check_user_cert(k->client)) != 0) {
    cdr_client_error_text(k->client, r, text, sizeof(text));
    snprintf(why, whylen, "%s%s", text, k->ca_pinned ? "" : " (fetched from the server, not pinned)");
    goto out;
  }
  if ((r = cdr_client_attest(k->client, &k->att)) != 0) {
    cdr_client_error_text(k->client, r, text, sizeof(text));
    snprintf(why, whylen, "attestation failed: %s", text);
    goto out;
  }
  if ((r = cdr_pins_check(k, o, &follow, why, whylen)) != 0)
    goto out;
  if (o->open_session && (r = cdr_session_open(k->client, &k->att, &k->session)) != 0) {
    cdr_client_error_text(k->client, r, text, sizeof(text));
    snprintf(why, whylen, "cannot open a session: %s", text);
    goto out;
  }
  /* The contract moved: read and check the chain before anything else. */
  if (follow && (r = cdr_pins_follow(k, o, why, whylen)) != 0)
    goto out;
  /* Refuse a room whose state is older than, or forked from, what this
   * client has seen (a whole ROOM folder put back). */
  if (o->open_session && (r = cdr_client_audit_check(k->client, k->session, &k->att)) != 0) {
    cdr_client_error_text(k->client, r, text, sizeof(text));
    snprintf(why, whylen, "%s", text);
    goto out;
  }
  k->head_checked = o->open_session;
  why[0] = '\0';
  r = 0;
out:
  return r;
}
