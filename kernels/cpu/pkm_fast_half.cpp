// cpu.fast product-key search, brute force and memory layer in bfloat16 and binary16 storage: the
// float32 kernels of pkm_fast.cpp on the tensors widened to float32, the scores rounded once; the
// layer reads its value rows in 16-bit (see pkm_fast.hpp).
#include <cstdint>
#include <vector>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/pkm_fast.hpp"

namespace opbench::cpu::fast {
namespace {

// n values of src widened into dst (resized to n), over the threads.
template <class T>
const float* widen_into(std::vector<float>& dst, const T* src, std::int64_t n) {
  dst.resize(static_cast<std::size_t>(n));
  half_vec::widen_threads(src, dst.data(), n);
  return dst.data();
}

}  // namespace

template <class T>
void PkmTopkHalf<T>::run(const T* q, const T* k1, const T* k2, T* scores, std::int64_t* indices) {
  const pkm::Dims& d = d_;
  const std::int64_t subkeys = d.heads * d.n * d.half(), results = d.tokens * d.heads * d.k;
  scores_.resize(static_cast<std::size_t>(results));
  f32_.run(widen_into(q_, q, d.tokens * d.heads * d.dk), widen_into(k1_, k1, subkeys),
           widen_into(k2_, k2, subkeys), scores_.data(), indices);
  half_vec::narrow_threads(scores_.data(), scores, results);
}

template <class T>
BruteforceTopkHalf<T>::BruteforceTopkHalf(const T* k1, const T* k2, const pkm::Dims& d)
    : d_(d),
      f32_(half_vec::widened(k1, d.heads * d.n * d.half()).data(),
           half_vec::widened(k2, d.heads * d.n * d.half()).data(), d) {}

template <class T>
void BruteforceTopkHalf<T>::run(const T* q, T* scores, std::int64_t* indices) {
  const pkm::Dims& d = d_;
  const std::int64_t results = d.tokens * d.heads * d.k;
  scores_.resize(static_cast<std::size_t>(results));
  f32_.run(widen_into(q_, q, d.tokens * d.heads * d.dk), scores_.data(), indices);
  half_vec::narrow_threads(scores_.data(), scores, results);
}

template <class T>
void PkmLayerHalf<T>::run(const T* x, const pkm::LayerWeightsOf<T>& wts, T* y,
                          std::int64_t* indices) {
  const pkm::Dims& d = d_;
  const std::int64_t hdk = d.heads * d.dk, subkeys = d.heads * d.n * d.half();
  const pkm::LayerWeights f32 = {widen_into(w_, wts.w, din_ * hdk),
                                 widen_into(b_, wts.b, hdk),
                                 wts.bn_mean,
                                 wts.bn_var,
                                 widen_into(gamma_, wts.bn_gamma, hdk),
                                 widen_into(beta_, wts.bn_beta, hdk),
                                 widen_into(k1_, wts.k1, subkeys),
                                 widen_into(k2_, wts.k2, subkeys),
                                 nullptr};
  f32_.run_with_values(widen_into(x_, x, d.tokens * din_), f32, wts.values, y, indices);
}

template class PkmTopkHalf<bf16_t>;
template class PkmTopkHalf<f16_t>;
template class BruteforceTopkHalf<bf16_t>;
template class BruteforceTopkHalf<f16_t>;
template class PkmLayerHalf<bf16_t>;
template class PkmLayerHalf<f16_t>;

}  // namespace opbench::cpu::fast
