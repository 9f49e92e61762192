#include "harness/ceilings.hpp"

#include <cblas.h>
#include <omp.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "harness/descriptive_stats.hpp"
#include "harness/tensor.hpp"

namespace opbench {

namespace {

// Copies half of `bytes` (so it moves `bytes`, read + write) in whichever way is fastest here at
// this size, chosen by the median of a few timed copies of each: memcpy or a copy with
// non-temporal (streaming) stores, on one thread or split over all the run's threads. glibc's
// memcpy picks streaming stores only above a threshold derived from the L3 size, which a VM may
// report as hundreds of MiB, and a small copy can lose more to waking threads than it gains from
// them; a kernel may do either, so the ceiling must too. It is the machine's best same-size copy
// with the threads the kernels have: a kernel above it means the ceiling is wrong.
class HostCopy final : public BoundKernel {
 public:
  explicit HostCopy(double bytes)
      : half_((static_cast<std::size_t>(std::max(bytes / 2, 64.0)) + 63) / 64 * 64),
        src_(DType::f32, {static_cast<std::int64_t>(half_ / 4)}),
        dst_(DType::f32, {static_cast<std::int64_t>(half_ / 4)}) {
    float* s = src_.data<float>();
    for (std::int64_t i = 0; i < src_.numel(); ++i) s[i] = static_cast<float>(i % 1024);
    double best = 0;
    for (bool streaming : {false, true}) {
      for (bool parallel : {false, true}) {
        streaming_ = streaming;
        parallel_ = parallel;
        const double t = median_of(5);
        if (best == 0 || t < best) {
          best = t;
          chosen_ = {streaming, parallel};
        }
      }
    }
    streaming_ = chosen_.first;
    parallel_ = chosen_.second;
  }
  void run() override {
    const auto* src = static_cast<const std::byte*>(src_.raw());
    auto* dst = static_cast<std::byte*>(dst_.raw());
    const std::size_t n = half_;
    if (!parallel_) {
      copy(dst, src, n);
      return;
    }
#pragma omp parallel
    {
      const std::size_t threads = static_cast<std::size_t>(omp_get_num_threads());
      const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
      const std::size_t chunk = (n / threads + 63) / 64 * 64;
      const std::size_t begin = std::min(n, t * chunk);
      const std::size_t end = std::min(n, begin + chunk);
      if (end > begin) copy(dst + begin, src + begin, end - begin);
    }
  }

 private:
  // `n` is a multiple of 64 and both pointers are 64-byte aligned (Tensor storage, 64-byte chunks).
  void copy(std::byte* dst, const std::byte* src, std::size_t n) const {
#if defined(__SSE2__)
    if (streaming_) {
      for (std::size_t i = 0; i < n; i += 64) {
        for (std::size_t k = 0; k < 64; k += 16) {
          _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + k),
                           _mm_load_si128(reinterpret_cast<const __m128i*>(src + i + k)));
        }
      }
      _mm_sfence();
      return;
    }
#endif
    std::memcpy(dst, src, n);
  }

  // The median of `n` timed copies after one warm-up (the statistic the kernels are judged by).
  double median_of(int n) {
    run();  // warm-up and first touch from the copying threads
    std::vector<double> times;
    for (int i = 0; i < n; ++i) {
      auto start = std::chrono::steady_clock::now();
      run();
      times.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return stats::median(times);
  }

  std::size_t half_;
  Tensor src_, dst_;
  bool streaming_ = false;
  bool parallel_ = true;
  std::pair<bool, bool> chosen_{false, true};
};

class HostSgemm final : public BoundKernel {
 public:
  explicit HostSgemm(int n)
      : n_(n), a_(DType::f32, {n, n}), b_(DType::f32, {n, n}), c_(DType::f32, {n, n}) {
    for (Tensor* t : {&a_, &b_}) {
      float* p = t->data<float>();
      for (std::int64_t i = 0; i < t->numel(); ++i) p[i] = static_cast<float>((i % 7) - 3) / 8;
    }
  }
  void run() override {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_, n_, n_, 1.0f, a_.data<float>(), n_,
                b_.data<float>(), n_, 0.0f, c_.data<float>(), n_);
  }

 private:
  int n_;
  Tensor a_, b_, c_;
};

}  // namespace

std::unique_ptr<BoundKernel> make_host_copy(double bytes) {
  return std::make_unique<HostCopy>(bytes);
}

std::unique_ptr<BoundKernel> make_host_sgemm(int n) {
  return std::make_unique<HostSgemm>(n);
}

}  // namespace opbench
