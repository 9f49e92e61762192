// Tests of the CUDA backend (harness/cuda_*.cpp) and the cuda.fast kernels (kernels/cuda/).
// Built only when nvcc was found. Tests that need a device skip, with the reason cuda_status()
// gives, on a machine without one (a CI runner with nvcc and no GPU); the rest run anywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/distributions.hpp"
#include "harness/ceilings.hpp"
#include "harness/device.hpp"
#include "harness/op.hpp"
#include "harness/runner.hpp"
#include "harness/tensor.hpp"
#include "harness/timing.hpp"
#include "kernels/cuda/norm_backward_cuda.hpp"
#include "kernels/cuda/norm_cuda.hpp"
#include "reference/norm.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-4;
constexpr float kEps = 1e-5f;

// ---- backend status, runs anywhere ----------------------------------------------------------

TEST(CudaBackend, StatusExplainsItself) {
  const BackendStatus st = cuda_status();
  EXPECT_EQ(st.name, "cuda");
  EXPECT_FALSE(st.detail.empty());
  if (st.available) {
    EXPECT_NE(st.detail.find("sm_"), std::string::npos) << st.detail;
    EXPECT_NE(st.detail.find("device(s)"), std::string::npos) << st.detail;
    const std::vector<std::string> names = cuda_device_names();
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names[0].rfind("cuda:0: ", 0), 0u) << names[0];
    for (const char* part :
         {" SMs, ", " GiB, ", ", L2 ", ", SM up to ", " bit, ", ", driver ", ", runtime "}) {
      EXPECT_NE(names[0].find(part), std::string::npos) << part << " in " << names[0];
    }
  } else {
    EXPECT_EQ(st.detail.rfind("built, but no usable device: ", 0), 0u) << st.detail;
    EXPECT_TRUE(cuda_device_names().empty());
  }
  // The status is read once and then cached.
  EXPECT_EQ(cuda_status().detail, st.detail);
  EXPECT_EQ(cuda_status().available, st.available);
}

TEST(CudaBackend, RuntimeVersionIsMajorDotMinor) {
  const std::string v = cuda_runtime_version();
  ASSERT_FALSE(v.empty());
  const auto dot = v.find('.');
  ASSERT_NE(dot, std::string::npos) << v;
  EXPECT_GT(std::stoi(v.substr(0, dot)), 0) << v;
}

TEST(CudaBackend, CheckCudaThrowsWithTheErrorText) {
  EXPECT_NO_THROW(check_cuda(0, "nothing"));
  try {
    check_cuda(2, "cudaMalloc of x");  // cudaErrorMemoryAllocation
    FAIL() << "check_cuda did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("cudaMalloc of x: ", 0), 0u) << e.what();
  }
}

TEST(CudaBackend, BothTimingModesUseManualTime) {
  for (const char* mode : {"hot", "cold"}) {
    const auto timing = make_cuda_timing(mode);
    ASSERT_NE(timing, nullptr) << mode;
    EXPECT_TRUE(timing->manual_time()) << mode;
  }
  EXPECT_EQ(make_cuda_timing("lukewarm"), nullptr);
}

TEST(CudaBackend, BindWithoutDeviceThrowsTheReason) {
  const BackendStatus st = cuda_status();
  if (st.available) GTEST_SKIP() << "a device is present: " << st.detail;
  const BindFn bind = bind_device([](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {});
  TensorMap in{{"x", Tensor(DType::f32, {2, 3})}};
  TensorMap out{{"y", Tensor(DType::f32, {2, 3})}};
  try {
    bind(in, out, Params{});
    FAIL() << "bind did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(st.detail), std::string::npos) << e.what();
  }
  EXPECT_EQ(make_device_copy(1 << 20), nullptr);
}

TEST(CudaBackend, KernelsAcceptEmptyShapesAndRejectNegativeOnes) {
  // Nothing is launched for an empty tensor, so these hold with or without a device.
  EXPECT_NO_THROW(cuda::layernorm(nullptr, nullptr, nullptr, nullptr, 0, 128, kEps));
  EXPECT_NO_THROW(cuda::rmsnorm(nullptr, nullptr, nullptr, 16, 0, kEps));
  EXPECT_THROW(cuda::layernorm(nullptr, nullptr, nullptr, nullptr, -1, 128, kEps),
               std::invalid_argument);
  EXPECT_THROW(cuda::rmsnorm(nullptr, nullptr, nullptr, 4, -2, kEps), std::invalid_argument);
}

TEST(CudaBackend, NormBackwardAcceptsNoColumnsAndRejectsNegativeShapes) {
  // No columns: nothing to launch or clear, with or without a device.
  EXPECT_NO_THROW(cuda::layernorm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                           nullptr, nullptr, 16, 0));
  EXPECT_NO_THROW(
      cuda::rmsnorm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 16, 0));
  EXPECT_THROW(cuda::layernorm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                        nullptr, nullptr, -1, 8),
               std::invalid_argument);
  EXPECT_THROW(cuda::rmsnorm_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, -2),
               std::invalid_argument);
}

// ---- kernels on a device ----------------------------------------------------------------------

class CudaDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendStatus st = cuda_status();
    if (!st.available) GTEST_SKIP() << st.detail;
  }
};
using CudaNorm = CudaDevice;

enum class Dist { normal, offset, constant, outliers };
const char* dist_name(Dist d) {
  switch (d) {
    case Dist::normal:
      return "normal";
    case Dist::offset:
      return "offset";
    case Dist::constant:
      return "constant_rows";
    case Dist::outliers:
      return "normal, columns 0, 61k and 97k+5 x80";
  }
  return "?";
}

struct NormInputs {
  Tensor x, gamma, beta;
};

// Seeded inputs from the project's own generators (datasets/distributions.hpp).
NormInputs make_inputs(std::int64_t rows, std::int64_t cols, Dist dist, std::uint64_t seed) {
  NormInputs in{Tensor(DType::f32, {rows, cols}), Tensor(DType::f32, {cols}),
                Tensor(DType::f32, {cols})};
  switch (dist) {
    case Dist::normal:
    case Dist::outliers:
      datasets::fill_distribution(in.x, "normal", seed);
      break;
    case Dist::offset:
      datasets::fill_distribution(in.x, "offset", seed);
      break;
    case Dist::constant:
      datasets::fill_distribution(in.x, "constant_rows", seed);
      break;
  }
  if (dist == Dist::outliers) {
    // Column 0 included: the first element of every row is an outlier.
    float* x = in.x.data<float>();
    for (std::int64_t c = 0; c < cols; ++c) {
      if (c % 61 != 0 && c % 97 != 5) continue;
      for (std::int64_t r = 0; r < rows; ++r) x[r * cols + c] *= 80.0f;
    }
  }
  datasets::fill_distribution(in.gamma, "uniform(0.5,1.5)", seed + 1000003);
  datasets::fill_distribution(in.beta, "normal(0,0.5)", seed + 2000003);
  return in;
}

std::vector<double> to_double(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<double>(p, p + t.numel());
}

// Compares out[0..n) against ref; returns "" when every element is within tolerance, else a line
// naming the count out of tolerance and the worst element.
std::string compare(const float* out, const std::vector<double>& ref, std::int64_t cols) {
  std::int64_t bad = 0, worst = -1;
  double worst_excess = -1.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(out[i]) - ref[i]);
    const double tol = kAtol + kRtol * std::fabs(ref[i]);
    if (!(err <= tol)) {  // NaN fails too
      ++bad;
      const double excess = std::isnan(err) ? INFINITY : err / tol;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = static_cast<std::int64_t>(i);
      }
    }
  }
  if (bad == 0) return "";
  std::ostringstream os;
  os.precision(9);
  os << bad << " of " << ref.size() << " elements out of tolerance; worst at [" << worst / cols
     << ", " << worst % cols << "]: out " << out[worst] << ", ref " << ref[worst];
  return os.str();
}

std::unique_ptr<BoundKernel> bind_norm(bool rms, TensorMap& in, TensorMap& out) {
  const BindFn bind = bind_device([rms](const DeviceTensorMap& d_in, DeviceTensorMap& d_out,
                                        const Params&) {
    const DeviceTensor& x = d_in.at("x");
    const std::int64_t rows = x.shape.at(0), cols = x.shape.at(1);
    if (rms) {
      cuda::rmsnorm(x.data<float>(), d_in.at("gamma").data<float>(), d_out.at("y").data<float>(),
                    rows, cols, kEps);
    } else {
      cuda::layernorm(x.data<float>(), d_in.at("gamma").data<float>(),
                      d_in.at("beta").data<float>(), d_out.at("y").data<float>(), rows, cols, kEps);
    }
  });
  return bind(in, out, Params{});
}

// Runs one norm on the device through bind_device and compares it with the float64 reference.
std::string check_norm(bool rms, const NormInputs& inputs) {
  const std::int64_t rows = inputs.x.dim(0), cols = inputs.x.dim(1);
  TensorMap in{{"x", inputs.x}, {"gamma", inputs.gamma}};
  if (!rms) in.emplace("beta", inputs.beta);
  TensorMap out{{"y", Tensor(DType::f32, {rows, cols})}};
  auto kernel = bind_norm(rms, in, out);
  kernel->run();
  kernel->fetch();

  const std::vector<double> x = to_double(inputs.x), g = to_double(inputs.gamma),
                            b = to_double(inputs.beta);
  std::vector<double> ref(static_cast<std::size_t>(rows * cols));
  if (rms) {
    ref::rmsnorm(x.data(), g.data(), ref.data(), rows, cols, static_cast<double>(kEps));
  } else {
    ref::layernorm(x.data(), g.data(), b.data(), ref.data(), rows, cols, static_cast<double>(kEps));
  }
  return compare(out.at("y").data<float>(), ref, cols);
}

// The brief's columns plus one or two on each side of every switch between kernel shapes: lane
// groups of 4..32 (cols <= 1024), one block per row (<= 16384 vectorized, <= 8192 scalar), and
// the looping kernel beyond; odd columns take the scalar path.
const std::int64_t kCols[] = {1,    3,    4,    17,   32,   100,  256,  1024,  1028,
                              2050, 4095, 4096, 4097, 8192, 8193, 9000, 16388, 20000};
const std::int64_t kRows[] = {1, 7, 300};
const Dist kDists[] = {Dist::normal, Dist::offset, Dist::constant, Dist::outliers};

TEST_F(CudaNorm, LayerNormAndRmsNormMatchReference) {
  std::uint64_t seed = 1;
  for (const std::int64_t cols : kCols) {
    for (const std::int64_t rows : kRows) {
      for (const Dist dist : kDists) {
        const NormInputs inputs = make_inputs(rows, cols, dist, seed++);
        for (const bool rms : {false, true}) {
          const std::string problem = check_norm(rms, inputs);
          EXPECT_EQ(problem, "") << (rms ? "rmsnorm" : "layernorm") << " rows=" << rows
                                 << " cols=" << cols << " dist=" << dist_name(dist);
        }
      }
    }
  }
}

TEST_F(CudaNorm, UnlaunchedKernelFetchesPoison) {
  const std::int64_t rows = 5, cols = 33;
  TensorMap in{{"x", Tensor(DType::f32, {rows, cols})}};
  std::memset(in.at("x").raw(), 0, in.at("x").bytes());
  TensorMap out{{"y", Tensor(DType::f32, {rows, cols})}, {"ids", Tensor(DType::i64, {rows})}};
  std::memset(out.at("y").raw(), 0, out.at("y").bytes());
  std::memset(out.at("ids").raw(), 0, out.at("ids").bytes());
  const BindFn bind = bind_device([](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {});
  auto kernel = bind(in, out, Params{});
  kernel->run();  // launches nothing
  kernel->fetch();
  const float* y = out.at("y").data<float>();
  for (std::int64_t i = 0; i < rows * cols; ++i) ASSERT_TRUE(std::isnan(y[i])) << "element " << i;
  const std::int64_t* ids = out.at("ids").data<std::int64_t>();
  for (std::int64_t i = 0; i < rows; ++i) EXPECT_EQ(ids[i], -1) << "element " << i;
}

TEST_F(CudaNorm, MisalignedPointersTakeTheScalarPath) {
  // cols % 4 == 0 but every pointer one float past a 16-byte boundary: the float4 path must not
  // be taken. Element 0 of each buffer is a pad that must stay poisoned.
  for (const std::int64_t cols : {std::int64_t{256}, std::int64_t{2048}, std::int64_t{4096}}) {
    const std::int64_t rows = 9;
    const NormInputs inputs = make_inputs(rows, cols, Dist::normal, 1000 + cols);
    for (const bool rms : {false, true}) {
      auto padded = [](const Tensor& t) {
        Tensor p(DType::f32, {t.numel() + 1});
        p.data<float>()[0] = 0.0f;
        std::memcpy(p.data<float>() + 1, t.data<float>(), t.bytes());
        return p;
      };
      TensorMap in{
          {"x", padded(inputs.x)}, {"gamma", padded(inputs.gamma)}, {"beta", padded(inputs.beta)}};
      TensorMap out{{"y", Tensor(DType::f32, {rows * cols + 1})}};
      const BindFn bind =
          bind_device([=](const DeviceTensorMap& d_in, DeviceTensorMap& d_out, const Params&) {
            const float* x = d_in.at("x").data<float>() + 1;
            const float* g = d_in.at("gamma").data<float>() + 1;
            const float* b = d_in.at("beta").data<float>() + 1;
            float* y = d_out.at("y").data<float>() + 1;
            if (rms) {
              cuda::rmsnorm(x, g, y, rows, cols, kEps);
            } else {
              cuda::layernorm(x, g, b, y, rows, cols, kEps);
            }
          });
      auto kernel = bind(in, out, Params{});
      kernel->run();
      kernel->fetch();
      const float* y = out.at("y").data<float>();
      EXPECT_TRUE(std::isnan(y[0])) << "the kernel wrote before its output";
      const std::vector<double> x = to_double(inputs.x), g = to_double(inputs.gamma),
                                b = to_double(inputs.beta);
      std::vector<double> ref(static_cast<std::size_t>(rows * cols));
      if (rms) {
        ref::rmsnorm(x.data(), g.data(), ref.data(), rows, cols, kEps);
      } else {
        ref::layernorm(x.data(), g.data(), b.data(), ref.data(), rows, cols, kEps);
      }
      EXPECT_EQ(compare(y + 1, ref, cols), "")
          << (rms ? "rmsnorm" : "layernorm") << " cols=" << cols;
    }
  }
}

TEST_F(CudaNorm, RepeatedRunsAreBitwiseIdentical) {
  for (const std::int64_t cols : {std::int64_t{768}, std::int64_t{4096}, std::int64_t{20000}}) {
    const NormInputs inputs = make_inputs(64, cols, Dist::normal, 77);
    TensorMap in{{"x", inputs.x}, {"gamma", inputs.gamma}, {"beta", inputs.beta}};
    TensorMap out{{"y", Tensor(DType::f32, {64, cols})}};
    auto kernel = bind_norm(false, in, out);
    kernel->run();
    kernel->fetch();
    const Tensor first = out.at("y").clone();
    for (int i = 0; i < 3; ++i) kernel->run();
    kernel->fetch();
    EXPECT_EQ(std::memcmp(first.raw(), out.at("y").raw(), first.bytes()), 0) << "cols=" << cols;
  }
}

// cuda.fast of the norm backward ops through the suite's own agreement rule (suites/
// norm_backward.cpp), on every scenario, at columns on each side of every switch between kernel
// shapes: register kernels of 1, 2, 4 float4 items (cols <= 2048, 4096, 8192) or 1..16 scalar
// items (odd cols, <= 8192), the looping kernel beyond; rows from one to more than one wave of
// row blocks with several rows each.
TEST_F(CudaNorm, NormBackwardAgreesUnderTheSuiteRule) {
  Registry reg;
  register_all_suites(reg);
  // Up to a row per block, then (3000 rows) several rows per block on any device.
  for (const auto& [rows, cols] : std::vector<std::pair<const char*, const char*>>{
           {"1,7,300", "1,3,4,17,768,2048,2052,4095,4096,4097,8192,8193,8196,20000"},
           {"3000", "17,4096,4097,20000"}}) {
    Selection sel;
    sel.ops = {"layernorm_backward", "rmsnorm_backward"};
    sel.impls = {"cuda.fast"};
    sel.axis_overrides = {{"rows", rows},
                          {"cols", cols},
                          {"dist", "normal,uniform,llm_outliers,offset,constant_rows"}};
    EXPECT_GT(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 0)
        << "rows " << rows << ", cols " << cols;
  }
}

// The partial sums are combined in a fixed order: the same inputs give the same bits every run.
TEST_F(CudaNorm, NormBackwardRepeatedRunsAreBitwiseIdentical) {
  for (const std::int64_t cols : {std::int64_t{768}, std::int64_t{4097}, std::int64_t{20000}}) {
    const std::int64_t rows = 1000;
    TensorMap in{{"dy", Tensor(DType::f32, {rows, cols})},
                 {"x", Tensor(DType::f32, {rows, cols})},
                 {"gamma", Tensor(DType::f32, {cols})},
                 {"mean", Tensor(DType::f32, {rows})},
                 {"rstd", Tensor(DType::f32, {rows})}};
    datasets::fill_distribution(in.at("dy"), "normal", 5);
    datasets::fill_distribution(in.at("x"), "normal", 6);
    datasets::fill_distribution(in.at("gamma"), "uniform(0.5,1.5)", 7);
    datasets::fill_distribution(in.at("mean"), "normal(0,0.1)", 8);
    datasets::fill_distribution(in.at("rstd"), "uniform(0.5,1.5)", 9);
    TensorMap out{{"dx", Tensor(DType::f32, {rows, cols})},
                  {"dgamma", Tensor(DType::f32, {cols})},
                  {"dbeta", Tensor(DType::f32, {cols})}};
    const BindFn bind =
        bind_device([rows, cols](const DeviceTensorMap& i, DeviceTensorMap& o, const Params&) {
          cuda::layernorm_backward(
              i.at("dy").data<float>(), i.at("x").data<float>(), i.at("gamma").data<float>(),
              i.at("mean").data<float>(), i.at("rstd").data<float>(), o.at("dx").data<float>(),
              o.at("dgamma").data<float>(), o.at("dbeta").data<float>(), rows, cols);
        });
    auto kernel = bind(in, out, Params{});
    kernel->run();
    kernel->fetch();
    const Tensor dgamma = out.at("dgamma").clone(), dbeta = out.at("dbeta").clone();
    for (int k = 0; k < 3; ++k) kernel->run();
    kernel->fetch();
    EXPECT_EQ(std::memcmp(dgamma.raw(), out.at("dgamma").raw(), dgamma.bytes()), 0)
        << "cols=" << cols;
    EXPECT_EQ(std::memcmp(dbeta.raw(), out.at("dbeta").raw(), dbeta.bytes()), 0) << "cols=" << cols;
  }
}

TEST_F(CudaDevice, DeviceCopyCeilingRuns) {
  auto copy = make_device_copy(64.0 * 1024 * 1024);
  ASSERT_NE(copy, nullptr);
  copy->run();
  EXPECT_NO_THROW(copy->sync());
  auto empty = make_device_copy(0);
  ASSERT_NE(empty, nullptr);
  empty->run();
  EXPECT_NO_THROW(empty->sync());
}

TEST_F(CudaDevice, OversizedGridThrowsAndLaterCasesRun) {
  // A launch whose grid would not fit throws from run() (the runner records the case as errored);
  // the next case on the same device still works.
  const BindFn bad = bind_device([](const DeviceTensorMap& in, DeviceTensorMap& out,
                                    const Params&) {
    cuda::layernorm(in.at("x").data<float>(), in.at("x").data<float>(), in.at("x").data<float>(),
                    out.at("y").data<float>(), std::int64_t{1} << 40, 4, kEps);
  });
  TensorMap in{{"x", Tensor(DType::f32, {4})}};
  std::memset(in.at("x").raw(), 0, in.at("x").bytes());
  TensorMap out{{"y", Tensor(DType::f32, {4})}};
  auto kernel = bad(in, out, Params{});
  EXPECT_THROW(kernel->run(), std::runtime_error);
  kernel.reset();
  const NormInputs inputs = make_inputs(3, 64, Dist::normal, 5);
  EXPECT_EQ(check_norm(false, inputs), "");
}

}  // namespace
}  // namespace opbench
