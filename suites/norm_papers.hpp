#pragma once
// The normalization layers of the later papers, one registration per file, each called from
// register_norm_suite (norm.cpp): SimpleRMSNorm and DeepNorm, MsgNorm and PowerNorm, Unified
// Normalization, and the Fourier-domain PCNorm, CCNorm and SCNorm.
#include "harness/registry.hpp"

namespace opbench {

void register_norm_srmsnorm_deepnorm(Registry& reg);  // suites/norm_srmsnorm_deepnorm.cpp
void register_norm_msgnorm_powernorm(Registry& reg);  // suites/norm_msgnorm_powernorm.cpp
void register_norm_unified(Registry& reg);            // suites/norm_unified.cpp
void register_norm_fourier(Registry& reg);            // suites/norm_fourier.cpp

}  // namespace opbench
