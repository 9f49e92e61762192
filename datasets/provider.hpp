#pragma once
// The DataProvider the runner uses: seeded counter-based generators, .npy files, checksums.
#include "harness/data_provider.hpp"

namespace opbench::datasets {

class SeededDataProvider final : public DataProvider {
 public:
  std::vector<std::string> distributions() const override;
  void fill(Tensor& t, const std::string& spec, std::uint64_t seed) const override;
  std::string checksum(const Tensor& t) const override;
  NpyHeader read_npy_header(const std::string& path) const override;
  Tensor read_npy(const std::string& path) const override;
  void write_npy(const Tensor& t, const std::string& path) const override;
};

}  // namespace opbench::datasets
