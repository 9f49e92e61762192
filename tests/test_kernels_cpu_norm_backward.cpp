// Tests of the CPU backward kernels of LayerNorm and RMSNorm (kernels/cpu/norm_backward_*):
// cpu.plain and cpu.fast against the float64 reference (reference/norm_backward.hpp) computed on
// the same float32 inputs, the saved statistics being the reference's (ref::*_stats) rounded to
// float32, as the harness gives them. Shapes rows {1, 3, 64, 257} x cols {1, 7, 33, 4096, 4097}
// (vector tails, one row, blocks of rows and their remainder), plus large outputs that take the
// fast kernel's streaming stores; inputs normal, with a 1e4 common offset, and constant rows
// (rstd = 1 / sqrt(eps), about 316). Outputs are poisoned with NaN first, so an element left
// unwritten, or a gradient accumulated into the output instead of overwriting it, fails.
//
// Agreement: dx |out - ref| <= 1e-5 + 1e-4 |ref| elementwise. dgamma and dbeta are sums over the
// rows, which a float32 kernel may accumulate in float32: they also get Higham's probabilistic
// bound for a float32 sum of `rows` terms, sqrt(rows) * 2^-24 * sum over rows of |term| (term
// dy * xhat for dgamma, dy for dbeta).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/norm_backward_fast.hpp"
#include "kernels/cpu/norm_backward_plain.hpp"
#include "reference/norm_backward.hpp"
#include "tests/aligned_vector.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-4;
constexpr double kEps = 1e-5;
constexpr double kUnitRoundoff = 0x1.0p-24;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Impl {
  const char* name;
  decltype(&cpu::plain::layernorm_backward) layernorm_backward;
  decltype(&cpu::plain::rmsnorm_backward) rmsnorm_backward;
};
const Impl kImpls[] = {{"plain", &cpu::plain::layernorm_backward, &cpu::plain::rmsnorm_backward},
                       {"fast", &cpu::fast::layernorm_backward, &cpu::fast::rmsnorm_backward}};

// ---- inputs ---------------------------------------------------------------------------------

using test_support::FVec;  // 64-byte aligned, as the harness allocates tensors

enum class Dist { normal, offset, constant_rows };
const Dist kDists[] = {Dist::normal, Dist::offset, Dist::constant_rows};

const char* dist_name(Dist d) {
  switch (d) {
    case Dist::normal:
      return "normal";
    case Dist::offset:
      return "offset";
    case Dist::constant_rows:
      return "constant_rows";
  }
  return "?";
}

std::vector<double> to_double(const FVec& v) {
  return {v.begin(), v.end()};
}

FVec to_float(const std::vector<double>& v) {
  return FVec(v.begin(), v.end());
}

// One case: x drawn from `dist` (normal; 1e4 + normal; constant rows, every other one zero so
// that RMSNorm's rstd is also 1 / sqrt(eps)), dy normal, gamma in [0.5, 1.5], and the saved
// statistics of both ops rounded to float32.
struct Case {
  i64 rows, cols;
  Dist dist;
  FVec x, dy, gamma, mean, rstd, rms_rstd;
};

Case make_case(i64 rows, i64 cols, Dist dist, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.5, 1.5);
  Case c{rows, cols, dist, {}, {}, {}, {}, {}, {}};
  const auto n = static_cast<std::size_t>(rows * cols);
  c.x.resize(n);
  c.dy.resize(n);
  for (i64 r = 0; r < rows; ++r) {
    const double row_value = r % 2 == 0 ? 0.0 : 3.0 * normal(gen);
    for (i64 j = 0; j < cols; ++j) {
      const double v = dist == Dist::normal   ? normal(gen)
                       : dist == Dist::offset ? 1e4 + normal(gen)
                                              : row_value;
      c.x[static_cast<std::size_t>(r * cols + j)] = static_cast<float>(v);
    }
  }
  for (auto& e : c.dy) e = static_cast<float>(normal(gen));
  c.gamma.resize(static_cast<std::size_t>(cols));
  for (auto& e : c.gamma) e = static_cast<float>(uniform(gen));
  const std::vector<double> x = to_double(c.x);
  std::vector<double> mean(static_cast<std::size_t>(rows)), rstd(mean), rms_rstd(mean);
  ref::layernorm_stats(x.data(), mean.data(), rstd.data(), rows, cols, kEps);
  ref::rmsnorm_stats(x.data(), rms_rstd.data(), rows, cols, kEps);
  c.mean = to_float(mean);
  c.rstd = to_float(rstd);
  c.rms_rstd = to_float(rms_rstd);
  return c;
}

// ---- the reference and the tolerances -------------------------------------------------------

struct Grads {
  std::vector<double> dx, dgamma, dbeta;
  // Per column, sum over rows of |dy * xhat| and of |dy|: the scale of the float32 sum's error.
  std::vector<double> dgamma_abs, dbeta_abs;
};

Grads reference(const Case& c, bool layer) {
  const auto n = static_cast<std::size_t>(c.rows * c.cols);
  const auto cols = static_cast<std::size_t>(c.cols);
  Grads g{std::vector<double>(n), std::vector<double>(cols), std::vector<double>(cols),
          std::vector<double>(cols, 0.0), std::vector<double>(cols, 0.0)};
  const auto dy = to_double(c.dy), x = to_double(c.x), gamma = to_double(c.gamma);
  const auto mean = to_double(c.mean), rstd = to_double(layer ? c.rstd : c.rms_rstd);
  if (layer) {
    ref::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(),
                            g.dx.data(), g.dgamma.data(), g.dbeta.data(), c.rows, c.cols);
  } else {
    ref::rmsnorm_backward(dy.data(), x.data(), gamma.data(), rstd.data(), g.dx.data(),
                          g.dgamma.data(), c.rows, c.cols);
  }
  for (i64 r = 0; r < c.rows; ++r)
    for (std::size_t j = 0; j < cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r) * cols + j;
      const double xhat = (x[i] - (layer ? mean[r] : 0.0)) * rstd[r];
      g.dgamma_abs[j] += std::fabs(dy[i] * xhat);
      g.dbeta_abs[j] += std::fabs(dy[i]);
    }
  return g;
}

// Every element within atol + rtol |ref| + extra[i] (extra empty: none); a NaN fails.
::testing::AssertionResult agrees(const FVec& out, const std::vector<double>& ref,
                                  const std::vector<double>& extra = {}) {
  std::size_t bad = 0, first = 0;
  double worst = 0.0;  // max |err| / tol
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(out[i]) - ref[i]);
    const double tol = kAtol + kRtol * std::fabs(ref[i]) + (extra.empty() ? 0.0 : extra[i]);
    if (!(err <= tol) && bad++ == 0) first = i;  // NaN out: !(NaN <= tol)
    if (std::isfinite(err)) worst = std::max(worst, err / tol);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << ref.size() << " elements out of tolerance; first at " << first
         << ": out " << out[first] << " ref " << ref[first] << " (worst finite err/tol " << worst
         << ")";
}

// The float32 sum bound for a column sum of `rows` terms whose |terms| add up to abs[j].
std::vector<double> sum_bound(const std::vector<double>& abs, i64 rows) {
  std::vector<double> b(abs.size());
  for (std::size_t j = 0; j < abs.size(); ++j)
    b[j] = std::sqrt(static_cast<double>(rows)) * kUnitRoundoff * abs[j];
  return b;
}

struct Out {
  FVec dx, dgamma, dbeta;
};

Out poisoned(const Case& c) {
  return {FVec(static_cast<std::size_t>(c.rows * c.cols), kNaN),
          FVec(static_cast<std::size_t>(c.cols), kNaN),
          FVec(static_cast<std::size_t>(c.cols), kNaN)};
}

Out run(const Impl& impl, const Case& c, bool layer) {
  Out o = poisoned(c);
  if (layer) {
    impl.layernorm_backward(c.dy.data(), c.x.data(), c.gamma.data(), c.mean.data(), c.rstd.data(),
                            o.dx.data(), o.dgamma.data(), o.dbeta.data(), c.rows, c.cols);
  } else {
    impl.rmsnorm_backward(c.dy.data(), c.x.data(), c.gamma.data(), c.rms_rstd.data(), o.dx.data(),
                          o.dgamma.data(), c.rows, c.cols);
  }
  return o;
}

std::string label(const Impl& impl, const Case& c, bool layer) {
  std::ostringstream s;
  s << impl.name << (layer ? " layernorm_backward " : " rmsnorm_backward ") << c.rows << "x"
    << c.cols << " " << dist_name(c.dist);
  return s.str();
}

// Both implementations on one case, against the reference.
void check_case(const Case& c, bool layer) {
  const Grads ref = reference(c, layer);
  for (const Impl& impl : kImpls) {
    SCOPED_TRACE(label(impl, c, layer));
    const Out o = run(impl, c, layer);
    EXPECT_TRUE(agrees(o.dx, ref.dx)) << "dx";
    EXPECT_TRUE(agrees(o.dgamma, ref.dgamma, sum_bound(ref.dgamma_abs, c.rows))) << "dgamma";
    if (layer) {
      EXPECT_TRUE(agrees(o.dbeta, ref.dbeta, sum_bound(ref.dbeta_abs, c.rows))) << "dbeta";
    }
  }
}

const i64 kRowsList[] = {1, 3, 64, 257};
const i64 kColsList[] = {1, 7, 33, 4096, 4097};

void check_all_shapes(bool layer) {
  std::uint32_t seed = 20240918u;
  for (i64 rows : kRowsList)
    for (i64 cols : kColsList)
      for (Dist d : kDists) check_case(make_case(rows, cols, d, seed++), layer);
}

// ---- tests ----------------------------------------------------------------------------------

TEST(CpuNormBackward, LayernormMatchesReference) {
  check_all_shapes(true);
}

TEST(CpuNormBackward, RmsnormMatchesReference) {
  check_all_shapes(false);
}

// rstd = 1 / sqrt(eps) amplifies every rounding of g = dy * gamma by 316: the gradients must
// stay finite and agree (xhat is exactly 0 on a constant row, dx = rstd * (g - mean(g))).
TEST(CpuNormBackward, ConstantRowsHaveHugeRstdAndStayFinite) {
  const Case c = make_case(64, 4097, Dist::constant_rows, 7u);
  ASSERT_NEAR(c.rstd[0], 1.0 / std::sqrt(kEps), 1e-3);
  ASSERT_NEAR(c.rms_rstd[0], 1.0 / std::sqrt(kEps), 1e-3);  // row 0 is zero
  for (bool layer : {true, false}) {
    for (const Impl& impl : kImpls) {
      SCOPED_TRACE(label(impl, c, layer));
      const Out o = run(impl, c, layer);
      EXPECT_TRUE(std::all_of(o.dx.begin(), o.dx.end(), [](float v) { return std::isfinite(v); }));
      EXPECT_TRUE(agrees(o.dx, reference(c, layer).dx));
    }
  }
}

// Outputs of 16 MiB and more take the fast kernel's streaming stores and software prefetches,
// with 64-byte aligned rows (4096 columns) and misaligned ones (4100).
TEST(CpuNormBackward, LargeOutputs) {
  std::uint32_t seed = 99u;
  for (i64 cols : {i64{4096}, i64{4100}})
    for (bool layer : {true, false}) check_case(make_case(1030, cols, Dist::normal, seed++), layer);
}

// For a fixed thread count the fast kernel's result is bitwise the same on every run: rows are
// split statically and the column partials are reduced in thread order, no atomics.
TEST(CpuNormBackward, FastIsDeterministic) {
  const Impl& fast = kImpls[1];
  for (i64 rows : {i64{257}, i64{1030}}) {
    const Case c = make_case(rows, 4097, Dist::normal, static_cast<std::uint32_t>(rows));
    for (bool layer : {true, false}) {
      SCOPED_TRACE(label(fast, c, layer));
      const Out a = run(fast, c, layer), b = run(fast, c, layer);
      const auto same = [](const FVec& u, const FVec& v) {
        return std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
      };
      EXPECT_TRUE(same(a.dx, b.dx));
      EXPECT_TRUE(same(a.dgamma, b.dgamma));
      if (layer) {
        EXPECT_TRUE(same(a.dbeta, b.dbeta));
      }
    }
  }
}

// The fast kernel at 1, 2 and 3 threads (3: rows not split evenly, a thread with a partial
// block) agrees with the reference at each.
TEST(CpuNormBackward, FastAgreesAtAnyThreadCount) {
  const int saved = omp_get_max_threads();
  const Case c = make_case(257, 4097, Dist::normal, 5u);
  const Grads ref = reference(c, true);
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    SCOPED_TRACE(std::to_string(threads) + " threads");
    const Out o = run(kImpls[1], c, true);
    EXPECT_TRUE(agrees(o.dx, ref.dx));
    EXPECT_TRUE(agrees(o.dgamma, ref.dgamma, sum_bound(ref.dgamma_abs, c.rows)));
    EXPECT_TRUE(agrees(o.dbeta, ref.dbeta, sum_bound(ref.dbeta_abs, c.rows)));
  }
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace opbench
