// The `onednn` GRU/LSTM peer (contract and the gate-semantics mapping in onednn_rnn.hpp).
#include "kernels/cpu/onednn_rnn.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace opbench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

class RnnKernel final : public BoundKernel {
 public:
  RnnKernel(std::string op, dnnl::engine eng, dnnl::primitive prim,
            std::unordered_map<int, memory> args, std::vector<Tensor> keep)
      : op_(std::move(op)),
        eng_(std::move(eng)),
        stream_(eng_),
        prim_(std::move(prim)),
        args_(std::move(args)),
        keep_(std::move(keep)) {}
  void run() override {
    try {
      prim_.execute(stream_, args_);
      stream_.wait();
    } catch (const dnnl::error& e) {
      throw std::runtime_error("onednn " + op_ + ": executing the primitive: " + e.what());
    }
  }

 private:
  std::string op_;
  dnnl::engine eng_;
  dnnl::stream stream_;
  dnnl::primitive prim_;
  std::unordered_map<int, memory> args_;
  std::vector<Tensor> keep_;
};

const Tensor& f32(const std::string& op, const TensorMap& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end()) throw std::runtime_error("onednn " + op + ": missing tensor \"" + name + "\"");
  if (it->second.dtype() != DType::f32) {
    throw std::runtime_error("onednn " + op + ": tensor \"" + name + "\" is not f32");
  }
  return it->second;
}

// A user buffer as oneDNN memory (no copy).
memory wrap(const memory::desc& md, const dnnl::engine& eng, const Tensor& t) {
  return memory(md, eng, const_cast<void*>(t.raw()));
}

// Weights [in, gates * D] (ldigo) reordered into the primitive's layout, once.
memory reorder_to(const memory::desc& want, const memory::desc& user_md, const dnnl::engine& eng,
                  const Tensor& t) {
  memory user = wrap(user_md, eng, t);
  memory own(want, eng);
  dnnl::stream s(eng);
  dnnl::reorder(user, own).execute(s, user, own);
  s.wait();
  return own;
}

// gates * D columns per row; negates the first D of each row (GRU's z -> oneDNN's u = 1 - z).
Tensor negate_first_gate(const Tensor& t, std::int64_t D) {
  Tensor c = t.clone();
  float* p = c.data<float>();
  const std::int64_t cols = t.shape().back(), rows = t.numel() / cols;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < D; ++j) p[r * cols + j] = -p[r * cols + j];
  }
  return c;
}

template <bool kLstm>
std::unique_ptr<BoundKernel> bind_rnn(const TensorMap& in, TensorMap& out, const Params& p) {
  const std::string op = kLstm ? "lstm" : "gru";
  const memory::dim N = p.i("batch"), T = p.i("T"), I = p.i("d_in"), D = p.i("D");
  const memory::dim G = kLstm ? 4 : 3;
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    const Tensor& x = f32(op, in, "x");
    Tensor w = f32(op, in, "w"), u = f32(op, in, "u"), bias = f32(op, in, "bias");
    if (!kLstm) {
      w = negate_first_gate(w, D);
      u = negate_first_gate(u, D);
      bias = negate_first_gate(bias, D);
    }
    const Tensor& h0 = f32(op, in, "h0");
    Tensor& h = out.at("h");
    const memory::desc src_md({T, N, I}, dt::f32, tag::ntc);
    const memory::desc iter_md({1, 1, N, D}, dt::f32, tag::ldnc);
    const memory::desc wl_user({1, 1, I, G, D}, dt::f32, tag::ldigo);
    const memory::desc wi_user({1, 1, D, G, D}, dt::f32, tag::ldigo);
    const memory::desc wl_any({1, 1, I, G, D}, dt::f32, tag::any);
    const memory::desc wi_any({1, 1, D, G, D}, dt::f32, tag::any);
    const memory::desc bias_md({1, 1, G, D}, dt::f32, tag::ldgo);
    const memory::desc dst_md({T, N, D}, dt::f32, tag::ntc);
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;
    dnnl::primitive prim;
    memory::desc wl_md, wi_md;
    std::unordered_map<int, memory> args;
    std::vector<Tensor> keep = {x, w, u, bias, h0, h};
    if constexpr (kLstm) {
      const Tensor& c0 = f32(op, in, "c0");
      keep.push_back(c0);
      dnnl::lstm_forward::desc d(prop, dir, src_md, iter_md, iter_md, wl_any, wi_any, bias_md,
                                 dst_md, memory::desc(), memory::desc());
      dnnl::lstm_forward::primitive_desc pd(d, eng);
      prim = dnnl::lstm_forward(pd);
      wl_md = pd.weights_layer_desc();
      wi_md = pd.weights_iter_desc();
      args[DNNL_ARG_SRC_ITER_C] = wrap(iter_md, eng, c0);
    } else {
      dnnl::gru_forward::desc d(prop, dir, src_md, iter_md, wl_any, wi_any, bias_md, dst_md,
                                memory::desc());
      dnnl::gru_forward::primitive_desc pd(d, eng);
      prim = dnnl::gru_forward(pd);
      wl_md = pd.weights_layer_desc();
      wi_md = pd.weights_iter_desc();
    }
    args[DNNL_ARG_SRC_LAYER] = wrap(src_md, eng, x);
    args[DNNL_ARG_SRC_ITER] = wrap(iter_md, eng, h0);
    args[DNNL_ARG_WEIGHTS_LAYER] = reorder_to(wl_md, wl_user, eng, w);
    args[DNNL_ARG_WEIGHTS_ITER] = reorder_to(wi_md, wi_user, eng, u);
    args[DNNL_ARG_BIAS] = wrap(bias_md, eng, bias);
    args[DNNL_ARG_DST_LAYER] = wrap(dst_md, eng, h);
    return std::make_unique<RnnKernel>(op, eng, prim, std::move(args), std::move(keep));
  } catch (const dnnl::error& e) {
    throw std::runtime_error("onednn " + op + ": setting up the primitive: " + e.what());
  }
}

}  // namespace

BindFn bind_gru() {
  return bind_rnn<false>;
}
BindFn bind_lstm() {
  return bind_rnn<true>;
}

}  // namespace opbench::onednn
