#pragma once
// Private to the scan family: the 16-bit minGRU, minLSTM, GRU and LSTM through their float32
// versions. Their projection runs through OpenBLAS SGEMM, which takes float only, so a layer in
// bfloat16 or binary16 storage widens its input tensors into float buffers (exact), runs the
// float32 layer and rounds h once into the storage type. The widening is part of every call, as
// it is for a caller holding 16-bit tensors.
//
// Conv says how values are converted: widen(const T*, float*, n) and narrow(const float*, T*, n).
// cpu.plain converts in scalar loops, cpu.fast kW lanes at a time over the threads.
#include <cstdint>
#include <vector>

#include "kernels/cpu/scan_plain.hpp"

namespace opbench::cpu::widened_layers {

// Per-thread float copies of a layer's input tensors, one per slot, grown when a case needs
// more so that a timed call does not fault in fresh pages.
enum Slot { kX, kW, kU, kBias, kH0, kC0, kSlots };

template <class Conv, class T>
const float* widened(Slot slot, const T* src, std::int64_t count) {
  thread_local std::vector<float> buffers[kSlots];
  std::vector<float>& v = buffers[slot];
  if (static_cast<std::int64_t>(v.size()) < count) v.resize(static_cast<std::size_t>(count));
  Conv::widen(src, v.data(), count);
  return v.data();
}

// Runs `layer` (float32 in, float32 h out) and rounds its h[count] once into `h`.
template <class Conv, class T, class Layer>
void rounded_once(T* h, std::int64_t count, Layer layer) {
  thread_local std::vector<float> hf;
  if (static_cast<std::int64_t>(hf.size()) < count) hf.resize(static_cast<std::size_t>(count));
  layer(hf.data());
  Conv::narrow(hf.data(), h, count);
}

using F32MinLayer = void (*)(const float*, const float*, const float*, const float*, float*,
                             std::int64_t, std::int64_t, std::int64_t, std::int64_t, ScanForm);
using F32Gru = void (*)(const float*, const float*, const float*, const float*, const float*,
                        float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t);
using F32Lstm = void (*)(const float*, const float*, const float*, const float*, const float*,
                         const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                         std::int64_t);

// A minimal layer (minGRU: 2 gate blocks, minLSTM: 3).
template <class Conv, class T>
void min_layer(F32MinLayer f32, int gates, const T* x, const T* w, const T* bias, const T* h0, T* h,
               std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D,
               ScanForm form) {
  rounded_once<Conv>(h, batch * steps * D, [&](float* hf) {
    f32(widened<Conv>(kX, x, batch * steps * d_in), widened<Conv>(kW, w, d_in * gates * D),
        widened<Conv>(kBias, bias, gates * D), widened<Conv>(kH0, h0, batch * D), hf, batch, steps,
        d_in, D, form);
  });
}

template <class Conv, class T>
void gru(F32Gru f32, const T* x, const T* w, const T* u, const T* bias, const T* h0, T* h,
         std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D) {
  rounded_once<Conv>(h, batch * steps * D, [&](float* hf) {
    f32(widened<Conv>(kX, x, batch * steps * d_in), widened<Conv>(kW, w, d_in * 3 * D),
        widened<Conv>(kU, u, D * 3 * D), widened<Conv>(kBias, bias, 3 * D),
        widened<Conv>(kH0, h0, batch * D), hf, batch, steps, d_in, D);
  });
}

template <class Conv, class T>
void lstm(F32Lstm f32, const T* x, const T* w, const T* u, const T* bias, const T* h0, const T* c0,
          T* h, std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D) {
  rounded_once<Conv>(h, batch * steps * D, [&](float* hf) {
    f32(widened<Conv>(kX, x, batch * steps * d_in), widened<Conv>(kW, w, d_in * 4 * D),
        widened<Conv>(kU, u, D * 4 * D), widened<Conv>(kBias, bias, 4 * D),
        widened<Conv>(kH0, h0, batch * D), widened<Conv>(kC0, c0, batch * D), hf, batch, steps,
        d_in, D);
  });
}

}  // namespace opbench::cpu::widened_layers

// The 16-bit minGRU, minLSTM, GRU and LSTM overloads of the namespace it is expanded in, through
// that namespace's float32 layers, converting with Conv.
#define OPBENCH_WIDENED_LAYERS(T, Conv)                                                           \
  void mingru(const T* x, const T* w, const T* bias, const T* h0, T* h, std::int64_t batch,       \
              std::int64_t steps, std::int64_t d_in, std::int64_t D, ScanForm form) {             \
    widened_layers::min_layer<Conv>(static_cast<widened_layers::F32MinLayer>(mingru), 2, x, w,    \
                                    bias, h0, h, batch, steps, d_in, D, form);                    \
  }                                                                                               \
  void minlstm(const T* x, const T* w, const T* bias, const T* h0, T* h, std::int64_t batch,      \
               std::int64_t steps, std::int64_t d_in, std::int64_t D, ScanForm form) {            \
    widened_layers::min_layer<Conv>(static_cast<widened_layers::F32MinLayer>(minlstm), 3, x, w,   \
                                    bias, h0, h, batch, steps, d_in, D, form);                    \
  }                                                                                               \
  void gru(const T* x, const T* w, const T* u, const T* bias, const T* h0, T* h,                  \
           std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D) {           \
    widened_layers::gru<Conv>(static_cast<widened_layers::F32Gru>(gru), x, w, u, bias, h0, h,     \
                              batch, steps, d_in, D);                                             \
  }                                                                                               \
  void lstm(const T* x, const T* w, const T* u, const T* bias, const T* h0, const T* c0, T* h,    \
            std::int64_t batch, std::int64_t steps, std::int64_t d_in, std::int64_t D) {          \
    widened_layers::lstm<Conv>(static_cast<widened_layers::F32Lstm>(lstm), x, w, u, bias, h0, c0, \
                               h, batch, steps, d_in, D);                                         \
  }
