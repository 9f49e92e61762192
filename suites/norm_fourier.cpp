// The Fourier-domain normalizations of Lee, Bae, Kim 2023 ("Decompose, Adjust, Compose", CVPR):
// PCNorm, CCNorm and SCNorm over x[n, c, h, w], each (n, c) plane through its 2-D DFT. The
// equations, the statistics each uses and where the authors' code differs are in
// reference/norm_fourier.hpp; cpu.plain and cpu.fast (FFTW) in kernels/cpu/norm_fourier.hpp.
#include "reference/norm_fourier.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "harness/agreement.hpp"
#include "kernels/cpu/norm_fourier.hpp"
#include "suites/common.hpp"
#include "suites/norm_common.hpp"
#include "suites/norm_papers.hpp"

namespace opbench {
namespace {

using namespace suite;
using namespace suite::norm;

#define OVERLOADS OPBENCH_OVERLOADS

// (Equation numbers: reference/norm_fourier.hpp says why they are missing.)
const char* const kPaper = "Lee, Bae, Kim 2023 (CVPR, arXiv 2303.02328): PCNorm, CCNorm, SCNorm";
// The learned mixing weight of CCNorm and SCNorm (a softmax output in the authors' code).
const char* const kLambda = "uniform(0,1)";

// The float64 reference computes each DFT from its definition, O(hw (h + w)) per plane, three
// transforms per plane: the quick sweep stays at 16 x 32 and 32 x 32 planes (all three ops take
// ~1 s there). The full sweep takes a non-power-of-two height (24) and width (56), non-square
// planes and 128 x 128, whose ~20 ms of reference per plane is why c stays at 8 there.
// The dist axis is the family's; `constant_rows` makes every image row (the run along w) constant,
// so each plane varies along h only and its spectrum lives in the v = 0 column: every other bin is
// empty, its phase undefined (rounding noise in float32), and an implementation that gives such a
// bin an amplitude of its own (as the authors' clamp at 1e-5 does) fails there.
std::vector<Axis> fourier_axes() {
  return {int_axis("n", {"4"}, {"2", "8"}, "batch (BatchNorm's statistics run over it)"),
          int_axis("c", {"8"}, {"8"}, "channels"),
          int_axis("h", {"16", "32"}, {"24", "128"}, "plane height"),
          int_axis("w", {"32"}, {"56", "128"}, "plane width"), dist_axis()};
}

// FFTW's plans take int sizes.
std::string fourier_valid(const Params& p) {
  constexpr std::int64_t kMax = std::int64_t{1} << 30;
  if (p.i("h") > kMax || p.i("w") > kMax || p.i("h") * p.i("w") > kMax) {
    return "h * w must be at most 2^30 (FFTW plans take int sizes)";
  }
  return "";
}

// The agreement rule. An FFT's rounding error is not relative to each element but to the whole
// plane: every output element is a sum over all bins, and each radix stage of the forward and
// the inverse transform adds at most a few u (float32's unit roundoff, 2^-24) relative to the
// plane's 2-norm, over log2(hw) stages each way. In the 2-norm the error is thus within
// ~2 log2(hw) u ||y||; spread over the plane's hw elements, that is 2 u log2(hw) rms(y) per
// element on average, and the largest may be a few times that. We allow kFftUnits u log2(hw) rms(y)
// of the reference plane on top of the family's rule (norm_tolerance: the statistics, the
// normalization, and for bf16/f16 the output's own rounding, u of the dtype relative). The
// kernels' worst measured error is 0.68 u log2(hw) rms, under a tenth of this term (the test
// holds them within a quarter, tests/test_norm_fourier.cpp); a phase sign flip, a missing 1/(hw)
// or the amplitude normalized with the wrong statistic are off by 1e-2 rms or more, 1e3 times
// beyond it.
constexpr double kFftUnits = 8;

Agreement compare_planes(const TensorMap&, const TensorMap& o, const TensorMap& r, const Params&,
                         Tolerance tol) {
  const Tensor& out = o.at("y");
  const Tensor& ref = r.at("y");
  if (out.shape() != ref.shape() || ref.rank() != 4)
    return compare_tensor("y", out, ref, tol, false);
  const std::int64_t hw = ref.dim(2) * ref.dim(3), planes = ref.numel() / hw;
  const double fft = kFftUnits * unit_roundoff(DType::f32) * std::log2(std::max<double>(2, hw));
  const double rel_floor = tol.atol / tol.rtol;
  ElementChecker check("y", ref.shape());
  std::vector<double> got(static_cast<std::size_t>(hw)), want(got.size());
  for (std::int64_t p = 0; p < planes; ++p) {
    out.values_as_double(p * hw, hw, got.data());
    ref.values_as_double(p * hw, hw, want.data());
    double sq = 0;
    for (double v : want) sq += v * v;
    const double plane = fft * std::sqrt(sq / static_cast<double>(hw));
    for (std::int64_t k = 0; k < hw; ++k) {
      const std::size_t uk = static_cast<std::size_t>(k);
      const double want_k = representable_reference(want[uk], out.dtype());
      const double allowed =
          std::isinf(want_k) ? 0 : tol.atol + tol.rtol * std::abs(want_k) + plane;
      check.element(p * hw + k, got[uk], want_k, allowed, rel_floor);
    }
  }
  return check.finish();
}

// An op of the family: x, the per-channel gamma and beta, and (CCNorm, SCNorm) lambda in; y out.
// Cost: an r2c and a c2r transform per plane (~2.5 hw log2(hw) flops each, the usual count of
// 5 N log2 N for a complex transform of N points, halved for real data) and ~10 flops per element
// for the statistics, the normalization and the affine.
Op fourier_op(const char* name, const char* title, bool with_lambda) {
  std::vector<TensorDecl> tensors = {in("x", {"n", "c", "h", "w"})};
  if (with_lambda) tensors.push_back(in("lambda", {"1"}, kLambda));
  tensors.push_back(in("gamma", {"c"}, kScale));
  tensors.push_back(in("beta", {"c"}, kShift));
  tensors.push_back(out("y", {"n", "c", "h", "w"}));
  Op op = make_op(name, title, kPaper, fourier_axes(), std::move(tensors), 0);
  op.validate = fourier_valid;
  op.compare = compare_planes;
  op.cost = [shape_helper = op](const Params& p, DType dt) {
    const double hw = static_cast<double>(p.i("h") * p.i("w"));
    const double planes = static_cast<double>(p.i("n") * p.i("c"));
    return Cost{planes * hw * (5 * std::log2(hw) + 10), tensor_bytes(shape_helper, p, dt)};
  };
  return op;
}

float lambda_of(const TensorMap& i) {
  return static_cast<float>(i.at("lambda").value_as_double(0));
}

void register_pcnorm(Registry& reg) {
  Op op = fourier_op("pcnorm",
                     "PCNorm: the amplitude of BatchNorm(x) with the phase of x, per 2-D DFT plane",
                     false);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::pcnorm(F64(i.at("x")).p(), F64(i.at("gamma")).p(), F64(i.at("beta")).p(), out64(o, "y"),
                p.i("n"), p.i("c"), p.i("h"), p.i("w"), kEps);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), in_as<T>(i, "gamma"), in_as<T>(i, "beta"), out_as<T>(o, "y"), p.i("n"),
         p.i("c"), p.i("h"), p.i("w"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::pcnorm)), call(OVERLOADS(cpu::fast::pcnorm)));
  reg.add_op(std::move(op));
}

void register_ccnorm(Registry& reg) {
  Op op = fourier_op(
      "ccnorm", "CCNorm: PCNorm with the phase of x - lambda * batch mean (lambda learned)", true);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::ccnorm(F64(i.at("x")).p(), i.at("lambda").value_as_double(0), F64(i.at("gamma")).p(),
                F64(i.at("beta")).p(), out64(o, "y"), p.i("n"), p.i("c"), p.i("h"), p.i("w"), kEps);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), lambda_of(i), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), p.i("n"), p.i("c"), p.i("h"), p.i("w"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::ccnorm)), call(OVERLOADS(cpu::fast::ccnorm)));
  reg.add_op(std::move(op));
}

void register_scnorm(Registry& reg) {
  Op op = fourier_op("scnorm",
                     "SCNorm: amplitude lambda A(InstanceNorm(x)) + (1 - lambda) A(x), phase of x",
                     true);
  op.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    ref::scnorm(F64(i.at("x")).p(), i.at("lambda").value_as_double(0), F64(i.at("gamma")).p(),
                F64(i.at("beta")).p(), out64(o, "y"), p.i("n"), p.i("c"), p.i("h"), p.i("w"), kEps);
  };
  // Instance statistics keep the samples independent, so agreement at large sizes may run on a
  // seeded sample of them (PCNorm's and CCNorm's batch statistics tie the samples together).
  // Three definition DFTs per plane: 8 flops per complex multiply-add, hw (h + w) of them each.
  op.sample_axis = "n";
  op.reference_flops = [](const Params& p) {
    const double h = static_cast<double>(p.i("h")), w = static_cast<double>(p.i("w"));
    return static_cast<double>(p.i("n") * p.i("c")) * 3 * 8 * h * w * (h + w);
  };
  auto call = [](auto fn) {
    return [fn](auto t, const TensorMap& i, TensorMap& o, const Params& p) {
      using T = decltype(t);
      fn(in_as<T>(i, "x"), lambda_of(i), in_as<T>(i, "gamma"), in_as<T>(i, "beta"),
         out_as<T>(o, "y"), p.i("n"), p.i("c"), p.i("h"), p.i("w"), static_cast<float>(kEps));
    };
  };
  add_plain_fast(op, "x", call(OVERLOADS(cpu::plain::scnorm)), call(OVERLOADS(cpu::fast::scnorm)));
  reg.add_op(std::move(op));
}

}  // namespace

void register_norm_fourier(Registry& reg) {
  register_pcnorm(reg);
  register_ccnorm(reg);
  register_scnorm(reg);
}

}  // namespace opbench
