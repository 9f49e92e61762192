#pragma once
// How the scan family checks agreement: a bound per element that follows the sequence, instead of
// one atol/rtol for the whole tensor (Tolerance has no view of T or of the data).
//
// For h_t = a_t h_{t-1} + b_t evaluated in float32 one step after another, each step rounds twice
// (the product and the sum, or once with an FMA), so to first order the error obeys
//   e_t <= |a_t| e_{t-1} + u (|a_t h_{t-1}| + |h_t|) <= |a_t| e_{t-1} + 2 u C_t,
//   C_t = |a_t| C_{t-1} + |b_t|,  C_{-1} = |h0|
// (C is the recurrence run on magnitudes: h without cancellation). That is E_t = |a_t| E_{t-1} +
// 2 C_t with e_t <= u E_t: the classic running bound (Higham 2002, Accuracy and Stability of
// Numerical Algorithms, §3.1; recursive summation is the case a = 1, where E grows like t^2 |b|).
// It grows with T exactly where the error can: long memory (a near 1) accumulates, short memory
// (a well below 1) forgets. Tree evaluations (chunked, Blelloch, the CUDA scan) round along paths
// of up to 2 log2(T) combines instead of one chain, so the allowed error is
//   |out - ref| <= depth(T) u E_t,  depth(T) = 2 (1 + ceil(log2 T)).
#include <cstdint>
#include <string>
#include <vector>

#include "harness/op.hpp"

namespace opbench::suite::scan {

inline constexpr double kUnitRoundoff = 0x1p-24;  // float32

// The factor for paths of tree evaluations over T steps: 2 (1 + ceil(log2 T)).
double depth_factor(std::int64_t T);

// E_t of the header, per element of [batch, T, D], for the forward recurrence.
std::vector<double> forward_error_units(const double* a, const double* b, const double* h0,
                                        std::int64_t batch, std::int64_t T, std::int64_t D);

// The same for the backward pass: delta_t = g_t + a_{t+1} delta_{t+1} (a reverse scan), returning
// E of delta per element; `magnitude` receives C of delta (the reverse scan of |g|).
std::vector<double> backward_error_units(const double* a, const double* g, std::int64_t batch,
                                         std::int64_t T, std::int64_t D,
                                         std::vector<double>& magnitude);

// Agreement of `out` with `ref` where element i may differ by at most bound[i] (the float32 bound)
// plus, for a bfloat16 or float16 output, the rounding of the output into its dtype (u |ref[i]|
// and half its subnormal spacing): kernels carry the state in float32 and round each output once.
// A reference beyond the dtype's range wants the infinity rounding gives. NaN and Inf positions
// must match, as in compare_tensor(). first_mismatch names the bound.
Agreement compare_within(const std::string& name, const Tensor& out, const Tensor& ref,
                         const std::vector<double>& bound);

}  // namespace opbench::suite::scan
