// End-to-end tests of the opbench command line: every test runs the real binary (OPBENCH_BINARY)
// in a fresh folder under /tmp, captures stdout, stderr and the exit status, and checks what a
// user sees: help and version, `list`, `run` and `check` reports, filters, user .npy inputs,
// --dump, and one clear error line (exit 2, no crash, no lost report) for every kind of bad input.
// Every invocation is tiny (a few rows, a few columns, --min-time 0.01).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/tensor.hpp"

#ifndef OPBENCH_BINARY
#error "OPBENCH_BINARY must name the built opbench executable"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What one run of the binary left behind.
struct Outcome {
  bool exited = false;     // ended through exit() (not a signal, not our timeout)
  int code = -1;           // exit status when `exited`
  int signal = 0;          // the signal that ended it, if any
  bool timed_out = false;  // killed by us after the time limit
  double seconds = 0;      // wall time
  std::string out, err;
  std::string command;  // for messages
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::ostream& operator<<(std::ostream& os, const Outcome& r) {
  os << "command: " << r.command << "\n  exited=" << r.exited << " code=" << r.code
     << " signal=" << r.signal << " timed_out=" << r.timed_out << " seconds=" << r.seconds
     << "\n  stdout:\n"
     << r.out << "\n  stderr:\n"
     << r.err;
  return os;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_test_cli_XXXXXX";
    char* made = mkdtemp(tmpl);
    ASSERT_NE(made, nullptr) << "mkdtemp failed";
    root_ = made;
    work_ = root_ / "work";
    fs::create_directories(work_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  // The folder the binary runs in (its cwd); empty at the start of each test.
  const fs::path& work() const { return work_; }
  fs::path at(const std::string& name) const { return work_ / name; }

  // Runs opbench with `args` in work(), stdout and stderr to files outside work().
  Outcome opbench(const std::vector<std::string>& args, double limit_s = 60) {
    Outcome r;
    r.command = "opbench";
    for (const auto& a : args) r.command += " " + a;
    const fs::path out_path = root_ / ("stdout." + std::to_string(runs_));
    const fs::path err_path = root_ / ("stderr." + std::to_string(runs_));
    ++runs_;
    std::vector<std::string> storage;
    storage.push_back(OPBENCH_BINARY);
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);

    const auto start = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      return r;
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls from here on.
      if (chdir(work_.c_str()) != 0) _exit(120);
      FILE* in = std::freopen("/dev/null", "r", stdin);
      FILE* out = std::freopen(out_path.c_str(), "w", stdout);
      FILE* err = std::freopen(err_path.c_str(), "w", stderr);
      if (!in || !out || !err) _exit(121);
      execv(argv[0], argv.data());
      _exit(122);
    }
    int status = 0;
    for (;;) {
      pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed > limit_s) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        r.timed_out = true;
        break;
      }
      struct timespec ts {
        0, 2 * 1000 * 1000
      };
      nanosleep(&ts, nullptr);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r.timed_out && WIFEXITED(status)) {
      r.exited = true;
      r.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      r.signal = WTERMSIG(status);
    }
    r.out = read_text(out_path);
    r.err = read_text(err_path);
    return r;
  }

  // Writes a float32 tensor of `shape` filled from "normal" as .npy under work(); returns its
  // absolute path.
  fs::path write_npy(const std::string& name, opbench::Shape shape,
                     opbench::DType dtype = opbench::DType::f32, std::uint64_t seed = 42) {
    opbench::Tensor t(dtype, std::move(shape));
    data_.fill(t, "normal", seed);
    fs::path p = at(name);
    data_.write_npy(t, p.string());
    return p;
  }

  // Parses a JSON file the binary wrote; fails the test when it is not JSON.
  json load_json(const fs::path& p) {
    EXPECT_TRUE(fs::exists(p)) << p << " was not written";
    json j;
    try {
      j = json::parse(read_text(p));
    } catch (const std::exception& e) {
      ADD_FAILURE() << p << " is not valid JSON: " << e.what();
    }
    return j;
  }

  // Bad input: exit code 2 from exit() (no crash), nothing on stdout, exactly one line on stderr
  // that starts with "opbench: error:" and mentions every one of `needles`.
  void expect_usage_error(const Outcome& r, std::initializer_list<std::string> needles) {
    EXPECT_FALSE(r.timed_out) << r;
    EXPECT_EQ(r.signal, 0) << "crashed\n" << r;
    EXPECT_TRUE(r.exited) << r;
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_EQ(r.out, "") << "bad input printed to stdout\n" << r;
    EXPECT_EQ(r.err.rfind("opbench: error:", 0), 0u) << "stderr must start with 'opbench: error:'\n"
                                                     << r;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected one line\n" << r;
    EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << "the line must end with a newline\n"
                                                        << r;
    for (const auto& n : needles) {
      EXPECT_TRUE(contains(r.err, n)) << "stderr should mention '" << n << "'\n" << r;
    }
  }

  void expect_ok(const Outcome& r) {
    EXPECT_FALSE(r.timed_out) << r;
    EXPECT_EQ(r.signal, 0) << r;
    EXPECT_TRUE(r.exited) << r;
    EXPECT_EQ(r.code, 0) << r;
  }

  std::vector<std::string> work_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(work_)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  opbench::datasets::SeededDataProvider data_;

 private:
  fs::path root_, work_;
  int runs_ = 0;
};

// The smallest layernorm selection, for the error tests that need a valid rest of the line.
const std::vector<std::string> kTiny = {"--op",   "layernorm", "--axis",
                                        "rows=8", "--axis",    "cols=64"};

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::set<std::string> field_values(const json& entries, const std::string& field) {
  std::set<std::string> out;
  for (const auto& e : entries) out.insert(e.at(field).get<std::string>());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Version, help, usage.

TEST_F(Cli, VersionNamesToolAndCommit) {
  Outcome r = opbench({"--version"});
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "opbench")) << r;
  EXPECT_TRUE(contains(r.out, "commit")) << r;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line\n" << r;
  EXPECT_EQ(r.err, "") << r;
}

TEST_F(Cli, HelpListsCommandsOnStdout) {
  Outcome r = opbench({"--help"});
  expect_ok(r);
  for (const char* word : {"usage", "list", "run", "check", "--version", "--help"}) {
    EXPECT_TRUE(contains(r.out, word)) << word << "\n" << r;
  }
  EXPECT_EQ(r.err, "") << r;
}

TEST_F(Cli, NoArgumentsPrintsUsageOnStderrAndExits2) {
  Outcome r = opbench({});
  EXPECT_TRUE(r.exited) << r;
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(r.out, "") << r;
  EXPECT_TRUE(contains(lower(r.err), "usage")) << r;
  EXPECT_TRUE(contains(r.err, "run")) << r;
  EXPECT_TRUE(contains(r.err, "check")) << r;
}

// `opbench claims --list` names every claim with its paper figure and both sides' cases, and
// runs nothing; an unknown claim is a one-line usage error that lists the known ones.
TEST_F(Cli, ClaimsListsEveryClaimAndRefusesAnUnknownOne) {
  Outcome r = opbench({"claims", "--list"});
  expect_ok(r);
  for (const char* word :
       {"mingru_vs_gru_t512", "minlstm_vs_lstm_t4096", "ultrafastbert_cpu", "fff_vs_ff",
        "pkm_vs_exhaustive", "78x", "175x", "baseline:", "gru_train onednn", "dense_ff openblas"}) {
    EXPECT_TRUE(contains(r.out, word)) << word << "\n" << r;
  }
  const fs::path report = at("claims.json");
  expect_usage_error(opbench({"claims", "--claim", "fff_vs_ff,nope", "--json", report.string()}),
                     {"unknown claim 'nope'", "pkm_vs_exhaustive"});
  EXPECT_FALSE(fs::exists(report));
  expect_usage_error(opbench({"claims", "--from", at("none.json").string()}), {"none.json"});
}

TEST_F(Cli, RunHelpMentionsItsOptions) {
  Outcome r = opbench({"run", "--help"});
  expect_ok(r);
  for (const char* opt :
       {"--suite", "--op", "--impl", "--backend", "--dtype", "--axis", "--input", "--dump",
        "--json", "--threads", "--seed", "--repetitions", "--min-time", "--quick", "--full"}) {
    EXPECT_TRUE(contains(r.out, opt)) << opt << "\n" << r;
  }
}

TEST_F(Cli, CheckHelpMentionsItsOptionsAndNoTimingOnes) {
  Outcome r = opbench({"check", "--help"});
  expect_ok(r);
  for (const char* opt : {"--suite", "--op", "--impl", "--axis", "--input", "--dump", "--json"}) {
    EXPECT_TRUE(contains(r.out, opt)) << opt << "\n" << r;
  }
  // check does not time: it takes neither the timing options nor Google Benchmark's flags
  // (`check --benchmark_min_time=1` is refused as an unknown option), so --help must not offer
  // them.
  for (const char* opt : {"--repetitions", "--min-time", "--benchmark_"}) {
    EXPECT_FALSE(contains(r.out, opt)) << "check --help offers " << opt << "\n" << r;
  }
}

TEST_F(Cli, ListHelpMentionsItsOptions) {
  Outcome r = opbench({"list", "--help"});
  expect_ok(r);
  for (const char* opt : {"--suite", "--op", "--impl", "--backend"}) {
    EXPECT_TRUE(contains(r.out, opt)) << opt << "\n" << r;
  }
  EXPECT_FALSE(contains(r.out, "--input")) << r;
}

TEST_F(Cli, ListHelpOffersOnlyOptionsListAccepts) {
  // `opbench list --axis rows=2` is refused ("list takes no --axis"); --help must not offer it.
  Outcome help = opbench({"list", "--help"});
  expect_ok(help);
  Outcome refused = opbench({"list", "--axis", "rows=2"});
  if (refused.code == 2) {
    EXPECT_FALSE(contains(help.out, "--axis")) << "list --help offers --axis, list refuses it\n"
                                               << help;
  }
}

// ---------------------------------------------------------------------------------------------
// list

TEST_F(Cli, ListShowsBackendsSuiteOpsAndImpls) {
  Outcome r = opbench({"list"});
  expect_ok(r);
  EXPECT_EQ(r.err, "") << r;

  // Every backend line: "  NAME  available: DETAIL" or "  NAME  NOT available: REASON".
  std::regex backend_line(R"(^\s+(\S+)\s+(available|NOT available):\s*(\S.*)$)");
  std::map<std::string, std::string> backends;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, backend_line)) backends[m[1]] = m[2];
  }
  ASSERT_TRUE(backends.count("ref")) << r;
  ASSERT_TRUE(backends.count("cpu")) << r;
  ASSERT_TRUE(backends.count("cuda")) << "cuda must be listed, available or not, with a reason\n"
                                      << r;
  EXPECT_EQ(backends["ref"], "available") << r;
  EXPECT_EQ(backends["cpu"], "available") << r;

  EXPECT_TRUE(contains(r.out, "Suite norm")) << r;
  const std::vector<std::string> ops = {"layernorm",
                                        "rmsnorm",
                                        "crmsnorm",
                                        "dyt",
                                        "batchnorm_infer",
                                        "batchnorm_train",
                                        "groupnorm",
                                        "evonorm_s0",
                                        "evonorm_b0",
                                        "online_norm",
                                        "weight_std",
                                        "add_layernorm",
                                        "add_rmsnorm",
                                        "srmsnorm",
                                        "deepnorm",
                                        "msgnorm",
                                        "powernorm",
                                        "powernorm_infer",
                                        "unified_norm",
                                        "unified_norm_infer",
                                        "pcnorm",
                                        "ccnorm",
                                        "scnorm",
                                        "layernorm_backward",
                                        "rmsnorm_backward",
                                        "add_layernorm_backward",
                                        "add_rmsnorm_backward",
                                        "dyt_backward",
                                        "batchnorm_train_backward",
                                        "groupnorm_backward",
                                        "srmsnorm_backward",
                                        "deepnorm_backward"};
  for (const auto& op : ops) {
    EXPECT_TRUE(contains(r.out, "  " + op + ":")) << op << "\n" << r;
  }
  // Every op's impls line names ref and cpu.plain; every norm op has cpu.fast too.
  std::istringstream again(r.out);
  int norm_impl_lines = 0;
  std::string suite;
  while (std::getline(again, line)) {
    if (line.rfind("Suite ", 0) == 0) suite = line;
    auto pos = line.find("impls:");
    if (pos == std::string::npos) continue;
    std::string rest = line.substr(pos + 6) + " ";
    for (const char* impl : {" ref ", " cpu.plain "}) {
      EXPECT_TRUE(contains(rest, impl)) << impl << " missing in: " << line;
    }
    if (suite == "Suite norm:") {
      ++norm_impl_lines;
      // "cpu.fast[f32]" where it does not cover every dtype of the op.
      EXPECT_TRUE(contains(rest, " cpu.fast ") || contains(rest, " cpu.fast[f32]")) << line;
    }
  }
  EXPECT_EQ(norm_impl_lines, static_cast<int>(ops.size())) << r;
  // Each op lists its dtypes and the quick sweep's; LayerNorm's cpu.fast takes all of them.
  EXPECT_TRUE(contains(r.out, "layernorm: LayerNorm")) << r;
  EXPECT_TRUE(contains(r.out, "dtypes: f32,bf16,f16 (quick f32,bf16)")) << r;
  EXPECT_TRUE(contains(r.out, "dtypes: f32,bf16,f16 (quick f32)")) << r;
}

TEST_F(Cli, ListFiltersByOp) {
  Outcome r = opbench({"list", "--op", "rmsnorm,dyt"});
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "  rmsnorm:")) << r;
  EXPECT_TRUE(contains(r.out, "  dyt:")) << r;
  EXPECT_FALSE(contains(r.out, "  layernorm:")) << r;
}

TEST_F(Cli, ListShowsModesAndFiltersByMode) {
  Outcome r = opbench({"list", "--suite", "norm", "--mode", "bwd"});
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "  layernorm_backward:")) << r;
  EXPECT_TRUE(contains(r.out,
                       "mode: bwd (of layernorm: dbeta=d/dbeta, dgamma=d/dgamma, dx=d/dx; "
                       "saved by the forward pass: mean, rstd)"))
      << r;
  EXPECT_FALSE(contains(r.out, "  layernorm:")) << r;
  r = opbench({"list", "--op", "layernorm"});
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "mode: fwd\n")) << r;
}

TEST_F(Cli, UnknownModeIsAUsageError) {
  expect_usage_error(opbench({"list", "--mode", "train"}), {"unknown mode 'train'", "fwd_bwd"});
  expect_usage_error(opbench({"check", "--mode", "fwd,backward"}),
                     {"unknown mode 'backward'", "fwd, bwd, fwd_bwd"});
}

TEST_F(Cli, ListRejectsUnknownSuite) {
  expect_usage_error(opbench({"list", "--suite", "nosuch"}), {"nosuch", "norm"});
}

// ---------------------------------------------------------------------------------------------
// run

TEST_F(Cli, RunWritesAValidReport) {
  Outcome r = opbench({"run", "--op", "layernorm", "--impl", "ref,cpu.fast", "--axis", "rows=8",
                       "--axis", "cols=64", "--min-time", "0.01", "--json", "R.json"});
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "layernorm")) << r;
  EXPECT_TRUE(contains(r.out, "cpu.fast")) << r;
  EXPECT_TRUE(contains(r.out, "R.json")) << "the summary names the report\n" << r;

  json j = load_json(at("R.json"));
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("context")) << "Google Benchmark's context block";
  ASSERT_TRUE(j.contains("benchmarks"));
  ASSERT_TRUE(j["benchmarks"].is_array());
  ASSERT_FALSE(j["benchmarks"].empty());

  std::set<std::string> impls;
  bool fast_passed = false;
  for (const auto& b : j["benchmarks"]) {
    SCOPED_TRACE(b.dump());
    EXPECT_EQ(b.at("op"), "layernorm");
    EXPECT_TRUE(b.at("name").get<std::string>().rfind("norm/layernorm/", 0) == 0);
    ASSERT_TRUE(b.contains("impl"));
    impls.insert(b["impl"].get<std::string>());
    EXPECT_TRUE(b.at("backend").is_string());
    // The quick sweep runs LayerNorm in f32 and bf16; the compulsory bytes follow the dtype:
    // x and y 8x64, gamma and beta 64, each element 4 or 2 bytes.
    const std::string dtype = b.at("dtype");
    EXPECT_TRUE(dtype == "f32" || dtype == "bf16") << dtype;
    if (!b.value("is_reference", false)) {
      EXPECT_EQ(b.at("cost").at("bytes"), (2 * 8 * 64 + 2 * 64) * (dtype == "f32" ? 4 : 2));
    }
    EXPECT_EQ(b.at("params").at("rows"), 8);
    EXPECT_EQ(b.at("params").at("cols"), 64);
    ASSERT_TRUE(b.contains("ceiling_fraction"));
    EXPECT_TRUE(b["ceiling_fraction"].is_number());
    EXPECT_GT(b.at("real_time").get<double>(), 0);
    EXPECT_GT(b.at("iterations").get<double>(), 0);
    if (b["impl"] == "cpu.fast") {
      EXPECT_EQ(b.at("backend"), "cpu");
      EXPECT_EQ(b.at("agreement").at("checked"), true);
      EXPECT_EQ(b.at("agreement").at("status"), "pass");
      fast_passed = b["agreement"]["status"] == "pass";
    }
  }
  // The reference is not timed: it has no benchmark entry, and its case is not applicable.
  EXPECT_EQ(impls, (std::set<std::string>{"cpu.fast"})) << "--impl ref,cpu.fast";
  EXPECT_TRUE(fast_passed);
  for (const auto& c : j.at("opbench").at("cases")) {
    if (c.at("impl") == "ref") EXPECT_EQ(c.at("agreement").at("status"), "not_applicable");
  }

  ASSERT_TRUE(j.contains("opbench"));
  const json& o = j["opbench"];
  ASSERT_TRUE(o.contains("schema_version"));
  EXPECT_TRUE(o["schema_version"].is_number_integer());
  EXPECT_GE(o["schema_version"].get<int>(), 1);
  ASSERT_TRUE(o.contains("git"));
  EXPECT_TRUE(o["git"].contains("commit"));
  EXPECT_TRUE(o["git"].contains("dirty"));
  ASSERT_TRUE(o.contains("build"));
  EXPECT_TRUE(o["build"].is_object());
  EXPECT_TRUE(o["build"].contains("compiler"));
  EXPECT_EQ(o.value("timed", false), true);
  ASSERT_TRUE(o.contains("ceilings"));
  ASSERT_TRUE(o["ceilings"].is_array());
  bool copy = false, sgemm = false;
  for (const auto& c : o["ceilings"]) {
    if (c.at("kind") == "copy") {
      copy = true;
      EXPECT_GT(c.at("bytes").get<double>(), 0) << c.dump();
    }
    if (c.at("kind") == "sgemm") {
      sgemm = true;
      EXPECT_GT(c.at("flops").get<double>(), 0) << c.dump();
    }
  }
  EXPECT_TRUE(copy) << o["ceilings"].dump();
  EXPECT_TRUE(sgemm) << o["ceilings"].dump();
}

TEST_F(Cli, RunWithoutJsonWritesTheDefaultReport) {
  Outcome r = opbench({"run", "--op", "layernorm", "--impl", "cpu.fast", "--axis", "rows=2",
                       "--axis", "cols=4", "--min-time", "0.01"});
  expect_ok(r);
  json j = load_json(at("opbench-report.json"));
  ASSERT_TRUE(j.contains("benchmarks")) << j.dump();
  EXPECT_FALSE(j["benchmarks"].empty());
}

TEST_F(Cli, RunRepetitionsGiveAggregates) {
  Outcome r = opbench({"run", "--op", "layernorm", "--impl", "cpu.fast", "--dtype", "f32", "--axis",
                       "rows=2", "--axis", "cols=4", "--axis", "dist=normal", "--min-time", "0.01",
                       "--repetitions", "2", "--json", "R.json"});
  expect_ok(r);
  json j = load_json(at("R.json"));
  int iterations = 0;
  bool median = false;
  for (const auto& b : j.at("benchmarks")) {
    if (b.value("run_type", "") == "iteration") ++iterations;
    if (b.value("aggregate_name", "") == "median") median = true;
  }
  EXPECT_EQ(iterations, 2) << j["benchmarks"].dump(1);
  EXPECT_TRUE(median) << j["benchmarks"].dump(1);
}

// ---------------------------------------------------------------------------------------------
// check

TEST_F(Cli, CheckPrintsAgreement) {
  Outcome r = opbench({"check", "--op", "rmsnorm,dyt", "--axis", "rows=3", "--axis", "cols=5"});
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "rmsnorm")) << r;
  EXPECT_TRUE(contains(r.out, "dyt")) << r;
  EXPECT_TRUE(contains(r.out, "cpu.fast")) << r;
  EXPECT_TRUE(contains(r.out, "agreement")) << r;
  EXPECT_TRUE(contains(r.out, "0 failed")) << r;
  EXPECT_FALSE(contains(r.out, "ceilings")) << "check does not time\n" << r;
  EXPECT_FALSE(fs::exists(at("opbench-report.json"))) << "check writes a report only with --json";
}

// FlashAttention's second opinion: in a 16-bit case, an implementation checked after cpu.plain
// on the same data carries cpu.plain's max_abs_err and its own as a multiple of it; float32
// cases and cpu.plain itself carry neither.
TEST_F(Cli, SixteenBitCasesCarryTheErrorOfCpuPlainOnTheSameData) {
  Outcome r = opbench({"check", "--op", "layernorm", "--impl", "cpu.plain,cpu.fast", "--dtype",
                       "f32,bf16", "--axis", "rows=3", "--axis", "cols=33", "--axis", "dist=normal",
                       "--json", "C.json"});
  expect_ok(r);
  json j = load_json(at("C.json"));
  std::map<std::string, json> by_impl_dtype;
  for (const auto& c : j["opbench"]["cases"]) {
    by_impl_dtype[c["impl"].get<std::string>() + "/" + c["dtype"].get<std::string>()] =
        c["agreement"];
  }
  ASSERT_EQ(by_impl_dtype.count("cpu.plain/bf16"), 1u) << j.dump();
  ASSERT_EQ(by_impl_dtype.count("cpu.fast/bf16"), 1u) << j.dump();
  const json& plain = by_impl_dtype["cpu.plain/bf16"];
  const json& fast = by_impl_dtype["cpu.fast/bf16"];
  EXPECT_FALSE(plain.contains("plain_max_abs_err")) << plain.dump();
  ASSERT_TRUE(fast.contains("plain_max_abs_err")) << fast.dump();
  EXPECT_EQ(fast["plain_max_abs_err"], plain["max_abs_err"]);
  const double plain_err = plain["max_abs_err"].get<double>();
  ASSERT_GT(plain_err, 0) << "bf16 rounding of 99 outputs leaves some error";
  EXPECT_DOUBLE_EQ(fast.at("err_vs_plain").get<double>(),
                   fast["max_abs_err"].get<double>() / plain_err);
  for (const char* f32 : {"cpu.plain/f32", "cpu.fast/f32"}) {
    EXPECT_FALSE(by_impl_dtype[f32].contains("plain_max_abs_err")) << f32;
  }
}

TEST_F(Cli, CheckJsonReportIsUntimedAndCarriesAgreement) {
  Outcome r = opbench(
      {"check", "--op", "rmsnorm,dyt", "--axis", "rows=3", "--axis", "cols=5", "--json", "C.json"});
  expect_ok(r);
  json j = load_json(at("C.json"));
  ASSERT_TRUE(j.contains("opbench")) << j.dump();
  const json& o = j["opbench"];
  EXPECT_EQ(o.at("timed"), false);
  ASSERT_TRUE(o.contains("cases"));
  ASSERT_TRUE(o["cases"].is_array());
  EXPECT_EQ(field_values(o["cases"], "op"), (std::set<std::string>{"rmsnorm", "dyt"}));
  int checked = 0;
  for (const auto& c : o["cases"]) {
    SCOPED_TRACE(c.dump());
    ASSERT_TRUE(c.contains("agreement"));
    EXPECT_EQ(c.at("params").at("rows"), 3);
    EXPECT_EQ(c.at("params").at("cols"), 5);
    if (c.at("impl") == "ref") continue;
    // A backend with no device here (CUDA built, no GPU) is listed as skipped with its reason.
    if (c.value("error", "").rfind("skipped: ", 0) == 0) continue;
    EXPECT_EQ(c["agreement"].at("checked"), true);
    EXPECT_EQ(c["agreement"].at("status"), "pass");
    EXPECT_EQ(c["agreement"].at("elements"), 15);
    ++checked;
  }
  EXPECT_GE(checked, 4) << "cpu.plain and cpu.fast of two ops";
}

// ---------------------------------------------------------------------------------------------
// Filters and axes

TEST_F(Cli, RepeatedOpOptionsSelectBoth) {
  Outcome r = opbench({"check", "--op", "layernorm", "--op", "rmsnorm", "--axis", "rows=2",
                       "--axis", "cols=4", "--json", "S.json"});
  expect_ok(r);
  json j = load_json(at("S.json"));
  EXPECT_EQ(field_values(j["opbench"]["cases"], "op"),
            (std::set<std::string>{"layernorm", "rmsnorm"}));
}

TEST_F(Cli, CommaListsAndRepeatedImplOptionsCompose) {
  Outcome r =
      opbench({"check", "--op", "layernorm", "--impl", "ref", "--impl", "cpu.plain,cpu.fast",
               "--axis", "rows=2", "--axis", "cols=4", "--json", "S.json"});
  expect_ok(r);
  json j = load_json(at("S.json"));
  EXPECT_EQ(field_values(j["opbench"]["cases"], "impl"),
            (std::set<std::string>{"ref", "cpu.plain", "cpu.fast"}));
}

TEST_F(Cli, BackendFilterSelectsOnlyThatBackend) {
  Outcome r = opbench({"check", "--op", "rmsnorm", "--backend", "cpu", "--axis", "rows=2", "--axis",
                       "cols=4", "--json", "S.json"});
  expect_ok(r);
  json j = load_json(at("S.json"));
  EXPECT_EQ(field_values(j["opbench"]["cases"], "backend"), (std::set<std::string>{"cpu"}));
}

TEST_F(Cli, AxisListGivesOneCasePerValue) {
  Outcome r = opbench({"check", "--op", "rmsnorm", "--impl", "cpu.fast", "--dtype", "f32", "--axis",
                       "rows=2,3", "--axis", "cols=4", "--json", "S.json"});
  expect_ok(r);
  json j = load_json(at("S.json"));
  std::set<int> rows;
  for (const auto& c : j["opbench"]["cases"]) rows.insert(c.at("params").at("rows").get<int>());
  EXPECT_EQ(rows, (std::set<int>{2, 3}));
}

TEST_F(Cli, DistAxisTakesSeveralDistributions) {
  // Our own implementations only: this is about the axis, not about a peer library.
  Outcome r =
      opbench({"check", "--op", "layernorm", "--impl", "ref,cpu.plain,cpu.fast", "--axis", "rows=4",
               "--axis", "cols=8", "--axis", "dist=offset,constant_rows", "--json", "P.json"});
  expect_ok(r);
  json j = load_json(at("P.json"));
  std::set<std::string> dists;
  for (const auto& c : j["opbench"]["cases"]) dists.insert(c.at("params").at("dist"));
  EXPECT_EQ(dists, (std::set<std::string>{"offset", "constant_rows"}));
  for (const auto& c : j["opbench"]["cases"]) {
    if (c.at("impl") != "ref") EXPECT_EQ(c.at("agreement").at("status"), "pass") << c.dump();
  }
}

TEST_F(Cli, ExitCodeIsOneExactlyWhenAnAgreementFailed) {
  // Every implementation of layernorm (oneDNN included, where built) on the large-offset inputs
  // that catch single-pass variances. Whatever the kernels do, the exit code must follow the
  // report: 1 when a checked case failed agreement, 0 otherwise, and the summary must agree.
  Outcome r = opbench({"check", "--op", "layernorm", "--axis", "rows=4", "--axis", "cols=8",
                       "--axis", "dist=offset", "--json", "F.json"});
  EXPECT_TRUE(r.exited) << r;
  json j = load_json(at("F.json"));
  int failed = 0;
  for (const auto& c : j["opbench"]["cases"]) {
    const json& a = c.at("agreement");
    if (a.at("status") == "fail") ++failed;
  }
  EXPECT_EQ(r.code, failed > 0 ? 1 : 0) << failed << " cases failed agreement\n" << r;
  EXPECT_TRUE(contains(r.out, std::to_string(failed) + " failed agreement")) << r;
}

// ---------------------------------------------------------------------------------------------
// --input and --dump

TEST_F(Cli, InputNpyFixesTheAxesAndIsRecorded) {
  opbench::Tensor x(opbench::DType::f32, {5, 7});
  data_.fill(x, "normal", 42);
  const fs::path file = at("x57.npy");
  data_.write_npy(x, file.string());

  Outcome r =
      opbench({"check", "--op", "layernorm", "--input", "x=" + file.string(), "--json", "J.json"});
  expect_ok(r);
  json j = load_json(at("J.json"));
  const json& cases = j["opbench"]["cases"];
  ASSERT_FALSE(cases.empty()) << j.dump();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.dump());
    EXPECT_EQ(c.at("params").at("rows"), 5);
    EXPECT_EQ(c.at("params").at("cols"), 7);
    const bool skipped = c.value("error", "").rfind("skipped: ", 0) == 0;  // no device here
    if (c.at("impl") != "ref" && !skipped) EXPECT_EQ(c.at("agreement").at("status"), "pass");
  }
  const json& datasets = j["opbench"].at("datasets");
  ASSERT_FALSE(datasets.empty());
  int found = 0;
  for (const auto& [key, ds] : datasets.items()) {
    for (const auto& t : ds.at("tensors")) {
      if (t.at("name") != "x") continue;
      ++found;
      EXPECT_EQ(t.at("source"), file.string()) << t.dump();
      EXPECT_EQ(t.at("shape"), json::array({5, 7})) << t.dump();
      EXPECT_EQ(t.at("checksum"), data_.checksum(x)) << "the file's own values\n" << t.dump();
    }
  }
  EXPECT_GE(found, 1) << datasets.dump(1);
}

// numpy has no bfloat16: a float32 file is accepted for a bf16 case asked for with --dtype,
// rounded to bf16, and the report's dataset says it was converted. Without --dtype the file's
// own dtype picks the case's.
TEST_F(Cli, AFloat32InputFeedsABf16CaseRoundedAndSaysSo) {
  opbench::Tensor x(opbench::DType::f32, {3, 16});
  data_.fill(x, "normal", 7);
  const fs::path file = at("x316.npy");
  data_.write_npy(x, file.string());
  opbench::Tensor rounded(opbench::DType::bf16, {3, 16});
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    rounded.data<opbench::bf16_t>()[i] = opbench::to_bf16(x.data<float>()[i]);
  }
  Outcome r = opbench({"check", "--op", "layernorm", "--impl", "cpu.fast", "--dtype", "bf16",
                       "--input", "x=" + file.string(), "--json", "J.json"});
  expect_ok(r);
  json j = load_json(at("J.json"));
  int found = 0;
  for (const auto& [key, ds] : j["opbench"].at("datasets").items()) {
    for (const auto& t : ds.at("tensors")) {
      if (t.at("name") != "x") continue;
      ++found;
      EXPECT_EQ(t.at("dtype"), "bf16") << t.dump();
      EXPECT_EQ(t.value("converted_from", ""), "f32") << t.dump();
      EXPECT_EQ(t.at("checksum"), data_.checksum(rounded)) << "the rounded values ran\n"
                                                           << t.dump();
    }
  }
  EXPECT_GE(found, 1);  // one dataset per `dist` of the other inputs
  for (const auto& c : j["opbench"]["cases"]) {
    if (c.at("impl") == "cpu.fast") EXPECT_EQ(c.at("agreement").at("status"), "pass") << c.dump();
  }
  // The same file without --dtype: a float32 case, read as it is.
  r = opbench({"check", "--op", "layernorm", "--impl", "cpu.fast", "--input", "x=" + file.string(),
               "--json", "K.json"});
  expect_ok(r);
  const json k = load_json(at("K.json"));  // named: a range-for over a temporary's member dangles
  for (const auto& c : k["opbench"]["cases"]) {
    EXPECT_EQ(c.at("dtype"), "f32") << c.dump();
  }
  // A float16 file is not float32: refused for a bf16 case, naming both dtypes.
  opbench::Tensor h(opbench::DType::f16, {3, 16});
  data_.fill(h, "normal", 7);
  data_.write_npy(h, at("h.npy").string());
  expect_usage_error(opbench({"check", "--op", "layernorm", "--dtype", "bf16", "--input",
                              "x=" + at("h.npy").string()}),
                     {"dtype f16", "bf16"});
}

TEST_F(Cli, DumpWritesEveryTensorAndCaseJson) {
  Outcome r = opbench({"check", "--op", "layernorm", "--dtype", "f32", "--axis", "rows=4", "--axis",
                       "cols=8", "--axis", "dist=normal", "--dump", "D"});
  expect_ok(r);
  ASSERT_TRUE(fs::is_directory(at("D"))) << r;
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(at("D"))) {
    if (e.is_directory()) cases.push_back(e.path());
  }
  ASSERT_EQ(cases.size(), 1u) << "one folder per parameter point";
  const fs::path& dir = cases.front();
  for (const char* f :
       {"x.npy", "gamma.npy", "beta.npy", "ref.y.npy", "cpu.fast.y.npy", "case.json"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / f)) << dir / f;
  }
  json cj = load_json(dir / "case.json");
  EXPECT_EQ(cj.value("op", ""), "layernorm") << cj.dump(1);

  // The dumped tensors read back with the shapes of the case.
  opbench::Tensor x = data_.read_npy((dir / "x.npy").string());
  EXPECT_EQ(x.shape(), (opbench::Shape{4, 8}));
  opbench::Tensor gamma = data_.read_npy((dir / "gamma.npy").string());
  EXPECT_EQ(gamma.shape(), (opbench::Shape{8}));
  opbench::Tensor ref = data_.read_npy((dir / "ref.y.npy").string());
  EXPECT_EQ(ref.shape(), (opbench::Shape{4, 8}));
  opbench::Tensor fast = data_.read_npy((dir / "cpu.fast.y.npy").string());
  ASSERT_EQ(fast.shape(), (opbench::Shape{4, 8}));
  ASSERT_EQ(fast.numel(), ref.numel());
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    ASSERT_NEAR(fast.value_as_double(i), ref.value_as_double(i), 1e-4) << "element " << i;
  }
}

// numpy has no bfloat16: bf16 tensors are dumped as float32 (exact), float16 ones as float16, and
// case.json names each tensor's dtype and the file's where they differ.
TEST_F(Cli, DumpWritesBf16AsExactFloat32AndSaysSo) {
  Outcome r =
      opbench({"check", "--op", "layernorm", "--impl", "cpu.fast", "--dtype", "bf16,f16", "--axis",
               "rows=4", "--axis", "cols=8", "--axis", "dist=normal", "--dump", "D"});
  expect_ok(r);
  int folders = 0;
  for (const auto& e : fs::directory_iterator(at("D"))) {
    if (!e.is_directory()) continue;
    ++folders;
    const json cj = load_json(e.path() / "case.json");
    const std::string dtype = cj.value("dtype", "");
    ASSERT_TRUE(dtype == "bf16" || dtype == "f16") << cj.dump(1);
    const opbench::Tensor x = data_.read_npy((e.path() / "x.npy").string());
    const opbench::Tensor y = data_.read_npy((e.path() / "cpu.fast.y.npy").string());
    EXPECT_EQ(x.dtype(), dtype == "bf16" ? opbench::DType::f32 : opbench::DType::f16);
    EXPECT_EQ(y.dtype(), x.dtype());
    for (const json& t : cj.at("inputs")) {
      EXPECT_EQ(t.value("dtype", ""), dtype) << t.dump();
      EXPECT_EQ(t.contains("file_dtype"), dtype == "bf16") << t.dump();
    }
    EXPECT_EQ(cj.at("impls").at(0).at("outputs").at("y").value("dtype", ""), dtype) << cj.dump(1);
    if (dtype == "bf16") {
      // Every value is a bfloat16 one: its lower 16 bits are zero.
      for (std::int64_t i = 0; i < x.numel(); ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, x.data<float>() + i, sizeof bits);
        ASSERT_EQ(bits & 0xFFFFu, 0u) << "element " << i;
      }
    }
  }
  EXPECT_EQ(folders, 2);
}

TEST_F(Cli, DumpMakesOneFolderPerParameterPoint) {
  Outcome r = opbench({"check", "--op", "rmsnorm", "--impl", "cpu.fast", "--dtype", "f32", "--axis",
                       "rows=2,3", "--axis", "cols=4", "--axis", "dist=normal", "--dump", "D"});
  expect_ok(r);
  int folders = 0;
  for (const auto& e : fs::directory_iterator(at("D"))) {
    if (!e.is_directory()) continue;
    ++folders;
    EXPECT_TRUE(fs::is_regular_file(e.path() / "case.json")) << e.path();
    EXPECT_TRUE(fs::is_regular_file(e.path() / "cpu.fast.y.npy")) << e.path();
  }
  EXPECT_EQ(folders, 2);
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2, one line "opbench: error: ...", no crash.

TEST_F(Cli, UnknownCommand) {
  expect_usage_error(opbench({"frob"}), {"frob"});
}

TEST_F(Cli, UnknownOption) {
  expect_usage_error(opbench(cat({"run", "--frobnicate"}, kTiny)), {"--frobnicate"});
  expect_usage_error(opbench(cat({"check", "--frobnicate"}, kTiny)), {"--frobnicate"});
  expect_usage_error(opbench({"list", "--frobnicate"}), {"--frobnicate"});
}

TEST_F(Cli, UnknownSuiteListsKnownSuites) {
  expect_usage_error(opbench({"check", "--suite", "nosuch"}), {"nosuch", "norm"});
}

TEST_F(Cli, UnknownOpListsKnownOps) {
  expect_usage_error(opbench({"check", "--op", "nosuchop"}), {"nosuchop", "layernorm"});
  expect_usage_error(opbench({"list", "--op", "nosuchop"}), {"nosuchop", "layernorm"});
}

TEST_F(Cli, UnknownImplListsKnownImpls) {
  expect_usage_error(opbench(cat({"check", "--impl", "cpu.nosuch"}, kTiny)),
                     {"cpu.nosuch", "cpu.fast"});
}

TEST_F(Cli, UnknownBackendListsKnownBackends) {
  expect_usage_error(opbench(cat({"check", "--backend", "tpu"}, kTiny)), {"tpu", "cpu"});
}

TEST_F(Cli, UnknownDtypeListsKnownDtypes) {
  expect_usage_error(opbench(cat({"check", "--dtype", "f8"}, kTiny)), {"f8", "f32"});
}

TEST_F(Cli, UnknownAxisListsKnownAxes) {
  expect_usage_error(opbench(cat({"check", "--axis", "depth=3"}, kTiny)), {"depth", "rows"});
}

TEST_F(Cli, MalformedAxisValue) {
  expect_usage_error(
      opbench({"check", "--op", "layernorm", "--axis", "rows=abc", "--axis", "cols=8"}),
      {"rows", "abc"});
}

TEST_F(Cli, ZeroAxisValue) {
  expect_usage_error(
      opbench({"check", "--op", "layernorm", "--axis", "rows=0", "--axis", "cols=8"}),
      {"rows", "0"});
}

TEST_F(Cli, NegativeAxisValue) {
  expect_usage_error(
      opbench({"check", "--op", "layernorm", "--axis", "rows=-4", "--axis", "cols=8"}),
      {"rows", "-4"});
}

TEST_F(Cli, OverflowingAxisValue) {
  expect_usage_error(opbench({"check", "--op", "layernorm", "--axis", "rows=99999999999999999999",
                              "--axis", "cols=8"}),
                     {"rows", "99999999999999999999", "overflow"});
}

TEST_F(Cli, AxisWithoutEquals) {
  expect_usage_error(opbench({"check", "--op", "layernorm", "--axis", "rows"}),
                     {"--axis", "rows", "NAME=VALUE"});
}

TEST_F(Cli, ShapeBeyondMemoryIsRefusedBeforeAllocating) {
  // --dump shows whether any case's data was made: a case folder appears as soon as one is.
  Outcome r = opbench({"check", "--op", "layernorm", "--axis", "rows=1000000000", "--axis",
                       "cols=1000000", "--dump", "D"});
  expect_usage_error(r, {"memory"});
  EXPECT_TRUE(!fs::exists(at("D")) || fs::is_empty(at("D"))) << "refused before any case ran";
  // Same through run, with a report path: refused, no report.
  Outcome run = opbench({"run", "--op", "layernorm", "--axis", "rows=1000000000", "--axis",
                         "cols=1000000", "--json", "R.json"});
  expect_usage_error(run, {"memory"});
  EXPECT_FALSE(fs::exists(at("R.json")));
}

TEST_F(Cli, ElementCountOverflowing64Bits) {
  expect_usage_error(opbench({"check", "--op", "layernorm", "--axis", "rows=4294967296", "--axis",
                              "cols=4294967296"}),
                     {"overflow"});
  expect_usage_error(opbench({"check", "--op", "layernorm", "--axis", "rows=9223372036854775807",
                              "--axis", "cols=4"}),
                     {"overflow"});
}

TEST_F(Cli, InputMissingFile) {
  const std::string missing = at("missing.npy").string();
  expect_usage_error(opbench({"check", "--op", "layernorm", "--input", "x=" + missing}),
                     {"missing.npy"});
}

TEST_F(Cli, InputTruncatedNpy) {
  fs::path file = write_npy("full.npy", {5, 7});
  std::string bytes = read_text(file);
  ASSERT_GT(bytes.size(), 40u);
  write_text(at("cut.npy"), bytes.substr(0, bytes.size() - 20));
  expect_usage_error(
      opbench({"check", "--op", "layernorm", "--input", "x=" + at("cut.npy").string()}),
      {"cut.npy", "truncated"});
  // Cut inside the header as well.
  write_text(at("stub.npy"), bytes.substr(0, 12));
  expect_usage_error(
      opbench({"check", "--op", "layernorm", "--input", "x=" + at("stub.npy").string()}),
      {"stub.npy"});
}

TEST_F(Cli, InputWrongDtype) {
  fs::path file = write_npy("x64.npy", {5, 7}, opbench::DType::f64);
  expect_usage_error(opbench({"check", "--op", "layernorm", "--input", "x=" + file.string()}),
                     {"x64.npy", "f64", "f32"});
}

TEST_F(Cli, InputWrongRank) {
  fs::path file = write_npy("x3.npy", {2, 5, 7});
  expect_usage_error(opbench({"check", "--op", "layernorm", "--input", "x=" + file.string()}),
                     {"x3.npy", "rank"});
}

TEST_F(Cli, InputNameNoSelectedOpHas) {
  fs::path file = write_npy("w.npy", {5, 7});
  expect_usage_error(opbench({"check", "--op", "layernorm", "--input", "w=" + file.string()}),
                     {"'w'", "x"});
}

TEST_F(Cli, InputContradictingAxis) {
  fs::path file = write_npy("x.npy", {5, 7});
  expect_usage_error(
      opbench({"check", "--op", "layernorm", "--input", "x=" + file.string(), "--axis", "rows=6"}),
      {"rows", "x.npy"});
}

TEST_F(Cli, UnknownDistribution) {
  expect_usage_error(opbench(cat({"check"}, cat(kTiny, {"--axis", "dist=cauchy"}))),
                     {"cauchy", "normal"});
}

TEST_F(Cli, UnwritableReportPathFailsBeforeRunningAnything) {
  // The whole norm suite at its quick sweep would take many seconds; the path is refused first.
  // --dump shows whether any case's data was made: a case folder appears as soon as one is.
  Outcome r =
      opbench({"run", "--suite", "norm", "--json", "/nonexistent_dir/r.json", "--dump", "D"});
  expect_usage_error(r, {"/nonexistent_dir"});
  EXPECT_TRUE(!fs::exists(at("D")) || fs::is_empty(at("D")))
      << "the report path must be checked before any case runs\n"
      << r;
  Outcome c = opbench(cat({"check", "--json", "/nonexistent_dir/c.json"}, kTiny));
  expect_usage_error(c, {"/nonexistent_dir"});
  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Cli, BenchmarkOutIsRefusedInFavourOfJson) {
  Outcome r = opbench(cat({"run", "--benchmark_out=x"}, kTiny));
  expect_usage_error(r, {"--json"});
  EXPECT_FALSE(fs::exists(at("x")));
  EXPECT_FALSE(fs::exists(at("opbench-report.json")));
}

TEST_F(Cli, QuickAndFullTogether) {
  expect_usage_error(opbench(cat({"run", "--quick", "--full"}, kTiny)), {"--quick", "--full"});
  expect_usage_error(opbench(cat({"check", "--quick", "--full"}, kTiny)), {"--quick", "--full"});
}

TEST_F(Cli, BadNumericOptions) {
  expect_usage_error(opbench(cat({"run", "--threads", "abc"}, kTiny)), {"--threads"});
  expect_usage_error(opbench(cat({"run", "--threads", "-1"}, kTiny)), {"--threads"});
  expect_usage_error(opbench(cat({"run", "--min-time", "-1"}, kTiny)), {"--min-time"});
  expect_usage_error(opbench(cat({"run", "--repetitions", "-2"}, kTiny)), {"--repetitions"});
}

TEST_F(Cli, EmptySelection) {
  // Known names that match nothing together: rmsnorm has no openblas implementation (openblas,
  // a required dependency, is known in every build; a peer like onednn may not be).
  expect_usage_error(
      opbench({"check", "--op", "rmsnorm", "--impl", "openblas", "--axis", "rows=2"}), {"--impl"});
}

// ---------------------------------------------------------------------------------------------
// Reports are never lost or left half-written.

TEST_F(Cli, BadInputKeepsTheEarlierReport) {
  write_text(at("R.json"), "OLD");
  Outcome r = opbench(
      {"run", "--op", "layernorm", "--axis", "rows=abc", "--axis", "cols=8", "--json", "R.json"});
  expect_usage_error(r, {"rows", "abc"});
  EXPECT_EQ(read_text(at("R.json")), "OLD");
  EXPECT_EQ(work_entries(), (std::vector<std::string>{"R.json"}));

  Outcome c = opbench({"check", "--op", "nosuchop", "--json", "R.json"});
  expect_usage_error(c, {"nosuchop"});
  EXPECT_EQ(read_text(at("R.json")), "OLD");
}

TEST_F(Cli, BadInputWritesNoDefaultReport) {
  Outcome r = opbench({"run", "--op", "layernorm", "--axis", "rows=0"});
  expect_usage_error(r, {"rows"});
  EXPECT_TRUE(work_entries().empty()) << "nothing written for a refused run";
}

TEST_F(Cli, SuccessfulRunReplacesReportAndLeavesNoTempFiles) {
  write_text(at("R.json"), "OLD");
  Outcome r = opbench({"run", "--op", "layernorm", "--impl", "ref,cpu.fast", "--axis", "rows=8",
                       "--axis", "cols=64", "--min-time", "0.01", "--json", "R.json"});
  expect_ok(r);
  json j = load_json(at("R.json"));
  EXPECT_TRUE(j.contains("benchmarks"));
  EXPECT_EQ(work_entries(), (std::vector<std::string>{"R.json"}))
      << "no R.json.tmp* or other files left";
}

}  // namespace
