// Device tests of the CUDA backend as a part (harness/cuda_*.cpp): the hot and cold timing modes
// behind the blocking kernel, the cuBLAS SGEMM compute ceiling, the bound kernel's scratch arena,
// and a sticky error losing the context. Built only with CUDA; without a device every test skips
// with the reason cuda_status() gives. Host-side arithmetic of the same parts is tested in
// test_harness_cuda.cpp. No test asserts a wall-clock time.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/distributions.hpp"
#include "datasets/provider.hpp"
#include "harness/backend.hpp"
#include "harness/ceilings.hpp"
#include "harness/cuda_plan.hpp"
#include "harness/descriptive_stats.hpp"
#include "harness/device.hpp"
#include "harness/errors.hpp"
#include "harness/runner.hpp"
#include "harness/timing.hpp"
#include "kernels/cuda/norm_cuda.hpp"
#include "suites/common.hpp"
#include "tests/toy_ops.hpp"

namespace opbench {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;

class CudaBackendDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendStatus st = cuda_status();
    if (!st.available) GTEST_SKIP() << st.detail;
  }
};
using CudaTiming = CudaBackendDevice;
using CudaCeiling = CudaBackendDevice;
using CudaScratch = CudaBackendDevice;
using CudaLost = CudaBackendDevice;

// A LayerNorm over x[rows, cols] bound to the device, with its host tensors.
struct Bound {
  TensorMap in, out;
  std::unique_ptr<BoundKernel> kernel;
};

Bound bind_layernorm(std::int64_t rows, std::int64_t cols) {
  Bound b;
  b.in = {{"x", Tensor(DType::f32, {rows, cols})},
          {"gamma", Tensor(DType::f32, {cols})},
          {"beta", Tensor(DType::f32, {cols})}};
  datasets::fill_distribution(b.in.at("x"), "normal", 11);
  datasets::fill_distribution(b.in.at("gamma"), "uniform(0.5,1.5)", 12);
  datasets::fill_distribution(b.in.at("beta"), "normal(0,0.5)", 13);
  b.out = {{"y", Tensor(DType::f32, {rows, cols})}};
  const BindFn bind = bind_device([](const DeviceTensorMap& i, DeviceTensorMap& o, const Params&) {
    const DeviceTensor& x = i.at("x");
    cuda::layernorm(x.data<float>(), i.at("gamma").data<float>(), i.at("beta").data<float>(),
                    o.at("y").data<float>(), x.shape.at(0), x.shape.at(1), 1e-5f);
  });
  b.kernel = bind(b.in, b.out, Params{});
  return b;
}

double median_seconds(const GbenchRun& r) {
  std::vector<double> s;
  for (const Repetition& rep : r.repetitions) s.push_back(rep.seconds);
  return stats::median(s);
}

// ---- timing modes ---------------------------------------------------------------------------

TEST_F(CudaTiming, HotBatchesAndColdTimesOneRunPerSample) {
  // 8 MiB in, 8 MiB out: resident in any Hopper L2 (50-60 MiB) between hot runs, flushed before
  // every cold one.
  Bound b = bind_layernorm(512, 4096);
  const auto hot = make_cuda_timing("hot");
  const auto cold = make_cuda_timing("cold");
  ASSERT_NE(hot, nullptr);
  ASSERT_NE(cold, nullptr);
  const GbenchRun h = time_kernel("layernorm/hot", *hot, *b.kernel, 3, 2000);
  const GbenchRun c = time_kernel("layernorm/cold", *cold, *b.kernel, 3, 300);
  ASSERT_EQ(h.error, "");
  ASSERT_EQ(c.error, "");
  ASSERT_EQ(h.repetitions.size(), 3u);
  ASSERT_EQ(c.repetitions.size(), 3u);
  for (const Repetition& rep : h.repetitions) {
    EXPECT_GT(rep.seconds, 0);
    EXPECT_GE(rep.iterations, 2000);  // batches may overshoot the count, never fall short
    ASSERT_TRUE(rep.counters.count("launches_per_sample"));
    EXPECT_GE(rep.counters.at("launches_per_sample"), 1);
    EXPECT_LE(rep.counters.at("launches_per_sample"), cuda_plan::kMaxHotBatch);
  }
  for (const Repetition& rep : c.repetitions) {
    EXPECT_GT(rep.seconds, 0);
    EXPECT_EQ(rep.iterations, 300);
    EXPECT_FALSE(rep.counters.count("launches_per_sample"));
  }
  std::cout << "layernorm 512x4096: hot " << median_seconds(h) * 1e6 << " us, cold "
            << median_seconds(c) * 1e6 << " us\n";
  // Which mode is faster is a benchmark's finding (opbench run --backend cuda), not a test's.
  // Timing left the outputs right (the runner checks again after timing too).
  b.kernel->fetch();
  EXPECT_FALSE(std::isnan(b.out.at("y").data<float>()[0]));
}

TEST_F(CudaTiming, HotBatchesASmallKernel) {
  Bound b = bind_layernorm(8, 256);  // a few microseconds
  const auto hot = make_cuda_timing("hot");
  const GbenchRun h = time_kernel("layernorm/small", *hot, *b.kernel, 1, 1000);
  ASSERT_EQ(h.error, "");
  ASSERT_EQ(h.repetitions.size(), 1u);
  const double batch = h.repetitions[0].counters.at("launches_per_sample");
  EXPECT_GT(batch, 1) << "a kernel of a few microseconds is timed in batches";
  EXPECT_GT(h.repetitions[0].seconds, 0);
}

TEST_F(CudaTiming, RepetitionsOfAHotCaseShareOneBatchAndOneIterationCount) {
  // Google Benchmark sizes the iterations once and aborts the process when the repetitions of a
  // case report different counts. A batch loop rounds the count up to its batch, so a batch
  // sized anew per repetition (probes of a few microseconds vary) killed `opbench run --backend
  // cuda` on the H200 at its default repetitions. Iterations left to Google Benchmark, as a run
  // leaves them.
  Bound b = bind_layernorm(8, 256);
  const auto hot = make_cuda_timing("hot");
  const GbenchRun h = time_kernel("layernorm/repeated", *hot, *b.kernel, 7, 0);
  ASSERT_EQ(h.error, "");
  ASSERT_EQ(h.repetitions.size(), 7u);
  const Repetition& first = h.repetitions.front();
  for (const Repetition& rep : h.repetitions) {
    EXPECT_EQ(rep.iterations, first.iterations);
    EXPECT_EQ(rep.counters.at("launches_per_sample"), first.counters.at("launches_per_sample"));
    EXPECT_EQ(rep.iterations % static_cast<std::int64_t>(rep.counters.at("launches_per_sample")),
              0);
  }
}

// A kernel whose run synchronizes: behind the blocking kernel it can never be queued whole.
class SyncingKernel final : public BoundKernel {
 public:
  explicit SyncingKernel(BoundKernel& inner) : inner_(inner) {}
  void run() override {
    inner_.run();
    inner_.sync();
  }
  void sync() override { inner_.sync(); }
  // Its samples are taken on the inner kernel's stream: on another one (the legacy default
  // stream) the blocking kernel would not hold the run back, and nothing would be caught.
  void* stream() const override { return inner_.stream(); }

 private:
  BoundKernel& inner_;
};

TEST_F(CudaTiming, ASampleThatCannotBeQueuedEndsInAnErrorNotAHang) {
  Bound b = bind_layernorm(8, 256);
  SyncingKernel syncing(*b.kernel);
  for (const char* mode : {"hot", "cold"}) {
    const auto timing = make_cuda_timing(mode, /*block_timeout_s=*/0.2);
    const GbenchRun r = time_kernel(std::string("syncs/") + mode, *timing, syncing, 1, 5);
    EXPECT_NE(r.error.find("the blocking kernel gave up"), std::string::npos) << mode << r.error;
    EXPECT_EQ(cuda_lost(), "");  // a timeout is not a lost context
  }
  // The device is free again: the same kernel, not synchronizing, times fine.
  const auto hot = make_cuda_timing("hot", 0.2);
  const GbenchRun ok = time_kernel("after", *hot, *b.kernel, 1, 100);
  EXPECT_EQ(ok.error, "");
}

// ---- compute ceiling --------------------------------------------------------------------------

TEST_F(CudaCeiling, TheSgemmIsExactOnSmallCasesAndWritesEveryElement) {
  for (const int n : {96, 257}) {
    auto k = make_device_sgemm(n);
    ASSERT_NE(k, nullptr);
    const std::vector<float> poisoned = device_sgemm_result(*k);
    for (float v : poisoned) ASSERT_TRUE(std::isnan(v)) << "C is poisoned before the first run";
    k->run();
    k->sync();
    const std::vector<float> c = device_sgemm_result(*k);
    ASSERT_EQ(c.size(), static_cast<std::size_t>(n) * n);
    auto a = [&](std::int64_t i) { return static_cast<double>(i % 7 - 3) / 8; };
    auto b = [&](std::int64_t i) { return static_cast<double>(i % 5 - 2) / 4; };
    std::int64_t wrong = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t i = 0; i < n; ++i) {
        double ref = 0;
        for (std::int64_t p = 0; p < n; ++p) ref += a(i + p * n) * b(p + j * n);
        if (static_cast<double>(c[i + j * n]) != ref) ++wrong;  // exact: multiples of 1/32
      }
    }
    EXPECT_EQ(wrong, 0) << "n = " << n;
  }
  auto other = make_device_copy(1024);
  ASSERT_NE(other, nullptr);
  EXPECT_THROW(device_sgemm_result(*other), std::invalid_argument);
}

TEST_F(CudaCeiling, TheBackendsComputeCeilingIsALargeSgemmWithAPositiveRate) {
  Registry reg;
  const Backend* cuda = reg.find_backend("cuda");
  ASSERT_NE(cuda, nullptr);
  CeilingKernel c = cuda->compute_ceiling();
  ASSERT_NE(c.kernel, nullptr);
  EXPECT_EQ(c.kind, "sgemm");
  const double size = std::cbrt(c.flops / 2);
  EXPECT_NEAR(size, std::round(size), 1e-6);
  EXPECT_GE(size, 1024);
  const auto timing = cuda->timing(cuda->timing_modes().front());
  const GbenchRun r = time_kernel("ceiling/sgemm", *timing, *c.kernel, 1, 3);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.repetitions.size(), 1u);
  const double gflops = c.flops / r.repetitions[0].seconds / 1e9;
  std::cout << "cuBLAS SGEMM " << size << "^3: " << gflops << " GFLOP/s\n";
  EXPECT_GT(gflops, 0);
}

// ---- scratch arena ----------------------------------------------------------------------------

TEST_F(CudaScratch, TheBoundKernelsArenaIsItsOwnAndIsFreedWithIt) {
  constexpr std::size_t kBytes = 256 * kMiB;
  auto seen = std::make_shared<std::vector<void*>>();
  auto arenas = std::make_shared<std::vector<DeviceScratch*>>();
  const BindFn bind =
      bind_device([seen, arenas](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {
        arenas->push_back(&device_scratch());
        seen->push_back(device_scratch().get("test scratch", kBytes));
      });
  TensorMap in{{"x", Tensor(DType::f32, {4})}};
  TensorMap out{{"y", Tensor(DType::f32, {4})}};
  const std::uint64_t before = cuda_memory_available();
  auto kernel = bind(in, out, Params{});
  kernel->run();
  kernel->run();
  kernel->sync();
  const std::uint64_t during = cuda_memory_available();
  ASSERT_EQ(seen->size(), 2u);
  EXPECT_NE((*seen)[0], nullptr);
  EXPECT_EQ((*seen)[0], (*seen)[1]) << "the second run reuses the first run's buffer";
  EXPECT_EQ((*arenas)[0], (*arenas)[1]);
  EXPECT_NE((*arenas)[0], &device_scratch()) << "outside the run, another arena";
  EXPECT_GE(before, during + kBytes) << "the scratch is a real allocation the memory check sees";
  kernel.reset();
  const std::uint64_t after = cuda_memory_available();
  EXPECT_GE(after + 16 * kMiB, before) << "the scratch went with the bound kernel";
}

TEST_F(CudaScratch, AKernelWhoseScratchGrowsAfterItsFirstRunErrors) {
  auto runs = std::make_shared<int>(0);
  const BindFn bind = bind_device([runs](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {
    device_scratch().get("growing", kMiB * static_cast<std::size_t>(++*runs));
  });
  TensorMap in{{"x", Tensor(DType::f32, {4})}};
  TensorMap out{{"y", Tensor(DType::f32, {4})}};
  auto kernel = bind(in, out, Params{});
  kernel->run();
  try {
    kernel->run();
    ADD_FAILURE() << "the scratch grew after the first run";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("growing: 2097152 bytes of scratch asked for after"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(cuda_lost(), "");
}

using test_support::copy_op;  // y = x over x[n] (tests/toy_ops.hpp)

TEST_F(CudaScratch, ThePlannerRefusesACaseWhoseDeclaredScratchCannotFit) {
  Registry reg;
  reg.add_op(copy_op());
  reg.add_impl("toy", "copy",
               suite::cuda_impl(
                   "cuda.huge", [](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {},
                   [](const Params& p) { return 1e15 * static_cast<double>(p.i("n")); }));
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = {"cuda.huge"};
  try {
    plan_cases(reg, sel, data);
    ADD_FAILURE() << "a case needing petabytes of scratch was planned";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("toy/copy/cuda.huge at n:16"), std::string::npos) << what;
    EXPECT_NE(what.find("on cuda"), std::string::npos) << what;
  }
}

// ---- sticky errors ----------------------------------------------------------------------------

// Runs `scenario` in a child process (gtest's threadsafe death-test style re-executes this binary
// for it), so that the context it loses is that child's; the scenario returns "" when all held.
void expect_in_child(const std::function<std::string()>& scenario) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        const std::string problem = scenario();
        if (!problem.empty()) std::fprintf(stderr, "PROBLEM: %s\n", problem.c_str());
        std::fflush(stderr);
        std::_Exit(problem.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// A LayerNorm reading from an address no allocation holds: an illegal address, a sticky error.
void fault(DeviceTensorMap& out) {
  const auto* bad = reinterpret_cast<const float*>(std::uintptr_t{0x100});
  cuda::layernorm(bad, bad, bad, out.at("y").data<float>(), 64, 256, 1e-5f);
}

TEST_F(CudaLost, AnIllegalAddressLosesTheContextAndLaterCasesErrorWithTheReason) {
  expect_in_child([]() -> std::string {
    auto runs = std::make_shared<int>(0);
    Registry reg;
    reg.add_op(copy_op());
    reg.add_impl("toy", "copy",
                 suite::cuda_impl("cuda.faulty", [runs](const DeviceTensorMap&, DeviceTensorMap& o,
                                                        const Params&) {
                   ++*runs;
                   fault(o);
                 }));
    datasets::SeededDataProvider data;
    Selection sel;
    sel.impls = {"cuda.faulty"};
    sel.timing_modes = {"hot"};
    RunOptions opt;
    opt.time = false;
    const RunResult r = run_cases(reg, plan_cases(reg, sel, data), data, sel, opt);
    std::ostringstream problems;
    if (r.cases.size() != 2) return "expected 2 cases, got " + std::to_string(r.cases.size());
    const std::string lost = cuda_lost();
    if (r.cases[0].error.find("illegal memory access") == std::string::npos) {
      problems << "first case: '" << r.cases[0].error << "'; ";
    }
    if (lost.find("illegal memory access") == std::string::npos ||
        lost.find("case isolation") == std::string::npos) {
      problems << "cuda_lost(): '" << lost << "'; ";
    }
    if (r.cases[1].error != lost) problems << "second case: '" << r.cases[1].error << "'; ";
    if (r.cases[1].agreement.status != AgreementStatus::error) problems << "second not error; ";
    if (*runs != 1) problems << "the faulty kernel ran " << *runs << " times, not once; ";
    if (reg.find_backend("cuda")->lost() != lost) problems << "the backend says otherwise; ";
    if (cuda_memory_available() != 0) problems << "memory still offered; ";
    if (reg.find_backend("cuda")->compute_ceiling().kernel) problems << "a ceiling was made; ";
    return problems.str();
  });
}

TEST_F(CudaLost, ABoundKernelsDestructorDoesNotForgetAStickyError) {
  expect_in_child([]() -> std::string {
    const BindFn bind =
        bind_device([](const DeviceTensorMap&, DeviceTensorMap& o, const Params&) { fault(o); });
    TensorMap in{{"x", Tensor(DType::f32, {4})}};
    TensorMap out{{"y", Tensor(DType::f32, {64, 256})}};
    auto kernel = bind(in, out, Params{});
    try {
      kernel->run();  // queued: the fault is usually not seen yet
    } catch (const std::exception&) {
    }
    kernel.reset();  // the destructor's synchronize sees it
    const std::string lost = cuda_lost();
    if (lost.find("illegal memory access") == std::string::npos) {
      return "cuda_lost() after the destructor: '" + lost + "'";
    }
    return "";
  });
}

}  // namespace
}  // namespace opbench
