#pragma once
// cpu.plain for the Fast Feedforward family: the float32 code a careful user writes first, one row
// at a time the way the papers' naive code does it (the fastfeedforward package's
// eval_forward_naive, UltraFastBERT's fff_l1 loop): scalar loops, one thread, float accumulation.
// Equations and layouts are those of reference/fff.hpp.
#include <cstdint>

#include "kernels/cpu/fff_types.hpp"

namespace opbench::cpu::plain {

// Hard-routed FFF: y[batch, d_out] and the chosen leaf[batch].
void fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y, std::int64_t* leaf,
         std::int64_t batch);

// Soft (training-mode) FFF: every leaf mixed by the sigmoid decisions along its path.
void soft_fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y,
              std::int64_t batch);

// UltraFastBERT's tree of single GeLU neurons: y[batch, d_out] and path[batch, depth + 1].
void ultrafast_fff(const float* x, const float* w_in, const float* w_out, float* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth);

// The dense GeLU feed-forward layer, one row and one neuron at a time.
void dense_ff(const float* x, const float* w_in, const float* w_out, float* y, std::int64_t batch,
              std::int64_t d_in, std::int64_t d_out, std::int64_t width);

}  // namespace opbench::cpu::plain
