#pragma once
// Small helpers every family file uses to declare its ops: axes, tensor declarations, float64
// views of inputs for the references, and Impl builders for host and device kernels.
#include <cstdint>
#include <functional>
#include <string>
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

Axis int_axis(const char* name, std::vector<std::string> quick, std::vector<std::string> full,
              const char* help);
// The `dist` axis: which named distribution the main inputs ("$dist" tensors) are drawn from.
Axis dist_axis(std::vector<std::string> quick, std::vector<std::string> full, const char* help);

// Input drawn from the case's `dist` axis, or from a fixed distribution such as "uniform(0,1)".
TensorDecl in(const char* name, std::vector<std::string> dims, const char* dist = "$dist");
TensorDecl out(const char* name, std::vector<std::string> dims);
// Integer output (leaf ids, top-k indices): stored as i64, compared exactly.
TensorDecl out_index(const char* name, std::vector<std::string> dims);

// Compulsory bytes: every declared tensor read or written once, in `dt` (index outputs as i64).
double tensor_bytes(const Op& op, const Params& p, DType dt);

// A float32 host kernel as implementation `name` ("cpu.plain", "cpu.fast", "openblas", ...).
Impl host_impl(const char* name, HostKernelFn fn);
// A peer library's implementation (named after the library: "onednn", "faiss"), run on the CPU.
Impl peer_impl(const char* name, BindFn bind);
// A CUDA kernel (launched on device_stream(), no sync) as implementation `name`.
// `scratch_bytes`: the device scratch the kernel takes at a point (from device_scratch(), beyond
// its tensors), declared next to the kernel (kernels/cuda/*.hpp), so that the planner refuses a
// case that cannot fit; none for a kernel without scratch.
Impl cuda_impl(const char* name, DeviceLaunchFn fn,
               std::function<double(const Params&)> scratch_bytes = nullptr);

}  // namespace opbench::suite
