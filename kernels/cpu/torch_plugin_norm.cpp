// The norm family in PyTorch, as a PyTorch user writes it (semantics: reference/norm.hpp).
//
// Dtypes (what suites/norm.cpp declares for `torch`): PyTorch 1.13 on the CPU has these ops in
// float32 and bfloat16, none in float16 ("LayerNormKernelImpl" not implemented for 'Half').
// BatchNorm at inference takes bfloat16 only with bfloat16 running statistics; this op keeps them
// in float32 (as mixed precision does), so it is float32 only.
#include "kernels/cpu/torch_plugin_common.hpp"

namespace opbench::torch_plugin {
namespace {

std::unique_ptr<Kernel> layernorm(const Call& c) {
  at::Tensor x = input(c, "x"), gamma = input(c, "gamma"), beta = input(c, "beta");
  const std::int64_t cols = param(c, "cols");
  const double eps = c.eps;
  // torch.nn.functional.layer_norm(x, (cols,), gamma, beta, eps)
  return std::make_unique<Eager>(c, std::vector<std::string>{"y"}, [=] {
    return std::vector<at::Tensor>{at::layer_norm(x, {cols}, gamma, beta, eps)};
  });
}

// RMSNorm as PyTorch 1.13 users write it (there is no torch.nn.RMSNorm before 2.4):
// x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight. In bfloat16 the arithmetic is
// done in float32 and rounded once at the end, as mixed-precision code does (Llama's RMSNorm
// upcasts too): computed in bfloat16 op by op, it rounds four times, beyond the contract's one
// rounding.
std::unique_ptr<Kernel> rmsnorm(const Call& c) {
  at::Tensor x = input(c, "x"), gamma = input(c, "gamma");
  const double eps = c.eps;
  const at::ScalarType dt = x.scalar_type();
  return std::make_unique<Eager>(c, std::vector<std::string>{"y"}, [=] {
    if (dt == at::kFloat) {
      return std::vector<at::Tensor>{x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * gamma};
    }
    at::Tensor xf = x.to(at::kFloat);
    at::Tensor y = xf * at::rsqrt(xf.pow(2).mean(-1, true) + eps) * gamma.to(at::kFloat);
    return std::vector<at::Tensor>{y.to(dt)};
  });
}

std::unique_ptr<Kernel> groupnorm(const Call& c) {
  at::Tensor x = input(c, "x"), gamma = input(c, "gamma"), beta = input(c, "beta");
  const std::int64_t groups = param(c, "groups");
  const double eps = c.eps;
  // torch.nn.functional.group_norm(x[n, c, hw], groups, gamma, beta, eps)
  return std::make_unique<Eager>(c, std::vector<std::string>{"y"}, [=] {
    return std::vector<at::Tensor>{at::group_norm(x, groups, gamma, beta, eps)};
  });
}

// torch.nn.functional.batch_norm(x[N, C], running_mean, running_var, gamma, beta, training=False)
std::unique_ptr<Kernel> batchnorm_infer(const Call& c) {
  at::Tensor x = input(c, "x"), mean = input(c, "running_mean"), var = input(c, "running_var");
  at::Tensor gamma = input(c, "gamma"), beta = input(c, "beta");
  const double eps = c.eps;
  return std::make_unique<Eager>(c, std::vector<std::string>{"y"}, [=] {
    return std::vector<at::Tensor>{
        at::batch_norm(x, gamma, beta, mean, var, /*training=*/false, 0.1, eps, false)};
  });
}

// torch.nn.functional.batch_norm(x[N, C], None, None, gamma, beta, training=True): batch
// statistics over the rows, no running statistics to update (the op has none).
std::unique_ptr<Kernel> batchnorm_train(const Call& c) {
  at::Tensor x = input(c, "x"), gamma = input(c, "gamma"), beta = input(c, "beta");
  const double eps = c.eps;
  return std::make_unique<Eager>(c, std::vector<std::string>{"y"}, [=] {
    return std::vector<at::Tensor>{
        at::batch_norm(x, gamma, beta, {}, {}, /*training=*/true, 0.1, eps, false)};
  });
}

}  // namespace

std::unique_ptr<Kernel> bind_norm(const Call& c) {
  if (c.op == "layernorm") return layernorm(c);
  if (c.op == "rmsnorm") return rmsnorm(c);
  if (c.op == "groupnorm") return groupnorm(c);
  if (c.op == "batchnorm_infer") return batchnorm_infer(c);
  if (c.op == "batchnorm_train") return batchnorm_train(c);
  return nullptr;
}

}  // namespace opbench::torch_plugin
