#pragma once
// What the runner needs from datasets/ (seeded generation, .npy files, checksums), as an interface
// so that the harness names nothing project-specific. datasets/ implements it.
#include <cstdint>
#include <string>
#include <vector>

#include "harness/tensor.hpp"

namespace opbench {

struct NpyHeader {
  DType dtype = DType::f32;
  Shape shape;
};

class DataProvider {
 public:
  virtual ~DataProvider() = default;
  // Names of the distributions `dist` may take ("normal", "uniform", ...).
  virtual std::vector<std::string> distributions() const = 0;
  // Fills `t` from distribution `spec` (a name or a fixed spec such as "uniform(0.5,1.5)").
  // Values depend only on (spec, seed, element index): identical for any thread count.
  // Throws UsageError for an unknown spec.
  virtual void fill(Tensor& t, const std::string& spec, std::uint64_t seed) const = 0;
  virtual std::string checksum(const Tensor& t) const = 0;
  // .npy files; every problem (missing, truncated, unsupported dtype) is a UsageError naming the
  // file.
  virtual NpyHeader read_npy_header(const std::string& path) const = 0;
  virtual Tensor read_npy(const std::string& path) const = 0;
  virtual void write_npy(const Tensor& t, const std::string& path) const = 0;
};

}  // namespace opbench
