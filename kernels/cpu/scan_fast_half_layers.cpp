// cpu.fast minGRU, minLSTM, GRU and LSTM in bfloat16 and binary16 storage: the float32 cpu.fast
// layers of rnn_cpu.cpp on inputs widened to float32, h rounded once (scan_layers_widened.hpp:
// the projection is OpenBLAS SGEMM, which takes float only). The conversions go kW lanes at a
// time (half_vec.hpp) over the threads; cpu.plain's go in scalar loops.
#include <cstdint>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/scan_fast.hpp"
#include "kernels/cpu/scan_layers_widened.hpp"

namespace opbench::cpu::fast {
namespace {

struct VectorConv {
  template <class T>
  static void widen(const T* src, float* dst, std::int64_t n) {
    half_vec::widen_threads(src, dst, n);
  }
  template <class T>
  static void narrow(const float* src, T* dst, std::int64_t n) {
    half_vec::narrow_threads(src, dst, n);
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
