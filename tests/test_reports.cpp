// Tests of reports/: the JSON report (building, matching Google Benchmark entries to cases, rates
// and ceiling fractions, reading and validating), the schema file, atomic writes, Google
// Benchmark's compare.py on our files, and the console summary.
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "harness/errors.hpp"
#include "harness/results.hpp"
#include "reports/atomic_file.hpp"
#include "reports/claims.hpp"
#include "reports/console_summary.hpp"
#include "reports/json_report.hpp"
#include "reports/report_model.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using opbench::UsageError;
namespace rep = opbench::reports;

namespace {

const std::string kPoint = "rows:64/cols:4096/dist:normal";
const std::string kRef = "norm/layernorm/ref/f32/" + kPoint;
const std::string kPlain = "norm/layernorm/cpu.plain/f32/" + kPoint;
const std::string kFast = "norm/layernorm/cpu.fast/f32/" + kPoint;
const std::string kCuda = "norm/layernorm/cuda.fast/f32/" + kPoint;
const std::string kBroken = "norm/rmsnorm/cpu.fast/f32/" + kPoint;
const std::string kDataset = "norm/layernorm/f32/" + kPoint;

// LayerNorm of x[64, 4096] with gamma, beta: read x, gamma, beta, write y.
constexpr double kBytes = 2.0 * 64 * 4096 * 4 + 2.0 * 4096 * 4;  // 2129920
constexpr double kFlops = 8.0 * 64 * 4096;                       // 2097152

// Exactly the shape Google Benchmark 1.7.1's JSONReporter writes (captured from a real run with
// --benchmark_repetitions=3 for cpu.fast, and UseManualTime() for the CUDA case), plus an entry
// that only looks like one of our cases and one that is no case at all.
const char* kGbenchJson = R"({
  "context": {
    "date": "2026-11-23T01:05:43+00:00",
    "host_name": "vm",
    "executable": "./opbench",
    "num_cpus": 2,
    "mhz_per_cpu": 2096,
    "cpu_scaling_enabled": false,
    "caches": [{"type": "Data", "level": 1, "size": 32768, "num_sharing": 1}],
    "load_avg": [0.800293, 0.279297, 0.11377],
    "library_build_type": "release"
  },
  "benchmarks": [
    {"name": "norm/layernorm/ref/f32/rows:64/cols:4096/dist:normal", "family_index": 0,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/ref/f32/rows:64/cols:4096/dist:normal", "run_type": "iteration",
     "repetitions": 1, "repetition_index": 0, "threads": 1, "iterations": 140,
     "real_time": 5.0e+06, "cpu_time": 4.9e+06, "time_unit": "ns"},
    {"name": "norm/layernorm/cpu.plain/f32/rows:64/cols:4096/dist:normal", "family_index": 1,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.plain/f32/rows:64/cols:4096/dist:normal",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
     "iterations": 875, "real_time": 8.0e+05, "cpu_time": 7.9e+05, "time_unit": "ns"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal", "family_index": 2,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "iteration", "repetitions": 3, "repetition_index": 0, "threads": 1,
     "iterations": 3500, "real_time": 190.0, "cpu_time": 189.0, "time_unit": "us"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal", "family_index": 2,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "iteration", "repetitions": 3, "repetition_index": 1, "threads": 1,
     "iterations": 3500, "real_time": 200.0, "cpu_time": 199.0, "time_unit": "us"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal", "family_index": 2,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "iteration", "repetitions": 3, "repetition_index": 2, "threads": 1,
     "iterations": 3500, "real_time": 230.0, "cpu_time": 229.0, "time_unit": "us"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal_mean", "family_index": 2,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "aggregate", "repetitions": 3, "threads": 1, "aggregate_name": "mean",
     "aggregate_unit": "time", "iterations": 3, "real_time": 206.66666666666666,
     "cpu_time": 205.66666666666666, "time_unit": "us"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal_median",
     "family_index": 2, "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "aggregate", "repetitions": 3, "threads": 1, "aggregate_name": "median",
     "aggregate_unit": "time", "iterations": 3, "real_time": 200.0, "cpu_time": 199.0,
     "time_unit": "us"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal_stddev",
     "family_index": 2, "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "aggregate", "repetitions": 3, "threads": 1, "aggregate_name": "stddev",
     "aggregate_unit": "time", "iterations": 3, "real_time": 20.816659994661325,
     "cpu_time": 20.816659994661325, "time_unit": "us"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal_cv", "family_index": 2,
     "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal",
     "run_type": "aggregate", "repetitions": 3, "threads": 1, "aggregate_name": "cv",
     "aggregate_unit": "percentage", "iterations": 3, "real_time": 0.01,
     "cpu_time": 0.0101, "time_unit": "us"},
    {"name": "norm/layernorm/cuda.fast/f32/rows:64/cols:4096/dist:normal/manual_time",
     "family_index": 3, "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cuda.fast/f32/rows:64/cols:4096/dist:normal/manual_time",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
     "iterations": 350000, "real_time": 2000.0, "cpu_time": 3.3, "time_unit": "ns"},
    {"name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal/extra:1",
     "family_index": 4, "per_family_instance_index": 0,
     "run_name": "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal/extra:1",
     "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
     "iterations": 10, "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ns"},
    {"name": "some_other_benchmark", "family_index": 5, "per_family_instance_index": 0,
     "run_name": "some_other_benchmark", "run_type": "iteration", "repetitions": 1,
     "repetition_index": 0, "threads": 1, "iterations": 10, "real_time": 1.0, "cpu_time": 1.0,
     "time_unit": "ns"}
  ]
})";

opbench::Params point() {
  opbench::Params p;
  p.set("rows", "64");
  p.set("cols", "4096");
  p.set("dist", "normal");
  return p;
}

opbench::CaseRecord make_case(const std::string& name, const std::string& op,
                              const std::string& impl, const std::string& backend) {
  opbench::CaseRecord c;
  c.name = name;
  c.suite = "norm";
  c.op = op;
  c.impl = impl;
  c.backend = backend;
  c.dtype = "f32";
  c.params = point();
  c.cost = {kFlops, kBytes};
  c.dataset = "norm/" + op + "/f32/" + kPoint;
  return c;
}

opbench::Agreement passed_agreement() {
  opbench::Agreement a;
  a.status = opbench::AgreementStatus::pass;
  a.checked = true;
  a.passed = true;
  a.err_ratio = 0.25;
  a.max_abs_err = 2.5e-7;
  a.max_rel_err = 1e-6;
  a.rel_l2_err = 3e-8;
  a.elements = 64 * 4096;
  return a;
}

// `seconds` per execution for each repetition, 100 iterations each, CPU time 99% of it.
opbench::Timing timing(const std::string& clock, std::vector<double> seconds) {
  opbench::Timing t;
  t.clock = clock;
  for (double s : seconds) t.repetitions.push_back({s, 0.99 * s, 100, {}});
  return t;
}

opbench::Ceiling ceiling(const std::string& backend, const std::string& kind, double bytes,
                         double flops, double seconds) {
  return {backend, kind, bytes, flops, timing("real_time", {seconds})};
}

opbench::RunResult make_run() {
  opbench::RunResult run;
  run.context = json::parse(kGbenchJson).at("context");

  opbench::CaseRecord ref = make_case(kRef, "layernorm", "ref", "ref");
  ref.is_reference = true;
  opbench::CaseRecord plain = make_case(kPlain, "layernorm", "cpu.plain", "cpu");
  plain.agreement = passed_agreement();
  plain.timing = timing("real_time", {800e-6});
  opbench::CaseRecord fast = make_case(kFast, "layernorm", "cpu.fast", "cpu");
  fast.agreement = passed_agreement();
  fast.timing = timing("real_time", {190e-6, 200e-6, 230e-6});
  opbench::CaseRecord cuda = make_case(kCuda, "layernorm", "cuda.fast", "cuda");
  cuda.agreement.status = opbench::AgreementStatus::fail;
  cuda.agreement.checked = true;
  cuda.agreement.passed = false;
  cuda.agreement.err_ratio = 2.5;
  cuda.agreement.max_abs_err = 0.25;
  cuda.agreement.max_rel_err = 0.5;
  cuda.agreement.rel_l2_err = 1e-3;
  cuda.agreement.mismatches = 3;
  cuda.agreement.elements = 64 * 4096;
  cuda.agreement.first_mismatch = "y[3, 17]: got 1.5, want 1.25";
  cuda.timing = timing("manual_time", {2e-6});
  cuda.timing.repetitions[0].counters["launches_per_sample"] = 25;
  opbench::CaseRecord broken = make_case(kBroken, "rmsnorm", "cpu.fast", "cpu");
  broken.error = "kernel threw: boom";
  broken.agreement.status = opbench::AgreementStatus::error;
  broken.agreement.max_abs_err = std::numeric_limits<double>::quiet_NaN();
  broken.agreement.rel_l2_err = std::numeric_limits<double>::infinity();
  run.cases = {ref, plain, fast, cuda, broken};

  opbench::DatasetRecord d;
  d.key = kDataset;
  d.tensors = {{"x", "f32", {64, 4096}, "generated", "normal", 11, "xxh64:0123456789abcdef"},
               {"gamma", "f32", {4096}, "generated", "uniform(0.5,1.5)", 12, "xxh64:1"},
               {"beta", "f32", {4096}, "/data/beta.npy", "", 0, "xxh64:2"}};
  run.datasets = {d};

  // cpu: a copy of exactly the case's bytes (21.2992 GB/s) and a bigger one; an SGEMM.
  // cuda: copies of 4 MiB and 256 MiB (none of the case's size); an SGEMM.
  run.ceilings = {ceiling("cpu", "copy", kBytes, 0, 1e-4),
                  ceiling("cpu", "copy", 64.0 * 1024 * 1024, 0, 1e-2),
                  ceiling("cpu", "sgemm", 0, 2.0 * 1024 * 1024 * 1024, 0.02),
                  ceiling("cuda", "copy", 4.0 * 1024 * 1024, 0, 2e-6),
                  ceiling("cuda", "copy", 256.0 * 1024 * 1024, 0, 1e-4),
                  ceiling("cuda", "sgemm", 0, 2.0 * 4096 * 4096 * 4096, 0.003)};
  for (opbench::CaseRecord& c : run.cases) c.rates = opbench::case_rates(c, run.ceilings);
  run.build.tool_version = "0.1.0";
  run.build.git_commit = "0123456789abcdef0123456789abcdef01234567";
  run.build.git_dirty = true;
  run.build.compiler = "GNU 12.2.0";
  run.build.cxx_flags = "-O3 -DNDEBUG -march=native -fopenmp";
  run.build.build_type = "Release";
  run.build.native = true;
  run.build.blas = "libopenblas.so";
  run.build.cuda = "12.4";
  run.build.onednn = "";
  run.devices = {"cpu: AMD EPYC 7B13", "cuda:0: NVIDIA H100 80GB HBM3"};
  run.threads = 2;
  run.timed = true;
  run.command_line = "opbench run --suite norm --benchmark_repetitions=3";
  return run;
}

// The check-only result of the same cases: no timings.
opbench::RunResult make_check_run() {
  opbench::RunResult run = make_run();
  for (opbench::CaseRecord& c : run.cases) {
    c.timing.repetitions.clear();
    c.rates = {};
  }
  run.timed = false;
  run.ceilings.clear();
  run.command_line = "opbench check --suite norm";
  return run;
}

// The entries of make_run()'s report, in the order the writer emits them.
enum Entry : std::size_t {
  kPlainRep = 0,  // cpu.plain, one repetition
  kFastRep0 = 1,
  kFastRep1,
  kFastRep2,  // cpu.fast, three repetitions
  kFastMean,
  kFastMedian,
  kFastStddev,
  kFastCv,
  kCudaRep,      // cuda.fast, manual time
  kBrokenError,  // rmsnorm: the kernel threw
  kEntries
};

const json& entry(const json& report, std::size_t i) {
  return report.at("benchmarks").at(i);
}

// A fresh folder under the system's temp folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "opbench_test_reports.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename());
    return out;
  }

 private:
  fs::path path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The UsageError message of `fn`, or "" when it did not throw one.
template <class F>
std::string usage_error(F&& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

struct Command {
  int rc = -1;
  std::string output;
};

Command run_command(const std::string& cmd) {
  Command r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A Python 3 interpreter that can import `module`: `python3` on PATH first, then the system's
// (where Debian's python3-* packages live); "" when none can.
std::string python_with(const std::string& module) {
  for (const char* py : {"python3", "/usr/bin/python3"}) {
    if (run_command(std::string(py) + " -c 'import " + module + "'").rc == 0) return py;
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// build_report: Google Benchmark's document kept, entries augmented

TEST(BuildReport, EntriesHaveEveryFieldGoogleBenchmarksJsonReporterWrites) {
  opbench::RunResult run = make_run();
  json report = rep::build_report(run);
  EXPECT_EQ(report.at("context"), run.context);
  ASSERT_EQ(report.at("benchmarks").size(), kEntries);
  // Entries captured from Google Benchmark 1.7.1's JSONReporter: an iteration and an aggregate.
  const json gb = json::parse(kGbenchJson).at("benchmarks");
  for (const auto& [ours, theirs] : {std::pair{kFastRep1, 3}, std::pair{kFastMedian, 6}}) {
    for (const auto& [key, value] : gb.at(theirs).items()) {
      ASSERT_TRUE(entry(report, ours).contains(key)) << key;
      EXPECT_EQ(entry(report, ours).at(key).type_name(), std::string(value.type_name())) << key;
    }
  }
}

TEST(BuildReport, EntriesAreNamedNumberedAndAggregatedAsGoogleBenchmarkDoes) {
  json report = rep::build_report(make_run());
  for (std::size_t i = kFastRep0; i <= kFastRep2; ++i) {
    EXPECT_EQ(entry(report, i).at("name"), kFast + "/real_time");
    EXPECT_EQ(entry(report, i).at("run_name"), kFast + "/real_time");
    EXPECT_EQ(entry(report, i).at("run_type"), "iteration");
    EXPECT_EQ(entry(report, i).at("repetition_index"), i - kFastRep0);
    EXPECT_EQ(entry(report, i).at("repetitions"), 3);
    EXPECT_EQ(entry(report, i).at("iterations"), 100);
  }
  EXPECT_NEAR(entry(report, kFastRep2).at("real_time").get<double>(), 230e3, 1e-6);  // ns
  EXPECT_EQ(entry(report, kFastRep2).at("time_unit"), "ns");
  EXPECT_EQ(entry(report, kFastMedian).at("name"), kFast + "/real_time_median");
  EXPECT_NEAR(entry(report, kFastMedian).at("real_time").get<double>(), 200e3, 1e-6);
  EXPECT_NEAR(entry(report, kFastMean).at("real_time").get<double>(), 620e3 / 3, 1e-6);
  EXPECT_EQ(entry(report, kFastCv).at("aggregate_unit"), "percentage");
  // The CUDA case is timed by device events: manual time, and its counters come along.
  EXPECT_EQ(entry(report, kCudaRep).at("run_name"), kCuda + "/manual_time");
  EXPECT_EQ(entry(report, kCudaRep).at("launches_per_sample"), 25);
  // The reference is not timed: it has no entry; the kernel that threw has an error entry.
  for (const json& e : report.at("benchmarks")) EXPECT_NE(e.at("impl"), "ref");
  EXPECT_EQ(entry(report, kBrokenError).at("error_occurred"), true);
  EXPECT_EQ(entry(report, kBrokenError).at("error_message"), "kernel threw: boom");
}

TEST(BuildReport, AddsTheCaseFieldsToEachEntryOfTheCase) {
  json report = rep::build_report(make_run());
  const json& e = entry(report, kFastRep1);
  EXPECT_EQ(e.at("suite"), "norm");
  EXPECT_EQ(e.at("op"), "layernorm");
  EXPECT_EQ(e.at("impl"), "cpu.fast");
  EXPECT_EQ(e.at("backend"), "cpu");
  EXPECT_EQ(e.at("dtype"), "f32");
  EXPECT_EQ(e.at("params"), json::parse(R"({"rows": 64, "cols": 4096, "dist": "normal"})"));
  EXPECT_TRUE(e.at("params").at("rows").is_number_integer());
  EXPECT_EQ(e.at("dataset"), kDataset);
  EXPECT_EQ(e.at("cost").at("bytes"), kBytes);
  EXPECT_EQ(e.at("cost").at("flops"), kFlops);
  EXPECT_EQ(e.at("is_reference"), false);
  EXPECT_FALSE(e.contains("error"));
  const json& a = e.at("agreement");
  EXPECT_EQ(a.at("status"), "pass");
  EXPECT_FALSE(a.contains("passed"));
  EXPECT_EQ(a.at("checked"), true);
  EXPECT_EQ(a.at("err_ratio"), 0.25);
  EXPECT_EQ(a.at("max_abs_err"), 2.5e-7);
  EXPECT_EQ(a.at("max_rel_err"), 1e-6);
  EXPECT_EQ(a.at("rel_l2_err"), 3e-8);
  EXPECT_EQ(a.at("mismatches"), 0);
  EXPECT_EQ(a.at("elements"), 64 * 4096);
  EXPECT_EQ(a.at("first_mismatch"), "");
  EXPECT_EQ(entry(report, kCudaRep).at("agreement").at("status"), "fail");
  EXPECT_EQ(entry(report, kBrokenError).at("agreement").at("status"), "error");
}

TEST(BuildReport, TheReferenceIsNotApplicableNotFailed) {
  const json ref = rep::build_report(make_run()).at("opbench").at("cases").at(0);
  EXPECT_EQ(ref.at("impl"), "ref");
  EXPECT_EQ(ref.at("agreement").at("status"), "not_applicable");
  EXPECT_TRUE(ref.at("agreement").at("err_ratio").is_null());
  EXPECT_TRUE(ref.at("time").is_null());
}

TEST(BuildReport, ParamValuesThatAreDecimalIntegersBecomeNumbers) {
  opbench::RunResult run = make_run();
  opbench::Params p;
  p.set("rows", "64");
  p.set("neg", "-3");
  p.set("lead", "007");
  p.set("pow", "2^12");
  p.set("huge", "99999999999999999999");
  p.set("dist", "normal");
  run.cases[2].params = p;
  json params = rep::build_report(run).at("opbench").at("cases").at(2).at("params");
  EXPECT_EQ(params, json::parse(R"({"rows": 64, "neg": -3, "lead": "007", "pow": "2^12",
                                   "huge": "99999999999999999999", "dist": "normal"})"));
}

TEST(BuildReport, CaseNameCandidatesStripOnlyGoogleBenchmarkSuffixes) {
  // How schema-1 and plain Google Benchmark reports are matched to cases when read.
  EXPECT_EQ(rep::case_name_candidates("a/b:1/min_time:0.500/repeats:3/manual_time/threads:2"),
            (std::vector<std::string>{"a/b:1/min_time:0.500/repeats:3/manual_time/threads:2",
                                      "a/b:1/min_time:0.500/repeats:3/manual_time",
                                      "a/b:1/min_time:0.500/repeats:3", "a/b:1/min_time:0.500",
                                      "a/b:1"}));
  EXPECT_EQ(rep::case_name_candidates("a/b/real_time"),
            (std::vector<std::string>{"a/b/real_time", "a/b"}));
  EXPECT_EQ(
      rep::case_name_candidates("a/b/process_time/iterations:10"),
      (std::vector<std::string>{"a/b/process_time/iterations:10", "a/b/process_time", "a/b"}));
  EXPECT_EQ(rep::case_name_candidates("a/dist:normal/extra:1"),
            (std::vector<std::string>{"a/dist:normal/extra:1"}));
  EXPECT_EQ(rep::case_name_candidates("a/threads:"), (std::vector<std::string>{"a/threads:"}));
}

TEST(BuildReport, TheTimeOfACaseIsTheMedianOfItsRepetitionsWithItsRates) {
  const json cases = rep::build_report(make_run()).at("opbench").at("cases");
  const json& fast = cases.at(2).at("time");
  EXPECT_EQ(fast.at("statistic"), "median");
  EXPECT_NEAR(fast.at("seconds").get<double>(), 200e-6, 1e-15);
  EXPECT_EQ(fast.at("repetitions"), 3);
  EXPECT_EQ(fast.at("samples"), json::parse("[190e-6, 200e-6, 230e-6]"));
  EXPECT_EQ(fast.at("clock"), "real_time");
  const json& rates = cases.at(2).at("rates");
  EXPECT_DOUBLE_EQ(rates.at("gbps").get<double>(), kBytes / 200e-6 / 1e9);  // 10.6496
  EXPECT_DOUBLE_EQ(rates.at("gflops").get<double>(), kFlops / 200e-6 / 1e9);
}

TEST(BuildReport, EveryTimedEntryCarriesTheRatesOfItsOwnTime) {
  json report = rep::build_report(make_run());
  EXPECT_DOUBLE_EQ(entry(report, kFastMedian).at("gbps").get<double>(), kBytes / 200e-6 / 1e9);
  EXPECT_DOUBLE_EQ(entry(report, kPlainRep).at("gbps").get<double>(), kBytes / 800e-6 / 1e9);
  EXPECT_DOUBLE_EQ(entry(report, kFastRep0).at("gbps").get<double>(), kBytes / 190e-6 / 1e9);
}

TEST(BuildReport, CeilingFractionUsesTheSameSizeCopyAndTheSgemmOfTheBackend) {
  json report = rep::build_report(make_run());
  // cpu.fast median 200 us. The cpu copy of exactly kBytes moves 21.2992 GB/s, so kBytes need
  // 100 us; the SGEMM (2^31 flops in 20 ms = 107.37 GFLOP/s) needs 19.53 us for kFlops. The
  // roofline allows max(100, 19.53) = 100 us: fraction 100 / 200 = 0.5.
  EXPECT_NEAR(entry(report, kFastMedian).at("ceiling_fraction").get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(
      report.at("opbench").at("cases").at(2).at("rates").at("ceiling_fraction").get<double>(), 0.5,
      1e-12);
  // 190 us: 100 / 190.
  EXPECT_NEAR(entry(report, kFastRep0).at("ceiling_fraction").get<double>(), 100.0 / 190.0, 1e-12);
}

TEST(BuildReport, CeilingFractionFallsBackToTheNearestCopySize) {
  json report = rep::build_report(make_run());
  // No cuda copy of kBytes (2.03 MiB): the nearest is 4 MiB in 2 us = 2097.152 GB/s, so kBytes
  // need 1.015625 us; the SGEMM (2 * 4096^3 in 3 ms) needs 0.0458 us. Measured: 2 us.
  const double copy_gbps = 4.0 * 1024 * 1024 / 2e-6 / 1e9;
  ASSERT_DOUBLE_EQ(copy_gbps, 2097.152);
  EXPECT_NEAR(entry(report, kCudaRep).at("ceiling_fraction").get<double>(), 1.015625e-6 / 2e-6,
              1e-12);
}

TEST(BuildReport, SpreadsHaveNoRatesAndUnknownCeilingsGiveNull) {
  json report = rep::build_report(make_run());
  for (std::size_t i : {kFastStddev, kFastCv}) {
    EXPECT_TRUE(entry(report, i).at("gbps").is_null()) << i;
    EXPECT_TRUE(entry(report, i).at("gflops").is_null()) << i;
    EXPECT_TRUE(entry(report, i).at("ceiling_fraction").is_null()) << i;
  }
  EXPECT_TRUE(entry(report, kFastMean).at("gbps").is_number());
  EXPECT_TRUE(entry(report, kFastMedian).at("gbps").is_number());

  opbench::RunResult run = make_run();
  run.ceilings.clear();
  for (opbench::CaseRecord& c : run.cases) c.rates = opbench::case_rates(c, run.ceilings);
  json no_ceilings = rep::build_report(run);
  EXPECT_TRUE(entry(no_ceilings, kFastMedian).at("ceiling_fraction").is_null());
  EXPECT_TRUE(entry(no_ceilings, kFastMedian).at("gbps").is_number());
}

TEST(BuildReport, OpbenchBlockRecordsTheRun) {
  json ob = rep::build_report(make_run()).at("opbench");
  EXPECT_EQ(ob.at("schema_version"), rep::kSchemaVersion);
  EXPECT_EQ(ob.at("tool"), "opbench");
  EXPECT_EQ(ob.at("tool_version"), "0.1.0");
  EXPECT_EQ(ob.at("git"), json::parse(R"({"commit": "0123456789abcdef0123456789abcdef01234567",
                                          "dirty": true})"));
  EXPECT_EQ(ob.at("build").at("native"), true);
  EXPECT_EQ(ob.at("build").at("cxx_flags"), "-O3 -DNDEBUG -march=native -fopenmp");
  EXPECT_EQ(ob.at("build").at("onednn"), "");
  EXPECT_EQ(ob.at("devices").size(), 2u);
  EXPECT_EQ(ob.at("threads"), 2);
  EXPECT_EQ(ob.at("timed"), true);
  EXPECT_EQ(ob.at("command_line"), "opbench run --suite norm --benchmark_repetitions=3");

  ASSERT_EQ(ob.at("ceilings").size(), 6u);
  const json& copy = ob.at("ceilings").at(0);
  EXPECT_EQ(copy.at("backend"), "cpu");
  EXPECT_EQ(copy.at("kind"), "copy");
  EXPECT_EQ(copy.at("statistic"), "median");
  EXPECT_NEAR(copy.at("gbps").get<double>(), 21.2992, 1e-9);
  EXPECT_TRUE(copy.at("gflops").is_null());
  const json& sgemm = ob.at("ceilings").at(2);
  EXPECT_NEAR(sgemm.at("gflops").get<double>(), 107.3741824, 1e-6);
  EXPECT_TRUE(sgemm.at("gbps").is_null());

  const json& x = ob.at("datasets").at(kDataset).at("tensors").at(0);
  EXPECT_EQ(x, json::parse(R"({"name": "x", "dtype": "f32", "shape": [64, 4096],
                               "source": "generated", "dist": "normal", "seed": 11,
                               "checksum": "xxh64:0123456789abcdef"})"));

  ASSERT_EQ(ob.at("cases").size(), 5u);
  EXPECT_EQ(ob.at("cases").at(3).at("name"), kCuda);
  EXPECT_EQ(ob.at("cases").at(3).at("agreement").at("mismatches"), 3);
  const json& broken = ob.at("cases").at(4);
  EXPECT_EQ(broken.at("error"), "kernel threw: boom");
  EXPECT_TRUE(broken.at("agreement").at("max_abs_err").is_null());  // NaN
  EXPECT_TRUE(broken.at("agreement").at("rel_l2_err").is_null());   // Inf
  EXPECT_EQ(broken.at("agreement").at("max_rel_err"), 0);
}

TEST(BuildReport, CheckOnlyReportCarriesCasesWithoutBenchmarks) {
  json report = rep::build_report(make_check_run());
  // The kernel that threw still has its error entry: Google Benchmark's tools see the failure.
  ASSERT_EQ(report.at("benchmarks").size(), 1u);
  EXPECT_EQ(report.at("benchmarks").at(0).at("error_occurred"), true);
  EXPECT_EQ(report.at("opbench").at("timed"), false);
  EXPECT_EQ(report.at("opbench").at("cases").size(), 5u);
  EXPECT_EQ(report.at("opbench").at("cases").at(3).at("agreement").at("status"), "fail");
  EXPECT_EQ(rep::validate_report(report), "");
}

TEST(BuildReport, NonFiniteNumbersNeverMakeInvalidJson) {
  opbench::RunResult run = make_run();
  run.cases[2].cost.bytes = std::numeric_limits<double>::quiet_NaN();
  run.cases[2].timing.repetitions[1].seconds = std::numeric_limits<double>::infinity();
  run.cases[1].agreement.max_rel_err = -std::numeric_limits<double>::infinity();
  std::string text = rep::dump_report(rep::build_report(run));
  json back = json::parse(text);  // throws if the text were not JSON
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  EXPECT_EQ(text.find("Infinity"), std::string::npos);
  EXPECT_EQ(rep::validate_report(back), "");
}

// ---------------------------------------------------------------------------------------------
// Writing and reading

TEST(ReadReport, RoundTripsThroughAFile) {
  TempDir dir;
  json report = rep::build_report(make_run());
  rep::write_report(dir.file("run.json"), report);
  json back = rep::read_report(dir.file("run.json"));
  EXPECT_EQ(back, report);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"run.json"});
}

TEST(ReadReport, MissingFieldIsNamedByItsPath) {
  TempDir dir;
  json report = rep::build_report(make_run());
  report["benchmarks"][3]["agreement"].erase("status");
  write_text(dir.file("r.json"), report.dump());
  EXPECT_EQ(usage_error([&] { rep::read_report(dir.file("r.json")); }),
            dir.file("r.json") + ": benchmarks[3].agreement.status: missing");
  EXPECT_EQ(rep::validate_report(report), "benchmarks[3].agreement.status: missing");
}

TEST(ReadReport, WrongTypeIsNamedByItsPath) {
  json report = rep::build_report(make_run());
  report["opbench"]["threads"] = "two";
  EXPECT_EQ(rep::validate_report(report), "opbench.threads: expected an integer, got string");
  report = rep::build_report(make_run());
  report["opbench"]["cases"][1]["params"]["rows"] = 6.5;
  EXPECT_EQ(rep::validate_report(report),
            "opbench.cases[1].params.rows: expected an integer or a string, got number");
  report = rep::build_report(make_run());
  report["benchmarks"][9]["ceiling_fraction"] = "high";
  EXPECT_EQ(rep::validate_report(report),
            "benchmarks[9].ceiling_fraction: expected a number or null, got string");
  report = rep::build_report(make_run());
  report["opbench"]["datasets"][kDataset]["tensors"][0]["shape"][1] = "4096";
  EXPECT_EQ(rep::validate_report(report), "opbench.datasets[\"" + kDataset +
                                              "\"].tensors[0].shape[1]: expected an integer, "
                                              "got string");
  EXPECT_EQ(rep::validate_report(json::array()), "(top level): expected an object, got array");
}

TEST(ReadReport, NewerSchemaVersionAsksForAnUpgrade) {
  TempDir dir;
  json report = rep::build_report(make_run());
  report["opbench"]["schema_version"] = 7;
  report["opbench"].erase("cases");  // a newer schema may change anything else
  write_text(dir.file("new.json"), report.dump());
  EXPECT_EQ(usage_error([&] { rep::read_report(dir.file("new.json")); }),
            dir.file("new.json") + ": schema_version 7 is newer than this opbench understands (" +
                std::to_string(rep::kSchemaVersion) + "); upgrade opbench");
  report["opbench"]["schema_version"] = "1";
  EXPECT_EQ(rep::validate_report(report),
            "opbench.schema_version: expected an integer, got string");
  report["opbench"]["schema_version"] = 0;
  EXPECT_EQ(rep::validate_report(report),
            "opbench.schema_version: expected a positive integer, got 0");
}

// Found by fuzzing: a field the loader reads before the schema check, of the wrong type, threw
// nlohmann's type_error (an internal error, exit 3) instead of the schema's one line.
TEST(ReadReport, AWrongTypeReadBeforeTheSchemaCheckIsTheSchemasToReport) {
  TempDir dir;
  json report = rep::build_report(make_run());
  report["opbench"]["tool"] = 5;
  write_text(dir.file("tool.json"), report.dump());
  const std::string strict = usage_error([&] { rep::read_report(dir.file("tool.json")); });
  EXPECT_NE(strict.find("opbench.tool: expected a string"), std::string::npos) << strict;
  // The lenient loader reads what it can: no throw, and the field is named in a warning.
  rep::LoadedReport loaded;
  ASSERT_NO_THROW(loaded = rep::load_report(dir.file("tool.json")));
  std::string warnings;
  for (const std::string& w : loaded.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("opbench.tool"), std::string::npos) << warnings;
}

TEST(ReadReport, MalformedJsonNamesTheByte) {
  TempDir dir;
  write_text(dir.file("bad.json"), R"({"benchmarks": [})");
  EXPECT_EQ(usage_error([&] { rep::read_report(dir.file("bad.json")); }),
            dir.file("bad.json") + ": not valid JSON at byte 17");
  std::string text = rep::dump_report(rep::build_report(make_run()));
  write_text(dir.file("half.json"), text.substr(0, text.size() / 2));  // a half-written file
  std::string msg = usage_error([&] { rep::read_report(dir.file("half.json")); });
  EXPECT_NE(msg.find(dir.file("half.json") + ": not valid JSON at byte "), std::string::npos)
      << msg;
  write_text(dir.file("empty.json"), "");
  EXPECT_EQ(usage_error([&] { rep::read_report(dir.file("empty.json")); }),
            dir.file("empty.json") + ": not valid JSON at byte 1");
}

TEST(ReadReport, MissingFileAndNotAReport) {
  TempDir dir;
  std::string msg = usage_error([&] { rep::read_report(dir.file("nope.json")); });
  EXPECT_EQ(msg.rfind(dir.file("nope.json") + ": cannot read the report", 0), 0u) << msg;
  EXPECT_EQ(usage_error([&] { rep::read_report(dir.path().string()); }),
            dir.path().string() + ": cannot read the report (it is a folder)");
  // Plain Google Benchmark output is not an opbench report.
  write_text(dir.file("gb.json"), kGbenchJson);
  EXPECT_EQ(usage_error([&] { rep::read_report(dir.file("gb.json")); }),
            dir.file("gb.json") + ": opbench: missing");
}

// ---------------------------------------------------------------------------------------------
// The schema file agrees with validate_report

TEST(Schema, ReportsValidateAgainstTheSchemaFileAndBrokenOnesDoNot) {
  std::string py = python_with("jsonschema");
  if (py.empty()) {
    GTEST_SKIP() << "python3 with the jsonschema module not found (Debian: apt-get install "
                    "python3-jsonschema); the schema file was not checked";
  }
  // Each document, whether it must be valid, and (for broken ones) the path validate_report names.
  struct Doc {
    std::string label;
    json doc;
    bool valid;
  };
  std::vector<Doc> docs;
  json good = rep::build_report(make_run());
  docs.push_back({"run", good, true});
  docs.push_back({"check", rep::build_report(make_check_run()), true});
  auto broken = [&](const std::string& label, auto&& mutate, const std::string& path) {
    json d = good;
    mutate(d);
    std::string problem = rep::validate_report(d);
    EXPECT_EQ(problem.rfind(path, 0), 0u) << label << ": " << problem;
    docs.push_back({label, d, false});
  };
  broken(
      "no opbench", [](json& d) { d.erase("opbench"); }, "opbench: missing");
  broken(
      "no context", [](json& d) { d.erase("context"); }, "context: missing");
  broken(
      "benchmarks object", [](json& d) { d["benchmarks"] = json::object(); }, "benchmarks:");
  broken(
      "newer", [](json& d) { d["opbench"]["schema_version"] = rep::kSchemaVersion + 1; },
      "schema_version " + std::to_string(rep::kSchemaVersion + 1));
  for (const char* f : {"tool", "tool_version", "git", "build", "devices", "threads", "timed",
                        "command_line", "ceilings", "datasets", "cases"}) {
    broken(
        std::string("opbench.") + f, [&](json& d) { d["opbench"].erase(f); },
        std::string("opbench.") + f + ": missing");
  }
  broken(
      "git.dirty", [](json& d) { d["opbench"]["git"]["dirty"] = "yes"; }, "opbench.git.dirty");
  broken(
      "build.native", [](json& d) { d["opbench"]["build"].erase("native"); },
      "opbench.build.native");
  broken(
      "devices[0]", [](json& d) { d["opbench"]["devices"][0] = 1; }, "opbench.devices[0]");
  broken(
      "ceilings[1].gbps", [](json& d) { d["opbench"]["ceilings"][1]["gbps"] = "fast"; },
      "opbench.ceilings[1].gbps");
  broken(
      "ceilings[1].seconds", [](json& d) { d["opbench"]["ceilings"][1].erase("seconds"); },
      "opbench.ceilings[1].seconds");
  broken(
      "tensor seed",
      [](json& d) { d["opbench"]["datasets"][kDataset]["tensors"][1]["seed"] = 1.5; },
      "opbench.datasets");
  broken(
      "cases[0].name", [](json& d) { d["opbench"]["cases"][0].erase("name"); },
      "opbench.cases[0].name: missing");
  broken(
      "cases[4].error", [](json& d) { d["opbench"]["cases"][4]["error"] = 1; },
      "opbench.cases[4].error");
  broken(
      "cases[2].time", [](json& d) { d["opbench"]["cases"][2].erase("time"); },
      "opbench.cases[2].time: missing");
  broken(
      "cases[2].time.seconds",
      [](json& d) { d["opbench"]["cases"][2]["time"]["seconds"] = "fast"; },
      "opbench.cases[2].time.seconds");
  broken(
      "cases[2].rates", [](json& d) { d["opbench"]["cases"][2].erase("rates"); },
      "opbench.cases[2].rates: missing");
  broken(
      "status", [](json& d) { d["benchmarks"][0]["agreement"]["status"] = "passed"; },
      "benchmarks[0].agreement.status");
  // ("op" itself is what marks an entry as opbench's: without it, an entry is Google Benchmark's.)
  for (const char* f : {"suite", "impl", "backend", "dtype", "params", "dataset", "cost",
                        "agreement", "is_reference", "gbps", "gflops", "ceiling_fraction"}) {
    broken(
        std::string("benchmarks[6].") + f, [&](json& d) { d["benchmarks"][6].erase(f); },
        std::string("benchmarks[6].") + f + ": missing");
  }
  for (const char* f : {"status", "checked", "err_ratio", "max_abs_err", "max_rel_err",
                        "rel_l2_err", "mismatches", "elements", "first_mismatch"}) {
    broken(
        std::string("agreement.") + f, [&](json& d) { d["benchmarks"][9]["agreement"].erase(f); },
        std::string("benchmarks[9].agreement.") + f + ": missing");
  }
  broken(
      "cost.bytes", [](json& d) { d["benchmarks"][0]["cost"]["bytes"] = "2 MiB"; },
      "benchmarks[0].cost.bytes");
  broken(
      "mismatches float", [](json& d) { d["benchmarks"][9]["agreement"]["mismatches"] = 2.5; },
      "benchmarks[9].agreement.mismatches");
  broken(
      "entry name", [](json& d) { d["benchmarks"][kCudaRep].erase("name"); },
      "benchmarks[" + std::to_string(kCudaRep) + "].name: missing");

  TempDir dir;
  json all = json::array();
  for (const Doc& d : docs) all.push_back({d.label, d.doc, d.valid});
  write_text(dir.file("docs.json"), all.dump());
  write_text(dir.file("check.py"), R"(import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = 0
for label, doc, valid in json.load(open(sys.argv[2])):
    errors = list(validator.iter_errors(doc))
    if bool(errors) == valid:
        bad += 1
        print("MISMATCH", label, "expected", "valid" if valid else "invalid",
              [e.message for e in errors][:3])
print("checked", len(json.load(open(sys.argv[2]))), "documents")
sys.exit(1 if bad else 0)
)");
  Command r = run_command(py + " " + dir.file("check.py") + " " + OPBENCH_REPORT_SCHEMA_PATH + " " +
                          dir.file("docs.json"));
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find("checked " + std::to_string(docs.size()) + " documents"),
            std::string::npos)
      << r.output;
}

// ---------------------------------------------------------------------------------------------
// Google Benchmark's compare.py reads our reports

TEST(CompareScript, GoogleBenchmarksCompareReadsTwoReports) {
  const std::string script = "/usr/share/benchmark/compare.py";
  if (!fs::exists(script)) {
    GTEST_SKIP() << script << " not found (Debian: apt-get install libbenchmark-tools)";
  }
  std::string py = python_with("scipy");
  if (py.empty()) {
    GTEST_SKIP() << "no python3 with scipy, which " << script
                 << " needs (Debian: apt-get install python3-scipy)";
  }
  TempDir dir;
  opbench::RunResult run = make_run();
  rep::write_report(dir.file("a.json"), rep::build_report(run));
  for (opbench::CaseRecord& c : run.cases) {
    for (opbench::Repetition& r : c.timing.repetitions) r.seconds *= 0.9;
  }
  rep::write_report(dir.file("b.json"), rep::build_report(run));
  Command r = run_command(py + " " + script + " benchmarks " + dir.file("a.json") + " " +
                          dir.file("b.json"));
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_NE(r.output.find(kFast), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(kCuda + "/manual_time"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("-0.1000"), std::string::npos) << r.output;  // 10% faster
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

TEST(AtomicFile, ReplacesTheFileAndLeavesNoTemporary) {
  TempDir dir;
  write_text(dir.file("r.json"), "old");
  rep::write_file_atomically(dir.file("r.json"), "new contents\n");
  EXPECT_EQ(read_text(dir.file("r.json")), "new contents\n");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"r.json"});
}

TEST(AtomicFile, FailedWriteKeepsTheOldFileAndRemovesTheTemporary) {
  TempDir dir;
  const std::string target = dir.file("r.json");
  write_text(target, "old report");
  // Make write() itself fail (EFBIG) with a file size limit, in a child so the limit and the
  // ignored SIGXFSZ never touch this process.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    ::getrlimit(RLIMIT_FSIZE, &lim);
    lim.rlim_cur = 4096;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    try {
      rep::write_file_atomically(target, std::string(1 << 20, 'x'));
    } catch (const UsageError& e) {
      std::string msg = e.what();
      ::_exit(msg.rfind("cannot write report to " + target + ": write failed", 0) == 0 ? 0 : 3);
    } catch (...) {
      ::_exit(4);
    }
    ::_exit(5);  // did not throw
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: wrong message, 4: wrong exception, 5: no exception";
  EXPECT_EQ(read_text(target), "old report");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"r.json"});
}

TEST(AtomicFile, FailedRenameRemovesTheTemporary) {
  TempDir dir;
  fs::create_directory(dir.file("r.json"));  // a folder where the file should go
  write_text(dir.file("r.json") + "/keep", "x");
  std::string msg = usage_error([&] { rep::write_file_atomically(dir.file("r.json"), "new"); });
  EXPECT_EQ(msg.rfind("cannot write report to " + dir.file("r.json") + ": rename failed", 0), 0u)
      << msg;
  EXPECT_EQ(read_text(dir.file("r.json") + "/keep"), "x");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"r.json"});
}

TEST(AtomicFile, UnwritableFolderKeepsTheOldFile) {
  TempDir dir;
  const std::string target = dir.file("r.json");
  write_text(target, "old report");
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec |
                                  fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  // Root ignores permission bits, so a child running as root first becomes "nobody".
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      ::_exit(6);
    }
    if (FILE* f = std::fopen(dir.file("probe").c_str(), "w")) {
      std::fclose(f);
      std::remove(dir.file("probe").c_str());
      ::_exit(6);
    }
    std::string write_msg = usage_error([&] { rep::write_file_atomically(target, "new"); });
    if (write_msg.rfind("cannot write report to " + target + ": ", 0) != 0) ::_exit(3);
    std::string check_msg = usage_error([&] { rep::check_writable(target); });
    if (check_msg.rfind("cannot write report to " + target + ": folder ", 0) != 0 ||
        check_msg.find("is not writable") == std::string::npos) {
      ::_exit(4);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 6) {
    GTEST_SKIP() << "cannot make a folder unwritable for this process (root that cannot drop to "
                    "uid 65534); the failed-write case is covered by FailedWriteKeeps...";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: write_file_atomically did not fail as expected, 4: "
                                       "check_writable did not";
  EXPECT_EQ(read_text(target), "old report");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"r.json"});
}

TEST(AtomicFile, CheckWritable) {
  TempDir dir;
  EXPECT_NO_THROW(rep::check_writable(dir.file("r.json")));
  EXPECT_NO_THROW(rep::check_writable(dir.file("r.json")));  // twice: the probe was removed
  EXPECT_TRUE(dir.names().empty());

  std::string missing = dir.file("no/such/folder/r.json");
  EXPECT_EQ(usage_error([&] { rep::check_writable(missing); }),
            "cannot write report to " + missing + ": folder " + dir.file("no/such/folder") +
                " does not exist");
  EXPECT_EQ(usage_error([&] { rep::check_writable(dir.path().string()); }),
            "cannot write report to " + dir.path().string() + ": it is a folder, not a file");
  write_text(dir.file("plainfile"), "");
  EXPECT_EQ(usage_error([&] { rep::check_writable(dir.file("plainfile/r.json")); }),
            "cannot write report to " + dir.file("plainfile/r.json") + ": " +
                dir.file("plainfile") + " is not a folder");
  // /proc takes no new files, not even from root.
  std::string msg = usage_error([] { rep::check_writable("/proc/opbench-report.json"); });
  EXPECT_EQ(msg.rfind("cannot write report to /proc/opbench-report.json: folder /proc is not "
                      "writable",
                      0),
            0u)
      << msg;
  EXPECT_NE(usage_error([] { rep::check_writable(""); }), "");
}

// ---------------------------------------------------------------------------------------------
// The console summary

TEST(ConsoleSummary, OneTablePerOpWithRatesSpeedupsAndAgreement) {
  std::ostringstream out;
  rep::print_summary(rep::build_report(make_run()), out, false);
  std::string s = out.str();
  SCOPED_TRACE(s);
  EXPECT_EQ(s.find("\x1b["), std::string::npos);
  EXPECT_NE(s.find("cpu: AMD EPYC 7B13"), std::string::npos);
  EXPECT_NE(s.find("## norm/layernorm"), std::string::npos);
  EXPECT_NE(s.find("## norm/rmsnorm"), std::string::npos);
  for (const char* impl : {"| ref ", "| cpu.plain ", "| cpu.fast ", "| cuda.fast "}) {
    EXPECT_NE(s.find(impl), std::string::npos) << impl;
  }
  EXPECT_NE(s.find("rows=64 cols=4096 dist=normal"), std::string::npos);
  EXPECT_NE(s.find("200.0 us"), std::string::npos);  // cpu.fast: the median
  EXPECT_NE(s.find("10.07%"), std::string::npos);    // its cv: 190, 200, 230 us
  EXPECT_NE(s.find("50.0%"), std::string::npos);     // its ceiling fraction
  EXPECT_EQ(s.find("vs ref"), std::string::npos);    // the reference is no speedup baseline
  EXPECT_NE(s.find("4.00x"), std::string::npos);     // 800 us / 200 us, over cpu.plain
  EXPECT_NE(s.find("2.000 us"), std::string::npos);  // cuda.fast
  EXPECT_NE(s.find("FAIL 3/262144, worst 2.5x allowed"), std::string::npos);
  EXPECT_NE(s.find("| 0.25 "), std::string::npos);  // err of a passing case: 0.25 of allowed
  EXPECT_NE(s.find("ERROR"), std::string::npos);
  EXPECT_NE(s.find("kernel threw: boom"), std::string::npos);
  EXPECT_NE(s.find("21.30 GB/s"), std::string::npos);  // the cpu copy ceiling
  EXPECT_NE(s.find("107.4 GFLOP/s"), std::string::npos);
  // A warning that holds for several cases is said once, counted.
  EXPECT_NE(s.find("noise over 5% in 1 of 3 timed cases (worst: " + kFast + " 10.1%)"),
            std::string::npos);
  EXPECT_NE(s.find("5 cases, 2 passed, 1 failed agreement, 1 errors\n"), std::string::npos);

  // Every line of a table has the same width (aligned columns).
  std::istringstream lines(s);
  std::string line;
  std::size_t width = 0;
  bool in_table = false;
  while (std::getline(lines, line)) {
    if (line.rfind("| impl ", 0) == 0) {
      width = line.size();
      in_table = true;
    } else if (in_table && !line.empty() && line[0] == '|') {
      EXPECT_EQ(line.size(), width) << line;
    } else {
      in_table = false;
    }
  }
}

TEST(ConsoleSummary, SaysWhenAVerdictRestsOnTiesOrASample) {
  opbench::RunResult run = make_check_run();
  for (auto& c : run.cases) {
    if (c.impl == "cpu.fast" && c.op == "layernorm") c.agreement.ties = 2;
  }
  run.datasets[0].sample_axis = "rows";
  run.datasets[0].sample_rows = {3, 9, 40};
  run.datasets[0].sample_of = 64;
  run.datasets[0].sample_seed = 7;
  std::ostringstream out;
  const nlohmann::json report = rep::build_report(run);
  rep::print_summary(report, out, false);
  SCOPED_TRACE(out.str());
  EXPECT_NE(out.str().find("ok, 2 ties (sample 3/64 rows)"), std::string::npos);
  EXPECT_NE(out.str().find("ok (sample 3/64 rows)"), std::string::npos);  // cpu.plain
  const auto& sample = report["opbench"]["datasets"][run.datasets[0].key]["sample"];
  EXPECT_EQ(sample["count"], 3);
  EXPECT_EQ(sample["rows"], nlohmann::json({3, 9, 40}));
  EXPECT_EQ(sample["seed"], 7);
}

TEST(ConsoleSummary, ColourOnlyWhenAsked) {
  std::ostringstream out;
  rep::print_summary(rep::build_report(make_run()), out, true);
  EXPECT_NE(out.str().find("\x1b[31mFAIL"), std::string::npos);
  EXPECT_NE(out.str().find("\x1b[32mok"), std::string::npos);
}

TEST(ConsoleSummary, CheckOnlyReportShowsAgreement) {
  std::ostringstream out;
  rep::print_summary(rep::build_report(make_check_run()), out, false);
  std::string s = out.str();
  SCOPED_TRACE(s);
  EXPECT_NE(s.find("# opbench check"), std::string::npos);
  EXPECT_NE(s.find("max_rel"), std::string::npos);
  EXPECT_EQ(s.find("GB/s"), std::string::npos);
  EXPECT_NE(s.find("cuda.fast"), std::string::npos);
  EXPECT_NE(s.find("FAIL 3/262144"), std::string::npos);
  EXPECT_NE(s.find("5 cases, 2 passed, 1 failed agreement, 1 errors"), std::string::npos);
}

// FlashAttention's second opinion is said where a 16-bit kernel's error is beyond twice
// cpu.plain's on the same data, and not otherwise; the status stays the tolerance's.
TEST(ConsoleSummary, AnErrorBeyondTwiceCpuPlainsIsSaid) {
  opbench::reports::CaseData c;
  c.has_agreement = true;
  c.checked = true;
  c.status = opbench::AgreementStatus::pass;
  c.err_vs_plain = 3.5;
  EXPECT_EQ(opbench::reports::agreement_text(c), "ok, error 3.5x cpu.plain's");
  c.err_vs_plain = 1.5;
  EXPECT_EQ(opbench::reports::agreement_text(c), "ok");
  c.err_vs_plain = NAN;  // no cpu.plain on the data, or a float32 case
  EXPECT_EQ(opbench::reports::agreement_text(c), "ok");
}

TEST(ConsoleSummary, PrintsAReadBackReport) {
  TempDir dir;
  rep::write_report(dir.file("r.json"), rep::build_report(make_run()));
  std::ostringstream a, b;
  rep::print_summary(rep::build_report(make_run()), a, false);
  rep::print_summary(rep::read_report(dir.file("r.json")), b, false);
  EXPECT_EQ(a.str(), b.str());
}

// A case listed but not run (no device here) is counted as skipped, not as an error.
TEST(ConsoleSummarySkips, SkippedCasesAreNotErrors) {
  opbench::RunResult run;
  run.timed = false;
  run.context = {{"date", "2026-11-23"}, {"num_cpus", 2}};
  opbench::CaseRecord skipped;
  skipped.name = "norm/layernorm/cuda.fast/f32/rows:4/cols:8";
  skipped.suite = "norm";
  skipped.op = "layernorm";
  skipped.impl = "cuda.fast";
  skipped.backend = "cuda";
  skipped.dtype = "f32";
  skipped.params.set("rows", "4");
  skipped.params.set("cols", "8");
  skipped.error = "skipped: built, but no usable device";
  opbench::CaseRecord broken = skipped;
  broken.name = "norm/layernorm/cpu.broken/f32/rows:4/cols:8";
  broken.impl = "cpu.broken";
  broken.backend = "cpu";
  broken.error = "kernel exploded";
  run.cases = {skipped, broken};
  std::ostringstream out;
  opbench::reports::print_summary(opbench::reports::build_report(run), out, false);
  const std::string s = out.str();
  EXPECT_NE(s.find("2 cases, 0 passed, 0 failed agreement, 1 errors, 1 skipped"), std::string::npos)
      << s;
  EXPECT_NE(s.find("skipped: built, but no usable device"), std::string::npos) << s;
}

// A claim's figures come from the run: the speed-up is the baseline's median over the fast
// side's, its ratio to the paper's figure, and the bound the ratio of the two roofline floors
// under the run's own ceilings (here: the fast side memory-bound at 10 GB/s, the baseline
// compute-bound at 100 GFLOP/s).
namespace {
rep::CaseData claim_case(const std::string& name, double seconds, double bytes, double flops) {
  rep::CaseData c;
  c.name = name;
  c.backend = "cpu";
  c.impl = "cpu.fast";
  c.median = seconds;
  c.times = {seconds};
  c.timed = true;
  c.bytes = bytes;
  c.flops = flops;
  c.has_agreement = true;
  c.checked = true;
  c.status = opbench::AgreementStatus::pass;
  return c;
}

std::vector<rep::PlannedClaim> one_claim() {
  opbench::PaperClaim claim;
  claim.id = "tree_vs_dense";
  claim.paper = "A paper";
  claim.statement = "the tree beats the dense layer";
  claim.paper_figure = 50;
  claim.paper_conditions = "a GPU";
  claim.conditions_here = "this CPU";
  claim.fast = {"tree", "cpu.fast", {{"batch", "8"}}};
  claim.baseline = {"dense", "openblas", {{"batch", "8"}}};
  return {{claim, "fff/tree/cpu.fast", "fff/dense/openblas"}};
}

rep::RunData claim_run() {
  rep::RunData run;
  // 1e9 bytes at 10 GB/s: 0.1 s; 1e12 flops at 100 GFLOP/s: 10 s.
  run.ceilings["cpu/copy/1000000000"] = 0.1;
  run.ceilings["cpu/sgemm/1000000000000"] = 10;
  run.cases.push_back(claim_case("fff/tree/cpu.fast", 0.2, 1e9, 1e6));
  run.cases.push_back(claim_case("fff/dense/openblas", 40, 1e6, 1e12));
  return run;
}
}  // namespace

TEST(Claims, MeasuredSpeedupItsShareOfThePaperAndTheCeilingsBound) {
  const json claims = rep::evaluate_claims(one_claim(), claim_run());
  ASSERT_EQ(claims.size(), 1u);
  const json& c = claims[0];
  EXPECT_EQ(c["status"], "measured");
  EXPECT_DOUBLE_EQ(c["measured"].get<double>(), 200.0);  // 40 s / 0.2 s
  EXPECT_DOUBLE_EQ(c["of_paper"].get<double>(), 4.0);    // 200 / 50
  EXPECT_NEAR(c["fast"]["floor_seconds"].get<double>(), 0.1, 1e-12);
  EXPECT_NEAR(c["baseline"]["floor_seconds"].get<double>(), 10.0, 1e-9);
  EXPECT_NEAR(c["bound"].get<double>(), 100.0, 1e-9);
  EXPECT_NE(c["fast"]["bound_by"].get<std::string>().find("memory"), std::string::npos);
  EXPECT_NE(c["baseline"]["bound_by"].get<std::string>().find("compute"), std::string::npos);
  std::ostringstream text;
  rep::print_claims(claims, text);
  EXPECT_NE(text.str().find("tree_vs_dense"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("200x"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("50.0x"), std::string::npos) << text.str();
  EXPECT_EQ(text.str().find("NOT MEASURED"), std::string::npos) << text.str();
  EXPECT_EQ(c["note"], "");
}

// A side that ran faster than its roofline floor (its cost model counts more than it moved) makes
// the bound no bound: the claim says so rather than print a speed-up above what it "allows".
TEST(Claims, ASideFasterThanItsFloorGetsANote) {
  rep::RunData run = claim_run();
  run.cases[0].median = 0.05;  // half its 0.1 s floor
  const json c = rep::evaluate_claims(one_claim(), run)[0];
  EXPECT_EQ(c["status"], "measured");
  EXPECT_DOUBLE_EQ(c["measured"].get<double>(), 800.0);
  EXPECT_NE(c["note"].get<std::string>().find("tree cpu.fast ran in 0.50 of its roofline floor"),
            std::string::npos)
      << c["note"];
  std::ostringstream text;
  rep::print_claims(json::array({c}), text);
  EXPECT_NE(text.str().find("100x (note)"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("  note: tree cpu.fast"), std::string::npos) << text.str();
}

TEST(Claims, ASideThatFailedAgreementOrIsMissingGivesNoSpeedup) {
  rep::RunData run = claim_run();
  run.cases[1].status = opbench::AgreementStatus::fail;
  json c = rep::evaluate_claims(one_claim(), run)[0];
  EXPECT_TRUE(c["measured"].is_null());
  EXPECT_TRUE(c["of_paper"].is_null());
  EXPECT_NE(c["status"].get<std::string>().find("failed agreement"), std::string::npos)
      << c["status"];

  run = claim_run();
  run.cases.erase(run.cases.begin());
  c = rep::evaluate_claims(one_claim(), run)[0];
  EXPECT_TRUE(c["measured"].is_null());
  EXPECT_NE(c["status"].get<std::string>().find("tree cpu.fast: not in this run"),
            std::string::npos)
      << c["status"];
  std::ostringstream text;
  rep::print_claims(json::array({c}), text);
  EXPECT_NE(text.str().find("NOT MEASURED: tree cpu.fast"), std::string::npos) << text.str();
}
