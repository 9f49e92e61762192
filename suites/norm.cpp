// The normalization family: LayerNorm, RMSNorm, Pre-CRMSNorm, DyT, BatchNorm (inference and
// training), GroupNorm, EvoNorm-S0/B0, Online Normalization, Weight Standardization and the fused
// residual-add variants. Each op declares tensors, axes, cost and tolerance, and binds its float64
// reference and its implementations.
#include "reference/norm.hpp"

#include <vector>

#include "harness/device.hpp"
#include "kernels/cpu/norm_fast.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
#include "kernels/cpu/norm_plain.hpp"
#include "suites/common.hpp"
#include "suites/norm_backward.hpp"
#include "suites/norm_common.hpp"
#include "suites/norm_papers.hpp"
#include "suites/suites.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_norm.hpp"
#endif
#ifdef OPBENCH_HAVE_CUDA
#include "kernels/cuda/norm_cuda.hpp"
#endif

namespace opbench {

namespace {

using namespace suite;
using namespace suite::norm;

constexpr double kOnlineAlpha = 0.99;  // Online Normalization's forward decay (alpha_f)

#define OVERLOADS OPBENCH_OVERLOADS

#ifdef OPBENCH_HAVE_ONEDNN
// oneDNN 2.6's layer and batch normalization take f32 everywhere and bf16 on AVX-512 CPUs (scale,
// shift and statistics in f32); f16 is unimplemented there. The peer declares what oneDNN creates
// on this CPU (kernels/cpu/onednn_norm.hpp).
Impl onednn_impl(onednn::Norm op, BindFn bind) {
  Impl impl = peer_impl("onednn", std::move(bind));
  impl.dtypes = onednn::dtypes(op);
  return impl;
}
#endif

void register_layernorm(Registry& reg) {
  Op op = make_op("layernorm", "LayerNorm: (x - mean) / sqrt(var + eps) * gamma + beta per row",
                  "Ba, Kiros, Hinton 2016, eqs. 3-4", row_axes(),
                  {in("x", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
                   in("beta", {"cols"}, kShift), out("y", {"rows", "cols"})},
                  8);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::layernorm(F64(i.at("x")).p(), F64(i.at("gamma")).p(), F64(i.at("beta")).p(), out64(o, "y"),
                   p.i("rows"), p.i("cols"), kEps);
  };
  op.quick_dtypes = {DType::f32, DType::bf16};
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"), out_as<T>(o, "y"),
         p.i("rows"), p.i("cols"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::layernorm)),
                 call(OVERLOADS(cpu::fast::layernorm)));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(
      onednn_impl(onednn::Norm::layernorm, onednn::bind_layernorm(static_cast<float>(kEps))));
#endif
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("layernorm", kTorchDtypes, kEps));
#endif
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::layernorm(i.at("x").data<float>(), i.at("gamma").data<float>(),
                        i.at("beta").data<float>(), o.at("y").data<float>(), p.i("rows"),
                        p.i("cols"), static_cast<float>(kEps));
      }));
#endif
  reg.add_op(std::move(op));
}

// RMSNorm-like ops: x, gamma -> y.
template <class Plain, class Fast>
void register_rms_like(Registry& reg, const char* name, const char* title, const char* paper,
                       void (*reference)(const double*, const double*, double*, std::int64_t,
                                         std::int64_t, double),
                       Plain plain, Fast fast, double flops) {
  Op op = make_op(
      name, title, paper, row_axes(),
      {in("x", {"rows", "cols"}), in("gamma", {"cols"}, kScale), out("y", {"rows", "cols"})},
      flops);
  op.reference = [reference](const TensorMap& i, TensorMap& o, const Params& p) {
    reference(F64(i.at("x")).p(), F64(i.at("gamma")).p(), out64(o, "y"), p.i("rows"), p.i("cols"),
              kEps);
  };
  if (std::string(name) == "rmsnorm") op.quick_dtypes = {DType::f32, DType::bf16};
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "gamma"), out_as<T>(o, "y"), p.i("rows"), p.i("cols"),
         static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(plain), call(fast));
#ifdef OPBENCH_HAVE_TORCH
  if (std::string(name) == "rmsnorm") op.impls.push_back(torch_impl("rmsnorm", kTorchDtypes, kEps));
#endif
#ifdef OPBENCH_HAVE_CUDA
  if (std::string(name) == "rmsnorm") {
    op.impls.push_back(cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o,
                                                 const Params& p) {
      cuda::rmsnorm(i.at("x").data<float>(), i.at("gamma").data<float>(), o.at("y").data<float>(),
                    p.i("rows"), p.i("cols"), static_cast<float>(kEps));
    }));
  }
#endif
  reg.add_op(std::move(op));
}

void register_dyt(Registry& reg) {
  Op op = make_op(
      "dyt", "Dynamic Tanh: gamma * tanh(alpha * x) + beta",
      "Zhu, Chen, He, LeCun, Liu 2025, eq. 1", row_axes(),
      {in("x", {"rows", "cols"}), in("alpha", {"1"}, "uniform(0.4,0.6)"),
       in("gamma", {"cols"}, kScale), in("beta", {"cols"}, kShift), out("y", {"rows", "cols"})},
      4);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::dyt(F64(i.at("x")).p(), i.at("alpha").value_as_double(0), F64(i.at("gamma")).p(),
             F64(i.at("beta")).p(), out64(o, "y"), p.i("rows"), p.i("cols"));
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), static_cast<float>(i.at("alpha").value_as_double(0)),
         in_as<T>(i, "gamma"), in_as<T>(i, "beta"), out_as<T>(o, "y"), p.i("rows"), p.i("cols"));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::dyt)), call(OVERLOADS(cpu::fast::dyt)));
  reg.add_op(std::move(op));
}

void register_batchnorm(Registry& reg) {
  Op infer =
      make_op("batchnorm_infer", "BatchNorm, inference: running statistics per column",
              "Ioffe & Szegedy 2015, Alg. 2 step 11",
              {rows_axis("batch", "1"), int_axis("cols", {"4096"}, {"64", "4096"}, "channels"),
               dist_axis()},
              {in("x", {"rows", "cols"}), in_f32("running_mean", {"cols"}, "normal(0,0.5)"),
               in_f32("running_var", {"cols"}, "uniform(0.5,2)"), in("gamma", {"cols"}, kScale),
               in("beta", {"cols"}, kShift), out("y", {"rows", "cols"})},
              4);
  infer.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::batchnorm_infer(F64(i.at("x")).p(), F64(i.at("running_mean")).p(),
                         F64(i.at("running_var")).p(), F64(i.at("gamma")).p(),
                         F64(i.at("beta")).p(), out64(o, "y"), p.i("rows"), p.i("cols"), kEps);
  };
  auto call_infer = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in32(i, "running_mean"), in32(i, "running_var"), in_as<T>(i, "gamma"),
         in_as<T>(i, "beta"), out_as<T>(o, "y"), p.i("rows"), p.i("cols"),
         static_cast<float>(kEps));
    };
  };
  add_plain_fast(infer, "x", call_infer(OVERLOADS(cpu::plain::batchnorm_infer)),
                 call_infer(OVERLOADS(cpu::fast::batchnorm_infer)));
#ifdef OPBENCH_HAVE_ONEDNN
  infer.impls.push_back(onednn_impl(onednn::Norm::batchnorm_infer,
                                    onednn::bind_batchnorm_infer(static_cast<float>(kEps))));
#endif
#ifdef OPBENCH_HAVE_TORCH
  // PyTorch 1.13 takes bfloat16 batch_norm on the CPU only with bfloat16 running statistics,
  // and this op's are float32.
  infer.impls.push_back(torch_impl("batchnorm_infer", {DType::f32}, kEps));
#endif
  reg.add_op(std::move(infer));

  Op train = make_op("batchnorm_train", "BatchNorm, training: statistics of each column over rows",
                     "Ioffe & Szegedy 2015, Alg. 1",
                     {rows_axis("batch", "2"),
                      int_axis("cols", {"4096"}, {"64", "4096"}, "channels"), dist_axis()},
                     {in("x", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
                      in("beta", {"cols"}, kShift), out("y", {"rows", "cols"})},
                     8);
  train.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::batchnorm_train(F64(i.at("x")).p(), F64(i.at("gamma")).p(), F64(i.at("beta")).p(),
                         out64(o, "y"), p.i("rows"), p.i("cols"), kEps);
  };
  auto call_train = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"), out_as<T>(o, "y"),
         p.i("rows"), p.i("cols"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(train, "x", call_train(OVERLOADS(cpu::plain::batchnorm_train)),
                 call_train(OVERLOADS(cpu::fast::batchnorm_train)));
#ifdef OPBENCH_HAVE_ONEDNN
  train.impls.push_back(onednn_impl(onednn::Norm::batchnorm_train,
                                    onednn::bind_batchnorm_train(static_cast<float>(kEps))));
#endif
#ifdef OPBENCH_HAVE_TORCH
  train.impls.push_back(torch_impl("batchnorm_train", kTorchDtypes, kEps));
#endif
  reg.add_op(std::move(train));
}

// --- ops over x[n, c, hw] ---------------------------------------------------------------------

void register_groupnorm(Registry& reg) {
  Op op = make_op("groupnorm", "GroupNorm: statistics over c/groups channels x hw",
                  "Wu & He 2018, eqs. 1-3 and 7", nchw_axes(true),
                  {in("x", {"n", "c", "hw"}), in("gamma", {"c"}, kScale), in("beta", {"c"}, kShift),
                   out("y", {"n", "c", "hw"})},
                  8);
  op.validate = groups_valid;
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::groupnorm(F64(i.at("x")).p(), F64(i.at("gamma")).p(), F64(i.at("beta")).p(), out64(o, "y"),
                   p.i("n"), p.i("c"), p.i("hw"), p.i("groups"), kEps);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"), out_as<T>(o, "y"), p.i("n"),
         p.i("c"), p.i("hw"), p.i("groups"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::groupnorm)),
                 call(OVERLOADS(cpu::fast::groupnorm)));
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("groupnorm", kTorchDtypes, kEps));
#endif
  reg.add_op(std::move(op));
}

void register_evonorm(Registry& reg) {
  Op s0 = make_op("evonorm_s0", "EvoNorm-S0: x * sigmoid(v x) / group_std(x) * gamma + beta",
                  "Liu, Brock, Simonyan, Le 2020, Alg. 1 / Table 1", nchw_axes(true),
                  {in("x", {"n", "c", "hw"}), in("v", {"c"}, kScale), in("gamma", {"c"}, kScale),
                   in("beta", {"c"}, kShift), out("y", {"n", "c", "hw"})},
                  12);
  s0.validate = groups_valid;
  s0.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::evonorm_s0(F64(i.at("x")).p(), F64(i.at("v")).p(), F64(i.at("gamma")).p(),
                    F64(i.at("beta")).p(), out64(o, "y"), p.i("n"), p.i("c"), p.i("hw"),
                    p.i("groups"), kEps);
  };
  auto call_s0 = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "v"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), p.i("n"), p.i("c"), p.i("hw"), p.i("groups"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(s0, "x", call_s0(OVERLOADS(cpu::plain::evonorm_s0)),
                 call_s0(OVERLOADS(cpu::fast::evonorm_s0)));
  reg.add_op(std::move(s0));

  Op b0 = make_op(
      "evonorm_b0",
      "EvoNorm-B0 (training): x / max(sqrt(batch_var + eps), v x + sqrt(instance_var + eps))",
      "Liu, Brock, Simonyan, Le 2020, Alg. 1 / Table 1", nchw_axes(false),
      {in("x", {"n", "c", "hw"}), in("v", {"c"}, kScale), in("gamma", {"c"}, kScale),
       in("beta", {"c"}, kShift), out("y", {"n", "c", "hw"})},
      12);
  b0.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::evonorm_b0(F64(i.at("x")).p(), F64(i.at("v")).p(), F64(i.at("gamma")).p(),
                    F64(i.at("beta")).p(), out64(o, "y"), p.i("n"), p.i("c"), p.i("hw"), kEps);
  };
  auto call_b0 = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "v"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), p.i("n"), p.i("c"), p.i("hw"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(b0, "x", call_b0(OVERLOADS(cpu::plain::evonorm_b0)),
                 call_b0(OVERLOADS(cpu::fast::evonorm_b0)));
  reg.add_op(std::move(b0));
}

void register_online_norm(Registry& reg) {
  Op op =
      make_op("online_norm", "Online Normalization forward: running statistics over samples",
              "Chiley et al. 2019, eqs. 6-8",
              {int_axis("n", {"64"}, {"16", "64", "256"}, "samples, in order"),
               int_axis("c", {"64"}, {"64", "256"}, "channels"),
               int_axis("hw", {"256", "4096"}, {"1", "1024", "4096"}, "spatial size"), dist_axis()},
              {in("x", {"n", "c", "hw"}), in_f32("mu0", {"c"}, kShift),
               in_f32("var0", {"c"}, "uniform(0.5,2)"), in("gamma", {"c"}, kScale),
               in("beta", {"c"}, kShift), out("y", {"n", "c", "hw"})},
              8);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::online_norm(F64(i.at("x")).p(), F64(i.at("mu0")).p(), F64(i.at("var0")).p(),
                     F64(i.at("gamma")).p(), F64(i.at("beta")).p(), out64(o, "y"), p.i("n"),
                     p.i("c"), p.i("hw"), kOnlineAlpha, kEps);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in32(i, "mu0"), in32(i, "var0"), in_as<T>(i, "gamma"),
         in_as<T>(i, "beta"), out_as<T>(o, "y"), p.i("n"), p.i("c"), p.i("hw"),
         static_cast<float>(kOnlineAlpha), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::online_norm)),
                 call(OVERLOADS(cpu::fast::online_norm)));
  reg.add_op(std::move(op));
}

void register_weight_std(Registry& reg) {
  Op op = make_op(
      "weight_std", "Weight Standardization: (w - mean_row) / sqrt(var_row + eps)",
      "Qiao, Wang, Liu, Shen, Yuille 2019, eq. 2",
      {int_axis("rows", {"256"}, {"64", "256", "1024"}, "output channels"),
       int_axis("cols", {"576", "4608"}, {"27", "576", "4608"}, "fan-in (c_in k k)"), dist_axis()},
      {in("w", {"rows", "cols"}), out("y", {"rows", "cols"})}, 6);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::weight_std(F64(i.at("w")).p(), out64(o, "y"), p.i("rows"), p.i("cols"), kEps);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "w"), out_as<T>(o, "y"), p.i("rows"), p.i("cols"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "w", call(OVERLOADS(cpu::plain::weight_std)),
                 call(OVERLOADS(cpu::fast::weight_std)));
  reg.add_op(std::move(op));
}

void register_fused_add(Registry& reg) {
  Op ln = make_op(
      "add_layernorm", "Residual add then LayerNorm: sum = x + r, y = LN(sum)",
      "pre-norm transformer block (Xiong et al. 2020); LayerNorm: Ba et al. 2016", row_axes(),
      {in("x", {"rows", "cols"}), in("residual", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
       in("beta", {"cols"}, kShift), out("y", {"rows", "cols"}), out("sum", {"rows", "cols"})},
      9);
  ln.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::add_layernorm(F64(i.at("x")).p(), F64(i.at("residual")).p(), F64(i.at("gamma")).p(),
                       F64(i.at("beta")).p(), out64(o, "sum"), out64(o, "y"), p.i("rows"),
                       p.i("cols"), kEps);
  };
  auto call_ln = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "residual"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "sum"), out_as<T>(o, "y"), p.i("rows"), p.i("cols"),
         static_cast<float>(kEps));
    };
  };
  add_plain_fast(ln, "x", call_ln(OVERLOADS(cpu::plain::add_layernorm)),
                 call_ln(OVERLOADS(cpu::fast::add_layernorm)));
  reg.add_op(std::move(ln));

  Op rms = make_op(
      "add_rmsnorm", "Residual add then RMSNorm: sum = x + r, y = RMSNorm(sum)",
      "pre-norm transformer block; RMSNorm: Zhang & Sennrich 2019", row_axes(),
      {in("x", {"rows", "cols"}), in("residual", {"rows", "cols"}), in("gamma", {"cols"}, kScale),
       out("y", {"rows", "cols"}), out("sum", {"rows", "cols"})},
      5);
  rms.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::add_rmsnorm(F64(i.at("x")).p(), F64(i.at("residual")).p(), F64(i.at("gamma")).p(),
                     out64(o, "sum"), out64(o, "y"), p.i("rows"), p.i("cols"), kEps);
  };
  auto call_rms = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "residual"), in_as<T>(i, "gamma"), out_as<T>(o, "sum"),
         out_as<T>(o, "y"), p.i("rows"), p.i("cols"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(rms, "x", call_rms(OVERLOADS(cpu::plain::add_rmsnorm)),
                 call_rms(OVERLOADS(cpu::fast::add_rmsnorm)));
  reg.add_op(std::move(rms));
}

}  // namespace

void register_norm_suite(Registry& reg) {
  register_layernorm(reg);
  register_rms_like(reg, "rmsnorm", "RMSNorm: x / sqrt(mean(x^2) + eps) * gamma",
                    "Zhang & Sennrich 2019, eq. 4", ref::rmsnorm, OVERLOADS(cpu::plain::rmsnorm),
                    OVERLOADS(cpu::fast::rmsnorm), 4);
  register_rms_like(reg, "crmsnorm",
                    "Pre-CRMSNorm: RMSNorm of a zero-mean vector stored in d-1 entries",
                    "Jiang et al. 2023, eq. 9", ref::crmsnorm, OVERLOADS(cpu::plain::crmsnorm),
                    OVERLOADS(cpu::fast::crmsnorm), 5);
  register_dyt(reg);
  register_batchnorm(reg);
  register_groupnorm(reg);
  register_evonorm(reg);
  register_online_norm(reg);
  register_weight_std(reg);
  register_fused_add(reg);
  register_norm_srmsnorm_deepnorm(reg);
  register_norm_msgnorm_powernorm(reg);
  register_norm_unified(reg);
  register_norm_fourier(reg);
  register_norm_backward_ops(reg);
}

}  // namespace opbench
