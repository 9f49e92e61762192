// Tests of the float64 normalization references (reference/norm.hpp).
//
// Every expectation is either a value computed by hand (written out below, or as the arithmetic
// that produces it) or an identity between two different operations (batchnorm_train of a matrix
// is layernorm of its transpose, groupnorm with one channel per group is instance norm, ...).
// Output buffers start as NaN so that an element a function forgets to write fails the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "reference/norm.hpp"
#include "reference/norm_backward.hpp"
#include "tests/reference_test_support.hpp"

namespace {

namespace ref = opbench::ref;
using opbench::test_support::expect_all_near;
using opbench::test_support::kNaN;
using opbench::test_support::poisoned;
using opbench::test_support::seeded;
using opbench::test_support::Vec;

Vec filled(std::size_t n, double v) {
  return Vec(n, v);
}

// Population mean and variance computed the other way round from the reference (one pass,
// E[x^2] - E[x]^2), for checking properties of outputs of modest magnitude.
void moments(const Vec& v, double& mean, double& var) {
  double s = 0.0, ss = 0.0;
  for (double e : v) {
    s += e;
    ss += e * e;
  }
  mean = s / static_cast<double>(v.size());
  var = ss / static_cast<double>(v.size()) - mean * mean;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

TEST(RefLayerNorm, HandComputedRows) {
  // Row 0: mean 2.5, var 1.25. Row 1: mean 0, var 4.5.
  const Vec x = {1, 2, 3, 4, -3, 0, 0, 3};
  const Vec gamma = filled(4, 1.0), beta = filled(4, 0.0);
  Vec y = poisoned(8);
  ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), 2, 4, 0.0);
  const double r2 = std::sqrt(2.0);
  expect_all_near(y, {-1.3416407865, -0.4472135955, 0.4472135955, 1.3416407865, -r2, 0.0, 0.0, r2},
                  1e-9);
}

TEST(RefLayerNorm, GammaBetaPerColumn) {
  const Vec x = {1, 2, 3, 4};
  const Vec gamma = {2, -1, 0.5, 3}, beta = {0.1, 0.2, 0.3, 0.4};
  Vec y = poisoned(4);
  ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), 1, 4, 0.0);
  const double s = std::sqrt(1.25);
  expect_all_near(
      y, {-1.5 / s * 2 + 0.1, -0.5 / s * -1 + 0.2, 0.5 / s * 0.5 + 0.3, 1.5 / s * 3 + 0.4}, 1e-12);
}

TEST(RefLayerNorm, EpsIsAddedToVariance) {
  // Row {1, -1}: var 1; with eps = 3 the denominator is sqrt(4) = 2.
  const Vec x = {1, -1};
  const Vec gamma = filled(2, 1.0), beta = filled(2, 0.0);
  Vec y = poisoned(2);
  ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), 1, 2, 3.0);
  expect_all_near(y, {0.5, -0.5}, 1e-15);
}

TEST(RefLayerNorm, ConstantRowsGiveExactlyBeta) {
  const Vec x = {5, 5, 5, -3.25, -3.25, -3.25};
  const Vec gamma = {1.5, -2, 7}, beta = {0.1, 0.2, -0.3};
  Vec y = poisoned(6);
  ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), 2, 3, 1e-5);
  for (int r = 0; r < 2; ++r) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(y[r * 3 + j], beta[j]) << "row " << r << " col " << j;
  }
}

TEST(RefLayerNorm, LargeCommonOffsetLeavesOutputUnchanged) {
  const std::int64_t cols = 64;
  const Vec x = seeded(cols, 1);
  Vec shifted(x);
  for (auto& e : shifted) e += 1e8;
  const Vec gamma = seeded(cols, 2, 0.5, 1.5), beta = seeded(cols, 3);
  Vec y = poisoned(cols), ys = poisoned(cols);
  ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), 1, cols, 1e-5);
  ref::layernorm(shifted.data(), gamma.data(), beta.data(), ys.data(), 1, cols, 1e-5);
  expect_all_near(ys, y, 1e-6);
}

// ---------------------------------------------------------------------------------------------
// RMSNorm and Pre-CRMSNorm

TEST(RefRmsNorm, HandComputed) {
  // Row {3, 4}: mean square 12.5 (not mean-subtracted). Row {1, -1, 1, -1}: mean square 1.
  const Vec x = {3, 4, 1, -1};
  const Vec gamma = filled(2, 1.0);
  Vec y = poisoned(4);
  ref::rmsnorm(x.data(), gamma.data(), y.data(), 2, 2, 0.0);
  const double s = std::sqrt(12.5);
  expect_all_near(y, {3 / s, 4 / s, 1 / std::sqrt(1.0), -1 / std::sqrt(1.0)}, 1e-15);
}

TEST(RefRmsNorm, GammaAndEps) {
  // {3, 4}, eps 7.5: denominator sqrt(20).
  const Vec x = {3, 4};
  const Vec gamma = {2, -0.5};
  Vec y = poisoned(2);
  ref::rmsnorm(x.data(), gamma.data(), y.data(), 1, 2, 7.5);
  const double s = std::sqrt(20.0);
  expect_all_near(y, {3 / s * 2, 4 / s * -0.5}, 1e-15);
}

TEST(RefCrmsNorm, HandComputed) {
  // {1, 2} stands for the zero-mean vector {1, 2, -3}: mean square 14 / 3.
  const Vec x = {1, 2};
  const Vec gamma = {1, 3};
  Vec y = poisoned(2);
  ref::crmsnorm(x.data(), gamma.data(), y.data(), 1, 2, 0.0);
  const double s = std::sqrt(14.0 / 3.0);
  expect_all_near(y, {1 / s, 2 / s * 3}, 1e-15);
}

TEST(RefCrmsNorm, EqualsRmsnormOfTheFullZeroMeanVector) {
  const std::int64_t rows = 7, cols = 13, d = cols + 1;
  const double eps = 1e-3;
  const Vec x = seeded(rows * cols, 10);
  const Vec gamma = seeded(cols, 11, 0.5, 2.0);
  // Brute force: append -sum(x) to each row and normalize over all d elements.
  Vec full(rows * d), gamma_full(d, 1.0);
  for (std::int64_t j = 0; j < cols; ++j) gamma_full[j] = gamma[j];
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      full[r * d + j] = x[r * cols + j];
      s += x[r * cols + j];
    }
    full[r * d + cols] = -s;
  }
  Vec y_full = poisoned(rows * d);
  ref::rmsnorm(full.data(), gamma_full.data(), y_full.data(), rows, d, eps);
  Vec want(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) want[r * cols + j] = y_full[r * d + j];

  Vec y = poisoned(rows * cols);
  ref::crmsnorm(x.data(), gamma.data(), y.data(), rows, cols, eps);
  expect_all_near(y, want, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// DyT

TEST(RefDyt, HandComputed) {
  // alpha = 0.5: tanh(-1), tanh(0), tanh(0.5), tanh(2) on the second row as well.
  const Vec x = {-2, 0, 1, 4, 4, 1, 0, -2};
  const Vec gamma = {1, 2, 3, -1}, beta = {0, 0.5, -1, 2};
  Vec y = poisoned(8);
  ref::dyt(x.data(), 0.5, gamma.data(), beta.data(), y.data(), 2, 4);
  const double t1 = 0.7615941559557649, th = 0.46211715726000974, t2 = 0.9640275800758169;
  expect_all_near(y,
                  {-t1, 0.5, 3 * th - 1, -t2 + 2,  //
                   t2, 2 * th + 0.5, -1, t1 + 2},
                  1e-15);
}

// ---------------------------------------------------------------------------------------------
// BatchNorm

TEST(RefBatchNormInfer, UnitStatsGiveAffineOnly) {
  const std::int64_t rows = 5, cols = 3;
  const Vec x = seeded(rows * cols, 20);
  const Vec mean = filled(cols, 0.0), var = filled(cols, 1.0);
  const Vec gamma = {2, -1, 0.25}, beta = {1, 0, -3};
  Vec y = poisoned(rows * cols);
  ref::batchnorm_infer(x.data(), mean.data(), var.data(), gamma.data(), beta.data(), y.data(), rows,
                       cols, 0.0);
  Vec want(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      want[r * cols + j] = x[r * cols + j] * gamma[j] + beta[j];
  expect_all_near(y, want, 1e-15);
}

TEST(RefBatchNormInfer, HandComputedPerColumnStats) {
  // eps 0.25. Column 0: mean 1, sd 2. Column 1: mean 2, var 0 -> sd sqrt(eps) = 0.5.
  // Column 2: mean 0, sd 2, beta 10.
  const Vec x = {3, 2.5, 4, -1, 1, 0};
  const Vec mean = {1, 2, 0}, var = {3.75, 0, 3.75};  // var + eps = {4, 0.25, 4}
  const Vec gamma = {1, 1, 1}, beta = {0, 0, 10};
  Vec y = poisoned(6);
  ref::batchnorm_infer(x.data(), mean.data(), var.data(), gamma.data(), beta.data(), y.data(), 2, 3,
                       0.25);
  expect_all_near(y, {1, 1, 12, -1, -2, 10}, 1e-15);
}

TEST(RefBatchNormTrain, HandComputed) {
  // Column 0 {1, 3}: mean 2, var 1. Column 1 {10, 2}: mean 6, var 16.
  const Vec x = {1, 10, 3, 2};
  const Vec gamma = {1, 2}, beta = {0, 1};
  Vec y = poisoned(4);
  ref::batchnorm_train(x.data(), gamma.data(), beta.data(), y.data(), 2, 2, 0.0);
  expect_all_near(y, {-1, 1 * 2 + 1, 1, -1 * 2 + 1}, 1e-15);
}

TEST(RefBatchNormTrain, EqualsLayernormOfTranspose) {
  const std::int64_t rows = 9, cols = 5;
  const double eps = 1e-4;
  const Vec x = seeded(rows * cols, 30);
  const Vec gamma = seeded(cols, 31), beta = seeded(cols, 32);
  Vec xt(cols * rows);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) xt[j * rows + r] = x[r * cols + j];
  const Vec ones = filled(rows, 1.0), zeros = filled(rows, 0.0);
  Vec zt = poisoned(cols * rows);
  ref::layernorm(xt.data(), ones.data(), zeros.data(), zt.data(), cols, rows, eps);
  Vec want(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      want[r * cols + j] = zt[j * rows + r] * gamma[j] + beta[j];

  Vec y = poisoned(rows * cols);
  ref::batchnorm_train(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, eps);
  expect_all_near(y, want, 1e-12);
}

TEST(RefBatchNormTrain, ColumnsHaveZeroMeanUnitVariance) {
  const std::int64_t rows = 16, cols = 6;
  Vec x = seeded(rows * cols, 40);
  for (std::int64_t j = 0; j < cols; ++j)  // different offset and scale per column
    for (std::int64_t r = 0; r < rows; ++r) x[r * cols + j] = x[r * cols + j] * (j + 1) + 10.0 * j;
  const Vec gamma = filled(cols, 1.0), beta = filled(cols, 0.0);
  Vec y = poisoned(rows * cols);
  ref::batchnorm_train(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, 0.0);
  for (std::int64_t j = 0; j < cols; ++j) {
    Vec col(rows);
    for (std::int64_t r = 0; r < rows; ++r) col[r] = y[r * cols + j];
    double m, v;
    moments(col, m, v);
    EXPECT_NEAR(m, 0.0, 1e-12) << "column " << j;
    EXPECT_NEAR(v, 1.0, 1e-12) << "column " << j;
  }
  for (double e : y) EXPECT_TRUE(std::isfinite(e));
}

// ---------------------------------------------------------------------------------------------
// GroupNorm

TEST(RefGroupNorm, HandComputedTwoGroups) {
  // n = 1, c = 4, hw = 1, two groups: {1, 3} (mean 2, var 1) and {10, 14} (mean 12, var 4).
  const Vec x = {1, 3, 10, 14};
  const Vec gamma = {1, 2, 3, 4}, beta = {0, 0, 0, 0.5};
  Vec y = poisoned(4);
  ref::groupnorm(x.data(), gamma.data(), beta.data(), y.data(), 1, 4, 1, 2, 0.0);
  expect_all_near(y, {-1, 2, -3, 4.5}, 1e-15);
}

TEST(RefGroupNorm, GroupsEqualChannelsIsInstanceNorm) {
  const std::int64_t n = 3, c = 4, hw = 6;
  const double eps = 1e-5;
  const Vec x = seeded(n * c * hw, 50);
  const Vec gamma = seeded(c, 51), beta = seeded(c, 52);
  // Instance norm: each (n, c) row of hw values layer-normalized, then per-channel affine.
  const Vec ones = filled(hw, 1.0), zeros = filled(hw, 0.0);
  Vec z = poisoned(n * c * hw);
  ref::layernorm(x.data(), ones.data(), zeros.data(), z.data(), n * c, hw, eps);
  Vec want(n * c * hw);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t k = 0; k < hw; ++k) {
        const std::int64_t i = (b * c + ch) * hw + k;
        want[i] = z[i] * gamma[ch] + beta[ch];
      }
  Vec y = poisoned(n * c * hw);
  ref::groupnorm(x.data(), gamma.data(), beta.data(), y.data(), n, c, hw, c, eps);
  expect_all_near(y, want, 1e-12);
}

TEST(RefGroupNorm, OneGroupIsLayernormOverChw) {
  const std::int64_t n = 3, c = 4, hw = 5;
  const double eps = 1e-5;
  const Vec x = seeded(n * c * hw, 60);
  const Vec gamma = seeded(c, 61), beta = seeded(c, 62);
  Vec gamma_full(c * hw), beta_full(c * hw);
  for (std::int64_t ch = 0; ch < c; ++ch)
    for (std::int64_t k = 0; k < hw; ++k) {
      gamma_full[ch * hw + k] = gamma[ch];
      beta_full[ch * hw + k] = beta[ch];
    }
  Vec want = poisoned(n * c * hw);
  ref::layernorm(x.data(), gamma_full.data(), beta_full.data(), want.data(), n, c * hw, eps);
  Vec y = poisoned(n * c * hw);
  ref::groupnorm(x.data(), gamma.data(), beta.data(), y.data(), n, c, hw, 1, eps);
  expect_all_near(y, want, 1e-12);
}

TEST(RefGroupNorm, GroupsThatDoNotDivideChannelsAreRejected) {
  const Vec x = seeded(6, 70), gamma = filled(6, 1.0), beta = filled(6, 0.0);
  Vec y = poisoned(6);
  EXPECT_THROW(ref::groupnorm(x.data(), gamma.data(), beta.data(), y.data(), 1, 6, 1, 4, 1e-5),
               std::invalid_argument);
  EXPECT_THROW(ref::groupnorm(x.data(), gamma.data(), beta.data(), y.data(), 1, 6, 1, 0, 1e-5),
               std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// EvoNorm

TEST(RefEvoNormS0, ZeroVIsHalfXOverGroupStd) {
  // v = 0 makes sigmoid 1/2; x is not mean-subtracted.
  // n = 1, c = 4, hw = 1, groups 2: {1, 3} has sd 1, {10, 14} has sd 2.
  const Vec x = {1, 3, 10, 14};
  const Vec v = filled(4, 0.0), gamma = {1, 2, 3, 4}, beta = {0.5, 0, -1, 1};
  Vec y = poisoned(4);
  ref::evonorm_s0(x.data(), v.data(), gamma.data(), beta.data(), y.data(), 1, 4, 1, 2, 0.0);
  expect_all_near(y, {0.5 * 1 + 0.5, 1.5 * 2, 2.5 * 3 - 1, 3.5 * 4 + 1}, 1e-15);
}

TEST(RefEvoNormS0, ZeroVPerSampleGroups) {
  // n = 2, c = 2, hw = 2, one group. Sample 0 {1, 3, 1, 3}: sd 1. Sample 1 {2, 2, 6, 6}: sd 2.
  const Vec x = {1, 3, 1, 3, 2, 2, 6, 6};
  const Vec v = filled(2, 0.0), gamma = {1, -1}, beta = {0, 0};
  Vec y = poisoned(8);
  ref::evonorm_s0(x.data(), v.data(), gamma.data(), beta.data(), y.data(), 2, 2, 2, 1, 0.0);
  expect_all_near(y, {0.5, 1.5, -0.5, -1.5, 0.5, 0.5, -1.5, -1.5}, 1e-15);
}

TEST(RefEvoNormS0, HandComputedSigmoid) {
  // One channel, hw = 2, x = {0.5, -1.5}: sd 1 (eps 0). v = 2: sigmoid(1), sigmoid(-3).
  const Vec x = {0.5, -1.5};
  const Vec v = {2}, gamma = {1}, beta = {0};
  Vec y = poisoned(2);
  ref::evonorm_s0(x.data(), v.data(), gamma.data(), beta.data(), y.data(), 1, 1, 2, 1, 0.0);
  expect_all_near(y, {0.5 * 0.7310585786300049, -1.5 * 0.04742587317756678}, 1e-15);
}

TEST(RefEvoNormS0, EpsIsAddedToGroupVariance) {
  // {1, 3}: var 1, eps 3 -> sd 2; v = 0 -> y = x / 4.
  const Vec x = {1, 3};
  const Vec v = {0}, gamma = {1}, beta = {0};
  Vec y = poisoned(2);
  ref::evonorm_s0(x.data(), v.data(), gamma.data(), beta.data(), y.data(), 1, 1, 2, 1, 3.0);
  expect_all_near(y, {0.25, 0.75}, 1e-15);
}

TEST(RefEvoNormB0, HandComputed) {
  // x[n = 2, c = 2, hw = 2], eps 0.
  // Channel 0: {1, 3 | 5, 7}: batch var 5; instance sd 1 and 1; v = 0.5.
  //   1: max(sqrt5, 1.5) = sqrt5; 3: max(sqrt5, 2.5); 5: max(sqrt5, 3.5); 7: max(sqrt5, 4.5).
  // Channel 1: {-2, 2 | -1, 1}: batch var 2.5; instance sd 2 and 1; v = -1.
  //   -2: max(sqrt2.5, 4); 2: max(sqrt2.5, 0); -1: max(sqrt2.5, 2); 1: max(sqrt2.5, 0).
  const Vec x = {1, 3, -2, 2, 5, 7, -1, 1};
  const Vec v = {0.5, -1}, gamma = {2, 1}, beta = {0, 0.5};
  Vec y = poisoned(8);
  ref::evonorm_b0(x.data(), v.data(), gamma.data(), beta.data(), y.data(), 2, 2, 2, 0.0);
  const double s5 = std::sqrt(5.0), s25 = std::sqrt(2.5);
  expect_all_near(y,
                  {1 / s5 * 2, 3 / 2.5 * 2, -2.0 / 4 + 0.5, 2 / s25 + 0.5,  //
                   5 / 3.5 * 2, 7 / 4.5 * 2, -1.0 / 2 + 0.5, 1 / s25 + 0.5},
                  1e-15);
}

TEST(RefEvoNormB0, EpsInsideBothRoots) {
  // Channel {1, 3 | 5, 7}, eps 4: batch sd sqrt(5 + 4) = 3, instance sd sqrt(1 + 4) for both.
  // v = 0.5: 1 -> max(3, 0.5 + sqrt5) = 3; 3 -> 1.5 + sqrt5; 5 -> 2.5 + sqrt5; 7 -> 3.5 + sqrt5.
  const Vec x = {1, 3, 5, 7};
  const Vec v = {0.5}, gamma = {1}, beta = {0};
  Vec y = poisoned(4);
  ref::evonorm_b0(x.data(), v.data(), gamma.data(), beta.data(), y.data(), 2, 1, 2, 4.0);
  const double s5 = std::sqrt(5.0);
  expect_all_near(y, {1.0 / 3, 3 / (1.5 + s5), 5 / (2.5 + s5), 7 / (3.5 + s5)}, 1e-15);
}

// ---------------------------------------------------------------------------------------------
// Online Normalization

TEST(RefOnlineNorm, HandComputedRecurrence) {
  // x[n = 3, c = 2, hw = 2], alpha 0.75, eps 0.
  // Channel 0: mu0 1, var0 4.
  //   t0 {1, 5}: y = {0, 2}; m 3, s 4 -> mu 1.5, var 3 + 1 + 0.1875 * 4 = 4.75
  //   t1 {2, 4}: y = {0.5, 2.5} / sqrt(4.75); m 3, s 1 -> mu 1.875,
  //              var 0.75 * 4.75 + 0.25 + 0.1875 * 1.5^2 = 4.234375
  //   t2 {0, 5}: y = {-1.875, 3.125} / sqrt(4.234375)
  // Channel 1: mu0 0, var0 1, gamma 2, beta -1.
  //   t0 {-1, 1}: z = {-1, 1}; m 0, s 1 -> mu 0, var 1
  //   t1 {2, 2}:  z = {2, 2};  m 2, s 0 -> mu 0.5, var 0.75 + 0.1875 * 4 = 1.5
  //   t2 {0.5, 2}: z = {0, 1.5 / sqrt(1.5)}
  const Vec x = {1, 5, -1, 1, 2, 4, 2, 2, 0, 5, 0.5, 2};
  const Vec mu0 = {1, 0}, var0 = {4, 1}, gamma = {1, 2}, beta = {0, -1};
  Vec y = poisoned(12);
  ref::online_norm(x.data(), mu0.data(), var0.data(), gamma.data(), beta.data(), y.data(), 3, 2, 2,
                   0.75, 0.0);
  const double s1 = std::sqrt(4.75), s2 = std::sqrt(4.234375);
  expect_all_near(y,
                  {0, 2, -3, 1,               //
                   0.5 / s1, 2.5 / s1, 3, 3,  //
                   -1.875 / s2, 3.125 / s2, -1, 3 / std::sqrt(1.5) - 1},
                  1e-14);
}

TEST(RefOnlineNorm, FirstSampleUsesInitialStatsWithEps) {
  // Only sample 0 matters: (x - mu0) / sqrt(var0 + eps); var0 3, eps 1 -> sd 2.
  const Vec x = {4, -2, 7};
  const Vec mu0 = {2}, var0 = {3}, gamma = {1}, beta = {0.5};
  Vec y = poisoned(3);
  ref::online_norm(x.data(), mu0.data(), var0.data(), gamma.data(), beta.data(), y.data(), 1, 1, 3,
                   0.9, 1.0);
  expect_all_near(y, {1.5, -1.5, 3.0}, 1e-15);
}

TEST(RefOnlineNorm, AlphaOneEqualsBatchnormInferWithInitialStats) {
  // alpha = 1: statistics never move, so every sample is batchnorm_infer with mu0 / var0.
  const std::int64_t n = 4, c = 3, hw = 5;
  const double eps = 1e-3;
  const Vec x = seeded(n * c * hw, 80, -3.0, 5.0);
  const Vec mu0 = {0.5, -1, 2}, var0 = {0.3, 2, 1.5};
  const Vec gamma = seeded(c, 81), beta = seeded(c, 82);
  // Channels-last copy [n * hw, c] for batchnorm_infer, then back to [n, c, hw].
  Vec xcl(n * hw * c);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t k = 0; k < hw; ++k) xcl[(t * hw + k) * c + ch] = x[(t * c + ch) * hw + k];
  Vec ycl = poisoned(n * hw * c);
  ref::batchnorm_infer(xcl.data(), mu0.data(), var0.data(), gamma.data(), beta.data(), ycl.data(),
                       n * hw, c, eps);
  Vec want(n * c * hw);
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t k = 0; k < hw; ++k)
        want[(t * c + ch) * hw + k] = ycl[(t * hw + k) * c + ch];

  Vec y = poisoned(n * c * hw);
  ref::online_norm(x.data(), mu0.data(), var0.data(), gamma.data(), beta.data(), y.data(), n, c, hw,
                   1.0, eps);
  expect_all_near(y, want, 1e-13);
}

TEST(RefOnlineNorm, AlphaZeroUsesPreviousSampleStats) {
  // alpha = 0: mu_t = m_t, var_t = s_t, so sample t is normalized by sample t-1's statistics.
  // Sample 0 {0, 2} (mean 1, var 1) normalizes sample 1 {3, -1}: {2, -2}.
  const Vec x = {0, 2, 3, -1};
  const Vec mu0 = {0}, var0 = {1}, gamma = {1}, beta = {0};
  Vec y = poisoned(4);
  ref::online_norm(x.data(), mu0.data(), var0.data(), gamma.data(), beta.data(), y.data(), 2, 1, 2,
                   0.0, 0.0);
  expect_all_near(y, {0, 2, 2, -2}, 1e-15);
}

// ---------------------------------------------------------------------------------------------
// Weight Standardization

TEST(RefWeightStd, HandComputed) {
  // Row {1, 2, 3, 4} as LayerNorm without affine; row {1, -1} with eps 3 -> sd 2 (row 2 uses
  // a separate call so eps differs).
  const Vec w = {1, 2, 3, 4};
  Vec y = poisoned(4);
  ref::weight_std(w.data(), y.data(), 1, 4, 0.0);
  expect_all_near(y, {-1.3416407865, -0.4472135955, 0.4472135955, 1.3416407865}, 1e-9);
  const Vec w2 = {1, -1};
  Vec y2 = poisoned(2);
  ref::weight_std(w2.data(), y2.data(), 1, 2, 3.0);
  expect_all_near(y2, {0.5, -0.5}, 1e-15);
}

TEST(RefWeightStd, RowsHaveZeroMeanUnitVariance) {
  const std::int64_t rows = 8, cols = 27;
  Vec w = seeded(rows * cols, 90, -0.1, 0.3);
  Vec y = poisoned(rows * cols);
  ref::weight_std(w.data(), y.data(), rows, cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const Vec row(y.begin() + r * cols, y.begin() + (r + 1) * cols);
    double m, v;
    moments(row, m, v);
    EXPECT_NEAR(m, 0.0, 1e-12) << "row " << r;
    EXPECT_NEAR(v, 1.0, 1e-12) << "row " << r;
    for (double e : row) EXPECT_TRUE(std::isfinite(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Fused residual add

TEST(RefAddLayerNorm, HandComputed) {
  // {0, 1, 2, 3} + {1, 1, 1, 1} = {1, 2, 3, 4}.
  const Vec x = {0, 1, 2, 3}, res = {1, 1, 1, 1};
  const Vec gamma = {1, 1, 1, 2}, beta = {0, 0, 0, 1};
  Vec sum = poisoned(4), y = poisoned(4);
  ref::add_layernorm(x.data(), res.data(), gamma.data(), beta.data(), sum.data(), y.data(), 1, 4,
                     0.0);
  expect_all_near(sum, {1, 2, 3, 4}, 0.0);
  expect_all_near(y, {-1.3416407865, -0.4472135955, 0.4472135955, 1.3416407865 * 2 + 1}, 1e-9);
}

TEST(RefAddLayerNorm, EqualsLayernormOfSum) {
  const std::int64_t rows = 5, cols = 11;
  const double eps = 1e-5;
  const Vec x = seeded(rows * cols, 100), res = seeded(rows * cols, 101, -10, 10);
  const Vec gamma = seeded(cols, 102), beta = seeded(cols, 103);
  Vec s(rows * cols);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = x[i] + res[i];
  Vec want = poisoned(rows * cols);
  ref::layernorm(s.data(), gamma.data(), beta.data(), want.data(), rows, cols, eps);
  Vec sum = poisoned(rows * cols), y = poisoned(rows * cols);
  ref::add_layernorm(x.data(), res.data(), gamma.data(), beta.data(), sum.data(), y.data(), rows,
                     cols, eps);
  expect_all_near(sum, s, 0.0);
  expect_all_near(y, want, 1e-13);
}

TEST(RefAddRmsNorm, HandComputed) {
  // {1, 2} + {2, 2} = {3, 4}: mean square 12.5.
  const Vec x = {1, 2}, res = {2, 2}, gamma = {1, -2};
  Vec sum = poisoned(2), y = poisoned(2);
  ref::add_rmsnorm(x.data(), res.data(), gamma.data(), sum.data(), y.data(), 1, 2, 0.0);
  const double s = std::sqrt(12.5);
  expect_all_near(sum, {3, 4}, 0.0);
  expect_all_near(y, {3 / s, 4 / s * -2}, 1e-15);
}

TEST(RefAddRmsNorm, EqualsRmsnormOfSum) {
  const std::int64_t rows = 4, cols = 9;
  const double eps = 1e-6;
  const Vec x = seeded(rows * cols, 110), res = seeded(rows * cols, 111, -5, 5);
  const Vec gamma = seeded(cols, 112);
  Vec s(rows * cols);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = x[i] + res[i];
  Vec want = poisoned(rows * cols);
  ref::rmsnorm(s.data(), gamma.data(), want.data(), rows, cols, eps);
  Vec sum = poisoned(rows * cols), y = poisoned(rows * cols);
  ref::add_rmsnorm(x.data(), res.data(), gamma.data(), sum.data(), y.data(), rows, cols, eps);
  expect_all_near(sum, s, 0.0);
  expect_all_near(y, want, 1e-13);
}

// ---------------------------------------------------------------------------------------------
// Backward passes (reference/norm_backward.hpp). Their finite-difference check against the
// forward references runs for every registered backward op in tests/test_suites_backward.cpp.

TEST(RefLayerNormBackward, HandComputedRow) {
  // x = [1, 2, 3], eps = 0: mean 2, var 2/3, rstd = sqrt(3/2), xhat = [-r, 0, r] with r =
  // sqrt(3/2). dy = [1, 0, 0], gamma = 1: mean(g) = 1/3, mean(g xhat) = -r/3, so dx = r * ([1, 0,
  // 0] - 1/3 + xhat r/3) = r * [1/6, -1/3, 1/6].
  const Vec x = {1, 2, 3}, gamma = {1, 1, 1}, dy = {1, 0, 0};
  Vec mean = poisoned(1), rstd = poisoned(1);
  ref::layernorm_stats(x.data(), mean.data(), rstd.data(), 1, 3, 0.0);
  const double r = std::sqrt(1.5);
  expect_all_near(mean, {2}, 1e-15);
  expect_all_near(rstd, {r}, 1e-15);
  Vec dx = poisoned(3), dgamma = poisoned(3), dbeta = poisoned(3);
  ref::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(),
                          dgamma.data(), dbeta.data(), 1, 3);
  expect_all_near(dx, {r / 6, -r / 3, r / 6}, 1e-15);
  expect_all_near(dgamma, {-r, 0, 0}, 1e-15);
  expect_all_near(dbeta, {1, 0, 0}, 0.0);
}

TEST(RefLayerNormBackward, ColumnGradientsSumOverRows) {
  // Two rows with gamma = 2: dgamma_j = sum_r dy_rj xhat_rj, dbeta_j = sum_r dy_rj (gamma does
  // not enter them); row [5, 7] has mean 6, rstd 1 (eps 0), xhat [-1, 1]; row [0, 4]: xhat [-1, 1].
  const Vec x = {5, 7, 0, 4}, gamma = {2, 2}, dy = {1, 2, 3, 5};
  Vec mean = poisoned(2), rstd = poisoned(2);
  ref::layernorm_stats(x.data(), mean.data(), rstd.data(), 2, 2, 0.0);
  expect_all_near(mean, {6, 2}, 0.0);
  expect_all_near(rstd, {1, 0.5}, 1e-15);
  Vec dx = poisoned(4), dgamma = poisoned(2), dbeta = poisoned(2);
  ref::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(),
                          dgamma.data(), dbeta.data(), 2, 2);
  expect_all_near(dgamma, {1 * -1 + 3 * -1, 2 * 1 + 5 * 1}, 1e-15);
  expect_all_near(dbeta, {1 + 3, 2 + 5}, 0.0);
  // Two columns: xhat is +-1 whatever x is, so the input gradient is zero.
  expect_all_near(dx, {0, 0, 0, 0}, 1e-15);
}

TEST(RefLayerNormBackward, GradientIsBlindToShiftAndScaleOfTheRow) {
  // With eps = 0, LayerNorm is invariant to x -> a x + b per row, so its gradient is orthogonal to
  // the constant row and to xhat: sum_j dx_j = 0 and sum_j dx_j xhat_j = 0.
  const std::int64_t rows = 3, cols = 11;
  const Vec x = seeded(rows * cols, 201), gamma = seeded(cols, 202), dy = seeded(rows * cols, 203);
  Vec mean = poisoned(rows), rstd = poisoned(rows);
  ref::layernorm_stats(x.data(), mean.data(), rstd.data(), rows, cols, 0.0);
  Vec dx = poisoned(rows * cols), dgamma = poisoned(cols), dbeta = poisoned(cols);
  ref::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(),
                          dgamma.data(), dbeta.data(), rows, cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0, sx = 0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s += dx[r * cols + j];
      sx += dx[r * cols + j] * (x[r * cols + j] - mean[r]) * rstd[r];
    }
    EXPECT_NEAR(s, 0.0, 1e-13) << "row " << r;
    EXPECT_NEAR(sx, 0.0, 1e-13) << "row " << r;
  }
}

TEST(RefRmsNormBackward, HandComputedRow) {
  // x = [3, 4], eps = 0: mean(x^2) = 12.5, rstd = 1/sqrt(12.5), xhat = x rstd. dy = [1, 0]:
  // mean(g xhat) = 3 rstd / 2, dx = rstd ([1, 0] - x rstd^2 3/2) = rstd [1 - 0.36, -0.48].
  const Vec x = {3, 4}, gamma = {1, 1}, dy = {1, 0};
  Vec rstd = poisoned(1);
  ref::rmsnorm_stats(x.data(), rstd.data(), 1, 2, 0.0);
  const double r = 1 / std::sqrt(12.5);
  expect_all_near(rstd, {r}, 1e-16);
  Vec dx = poisoned(2), dgamma = poisoned(2);
  ref::rmsnorm_backward(dy.data(), x.data(), gamma.data(), rstd.data(), dx.data(), dgamma.data(), 1,
                        2);
  expect_all_near(dx, {r * 0.64, r * -0.48}, 1e-15);
  expect_all_near(dgamma, {3 * r, 0}, 1e-15);
}

TEST(RefRmsNormBackward, GradientIsBlindToScaleOfTheRow) {
  // With eps = 0, RMSNorm is invariant to x -> a x, so sum_j dx_j x_j = 0 in every row.
  const std::int64_t rows = 3, cols = 13;
  const Vec x = seeded(rows * cols, 211), gamma = seeded(cols, 212), dy = seeded(rows * cols, 213);
  Vec rstd = poisoned(rows);
  ref::rmsnorm_stats(x.data(), rstd.data(), rows, cols, 0.0);
  Vec dx = poisoned(rows * cols), dgamma = poisoned(cols);
  ref::rmsnorm_backward(dy.data(), x.data(), gamma.data(), rstd.data(), dx.data(), dgamma.data(),
                        rows, cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    double sx = 0;
    for (std::int64_t j = 0; j < cols; ++j) sx += dx[r * cols + j] * x[r * cols + j];
    EXPECT_NEAR(sx, 0.0, 1e-13) << "row " << r;
  }
}

TEST(RefBatchNormTrainBackward, EqualsLayernormBackwardOfTheTranspose) {
  // With one gamma for every channel, BatchNorm over the rows of x is LayerNorm over the rows of
  // x^T: their dx agree transposed. dbeta is the column sum of dy, dgamma that of dy * xhat.
  const std::int64_t rows = 6, cols = 4;
  const double eps = 1e-5;
  const Vec x = seeded(rows * cols, 221), dy = seeded(rows * cols, 222);
  Vec xt(rows * cols), dyt(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      xt[j * rows + r] = x[r * cols + j];
      dyt[j * rows + r] = dy[r * cols + j];
    }
  }
  const Vec gamma_bn = filled(cols, 1.5), gamma_ln = filled(rows, 1.5);
  Vec mean = poisoned(cols), rstd = poisoned(cols);
  ref::batchnorm_train_stats(x.data(), mean.data(), rstd.data(), rows, cols, eps);
  Vec dx = poisoned(rows * cols), dgamma = poisoned(cols), dbeta = poisoned(cols);
  ref::batchnorm_train_backward(dy.data(), x.data(), gamma_bn.data(), mean.data(), rstd.data(),
                                dx.data(), dgamma.data(), dbeta.data(), rows, cols);
  Vec lmean = poisoned(cols), lrstd = poisoned(cols);
  ref::layernorm_stats(xt.data(), lmean.data(), lrstd.data(), cols, rows, eps);
  expect_all_near(mean, lmean, 1e-15);
  expect_all_near(rstd, lrstd, 1e-12);
  Vec ldx = poisoned(rows * cols), ldg = poisoned(rows), ldb = poisoned(rows);
  ref::layernorm_backward(dyt.data(), xt.data(), gamma_ln.data(), lmean.data(), lrstd.data(),
                          ldx.data(), ldg.data(), ldb.data(), cols, rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      EXPECT_NEAR(dx[r * cols + j], ldx[j * rows + r], 1e-12) << r << "," << j;
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    double sdy = 0, sdyx = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      sdy += dy[r * cols + j];
      sdyx += dy[r * cols + j] * (x[r * cols + j] - mean[j]) * rstd[j];
    }
    EXPECT_NEAR(dbeta[j], sdy, 1e-14);
    EXPECT_NEAR(dgamma[j], sdyx, 1e-14);
  }
}

TEST(RefGroupNormBackward, OneChannelPerGroupIsLayernormBackwardOverHw) {
  // groups = c: each (sample, channel) is its own group of hw elements, LayerNorm's row; with
  // gamma = 2 everywhere the dx agree, and dgamma_c sums LayerNorm's per-element dy * xhat over
  // the samples and positions of channel c.
  const std::int64_t n = 2, c = 3, hw = 5;
  const double eps = 1e-5;
  const Vec x = seeded(n * c * hw, 231), dy = seeded(n * c * hw, 232);
  const Vec gamma = filled(c, 2.0), gamma_row = filled(hw, 2.0);
  Vec mean = poisoned(n * c), rstd = poisoned(n * c);
  ref::groupnorm_stats(x.data(), mean.data(), rstd.data(), n, c, hw, c, eps);
  Vec dx = poisoned(n * c * hw), dgamma = poisoned(c), dbeta = poisoned(c);
  ref::groupnorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(),
                          dgamma.data(), dbeta.data(), n, c, hw, c);
  Vec lmean = poisoned(n * c), lrstd = poisoned(n * c);
  ref::layernorm_stats(x.data(), lmean.data(), lrstd.data(), n * c, hw, eps);
  expect_all_near(mean, lmean, 0.0);
  expect_all_near(rstd, lrstd, 0.0);
  Vec ldx = poisoned(n * c * hw), ldg = poisoned(hw), ldb = poisoned(hw);
  ref::layernorm_backward(dy.data(), x.data(), gamma_row.data(), lmean.data(), lrstd.data(),
                          ldx.data(), ldg.data(), ldb.data(), n * c, hw);
  expect_all_near(dx, ldx, 1e-13);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sdy = 0, sdyx = 0;
    for (std::int64_t s = 0; s < n; ++s) {
      for (std::int64_t k = 0; k < hw; ++k) {
        const std::int64_t at = (s * c + ch) * hw + k;
        sdy += dy[at];
        sdyx += dy[at] * (x[at] - mean[s * c + ch]) * rstd[s * c + ch];
      }
    }
    EXPECT_NEAR(dbeta[ch], sdy, 1e-14);
    EXPECT_NEAR(dgamma[ch], sdyx, 1e-14);
  }
}

TEST(RefGroupNormBackward, GroupsThatDoNotDivideChannelsAreRejected) {
  const Vec x = seeded(12, 241);
  Vec mean(2), rstd(2), dx(12), dg(4), db(4);
  EXPECT_THROW(ref::groupnorm_stats(x.data(), mean.data(), rstd.data(), 1, 4, 3, 3, 1e-5),
               std::invalid_argument);
  EXPECT_THROW(ref::groupnorm_backward(x.data(), x.data(), x.data(), mean.data(), rstd.data(),
                                       dx.data(), dg.data(), db.data(), 1, 4, 3, 3),
               std::invalid_argument);
}

}  // namespace
