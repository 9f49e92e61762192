#pragma once
// cuda.fast kernels of the scan family. Pointers are device pointers; each function launches on
// the default stream and returns without synchronizing. Equations and argument order are those
// of reference/scan.hpp; the log-space scan is Heinsen's a* + logcumsumexp(log b - a*), as
// kernels/cpu/scan_plain.hpp describes it. Any launch or cuBLAS error is thrown as
// std::runtime_error; a shape beyond what one launch takes (2^31 - 1 blocks), as
// std::invalid_argument with one line. The projection GEMMs of the layers go through cuBLAS.
#include <cstdint>

namespace opbench::cuda {

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

}  // namespace opbench::cuda
