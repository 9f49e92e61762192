#pragma once
// The data of a case: its inputs (generated or the user's), the float64 reference outputs (on a
// sample of rows where the whole reference would dominate the run), output buffers poisoned so
// that unwritten elements fail, and the comparison that gives the case its agreement status.
#include <cstdint>
#include <string>

#include "harness/data_provider.hpp"
#include "harness/known_failures.hpp"
#include "harness/results.hpp"
#include "harness/runner.hpp"
#include "harness/sampling.hpp"

namespace opbench {

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
  // cpu.plain's max_abs_err on this dataset once it was checked (bf16 and f16 only), for the
  // other implementations' second opinion (Agreement::plain_max_abs_err); negative before.
  double plain_max_abs_err = -1;
};

std::uint64_t mix64(std::uint64_t x);       // SplitMix64 finalizer
std::uint64_t fnv1a(const std::string& s);  // 64-bit FNV-1a of a string

// The inputs of a case's dataset, generated or read from the user's files, prepared for the op's
// scenario, with their records (source, dist, seed). The same seeds give the same values, so a
// timing round can make them again in fresh buffers.
Dataset make_inputs(const CasePlan& c, const DataProvider& data, const Selection& sel,
                    const RunOptions& options);

// The inputs, their checksums, the sample and the float64 reference outputs.
Dataset make_dataset(const CasePlan& c, const DataProvider& data, const Selection& sel,
                     const RunOptions& options);

// The outputs of a case in the case's dtype (float64 for the reference, i64 for index outputs),
// poisoned unless `poison` is false (timing rounds that compare nothing); with `poison`, an
// implementation's accumulate-into outputs hold kAccumulateBase instead (harness/op.hpp).
TensorMap allocate_outputs(const CasePlan& c, bool poison = true);

// The implementation's outputs against the reference, on the sampled rows when sampled; the op's
// own comparison (ties in routing or top-k) when it has one. Accumulate-into outputs are compared
// as out - `base`, what the buffer held before the run (kAccumulateBase for the agreement run, 0
// after the timed runs, each of which started from a zeroed buffer): in float64, so the op's own
// comparison sees the kernel's contribution. Sets checked/passed and the errors, not the status
// (settle_status does).
Agreement compare_outputs(const CasePlan& c, const TensorMap& out, const Dataset& d,
                          double base = kAccumulateBase);

// Sets every accumulate-into output of `op` in `out` to `value` (0 or kAccumulateBase).
void fill_accumulators(const Op& op, TensorMap& out, double value);

// The status of a compared case: pass or fail, a listed known failure's fail becomes xfail, and a
// listed one that passes keeps the reason so the summary can call the entry stale.
void settle_status(Agreement& a, const KnownFailure* known);

}  // namespace opbench
