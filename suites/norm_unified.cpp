// Unified Normalization (Yang et al. 2022): the training step after warm-up (`unified_norm`) and
// the inference form it exists for (`unified_norm_infer`). Equations, and where the paper and the
// authors' code differ: reference/norm_unified.hpp.
//
// Inference takes the folded per-feature map (a, b), a = gamma / sqrt(running_var + eps), b = beta,
// not the running statistics: the paper's speed-up ("about 31% inference speedup" on GPU) is UN
// fused with its neighbouring linear operations, the statistics folded once after training, so
// what runs at inference is at most the elementwise y = x * a + b, never a reduction. The fold
// (ref::unified_norm_fold) is outside the timed op, as it is outside the paper's measurement.
//
// The training step's carried state is what the paper's forward pass keeps: the window of the last
// M per-feature statistics (window[M, cols], oldest first) and the running variance, both float32
// in every dtype; the step writes their updates and whether the outlier filtration fired. The
// `history` axis sets that state against the step's own statistic sigma^2_t (prepare_inputs):
//  - steady: the layer's statistics drifted down by a few per cent over the window, the same
//    drift for every feature: window[m, c] = sigma^2_t[c] f_m with f_0 = 1 and
//    f_m = 1 + 0.1 (M - m) / M (m >= 1), so Omega_t holds the same values as Omega_{t-1} and,
//    by Kober's inequality (reference/norm_unified.hpp), the filtration cannot fire (AM - GM of
//    a feature stays below M times its own spread, and the threshold adds the spread across
//    features): the step normalizes by the geometric mean, a few per cent from sigma^2_t. Over
//    the full sweep the largest AM - GM is at most 0.50 of the threshold (2 / M for a small
//    drift).
//  - jump: the same history 100 times smaller (the step's activations are 10 times the window's in
//    scale, the paper's "extreme outliers"): with M > 1 the filtration fires (the largest AM - GM
//    is at least 4.2 times the threshold over the full sweep) and the step normalizes by
//    sigma^2_t, the buffer taking the running variance. With M = 1 nothing is smoothed: AM - GM
//    of one value is 0, both histories give the step's own statistic.
// The running variance is the history's scale times uniform(0.9, 1.1) per feature.
//
// Agreement of `filtered`: exact, except where the float64 reference's decision is within the
// kernels' float32 rounding of the threshold (kDecisionRtol); there the kernel's decision is
// accepted, counted in Agreement::ties, and its other outputs compared with the reference taken
// along that branch.
#include "reference/norm_unified.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/norm_unified.hpp"
#include "suites/common.hpp"
#include "suites/norm_common.hpp"
#include "suites/norm_papers.hpp"

namespace opbench {

namespace {

using namespace suite;
using namespace suite::norm;

constexpr double kMomentum = 0.9;  // the code's default for the running variance
constexpr double kJump = 100;      // history `jump`: the window 100 times below sigma^2_t
// A decision the reference makes within this relative distance of the threshold (of AM + T) may
// go either way in a kernel: kernels sum x^2 in float32 (~1e-6 relative) and may take AM - GM in
// float32 where it is clear of the threshold by float32's error (cpu.fast); 1e-4 is the family's
// float32 rule.
constexpr double kDecisionRtol = 1e-4;

TensorDecl out_f32(const char* name, std::vector<std::string> dims) {
  TensorDecl t = out(name, std::move(dims));
  t.fixed_dtype = DType::f32;
  return t;
}

std::string unified_norm_valid(const Params& p) {
  const std::string& h = p.str("history");
  if (h != "steady" && h != "jump") return "history must be steady or jump, not '" + h + "'";
  if (p.i("window") * p.i("cols") < 2) {
    return "window * cols must be at least 2: the outlier threshold is an unbiased variance over "
           "the window's window * cols statistics";
  }
  return "";
}

// sigma^2_t of the case's x, row by row (no float64 copy of the whole x).
std::vector<double> second_moment(const Tensor& x, std::int64_t rows, std::int64_t cols) {
  std::vector<double> s(static_cast<std::size_t>(cols), 0.0), row(static_cast<std::size_t>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    x.values_as_double(r * cols, cols, row.data());
    for (std::int64_t j = 0; j < cols; ++j) s[j] += row[j] * row[j];
  }
  for (auto& v : s) v /= static_cast<double>(rows);
  return s;
}

// The window and running variance of the `history` scenario (file comment), from x.
void prepare_history(TensorMap& in, const Params& p) {
  const std::int64_t rows = p.i("rows"), cols = p.i("cols"), M = p.i("window");
  const std::vector<double> s = second_moment(in.at("x"), rows, cols);
  const double scale = p.str("history") == "jump" ? 1.0 / kJump : 1.0;
  Tensor& window = in.at("window");
  for (std::int64_t m = 0; m < M; ++m) {
    const double f = m == 0 ? 1.0 : 1.0 + 0.1 * static_cast<double>(M - m) / static_cast<double>(M);
    for (std::int64_t j = 0; j < cols; ++j) store_double(window, m * cols + j, s[j] * f * scale);
  }
  Tensor& rv = in.at("running_var");  // drawn uniform(0.9, 1.1): the per-feature factor
  for (std::int64_t j = 0; j < cols; ++j) store_double(rv, j, s[j] * scale * rv.value_as_double(j));
}

struct StepInputs {
  F64 x, gamma, beta, window, running_var;
  explicit StepInputs(const TensorMap& i)
      : x(i.at("x")),
        gamma(i.at("gamma")),
        beta(i.at("beta")),
        window(i.at("window")),
        running_var(i.at("running_var")) {}
};

// The reference step into out (float64 y, window_out, running_var_out; i64 filtered).
void run_reference(const StepInputs& s, TensorMap& o, const Params& p, ref::UnifiedNormBranch b) {
  const bool filtered =
      ref::unified_norm(s.x.p(), s.gamma.p(), s.beta.p(), s.window.p(), s.running_var.p(),
                        out64(o, "y"), out64(o, "window_out"), out64(o, "running_var_out"),
                        p.i("rows"), p.i("cols"), p.i("window"), kMomentum, kEps, b);
  out_index(o, "filtered")[0] = filtered ? 1 : 0;
}

// Whether a kernel may have decided `got` where the reference decided the other way: some feature's
// AM - GM lies within kDecisionRtol (AM + T) of the threshold T on the side that makes `got`.
bool decision_within_rounding(const StepInputs& s, const Params& p, bool got, std::string& why) {
  const std::int64_t rows = p.i("rows"), cols = p.i("cols"), M = p.i("window");
  std::vector<double> sigma2(cols), am(cols), gm(cols);
  ref::unified_norm_second_moment(s.x.p(), rows, cols, sigma2.data());
  const double t = ref::unified_norm_threshold(s.window.p(), M, cols);
  ref::unified_norm_window_means(s.window.p(), sigma2.data(), M, cols, am.data(), gm.data());
  bool any_near = false, all_near = true;
  double worst = -1e300;  // the largest (AM - GM - T) / margin
  for (std::int64_t j = 0; j < cols; ++j) {
    const double gap = am[j] - gm[j], margin = kDecisionRtol * (am[j] + t);
    worst = std::max(worst, (gap - t) / margin);
    if (gap > t - margin) any_near = true;
    if (gap > t && gap - t > margin) all_near = false;
  }
  std::ostringstream w;
  w.precision(3);
  w << "max over features of (AM - GM - T) / margin = " << worst << ", T = " << t;
  why = w.str();
  return got ? any_near : all_near;
}

// The filtration's decision exactly (ties accepted, file comment); y with the case's rule, the
// float32 state with float32's rule.
Agreement compare_unified_norm(const TensorMap& in, const TensorMap& out, const TensorMap& ref,
                               const Params& p, Tolerance tol) {
  const std::int64_t got = out.at("filtered").data<std::int64_t>()[0];
  const std::int64_t want = ref.at("filtered").data<std::int64_t>()[0];
  TensorMap expected = ref;
  std::int64_t ties = 0;
  std::string why;
  if (got != want && (got == 0 || got == 1)) {
    const StepInputs s(in);
    if (decision_within_rounding(s, p, got == 1, why)) {
      ties = 1;
      for (auto& [name, t] : expected) t = t.clone();
      run_reference(s, expected, p,
                    got == 1 ? ref::UnifiedNormBranch::filtered : ref::UnifiedNormBranch::smoothed);
    }
  }
  Agreement total =
      compare_tensor("filtered", out.at("filtered"), expected.at("filtered"), tol, true);
  if (total.mismatches > 0 && !why.empty()) total.first_mismatch += " (" + why + ")";
  merge_agreement(total, compare_tensor("y", out.at("y"), expected.at("y"), tol, false));
  const Tolerance tol32 = norm_tolerance(DType::f32);
  for (const char* name : {"window_out", "running_var_out"})
    merge_agreement(total, compare_tensor(name, out.at(name), expected.at(name), tol32, false));
  total.ties = ties;
  return total;
}

void register_unified_norm(Registry& reg) {
  Op op = make_op(
      "unified_norm",
      "Unified Normalization, training step: x / sqrt(GM of the last M statistics + eps), or the "
      "step's own statistic when the outlier filtration fires",
      "Yang et al. 2022 (ACM MM), Sec. 3; filtration as the authors' UN2dFunction (see reference)",
      {rows_axis("tokens of the step (batch x sequence)", "1"),
       int_axis("cols", {"4096"}, {"768", "4096", "4097"}, "features C"),
       int_axis("window", {"4"}, {"1", "4", "16"},
                "M, the iterations whose statistics are smoothed (the authors' default 4)"),
       Axis{"history",
            Axis::Kind::text,
            {"steady", "jump"},
            {"steady", "jump"},
            "the carried window against this step's statistics: steady (smoothed) or jump "
            "(100x: the outlier filtration fires when window > 1)"},
       dist_axis()},
      {in("x", {"rows", "cols"}), in("gamma", {"cols"}, kScale), in("beta", {"cols"}, kShift),
       in_f32("window", {"window", "cols"}, "uniform(0.9,1.1)"),
       in_f32("running_var", {"cols"}, "uniform(0.9,1.1)"), out("y", {"rows", "cols"}),
       out_f32("window_out", {"window", "cols"}), out_f32("running_var_out", {"cols"}),
       out_index("filtered", {"1"})},
      4);
  op.validate = unified_norm_valid;
  op.prepare_inputs = prepare_history;
  op.compare = compare_unified_norm;
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    run_reference(StepInputs(i), o, p, ref::UnifiedNormBranch::decide);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"), in32(i, "window"),
         in32(i, "running_var"), out_as<T>(o, "y"), out32(o, "window_out"),
         out32(o, "running_var_out"), out_index(o, "filtered"), p.i("rows"), p.i("cols"),
         p.i("window"), static_cast<float>(kMomentum), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OPBENCH_OVERLOADS(cpu::plain::unified_norm)),
                 call(OPBENCH_OVERLOADS(cpu::fast::unified_norm)));
  reg.add_op(std::move(op));
}

void register_unified_norm_infer(Registry& reg) {
  Op op = make_op("unified_norm_infer",
                  "Unified Normalization, inference: statistics folded into y = x * a + b",
                  "Yang et al. 2022 (ACM MM), Sec. 3 with fixed statistics; a = gamma / "
                  "sqrt(running_var + eps), b = beta, folded once after training",
                  row_axes(),
                  {in("x", {"rows", "cols"}), in("a", {"cols"}, kScale), in("b", {"cols"}, kShift),
                   out("y", {"rows", "cols"})},
                  2);
  op.quick_dtypes = {DType::f32, DType::bf16};  // as layernorm's, which it is measured against
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::unified_norm_infer(F64(i.at("x")).p(), F64(i.at("a")).p(), F64(i.at("b")).p(),
                            out64(o, "y"), p.i("rows"), p.i("cols"));
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "a"), in_as<T>(i, "b"), out_as<T>(o, "y"), p.i("rows"),
         p.i("cols"));
    };
  };
  add_plain_fast(op, "x", call(OPBENCH_OVERLOADS(cpu::plain::unified_norm_infer)),
                 call(OPBENCH_OVERLOADS(cpu::fast::unified_norm_infer)));
  reg.add_op(std::move(op));
}

}  // namespace

void register_norm_unified(Registry& reg) {
  register_unified_norm(reg);
  register_unified_norm_infer(reg);
}

}  // namespace opbench
