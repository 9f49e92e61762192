#include "harness/ceilings.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "harness/tensor.hpp"

namespace opbench {

namespace {

class HostCopy final : public BoundKernel {
 public:
  explicit HostCopy(double bytes)
      : half_(static_cast<std::size_t>(std::max(bytes / 2, 64.0))),
        src_(DType::f32, {static_cast<std::int64_t>((half_ + 3) / 4)}),
        dst_(DType::f32, {static_cast<std::int64_t>((half_ + 3) / 4)}) {
    // First touch from the same threads that copy, so pages land where they are used.
    run();
    float* s = src_.data<float>();
    for (std::int64_t i = 0; i < src_.numel(); ++i) s[i] = static_cast<float>(i % 1024);
  }
  void run() override {
    const auto* src = static_cast<const std::byte*>(src_.raw());
    auto* dst = static_cast<std::byte*>(dst_.raw());
    const std::size_t n = half_;
    // Small copies stay on one thread, as the kernels do for small sizes: fork/join costs more.
    if (n < (std::size_t{1} << 18)) {
      std::memcpy(dst, src, n);
      return;
    }
#pragma omp parallel
    {
      const std::size_t threads = static_cast<std::size_t>(omp_get_num_threads());
      const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
      const std::size_t chunk = (n / threads + 63) / 64 * 64;
      const std::size_t begin = std::min(n, t * chunk);
      const std::size_t end = std::min(n, begin + chunk);
      if (end > begin) std::memcpy(dst + begin, src + begin, end - begin);
    }
  }

 private:
  std::size_t half_;
  Tensor src_, dst_;
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
