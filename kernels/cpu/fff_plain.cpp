#include "kernels/cpu/fff_plain.hpp"

#include <cmath>
#include <vector>

namespace opbench::cpu::plain {

namespace {

float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float relu(float z) {
  return z > 0 ? z : 0;
}

// Exact GeLU in float32: z * Phi(z), Phi through erfc (accurate in both tails).
float gelu(float z) {
  return 0.5f * z * std::erfc(-z * 0.70710678118654752f);
}

float node_logit(const fff::Weights& w, const fff::Dims& d, std::int64_t node, const float* x) {
  if (d.node_width == 1) return w.node_b1[node] + dot(w.node_w1 + node * d.d_in, x, d.d_in);
  float logit = w.node_b2[node];
  for (std::int64_t k = 0; k < d.node_width; ++k) {
    const std::int64_t nk = node * d.node_width + k;
    logit += w.node_w2[nk] * relu(w.node_b1[nk] + dot(w.node_w1 + nk * d.d_in, x, d.d_in));
  }
  return logit;
}

void leaf_forward(const fff::Weights& w, const fff::Dims& d, std::int64_t leaf, const float* x,
                  float* y) {
  for (std::int64_t o = 0; o < d.d_out; ++o) y[o] = w.leaf_b2[leaf * d.d_out + o];
  for (std::int64_t j = 0; j < d.leaf_width; ++j) {
    const std::int64_t lj = leaf * d.leaf_width + j;
    const float h = relu(w.leaf_b1[lj] + dot(w.leaf_w1 + lj * d.d_in, x, d.d_in));
    const float* w2 = w.leaf_w2 + lj * d.d_out;
    for (std::int64_t o = 0; o < d.d_out; ++o) y[o] += h * w2[o];
  }
}

}  // namespace

void fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y, std::int64_t* leaf,
         std::int64_t batch) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * d.d_in;
    std::int64_t node = 0;
    for (std::int64_t level = 0; level < d.depth; ++level) {
      node = 2 * node + 1 + (node_logit(w, d, node, xb) >= 0 ? 1 : 0);
    }
    leaf[b] = node - d.nodes();
    leaf_forward(w, d, leaf[b], xb, y + b * d.d_out);
  }
}

void soft_fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y,
              std::int64_t batch) {
  // Mixture weights level by level from the root (the package's training_forward): a node's
  // weight splits into (1 - p) for its left child and p for its right child.
  std::vector<float> mix(static_cast<std::size_t>(2 * d.leaves() - 1));
  std::vector<float> leaf_y(static_cast<std::size_t>(d.d_out));
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * d.d_in;
    float* yb = y + b * d.d_out;
    mix[0] = 1;
    for (std::int64_t n = 0; n < d.nodes(); ++n) {
      const float p = 1 / (1 + std::exp(-node_logit(w, d, n, xb)));
      mix[2 * n + 1] = mix[n] * (1 - p);
      mix[2 * n + 2] = mix[n] * p;
    }
    for (std::int64_t o = 0; o < d.d_out; ++o) yb[o] = 0;
    for (std::int64_t l = 0; l < d.leaves(); ++l) {
      leaf_forward(w, d, l, xb, leaf_y.data());
      const float m = mix[d.nodes() + l];
      for (std::int64_t o = 0; o < d.d_out; ++o) yb[o] += m * leaf_y[o];
    }
  }
}

void ultrafast_fff(const float* x, const float* w_in, const float* w_out, float* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * d_in;
    float* yb = y + b * d_out;
    for (std::int64_t o = 0; o < d_out; ++o) yb[o] = 0;
    std::int64_t node = 0;
    for (std::int64_t level = 0; level <= depth; ++level) {
      path[b * (depth + 1) + level] = node;
      const float lambda = dot(xb, w_in + node * d_in, d_in);
      const float g = gelu(lambda);
      for (std::int64_t o = 0; o < d_out; ++o) yb[o] += g * w_out[node * d_out + o];
      node = 2 * node + 1 + (lambda > 0 ? 1 : 0);
    }
  }
}

void dense_ff(const float* x, const float* w_in, const float* w_out, float* y, std::int64_t batch,
              std::int64_t d_in, std::int64_t d_out, std::int64_t width) {
  for (std::int64_t b = 0; b < batch; ++b) {
    float* yb = y + b * d_out;
    for (std::int64_t o = 0; o < d_out; ++o) yb[o] = 0;
    for (std::int64_t j = 0; j < width; ++j) {
      const float g = gelu(dot(x + b * d_in, w_in + j * d_in, d_in));
      for (std::int64_t o = 0; o < d_out; ++o) yb[o] += g * w_out[j * d_out + o];
    }
  }
}

}  // namespace opbench::cpu::plain
