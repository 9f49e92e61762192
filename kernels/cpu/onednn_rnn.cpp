// The `onednn` GRU/LSTM peer (contract and the gate-semantics mapping in onednn_rnn.hpp).
#include "kernels/cpu/onednn_rnn.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/onednn_rnn_common.hpp"
#include "oneapi/dnnl/dnnl.hpp"

namespace opbench::onednn {
namespace {

using dnnl::memory;
using rnn::reorder_to;
using rnn::wrap;

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

// A copy of t (rows of gates * D columns) with the GRU's z columns negated.
Tensor negate_first_gate(const Tensor& t, std::int64_t D) {
  Tensor c = t.clone();
  const std::int64_t cols = t.shape().back();
  rnn::negate_first_gate(c.data<float>(), t.numel() / cols, cols, D);
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
    const rnn::LayerDescs md = rnn::layer_descs(T, N, I, D, G);
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;
    dnnl::primitive prim;
    memory::desc wl_md, wi_md;
    std::unordered_map<int, memory> args;
    std::vector<Tensor> keep = {x, w, u, bias, h0, h};
    if constexpr (kLstm) {
      const Tensor& c0 = f32(op, in, "c0");
      keep.push_back(c0);
      dnnl::lstm_forward::desc d(prop, dir, md.src, md.iter, md.iter, md.weights_layer_any,
                                 md.weights_iter_any, md.bias, md.dst, memory::desc(),
                                 memory::desc());
      dnnl::lstm_forward::primitive_desc pd(d, eng);
      prim = dnnl::lstm_forward(pd);
      wl_md = pd.weights_layer_desc();
      wi_md = pd.weights_iter_desc();
      args[DNNL_ARG_SRC_ITER_C] = wrap(md.iter, eng, c0);
    } else {
      dnnl::gru_forward::desc d(prop, dir, md.src, md.iter, md.weights_layer_any,
                                md.weights_iter_any, md.bias, md.dst, memory::desc());
      dnnl::gru_forward::primitive_desc pd(d, eng);
      prim = dnnl::gru_forward(pd);
      wl_md = pd.weights_layer_desc();
      wi_md = pd.weights_iter_desc();
    }
    args[DNNL_ARG_SRC_LAYER] = wrap(md.src, eng, x);
    args[DNNL_ARG_SRC_ITER] = wrap(md.iter, eng, h0);
    args[DNNL_ARG_WEIGHTS_LAYER] = reorder_to(wl_md, md.weights_layer, eng, w);
    args[DNNL_ARG_WEIGHTS_ITER] = reorder_to(wi_md, md.weights_iter, eng, u);
    args[DNNL_ARG_BIAS] = wrap(md.bias, eng, bias);
    args[DNNL_ARG_DST_LAYER] = wrap(md.dst, eng, h);
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
