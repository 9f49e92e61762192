#include "reference/fff.hpp"

#include <cmath>
#include <vector>

#include "reference/scalar_math.hpp"

namespace opbench::ref {

namespace {
double relu(double z) {
  return z > 0 ? z : 0;
}
double abs_dot(const double* a, const double* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += std::abs(a[i] * b[i]);
  return s;
}
}  // namespace

double gamma_f32(std::int64_t k) {
  const double u = std::ldexp(1.0, -24);
  return static_cast<double>(k) * u / (1 - static_cast<double>(k) * u);
}

double fff_node_logit(const FffWeights& w, const FffShape& s, std::int64_t node, const double* x) {
  if (s.node_width == 1) {  // the package's linear node: plane_score = x . w + b
    return w.node_b1[node] + dot(w.node_w1 + node * s.d_in, x, s.d_in);
  }
  double logit = w.node_b2[node];
  for (std::int64_t k = 0; k < s.node_width; ++k) {
    const std::int64_t nk = node * s.node_width + k;
    logit += w.node_w2[nk] * relu(w.node_b1[nk] + dot(w.node_w1 + nk * s.d_in, x, s.d_in));
  }
  return logit;
}

double fff_node_logit_bound(const FffWeights& w, const FffShape& s, std::int64_t node,
                            const double* x) {
  if (s.node_width == 1) {
    return gamma_f32(s.d_in + 1) *
           (std::abs(w.node_b1[node]) + abs_dot(w.node_w1 + node * s.d_in, x, s.d_in));
  }
  double mag = std::abs(w.node_b2[node]);
  for (std::int64_t k = 0; k < s.node_width; ++k) {
    const std::int64_t nk = node * s.node_width + k;
    mag += std::abs(w.node_w2[nk]) *
           (std::abs(w.node_b1[nk]) + abs_dot(w.node_w1 + nk * s.d_in, x, s.d_in));
  }
  return gamma_f32(s.d_in + s.node_width + 2) * mag;
}

void fff_leaf_forward(const FffWeights& w, const FffShape& s, std::int64_t leaf, const double* x,
                      double* y) {
  for (std::int64_t o = 0; o < s.d_out; ++o) y[o] = w.leaf_b2[leaf * s.d_out + o];
  for (std::int64_t j = 0; j < s.leaf_width; ++j) {
    const std::int64_t lj = leaf * s.leaf_width + j;
    const double h = relu(w.leaf_b1[lj] + dot(w.leaf_w1 + lj * s.d_in, x, s.d_in));
    const double* w2 = w.leaf_w2 + lj * s.d_out;
    for (std::int64_t o = 0; o < s.d_out; ++o) y[o] += h * w2[o];
  }
}

void fff(const double* x, const FffWeights& w, const FffShape& s, double* y, std::int64_t* leaf,
         std::int64_t batch) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const double* xb = x + b * s.d_in;
    std::int64_t node = 0;
    for (std::int64_t level = 0; level < s.depth; ++level) {
      node = 2 * node + 1 + (fff_node_logit(w, s, node, xb) >= 0 ? 1 : 0);
    }
    leaf[b] = node - s.nodes();  // the last level's nodes are the leaves, left to right
    fff_leaf_forward(w, s, leaf[b], xb, y + b * s.d_out);
  }
}

void soft_fff(const double* x, const FffWeights& w, const FffShape& s, double* y,
              std::int64_t batch) {
  std::vector<double> p(static_cast<std::size_t>(s.nodes()));
  std::vector<double> leaf_y(static_cast<std::size_t>(s.d_out));
  for (std::int64_t b = 0; b < batch; ++b) {
    const double* xb = x + b * s.d_in;
    double* yb = y + b * s.d_out;
    for (std::int64_t n = 0; n < s.nodes(); ++n) p[n] = sigmoid(fff_node_logit(w, s, n, xb));
    for (std::int64_t o = 0; o < s.d_out; ++o) yb[o] = 0;
    for (std::int64_t l = 0; l < s.leaves(); ++l) {
      // The mixture weight: walk up from the leaf, right children weighted p, left ones 1 - p.
      double weight = 1;
      for (std::int64_t child = l + s.nodes(); child > 0; child = (child - 1) / 2) {
        const std::int64_t parent = (child - 1) / 2;
        weight *= (child == 2 * parent + 2) ? p[parent] : 1 - p[parent];
      }
      fff_leaf_forward(w, s, l, xb, leaf_y.data());
      for (std::int64_t o = 0; o < s.d_out; ++o) yb[o] += weight * leaf_y[o];
    }
  }
}

double gelu(double z) {
  return 0.5 * z * std::erfc(-z / std::sqrt(2.0));
}

void ultrafast_fff_along_path(const double* x, const double* w_in, const double* w_out,
                              const std::int64_t* path, double* y, std::int64_t d_in,
                              std::int64_t d_out, std::int64_t depth) {
  for (std::int64_t o = 0; o < d_out; ++o) y[o] = 0;
  for (std::int64_t level = 0; level <= depth; ++level) {
    const std::int64_t node = path[level];
    const double g = gelu(dot(x, w_in + node * d_in, d_in));
    for (std::int64_t o = 0; o < d_out; ++o) y[o] += g * w_out[node * d_out + o];
  }
}

void ultrafast_fff(const double* x, const double* w_in, const double* w_out, double* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const double* xb = x + b * d_in;
    std::int64_t* pb = path + b * (depth + 1);
    std::int64_t node = 0;
    for (std::int64_t level = 0; level <= depth; ++level) {
      pb[level] = node;
      const double lambda = dot(xb, w_in + node * d_in, d_in);
      node = 2 * node + 1 + (lambda > 0 ? 1 : 0);
    }
    ultrafast_fff_along_path(xb, w_in, w_out, pb, y + b * d_out, d_in, d_out, depth);
  }
}

double ultrafast_lambda_bound(const double* x, const double* w_in_row, std::int64_t d_in) {
  return gamma_f32(d_in) * abs_dot(x, w_in_row, d_in);
}

void dense_ff(const double* x, const double* w_in, const double* w_out, double* y,
              std::int64_t batch, std::int64_t d_in, std::int64_t d_out, std::int64_t width) {
  for (std::int64_t b = 0; b < batch; ++b) {
    double* yb = y + b * d_out;
    for (std::int64_t o = 0; o < d_out; ++o) yb[o] = 0;
    for (std::int64_t j = 0; j < width; ++j) {
      const double g = gelu(dot(x + b * d_in, w_in + j * d_in, d_in));
      for (std::int64_t o = 0; o < d_out; ++o) yb[o] += g * w_out[j * d_out + o];
    }
  }
}

}  // namespace opbench::ref
