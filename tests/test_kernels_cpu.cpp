// Tests of the CPU kernels (kernels/cpu/): cpu.plain and cpu.fast against the float64 reference
// (reference/norm.hpp) for all thirteen normalization ops, at edge shapes (1, 3, 17, 4095, 4097
// columns; 1 and hundreds of rows; odd n, c, hw), on seeded inputs from the distributions that
// break naive kernels (normal, uniform, a 1e4 common offset, outlier columns x80, constant rows).
// Outputs are poisoned with NaN before each kernel runs, so an element the kernel does not write
// fails. Agreement: |out - ref| <= 1e-5 + 1e-4 |ref|, NaN where the reference is NaN.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/norm_fast.hpp"
#include "kernels/cpu/norm_plain.hpp"
#include "reference/norm.hpp"
#include "tests/aligned_vector.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-4;
constexpr float kEps = 1e-5f;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- the implementations under test ---------------------------------------------------------

struct Impl {
  const char* name;
  decltype(&cpu::plain::layernorm<float>) layernorm;
  decltype(&cpu::plain::rmsnorm<float>) rmsnorm;
  decltype(&cpu::plain::crmsnorm<float>) crmsnorm;
  decltype(&cpu::plain::dyt<float>) dyt;
  decltype(&cpu::plain::batchnorm_infer<float>) batchnorm_infer;
  decltype(&cpu::plain::batchnorm_train<float>) batchnorm_train;
  decltype(&cpu::plain::groupnorm<float>) groupnorm;
  decltype(&cpu::plain::evonorm_s0<float>) evonorm_s0;
  decltype(&cpu::plain::evonorm_b0<float>) evonorm_b0;
  decltype(&cpu::plain::online_norm<float>) online_norm;
  decltype(&cpu::plain::weight_std<float>) weight_std;
  decltype(&cpu::plain::add_layernorm<float>) add_layernorm;
  decltype(&cpu::plain::add_rmsnorm<float>) add_rmsnorm;
};

#define OPBENCH_IMPL(label, ns)                                                                   \
  Impl {                                                                                          \
    label, &ns::layernorm, &ns::rmsnorm, &ns::crmsnorm, &ns::dyt, &ns::batchnorm_infer,           \
        &ns::batchnorm_train, &ns::groupnorm, &ns::evonorm_s0, &ns::evonorm_b0, &ns::online_norm, \
        &ns::weight_std, &ns::add_layernorm, &ns::add_rmsnorm                                     \
  }

const Impl kImpls[] = {OPBENCH_IMPL("plain", cpu::plain), OPBENCH_IMPL("fast", cpu::fast)};

// ---- inputs ---------------------------------------------------------------------------------

using test_support::FVec;  // 64-byte aligned, as the harness allocates tensors

enum class Dist { normal, uniform, offset, outliers, constant_rows };
const Dist kDists[] = {Dist::normal, Dist::uniform, Dist::offset, Dist::outliers,
                       Dist::constant_rows};

const char* dist_name(Dist d) {
  switch (d) {
    case Dist::normal:
      return "normal";
    case Dist::uniform:
      return "uniform";
    case Dist::offset:
      return "offset";
    case Dist::outliers:
      return "outliers";
    case Dist::constant_rows:
      return "constant_rows";
  }
  return "?";
}

// Seeded generator: mt19937 and Box-Muller (both values of each pair used).
class Rng {
 public:
  explicit Rng(std::uint32_t seed) : gen_(seed) {}
  double uniform() { return (gen_() + 0.5) * (1.0 / 4294967296.0); }  // (0, 1)
  double normal() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), t = 6.283185307179586 * uniform();
    spare_ = r * std::sin(t);
    have_spare_ = true;
    return r * std::cos(t);
  }
  std::uint32_t below(std::uint32_t n) { return gen_() % n; }

 private:
  std::mt19937 gen_;
  double spare_ = 0.0;
  bool have_spare_ = false;
};

// rows x cols values (the last dimension is `cols`): normal; uniform in [-1, 1); 1e4 + normal;
// normal with max(1, cols/128) columns (column 0 among them) scaled by 80; one normal value per
// row.
FVec make_input(i64 rows, i64 cols, Dist dist, std::uint32_t seed) {
  Rng rng(seed);
  FVec v(static_cast<std::size_t>(rows * cols));
  std::vector<char> outlier(static_cast<std::size_t>(cols), 0);
  if (dist == Dist::outliers) {
    for (i64 k = 0; k < std::max<i64>(1, cols / 128); ++k)
      outlier[rng.below(static_cast<std::uint32_t>(cols))] = 1;
    outlier[0] = 1;  // the first element is the natural shift: make it an outlier too
  }
  for (i64 r = 0; r < rows; ++r) {
    const double row_value = rng.normal();
    float* out = v.data() + r * cols;
    for (i64 j = 0; j < cols; ++j) {
      double value = 0.0;
      switch (dist) {
        case Dist::normal:
          value = rng.normal();
          break;
        case Dist::uniform:
          value = 2.0 * rng.uniform() - 1.0;
          break;
        case Dist::offset:
          value = 1e4 + rng.normal();
          break;
        case Dist::outliers:
          value = rng.normal() * (outlier[j] ? 80.0 : 1.0);
          break;
        case Dist::constant_rows:
          value = row_value;
          break;
      }
      out[j] = static_cast<float>(value);
    }
  }
  return v;
}

// Per-column parameters: center + spread * normal.
FVec make_param(i64 n, double center, double spread, std::uint32_t seed) {
  Rng rng(seed);
  FVec v(static_cast<std::size_t>(n));
  for (auto& e : v) e = static_cast<float>(center + spread * rng.normal());
  return v;
}

std::vector<double> to_double(const FVec& v) {
  return {v.begin(), v.end()};
}

FVec poisoned(std::size_t n) {
  return FVec(n, kNaN);
}

// Every element within |out - ref| <= atol + rtol |ref|; NaN exactly where the reference is NaN.
::testing::AssertionResult agrees(const float* out, const std::vector<double>& ref) {
  std::size_t bad = 0, first = 0;
  double max_err = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double o = out[i], r = ref[i];
    bool ok;
    if (std::isnan(r)) {
      ok = std::isnan(o);
    } else if (std::isinf(r)) {
      ok = o == r;
    } else {
      const double err = std::fabs(o - r);
      ok = err <= kAtol + kRtol * std::fabs(r);  // false for NaN out
      if (std::isfinite(err)) max_err = std::max(max_err, err);
    }
    if (!ok && bad++ == 0) first = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << ref.size() << " elements out of tolerance; first at " << first
         << ": out " << out[first] << " ref " << ref[first] << " (max finite abs error " << max_err
         << ")";
}

::testing::AssertionResult agrees(const FVec& out, const std::vector<double>& ref) {
  if (out.size() != ref.size())
    return ::testing::AssertionFailure() << "size " << out.size() << " vs " << ref.size();
  return agrees(out.data(), ref);
}

std::string label(const Impl& impl, i64 a, i64 b, Dist d) {
  std::ostringstream s;
  s << impl.name << " " << a << "x" << b << " " << dist_name(d);
  return s.str();
}

// ---- shapes ---------------------------------------------------------------------------------

const i64 kCols[] = {1, 3, 17, 4095, 4097};
const i64 kRows[] = {1, 257};
// Ops with two inputs or two settings: fewer rows, the same columns.
const i64 kRowsLight[] = {1, 131};

struct Nchw {
  i64 n, c, hw, groups;
};
// n, c, hw small and odd; groups dividing c; one larger case to cross the parallel threshold.
const Nchw kNchw[] = {{1, 1, 1, 1},   {1, 3, 5, 3},   {3, 6, 7, 3},    {2, 4, 1, 2},
                      {5, 12, 17, 4}, {2, 8, 300, 2}, {4, 6, 4097, 3}, {7, 5, 33, 5}};

// Every test draws its inputs once per case and checks both implementations on them.
class CpuKernels : public ::testing::Test {
 protected:
  std::uint32_t next_seed() { return seed_++; }

 private:
  std::uint32_t seed_ = 20240601u;
};

// ---- row-wise ops ---------------------------------------------------------------------------

TEST_F(CpuKernels, Layernorm) {
  for (i64 rows : kRows)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto x = make_input(rows, cols, d, next_seed());
        const auto g = make_param(cols, 1.0, 0.2, next_seed());
        const auto b = make_param(cols, 0.0, 0.2, next_seed());
        std::vector<double> ref(x.size());
        ref::layernorm(to_double(x).data(), to_double(g).data(), to_double(b).data(), ref.data(),
                       rows, cols, kEps);
        for (const Impl& impl : kImpls) {
          auto y = poisoned(x.size());
          impl.layernorm(x.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
          EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d);
        }
      }
}

TEST_F(CpuKernels, Rmsnorm) {
  for (i64 rows : kRows)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto x = make_input(rows, cols, d, next_seed());
        const auto g = make_param(cols, 1.0, 0.2, next_seed());
        std::vector<double> ref(x.size());
        ref::rmsnorm(to_double(x).data(), to_double(g).data(), ref.data(), rows, cols, kEps);
        for (const Impl& impl : kImpls) {
          auto y = poisoned(x.size());
          impl.rmsnorm(x.data(), g.data(), y.data(), rows, cols, kEps);
          EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d);
        }
      }
}

TEST_F(CpuKernels, Crmsnorm) {
  for (i64 rows : kRows)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto x = make_input(rows, cols, d, next_seed());
        const auto g = make_param(cols, 1.0, 0.2, next_seed());
        std::vector<double> ref(x.size());
        ref::crmsnorm(to_double(x).data(), to_double(g).data(), ref.data(), rows, cols, kEps);
        for (const Impl& impl : kImpls) {
          auto y = poisoned(x.size());
          impl.crmsnorm(x.data(), g.data(), y.data(), rows, cols, kEps);
          EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d);
        }
      }
}

TEST_F(CpuKernels, Dyt) {
  for (float alpha : {0.5f, 3.0f})
    for (i64 rows : kRowsLight)
      for (i64 cols : kCols)
        for (Dist d : kDists) {
          const auto x = make_input(rows, cols, d, next_seed());
          const auto g = make_param(cols, 1.0, 0.2, next_seed());
          const auto b = make_param(cols, 0.0, 0.2, next_seed());
          std::vector<double> ref(x.size());
          ref::dyt(to_double(x).data(), alpha, to_double(g).data(), to_double(b).data(), ref.data(),
                   rows, cols);
          for (const Impl& impl : kImpls) {
            auto y = poisoned(x.size());
            impl.dyt(x.data(), alpha, g.data(), b.data(), y.data(), rows, cols);
            EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d) << " alpha " << alpha;
          }
        }
}

// A NaN in x is NaN in y, as in the reference (tanh(NaN) = NaN): the vector tanh's clamp once
// turned it into -1 (y = beta - gamma, finite and wrong). Outputs are poisoned with a finite
// sentinel here, so a NaN in y is one the kernel wrote.
TEST_F(CpuKernels, DytKeepsNaN) {
  const i64 rows = 5, cols = 67;
  auto x = make_input(rows, cols, kDists[0], next_seed());
  for (i64 r = 0; r < rows; ++r) x[r * cols + (r * 13) % cols] = kNaN;  // heads, bodies, tails
  x[cols - 1] = kNaN;
  const auto g = make_param(cols, 1.0, 0.2, next_seed());
  const auto b = make_param(cols, 0.0, 0.2, next_seed());
  std::vector<double> ref(x.size());
  ref::dyt(to_double(x).data(), 0.5, to_double(g).data(), to_double(b).data(), ref.data(), rows,
           cols);
  for (const Impl& impl : kImpls) {
    FVec y(x.size(), 12345.0f);
    impl.dyt(x.data(), 0.5f, g.data(), b.data(), y.data(), rows, cols);
    for (std::size_t i = 0; i < y.size(); ++i) {
      ASSERT_EQ(std::isnan(y[i]), std::isnan(ref[i])) << impl.name << " element " << i;
      if (!std::isnan(ref[i])) ASSERT_NEAR(y[i], ref[i], 1e-5 * (1 + std::abs(ref[i])));
    }
  }
}

TEST_F(CpuKernels, BatchnormInfer) {
  for (i64 rows : kRows)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto x = make_input(rows, cols, d, next_seed());
        // Running statistics near the data's: mean 1e4 for the offset inputs.
        const auto rm = make_param(cols, d == Dist::offset ? 1e4 : 0.0, 0.3, next_seed());
        auto rv = make_param(cols, 1.0, 0.3, next_seed());
        for (auto& v : rv) v = std::fabs(v) + 0.05f;
        const auto g = make_param(cols, 1.0, 0.2, next_seed());
        const auto b = make_param(cols, 0.0, 0.2, next_seed());
        std::vector<double> ref(x.size());
        ref::batchnorm_infer(to_double(x).data(), to_double(rm).data(), to_double(rv).data(),
                             to_double(g).data(), to_double(b).data(), ref.data(), rows, cols,
                             kEps);
        for (const Impl& impl : kImpls) {
          auto y = poisoned(x.size());
          impl.batchnorm_infer(x.data(), rm.data(), rv.data(), g.data(), b.data(), y.data(), rows,
                               cols, kEps);
          EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d);
        }
      }
}

TEST_F(CpuKernels, BatchnormTrain) {
  // Statistics run down the columns: also tall shapes with few columns.
  const std::pair<i64, i64> shapes[] = {{1, 1},    {1, 17},   {2, 3},      {300, 1},  {300, 3},
                                        {300, 17}, {5, 4095}, {300, 4097}, {5000, 3}, {257, 64}};
  for (auto [rows, cols] : shapes)
    for (Dist d : kDists) {
      const auto x = make_input(rows, cols, d, next_seed());
      const auto g = make_param(cols, 1.0, 0.2, next_seed());
      const auto b = make_param(cols, 0.0, 0.2, next_seed());
      std::vector<double> ref(x.size());
      ref::batchnorm_train(to_double(x).data(), to_double(g).data(), to_double(b).data(),
                           ref.data(), rows, cols, kEps);
      for (const Impl& impl : kImpls) {
        auto y = poisoned(x.size());
        impl.batchnorm_train(x.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
        EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d);
      }
    }
}

TEST_F(CpuKernels, WeightStd) {
  for (i64 rows : kRows)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto w = make_input(rows, cols, d, next_seed());
        std::vector<double> ref(w.size());
        ref::weight_std(to_double(w).data(), ref.data(), rows, cols, kEps);
        for (const Impl& impl : kImpls) {
          auto y = poisoned(w.size());
          impl.weight_std(w.data(), y.data(), rows, cols, kEps);
          EXPECT_TRUE(agrees(y, ref)) << label(impl, rows, cols, d);
        }
      }
}

TEST_F(CpuKernels, AddLayernorm) {
  for (i64 rows : kRowsLight)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto x = make_input(rows, cols, d, next_seed());
        const auto res = make_input(rows, cols, d, next_seed());
        const auto g = make_param(cols, 1.0, 0.2, next_seed());
        const auto b = make_param(cols, 0.0, 0.2, next_seed());
        std::vector<double> ref_sum(x.size()), ref(x.size());
        ref::add_layernorm(to_double(x).data(), to_double(res).data(), to_double(g).data(),
                           to_double(b).data(), ref_sum.data(), ref.data(), rows, cols, kEps);
        for (const Impl& impl : kImpls) {
          auto sum = poisoned(x.size());
          auto y = poisoned(x.size());
          impl.add_layernorm(x.data(), res.data(), g.data(), b.data(), sum.data(), y.data(), rows,
                             cols, kEps);
          EXPECT_TRUE(agrees(sum, ref_sum)) << "sum " << label(impl, rows, cols, d);
          EXPECT_TRUE(agrees(y, ref)) << "y " << label(impl, rows, cols, d);
        }
      }
}

TEST_F(CpuKernels, AddRmsnorm) {
  for (i64 rows : kRowsLight)
    for (i64 cols : kCols)
      for (Dist d : kDists) {
        const auto x = make_input(rows, cols, d, next_seed());
        const auto res = make_input(rows, cols, d, next_seed());
        const auto g = make_param(cols, 1.0, 0.2, next_seed());
        std::vector<double> ref_sum(x.size()), ref(x.size());
        ref::add_rmsnorm(to_double(x).data(), to_double(res).data(), to_double(g).data(),
                         ref_sum.data(), ref.data(), rows, cols, kEps);
        for (const Impl& impl : kImpls) {
          auto sum = poisoned(x.size());
          auto y = poisoned(x.size());
          impl.add_rmsnorm(x.data(), res.data(), g.data(), sum.data(), y.data(), rows, cols, kEps);
          EXPECT_TRUE(agrees(sum, ref_sum)) << "sum " << label(impl, rows, cols, d);
          EXPECT_TRUE(agrees(y, ref)) << "y " << label(impl, rows, cols, d);
        }
      }
}

// ---- grouped ops over x[n, c, hw] -----------------------------------------------------------

TEST_F(CpuKernels, Groupnorm) {
  for (const Nchw& s : kNchw)
    for (Dist d : kDists) {
      const auto x = make_input(s.n * s.c, s.hw, d, next_seed());
      const auto g = make_param(s.c, 1.0, 0.2, next_seed());
      const auto b = make_param(s.c, 0.0, 0.2, next_seed());
      std::vector<double> ref(x.size());
      ref::groupnorm(to_double(x).data(), to_double(g).data(), to_double(b).data(), ref.data(), s.n,
                     s.c, s.hw, s.groups, kEps);
      for (const Impl& impl : kImpls) {
        auto y = poisoned(x.size());
        impl.groupnorm(x.data(), g.data(), b.data(), y.data(), s.n, s.c, s.hw, s.groups, kEps);
        EXPECT_TRUE(agrees(y, ref)) << label(impl, s.n * s.c, s.hw, d) << " groups " << s.groups;
      }
    }
}

TEST_F(CpuKernels, EvonormS0) {
  for (const Nchw& s : kNchw)
    for (Dist d : kDists) {
      const auto x = make_input(s.n * s.c, s.hw, d, next_seed());
      const auto v = make_param(s.c, 1.0, 0.5, next_seed());
      const auto g = make_param(s.c, 1.0, 0.2, next_seed());
      const auto b = make_param(s.c, 0.0, 0.2, next_seed());
      std::vector<double> ref(x.size());
      ref::evonorm_s0(to_double(x).data(), to_double(v).data(), to_double(g).data(),
                      to_double(b).data(), ref.data(), s.n, s.c, s.hw, s.groups, kEps);
      for (const Impl& impl : kImpls) {
        auto y = poisoned(x.size());
        impl.evonorm_s0(x.data(), v.data(), g.data(), b.data(), y.data(), s.n, s.c, s.hw, s.groups,
                        kEps);
        EXPECT_TRUE(agrees(y, ref)) << label(impl, s.n * s.c, s.hw, d) << " groups " << s.groups;
      }
    }
}

TEST_F(CpuKernels, EvonormB0) {
  for (const Nchw& s : kNchw)
    for (Dist d : kDists) {
      const auto x = make_input(s.n * s.c, s.hw, d, next_seed());
      const auto v = make_param(s.c, 0.5, 0.5, next_seed());
      const auto g = make_param(s.c, 1.0, 0.2, next_seed());
      const auto b = make_param(s.c, 0.0, 0.2, next_seed());
      std::vector<double> ref(x.size());
      ref::evonorm_b0(to_double(x).data(), to_double(v).data(), to_double(g).data(),
                      to_double(b).data(), ref.data(), s.n, s.c, s.hw, kEps);
      for (const Impl& impl : kImpls) {
        auto y = poisoned(x.size());
        impl.evonorm_b0(x.data(), v.data(), g.data(), b.data(), y.data(), s.n, s.c, s.hw, kEps);
        EXPECT_TRUE(agrees(y, ref)) << label(impl, s.n * s.c, s.hw, d);
      }
    }
}

TEST_F(CpuKernels, OnlineNorm) {
  const Nchw shapes[] = {{1, 1, 1, 1},   {3, 5, 7, 1},   {7, 3, 1, 1},
                         {2, 4, 300, 1}, {16, 6, 17, 1}, {4, 3, 4097, 1}};
  for (float alpha : {0.9f, 0.999f})
    for (const Nchw& s : shapes)
      for (Dist d : kDists) {
        const auto x = make_input(s.n * s.c, s.hw, d, next_seed());
        const auto mu0 = make_param(s.c, d == Dist::offset ? 1e4 : 0.0, 0.3, next_seed());
        auto var0 = make_param(s.c, 1.0, 0.3, next_seed());
        for (auto& v : var0) v = std::fabs(v) + 0.05f;
        const auto g = make_param(s.c, 1.0, 0.2, next_seed());
        const auto b = make_param(s.c, 0.0, 0.2, next_seed());
        std::vector<double> ref(x.size());
        ref::online_norm(to_double(x).data(), to_double(mu0).data(), to_double(var0).data(),
                         to_double(g).data(), to_double(b).data(), ref.data(), s.n, s.c, s.hw,
                         alpha, kEps);
        for (const Impl& impl : kImpls) {
          auto y = poisoned(x.size());
          impl.online_norm(x.data(), mu0.data(), var0.data(), g.data(), b.data(), y.data(), s.n,
                           s.c, s.hw, alpha, kEps);
          EXPECT_TRUE(agrees(y, ref)) << label(impl, s.n * s.c, s.hw, d) << " alpha " << alpha;
        }
      }
}

// ---- special cases --------------------------------------------------------------------------

// A constant row has zero deviations: the output is beta, bit for bit, even with a large offset.
TEST_F(CpuKernels, LayernormConstantRowsGiveExactlyBeta) {
  for (i64 cols : kCols)
    for (float value : {0.0f, 0.1f, -3.75f, 10000.5f, 1e6f}) {
      const i64 rows = 37;
      FVec x(static_cast<std::size_t>(rows * cols));
      for (i64 r = 0; r < rows; ++r)
        for (i64 j = 0; j < cols; ++j) x[r * cols + j] = value + static_cast<float>(r);
      const auto g = make_param(cols, 1.0, 0.5, next_seed());
      const auto b = make_param(cols, 0.0, 1.0, next_seed());
      for (const Impl& impl : kImpls) {
        auto y = poisoned(x.size());
        impl.layernorm(x.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
        std::size_t bad = 0;
        for (i64 r = 0; r < rows; ++r)
          for (i64 j = 0; j < cols; ++j) bad += y[r * cols + j] != b[j];
        EXPECT_EQ(bad, 0u) << impl.name << " cols " << cols << " value " << value;
      }
    }
}

// Outputs large enough for the fast kernels' non-temporal stores (16 MiB and more), with rows
// that are not 64-byte aligned (4097 columns) and pointers that are not either.
TEST_F(CpuKernels, LargeAndMisalignedOutputs) {
  const i64 rows = 1030, cols = 4097;  // 16.9 MB of output
  const std::size_t n = static_cast<std::size_t>(rows * cols);
  const auto xs = make_input(rows, cols, Dist::normal, next_seed());
  const auto rs = make_input(rows, cols, Dist::normal, next_seed());
  const auto g = make_param(cols, 1.0, 0.2, next_seed());
  const auto b = make_param(cols, 0.0, 0.2, next_seed());
  const auto xd = to_double(xs), rd = to_double(rs), gd = to_double(g), bd = to_double(b);
  std::vector<double> ref_ln(n), ref_rms(n), ref_sum(n), ref_add(n), ref_dyt(n);
  ref::layernorm(xd.data(), gd.data(), bd.data(), ref_ln.data(), rows, cols, kEps);
  ref::rmsnorm(xd.data(), gd.data(), ref_rms.data(), rows, cols, kEps);
  ref::add_layernorm(xd.data(), rd.data(), gd.data(), bd.data(), ref_sum.data(), ref_add.data(),
                     rows, cols, kEps);
  ref::dyt(xd.data(), 0.7, gd.data(), bd.data(), ref_dyt.data(), rows, cols);
  FVec xbuf(n + 8), rbuf(n + 8), sbuf(n + 8), ybuf(n + 8);
  for (std::size_t shift : {0u, 3u}) {
    // x, residual and the outputs at different offsets from their 64-byte aligned allocations.
    std::copy(xs.begin(), xs.end(), xbuf.begin() + shift);
    std::copy(rs.begin(), rs.end(), rbuf.begin() + (shift + 2) % 5);
    const float* x = xbuf.data() + shift;
    const float* res = rbuf.data() + (shift + 2) % 5;
    float* sum = sbuf.data() + (shift * 2 + 1) % 7;
    float* y = ybuf.data() + shift;
    for (const Impl& impl : kImpls) {
      std::fill(ybuf.begin(), ybuf.end(), kNaN);
      impl.layernorm(x, g.data(), b.data(), y, rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_ln)) << impl.name << " layernorm shift " << shift;

      std::fill(ybuf.begin(), ybuf.end(), kNaN);
      impl.rmsnorm(x, g.data(), y, rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_rms)) << impl.name << " rmsnorm shift " << shift;

      std::fill(ybuf.begin(), ybuf.end(), kNaN);
      std::fill(sbuf.begin(), sbuf.end(), kNaN);
      impl.add_layernorm(x, res, g.data(), b.data(), sum, y, rows, cols, kEps);
      EXPECT_TRUE(agrees(sum, ref_sum)) << impl.name << " add sum shift " << shift;
      EXPECT_TRUE(agrees(y, ref_add)) << impl.name << " add_layernorm shift " << shift;

      std::fill(ybuf.begin(), ybuf.end(), kNaN);
      impl.dyt(x, 0.7f, g.data(), b.data(), y, rows, cols);
      EXPECT_TRUE(agrees(y, ref_dyt)) << impl.name << " dyt shift " << shift;
    }
  }
}

// Large aligned outputs (4096 columns, 64-byte aligned rows): the streaming paths of the other
// row-wise ops and of groupnorm.
TEST_F(CpuKernels, LargeAlignedOutputs) {
  const i64 rows = 1030, cols = 4096;  // 16.9 MB per output
  const std::size_t n = static_cast<std::size_t>(rows * cols);
  const auto x = make_input(rows, cols, Dist::offset, next_seed());
  const auto r = make_input(rows, cols, Dist::normal, next_seed());
  const auto g = make_param(cols, 1.0, 0.2, next_seed());
  const auto b = make_param(cols, 0.0, 0.2, next_seed());
  const auto rm = make_param(cols, 1e4, 0.3, next_seed());
  const auto rv = make_param(cols, 2.0, 0.3, next_seed());
  const auto xd = to_double(x), rd = to_double(r), gd = to_double(g), bd = to_double(b);
  std::vector<double> ref_ws(n), ref_crms(n), ref_bni(n), ref_bnt(n), ref_sum(n), ref_armsn(n);
  ref::weight_std(xd.data(), ref_ws.data(), rows, cols, kEps);
  ref::crmsnorm(rd.data(), gd.data(), ref_crms.data(), rows, cols, kEps);
  ref::batchnorm_infer(xd.data(), to_double(rm).data(), to_double(rv).data(), gd.data(), bd.data(),
                       ref_bni.data(), rows, cols, kEps);
  ref::batchnorm_train(xd.data(), gd.data(), bd.data(), ref_bnt.data(), rows, cols, kEps);
  ref::add_rmsnorm(xd.data(), rd.data(), gd.data(), ref_sum.data(), ref_armsn.data(), rows, cols,
                   kEps);
  // groupnorm with 16 MiB and more of output: n=4, c=8, hw=140003.
  const i64 gn = 4, gc = 8, ghw = 140003, groups = 4;
  const auto gx = make_input(gn * gc, ghw, Dist::offset, next_seed());
  const auto gg = make_param(gc, 1.0, 0.2, next_seed());
  const auto gb = make_param(gc, 0.0, 0.2, next_seed());
  std::vector<double> ref_gn(gx.size());
  ref::groupnorm(to_double(gx).data(), to_double(gg).data(), to_double(gb).data(), ref_gn.data(),
                 gn, gc, ghw, groups, kEps);

  FVec y(n), sum(n), gy(gx.size());
  for (const Impl& impl : kImpls) {
    std::fill(y.begin(), y.end(), kNaN);
    impl.weight_std(x.data(), y.data(), rows, cols, kEps);
    EXPECT_TRUE(agrees(y, ref_ws)) << impl.name << " weight_std";

    std::fill(y.begin(), y.end(), kNaN);
    impl.crmsnorm(r.data(), g.data(), y.data(), rows, cols, kEps);
    EXPECT_TRUE(agrees(y, ref_crms)) << impl.name << " crmsnorm";

    std::fill(y.begin(), y.end(), kNaN);
    impl.batchnorm_infer(x.data(), rm.data(), rv.data(), g.data(), b.data(), y.data(), rows, cols,
                         kEps);
    EXPECT_TRUE(agrees(y, ref_bni)) << impl.name << " batchnorm_infer";

    std::fill(y.begin(), y.end(), kNaN);
    impl.batchnorm_train(x.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
    EXPECT_TRUE(agrees(y, ref_bnt)) << impl.name << " batchnorm_train";

    std::fill(y.begin(), y.end(), kNaN);
    std::fill(sum.begin(), sum.end(), kNaN);
    impl.add_rmsnorm(x.data(), r.data(), g.data(), sum.data(), y.data(), rows, cols, kEps);
    EXPECT_TRUE(agrees(sum, ref_sum)) << impl.name << " add_rmsnorm sum";
    EXPECT_TRUE(agrees(y, ref_armsn)) << impl.name << " add_rmsnorm";

    std::fill(gy.begin(), gy.end(), kNaN);
    impl.groupnorm(gx.data(), gg.data(), gb.data(), gy.data(), gn, gc, ghw, groups, kEps);
    EXPECT_TRUE(agrees(gy, ref_gn)) << impl.name << " groupnorm";
  }
}

// Large aligned outputs take cpu.fast's pipelined path, where one loop reads row r + 1 for its
// statistics while it writes row r. Shapes: an odd row count (uneven thread ranges), and 3 rows of
// 2^21 columns (ranges of one row, many statistics chunks per row). Inputs: outliers (column 0 an
// outlier, so the shifted sums of the next row are recomputed two-pass), a 1e4 offset, constant
// rows; out of place into poisoned outputs, and in place.
TEST_F(CpuKernels, LargeAlignedRowsPipelined) {
  struct Shape {
    i64 rows, cols;
  };
  for (const Shape sh : {Shape{1031, 4096}, Shape{3, i64{1} << 21}}) {
    const i64 rows = sh.rows, cols = sh.cols;
    const std::size_t n = static_cast<std::size_t>(rows * cols);
    const auto g = make_param(cols, 1.0, 0.2, next_seed());
    const auto b = make_param(cols, 0.0, 0.2, next_seed());
    const auto r = make_input(rows, cols, Dist::normal, next_seed());
    const auto gd = to_double(g), bd = to_double(b), rd = to_double(r);
    for (Dist dist : {Dist::outliers, Dist::offset, Dist::constant_rows}) {
      const auto x = make_input(rows, cols, dist, next_seed());
      const auto xd = to_double(x);
      std::vector<double> ref_ln(n), ref_rms(n), ref_sum(n), ref_add(n);
      ref::layernorm(xd.data(), gd.data(), bd.data(), ref_ln.data(), rows, cols, kEps);
      ref::rmsnorm(xd.data(), gd.data(), ref_rms.data(), rows, cols, kEps);
      ref::add_layernorm(xd.data(), rd.data(), gd.data(), bd.data(), ref_sum.data(), ref_add.data(),
                         rows, cols, kEps);
      const std::string what = label(kImpls[1], rows, cols, dist);
      auto y = poisoned(n);
      cpu::fast::layernorm(x.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_ln)) << what << " layernorm";
      y = x;
      cpu::fast::layernorm(y.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_ln)) << what << " layernorm in place";
      std::fill(y.begin(), y.end(), kNaN);
      cpu::fast::rmsnorm(x.data(), g.data(), y.data(), rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_rms)) << what << " rmsnorm";
      auto sum = poisoned(n);
      std::fill(y.begin(), y.end(), kNaN);
      cpu::fast::add_layernorm(x.data(), r.data(), g.data(), b.data(), sum.data(), y.data(), rows,
                               cols, kEps);
      EXPECT_TRUE(agrees(sum, ref_sum)) << what << " add_layernorm sum";
      EXPECT_TRUE(agrees(y, ref_add)) << what << " add_layernorm";
      sum = x;
      std::fill(y.begin(), y.end(), kNaN);
      cpu::fast::add_layernorm(sum.data(), r.data(), g.data(), b.data(), sum.data(), y.data(), rows,
                               cols, kEps);
      EXPECT_TRUE(agrees(sum, ref_sum)) << what << " add_layernorm sum in place";
      EXPECT_TRUE(agrees(y, ref_add)) << what << " add_layernorm, sum in place";
    }
  }
}

// In place (y == x, or sum == x): every statistic is read before its output is written.
TEST_F(CpuKernels, InPlace) {
  for (i64 cols : {3, 4096, 4097}) {
    const i64 rows = 33;
    const auto x = make_input(rows, cols, Dist::offset, next_seed());
    const auto r = make_input(rows, cols, Dist::normal, next_seed());
    const auto g = make_param(cols, 1.0, 0.2, next_seed());
    const auto b = make_param(cols, 0.0, 0.2, next_seed());
    const auto xd = to_double(x), rd = to_double(r), gd = to_double(g), bd = to_double(b);
    std::vector<double> ref_ln(x.size()), ref_rms(x.size()), ref_sum(x.size()), ref_add(x.size()),
        ref_addrms(x.size());
    ref::layernorm(xd.data(), gd.data(), bd.data(), ref_ln.data(), rows, cols, kEps);
    ref::rmsnorm(xd.data(), gd.data(), ref_rms.data(), rows, cols, kEps);
    ref::add_layernorm(xd.data(), rd.data(), gd.data(), bd.data(), ref_sum.data(), ref_add.data(),
                       rows, cols, kEps);
    ref::add_rmsnorm(xd.data(), rd.data(), gd.data(), ref_sum.data(), ref_addrms.data(), rows, cols,
                     kEps);
    for (const Impl& impl : kImpls) {
      auto y = x;
      impl.layernorm(y.data(), g.data(), b.data(), y.data(), rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_ln)) << impl.name << " layernorm in place, cols " << cols;

      y = x;
      impl.rmsnorm(y.data(), g.data(), y.data(), rows, cols, kEps);
      EXPECT_TRUE(agrees(y, ref_rms)) << impl.name << " rmsnorm in place, cols " << cols;

      auto s = x;
      auto out = poisoned(x.size());
      impl.add_layernorm(s.data(), r.data(), g.data(), b.data(), s.data(), out.data(), rows, cols,
                         kEps);
      EXPECT_TRUE(agrees(s, ref_sum)) << impl.name << " add_layernorm sum in place " << cols;
      EXPECT_TRUE(agrees(out, ref_add)) << impl.name << " add_layernorm y, sum in place " << cols;

      s = x;
      std::fill(out.begin(), out.end(), kNaN);
      impl.add_rmsnorm(s.data(), r.data(), g.data(), s.data(), out.data(), rows, cols, kEps);
      EXPECT_TRUE(agrees(s, ref_sum)) << impl.name << " add_rmsnorm sum in place " << cols;
      EXPECT_TRUE(agrees(out, ref_addrms)) << impl.name << " add_rmsnorm y, sum in place " << cols;
    }
  }
  // online_norm and groupnorm over x[n, c, hw] in place.
  const i64 n = 6, c = 4, hw = 301;
  const auto x = make_input(n * c, hw, Dist::offset, next_seed());
  const auto mu0 = make_param(c, 1e4, 0.3, next_seed());
  const auto var0 = make_param(c, 2.0, 0.3, next_seed());
  const auto g = make_param(c, 1.0, 0.2, next_seed());
  const auto b = make_param(c, 0.0, 0.2, next_seed());
  std::vector<double> ref_on(x.size()), ref_gn(x.size());
  ref::online_norm(to_double(x).data(), to_double(mu0).data(), to_double(var0).data(),
                   to_double(g).data(), to_double(b).data(), ref_on.data(), n, c, hw, 0.9, kEps);
  ref::groupnorm(to_double(x).data(), to_double(g).data(), to_double(b).data(), ref_gn.data(), n, c,
                 hw, 2, kEps);
  for (const Impl& impl : kImpls) {
    auto y = x;
    impl.online_norm(y.data(), mu0.data(), var0.data(), g.data(), b.data(), y.data(), n, c, hw,
                     0.9f, kEps);
    EXPECT_TRUE(agrees(y, ref_on)) << impl.name << " online_norm in place";
    y = x;
    impl.groupnorm(y.data(), g.data(), b.data(), y.data(), n, c, hw, 2, kEps);
    EXPECT_TRUE(agrees(y, ref_gn)) << impl.name << " groupnorm in place";
  }
}

// fast and plain agree with each other too (a second opinion when the reference changes).
TEST(CpuKernelsCrossCheck, FastMatchesPlainOnLayernorm) {
  const i64 rows = 64, cols = 4096;
  const auto x = make_input(rows, cols, Dist::outliers, 7);
  const auto g = make_param(cols, 1.0, 0.2, 8);
  const auto b = make_param(cols, 0.0, 0.2, 9);
  auto yp = poisoned(x.size());
  auto yf = poisoned(x.size());
  cpu::plain::layernorm(x.data(), g.data(), b.data(), yp.data(), rows, cols, kEps);
  cpu::fast::layernorm(x.data(), g.data(), b.data(), yf.data(), rows, cols, kEps);
  EXPECT_TRUE(agrees(yf, to_double(yp)));
}

}  // namespace
}  // namespace opbench
