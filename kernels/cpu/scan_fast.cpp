// cpu.fast scans (contract in scan_fast.hpp): sequential over T, vectorized across D, OpenMP over
// (batch, channel block), the running state in registers, h written with streaming stores.
// One template per scan over the storage type S: float32, or bfloat16 / binary16 loaded widened
// to float32 (exact), the state kept in float32, each output rounded once to nearest even.
#include "kernels/cpu/scan_fast.hpp"

#include "kernels/cpu/scan_fast_blocks.hpp"
#include "kernels/cpu/scan_fast_math.hpp"

namespace opbench::cpu::fast {

using namespace simd;

namespace {

template <class S>
void linear_scan_t(const S* a, const S* b, const S* h0, S* h, std::int64_t batch, std::int64_t T,
                   std::int64_t D) {
  const bool aligned = streamable(D, {h});
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State state(static_cast<std::size_t>(blk.vectors));
    const S* h0p = h0 + blk.n * D + blk.d0;
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

template <class S>
void linear_scan_backward_t(const S* a, const S* h0, const S* h, const S* dh, S* da, S* db, S* dh0,
                            std::int64_t batch, std::int64_t T, std::int64_t D) {
  const bool aligned = streamable(D, {da, db});
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State delta(static_cast<std::size_t>(blk.vectors)), a_next(delta);
    for (int v = 0; v < blk.vectors; ++v) delta[v] = a_next[v] = splat(0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t row = (blk.n * T + t) * D + blk.d0;
      const S* h_prev = t > 0 ? h + row - D : h0 + blk.n * D + blk.d0;
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
    S* dh0p = dh0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) {
      store_lanes(dh0p + v * kW, a_next[v] * delta[v], blk.lanes(v), false);
    }
  });
}

template <class S>
void log_scan_t(const S* log_a, const S* log_b, const S* log_h0, S* log_h, std::int64_t batch,
                std::int64_t T, std::int64_t D) {
  const bool aligned = streamable(D, {log_h});
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    // a* (sum of log a) and the running log-sum-exp (m, s) of log b - a*, seeded with log h0.
    State a_star(static_cast<std::size_t>(blk.vectors)), m(a_star), s(a_star);
    const S* h0p = log_h0 + blk.n * D + blk.d0;
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

}  // namespace

#define OPBENCH_SCAN_FAST(S)                                                                   \
  void linear_scan(const S* a, const S* b, const S* h0, S* h, std::int64_t batch,              \
                   std::int64_t steps, std::int64_t D) {                                       \
    linear_scan_t(a, b, h0, h, batch, steps, D);                                               \
  }                                                                                            \
  void linear_scan_backward(const S* a, const S* h0, const S* h, const S* dh, S* da, S* db,    \
                            S* dh0, std::int64_t batch, std::int64_t steps, std::int64_t D) {  \
    linear_scan_backward_t(a, h0, h, dh, da, db, dh0, batch, steps, D);                        \
  }                                                                                            \
  void log_scan(const S* log_a, const S* log_b, const S* log_h0, S* log_h, std::int64_t batch, \
                std::int64_t steps, std::int64_t D) {                                          \
    log_scan_t(log_a, log_b, log_h0, log_h, batch, steps, D);                                  \
  }
OPBENCH_SCAN_FAST(float)
OPBENCH_SCAN_FAST(bf16_t)
OPBENCH_SCAN_FAST(f16_t)
#undef OPBENCH_SCAN_FAST

}  // namespace opbench::cpu::fast
