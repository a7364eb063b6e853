/*
 * dp_noise.c - exact discrete noise from the CSPRNG (dp_noise.h).
 *
 * Every probability here is a ratio of whole numbers compared against a
 * uniform whole number: nothing is rounded, so the distributions are
 * exactly the ones dp_noise.h states.  Loops end with probability 1;
 * their expected lengths are small constants (dp_noise.h).
 */
#include "dp_noise.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

void dp_rng_wipe(struct dp_rng *r) {
  OPENSSL_cleanse(r->buf, sizeof(r->buf));
  r->off = 0;
  r->filled = 0;
}

static int rng_bytes(struct dp_rng *r, uint8_t *out, size_t n) {
  while (n > 0) {
    if (!r->filled || r->off == sizeof(r->buf)) {
      if (RAND_priv_bytes(r->buf, (int)sizeof(r->buf)) != 1)
        return CDR_ERR_INTERNAL;
      r->off = 0;
      r->filled = 1;
    }
    size_t k = sizeof(r->buf) - r->off < n ? sizeof(r->buf) - r->off : n;
    memcpy(out, r->buf + r->off, k);
    /* A byte is used once: wipe it from the buffer as it is taken. */
    OPENSSL_cleanse(r->buf + r->off, k);
    r->off += k;
    out += k;
    n -= k;
  }
  return 0;
}

int dp_uniform(struct dp_rng *r, dp_u128 n, dp_u128 *out) {
  if (n <= 1) {
    *out = 0;
    return n == 1 ? 0 : CDR_ERR_ARG;
  }
  /* mask: all ones up to the highest bit of n - 1. */
  dp_u128 m = n - 1, mask = m;
  for (unsigned sh = 1; sh < 128; sh <<= 1)
    mask |= mask >> sh;
  for (;;) {
    uint8_t b[16];
    dp_u128 v = 0;
    int rc = rng_bytes(r, b, sizeof(b));
    for (size_t i = 0; i < sizeof(b); i++)
      v = (v << 8) | b[i];
    OPENSSL_cleanse(b, sizeof(b));
    if (rc != 0)
      return rc;
    v &= mask;
    if (v < n) {
      *out = v;
      return 0;
    }
  }
}

int dp_bernoulli(struct dp_rng *r, dp_u128 n, dp_u128 d) {
  dp_u128 u;
  if (d == 0 || n > d)
    return CDR_ERR_ARG;
  int rc = dp_uniform(r, d, &u);
  return rc != 0 ? rc : u < n;
}

/* Bernoulli(exp(-n/d)) for n <= d (CKS Algorithm 1, first case). */
static int bern_exp_le1(struct dp_rng *r, dp_u128 n, dp_u128 d) {
  uint64_t k = 1;
  for (;;) {
    /* A = Bernoulli(n / (d k)) = Bernoulli(n/d) and Bernoulli(1/k). */
    int a = dp_bernoulli(r, n, d);
    if (a < 0)
      return a;
    if (a == 1 && k > 1) {
      a = dp_bernoulli(r, 1, k);
      if (a < 0)
        return a;
    }
    if (a == 0)
      break;
    k++;
  }
  return (int)(k & 1u);
}

int dp_bernoulli_exp(struct dp_rng *r, dp_u128 n, dp_u128 d) {
  if (d == 0)
    return CDR_ERR_ARG;
  /* exp(-n/d) = exp(-1)^floor(n/d) * exp(-(n mod d)/d). */
  while (n > d) {
    int b = bern_exp_le1(r, 1, 1);
    if (b <= 0)
      return b;
    n -= d;
  }
  return bern_exp_le1(r, n, d);
}

#define DP_LAPLACE_MAX_V (1u << 17)

int dp_laplace(struct dp_rng *r, dp_u128 t, uint64_t s, dp_i128 *y) {
  if (t == 0 || t > DP_LAPLACE_MAX_T || s == 0)
    return CDR_ERR_ARG;
  for (;;) {
    dp_u128 u;
    int rc = dp_uniform(r, t, &u);
    if (rc != 0)
      return rc;
    int d = dp_bernoulli_exp(r, u, t);
    if (d < 0)
      return d;
    if (d == 0)
      continue;
    /* V: geometric, P(V = v) = (1 - 1/e) e^-v. */
    uint32_t v = 0;
    int a;
    while ((a = dp_bernoulli_exp(r, 1, 1)) == 1 && v < DP_LAPLACE_MAX_V)
      v++;
    if (a < 0)
      return a;
    if (v >= DP_LAPLACE_MAX_V)
      continue; /* probability exp(-2^17): see dp_noise.h */
    dp_u128 x = u + t * v, q = x / s;
    int b = dp_bernoulli(r, 1, 2);
    if (b < 0)
      return b;
    if (b == 1 && q == 0)
      continue;
    *y = b == 1 ? -(dp_i128)q : (dp_i128)q;
    return 0;
  }
}
