#pragma once
// A backend is where implementations run, with everything that depends on it: whether it can run
// here (and why not), how its kernels are timed (its timing modes), the machine's ceilings on it
// (a same-size copy and a compute ceiling, timed like the kernels), the memory it can still give,
// and what the report records about its devices. The runner, the planner and the ceilings ask a
// case's backend; no file outside a backend tests a backend's name. The registry holds the
// built-in backends (the float64 reference, the host, CUDA); a project of its own may add more.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness/backend_status.hpp"
#include "harness/op.hpp"

namespace opbench {

class TimingStrategy;  // harness/timing.hpp (kept out of this header: CUDA sources include it)

// A kernel that stands for a ceiling, and the work of one execution.
struct CeilingKernel {
  std::unique_ptr<BoundKernel> kernel;  // nullptr: no such ceiling here
  double flops = 0;
  std::string kind;  // "sgemm" (cuBLAS's on CUDA, OpenBLAS's on the host)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual BackendStatus status() const = 0;
  // The ways this backend times a kernel, the default first: {"wall"} on the host; on CUDA
  // {"hot", "cold"} (nvbench's two: back-to-back launches with host overhead hidden, or each
  // sample after flushing L2). Empty: its kernels are not timed (the reference).
  virtual std::vector<std::string> timing_modes() const = 0;
  virtual std::unique_ptr<TimingStrategy> timing(const std::string& mode) const = 0;
  // A copy moving `bytes` (read + write), the best this backend does at that size; nullptr when
  // it has none.
  virtual std::unique_ptr<BoundKernel> copy_ceiling(double bytes) const = 0;
  // A large GEMM, the compute ceiling.
  virtual CeilingKernel compute_ceiling() const = 0;
  // Bytes it can still allocate (0: unknown), for refusing a case before allocating.
  virtual std::uint64_t memory_available() const = 0;
  // Lines for the report's device list ("cuda:0: NVIDIA H200 (sm_90, 141 GiB, ...)").
  virtual std::vector<std::string> devices() const = 0;
  // Non-empty once this backend cannot run more cases in this process (a sticky CUDA error):
  // the reason, which the runner gives every later case of this backend as its error.
  virtual std::string lost() const { return ""; }
};

// The built-in backends, which every Registry holds from the start.
std::unique_ptr<Backend> make_reference_backend();  // "ref": the float64 reference, not timed
std::unique_ptr<Backend> make_host_backend();       // "cpu"
std::unique_ptr<Backend> make_cuda_backend();  // "cuda": harness/cuda_backend.cpp, or not built

}  // namespace opbench
