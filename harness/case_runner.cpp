#include "harness/case_runner.hpp"

#include <cblas.h>
#include <malloc.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <utility>

#include "harness/backend.hpp"
#include "harness/build_info.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

// Compares the outputs again after the timed runs: a kernel that races, drifts or writes
// outside its first run is caught. A case that passed before and fails now is a failure.
// Accumulate-into outputs hold the last timed run's result alone: it started from zeroed buffers.
void recheck_after_timing(const CasePlan& c, BoundKernel& kernel, const TensorMap& outputs,
                          const Dataset& d, Agreement& a) {
  kernel.sync();
  kernel.fetch();
  Agreement again = compare_outputs(c, outputs, d, 0.0);
  again.plain_max_abs_err = a.plain_max_abs_err;
  if (again.passed || !a.passed) return;
  again.first_mismatch = "after the timed runs: " + again.first_mismatch;
  again.changed_during_timing = true;
  a = again;
}

// FlashAttention's second opinion in 16-bit cases: cpu.plain's error on the dataset is kept, and
// every other implementation checked after it on the same dataset carries it.
void second_opinion(const CasePlan& c, Dataset& d, Agreement& a) {
  if (c.dtype != DType::bf16 && c.dtype != DType::f16) return;
  if (c.impl->name == "cpu.plain") {
    if (a.checked) d.plain_max_abs_err = a.max_abs_err;
  } else if (a.checked) {
    a.plain_max_abs_err = d.plain_max_abs_err;
  }
}

// A kernel of an op with accumulate-into outputs, as the timing strategies see it: each timed run
// must start from zeroed buffers (harness/op.hpp), so reset_accumulators() zeroes the host
// tensors, then lets a device kernel clear its own copies.
class ZeroedAccumulators final : public BoundKernel {
 public:
  ZeroedAccumulators(std::unique_ptr<BoundKernel> inner, const Op& op, TensorMap& outputs)
      : inner_(std::move(inner)), op_(op), outputs_(outputs) {
    // A device kernel that does not reset its own copies would accumulate over the timed runs
    // while the host tensors look zeroed: refused, not timed wrongly.
    if (inner_->stream() != nullptr && !inner_->accumulates()) {
      throw std::logic_error(
          "a device kernel of an op with accumulate-into outputs must reset them itself "
          "(BoundKernel::accumulates and reset_accumulators)");
    }
  }
  void run() override { inner_->run(); }
  void sync() override { inner_->sync(); }
  void fetch() override { inner_->fetch(); }
  void* stream() const override { return inner_->stream(); }
  bool accumulates() const override { return true; }
  void reset_accumulators() override {
    fill_accumulators(op_, outputs_, 0.0);
    inner_->reset_accumulators();
  }

 private:
  std::unique_ptr<BoundKernel> inner_;
  const Op& op_;
  TensorMap& outputs_;
};

bool has_accumulators(const Op& op) {
  for (const auto& t : op.tensors) {
    if (t.output && t.accumulate) return true;
  }
  return false;
}

// Binds the case's implementation, wrapped when its op accumulates into outputs.
std::unique_ptr<BoundKernel> bind_case(const CasePlan& c, const TensorMap& inputs,
                                       TensorMap& outputs) {
  auto kernel = c.impl->bind(inputs, outputs, c.params);
  if (!has_accumulators(*c.op)) return kernel;
  return std::make_unique<ZeroedAccumulators>(std::move(kernel), *c.op, outputs);
}

// Wall seconds of one call of the kernel, synchronised (after zeroing its accumulators, untimed).
double seconds_of_one_call(BoundKernel& kernel) {
  if (kernel.accumulates()) kernel.reset_accumulators();
  const auto start = std::chrono::steady_clock::now();
  kernel.run();
  kernel.sync();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The heap is kept mapped between cases (prepare_process), but blocks of one dataset's sizes
// rarely fit the next one's: freed and never reused, they grew one `check --full` process by
// ~0.2 GB per large case (layernorm_backward at 16384x4097 from 3.4 to 4.7 GB over three cases)
// until a 16 GB machine ran out of memory. Past an eighth of the machine's memory (0.5 to 4 GiB)
// of free heap it is handed back, so a process holds at most its live buffers and that much.
// Handing it back after every dataset bounded the heap too, but every dataset then paid the page
// faults of first touch again: 32 large norm cases took 2:41 instead of 1:40 (8.5 million faults).
std::size_t idle_heap_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const std::size_t memory =
      pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : 0;
  return std::clamp(memory / 8, std::size_t{512} << 20, std::size_t{4} << 30);
}
void release_idle_heap() {
  static const std::size_t limit = idle_heap_limit();
  if (mallinfo2().fordblks > limit) malloc_trim(0);
}

}  // namespace

int prepare_process(const RunOptions& options) {
  // Cases allocate and poison outputs and inputs of up to hundreds of MiB one after another.
  // glibc hands such blocks back to the kernel on free and maps them fresh the next time, so
  // every case paid the page faults of first touch again (most of a quick run's wall time);
  // kept in the heap, the next case reuses pages that are already mapped.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const int threads = options.threads > 0 ? options.threads : hardware_threads();
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  if (options.time) init_gbench(options.benchmark_flags);
  return threads;
}

CaseRecord record_of(const CasePlan& c) {
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
  return rec;
}

CaseRunner::CaseRunner(const Registry& reg, const DataProvider& data, const Selection& sel,
                       const RunOptions& options, int repetitions_now)
    : reg_(reg),
      data_(data),
      sel_(sel),
      options_(options),
      repetitions_now_(repetitions_now),
      min_time_(min_time_seconds(options.benchmark_flags)),
      dumper_(options.dump_dir, data) {}

FirstUnit CaseRunner::first(const CasePlan& c) {
  FirstUnit unit;
  CaseRecord& rec = unit.record;
  rec = record_of(c);
  auto fail = [&](std::string error) {
    rec.error = std::move(error);
    rec.agreement.status = AgreementStatus::error;
    return std::move(unit);
  };
  if (!dataset_ || dataset_->key != c.dataset_key) {
    dataset_.reset();  // free the previous dataset before making the next
    round_inputs_.reset();
    round_outputs_.reset();
    round_key_.clear();
    release_idle_heap();
    dataset_ = make_dataset(c, data_, sel_, options_);
    unit.dataset = dataset_->record;
    if (dumper_.enabled()) dumper_.dataset(c, *dataset_);
  }
  if (!dataset_->error.empty()) return fail(dataset_->error);
  // The contract itself: computed with the dataset, compared with nothing, and not timed (a
  // float64 loop is no baseline for a kernel; speedups are over cpu.plain).
  if (c.impl->is_reference) return unit;
  if (const std::string lost = c.backend->lost(); !lost.empty()) return fail(lost);

  TensorMap outputs = allocate_outputs(c);
  std::unique_ptr<BoundKernel> kernel;
  try {
    kernel = bind_case(c, dataset_->inputs, outputs);
    kernel->run();
    kernel->sync();
    kernel->fetch();
    rec.agreement = compare_outputs(c, outputs, *dataset_);
    second_opinion(c, *dataset_, rec.agreement);
    settle_status(rec.agreement, reg_.known_failures().match(c.name));
    if (dumper_.enabled()) dumper_.impl(c, outputs, rec.agreement);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  if (!options_.time) return unit;
  auto timing = c.backend->timing(c.timing_mode);
  if (!timing) return fail(c.backend->name() + " cannot time in mode '" + c.timing_mode + "'");
  rec.timing.clock = timing->manual_time() ? "manual_time" : "real_time";
  rec.timing.mode = c.timing_mode;
  // On the host, the iterations come from one more untimed call (warm, as the timed ones are),
  // not from Google Benchmark's search for them, which takes as long again as the measurement.
  // Device timings keep the search: their iterations hold more than the call (a cache flush).
  std::int64_t iterations = 0;
  if (!timing->manual_time() && min_time_ > 0) {
    try {
      iterations = iterations_filling(min_time_, seconds_of_one_call(*kernel));
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
  GbenchRun r = time_kernel(c.name, *timing, *kernel, repetitions_now_, iterations);
  if (!r.error.empty()) return fail(r.error);
  rec.timing.repetitions = std::move(r.repetitions);
  try {
    recheck_after_timing(c, *kernel, outputs, *dataset_, rec.agreement);
    settle_status(rec.agreement, reg_.known_failures().match(c.name));
  } catch (const std::exception& e) {
    return fail(std::string("after the timed runs: ") + e.what());
  }
  if (!rec.timing.repetitions.empty()) unit.iterations = rec.timing.repetitions.front().iterations;
  return unit;
}

// Each round makes the inputs again, in fresh buffers: where a buffer lands (huge pages or not,
// its alignment to the caches) moved single cases by up to 50% between two runs, so the
// repetitions must sample it too. (Keeping the first round's inputs made runs faster, but two
// runs then differed beyond their spread.) The implementations of a dataset share the round's
// inputs and output buffers: fresh buffers cost page faults, most of a round.
RoundUnit CaseRunner::again(const CasePlan& c, int round, std::int64_t iterations) {
  RoundUnit unit;
  try {
    const std::string key = c.dataset_key + "#" + std::to_string(round);
    if (round_key_ != key) {
      dataset_.reset();  // the first units are over once rounds are taken
      round_inputs_.reset();
      round_outputs_.reset();
      // Datasets come in random order, so freed blocks of one size rarely fit the next request:
      // without handing them back, the heap grew by every round (14 GB after 9 rounds of the
      // norm suite, 2 GB for one).
      malloc_trim(0);
      round_key_ = key;
      round_inputs_ = make_inputs(c, data_, sel_, options_);
    }
    if (!round_outputs_) round_outputs_ = allocate_outputs(c, false);
    auto kernel = bind_case(c, round_inputs_->inputs, *round_outputs_);
    auto timing = c.backend->timing(c.timing_mode);
    if (!timing) throw std::runtime_error(c.backend->name() + " cannot time this case");
    GbenchRun r = time_kernel(c.name, *timing, *kernel, 1, iterations);
    if (r.error.empty() && r.repetitions.size() == 1) {
      unit.repetition = std::move(r.repetitions[0]);
      return unit;
    }
    unit.error = r.error.empty() ? "Google Benchmark returned no single repetition" : r.error;
  } catch (const std::exception& e) {
    unit.error = e.what();
  }
  return unit;
}

}  // namespace opbench
