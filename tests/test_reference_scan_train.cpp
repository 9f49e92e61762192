// The float64 references of the scan family's training steps against values worked out by hand
// (one step of one channel), identities (dh on the last step only reaches earlier steps through
// the gates; the training step's h is the forward reference's) and directional finite
// differences of the forward references. The finite-difference check of every element runs over
// the registry in tests/test_suites_backward.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "reference/scan.hpp"
#include "reference/scan_train.hpp"

namespace opbench {
namespace {

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// Deterministic values in [lo, hi) (not all equal, never all zero).
std::vector<double> ramp(std::size_t n, double lo, double hi, double phase = 0.0) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = lo + (hi - lo) * std::fmod(0.618033988 * static_cast<double>(i + 1) + phase, 1.0);
  }
  return v;
}

// A minimal layer's case: minGRU (gates 2) or minLSTM (gates 3).
struct MinGruCase {
  std::int64_t B, T, d_in, D;
  std::vector<double> x, w, bias, h0, dh;
  MinGruCase(std::int64_t b, std::int64_t t, std::int64_t i, std::int64_t d, std::int64_t gates = 2)
      : B(b),
        T(t),
        d_in(i),
        D(d),
        x(ramp(static_cast<std::size_t>(b * t * i), -2, 2)),
        w(ramp(static_cast<std::size_t>(i * gates * d), -0.8, 0.8, 0.3)),
        bias(ramp(static_cast<std::size_t>(gates * d), -0.5, 0.5, 0.7)),
        h0(ramp(static_cast<std::size_t>(b * d), 0.1, 1, 0.1)),
        dh(ramp(static_cast<std::size_t>(b * t * d), -1, 1, 0.5)) {}
};

struct MinGruOut {
  std::vector<double> h, dx, dw, dbias, dh0;
};

MinGruOut run(const MinGruCase& c) {
  MinGruOut o;
  o.h.assign(static_cast<std::size_t>(c.B * c.T * c.D), NAN);
  o.dx.assign(static_cast<std::size_t>(c.B * c.T * c.d_in), NAN);
  o.dw.assign(static_cast<std::size_t>(c.d_in * 2 * c.D), NAN);
  o.dbias.assign(static_cast<std::size_t>(2 * c.D), NAN);
  o.dh0.assign(static_cast<std::size_t>(c.B * c.D), NAN);
  ref::mingru_train(c.x.data(), c.w.data(), c.bias.data(), c.h0.data(), c.dh.data(), o.h.data(),
                    o.dx.data(), o.dw.data(), o.dbias.data(), o.dh0.data(), c.B, c.T, c.d_in, c.D);
  return o;
}

TEST(ReferenceMinGruTrain, OneStepByHand) {
  // batch 1, T 1, d_in 1, D 1: k_z = x w_z + b_z, k_h = x w_h + b_h, h = (1 - z) h0 + z g(k_h).
  // x = 2, w = (0.25, 0.5), bias = (-0.25, 0.5): k_z = 0.25, k_h = 1.5 (g = k + 0.5 = 2, g' = 1).
  const double x = 2, w[2] = {0.25, 0.5}, bias[2] = {-0.25, 0.5}, h0 = 0.75, dh = 3;
  double h, dx, dw[2], dbias[2], dh0;
  ref::mingru_train(&x, w, bias, &h0, &dh, &h, &dx, dw, dbias, &dh0, 1, 1, 1, 1);
  const double z = sigmoid(0.25), c = 2.0;
  EXPECT_DOUBLE_EQ(h, (1 - z) * h0 + z * c);
  const double dkz = dh * (c - h0) * z * (1 - z), dkh = dh * z * 1.0;
  EXPECT_DOUBLE_EQ(dbias[0], dkz);
  EXPECT_DOUBLE_EQ(dbias[1], dkh);
  EXPECT_DOUBLE_EQ(dw[0], x * dkz);
  EXPECT_DOUBLE_EQ(dw[1], x * dkh);
  EXPECT_DOUBLE_EQ(dx, dkz * w[0] + dkh * w[1]);
  EXPECT_DOUBLE_EQ(dh0, dh * (1 - z));
}

TEST(ReferenceMinGruTrain, NegativeCandidateUsesTheSigmoidBranchOfG) {
  // k_h = -1: g = sigmoid(-1), g' = sigmoid(-1) (1 - sigmoid(-1)).
  const double x = 1, w[2] = {0, -1}, bias[2] = {0, 0}, h0 = 0.5, dh = 1;
  double h, dx, dw[2], dbias[2], dh0;
  ref::mingru_train(&x, w, bias, &h0, &dh, &h, &dx, dw, dbias, &dh0, 1, 1, 1, 1);
  const double s = sigmoid(-1);
  EXPECT_DOUBLE_EQ(h, 0.5 * h0 + 0.5 * s);
  EXPECT_DOUBLE_EQ(dbias[1], 0.5 * s * (1 - s));
  EXPECT_DOUBLE_EQ(dbias[0], (s - h0) * 0.25);
}

TEST(ReferenceMinGruTrain, ItsHIsTheForwardReference) {
  const MinGruCase c(2, 7, 3, 4);
  const MinGruOut o = run(c);
  std::vector<double> h(o.h.size());
  ref::mingru(c.x.data(), c.w.data(), c.bias.data(), c.h0.data(), h.data(), c.B, c.T, c.d_in, c.D);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(o.h[i], h[i]) << i;
}

TEST(ReferenceMinGruTrain, GradientOnTheLastStepReachesEarlierStepsThroughTheGates) {
  // dh only on the last step: the gradient reaching step t is delta_t = prod_{s>t} (1 - z_s) times
  // dh_{T-1}, so dh0 = prod_s (1 - z_s) dh_{T-1} and nothing else contributes.
  MinGruCase c(1, 6, 2, 3);
  std::fill(c.dh.begin(), c.dh.end(), 0.0);
  for (std::int64_t d = 0; d < c.D; ++d) c.dh[static_cast<std::size_t>((c.T - 1) * c.D + d)] = 1.5;
  const MinGruOut o = run(c);
  for (std::int64_t d = 0; d < c.D; ++d) {
    double prod = 1.5;
    for (std::int64_t t = 0; t < c.T; ++t) {
      double kz = c.bias[static_cast<std::size_t>(d)];
      for (std::int64_t i = 0; i < c.d_in; ++i) {
        kz += c.x[static_cast<std::size_t>(t * c.d_in + i)] *
              c.w[static_cast<std::size_t>(i * 2 * c.D + d)];
      }
      prod *= 1 - sigmoid(kz);
    }
    EXPECT_NEAR(o.dh0[static_cast<std::size_t>(d)], prod, 1e-14) << d;
  }
  // No incoming gradient at all: every gradient is exactly zero.
  std::fill(c.dh.begin(), c.dh.end(), 0.0);
  const MinGruOut zero = run(c);
  for (double v : zero.dx) EXPECT_EQ(v, 0.0);
  for (double v : zero.dw) EXPECT_EQ(v, 0.0);
  for (double v : zero.dh0) EXPECT_EQ(v, 0.0);
}

TEST(ReferenceMinGruTrain, BatchEntriesAreIndependentAndWeightGradientsAddUp) {
  // Batch of 2 = the sum of the two single-entry steps for dW and dbias; dx and dh0 per entry.
  const MinGruCase both(2, 5, 3, 2);
  const MinGruOut o = run(both);
  std::vector<double> dw_sum(o.dw.size(), 0.0), dbias_sum(o.dbias.size(), 0.0);
  for (std::int64_t n = 0; n < 2; ++n) {
    MinGruCase one(1, 5, 3, 2);
    one.w = both.w;
    one.bias = both.bias;
    const std::size_t xs = static_cast<std::size_t>(5 * 3), hs = static_cast<std::size_t>(5 * 2);
    one.x.assign(both.x.begin() + static_cast<std::ptrdiff_t>(n * xs),
                 both.x.begin() + static_cast<std::ptrdiff_t>((n + 1) * xs));
    one.dh.assign(both.dh.begin() + static_cast<std::ptrdiff_t>(n * hs),
                  both.dh.begin() + static_cast<std::ptrdiff_t>((n + 1) * hs));
    one.h0.assign(both.h0.begin() + n * 2, both.h0.begin() + (n + 1) * 2);
    const MinGruOut s = run(one);
    for (std::size_t k = 0; k < s.dw.size(); ++k) dw_sum[k] += s.dw[k];
    for (std::size_t k = 0; k < s.dbias.size(); ++k) dbias_sum[k] += s.dbias[k];
    for (std::size_t k = 0; k < xs; ++k) EXPECT_DOUBLE_EQ(o.dx[n * xs + k], s.dx[k]);
    for (std::size_t k = 0; k < 2; ++k) EXPECT_DOUBLE_EQ(o.dh0[n * 2 + k], s.dh0[k]);
  }
  for (std::size_t k = 0; k < dw_sum.size(); ++k) EXPECT_NEAR(o.dw[k], dw_sum[k], 1e-13) << k;
  for (std::size_t k = 0; k < dbias_sum.size(); ++k) {
    EXPECT_NEAR(o.dbias[k], dbias_sum[k], 1e-13) << k;
  }
}

// L = sum dh * h(x + s v) for a direction v: dL/ds at 0 = <grad, v> for every input at once.
TEST(ReferenceMinGruTrain, DirectionalDerivativeMatchesTheForward) {
  const MinGruCase c(2, 11, 3, 5);
  const MinGruOut o = run(c);
  auto loss = [&](double s) {
    auto shift = [s](std::vector<double> v, double phase) {
      const auto dir = ramp(v.size(), -1, 1, phase);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] += s * dir[i];
      return v;
    };
    const auto x = shift(c.x, 0.11), w = shift(c.w, 0.22), b = shift(c.bias, 0.33),
               h0 = shift(c.h0, 0.44);
    std::vector<double> h(c.dh.size());
    ref::mingru(x.data(), w.data(), b.data(), h0.data(), h.data(), c.B, c.T, c.d_in, c.D);
    double l = 0;
    for (std::size_t i = 0; i < h.size(); ++i) l += c.dh[i] * h[i];
    return l;
  };
  double want = 0;
  auto dotdir = [&](const std::vector<double>& g, std::size_t n, double phase) {
    const auto dir = ramp(n, -1, 1, phase);
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += g[i] * dir[i];
    return s;
  };
  want += dotdir(o.dx, c.x.size(), 0.11) + dotdir(o.dw, c.w.size(), 0.22) +
          dotdir(o.dbias, c.bias.size(), 0.33) + dotdir(o.dh0, c.h0.size(), 0.44);
  const double eps = 1e-6;
  const double fd = (loss(eps) - loss(-eps)) / (2 * eps);
  EXPECT_NEAR(want, fd, 1e-6 * (1 + std::abs(fd)));
}

struct GruCase {
  std::int64_t B, T, d_in, D;
  std::vector<double> x, w, u, bias, h0, dh;
  GruCase(std::int64_t b, std::int64_t t, std::int64_t i, std::int64_t d)
      : B(b),
        T(t),
        d_in(i),
        D(d),
        x(ramp(static_cast<std::size_t>(b * t * i), -2, 2)),
        w(ramp(static_cast<std::size_t>(i * 3 * d), -0.8, 0.8, 0.3)),
        u(ramp(static_cast<std::size_t>(d * 3 * d), -0.6, 0.6, 0.9)),
        bias(ramp(static_cast<std::size_t>(3 * d), -0.5, 0.5, 0.7)),
        h0(ramp(static_cast<std::size_t>(b * d), 0.1, 1, 0.1)),
        dh(ramp(static_cast<std::size_t>(b * t * d), -1, 1, 0.5)) {}
};

struct GruOut {
  std::vector<double> h, dx, dw, du, dbias, dh0;
};

GruOut run(const GruCase& c) {
  GruOut o;
  o.h.assign(static_cast<std::size_t>(c.B * c.T * c.D), NAN);
  o.dx.assign(static_cast<std::size_t>(c.B * c.T * c.d_in), NAN);
  o.dw.assign(static_cast<std::size_t>(c.d_in * 3 * c.D), NAN);
  o.du.assign(static_cast<std::size_t>(c.D * 3 * c.D), NAN);
  o.dbias.assign(static_cast<std::size_t>(3 * c.D), NAN);
  o.dh0.assign(static_cast<std::size_t>(c.B * c.D), NAN);
  ref::gru_train(c.x.data(), c.w.data(), c.u.data(), c.bias.data(), c.h0.data(), c.dh.data(),
                 o.h.data(), o.dx.data(), o.dw.data(), o.du.data(), o.dbias.data(), o.dh0.data(),
                 c.B, c.T, c.d_in, c.D);
  return o;
}

TEST(ReferenceGruTrain, OneStepByHand) {
  // batch 1, T 1, d_in 1, D 1, every weight written out:
  //   a_z = x w_z + h0 u_z + b_z, a_r = x w_r + h0 u_r + b_r, a_n = x w_n + (r h0) u_n + b_n.
  const double x = 1.5, h0 = 0.6, dh = 2;
  const double w[3] = {0.2, -0.4, 0.7}, u[3] = {0.3, 0.5, -0.9}, bias[3] = {0.1, 0.2, -0.3};
  double h, dx, dw[3], du[3], dbias[3], dh0;
  ref::gru_train(&x, w, u, bias, &h0, &dh, &h, &dx, dw, du, dbias, &dh0, 1, 1, 1, 1);
  const double z = sigmoid(x * w[0] + h0 * u[0] + bias[0]);
  const double r = sigmoid(x * w[1] + h0 * u[1] + bias[1]);
  const double n = std::tanh(x * w[2] + r * h0 * u[2] + bias[2]);
  EXPECT_DOUBLE_EQ(h, (1 - z) * h0 + z * n);
  const double dan = dh * z * (1 - n * n);
  const double daz = dh * (n - h0) * z * (1 - z);
  const double drh = dan * u[2];
  const double dar = drh * h0 * r * (1 - r);
  EXPECT_DOUBLE_EQ(dbias[0], daz);
  EXPECT_DOUBLE_EQ(dbias[1], dar);
  EXPECT_DOUBLE_EQ(dbias[2], dan);
  EXPECT_DOUBLE_EQ(dw[0], x * daz);
  EXPECT_DOUBLE_EQ(dw[1], x * dar);
  EXPECT_DOUBLE_EQ(dw[2], x * dan);
  EXPECT_DOUBLE_EQ(du[0], h0 * daz);
  EXPECT_DOUBLE_EQ(du[1], h0 * dar);
  EXPECT_DOUBLE_EQ(du[2], r * h0 * dan);
  EXPECT_NEAR(dx, daz * w[0] + dar * w[1] + dan * w[2], 1e-15);
  EXPECT_NEAR(dh0, dh * (1 - z) + drh * r + daz * u[0] + dar * u[1], 1e-15);
}

TEST(ReferenceGruTrain, ItsHIsTheForwardReference) {
  const GruCase c(2, 6, 3, 4);
  const GruOut o = run(c);
  std::vector<double> h(o.h.size());
  ref::gru(c.x.data(), c.w.data(), c.u.data(), c.bias.data(), c.h0.data(), h.data(), c.B, c.T,
           c.d_in, c.D);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(o.h[i], h[i]) << i;
}

TEST(ReferenceGruTrain, DirectionalDerivativeMatchesTheForward) {
  const GruCase c(2, 9, 3, 4);
  const GruOut o = run(c);
  auto loss = [&](double s) {
    auto shift = [s](std::vector<double> v, double phase) {
      const auto dir = ramp(v.size(), -1, 1, phase);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] += s * dir[i];
      return v;
    };
    const auto x = shift(c.x, 0.11), w = shift(c.w, 0.22), u = shift(c.u, 0.55),
               b = shift(c.bias, 0.33), h0 = shift(c.h0, 0.44);
    std::vector<double> h(c.dh.size());
    ref::gru(x.data(), w.data(), u.data(), b.data(), h0.data(), h.data(), c.B, c.T, c.d_in, c.D);
    double l = 0;
    for (std::size_t i = 0; i < h.size(); ++i) l += c.dh[i] * h[i];
    return l;
  };
  auto dotdir = [&](const std::vector<double>& g, double phase) {
    const auto dir = ramp(g.size(), -1, 1, phase);
    double s = 0;
    for (std::size_t i = 0; i < g.size(); ++i) s += g[i] * dir[i];
    return s;
  };
  const double want = dotdir(o.dx, 0.11) + dotdir(o.dw, 0.22) + dotdir(o.du, 0.55) +
                      dotdir(o.dbias, 0.33) + dotdir(o.dh0, 0.44);
  const double eps = 1e-6;
  const double fd = (loss(eps) - loss(-eps)) / (2 * eps);
  EXPECT_NEAR(want, fd, 1e-6 * (1 + std::abs(fd)));
}

TEST(ReferenceGruTrain, GradientOnTheLastStepOnlyLeavesLaterStepsOut) {
  // dh on the last step only: the last step's own gradients are those of a one-step GRU from
  // h_{T-2}; with a zero dh everywhere every gradient is exactly zero.
  GruCase c(1, 5, 2, 3);
  std::fill(c.dh.begin(), c.dh.end(), 0.0);
  const GruOut zero = run(c);
  for (double v : zero.du) EXPECT_EQ(v, 0.0);
  for (double v : zero.dh0) EXPECT_EQ(v, 0.0);
  for (std::int64_t d = 0; d < c.D; ++d) c.dh[static_cast<std::size_t>((c.T - 1) * c.D + d)] = 1;
  const GruOut full = run(c);
  GruCase last(1, 1, 2, 3);
  last.w = c.w;
  last.u = c.u;
  last.bias = c.bias;
  last.x.assign(c.x.end() - 2, c.x.end());
  last.h0.assign(full.h.end() - 6, full.h.end() - 3);  // h_{T-2}
  last.dh.assign(3, 1.0);
  const GruOut one = run(last);
  for (std::size_t k = 0; k < 2; ++k) {
    EXPECT_NEAR(full.dx[full.dx.size() - 2 + k], one.dx[k], 1e-14) << k;
  }
  for (std::size_t k = 0; k < full.dx.size() - 2; ++k) {
    EXPECT_NE(full.dx[k], 0.0) << k;  // earlier steps do get gradient, through h
  }
}

// --- minLSTM ---------------------------------------------------------------------------------

MinGruOut run_minlstm(const MinGruCase& c) {
  MinGruOut o;
  o.h.assign(static_cast<std::size_t>(c.B * c.T * c.D), NAN);
  o.dx.assign(static_cast<std::size_t>(c.B * c.T * c.d_in), NAN);
  o.dw.assign(static_cast<std::size_t>(c.d_in * 3 * c.D), NAN);
  o.dbias.assign(static_cast<std::size_t>(3 * c.D), NAN);
  o.dh0.assign(static_cast<std::size_t>(c.B * c.D), NAN);
  ref::minlstm_train(c.x.data(), c.w.data(), c.bias.data(), c.h0.data(), c.dh.data(), o.h.data(),
                     o.dx.data(), o.dw.data(), o.dbias.data(), o.dh0.data(), c.B, c.T, c.d_in, c.D);
  return o;
}

// <grad, v> summed over (gradient, direction phase) pairs, v = ramp(-1, 1, phase).
double along(std::initializer_list<std::pair<const std::vector<double>*, double>> grads) {
  double s = 0;
  for (const auto& [g, phase] : grads) {
    const auto dir = ramp(g->size(), -1, 1, phase);
    for (std::size_t i = 0; i < g->size(); ++i) s += (*g)[i] * dir[i];
  }
  return s;
}

// v + s * ramp(-1, 1, phase).
std::vector<double> shifted(std::vector<double> v, double s, double phase) {
  const auto dir = ramp(v.size(), -1, 1, phase);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] += s * dir[i];
  return v;
}

TEST(ReferenceMinLstmTrain, OneStepByHand) {
  // batch 1, T 1, d_in 1, D 1: k = x w + bias = (k_f, k_i, k_h) = (0.25, -1.5, 1.5);
  // g(1.5) = 2, g' = 1. h = f / (f + i) h0 + i / (f + i) g, differentiated with the quotient rule.
  const double x = 2, w[3] = {0.25, -0.5, 0.5}, bias[3] = {-0.25, -0.5, 0.5}, h0 = 0.75, dh = 3;
  double h, dx, dw[3], dbias[3], dh0;
  ref::minlstm_train(&x, w, bias, &h0, &dh, &h, &dx, dw, dbias, &dh0, 1, 1, 1, 1);
  const double f = sigmoid(0.25), i = sigmoid(-1.5), c = 2.0, s = f + i;
  EXPECT_DOUBLE_EQ(h, f / s * h0 + i / s * c);
  // dh/df = (h0 - c) i / s^2, dh/di = (c - h0) f / s^2, dh/dc = i / s.
  const double dkf = dh * (h0 - c) * i / (s * s) * f * (1 - f);
  const double dki = dh * (c - h0) * f / (s * s) * i * (1 - i);
  const double dkh = dh * i / s;
  EXPECT_NEAR(dbias[0], dkf, 1e-15);
  EXPECT_NEAR(dbias[1], dki, 1e-15);
  EXPECT_NEAR(dbias[2], dkh, 1e-15);
  EXPECT_NEAR(dw[0], x * dkf, 1e-15);
  EXPECT_NEAR(dw[1], x * dki, 1e-15);
  EXPECT_NEAR(dw[2], x * dkh, 1e-15);
  EXPECT_NEAR(dx, dkf * w[0] + dki * w[1] + dkh * w[2], 1e-15);
  EXPECT_DOUBLE_EQ(dh0, dh * f / s);
}

TEST(ReferenceMinLstmTrain, ItsHIsTheForwardReference) {
  const MinGruCase c(2, 7, 3, 4, 3);
  const MinGruOut o = run_minlstm(c);
  std::vector<double> h(o.h.size());
  ref::minlstm(c.x.data(), c.w.data(), c.bias.data(), c.h0.data(), h.data(), c.B, c.T, c.d_in, c.D);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(o.h[i], h[i]) << i;
}

TEST(ReferenceMinLstmTrain, EqualGatesHalveTheStateAndTheirGradientsCancel) {
  // The f and i columns of W and bias equal: f = i at every step, so f' = i' = 1/2,
  // h_t = (h_{t-1} + c_t) / 2 and dh0 = sum_t dh_t 2^-(t+1). Raising both gates together leaves
  // h unchanged: dk_f = -dk_i, so dW_f = -dW_i and dbias_f = -dbias_i.
  MinGruCase c(1, 6, 2, 3, 3);
  for (std::int64_t i = 0; i < c.d_in; ++i) {
    for (std::int64_t d = 0; d < c.D; ++d) {
      c.w[static_cast<std::size_t>(i * 3 * c.D + c.D + d)] =
          c.w[static_cast<std::size_t>(i * 3 * c.D + d)];
    }
  }
  for (std::int64_t d = 0; d < c.D; ++d) {
    c.bias[static_cast<std::size_t>(c.D + d)] = c.bias[static_cast<std::size_t>(d)];
  }
  const MinGruOut o = run_minlstm(c);
  for (std::int64_t d = 0; d < c.D; ++d) {
    double want = 0, scale = 0.5;
    for (std::int64_t t = 0; t < c.T; ++t, scale *= 0.5) {
      want += c.dh[static_cast<std::size_t>(t * c.D + d)] * scale;
    }
    EXPECT_NEAR(o.dh0[static_cast<std::size_t>(d)], want, 1e-15) << d;
    EXPECT_NEAR(o.dbias[static_cast<std::size_t>(d)], -o.dbias[static_cast<std::size_t>(c.D + d)],
                1e-15);
    EXPECT_NE(o.dbias[static_cast<std::size_t>(d)], 0.0);
    for (std::int64_t i = 0; i < c.d_in; ++i) {
      EXPECT_NEAR(o.dw[static_cast<std::size_t>(i * 3 * c.D + d)],
                  -o.dw[static_cast<std::size_t>(i * 3 * c.D + c.D + d)], 1e-15);
    }
  }
}

TEST(ReferenceMinLstmTrain, DirectionalDerivativeMatchesTheForward) {
  const MinGruCase c(2, 11, 3, 5, 3);
  const MinGruOut o = run_minlstm(c);
  auto loss = [&](double s) {
    const auto x = shifted(c.x, s, 0.11), w = shifted(c.w, s, 0.22), b = shifted(c.bias, s, 0.33),
               h0 = shifted(c.h0, s, 0.44);
    std::vector<double> h(c.dh.size());
    ref::minlstm(x.data(), w.data(), b.data(), h0.data(), h.data(), c.B, c.T, c.d_in, c.D);
    double l = 0;
    for (std::size_t i = 0; i < h.size(); ++i) l += c.dh[i] * h[i];
    return l;
  };
  const double want = along({{&o.dx, 0.11}, {&o.dw, 0.22}, {&o.dbias, 0.33}, {&o.dh0, 0.44}});
  const double eps = 1e-6;
  const double fd = (loss(eps) - loss(-eps)) / (2 * eps);
  EXPECT_NEAR(want, fd, 1e-6 * (1 + std::abs(fd)));
}

// --- LSTM ------------------------------------------------------------------------------------

struct LstmCase {
  std::int64_t B, T, d_in, D;
  std::vector<double> x, w, u, bias, h0, c0, dh;
  LstmCase(std::int64_t b, std::int64_t t, std::int64_t i, std::int64_t d)
      : B(b),
        T(t),
        d_in(i),
        D(d),
        x(ramp(static_cast<std::size_t>(b * t * i), -2, 2)),
        w(ramp(static_cast<std::size_t>(i * 4 * d), -0.8, 0.8, 0.3)),
        u(ramp(static_cast<std::size_t>(d * 4 * d), -0.6, 0.6, 0.9)),
        bias(ramp(static_cast<std::size_t>(4 * d), -0.5, 0.5, 0.7)),
        h0(ramp(static_cast<std::size_t>(b * d), 0.1, 1, 0.1)),
        c0(ramp(static_cast<std::size_t>(b * d), -1, 1, 0.6)),
        dh(ramp(static_cast<std::size_t>(b * t * d), -1, 1, 0.5)) {}
};

struct LstmOut {
  std::vector<double> h, dx, dw, du, dbias, dh0, dc0;
};

LstmOut run(const LstmCase& c) {
  LstmOut o;
  o.h.assign(static_cast<std::size_t>(c.B * c.T * c.D), NAN);
  o.dx.assign(static_cast<std::size_t>(c.B * c.T * c.d_in), NAN);
  o.dw.assign(static_cast<std::size_t>(c.d_in * 4 * c.D), NAN);
  o.du.assign(static_cast<std::size_t>(c.D * 4 * c.D), NAN);
  o.dbias.assign(static_cast<std::size_t>(4 * c.D), NAN);
  o.dh0.assign(static_cast<std::size_t>(c.B * c.D), NAN);
  o.dc0.assign(static_cast<std::size_t>(c.B * c.D), NAN);
  ref::lstm_train(c.x.data(), c.w.data(), c.u.data(), c.bias.data(), c.h0.data(), c.c0.data(),
                  c.dh.data(), o.h.data(), o.dx.data(), o.dw.data(), o.du.data(), o.dbias.data(),
                  o.dh0.data(), o.dc0.data(), c.B, c.T, c.d_in, c.D);
  return o;
}

TEST(ReferenceLstmTrain, OneStepByHand) {
  // batch 1, T 1, d_in 1, D 1, every weight written out (columns i, f, g, o):
  //   k = x w + h0 u + bias, c = f c0 + i g, h = o tanh(c).
  const double x = 1.5, h0 = 0.6, c0 = -0.4, dh = 2;
  const double w[4] = {0.2, -0.4, 0.7, 0.3}, u[4] = {0.3, 0.5, -0.9, 0.1},
               bias[4] = {0.1, 0.2, -0.3, 0.4};
  double h, dx, dw[4], du[4], dbias[4], dh0, dc0;
  ref::lstm_train(&x, w, u, bias, &h0, &c0, &dh, &h, &dx, dw, du, dbias, &dh0, &dc0, 1, 1, 1, 1);
  double k[4];
  for (int j = 0; j < 4; ++j) k[j] = x * w[j] + h0 * u[j] + bias[j];
  const double i = sigmoid(k[0]), f = sigmoid(k[1]), g = std::tanh(k[2]), o = sigmoid(k[3]);
  const double c = f * c0 + i * g, tc = std::tanh(c);
  EXPECT_DOUBLE_EQ(h, o * tc);
  const double dc = dh * o * (1 - tc * tc);
  const double dk[4] = {dc * g * i * (1 - i), dc * c0 * f * (1 - f), dc * i * (1 - g * g),
                        dh * tc * o * (1 - o)};
  for (int j = 0; j < 4; ++j) {
    EXPECT_NEAR(dbias[j], dk[j], 1e-15) << j;
    EXPECT_NEAR(dw[j], x * dk[j], 1e-15) << j;
    EXPECT_NEAR(du[j], h0 * dk[j], 1e-15) << j;
  }
  EXPECT_NEAR(dx, dk[0] * w[0] + dk[1] * w[1] + dk[2] * w[2] + dk[3] * w[3], 1e-15);
  EXPECT_NEAR(dh0, dk[0] * u[0] + dk[1] * u[1] + dk[2] * u[2] + dk[3] * u[3], 1e-15);
  EXPECT_NEAR(dc0, dc * f, 1e-15);
}

TEST(ReferenceLstmTrain, ItsHIsTheForwardReference) {
  const LstmCase c(2, 6, 3, 4);
  const LstmOut o = run(c);
  std::vector<double> h(o.h.size());
  ref::lstm(c.x.data(), c.w.data(), c.u.data(), c.bias.data(), c.h0.data(), c.c0.data(), h.data(),
            c.B, c.T, c.d_in, c.D);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(o.h[i], h[i]) << i;
}

TEST(ReferenceLstmTrain, WithoutURecurrenceOnlyTheCellCarriesGradient) {
  // U = 0: h_{t-1} enters no gate, so dh0 is exactly 0; the gradient reaches c0 along the cell
  // alone: dc0 = sum_t dh_t o_t (1 - tanh^2 c_t) prod_{s <= t} f_s.
  LstmCase c(1, 5, 2, 3);
  std::fill(c.u.begin(), c.u.end(), 0.0);
  const LstmOut o = run(c);
  for (double v : o.dh0) EXPECT_EQ(v, 0.0);
  for (std::int64_t d = 0; d < c.D; ++d) {
    double want = 0, fprod = 1;  // prod of f_s for s <= t
    double cell = c.c0[static_cast<std::size_t>(d)];
    for (std::int64_t t = 0; t < c.T; ++t) {
      double k[4];
      for (int j = 0; j < 4; ++j) {
        const std::size_t col = static_cast<std::size_t>(j * c.D + d);
        k[j] = c.bias[col];
        for (std::int64_t i = 0; i < c.d_in; ++i) {
          k[j] += c.x[static_cast<std::size_t>(t * c.d_in + i)] *
                  c.w[static_cast<std::size_t>(i * 4 * c.D) + col];
        }
      }
      const double f = sigmoid(k[1]), o_t = sigmoid(k[3]);
      cell = f * cell + sigmoid(k[0]) * std::tanh(k[2]);
      fprod *= f;
      const double tc = std::tanh(cell);
      want += c.dh[static_cast<std::size_t>(t * c.D + d)] * o_t * (1 - tc * tc) * fprod;
    }
    EXPECT_NEAR(o.dc0[static_cast<std::size_t>(d)], want, 1e-14) << d;
    EXPECT_NE(want, 0.0);
  }
}

TEST(ReferenceLstmTrain, DirectionalDerivativeMatchesTheForward) {
  const LstmCase c(2, 9, 3, 4);
  const LstmOut o = run(c);
  auto loss = [&](double s) {
    const auto x = shifted(c.x, s, 0.11), w = shifted(c.w, s, 0.22), u = shifted(c.u, s, 0.55),
               b = shifted(c.bias, s, 0.33), h0 = shifted(c.h0, s, 0.44),
               c0 = shifted(c.c0, s, 0.66);
    std::vector<double> h(c.dh.size());
    ref::lstm(x.data(), w.data(), u.data(), b.data(), h0.data(), c0.data(), h.data(), c.B, c.T,
              c.d_in, c.D);
    double l = 0;
    for (std::size_t i = 0; i < h.size(); ++i) l += c.dh[i] * h[i];
    return l;
  };
  const double want = along({{&o.dx, 0.11},
                             {&o.dw, 0.22},
                             {&o.du, 0.55},
                             {&o.dbias, 0.33},
                             {&o.dh0, 0.44},
                             {&o.dc0, 0.66}});
  const double eps = 1e-6;
  const double fd = (loss(eps) - loss(-eps)) / (2 * eps);
  EXPECT_NEAR(want, fd, 1e-6 * (1 + std::abs(fd)));
}

}  // namespace
}  // namespace opbench
