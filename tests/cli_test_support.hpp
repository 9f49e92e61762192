#pragma once
// What the end-to-end CLI tests of compare and nightly share: running the real opbench binary
// with its output captured in files, small file helpers, and a report whose repetitions are
// replaced by a tight known spread (so a kernel scaled by a known factor is a clean signal).
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#ifndef OPBENCH_BINARY
#error "OPBENCH_BINARY must name the built opbench executable"
#endif

namespace cli_test {

namespace fs = std::filesystem;
using nlohmann::json;

struct Outcome {
  int code = -1;
  std::string out, err, command;
};

inline std::ostream& operator<<(std::ostream& os, const Outcome& r) {
  return os << "command: " << r.command << "\n  code=" << r.code << "\n  stdout:\n"
            << r.out << "\n  stderr:\n"
            << r.err;
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline bool contains(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

// Replaces the repetitions of every case by a tight, known spread around their median (+0..4%),
// so that a copy with one kernel scaled by a known factor is a clean signal however noisy the
// machine that ran the tests was. The structure of the report stays as the real run wrote it:
// the case's time block (what readers take) and its Google Benchmark entries agree.
inline void tidy_times(json& doc) {
  for (json& c : doc["opbench"]["cases"]) {
    json& t = c["time"];
    if (!t.is_object()) continue;
    std::vector<double> s = t["samples"].get<std::vector<double>>();
    std::sort(s.begin(), s.end());
    const double median = s[s.size() / 2];
    const std::string run_name = c["name"].get<std::string>() + "/" + t["clock"].get<std::string>();
    std::size_t k = 0;
    for (json& e : doc["benchmarks"]) {
      if (e.value("run_name", "") != run_name || e.value("run_type", "") != "iteration") continue;
      e["real_time"] = median * 1e9 * (1 + 0.01 * static_cast<double>(k++));
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
      t["samples"][i] = median * (1 + 0.01 * static_cast<double>(i));
    }
    t["seconds"] = median * (1 + 0.01 * static_cast<double>(s.size() / 2));
  }
}

// Every time of `impl`'s cases multiplied by `factor`: the case's time block and samples, and
// its Google Benchmark entries (spreads such as cv are fractions and stay).
inline void scale_times(json& doc, const std::string& impl, double factor) {
  for (json& c : doc["opbench"]["cases"]) {
    if (c.value("impl", "") != impl || !c["time"].is_object()) continue;
    json& t = c["time"];
    for (const char* key : {"samples", "cpu_samples"}) {
      for (json& v : t[key]) v = v.get<double>() * factor;
    }
    t["seconds"] = t["seconds"].get<double>() * factor;
  }
  for (json& e : doc["benchmarks"]) {
    if (e.value("impl", "") != impl || e.value("aggregate_name", "") == "cv") continue;
    for (const char* key : {"real_time", "cpu_time"}) e[key] = e[key].get<double>() * factor;
  }
}

// Runs opbench in `cwd` with stdout and stderr to files (not a terminal).
inline Outcome opbench(const fs::path& cwd, const std::vector<std::string>& args) {
  Outcome r;
  r.command = "opbench";
  std::string cmd = "cd " + quote(cwd.string()) + " && " + quote(OPBENCH_BINARY);
  for (const auto& a : args) {
    cmd += " " + quote(a);
    r.command += " " + a;
  }
  cmd += " >" + quote((cwd / ".out").string()) + " 2>" + quote((cwd / ".err").string()) +
         " </dev/null";
  int status = std::system(cmd.c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(cwd / ".out");
  r.err = read_text(cwd / ".err");
  return r;
}

}  // namespace cli_test
