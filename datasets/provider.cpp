#include "datasets/provider.hpp"

#include "datasets/checksum.hpp"
#include "datasets/distributions.hpp"
#include "datasets/npy.hpp"

namespace opbench::datasets {

std::vector<std::string> SeededDataProvider::distributions() const {
  return distribution_names();
}

void SeededDataProvider::fill(Tensor& t, const std::string& spec, std::uint64_t seed) const {
  fill_distribution(t, spec, seed);
}

std::string SeededDataProvider::checksum(const Tensor& t) const {
  return tensor_checksum(t);
}

NpyHeader SeededDataProvider::read_npy_header(const std::string& path) const {
  return datasets::read_npy_header(path);
}

Tensor SeededDataProvider::read_npy(const std::string& path) const {
  return datasets::read_npy(path);
}

void SeededDataProvider::write_npy(const Tensor& t, const std::string& path) const {
  datasets::write_npy(t, path);
}

}  // namespace opbench::datasets
