// Tests of SimpleRMSNorm and DeepNorm backward (training mode): the float64 references
// (reference/norm_srmsnorm_deepnorm_backward.hpp) against rows computed by hand, identities with
// the RMSNorm and LayerNorm backward references, and finite differences of the forward reference
// at a large eps (where eps outside the root shows); cpu.plain and cpu.fast
// (kernels/cpu/norm_srmsnorm_deepnorm_backward.hpp) against the references through the ops' own
// agreement rule, over edge shapes and every scenario; and planted wrong kernels that the rule
// must reject. Every backward op's finite-difference proof at its registered point runs in
// tests/test_suites_backward.cpp.
//
// Outputs start as NaN, so that an element a function forgets to write fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "harness/gradient_check.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_backward.hpp"
#include "reference/norm_backward.hpp"
#include "reference/norm_srmsnorm_deepnorm.hpp"
#include "reference/norm_srmsnorm_deepnorm_backward.hpp"
#include "suites/common.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"
#include "tests/reference_test_support.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;
using test_support::expect_all_near;
using test_support::kNaN;
using test_support::poisoned;
using test_support::seeded;
using test_support::Vec;

// ---- SimpleRMSNorm backward reference ---------------------------------------------------------

TEST(RefSrmsnormBackward, HandComputedRowsWithEpsOutsideTheRoot) {
  // x = [1, 1], d = 2, eps = 1: ||x|| = sqrt(2), rho = ||x|| / sqrt(2) = 1, r = rho + eps = 2.
  // dy_j/dx_k = delta_jk / r - x_j x_k / (r^2 ||x|| sqrt(d)) = delta_jk / 2 - 1 / 8, so
  // dy = [1, 0] gives dx = [1/2 - 1/8, -1/8] = [3/8, -1/8], and dy = [0, 1] its mirror.
  // (eps inside the root, as RMSNorm's, would give r = sqrt(1 + 1) and other values.)
  const Vec x = {1, 1, 1, 1}, dy = {1, 0, 0, 1};
  Vec r = poisoned(2);
  ref::srmsnorm_divisor(x.data(), r.data(), 2, 2, 1.0);
  expect_all_near(r, {2, 2}, 1e-15);
  Vec dx = poisoned(4);
  ref::srmsnorm_backward(dy.data(), x.data(), r.data(), dx.data(), 2, 2, 1.0);
  expect_all_near(dx, {3.0 / 8, -1.0 / 8, -1.0 / 8, 3.0 / 8}, 1e-15);
}

TEST(RefSrmsnormBackward, ZeroRowGivesDyOverEps) {
  // y(h) = h / (|h| / sqrt(d) + eps) = h / eps + O(|h|^2): the derivative at a zero row is I / eps.
  const double eps = 1e-8;
  const Vec x = {0, 0, 0, 3, 4, 0}, dy = {1, -2, 3, 1, 1, 1};
  Vec r = poisoned(2);
  ref::srmsnorm_divisor(x.data(), r.data(), 2, 3, eps);
  EXPECT_EQ(r[0], eps);
  Vec dx = poisoned(6);
  ref::srmsnorm_backward(dy.data(), x.data(), r.data(), dx.data(), 2, 3, eps);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(dx[j], dy[j] / eps, 1e-15 / eps) << j;
  for (int j = 3; j < 6; ++j) EXPECT_TRUE(std::isfinite(dx[j])) << j;
}

TEST(RefSrmsnormBackward, AtEpsZeroIsRmsnormBackwardWithUnitGainAndOrthogonalToX) {
  // With eps = 0 SimpleRMSNorm is RMSNorm without gain (1 / r = RMSNorm's rstd), and y is
  // invariant to x -> a x, so x . dx = 0 in every row.
  const i64 rows = 3, cols = 13;
  const Vec x = seeded(rows * cols, 301), dy = seeded(rows * cols, 302), gamma(cols, 1.0);
  Vec r = poisoned(rows), rstd = poisoned(rows);
  ref::srmsnorm_divisor(x.data(), r.data(), rows, cols, 0.0);
  ref::rmsnorm_stats(x.data(), rstd.data(), rows, cols, 0.0);
  for (i64 i = 0; i < rows; ++i) EXPECT_NEAR(r[i] * rstd[i], 1.0, 1e-15) << i;
  Vec dx = poisoned(rows * cols), rdx = poisoned(rows * cols), dgamma = poisoned(cols);
  ref::srmsnorm_backward(dy.data(), x.data(), r.data(), dx.data(), rows, cols, 0.0);
  ref::rmsnorm_backward(dy.data(), x.data(), gamma.data(), rstd.data(), rdx.data(), dgamma.data(),
                        rows, cols);
  expect_all_near(dx, rdx, 1e-14);
  for (i64 i = 0; i < rows; ++i) {
    double xdx = 0, norm = 0;
    for (i64 j = 0; j < cols; ++j) {
      xdx += x[i * cols + j] * dx[i * cols + j];
      norm += std::abs(x[i * cols + j] * dx[i * cols + j]);
    }
    EXPECT_NEAR(xdx, 0.0, 1e-14 * norm) << "row " << i;
  }
}

TEST(RefSrmsnormBackward, MatchesFiniteDifferencesOfTheForwardAtALargeEps) {
  // At the op's eps (1e-8) the eps / rho part of the gradient is below any finite difference;
  // at eps = 0.3 it is a third of the projection term. L = sum(dy * y), central differences.
  const i64 rows = 3, cols = 7;
  const double eps = 0.3, h = 1e-5;
  Vec x = seeded(rows * cols, 311, -1.0, 1.0);
  const Vec dy = seeded(rows * cols, 312);
  Vec r = poisoned(rows), dx = poisoned(rows * cols);
  ref::srmsnorm_divisor(x.data(), r.data(), rows, cols, eps);
  ref::srmsnorm_backward(dy.data(), x.data(), r.data(), dx.data(), rows, cols, eps);
  const auto loss = [&]() {
    Vec y(x.size());
    ref::srmsnorm(x.data(), y.data(), rows, cols, eps);
    double l = 0;
    for (std::size_t k = 0; k < y.size(); ++k) l += dy[k] * y[k];
    return l;
  };
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double x0 = x[k];
    x[k] = x0 + h;
    const double up = loss();
    x[k] = x0 - h;
    const double down = loss();
    x[k] = x0;
    EXPECT_NEAR(dx[k], (up - down) / (2 * h), 1e-8) << "element " << k;
  }
}

// ---- DeepNorm backward reference --------------------------------------------------------------

TEST(RefDeepnormBackward, HandComputedRow) {
  // alpha = 2, x = [0, 1, 0, 1], fx = [0, -2, 2, 0]: s = [0, 0, 2, 2], mean 1, var 1, so with
  // eps = 0 rstd = 1 and shat = [-1, -1, 1, 1]. gamma = [1, 2, 1, 1], dy = [1, 1, 0, 0]:
  // g = [1, 2, 0, 0], mean(g) = 3/4, mean(g shat) = -3/4, ds = g - 3/4 + shat 3/4
  // = [-1/2, 1/2, 0, 0]; dx = 2 ds, dfx = ds, dgamma = dy shat, dbeta = dy.
  const Vec x = {0, 1, 0, 1}, fx = {0, -2, 2, 0}, gamma = {1, 2, 1, 1}, dy = {1, 1, 0, 0};
  Vec mean = poisoned(1), rstd = poisoned(1);
  ref::deepnorm_stats(x.data(), fx.data(), mean.data(), rstd.data(), 1, 4, 2.0, 0.0);
  expect_all_near(mean, {1}, 0.0);
  expect_all_near(rstd, {1}, 0.0);
  Vec dx = poisoned(4), dfx = poisoned(4), dgamma = poisoned(4), dbeta = poisoned(4);
  ref::deepnorm_backward(dy.data(), x.data(), fx.data(), gamma.data(), mean.data(), rstd.data(),
                         dx.data(), dfx.data(), dgamma.data(), dbeta.data(), 1, 4, 2.0);
  expect_all_near(dx, {-1, 1, 0, 0}, 1e-15);
  expect_all_near(dfx, {-0.5, 0.5, 0, 0}, 1e-15);
  expect_all_near(dgamma, {-1, -1, 0, 0}, 1e-15);
  expect_all_near(dbeta, {1, 1, 0, 0}, 0.0);
}

TEST(RefDeepnormBackward, AtAlphaOneIsAddLayernormBackwardWithoutResidualGradient) {
  // alpha = 1: s = x + fx is add_layernorm's sum; with dsum = 0 its dx (the gradient of x and of
  // the residual) is DeepNorm's dx and dfx, and the column gradients are the same.
  const i64 rows = 4, cols = 9;
  const double eps = 1e-5;
  const Vec x = seeded(rows * cols, 321), fx = seeded(rows * cols, 322),
            dy = seeded(rows * cols, 323), gamma = seeded(cols, 324, 0.5, 1.5),
            dsum(rows * cols, 0.0);
  Vec sum(rows * cols);
  for (std::size_t k = 0; k < sum.size(); ++k) sum[k] = x[k] + fx[k];
  Vec mean = poisoned(rows), rstd = poisoned(rows), lmean = poisoned(rows), lrstd = poisoned(rows);
  ref::deepnorm_stats(x.data(), fx.data(), mean.data(), rstd.data(), rows, cols, 1.0, eps);
  ref::layernorm_stats(sum.data(), lmean.data(), lrstd.data(), rows, cols, eps);
  expect_all_near(mean, lmean, 1e-15);
  expect_all_near(rstd, lrstd, 1e-13);
  Vec dx = poisoned(rows * cols), dfx = poisoned(rows * cols), dg = poisoned(cols),
      db = poisoned(cols);
  ref::deepnorm_backward(dy.data(), x.data(), fx.data(), gamma.data(), mean.data(), rstd.data(),
                         dx.data(), dfx.data(), dg.data(), db.data(), rows, cols, 1.0);
  Vec ldx = poisoned(rows * cols), ldg = poisoned(cols), ldb = poisoned(cols);
  ref::add_layernorm_backward(dy.data(), dsum.data(), sum.data(), gamma.data(), mean.data(),
                              rstd.data(), ldx.data(), ldg.data(), ldb.data(), rows, cols);
  expect_all_near(dx, ldx, 1e-13);
  expect_all_near(dfx, ldx, 1e-13);
  expect_all_near(dg, ldg, 1e-13);
  expect_all_near(db, ldb, 1e-15);
}

TEST(RefDeepnormBackward, DfxIsLayernormBackwardAtTheSumAndDxIsAlphaTimesIt) {
  const i64 rows = 3, cols = 11;
  const double alpha = ref::deepnorm_alpha(18), eps = 1e-5;  // 2.45
  const Vec x = seeded(rows * cols, 331), fx = seeded(rows * cols, 332),
            dy = seeded(rows * cols, 333), gamma = seeded(cols, 334, 0.5, 1.5);
  Vec s(rows * cols);
  for (std::size_t k = 0; k < s.size(); ++k) s[k] = alpha * x[k] + fx[k];
  Vec mean = poisoned(rows), rstd = poisoned(rows);
  ref::deepnorm_stats(x.data(), fx.data(), mean.data(), rstd.data(), rows, cols, alpha, eps);
  Vec dx = poisoned(rows * cols), dfx = poisoned(rows * cols), dg = poisoned(cols),
      db = poisoned(cols);
  ref::deepnorm_backward(dy.data(), x.data(), fx.data(), gamma.data(), mean.data(), rstd.data(),
                         dx.data(), dfx.data(), dg.data(), db.data(), rows, cols, alpha);
  Vec lds = poisoned(rows * cols), ldg = poisoned(cols), ldb = poisoned(cols);
  ref::layernorm_backward(dy.data(), s.data(), gamma.data(), mean.data(), rstd.data(), lds.data(),
                          ldg.data(), ldb.data(), rows, cols);
  expect_all_near(dfx, lds, 1e-13);
  for (std::size_t k = 0; k < dx.size(); ++k) EXPECT_NEAR(dx[k], alpha * lds[k], 1e-13) << k;
  expect_all_near(dg, ldg, 1e-13);
  expect_all_near(db, ldb, 1e-15);
}

// ---- the registered ops: finite differences, kernels against the references --------------------

TEST(SrmsnormDeepnormBackwardOps, ReferencesMatchFiniteDifferencesOfTheirForwardOps) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  for (const char* name : {"norm/srmsnorm_backward", "norm/deepnorm_backward"}) {
    const Op* op = reg.find_op(name);
    ASSERT_NE(op, nullptr) << name;
    const GradientCheck r = check_gradient(reg, *op, data);
    EXPECT_TRUE(r.error.empty()) << name << ": " << r.error;
    EXPECT_GT(r.checked, 0) << name;
    EXPECT_TRUE(r.passed()) << name << " at " << r.point << ": worst " << r.worst << ", "
                            << (r.mismatches.empty() ? "" : r.mismatches.front());
  }
}

// Every implementation over edge shapes (one row, widths below, at and above a vector, 4095 and
// 4097) and every scenario, on poisoned outputs; 2000 rows of 17 columns make dgamma's column
// sums long and exercise the row blocks and the threads' partials.
TEST(SrmsnormDeepnormBackwardOps, ImplementationsAgreeOverEdgeShapesAndEveryScenario) {
  Registry reg;
  register_all_suites(reg);
  for (const auto& [op, dists] : std::vector<std::pair<const char*, const char*>>{
           {"srmsnorm_backward", "normal,uniform,llm_outliers,offset,constant_rows,zero_rows"},
           {"deepnorm_backward", "normal,uniform,llm_outliers,offset,constant_rows"}}) {
    for (const auto& [rows, cols] : std::vector<std::pair<const char*, const char*>>{
             {"1,9", "1,3,17,4095,4097"}, {"2000", "17"}}) {
      Selection sel;
      sel.ops = {op};
      sel.axis_overrides = {{"rows", rows}, {"cols", cols}, {"dist", dists}};
      if (std::string(op) == "deepnorm_backward") sel.axis_overrides["layers"] = "6,1000";
      const RunResult r = test_support::check_selection(reg, sel);
      EXPECT_GT(test_support::expect_all_agree_or_listed(r), 0) << op;
    }
  }
}

// The zero row's rule in the kernels themselves: dx = dy / eps, finite, where a kernel that
// divides the projection's 0 by rho = 0 would write NaN. 9 rows: two blocks of 4, then one row.
TEST(SrmsnormBackwardKernels, ZeroRowsGiveDyOverEps) {
  const i64 rows = 9, cols = 37;
  const float eps = 1e-8f;
  std::vector<float> x(rows * cols), dy(rows * cols), r(rows);
  const Vec xs = seeded(rows * cols, 341), dys = seeded(rows * cols, 342);
  for (i64 k = 0; k < rows * cols; ++k) {
    x[k] = (k / cols) % 3 == 0 ? 0.0f : static_cast<float>(xs[k]);
    dy[k] = static_cast<float>(dys[k]);
  }
  Vec x64(x.begin(), x.end()), r64(rows);
  ref::srmsnorm_divisor(x64.data(), r64.data(), rows, cols, eps);
  for (i64 i = 0; i < rows; ++i) r[i] = static_cast<float>(r64[i]);
  for (const auto& [name, fn] : {std::pair{"cpu.plain", &cpu::plain::srmsnorm_backward},
                                 std::pair{"cpu.fast", &cpu::fast::srmsnorm_backward}}) {
    std::vector<float> dx(rows * cols, std::numeric_limits<float>::quiet_NaN());
    fn(dy.data(), x.data(), r.data(), dx.data(), rows, cols, eps);
    for (i64 k = 0; k < rows * cols; ++k) {
      ASSERT_TRUE(std::isfinite(dx[k])) << name << " element " << k;
      if ((k / cols) % 3 == 0) {
        const double want = static_cast<double>(dy[k]) / static_cast<double>(r[k / cols]);
        EXPECT_NEAR(dx[k], want, 2e-7 * std::abs(want)) << name << " element " << k;
      }
    }
  }
}

// ---- planted wrong kernels
// -----------------------------------------------------------------------

// Runs cpu.fast and `planted` (as "cpu.planted") on one case of `op`; expects cpu.fast to pass
// and the planted kernel to fail, its first mismatch in output `output`.
void expect_planted_fails(const char* op, HostKernelFn planted,
                          std::map<std::string, std::string> axes, const char* output) {
  Registry reg;
  register_all_suites(reg);
  reg.add_impl("norm", op, suite::host_impl("cpu.planted", std::move(planted)));
  Selection sel;
  sel.ops = {op};
  sel.impls = {"cpu.fast", "cpu.planted"};
  sel.axis_overrides = std::move(axes);
  const RunResult r = test_support::check_selection(reg, sel);
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "cpu.fast") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.agreement.first_mismatch;
      ++seen;
    } else if (c.impl == "cpu.planted") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::fail) << op;
      EXPECT_EQ(c.agreement.first_mismatch.rfind(std::string(output) + "[", 0), 0u)
          << c.agreement.first_mismatch;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
}

float deepnorm_alpha(const Params& p) {
  return static_cast<float>(ref::deepnorm_alpha(p.i("layers")));
}

// dx = dy / r alone: the derivative of x / r with r held fixed, the projection term forgotten.
TEST(PlantedBackwardKernels, SrmsnormWithoutTheProjectionTermFails) {
  expect_planted_fails(
      "srmsnorm_backward",
      [](const TensorMap& i, TensorMap& o, const Params& p) {
        const i64 rows = p.i("rows"), cols = p.i("cols");
        const float* dy = suite::in32(i, "dy");
        const float* r = suite::in32(i, "divisor");
        float* dx = suite::out32(o, "dx");
        for (i64 k = 0; k < rows * cols; ++k) dx[k] = dy[k] / r[k / cols];
      },
      {{"rows", "64"}, {"cols", "4096"}, {"dist", "normal"}}, "dx");
}

// The projection taken as (x . dy) / (d r^2 rho) with no rule for rho = 0: NaN on zero rows.
TEST(PlantedBackwardKernels, SrmsnormWithoutTheZeroRowRuleFails) {
  expect_planted_fails(
      "srmsnorm_backward",
      [](const TensorMap& i, TensorMap& o, const Params& p) {
        const i64 rows = p.i("rows"), cols = p.i("cols");
        const float* dy = suite::in32(i, "dy");
        const float* x = suite::in32(i, "x");
        const float* r = suite::in32(i, "divisor");
        float* dx = suite::out32(o, "dx");
        for (i64 a = 0; a < rows; ++a) {
          double xdy = 0;
          for (i64 j = 0; j < cols; ++j) xdy += double{x[a * cols + j]} * dy[a * cols + j];
          const double ra = r[a], rho = ra - double{1e-8f};
          const double proj = xdy / (static_cast<double>(cols) * ra * ra * rho);
          for (i64 j = 0; j < cols; ++j) {
            dx[a * cols + j] = static_cast<float>(dy[a * cols + j] / ra - x[a * cols + j] * proj);
          }
        }
      },
      {{"rows", "64"}, {"cols", "4096"}, {"dist", "zero_rows"}}, "dx");
}

// dgamma missing one block of 16 rows of 1024: the column-sum rule sees one row block.
TEST(PlantedBackwardKernels, DeepnormDgammaMissingOneRowBlockFails) {
  expect_planted_fails(
      "deepnorm_backward",
      [](const TensorMap& i, TensorMap& o, const Params& p) {
        const i64 rows = p.i("rows"), cols = p.i("cols"), block = 16, first = rows - block;
        const auto f = [&](const char* n) { return suite::in32(i, n); };
        const float alpha = deepnorm_alpha(p);
        cpu::fast::deepnorm_backward(f("dy"), f("x"), f("fx"), f("gamma"), f("mean"), f("rstd"),
                                     suite::out32(o, "dx"), suite::out32(o, "dfx"),
                                     suite::out32(o, "dgamma"), suite::out32(o, "dbeta"), rows,
                                     cols, alpha);
        std::vector<float> dx(block * cols), dfx(dx.size()), dg(cols), db(cols);
        cpu::fast::deepnorm_backward(f("dy") + first * cols, f("x") + first * cols,
                                     f("fx") + first * cols, f("gamma"), f("mean") + first,
                                     f("rstd") + first, dx.data(), dfx.data(), dg.data(), db.data(),
                                     block, cols, alpha);
        for (i64 j = 0; j < cols; ++j) suite::out32(o, "dgamma")[j] -= dg[j];
      },
      {{"rows", "1024"}, {"cols", "256"}, {"dist", "normal"}}, "dgamma");
}

// dx = ds: the residual's weight alpha forgotten in the chain rule (dfx stays right).
TEST(PlantedBackwardKernels, DeepnormDxWithoutAlphaFails) {
  expect_planted_fails(
      "deepnorm_backward",
      [](const TensorMap& i, TensorMap& o, const Params& p) {
        const i64 rows = p.i("rows"), cols = p.i("cols");
        const auto f = [&](const char* n) { return suite::in32(i, n); };
        float* dx = suite::out32(o, "dx");
        const float* dfx = suite::out32(o, "dfx");
        cpu::fast::deepnorm_backward(f("dy"), f("x"), f("fx"), f("gamma"), f("mean"), f("rstd"), dx,
                                     suite::out32(o, "dfx"), suite::out32(o, "dgamma"),
                                     suite::out32(o, "dbeta"), rows, cols, deepnorm_alpha(p));
        for (i64 k = 0; k < rows * cols; ++k) dx[k] = dfx[k];
      },
      {{"rows", "64"}, {"cols", "4096"}, {"dist", "normal"}, {"layers", "6"}}, "dx");
}

}  // namespace
}  // namespace opbench
