// Tests of cpu.fast's 16-bit LayerNorm and RMSNorm (kernels/cpu/norm_fast_half.hpp), bfloat16
// and binary16, on every conversion path this CPU has (the run-time choice, the forced portable
// path, AVX2 where the CPU has it, and AVX-512 without avx512_bf16 where the CPU has AVX-512),
// against the equations evaluated here in double on the inputs rounded to the dtype. Edge shapes
// (1, 3, 17, 768, 4095, 4097 columns; 1, 3, 64 rows), large ones that take the streamed and
// pipelined writes, seeded inputs: normal, a large common offset (1e4 + s * N(0, 1)), constant
// rows. Outputs are poisoned with NaN before each call, so an element the kernel does not write
// fails. A planted wrong LayerNorm (statistics kept in bfloat16) shows that the comparison rejects
// what it should. DyT and the residual-add norms (norm_fast_half_fused.cpp) are checked against the
// float64 references of reference/norm.hpp on the rounded inputs, their stored sums bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
#include "reference/norm.hpp"

namespace opbench {
namespace {

using i64 = std::int64_t;

// Agreement: |y - ref| <= kAtol + (kRtol + u) |ref|. The kernels compute in float32 from exact
// inputs (the widening is exact) and round each output once: the float32 arithmetic (shifted
// statistics, one rsqrt, two FMAs) stays within the float32 kernels' tolerance, 1e-5 + 1e-4 |ref|
// (atol for outputs near zero, where z * gamma + beta cancels), and the final rounding to nearest
// adds at most the dtype's unit roundoff u |y|: 2^-8 for bfloat16 (8 significant bits), 2^-11
// for binary16 (11).
constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-4;
constexpr float kEps = 1e-5f;

template <class T>
struct Dtype;
template <>
struct Dtype<bf16_t> {
  static constexpr double kU = 1.0 / 256;
  static constexpr double kOffsetScale = 64;  // 1e4 + 64 N(0, 1): bf16's spacing at 1e4 is 64
  static constexpr std::uint16_t kPoison = 0x7FC1;
  static constexpr const char* kName = "bf16";
  static bf16_t round(double d) { return to_bf16(d); }
};
template <>
struct Dtype<f16_t> {
  static constexpr double kU = 1.0 / 2048;
  static constexpr double kOffsetScale = 8;  // 1e4 + 8 N(0, 1): f16's spacing at 1e4 is 8
  static constexpr std::uint16_t kPoison = 0x7E01;
  static constexpr const char* kName = "f16";
  static f16_t round(double d) { return to_f16(d); }
};

// ---- inputs, rounded to the dtype ---------------------------------------------------------------

enum class Dist { normal, offset, constant };
const char* name_of(Dist d) {
  return d == Dist::normal ? "normal" : d == Dist::offset ? "offset" : "constant";
}

// Storage kept from case to case (k = 0: inputs, 1: outputs): touching fresh pages for every
// large case took most of the test's time.
template <class T>
std::vector<T>& pool(int k) {
  static std::vector<T> v[2];
  return v[k];
}

template <class T>
const std::vector<T>& make_x(i64 rows, i64 cols, Dist dist, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<T>& x = pool<T>(0);
  x.resize(static_cast<std::size_t>(rows * cols));
  for (i64 r = 0; r < rows; ++r) {
    const double c = 1e4 + 37.0 * static_cast<double>(r % 7) - 100.0;  // a constant row's value
    for (i64 j = 0; j < cols; ++j) {
      double v = 0.0;
      switch (dist) {
        case Dist::normal:
          v = nd(rng);
          break;
        case Dist::offset:
          v = 1e4 + Dtype<T>::kOffsetScale * nd(rng);
          break;
        case Dist::constant:
          v = c;
          break;
      }
      x[r * cols + j] = Dtype<T>::round(v);
    }
  }
  return x;
}

template <class T>
std::vector<T> make_param(i64 cols, double center, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<T> p(static_cast<std::size_t>(cols));
  for (auto& v : p) v = Dtype<T>::round(center + 0.5 * nd(rng));
  return p;
}

// Output buffers with a chosen alignment: `misalign` elements past a 64-byte boundary.
template <class T>
struct Buffer {
  T* data = nullptr;
  Buffer(i64 n, i64 misalign) {
    std::vector<T>& store = pool<T>(1);
    store.resize(std::max(store.size(), static_cast<std::size_t>(n + misalign) + 64));
    const auto mis = reinterpret_cast<std::uintptr_t>(store.data()) % 64;
    data = store.data() + (64 - mis) % 64 / sizeof(T) + misalign;
  }
  void poison(i64 n) {
    for (i64 i = 0; i < n; ++i) {
      data[i].bits = static_cast<std::uint16_t>(Dtype<T>::kPoison | (i % 2 ? 0x8000 : 0));
    }
  }
};

// ---- the equations, in double -----------------------------------------------------------------

// The value of a 16-bit number, exactly (every one is a float32), by the inline conversion: the
// out-of-line to_double would take most of the test's time on the large shapes.
template <class T>
double val(T h) {
  return static_cast<double>(to_float(h));
}

// One row of LayerNorm (biased variance) and of RMSNorm into y[0, cols).
template <class T>
void ref_layernorm_row(const T* x, const T* gamma, const T* beta, i64 cols, double eps, double* y) {
  double mean = 0.0, var = 0.0;
  for (i64 j = 0; j < cols; ++j) mean += val(x[j]);
  mean /= static_cast<double>(cols);
  for (i64 j = 0; j < cols; ++j) var += (val(x[j]) - mean) * (val(x[j]) - mean);
  var /= static_cast<double>(cols);
  const double rstd = 1.0 / std::sqrt(var + eps);
  for (i64 j = 0; j < cols; ++j) y[j] = (val(x[j]) - mean) * rstd * val(gamma[j]) + val(beta[j]);
}

template <class T>
void ref_rmsnorm_row(const T* x, const T* gamma, i64 cols, double eps, double* y) {
  double ms = 0.0;
  for (i64 j = 0; j < cols; ++j) ms += val(x[j]) * val(x[j]);
  const double rrms = 1.0 / std::sqrt(ms / static_cast<double>(cols) + eps);
  for (i64 j = 0; j < cols; ++j) y[j] = val(x[j]) * rrms * val(gamma[j]);
}

// ---- the comparison ----------------------------------------------------------------------------

struct Verdict {
  i64 bad = 0;         // elements out of tolerance (NaN included)
  double worst = 0.0;  // max |y - ref| / tol
  i64 first = -1;      // the first element out of tolerance
  double got = 0.0, want = 0.0;
  std::string str() const {
    std::ostringstream o;
    o << bad << " elements out of tolerance, worst error/tol " << worst;
    if (first >= 0) o << "; first at " << first << ": got " << got << ", want " << want;
    return o.str();
  }
};

// y[rows, cols] against ref_row(r, out), which writes the reference of row r to out[0, cols)
// (row by row: the large shapes' references would otherwise take hundreds of MiB).
template <class T, class RefRow>
Verdict compare(const T* y, i64 rows, i64 cols, RefRow ref_row) {
  Verdict v;
  static std::vector<double> ref;  // kept, as pool()
  ref.resize(std::max(ref.size(), static_cast<std::size_t>(cols)));
  for (i64 r = 0; r < rows; ++r) {
    ref_row(r, ref.data());
    for (i64 j = 0; j < cols; ++j) {
      const double got = val(y[r * cols + j]);
      const double tol = kAtol + (kRtol + Dtype<T>::kU) * std::fabs(ref[j]);
      const double err = std::fabs(got - ref[j]);
      const double ratio = std::isnan(err) ? INFINITY : err / tol;
      if (ratio > v.worst) v.worst = ratio;
      if (!(err <= tol) && v.bad++ == 0) {
        v.first = r * cols + j;
        v.got = got;
        v.want = ref[j];
      }
    }
  }
  return v;
}

// ---- the paths ---------------------------------------------------------------------------------

// nullptr: the run-time choice. "avx512f" only where the CPU has AVX-512 (on a CPU with
// avx512_bf16 it is the only way to run bfloat16's integer rounding), "avx2" where it has AVX2,
// FMA and F16C (on an AVX-512 CPU only when forced).
std::vector<const char*> paths() {
  std::vector<const char*> p = {nullptr, "portable"};
  if (cpu::fast::force_half_path("avx2")) p.push_back("avx2");
  if (cpu::fast::force_half_path("avx512f")) p.push_back("avx512f");
  cpu::fast::force_half_path(nullptr);
  return p;
}

class NormHalf : public ::testing::Test {
 protected:
  void TearDown() override { cpu::fast::force_half_path(nullptr); }
  static void use(const char* path) {
    ASSERT_TRUE(cpu::fast::force_half_path(path)) << (path ? path : "run-time");
  }
};

// Runs both ops on every path on one input and checks them; y misaligned by `misalign` elements.
template <class T>
void check_case(i64 rows, i64 cols, Dist dist, i64 misalign, std::uint64_t seed) {
  const std::vector<T>& x = make_x<T>(rows, cols, dist, seed);
  const std::vector<T> gamma = make_param<T>(cols, 1.0, seed + 1);
  const std::vector<T> beta = make_param<T>(cols, 0.0, seed + 2);
  const auto ref_ln = [&](i64 r, double* o) {
    ref_layernorm_row(x.data() + r * cols, gamma.data(), beta.data(), cols, kEps, o);
  };
  const auto ref_rms = [&](i64 r, double* o) {
    ref_rmsnorm_row(x.data() + r * cols, gamma.data(), cols, kEps, o);
  };
  const i64 n = rows * cols;
  Buffer<T> y(n, misalign);
  for (const char* path : paths()) {
    ASSERT_TRUE(cpu::fast::force_half_path(path));
    SCOPED_TRACE(testing::Message()
                 << Dtype<T>::kName << " " << rows << "x" << cols << " " << name_of(dist)
                 << " misalign " << misalign << " path " << (path ? path : "run-time") << " ("
                 << cpu::fast::half_path(true) << ", " << cpu::fast::half_path(false) << ")");
    y.poison(n);
    cpu::fast::layernorm(x.data(), gamma.data(), beta.data(), y.data, rows, cols, kEps);
    const Verdict ln = compare(y.data, rows, cols, ref_ln);
    EXPECT_EQ(ln.bad, 0) << "layernorm: " << ln.str();
    y.poison(n);
    cpu::fast::rmsnorm(x.data(), gamma.data(), y.data, rows, cols, kEps);
    const Verdict rms = compare(y.data, rows, cols, ref_rms);
    EXPECT_EQ(rms.bad, 0) << "rmsnorm: " << rms.str();
  }
  cpu::fast::force_half_path(nullptr);
}

template <class T>
void check_edge_shapes() {
  std::uint64_t seed = 1000;
  for (i64 rows : {1, 3, 64}) {
    for (i64 cols : {1, 3, 17, 768, 4095, 4097}) {
      for (Dist dist : {Dist::normal, Dist::offset, Dist::constant}) {
        check_case<T>(rows, cols, dist, rows == 3 ? 1 : 0, seed += 3);
      }
    }
  }
}

// Outputs of 16 MiB and more are streamed: 4096 columns with y on a line boundary take the
// pipelined rows (2050 and 2053 rows: blocks of 4 rows per thread with leftovers), misaligned
// y and 4095 columns the masked heads, one long row the single-row streamed write. (Each case
// checks 8 million outputs per op and path: the distributions are shared out among the shapes.)
template <class T>
void check_streamed() {
  struct Case {
    i64 rows, cols, misalign;
    Dist dist;
  };
  std::uint64_t seed = 5000;
  for (const Case c :
       {Case{2050, 4096, 0, Dist::normal}, Case{2050, 4096, 0, Dist::offset},
        Case{2053, 4096, 0, Dist::offset}, Case{2050, 4096, 1, Dist::normal},
        Case{2100, 4095, 0, Dist::offset}, Case{1, (i64{1} << 23) + 5, 3, Dist::normal}}) {
    check_case<T>(c.rows, c.cols, c.dist, c.misalign, seed += 3);
  }
}

TEST_F(NormHalf, Bf16EdgeShapes) {
  check_edge_shapes<bf16_t>();
}
TEST_F(NormHalf, F16EdgeShapes) {
  check_edge_shapes<f16_t>();
}
TEST_F(NormHalf, Bf16Streamed) {
  check_streamed<bf16_t>();
}
TEST_F(NormHalf, F16Streamed) {
  check_streamed<f16_t>();
}

// Rounded once, to nearest even: LayerNorm of rows +1, -1, +1, ... with eps = 0 has z = +-1
// exactly, so y = +-gamma + beta, exact in float32 for the gamma and beta below (their exponents
// at most 15 apart); the kernels must then return exactly the reference rounding of that sum,
// ties and carries into the exponent included. The one allowed difference: vcvtne2ps2bf16 flushes
// float32 results below 2^-126 to zero (avx512_bf16 path, bfloat16 only), where the reference
// gives a subnormal.
template <class T>
void check_rounding() {
  const bool bf16 = std::is_same_v<T, bf16_t>;
  std::vector<std::pair<double, double>> gb;  // (gamma, beta)
  if (bf16) {
    const double t = std::ldexp(1.0, -8);  // half of bf16's spacing at 1
    gb = {{1.0, t},
          {1.0 + 2 * t, t},                                         // tie to even, up
          {2.0 - 2 * t, t},                                         // tie, carries into 2
          {-1.0, -t},                                               // ties, negative
          {1.0, 3 * t / 4},                                         // below a tie
          {std::ldexp(1.0, -125), -std::ldexp(255.0 / 128, -126)},  // +-: 2^-133, tiny
          {std::ldexp(1.0, -126), std::ldexp(1.0, -133)},           // +-: either side of 2^-126
          {std::ldexp(255.0 / 128, 127), std::ldexp(1.0, 119)}};    // to infinity or max
  } else {
    const double t = std::ldexp(1.0, -11);
    gb = {{1.0, t},
          {1.0 + 2 * t, t},
          {2.0 - 2 * t, t},
          {-1.0, -t},
          {std::ldexp(1.0, -14), -std::ldexp(1023.0 / 512, -15)},  // +-: a subnormal
          {std::ldexp(1.0, -24), std::ldexp(1.0, -24)},            // subnormals
          {65504.0, 16.0},                                         // tie at the top: inf
          {65504.0, 8.0}};
  }
  std::mt19937_64 rng(77);
  std::uniform_int_distribution<int> mant(0, bf16 ? 127 : 1023), gap(0, bf16 ? 15 : 12);
  std::uniform_int_distribution<int> expo(bf16 ? -110 : -10, bf16 ? 110 : 12), sign(0, 1);
  while (gb.size() < 4096) {
    const int e = expo(rng), k = gap(rng), mb = bf16 ? 7 : 10;
    const double g = std::ldexp(1.0 + mant(rng) / std::ldexp(1.0, mb), e) * (sign(rng) ? -1 : 1);
    const double b =
        std::ldexp(1.0 + mant(rng) / std::ldexp(1.0, mb), e - k) * (sign(rng) ? -1 : 1);
    gb.emplace_back(to_double(Dtype<T>::round(g)), to_double(Dtype<T>::round(b)));
  }
  const i64 cols = 2 * static_cast<i64>(gb.size());  // each pair at +1 and at -1
  std::vector<T> gamma(cols), beta(cols), want(cols);
  std::vector<double> exact(cols);
  for (i64 j = 0; j < cols; ++j) {
    gamma[j] = Dtype<T>::round(gb[j / 2].first);
    beta[j] = Dtype<T>::round(gb[j / 2].second);
    ASSERT_EQ(to_double(gamma[j]), gb[j / 2].first) << j;  // the values are the dtype's
    ASSERT_EQ(to_double(beta[j]), gb[j / 2].second) << j;
    exact[j] = (j % 2 ? -1.0 : 1.0) * gb[j / 2].first + gb[j / 2].second;
    ASSERT_EQ(static_cast<double>(static_cast<float>(exact[j])), exact[j]) << "float32, " << j;
    want[j] = Dtype<T>::round(exact[j]);
  }
  for (i64 rows : {2, 2048}) {  // the second is streamed and pipelined
    std::vector<T> x(static_cast<std::size_t>(rows * cols));
    for (i64 i = 0; i < rows * cols; ++i) x[i] = Dtype<T>::round(i % 2 ? -1.0 : 1.0);
    Buffer<T> y(rows * cols, 0);
    for (const char* path : paths()) {
      ASSERT_TRUE(cpu::fast::force_half_path(path));
      const std::string used = cpu::fast::half_path(bf16);
      SCOPED_TRACE(testing::Message() << Dtype<T>::kName << " rows " << rows << " path " << used);
      y.poison(rows * cols);
      cpu::fast::layernorm(x.data(), gamma.data(), beta.data(), y.data, rows, cols, 0.0f);
      i64 bad = 0;
      for (i64 i = 0; i < rows * cols && bad < 5; ++i) {
        const i64 j = i % cols;
        if (y.data[i].bits == want[j].bits) continue;
        if (used == "avx512_bf16" && std::fabs(exact[j]) < std::ldexp(1.0, -126) &&
            std::fabs(val(y.data[i])) <= std::ldexp(1.0, -126)) {
          continue;  // flushed by vcvtne2ps2bf16
        }
        ++bad;
        ADD_FAILURE() << "element " << i << ": " << gb[j / 2].first << " * " << (j % 2 ? -1 : 1)
                      << " + " << gb[j / 2].second << " gave bits 0x" << std::hex << y.data[i].bits
                      << ", want 0x" << want[j].bits;
      }
    }
  }
}

TEST_F(NormHalf, Bf16RoundsOnceToNearestEven) {
  check_rounding<bf16_t>();
}
TEST_F(NormHalf, F16RoundsOnceToNearestEven) {
  check_rounding<f16_t>();
}

// A planted wrong kernel: LayerNorm with its mean and variance rounded to bfloat16 (as a kernel
// keeping its statistics in the storage type would). Under the large offset the rounded mean is
// off by up to half of bfloat16's spacing at 1e4 (32), several standard deviations of the row:
// the comparison above must reject it, or it could not fail a kernel.
template <class T>
void check_planted() {
  const i64 rows = 64, cols = 768;
  const std::vector<T>& x = make_x<T>(rows, cols, Dist::offset, 42);
  const std::vector<T> gamma = make_param<T>(cols, 1.0, 43);
  const std::vector<T> beta = make_param<T>(cols, 0.0, 44);
  std::vector<T> y(static_cast<std::size_t>(rows * cols));
  for (i64 r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (i64 j = 0; j < cols; ++j) mean += val(x[r * cols + j]);
    mean = to_double(to_bf16(mean / cols));
    for (i64 j = 0; j < cols; ++j) {
      var += (val(x[r * cols + j]) - mean) * (val(x[r * cols + j]) - mean);
    }
    var = to_double(to_bf16(var / cols));
    for (i64 j = 0; j < cols; ++j) {
      y[r * cols + j] = Dtype<T>::round(
          (val(x[r * cols + j]) - mean) / std::sqrt(var + kEps) * val(gamma[j]) + val(beta[j]));
    }
  }
  const Verdict v = compare(y.data(), rows, cols, [&](i64 r, double* o) {
    ref_layernorm_row(x.data() + r * cols, gamma.data(), beta.data(), cols, kEps, o);
  });
  EXPECT_GT(v.bad, rows * cols / 10) << v.str();
}

TEST_F(NormHalf, Bf16ComparisonRejectsStatisticsInBf16) {
  check_planted<bf16_t>();
}
TEST_F(NormHalf, F16ComparisonRejectsStatisticsInBf16) {
  check_planted<f16_t>();
}

// ---- DyT and the residual-add norms (norm_fast_half_fused.cpp) --------------------------------

// Inputs of the fused ops, rounded to the dtype: normal (x and residual N(0, 1), DyT's x 2 N(0, 1)
// to reach tanh's curved part), offset (both 1e4 + s N(0, 1): the sum sits near 2e4, where
// rounding it to the dtype before normalizing would be off by several standard deviations),
// constant rows (y must be beta).
template <class T>
std::vector<T> make_fused_input(i64 rows, i64 cols, Dist dist, double normal_scale,
                                std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<T> v(static_cast<std::size_t>(rows * cols));
  for (i64 r = 0; r < rows; ++r) {
    const double c = 1e4 + 37.0 * static_cast<double>(r % 7) - 100.0;
    for (i64 j = 0; j < cols; ++j) {
      const double d = dist == Dist::normal   ? normal_scale * nd(rng)
                       : dist == Dist::offset ? 1e4 + Dtype<T>::kOffsetScale * nd(rng)
                                              : c;
      v[r * cols + j] = Dtype<T>::round(d);
    }
  }
  return v;
}

template <class T>
std::vector<double> widened(const std::vector<T>& h) {
  std::vector<double> d(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) d[i] = to_double(h[i]);
  return d;
}

// got[0, n) against the float64 reference want[0, n) with the suite's rule.
template <class T>
Verdict compare_flat(const T* got, const std::vector<double>& want) {
  return compare(got, 1, static_cast<i64>(want.size()),
                 [&](i64, double* o) { std::copy(want.begin(), want.end(), o); });
}

// Elements of sum whose bits differ from the exact sum rounded once (the reference's sum is exact:
// the sum of two 16-bit values is a double).
template <class T>
i64 sum_bits_differ(const T* got, const std::vector<double>& exact) {
  i64 bad = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    bad += got[i].bits != Dtype<T>::round(exact[i]).bits;
  }
  return bad;
}

enum class Fused { dyt, add_layernorm, add_rmsnorm };
const char* name_of(Fused op) {
  return op == Fused::dyt ? "dyt" : op == Fused::add_layernorm ? "add_layernorm" : "add_rmsnorm";
}

// Runs `op` on every path on one seeded input, outputs poisoned first, and checks y (and sum)
// against reference/norm.hpp. These kernels have one path today and ignore the forced one, so the
// runs repeat; the loop is there so that an AVX-512 path, once they take the run-time choice, is
// covered by the same checks without touching the tests.
template <class T>
void check_fused(Fused op, i64 rows, i64 cols, Dist dist, std::uint64_t seed) {
  const i64 n = rows * cols;
  const std::vector<T> x =
      make_fused_input<T>(rows, cols, dist, op == Fused::dyt ? 2.0 : 1.0, seed);
  const std::vector<T> res = make_fused_input<T>(rows, cols, dist, 1.0, seed + 1);
  const std::vector<T> gamma = make_param<T>(cols, 1.0, seed + 2);
  const std::vector<T> beta = make_param<T>(cols, 0.0, seed + 3);
  const float alpha = 0.5f;
  std::vector<double> want_y(static_cast<std::size_t>(n)), want_sum(want_y.size());
  const std::vector<double> xd = widened(x), rd = widened(res), gd = widened(gamma),
                            bd = widened(beta);
  switch (op) {
    case Fused::dyt:
      ref::dyt(xd.data(), alpha, gd.data(), bd.data(), want_y.data(), rows, cols);
      break;
    case Fused::add_layernorm:
      ref::add_layernorm(xd.data(), rd.data(), gd.data(), bd.data(), want_sum.data(), want_y.data(),
                         rows, cols, kEps);
      break;
    case Fused::add_rmsnorm:
      ref::add_rmsnorm(xd.data(), rd.data(), gd.data(), want_sum.data(), want_y.data(), rows, cols,
                       kEps);
      break;
  }
  std::vector<T> y(static_cast<std::size_t>(n)), sum(y.size());
  for (const char* path : paths()) {
    ASSERT_TRUE(cpu::fast::force_half_path(path));
    SCOPED_TRACE(testing::Message()
                 << name_of(op) << " " << Dtype<T>::kName << " " << rows << "x" << cols << " "
                 << name_of(dist) << " path " << (path ? path : "run-time"));
    for (i64 i = 0; i < n; ++i) {
      const auto poison = static_cast<std::uint16_t>(Dtype<T>::kPoison | (i % 2 ? 0x8000 : 0));
      y[i].bits = sum[i].bits = poison;
    }
    switch (op) {
      case Fused::dyt:
        cpu::fast::dyt(x.data(), alpha, gamma.data(), beta.data(), y.data(), rows, cols);
        break;
      case Fused::add_layernorm:
        cpu::fast::add_layernorm(x.data(), res.data(), gamma.data(), beta.data(), sum.data(),
                                 y.data(), rows, cols, kEps);
        break;
      case Fused::add_rmsnorm:
        cpu::fast::add_rmsnorm(x.data(), res.data(), gamma.data(), sum.data(), y.data(), rows, cols,
                               kEps);
        break;
    }
    const Verdict vy = compare_flat(y.data(), want_y);
    EXPECT_EQ(vy.bad, 0) << "y: " << vy.str();
    if (op != Fused::dyt) {
      const Verdict vs = compare_flat(sum.data(), want_sum);
      EXPECT_EQ(vs.bad, 0) << "sum: " << vs.str();
      EXPECT_EQ(sum_bits_differ(sum.data(), want_sum), 0) << "sum not the exact sum rounded once";
    }
  }
  cpu::fast::force_half_path(nullptr);
}

// Column counts off every vector width (1, 7, 33, 4097) and a multiple of them (4096); one row
// (on the calling thread) and 64 (over the threads).
template <class T>
void check_fused_shapes(Fused op) {
  std::uint64_t seed = 9000;
  for (i64 rows : {1, 64}) {
    for (i64 cols : {1, 7, 33, 4096, 4097}) {
      for (Dist dist : {Dist::normal, Dist::offset, Dist::constant}) {
        check_fused<T>(op, rows, cols, dist, seed += 5);
      }
    }
  }
}

TEST_F(NormHalf, Bf16DytAgreesWithReference) {
  check_fused_shapes<bf16_t>(Fused::dyt);
}
TEST_F(NormHalf, F16DytAgreesWithReference) {
  check_fused_shapes<f16_t>(Fused::dyt);
}
TEST_F(NormHalf, Bf16AddLayernormAgreesWithReference) {
  check_fused_shapes<bf16_t>(Fused::add_layernorm);
}
TEST_F(NormHalf, F16AddLayernormAgreesWithReference) {
  check_fused_shapes<f16_t>(Fused::add_layernorm);
}
TEST_F(NormHalf, Bf16AddRmsnormAgreesWithReference) {
  check_fused_shapes<bf16_t>(Fused::add_rmsnorm);
}
TEST_F(NormHalf, F16AddRmsnormAgreesWithReference) {
  check_fused_shapes<f16_t>(Fused::add_rmsnorm);
}

// The stored sum is the exact x + residual rounded once, also where the float32 sum is inexact:
// residuals 2^-30 .. 2^0 of x (exponents up to 30 apart), both signs, ties of the dtype included
// (x + residual on a midpoint: residual half a unit of x's last place).
template <class T>
void check_sum_rounding() {
  const i64 rows = 4, cols = 4099;
  std::mt19937_64 rng(123);
  std::normal_distribution<double> nd;
  std::uniform_int_distribution<int> gap(0, 30);
  std::vector<T> x(static_cast<std::size_t>(rows * cols)), res(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = Dtype<T>::round(nd(rng) * 100);
    const double half_ulp = std::fabs(to_double(x[i])) * Dtype<T>::kU;
    res[i] = Dtype<T>::round(i % 3 == 0 ? (i % 2 ? half_ulp : -half_ulp)
                                        : to_double(x[i]) * std::ldexp(nd(rng), -gap(rng)));
  }
  const std::vector<T> gamma = make_param<T>(cols, 1.0, 124), beta = make_param<T>(cols, 0.0, 125);
  std::vector<double> exact(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) exact[i] = to_double(x[i]) + to_double(res[i]);
  std::vector<T> y(x.size()), sum(x.size());
  for (const char* path : paths()) {
    ASSERT_TRUE(cpu::fast::force_half_path(path));
    SCOPED_TRACE(testing::Message() << Dtype<T>::kName << " path " << (path ? path : "run-time"));
    cpu::fast::add_layernorm(x.data(), res.data(), gamma.data(), beta.data(), sum.data(), y.data(),
                             rows, cols, kEps);
    EXPECT_EQ(sum_bits_differ(sum.data(), exact), 0) << "add_layernorm";
    cpu::fast::add_rmsnorm(x.data(), res.data(), gamma.data(), sum.data(), y.data(), rows, cols,
                           kEps);
    EXPECT_EQ(sum_bits_differ(sum.data(), exact), 0) << "add_rmsnorm";
  }
}

TEST_F(NormHalf, Bf16AddNormSumRoundedOnce) {
  check_sum_rounding<bf16_t>();
}
TEST_F(NormHalf, F16AddNormSumRoundedOnce) {
  check_sum_rounding<f16_t>();
}

TEST_F(NormHalf, PathsAreNamedAndForced) {
  const std::string bf16 = cpu::fast::half_path(true), f16 = cpu::fast::half_path(false);
  EXPECT_TRUE(bf16 == "avx512_bf16" || bf16 == "avx512f" || bf16 == "avx2" || bf16 == "portable")
      << bf16;
  EXPECT_TRUE(f16 == "avx512f" || f16 == "avx2" || f16 == "portable") << f16;
  cpu::fast::force_portable_half(true);
  EXPECT_STREQ(cpu::fast::half_path(true), "portable");
  EXPECT_STREQ(cpu::fast::half_path(false), "portable");
  cpu::fast::force_portable_half(false);
  EXPECT_EQ(cpu::fast::half_path(true), bf16);
  EXPECT_EQ(cpu::fast::half_path(false), f16);
  EXPECT_FALSE(cpu::fast::force_half_path("sse9"));
  EXPECT_EQ(cpu::fast::half_path(true), bf16);
}

}  // namespace
}  // namespace opbench
