// The `onednn` GRU and LSTM training-step peers (contract and the gate mappings in
// onednn_rnn_train.hpp).
#include "kernels/cpu/onednn_rnn_train.hpp"

#include <cstring>
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
using rnn::negate_first_gate;
using rnn::reorder_to;
using rnn::wrap;

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw std::runtime_error(std::string("onednn ") + op + ": " + what);
}

const Tensor& f32(const char* op, const TensorMap& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end()) fail(op, std::string("missing tensor \"") + name + "\"");
  if (it->second.dtype() != DType::f32) {
    fail(op, std::string("tensor \"") + name + "\" is not f32");
  }
  return it->second;
}

// A diff-weights memory in the primitive's layout and, where that is not ours, the reorder into
// the output tensor (wrapped in our ldigo layout).
struct DiffWeights {
  memory prim;  // what the primitive writes (and accumulates into)
  memory user;  // the output tensor
  bool needs_reorder = false;
};

DiffWeights diff_weights(const memory::desc& want, const memory::desc& user_md,
                         const dnnl::engine& eng, Tensor& out) {
  DiffWeights d;
  d.user = wrap(user_md, eng, out);
  d.needs_reorder = !(want == user_md);
  d.prim = d.needs_reorder ? memory(want, eng) : d.user;
  return d;
}

void zero(const memory& m) {
  std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
}

// One training step: zero the diff weights and bias (oneDNN accumulates into them), forward,
// backward, the diff weights reordered into our layout; for the GRU, the z columns' gradients
// negated back (`negate_first`).
class TrainKernel final : public BoundKernel {
 public:
  TrainKernel(const char* op, dnnl::engine eng, dnnl::primitive fwd, dnnl::primitive bwd,
              std::unordered_map<int, memory> fwd_args, std::unordered_map<int, memory> bwd_args,
              DiffWeights dw, DiffWeights du, memory dbias, std::vector<Tensor> keep,
              std::int64_t d_in, std::int64_t D, std::int64_t gates, bool negate_first)
      : op_(op),
        eng_(std::move(eng)),
        stream_(eng_),
        fwd_(std::move(fwd)),
        bwd_(std::move(bwd)),
        fwd_args_(std::move(fwd_args)),
        bwd_args_(std::move(bwd_args)),
        dw_(std::move(dw)),
        du_(std::move(du)),
        dbias_(std::move(dbias)),
        keep_(std::move(keep)),
        d_in_(d_in),
        D_(D),
        gates_(gates),
        negate_first_(negate_first) {
    if (dw_.needs_reorder) dw_reorder_ = dnnl::reorder(dw_.prim, dw_.user);
    if (du_.needs_reorder) du_reorder_ = dnnl::reorder(du_.prim, du_.user);
  }

  void run() override {
    try {
      // oneDNN accumulates into the diff weights and bias: a training step starts them at 0.
      zero(dw_.prim);
      zero(du_.prim);
      zero(dbias_);
      fwd_.execute(stream_, fwd_args_);
      bwd_.execute(stream_, bwd_args_);
      if (dw_.needs_reorder) dw_reorder_.execute(stream_, dw_.prim, dw_.user);
      if (du_.needs_reorder) du_reorder_.execute(stream_, du_.prim, du_.user);
      stream_.wait();
    } catch (const dnnl::error& e) {
      fail(op_, std::string("executing the primitives: ") + e.what());
    }
    if (!negate_first_) return;
    // The gradients of our z columns are those of oneDNN's negated ones, negated.
    const std::int64_t G = gates_ * D_;
    negate_first_gate(static_cast<float*>(dw_.user.get_data_handle()), d_in_, G, D_);
    negate_first_gate(static_cast<float*>(du_.user.get_data_handle()), D_, G, D_);
    negate_first_gate(static_cast<float*>(dbias_.get_data_handle()), 1, G, D_);
  }

 private:
  const char* op_;
  dnnl::engine eng_;
  dnnl::stream stream_;
  dnnl::primitive fwd_, bwd_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
  DiffWeights dw_, du_;
  memory dbias_;
  dnnl::reorder dw_reorder_, du_reorder_;
  std::vector<Tensor> keep_;
  std::int64_t d_in_, D_, gates_;
  bool negate_first_;
};

// A forward_training and a backward primitive of one cell kind, and the layouts they chose.
struct TrainPrimitives {
  dnnl::primitive fwd, bwd;
  memory::desc workspace, fwd_wl, fwd_wi, bwd_wl, bwd_wi, diff_wl, diff_wi, diff_bias;
};

template <class Fwd, class Bwd>
TrainPrimitives collect(const typename Fwd::primitive_desc& fpd,
                        const typename Bwd::primitive_desc& bpd) {
  return {Fwd(fpd),
          Bwd(bpd),
          fpd.workspace_desc(),
          fpd.weights_layer_desc(),
          fpd.weights_iter_desc(),
          bpd.weights_layer_desc(),
          bpd.weights_iter_desc(),
          bpd.diff_weights_layer_desc(),
          bpd.diff_weights_iter_desc(),
          bpd.diff_bias_desc()};
}

const auto kDir = dnnl::rnn_direction::unidirectional_left2right;

TrainPrimitives gru_primitives(const rnn::LayerDescs& md, const dnnl::engine& eng) {
  const memory::desc none;
  dnnl::gru_forward::desc fd(dnnl::prop_kind::forward_training, kDir, md.src, md.iter,
                             md.weights_layer_any, md.weights_iter_any, md.bias, md.dst, none);
  dnnl::gru_forward::primitive_desc fpd(fd, eng);
  dnnl::gru_backward::desc bd(dnnl::prop_kind::backward, kDir, md.src, md.iter,
                              md.weights_layer_any, md.weights_iter_any, md.bias, md.dst, none,
                              md.src, md.iter, md.weights_layer_any, md.weights_iter_any, md.bias,
                              md.dst, none);
  dnnl::gru_backward::primitive_desc bpd(bd, eng, fpd);
  return collect<dnnl::gru_forward, dnnl::gru_backward>(fpd, bpd);
}

// No peepholes, no projection; c0 and dc0 as ldnc like h0 (no final states: dL/dh_T and dL/dc_T
// enter only through dh).
TrainPrimitives lstm_primitives(const rnn::LayerDescs& md, const dnnl::engine& eng) {
  const memory::desc none;
  dnnl::lstm_forward::desc fd(dnnl::prop_kind::forward_training, kDir, md.src, md.iter, md.iter,
                              md.weights_layer_any, md.weights_iter_any, md.bias, md.dst, none,
                              none);
  dnnl::lstm_forward::primitive_desc fpd(fd, eng);
  dnnl::lstm_backward::desc bd(dnnl::prop_kind::backward, kDir, md.src, md.iter, md.iter,
                               md.weights_layer_any, md.weights_iter_any, md.bias, md.dst, none,
                               none, md.src, md.iter, md.iter, md.weights_layer_any,
                               md.weights_iter_any, md.bias, md.dst, none, none);
  dnnl::lstm_backward::primitive_desc bpd(bd, eng, fpd);
  return collect<dnnl::lstm_forward, dnnl::lstm_backward>(fpd, bpd);
}

// The GRU (gates 3, z columns negated) or the LSTM (gates 4, with c0 -> dc0).
template <bool kLstm>
std::unique_ptr<BoundKernel> bind(const TensorMap& in, TensorMap& out, const Params& p) {
  const char* op = kLstm ? "lstm_train" : "gru_train";
  const memory::dim N = p.i("batch"), T = p.i("T"), I = p.i("d_in"), D = p.i("D");
  const memory::dim G = kLstm ? 4 : 3;
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    const Tensor& x = f32(op, in, "x");
    const Tensor& h0 = f32(op, in, "h0");
    const Tensor& dh = f32(op, in, "dh");
    Tensor w = f32(op, in, "w"), u = f32(op, in, "u"), bias = f32(op, in, "bias");
    if (!kLstm) {
      // oneDNN's u gate is our 1 - z (onednn_rnn.hpp): negated copies, bound once.
      w = w.clone();
      u = u.clone();
      bias = bias.clone();
      negate_first_gate(w.data<float>(), I, G * D, D);
      negate_first_gate(u.data<float>(), D, G * D, D);
      negate_first_gate(bias.data<float>(), 1, G * D, D);
    }
    Tensor& h = out.at("h");
    Tensor& dx = out.at("dx");
    Tensor& dw = out.at("dw");
    Tensor& du = out.at("du");
    Tensor& dbias = out.at("dbias");
    Tensor& dh0 = out.at("dh0");

    const rnn::LayerDescs md = rnn::layer_descs(T, N, I, D, G);
    const TrainPrimitives pr = kLstm ? lstm_primitives(md, eng) : gru_primitives(md, eng);

    memory workspace(pr.workspace, eng);
    memory x_m = wrap(md.src, eng, x), h0_m = wrap(md.iter, eng, h0), h_m = wrap(md.dst, eng, h);
    memory bias_m = wrap(md.bias, eng, bias);

    std::unordered_map<int, memory> fa;
    fa[DNNL_ARG_SRC_LAYER] = x_m;
    fa[DNNL_ARG_SRC_ITER] = h0_m;
    fa[DNNL_ARG_WEIGHTS_LAYER] = reorder_to(pr.fwd_wl, md.weights_layer, eng, w);
    fa[DNNL_ARG_WEIGHTS_ITER] = reorder_to(pr.fwd_wi, md.weights_iter, eng, u);
    fa[DNNL_ARG_BIAS] = bias_m;
    fa[DNNL_ARG_DST_LAYER] = h_m;
    fa[DNNL_ARG_WORKSPACE] = workspace;

    DiffWeights dw_m = diff_weights(pr.diff_wl, md.weights_layer, eng, dw);
    DiffWeights du_m = diff_weights(pr.diff_wi, md.weights_iter, eng, du);
    if (!(pr.diff_bias == md.bias)) fail(op, "the backward primitive wants another bias layout");
    memory dbias_m = wrap(md.bias, eng, dbias);

    std::unordered_map<int, memory> ba;
    ba[DNNL_ARG_SRC_LAYER] = x_m;
    ba[DNNL_ARG_SRC_ITER] = h0_m;
    ba[DNNL_ARG_WEIGHTS_LAYER] = reorder_to(pr.bwd_wl, md.weights_layer, eng, w);
    ba[DNNL_ARG_WEIGHTS_ITER] = reorder_to(pr.bwd_wi, md.weights_iter, eng, u);
    ba[DNNL_ARG_BIAS] = bias_m;
    ba[DNNL_ARG_DST_LAYER] = h_m;
    ba[DNNL_ARG_WORKSPACE] = workspace;
    ba[DNNL_ARG_DIFF_DST_LAYER] = wrap(md.dst, eng, dh);
    ba[DNNL_ARG_DIFF_SRC_LAYER] = wrap(md.src, eng, dx);
    ba[DNNL_ARG_DIFF_SRC_ITER] = wrap(md.iter, eng, dh0);
    ba[DNNL_ARG_DIFF_WEIGHTS_LAYER] = dw_m.prim;
    ba[DNNL_ARG_DIFF_WEIGHTS_ITER] = du_m.prim;
    ba[DNNL_ARG_DIFF_BIAS] = dbias_m;

    std::vector<Tensor> keep = {x, w, u, bias, h0, dh, h, dx, dw, du, dbias, dh0};
    if constexpr (kLstm) {
      const Tensor& c0 = f32(op, in, "c0");
      Tensor& dc0 = out.at("dc0");
      memory c0_m = wrap(md.iter, eng, c0);
      fa[DNNL_ARG_SRC_ITER_C] = c0_m;
      ba[DNNL_ARG_SRC_ITER_C] = c0_m;
      ba[DNNL_ARG_DIFF_SRC_ITER_C] = wrap(md.iter, eng, dc0);
      keep.push_back(c0);
      keep.push_back(dc0);
    }
    return std::make_unique<TrainKernel>(op, eng, pr.fwd, pr.bwd, std::move(fa), std::move(ba),
                                         std::move(dw_m), std::move(du_m), dbias_m, std::move(keep),
                                         I, D, G, !kLstm);
  } catch (const dnnl::error& e) {
    fail(op, std::string("setting up the primitives: ") + e.what());
  }
}

}  // namespace

BindFn bind_gru_train() {
  return bind<false>;
}

BindFn bind_lstm_train() {
  return bind<true>;
}

}  // namespace opbench::onednn
