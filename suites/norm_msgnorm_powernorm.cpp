// MsgNorm (DeeperGCN's message normalization) and PowerNorm (training step and inference) of the
// normalization family: tensors, axes, cost, tolerance, the float64 references of
// reference/norm_msgnorm_powernorm.hpp and the cpu.plain / cpu.fast kernels in every dtype.
// oneDNN and PyTorch 1.13 have neither op, so there are no peers.
#include "kernels/cpu/norm_msgnorm_powernorm.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "reference/norm_msgnorm_powernorm.hpp"
#include "suites/common.hpp"
#include "suites/norm_common.hpp"
#include "suites/norm_papers.hpp"

namespace opbench {

namespace {

using namespace suite;
using namespace suite::norm;

#define OVERLOADS OPBENCH_OVERLOADS

// F.normalize's default eps: the floor on ||m|| in the authors' MsgNorm (the reference says why
// we follow the code there).
constexpr double kMsgNormFloor = 1e-12;
// MaskPowerNorm's alpha_fwd default: the weight of the previous running statistic.
constexpr double kPowerAlpha = 0.9;

// MsgNorm's zero-norm scenario: x and m drawn as `normal`, then whole rows set to zero
// (prepare_zero_rows), where ||m|| = 0 meets the code's floor and ||x|| = 0 scales the message
// to nothing. Every implementation must give the reference's defined result, y = x, there.

TensorDecl out_f32(const char* name, std::vector<std::string> dims) {
  TensorDecl t = out(name, std::move(dims));
  t.fixed_dtype = DType::f32;
  return t;
}

// Rows r with r % 4 == 0 get a zero message, r % 4 == 1 zero features, r % 4 == 2 both; r % 4 == 3
// stay as drawn. One row (the full sweep's fewest) is a zero message.
void prepare_zero_rows(TensorMap& in, const Params& p) {
  if (p.str("dist") != kZeroRows) return;
  const std::int64_t rows = p.i("rows"), cols = p.i("cols");
  Tensor& x = in.at("x");
  Tensor& m = in.at("m");
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t k = r % 4;
    for (std::int64_t j = 0; j < cols && (k == 0 || k == 2); ++j) store_double(m, r * cols + j, 0);
    for (std::int64_t j = 0; j < cols && (k == 1 || k == 2); ++j) store_double(x, r * cols + j, 0);
  }
}

void register_msgnorm(Registry& reg) {
  Op op = make_op(
      "msgnorm", "MsgNorm: y = x + s * ||x||_2 * m / max(||m||_2, 1e-12) per node (row)",
      "Li, Xiong, Thabet, Ghanem 2020 (DeeperGCN), Sec. 3.3; F.normalize floor of the code",
      {rows_axis("nodes", "1"),
       int_axis("cols", {"4096"}, {"256", "4096", "4097"}, "node feature channels"),
       suite::dist_axis({"normal", "offset", "constant_rows", kZeroRows},
                        {"normal", "uniform", "llm_outliers", "offset", "constant_rows", kZeroRows},
                        "distribution of x and m; zero_rows: normal with zero rows of m, x, both")},
      {in("x", {"rows", "cols"}), in("m", {"rows", "cols"}), in("s", {"1"}, kScale),
       out("y", {"rows", "cols"})},
      6);
  op.input_dist = zero_rows_input_dist;
  op.prepare_inputs = prepare_zero_rows;
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::msgnorm(F64(i.at("x")).p(), F64(i.at("m")).p(), i.at("s").value_as_double(0),
                 out64(o, "y"), p.i("rows"), p.i("cols"), kMsgNormFloor);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "m"), static_cast<float>(i.at("s").value_as_double(0)),
         out_as<T>(o, "y"), p.i("rows"), p.i("cols"), static_cast<float>(kMsgNormFloor));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::msgnorm)),
                 call(OVERLOADS(cpu::fast::msgnorm)));
  reg.add_op(std::move(op));
}

// x[rows = batch x tokens, cols = features]; the training step's batch statistic runs over the
// rows, so its quick sweep has the family's 64 and 1024 rows. The inference form is elementwise
// (no statistic over anything): its quick sweep keeps only 1024 rows.
std::vector<Axis> power_axes(bool train) {
  return {train ? rows_axis("tokens (batch x length): the batch statistic's sample", "1")
                : int_axis("rows", {"1024"}, {"1", "64", "1024", "4096", "16384"},
                           "tokens (batch x length)"),
          int_axis("cols", {"4096"}, {"512", "4096", "4097"}, "features"), dist_axis()};
}

void register_powernorm(Registry& reg) {
  Op train = make_op(
      "powernorm",
      "PowerNorm, training step: y by the previous running psi^2, running_phi_new from the batch",
      "Shen, Yao, Gholami, Mahoney, Keutzer 2020, Alg. 1 (forward)", power_axes(true),
      {in("x", {"rows", "cols"}), in_f32("running_phi", {"cols"}, "uniform(0.5,2)"),
       in("gamma", {"cols"}, kScale), in("beta", {"cols"}, kShift), out("y", {"rows", "cols"}),
       out_f32("running_phi_new", {"cols"})},
      4);
  train.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::powernorm(F64(i.at("x")).p(), F64(i.at("running_phi")).p(), F64(i.at("gamma")).p(),
                   F64(i.at("beta")).p(), out64(o, "y"), out64(o, "running_phi_new"), p.i("rows"),
                   p.i("cols"), kPowerAlpha, kEps);
  };
  // y in the case's dtype by the family's rule; the running statistic is float32 in every case
  // and is held to float32's rule (a 16-bit case's looser one would not catch a statistic
  // accumulated in the storage dtype).
  train.compare = [](const TensorMap&, const TensorMap& o, const TensorMap& r, const Params&,
                     Tolerance tol) {
    Agreement total = compare_tensor("y", o.at("y"), r.at("y"), tol, false);
    merge_agreement(
        total, compare_tensor("running_phi_new", o.at("running_phi_new"), r.at("running_phi_new"),
                              norm_tolerance(DType::f32), false));
    return total;
  };
  auto call_train = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in32(i, "running_phi"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), out32(o, "running_phi_new"), p.i("rows"), p.i("cols"),
         static_cast<float>(kPowerAlpha), static_cast<float>(kEps));
    };
  };
  add_plain_fast(train, "x", call_train(OVERLOADS(cpu::plain::powernorm)),
                 call_train(OVERLOADS(cpu::fast::powernorm)));
  reg.add_op(std::move(train));

  Op infer = make_op(
      "powernorm_infer", "PowerNorm, inference: y = gamma * x / sqrt(running_phi + eps) + beta",
      "Shen, Yao, Gholami, Mahoney, Keutzer 2020, Alg. 1 (inference)", power_axes(false),
      {in("x", {"rows", "cols"}), in_f32("running_phi", {"cols"}, "uniform(0.5,2)"),
       in("gamma", {"cols"}, kScale), in("beta", {"cols"}, kShift), out("y", {"rows", "cols"})},
      2);
  infer.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::powernorm_infer(F64(i.at("x")).p(), F64(i.at("running_phi")).p(), F64(i.at("gamma")).p(),
                         F64(i.at("beta")).p(), out64(o, "y"), p.i("rows"), p.i("cols"), kEps);
  };
  auto call_infer = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in32(i, "running_phi"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), p.i("rows"), p.i("cols"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(infer, "x", call_infer(OVERLOADS(cpu::plain::powernorm_infer)),
                 call_infer(OVERLOADS(cpu::fast::powernorm_infer)));
  reg.add_op(std::move(infer));
}

}  // namespace

void register_norm_msgnorm_powernorm(Registry& reg) {
  register_msgnorm(reg);
  register_powernorm(reg);
}

}  // namespace opbench
