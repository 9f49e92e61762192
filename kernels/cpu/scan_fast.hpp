#pragma once
// Optimized CPU kernels of the scan family. Equations and argument order are those of
// reference/scan.hpp and kernels/cpu/scan_plain.hpp.
//
// cpu.fast (scan_fast.cpp, rnn_cpu.cpp): sequential over T, vectorized across D, OpenMP over
// (batch entry, segment of channels), whole rows where batch feeds the threads; the running state
// of a segment stays in L1, the rows stream through in order and h is written with streaming
// stores, so the scan reads a and b once and writes h once (DRAM-bound). The
// minimal layers fuse gates and scan in one pass after the SGEMM projection; GRU and LSTM run one
// SGEMM per step for the recurrent product.
//
// Parallel scans over T (scan_parallel.cpp), for when batch x D is too small to feed the threads:
//   linear_scan_chunked  threads over chunks of T: each reduces its chunk to one affine map
//                        (A = prod a, B = local scan from 0), a short sequential pass carries
//                        h across chunks, each chunk then rescans from its carry (reads a and b
//                        twice: 5 passes of traffic instead of 3).
//   linear_scan_blelloch the work-efficient (Brent-Kung / Blelloch 1990) up-sweep and down-sweep
//                        over the associative pair (A, B) o (A', B') = (A A', A' B + B'),
//                        O(T) combines in 2 log2(T) levels, each level a parallel loop.
#include <cstdint>

#include "kernels/cpu/scan_plain.hpp"

namespace opbench::cpu::fast {

void linear_scan(const float* a, const float* b, const float* h0, float* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D);

void linear_scan_backward(const float* a, const float* h0, const float* h, const float* dh,
                          float* da, float* db, float* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D);

// Heinsen's log-space scan, as cpu::plain::log_scan, vectorized across D.
void log_scan(const float* log_a, const float* log_b, const float* log_h0, float* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D);

void linear_scan_chunked(const float* a, const float* b, const float* h0, float* h,
                         std::int64_t batch, std::int64_t T, std::int64_t D);

void linear_scan_blelloch(const float* a, const float* b, const float* h0, float* h,
                          std::int64_t batch, std::int64_t T, std::int64_t D);

void mingru(const float* x, const float* w, const float* bias, const float* h0, float* h,
            std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form);

void minlstm(const float* x, const float* w, const float* bias, const float* h0, float* h,
             std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form);

void gru(const float* x, const float* w, const float* u, const float* bias, const float* h0,
         float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

void lstm(const float* x, const float* w, const float* u, const float* bias, const float* h0,
          const float* c0, float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in,
          std::int64_t D);

// --- bfloat16 and float16 storage ----------------------------------------------------------------
// The same contracts over 16-bit tensors (as cpu::plain's). The scans (scan_fast.cpp) load each
// vector widened to float32, keep their state in float32 and round each output once (no
// streaming stores). The layers (scan_fast_half_layers.cpp) run the float32 layers above on
// inputs widened to float32 and round h once.
OPBENCH_SCAN_DECLS_16(bf16_t)
OPBENCH_SCAN_DECLS_16(f16_t)

}  // namespace opbench::cpu::fast
