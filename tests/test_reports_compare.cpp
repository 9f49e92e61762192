// Tests of `opbench compare`'s library side (reports/statistics, reports/compare,
// reports/compare_format) and of reading reports leniently (reports/json_report's load_report):
// the U test against hand-computed values and against scipy, verdicts, matching cases across
// runs, agreement regressions, warnings for different machines, every output format.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/runner.hpp"
#include "reports/compare.hpp"
#include "reports/compare_format.hpp"
#include "reports/json_report.hpp"
#include "reports/statistics.hpp"
#include "suites/suites.hpp"
#include "tests/report_fixtures.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
namespace rep = opbench::reports;
namespace st = opbench::reports::stats;

namespace {

const std::string kPoint = "rows:64/cols:4096/dist:normal";

std::string case_name(const std::string& impl, const std::string& op = "layernorm") {
  return "norm/" + op + "/" + impl + "/f32/" + kPoint;
}

// A report as opbench writes it: `reps` repetitions of each case around `median_us` with a
// seeded spread of +-`noise` (a fraction), plus the aggregates Google Benchmark adds.
struct CaseSpec {
  std::string impl;
  double median_us;
  bool passed = true;
  double max_rel_err = 1e-7;
  std::string op = "layernorm";
  std::string error;
};

json make_report(const std::vector<CaseSpec>& cases, int reps, double noise, unsigned seed,
                 const std::string& cpu = "AMD EPYC", const std::string& commit = "abc123") {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-noise, noise);
  json benchmarks = json::array(), opcases = json::array();
  for (const CaseSpec& c : cases) {
    std::string name = case_name(c.impl, c.op);
    json fields = {{"suite", "norm"},
                   {"op", c.op},
                   {"impl", c.impl},
                   {"backend", c.impl == "ref" ? "ref" : "cpu"},
                   {"dtype", "f32"},
                   {"params", {{"rows", 64}, {"cols", 4096}, {"dist", "normal"}}},
                   {"dataset", "norm/" + c.op + "/f32/" + kPoint},
                   {"cost", {{"flops", 2097152.0}, {"bytes", 2129920.0}}},
                   {"agreement",
                    {{"checked", c.impl != "ref"},
                     {"passed", c.impl != "ref" && c.passed},
                     {"max_abs_err", c.max_rel_err},
                     {"max_rel_err", c.max_rel_err},
                     {"rel_l2_err", c.max_rel_err / 10},
                     {"mismatches", c.passed ? 0 : 5},
                     {"elements", 262144},
                     {"first_mismatch", c.passed ? "" : "y[0, 1]: got 2, want 1"}}},
                   {"is_reference", c.impl == "ref"}};
    if (!c.error.empty()) fields["error"] = c.error;
    json oc = fields;
    oc["name"] = name;
    opcases.push_back(oc);
    if (!c.error.empty()) continue;
    for (int r = 0; r < reps; ++r) {
      json e = fields;
      e["name"] = name + "/real_time";
      e["run_name"] = name + "/real_time";
      e["run_type"] = "iteration";
      e["repetitions"] = reps;
      e["repetition_index"] = r;
      e["iterations"] = 100;
      e["real_time"] = c.median_us * 1000 * (1 + u(rng));
      e["cpu_time"] = c.median_us * 900;
      e["time_unit"] = "ns";
      e["gbps"] = nullptr;
      e["gflops"] = nullptr;
      e["ceiling_fraction"] = 0.5;
      benchmarks.push_back(e);
    }
  }
  return {
      {"context", {{"date", "2026-11-23T03:00:00+00:00"}, {"host_name", "vm"}, {"num_cpus", 2}}},
      {"benchmarks", benchmarks},
      {"opbench",
       report_fixtures::opbench_block(commit, cpu, "opbench run", json::array(), opcases)}};
}

std::vector<CaseSpec> three_kernels(double fast_us = 200) {
  return {{"ref", 5000}, {"cpu.plain", 800}, {"cpu.fast", fast_us}};
}

const rep::CaseComparison& find_case(const rep::Comparison& cmp, const std::string& impl) {
  for (const auto& c : cmp.cases) {
    if (c.now->impl == impl) return c;
  }
  throw std::runtime_error("no case " + impl);
}

std::string run_command(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string python_with_scipy() {
  for (const char* py : {"python3", "/usr/bin/python3"}) {
    int rc = -1;
    run_command(std::string(py) + " -c 'import scipy.stats'", &rc);
    if (rc == 0) return py;
  }
  return "";
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "opbench_test_compare.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return (path_ / name).string();
  }

 private:
  fs::path path_;
};

template <class F>
std::string usage_error(F&& fn) {
  try {
    fn();
  } catch (const opbench::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Statistics

TEST(Statistics, MedianAndCoefficientOfVariation) {
  EXPECT_DOUBLE_EQ(st::median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(st::median({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(st::median({})));
  // mean 2, sample stddev 1 -> 0.5
  EXPECT_DOUBLE_EQ(st::coefficient_of_variation({1, 2, 3}), 0.5);
  EXPECT_TRUE(std::isnan(st::coefficient_of_variation({1})));
}

TEST(Statistics, ExactUTestMatchesHandCountedArrangements) {
  // Completely separated samples of 3: U = 0, and only 2 of the C(6,3) = 20 arrangements are as
  // extreme: p = 0.1.
  st::UTest t = st::mann_whitney_u({1, 2, 3}, {4, 5, 6});
  EXPECT_EQ(t.method, st::UMethod::kExact);
  EXPECT_DOUBLE_EQ(t.u, 0);
  EXPECT_NEAR(t.p_value, 0.1, 1e-12);
  // Separated samples of 4: 2 / C(8,4) = 2/70.
  EXPECT_NEAR(st::mann_whitney_u({5, 6, 7, 8}, {1, 2, 3, 4}).p_value, 2.0 / 70, 1e-12);
  EXPECT_DOUBLE_EQ(st::mann_whitney_u({5, 6, 7, 8}, {1, 2, 3, 4}).u, 16);
  // Interleaved {1,3,5} vs {2,4,6}: R1 = 9, U1 = 3, U max = 6. The counts of U for 3 and 3 are
  // 1,1,2,3,3,3,3,2,1,1 (k = 0..9): P(U >= 6) = 7/20, two-sided 0.7.
  t = st::mann_whitney_u({1, 3, 5}, {2, 4, 6});
  EXPECT_DOUBLE_EQ(t.u, 3);
  EXPECT_NEAR(t.p_value, 0.7, 1e-12);
  // Identical distributions give p = 1 (clipped).
  EXPECT_DOUBLE_EQ(st::mann_whitney_u({1, 4}, {2, 3}).p_value, 1.0);
}

TEST(Statistics, NormalApproximationWithTiesMatchesTheHandComputation) {
  // {1,2,2,3} vs {2,3,4,5}: average ranks 1, 3, 3, 5.5 | 3, 5.5, 7, 8; R1 = 12.5, U1 = 2.5,
  // U max = 13.5, mu = 8; tie term (3^3-3) + (2^3-2) = 30;
  // s = sqrt(16/12 * (9 - 30/56)) = 3.359422; z = (13.5 - 8 - 0.5) / s = 1.488351;
  // p = 2 * (1 - Phi(1.488351)) = 0.136658.
  st::UTest t = st::mann_whitney_u({1, 2, 2, 3}, {2, 3, 4, 5});
  EXPECT_EQ(t.method, st::UMethod::kNormal);
  EXPECT_DOUBLE_EQ(t.u, 2.5);
  EXPECT_NEAR(t.p_value, 0.136658, 1e-6);
  // All values equal: no evidence at all.
  EXPECT_DOUBLE_EQ(st::mann_whitney_u({2, 2, 2}, {2, 2, 2}).p_value, 1.0);
  // Both samples above 8 values: exact up to 40 values in all, then the normal approximation.
  std::vector<double> a, b, c;
  for (int i = 0; i < 10; ++i) {
    a.push_back(i);
    b.push_back(i + 0.5);
  }
  for (int i = 0; i < 31; ++i) c.push_back(i + 0.5);
  EXPECT_EQ(st::mann_whitney_u(a, b).method, st::UMethod::kExact);
  EXPECT_EQ(st::mann_whitney_u(a, c).method, st::UMethod::kNormal);
  EXPECT_EQ(st::mann_whitney_u(a, {0.25, 1.25, 2.25}).method, st::UMethod::kExact);
  EXPECT_EQ(st::mann_whitney_u(a, {1, 2, 3}).method, st::UMethod::kNormal);  // ties
}

TEST(Statistics, SmallestPValueSaysWhenThereAreTooFewRepetitions) {
  EXPECT_NEAR(st::smallest_p_value(3, 3), 0.1, 1e-12);
  EXPECT_NEAR(st::smallest_p_value(4, 4), 2.0 / 70, 1e-12);
  EXPECT_NEAR(st::smallest_p_value(3, 4), 2.0 / 35, 1e-12);
  EXPECT_DOUBLE_EQ(st::smallest_p_value(1, 9), 0.2);
  EXPECT_DOUBLE_EQ(st::smallest_p_value(0, 9), 1.0);
  // 9 against 9: exact, 2 / C(18, 9) = 2 / 48620.
  EXPECT_NEAR(st::smallest_p_value(9, 9), 2.0 / 48620, 1e-15);
  EXPECT_EQ(st::repetitions_needed(0.05), 4u);
  EXPECT_EQ(st::repetitions_needed(0.01), 5u);  // 2/252 = 0.0079
}

TEST(Statistics, AgreesWithScipyMannWhitneyU) {
  std::string py = python_with_scipy();
  if (py.empty()) GTEST_SKIP() << "no python3 with scipy (Debian: apt-get install python3-scipy)";
  std::mt19937 rng(7);
  std::normal_distribution<double> normal(100, 10);
  std::string script = "from scipy.stats import mannwhitneyu\nimport json\nout=[]\n";
  std::vector<st::UTest> ours;
  int k = 0;
  for (std::size_t n1 : {2, 3, 5, 8, 9, 12, 20, 30}) {
    for (std::size_t n2 : {3, 7, 9, 15, 20}) {
      for (bool ties : {false, true}) {
        std::vector<double> a, b;
        double shift = (k++ % 3) * 6.0;
        for (std::size_t i = 0; i < n1; ++i) a.push_back(normal(rng));
        for (std::size_t i = 0; i < n2; ++i) b.push_back(normal(rng) + shift);
        if (ties) {
          for (double& v : a) v = std::round(v / 5) * 5;
          for (double& v : b) v = std::round(v / 5) * 5;
        }
        ours.push_back(st::mann_whitney_u(a, b));
        // scipy's default is exact only up to 8 values in a sample; opbench up to 40 in all.
        const bool exact = !ties && (n1 <= 8 || n2 <= 8 || n1 + n2 <= 40);
        EXPECT_EQ(ours.back().method == st::UMethod::kExact, exact) << n1 << " " << n2;
        script += "r=mannwhitneyu(" + json(a).dump() + "," + json(b).dump() +
                  ",alternative='two-sided',method='" + (exact ? "exact" : "asymptotic") +
                  "')\nout.append([float(r.statistic),float(r.pvalue)])\n";
      }
    }
  }
  script += "print(json.dumps(out))\n";
  TempDir dir;
  std::string file = dir.write("mwu.py", script);
  int rc = -1;
  std::string printed = run_command(py + " " + file, &rc);
  ASSERT_EQ(rc, 0) << printed;
  json theirs = json::parse(printed.substr(printed.find('[')));
  ASSERT_EQ(theirs.size(), ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    EXPECT_DOUBLE_EQ(ours[i].u, theirs[i][0].get<double>()) << i;
    EXPECT_NEAR(ours[i].p_value, theirs[i][1].get<double>(), 1e-9) << i;
  }
}

TEST(Statistics, BenjaminiHochbergMatchesRsPAdjust) {
  // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") gives 0.02 0.04 0.04 0.02.
  const std::vector<double> q = st::benjamini_hochberg({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(q.size(), 4u);
  EXPECT_DOUBLE_EQ(q[0], 0.02);
  EXPECT_DOUBLE_EQ(q[1], 0.04);
  EXPECT_DOUBLE_EQ(q[2], 0.04);
  EXPECT_DOUBLE_EQ(q[3], 0.02);
  // p.adjust(c(0.5, 0.9, 0.001), "BH"): 0.75 0.9 0.003; never above 1.
  const std::vector<double> r = st::benjamini_hochberg({0.5, 0.9, 0.001});
  EXPECT_DOUBLE_EQ(r[0], 0.75);
  EXPECT_DOUBLE_EQ(r[1], 0.9);
  EXPECT_DOUBLE_EQ(r[2], 0.003);
  EXPECT_DOUBLE_EQ(st::benjamini_hochberg({1.0, 1.0})[0], 1.0);
  EXPECT_TRUE(st::benjamini_hochberg({}).empty());
}

// ---------------------------------------------------------------------------------------------
// Verdicts and comparisons

TEST(Compare, JudgeNeedsBothTheThresholdAndSignificance) {
  rep::CompareOptions o;  // 5%, alpha 0.05
  st::UTest significant = st::mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  st::UTest noise = st::mann_whitney_u({1, 3, 5, 7, 9}, {2, 4, 6, 8, 10});
  st::UTest three = st::mann_whitney_u({1, 2, 3}, {4, 5, 6});
  EXPECT_EQ(rep::judge(0.20, significant, o), rep::Verdict::kSlower);
  EXPECT_EQ(rep::judge(-0.20, significant, o), rep::Verdict::kFaster);
  EXPECT_EQ(rep::judge(0.04, significant, o), rep::Verdict::kUnchanged);  // small
  // Beyond the threshold but not significant: the data cannot tell, which is not "unchanged".
  EXPECT_EQ(rep::judge(0.20, noise, o), rep::Verdict::kInconclusive);
  EXPECT_EQ(rep::judge(0.20, three, o), rep::Verdict::kInconclusive);
  EXPECT_EQ(rep::judge(0.01, three, o), rep::Verdict::kUnchanged);
  EXPECT_EQ(rep::judge(NAN, significant, o), rep::Verdict::kNotTimed);
  o.threshold = 0.5;
  EXPECT_EQ(rep::judge(0.20, significant, o), rep::Verdict::kUnchanged);
}

TEST(Compare, ARunComparedWithItselfShowsNoChange) {
  json doc = make_report(three_kernels(), 9, 0.03, 1);
  rep::RunData a = rep::extract_run(doc, "a.json"), b = rep::extract_run(doc, "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  ASSERT_EQ(cmp.cases.size(), 3u);
  EXPECT_EQ(cmp.unchanged, 3);
  EXPECT_FALSE(cmp.regressed());
  EXPECT_TRUE(cmp.warnings.empty()) << cmp.warnings.front();
  for (const auto& c : cmp.cases) {
    EXPECT_DOUBLE_EQ(c.ratio, 1.0);
    EXPECT_DOUBLE_EQ(c.utest.p_value, 1.0);
  }
}

TEST(Compare, NoiseAloneFlagsNothing) {
  // Two runs of the same kernels with independent +-3% noise.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    rep::RunData a = rep::extract_run(make_report(three_kernels(), 9, 0.03, seed), "a.json");
    rep::RunData b = rep::extract_run(make_report(three_kernels(), 9, 0.03, seed + 100), "b.json");
    rep::Comparison cmp = rep::compare_runs(a, b, {});
    EXPECT_FALSE(cmp.regressed()) << seed;
    EXPECT_EQ(cmp.faster, 0) << seed;
  }
}

// 84 kernels (a quick norm run's count) whose times are drawn from the same +-15% spread in both
// runs: each case's own p-value calls some of them changed by chance; the adjusted q-values do
// not. A kernel made 1.5x slower among them is still exactly the case flagged.
std::vector<CaseSpec> many_kernels(double slowed_factor = 1, int count = 84) {
  std::vector<CaseSpec> out;
  for (int i = 0; i < count; ++i) {
    out.push_back({"cpu.k" + std::to_string(i), (100.0 + i) * (i == 7 ? slowed_factor : 1)});
  }
  return out;
}

TEST(Compare, ManyCasesOfNoiseFlagNothingOnceAdjusted) {
  int flagged_unadjusted = 0;
  for (unsigned seed = 1; seed <= 10; ++seed) {
    rep::RunData a = rep::extract_run(make_report(many_kernels(), 9, 0.15, seed), "a.json");
    rep::RunData b = rep::extract_run(make_report(many_kernels(), 9, 0.15, seed + 50), "b.json");
    rep::Comparison adjusted = rep::compare_runs(a, b, {});
    EXPECT_EQ(adjusted.tested, 84);
    EXPECT_EQ(adjusted.slower + adjusted.faster, 0) << seed;
    rep::CompareOptions per_case;
    per_case.fdr = false;
    rep::Comparison raw = rep::compare_runs(a, b, per_case);
    flagged_unadjusted += raw.slower + raw.faster;
    for (const auto& c : adjusted.cases) EXPECT_GE(c.q_value, c.utest.p_value);
  }
  EXPECT_GT(flagged_unadjusted, 0);  // what the adjustment is for

  rep::RunData a = rep::extract_run(make_report(many_kernels(), 9, 0.15, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(many_kernels(1.5), 9, 0.15, 51), "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  EXPECT_EQ(cmp.slower, 1);
  EXPECT_EQ(cmp.faster, 0);
  EXPECT_EQ(find_case(cmp, "cpu.k7").verdict, rep::Verdict::kSlower);
  EXPECT_TRUE(cmp.warnings.empty());

  // A nightly of every suite compares about 200 cases: one slowed kernel is still called, since
  // 9 against 9 repetitions can reach p = 4e-5 (exact), q = 0.008.
  rep::RunData all_a = rep::extract_run(make_report(many_kernels(1, 200), 9, 0.15, 3), "a.json");
  rep::RunData all_b = rep::extract_run(make_report(many_kernels(1.5, 200), 9, 0.15, 53), "b.json");
  rep::Comparison all = rep::compare_runs(all_a, all_b, {});
  EXPECT_EQ(all.slower, 1);
  EXPECT_EQ(find_case(all, "cpu.k7").verdict, rep::Verdict::kSlower);

  // With 5 repetitions the adjustment over 84 cases cannot be reached (2/252 * 84 > 0.05): said.
  rep::RunData few_a = rep::extract_run(make_report(many_kernels(), 5, 0.15, 1), "a.json");
  rep::RunData few_b = rep::extract_run(make_report(many_kernels(1.5), 5, 0.15, 51), "b.json");
  rep::Comparison few = rep::compare_runs(few_a, few_b, {});
  ASSERT_FALSE(few.warnings.empty());
  EXPECT_NE(few.warnings.back().find("too few repetitions for 84 cases"), std::string::npos)
      << few.warnings.back();
}

TEST(Compare, AKernelMadeSlowerByAKnownFactorIsExactlyTheCaseFlagged) {
  rep::RunData a = rep::extract_run(make_report(three_kernels(200), 9, 0.03, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(three_kernels(300), 9, 0.03, 2), "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  EXPECT_EQ(cmp.slower, 1);
  EXPECT_EQ(cmp.faster, 0);
  EXPECT_TRUE(cmp.regressed());
  const auto& fast = find_case(cmp, "cpu.fast");
  EXPECT_EQ(fast.verdict, rep::Verdict::kSlower);
  EXPECT_NEAR(fast.ratio, 1.5, 0.06);
  EXPECT_LT(fast.utest.p_value, 1e-3);
  EXPECT_EQ(find_case(cmp, "cpu.plain").verdict, rep::Verdict::kUnchanged);
  EXPECT_EQ(find_case(cmp, "ref").verdict, rep::Verdict::kUnchanged);
  // The other way round it is faster, and not a regression.
  rep::Comparison back = rep::compare_runs(b, a, {});
  EXPECT_EQ(find_case(back, "cpu.fast").verdict, rep::Verdict::kFaster);
  EXPECT_FALSE(back.regressed());
}

TEST(Compare, TooFewRepetitionsAreInconclusiveNotGuessed) {
  rep::RunData a = rep::extract_run(make_report(three_kernels(200), 3, 0.01, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(three_kernels(400), 3, 0.01, 2), "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  const auto& fast = find_case(cmp, "cpu.fast");
  EXPECT_EQ(fast.verdict, rep::Verdict::kInconclusive);
  EXPECT_TRUE(std::isnan(fast.detectable));  // 3 against 3 can never reach alpha
  EXPECT_EQ(cmp.inconclusive, 1);
  EXPECT_FALSE(cmp.regressed());
  ASSERT_FALSE(cmp.warnings.empty());
  EXPECT_NE(cmp.warnings.back().find("too few repetitions"), std::string::npos);
  EXPECT_NE(cmp.warnings.back().find("--repetitions 9"), std::string::npos);
  // One repetition each: no test at all.
  rep::RunData one = rep::extract_run(make_report(three_kernels(200), 1, 0, 1), "one.json");
  rep::RunData two = rep::extract_run(make_report(three_kernels(400), 1, 0, 1), "two.json");
  EXPECT_EQ(find_case(rep::compare_runs(one, two, {}), "cpu.fast").verdict,
            rep::Verdict::kInconclusive);
}

// The acceptance: a +50% change is inconclusive with 3 repetitions, slower with 9.
TEST(Compare, FiftyPercentSlowerIsInconclusiveWithThreeAndSlowerWithNine) {
  for (int reps : {3, 9}) {
    rep::RunData a = rep::extract_run(make_report(three_kernels(200), reps, 0.03, 1), "a.json");
    rep::RunData b = rep::extract_run(make_report(three_kernels(300), reps, 0.03, 2), "b.json");
    const rep::Comparison cmp = rep::compare_runs(a, b, {});
    const auto& fast = find_case(cmp, "cpu.fast");
    EXPECT_NEAR(fast.change, 0.5, 0.06) << reps;
    EXPECT_EQ(fast.verdict, reps == 3 ? rep::Verdict::kInconclusive : rep::Verdict::kSlower)
        << reps;
  }
}

TEST(Compare, AnInconclusiveVerdictSaysWhatChangeTheDataCouldHaveDetected) {
  // 9 repetitions with +-30% noise: a change of some 10-20% (its sign is the draw's) is beyond
  // the threshold and within the noise.
  rep::RunData a = rep::extract_run(make_report(three_kernels(200), 9, 0.3, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(three_kernels(216), 9, 0.3, 2), "b.json");
  rep::CompareOptions o;
  o.fdr = false;
  const rep::Comparison cmp = rep::compare_runs(a, b, o);
  const auto& fast = find_case(cmp, "cpu.fast");
  ASSERT_EQ(fast.verdict, rep::Verdict::kInconclusive);
  ASSERT_TRUE(std::isfinite(fast.detectable));
  // More than the change seen (else it would have been significant), less than the full spread
  // of two 60%-wide samples.
  EXPECT_GT(fast.detectable, std::abs(fast.change));
  EXPECT_LT(fast.detectable, 0.8);
  // The new run, scaled to the base's median and shifted by the detectable change in the
  // direction seen, is significant; shifted 3% less, it is not.
  const std::vector<double>& base = a.find(case_name("cpu.fast"))->times;
  const std::vector<double>& now = b.find(case_name("cpu.fast"))->times;
  const bool slower = fast.change > 0;
  auto p_with_shift = [&](double shift) {
    std::vector<double> shifted = now;
    const double factor = (slower ? 1 + shift : 1 - shift) * st::median(base) / st::median(now);
    for (double& v : shifted) v *= factor;
    return st::mann_whitney_u(base, shifted).p_value;
  };
  EXPECT_LT(p_with_shift(fast.detectable * 1.0001), o.alpha);
  EXPECT_GE(p_with_shift(fast.detectable - 0.03), o.alpha);
}

TEST(Compare, AgreementRegressionsAreFlagged) {
  std::vector<CaseSpec> base = three_kernels();
  std::vector<CaseSpec> now = three_kernels();
  now[1].passed = false;        // cpu.plain: passed, now fails
  now[2].max_rel_err = 2.4e-6;  // cpu.fast: 24x the error, still passing
  rep::RunData a = rep::extract_run(make_report(base, 9, 0.03, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(now, 9, 0.03, 2), "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  EXPECT_EQ(cmp.agreement_regressions, 2);
  EXPECT_TRUE(cmp.regressed());
  EXPECT_EQ(find_case(cmp, "cpu.plain").agreement_regression, "passed, now fails");
  EXPECT_NE(find_case(cmp, "cpu.fast").agreement_regression.find("max_rel_err grew 24x"),
            std::string::npos)
      << find_case(cmp, "cpu.fast").agreement_regression;
  // 9x is not more than 10x.
  now = three_kernels();
  now[2].max_rel_err = 9e-7;
  rep::RunData c = rep::extract_run(make_report(now, 9, 0.03, 2), "c.json");
  EXPECT_EQ(rep::compare_runs(a, c, {}).agreement_regressions, 0);
  // A kernel that ran and now throws.
  now = three_kernels();
  now[2].error = "kernel threw: boom";
  rep::RunData d = rep::extract_run(make_report(now, 9, 0.03, 2), "d.json");
  rep::Comparison broken = rep::compare_runs(a, d, {});
  EXPECT_EQ(find_case(broken, "cpu.fast").verdict, rep::Verdict::kNotTimed);
  EXPECT_NE(find_case(broken, "cpu.fast").agreement_regression.find("now errors"),
            std::string::npos);
}

TEST(Compare, CasesOnlyInOneRunAreListed) {
  std::vector<CaseSpec> base = three_kernels(), now = three_kernels();
  base.push_back({"cpu.old", 300});
  now.push_back({"cpu.new", 100});
  rep::RunData a = rep::extract_run(make_report(base, 9, 0.03, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(now, 9, 0.03, 2), "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  ASSERT_EQ(cmp.only_base.size(), 1u);
  ASSERT_EQ(cmp.only_new.size(), 1u);
  EXPECT_EQ(cmp.only_base[0]->impl, "cpu.old");
  EXPECT_EQ(cmp.only_new[0]->impl, "cpu.new");
  EXPECT_EQ(cmp.cases.size(), 3u);
}

TEST(Compare, DifferentMachinesAndBuildsWarn) {
  rep::RunData a = rep::extract_run(make_report(three_kernels(), 9, 0.03, 1), "a.json");
  json other = make_report(three_kernels(), 9, 0.03, 2, "Intel Xeon");
  other["opbench"]["build"]["cxx_flags"] = "-O2";
  rep::RunData b = rep::extract_run(other, "b.json");
  rep::Comparison cmp = rep::compare_runs(a, b, {});
  ASSERT_GE(cmp.warnings.size(), 2u);
  EXPECT_NE(cmp.warnings[0].find("different machines"), std::string::npos);
  EXPECT_NE(cmp.warnings[0].find("AMD EPYC"), std::string::npos);
  EXPECT_NE(cmp.warnings[0].find("Intel Xeon"), std::string::npos);
  EXPECT_NE(cmp.warnings[1].find("different builds"), std::string::npos);
  EXPECT_NE(a.info.machine_id, b.info.machine_id);
  EXPECT_EQ(a.info.machine_id, "vm-amd-epyc-2cpu");
}

TEST(Compare, ExtractRunReadsRepetitionsMediansAndAggregatesOnlyReports) {
  json doc = make_report({{"cpu.fast", 200}}, 5, 0, 1);
  rep::RunData run = rep::extract_run(doc, "r.json");
  ASSERT_EQ(run.cases.size(), 1u);
  EXPECT_EQ(run.cases[0].times.size(), 5u);
  EXPECT_NEAR(run.cases[0].median, 200e-6, 1e-12);
  EXPECT_EQ(run.cases[0].params, "rows=64 cols=4096 dist=normal");
  EXPECT_NEAR(run.cases[0].gbps, 2129920.0 / 200e-6 / 1e9, 1e-9);
  // --benchmark_report_aggregates_only: the median is a single sample.
  json aggregates = doc;
  aggregates["benchmarks"] = json::array();
  json median = doc["benchmarks"][0];
  median["run_type"] = "aggregate";
  median["aggregate_name"] = "median";
  median["real_time"] = 250.0;
  median["time_unit"] = "us";
  aggregates["benchmarks"].push_back(median);
  rep::RunData agg = rep::extract_run(aggregates, "agg.json");
  EXPECT_EQ(agg.cases[0].times.size(), 1u);
  EXPECT_NEAR(agg.cases[0].median, 250e-6, 1e-12);
  // A plain Google Benchmark report: cases by benchmark name.
  json gb = {{"context", json::object()},
             {"benchmarks",
              {{{"name", "BM_x"},
                {"run_name", "BM_x"},
                {"run_type", "iteration"},
                {"real_time", 3.0},
                {"cpu_time", 3.0},
                {"time_unit", "ms"}}}}};
  rep::RunData plain = rep::extract_run(gb, "gb.json");
  ASSERT_EQ(plain.cases.size(), 1u);
  EXPECT_EQ(plain.cases[0].name, "BM_x");
  EXPECT_NEAR(plain.cases[0].median, 3e-3, 1e-12);
}

TEST(SideBySide, SpeedupsOverTheBaselineAtTheSamePoint) {
  rep::RunData run = rep::extract_run(make_report(three_kernels(200), 5, 0, 1), "r.json");
  rep::SideBySide s = rep::side_by_side(run, "cpu.plain");
  ASSERT_EQ(s.groups.size(), 1u);
  ASSERT_EQ(s.groups[0].rows.size(), 3u);
  EXPECT_EQ(s.groups[0].rows[0].c->impl, "ref");  // the reference first
  for (const auto& r : s.groups[0].rows) {
    if (r.c->impl == "cpu.fast") EXPECT_NEAR(r.speedup, 4.0, 1e-9);
    if (r.c->impl == "cpu.plain") EXPECT_TRUE(r.is_baseline);
    if (r.c->impl == "ref") EXPECT_NEAR(r.speedup, 0.16, 1e-9);
  }
  std::string msg = usage_error([&] { rep::side_by_side(run, "cpu.nope"); });
  EXPECT_NE(msg.find("no implementation 'cpu.nope'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ref, cpu.plain, cpu.fast"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------
// Formats

rep::Comparison slowed_comparison(rep::RunData& a, rep::RunData& b) {
  a = rep::extract_run(make_report(three_kernels(200), 9, 0.03, 1), "base.json");
  b = rep::extract_run(make_report(three_kernels(300), 9, 0.03, 2), "new.json");
  return rep::compare_runs(a, b, {});
}

std::string format(const rep::Comparison& cmp, rep::CompareFormat f, bool color = false) {
  std::ostringstream out;
  rep::make_compare_formatter(f, color)->write(cmp, out);
  return out.str();
}

TEST(CompareFormat, TerminalTableColoursOnlyWhenAsked) {
  rep::RunData a, b;
  rep::Comparison cmp = slowed_comparison(a, b);
  std::string plain = format(cmp, rep::CompareFormat::kTerminal);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  for (const char* s : {"base  base.json", "new   new.json", "norm/layernorm", "p-value", "verdict",
                        "slower", "unchanged", "9/9", "REGRESSION"}) {
    EXPECT_NE(plain.find(s), std::string::npos) << s << "\n" << plain;
  }
  EXPECT_NE(plain.find("3 cases compared: 1 slower, 0 faster, 2 unchanged"), std::string::npos)
      << plain;
  std::string colored = format(cmp, rep::CompareFormat::kTerminal, true);
  EXPECT_NE(colored.find("\x1b[31mslower"), std::string::npos);
}

TEST(CompareFormat, MarkdownPutsRegressionsFirst) {
  rep::RunData a, b;
  std::string md = format(slowed_comparison(a, b), rep::CompareFormat::kMarkdown);
  EXPECT_EQ(md.rfind("## opbench compare", 0), 0u);
  std::size_t regressions = md.find("### Regressions");
  std::size_t all = md.find("<details><summary>All 3 cases</summary>");
  ASSERT_NE(regressions, std::string::npos) << md;
  ASSERT_NE(all, std::string::npos) << md;
  EXPECT_LT(regressions, all);
  EXPECT_NE(md.find("| norm/layernorm | cpu.fast |", regressions), std::string::npos) << md;
  EXPECT_NE(md.find("|---"), std::string::npos);
  EXPECT_EQ(md.find('\x1b'), std::string::npos);
}

TEST(CompareFormat, CsvHasOneRowPerCaseIncludingOnesInOneRun) {
  std::vector<CaseSpec> base = three_kernels(), now = three_kernels(300);
  base.push_back({"cpu.old", 300});
  rep::RunData a = rep::extract_run(make_report(base, 9, 0.03, 1), "a.json");
  rep::RunData b = rep::extract_run(make_report(now, 9, 0.03, 2), "b.json");
  std::string csv = format(rep::compare_runs(a, b, {}), rep::CompareFormat::kCsv);
  std::istringstream lines(csv);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 5u) << csv;  // header, 3 compared, 1 only in base
  EXPECT_EQ(rows[0].rfind("name,suite,op,impl,dtype,params,base_seconds,new_seconds,ratio", 0), 0u);
  EXPECT_NE(csv.find(",slower,"), std::string::npos);
  EXPECT_NE(csv.find(",only in base,"), std::string::npos);
  EXPECT_NE(rows[1].find("norm/layernorm/ref/f32/rows:64/cols:4096/dist:normal,norm,layernorm,ref"),
            std::string::npos);
}

TEST(CompareFormat, JsonCarriesVerdictsSettingsAndWarnings) {
  rep::RunData a, b;
  std::string text = format(slowed_comparison(a, b), rep::CompareFormat::kJson);
  json j = json::parse(text);
  EXPECT_TRUE(j["regressed"].get<bool>());
  EXPECT_EQ(j["summary"]["slower"], 1);
  EXPECT_DOUBLE_EQ(j["settings"]["threshold"].get<double>(), 0.05);
  EXPECT_EQ(j["cases"].size(), 3u);
  bool found = false;
  for (const json& c : j["cases"]) {
    if (c["impl"] == "cpu.fast") {
      found = true;
      EXPECT_EQ(c["verdict"], "slower");
      EXPECT_EQ(c["u_test"]["method"], "exact");  // 9 and 9 repetitions, no ties
      EXPECT_LT(c["u_test"]["p_value"].get<double>(), 0.05);
      EXPECT_GE(c["u_test"]["q_value"].get<double>(), c["u_test"]["p_value"].get<double>());
      EXPECT_EQ(c["base"]["repetitions"], 9);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(rep::parse_compare_format("md"), rep::CompareFormat::kMarkdown);
  std::string msg = usage_error([] { rep::parse_compare_format("xml"); });
  EXPECT_NE(msg.find("terminal, markdown, csv, json"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Reading reports leniently

TEST(LoadReport, MissingFieldsAreReadWithAWarning) {
  TempDir dir;
  json doc = make_report(three_kernels(), 3, 0.01, 1);
  doc["opbench"].erase("ceilings");
  doc["opbench"]["cases"][1]["agreement"].erase("rel_l2_err");
  std::string path = dir.write("partial.json", doc.dump());
  EXPECT_NE(usage_error([&] { rep::read_report(path); }), "");  // the strict reader refuses
  rep::LoadedReport loaded = rep::load_report(path);
  ASSERT_FALSE(loaded.warnings.empty());
  EXPECT_NE(loaded.warnings[0].find("opbench.ceilings: missing"), std::string::npos)
      << loaded.warnings[0];
  EXPECT_EQ(rep::extract_run(loaded.doc, path).cases.size(), 3u);
}

TEST(LoadReport, NewerSchemaIsRefusedWithOneLine) {
  TempDir dir;
  json doc = make_report(three_kernels(), 3, 0.01, 1);
  const int newer = rep::kSchemaVersion + 1;
  doc["opbench"]["schema_version"] = newer;
  std::string path = dir.write("new.json", doc.dump());
  std::string msg = usage_error([&] { rep::load_report(path); });
  EXPECT_EQ(msg, path + ": schema_version " + std::to_string(newer) +
                     " is newer than this opbench understands (" +
                     std::to_string(rep::kSchemaVersion) + "); upgrade opbench");
}

TEST(LoadReport, AnotherToolVersionAndPlainGoogleBenchmarkReportsAreRead) {
  TempDir dir;
  json doc = make_report(three_kernels(), 3, 0.01, 1);
  doc["opbench"]["tool_version"] = "9.9.9";
  doc["opbench"].erase("schema_version");
  rep::LoadedReport loaded = rep::load_report(dir.write("old.json", doc.dump()));
  std::string all;
  for (const auto& w : loaded.warnings) all += w + "\n";
  EXPECT_NE(all.find("written by opbench 9.9.9"), std::string::npos) << all;
  EXPECT_NE(
      all.find("schema_version: missing; read as version " + std::to_string(rep::kSchemaVersion)),
      std::string::npos)
      << all;
  json gb = {{"context", json::object()},
             {"benchmarks", {{{"name", "BM_x"}, {"real_time", 3.0}, {"time_unit", "ms"}}}}};
  rep::LoadedReport plain = rep::load_report(dir.write("gb.json", gb.dump()));
  ASSERT_EQ(plain.warnings.size(), 1u);
  EXPECT_NE(plain.warnings[0].find("plain Google Benchmark report"), std::string::npos);
}

TEST(LoadReport, UnreadableTimesAreRefusedNamingTheField) {
  TempDir dir;
  json doc = make_report(three_kernels(), 3, 0.01, 1);
  doc["benchmarks"][2]["real_time"] = "fast";
  std::string path = dir.write("bad.json", doc.dump());
  EXPECT_EQ(usage_error([&] { rep::load_report(path); }),
            path + ": benchmarks[2].real_time: expected a number, got string");
  doc = make_report(three_kernels(), 3, 0.01, 1);
  doc["benchmarks"][0]["time_unit"] = "fortnights";
  path = dir.write("unit.json", doc.dump());
  EXPECT_NE(usage_error([&] { rep::load_report(path); }).find("benchmarks[0].time_unit"),
            std::string::npos);
  path = dir.write("list.json", "[1, 2]");
  EXPECT_EQ(usage_error([&] { rep::load_report(path); }),
            path + ": (top level): expected an object, got array");
  path = dir.write("nothing.json", "{\"context\": {}}");
  EXPECT_NE(usage_error([&] { rep::load_report(path); }).find("not a benchmark report"),
            std::string::npos);
  path = dir.write("broken.json", "{\"benchmarks\": [");
  EXPECT_NE(usage_error([&] { rep::load_report(path); }).find("not valid JSON"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// End to end through the harness: a deliberately slowed implementation registered with
// Registry::add_impl, timed by the real runner in two runs.

namespace {

// cpu.plain's kernel run `repeat` times per execution: the same case, `repeat` times slower.
class Repeated final : public opbench::BoundKernel {
 public:
  Repeated(std::unique_ptr<opbench::BoundKernel> inner, int repeat)
      : inner_(std::move(inner)), repeat_(repeat) {}
  void run() override {
    for (int i = 0; i < repeat_; ++i) inner_->run();
  }
  void sync() override { inner_->sync(); }
  void fetch() override { inner_->fetch(); }

 private:
  std::unique_ptr<opbench::BoundKernel> inner_;
  int repeat_;
};

json run_with_test_impl(int repeat) {
  opbench::Registry reg;
  opbench::register_all_suites(reg);
  const opbench::Op* op = reg.find_op("layernorm");
  const opbench::Impl* plain = op->find_impl("cpu.plain");
  opbench::Impl test = *plain;
  test.name = "cpu.test";
  opbench::BindFn bind = plain->bind;
  test.bind = [bind, repeat](const opbench::TensorMap& in, opbench::TensorMap& out,
                             const opbench::Params& p) -> std::unique_ptr<opbench::BoundKernel> {
    return std::make_unique<Repeated>(bind(in, out, p), repeat);
  };
  reg.add_impl("norm", "layernorm", test);
  opbench::Selection sel;
  sel.ops = {"layernorm"};
  // Single-threaded kernels only: their timing thread's CPU time does not move with the load of
  // other tests running beside this one (ctest -j), where cpu.fast's OpenMP threads would.
  sel.impls = {"cpu.plain", "cpu.test"};
  sel.dtypes = {"f32"};
  sel.axis_overrides = {{"rows", "16"}, {"cols", "1024"}, {"dist", "normal"}};
  opbench::datasets::SeededDataProvider data;
  auto plan = opbench::plan_cases(reg, sel, data);
  opbench::RunOptions options;
  options.benchmark_flags = {"--benchmark_repetitions=9", "--benchmark_min_time=0.01"};
  return rep::build_report(opbench::run_cases(reg, plan, data, sel, options));
}

}  // namespace

TEST(CompareEndToEnd, ASlowedImplementationIsExactlyTheCaseFlagged) {
  rep::RunData base = rep::extract_run(run_with_test_impl(1), "base");
  rep::RunData slow = rep::extract_run(run_with_test_impl(4), "slow");
  // These 2 shared cores can be busy: cpu.plain, the kernel cpu.test repeats, tells how far the
  // machine itself drifted between the two runs. Beyond 50% no verdict means anything.
  std::vector<double> others;
  rep::CompareOptions cpu;
  cpu.cpu_time = true;
  for (const auto& c : rep::compare_runs(base, slow, cpu).cases) {
    if (c.now->impl == "cpu.plain" && std::isfinite(c.ratio)) others.push_back(c.ratio);
  }
  ASSERT_FALSE(others.empty());
  double drift = st::median(others);
  if (drift > 1.5 || drift < 1 / 1.5) {
    GTEST_SKIP() << "the machine drifted " << drift
                 << "x between the two runs (unchanged kernels): too loaded to judge";
  }
  // A threshold of 100% keeps the drift of the unchanged kernels out; 4x is far beyond it. The
  // CPU time of the timing thread (cpu.plain, which cpu.test repeats, is single-threaded) is not
  // inflated by waiting for a busy machine.
  rep::CompareOptions options;
  options.threshold = 1.0;
  options.cpu_time = true;
  rep::Comparison cmp = rep::compare_runs(base, slow, options);
  ASSERT_EQ(cmp.cases.size(), 2u);  // cpu.plain, cpu.test
  for (const auto& c : cmp.cases) {
    SCOPED_TRACE(c.now->name);
    EXPECT_EQ(c.base->times.size(), 9u);
    if (c.now->impl == "cpu.test") {
      EXPECT_EQ(c.verdict, rep::Verdict::kSlower);
      EXPECT_GT(c.ratio / drift, 2.5);
      EXPECT_LT(c.ratio / drift, 6.0);
    } else {
      EXPECT_NE(c.verdict, rep::Verdict::kSlower);
      EXPECT_NE(c.verdict, rep::Verdict::kFaster);
    }
  }
  EXPECT_EQ(cmp.slower, 1);
  // The slowed kernel is still correct: no agreement regression.
  EXPECT_EQ(cmp.agreement_regressions, 0);
}
