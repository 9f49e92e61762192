#pragma once
// The scan family's backward op of the log-space scan (mode bwd): `log_scan_backward`, the
// gradients of Heinsen's log h_t = a*_t + logcumsumexp(log b - a*)_t given dL/d(log h).
// Registered by register_scan_suite after `log_scan`, whose declarations (axes, scenarios,
// distributions) it takes over.
#include "harness/registry.hpp"

namespace opbench {

void register_log_scan_backward(Registry& reg);

}  // namespace opbench
