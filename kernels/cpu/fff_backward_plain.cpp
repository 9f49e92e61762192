// cpu.plain FFF backward: the reference's row-by-row loops (reference/fff_backward.hpp) in
// float32, one thread, accumulating straight into the gradient arrays.
#include <algorithm>
#include <vector>

#include "kernels/cpu/fff_backward.hpp"

namespace opbench::cpu::plain {

namespace {

float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void zero(float* a, std::int64_t n) {
  std::fill(a, a + n, 0.0f);
}

void zero_leaf_gradients(const fff::Dims& d, const fff::Gradients& g) {
  zero(g.leaf_w1, d.leaves() * d.leaf_width * d.d_in);
  zero(g.leaf_b1, d.leaves() * d.leaf_width);
  zero(g.leaf_w2, d.leaves() * d.leaf_width * d.d_out);
  zero(g.leaf_b2, d.leaves() * d.d_out);
}

// Leaf l on one row, mixed with weight m: its gradients and dx; returns dy . leaf_l(x).
float leaf_backward(const fff::Weights& w, const fff::Dims& d, std::int64_t l, const float* x,
                    const float* dy, float m, const fff::Gradients& g, float* dx) {
  float v = dot(dy, w.leaf_b2 + l * d.d_out, d.d_out);
  for (std::int64_t o = 0; o < d.d_out; ++o) g.leaf_b2[l * d.d_out + o] += m * dy[o];
  for (std::int64_t j = 0; j < d.leaf_width; ++j) {
    const std::int64_t lj = l * d.leaf_width + j;
    const float* w1 = w.leaf_w1 + lj * d.d_in;
    const float a = w.leaf_b1[lj] + dot(w1, x, d.d_in);
    const float h = a > 0 ? a : 0;
    const float q = dot(w.leaf_w2 + lj * d.d_out, dy, d.d_out);
    v += h * q;
    const float mh = m * h;
    for (std::int64_t o = 0; o < d.d_out; ++o) g.leaf_w2[lj * d.d_out + o] += mh * dy[o];
    if (a > 0) {
      const float da = m * q;
      g.leaf_b1[lj] += da;
      for (std::int64_t i = 0; i < d.d_in; ++i) {
        g.leaf_w1[lj * d.d_in + i] += da * x[i];
        dx[i] += da * w1[i];
      }
    }
  }
  return v;
}

void node_backward(const fff::Weights& w, const fff::Dims& d, std::int64_t n, const float* x,
                   float dz, const fff::Gradients& g, float* dx) {
  if (d.node_width == 1) {
    const float* w1 = w.node_w1 + n * d.d_in;
    g.node_b1[n] += dz;
    for (std::int64_t i = 0; i < d.d_in; ++i) {
      g.node_w1[n * d.d_in + i] += dz * x[i];
      dx[i] += dz * w1[i];
    }
    return;
  }
  g.node_b2[n] += dz;
  for (std::int64_t k = 0; k < d.node_width; ++k) {
    const std::int64_t nk = n * d.node_width + k;
    const float* w1 = w.node_w1 + nk * d.d_in;
    const float pre = w.node_b1[nk] + dot(w1, x, d.d_in);
    g.node_w2[nk] += dz * (pre > 0 ? pre : 0);
    if (pre > 0) {
      const float dpre = dz * w.node_w2[nk];
      g.node_b1[nk] += dpre;
      for (std::int64_t i = 0; i < d.d_in; ++i) {
        g.node_w1[nk * d.d_in + i] += dpre * x[i];
        dx[i] += dpre * w1[i];
      }
    }
  }
}

}  // namespace

void soft_fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d, const float* p,
                       const float* dy, float* dx, const fff::Gradients& g, std::int64_t batch) {
  const std::int64_t nodes = d.nodes(), node_rows = fff::saved_columns(d);
  const std::int64_t node_out_rows = d.node_width == 1 ? 1 : node_rows;
  zero(g.node_w1, node_rows * d.node_width * d.d_in);
  zero(g.node_b1, node_rows * d.node_width);
  zero(g.node_w2, node_out_rows * d.node_width);
  zero(g.node_b2, node_out_rows);
  zero_leaf_gradients(d, g);
  zero(dx, batch * d.d_in);
  std::vector<float> mix(static_cast<std::size_t>(2 * d.leaves() - 1)), value(mix.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * d.d_in;
    const float* pb = p + b * node_rows;
    const float* gb = dy + b * d.d_out;
    float* dxb = dx + b * d.d_in;
    mix[0] = 1;
    for (std::int64_t n = 0; n < nodes; ++n) {
      mix[2 * n + 1] = mix[n] * (1 - pb[n]);
      mix[2 * n + 2] = mix[n] * pb[n];
    }
    for (std::int64_t l = 0; l < d.leaves(); ++l) {
      value[nodes + l] = leaf_backward(w, d, l, xb, gb, mix[nodes + l], g, dxb);
    }
    for (std::int64_t n = nodes - 1; n >= 0; --n) {
      const float left = value[2 * n + 1], right = value[2 * n + 2];
      value[n] = (1 - pb[n]) * left + pb[n] * right;
      node_backward(w, d, n, xb, mix[n] * (right - left) * pb[n] * (1 - pb[n]), g, dxb);
    }
  }
}

void fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d,
                  const std::int64_t* leaf, const float* dy, float* dx, const fff::Gradients& g,
                  std::int64_t batch) {
  zero_leaf_gradients(d, g);
  zero(dx, batch * d.d_in);
  for (std::int64_t b = 0; b < batch; ++b) {
    leaf_backward(w, d, leaf[b], x + b * d.d_in, dy + b * d.d_out, 1.0f, g, dx + b * d.d_in);
  }
}

}  // namespace opbench::cpu::plain
