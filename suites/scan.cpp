// The scan family: the linear recurrence h_t = a_t h_{t-1} + b_t (forward and backward), its
// log-space form (Heinsen 2023), the minGRU and minLSTM layers in both forms (Feng et al. 2024,
// "Were RNNs All We Needed?"), and the sequential GRU and LSTM they replace. Each op declares
// tensors, axes, cost and agreement rule, and binds its float64 reference and implementations.
//
// Implementations: ref (float64), cpu.plain, cpu.fast, cpu.chunked and cpu.blelloch
// (linear_scan), onednn (gru, lstm, when built with oneDNN), torch (mingru and minlstm in the log
// form, lstm, when built with libtorch), cuda.fast (linear_scan, linear_scan_backward, log_scan,
// mingru, minlstm, when built with CUDA). The minimal layers take the formulation as an axis,
// `form=plain,log`, so both forms of one layer sit side by side in one table.
#include "reference/scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "harness/device.hpp"
#include "kernels/cpu/scan_fast.hpp"
#include "kernels/cpu/scan_plain.hpp"
#include "suites/common.hpp"
#include "suites/scan_agreement.hpp"
#include "suites/scan_backward.hpp"
#include "suites/scan_train.hpp"
#include "suites/suites.hpp"

#ifdef OPBENCH_HAVE_ONEDNN
#include "kernels/cpu/onednn_rnn.hpp"
#endif
#ifdef OPBENCH_HAVE_CUDA
#include "kernels/cuda/scan_backward_cuda.hpp"
#include "kernels/cuda/scan_cuda.hpp"
#endif

namespace opbench {

namespace {

using namespace suite;
using suite::scan::kUnitRoundoff;

#ifdef OPBENCH_HAVE_TORCH
// The dtypes of the torch peer (kernels/cpu/torch_plugin_scan.cpp): those PyTorch 1.13 runs on
// the CPU, float32 and bfloat16 (no float16: "addmm_impl_cpu_" not implemented for 'Half'). In
// bfloat16 it runs eagerly, rounding to bfloat16 after every op, so its error is far beyond the
// layers' rule (one rounding of h): in the quick sweep minGRU and minLSTM (log form) reach 533 and
// 2490 times the allowed error (up to 4e4 times at T=512) and the LSTM, whose cell state is
// rounded at every step, 7.5 and 35 times. Those cases are known failures with that reason
// (suites/known_failures.json), timed like any other: what a bfloat16 PyTorch user gets.
const std::vector<DType> kTorchDtypes = {DType::f32, DType::bf16};
#endif

// --- input scenarios of the scans (the `dist` axis) ----------------------------------------------

// What each tensor of a scan is drawn from under one scenario. Gates in (0, 1) exclude exact 0 so
// that the log-space form has a finite log a; `bernoulli` is the scenario with exact 0 and 1.
// The log-space op draws a, b and h0 in linear space (positive b and h0: its domain) and takes
// their logs (prepare_inputs).
struct Scenario {
  const char* name;
  const char* a;      // the gates
  const char* b;      // the values (linear_scan, and the forward pass that saves the backward's h)
  const char* h0;     // the initial state
  const char* b_pos;  // b and h0 of the log-space op (positive)
  const char* help;
};

const Scenario kScenarios[] = {
    {"uniform", "uniform(1e-6,1)", "uniform(-1,1)", "uniform(-1,1)", "uniform(0.001,1)",
     "a ~ U(0, 1), b ~ U(-1, 1): short memory"},
    {"near_one", "uniform(0.9999,0.9999999)", "normal(0,1)", "normal(0,1)", "uniform(0.001,1)",
     "a in 1 - 1e-4 .. 1 - 1e-7 (float32 spacing below 1 is 6e-8; in bf16/f16 the four values "
     "below 1), b ~ N(0, 1): long memory"},
    {"bernoulli", "bernoulli(0.5)", "normal(0,1)", "normal(0,1)", "uniform(0.001,1)",
     "a exactly 0 or 1 (p = 1/2): resets and pure sums"},
    {"large_b", "uniform(1e-6,1)", "normal(0,10000)", "normal(0,10000)", "uniform(1,100000)",
     "a ~ U(0, 1), b ~ N(0, 1e4) (log form: b in 1 .. 1e5)"},
};

// The gates' distribution of scenario `s` in dtype `dt`. bfloat16 and float16 have no value in
// near_one's 1 - 1e-4 .. 1 - 1e-7 (their largest below 1 are 1 - 2^-8 and 1 - 2^-11): there the
// gates are the four largest values below 1, uniform(1 - 4u, 1), still long memory (1 / (1 - a)
// of 64 to 256 steps in bf16, 512 to 2048 in f16) and still never exactly 1.
std::string gates(const Scenario& s, DType dt) {
  if (std::string(s.name) != "near_one" || (dt != DType::bf16 && dt != DType::f16)) return s.a;
  char lo[32];
  std::snprintf(lo, sizeof lo, "%.17g", 1.0 - 4 * unit_roundoff(dt));  // exact: a dtype value
  return "uniform(" + std::string(lo) + ",1)";
}

const Scenario* find_scenario(const std::string& name) {
  for (const auto& s : kScenarios) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::string scenario_names() {
  std::string out;
  for (const auto& s : kScenarios) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

std::string scan_valid(const Params& p) {
  if (!find_scenario(p.str("dist"))) {
    return "dist '" + p.str("dist") + "' is not a scan scenario; known: " + scenario_names();
  }
  return "";
}

// Every scenario in the quick sweep too: it is the main job's gate. Where Heinsen's log-space
// form cannot reach the reference (uniform gates over long sequences, gates of exactly 0, large b)
// the cases are known failures with the reason in suites/known_failures.json.
std::vector<Axis> scan_axes() {
  const std::vector<std::string> scenarios = {"uniform", "near_one", "bernoulli", "large_b"};
  return {int_axis("batch", {"2"}, {"8"}, "independent sequences"),
          int_axis("T", {"1024"}, {"64", "512", "4096"}, "sequence length (steps, sequential)"),
          int_axis("D", {"256"}, {"1024"}, "channels (independent recurrences per step)"),
          suite::dist_axis(scenarios, scenarios,
                           "gate/value scenario: uniform, near_one, bernoulli, large_b")};
}

// --- common parts ---------------------------------------------------------------------------

Op make_op(const char* name, const char* title, const char* paper, std::vector<Axis> axes,
           std::vector<TensorDecl> tensors, std::function<double(const Params&)> flops,
           std::int64_t gates = 0) {
  Op op;
  op.suite = "scan";
  op.name = name;
  op.title = title;
  op.paper = paper;
  op.axes = std::move(axes);
  op.tensors = std::move(tensors);
  // Layers: "GD" is the width of the stacked gate columns of their weights.
  if (gates > 0) op.derived["GD"] = [gates](const Params& p) { return gates * p.i("D"); };
  // The per-case rule is op.compare (T- and data-dependent); this base is what it scales.
  op.tolerance = [](DType) { return Tolerance{0, kUnitRoundoff}; };
  op.cost = [shape_helper = op, flops](const Params& p, DType dt) {
    return Cost{flops(p), suite::tensor_bytes(shape_helper, p, dt)};
  };
  // Rows of every tensor along batch are independent: a long case checks a sample of them.
  op.sample_axis = "batch";
  // cpu.plain takes every dtype (float state, one rounding per output); the other kernels and
  // peers float32 for now. The rules below are float32's plus the output's rounding.
  op.dtypes = {DType::f32, DType::bf16, DType::f16};
  op.reference_flops = flops;
  return op;
}

double btd(const Params& p) {
  return static_cast<double>(p.i("batch")) * static_cast<double>(p.i("T")) *
         static_cast<double>(p.i("D"));
}

#define OVERLOADS OPBENCH_OVERLOADS

#ifdef OPBENCH_HAVE_CUDA
const float* dev_in(const DeviceTensorMap& m, const char* name) {
  return m.at(name).data<float>();
}
float* dev_out(DeviceTensorMap& m, const char* name) {
  return m.at(name).data<float>();
}
#endif

// --- linear_scan ----------------------------------------------------------------------------

void register_linear_scan(Registry& reg) {
  Op op = make_op("linear_scan", "h_t = a_t * h_{t-1} + b_t over a, b[batch, T, D]",
                  "Feng et al. 2024 (eq. 1 form); Heinsen 2023, eq. 1; Blelloch 1990", scan_axes(),
                  {in("a", {"batch", "T", "D"}), in("b", {"batch", "T", "D"}),
                   in("h0", {"batch", "D"}), out("h", {"batch", "T", "D"})},
                  [](const Params& p) { return 2 * btd(p); });
  op.validate = scan_valid;
  op.input_dist = [](const TensorDecl& t, const std::string& dist, DType dt) -> std::string {
    const Scenario* s = find_scenario(dist);
    if (!s) return "";
    return t.name == "a" ? gates(*s, dt) : t.name == "b" ? s->b : s->h0;
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::linear_scan(F64(i.at("a")).p(), F64(i.at("b")).p(), F64(i.at("h0")).p(), out64(o, "h"),
                     p.i("batch"), p.i("T"), p.i("D"));
  };
  op.compare = [](const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                  Tolerance) {
    std::vector<double> bound =
        scan::forward_error_units(F64(i.at("a")).p(), F64(i.at("b")).p(), F64(i.at("h0")).p(),
                                  p.i("batch"), p.i("T"), p.i("D"));
    const double scale = scan::depth_factor(p.i("T")) * kUnitRoundoff;
    for (double& e : bound) e *= scale;
    return scan::compare_within("h", o.at("h"), r.at("h"), bound);
  };
  op.quick_dtypes = {DType::f32, DType::bf16};  // the family's op in the main job's bf16 cases
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "a"), in_as<T>(i, "b"), in_as<T>(i, "h0"), out_as<T>(o, "h"), p.i("batch"),
         p.i("T"), p.i("D"));
    };
  };
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>(
      "cpu.plain", "a", call(OVERLOADS(cpu::plain::linear_scan))));
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>(
      "cpu.fast", "a", call(OVERLOADS(cpu::fast::linear_scan))));
  op.impls.push_back(
      typed_host_impl<float>("cpu.chunked", "a", call(cpu::fast::linear_scan_chunked)));
  op.impls.push_back(
      typed_host_impl<float>("cpu.blelloch", "a", call(cpu::fast::linear_scan_blelloch)));
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(cuda_impl(
      "cuda.fast",
      [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::linear_scan(dev_in(i, "a"), dev_in(i, "b"), dev_in(i, "h0"), dev_out(o, "h"),
                          p.i("batch"), p.i("T"), p.i("D"));
      },
      [](const Params& p) {
        return cuda::linear_scan_scratch_bytes(p.i("batch"), p.i("T"), p.i("D"));
      }));
#endif
  reg.add_op(std::move(op));
}

// --- linear_scan_backward -------------------------------------------------------------------

void register_linear_scan_backward(Registry& reg) {
  Op op =
      make_op("linear_scan_backward",
              "gradients da, db, dh0 of h_t = a_t h_{t-1} + b_t given dL/dh (a reverse scan)",
              "reverse-mode of Feng et al. 2024 eq. 1 form (the training step's backward scan)",
              scan_axes(),
              {in("a", {"batch", "T", "D"}), in("h0", {"batch", "D"}), in("h", {"batch", "T", "D"}),
               in("dh", {"batch", "T", "D"}, "normal(0,1)"), out("da", {"batch", "T", "D"}),
               out("db", {"batch", "T", "D"}), out("dh0", {"batch", "D"})},
              [](const Params& p) { return 3 * btd(p); });
  op.validate = scan_valid;
  op.input_dist = [](const TensorDecl& t, const std::string& dist, DType dt) -> std::string {
    const Scenario* s = find_scenario(dist);
    if (!s || t.name == "dh") return "";
    return t.name == "a" ? gates(*s, dt) : t.name == "h" ? s->b : s->h0;
  };
  // The saved h is the forward pass's output on the case's a and h0, as in training: drawn as the
  // forward's b (input_dist), then replaced by h_t = a_t h_{t-1} + b_t (eq. 1) in float64, rounded
  // once into the case's dtype as a forward kernel's output is. In float16 an h of large_b can
  // pass 65504 (h's spread there is ~1.2e4); it saturates at 65504 instead of becoming inf, so
  // that the backward case stays finite.
  op.mode = Mode::bwd;
  GradientOf grad;
  grad.forward = "linear_scan";
  grad.same = {{"a", "a"}, {"h0", "h0"}};
  grad.incoming = {{"dh", "h"}};
  grad.gradients = {{"da", "a"}, {"db", "b"}, {"dh0", "h0"}};
  grad.saved = {{"h", "h"}};
  grad.check_point = {{"batch", "2"}, {"T", "17"}, {"D", "3"}, {"dist", "uniform"}};
  grad.save = [](TensorMap& in, const Params& p) {
    Tensor& h = in.at("h");
    const F64 a(in.at("a")), h0(in.at("h0")), b(h);
    std::vector<double> forward(b.v.size());
    ref::linear_scan(a.p(), b.p(), h0.p(), forward.data(), p.i("batch"), p.i("T"), p.i("D"));
    const double top = h.dtype() == DType::f16 ? 65504.0 : std::numeric_limits<double>::infinity();
    for (std::int64_t k = 0; k < h.numel(); ++k) {
      store_double(h, k, std::clamp(forward[k], -top, top));
    }
  };
  op.gradient = std::move(grad);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::linear_scan_backward(F64(i.at("a")).p(), F64(i.at("h0")).p(), F64(i.at("h")).p(),
                              F64(i.at("dh")).p(), out64(o, "da"), out64(o, "db"), out64(o, "dh0"),
                              p.i("batch"), p.i("T"), p.i("D"));
  };
  // delta (= db) carries the reverse recurrence's bound; da = delta h_{t-1} and dh0 = a_0 delta_0
  // add one product each: |x| (E + C) with C >= |delta|.
  op.compare = [](const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                  Tolerance) {
    const std::int64_t B = p.i("batch"), T = p.i("T"), D = p.i("D");
    const F64 a(i.at("a")), h0(i.at("h0")), h(i.at("h")), g(i.at("dh"));
    std::vector<double> mag;
    const std::vector<double> e = scan::backward_error_units(a.p(), g.p(), B, T, D, mag);
    const double scale = scan::depth_factor(T) * kUnitRoundoff;
    std::vector<double> b_db(e.size()), b_da(e.size()), b_dh0(static_cast<std::size_t>(B * D));
    for (std::int64_t n = 0; n < B; ++n) {
      for (std::int64_t t = 0; t < T; ++t) {
        for (std::int64_t d = 0; d < D; ++d) {
          const std::size_t k = static_cast<std::size_t>((n * T + t) * D + d);
          const double h_prev = t > 0 ? h.v[k - static_cast<std::size_t>(D)] : h0.v[n * D + d];
          b_db[k] = scale * e[k];
          b_da[k] = scale * std::abs(h_prev) * (e[k] + mag[k]);
          if (t == 0) b_dh0[n * D + d] = scale * std::abs(a.v[k]) * (e[k] + mag[k]);
        }
      }
    }
    Agreement total = scan::compare_within("da", o.at("da"), r.at("da"), b_da);
    merge_agreement(total, scan::compare_within("db", o.at("db"), r.at("db"), b_db));
    merge_agreement(total, scan::compare_within("dh0", o.at("dh0"), r.at("dh0"), b_dh0));
    return total;
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "a"), in_as<T>(i, "h0"), in_as<T>(i, "h"), in_as<T>(i, "dh"),
         out_as<T>(o, "da"), out_as<T>(o, "db"), out_as<T>(o, "dh0"), p.i("batch"), p.i("T"),
         p.i("D"));
    };
  };
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>(
      "cpu.plain", "a", call(OVERLOADS(cpu::plain::linear_scan_backward))));
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>(
      "cpu.fast", "a", call(OVERLOADS(cpu::fast::linear_scan_backward))));
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::linear_scan_backward(dev_in(i, "a"), dev_in(i, "h0"), dev_in(i, "h"), dev_in(i, "dh"),
                                   dev_out(o, "da"), dev_out(o, "db"), dev_out(o, "dh0"),
                                   p.i("batch"), p.i("T"), p.i("D"));
      }));
#endif
  reg.add_op(std::move(op));
}

// --- log_scan -------------------------------------------------------------------------------

void register_log_scan(Registry& reg) {
  Op op = make_op(
      "log_scan",
      "log h_t = a*_t + logcumsumexp(log b - a*)_t, a* = cumsum(log a) (Heinsen's log-space scan)",
      "Heinsen 2023, eq. 2; the minGRU/minLSTM code of Feng et al. 2024", scan_axes(),
      {in("log_a", {"batch", "T", "D"}), in("log_b", {"batch", "T", "D"}),
       in("log_h0", {"batch", "D"}), out("log_h", {"batch", "T", "D"})},
      [](const Params& p) { return 8 * btd(p); });
  op.validate = scan_valid;
  // Drawn in linear space (a as linear_scan's gates, b and h0 positive), then logged.
  op.input_dist = [](const TensorDecl& t, const std::string& dist, DType dt) -> std::string {
    const Scenario* s = find_scenario(dist);
    if (!s) return "";
    // b of large_b reaches 1e5, beyond float16's 65504: there it stops at 6e4 (log b is stored).
    if (t.name != "log_a" && dt == DType::f16 && std::string(s->name) == "large_b") {
      return "uniform(1,60000)";
    }
    return t.name == "log_a" ? gates(*s, dt) : s->b_pos;
  };
  op.prepare_inputs = [](TensorMap& in, const Params&) {
    for (auto& [name, t] : in) {
      for (std::int64_t k = 0; k < t.numel(); ++k) {
        // float's log, as float-only code took it; rounded once more in a 16-bit case.
        store_double(t, k, std::log(static_cast<float>(t.value_as_double(k))));
      }
    }
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::log_scan(F64(i.at("log_a")).p(), F64(i.at("log_b")).p(), F64(i.at("log_h0")).p(),
                  out64(o, "log_h"), p.i("batch"), p.i("T"), p.i("D"));
  };
  // The bound a sound float32 evaluation of the same recurrence meets, moved to log space:
  // |d log h| = |dh| / h <= depth u E_t / h_t, plus the rounding of log h itself (u |log h|).
  // Heinsen's form adds an error of about u |a*_t| (the cancellation of a*_t against the
  // log-sum-exp, both of magnitude sum |log a|); where that exceeds the bound the report shows it.
  op.compare = [](const TensorMap& i, const TensorMap& o, const TensorMap& r, const Params& p,
                  Tolerance) {
    auto exp_of = [](const Tensor& t) {
      F64 v(t);
      for (double& x : v.v) x = std::exp(x);
      return v;
    };
    const F64 a = exp_of(i.at("log_a")), b = exp_of(i.at("log_b")), h0 = exp_of(i.at("log_h0"));
    std::vector<double> bound =
        scan::forward_error_units(a.p(), b.p(), h0.p(), p.i("batch"), p.i("T"), p.i("D"));
    const double scale = scan::depth_factor(p.i("T")) * kUnitRoundoff;
    const Tensor& ref = r.at("log_h");
    for (std::size_t k = 0; k < bound.size(); ++k) {
      const double log_h = ref.value_as_double(static_cast<std::int64_t>(k));
      bound[k] = scale * (bound[k] / std::exp(log_h) + std::abs(log_h));
    }
    return scan::compare_within("log_h", o.at("log_h"), ref, bound);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "log_a"), in_as<T>(i, "log_b"), in_as<T>(i, "log_h0"), out_as<T>(o, "log_h"),
         p.i("batch"), p.i("T"), p.i("D"));
    };
  };
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>("cpu.plain", "log_a",
                                                           call(OVERLOADS(cpu::plain::log_scan))));
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>("cpu.fast", "log_a",
                                                           call(OVERLOADS(cpu::fast::log_scan))));
#ifdef OPBENCH_HAVE_CUDA
  op.impls.push_back(cuda_impl(
      "cuda.fast",
      [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::log_scan(dev_in(i, "log_a"), dev_in(i, "log_b"), dev_in(i, "log_h0"),
                       dev_out(o, "log_h"), p.i("batch"), p.i("T"), p.i("D"));
      },
      [](const Params& p) {
        return cuda::log_scan_scratch_bytes(p.i("batch"), p.i("T"), p.i("D"));
      }));
#endif
  reg.add_op(std::move(op));
}

// --- recurrent layers -----------------------------------------------------------------------

// Weights as PyTorch initializes a layer of width ~400 (U(-1/sqrt(H), 1/sqrt(H))), fixed so that a
// user's x can be fed as it is; the initial states positive (the log-space form takes log h0).
const char* const kWeight = "uniform(-0.05,0.05)";
const char* const kState = "uniform(0.1,1)";

std::vector<Axis> layer_axes(bool with_form) {
  std::vector<Axis> a = {
      int_axis("batch", {"2"}, {"8"}, "independent sequences"),
      int_axis("T", {"256"}, {"64", "512", "4096"}, "sequence length"),
      int_axis("d_in", {"128"}, {"512"}, "input features"),
      int_axis("D", {"128"}, {"512"}, "hidden units"),
  };
  if (with_form) {
    a.push_back(Axis{"form",
                     Axis::Kind::text,
                     {"plain", "log"},
                     {"plain", "log"},
                     "scan formulation: plain (linear recurrence) or log (Heinsen log-space)"});
  }
  a.push_back(suite::dist_axis({"normal", "large_x"}, {"normal", "large_x"},
                               "x: normal, or large_x = N(0, 10^2) (gates saturate)"));
  return a;
}

std::string form_valid(const Params& p) {
  const std::string& f = p.str("form");
  return f == "plain" || f == "log" ? "" : "form '" + f + "' is not plain or log";
}

cpu::ScanForm form_of(const Params& p) {
  return p.str("form") == "log" ? cpu::ScanForm::log : cpu::ScanForm::plain;
}

// Layers: the float32 error of a fan-in-long dot product is at most fan_in u relative to the sum
// of magnitudes (Higham 2002, §3.1, gamma_n), and each of the T steps of a gated (convex) update
// adds a few u that long memory keeps; 8 ulp per term covers exp/tanh/sigmoid/log approximations.
// So |out - ref| <= tol (1 + |ref|) with tol = 8 u (fan_in + T).
std::function<Agreement(const TensorMap&, const TensorMap&, const TensorMap&, const Params&,
                        Tolerance)>
layer_compare(bool recurrent_matrix) {
  return [recurrent_matrix](const TensorMap&, const TensorMap& o, const TensorMap& r,
                            const Params& p, Tolerance) {
    const double fan_in = static_cast<double>(p.i("d_in") + (recurrent_matrix ? p.i("D") : 0));
    const double tol = 8 * kUnitRoundoff * (fan_in + static_cast<double>(p.i("T")));
    const DType dt = o.at("h").dtype();  // h rounded once into its dtype
    return compare_tensor("h", o.at("h"), r.at("h"),
                          Tolerance{tol + storage_rounding_floor(dt), tol + storage_rounding(dt)},
                          false);
  };
}

std::string large_x(const TensorDecl& t, const std::string& dist, DType) {
  return t.name == "x" && dist == "large_x" ? "normal(0,10)" : "";
}

// minGRU (gates = 2) and minLSTM (gates = 3): x, w[d_in, gates D], bias, h0 -> h. `plain` and
// `fast` are the cpu.plain and cpu.fast overload sets (OVERLOADS).
template <class Plain, class Fast>
void register_min_layer(Registry& reg, const char* name, const char* title, const char* paper,
                        int gates,
                        void (*reference)(const double*, const double*, const double*,
                                          const double*, double*, std::int64_t, std::int64_t,
                                          std::int64_t, std::int64_t),
                        Plain plain, Fast fast) {
  Op op = make_op(
      name, title, paper, layer_axes(true),
      {in("x", {"batch", "T", "d_in"}), in("w", {"d_in", "GD"}, kWeight),
       in("bias", {"GD"}, kWeight), in("h0", {"batch", "D"}, kState),
       out("h", {"batch", "T", "D"})},
      [gates](const Params& p) {
        const double rows = static_cast<double>(p.i("batch") * p.i("T"));
        return 2 * rows * static_cast<double>(p.i("d_in")) * gates * static_cast<double>(p.i("D")) +
               12 * btd(p);
      },
      gates);
  op.validate = form_valid;
  op.input_dist = large_x;
  op.compare = layer_compare(false);
  op.reference = [reference](const TensorMap& i, TensorMap& o, const Params& p) {
    reference(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("bias")).p(), F64(i.at("h0")).p(),
              out64(o, "h"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "w"), in_as<T>(i, "bias"), in_as<T>(i, "h0"),
         out_as<T>(o, "h"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"), form_of(p));
    };
  };
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>("cpu.plain", "x", call(plain)));
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>("cpu.fast", "x", call(fast)));
#ifdef OPBENCH_HAVE_TORCH
  // The paper's own PyTorch code (appendix: parallel_scan_log with torch.cumsum and
  // torch.logcumsumexp), which exists in the log-space form only.
  Impl torch = torch_impl(name, kTorchDtypes);
  torch.unsupported = [](const Params& p) -> std::string {
    return p.str("form") == "log" ? "" : "the paper's PyTorch code is the log-space form";
  };
  op.impls.push_back(std::move(torch));
#endif
#ifdef OPBENCH_HAVE_CUDA
  const cuda::MinLayer kind = gates == 2 ? cuda::MinLayer::mingru : cuda::MinLayer::minlstm;
  op.impls.push_back(cuda_impl(
      "cuda.fast",
      [kind](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::min_layer(kind, dev_in(i, "x"), dev_in(i, "w"), dev_in(i, "bias"), dev_in(i, "h0"),
                        dev_out(o, "h"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"),
                        p.str("form") == "log");
      },
      [kind](const Params& p) {
        return cuda::min_layer_scratch_bytes(kind, p.i("batch"), p.i("T"), p.i("D"),
                                             p.str("form") == "log");
      }));
#endif
  reg.add_op(std::move(op));
}

double rnn_flops(const Params& p, int gates) {
  const double rows = static_cast<double>(p.i("batch") * p.i("T"));
  return 2 * rows * static_cast<double>(p.i("d_in") + p.i("D")) * gates *
             static_cast<double>(p.i("D")) +
         10 * btd(p);
}

void register_gru(Registry& reg) {
  Op op = make_op(
      "gru", "GRU, sequential: gates depend on h_{t-1} (reset before U_n)",
      "Feng et al. 2024 §2.1.2; Cho et al. 2014", layer_axes(false),
      {in("x", {"batch", "T", "d_in"}), in("w", {"d_in", "GD"}, kWeight),
       in("u", {"D", "GD"}, kWeight), in("bias", {"GD"}, kWeight), in("h0", {"batch", "D"}, kState),
       out("h", {"batch", "T", "D"})},
      [](const Params& p) { return rnn_flops(p, 3); }, 3);
  op.input_dist = large_x;
  op.compare = layer_compare(true);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::gru(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("u")).p(), F64(i.at("bias")).p(),
             F64(i.at("h0")).p(), out64(o, "h"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "w"), in_as<T>(i, "u"), in_as<T>(i, "bias"),
         in_as<T>(i, "h0"), out_as<T>(o, "h"), p.i("batch"), p.i("T"), p.i("d_in"), p.i("D"));
    };
  };
  op.impls.push_back(
      typed_host_impl<float, bf16_t, f16_t>("cpu.plain", "x", call(OVERLOADS(cpu::plain::gru))));
  op.impls.push_back(
      typed_host_impl<float, bf16_t, f16_t>("cpu.fast", "x", call(OVERLOADS(cpu::fast::gru))));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(peer_impl("onednn", onednn::bind_gru()));
#endif
  // No torch impl: PyTorch's GRU applies the reset gate after the recurrent product,
  // n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), where this op (Cho et al. 2014, as Feng et al.
  // 2024 §2.1.2 write it) applies it before: n = tanh(x W_n + (r * h) U_n + b_n). r * (h U_n) is
  // not (r * h) U_n for any choice of weights, so torch.nn.GRU computes another function.
  reg.add_op(std::move(op));
}

void register_lstm(Registry& reg) {
  Op op = make_op(
      "lstm", "LSTM, sequential: gates depend on h_{t-1}",
      "Feng et al. 2024 §2.1.1; Hochreiter & Schmidhuber 1997", layer_axes(false),
      {in("x", {"batch", "T", "d_in"}), in("w", {"d_in", "GD"}, kWeight),
       in("u", {"D", "GD"}, kWeight), in("bias", {"GD"}, kWeight), in("h0", {"batch", "D"}, kState),
       in("c0", {"batch", "D"}, "uniform(-1,1)"), out("h", {"batch", "T", "D"})},
      [](const Params& p) { return rnn_flops(p, 4); }, 4);
  op.input_dist = large_x;
  op.compare = layer_compare(true);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::lstm(F64(i.at("x")).p(), F64(i.at("w")).p(), F64(i.at("u")).p(), F64(i.at("bias")).p(),
              F64(i.at("h0")).p(), F64(i.at("c0")).p(), out64(o, "h"), p.i("batch"), p.i("T"),
              p.i("d_in"), p.i("D"));
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "w"), in_as<T>(i, "u"), in_as<T>(i, "bias"),
         in_as<T>(i, "h0"), in_as<T>(i, "c0"), out_as<T>(o, "h"), p.i("batch"), p.i("T"),
         p.i("d_in"), p.i("D"));
    };
  };
  op.impls.push_back(
      typed_host_impl<float, bf16_t, f16_t>("cpu.plain", "x", call(OVERLOADS(cpu::plain::lstm))));
  op.impls.push_back(
      typed_host_impl<float, bf16_t, f16_t>("cpu.fast", "x", call(OVERLOADS(cpu::fast::lstm))));
#ifdef OPBENCH_HAVE_ONEDNN
  op.impls.push_back(peer_impl("onednn", onednn::bind_lstm()));
#endif
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("lstm", kTorchDtypes));  // torch.nn.LSTM's at::lstm
#endif
  reg.add_op(std::move(op));
}

}  // namespace

void register_scan_suite(Registry& reg) {
  register_linear_scan(reg);
  register_linear_scan_backward(reg);
  register_log_scan(reg);
  register_log_scan_backward(reg);
  register_min_layer(reg, "mingru", "minGRU: h_t = (1 - z_t) h_{t-1} + z_t g(x_t W_h + b_h)",
                     "Feng et al. 2024 §3.1.2 and appendix (log-space version)", 2, ref::mingru,
                     OVERLOADS(cpu::plain::mingru), OVERLOADS(cpu::fast::mingru));
  register_min_layer(reg, "minlstm",
                     "minLSTM: h_t = f'_t h_{t-1} + i'_t g(x_t W_h + b_h), f' + i' = 1",
                     "Feng et al. 2024 §3.2.3 and appendix (log-space version)", 3, ref::minlstm,
                     OVERLOADS(cpu::plain::minlstm), OVERLOADS(cpu::fast::minlstm));
  register_gru(reg);
  register_lstm(reg);
  register_scan_train_ops(reg);
}

}  // namespace opbench
