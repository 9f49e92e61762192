// The `onednn` GRU training-step peer (contract and the gate mapping in onednn_rnn_train.hpp).
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

const char* const kOp = "gru_train";

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(std::string("onednn ") + kOp + ": " + what);
}

const Tensor& f32(const TensorMap& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end()) fail(std::string("missing tensor \"") + name + "\"");
  if (it->second.dtype() != DType::f32) fail(std::string("tensor \"") + name + "\" is not f32");
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

class GruTrainKernel final : public BoundKernel {
 public:
  GruTrainKernel(dnnl::engine eng, dnnl::primitive fwd, dnnl::primitive bwd,
                 std::unordered_map<int, memory> fwd_args, std::unordered_map<int, memory> bwd_args,
                 DiffWeights dw, DiffWeights du, memory dbias, std::vector<Tensor> keep,
                 std::int64_t d_in, std::int64_t D)
      : eng_(std::move(eng)),
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
        D_(D) {
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
      fail(std::string("executing the primitives: ") + e.what());
    }
    // The gradients of our z columns are those of oneDNN's negated ones, negated.
    const std::int64_t G = 3 * D_;
    negate_first_gate(static_cast<float*>(dw_.user.get_data_handle()), d_in_, G, D_);
    negate_first_gate(static_cast<float*>(du_.user.get_data_handle()), D_, G, D_);
    negate_first_gate(static_cast<float*>(dbias_.get_data_handle()), 1, G, D_);
  }

 private:
  dnnl::engine eng_;
  dnnl::stream stream_;
  dnnl::primitive fwd_, bwd_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
  DiffWeights dw_, du_;
  memory dbias_;
  dnnl::reorder dw_reorder_, du_reorder_;
  std::vector<Tensor> keep_;
  std::int64_t d_in_, D_;
};

std::unique_ptr<BoundKernel> bind(const TensorMap& in, TensorMap& out, const Params& p) {
  const memory::dim N = p.i("batch"), T = p.i("T"), I = p.i("d_in"), D = p.i("D"), G = 3;
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    const Tensor& x = f32(in, "x");
    const Tensor& h0 = f32(in, "h0");
    const Tensor& dh = f32(in, "dh");
    Tensor w = f32(in, "w").clone(), u = f32(in, "u").clone(), bias = f32(in, "bias").clone();
    negate_first_gate(w.data<float>(), I, G * D, D);
    negate_first_gate(u.data<float>(), D, G * D, D);
    negate_first_gate(bias.data<float>(), 1, G * D, D);
    Tensor& h = out.at("h");
    Tensor& dx = out.at("dx");
    Tensor& dw = out.at("dw");
    Tensor& du = out.at("du");
    Tensor& dbias = out.at("dbias");
    Tensor& dh0 = out.at("dh0");

    const rnn::LayerDescs md = rnn::layer_descs(T, N, I, D, G);
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;

    dnnl::gru_forward::desc fd(dnnl::prop_kind::forward_training, dir, md.src, md.iter,
                               md.weights_layer_any, md.weights_iter_any, md.bias, md.dst,
                               memory::desc());
    dnnl::gru_forward::primitive_desc fpd(fd, eng);
    dnnl::gru_backward::desc bd(dnnl::prop_kind::backward, dir, md.src, md.iter,
                                md.weights_layer_any, md.weights_iter_any, md.bias, md.dst,
                                memory::desc(), md.src, md.iter, md.weights_layer_any,
                                md.weights_iter_any, md.bias, md.dst, memory::desc());
    dnnl::gru_backward::primitive_desc bpd(bd, eng, fpd);

    memory workspace(fpd.workspace_desc(), eng);
    memory x_m = wrap(md.src, eng, x), h0_m = wrap(md.iter, eng, h0), h_m = wrap(md.dst, eng, h);
    memory bias_m = wrap(md.bias, eng, bias);

    std::unordered_map<int, memory> fa;
    fa[DNNL_ARG_SRC_LAYER] = x_m;
    fa[DNNL_ARG_SRC_ITER] = h0_m;
    fa[DNNL_ARG_WEIGHTS_LAYER] = reorder_to(fpd.weights_layer_desc(), md.weights_layer, eng, w);
    fa[DNNL_ARG_WEIGHTS_ITER] = reorder_to(fpd.weights_iter_desc(), md.weights_iter, eng, u);
    fa[DNNL_ARG_BIAS] = bias_m;
    fa[DNNL_ARG_DST_LAYER] = h_m;
    fa[DNNL_ARG_WORKSPACE] = workspace;

    DiffWeights dw_m = diff_weights(bpd.diff_weights_layer_desc(), md.weights_layer, eng, dw);
    DiffWeights du_m = diff_weights(bpd.diff_weights_iter_desc(), md.weights_iter, eng, du);
    if (!(bpd.diff_bias_desc() == md.bias))
      fail("the backward primitive wants another bias layout");
    memory dbias_m = wrap(md.bias, eng, dbias);

    std::unordered_map<int, memory> ba;
    ba[DNNL_ARG_SRC_LAYER] = x_m;
    ba[DNNL_ARG_SRC_ITER] = h0_m;
    ba[DNNL_ARG_WEIGHTS_LAYER] = reorder_to(bpd.weights_layer_desc(), md.weights_layer, eng, w);
    ba[DNNL_ARG_WEIGHTS_ITER] = reorder_to(bpd.weights_iter_desc(), md.weights_iter, eng, u);
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
    return std::make_unique<GruTrainKernel>(eng, dnnl::gru_forward(fpd), dnnl::gru_backward(bpd),
                                            std::move(fa), std::move(ba), std::move(dw_m),
                                            std::move(du_m), dbias_m, std::move(keep), I, D);
  } catch (const dnnl::error& e) {
    fail(std::string("setting up the primitives: ") + e.what());
  }
}

}  // namespace

BindFn bind_gru_train() {
  return bind;
}

}  // namespace opbench::onednn
