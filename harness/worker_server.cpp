// The worker's side of the worker protocol (harness/worker_protocol.hpp): plans the planner's
// selection with this build's registry, then runs the units it is asked for with a CaseRunner.
#include <csignal>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness/build_info.hpp"
#include "harness/case_codec.hpp"
#include "harness/case_runner.hpp"
#include "harness/line_pipe.hpp"
#include "harness/worker_protocol.hpp"

namespace opbench {

namespace {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The first backend of the plan that lost its context ("" when none): the worker's last answer.
std::string lost_backend(const std::vector<CasePlan>& plan) {
  for (const CasePlan& c : plan) {
    if (c.backend) {
      if (std::string lost = c.backend->lost(); !lost.empty()) return lost;
    }
  }
  return "";
}

// The part of `sel` this build knows (a planner joining two builds' plans asks each for the
// cases it has): names of suites, ops and implementations it does not register are dropped, and
// a filter left with no name it knows selects nothing.
Selection known_part(const Registry& reg, Selection sel, bool& nothing) {
  std::set<std::string> suites, ops, impls;
  for (const Op& op : reg.ops()) {
    suites.insert(op.suite);
    ops.insert(op.name);
    for (const Impl& i : op.impls) impls.insert(i.name);
  }
  auto keep = [&](std::vector<std::string>& names, const std::set<std::string>& known) {
    if (names.empty()) return;
    std::vector<std::string> kept;
    for (const std::string& n : names) {
      if (known.count(n)) kept.push_back(n);
    }
    if (kept.empty()) nothing = true;
    names = std::move(kept);
  };
  keep(sel.suites, suites);
  keep(sel.ops, ops);
  keep(sel.impls, impls);
  return sel;
}

}  // namespace

int serve_worker(const Registry& reg, const DataProvider& data, int in_fd, int out_fd) {
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  LinePipe pipe(in_fd, out_fd);
  if (!pipe.write_line(
          dump({{"opbench_worker", kWorkerProtocol}, {"build", codec::to_json(build_info())}}))) {
    return 2;
  }
  Selection sel;
  RunOptions options;
  std::vector<CasePlan> plan;
  std::map<std::string, std::size_t> by_name;
  std::unique_ptr<CaseRunner> runner;
  std::string text;
  while (pipe.read_line(text, -1) == LinePipe::Read::line) {
    json request, answer;
    try {
      request = json::parse(text);
      if (!request.is_object()) throw std::runtime_error("a request is a JSON object");
      if (request.contains("quit")) return 0;
      if (request.contains("setup")) {
        const json& s = request.at("setup");
        sel = codec::selection_from(s.at("selection"));
        options = codec::options_from(s.at("options"));
        prepare_process(options);
        bool nothing = false;
        if (s.value("known_only", false)) sel = known_part(reg, sel, nothing);
        plan = nothing ? std::vector<CasePlan>{} : plan_cases(reg, sel, data);
        by_name.clear();
        for (std::size_t i = 0; i < plan.size(); ++i) by_name[plan[i].name] = i;
        runner = std::make_unique<CaseRunner>(reg, data, sel, options,
                                              s.at("repetitions_now").get<int>());
        // Every case of this build's plan, for a planner that joins two builds' plans (ab).
        json cases = json::array();
        for (const CasePlan& c : plan) {
          cases.push_back({{"record", codec::to_json(record_of(c))}, {"skip", c.skip_reason}});
        }
        answer = {{"ready", plan.size()}, {"cases", std::move(cases)}};
      } else if (request.contains("first") || request.contains("again")) {
        if (!runner) throw std::runtime_error("a case was asked for before the setup");
        const bool first = request.contains("first");
        const std::string name = request.at(first ? "first" : "again").get<std::string>();
        const auto it = by_name.find(name);
        if (it == by_name.end()) {
          throw std::runtime_error("no case named '" + name + "' in this build's plan");
        }
        const CasePlan& c = plan[it->second];
        if (first) {
          FirstUnit unit = runner->first(c);
          answer = {{"first",
                     {{"record", codec::to_json(unit.record)},
                      {"dataset", unit.dataset ? codec::to_json(*unit.dataset) : json(nullptr)},
                      {"iterations", unit.iterations}}}};
        } else {
          RoundUnit unit = runner->again(c, request.at("round").get<int>(),
                                         request.at("iterations").get<std::int64_t>());
          answer = {
              {"again",
               {{"repetition", unit.repetition ? codec::to_json(*unit.repetition) : json(nullptr)},
                {"error", unit.error}}}};
        }
        answer["lost"] = lost_backend(plan);
      } else {
        throw std::runtime_error("an unknown request");
      }
    } catch (const std::exception& e) {
      answer = {{"error", e.what()}};
    }
    if (!pipe.write_line(dump(answer))) return 2;
    // A lost backend cannot run more cases in this process: the planner starts a fresh one.
    if (answer.contains("lost") && !answer.at("lost").get<std::string>().empty()) return 0;
  }
  return 0;
}

}  // namespace opbench
