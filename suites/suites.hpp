#pragma once
// The one list of suites. Registration is explicit so nothing is dropped by the linker.
#include "harness/registry.hpp"

namespace opbench {

void register_norm_suite(Registry& reg);
void register_scan_suite(Registry& reg);
void register_fff_suite(Registry& reg);
void register_pkm_suite(Registry& reg);

// Every suite, plus the status of each backend and peer (available here, or why not).
void register_all_suites(Registry& reg);

}  // namespace opbench
