// The float64 references of the scan family against hand-computed values, identities (a = 1 is a
// cumulative sum, a = 0 gives b, T = 1 is one step) and, for the backward pass, finite
// differences of the forward reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "reference/scan.hpp"

namespace opbench {
namespace {

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// Deterministic values in [lo, hi) (not all equal, never all zero).
std::vector<double> ramp(std::size_t n, double lo, double hi) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * std::fmod(0.618033988 * (i + 1), 1.0);
  return v;
}

TEST(ReferenceLinearScan, HandComputed) {
  // One sequence: h0 = 2; h_0 = 0.5 * 2 + 1 = 2; h_1 = 2 * 2 - 3 = 1; h_2 = 0 * 1 + 7 = 7.
  const std::vector<double> a = {0.5, 2, 0}, b = {1, -3, 7}, h0 = {2};
  std::vector<double> h(3, NAN);
  ref::linear_scan(a.data(), b.data(), h0.data(), h.data(), 1, 3, 1);
  EXPECT_DOUBLE_EQ(h[0], 2);
  EXPECT_DOUBLE_EQ(h[1], 1);
  EXPECT_DOUBLE_EQ(h[2], 7);
}

TEST(ReferenceLinearScan, LayoutIsBatchTimeChannel) {
  // batch 2, T 2, D 2: channel d of batch n at (n * T + t) * D + d, each its own recurrence.
  const std::vector<double> a = {1, 0, 1, 0, 2, 2, 2, 2}, b = {1, 2, 3, 4, 1, 1, 1, 1};
  const std::vector<double> h0 = {10, 20, 1, -1};
  std::vector<double> h(8, NAN);
  ref::linear_scan(a.data(), b.data(), h0.data(), h.data(), 2, 2, 2);
  const std::vector<double> want = {11, 2, 14, 4, 3, -1, 7, -1};
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(h[i], want[i]) << i;
}

TEST(ReferenceLinearScan, GateOneIsACumulativeSumAndGateZeroGivesB) {
  const std::int64_t B = 2, T = 9, D = 3;
  const auto b = ramp(B * T * D, -1, 1), h0 = ramp(B * D, -2, 2);
  std::vector<double> ones(b.size(), 1.0), zeros(b.size(), 0.0), h(b.size());
  ref::linear_scan(ones.data(), b.data(), h0.data(), h.data(), B, T, D);
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double sum = h0[n * D + d];
      for (std::int64_t t = 0; t < T; ++t) {
        sum += b[(n * T + t) * D + d];
        EXPECT_NEAR(h[(n * T + t) * D + d], sum, 1e-13);
      }
    }
  }
  ref::linear_scan(zeros.data(), b.data(), h0.data(), h.data(), B, T, D);
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_EQ(h[i], b[i]);
}

TEST(ReferenceLinearScan, OneStep) {
  const std::vector<double> a = {0.25, -3}, b = {1, 2}, h0 = {4, 5};
  std::vector<double> h(2);
  ref::linear_scan(a.data(), b.data(), h0.data(), h.data(), 1, 1, 2);
  EXPECT_DOUBLE_EQ(h[0], 2);
  EXPECT_DOUBLE_EQ(h[1], -13);
}

// L = sum(g * h(a, b, h0)); the backward's da, db, dh0 are its partial derivatives.
TEST(ReferenceLinearScanBackward, MatchesFiniteDifferencesOfTheForward) {
  const std::int64_t B = 2, T = 7, D = 3;
  auto a = ramp(B * T * D, -1.2, 1.2), b = ramp(B * T * D, -1, 1), h0 = ramp(B * D, -1, 1);
  const auto g = ramp(B * T * D, -2, 2);
  std::vector<double> h(a.size()), da(a.size(), NAN), db(a.size(), NAN), dh0(h0.size(), NAN);
  ref::linear_scan(a.data(), b.data(), h0.data(), h.data(), B, T, D);
  ref::linear_scan_backward(a.data(), h0.data(), h.data(), g.data(), da.data(), db.data(),
                            dh0.data(), B, T, D);
  auto loss = [&] {
    std::vector<double> hh(a.size());
    ref::linear_scan(a.data(), b.data(), h0.data(), hh.data(), B, T, D);
    double l = 0;
    for (std::size_t i = 0; i < hh.size(); ++i) l += g[i] * hh[i];
    return l;
  };
  const double eps = 1e-6;
  auto fd = [&](std::vector<double>& v, std::size_t i) {
    const double keep = v[i];
    v[i] = keep + eps;
    const double up = loss();
    v[i] = keep - eps;
    const double down = loss();
    v[i] = keep;
    return (up - down) / (2 * eps);
  };
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(da[i], fd(a, i), 1e-6 * (1 + std::abs(da[i]))) << "da " << i;
    EXPECT_NEAR(db[i], fd(b, i), 1e-6 * (1 + std::abs(db[i]))) << "db " << i;
  }
  for (std::size_t i = 0; i < h0.size(); ++i) {
    EXPECT_NEAR(dh0[i], fd(h0, i), 1e-6 * (1 + std::abs(dh0[i]))) << "dh0 " << i;
  }
}

TEST(ReferenceLogScan, IsTheLogOfTheLinearRecurrence) {
  // a = 1/2, b = 1, h0 = 2: h stays 2. Then a = 1 (a pure sum): 2 + 3 = 5.
  const std::vector<double> la = {std::log(0.5), std::log(0.5), 0}, lb = {0, 0, std::log(3.0)};
  const std::vector<double> lh0 = {std::log(2.0)};
  std::vector<double> lh(3, NAN);
  ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 3, 1);
  EXPECT_NEAR(lh[0], std::log(2.0), 1e-15);
  EXPECT_NEAR(lh[1], std::log(2.0), 1e-15);
  EXPECT_NEAR(lh[2], std::log(5.0), 1e-15);
}

TEST(ReferenceLogScan, AnExactZeroGateIsFine) {
  // log a = -inf is a = 0: h_t = b_t. The reference has no trouble with it (Heinsen's form does).
  const std::vector<double> la = {-INFINITY}, lb = {std::log(0.25)}, lh0 = {std::log(8.0)};
  std::vector<double> lh(1, NAN);
  ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 1, 1);
  EXPECT_NEAR(lh[0], std::log(0.25), 1e-15);
}

TEST(ReferenceLogScan, ZeroBFromAZeroStateIsMinusInfinity) {
  // The values the CPU and CUDA log-space kernels are held to for b = 0 (log b = -inf), b = inf
  // and NaN, by hand in linear space. a = 1/2 throughout.
  const double half = std::log(0.5);
  {
    // h0 = 0, b = 0, 0, 3, 0: h = 0, 0, 3, 1.5 (log: -inf, -inf, log 3, log 1.5).
    const std::vector<double> la(4, half), lb = {-INFINITY, -INFINITY, std::log(3.0), -INFINITY};
    const std::vector<double> lh0 = {-INFINITY};
    std::vector<double> lh(4, NAN);
    ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 4, 1);
    EXPECT_EQ(lh[0], -INFINITY);
    EXPECT_EQ(lh[1], -INFINITY);
    EXPECT_NEAR(lh[2], std::log(3.0), 1e-15);
    EXPECT_NEAR(lh[3], std::log(1.5), 1e-15);
  }
  {
    // h0 = 1, b = inf, inf, 1: h = inf from the first step on.
    const std::vector<double> la(3, half), lb = {INFINITY, INFINITY, 0}, lh0 = {0};
    std::vector<double> lh(3, NAN);
    ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 3, 1);
    EXPECT_EQ(lh, (std::vector<double>{INFINITY, INFINITY, INFINITY}));
  }
  {
    // A NaN log b, or a NaN log h0, makes every later h NaN.
    const std::vector<double> la(3, half), lb = {0, NAN, 0}, lh0 = {0};
    const std::vector<double> nan_h0 = {NAN}, lb_zero = {-INFINITY, -INFINITY, -INFINITY};
    std::vector<double> lh(3, 0.0), lh2(3, 0.0);
    ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 3, 1);
    ref::log_scan(la.data(), lb_zero.data(), nan_h0.data(), lh2.data(), 1, 3, 1);
    EXPECT_NEAR(lh[0], std::log(1.5), 1e-15);
    EXPECT_TRUE(std::isnan(lh[1]) && std::isnan(lh[2]));
    EXPECT_TRUE(std::isnan(lh2[0]) && std::isnan(lh2[1]) && std::isnan(lh2[2]));
  }
}

// The log-space backward by hand, T = 2 (linear: h0 = 2, a = 1/2, 1/4, b = 3, 1: h = 4, 2) with
// g = dL/d(log h) = 1, 2:
//   r_1 = 2:            dlog_b_1 = 2 * b_1/h_1 = 1,     dlog_a_1 = 2 * a_1 h_0/h_1 = 1
//   r_0 = 1 + 1 = 2:    dlog_b_0 = 2 * b_0/h_0 = 3/2,   dlog_a_0 = 2 * a_0 h0/h_0 = 1/2
//   dlog_h0 = dlog_a_0 = 1/2.
TEST(ReferenceLogScanBackward, HandComputedTwoSteps) {
  const std::vector<double> la = {std::log(0.5), std::log(0.25)}, lb = {std::log(3.0), 0};
  const std::vector<double> lh0 = {std::log(2.0)}, g = {1, 2};
  std::vector<double> lh(2, NAN), da(2, NAN), db(2, NAN), dh0(1, NAN);
  ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 2, 1);
  ASSERT_NEAR(lh[0], std::log(4.0), 1e-15);
  ASSERT_NEAR(lh[1], std::log(2.0), 1e-15);
  ref::log_scan_backward(la.data(), lb.data(), lh0.data(), lh.data(), g.data(), da.data(),
                         db.data(), dh0.data(), 1, 2, 1);
  EXPECT_NEAR(db[1], 1.0, 1e-15);
  EXPECT_NEAR(da[1], 1.0, 1e-15);
  EXPECT_NEAR(db[0], 1.5, 1e-15);
  EXPECT_NEAR(da[0], 0.5, 1e-15);
  EXPECT_NEAR(dh0[0], 0.5, 1e-15);
}

// a = 1 (log a = 0): h_t = h0 + b_0 + ... + b_t and r_t / h_t = sum_{s >= t} g_s / h_s, a reverse
// cumulative sum of g / h (the linear backward's delta of dh = g / h). So dlog_b_t = b_t rho_t,
// dlog_a_t = h_{t-1} rho_t, dlog_h0 = h0 rho_0. And always (a_t h_{t-1} + b_t = h_t):
// dlog_a_t + dlog_b_t = r_t = g_t + dlog_a_{t+1}.
TEST(ReferenceLogScanBackward, UnitGatesAreAReverseCumulativeSumOfGOverH) {
  const std::int64_t B = 2, T = 9, D = 3;
  const auto b = ramp(B * T * D, 0.1, 2), h0 = ramp(B * D, 0.5, 3), g = ramp(B * T * D, -2, 2);
  std::vector<double> la(b.size(), 0.0), lb(b.size()), lh0(h0.size()), lh(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) lb[i] = std::log(b[i]);
  for (std::size_t i = 0; i < h0.size(); ++i) lh0[i] = std::log(h0[i]);
  std::vector<double> da(b.size(), NAN), db(b.size(), NAN), dh0(h0.size(), NAN);
  ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), B, T, D);
  ref::log_scan_backward(la.data(), lb.data(), lh0.data(), lh.data(), g.data(), da.data(),
                         db.data(), dh0.data(), B, T, D);
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      std::vector<double> h(T);  // by hand: the cumulative sum
      double sum = h0[n * D + d];
      for (std::int64_t t = 0; t < T; ++t) h[t] = sum += b[(n * T + t) * D + d];
      double rho = 0;
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::size_t i = static_cast<std::size_t>((n * T + t) * D + d);
        rho += g[i] / h[t];
        const double h_prev = t > 0 ? h[t - 1] : h0[n * D + d];
        EXPECT_NEAR(db[i], b[i] * rho, 1e-13 * (1 + std::abs(b[i] * rho))) << i;
        EXPECT_NEAR(da[i], h_prev * rho, 1e-13 * (1 + std::abs(h_prev * rho))) << i;
        const double carried = t + 1 < T ? da[i + D] : 0.0;
        EXPECT_NEAR(da[i] + db[i], g[i] + carried, 1e-13 * (1 + std::abs(g[i] + carried))) << i;
      }
      EXPECT_NEAR(dh0[n * D + d], h0[n * D + d] * rho, 1e-13 * (1 + std::abs(rho))) << n << d;
    }
  }
}

// A zero gate (log a = -inf) cuts the sequence: nothing flows to log a or across it, and every
// exponent stays finite or -inf (no NaN).
TEST(ReferenceLogScanBackward, AZeroGateStopsTheGradient) {
  const std::vector<double> la = {std::log(0.5), -INFINITY, std::log(0.5)};
  const std::vector<double> lb = {0, std::log(2.0), 0}, lh0 = {0}, g = {1, -3, 5};
  std::vector<double> lh(3), da(3, NAN), db(3, NAN), dh0(1, NAN);
  ref::log_scan(la.data(), lb.data(), lh0.data(), lh.data(), 1, 3, 1);  // h = 1.5, 2, 2
  ref::log_scan_backward(la.data(), lb.data(), lh0.data(), lh.data(), g.data(), da.data(),
                         db.data(), dh0.data(), 1, 3, 1);
  // r_2 = 5: dlog_a_2 = 5 * (1/2 * 2 / 2) = 2.5, dlog_b_2 = 2.5; r_1 = -3 + 2.5 = -0.5, all of
  // it through b (b_1 = h_1): dlog_b_1 = -0.5, dlog_a_1 = 0; r_0 = 1 + 0: dlog_b_0 = 1/1.5,
  // dlog_a_0 = dlog_h0 = 0.5 / 1.5.
  EXPECT_NEAR(da[2], 2.5, 1e-14);
  EXPECT_NEAR(db[2], 2.5, 1e-14);
  EXPECT_EQ(da[1], 0.0);
  EXPECT_NEAR(db[1], -0.5, 1e-14);
  EXPECT_NEAR(db[0], 1 / 1.5, 1e-14);
  EXPECT_NEAR(da[0], 0.5 / 1.5, 1e-14);
  EXPECT_NEAR(dh0[0], 0.5 / 1.5, 1e-14);
}

TEST(ReferenceMinRnn, GIsPositiveAndContinuous) {
  EXPECT_DOUBLE_EQ(ref::min_rnn_g(0.0), 0.5);
  EXPECT_DOUBLE_EQ(ref::min_rnn_g(2.0), 2.5);
  EXPECT_DOUBLE_EQ(ref::min_rnn_g(-1.0), sigmoid(-1.0));
  EXPECT_GT(ref::min_rnn_g(-50.0), 0.0);
  EXPECT_NEAR(ref::min_rnn_g(-1e-12), 0.5, 1e-12);
}

TEST(ReferenceMinGru, HandComputedSteps) {
  // d_in = 1, D = 1: k_z = 0.5 x + 0.1, k_h = -2 x + 0.3.
  const std::vector<double> w = {0.5, -2}, bias = {0.1, 0.3}, x = {1.0, -0.5}, h0 = {0.7};
  std::vector<double> h(2, NAN);
  ref::mingru(x.data(), w.data(), bias.data(), h0.data(), h.data(), 1, 2, 1, 1);
  double prev = 0.7;
  for (int t = 0; t < 2; ++t) {
    const double z = sigmoid(0.5 * x[t] + 0.1), kh = -2 * x[t] + 0.3;
    const double cand = kh >= 0 ? kh + 0.5 : sigmoid(kh);
    prev = (1 - z) * prev + z * cand;
    EXPECT_NEAR(h[t], prev, 1e-15) << t;
  }
  // x = 1: k_h = -1.7 < 0, so the candidate is sigmoid(-1.7); x = -0.5: k_h = 1.3, candidate 1.8.
  EXPECT_NEAR(h[1], (1 - sigmoid(-0.15)) * h[0] + sigmoid(-0.15) * 1.8, 1e-15);
}

TEST(ReferenceMinLstm, NormalizedGatesSumToOne) {
  // Equal forget and input pre-activations: f' = i' = 1/2 whatever their value.
  const std::vector<double> w = {0.3, 0.3, 1.0}, bias = {0.2, 0.2, 0.0}, x = {2.0}, h0 = {0.4};
  std::vector<double> h(1, NAN);
  ref::minlstm(x.data(), w.data(), bias.data(), h0.data(), h.data(), 1, 1, 1, 1);
  EXPECT_NEAR(h[0], 0.5 * 0.4 + 0.5 * 2.5, 1e-15);
  // k_f = 2, k_i = -2: f' = sigmoid(2) / (sigmoid(2) + sigmoid(-2)) = sigmoid(2), i' = sigmoid(-2).
  const std::vector<double> w2 = {1.0, -1.0, -1.0}, b2 = {0, 0, 0};
  ref::minlstm(x.data(), w2.data(), b2.data(), h0.data(), h.data(), 1, 1, 1, 1);
  EXPECT_NEAR(h[0], sigmoid(2) * 0.4 + sigmoid(-2) * sigmoid(-2), 1e-15);
}

TEST(ReferenceGru, OneStepByHand) {
  // d_in = 1, D = 1, gate columns z, r, n.
  const std::vector<double> x = {1.0}, w = {0.1, 0.2, 0.3}, u = {0.4, 0.5, 0.6};
  const std::vector<double> bias = {0.0, 0.0, -0.1}, h0 = {0.5};
  std::vector<double> h(1, NAN);
  ref::gru(x.data(), w.data(), u.data(), bias.data(), h0.data(), h.data(), 1, 1, 1, 1);
  const double z = sigmoid(0.1 + 0.4 * 0.5), r = sigmoid(0.2 + 0.5 * 0.5);
  const double n = std::tanh(0.3 - 0.1 + 0.6 * (r * 0.5));  // reset before the recurrent product
  EXPECT_NEAR(h[0], (1 - z) * 0.5 + z * n, 1e-15);
}

TEST(ReferenceGru, RecurrentProductMixesChannels) {
  // D = 2: channel 1's gates read h_{t-1}[0] through U's first row.
  const std::vector<double> x = {0.0}, w(6, 0.0), bias(6, 0.0), h0 = {1.0, 0.0};
  std::vector<double> u(12, 0.0);
  u[0 * 6 + 5] = 2.0;  // U[0, n gate of channel 1]
  u[0 * 6 + 1] = 3.0;  // U[0, z gate of channel 1]
  std::vector<double> h(2, NAN);
  ref::gru(x.data(), w.data(), u.data(), bias.data(), h0.data(), h.data(), 1, 1, 1, 2);
  // channel 1: z = sigmoid(3), r = 1/2, n = tanh(2 * r * h0[0]) = tanh(1), h = z * tanh(1).
  EXPECT_NEAR(h[1], sigmoid(3) * std::tanh(1.0), 1e-15);
  // channel 0: z = 1/2, n = tanh(0) = 0: h = 0.5.
  EXPECT_NEAR(h[0], 0.5, 1e-15);
}

TEST(ReferenceLstm, OneStepByHand) {
  // d_in = 1, D = 1, gate columns i, f, g, o.
  const std::vector<double> x = {0.5}, w = {1.0, -1.0, 2.0, 0.5}, u = {0.1, 0.2, 0.3, 0.4};
  const std::vector<double> bias = {0, 0.5, 0, 0}, h0 = {-0.3}, c0 = {0.8};
  std::vector<double> h(2, NAN);
  ref::lstm(x.data(), w.data(), u.data(), bias.data(), h0.data(), c0.data(), h.data(), 1, 1, 1, 1);
  const double i = sigmoid(0.5 - 0.03), f = sigmoid(-0.5 + 0.5 - 0.06);
  const double g = std::tanh(1.0 - 0.09), o = sigmoid(0.25 - 0.12);
  const double c = f * 0.8 + i * g;
  EXPECT_NEAR(h[0], o * std::tanh(c), 1e-15);
}

}  // namespace
}  // namespace opbench
