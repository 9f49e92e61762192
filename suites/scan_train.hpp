#pragma once
// The scan family's training steps (mode fwd_bwd): minGRU's and the GRU's forward plus backward
// pass timed as one, the comparison behind Feng et al. 2024's "175x faster for a sequence of
// length 512". Registered by register_scan_suite after the forward ops, whose declarations
// (distributions, scenarios, agreement rule of h) they take over.
#include "harness/registry.hpp"

namespace opbench {

void register_scan_train_ops(Registry& reg);

}  // namespace opbench
