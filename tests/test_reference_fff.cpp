// The float64 references of the fff family against hand-computed values and identities (never
// against themselves): routing on the sign of the decision value (>= 0 for FFF nodes, > 0 for
// UltraFastBERT neurons), GeLU values, mixture weights that sum to one, and rounding bounds that
// really bound a float32 evaluation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "reference/fff.hpp"

namespace opbench {
namespace {

// Phi(1.5) and Phi(1) to 16 digits (tables of the standard normal CDF).
constexpr double kPhi15 = 0.9331927987311419;
constexpr double kPhi1 = 0.8413447460685429;

TEST(ReferenceGelu, HandValuesAndOddPartIdentity) {
  EXPECT_DOUBLE_EQ(ref::gelu(0), 0);
  EXPECT_NEAR(ref::gelu(1.5), 1.5 * kPhi15, 1e-15);
  EXPECT_NEAR(ref::gelu(-1), -(1 - kPhi1), 1e-15);
  for (double z : {-7.0, -2.5, -0.3, 0.1, 0.9, 3.0}) {
    EXPECT_NEAR(ref::gelu(z) - ref::gelu(-z), z, 1e-14) << z;  // z Phi(z) + z Phi(-z) = z
  }
  EXPECT_LT(ref::gelu(-30), 0);  // the lower tail does not cancel to zero
}

// depth 1, d_in 2, d_out 1: node 0 has lambda = x . [1, -1].
struct TinyUltra {
  std::vector<double> w_in = {1, -1, 0.5, 0.5, -2, 1};
  std::vector<double> w_out = {2, 3, 5};
};

TEST(ReferenceUltrafast, HandComputedPathAndOutput) {
  TinyUltra t;
  const std::vector<double> x = {1, 2,   // lambda_0 = -1: left to node 1, lambda_1 = 1.5
                                 3, 1,   // lambda_0 = 2: right to node 2, lambda_2 = -5
                                 1, 1};  // lambda_0 = 0 exactly: left (the rule is lambda > 0)
  std::vector<double> y(3, NAN);
  std::vector<std::int64_t> path(6, -1);
  ref::ultrafast_fff(x.data(), t.w_in.data(), t.w_out.data(), y.data(), path.data(), 3, 2, 1, 1);
  EXPECT_EQ(path, (std::vector<std::int64_t>{0, 1, 0, 2, 0, 1}));
  EXPECT_NEAR(y[0], -(1 - kPhi1) * 2 + 1.5 * kPhi15 * 3, 1e-14);
  EXPECT_NEAR(y[1], ref::gelu(2) * 2 + ref::gelu(-5) * 5, 1e-14);
  EXPECT_NEAR(y[2], 0 * 2 + ref::gelu(1) * 3, 1e-14);
}

TEST(ReferenceUltrafast, AlongPathSumsTheGivenNodes) {
  TinyUltra t;
  const std::vector<double> x = {1, 2};
  const std::int64_t other[] = {0, 2};  // the branch the reference did not take
  double y = NAN;
  ref::ultrafast_fff_along_path(x.data(), t.w_in.data(), t.w_out.data(), other, &y, 2, 1, 1);
  EXPECT_NEAR(y, -(1 - kPhi1) * 2 + ref::gelu(0) * 5, 1e-14);
}

TEST(ReferenceDenseFf, TwoMirroredNeuronsGiveTwoPhiMinusOne) {
  const double x = 1, w_in[] = {1, -1}, w_out[] = {1, 1};
  double y = NAN;
  ref::dense_ff(&x, w_in, w_out, &y, 1, 1, 1, 2);
  EXPECT_NEAR(y, 2 * kPhi1 - 1, 1e-15);  // GeLU(1) + GeLU(-1) = Phi(1) - Phi(-1)
}

// depth 1, d_in = d_out = 1, node_width = leaf_width = 1:
//   node: one linear neuron, logit = -0.5 + 1 x (the second-layer weights are NaN: never read)
//   leaf 0: y = 0.5 + 3 ReLU(-1 + 2x);  leaf 1: y = 1 + 0.5 ReLU(4 - x)
struct TinyFff {
  std::vector<double> nw1 = {1}, nb1 = {-0.5}, nw2 = {NAN}, nb2 = {NAN};
  std::vector<double> lw1 = {2, -1}, lb1 = {-1, 4}, lw2 = {3, 0.5}, lb2 = {0.5, 1};
  ref::FffWeights w() const {
    return {nw1.data(), nb1.data(), nw2.data(), nb2.data(),
            lw1.data(), lb1.data(), lw2.data(), lb2.data()};
  }
  ref::FffShape s{1, 1, 1, 1, 1};
};

TEST(ReferenceFff, HandComputedLeavesAndOutputs) {
  TinyFff t;
  const std::vector<double> x = {1, 0.25, 0.5};  // logits 0.5, -0.25, 0 (exactly: goes right)
  std::vector<double> y(3, NAN);
  std::vector<std::int64_t> leaf(3, -1);
  ref::fff(x.data(), t.w(), t.s, y.data(), leaf.data(), 3);
  EXPECT_EQ(leaf, (std::vector<std::int64_t>{1, 0, 1}));
  EXPECT_DOUBLE_EQ(y[0], 1 + 0.5 * 3);
  EXPECT_DOUBLE_EQ(y[1], 0.5);  // -1 + 0.5 < 0: the leaf's neuron is off
  EXPECT_DOUBLE_EQ(y[2], 1 + 0.5 * 3.5);
}

TEST(ReferenceSoftFff, HandComputedMixture) {
  TinyFff t;
  const double x = 1;
  double y = NAN;
  ref::soft_fff(&x, t.w(), t.s, &y, 1);
  const double p = 1 / (1 + std::exp(-0.5));  // right child's weight
  EXPECT_NEAR(y, (1 - p) * 3.5 + p * 2.5, 1e-15);
}

TEST(ReferenceSoftFff, SaturatedDecisionsEqualHardRouting) {
  TinyFff t;
  t.nw1 = {1e3};
  t.nb1 = {-0.5e3};  // logit 1e3 (x - 0.5): sigmoid saturates to 0 or 1 in float64
  for (double x : {0.0, 0.25, 0.75, 2.0}) {
    double soft = NAN, hard = NAN;
    std::int64_t leaf = -1;
    ref::soft_fff(&x, t.w(), t.s, &soft, 1);
    ref::fff(&x, t.w(), t.s, &hard, &leaf, 1);
    EXPECT_NEAR(soft, hard, 1e-12) << x;
  }
}

TEST(ReferenceSoftFff, MixtureWeightsSumToOne) {
  // depth 3, every leaf outputs the constant 1 (w2 = 0, b2 = 1): y = sum of the mixture weights.
  ref::FffShape s{4, 1, 3, 2, 1};
  std::mt19937 gen(7);
  std::normal_distribution<double> n(0, 1);
  auto rnd = [&](std::size_t k) {
    std::vector<double> v(k);
    for (auto& e : v) e = n(gen);
    return v;
  };
  auto nw1 = rnd(7 * 2 * 4), nb1 = rnd(14), nw2 = rnd(14), nb2 = rnd(7), lw1 = rnd(8 * 4),
       lb1 = rnd(8);
  std::vector<double> lw2(8, 0), lb2(8, 1);
  const ref::FffWeights w{nw1.data(), nb1.data(), nw2.data(), nb2.data(),
                          lw1.data(), lb1.data(), lw2.data(), lb2.data()};
  auto x = rnd(5 * 4);
  std::vector<double> y(5, NAN);
  ref::soft_fff(x.data(), w, s, y.data(), 5);
  for (double v : y) EXPECT_NEAR(v, 1, 1e-14);
}

TEST(ReferenceFff, LinearNodesRouteOnTheSignOfWDotXPlusB) {
  // depth 2, d_in 2, node_width 1: node 0: x0 - x1; node 1: 0.5 x0 + 0.5 x1 - 1; node 2: 2 - x0.
  // Leaf l outputs the constant 10 (l + 1) (its hidden neuron is off: w1 = 0, b1 = -1).
  ref::FffShape s{2, 1, 2, 1, 1};
  const std::vector<double> nw1 = {1, -1, 0.5, 0.5, -1, 0}, nb1 = {0, -1, 2}, nw2 = {NAN, NAN, NAN},
                            nb2 = {NAN, NAN, NAN};
  const std::vector<double> lw1(8, 0), lb1(4, -1), lw2(4, 1), lb2 = {10, 20, 30, 40};
  const ref::FffWeights w{nw1.data(), nb1.data(), nw2.data(), nb2.data(),
                          lw1.data(), lb1.data(), lw2.data(), lb2.data()};
  const std::vector<double> x = {
      1, 2,  // node 0: -1, left; node 1: 0.5, right: leaf 1
      0, 1,  // node 0: -1, left; node 1: -0.5, left: leaf 0
      3, 1,  // node 0: 2, right; node 2: -1, left: leaf 2
      1, 0,  // node 0: 1, right; node 2: 1, right: leaf 3
      2, 2,  // node 0: 0 exactly, right (>= 0); node 2: 0 exactly, right: leaf 3
  };
  std::vector<double> y(5, NAN);
  std::vector<std::int64_t> leaf(5, -1);
  ref::fff(x.data(), w, s, y.data(), leaf.data(), 5);
  EXPECT_EQ(leaf, (std::vector<std::int64_t>{1, 0, 2, 3, 3}));
  EXPECT_EQ(y, (std::vector<double>{20, 10, 30, 40, 40}));
  EXPECT_DOUBLE_EQ(ref::fff_node_logit(w, s, 1, x.data()), 0.5);
  EXPECT_DOUBLE_EQ(ref::fff_node_logit(w, s, 2, x.data() + 4), -1);
}

TEST(ReferenceFff, DepthZeroIsOneDenseBlock) {
  ref::FffShape s{2, 2, 0, 1, 2};
  const std::vector<double> lw1 = {1, 1, -1, 2}, lb1 = {0, 0.5}, lw2 = {1, 2, 3, 4},
                            lb2 = {0.25, -0.25};
  const ref::FffWeights w{nullptr,    nullptr,    nullptr,    nullptr,
                          lw1.data(), lb1.data(), lw2.data(), lb2.data()};
  const double x[] = {1, 2};  // hidden: ReLU(3) = 3, ReLU(0.5 + 3) = 3.5
  double y[2] = {NAN, NAN};
  std::int64_t leaf = -1;
  ref::fff(x, w, s, y, &leaf, 1);
  EXPECT_EQ(leaf, 0);
  EXPECT_DOUBLE_EQ(y[0], 0.25 + 3 * 1 + 3.5 * 3);
  EXPECT_DOUBLE_EQ(y[1], -0.25 + 3 * 2 + 3.5 * 4);
}

TEST(ReferenceRoundingBounds, BoundFloat32Evaluations) {
  // The float32 dot product (sequential, as cpu.plain does it) never leaves the bound.
  std::mt19937 gen(3);
  std::normal_distribution<float> n(0, 1);
  const std::int64_t d = 768;
  std::vector<float> xf(d), wf(d);
  std::vector<double> xd(d), wd(d);
  double worst = 0;
  for (int trial = 0; trial < 200; ++trial) {
    for (std::int64_t i = 0; i < d; ++i) {
      xf[i] = n(gen);
      wf[i] = n(gen) * 0.05f;
      xd[i] = xf[i];
      wd[i] = wf[i];
    }
    float s = 0;
    for (std::int64_t i = 0; i < d; ++i) s += xf[i] * wf[i];
    double exact = 0;
    for (std::int64_t i = 0; i < d; ++i) exact += xd[i] * wd[i];
    const double bound = ref::ultrafast_lambda_bound(xd.data(), wd.data(), d);
    EXPECT_LE(std::abs(s - exact), bound);
    worst = std::max(worst, std::abs(s - exact) / bound);
  }
  EXPECT_GT(worst, 0.0);  // the errors are real, and the bound is not absurdly loose either
  EXPECT_GT(worst, 1e-4);
  const double u = std::ldexp(1.0, -24);
  EXPECT_NEAR(ref::gamma_f32(1), u / (1 - u), 1e-22);
}

TEST(ReferenceRoundingBounds, LinearNodeBoundIsADotProductWithBias) {
  TinyFff t;
  // logit = -0.5 + x: magnitude 0.5 + |x|, a sum of d_in + 1 = 2 terms.
  const double x = 3;
  EXPECT_NEAR(ref::fff_node_logit_bound(t.w(), t.s, 0, &x), ref::gamma_f32(2) * 3.5, 1e-22);
  EXPECT_DOUBLE_EQ(ref::fff_node_logit(t.w(), t.s, 0, &x), 2.5);
}

TEST(ReferenceRoundingBounds, NodeNetworkBoundCoversHiddenLayer) {
  // d_in 1, node_width 2: logit = 0.25 + 2 ReLU(x) - 3 ReLU(0.5 - x).
  const ref::FffShape s{1, 1, 1, 2, 1};
  const double nw1[] = {1, -1}, nb1[] = {0, 0.5}, nw2[] = {2, -3}, nb2[] = {0.25};
  const ref::FffWeights w{nw1, nb1, nw2, nb2, nullptr, nullptr, nullptr, nullptr};
  const double x = 3;  // hidden ReLU(3) = 3 and ReLU(-2.5) = 0: logit 0.25 + 6 = 6.25
  EXPECT_DOUBLE_EQ(ref::fff_node_logit(w, s, 0, &x), 6.25);
  // magnitude 0.25 + 2 (0 + 3) + 3 (0.5 + 3) = 16.75, k = d_in + node_width + 2 = 5 roundings.
  EXPECT_NEAR(ref::fff_node_logit_bound(w, s, 0, &x), ref::gamma_f32(5) * 16.75, 1e-21);
  const double x2 = -1;  // ReLU(-1) = 0, ReLU(1.5) = 1.5: logit 0.25 - 4.5 = -4.25
  EXPECT_DOUBLE_EQ(ref::fff_node_logit(w, s, 0, &x2), -4.25);
}

}  // namespace
}  // namespace opbench
