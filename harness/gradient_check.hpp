#pragma once
// The proof of a backward op's float64 reference: its gradients against central finite
// differences of the forward op's float64 reference, on a small seeded case. Independent of the
// backward code: it only runs the forward equations. Every op with a GradientOf gets it
// (tests/test_suites_backward.cpp runs it over the registry).
#include <cstdint>
#include <string>
#include <vector>

#include "harness/data_provider.hpp"
#include "harness/registry.hpp"

namespace opbench {

struct GradientCheck {
  std::string op;            // the backward op
  std::string point;         // its parameter point ("batch:2/T:17/D:3/dist:uniform")
  std::int64_t checked = 0;  // gradient elements compared with a finite difference
  // The worst |analytic - finite difference| / allowed over those (pass when <= 1).
  double worst = 0;
  std::vector<std::string> mismatches;  // the first few, one line each
  std::string error;                    // the check could not run (an op declared wrongly)
  bool passed() const { return error.empty() && checked > 0 && mismatches.empty(); }
};

// Checks `backward`'s reference against central differences of its forward op's reference.
// With the loss L = sum over incoming gradients dy (drawn N(0, 1)) of sum(dy * y(inputs)), each
// element k of a differentiated input x gives (L(x + h e_k) - L(x - h e_k)) / 2h with
// h = 1e-6 max(1, |x_k|); the analytic gradient must match it within 1e-6 (1 + |fd|) plus the
// loss's own rounding, 1e-10 sum|dy * y| / h. Inputs of up to `max_elements` are checked whole,
// larger ones on a seeded sample of that many elements.
GradientCheck check_gradient(const Registry& reg, const Op& backward, const DataProvider& data,
                             std::uint64_t seed = 1, std::int64_t max_elements = 512);

}  // namespace opbench
