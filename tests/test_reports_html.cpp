// Tests of the HTML page (reports/html_report and its parts: html_model, html_headline,
// html_runs, html_tables, html_figures, html_markup, html_charts, the embedded reports/html/
// assets): a sink over the shared model, so the same time, agreement and log as the console
// summary; the first screen against a baseline; tables, charts and trends over several runs;
// escaping and self-containment; then headless Chromium renders (skipped without chromium).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "harness/results.hpp"
#include "reports/console_summary.hpp"
#include "reports/html_assets.hpp"
#include "reports/html_report.hpp"
#include "reports/json_report.hpp"
#include "reports/json_writer.hpp"
#include "tests/report_fixtures.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
namespace rep = opbench::reports;

namespace {

// ---------------------------------------------------------------------------------------------
// A typed run, written to JSON by the writer: the cases of tests/test_reports.cpp's make_run.

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

// The reference (not timed), cpu.plain (one repetition, 800 us), cpu.fast (190, 200, 230 us),
// cuda.fast failing agreement (2 us), and an rmsnorm kernel that threw.
opbench::RunResult make_run() {
  opbench::RunResult run;
  run.context = {{"date", "2026-11-23T01:05:43+00:00"},
                 {"host_name", "vm"},
                 {"executable", "./opbench"},
                 {"num_cpus", 2},
                 {"mhz_per_cpu", 2096},
                 {"cpu_scaling_enabled", false},
                 {"library_build_type", "release"}};

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

std::string html_of(const opbench::RunResult& run, const std::string& source = "run.json") {
  return rep::render_html({rep::build_report(run)}, {source});
}

std::string console_of(const json& report) {
  std::ostringstream out;
  rep::print_summary(report, out, false);
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// A history of hand-made reports.

const std::string kPoints[] = {"rows:64/cols:4096/dist:normal", "rows:1024/cols:4096/dist:normal"};

struct Kernel {
  std::string impl;
  double us;  // at the first point; the second is 16x the work
};

// A timed report of layernorm and rmsnorm (schema 1, as an older opbench wrote it, the reference
// timed): ref, cpu.plain, cpu.fast at two points, 5 repetitions each with a small seeded spread,
// the ceilings of a 2-CPU machine.
json make_report(const std::string& date, double fast_factor, const std::string& cpu = "AMD EPYC",
                 const std::string& commit = "0123456789abcdef0123", int repetitions = 5) {
  std::vector<Kernel> kernels = {{"ref", 900}, {"cpu.plain", 400}, {"cpu.fast", 45}};
  json benchmarks = json::array(), cases = json::array();
  unsigned seed = 1;
  for (const char* op : {"layernorm", "rmsnorm"}) {
    for (int p = 0; p < 2; ++p) {
      double rows = p == 0 ? 64 : 1024;
      double bytes = 2 * rows * 4096 * 4 + 2 * 4096 * 4, flops = 8 * rows * 4096;
      for (const Kernel& k : kernels) {
        std::string name = std::string("norm/") + op + "/" + k.impl + "/f32/" + kPoints[p];
        json fields = {
            {"suite", "norm"},
            {"op", op},
            {"impl", k.impl},
            {"backend", k.impl == "ref" ? "ref" : "cpu"},
            {"dtype", "f32"},
            {"params", {{"rows", static_cast<int>(rows)}, {"cols", 4096}, {"dist", "normal"}}},
            {"dataset", std::string("norm/") + op + "/f32/" + kPoints[p]},
            {"cost", {{"flops", flops}, {"bytes", bytes}}},
            {"agreement",
             {{"checked", k.impl != "ref"},
              {"passed", k.impl != "ref"},
              {"max_abs_err", 1e-7},
              {"max_rel_err", 1e-7},
              {"rel_l2_err", 1e-8},
              {"mismatches", 0},
              {"elements", rows * 4096},
              {"first_mismatch", ""}}},
            {"is_reference", k.impl == "ref"}};
        json c = fields;
        c["name"] = name;
        cases.push_back(c);
        double us = k.us * (p == 0 ? 1 : 16) * (k.impl == "cpu.fast" ? fast_factor : 1);
        for (int r = 0; r < repetitions; ++r) {
          json e = fields;
          e["name"] = e["run_name"] = name + "/real_time";
          e["run_type"] = "iteration";
          e["repetitions"] = repetitions;
          e["repetition_index"] = r;
          e["iterations"] = 100;
          seed = seed * 1103515245u + 12345u;
          e["real_time"] = us * (1 + ((seed >> 16) % 200) / 10000.0);  // +0..2%
          e["cpu_time"] = us;
          e["time_unit"] = "us";
          double s = e["real_time"].get<double>() * 1e-6;
          e["gbps"] = bytes / s / 1e9;
          e["gflops"] = flops / s / 1e9;
          e["ceiling_fraction"] = bytes / s / 1e9 / 70;
          benchmarks.push_back(e);
        }
      }
    }
  }
  // This run's ceilings: a small and a large copy, and an SGEMM.
  const json ceilings = json::array({{{"backend", "cpu"},
                                      {"kind", "copy"},
                                      {"bytes", 2129920.0},
                                      {"flops", nullptr},
                                      {"seconds", 2129920.0 / 70e9},
                                      {"gbps", 70.0},
                                      {"gflops", nullptr}},
                                     {{"backend", "cpu"},
                                      {"kind", "copy"},
                                      {"bytes", 33587200.0},
                                      {"flops", nullptr},
                                      {"seconds", 33587200.0 / 20e9},
                                      {"gbps", 20.0},
                                      {"gflops", nullptr}},
                                     {{"backend", "cpu"},
                                      {"kind", "sgemm"},
                                      {"bytes", nullptr},
                                      {"flops", 2147483648.0},
                                      {"seconds", 2147483648.0 / 100e9},
                                      {"gbps", nullptr},
                                      {"gflops", 100.0}}});
  return {
      {"context", {{"date", date}, {"host_name", "vm"}, {"num_cpus", 2}, {"mhz_per_cpu", 2096}}},
      {"benchmarks", benchmarks},
      {"opbench", report_fixtures::opbench_block(commit, cpu, "opbench run --repetitions 5",
                                                 ceilings, cases)}};
}

// A week of nightly runs on one machine, cpu.fast 1.5x slower on the last night; the baseline is
// the night before.
struct History {
  std::vector<json> docs;
  std::vector<std::string> names;
};

History week() {
  History h;
  for (int day = 1; day <= 7; ++day) {
    char date[64], name[64];
    std::snprintf(date, sizeof date, "2026-12-%02dT02:30:00+00:00", day);
    std::snprintf(name, sizeof name, "2026-12-%02d_023000_vm-amd-epyc-2cpu_0123456789ab.json", day);
    h.docs.push_back(make_report(date, day == 7 ? 1.5 : 1.0 + 0.01 * day));
    h.names.push_back(name);
  }
  return h;
}

std::string render_week(bool latest_only = true) {
  History h = week();
  rep::HtmlOptions options;
  options.latest_only = latest_only;
  options.baseline = 5;  // night 6
  return rep::render_html(h.docs, h.names, options);
}

// ---------------------------------------------------------------------------------------------
// Reading the page.

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The part of the page from the heading of `op` to the end of its section.
std::string op_section(const std::string& html, const std::string& op) {
  std::size_t at = html.find("</span> " + op + "</h2>");
  if (at == std::string::npos) return "";
  std::size_t end = html.find("</section>", at);
  return html.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// The section with id `id`, from its opening tag (any class) to its end.
std::string section(const std::string& html, const std::string& id) {
  std::size_t at = html.find("<section id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</section>", at) - at);
}

// The first table row of the case `name` in `html` ("" when none).
std::string case_row(const std::string& html, const std::string& name) {
  std::size_t at = html.find("data-case=\"" + rep::html_escape(name) + "\">");
  if (at == std::string::npos) return "";
  at = html.rfind("<tr", at);
  return html.substr(at, html.find("</tr>", at) - at);
}

struct PageCell {
  std::string cls;    // its class attribute
  std::string value;  // data-v, "" when none
  std::string text;   // the content without tags
};

// The cells of a row of the page.
std::vector<PageCell> cells_of(const std::string& row) {
  std::vector<PageCell> cells;
  for (std::size_t at = row.find("<td"); at != std::string::npos; at = row.find("<td", at + 1)) {
    std::size_t open_end = row.find('>', at);
    std::string open = row.substr(at, open_end - at);
    PageCell cell;
    if (std::size_t k = open.find("class=\""); k != std::string::npos) {
      cell.cls = open.substr(k + 7, open.find('"', k + 7) - k - 7);
    }
    if (std::size_t v = open.find("data-v=\""); v != std::string::npos) {
      cell.value = open.substr(v + 8, open.find('"', v + 8) - v - 8);
    }
    std::string inner = row.substr(open_end + 1, row.find("</td>", open_end) - open_end - 1);
    bool in_tag = false;
    for (char ch : inner) {
      if (ch == '<') in_tag = true;
      if (!in_tag) cell.text += ch;
      if (ch == '>') in_tag = false;
    }
    cells.push_back(cell);
  }
  return cells;
}

// The cells of the console summary's row of `impl` in the table of `op` ("norm/layernorm").
std::vector<std::string> console_cells(const std::string& console, const std::string& op,
                                       const std::string& impl) {
  std::size_t at = console.find("## " + op + "\n");
  if (at == std::string::npos) return {};
  std::size_t end = console.find("\n\n", console.find("| impl ", at));
  std::istringstream lines(console.substr(at, end - at));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("| " + impl + " ", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream parts(line.substr(1));
    std::string part;
    while (std::getline(parts, part, '|')) {
      std::size_t b = part.find_first_not_of(' '), e = part.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : part.substr(b, e - b + 1));
    }
    return cells;
  }
  return {};
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Files and commands.

// A fresh folder under the system's temp folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "opbench_test_html.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

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

int run_command(const std::string& cmd, std::string* output = nullptr) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// chromium on PATH, or "" (the rendering tests skip then).
std::string chromium_binary() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    if (run_command(std::string("command -v ") + name + " >/dev/null") == 0) return name;
  }
  return "";
}

std::string chromium_command(const std::string& binary, const TempDir& dir) {
  return "timeout 120 " + binary +
         " --headless --no-sandbox --disable-gpu --disable-background-networking"
         " --disable-component-update --disable-sync --no-first-run --user-data-dir=" +
         dir.file("profile");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// One run: header, summary, ceilings, a table per op.

TEST(HtmlReport, HasTheHeaderSummaryCeilingsAndOneTablePerOp) {
  std::string html = html_of(make_run());
  SCOPED_TRACE(html);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("</html>\n"), std::string::npos);
  // The run's card: tool, version, commit with its dirty flag, date, machine, devices, threads,
  // build.
  EXPECT_NE(html.find("opbench 0.1.0"), std::string::npos);
  EXPECT_NE(html.find("0123456789ab"), std::string::npos);
  EXPECT_NE(html.find(">dirty<"), std::string::npos);
  EXPECT_NE(html.find("2026-11-23T01:05:43+00:00"), std::string::npos);
  EXPECT_NE(html.find("vm, 2 CPUs"), std::string::npos);
  EXPECT_NE(html.find("cpu: AMD EPYC 7B13"), std::string::npos);
  EXPECT_NE(html.find("cuda:0: NVIDIA H100 80GB HBM3"), std::string::npos);
  EXPECT_NE(html.find("<dt>threads</dt><dd>2</dd>"), std::string::npos);
  EXPECT_NE(html.find("-O3 -DNDEBUG -march=native -fopenmp"), std::string::npos);
  EXPECT_NE(html.find("GNU 12.2.0"), std::string::npos);
  // Summary: the counts (as the console's counts line), then the log: failures and errors one by
  // one.
  EXPECT_NE(html.find("<div class=\"n\">5</div><div class=\"l\">cases</div>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">2</div><div class=\"l\">passed</div>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">failed agreement</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">0</div><div class=\"l\">known failures (xfail)</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">errors</div>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">0</div><div class=\"l\">skipped</div>"), std::string::npos);
  EXPECT_NE(html.find("1 reference case (the float64 reference, not checked against itself)"),
            std::string::npos);
  const std::string summary = section(html, "summary");
  EXPECT_NE(summary.find("<li>" + kCuda +
                         ": agreement FAIL: first mismatch y[3, 17]: got 1.5, "
                         "want 1.25</li>"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("<li>" + kBroken + ": error: kernel threw: boom</li>"), std::string::npos);
  // The page opens with the summary when no baseline is given.
  EXPECT_EQ(html.find("<section id=\"regressions\""), std::string::npos);
  EXPECT_NE(html.find("<main>\n<section id=\"summary\">"), std::string::npos);
  // Ceilings: backend, kind, size, rate.
  std::size_t ceilings = html.find("<section id=\"ceilings\">");
  ASSERT_NE(ceilings, std::string::npos);
  for (const char* s : {">copy<", ">sgemm<", ">2.03 MiB<", ">21.30<", ">107.4<", ">45813<"}) {
    EXPECT_NE(html.find(s, ceilings), std::string::npos) << s;
  }
  // One section per op, every implementation named in it.
  std::string layernorm = op_section(html, "layernorm");
  std::string rmsnorm = op_section(html, "rmsnorm");
  ASSERT_NE(layernorm, "");
  ASSERT_NE(rmsnorm, "");
  for (const char* impl : {"ref", "cpu.plain", "cpu.fast", "cuda.fast"}) {
    EXPECT_NE(layernorm.find(std::string("<td class=\"impl\">") + impl + "</td>"),
              std::string::npos)
        << impl;
  }
  EXPECT_NE(rmsnorm.find("<td class=\"impl\">cpu.fast</td>"), std::string::npos);
  EXPECT_NE(layernorm.find("rows=64 cols=4096 dist=normal"), std::string::npos);
  // The reference comes first within its point.
  EXPECT_LT(layernorm.find(">ref<"), layernorm.find(">cpu.plain<"));
}

TEST(HtmlReport, TimedTableShowsMedianTimeNoiseRatesCeilingBarsSpeedupsAndErr) {
  std::string layernorm = op_section(html_of(make_run()), "layernorm");
  SCOPED_TRACE(layernorm);
  for (const char* col : {">impl<", ">dtype<", ">params<", ">time<", ">noise<", ">GB/s<",
                          ">GFLOP/s<", ">ceiling<", ">vs cpu.plain<", ">err<", ">agreement<"}) {
    EXPECT_NE(layernorm.find(col), std::string::npos) << col;
  }
  EXPECT_EQ(layernorm.find(">max_rel<"), std::string::npos);  // err, the headline error, instead
  EXPECT_EQ(layernorm.find("vs ref"), std::string::npos);     // no speedup over the reference
  const std::vector<PageCell> fast = cells_of(case_row(layernorm, kFast));
  ASSERT_EQ(fast.size(), 11u);
  EXPECT_EQ(fast[3].text, "200.0 µs");  // the median
  EXPECT_EQ(fast[3].value, "0.0002");
  EXPECT_EQ(fast[4].text, "10.07%");  // its cv
  EXPECT_EQ(fast[5].text, "10.65");   // its GB/s
  EXPECT_EQ(fast[7].value, "0.5");    // its ceiling fraction
  EXPECT_NE(fast[7].text.find("50.0%"), std::string::npos);
  EXPECT_EQ(fast[8].text, "4.00x");  // 800 us / 200 us
  EXPECT_EQ(fast[9].text, "0.25");   // err: a quarter of the allowed error
  EXPECT_EQ(fast[10].text, "ok");
  // The reference is not timed, and never a speedup.
  const std::vector<PageCell> ref = cells_of(case_row(layernorm, kRef));
  ASSERT_EQ(ref.size(), 11u);
  EXPECT_EQ(ref[3].text, "-");
  EXPECT_EQ(ref[3].value, "");
  EXPECT_EQ(ref[8].text, "-");
  EXPECT_EQ(ref[10].text, "ref");
  // One inline-SVG bar per row, its fill proportional to the fraction (50 of 100 px).
  EXPECT_EQ(count_of(layernorm, "<svg class=\"bar\""), 4u);
  EXPECT_NE(layernorm.find("class=\"fill\" x=\"0\" y=\"0\" width=\"50.00\""), std::string::npos);
  // The failing row is highlighted and its agreement reads as in the console, with its err.
  EXPECT_EQ(count_of(layernorm, "<tr class=\"fail\""), 1u);
  const std::string cuda = case_row(layernorm, kCuda);
  EXPECT_EQ(cuda.rfind("<tr class=\"fail\"", 0), 0u) << cuda;
  EXPECT_NE(cuda.find("<span class=\"badge bad\">FAIL 3/262144, worst 2.5x allowed</span>"),
            std::string::npos);
  EXPECT_NE(cuda.find("first mismatch: y[3, 17]: got 1.5, want 1.25"), std::string::npos);
  EXPECT_NE(cuda.find("<td class=\"num warn\" data-v=\"2.5\">2.5</td>"), std::string::npos);
  EXPECT_NE(cuda.find(">400.00x<"), std::string::npos);  // 800 us / 2 us
  // An errored case: its row is marked and says why.
  std::string rmsnorm = op_section(html_of(make_run()), "rmsnorm");
  EXPECT_NE(rmsnorm.find("<tr class=\"error\""), std::string::npos);
  EXPECT_NE(rmsnorm.find(">ERROR</span> kernel threw: boom"), std::string::npos);
}

TEST(HtmlReport, TablesAreSortableByClickingAHeader) {
  std::string html = html_of(make_run());
  EXPECT_EQ(count_of(html, "<table class=\"sortable"), count_of(html, "<table"));
  EXPECT_NE(html.find("<th class=\"num\" data-type=\"num\""), std::string::npos);
  EXPECT_NE(html.find("addEventListener(\"click\""), std::string::npos);
  EXPECT_NE(html.find("getAttribute(\"data-v\")"), std::string::npos);
}

TEST(HtmlReport, IsSelfContained) {
  for (const std::string& html :
       {html_of(make_run()), html_of(make_check_run()),
        rep::render_html({rep::build_report(make_run()), rep::build_report(make_check_run())},
                         {"a.json", "b.json"})}) {
    std::string s = lower(html);
    EXPECT_EQ(s.find("http://"), std::string::npos);
    EXPECT_EQ(s.find("https://"), std::string::npos);
    EXPECT_EQ(s.find("<script src"), std::string::npos);
    EXPECT_EQ(s.find("<link"), std::string::npos);
    EXPECT_EQ(s.find("<img"), std::string::npos);
    EXPECT_EQ(s.find("<iframe"), std::string::npos);
    EXPECT_EQ(s.find("@import"), std::string::npos);
    EXPECT_EQ(s.find("url("), std::string::npos);
    EXPECT_EQ(s.find(" src="), std::string::npos);
    EXPECT_EQ(count_of(s, "<style>"), 1u);
    EXPECT_EQ(count_of(s, "<script>"), 1u);
  }
}

TEST(HtmlReport, EscapesEveryStringFromTheReport) {
  opbench::RunResult run = make_run();
  run.cases[4].error = "kernel threw: <script>alert('x')</script> & \"more\"";
  run.cases[3].agreement.first_mismatch = "y[0] <b>bold</b>";
  run.cases[3].name = kCuda + "<i>";
  run.devices.push_back("cpu: <img onerror=x>");
  run.command_line = "opbench run --op '<layernorm>'";
  std::string html = html_of(run, "dir/<evil>.json");
  SCOPED_TRACE(html);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("kernel threw: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                      "&quot;more&quot;"),
            std::string::npos);
  EXPECT_EQ(html.find("<b>bold"), std::string::npos);
  EXPECT_NE(html.find("y[0] &lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);  // in the log and a data-case attribute
  EXPECT_NE(html.find("data-case=\"" + kCuda + "&lt;i&gt;\""), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("cpu: &lt;img onerror=x&gt;"), std::string::npos);
  EXPECT_NE(html.find("&#39;&lt;layernorm&gt;&#39;"), std::string::npos);
  EXPECT_NE(html.find("&lt;evil&gt;.json"), std::string::npos);
  EXPECT_EQ(html.find("<evil>"), std::string::npos);
  EXPECT_EQ(count_of(html, "<script>"), 1u);  // only the page's own
}

TEST(HtmlReport, HtmlEscapeReplacesMarkupInvalidUtf8AndControlCharacters) {
  EXPECT_EQ(rep::html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(rep::html_escape("µs ✓ 𝑥"), "µs ✓ 𝑥");  // valid UTF-8 is kept
  EXPECT_EQ(rep::html_escape("a\xff"
                             "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(rep::html_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(rep::html_escape("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
  EXPECT_EQ(rep::html_escape(std::string("x\0y\x1b", 4)), "x\xEF\xBF\xBDy\xEF\xBF\xBD");
  EXPECT_EQ(rep::html_escape("a\tb\nc"), "a\tb\nc");
}

TEST(HtmlReport, CheckOnlyReportRendersItsAgreementTable) {
  std::string html = html_of(make_check_run(), "check.json");
  SCOPED_TRACE(html);
  EXPECT_NE(html.find("check (agreement only)"), std::string::npos);
  EXPECT_NE(html.find("No ceilings were measured"), std::string::npos);
  std::string layernorm = op_section(html, "layernorm");
  ASSERT_NE(layernorm, "");
  EXPECT_NE(layernorm.find("<table class=\"sortable check\">"), std::string::npos);
  for (const char* col :
       {">elements<", ">err<", ">max_abs<", ">max_rel<", ">rel_l2<", ">agreement<"}) {
    EXPECT_NE(layernorm.find(col), std::string::npos) << col;
  }
  // No timing columns anywhere.
  for (const char* col : {">time<", ">GB/s<", "vs ref", "vs cpu.plain", "<svg"}) {
    EXPECT_EQ(html.find(col), std::string::npos) << col;
  }
  for (const char* impl : {"ref", "cpu.plain", "cpu.fast", "cuda.fast"}) {
    EXPECT_NE(layernorm.find(std::string("<td class=\"impl\">") + impl + "</td>"),
              std::string::npos)
        << impl;
  }
  const std::vector<PageCell> fast = cells_of(case_row(layernorm, kFast));
  ASSERT_EQ(fast.size(), 9u);
  EXPECT_EQ(fast[3].text, "262144");
  EXPECT_EQ(fast[4].text, "0.25");
  EXPECT_EQ(fast[5].text, "2.5e-07");
  EXPECT_NE(layernorm.find(">FAIL 3/262144, worst 2.5x allowed</span>"), std::string::npos);
  EXPECT_NE(layernorm.find("<tr class=\"fail\""), std::string::npos);
  EXPECT_NE(op_section(html, "rmsnorm").find("kernel threw: boom"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">failed agreement</div>"),
            std::string::npos);
}

TEST(HtmlReport, SkippedCasesAreCountedAndSayWhyOnce) {
  opbench::RunResult run = make_run();
  run.cases[3].error = "skipped: CUDA driver version is insufficient";
  run.cases[3].agreement = opbench::Agreement{};
  run.cases[3].timing = {};
  std::string html = html_of(run);
  SCOPED_TRACE(html);
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">skipped</div>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">0</div><div class=\"l\">failed agreement</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">errors</div>"), std::string::npos);
  EXPECT_NE(
      section(html, "summary")
          .find("<li>1 case skipped: CUDA driver version is insufficient: " + kCuda + "</li>"),
      std::string::npos);
  std::string layernorm = op_section(html, "layernorm");
  EXPECT_NE(layernorm.find("<tr class=\"skipped\""), std::string::npos);
  EXPECT_NE(layernorm.find(">skipped</span> <span class=\"muted\">CUDA driver version is "
                           "insufficient</span>"),
            std::string::npos);
}

TEST(HtmlReport, SeveralReportsGetARunColumn) {
  std::string one = html_of(make_run(), "/tmp/x/nightly.json");
  EXPECT_EQ(one.find(">run</th>"), std::string::npos);

  std::string html =
      rep::render_html({rep::build_report(make_run()), rep::build_report(make_check_run())},
                       {"/tmp/x/nightly.json", "/tmp/y/check.json"});
  SCOPED_TRACE(html);
  std::string layernorm = op_section(html, "layernorm");
  // A timings table for the timed run and an agreement table for the check, both with a run
  // column naming the file.
  EXPECT_EQ(count_of(layernorm, "<th title=\"the report file\">run</th>"), 2u);
  EXPECT_EQ(count_of(layernorm, "<td class=\"runcol\">nightly.json</td>"), 4u);
  EXPECT_EQ(count_of(layernorm, "<td class=\"runcol\">check.json</td>"), 4u);
  EXPECT_NE(layernorm.find(">timings<"), std::string::npos);
  EXPECT_NE(layernorm.find(">agreement check<"), std::string::npos);
  // A card per run, counts summed over both, and each run's log under its name.
  EXPECT_NE(html.find("<h3>nightly.json</h3>"), std::string::npos);
  EXPECT_NE(html.find("<h3>check.json</h3>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">10</div><div class=\"l\">cases</div>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">2</div><div class=\"l\">failed agreement</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<h3>log · nightly.json</h3>"), std::string::npos);
  EXPECT_NE(html.find("<h3>log · check.json</h3>"), std::string::npos);

  // Files of the same name are told apart by their paths.
  std::string same =
      rep::render_html({rep::build_report(make_run()), rep::build_report(make_run())},
                       {"/tmp/a/r.json", "/tmp/b/r.json"});
  EXPECT_NE(same.find("<td class=\"runcol\">/tmp/a/r.json</td>"), std::string::npos);
  EXPECT_NE(same.find("<td class=\"runcol\">/tmp/b/r.json</td>"), std::string::npos);
  // Speedups stay within a run: each run's cpu.fast is 4x its own cpu.plain.
  EXPECT_EQ(count_of(op_section(same, "layernorm"), ">4.00x<"), 2u);
}

TEST(HtmlReport, RendersAReadBackReportAndToleratesPartialDocuments) {
  TempDir dir;
  rep::write_report(dir.file("r.json"), rep::build_report(make_run()));
  EXPECT_EQ(rep::render_html({rep::read_report(dir.file("r.json"))}, {"r.json"}),
            html_of(make_run(), "r.json"));

  // Missing blocks and fields never throw; the page says what it lacks.
  std::string empty = rep::render_html({json::object()}, {});
  EXPECT_NE(empty.find("The reports hold no cases."), std::string::npos);
  EXPECT_NE(empty.find("<h3>run 1</h3>"), std::string::npos);
  EXPECT_NE(rep::render_html({}, {}).find("No reports given."), std::string::npos);
  json odd = rep::build_report(make_run());
  odd["opbench"]["cases"].push_back(42);
  odd["opbench"]["cases"].push_back({{"name", 1}, {"agreement", "?"}});
  odd["opbench"]["ceilings"].push_back({{"kind", 3}});
  odd["opbench"]["devices"] = "not a list";
  odd["context"] = nullptr;
  odd["benchmarks"].push_back({{"run_name", kFast}, {"real_time", "slow"}});
  EXPECT_NO_THROW(rep::render_html({odd}, {"odd.json"}));
  rep::HtmlOptions options;
  options.baseline = 0;
  EXPECT_NE(rep::render_html({odd}, {"odd.json"}, options).find("nothing to compare"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// One model: the page says what the console summary and the JSON say.

TEST(HtmlOneRule, EveryCaseHasTheTimeOfTheConsoleSummaryAndTheJson) {
  opbench::RunResult run = make_run();
  // Even counts of repetitions: the median is the mean of the middle two, where a "lower median",
  // "first repetition" or "fastest" rule would each give another time.
  for (opbench::CaseRecord& c : run.cases) {
    if (c.impl == "cpu.plain") c.timing = timing("real_time", {900e-6, 800e-6});
    if (c.name == kFast) c.timing = timing("real_time", {260e-6, 190e-6, 230e-6, 200e-6});
    if (c.impl == "cuda.fast") c.timing = timing("manual_time", {3e-6, 2e-6, 2.2e-6, 2.6e-6});
    c.rates = opbench::case_rates(c, run.ceilings);
  }
  const json report = rep::build_report(run);
  const std::string console = console_of(report);
  const std::string html = rep::render_html({report}, {"run.json"});
  SCOPED_TRACE(console);
  int timed = 0;
  for (const json& c : report.at("opbench").at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const json& t = c.at("time");
    const double seconds =
        t.is_object() && t.at("seconds").is_number() ? t["seconds"].get<double>() : 0;
    const std::vector<PageCell> page = cells_of(case_row(html, name));
    const std::vector<std::string> text = console_cells(
        console, c.at("suite").get<std::string>() + "/" + c.at("op").get<std::string>(),
        c.at("impl").get<std::string>());
    ASSERT_GT(page.size(), 3u);
    ASSERT_GT(text.size(), 3u);
    if (seconds > 0) {
      ++timed;
      EXPECT_NEAR(std::stod(page[3].value), seconds, 1e-9 * seconds);
      EXPECT_EQ(replace_all(page[3].text, "µs", "us"), text[3]);
    } else {
      EXPECT_EQ(page[3].value, "");
      EXPECT_EQ(page[3].text, "-");
      EXPECT_EQ(text[3], "-");
    }
  }
  EXPECT_EQ(timed, 3);
  // The rule is the median of the repetitions.
  EXPECT_EQ(cells_of(case_row(html, kFast))[3].text, "215.0 µs");
  EXPECT_EQ(cells_of(case_row(html, kPlain))[3].text, "850.0 µs");
  EXPECT_EQ(cells_of(case_row(html, kCuda))[3].text, "2.400 µs");
  // So are the speedups over cpu.plain: 850 / 215 and 850 / 2.4.
  EXPECT_EQ(cells_of(case_row(html, kFast))[8].text, "3.95x");
  EXPECT_EQ(console_cells(console, "norm/layernorm", "cpu.fast")[8], "3.95x");
  EXPECT_EQ(cells_of(case_row(html, kCuda))[8].text, "354.17x");
}

TEST(HtmlAgreement, AKnownFailureShowsItsReasonAndAStaleEntryIsFlagged) {
  opbench::RunResult run = make_run();
  run.cases[3].agreement.status = opbench::AgreementStatus::xfail;
  run.cases[3].agreement.known_failure = "cuda.fast rounds through TF32 (issue 9)";
  run.cases[2].agreement.known_failure = "cpu.fast drifts under offset";  // passes: stale
  const json report = rep::build_report(run);
  const std::string html = rep::render_html({report}, {"run.json"});
  const std::string console = console_of(report);
  SCOPED_TRACE(html);
  // The known failure: its own status, in the warning tone, with the manifest's reason.
  const std::string cuda = case_row(html, kCuda);
  EXPECT_EQ(cuda.rfind("<tr class=\"xfail\"", 0), 0u) << cuda;
  EXPECT_NE(cuda.find("<span class=\"badge warn\">xfail</span>"), std::string::npos) << cuda;
  EXPECT_NE(cuda.find("known failure: cuda.fast rounds through TF32 (issue 9)"), std::string::npos);
  EXPECT_EQ(console_cells(console, "norm/layernorm", "cuda.fast").back(), "xfail");
  // A listed case that passes: flagged, with the entry it passes despite.
  const std::string fast = case_row(html, kFast);
  EXPECT_EQ(fast.rfind("<tr class=\"stale\"", 0), 0u) << fast;
  EXPECT_NE(fast.find("<span class=\"badge warn\">ok (listed as a known failure)</span>"),
            std::string::npos);
  EXPECT_NE(fast.find("passes, yet listed as a known failure (cpu.fast drifts under offset): "
                      "the manifest entry may be stale"),
            std::string::npos);
  EXPECT_EQ(console_cells(console, "norm/layernorm", "cpu.fast").back(),
            "ok (listed as a known failure)");
  // Counted on their own, and said in the log as the console says them.
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">known failures (xfail)</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">0</div><div class=\"l\">failed agreement</div>"),
            std::string::npos);
  EXPECT_NE(html.find("<div class=\"n\">1</div><div class=\"l\">stale known failures</div>"),
            std::string::npos);
  const std::string xfail_line =
      "1 case failed as known (xfail): cuda.fast rounds through TF32 (issue 9): " + kCuda;
  EXPECT_NE(console.find("- " + xfail_line + "\n"), std::string::npos);
  EXPECT_NE(html.find("<li>" + rep::html_escape(xfail_line) + "</li>"), std::string::npos);
  EXPECT_NE(html.find("<li>" + kFast + ": listed as a known failure but passes now"),
            std::string::npos);
}

// A run of many cases, most of them noisy.
TEST(HtmlLog, AWarningThatHoldsForMostCasesIsSaidOnceWithACount) {
  opbench::RunResult run = make_run();
  std::string noisiest;
  std::vector<std::string> names = {kFast};
  for (int i = 0; i < 8; ++i) {
    const std::string name =
        "norm/layernorm/cpu.fast/f32/rows:" + std::to_string(128 << i) + "/cols:4096/dist:normal";
    opbench::CaseRecord c = make_case(name, "layernorm", "cpu.fast", "cpu");
    c.agreement = passed_agreement();
    // Six with a spread of 20 to 70 us over 100 (noise 10% to 30%), two quiet ones.
    const double spread = i < 6 ? (20.0 + 10 * i) * 1e-6 : 0.5e-6;
    c.timing = timing("real_time", {100e-6, 100e-6 + spread, 100e-6, 100e-6 + spread});
    c.rates = opbench::case_rates(c, run.ceilings);
    if (i == 5) noisiest = name;
    names.push_back(name);
    run.cases.push_back(c);
  }
  const json report = rep::build_report(run);
  const std::string html = rep::render_html({report}, {"run.json"});
  const std::string console = console_of(report);
  // cpu.fast's own 10.07% and six of the new cases, of 11 timed (plain, fast, cuda, 8 new).
  const std::string head = "noise over 5% in 7 of 11 timed cases (worst: " + noisiest + " ";
  const std::size_t at = console.find(head);
  ASSERT_NE(at, std::string::npos) << console;
  const std::string line = console.substr(at, console.find('\n', at) - at);
  EXPECT_EQ(count_of(html, "noise over"), 1u) << html;
  EXPECT_NE(html.find("<li>" + rep::html_escape(line) + "</li>"), std::string::npos) << line;
  EXPECT_EQ(html.find("% is over 5%"), std::string::npos);  // never a line per case
  // The table still marks each noisy time.
  int marked = 0;
  for (const std::string& name : names) {
    const std::vector<PageCell> cells = cells_of(case_row(html, name));
    ASSERT_GT(cells.size(), 4u) << name;
    if (cells[4].cls == "num warn") ++marked;
  }
  EXPECT_EQ(marked, 7);
}

// ---------------------------------------------------------------------------------------------
// The first screen against a baseline: did anything regress, and against what?

TEST(HtmlHeadline, OpensWithWhatRegressedAgainstWhichBaseline) {
  const std::string html = render_week();  // night 7 (cpu.fast 1.5x slower) against night 6
  const std::string headline = section(html, "regressions");
  ASSERT_NE(headline, "");
  SCOPED_TRACE(headline);
  // First on the page, before the summary and the runs.
  EXPECT_NE(html.find("<main>\n<section id=\"regressions\">\n<div class=\"headline bad\">"),
            std::string::npos);
  EXPECT_LT(html.find("<section id=\"regressions\""), html.find("<section id=\"summary\">"));
  EXPECT_LT(html.find("<section id=\"summary\">"), html.find("<section id=\"runs\">"));
  EXPECT_NE(headline.find("<p class=\"verdict\">Regressed against the baseline "
                          "2026-12-06_023000_vm-amd-epyc-2cpu_0123456789ab.json: 4 slower, 0 "
                          "agreement regressions.</p>"),
            std::string::npos);
  // Which run against which baseline: file, commit, date, machine.
  EXPECT_NE(headline.find("<dt>now</dt><dd><b>2026-12-07_023000_vm-amd-epyc-2cpu_0123456789ab.json"
                          "</b> · commit <code>0123456789ab</code> · 2026-12-07T02:30:00+00:00 · "
                          "vm (AMD EPYC, 2 CPUs)</dd>"),
            std::string::npos);
  EXPECT_NE(headline.find("<dt>baseline</dt><dd><b>2026-12-06_023000_vm-amd-epyc-2cpu_"
                          "0123456789ab.json</b> · commit <code>0123456789ab</code> · "
                          "2026-12-06T02:30:00+00:00 · vm (AMD EPYC, 2 CPUs)</dd>"),
            std::string::npos);
  for (const char* tile : {"<div class=\"n\">4</div><div class=\"l\">slower</div>",
                           "<div class=\"n\">0</div><div class=\"l\">agreement regressions</div>",
                           "<div class=\"n\">0</div><div class=\"l\">faster</div>",
                           "<div class=\"n\">0</div><div class=\"l\">inconclusive</div>",
                           "<div class=\"n\">8</div><div class=\"l\">unchanged</div>"}) {
    EXPECT_NE(headline.find(tile), std::string::npos) << tile;
  }
  EXPECT_NE(headline.find("after the Benjamini-Hochberg adjustment over 12 cases"),
            std::string::npos);
}

TEST(HtmlHeadline, SaysNoRegressionAgainstTheBaselineWhenThereIsNone) {
  History h = week();
  h.docs.pop_back();  // night 6 (cpu.fast 1.06) against night 5 (1.05): within 5%
  h.names.pop_back();
  rep::HtmlOptions options;
  options.latest_only = true;
  options.baseline = 4;
  const std::string html = rep::render_html(h.docs, h.names, options);
  const std::string headline = section(html, "regressions");
  SCOPED_TRACE(headline);
  EXPECT_NE(html.find("<main>\n<section id=\"regressions\">\n<div class=\"headline good\">"),
            std::string::npos);
  EXPECT_NE(headline.find("<p class=\"verdict\">No regression against the baseline "
                          "2026-12-05_023000_vm-amd-epyc-2cpu_0123456789ab.json: no case got "
                          "slower or less accurate.</p>"),
            std::string::npos);
  EXPECT_NE(headline.find("<div class=\"n\">12</div><div class=\"l\">unchanged</div>"),
            std::string::npos);
  EXPECT_EQ(headline.find("worst regressions"), std::string::npos);
}

TEST(HtmlHeadline, TooFewRepetitionsAreInconclusiveNeverNoRegression) {
  // 3 repetitions each: even a clean +50% cannot be significant (the exact two-sided U test's
  // smallest p-value is 0.1).
  const std::string commit = "0123456789abcdef0123";
  std::vector<json> docs = {make_report("2026-12-01T02:30:00+00:00", 1.0, "AMD EPYC", commit, 3),
                            make_report("2026-12-02T02:30:00+00:00", 1.5, "AMD EPYC", commit, 3)};
  rep::HtmlOptions options;
  options.baseline = 0;
  const std::string html = rep::render_html(docs, {"base.json", "new.json"}, options);
  const std::string headline = section(html, "regressions");
  SCOPED_TRACE(headline);
  EXPECT_NE(html.find("<section id=\"regressions\">\n<div class=\"headline warn\">"),
            std::string::npos);
  EXPECT_NE(headline.find("<p class=\"verdict\">Inconclusive against the baseline base.json: 4 "
                          "cases changed beyond 5% but not significantly; none is significantly "
                          "slower or less accurate.</p>"),
            std::string::npos);
  EXPECT_EQ(headline.find("No regression"), std::string::npos);
  EXPECT_NE(headline.find("<div class=\"n\">4</div><div class=\"l\">inconclusive</div>"),
            std::string::npos);
  EXPECT_NE(headline.find("4 cases inconclusive"), std::string::npos);
  EXPECT_NE(headline.find(">none (too few repetitions)<"), std::string::npos);
  EXPECT_NE(
      headline.find("data-case=\"norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal\""),
      std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The style sheet and script are real files, embedded at build time.

TEST(HtmlAssets, TheEmbeddedStyleSheetAndScriptAreTheFilesContents) {
  const std::string css = read_text(OPBENCH_SOURCE_DIR "/reports/html/style.css");
  const std::string js = read_text(OPBENCH_SOURCE_DIR "/reports/html/script.js");
  ASSERT_NE(css.find("--accent"), std::string::npos);
  ASSERT_NE(js.find("function sortBy"), std::string::npos);
  EXPECT_EQ(std::string(rep::html::kStyleCss), css);
  EXPECT_EQ(std::string(rep::html::kScriptJs), js);
  const std::string html = html_of(make_run());
  EXPECT_NE(html.find("<style>\n" + css + "</style>\n"), std::string::npos);
  EXPECT_NE(html.find("<script>\n" + js + "</script>\n"), std::string::npos);
  // Pasted between the tags as they are: neither may end its element early.
  EXPECT_EQ(lower(css).find("</style"), std::string::npos);
  EXPECT_EQ(lower(js).find("</script"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Several runs: charts, trends, machines, the baseline.

TEST(HtmlViews, SpeedupBarsPerOpOverCpuPlain) {
  std::string html = rep::render_html({make_report("2026-12-01T02:30:00+00:00", 1.0)}, {"r.json"});
  std::string layernorm = op_section(html, "layernorm");
  ASSERT_NE(layernorm, "");
  EXPECT_EQ(count_of(layernorm, "<svg class=\"chart speedups\""), 1u);
  EXPECT_NE(layernorm.find("speedup over cpu.plain"), std::string::npos);
  // Two groups (points), one bar each: cpu.fast. cpu.plain is the 1x line; the reference (timed
  // by this older report) is never a speedup.
  std::string chart = layernorm.substr(layernorm.find("<svg class=\"chart speedups\""));
  chart = chart.substr(0, chart.find("</svg>"));
  EXPECT_EQ(count_of(chart, "<rect "), 2u);
  EXPECT_EQ(chart.find("ref: "), std::string::npos) << chart;
  EXPECT_NE(chart.find("cpu.fast: 8.9"), std::string::npos) << chart;  // 400 / 45 = 8.9x
  EXPECT_NE(chart.find("class=\"one\""), std::string::npos);
  EXPECT_NE(chart.find("rows=1024 cols=4096 dist=normal"), std::string::npos);
}

TEST(HtmlViews, RooflineUnderTheMeasuredCeilings) {
  std::string html = rep::render_html({make_report("2026-12-01T02:30:00+00:00", 1.0)}, {"r.json"});
  std::string roof = section(html, "roofline");
  ASSERT_NE(roof, "");
  EXPECT_EQ(count_of(roof, "<svg class=\"chart roofline\""), 1u);  // one backend (cpu; ref on it)
  // 12 cases with a cost and a time, plus 3 legend dots.
  EXPECT_EQ(count_of(roof, "<circle "), 12u + 3u);
  EXPECT_NE(roof.find("class=\"roof\""), std::string::npos);
  EXPECT_NE(roof.find("class=\"roof2\""), std::string::npos);  // 20 GB/s is well under 70
  EXPECT_NE(roof.find("70.0 GB/s"), std::string::npos) << roof;
  EXPECT_NE(roof.find("SGEMM 100 GFLOP/s"), std::string::npos) << roof;
  EXPECT_NE(roof.find("arithmetic intensity"), std::string::npos);
  // The roofline follows the order of the page: after the ceilings, before the op tables.
  EXPECT_LT(html.find("<section id=\"ceilings\">"), html.find("<section id=\"roofline\">"));
  EXPECT_LT(html.find("<section id=\"roofline\">"), html.find("<section class=\"op\">"));
}

TEST(HtmlViews, TrendLinePerCaseOverTheRunsOfAMachine) {
  std::string html = render_week();
  std::string layernorm = op_section(html, "layernorm");
  ASSERT_NE(layernorm, "");
  EXPECT_NE(layernorm.find("<table class=\"sortable trend\">"), std::string::npos);
  EXPECT_EQ(count_of(layernorm, "<svg class=\"spark\""), 6u);  // 3 impls x 2 points
  // Seven points per line, the newest one larger.
  std::string spark = layernorm.substr(layernorm.find("<svg class=\"spark\""));
  spark = spark.substr(0, spark.find("</svg>"));
  EXPECT_EQ(count_of(spark, "<circle "), 7u);
  EXPECT_EQ(count_of(spark, "r=\"3\""), 1u);
  EXPECT_NE(spark.find("2026-12-07T02:30:00+00:00"), std::string::npos);
  // cpu.fast went from 1.01x to 1.5x of its time: +48.5%.
  EXPECT_NE(layernorm.find("+48.5%"), std::string::npos);
  // --latest: the tables hold the newest run only, the others are listed as earlier runs.
  EXPECT_NE(html.find("6 earlier runs (in the trends only)"), std::string::npos);
  EXPECT_EQ(html.find("<th title=\"the report file\">run</th>"), std::string::npos);
  EXPECT_EQ(count_of(html, "<div class=\"runcard\">"), 1u);
  // A single run has no trend.
  std::string one = rep::render_html({make_report("2026-12-01T02:30:00+00:00", 1.0)}, {"r.json"});
  EXPECT_EQ(one.find("<svg class=\"spark\""), std::string::npos);
  // Without --latest every run is in the tables, with a run column.
  std::string all = render_week(false);
  EXPECT_EQ(count_of(all, "<div class=\"runcard\">"), 7u);
  EXPECT_NE(all.find("<th title=\"the report file\">run</th>"), std::string::npos);
}

TEST(HtmlViews, SeveralMachinesGetAMachineColumn) {
  std::vector<json> docs = {make_report("2026-12-01T02:30:00+00:00", 1.0),
                            make_report("2026-12-01T03:30:00+00:00", 1.0, "Intel Xeon")};
  std::string html = rep::render_html(docs, {"amd.json", "intel.json"});
  std::string layernorm = op_section(html, "layernorm");
  EXPECT_NE(layernorm.find("<th title=\"where the run ran\">machine</th>"), std::string::npos);
  EXPECT_NE(layernorm.find("<td class=\"runcol\">vm (AMD EPYC, 2 CPUs)</td>"), std::string::npos);
  EXPECT_NE(layernorm.find("<td class=\"runcol\">vm (Intel Xeon, 2 CPUs)</td>"), std::string::npos);
  // One machine: no machine column.
  std::string same = rep::render_html({docs[0], docs[0]}, {"a.json", "b.json"});
  EXPECT_EQ(same.find(">machine</th>"), std::string::npos);
  // --latest keeps the newest run of each machine.
  rep::HtmlOptions latest;
  latest.latest_only = true;
  std::vector<json> three = {docs[0], make_report("2026-12-02T02:30:00+00:00", 1.0), docs[1]};
  std::string html3 = rep::render_html(three, {"amd1.json", "amd2.json", "intel.json"}, latest);
  EXPECT_EQ(count_of(html3, "<div class=\"runcard\">"), 2u);
  EXPECT_NE(html3.find("<h3>amd2.json</h3>"), std::string::npos);
  EXPECT_NE(html3.find("<h3>intel.json</h3>"), std::string::npos);
}

TEST(HtmlViews, WorstRegressionsAgainstTheBaseline) {
  std::string html = render_week();
  std::string regressions = section(html, "regressions");
  ASSERT_NE(regressions, "");
  EXPECT_NE(regressions.find("<div class=\"n\">4</div><div class=\"l\">slower</div>"),
            std::string::npos)
      << regressions;  // cpu.fast of two ops at two points
  EXPECT_NE(regressions.find("worst regressions"), std::string::npos);
  EXPECT_NE(regressions.find("norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal"),
            std::string::npos);
  EXPECT_NE(regressions.find("+4"), std::string::npos);  // 1.5 / 1.06 = +41.5%
  EXPECT_EQ(regressions.find("cpu.plain/"), std::string::npos) << "only the slowed kernel";
  // It opens the page: before the summary, the runs and the ceilings.
  EXPECT_LT(html.find("<section id=\"regressions\""), html.find("<section id=\"summary\">"));
  EXPECT_LT(html.find("<section id=\"summary\">"), html.find("<section id=\"ceilings\">"));
  // No baseline: no such section.
  EXPECT_EQ(rep::render_html(week().docs, week().names).find("id=\"regressions\""),
            std::string::npos);
}

TEST(HtmlViews, StillSelfContainedAndEscaped) {
  History h = week();
  h.docs[6]["opbench"]["cases"][0]["impl"] = "<b>x</b>";
  h.names[6] = "<evil>.json";
  rep::HtmlOptions options;
  options.latest_only = true;
  options.baseline = 5;
  std::string html = rep::render_html(h.docs, h.names, options);
  std::string lower = html;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* s : {"http://", "https://", "<link", "<img", "url(", " src=", "<b>x"}) {
    EXPECT_EQ(lower.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(count_of(lower, "<script>"), 1u);
  EXPECT_EQ(html.find("<evil>"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Rendered by a browser (headless Chromium; skipped when it is not installed).

TEST(HtmlReport, RendersHeadlessInChromium) {
  const std::string chromium = chromium_binary();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium): the page is not "
                    "rendered to a screenshot";
  }
  TempDir dir;
  std::string page = dir.file("page.html");
  write_text(page,
             rep::render_html({rep::build_report(make_run()), rep::build_report(make_check_run())},
                              {"run.json", "check.json"}));
  std::string png = dir.file("page.png");
  std::string output;
  int rc = run_command(chromium_command(chromium, dir) + " --screenshot=" + png +
                           " --window-size=1400,2000 file://" + page,
                       &output);
  ASSERT_EQ(rc, 0) << output;
  std::string image = read_text(png);
  ASSERT_GT(image.size(), 20000u) << output;  // a blank page is a few KiB
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(HtmlReport, ClickingATimeHeaderSortsTheRowsInChromium) {
  const std::string chromium = chromium_binary();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium): the inline script is "
                    "not run";
  }
  TempDir dir;
  std::string html = html_of(make_run());
  // Click the "time" header of the layernorm table once (ascending), after the page's script.
  std::string click = R"(<script>
var section = document.querySelector("h2[id$='norm-layernorm']").parentNode;
var heads = section.querySelector("table").tHead.rows[0].cells;
for (var i = 0; i < heads.length; i++) if (heads[i].textContent === "time") heads[i].click();
</script>
</body>)";
  std::size_t body_end = html.rfind("</body>");
  ASSERT_NE(body_end, std::string::npos);
  html.replace(body_end, std::string("</body>").size(), click);
  std::string page = dir.file("page.html");
  write_text(page, html);
  std::string output;
  ASSERT_EQ(
      run_command(chromium_command(chromium, dir) + " --dump-dom file://" + page + " 2>/dev/null",
                  &output),
      0)
      << output;
  std::string dom = op_section(output, "layernorm");
  ASSERT_NE(dom, "") << output;
  EXPECT_NE(dom.find("aria-sort=\"ascending\""), std::string::npos);
  std::size_t cuda = dom.find(">cuda.fast<"), fast = dom.find(">cpu.fast<"),
              plain = dom.find(">cpu.plain<"), ref = dom.find(">ref<");
  ASSERT_NE(cuda, std::string::npos);
  EXPECT_LT(cuda, fast);   // 2 us
  EXPECT_LT(fast, plain);  // 200 us
  EXPECT_LT(plain, ref);   // 800 us, then the reference: not timed, last
}

TEST(HtmlViews, RendersWithChartsInChromium) {
  const std::string chromium = chromium_binary();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium): the page with its "
                    "charts is not rendered to a screenshot";
  }
  TempDir dir;
  History h = week();
  h.docs.push_back(make_report("2026-12-07T03:30:00+00:00", 1.0, "Intel Xeon"));
  h.names.push_back("2026-12-07_033000_vm-intel-xeon-2cpu_0123456789ab.json");
  rep::HtmlOptions options;
  options.latest_only = true;
  options.baseline = 5;
  const std::string page = dir.file("page.html");
  write_text(page, rep::render_html(h.docs, h.names, options));
  const std::string png = dir.file("page.png");
  const std::string common = chromium_command(chromium, dir);
  std::string output;
  int rc = run_command(common + " --screenshot=" + png + " --window-size=1400,3800 file://" + page,
                       &output);
  ASSERT_EQ(rc, 0) << output;
  const std::string image = read_text(png);
  EXPECT_GT(image.size(), 60000u) << output;  // tables and charts, not a blank page
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // The charts and the headline are in the rendered document.
  std::string dom;
  ASSERT_EQ(run_command(common + " --dump-dom file://" + page + " 2>/dev/null", &dom), 0);
  EXPECT_NE(dom.find("class=\"chart roofline\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"spark\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"chart speedups\""), std::string::npos);
  EXPECT_NE(dom.find("Regressed against the baseline"), std::string::npos);
  if (const char* keep = std::getenv("OPBENCH_KEEP_SCREENSHOT")) {
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
    fs::copy_file(page, std::string(keep) + ".html", fs::copy_options::overwrite_existing);
  }
}

// A claims run (`opbench claims`) gets the papers' claims table near the top, linked from the
// navigation; a run without claims has neither. Strings from the report are escaped there too.
TEST(HtmlReport, ClaimsRunShowsThePapersClaimsTable) {
  EXPECT_EQ(html_of(make_run()).find("id=\"claims\""), std::string::npos);
  json doc = rep::build_report(make_run());
  doc["opbench"]["claims"] = json::array({{{"id", "fff_vs_ff"},
                                           {"paper", "Belcak & Wattenhofer 2023"},
                                           {"statement", "FFF <beats> FF"},
                                           {"paper_figure", 220.0},
                                           {"paper_figure_source", "abstract"},
                                           {"paper_conditions", "the paper's sweep"},
                                           {"conditions_here", "batch 1024 here"},
                                           {"fast",
                                            {{"op", "fff"},
                                             {"impl", "cpu.fast"},
                                             {"case", "a"},
                                             {"seconds", 0.01},
                                             {"agreement", "ok"}}},
                                           {"baseline",
                                            {{"op", "dense_ff"},
                                             {"impl", "openblas"},
                                             {"case", "b"},
                                             {"seconds", 1.5},
                                             {"agreement", "ok"}}},
                                           {"measured", 150.0},
                                           {"of_paper", 150.0 / 220.0},
                                           {"bound", 168.0},
                                           {"status", "measured"}}});
  const std::string html = rep::render_html({doc}, {"claims.json"});
  SCOPED_TRACE(html);
  EXPECT_NE(html.find("<a href=\"#claims\">claims</a>"), std::string::npos);
  const auto section = html.find("<section id=\"claims\">");
  ASSERT_NE(section, std::string::npos);
  EXPECT_LT(section, html.find("<section id=\"ceilings\">"));
  EXPECT_NE(html.find("fff_vs_ff"), std::string::npos);
  EXPECT_NE(html.find("FFF &lt;beats&gt; FF"), std::string::npos);
  EXPECT_NE(html.find("220×"), std::string::npos);
  EXPECT_NE(html.find("150×"), std::string::npos);
  EXPECT_NE(html.find("168×"), std::string::npos);
  EXPECT_NE(html.find("batch 1024 here"), std::string::npos);
  EXPECT_EQ(html.find("not measured"), std::string::npos);
}
