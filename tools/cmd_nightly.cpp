// `opbench nightly --history DIR [-- run options]`: runs the suites (`opbench run` in a child
// process, so a crashing kernel cannot take the bookkeeping down), stores the report in DIR under
// a name with date, machine and commit, compares it with the last good run of the same machine,
// keeps the newest runs of each machine, rebuilds DIR/index.html with the trends, and exits 1 on
// a regression. DIR/history.json lists the runs and their status (good, regressed, failed).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "harness/build_info.hpp"
#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/compare.hpp"
#include "reports/compare_format.hpp"
#include "reports/html_report.hpp"
#include "reports/json_report.hpp"
#include "tools/child_process.hpp"
#include "tools/cli.hpp"
#include "tools/nightly_ab_baseline.hpp"

namespace opbench::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kManifest = "history.json";

// "2026-11-23T03:37:54+00:00" -> "2026-11-23_033754"; the current UTC time when unreadable.
std::string date_stamp(const std::string& date) {
  int y, mo, d, h, mi, s;
  char buf[32];
  if (std::sscanf(date.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d_%02d%02d%02d", y, mo, d, h, mi, s);
    return buf;
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d_%H%M%S", &tm);
  return buf;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The manifest, or an empty one when the folder is new; a broken one is refused (never
// overwritten: it is the history).
json load_manifest(const fs::path& dir) {
  fs::path p = dir / kManifest;
  if (!fs::exists(p)) return {{"opbench_nightly", 1}, {"runs", json::array()}};
  json m;
  try {
    m = json::parse(read_text(p));
  } catch (const json::parse_error& e) {
    throw UsageError(p.string() + ": not valid JSON at byte " + std::to_string(e.byte) +
                     "; repair or remove it (the run reports next to it are kept)");
  } catch (const json::out_of_range&) {  // a number beyond a double: 1e999
    throw UsageError(p.string() +
                     ": a number out of the range of a double; repair or remove it (the run "
                     "reports next to it are kept)");
  }
  if (!m.is_object() || !m.contains("runs") || !m["runs"].is_array()) {
    throw UsageError(p.string() + ": runs: expected an array; repair or remove it");
  }
  for (std::size_t i = 0; i < m["runs"].size(); ++i) {
    const json& r = m["runs"][i];
    if (!r.is_object() || !r.contains("file") || !r["file"].is_string()) {
      throw UsageError(p.string() + ": runs[" + std::to_string(i) + "].file: missing");
    }
    for (const char* key : {"machine_id", "status"}) {  // read with value(key, "") later
      if (r.contains(key) && !r[key].is_string()) {
        throw UsageError(p.string() + ": runs[" + std::to_string(i) + "]." + key +
                         ": expected a string; repair or remove it");
      }
    }
  }
  return m;
}

void save_manifest(const fs::path& dir, const json& m) {
  reports::write_file_atomically((dir / kManifest).string(), m.dump(2) + "\n");
}

// Cases that failed agreement or errored (skips do not count).
int failures(const reports::RunData& run) {
  int n = 0;
  for (const reports::CaseData& c : run.cases) {
    if (c.errored() || c.failed()) ++n;
  }
  return n;
}

// Holds an exclusive lock on DIR/.nightly.lock for the life of the object (the kernel releases
// it when the process dies, however it dies); the file holds the holder's pid, for the message
// of a nightly that finds the history taken. With `wait`, waits for the lock instead.
class HistoryLock {
 public:
  HistoryLock(const fs::path& dir, bool wait) {
    std::string p = (dir / ".nightly.lock").string();
    fd_ = ::open(p.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) throw UsageError(p + ": cannot open the lock: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const std::string holder = holder_text();
      if (!wait) {
        ::close(fd_);
        throw UsageError(dir.string() + ": another opbench nightly" + holder +
                         " is using this history; nothing was run: run again when it has "
                         "finished, or add --wait to queue behind it");
      }
      std::cout << "nightly: waiting for the other nightly" << holder << " to finish with "
                << dir.string() << " (--wait)" << std::endl;
      while (::flock(fd_, LOCK_EX) != 0) {
        if (errno != EINTR) {
          const int err = errno;
          ::close(fd_);
          throw UsageError(p + ": cannot lock: " + std::strerror(err));
        }
      }
    }
    // Our pid, for the message of a nightly that finds the history taken (best effort).
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
  }
  ~HistoryLock() { ::close(fd_); }
  HistoryLock(const HistoryLock&) = delete;
  HistoryLock& operator=(const HistoryLock&) = delete;

 private:
  // " (pid 1234)" from the lock file, or "" when it holds no pid.
  std::string holder_text() const {
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    return pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string();
  }

  int fd_ = -1;
};

// Removes what a nightly that was killed left behind: its run's report or that report's
// temporary file (DIR/.incoming-PID.json*). Called with the lock held, so no live nightly owns
// them.
void remove_stale_incoming(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(".incoming-", 0) == 0) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) {
    if (fs::remove(p, ec)) {
      std::cout << "nightly: removed " << p.filename().string()
                << ", left by a nightly that was killed\n";
    }
  }
}

bool has_repetitions(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--repetitions" || a.rfind("--repetitions=", 0) == 0 ||
        a.rfind("--benchmark_repetitions", 0) == 0) {
      return true;
    }
  }
  return false;
}

// Drops the oldest runs of each machine beyond `keep`, never the last good run of a machine
// (the next night's baseline). Returns the files removed.
std::vector<std::string> apply_retention(const fs::path& dir, json& manifest, int keep) {
  json& runs = manifest["runs"];
  std::map<std::string, int> count;
  std::map<std::string, std::size_t> last_good;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::string id = runs[i].value("machine_id", "");
    if (runs[i].value("status", "") == "good") last_good[id] = i;
  }
  std::vector<bool> drop(runs.size(), false);
  for (std::size_t i = runs.size(); i-- > 0;) {
    std::string id = runs[i].value("machine_id", "");
    if (++count[id] > keep && !(last_good.count(id) && last_good[id] == i)) drop[i] = true;
  }
  std::vector<std::string> removed;
  json kept = json::array();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!drop[i]) {
      kept.push_back(runs[i]);
      continue;
    }
    std::string file = runs[i]["file"].get<std::string>();
    std::error_code ec;
    fs::remove(dir / file, ec);
    fs::remove(dir / (fs::path(file).stem().string() + ".compare.md"), ec);
    removed.push_back(file);
  }
  runs = std::move(kept);
  return removed;
}

// DIR/index.html over every run of the history: the newest run of each machine in the tables,
// trends over all, the worst regressions against `baseline_file` when given.
void write_index(const fs::path& dir, const json& manifest, const std::string& baseline_file) {
  std::vector<json> docs;
  std::vector<std::string> sources;
  reports::HtmlOptions options;
  options.latest_only = true;
  for (const json& r : manifest["runs"]) {
    std::string file = r["file"].get<std::string>();
    fs::path p = dir / file;
    if (!fs::exists(p)) {
      std::cerr << "opbench: warning: " << p.string()
                << ": listed in history.json but missing; left out of the index\n";
      continue;
    }
    try {
      docs.push_back(reports::load_report(p.string()).doc);
    } catch (const UsageError& e) {
      std::cerr << "opbench: warning: " << e.what() << "; left out of the index\n";
      continue;
    }
    if (file == baseline_file) options.baseline = static_cast<int>(sources.size());
    sources.push_back(file);
  }
  reports::write_file_atomically((dir / "index.html").string(),
                                 reports::render_html(docs, sources, options));
}

}  // namespace

int cmd_nightly(const Args& all_args) {
  // Everything after "--" goes to `opbench run`.
  Args args, run_args;
  auto dash = std::find(all_args.begin(), all_args.end(), "--");
  args.assign(all_args.begin(), dash);
  if (dash != all_args.end()) run_args.assign(dash + 1, all_args.end());

  po::options_description desc(
      "opbench nightly --history DIR [options] [-- run options]\n\nRuns the suites (opbench run "
      "with the options after --; --repetitions 9 unless given), stores the\nreport in DIR as "
      "DATE_MACHINE_COMMIT.json (each case isolated in a worker process unless --in-process), "
      "compares it with the last good run of the same machine,\nkeeps "
      "the newest --keep runs per machine, rebuilds DIR/index.html (tables, charts, trends) and\n"
      "writes the comparison as DIR/<run>.compare.md and DIR/latest-compare.md.\n\nExit code: 0 "
      "good, 1 a regression (slower, or agreement lost) or a failed run, 2 bad usage.\n\nOptions");
  bool help = false, wait = false, in_process = false, ab_baseline = false;
  std::string history, report, accept, threshold = "5", source = OPBENCH_SOURCE_DIR;
  int keep = 60;
  double alpha = 0.05, error_growth = 10;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")(
      "history", po::value(&history), "the history folder (created when missing)")(
      "keep", po::value(&keep), "runs kept per machine, newest first (default 60)")(
      "threshold", po::value(&threshold), "smallest time change that counts, percent (default 5)")(
      "alpha", po::value(&alpha),
      "significance level of the U test (default 0.05), as a false discovery rate over all cases")(
      "error-growth", po::value(&error_growth), "agreement error growth that regresses (10)")(
      "report", po::value(&report), "store this report instead of running the suites")(
      "accept", po::value(&accept),
      "mark a stored run (its file name, or 'latest') as good: the next baseline")(
      "wait", po::bool_switch(&wait),
      "when another nightly is using the history, wait for it to finish instead of refusing")(
      "in-process", po::bool_switch(&in_process),
      "run the cases in the run's own process instead of each in a worker process (--isolate, "
      "the default: a crashing or hanging kernel then costs only its case, not the night)")(
      "ab-baseline", po::bool_switch(&ab_baseline),
      "build the commit of this machine's last good run beside this build and run both in one "
      "opbench ab, their repetitions interleaved: the verdict compares the two builds under the "
      "same drift of the machine (the history stores tonight's report as always)")(
      "source", po::value(&source),
      "with --ab-baseline: the opbench checkout to build the baseline from (default: the one "
      "this build was configured from)");
  parse(args, desc);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (history.empty()) throw UsageError("nightly: give the history folder with --history DIR");
  if (keep < 1) throw UsageError("--keep must be at least 1");
  if (!(alpha > 0 && alpha < 1)) throw UsageError("--alpha must be between 0 and 1 (e.g. 0.05)");
  if (!(error_growth > 1)) throw UsageError("--error-growth must be a factor above 1 (e.g. 10)");
  if (ab_baseline && !report.empty()) {
    throw UsageError(
        "nightly: --ab-baseline runs tonight's suites beside a build of the last good commit; "
        "--report stores a finished report");
  }
  if (ab_baseline && in_process) {
    throw UsageError(
        "nightly: --ab-baseline runs each build's cases in worker processes of that build; "
        "--in-process does not apply");
  }
  if (!report.empty() && !run_args.empty()) {
    throw UsageError(
        "nightly: --report stores a finished report; run options after -- do not apply");
  }
  reports::CompareOptions copts;
  {
    std::string t = threshold;
    if (!t.empty() && t.back() == '%') t.pop_back();
    char* end = nullptr;
    double v = t.empty() ? NAN : std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || !(v >= 0 && v < 1000)) {
      throw UsageError("--threshold '" + threshold + "' is not a percentage (e.g. 5 or 5%)");
    }
    copts.threshold = v / 100;
  }
  copts.alpha = alpha;
  copts.error_growth = error_growth;

  fs::path dir = history;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw UsageError(history + ": cannot create the history folder" +
                     (ec ? ": " + ec.message() : std::string()));
  }
  HistoryLock lock(dir, wait);
  remove_stale_incoming(dir);
  json manifest = load_manifest(dir);

  if (!accept.empty()) {
    json& runs = manifest["runs"];
    for (std::size_t i = runs.size(); i-- > 0;) {
      if (accept == "latest" || runs[i]["file"] == accept) {
        runs[i]["status"] = "good";
        runs[i]["accepted"] = true;
        save_manifest(dir, manifest);
        std::cout << "nightly: " << runs[i]["file"].get<std::string>()
                  << " accepted as good: the next baseline of its machine\n";
        return kExitOk;
      }
    }
    throw UsageError("--accept " + accept + ": no such run in " + (dir / kManifest).string());
  }

  // Tonight's report: run the suites, or take the one given.
  std::string incoming, ab_base;  // tonight's report; with --ab-baseline, the baseline build's
  bool owned = false;
  AbBaseline ab;
  if (report.empty()) {
    // Unattended: a crash or a hang must cost one case, not the night's run.
    if (!in_process && std::find(run_args.begin(), run_args.end(), "--isolate") == run_args.end()) {
      run_args.push_back("--isolate");
    }
    if (!has_repetitions(run_args)) {
      run_args.push_back("--repetitions");
      run_args.push_back("9");
    }
    const std::string prefix = (dir / (".incoming-" + std::to_string(::getpid()))).string();
    owned = true;
    if (ab_baseline) ab = find_ab_baseline(manifest, source);
    if (!ab.program.empty()) {
      std::cout << "nightly: A/B against " << ab.commit << " (built from " << ab.program
                << "): both builds' repetitions interleaved in one run" << std::endl;
      incoming = prefix + ".new.json";
      ab_base = prefix + ".base.json";
      const int rc = run_ab_child(ab.program, run_args, prefix);
      fs::remove(prefix + ".ab.txt", ec);
      if (rc != 0 || !fs::exists(incoming) || !fs::exists(ab_base)) {
        fs::remove(incoming, ec);
        fs::remove(ab_base, ec);
        throw UsageError("nightly: opbench ab ended without its reports (" + describe_status(rc) +
                         "); nothing stored");
      }
    } else {
      if (ab_baseline) {
        std::cout << "nightly: --ab-baseline: " << ab.why_not
                  << "; tonight is compared with the stored run" << std::endl;
      }
      incoming = prefix + ".json";
      run_args.push_back("--json");
      run_args.push_back(incoming);
      run_args.insert(run_args.begin(), "run");
      const int rc = run_self(run_args);
      if (!fs::exists(incoming)) {
        throw UsageError("nightly: opbench run ended without a report (" + describe_status(rc) +
                         "); nothing stored");
      }
    }
  } else {
    incoming = report;
  }
  reports::LoadedReport loaded;
  try {
    loaded = reports::load_report(incoming);
  } catch (...) {
    if (owned) fs::remove(incoming, ec);
    if (!ab_base.empty()) fs::remove(ab_base, ec);
    throw;
  }
  for (const std::string& w : loaded.warnings) std::cerr << "opbench: warning: " << w << "\n";
  reports::RunData tonight = reports::extract_run(loaded.doc, incoming);
  const reports::RunInfo& info = tonight.info;

  std::string stem = date_stamp(info.date) + "_" + info.machine_id + "_" +
                     (info.commit.empty() ? std::string("nocommit") : info.commit.substr(0, 12)) +
                     (info.dirty ? "-dirty" : "");
  std::string name = stem + ".json";
  for (int k = 2; fs::exists(dir / name); ++k) name = stem + "-" + std::to_string(k) + ".json";
  if (owned) {
    fs::rename(incoming, dir / name, ec);
    if (ec) throw UsageError((dir / name).string() + ": cannot store the report: " + ec.message());
  } else {
    reports::write_file_atomically((dir / name).string(), read_text(incoming));
  }
  tonight.info.source = name;

  // The last good run of this machine.
  std::string baseline_file;
  for (const json& r : manifest["runs"]) {
    if (r.value("machine_id", "") == info.machine_id && r.value("status", "") == "good" &&
        fs::exists(dir / r["file"].get<std::string>())) {
      baseline_file = r["file"].get<std::string>();
    }
  }
  int fails = failures(tonight);
  std::string status = fails > 0 ? "failed" : "good";
  json entry = {{"file", name},
                {"machine_id", info.machine_id},
                {"machine", info.machine},
                {"date", info.date},
                {"commit", info.commit},
                {"dirty", info.dirty},
                {"failures", fails},
                {"baseline", nullptr}};
  std::cout << "nightly: stored " << (dir / name).string() << "\n";
  // The verdict: against the baseline build measured beside tonight's (--ab-baseline), else
  // against the last good stored run.
  std::string against = baseline_file;
  std::optional<reports::RunData> base;
  if (!ab_base.empty()) {
    against = "commit " + ab.commit + " (A/B in this run)";
    try {
      base = reports::extract_run(reports::load_report(ab_base).doc, against);
    } catch (...) {
      fs::remove(ab_base, ec);
      throw;
    }
    fs::remove(ab_base, ec);
    entry["ab_baseline"] = {{"commit", ab.commit}};
  } else if (!baseline_file.empty()) {
    base = reports::extract_run(reports::load_report((dir / baseline_file).string()).doc,
                                baseline_file);
  }
  if (ab_baseline && ab.program.empty()) entry["ab_baseline"] = {{"skipped", ab.why_not}};
  if (base) {
    reports::Comparison cmp = reports::compare_runs(*base, tonight, copts);
    bool color = isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
    reports::make_compare_formatter(reports::CompareFormat::kTerminal, color)
        ->write(cmp, std::cout);
    std::ostringstream md;
    reports::make_compare_formatter(reports::CompareFormat::kMarkdown, false)->write(cmp, md);
    reports::write_file_atomically(
        (dir / (fs::path(name).stem().string() + ".compare.md")).string(), md.str());
    reports::write_file_atomically((dir / "latest-compare.md").string(), md.str());
    entry["baseline"] = baseline_file.empty() ? json(nullptr) : json(baseline_file);
    entry["slower"] = cmp.slower;
    entry["agreement_regressions"] = cmp.agreement_regressions;
    if (cmp.regressed() && status == "good") status = "regressed";
  } else {
    std::string md = "## opbench nightly\n\n`" + name + "`: the first run of " + info.machine +
                     " in this history; nothing to compare with yet.\n";
    reports::write_file_atomically((dir / "latest-compare.md").string(), md);
    std::cout << "nightly: the first run of " << info.machine
              << " in this history: nothing to compare with yet\n";
  }
  entry["status"] = status;
  manifest["runs"].push_back(entry);
  std::vector<std::string> removed = apply_retention(dir, manifest, keep);
  save_manifest(dir, manifest);
  for (const std::string& f : removed)
    std::cout << "nightly: removed " << f << " (--keep " << keep << ")\n";
  write_index(dir, manifest, baseline_file);
  std::cout << "nightly: " << status << (base ? " against " + against : std::string())
            << (fails > 0 ? "; " + std::to_string(fails) + " case(s) failed agreement or errored"
                          : std::string())
            << "; index " << (dir / "index.html").string() << "\n";
  return status == "good" ? kExitOk : kExitFailed;
}

}  // namespace opbench::cli
