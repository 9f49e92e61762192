#pragma once
// The pkm family's shapes from a case's parameters, shared by the forward ops (suites/pkm.cpp)
// and the backward op (suites/pkm_backward.cpp): the dims, and the one check of a search shape.
#include <cmath>
#include <cstdint>
#include <string>

#include "harness/op.hpp"
#include "kernels/cpu/pkm_types.hpp"
#include "reference/pkm.hpp"

namespace opbench::suite::pkm_shapes {

inline std::int64_t isqrt(std::int64_t v) {
  auto r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(v)));
  while (r > 0 && r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

inline pkm::Dims dims_of(const Params& p) {
  return {p.i("tokens"), p.i("heads"), isqrt(p.i("keys")), p.i("dk"), p.i("k")};
}

inline ref::PkmShape shape_of(const pkm::Dims& d) {
  return {d.tokens, d.heads, d.n, d.dk, d.k};
}

// One line naming what is wrong with a search shape, "" when it is valid.
inline std::string validate_search(const Params& p) {
  const std::int64_t keys = p.i("keys");
  const std::int64_t n = isqrt(keys);
  if (n * n != keys) {
    return "keys=" + std::to_string(keys) +
           " must be a perfect square (N = n * n product keys, e.g. 262144 = 512^2)";
  }
  if (p.i("dk") % 2 != 0) {
    return "dk=" + std::to_string(p.i("dk")) +
           " must be even: each query and key is split into two halves of dk/2";
  }
  if (p.i("k") > n) {
    return "k=" + std::to_string(p.i("k")) + " exceeds sqrt(keys)=" + std::to_string(n) +
           ": each half has only sqrt(N) sub-keys to choose from";
  }
  return "";
}

}  // namespace opbench::suite::pkm_shapes
