#pragma once
// --dump DIR: every case as DIR/<case>/<tensor>.npy (inputs), ref.<output>.npy (the float64
// reference), <impl>.<output>.npy (each implementation) and case.json (name, parameters, seeds,
// and each implementation's agreement), for numpy or PyTorch.
#include <nlohmann/json.hpp>
#include <string>

#include "harness/case_data.hpp"

namespace opbench {

class Dumper {
 public:
  Dumper(std::string dir, const DataProvider& data) : dir_(std::move(dir)), data_(data) {}
  bool enabled() const { return !dir_.empty(); }
  // Starts the folder of a dataset: its inputs, the reference outputs and case.json.
  void dataset(const CasePlan& c, const Dataset& d);
  // Adds one implementation's outputs and agreement.
  void impl(const CasePlan& c, const TensorMap& out, const Agreement& a);

 private:
  void write_info();
  std::string dir_, folder_;
  const DataProvider& data_;
  nlohmann::json info_;
};

}  // namespace opbench
