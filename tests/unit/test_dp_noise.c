/*
 * test_dp_noise.c - the discrete noise of src/enclave/dp_noise.c checked
 * against its exact distribution on many samples from the real CSPRNG.
 *
 * False alarms.  Each statistical check below is one of 12, and each has
 * a false-alarm probability of at most 5e-8 for a correct sampler, so
 * the whole test fails by chance with probability below 6e-7 (< 1e-6):
 *   - a Bernoulli frequency over N draws: Hoeffding,
 *     P(|f - p| >= e) <= 2 exp(-2 N e^2);
 *   - a discrete Laplace sample of N draws: the Dvoretzky-Kiefer-
 *     Wolfowitz inequality with Massart's constant, valid for every
 *     distribution on the line, discrete ones included,
 *     P(sup_y |F_N(y) - F(y)| > e) <= 2 exp(-2 N e^2),
 *     and the mass at 0 by Hoeffding.
 * With 2 exp(-2 N e^2) = 5e-8, e = sqrt(ln(4e7) / (2 N)): 0.0066 for
 * N = 200000.  That is sharp enough to tell the discrete Laplace of
 * scale 3 (P(0) = 0.1652) from a continuous Laplace rounded to the
 * nearest integer (P(0) = 0.1535), or from scale 3.3.
 * The reference values are computed in double precision (errors near
 * 1e-15, far below e).
 */
#include <math.h>
#include <stdlib.h>

#include "enclave/dp_noise.h"
#include "testlib.h"

#define N 200000
#define ALARM 5e-8

static double tol(double n) { return sqrt(log(2.0 / ALARM) / (2.0 * n)); }

static void check_bernoulli_exp(struct dp_rng *r, dp_u128 n, dp_u128 d) {
  long ones = 0;
  for (int i = 0; i < N; i++) {
    int b = dp_bernoulli_exp(r, n, d);
    CHECK(b == 0 || b == 1);
    ones += b == 1;
  }
  double p = exp(-(double)n / (double)d), f = (double)ones / N;
  if (fabs(f - p) >= tol(N))
    fprintf(stderr, "bernoulli_exp(%g): frequency %.5f, exact %.5f\n", (double)n / (double)d, f, p);
  CHECK(fabs(f - p) < tol(N));
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The exact CDF of the discrete Laplace of parameter p = exp(-s/t). */
static double dlap_cdf(double p, int64_t y) {
  return y >= 0 ? 1.0 - pow(p, (double)(y + 1)) / (1.0 + p) : pow(p, (double)-y) / (1.0 + p);
}

static void check_laplace(struct dp_rng *r, dp_u128 t, uint64_t s) {
  int64_t *v = malloc(N * sizeof(*v));
  CHECK(v != NULL);
  if (v == NULL)
    return;
  long zeros = 0;
  for (int i = 0; i < N; i++) {
    dp_i128 y = 0;
    CHECK_RC(dp_laplace(r, t, s, &y), 0);
    CHECK(y > -1000000 && y < 1000000);
    v[i] = (int64_t)y;
    zeros += y == 0;
  }
  qsort(v, N, sizeof(*v), cmp_i64);
  double p = exp(-(double)s / (double)t), worst = 0;
  /* F_N and F are step functions with steps at integers: the sup of
   * their difference is reached at an integer, between the smallest
   * sample minus one and the largest (outside, F_N is 0 or 1 and F is
   * closer to it than at the ends). */
  size_t i = 0;
  for (int64_t y = v[0] - 1; y <= v[N - 1]; y++) {
    while (i < N && v[i] <= y)
      i++;
    double d = fabs((double)i / N - dlap_cdf(p, y));
    if (d > worst)
      worst = d;
  }
  double p0 = (1.0 - p) / (1.0 + p), f0 = (double)zeros / N;
  if (worst > tol(N) || fabs(f0 - p0) >= tol(N))
    fprintf(stderr, "laplace(%g/%llu): KS distance %.5f, P(0) %.5f vs %.5f (tolerance %.5f)\n", (double)t,
            (unsigned long long)s, worst, f0, p0, tol(N));
  CHECK(worst <= tol(N));
  CHECK(fabs(f0 - p0) < tol(N));
  free(v);
}

static void check_args(struct dp_rng *r) {
  dp_i128 y;
  dp_u128 u;
  CHECK_RC(dp_laplace(r, 0, 1, &y), CDR_ERR_ARG);
  CHECK_RC(dp_laplace(r, 1, 0, &y), CDR_ERR_ARG);
  CHECK_RC(dp_laplace(r, DP_LAPLACE_MAX_T + 1, 1, &y), CDR_ERR_ARG);
  CHECK_RC(dp_bernoulli(r, 3, 2), CDR_ERR_ARG);
  CHECK_RC(dp_bernoulli(r, 0, 0), CDR_ERR_ARG);
  CHECK_RC(dp_bernoulli_exp(r, 1, 0), CDR_ERR_ARG);
  CHECK_RC(dp_uniform(r, 0, &u), CDR_ERR_ARG);
  /* Exact ends: probability 0 and 1, and a one-value range. */
  for (int i = 0; i < 1000; i++) {
    CHECK(dp_bernoulli(r, 0, 7) == 0);
    CHECK(dp_bernoulli(r, 7, 7) == 1);
    CHECK(dp_bernoulli_exp(r, 0, 5) == 1);
    CHECK(dp_uniform(r, 1, &u) == 0 && u == 0);
  }
  /* Uniform draws stay below a bound that is not a power of two, at
   * 128 bits too. */
  dp_u128 big = (((dp_u128)1) << 127) + 12345;
  for (int i = 0; i < 1000; i++) {
    CHECK(dp_uniform(r, 3, &u) == 0 && u < 3);
    CHECK(dp_uniform(r, big, &u) == 0 && u < big);
  }
}

int main(void) {
  struct dp_rng r = {0};
  check_args(&r);
  /* Bernoulli(exp(-g)) for g = 1/3, 1, 5/2 and the 128-bit path. */
  check_bernoulli_exp(&r, 1, 3);
  check_bernoulli_exp(&r, 1, 1);
  check_bernoulli_exp(&r, 5, 2);
  check_bernoulli_exp(&r, ((dp_u128)1) << 100, (((dp_u128)1) << 100) * 3);
  /* Discrete Laplace of scale 3, 2.5, 1/3, and 4 with t past 64 bits. */
  check_laplace(&r, 3, 1);
  check_laplace(&r, 5, 2);
  check_laplace(&r, 1, 3);
  check_laplace(&r, ((dp_u128)1) << 65, 1ull << 63);
  dp_rng_wipe(&r);
  for (size_t i = 0; i < sizeof(r.buf); i++)
    CHECK(r.buf[i] == 0);
  return test_summary("dp_noise");
}
