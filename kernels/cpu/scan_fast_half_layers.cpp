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

}  // namespace

OPBENCH_WIDENED_LAYERS(bf16_t, VectorConv)
OPBENCH_WIDENED_LAYERS(f16_t, VectorConv)

}  // namespace opbench::cpu::fast
