#pragma once
// pkm_layer_backward: the backward pass of the product-key memory layer (suites/pkm_backward.cpp),
// registered by register_pkm_suite after pkm_layer, its forward op.
#include "harness/registry.hpp"

namespace opbench {

void register_pkm_layer_backward(Registry& reg);

}  // namespace opbench
