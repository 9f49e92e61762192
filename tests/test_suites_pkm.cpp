// The pkm suite (suites/pkm.cpp): every implementation against the float64 reference through the
// planner and runner that `opbench check` uses, the one-line rejection of bad shapes, and the
// tie-aware comparison (ties accepted and counted, anything else rejected).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/case_data.hpp"
#include "harness/errors.hpp"
#include "harness/runner.hpp"
#include "reference/pkm.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

RunResult check(const Registry& reg, const Selection& sel, bool full_check = false) {
  return test_support::check_selection(reg, sel, full_check);
}

Registry all_suites() {
  Registry reg;
  register_all_suites(reg);
  return reg;
}

// Every implementation agrees on every scenario, or is a peer's listed known failure; CUDA is
// listed as skipped without a device.
void expect_all_agree(const RunResult& r, int want_checked) {
  EXPECT_GE(test_support::expect_all_agree_or_listed(r), want_checked);
}

TEST(PkmSuite, RegistersThreeOpsWithTheirImplementations) {
  Registry reg = all_suites();
  for (const char* name : {"pkm_topk", "bruteforce_topk", "pkm_layer"}) {
    const Op* op = reg.find_op(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_EQ(op->suite, "pkm");
    EXPECT_NE(op->find_impl("ref"), nullptr);
    EXPECT_NE(op->find_impl("cpu.plain"), nullptr);
    EXPECT_NE(op->find_impl("cpu.fast"), nullptr);
    EXPECT_EQ(op->sample_axis, "tokens");
  }
#ifdef OPBENCH_HAVE_FAISS
  EXPECT_NE(reg.find_op("bruteforce_topk")->find_impl("faiss"), nullptr);
#endif
}

TEST(PkmSuite, SearchesAgreeOnEveryScenario) {
  Registry reg = all_suites();
  Selection sel;
  sel.ops = {"pkm_topk", "bruteforce_topk"};
  sel.axis_overrides = {{"keys", "1024"}, {"tokens", "19"}, {"heads", "1,3"},
                        {"dk", "32"},     {"k", "1,8,32"},  {"dist", "normal,ties,large_norm"}};
  sel.dtypes = {"f32", "bf16", "f16"};  // every implementation in every dtype it claims
  expect_all_agree(check(reg, sel, true), 2 * 2 * 3 * 3 * 2);
}

TEST(PkmSuite, LayerAgrees) {
  Registry reg = all_suites();
  Selection sel;
  sel.ops = {"pkm_layer"};
  sel.axis_overrides = {
      {"keys", "1024"}, {"tokens", "33"}, {"heads", "1,4"}, {"dk", "64"},
      {"k", "8"},       {"din", "48"},    {"dv", "24,29"},  {"dist", "normal,uniform"}};
  sel.dtypes = {"f32", "bf16", "f16"};  // dv = 29: value rows with a tail after the vectors
  expect_all_agree(check(reg, sel, true), 2 * 2 * 2 * 2);
}

// A large case samples its tokens (the float64 brute force would dominate) and still agrees.
TEST(PkmSuite, LargeSearchIsCheckedOnASampleOfTokens) {
  Registry reg = all_suites();
  Selection sel;
  sel.ops = {"pkm_topk"};
  sel.impls = {"ref", "cpu.fast"};
  sel.dtypes = {"f32"};
  sel.axis_overrides = {{"keys", "65536"}, {"tokens", "64"}, {"dist", "normal"}};
  RunResult r = check(reg, sel);
  ASSERT_EQ(r.datasets.size(), 1u);
  EXPECT_EQ(r.datasets[0].sample_axis, "tokens");
  EXPECT_GT(r.datasets[0].sample_rows.size(), 0u);
  EXPECT_LT(r.datasets[0].sample_rows.size(), 64u);
  expect_all_agree(r, 1);
}

void expect_refused(const std::map<std::string, std::string>& axes, const std::string& words) {
  Registry reg = all_suites();
  Selection sel;
  sel.ops = {"pkm_topk"};
  sel.axis_overrides = axes;
  datasets::SeededDataProvider data;
  try {
    plan_cases(reg, sel, data);
    FAIL() << "accepted: " << words;
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(words), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(PkmSuite, BadShapesAreRefusedWithOneLine) {
  expect_refused({{"keys", "256"}, {"k", "17"}}, "k=17 exceeds sqrt(keys)=16");
  expect_refused({{"keys", "1000"}}, "keys=1000 must be a perfect square");
  expect_refused({{"keys", "256"}, {"k", "4"}, {"dk", "31"}}, "dk=31 must be even");
}

// --- the comparison rule, on hand-made outputs ---------------------------------------------------

// One token, one head, n = 3 sub-keys, dk = 2: q = [1, 1], k1 = [2, 2, -5], k2 = [1, 0.5, -1].
// Scores of (i, j) -> 3i + j: (0,0) = (1,0) = 3, (0,1) = (1,1) = 2.5, (0,2) = (1,2) = 1, ...
// With k = 3 the reference answers [0, 3, 1] (scores 3, 3, 2.5): index 4 ties with index 1 at the
// third place, and 0 and 3 tie at the first.
struct Hand {
  Registry reg = all_suites();
  const Op* op = reg.find_op("pkm_topk");
  Params p;
  TensorMap in, ref, out;
  std::int64_t k;
  Hand(const Hand&) = delete;  // `op` points into `reg`
  explicit Hand(std::vector<float> q = {1, 1}, std::vector<float> k1 = {2, 2, -5},
                std::vector<float> k2 = {1, 0.5f, -1}, std::int64_t k_ = 3)
      : k(k_) {
    for (auto [name, v] : std::map<std::string, std::string>{{"keys", "9"},
                                                             {"tokens", "1"},
                                                             {"heads", "1"},
                                                             {"dk", "2"},
                                                             {"k", std::to_string(k)},
                                                             {"dist", "normal"}}) {
      p.set(name, v);
    }
    auto f32 = [](std::vector<float> v, Shape s) {
      Tensor t(DType::f32, s);
      std::copy(v.begin(), v.end(), t.data<float>());
      return t;
    };
    in["q"] = f32(q, {1, 1, 2});
    in["k1"] = f32(k1, {1, 3, 1});
    in["k2"] = f32(k2, {1, 3, 1});
    ref["scores"] = Tensor(DType::f64, {1, 1, k});
    ref["indices"] = Tensor(DType::i64, {1, 1, k});
    op->reference(in, ref, p);
  }
  // Implementation outputs: the given indices with their exact scores.
  Agreement compare(std::vector<std::int64_t> idx, std::vector<float> scores) {
    out["scores"] = Tensor(DType::f32, {1, 1, k});
    out["indices"] = Tensor(DType::i64, {1, 1, k});
    std::copy(idx.begin(), idx.end(), out["indices"].data<std::int64_t>());
    std::copy(scores.begin(), scores.end(), out["scores"].data<float>());
    return op->compare(in, out, ref, p, op->tolerance(DType::f32));
  }
};

TEST(PkmCompare, ReferenceBreaksTiesBySmallerIndex) {
  Hand h;
  const std::int64_t* ri = h.ref["indices"].data<std::int64_t>();
  EXPECT_EQ(ri[0], 0);
  EXPECT_EQ(ri[1], 3);
  EXPECT_EQ(ri[2], 1);
}

TEST(PkmCompare, ExactAnswerPassesWithoutTies) {
  Hand h;
  Agreement a = h.compare({0, 3, 1}, {3, 3, 2.5f});
  EXPECT_TRUE(a.passed) << a.first_mismatch;
  EXPECT_EQ(a.ties, 0);
  EXPECT_EQ(a.elements, 6);
}

TEST(PkmCompare, TiedIndicesAreAcceptedAndCounted) {
  Hand h;
  Agreement a = h.compare({3, 0, 4}, {3, 3, 2.5f});  // both ties swapped / replaced
  EXPECT_TRUE(a.passed) << a.first_mismatch;
  EXPECT_EQ(a.ties, 1);  // one (token, head) row had ties
}

TEST(PkmCompare, WrongIndexFailsAndIsNamed) {
  Hand h;
  Agreement a = h.compare({0, 3, 2}, {3, 3, 1});  // index 2 scores 1, not 2.5
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("indices[0, 0, 2]: got 2"), std::string::npos)
      << a.first_mismatch;
}

TEST(PkmCompare, RepeatedIndexFails) {
  Hand h;
  Agreement a = h.compare({0, 0, 1}, {3, 3, 2.5f});  // 0 twice: its score ties, but it is one key
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("repeated"), std::string::npos) << a.first_mismatch;
}

TEST(PkmCompare, WrongScoreFails) {
  Hand h;
  Agreement a = h.compare({0, 3, 1}, {3, 3, 2.501f});
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("scores[0, 0, 2]"), std::string::npos) << a.first_mismatch;
}

TEST(PkmCompare, PoisonedOutputsFail) {
  Hand h;
  h.out["scores"] = Tensor(DType::f32, {1, 1, 3});
  h.out["indices"] = Tensor(DType::i64, {1, 1, 3});
  h.out["scores"].poison();
  h.out["indices"].poison();
  Agreement a = h.op->compare(h.in, h.out, h.ref, h.p, h.op->tolerance(DType::f32));
  EXPECT_FALSE(a.passed);
  EXPECT_EQ(a.mismatches, 3);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Agreement b = h.compare({0, 3, 1}, {3, nan, 2.5f});
  EXPECT_FALSE(b.passed);
}

// --- NaN and infinite scores: the order of the lists (ref::pkm_before) -------------------------

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// q = [1, 1], k1 = [NaN, 2, +inf], k2 = [1, NaN, -inf]: score (i, j) = k1_i + k2_j, index 3i + j:
//   (0, *) NaN NaN NaN          indices 0 1 2
//   (1, *) 3   NaN -inf         indices 3 4 5
//   (2, *) inf NaN inf-inf=NaN  indices 6 7 8
// In order: 6 (+inf), 3 (3), then the -inf keys by index: 0 (NaN), 1, 2, 4, 5 (-inf), 7, 8.
Hand special() {
  return Hand({1, 1}, {kNaN, 2, kInf}, {1, kNaN, -kInf});
}

TEST(PkmCompareSpecial, ReferenceRanksNaNWithMinusInfinity) {
  Hand h = special();
  const std::int64_t* ri = h.ref["indices"].data<std::int64_t>();
  const double* rs = h.ref["scores"].data<double>();
  EXPECT_EQ(ri[0], 6);
  EXPECT_EQ(ri[1], 3);
  EXPECT_EQ(ri[2], 0);
  EXPECT_EQ(rs[0], INFINITY);
  EXPECT_EQ(rs[1], 3.0);
  EXPECT_TRUE(std::isnan(rs[2]));
}

TEST(PkmCompareSpecial, ExactAnswerWithNaNAndInfinityPasses) {
  Hand h = special();
  Agreement a = h.compare({6, 3, 0}, {kInf, 3, kNaN});
  EXPECT_TRUE(a.passed) << a.first_mismatch;
  EXPECT_EQ(a.ties, 0);
  EXPECT_EQ(a.elements, 6);
}

TEST(PkmCompareSpecial, MinusInfinityAndNaNTie) {
  Hand h = special();
  Agreement a = h.compare({6, 3, 5}, {kInf, 3, -kInf});  // -inf where the reference has NaN
  EXPECT_TRUE(a.passed) << a.first_mismatch;
  EXPECT_EQ(a.ties, 1);
  Agreement b = h.compare({6, 3, 8}, {kInf, 3, kNaN});  // inf + -inf: NaN, a larger index
  EXPECT_TRUE(b.passed) << b.first_mismatch;
  EXPECT_EQ(b.ties, 1);
}

TEST(PkmCompareSpecial, AFiniteScoreDoesNotTieWithInfinity) {
  Hand h = special();
  // 3 and +inf swapped: the allowed error of an infinite score is infinite, which must not make
  // a finite score its tie.
  Agreement a = h.compare({3, 6, 0}, {3, kInf, kNaN});
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("indices[0, 0, 0]: got 3"), std::string::npos)
      << a.first_mismatch;
}

TEST(PkmCompareSpecial, NaNBeforeAFiniteScoreFails) {
  Hand h = special();
  Agreement a = h.compare({6, 0, 3}, {kInf, kNaN, 3});
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("indices[0, 0, 1]: got 0"), std::string::npos)
      << a.first_mismatch;
}

TEST(PkmCompareSpecial, ScoresAreNaNAndInfiniteWhereTheExactOnesAre) {
  Hand h = special();
  Agreement a = h.compare({6, 3, 0}, {kInf, 3, 0});  // 0 for NaN
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("scores[0, 0, 2]"), std::string::npos) << a.first_mismatch;
  Agreement b = h.compare({6, 3, 0}, {std::numeric_limits<float>::max(), 3, kNaN});
  EXPECT_FALSE(b.passed);
  EXPECT_NE(b.first_mismatch.find("scores[0, 0, 0]"), std::string::npos) << b.first_mismatch;
  Agreement c = h.compare({6, 3, 0}, {-kInf, 3, kNaN});
  EXPECT_FALSE(c.passed);
}

// The CPU implementations themselves, bound by the suite and compared by it, on inputs with NaN
// and infinite scores. Second case: q = [inf, 1], k1 = [1, 2, -1], k2 = [0.5, 3, 2], k = 2: every
// product of rows 0 and 1 scores +inf; the brute force answers 0, 1, the product-key search (its
// candidates: sub-keys {0, 1} x {1, 2}) 1, 2: a tie, accepted and counted.
TEST(PkmCompareSpecial, CpuKernelsAgreeOnNaNAndInfiniteScores) {
  struct Case {
    Hand hand;
    int pkm_ties;
  };
  Case cases[] = {{special(), 0}, {Hand({kInf, 1}, {1, 2, -1}, {0.5f, 3, 2}, 2), 1}};
  for (Case& c : cases) {
    for (const char* op_name : {"pkm_topk", "bruteforce_topk"}) {
      const Op* op = c.hand.reg.find_op(op_name);
      ASSERT_NE(op, nullptr);
      for (const char* impl : {"cpu.plain", "cpu.fast"}) {
        TensorMap out;
        out["scores"] = Tensor(DType::f32, {1, 1, c.hand.k});
        out["indices"] = Tensor(DType::i64, {1, 1, c.hand.k});
        out["scores"].poison();
        out["indices"].poison();
        auto kernel = op->find_impl(impl)->bind(c.hand.in, out, c.hand.p);
        kernel->run();
        kernel->sync();
        kernel->fetch();
        Agreement a = op->compare(c.hand.in, out, c.hand.ref, c.hand.p, op->tolerance(DType::f32));
        EXPECT_TRUE(a.passed) << op_name << " " << impl << ": " << a.first_mismatch;
        EXPECT_EQ(a.ties, std::string(op_name) == "pkm_topk" ? c.pkm_ties : 0)
            << op_name << " " << impl;
      }
    }
  }
}

// --- pkm_layer_backward (suites/pkm_backward.cpp) ------------------------------------------------

// keys = 4 (n = 2), k = 2, one token, one head, dk = 2 (halves of 1), din = dv = 1, by hand:
// indices {3, 0} = (i, j) (1, 1) and (0, 0), p = {0.75, 0.25}, values {1, 2, 3, 5}, dy = 2:
//   dvalues = {0.25 * 2, 0, 0, 0.75 * 2}; dp = {2 * 5, 2 * 1}; sum p dp = 8;
//   ds = {0.75 (10 - 8), 0.25 (2 - 8)} = {1.5, -1.5}; keys [k1_i ; k2_j]: (1, 1) = [-1 ; 1],
//   (0, 0) = [0.5 ; 2]: dq = 1.5 [-1, 1] - 1.5 [0.5, 2] = [-2.25, -1.5];
//   q = zhat gamma + beta = [1 * 2 + 0.5, -2 * 0.5 + 2] = [2.5, 1]: dk1 = {-1.5 * 2.5, 1.5 * 2.5},
//   dk2 = {-1.5 * 1, 1.5 * 1}; dbn_beta = dq, dbn_gamma = dq zhat = [-2.25, 3];
//   rstd = 2 (var + eps = 0.25): dz = dq gamma rstd = [-9, -1.5] = db; x = 3: dw = [-27, -4.5];
//   W = [1, -1]: dx = -9 + 1.5 = -7.5.
TEST(PkmBackward, ReferenceMatchesAHandComputedCase) {
  const double eps = 1e-5;
  const double x[] = {3}, w[] = {1, -1}, b[] = {0, 0}, mean[] = {0, 0};
  const double var[] = {0.25 - eps, 0.25 - eps}, gamma[] = {2, 0.5}, beta[] = {0.5, 2};
  const double k1[] = {0.5, -1}, k2[] = {2, 1}, values[] = {1, 2, 3, 5}, dy[] = {2};
  const std::int64_t indices[] = {3, 0};
  const double p[] = {0.75, 0.25}, zhat[] = {1, -2};
  double dx[1], dw[2], db[2], dg[2], dbeta[2], dk1[2], dk2[2], dvalues[4];
  const ref::PkmLayerWeights wts{w, b, mean, var, gamma, beta, k1, k2, values};
  ref::pkm_layer_backward(x, wts, dy, indices, p, zhat, {dx, dw, db, dg, dbeta, dk1, dk2, dvalues},
                          {1, 1, 2, 2, 2}, 1, 1, eps);
  auto expect = [](const double* got, std::vector<double> want, const char* name) {
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << name << i;
  };
  expect(dvalues, {0.5, 0, 0, 1.5}, "dvalues");
  expect(dk1, {-3.75, 3.75}, "dk1");
  expect(dk2, {-1.5, 1.5}, "dk2");
  expect(dbeta, {-2.25, -1.5}, "dbn_beta");
  expect(dg, {-2.25, 3}, "dbn_gamma");
  expect(db, {-9, -1.5}, "db");
  expect(dw, {-27, -4.5}, "dw");
  expect(dx, {-7.5}, "dx");
}

TEST(PkmBackward, DeclaresAccumulateIntoOutputs) {
  Registry reg = all_suites();
  const Op* op = reg.find_op("pkm_layer_backward");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->mode, Mode::bwd);
  for (const char* name : {"dvalues", "dk1", "dk2"}) EXPECT_TRUE(op->find_tensor(name)->accumulate);
  for (const char* name : {"dx", "dw", "db"}) EXPECT_FALSE(op->find_tensor(name)->accumulate);
}

// cpu.plain and cpu.fast over edge shapes (one token, k = 1, k = n, dv with a tail after the
// column blocks) and both scenarios, shared_rows being the contention case.
TEST(PkmBackward, ImplementationsAgreeIncludingSharedRows) {
  Registry reg = all_suites();
  Selection sel;
  sel.ops = {"pkm_layer_backward"};
  sel.axis_overrides = {
      {"keys", "256"}, {"tokens", "1,37"}, {"heads", "1,3"}, {"dk", "16"},
      {"k", "1,16"},   {"din", "20"},      {"dv", "131"},    {"dist", "normal,shared_rows"}};
  expect_all_agree(check(reg, sel), 2 * 2 * 2 * 2 * 2);
}

// shared_rows really is contention: every token chose the same rows.
TEST(PkmBackward, SharedRowsMakeEveryTokenPickTheSameRows) {
  Registry reg = all_suites();
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"pkm_layer_backward"};
  sel.impls = {"cpu.fast"};
  sel.axis_overrides = {{"keys", "256"}, {"tokens", "9"}, {"heads", "2"}, {"dk", "16"},
                        {"k", "4"},      {"din", "20"},   {"dv", "8"},    {"dist", "shared_rows"}};
  const auto plan = plan_cases(reg, sel, data);
  ASSERT_EQ(plan.size(), 1u);
  const Dataset d = make_inputs(plan.front(), data, sel, RunOptions{});
  const std::int64_t* idx = d.inputs.at("indices").data<std::int64_t>();
  for (std::int64_t t = 1; t < 9; ++t) {
    for (std::int64_t e = 0; e < 2 * 4; ++e) EXPECT_EQ(idx[t * 8 + e], idx[e]) << t << " " << e;
  }
}

// Planted kernels (cpu.fast, then one slip) that each break one thing the rule must see: the
// accumulate-into buffer overwritten instead of added to, one contribution added twice, the
// two sub-key gradients swapped, dw 1% off. cpu.fast passes on the same datasets.
TEST(PkmBackward, SabotagedKernelsFail) {
  Registry reg = all_suites();
  const Op& op = *reg.find_op("pkm_layer_backward");
  const BindFn fast = op.find_impl("cpu.fast")->bind;
  auto planted = [&](const char* name, std::function<void(const TensorMap&, TensorMap&)> after) {
    Impl i;
    i.name = name;
    i.backend = "cpu";
    i.bind = [fast, after](const TensorMap& in, TensorMap& out, const Params& p) {
      struct K final : BoundKernel {
        std::unique_ptr<BoundKernel> inner;
        std::function<void()> then;
        void run() override {
          inner->run();
          then();
        }
      };
      auto k = std::make_unique<K>();
      k->inner = fast(in, out, p);
      k->then = [&in, &out, after] { after(in, out); };
      return k;
    };
    reg.add_impl("pkm", "pkm_layer_backward", std::move(i));
  };
  // Overwrites: the base taken out again, what a kernel that zeroes the buffer first leaves.
  planted("cpu.overwrites", [](const TensorMap&, TensorMap& o) {
    float* v = o.at("dvalues").data<float>();
    for (std::int64_t k = 0; k < o.at("dvalues").numel(); ++k) v[k] -= 1.0f;
  });
  // One contribution (token 0, head 0, place 0) added twice.
  planted("cpu.twice", [](const TensorMap& i, TensorMap& o) {
    const std::int64_t row = i.at("indices").data<std::int64_t>()[0];
    const float p = i.at("weights").data<float>()[0];
    const std::int64_t dv = o.at("dvalues").dim(1);
    for (std::int64_t j = 0; j < dv; ++j) {
      o.at("dvalues").data<float>()[row * dv + j] += p * i.at("dy").data<float>()[j];
    }
  });
  // The two sub-key gradients swapped (an indexing slip between the halves).
  planted("cpu.dk_swapped", [](const TensorMap&, TensorMap& o) {
    float* a = o.at("dk1").data<float>();
    float* b = o.at("dk2").data<float>();
    for (std::int64_t k = 0; k < o.at("dk1").numel(); ++k) std::swap(a[k], b[k]);
  });
  // dw 1% off (a scale slip in the projection's gradient).
  planted("cpu.dw_off", [](const TensorMap&, TensorMap& o) {
    float* dw = o.at("dw").data<float>();
    for (std::int64_t k = 0; k < o.at("dw").numel(); ++k) dw[k] *= 1.01f;
  });
  Selection sel;
  sel.ops = {"pkm_layer_backward"};
  sel.axis_overrides = {
      {"keys", "256"}, {"tokens", "64"}, {"heads", "2"}, {"dk", "16"},
      {"k", "8"},      {"din", "20"},    {"dv", "24"},   {"dist", "normal,shared_rows"}};
  sel.impls = {"cpu.fast", "cpu.overwrites", "cpu.twice", "cpu.dk_swapped", "cpu.dw_off"};
  const RunResult r = check(reg, sel);
  const std::map<std::string, std::string> where = {{"cpu.overwrites", "dvalues"},
                                                    {"cpu.twice", "dvalues"},
                                                    {"cpu.dk_swapped", "dk1"},
                                                    {"cpu.dw_off", "dw"}};
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "ref") continue;
    ++seen;
    if (c.impl == "cpu.fast") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.name << c.agreement.first_mismatch;
      continue;
    }
    EXPECT_EQ(c.agreement.status, AgreementStatus::fail) << c.name;
    EXPECT_NE(c.agreement.first_mismatch.find(where.at(c.impl)), std::string::npos)
        << c.name << ": " << c.agreement.first_mismatch;
  }
  EXPECT_EQ(seen, 2 * 5);
}

}  // namespace
}  // namespace opbench
