#pragma once
// cuda.fast kernels of the scan family. Pointers are device pointers; each function launches on
// the bound stream (launch_stream.hpp) and returns without synchronizing. Equations and argument
// order are those of reference/scan.hpp; the log-space scan is Heinsen's a* + logcumsumexp(log b -
// a*), as kernels/cpu/scan_plain.hpp describes it. Any launch or cuBLAS error is thrown as
// std::runtime_error; a shape beyond what one launch takes (2^31 - 1 blocks), as
// std::invalid_argument with one line. The projection GEMMs of the layers go through cuBLAS.
// Scratch comes from the bound kernel's arena (harness/device.hpp: device_scratch); the
// *_scratch_bytes functions say how much a shape takes, for the planner's memory check.
#include <algorithm>
#include <cstdint>

namespace opbench::cuda {

constexpr int kScanChunk = 64;  // time steps per chunk of the chunked scans

// Bytes of device scratch: the chunked scans keep two (linear) or three (log-space) floats per
// (batch, chunk, channel); the layers add their projection (or log h0, whichever is larger) and
// the gates a and b, then scan.
inline double linear_scan_scratch_bytes(std::int64_t batch, std::int64_t T, std::int64_t D) {
  const double chunks = static_cast<double>((T + kScanChunk - 1) / kScanChunk);
  return 2.0 * static_cast<double>(batch) * chunks * static_cast<double>(D) * sizeof(float);
}
inline double log_scan_scratch_bytes(std::int64_t batch, std::int64_t T, std::int64_t D) {
  return 1.5 * linear_scan_scratch_bytes(batch, T, D);
}

void linear_scan(const float* a, const float* b, const float* h0, float* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D);

void log_scan(const float* log_a, const float* log_b, const float* log_h0, float* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D);

enum class MinLayer { mingru, minlstm };

// minGRU (w[d_in, 2D]) or minLSTM (w[d_in, 3D]): projection, gates, then the plain or the
// log-space scan.
void min_layer(MinLayer kind, const float* x, const float* w, const float* bias, const float* h0,
               float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D,
               bool log_form);

inline double min_layer_scratch_bytes(MinLayer kind, std::int64_t batch, std::int64_t T,
                                      std::int64_t D, bool log_form) {
  const double rows = static_cast<double>(batch) * static_cast<double>(T);
  const double gates = kind == MinLayer::minlstm ? 3.0 : 2.0;
  const double projection =
      std::max(rows * gates * static_cast<double>(D), static_cast<double>(batch * D));
  return (projection + 2.0 * rows * static_cast<double>(D)) * sizeof(float) +
         (log_form ? log_scan_scratch_bytes(batch, T, D) : linear_scan_scratch_bytes(batch, T, D));
}

}  // namespace opbench::cuda
