#pragma once
// cpu.plain of the scan family: the straightforward code a careful user writes first: scalar
// loops, one thread, one step after another. The minimal layers project through OpenBLAS
// SGEMM (as every framework does), then scan. Equations and argument order are those of
// reference/scan.hpp; the log-space forms follow Heinsen 2023 (and the minGRU paper's code).
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu {

// Which formulation a minimal layer (minGRU, minLSTM) evaluates its scan in: the plain linear
// recurrence h_t = a_t h_{t-1} + b_t, or Heinsen's log-space form (log-gates from softplus, the
// candidate through log g, then a* + logcumsumexp(log b - a*), h = exp(log h)).
enum class ScanForm { plain, log };

}  // namespace opbench::cpu

namespace opbench::cpu::plain {

void linear_scan(const float* a, const float* b, const float* h0, float* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D);

void linear_scan_backward(const float* a, const float* h0, const float* h, const float* dh,
                          float* da, float* db, float* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D);

// Heinsen's log-space scan: a*_t = sum_{s<=t} log a_s, then
//   log h_t = a*_t + logcumsumexp(log h0, log b_0 - a*_0, ..., log b_t - a*_t)
// with the log-sum-exp kept stable by a running maximum (as torch.logcumsumexp). Terms of -inf
// (b = 0) add nothing, so h0 = 0 with b = 0 gives -inf (log 0), as the reference; +inf terms give
// +inf and NaN propagates. An exact zero gate (log a = -inf) makes a* = -inf and the result NaN:
// the formulation cannot represent it.
void log_scan(const float* log_a, const float* log_b, const float* log_h0, float* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D);

void mingru(const float* x, const float* w, const float* bias, const float* h0, float* h,
            std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form);

void minlstm(const float* x, const float* w, const float* bias, const float* h0, float* h,
             std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form);

// GRU and LSTM: the input projection of all steps through SGEMM, then one step after another with
// the recurrent product h_{t-1} U as scalar loops.
void gru(const float* x, const float* w, const float* u, const float* bias, const float* h0,
         float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

void lstm(const float* x, const float* w, const float* u, const float* bias, const float* h0,
          const float* c0, float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in,
          std::int64_t D);

// --- bfloat16 and float16 storage ----------------------------------------------------------------
// The same contracts over 16-bit tensors. The scans load each value widened to float, carry their
// state in float (never in the storage type) and round each output once. The layers widen their
// inputs into float buffers, run the float32 layer (its projection is SGEMM) and round h once.
// (The declarations are a macro that cpu::fast's 16-bit overloads, scan_fast.hpp, declare too.)

#define OPBENCH_SCAN_DECLS_16(T)                                                               \
  void linear_scan(const T* a, const T* b, const T* h0, T* h, std::int64_t batch,              \
                   std::int64_t steps, std::int64_t D);                                        \
  void linear_scan_backward(const T* a, const T* h0, const T* h, const T* dh, T* da, T* db,    \
                            T* dh0, std::int64_t batch, std::int64_t steps, std::int64_t D);   \
  void log_scan(const T* log_a, const T* log_b, const T* log_h0, T* log_h, std::int64_t batch, \
                std::int64_t steps, std::int64_t D);                                           \
  void mingru(const T* x, const T* w, const T* bias, const T* h0, T* h, std::int64_t batch,    \
              std::int64_t steps, std::int64_t d_in, std::int64_t D, ScanForm form);           \
  void minlstm(const T* x, const T* w, const T* bias, const T* h0, T* h, std::int64_t batch,   \
               std::int64_t steps, std::int64_t d_in, std::int64_t D, ScanForm form);          \
  void gru(const T* x, const T* w, const T* u, const T* bias, const T* h0, T* h,               \
           std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D);         \
  void lstm(const T* x, const T* w, const T* u, const T* bias, const T* h0, const T* c0, T* h, \
            std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D);
OPBENCH_SCAN_DECLS_16(bf16_t)
OPBENCH_SCAN_DECLS_16(f16_t)

}  // namespace opbench::cpu::plain
