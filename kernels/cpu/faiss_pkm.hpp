#pragma once
// The FAISS peer of the pkm family: exact inner-product search (faiss::IndexFlatIP) over the N
// product keys of each head, materialized once when the kernel is built, like any flat index.
// Built only when FAISS was found (OPBENCH_HAVE_FAISS).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/pkm_types.hpp"

namespace faiss {
struct IndexFlatIP;
}

namespace opbench::faiss_peer {

std::string version();  // "1.7.3"

class FlatTopk {
 public:
  FlatTopk(const float* k1, const float* k2, const pkm::Dims& d);
  ~FlatTopk();
  // scores, indices: [tokens, heads, k]. FAISS orders equal scores as its heap leaves them, not
  // necessarily by the smaller index (the agreement check counts those as ties).
  void run(const float* q, float* scores, std::int64_t* indices);

 private:
  pkm::Dims d_;
  std::vector<std::unique_ptr<faiss::IndexFlatIP>> heads_;
  std::vector<float> queries_, distances_;  // one head's queries and results
  std::vector<std::int64_t> labels_;
};

}  // namespace opbench::faiss_peer
