// The scan family's training steps (mode fwd_bwd): `mingru_train`, `gru_train`, `minlstm_train`
// and `lstm_train`, a whole forward plus backward pass of a recurrent layer timed as one: Feng et
// al. 2024's headline claim (minGRU's training step "175x faster for a sequence of length 512"
// than the GRU's, on a GPU; minLSTM against the LSTM likewise).
//
// Each op takes the forward op's inputs and the incoming gradient dh = dL/dh[batch, T, D]
// (N(0, 1)) and returns h and the gradient of every input; it saves nothing, as it runs its own
// forward pass. Its float64 reference (reference/scan_train.hpp) is proven against central finite
// differences of the forward op's reference (harness/gradient_check.hpp). The tensors' scenarios
// (`dist`: normal, large_x) and distributions, and the agreement rule of h, are the forward op's,
// taken over from its registration, so the two cannot drift apart.
//
// minGRU and minLSTM have one form here, the plain linear recurrence: the log-space form (the
// forward op's `form=log`) computes the same h, and its backward through Heinsen's logcumsumexp is
// the same function's gradient; a training step's cost is the projections' GEMMs either way, and
// the form only changes how the scans round. The plain form is the one whose error rule is derived
// below.
//
// Implementations: ref, cpu.plain, cpu.fast (kernels/cpu/scan_train.hpp), oneDNN's
// vanilla_gru and vanilla_lstm forward_training + backward as the GRU's and the LSTM's peers
// (kernels/cpu/onednn_rnn_train.hpp), and PyTorch's autograd (`torch`, with libtorch): the
// paper's log-space minGRU/minLSTM code and nn.LSTM, forward then backward().
// float32 only: the 16-bit training step (mixed precision with float32 master weights) is not
// declared yet.
//
// Agreement: h by the forward op's rule, every gradient element by its own bound
// (suites/scan_train_bounds.cpp derives the error model).
#include "suites/scan_train.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/scan_train.hpp"
#include "reference/scalar_math.hpp"
#include "reference/scan.hpp"
#include "reference/scan_train.hpp"
#include "suites/common.hpp"
#include "suites/scan_agreement.hpp"
#include "suites/scan_train_bounds.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_rnn_train.hpp"
#endif

namespace opbench {
namespace {

using namespace suite;
using namespace scan_train;
constexpr double kU = scan::kUnitRoundoff;

std::size_t sz(std::int64_t n) {
  return static_cast<std::size_t>(n);
}

// --- the ops ----------------------------------------------------------------------------------

// The forward op's axes without `form`, with this op's own quick and full values (the forward's:
// the quick sweep's case is the forward op's quick case).
std::vector<Axis> train_axes(const Op& fwd) {
  std::vector<Axis> axes = {
      int_axis("batch", {"2"}, {"8"}, "independent sequences"),
      int_axis("T", {"256"}, {"64", "512", "4096"}, "sequence length"),
      int_axis("d_in", {"128"}, {"512"}, "input features"),
      int_axis("D", {"128"}, {"512"}, "hidden units"),
  };
  axes.push_back(*fwd.find_axis("dist"));
  return axes;
}

// What sets one training step apart: its name and description, its gates, whether the layer
// has a recurrent weight U (du) and a cell state c0 (dc0), its bound rule and flop count.
struct TrainDecl {
  const char* name;
  const char* title;
  const char* paper;
  int gates;
  bool recurrent, cell;
  BoundCache::Make bounds;
  std::function<double(const Params&)> flops;
};

Op make_train_op(const Op& fwd, const TrainDecl& decl) {
  Op op;
  op.suite = "scan";
  op.name = decl.name;
  op.title = decl.title;
  op.paper = decl.paper;
  op.mode = Mode::fwd_bwd;
  op.axes = train_axes(fwd);
  op.derived["GD"] = [gates = decl.gates](const Params& p) { return gates * p.i("D"); };
  // The forward's inputs (same names, shapes and distributions), the incoming gradient, then h
  // and the gradients.
  for (const TensorDecl& t : fwd.tensors) {
    if (!t.output) op.tensors.push_back(t);
  }
  op.tensors.push_back(in("dh", {"batch", "T", "D"}, "normal(0,1)"));
  op.tensors.push_back(out("h", {"batch", "T", "D"}));
  op.tensors.push_back(out("dx", {"batch", "T", "d_in"}));
  op.tensors.push_back(out("dw", {"d_in", "GD"}));
  if (decl.recurrent) op.tensors.push_back(out("du", {"D", "GD"}));
  op.tensors.push_back(out("dbias", {"GD"}));
  op.tensors.push_back(out("dh0", {"batch", "D"}));
  if (decl.cell) op.tensors.push_back(out("dc0", {"batch", "D"}));
  op.input_dist = fwd.input_dist;
  op.dtypes = {DType::f32};
  op.tolerance = [](DType) { return Tolerance{0, kU}; };  // the base; op.compare is the rule
  op.cost = [shape_helper = op, flops = decl.flops](const Params& p, DType dt) {
    return Cost{flops(p), tensor_bytes(shape_helper, p, dt)};
  };
  GradientOf g;
  g.forward = fwd.name;
  for (const TensorDecl& t : fwd.tensors) {
    if (!t.output) g.same[t.name] = t.name;
  }
  g.incoming = {{"dh", "h"}};
  g.gradients = {{"dx", "x"}, {"dw", "w"}, {"dbias", "bias"}, {"dh0", "h0"}};
  std::vector<const char*> names = {"dx", "dw", "dbias", "dh0"};
  if (decl.recurrent) {
    g.gradients["du"] = "u";
    names.push_back("du");
  }
  if (decl.cell) {
    g.gradients["dc0"] = "c0";
    names.push_back("dc0");
  }
  g.check_point = {{"batch", "2"}, {"T", "9"}, {"d_in", "5"}, {"D", "4"}, {"dist", "normal"}};
  op.gradient = std::move(g);
  // h by the forward op's rule; every gradient by its bound (the header).
  auto cache = std::make_shared<BoundCache>(decl.bounds);
  op.compare = [forward = fwd.compare, cache, names](const TensorMap& i, const TensorMap& o,
                                                     const TensorMap& r, const Params& p,
                                                     Tolerance tol) {
    Agreement total = forward(i, o, r, p, tol);
    const std::shared_ptr<const Bounds> b = cache->get(i, p);
    for (const char* n : names) {
      merge_agreement(total, scan::compare_within(n, o.at(n), r.at(n), b->at(n)));
    }
    return total;
  };
  return op;
}

double rows_of(const Params& p) {
  return static_cast<double>(p.i("batch") * p.i("T"));
}

const Op& forward_op(const Registry& reg, const char* train, const char* fwd) {
  const Op* op = reg.find_op(std::string("scan/") + fwd);
  if (!op) {
    throw std::logic_error(std::string(train) + ": its forward op scan/" + fwd +
                           " is not registered");
  }
  return *op;
}

using MinKernel = void (*)(const float*, const float*, const float*, const float*, const float*,
                           float*, float*, float*, float*, float*, std::int64_t, std::int64_t,
                           std::int64_t, std::int64_t);

// minGRU (gates 2) and minLSTM (gates 3): x, w, bias, h0, dh -> h, dx, dw, dbias, dh0. `Ref` is
// the reference's function (its tape argument left out).
template <class Ref>
void register_min_train(Registry& reg, const TrainDecl& decl, const char* fwd, Ref reference,
                        MinKernel plain, MinKernel fast) {
  Op op = make_train_op(forward_op(reg, decl.name, fwd), decl);
  op.reference = [reference](const TensorMap& i, TensorMap& o, const Params& p) {
    reference(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("bias")).p(), F64(i.at("h0")).p(),
              F64(i.at("dh")).p(), out64(o, "h"), out64(o, "dx"), out64(o, "dw"), out64(o, "dbias"),
              out64(o, "dh0"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"), nullptr);
  };
  auto call = [](MinKernel fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), in32(i, "w"), in32(i, "bias"), in32(i, "h0"), in32(i, "dh"), out32(o, "h"),
         out32(o, "dx"), out32(o, "dw"), out32(o, "dbias"), out32(o, "dh0"), p.i("batch"), p.i("T"),
         p.i("d_in"), p.i("D"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(plain)));
  op.impls.push_back(host_impl("cpu.fast", call(fast)));
#ifdef OPBENCH_HAVE_TORCH
  // The paper's own log-space PyTorch code, recorded by autograd
  // (kernels/cpu/torch_plugin_scan.cpp).
  op.impls.push_back(torch_impl(decl.name, {DType::f32}));
#endif
  reg.add_op(std::move(op));
}

// The projection's GEMMs (x W forward, dx and dW backward) and the elementwise work per row and
// channel of the minimal layers.
std::function<double(const Params&)> min_train_flops(int gates, double per_element) {
  return [gates, per_element](const Params& p) {
    const double gemm = 2 * rows_of(p) * static_cast<double>(p.i("d_in") * gates * p.i("D"));
    return 3 * gemm + per_element * rows_of(p) * static_cast<double>(p.i("D"));
  };
}

// The recurrent layers: x W and h U forward; dx, dW and d(h), dU backward; the gates.
std::function<double(const Params&)> rnn_train_flops(int gates, double per_element) {
  return [gates, per_element](const Params& p) {
    const double fan = static_cast<double>(p.i("d_in") + p.i("D"));
    const double gemm = 2 * rows_of(p) * fan * gates * static_cast<double>(p.i("D"));
    return 3 * gemm + per_element * rows_of(p) * static_cast<double>(p.i("D"));
  };
}

void register_gru_train(Registry& reg) {
  const TrainDecl decl{
      "gru_train",
      "GRU training step: forward + backpropagation through time (dx, dW, dU, dbias, dh0)",
      "Feng et al. 2024 §2.1.2 (Cho et al. 2014), differentiated (reference/scan_train.hpp)",
      3,
      true,
      false,
      gru_bounds,
      rnn_train_flops(3, 40)};
  Op op = make_train_op(forward_op(reg, decl.name, "gru"), decl);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::gru_train(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("u")).p(),
                   F64(i.at("bias")).p(), F64(i.at("h0")).p(), F64(i.at("dh")).p(), out64(o, "h"),
                   out64(o, "dx"), out64(o, "dw"), out64(o, "du"), out64(o, "dbias"),
                   out64(o, "dh0"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), in32(i, "w"), in32(i, "u"), in32(i, "bias"), in32(i, "h0"), in32(i, "dh"),
         out32(o, "h"), out32(o, "dx"), out32(o, "dw"), out32(o, "du"), out32(o, "dbias"),
         out32(o, "dh0"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(cpu::plain::gru_train)));
  op.impls.push_back(host_impl("cpu.fast", call(cpu::fast::gru_train)));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(peer_impl("onednn", onednn::bind_gru_train()));
#endif
  reg.add_op(std::move(op));
}

void register_lstm_train(Registry& reg) {
  const TrainDecl decl{
      "lstm_train",
      "LSTM training step: forward + backpropagation through time (dx, dW, dU, dbias, dh0, dc0)",
      "Feng et al. 2024 §2.1.1 (Hochreiter & Schmidhuber 1997), differentiated "
      "(reference/scan_train.hpp)",
      4,
      true,
      true,
      lstm_bounds,
      rnn_train_flops(4, 50)};
  Op op = make_train_op(forward_op(reg, decl.name, "lstm"), decl);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::lstm_train(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("u")).p(),
                    F64(i.at("bias")).p(), F64(i.at("h0")).p(), F64(i.at("c0")).p(),
                    F64(i.at("dh")).p(), out64(o, "h"), out64(o, "dx"), out64(o, "dw"),
                    out64(o, "du"), out64(o, "dbias"), out64(o, "dh0"), out64(o, "dc0"),
                    p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "x"), in32(i, "w"), in32(i, "u"), in32(i, "bias"), in32(i, "h0"), in32(i, "c0"),
         in32(i, "dh"), out32(o, "h"), out32(o, "dx"), out32(o, "dw"), out32(o, "du"),
         out32(o, "dbias"), out32(o, "dh0"), out32(o, "dc0"), p.i("batch"), p.i("T"), p.i("d_in"),
         p.i("D"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(cpu::plain::lstm_train)));
  op.impls.push_back(host_impl("cpu.fast", call(cpu::fast::lstm_train)));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(peer_impl("onednn", onednn::bind_lstm_train()));
#endif
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl(decl.name, {DType::f32}));  // nn.LSTM's training step
#endif
  reg.add_op(std::move(op));
}

}  // namespace

void register_scan_train_ops(Registry& reg) {
  register_min_train(
      reg,
      {"mingru_train",
       "minGRU training step: forward (x W, the scan) + backward (reverse scan, dx, dW, dbias, "
       "dh0)",
       "Feng et al. 2024 §3.1.2, differentiated (reference/scan_train.hpp); the paper's training "
       "speed-up",
       2, false, false, mingru_bounds, min_train_flops(2, 30)},
      "mingru", ref::mingru_train, cpu::plain::mingru_train, cpu::fast::mingru_train);
  register_gru_train(reg);
  register_min_train(
      reg,
      {"minlstm_train",
       "minLSTM training step: forward (x W, the scan) + backward (reverse scan, dx, dW, dbias, "
       "dh0)",
       "Feng et al. 2024 §3.2.3, differentiated (reference/scan_train.hpp)", 3, false, false,
       minlstm_bounds, min_train_flops(3, 45)},
      "minlstm", ref::minlstm_train, cpu::plain::minlstm_train, cpu::fast::minlstm_train);
  register_lstm_train(reg);
}

}  // namespace opbench
