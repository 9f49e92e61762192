#pragma once
// The per-element error bounds of the scan family's training steps, from the float64 pass's
// intermediate values: the agreement rule of every gradient `mingru_train`, `gru_train`,
// `minlstm_train` and `lstm_train` return (the error model is derived in
// suites/scan_train_bounds.cpp).
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness/op.hpp"

namespace opbench::scan_train {

// Output name -> the allowed error of each element.
using Bounds = std::map<std::string, std::vector<double>>;

Bounds mingru_bounds(const TensorMap& in, const Params& p);
Bounds gru_bounds(const TensorMap& in, const Params& p);
Bounds minlstm_bounds(const TensorMap& in, const Params& p);
Bounds lstm_bounds(const TensorMap& in, const Params& p);

// The bounds of the last case compared, shared by the implementations of that case (and by the
// check after the timed runs): computing them runs the float64 pass once more. Keyed by the
// parameter point and a hash of the inputs' bytes.
class BoundCache {
 public:
  using Make = Bounds (*)(const TensorMap&, const Params&);
  explicit BoundCache(Make make) : make_(make) {}
  std::shared_ptr<const Bounds> get(const TensorMap& in, const Params& p);

 private:
  Make make_;
  std::mutex mutex_;
  std::string key_;
  std::shared_ptr<const Bounds> bounds_;
};

}  // namespace opbench::scan_train
