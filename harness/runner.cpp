// run_cases(): for every planned case, make its inputs (once per dataset), compute the float64
// reference (once per dataset), bind and run the implementation once on poisoned outputs, compare,
// then time it through Google Benchmark. A case that throws is recorded and the run goes on.
#include "harness/runner.hpp"

#include <cblas.h>
#include <malloc.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "harness/build_info.hpp"
#include "harness/ceilings.hpp"
#include "harness/device.hpp"
#include "harness/errors.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/repetitions.hpp"
#include "harness/sampling.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

// A ceiling is the best the machine did in this run: the fastest of a few repetitions, so that a
// noisy neighbour understates it less often (kernels report their median or mean).
constexpr int kCeilingRepetitions = 5;

std::uint64_t mix64(std::uint64_t x) {  // SplitMix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Inputs and float64 reference outputs of one (op, dtype, parameter point). With a sample, the
// reference covers only the sampled rows: `ref_inputs` and `ref_params` are what it ran on.
struct Dataset {
  std::string key;
  TensorMap inputs;
  Sample sample;
  TensorMap ref_inputs;
  Params ref_params;
  TensorMap reference;
  DatasetRecord record;
  std::string error;  // the reference itself failed
};

std::string input_spec(const Op& op, const TensorDecl& t, const Params& p) {
  const std::string dist = p.has("dist") ? p.str("dist") : "";
  if (op.input_dist) {
    std::string spec = op.input_dist(t, dist);
    if (!spec.empty()) return spec;
  }
  return t.dist == "$dist" ? dist : t.dist;
}

// The inputs of a case's dataset, generated or read from the user's files, prepared for the op's
// scenario, with their records (source, dist, seed). Timing rounds after the first call it
// again: the same seeds give the same values, in freshly allocated buffers.
Dataset make_inputs(const CasePlan& c, const DataProvider& data, const Selection& sel,
                    const RunOptions& options) {
  Dataset d;
  d.key = c.dataset_key;
  d.record.key = c.dataset_key;
  const Op& op = *c.op;
  std::vector<TensorRecord> records;
  bool user_input = false;
  for (const auto& t : op.tensors) {
    if (t.output) continue;
    TensorRecord rec;
    rec.name = t.name;
    if (auto in = sel.inputs.find(t.name); in != sel.inputs.end()) {
      d.inputs[t.name] = data.read_npy(in->second);
      rec.source = in->second;
      user_input = true;
    } else {
      Tensor x(c.dtype, op.shape_of(t, c.params));
      rec.dist = input_spec(op, t, c.params);
      rec.seed = mix64(options.seed ^ fnv1a(op.name + "/" + t.name));
      data.fill(x, rec.dist, rec.seed);
      d.inputs[t.name] = x;
      rec.source = "generated";
    }
    records.push_back(rec);
  }
  if (op.prepare_inputs && !user_input) op.prepare_inputs(d.inputs, c.params);
  d.record.tensors = std::move(records);
  return d;
}

// The inputs, their checksums, the sample and the float64 reference outputs.
Dataset make_dataset(const CasePlan& c, const DataProvider& data, const Selection& sel,
                     const RunOptions& options) {
  Dataset d = make_inputs(c, data, sel, options);
  const Op& op = *c.op;
  for (auto& rec : d.record.tensors) {
    const Tensor& x = d.inputs.at(rec.name);
    rec.dtype = std::string(dtype_name(x.dtype()));
    rec.shape = x.shape();
    rec.checksum = data.checksum(x);
  }
  if (!options.full_check) {
    d.sample = choose_sample(op, c.params, options.reference_budget_flops,
                             mix64(options.seed ^ fnv1a(c.dataset_key + "/sample")));
  }
  d.ref_params = sampled_params(c.params, d.sample);
  d.ref_inputs = gather_rows(op, d.inputs, d.sample);
  if (d.sample.active()) {
    d.record.sample_axis = d.sample.axis;
    d.record.sample_rows = d.sample.rows;
    d.record.sample_of = d.sample.of;
    d.record.sample_seed = d.sample.seed;
  }
  for (const auto& t : op.tensors) {
    if (!t.output) continue;
    Tensor y(t.index ? DType::i64 : DType::f64, op.shape_of(t, d.ref_params));
    y.poison();
    d.reference[t.name] = y;
  }
  try {
    op.reference(d.ref_inputs, d.reference, d.ref_params);
  } catch (const std::exception& e) {
    d.error = std::string("reference failed: ") + e.what();
  }
  return d;
}

// The outputs of a case, poisoned so that an element the kernel leaves unwritten fails agreement.
// Later timing rounds skip the poison: nothing is compared there.
TensorMap allocate_outputs(const CasePlan& c, bool poison = true) {
  TensorMap out;
  for (const auto& t : c.op->tensors) {
    if (!t.output) continue;
    DType dt = t.index ? DType::i64 : (c.impl->is_reference ? DType::f64 : c.dtype);
    Tensor y(dt, c.op->shape_of(t, c.params));
    if (poison) y.poison();
    out[t.name] = y;
  }
  return out;
}

// The implementation's outputs against the reference, on the sampled rows when sampled; the op's
// own comparison (ties in routing or top-k) when it has one.
Agreement compare_outputs(const CasePlan& c, const TensorMap& out, const Dataset& d) {
  const Tolerance tol = c.op->tolerance ? c.op->tolerance(c.dtype) : Tolerance{};
  const TensorMap checked = gather_rows(*c.op, out, d.sample);
  if (c.op->compare) return c.op->compare(d.ref_inputs, checked, d.reference, d.ref_params, tol);
  Agreement total;
  for (const auto& t : c.op->tensors) {
    if (!t.output) continue;
    merge_agreement(
        total, compare_tensor(t.name, checked.at(t.name), d.reference.at(t.name), tol, t.index));
  }
  return total;
}

nlohmann::json sample_json(const DatasetRecord& r) {
  if (r.sample_axis.empty()) return nullptr;
  return {{"axis", r.sample_axis},
          {"rows", r.sample_rows},
          {"of", r.sample_of},
          {"seed", r.sample_seed}};
}

std::string case_folder(const std::string& key) {
  std::string s = key;
  for (char& ch : s) {
    if (ch == '/') ch = '.';
    if (ch == ':') ch = '-';
  }
  return s;
}

// --dump: inputs, the reference and each implementation's outputs as .npy, and case.json.
class Dumper {
 public:
  Dumper(std::string dir, const DataProvider& data) : dir_(std::move(dir)), data_(data) {}
  bool enabled() const { return !dir_.empty(); }
  void dataset(const CasePlan& c, const Dataset& d) {
    folder_ = dir_ + "/" + case_folder(d.key);
    std::filesystem::create_directories(folder_);
    for (const auto& [name, t] : d.inputs) data_.write_npy(t, folder_ + "/" + name + ".npy");
    for (const auto& [name, t] : d.reference) {
      data_.write_npy(t, folder_ + "/ref." + name + ".npy");
    }
    info_ = nlohmann::json{{"name", d.key},
                           {"suite", c.op->suite},
                           {"op", c.op->name},
                           {"dtype", std::string(dtype_name(c.dtype))},
                           {"params", nlohmann::json::object()},
                           {"inputs", nlohmann::json::array()},
                           {"sample", sample_json(d.record)},
                           {"impls", nlohmann::json::array()}};
    for (const auto& [k, v] : c.params.items()) {
      const bool integer = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
      info_["params"][k] = integer ? nlohmann::json(std::stoll(v)) : nlohmann::json(v);
    }
    for (const auto& t : d.record.tensors) {
      info_["inputs"].push_back({{"name", t.name},
                                 {"source", t.source},
                                 {"dist", t.dist},
                                 {"seed", t.seed},
                                 {"checksum", t.checksum}});
    }
    write_info();
  }
  void impl(const CasePlan& c, const TensorMap& out, const Agreement& a) {
    for (const auto& [name, t] : out) {
      data_.write_npy(t, folder_ + "/" + c.impl->name + "." + name + ".npy");
    }
    info_["impls"].push_back({{"impl", c.impl->name},
                              {"checked", a.checked},
                              {"passed", a.checked && a.passed},
                              {"mismatches", a.mismatches},
                              {"max_abs_err", a.max_abs_err},
                              {"first_mismatch", a.first_mismatch}});
    write_info();
  }

 private:
  void write_info() {
    std::ofstream f(folder_ + "/case.json");
    f << info_.dump(2) << "\n";
  }
  std::string dir_, folder_;
  const DataProvider& data_;
  nlohmann::json info_;
};

// Times `kernel` as one Google Benchmark run. A kernel that throws ends its benchmark with
// SkipWithError and leaves the message in `error`; it never escapes into Google Benchmark.
GbenchResult time_kernel(const std::string& name, TimingStrategy& timing, BoundKernel& kernel,
                         std::string& error, int repetitions = 0, std::int64_t iterations = 0) {
  return run_gbench(
      name, timing.manual_time() ? ClockKind::manual_time : ClockKind::real_time,
      [&](benchmark::State& st) {
        try {
          timing.measure(st, kernel);
        } catch (const std::exception& e) {
          error = e.what();
          st.SkipWithError(error.c_str());
        }
      },
      repetitions, iterations);
}

nlohmann::json synthetic_context() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  return {{"date", date},
          {"host_name", host},
          {"executable", "opbench"},
          {"num_cpus", hardware_threads()},
          {"library_build_type", "release"}};
}

class Progress {
 public:
  Progress(bool on, std::size_t total) : on_(on), total_(total) {}
  void show(std::size_t i, const std::string& what, const std::string& name) {
    if (!on_) return;
    std::cerr << "\r\033[K[" << i + 1 << "/" << total_ << "] " << what << " " << name << std::flush;
  }
  ~Progress() {
    if (on_) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  bool on_;
  std::size_t total_;
};

// A timed case whose repetitions are taken in rounds (RunOptions::interleave).
struct InterleavedCase {
  std::size_t plan_index = 0;
  std::size_t record_index = 0;  // in RunResult::cases
  std::int64_t iterations = 0;   // found by Google Benchmark in the first round, then fixed
  std::vector<nlohmann::json> runs;
  bool failed = false;
};

// Rounds 2..N of interleaved timing: each round visits the timed datasets in a seeded random
// order and times one repetition of each of their cases (also in random order). Each round makes
// the inputs again, in fresh buffers: where a buffer lands (huge pages or not, its alignment to
// the caches) moved single cases by up to 50% between two runs, so the repetitions must sample it
// too. (Keeping the first round's inputs made runs faster, but two runs then differed beyond
// their spread.)
void time_remaining_rounds(const std::vector<CasePlan>& plan, const DataProvider& data,
                           const Selection& sel, const RunOptions& options, int repetitions,
                           std::vector<InterleavedCase>& timed, RunResult& result) {
  std::vector<std::vector<std::size_t>> groups;  // indices into `timed`, one group per dataset
  for (std::size_t t = 0; t < timed.size(); ++t) {
    if (timed[t].failed) continue;
    const std::string& key = plan[timed[t].plan_index].dataset_key;
    if (groups.empty() || plan[timed[groups.back().front()].plan_index].dataset_key != key) {
      groups.emplace_back();
    }
    groups.back().push_back(t);
  }
  Progress progress(options.progress, static_cast<std::size_t>(repetitions));
  for (int round = 1; round < repetitions; ++round) {
    progress.show(static_cast<std::size_t>(round), "timing round", "of every case");
    std::mt19937_64 rng(
        mix64(options.seed ^ (0x726f756e64ULL + static_cast<std::uint64_t>(round))));
    std::shuffle(groups.begin(), groups.end(), rng);
    for (auto& group : groups) {
      std::shuffle(group.begin(), group.end(), rng);
      const TensorMap* inputs = nullptr;
      std::optional<Dataset> made;
      // The implementations of a dataset share output buffers within a round (one set for
      // float64 outputs, one for the others): fresh buffers cost page faults, most of a round.
      std::map<bool, TensorMap> outputs_by_kind;
      for (std::size_t t : group) {
        InterleavedCase& tc = timed[t];
        if (tc.failed) continue;
        const CasePlan& c = plan[tc.plan_index];
        std::string error;
        try {
          if (!inputs) {
            made = make_inputs(c, data, sel, options);
            inputs = &made->inputs;
          }
          auto slot = outputs_by_kind.find(c.impl->is_reference);
          if (slot == outputs_by_kind.end()) {
            slot = outputs_by_kind.emplace(c.impl->is_reference, allocate_outputs(c, false)).first;
          }
          auto kernel = c.impl->bind(*inputs, slot->second, c.params);
          auto timing = make_timing(c.impl->backend);
          auto r = time_kernel(c.name, *timing, *kernel, error, 1, tc.iterations);
          if (error.empty() && r.benchmarks.size() == 1) {
            tc.runs.push_back(std::move(r.benchmarks[0]));
            continue;
          }
          if (error.empty()) error = "Google Benchmark returned no single repetition";
          tc.runs = r.benchmarks;
        } catch (const std::exception& e) {
          error = e.what();
          tc.runs.clear();
        }
        tc.failed = true;
        result.cases[tc.record_index].error =
            "repetition " + std::to_string(round + 1) + ": " + error;
      }
      // Datasets come in random order, so freed blocks of one size rarely fit the next request:
      // without handing them back, the heap grew by every round (14 GB after 9 rounds of the
      // norm suite, 2 GB for one).
      malloc_trim(0);
    }
  }
}

}  // namespace

RunResult run_cases(const Registry& reg, const std::vector<CasePlan>& plan,
                    const DataProvider& data, const Selection& sel, const RunOptions& options) {
  (void)reg;
  RunResult result;
  // Cases allocate and poison outputs and inputs of up to hundreds of MiB one after another.
  // glibc hands such blocks back to the kernel on free and maps them fresh the next time, so
  // every case paid the page faults of first touch again (most of a quick run's wall time);
  // kept in the heap, the next case reuses pages that are already mapped.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  result.threads = options.threads > 0 ? options.threads : hardware_threads();
  omp_set_num_threads(result.threads);
  openblas_set_num_threads(result.threads);
  result.build = build_info();
  result.timed = options.time;
  result.command_line = options.command_line;
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin_count = std::getenv("GOMP_SPINCOUNT");
  result.devices.push_back("cpu: " + cpu_model_name() + ", " + std::to_string(result.threads) +
                           " threads, OMP_WAIT_POLICY=" + (wait_policy ? wait_policy : "default") +
                           (spin_count ? std::string(", GOMP_SPINCOUNT=") + spin_count : ""));
  for (const auto& d : cuda_device_names()) result.devices.push_back(d);
  result.gbench = {{"context", synthetic_context()}, {"benchmarks", nlohmann::json::array()}};
  if (options.time) init_gbench(options.benchmark_flags);
  const std::string filter = options.time ? gbench_filter() : "";

  // Ceilings first: a copy of each distinct size per backend, and an SGEMM on the CPU.
  bool have_context = false;
  auto measure_ceiling = [&](const std::string& backend, const std::string& kind, double bytes,
                             double flops, std::unique_ptr<BoundKernel> k) {
    if (!k) return;
    auto timing = make_timing(backend);
    if (!timing) return;
    std::ostringstream name;
    name << "ceiling/" << kind << "/" << backend << "/"
         << (kind == "copy" ? "bytes:" + std::to_string(static_cast<long long>(bytes))
                            : "flops:" + std::to_string(static_cast<long long>(flops)));
    std::string error;
    auto r = time_kernel(name.str(), *timing, *k, error, kCeilingRepetitions);
    if (!error.empty()) return;  // no ceiling: fractions against it stay unknown (null)
    if (!have_context) {
      result.gbench["context"] = r.context;
      have_context = true;
    }
    Ceiling c{backend, kind, bytes, flops, fastest_seconds(r.benchmarks)};
    result.ceilings.push_back(c);
  };
  if (options.time) {
    std::vector<std::pair<std::string, double>> copies;
    bool any_host = false;
    for (const auto& c : plan) {
      if (!c.skip_reason.empty() || !gbench_filter_matches(filter, c.name)) continue;
      const std::string backend = c.impl->backend == "cuda" ? "cuda" : "cpu";
      any_host = any_host || backend == "cpu";
      const double bytes = c.op->cost ? c.op->cost(c.params, c.dtype).bytes : 0;
      // One copy per size class: sizes within 10% of a copy already planned share it (the report
      // matches each case to the nearest copy size).
      const bool covered = std::any_of(copies.begin(), copies.end(), [&](const auto& k) {
        return k.first == backend && std::abs(std::log(bytes / k.second)) < std::log(1.1);
      });
      if (bytes > 0 && !covered) copies.emplace_back(backend, bytes);
    }
    Progress progress(options.progress, copies.size() + 1);
    std::size_t i = 0;
    if (any_host) {
      progress.show(i++, "ceiling", "sgemm 1024");
      const int n = 1024;
      measure_ceiling("cpu", "sgemm", 0, 2.0 * n * n * n, make_host_sgemm(n));
    }
    for (const auto& [backend, bytes] : copies) {
      progress.show(i++, "ceiling", "copy " + std::to_string(static_cast<long long>(bytes)));
      measure_ceiling(backend, "copy", bytes, 0,
                      backend == "cuda" ? make_device_copy(bytes) : make_host_copy(bytes));
    }
  }

  // Interleaved repetitions: the first in this loop, right after the check; the others in rounds.
  const int repetitions = options.time ? gbench_repetitions() : 1;
  const int interleaving_flag = options.time ? gbench_random_interleaving() : -1;
  const bool interleave =
      repetitions > 1 && (interleaving_flag >= 0 ? interleaving_flag == 1 : options.interleave);
  std::vector<InterleavedCase> interleaved;
  result.interleaved = interleave;

  Dumper dumper(options.dump_dir, data);
  std::optional<Dataset> dataset;
  Progress progress(options.progress, plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const CasePlan& c = plan[i];
    if (!gbench_filter_matches(filter, c.name)) continue;
    CaseRecord rec;
    rec.name = c.name;
    rec.suite = c.op->suite;
    rec.op = c.op->name;
    rec.impl = c.impl->name;
    rec.backend = c.impl->backend;
    rec.dtype = std::string(dtype_name(c.dtype));
    rec.params = c.params;
    rec.cost = c.op->cost ? c.op->cost(c.params, c.dtype) : Cost{};
    rec.is_reference = c.impl->is_reference;
    rec.dataset = c.dataset_key;
    if (!c.skip_reason.empty()) {
      rec.error = "skipped: " + c.skip_reason;
      result.cases.push_back(rec);
      continue;
    }
    progress.show(i, "checking", c.name);
    if (!dataset || dataset->key != c.dataset_key) {
      dataset.reset();  // free the previous dataset before making the next
      dataset = make_dataset(c, data, sel, options);
      result.datasets.push_back(dataset->record);
      if (dumper.enabled()) dumper.dataset(c, *dataset);
    }
    if (!dataset->error.empty()) {
      rec.error = dataset->error;
      result.cases.push_back(rec);
      continue;
    }
    if (c.impl->is_reference && dataset->sample.active()) {
      // The whole float64 reference is what sampling avoids; timing it would cost the same.
      rec.error = "skipped: float64 reference checked on a sample of " +
                  std::to_string(dataset->sample.rows.size()) + " of " +
                  std::to_string(dataset->sample.of) + " " + dataset->sample.axis +
                  " (--full-check runs and times it whole)";
      result.cases.push_back(rec);
      continue;
    }
    TensorMap outputs = allocate_outputs(c);
    std::unique_ptr<BoundKernel> kernel;
    try {
      kernel = c.impl->bind(dataset->inputs, outputs, c.params);
      kernel->run();
      kernel->sync();
      kernel->fetch();
      if (!c.impl->is_reference) {
        rec.agreement = compare_outputs(c, outputs, *dataset);
      }
      if (dumper.enabled()) dumper.impl(c, outputs, rec.agreement);
    } catch (const std::exception& e) {
      rec.error = e.what();
      result.cases.push_back(rec);
      continue;
    }
    if (options.time) {
      progress.show(i, "timing", c.name);
      auto timing = make_timing(c.impl->backend);
      std::string error;
      auto r = time_kernel(c.name, *timing, *kernel, error, interleave ? 1 : 0);
      if (!error.empty()) rec.error = error;
      if (!have_context) {
        result.gbench["context"] = r.context;
        have_context = true;
      }
      if (interleave) {
        InterleavedCase tc;
        tc.plan_index = i;
        tc.record_index = result.cases.size();
        tc.failed = !error.empty() || r.benchmarks.size() != 1;
        if (!tc.failed) tc.iterations = r.benchmarks[0].value("iterations", std::int64_t{0});
        tc.runs = std::move(r.benchmarks);
        interleaved.push_back(std::move(tc));
      } else {
        for (auto& b : r.benchmarks) result.gbench["benchmarks"].push_back(std::move(b));
      }
    }
    result.cases.push_back(rec);
  }
  if (interleave) {
    dataset.reset();
    time_remaining_rounds(plan, data, sel, options, repetitions, interleaved, result);
    for (const auto& tc : interleaved) {
      const bool manual = make_timing(plan[tc.plan_index].impl->backend)->manual_time();
      append_repetitions(tc.runs,
                         plan[tc.plan_index].name + (manual ? "/manual_time" : "/real_time"),
                         gbench_aggregates_only(), result.gbench["benchmarks"]);
    }
  }
  return result;
}

}  // namespace opbench
