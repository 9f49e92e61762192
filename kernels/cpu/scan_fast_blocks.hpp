#pragma once
// Private to the scan family's cpu.fast kernels: the (batch entry, segment of channels) work split.
// Every sequence of the scan is independent across batch and channel; a task is one batch entry's
// segment of channels, whole rows where there are enough batch entries to feed the threads. Each
// step then reads one contiguous run of every input row and the task walks its rows in order,
// so memory is streamed front to back (short strided blocks of a row measured 3x slower: DRAM
// pages and prefetchers want long runs). The running state of a segment (a few KiB) stays in L1.
// Partial vectors (D not a multiple of the vector width) are loaded and stored lane by lane;
// streaming stores are used only where every row is vector-aligned.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast::simd {

// The first `lanes` floats at p (lanes <= kW); the other lanes are 0.
inline vf load_lanes(const float* p, int lanes) {
  if (lanes == kW) return load(p);
  vf v = splat(0.0f);
  std::memcpy(&v, p, sizeof(float) * static_cast<std::size_t>(lanes));
  return v;
}

// Stores the first `lanes` floats of v; streaming (non-temporal) when asked and the vector is full.
inline void store_lanes(float* p, vf v, int lanes, bool nontemporal) {
  if (lanes == kW) {
    if (nontemporal) {
      stream(p, v);
    } else {
      store(p, v);
    }
    return;
  }
  std::memcpy(p, &v, sizeof(float) * static_cast<std::size_t>(lanes));
}

// The same for 16-bit storage: widened to float32 on load, rounded once to nearest even on
// store (never streamed: a row of 16-bit values is a vector of half the width).
template <class T>
inline vf load_lanes(const T* p, int lanes) {
  if (lanes == kW) return half_vec::wv(p);
  vf v = splat(0.0f);
  for (int k = 0; k < lanes; ++k) v[k] = to_float(p[k]);
  return v;
}
template <class T>
inline void store_lanes(T* p, vf v, int lanes, bool) {
  if (lanes == kW) {
    half_vec::nv(p, v);
    return;
  }
  for (int k = 0; k < lanes; ++k) half_detail::put(p[k], v[k]);
}

// Whether rows of D floats starting at every `out` can take streaming stores: each vector of a
// row must be aligned to the vector size.
inline bool streamable(std::int64_t D, std::initializer_list<const float*> outs) {
  bool ok = D % kW == 0;
  for (const float* p : outs) ok = ok && reinterpret_cast<std::uintptr_t>(p) % sizeof(vf) == 0;
  return ok;
}

// Outputs in 16-bit storage are never streamed.
template <class T>
inline bool streamable(std::int64_t, std::initializer_list<const T*>) {
  return false;
}

// One task: batch entry n, channels [d0, d0 + width), as `vectors` vectors, the last one holding
// `last_lanes` lanes.
// A segment's running state: one vector per kW channels.
using State = std::vector<vf>;

struct ChannelBlock {
  std::int64_t n, d0;
  int vectors, last_lanes;
  int lanes(int v) const { return v + 1 == vectors ? last_lanes : kW; }
};

// Calls body(block) for every (batch entry, channel segment), spread over the OpenMP threads:
// rows are split into as few segments as give every thread a task. Tasks are handed out
// dynamically: on a shared machine one busy core must not make the other wait at the end.
template <class Body>
void for_channel_blocks(std::int64_t batch, std::int64_t D, Body body) {
  const std::int64_t threads = omp_get_max_threads();
  const std::int64_t vectors = (D + kW - 1) / kW;
  const std::int64_t splits =
      std::min(vectors, std::max<std::int64_t>(1, (threads + batch - 1) / batch));
  const std::int64_t seg = (vectors + splits - 1) / splits * kW;
  const std::int64_t per_row = (D + seg - 1) / seg;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t task = 0; task < batch * per_row; ++task) {
    ChannelBlock blk;
    blk.n = task / per_row;
    blk.d0 = (task % per_row) * seg;
    const std::int64_t width = std::min(seg, D - blk.d0);
    blk.vectors = static_cast<int>((width + kW - 1) / kW);
    blk.last_lanes = static_cast<int>(width - (blk.vectors - 1) * kW);
    body(blk);
  }
  stream_fence();
}

}  // namespace opbench::cpu::fast::simd
