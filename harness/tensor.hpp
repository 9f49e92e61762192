#pragma once
// A host tensor: a dtype, a row-major shape and 64-byte aligned storage. Copies share storage
// (like a numpy view of the whole array); use clone() for a deep copy.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/dtype.hpp"
#include "harness/half.hpp"

namespace opbench {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& s);  // throws UsageError on overflow
std::string shape_string(const Shape& s);  // "[4, 17]"

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // storage uninitialised

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int i) const { return shape_.at(static_cast<std::size_t>(i)); }
  std::int64_t numel() const { return numel_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  bool empty() const { return storage_ == nullptr; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  // Typed access; throws std::logic_error when T does not match the dtype.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;

  Tensor clone() const;
  // Fill with a pattern no kernel writes by accident (NaN for floats, a sentinel for integers),
  // so that elements an implementation forgot to write fail the agreement check.
  void poison();
  // Element i (row-major) converted to double, for any dtype.
  double value_as_double(std::int64_t i) const;
  // Elements [first, first + count) converted to double into dst: the dtype switched once, not
  // per element (the agreement checks read whole outputs this way).
  void values_as_double(std::int64_t first, std::int64_t count, double* dst) const;

 private:
  DType dtype_ = DType::f32;
  Shape shape_;
  std::int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

using TensorMap = std::map<std::string, Tensor>;

}  // namespace opbench
