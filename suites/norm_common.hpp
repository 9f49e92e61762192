#pragma once
// The declarations every file of the normalization family shares: its constants, axes, tolerance,
// the op skeleton (make_op) and the cpu.plain / cpu.fast binding in every dtype. norm.cpp declares
// the founding ops; norm_<paper>.cpp files the later papers' ops with the same conventions.
#include <functional>
#include <string>
#include <vector>

#include "harness/op.hpp"
#include "suites/common.hpp"

namespace opbench::suite::norm {

constexpr double kEps = 1e-5;

// Fixed distributions of the auxiliary tensors: scales stay positive, variances too.
inline const char* const kScale = "uniform(0.5,1.5)";
inline const char* const kShift = "normal(0,0.1)";

#ifdef OPBENCH_HAVE_TORCH
// PyTorch 1.13 has the norm ops on the CPU in float32 and bfloat16, none in float16
// ("LayerNormKernelImpl" not implemented for 'Half'): kernels/cpu/torch_plugin_norm.cpp.
inline const std::vector<DType> kTorchDtypes = {DType::f32, DType::bf16};
#endif

// The `dist` axis of the family. The quick sweep keeps the adversarial scenarios (a large common
// offset, constant rows): they are where a one-pass variance or a float32 statistic breaks, so
// the main job's gate needs them.
Axis dist_axis();

// The rows of a [rows, cols] op: quick {64, 1024}, full {fewest, 64, ..., 16384} (norm.cpp says
// why the quick sweep stops at 1024).
Axis rows_axis(const char* help, const char* fewest);

// rows, cols, dist of a row-wise op over x[rows, cols].
std::vector<Axis> row_axes();

// n, c, hw (and groups when `grouped`), dist of an op over x[n, c, hw].
std::vector<Axis> nchw_axes(bool grouped);

// "" when groups divides c, else the reason (an Op::validate).
std::string groups_valid(const Params& p);

// The zero-norm scenario (`dist=zero_rows`) of the ops that divide by a row's norm: the inputs
// that follow `dist` are drawn `normal` (zero_rows_input_dist, an Op::input_dist), then whole
// rows are set to exactly zero by the op's prepare_inputs.
inline const char* const kZeroRows = "zero_rows";
std::string zero_rows_input_dist(const TensorDecl& t, const std::string& dist, DType dt);
// SimpleRMSNorm's forward and backward ops: every third row of x (0, 3, 6, ...) zero.
void zero_every_third_row_of_x(TensorMap& in, const Params& p);
// Tolerance of the whole family (norm.cpp explains the budget): {1e-5, 1e-4 + u(dt)}.
Tolerance norm_tolerance(DType dt);

// An op of suite "norm" in f32, bf16 and f16 with the family's tolerance; the cost is the bytes of
// all tensors once plus `flops_per_element` over the first tensor.
Op make_op(const char* name, const char* title, const char* paper, std::vector<Axis> axes,
           std::vector<TensorDecl> tensors, double flops_per_element);

// cpu.plain and cpu.fast in every dtype of the family. `plain` and `fast` are bodies for
// typed_host_impl; `dtype_from` a tensor in the case's dtype.
template <class Plain, class Fast>
void add_plain_fast(Op& op, const char* dtype_from, Plain plain, Fast fast) {
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>("cpu.plain", dtype_from, plain));
  op.impls.push_back(typed_host_impl<float, bf16_t, f16_t>("cpu.fast", dtype_from, fast));
}

}  // namespace opbench::suite::norm
