// The fff family through the same planner and runner that `opbench check` uses: every
// implementation against the float64 reference over edge shapes and every distribution, the
// near_boundary scenario, the tie rule of the routing comparison (a tie is accepted only within
// rounding of zero, and y is then checked along the branch taken), and a deliberately wrong router
// that must be rejected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/runner.hpp"
#include "kernels/cpu/fff_plain.hpp"
#include "reference/fff.hpp"
#include "suites/common.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

RunResult check(Registry& reg, const Selection& sel) {
  return test_support::check_selection(reg, sel);
}

struct FffCase {
  std::string op;
  std::map<std::string, std::string> axes;
};

class FffAgreement : public ::testing::TestWithParam<FffCase> {};

TEST_P(FffAgreement, EveryImplementationMatchesTheReference) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {GetParam().op};
  sel.axis_overrides = GetParam().axes;
  sel.dtypes = {"f32", "bf16", "f16"};  // every implementation in every dtype it claims
  RunResult r = check(reg, sel);
  EXPECT_GT(test_support::expect_all_agree_or_listed(r), 0);
}

const char* const kRoutedDists = "normal,uniform,near_boundary";

INSTANTIATE_TEST_SUITE_P(
    Shapes, FffAgreement,
    ::testing::Values(
        // depth 0: one leaf, a plain dense block; d_in not a multiple of any vector width
        FffCase{"fff",
                {{"batch", "1,33"},
                 {"d_in", "17"},
                 {"d_out", "5"},
                 {"depth", "0"},
                 {"leaf_width", "3"},
                 {"dist", kRoutedDists}}},
        FffCase{"fff",
                {{"batch", "1,200"},
                 {"d_in", "33"},
                 {"d_out", "7"},
                 {"depth", "1"},
                 {"node_width", "2"},
                 {"leaf_width", "4"},
                 {"dist", kRoutedDists}}},
        // large depth, tiny leaves: 4096 leaves of one neuron, most rows alone in their leaf
        FffCase{"fff",
                {{"batch", "1,700"},
                 {"d_in", "13"},
                 {"d_out", "3"},
                 {"depth", "12"},
                 {"leaf_width", "1"},
                 {"dist", kRoutedDists}}},
        // every leaf gets many rows; rows span several 128-row blocks and a partial one
        FffCase{"fff",
                {{"batch", "2001"},
                 {"d_in", "40"},
                 {"d_out", "24"},
                 {"depth", "3"},
                 {"node_width", "4"},
                 {"leaf_width", "8"},
                 {"dist", kRoutedDists}}},
        FffCase{"ultrafast_fff",
                {{"batch", "1,129"},
                 {"d_in", "17"},
                 {"d_out", "9"},
                 {"depth", "0,1,7"},
                 {"dist", kRoutedDists}}},
        FffCase{"ultrafast_fff",
                {{"batch", "300"},
                 {"d_in", "768"},
                 {"d_out", "768"},
                 {"depth", "11"},
                 {"dist", "normal,near_boundary"}}},
        FffCase{"soft_fff",
                {{"batch", "1,70"},
                 {"d_in", "19"},
                 {"d_out", "6"},
                 {"depth", "0,1,3"},
                 {"node_width", "1,3"},
                 {"leaf_width", "5"},
                 {"dist", "normal,uniform"}}},
        FffCase{"dense_ff",
                {{"batch", "1,33"},
                 {"d_in", "17"},
                 {"d_out", "9"},
                 {"depth", "0,3"},
                 {"leaf_width", "1,3"},
                 {"dist", "normal,uniform"}}}));

const Op& find(const Registry& reg, const char* name) {
  const Op* op = reg.find_op(name);
  if (!op) throw std::logic_error(std::string("no op ") + name);
  return *op;
}

// Inputs of `op` at `p` as the runner makes them (seeded fill, then prepare_inputs).
TensorMap make_inputs(const Op& op, const Params& p, std::uint64_t seed = 5) {
  datasets::SeededDataProvider data;
  TensorMap in;
  for (const auto& t : op.tensors) {
    if (t.output) continue;
    Tensor x(DType::f32, op.shape_of(t, p));
    std::string spec = op.input_dist ? op.input_dist(t, p.str("dist"), DType::f32) : "";
    if (spec.empty()) spec = t.dist == "$dist" ? p.str("dist") : t.dist;
    data.fill(x, spec, seed++);
    in[t.name] = x;
  }
  if (op.prepare_inputs) op.prepare_inputs(in, p);
  return in;
}

TensorMap make_outputs(const Op& op, const Params& p, bool reference) {
  TensorMap out;
  for (const auto& t : op.tensors) {
    if (!t.output) continue;
    Tensor y(t.index ? DType::i64 : (reference ? DType::f64 : DType::f32), op.shape_of(t, p));
    y.poison();
    out[t.name] = y;
  }
  return out;
}

Params ultra_params(std::int64_t batch, std::int64_t d, std::int64_t depth, const char* dist) {
  Params p;
  p.set("batch", std::to_string(batch));
  p.set("d_in", std::to_string(d));
  p.set("d_out", std::to_string(d));
  p.set("depth", std::to_string(depth));
  p.set("dist", dist);
  return p;
}

TEST(FffNearBoundary, PutsADecisionOfMostRowsWithinRoundingOfZero) {
  Registry reg;
  register_all_suites(reg);
  const Op& op = find(reg, "ultrafast_fff");
  const Params p = ultra_params(600, 96, 7, "near_boundary");
  const TensorMap in = make_inputs(op, p);
  const suite::F64 x(in.at("x")), w(in.at("w_in"));
  int near = 0;
  for (std::int64_t b = 0; b < 600; ++b) {
    std::int64_t node = 0;
    bool found = false;
    for (int level = 0; level <= 7; ++level) {
      double lambda = 0;
      for (int i = 0; i < 96; ++i) lambda += x.p()[b * 96 + i] * w.p()[node * 96 + i];
      found |=
          std::abs(lambda) <= ref::ultrafast_lambda_bound(x.p() + b * 96, w.p() + node * 96, 96);
      node = 2 * node + 1 + (lambda > 0);
    }
    near += found;
  }
  EXPECT_GT(near, 500);  // nearly every row; under `normal` it would be ~none
  const TensorMap plain = make_inputs(op, ultra_params(600, 96, 7, "normal"));
  EXPECT_NE(plain.at("x").data<float>()[0], in.at("x").data<float>()[0]);
}

Params fff_params(std::int64_t batch, std::int64_t d_in, std::int64_t depth,
                  std::int64_t node_width, std::int64_t leaf_width, const char* dist) {
  Params p;
  p.set("batch", std::to_string(batch));
  p.set("d_in", std::to_string(d_in));
  p.set("d_out", "4");
  p.set("depth", std::to_string(depth));
  p.set("node_width", std::to_string(node_width));
  p.set("leaf_width", std::to_string(leaf_width));
  p.set("dist", dist);
  return p;
}

TEST(FffNearBoundary, FffNodesToo) {
  Registry reg;
  register_all_suites(reg);
  const Op& op = find(reg, "fff");
  // Rows whose target node network has no active neuron cannot be moved (node_width 3); a linear
  // node (node_width 1) moves every row, but the move can flip an earlier level's decision, and
  // the row then misses its target node (15 of 300 at this seed).
  for (auto [node_width, want] : {std::pair{3, 150}, std::pair{1, 270}}) {
    const Params p = fff_params(300, 40, 4, node_width, 2, "near_boundary");
    const TensorMap in = make_inputs(op, p);
    const suite::F64 x(in.at("x"));
    const suite::F64 nw1(in.at("node_w1")), nb1(in.at("node_b1")), nw2(in.at("node_w2")),
        nb2(in.at("node_b2"));
    const ref::FffWeights w{nw1.p(), nb1.p(), nw2.p(), nb2.p(), nullptr, nullptr, nullptr, nullptr};
    const ref::FffShape s{40, 4, 4, node_width, 2};
    int near = 0;
    for (std::int64_t b = 0; b < 300; ++b) {
      const double* xb = x.p() + b * 40;
      bool found = false;
      for (std::int64_t level = 0, node = 0; level < 4; ++level) {
        const double logit = ref::fff_node_logit(w, s, node, xb);
        found |= std::abs(logit) <= ref::fff_node_logit_bound(w, s, node, xb);
        node = 2 * node + 1 + (logit >= 0);
      }
      near += found;
    }
    EXPECT_GT(near, want) << "node_width " << node_width;
  }
}

TEST(FffSuite, LinearNodesSpreadRowsOverTheLeaves) {
  // The suite's own weights (normal(0,0.05)) and normal rows: a linear node splits them about
  // evenly, so most of the 64 leaves of a depth-6 tree get rows. (With a node
  // w2 ReLU(w1 . x + b1) + b2 of width 1, a node whose w2 and b2 share a sign sends every row the
  // same way and the rows crowd into a few leaves.)
  Registry reg;
  register_all_suites(reg);
  const Op& op = find(reg, "fff");
  const Params p = fff_params(4096, 768, 6, 1, 8, "normal");
  const TensorMap in = make_inputs(op, p);
  EXPECT_EQ(in.at("node_w2").numel(), 1);  // no second layer generated for linear nodes
  TensorMap ref = make_outputs(op, p, true);
  op.reference(in, ref, p);
  std::vector<int> count(64, 0);
  for (std::int64_t b = 0; b < 4096; ++b) ++count[ref.at("leaf").data<std::int64_t>()[b]];
  const auto occupied = std::count_if(count.begin(), count.end(), [](int c) { return c > 0; });
  EXPECT_GT(occupied, 32);
  EXPECT_LT(*std::max_element(count.begin(), count.end()), 4096 / 8);  // no leaf takes 1/8
}

TEST(FffNearBoundary, EveryImplementationPassesAndTiesAreCounted) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {"ultrafast_fff", "fff"};
  sel.axis_overrides = {{"batch", "3000"},        {"d_in", "256"},     {"d_out", "8"},
                        {"depth", "6"},           {"leaf_width", "2"}, {"node_width", "1"},
                        {"dist", "near_boundary"}};
  RunResult r = check(reg, sel);
  std::int64_t ties = 0;
  for (const auto& c : r.cases) {
    if (c.is_reference || !test_support::expect_agrees_or_listed(c)) continue;
    ties += c.agreement.ties;
  }
  // Float32 kernels take the other branch at some of these nodes: counted, not hidden.
  EXPECT_GT(ties, 0);
}

// A router that takes the wrong branch at a node far from its boundary (|lambda| > 0.05), with y
// computed consistently along the wrong path: only the routing rule can catch it. Any storage
// type: loads widened, float arithmetic, y rounded once into its dtype.
void flipped_ultrafast(const TensorMap& i, TensorMap& o, const Params& p) {
  const std::int64_t batch = p.i("batch"), d_in = p.i("d_in"), d_out = p.i("d_out"),
                     depth = p.i("depth");
  std::vector<float> x(static_cast<std::size_t>(batch * d_in)),
      w_in(static_cast<std::size_t>(i.at("w_in").numel())),
      w_out(static_cast<std::size_t>(i.at("w_out").numel())),
      y(static_cast<std::size_t>(batch * d_out));
  for (auto [name, v] : {std::pair{"x", &x}, {"w_in", &w_in}, {"w_out", &w_out}}) {
    for (std::size_t k = 0; k < v->size(); ++k) {
      (*v)[k] = static_cast<float>(i.at(name).value_as_double(static_cast<std::int64_t>(k)));
    }
  }
  std::int64_t* path = o.at("path").data<std::int64_t>();
  bool flipped = false;
  for (std::int64_t b = 0; b < batch; ++b) {
    std::int64_t node = 0;
    for (std::int64_t o2 = 0; o2 < d_out; ++o2) y[b * d_out + o2] = 0;
    for (std::int64_t level = 0; level <= depth; ++level) {
      path[b * (depth + 1) + level] = node;
      float lambda = 0;
      for (std::int64_t k = 0; k < d_in; ++k) lambda += x[b * d_in + k] * w_in[node * d_in + k];
      const float g = 0.5f * lambda * std::erfc(-lambda * 0.70710678f);
      for (std::int64_t o2 = 0; o2 < d_out; ++o2) y[b * d_out + o2] += g * w_out[node * d_out + o2];
      bool right = lambda > 0;
      if (b == 3 && !flipped && std::abs(lambda) > 0.05f) {
        right = !right;
        flipped = true;
      }
      node = 2 * node + 1 + (right ? 1 : 0);
    }
  }
  for (std::size_t k = 0; k < y.size(); ++k) {
    suite::store_double(o.at("y"), static_cast<std::int64_t>(k), y[k]);
  }
}

// In every dtype: the inputs of a 16-bit case are exact, so a clear node's decision is as clear.
TEST(FffRouting, AWrongRouterIsRejectedInEveryDtype) {
  Registry reg;
  register_all_suites(reg);
  Impl wrong = suite::host_impl("test.flipped", flipped_ultrafast);
  wrong.dtypes = {DType::f32, DType::bf16, DType::f16};
  reg.add_impl("fff", "ultrafast_fff", wrong);
  Selection sel;
  sel.ops = {"ultrafast_fff"};
  sel.impls = {"ref", "cpu.plain", "test.flipped"};
  sel.dtypes = {"f32", "bf16", "f16"};
  sel.axis_overrides = {{"batch", "8"},
                        {"d_in", "64"},
                        {"d_out", "16"},
                        {"depth", "5"},
                        {"dist", "normal,near_boundary"}};
  RunResult r = check(reg, sel);
  int flipped = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "cpu.plain") EXPECT_TRUE(c.agreement.passed) << c.name;
    if (c.impl != "test.flipped") continue;
    ++flipped;
    EXPECT_FALSE(c.agreement.passed) << c.name;
    EXPECT_GE(c.agreement.mismatches, 1) << c.name;
    EXPECT_NE(c.agreement.first_mismatch.find("path[3]"), std::string::npos)
        << c.agreement.first_mismatch;
  }
  EXPECT_EQ(flipped, 2 * 3);  // two dists, three dtypes
}

// compare() on hand-made outputs: d_in 2, depth 1, x = [1, 1] and w_in[0] = [1, -1], so the root's
// lambda is exactly 0 (the reference goes left, to node 1).
struct TieFixture {
  Registry reg;
  const Op* op = nullptr;
  Params p = ultra_params(1, 2, 1, "normal");
  TensorMap in, ref;
  TieFixture() {
    register_all_suites(reg);
    op = reg.find_op("ultrafast_fff");
    Tensor x(DType::f32, {1, 2}), w_in(DType::f32, {3, 2}), w_out(DType::f32, {3, 2});
    const float xs[] = {1, 1}, wi[] = {1, -1, 0.5f, 0.25f, -1, 2}, wo[] = {1, 2, 3, 4, 5, 6};
    std::copy(xs, xs + 2, x.data<float>());
    std::copy(wi, wi + 6, w_in.data<float>());
    std::copy(wo, wo + 6, w_out.data<float>());
    in = {{"x", x}, {"w_in", w_in}, {"w_out", w_out}};
    ref = make_outputs(*op, p, true);
    op->reference(in, ref, p);
  }
  // An implementation's outputs: `path`, and y along `y_path`.
  TensorMap outputs(std::int64_t node1, std::int64_t y_node1) {
    TensorMap out = make_outputs(*op, p, false);
    out.at("path").data<std::int64_t>()[0] = 0;
    out.at("path").data<std::int64_t>()[1] = node1;
    const double x[] = {1, 1}, wi[] = {1, -1, 0.5, 0.25, -1, 2}, wo[] = {1, 2, 3, 4, 5, 6};
    const std::int64_t path[] = {0, y_node1};
    double y[2];
    ref::ultrafast_fff_along_path(x, wi, wo, path, y, 2, 2, 1);
    out.at("y").data<float>()[0] = static_cast<float>(y[0]);
    out.at("y").data<float>()[1] = static_cast<float>(y[1]);
    return out;
  }
  Agreement compare(const TensorMap& out) {
    return op->compare(in, out, ref, p, op->tolerance(DType::f32));
  }
};

TEST(FffRouting, TheOtherBranchAtAZeroDecisionIsATie) {
  TieFixture f;
  EXPECT_EQ(f.ref.at("path").data<std::int64_t>()[1], 1);
  const Agreement same = f.compare(f.outputs(1, 1));
  EXPECT_TRUE(same.passed);
  EXPECT_EQ(same.ties, 0);
  const Agreement tie = f.compare(f.outputs(2, 2));  // right at lambda = 0, y along the right
  EXPECT_TRUE(tie.passed) << tie.first_mismatch;
  EXPECT_EQ(tie.ties, 1);
  // Right at the tie but y from the left branch: y is checked along the branch taken, so it fails.
  const Agreement inconsistent = f.compare(f.outputs(2, 1));
  EXPECT_FALSE(inconsistent.passed);
  // Not a child of the root: rejected outright.
  const Agreement invalid = f.compare(f.outputs(5, 1));
  EXPECT_FALSE(invalid.passed);
  EXPECT_NE(invalid.first_mismatch.find("no child"), std::string::npos) << invalid.first_mismatch;
}

TEST(FffRouting, TheOtherBranchAwayFromZeroIsAMismatch) {
  TieFixture f;
  f.in.at("x").data<float>()[0] = 1.5f;  // lambda = 0.5: the reference goes right, to node 2
  f.op->reference(f.in, f.ref, f.p);
  EXPECT_EQ(f.ref.at("path").data<std::int64_t>()[1], 2);
  TensorMap out = f.outputs(1, 1);
  const Agreement a = f.compare(out);
  EXPECT_FALSE(a.passed);
  EXPECT_EQ(a.ties, 0);
  EXPECT_NE(a.first_mismatch.find("path[0]"), std::string::npos) << a.first_mismatch;
}

TEST(FffRouting, AWrongLeafIsRejectedAndPoisonFails) {
  Registry reg;
  register_all_suites(reg);
  const Op& op = find(reg, "fff");
  Params p;
  for (auto [k, v] : {std::pair{"batch", "50"},
                      {"d_in", "20"},
                      {"d_out", "4"},
                      {"depth", "3"},
                      {"node_width", "1"},
                      {"leaf_width", "4"},
                      {"dist", "normal"}}) {
    p.set(k, v);
  }
  const TensorMap in = make_inputs(op, p);
  TensorMap ref = make_outputs(op, p, true);
  op.reference(in, ref, p);
  TensorMap out = make_outputs(op, p, false);
  const suite::F64 xd(in.at("x"));
  cpu::plain::fff(in.at("x").data<float>(),
                  {in.at("node_w1").data<float>(), in.at("node_b1").data<float>(),
                   in.at("node_w2").data<float>(), in.at("node_b2").data<float>(),
                   in.at("leaf_w1").data<float>(), in.at("leaf_b1").data<float>(),
                   in.at("leaf_w2").data<float>(), in.at("leaf_b2").data<float>()},
                  {20, 4, 3, 1, 4}, out.at("y").data<float>(), out.at("leaf").data<std::int64_t>(),
                  50);
  const Tolerance tol = op.tolerance(DType::f32);
  EXPECT_TRUE(op.compare(in, out, ref, p, tol).passed);
  out.at("leaf").data<std::int64_t>()[7] ^= 4;  // the root's decision flipped for row 7
  Agreement a = op.compare(in, out, ref, p, tol);
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("leaf[7]"), std::string::npos) << a.first_mismatch;
  TensorMap poisoned = make_outputs(op, p, false);
  EXPECT_FALSE(op.compare(in, poisoned, ref, p, tol).passed);
}

TEST(FffSuite, DenseWidthMatchesTheTree) {
  Registry reg;
  register_all_suites(reg);
  const Op& dense = find(reg, "dense_ff");
  Params p;
  for (auto [k, v] : {std::pair{"batch", "1"},
                      {"d_in", "768"},
                      {"d_out", "768"},
                      {"depth", "11"},
                      {"node_width", "1"},
                      {"leaf_width", "1"},
                      {"dist", "normal"}}) {
    p.set(k, v);
  }
  EXPECT_EQ(dense.shape_of(*dense.find_tensor("w_in"), p), (Shape{4095, 768}));  // UltraFastBERT
  const Op& ultra = find(reg, "ultrafast_fff");
  EXPECT_EQ(ultra.shape_of(*ultra.find_tensor("w_in"), p), (Shape{4095, 768}));
  p.set("depth", "7");
  p.set("leaf_width", "32");
  EXPECT_EQ(dense.shape_of(*dense.find_tensor("w_in"), p), (Shape{128 * 32 + 127, 768}));
  // ultrafast at depth 11: 12 neurons of 768 + 768 multiply-adds per row
  p.set("depth", "11");
  EXPECT_DOUBLE_EQ(ultra.cost(p, DType::f32).flops, 2.0 * 12 * 1536);
}

TEST(FffSuite, BadDepthIsRejectedWithOneLine) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  for (const char* bad : {"21", "-1", "two"}) {
    Selection sel;
    sel.ops = {"fff"};
    sel.axis_overrides = {{"depth", bad}};
    try {
      plan_cases(reg, sel, data);
      ADD_FAILURE() << "depth " << bad << " accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("depth"), std::string::npos) << e.what();
    }
  }
  Selection soft;
  soft.ops = {"soft_fff"};
  soft.axis_overrides = {{"depth", "13"}};
  EXPECT_THROW(plan_cases(reg, soft, data), UsageError);
}

TEST(FffSuite, LargeDenseCaseIsCheckedOnASampleOfRows) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {"dense_ff"};
  sel.impls = {"ref", "openblas"};
  sel.axis_overrides = {{"batch", "3000"}, {"d_in", "256"}, {"d_out", "256"}, {"depth", "9"}};
  RunResult r = check(reg, sel);
  ASSERT_EQ(r.datasets.size(), 1u);
  EXPECT_EQ(r.datasets[0].sample_axis, "batch");
  EXPECT_GT(r.datasets[0].sample_rows.size(), 0u);
  EXPECT_LT(r.datasets[0].sample_rows.size(), 3000u);
  for (const auto& c : r.cases) {
    if (c.impl != "openblas") continue;
    EXPECT_TRUE(c.agreement.passed) << c.agreement.first_mismatch;
    EXPECT_EQ(c.agreement.elements,
              static_cast<std::int64_t>(r.datasets[0].sample_rows.size()) * 256);
  }
}

}  // namespace
}  // namespace opbench
