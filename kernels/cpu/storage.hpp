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

}  // namespace opbench::cpu
