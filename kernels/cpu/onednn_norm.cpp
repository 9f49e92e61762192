// The `onednn` peer of the norm family (contract in onednn_norm.hpp): oneDNN layer and batch
// normalization bound once per case, executed by run(), in f32, bf16 or f16 storage. Written
// against the oneDNN 2.x API (2.3 or newer: separate scale and shift); the primitive descriptors
// also build with the 3.x constructors.
#include "kernels/cpu/onednn_norm.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace opbench::onednn {
namespace {

using dnnl::memory;

[[noreturn]] void fail(const std::string& op, const std::string& what) {
  throw std::runtime_error("onednn " + op + ": " + what);
}

const char* status_name(dnnl_status_t s) {
  switch (s) {
    case dnnl_success:
      return "success";
    case dnnl_out_of_memory:
      return "out_of_memory";
    case dnnl_invalid_arguments:
      return "invalid_arguments";
    case dnnl_unimplemented:
      return "unimplemented";
    case dnnl_iterator_ends:
      return "iterator_ends";
    case dnnl_runtime_error:
      return "runtime_error";
    case dnnl_not_required:
      return "not_required";
    default:
      return "unknown status";
  }
}

// "oneDNN error while <stage>: <oneDNN's message> (dnnl_status invalid_arguments)".
std::string describe(const char* stage, const dnnl::error& e) {
  return std::string("oneDNN error while ") + stage + ": " + e.what() + " (dnnl_status " +
         status_name(e.status) + ")";
}

std::string shape_text(const Tensor& t) {
  return shape_string(t.shape());
}

// The named tensor of a map, of dtype `dtype` with the rank and dims expected (-1: any extent).
// `why` says where the expected dtype comes from, for the error message.
const Tensor& require(const std::string& op, const TensorMap& m, const char* kind,
                      const std::string& name, DType dtype, const char* why, const Shape& dims) {
  auto it = m.find(name);
  if (it == m.end()) fail(op, std::string("missing ") + kind + " tensor \"" + name + "\"");
  const Tensor& t = it->second;
  if (t.empty() && t.numel() != 0) {
    fail(op, std::string(kind) + " tensor \"" + name + "\" has no storage");
  }
  if (t.dtype() != dtype) {
    fail(op, std::string(kind) + " tensor \"" + name + "\" is " +
                 std::string(dtype_name(t.dtype())) + ", expected " +
                 std::string(dtype_name(dtype)) + " (" + why + ")");
  }
  bool ok = t.rank() == static_cast<int>(dims.size());
  for (std::size_t i = 0; ok && i < dims.size(); ++i) {
    ok = dims[i] < 0 || t.shape()[i] == dims[i];
  }
  if (!ok) {
    std::string want = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) {
      want += (i ? ", " : "") + (dims[i] < 0 ? std::string("*") : std::to_string(dims[i]));
    }
    fail(op, std::string(kind) + " tensor \"" + name + "\" has shape " + shape_text(t) +
                 ", expected " + want + "]");
  }
  return t;
}

// The input "x", whose dtype is the case's: f32, bf16 or f16. Whether oneDNN implements the op
// in that dtype is for the primitive descriptor to say (2.6 on x86 has no f16 normalization).
const Tensor& require_x(const std::string& op, const TensorMap& in) {
  auto it = in.find("x");
  if (it == in.end()) fail(op, "missing input tensor \"x\"");
  const DType dt = it->second.dtype();
  if (dt != DType::f32 && dt != DType::bf16 && dt != DType::f16) {
    fail(op, "input tensor \"x\" is " + std::string(dtype_name(dt)) +
                 ", this peer supports f32, bf16 and f16");
  }
  return require(op, in, "input", "x", dt, "", {-1, -1});
}

memory::data_type dnnl_type(DType t) {
  switch (t) {
    case DType::bf16:
      return memory::data_type::bf16;
    case DType::f16:
      return memory::data_type::f16;
    default:
      return memory::data_type::f32;
  }
}

// gamma or beta as oneDNN 2.x takes scale and shift: float32 whatever the data type. A f32
// tensor is used in place; a bf16 or f16 one is widened (exactly) into a float32 tensor that the
// bound kernel keeps. This happens at bind time, outside the timed run(), and its bytes (2 x cols
// floats) are negligible next to x and y.
Tensor scale_shift_f32(const Tensor& t) {
  if (t.dtype() == DType::f32) return t;
  Tensor w(DType::f32, t.shape());
  float* dst = w.data<float>();
  if (t.dtype() == DType::bf16) {
    const bf16_t* src = t.data<bf16_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i) dst[i] = to_float(src[i]);
  } else {
    const f16_t* src = t.data<f16_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i) dst[i] = to_float(src[i]);
  }
  return w;
}

// One bound oneDNN primitive with every argument it executes with. The tensors whose buffers the
// memory objects wrap are kept (copies share storage) so the buffers outlive the kernel.
class DnnlKernel final : public BoundKernel {
 public:
  DnnlKernel(std::string op, dnnl::engine engine, dnnl::stream stream, dnnl::primitive prim,
             std::unordered_map<int, memory> args, std::vector<Tensor> keep)
      : op_(std::move(op)),
        engine_(std::move(engine)),
        stream_(std::move(stream)),
        prim_(std::move(prim)),
        args_(std::move(args)),
        keep_(std::move(keep)) {}

  void run() override {
    try {
      prim_.execute(stream_, args_);
      stream_.wait();
    } catch (const dnnl::error& e) {
      fail(op_, describe("executing the primitive", e));
    }
  }

 private:
  std::string op_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive prim_;
  std::unordered_map<int, memory> args_;
  std::vector<Tensor> keep_;
};

// A tensor bound to one execution argument of the primitive.
struct UserArg {
  int arg;
  const Tensor* tensor;
  const char* name;
};

// Binds a primitive: wraps the user tensors as its arguments (checking that oneDNN expects that
// many bytes, a dense row-major layout being the only one a plain desc can describe), gives
// oneDNN-owned buffers to the statistics it writes but the op does not output, and allocates the
// user-mode scratchpad. Everything is allocated here, nothing in run().
template <class Primitive, class PD>
std::unique_ptr<BoundKernel> make_kernel(const std::string& op, const dnnl::engine& eng,
                                         const PD& pd, const std::vector<UserArg>& user) {
  std::unordered_map<int, memory> args;
  std::vector<Tensor> keep;
  for (const UserArg& u : user) {
    const memory::desc md = pd.query_md(dnnl::query::exec_arg_md, u.arg);
    if (md.is_zero()) {
      fail(op, std::string("oneDNN's primitive takes no argument for tensor \"") + u.name + "\"");
    }
    if (md.get_size() != u.tensor->bytes()) {
      fail(op, std::string("oneDNN expects ") + std::to_string(md.get_size()) +
                   " bytes for tensor \"" + u.name + "\" " + shape_text(*u.tensor) + ", it has " +
                   std::to_string(u.tensor->bytes()));
    }
    // oneDNN takes sources and destinations through the same non-const handle; it never writes
    // an input argument.
    void* data = const_cast<void*>(u.tensor->raw());
    args.emplace(u.arg, memory(md, eng, data));
    keep.push_back(*u.tensor);
  }
  for (int arg : {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_WORKSPACE}) {
    if (args.count(arg) != 0) continue;
    const memory::desc md = pd.query_md(dnnl::query::exec_arg_md, arg);
    if (!md.is_zero()) args.emplace(arg, memory(md, eng));  // oneDNN allocates the buffer
  }
  const memory::desc scratch = pd.scratchpad_desc();
  if (scratch.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(scratch, eng));
  return std::make_unique<DnnlKernel>(op, eng, dnnl::stream(eng), Primitive(pd), std::move(args),
                                      std::move(keep));
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory::desc plain_2d(std::int64_t rows, std::int64_t cols, DType dtype) {
  return memory::desc({rows, cols}, dnnl_type(dtype), memory::format_tag::ab);
}

// BatchNorm's data [rows = N, cols = C] as {N, C, 1, 1} in format nhwc: the same bytes as the
// row-major {N, C} in format nc, but oneDNN 2.x gives 2-D nc data its generic channel-by-channel
// implementation (ncsp_bnorm:any, which walks each column with a stride of C) and channels-last 4-D
// data its vectorized one (bnorm_*jit:avx2 here): 72x faster at 4096x4096 f32 on this machine.
// A oneDNN user with [N, C] activations describes them this way.
memory::desc batchnorm_data(std::int64_t rows, std::int64_t cols, DType dtype) {
  return memory::desc({rows, cols, 1, 1}, dnnl_type(dtype), memory::format_tag::nhwc);
}

dnnl::layer_normalization_forward::primitive_desc layernorm_pd(const dnnl::engine& eng,
                                                               const memory::desc& data,
                                                               float eps) {
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  const auto prop = dnnl::prop_kind::forward_inference;
  using PD = dnnl::layer_normalization_forward::primitive_desc;
#if DNNL_VERSION_MAJOR >= 3
  return PD(eng, prop, data, data, eps, flags, user_scratchpad());
#else
  return PD(dnnl::layer_normalization_forward::desc(prop, data, eps, flags), user_scratchpad(),
            eng);
#endif
}

dnnl::batch_normalization_forward::primitive_desc batchnorm_pd(const dnnl::engine& eng,
                                                               const memory::desc& data, float eps,
                                                               bool training) {
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  if (!training) flags = flags | dnnl::normalization_flags::use_global_stats;
  const auto prop =
      training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  using PD = dnnl::batch_normalization_forward::primitive_desc;
#if DNNL_VERSION_MAJOR >= 3
  return PD(eng, prop, data, data, eps, flags, user_scratchpad());
#else
  return PD(dnnl::batch_normalization_forward::desc(prop, data, eps, flags), user_scratchpad(),
            eng);
#endif
}

// What an error while binding says about the case: "for bf16 x [16, 4096]".
std::string case_text(const Tensor& x) {
  return " for " + std::string(dtype_name(x.dtype())) + " x " + shape_text(x);
}

std::unique_ptr<BoundKernel> bind_layernorm_impl(float eps, const TensorMap& in, TensorMap& out) {
  const std::string op = "layernorm";
  const Tensor& x = require_x(op, in);
  const DType dt = x.dtype();
  const char* same = "the dtype of x";
  const std::int64_t rows = x.dim(0), cols = x.dim(1);
  const Tensor gamma = scale_shift_f32(require(op, in, "input", "gamma", dt, same, {cols}));
  const Tensor beta = scale_shift_f32(require(op, in, "input", "beta", dt, same, {cols}));
  const Tensor& y = require(op, out, "output", "y", dt, same, {rows, cols});
  const char* stage = "creating the engine";
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    stage = "creating the layer normalization primitive descriptor";
    // src and dst in the case's dtype wrap x and y in place; oneDNN computes the statistics in
    // float32 and rounds the output once.
    const auto pd = layernorm_pd(eng, plain_2d(rows, cols, dt), eps);
    stage = "binding memory and creating the primitive";
    return make_kernel<dnnl::layer_normalization_forward>(op, eng, pd,
                                                          {{DNNL_ARG_SRC, &x, "x"},
                                                           {DNNL_ARG_SCALE, &gamma, "gamma"},
                                                           {DNNL_ARG_SHIFT, &beta, "beta"},
                                                           {DNNL_ARG_DST, &y, "y"}});
  } catch (const dnnl::error& e) {
    fail(op, describe(stage, e) + case_text(x));
  }
}

std::unique_ptr<BoundKernel> bind_batchnorm_impl(float eps, bool training, const TensorMap& in,
                                                 TensorMap& out) {
  const std::string op = training ? "batchnorm_train" : "batchnorm_infer";
  const Tensor& x = require_x(op, in);
  const DType dt = x.dtype();
  const char* same = "the dtype of x";
  const std::int64_t rows = x.dim(0), cols = x.dim(1);
  const Tensor gamma = scale_shift_f32(require(op, in, "input", "gamma", dt, same, {cols}));
  const Tensor beta = scale_shift_f32(require(op, in, "input", "beta", dt, same, {cols}));
  const Tensor& y = require(op, out, "output", "y", dt, same, {rows, cols});
  std::vector<UserArg> user = {{DNNL_ARG_SRC, &x, "x"},
                               {DNNL_ARG_SCALE, &gamma, "gamma"},
                               {DNNL_ARG_SHIFT, &beta, "beta"},
                               {DNNL_ARG_DST, &y, "y"}};
  if (!training) {
    // Running statistics are float32 in every dtype, as oneDNN's mean and variance are.
    const char* stats = "running statistics are f32 in every dtype";
    user.push_back({DNNL_ARG_MEAN,
                    &require(op, in, "input", "running_mean", DType::f32, stats, {cols}),
                    "running_mean"});
    user.push_back({DNNL_ARG_VARIANCE,
                    &require(op, in, "input", "running_var", DType::f32, stats, {cols}),
                    "running_var"});
  }
  const char* stage = "creating the engine";
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    stage = "creating the batch normalization primitive descriptor";
    // Statistics of each channel over the batch, on the channels-last view of x.
    const auto pd = batchnorm_pd(eng, batchnorm_data(rows, cols, dt), eps, training);
    stage = "binding memory and creating the primitive";
    return make_kernel<dnnl::batch_normalization_forward>(op, eng, pd, user);
  } catch (const dnnl::error& e) {
    fail(op, describe(stage, e) + case_text(x));
  }
}

// Whether oneDNN creates a primitive descriptor for `op` with data of dtype `dt` on this CPU.
bool implements(Norm op, DType dt) {
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    implementation(op, dt, 2, 16);
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace

std::string implementation(Norm op, DType dt, std::int64_t rows, std::int64_t cols) {
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  if (op == Norm::layernorm)
    return layernorm_pd(eng, plain_2d(rows, cols, dt), 1e-5f).impl_info_str();
  return batchnorm_pd(eng, batchnorm_data(rows, cols, dt), 1e-5f, op == Norm::batchnorm_train)
      .impl_info_str();
}

std::vector<DType> dtypes(Norm op) {
  // Probed once per op on first use: oneDNN's answer for this CPU does not change.
  static std::vector<DType> found[3];
  static std::once_flag once[3];
  const int k = static_cast<int>(op);
  std::call_once(once[k], [k, op] {
    for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
      if (implements(op, dt)) found[k].push_back(dt);
    }
  });
  return found[k];
}

std::string version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

BindFn bind_layernorm(float eps) {
  return [eps](const TensorMap& in, TensorMap& out, const Params&) {
    return bind_layernorm_impl(eps, in, out);
  };
}

BindFn bind_batchnorm_infer(float eps) {
  return [eps](const TensorMap& in, TensorMap& out, const Params&) {
    return bind_batchnorm_impl(eps, false, in, out);
  };
}

BindFn bind_batchnorm_train(float eps) {
  return [eps](const TensorMap& in, TensorMap& out, const Params&) {
    return bind_batchnorm_impl(eps, true, in, out);
  };
}

}  // namespace opbench::onednn
