// Parallel scans over T for cpu.chunked and cpu.blelloch (contract in scan_fast.hpp). Both treat
// one step as the affine map h -> a h + b; composing two steps gives another affine map, which is
// what makes the recurrence a scan (Blelloch 1990, §1.4).
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/scan_fast.hpp"
#include "kernels/cpu/scan_fast_blocks.hpp"
#include "kernels/cpu/scan_projection.hpp"

namespace opbench::cpu::fast {

using namespace simd;

void linear_scan_chunked(const float* a, const float* b, const float* h0, float* h,
                         std::int64_t batch, std::int64_t T, std::int64_t D) {
  const int chunks = static_cast<int>(std::min<std::int64_t>(omp_get_max_threads(), T));
  const std::int64_t BD = batch * D;
  // Per chunk and channel: A = prod a over the chunk, B = the chunk's scan from h = 0. After the
  // carry pass, A holds the h entering the chunk instead.
  float* A = scan_workspace(0, chunks * BD);
  float* B = scan_workspace(1, chunks * BD);
  const bool aligned = streamable(D, {h});
#pragma omp parallel num_threads(chunks)
  {
    const int c = omp_get_thread_num();
    const std::int64_t t0 = T * c / chunks, t1 = T * (c + 1) / chunks;
    // 1. Reduce each chunk but the last (nothing follows it) to its affine map.
    if (c + 1 < chunks) {
      for (std::int64_t n = 0; n < batch; ++n) {
        float* Ac = A + c * BD + n * D;
        float* Bc = B + c * BD + n * D;
        std::fill(Ac, Ac + D, 1.0f);
        std::fill(Bc, Bc + D, 0.0f);
        for (std::int64_t t = t0; t < t1; ++t) {
          const float* ar = a + (n * T + t) * D;
          const float* br = b + (n * T + t) * D;
#pragma omp simd
          for (std::int64_t d = 0; d < D; ++d) {
            Bc[d] = ar[d] * Bc[d] + br[d];
            Ac[d] *= ar[d];
          }
        }
      }
    }
#pragma omp barrier
    // 2. Carry h across chunks, sequentially in c, each thread a slice of the channels.
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < BD; ++i) {
      float carry = h0[i];
      for (int k = 0; k < chunks; ++k) {
        const float next = k + 1 < chunks ? A[k * BD + i] * carry + B[k * BD + i] : 0.0f;
        A[k * BD + i] = carry;
        carry = next;
      }
    }
    // (the implicit barrier of the loop above ends the carry pass)
    // 3. Rescan each chunk from the h entering it, row by row (the carry row is the running
    // state, a few KiB that stay in L1 while a, b and h stream through in order).
    for (std::int64_t n = 0; n < batch; ++n) {
      float* state = A + c * BD + n * D;
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t row = (n * T + t) * D;
        for (std::int64_t d0 = 0; d0 < D; d0 += kW) {
          const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d0));
          const vf next = load_lanes(a + row + d0, lanes) * load_lanes(state + d0, lanes) +
                          load_lanes(b + row + d0, lanes);
          store_lanes(state + d0, next, lanes, false);
          store_lanes(h + row + d0, next, lanes, aligned);
        }
      }
    }
    stream_fence();
  }
}

void linear_scan_blelloch(const float* a, const float* b, const float* h0, float* h,
                          std::int64_t batch, std::int64_t T, std::int64_t D) {
  // Element t of a sequence is the pair (A_t, B_t), A in a workspace and B in h; h0 is folded into
  // the first step (B_0 = a_0 h0 + b_0), so the inclusive prefix's B is h itself.
  float* A = scan_workspace(0, batch * T * D);
  std::int64_t top = 1;  // the largest power of two below T (the up-sweep's last stride)
  while (top * 2 < T) top *= 2;
  // X[i] = X[j] o X[i]: first the steps up to j, then those of i.
  auto combine = [&](std::int64_t n, std::int64_t j, std::int64_t i) {
    float* Ai = A + (n * T + i) * D;
    float* Bi = h + (n * T + i) * D;
    const float* Aj = A + (n * T + j) * D;
    const float* Bj = h + (n * T + j) * D;
#pragma omp simd
    for (std::int64_t d = 0; d < D; ++d) {
      Bi[d] = Ai[d] * Bj[d] + Bi[d];
      Ai[d] *= Aj[d];
    }
  };
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < batch * T; ++r) {
      const float* ar = a + r * D;
      const float* br = b + r * D;
      float* Ar = A + r * D;
      float* Br = h + r * D;
      const float* init = r % T == 0 ? h0 + (r / T) * D : nullptr;
#pragma omp simd
      for (std::int64_t d = 0; d < D; ++d) {
        Ar[d] = ar[d];
        Br[d] = init ? ar[d] * init[d] + br[d] : br[d];
      }
    }
    // Up-sweep: X[i] for i + 1 a multiple of 2s covers the 2s steps ending at i.
    for (std::int64_t s = 1; s < T; s *= 2) {
      const std::int64_t pairs = T / (2 * s);
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < batch * pairs; ++k) {
        const std::int64_t n = k / pairs, i = (k % pairs + 1) * 2 * s - 1;
        combine(n, i - s, i);
      }
    }
    // Down-sweep: every X[i] with i + 1 an odd multiple of s gets the prefix before its range.
    for (std::int64_t s = top / 2; s >= 1; s /= 2) {
      const std::int64_t count = T >= 3 * s ? (T - 3 * s) / (2 * s) + 1 : 0;
#pragma omp for schedule(static)
      for (std::int64_t k = 0; k < batch * count; ++k) {
        const std::int64_t n = k / count, i = 3 * s - 1 + (k % count) * 2 * s;
        combine(n, i - s, i);
      }
    }
  }
}

}  // namespace opbench::cpu::fast
