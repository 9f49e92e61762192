// GoogleTest suite of the oneDNN peer of the norm family (kernels/cpu/onednn_norm.*): each binding
// against the float64 reference of reference/norm.hpp, binding errors, and that run() executes on
// the bound buffers in place; bf16 storage against the reference of the rounded inputs (further
// down), f16 unimplemented by oneDNN 2.6 and reported as such.
//
// Agreement is |out - ref| <= 1e-5 + 1e-4 * |ref| for every element (a NaN left in the poisoned
// output counts as out of tolerance), on shapes rows {1, 5, 300} x cols {1, 3, 17, 4095, 4097},
// at 1 and 2 OpenMP threads, for two seeded input distributions:
//   normal: x ~ N(0, 1)
//   offset: x ~ 1e4 + N(0, 1) (a large common offset)
//
// KNOWN MISS, not loosened: oneDNN's layernorm and batchnorm_train miss the tolerance on the offset
// distribution. Measured with oneDNN 2.6.3 (Debian) on an AMD EPYC with AVX-512, 1 and 2 threads,
// with the seeds of this file:
//   layernorm       out of tolerance in all 24 shapes with cols >= 3: max |err| 4.5e-4 .. 1.3e-2,
//                   max err/tol 11 .. 381 (971505 of 1229100 elements out at 300 x 4097);
//                   the same at 1 and 2 threads (rows are independent)
//   batchnorm_train out of tolerance in every shape with rows >= 5 (19 of 20 shape x thread runs):
//                   max |err| 3.3e-4 .. 1.4e-2, max err/tol 14 .. 1379 (1183050 of 1229100 out
//                   at 300 x 4097); 300 x 1 misses at 1 thread (err/tol 197) but agrees at 2
//                   (0.34): with one channel the split of the rows over threads changes the sum.
// The cause is the float32 mean: oneDNN computes the statistics in two passes (the variance is
// fine) but keeps the mean in float32, whose rounding alone (half an ulp of 1e4 is 4.9e-4) moves
// x - mean by up to ~50x the tolerance when the spread of the data is 1; any kernel that holds the
// mean in float32 misses this distribution. Where the reduction has a single element the output is
// exactly beta and agrees. batchnorm_infer (statistics given) agrees everywhere, max err/tol 0.04;
// on the normal distribution every op agrees with max err/tol <= 0.08. The known-miss tests check
// that the error stays bounded (mean rounding, nothing worse); when a oneDNN release meets the
// tolerance they say so (a test property and a note), never fail, and the case can move back to
// the agreeing list.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>
#include <ostream>
#include <regex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "harness/half.hpp"
#include "harness/op.hpp"
#include "harness/tensor.hpp"
#include "reference/norm.hpp"
#include "reference/norm_backward.hpp"

#if defined(OPBENCH_HAVE_ONEDNN)
#include "kernels/cpu/onednn_norm.hpp"
#include "kernels/cpu/onednn_norm_backward.hpp"
#include "oneapi/dnnl/dnnl.hpp"
#endif

namespace opbench {
namespace {

#if defined(OPBENCH_HAVE_ONEDNN)

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-4;
constexpr float kEps = 1e-5f;

// splitmix64 and Box-Muller: the same values with any standard library.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t s_;
};

enum class Op { layernorm, batchnorm_infer, batchnorm_train };
enum class Dist { normal, offset };

const char* op_name(Op op) {
  switch (op) {
    case Op::layernorm:
      return "layernorm";
    case Op::batchnorm_infer:
      return "batchnorm_infer";
    default:
      return "batchnorm_train";
  }
}
const char* dist_name(Dist d) {
  return d == Dist::normal ? "normal" : "offset";
}

Tensor make(const Shape& shape, Rng& rng, double offset, double lo = 0, double hi = 0) {
  Tensor t(DType::f32, shape);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    p[i] = static_cast<float>(hi > lo ? lo + (hi - lo) * rng.uniform() : offset + rng.normal());
  }
  return t;
}

std::vector<double> widen(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<double>(p, p + t.numel());
}

// The inputs of one case, drawn from `dist` (x, and running_mean which sits where x does);
// gamma ~ U(0.5, 1.5), beta ~ N(0, 1), running_var ~ U(0.5, 1.5).
TensorMap make_inputs(Op op, Dist dist, std::int64_t rows, std::int64_t cols) {
  Rng rng(0x5EEDull * 1000003 + static_cast<std::uint64_t>(op) * 7919 +
          static_cast<std::uint64_t>(rows) * 131 + static_cast<std::uint64_t>(cols));
  const double offset = dist == Dist::offset ? 1e4 : 0.0;
  TensorMap in;
  in["x"] = make({rows, cols}, rng, offset);
  in["gamma"] = make({cols}, rng, 0, 0.5, 1.5);
  in["beta"] = make({cols}, rng, 0);
  if (op == Op::batchnorm_infer) {
    in["running_mean"] = make({cols}, rng, offset);
    in["running_var"] = make({cols}, rng, 0, 0.5, 1.5);
  }
  return in;
}

TensorMap make_outputs(std::int64_t rows, std::int64_t cols) {
  TensorMap out;
  out["y"] = Tensor(DType::f32, {rows, cols});
  out["y"].poison();
  return out;
}

BindFn binding(Op op) {
  switch (op) {
    case Op::layernorm:
      return onednn::bind_layernorm(kEps);
    case Op::batchnorm_infer:
      return onednn::bind_batchnorm_infer(kEps);
    default:
      return onednn::bind_batchnorm_train(kEps);
  }
}

std::vector<double> reference(Op op, const TensorMap& in) {
  const std::int64_t rows = in.at("x").dim(0), cols = in.at("x").dim(1);
  const auto x = widen(in.at("x")), gamma = widen(in.at("gamma")), beta = widen(in.at("beta"));
  std::vector<double> y(static_cast<std::size_t>(rows * cols));
  switch (op) {
    case Op::layernorm:
      ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, kEps);
      break;
    case Op::batchnorm_infer: {
      const auto mean = widen(in.at("running_mean")), var = widen(in.at("running_var"));
      ref::batchnorm_infer(x.data(), mean.data(), var.data(), gamma.data(), beta.data(), y.data(),
                           rows, cols, kEps);
      break;
    }
    case Op::batchnorm_train:
      ref::batchnorm_train(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, kEps);
      break;
  }
  return y;
}

struct Agreement {
  double max_abs = 0;    // max |out - ref| (infinite where out is NaN)
  double max_ratio = 0;  // max |out - ref| / (atol + rtol * |ref|)
  std::int64_t out_of_tol = 0;
  std::int64_t nan = 0;
  std::int64_t n = 0;
  std::string text() const {
    return "max |err| " + std::to_string(max_abs) + ", max err/tol " + std::to_string(max_ratio) +
           ", " + std::to_string(out_of_tol) + " of " + std::to_string(n) + " out of tolerance (" +
           std::to_string(nan) + " NaN)";
  }
};

Agreement compare(const Tensor& out, const std::vector<double>& ref) {
  Agreement a;
  const float* o = out.data<float>();
  a.n = out.numel();
  for (std::int64_t i = 0; i < a.n; ++i) {
    const double r = ref[static_cast<std::size_t>(i)];
    double err = std::fabs(static_cast<double>(o[i]) - r);
    if (std::isnan(o[i])) {
      ++a.nan;
      err = std::numeric_limits<double>::infinity();
    }
    const double tol = kAtol + kRtol * std::fabs(r);
    a.max_abs = std::max(a.max_abs, err);
    a.max_ratio = std::max(a.max_ratio, err / tol);
    if (!(err <= tol)) ++a.out_of_tol;
  }
  return a;
}

// Binds and runs one case at `threads` OpenMP threads, then restores the thread count.
Agreement run_case(Op op, const TensorMap& in, int threads) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  TensorMap out = make_outputs(in.at("x").dim(0), in.at("x").dim(1));
  auto kernel = binding(op)(in, out, Params{});
  kernel->run();
  omp_set_num_threads(saved);
  return compare(out.at("y"), reference(op, in));
}

// Where oneDNN 2.6 misses the tolerance (see the top of this file): the offset distribution, for
// the ops that compute statistics, when the reduction has more than one element.
bool known_miss(Op op, Dist dist, std::int64_t rows, std::int64_t cols) {
  if (dist != Dist::offset) return false;
  if (op == Op::layernorm) return cols > 1;
  if (op == Op::batchnorm_train) return rows > 1;
  return false;
}

// Whether a known miss is certain enough to assert. A single statistic (one row of layernorm, one
// column of batchnorm_train) can round to a nearly exact float32 mean by chance: measured,
// batchnorm_train 300x1 misses at 1 thread (err/tol 16) and agrees at 2 threads (0.34). With 5 or
// more statistics a miss of each is near certain, and every such case missed here.
bool miss_is_certain(Op op, std::int64_t rows, std::int64_t cols) {
  return (op == Op::layernorm ? rows : cols) >= 5;
}

using CaseParam = std::tuple<Op, Dist, std::int64_t, std::int64_t>;

class OnednnAgreement : public ::testing::TestWithParam<CaseParam> {};

TEST_P(OnednnAgreement, MatchesFloat64Reference) {
  const auto [op, dist, rows, cols] = GetParam();
  const TensorMap in = make_inputs(op, dist, rows, cols);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::string(op_name(op)) + " " + dist_name(dist) + " " + std::to_string(rows) +
                 "x" + std::to_string(cols) + " at " + std::to_string(threads) + " threads");
    const Agreement a = run_case(op, in, threads);
    RecordProperty("threads_" + std::to_string(threads), a.text());
    EXPECT_EQ(a.nan, 0) << "output left unwritten (NaN poison): " << a.text();
    if (!known_miss(op, dist, rows, cols)) {
      EXPECT_EQ(a.out_of_tol, 0) << a.text();
      continue;
    }
    // Known miss: the error comes from rounding the mean to float32, so it stays small in
    // absolute terms (measured at most 1.4e-2 here); anything larger is a new problem.
    EXPECT_LT(a.max_abs, 0.1) << "known miss grew beyond mean rounding: " << a.text();
    // A known miss that now meets the tolerance is reported, never a failure: a more accurate
    // peer must not turn CI red (suites/known_failures.json lists the same cases for runs).
    if (miss_is_certain(op, rows, cols) && a.out_of_tol == 0) {
      RecordProperty("known_miss_now_passes", a.text());
      std::cout << "note: oneDNN " << onednn::version()
                << " now meets the tolerance on the offset distribution (" << a.text()
                << "): remove this case from known_miss() and the manifest\n";
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<CaseParam>& info) {
  const auto [op, dist, rows, cols] = info.param;
  return std::string(op_name(op)) + "_" + dist_name(dist) + "_" + std::to_string(rows) + "x" +
         std::to_string(cols);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OnednnAgreement,
                         ::testing::Combine(::testing::Values(Op::layernorm, Op::batchnorm_infer,
                                                              Op::batchnorm_train),
                                            ::testing::Values(Dist::normal, Dist::offset),
                                            ::testing::Values<std::int64_t>(1, 5, 300),
                                            ::testing::Values<std::int64_t>(1, 3, 17, 4095, 4097)),
                         case_name);

// ---- 16-bit storage: bf16 (and f16 where oneDNN implements it) ----
//
// Inputs are drawn as above (normal x, gamma ~ U(0.5, 1.5), beta ~ N(0, 1)) and rounded once to
// the dtype; the float64 reference is computed from the rounded values, so the only differences
// left are oneDNN's: float32 statistics and arithmetic (covered by the f32 tolerance 1e-5 +
// 1e-4 * |ref|, which oneDNN meets by a wide margin on normal data in f32) and one rounding of the
// output to the dtype (relative error at most u = 2^-8 for bf16, 2^-11 for f16). Hence
// |y - ref| <= 1e-5 + (1e-4 + u) * |ref|. Running statistics stay float32 (as the suites declare).

double output_rounding(DType dt) {
  return dt == DType::bf16 ? 0x1.0p-8 : 0x1.0p-11;
}

Tensor round_to(DType dt, const Tensor& f32) {
  Tensor t(dt, f32.shape());
  const float* p = f32.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DType::bf16) {
      t.data<bf16_t>()[i] = to_bf16(p[i]);
    } else {
      t.data<f16_t>()[i] = to_f16(p[i]);
    }
  }
  return t;
}

// The normal-distribution inputs of make_inputs with x, gamma and beta rounded to `dt`.
TensorMap make_half_inputs(Op op, DType dt, std::int64_t rows, std::int64_t cols) {
  TensorMap in = make_inputs(op, Dist::normal, rows, cols);
  for (const char* name : {"x", "gamma", "beta"}) in[name] = round_to(dt, in.at(name));
  return in;
}

// y in `dt`, every element a quiet NaN of that format (0x7FC0 in bf16, 0x7E00 in f16).
TensorMap make_half_outputs(DType dt, std::int64_t rows, std::int64_t cols) {
  TensorMap out;
  out["y"] = Tensor(dt, {rows, cols});
  auto* bits = static_cast<std::uint16_t*>(out["y"].raw());
  std::fill(bits, bits + out["y"].numel(), dt == DType::bf16 ? 0x7FC0 : 0x7E00);
  return out;
}

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i)
    v[static_cast<std::size_t>(i)] = t.value_as_double(i);
  return v;
}

std::vector<double> half_reference(Op op, const TensorMap& in) {
  const std::int64_t rows = in.at("x").dim(0), cols = in.at("x").dim(1);
  const auto x = as_doubles(in.at("x")), gamma = as_doubles(in.at("gamma")),
             beta = as_doubles(in.at("beta"));
  std::vector<double> y(static_cast<std::size_t>(rows * cols));
  switch (op) {
    case Op::layernorm:
      ref::layernorm(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, kEps);
      break;
    case Op::batchnorm_infer: {
      const auto mean = as_doubles(in.at("running_mean")), var = as_doubles(in.at("running_var"));
      ref::batchnorm_infer(x.data(), mean.data(), var.data(), gamma.data(), beta.data(), y.data(),
                           rows, cols, kEps);
      break;
    }
    case Op::batchnorm_train:
      ref::batchnorm_train(x.data(), gamma.data(), beta.data(), y.data(), rows, cols, kEps);
      break;
  }
  return y;
}

Agreement compare_half(const Tensor& out, const std::vector<double>& ref) {
  Agreement a;
  const double rtol = kRtol + output_rounding(out.dtype());
  a.n = out.numel();
  for (std::int64_t i = 0; i < a.n; ++i) {
    const double r = ref[static_cast<std::size_t>(i)], o = out.value_as_double(i);
    double err = std::fabs(o - r);
    if (std::isnan(o)) {
      ++a.nan;
      err = std::numeric_limits<double>::infinity();
    }
    const double tol = kAtol + rtol * std::fabs(r);
    a.max_abs = std::max(a.max_abs, err);
    a.max_ratio = std::max(a.max_ratio, err / tol);
    if (!(err <= tol)) ++a.out_of_tol;
  }
  return a;
}

using HalfParam = std::tuple<Op, std::int64_t, std::int64_t>;

class OnednnBf16 : public ::testing::TestWithParam<HalfParam> {};

// The peer's own question to oneDNN, for the test's op.
std::vector<DType> declared(Op op) {
  return onednn::dtypes(op == Op::layernorm         ? onednn::Norm::layernorm
                        : op == Op::batchnorm_infer ? onednn::Norm::batchnorm_infer
                                                    : onednn::Norm::batchnorm_train);
}
bool declares(Op op, DType dt) {
  const std::vector<DType> d = declared(op);
  return std::find(d.begin(), d.end(), dt) != d.end();
}

TEST_P(OnednnBf16, MatchesFloat64ReferenceOfTheRoundedInputs) {
  const auto [op, rows, cols] = GetParam();
  if (!declares(op, DType::bf16)) {
    GTEST_SKIP() << "oneDNN " << onednn::version() << " implements no bf16 " << op_name(op)
                 << " on this CPU (bf16 needs AVX-512); the peer does not claim it here";
  }
  const TensorMap in = make_half_inputs(op, DType::bf16, rows, cols);
  const std::vector<double> ref = half_reference(op, in);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::string(op_name(op)) + " bf16 " + std::to_string(rows) + "x" +
                 std::to_string(cols) + " at " + std::to_string(threads) + " threads");
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    TensorMap out = make_half_outputs(DType::bf16, rows, cols);
    auto kernel = binding(op)(in, out, Params{});
    kernel->run();
    omp_set_num_threads(saved);
    const Agreement a = compare_half(out.at("y"), ref);
    RecordProperty("threads_" + std::to_string(threads), a.text());
    EXPECT_EQ(a.nan, 0) << "output left unwritten (NaN poison): " << a.text();
    EXPECT_EQ(a.out_of_tol, 0) << a.text();
  }
}

std::string half_case_name(const ::testing::TestParamInfo<HalfParam>& info) {
  const auto [op, rows, cols] = info.param;
  return std::string(op_name(op)) + "_" + std::to_string(rows) + "x" + std::to_string(cols);
}

INSTANTIATE_TEST_SUITE_P(Shapes, OnednnBf16,
                         ::testing::Combine(::testing::Values(Op::layernorm, Op::batchnorm_infer,
                                                              Op::batchnorm_train),
                                            ::testing::Values<std::int64_t>(1, 7, 64),
                                            ::testing::Values<std::int64_t>(17, 768, 4097)),
                         half_case_name);

// The peer claims a 16-bit dtype exactly where oneDNN binds it on this CPU (oneDNN 2.6.3: f16
// nowhere on x86, bf16 with AVX-512). Where it binds, it must meet the tolerance; where it does
// not, the binding says so in the error a case would record.
TEST(Onednn, EachSixteenBitDtypeIsClaimedExactlyWhereItBindsAndThenAgrees) {
  for (DType dt : {DType::bf16, DType::f16}) {
    for (Op op : {Op::layernorm, Op::batchnorm_infer, Op::batchnorm_train}) {
      const std::string what = std::string(dtype_name(dt)) + " " + op_name(op);
      SCOPED_TRACE(what);
      const TensorMap in = make_half_inputs(op, dt, 7, 768);
      TensorMap out = make_half_outputs(dt, 7, 768);
      std::unique_ptr<BoundKernel> kernel;
      try {
        kernel = binding(op)(in, out, Params{});
      } catch (const std::runtime_error& e) {
        const std::string msg = e.what();
        EXPECT_FALSE(declares(op, dt)) << "claimed, but: " << msg;
        EXPECT_EQ(msg.rfind(std::string("onednn ") + op_name(op) + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find("(dnnl_status unimplemented) for " + std::string(dtype_name(dt)) +
                           " x [7, 768]"),
                  std::string::npos)
            << msg;
        RecordProperty(std::string(dtype_name(dt)) + "_" + op_name(op), msg);
        continue;
      }
      EXPECT_TRUE(declares(op, dt)) << "oneDNN binds it, but the peer does not claim it";
      kernel->run();
      const Agreement a = compare_half(out.at("y"), half_reference(op, in));
      EXPECT_EQ(a.nan, 0) << a.text();
      EXPECT_EQ(a.out_of_tol, 0) << a.text();
    }
  }
}

// The peer times oneDNN's fast implementation for this CPU, never a reference or generic
// fallback. oneDNN names its reference implementations "ref:any", "bnorm_ref:any"; its batch
// normalization has ISA-specific ones ("...:avx2", from sse41 up), which 2-D [N, C] data in format
// nc did not get: ncsp_bnorm:any, which walks each column with a stride of C (72x slower at
// 4096x4096 here). Layer normalization has one implementation, simple_layer_normalization:any,
// which picks its vectorized kernels inside.
TEST(Onednn, EachOpRunsAnImplementationForThisCpuNotTheGenericOne) {
  const std::pair<onednn::Norm, const char*> ops[] = {{onednn::Norm::layernorm, "layernorm"},
                                                      {onednn::Norm::batchnorm_infer, "infer"},
                                                      {onednn::Norm::batchnorm_train, "train"}};
  for (auto [op, name] : ops) {
    for (auto [rows, cols] : {std::pair<std::int64_t, std::int64_t>{64, 4096}, {4096, 768}}) {
      const std::string impl = onednn::implementation(op, DType::f32, rows, cols);
      const std::string where =
          std::string(name) + " " + std::to_string(rows) + "x" + std::to_string(cols) + ": " + impl;
      EXPECT_EQ(impl.find("ref"), std::string::npos) << where;
      if (op != onednn::Norm::layernorm) EXPECT_EQ(impl.find(":any"), std::string::npos) << where;
    }
  }
}

TEST(Onednn, VersionIsTheLibraryInUse) {
  const std::string v = onednn::version();
  EXPECT_TRUE(std::regex_match(v, std::regex(R"(\d+\.\d+\.\d+)"))) << v;
  EXPECT_EQ(v.substr(0, v.find('.')), std::to_string(DNNL_VERSION_MAJOR)) << v;
}

// run() reads and writes the tensors given at bind time, in place: a change to x after binding
// shows in the next run, and every element of y is written again on each run.
TEST(Onednn, RunUsesTheBoundBuffersInPlace) {
  for (Op op : {Op::layernorm, Op::batchnorm_infer, Op::batchnorm_train}) {
    SCOPED_TRACE(op_name(op));
    TensorMap in = make_inputs(op, Dist::normal, 7, 33);
    TensorMap out = make_outputs(7, 33);
    auto kernel = binding(op)(in, out, Params{});
    kernel->run();
    EXPECT_EQ(compare(out.at("y"), reference(op, in)).out_of_tol, 0);

    float* x = in.at("x").data<float>();
    for (std::int64_t i = 0; i < in.at("x").numel(); ++i) x[i] = 3.0f * x[i] + 1.0f;
    out.at("y").poison();
    kernel->run();
    const Agreement a = compare(out.at("y"), reference(op, in));
    EXPECT_EQ(a.out_of_tol, 0) << a.text();
    EXPECT_EQ(a.nan, 0);
  }
}

// The kernel keeps the storage it wraps alive: the maps given at bind time may go away.
TEST(Onednn, KernelOutlivesTheTensorMaps) {
  const TensorMap in0 = make_inputs(Op::layernorm, Dist::normal, 4, 9);
  const std::vector<double> ref = reference(Op::layernorm, in0);
  std::unique_ptr<BoundKernel> kernel;
  Tensor y;
  {
    TensorMap in;
    for (const auto& [name, t] : in0) in[name] = t.clone();
    TensorMap out = make_outputs(4, 9);
    y = out.at("y");
    kernel = onednn::bind_layernorm(kEps)(in, out, Params{});
  }
  kernel->run();
  EXPECT_EQ(compare(y, ref).out_of_tol, 0);
}

// Runs `fn` and returns the runtime_error message it throws ("" if it throws none).
template <class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(Onednn, BindErrorsNameTheProblem) {
  const Params p;
  {
    TensorMap in = make_inputs(Op::layernorm, Dist::normal, 2, 8);
    in.erase("gamma");
    TensorMap out = make_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm(kEps)(in, out, p); }),
              "onednn layernorm: missing input tensor \"gamma\"");
  }
  {
    TensorMap in = make_inputs(Op::batchnorm_infer, Dist::normal, 2, 8);
    in.erase("running_var");
    TensorMap out = make_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_batchnorm_infer(kEps)(in, out, p); }),
              "onednn batchnorm_infer: missing input tensor \"running_var\"");
  }
  {
    TensorMap in = make_inputs(Op::batchnorm_train, Dist::normal, 2, 8);
    in["beta"] = Tensor(DType::f32, {7});
    TensorMap out = make_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_batchnorm_train(kEps)(in, out, p); }),
              "onednn batchnorm_train: input tensor \"beta\" has shape [7], expected [8]");
  }
  {
    TensorMap in = make_inputs(Op::layernorm, Dist::normal, 2, 8);
    TensorMap out;
    out["y"] = Tensor(DType::f32, {2, 9});
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm(kEps)(in, out, p); }),
              "onednn layernorm: output tensor \"y\" has shape [2, 9], expected [2, 8]");
  }
  {
    TensorMap in = make_inputs(Op::layernorm, Dist::normal, 2, 8);
    in["x"] = Tensor(DType::f64, {2, 8});
    TensorMap out = make_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm(kEps)(in, out, p); }),
              "onednn layernorm: input tensor \"x\" is f64, this peer supports f32, bf16 and f16");
  }
  {
    // gamma, beta and y come in the dtype of x.
    TensorMap in = make_half_inputs(Op::layernorm, DType::bf16, 2, 8);
    in["gamma"] = Tensor(DType::f32, {8});
    TensorMap out = make_half_outputs(DType::bf16, 2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm(kEps)(in, out, p); }),
              "onednn layernorm: input tensor \"gamma\" is f32, expected bf16 (the dtype of x)");
  }
  {
    TensorMap in = make_half_inputs(Op::batchnorm_train, DType::bf16, 2, 8);
    TensorMap out = make_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_batchnorm_train(kEps)(in, out, p); }),
              "onednn batchnorm_train: output tensor \"y\" is f32, expected bf16 (the dtype of x)");
  }
  {
    // Running statistics stay float32 whatever the dtype of x.
    TensorMap in = make_half_inputs(Op::batchnorm_infer, DType::bf16, 2, 8);
    in["running_mean"] = round_to(DType::bf16, in.at("running_mean"));
    TensorMap out = make_half_outputs(DType::bf16, 2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_batchnorm_infer(kEps)(in, out, p); }),
              "onednn batchnorm_infer: input tensor \"running_mean\" is bf16, expected f32 "
              "(running statistics are f32 in every dtype)");
  }
}

// ---- LayerNorm backward (kernels/cpu/onednn_norm_backward.*) ----
//
// Inputs: x ~ N(0, 1), dy ~ N(0, 1), gamma ~ U(0.5, 1.5), and the saved statistics mean and rstd
// of the float64 reference (ref::layernorm_stats) rounded to float32, as the harness gives them.
// The reference runs on the same float32 values. dx: |out - ref| <= 1e-5 + 1e-4 |ref|; dgamma and
// dbeta are sums over the rows, which oneDNN accumulates in float32: they also get Higham's
// probabilistic bound sqrt(rows) * 2^-24 * sum over rows of |term| (dy * xhat, dy).

TensorMap make_backward_inputs(std::int64_t rows, std::int64_t cols) {
  Rng rng(0xBAC4ull * 1000003 + static_cast<std::uint64_t>(rows) * 131 +
          static_cast<std::uint64_t>(cols));
  TensorMap in;
  in["x"] = make({rows, cols}, rng, 0);
  in["dy"] = make({rows, cols}, rng, 0);
  in["gamma"] = make({cols}, rng, 0, 0.5, 1.5);
  const auto x = widen(in.at("x"));
  std::vector<double> mean(static_cast<std::size_t>(rows)), rstd(mean);
  ref::layernorm_stats(x.data(), mean.data(), rstd.data(), rows, cols, kEps);
  in["mean"] = Tensor(DType::f32, {rows});
  in["rstd"] = Tensor(DType::f32, {rows});
  for (std::int64_t r = 0; r < rows; ++r) {
    in["mean"].data<float>()[r] = static_cast<float>(mean[static_cast<std::size_t>(r)]);
    in["rstd"].data<float>()[r] = static_cast<float>(rstd[static_cast<std::size_t>(r)]);
  }
  return in;
}

TensorMap make_backward_outputs(std::int64_t rows, std::int64_t cols) {
  TensorMap out;
  out["dx"] = Tensor(DType::f32, {rows, cols});
  out["dgamma"] = Tensor(DType::f32, {cols});
  out["dbeta"] = Tensor(DType::f32, {cols});
  for (auto& [name, t] : out) t.poison();
  return out;
}

// The reference gradients, and the float32 sum bound of each column of dgamma and dbeta.
struct BackwardRef {
  std::vector<double> dx, dgamma, dbeta, dgamma_bound, dbeta_bound;
};

BackwardRef backward_reference(const TensorMap& in) {
  const std::int64_t rows = in.at("x").dim(0), cols = in.at("x").dim(1);
  const auto x = widen(in.at("x")), dy = widen(in.at("dy")), gamma = widen(in.at("gamma"));
  const auto mean = widen(in.at("mean")), rstd = widen(in.at("rstd"));
  const auto c = static_cast<std::size_t>(cols);
  BackwardRef r{std::vector<double>(x.size()), std::vector<double>(c), std::vector<double>(c),
                std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  ref::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), r.dx.data(),
                          r.dgamma.data(), r.dbeta.data(), rows, cols);
  const double scale = std::sqrt(static_cast<double>(rows)) * 0x1.0p-24;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t row = i / c, j = i % c;
    r.dgamma_bound[j] += scale * std::fabs(dy[i] * (x[i] - mean[row]) * rstd[row]);
    r.dbeta_bound[j] += scale * std::fabs(dy[i]);
  }
  return r;
}

// Like compare(), with a per-element allowance added to the tolerance.
Agreement compare_with_bound(const Tensor& out, const std::vector<double>& ref,
                             const std::vector<double>& bound) {
  Agreement a;
  const float* o = out.data<float>();
  a.n = out.numel();
  for (std::int64_t i = 0; i < a.n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    double err = std::fabs(static_cast<double>(o[i]) - ref[k]);
    if (std::isnan(o[i])) {
      ++a.nan;
      err = std::numeric_limits<double>::infinity();
    }
    const double tol = kAtol + kRtol * std::fabs(ref[k]) + bound[k];
    a.max_abs = std::max(a.max_abs, err);
    a.max_ratio = std::max(a.max_ratio, err / tol);
    if (!(err <= tol)) ++a.out_of_tol;
  }
  return a;
}

class OnednnLayernormBackward
    : public ::testing::TestWithParam<std::tuple<std::int64_t, std::int64_t>> {};

TEST_P(OnednnLayernormBackward, MatchesFloat64Reference) {
  const auto [rows, cols] = GetParam();
  const TensorMap in = make_backward_inputs(rows, cols);
  const BackwardRef ref = backward_reference(in);
  TensorMap out = make_backward_outputs(rows, cols);
  auto kernel = onednn::bind_layernorm_backward(kEps)(in, out, Params{});
  for (int run = 0; run < 2; ++run) {  // twice: dgamma and dbeta are overwritten, not accumulated
    SCOPED_TRACE("run " + std::to_string(run));
    kernel->run();
    const Agreement dx = compare(out.at("dx"), ref.dx);
    const Agreement dg = compare_with_bound(out.at("dgamma"), ref.dgamma, ref.dgamma_bound);
    const Agreement db = compare_with_bound(out.at("dbeta"), ref.dbeta, ref.dbeta_bound);
    RecordProperty("dx", dx.text());
    RecordProperty("dgamma", dg.text());
    RecordProperty("dbeta", db.text());
    EXPECT_EQ(dx.out_of_tol, 0) << "dx: " << dx.text();
    EXPECT_EQ(dg.out_of_tol, 0) << "dgamma: " << dg.text();
    EXPECT_EQ(db.out_of_tol, 0) << "dbeta: " << db.text();
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, OnednnLayernormBackward,
                         ::testing::Values(std::make_tuple<std::int64_t, std::int64_t>(64, 4096),
                                           std::make_tuple<std::int64_t, std::int64_t>(33, 7),
                                           std::make_tuple<std::int64_t, std::int64_t>(1, 4097)),
                         [](const auto& info) {
                           return std::to_string(std::get<0>(info.param)) + "x" +
                                  std::to_string(std::get<1>(info.param));
                         });

// oneDNN 2.6 has one layer normalization backward implementation on x86, which picks its
// vectorized kernels inside; the name says which, never a reference one.
TEST(OnednnLayernormBackwardInfo, ImplementationIsNotAReference) {
  const std::string impl = onednn::layernorm_backward_implementation(16384, 4096);
  RecordProperty("implementation", impl);
  EXPECT_EQ(impl.find("ref"), std::string::npos) << impl;
}

TEST(OnednnLayernormBackwardInfo, BindErrorsNameTheProblem) {
  const Params p;
  {
    TensorMap in = make_backward_inputs(2, 8);
    in.erase("rstd");
    TensorMap out = make_backward_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm_backward(kEps)(in, out, p); }),
              "onednn layernorm_backward: missing input tensor \"rstd\"");
  }
  {
    TensorMap in = make_backward_inputs(2, 8);
    in["mean"] = Tensor(DType::f32, {3});
    TensorMap out = make_backward_outputs(2, 8);
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm_backward(kEps)(in, out, p); }),
              "onednn layernorm_backward: input tensor \"mean\" has shape [3], expected [2]");
  }
  {
    TensorMap in = make_backward_inputs(2, 8);
    TensorMap out = make_backward_outputs(2, 8);
    out["dbeta"] = Tensor(DType::f64, {8});
    EXPECT_EQ(error_of([&] { onednn::bind_layernorm_backward(kEps)(in, out, p); }),
              "onednn layernorm_backward: output tensor \"dbeta\" is f64, this peer supports f32 "
              "only");
  }
}

#else  // !OPBENCH_HAVE_ONEDNN

TEST(Onednn, NotBuilt) {
  GTEST_SKIP() << "oneDNN not found at configure time (libdnnl-dev)";
}

#endif

}  // namespace
}  // namespace opbench
