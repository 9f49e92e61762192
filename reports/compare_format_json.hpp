#pragma once
// The JSON formatter of `opbench compare` (reports/compare_format.hpp makes it for "json").
#include <memory>

#include "reports/compare_format.hpp"

namespace opbench::reports {

std::unique_ptr<CompareFormatter> make_json_compare_formatter();

}  // namespace opbench::reports
