#pragma once
// Small helpers every family file uses to declare its ops: axes, tensor declarations, float64
// views of inputs for the references, and Impl builders for host and device kernels.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "harness/device.hpp"
#include "harness/op.hpp"

namespace opbench::suite {

// An input as float64, whatever its dtype, for a reference.
struct F64 {
  std::vector<double> v;
  explicit F64(const Tensor& t);
  const double* p() const { return v.data(); }
};

inline double* out64(TensorMap& out, const char* name) {
  return out.at(name).data<double>();
}
inline std::int64_t* out_index(TensorMap& out, const char* name) {
  return out.at(name).data<std::int64_t>();
}
inline const float* in32(const TensorMap& in, const char* name) {
  return in.at(name).data<float>();
}
inline float* out32(TensorMap& out, const char* name) {
  return out.at(name).data<float>();
}

// Sets element i (row-major) of a float32, bfloat16 or float16 tensor to v, rounded once to
// nearest even (for float32 the cast float-only code did), for inputs a scenario adjusts; a
// float64 tensor takes v as it is.
void store_double(Tensor& t, std::int64_t i, double v);

// The relative error of rounding a result computed in float32 (or wider) into an output of dtype
// `dt`: the unit roundoff for bfloat16 and float16, 0 for float32, whose rules already count the
// final rounding. A family's float32 error bound plus this is its rule for a kernel that loads
// 16-bit inputs exactly, computes in float32 and rounds each output once.
double storage_rounding(DType dt);
// The absolute part of that rounding: half the spacing of the dtype's subnormals (2^-25 in f16,
// where a result below 2^-14 is rounded to a multiple of 2^-24; 2^-134 in bf16), 0 for float32.
double storage_rounding_floor(DType dt);

Axis int_axis(const char* name, std::vector<std::string> quick, std::vector<std::string> full,
              const char* help);
// The `dist` axis: which named distribution the main inputs ("$dist" tensors) are drawn from.
Axis dist_axis(std::vector<std::string> quick, std::vector<std::string> full, const char* help);

// Input drawn from the case's `dist` axis, or from a fixed distribution such as "uniform(0,1)".
TensorDecl in(const char* name, std::vector<std::string> dims, const char* dist = "$dist");
// An input that stays float32 in every case, whatever the case's dtype: statistics that kernels
// keep in float32 (running mean and variance).
TensorDecl in_f32(const char* name, std::vector<std::string> dims, const char* dist);
TensorDecl out(const char* name, std::vector<std::string> dims);
// Integer output (leaf ids, top-k indices): stored as i64, compared exactly.
TensorDecl out_index(const char* name, std::vector<std::string> dims);

// Compulsory bytes: every declared tensor read or written once, each in its own dtype in a case
// of dtype `dt` (TensorDecl::dtype_in: the case's, a fixed one, i64 for indices).
double tensor_bytes(const Op& op, const Params& p, DType dt);

// A float32 host kernel as implementation `name` ("cpu.plain", "cpu.fast", "openblas", ...).
Impl host_impl(const char* name, HostKernelFn fn);
// A peer library's implementation (named after the library: "onednn", "faiss"), run on the CPU.
Impl peer_impl(const char* name, BindFn bind);
#ifdef OPBENCH_HAVE_TORCH
// PyTorch's eager ops for op `op` (kernels/cpu/torch_plugin_<family>.cpp) as implementation
// "torch", claiming `dtypes`: those in which PyTorch 1.13 has the op's CPU kernels and the
// result keeps the op's contract. `eps` is passed on to PyTorch's functions that take one.
Impl torch_impl(const char* op, std::vector<DType> dtypes, double eps = 0);
#endif
// A CUDA kernel (launched on device_stream(), no sync) as implementation `name`.
// `scratch_bytes`: the device scratch the kernel takes at a point (from device_scratch(), beyond
// its tensors), declared next to the kernel (kernels/cuda/*.hpp), so that the planner refuses a
// case that cannot fit; none for a kernel without scratch.
Impl cuda_impl(const char* name, DeviceLaunchFn fn,
               std::function<double(const Params&)> scratch_bytes = nullptr);

// --- kernels over several storage types (float, bf16_t, f16_t) ---------------------------------

// The dtype whose elements are stored as T.
template <class T>
constexpr DType dtype_of_storage() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  if constexpr (std::is_same_v<T, bf16_t>) return DType::bf16;
  if constexpr (std::is_same_v<T, f16_t>) return DType::f16;
  if constexpr (std::is_same_v<T, double>) return DType::f64;
}

template <class T>
const T* in_as(const TensorMap& in, const char* name) {
  return in.at(name).data<T>();
}
template <class T>
T* out_as(TensorMap& out, const char* name) {
  return out.at(name).data<T>();
}

// An overload set (or function template) as one callable, so that the storage type picks the
// overload: OVERLOADS(cpu::fast::layernorm)(x, ...) with x a const bf16_t* calls the bf16 one.
#define OPBENCH_OVERLOADS(fn) \
  [](auto&&... a) -> decltype(auto) { return fn(std::forward<decltype(a)>(a)...); }

// A host kernel written once for the storage types Ts (float, bf16_t, f16_t), as implementation
// `name`: body(T{}, inputs, outputs, params) runs with T the storage type of the case, read from
// tensor `dtype_from` (one that takes the case's dtype). Its dtypes are exactly Ts, so the planner
// never hands it a case in another dtype.
template <class... Ts, class Body>
Impl typed_host_impl(const char* name, const char* dtype_from, Body body) {
  Impl impl =
      host_impl(name, [body, dtype_from](const TensorMap& i, TensorMap& o, const Params& p) {
        const DType dt = i.count(dtype_from) ? i.at(dtype_from).dtype() : o.at(dtype_from).dtype();
        const bool ran =
            ((dt == dtype_of_storage<Ts>() ? (body(Ts{}, i, o, p), true) : false) || ...);
        if (!ran) {
          throw std::logic_error(std::string("no kernel for dtype ") + std::string(dtype_name(dt)));
        }
      });
  impl.dtypes = {dtype_of_storage<Ts>()...};
  return impl;
}

}  // namespace opbench::suite
