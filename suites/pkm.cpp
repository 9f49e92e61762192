// The product-key memory family (Lample et al. 2019, "Large Memory Layers with Product Keys"):
// pkm_topk (the product-key search), bruteforce_topk (the same result by scoring all N product
// keys: the baseline, and in float64 the reference of both) and pkm_layer (the whole memory layer).
// Top-k results are compared by index with the ties of the reference accepted and counted.
#include "reference/pkm.hpp"

#include <cmath>
#include <memory>
#include <set>
#include <sstream>
#include <type_traits>
#include <vector>

#include "harness/agreement.hpp"
#include "harness/device.hpp"
#include "kernels/cpu/pkm_fast.hpp"
#include "kernels/cpu/pkm_plain.hpp"
#include "suites/common.hpp"
#include "suites/pkm_backward.hpp"
#include "suites/pkm_shapes.hpp"
#include "suites/suites.hpp"

#ifdef OPBENCH_HAVE_FAISS
#include "kernels/cpu/faiss_pkm.hpp"
#endif
#ifdef OPBENCH_HAVE_CUDA
#include "kernels/cuda/pkm_cuda.hpp"
#endif

namespace opbench {

namespace {

using namespace suite;
using namespace suite::pkm_shapes;

constexpr double kEps = 1e-5;  // the query batch normalization's epsilon

// cpu.plain of bruteforce_topk is a scalar loop over every product key: above this many
// multiply-adds a case would take minutes, so it is skipped with the reason.
constexpr double kPlainBruteforceLimit = 8.6e9;

#ifdef OPBENCH_HAVE_TORCH
// PyTorch's eager forms (kernels/cpu/torch_plugin_pkm.cpp) in the dtypes PyTorch 1.13 runs on
// the CPU: float32 and bfloat16 (no float16 matmul: "addmm_impl_cpu_" not implemented for
// 'Half'). In bfloat16 torch.matmul rounds every score to bfloat16 before torch.topk ranks them,
// so the lists differ from the float32 ranking of the contract beyond its tie rule
// (bruteforce_topk: 2402 of 16384 entries at the quick size) and pkm_topk's candidate sums round
// twice (scores 1.7x the tolerance off): known failures with that reason, timed like any other.
// pkm_layer is float32 only: PyTorch 1.13 refuses its float32 batch-norm statistics with
// bfloat16 activations.
const std::vector<DType> kTorchDtypes = {DType::f32, DType::bf16};
// torch.matmul(queries, keys^T) holds every score, [tokens, heads, N] floats, at once: above 4 GiB
// of them (1024 tokens at N = 1048576: 16 GiB) the case is skipped with the reason.
constexpr double kTorchBruteforceScoreBytes = 4.0 * (1 << 30);
#endif

// --- scenarios on the dist axis ----------------------------------------------------------------

// `ties`: every sub-key is repeated three times (rows 3m, 3m+1, 3m+2 equal), so product scores
// come in groups of 9 exact equals and the k-th place almost always falls inside a group.
// `large_norm`: sub-key rows scaled by 10^(3u), u spread over [0, 1): norms from 1 to 1000.
const char* const kTies = "ties";
const char* const kLargeNorm = "large_norm";

std::string scenario_dist(const TensorDecl& t, const std::string& dist, DType) {
  if (t.dist == "$dist" && (dist == kTies || dist == kLargeNorm)) return "normal";
  return "";
}

// In any dtype: a float32 product rounded once into a 16-bit tensor (the same bits as float-only
// code for float32).
void shape_sub_keys(Tensor& keys, const std::string& dist) {
  const std::int64_t heads = keys.dim(0), n = keys.dim(1), half = keys.dim(2);
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t row = (h * n + i) * half;
      if (dist == kTies) {
        const std::int64_t first = (h * n + i - i % 3) * half;
        for (std::int64_t e = 0; first != row && e < half; ++e) {
          store_double(keys, row + e, keys.value_as_double(first + e));
        }
      } else {
        const double u = std::fmod(0.6180339887498949 * static_cast<double>(i + 7 * h + 1), 1.0);
        const float scale = static_cast<float>(std::pow(10.0, 3.0 * u));
        for (std::int64_t e = 0; e < half; ++e) {
          store_double(keys, row + e, static_cast<float>(keys.value_as_double(row + e)) * scale);
        }
      }
    }
  }
}

void prepare_scenario(TensorMap& inputs, const Params& p) {
  const std::string& dist = p.str("dist");
  if (dist != kTies && dist != kLargeNorm) return;
  shape_sub_keys(inputs.at("k1"), dist);
  shape_sub_keys(inputs.at("k2"), dist);
}

// --- agreement -----------------------------------------------------------------------------------

// Compares top-k lists (indices, and scores when `out_scores` is given) with the reference's.
// An index that differs from the reference's at position m is accepted when its exact (float64)
// score ties with the reference's m-th score in the order of the lists (ref::pkm_before): finite
// scores equal within the tolerance (equal within rounding), or else the same order key (NaN ranks
// as -inf, so NaN and -inf tie; +inf ties only with +inf). Rows with such a tie are counted in
// `ties` and flagged in `tied_rows`. The tolerance of a score is atol + rtol * sum_d |q_d key_d|:
// the rounding error of a float32 dot product is proportional to that sum, not to the (possibly
// cancelled) result. Scores are values: NaN where the exact score is NaN, the same infinity where
// it is infinite. Rankings are float32 decisions on exact inputs in every dtype, so the tie rule
// is float32's; a bfloat16 or float16 score is that float32 score rounded once more, so its bound
// adds u |score| (storage_rounding). Exact ties that rounding the inputs to 16 bits creates (equal
// sub-key values) are ties like any other: counted in `ties`, not hidden.
struct TopkCheck {
  Agreement agreement;
  std::vector<bool> tied_rows;  // [tokens * heads]
  std::vector<double> exact;    // float64 scores of the implementation's indices
};

TopkCheck check_topk(const double* q, const double* k1, const double* k2, const ref::PkmShape& s,
                     const Tensor& out_indices, const Tensor* out_scores, const Tensor& ref_indices,
                     const Tensor& ref_scores_f64, Tolerance tol) {
  TopkCheck c;
  Agreement& a = c.agreement;
  a.checked = true;
  const std::int64_t rows = s.tokens * s.heads;
  const std::int64_t total = s.n * s.n;
  c.tied_rows.assign(static_cast<std::size_t>(rows), false);
  c.exact.assign(static_cast<std::size_t>(rows * s.k), 0.0);
  const std::int64_t* oi = out_indices.data<std::int64_t>();
  const std::int64_t* ri = ref_indices.data<std::int64_t>();
  const double* rs = ref_scores_f64.data<double>();
  const double rounding = out_scores ? storage_rounding(out_scores->dtype()) : 0.0;
  const double floor = out_scores ? storage_rounding_floor(out_scores->dtype()) : 0.0;
  double err2 = 0, ref2 = 0;
  auto mismatch = [&](const std::string& what) {
    if (a.mismatches++ == 0) a.first_mismatch = what;
  };
  auto where = [&](const char* name, std::int64_t r, std::int64_t m) {
    std::ostringstream w;
    w << name << "[" << r / s.heads << ", " << r % s.heads << ", " << m << "]";
    return w.str();
  };
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t t = r / s.heads, h = r % s.heads;
    std::set<std::int64_t> seen;
    for (std::int64_t m = 0; m < s.k; ++m) {
      const std::int64_t at = r * s.k + m;
      const std::int64_t idx = oi[at];
      ++a.elements;
      if (idx < 0 || idx >= total || !seen.insert(idx).second) {
        mismatch(where("indices", r, m) + ": got " + std::to_string(idx) +
                 (idx < 0 || idx >= total ? " (out of range)" : " (repeated)"));
        if (out_scores) ++a.elements;
        continue;
      }
      const double exact = ref::product_key_score(q, k1, k2, s, t, h, idx);
      const double mag = ref::product_key_magnitude(q, k1, k2, s, t, h, idx);
      c.exact[at] = exact;
      if (idx != ri[at]) {
        const double key = ref::pkm_order_key(exact), ref_key = ref::pkm_order_key(rs[at]);
        bool tie = key == ref_key;
        if (std::isfinite(key) && std::isfinite(ref_key)) {
          const double ref_mag = ref::product_key_magnitude(q, k1, k2, s, t, h, ri[at]);
          tie = std::abs(exact - rs[at]) <= tol.atol + tol.rtol * std::max(mag, ref_mag);
        }
        if (tie) {
          c.tied_rows[r] = true;
        } else {
          std::ostringstream w;
          w << where("indices", r, m) << ": got " << idx << " (score " << exact << "), want "
            << ri[at] << " (score " << rs[at] << ")";
          mismatch(w.str());
        }
      }
      if (out_scores) {
        ++a.elements;
        const double got = out_scores->value_as_double(at);
        const double err = std::abs(got - exact);
        err2 += std::isfinite(err) ? err * err : 0;
        ref2 += std::isfinite(exact) ? exact * exact : 0;
        const double allowed = tol.atol + tol.rtol * mag + rounding * std::abs(exact) + floor;
        const bool ok = std::isnan(exact)   ? std::isnan(got)
                        : std::isinf(exact) ? got == exact
                                            : err <= allowed;
        if (std::isfinite(err)) {
          a.max_abs_err = std::max(a.max_abs_err, err);
          // Relative where the relative part of the rule governs (as ElementChecker).
          if (exact != 0 && tol.rtol > 0 && std::abs(exact) >= tol.atol / tol.rtol) {
            a.max_rel_err = std::max(a.max_rel_err, err / std::abs(exact));
          }
          if (allowed > 0) a.err_ratio = std::max(a.err_ratio, err / allowed);
        }
        if (!ok) {
          std::ostringstream w;
          w << where("scores", r, m) << ": got " << got << ", want " << exact;
          mismatch(w.str());
        }
      }
    }
  }
  for (bool tied : c.tied_rows) a.ties += tied ? 1 : 0;
  a.rel_l2_err = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  a.passed = a.mismatches == 0;
  return c;
}

Agreement compare_search(const TensorMap& in, const TensorMap& out, const TensorMap& ref,
                         const Params& p, Tolerance tol) {
  const F64 q(in.at("q")), k1(in.at("k1")), k2(in.at("k2"));
  const ref::PkmShape s = shape_of(dims_of(p));
  return check_topk(q.p(), k1.p(), k2.p(), s, out.at("indices"), &out.at("scores"),
                    ref.at("indices"), ref.at("scores"), tol)
      .agreement;
}

// --- implementations ---------------------------------------------------------------------------

// A host kernel with state built once per case (workspace, materialized keys, an index).
template <class State>
class StatefulKernel final : public BoundKernel {
 public:
  using RunFn = std::function<void(State&, const TensorMap&, TensorMap&)>;
  StatefulKernel(std::unique_ptr<State> state, RunFn run, const TensorMap& in, TensorMap& out)
      : state_(std::move(state)), run_(std::move(run)), in_(in), out_(out) {}
  void run() override { run_(*state_, in_, out_); }

 private:
  std::unique_ptr<State> state_;
  RunFn run_;
  const TensorMap& in_;
  TensorMap& out_;
};

template <class State>
Impl stateful_impl(const char* name,
                   std::function<std::unique_ptr<State>(const TensorMap&, const Params&)> make,
                   typename StatefulKernel<State>::RunFn run) {
  Impl i;
  i.name = name;
  i.backend = "cpu";
  i.bind = [make, run](const TensorMap& in, TensorMap& out, const Params& p) {
    return std::make_unique<StatefulKernel<State>>(make(in, p), run, in, out);
  };
  return i;
}

// A stateful host kernel in f32, bf16 and f16: make(T{}, in, params) builds the state for storage
// T (the float32 kernel object, or its 16-bit wrapper), run(state, in, out) runs it; the dtype is
// that of input `dtype_from`.
template <class Make, class Run>
Impl typed_stateful_impl(const char* name, const char* dtype_from, Make make, Run run) {
  Impl i;
  i.name = name;
  i.backend = "cpu";
  i.dtypes = {DType::f32, DType::bf16, DType::f16};
  i.bind = [=](const TensorMap& in, TensorMap& out,
               const Params& p) -> std::unique_ptr<BoundKernel> {
    auto bound = [&](auto t) -> std::unique_ptr<BoundKernel> {
      auto state = make(t, in, p);
      using State = typename decltype(state)::element_type;
      return std::make_unique<StatefulKernel<State>>(std::move(state), run, in, out);
    };
    switch (in.at(dtype_from).dtype()) {
      case DType::bf16:
        return bound(bf16_t{});
      case DType::f16:
        return bound(f16_t{});
      default:
        return bound(float{});
    }
  };
  return i;
}

// --- ops -----------------------------------------------------------------------------------------

std::vector<Axis> search_axes(std::vector<std::string> quick_keys,
                              std::vector<std::string> quick_tokens,
                              std::vector<std::string> quick_dist) {
  return {int_axis("keys", std::move(quick_keys), {"16384", "65536", "262144", "1048576"},
                   "product keys N (a perfect square: sqrt(N) sub-keys per half)"),
          int_axis("tokens", std::move(quick_tokens), {"1", "1024"}, "queries (tokens)"),
          int_axis("heads", {"4"}, {"4"}, "memory heads, each with its own sub-keys"),
          int_axis("dk", {"256"}, {"256"}, "key dimension (two halves of dk/2)"),
          int_axis("k", {"32"}, {"32"}, "results per token and head"),
          suite::dist_axis(std::move(quick_dist), {"normal", kTies, kLargeNorm},
                           "queries and sub-keys; ties: each sub-key three times; large_norm: "
                           "sub-key norms from 1 to 1000")};
}

Op search_op(const char* name, const char* title, std::vector<Axis> axes, bool bruteforce) {
  Op op;
  op.suite = "pkm";
  op.name = name;
  op.title = title;
  op.paper = "Lample et al. 2019, Large Memory Layers with Product Keys, Sec. 3.1 eq. 1, Sec. 3.2";
  op.axes = std::move(axes);
  op.derived = {{"subkeys", [](const Params& p) { return isqrt(p.i("keys")); }},
                {"half", [](const Params& p) { return p.i("dk") / 2; }}};
  op.tensors = {in("q", {"tokens", "heads", "dk"}), in("k1", {"heads", "subkeys", "half"}),
                in("k2", {"heads", "subkeys", "half"}), out("scores", {"tokens", "heads", "k"}),
                out_index("indices", {"tokens", "heads", "k"})};
  op.validate = validate_search;
  op.tolerance = [](DType) { return Tolerance{1e-6, 1e-5}; };
  op.cost = [shape_helper = op, bruteforce](const Params& p, DType dt) {
    const pkm::Dims d = dims_of(p);
    const double rows = static_cast<double>(d.tokens * d.heads);
    const double flops =
        bruteforce
            ? rows * 2.0 * static_cast<double>(d.keys() * d.dk)
            : rows * (2.0 * static_cast<double>(d.n * d.dk) + static_cast<double>(d.k * d.k));
    return Cost{flops, suite::tensor_bytes(shape_helper, p, dt)};
  };
  // The reference scores all N product keys in float64: sampled along tokens when large.
  op.sample_axis = "tokens";
  op.reference_flops = [](const Params& p) {
    const pkm::Dims d = dims_of(p);
    return 2.0 * static_cast<double>(d.tokens * d.heads) * static_cast<double>(d.keys() * d.dk);
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::bruteforce_topk(F64(i.at("q")).p(), F64(i.at("k1")).p(), F64(i.at("k2")).p(),
                         out64(o, "scores"), out_index(o, "indices"), shape_of(dims_of(p)));
  };
  op.compare = compare_search;
  op.input_dist = scenario_dist;
  op.prepare_inputs = prepare_scenario;
  op.dtypes = {DType::f32, DType::bf16, DType::f16};
  return op;
}

void register_pkm_topk(Registry& reg) {
  Op op = search_op("pkm_topk", "product-key search: top-k per half, k x k candidates, their top-k",
                    search_axes({"4096", "65536"}, {"256"}, {"normal", kTies}), false);
  op.quick_dtypes = {DType::f32, DType::bf16};  // the family's op in the main job's bf16 cases
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>(
      "cpu.plain", "q", [](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
        using T = decltype(t);
        cpu::plain::pkm_topk(in_as<T>(i, "q"), in_as<T>(i, "k1"), in_as<T>(i, "k2"),
                             out_as<T>(o, "scores"), out_index(o, "indices"), dims_of(p));
      }));
  op.impls.push_back(typed_stateful_impl(
      "cpu.fast", "q",
      [](auto t, const TensorMap&, const Params& p) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>) {
          return std::make_unique<cpu::fast::PkmTopk>(dims_of(p));
        } else {
          return std::make_unique<cpu::fast::PkmTopkHalf<T>>(dims_of(p));
        }
      },
      [](auto& k, const TensorMap& i, TensorMap& o) {
        using T = typename std::decay_t<decltype(k)>::Storage;
        k.run(in_as<T>(i, "q"), in_as<T>(i, "k1"), in_as<T>(i, "k2"), out_as<T>(o, "scores"),
              out_index(o, "indices"));
      }));
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("pkm_topk", kTorchDtypes));
#endif
#ifdef OPBENCH_HAVE_CUDA
  Impl gpu = cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o,
                                       const Params& p) {
    cuda::pkm_topk(i.at("q").data<float>(), i.at("k1").data<float>(), i.at("k2").data<float>(),
                   o.at("scores").data<float>(), o.at("indices").data<std::int64_t>(), dims_of(p));
  });
  gpu.unsupported = [](const Params& p) { return cuda::pkm_topk_unsupported(dims_of(p)); };
  gpu.scratch_bytes = [](const Params& p) { return cuda::pkm_topk_scratch_bytes(dims_of(p)); };
  op.impls.push_back(std::move(gpu));
#endif
  reg.add_op(std::move(op));
}

void register_bruteforce_topk(Registry& reg) {
  Op op = search_op("bruteforce_topk",
                    "exact top-k over all N materialized product keys (the baseline)",
                    search_axes({"4096"}, {"64"}, {"normal", kTies}), true);
  Impl plain = typed_host_impl<float, bf16_t, f16_t>(
      "cpu.plain", "q", [](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
        using T = decltype(t);
        cpu::plain::bruteforce_topk(in_as<T>(i, "q"), in_as<T>(i, "k1"), in_as<T>(i, "k2"),
                                    out_as<T>(o, "scores"), out_index(o, "indices"), dims_of(p));
      });
  plain.unsupported = [](const Params& p) -> std::string {
    const pkm::Dims d = dims_of(p);
    const double macs = static_cast<double>(d.tokens * d.heads) * static_cast<double>(d.keys()) *
                        static_cast<double>(d.dk);
    if (macs <= kPlainBruteforceLimit) return "";
    return "the scalar brute force would take minutes here (more than 8.6e9 multiply-adds); "
           "cpu.fast and faiss cover this size";
  };
  op.impls.push_back(std::move(plain));
  op.impls.push_back(typed_stateful_impl(
      "cpu.fast", "q",
      [](auto t, const TensorMap& i, const Params& p) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>) {
          return std::make_unique<cpu::fast::BruteforceTopk>(in32(i, "k1"), in32(i, "k2"),
                                                             dims_of(p));
        } else {
          return std::make_unique<cpu::fast::BruteforceTopkHalf<T>>(in_as<T>(i, "k1"),
                                                                    in_as<T>(i, "k2"), dims_of(p));
        }
      },
      [](auto& k, const TensorMap& i, TensorMap& o) {
        using T = typename std::decay_t<decltype(k)>::Storage;
        k.run(in_as<T>(i, "q"), out_as<T>(o, "scores"), out_index(o, "indices"));
      }));
#ifdef OPBENCH_HAVE_TORCH
  Impl torch = torch_impl("bruteforce_topk", kTorchDtypes);
  torch.unsupported = [](const Params& p) -> std::string {
    const pkm::Dims d = dims_of(p);
    const double bytes =
        4.0 * static_cast<double>(d.tokens * d.heads) * static_cast<double>(d.keys());
    if (bytes <= kTorchBruteforceScoreBytes) return "";
    return "torch.matmul(queries, keys^T) would hold more than 4 GiB of scores here; cpu.fast "
           "and faiss cover this size";
  };
  op.impls.push_back(std::move(torch));
#endif
#ifdef OPBENCH_HAVE_CUDA
  Impl gpu =
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::bruteforce_topk(i.at("q").data<float>(), i.at("k1").data<float>(),
                              i.at("k2").data<float>(), o.at("scores").data<float>(),
                              o.at("indices").data<std::int64_t>(), dims_of(p));
      });
  gpu.unsupported = [](const Params& p) { return cuda::bruteforce_topk_unsupported(dims_of(p)); };
  gpu.scratch_bytes = [](const Params& p) {
    return cuda::bruteforce_topk_scratch_bytes(dims_of(p));
  };
  op.impls.push_back(std::move(gpu));
#endif
#ifdef OPBENCH_HAVE_FAISS
  Impl faiss = stateful_impl<faiss_peer::FlatTopk>(
      "faiss",
      [](const TensorMap& i, const Params& p) {
        return std::make_unique<faiss_peer::FlatTopk>(in32(i, "k1"), in32(i, "k2"), dims_of(p));
      },
      [](faiss_peer::FlatTopk& k, const TensorMap& i, TensorMap& o) {
        k.run(in32(i, "q"), out32(o, "scores"), out_index(o, "indices"));
      });
  op.impls.push_back(std::move(faiss));
#endif
  reg.add_op(std::move(op));
}

// --- the memory layer ----------------------------------------------------------------------------

ref::PkmLayerWeights layer_weights_f64(const std::vector<F64>& w) {
  return {w[0].p(), w[1].p(), w[2].p(), w[3].p(), w[4].p(), w[5].p(), w[6].p(), w[7].p(), w[8].p()};
}

const char* const kLayerWeights[] = {"w",       "b",  "bn_mean", "bn_var", "bn_gamma",
                                     "bn_beta", "k1", "k2",      "values"};

std::vector<F64> layer_weights(const TensorMap& in) {
  std::vector<F64> w;
  for (const char* name : kLayerWeights) w.emplace_back(in.at(name));
  return w;
}

template <class T>
pkm::LayerWeightsOf<T> layer_weights_as(const TensorMap& i) {
  return {in_as<T>(i, "w"),  in_as<T>(i, "b"),        in32(i, "bn_mean"),
          in32(i, "bn_var"), in_as<T>(i, "bn_gamma"), in_as<T>(i, "bn_beta"),
          in_as<T>(i, "k1"), in_as<T>(i, "k2"),       in_as<T>(i, "values")};
}

#ifdef OPBENCH_HAVE_CUDA
// The same weights as device pointers, for cuda.fast.
pkm::LayerWeights layer_weights_device(const DeviceTensorMap& i) {
  auto f = [&i](const char* name) -> const float* { return i.at(name).data<float>(); };
  return {f("w"),       f("b"),  f("bn_mean"), f("bn_var"), f("bn_gamma"),
          f("bn_beta"), f("k1"), f("k2"),      f("values")};
}
#endif

// Scores as in the search; y sums heads * k weighted rows whose weights carry the scores'
// relative error, so 1e-4 of |y| with an absolute floor for y near zero. A bfloat16 or float16 y
// is the float32 sum rounded once more: plus u |y|.
Tolerance layer_tolerance(DType dt) {
  return {1e-5 + storage_rounding_floor(dt), 1e-4 + storage_rounding(dt)};
}

// The layer's indices are checked like a search's (ties accepted); for a token where a tie was
// accepted, the expected y is the reference's readout of the implementation's own choice.
Agreement compare_layer(const TensorMap& in, const TensorMap& out, const TensorMap& ref,
                        const Params& p, Tolerance tol) {
  const pkm::Dims d = dims_of(p);
  const ref::PkmShape s = shape_of(d);
  const std::int64_t hdk = d.heads * d.dk, din = p.i("din"), dv = p.i("dv");
  const std::vector<F64> w = layer_weights(in);
  const ref::PkmLayerWeights wts = layer_weights_f64(w);
  std::vector<double> q(static_cast<std::size_t>(d.tokens * hdk));
  ref::pkm_query(F64(in.at("x")).p(), wts.w, wts.b, wts.bn_mean, wts.bn_var, wts.bn_gamma,
                 wts.bn_beta, q.data(), d.tokens, din, hdk, kEps);
  // The reference's own scores of its indices, for the tie test.
  const Tensor& ri = ref.at("indices");
  Tensor ref_scores(DType::f64, ri.shape());
  for (std::int64_t at = 0; at < ri.numel(); ++at) {
    const std::int64_t r = at / d.k;
    ref_scores.data<double>()[at] = ref::product_key_score(
        q.data(), wts.k1, wts.k2, s, r / d.heads, r % d.heads, ri.data<std::int64_t>()[at]);
  }
  // The search runs on float32 queries in every dtype: float32's tie rule (y's rule adds the
  // rounding of y into its dtype).
  TopkCheck c = check_topk(q.data(), wts.k1, wts.k2, s, out.at("indices"), nullptr, ri, ref_scores,
                           layer_tolerance(DType::f32));
  Tensor expected = ref.at("y").clone();
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    bool tied = false;
    for (std::int64_t h = 0; h < d.heads; ++h) tied = tied || c.tied_rows[t * d.heads + h];
    if (!tied || c.agreement.mismatches > 0) continue;
    ref::pkm_readout(c.exact.data() + t * d.heads * d.k,
                     out.at("indices").data<std::int64_t>() + t * d.heads * d.k, wts.values,
                     expected.data<double>() + t * dv, 1, d.heads, d.k, dv);
  }
  Agreement total = c.agreement;
  merge_agreement(total, compare_tensor("y", out.at("y"), expected, tol, false));
  return total;
}

void register_pkm_layer(Registry& reg) {
  Op op;
  op.suite = "pkm";
  op.name = "pkm_layer";
  op.title = "memory layer: BN(x W + b) queries, product-key top-k, softmax, sum of value rows";
  op.paper =
      "Lample et al. 2019, Large Memory Layers with Product Keys, Sec. 3.1 eqs. 1-3, Sec. 3.2-3.3";
  op.axes = {int_axis("keys", {"4096"}, {"65536", "262144"}, "product keys N (a perfect square)"),
             int_axis("tokens", {"64"}, {"1", "1024", "4096"}, "tokens"),
             int_axis("heads", {"4"}, {"4"}, "memory heads, outputs summed"),
             int_axis("dk", {"256"}, {"256"}, "key dimension (two halves of dk/2)"),
             int_axis("k", {"32"}, {"32"}, "value rows read per token and head"),
             int_axis("din", {"512"}, {"512"}, "input dimension"),
             int_axis("dv", {"512"}, {"512"}, "value dimension"),
             suite::dist_axis({"normal"}, {"normal", "uniform"}, "the layer input x")};
  op.derived = {{"subkeys", [](const Params& p) { return isqrt(p.i("keys")); }},
                {"half", [](const Params& p) { return p.i("dk") / 2; }},
                {"hdk", [](const Params& p) { return p.i("heads") * p.i("dk"); }}};
  // Weights as the paper initializes them, roughly: projection ~ 1/sqrt(din), keys small enough
  // that the softmax over the k scores is spread (scores of order 1), values of order 1.
  op.tensors = {in("x", {"tokens", "din"}),
                in("w", {"din", "hdk"}, "normal(0,0.044)"),
                in("b", {"hdk"}, "normal(0,0.1)"),
                in_f32("bn_mean", {"hdk"}, "normal(0,0.5)"),
                in_f32("bn_var", {"hdk"}, "uniform(0.5,2)"),
                in("bn_gamma", {"hdk"}, "uniform(0.5,1.5)"),
                in("bn_beta", {"hdk"}, "normal(0,0.1)"),
                in("k1", {"heads", "subkeys", "half"}, "normal(0,0.1)"),
                in("k2", {"heads", "subkeys", "half"}, "normal(0,0.1)"),
                in("values", {"keys", "dv"}, "normal(0,1)"),
                out("y", {"tokens", "dv"}),
                out_index("indices", {"tokens", "heads", "k"})};
  op.validate = validate_search;
  op.tolerance = layer_tolerance;
  op.dtypes = {DType::f32, DType::bf16, DType::f16};
  op.cost = [shape_helper = op](const Params& p, DType dt) {
    const pkm::Dims d = dims_of(p);
    const double t = static_cast<double>(d.tokens);
    const double hdk = static_cast<double>(d.heads * d.dk);
    const double flops =
        t * (2.0 * static_cast<double>(p.i("din")) * hdk +
             static_cast<double>(d.heads) * (2.0 * static_cast<double>(d.n * d.dk) +
                                             2.0 * static_cast<double>(d.k * p.i("dv"))));
    return Cost{flops, suite::tensor_bytes(shape_helper, p, dt)};
  };
  op.sample_axis = "tokens";
  op.reference_flops = [](const Params& p) {
    const pkm::Dims d = dims_of(p);
    return static_cast<double>(d.tokens) *
           (2.0 * static_cast<double>(p.i("din") * d.heads * d.dk) +
            static_cast<double>(d.heads) * 2.0 * static_cast<double>(d.n * d.dk + d.k * p.i("dv")));
  };
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    const std::vector<F64> w = layer_weights(i);
    ref::pkm_layer(F64(i.at("x")).p(), layer_weights_f64(w), out64(o, "y"), out_index(o, "indices"),
                   shape_of(dims_of(p)), p.i("din"), p.i("dv"), kEps);
  };
  op.compare = compare_layer;
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>(
      "cpu.plain", "x", [](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
        using T = decltype(t);
        cpu::plain::pkm_layer(in_as<T>(i, "x"), layer_weights_as<T>(i), out_as<T>(o, "y"),
                              out_index(o, "indices"), dims_of(p), p.i("din"), p.i("dv"),
                              static_cast<float>(kEps));
      }));
  op.impls.push_back(typed_stateful_impl(
      "cpu.fast", "x",
      [](auto t, const TensorMap&, const Params& p) {
        using T = decltype(t);
        const float eps = static_cast<float>(kEps);
        if constexpr (std::is_same_v<T, float>) {
          return std::make_unique<cpu::fast::PkmLayer>(dims_of(p), p.i("din"), p.i("dv"), eps);
        } else {
          return std::make_unique<cpu::fast::PkmLayerHalf<T>>(dims_of(p), p.i("din"), p.i("dv"),
                                                              eps);
        }
      },
      [](auto& k, const TensorMap& i, TensorMap& o) {
        using T = typename std::decay_t<decltype(k)>::Storage;
        k.run(in_as<T>(i, "x"), layer_weights_as<T>(i), out_as<T>(o, "y"), out_index(o, "indices"));
      }));
#ifdef OPBENCH_HAVE_TORCH
  op.impls.push_back(torch_impl("pkm_layer", {DType::f32}, kEps));
#endif
#ifdef OPBENCH_HAVE_CUDA
  Impl gpu =
      cuda_impl("cuda.fast", [](const DeviceTensorMap& i, DeviceTensorMap& o, const Params& p) {
        cuda::pkm_layer(i.at("x").data<float>(), layer_weights_device(i), o.at("y").data<float>(),
                        o.at("indices").data<std::int64_t>(), dims_of(p), p.i("din"), p.i("dv"),
                        static_cast<float>(kEps));
      });
  gpu.unsupported = [](const Params& p) { return cuda::pkm_layer_unsupported(dims_of(p)); };
  gpu.scratch_bytes = [](const Params& p) { return cuda::pkm_layer_scratch_bytes(dims_of(p)); };
  op.impls.push_back(std::move(gpu));
#endif
  reg.add_op(std::move(op));
}

}  // namespace

void register_pkm_suite(Registry& reg) {
  register_pkm_topk(reg);
  register_bruteforce_topk(reg);
  register_pkm_layer(reg);
  register_pkm_layer_backward(reg);
}

}  // namespace opbench
