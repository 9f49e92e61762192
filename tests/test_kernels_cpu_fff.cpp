// The fff family's CPU kernels called directly (poisoned outputs, fixed seeds) against the float64
// references: block and subtree boundaries of cpu.fast, all rows in one leaf, every leaf occupied,
// widths that are no multiple of the vector width, and the vectorized GeLU's accuracy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/fff_fast.hpp"
#include "kernels/cpu/fff_plain.hpp"
#include "kernels/cpu/fff_simd.hpp"
#include "reference/fff.hpp"

namespace opbench {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> normal(std::size_t n, float scale, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0, scale);
  std::vector<float> v(n);
  for (auto& e : v) e = d(gen);
  return v;
}

std::vector<double> widen(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// |got - want| <= 1e-4 + 1e-4 |want| (the suite's float32 tolerance), and no element left
// unwritten.
void expect_close(const std::vector<float>& got, const std::vector<double>& want,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::abs(got[i] - want[i]) <= 1e-4 + 1e-4 * std::abs(want[i]))) {
      if (bad++ < 3)
        ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

struct Ultra {
  std::int64_t batch, d, depth;
  std::vector<float> x, w_in, w_out;
  Ultra(std::int64_t b, std::int64_t d_, std::int64_t depth_) : batch(b), d(d_), depth(depth_) {
    const std::int64_t nodes = (std::int64_t{2} << depth) - 1;
    x = normal(static_cast<std::size_t>(b * d), 1, 1);
    w_in = normal(static_cast<std::size_t>(nodes * d), 0.2f, 2);
    w_out = normal(static_cast<std::size_t>(nodes * d), 0.2f, 3);
  }
};

class UltrafastKernels : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(UltrafastKernels, PathsEqualAndOutputsMatchTheReference) {
  const auto [batch, d, depth] = GetParam();
  Ultra u(batch, d, depth);
  const std::int64_t levels = depth + 1;
  std::vector<double> y_ref(static_cast<std::size_t>(batch * d));
  std::vector<std::int64_t> path_ref(static_cast<std::size_t>(batch * levels));
  ref::ultrafast_fff(widen(u.x).data(), widen(u.w_in).data(), widen(u.w_out).data(), y_ref.data(),
                     path_ref.data(), batch, d, d, depth);
  for (auto fn : {cpu::plain::ultrafast_fff<float>, cpu::fast::ultrafast_fff}) {
    std::vector<float> y(y_ref.size(), kNaN);
    std::vector<std::int64_t> path(path_ref.size(), -1);
    fn(u.x.data(), u.w_in.data(), u.w_out.data(), y.data(), path.data(), batch, d, d, depth);
    // Random normal data puts no decision within rounding of zero at these seeds.
    EXPECT_EQ(path, path_ref);
    expect_close(y, y_ref, "y");
  }
}

// batch around the 128-row blocks; depth 3 stays in phase A, 7 and 9 enter phase B (subtrees
// below level 6); d = 1, 17, 33 leave vector tails.
INSTANTIATE_TEST_SUITE_P(Shapes, UltrafastKernels,
                         ::testing::Values(std::tuple{1, 17, 0}, std::tuple{1, 33, 9},
                                           std::tuple{127, 17, 3}, std::tuple{129, 1, 7},
                                           std::tuple{300, 33, 7}, std::tuple{1000, 64, 9}));

struct Tree {
  fff::Dims d;
  std::vector<float> x, nw1, nb1, nw2, nb2, lw1, lb1, lw2, lb2;
  Tree(std::int64_t batch, fff::Dims dims) : d(dims) {
    const auto nodes = static_cast<std::size_t>(std::max<std::int64_t>(d.nodes(), 1));
    const auto leaves = static_cast<std::size_t>(d.leaves());
    const auto nw = static_cast<std::size_t>(d.node_width),
               lw = static_cast<std::size_t>(d.leaf_width);
    const auto di = static_cast<std::size_t>(d.d_in), dout = static_cast<std::size_t>(d.d_out);
    x = normal(static_cast<std::size_t>(batch) * di, 1, 11);
    nw1 = normal(nodes * nw * di, 0.2f, 12);
    nb1 = normal(nodes * nw, 0.2f, 13);
    nw2 = normal(nodes * nw, 0.5f, 14);
    nb2 = normal(nodes, 0.1f, 15);
    lw1 = normal(leaves * lw * di, 0.2f, 16);
    lb1 = normal(leaves * lw, 0.2f, 17);
    lw2 = normal(leaves * lw * dout, 0.2f, 18);
    lb2 = normal(leaves * dout, 0.2f, 19);
    if (d.node_width == 1) {  // linear nodes have no second layer: poisoned, so reading it fails
      std::fill(nw2.begin(), nw2.end(), kNaN);
      std::fill(nb2.begin(), nb2.end(), kNaN);
    }
  }
  fff::Weights w32() const {
    return {nw1.data(), nb1.data(), nw2.data(), nb2.data(),
            lw1.data(), lb1.data(), lw2.data(), lb2.data()};
  }
  // Reference outputs, computed on float64 copies.
  void reference(std::int64_t batch, std::vector<double>& y, std::vector<std::int64_t>* leaf,
                 bool soft) const {
    const auto a = widen(nw1), b = widen(nb1), c = widen(nw2), e = widen(nb2), f = widen(lw1),
               g = widen(lb1), h = widen(lw2), k = widen(lb2);
    const ref::FffWeights w{a.data(), b.data(), c.data(), e.data(),
                            f.data(), g.data(), h.data(), k.data()};
    const ref::FffShape s{d.d_in, d.d_out, d.depth, d.node_width, d.leaf_width};
    y.assign(static_cast<std::size_t>(batch * d.d_out), NAN);
    if (soft) {
      ref::soft_fff(widen(x).data(), w, s, y.data(), batch);
    } else {
      leaf->assign(static_cast<std::size_t>(batch), -1);
      ref::fff(widen(x).data(), w, s, y.data(), leaf->data(), batch);
    }
  }
};

void check_fff(Tree& t, std::int64_t batch, std::vector<std::int64_t>* leaf_out = nullptr) {
  std::vector<double> y_ref;
  std::vector<std::int64_t> leaf_ref;
  t.reference(batch, y_ref, &leaf_ref, false);
  for (auto fn : {cpu::plain::fff<float>, cpu::fast::fff}) {
    std::vector<float> y(y_ref.size(), kNaN);
    std::vector<std::int64_t> leaf(leaf_ref.size(), -1);
    fn(t.x.data(), t.w32(), t.d, y.data(), leaf.data(), batch);
    EXPECT_EQ(leaf, leaf_ref);
    expect_close(y, y_ref, "y");
  }
  if (leaf_out) *leaf_out = leaf_ref;
}

TEST(FffKernels, DepthZeroIsOneDenseBlock) {
  Tree t(33, {17, 5, 0, 1, 3});
  check_fff(t, 33);
}

TEST(FffKernels, DepthOneWithWideNodes) {
  Tree t(200, {33, 7, 1, 4, 4});
  check_fff(t, 200);
}

TEST(FffKernels, LargeDepthTinyLeaves) {
  Tree t(700, {13, 3, 12, 1, 1});
  check_fff(t, 700);
}

TEST(FffKernels, BatchOfOneRow) {
  Tree t(1, {768, 768, 7, 1, 32});
  check_fff(t, 1);
}

TEST(FffKernels, EveryLeafGetsRows) {
  // Width-1 nodes are linear, logit = w . x + b; with b = 0 every node's boundary is a hyperplane
  // through the origin, so random rows spread over all leaves.
  Tree t(4000, {40, 24, 4, 1, 8});
  for (auto& v : t.nb1) v = 0;
  std::vector<std::int64_t> leaf;
  check_fff(t, 4000, &leaf);
  std::vector<int> count(16, 0);
  for (auto l : leaf) ++count[static_cast<std::size_t>(l)];
  for (int c : count) EXPECT_GT(c, 0);
}

TEST(FffKernels, AllRowsToOneLeaf) {
  for (float bias : {-1e3f, 1e3f}) {  // every node's logit far below / above zero
    Tree t(300, {20, 6, 3, 1, 4});
    for (auto& b : t.nb1) b = bias;  // a width-1 node's bias is b1
    std::vector<std::int64_t> leaf;
    check_fff(t, 300, &leaf);
    for (auto l : leaf) EXPECT_EQ(l, bias < 0 ? 0 : 7);
  }
}

TEST(FffKernels, LinearNodesIgnoreTheSecondLayer) {
  // Hand-computed routing of width-1 nodes (the case of test_reference_fff.cpp): depth 2, d_in 2,
  // node 0: x0 - x1, node 1: 0.5 x0 + 0.5 x1 - 1, node 2: 2 - x0; leaf l outputs 10 (l + 1).
  // node_w2 / node_b2 are NaN: a kernel that reads them routes everything left.
  const fff::Dims d{2, 1, 2, 1, 1};
  const std::vector<float> nw1 = {1, -1, 0.5f, 0.5f, -1, 0}, nb1 = {0, -1, 2}, nw2(3, kNaN),
                           nb2(3, kNaN), lw1(8, 0), lb1(4, -1), lw2(4, 1), lb2 = {10, 20, 30, 40};
  const fff::Weights w{nw1.data(), nb1.data(), nw2.data(), nb2.data(),
                       lw1.data(), lb1.data(), lw2.data(), lb2.data()};
  const std::vector<float> x = {1, 2, 0, 1, 3, 1, 1, 0, 2, 2};  // the last row: two exact zeros
  for (auto fn : {cpu::plain::fff<float>, cpu::fast::fff}) {
    std::vector<float> y(5, kNaN);
    std::vector<std::int64_t> leaf(5, -1);
    fn(x.data(), w, d, y.data(), leaf.data(), 5);
    EXPECT_EQ(leaf, (std::vector<std::int64_t>{1, 0, 2, 3, 3}));
    EXPECT_EQ(y, (std::vector<float>{20, 10, 30, 40, 40}));
  }
}

TEST(SoftFffKernels, MatchTheReferenceAcrossRowBlocks) {
  for (std::int64_t depth : {0, 1, 3}) {
    for (std::int64_t node_width : {1, 3}) {  // a linear node and a ReLU node network
      Tree t(300, {19, 6, depth, node_width, 5});
      std::vector<double> y_ref;
      t.reference(300, y_ref, nullptr, true);
      for (auto fn : {cpu::plain::soft_fff<float>, cpu::fast::soft_fff}) {
        std::vector<float> y(y_ref.size(), kNaN);
        fn(t.x.data(), t.w32(), t.d, y.data(), 300);
        expect_close(y, y_ref, "soft y");
      }
    }
  }
}

TEST(DenseFfKernels, PlainAndOpenBlasMatchTheReference) {
  const std::int64_t batch = 600, d_in = 17, d_out = 9, width = 31;  // two 512-row blocks
  const auto x = normal(batch * d_in, 1, 21), w_in = normal(width * d_in, 0.2f, 22),
             w_out = normal(width * d_out, 0.2f, 23);
  std::vector<double> y_ref(batch * d_out);
  ref::dense_ff(widen(x).data(), widen(w_in).data(), widen(w_out).data(), y_ref.data(), batch, d_in,
                d_out, width);
  for (auto fn : {cpu::plain::dense_ff<float>, cpu::openblas::dense_ff}) {
    std::vector<float> y(y_ref.size(), kNaN);
    fn(x.data(), w_in.data(), w_out.data(), y.data(), batch, d_in, d_out, width);
    expect_close(y, y_ref, "dense y");
  }
}

TEST(FffSimd, VectorGeluIsAccurateInBothTails) {
  std::vector<float> z;
  for (float v = -12; v <= 12; v += 0.01f) z.push_back(v);
  std::vector<float> g = z;
  cpu::fast::fffsimd::gelu_inplace(g.data(), static_cast<std::int64_t>(g.size()));
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double want = ref::gelu(z[i]);
    // A&S 7.1.26 bounds |erf error| by 1.5e-7: |GeLU error| <= 0.75e-7 |z| plus float rounding.
    EXPECT_LE(std::abs(g[i] - want), 1e-7 * std::abs(z[i]) + 2e-7 * std::abs(want) + 1e-30) << z[i];
    if (z[i] < 0) EXPECT_LE(g[i], 0.0f) << z[i];
  }
}

TEST(FffSimd, DotsAndWeightedSumsHandleTails) {
  for (std::int64_t n : {1, 15, 16, 17, 100}) {
    const auto w = normal(n, 1, 31), a = normal(n * 7, 1, 32);
    std::vector<const float*> xs;
    for (int r = 0; r < 7; ++r) xs.push_back(a.data() + r * n);
    std::vector<float> out(7, kNaN);
    cpu::fast::fffsimd::dots(xs.data(), 7, w.data(), n, out.data());
    for (int r = 0; r < 7; ++r) {
      double want = 0;
      for (std::int64_t i = 0; i < n; ++i) want += static_cast<double>(xs[r][i]) * w[i];
      EXPECT_NEAR(out[r], want, 1e-5 * n) << n << " " << r;
    }
    const float c[] = {0.5f, -2, 3};
    std::vector<float> y(n + 1, kNaN);
    cpu::fast::fffsimd::weighted_sum(y.data(), c, xs.data(), 3, n, w.data());
    for (std::int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(y[i], w[i] + 0.5 * xs[0][i] - 2 * xs[1][i] + 3 * xs[2][i], 1e-5) << n << " " << i;
    }
    EXPECT_TRUE(std::isnan(y[n]));  // nothing written past the end
  }
}

}  // namespace
}  // namespace opbench
