#pragma once
// What the two oneDNN RNN peers share (onednn_rnn.cpp: GRU/LSTM inference; onednn_rnn_train.cpp:
// the GRU's training step): the memory descriptors of one unidirectional layer in our layouts,
// a tensor wrapped as oneDNN memory without a copy, weights reordered into a primitive's layout,
// and the GRU's z gate negated (ours is z, oneDNN's is u = 1 - z). Only those two files include
// it (oneDNN 2.x).
#include <cstdint>

#include "harness/tensor.hpp"
#include "oneapi/dnnl/dnnl.hpp"

namespace opbench::onednn::rnn {

using dnnl::memory;

// x[batch, T, d_in] is oneDNN's ntc, h0[batch, D] one layer and direction of ldnc, the weights
// [in, gates * D] ldigo (the primitive picks its own layout: the `_any` ones), bias [gates * D]
// ldgo, h[batch, T, D] ntc.
struct LayerDescs {
  memory::desc src, iter, weights_layer, weights_iter, weights_layer_any, weights_iter_any, bias,
      dst;
};

inline LayerDescs layer_descs(memory::dim T, memory::dim N, memory::dim I, memory::dim D,
                              memory::dim gates) {
  using dt = memory::data_type;
  using tag = memory::format_tag;
  return {memory::desc({T, N, I}, dt::f32, tag::ntc),
          memory::desc({1, 1, N, D}, dt::f32, tag::ldnc),
          memory::desc({1, 1, I, gates, D}, dt::f32, tag::ldigo),
          memory::desc({1, 1, D, gates, D}, dt::f32, tag::ldigo),
          memory::desc({1, 1, I, gates, D}, dt::f32, tag::any),
          memory::desc({1, 1, D, gates, D}, dt::f32, tag::any),
          memory::desc({1, 1, gates, D}, dt::f32, tag::ldgo),
          memory::desc({T, N, D}, dt::f32, tag::ntc)};
}

// A user buffer as oneDNN memory (no copy).
inline memory wrap(const memory::desc& md, const dnnl::engine& eng, const Tensor& t) {
  return memory(md, eng, const_cast<void*>(t.raw()));
}

// Weights in our layout `user_md` reordered into the layout `want`, once, at bind time.
inline memory reorder_to(const memory::desc& want, const memory::desc& user_md,
                         const dnnl::engine& eng, const Tensor& t) {
  memory user = wrap(user_md, eng, t);
  memory own(want, eng);
  dnnl::stream s(eng);
  dnnl::reorder(user, own).execute(s, user, own);
  s.wait();
  return own;
}

// rows of gates * D columns (`cols`): negates the first D of each row, the GRU's z columns.
inline void negate_first_gate(float* p, std::int64_t rows, std::int64_t cols, std::int64_t D) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < D; ++j) p[r * cols + j] = -p[r * cols + j];
  }
}

}  // namespace opbench::onednn::rnn
