#include "harness/tensor.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

#include "harness/errors.hpp"

namespace opbench {

std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (std::int64_t d : s) {
    if (d < 0) throw UsageError("negative dimension in shape " + shape_string(s));
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) {
      throw UsageError("shape " + shape_string(s) + " overflows a 64-bit element count");
    }
    n *= d;
  }
  return n;
}

std::string shape_string(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

namespace {
struct AlignedFree {
  void operator()(std::byte* p) const { std::free(p); }
};
constexpr std::size_t kAlignment = 64;
}  // namespace

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(shape_numel(shape_)) {
  std::size_t n = bytes();
  std::size_t rounded = (n + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;  // keep a valid pointer for empty tensors
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw std::bad_alloc();
  storage_ = std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), AlignedFree{});
}

namespace {
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<f16_t>() {
  return DType::f16;
}
template <>
constexpr DType dtype_of<bf16_t>() {
  return DType::bf16;
}
}  // namespace

template <class T>
T* Tensor::data() {
  if (dtype_ != dtype_of<T>()) {  // f16 and bf16 too: same size, different numbers
    throw std::logic_error("tensor holds " + std::string(dtype_name(dtype_)) + ", accessed as " +
                           std::string(dtype_name(dtype_of<T>())));
  }
  return reinterpret_cast<T*>(storage_.get());
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template std::int32_t* Tensor::data<std::int32_t>();
template std::int64_t* Tensor::data<std::int64_t>();
template f16_t* Tensor::data<f16_t>();
template bf16_t* Tensor::data<bf16_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const std::int32_t* Tensor::data<std::int32_t>() const;
template const std::int64_t* Tensor::data<std::int64_t>() const;
template const f16_t* Tensor::data<f16_t>() const;
template const bf16_t* Tensor::data<bf16_t>() const;

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (bytes()) std::memcpy(t.raw(), raw(), bytes());
  return t;
}

void Tensor::poison() {
  switch (dtype_) {
    case DType::f32: {
      float* p = data<float>();
      for (std::int64_t i = 0; i < numel_; ++i) p[i] = std::numeric_limits<float>::quiet_NaN();
      break;
    }
    case DType::f64: {
      double* p = data<double>();
      for (std::int64_t i = 0; i < numel_; ++i) p[i] = std::numeric_limits<double>::quiet_NaN();
      break;
    }
    case DType::f16:
    case DType::bf16:
      std::memset(raw(), 0xFF, bytes());  // all-ones half and bfloat16 patterns are NaN
      break;
    case DType::i32: {
      std::int32_t* p = data<std::int32_t>();
      for (std::int64_t i = 0; i < numel_; ++i) p[i] = std::numeric_limits<std::int32_t>::min();
      break;
    }
    case DType::i64: {
      std::int64_t* p = data<std::int64_t>();
      for (std::int64_t i = 0; i < numel_; ++i) p[i] = std::numeric_limits<std::int64_t>::min();
      break;
    }
  }
}

double Tensor::value_as_double(std::int64_t i) const {
  double v = 0;
  values_as_double(i, 1, &v);
  return v;
}

namespace {
// Widening that is exact for every dtype; the 16-bit ones through float (the kernels' inline
// conversions, equal to to_double and tested so), which costs a shift or one F16C instruction
// where to_double takes an ldexp.
template <class T>
double widened(T v) {
  return static_cast<double>(v);
}
double widened(bf16_t v) {
  return to_float(v);
}
double widened(f16_t v) {
  return to_float(v);
}
template <class T>
void widen_into(const T* src, std::int64_t count, double* dst) {
  for (std::int64_t k = 0; k < count; ++k) dst[k] = widened(src[k]);
}
}  // namespace

void Tensor::values_as_double(std::int64_t first, std::int64_t count, double* dst) const {
  switch (dtype_) {
    case DType::f32:
      return widen_into(data<float>() + first, count, dst);
    case DType::f64:
      return widen_into(data<double>() + first, count, dst);
    case DType::f16:
      return widen_into(data<f16_t>() + first, count, dst);
    case DType::bf16:
      return widen_into(data<bf16_t>() + first, count, dst);
    case DType::i32:
      return widen_into(data<std::int32_t>() + first, count, dst);
    case DType::i64:
      return widen_into(data<std::int64_t>() + first, count, dst);
  }
}

}  // namespace opbench
