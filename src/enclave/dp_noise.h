/*
 * dp_noise.h - noise for differential privacy, drawn on integers from
 * the enclave's CSPRNG (OpenSSL's private DRBG, RAND_priv_bytes) by
 * exact rational arithmetic: no floating point, no logarithm, so the
 * output carries no rounding artefact (Mironov 2012) and its
 * distribution is exactly the one stated
 * (but for the event dp_laplace's note below describes).
 *
 * The algorithms are Canonne, Kamath and Steinke, "The Discrete Gaussian
 * for Differential Privacy" (NeurIPS 2020), Algorithms 1 and 2:
 *   - Bernoulli(exp(-n/d)) for n/d in [0, 1] by the alternating series
 *     (K = 1; while Bernoulli(n/(d K)) K++; 1 iff K is odd), and for n/d
 *     above 1 by floor(n/d) draws of Bernoulli(exp(-1)) first;
 *   - the discrete Laplace distribution of scale t/s (t, s whole
 *     numbers): P(Y = y) = (1 - p)/(1 + p) * p^|y| with p = exp(-s/t),
 *     by rejection from a geometric on the multiples of 1/t.
 * Bernoulli(n/(d K)) is drawn as Bernoulli(n/d) and Bernoulli(1/K), both
 * true, so no product d*K is ever formed (it could pass 128 bits).
 *
 * Uniform integers below n come from 16 random bytes masked to n's bit
 * length and rejected when >= n (fewer than 2 draws on average).  Bytes
 * are taken from RAND_priv_bytes 256 at a time into a dp_rng, which is
 * wiped when done: what was drawn is never left in memory.
 *
 * Expected cost of one discrete Laplace sample: about 1.6 rounds of the
 * outer loop, each a uniform draw, one Bernoulli(exp(-U/t)) and a
 * geometric count of Bernoulli(exp(-1)): some 20 uniform draws in all,
 * whatever t and s are.
 */
#ifndef CDR_DP_NOISE_H
#define CDR_DP_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef unsigned __int128 dp_u128;
typedef __int128 dp_i128;

/* A buffer of bytes from RAND_priv_bytes.  Zero it to start
 * (struct dp_rng r = {0}); dp_rng_wipe when done. */
struct dp_rng {
  uint8_t buf[256];
  size_t off; /* bytes of buf already used; 0 or sizeof(buf) when empty */
  int filled;
};

void dp_rng_wipe(struct dp_rng *r);

/* A uniform integer in [0, n), n >= 1.  0 or CDR_ERR_INTERNAL (the DRBG
 * failed). */
int dp_uniform(struct dp_rng *r, dp_u128 n, dp_u128 *out) CDR_WUR;
/* 1 with probability n/d (0 <= n <= d, d >= 1), else 0; or
 * CDR_ERR_INTERNAL. */
int dp_bernoulli(struct dp_rng *r, dp_u128 n, dp_u128 d) CDR_WUR;
/* 1 with probability exp(-n/d) (d >= 1), else 0; or CDR_ERR_INTERNAL. */
int dp_bernoulli_exp(struct dp_rng *r, dp_u128 n, dp_u128 d) CDR_WUR;

/* The largest t dp_laplace takes: U + t V stays below 2^127 for every V
 * below 2^17, so that it fits a signed 128-bit integer.  A V of 2^17 or
 * more (probability exp(-2^17)) restarts the draw: the distribution is
 * the one stated conditioned on an event of probability 1 - exp(-131072),
 * a difference no finite computation can see. */
#define DP_LAPLACE_MAX_T (((dp_u128)1) << 109)

/* *y drawn from the discrete Laplace distribution of scale t/s:
 * P(y) proportional to exp(-|y| s / t), for 1 <= t <= DP_LAPLACE_MAX_T
 * and 1 <= s.  0, CDR_ERR_ARG (parameters out of range) or
 * CDR_ERR_INTERNAL (the DRBG failed). */
int dp_laplace(struct dp_rng *r, dp_u128 t, uint64_t s, dp_i128 *y) CDR_WUR;

#endif
