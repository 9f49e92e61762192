// Float64 references of PCNorm, CCNorm and SCNorm (contract and equations in norm_fourier.hpp).
// Plain loops, no SIMD, no threads, no FFT library: the DFT is its definition.
#include "reference/norm_fourier.hpp"

#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

namespace opbench::ref {
namespace {

using i64 = std::int64_t;

// cos and sin of 2 pi k / len for k in [0, len): the angle of index j * v of a DFT is looked up at
// (j * v) mod len, an exact integer reduction, so no angle is ever larger than 2 pi.
struct Twiddles {
  std::vector<double> c, s;
  explicit Twiddles(i64 len) : c(static_cast<std::size_t>(len)), s(c.size()) {
    for (i64 k = 0; k < len; ++k) {
      const double a = 2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(len);
      c[static_cast<std::size_t>(k)] = std::cos(a);
      s[static_cast<std::size_t>(k)] = std::sin(a);
    }
  }
};

// out[f * ostride] = sum_j in[j * istride] exp(sign 2 pi i j f / len), f in [0, len).
void dft1(const double* re, const double* im, i64 istride, double* ore, double* oim, i64 ostride,
          i64 len, int sign, const Twiddles& t) {
  for (i64 f = 0; f < len; ++f) {
    double sr = 0.0, si = 0.0;
    i64 k = 0;  // (j * f) mod len, kept by addition
    for (i64 j = 0; j < len; ++j, k = (k + f >= len) ? k + f - len : k + f) {
      const double c = t.c[static_cast<std::size_t>(k)],
                   s = sign * t.s[static_cast<std::size_t>(k)];
      const double a = re[j * istride], b = im ? im[j * istride] : 0.0;
      sr += a * c - b * s;
      si += a * s + b * c;
    }
    ore[f * ostride] = sr;
    oim[f * ostride] = si;
  }
}

// Mean and biased variance of p[0..count), two passes.
void mean_var(const double* p, i64 count, double& mean, double& var) {
  double s = 0.0;
  for (i64 i = 0; i < count; ++i) s += p[i];
  mean = s / static_cast<double>(count);
  double q = 0.0;
  for (i64 i = 0; i < count; ++i) q += (p[i] - mean) * (p[i] - mean);
  var = q / static_cast<double>(count);
}

// BatchNorm's training statistics: mean and biased variance of each channel over n, h, w.
void batch_stats(const double* x, i64 n, i64 c, i64 hw, std::vector<double>& mean,
                 std::vector<double>& var) {
  mean.assign(static_cast<std::size_t>(c), 0.0);
  var.assign(mean.size(), 0.0);
  const double count = static_cast<double>(n * hw);
  for (i64 ch = 0; ch < c; ++ch) {
    double s = 0.0;
    for (i64 b = 0; b < n; ++b)
      for (i64 k = 0; k < hw; ++k) s += x[(b * c + ch) * hw + k];
    const double m = s / count;
    double q = 0.0;
    for (i64 b = 0; b < n; ++b) {
      for (i64 k = 0; k < hw; ++k) {
        const double d = x[(b * c + ch) * hw + k] - m;
        q += d * d;
      }
    }
    mean[static_cast<std::size_t>(ch)] = m;
    var[static_cast<std::size_t>(ch)] = q / count;
  }
}

// One plane's spectrum, amplitude and phase, and the way back.
class Plane {
 public:
  Plane(i64 h, i64 w)
      : h_(h),
        w_(w),
        re_(static_cast<std::size_t>(h * w)),
        im_(re_.size()),
        tmp_re_(re_.size()),
        tmp_im_(re_.size()) {}

  // A(p) and P(p) of the real plane p (P = atan2(Im, Re), in (-pi, pi]; 0 where F is 0).
  void amplitude_phase(const double* p, double* amp, double* phase) {
    dft2(p, nullptr, re_.data(), im_.data(), h_, w_, -1);
    for (std::size_t k = 0; k < re_.size(); ++k) {
      if (amp) amp[k] = std::hypot(re_[k], im_[k]);
      if (phase) phase[k] = std::atan2(im_[k], re_[k]);
    }
  }

  // out = Re F^-1(amp exp(i phase)), 1/(hw) included.
  void compose(const double* amp, const double* phase, double* out) {
    for (std::size_t k = 0; k < re_.size(); ++k) {
      tmp_re_[k] = amp[k] * std::cos(phase[k]);
      tmp_im_[k] = amp[k] * std::sin(phase[k]);
    }
    dft2(tmp_re_.data(), tmp_im_.data(), re_.data(), im_.data(), h_, w_, +1);
    const double scale = 1.0 / static_cast<double>(h_ * w_);
    for (std::size_t k = 0; k < re_.size(); ++k) out[k] = re_[k] * scale;
  }

 private:
  i64 h_, w_;
  std::vector<double> re_, im_, tmp_re_, tmp_im_;
};

// PCNorm (shift = 0) and CCNorm (shift = lambda): the amplitude of the batch-normalized plane,
// the phase of x - shift * mu_c, composed, then gamma and beta.
void phase_kept_norm(const double* x, double shift, const double* gamma, const double* beta,
                     double* y, i64 n, i64 c, i64 h, i64 w, double eps) {
  const i64 hw = h * w;
  std::vector<double> mean, var;
  batch_stats(x, n, c, hw, mean, var);
  Plane plane(h, w);
  std::vector<double> xn(static_cast<std::size_t>(hw)), xs(xn.size()), amp(xn.size()),
      phase(xn.size()), z(xn.size());
  for (i64 b = 0; b < n; ++b) {
    for (i64 ch = 0; ch < c; ++ch) {
      const std::size_t uc = static_cast<std::size_t>(ch);
      const double* xp = x + (b * c + ch) * hw;
      const double inv = 1.0 / std::sqrt(var[uc] + eps);
      for (i64 k = 0; k < hw; ++k) {
        xn[static_cast<std::size_t>(k)] = (xp[k] - mean[uc]) * inv;
        xs[static_cast<std::size_t>(k)] = xp[k] - shift * mean[uc];
      }
      plane.amplitude_phase(xn.data(), amp.data(), nullptr);
      plane.amplitude_phase(xs.data(), nullptr, phase.data());
      plane.compose(amp.data(), phase.data(), z.data());
      double* yp = y + (b * c + ch) * hw;
      for (i64 k = 0; k < hw; ++k) yp[k] = gamma[ch] * z[static_cast<std::size_t>(k)] + beta[ch];
    }
  }
}

}  // namespace

void dft2(const double* in_re, const double* in_im, double* out_re, double* out_im, i64 h, i64 w,
          int sign) {
  const Twiddles tw(w), th(h);
  std::vector<double> gr(static_cast<std::size_t>(h * w)), gi(gr.size());
  // Along each row (over s), then along each column (over r).
  for (i64 r = 0; r < h; ++r) {
    dft1(in_re + r * w, in_im ? in_im + r * w : nullptr, 1, gr.data() + r * w, gi.data() + r * w, 1,
         w, sign, tw);
  }
  for (i64 v = 0; v < w; ++v) {
    dft1(gr.data() + v, gi.data() + v, w, out_re + v, out_im + v, w, h, sign, th);
  }
}

void pcnorm(const double* x, const double* gamma, const double* beta, double* y, i64 n, i64 c,
            i64 h, i64 w, double eps) {
  phase_kept_norm(x, 0.0, gamma, beta, y, n, c, h, w, eps);
}

void ccnorm(const double* x, double lambda, const double* gamma, const double* beta, double* y,
            i64 n, i64 c, i64 h, i64 w, double eps) {
  phase_kept_norm(x, lambda, gamma, beta, y, n, c, h, w, eps);
}

void scnorm(const double* x, double lambda, const double* gamma, const double* beta, double* y,
            i64 n, i64 c, i64 h, i64 w, double eps) {
  const i64 hw = h * w;
  Plane plane(h, w);
  std::vector<double> xn(static_cast<std::size_t>(hw)), amp_in(xn.size()), amp_x(xn.size()),
      phase(xn.size()), amp(xn.size()), z(xn.size());
  for (i64 b = 0; b < n; ++b) {
    for (i64 ch = 0; ch < c; ++ch) {
      const double* xp = x + (b * c + ch) * hw;
      double m, s;
      mean_var(xp, hw, m, s);
      const double inv = 1.0 / std::sqrt(s + eps);
      for (i64 k = 0; k < hw; ++k) xn[static_cast<std::size_t>(k)] = (xp[k] - m) * inv;
      plane.amplitude_phase(xn.data(), amp_in.data(), nullptr);
      plane.amplitude_phase(xp, amp_x.data(), phase.data());
      for (std::size_t k = 0; k < amp.size(); ++k)
        amp[k] = lambda * amp_in[k] + (1.0 - lambda) * amp_x[k];
      plane.compose(amp.data(), phase.data(), z.data());
      double* yp = y + (b * c + ch) * hw;
      for (i64 k = 0; k < hw; ++k) yp[k] = gamma[ch] * z[static_cast<std::size_t>(k)] + beta[ch];
    }
  }
}

}  // namespace opbench::ref
