// The pkm suite (suites/pkm.cpp): every implementation against the float64 reference through the
// planner and runner that `opbench check` uses, the one-line rejection of bad shapes, and the
// tie-aware comparison (ties accepted and counted, anything else rejected).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/runner.hpp"
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

}  // namespace
}  // namespace opbench
