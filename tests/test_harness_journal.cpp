// The engine's wire format (harness/case_codec.hpp) and the run's journal (harness/journal.hpp):
// typed results go through JSON and come back equal, non-finite numbers included; a journal cut
// by a kill is read up to its last whole line; anything else malformed is refused naming the line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "harness/case_codec.hpp"
#include "harness/errors.hpp"
#include "harness/journal.hpp"

namespace fs = std::filesystem;

namespace opbench {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

CaseRecord sample_case() {
  CaseRecord c;
  c.name = "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:offset";
  c.suite = "norm";
  c.op = "layernorm";
  c.impl = "cpu.fast";
  c.backend = "cpu";
  c.dtype = "f32";
  c.params.set("rows", "64");  // not in alphabetical order: the order must survive
  c.params.set("cols", "4096");
  c.params.set("dist", "offset");
  c.cost = Cost{3.5e6, 2.25e6};
  c.agreement.status = AgreementStatus::xfail;
  c.agreement.checked = true;
  c.agreement.passed = false;
  c.agreement.err_ratio = kInf;
  c.agreement.max_abs_err = 0.125;
  c.agreement.max_rel_err = kNaN;
  c.agreement.rel_l2_err = 1.5e-7;
  c.agreement.mismatches = 3;
  c.agreement.elements = 262144;
  c.agreement.first_mismatch = "y[3, 17]: got nan, want 1.25";
  c.agreement.ties = 2;
  c.agreement.known_failure = "oneDNN under offset";
  c.agreement.changed_during_timing = true;
  c.dataset = "norm/layernorm/f32/rows:64/cols:4096/dist:offset";
  c.error = "";
  c.timing.clock = "manual_time";
  c.timing.mode = "hot";
  c.timing.repetitions = {{1.5e-6, 1.25e-6, 1000, {{"launches_per_sample", 33}}},
                          {1.75e-6, 1.5e-6, 1000, {}}};
  c.rates = Rates{12.5, kNaN, -kInf};
  return c;
}

// Equal, with NaN equal to NaN.
void expect_same(double a, double b, const char* what) {
  if (std::isnan(a)) {
    EXPECT_TRUE(std::isnan(b)) << what;
  } else {
    EXPECT_EQ(a, b) << what;
  }
}

TEST(CaseCodec, ACaseRecordComesBackEqualNonFiniteNumbersIncluded) {
  const CaseRecord c = sample_case();
  const CaseRecord d = codec::case_from(nlohmann::json::parse(codec::to_json(c).dump()));
  EXPECT_EQ(d.name, c.name);
  EXPECT_EQ(d.params, c.params);
  EXPECT_EQ(d.params.items().front().first, "rows");
  EXPECT_EQ(d.cost.flops, c.cost.flops);
  EXPECT_EQ(d.agreement.status, AgreementStatus::xfail);
  EXPECT_TRUE(d.agreement.checked);
  expect_same(d.agreement.err_ratio, kInf, "err_ratio");
  expect_same(d.agreement.max_rel_err, kNaN, "max_rel_err");
  EXPECT_EQ(d.agreement.first_mismatch, c.agreement.first_mismatch);
  EXPECT_EQ(d.agreement.ties, 2);
  EXPECT_EQ(d.agreement.known_failure, c.agreement.known_failure);
  EXPECT_TRUE(d.agreement.changed_during_timing);
  EXPECT_EQ(d.timing.mode, "hot");
  EXPECT_EQ(d.timing.samples(), c.timing.samples());
  EXPECT_EQ(d.timing.repetitions[0].counters.at("launches_per_sample"), 33);
  EXPECT_EQ(d.timing.repetitions[1].iterations, 1000);
  expect_same(d.rates.gflops, kNaN, "gflops");
  expect_same(d.rates.ceiling_fraction, -kInf, "ceiling_fraction");
  EXPECT_EQ(d.rates.gbps, 12.5);
}

TEST(CaseCodec, ADatasetASelectionAndOptionsComeBackEqual) {
  DatasetRecord ds;
  ds.key = "pkm/pkm_topk/f32/tokens:64";
  ds.tensors = {{"q", "f32", {64, 2, 256}, "generated", "normal", 0xfedcba9876543210ULL, "ab12"}};
  ds.sample_axis = "tokens";
  ds.sample_rows = {3, 17, 63};
  ds.sample_of = 64;
  ds.sample_seed = 99;
  const DatasetRecord back = codec::dataset_from(codec::to_json(ds));
  EXPECT_EQ(back.key, ds.key);
  ASSERT_EQ(back.tensors.size(), 1u);
  EXPECT_EQ(back.tensors[0].seed, 0xfedcba9876543210ULL);
  EXPECT_EQ(back.tensors[0].shape, (Shape{64, 2, 256}));
  EXPECT_EQ(back.sample_rows, ds.sample_rows);

  Selection s;
  s.ops = {"layernorm", "rmsnorm"};
  s.full = true;
  s.axis_overrides = {{"cols", "1024,2^12"}};
  s.inputs = {{"x", "/data/x.npy"}};
  s.timing_modes = {"cold"};
  const Selection t = codec::selection_from(codec::to_json(s));
  EXPECT_EQ(t.ops, s.ops);
  EXPECT_TRUE(t.full);
  EXPECT_EQ(t.axis_overrides, s.axis_overrides);
  EXPECT_EQ(t.inputs, s.inputs);
  EXPECT_EQ(t.timing_modes, s.timing_modes);

  RunOptions o;
  o.time = false;
  o.threads = 3;
  o.seed = 7;
  o.benchmark_flags = {"--benchmark_min_time=0.5"};
  o.full_check = true;
  const RunOptions p = codec::options_from(codec::to_json(o));
  EXPECT_FALSE(p.time);
  EXPECT_EQ(p.threads, 3);
  EXPECT_EQ(p.seed, 7u);
  EXPECT_EQ(p.benchmark_flags, o.benchmark_flags);
  EXPECT_TRUE(p.full_check);
}

TEST(CaseCodec, AMalformedRecordIsRefusedNamingTheField) {
  nlohmann::json j = codec::to_json(sample_case());
  j["agreement"].erase("ties");
  try {
    codec::case_from(j);
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'ties'"), std::string::npos) << e.what();
  }
  j = codec::to_json(sample_case());
  j["timing"]["repetitions"][0]["seconds"] = "fast";
  EXPECT_THROW(codec::case_from(j), std::runtime_error);
}

class JournalFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_test_journal_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A journal of two cases; the second gets a later repetition; `end` closes it.
  std::string write_run(bool end) {
    const std::string p = path("run.journal");
    Journal j(p);
    RunResult run;
    run.planned = 5;
    run.threads = 2;
    run.command_line = "opbench run --op layernorm";
    j.on_begin(run);
    Ceiling copy;
    copy.backend = "cpu";
    copy.kind = "copy";
    copy.bytes = 2.0 * 1024 * 1024;
    copy.timing.repetitions = {{1e-4, 1e-4, 10, {}}};
    j.on_ceilings({copy});
    DatasetRecord ds;
    ds.key = sample_case().dataset;
    j.on_dataset(ds);
    CaseRecord a = sample_case();
    a.rates = Rates{};
    j.on_case(0, a);
    CaseRecord b = a;
    b.impl = "cpu.plain";
    j.on_case(1, b);
    j.on_repetition(1, {2e-6, 2e-6, 1000, {}});
    j.on_round_error(0, "repetition 2: it threw");
    if (end) j.on_end();
    return p;
  }

 private:
  fs::path dir_;
};

TEST_F(JournalFile, AFinishedJournalIsTheRunItRecorded) {
  const RunResult r = read_journal(write_run(true));
  EXPECT_EQ(r.incomplete, "");
  EXPECT_EQ(r.planned, 5u);
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.command_line, "opbench run --op layernorm");
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_EQ(r.cases[0].error, "repetition 2: it threw");
  EXPECT_FALSE(r.cases[0].timing.timed());  // a round error takes the time away
  EXPECT_EQ(r.cases[1].timing.repetitions.size(), 3u);
  ASSERT_EQ(r.ceilings.size(), 1u);
  EXPECT_EQ(r.datasets.size(), 1u);
  // Rates are computed again from the ceilings, as at the end of a run.
  EXPECT_TRUE(std::isfinite(r.cases[1].rates.gbps));
}

TEST_F(JournalFile, AJournalCutByAKillIsReadUpToItsLastWholeLine) {
  const std::string p = write_run(false);
  { std::ofstream(p, std::ios::app) << "{\"case\": 2, \"record\": {\"name\": \"norm/lay"; }
  const RunResult r = read_journal(p);
  EXPECT_EQ(r.cases.size(), 2u);
  EXPECT_EQ(r.incomplete, "killed: its journal ends after 2 of 5 planned cases");
}

TEST_F(JournalFile, AnythingElseMalformedIsRefusedNamingTheLine) {
  const std::string p = write_run(true);
  std::ifstream in(p);
  std::string first, rest, line;
  std::getline(in, first);
  while (std::getline(in, line)) rest += line + "\n";
  in.close();
  { std::ofstream(p, std::ios::trunc) << first << "\n{not json\n" << rest; }
  try {
    read_journal(p);
    FAIL() << "accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  std::ofstream(path("other.json")) << "{\"benchmarks\": []}\n";
  EXPECT_THROW(read_journal(path("other.json")), UsageError);
  std::ofstream(path("empty.journal")).flush();
  EXPECT_THROW(read_journal(path("empty.journal")), UsageError);
  EXPECT_THROW(read_journal(path("missing.journal")), UsageError);
}

TEST_F(JournalFile, AnEarlierJournalIsNeverOverwritten) {
  const std::string p = write_run(true);
  EXPECT_THROW(Journal{p}, UsageError);
  EXPECT_EQ(read_journal(p).cases.size(), 2u);
}

}  // namespace
}  // namespace opbench
