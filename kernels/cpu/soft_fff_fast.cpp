// cpu.fast soft_fff: the training-mode forward as dense algebra through OpenBLAS, in blocks of
// rows.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/fff_fast.hpp"

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

}  // namespace opbench::cpu::fast
