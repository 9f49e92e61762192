// merge_reports(): shard reports of one plan joined into one report (reports/merge.hpp).
#include "reports/merge.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "harness/errors.hpp"
#include "harness/shard.hpp"
#include "reports/json_report.hpp"

namespace opbench::reports {

using nlohmann::json;

namespace {

// One shard report, checked and indexed.
struct Part {
  const ShardReport* in = nullptr;
  const json* ob = nullptr;  // its opbench block
  ShardSpec shard;           // "" in the report: the whole plan, 1/1
  std::vector<std::size_t> positions;
};

[[noreturn]] void refuse(const std::string& source, const std::string& what) {
  throw UsageError(source + ": " + what);
}

const json& at(const json& j, const char* key) {
  static const json null;
  return j.is_object() && j.contains(key) ? j.at(key) : null;
}

std::string text(const json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

Part read_part(const ShardReport& r) {
  Part p;
  p.in = &r;
  p.ob = &at(r.doc, "opbench");
  const json& plan = at(*p.ob, "plan");
  if (!plan.is_object() || !at(plan, "fingerprint").is_string() ||
      at(plan, "fingerprint").get<std::string>().empty()) {
    refuse(r.source,
           "no opbench.plan (the report of an opbench without shards): rerun it with this "
           "opbench, --shard I/N");
  }
  if (plan.contains("shards")) {
    refuse(r.source, "a merged report: merge the shard reports themselves");
  }
  const std::string shard = at(plan, "shard").get<std::string>();
  p.shard = shard.empty() ? ShardSpec{1, 1, ""} : parse_shard(shard, "opbench.plan.shard");
  const std::size_t planned = at(plan, "planned").get<std::size_t>();
  for (const json& v : at(plan, "positions")) {
    const std::size_t pos = v.get<std::size_t>();
    if (pos >= planned) {
      refuse(r.source, "opbench.plan.positions: " + std::to_string(pos) + " is beyond the plan's " +
                           std::to_string(planned) + " cases");
    }
    p.positions.push_back(pos);
  }
  if (p.positions.size() != at(*p.ob, "cases").size()) {
    refuse(r.source, "opbench.plan.positions: " + std::to_string(p.positions.size()) +
                         " positions for " + std::to_string(at(*p.ob, "cases").size()) + " cases");
  }
  return p;
}

// The machine class: every device line (CPU model, threads and wait policy; each GPU with its
// memory, clocks and driver) and the CPU count. The host name is left out: a fleet's shards run
// on different hosts of one class. Times from different classes must not share a report.
std::string machine_class(const json& doc) {
  std::string out = "CPUs " + text(at(at(doc, "context"), "num_cpus"));
  for (const json& d : at(at(doc, "opbench"), "devices")) out += "; " + text(d);
  return out;
}

// What must be the same in every shard, with the name a message gives it.
struct Same {
  const char* what;
  std::string (*get)(const json& doc);
};

const Same kSame[] = {
    {"plan (opbench.plan.fingerprint: another selection or seed)",
     [](const json& d) { return text(at(at(at(d, "opbench"), "plan"), "fingerprint")); }},
    {"plan size (opbench.plan.planned)",
     [](const json& d) { return text(at(at(at(d, "opbench"), "plan"), "planned")); }},
    {"build (opbench.git: commit and dirty flag)",
     [](const json& d) { return at(at(d, "opbench"), "git").dump(); }},
    {"build (opbench.build: compiler, flags, libraries)",
     [](const json& d) { return at(at(d, "opbench"), "build").dump(); }},
    {"opbench version (opbench.tool_version)",
     [](const json& d) { return text(at(at(d, "opbench"), "tool_version")); }},
    {"machine class (opbench.devices and context.num_cpus)", machine_class},
    {"kind of run (opbench.timed: check vs run)",
     [](const json& d) { return text(at(at(d, "opbench"), "timed")); }},
    {"thread count (opbench.threads)",
     [](const json& d) { return text(at(at(d, "opbench"), "threads")); }},
    {"repetition order (opbench.interleaved)",
     [](const json& d) { return text(at(at(d, "opbench"), "interleaved")); }},
};

void check_alike(const std::vector<Part>& parts) {
  const Part& first = parts.front();
  for (const Part& p : parts) {
    for (const Same& s : kSame) {
      const std::string a = s.get(first.in->doc), b = s.get(p.in->doc);
      if (a != b) {
        refuse(p.in->source, std::string("another ") + s.what + " than " + first.in->source +
                                 " ('" + b + "' vs '" + a + "'): only the shards of one plan, " +
                                 "build and machine class make one report");
      }
    }
    if (p.shard.count != first.shard.count) {
      refuse(p.in->source, "shard " + p.shard.text() + " of another shard count than " +
                               first.in->source + " (" + first.shard.text() + ")");
    }
  }
}

// The case name a benchmark entry belongs to, among the names of its report's cases; "" if none.
std::string entry_case(const json& e, const std::set<std::string>& names) {
  const json& run_name = at(e, "run_name");
  const std::string name = run_name.is_string() ? run_name.get<std::string>() : text(at(e, "name"));
  for (const std::string& candidate : case_name_candidates(name)) {
    if (names.count(candidate)) return candidate;
  }
  return "";
}

// "shard 3/3", or "shards 2/8, 5/8".
std::string shard_list(const std::vector<int>& indices, int count) {
  std::string out = indices.size() == 1 ? "shard " : "shards ";
  for (std::size_t i = 0; i < indices.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(indices[i]) + "/" + std::to_string(count);
  }
  return out;
}

}  // namespace

MergeResult merge_reports(const std::vector<ShardReport>& shards, const std::string& command_line) {
  if (shards.empty()) throw UsageError("merge: no reports given");
  std::vector<Part> parts;
  for (const ShardReport& r : shards) parts.push_back(read_part(r));
  std::stable_sort(parts.begin(), parts.end(),
                   [](const Part& a, const Part& b) { return a.shard.index < b.shard.index; });
  check_alike(parts);
  const int count = parts.front().shard.count;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].shard.index == parts[i - 1].shard.index) {
      refuse(parts[i].in->source, "shard " + parts[i].shard.text() + " given twice (also " +
                                      parts[i - 1].in->source + ")");
    }
  }

  // The cases, each once, in the plan's order.
  struct Placed {
    std::size_t position;
    const json* c;
  };
  std::vector<Placed> cases;
  std::map<std::string, std::string> source_of_case;
  std::map<std::size_t, std::string> name_at;
  for (const Part& p : parts) {
    const json& list = at(*p.ob, "cases");
    for (std::size_t k = 0; k < list.size(); ++k) {
      const std::string name = list[k].at("name").get<std::string>();
      auto [it, fresh] = source_of_case.emplace(name, p.in->source);
      if (!fresh) {
        refuse(p.in->source, "case " + name + " is also in " + it->second + " (a case twice)");
      }
      auto [at_pos, free] = name_at.emplace(p.positions[k], name);
      if (!free) {
        refuse(p.in->source, "case " + name + " holds plan position " +
                                 std::to_string(p.positions[k]) + " of " + at_pos->second +
                                 " (another plan's report?)");
      }
      cases.push_back({p.positions[k], &list[k]});
    }
  }
  std::stable_sort(cases.begin(), cases.end(),
                   [](const Placed& a, const Placed& b) { return a.position < b.position; });
  std::map<std::string, std::size_t> merged_index;  // case name -> its index in the merged report
  for (std::size_t i = 0; i < cases.size(); ++i) {
    merged_index[cases[i].c->at("name").get<std::string>()] = i;
  }

  // Google Benchmark's entries, in their cases' order (a case's entries in their own order), the
  // family index renumbered as an unsharded run numbers it.
  struct Entry {
    std::size_t index;  // of its case in the merged report
    std::size_t part, k;
    json e;
  };
  std::vector<Entry> entries;
  for (std::size_t pi = 0; pi < parts.size(); ++pi) {
    std::set<std::string> names;
    for (const json& c : at(*parts[pi].ob, "cases")) names.insert(c.at("name").get<std::string>());
    const json& list = at(parts[pi].in->doc, "benchmarks");
    for (std::size_t k = 0; k < list.size(); ++k) {
      const std::string name = entry_case(list[k], names);
      if (name.empty()) {
        refuse(parts[pi].in->source, "benchmarks[" + std::to_string(k) + "] (" +
                                         text(at(list[k], "name")) +
                                         ") belongs to none of the report's cases");
      }
      json e = list[k];
      e["family_index"] = merged_index.at(name);
      entries.push_back({merged_index.at(name), pi, k, std::move(e)});
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.index < b.index; });

  // Datasets by key: one shard each (a dataset's cases stay in one shard), but a key in two
  // reports must hold the same tensors (the same checksums).
  json datasets = json::object();
  std::map<std::string, std::string> source_of_dataset;
  for (const Part& p : parts) {
    for (const auto& [key, d] : at(*p.ob, "datasets").items()) {
      auto [it, fresh] = source_of_dataset.emplace(key, p.in->source);
      if (fresh) {
        datasets[key] = d;
        continue;
      }
      std::vector<std::string> ours, theirs;
      for (const json& t : at(d, "tensors")) ours.push_back(text(at(t, "checksum")));
      for (const json& t : at(datasets[key], "tensors")) theirs.push_back(text(at(t, "checksum")));
      if (ours != theirs) {
        refuse(p.in->source, "dataset " + key + " has other checksums than in " + it->second +
                                 ": the shards did not run on the same inputs");
      }
    }
  }

  // Ceilings are the state of each shard's machine during its run; every case's rates were
  // computed against its own shard's ceilings and are kept as they are. So every shard's
  // ceilings are kept, each marked with its shard, rather than one shard's standing for all.
  json ceilings = json::array();
  for (const Part& p : parts) {
    for (json c : at(*p.ob, "ceilings")) {
      if (parts.size() > 1) c["shard"] = p.shard.text();
      ceilings.push_back(std::move(c));
    }
  }

  const Part& first = parts.front();
  json doc = json::object();
  // Google Benchmark's context (host, date, CPUs, caches, load) is one machine's: the first
  // shard's; opbench.plan.shards names each shard's host and date.
  doc["context"] = at(first.in->doc, "context");
  json benchmarks = json::array();
  for (Entry& e : entries) benchmarks.push_back(std::move(e.e));
  doc["benchmarks"] = std::move(benchmarks);
  json ob = *first.ob;  // schema, tool, git, build, devices, threads, timed: alike in every shard
  json merged_cases = json::array();
  std::vector<std::size_t> positions;
  for (const Placed& c : cases) {
    merged_cases.push_back(*c.c);
    positions.push_back(c.position);
  }
  ob["cases"] = std::move(merged_cases);
  ob["datasets"] = std::move(datasets);
  ob["ceilings"] = std::move(ceilings);
  ob["command_line"] = command_line;
  json list = json::array();
  for (const Part& p : parts) {
    list.push_back({{"source", p.in->source},
                    {"shard", p.shard.text()},
                    {"cases", at(*p.ob, "cases").size()},
                    {"host", text(at(at(p.in->doc, "context"), "host_name"))},
                    {"date", text(at(at(p.in->doc, "context"), "date"))},
                    {"command_line", text(at(*p.ob, "command_line"))}});
  }
  MergeResult out;
  out.planned = at(at(*first.ob, "plan"), "planned").get<std::size_t>();
  out.merged = cases.size();
  ob["plan"] = {{"fingerprint", at(at(*first.ob, "plan"), "fingerprint")},
                {"planned", out.planned},
                {"shard", ""},
                {"positions", positions},
                {"shards", std::move(list)}};
  doc["opbench"] = std::move(ob);

  std::set<int> given;
  for (const Part& p : parts) given.insert(p.shard.index);
  std::vector<int> absent;
  for (int i = 1; i <= count; ++i) {
    if (!given.count(i)) absent.push_back(i);
  }
  if (!absent.empty())
    out.warnings.push_back(shard_list(absent, count) + " missing: no report given");
  if (out.merged < out.planned) {
    out.warnings.push_back("the merged report holds " + std::to_string(out.merged) + " of the " +
                           std::to_string(out.planned) + " planned cases: " +
                           std::to_string(out.planned - out.merged) + " missing");
  }
  out.missing = !out.warnings.empty();
  if (std::string problem = validate_report(doc); !problem.empty()) {
    throw std::logic_error("the merged report is not valid: " + problem);
  }
  out.report = std::move(doc);
  return out;
}

}  // namespace opbench::reports
