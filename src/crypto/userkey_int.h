/*
 * userkey_int.h - between userkey.c (files, and the dispatch) and
 * userkey_pkcs11.c (keys in a PKCS#11 token).  See userkey.h.
 */
#ifndef CDR_USERKEY_INT_H
#define CDR_USERKEY_INT_H

#include <openssl/evp.h>

#include "userkey.h"

/* Load the key a pkcs11: URI names: its private key (want_private), or
 * its public key (no login).  pin_spec as in struct cdr_key_source. */
int cdr_pkcs11_key_load(const char *uri, const char *pin_spec, int want_private, EVP_PKEY **out) CDR_WUR;

/* cdr_key_ref_for_profile for a pkcs11: URI. */
int cdr_pkcs11_uri_without_pin(const char *uri, char **out, int *dropped_pin) CDR_WUR;

#endif
