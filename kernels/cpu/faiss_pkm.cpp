// The FAISS peer of the pkm family (see faiss_pkm.hpp).
#include "kernels/cpu/faiss_pkm.hpp"

#include <faiss/IndexFlat.h>

#include <algorithm>

namespace opbench::faiss_peer {

std::string version() {
  return std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
         std::to_string(FAISS_VERSION_PATCH);
}

FlatTopk::FlatTopk(const float* k1, const float* k2, const pkm::Dims& d)
    : d_(d),
      queries_(static_cast<std::size_t>(d.tokens * d.dk)),
      distances_(static_cast<std::size_t>(d.tokens * d.k)),
      labels_(static_cast<std::size_t>(d.tokens * d.k)) {
  const std::int64_t half = d.half();
  std::vector<float> keys(static_cast<std::size_t>(d.keys() * d.dk));
  for (std::int64_t h = 0; h < d.heads; ++h) {
    for (std::int64_t i = 0; i < d.n; ++i) {
      for (std::int64_t j = 0; j < d.n; ++j) {
        float* key = keys.data() + (i * d.n + j) * d.dk;
        std::copy_n(k1 + (h * d.n + i) * half, half, key);
        std::copy_n(k2 + (h * d.n + j) * half, half, key + half);
      }
    }
    auto index = std::make_unique<faiss::IndexFlatIP>(d.dk);
    index->add(d.keys(), keys.data());  // ids are the insertion order: the product index
    heads_.push_back(std::move(index));
  }
}

FlatTopk::~FlatTopk() = default;

void FlatTopk::run(const float* q, float* scores, std::int64_t* indices) {
  const pkm::Dims d = d_;
  for (std::int64_t h = 0; h < d.heads; ++h) {
    for (std::int64_t t = 0; t < d.tokens; ++t) {
      std::copy_n(q + (t * d.heads + h) * d.dk, d.dk, queries_.data() + t * d.dk);
    }
    heads_[h]->search(d.tokens, queries_.data(), d.k, distances_.data(), labels_.data());
    for (std::int64_t t = 0; t < d.tokens; ++t) {
      std::copy_n(distances_.data() + t * d.k, d.k, scores + (t * d.heads + h) * d.k);
      std::copy_n(labels_.data() + t * d.k, d.k, indices + (t * d.heads + h) * d.k);
    }
  }
}

}  // namespace opbench::faiss_peer
