#pragma once
// The log-space scan's backward pass on the CPU (float32): given log a, log b, log h0, the
// forward's log h and dlog_h = dL/d(log h), the gradients d log a, d log b and d log h0. Equations
// and argument order are those of ref::log_scan_backward (reference/scan.hpp): the reverse
// recurrence r_t = dlog_h_t + d log a_{t+1}, d log a_t = r_t exp(log a_t + log h_{t-1} - log h_t),
// d log b_t = r_t exp(log b_t - log h_t), d log h0 = d log a_0; every exponent <= 0.
//
// cpu.plain: scalar loops, one thread, one step after another (reverse over T, channels inner),
//   std::exp.
// cpu.fast: the cpu.fast scans' layout (scan_fast_blocks.hpp): reverse over T, vectorized across
//   D, OpenMP over (batch entry, channel segment); log h_t is carried in registers from the step
//   that loaded it as log h_{t-1}, so each input is read once and each gradient written once
//   (streaming stores); the next step's rows are prefetched (walked backwards, each row starts a
//   run the hardware prefetchers have not seen). Its exp is the family's vexp (2 ulp), with
//   exponents below -87 (where vexp clamps) giving 0: a zero gate's exp(-inf) is exactly 0, as in
//   the reference; a finite exponent there is off by less than e^-87 (the agreement rule's floor).
#include <cstdint>

namespace opbench::cpu::plain {

void log_scan_backward(const float* log_a, const float* log_b, const float* log_h0,
                       const float* log_h, const float* dlog_h, float* dlog_a, float* dlog_b,
                       float* dlog_h0, std::int64_t batch, std::int64_t T, std::int64_t D);

}  // namespace opbench::cpu::plain

namespace opbench::cpu::fast {

void log_scan_backward(const float* log_a, const float* log_b, const float* log_h0,
                       const float* log_h, const float* dlog_h, float* dlog_a, float* dlog_b,
                       float* dlog_h0, std::int64_t batch, std::int64_t T, std::int64_t D);

}  // namespace opbench::cpu::fast
