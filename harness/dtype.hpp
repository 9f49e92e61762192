#pragma once
// Element types a tensor can hold, with their names as they appear in benchmark names and reports.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace opbench {

enum class DType { f32, f64, f16, bf16, i32, i64 };

std::string_view dtype_name(DType t);  // "f32", "f64", ...
std::optional<DType> parse_dtype(std::string_view name);
std::size_t dtype_size(DType t);
bool dtype_is_float(DType t);
// The unit roundoff u of a float dtype (half its machine epsilon: the largest relative error of
// one round-to-nearest): 2^-24 for f32, 2^-53 for f64, 2^-11 for f16, 2^-8 for bf16; 0 for
// integers. Tolerances of reduced precision start from it.
double unit_roundoff(DType t);
std::string_view numpy_descr(DType t);  // "<f4", "<f8", "<f2", "<i4", "<i8"; bf16 has none

}  // namespace opbench
