// cpu.fast's 16-bit CRMSNorm, Weight Standardization, BatchNorm, GroupNorm, EvoNorms and Online
// Normalization (norm_fast_half_rows.cpp, norm_fast_half_channels.cpp) promise that y may alias
// x: each reads what its statistics need before writing. Run in place, each must give exactly
// the bits it gives into a separate, NaN-poisoned output, which must be written everywhere.
// (Their agreement with the float64 reference, every dtype and distribution, is in
// test_suites.cpp's NormAgreement.) Shapes large enough for the threaded split, seeded inputs
// with a common offset so the shifted statistics matter.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/norm_fast_half.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;
constexpr float kEps = 1e-5f;

template <class T>
T round_to(double v) {
  if constexpr (std::is_same_v<T, bf16_t>) {
    return bf16_from_float(static_cast<float>(v));
  } else {
    return f16_from_float(static_cast<float>(v));
  }
}

// offset + N(0, 1), rounded to the dtype.
template <class T>
std::vector<T> seeded(i64 n, double offset, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = round_to<T>(offset + nd(rng));
  return v;
}

// kernel(in, out) out of place into NaN-poisoned y, then in place on a copy of x.
template <class T>
void expect_in_place_same(const std::string& what, const std::vector<T>& x,
                          const std::function<void(const T*, T*)>& kernel) {
  SCOPED_TRACE(what);
  std::vector<T> y(x.size(), round_to<T>(std::nan("")));
  kernel(x.data(), y.data());
  std::vector<T> z = x;
  kernel(z.data(), z.data());
  i64 unwritten = 0, differ = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(to_float(y[i]))) ++unwritten;
    if (y[i].bits != z[i].bits) ++differ;
  }
  EXPECT_EQ(unwritten, 0);
  EXPECT_EQ(differ, 0);
}

template <class T>
void check_all() {
  const double offset = 300.0;  // a common offset of 300 standard deviations
  {                             // rows x cols ops
    const i64 rows = 67, cols = 1029;
    const std::vector<T> x = seeded<T>(rows * cols, offset, 1);
    const std::vector<T> g = seeded<T>(cols, 1.0, 2), b = seeded<T>(cols, 0.0, 3);
    std::vector<float> rm(cols), rv(cols);
    for (i64 j = 0; j < cols; ++j) {
      rm[j] = static_cast<float>(offset + 0.01 * j);
      rv[j] = 0.5f + 0.001f * static_cast<float>(j);
    }
    expect_in_place_same<T>("crmsnorm", x, [&](const T* in, T* out) {
      cpu::fast::crmsnorm(in, g.data(), out, rows, cols, kEps);
    });
    expect_in_place_same<T>("weight_std", x, [&](const T* in, T* out) {
      cpu::fast::weight_std(in, out, rows, cols, kEps);
    });
    expect_in_place_same<T>("batchnorm_infer", x, [&](const T* in, T* out) {
      cpu::fast::batchnorm_infer(in, rm.data(), rv.data(), g.data(), b.data(), out, rows, cols,
                                 kEps);
    });
    expect_in_place_same<T>("batchnorm_train", x, [&](const T* in, T* out) {
      cpu::fast::batchnorm_train(in, g.data(), b.data(), out, rows, cols, kEps);
    });
  }
  {  // n x c x hw ops
    const i64 n = 5, c = 12, hw = 263, groups = 3;
    const std::vector<T> x = seeded<T>(n * c * hw, offset, 4);
    const std::vector<T> v = seeded<T>(c, 1.0, 5), g = seeded<T>(c, 1.0, 6),
                         b = seeded<T>(c, 0.0, 7);
    std::vector<float> mu0(c, static_cast<float>(offset)), var0(c, 1.5f);
    expect_in_place_same<T>("groupnorm", x, [&](const T* in, T* out) {
      cpu::fast::groupnorm(in, g.data(), b.data(), out, n, c, hw, groups, kEps);
    });
    expect_in_place_same<T>("evonorm_s0", x, [&](const T* in, T* out) {
      cpu::fast::evonorm_s0(in, v.data(), g.data(), b.data(), out, n, c, hw, groups, kEps);
    });
    expect_in_place_same<T>("evonorm_b0", x, [&](const T* in, T* out) {
      cpu::fast::evonorm_b0(in, v.data(), g.data(), b.data(), out, n, c, hw, kEps);
    });
    expect_in_place_same<T>("online_norm", x, [&](const T* in, T* out) {
      cpu::fast::online_norm(in, mu0.data(), var0.data(), g.data(), b.data(), out, n, c, hw, 0.9f,
                             kEps);
    });
  }
}

TEST(NormHalfInPlace, Bf16GivesTheSameBitsInPlace) {
  check_all<bf16_t>();
}
TEST(NormHalfInPlace, F16GivesTheSameBitsInPlace) {
  check_all<f16_t>();
}

}  // namespace
}  // namespace opbench
