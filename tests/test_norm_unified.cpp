// Tests of Unified Normalization: the float64 references (reference/norm_unified.hpp) against
// values computed by hand and identities with other operations (a window of one iteration is
// RMSNorm of the transpose; the folded inference form is BatchNorm inference with a zero mean;
// Kober's bound on AM - GM), then cpu.plain and cpu.fast (kernels/cpu/norm_unified.hpp) against
// the references in float32, bfloat16 and float16, odd and large shapes, misaligned outputs, both
// branches of the outlier filtration. Outputs start poisoned (NaN, or -1 for the decision), so an
// element a function forgets to write fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "harness/agreement_result.hpp"
#include "harness/half.hpp"
#include "harness/op.hpp"
#include "harness/registry.hpp"
#include "harness/tensor.hpp"
#include "kernels/cpu/norm_unified.hpp"
#include "reference/norm.hpp"
#include "reference/norm_unified.hpp"
#include "suites/suites.hpp"
#include "tests/reference_test_support.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;
using test_support::kNaN;
using test_support::poisoned;
using test_support::Vec;

// Relative to the wanted value's magnitude (absolute below 1), unlike test_support's.
void expect_all_near(const Vec& got, const Vec& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "at " << i;
}

using test_support::seeded;

// ---- references: hand-computed values
// ------------------------------------------------------------

TEST(RefUnifiedNorm, SecondMomentIsMeanSquareWithoutMean) {
  // Column 0 {1, 3}: (1 + 9) / 2 = 5 (its mean, 2, is not subtracted). Column 1 {2, -4}: 10.
  const Vec x = {1, 2, 3, -4};
  Vec s = poisoned(2);
  ref::unified_norm_second_moment(x.data(), 2, 2, s.data());
  expect_all_near(s, {5, 10}, 1e-15);
}

TEST(RefUnifiedNorm, ThresholdIsWindowTimesUnbiasedVarianceOfRoots) {
  // sqrt {4, 9, 1, 9} = {2, 3, 1, 3}: mean 2.25, squared deviations 1/16, 9/16, 25/16, 9/16,
  // sum 11/4, unbiased 11/12; times M = 2: 11/6.
  const Vec w = {4, 9, 1, 9};
  EXPECT_NEAR(ref::unified_norm_threshold(w.data(), 2, 2), 11.0 / 6.0, 1e-15);
  // One feature, window {1, 4}: roots {1, 2}, unbiased variance 1/2, times 2: 1.
  const Vec w1 = {1, 4};
  EXPECT_NEAR(ref::unified_norm_threshold(w1.data(), 2, 1), 1.0, 1e-15);
}

TEST(RefUnifiedNorm, WindowMeansDropTheOldestRow) {
  // Window (oldest first) {9, 1} for one feature, sigma^2_t = 4: the new window is {1, 4},
  // AM 2.5, GM 2 (the 9 has left).
  const Vec w = {9, 1}, s2 = {4};
  Vec am = poisoned(1), gm = poisoned(1);
  ref::unified_norm_window_means(w.data(), s2.data(), 2, 1, am.data(), gm.data());
  EXPECT_NEAR(am[0], 2.5, 1e-15);
  EXPECT_NEAR(gm[0], 2.0, 1e-14);
  // M = 1: the window is sigma^2_t alone, AM = GM = sigma^2_t exactly.
  const Vec w1 = {7}, s1 = {3.3};
  ref::unified_norm_window_means(w1.data(), s1.data(), 1, 1, am.data(), gm.data());
  EXPECT_EQ(am[0], 3.3);
  EXPECT_EQ(gm[0], 3.3);
}

TEST(RefUnifiedNorm, SmoothedStepHandComputed) {
  // rows 2, features 2, M 2, eps 0, momentum 0.5. x columns {2, -2} and {3, 3}: sigma^2 {4, 9}.
  // Window (oldest first) {{4, 9}, {1, 9}}: threshold 11/6 (above). New windows {1, 4} (AM 2.5,
  // GM 2, gap 0.5) and {9, 9} (gap 0): not filtered, var = GM = {2, 9}.
  const Vec x = {2, 3, -2, 3}, gamma = {1, 2}, beta = {0, 1};
  const Vec window = {4, 9, 1, 9}, rv = {1, 3};
  Vec y = poisoned(4), wo = poisoned(4), rvo = poisoned(2);
  const bool filtered =
      ref::unified_norm(x.data(), gamma.data(), beta.data(), window.data(), rv.data(), y.data(),
                        wo.data(), rvo.data(), 2, 2, 2, 0.5, 0.0);
  EXPECT_FALSE(filtered);
  const double r2 = std::sqrt(2.0);
  expect_all_near(y, {2 / r2, 2 * 3 / 3.0 + 1, -2 / r2, 2 * 3 / 3.0 + 1}, 1e-14);
  expect_all_near(wo, {1, 9, 4, 9}, 0);  // rows 1.. of the window, then sigma^2_t
  expect_all_near(rvo, {0.5 * 1 + 0.5 * 2, 0.5 * 3 + 0.5 * 9}, 1e-14);
}

TEST(RefUnifiedNorm, FilteredStepHandComputed) {
  // The previous window is all 1: its roots have no spread, the threshold is 0. x column 0
  // {2, -2} gives sigma^2 4, new window {1, 4}, AM - GM = 0.5 > 0: the filtration fires. The
  // step normalizes by sigma^2_t = {4, 1} (column 1 {1, -1}), and the buffer takes the running
  // variance in place of sigma^2_t.
  const Vec x = {2, 1, -2, -1}, gamma = {1, 1}, beta = {0, 0};
  const Vec window = {1, 1, 1, 1}, rv = {5, 7};
  Vec y = poisoned(4), wo = poisoned(4), rvo = poisoned(2);
  const bool filtered =
      ref::unified_norm(x.data(), gamma.data(), beta.data(), window.data(), rv.data(), y.data(),
                        wo.data(), rvo.data(), 2, 2, 2, 0.9, 0.0);
  EXPECT_TRUE(filtered);
  expect_all_near(y, {1, 1, -1, -1}, 1e-15);
  expect_all_near(wo, {1, 1, 5, 7}, 0);
  expect_all_near(rvo, {0.9 * 5 + 0.1 * 4, 0.9 * 7 + 0.1 * 1}, 1e-15);
}

TEST(RefUnifiedNorm, ForcedBranchOverridesTheDecision) {
  // The filtered case above, forced to smooth: var = GM = {2, 1}.
  const Vec x = {2, 1, -2, -1}, gamma = {1, 1}, beta = {0, 0};
  const Vec window = {1, 1, 1, 1}, rv = {5, 7};
  Vec y = poisoned(4), wo = poisoned(4), rvo = poisoned(2);
  const bool filtered =
      ref::unified_norm(x.data(), gamma.data(), beta.data(), window.data(), rv.data(), y.data(),
                        wo.data(), rvo.data(), 2, 2, 2, 0.9, 0.0, ref::UnifiedNormBranch::smoothed);
  EXPECT_FALSE(filtered);
  const double r2 = std::sqrt(2.0);
  expect_all_near(y, {2 / r2, 1, -2 / r2, -1}, 1e-14);
  expect_all_near(wo, {1, 1, 4, 1}, 0);
}

// ---- references: identities
// ----------------------------------------------------------------------

TEST(RefUnifiedNorm, WindowOfOneIsRmsNormOfTheTranspose) {
  // With M = 1 nothing is smoothed and AM - GM = 0: the step normalizes each feature by its own
  // root mean square over the tokens, which is RMSNorm of the transposed matrix.
  const i64 rows = 7, cols = 5;
  const double eps = 1e-3;
  const Vec x = seeded(rows * cols, 1, -2, 2);
  const Vec gamma = seeded(cols, 2, 0.5, 1.5), beta = seeded(cols, 3, -1, 1);
  const Vec window = seeded(cols, 4, 0.1, 3), rv = seeded(cols, 5, 0.5, 2);
  Vec xt(cols * rows);
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) xt[j * rows + r] = x[r * cols + j];
  const Vec ones(rows, 1.0);
  Vec zt = poisoned(cols * rows);
  ref::rmsnorm(xt.data(), ones.data(), zt.data(), cols, rows, eps);
  Vec want(rows * cols);
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) want[r * cols + j] = zt[j * rows + r] * gamma[j] + beta[j];

  Vec y = poisoned(rows * cols), wo = poisoned(cols), rvo = poisoned(cols);
  EXPECT_FALSE(ref::unified_norm(x.data(), gamma.data(), beta.data(), window.data(), rv.data(),
                                 y.data(), wo.data(), rvo.data(), rows, cols, 1, 0.9, eps));
  expect_all_near(y, want, 1e-13);
  Vec s2(cols);
  ref::unified_norm_second_moment(x.data(), rows, cols, s2.data());
  expect_all_near(wo, s2, 1e-15);
}

TEST(RefUnifiedNorm, AmMinusGmNeverExceedsWindowTimesOwnPopulationVariance) {
  // Kober's inequality, the bound the paper proves: AM - GM <= M Var_pop(sqrt(.)) over the same
  // values, so the paper's test read with the window's own variance could never fire. Random
  // windows of 2, 3, 4 and 16 iterations.
  for (i64 M : {2, 3, 4, 16}) {
    const i64 cols = 64;
    const Vec w = seeded(M * cols, 10 + M, 0.01, 5), s2 = seeded(cols, 20 + M, 0.01, 5);
    Vec am(cols), gm(cols);
    ref::unified_norm_window_means(w.data(), s2.data(), M, cols, am.data(), gm.data());
    for (i64 j = 0; j < cols; ++j) {
      Vec roots = {std::sqrt(s2[j])};
      for (i64 k = 1; k < M; ++k) roots.push_back(std::sqrt(w[k * cols + j]));
      double mean = 0, var = 0;
      for (double r : roots) mean += r;
      mean /= static_cast<double>(M);
      for (double r : roots) var += (r - mean) * (r - mean);
      var /= static_cast<double>(M);
      EXPECT_GT(am[j] - gm[j], 0.0);
      // (An equality at M = 2: AM - GM = (sqrt(a) - sqrt(b))^2 / 2; room for rounding.)
      EXPECT_LE(am[j] - gm[j], M * var + 1e-12 * am[j]) << "M " << M << " feature " << j;
    }
  }
}

TEST(RefUnifiedNorm, SteadyHistoryNeverFilters) {
  // Omega_t holds the same values as Omega_{t-1} (the step's statistic equals the one leaving)
  // and every feature has the same statistics: the threshold is M times the (unbiased) variance
  // of each feature's own roots, above AM - GM by Kober's bound, so the layer smooths.
  const i64 rows = 3, cols = 4, M = 4;
  Vec x(rows * cols);
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) x[r * cols + j] = (r == 0 ? 3.0 : r == 1 ? -1.0 : 2.0);
  Vec s2(cols);
  ref::unified_norm_second_moment(x.data(), rows, cols, s2.data());
  const Vec f = {1.0, 1.3, 0.8, 1.1};
  Vec window(M * cols);
  for (i64 m = 0; m < M; ++m)
    for (i64 j = 0; j < cols; ++j) window[m * cols + j] = s2[j] * f[m];
  const Vec gamma(cols, 1.0), beta(cols, 0.0), rv(cols, 1.0);
  Vec y = poisoned(rows * cols), wo = poisoned(M * cols), rvo = poisoned(cols);
  EXPECT_FALSE(ref::unified_norm(x.data(), gamma.data(), beta.data(), window.data(), rv.data(),
                                 y.data(), wo.data(), rvo.data(), rows, cols, M, 0.9, 0.0));
  const double gm = s2[0] * std::pow(1.3 * 0.8 * 1.1 * 1.0, 0.25);
  EXPECT_NEAR(y[0], 3.0 / std::sqrt(gm), 1e-14);
}

TEST(RefUnifiedNormInfer, FoldEqualsNormalizingByFixedStatistics) {
  // The folded map x * a + b is BatchNorm inference with zero mean and the running variance.
  const i64 rows = 6, cols = 5;
  const double eps = 1e-5;
  const Vec x = seeded(rows * cols, 30, -3, 3), rv = seeded(cols, 31, 0.1, 4);
  const Vec gamma = seeded(cols, 32, 0.5, 1.5), beta = seeded(cols, 33, -1, 1);
  Vec a = poisoned(cols), b = poisoned(cols), y = poisoned(rows * cols);
  ref::unified_norm_fold(rv.data(), gamma.data(), beta.data(), a.data(), b.data(), cols, eps);
  ref::unified_norm_infer(x.data(), a.data(), b.data(), y.data(), rows, cols);
  const Vec zero(cols, 0.0);
  Vec want = poisoned(rows * cols);
  ref::batchnorm_infer(x.data(), zero.data(), rv.data(), gamma.data(), beta.data(), want.data(),
                       rows, cols, eps);
  expect_all_near(y, want, 1e-14);
}

TEST(RefUnifiedNormInfer, HandComputed) {
  const Vec x = {1, -2, 0.5, 4}, a = {2, 0.25}, b = {1, -1};
  Vec y = poisoned(4);
  ref::unified_norm_infer(x.data(), a.data(), b.data(), y.data(), 2, 2);
  expect_all_near(y, {3, -1.5, 2, 0}, 1e-15);
}

// ---- kernels against the references ------------------------------------------------------------

template <class T>
struct Dtype;
template <>
struct Dtype<float> {
  static constexpr double kU = 0;  // float32's rule already counts its rounding
  static float round(double d) { return static_cast<float>(d); }
  static double value(float v) { return v; }
  static float poison() { return std::numeric_limits<float>::quiet_NaN(); }
};
template <>
struct Dtype<bf16_t> {
  static constexpr double kU = 1.0 / 256;
  static bf16_t round(double d) { return to_bf16(d); }
  static double value(bf16_t v) { return to_float(v); }
  static bf16_t poison() { return bf16_t{0x7FC1}; }
};
template <>
struct Dtype<f16_t> {
  static constexpr double kU = 1.0 / 2048;
  static f16_t round(double d) { return to_f16(d); }
  static double value(f16_t v) { return to_float(v); }
  static f16_t poison() { return f16_t{0x7E01}; }
};

// The family's rule (suites/norm_common.cpp): 1e-5 + (1e-4 + u) |ref|; the float32 state with
// float32's.
constexpr double kAtol = 1e-5, kRtol = 1e-4;

template <class T, class Get>
i64 count_bad(i64 n, Get got, const Vec& want, double u, std::string& first) {
  i64 bad = 0;
  for (i64 i = 0; i < n; ++i) {
    const double g = got(i), tol = kAtol + (kRtol + u) * std::fabs(want[i]);
    if (!(std::fabs(g - want[i]) <= tol) && bad++ == 0)
      first = "at " + std::to_string(i) + ": got " + std::to_string(g) + ", want " +
              std::to_string(want[i]);
  }
  return bad;
}

enum class Dist { normal, offset };

// x rounded to T: normal(0, 1), or 1e4 + normal (a large common offset: UN subtracts no mean,
// so the statistic is ~1e8 and its float32 sum must stay accurate).
template <class T>
std::vector<T> make_x(i64 rows, i64 cols, Dist dist, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<T> x(static_cast<std::size_t>(rows * cols));
  for (auto& v : x) v = Dtype<T>::round((dist == Dist::offset ? 1e4 : 0.0) + nd(rng));
  return x;
}

template <class T>
std::vector<T> rounded(const Vec& v) {
  std::vector<T> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = Dtype<T>::round(v[i]);
  return out;
}

template <class T>
Vec values(const T* p, i64 n) {
  Vec v(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; ++i) v[i] = Dtype<T>::value(p[i]);
  return v;
}

// Output storage `misalign` elements past a 64-byte boundary, poisoned.
template <class T>
struct Out {
  std::vector<T> store;
  T* data;
  Out(i64 n, i64 misalign)
      : store(static_cast<std::size_t>(n + misalign) + 64, Dtype<T>::poison()) {
    const auto mis = reinterpret_cast<std::uintptr_t>(store.data()) % 64;
    data = store.data() + (64 - mis) % 64 / sizeof(T) + misalign;
  }
};

// The carried state against the step's statistics, as the suite's `history` axis: steady (the
// window drifted a few per cent, the filtration does not fire), jump (the window 100 times
// smaller: it fires), and edge: steady, but the oldest statistic lies a thousandth of the drift
// closer to the others, so the previous window spreads a little less than the new one. With
// M = 2 and features of equal statistics (the offset inputs) AM - GM then lies just above the
// threshold (Kober's bound is an equality at M = 2), within float32's error of it: the fast
// kernel must settle those features in double.
enum class History { steady, edge, jump };

struct StepCase {
  i64 rows, cols, window;
  History history;
  Dist dist;
  i64 misalign;
};

std::string describe(const StepCase& c) {
  const char* h = c.history == History::jump   ? " jump"
                  : c.history == History::edge ? " edge"
                                               : " steady";
  return "rows " + std::to_string(c.rows) + " cols " + std::to_string(c.cols) + " window " +
         std::to_string(c.window) + h + (c.dist == Dist::offset ? " offset" : " normal") +
         " misalign " + std::to_string(c.misalign);
}

// ---- the suite's comparison of the filtration's decision ----------------------------------------

// A float32 case of `unified_norm`: rows 1 with x = 1 (sigma^2_t = 1 in every feature), M = 2,
// the window {1, 4} (oldest first) in every feature. The new window {4, 1} is the old one's set,
// so AM - GM = 2 Var_pop of each feature's roots = 1/2 (Kober's bound is an equality at M = 2),
// and the threshold, over all 2 cols roots, is 2 cols / (2 cols - 1) times that: the reference
// does not filter, T - gap = 1 / (2 (2 cols - 1)) below. With 1000 features that is within the
// suite's margin, 1e-4 (AM + T) = 3e-4; with 4 features (0.07) it is not.
struct SuiteCase {
  Params p;
  TensorMap in, ref;
  const Op* op = nullptr;
  i64 cols = 0;
};

Tensor f32_tensor(Shape shape, const Vec& v) {
  Tensor t(DType::f32, std::move(shape));
  for (i64 i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

SuiteCase suite_case(const Registry& reg, i64 cols) {
  SuiteCase c;
  c.cols = cols;
  c.op = reg.find_op("unified_norm");
  for (auto [k, v] : {std::pair<const char*, std::string>{"rows", "1"},
                      {"cols", std::to_string(cols)},
                      {"window", "2"},
                      {"history", "steady"},
                      {"dist", "normal"}})
    c.p.set(k, v);
  Vec window(2 * cols, 1.0);
  std::fill(window.begin() + cols, window.end(), 4.0);
  c.in["x"] = f32_tensor({1, cols}, Vec(cols, 1.0));
  c.in["gamma"] = f32_tensor({cols}, Vec(cols, 1.0));
  c.in["beta"] = f32_tensor({cols}, Vec(cols, 0.0));
  c.in["window"] = f32_tensor({2, cols}, window);
  c.in["running_var"] = f32_tensor({cols}, Vec(cols, 3.0));
  c.ref["y"] = Tensor(DType::f64, {1, cols});
  c.ref["window_out"] = Tensor(DType::f64, {2, cols});
  c.ref["running_var_out"] = Tensor(DType::f64, {cols});
  c.ref["filtered"] = Tensor(DType::i64, {1});
  c.op->reference(c.in, c.ref, c.p);
  return c;
}

// Float32 outputs of the step along `branch` (what a kernel that decided so writes), its
// decision set to `filtered`.
TensorMap outputs_along(const SuiteCase& c, ref::UnifiedNormBranch branch, bool filtered) {
  const i64 cols = c.cols;
  Vec y(cols), wo(2 * cols), rvo(cols), w(2 * cols);
  for (i64 i = 0; i < 2 * cols; ++i) w[i] = c.in.at("window").data<float>()[i];
  const Vec ones(cols, 1.0), zeros(cols, 0.0), rv(cols, 3.0);
  ref::unified_norm(ones.data(), ones.data(), zeros.data(), w.data(), rv.data(), y.data(),
                    wo.data(), rvo.data(), 1, cols, 2, 0.9, 1e-5, branch);
  TensorMap out;
  out["y"] = f32_tensor({1, cols}, y);
  out["window_out"] = f32_tensor({2, cols}, wo);
  out["running_var_out"] = f32_tensor({cols}, rvo);
  out["filtered"] = Tensor(DType::i64, {1});
  out["filtered"].data<i64>()[0] = filtered ? 1 : 0;
  return out;
}

TEST(SuiteUnifiedNorm, DecisionWithinRoundingIsATieCheckedAlongItsBranch) {
  Registry reg;
  register_all_suites(reg);
  const SuiteCase c = suite_case(reg, 1000);
  ASSERT_EQ(c.ref.at("filtered").data<i64>()[0], 0);
  const Tolerance tol = c.op->tolerance(DType::f32);
  // A kernel that filtered, with the outputs of that branch: accepted, counted as a tie.
  Agreement a = c.op->compare(c.in, outputs_along(c, ref::UnifiedNormBranch::filtered, true), c.ref,
                              c.p, tol);
  EXPECT_TRUE(a.passed) << a.first_mismatch;
  EXPECT_EQ(a.ties, 1);
  EXPECT_EQ(a.mismatches, 0);
  // Claiming to have filtered while writing the smoothed branch's outputs is wrong.
  a = c.op->compare(c.in, outputs_along(c, ref::UnifiedNormBranch::smoothed, true), c.ref, c.p,
                    tol);
  EXPECT_FALSE(a.passed);
  // The reference's own branch passes without a tie.
  a = c.op->compare(c.in, outputs_along(c, ref::UnifiedNormBranch::smoothed, false), c.ref, c.p,
                    tol);
  EXPECT_TRUE(a.passed) << a.first_mismatch;
  EXPECT_EQ(a.ties, 0);
}

TEST(SuiteUnifiedNorm, DecisionFarFromTheThresholdMustMatch) {
  Registry reg;
  register_all_suites(reg);
  const SuiteCase c = suite_case(reg, 4);
  ASSERT_EQ(c.ref.at("filtered").data<i64>()[0], 0);
  const Agreement a = c.op->compare(c.in, outputs_along(c, ref::UnifiedNormBranch::filtered, true),
                                    c.ref, c.p, c.op->tolerance(DType::f32));
  EXPECT_FALSE(a.passed);
  EXPECT_EQ(a.ties, 0);
  EXPECT_GE(a.mismatches, 1);
}

// Runs both kernels on one case, compares with the reference; returns the reference's decision.
template <class T>
bool check_step(const StepCase& c, std::uint64_t seed) {
  const i64 rows = c.rows, cols = c.cols, M = c.window;
  const std::vector<T> x = make_x<T>(rows, cols, c.dist, seed);
  const std::vector<T> gamma = rounded<T>(seeded(cols, seed + 1, 0.5, 1.5));
  const std::vector<T> beta = rounded<T>(seeded(cols, seed + 2, -0.2, 0.2));
  // The state, as the suite's `history` axis makes it: the step's statistics times a drift
  // (f_0 = 1, then f_m = 1 + 0.1 (M - m) / M), and 100 times smaller for a jump; for `edge`
  // f_0 = 1 + 0.001 (f_1 - 1).
  const Vec xv = values(x.data(), rows * cols);
  Vec s2(cols);
  ref::unified_norm_second_moment(xv.data(), rows, cols, s2.data());
  const double scale = c.history == History::jump ? 0.01 : 1.0;
  const auto drift = [&](i64 m) {
    const double f1 = 1.0 + 0.1 * static_cast<double>(M - 1) / static_cast<double>(M);
    if (m == 0) return c.history == History::edge ? 1.0 + 0.001 * (f1 - 1.0) : 1.0;
    return 1.0 + 0.1 * static_cast<double>(M - m) / static_cast<double>(M);
  };
  std::vector<float> window(M * cols), rv(cols);
  const Vec rvf = seeded(cols, seed + 3, 0.9, 1.1);
  for (i64 m = 0; m < M; ++m)
    for (i64 j = 0; j < cols; ++j)
      window[m * cols + j] = static_cast<float>(s2[j] * scale * drift(m));
  for (i64 j = 0; j < cols; ++j) rv[j] = static_cast<float>(s2[j] * scale * rvf[j]);

  const Vec gv = values(gamma.data(), cols), bv = values(beta.data(), cols);
  const Vec wv(window.begin(), window.end()), rvv(rv.begin(), rv.end());
  Vec y(rows * cols), wo(M * cols), rvo(cols);
  const bool filtered =
      ref::unified_norm(xv.data(), gv.data(), bv.data(), wv.data(), rvv.data(), y.data(), wo.data(),
                        rvo.data(), rows, cols, M, 0.9, 1e-5);

  for (int k = 0; k < 2; ++k) {
    const char* impl = k == 0 ? "cpu.plain" : "cpu.fast";
    Out<T> yo(rows * cols, c.misalign);
    Out<float> woo(M * cols, 0), rvoo(cols, 0);
    i64 fo = -1;
    (k == 0 ? cpu::plain::unified_norm<T>
            : cpu::fast::unified_norm<T>)(x.data(), gamma.data(), beta.data(), window.data(),
                                          rv.data(), yo.data, woo.data, rvoo.data, &fo, rows, cols,
                                          M, 0.9f, 1e-5f);
    SCOPED_TRACE(std::string(impl) + " " + describe(c));
    EXPECT_EQ(fo, filtered ? 1 : 0);
    std::string first;
    EXPECT_EQ(count_bad<T>(
                  rows * cols, [&](i64 i) { return Dtype<T>::value(yo.data[i]); }, y, Dtype<T>::kU,
                  first),
              0)
        << "y " << first;
    EXPECT_EQ(count_bad<float>(
                  M * cols, [&](i64 i) { return static_cast<double>(woo.data[i]); }, wo, 0, first),
              0)
        << "window_out " << first;
    EXPECT_EQ(count_bad<float>(
                  cols, [&](i64 i) { return static_cast<double>(rvoo.data[i]); }, rvo, 0, first),
              0)
        << "running_var_out " << first;
  }
  return filtered;
}

template <class T>
void check_steps() {
  std::vector<StepCase> cases;
  for (i64 M : {1, 2, 4, 16})
    for (History h : {History::steady, History::edge, History::jump})
      for (Dist d : {Dist::normal, Dist::offset})
        for (auto [rows, cols] : {std::pair<i64, i64>{1, 3}, {5, 17}, {37, 768}, {64, 4097}})
          cases.push_back({rows, cols, M, h, d, rows % 2});
  // Large enough for the streamed and pipelined output passes (16 MiB of y), aligned and not.
  const i64 big_rows = std::is_same_v<T, float> ? 1024 : 2048;
  cases.push_back({big_rows, 4096, 4, History::steady, Dist::normal, 0});
  cases.push_back({big_rows, 4096, 4, History::jump, Dist::offset, 1});
  int smoothed = 0, filtered = 0;
  std::uint64_t seed = 100;
  for (const StepCase& c : cases) (check_step<T>(c, seed++) ? filtered : smoothed)++;
  // Both branches of the filtration were checked.
  EXPECT_GT(smoothed, 0);
  EXPECT_GT(filtered, 0);
}

TEST(KernelsUnifiedNorm, MatchReferenceF32) {
  check_steps<float>();
}
TEST(KernelsUnifiedNorm, MatchReferenceBf16) {
  check_steps<bf16_t>();
}
TEST(KernelsUnifiedNorm, MatchReferenceF16) {
  check_steps<f16_t>();
}

template <class T>
void check_infer() {
  struct C {
    i64 rows, cols, misalign;
    Dist dist;
  };
  // Small and odd shapes in both distributions; three large enough for the streamed writes (16 MiB
  // of y): rows on cache lines (interleaved rows, with and without rows left over) and not.
  std::vector<C> cases;
  for (Dist d : {Dist::normal, Dist::offset})
    for (auto [rows, cols, mis] :
         {std::tuple<i64, i64, i64>{1, 1, 0}, {3, 5, 1}, {7, 17, 0}, {33, 31, 3}, {64, 4097, 1}})
      cases.push_back({rows, cols, mis, d});
  const i64 big_rows = std::is_same_v<T, float> ? 1024 : 2048;
  cases.push_back({big_rows, 4096, 0, Dist::normal});
  cases.push_back({big_rows + 3, 4096, 0, Dist::offset});  // rows left over by the interleaving
  cases.push_back({big_rows + 3, 4097, 1, Dist::offset});
  std::uint64_t seed = 500;
  for (const C& c : cases) {
    const std::vector<T> x = make_x<T>(c.rows, c.cols, c.dist, seed++);
    const std::vector<T> a = rounded<T>(seeded(c.cols, seed++, 0.5, 1.5));
    const std::vector<T> b = rounded<T>(seeded(c.cols, seed++, -0.2, 0.2));
    const Vec xv = values(x.data(), c.rows * c.cols), av = values(a.data(), c.cols),
              bv = values(b.data(), c.cols);
    Vec y(c.rows * c.cols);
    ref::unified_norm_infer(xv.data(), av.data(), bv.data(), y.data(), c.rows, c.cols);
    for (int k = 0; k < 2; ++k) {
      Out<T> yo(c.rows * c.cols, c.misalign);
      (k == 0 ? cpu::plain::unified_norm_infer<T>
              : cpu::fast::unified_norm_infer<T>)(x.data(), a.data(), b.data(), yo.data, c.rows,
                                                  c.cols);
      std::string first;
      EXPECT_EQ(count_bad<T>(
                    c.rows * c.cols, [&](i64 i) { return Dtype<T>::value(yo.data[i]); }, y,
                    Dtype<T>::kU, first),
                0)
          << (k == 0 ? "cpu.plain" : "cpu.fast") << " rows " << c.rows << " cols " << c.cols
          << " misalign " << c.misalign << ": " << first;
    }
  }
}

TEST(KernelsUnifiedNormInfer, MatchReferenceF32) {
  check_infer<float>();
}
TEST(KernelsUnifiedNormInfer, MatchReferenceBf16) {
  check_infer<bf16_t>();
}
TEST(KernelsUnifiedNormInfer, MatchReferenceF16) {
  check_infer<f16_t>();
}

}  // namespace
}  // namespace opbench
