#pragma once
// The arithmetic behind the CUDA backend's choices, in plain C++ so that it is built and tested
// with or without CUDA: how many launches a hot sample batches, how many bytes the cold mode writes
// to flush L2, the size of the cuBLAS SGEMM ceiling, and the report's line for a device.
#include <cstddef>
#include <cstdint>
#include <string>

namespace opbench::cuda_plan {

// A hot sample lasts about this long: long enough that the two events' resolution (~0.5 us) and
// the gap after the blocking kernel are small beside it, short enough that the launches a sample
// queues behind the blocking kernel stay far below the device's launch queue.
constexpr double kHotSampleSeconds = 50e-6;
// At most this many runs of a kernel are queued behind the blocking kernel in one sample (a run
// may be several launches; the device's queue holds about a thousand before the host blocks).
constexpr int kMaxHotBatch = 100;

// Runs per hot sample for a kernel whose run takes `seconds_per_run` on the device: enough that
// the sample lasts `target_s`, at least 1 (a run longer than the target is one sample), at most
// `max_batch`. A time that is zero, negative or not a number gives `max_batch` for zero and
// negatives (nothing measurable) and 1 for NaN.
int hot_batch(double seconds_per_run, double target_s = kHotSampleSeconds,
              int max_batch = kMaxHotBatch);

// Bytes the cold mode writes before each sample to push a kernel's data out of L2: twice the L2
// size (Hopper's L2 is two partitions, and data read through the far one may sit in both), rounded
// up to a whole MiB; 64 MiB when the size is unknown (<= 0).
std::size_t l2_flush_bytes(std::int64_t l2_bytes);

// n of the n x n x n cuBLAS SGEMM ceiling: 8192 (enough waves of tiles for any current GPU to
// reach its peak) when its three matrices take at most a quarter of `free_bytes`, else the largest
// of 4096, 2048 and 1024 that does; 0 when not even 1024 does (no compute ceiling).
int sgemm_ceiling_size(std::uint64_t free_bytes);

// What the report records about one CUDA device. Zero (or -1 for ecc) means "not known", and the
// line leaves that part out.
struct DeviceFacts {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  std::uint64_t total_memory = 0;  // bytes
  std::int64_t l2_bytes = 0;
  int sm_clock_khz = 0;      // the highest SM clock (cudaDevAttrClockRate)
  int memory_clock_khz = 0;  // cudaDevAttrMemoryClockRate
  int memory_bus_bits = 0;   // cudaDevAttrGlobalMemoryBusWidth
  int ecc = -1;              // 1 on, 0 off, -1 unknown
  int driver_version = 0;    // cudaDriverGetVersion: 13000 for 13.0
  int runtime_version = 0;   // cudaRuntimeGetVersion
};

// "13.0" for 13000, "12.8" for 12080; "" for 0 or less.
std::string version_text(int version);

// "cuda:0: NVIDIA H200 (sm_90, 132 SMs, 141 GiB, L2 60 MiB, SM up to 1980 MHz, HBM 3201 MHz x
// 6144 bit, ECC on, driver 13.0, runtime 13.0)". A bus of 1024 bits or more is HBM's (GDDR buses
// are at most 512 bits wide); a narrower one is called "memory".
std::string device_line(const DeviceFacts& f);

}  // namespace opbench::cuda_plan
