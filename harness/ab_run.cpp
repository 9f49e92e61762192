#include "harness/ab_run.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>

#include "harness/case_codec.hpp"
#include "harness/case_data.hpp"
#include "harness/errors.hpp"
#include "harness/interrupt.hpp"
#include "harness/progress.hpp"

namespace opbench {

namespace {

constexpr int kBase = 0, kNext = 1;

// A case of the union: where each build has it (nullptr: that build does not plan it).
struct UnionCase {
  std::string name, dataset;
  std::array<const WorkerCase*, 2> in{nullptr, nullptr};
};

// A timed case of one build whose later repetitions are taken in rounds.
struct Timed {
  std::size_t record = 0;
  std::int64_t iterations = 0;
  bool failed = false;
};

std::vector<UnionCase> union_of(const ProcessWorker& a, const ProcessWorker& b) {
  std::vector<UnionCase> all;
  std::map<std::string, std::size_t> at;
  for (const ProcessWorker* w : {&a, &b}) {
    const int side = w == &a ? kBase : kNext;
    for (const WorkerCase& c : w->cases()) {
      auto [it, added] = at.emplace(c.record.name, all.size());
      if (added) all.push_back({c.record.name, c.record.dataset, {nullptr, nullptr}});
      all[it->second].in[side] = &c;
    }
  }
  return all;
}

// Groups of union cases by dataset, in the order the datasets first appear: a case only one build
// plans joins its dataset's group, so each worker still sees a dataset's cases one after another
// (they share its inputs and reference).
std::vector<std::vector<std::size_t>> dataset_groups(const std::vector<UnionCase>& all) {
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string, std::size_t> group_of;
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto [it, added] = group_of.emplace(all[i].dataset, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

}  // namespace

AbResult run_ab(const WorkerCommand& base, const WorkerCommand& next, const Selection& sel,
                const RunOptions& options, int repetitions, const RunResult& machine) {
  if (repetitions < 1) throw std::invalid_argument("run_ab: repetitions must be at least 1");
  std::array<std::unique_ptr<ProcessWorker>, 2> worker;
  // Each build plans the part of the selection it knows: a kernel only the new build has is
  // selected by name without the base refusing it.
  for (int s : {kBase, kNext}) {
    worker[s] = std::make_unique<ProcessWorker>(s == kBase ? base : next, sel, options, 1,
                                                options.case_timeout_s, /*known_only=*/true);
    worker[s]->pause_when_idle(true);
  }
  for (auto& w : worker) w->start_now();
  if (worker[kBase]->cases().empty() && worker[kNext]->cases().empty()) {
    throw UsageError(
        "neither build plans a case of this selection (each drops the names it does not know: "
        "check --suite, --op and --impl)");
  }

  AbResult out;
  std::array<RunResult*, 2> result{&out.base, &out.next};
  for (int s : {kBase, kNext}) {
    RunResult& r = *result[s];
    r.context = machine.context;
    r.devices = machine.devices;
    r.ceilings = machine.ceilings;
    r.threads = machine.threads;
    r.command_line = machine.command_line;
    r.build = worker[s]->build();
    r.timed = true;
    r.interleaved = repetitions > 1;
    r.workers = "isolated";
    r.settings = {{"selection", codec::to_json(sel)}, {"options", codec::to_json(options)}};
    r.planned = worker[s]->cases().size();
  }
  const std::vector<UnionCase> all = union_of(*worker[kBase], *worker[kNext]);
  for (const UnionCase& c : all) {
    if (!c.in[kNext]) out.only_in_base.push_back(c.name);
    if (!c.in[kBase]) out.only_in_next.push_back(c.name);
  }
  const std::vector<std::vector<std::size_t>> groups_in_order = dataset_groups(all);

  std::mt19937_64 rng(mix64(options.seed ^ 0x61622d72756eULL));
  std::array<std::map<std::size_t, Timed>, 2> timed;  // union index -> the build's timed case
  std::array<std::set<std::string>, 2> datasets_seen;
  std::array<int, 2> sides{kBase, kNext};
  bool stopped = false;
  Progress progress(options.progress, all.size());

  // Round 1: each case's first unit on both builds, the builds in a random order per case; the
  // datasets in plan order (each worker makes a dataset once for all its implementations).
  std::size_t shown = 0;
  for (const auto& group : groups_in_order) {
    for (std::size_t u : group) {
      const UnionCase& c = all[u];
      progress.show(shown++, "checking and timing on both builds", c.name);
      std::shuffle(sides.begin(), sides.end(), rng);
      for (int s : sides) {
        if (!c.in[s] || stopped) continue;
        if (interrupted()) {
          stopped = true;
          continue;
        }
        RunResult& r = *result[s];
        CaseRecord rec = c.in[s]->record;
        std::int64_t iterations = 0;
        if (!c.in[s]->skip.empty()) {
          rec.error = "skipped: " + c.in[s]->skip;
        } else {
          FirstUnit unit = worker[s]->first_named(rec);
          if (unit.interrupted) {
            stopped = true;
            continue;
          }
          if (unit.dataset && datasets_seen[s].insert(unit.dataset->key).second) {
            r.datasets.push_back(*unit.dataset);
          }
          rec = std::move(unit.record);
          iterations = unit.iterations;
        }
        if (rec.error.empty() && rec.timing.timed()) {
          timed[s][u] = Timed{r.cases.size(), iterations, false};
        }
        r.cases.push_back(std::move(rec));
      }
    }
  }

  // Rounds 2..N: every timed case of both builds once per round; datasets, the cases within
  // each, and the two builds of each case in a new random order every round.
  std::vector<std::vector<std::size_t>> groups = groups_in_order;
  for (int round = 1; round < repetitions && !stopped; ++round) {
    progress.show(static_cast<std::size_t>(round), "timing round", "of every case, both builds");
    std::shuffle(groups.begin(), groups.end(), rng);
    for (auto& group : groups) {
      std::shuffle(group.begin(), group.end(), rng);
      for (std::size_t u : group) {
        std::shuffle(sides.begin(), sides.end(), rng);
        for (int s : sides) {
          auto it = timed[s].find(u);
          if (it == timed[s].end() || it->second.failed || stopped) continue;
          if (interrupted()) {
            stopped = true;
            continue;
          }
          Timed& t = it->second;
          CaseRecord& rec = result[s]->cases[t.record];
          RoundUnit unit = worker[s]->again_named(all[u].name, round, t.iterations);
          if (unit.interrupted) {
            stopped = true;
            continue;
          }
          if (unit.repetition && unit.error.empty()) {
            rec.timing.repetitions.push_back(*unit.repetition);
            continue;
          }
          t.failed = true;
          rec.error = "repetition " + std::to_string(round + 1) + ": " +
                      (unit.error.empty() ? "no repetition came back" : unit.error);
          rec.timing.repetitions.clear();
        }
      }
    }
  }
  for (RunResult* r : result) {
    for (CaseRecord& rec : r->cases) rec.rates = case_rates(rec, r->ceilings);
    if (stopped) r->incomplete = interrupt_name();
  }
  return out;
}

}  // namespace opbench
