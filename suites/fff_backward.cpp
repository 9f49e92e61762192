// The Fast Feedforward family's backward ops (mode bwd, float32), each differentiating its forward
// op of suites/fff.cpp and proven against finite differences of that op's reference
// (harness/gradient_check.hpp, run by tests/test_suites_backward.cpp):
//
// - soft_fff_backward (of soft_fff, the training forward): dx and the gradient of every weight,
//   every leaf's included. Saved by the forward pass: the node decision probabilities
//   p[batch, nodes] (as PyTorch's sigmoid saves its output), `nodes` floats a row. The leaves'
//   hidden activations are recomputed instead: they are 2^depth * leaf_width floats a row (512 at
//   depth 4, 2048 at depth 6, more than x itself), the memory that grows exponentially with
//   depth, while recomputing them is one SGEMM the size of the forward's first leaf GEMM, about a
//   fifth of the backward's flops. A node network's hidden layer (node_width > 1) is recomputed
//   the same way; a linear node needs only p.
// - fff_backward (of the hard-routed fff): the gradient through the chosen leaf only. The routing
//   is piecewise constant, so the node weights' gradient is 0 wherever it exists: they are inputs
//   only so that `save` can route (the kernels never read them) and get no gradient outputs.
//   Saved: the forward's leaf[batch] (its index output, computed by the forward reference). The
//   leaf gradients are dense [leaves, ...] outputs with the unchosen leaves' zeros written by the
//   kernel (kernels/cpu/fff_backward_fast.cpp names the sparse, accumulate-into alternative).
//
// Agreement follows the terms, not the result (the norm backward ops' approach). Every gradient
// element is a chain of sums and products of float32 values (p and dy are given; the ReLU masks
// are the only branches), so to first order its float32 error is at most F u A, u = 2^-24, where A
// is the same expression evaluated on the magnitudes of its terms (|x|, |w|, |dy|, the mixture
// weights, p (1 - p), every dot product replaced by its sum of |products|, V_right - V_left by
// |V_right| + |V_left|) and F sums the rounding factors along the longest chain: a sum of n terms
// sqrt(n) (Higham & Mary 2019's probabilistic bound in any summation order, as the norm backward
// ops use), each single operation 1:
//   sqrt(d_in + 1) (a pre-activation, through h into dW2 and V) + 2 sqrt(d_out) (q = w2 . dy and
//   dy . b2) + sqrt(leaf_width + 1) (V's sum over the hidden units) + 5 depth (the mixture: a
//   complement and a product per level; V's way up: three per level) + sqrt(batch) (the weight
//   gradients' sums over rows) + sqrt(units) (dx's sum over the hidden units and nodes it gets
//   terms from) + 8 (the products forming a term, dz's three).
// The one discontinuity is the ReLU's: where a pre-activation is within its rounding bound of 0
// (gamma_(d_in + 1) times its terms' magnitude, Higham's deterministic bound, as the forward's
// routing rule uses), a kernel's mask may differ from the reference's, and the elements that
// unit's gradient feeds (its b1 and w1 row, the row's dx; a node unit's too) may differ by the
// whole term: |M q| times |x| or |w1|. That is added to their allowance. Nothing else is: no rtol.
// An unchosen leaf's gradient must be an exact 0.
#include "suites/fff_backward.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/fff_backward.hpp"
#include "reference/fff.hpp"
#include "reference/fff_backward.hpp"
#include "suites/common.hpp"
#include "suites/fff_inputs.hpp"
#include "suites/fff_shapes.hpp"
#include "suites/scan_agreement.hpp"

namespace opbench {

namespace {

using namespace suite;
using namespace suite::fff_shapes;

const char* const kWeightNames[] = {"node_w1", "node_b1", "node_w2", "node_b2",
                                    "leaf_w1", "leaf_b1", "leaf_w2", "leaf_b2"};

// --- pointers (shapes: suites/fff_shapes.hpp, shared with the forward ops) ----------------------

fff::Weights weights32(const TensorMap& i) {
  return {in32(i, "node_w1"), in32(i, "node_b1"), in32(i, "node_w2"), in32(i, "node_b2"),
          in32(i, "leaf_w1"), in32(i, "leaf_b1"), in32(i, "leaf_w2"), in32(i, "leaf_b2")};
}
// The gradient outputs "d<weight>"; a weight without one (the hard op's nodes) gets null.
template <class T>
fff::GradientsOf<T> gradients_of(TensorMap& o) {
  T* g[8];
  for (int k = 0; k < 8; ++k) {
    auto it = o.find(std::string("d") + kWeightNames[k]);
    g[k] = it == o.end() ? nullptr : it->second.template data<T>();
  }
  return {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]};
}
ref::FffGradients gradients64(TensorMap& o) {
  const auto g = gradients_of<double>(o);
  return {g.node_w1, g.node_b1, g.node_w2, g.node_b2, g.leaf_w1, g.leaf_b1, g.leaf_w2, g.leaf_b2};
}

// Inputs: x, the eight weights as the forward draws them, and dy ~ N(0, 1).
std::vector<TensorDecl> forward_inputs() {
  std::vector<TensorDecl> t = tree_inputs();
  t.push_back(in("dy", {"batch", "d_out"}, "normal(0,1)"));
  return t;
}
std::vector<TensorDecl> leaf_gradient_outputs() {
  return {out("dx", {"batch", "d_in"}), out("dleaf_w1", {"leaves", "leaf_width", "d_in"}),
          out("dleaf_b1", {"leaves", "leaf_width"}),
          out("dleaf_w2", {"leaves", "leaf_width", "d_out"}), out("dleaf_b2", {"leaves", "d_out"})};
}

// --- the agreement rule (the file comment) ------------------------------------------------------

// Per output: A (the magnitude, times F u) and the ReLU flips' extra, both per element.
struct Allowance {
  std::map<std::string, std::vector<double>> magnitude, flip;
  void add(const std::string& name, std::int64_t k, double mag, double extra) {
    magnitude[name][static_cast<std::size_t>(k)] += mag;
    if (extra != 0) flip[name][static_cast<std::size_t>(k)] += extra;
  }
};

// A hidden unit's magnitudes: its pre-activation a = b1 + w1 . x and a's terms, sum |w1 x| + |b1|.
struct Unit {
  double pre, magnitude;
  bool flip;    // |pre| within the float32 rounding bound: the mask may go either way
  bool active;  // a kernel's mask may be on: pre > 0 or a flip
};
Unit unit(const double* w1, double b1, const double* x, std::int64_t d_in) {
  double pre = b1, mag = std::abs(b1);
  for (std::int64_t i = 0; i < d_in; ++i) {
    pre += w1[i] * x[i];
    mag += std::abs(w1[i] * x[i]);
  }
  const bool flip = std::abs(pre) <= ref::gamma_f32(d_in + 1) * mag;
  return {pre, mag, flip, pre > 0 || flip};
}

struct Rule {
  const F64 &x, &dy;
  const FffInputs64& w;
  const ref::FffShape& s;
  Allowance& a;
};

// Leaf l on row b with mixture weight m: its terms' magnitudes; returns the magnitude of V.
double leaf_magnitudes(const Rule& r, std::int64_t b, std::int64_t l, double m) {
  const ref::FffShape& s = r.s;
  const double* xb = r.x.p() + b * s.d_in;
  const double* gb = r.dy.p() + b * s.d_out;
  double mv = 0;
  for (std::int64_t o = 0; o < s.d_out; ++o) {
    mv += std::abs(gb[o] * r.w.leaf_b2.v[l * s.d_out + o]);
    r.a.add("dleaf_b2", l * s.d_out + o, m * std::abs(gb[o]), 0);
  }
  for (std::int64_t j = 0; j < s.leaf_width; ++j) {
    const std::int64_t lj = l * s.leaf_width + j;
    const double* w1 = r.w.leaf_w1.p() + lj * s.d_in;
    const double* w2 = r.w.leaf_w2.p() + lj * s.d_out;
    const Unit u = unit(w1, r.w.leaf_b1.v[lj], xb, s.d_in);
    double q = 0;
    for (std::int64_t o = 0; o < s.d_out; ++o) q += std::abs(w2[o] * gb[o]);
    const double h = u.active ? u.magnitude : 0;
    mv += h * q;
    for (std::int64_t o = 0; o < s.d_out; ++o) {
      r.a.add("dleaf_w2", lj * s.d_out + o, m * h * std::abs(gb[o]), 0);
    }
    if (!u.active) continue;
    const double da = m * q, flip = u.flip ? da : 0;
    r.a.add("dleaf_b1", lj, da, flip);
    for (std::int64_t i = 0; i < s.d_in; ++i) {
      r.a.add("dleaf_w1", lj * s.d_in + i, da * std::abs(xb[i]), flip * std::abs(xb[i]));
      r.a.add("dx", b * s.d_in + i, da * std::abs(w1[i]), flip * std::abs(w1[i]));
    }
  }
  return mv;
}

// Node n on row b, dz's magnitude mz.
void node_magnitudes(const Rule& r, std::int64_t b, std::int64_t n, double mz) {
  const ref::FffShape& s = r.s;
  const double* xb = r.x.p() + b * s.d_in;
  auto first_layer = [&](std::int64_t unit_index, const double* w1, double dpre, double flip) {
    r.a.add("dnode_b1", unit_index, dpre, flip);
    for (std::int64_t i = 0; i < s.d_in; ++i) {
      r.a.add("dnode_w1", unit_index * s.d_in + i, dpre * std::abs(xb[i]), flip * std::abs(xb[i]));
      r.a.add("dx", b * s.d_in + i, dpre * std::abs(w1[i]), flip * std::abs(w1[i]));
    }
  };
  if (s.node_width == 1) {
    first_layer(n, r.w.node_w1.p() + n * s.d_in, mz, 0);
    return;
  }
  r.a.add("dnode_b2", n, mz, 0);
  for (std::int64_t k = 0; k < s.node_width; ++k) {
    const std::int64_t nk = n * s.node_width + k;
    const double* w1 = r.w.node_w1.p() + nk * s.d_in;
    const Unit u = unit(w1, r.w.node_b1.v[nk], xb, s.d_in);
    r.a.add("dnode_w2", nk, u.active ? mz * u.magnitude : 0, 0);
    if (!u.active) continue;
    const double dpre = mz * std::abs(r.w.node_w2.v[nk]);
    first_layer(nk, w1, dpre, u.flip ? dpre : 0);
  }
}

// F of the file comment.
double chain_factor(const ref::FffShape& s, std::int64_t batch, bool soft) {
  const double units = static_cast<double>((soft ? s.leaves() : 1) * s.leaf_width +
                                           (soft ? s.nodes() * s.node_width : 0));
  return std::sqrt(s.d_in + 1.0) + 2 * std::sqrt(static_cast<double>(s.d_out)) +
         std::sqrt(s.leaf_width + 1.0) + 5.0 * static_cast<double>(soft ? s.depth : 0) +
         std::sqrt(static_cast<double>(batch)) + std::sqrt(units) + 8;
}

Agreement compare_gradients(const TensorMap& in, const TensorMap& out, const TensorMap& ref,
                            const Params& p, bool soft) {
  const fff::Dims d = dims_of(p);
  const ref::FffShape s = shape64(d);
  const std::int64_t batch = p.i("batch");
  const FffInputs64 w(in);
  const F64 dy(in.at("dy"));
  Allowance a;
  for (const auto& [name, t] : ref) {
    a.magnitude[name].assign(static_cast<std::size_t>(t.numel()), 0.0);
    a.flip[name].assign(static_cast<std::size_t>(t.numel()), 0.0);
  }
  const Rule rule{w.x, dy, w, s, a};
  if (soft) {
    const F64 prob(in.at("p"));
    const std::int64_t nodes = s.nodes(), cols = ref::fff_saved_columns(s);
    std::vector<double> mix(static_cast<std::size_t>(2 * s.leaves() - 1)), mv(mix.size());
    for (std::int64_t b = 0; b < batch; ++b) {
      const double* pb = prob.p() + b * cols;
      mix[0] = 1;
      for (std::int64_t n = 0; n < nodes; ++n) {
        mix[2 * n + 1] = mix[n] * (1 - pb[n]);
        mix[2 * n + 2] = mix[n] * pb[n];
      }
      for (std::int64_t l = 0; l < s.leaves(); ++l) {
        mv[nodes + l] = leaf_magnitudes(rule, b, l, mix[nodes + l]);
      }
      for (std::int64_t n = nodes - 1; n >= 0; --n) {
        const double left = mv[2 * n + 1], right = mv[2 * n + 2];
        mv[n] = (1 - pb[n]) * left + pb[n] * right;
        node_magnitudes(rule, b, n, mix[n] * (left + right) * pb[n] * (1 - pb[n]));
      }
    }
  } else {
    const std::int64_t* leaf = in.at("leaf").data<std::int64_t>();
    for (std::int64_t b = 0; b < batch; ++b) leaf_magnitudes(rule, b, leaf[b], 1.0);
  }
  const double fu = chain_factor(s, batch, soft) * unit_roundoff(DType::f32);
  Agreement total;
  bool first = true;
  for (const auto& [name, t] : ref) {
    std::vector<double> bound = a.magnitude.at(name);
    const std::vector<double>& flip = a.flip.at(name);
    for (std::size_t k = 0; k < bound.size(); ++k) bound[k] = fu * bound[k] + flip[k];
    Agreement one = scan::compare_within(name, out.at(name), t, bound);
    if (first) {
      total = one;
      first = false;
    } else {
      merge_agreement(total, one);
    }
  }
  return total;
}

Op backward_op(const char* name) {
  Op op;
  op.suite = "fff";
  op.name = name;
  op.mode = Mode::bwd;
  op.derived = {{"node_rows", node_rows},
                {"node_out_rows", node_out_rows},
                {"leaves", [](const Params& p) { return std::int64_t{1} << p.i("depth"); }}};
  // The compare functions carry the whole rule; Tolerance is not used by them.
  op.tolerance = [](DType) { return Tolerance{0, 0}; };
  return op;
}

GradientOf gradient_of(const char* forward, bool soft) {
  GradientOf g;
  g.forward = forward;
  g.same = {{"x", "x"}};
  for (const char* wn : kWeightNames) g.same[wn] = wn;
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}};
  for (const char* wn : kWeightNames) {
    if (soft || std::string(wn).rfind("leaf_", 0) == 0) g.gradients[std::string("d") + wn] = wn;
  }
  return g;
}

// --- soft_fff_backward --------------------------------------------------------------------------

void register_soft_fff_backward(Registry& reg) {
  Op op = backward_op("soft_fff_backward");
  op.title = "Soft FFF backward: dx and every node's and leaf's weight gradients from dy";
  op.paper =
      "Belcak & Wattenhofer 2023, Fast Feedforward Networks, Sec. 3 (FORWARD_T), differentiated "
      "(reference/fff_backward.hpp)";
  op.axes = {int_axis("batch", {"64"}, {"64", "1024"}, "rows"),
             int_axis("d_in", {"256"}, {"768"}, "input width"),
             int_axis("d_out", {"256"}, {"768"}, "output width"),
             depth_axis({"4"}, {"2", "4", "6"}),
             int_axis("node_width", {"1"}, {"1"},
                      "neurons of each node (1: one linear neuron; more: a ReLU layer)"),
             int_axis("leaf_width", {"16"}, {"32"}, "hidden neurons of each leaf block"),
             dist_axis({"normal"}, {"normal", "uniform"},
                       "x's distribution (weights normal(0,0.05), dy N(0, 1))")};
  op.validate = [](const Params& p) { return depth_valid(p, 12); };
  op.tensors = forward_inputs();
  op.tensors.push_back(in("p", {"batch", "node_rows"}, "uniform(0,1)"));
  for (const TensorDecl& t : leaf_gradient_outputs()) op.tensors.push_back(t);
  for (const TensorDecl& t :
       {out("dnode_w1", {"node_rows", "node_width", "d_in"}),
        out("dnode_b1", {"node_rows", "node_width"}),
        out("dnode_w2", {"node_out_rows", "node_width"}), out("dnode_b2", {"node_out_rows"})}) {
    op.tensors.push_back(t);
  }
  GradientOf g = gradient_of("soft_fff", true);
  g.saved = {{"p", ""}};
  g.save = [](TensorMap& in, const Params& p) {
    const FffInputs64 w(in);
    Tensor& prob = in.at("p");
    std::vector<double> v(static_cast<std::size_t>(prob.numel()));
    ref::soft_fff_decisions(w.x.p(), w.weights(), shape64(dims_of(p)), v.data(), p.i("batch"));
    for (std::int64_t k = 0; k < prob.numel(); ++k) store_double(prob, k, v[k]);
  };
  g.check_point = {{"batch", "3"},      {"d_in", "5"},       {"d_out", "4"},    {"depth", "2"},
                   {"node_width", "1"}, {"leaf_width", "3"}, {"dist", "normal"}};
  op.gradient = std::move(g);
  // Flops: the leaves' pre-activations (recomputed), q, dW2, dW1 and dx (2 lw (3 d_in + 2 d_out)
  // per leaf), dy . b2 and db2; the nodes' dW and dx (a node network: its recomputed layer too).
  auto flops = [](const Params& p) {
    const fff::Dims d = dims_of(p);
    const double leaves = static_cast<double>(d.leaves()), nodes = static_cast<double>(d.nodes());
    const double node = d.node_width == 1 ? 4.0 * d.d_in : 6.0 * d.node_width * d.d_in;
    return static_cast<double>(p.i("batch")) *
           (leaves * (2.0 * d.leaf_width * (3.0 * d.d_in + 2.0 * d.d_out) + 4.0 * d.d_out) +
            nodes * node);
  };
  op.cost = [shape = op, flops](const Params& p, DType dt) {
    return Cost{flops(p), tensor_bytes(shape, p, dt)};
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    const FffInputs64 w(i);
    ref::soft_fff_backward(w.x.p(), w.weights(), shape64(dims_of(p)), F64(i.at("p")).p(),
                           F64(i.at("dy")).p(), out64(o, "dx"), gradients64(o), p.i("batch"));
  };
  op.compare = [](const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                  Tolerance) { return compare_gradients(i, o, r, p, true); };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), weights32(i), dims_of(p), in32(i, "p"), in32(i, "dy"), out32(o, "dx"),
         gradients_of<float>(o), p.i("batch"));
    };
  };
  op.impls.push_back(
      host_impl("cpu.plain", call(OPBENCH_OVERLOADS(cpu::plain::soft_fff_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OPBENCH_OVERLOADS(cpu::fast::soft_fff_backward))));
  reg.add_op(std::move(op));
}

// --- fff_backward -------------------------------------------------------------------------------

void register_fff_backward(Registry& reg) {
  Op op = backward_op("fff_backward");
  op.title = "Hard-routed FFF backward: dx and the chosen leaves' weight gradients from dy";
  op.paper =
      "Belcak & Wattenhofer 2023, Fast Feedforward Networks, Sec. 3 (FORWARD_I), differentiated "
      "through the chosen leaf (reference/fff_backward.hpp)";
  op.axes = {int_axis("batch", {"1", "1024"}, {"1", "16", "128", "1024", "16384"}, "rows"),
             int_axis("d_in", {"768"}, {"768"}, "input width"),
             int_axis("d_out", {"768"}, {"768"}, "output width"),
             depth_axis({"7"}, {"7", "8", "9", "10", "11"}),
             int_axis("node_width", {"1"}, {"1"},
                      "neurons of each node (1: one linear neuron; more: a ReLU layer)"),
             int_axis("leaf_width", {"32"}, {"32"}, "hidden neurons of each leaf block"),
             // The leaf is given (saved), so the backward never routes: no near_boundary.
             dist_axis({"normal"}, {"normal", "uniform"},
                       "x's distribution (weights normal(0,0.05), dy N(0, 1))")};
  op.validate = [](const Params& p) { return depth_valid(p, kMaxDepth); };
  op.tensors = forward_inputs();
  TensorDecl leaf = in("leaf", {"batch"}, "constant(0)");  // then routed by save
  leaf.index = true;
  op.tensors.push_back(leaf);
  for (const TensorDecl& t : leaf_gradient_outputs()) op.tensors.push_back(t);
  GradientOf g = gradient_of("fff", false);
  g.saved = {{"leaf", "leaf"}};
  // The forward's routing in float64 on the case's (float32) inputs.
  g.save = [](TensorMap& in, const Params& p) {
    const FffInputs64 w(in);
    const std::int64_t batch = p.i("batch");
    std::vector<double> y(static_cast<std::size_t>(batch * p.i("d_out")));
    ref::fff(w.x.p(), w.weights(), shape64(dims_of(p)), y.data(),
             in.at("leaf").data<std::int64_t>(), batch);
  };
  // The finite differences move x by 1e-6 |x|: at this point (dist normal) every row's decision
  // values are far from 0 (tests/test_suites_fff_backward.cpp checks it), so no row changes leaf.
  g.check_point = {{"batch", "4"},      {"d_in", "5"},       {"d_out", "4"},    {"depth", "2"},
                   {"node_width", "1"}, {"leaf_width", "3"}, {"dist", "normal"}};
  op.gradient = std::move(g);
  auto flops = [](const Params& p) {
    const fff::Dims d = dims_of(p);
    return static_cast<double>(p.i("batch")) *
           (2.0 * d.leaf_width * (3.0 * d.d_in + 2.0 * d.d_out) + 2.0 * d.d_out);
  };
  // Bytes: x, dy and leaf read, dx written, the weights of the leaves the rows chose read (at most
  // all of them), and every leaf's gradient written (dense outputs). Node weights are not read.
  op.cost = [flops](const Params& p, DType dt) {
    const fff::Dims d = dims_of(p);
    const double es = static_cast<double>(dtype_size(dt)), b = static_cast<double>(p.i("batch"));
    const double leaf_params = d.leaf_width * (d.d_in + d.d_out + 1.0) + d.d_out;
    const double leaves = static_cast<double>(d.leaves());
    return Cost{flops(p), b * (es * (2.0 * d.d_in + d.d_out) + 8) +
                              es * leaf_params * (std::min(leaves, b) + leaves)};
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    const FffInputs64 w(i);
    ref::fff_backward(w.x.p(), w.weights(), shape64(dims_of(p)), i.at("leaf").data<std::int64_t>(),
                      F64(i.at("dy")).p(), out64(o, "dx"), gradients64(o), p.i("batch"));
  };
  op.compare = [](const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                  Tolerance) { return compare_gradients(i, o, r, p, false); };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), weights32(i), dims_of(p), i.at("leaf").data<std::int64_t>(), in32(i, "dy"),
         out32(o, "dx"), gradients_of<float>(o), p.i("batch"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OPBENCH_OVERLOADS(cpu::plain::fff_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OPBENCH_OVERLOADS(cpu::fast::fff_backward))));
  reg.add_op(std::move(op));
}

}  // namespace

void register_fff_backward_ops(Registry& reg) {
  register_soft_fff_backward(reg);
  register_fff_backward(reg);
}

}  // namespace opbench
