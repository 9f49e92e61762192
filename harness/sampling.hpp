#pragma once
// Sampled agreement (DESIGN.md, "Agreement"): where the float64 reference of a whole case would
// dominate the run, it runs on a seeded sample of independent rows along one axis (tokens, batch
// entries) and the implementations are compared on those rows. The sample is recorded in the
// report; `--full-check` turns sampling off.
#include <cstdint>
#include <string>
#include <vector>

#include "harness/op.hpp"

namespace opbench {

struct Sample {
  std::string axis;                // "" when the whole case is checked
  std::vector<std::int64_t> rows;  // sorted indices along `axis`
  std::int64_t of = 0;             // the axis' full extent
  std::uint64_t seed = 0;
  bool active() const { return !axis.empty(); }
};

// However expensive the reference, a sample has at least this many rows: one row could be the
// one an implementation happens to get right.
inline constexpr std::int64_t kMinSampleRows = 4;

// The rows to check for a case of `op` at `p`: none (whole case) unless the op declares a sample
// axis and its reference would cost more than `budget_flops`; then as many rows as the budget
// buys, at least kMinSampleRows, chosen without replacement from `seed`.
Sample choose_sample(const Op& op, const Params& p, double budget_flops, std::uint64_t seed);

// `p` with the sample axis set to the sample's size.
Params sampled_params(const Params& p, const Sample& s);

// The sampled rows of every tensor in `tensors` whose declared leading dim is the sample axis;
// other tensors (weights, keys) are shared as they are.
TensorMap gather_rows(const Op& op, const TensorMap& tensors, const Sample& s);

}  // namespace opbench
