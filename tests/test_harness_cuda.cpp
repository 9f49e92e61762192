// Host-only tests of the CUDA backend's arithmetic and bookkeeping (harness/cuda_plan.hpp, the
// scratch arena of harness/device.hpp), built and run with or without CUDA: the hot batch size,
// the L2 flush size, the SGEMM ceiling's size, the report's device line, and the arena's growth,
// sealing and accounting over a counting host allocator. What needs a device is in
// test_kernels_cuda_backend.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/backend.hpp"
#include "harness/cuda_plan.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {
namespace {

constexpr std::int64_t kMiB = 1 << 20;

// ---- hot batch ------------------------------------------------------------------------------

TEST(CudaPlan, HotBatchFillsTheSampleWithinItsBounds) {
  using cuda_plan::hot_batch;
  EXPECT_EQ(hot_batch(1e-6), 50);  // 50 us of 1 us runs
  EXPECT_EQ(hot_batch(2e-6), 25);
  EXPECT_EQ(hot_batch(3e-6), 16);  // whole runs only: 16 x 3 us <= 50 us
  EXPECT_EQ(hot_batch(49e-6), 1);
  EXPECT_EQ(hot_batch(60e-6), 1);  // a long run is a sample by itself
  EXPECT_EQ(hot_batch(1.0), 1);
  EXPECT_EQ(hot_batch(1e-9), cuda_plan::kMaxHotBatch);  // capped: the launch queue is finite
  EXPECT_EQ(hot_batch(0.0), cuda_plan::kMaxHotBatch);   // below the events' resolution
  EXPECT_EQ(hot_batch(-1e-6), cuda_plan::kMaxHotBatch);
  EXPECT_EQ(hot_batch(std::nan("")), 1);
  EXPECT_EQ(hot_batch(std::numeric_limits<double>::infinity()), 1);
  EXPECT_EQ(hot_batch(1e-6, 10e-6, 1000), 10);
  EXPECT_EQ(hot_batch(1e-6, 50e-6, 0), 1);  // a bound below 1 still gives one run
  for (double t = 1e-8; t < 1e-3; t *= 1.37) {
    const int b = hot_batch(t);
    EXPECT_GE(b, 1) << t;
    EXPECT_LE(b, cuda_plan::kMaxHotBatch) << t;
    if (b > 1 && b < cuda_plan::kMaxHotBatch) {
      EXPECT_LE(b * t, cuda_plan::kHotSampleSeconds * (1 + 1e-12)) << t;
      EXPECT_GT((b + 1) * t, cuda_plan::kHotSampleSeconds) << t;
    }
  }
}

// ---- L2 flush and SGEMM size --------------------------------------------------------------------

TEST(CudaPlan, TheL2FlushWritesTwiceTheCacheInWholeMiB) {
  using cuda_plan::l2_flush_bytes;
  EXPECT_EQ(l2_flush_bytes(60 * kMiB), 120u * kMiB);  // H200
  EXPECT_EQ(l2_flush_bytes(50 * kMiB), 100u * kMiB);  // H100
  EXPECT_EQ(l2_flush_bytes(40 * kMiB + 1), 81u * kMiB);
  EXPECT_EQ(l2_flush_bytes(512 * 1024), 1u * kMiB);
  EXPECT_EQ(l2_flush_bytes(0), 64u * kMiB);  // unknown
  EXPECT_EQ(l2_flush_bytes(-5), 64u * kMiB);
  for (std::int64_t l2 = 1; l2 < 200 * kMiB; l2 = l2 * 3 + 7) {
    const std::size_t b = l2_flush_bytes(l2);
    EXPECT_GE(b, static_cast<std::size_t>(2 * l2)) << l2;
    EXPECT_EQ(b % kMiB, 0u) << l2;
    EXPECT_LT(b, static_cast<std::size_t>(2 * l2 + kMiB)) << l2;
  }
}

TEST(CudaPlan, TheSgemmCeilingIsAsLargeAsAQuarterOfFreeMemoryHolds) {
  using cuda_plan::sgemm_ceiling_size;
  const std::uint64_t gib = std::uint64_t{1} << 30;
  EXPECT_EQ(sgemm_ceiling_size(141 * gib), 8192);
  EXPECT_EQ(sgemm_ceiling_size(3 * gib), 8192);  // 3 x 256 MiB = a quarter of 3 GiB
  EXPECT_EQ(sgemm_ceiling_size(3 * gib - 1), 4096);
  EXPECT_EQ(sgemm_ceiling_size(gib), 4096);
  EXPECT_EQ(sgemm_ceiling_size(100 * kMiB), 1024);
  EXPECT_EQ(sgemm_ceiling_size(10 * kMiB), 0);
  EXPECT_EQ(sgemm_ceiling_size(0), 0);
}

// ---- device line ----------------------------------------------------------------------------

cuda_plan::DeviceFacts h200() {
  cuda_plan::DeviceFacts f;
  f.index = 0;
  f.name = "NVIDIA H200";
  f.major = 9;
  f.minor = 0;
  f.multiprocessors = 132;
  f.total_memory = 150'110'011'392;  // what an H200 reports: 139.8 GiB
  f.l2_bytes = 60 * kMiB;
  f.sm_clock_khz = 1'980'000;
  f.memory_clock_khz = 3'201'000;
  f.memory_bus_bits = 6144;
  f.ecc = 1;
  f.driver_version = 13000;
  f.runtime_version = 13000;
  return f;
}

TEST(CudaPlan, TheDeviceLineSaysWhatWasRead) {
  EXPECT_EQ(cuda_plan::device_line(h200()),
            "cuda:0: NVIDIA H200 (sm_90, 132 SMs, 140 GiB, L2 60 MiB, SM up to 1980 MHz, HBM 3201 "
            "MHz x 6144 bit, ECC on, driver 13.0, runtime 13.0)");
  cuda_plan::DeviceFacts gddr;
  gddr.index = 1;
  gddr.name = "NVIDIA GeForce RTX 2080 Ti";
  gddr.major = 7;
  gddr.minor = 5;
  gddr.l2_bytes = 512 * 1024;
  gddr.memory_clock_khz = 7'000'000;
  gddr.memory_bus_bits = 352;
  gddr.ecc = 0;
  gddr.driver_version = 12080;
  EXPECT_EQ(cuda_plan::device_line(gddr),
            "cuda:1: NVIDIA GeForce RTX 2080 Ti (sm_75, L2 512 KiB, memory 7000 MHz x 352 bit, "
            "ECC off, driver 12.8)");
  cuda_plan::DeviceFacts bare;  // nothing but the name and capability known
  bare.index = 2;
  bare.name = "X";
  bare.major = 8;
  bare.minor = 6;
  EXPECT_EQ(cuda_plan::device_line(bare), "cuda:2: X (sm_86)");
}

TEST(CudaPlan, VersionsAreMajorDotMinor) {
  EXPECT_EQ(cuda_plan::version_text(13000), "13.0");
  EXPECT_EQ(cuda_plan::version_text(12080), "12.8");
  EXPECT_EQ(cuda_plan::version_text(11020), "11.2");
  EXPECT_EQ(cuda_plan::version_text(0), "");
  EXPECT_EQ(cuda_plan::version_text(-1), "");
}

// ---- scratch arena --------------------------------------------------------------------------

// A host allocator that counts what it hands out and can be told to fail.
struct Counts {
  int allocs = 0, releases = 0;
  std::set<void*> live;
  bool fail = false;
};
Counts counts;

void* counting_alloc(std::size_t bytes, const char* what) {
  if (counts.fail) throw std::runtime_error(std::string(what) + ": out of memory (planted)");
  void* p = std::malloc(bytes);
  ++counts.allocs;
  counts.live.insert(p);
  return p;
}
void counting_release(void* p) {
  ++counts.releases;
  counts.live.erase(p);
  std::free(p);
}
constexpr ScratchAllocator kCounting{counting_alloc, counting_release};

class Scratch : public ::testing::Test {
 protected:
  void SetUp() override { counts = Counts{}; }
  void TearDown() override { EXPECT_TRUE(counts.live.empty()) << "scratch leaked"; }
};

TEST_F(Scratch, ANameGivesTheSameBufferAndNamesDifferentOnes) {
  DeviceScratch s(kCounting);
  float* a = s.get<float>("a", 100);
  float* b = s.get<float>("b", 100);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(s.get<float>("a", 100), a);
  EXPECT_EQ(s.get<float>("a", 10), a);  // smaller: the same buffer
  EXPECT_EQ(s.bytes(), 800u);
  EXPECT_EQ(s.buffers(), 2u);
  EXPECT_EQ(counts.allocs, 2);
}

TEST_F(Scratch, GrowingBeforeTheSealReplacesTheBufferAndCountsOnlyTheNewOne) {
  DeviceScratch s(kCounting);
  s.get<char>("a", 100);
  s.get<char>("b", 50);
  char* grown = s.get<char>("a", 1000);
  EXPECT_NE(grown, nullptr);
  EXPECT_EQ(counts.releases, 1);  // the old "a"
  EXPECT_EQ(s.bytes(), 1050u);
  EXPECT_EQ(counts.live.size(), 2u);
}

TEST_F(Scratch, AfterTheSealNothingGrowsAndTheErrorNamesTheBuffer) {
  DeviceScratch s(kCounting);
  void* a = s.get("log_scan SA", 4096);
  s.seal();
  EXPECT_TRUE(s.sealed());
  EXPECT_EQ(s.get("log_scan SA", 4096), a);  // the same request: fine
  EXPECT_EQ(s.get("log_scan SA", 1), a);
  try {
    s.get("log_scan SA", 4097);
    ADD_FAILURE() << "a sealed arena grew";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("log_scan SA: 4097 bytes of scratch asked for after", 0), 0u) << what;
    EXPECT_NE(what.find("took 4096"), std::string::npos) << what;
  }
  EXPECT_THROW(s.get("a new one", 8), std::runtime_error);
  EXPECT_EQ(counts.allocs, 1);
  EXPECT_EQ(s.bytes(), 4096u);
}

TEST_F(Scratch, ZeroBytesAllocateNothingAndAFailedAllocationLeavesNoTrace) {
  DeviceScratch s(kCounting);
  EXPECT_EQ(s.get("empty", 0), nullptr);
  EXPECT_EQ(counts.allocs, 0);
  EXPECT_NE(s.get("empty", 16), nullptr);  // grows from nothing
  counts.fail = true;
  EXPECT_THROW(s.get("big", 1 << 20), std::runtime_error);
  EXPECT_THROW(s.get("empty", 1 << 20), std::runtime_error);  // its old buffer is gone
  EXPECT_EQ(s.bytes(), 0u);
  counts.fail = false;
  EXPECT_NE(s.get("big", 1 << 20), nullptr);
  EXPECT_EQ(s.bytes(), static_cast<std::size_t>(1 << 20));
}

TEST_F(Scratch, TheArenaFreesEveryBufferWithIt) {
  {
    DeviceScratch s(kCounting);
    for (int i = 0; i < 5; ++i) s.get(("buffer " + std::to_string(i)).c_str(), 100 + i);
    EXPECT_EQ(counts.live.size(), 5u);
  }
  EXPECT_EQ(counts.releases, 5);  // TearDown: nothing live
}

TEST_F(Scratch, TheScopeSaysWhoseArenaTheKernelsGet) {
  DeviceScratch outer(kCounting), inner(kCounting);
  DeviceScratch* loose = &device_scratch();  // outside any bound kernel: the process's own
  EXPECT_NE(loose, &outer);
  {
    ScratchScope a(outer);
    EXPECT_EQ(&device_scratch(), &outer);
    {
      ScratchScope b(inner);
      EXPECT_EQ(&device_scratch(), &inner);
    }
    EXPECT_EQ(&device_scratch(), &outer);
  }
  EXPECT_EQ(&device_scratch(), loose);
  EXPECT_THROW(DeviceScratch(ScratchAllocator{}), std::invalid_argument);
}

// ---- the stream kernels launch on --------------------------------------------------------------

TEST(DeviceStream, TheScopeSaysWhichStreamTheKernelsLaunchOnAndNests) {
  // Stand-ins for two cudaStream_t: the binding only passes them on, never uses them.
  int one = 0, two = 0;
  {
    StreamScope a(&one);
    EXPECT_EQ(device_stream(), &one);
    {
      StreamScope b(&two);
      EXPECT_EQ(device_stream(), &two);
      {
        StreamScope legacy(nullptr);  // binding the legacy default stream is a binding too
        EXPECT_EQ(device_stream(), nullptr);
      }
      EXPECT_EQ(device_stream(), &two);
    }
    EXPECT_EQ(device_stream(), &one);
  }
}

TEST(DeviceStream, UnboundItIsTheBackendsOwnStreamOrAnErrorSayingWhyThereIsNone) {
  const BackendStatus st = cuda_status();
  if (st.available) {
    const DeviceStream own = device_stream();
    EXPECT_NE(own, nullptr);          // not the legacy default stream
    EXPECT_EQ(device_stream(), own);  // one per process
    return;
  }
  try {
    device_stream();
    FAIL() << "device_stream() gave a stream without a device";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(st.detail), std::string::npos)
        << e.what() << " / " << st.detail;
  }
}

// ---- accumulate-into outputs on the device ------------------------------------------------------

// A launch that writes nothing: what fetch() brings back is what the binding put on the device.
TEST(DeviceAccumulators, UploadedFromTheHostAndZeroedByTheReset) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  TensorMap in, out;
  out["acc"] = Tensor(DType::f32, {3});
  out["written"] = Tensor(DType::f32, {2});
  std::fill(out["acc"].data<float>(), out["acc"].data<float>() + 3, 5.0f);
  std::fill(out["written"].data<float>(), out["written"].data<float>() + 2, 2.0f);
  const BindFn bind =
      bind_device([](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {}, {"acc"});
  auto kernel = bind(in, out, Params{});
  EXPECT_TRUE(kernel->accumulates());
  kernel->run();
  kernel->fetch();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out["acc"].data<float>()[i], 5.0f);  // the host's base
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(std::isnan(out["written"].data<float>()[i]));  // poison
  kernel->reset_accumulators();
  kernel->run();
  kernel->fetch();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out["acc"].data<float>()[i], 0.0f);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(std::isnan(out["written"].data<float>()[i]));

  // Without names nothing accumulates; a name that is no output of the case is refused.
  EXPECT_FALSE(
      bind_device([](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {})(in, out, Params{})
          ->accumulates());
  try {
    bind_device([](const DeviceTensorMap&, DeviceTensorMap&, const Params&) {}, {"acc", "acc2"})(
        in, out, Params{});
    FAIL() << "an accumulate-into name that is no output was accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("'acc2'"), std::string::npos) << e.what();
  }
}

// ---- the backend without a device ---------------------------------------------------------------

TEST(CudaBackendModes, HotAndColdWhereBuilt) {
  Registry reg;
  const Backend* cuda = reg.find_backend("cuda");
  ASSERT_NE(cuda, nullptr);
  EXPECT_EQ(cuda->timing_modes(), (std::vector<std::string>{"hot", "cold"}));
#ifdef OPBENCH_HAVE_CUDA
  for (const char* mode : {"hot", "cold"}) {
    const auto timing = cuda->timing(mode);
    ASSERT_NE(timing, nullptr) << mode;
    EXPECT_TRUE(timing->manual_time()) << mode;
  }
#else
  EXPECT_EQ(cuda->timing("hot"), nullptr);
  EXPECT_EQ(make_device_sgemm(64), nullptr);
#endif
  EXPECT_EQ(cuda->timing("warm"), nullptr);
  if (!cuda->status().available) {
    EXPECT_EQ(cuda->compute_ceiling().kernel, nullptr);
    EXPECT_TRUE(cuda->devices().empty());
    EXPECT_EQ(cuda->memory_available(), 0u);
  }
}

}  // namespace
}  // namespace opbench
