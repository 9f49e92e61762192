// Tests of SimpleRMSNorm and DeepNorm: the float64 references
// (reference/norm_srmsnorm_deepnorm.hpp) against values computed by hand and identities with other
// operations; cpu.plain and cpu.fast (kernels/cpu/norm_srmsnorm_deepnorm.hpp) in float32, bfloat16
// and binary16 against those references on the inputs rounded to the dtype; the per-row arithmetic
// of cuda.fast (kernels/cuda/norm_srmsnorm_deepnorm_cuda.hpp, OPBENCH_HD functions) on the host in
// the kernels' launch structure; and, where a CUDA device is present, cuda.fast itself.
//
// Outputs start as NaN (or a NaN pattern of the dtype), so that an element an implementation
// forgets to write fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/distributions.hpp"
#include "harness/device.hpp"
#include "harness/half.hpp"
#include "harness/op.hpp"
#include "harness/runner.hpp"
#include "harness/tensor.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm.hpp"
#include "kernels/cuda/norm_srmsnorm_deepnorm_cuda.hpp"
#include "reference/norm.hpp"
#include "reference/norm_srmsnorm_deepnorm.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/aligned_vector.hpp"
#include "tests/check_support.hpp"
#include "tests/reference_test_support.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;
using test_support::kNaN;
using test_support::Vec;
constexpr double kEps = 1e-5;  // DeepNorm's LayerNorm eps, as the suite's

using test_support::expect_all_near;
using test_support::poisoned;
using test_support::seeded;

// ---- SimpleRMSNorm reference --------------------------------------------------------------------

TEST(RefSrmsnorm, HandComputedEpsOutsideTheRoot) {
  // Row {3, 4, 0, 0}: ||x|| = 5, d = 4, RMS = 5 / 2 = 2.5; eps = 1.5 added to it gives 4, so
  // y = x / 4. (Inside the root it would be sqrt(6.25 + 1.5) = 2.78.) Row {1, -1, 1, -1}: RMS 1,
  // eps 1.5: y = x / 2.5.
  const Vec x = {3, 4, 0, 0, 1, -1, 1, -1};
  Vec y = poisoned(8);
  ref::srmsnorm(x.data(), y.data(), 2, 4, 1.5);
  expect_all_near(y, {0.75, 1.0, 0.0, 0.0, 0.4, -0.4, 0.4, -0.4}, 1e-15);
}

TEST(RefSrmsnorm, OutputHasUnitRms) {
  // Without eps every row's RMS is exactly 1; with the authors' 1e-8 it is RMS / (RMS + 1e-8).
  const i64 rows = 5, cols = 37;
  Vec x = seeded(rows * cols, 11, -3.0, 3.0);
  for (i64 j = 0; j < cols; ++j) x[2 * cols + j] *= 1e-3;  // a small row: eps matters more
  for (const double eps : {0.0, ref::kSrmsnormEps}) {
    Vec y = poisoned(x.size());
    ref::srmsnorm(x.data(), y.data(), rows, cols, eps);
    for (i64 r = 0; r < rows; ++r) {
      double ssx = 0.0, ssy = 0.0;
      for (i64 j = 0; j < cols; ++j) {
        ssx += x[r * cols + j] * x[r * cols + j];
        ssy += y[r * cols + j] * y[r * cols + j];
      }
      const double rms_x = std::sqrt(ssx / cols), rms_y = std::sqrt(ssy / cols);
      EXPECT_NEAR(rms_y, rms_x / (rms_x + eps), 1e-14) << "row " << r << " eps " << eps;
    }
  }
}

TEST(RefSrmsnorm, ZeroRowGivesZeroWithEpsAndNaNWithout) {
  // Row 0 zero, row 1 not: 0 / (0 + eps) = 0; eps = 0 leaves 0 / 0, NaN, as documented.
  const Vec x = {0, 0, 0, 2, -2, 2};
  Vec y = poisoned(6);
  ref::srmsnorm(x.data(), y.data(), 2, 3, ref::kSrmsnormEps);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(y[j], 0.0) << "col " << j;
  for (int j = 3; j < 6; ++j) EXPECT_NEAR(std::fabs(y[j]), 2.0 / (2.0 + 1e-8), 1e-15);
  Vec y0 = poisoned(6);
  ref::srmsnorm(x.data(), y0.data(), 2, 3, 0.0);
  for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isnan(y0[j])) << "col " << j;
  expect_all_near(Vec(y0.begin() + 3, y0.end()), {1, -1, 1}, 1e-15);
}

TEST(RefSrmsnorm, ScaleInvariantWithoutEps) {
  const Vec x = seeded(3 * 16, 5);
  Vec scaled(x);
  for (auto& e : scaled) e *= -1024.0;  // exact
  Vec y = poisoned(x.size()), ys = poisoned(x.size());
  ref::srmsnorm(x.data(), y.data(), 3, 16, 0.0);
  ref::srmsnorm(scaled.data(), ys.data(), 3, 16, 0.0);
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(ys[i], -y[i], 1e-14) << "element " << i;
}

// ---- DeepNorm reference -------------------------------------------------------------------------

TEST(RefDeepnorm, AlphaOfTheStacks) {
  EXPECT_DOUBLE_EQ(ref::deepnorm_alpha(8), 2.0);              // (16)^(1/4)
  EXPECT_DOUBLE_EQ(ref::deepnorm_alpha(2), std::sqrt(2.0));   // 4^(1/4)
  EXPECT_DOUBLE_EQ(ref::deepnorm_alpha(128), 4.0);            // 256^(1/4)
  EXPECT_DOUBLE_EQ(ref::deepnorm_alpha_decoder(27), 3.0);     // 81^(1/4)
  EXPECT_DOUBLE_EQ(ref::deepnorm_alpha_encoder(1, 1), 0.81);  // 0.81 * 1
  // 0.81 (2^4 * 16)^(1/16) = 0.81 * 256^(1/16) = 0.81 sqrt(2).
  EXPECT_DOUBLE_EQ(ref::deepnorm_alpha_encoder(2, 16), 0.81 * std::sqrt(2.0));
}

TEST(RefDeepnorm, HandComputedRow) {
  // alpha 2: s = 2 {1, 2} + {0.5, -1} = {2.5, 3}; mean 2.75, deviations -+0.25, var 0.0625.
  // eps = 0.1875: var + eps = 0.25, rstd 2, z = {-0.5, 0.5};
  // y = z * {2, 3} + {0.5, -0.5} = {-0.5, 1}.
  const Vec x = {1, 2}, fx = {0.5, -1}, gamma = {2, 3}, beta = {0.5, -0.5};
  Vec y = poisoned(2);
  ref::deepnorm(x.data(), fx.data(), gamma.data(), beta.data(), y.data(), 1, 2, 2.0, 0.1875);
  expect_all_near(y, {-0.5, 1.0}, 1e-15);
}

TEST(RefDeepnorm, AlphaOneIsAddLayernorm) {
  const i64 rows = 4, cols = 33;
  const Vec x = seeded(rows * cols, 21), fx = seeded(rows * cols, 22, -5.0, 1.0);
  const Vec gamma = seeded(cols, 23, 0.5, 1.5), beta = seeded(cols, 24, -0.2, 0.2);
  Vec y = poisoned(x.size()), sum = poisoned(x.size()), y_add = poisoned(x.size());
  ref::deepnorm(x.data(), fx.data(), gamma.data(), beta.data(), y.data(), rows, cols, 1.0, kEps);
  ref::add_layernorm(x.data(), fx.data(), gamma.data(), beta.data(), sum.data(), y_add.data(), rows,
                     cols, kEps);
  expect_all_near(y, y_add, 1e-13);
}

TEST(RefDeepnorm, IsLayernormOfTheScaledSum) {
  // deepnorm(x, fx) = layernorm(alpha x + fx), the sum formed here.
  const i64 rows = 3, cols = 20;
  const double alpha = ref::deepnorm_alpha(100);
  const Vec x = seeded(rows * cols, 31), fx = seeded(rows * cols, 32);
  const Vec gamma = seeded(cols, 33, 0.5, 1.5), beta = seeded(cols, 34, -0.2, 0.2);
  Vec s(x.size());
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = alpha * x[i] + fx[i];
  Vec y = poisoned(x.size()), y_ln = poisoned(x.size());
  ref::deepnorm(x.data(), fx.data(), gamma.data(), beta.data(), y.data(), rows, cols, alpha, kEps);
  ref::layernorm(s.data(), gamma.data(), beta.data(), y_ln.data(), rows, cols, kEps);
  expect_all_near(y, y_ln, 1e-13);
}

TEST(RefDeepnorm, CommonOffsetOfTheSumLeavesOutputUnchanged) {
  // x + k and fx - alpha k give the same sum; x and fx + 1e6 shift it by 1e6.
  const i64 cols = 64;
  const double alpha = ref::deepnorm_alpha(18);
  const Vec x = seeded(cols, 41), fx = seeded(cols, 42);
  const Vec gamma = seeded(cols, 43, 0.5, 1.5), beta = seeded(cols, 44, -0.2, 0.2);
  Vec x2(x), fx2(fx), fx3(fx);
  for (i64 j = 0; j < cols; ++j) {
    x2[j] += 1e4;
    fx2[j] -= alpha * 1e4;
    fx3[j] += 1e6;
  }
  Vec y = poisoned(cols), y2 = poisoned(cols), y3 = poisoned(cols);
  ref::deepnorm(x.data(), fx.data(), gamma.data(), beta.data(), y.data(), 1, cols, alpha, kEps);
  ref::deepnorm(x2.data(), fx2.data(), gamma.data(), beta.data(), y2.data(), 1, cols, alpha, kEps);
  ref::deepnorm(x.data(), fx3.data(), gamma.data(), beta.data(), y3.data(), 1, cols, alpha, kEps);
  expect_all_near(y2, y, 1e-8);
  expect_all_near(y3, y, 1e-8);
}

// ---- cpu.plain and cpu.fast in every dtype ------------------------------------------------------

// The suite's rule (suites/norm_common.hpp: norm_tolerance): |y - ref| <= 1e-5 + (1e-4 + u)|ref|,
// u the unit roundoff of the storage (0 for float32, whose 1e-4 covers its own rounding).
template <class T>
struct Storage;
template <>
struct Storage<float> {
  static constexpr double kU = 0.0;
  static constexpr double kSpread = 1.0;  // of the offset rows, 1e4 + kSpread N(0, 1)
  static constexpr const char* kName = "f32";
  static float round(double d) { return static_cast<float>(d); }
  static double widen(float v) { return v; }
  static float poison() { return std::numeric_limits<float>::quiet_NaN(); }
};
template <>
struct Storage<bf16_t> {
  static constexpr double kU = 1.0 / 256;
  static constexpr double kSpread = 64.0;  // bfloat16's spacing at 1e4
  static constexpr const char* kName = "bf16";
  static bf16_t round(double d) { return to_bf16(d); }
  static double widen(bf16_t v) { return to_double(v); }
  static bf16_t poison() { return bf16_t{0x7FC1}; }
};
template <>
struct Storage<f16_t> {
  static constexpr double kU = 1.0 / 2048;
  static constexpr double kSpread = 8.0;  // binary16's spacing at 1e4
  static constexpr const char* kName = "f16";
  static f16_t round(double d) { return to_f16(d); }
  static double widen(f16_t v) { return to_double(v); }
  static f16_t poison() { return f16_t{0x7E01}; }
};

enum class Dist { normal, offset, constant_rows, zero_rows, outlier_first };
const char* name_of(Dist d) {
  switch (d) {
    case Dist::normal:
      return "normal";
    case Dist::offset:
      return "offset";
    case Dist::constant_rows:
      return "constant_rows";
    case Dist::zero_rows:
      return "zero_rows";
    case Dist::outlier_first:
      return "outlier_first";
  }
  return "?";
}

// rows x cols values of the scenario, rounded to T. zero_rows: normal with rows 0, 3, 6, ...
// exactly zero (callers give it two rows or more, so that some rows are not zero). outlier_first:
// normal with each row's first element 300 (the shift of the fast kernels' statistics far from the
// mean).
template <class T>
std::vector<T> draw(i64 rows, i64 cols, Dist dist, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<T> v(static_cast<std::size_t>(rows * cols));
  for (i64 r = 0; r < rows; ++r) {
    const double c = nd(rng);
    for (i64 j = 0; j < cols; ++j) {
      double e = nd(rng);
      if (dist == Dist::offset) e = 1e4 + Storage<T>::kSpread * e;
      if (dist == Dist::constant_rows) e = c;
      if (dist == Dist::zero_rows && r % 3 == 0) e = 0.0;
      if (dist == Dist::outlier_first && j == 0) e = 300.0;
      v[static_cast<std::size_t>(r * cols + j)] = Storage<T>::round(e);
    }
  }
  return v;
}

template <class T>
std::vector<T> draw_uniform(i64 n, double lo, double hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ud(lo, hi);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = Storage<T>::round(ud(rng));
  return v;
}

template <class T>
Vec widened(const std::vector<T>& v) {
  Vec out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = Storage<T>::widen(v[i]);
  return out;
}

// "" when every element of out agrees with ref under the suite's rule (NaN where ref is NaN),
// else the count out of tolerance and the worst element.
template <class T>
std::string compare(const T* out, const Vec& ref, i64 cols) {
  const double atol = 1e-5, rtol = 1e-4 + Storage<T>::kU;
  i64 bad = 0, worst = -1;
  double worst_excess = -1.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double o = Storage<T>::widen(out[i]);
    bool ok;
    double excess = INFINITY;
    if (std::isnan(ref[i])) {
      ok = std::isnan(o);
    } else {
      const double err = std::fabs(o - ref[i]), tol = atol + rtol * std::fabs(ref[i]);
      ok = err <= tol;  // NaN fails
      if (!std::isnan(err)) excess = err / tol;
    }
    if (!ok) {
      ++bad;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = static_cast<i64>(i);
      }
    }
  }
  if (bad == 0) return "";
  std::ostringstream os;
  os.precision(9);
  os << bad << " of " << ref.size() << " out of tolerance; worst at [" << worst / cols << ", "
     << worst % cols << "]: out " << Storage<T>::widen(out[worst]) << ", ref " << ref[worst];
  return os.str();
}

enum class Impl { plain, fast };

// Inputs copied to `pad` elements past the start of their buffers and y written there too: with
// pad 1, rows start off the 64-byte (and 16-byte) alignment that the streamed and vector paths
// look for.
// 64-byte aligned storage, as the harness allocates tensors (the streamed paths need it).
template <class T>
using AVec = std::vector<T, test_support::Aligned64<T>>;

template <class T>
AVec<T> padded(const std::vector<T>& v, i64 pad) {
  AVec<T> p(v.size() + static_cast<std::size_t>(pad), Storage<T>::round(7.0));
  std::memcpy(p.data() + pad, v.data(), v.size() * sizeof(T));
  return p;
}

template <class T>
std::string check_srmsnorm(Impl impl, i64 rows, i64 cols, Dist dist, i64 pad, std::uint64_t seed) {
  const float eps = static_cast<float>(ref::kSrmsnormEps);
  const std::vector<T> x = draw<T>(rows, cols, dist, seed);
  const AVec<T> xp = padded(x, pad);
  AVec<T> y(x.size() + static_cast<std::size_t>(pad), Storage<T>::poison());
  if (impl == Impl::plain) {
    cpu::plain::srmsnorm(xp.data() + pad, y.data() + pad, rows, cols, eps);
  } else {
    cpu::fast::srmsnorm(xp.data() + pad, y.data() + pad, rows, cols, eps);
  }
  const Vec x64 = widened(x);
  Vec ref = poisoned(x.size());
  ref::srmsnorm(x64.data(), ref.data(), rows, cols, static_cast<double>(eps));
  return compare(y.data() + pad, ref, cols);
}

template <class T>
std::string check_deepnorm(Impl impl, i64 rows, i64 cols, Dist dist, i64 pad, i64 layers,
                           std::uint64_t seed) {
  const float alpha = static_cast<float>(ref::deepnorm_alpha(layers));
  const std::vector<T> x = draw<T>(rows, cols, dist, seed);
  const std::vector<T> fx = draw<T>(rows, cols, dist, seed + 7919);
  const std::vector<T> gamma = draw_uniform<T>(cols, 0.5, 1.5, seed + 1);
  const std::vector<T> beta = draw_uniform<T>(cols, -0.2, 0.2, seed + 2);
  const AVec<T> xp = padded(x, pad), fp = padded(fx, pad), gp = padded(gamma, pad),
                bp = padded(beta, pad);
  AVec<T> y(x.size() + static_cast<std::size_t>(pad), Storage<T>::poison());
  if (impl == Impl::plain) {
    cpu::plain::deepnorm(xp.data() + pad, fp.data() + pad, gp.data() + pad, bp.data() + pad,
                         y.data() + pad, rows, cols, alpha, static_cast<float>(kEps));
  } else {
    cpu::fast::deepnorm(xp.data() + pad, fp.data() + pad, gp.data() + pad, bp.data() + pad,
                        y.data() + pad, rows, cols, alpha, static_cast<float>(kEps));
  }
  const Vec x64 = widened(x), f64 = widened(fx), g64 = widened(gamma), b64 = widened(beta);
  Vec ref = poisoned(x.size());
  ref::deepnorm(x64.data(), f64.data(), g64.data(), b64.data(), ref.data(), rows, cols,
                static_cast<double>(alpha), kEps);
  return compare(y.data() + pad, ref, cols);
}

template <class T>
class CpuKernels : public ::testing::Test {};
using Storages = ::testing::Types<float, bf16_t, f16_t>;
TYPED_TEST_SUITE(CpuKernels, Storages);

const i64 kRows[] = {1, 3, 64};
const i64 kCols[] = {1, 3, 17, 768, 4096, 4097};

TYPED_TEST(CpuKernels, SrmsnormMatchesReference) {
  using T = TypeParam;
  std::uint64_t seed = 100;
  for (const Impl impl : {Impl::plain, Impl::fast}) {
    for (const i64 rows : kRows) {
      for (const i64 cols : kCols) {
        for (const Dist dist : {Dist::normal, Dist::offset, Dist::constant_rows, Dist::zero_rows}) {
          if (dist == Dist::zero_rows && rows == 1) continue;  // all zero: tests nothing
          for (const i64 pad : {0, 1}) {
            if (pad == 1 && impl == Impl::plain) continue;  // no path of its own depends on it
            EXPECT_EQ(check_srmsnorm<T>(impl, rows, cols, dist, pad, ++seed), "")
                << Storage<T>::kName << (impl == Impl::plain ? " plain" : " fast")
                << " rows=" << rows << " cols=" << cols << " dist=" << name_of(dist)
                << " pad=" << pad;
          }
        }
      }
    }
  }
}

TYPED_TEST(CpuKernels, DeepnormMatchesReference) {
  using T = TypeParam;
  std::uint64_t seed = 200;
  for (const Impl impl : {Impl::plain, Impl::fast}) {
    for (const i64 rows : kRows) {
      for (const i64 cols : kCols) {
        for (const Dist dist : {Dist::normal, Dist::offset, Dist::constant_rows, Dist::zero_rows,
                                Dist::outlier_first}) {
          if (dist == Dist::zero_rows && rows == 1) continue;  // all zero: tests nothing
          for (const i64 pad : {0, 1}) {
            if (pad == 1 && impl == Impl::plain) continue;  // no path of its own depends on it
            const i64 layers = (seed % 2 == 0) ? 100 : 1000;
            EXPECT_EQ(check_deepnorm<T>(impl, rows, cols, dist, pad, layers, ++seed), "")
                << Storage<T>::kName << (impl == Impl::plain ? " plain" : " fast")
                << " rows=" << rows << " cols=" << cols << " dist=" << name_of(dist)
                << " pad=" << pad << " layers=" << layers;
          }
        }
      }
    }
  }
}

// Many rows, shared out over the threads in ranges (the 16-bit kernels) or blocks (float32).
TYPED_TEST(CpuKernels, ManyRowsMatchReference) {
  using T = TypeParam;
  std::uint64_t seed = 300;
  for (const Dist dist : {Dist::normal, Dist::zero_rows, Dist::outlier_first}) {
    EXPECT_EQ(check_srmsnorm<T>(Impl::fast, 515, 768, dist, 0, ++seed), "")
        << Storage<T>::kName << " srmsnorm dist=" << name_of(dist);
    EXPECT_EQ(check_deepnorm<T>(Impl::fast, 515, 768, dist, 0, 100, ++seed), "")
        << Storage<T>::kName << " deepnorm dist=" << name_of(dist);
  }
}

// Float32 outputs of 16 MiB and more take the streamed stores, and rows of a multiple of 16
// aligned columns the software-pipelined rows (norm_fast_rows.hpp); 4097 columns the streamed
// rows without the pipeline. (The 16-bit kernels have no such paths.)
TEST(CpuKernels, LargeFloatShapesMatchReference) {
  EXPECT_EQ(check_srmsnorm<float>(Impl::fast, 1031, 4096, Dist::zero_rows, 0, 351), "");
  EXPECT_EQ(check_srmsnorm<float>(Impl::fast, 1031, 4097, Dist::normal, 0, 352), "");
  EXPECT_EQ(check_deepnorm<float>(Impl::fast, 1031, 4096, Dist::outlier_first, 0, 100, 353), "");
  EXPECT_EQ(check_deepnorm<float>(Impl::fast, 1031, 4097, Dist::offset, 0, 100, 354), "");
}

// 16-bit outputs of 16 MiB and more, rows on a vector boundary: the pipelined, streamed rows of
// norm_srmsnorm_deepnorm_half.hpp (2051 rows: ranges that end inside a block of 4).
TYPED_TEST(CpuKernels, LargeHalfShapesMatchReference) {
  using T = TypeParam;
  if (std::is_same_v<T, float>) GTEST_SKIP() << "float32: LargeFloatShapesMatchReference";
  EXPECT_EQ(check_srmsnorm<T>(Impl::fast, 2051, 4096, Dist::zero_rows, 0, 361), "")
      << Storage<T>::kName << " srmsnorm";
  EXPECT_EQ(check_deepnorm<T>(Impl::fast, 2051, 4096, Dist::outlier_first, 0, 1000, 362), "")
      << Storage<T>::kName << " deepnorm";
}

TEST(CpuKernels, DeepnormWithAlphaOneEqualsAddLayernormReference) {
  // cpu.fast deepnorm at alpha = 1 against the reference of the residual add + LayerNorm.
  const i64 rows = 5, cols = 200;
  const std::vector<float> x = draw<float>(rows, cols, Dist::offset, 51),
                           fx = draw<float>(rows, cols, Dist::normal, 52),
                           g = draw_uniform<float>(cols, 0.5, 1.5, 53),
                           b = draw_uniform<float>(cols, -0.2, 0.2, 54);
  std::vector<float> y(x.size(), Storage<float>::poison());
  cpu::fast::deepnorm(x.data(), fx.data(), g.data(), b.data(), y.data(), rows, cols, 1.0f,
                      static_cast<float>(kEps));
  const Vec x64 = widened(x), f64 = widened(fx), g64 = widened(g), b64 = widened(b);
  Vec sum = poisoned(x.size()), ref = poisoned(x.size());
  ref::add_layernorm(x64.data(), f64.data(), g64.data(), b64.data(), sum.data(), ref.data(), rows,
                     cols, kEps);
  EXPECT_EQ(compare(y.data(), ref, cols), "");
}

TEST(CpuKernels, InPlaceGivesTheSameOutput) {
  // y may alias x: every position of a row is read before it is written.
  for (const i64 cols : {i64{17}, i64{4096}}) {
    const i64 rows = 9;
    std::vector<float> x = draw<float>(rows, cols, Dist::normal, 61);
    const std::vector<float> fx = draw<float>(rows, cols, Dist::normal, 62),
                             g = draw_uniform<float>(cols, 0.5, 1.5, 63),
                             b = draw_uniform<float>(cols, -0.2, 0.2, 64);
    std::vector<float> y(x.size()), y2(x.size());
    cpu::fast::srmsnorm(x.data(), y.data(), rows, cols, 1e-8f);
    cpu::fast::deepnorm(x.data(), fx.data(), g.data(), b.data(), y2.data(), rows, cols, 2.0f,
                        1e-5f);
    std::vector<float> inplace = x;
    cpu::fast::srmsnorm(inplace.data(), inplace.data(), rows, cols, 1e-8f);
    EXPECT_EQ(std::memcmp(inplace.data(), y.data(), y.size() * sizeof(float)), 0) << cols;
    inplace = x;
    cpu::fast::deepnorm(inplace.data(), fx.data(), g.data(), b.data(), inplace.data(), rows, cols,
                        2.0f, 1e-5f);
    EXPECT_EQ(std::memcmp(inplace.data(), y2.data(), y2.size() * sizeof(float)), 0) << cols;
  }
}

// ---- the ops of the suite
// ------------------------------------------------------------------------

// opbench check in-process (planner, seeded inputs, the scenarios' preparation, agreement) on edge
// shapes, every scenario, every dtype, alpha from 1 and 1000 layers.
TEST(SuiteSrmsDeep, EveryImplementationAgreesInEveryScenario) {
  Registry reg;
  register_all_suites(reg);
  const std::string dists = "normal,uniform,llm_outliers,offset,constant_rows";
  for (const char* op : {"srmsnorm", "deepnorm"}) {
    Selection sel;
    sel.ops = {op};
    sel.axis_overrides = {{"rows", "1,33"}, {"cols", "1,17,4097"}};
    if (std::string(op) == "srmsnorm") {
      sel.axis_overrides["dist"] = dists + ",zero_rows";
    } else {
      sel.axis_overrides["dist"] = dists;
      sel.axis_overrides["layers"] = "1,1000";
    }
    sel.dtypes = {"f32", "bf16", "f16"};
    const RunResult r = test_support::check_selection(reg, sel);
    EXPECT_GT(test_support::expect_all_agree_or_listed(r), 0) << op;
  }
}

TEST(SuiteSrmsDeep, ZeroRowsScenarioZeroesEveryThirdRowOnly) {
  Registry reg;
  register_all_suites(reg);
  const Op* op = reg.find_op("srmsnorm");
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(op->prepare_inputs);
  for (const DType dt : {DType::f32, DType::bf16, DType::f16}) {
    const i64 rows = 7, cols = 5;
    TensorMap in{{"x", Tensor(dt, {rows, cols})}};
    const std::string spec =
        op->input_dist(*op->find_tensor("x"), "zero_rows", dt);  // what the harness draws
    EXPECT_EQ(spec, "normal");
    datasets::fill_distribution(in.at("x"), spec, 3);
    Params p;
    p.set("rows", std::to_string(rows));
    p.set("cols", std::to_string(cols));
    p.set("dist", "zero_rows");
    op->prepare_inputs(in, p);
    for (i64 r = 0; r < rows; ++r) {
      double ss = 0.0;
      for (i64 j = 0; j < cols; ++j) {
        const double v = in.at("x").value_as_double(r * cols + j);
        ss += v * v;
      }
      if (r % 3 == 0) {
        EXPECT_EQ(ss, 0.0) << dtype_name(dt) << " row " << r;
      } else {
        EXPECT_GT(ss, 0.0) << dtype_name(dt) << " row " << r;
      }
    }
  }
}

// ---- cuda.fast's per-row arithmetic on the host -------------------------------------------------

// The kernels' structure: nt threads, thread t taking elements t, t + nt, ... (scalar items),
// float partial sums per thread, then a tree over the threads (as the warp shuffles and the
// block exchange add them), the OPBENCH_HD functions in between; DeepNorm's passes: the means of
// x and fx (the shifts), the mean of d, the sums of its deviations, the output.
float tree_sum(std::vector<float> p) {
  for (std::size_t w = p.size() / 2; w > 0; w /= 2) {
    for (std::size_t i = 0; i < w; ++i) p[i] += p[i + w];
  }
  return p[0];
}

constexpr int kThreads = 256;

std::vector<float> host_srmsnorm_row(const std::vector<float>& x, float eps) {
  const int cols = static_cast<int>(x.size());
  std::vector<float> part(kThreads, 0.0f);
  for (int j = 0; j < cols; ++j) part[j % kThreads] = std::fma(x[j], x[j], part[j % kThreads]);
  const float factor = cuda::srmsnorm_factor(tree_sum(part), cols, eps);
  std::vector<float> y(x.size());
  for (int j = 0; j < cols; ++j) y[j] = x[j] * factor;
  return y;
}

std::vector<float> host_deepnorm_row(const std::vector<float>& x, const std::vector<float>& fx,
                                     const std::vector<float>& g, const std::vector<float>& b,
                                     float alpha, float eps) {
  const int cols = static_cast<int>(x.size());
  std::vector<float> d(x.size()), part(kThreads, 0.0f), part_q(kThreads, 0.0f);
  for (int j = 0; j < cols; ++j) {  // pass 0: the means of x and fx (part_q holds fx's)
    part[j % kThreads] += x[j];
    part_q[j % kThreads] += fx[j];
  }
  const float mx = tree_sum(part) / static_cast<float>(cols);
  const float mf = tree_sum(part_q) / static_cast<float>(cols);
  std::fill(part.begin(), part.end(), 0.0f);
  std::fill(part_q.begin(), part_q.end(), 0.0f);
  for (int j = 0; j < cols; ++j) {
    d[j] = cuda::deepnorm_shifted(alpha, x[j], mx, fx[j], mf);
    part[j % kThreads] += d[j];
  }
  const float m = tree_sum(part) / static_cast<float>(cols);
  std::fill(part.begin(), part.end(), 0.0f);
  for (int j = 0; j < cols; ++j) {
    d[j] -= m;
    part[j % kThreads] += d[j];
    part_q[j % kThreads] = std::fma(d[j], d[j], part_q[j % kThreads]);
  }
  const cuda::DeepnormScale sc = cuda::deepnorm_scale(tree_sum(part), tree_sum(part_q), cols, eps);
  std::vector<float> y(x.size());
  for (int j = 0; j < cols; ++j) y[j] = cuda::deepnorm_out(d[j], sc, g[j], b[j]);
  return y;
}

TEST(CudaHostSrmsDeep, RowArithmeticMatchesReference) {
  std::uint64_t seed = 400;
  const float srms_eps = static_cast<float>(ref::kSrmsnormEps);
  for (const i64 cols : {i64{1}, i64{17}, i64{768}, i64{4096}, i64{4097}}) {
    for (const Dist dist :
         {Dist::normal, Dist::offset, Dist::constant_rows, Dist::zero_rows, Dist::outlier_first}) {
      const i64 rows = 64;
      const std::vector<float> x = draw<float>(rows, cols, dist, ++seed),
                               fx = draw<float>(rows, cols, dist, ++seed),
                               g = draw_uniform<float>(cols, 0.5, 1.5, ++seed),
                               b = draw_uniform<float>(cols, -0.2, 0.2, ++seed);
      const float alpha = static_cast<float>(ref::deepnorm_alpha(100));
      std::vector<float> ys, yd;
      for (i64 r = 0; r < rows; ++r) {
        const std::vector<float> xr(x.begin() + r * cols, x.begin() + (r + 1) * cols),
            fr(fx.begin() + r * cols, fx.begin() + (r + 1) * cols);
        const std::vector<float> a = host_srmsnorm_row(xr, srms_eps);
        const std::vector<float> c = host_deepnorm_row(xr, fr, g, b, alpha, 1e-5f);
        ys.insert(ys.end(), a.begin(), a.end());
        yd.insert(yd.end(), c.begin(), c.end());
      }
      const Vec x64 = widened(x), f64 = widened(fx), g64 = widened(g), b64 = widened(b);
      Vec ref_s = poisoned(x.size()), ref_d = poisoned(x.size());
      ref::srmsnorm(x64.data(), ref_s.data(), rows, cols, static_cast<double>(srms_eps));
      ref::deepnorm(x64.data(), f64.data(), g64.data(), b64.data(), ref_d.data(), rows, cols,
                    static_cast<double>(alpha), kEps);
      EXPECT_EQ(compare(ys.data(), ref_s, cols), "")
          << "srmsnorm cols=" << cols << " dist=" << name_of(dist);
      EXPECT_EQ(compare(yd.data(), ref_d, cols), "")
          << "deepnorm cols=" << cols << " dist=" << name_of(dist);
    }
  }
}

TEST(CudaHostSrmsDeep, ZeroRowFactorGivesZero) {
  const float f = cuda::srmsnorm_factor(0.0f, 4096, 1e-8f);
  EXPECT_FLOAT_EQ(f, 1e8f);
  EXPECT_EQ(0.0f * f, 0.0f);
}

// ---- cuda.fast on a device ----------------------------------------------------------------------

#ifdef OPBENCH_HAVE_CUDA
class CudaSrmsDeep : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendStatus st = cuda_status();
    if (!st.available) GTEST_SKIP() << st.detail;
  }
};

Tensor tensor_of(const std::vector<float>& v, i64 pad) {
  Tensor t(DType::f32, {static_cast<i64>(v.size()) + pad});
  float* p = t.data<float>();
  for (i64 i = 0; i < pad; ++i) p[i] = 7.0f;
  std::memcpy(p + pad, v.data(), v.size() * sizeof(float));
  return t;
}

// One run of cuda.fast srmsnorm (deep false) or deepnorm through bind_device; pad 1 puts every
// pointer one float past 16-byte alignment (the scalar path).
std::string check_on_device(bool deep, i64 rows, i64 cols, Dist dist, i64 pad, std::uint64_t seed) {
  const float alpha = static_cast<float>(ref::deepnorm_alpha(100));
  const float eps = deep ? static_cast<float>(kEps) : static_cast<float>(ref::kSrmsnormEps);
  const std::vector<float> x = draw<float>(rows, cols, dist, seed),
                           fx = draw<float>(rows, cols, dist, seed + 1),
                           g = draw_uniform<float>(cols, 0.5, 1.5, seed + 2),
                           b = draw_uniform<float>(cols, -0.2, 0.2, seed + 3);
  TensorMap in{{"x", tensor_of(x, pad)},
               {"fx", tensor_of(fx, pad)},
               {"gamma", tensor_of(g, pad)},
               {"beta", tensor_of(b, pad)}};
  TensorMap out{{"y", Tensor(DType::f32, {rows * cols + pad})}};
  const BindFn bind = bind_device([=](const DeviceTensorMap& d_in, DeviceTensorMap& d_out,
                                      const Params&) {
    const float* xd = d_in.at("x").data<float>() + pad;
    float* yd = d_out.at("y").data<float>() + pad;
    if (deep) {
      cuda::deepnorm(xd, d_in.at("fx").data<float>() + pad, d_in.at("gamma").data<float>() + pad,
                     d_in.at("beta").data<float>() + pad, yd, rows, cols, alpha, eps);
    } else {
      cuda::srmsnorm(xd, yd, rows, cols, eps);
    }
  });
  auto kernel = bind(in, out, Params{});
  kernel->run();
  kernel->fetch();
  const float* y = out.at("y").data<float>();
  for (i64 i = 0; i < pad; ++i) {
    if (!std::isnan(y[i])) return "the kernel wrote before its output";
  }
  const Vec x64 = widened(x), f64 = widened(fx), g64 = widened(g), b64 = widened(b);
  Vec ref = poisoned(x.size());
  if (deep) {
    ref::deepnorm(x64.data(), f64.data(), g64.data(), b64.data(), ref.data(), rows, cols,
                  static_cast<double>(alpha), kEps);
  } else {
    ref::srmsnorm(x64.data(), ref.data(), rows, cols, static_cast<double>(eps));
  }
  return compare(y + pad, ref, cols);
}

TEST_F(CudaSrmsDeep, MatchReferenceAcrossKernelShapes) {
  // Columns on each side of every switch between kernel shapes: 1, 2, 4, 8, 16 (float4) or 32
  // (scalar) items per thread, the looping kernel beyond; odd columns and pad 1 take the scalar
  // path.
  const i64 cols_list[] = {1,    3,    17,   768,   1024,  1028,  2048,  2052,  4095,  4096,
                           4097, 8192, 8196, 16383, 16384, 16385, 16388, 32768, 32772, 40000};
  std::uint64_t seed = 500;
  for (const i64 cols : cols_list) {
    for (const Dist dist :
         {Dist::normal, Dist::offset, Dist::constant_rows, Dist::zero_rows, Dist::outlier_first}) {
      for (const i64 pad : {0, 1}) {
        for (const bool deep : {false, true}) {
          EXPECT_EQ(check_on_device(deep, 7, cols, dist, pad, seed += 5), "")
              << (deep ? "deepnorm" : "srmsnorm") << " cols=" << cols << " dist=" << name_of(dist)
              << " pad=" << pad;
        }
      }
    }
  }
}

// No launch either way: runs without a device.
TEST(CudaSrmsDeepShapes, RejectsNegativeShapesAndAcceptsEmptyOnes) {
  EXPECT_NO_THROW(cuda::srmsnorm(nullptr, nullptr, 0, 16, 1e-8f));
  EXPECT_NO_THROW(cuda::deepnorm(nullptr, nullptr, nullptr, nullptr, nullptr, 4, 0, 2.0f, 1e-5f));
  EXPECT_THROW(cuda::srmsnorm(nullptr, nullptr, -1, 16, 1e-8f), std::invalid_argument);
  EXPECT_THROW(cuda::deepnorm(nullptr, nullptr, nullptr, nullptr, nullptr, 4, -2, 2.0f, 1e-5f),
               std::invalid_argument);
}
#endif  // OPBENCH_HAVE_CUDA

}  // namespace
}  // namespace opbench
