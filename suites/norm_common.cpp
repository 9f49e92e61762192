// The normalization family's shared declarations (norm_common.hpp).
#include "suites/norm_common.hpp"

namespace opbench::suite::norm {

Axis dist_axis() {
  return suite::dist_axis({"normal", "offset", "constant_rows"},
                          {"normal", "uniform", "llm_outliers", "offset", "constant_rows"},
                          "distribution of the main input (scales and statistics use fixed ones)");
}

// The quick sweep stops at 1024 rows: a 1024x4096 float32 tensor is 16 MiB, beyond the L2 of the
// CPUs it runs on, and the main job stays within its two minutes on 2 cores (at 4096 rows the norm
// family alone took as long, mostly making inputs and references of 16M elements). The row ops
// normalize each row on its own, so their adversarial scenarios show at 64 rows already;
// BatchNorm's statistics run over 1024 rows. The full sweep goes on to 16384.
Axis rows_axis(const char* help, const char* fewest) {
  return int_axis("rows", {"64", "1024"}, {fewest, "64", "1024", "4096", "16384"}, help);
}

std::vector<Axis> row_axes() {
  return {rows_axis("rows (tokens)", "1"),
          int_axis("cols", {"4096"}, {"768", "4096", "4097"}, "features normalized together"),
          dist_axis()};
}

std::vector<Axis> nchw_axes(bool grouped) {
  std::vector<Axis> a = {int_axis("n", {"8"}, {"1", "8", "32"}, "batch"),
                         int_axis("c", {"64"}, {"64", "256"}, "channels"),
                         int_axis("hw", {"256", "4096"}, {"64", "1024", "4096"}, "spatial size")};
  if (grouped) a.push_back(int_axis("groups", {"8"}, {"8", "32"}, "channel groups"));
  a.push_back(dist_axis());
  return a;
}

std::string zero_rows_input_dist(const TensorDecl& t, const std::string& dist, DType) {
  return dist == kZeroRows && t.dist == "$dist" ? "normal" : "";
}

void zero_every_third_row_of_x(TensorMap& in, const Params& p) {
  if (p.str("dist") != kZeroRows) return;
  Tensor& x = in.at("x");
  const std::int64_t rows = p.i("rows"), cols = p.i("cols");
  for (std::int64_t r = 0; r < rows; r += 3)
    for (std::int64_t j = 0; j < cols; ++j) store_double(x, r * cols + j, 0.0);
}

std::string groups_valid(const Params& p) {
  if (p.i("groups") > p.i("c")) return "groups must be at most c";
  if (p.i("c") % p.i("groups") != 0) return "groups must divide c";
  return "";
}

// In float32: the error budget of a sound float32 kernel (shifted or two-pass statistics over up
// to ~1e5 elements) is ~1e-6 relative; 1e-4 leaves room for rsqrt and tanh approximations, and
// still rejects a one-pass variance under an offset. In bfloat16 and float16 the inputs are exact
// (the reference reads the rounded values), kernels compute in float32 (or double) and round each
// output once: that rounding adds at most u|y| (u = 2^-8, 2^-11), so the rule is float32's plus u
// relative. No reduction runs in the storage dtype, so no term grows with the row length; a kernel
// that keeps a statistic in bf16 or f16 is off by far more than u under `offset` and fails.
Tolerance norm_tolerance(DType dt) {
  return {1e-5, 1e-4 + unit_roundoff(dt)};
}

Op make_op(const char* name, const char* title, const char* paper, std::vector<Axis> axes,
           std::vector<TensorDecl> tensors, double flops_per_element) {
  Op op;
  op.suite = "norm";
  op.name = name;
  op.title = title;
  op.paper = paper;
  op.axes = std::move(axes);
  op.tensors = std::move(tensors);
  op.tolerance = norm_tolerance;
  op.dtypes = {DType::f32, DType::bf16, DType::f16};
  op.cost = [shape_helper = op, flops_per_element](const Params& p, DType dt) {
    const Shape main = shape_helper.shape_of(shape_helper.tensors.front(), p);
    return Cost{flops_per_element * static_cast<double>(shape_numel(main)),
                suite::tensor_bytes(shape_helper, p, dt)};
  };
  return op;
}

}  // namespace opbench::suite::norm
