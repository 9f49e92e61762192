#include "kernels/cpu/fff_plain.hpp"

#include <cmath>
#include <vector>

#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::plain {

namespace {

template <class T>
float dot(const T* a, const T* b, std::int64_t n) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += widen(a[i]) * widen(b[i]);
  return s;
}

float relu(float z) {
  return z > 0 ? z : 0;
}

// Exact GeLU in float32: z * Phi(z), Phi through erfc (accurate in both tails).
float gelu(float z) {
  return 0.5f * z * std::erfc(-z * 0.70710678118654752f);
}

template <class T>
float node_logit(const fff::WeightsOf<T>& w, const fff::Dims& d, std::int64_t node, const T* x) {
  if (d.node_width == 1) return widen(w.node_b1[node]) + dot(w.node_w1 + node * d.d_in, x, d.d_in);
  float logit = widen(w.node_b2[node]);
  for (std::int64_t k = 0; k < d.node_width; ++k) {
    const std::int64_t nk = node * d.node_width + k;
    logit +=
        widen(w.node_w2[nk]) * relu(widen(w.node_b1[nk]) + dot(w.node_w1 + nk * d.d_in, x, d.d_in));
  }
  return logit;
}

// One leaf's block on row x, accumulated in float into y[d_out].
template <class T>
void leaf_forward(const fff::WeightsOf<T>& w, const fff::Dims& d, std::int64_t leaf, const T* x,
                  float* y) {
  for (std::int64_t o = 0; o < d.d_out; ++o) y[o] = widen(w.leaf_b2[leaf * d.d_out + o]);
  for (std::int64_t j = 0; j < d.leaf_width; ++j) {
    const std::int64_t lj = leaf * d.leaf_width + j;
    const float h = relu(widen(w.leaf_b1[lj]) + dot(w.leaf_w1 + lj * d.d_in, x, d.d_in));
    const T* w2 = w.leaf_w2 + lj * d.d_out;
    for (std::int64_t o = 0; o < d.d_out; ++o) y[o] += h * widen(w2[o]);
  }
}

template <class T>
void store_row(const std::vector<float>& acc, T* y) {
  for (std::size_t o = 0; o < acc.size(); ++o) y[o] = narrow<T>(acc[o]);
}

}  // namespace

template <class T>
void fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y, std::int64_t* leaf,
         std::int64_t batch) {
  std::vector<float> acc(static_cast<std::size_t>(d.d_out));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* xb = x + b * d.d_in;
    std::int64_t node = 0;
    for (std::int64_t level = 0; level < d.depth; ++level) {
      node = 2 * node + 1 + (node_logit(w, d, node, xb) >= 0 ? 1 : 0);
    }
    leaf[b] = node - d.nodes();
    leaf_forward(w, d, leaf[b], xb, acc.data());
    store_row(acc, y + b * d.d_out);
  }
}

template <class T>
void soft_fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y,
              std::int64_t batch) {
  // Mixture weights level by level from the root (the package's training_forward): a node's
  // weight splits into (1 - p) for its left child and p for its right child.
  std::vector<float> mix(static_cast<std::size_t>(2 * d.leaves() - 1));
  std::vector<float> leaf_y(static_cast<std::size_t>(d.d_out));
  std::vector<float> acc(static_cast<std::size_t>(d.d_out));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* xb = x + b * d.d_in;
    mix[0] = 1;
    for (std::int64_t n = 0; n < d.nodes(); ++n) {
      const float p = 1 / (1 + std::exp(-node_logit(w, d, n, xb)));
      mix[2 * n + 1] = mix[n] * (1 - p);
      mix[2 * n + 2] = mix[n] * p;
    }
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (std::int64_t l = 0; l < d.leaves(); ++l) {
      leaf_forward(w, d, l, xb, leaf_y.data());
      const float m = mix[d.nodes() + l];
      for (std::int64_t o = 0; o < d.d_out; ++o) acc[o] += m * leaf_y[o];
    }
    store_row(acc, y + b * d.d_out);
  }
}

template <class T>
void ultrafast_fff(const T* x, const T* w_in, const T* w_out, T* y, std::int64_t* path,
                   std::int64_t batch, std::int64_t d_in, std::int64_t d_out, std::int64_t depth) {
  std::vector<float> acc(static_cast<std::size_t>(d_out));
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* xb = x + b * d_in;
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::int64_t node = 0;
    for (std::int64_t level = 0; level <= depth; ++level) {
      path[b * (depth + 1) + level] = node;
      const float lambda = dot(xb, w_in + node * d_in, d_in);
      const float g = gelu(lambda);
      for (std::int64_t o = 0; o < d_out; ++o) acc[o] += g * widen(w_out[node * d_out + o]);
      node = 2 * node + 1 + (lambda > 0 ? 1 : 0);
    }
    store_row(acc, y + b * d_out);
  }
}

template <class T>
void dense_ff(const T* x, const T* w_in, const T* w_out, T* y, std::int64_t batch,
              std::int64_t d_in, std::int64_t d_out, std::int64_t width) {
  std::vector<float> acc(static_cast<std::size_t>(d_out));
  for (std::int64_t b = 0; b < batch; ++b) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (std::int64_t j = 0; j < width; ++j) {
      const float g = gelu(dot(x + b * d_in, w_in + j * d_in, d_in));
      for (std::int64_t o = 0; o < d_out; ++o) acc[o] += g * widen(w_out[j * d_out + o]);
    }
    store_row(acc, y + b * d_out);
  }
}

#define OPBENCH_FFF_PLAIN(T)                                                                    \
  template void fff<T>(const T*, const fff::WeightsOf<T>&, const fff::Dims&, T*, std::int64_t*, \
                       std::int64_t);                                                           \
  template void soft_fff<T>(const T*, const fff::WeightsOf<T>&, const fff::Dims&, T*,           \
                            std::int64_t);                                                      \
  template void ultrafast_fff<T>(const T*, const T*, const T*, T*, std::int64_t*, std::int64_t, \
                                 std::int64_t, std::int64_t, std::int64_t);                     \
  template void dense_ff<T>(const T*, const T*, const T*, T*, std::int64_t, std::int64_t,       \
                            std::int64_t, std::int64_t);
OPBENCH_FFF_PLAIN(float)
OPBENCH_FFF_PLAIN(bf16_t)
OPBENCH_FFF_PLAIN(f16_t)
#undef OPBENCH_FFF_PLAIN

}  // namespace opbench::cpu::plain
