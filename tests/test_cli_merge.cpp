// End-to-end tests of shards and `opbench merge` with the real binary (OPBENCH_BINARY): shards
// 1/3, 2/3 and 3/3 of a plan, merged, hold exactly the cases of the unsharded run, in its order;
// the merged report is read by `report`, `compare` and Google Benchmark's compare.py; Slurm's and
// Kubernetes' variables pick the shard; every bad shard or merge is one line, exit 2, and leaves
// an earlier file as it was.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/cli_test_support.hpp"

namespace {

using namespace cli_test;

// The plan of these tests: LayerNorm and RMSNorm, every implementation and input distribution of
// the quick sweep, at 512 columns (12 datasets, 36 cases; about a second to check).
const std::vector<std::string> kCheck = {"check",  "--suite", "norm", "--op", "layernorm,rmsnorm",
                                         "--axis", "cols=512"};

// The scheduler variables opbench reads, set for the scope and restored after (and unset around
// every test, should the tests themselves run in a Slurm array job).
class Env {
 public:
  explicit Env(const std::map<std::string, std::string>& vars) {
    for (const char* name : kNames) {
      const char* v = ::getenv(name);
      if (v != nullptr) saved_[name] = v;
      ::unsetenv(name);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~Env() {
    for (const char* name : kNames) {
      auto it = saved_.find(name);
      if (it == saved_.end()) {
        ::unsetenv(name);
      } else {
        ::setenv(name, it->second.c_str(), 1);
      }
    }
  }

 private:
  static constexpr const char* kNames[] = {"SLURM_ARRAY_TASK_ID",  "SLURM_ARRAY_TASK_COUNT",
                                           "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
                                           "JOB_COMPLETION_INDEX", "OPBENCH_SHARD_COUNT"};
  std::map<std::string, std::string> saved_;
};

class CliMerge : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_cli_merge_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Outcome run(std::vector<std::string> args, const std::vector<std::string>& more = {}) {
    args.insert(args.end(), more.begin(), more.end());
    return opbench(dir_, args);
  }
  json load(const std::string& name) { return json::parse(read_text(dir_ / name)); }

  fs::path dir_;
  Env clean_{{}};
};

std::vector<std::string> names(const json& doc) {
  std::vector<std::string> out;
  for (const json& c : doc["opbench"]["cases"]) out.push_back(c["name"]);
  return out;
}

bool one_error_line(const Outcome& r) {
  return r.err.rfind("opbench: error: ", 0) == 0 && r.err.find('\n') == r.err.size() - 1;
}

TEST_F(CliMerge, ThreeShardsMergedHoldExactlyTheCasesOfAnUnshardedRun) {
  Outcome whole = run(kCheck, {"--json", "whole.json"});
  ASSERT_EQ(whole.code, 0) << whole;
  std::vector<std::string> shard_files;
  std::multiset<std::string> seen;
  for (int i = 1; i <= 3; ++i) {
    const std::string shard = std::to_string(i) + "/3";
    const std::string file = "shard" + std::to_string(i) + ".json";
    Outcome r = run(kCheck, {"--shard", shard, "--json", file});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(r.err, "opbench: shard " + shard + " (--shard): ")) << r;
    const json doc = load(file);
    EXPECT_EQ(doc["opbench"]["plan"]["shard"], shard);
    EXPECT_FALSE(doc["opbench"]["cases"].empty()) << shard;
    for (const std::string& n : names(doc)) seen.insert(n);
    shard_files.push_back(file);
  }
  const json w = load("whole.json");
  EXPECT_EQ(seen.size(), names(w).size());  // no case in two shards

  std::vector<std::string> args = {"merge"};
  args.insert(args.end(), shard_files.rbegin(), shard_files.rend());  // any order
  Outcome m = run(args, {"-o", "all.json"});
  ASSERT_EQ(m.code, 0) << m;
  // 36 cases, or more where optional peers (oneDNN) add implementations.
  const std::size_t planned = names(w).size();
  EXPECT_GE(planned, 36u);
  const std::string count = std::to_string(planned);
  EXPECT_TRUE(contains(
      m.out, "merged " + count + " of " + count + " planned cases from 3 reports: all.json"))
      << m;
  const json all = load("all.json");
  ASSERT_EQ(names(all).size(), planned);
  EXPECT_EQ(names(all), names(w));  // the same cases, in the same order
  EXPECT_EQ(all["opbench"]["plan"]["fingerprint"], w["opbench"]["plan"]["fingerprint"]);
  EXPECT_EQ(all["opbench"]["plan"]["planned"], planned);
  EXPECT_EQ(all["opbench"]["datasets"], w["opbench"]["datasets"]);  // same keys, same checksums
  for (std::size_t i = 0; i < names(w).size(); ++i) {
    EXPECT_EQ(all["opbench"]["cases"][i]["agreement"]["status"],
              w["opbench"]["cases"][i]["agreement"]["status"])
        << names(w)[i];
  }
}

TEST_F(CliMerge, MergedRunIsReadByReportCompareAndComparePy) {
  const std::vector<std::string> timed = {
      "run",    "--suite",  "norm",       "--op", "layernorm,rmsnorm", "--axis", "rows=64",
      "--axis", "cols=512", "--min-time", "0.01"};
  Outcome whole = run(timed, {"--json", "whole.json"});
  ASSERT_EQ(whole.code, 0) << whole;
  for (int i = 1; i <= 3; ++i) {
    Outcome r = run(
        timed, {"--shard", std::to_string(i) + "/3", "--json", "s" + std::to_string(i) + ".json"});
    ASSERT_EQ(r.code, 0) << r;
  }
  Outcome m = run({"merge", "s1.json", "s2.json", "s3.json", "-o", "all.json"});
  ASSERT_EQ(m.code, 0) << m;
  const json w = load("whole.json"), all = load("all.json");
  EXPECT_EQ(names(all), names(w));
  std::vector<std::string> runs_whole, runs_all;
  for (const json& e : w["benchmarks"]) runs_whole.push_back(e["name"]);
  for (const json& e : all["benchmarks"]) runs_all.push_back(e["name"]);
  EXPECT_EQ(runs_all, runs_whole);  // Google Benchmark's entries, in the unsharded run's order
  ASSERT_FALSE(runs_all.empty());
  for (std::size_t i = 0; i + 1 < all["benchmarks"].size(); ++i) {
    EXPECT_LE(all["benchmarks"][i]["family_index"], all["benchmarks"][i + 1]["family_index"]);
  }

  Outcome page = run({"report", "all.json", "-o", "page.html"});
  EXPECT_EQ(page.code, 0) << page;
  EXPECT_TRUE(contains(read_text(dir_ / "page.html"), names(w).front())) << page;
  Outcome cmp = run({"compare", "whole.json", "all.json"});
  EXPECT_EQ(cmp.code, 0) << cmp;
  EXPECT_TRUE(contains(cmp.out, "0 only in base, 0 only in new")) << cmp;

  const std::string script = "/usr/share/benchmark/compare.py";
  std::string py;  // a python3 with scipy, which compare.py needs
  for (const char* candidate : {"python3", "/usr/bin/python3"}) {
    const std::string probe = std::string(candidate) + " -c 'import scipy' >/dev/null 2>&1";
    if (py.empty() && std::system(probe.c_str()) == 0) py = candidate;
  }
  if (!fs::exists(script) || py.empty()) {
    GTEST_SKIP() << "Google Benchmark's compare.py or scipy missing (Debian: apt-get install "
                    "libbenchmark-tools python3-scipy); the rest passed";
  }
  const std::string cmd = py + " " + script + " benchmarks " + quote(dir_ / "whole.json") + " " +
                          quote(dir_ / "all.json") + " >" + quote(dir_ / "py.out") + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_text(dir_ / "py.out");
  // compare.py lists Google Benchmark's entries; a case that was not timed (a CUDA case on a
  // machine without a device) has none, so the last entry, not the last case, must be there.
  EXPECT_TRUE(contains(read_text(dir_ / "py.out"), runs_whole.back()))
      << read_text(dir_ / "py.out");
}

TEST_F(CliMerge, SlurmAndKubernetesVariablesPickTheShard) {
  ASSERT_EQ(run(kCheck, {"--shard", "1/3", "--json", "explicit.json"}).code, 0);
  {
    Env slurm({{"SLURM_ARRAY_TASK_ID", "0"},
               {"SLURM_ARRAY_TASK_COUNT", "3"},
               {"SLURM_ARRAY_TASK_MIN", "0"},
               {"SLURM_ARRAY_TASK_MAX", "2"}});
    Outcome r = run(kCheck, {"--json", "slurm.json"});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(r.err, "opbench: shard 1/3 (SLURM_ARRAY_TASK_ID): ")) << r;
    // --shard wins over the environment.
    Outcome own = run(kCheck, {"--shard", "2/3", "--json", "own.json"});
    ASSERT_EQ(own.code, 0) << own;
    EXPECT_EQ(load("own.json")["opbench"]["plan"]["shard"], "2/3");
  }
  EXPECT_EQ(names(load("slurm.json")), names(load("explicit.json")));
  EXPECT_EQ(load("slurm.json")["opbench"]["plan"]["shard"], "1/3");
  {
    Env k8s({{"JOB_COMPLETION_INDEX", "2"}, {"OPBENCH_SHARD_COUNT", "3"}});
    Outcome r = run(kCheck, {"--json", "k8s.json"});
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(r.err, "opbench: shard 3/3 (JOB_COMPLETION_INDEX): ")) << r;
  }
  EXPECT_EQ(load("k8s.json")["opbench"]["plan"]["shard"], "3/3");
}

TEST_F(CliMerge, BadShardsAreOneLineExit2AndKeepTheEarlierReport) {
  write_text(dir_ / "r.json", "earlier report\n");
  for (const std::string bad : {"0/3", "4/3", "x", "1/0", ""}) {
    Outcome r = run(kCheck, {"--shard", bad, "--json", "r.json"});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(one_error_line(r)) << r;
    EXPECT_TRUE(contains(r.err, "--shard '" + bad + "'")) << r;
  }
  // Each with the variable its message must name.
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> bad_env = {
      {{{"SLURM_ARRAY_TASK_ID", "abc"},
        {"SLURM_ARRAY_TASK_COUNT", "3"},
        {"SLURM_ARRAY_TASK_MIN", "0"}},
       "SLURM_ARRAY_TASK_ID='abc' is not a number"},
      {{{"JOB_COMPLETION_INDEX", "1"}}, "OPBENCH_SHARD_COUNT is not"},
      {{{"JOB_COMPLETION_INDEX", "1"}, {"OPBENCH_SHARD_COUNT", "three"}},
       "OPBENCH_SHARD_COUNT='three' is not a number"}};
  for (const auto& [vars, named] : bad_env) {
    Env env(vars);
    Outcome r = run(kCheck, {"--json", "r.json"});
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(one_error_line(r)) << r;
    EXPECT_TRUE(contains(r.err, named)) << r;
  }
  EXPECT_EQ(read_text(dir_ / "r.json"), "earlier report\n");
}

TEST_F(CliMerge, BadMergesAreOneLineExit2AndWriteNothing) {
  ASSERT_EQ(run(kCheck, {"--shard", "1/2", "--json", "a1.json"}).code, 0);
  ASSERT_EQ(run(kCheck, {"--shard", "2/2", "--json", "a2.json"}).code, 0);
  ASSERT_EQ(run(kCheck, {"--shard", "2/2", "--seed", "2", "--json", "seed2.json"}).code, 0);
  write_text(dir_ / "all.json", "earlier merge\n");
  const std::vector<std::vector<std::string>> bad = {
      {"merge", "a1.json", "seed2.json", "-o", "all.json"},  // another plan (seed)
      {"merge", "a1.json", "a1.json", "-o", "all.json"},     // a shard twice
      {"merge", "a1.json", "nothing.json", "-o", "all.json"},
      {"merge", "a1.json", "a2.json"},  // no output
      {"merge", "-o", "all.json"},      // no input
      {"merge", "a1.json", "a2.json", "-o", "no/such/folder/all.json"},
  };
  for (const auto& args : bad) {
    Outcome r = run(args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_TRUE(one_error_line(r)) << r;
  }
  EXPECT_EQ(read_text(dir_ / "all.json"), "earlier merge\n");
  EXPECT_TRUE(contains(run({"merge", "a1.json", "seed2.json", "-o", "all.json"}).err,
                       "seed2.json: another plan"));

  // A missing shard: warned, written, exit 1; --allow-missing: exit 0.
  Outcome partial = run({"merge", "a1.json", "-o", "all.json"});
  EXPECT_EQ(partial.code, 1) << partial;
  EXPECT_TRUE(contains(partial.err, "opbench: warning: shard 2/2 missing: no report given"))
      << partial;
  EXPECT_EQ(load("all.json")["opbench"]["plan"]["shards"].size(), 1u);
  Outcome allowed = run({"merge", "a1.json", "-o", "all.json", "--allow-missing"});
  EXPECT_EQ(allowed.code, 0) << allowed;
  EXPECT_TRUE(contains(allowed.err, "missing")) << allowed;

  Outcome help = run({"merge", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_TRUE(contains(help.out, "--allow-missing")) << help;
  EXPECT_TRUE(contains(help.out, "the exit code is 1")) << help;
}

}  // namespace
