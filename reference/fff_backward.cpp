// The Fast Feedforward backward references: reference/fff_backward.hpp states the equations.
#include "reference/fff_backward.hpp"

#include <algorithm>
#include <vector>

#include "reference/scalar_math.hpp"

namespace opbench::ref {

namespace {

void zero(double* a, std::int64_t n) {
  if (a) std::fill(a, a + n, 0.0);
}

// Leaf l's backward on one row x, its output entering y with mixture weight m (1 for the
// hard-routed leaf): adds m dy's chain rule into the leaf's gradients and dx, and returns
// V = dy . leaf_l(x), what the node decisions above it need.
double leaf_backward(const FffWeights& w, const FffShape& s, std::int64_t l, const double* x,
                     const double* dy, double m, const FffGradients& g, double* dx) {
  const double* b2 = w.leaf_b2 + l * s.d_out;
  double v = dot(dy, b2, s.d_out);
  for (std::int64_t o = 0; o < s.d_out; ++o) g.leaf_b2[l * s.d_out + o] += m * dy[o];
  for (std::int64_t j = 0; j < s.leaf_width; ++j) {
    const std::int64_t lj = l * s.leaf_width + j;
    const double* w1 = w.leaf_w1 + lj * s.d_in;
    const double* w2 = w.leaf_w2 + lj * s.d_out;
    const double a = w.leaf_b1[lj] + dot(w1, x, s.d_in);
    const double h = a > 0 ? a : 0;
    const double q = dot(w2, dy, s.d_out);  // dy . d(leaf)/dh_j, before the mixture weight
    v += h * q;
    for (std::int64_t o = 0; o < s.d_out; ++o) g.leaf_w2[lj * s.d_out + o] += m * h * dy[o];
    if (a > 0) {
      const double da = m * q;
      g.leaf_b1[lj] += da;
      for (std::int64_t i = 0; i < s.d_in; ++i) {
        g.leaf_w1[lj * s.d_in + i] += da * x[i];
        dx[i] += da * w1[i];
      }
    }
  }
  return v;
}

// Node n's backward on one row given dz = dL/dlogit_n.
void node_backward(const FffWeights& w, const FffShape& s, std::int64_t n, const double* x,
                   double dz, const FffGradients& g, double* dx) {
  if (s.node_width == 1) {  // logit = b1 + w1 . x
    const double* w1 = w.node_w1 + n * s.d_in;
    g.node_b1[n] += dz;
    for (std::int64_t i = 0; i < s.d_in; ++i) {
      g.node_w1[n * s.d_in + i] += dz * x[i];
      dx[i] += dz * w1[i];
    }
    return;
  }
  g.node_b2[n] += dz;  // logit = b2 + sum_k w2_k ReLU(b1_k + w1_k . x)
  for (std::int64_t k = 0; k < s.node_width; ++k) {
    const std::int64_t nk = n * s.node_width + k;
    const double* w1 = w.node_w1 + nk * s.d_in;
    const double pre = w.node_b1[nk] + dot(w1, x, s.d_in);
    g.node_w2[nk] += dz * (pre > 0 ? pre : 0);
    if (pre > 0) {
      const double dpre = dz * w.node_w2[nk];
      g.node_b1[nk] += dpre;
      for (std::int64_t i = 0; i < s.d_in; ++i) {
        g.node_w1[nk * s.d_in + i] += dpre * x[i];
        dx[i] += dpre * w1[i];
      }
    }
  }
}

void zero_leaf_gradients(const FffShape& s, const FffGradients& g) {
  zero(g.leaf_w1, s.leaves() * s.leaf_width * s.d_in);
  zero(g.leaf_b1, s.leaves() * s.leaf_width);
  zero(g.leaf_w2, s.leaves() * s.leaf_width * s.d_out);
  zero(g.leaf_b2, s.leaves() * s.d_out);
}

}  // namespace

void soft_fff_decisions(const double* x, const FffWeights& w, const FffShape& s, double* p,
                        std::int64_t batch) {
  const std::int64_t cols = fff_saved_columns(s);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t c = 0; c < cols; ++c) {
      p[b * cols + c] = c < s.nodes() ? sigmoid(fff_node_logit(w, s, c, x + b * s.d_in)) : 0.5;
    }
  }
}

void soft_fff_backward(const double* x, const FffWeights& w, const FffShape& s, const double* p,
                       const double* dy, double* dx, const FffGradients& g, std::int64_t batch) {
  const std::int64_t nodes = s.nodes(), node_rows = fff_saved_columns(s);
  const std::int64_t node_out_rows = s.node_width == 1 ? 1 : node_rows;
  zero(g.node_w1, node_rows * s.node_width * s.d_in);
  zero(g.node_b1, node_rows * s.node_width);
  zero(g.node_w2, node_out_rows * s.node_width);
  zero(g.node_b2, node_out_rows);
  zero_leaf_gradients(s, g);
  zero(dx, batch * s.d_in);
  // M and V of the header, over the 2^(d+1) - 1 vertices of the tree (nodes, then leaves).
  std::vector<double> mix(static_cast<std::size_t>(2 * s.leaves() - 1)), value(mix.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const double* xb = x + b * s.d_in;
    const double* pb = p + b * node_rows;
    const double* gb = dy + b * s.d_out;
    double* dxb = dx + b * s.d_in;
    mix[0] = 1;
    for (std::int64_t n = 0; n < nodes; ++n) {
      mix[2 * n + 1] = mix[n] * (1 - pb[n]);
      mix[2 * n + 2] = mix[n] * pb[n];
    }
    for (std::int64_t l = 0; l < s.leaves(); ++l) {
      value[nodes + l] = leaf_backward(w, s, l, xb, gb, mix[nodes + l], g, dxb);
    }
    for (std::int64_t n = nodes - 1; n >= 0; --n) {  // children before parents
      const double left = value[2 * n + 1], right = value[2 * n + 2];
      value[n] = (1 - pb[n]) * left + pb[n] * right;
      node_backward(w, s, n, xb, mix[n] * (right - left) * pb[n] * (1 - pb[n]), g, dxb);
    }
  }
}

void fff_backward(const double* x, const FffWeights& w, const FffShape& s, const std::int64_t* leaf,
                  const double* dy, double* dx, const FffGradients& g, std::int64_t batch) {
  zero_leaf_gradients(s, g);
  zero(dx, batch * s.d_in);
  for (std::int64_t b = 0; b < batch; ++b) {
    leaf_backward(w, s, leaf[b], x + b * s.d_in, dy + b * s.d_out, 1.0, g, dx + b * s.d_in);
  }
}

}  // namespace opbench::ref
