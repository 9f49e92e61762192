#pragma once
// The `opbench` block of a synthetic report, as a run on a 2-core VM writes it: what the compare
// and HTML tests build their hand-made reports around.
#include <nlohmann/json.hpp>
#include <string>

namespace report_fixtures {

inline nlohmann::json opbench_block(const std::string& commit, const std::string& cpu,
                                    const std::string& command_line, const nlohmann::json& ceilings,
                                    const nlohmann::json& cases) {
  using nlohmann::json;
  return {{"schema_version", 1},
          {"tool", "opbench"},
          {"tool_version", "0.1.0"},
          {"git", {{"commit", commit}, {"dirty", false}}},
          {"build",
           {{"compiler", "GNU 12.2.0"},
            {"cxx_flags", "-O3"},
            {"build_type", "Release"},
            {"native", true},
            {"blas", "libopenblas.so"},
            {"cuda", ""},
            {"onednn", ""}}},
          {"devices", {"cpu: " + cpu + ", 2 threads, OMP_WAIT_POLICY=passive"}},
          {"threads", 2},
          {"timed", true},
          {"command_line", command_line},
          {"ceilings", ceilings},
          {"datasets", json::object()},
          {"cases", cases}};
}

}  // namespace report_fixtures
