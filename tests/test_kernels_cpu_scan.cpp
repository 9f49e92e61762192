// The CPU kernels of the scan family (cpu.plain, cpu.fast, cpu.chunked, cpu.blelloch) against the
// float64 references, called directly on awkward shapes: T = 1, odd T and D (D not a multiple of
// the vector width, T not a multiple of the chunk count), batch 1, 1-3 threads. Outputs are
// poisoned with NaN before every call, so an unwritten element fails. The allowed error is the
// suite's own rule (suites/scan_agreement.hpp): depth(T) u E_t per element.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/scan_fast.hpp"
#include "kernels/cpu/scan_plain.hpp"
#include "reference/scan.hpp"
#include "suites/scan_agreement.hpp"

namespace opbench {
namespace {

using suite::scan::depth_factor;
using suite::scan::forward_error_units;
using suite::scan::kUnitRoundoff;

std::vector<float> draw(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

std::vector<double> widen(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

std::vector<float> poisoned(std::size_t n) {
  return std::vector<float>(n, std::nanf(""));
}

struct Shape3 {
  std::int64_t batch, T, D;
  std::size_t seq() const { return static_cast<std::size_t>(batch * T * D); }
  std::size_t state() const { return static_cast<std::size_t>(batch * D); }
};

const Shape3 kShapes[] = {{1, 1, 1},    {2, 1, 5},    {3, 37, 19},
                          {2, 130, 33}, {1, 1000, 3}, {2, 64, 32}};

using ScanFn = void (*)(const float*, const float*, const float*, float*, std::int64_t,
                        std::int64_t, std::int64_t);
struct NamedScan {
  const char* name;
  ScanFn fn;
};
const NamedScan kScans[] = {{"cpu.plain", cpu::plain::linear_scan},
                            {"cpu.fast", cpu::fast::linear_scan},
                            {"cpu.chunked", cpu::fast::linear_scan_chunked},
                            {"cpu.blelloch", cpu::fast::linear_scan_blelloch}};

// Max over elements of |out - ref| / allowed (<= 1 passes); NaN anywhere gives +inf.
double worst_ratio(const std::vector<float>& out, const std::vector<double>& ref,
                   const std::vector<double>& allowed) {
  double worst = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    const double err = std::abs(out[i] - ref[i]);
    worst = std::max(worst, allowed[i] > 0 ? err / allowed[i] : (err > 0 ? INFINITY : 0));
  }
  return worst;
}

class ThreadCount : public ::testing::Test {
 protected:
  void TearDown() override { omp_set_num_threads(saved_); }
  int saved_ = omp_get_max_threads();
};

using CpuLinearScan = ThreadCount;

TEST_F(CpuLinearScan, EveryImplementationWithinTheBoundOnAwkwardShapes) {
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (const Shape3& s : kShapes) {
      const auto a = draw(s.seq(), 0.0f, 1.0f, 1), b = draw(s.seq(), -1.0f, 1.0f, 2);
      const auto h0 = draw(s.state(), -1.0f, 1.0f, 3);
      const auto a64 = widen(a), b64 = widen(b), h064 = widen(h0);
      std::vector<double> ref(s.seq());
      ref::linear_scan(a64.data(), b64.data(), h064.data(), ref.data(), s.batch, s.T, s.D);
      auto allowed = forward_error_units(a64.data(), b64.data(), h064.data(), s.batch, s.T, s.D);
      for (double& e : allowed) e *= depth_factor(s.T) * kUnitRoundoff;
      for (const auto& impl : kScans) {
        auto h = poisoned(s.seq());
        impl.fn(a.data(), b.data(), h0.data(), h.data(), s.batch, s.T, s.D);
        EXPECT_LE(worst_ratio(h, ref, allowed), 1.0)
            << impl.name << " batch=" << s.batch << " T=" << s.T << " D=" << s.D
            << " threads=" << threads;
      }
    }
  }
}

TEST_F(CpuLinearScan, GateZeroGivesExactlyBAndGateOneACumulativeSum) {
  omp_set_num_threads(2);
  const Shape3 s{2, 77, 21};
  const auto b = draw(s.seq(), -1.0f, 1.0f, 4), h0 = draw(s.state(), -1.0f, 1.0f, 5);
  const std::vector<float> zeros(s.seq(), 0.0f), ones(s.seq(), 1.0f);
  for (const auto& impl : kScans) {
    auto h = poisoned(s.seq());
    impl.fn(zeros.data(), b.data(), h0.data(), h.data(), s.batch, s.T, s.D);
    EXPECT_EQ(h, b) << impl.name;
    h = poisoned(s.seq());
    impl.fn(ones.data(), b.data(), h0.data(), h.data(), s.batch, s.T, s.D);
    for (std::int64_t n = 0; n < s.batch; ++n) {
      for (std::int64_t d = 0; d < s.D; ++d) {
        double sum = h0[n * s.D + d], mag = std::abs(sum);
        for (std::int64_t t = 0; t < s.T; ++t) {
          const std::size_t i = static_cast<std::size_t>((n * s.T + t) * s.D + d);
          sum += b[i];
          mag += std::abs(b[i]);
          // Recursive summation: at most (t + 1) u times the sum of magnitudes (Higham §4.2),
          // times the tree depth for the parallel forms.
          ASSERT_NEAR(h[i], sum, depth_factor(s.T) * (t + 2) * kUnitRoundoff * mag)
              << impl.name << " n=" << n << " t=" << t << " d=" << d;
        }
      }
    }
  }
}

TEST_F(CpuLinearScan, NearOneGatesOverALongSequence) {
  omp_set_num_threads(2);
  const Shape3 s{1, 4096, 20};
  const auto a = draw(s.seq(), 0.9999f, 0.9999999f, 6), b = draw(s.seq(), -1.0f, 1.0f, 7);
  const auto h0 = draw(s.state(), -1.0f, 1.0f, 8);
  const auto a64 = widen(a), b64 = widen(b), h064 = widen(h0);
  std::vector<double> ref(s.seq());
  ref::linear_scan(a64.data(), b64.data(), h064.data(), ref.data(), s.batch, s.T, s.D);
  auto allowed = forward_error_units(a64.data(), b64.data(), h064.data(), s.batch, s.T, s.D);
  for (double& e : allowed) e *= depth_factor(s.T) * kUnitRoundoff;
  for (const auto& impl : kScans) {
    auto h = poisoned(s.seq());
    impl.fn(a.data(), b.data(), h0.data(), h.data(), s.batch, s.T, s.D);
    EXPECT_LE(worst_ratio(h, ref, allowed), 1.0) << impl.name;
  }
}

TEST(CpuLinearScanBound, RejectsAKernelThatDropsOneStep) {
  // The bound is tight enough to see a real bug: skipping the b of one step.
  const Shape3 s{1, 300, 4};
  const auto a = draw(s.seq(), 0.9f, 1.0f, 9), b = draw(s.seq(), 0.5f, 1.0f, 10);
  const auto h0 = draw(s.state(), -1.0f, 1.0f, 11);
  const auto a64 = widen(a), b64 = widen(b), h064 = widen(h0);
  std::vector<double> ref(s.seq());
  ref::linear_scan(a64.data(), b64.data(), h064.data(), ref.data(), s.batch, s.T, s.D);
  auto allowed = forward_error_units(a64.data(), b64.data(), h064.data(), s.batch, s.T, s.D);
  for (double& e : allowed) e *= depth_factor(s.T) * kUnitRoundoff;
  auto broken = b;
  broken[150 * 4 + 2] = 0.0f;
  auto h = poisoned(s.seq());
  cpu::fast::linear_scan(a.data(), broken.data(), h0.data(), h.data(), s.batch, s.T, s.D);
  EXPECT_GT(worst_ratio(h, ref, allowed), 1.0);
}

using CpuLinearScanBackward = ThreadCount;

TEST_F(CpuLinearScanBackward, PlainAndFastMatchTheReference) {
  using BwdFn = void (*)(const float*, const float*, const float*, const float*, float*, float*,
                         float*, std::int64_t, std::int64_t, std::int64_t);
  const std::pair<const char*, BwdFn> impls[] = {{"cpu.plain", cpu::plain::linear_scan_backward},
                                                 {"cpu.fast", cpu::fast::linear_scan_backward}};
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    for (const Shape3& s : kShapes) {
      const auto a = draw(s.seq(), 0.0f, 1.0f, 12), h = draw(s.seq(), -1.0f, 1.0f, 13);
      const auto h0 = draw(s.state(), -1.0f, 1.0f, 14), g = draw(s.seq(), -1.0f, 1.0f, 15);
      const auto a64 = widen(a), h64 = widen(h), h064 = widen(h0), g64 = widen(g);
      std::vector<double> da(s.seq()), db(s.seq()), dh0(s.state());
      ref::linear_scan_backward(a64.data(), h064.data(), h64.data(), g64.data(), da.data(),
                                db.data(), dh0.data(), s.batch, s.T, s.D);
      // delta's bound (a reverse scan of |g|), |h| <= 1 and |a| <= 1 bound the products.
      std::vector<double> mag;
      auto e = suite::scan::backward_error_units(a64.data(), g64.data(), s.batch, s.T, s.D, mag);
      double worst = 0;
      for (std::size_t i = 0; i < e.size(); ++i) worst = std::max(worst, e[i] + mag[i]);
      const double tol = depth_factor(s.T) * kUnitRoundoff * worst;
      for (const auto& [name, fn] : impls) {
        auto oda = poisoned(s.seq()), odb = poisoned(s.seq()), odh0 = poisoned(s.state());
        fn(a.data(), h0.data(), h.data(), g.data(), oda.data(), odb.data(), odh0.data(), s.batch,
           s.T, s.D);
        for (std::size_t i = 0; i < s.seq(); ++i) {
          ASSERT_NEAR(oda[i], da[i], tol) << name << " da " << i << " T=" << s.T;
          ASSERT_NEAR(odb[i], db[i], tol) << name << " db " << i << " T=" << s.T;
        }
        for (std::size_t i = 0; i < s.state(); ++i) {
          ASSERT_NEAR(odh0[i], dh0[i], tol) << name << " dh0 " << i << " T=" << s.T;
        }
      }
    }
  }
}

// --- Heinsen's log-space scan ----------------------------------------------------------------

using LogFn = void (*)(const float*, const float*, const float*, float*, std::int64_t, std::int64_t,
                       std::int64_t);
const std::pair<const char*, LogFn> kLogScans[] = {{"cpu.plain", cpu::plain::log_scan},
                                                   {"cpu.fast", cpu::fast::log_scan}};

struct LogCase {
  std::vector<float> la, lb, lh0;
  std::vector<double> ref;  // log h
};

LogCase log_case(const Shape3& s, float a_lo, float a_hi, unsigned seed) {
  LogCase c;
  c.la = draw(s.seq(), a_lo, a_hi, seed);
  c.lb = draw(s.seq(), 0.001f, 1.0f, seed + 1);
  c.lh0 = draw(s.state(), 0.001f, 1.0f, seed + 2);
  for (auto* v : {&c.la, &c.lb, &c.lh0}) {
    for (float& x : *v) x = std::log(x);
  }
  c.ref.resize(s.seq());
  const auto la = widen(c.la), lb = widen(c.lb), lh0 = widen(c.lh0);
  ref::log_scan(la.data(), lb.data(), lh0.data(), c.ref.data(), s.batch, s.T, s.D);
  return c;
}

double max_abs_error(const std::vector<float>& out, const std::vector<double>& ref,
                     std::size_t from, std::size_t to) {
  double worst = 0;
  for (std::size_t i = from; i < to; ++i) {
    worst = std::max(worst, std::isfinite(out[i]) ? std::abs(out[i] - ref[i]) : INFINITY);
  }
  return worst;
}

TEST(CpuLogScan, NearOneGatesAreAccurate) {
  // log a ~ -1e-5: a* stays small, so the log-space form loses nothing.
  const Shape3 s{2, 1000, 19};
  const LogCase c = log_case(s, 0.9999f, 0.9999999f, 20);
  for (const auto& [name, fn] : kLogScans) {
    auto out = poisoned(s.seq());
    fn(c.la.data(), c.lb.data(), c.lh0.data(), out.data(), s.batch, s.T, s.D);
    EXPECT_LT(max_abs_error(out, c.ref, 0, s.seq()), 64 * kUnitRoundoff * 8) << name;
  }
}

TEST(CpuLogScan, HeinsenFormLosesAccuracyInProportionToTheSumOfLogGates) {
  // Documented expectation, not a bug of ours: log h_t = a*_t + LSE_t with a*_t = sum log a ~ -t
  // for gates uniform in (0, 1). Both terms are ~t in magnitude and cancel to log h ~ O(1), so the
  // float32 result carries an absolute error ~ u t. A sound sequential float32 evaluation of the
  // same recurrence errs by a few u whatever t is (CpuLinearScan above). The suite's agreement
  // rule therefore reports log_scan (and only it) failing under `dist=uniform` at long T.
  const Shape3 s{1, 4096, 64};
  const LogCase c = log_case(s, 1e-6f, 1.0f, 30);
  for (const auto& [name, fn] : kLogScans) {
    auto out = poisoned(s.seq());
    fn(c.la.data(), c.lb.data(), c.lh0.data(), out.data(), s.batch, s.T, s.D);
    const double early = max_abs_error(out, c.ref, 0, 16 * s.D);  // t < 16
    const double late = max_abs_error(out, c.ref, (s.T - 256) * s.D, s.seq());
    EXPECT_LT(early, 64 * kUnitRoundoff) << name;
    EXPECT_GT(late, 10 * early) << name << ": the error should grow with t";
    EXPECT_GT(late, 100 * kUnitRoundoff) << name;
    EXPECT_LT(late, 4 * kUnitRoundoff * s.T) << name << ": about u |a*|, not worse";
  }
}

TEST(CpuLogScan, AnExactZeroGateGivesNaN) {
  // log a = -inf makes a* = -inf and a* + LSE = -inf + inf: the formulation cannot represent a
  // reset. The reference can (h_t = b_t); the suite reports `dist=bernoulli` failing for it.
  const std::vector<float> la = {std::log(0.5f), -INFINITY}, lb = {0.0f, 0.0f}, lh0 = {0.0f};
  for (const auto& [name, fn] : kLogScans) {
    std::vector<float> out = {0.0f, 0.0f};
    fn(la.data(), lb.data(), lh0.data(), out.data(), 1, 2, 1);
    EXPECT_NEAR(out[0], std::log(1.5f), 1e-6) << name;
    EXPECT_TRUE(std::isnan(out[1])) << name;
  }
}

TEST(CpuLogScan, FastMatchesPlainOnOddShapes) {
  for (const Shape3& s : kShapes) {
    const LogCase c = log_case(s, 0.5f, 1.0f, 40);
    auto p = poisoned(s.seq()), f = poisoned(s.seq());
    cpu::plain::log_scan(c.la.data(), c.lb.data(), c.lh0.data(), p.data(), s.batch, s.T, s.D);
    cpu::fast::log_scan(c.la.data(), c.lb.data(), c.lh0.data(), f.data(), s.batch, s.T, s.D);
    for (std::size_t i = 0; i < s.seq(); ++i) {
      ASSERT_NEAR(f[i], p[i], 16 * kUnitRoundoff * (s.T + std::abs(p[i]))) << i << " T=" << s.T;
      ASSERT_NEAR(f[i], c.ref[i], 16 * kUnitRoundoff * (s.T + std::abs(c.ref[i])));
    }
  }
}

// --- log b = -inf (b = 0), +inf and NaN ---------------------------------------------------------
//
// Each against the float64 reference (which runs the recurrence in linear space: exp(-inf) = 0 is
// exact there): -inf where it is -inf (h = 0), the same infinity, NaN where it is NaN, elsewhere
// the accuracy rule of FastMatchesPlainOnOddShapes. D = 19 leaves a partial vector; 1 and 3
// threads.

constexpr float kInfF = INFINITY;

void expect_log_scan_like_reference(const std::vector<float>& out, const std::vector<double>& ref,
                                    const Shape3& s, const std::string& what) {
  int special = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::int64_t t = (static_cast<std::int64_t>(i) / s.D) % s.T;
    const std::string at = what + " element " + std::to_string(i) + " t=" + std::to_string(t);
    if (std::isnan(ref[i])) {
      ++special;
      ASSERT_TRUE(std::isnan(out[i])) << at << ": got " << out[i] << ", want NaN";
    } else if (std::isinf(ref[i])) {
      ++special;
      ASSERT_EQ(out[i], ref[i]) << at;
    } else {
      ASSERT_TRUE(std::isfinite(out[i])) << at << ": got " << out[i] << ", want " << ref[i];
      ASSERT_NEAR(out[i], ref[i], 16 * kUnitRoundoff * (s.T + std::abs(ref[i]))) << at;
    }
  }
  EXPECT_GT(special, 0) << what << ": the case should hold -inf, +inf or NaN outputs";
}

// Runs cpu.plain and cpu.fast on 1 and 3 threads into poisoned outputs against the reference.
void check_log_scan(const Shape3& s, const std::vector<float>& la, const std::vector<float>& lb,
                    const std::vector<float>& lh0, const std::string& what) {
  std::vector<double> ref(s.seq());
  const auto la64 = widen(la), lb64 = widen(lb), lh064 = widen(lh0);
  ref::log_scan(la64.data(), lb64.data(), lh064.data(), ref.data(), s.batch, s.T, s.D);
  const int saved = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    for (const auto& [name, fn] : kLogScans) {
      auto out = poisoned(s.seq());
      fn(la.data(), lb.data(), lh0.data(), out.data(), s.batch, s.T, s.D);
      expect_log_scan_like_reference(out, ref, s, what + " " + name);
    }
  }
  omp_set_num_threads(saved);
}

// Gates in (0.5, 1), b in (0.001, 1), h0 in (0.001, 1), as logarithms.
LogCase finite_log_case(const Shape3& s, unsigned seed) {
  return log_case(s, 0.5f, 1.0f, seed);
}

std::size_t at(const Shape3& s, std::int64_t n, std::int64_t t, std::int64_t d) {
  return static_cast<std::size_t>((n * s.T + t) * s.D + d);
}

TEST(CpuLogScanSpecial, ZeroBAtTheStartFromAZeroState) {
  // h0 = 0 (log h0 = -inf) and b = 0 for the first d % 6 steps of channel d: h = 0 (log h =
  // -inf) until the first nonzero b, then the recurrence from there. The running log-sum-exp
  // starts empty (m = -inf); exp(-inf - -inf) = NaN is what went wrong.
  const Shape3 s{2, 40, 19};
  LogCase c = finite_log_case(s, 70);
  for (float& v : c.lh0) v = -kInfF;
  for (std::int64_t n = 0; n < s.batch; ++n) {
    for (std::int64_t d = 0; d < s.D; ++d) {
      for (std::int64_t t = 0; t < d % 6; ++t) c.lb[at(s, n, t, d)] = -kInfF;
    }
  }
  check_log_scan(s, c.la, c.lb, c.lh0, "zeros at the start");
}

TEST(CpuLogScanSpecial, ZeroBInsideASequence) {
  // b = 0 at t = 10..14 in every channel: from h0 > 0 (batch entry 0: the zeros only decay h)
  // and from h0 = 0 with b = 0 also at t = 0..2 (batch entry 1: the sum is empty, then holds
  // terms, then takes -inf terms again).
  const Shape3 s{2, 40, 19};
  LogCase c = finite_log_case(s, 80);
  for (std::int64_t d = 0; d < s.D; ++d) c.lh0[1 * s.D + d] = -kInfF;
  for (std::int64_t n = 0; n < s.batch; ++n) {
    for (std::int64_t d = 0; d < s.D; ++d) {
      for (std::int64_t t = 10; t < 15; ++t) c.lb[at(s, n, t, d)] = -kInfF;
      if (n == 1) {
        for (std::int64_t t = 0; t < 3; ++t) c.lb[at(s, n, t, d)] = -kInfF;
      }
    }
  }
  check_log_scan(s, c.la, c.lb, c.lh0, "zeros inside");
}

TEST(CpuLogScanSpecial, AWholeRunOfZeroB) {
  // Every b = 0. Batch entry 0 from h0 = 0: h = 0 throughout (log h = -inf at every step);
  // batch entry 1 from h0 > 0: log h_t = log h0 + sum of log a, a pure decay.
  const Shape3 s{2, 33, 19};
  LogCase c = finite_log_case(s, 90);
  for (float& v : c.lb) v = -kInfF;
  for (std::int64_t d = 0; d < s.D; ++d) c.lh0[d] = -kInfF;
  check_log_scan(s, c.la, c.lb, c.lh0, "all zero");
}

TEST(CpuLogScanSpecial, InfiniteBStaysInfinite) {
  // b = +inf at t = 3 and again at t = 7 (equal +inf maxima of the log-sum-exp): h = +inf from
  // t = 3 on. Channels d >= 10 have h0 = +inf instead: +inf from the start, and +inf terms meet it.
  const Shape3 s{1, 20, 19};
  LogCase c = finite_log_case(s, 100);
  for (std::int64_t d = 0; d < s.D; ++d) {
    if (d >= 10) c.lh0[d] = kInfF;
    c.lb[at(s, 0, 3, d)] = kInfF;
    c.lb[at(s, 0, 7, d)] = kInfF;
  }
  check_log_scan(s, c.la, c.lb, c.lh0, "infinite b");
}

TEST(CpuLogScanSpecial, NaNPropagates) {
  // A NaN log b at t = 5 makes every later h NaN (the reference's h = a h + b carries it); a NaN
  // log h0 (channels d >= 12) makes the whole sequence NaN, also across -inf terms (channel 15).
  const Shape3 s{1, 20, 19};
  LogCase c = finite_log_case(s, 110);
  for (std::int64_t d = 0; d < 12; ++d) c.lb[at(s, 0, 5, d)] = std::nanf("");
  for (std::int64_t d = 12; d < s.D; ++d) c.lh0[d] = std::nanf("");
  for (std::int64_t t = 0; t < 4; ++t) c.lb[at(s, 0, t, 15)] = -kInfF;
  check_log_scan(s, c.la, c.lb, c.lh0, "NaN");
}

// --- layers ----------------------------------------------------------------------------------

struct LayerShape {
  std::int64_t batch, T, d_in, D;
};
const LayerShape kLayerShapes[] = {{1, 1, 1, 1}, {2, 17, 5, 19}, {3, 40, 33, 24}};

// The suite's layer rule: |out - ref| <= tol (1 + |ref|), tol = 8 u (fan_in + T).
void expect_layer_close(const std::vector<float>& out, const std::vector<double>& ref,
                        double fan_in, std::int64_t T, const std::string& what) {
  const double tol = 8 * kUnitRoundoff * (fan_in + static_cast<double>(T));
  for (std::size_t i = 0; i < out.size(); ++i) {
    ASSERT_NEAR(out[i], ref[i], tol * (1 + std::abs(ref[i]))) << what << " element " << i;
  }
}

using MinFn = void (*)(const float*, const float*, const float*, const float*, float*, std::int64_t,
                       std::int64_t, std::int64_t, std::int64_t, cpu::ScanForm);
using MinRef = void (*)(const double*, const double*, const double*, const double*, double*,
                        std::int64_t, std::int64_t, std::int64_t, std::int64_t);

// A NaN in x at (batch 0, t = 5) is NaN in h for every later step of batch 0, as in the
// reference; other batches stay finite. The fast layers' vector exp once turned a NaN gate into
// e^-87 (a finite, wrong h). Outputs are poisoned with a finite sentinel, so a NaN is written.
void check_min_layer_nan(const char* name, int gates, MinRef reference, MinFn plain, MinFn fast) {
  const LayerShape s{2, 12, 5, 19};
  const std::size_t nx = s.batch * s.T * s.d_in, nw = s.d_in * gates * s.D;
  auto x = draw(nx, -3.0f, 3.0f, 60);
  x[(0 * s.T + 5) * s.d_in + 2] = std::nanf("");
  const auto w = draw(nw, -0.5f, 0.5f, 61), bias = draw(gates * s.D, -0.5f, 0.5f, 62);
  const auto h0 = draw(s.batch * s.D, 0.1f, 1.0f, 63);
  std::vector<double> ref(s.batch * s.T * s.D);
  reference(widen(x).data(), widen(w).data(), widen(bias).data(), widen(h0).data(), ref.data(),
            s.batch, s.T, s.d_in, s.D);
  ASSERT_TRUE(std::isnan(ref[(0 * s.T + 5) * s.D]));
  ASSERT_FALSE(std::isnan(ref[(1 * s.T + 5) * s.D]));
  const double tol = 8 * kUnitRoundoff * (s.d_in + s.T);
  for (auto form : {cpu::ScanForm::plain, cpu::ScanForm::log}) {
    for (auto [impl, fn] : {std::pair{"cpu.plain", plain}, std::pair{"cpu.fast", fast}}) {
      std::vector<float> h(ref.size(), 12345.0f);
      fn(x.data(), w.data(), bias.data(), h0.data(), h.data(), s.batch, s.T, s.d_in, s.D, form);
      const std::string what =
          std::string(name) + " " + impl + (form == cpu::ScanForm::log ? " log" : " plain");
      for (std::size_t i = 0; i < h.size(); ++i) {
        ASSERT_EQ(std::isnan(h[i]), std::isnan(ref[i])) << what << " element " << i;
        if (!std::isnan(ref[i])) ASSERT_NEAR(h[i], ref[i], tol * (1 + std::abs(ref[i]))) << what;
      }
    }
  }
}

void check_min_layer(const char* name, int gates, MinRef reference, MinFn plain, MinFn fast) {
  for (const LayerShape& s : kLayerShapes) {
    const std::size_t nx = s.batch * s.T * s.d_in, nw = s.d_in * gates * s.D;
    const auto x = draw(nx, -3.0f, 3.0f, 50), w = draw(nw, -0.5f, 0.5f, 51);
    const auto bias = draw(gates * s.D, -0.5f, 0.5f, 52);
    const auto h0 = draw(s.batch * s.D, 0.1f, 1.0f, 53);
    std::vector<double> ref(s.batch * s.T * s.D);
    reference(widen(x).data(), widen(w).data(), widen(bias).data(), widen(h0).data(), ref.data(),
              s.batch, s.T, s.d_in, s.D);
    for (auto form : {cpu::ScanForm::plain, cpu::ScanForm::log}) {
      for (auto [impl, fn] : {std::pair{"cpu.plain", plain}, std::pair{"cpu.fast", fast}}) {
        auto h = poisoned(ref.size());
        fn(x.data(), w.data(), bias.data(), h0.data(), h.data(), s.batch, s.T, s.d_in, s.D, form);
        expect_layer_close(h, ref, static_cast<double>(s.d_in), s.T,
                           std::string(name) + " " + impl +
                               (form == cpu::ScanForm::log ? " log" : " plain") +
                               " T=" + std::to_string(s.T));
      }
    }
  }
}

TEST(CpuMinLayers, MinGruBothFormsMatchTheReference) {
  check_min_layer("mingru", 2, ref::mingru, cpu::plain::mingru, cpu::fast::mingru);
}

TEST(CpuMinLayers, MinLstmBothFormsMatchTheReference) {
  check_min_layer("minlstm", 3, ref::minlstm, cpu::plain::minlstm, cpu::fast::minlstm);
}

TEST(CpuMinLayers, ANaNInputIsNaNFromItsStepOnInBothForms) {
  check_min_layer_nan("mingru", 2, ref::mingru, cpu::plain::mingru, cpu::fast::mingru);
  check_min_layer_nan("minlstm", 3, ref::minlstm, cpu::plain::minlstm, cpu::fast::minlstm);
}

// The log form of the minimal layers with b = 0 from a zero state: h0 = 0 in batch entry 0 and an
// input x[.., 0] = -inf at t = 0..2 there (t = 4..6 in batch entry 1, h0 > 0), its weights signed
// so that the gates saturate exactly: minGRU k_z = k_h = -inf (z = 0, g = 0: a = 1, b = 0);
// minLSTM k_f = +inf, k_i = k_h = -inf (f' = 1, i' = 0, g = 0). The reference keeps h = h_{t-1}:
// 0 in batch entry 0 (log h = -inf, where the log form took exp(-inf - -inf) = NaN).
void check_min_layer_zero_b(const char* name, int gates, MinRef reference, MinFn plain,
                            MinFn fast) {
  const LayerShape s{2, 12, 3, 19};
  const std::size_t nx = s.batch * s.T * s.d_in, nw = s.d_in * gates * s.D;
  auto x = draw(nx, -3.0f, 3.0f, 120), w = draw(nw, -0.5f, 0.5f, 121);
  const auto bias = draw(gates * s.D, -0.5f, 0.5f, 122);
  auto h0 = draw(s.batch * s.D, 0.1f, 1.0f, 123);
  for (std::int64_t d = 0; d < s.D; ++d) h0[d] = 0.0f;
  for (std::int64_t t : {0, 1, 2}) x[(0 * s.T + t) * s.d_in] = -INFINITY;
  for (std::int64_t t : {4, 5, 6}) x[(1 * s.T + t) * s.d_in] = -INFINITY;
  for (std::int64_t j = 0; j < gates * s.D; ++j) {
    // Row 0 of W (the -inf input): columns [f | i | h] of minLSTM, [z | h] of minGRU.
    const bool forget = gates == 3 && j < s.D;
    w[j] = forget ? -0.25f - std::abs(w[j]) : 0.25f + std::abs(w[j]);
  }
  std::vector<double> ref(s.batch * s.T * s.D);
  reference(widen(x).data(), widen(w).data(), widen(bias).data(), widen(h0).data(), ref.data(),
            s.batch, s.T, s.d_in, s.D);
  for (std::int64_t d = 0; d < s.D; ++d) ASSERT_EQ(ref[d], 0.0) << "the case: h stays 0";
  for (auto [impl, fn] : {std::pair{"cpu.plain", plain}, std::pair{"cpu.fast", fast}}) {
    auto h = poisoned(ref.size());
    fn(x.data(), w.data(), bias.data(), h0.data(), h.data(), s.batch, s.T, s.d_in, s.D,
       cpu::ScanForm::log);
    expect_layer_close(h, ref, static_cast<double>(s.d_in), s.T,
                       std::string(name) + " " + impl + " log, zero b from h0 = 0");
  }
}

TEST(CpuMinLayers, LogFormWithZeroBFromAZeroState) {
  check_min_layer_zero_b("mingru", 2, ref::mingru, cpu::plain::mingru, cpu::fast::mingru);
  check_min_layer_zero_b("minlstm", 3, ref::minlstm, cpu::plain::minlstm, cpu::fast::minlstm);
}

TEST(CpuRnn, GruAndLstmMatchTheReference) {
  for (const LayerShape& s : kLayerShapes) {
    for (bool lstm : {false, true}) {
      const int G = lstm ? 4 : 3;
      const auto x = draw(s.batch * s.T * s.d_in, -2.0f, 2.0f, 60);
      const auto w = draw(s.d_in * G * s.D, -0.3f, 0.3f, 61);
      const auto u = draw(s.D * G * s.D, -0.3f, 0.3f, 62);
      const auto bias = draw(G * s.D, -0.3f, 0.3f, 63);
      const auto h0 = draw(s.batch * s.D, -1.0f, 1.0f, 64);
      const auto c0 = draw(s.batch * s.D, -1.0f, 1.0f, 65);
      std::vector<double> ref(s.batch * s.T * s.D);
      if (lstm) {
        ref::lstm(widen(x).data(), widen(w).data(), widen(u).data(), widen(bias).data(),
                  widen(h0).data(), widen(c0).data(), ref.data(), s.batch, s.T, s.d_in, s.D);
      } else {
        ref::gru(widen(x).data(), widen(w).data(), widen(u).data(), widen(bias).data(),
                 widen(h0).data(), ref.data(), s.batch, s.T, s.d_in, s.D);
      }
      for (int fast = 0; fast < 2; ++fast) {
        auto h = poisoned(ref.size());
        if (lstm) {
          using Lstm = void (*)(const float*, const float*, const float*, const float*,
                                const float*, const float*, float*, std::int64_t, std::int64_t,
                                std::int64_t, std::int64_t);
          (fast ? static_cast<Lstm>(cpu::fast::lstm) : static_cast<Lstm>(cpu::plain::lstm))(
              x.data(), w.data(), u.data(), bias.data(), h0.data(), c0.data(), h.data(), s.batch,
              s.T, s.d_in, s.D);
        } else {
          using Gru = void (*)(const float*, const float*, const float*, const float*, const float*,
                               float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t);
          (fast ? static_cast<Gru>(cpu::fast::gru) : static_cast<Gru>(cpu::plain::gru))(
              x.data(), w.data(), u.data(), bias.data(), h0.data(), h.data(), s.batch, s.T, s.d_in,
              s.D);
        }
        expect_layer_close(h, ref, static_cast<double>(s.d_in + s.D), s.T,
                           std::string(lstm ? "lstm " : "gru ") + (fast ? "fast" : "plain"));
      }
    }
  }
}

// --- cpu.plain in bfloat16 and float16 -----------------------------------------------------------

// 16-bit values of `v` (rounded to nearest even), and the floats they are exactly.
template <class H>
std::vector<H> to_half(const std::vector<float>& v) {
  std::vector<H> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (std::is_same_v<H, bf16_t>) {
      out[i] = bf16_from_float(v[i]);
    } else {
      out[i] = f16_from_float(v[i]);
    }
  }
  return out;
}
template <class H>
std::vector<float> to_floats(const std::vector<H>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = to_float(v[i]);
  return out;
}
template <class H>
void expect_rounded_once(const std::vector<H>& got, const std::vector<float>& f32,
                         const char* what) {
  const std::vector<H> want = to_half<H>(f32);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].bits, want[i].bits) << what << " element " << i << ": got " << to_float(got[i])
                                         << ", float32 path rounded " << to_float(want[i]);
  }
}

// The 16-bit scans carry their state in float: each output is exactly the float32 kernel's output
// on the same (exact) values, rounded once. Gates of exactly 1 (pure sums over 1000 steps) make a
// state kept in the storage type drift far from it; outputs start poisoned.
template <class H>
void check_scans_round_once() {
  for (const Shape3& s : {Shape3{2, 1000, 7}, Shape3{3, 37, 19}}) {
    for (float a_lo : {1.0f, 0.5f}) {
      const auto a = to_half<H>(draw(s.seq(), a_lo, 1.0f, 11));
      const auto b = to_half<H>(draw(s.seq(), -1, 1, 12));
      const auto h0 = to_half<H>(draw(s.state(), -1, 1, 13));
      const auto fa = to_floats(a), fb = to_floats(b), fh0 = to_floats(h0);
      std::vector<float> h32 = poisoned(s.seq());
      cpu::plain::linear_scan(fa.data(), fb.data(), fh0.data(), h32.data(), s.batch, s.T, s.D);
      std::vector<H> h16 = to_half<H>(poisoned(s.seq()));
      cpu::plain::linear_scan(a.data(), b.data(), h0.data(), h16.data(), s.batch, s.T, s.D);
      expect_rounded_once(h16, h32, "linear_scan h");

      // The backward reads the forward's 16-bit h as its input.
      const auto dh = to_half<H>(draw(s.seq(), -1, 1, 14));
      const auto fh = to_floats(h16), fdh = to_floats(dh);
      std::vector<float> da32 = poisoned(s.seq()), db32 = poisoned(s.seq()),
                         dh0_32 = poisoned(s.state());
      cpu::plain::linear_scan_backward(fa.data(), fh0.data(), fh.data(), fdh.data(), da32.data(),
                                       db32.data(), dh0_32.data(), s.batch, s.T, s.D);
      std::vector<H> da = to_half<H>(poisoned(s.seq())), db = to_half<H>(poisoned(s.seq())),
                     dh0 = to_half<H>(poisoned(s.state()));
      cpu::plain::linear_scan_backward(a.data(), h0.data(), h16.data(), dh.data(), da.data(),
                                       db.data(), dh0.data(), s.batch, s.T, s.D);
      expect_rounded_once(da, da32, "backward da");
      expect_rounded_once(db, db32, "backward db");
      expect_rounded_once(dh0, dh0_32, "backward dh0");

      // The log-space scan on log a, log b, log h0 (positive b and h0).
      const auto la = to_half<H>(draw(s.seq(), -0.01f, 0.0f, 15));
      const auto lb = to_half<H>(draw(s.seq(), -3, 0, 16));
      const auto lh0 = to_half<H>(draw(s.state(), -3, 0, 17));
      const auto fla = to_floats(la), flb = to_floats(lb), flh0 = to_floats(lh0);
      std::vector<float> lh32 = poisoned(s.seq());
      cpu::plain::log_scan(fla.data(), flb.data(), flh0.data(), lh32.data(), s.batch, s.T, s.D);
      std::vector<H> lh16 = to_half<H>(poisoned(s.seq()));
      cpu::plain::log_scan(la.data(), lb.data(), lh0.data(), lh16.data(), s.batch, s.T, s.D);
      expect_rounded_once(lh16, lh32, "log_scan log h");
    }
  }
}

TEST(ScanPlain16, Bf16ScansKeepAFloatStateAndRoundEachOutputOnce) {
  check_scans_round_once<bf16_t>();
}
TEST(ScanPlain16, F16ScansKeepAFloatStateAndRoundEachOutputOnce) {
  check_scans_round_once<f16_t>();
}

// The layers widen their inputs and run the float32 layer: h is its output rounded once.
template <class H>
void check_layers_round_once() {
  const std::int64_t batch = 2, T = 19, d_in = 5, D = 9;
  const std::size_t seq = static_cast<std::size_t>(batch * T * D);
  const auto x = to_half<H>(draw(static_cast<std::size_t>(batch * T * d_in), -2, 2, 21));
  const auto h0 = to_half<H>(draw(static_cast<std::size_t>(batch * D), 0.1f, 1, 22));
  const auto c0 = to_half<H>(draw(static_cast<std::size_t>(batch * D), -1, 1, 23));
  for (int gates : {2, 3, 4}) {
    const auto w = to_half<H>(draw(static_cast<std::size_t>(d_in * gates * D), -0.5f, 0.5f, 24));
    const auto u = to_half<H>(draw(static_cast<std::size_t>(D * gates * D), -0.5f, 0.5f, 25));
    const auto bias = to_half<H>(draw(static_cast<std::size_t>(gates * D), -0.5f, 0.5f, 26));
    const auto fx = to_floats(x), fw = to_floats(w), fu = to_floats(u), fb = to_floats(bias),
               fh0 = to_floats(h0), fc0 = to_floats(c0);
    std::vector<float> h32 = poisoned(seq);
    std::vector<H> h16 = to_half<H>(poisoned(seq));
    if (gates == 2) {
      cpu::plain::mingru(fx.data(), fw.data(), fb.data(), fh0.data(), h32.data(), batch, T, d_in, D,
                         cpu::ScanForm::log);
      cpu::plain::mingru(x.data(), w.data(), bias.data(), h0.data(), h16.data(), batch, T, d_in, D,
                         cpu::ScanForm::log);
    } else if (gates == 3) {
      cpu::plain::gru(fx.data(), fw.data(), fu.data(), fb.data(), fh0.data(), h32.data(), batch, T,
                      d_in, D);
      cpu::plain::gru(x.data(), w.data(), u.data(), bias.data(), h0.data(), h16.data(), batch, T,
                      d_in, D);
    } else {
      cpu::plain::lstm(fx.data(), fw.data(), fu.data(), fb.data(), fh0.data(), fc0.data(),
                       h32.data(), batch, T, d_in, D);
      cpu::plain::lstm(x.data(), w.data(), u.data(), bias.data(), h0.data(), c0.data(), h16.data(),
                       batch, T, d_in, D);
    }
    expect_rounded_once(h16, h32, gates == 2 ? "mingru" : gates == 3 ? "gru" : "lstm");
  }
}

TEST(ScanPlain16, LayersRoundTheFloatLayerOnce) {
  check_layers_round_once<bf16_t>();
  check_layers_round_once<f16_t>();
}

}  // namespace
}  // namespace opbench
