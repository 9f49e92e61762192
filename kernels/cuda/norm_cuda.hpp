#pragma once
// cuda.fast normalization kernels. Pointers are device pointers; each function launches on the
// bound stream (launch_stream.hpp) and returns without synchronizing. Equations and argument order
// are those of reference/norm.hpp. Any launch error is thrown as std::runtime_error.
#include <cstdint>

namespace opbench::cuda {

void layernorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
               std::int64_t cols, float eps);

void rmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
             float eps);

}  // namespace opbench::cuda
