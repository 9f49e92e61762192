#pragma once
// cpu.plain for the Fast Feedforward family: the code a careful user writes first, one row at a
// time the way the papers' naive code does it (the fastfeedforward package's eval_forward_naive,
// UltraFastBERT's fff_l1 loop): scalar loops, one thread, float accumulation. Equations and
// layouts are those of reference/fff.hpp.
//
// T is the storage type of x, the weights and y: float, bf16_t or f16_t (explicitly instantiated
// in the .cpp). Loads widen to float, every sum and decision is float arithmetic, and each output
// is rounded once into T, so a 16-bit case routes and accumulates exactly as float32 would on the
// same (rounded) values.
#include <cstdint>

#include "harness/half.hpp"
#include "kernels/cpu/fff_types.hpp"

namespace opbench::cpu::plain {

// Hard-routed FFF: y[batch, d_out] and the chosen leaf[batch].
template <class T>
void fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y, std::int64_t* leaf,
         std::int64_t batch);

// Soft (training-mode) FFF: every leaf mixed by the sigmoid decisions along its path.
template <class T>
void soft_fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y, std::int64_t batch);

// UltraFastBERT's tree of single GeLU neurons: y[batch, d_out] and path[batch, depth + 1].
template <class T>
void ultrafast_fff(const T* x, const T* w_in, const T* w_out, T* y, std::int64_t* path,
                   std::int64_t batch, std::int64_t d_in, std::int64_t d_out, std::int64_t depth);

// The dense GeLU feed-forward layer, one row and one neuron at a time.
template <class T>
void dense_ff(const T* x, const T* w_in, const T* w_out, T* y, std::int64_t batch,
              std::int64_t d_in, std::int64_t d_out, std::int64_t width);

}  // namespace opbench::cpu::plain
