// SimpleRMSNorm (TransNormer) and DeepNorm (DeepNet) in the normalization family: tensors, axes,
// scenarios, and the bindings of their float64 references and implementations
// (reference/norm_srmsnorm_deepnorm.hpp, kernels/cpu/norm_srmsnorm_deepnorm.hpp,
// kernels/cuda/norm_srmsnorm_deepnorm_cuda.hpp).
#include "kernels/cpu/norm_srmsnorm_deepnorm.hpp"

#include <string>
#include <vector>

#include "harness/device.hpp"
#include "reference/norm_srmsnorm_deepnorm.hpp"
#include "suites/common.hpp"
#include "suites/norm_common.hpp"
#include "suites/norm_papers.hpp"

#ifdef OPBENCH_HAVE_CUDA
#include "kernels/cuda/norm_srmsnorm_deepnorm_cuda.hpp"
#endif

namespace opbench {
namespace {

using namespace suite;
using namespace suite::norm;

#define OVERLOADS OPBENCH_OVERLOADS

// --- srmsnorm ------------------------------------------------------------------------------------

// The scenario where SimpleRMSNorm divides by eps alone: x drawn normal, then every third row
// set to exactly zero (zero_every_third_row_of_x), in every dtype. There y = 0 / eps = 0, where a
// kernel that drops eps or computes 1 / ||x|| first gives 0 / 0 or 0 * inf = NaN; every
// implementation must give the reference's 0 there.

// Rows and cols of the family; the quick sweep keeps the normal inputs and the zero-row scenario,
// the one where this op can break (a large common offset or constant rows take no subtraction
// here, so they stay in the full sweep with the rest of the family's distributions).
std::vector<Axis> srmsnorm_axes() {
  std::vector<Axis> a = row_axes();
  a.back() =
      suite::dist_axis({"normal", kZeroRows},
                       {"normal", "uniform", "llm_outliers", "offset", "constant_rows", kZeroRows},
                       "distribution of x; zero_rows: normal with every third row exactly zero");
  return a;
}

void register_srmsnorm(Registry& reg) {
  Op op = make_op("srmsnorm", "SimpleRMSNorm: x / (||x||_2 / sqrt(d) + eps), eps = 1e-8, no gain",
                  "Qin et al. 2022 (The Devil in Linear Transformer), NormAttention; formula as "
                  "SRMSNorm in Qin et al. 2023 (TransNormerLLM); eps placement: authors' code",
                  srmsnorm_axes(), {in("x", {"rows", "cols"}), out("y", {"rows", "cols"})}, 3);
  op.input_dist = zero_rows_input_dist;
  op.prepare_inputs = zero_every_third_row_of_x;
  // The kernels take eps as a float, and the reference the same float value.
  const float eps = static_cast<float>(ref::kSrmsnormEps);
  op.reference = [eps](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::srmsnorm(F64(i.at("x")).p(), out64(o, "y"), p.i("rows"), p.i("cols"),
                  static_cast<double>(eps));
  };
  auto call = [eps](auto fn) {
    return [fn, eps](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), out_as<T>(o, "y"), p.i("rows"), p.i("cols"), eps);
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::srmsnorm)),
                 call(OVERLOADS(cpu::fast::srmsnorm)));
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(cuda_impl("cuda.fast", [eps](const DeviceTensorMap& i, DeviceTensorMap& o,
                                                  const Params& p) {
    cuda::srmsnorm(i.at("x").data<float>(), o.at("y").data<float>(), p.i("rows"), p.i("cols"), eps);
  }));
#endif
  reg.add_op(std::move(op));
}

// --- deepnorm ------------------------------------------------------------------------------------

// alpha of an N-layer encoder-only or decoder-only stack, (2N)^(1/4), computed in double and
// rounded once to float: the kernels take it as a float, and the reference is handed that same
// float value (not the double), so that agreement compares the arithmetic, not two alphas that
// differ by float rounding (up to 6e-8 relative, times |x| ~ 1e4 under `offset`: 2e-3, beyond the
// tolerance).
float deepnorm_alpha_f(const Params& p) {
  return static_cast<float>(ref::deepnorm_alpha(p.i("layers")));
}

void register_deepnorm(Registry& reg) {
  std::vector<Axis> axes = row_axes();
  // The quick sweep at 1024 rows only (the pipelined, streamed rows; the family's 64-row cases take
  // the cached row blocks, which srmsnorm's quick cases cover): the main job's budget.
  axes[0] = int_axis("rows", {"1024"}, axes[0].full, "rows (tokens)");
  // Layers N of the stack: 6 and 18 (Transformer base/big-sized stacks), 100 and 1000 (the paper's
  // deep models); alpha = 1.86, 2.45, 3.76, 6.69.
  axes.push_back(
      int_axis("layers", {"100"}, {"6", "18", "100", "1000"},
               "N, layers of an encoder-only or decoder-only stack: alpha = (2N)^(1/4)"));
  Op op = make_op(
      "deepnorm",
      "DeepNorm: y = LayerNorm(alpha x + f(x)) * gamma + beta, alpha = (2 layers)^(1/4); y only",
      "Wang et al. 2022 (DeepNet), Sec. 3 x_{l+1} = LN(alpha x_l + G_l(x_l)) and Fig. 2",
      std::move(axes),
      {in("x", {"rows", "cols"}), in("fx", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
       in("beta", {"cols"}, kShift), out("y", {"rows", "cols"})},
      10);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::deepnorm(F64(i.at("x")).p(), F64(i.at("fx")).p(), F64(i.at("gamma")).p(),
                  F64(i.at("beta")).p(), out64(o, "y"), p.i("rows"), p.i("cols"),
                  static_cast<double>(deepnorm_alpha_f(p)), kEps);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "fx"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), p.i("rows"), p.i("cols"), deepnorm_alpha_f(p),
         static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::deepnorm)),
                 call(OVERLOADS(cpu::fast::deepnorm)));
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o,
                                               const Params& p) {
    cuda::deepnorm(i.at("x").data<float>(), i.at("fx").data<float>(), i.at("gamma").data<float>(),
                   i.at("beta").data<float>(), o.at("y").data<float>(), p.i("rows"), p.i("cols"),
                   deepnorm_alpha_f(p), static_cast<float>(kEps));
  }));
#endif
  reg.add_op(std::move(op));
}

}  // namespace

void register_norm_srmsnorm_deepnorm(Registry& reg) {
  register_srmsnorm(reg);
  register_deepnorm(reg);
}

}  // namespace opbench
