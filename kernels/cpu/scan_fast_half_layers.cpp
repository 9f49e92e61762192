// cpu.fast minGRU, minLSTM, GRU and LSTM in bfloat16 and binary16 storage: the float32 cpu.fast
// layers of rnn_cpu.cpp on inputs widened to float32, h rounded once (scan_layers_widened.hpp:
// the projection is OpenBLAS SGEMM, which takes float only). The conversions go kW lanes at a
// time (half_vec.hpp) over the threads; cpu.plain's go in scalar loops.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/scan_fast.hpp"
#include "kernels/cpu/scan_layers_widened.hpp"

namespace opbench::cpu::fast {
namespace {

// Pieces of at least this many values per thread: below it the threads' start-up costs more
// than the conversion.
constexpr std::int64_t kMinPerThread = std::int64_t{1} << 15;

struct VectorConv {
  template <class T>
  static void widen(const T* src, float* dst, std::int64_t n) {
    split(n,
          [&](std::int64_t i0, std::int64_t i1) { half_vec::widen(src + i0, dst + i0, i1 - i0); });
  }
  template <class T>
  static void narrow(const float* src, T* dst, std::int64_t n) {
    split(n,
          [&](std::int64_t i0, std::int64_t i1) { half_vec::narrow(src + i0, dst + i0, i1 - i0); });
  }
  // fn(i0, i1) over [0, n) in one contiguous piece per thread.
  template <class Fn>
  static void split(std::int64_t n, Fn fn) {
    const int threads =
        static_cast<int>(std::clamp<std::int64_t>(n / kMinPerThread, 1, omp_get_max_threads()));
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      fn(n * t / nt, n * (t + 1) / nt);
    }
  }
};

using widened_layers::F32Gru;
using widened_layers::F32Lstm;
using widened_layers::F32MinLayer;

}  // namespace

#define OPBENCH_FAST_LAYERS(T)                                                                     \
  void mingru(const T* x, const T* w, const T* bias, const T* h0, T* h, std::int64_t batch,        \
              std::int64_t steps, std::int64_t d_in, std::int64_t D, ScanForm form) {              \
    widened_layers::min_layer<VectorConv>(static_cast<F32MinLayer>(mingru), 2, x, w, bias, h0, h,  \
                                          batch, steps, d_in, D, form);                            \
  }                                                                                                \
  void minlstm(const T* x, const T* w, const T* bias, const T* h0, T* h, std::int64_t batch,       \
               std::int64_t steps, std::int64_t d_in, std::int64_t D, ScanForm form) {             \
    widened_layers::min_layer<VectorConv>(static_cast<F32MinLayer>(minlstm), 3, x, w, bias, h0, h, \
                                          batch, steps, d_in, D, form);                            \
  }                                                                                                \
  void gru(const T* x, const T* w, const T* u, const T* bias, const T* h0, T* h,                   \
           std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D) {            \
    widened_layers::gru<VectorConv>(static_cast<F32Gru>(gru), x, w, u, bias, h0, h, batch, steps,  \
                                    d_in, D);                                                      \
  }                                                                                                \
  void lstm(const T* x, const T* w, const T* u, const T* bias, const T* h0, const T* c0, T* h,     \
            std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D) {           \
    widened_layers::lstm<VectorConv>(static_cast<F32Lstm>(lstm), x, w, u, bias, h0, c0, h, batch,  \
                                     steps, d_in, D);                                              \
  }
OPBENCH_FAST_LAYERS(bf16_t)
OPBENCH_FAST_LAYERS(f16_t)
#undef OPBENCH_FAST_LAYERS

}  // namespace opbench::cpu::fast
