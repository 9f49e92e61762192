#pragma once
// cpu.fast normalization kernels with 16-bit storage (bfloat16 and
// binary16): inputs and outputs in the dtype; loads widened to float32, float32 arithmetic, row
// statistics in float32 vectors per chunk merged in double (shifted, as the float32 kernels of
// norm_fast.hpp), each output rounded once to nearest even. Overloads of the float32 kernels; the
// equations and the argument order are those of reference/norm.hpp.
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu::fast {

void layernorm(const bf16_t* x, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
               std::int64_t rows, std::int64_t cols, float eps);
void layernorm(const f16_t* x, const f16_t* gamma, const f16_t* beta, f16_t* y, std::int64_t rows,
               std::int64_t cols, float eps);

void rmsnorm(const bf16_t* x, const bf16_t* gamma, bf16_t* y, std::int64_t rows, std::int64_t cols,
             float eps);
void rmsnorm(const f16_t* x, const f16_t* gamma, f16_t* y, std::int64_t rows, std::int64_t cols,
             float eps);

// DyT and the residual-add norms (norm_fast_half_fused.cpp). add_*: sum = x + residual rounded
// once into the dtype; y normalizes the sum itself, not its rounding (as cpu.plain and the
// reference). One portable path in the compiler's vector width (-march), no run-time choice and no
// AVX-512 path of their own: half_path() and force_*() do not apply to them.
void dyt(const bf16_t* x, float alpha, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
         std::int64_t rows, std::int64_t cols);
void dyt(const f16_t* x, float alpha, const f16_t* gamma, const f16_t* beta, f16_t* y,
         std::int64_t rows, std::int64_t cols);

void add_layernorm(const bf16_t* x, const bf16_t* residual, const bf16_t* gamma, const bf16_t* beta,
                   bf16_t* sum, bf16_t* y, std::int64_t rows, std::int64_t cols, float eps);
void add_layernorm(const f16_t* x, const f16_t* residual, const f16_t* gamma, const f16_t* beta,
                   f16_t* sum, f16_t* y, std::int64_t rows, std::int64_t cols, float eps);

void add_rmsnorm(const bf16_t* x, const bf16_t* residual, const bf16_t* gamma, bf16_t* sum,
                 bf16_t* y, std::int64_t rows, std::int64_t cols, float eps);
void add_rmsnorm(const f16_t* x, const f16_t* residual, const f16_t* gamma, f16_t* sum, f16_t* y,
                 std::int64_t rows, std::int64_t cols, float eps);

// CRMSNorm, Weight Standardization and BatchNorm (norm_fast_half_rows.cpp); GroupNorm, the
// EvoNorms and Online Normalization (norm_fast_half_channels.cpp). The statistics of the float32
// kernels of norm_fast.hpp taken on rows or blocks widened to float32; running statistics
// (batchnorm_infer's, online_norm's) stay float32, as in cpu.plain. Portable like DyT's: one path
// in the compiler's vector width, to which half_path() and force_*() do not apply.
void crmsnorm(const bf16_t* x, const bf16_t* gamma, bf16_t* y, std::int64_t rows, std::int64_t cols,
              float eps);
void crmsnorm(const f16_t* x, const f16_t* gamma, f16_t* y, std::int64_t rows, std::int64_t cols,
              float eps);

void weight_std(const bf16_t* w, bf16_t* y, std::int64_t rows, std::int64_t cols, float eps);
void weight_std(const f16_t* w, f16_t* y, std::int64_t rows, std::int64_t cols, float eps);

void batchnorm_infer(const bf16_t* x, const float* running_mean, const float* running_var,
                     const bf16_t* gamma, const bf16_t* beta, bf16_t* y, std::int64_t rows,
                     std::int64_t cols, float eps);
void batchnorm_infer(const f16_t* x, const float* running_mean, const float* running_var,
                     const f16_t* gamma, const f16_t* beta, f16_t* y, std::int64_t rows,
                     std::int64_t cols, float eps);

void batchnorm_train(const bf16_t* x, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
                     std::int64_t rows, std::int64_t cols, float eps);
void batchnorm_train(const f16_t* x, const f16_t* gamma, const f16_t* beta, f16_t* y,
                     std::int64_t rows, std::int64_t cols, float eps);

void groupnorm(const bf16_t* x, const bf16_t* gamma, const bf16_t* beta, bf16_t* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, float eps);
void groupnorm(const f16_t* x, const f16_t* gamma, const f16_t* beta, f16_t* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, float eps);

void evonorm_s0(const bf16_t* x, const bf16_t* v, const bf16_t* gamma, const bf16_t* beta,
                bf16_t* y, std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups,
                float eps);
void evonorm_s0(const f16_t* x, const f16_t* v, const f16_t* gamma, const f16_t* beta, f16_t* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups, float eps);

void evonorm_b0(const bf16_t* x, const bf16_t* v, const bf16_t* gamma, const bf16_t* beta,
                bf16_t* y, std::int64_t n, std::int64_t c, std::int64_t hw, float eps);
void evonorm_b0(const f16_t* x, const f16_t* v, const f16_t* gamma, const f16_t* beta, f16_t* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, float eps);

void online_norm(const bf16_t* x, const float* mu0, const float* var0, const bf16_t* gamma,
                 const bf16_t* beta, bf16_t* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 float alpha, float eps);
void online_norm(const f16_t* x, const float* mu0, const float* var0, const f16_t* gamma,
                 const f16_t* beta, f16_t* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 float alpha, float eps);

// The conversion path the 16-bit kernels take on this CPU for bfloat16 (bf16 = true) or binary16,
// chosen at run time from the CPU's features (whatever -march was): "avx512_bf16" (AVX-512 with
// the BF16 conversion instruction), "avx512f" (AVX-512; bfloat16 rounded with integer operations,
// binary16 with vcvtps2ph), "avx2" (AVX2, FMA and F16C without AVX-512: the same in 8-lane
// vectors) or "portable" (scalar, the inline conversions of harness/half.hpp).
const char* half_path(bool bf16);

// Tests only. force_portable_half(true) makes every 16-bit kernel take the portable path, false
// goes back to the run-time choice. force_half_path(name) forces one of the names half_path can
// return, for both dtypes where it applies ("avx512f" also makes bfloat16 take the integer
// rounding on a CPU with avx512_bf16); it returns false, and changes nothing, when the CPU lacks
// that path. nullptr goes back to the run-time choice.
void force_portable_half(bool on);
bool force_half_path(const char* name);

}  // namespace opbench::cpu::fast
