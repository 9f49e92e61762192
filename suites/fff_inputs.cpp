#include "suites/fff_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace opbench::suite {

FffInputs64::FffInputs64(const TensorMap& in)
    : x(in.at("x")),
      node_w1(in.at("node_w1")),
      node_b1(in.at("node_b1")),
      node_w2(in.at("node_w2")),
      node_b2(in.at("node_b2")),
      leaf_w1(in.at("leaf_w1")),
      leaf_b1(in.at("leaf_b1")),
      leaf_w2(in.at("leaf_w2")),
      leaf_b2(in.at("leaf_b2")) {}

std::string near_boundary_input_dist(const TensorDecl& t, const std::string& dist, DType) {
  return dist == "near_boundary" && t.dist == "$dist" ? "normal" : "";
}

namespace {

bool near_boundary(const Params& p) {
  return p.has("dist") && p.str("dist") == "near_boundary";
}

// The decision value to aim at for row b: a few units of float32 rounding around zero. In a
// bfloat16 or float16 case x is then rounded to its dtype, which moves the value by up to about
// u |x| |w| (u of that dtype): the row lands on the grid point nearest the boundary, a few of that
// dtype's rounding units from zero, still the rows where a sound float32 evaluation of the rounded
// inputs can route either way and where a planted flip is caught.
double target(std::int64_t b, std::int64_t levels, double magnitude) {
  return static_cast<double>((b / levels) % 5 - 2) * std::ldexp(1.0, -24) * magnitude;
}

// The gradient of node `node`'s logit at x (into grad) and the magnitude of its terms, the scale
// of its rounding: a linear node (node_width 1) has gradient w1 and magnitude |b1| + sum |w1_i
// x_i|; a ReLU node network sum_k w2_k w1_k over its active hidden neurons and magnitude |b2| +
// sum_k |w2_k pre_k| over them.
double logit_gradient(const ref::FffWeights& fw, const ref::FffShape& s, std::int64_t node,
                      const std::vector<double>& x, std::vector<double>& grad) {
  std::fill(grad.begin(), grad.end(), 0.0);
  if (s.node_width == 1) {
    const double* w1 = fw.node_w1 + node * s.d_in;
    double magnitude = std::abs(fw.node_b1[node]);
    for (std::int64_t i = 0; i < s.d_in; ++i) {
      grad[i] = w1[i];
      magnitude += std::abs(w1[i] * x[i]);
    }
    return magnitude;
  }
  double magnitude = std::abs(fw.node_b2[node]);
  for (std::int64_t k = 0; k < s.node_width; ++k) {
    const std::int64_t nk = node * s.node_width + k;
    const double* w1 = fw.node_w1 + nk * s.d_in;
    double pre = fw.node_b1[nk];
    for (std::int64_t i = 0; i < s.d_in; ++i) pre += w1[i] * x[i];
    if (pre <= 0) continue;
    magnitude += std::abs(fw.node_w2[nk] * pre);
    for (std::int64_t i = 0; i < s.d_in; ++i) grad[i] += fw.node_w2[nk] * w1[i];
  }
  return magnitude;
}

}  // namespace

void prepare_ultrafast_near_boundary(TensorMap& in, const Params& p) {
  if (!near_boundary(p)) return;
  const std::int64_t d_in = p.i("d_in"), levels = p.i("depth") + 1;
  Tensor& xt = in.at("x");
  const F64 x(xt);
  const F64 w_in(in.at("w_in"));
  std::vector<double> xb(static_cast<std::size_t>(d_in));
  for (std::int64_t b = 0; b < xt.dim(0); ++b) {
    for (std::int64_t i = 0; i < d_in; ++i) xb[i] = x.v[b * d_in + i];
    std::int64_t node = 0;
    for (std::int64_t level = 0; level < b % levels; ++level) {
      double lambda = 0;
      for (std::int64_t i = 0; i < d_in; ++i) lambda += xb[i] * w_in.p()[node * d_in + i];
      node = 2 * node + 1 + (lambda > 0 ? 1 : 0);
    }
    const double* w = w_in.p() + node * d_in;
    double lambda = 0, ww = 0, mag = 0;
    for (std::int64_t i = 0; i < d_in; ++i) {
      lambda += xb[i] * w[i];
      ww += w[i] * w[i];
      mag += std::abs(xb[i] * w[i]);
    }
    if (ww == 0) continue;
    const double step = (lambda - target(b, levels, mag)) / ww;
    for (std::int64_t i = 0; i < d_in; ++i) store_double(xt, b * d_in + i, xb[i] - step * w[i]);
  }
}

void prepare_fff_near_boundary(TensorMap& in, const Params& p) {
  if (!near_boundary(p)) return;
  const std::int64_t depth = p.i("depth");
  if (depth == 0) return;  // no decisions
  ref::FffShape s{p.i("d_in"), p.i("d_out"), depth, p.i("node_width"), p.i("leaf_width")};
  Tensor& xt = in.at("x");
  const F64 x(xt);
  const FffInputs64 w(in);
  const ref::FffWeights fw = w.weights();
  std::vector<double> xb(static_cast<std::size_t>(s.d_in)), grad(static_cast<std::size_t>(s.d_in));
  for (std::int64_t b = 0; b < xt.dim(0); ++b) {
    for (std::int64_t i = 0; i < s.d_in; ++i) xb[i] = x.v[b * s.d_in + i];
    std::int64_t node = 0;
    for (std::int64_t level = 0; level < b % depth; ++level) {
      node = 2 * node + 1 + (ref::fff_node_logit(fw, s, node, xb.data()) >= 0 ? 1 : 0);
    }
    // One step is exact for a linear node; a ReLU node network is piecewise linear, so steps are
    // repeated in case one crosses a hidden neuron's kink.
    for (int newton = 0; newton < (s.node_width == 1 ? 1 : 3); ++newton) {
      const double magnitude = logit_gradient(fw, s, node, xb, grad);
      double gg = 0;
      for (double g : grad) gg += g * g;
      if (gg == 0) break;
      const double logit = ref::fff_node_logit(fw, s, node, xb.data());
      const double step = (logit - target(b, depth, magnitude)) / gg;
      for (std::int64_t i = 0; i < s.d_in; ++i) xb[i] -= step * grad[i];
    }
    for (std::int64_t i = 0; i < s.d_in; ++i) store_double(xt, b * s.d_in + i, xb[i]);
  }
}

}  // namespace opbench::suite
