#pragma once
// Loads and stores of the plain kernels over float, bf16_t and f16_t storage: a load widens to
// float exactly (every bf16 and f16 value is a float), a store rounds a float result once, to
// nearest even, into T. For float both are the identity, so float results stay bit-identical to
// float-only code.
#include <type_traits>

#include "harness/half.hpp"

namespace opbench::cpu {

inline float widen(float v) {
  return v;
}
inline float widen(bf16_t v) {
  return to_float(v);
}
inline float widen(f16_t v) {
  return to_float(v);
}

template <class T>
T narrow(float f) {
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else if constexpr (std::is_same_v<T, bf16_t>) {
    return bf16_from_float(f);
  } else {
    static_assert(std::is_same_v<T, f16_t>, "T is float, bf16_t or f16_t");
    return f16_from_float(f);
  }
}

// The same for code that computes in double (the norm family's cpu.plain): a load is exact, a
// store rounds the double result once into T (double -> float -> bf16 would round twice).
template <class T>
double widen_double(T v) {
  return static_cast<double>(widen(v));
}

template <class T>
T narrow_double(double d) {
  if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(d);
  } else if constexpr (std::is_same_v<T, bf16_t>) {
    return bf16_from_double(d);
  } else {
    static_assert(std::is_same_v<T, f16_t>, "T is float, bf16_t or f16_t");
    return f16_from_double(d);
  }
}

}  // namespace opbench::cpu
