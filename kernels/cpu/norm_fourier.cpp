// PCNorm, CCNorm and SCNorm on the CPU with FFTW: cpu.plain and cpu.fast (norm_fourier.hpp says
// what each is; the equations are in reference/norm_fourier.hpp).
#include "kernels/cpu/norm_fourier.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <type_traits>
#include <vector>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fourier_fftw.hpp"
#include "kernels/cpu/norm_fourier_planes.hpp"

namespace opbench::cpu {

using fourier::i64;

// --- cpu.plain -----------------------------------------------------------------------------------

namespace plain {
namespace {

constexpr float kPi = std::numbers::pi_v<float>;

// amp[k] = |F(plan.in)|, phase[k] = arg F(plan.in) of the complex input the caller filled.
void amplitude_phase(const fourier::ComplexPlans& plan, i64 hw, float* amp, float* phase) {
  plan.forward();
  const fftwf_complex* f = plan.out();
  for (i64 k = 0; k < hw; ++k) {
    if (amp) amp[k] = std::sqrt(f[k][0] * f[k][0] + f[k][1] * f[k][1]);
    if (phase) phase[k] = std::atan2(f[k][1], f[k][0]);
  }
}

// y = gamma Re F^-1(amp exp(i phase)) + beta, each element rounded once into T.
template <class T>
void compose(const fourier::ComplexPlans& plan, i64 hw, const float* amp, const float* phase,
             double gamma, double beta, T* y) {
  fftwf_complex* in = plan.in();
  for (i64 k = 0; k < hw; ++k) {
    in[k][0] = amp[k] * std::cos(phase[k]);
    in[k][1] = amp[k] * std::sin(phase[k]);
  }
  plan.inverse();
  const fftwf_complex* out = plan.out();
  const double scale = gamma / static_cast<double>(hw);
  for (i64 k = 0; k < hw; ++k) y[k] = narrow_double<T>(out[k][0] * scale + beta);
}

// plan.in = (x - shift) * scale (computed in double, rounded to float), imaginary parts 0.
template <class T>
void load(const fourier::ComplexPlans& plan, const T* x, i64 hw, double shift, double scale) {
  fftwf_complex* in = plan.in();
  for (i64 k = 0; k < hw; ++k) {
    in[k][0] = static_cast<float>((static_cast<double>(widen(x[k])) - shift) * scale);
    in[k][1] = 0.0f;
  }
}

// PCNorm (lambda = 0) and CCNorm: A(x_bn) with the phase of x - lambda mu.
template <class T>
void phase_kept(const T* x, float lambda, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h,
                i64 w, float eps) {
  const i64 hw = h * w;
  const fourier::BatchStats s = fourier::batch_stats(x, n, c, hw, eps, false, fourier::WidenEach());
  const fourier::ComplexPlans plan(h, w);
  std::vector<float> amp(static_cast<std::size_t>(hw)), phase(amp.size());
  for (i64 b = 0; b < n; ++b) {
    for (i64 ch = 0; ch < c; ++ch) {
      const i64 p = b * c + ch;
      const T* xp = x + p * hw;
      const double mu = s.mean[static_cast<std::size_t>(ch)];
      const double sum = s.plane_sum[static_cast<std::size_t>(p)];
      load(plan, xp, hw, mu, s.rstd[static_cast<std::size_t>(ch)]);
      amplitude_phase(plan, hw, amp.data(), nullptr);
      // The phase of x - lambda mu: of the centered plane (the same but at DC), and at DC the
      // sign of sum(x - lambda mu).
      load(plan, xp, hw, sum / static_cast<double>(hw), 1.0);
      amplitude_phase(plan, hw, nullptr, phase.data());
      phase[0] = sum - static_cast<double>(lambda) * mu * static_cast<double>(hw) < 0 ? kPi : 0.0f;
      compose(plan, hw, amp.data(), phase.data(), widen(gamma[ch]), widen(beta[ch]), y + p * hw);
    }
  }
}

}  // namespace

template <typename T>
void pcnorm(const T* x, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h, i64 w,
            float eps) {
  phase_kept(x, 0.0f, gamma, beta, y, n, c, h, w, eps);
}

template <typename T>
void ccnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h,
            i64 w, float eps) {
  phase_kept(x, lambda, gamma, beta, y, n, c, h, w, eps);
}

template <typename T>
void scnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h,
            i64 w, float eps) {
  const i64 hw = h * w;
  const fourier::ComplexPlans plan(h, w);
  std::vector<float> values(static_cast<std::size_t>(hw)), amp_in(values.size()),
      amp_x(values.size()), phase(values.size());
  for (i64 b = 0; b < n; ++b) {
    for (i64 ch = 0; ch < c; ++ch) {
      const i64 p = b * c + ch;
      const T* xp = x + p * hw;
      fourier::WidenEach()(xp, values.data(), hw);
      const fourier::Moments mo = fourier::moments(values.data(), hw);
      const double m = mo.sum / static_cast<double>(hw);
      const double sd = std::sqrt(mo.m2 / static_cast<double>(hw) + eps);
      load(plan, xp, hw, m, 1.0 / sd);
      amplitude_phase(plan, hw, amp_in.data(), nullptr);
      // A(x) and P(x) from the centered plane, the DC bin from the mean.
      load(plan, xp, hw, m, 1.0);
      amplitude_phase(plan, hw, amp_x.data(), phase.data());
      amp_x[0] = static_cast<float>(std::abs(m) * static_cast<double>(hw));
      phase[0] = m < 0 ? kPi : 0.0f;
      for (std::size_t k = 0; k < amp_in.size(); ++k)
        amp_in[k] = lambda * amp_in[k] + (1.0f - lambda) * amp_x[k];
      compose(plan, hw, amp_in.data(), phase.data(), widen(gamma[ch]), widen(beta[ch]), y + p * hw);
    }
  }
}

}  // namespace plain

// --- cpu.fast ------------------------------------------------------------------------------------

namespace fast {
namespace {

// 16-bit planes widen and round kW values at a time (half_vec.hpp); float ones need neither.
struct WidenVec {
  template <class T>
  void operator()(const T* src, float* dst, i64 count) const {
    half_vec::widen(src, dst, count);
  }
};

// How one plane goes into its transform, z = (x - shift) * scale, and the DC bin of its output.
struct PlanePass {
  double shift, scale;
  float dc;
};

// Every plane of x over the OpenMP threads, into y. The plane, as float32, goes through
// pass(plane, values) (which may take statistics of it) to z = (x - shift) * scale in the thread's
// real scratch; r2c; the DC bin set to pass.dc; c2r into y's plane itself (float32 planes of the
// planning arrays' alignment) or into the scratch, copied or rounded from there into T. The scale
// carries the inverse's 1/(hw) and gamma, so the spectrum pass is the DC bin alone.
//
// The shift (a mean, in double) rounded to float is off by up to half its ulp, a constant over the
// plane: it only moves the DC bin, which is replaced. And x - shift is exact where x is near the
// shift (Sterbenz), so a large common offset never enters the transform.
//
// The scratch comes from fftwf_malloc, as the planning arrays did, made here by the calling thread
// (fftwf_malloc is not one of FFTW's thread-safe calls), in slices of whole 64-byte lines. Planes
// are handed out one at a time: on a shared machine a descheduled thread leaves its planes to the
// others instead of holding up the call.
template <class T, class Pass>
void over_planes(const T* x, T* y, i64 planes, i64 h, i64 w, Pass pass) {
  const fourier::RealPlans& plans = fourier::real_plans(h, w);
  const int threads = static_cast<int>(std::clamp<i64>(planes, 1, omp_get_max_threads()));
  const i64 hw = h * w;
  const i64 real_stride = (hw + 15) / 16 * 16, bin_stride = (h * (w / 2 + 1) + 7) / 8 * 8;
  const fourier::Buffer<float> real(static_cast<std::size_t>(real_stride * threads));
  const fourier::Buffer<fftwf_complex> spec(static_cast<std::size_t>(bin_stride * threads));
  for (int t = 0; t < threads; ++t) {
    fourier::check_alignment(plans, real.get() + real_stride * t);
    fourier::check_alignment(plans, spec.get() + bin_stride * t);
  }
  // y's planes all have y's alignment when a plane is a whole number of 64-byte lines.
  bool direct = false;
  if constexpr (std::is_same_v<T, float>) {
    direct = fftwf_alignment_of(y) == plans.alignment && (hw * sizeof(float)) % 64 == 0;
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
  for (i64 p = 0; p < planes; ++p) {
    const int t = omp_get_thread_num();
    float* re = real.get() + real_stride * t;
    fftwf_complex* sp = spec.get() + bin_stride * t;
    const float* v;
    if constexpr (std::is_same_v<T, float>) {
      v = x + p * hw;
    } else {
      half_vec::widen(x + p * hw, re, hw);
      v = re;
    }
    const PlanePass a = pass(p, v);
    const float shift = static_cast<float>(a.shift), scale = static_cast<float>(a.scale);
    for (i64 i = 0; i < hw; ++i) re[i] = (v[i] - shift) * scale;
    fftwf_execute_dft_r2c(plans.forward, re, sp);
    sp[0][0] = a.dc;
    sp[0][1] = 0.0f;
    T* yp = y + p * hw;
    if constexpr (std::is_same_v<T, float>) {
      if (direct) {
        fftwf_execute_dft_c2r(plans.inverse, sp, yp);
        continue;
      }
    }
    fftwf_execute_dft_c2r(plans.inverse, sp, re);
    if constexpr (std::is_same_v<T, float>) {
      std::memcpy(yp, re, static_cast<std::size_t>(hw) * sizeof(float));
    } else {
      half_vec::narrow(re, yp, hw);
    }
  }
}

// PCNorm (lambda = 0) and CCNorm. Away from DC, A(x_bn) exp(i P(x - lambda mu)) is F(x_bn)
// itself; at DC its amplitude is hw |d|, d = (m_p - mu) rstd the normalized plane's mean, and its
// phase the sign of sum(x) - lambda mu hw. With the inverse's 1/(hw), gamma and beta: the plane
// (x - mu) rstd gamma / hw transformed, its DC bin gamma sign |d| + beta.
template <class T>
void phase_kept(const T* x, float lambda, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h,
                i64 w, float eps) {
  const i64 hw = h * w;
  const fourier::BatchStats s = fourier::batch_stats(x, n, c, hw, eps, true, WidenVec());
  over_planes(x, y, n * c, h, w, [&](i64 p, const float*) {
    const std::size_t ch = static_cast<std::size_t>(p % c);
    const double sum = s.plane_sum[static_cast<std::size_t>(p)];
    const double d = (sum / static_cast<double>(hw) - s.mean[ch]) * s.rstd[ch];
    const double shifted = sum - static_cast<double>(lambda) * s.mean[ch] * static_cast<double>(hw);
    const double g = widen(gamma[ch]);
    return PlanePass{
        s.mean[ch], s.rstd[ch] * g / static_cast<double>(hw),
        static_cast<float>(g * (shifted < 0 ? -1.0 : 1.0) * std::abs(d) + widen(beta[ch]))};
  });
}

}  // namespace

template <typename T>
void pcnorm(const T* x, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h, i64 w,
            float eps) {
  phase_kept(x, 0.0f, gamma, beta, y, n, c, h, w, eps);
}

template <typename T>
void ccnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h,
            i64 w, float eps) {
  phase_kept(x, lambda, gamma, beta, y, n, c, h, w, eps);
}

// SCNorm. Away from DC, (lambda A(x_in) + (1 - lambda) A(x)) exp(i P(x)) is
// (lambda / sd + 1 - lambda) F(x - m), m and sd the plane's instance statistics; at DC, A(x_in)
// is 0 and A(x) exp(i P(x)) = hw m. The plane is centered before its transform; its statistics
// come from two passes over it in cache.
template <typename T>
void scnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 h,
            i64 w, float eps) {
  const i64 hw = h * w;
  const double l = lambda;
  over_planes(x, y, n * c, h, w, [&](i64 p, const float* v) {
    const fourier::Moments mo = fourier::moments(v, hw);
    const double m = mo.sum / static_cast<double>(hw);
    const double rstd = 1.0 / std::sqrt(mo.m2 / static_cast<double>(hw) + eps);
    const std::size_t ch = static_cast<std::size_t>(p % c);
    const double g = widen(gamma[ch]);
    return PlanePass{m, g * (l * rstd + (1.0 - l)) / static_cast<double>(hw),
                     static_cast<float>(g * (1.0 - l) * m + widen(beta[ch]))};
  });
}

}  // namespace fast

// --- instantiations ------------------------------------------------------------------------------

#define OPBENCH_FOURIER_INSTANTIATE(NS, T)                                                         \
  template void NS::pcnorm<T>(const T*, const T*, const T*, T*, i64, i64, i64, i64, float);        \
  template void NS::ccnorm<T>(const T*, float, const T*, const T*, T*, i64, i64, i64, i64, float); \
  template void NS::scnorm<T>(const T*, float, const T*, const T*, T*, i64, i64, i64, i64, float);

OPBENCH_FOURIER_INSTANTIATE(plain, float)
OPBENCH_FOURIER_INSTANTIATE(plain, bf16_t)
OPBENCH_FOURIER_INSTANTIATE(plain, f16_t)
OPBENCH_FOURIER_INSTANTIATE(fast, float)
OPBENCH_FOURIER_INSTANTIATE(fast, bf16_t)
OPBENCH_FOURIER_INSTANTIATE(fast, f16_t)

#undef OPBENCH_FOURIER_INSTANTIATE

}  // namespace opbench::cpu
