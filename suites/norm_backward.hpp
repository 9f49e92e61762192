#pragma once
// The normalization family's backward ops (training mode), registered by register_norm_suite.
#include "harness/registry.hpp"

namespace opbench {

void register_norm_backward_ops(Registry& reg);

}  // namespace opbench
