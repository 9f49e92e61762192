// The norm family in PyTorch, as a PyTorch user writes it (semantics: reference/norm.hpp).
//
// Dtypes (what suites/norm.cpp declares for `torch`): PyTorch 1.13 on the CPU has these ops in
// float32 and bfloat16, none in float16 ("LayerNormKernelImpl" not implemented for 'Half').
// BatchNorm at inference takes bfloat16 only with bfloat16 running statistics; this op keeps them
// in float32 (as mixed precision does), so it is float32 only.
//
// Backward (suites/norm_backward.cpp): the kernels autograd runs for F.layer_norm, F.group_norm
// and F.batch_norm(training=True) (aten::native_*_backward), on the statistics opbench's forward
// saved, in the shapes and dtype PyTorch's forward saves them (float32 mean and rstd). Float32
// only: PyTorch 1.13 saves bfloat16 statistics for a bfloat16 input, which the ops here keep in
// float32. RMSNorm has no backward kernel of its own in PyTorch 1.13 (autograd differentiates the
// composite x * rsqrt(mean(x^2) + eps) * weight op by op, which needs the forward graph), so it
// has no peer here.
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

// aten::native_layer_norm_backward(dy, x, (cols,), mean[rows, 1], rstd[rows, 1], gamma, beta):
// beta only tells it dbeta's shape, so a zero beta made outside the timed region stands in.
std::unique_ptr<Kernel> layernorm_backward(const Call& c) {
  const std::int64_t rows = param(c, "rows"), cols = param(c, "cols");
  at::Tensor dy = input(c, "dy"), x = input(c, "x"), gamma = input(c, "gamma");
  at::Tensor mean = input(c, "mean").view({rows, 1}), rstd = input(c, "rstd").view({rows, 1});
  at::Tensor beta = at::zeros_like(gamma);
  return std::make_unique<Eager>(c, std::vector<std::string>{"dx", "dgamma", "dbeta"}, [=] {
    auto [dx, dgamma, dbeta] =
        at::native_layer_norm_backward(dy, x, {cols}, mean, rstd, gamma, beta, {true, true, true});
    return std::vector<at::Tensor>{dx, dgamma, dbeta};
  });
}

// aten::native_group_norm_backward(dy, x[n, c, hw], mean[n, groups], rstd[n, groups], gamma,
// n, c, hw, groups).
std::unique_ptr<Kernel> groupnorm_backward(const Call& c) {
  const std::int64_t n = param(c, "n"), ch = param(c, "c"), hw = param(c, "hw");
  const std::int64_t groups = param(c, "groups");
  at::Tensor dy = input(c, "dy"), x = input(c, "x"), gamma = input(c, "gamma");
  at::Tensor mean = input(c, "mean"), rstd = input(c, "rstd");
  return std::make_unique<Eager>(c, std::vector<std::string>{"dx", "dgamma", "dbeta"}, [=] {
    auto [dx, dgamma, dbeta] = at::native_group_norm_backward(dy, x, mean, rstd, gamma, n, ch, hw,
                                                              groups, {true, true, true});
    return std::vector<at::Tensor>{dx, dgamma, dbeta};
  });
}

// aten::native_batch_norm_backward(dy, x[N, C], gamma, running_mean = None, running_var = None,
// save_mean[C], save_invstd[C], train = True, eps): the batch statistics the forward saved.
std::unique_ptr<Kernel> batchnorm_train_backward(const Call& c) {
  at::Tensor dy = input(c, "dy"), x = input(c, "x"), gamma = input(c, "gamma");
  at::Tensor mean = input(c, "mean"), rstd = input(c, "rstd");
  const double eps = c.eps;
  return std::make_unique<Eager>(c, std::vector<std::string>{"dx", "dgamma", "dbeta"}, [=] {
    auto [dx, dgamma, dbeta] = at::native_batch_norm_backward(
        dy, x, gamma, {}, {}, mean, rstd, /*train=*/true, eps, {true, true, true});
    return std::vector<at::Tensor>{dx, dgamma, dbeta};
  });
}

}  // namespace

std::unique_ptr<Kernel> bind_norm(const Call& c) {
  if (c.op == "layernorm") return layernorm(c);
  if (c.op == "rmsnorm") return rmsnorm(c);
  if (c.op == "groupnorm") return groupnorm(c);
  if (c.op == "batchnorm_infer") return batchnorm_infer(c);
  if (c.op == "batchnorm_train") return batchnorm_train(c);
  if (c.op == "layernorm_backward") return layernorm_backward(c);
  if (c.op == "groupnorm_backward") return groupnorm_backward(c);
  if (c.op == "batchnorm_train_backward") return batchnorm_train_backward(c);
  return nullptr;
}

}  // namespace opbench::torch_plugin
