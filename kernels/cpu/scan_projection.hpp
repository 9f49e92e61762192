#pragma once
// The input projection every recurrent layer of the scan family starts with, through OpenBLAS:
//   k[rows, cols] = x[rows, d_in] W[d_in, cols] + bias[cols]
// and a reusable per-thread workspace for it (allocated once, grown when a case needs more, so a
// timed run does not pay for fresh pages every call, as a framework's caching allocator).
#include <cstdint>

namespace opbench::cpu {

void project(const float* x, const float* w, const float* bias, float* k, std::int64_t rows,
             std::int64_t d_in, std::int64_t cols);

// `count` floats of scratch, slot `slot` (0..3) of this thread; contents are unspecified.
float* scan_workspace(int slot, std::int64_t count);

}  // namespace opbench::cpu
