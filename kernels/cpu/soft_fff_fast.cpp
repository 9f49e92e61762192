// cpu.fast soft_fff: the training-mode forward as dense algebra through OpenBLAS, in blocks of
// rows.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/fff_fast.hpp"
#include "kernels/cpu/half_vec.hpp"

namespace opbench::cpu::fast {

namespace {
// Rows per block: bounds the hidden activations (rows x leaves x leaf_width floats) kept at once.
constexpr std::int64_t kSoftBlockRows = 256;
}  // namespace

void soft_fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y,
              std::int64_t batch) {
  const std::int64_t nodes = d.nodes(), leaves = d.leaves();
  const std::int64_t node_cols = nodes * d.node_width, leaf_cols = leaves * d.leaf_width;
  const int d_in = static_cast<int>(d.d_in), d_out = static_cast<int>(d.d_out);
  std::vector<float> node_h, hidden, mix, tree(static_cast<std::size_t>(2 * leaves - 1));
  for (std::int64_t r0 = 0; r0 < batch; r0 += kSoftBlockRows) {
    const std::int64_t rows = std::min(kSoftBlockRows, batch - r0);
    const float* xb = x + r0 * d.d_in;
    // Node hidden layers (pre-activations) of every node: [rows, nodes * node_width].
    node_h.resize(static_cast<std::size_t>(rows * std::max<std::int64_t>(node_cols, 1)));
    if (nodes > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                  static_cast<int>(node_cols), d_in, 1.0f, xb, d_in, w.node_w1, d_in, 0.0f,
                  node_h.data(), static_cast<int>(node_cols));
    }
    // Mixture weights [rows, leaves]: from the root, (1 - p) to the left child and p to the right.
    mix.resize(static_cast<std::size_t>(rows * leaves));
    for (std::int64_t r = 0; r < rows; ++r) {
      tree[0] = 1;
      for (std::int64_t n = 0; n < nodes; ++n) {
        // A linear node (node_width 1): logit = b1 + w1 . x; wider ones: the ReLU node network.
        float logit = d.node_width == 1 ? w.node_b1[n] + node_h[r * node_cols + n] : w.node_b2[n];
        for (std::int64_t k = 0; d.node_width > 1 && k < d.node_width; ++k) {
          const std::int64_t nk = n * d.node_width + k;
          logit += w.node_w2[nk] * std::max(w.node_b1[nk] + node_h[r * node_cols + nk], 0.0f);
        }
        const float p = 1 / (1 + std::exp(-logit));
        tree[2 * n + 1] = tree[n] * (1 - p);
        tree[2 * n + 2] = tree[n] * p;
      }
      std::copy(tree.begin() + nodes, tree.end(), mix.begin() + r * leaves);
    }
    // Every leaf's hidden layer [rows, leaves * leaf_width], ReLU, scaled by its mixture weight.
    hidden.resize(static_cast<std::size_t>(rows * leaf_cols));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                static_cast<int>(leaf_cols), d_in, 1.0f, xb, d_in, w.leaf_w1, d_in, 0.0f,
                hidden.data(), static_cast<int>(leaf_cols));
    for (std::int64_t r = 0; r < rows; ++r) {
      float* hr = hidden.data() + r * leaf_cols;
      for (std::int64_t l = 0; l < leaves; ++l) {
        const float m = mix[r * leaves + l];
        for (std::int64_t j = l * d.leaf_width; j < (l + 1) * d.leaf_width; ++j) {
          hr[j] = m * std::max(hr[j] + w.leaf_b1[j], 0.0f);
        }
      }
    }
    // y = H W2 + M b2.
    float* yb = y + r0 * d.d_out;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), d_out,
                static_cast<int>(leaf_cols), 1.0f, hidden.data(), static_cast<int>(leaf_cols),
                w.leaf_w2, d_out, 0.0f, yb, d_out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), d_out,
                static_cast<int>(leaves), 1.0f, mix.data(), static_cast<int>(leaves), w.leaf_b2,
                d_out, 1.0f, yb, d_out);
  }
}

// 16-bit storage: soft FFF reads every weight for every block of rows, so all its tensors are
// widened to float32 once per call (vectorized, over the threads), the float32 kernel runs on
// them and y is rounded once. Node tensors have at least one row, and node_w2 / node_b2 one row
// only when node_width is 1 (the suite's layout, suites/fff.cpp).
namespace {

template <class T>
void soft_fff_widened(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y,
                      std::int64_t batch) {
  const std::int64_t node_rows = std::max<std::int64_t>(d.nodes(), 1);
  const std::int64_t node_out_rows = d.node_width == 1 ? 1 : node_rows;
  const std::int64_t lw = d.leaf_width, leaves = d.leaves();
  const std::int64_t sizes[] = {batch * d.d_in,
                                node_rows * d.node_width * d.d_in,
                                node_rows * d.node_width,
                                node_out_rows * d.node_width,
                                node_out_rows,
                                leaves * lw * d.d_in,
                                leaves * lw,
                                leaves * lw * d.d_out,
                                leaves * d.d_out,
                                batch * d.d_out};
  const T* sources[] = {x,         w.node_w1, w.node_b1, w.node_w2, w.node_b2,
                        w.leaf_w1, w.leaf_b1, w.leaf_w2, w.leaf_b2};
  thread_local std::vector<float> buffers[10];
  float* f[10];
  for (int k = 0; k < 10; ++k) {
    if (static_cast<std::int64_t>(buffers[k].size()) < sizes[k])
      buffers[k].resize(static_cast<std::size_t>(sizes[k]));
    f[k] = buffers[k].data();
    if (k < 9) half_vec::widen_threads(sources[k], f[k], sizes[k]);
  }
  soft_fff(f[0], fff::Weights{f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]}, d, f[9], batch);
  half_vec::narrow_threads(f[9], y, sizes[9]);
}

}  // namespace

void soft_fff(const bf16_t* x, const fff::WeightsOf<bf16_t>& w, const fff::Dims& d, bf16_t* y,
              std::int64_t batch) {
  soft_fff_widened(x, w, d, y, batch);
}
void soft_fff(const f16_t* x, const fff::WeightsOf<f16_t>& w, const fff::Dims& d, f16_t* y,
              std::int64_t batch) {
  soft_fff_widened(x, w, d, y, batch);
}

}  // namespace opbench::cpu::fast
