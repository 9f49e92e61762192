// Tests of the HTML page's views over several runs (reports/html_report with HtmlOptions,
// reports/html_charts): speedup bars, the roofline plot under the measured ceilings, a trend
// line per case over the runs of a machine, a machine column for several machines, the worst
// regressions against a baseline; structural checks, then a headless Chromium render to a PNG.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "reports/html_assets.hpp"
#include "reports/html_report.hpp"
#include "tests/report_fixtures.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
namespace rep = opbench::reports;

namespace {

const std::string kPoints[] = {"rows:64/cols:4096/dist:normal", "rows:1024/cols:4096/dist:normal"};

struct Kernel {
  std::string impl;
  double us;  // at the first point; the second is 16x the work
};

// A timed report of layernorm and rmsnorm: ref, cpu.plain, cpu.fast at two points, 5 repetitions
// each with a small seeded spread, the ceilings of a 2-CPU machine.
json make_report(const std::string& date, double fast_factor, const std::string& cpu = "AMD EPYC",
                 const std::string& commit = "0123456789abcdef0123") {
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
        for (int r = 0; r < 5; ++r) {
          json e = fields;
          e["name"] = e["run_name"] = name + "/real_time";
          e["run_type"] = "iteration";
          e["repetitions"] = 5;
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

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

std::string op_section(const std::string& html, const std::string& op) {
  std::size_t at = html.find("</span> " + op + "</h2>");
  if (at == std::string::npos) return "";
  std::size_t end = html.find("</section>", at);
  return html.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string section(const std::string& html, const std::string& id) {
  std::size_t at = html.find("<section id=\"" + id + "\">");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</section>", at) - at);
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

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
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

}  // namespace

TEST(HtmlViews, SpeedupBarsPerOpOverCpuPlain) {
  std::string html = rep::render_html({make_report("2026-12-01T02:30:00+00:00", 1.0)}, {"r.json"});
  std::string layernorm = op_section(html, "layernorm");
  ASSERT_NE(layernorm, "");
  EXPECT_EQ(count_of(layernorm, "<svg class=\"chart speedups\""), 1u);
  EXPECT_NE(layernorm.find("speedup over cpu.plain"), std::string::npos);
  // Two groups (points), two bars each (ref and cpu.fast; cpu.plain is the 1x line).
  std::string chart = layernorm.substr(layernorm.find("<svg class=\"chart speedups\""));
  chart = chart.substr(0, chart.find("</svg>"));
  EXPECT_EQ(count_of(chart, "<rect "), 4u);
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
  // The summary comes before it, the ceilings after.
  EXPECT_LT(html.find("<section id=\"summary\">"), html.find("<section id=\"regressions\">"));
  EXPECT_LT(html.find("<section id=\"regressions\">"), html.find("<section id=\"ceilings\">"));
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

TEST(HtmlViews, RendersWithChartsInChromium) {
  std::string chromium;
  for (const char* name : {"chromium", "chromium-browser"}) {
    if (run_command(std::string("command -v ") + name + " >/dev/null") == 0) chromium = name;
  }
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium): the page with its "
                    "charts is not rendered to a screenshot";
  }
  char tmpl[] = "/tmp/opbench_test_html_XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  History h = week();
  h.docs.push_back(make_report("2026-12-07T03:30:00+00:00", 1.0, "Intel Xeon"));
  h.names.push_back("2026-12-07_033000_vm-intel-xeon-2cpu_0123456789ab.json");
  rep::HtmlOptions options;
  options.latest_only = true;
  options.baseline = 5;
  std::string page = (dir / "page.html").string();
  std::ofstream(page) << rep::render_html(h.docs, h.names, options);
  std::string png = (dir / "page.png").string();
  std::string common =
      "timeout 120 " + chromium +
      " --headless --no-sandbox --disable-gpu --disable-background-networking"
      " --disable-component-update --disable-sync --no-first-run --user-data-dir=" +
      (dir / "profile").string();
  std::string output;
  int rc = run_command(common + " --screenshot=" + png + " --window-size=1400,3800 file://" + page,
                       &output);
  ASSERT_EQ(rc, 0) << output;
  std::ifstream in(png, std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_GT(image.size(), 60000u) << output;  // tables and charts, not a blank page
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // The charts are in the rendered document.
  std::string dom;
  ASSERT_EQ(run_command(common + " --dump-dom file://" + page + " 2>/dev/null", &dom), 0);
  EXPECT_NE(dom.find("class=\"chart roofline\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"spark\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"chart speedups\""), std::string::npos);
  if (const char* keep = std::getenv("OPBENCH_KEEP_SCREENSHOT")) {
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
    fs::copy_file(page, std::string(keep) + ".html", fs::copy_options::overwrite_existing);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// The style sheet and script are real files, embedded at build time.
TEST(HtmlAssets, TheEmbeddedStyleSheetAndScriptAreTheFilesContents) {
  const std::string css = read_text(OPBENCH_SOURCE_DIR "/reports/html/style.css");
  const std::string js = read_text(OPBENCH_SOURCE_DIR "/reports/html/script.js");
  ASSERT_NE(css.find("--accent"), std::string::npos);
  ASSERT_NE(js.find("function sortBy"), std::string::npos);
  EXPECT_EQ(std::string(rep::html::kStyleCss), css);
  EXPECT_EQ(std::string(rep::html::kScriptJs), js);
  const std::string html =
      rep::render_html({make_report("2026-12-01T02:30:00+00:00", 1.0)}, {"r.json"});
  EXPECT_NE(html.find("<style>\n" + css + "</style>\n"), std::string::npos);
  EXPECT_NE(html.find("<script>\n" + js + "</script>\n"), std::string::npos);
  // Pasted between the tags as they are: neither may end its element early.
  std::string lower_css = css, lower_js = js;
  for (char& c : lower_css) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char& c : lower_js) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(lower_css.find("</style"), std::string::npos);
  EXPECT_EQ(lower_js.find("</script"), std::string::npos);
}
