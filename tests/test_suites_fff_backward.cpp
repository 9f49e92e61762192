// The fff family's backward ops (soft_fff_backward, fff_backward): a depth-1 tree differentiated
// by hand, every implementation against the float64 reference over edge shapes and a tree whose
// rows all take one leaf, planted wrong gradients that agreement and the finite differences must
// reject, and the hard op's finite-difference point kept away from the routing boundaries.
// (tests/test_suites_backward.cpp runs the finite-difference proof of every backward op.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/case_data.hpp"
#include "harness/gradient_check.hpp"
#include "harness/runner.hpp"
#include "kernels/cpu/fff_backward.hpp"
#include "reference/fff.hpp"
#include "reference/fff_backward.hpp"
#include "suites/common.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

// --- a depth-1 tree by hand ---------------------------------------------------------------------
//
// x = (1, 2), dy = 2. Node 0: logit = 0 + (0.5, -0.25) . x = 0, so p = 1/2, p (1 - p) = 1/4.
// Leaf 0 (left, M = 1/2): a = -1 + (1, 1) . x = 2, h = 2, w2 = 3, b2 = 1: leaf(x) = 7.
// Leaf 1 (right, M = 1/2): a = 0 + (1, -1) . x = -1, h = 0 (ReLU off), w2 = 2, b2 = -1: -1.
// y = (7 - 1) / 2 = 3. Gradients (reference/fff_backward.hpp):
//   dleaf_b2 = M dy = (1, 1); dleaf_w2 = M h dy = (2, 0); q_0 = w2 dy = 6, da_0 = M q = 3:
//   dleaf_b1 = (3, 0), dleaf_w1 = (3 x, 0) = ((3, 6), (0, 0));
//   V = dy . leaf = (14, -2), dz = M_0 (V_1 - V_0) p (1 - p) = -16 / 4 = -4:
//   dnode_b1 = -4, dnode_w1 = -4 x = (-4, -8);
//   dx = da_0 (1, 1) + dz (0.5, -0.25) = (3, 3) + (-2, 1) = (1, 4).
// Independently: y = (1 - p) leaf_0 + p leaf_1, dy/dx_1 = (1 - p) 3 + (1/4)(0.5)(-1 - 7) = 1/2,
// dy/dx_2 = (1 - p) 3 + (1/4)(-0.25)(-8) = 2: times dy = 2, dx = (1, 4).
template <class T>
struct Tiny {
  std::vector<T> x{1, 2}, dy{2}, p{0.5};
  std::vector<T> node_w1{0.5, -0.25}, node_b1{0}, node_w2{0}, node_b2{0};
  std::vector<T> leaf_w1{1, 1, 1, -1}, leaf_b1{-1, 0}, leaf_w2{3, 2}, leaf_b2{1, -1};
  std::vector<T> dx = std::vector<T>(2, T(99)), dnode_w1 = std::vector<T>(2, T(99)), dnode_b1{99},
                 dnode_w2{99}, dnode_b2{99}, dleaf_w1 = std::vector<T>(4, T(99)),
                 dleaf_b1 = std::vector<T>(2, T(99)), dleaf_w2 = std::vector<T>(2, T(99)),
                 dleaf_b2 = std::vector<T>(2, T(99));
  fff::WeightsOf<T> weights() const {
    return {node_w1.data(), node_b1.data(), node_w2.data(), node_b2.data(),
            leaf_w1.data(), leaf_b1.data(), leaf_w2.data(), leaf_b2.data()};
  }
  fff::GradientsOf<T> gradients() {
    return {dnode_w1.data(), dnode_b1.data(), dnode_w2.data(), dnode_b2.data(),
            dleaf_w1.data(), dleaf_b1.data(), dleaf_w2.data(), dleaf_b2.data()};
  }
  void expect_soft(double tol) const {
    const std::vector<std::pair<const std::vector<T>*, std::vector<double>>> want = {
        {&dx, {1, 4}},       {&dnode_w1, {-4, -8}}, {&dnode_b1, {-4}},
        {&dnode_w2, {0}},    {&dnode_b2, {0}},      {&dleaf_w1, {3, 6, 0, 0}},
        {&dleaf_b1, {3, 0}}, {&dleaf_w2, {2, 0}},   {&dleaf_b2, {1, 1}}};
    for (std::size_t t = 0; t < want.size(); ++t) {
      for (std::size_t k = 0; k < want[t].second.size(); ++k) {
        EXPECT_NEAR((*want[t].first)[k], want[t].second[k], tol)
            << "output " << t << "[" << k << "]";
      }
    }
  }
  // Hard routing through leaf 0 (M = 1): dleaf_b2 = (2, 0), dleaf_w2 = (h dy, 0) = (4, 0),
  // da = q = 6: dleaf_b1 = (6, 0), dleaf_w1 = ((6, 12), 0), dx = 6 (1, 1).
  void expect_hard_leaf0(double tol) const {
    const std::vector<std::pair<const std::vector<T>*, std::vector<double>>> want = {
        {&dx, {6, 6}},
        {&dleaf_w1, {6, 12, 0, 0}},
        {&dleaf_b1, {6, 0}},
        {&dleaf_w2, {4, 0}},
        {&dleaf_b2, {2, 0}}};
    for (std::size_t t = 0; t < want.size(); ++t) {
      for (std::size_t k = 0; k < want[t].second.size(); ++k) {
        EXPECT_NEAR((*want[t].first)[k], want[t].second[k], tol)
            << "output " << t << "[" << k << "]";
      }
    }
  }
};

const fff::Dims kTinyDims{2, 1, 1, 1, 1};
const ref::FffShape kTinyShape{2, 1, 1, 1, 1};

ref::FffWeights weights64(const fff::WeightsOf<double>& w) {
  return {w.node_w1, w.node_b1, w.node_w2, w.node_b2, w.leaf_w1, w.leaf_b1, w.leaf_w2, w.leaf_b2};
}
ref::FffGradients gradients64(const fff::GradientsOf<double>& g) {
  return {g.node_w1, g.node_b1, g.node_w2, g.node_b2, g.leaf_w1, g.leaf_b1, g.leaf_w2, g.leaf_b2};
}

TEST(FffBackwardByHand, SoftReferenceOnADepthOneTree) {
  Tiny<double> t;
  std::vector<double> p(1);
  ref::soft_fff_decisions(t.x.data(), weights64(t.weights()), kTinyShape, p.data(), 1);
  EXPECT_EQ(p[0], 0.5);
  ref::soft_fff_backward(t.x.data(), weights64(t.weights()), kTinyShape, t.p.data(), t.dy.data(),
                         t.dx.data(), gradients64(t.gradients()), 1);
  t.expect_soft(1e-15);
}

TEST(FffBackwardByHand, SoftKernelsOnADepthOneTree) {
  for (auto kernel : {&cpu::plain::soft_fff_backward, &cpu::fast::soft_fff_backward}) {
    Tiny<float> t;
    kernel(t.x.data(), t.weights(), kTinyDims, t.p.data(), t.dy.data(), t.dx.data(), t.gradients(),
           1);
    t.expect_soft(1e-6);
  }
}

TEST(FffBackwardByHand, HardRoutedThroughLeafZero) {
  const std::int64_t leaf = 0;
  Tiny<double> r;
  ref::fff_backward(r.x.data(), weights64(r.weights()), kTinyShape, &leaf, r.dy.data(), r.dx.data(),
                    gradients64(r.gradients()), 1);
  r.expect_hard_leaf0(1e-15);
  for (auto kernel : {&cpu::plain::fff_backward, &cpu::fast::fff_backward}) {
    Tiny<float> t;
    kernel(t.x.data(), t.weights(), kTinyDims, &leaf, t.dy.data(), t.dx.data(), t.gradients(), 1);
    t.expect_hard_leaf0(1e-6);
  }
}

// --- agreement through the planner and runner ---------------------------------------------------

TEST(FffBackwardAgreement, EveryImplementationOverEdgeShapes) {
  Registry reg;
  register_all_suites(reg);
  for (const char* op : {"soft_fff_backward", "fff_backward"}) {
    Selection sel;
    sel.ops = {op};
    // depth 0 (one leaf), widths not multiples of a vector, node networks, one row and several.
    sel.axis_overrides = {{"batch", "1,37"},         {"d_in", "17"},        {"d_out", "5"},
                          {"depth", "0,1,3"},        {"node_width", "1,3"}, {"leaf_width", "3"},
                          {"dist", "normal,uniform"}};
    EXPECT_GT(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 0)
        << op;
  }
  // Full widths at a small batch: the long dot products and the dense leaf gradients.
  Selection sel;
  sel.ops = {"soft_fff_backward", "fff_backward"};
  sel.axis_overrides = {{"batch", "33"}, {"d_in", "768"},      {"d_out", "768"},
                        {"depth", "2"},  {"leaf_width", "32"}, {"dist", "normal"}};
  EXPECT_GT(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 0);
}

// Every node's bias set to +8: every row goes right at every node (hard: all rows take the last
// leaf; soft: p ~ 0.9997, the mixture on the last leaf and 1 - p small).
TEST(FffBackwardAgreement, EveryRowTakesTheSameLeaf) {
  Registry reg;
  register_all_suites(reg);
  for (const char* name : {"soft_fff_backward", "fff_backward"}) {
    Op op = *reg.find_op(std::string("fff/") + name);
    op.name = std::string(name) + "_one_leaf";
    op.prepare_inputs = [](TensorMap& in, const Params&) {
      Tensor& b1 = in.at("node_b1");
      for (std::int64_t k = 0; k < b1.numel(); ++k) b1.data<float>()[k] = 8.0f;
    };
    reg.add_op(std::move(op));
    Selection sel;
    sel.ops = {std::string(name) + "_one_leaf"};
    sel.axis_overrides = {{"batch", "1,50"}, {"d_in", "33"},      {"d_out", "7"},
                          {"depth", "3"},    {"leaf_width", "4"}, {"dist", "normal"}};
    EXPECT_GT(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 0)
        << name;
  }
  // The saved leaves are all the last one.
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"fff_backward_one_leaf"};
  sel.axis_overrides = {{"batch", "50"}, {"d_in", "33"},      {"d_out", "7"},
                        {"depth", "3"},  {"leaf_width", "4"}, {"dist", "normal"}};
  const auto plan = plan_cases(reg, sel, data);
  ASSERT_FALSE(plan.empty());
  const Dataset d = make_inputs(plan.front(), data, sel, RunOptions{});
  const Tensor& leaf = d.inputs.at("leaf");
  for (std::int64_t b = 0; b < leaf.numel(); ++b) EXPECT_EQ(leaf.data<std::int64_t>()[b], 7) << b;
}

// Planted wrong gradients, each on the same dataset as cpu.fast, which passes.
void expect_planted_fails(Registry& reg, const char* op, const Impl& planted, const char* output) {
  reg.add_impl("fff", op, planted);
  Selection sel;
  sel.ops = {op};
  sel.impls = {"cpu.fast", planted.name};
  sel.axis_overrides = {{"batch", "64"}, {"d_in", "96"},      {"d_out", "48"},
                        {"depth", "3"},  {"leaf_width", "8"}, {"dist", "normal"}};
  const RunResult r = test_support::check_selection(reg, sel);
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "cpu.fast") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.agreement.first_mismatch;
      ++seen;
    } else if (c.impl == planted.name) {
      EXPECT_EQ(c.agreement.status, AgreementStatus::fail) << planted.name;
      EXPECT_NE(c.agreement.first_mismatch.find(output), std::string::npos)
          << c.agreement.first_mismatch;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2) << planted.name;
}

fff::Dims dims(const Params& p) {
  return {p.i("d_in"), p.i("d_out"), p.i("depth"), p.i("node_width"), p.i("leaf_width")};
}
fff::Weights weights(const TensorMap& i) {
  auto f = [&](const char* n) { return suite::in32(i, n); };
  return {f("node_w1"), f("node_b1"), f("node_w2"), f("node_b2"),
          f("leaf_w1"), f("leaf_b1"), f("leaf_w2"), f("leaf_b2")};
}
template <class Map>
fff::Gradients gradients(Map& o) {
  auto f = [&](const char* n) { return o.count(n) ? o.at(n).template data<float>() : nullptr; };
  return {f("dnode_w1"), f("dnode_b1"), f("dnode_w2"), f("dnode_b2"),
          f("dleaf_w1"), f("dleaf_b1"), f("dleaf_w2"), f("dleaf_b2")};
}

TEST(FffBackwardAgreement, WrongGradientsFail) {
  Registry reg;
  register_all_suites(reg);
  // Soft: dleaf_w1 without the last row's contribution (1 of 64 rows).
  expect_planted_fails(
      reg, "soft_fff_backward",
      suite::host_impl("cpu.planted_row",
                       [](const TensorMap& i, TensorMap& o, const Params& p) {
                         const fff::Dims d = dims(p);
                         const std::int64_t b = p.i("batch"), last = b - 1;
                         const auto x = suite::in32(i, "x"), pr = suite::in32(i, "p"),
                                    dy = suite::in32(i, "dy");
                         cpu::fast::soft_fff_backward(x, weights(i), d, pr, dy,
                                                      suite::out32(o, "dx"), gradients(o), b);
                         TensorMap one;
                         for (const auto& [name, t] : o) one[name] = Tensor(DType::f32, t.shape());
                         cpu::fast::soft_fff_backward(
                             x + last * d.d_in, weights(i), d, pr + last * fff::saved_columns(d),
                             dy + last * d.d_out, one.at("dx").data<float>(), gradients(one), 1);
                         float* dw1 = suite::out32(o, "dleaf_w1");
                         for (std::int64_t k = 0; k < o.at("dleaf_w1").numel(); ++k)
                           dw1[k] -= one.at("dleaf_w1").data<float>()[k];
                       }),
      "dleaf_w1");
  // Soft: dx without the node decisions' term (the kernel run with node_w1 = 0 for dx).
  expect_planted_fails(
      reg, "soft_fff_backward",
      suite::host_impl(
          "cpu.planted_nodes",
          [](const TensorMap& i, TensorMap& o, const Params& p) {
            fff::Weights w = weights(i);
            std::vector<float> zeros(static_cast<std::size_t>(i.at("node_w1").numel()), 0.0f);
            w.node_w1 = zeros.data();
            cpu::fast::soft_fff_backward(suite::in32(i, "x"), w, dims(p), suite::in32(i, "p"),
                                         suite::in32(i, "dy"), suite::out32(o, "dx"), gradients(o),
                                         p.i("batch"));
          }),
      "dx");
  // Hard: row 0 differentiated through its sibling leaf.
  expect_planted_fails(
      reg, "fff_backward",
      suite::host_impl("cpu.planted_leaf",
                       [](const TensorMap& i, TensorMap& o, const Params& p) {
                         const Tensor& lt = i.at("leaf");
                         std::vector<std::int64_t> leaf(lt.data<std::int64_t>(),
                                                        lt.data<std::int64_t>() + lt.numel());
                         leaf[0] ^= 1;
                         cpu::fast::fff_backward(suite::in32(i, "x"), weights(i), dims(p),
                                                 leaf.data(), suite::in32(i, "dy"),
                                                 suite::out32(o, "dx"), gradients(o), p.i("batch"));
                       }),
      "d");
}

// --- the finite-difference proof ----------------------------------------------------------------

// The soft op's reference also holds for node networks (node_width 3), and the check rejects a
// reference whose dx lacks the node decisions' term.
TEST(FffBackwardGradients, NodeNetworksAndAMissingTerm) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Op wide = *reg.find_op("fff/soft_fff_backward");
  wide.gradient->check_point["node_width"] = "3";
  const GradientCheck ok = check_gradient(reg, wide, data);
  EXPECT_TRUE(ok.passed()) << ok.point << ": " << ok.error << " "
                           << (ok.mismatches.empty() ? "" : ok.mismatches.front());

  Op wrong = *reg.find_op("fff/soft_fff_backward");
  const HostKernelFn right = wrong.reference;
  wrong.reference = [right](const TensorMap& i, TensorMap& o, const Params& p) {
    TensorMap no_nodes = i;
    Tensor w1(DType::f64, i.at("node_w1").shape());
    for (std::int64_t k = 0; k < w1.numel(); ++k) w1.data<double>()[k] = 0;
    no_nodes["node_w1"] = w1;
    TensorMap dx_only;
    for (const auto& [name, t] : o) dx_only[name] = t.clone();
    right(i, o, p);
    right(no_nodes, dx_only, p);
    o["dx"] = dx_only.at("dx");
  };
  const GradientCheck bad = check_gradient(reg, wrong, data);
  EXPECT_FALSE(bad.passed());
  ASSERT_FALSE(bad.mismatches.empty());
  EXPECT_NE(bad.mismatches.front().find("dx["), std::string::npos) << bad.mismatches.front();
}

// The hard op's finite differences move x by h = 1e-6 max(1, |x|): a decision value moves by at
// most h sum|w1| there. At the check's point every row's decision values along its path must be
// far beyond that, or a step would change a row's leaf (and the check would see a jump, not a
// derivative). The reference is wrapped to see the check's own inputs.
TEST(FffBackwardGradients, HardCheckPointIsFarFromEveryRoutingBoundary) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Op op = *reg.find_op("fff/fff_backward");
  auto margin = std::make_shared<double>(INFINITY);
  auto step = std::make_shared<double>(0);
  const HostKernelFn right = op.reference;
  op.reference = [right, margin, step](const TensorMap& i, TensorMap& o, const Params& p) {
    const suite::F64 x(i.at("x")), w1(i.at("node_w1")), b1(i.at("node_b1"));
    const std::int64_t d_in = p.i("d_in"), depth = p.i("depth");
    for (std::int64_t b = 0; b < p.i("batch"); ++b) {
      const double* xb = x.p() + b * d_in;
      double xmax = 1;
      for (std::int64_t k = 0; k < d_in; ++k) xmax = std::max(xmax, std::abs(xb[k]));
      for (std::int64_t level = 0, node = 0; level < depth; ++level) {
        double logit = b1.v[node], wsum = 0;
        for (std::int64_t k = 0; k < d_in; ++k) {
          logit += w1.v[node * d_in + k] * xb[k];
          wsum += std::abs(w1.v[node * d_in + k]);
        }
        *margin = std::min(*margin, std::abs(logit));
        *step = std::max(*step, 1e-6 * xmax * wsum);
        node = 2 * node + 1 + (logit >= 0 ? 1 : 0);
      }
    }
    right(i, o, p);
  };
  const GradientCheck r = check_gradient(reg, op, data);
  EXPECT_TRUE(r.passed()) << r.error;
  EXPECT_GT(*step, 0);
  EXPECT_GT(*margin, 1000 * *step) << "smallest |logit| " << *margin << ", step " << *step;
}

}  // namespace
}  // namespace opbench
