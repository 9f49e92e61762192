#pragma once
// cuda.fast kernels of the Fast Feedforward family (equations and layouts in reference/fff.hpp).
// Pointers are device pointers; each function launches on the bound stream (launch_stream.hpp) and
// returns without synchronizing. Any launch error, or a shape the kernels do not support, is thrown
// as std::runtime_error / std::invalid_argument.
#include <cstdint>

#include "kernels/cpu/fff_types.hpp"

namespace opbench::cuda {

// Hard-routed FFF: y[batch, d_out], leaf[batch].
void fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y, std::int64_t* leaf,
         std::int64_t batch);

// UltraFastBERT's tree: y[batch, d_out], path[batch, depth + 1].
void ultrafast_fff(const float* x, const float* w_in, const float* w_out, float* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth);

}  // namespace opbench::cuda
