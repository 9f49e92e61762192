// pkm_layer_backward (Lample et al. 2019, Sec. 3.1-3.3, differentiated by hand in
// reference/pkm.hpp): the gradients of the memory layer given the forward pass's chosen keys,
// softmax weights and normalized queries. The value table's gradient is a sparse scatter-add of
// k rows per token and head (EmbeddingBag's backward), accumulated into its buffer as autograd
// sums into .grad; so are the two sub-key sets' gradients.
#include "suites/pkm_backward.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/pkm_backward.hpp"
#include "reference/pkm.hpp"
#include "suites/common.hpp"
#include "suites/pkm_shapes.hpp"

#ifdef OPBENCH_HAVE_CUDA
#include "harness/device.hpp"
#include "kernels/cuda/pkm_backward_cuda.hpp"
#endif

namespace opbench {

namespace {

using namespace suite;
using namespace suite::pkm_shapes;

constexpr double kEps = 1e-5;  // the forward op's (suites/pkm.cpp): the saved zhat must be its

// `shared_rows`: every token is the same input row, so every token picks the same k rows per
// head: heads * k value rows (and their sub-keys) take all tokens * heads * k contributions, the
// contention case of the scatter-adds.
const char* const kSharedRows = "shared_rows";

const char* const kWeights[] = {"w",       "b",  "bn_mean", "bn_var", "bn_gamma",
                                "bn_beta", "k1", "k2",      "values"};

struct WeightsF64 {
  std::vector<F64> held;
  ref::PkmLayerWeights view;
  explicit WeightsF64(const TensorMap& in) {
    for (const char* name : kWeights) held.emplace_back(in.at(name));
    view = {held[0].p(), held[1].p(), held[2].p(), held[3].p(), held[4].p(),
            held[5].p(), held[6].p(), held[7].p(), held[8].p()};
  }
};

// GradientOf::save: the forward pass in float64 on the case's inputs, each result rounded once.
void save(TensorMap& in, const Params& p) {
  const pkm::Dims d = dims_of(p);
  const WeightsF64 w(in);
  Tensor& zhat = in.at("zhat");
  Tensor& weights = in.at("weights");
  std::vector<double> z(static_cast<std::size_t>(zhat.numel()));
  std::vector<double> pw(static_cast<std::size_t>(weights.numel()));
  ref::pkm_layer_saved(F64(in.at("x")).p(), w.view, in.at("indices").data<std::int64_t>(),
                       pw.data(), z.data(), shape_of(d), p.i("din"), kEps);
  for (std::int64_t k = 0; k < zhat.numel(); ++k) store_double(zhat, k, z[k]);
  for (std::int64_t k = 0; k < weights.numel(); ++k) store_double(weights, k, pw[k]);
}

void prepare_inputs(TensorMap& in, const Params& p) {
  if (p.str("dist") != kSharedRows) return;
  Tensor& x = in.at("x");
  auto* v = static_cast<char*>(x.raw());
  const std::size_t row = x.bytes() / static_cast<std::size_t>(x.dim(0));
  for (std::int64_t t = 1; t < x.dim(0); ++t) std::memcpy(v + t * row, v, row);
}

// --- agreement -----------------------------------------------------------------------------------
//
// A bound on the float32 error of every output, from the inputs (the same rounded values both
// sides read), after Higham's (Accuracy and Stability of Numerical Algorithms, Sec. 3.1): a sum
// or dot product of n terms computed in any order is within gamma_n = n u / (1 - n u) of its
// exact value, relative to the sum of the terms' magnitudes, and a chain of such steps adds its
// depths. With u = 2^-24, per (token t, head h, place m) = e:
//   dp_e = dy_t . v_idx (dv terms):            error <= gamma_{dv+1} Mdp_e, Mdp_e = sum |dy v|
//   ds_e = p_e (dp_e - sum_m p dp):            error <= gamma_D1 A_e, A_e = p_e (Mdp_e +
//                                              sum_m p_m Mdp_m), D1 = dv + k + 4
//   dq = sum_m ds key:                         gamma_D2 Mdq, Mdq = sum_m A_m |key_m|, D2 = D1+k+1
//   q = zhat gamma + beta (cpu kernels):       gamma_2 Mq, Mq = |zhat gamma| + |beta|
//   dz = dq gamma / sqrt(var + eps):           gamma_D3 Mdz, Mdz = Mdq |gamma| rstd, D3 = D2 + 6
//   dbn_beta, dbn_gamma, db (sums over T):     gamma_{D+T+1} times the sum of the magnitudes
//   dw = x^T dz, dx = dz W^T:                  gamma_{D3+T+1} sum |x| Mdz, gamma_{D3+hdk+1} ...
// The accumulate-into outputs start from the base B (harness/op.hpp) and add their n_r
// contributions one at a time (cpu.plain) or summed in registers onto B (cpu.fast): within
//   dvalues: gamma_{n_r+2} (B + sum |p dy|);  dk1, dk2: gamma_{D1+n_r+4} (B + sum A Mq).
// A wrong term (no softmax mean, one contribution lost or added twice, an overwritten buffer) is
// of the size of its terms, thousands of times these bounds.
double gamma(double n) {
  const double u = unit_roundoff(DType::f32);
  return n * u / (1 - n * u);
}

Agreement compare_backward(const TensorMap& in, const TensorMap& out, const TensorMap& ref,
                           const Params& p, Tolerance tol) {
  const pkm::Dims d = dims_of(p);
  const std::int64_t T = d.tokens, H = d.heads, K = d.k, n = d.n, half = d.half();
  const std::int64_t hdk = H * d.dk, din = p.i("din"), dv = p.i("dv"), hk = H * K;
  const F64 x(in.at("x")), dy(in.at("dy")), pw(in.at("weights")), zhat(in.at("zhat"));
  const WeightsF64 wf(in);
  const ref::PkmLayerWeights& w = wf.view;
  const std::int64_t* idx = in.at("indices").data<std::int64_t>();
  const double B = kAccumulateBase;
  const double D1 = static_cast<double>(dv + K + 4), D2 = D1 + static_cast<double>(K + 1),
               D3 = D2 + 6;

  // Per contribution e: A_e; per (t, c): Mdq.
  std::vector<double> mdp(static_cast<std::size_t>(T * hk)), A(mdp.size());
  std::vector<double> mdq(static_cast<std::size_t>(T * hdk), 0.0);
  for (std::int64_t r = 0; r < T * H; ++r) {
    const std::int64_t t = r / H, h = r % H;
    double mean = 0;
    for (std::int64_t m = 0; m < K; ++m) {
      const std::int64_t e = r * K + m;
      double s = 0;
      for (std::int64_t j = 0; j < dv; ++j)
        s += std::abs(dy.v[t * dv + j] * w.values[idx[e] * dv + j]);
      mdp[e] = s;
      mean += pw.v[e] * s;
    }
    for (std::int64_t m = 0; m < K; ++m) {
      const std::int64_t e = r * K + m;
      A[e] = pw.v[e] * (mdp[e] + mean);
      const double* k1 = w.k1 + (h * n + idx[e] / n) * half;
      const double* k2 = w.k2 + (h * n + idx[e] % n) * half;
      for (std::int64_t c = 0; c < half; ++c) {
        mdq[t * hdk + h * d.dk + c] += A[e] * std::abs(k1[c]);
        mdq[t * hdk + h * d.dk + half + c] += A[e] * std::abs(k2[c]);
      }
    }
  }
  auto mq = [&](std::int64_t t, std::int64_t c) {
    return std::abs(zhat.v[t * hdk + c] * w.bn_gamma[c]) + std::abs(w.bn_beta[c]);
  };

  Agreement total;
  auto check = [&](const char* name, const std::vector<double>& allowed) {
    const Tensor& o = out.at(name);
    const Tensor& rf = ref.at(name);
    ElementChecker c(name, rf.shape());
    for (std::int64_t k = 0; k < rf.numel(); ++k) {
      const double r = rf.data<double>()[k];
      c.element(k, o.value_as_double(k), r, tol.atol + tol.rtol * std::abs(r) + allowed[k], 0);
    }
    merge_agreement(total, c.finish());
  };

  // Sparse outputs: per row, its contributions' count and magnitudes.
  {
    // The magnitudes sum |p dy| per element, then become the allowance in place.
    std::vector<double> allowed(static_cast<std::size_t>(d.keys() * dv), 0.0);
    std::vector<std::int64_t> count(static_cast<std::size_t>(d.keys()), 0);
    for (std::int64_t e = 0; e < T * hk; ++e) {
      ++count[idx[e]];
      const std::int64_t t = e / hk;
      for (std::int64_t j = 0; j < dv; ++j) {
        allowed[idx[e] * dv + j] += pw.v[e] * std::abs(dy.v[t * dv + j]);
      }
    }
    for (std::int64_t r = 0; r < d.keys(); ++r) {
      const double g = gamma(static_cast<double>(count[r] + 2));
      for (std::int64_t j = 0; j < dv; ++j) allowed[r * dv + j] = g * (B + allowed[r * dv + j]);
    }
    check("dvalues", allowed);
  }
  for (int side = 0; side < 2; ++side) {
    std::vector<double> mag(static_cast<std::size_t>(H * n * half), 0.0);
    std::vector<std::int64_t> count(static_cast<std::size_t>(H * n), 0);
    for (std::int64_t e = 0; e < T * hk; ++e) {
      const std::int64_t t = e / hk, h = (e / K) % H;
      const std::int64_t row = h * n + (side == 0 ? idx[e] / n : idx[e] % n);
      ++count[row];
      for (std::int64_t c = 0; c < half; ++c) {
        mag[row * half + c] += A[e] * mq(t, h * d.dk + side * half + c);
      }
    }
    std::vector<double> allowed(mag.size());
    for (std::int64_t row = 0; row < H * n; ++row) {
      for (std::int64_t c = 0; c < half; ++c) {
        allowed[row * half + c] =
            gamma(D1 + static_cast<double>(count[row] + 4)) * (B + mag[row * half + c]);
      }
    }
    check(side == 0 ? "dk1" : "dk2", allowed);
  }
  // The query network.
  const double Td = static_cast<double>(T);
  std::vector<double> a_beta(static_cast<std::size_t>(hdk), 0.0), a_gamma(a_beta), a_b(a_beta);
  std::vector<double> mdz(mdq.size());
  for (std::int64_t c = 0; c < hdk; ++c) {
    const double rstd = 1.0 / std::sqrt(w.bn_var[c] + kEps);
    for (std::int64_t t = 0; t < T; ++t) {
      const double m = mdq[t * hdk + c];
      mdz[t * hdk + c] = m * std::abs(w.bn_gamma[c]) * rstd;
      a_beta[c] += m;
      a_gamma[c] += m * std::abs(zhat.v[t * hdk + c]);
      a_b[c] += mdz[t * hdk + c];
    }
    a_beta[c] *= gamma(D2 + Td + 1);
    a_gamma[c] *= gamma(D2 + Td + 2);
    a_b[c] *= gamma(D3 + Td + 1);
  }
  check("dbn_beta", a_beta);
  check("dbn_gamma", a_gamma);
  check("db", a_b);
  std::vector<double> a_w(static_cast<std::size_t>(din * hdk), 0.0);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t i = 0; i < din; ++i) {
      const double xi = std::abs(x.v[t * din + i]);
      for (std::int64_t c = 0; c < hdk; ++c) a_w[i * hdk + c] += xi * mdz[t * hdk + c];
    }
  }
  for (double& a : a_w) a *= gamma(D3 + Td + 1);
  check("dw", a_w);
  std::vector<double> a_x(static_cast<std::size_t>(T * din), 0.0);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t i = 0; i < din; ++i) {
      double s = 0;
      for (std::int64_t c = 0; c < hdk; ++c) s += mdz[t * hdk + c] * std::abs(w.w[i * hdk + c]);
      a_x[t * din + i] = gamma(D3 + static_cast<double>(hdk) + 1) * s;
    }
  }
  check("dx", a_x);
  return total;
}

// --- implementations -----------------------------------------------------------------------------

cpu::PkmBackwardInputs inputs_of(const TensorMap& i) {
  return {in32(i, "x"),
          {in32(i, "w"), in32(i, "b"), in32(i, "bn_mean"), in32(i, "bn_var"), in32(i, "bn_gamma"),
           in32(i, "bn_beta"), in32(i, "k1"), in32(i, "k2"), in32(i, "values")},
          in32(i, "dy"),
          i.at("indices").data<std::int64_t>(),
          in32(i, "weights"),
          in32(i, "zhat")};
}

cpu::PkmBackwardGrads grads_of(TensorMap& o) {
  return {out32(o, "dx"),       out32(o, "dw"),  out32(o, "db"),  out32(o, "dbn_gamma"),
          out32(o, "dbn_beta"), out32(o, "dk1"), out32(o, "dk2"), out32(o, "dvalues")};
}

// cpu.fast, with its workspace built once per case.
class FastKernel final : public BoundKernel {
 public:
  FastKernel(const TensorMap& in, TensorMap& out, const Params& p)
      : kernel_(dims_of(p), p.i("din"), p.i("dv"), static_cast<float>(kEps)), in_(in), out_(out) {}
  void run() override { kernel_.run(inputs_of(in_), grads_of(out_)); }

 private:
  cpu::fast::PkmLayerBackward kernel_;
  const TensorMap& in_;
  TensorMap& out_;
};

#ifdef OPBENCH_HAVE_CUDA
// cuda.fast: the same pointer bundles, on the device.
void run_on_device(const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
  auto f = [&i](const char* name) -> const float* { return i.at(name).data<float>(); };
  auto g = [&o](const char* name) { return o.at(name).data<float>(); };
  const cpu::PkmBackwardInputs in{f("x"),
                                  {f("w"), f("b"), f("bn_mean"), f("bn_var"), f("bn_gamma"),
                                   f("bn_beta"), f("k1"), f("k2"), f("values")},
                                  f("dy"),
                                  i.at("indices").data<std::int64_t>(),
                                  f("weights"),
                                  f("zhat")};
  const cpu::PkmBackwardGrads grads{g("dx"),       g("dw"),  g("db"),  g("dbn_gamma"),
                                    g("dbn_beta"), g("dk1"), g("dk2"), g("dvalues")};
  cuda::pkm_layer_backward(in, grads, dims_of(p), p.i("din"), p.i("dv"), static_cast<float>(kEps));
}
#endif

TensorDecl accumulated(const char* name, std::vector<std::string> dims) {
  TensorDecl t = out(name, std::move(dims));
  t.accumulate = true;
  return t;
}

}  // namespace

void register_pkm_layer_backward(Registry& reg) {
  Op op;
  op.suite = "pkm";
  op.name = "pkm_layer_backward";
  op.title = "memory layer backward: softmax and query gradients, sparse scatter-add of value rows";
  op.paper =
      "Lample et al. 2019, Large Memory Layers with Product Keys, Sec. 3.1 eqs. 1-3, "
      "Sec. 3.2-3.3 (differentiated by hand)";
  op.mode = Mode::bwd;
  op.axes = {int_axis("keys", {"4096"}, {"65536", "262144"}, "product keys N (a perfect square)"),
             int_axis("tokens", {"64"}, {"1024", "4096"}, "tokens"),
             int_axis("heads", {"4"}, {"4"}, "memory heads"),
             int_axis("dk", {"256"}, {"256"}, "key dimension (two halves of dk/2)"),
             int_axis("k", {"32"}, {"32"}, "value rows read per token and head"),
             int_axis("din", {"512"}, {"512"}, "input dimension"),
             int_axis("dv", {"512"}, {"512"}, "value dimension"),
             dist_axis({"normal", kSharedRows}, {"normal", "uniform", kSharedRows},
                       "the layer input x; shared_rows: every token the same row, so all tokens "
                       "pick the same value rows (contention)")};
  op.derived = {{"subkeys", [](const Params& p) { return isqrt(p.i("keys")); }},
                {"half", [](const Params& p) { return p.i("dk") / 2; }},
                {"hdk", [](const Params& p) { return p.i("heads") * p.i("dk"); }}};
  TensorDecl indices = in("indices", {"tokens", "heads", "k"}, "constant(0)");
  indices.index = true;
  op.tensors = {in("x", {"tokens", "din"}),
                in("w", {"din", "hdk"}, "normal(0,0.044)"),
                in("b", {"hdk"}, "normal(0,0.1)"),
                in_f32("bn_mean", {"hdk"}, "normal(0,0.5)"),
                in_f32("bn_var", {"hdk"}, "uniform(0.5,2)"),
                in("bn_gamma", {"hdk"}, "uniform(0.5,1.5)"),
                in("bn_beta", {"hdk"}, "normal(0,0.1)"),
                in("k1", {"heads", "subkeys", "half"}, "normal(0,0.1)"),
                in("k2", {"heads", "subkeys", "half"}, "normal(0,0.1)"),
                in("values", {"keys", "dv"}, "normal(0,1)"),
                in("dy", {"tokens", "dv"}, "normal(0,1)"),
                indices,
                in("weights", {"tokens", "heads", "k"}, "constant(0)"),
                in("zhat", {"tokens", "hdk"}, "constant(0)"),
                out("dx", {"tokens", "din"}),
                out("dw", {"din", "hdk"}),
                out("db", {"hdk"}),
                out("dbn_gamma", {"hdk"}),
                out("dbn_beta", {"hdk"}),
                accumulated("dk1", {"heads", "subkeys", "half"}),
                accumulated("dk2", {"heads", "subkeys", "half"}),
                accumulated("dvalues", {"keys", "dv"})};
  GradientOf g;
  g.forward = "pkm_layer";
  for (const char* name : kWeights) g.same[name] = name;
  g.same["x"] = "x";
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"},
                 {"dw", "w"},
                 {"db", "b"},
                 {"dbn_gamma", "bn_gamma"},
                 {"dbn_beta", "bn_beta"},
                 {"dk1", "k1"},
                 {"dk2", "k2"},
                 {"dvalues", "values"}};
  g.saved = {{"indices", "indices"}, {"weights", ""}, {"zhat", ""}};
  g.save = save;
  // Small enough for a quick finite-difference proof: 16 product keys, k = 2 of them per head.
  g.check_point = {{"keys", "16"}, {"tokens", "3"}, {"heads", "2"}, {"dk", "4"},
                   {"k", "2"},     {"din", "3"},    {"dv", "3"},    {"dist", "normal"}};
  op.gradient = g;
  op.validate = validate_search;
  op.prepare_inputs = prepare_inputs;
  op.input_dist = [](const TensorDecl& t, const std::string& dist, DType) -> std::string {
    return t.dist == "$dist" && dist == kSharedRows ? "normal" : "";
  };
  // The whole rule is the error bound of compare_backward; no further allowance.
  op.tolerance = [](DType) { return Tolerance{0, 0}; };
  op.compare = compare_backward;
  op.cost = [shape_helper = op](const Params& p, DType dt) {
    const pkm::Dims d = dims_of(p);
    const double rows = static_cast<double>(d.tokens * d.heads * d.k);
    const double dv = static_cast<double>(p.i("dv")), dk = static_cast<double>(d.dk);
    const double proj = 2.0 * static_cast<double>(d.tokens * p.i("din") * d.heads * d.dk);
    // dp and the value scatter (2 dv each), dq and the sub-key scatter (2 dk each), dW and dx.
    const double flops = rows * (4.0 * dv + 4.0 * dk) + 2.0 * proj;
    // Every tensor once, and the accumulate-into dvalues read as well as written.
    const double dvalues = 4.0 * static_cast<double>(d.keys()) * dv;
    return Cost{flops, suite::tensor_bytes(shape_helper, p, dt) + dvalues};
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    const WeightsF64 w(i);
    const ref::PkmLayerGrads g{out64(o, "dx"),        out64(o, "dw"),       out64(o, "db"),
                               out64(o, "dbn_gamma"), out64(o, "dbn_beta"), out64(o, "dk1"),
                               out64(o, "dk2"),       out64(o, "dvalues")};
    ref::pkm_layer_backward(F64(i.at("x")).p(), w.view, F64(i.at("dy")).p(),
                            i.at("indices").data<std::int64_t>(), F64(i.at("weights")).p(),
                            F64(i.at("zhat")).p(), g, shape_of(dims_of(p)), p.i("din"), p.i("dv"),
                            kEps);
  };
  op.impls.push_back(host_impl("cpu.plain", [](const TensorMap& i, TensorMap& o, const Params& p) {
    cpu::plain::pkm_layer_backward(inputs_of(i), grads_of(o), dims_of(p), p.i("din"), p.i("dv"),
                                   static_cast<float>(kEps));
  }));
  Impl fast;
  fast.name = "cpu.fast";
  fast.backend = "cpu";
  fast.bind = [](const TensorMap& i, TensorMap& o, const Params& p) {
    return std::make_unique<FastKernel>(i, o, p);
  };
  op.impls.push_back(std::move(fast));
#ifdef OPBENCH_HAVE_CUDA
  Impl gpu = cuda_impl("cuda.fast", run_on_device);
  // The accumulate-into outputs start from the base on the device too, zeroed before timed runs.
  gpu.bind = bind_device(run_on_device, {"dk1", "dk2", "dvalues"});
  gpu.unsupported = [](const Params& p) {
    return cuda::pkm_layer_backward_unsupported(dims_of(p));
  };
  gpu.scratch_bytes = [](const Params& p) {
    return cuda::pkm_layer_backward_scratch_bytes(dims_of(p));
  };
  op.impls.push_back(std::move(gpu));
#endif
  reg.add_op(std::move(op));
}

}  // namespace opbench
