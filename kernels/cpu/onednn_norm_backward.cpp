// The `onednn` peer of LayerNorm backward (contract in onednn_norm_backward.hpp). Written against
// the oneDNN 2.x API (2.3 or newer: separate scale and shift, and their diffs); the primitive
// descriptors also build with the 3.x constructors. The tensor checks and the kernel class follow
// onednn_norm.cpp, whose helpers are private to that file.
#include "kernels/cpu/onednn_norm_backward.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace opbench::onednn {
// Named (not only anonymous): a unity build would merge this file with onednn_norm.cpp, which has
// private helpers of the same names.
namespace norm_backward_detail {
namespace {

using dnnl::memory;

const char* const kOp = "layernorm_backward";

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(std::string("onednn ") + kOp + ": " + what);
}

// The named f32 tensor of a map, with the shape expected.
const Tensor& require(const TensorMap& m, const char* kind, const std::string& name,
                      const Shape& dims) {
  auto it = m.find(name);
  if (it == m.end()) fail(std::string("missing ") + kind + " tensor \"" + name + "\"");
  const Tensor& t = it->second;
  if (t.dtype() != DType::f32) {
    fail(std::string(kind) + " tensor \"" + name + "\" is " + std::string(dtype_name(t.dtype())) +
         ", this peer supports f32 only");
  }
  if (t.shape() != dims) {
    fail(std::string(kind) + " tensor \"" + name + "\" has shape " + shape_string(t.shape()) +
         ", expected " + shape_string(dims));
  }
  if (t.empty() && t.numel() != 0)
    fail(std::string(kind) + " tensor \"" + name + "\" has no storage");
  return t;
}

// One bound primitive with every argument it executes with; `keep` holds the tensors whose
// buffers the memory objects wrap (copies share storage) and the variance the kernel owns.
class DnnlKernel final : public BoundKernel {
 public:
  DnnlKernel(dnnl::engine engine, dnnl::primitive prim, std::unordered_map<int, memory> args,
             std::vector<Tensor> keep)
      : engine_(std::move(engine)),
        stream_(engine_),
        prim_(std::move(prim)),
        args_(std::move(args)),
        keep_(std::move(keep)) {}

  void run() override {
    try {
      prim_.execute(stream_, args_);
      stream_.wait();
    } catch (const dnnl::error& e) {
      fail(std::string("oneDNN error while executing the primitive: ") + e.what());
    }
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive prim_;
  std::unordered_map<int, memory> args_;
  std::vector<Tensor> keep_;
};

using Flags = dnnl::normalization_flags;
const Flags kFlags = Flags::use_scale | Flags::use_shift;

memory::desc data_md(std::int64_t rows, std::int64_t cols) {
  return memory::desc({rows, cols}, memory::data_type::f32, memory::format_tag::ab);
}
memory::desc stat_md(std::int64_t rows) {
  return memory::desc({rows}, memory::data_type::f32, memory::format_tag::a);
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The backward primitive descriptor, with the forward-training one oneDNN takes as a hint.
dnnl::layer_normalization_backward::primitive_desc backward_pd(const dnnl::engine& eng,
                                                               std::int64_t rows, std::int64_t cols,
                                                               float eps) {
  const memory::desc data = data_md(rows, cols), stat = stat_md(rows);
  using FwdPD = dnnl::layer_normalization_forward::primitive_desc;
  using BwdPD = dnnl::layer_normalization_backward::primitive_desc;
#if DNNL_VERSION_MAJOR >= 3
  const FwdPD hint(eng, dnnl::prop_kind::forward_training, data, data, stat, eps, kFlags);
  return BwdPD(eng, dnnl::prop_kind::backward, data, data, data, stat, eps, kFlags, hint,
               user_scratchpad());
#else
  const FwdPD hint(dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_training, data,
                                                           stat, eps, kFlags),
                   eng);
  return BwdPD(dnnl::layer_normalization_backward::desc(dnnl::prop_kind::backward, data, data, stat,
                                                        eps, kFlags),
               user_scratchpad(), eng, hint);
#endif
}

std::unique_ptr<BoundKernel> bind(float eps, const TensorMap& in, TensorMap& out) {
  auto it = in.find("x");
  if (it == in.end()) fail("missing input tensor \"x\"");
  if (it->second.rank() != 2) {
    fail("input tensor \"x\" has shape " + shape_string(it->second.shape()) +
         ", expected [rows, cols]");
  }
  const std::int64_t rows = it->second.dim(0), cols = it->second.dim(1);
  const Tensor& x = require(in, "input", "x", {rows, cols});
  const Tensor& dy = require(in, "input", "dy", {rows, cols});
  const Tensor& gamma = require(in, "input", "gamma", {cols});
  const Tensor& mean = require(in, "input", "mean", {rows});
  const Tensor& rstd = require(in, "input", "rstd", {rows});
  const Tensor& dx = require(out, "output", "dx", {rows, cols});
  const Tensor& dgamma = require(out, "output", "dgamma", {cols});
  const Tensor& dbeta = require(out, "output", "dbeta", {cols});

  // oneDNN's variance from the saved rstd (see the header): bind time, not timed.
  Tensor var(DType::f32, {rows});
  for (std::int64_t r = 0; r < rows; ++r) {
    const double s = rstd.data<float>()[r];
    var.data<float>()[r] = static_cast<float>(1.0 / (s * s) - static_cast<double>(eps));
  }

  // With use_shift, oneDNN 2.6's backward primitive takes the shift (beta) as an argument too
  // (execution fails without it), though the gradients do not depend on it and the op has no
  // beta input: zeros, owned by the kernel, given where the primitive asks for it.
  Tensor shift(DType::f32, {cols});
  std::fill(shift.data<float>(), shift.data<float>() + cols, 0.0f);

  const char* stage = "creating the engine";
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    stage = "creating the layer normalization backward primitive descriptor";
    const auto pd = backward_pd(eng, rows, cols, eps);
    stage = "binding memory and creating the primitive";
    const std::pair<int, const Tensor*> user[] = {
        {DNNL_ARG_DIFF_DST, &dy},       {DNNL_ARG_SRC, &x},           {DNNL_ARG_SCALE, &gamma},
        {DNNL_ARG_MEAN, &mean},         {DNNL_ARG_VARIANCE, &var},    {DNNL_ARG_DIFF_SRC, &dx},
        {DNNL_ARG_DIFF_SCALE, &dgamma}, {DNNL_ARG_DIFF_SHIFT, &dbeta}};
    std::unordered_map<int, memory> args;
    std::vector<Tensor> keep;
    for (const auto& [arg, t] : user) {
      const memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
      if (md.is_zero() || md.get_size() != t->bytes()) {
        fail("oneDNN's primitive takes " + std::to_string(md.get_size()) +
             " bytes for execution argument " + std::to_string(arg) + ", the tensor has " +
             std::to_string(t->bytes()));
      }
      // oneDNN takes sources and destinations through the same non-const handle; it never
      // writes an input argument.
      args.emplace(arg, memory(md, eng, const_cast<void*>(t->raw())));
      keep.push_back(*t);
    }
    const memory::desc shift_md = pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_SHIFT);
    if (!shift_md.is_zero()) {
      args.emplace(DNNL_ARG_SHIFT, memory(shift_md, eng, shift.raw()));
      keep.push_back(shift);
    }
    const memory::desc scratch = pd.scratchpad_desc();
    if (scratch.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(scratch, eng));
    return std::make_unique<DnnlKernel>(eng, dnnl::layer_normalization_backward(pd),
                                        std::move(args), std::move(keep));
  } catch (const dnnl::error& e) {
    fail(std::string("oneDNN error while ") + stage + ": " + e.what() + " for f32 x " +
         shape_string(x.shape()));
  }
}

}  // namespace
}  // namespace norm_backward_detail

BindFn bind_layernorm_backward(float eps) {
  return [eps](const TensorMap& in, TensorMap& out, const Params&) {
    return norm_backward_detail::bind(eps, in, out);
  };
}

std::string layernorm_backward_implementation(std::int64_t rows, std::int64_t cols) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return norm_backward_detail::backward_pd(eng, rows, cols, 1e-5f).impl_info_str();
}

}  // namespace opbench::onednn
