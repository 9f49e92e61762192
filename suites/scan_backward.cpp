// `log_scan_backward` (mode bwd, the gradient of `log_scan`): given log a, log b, log h0, the
// forward's log h (saved) and dlog_h = dL/d(log h), the gradients dlog_a, dlog_b, dlog_h0 of
// Heinsen 2023 eq. 2 (the minGRU/minLSTM log-space code of Feng et al. 2024), in the stable form
// of ref::log_scan_backward (reference/scan.hpp): a reverse scan r_t = dlog_h_t +
// c_{t+1} r_{t+1} with c_t = exp(log a_t + log h_{t-1} - log h_t) = a_t h_{t-1} / h_t in [0, 1],
// then dlog_a_t = c_t r_t, dlog_b_t = w_t r_t, w_t = exp(log b_t - log h_t), dlog_h0 = dlog_a_0.
//
// The axes, scenarios (`dist`: uniform, near_one, bernoulli, large_b), distributions and input
// preparation (drawn in linear space, then logged) are the forward op's, taken over from its
// registration. float32 only: with log h rounded to 8 or 11 bits, c_t can exceed 1 by |log h|
// 2^-8 and the reverse scan grows where the true one contracts.
//
// Implementations: ref, cpu.plain, cpu.fast (kernels/cpu/log_scan_backward.hpp), cuda.fast
// (kernels/cuda/scan_backward_cuda.hpp, when built with CUDA: the same arithmetic, expf with
// cpu.fast's 0 below -87, within the same rule).
//
// Agreement: a first-order error bound per element, in units of u = 2^-24, times the family's
// depth(T) (suites/scan_agreement.hpp), the linear backward's rule with its coefficient computed:
// - r: the reverse scan with exact coefficients c gives E_A (scan::backward_error_units: two
//   roundings per step, 2 C_t, C the scan of |dlog_h|). Each coefficient is itself computed:
//   fl(fl(log a + log h_{t-1}) - log h_t) is within u (|log a| + |log h_{t-1}|) + u |sum| <=
//   2u (|log a| + |log h_{t-1}| + |log h_t|) of its exponent, and exp adds 2 ulp: c's relative
//   error is kc_t u, kc_t = 2 (|log a_t| + |log h_{t-1}| + |log h_t|) + 2. Carried into r_t as
//   c_{t+1} kc_{t+1} |r_{t+1}| <= c kc C_{t+1} per step, reverse-scanned by c again (E_B, the same
//   function's magnitude scan with that source). E_r = E_A + E_B.
// - dlog_b = r w: w E_r + C w (kw + 1), kw = |log b| + |log h| + 2 (one rounding of the
//   exponent, exp's 2 ulp, the product's rounding); dlog_a = r c: c E_r + C c (kc + 1); dlog_h0
//   is dlog_a_0's.
// - cpu.fast's exp (simd::vexp) is clamped at -87; the kernel gives 0 below it (exactly the
//   reference's 0 for a zero gate, log a = -inf), so an exponent below -87 is off by less than
//   e^-87 ~ 1.6e-38: at most e^-87 C absolute in every product and in the carried term
//   (2 e^-87 C allowed: the float e^-87 and the product round too).
// Measured: 0.02 .. 0.03 of the bound in every scenario, quick and full sweep (T up to 4096); a
// dlog_b 1e-4 too large, or a dlog_h0 without the carried gradient, fails (tests/
// test_suites_scan.cpp).
#include "suites/scan_backward.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/log_scan_backward.hpp"
#include "reference/scan.hpp"
#include "suites/common.hpp"
#include "suites/scan_agreement.hpp"

#ifdef OPBENCH_HAVE_CUDA
#include "harness/device.hpp"
#include "kernels/cuda/scan_backward_cuda.hpp"
#endif

namespace opbench {
namespace {

using namespace suite;
constexpr double kU = scan::kUnitRoundoff;
constexpr double kExpUlps = 2;  // simd::vexp's relative error (std::exp's is below 1)
// Below e^-87 cpu.fast's exp gives 0 (the header); doubled for the roundings.
const double kExpFloor = 2 * std::exp(-87.0);

std::size_t sz(std::int64_t n) {
  return static_cast<std::size_t>(n);
}

double btd(const Params& p) {
  return static_cast<double>(p.i("batch")) * static_cast<double>(p.i("T")) *
         static_cast<double>(p.i("D"));
}

// The allowed error of dlog_a, dlog_b, dlog_h0 (the header's rule).
Agreement compare_gradients(const TensorMap& i, const TensorMap& o, const TensorMap& r,
                            const Params& p) {
  const std::int64_t B = p.i("batch"), T = p.i("T"), D = p.i("D");
  const F64 la(i.at("log_a")), lb(i.at("log_b")), lh0(i.at("log_h0")), lh(i.at("log_h")),
      g(i.at("dlog_h"));
  const std::size_t n_all = la.v.size();
  // The exact coefficients c_t and their relative errors kc_t (in u), c_t kc_t taken as 0 where
  // c_t = 0 (a zero gate: log a = -inf, whose |log a| is infinite).
  std::vector<double> c(n_all), c_err(n_all);
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      for (std::int64_t d = 0; d < D; ++d) {
        const std::size_t k = sz((n * T + t) * D + d);
        const double prev = t > 0 ? lh.v[k - sz(D)] : lh0.v[sz(n * D + d)];
        c[k] = std::exp(la.v[k] + prev - lh.v[k]);
        const double kc = 2 * (std::abs(la.v[k]) + std::abs(prev) + std::abs(lh.v[k])) + kExpUlps;
        c_err[k] = c[k] == 0 ? 0 : c[k] * kc;
      }
    }
  }
  std::vector<double> mag;
  const std::vector<double> e_exact = scan::backward_error_units(c.data(), g.p(), B, T, D, mag);
  // The coefficients' errors as the source of a second reverse scan: c_{t+1} kc_{t+1} C_{t+1}
  // (plus the exp floor, in units of u) enters r_t.
  std::vector<double> source(n_all, 0.0);
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t t = 0; t + 1 < T; ++t) {
      for (std::int64_t d = 0; d < D; ++d) {
        const std::size_t k = sz((n * T + t) * D + d), next = k + sz(D);
        source[k] = (c_err[next] + kExpFloor / kU) * mag[next];
      }
    }
  }
  std::vector<double> e_coeff;
  scan::backward_error_units(c.data(), source.data(), B, T, D, e_coeff);

  const double scale = scan::depth_factor(T) * kU;
  std::vector<double> b_da(n_all), b_db(n_all), b_dh0(sz(B * D));
  for (std::int64_t n = 0; n < B; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      for (std::int64_t d = 0; d < D; ++d) {
        const std::size_t k = sz((n * T + t) * D + d);
        const double e_r = e_exact[k] + e_coeff[k], big_r = mag[k];
        const double w = std::exp(lb.v[k] - lh.v[k]);
        const double kw = std::abs(lb.v[k]) + std::abs(lh.v[k]) + kExpUlps;
        const double w_err = w == 0 ? 0 : w * (kw + 1);
        b_db[k] = scale * (w * e_r + big_r * w_err) + kExpFloor * big_r;
        b_da[k] = scale * (c[k] * e_r + big_r * (c_err[k] + c[k])) + kExpFloor * big_r;
        if (t == 0) b_dh0[sz(n * D + d)] = b_da[k];
      }
    }
  }
  Agreement total = scan::compare_within("dlog_a", o.at("dlog_a"), r.at("dlog_a"), b_da);
  merge_agreement(total, scan::compare_within("dlog_b", o.at("dlog_b"), r.at("dlog_b"), b_db));
  merge_agreement(total, scan::compare_within("dlog_h0", o.at("dlog_h0"), r.at("dlog_h0"), b_dh0));
  return total;
}

}  // namespace

void register_log_scan_backward(Registry& reg) {
  const Op* fwd = reg.find_op("scan/log_scan");
  if (!fwd)
    throw std::logic_error("log_scan_backward: its forward op scan/log_scan is not registered");
  Op op;
  op.suite = "scan";
  op.name = "log_scan_backward";
  op.title =
      "gradients dlog_a, dlog_b, dlog_h0 of Heinsen's log-space scan given dL/d(log h) (a reverse "
      "scan, every exponent <= 0)";
  op.paper =
      "reverse-mode of Heinsen 2023 eq. 2 (the log-space minGRU/minLSTM of Feng et al. 2024)";
  op.mode = Mode::bwd;
  op.axes = fwd->axes;
  op.validate = fwd->validate;
  op.tensors = {in("log_a", {"batch", "T", "D"}),
                in("log_b", {"batch", "T", "D"}),
                in("log_h0", {"batch", "D"}),
                in("log_h", {"batch", "T", "D"}),
                in("dlog_h", {"batch", "T", "D"}, "normal(0,1)"),
                out("dlog_a", {"batch", "T", "D"}),
                out("dlog_b", {"batch", "T", "D"}),
                out("dlog_h0", {"batch", "D"})};
  op.dtypes = {DType::f32};
  op.sample_axis = "batch";
  // Per element: the exponents (3 adds), two exps, two products and the carried sum; an exp
  // counted as one operation, as the forward's cost model does.
  auto flops = [](const Params& p) { return 8 * btd(p); };
  op.reference_flops = flops;
  op.cost = [shape_helper = op, flops](const Params& p, DType dt) {
    // Compulsory bytes: read log a, log b, log h, dlog_h (and log h0), write dlog_a, dlog_b
    // (and dlog_h0): every tensor once.
    return Cost{flops(p), tensor_bytes(shape_helper, p, dt)};
  };
  op.tolerance = [](DType) { return Tolerance{0, kU}; };  // the base; op.compare is the rule
  // The forward's scenarios for log a, log b, log h0 (log h is replaced by the forward pass),
  // dlog_h its own N(0, 1); drawn in linear space and logged, as the forward's inputs are.
  op.input_dist = [forward = fwd->input_dist](const TensorDecl& t, const std::string& dist,
                                              DType dt) -> std::string {
    return t.name == "dlog_h" ? "" : forward(t, dist, dt);
  };
  op.prepare_inputs = [forward = fwd->prepare_inputs](TensorMap& in, const Params& p) {
    TensorMap logged = {
        {"log_a", in.at("log_a")}, {"log_b", in.at("log_b")}, {"log_h0", in.at("log_h0")}};
    forward(logged, p);  // Tensors share storage: in's tensors are logged in place
  };
  GradientOf grad;
  grad.forward = fwd->name;
  grad.same = {{"log_a", "log_a"}, {"log_b", "log_b"}, {"log_h0", "log_h0"}};
  grad.incoming = {{"dlog_h", "log_h"}};
  grad.gradients = {{"dlog_a", "log_a"}, {"dlog_b", "log_b"}, {"dlog_h0", "log_h0"}};
  grad.saved = {{"log_h", "log_h"}};
  // The finite-difference point: `uniform`. `bernoulli` has log a = -inf (a = 0), where a
  // perturbation of -inf is no perturbation (the step h would be infinite): its gradient through
  // zero gates (exactly 0) is checked by hand (tests/test_reference_scan.cpp) and the other
  // scenarios' points by tests/test_suites_scan.cpp.
  grad.check_point = {{"batch", "2"}, {"T", "17"}, {"D", "3"}, {"dist", "uniform"}};
  // log h: the forward pass on the case's inputs, in float64, rounded once to float32.
  grad.save = [](TensorMap& in, const Params& p) {
    Tensor& log_h = in.at("log_h");
    std::vector<double> forward(sz(log_h.numel()));
    ref::log_scan(F64(in.at("log_a")).p(), F64(in.at("log_b")).p(), F64(in.at("log_h0")).p(),
                  forward.data(), p.i("batch"), p.i("T"), p.i("D"));
    for (std::int64_t k = 0; k < log_h.numel(); ++k) store_double(log_h, k, forward[sz(k)]);
  };
  op.gradient = std::move(grad);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::log_scan_backward(F64(i.at("log_a")).p(), F64(i.at("log_b")).p(), F64(i.at("log_h0")).p(),
                           F64(i.at("log_h")).p(), F64(i.at("dlog_h")).p(), out64(o, "dlog_a"),
                           out64(o, "dlog_b"), out64(o, "dlog_h0"), p.i("batch"), p.i("T"),
                           p.i("D"));
  };
  op.compare = [](const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                  Tolerance) { return compare_gradients(i, o, r, p); };
  auto call = [](auto fn) {
    return [fn](const TensorMap& i, TensorMap& o, const Params& p) {
      fn(in32(i, "log_a"), in32(i, "log_b"), in32(i, "log_h0"), in32(i, "log_h"), in32(i, "dlog_h"),
         out32(o, "dlog_a"), out32(o, "dlog_b"), out32(o, "dlog_h0"), p.i("batch"), p.i("T"),
         p.i("D"));
    };
  };
  op.impls.push_back(host_impl("cpu.plain", call(cpu::plain::log_scan_backward)));
  op.impls.push_back(host_impl("cpu.fast", call(cpu::fast::log_scan_backward)));
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        auto input = [&i](const char* name) { return i.at(name).data<float>(); };
        auto output = [&o](const char* name) { return o.at(name).data<float>(); };
        cuda::log_scan_backward(input("log_a"), input("log_b"), input("log_h0"), input("log_h"),
                                input("dlog_h"), output("dlog_a"), output("dlog_b"),
                                output("dlog_h0"), p.i("batch"), p.i("T"), p.i("D"));
      }));
#endif
  reg.add_op(std::move(op));
}

}  // namespace opbench
