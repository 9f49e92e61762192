#include "suites/common.hpp"

#ifdef OPBENCH_HAVE_TORCH
#include "kernels/cpu/torch_peer.hpp"
#endif

#include <stdexcept>
#include <string>

namespace opbench::suite {

F64::F64(const Tensor& t) : v(static_cast<std::size_t>(t.numel())) {
  t.values_as_double(0, t.numel(), v.data());
}

void store_double(Tensor& t, std::int64_t i, double v) {
  switch (t.dtype()) {
    case DType::f32:
      t.data<float>()[i] = static_cast<float>(v);
      return;
    case DType::bf16:
      t.data<bf16_t>()[i] = bf16_from_double(v);
      return;
    case DType::f16:
      t.data<f16_t>()[i] = f16_from_double(v);
      return;
    case DType::f64:  // the gradient check's float64 inputs (harness/gradient_check.hpp)
      t.data<double>()[i] = v;
      return;
    default:
      throw std::logic_error("store_double: tensor of dtype " + std::string(dtype_name(t.dtype())));
  }
}

double storage_rounding(DType dt) {
  return dt == DType::bf16 || dt == DType::f16 ? unit_roundoff(dt) : 0.0;
}

double storage_rounding_floor(DType dt) {
  return dt == DType::f16 ? 0x1p-25 : dt == DType::bf16 ? 0x1p-134 : 0.0;
}

Axis int_axis(const char* name, std::vector<std::string> quick, std::vector<std::string> full,
              const char* help) {
  return Axis{name, Axis::Kind::integer, std::move(quick), std::move(full), help};
}

Axis dist_axis(std::vector<std::string> quick, std::vector<std::string> full, const char* help) {
  return Axis{"dist", Axis::Kind::text, std::move(quick), std::move(full), help};
}

TensorDecl in(const char* name, std::vector<std::string> dims, const char* dist) {
  return TensorDecl{name, std::move(dims), false, false, dist};
}
TensorDecl in_f32(const char* name, std::vector<std::string> dims, const char* dist) {
  TensorDecl t = in(name, std::move(dims), dist);
  t.fixed_dtype = DType::f32;
  return t;
}
TensorDecl out(const char* name, std::vector<std::string> dims) {
  return TensorDecl{name, std::move(dims), true, false, ""};
}
TensorDecl out_index(const char* name, std::vector<std::string> dims) {
  return TensorDecl{name, std::move(dims), true, true, ""};
}

double tensor_bytes(const Op& op, const Params& p, DType dt) {
  double bytes = 0;
  for (const auto& t : op.tensors) {
    double n = 1;
    for (auto d : op.shape_of(t, p)) n *= static_cast<double>(d);
    bytes += n * static_cast<double>(dtype_size(t.dtype_in(dt)));
  }
  return bytes;
}

Impl host_impl(const char* name, HostKernelFn fn) {
  Impl i;
  i.name = name;
  i.backend = "cpu";
  i.bind = bind_host(std::move(fn));
  return i;
}

Impl peer_impl(const char* name, BindFn bind) {
  Impl i;
  i.name = name;
  i.backend = "cpu";
  i.bind = std::move(bind);
  return i;
}

#ifdef OPBENCH_HAVE_TORCH
Impl torch_impl(const char* op, std::vector<DType> dtypes, double eps) {
  Impl impl = peer_impl("torch", torch_peer::bind(op, eps));
  impl.dtypes = std::move(dtypes);
  return impl;
}
#endif

Impl cuda_impl(const char* name, DeviceLaunchFn fn,
               std::function<double(const Params&)> scratch_bytes) {
  Impl i;
  i.name = name;
  i.backend = "cuda";
  i.bind = bind_device(std::move(fn));
  i.scratch_bytes = std::move(scratch_bytes);
  return i;
}

}  // namespace opbench::suite
