#pragma once
// PCNorm, CCNorm and SCNorm (Lee, Bae, Kim 2023; the equations are in reference/norm_fourier.hpp)
// over x[n, c, h, w] on the CPU, with FFTW in single precision. T is float, bf16_t or f16_t
// (explicitly instantiated in norm_fourier.cpp): planes are widened to float32 on load, computed
// in float32 (statistics in double) and each output is rounded once into T. gamma and beta are
// per channel; lambda is the learned mixing weight in [0, 1].
//
// cpu.plain: what a careful user writes first: one thread, complex 2-D DFTs of every plane,
// planned at each call with FFTW_ESTIMATE; the amplitude and phase are taken (sqrt, atan2) and
// composed (cos, sin) literally. It is careful in one place: the phase of x is taken from the
// centered plane x - mean(x) (the same phase everywhere but at the DC bin, whose phase is the sign
// of the plane's sum, taken in double), since under a large common offset the float32 spectrum of
// x itself holds its other bins to an absolute error of ~u log2(hw) |offset| sqrt(hw).
//
// cpu.fast: real-to-complex transforms (r2c, then c2r on the half spectrum), plans made once per
// shape and kept (norm_fourier_fftw.hpp), planes spread over OpenMP threads with the new-array
// execute functions, statistics in double from planes in cache, and the normalization fused into
// the transforms' own passes. It uses what the equations reduce to: away from the DC bin, a plane
// and its shifted, positively scaled copies have the same phase (F(a x + b) = a F(x) there,
// a > 0), so A(x_bn) exp(i P(x - lambda mu)) = F(x_bn), and lambda A(x_in) + (1 - lambda) A(x)
// with P(x) is (lambda / sd + 1 - lambda) F(x - m). So each plane is loaded as one normalized
// (PCNorm, CCNorm) or centered and scaled (SCNorm) plane, gamma and the inverse's 1/(hw) folded
// into that scale; r2c; the DC bin set from the statistics (its amplitude and the sign that is
// its phase, in double); c2r. No atan2, sqrt or sincos per bin.
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu {

namespace plain {

template <typename T>
void pcnorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t n, std::int64_t c,
            std::int64_t h, std::int64_t w, float eps);
template <typename T>
void ccnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, std::int64_t n,
            std::int64_t c, std::int64_t h, std::int64_t w, float eps);
template <typename T>
void scnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, std::int64_t n,
            std::int64_t c, std::int64_t h, std::int64_t w, float eps);

}  // namespace plain

namespace fast {

template <typename T>
void pcnorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t n, std::int64_t c,
            std::int64_t h, std::int64_t w, float eps);
template <typename T>
void ccnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, std::int64_t n,
            std::int64_t c, std::int64_t h, std::int64_t w, float eps);
template <typename T>
void scnorm(const T* x, float lambda, const T* gamma, const T* beta, T* y, std::int64_t n,
            std::int64_t c, std::int64_t h, std::int64_t w, float eps);

}  // namespace fast

}  // namespace opbench::cpu
