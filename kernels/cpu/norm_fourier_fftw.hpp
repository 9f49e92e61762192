#pragma once
// FFTW (single precision) for the Fourier-domain norms (norm_fourier.cpp): the process's one
// planner lock, aligned buffers, the plain kernels' per-call complex plans and the fast kernels'
// real-to-complex plans, made once per shape and kept.
//
// FFTW's rules, which everything here follows: only fftwf_execute and its new-array variants are
// thread-safe; every other FFTW call (planning, destroying a plan, fftwf_malloc) runs under
// planner_mutex(). A plan executed on new arrays needs arrays of the planning arrays' alignment
// (fftwf_alignment_of), the same in-place-ness and strides: the fast kernels execute only on
// buffers from fftwf_malloc, as were the arrays they were planned on, and check it.
#include <fftw3.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace opbench::cpu::fourier {

inline std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

// fftwf_malloc'd storage of `count` elements of E (aligned for FFTW's SIMD).
template <class E>
class Buffer {
 public:
  explicit Buffer(std::size_t count) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    p_ = static_cast<E*>(fftwf_malloc(count * sizeof(E)));
    if (!p_) throw std::bad_alloc();
  }
  ~Buffer() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftwf_free(p_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  E* get() const { return p_; }

 private:
  E* p_ = nullptr;
};

// FFTW takes int sizes.
inline int fftw_size(std::int64_t n) {
  if (n < 1 || n > (std::int64_t{1} << 30)) {
    throw std::invalid_argument("FFT size " + std::to_string(n) + " is outside [1, 2^30]");
  }
  return static_cast<int>(n);
}

// The plain kernels' plans: a forward and an inverse complex 2-D DFT of h x w on their own
// in/out buffers, planned with FFTW_ESTIMATE (no trial runs) when made, destroyed with them.
class ComplexPlans {
 public:
  ComplexPlans(std::int64_t h, std::int64_t w)
      : in_(static_cast<std::size_t>(h * w)), out_(static_cast<std::size_t>(h * w)) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    forward_ = fftwf_plan_dft_2d(fftw_size(h), fftw_size(w), in_.get(), out_.get(), FFTW_FORWARD,
                                 FFTW_ESTIMATE);
    inverse_ = fftwf_plan_dft_2d(fftw_size(h), fftw_size(w), in_.get(), out_.get(), FFTW_BACKWARD,
                                 FFTW_ESTIMATE);
    if (!forward_ || !inverse_) throw std::runtime_error("FFTW could not plan a complex 2-D DFT");
  }
  ~ComplexPlans() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    if (forward_) fftwf_destroy_plan(forward_);
    if (inverse_) fftwf_destroy_plan(inverse_);
  }
  ComplexPlans(const ComplexPlans&) = delete;
  ComplexPlans& operator=(const ComplexPlans&) = delete;

  fftwf_complex* in() const { return in_.get(); }
  fftwf_complex* out() const { return out_.get(); }
  void forward() const { fftwf_execute(forward_); }  // out = F(in)
  void inverse() const { fftwf_execute(inverse_); }  // out = hw F^-1(in)

 private:
  Buffer<fftwf_complex> in_, out_;
  fftwf_plan forward_ = nullptr, inverse_ = nullptr;
};

// The fast kernels' plans for one shape: r2c (h x w reals -> h x (w/2 + 1) complex bins) and c2r
// back (without the 1/(hw)), out of place, planned with FFTW_MEASURE on scratch arrays (trial runs
// pick the fastest algorithm for this machine; they overwrite the arrays, never a caller's).
struct RealPlans {
  fftwf_plan forward = nullptr;
  fftwf_plan inverse = nullptr;
  int alignment = 0;  // fftwf_alignment_of the planning arrays; new arrays must match it
};

// The plans of shape h x w, made at the first call for that shape and kept for the life of the
// process (FFTW frees nothing at exit that matters; destroying plans from static destructors would
// race a kernel still running in another thread at exit). Thread-safe.
inline const RealPlans& real_plans(std::int64_t h, std::int64_t w) {
  static auto* cache = new std::map<std::pair<std::int64_t, std::int64_t>, RealPlans>();
  std::lock_guard<std::mutex> lock(planner_mutex());
  auto it = cache->find({h, w});
  if (it != cache->end()) return it->second;
  const int ih = fftw_size(h), iw = fftw_size(w);
  const std::size_t reals = static_cast<std::size_t>(h * w);
  const std::size_t bins = static_cast<std::size_t>(h * (w / 2 + 1));
  float* re = static_cast<float*>(fftwf_malloc(reals * sizeof(float)));
  fftwf_complex* sp = static_cast<fftwf_complex*>(fftwf_malloc(bins * sizeof(fftwf_complex)));
  if (!re || !sp) {
    fftwf_free(re);
    fftwf_free(sp);
    throw std::bad_alloc();
  }
  RealPlans p;
  p.forward = fftwf_plan_dft_r2c_2d(ih, iw, re, sp, FFTW_MEASURE);
  p.inverse = fftwf_plan_dft_c2r_2d(ih, iw, sp, re, FFTW_MEASURE);
  p.alignment = fftwf_alignment_of(re);
  const bool same = fftwf_alignment_of(reinterpret_cast<float*>(sp)) == p.alignment;
  fftwf_free(re);
  fftwf_free(sp);
  if (!p.forward || !p.inverse || !same) {
    if (p.forward) fftwf_destroy_plan(p.forward);
    if (p.inverse) fftwf_destroy_plan(p.inverse);
    throw std::runtime_error("FFTW could not plan an r2c/c2r pair of " + std::to_string(h) + "x" +
                             std::to_string(w));
  }
  return cache->emplace(std::make_pair(h, w), p).first->second;
}

// Throws unless `p` may take the place of the planning arrays of `plans`.
inline void check_alignment(const RealPlans& plans, void* p) {
  if (fftwf_alignment_of(static_cast<float*>(p)) != plans.alignment) {
    throw std::logic_error("FFTW new-array execute on an array of another alignment");
  }
}

}  // namespace opbench::cpu::fourier
