#pragma once
// The machine's own ceilings, measured in the same run on the same threads as the kernels: a
// memory copy of a given size (parallel over the threads) and a large SGEMM through OpenBLAS.
#include <memory>

#include "harness/op.hpp"

namespace opbench {

// A kernel that copies bytes/2 from one buffer to another (so it moves `bytes`, read + write) in
// the fastest way found here at this size (memcpy or streaming stores, one thread or all of the
// run's threads), as the memory-bound kernels may.
std::unique_ptr<BoundKernel> make_host_copy(double bytes);
// An n x n x n SGEMM through OpenBLAS; flops() = 2 n^3.
std::unique_ptr<BoundKernel> make_host_sgemm(int n);
// A device-to-device copy (bytes/2 each way); nullptr when CUDA is not built.
std::unique_ptr<BoundKernel> make_device_copy(double bytes);

}  // namespace opbench
