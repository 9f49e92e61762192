// cpu.fast scans (contract in scan_fast.hpp): sequential over T, vectorized across D, OpenMP over
// (batch, channel block), the running state in registers, h written with streaming stores.
#include "kernels/cpu/scan_fast.hpp"

#include "kernels/cpu/scan_fast_blocks.hpp"
#include "kernels/cpu/scan_fast_math.hpp"

namespace opbench::cpu::fast {

using namespace simd;

void linear_scan(const float* a, const float* b, const float* h0, float* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D) {
  const bool aligned = streamable(D, {h});
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State state(static_cast<std::size_t>(blk.vectors));
    const float* h0p = h0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) state[v] = load_lanes(h0p + v * kW, blk.lanes(v));
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t row = (blk.n * T + t) * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const std::int64_t i = row + v * kW;
        state[v] = load_lanes(a + i, lanes) * state[v] + load_lanes(b + i, lanes);
        store_lanes(h + i, state[v], lanes, aligned);
      }
    }
  });
}

void linear_scan_backward(const float* a, const float* h0, const float* h, const float* dh,
                          float* da, float* db, float* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D) {
  const bool aligned = streamable(D, {da, db});
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State delta(static_cast<std::size_t>(blk.vectors)), a_next(delta);
    for (int v = 0; v < blk.vectors; ++v) delta[v] = a_next[v] = splat(0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t row = (blk.n * T + t) * D + blk.d0;
      const float* h_prev = t > 0 ? h + row - D : h0 + blk.n * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const std::int64_t i = row + v * kW;
        // delta_t = g_t + a_{t+1} delta_{t+1}; da_t = delta_t h_{t-1}; db_t = delta_t.
        delta[v] = load_lanes(dh + i, lanes) + a_next[v] * delta[v];
        store_lanes(db + i, delta[v], lanes, aligned);
        store_lanes(da + i, delta[v] * load_lanes(h_prev + v * kW, lanes), lanes, aligned);
        a_next[v] = load_lanes(a + i, lanes);
      }
    }
    float* dh0p = dh0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) {
      store_lanes(dh0p + v * kW, a_next[v] * delta[v], blk.lanes(v), false);
    }
  });
}

void log_scan(const float* log_a, const float* log_b, const float* log_h0, float* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D) {
  const bool aligned = streamable(D, {log_h});
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    // a* (sum of log a) and the running log-sum-exp (m, s) of log b - a*, seeded with log h0.
    State a_star(static_cast<std::size_t>(blk.vectors)), m(a_star), s(a_star);
    const float* h0p = log_h0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) {
      a_star[v] = splat(0.0f);
      m[v] = load_lanes(h0p + v * kW, blk.lanes(v));
      s[v] = splat(1.0f);
    }
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t row = (blk.n * T + t) * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const std::int64_t i = row + v * kW;
        a_star[v] += load_lanes(log_a + i, lanes);
        lse_push(m[v], s[v], load_lanes(log_b + i, lanes) - a_star[v]);
        store_lanes(log_h + i, a_star[v] + m[v] + lse_log_sum(s[v]), lanes, aligned);
      }
    }
  });
}

}  // namespace opbench::cpu::fast
