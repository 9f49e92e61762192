// The normalization family's backward ops (LayerNorm, RMSNorm, their residual-add forms, DyT,
// SimpleRMSNorm, DeepNorm, BatchNorm, GroupNorm), each with its saved statistics made by the
// forward pass (GradientOf::save) and its gradients proven against finite differences of the
// forward reference (harness/gradient_check.hpp).
#include "suites/norm_backward.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/add_norm_backward.hpp"
#include "kernels/cpu/channel_norm_backward.hpp"
#include "kernels/cpu/dyt_backward.hpp"
#include "kernels/cpu/norm_backward_fast.hpp"
#include "kernels/cpu/norm_backward_plain.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_backward.hpp"
#include "reference/norm_backward.hpp"
#include "reference/norm_srmsnorm_deepnorm.hpp"
#include "reference/norm_srmsnorm_deepnorm_backward.hpp"
#include "suites/common.hpp"
#include "suites/norm_common.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_norm_backward.hpp"
#endif
#ifdef OPBENCH_HAVE_CUDA
#include "harness/device.hpp"
#include "kernels/cuda/norm_backward_cuda.hpp"
#endif

namespace opbench {

namespace {

using namespace suite;

// The forward ops' eps (suites/norm.cpp): the saved rstd must be the forward pass's, which the
// finite-difference check of each backward op would catch if it were not.
constexpr double kEps = 1e-5;
const char* const kScale = "uniform(0.5,1.5)";  // gamma, as the forward ops draw it

std::vector<Axis> row_axes() {
  return {int_axis("rows", {"64", "1024"}, {"1", "64", "1024", "4096", "16384"}, "rows (tokens)"),
          int_axis("cols", {"4096"}, {"768", "4096", "4097"}, "features normalized together"),
          dist_axis({"normal", "offset", "constant_rows"},
                    {"normal", "uniform", "llm_outliers", "offset", "constant_rows"},
                    "distribution of x (dy is N(0, 1), gamma U(0.5, 1.5))")};
}

// The agreement rule of the backward ops. Each output is a difference of terms, so its float32
// error follows the terms' magnitude, not the result's (dx of a constant row is an exact 0 made
// of terms as large as rstd |g|, rstd = 1/sqrt(eps) = 316 there). Per element, with u = 2^-24:
// - dx = rstd (g - mean(g) - xhat mean(g xhat)) (RMSNorm: no mean(g)): a few roundings of each
//   term, 4 u rstd (|g| + |mean(g)| + |xhat mean(g xhat)|), plus the row sums' error,
//   sqrt(cols) u rstd (mean|g| + |xhat| mean|g xhat|);
// - dgamma, dbeta, sums over the rows: a float32 sum of n terms t_r is within sqrt(n) u sum|t_r|
//   of the exact one with high probability, whatever the order of summation (Higham & Mary 2019,
//   "A new approach to probabilistic rounding error analysis").
// Each adds to the family's atol + rtol |ref|. A wrong term (no mean(g), a row block missing from
// dgamma: 16 of 1024 rows) is far outside.
Tolerance backward_tolerance(DType dt) {
  return {1e-5, 1e-4 + unit_roundoff(dt)};
}

struct Allowance {
  std::vector<double> dx, dgamma, dbeta;  // the magnitude-dependent part of each element's rule
};

// How a norm groups its elements: `sets` normalization sets (LayerNorm's rows, BatchNorm's
// columns, GroupNorm's groups) of `size` elements each; at(s, k) is the flat index of element k
// of set s and channel(s, k) its gamma's index; each channel's dgamma and dbeta sum `per_channel`
// terms.
struct Sets {
  std::int64_t sets, size, channels, per_channel;
  std::function<std::int64_t(std::int64_t, std::int64_t)> at, channel;
};

Sets row_sets(const Params& p) {
  const std::int64_t rows = p.i("rows"), cols = p.i("cols");
  return {rows,
          cols,
          cols,
          rows,
          [cols](std::int64_t s, std::int64_t k) { return s * cols + k; },
          [](std::int64_t, std::int64_t k) { return k; }};
}

// The float64 values an allowance is made of: the incoming gradient dy, the normalized tensor x
// (LayerNorm's x, the residual sum, DeepNorm's alpha x + fx), gamma (empty: a norm without gain,
// gamma = 1), per set the mean (empty: uncentered, 0) and rstd, and `projection`, a factor per set
// on the xhat mean(g xhat) term (empty: 1; SimpleRMSNorm's r / rho, register_srmsnorm_backward).
struct NormValues {
  std::vector<double> dy, x, gamma, mean, rstd, projection;
};

// The allowance of every output element.
Allowance allowance(const NormValues& v, const Sets& sets, bool centered) {
  const double u = unit_roundoff(DType::f32), n = static_cast<double>(sets.size);
  Allowance a;
  a.dx.resize(v.dy.size());
  a.dgamma.assign(static_cast<std::size_t>(sets.channels), 0.0);
  a.dbeta.assign(a.dgamma.size(), 0.0);
  std::vector<double> xhat(static_cast<std::size_t>(sets.size)), g(xhat.size());
  for (std::int64_t s = 0; s < sets.sets; ++s) {
    const std::size_t us = static_cast<std::size_t>(s);
    const double mean = v.mean.empty() ? 0.0 : v.mean[us];
    const double proj = v.projection.empty() ? 1.0 : v.projection[us];
    double sum_g = 0, sum_gx = 0, abs_g = 0, abs_gx = 0;
    for (std::int64_t k = 0; k < sets.size; ++k) {
      const std::size_t at = static_cast<std::size_t>(sets.at(s, k)),
                        uk = static_cast<std::size_t>(k);
      const std::size_t ch = static_cast<std::size_t>(sets.channel(s, k));
      xhat[uk] = (v.x[at] - mean) * v.rstd[us];
      g[uk] = v.dy[at] * (v.gamma.empty() ? 1.0 : v.gamma[ch]);
      sum_g += g[uk];
      sum_gx += g[uk] * xhat[uk];
      abs_g += std::abs(g[uk]);
      abs_gx += std::abs(g[uk] * xhat[uk]);
      a.dgamma[ch] += std::abs(v.dy[at] * xhat[uk]);
      a.dbeta[ch] += std::abs(v.dy[at]);
    }
    const double mg = centered ? sum_g / n : 0.0;
    for (std::int64_t k = 0; k < sets.size; ++k) {
      const std::size_t uk = static_cast<std::size_t>(k);
      const double terms = std::abs(g[uk]) + std::abs(mg) + proj * std::abs(xhat[uk] * sum_gx / n);
      const double sums = (centered ? abs_g / n : 0.0) + proj * std::abs(xhat[uk]) * abs_gx / n;
      a.dx[static_cast<std::size_t>(sets.at(s, k))] =
          v.rstd[us] * u * (4 * terms + std::sqrt(n) * sums);
    }
  }
  const double spread = std::sqrt(static_cast<double>(sets.per_channel)) * u;
  for (double& m : a.dgamma) m *= spread;
  for (double& m : a.dbeta) m *= spread;
  return a;
}

// The same from a case's inputs. `normalized` is the tensor the norm ran on ("x", or "sum" after
// a residual add); a fused add's dx also adds the residual's gradient dsum, one more rounding.
Allowance allowance(const TensorMap& in, const Sets& sets, bool centered,
                    const char* normalized = "x") {
  NormValues v;
  v.dy = F64(in.at("dy")).v;
  v.x = F64(in.at(normalized)).v;
  v.gamma = F64(in.at("gamma")).v;
  if (centered) v.mean = F64(in.at("mean")).v;
  v.rstd = F64(in.at("rstd")).v;
  Allowance a = allowance(v, sets, centered);
  if (in.count("dsum")) {
    const double u = unit_roundoff(DType::f32);
    const F64 dsum(in.at("dsum"));
    for (std::size_t k = 0; k < a.dx.size(); ++k) a.dx[k] += 2 * u * std::abs(dsum.v[k]);
  }
  return a;
}

Agreement compare_within(const std::string& name, const Tensor& out, const Tensor& ref,
                         const std::vector<double>& extra, Tolerance tol) {
  ElementChecker check(name, out.shape());
  std::vector<double> got(static_cast<std::size_t>(out.numel()));
  out.values_as_double(0, out.numel(), got.data());
  for (std::int64_t j = 0; j < out.numel(); ++j) {
    const std::size_t uj = static_cast<std::size_t>(j);
    const double r = ref.data<double>()[j];
    check.element(j, got[uj], r, tol.atol + tol.rtol * std::abs(r) + extra[uj], tol.atol);
  }
  return check.finish();
}

// The common declaration: dy, x, gamma and the saved statistics in; dx and the column gradients
// out. Costs are the compulsory bytes of every tensor and `flops` per element of x.
Op make_backward_op(const char* name, const char* title, const char* paper,
                    std::vector<TensorDecl> tensors, double flops) {
  Op op;
  op.suite = "norm";
  op.name = name;
  op.title = title;
  op.paper = paper;
  op.mode = Mode::bwd;
  op.axes = row_axes();
  op.tensors = std::move(tensors);
  op.tolerance = backward_tolerance;
  op.cost = [shape_helper = op, flops](const Params& p, DType dt) {
    return Cost{flops * static_cast<double>(p.i("rows") * p.i("cols")),
                suite::tensor_bytes(shape_helper, p, dt)};
  };
  return op;
}

#define OVERLOADS OPBENCH_OVERLOADS

// --- LayerNorm and RMSNorm backward, alone or after a residual add ---------------------------

// The statistics the forward pass saves, from the normalized tensor `from` ("x" or "sum"), in
// float64, rounded once to float32 as a training framework keeps them (PyTorch's
// native_layer_norm saves float32 mean and rstd).
std::function<void(TensorMap&, const Params&)> save_stats(const char* from, bool centered) {
  return [from, centered](TensorMap& in, const Params& p) {
    const std::int64_t rows = p.i("rows");
    std::vector<double> mean(static_cast<std::size_t>(rows)), rstd(mean.size());
    const F64 x(in.at(from));
    if (centered) {
      ref::layernorm_stats(x.p(), mean.data(), rstd.data(), rows, p.i("cols"), kEps);
    } else {
      ref::rmsnorm_stats(x.p(), rstd.data(), rows, p.i("cols"), kEps);
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      if (centered) store_double(in.at("mean"), r, mean[static_cast<std::size_t>(r)]);
      store_double(in.at("rstd"), r, rstd[static_cast<std::size_t>(r)]);
    }
  };
}

// The comparison of a LayerNorm-like (centered) or RMSNorm-like backward's outputs.
std::function<Agreement(const TensorMap&, const TensorMap&, const TensorMap&, const Params&,
                        Tolerance)>
norm_compare(bool centered, const char* normalized,
             std::function<Sets(const Params&)> sets_of = row_sets) {
  return [centered, normalized, sets_of](const TensorMap& i, const TensorMap& o, const TensorMap& r,
                                         const Params& p, Tolerance tol) {
    const Allowance extra = allowance(i, sets_of(p), centered, normalized);
    Agreement a = compare_within("dx", o.at("dx"), r.at("dx"), extra.dx, tol);
    merge_agreement(a, compare_within("dgamma", o.at("dgamma"), r.at("dgamma"), extra.dgamma, tol));
    if (centered) {
      merge_agreement(a, compare_within("dbeta", o.at("dbeta"), r.at("dbeta"), extra.dbeta, tol));
    }
    return a;
  };
}

void register_layernorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "layernorm_backward",
      "LayerNorm backward: dx, dgamma, dbeta from dy and the saved mean and rstd",
      "Ba, Kiros, Hinton 2016, eqs. 3-4, differentiated (reference/norm_backward.hpp)",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("x", {"rows", "cols"}),
       in("gamma", {"cols"}, kScale), in_f32("mean", {"rows"}, "normal(0,1)"),
       in_f32("rstd", {"rows"}, "normal(0,1)"), out("dx", {"rows", "cols"}),
       out("dgamma", {"cols"}), out("dbeta", {"cols"})},
      14);
  GradientOf g;
  g.forward = "layernorm";
  g.same = {{"x", "x"}, {"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}, {"dgamma", "gamma"}, {"dbeta", "beta"}};
  g.saved = {{"mean", ""}, {"rstd", ""}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "normal"}};
  g.save = save_stats("x", true);
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::layernorm_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), F64(i.at("gamma")).p(),
                            F64(i.at("mean")).p(), F64(i.at("rstd")).p(), out64(o, "dx"),
                            out64(o, "dgamma"), out64(o, "dbeta"), p.i("rows"), p.i("cols"));
  };
  op.compare = norm_compare(true, "x");
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), in32(i, "gamma"), in32(i, "mean"), in32(i, "rstd"),
         out32(o, "dx"), out32(o, "dgamma"), out32(o, "dbeta"), p.i("rows"), p.i("cols"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::layernorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::layernorm_backward))));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(
      peer_impl("onednn", onednn::bind_layernorm_backward(static_cast<float>(kEps))));
#endif
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("layernorm_backward", {DType::f32}, kEps));
#endif
#ifdef OPBENCH_HAVE_CUDA
  Impl gpu =
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::layernorm_backward(
            i.at("dy").data<float>(), i.at("x").data<float>(), i.at("gamma").data<float>(),
            i.at("mean").data<float>(), i.at("rstd").data<float>(), o.at("dx").data<float>(),
            o.at("dgamma").data<float>(), o.at("dbeta").data<float>(), p.i("rows"), p.i("cols"));
      });
  gpu.scratch_bytes = [](const Params& p) {
    return cuda::norm_backward_scratch_bytes(p.i("rows"), p.i("cols"), true);
  };
  op.impls.push_back(std::move(gpu));
#endif
  reg.add_op(std::move(op));
}

void register_rmsnorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "rmsnorm_backward", "RMSNorm backward: dx, dgamma from dy and the saved rstd",
      "Zhang & Sennrich 2019, eq. 4, differentiated (reference/norm_backward.hpp)",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("x", {"rows", "cols"}),
       in("gamma", {"cols"}, kScale), in_f32("rstd", {"rows"}, "normal(0,1)"),
       out("dx", {"rows", "cols"}), out("dgamma", {"cols"})},
      10);
  GradientOf g;
  g.forward = "rmsnorm";
  g.same = {{"x", "x"}, {"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}, {"dgamma", "gamma"}};
  g.saved = {{"rstd", ""}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "normal"}};
  g.save = save_stats("x", false);
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::rmsnorm_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), F64(i.at("gamma")).p(),
                          F64(i.at("rstd")).p(), out64(o, "dx"), out64(o, "dgamma"), p.i("rows"),
                          p.i("cols"));
  };
  op.compare = norm_compare(false, "x");
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), in32(i, "gamma"), in32(i, "rstd"), out32(o, "dx"),
         out32(o, "dgamma"), p.i("rows"), p.i("cols"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::rmsnorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::rmsnorm_backward))));
#ifdef OPBENCH_HAVE_CUDA
  Impl gpu =
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::rmsnorm_backward(i.at("dy").data<float>(), i.at("x").data<float>(),
                               i.at("gamma").data<float>(), i.at("rstd").data<float>(),
                               o.at("dx").data<float>(), o.at("dgamma").data<float>(), p.i("rows"),
                               p.i("cols"));
      });
  gpu.scratch_bytes = [](const Params& p) {
    return cuda::norm_backward_scratch_bytes(p.i("rows"), p.i("cols"), false);
  };
  op.impls.push_back(std::move(gpu));
#endif
  reg.add_op(std::move(op));
}

// The fused residual add's backward. The saved `sum` is the forward pass's output x + residual;
// a case draws it whole from `dist` (the forward's x with residual 0: the same scenarios, offset
// included), and its statistics are made from it. x and residual get the same gradient, so one
// output dx serves both; the finite-difference check covers it through x.
void register_add_layernorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "add_layernorm_backward",
      "Residual add then LayerNorm, backward: dx (= dresidual) = dsum + LN's dx at sum",
      "pre-norm transformer block (Xiong et al. 2020); Ba et al. 2016 differentiated",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("dsum", {"rows", "cols"}, "normal(0,1)"),
       in("sum", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
       in_f32("mean", {"rows"}, "normal(0,1)"), in_f32("rstd", {"rows"}, "normal(0,1)"),
       out("dx", {"rows", "cols"}), out("dgamma", {"cols"}), out("dbeta", {"cols"})},
      15);
  GradientOf g;
  g.forward = "add_layernorm";
  g.same = {{"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}, {"dsum", "sum"}};
  g.gradients = {{"dx", "x"}, {"dgamma", "gamma"}, {"dbeta", "beta"}};
  g.saved = {{"sum", "sum"}, {"mean", ""}, {"rstd", ""}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "normal"}};
  g.save = save_stats("sum", true);
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::add_layernorm_backward(F64(i.at("dy")).p(), F64(i.at("dsum")).p(), F64(i.at("sum")).p(),
                                F64(i.at("gamma")).p(), F64(i.at("mean")).p(),
                                F64(i.at("rstd")).p(), out64(o, "dx"), out64(o, "dgamma"),
                                out64(o, "dbeta"), p.i("rows"), p.i("cols"));
  };
  op.compare = norm_compare(true, "sum");
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "dsum"), in32(i, "sum"), in32(i, "gamma"), in32(i, "mean"),
         in32(i, "rstd"), out32(o, "dx"), out32(o, "dgamma"), out32(o, "dbeta"), p.i("rows"),
         p.i("cols"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::add_layernorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::add_layernorm_backward))));
  reg.add_op(std::move(op));
}

void register_add_rmsnorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "add_rmsnorm_backward",
      "Residual add then RMSNorm, backward: dx (= dresidual) = dsum + RMSNorm's dx at sum",
      "pre-norm transformer block; Zhang & Sennrich 2019 differentiated",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("dsum", {"rows", "cols"}, "normal(0,1)"),
       in("sum", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
       in_f32("rstd", {"rows"}, "normal(0,1)"), out("dx", {"rows", "cols"}),
       out("dgamma", {"cols"})},
      11);
  GradientOf g;
  g.forward = "add_rmsnorm";
  g.same = {{"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}, {"dsum", "sum"}};
  g.gradients = {{"dx", "x"}, {"dgamma", "gamma"}};
  g.saved = {{"sum", "sum"}, {"rstd", ""}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "normal"}};
  g.save = save_stats("sum", false);
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::add_rmsnorm_backward(F64(i.at("dy")).p(), F64(i.at("dsum")).p(), F64(i.at("sum")).p(),
                              F64(i.at("gamma")).p(), F64(i.at("rstd")).p(), out64(o, "dx"),
                              out64(o, "dgamma"), p.i("rows"), p.i("cols"));
  };
  op.compare = norm_compare(false, "sum");
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "dsum"), in32(i, "sum"), in32(i, "gamma"), in32(i, "rstd"),
         out32(o, "dx"), out32(o, "dgamma"), p.i("rows"), p.i("cols"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::add_rmsnorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::add_rmsnorm_backward))));
  reg.add_op(std::move(op));
}

// --- dyt_backward --------------------------------------------------------------------------

// DyT's outputs are each a product, not a difference, except 1 - t^2 where |t| is near 1: a t
// rounded to float (u |t|) moves 1 - t^2 by up to 2 u t^2, so dx allows 8 u |dy gamma alpha| t^2
// (t and the product's roundings) beyond the family rule, dalpha the same over every element plus
// its sum's sqrt(rows cols) u spread, dgamma and dbeta their column sums' sqrt(rows) u spread.
Agreement compare_dyt(const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                      Tolerance tol) {
  const std::int64_t rows = p.i("rows"), cols = p.i("cols");
  const F64 dy(i.at("dy")), x(i.at("x")), gamma(i.at("gamma"));
  const double alpha = i.at("alpha").value_as_double(0), u = unit_roundoff(DType::f32);
  std::vector<double> dx(static_cast<std::size_t>(rows * cols)), dg(static_cast<std::size_t>(cols)),
      db(dg.size());
  double da_terms = 0, da_t = 0;
  for (std::int64_t rr = 0; rr < rows; ++rr) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::size_t k = static_cast<std::size_t>(rr * cols + j),
                        uj = static_cast<std::size_t>(j);
      const double t = std::tanh(alpha * x.v[k]), dyg = dy.v[k] * gamma.v[uj];
      dx[k] = 8 * u * std::abs(dyg * alpha) * t * t;
      da_terms += std::abs(dyg * x.v[k] * (1 - t * t));
      da_t += 8 * u * std::abs(dyg * x.v[k]) * t * t;
      dg[uj] += std::abs(dy.v[k] * t);
      db[uj] += std::abs(dy.v[k]);
    }
  }
  const double spread = std::sqrt(static_cast<double>(rows)) * u;
  for (std::size_t j = 0; j < dg.size(); ++j) {
    dg[j] = spread * dg[j] + 4 * u * dg[j];
    db[j] *= spread;
  }
  const std::vector<double> da = {std::sqrt(static_cast<double>(rows * cols)) * u * da_terms +
                                  da_t};
  Agreement a = compare_within("dx", o.at("dx"), r.at("dx"), dx, tol);
  merge_agreement(a, compare_within("dalpha", o.at("dalpha"), r.at("dalpha"), da, tol));
  merge_agreement(a, compare_within("dgamma", o.at("dgamma"), r.at("dgamma"), dg, tol));
  merge_agreement(a, compare_within("dbeta", o.at("dbeta"), r.at("dbeta"), db, tol));
  return a;
}

void register_dyt_backward(Registry& reg) {
  Op op = make_backward_op(
      "dyt_backward", "DyT backward: dx, dalpha, dgamma, dbeta (tanh recomputed, nothing saved)",
      "Zhu, Chen, He, LeCun, Liu 2025, eq. 1, differentiated (reference/norm_backward.hpp)",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("x", {"rows", "cols"}),
       in("alpha", {"1"}, "uniform(0.4,0.6)"), in("gamma", {"cols"}, kScale),
       out("dx", {"rows", "cols"}), out("dalpha", {"1"}), out("dgamma", {"cols"}),
       out("dbeta", {"cols"})},
      20);
  GradientOf g;
  g.forward = "dyt";
  g.same = {{"x", "x"}, {"alpha", "alpha"}, {"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}, {"dalpha", "alpha"}, {"dgamma", "gamma"}, {"dbeta", "beta"}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "llm_outliers"}};
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::dyt_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), i.at("alpha").value_as_double(0),
                      F64(i.at("gamma")).p(), out64(o, "dx"), out64(o, "dalpha"),
                      out64(o, "dgamma"), out64(o, "dbeta"), p.i("rows"), p.i("cols"));
  };
  op.compare = compare_dyt;
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), static_cast<float>(i.at("alpha").value_as_double(0)),
         in32(i, "gamma"), out32(o, "dx"), out32(o, "dalpha"), out32(o, "dgamma"),
         out32(o, "dbeta"), p.i("rows"), p.i("cols"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::dyt_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::dyt_backward))));
  reg.add_op(std::move(op));
}

// --- batchnorm_train_backward and groupnorm_backward ----------------------------------------

Sets column_sets(const Params& p) {
  const std::int64_t rows = p.i("rows"), cols = p.i("cols");
  return {cols,
          rows,
          cols,
          rows,
          [cols](std::int64_t s, std::int64_t k) { return k * cols + s; },
          [](std::int64_t s, std::int64_t) { return s; }};
}

Sets group_sets(const Params& p) {
  const std::int64_t n = p.i("n"), c = p.i("c"), hw = p.i("hw"), groups = p.i("groups");
  const std::int64_t per = c / groups, size = per * hw;
  return {
      n * groups,
      size,
      c,
      n * hw,
      [size](std::int64_t s, std::int64_t k) { return s * size + k; },
      [groups, per, hw](std::int64_t s, std::int64_t k) { return (s % groups) * per + k / hw; }};
}

void register_batchnorm_train_backward(Registry& reg) {
  Op op = make_backward_op(
      "batchnorm_train_backward",
      "BatchNorm backward (training): dx, dgamma, dbeta; every reduction runs down the columns",
      "Ioffe & Szegedy 2015, Alg. 1 and §3 (its backward equations)",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("x", {"rows", "cols"}),
       in("gamma", {"cols"}, kScale), in_f32("mean", {"cols"}, "normal(0,1)"),
       in_f32("rstd", {"cols"}, "normal(0,1)"), out("dx", {"rows", "cols"}),
       out("dgamma", {"cols"}), out("dbeta", {"cols"})},
      12);
  op.axes = {int_axis("rows", {"64", "1024"}, {"2", "64", "1024", "4096", "16384"}, "batch"),
             int_axis("cols", {"4096"}, {"64", "4096"}, "channels"), op.axes.back()};
  GradientOf g;
  g.forward = "batchnorm_train";
  g.same = {{"x", "x"}, {"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}, {"dgamma", "gamma"}, {"dbeta", "beta"}};
  g.saved = {{"mean", ""}, {"rstd", ""}};
  g.check_point = {{"rows", "9"}, {"cols", "5"}, {"dist", "normal"}};
  g.save = [](TensorMap& in, const Params& p) {
    const std::int64_t cols = p.i("cols");
    std::vector<double> mean(static_cast<std::size_t>(cols)), rstd(mean.size());
    ref::batchnorm_train_stats(F64(in.at("x")).p(), mean.data(), rstd.data(), p.i("rows"), cols,
                               kEps);
    for (std::int64_t j = 0; j < cols; ++j) {
      store_double(in.at("mean"), j, mean[static_cast<std::size_t>(j)]);
      store_double(in.at("rstd"), j, rstd[static_cast<std::size_t>(j)]);
    }
  };
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::batchnorm_train_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), F64(i.at("gamma")).p(),
                                  F64(i.at("mean")).p(), F64(i.at("rstd")).p(), out64(o, "dx"),
                                  out64(o, "dgamma"), out64(o, "dbeta"), p.i("rows"), p.i("cols"));
  };
  op.compare = norm_compare(true, "x", column_sets);
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), in32(i, "gamma"), in32(i, "mean"), in32(i, "rstd"),
         out32(o, "dx"), out32(o, "dgamma"), out32(o, "dbeta"), p.i("rows"), p.i("cols"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::batchnorm_train_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::batchnorm_train_backward))));
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("batchnorm_train_backward", {DType::f32}, kEps));
#endif
  reg.add_op(std::move(op));
}

void register_groupnorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "groupnorm_backward", "GroupNorm backward: dx, dgamma, dbeta from the saved group statistics",
      "Wu & He 2018, eqs. 1-3 and 7, differentiated (reference/norm_backward.hpp)",
      {in("dy", {"n", "c", "hw"}, "normal(0,1)"), in("x", {"n", "c", "hw"}),
       in("gamma", {"c"}, kScale), in_f32("mean", {"n", "groups"}, "normal(0,1)"),
       in_f32("rstd", {"n", "groups"}, "normal(0,1)"), out("dx", {"n", "c", "hw"}),
       out("dgamma", {"c"}), out("dbeta", {"c"})},
      14);
  op.axes = {int_axis("n", {"8"}, {"1", "8", "32"}, "batch"),
             int_axis("c", {"64"}, {"64", "256"}, "channels"),
             int_axis("hw", {"256", "4096"}, {"64", "1024", "4096"}, "spatial size"),
             int_axis("groups", {"8"}, {"8", "32"}, "channel groups"), op.axes.back()};
  op.validate = [](const Params& p) -> std::string {
    if (p.i("groups") > p.i("c")) return "groups must be at most c";
    if (p.i("c") % p.i("groups") != 0) return "groups must divide c";
    return "";
  };
  op.cost = [shape_helper = op](const Params& p, DType dt) {
    return Cost{14.0 * static_cast<double>(p.i("n") * p.i("c") * p.i("hw")),
                suite::tensor_bytes(shape_helper, p, dt)};
  };
  GradientOf g;
  g.forward = "groupnorm";
  g.same = {{"x", "x"}, {"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}, {"dgamma", "gamma"}, {"dbeta", "beta"}};
  g.saved = {{"mean", ""}, {"rstd", ""}};
  g.check_point = {{"n", "2"}, {"c", "6"}, {"hw", "5"}, {"groups", "3"}, {"dist", "normal"}};
  g.save = [](TensorMap& in, const Params& p) {
    const std::int64_t sets = p.i("n") * p.i("groups");
    std::vector<double> mean(static_cast<std::size_t>(sets)), rstd(mean.size());
    ref::groupnorm_stats(F64(in.at("x")).p(), mean.data(), rstd.data(), p.i("n"), p.i("c"),
                         p.i("hw"), p.i("groups"), kEps);
    for (std::int64_t s = 0; s < sets; ++s) {
      store_double(in.at("mean"), s, mean[static_cast<std::size_t>(s)]);
      store_double(in.at("rstd"), s, rstd[static_cast<std::size_t>(s)]);
    }
  };
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::groupnorm_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), F64(i.at("gamma")).p(),
                            F64(i.at("mean")).p(), F64(i.at("rstd")).p(), out64(o, "dx"),
                            out64(o, "dgamma"), out64(o, "dbeta"), p.i("n"), p.i("c"), p.i("hw"),
                            p.i("groups"));
  };
  op.compare = norm_compare(true, "x", group_sets);
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), in32(i, "gamma"), in32(i, "mean"), in32(i, "rstd"),
         out32(o, "dx"), out32(o, "dgamma"), out32(o, "dbeta"), p.i("n"), p.i("c"), p.i("hw"),
         p.i("groups"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::groupnorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::groupnorm_backward))));
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("groupnorm_backward", {DType::f32}, kEps));
#endif
  reg.add_op(std::move(op));
}

// --- srmsnorm_backward and deepnorm_backward ----------------------------------------------

// SimpleRMSNorm's eps, the value its forward op hands the kernels and the reference (1e-8 rounded
// to float), in the saved divisor and in the backward alike. (Its eps / rho part of the gradient
// is below any finite difference at 1e-8: tests/test_norm_srmsnorm_deepnorm_backward.cpp checks
// it at eps = 0.3 and by hand.)
const float kSrmsEps = static_cast<float>(ref::kSrmsnormEps);

// The zero-row scenario of the forward op srmsnorm (suites/norm_common.hpp): x normal with every
// third row exactly zero, where dx = dy / eps (the reference's rule).

// SimpleRMSNorm's dx = (dy - xhat mean(xhat dy) r / rho) / r (xhat = x / r) is RMSNorm's with
// gamma = 1 and rstd = 1 / r, its projection term grown by r / rho = 1 + eps / rho: the family
// rule with that factor on the term's own rounding and on its row sum's (x . dy, whose float32
// error the kernels multiply by 1 / (d r^2 rho)). On a zero row (rho = 0) the term is 0 and so is
// its allowance: dx = dy / eps, 1e8 |dy|, within 4 u of it. A kernel without the projection term
// (plain dy / r) is off by |xhat mean(xhat dy)| / rho, far outside (a planted kernel in the tests).
// (The float64 copies of the inputs are freed before the comparison: at 16384 x 4097 each is
// 0.5 GB.)
Allowance srmsnorm_allowance(const TensorMap& i, const Params& p) {
  NormValues v;
  v.dy = F64(i.at("dy")).v;
  v.x = F64(i.at("x")).v;
  for (const double d : F64(i.at("divisor")).v) {
    const double rho = d - static_cast<double>(kSrmsEps);
    v.rstd.push_back(1.0 / d);
    v.projection.push_back(rho > 0 ? d / rho : 0.0);
  }
  return allowance(v, row_sets(p), false);
}

Agreement compare_srmsnorm(const TensorMap& i, const TensorMap& o, const TensorMap& r,
                           const Params& p, Tolerance tol) {
  return compare_within("dx", o.at("dx"), r.at("dx"), srmsnorm_allowance(i, p).dx, tol);
}

void register_srmsnorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "srmsnorm_backward",
      "SimpleRMSNorm backward: dx from dy and the saved divisor ||x|| / sqrt(d) + eps (no gain)",
      "Qin et al. 2022 (The Devil in Linear Transformer), SRMSNorm with the authors' eps outside "
      "the root, differentiated (reference/norm_srmsnorm_deepnorm_backward.hpp)",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("x", {"rows", "cols"}),
       in_f32("divisor", {"rows"}, "normal(0,1)"), out("dx", {"rows", "cols"})},
      4);
  // The forward op's scenarios: zero rows in the quick sweep, where this op divides by eps alone.
  op.axes.back() =
      dist_axis({"normal", norm::kZeroRows},
                {"normal", "uniform", "llm_outliers", "offset", "constant_rows", norm::kZeroRows},
                "distribution of x (dy is N(0, 1)); zero_rows: normal with every third row zero");
  op.input_dist = norm::zero_rows_input_dist;
  op.prepare_inputs = norm::zero_every_third_row_of_x;
  GradientOf g;
  g.forward = "srmsnorm";
  g.same = {{"x", "x"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}};
  g.saved = {{"divisor", ""}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "normal"}};
  g.save = [](TensorMap& in, const Params& p) {
    const std::int64_t rows = p.i("rows");
    std::vector<double> r(static_cast<std::size_t>(rows));
    ref::srmsnorm_divisor(F64(in.at("x")).p(), r.data(), rows, p.i("cols"),
                          static_cast<double>(kSrmsEps));
    for (std::int64_t k = 0; k < rows; ++k) {
      store_double(in.at("divisor"), k, r[static_cast<std::size_t>(k)]);
    }
  };
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::srmsnorm_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), F64(i.at("divisor")).p(),
                           out64(o, "dx"), p.i("rows"), p.i("cols"), static_cast<double>(kSrmsEps));
  };
  op.compare = compare_srmsnorm;
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), in32(i, "divisor"), out32(o, "dx"), p.i("rows"), p.i("cols"),
         kSrmsEps);
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::srmsnorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::srmsnorm_backward))));
  reg.add_op(std::move(op));
}

// DeepNorm's alpha = (2 layers)^(1/4) rounded once to float, the value its forward op hands the
// kernels and the reference (suites/norm_srmsnorm_deepnorm.cpp, deepnorm_alpha_f).
float deepnorm_alpha(const Params& p) {
  return static_cast<float>(ref::deepnorm_alpha(p.i("layers")));
}

// s = alpha x + fx of every element, in float64 (as the reference recomputes it), fx read in
// pieces rather than copied whole.
std::vector<double> deepnorm_sum(const TensorMap& in, const Params& p) {
  const Tensor &x = in.at("x"), &fx = in.at("fx");
  const double alpha = deepnorm_alpha(p);
  const std::int64_t n = x.numel(), piece = 1 << 16;
  std::vector<double> s(static_cast<std::size_t>(n)), f(static_cast<std::size_t>(piece));
  x.values_as_double(0, n, s.data());
  for (std::int64_t k0 = 0; k0 < n; k0 += piece) {
    const std::int64_t m = std::min(piece, n - k0);
    fx.values_as_double(k0, m, f.data());
    for (std::int64_t k = 0; k < m; ++k) {
      s[static_cast<std::size_t>(k0 + k)] =
          alpha * s[static_cast<std::size_t>(k0 + k)] + f[static_cast<std::size_t>(k)];
    }
  }
  return s;
}

// LayerNorm's allowance at s (its float64 inputs freed on return).
Allowance deepnorm_allowance(const TensorMap& i, const Params& p) {
  NormValues v;
  v.dy = F64(i.at("dy")).v;
  v.x = deepnorm_sum(i, p);
  v.gamma = F64(i.at("gamma")).v;
  v.mean = F64(i.at("mean")).v;
  v.rstd = F64(i.at("rstd")).v;
  return allowance(v, row_sets(p), true);
}

// LayerNorm's rule at s: dfx = ds takes it as it is, dx = alpha ds the same scaled by alpha (its
// one more rounding, u |dx|, is inside the rtol). The kernels' s - mean, rounded once from a
// wider sum, adds u |shat| per element, which the rule's 4 u terms cover.
Agreement compare_deepnorm(const TensorMap& i, const TensorMap& o, const TensorMap& r,
                           const Params& p, Tolerance tol) {
  Allowance extra = deepnorm_allowance(i, p);
  Agreement a = compare_within("dfx", o.at("dfx"), r.at("dfx"), extra.dx, tol);
  const double alpha = deepnorm_alpha(p);
  for (double& e : extra.dx) e *= alpha;  // now dx's
  merge_agreement(a, compare_within("dx", o.at("dx"), r.at("dx"), extra.dx, tol));
  merge_agreement(a, compare_within("dgamma", o.at("dgamma"), r.at("dgamma"), extra.dgamma, tol));
  merge_agreement(a, compare_within("dbeta", o.at("dbeta"), r.at("dbeta"), extra.dbeta, tol));
  return a;
}

void register_deepnorm_backward(Registry& reg) {
  Op op = make_backward_op(
      "deepnorm_backward",
      "DeepNorm backward: dx = alpha ds, dfx = ds, dgamma, dbeta; ds LayerNorm's at "
      "s = alpha x + fx (recomputed) from the saved mean and rstd",
      "Wang et al. 2022 (DeepNet), Sec. 3 and Fig. 2; Ba et al. 2016 differentiated "
      "(reference/norm_srmsnorm_deepnorm_backward.hpp)",
      {in("dy", {"rows", "cols"}, "normal(0,1)"), in("x", {"rows", "cols"}),
       in("fx", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
       in_f32("mean", {"rows"}, "normal(0,1)"), in_f32("rstd", {"rows"}, "normal(0,1)"),
       out("dx", {"rows", "cols"}), out("dfx", {"rows", "cols"}), out("dgamma", {"cols"}),
       out("dbeta", {"cols"})},
      18);
  // The forward op's axis (suites/norm_srmsnorm_deepnorm.cpp).
  op.axes.push_back(
      int_axis("layers", {"100"}, {"6", "18", "100", "1000"},
               "N, layers of an encoder-only or decoder-only stack: alpha = (2N)^(1/4)"));
  op.validate = [](const Params& p) -> std::string {
    return p.i("layers") >= 1 ? "" : "layers must be at least 1 (alpha = (2 layers)^(1/4))";
  };
  GradientOf g;
  g.forward = "deepnorm";
  g.same = {{"x", "x"}, {"fx", "fx"}, {"gamma", "gamma"}};
  g.incoming = {{"dy", "y"}};
  g.gradients = {{"dx", "x"}, {"dfx", "fx"}, {"dgamma", "gamma"}, {"dbeta", "beta"}};
  g.saved = {{"mean", ""}, {"rstd", ""}};
  g.check_point = {{"rows", "5"}, {"cols", "33"}, {"dist", "normal"}, {"layers", "6"}};
  g.save = [](TensorMap& in, const Params& p) {
    const std::int64_t rows = p.i("rows");
    std::vector<double> mean(static_cast<std::size_t>(rows)), rstd(mean.size());
    ref::deepnorm_stats(F64(in.at("x")).p(), F64(in.at("fx")).p(), mean.data(), rstd.data(), rows,
                        p.i("cols"), deepnorm_alpha(p), kEps);
    for (std::int64_t r = 0; r < rows; ++r) {
      store_double(in.at("mean"), r, mean[static_cast<std::size_t>(r)]);
      store_double(in.at("rstd"), r, rstd[static_cast<std::size_t>(r)]);
    }
  };
  op.gradient = std::move(g);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::deepnorm_backward(F64(i.at("dy")).p(), F64(i.at("x")).p(), F64(i.at("fx")).p(),
                           F64(i.at("gamma")).p(), F64(i.at("mean")).p(), F64(i.at("rstd")).p(),
                           out64(o, "dx"), out64(o, "dfx"), out64(o, "dgamma"), out64(o, "dbeta"),
                           p.i("rows"), p.i("cols"), deepnorm_alpha(p));
  };
  op.compare = compare_deepnorm;
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "dy"), in32(i, "x"), in32(i, "fx"), in32(i, "gamma"), in32(i, "mean"),
         in32(i, "rstd"), out32(o, "dx"), out32(o, "dfx"), out32(o, "dgamma"), out32(o, "dbeta"),
         p.i("rows"), p.i("cols"), deepnorm_alpha(p));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(OVERLOADS(cpu::plain::deepnorm_backward))));
  op.impls.push_back(host_impl("cpu.fast", call(OVERLOADS(cpu::fast::deepnorm_backward))));
  reg.add_op(std::move(op));
}

}  // namespace

void register_norm_backward_ops(Registry& reg) {
  register_layernorm_backward(reg);
  register_rmsnorm_backward(reg);
  register_add_layernorm_backward(reg);
  register_add_rmsnorm_backward(reg);
  register_srmsnorm_backward(reg);
  register_deepnorm_backward(reg);
  register_dyt_backward(reg);
  register_batchnorm_train_backward(reg);
  register_groupnorm_backward(reg);
}

}  // namespace opbench
