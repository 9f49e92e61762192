#pragma once
// The Fast Feedforward family's backward ops (training mode), registered by register_fff_suite:
// soft_fff_backward (of soft_fff) and fff_backward (of the hard-routed fff).
#include "harness/registry.hpp"

namespace opbench {

void register_fff_backward_ops(Registry& reg);

}  // namespace opbench
